/* The MPFR reference (mw_reference.h): forward pass and exact reverse mode of the mlp and
 * revnet networks of docs/architecture.md §2, element by element. Every intermediate of the forward
 * pass is kept, as plain reverse mode does; nothing is allocated after mw_ref_new. This
 * file holds what every coupling type shares (F, ψ, the head, the loss) and the network's
 * loops; each coupling type's own forward and reverse are in coupling_<name>.c, found
 * through the table of layers.c (mw_ref_layers.h).
 *
 * One set of loops serves both architectures: a dense layer is the convolution below with
 * a 1x1 kernel on a 1x1 image (W [out][in][1][1] is W [out][in]), so every tensor is
 * (B, C, H, W) row-major and the mlp's (B, n) is (B, n, 1, 1). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_internal.h"

static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return 1;
}

/* The scalars every network holds. */
#define SCALARS(r) {(r)->loss, (r)->alpha, (r)->eps, (r)->t0, (r)->t1, (r)->t2, (r)->t3, (r)->ta, \
                    (r)->tb}

static ref_num *mp_new(size_t n, mpfr_prec_t prec)
{
    ref_num *a = malloc((n ? n : 1) * sizeof *a);
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        N_init2(a[i], prec);
        N_set_zero(a[i], 1);
    }
    return a;
}

static void mp_free(ref_num *a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        N_clear(a[i]);
    free(a);
}

/* ---- shapes ---- */

static size_t units_total(const mw_ref *r)
{
    return (size_t)r->L * (size_t)r->k;
}

static size_t unit_idx(const mw_ref *r, int l, int u)
{
    return (size_t)(l - 1) * (size_t)r->k + (size_t)(u - 1);
}

/* Channels of unit u of layer l (features for dense). */
static void unit_dims(const mw_ref *r, int l, int u, size_t *out, size_t *in)
{
    int o, i;
    mw_spec_unit_shape(&r->s, l, u, &o, &i);
    *out = (size_t)o;
    *in = (size_t)i;
}

/* (C, H, W) of layer l's input, after any ψ; mlp: (n, 1, 1). */
static mw_shape layer_shape(const mw_ref *r, int l)
{
    return mw_spec_layer_shape(&r->s, l);
}

static size_t pixels(mw_shape sh)
{
    return (size_t)sh.h * (size_t)sh.w;
}

/* Values of one unit's tensors: (B, out, H, W). */
static size_t unit_count(const mw_ref *r, int l, int u)
{
    size_t out, in;
    unit_dims(r, l, u, &out, &in);
    return r->B * out * pixels(layer_shape(r, l));
}

/* ---- construction ---- */

static int alloc_units(mw_ref *r)
{
    for (int l = 1; l <= r->L; l++)
        for (int u = 1; u <= r->k; u++) {
            size_t i = unit_idx(r, l, u), m = unit_count(r, l, u), out, in;
            unit_dims(r, l, u, &out, &in);
            if (!(r->dz[i] = mp_new(m, r->prec)) || !(r->p[i] = mp_new(m, r->prec)))
                return 1;
            if (r->s.bn && (!(r->xhat[i] = mp_new(m, r->prec)) ||
                            !(r->rstd[i] = mp_new(out, r->prec)) ||
                            !(r->q[i] = mp_new(m, r->prec))))
                return 1;
        }
    return 0;
}

/* The widest cotangent inside F, per sample: channels times pixels of any unit's input or
 * output, and the coupling's half. */
static size_t widest_unit(const mw_ref *r)
{
    size_t w = r->h;
    for (int l = 1; l <= r->L; l++)
        for (int u = 1; u <= r->k; u++) {
            size_t out, in, px = pixels(layer_shape(r, l));
            unit_dims(r, l, u, &out, &in);
            w = out * px > w ? out * px : w;
            w = in * px > w ? in * px : w;
        }
    return w;
}

