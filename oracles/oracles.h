/* oracles: what a computed gradient is measured against (DESIGN.md §5). For now the
 * silver oracle (the float64 engine's backprop) and the error metrics. */
#ifndef MW_ORACLES_H
#define MW_ORACLES_H

#include <stddef.h>

#include "mw_engine.h"

typedef struct mw_metrics {
    double rel_l2;    /* |g - g*| / |g*| (|g - g*| when g* = 0) */
    double max_abs;   /* max_i |g_i - g*_i| */
    double cosine;    /* g·g* / (|g| |g*|) */
    double norm;      /* |g| */
    size_t nonfinite; /* entries of g that are inf or NaN; the rest is then NaN */
} mw_metrics;

/* Metrics of g against the reference ref, both of n entries. */
void mw_metrics_compute(const double *g, const double *ref, size_t n, mw_metrics *m);

/* The silver oracle: g* = dJ/dθ by backprop in the float64 CPU engine at parameters
 * theta (NULL: the spec's initial ones), for batch x, labels. Writes loss and g (the
 * layout's total entries). On failure returns the status and writes a message. */
mw_status mw_silver_gradient(const mw_spec *spec, const double *theta, const double *x,
                             const int *labels, double *g, double *loss, char *msg,
                             size_t msg_len);

#endif
