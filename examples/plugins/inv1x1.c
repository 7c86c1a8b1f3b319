/* The invertible 1x1 convolution (Glow, Kingma & Dhariwal 2018) as an mwverify layer
 * plugin, without MPFR passes: mwverify checks it on the silver path (identities, float64
 * central differences, float32 against float64). docs/layer-plugins.md.
 *
 * Per pixel, a mixing of the channels: y[b, :, i, j] = W x[b, :, i, j], W a C x C matrix
 * (the block "weight", C*C scalars, row-major W[o][k]); a dense input is n channels of 1x1.
 * The inverse and the vijp solve with W by an LU factorisation with partial pivoting,
 * computed per call in the operation's own precision; a zero pivot is MWP_ERR_DOMAIN.
 *
 * The operations are written once, in the second half of this file, which the first half
 * includes twice: with REAL float (and FN(name) name##_f32) and with REAL double. */
#ifndef INV1X1_TEMPLATE /* ---- first pass: everything but the operations ------------------ */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mwverify/mw_plugin.h>

#define MAX_CHANNELS 64

static mwp_status accepts(mwp_call *c)
{
    if (c->batch < 1 || c->features < 1) {
        snprintf(c->msg, sizeof c->msg, "needs a batch of at least 1 and at least 1 feature");
        return MWP_ERR_SHAPE;
    }
    if (c->channels < 1 || c->height < 1 || c->width < 1 ||
        c->features / c->channels / c->height != c->width ||
        c->channels * c->height * c->width != c->features) {
        snprintf(c->msg, sizeof c->msg,
                 "needs features = channels * height * width (got %zu features, %zux%zux%zu)",
                 c->features, c->channels, c->height, c->width);
        return MWP_ERR_SHAPE;
    }
    if (c->channels > MAX_CHANNELS) {
        snprintf(c->msg, sizeof c->msg, "takes at most %d channels (a dense input: features), "
                 "not %zu", MAX_CHANNELS, c->channels);
        return MWP_ERR_SHAPE;
    }
    return MWP_OK;
}

/* The operations' guard: their scratch vectors hold MAX_CHANNELS. */
static int too_wide(mwp_call *c)
{
    if (c->channels >= 1 && c->channels <= MAX_CHANNELS)
        return 0;
    snprintf(c->msg, sizeof c->msg, "called with %zu channels; takes 1 to %d", c->channels,
             MAX_CHANNELS);
    return 1;
}

static size_t n_params(const mwp_call *c)
{
    return c->channels * c->channels;
}

static int param_blocks(const mwp_call *c, mwp_param_block *blocks, int max)
{
    if (max >= 1) {
        memset(&blocks[0], 0, sizeof blocks[0]);
        strcpy(blocks[0].name, "weight");
        blocks[0].count = c->channels * c->channels;
    }
    return 1;
}

/* A matrix-vector product rounds about C times per element, the solve twice that; the
 * weight gradient sums batch * height * width terms. */
static size_t roundings(const mwp_call *c)
{
    return 2 * c->channels + c->batch * c->height * c->width;
}