int mw_ref_new(const mw_spec *spec, mpfr_prec_t bits, mw_ref **out, char *msg, size_t msg_len)
{
    *out = NULL;
    if (bits < MW_REF_MIN_BITS || bits > MW_REF_MAX_WORK_BITS)
        return fail(msg, msg_len, "oracle-bits %ld: allowed %d..%d", (long)bits, MW_REF_MIN_BITS,
                    MW_REF_MAX_WORK_BITS);
    if (mw_spec_validate(spec, msg, msg_len) != 0)
        return 1;
    mw_ref *r = calloc(1, sizeof *r);
    if (!r || mw_layout_build(spec, &r->lay) != 0) {
        free(r);
        return fail(msg, msg_len, "out of memory for the reference network");
    }
    r->s = *spec;
    r->type = mw_ref_layer_type_find(mw_coupling_name(spec->coupling));
    if (!r->type) {
        mw_layout_free(&r->lay);
        free(r);
        return fail(msg, msg_len, "coupling %s: the reference has no such layer type",
                    mw_coupling_name(spec->coupling));
    }
    r->prec = bits;
    r->B = (size_t)spec->batch;
    r->n = (size_t)spec->width;
    r->h = r->n / 2;
    r->C = (size_t)spec->classes;
    r->P = r->lay.total;
    r->N = r->B * r->n;
    r->L = spec->depth;
    r->k = spec->units;
    r->K = mw_spec_is_conv(spec) ? 3 : 1;
    r->nh = (size_t)mw_spec_head_features(spec);
    r->hs = pixels(mw_spec_head_shape(spec));
    r->maxw = widest_unit(r);
    r->n_xs = spec->arch == MW_ARCH_REVNET ? (size_t)(spec->blocks - 1) * r->N : 0;
    const size_t U = units_total(r);
    r->theta = mp_new(r->P, bits);
    r->g = mp_new(r->P, bits);
    r->x = mp_new((size_t)(r->L + 1) * r->N, bits);
    r->xs = mp_new(r->n_xs, bits);
    r->labels = calloc(r->B, sizeof *r->labels);
    r->dzc = mp_new((size_t)r->L * r->B * r->h, bits);
    r->dz = calloc(U, sizeof *r->dz);
    r->p = calloc(U, sizeof *r->p);
    r->xhat = calloc(U, sizeof *r->xhat);
    r->rstd = calloc(U, sizeof *r->rstd);
    r->q = calloc(U, sizeof *r->q);
    r->feat = mp_new(r->B * r->nh, bits);
    r->hf = mp_new(r->B * r->nh, bits);
    r->logits = mp_new(r->B * r->C, bits);
    r->lse = mp_new(r->B, bits);
    r->hx = mp_new(r->N, bits);
    r->hy = mp_new(r->N, bits);
    r->ig = mp_new(r->N, bits);
    r->hu = mp_new(r->B * r->maxw, bits);
    r->hv = mp_new(r->B * r->maxw, bits);
    int ok = r->theta && r->g && r->x && r->xs && r->labels && r->dzc && r->dz && r->p &&
             r->xhat && r->rstd && r->q && r->feat && r->hf && r->logits && r->lse && r->hx &&
             r->hy && r->ig && r->hu && r->hv;
    ok = ok && alloc_units(r) == 0;
    ref_ptr scalars[] = SCALARS(r);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        N_init2(scalars[i], bits);
    /* the constants are the binary64 values of their decimal literals, converted exactly */
    N_set_d(r->alpha, spec->leaky_slope);
    N_set_d(r->eps, spec->bn_eps);
    *out = r;
    if (!ok) {
        mw_ref_free(r);
        *out = NULL;
        return fail(msg, msg_len, "out of memory for the reference network");
    }
    return 0;
}

/* The values mw_ref_new allocates, counted the same way (keep the two together): the
 * memory estimate of gold rests on it. */
static double ref_values(const mw_spec *spec)
{
    mw_ref r;
    memset(&r, 0, sizeof r);
    if (mw_layout_build(spec, &r.lay) != 0)
        return 0.0;
    r.s = *spec;
    r.B = (size_t)spec->batch, r.n = (size_t)spec->width, r.h = r.n / 2;
    r.C = (size_t)spec->classes, r.P = r.lay.total, r.N = r.B * r.n;
    r.L = spec->depth, r.k = spec->units;
    r.nh = (size_t)mw_spec_head_features(spec);
    r.maxw = widest_unit(&r);
    mw_layout_free(&r.lay);
    double v = 2.0 * (double)r.P + (double)(r.L + 1) * (double)r.N +
               (spec->arch == MW_ARCH_REVNET ? (double)(spec->blocks - 1) * (double)r.N : 0.0) +
               (double)r.L * (double)r.B * (double)r.h + 2.0 * (double)(r.B * r.nh) +
               (double)(r.B * r.C) + (double)r.B + 3.0 * (double)r.N +
               2.0 * (double)(r.B * r.maxw) + 9.0;
    for (int l = 1; l <= r.L; l++)
        for (int u = 1; u <= r.k; u++) {
            size_t out, in;
            unit_dims(&r, l, u, &out, &in);
            double m = (double)unit_count(&r, l, u);
            v += spec->bn ? 4.0 * m + (double)out : 2.0 * m;
        }
    return v;
}

double mw_ref_bytes(const mw_spec *spec, mpfr_prec_t bits)
{
    /* each value: its ref_num, and the limbs mpfr_init2 allocates (with the size limb MPFR
     * keeps in front) in a malloc chunk of 16-byte granules with 8 bytes of header */
    double limbs = 8.0 + 8.0 * (double)((bits + 63) / 64);
    double chunk = 16.0 * ceil((limbs + 8.0) / 16.0);
#ifdef MW_REF_INTERVAL
    chunk *= 2.0; /* two endpoints */
#endif
    return ref_values(spec) * ((double)sizeof(ref_num) + chunk);
}

void mw_ref_free(mw_ref *r)
{
    if (!r)
        return;
    mp_free(r->theta, r->P);
    mp_free(r->g, r->P);
    mp_free(r->x, (size_t)(r->L + 1) * r->N);
    mp_free(r->xs, r->n_xs);
    free(r->labels);
    mp_free(r->dzc, (size_t)r->L * r->B * r->h);
    for (int l = 1; l <= r->L; l++)
        for (int u = 1; u <= r->k; u++) {
            size_t i = unit_idx(r, l, u), m = unit_count(r, l, u), out, in;
            unit_dims(r, l, u, &out, &in);
            if (r->dz)
                mp_free(r->dz[i], m);
            if (r->p)
                mp_free(r->p[i], m);
            if (r->xhat)
                mp_free(r->xhat[i], m);
            if (r->rstd)
                mp_free(r->rstd[i], out);
            if (r->q)
                mp_free(r->q[i], m);
        }
    free(r->dz), free(r->p), free(r->xhat), free(r->rstd), free(r->q);
    mp_free(r->feat, r->B * r->nh), mp_free(r->hf, r->B * r->nh);
    mp_free(r->logits, r->B * r->C);
    mp_free(r->lse, r->B);
    mp_free(r->hx, r->N), mp_free(r->hy, r->N), mp_free(r->ig, r->N);
    mp_free(r->hu, r->B * r->maxw), mp_free(r->hv, r->B * r->maxw);
    ref_ptr scalars[] = SCALARS(r);
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++)
        N_clear(scalars[i]);
