/* The progress line of long commands: on standard error, rewritten in place, only when
 * standard error is a terminal and the user did not ask for quiet. */
#ifndef MW_PROGRESS_H
#define MW_PROGRESS_H

#include "suite.h"

typedef struct mw_progress_line {
    const char *what;  /* "suite gradcheck" */
    int enabled;
} mw_progress_line;

/* enabled when stderr is a terminal and not quiet */
void mw_progress_init(mw_progress_line *p, const char *what, int quiet);
/* an mw_suite_progress_fn: arg is the mw_progress_line */
void mw_progress_suite(const mw_suite_progress *s, void *arg);
/* end the line (a newline) if one was drawn */
void mw_progress_end(mw_progress_line *p);

#endif
