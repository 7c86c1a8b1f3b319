/* The MPFR reference (mw_reference.h): forward pass and exact reverse mode of the mlp
 * networks of DESIGN.md §2, element by element. Every intermediate of the forward pass
 * is kept, as plain reverse mode does; nothing is allocated after mw_ref_new. */
#include "mw_reference.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RND MPFR_RNDN

struct mw_ref {
    mw_spec s;
    mw_layout lay;
    mpfr_prec_t prec;
    size_t B, n, h, C, P, N, maxw;
    int L, k;
    size_t uin[MW_MAX_UNITS + 1], uout[MW_MAX_UNITS + 1]; /* unit shapes, 1-based */
    mpfr_t *theta, *g;  /* P */
    mpfr_t *x;          /* (L+1) N: x[0] the input, x[l] the output of layer l */
    int *labels;
    mpfr_t *zc;         /* L (B h): pre-σ */
    /* per (layer, unit) at (l-1) k + (u-1): pre-activation, activation, BN */
    mpfr_t **z, **p, **xhat, **rstd, **q;
    mpfr_t *logits, *lse; /* B C, B */
    mpfr_t loss;
    mpfr_t *hx, *hy, *ig; /* N: cotangents, and dJ/dx_0 */
    mpfr_t *hu, *hv;      /* B maxw: cotangents inside F */
    mpfr_t alpha, eps, t0, t1, t2, t3;
    int have_grad;
};

static int fail(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return 1;
}

static mpfr_t *mp_new(size_t n, mpfr_prec_t prec)
{
    mpfr_t *a = malloc((n ? n : 1) * sizeof *a);
    if (!a)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        mpfr_init2(a[i], prec);
        mpfr_set_zero(a[i], 1);
    }
    return a;
}

static void mp_free(mpfr_t *a, size_t n)
{
    if (!a)
        return;
    for (size_t i = 0; i < n; i++)
        mpfr_clear(a[i]);
    free(a);
}

/* ---- construction ---- */

static size_t units_total(const mw_ref *r)
{
    return (size_t)r->L * (size_t)r->k;
}

static size_t unit_idx(const mw_ref *r, int l, int u)
{
    return (size_t)(l - 1) * (size_t)r->k + (size_t)(u - 1);
}