#ifdef MW_REF_INTERVAL
    iref_scratch_release();
#endif
    mw_layout_free(&r->lay);
    free(r);
}

size_t mw_ref_n_params(const mw_ref *r)
{
    return r->P;
}

mpfr_prec_t mw_ref_bits(const mw_ref *r)
{
    return r->prec;
}

int mw_ref_set_params(mw_ref *r, const double *theta, char *msg, size_t msg_len)
{
    for (size_t j = 0; j < r->P; j++) {
        if (!isfinite(theta[j]))
            return fail(msg, msg_len, "parameter %zu is not finite", j);
        N_set_d(r->theta[j], theta[j]);
    }
    r->have_forward = 0;
    return 0;
}

int mw_ref_set_batch(mw_ref *r, const double *x, const int *labels, char *msg, size_t msg_len)
{
    for (size_t b = 0; b < r->B; b++)
        if (labels[b] < 0 || (size_t)labels[b] >= r->C)
            return fail(msg, msg_len, "label %d of sample %zu outside 0..%zu", labels[b], b,
                        r->C - 1);
    for (size_t i = 0; i < r->N; i++) {
        if (!isfinite(x[i]))
            return fail(msg, msg_len, "input %zu is not finite", i);
        N_set_d(r->x[i], x[i]);
    }
    memcpy(r->labels, labels, r->B * sizeof *labels);
    r->have_forward = 0;
    return 0;
}

ref_ptr mw_ref_param(mw_ref *r, size_t j)
{
    r->have_forward = 0;
    return r->theta[j];
}

ref_ptr mw_ref_input(mw_ref *r, size_t i)
{
    r->have_forward = 0;
    return r->x[i];
}

/* ---- activations ---- */

#ifndef MW_REF_INTERVAL
/* tanh and its derivative from one exponential: with E = expm1(2|z|) >= 0,
 *   tanh|z| = E / (E + 2),   sech²z = 1 - tanh²z = 4 (E + 1) / (E + 2)²,
 * every operation on non-negative operands, so neither cancels and each result is within
 * a few ulps (mpfr_tanh and mpfr_sech are within half of one, but cost an exponential each:
 * two per activation and gradient, against one here). Gold's certificate does not rest on
 * these roundings: it compares the whole gradient at p and p + 64 bits. Far out expm1 would
 * overflow MPFR's exponent range (and raise the overflow flag that fails the pass), so
 * beyond |z| = 2^20 the correctly rounded functions take over. */
void mw_ref_tanh_sech2(ref_ptr y, ref_ptr d, ref_srcptr z, ref_ptr ta, ref_ptr tb)
{
    if (mpfr_cmpabs_ui(z, 1ul << 20) > 0 || !mpfr_number_p(z)) {
        if (d) {
            N_sech(d, z);
            N_sqr(d, d);
        }
        N_tanh(y, z);
        return;
    }
    const int neg = mpfr_signbit(z);
    N_abs(ta, z);
    N_mul_2ui(ta, ta, 1); /* 2|z|, exact */
    mpfr_expm1(ta, ta, RND);      /* E */
    N_add_ui(tb, ta, 2);  /* E + 2 */
    if (d) {
        N_add_ui(d, ta, 1); /* E + 1 */
        N_div(d, d, tb);
        N_div(d, d, tb);
        N_mul_2ui(d, d, 2); /* 4 (E + 1) / (E + 2)², exact scaling */
    }
    N_div(y, ta, tb);
    mpfr_setsign(y, y, neg, RND); /* tanh is odd; tanh(-0) = -0 */
}

void ref_act(mw_ref *r, mw_act a, ref_ptr y, ref_ptr d, ref_srcptr z)
{
    switch (a) {
    case MW_ACT_RELU:
        if (d)
            N_set_ui(d, mpfr_sgn(z) > 0 ? 1 : 0);
        if (mpfr_sgn(z) > 0)
            N_set(y, z);
        else
            N_set_zero(y, 1);
        break;
    case MW_ACT_TANH: mw_ref_tanh_sech2(y, d, z, r->ta, r->tb); break;
    case MW_ACT_LEAKY:
        if (mpfr_sgn(z) > 0) {
            if (d)
                N_set_ui(d, 1);
            N_set(y, z);
        } else {
            if (d)
                N_set(d, r->alpha);
            N_mul(y, z, r->alpha);
        }
        break;
    default:
        if (d)
            N_set_ui(d, 1);
        N_set(y, z);
    }
}
#else
/* The interval build: MPFI's tanh and sech enclose the exact values (the one-exponential
 * formula above would enclose them too, but more widely: E appears twice in E/(E + 2)). */
