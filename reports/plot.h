/* Figures of reports (DESIGN.md §7), drawn with PLplot's cairo driver (PNG or SVG). */
#ifndef MW_PLOT_H
#define MW_PLOT_H

#include <stddef.h>

#include "report.h"

/* Before any work: the extension is .png or .svg and the directory is writable. 0, or
 * nonzero with a message. */
int mw_plot_check_out(const char *out, char *msg, size_t msg_len);

/* A gradcheck report: rel_l2 against gold (log) against depth (log), one line per method
 * (the median over F activations, output activations and seeds), one panel per dtype.
 * A stability report: per output activation and depth, the gradient's error against the
 * silver oracle (log) and the held-out accuracy against epoch, one line per method (the
 * mean over seeds and F activations, with their range as a band) and the reference.
 * 0; 2 when the report has nothing to plot; 1 when drawing failed (message says why). */
int mw_report_plot(const mw_report *r, const char *out, char *msg, size_t msg_len);

#endif
