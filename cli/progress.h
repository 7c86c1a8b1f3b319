/* The progress of long commands, on standard error, unless the user asked for quiet (or for
 * JSON): on a terminal a bar weighted by the estimated cost of each unit, redrawn in place
 * at every finished network and every epoch of a training unit, with the time elapsed and
 * the time left; anywhere else (a pipe, a CI log) plain lines, one at every finished
 * network and, between them, one at most every `every_s` seconds. */
#ifndef MW_PROGRESS_H
#define MW_PROGRESS_H

#include "suite.h"

typedef struct mw_progress_line {
    const char *what;  /* "suite gradcheck" */
    int enabled, tty;
    double every_s;    /* plain lines: at most this often between finished networks (0: only
                          at finished networks) */
    double last_line;  /* elapsed seconds at the last plain line */
    int drawn;         /* a bar is on the terminal's line */
} mw_progress_line;

/* enabled unless quiet; a bar when standard error is a terminal, else plain lines */
void mw_progress_init(mw_progress_line *p, const char *what, int quiet, double every_s);
/* an mw_suite_progress_fn: arg is the mw_progress_line */
void mw_progress_suite(const mw_suite_progress *s, void *arg);
/* end the bar's line (a newline) if one was drawn */
void mw_progress_end(mw_progress_line *p);

#endif