void mw_ref_tanh_sech2(ref_ptr y, ref_ptr d, ref_srcptr z, ref_ptr ta, ref_ptr tb)
{
    (void)ta, (void)tb;
    if (d) {
        mpfi_sech(d, z);
        mpfi_sqr(d, d);
    }
    mpfi_tanh(y, z);
}

/* Scratch of the interval operations MPFI lacks, at the working precision, per thread. */
static _Thread_local struct {
    mpfr_prec_t prec;
    mpfi_t t;
    mpfr_t e0, e1, e2;
} scratch;

static void scratch_at(mpfr_prec_t prec)
{
    if (scratch.prec == prec)
        return;
    iref_scratch_release();
    mpfi_init2(scratch.t, prec);
    mpfr_inits2(prec, scratch.e0, scratch.e1, scratch.e2, (mpfr_ptr)0);
    scratch.prec = prec;
}

void iref_scratch_release(void)
{
    if (!scratch.prec)
        return;
    mpfi_clear(scratch.t);
    mpfr_clears(scratch.e0, scratch.e1, scratch.e2, (mpfr_ptr)0);
    scratch.prec = 0;
}

void iref_fma(ref_ptr r, ref_srcptr a, ref_srcptr b, ref_srcptr c)
{
    scratch_at(mpfi_get_prec(r));
    mpfi_mul(scratch.t, a, b);
    mpfi_add(r, scratch.t, c);
}

void iref_rec_sqrt(ref_ptr r, ref_srcptr a)
{
    mpfi_sqrt(r, a);
    mpfi_inv(r, r);
}

void iref_max(ref_ptr r, ref_srcptr a, ref_srcptr b)
{
    scratch_at(mpfi_get_prec(r));
    mpfi_get_left(scratch.e0, a);
    mpfi_get_left(scratch.e1, b);
    mpfr_max(scratch.e0, scratch.e0, scratch.e1, MPFR_RNDD);
    mpfi_get_right(scratch.e1, a);
    mpfi_get_right(scratch.e2, b);
    mpfr_max(scratch.e1, scratch.e1, scratch.e2, MPFR_RNDU);
    mpfi_interv_fr(r, scratch.e0, scratch.e1);
}

/* ReLU and leaky on an interval that holds 0 have no derivative there: a kink, counted and
 * its first place kept. Its value is still enclosed, and its derivative is enclosed by the
 * hull of the one-sided ones (PyTorch's choice at 0 among them), so the gradient's
 * intervals hold every choice. */
static void kink(mw_ref *r)
{
    if (r->kinks++ == 0)
        r->kink_layer = r->at_layer, r->kink_unit = r->at_unit;
}

void ref_act(mw_ref *r, mw_act a, ref_ptr y, ref_ptr d, ref_srcptr z)
{
    switch (a) {
    case MW_ACT_RELU:
    case MW_ACT_LEAKY:
        if (mpfi_is_strictly_pos(z)) {
            if (d)
                mpfi_set_ui(d, 1);
            mpfi_set(y, z);
        } else if (mpfi_is_strictly_neg(z)) {
            if (a == MW_ACT_RELU) {
                if (d)
                    mpfi_set_ui(d, 0);
                mpfi_set_ui(y, 0);
            } else {
                if (d)
                    mpfi_set(d, r->alpha);
                mpfi_mul(y, z, r->alpha);
            }
        } else {
            kink(r);
            scratch_at(mpfi_get_prec(y));
            mpfi_set_ui(scratch.t, a == MW_ACT_RELU ? 0 : 1);
            if (a == MW_ACT_RELU) { /* [0, max(z)]: z holds 0 */
                mpfi_get_right(scratch.e1, z);
                mpfr_set_zero(scratch.e0, 1);
                if (d)
                    mpfi_interv_ui(d, 0, 1);
                mpfi_interv_fr(y, scratch.e0, scratch.e1);
            } else { /* z ∪ α z holds leaky(z); the slope is α or 1 */
                if (d)
                    mpfi_union(d, r->alpha, scratch.t);
                mpfi_mul(scratch.t, z, r->alpha);
                mpfi_union(y, z, scratch.t);
            }
        }
        break;
    case MW_ACT_TANH: mw_ref_tanh_sech2(y, d, z, r->ta, r->tb); break;
    default:
        if (d)
            mpfi_set_ui(d, 1);
        mpfi_set(y, z);
    }
}
#endif

/* ---- the body's pieces ---- */

static size_t poff(const mw_ref *r, int l, int u, mw_param_kind kind)
{
    int per = r->s.bn ? 4 : 2;
    return r->lay.params[(size_t)((l - 1) * r->k + (u - 1)) * (size_t)per + kind].offset;
}

/* Halves (ref_internal.h): the first or second half of the channels, which are
 * contiguous in (C, H, W). */
void ref_halves(const mw_ref *r, int l, size_t *off_a, size_t *off_b)
{
    *off_a = l % 2 == 1 ? 0 : r->h;
    *off_b = l % 2 == 1 ? r->h : 0;
}

ref_num *ref_layer_in(mw_ref *r, int l)
{
    if (!mw_spec_squeeze_before(&r->s, l))
        return r->x + (size_t)(l - 1) * r->N;
    int block = (l - 1) / r->s.layers_per_block; /* 1.. */
    return r->xs + (size_t)(block - 1) * r->N;
}

ref_num *ref_layer_out(mw_ref *r, int l)
{
    return r->x + (size_t)l * r->N;
}