int mw_ref_new(const mw_spec *spec, mpfr_prec_t bits, mw_ref **out, char *msg, size_t msg_len)
{
    *out = NULL;
    if (bits < MW_REF_MIN_BITS || bits > MW_REF_MAX_BITS)
        return fail(msg, msg_len, "oracle-bits %ld: allowed %d..%d", (long)bits, MW_REF_MIN_BITS,
                    MW_REF_MAX_BITS);
    if (mw_spec_validate(spec, msg, msg_len) != 0)
        return 1;
    mw_ref *r = calloc(1, sizeof *r);
    if (!r || mw_layout_build(spec, &r->lay) != 0) {
        free(r);
        return fail(msg, msg_len, "out of memory for the reference network");
    }
    r->s = *spec;
    r->prec = bits;
    r->B = (size_t)spec->batch;
    r->n = (size_t)spec->width;
    r->h = r->n / 2;
    r->C = (size_t)spec->classes;
    r->P = r->lay.total;
    r->N = r->B * r->n;
    r->L = spec->depth;
    r->k = spec->units;
    r->maxw = r->h;
    for (int u = 1; u <= r->k; u++) {
        int o, i;
        mw_spec_unit_shape(spec, 1, u, &o, &i);
        r->uout[u] = (size_t)o;
        r->uin[u] = (size_t)i;
        if ((size_t)o > r->maxw)
            r->maxw = (size_t)o;
    }
    const size_t U = units_total(r);
    r->theta = mp_new(r->P, bits);
    r->g = mp_new(r->P, bits);
    r->x = mp_new((size_t)(r->L + 1) * r->N, bits);
    r->labels = calloc(r->B, sizeof *r->labels);
    r->zc = mp_new((size_t)r->L * r->B * r->h, bits);
    r->z = calloc(U, sizeof *r->z);
    r->p = calloc(U, sizeof *r->p);
    r->xhat = calloc(U, sizeof *r->xhat);
    r->rstd = calloc(U, sizeof *r->rstd);
    r->q = calloc(U, sizeof *r->q);
    r->logits = mp_new(r->B * r->C, bits);
    r->lse = mp_new(r->B, bits);
    r->hx = mp_new(r->N, bits);
    r->hy = mp_new(r->N, bits);
    r->ig = mp_new(r->N, bits);
    r->hu = mp_new(r->B * r->maxw, bits);
    r->hv = mp_new(r->B * r->maxw, bits);
    int ok = r->theta && r->g && r->x && r->labels && r->zc && r->z && r->p && r->xhat &&
             r->rstd && r->q && r->logits && r->lse && r->hx && r->hy && r->ig && r->hu && r->hv;
    for (int l = 1; ok && l <= r->L; l++)
        for (int u = 1; ok && u <= r->k; u++) {
            size_t i = unit_idx(r, l, u), m = r->B * r->uout[u];
            ok = (r->z[i] = mp_new(m, bits)) && (r->p[i] = mp_new(m, bits));
            if (ok && spec->bn)
                ok = (r->xhat[i] = mp_new(m, bits)) && (r->rstd[i] = mp_new(r->uout[u], bits)) &&
                     (r->q[i] = mp_new(m, bits));
        }
    mpfr_inits2(bits, r->loss, r->alpha, r->eps, r->t0, r->t1, r->t2, r->t3, (mpfr_ptr)0);
    /* the constants are the binary64 values of their decimal literals, converted exactly */
    mpfr_set_d(r->alpha, spec->leaky_slope, RND);
    mpfr_set_d(r->eps, spec->bn_eps, RND);
    *out = r;
    if (!ok) {
        mw_ref_free(r);
        *out = NULL;
        return fail(msg, msg_len, "out of memory for the reference network");
    }
    return 0;
}

void mw_ref_free(mw_ref *r)
{
    if (!r)
        return;
    mp_free(r->theta, r->P);
    mp_free(r->g, r->P);
    mp_free(r->x, (size_t)(r->L + 1) * r->N);
    free(r->labels);
    mp_free(r->zc, (size_t)r->L * r->B * r->h);
    for (int l = 1; l <= r->L; l++)
        for (int u = 1; u <= r->k; u++) {
            size_t i = unit_idx(r, l, u), m = r->B * r->uout[u];
            if (r->z)
                mp_free(r->z[i], m);
            if (r->p)
                mp_free(r->p[i], m);
            if (r->xhat)
                mp_free(r->xhat[i], m);
            if (r->rstd)
                mp_free(r->rstd[i], r->uout[u]);
            if (r->q)
                mp_free(r->q[i], m);
        }
    free(r->z), free(r->p), free(r->xhat), free(r->rstd), free(r->q);
    mp_free(r->logits, r->B * r->C);
    mp_free(r->lse, r->B);
    mp_free(r->hx, r->N), mp_free(r->hy, r->N), mp_free(r->ig, r->N);
    mp_free(r->hu, r->B * r->maxw), mp_free(r->hv, r->B * r->maxw);
    mpfr_clears(r->loss, r->alpha, r->eps, r->t0, r->t1, r->t2, r->t3, (mpfr_ptr)0);
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
        mpfr_set_d(r->theta[j], theta[j], RND);
    }
    r->have_grad = 0;
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
        mpfr_set_d(r->x[i], x[i], RND);
    }
    memcpy(r->labels, labels, r->B * sizeof *labels);
    r->have_grad = 0;
    return 0;
}

mpfr_ptr mw_ref_param(mw_ref *r, size_t j)
{
    r->have_grad = 0;
    return r->theta[j];
}

