/* Figures of reports (docs/architecture.md §7), drawn with PLplot's cairo driver (PNG or SVG), one
 * function per kind of report; the suite registry (suites/registry.c) says which draws
 * which. Each returns MW_OK; MW_ERR_ARG when the report has nothing to plot; MW_ERR_IO
 * when drawing failed (the message says why). */
#ifndef MW_PLOT_H
#define MW_PLOT_H

#include "report.h"

/* Before any work: the extension is .png or .svg and the directory is writable. */
mw_status mw_plot_check_out(const char *out, mw_err *err);

/* rel_l2 against gold (log) against depth (log), one line per method (the median over F
 * activations, output activations and seeds), one panel per dtype. */
mw_status mw_plot_gradcheck(const mw_report *r, const char *out, mw_err *err);
/* Per output activation and depth, the gradient's error against the silver oracle (log)
 * and the held-out accuracy against epoch, one line per method (the mean over seeds and
 * F activations, with their range as a band) and the reference. */
mw_status mw_plot_stability(const mw_report *r, const char *out, mw_err *err);
/* Peak working bytes, or median seconds per gradient, against depth (log-log), a panel per
 * setting. */
mw_status mw_plot_memory(const mw_report *r, const char *out, mw_err *err);
mw_status mw_plot_timing(const mw_report *r, const char *out, mw_err *err);

#endif