ref_num *ref_dzc(mw_ref *r, int l)
{
    return r->dzc + (size_t)(l - 1) * r->B * r->h;
}

/* ψ (docs/architecture.md §2) from the output of layer l-1, (B, C, H, W), to the input of layer l,
 * (B, 4C, H/2, W/2): out[c·4 + 2·dy + dx, i, j] = in[c, 2i+dy, 2j+dx]. A permutation, so
 * its transpose (back = 1: cotangent of the output into that of the input) is the same
 * pairs copied the other way; both are exact. */
static void squeeze(const mw_ref *r, int l, ref_num *sq, ref_num *flat, int back)
{
    mw_shape sh = layer_shape(r, l - 1);
    size_t C = (size_t)sh.c, H = (size_t)sh.h, W = (size_t)sh.w, H2 = H / 2, W2 = W / 2;
    for (size_t b = 0; b < r->B; b++)
        for (size_t c = 0; c < C; c++)
            for (size_t dy = 0; dy < 2; dy++)
                for (size_t dx = 0; dx < 2; dx++)
                    for (size_t i = 0; i < H2; i++)
                        for (size_t j = 0; j < W2; j++) {
                            size_t o = ((b * 4 * C + c * 4 + 2 * dy + dx) * H2 + i) * W2 + j;
                            size_t f = ((b * C + c) * H + 2 * i + dy) * W + 2 * j + dx;
                            if (back)
                                N_set(flat[f], sq[o]);
                            else
                                N_set(sq[o], flat[f]);
                        }
}

/* The output of unit u of layer l, (B, out, H, W): after BN when there is BN. */
static ref_num *unit_out(mw_ref *r, int l, int u)
{
    size_t i = unit_idx(r, l, u);
    return r->s.bn ? r->q[i] : r->p[i];
}

/* The input of unit u of layer l for sample b, (in, H, W) contiguous: layer l's
 * conditioning half a for u = 1, else unit u-1's output. */
static ref_num *unit_in(mw_ref *r, int l, int u, size_t b)
{
    if (u == 1) {
        size_t off_a, off_b;
        ref_halves(r, l, &off_a, &off_b);
        return ref_layer_in(r, l) + b * r->n + off_a;
    }
    size_t out, in;
    unit_dims(r, l, u - 1, &out, &in);
    return unit_out(r, l, u - 1) + b * out * pixels(layer_shape(r, l));
}

/* Is tap (y + d - pad) inside 0..n-1? Then *at is it. */
static int tap(size_t y, size_t d, size_t pad, size_t n, size_t *at)
{
    if (y + d < pad || y + d - pad >= n)
        return 0;
    *at = y + d - pad;
    return 1;
}

/* ---- forward ---- */

/* The map of unit u of layer l: z[b,o,y,x] = c[o] + Σ_{k,dy,dx} W[o][k][dy][dx] ·
 * in[b, k, y+dy−pad, x+dx−pad], zero outside (cross-correlation as in PyTorch); then
 * p = act(z). */
static void map_forward(mw_ref *r, int l, int u)
{
    mw_shape sh = layer_shape(r, l);
    size_t out, in, H = (size_t)sh.h, Wd = (size_t)sh.w, S = H * Wd;
    size_t K = (size_t)r->K, pad = K / 2, i = unit_idx(r, l, u), iy, ix;
    unit_dims(r, l, u, &out, &in);
    ref_num *W = r->theta + poff(r, l, u, MW_PARAM_W), *c = r->theta + poff(r, l, u, MW_PARAM_C);
    for (size_t b = 0; b < r->B; b++) {
        ref_num *a = unit_in(r, l, u, b);
        for (size_t o = 0; o < out; o++)
            for (size_t y = 0; y < H; y++)
                for (size_t x = 0; x < Wd; x++) {
                    N_set(r->t0, c[o]);
                    for (size_t k = 0; k < in; k++)
                        for (size_t dy = 0; dy < K; dy++)
                            for (size_t dx = 0; dx < K; dx++)
                                if (tap(y, dy, pad, H, &iy) && tap(x, dx, pad, Wd, &ix))
                                    N_fma(r->t0, W[((o * in + k) * K + dy) * K + dx],
                                             a[k * S + iy * Wd + ix], r->t0);
                    size_t e = (b * out + o) * S + y * Wd + x;
                    r->at_layer = l, r->at_unit = u;
                    ref_act(r, r->s.f_act, r->p[i][e], r->loss_only ? NULL : r->dz[i][e],
                            r->t0);
                }
    }
}

/* BN of channel o of unit i over (batch, H, W), m = B·H·W values (m <= B·width, which
 * validation keeps below 2^31): y = γ (p − μ)/√(var + eps) + β, biased variance. */
