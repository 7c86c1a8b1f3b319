/* The gold oracle (docs/architecture.md §5): the MPFR reference gradient, certified the way MPFR
 * certifies its own functions — by computing again with more precision and counting the
 * bits the two results share (a Ziv-style check) — and witnessed independently by
 * central differences of the loss, computed in MPFR on chosen coordinates. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "mw_reference.h"
#include "oracles.h"

mw_gold_opts mw_gold_opts_default(void)
{
    mw_gold_opts o = {256, 100.0, -1};
    return o;
}

void mw_gold_free(mw_gold *g)
{
    free(g->hi);
    free(g->lo);
    memset(g, 0, sizeof *g);
}

/* ---- cost ---- */

void mw_gold_forward_ops(const mw_spec *s, double *fma, double *trans)
{
    double macs = 0.0, acts = 0.0, B = s->batch, h = s->width / 2;
    for (int l = 1; l <= s->depth; l++) {
        macs += mw_spec_layer_macs(s, l);
        acts += mw_spec_layer_acts(s, l);
    }
    *fma = B * macs + B * (double)s->classes * mw_spec_head_features(s) + B * s->width;
    *trans = B * ((s->f_act == MW_ACT_TANH ? acts : 0.0) + (s->bn ? 0.1 * acts : 0.0) +
                  (s->out_act == MW_ACT_TANH ? s->depth * h : 0.0)) +
             2.0 * B * s->classes;
}

/* The wall time of an mpfr_fma and of an mpfr_tanh at 256 bits on this machine: the best
 * of three timed runs (about 10 ms in all), once per process. Machines differ by more
 * than a factor of two here, so a fixed constant misleads every estimate built on it;
 * should the timing come out absurd, bench_gold's figures of a 2026 x86 core stand in
 * (70 ns and 2.8 µs). */
static void mpfr_op_seconds(double *fma_s, double *tanh_s)
{
    static double f = 0.0, t = 0.0;
    if (f == 0.0) {
        enum { N_FMA = 20000, N_TANH = 1000 };
        mpfr_t a, b, c, d;
        mpfr_inits2(256, a, b, c, d, (mpfr_ptr)0);
        mpfr_set_d(a, 1.0 + 0x1p-20, MPFR_RNDN);
        mpfr_set_d(b, 0.75, MPFR_RNDN);
        mpfr_set_d(c, 0.5, MPFR_RNDN);
        double bf = INFINITY, bt = INFINITY;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = mw_now();
            for (int i = 0; i < N_FMA; i++)
                mpfr_fma(d, a, b, i & 1 ? c : d, MPFR_RNDN);
            double t1 = mw_now();
            for (int i = 0; i < N_TANH; i++) {
                mpfr_add(c, c, a, MPFR_RNDN); /* a new argument each time, in [0.5, 0.6] */
                mpfr_tanh(d, c, MPFR_RNDN);
            }
            double t2 = mw_now();
            mpfr_set_d(c, 0.5, MPFR_RNDN);
            bf = fmin(bf, (t1 - t0) / N_FMA);
            bt = fmin(bt, (t2 - t1) / N_TANH);
        }
        mpfr_clears(a, b, c, d, (mpfr_ptr)0);
        int sane = isfinite(bf) && isfinite(bt) && bf > 1e-10 && bf < 1e-5 && bt > 1e-8 &&
                   bt < 1e-3;
        f = sane ? bf : 70e-9;
        t = sane ? bt : 2.8e-6;
    }
    *fma_s = f;
    *tanh_s = t;
}