/* ---- activations ---- */

static void act(mw_ref *r, mw_act a, mpfr_ptr y, mpfr_srcptr z)
{
    switch (a) {
    case MW_ACT_RELU:
        if (mpfr_sgn(z) > 0)
            mpfr_set(y, z, RND);
        else
            mpfr_set_zero(y, 1);
        break;
    case MW_ACT_TANH: mpfr_tanh(y, z, RND); break;
    case MW_ACT_LEAKY:
        if (mpfr_sgn(z) > 0)
            mpfr_set(y, z, RND);
        else
            mpfr_mul(y, z, r->alpha, RND);
        break;
    default: mpfr_set(y, z, RND);
    }
}

/* act'(z): tanh' = sech(z)², which keeps its relative accuracy where 1 - tanh² does not. */
static void dact(mw_ref *r, mw_act a, mpfr_ptr d, mpfr_srcptr z)
{
    switch (a) {
    case MW_ACT_RELU: mpfr_set_ui(d, mpfr_sgn(z) > 0 ? 1 : 0, RND); break;
    case MW_ACT_TANH:
        mpfr_sech(d, z, RND);
        mpfr_sqr(d, d, RND);
        break;
    case MW_ACT_LEAKY:
        if (mpfr_sgn(z) > 0)
            mpfr_set_ui(d, 1, RND);
        else
            mpfr_set(d, r->alpha, RND);
        break;
    default: mpfr_set_ui(d, 1, RND);
    }
}

/* ---- forward ---- */

static size_t poff(const mw_ref *r, int l, int u, mw_param_kind kind)
{
    int per = r->s.bn ? 4 : 2;
    return r->lay.params[(size_t)((l - 1) * r->k + (u - 1)) * (size_t)per + kind].offset;
}

/* Column offsets of the conditioning half a and the transformed half b of layer l. */
static void halves(const mw_ref *r, int l, size_t *off_a, size_t *off_b)
{
    *off_a = l % 2 == 1 ? 0 : r->h;
    *off_b = l % 2 == 1 ? r->h : 0;
}

/* The output of unit u of layer l at (b, o): after BN when there is BN. */
static mpfr_t *unit_out(mw_ref *r, int l, int u)
{
    size_t i = unit_idx(r, l, u);
    return r->s.bn ? r->q[i] : r->p[i];
}

/* Input of unit u of layer l, sample b, column j. */
static mpfr_srcptr unit_in(mw_ref *r, int l, int u, size_t b, size_t j)
{
    if (u == 1) {
        size_t off_a, off_b;
        halves(r, l, &off_a, &off_b);
        return r->x[(size_t)(l - 1) * r->N + b * r->n + off_a + j];
    }
    return unit_out(r, l, u - 1)[b * r->uout[u - 1] + j];
}

static void batchnorm(mw_ref *r, size_t i, size_t out, size_t o, mpfr_srcptr gamma,
                      mpfr_srcptr beta)
{
    mpfr_t *p = r->p[i];
    mpfr_set_zero(r->t0, 1);
    for (size_t b = 0; b < r->B; b++)
        mpfr_add(r->t0, r->t0, p[b * out + o], RND);
    mpfr_div_ui(r->t0, r->t0, r->B, RND); /* mean */
    mpfr_set_zero(r->t1, 1);
    for (size_t b = 0; b < r->B; b++) {
        mpfr_sub(r->t2, p[b * out + o], r->t0, RND);
        mpfr_fma(r->t1, r->t2, r->t2, r->t1, RND);
    }
    mpfr_div_ui(r->t1, r->t1, r->B, RND); /* biased variance */
    mpfr_add(r->t1, r->t1, r->eps, RND);
    mpfr_rec_sqrt(r->rstd[i][o], r->t1, RND);
    for (size_t b = 0; b < r->B; b++) {
        mpfr_sub(r->t2, p[b * out + o], r->t0, RND);
        mpfr_mul(r->xhat[i][b * out + o], r->t2, r->rstd[i][o], RND);
        mpfr_fma(r->q[i][b * out + o], gamma, r->xhat[i][b * out + o], beta, RND);
    }
}

