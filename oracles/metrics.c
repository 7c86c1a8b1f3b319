/* Error metrics of a gradient against an oracle (DESIGN.md §5), in double whatever the
 * method's dtype. Plain double sums suffice: a metric needs two or three correct digits,
 * and gradients of these networks are nowhere near overflowing a square. */
#include <math.h>

#include "oracles.h"

void mw_metrics_compute(const double *g, const double *ref, size_t n, mw_metrics *m)
{
    double d2 = 0.0, r2 = 0.0, g2 = 0.0, dot = 0.0, max_abs = 0.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            bad++;
            continue;
        }
        double d = g[i] - ref[i];
        d2 += d * d;
        r2 += ref[i] * ref[i];
        g2 += g[i] * g[i];
        dot += g[i] * ref[i];
        if (fabs(d) > max_abs)
            max_abs = fabs(d);
    }
    m->nonfinite = bad;
    if (bad) {
        m->rel_l2 = m->max_abs = m->cosine = m->norm = NAN;
        return;
    }
    m->rel_l2 = r2 > 0.0 ? sqrt(d2 / r2) : sqrt(d2);
    m->max_abs = max_abs;
    m->norm = sqrt(g2);
    m->cosine = (g2 > 0.0 && r2 > 0.0) ? dot / sqrt(g2 * r2) : NAN;
}