double mw_gold_cost_seconds(const mw_spec *s, const mw_gold_opts *o)
{
    double fma, trans, fma_s, tanh_s;
    mw_gold_forward_ops(s, &fma, &trans);
    mpfr_op_seconds(&fma_s, &tanh_s);
    /* one pass at p bits: those costs at 256 bits, growing like p^0.5 and p^0.8 */
    double p = (double)o->bits / 256.0, p2 = (double)(o->bits + MW_GOLD_CHECK_EXTRA_BITS) / 256.0;
    double pass = fma * fma_s * sqrt(p) + trans * tanh_s * pow(p, 0.8);
    double pass2 = fma * fma_s * sqrt(p2) + trans * tanh_s * pow(p2, 0.8);
    /* a gradient: the forward pass and a backward one with twice its multiply-adds and a
     * sech per activation (3 passes' worth), at p and at p + 64 bits; the witness: two
     * forward passes per coordinate, each from the coordinate's layer on (half a pass on
     * average) */
    mw_layout lay;
    size_t P = 0;
    if (mw_layout_build(s, &lay) == 0) {
        P = lay.total;
        mw_layout_free(&lay);
    }
    double coords = o->fd_coords < 0 ? (P <= 64 ? (double)P : 64.0 + 2.0 * s->depth * s->units + 2)
                                     : (double)o->fd_coords;
    return 3.0 * (pass + pass2) + coords * pass;
}

/* ---- certification ---- */

/* Agreeing bits of a and b (see oracles.h), at b's precision. */
static double agree_bits(mpfr_srcptr a, mpfr_srcptr b, mpfr_srcptr floor_, long cap, mpfr_t t,
                         mpfr_t d)
{
    mpfr_sub(d, a, b, MPFR_RNDN);
    mpfr_abs(d, d, MPFR_RNDN);
    if (mpfr_zero_p(d))
        return (double)cap;
    mpfr_abs(t, b, MPFR_RNDN);
    mpfr_max(t, t, floor_, MPFR_RNDN);
    if (mpfr_zero_p(t))
        return 0.0;
    mpfr_div(d, d, t, MPFR_RNDN);
    mpfr_log2(d, d, MPFR_RNDN);
    double bits = -mpfr_get_d(d, MPFR_RNDN);
    return bits < 0.0 ? 0.0 : bits > (double)cap ? (double)cap : bits;
}

/* The floor below which a coordinate is judged against the gradient's scale rather than
 * itself: 2^(-p/2) · max_j |g_j| over the whole gradient. */
static void scale_floor(const mw_ref *check, size_t P, long p, mpfr_t floor_)
{
    mpfr_set_zero(floor_, 1);
    for (size_t j = 0; j < P; j++)
        if (mpfr_cmpabs(mw_ref_grad(check, j), floor_) > 0)
            mpfr_abs(floor_, mw_ref_grad(check, j), MPFR_RNDN);
    mpfr_mul_2si(floor_, floor_, -p / 2, MPFR_RNDN);
}

/* ---- finite differences ---- */

/* The coordinates the witness checks: all when asked or few, else about `want` spread
 * evenly over the vector with at least one in every tensor. */
static size_t pick_coords(const mw_layout *lay, long fd_coords, size_t **out)
{
    size_t P = lay->total, want = fd_coords < 0 ? 64 : (size_t)fd_coords;
    *out = NULL;
    if (want == 0)
        return 0;
    size_t *c = malloc((P + (size_t)lay->n_params) * sizeof *c), n = 0;
    if (!c)
        return 0;
    if ((fd_coords < 0 && P <= 64) || want >= P) {
        for (size_t j = 0; j < P; j++)
            c[n++] = j;
    } else {
        for (int t = 0; t < lay->n_params; t++) {
            const mw_param_info *pi = &lay->params[t];
            size_t k = (size_t)((double)want * (double)pi->count / (double)P + 0.5);
            k = k < 1 ? 1 : k > pi->count ? pi->count : k;
            for (size_t i = 0; i < k; i++)
                c[n++] = pi->offset + (2 * i + 1) * pi->count / (2 * k);
        }
    }
    *out = c;
    return n;
}

/* Central difference of J at coordinate j with step h = 2^(e - p/3), e the exponent of
 * max(1, |θ_j|): truncation O(h²) and rounding O(2^-p / h) balance near 2^(-2p/3). The
 * quotient uses the perturbed parameters as stored, so their rounding is no error. */