static void forward_layer(mw_ref *r, int l)
{
    const mw_spec *s = &r->s;
    size_t off_a, off_b;
    halves(r, l, &off_a, &off_b);
    for (int u = 1; u <= r->k; u++) {
        size_t i = unit_idx(r, l, u), in = r->uin[u], out = r->uout[u];
        mpfr_t *W = r->theta + poff(r, l, u, MW_PARAM_W), *c = r->theta + poff(r, l, u, MW_PARAM_C);
        for (size_t b = 0; b < r->B; b++)
            for (size_t o = 0; o < out; o++) {
                mpfr_set(r->t0, c[o], RND);
                for (size_t j = 0; j < in; j++)
                    mpfr_fma(r->t0, W[o * in + j], unit_in(r, l, u, b, j), r->t0, RND);
                mpfr_set(r->z[i][b * out + o], r->t0, RND);
                act(r, s->f_act, r->p[i][b * out + o], r->t0);
            }
        if (s->bn)
            for (size_t o = 0; o < out; o++)
                batchnorm(r, i, out, o, r->theta[poff(r, l, u, MW_PARAM_GAMMA) + o],
                          r->theta[poff(r, l, u, MW_PARAM_BETA) + o]);
    }
    mpfr_t *F = unit_out(r, l, r->k), *xin = r->x + (size_t)(l - 1) * r->N;
    mpfr_t *xout = r->x + (size_t)l * r->N, *zc = r->zc + (size_t)(l - 1) * r->B * r->h;
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < r->h; j++) {
            mpfr_add(zc[b * r->h + j], xin[b * r->n + off_b + j], F[b * r->h + j], RND);
            act(r, s->out_act, xout[b * r->n + off_b + j], zc[b * r->h + j]);
            mpfr_set(xout[b * r->n + off_a + j], xin[b * r->n + off_a + j], RND);
        }
}

static size_t head_off(const mw_ref *r)
{
    return r->lay.layer_offset[r->L + 1];
}

static void forward_head(mw_ref *r)
{
    mpfr_t *xL = r->x + (size_t)r->L * r->N, *W = r->theta + head_off(r), *c = W + r->C * r->n;
    mpfr_set_zero(r->loss, 1);
    for (size_t b = 0; b < r->B; b++) {
        mpfr_t *l = r->logits + b * r->C;
        for (size_t k = 0; k < r->C; k++) {
            mpfr_set(r->t0, c[k], RND);
            for (size_t j = 0; j < r->n; j++)
                mpfr_fma(r->t0, W[k * r->n + j], xL[b * r->n + j], r->t0, RND);
            mpfr_set(l[k], r->t0, RND);
        }
        /* logsumexp with the maximum taken out */
        mpfr_set(r->t1, l[0], RND);
        for (size_t k = 1; k < r->C; k++)
            mpfr_max(r->t1, r->t1, l[k], RND);
        mpfr_set_zero(r->t2, 1);
        for (size_t k = 0; k < r->C; k++) {
            mpfr_sub(r->t3, l[k], r->t1, RND);
            mpfr_exp(r->t3, r->t3, RND);
            mpfr_add(r->t2, r->t2, r->t3, RND);
        }
        mpfr_log(r->t2, r->t2, RND);
        mpfr_add(r->lse[b], r->t1, r->t2, RND);
        mpfr_sub(r->t3, r->lse[b], l[r->labels[b]], RND);
        mpfr_add(r->loss, r->loss, r->t3, RND);
    }
    mpfr_div_ui(r->loss, r->loss, r->B, RND);
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
    for (int l = layer; l <= r->L; l++)
        forward_layer(r, l);
    forward_head(r);
    return check_flags(msg, msg_len, "forward pass");
}