static void batchnorm(mw_ref *r, size_t i, size_t out, size_t S, size_t o, ref_srcptr gamma,
                      ref_srcptr beta)
{
    ref_num *p = r->p[i];
    unsigned long m = (unsigned long)(r->B * S);
    N_set_zero(r->t0, 1);
    for (size_t b = 0; b < r->B; b++)
        for (size_t s = 0; s < S; s++)
            N_add(r->t0, r->t0, p[(b * out + o) * S + s]);
    N_div_ui(r->t0, r->t0, m); /* mean */
    N_set_zero(r->t1, 1);
    for (size_t b = 0; b < r->B; b++)
        for (size_t s = 0; s < S; s++) {
            N_sub(r->t2, p[(b * out + o) * S + s], r->t0);
            N_fma(r->t1, r->t2, r->t2, r->t1);
        }
    N_div_ui(r->t1, r->t1, m); /* biased variance */
    N_add(r->t1, r->t1, r->eps); /* > 0: eps > 0 */
    N_rec_sqrt(r->rstd[i][o], r->t1);
    for (size_t b = 0; b < r->B; b++)
        for (size_t s = 0; s < S; s++) {
            size_t e = (b * out + o) * S + s;
            N_sub(r->t2, p[e], r->t0);
            N_mul(r->xhat[i][e], r->t2, r->rstd[i][o]);
            N_fma(r->q[i][e], gamma, r->xhat[i][e], beta);
        }
}

/* F (ref_internal.h): its k units in turn, each map -> act -> [BN]. */
void ref_f_forward(mw_ref *r, int l)
{
    size_t S = pixels(layer_shape(r, l));
    for (int u = 1; u <= r->k; u++) {
        size_t out, in;
        unit_dims(r, l, u, &out, &in);
        map_forward(r, l, u);
        if (r->s.bn)
            for (size_t o = 0; o < out; o++)
                batchnorm(r, unit_idx(r, l, u), out, S, o,
                          r->theta[poff(r, l, u, MW_PARAM_GAMMA) + o],
                          r->theta[poff(r, l, u, MW_PARAM_BETA) + o]);
    }
}

ref_num *ref_f_out(mw_ref *r, int l)
{
    return unit_out(r, l, r->k);
}

static size_t head_off(const mw_ref *r)
{
    return r->lay.layer_offset[r->L + 1];
}

/* feat = the average of x_L over its H_L·W_L pixels (revnet; one pixel for mlp, where
 * this is an exact copy), logits = head.W feat + head.c, loss = mean of lse − logit. */
static void forward_head(mw_ref *r)
{
    ref_num *xL = r->x + (size_t)r->L * r->N, *W = r->theta + head_off(r);
    ref_num *c = W + r->C * r->nh;
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < r->nh; j++) {
            ref_ptr f = r->feat[b * r->nh + j];
            N_set_zero(f, 1);
            for (size_t s = 0; s < r->hs; s++)
                N_add(f, f, xL[(b * r->nh + j) * r->hs + s]);
            N_div_ui(f, f, (unsigned long)r->hs); /* hs >= 1 */
        }
    N_set_zero(r->loss, 1);
    for (size_t b = 0; b < r->B; b++) {
        ref_num *l = r->logits + b * r->C;
        for (size_t k = 0; k < r->C; k++) {
            N_set(r->t0, c[k]);
            for (size_t j = 0; j < r->nh; j++)
                N_fma(r->t0, W[k * r->nh + j], r->feat[b * r->nh + j], r->t0);
            N_set(l[k], r->t0);
        }
        /* logsumexp with the maximum taken out: the sum is >= 1, so its log is finite */
        N_set(r->t1, l[0]);
        for (size_t k = 1; k < r->C; k++)
            N_max(r->t1, r->t1, l[k]);
        N_set_zero(r->t2, 1);
        for (size_t k = 0; k < r->C; k++) {
            N_sub(r->t3, l[k], r->t1);
            N_exp(r->t3, r->t3);
            N_add(r->t2, r->t2, r->t3);
        }
        N_log(r->t2, r->t2);
        N_add(r->lse[b], r->t1, r->t2);
        N_sub(r->t3, r->lse[b], l[r->labels[b]]);
        N_add(r->loss, r->loss, r->t3);
    }
    N_div_ui(r->loss, r->loss, r->B);
}

static int check_flags(char *msg, size_t msg_len, const char *what)
{
    if (mpfr_nanflag_p() || mpfr_overflow_p())
        return fail(msg, msg_len, "reference %s: MPFR raised %s", what,
                    mpfr_nanflag_p() ? "the NaN flag" : "the overflow flag");
    return 0;
}

int mw_ref_forward_from(mw_ref *r, int layer, char *msg, size_t msg_len)
{
    if (layer < 1 || layer > r->L + 1)
        return fail(msg, msg_len, "reference: no layer %d to start from", layer);
    mpfr_clear_flags();
    if (layer == 1)
        r->kinks = 0;
    r->have_forward = 0;
    for (int l = layer; l <= r->L; l++) {
        if (mw_spec_squeeze_before(&r->s, l))
            squeeze(r, l, ref_layer_in(r, l), r->x + (size_t)(l - 1) * r->N, 0);
        if (r->type->forward(r, l, msg, msg_len) != 0)
            return 1;
    }
    forward_head(r);
    if (check_flags(msg, msg_len, "forward pass") != 0)
        return 1;
    r->have_forward = 1;
    return 0;
}

int mw_ref_loss_from(mw_ref *r, int layer, char *msg, size_t msg_len)
{
    r->loss_only = 1;
    int rc = mw_ref_forward_from(r, layer, msg, msg_len);
    r->loss_only = 0;
    r->have_forward = 0; /* no derivatives for a vjp */
    return rc;
}

int mw_ref_forward(mw_ref *r, char *msg, size_t msg_len)
{
    return mw_ref_forward_from(r, 1, msg, msg_len);
}