static int central_difference(mw_ref *r, size_t j, int from, mpfr_t fd, mpfr_t keep,
                              mpfr_t minus, mpfr_t jm, char *msg, size_t msg_len)
{
    mpfr_ptr th = mw_ref_param(r, j);
    long p = (long)mw_ref_bits(r);
    mpfr_set(keep, th, MPFR_RNDN);
    long e = mpfr_cmpabs_ui(keep, 1) > 0 ? (long)mpfr_get_exp(keep) : 1;
    mpfr_set_ui_2exp(fd, 1, e - p / 3, MPFR_RNDN); /* h */
    mpfr_sub(th, keep, fd, MPFR_RNDN);             /* θ - h */
    mpfr_set(minus, th, MPFR_RNDN);
    if (mw_ref_forward_from(r, from, msg, msg_len) != 0)
        return 1;
    mpfr_set(jm, mw_ref_loss(r), MPFR_RNDN);
    mpfr_add(th, keep, fd, MPFR_RNDN);             /* θ + h */
    mpfr_sub(minus, th, minus, MPFR_RNDN);         /* the stored (θ + h) - (θ - h) */
    if (mw_ref_forward_from(r, from, msg, msg_len) != 0)
        return 1;
    mpfr_sub(fd, mw_ref_loss(r), jm, MPFR_RNDN);
    mpfr_div(fd, fd, minus, MPFR_RNDN);
    mpfr_set(th, keep, MPFR_RNDN);
    return 0;
}

/* The tensor holding coordinate j. */
static int tensor_of(const mw_layout *lay, size_t j)
{
    int q = 0;
    while (q + 1 < lay->n_params && lay->params[q].offset + lay->params[q].count <= j)
        q++;
    return q;
}

static int witness(mw_ref *r, const mw_ref *check, const mw_layout *lay, int L, long fd_coords,
                   mw_gold *out, char *msg, size_t msg_len)
{
    size_t *coords, n = pick_coords(lay, fd_coords, &coords);
    out->fd_coords = n;
    out->fd_agree_bits = NAN;
    if (n == 0)
        return fd_coords == 0 ? 0 : (snprintf(msg, msg_len, "out of memory"), 1);
    long p = (long)mw_ref_bits(r), p2 = (long)mw_ref_bits(check);
    mpfr_t fd, keep, minus, jm, t, d, floor_;
    mpfr_inits2(p2, fd, keep, minus, jm, t, d, floor_, (mpfr_ptr)0);
    scale_floor(check, lay->total, p, floor_);
    int rc = 0;
    double worst = (double)p;
    /* last coordinates first: each perturbation recomputes from its own layer on, and the
     * layers before it still hold the unperturbed outputs */
    for (size_t k = n; rc == 0 && k-- > 0;) {
        size_t j = coords[k];
        int layer = lay->params[tensor_of(lay, j)].layer;
        rc = central_difference(r, j, layer ? layer : L + 1, fd, keep, minus, jm, msg, msg_len);
        if (rc == 0)
            worst = fmin(worst, agree_bits(fd, mw_ref_grad(check, j), floor_, p, t, d));
    }
    out->fd_agree_bits = worst;
    mpfr_clears(fd, keep, minus, jm, t, d, floor_, (mpfr_ptr)0);
    free(coords);
    return rc;
}

/* ---- gold ---- */

/* certified_bits, weakest, hi, lo and loss from the p-bit run r and the (p+64)-bit run
 * check. */
static void certify(const mw_ref *r, const mw_ref *check, mw_gold *out)
{
    mpfr_t t, d, floor_;
    mpfr_inits2(out->check_bits, t, d, floor_, (mpfr_ptr)0);
    scale_floor(check, out->P, out->bits, floor_);
    out->certified_bits = (double)out->bits;
    for (size_t j = 0; j < out->P; j++) {
        double b = agree_bits(mw_ref_grad(r, j), mw_ref_grad(check, j), floor_, out->bits, t, d);
        if (b < out->certified_bits) {
            out->certified_bits = b;
            out->weakest = j;
        }
        /* the oracle value: the higher-precision run, as a double-double */
        out->hi[j] = mpfr_get_d(mw_ref_grad(check, j), MPFR_RNDN);
        mpfr_sub_d(d, mw_ref_grad(check, j), out->hi[j], MPFR_RNDN);
        out->lo[j] = mpfr_get_d(d, MPFR_RNDN);
    }
    out->loss = mpfr_get_d(mw_ref_loss(check), MPFR_RNDN);
    mpfr_clears(t, d, floor_, (mpfr_ptr)0);
}