int mw_ref_forward(mw_ref *r, char *msg, size_t msg_len)
{
    return mw_ref_forward_from(r, 1, msg, msg_len);
}

/* ---- reverse mode ---- */

/* Head: dJ/dlogits = (softmax - onehot)/B, into head.W, head.c and hy = dJ/dx_L. */
static void backward_head(mw_ref *r)
{
    mpfr_t *xL = r->x + (size_t)r->L * r->N, *W = r->theta + head_off(r);
    mpfr_t *gW = r->g + head_off(r), *gc = gW + r->C * r->n;
    for (size_t i = 0; i < r->N; i++)
        mpfr_set_zero(r->hy[i], 1);
    for (size_t b = 0; b < r->B; b++)
        for (size_t k = 0; k < r->C; k++) {
            mpfr_sub(r->t0, r->logits[b * r->C + k], r->lse[b], RND);
            mpfr_exp(r->t0, r->t0, RND);
            if (k == (size_t)r->labels[b])
                mpfr_sub_ui(r->t0, r->t0, 1, RND);
            mpfr_div_ui(r->t0, r->t0, r->B, RND);
            mpfr_add(gc[k], gc[k], r->t0, RND);
            for (size_t j = 0; j < r->n; j++) {
                mpfr_fma(gW[k * r->n + j], r->t0, xL[b * r->n + j], gW[k * r->n + j], RND);
                mpfr_fma(r->hy[b * r->n + j], r->t0, W[k * r->n + j], r->hy[b * r->n + j], RND);
            }
        }
}

/* BN backward for feature o of unit i, in place on the cotangent h (B, out):
 * dγ = Σ h x̂, dβ = Σ h, dp = rstd (γh - mean(γh) - x̂ mean(γh x̂)). */
static void batchnorm_back(mw_ref *r, size_t i, size_t out, size_t o, mpfr_srcptr gamma,
                           mpfr_ptr dgamma, mpfr_ptr dbeta, mpfr_t *h)
{
    mpfr_set_zero(r->t0, 1); /* Σ h */
    mpfr_set_zero(r->t1, 1); /* Σ h x̂ */
    for (size_t b = 0; b < r->B; b++) {
        mpfr_add(r->t0, r->t0, h[b * out + o], RND);
        mpfr_fma(r->t1, h[b * out + o], r->xhat[i][b * out + o], r->t1, RND);
    }
    mpfr_set(dbeta, r->t0, RND);
    mpfr_set(dgamma, r->t1, RND);
    mpfr_div_ui(r->t0, r->t0, r->B, RND);
    mpfr_div_ui(r->t1, r->t1, r->B, RND);
    for (size_t b = 0; b < r->B; b++) {
        mpfr_ptr v = h[b * out + o];
        mpfr_sub(r->t2, v, r->t0, RND);
        mpfr_mul(r->t3, r->xhat[i][b * out + o], r->t1, RND);
        mpfr_sub(r->t2, r->t2, r->t3, RND);
        mpfr_mul(r->t2, r->t2, gamma, RND);
        mpfr_mul(v, r->t2, r->rstd[i][o], RND);
    }
}

/* Layer l: from hy = dJ/dx_l to hx = dJ/dx_{l-1}, writing the layer's parameter
 * gradient. */