/* ---- init: a random orthogonal W (Gram–Schmidt, twice, on a seeded Gaussian matrix) ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double gaussian(uint64_t *state) /* Box–Muller */
{
    const double u1 = (double)((splitmix64(state) >> 11) + 1) * 0x1p-53; /* (0, 1] */
    const double u2 = (double)(splitmix64(state) >> 11) * 0x1p-53;       /* [0, 1) */
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static mwp_status init(mwp_call *c, uint64_t seed, double *theta)
{
    const size_t C = c->channels;
    uint64_t state = seed;
    if (too_wide(c))
        return MWP_ERR_SHAPE;
    for (size_t i = 0; i < C * C; i++)
        theta[i] = gaussian(&state);
    /* Orthonormalise the columns W[:][k] in place (modified Gram–Schmidt, two passes). */
    for (size_t k = 0; k < C; k++) {
        for (int pass = 0; pass < 2; pass++)
            for (size_t j = 0; j < k; j++) {
                double d = 0;
                for (size_t o = 0; o < C; o++)
                    d += theta[o * C + j] * theta[o * C + k];
                for (size_t o = 0; o < C; o++)
                    theta[o * C + k] -= d * theta[o * C + j];
            }
        double norm = 0;
        for (size_t o = 0; o < C; o++)
            norm += theta[o * C + k] * theta[o * C + k];
        norm = sqrt(norm);
        if (!(norm > 1e-8)) {
            snprintf(c->msg, sizeof c->msg, "Gram-Schmidt broke down at column %zu", k);
            return MWP_ERR_FAILED;
        }
        for (size_t o = 0; o < C; o++)
            theta[o * C + k] /= norm;
    }
    return MWP_OK;
}

/* ---- float32 and float64: the second half of this file, once for each --------------- */

#define INV1X1_TEMPLATE
#define REAL float
#define FN(name) name##_f32
#define ABS fabsf
#include "inv1x1.c"
#undef REAL
#undef FN
#undef ABS

#define REAL double
#define FN(name) name##_f64
#define ABS fabs
#include "inv1x1.c"
#undef REAL
#undef FN
#undef ABS
#undef INV1X1_TEMPLATE

/* ---- the table ------------------------------------------------------------------------ */

static const mwp_layer layers[] = {{
    .name = "inv1x1",
    .summary = "invertible 1x1 convolution (Glow): y = W x per pixel, W a C x C matrix",
    .flags = MWP_REENTRANT,
    .accepts = accepts,
    .n_params = n_params,
    .param_blocks = param_blocks,
    .init = init,
    .roundings = roundings,
    .f32 = {.forward = forward_f32, .inverse = inverse_f32, .jvp = jvp_f32,
            .vjp = vjp_f32, .vijp = vijp_f32},
    .f64 = {.forward = forward_f64, .inverse = inverse_f64, .jvp = jvp_f64,
            .vjp = vjp_f64, .vijp = vijp_f64},
    .mpfr = {.forward = NULL, .vjp = NULL}, /* no gold oracle: the silver path */
}};

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION,
    .size = sizeof(mwp_plugin),
    .name = "mwverify-example-inv1x1",
    .version = "1.0",
    .n_layers = sizeof layers / sizeof layers[0],
    .layers = layers,
};

const mwp_plugin *mwp_plugin_entry(void)
{
    return &plugin;
}

#else /* ---- second pass: the operations in REAL ----------------------------------------- */

/* Layout: the feature (b, ch, pixel p) is at b * n + ch * HW + p. */

/* out = M v for one pixel; M row-major C x C, v and out strided by HW. */
static void FN(matvec)(size_t C, size_t HW, const REAL *M, const REAL *v, REAL *out)
{
    for (size_t o = 0; o < C; o++) {
        REAL acc = 0;
        for (size_t k = 0; k < C; k++)
            acc += M[o * C + k] * v[k * HW];
        out[o * HW] = acc;
    }
}

/* PW = LU with partial pivoting, in place in lu (a copy of W); row i of PW is row perm[i]
 * of W. A zero pivot: W is singular in this precision. */
static mwp_status FN(factor)(mwp_call *c, const REAL *W, REAL *lu, size_t *perm)
{
    const size_t C = c->channels;
    memcpy(lu, W, C * C * sizeof *lu);
    for (size_t i = 0; i < C; i++)
        perm[i] = i;
    for (size_t k = 0; k < C; k++) {
        size_t piv = k;
        for (size_t i = k + 1; i < C; i++)
            if (ABS(lu[i * C + k]) > ABS(lu[piv * C + k]))
                piv = i;
        if (!(ABS(lu[piv * C + k]) > 0)) { /* zero, or NaN */
            snprintf(c->msg, sizeof c->msg,
                     "W is singular in float%d: zero pivot in column %zu of its LU",
                     (int)(8 * sizeof(REAL)), k);
            return MWP_ERR_DOMAIN;
        }
        if (piv != k) {
            for (size_t j = 0; j < C; j++) {
                const REAL t = lu[k * C + j];
                lu[k * C + j] = lu[piv * C + j];
                lu[piv * C + j] = t;
            }
            const size_t t = perm[k];
            perm[k] = perm[piv];
            perm[piv] = t;
        }
        for (size_t i = k + 1; i < C; i++) {
            const REAL l = lu[i * C + k] /= lu[k * C + k];
            for (size_t j = k + 1; j < C; j++)
                lu[i * C + j] -= l * lu[k * C + j];
        }
    }
    return MWP_OK;
}

