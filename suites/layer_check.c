/* `mwverify layer check` (layer_check.h): a layer type's operations against the MPFR
 * reference and their identities, over a grid of small configurations, then the methods
 * on a network of that layer against gold. */
#include "layer_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "datasets.h"
#include "mw_reference.h"
#include "philox.h"

enum { REF_BITS = 256, PROJ_K = 256 };

typedef struct lc_config {
    char name[96];
    mw_spec spec;     /* depth 1 (couplings) or a 2-block revnet (the squeeze) */
    double x_scale;
} lc_config;

/* The grid: mlps (tanh F and σ; ReLU F, leaky σ, BN; tanh F, no σ) and a one-layer revnet
 * with BN, at input and weight scale 1 and, for the tanh ones, near saturation (2.5). */
static int make_configs(const mw_layer_info *info, lc_config *out)
{
    int n = 0;
    if (info->coupling < 0) { /* the squeeze: a revnet of two blocks, ψ between them */
        lc_config c = {"revnet 4x4x4, 2 blocks", mw_spec_revnet_default(), 1.0};
        c.spec.image_h = c.spec.image_w = 4, c.spec.blocks = 2, c.spec.batch = 4;
        c.spec.classes = 3;
        mw_spec_complete(&c.spec);
        out[n++] = c;
        return n;
    }
    static const struct {
        const char *name;
        mw_act f, s;
        int bn;
        double scale;
    } mlp[] = {
        {"mlp 8/6 k2 tanh/tanh, scale 1", MW_ACT_TANH, MW_ACT_TANH, 0, 1.0},
        {"mlp 8/6 k2 tanh/tanh, scale 2.5", MW_ACT_TANH, MW_ACT_TANH, 0, 2.5},
        {"mlp 8/6 k2 relu/leaky bn, scale 1", MW_ACT_RELU, MW_ACT_LEAKY, 1, 1.0},
        {"mlp 8/6 k2 tanh/none, scale 1", MW_ACT_TANH, MW_ACT_IDENTITY, 0, 1.0},
    };
    for (size_t i = 0; i < sizeof mlp / sizeof mlp[0]; i++) {
        lc_config c;
        snprintf(c.name, sizeof c.name, "%s", mlp[i].name);
        c.spec = mw_spec_default();
        c.spec.width = 8, c.spec.hidden = 6, c.spec.units = 2, c.spec.depth = 1;
        c.spec.f_act = mlp[i].f, c.spec.out_act = mlp[i].s, c.spec.bn = mlp[i].bn;
        c.spec.batch = 16, c.spec.classes = 3, c.spec.init_scale = mlp[i].scale;
        c.x_scale = mlp[i].scale;
        out[n++] = c;
    }
    static const double rscale[2] = {1.0, 2.5};
    for (int i = 0; i < 2; i++) {
        lc_config c;
        snprintf(c.name, sizeof c.name, "revnet 4x4x4 k1 relu/tanh bn, scale %g", rscale[i]);
        c.spec = mw_spec_revnet_default();
        c.spec.image_h = c.spec.image_w = 4, c.spec.blocks = 1, c.spec.layers_per_block = 1;
        c.spec.f_act = MW_ACT_RELU, c.spec.out_act = MW_ACT_TANH;
        c.spec.batch = 8, c.spec.classes = 3;
        c.spec.init_scale = rscale[i];
        mw_spec_complete(&c.spec);
        c.x_scale = rscale[i];
        out[n++] = c;
    }
    for (int i = 0; i < n; i++)
        out[i].spec.coupling = (mw_coupling)info->coupling;
    return n;
}

/* ---- rows ---- */

static int add_row(mw_layer_check_result *res, const char *layer, const char *config,
                   mw_dtype dt, const char *check, double error, double max_ulp, double threshold)
{
    return mw_layer_check_add(res, layer, config, mw_dtype_name(dt), check, error, max_ulp,
                              threshold);
}