static void backward_layer(mw_ref *r, int l)
{
    const mw_spec *s = &r->s;
    size_t off_a, off_b;
    halves(r, l, &off_a, &off_b);
    mpfr_t *zc = r->zc + (size_t)(l - 1) * r->B * r->h, *hout = r->hv, *hin = r->hu;
    /* h_z = h_{y,b} σ'(z); h_{x,b} = h_z; h_{x,a} = h_{y,a} (+ F's input cotangent below) */
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < r->h; j++) {
            dact(r, s->out_act, r->t0, zc[b * r->h + j]);
            mpfr_mul(hout[b * r->h + j], r->hy[b * r->n + off_b + j], r->t0, RND);
            mpfr_set(r->hx[b * r->n + off_b + j], hout[b * r->h + j], RND);
            mpfr_set(r->hx[b * r->n + off_a + j], r->hy[b * r->n + off_a + j], RND);
        }
    for (int u = r->k; u >= 1; u--) {
        size_t i = unit_idx(r, l, u), in = r->uin[u], out = r->uout[u];
        mpfr_t *W = r->theta + poff(r, l, u, MW_PARAM_W);
        mpfr_t *gW = r->g + poff(r, l, u, MW_PARAM_W), *gc = r->g + poff(r, l, u, MW_PARAM_C);
        if (s->bn)
            for (size_t o = 0; o < out; o++)
                batchnorm_back(r, i, out, o, r->theta[poff(r, l, u, MW_PARAM_GAMMA) + o],
                               r->g[poff(r, l, u, MW_PARAM_GAMMA) + o],
                               r->g[poff(r, l, u, MW_PARAM_BETA) + o], hout);
        for (size_t b = 0; b < r->B; b++)
            for (size_t o = 0; o < out; o++) {
                dact(r, s->f_act, r->t0, r->z[i][b * out + o]);
                mpfr_mul(hout[b * out + o], hout[b * out + o], r->t0, RND);
            }
        for (size_t o = 0; o < out; o++) {
            mpfr_set_zero(gc[o], 1);
            for (size_t b = 0; b < r->B; b++)
                mpfr_add(gc[o], gc[o], hout[b * out + o], RND);
            for (size_t j = 0; j < in; j++) {
                mpfr_set_zero(r->t0, 1);
                for (size_t b = 0; b < r->B; b++)
                    mpfr_fma(r->t0, hout[b * out + o], unit_in(r, l, u, b, j), r->t0, RND);
                mpfr_set(gW[o * in + j], r->t0, RND);
            }
        }
        for (size_t b = 0; b < r->B; b++)
            for (size_t j = 0; j < in; j++) {
                mpfr_set_zero(r->t0, 1);
                for (size_t o = 0; o < out; o++)
                    mpfr_fma(r->t0, hout[b * out + o], W[o * in + j], r->t0, RND);
                if (u > 1)
                    mpfr_set(hin[b * in + j], r->t0, RND);
                else
                    mpfr_add(r->hx[b * r->n + off_a + j], r->hx[b * r->n + off_a + j], r->t0,
                             RND);
            }
        mpfr_t *t = hout;
        hout = hin;
        hin = t;
    }
    mpfr_t *t = r->hx;
    r->hx = r->hy;
    r->hy = t;
}

int mw_ref_gradient(mw_ref *r, char *msg, size_t msg_len)
{
    if (mw_ref_forward(r, msg, msg_len) != 0)
        return 1;
    mpfr_clear_flags();
    for (size_t j = 0; j < r->P; j++)
        mpfr_set_zero(r->g[j], 1);
    backward_head(r);
    for (int l = r->L; l >= 1; l--)
        backward_layer(r, l);
    for (size_t i = 0; i < r->N; i++)
        mpfr_set(r->ig[i], r->hy[i], RND);
    if (check_flags(msg, msg_len, "gradient") != 0)
        return 1;
    r->have_grad = 1;
    return 0;
}

mpfr_srcptr mw_ref_loss(const mw_ref *r)
{
    return r->loss;
}

mpfr_srcptr mw_ref_grad(const mw_ref *r, size_t j)
{
    return r->g[j];
}

mpfr_srcptr mw_ref_input_grad(const mw_ref *r, size_t i)
{
    return r->ig[i];
}

mpfr_srcptr mw_ref_activation(const mw_ref *r, int layer, size_t i)
{
    return r->x[(size_t)layer * r->N + i];
}
