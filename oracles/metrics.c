/* Error metrics of a gradient against an oracle (docs/architecture.md §5), in double whatever the
 * method's dtype. The oracle may be a double-double (gold), so that the error of a float64
 * method is measured against more than float64 digits. Plain double sums suffice for the
 * norms: a metric needs two or three correct digits. */
#include <float.h>
#include <math.h>

#include "oracles.h"

double mw_ulp(double v, mw_dtype dtype)
{
    const int digits = dtype == MW_F32 ? FLT_MANT_DIG : DBL_MANT_DIG;
    const double tiny = dtype == MW_F32 ? 0x1p-149 : 0x1p-1074;
    v = fabs(v);
    if (!(v > 0.0) || !isfinite(v))
        return tiny;
    int e;
    frexp(v, &e); /* v = m 2^e, m in [1/2, 1): the spacing there is 2^(e - digits) */
    double u = ldexp(1.0, e - digits);
    return u < tiny ? tiny : u;
}

/* d in ulps of the dtype at ref. Against a zero oracle value (ulp 2^-1074 in float64)
 * the quotient can pass the largest double; it saturates there instead of reading inf. */
static double ulps(double d, double ref, mw_dtype dtype)
{
    long double q = (long double)d / (long double)mw_ulp(ref, dtype);
    return q > (long double)DBL_MAX ? DBL_MAX : (double)q;
}

/* g_i - g*_i with g* = hi + lo. */
static double diff(const double *g, const double *hi, const double *lo, size_t i)
{
    return lo ? (g[i] - hi[i]) - lo[i] : g[i] - hi[i];
}

void mw_metrics_compute(const double *g, const double *hi, const double *lo, size_t n,
                        mw_dtype dtype, mw_metrics *m)
{
    double d2 = 0.0, r2 = 0.0, g2 = 0.0, dot = 0.0, max_abs = -1.0, max_ulp = 0.0;
    size_t bad = 0, worst = 0, first_bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(g[i])) {
            if (bad++ == 0)
                first_bad = i;
            continue;
        }
        double d = fabs(diff(g, hi, lo, i)), ref = hi[i];
        d2 += d * d;
        r2 += ref * ref;
        g2 += g[i] * g[i];
        dot += g[i] * ref;
        if (d > max_abs)
            max_abs = d, worst = i;
        max_ulp = fmax(max_ulp, ulps(d, ref, dtype));
    }
    m->nonfinite = bad;
    m->worst = n == 0 ? -1 : (long long)(bad ? first_bad : worst);
    m->worst_got = n == 0 ? NAN : g[m->worst];
    m->worst_want = n == 0 ? NAN : hi[m->worst] + (lo ? lo[m->worst] : 0.0);
    if (bad) {
        m->rel_l2 = m->max_abs = m->max_ulp = m->cosine = m->norm = NAN;
        return;
    }
    max_abs = fmax(max_abs, 0.0);
    m->rel_l2 = r2 > 0.0 ? sqrt(d2 / r2) : sqrt(d2);
    m->max_abs = max_abs;
    m->max_ulp = max_ulp;
    m->norm = sqrt(g2);
    m->cosine = (g2 > 0.0 && r2 > 0.0) ? dot / sqrt(g2 * r2) : NAN;
}

void mw_metrics_per_layer(const double *g, const double *hi, const double *lo,
                          const mw_layout *lay, int L, double *out)
{
    for (int l = 1; l <= L + 1; l++) {
        size_t a = lay->layer_offset[l], b = lay->layer_offset[l + 1];
        double d2 = 0.0, r2 = 0.0;
        for (size_t i = a; i < b; i++) {
            double d = diff(g, hi, lo, i);
            d2 += d * d;
            r2 += hi[i] * hi[i];
        }
        out[l - 1] = r2 > 0.0 ? sqrt(d2 / r2) : sqrt(d2);
    }
}

double mw_max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

double mw_max_rel_err(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    double s = mw_max_abs(b, n);
    return s > 0 ? d / s : d;
}

double mw_max_ulp_floored(const double *a, const double *b, size_t n, mw_dtype dtype)
{
    const double floor = 0x1p-10 * mw_max_abs(b, n);
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / mw_ulp(fmax(fabs(b[i]), floor), dtype));
    return m;
}