static int run_reference(const mw_spec *s, long bits, const double *theta, const double *x,
                         const int *labels, mw_ref **out, char *msg, size_t msg_len)
{
    if (mw_ref_new(s, bits, out, msg, msg_len) != 0)
        return 1;
    if (mw_ref_set_params(*out, theta, msg, msg_len) != 0 ||
        mw_ref_set_batch(*out, x, labels, msg, msg_len) != 0 ||
        mw_ref_gradient(*out, msg, msg_len) != 0) {
        mw_ref_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

mw_status mw_gold_compute(const mw_spec *spec, const double *theta, const double *x,
                          const int *labels, const mw_gold_opts *opts, mw_gold *out, mw_err *err)
{
    mw_gold_opts o = opts ? *opts : mw_gold_opts_default();
    mw_err scratch;
    char *msg = err ? err->msg : scratch.msg;
    const size_t msg_len = sizeof scratch.msg;
    memset(out, 0, sizeof *out);
    if (o.bits < MW_REF_MIN_BITS || o.bits > MW_REF_MAX_BITS)
        return mw_err_set(err, MW_ERR_ARG, "oracle-bits %ld: allowed %d..%d", o.bits,
                          MW_REF_MIN_BITS, MW_REF_MAX_BITS);
    double t0 = mw_now();
    mw_ref *r = NULL, *check = NULL;
    mw_layout lay = {0};
    mw_status st = MW_OK;
    double *th = NULL;
    if (mw_layout_build(spec, &lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
    if (!theta) { /* no parameters given: the spec's initial ones */
        if (!(th = malloc(lay.total * sizeof *th))) {
            st = mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
            goto done;
        }
        mw_init_params(spec, &lay, th);
        theta = th;
    }
    out->P = lay.total;
    out->bits = o.bits;
    out->check_bits = o.bits + MW_GOLD_CHECK_EXTRA_BITS;
    out->hi = malloc(out->P * sizeof *out->hi);
    out->lo = malloc(out->P * sizeof *out->lo);
    if (!out->hi || !out->lo) {
        st = mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
        goto done;
    }
    if (run_reference(spec, o.bits, theta, x, labels, &r, msg, msg_len) != 0 ||
        run_reference(spec, out->check_bits, theta, x, labels, &check, msg, msg_len) != 0) {
        st = MW_ERR_ARG; /* the message is the reference's */
        goto done;
    }

    certify(r, check, out);
    if (witness(r, check, &lay, spec->depth, o.fd_coords, out, msg, msg_len) != 0) {
        st = MW_ERR_ARG; /* the message is the reference's */
        goto done;
    }
    out->seconds = mw_now() - t0;
    out->certified = out->certified_bits >= o.floor_bits;
    if (!out->certified) {
        const mw_param_info *pi = &lay.params[tensor_of(&lay, out->weakest)];
        snprintf(out->uncertified, sizeof out->uncertified,
                 "gold oracle not certified: its %ld- and %ld-bit gradients share only %.1f bits "
                 "at %s[%zu] (floor %.0f); raise --oracle-bits",
                 out->bits, out->check_bits, out->certified_bits, pi->name,
                 out->weakest - pi->offset, o.floor_bits);
    }
done:
    mw_ref_free(r);
    mw_ref_free(check);
    mw_layout_free(&lay);
    free(th);
    if (st != MW_OK)
        mw_gold_free(out);
    if (err && st != MW_OK)
        err->status = st;
    return st;
}
