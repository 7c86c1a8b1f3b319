/* The float32 engine's tanh family against the correctly rounded values (act_check.h).
 *
 * The reference is libm's double function, rounded to float, wherever that rounding is
 * unambiguous: libm's double tanh, atanh and cosh are within a few double ulps (2^-50
 * relatively), so when d(1 − 2^-44) and d(1 + 2^-44) round to the same float, so does the
 * exact value. Elsewhere — within 2^-44 of a rounding boundary, a few inputs in 10^5 —
 * MPFR settles it at 256 bits, rounded once to float (mpfr_get_flt). */
#include "act_check.h"

#include <float.h>
#include <math.h>
#include <mpfr.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = 1 << 16 };

const char *act_check_name(act_check_fn fn)
{
    static const char *names[ACT_CHECK_COUNT] = {"tanh", "atanh", "sech2", "cosh2"};
    return fn < ACT_CHECK_COUNT ? names[fn] : "?";
}

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double ref_double(act_check_fn fn, double x)
{
    switch (fn) {
    case ACT_CHECK_TANH: return tanh(x);
    case ACT_CHECK_ATANH: return atanh(x);
    case ACT_CHECK_SECH2: {
        double s = 1.0 / cosh(x);
        return s * s;
    }
    default: {
        double c = cosh(x);
        return c * c;
    }
    }
}

/* The correctly rounded float of fn(x), and the exact value to double precision. */
static void ref_mpfr(act_check_fn fn, float x, float *cr, double *exact)
{
    mpfr_t v;
    mpfr_init2(v, 256);
    (void)mpfr_set_flt(v, x, MPFR_RNDN); /* exact: 24 bits into 256 */
    switch (fn) {
    case ACT_CHECK_TANH: (void)mpfr_tanh(v, v, MPFR_RNDN); break;
    case ACT_CHECK_ATANH: (void)mpfr_atanh(v, v, MPFR_RNDN); break;
    case ACT_CHECK_SECH2:
        (void)mpfr_sech(v, v, MPFR_RNDN);
        (void)mpfr_sqr(v, v, MPFR_RNDN);
        break;
    default:
        (void)mpfr_cosh(v, v, MPFR_RNDN);
        (void)mpfr_sqr(v, v, MPFR_RNDN);
        break;
    }
    *cr = mpfr_get_flt(v, MPFR_RNDN);
    *exact = mpfr_get_d(v, MPFR_RNDN);
    mpfr_clear(v);
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void judge(act_check_fn fn, float x, float got, act_stats *st)
{
    st->checked++;
    const double d = ref_double(fn, (double)x);
    if (isnan(d) || isinf(d)) { /* the function's own NaN or ∞: the same, exactly */
        if (isnan(d) ? !isnan(got) : !same_bits(got, (float)d))
            st->bad_special++;
        return;
    }
    float cr = (float)d;
    double exact = d;
    if ((float)(d * (1 - 0x1p-44)) != (float)(d * (1 + 0x1p-44))) {
        st->by_mpfr++;
        ref_mpfr(fn, x, &cr, &exact);
    }
    if (same_bits(got, cr))
        return;
    st->misrounded++;
    if (isnan(got) || isinf(got) || isinf(cr) || (got == 0 && cr == 0)) {
        st->bad_special++; /* a NaN, an ∞ or a zero's sign where the value is otherwise */
        return;
    }
    const float mag = fabsf(cr);
    const double ulp = (double)nextafterf(mag, INFINITY) - (double)mag;
    const double e = fabs((double)got - exact) / ulp;
    if (e > st->max_ulp) {
        st->max_ulp = e;
        st->worst = x;
    }
}

mw_status act_check_run(mw_ctx *ctx, act_check_fn fn, uint32_t first, uint64_t count,
                        uint32_t stride, act_stats *acc)
{
    mw_status st = MW_OK;
    mw_tensor tx = {0}, tb = {0}, to = {0};
    double *x = malloc(BLOCK * sizeof *x), *out = malloc(BLOCK * sizeof *out);
    double *one = malloc(BLOCK * sizeof *one);
    if (!x || !out || !one) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
        goto done;
    }
    for (size_t i = 0; i < BLOCK; i++)
        one[i] = 1.0;
    MW_GO(mw_tensor_alloc(ctx, BLOCK, &tx));
    MW_GO(mw_tensor_alloc(ctx, BLOCK, &tb));
    MW_GO(mw_tensor_alloc(ctx, BLOCK, &to));
    MW_GO(mw_tensor_upload(ctx, &tb, 0, one, BLOCK));
    uint32_t u = first;
    for (uint64_t done_n = 0; done_n < count;) {
        const size_t n = count - done_n < BLOCK ? (size_t)(count - done_n) : BLOCK;
        for (size_t i = 0; i < n; i++, u += stride)
            x[i] = (double)from_bits(u);
        MW_GO(mw_tensor_upload(ctx, &tx, 0, x, n));
        const mw_dims dims = mw_d(1, 1, n);
        const mw_view vo = mw_v(to.data, 0, 0), vx = mw_v(tx.data, 0, 0),
                      vb = mw_v(tb.data, 0, 0), none = mw_v(NULL, 0, 0);
        switch (fn) {
        case ACT_CHECK_TANH:
            st = mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0, dims, vo, vx, none);
            break;
        case ACT_CHECK_ATANH:
            st = mw_act_apply(ctx, MW_EW_ACT_INV, MW_ACT_TANH, 0, dims, vo, vx, none);
            break;
        case ACT_CHECK_SECH2:
            st = mw_act_apply(ctx, MW_EW_ACT_DMUL, MW_ACT_TANH, 0, dims, vo, vx, vb);
            break;
        default:
            st = mw_act_apply(ctx, MW_EW_ACT_DINV_MUL, MW_ACT_TANH, 0, dims, vo, vx, vb);
            break;
        }
        if (st != MW_OK)
            goto done;
        MW_GO(mw_tensor_download(ctx, &to, 0, out, n));
        for (size_t i = 0; i < n; i++)
            judge(fn, (float)x[i], (float)out[i], acc);
        done_n += n;
    }
done:
    mw_tensor_free(ctx, &tx);
    mw_tensor_free(ctx, &tb);
    mw_tensor_free(ctx, &to);
    free(x);
    free(out);
    free(one);
    return st;
}