/* Solve W v = r (transposed = 0) or Wᵀ v = r (transposed = 1) from the factors, in place. */
static void FN(solve)(size_t C, const REAL *lu, const size_t *perm, int transposed, REAL *r)
{
    REAL w[MAX_CHANNELS];
    if (!transposed) { /* L U v = P r */
        for (size_t i = 0; i < C; i++) {
            REAL acc = r[perm[i]];
            for (size_t j = 0; j < i; j++)
                acc -= lu[i * C + j] * w[j];
            w[i] = acc;
        }
        for (size_t i = C; i-- > 0;) {
            REAL acc = w[i];
            for (size_t j = i + 1; j < C; j++)
                acc -= lu[i * C + j] * w[j];
            w[i] = acc / lu[i * C + i];
        }
        memcpy(r, w, C * sizeof *r);
    } else { /* Wᵀ = Uᵀ Lᵀ P: Uᵀ z = r, Lᵀ w = z, v = Pᵀ w */
        for (size_t i = 0; i < C; i++) {
            REAL acc = r[i];
            for (size_t j = 0; j < i; j++)
                acc -= lu[j * C + i] * w[j];
            w[i] = acc / lu[i * C + i];
        }
        for (size_t i = C; i-- > 0;) {
            REAL acc = w[i];
            for (size_t j = i + 1; j < C; j++)
                acc -= lu[j * C + i] * w[j];
            w[i] = acc;
        }
        for (size_t i = 0; i < C; i++)
            r[perm[i]] = w[i];
    }
}

/* gW[o][k] = Σ_{batch, pixels} hy[o] x[k] */
static void FN(weight_grad)(const mwp_call *c, const REAL *x, const REAL *hy, REAL *g)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    for (size_t o = 0; o < C; o++)
        for (size_t k = 0; k < C; k++) {
            REAL acc = 0;
            for (size_t bt = 0; bt < c->batch; bt++)
                for (size_t p = 0; p < HW; p++)
                    acc += hy[bt * n + o * HW + p] * x[bt * n + k * HW + p];
            g[o * C + k] = acc;
        }
}

/* y = W x */
static mwp_status FN(forward)(mwp_call *c, const REAL *theta, const REAL *x, REAL *y)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    if (too_wide(c))
        return MWP_ERR_FAILED;
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t p = 0; p < HW; p++)
            FN(matvec)(C, HW, theta, x + bt * n + p, y + bt * n + p);
    return MWP_OK;
}

/* x = W⁻¹ y */
static mwp_status FN(inverse)(mwp_call *c, const REAL *theta, const REAL *y, REAL *x)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    size_t perm[MAX_CHANNELS];
    REAL v[MAX_CHANNELS];
    if (too_wide(c))
        return MWP_ERR_FAILED;
    REAL *lu = malloc(C * C * sizeof *lu);
    if (!lu) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return MWP_ERR_FAILED;
    }
    mwp_status st = FN(factor)(c, theta, lu, perm);
    for (size_t bt = 0; st == MWP_OK && bt < c->batch; bt++)
        for (size_t p = 0; st == MWP_OK && p < HW; p++) {
            for (size_t k = 0; k < C; k++)
                v[k] = y[bt * n + k * HW + p];
            FN(solve)(C, lu, perm, 0, v);
            for (size_t k = 0; k < C; k++) {
                if (!isfinite(v[k]) && isfinite(y[bt * n + k * HW + p])) {
                    snprintf(c->msg, sizeof c->msg, "W is too ill-conditioned in float%d: "
                             "x overflows at sample %zu, channel %zu, pixel %zu",
                             (int)(8 * sizeof(REAL)), bt, k, p);
                    st = MWP_ERR_DOMAIN;
                }
                x[bt * n + k * HW + p] = v[k];
            }
        }
    free(lu);
    return st;
}