/* ---- reverse mode ---- */

/* Head: dJ/dlogits = (softmax - onehot)/B, into head.W, head.c, dJ/dfeat and hy = dJ/dx_L
 * (the pool's transpose spreads dJ/dfeat / (H_L·W_L) over the pixels). */
static void backward_head(mw_ref *r)
{
    ref_num *W = r->theta + head_off(r);
    ref_num *gW = r->g + head_off(r), *gc = gW + r->C * r->nh;
    for (size_t i = 0; i < r->B * r->nh; i++)
        N_set_zero(r->hf[i], 1);
    for (size_t b = 0; b < r->B; b++)
        for (size_t k = 0; k < r->C; k++) {
            N_sub(r->t0, r->logits[b * r->C + k], r->lse[b]);
            N_exp(r->t0, r->t0);
            if (k == (size_t)r->labels[b])
                N_sub_ui(r->t0, r->t0, 1);
            N_div_ui(r->t0, r->t0, r->B);
            N_add(gc[k], gc[k], r->t0);
            for (size_t j = 0; j < r->nh; j++) {
                size_t e = k * r->nh + j, f = b * r->nh + j;
                N_fma(gW[e], r->t0, r->feat[f], gW[e]);
                N_fma(r->hf[f], r->t0, W[e], r->hf[f]);
            }
        }
    for (size_t f = 0; f < r->B * r->nh; f++)
        for (size_t s = 0; s < r->hs; s++)
            N_div_ui(r->hy[f * r->hs + s], r->hf[f], (unsigned long)r->hs);
}

/* BN backward for channel o of unit i, in place on the cotangent h (B, out, H, W), m =
 * B·H·W: dγ = Σ h x̂, dβ = Σ h, dp = rstd (γh − γ mean(h) − γ x̂ mean(h x̂)). */
static void batchnorm_back(mw_ref *r, size_t i, size_t out, size_t S, size_t o,
                           ref_srcptr gamma, ref_ptr dgamma, ref_ptr dbeta, ref_num *h)
{
    unsigned long m = (unsigned long)(r->B * S);
    N_set_zero(r->t0, 1); /* Σ h */
    N_set_zero(r->t1, 1); /* Σ h x̂ */
    for (size_t b = 0; b < r->B; b++)
        for (size_t s = 0; s < S; s++) {
            size_t e = (b * out + o) * S + s;
            N_add(r->t0, r->t0, h[e]);
            N_fma(r->t1, h[e], r->xhat[i][e], r->t1);
        }
    N_set(dbeta, r->t0);
    N_set(dgamma, r->t1);
    N_div_ui(r->t0, r->t0, m);
    N_div_ui(r->t1, r->t1, m);
    for (size_t b = 0; b < r->B; b++)
        for (size_t s = 0; s < S; s++) {
            size_t e = (b * out + o) * S + s;
            N_sub(r->t2, h[e], r->t0);
            N_mul(r->t3, r->xhat[i][e], r->t1);
            N_sub(r->t2, r->t2, r->t3);
            N_mul(r->t2, r->t2, gamma);
            N_mul(h[e], r->t2, r->rstd[i][o]);
        }
}

/* The map's transpose for unit u of layer l, from h = dJ/dz (B, out, H, W):
 * dc[o] = Σ_{b,y,x} h[b,o,y,x];
 * dW[o][k][dy][dx] = Σ_{b,y,x} h[b,o,y,x] · in[b,k,y+dy−pad,x+dx−pad];
 * hin[b,k,y,x] = Σ_{o,dy,dx} h[b,o,y−dy+pad,x−dx+pad] · W[o][k][dy][dx] (in range), written
 * to hin (B, in, H, W) for u > 1 and added to layer l's a-half of hx for u = 1. */
static void map_backward(mw_ref *r, int l, int u, ref_num *h, ref_num *hin)
{
    mw_shape sh = layer_shape(r, l);
    size_t out, in, H = (size_t)sh.h, Wd = (size_t)sh.w, S = H * Wd;
    size_t K = (size_t)r->K, pad = K / 2, iy, ix, off_a, off_b;
    unit_dims(r, l, u, &out, &in);
    ref_halves(r, l, &off_a, &off_b);
    ref_num *W = r->theta + poff(r, l, u, MW_PARAM_W);
    ref_num *gW = r->g + poff(r, l, u, MW_PARAM_W), *gc = r->g + poff(r, l, u, MW_PARAM_C);
    for (size_t o = 0; o < out; o++) {
        N_set_zero(gc[o], 1);
        for (size_t b = 0; b < r->B; b++)
            for (size_t s = 0; s < S; s++)
                N_add(gc[o], gc[o], h[(b * out + o) * S + s]);
        for (size_t k = 0; k < in; k++)
            for (size_t dy = 0; dy < K; dy++)
                for (size_t dx = 0; dx < K; dx++) {
                    N_set_zero(r->t0, 1);
                    for (size_t b = 0; b < r->B; b++) {
                        ref_num *a = unit_in(r, l, u, b);
                        for (size_t y = 0; y < H; y++)
                            for (size_t x = 0; x < Wd; x++)
                                if (tap(y, dy, pad, H, &iy) && tap(x, dx, pad, Wd, &ix))
                                    N_fma(r->t0, h[(b * out + o) * S + y * Wd + x],
                                             a[k * S + iy * Wd + ix], r->t0);
                    }
                    N_set(gW[((o * in + k) * K + dy) * K + dx], r->t0);
                }
    }
    /* the output pixel that tap (dy, dx) takes input pixel y from is y − dy + pad, that is
     * tap(y, K−1−dy, pad) */
    for (size_t b = 0; b < r->B; b++)
        for (size_t k = 0; k < in; k++)
            for (size_t y = 0; y < H; y++)
                for (size_t x = 0; x < Wd; x++) {
                    N_set_zero(r->t0, 1);
                    for (size_t o = 0; o < out; o++)
                        for (size_t dy = 0; dy < K; dy++)
                            for (size_t dx = 0; dx < K; dx++)
                                if (tap(y, K - 1 - dy, pad, H, &iy) &&
                                    tap(x, K - 1 - dx, pad, Wd, &ix))
                                    N_fma(r->t0, h[(b * out + o) * S + iy * Wd + ix],
                                             W[((o * in + k) * K + dy) * K + dx], r->t0);
                    size_t f = k * S + y * Wd + x;
                    if (u > 1)
                        N_set(hin[b * in * S + f], r->t0);
                    else
                        N_add(r->hx[b * r->n + off_a + f], r->hx[b * r->n + off_a + f],
                                 r->t0);
                }
}

