/* The progress of long commands (progress.h). */
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

void mw_progress_init(mw_progress_line *p, const char *what, int quiet, double every_s)
{
    p->what = what;
    p->enabled = !quiet;
    p->tty = isatty(2);
    p->every_s = every_s;
    p->last_line = 0.0;
    p->drawn = 0;
}

static void clock_text(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "-");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

/* "mlp depth 2 tanh none": the network just finished */
static void network_text(char *buf, size_t n, const mw_spec *s)
{
    snprintf(buf, n, "%s depth %d %s %s", mw_arch_name(s->arch), s->depth,
             mw_act_name(s->f_act), mw_out_act_name(s->out_act));
}

void mw_progress_suite(const mw_suite_progress *s, void *arg)
{
    mw_progress_line *p = arg;
    if (!p->enabled)
        return;
    char el[32], eta[32], net[96] = "";
    clock_text(el, sizeof el, s->elapsed_s);
    clock_text(eta, sizeof eta, s->networks_done == s->networks_total ? 0.0 : s->eta_s);
    if (s->last)
        network_text(net, sizeof net, s->last);
    const double f = isfinite(s->fraction) ? s->fraction : 0.0;
    const int percent = (int)floor(100.0 * f);
    if (p->tty) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        const int full = (int)floor(WIDTH * f);
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < full ? '#' : '.';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\r\033[K%s [%s] %3d%%  %zu/%zu networks  %s elapsed  ETA %s%s%s", p->what,
                bar, percent, s->networks_done, s->networks_total, el, eta,
                net[0] ? "  done: " : "", net);
        p->drawn = 1;
    } else {
        /* between finished networks, no more often than every_s */
        if (!s->last && !(p->every_s > 0.0 && s->elapsed_s - p->last_line >= p->every_s))
            return;
        fprintf(stderr, "%s: %d%% (%zu/%zu networks, %zu/%zu runs), %s elapsed, ETA %s%s%s\n",
                p->what, percent, s->networks_done, s->networks_total, s->runs_done,
                s->runs_total, el, eta, net[0] ? "; done: " : "", net);
        p->last_line = s->elapsed_s;
    }
    fflush(stderr);
}

void mw_progress_end(mw_progress_line *p)
{
    if (p->enabled && p->tty && p->drawn)
        fprintf(stderr, "\n");
}