/* y = W x; per tangent: dy = W dx + dW x (dx or dtheta NULL: zero). */
static mwp_status FN(jvp)(mwp_call *c, const REAL *theta, size_t T, const REAL *x,
                          const REAL *dx, const REAL *dtheta, REAL *y, REAL *dy)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    const size_t BN = c->batch * n, P = C * C;
    if (too_wide(c))
        return MWP_ERR_FAILED;
    FN(forward)(c, theta, x, y);
    for (size_t t = 0; t < T; t++)
        for (size_t bt = 0; bt < c->batch; bt++)
            for (size_t p = 0; p < HW; p++) {
                const size_t at = bt * n + p;
                for (size_t o = 0; o < C; o++) {
                    REAL acc = 0;
                    if (dx)
                        for (size_t k = 0; k < C; k++)
                            acc += theta[o * C + k] * dx[t * BN + at + k * HW];
                    if (dtheta)
                        for (size_t k = 0; k < C; k++)
                            acc += dtheta[t * P + o * C + k] * x[at + k * HW];
                    dy[t * BN + at + o * HW] = acc;
                }
            }
    return MWP_OK;
}

/* hx = Wᵀ hy per pixel; gW = Σ hy xᵀ. */
static mwp_status FN(vjp)(mwp_call *c, const REAL *theta, const REAL *x, const REAL *hy,
                          REAL *hx, REAL *gtheta)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    if (too_wide(c))
        return MWP_ERR_FAILED;
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t p = 0; p < HW; p++) {
            const size_t at = bt * n + p;
            for (size_t k = 0; k < C; k++) {
                REAL acc = 0;
                for (size_t o = 0; o < C; o++)
                    acc += theta[o * C + k] * hy[at + o * HW];
                hx[at + k * HW] = acc;
            }
        }
    FN(weight_grad)(c, x, hy, gtheta);
    return MWP_OK;
}

/* The Moonwalk step: y = W x; hy = hx W⁻¹, i.e. Wᵀ hyᵀ = hxᵀ per pixel; gW = Σ hy xᵀ. */
static mwp_status FN(vijp)(mwp_call *c, const REAL *theta, const REAL *x, const REAL *hx,
                           REAL *y, REAL *hy, REAL *gtheta)
{
    const size_t C = c->channels, HW = c->height * c->width, n = c->features;
    size_t perm[MAX_CHANNELS];
    REAL v[MAX_CHANNELS];
    if (too_wide(c))
        return MWP_ERR_FAILED;
    REAL *lu = malloc(C * C * sizeof *lu);
    if (!lu) {
        snprintf(c->msg, sizeof c->msg, "out of memory");
        return MWP_ERR_FAILED;
    }
    mwp_status st = FN(factor)(c, theta, lu, perm);
    if (st == MWP_OK) {
        FN(forward)(c, theta, x, y);
        for (size_t bt = 0; bt < c->batch; bt++)
            for (size_t p = 0; p < HW; p++) {
                for (size_t k = 0; k < C; k++)
                    v[k] = hx[bt * n + k * HW + p];
                FN(solve)(C, lu, perm, 1, v);
                for (size_t o = 0; o < C; o++)
                    hy[bt * n + o * HW + p] = v[o];
            }
        FN(weight_grad)(c, x, hy, gtheta);
    }
    free(lu);
    return st;
}

#endif
