/* The progress line (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

void mw_progress_init(mw_progress_line *p, const char *what, int quiet)
{
    p->what = what;
    p->enabled = !quiet && isatty(2);
}

static void clock_text(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

void mw_progress_suite(const mw_suite_progress *s, void *arg)
{
    mw_progress_line *p = arg;
    if (!p->enabled)
        return;
    char el[32], eta[32] = "-";
    clock_text(el, sizeof el, s->elapsed_s);
    if (s->networks_done > 0 && s->networks_done < s->networks_total)
        clock_text(eta, sizeof eta,
                   s->elapsed_s / (double)s->networks_done *
                       (double)(s->networks_total - s->networks_done));
    fprintf(stderr, "\r\033[K%s: %zu/%zu networks, %zu/%zu runs, %s elapsed, ETA %s", p->what,
            s->networks_done, s->networks_total, s->runs_done, s->runs_total, el, eta);
    if (s->last)
        fprintf(stderr, "; done: depth %d %s %s", s->last->depth, mw_act_name(s->last->f_act),
                mw_out_act_name(s->last->out_act));
    fflush(stderr);
}

void mw_progress_end(mw_progress_line *p)
{
    if (p->enabled)
        fprintf(stderr, "\n");
}