/* F reversed (ref_internal.h): unit k down to 1, each BN, act and map transposed; the
 * cotangent alternates between hv and hu, and unit 1 adds into hx's a half. */
void ref_f_backward(mw_ref *r, int l)
{
    size_t S = pixels(layer_shape(r, l));
    ref_num *hout = r->hv, *hin = r->hu;
    for (int u = r->k; u >= 1; u--) {
        size_t i = unit_idx(r, l, u), out, in;
        unit_dims(r, l, u, &out, &in);
        if (r->s.bn)
            for (size_t o = 0; o < out; o++)
                batchnorm_back(r, i, out, S, o, r->theta[poff(r, l, u, MW_PARAM_GAMMA) + o],
                               r->g[poff(r, l, u, MW_PARAM_GAMMA) + o],
                               r->g[poff(r, l, u, MW_PARAM_BETA) + o], hout);
        for (size_t e = 0; e < r->B * out * S; e++)
            N_mul(hout[e], hout[e], r->dz[i][e]);
        map_backward(r, l, u, hout, hin);
        ref_num *t = hout;
        hout = hin;
        hin = t;
    }
}

static void swap_cotangents(mw_ref *r)
{
    ref_num *t = r->hx;
    r->hx = r->hy;
    r->hy = t;
}

/* From hy = the cotangent at x_L back through every layer and ψ to the input's, into ig,
 * writing the body's parameter gradient. */
static int backward_body(mw_ref *r, char *msg, size_t msg_len)
{
    for (int l = r->L; l >= 1; l--) {
        if (r->type->reverse(r, l, msg, msg_len) != 0)
            return 1;
        swap_cotangents(r); /* hy: the cotangent at layer l's input */
        if (mw_spec_squeeze_before(&r->s, l)) { /* ψᵀ: to the cotangent at x_{l-1} */
            squeeze(r, l, r->hy, r->hx, 1);
            swap_cotangents(r);
        }
    }
    for (size_t i = 0; i < r->N; i++)
        N_set(r->ig[i], r->hy[i]);
    return 0;
}

int mw_ref_gradient(mw_ref *r, char *msg, size_t msg_len)
{
    if (mw_ref_forward(r, msg, msg_len) != 0)
        return 1;
    mpfr_clear_flags();
    for (size_t j = 0; j < r->P; j++)
        N_set_zero(r->g[j], 1);
    backward_head(r);
    if (backward_body(r, msg, msg_len) != 0)
        return 1;
    return check_flags(msg, msg_len, "gradient");
}

int mw_ref_vjp_body(mw_ref *r, const double *h_L, char *msg, size_t msg_len)
{
    if (!r->have_forward)
        return fail(msg, msg_len, "reference vjp: no forward pass of the current parameters "
                                  "and input (call mw_ref_forward first)");
    for (size_t i = 0; i < r->N; i++)
        if (!isfinite(h_L[i]))
            return fail(msg, msg_len, "reference vjp: cotangent %zu is not finite", i);
    mpfr_clear_flags();
    for (size_t j = 0; j < r->P; j++)
        N_set_zero(r->g[j], 1);
    for (size_t i = 0; i < r->N; i++)
        N_set_d(r->hy[i], h_L[i]);
    if (backward_body(r, msg, msg_len) != 0)
        return 1;
    return check_flags(msg, msg_len, "vjp");
}

ref_srcptr mw_ref_loss(const mw_ref *r)
{
    return r->loss;
}

ref_srcptr mw_ref_grad(const mw_ref *r, size_t j)
{
    return r->g[j];
}

ref_srcptr mw_ref_input_grad(const mw_ref *r, size_t i)
{
    return r->ig[i];
}

ref_srcptr mw_ref_activation(const mw_ref *r, int layer, size_t i)
{
    return r->x[(size_t)layer * r->N + i];
}

long mw_ref_kinks(const mw_ref *r, int *layer, int *unit)
{
    if (layer)
        *layer = r->kinks ? r->kink_layer : 0;
    if (unit)
        *unit = r->kinks ? r->kink_unit : 0;
    return r->kinks;
}