size_t mw_layer_check_failures(const mw_layer_check_result *res, const char *layer)
{
    size_t n = 0;
    for (size_t i = 0; i < res->n_rows; i++)
        n += !res->rows[i].pass && (!layer || strcmp(res->rows[i].layer, layer) == 0);
    return n;
}

/* ---- small numerics ---- */

static double max_abs(const double *v, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

/* max |a - b| / max |b|, the tensor-scaled error of the golden cases (|b| = 0: absolute) */
static double rel_err(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    double s = max_abs(b, n);
    return s > 0 ? d / s : d;
}

/* max |a - b| / ulp(b) in the dtype, an element below 2^-10 of the tensor's largest
 * counted in the ulps of that floor (an exact zero, such as the bias gradient of a unit
 * before BatchNorm, would otherwise be measured in subnormals) */
static double ulp_err(const double *a, const double *b, size_t n, mw_dtype dt)
{
    const double floor = 0x1p-10 * max_abs(b, n);
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / mw_ulp(fmax(fabs(b[i]), floor), dt));
    return m;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* The squeeze ψ as a direct loop (SCHEMA.md: PyTorch's pixel_unshuffle), or its inverse:
 * out[b, 4c + 2dy + dx, i, j] = in[b, c, 2i + dy, 2j + dx] on B images of (C, H, W). */
static void unshuffle(const double *in, double *out, int B, mw_shape sh, int inverse)
{
    const size_t C = (size_t)sh.c, H = (size_t)sh.h, W = (size_t)sh.w, S = C * H * W;
    for (size_t b = 0; b < (size_t)B; b++)
        for (size_t c = 0; c < C; c++)
            for (size_t y = 0; y < H; y++)
                for (size_t x = 0; x < W; x++) {
                    size_t src = b * S + (c * H + y) * W + x;
                    size_t dst = b * S + ((c * 4 + 2 * (y % 2) + x % 2) * (H / 2) + y / 2) *
                                             (W / 2) + x / 2;
                    if (inverse)
                        out[src] = in[dst];
                    else
                        out[dst] = in[src];
                }
}

/* Philox normals, rounded to the dtype so that both implementations see the same values. */
static void draw(double *v, size_t n, uint64_t stream, mw_dtype dt)
{
    for (size_t i = 0; i < n; i++) {
        double z = mw_philox_normal(0x6c61796572ull, stream, i);
        v[i] = dt == MW_F32 ? (double)(float)z : z;
    }
}

/* tol = 8 u K for the configuration's coupling layer 1 (see layer_check.h) */
static double base_tol(const mw_spec *s, mw_dtype dt)
{
    const double u = dt == MW_F32 ? 0x1p-24 : 0x1p-53;
    mw_shape sh = mw_spec_layer_shape(s, 1);
    double K = 10.0;
    for (int k = 1; k <= s->units; k++) {
        int o, i;
        mw_spec_unit_shape(s, 1, k, &o, &i);
        K += (double)i * (mw_spec_is_conv(s) ? 9 : 1);
        if (s->bn)
            K += (double)s->batch * sh.h * sh.w;
    }
    return 8.0 * u * K;
}

/* ---- the MPFR side ---- */

typedef struct refside {
    mw_ref *r;
    size_t N, P;
} refside;

static int ref_open(refside *rs, const lc_config *c, const double *theta, const double *x,
                    const int *labels, char *msg, size_t msg_len)
{
    memset(rs, 0, sizeof *rs);
    if (mw_ref_new(&c->spec, REF_BITS, &rs->r, msg, msg_len) != 0)
        return 1;
    rs->N = (size_t)c->spec.batch * (size_t)c->spec.width;
    rs->P = mw_ref_n_params(rs->r);
    return mw_ref_set_params(rs->r, theta, msg, msg_len) ||
           mw_ref_set_batch(rs->r, x, labels, msg, msg_len) ||
           mw_ref_forward(rs->r, msg, msg_len);
}

/* Layer 1's output, rounded to double. */
static void ref_output(refside *rs, double *y)
{
    for (size_t i = 0; i < rs->N; i++)
        y[i] = mpfr_get_d(mw_ref_activation(rs->r, 1, i), MPFR_RNDN);
}

/* J u (input tangent u, or parameter tangent w over [off, off + P)) by central
 * differences at REF_BITS with step 2^-80: truncation ~2^-160, cancellation 80 bits of
 * 256, far below any dtype. The reference's inputs and parameters are restored. */
static int ref_jvp(refside *rs, const double *x, const double *theta, const double *u,
                   const double *w, size_t off, size_t P, double *dy, char *msg, size_t msg_len)
{
    mpfr_t eps, *yp = malloc(rs->N * sizeof *yp);
    if (!yp)
        return snprintf(msg, msg_len, "out of memory") > 0;
    mpfr_init2(eps, REF_BITS);
    mpfr_set_ui_2exp(eps, 1, -80, MPFR_RNDN);
    for (size_t i = 0; i < rs->N; i++)
        mpfr_init2(yp[i], REF_BITS);
    int rc = 0;
    for (int sgn = 1; sgn >= -1 && rc == 0; sgn -= 2) {
        for (size_t i = 0; u && i < rs->N; i++) {
            mpfr_ptr v = mw_ref_input(rs->r, i);
            mpfr_set_d(v, u[i], MPFR_RNDN);
            mpfr_mul(v, v, eps, MPFR_RNDN);
            if (sgn < 0)
                mpfr_neg(v, v, MPFR_RNDN);
            mpfr_add_d(v, v, x[i], MPFR_RNDN);
        }
        for (size_t j = 0; w && j < P; j++) {
            mpfr_ptr v = mw_ref_param(rs->r, off + j);
            mpfr_set_d(v, w[j], MPFR_RNDN);
            mpfr_mul(v, v, eps, MPFR_RNDN);
            if (sgn < 0)
                mpfr_neg(v, v, MPFR_RNDN);
            mpfr_add_d(v, v, theta[off + j], MPFR_RNDN);
        }
        rc = mw_ref_forward_from(rs->r, 1, msg, msg_len);
        for (size_t i = 0; rc == 0 && i < rs->N; i++) {
            if (sgn > 0)
                mpfr_set(yp[i], mw_ref_activation(rs->r, 1, i), MPFR_RNDN);
            else {
                mpfr_sub(yp[i], yp[i], mw_ref_activation(rs->r, 1, i), MPFR_RNDN);
                mpfr_div(yp[i], yp[i], eps, MPFR_RNDN);
                mpfr_div_2ui(yp[i], yp[i], 1, MPFR_RNDN);
                dy[i] = mpfr_get_d(yp[i], MPFR_RNDN);
            }
        }
    }
    /* put the network back as it was */
    for (size_t i = 0; i < rs->N; i++)
        mpfr_set_d(mw_ref_input(rs->r, i), x[i], MPFR_RNDN);
    for (size_t j = 0; j < P; j++)
        mpfr_set_d(mw_ref_param(rs->r, off + j), theta[off + j], MPFR_RNDN);
    if (rc == 0)
        rc = mw_ref_forward(rs->r, msg, msg_len);
    for (size_t i = 0; i < rs->N; i++)
        mpfr_clear(yp[i]);
    mpfr_clear(eps);
    free(yp);
    return rc;
}

/* h · J in MPFR: the input cotangent and the parameter gradient over [off, off + P). */
static int ref_vjp(refside *rs, const double *h, size_t off, size_t P, double *hx, double *g,
                   char *msg, size_t msg_len)
{
    if (mw_ref_vjp_body(rs->r, h, msg, msg_len) != 0)
        return 1;
    for (size_t i = 0; i < rs->N; i++)
        hx[i] = mpfr_get_d(mw_ref_input_grad(rs->r, i), MPFR_RNDN);
    for (size_t j = 0; j < P; j++)
        g[j] = mpfr_get_d(mw_ref_grad(rs->r, off + j), MPFR_RNDN);
    return 0;
}

/* ---- one configuration in one dtype ---- */

typedef struct bufset {
    double *x, *y, *yr, *back, *u, *w, *dx2, *dth2, *dy2, *dyr, *h, *hx, *g, *hxr, *gr, *hy, *g1,
        *hx1, *g2, *theta;
    int *labels;
} bufset;

static void bufs_free(bufset *b)
{
    double **all[] = {&b->x,  &b->y,  &b->yr,  &b->back, &b->u,  &b->w,  &b->dx2,
                      &b->dth2, &b->dy2, &b->dyr, &b->h,  &b->hx, &b->g,  &b->hxr,
                      &b->gr, &b->hy, &b->g1,  &b->hx1,  &b->g2, &b->theta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(*all[i]), *all[i] = NULL;
    free(b->labels);
    b->labels = NULL;
}

static int bufs_make(bufset *b, size_t N, size_t P, size_t Ptot, int B)
{
    memset(b, 0, sizeof *b);
    size_t n2 = 2 * N, p2 = 2 * (P ? P : 1), p1 = P ? P : 1;
#define A(f, n) (b->f = malloc((n) * sizeof(double))) != NULL
    return !(A(x, N) && A(y, N) && A(yr, N) && A(back, N) && A(u, N) && A(w, p1) &&
             A(dx2, n2) && A(dth2, p2) && A(dy2, n2) && A(dyr, n2) && A(h, N) && A(hx, N) &&
             A(g, p1) && A(hxr, N) && A(gr, p1) && A(hy, N) && A(g1, p1) && A(hx1, N) &&
             A(g2, p1) && A(theta, Ptot) && (b->labels = malloc((size_t)B * sizeof(int))));
#undef A
}

static int check_config(const char *layer, const mw_layer_info *info, const lc_config *c,
                        mw_dtype dt, mw_layer_check_result *res, char *msg, size_t msg_len)
{
    const mw_spec *s = &c->spec;
    const size_t N = (size_t)s->batch * (size_t)s->width;
    const int li = info->coupling < 0 ? 1 : 0; /* the squeeze is body layer 1 */
    mw_layout lay;
    if (mw_layout_build(s, &lay) != 0)
        return snprintf(msg, msg_len, "out of memory") > 0;
    const size_t Ptot = lay.total;
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    refside rs = {0};
    bufset b;
    int rc = 0;
    size_t P = 0, off = 0;
    char cmsg[256];
    if (bufs_make(&b, N, Ptot, Ptot, s->batch)) {
        rc = snprintf(msg, msg_len, "out of memory") > 0;
        goto done;
    }
    /* the data: the mixture's samples, scaled, in the dtype; the spec's parameters */
    mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&d, 0, s->batch, b.x, b.labels);
    for (size_t i = 0; i < N; i++)
        b.x[i] = (double)(float)(c->x_scale * b.x[i]);
    mw_init_params(s, &lay, b.theta);
    if (mw_ctx_open(MW_BACKEND_CPU, dt, NULL, &ctx, cmsg, sizeof cmsg) != MW_OK ||
        mw_net_new_layer(ctx, s, info->coupling < 0 ? NULL : layer, &net) != MW_OK ||
        mw_net_set_params(ctx, net, b.theta) != MW_OK ||
        mw_net_layer(net, li, NULL, 0, &P, &off) != MW_OK) {
        rc = snprintf(msg, msg_len, "%s, %s: %s", layer, c->name,
                      ctx ? mw_ctx_message(ctx) : cmsg) > 0;
        goto done;
    }
    const double tol = base_tol(s, dt);
    const char *cfg = c->name;
#define ROWU(check, err, ulps, thr)                                                            \
    do {                                                                                      \
        if (add_row(res, layer, cfg, dt, check, err, ulps, thr)) {                            \
            rc = snprintf(msg, msg_len, "out of memory") > 0;                                 \
            goto done;                                                                        \
        }                                                                                     \
    } while (0)
#define ROW(check, err, thr) ROWU(check, err, NAN, thr)
#define ENGINE(call)                                                                          \
    do {                                                                                      \
        if ((call) != MW_OK) {                                                                \
            rc = snprintf(msg, msg_len, "%s, %s, %s: %s", layer, cfg, mw_dtype_name(dt),       \
                          mw_ctx_message(ctx)) > 0;                                           \
            goto done;                                                                        \
        }                                                                                     \
    } while (0)
    /* random directions, the same for every layer type */
    draw(b.u, N, 1, dt);
    draw(b.w, P ? P : 1, 2, dt);
    draw(b.h, N, 3, dt);

    ENGINE(mw_layer_forward(ctx, net, li, b.x, b.y));
    /* T = 2 tangents: an input direction alone, then a parameter direction alone */
    memcpy(b.dx2, b.u, N * sizeof(double));
    memset(b.dx2 + N, 0, N * sizeof(double));
    memset(b.dth2, 0, 2 * (P ? P : 1) * sizeof(double));
    if (P)
        memcpy(b.dth2 + P, b.w, P * sizeof(double));
    ENGINE(mw_layer_jvp(ctx, net, li, 2, b.x, b.dx2, P ? b.dth2 : NULL, b.yr, b.dy2));
    ENGINE(mw_layer_vjp(ctx, net, li, b.x, b.h, b.hx, b.g));
    ENGINE(mw_layer_vijp(ctx, net, li, b.x, b.h, b.yr, b.hy, b.g1));
    ENGINE(mw_layer_vjp(ctx, net, li, b.x, b.hy, b.hx1, b.g2));

    /* inverse: the round trip, each element judged against its own condition, and the
     * bias of the errors over the transformed half */
    const size_t w = (size_t)s->width, hh = w / 2;
    const size_t j0 = info->coupling < 0 ? 0 : hh; /* layer 1 transforms the second half */
    if (info->coupling >= 0) {
        if (ref_open(&rs, c, b.theta, b.x, b.labels, msg, msg_len) != 0) {
            rc = 1;
            goto done;
        }
        ref_output(&rs, b.yr);
        ROWU("forward", rel_err(b.y, b.yr, N), ulp_err(b.y, b.yr, N, dt), tol);
    }
    /* An output at ±1 in the dtype (the exact one rounded, or the engine's) under a tanh σ
     * has no inverse in it: the information is gone. Such elements are left out of the
     * round trip (set to 0 before inverting, so that they cannot turn it non-finite). */
    unsigned char *lost = calloc(N, 1);
    if (!lost) {
        rc = snprintf(msg, msg_len, "out of memory") > 0;
        goto done;
    }
    memcpy(b.hxr, b.y, N * sizeof(double)); /* the inverse's input, scratch */
    for (int bb = 0; info->coupling >= 0 && s->out_act == MW_ACT_TANH && bb < s->batch; bb++)
        for (size_t j = j0; j < w; j++) {
            const size_t i = (size_t)bb * w + j;
            double y = dt == MW_F32 ? (double)(float)b.yr[i] : b.yr[i];
            if (fabs(y) >= 1.0 || fabs(b.y[i]) >= 1.0)
                lost[i] = 1, b.hxr[i] = 0.0;
        }
    mw_status ist = mw_layer_inverse(ctx, net, li, b.hxr, b.back);
    if (ist != MW_OK) {
        free(lost);
        ROW("inverse", INFINITY, tol);
    } else {
        const double scale = fmax(max_abs(b.x, N), info->coupling < 0 ? 0.0 : max_abs(b.yr, N));
        const double gain = s->coupling == MW_COUPLING_AFFINE && info->coupling >= 0 ? exp(1.0)
                                                                                   : 1.0;
        double worst = 0, sum = 0, sum2 = 0, n = 0;
        for (int bb = 0; bb < s->batch; bb++)
            for (size_t j = 0; j < w; j++) {
                const size_t i = (size_t)bb * w + j;
                double kappa = 1.0;
                if (info->coupling >= 0 && j >= j0) {
                    double y = b.yr[i];
                    if (lost[i])
                        continue;
                    if (s->out_act == MW_ACT_TANH) {
                        kappa = 1.0 / (1.0 - y * y);
                    } else if (s->out_act == MW_ACT_LEAKY && y < 0) {
                        kappa = 1.0 / s->leaky_slope;
                    }
                    kappa *= gain;
                }
                double e = b.back[i] - b.x[i];
                worst = fmax(worst, fabs(e) / kappa);
                if (isnan(e))
                    worst = NAN;
                if (j >= j0)
                    sum += e, sum2 += e * e, n++;
            }
        free(lost);
        ROW("inverse", scale > 0 ? worst / scale : worst, info->coupling < 0 ? 0.0 : tol);
        double mean = n > 0 ? sum / n : 0.0;
        double sd = n > 1 ? sqrt(fmax(0.0, (sum2 - n * mean * mean) / (n - 1))) : 0.0;
        double t = mean == 0 ? 0.0 : sd > 0 ? fabs(mean) / (sd / sqrt(n)) : INFINITY;
        ROW("inverse_bias", t, 6.0);
    }
    /* the adjoint identity, from the engine alone */
    {
        double lhs = dot(b.h, b.dy2, N) + dot(b.h, b.dy2 + N, N);
        double rhs = dot(b.hx, b.u, N) + (P ? dot(b.g, b.w, P) : 0.0);
        double ju = sqrt(dot(b.dy2, b.dy2, N) + dot(b.dy2 + N, b.dy2 + N, N));
        double scale = sqrt(dot(b.h, b.h, N)) * ju +
                       sqrt(dot(b.hx, b.hx, N)) * sqrt(dot(b.u, b.u, N)) +
                       (P ? sqrt(dot(b.g, b.g, P)) * sqrt(dot(b.w, b.w, P)) : 0.0);
        ROW("adjoint", scale > 0 ? fabs(lhs - rhs) / scale : fabs(lhs - rhs), tol);
    }
    /* vijp: vjp undoes it (input cotangent and parameter gradient) */
    ROW("vijp_identity", fmax(rel_err(b.hx1, b.h, N), P ? rel_err(b.g1, b.g2, P) : 0.0), 2 * tol);
    if (info->coupling < 0) {
        /* the squeeze is a permutation: its exact operations are the loop above, and the
         * engine must reproduce them bit for bit (threshold 0). It is linear with no
         * parameters: jvp moves the tangent, vjp moves back, vijp moves forward. */
        const mw_shape sh = mw_spec_layer_shape(s, 1);
        unshuffle(b.x, b.yr, s->batch, sh, 0);
        ROWU("forward", rel_err(b.y, b.yr, N), ulp_err(b.y, b.yr, N, dt), 0.0);
        unshuffle(b.u, b.dyr, s->batch, sh, 0);
        ROWU("jvp", fmax(rel_err(b.dy2, b.dyr, N), max_abs(b.dy2 + N, N)),
             ulp_err(b.dy2, b.dyr, N, dt), 0.0);
        unshuffle(b.h, b.hxr, s->batch, sh, 1);
        ROWU("vjp_input", rel_err(b.hx, b.hxr, N), ulp_err(b.hx, b.hxr, N, dt), 0.0);
        unshuffle(b.h, b.hxr, s->batch, sh, 0);
        ROWU("vijp_exact", rel_err(b.hy, b.hxr, N), ulp_err(b.hy, b.hxr, N, dt), 0.0);
    } else {
        /* jvp against central differences in MPFR */
        if (ref_jvp(&rs, b.x, b.theta, b.u, NULL, off, P, b.dyr, msg, msg_len) ||
            ref_jvp(&rs, b.x, b.theta, NULL, b.w, off, P, b.dyr + N, msg, msg_len)) {
            rc = 1;
            goto done;
        }
        ROWU("jvp", fmax(rel_err(b.dy2, b.dyr, N), rel_err(b.dy2 + N, b.dyr + N, N)),
             fmax(ulp_err(b.dy2, b.dyr, N, dt), ulp_err(b.dy2 + N, b.dyr + N, N, dt)), 2 * tol);
        /* vjp against reverse mode in MPFR */
        if (ref_vjp(&rs, b.h, off, P, b.hxr, b.gr, msg, msg_len)) {
            rc = 1;
            goto done;
        }
        ROWU("vjp_input", rel_err(b.hx, b.hxr, N), ulp_err(b.hx, b.hxr, N, dt), 2 * tol);
        ROWU("vjp_params", rel_err(b.g, b.gr, P), ulp_err(b.g, b.gr, P, dt), 2 * tol);
        /* vijp: the exact vjp of its h_y gives back h_x and its g */
        if (ref_vjp(&rs, b.hy, off, P, b.hxr, b.gr, msg, msg_len)) {
            rc = 1;
            goto done;
        }
        ROWU("vijp_exact", fmax(rel_err(b.h, b.hxr, N), rel_err(b.g1, b.gr, P)),
             fmax(ulp_err(b.h, b.hxr, N, dt), ulp_err(b.g1, b.gr, P, dt)), 2 * tol);
    }
#undef ENGINE
#undef ROW
#undef ROWU
done:
    if (rs.r)
        mw_ref_free(rs.r);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    mw_layout_free(&lay);
    bufs_free(&b);
    return rc;
}

/* The deterministic methods on a 3-layer network of the layer against gold. */
static int check_methods(const char *layer, const lc_config *c,
                         mw_layer_check_result *res, char *msg, size_t msg_len)
{
    mw_spec s = c->spec;
    s.depth = 3;
    mw_layout lay;
    if (mw_layout_build(&s, &lay) != 0)
        return snprintf(msg, msg_len, "out of memory") > 0;
    const size_t P = lay.total, N = (size_t)s.batch * (size_t)s.width;
    double *x = malloc(N * sizeof *x), *theta = malloc(P * sizeof *theta);
    double *g = malloc(P * sizeof *g), *gx = malloc(P * sizeof *gx);
    int *labels = malloc((size_t)s.batch * sizeof *labels), rc = 0;
    mw_gold gold;
    memset(&gold, 0, sizeof gold);
    if (!x || !theta || !g || !gx || !labels) {
        rc = snprintf(msg, msg_len, "out of memory") > 0;
        goto done;
    }
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, labels);
    for (size_t i = 0; i < N; i++)
        x[i] = (double)(float)(c->x_scale * x[i]);
    mw_init_params(&s, &lay, theta);
    mw_gold_opts go = mw_gold_opts_default();
    go.fd_coords = 0;
    mw_err gerr;
    if (mw_gold_compute(&s, theta, x, labels, &go, &gold, &gerr) != MW_OK || !gold.certified) {
        rc = snprintf(msg, msg_len, "%s", gold.hi ? gold.uncertified : gerr.msg) > 0;
        goto done;
    }
    for (int dt = 0; dt < 2 && rc == 0; dt++) {
        mw_ctx *ctx = NULL;
        mw_net *net = NULL;
        mw_batch *batch = NULL;
        mw_tensor gt = {0};
        char cmsg[256];
        if (mw_ctx_open(MW_BACKEND_CPU, (mw_dtype)dt, NULL, &ctx, cmsg, sizeof cmsg) != MW_OK ||
            mw_net_new_layer(ctx, &s, layer, &net) != MW_OK ||
            mw_net_set_params(ctx, net, theta) != MW_OK ||
            mw_batch_new(ctx, net, x, labels, &batch) != MW_OK ||
            mw_tensor_alloc(ctx, P, &gt) != MW_OK) {
            rc = snprintf(msg, msg_len, "%s methods: %s", layer, ctx ? mw_ctx_message(ctx) : cmsg) > 0;
        }
        char cname[sizeof c->name + 16];
        snprintf(cname, sizeof cname, "%.80s, depth 3", c->name);
        for (int m = 0; m < MW_N_METHODS && rc == 0; m++) {
            /* projforward averages K projections (g·v)v, v ~ N(0, I): unbiased, with
             * E|ĝ - g|² = |g|²(P + 1)/K exactly. Its error is judged in units of that
             * noise: within 1.5 of it (a wrong jvp shows only once its bias exceeds the
             * noise; the jvp row checks the jvp itself exactly). */
            const int stochastic = mw_method_is_stochastic((mw_method)m);
            mw_grad_opts o = mw_grad_opts_default();
            o.proj_samples = PROJ_K;
            o.rng_seed = s.seed;
            mw_grad_info gi;
            mw_status st = mw_grad(ctx, net, batch, (mw_method)m, &o, &gt, &gi);
            double err = INFINITY, ulps = NAN;
            if (st == MW_OK && mw_tensor_download(ctx, &gt, 0, g, P) == MW_OK) {
                mw_metrics mm;
                mw_metrics_compute(g, gold.hi, gold.lo, P, (mw_dtype)dt, &mm);
                err = stochastic ? mm.rel_l2 / sqrt((double)(P + 1) / PROJ_K) : mm.rel_l2;
                if (!stochastic) { /* against gold rounded to double */
                    for (size_t i = 0; i < P; i++)
                        gx[i] = gold.hi[i] + gold.lo[i];
                    ulps = ulp_err(g, gx, P, (mw_dtype)dt);
                }
            }
            char check[32];
            snprintf(check, sizeof check, "method:%s", mw_method_name((mw_method)m));
            double thr = stochastic ? 1.5 : dt == MW_F64 ? 1e-11 : 1e-4;
            if (add_row(res, layer, cname, (mw_dtype)dt, check, err, ulps, thr))
                rc = snprintf(msg, msg_len, "out of memory") > 0;
        }
        mw_tensor_free(ctx, &gt);
        mw_batch_free(ctx, batch);
        mw_net_free(ctx, net);
        mw_ctx_free(ctx);
    }
done:
    mw_gold_free(&gold);
    mw_layout_free(&lay);
    free(x), free(theta), free(g), free(gx), free(labels);
    return rc;
}

int mw_layer_check(const char *layer, mw_layer_check_result *res,
                   void (*progress)(const char *layer, const char *config, void *arg),
                   void *arg, char *msg, size_t msg_len)
{
    mw_layer_info info;
    if (mw_layer_info_of(layer, &info) != 0)
        return snprintf(msg, msg_len, "layer %s: no such layer (mwverify layer list)", layer) > 0;
    lc_config cs[8];
    int n = make_configs(&info, cs);
    for (int k = 0; k < n; k++) {
        for (int dt = 0; dt < 2; dt++)
            if (check_config(layer, &info, &cs[k], (mw_dtype)dt, res, msg, msg_len) != 0)
                return 1;
        if (progress)
            progress(layer, cs[k].name, arg);
    }
    /* the methods on a network of the layer: the BN mlp (every fault shows there or in the
     * operations) and the first tanh mlp */
    if (info.coupling >= 0)
        for (int k = 0; k < 3; k += 2)
            if (check_methods(layer, &cs[k], res, msg, msg_len) != 0)
                return 1;
    return 0;
}

size_t mw_layer_check_against(mw_layer_check_result *res, const mw_layer_check_result *base,
                              double factor, size_t *unmatched)
{
    size_t regressions = 0, missing = 0;
    for (size_t i = 0; i < res->n_rows; i++) {
        mw_layer_check_row *r = &res->rows[i];
        const mw_layer_check_row *o = NULL;
        for (size_t k = 0; k < base->n_rows && !o; k++)
            if (!strcmp(base->rows[k].layer, r->layer) && !strcmp(base->rows[k].config, r->config) &&
                !strcmp(base->rows[k].dtype, r->dtype) && !strcmp(base->rows[k].check, r->check))
                o = &base->rows[k];
        if (!o) {
            missing++;
            continue;
        }
        double floor = 1e-3 * r->threshold, before = fmax(o->error, floor);
        if (!(r->error <= factor * before)) {
            r->pass = 0;
            char c[sizeof r->check];
            snprintf(c, sizeof c, "%s", r->check);
            snprintf(r->check, sizeof r->check, "%.20s regressed", c);
            regressions++;
        }
    }
    if (unmatched)
        *unmatched = missing;
    return regressions;
}
