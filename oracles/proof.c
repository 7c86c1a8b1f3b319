/* The proof oracle (oracles.h): the interval reference's gradient (mw_ireference.h), each
 * entry an interval that contains the exact value, measured in the bits its width leaves. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfi.h>

#include "mw_ireference.h"
#include "oracles.h"

/* An MPFI gradient's time over an MPFR gradient's at the same precision. Measured
 * (bench/proof.sh, the quick gradcheck grid): proof takes 1.23 [0.87, 1.44] times gold's two
 * gradients at p and p + 64 bits, about 2.3 p-bit gradients by gold's model: so about 2.8,
 * rounded up. */
#define MW_PROOF_COST_FACTOR 3.0

double mw_proof_cost_seconds(const mw_spec *spec, long bits)
{
    return MW_PROOF_COST_FACTOR * mw_ref_pass_seconds(spec, bits, 1);
}

double mw_proof_peak_bytes(const mw_spec *spec, long bits)
{
    mw_layout lay;
    if (mw_layout_build(spec, &lay) != 0)
        return mw_iref_bytes(spec, bits);
    const double P = (double)lay.total;
    mw_layout_free(&lay);
    return mw_iref_bytes(spec, bits) + 24.0 * P; /* hi, lo and the bits of each entry */
}

void mw_proof_kink_words(const mw_proof *p, char *buf, size_t n)
{
    if (!p->kinks)
        snprintf(buf, n, "%s", "");
    else if (p->kink_unit)
        snprintf(buf, n, "layer %d, unit %d", p->kink_layer, p->kink_unit);
    else
        snprintf(buf, n, "layer %d, the output activation", p->kink_layer);
}

void mw_proof_free(mw_proof *p)
{
    free(p->hi);
    free(p->lo);
    free(p->bits_of);
    memset(p, 0, sizeof *p);
}

/* -log2(w / t) from exponents and leading digits, capped to 0..cap (gold's agree_bits). */
static double bits_left(mpfr_srcptr w, mpfr_srcptr t, long cap)
{
    if (mpfr_zero_p(w))
        return (double)cap;
    if (mpfr_zero_p(t) || !mpfr_number_p(w))
        return 0.0;
    long ew, et;
    const double mw = mpfr_get_d_2exp(&ew, w, MPFR_RNDN), mt = mpfr_get_d_2exp(&et, t, MPFR_RNDN);
    const double b = -((double)(ew - et) + log2(mw / mt));
    return b < 0.0 ? 0.0 : b > (double)cap ? (double)cap : b;
}

mw_status mw_proof_compute(const mw_spec *spec, const double *theta, const double *x,
                           const int *labels, long bits, mw_proof *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    if (spec->coupling == MW_COUPLING_PLUGIN)
        return mw_err_set(err, MW_ERR_ARG, "oracle proof: a plugin's layer has no interval "
                          "passes (--oracle gold or silver)");
    char msg[256];
    const double t0 = mw_now();
    mw_iref *r = NULL;
    if (mw_iref_new(spec, bits, &r, msg, sizeof msg) != 0)
        return mw_err_set(err, strstr(msg, "memory") ? MW_ERR_NOMEM : MW_ERR_ARG, "%s", msg);
    if (mw_iref_set_params(r, theta, msg, sizeof msg) != 0 ||
        mw_iref_set_batch(r, x, labels, msg, sizeof msg) != 0 ||
        mw_iref_gradient(r, msg, sizeof msg) != 0) {
        mw_iref_free(r);
        return mw_err_set(err, MW_ERR_ARG, "oracle proof: %s", msg);
    }
    const size_t P = mw_iref_n_params(r);
    out->P = P;
    out->bits = bits;
    out->hi = malloc((P ? P : 1) * sizeof *out->hi);
    out->lo = malloc((P ? P : 1) * sizeof *out->lo);
    out->bits_of = malloc((P ? P : 1) * sizeof *out->bits_of);
    if (!out->hi || !out->lo || !out->bits_of) {
        mw_iref_free(r);
        mw_proof_free(out);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    mpfr_t mid, w, t, floor_;
    mpfr_inits2(bits, mid, w, t, floor_, (mpfr_ptr)0);
    /* the scale: the largest midpoint; entries below 2^(-p/2) of it (zeros in exact
     * arithmetic, such as a bias before BatchNorm) are judged against that floor, as
     * gold's agreement is */
    mpfr_set_zero(floor_, 1);
    for (size_t j = 0; j < P; j++) {
        mpfi_mid(mid, mw_iref_grad(r, j));
        if (mpfr_cmpabs(mid, floor_) > 0)
            mpfr_abs(floor_, mid, MPFR_RNDN);
    }
    mpfr_mul_2si(floor_, floor_, -bits / 2, MPFR_RNDN);
    out->proved_bits = (double)bits;
    for (size_t j = 0; j < P; j++) {
        mpfi_srcptr g = mw_iref_grad(r, j);
        mpfi_mid(mid, g);
        mpfi_diam_abs(w, g);
        mpfr_abs(t, mid, MPFR_RNDN);
        if (mpfr_cmp(t, floor_) < 0) {
            mpfr_set(t, floor_, MPFR_RNDN);
            out->near_zero++;
        }
        const double b = bits_left(w, t, bits);
        out->bits_of[j] = b;
        if (b < out->proved_bits)
            out->proved_bits = b, out->weakest = j;
        if (b < 1.0) /* the interval is as wide as the value: no digit proved */
            out->undetermined++;
        out->hi[j] = mpfr_get_d(mid, MPFR_RNDN);
        mpfr_sub_d(t, mid, out->hi[j], MPFR_RNDN);
        out->lo[j] = mpfr_get_d(t, MPFR_RNDN);
    }
    mpfi_mid(mid, mw_iref_loss(r));
    out->loss = mpfr_get_d(mid, MPFR_RNDN);
    out->kinks = mw_iref_kinks(r, &out->kink_layer, &out->kink_unit);
    mpfr_clears(mid, w, t, floor_, (mpfr_ptr)0);
    mw_iref_free(r);
    mpfr_free_cache();
    out->seconds = mw_now() - t0;
    return MW_OK;
}
