/* `mwverify layer check` (layer_check.h): a layer type's operations against the MPFR
 * reference and their identities, over a grid of small configurations, then the methods
 * on a network of that layer against gold. One function per check; the MPFR side is the
 * layer oracle of oracles/, the measures are oracles' metrics. */
#include "layer_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
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

void mw_layer_rows_free(mw_layer_rows *r)
{
    free(r->rows);
    memset(r, 0, sizeof *r);
}

mw_status mw_layer_rows_add(mw_layer_rows *res, const mw_layer_check_row *row, mw_err *err)
{
    if (res->n == res->cap) {
        size_t cap = res->cap ? 2 * res->cap : 64;
        mw_layer_check_row *p = realloc(res->rows, cap * sizeof *p);
        if (!p)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        res->rows = p;
        res->cap = cap;
    }
    res->rows[res->n++] = *row;
    return MW_OK;
}

/* What a built-in check is measured against (layer_check.h). */
static const char *oracle_of(const char *layer, const char *check)
{
    if (!strcmp(check, "inverse") || !strcmp(check, "inverse_bias") ||
        !strcmp(check, "adjoint") || !strcmp(check, "vijp_identity"))
        return "identity";
    return !strcmp(layer, "squeeze") ? "exact" : "gold";
}

/* Append a row (pass = error <= threshold, so NaN fails). */
static mw_status add_row(mw_layer_rows *res, const char *layer, const char *config, mw_dtype dt,
                         const char *check, double error, double max_ulp, double threshold,
                         mw_err *err)
{
    mw_layer_check_row r;
    memset(&r, 0, sizeof r);
    snprintf(r.layer, sizeof r.layer, "%s", layer);
    snprintf(r.config, sizeof r.config, "%s", config);
    snprintf(r.check, sizeof r.check, "%s", check);
    snprintf(r.oracle, sizeof r.oracle, "%s", oracle_of(layer, check));
    r.dtype = dt;
    r.error = error;
    r.max_ulp_floored = max_ulp;
    r.threshold = threshold;
    r.pass = error <= threshold;
    return mw_layer_rows_add(res, &r, err);
}

size_t mw_layer_check_failures(const mw_layer_check_row *rows, size_t n, const char *layer)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += !rows[i].pass && (!layer || strcmp(rows[i].layer, layer) == 0);
    return bad;
}

/* ---- small numerics ---- */

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

/* ---- one configuration in one dtype ---- */

/* The buffers: x the input, y its output (yr the exact one), u/w an input and a parameter
 * direction, dx2/dth2/dy2 the jvp of both (T = 2), h a cotangent at the output and hx, g
 * its vjp; hy, g1 the vijp of h at the input; hx1, g2 the vjp of hy. */
typedef struct bufset {
    double *x, *y, *yr, *back, *u, *w, *dx2, *dth2, *dy2, *dyr, *h, *hx, *g, *hxr, *gr, *hy, *g1,
        *hx1, *g2, *theta;
    int *labels;
} bufset;

static void bufs_free(bufset *b)
{
    double **all[] = {&b->x,    &b->y,   &b->yr,  &b->back, &b->u,  &b->w,  &b->dx2,
                      &b->dth2, &b->dy2, &b->dyr, &b->h,    &b->hx, &b->g,  &b->hxr,
                      &b->gr,   &b->hy,  &b->g1,  &b->hx1,  &b->g2, &b->theta};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(*all[i]), *all[i] = NULL;
    free(b->labels);
    b->labels = NULL;
}

static int bufs_make(bufset *b, size_t N, size_t P, int B)
{
    memset(b, 0, sizeof *b);
    size_t n2 = 2 * N, p2 = 2 * (P ? P : 1), p1 = P ? P : 1;
#define A(f, n) (b->f = malloc((n) * sizeof(double))) != NULL
    return !(A(x, N) && A(y, N) && A(yr, N) && A(back, N) && A(u, N) && A(w, p1) &&
             A(dx2, n2) && A(dth2, p2) && A(dy2, n2) && A(dyr, n2) && A(h, N) && A(hx, N) &&
             A(g, p1) && A(hxr, N) && A(gr, p1) && A(hy, N) && A(g1, p1) && A(hx1, N) &&
             A(g2, p1) && A(theta, P) && (b->labels = malloc((size_t)B * sizeof(int))));
#undef A
}

/* One layer type in one configuration and dtype: what every check needs. */
typedef struct lc_case {
    const char *layer;
    const mw_layer_info *info;
    const lc_config *c;
    const mw_spec *s;
    mw_dtype dt;
    size_t N, P, off;         /* batch x width; the layer's parameters and where they start */
    int li;                   /* the body layer checked (the squeeze is layer 1) */
    double tol;
    mw_ctx *ctx;
    mw_net *net;
    mw_layer_oracle *oracle;  /* couplings only */
    bufset b;
    mw_layer_rows *rows;
} lc_case;

static mw_status row(lc_case *k, const char *check, double error, double ulps, double thr,
                     mw_err *err)
{
    return add_row(k->rows, k->layer, k->c->name, k->dt, check, error, ulps, thr, err);
}

static mw_status engine_failed(const lc_case *k, mw_status st, mw_err *err)
{
    return mw_err_set(err, st, "%s, %s, %s: %s", k->layer, k->c->name, mw_dtype_name(k->dt),
                      mw_ctx_message(k->ctx));
}

/* The engine's operations in the random directions, the same for every layer type. */
static mw_status engine_ops(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    const size_t N = k->N, P = k->P;
    mw_status st;
    draw(b->u, N, 1, k->dt);
    draw(b->w, P ? P : 1, 2, k->dt);
    draw(b->h, N, 3, k->dt);
    /* T = 2 tangents: an input direction alone, then a parameter direction alone */
    memcpy(b->dx2, b->u, N * sizeof(double));
    memset(b->dx2 + N, 0, N * sizeof(double));
    memset(b->dth2, 0, 2 * (P ? P : 1) * sizeof(double));
    if (P)
        memcpy(b->dth2 + P, b->w, P * sizeof(double));
    if ((st = mw_layer_forward(k->ctx, k->net, k->li, b->x, b->y)) != MW_OK ||
        (st = mw_layer_jvp(k->ctx, k->net, k->li, 2, b->x, b->dx2, P ? b->dth2 : NULL, b->yr,
                           b->dy2)) != MW_OK ||
        (st = mw_layer_vjp(k->ctx, k->net, k->li, b->x, b->h, b->hx, b->g)) != MW_OK ||
        (st = mw_layer_vijp(k->ctx, k->net, k->li, b->x, b->h, b->yr, b->hy, b->g1)) != MW_OK ||
        (st = mw_layer_vjp(k->ctx, k->net, k->li, b->x, b->hy, b->hx1, b->g2)) != MW_OK)
        return engine_failed(k, st, err);
    return MW_OK;
}

/* forward (a coupling): the engine's output against MPFR's; yr keeps the exact one. */
static mw_status check_forward(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    mw_status st = mw_layer_oracle_open(k->s, b->theta, b->x, b->labels, REF_BITS, &k->oracle,
                                        err);
    if (st != MW_OK)
        return st;
    mw_layer_oracle_output(k->oracle, b->yr);
    return row(k, "forward", mw_max_rel_err(b->y, b->yr, k->N),
               mw_max_ulp_floored(b->y, b->yr, k->N, k->dt), k->tol, err);
}

/* inverse and inverse_bias: the round trip, each element judged against its own
 * condition, and the bias of the errors over the transformed half. */
static mw_status check_inverse(lc_case *k, mw_err *err)
{
    const mw_spec *s = k->s;
    bufset *b = &k->b;
    const size_t N = k->N, w = (size_t)s->width;
    const int coupling = k->info->coupling >= 0;
    const size_t j0 = coupling ? w / 2 : 0; /* layer 1 transforms the second half */
    /* An output at ±1 in the dtype (the exact one rounded, or the engine's) under a tanh σ
     * has no inverse in it: the information is gone. Such elements are left out of the
     * round trip (set to 0 before inverting, so that they cannot turn it non-finite). */
    unsigned char *lost = calloc(N, 1);
    if (!lost)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    memcpy(b->hxr, b->y, N * sizeof(double)); /* the inverse's input, scratch */
    for (int bb = 0; coupling && s->out_act == MW_ACT_TANH && bb < s->batch; bb++)
        for (size_t j = j0; j < w; j++) {
            const size_t i = (size_t)bb * w + j;
            double y = k->dt == MW_F32 ? (double)(float)b->yr[i] : b->yr[i];
            if (fabs(y) >= 1.0 || fabs(b->y[i]) >= 1.0)
                lost[i] = 1, b->hxr[i] = 0.0;
        }
    if (mw_layer_inverse(k->ctx, k->net, k->li, b->hxr, b->back) != MW_OK) {
        free(lost);
        return row(k, "inverse", INFINITY, NAN, k->tol, err);
    }
    const double scale = fmax(mw_max_abs(b->x, N), coupling ? mw_max_abs(b->yr, N) : 0.0);
    const double gain = s->coupling == MW_COUPLING_AFFINE && coupling ? exp(1.0) : 1.0;
    double worst = 0, sum = 0, sum2 = 0, n = 0;
    for (int bb = 0; bb < s->batch; bb++)
        for (size_t j = 0; j < w; j++) {
            const size_t i = (size_t)bb * w + j;
            double kappa = 1.0;
            if (coupling && j >= j0) {
                double y = b->yr[i];
                if (lost[i])
                    continue;
                if (s->out_act == MW_ACT_TANH)
                    kappa = 1.0 / (1.0 - y * y);
                else if (s->out_act == MW_ACT_LEAKY && y < 0)
                    kappa = 1.0 / s->leaky_slope;
                kappa *= gain;
            }
            double e = b->back[i] - b->x[i];
            worst = fmax(worst, fabs(e) / kappa);
            if (isnan(e))
                worst = NAN;
            if (j >= j0)
                sum += e, sum2 += e * e, n++;
        }
    free(lost);
    mw_status st = row(k, "inverse", scale > 0 ? worst / scale : worst, NAN,
                       coupling ? k->tol : 0.0, err);
    double mean = n > 0 ? sum / n : 0.0;
    double sd = n > 1 ? sqrt(fmax(0.0, (sum2 - n * mean * mean) / (n - 1))) : 0.0;
    double t = mean == 0 ? 0.0 : sd > 0 ? fabs(mean) / (sd / sqrt(n)) : INFINITY;
    return st != MW_OK ? st : row(k, "inverse_bias", t, NAN, 6.0, err);
}

/* adjoint: <v, J u> = <J^T v, u>, from the engine alone. */
static mw_status check_adjoint(lc_case *k, mw_err *err)
{
    const bufset *b = &k->b;
    const size_t N = k->N, P = k->P;
    double lhs = dot(b->h, b->dy2, N) + dot(b->h, b->dy2 + N, N);
    double rhs = dot(b->hx, b->u, N) + (P ? dot(b->g, b->w, P) : 0.0);
    double ju = sqrt(dot(b->dy2, b->dy2, N) + dot(b->dy2 + N, b->dy2 + N, N));
    double scale = sqrt(dot(b->h, b->h, N)) * ju + sqrt(dot(b->hx, b->hx, N)) * sqrt(dot(b->u, b->u, N)) +
                   (P ? sqrt(dot(b->g, b->g, P)) * sqrt(dot(b->w, b->w, P)) : 0.0);
    return row(k, "adjoint", scale > 0 ? fabs(lhs - rhs) / scale : fabs(lhs - rhs), NAN, k->tol,
               err);
}

/* vijp_identity: vjp undoes vijp (input cotangent and parameter gradient). */
static mw_status check_vijp_identity(lc_case *k, mw_err *err)
{
    const bufset *b = &k->b;
    return row(k, "vijp_identity",
               fmax(mw_max_rel_err(b->hx1, b->h, k->N), k->P ? mw_max_rel_err(b->g1, b->g2, k->P) : 0.0),
               NAN, 2 * k->tol, err);
}

/* The squeeze is a permutation: its exact operations are a direct loop, and the engine
 * must reproduce them bit for bit (threshold 0). It is linear with no parameters: jvp
 * moves the tangent, vjp moves back, vijp moves forward. */
static mw_status check_squeeze(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    const size_t N = k->N;
    const mw_dtype dt = k->dt;
    const mw_shape sh = mw_spec_layer_shape(k->s, 1);
    const int B = k->s->batch;
    mw_status st;
    unshuffle(b->x, b->yr, B, sh, 0);
    if ((st = row(k, "forward", mw_max_rel_err(b->y, b->yr, N),
                  mw_max_ulp_floored(b->y, b->yr, N, dt), 0.0, err)) != MW_OK)
        return st;
    unshuffle(b->u, b->dyr, B, sh, 0);
    if ((st = row(k, "jvp", fmax(mw_max_rel_err(b->dy2, b->dyr, N), mw_max_abs(b->dy2 + N, N)),
                  mw_max_ulp_floored(b->dy2, b->dyr, N, dt), 0.0, err)) != MW_OK)
        return st;
    unshuffle(b->h, b->hxr, B, sh, 1);
    if ((st = row(k, "vjp_input", mw_max_rel_err(b->hx, b->hxr, N),
                  mw_max_ulp_floored(b->hx, b->hxr, N, dt), 0.0, err)) != MW_OK)
        return st;
    unshuffle(b->h, b->hxr, B, sh, 0);
    return row(k, "vijp_exact", mw_max_rel_err(b->hy, b->hxr, N),
               mw_max_ulp_floored(b->hy, b->hxr, N, dt), 0.0, err);
}

/* jvp: both tangents against central differences in MPFR. */
static mw_status check_jvp(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    const size_t N = k->N;
    mw_status st;
    if ((st = mw_layer_oracle_jvp(k->oracle, b->u, NULL, k->off, k->P, b->dyr, err)) != MW_OK ||
        (st = mw_layer_oracle_jvp(k->oracle, NULL, b->w, k->off, k->P, b->dyr + N, err)) != MW_OK)
        return st;
    return row(k, "jvp", fmax(mw_max_rel_err(b->dy2, b->dyr, N), mw_max_rel_err(b->dy2 + N, b->dyr + N, N)),
               fmax(mw_max_ulp_floored(b->dy2, b->dyr, N, k->dt),
                    mw_max_ulp_floored(b->dy2 + N, b->dyr + N, N, k->dt)),
               2 * k->tol, err);
}

/* vjp_input and vjp_params: against reverse mode in MPFR. */
static mw_status check_vjp(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    mw_status st = mw_layer_oracle_vjp(k->oracle, b->h, k->off, k->P, b->hxr, b->gr, err);
    if (st != MW_OK ||
        (st = row(k, "vjp_input", mw_max_rel_err(b->hx, b->hxr, k->N),
                  mw_max_ulp_floored(b->hx, b->hxr, k->N, k->dt), 2 * k->tol, err)) != MW_OK)
        return st;
    return row(k, "vjp_params", mw_max_rel_err(b->g, b->gr, k->P),
               mw_max_ulp_floored(b->g, b->gr, k->P, k->dt), 2 * k->tol, err);
}

/* vijp_exact: the exact vjp of the engine's h_y gives back h_x and its g. */
static mw_status check_vijp_exact(lc_case *k, mw_err *err)
{
    bufset *b = &k->b;
    mw_status st = mw_layer_oracle_vjp(k->oracle, b->hy, k->off, k->P, b->hxr, b->gr, err);
    if (st != MW_OK)
        return st;
    return row(k, "vijp_exact", fmax(mw_max_rel_err(b->h, b->hxr, k->N), mw_max_rel_err(b->g1, b->gr, k->P)),
               fmax(mw_max_ulp_floored(b->h, b->hxr, k->N, k->dt),
                    mw_max_ulp_floored(b->g1, b->gr, k->P, k->dt)),
               2 * k->tol, err);
}

/* The data (the mixture's samples, scaled, in the dtype), the spec's parameters, the
 * engine's network of the layer. */
static mw_status open_case(lc_case *k, const mw_layout *lay, mw_err *err)
{
    const mw_spec *s = k->s;
    bufset *b = &k->b;
    if (bufs_make(b, k->N, lay->total, s->batch))
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&d, 0, s->batch, b->x, b->labels);
    for (size_t i = 0; i < k->N; i++)
        b->x[i] = (double)(float)(k->c->x_scale * b->x[i]);
    mw_init_params(s, lay, b->theta);
    char msg[256];
    mw_status st = mw_ctx_open(MW_BACKEND_CPU, k->dt, NULL, &k->ctx, msg, sizeof msg);
    if (st != MW_OK)
        return mw_err_set(err, st, "%s, %s: %s", k->layer, k->c->name, msg);
    if ((st = mw_net_new_layer(k->ctx, s, k->info->coupling < 0 ? NULL : k->layer, &k->net)) != MW_OK ||
        (st = mw_net_set_params(k->ctx, k->net, b->theta)) != MW_OK ||
        (st = mw_net_layer(k->net, k->li, NULL, 0, &k->P, &k->off)) != MW_OK)
        return mw_err_set(err, st, "%s, %s: %s", k->layer, k->c->name, mw_ctx_message(k->ctx));
    k->tol = base_tol(s, k->dt);
    return MW_OK;
}

static mw_status check_config(const char *layer, const mw_layer_info *info, const lc_config *c,
                              mw_dtype dt, mw_layer_rows *rows, mw_err *err)
{
    lc_case k = {.layer = layer, .info = info, .c = c, .s = &c->spec, .dt = dt, .rows = rows};
    k.N = (size_t)c->spec.batch * (size_t)c->spec.width;
    k.li = info->coupling < 0 ? 1 : 0; /* the squeeze is body layer 1 */
    mw_layout lay;
    if (mw_layout_build(k.s, &lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_status st;
    MW_TRY(open_case(&k, &lay, err));
    MW_TRY(engine_ops(&k, err));
    if (info->coupling >= 0) { /* the order of the rows is the order of the checks */
        MW_TRY(check_forward(&k, err));
        MW_TRY(check_inverse(&k, err));
        MW_TRY(check_adjoint(&k, err));
        MW_TRY(check_vijp_identity(&k, err));
        MW_TRY(check_jvp(&k, err));
        MW_TRY(check_vjp(&k, err));
        MW_TRY(check_vijp_exact(&k, err));
    } else {
        MW_TRY(check_inverse(&k, err));
        MW_TRY(check_adjoint(&k, err));
        MW_TRY(check_vijp_identity(&k, err));
        MW_TRY(check_squeeze(&k, err));
    }
done:
    mw_layer_oracle_free(k.oracle);
    mw_net_free(k.ctx, k.net);
    mw_ctx_free(k.ctx);
    mw_layout_free(&lay);
    bufs_free(&k.b);
    return st;
}

/* ---- the methods on a network of the layer ---- */

/* The methods on a 3-layer network of the layer against gold, in both dtypes. projforward
 * averages K projections (g·v)v, v ~ N(0, I): unbiased, with E|ĝ - g|² = |g|²(P + 1)/K
 * exactly; its error is judged in units of that noise: within 1.5 of it (a wrong jvp shows
 * only once its bias exceeds the noise; the jvp row checks the jvp itself exactly). */
static mw_status methods_in(const char *layer, const mw_spec *s, const char *cname,
                            mw_dtype dt, const double *theta, const double *x, const int *labels,
                            const mw_gold *gold, mw_layer_rows *rows, mw_err *err)
{
    const size_t P = gold->P;
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    mw_tensor gt = {0};
    double *g = malloc(P * sizeof *g), *gx = malloc(P * sizeof *gx);
    char msg[256];
    mw_status st = g && gx ? mw_ctx_open(MW_BACKEND_CPU, dt, NULL, &ctx, msg, sizeof msg)
                           : MW_ERR_NOMEM;
    if (st != MW_OK) {
        mw_err_set(err, st, "%s methods: %s", layer, g && gx ? msg : "out of memory");
        goto done;
    }
    if ((st = mw_net_new_layer(ctx, s, layer, &net)) != MW_OK ||
        (st = mw_net_set_params(ctx, net, theta)) != MW_OK ||
        (st = mw_batch_new(ctx, net, x, labels, &batch)) != MW_OK ||
        (st = mw_tensor_alloc(ctx, P, &gt)) != MW_OK) {
        mw_err_set(err, st, "%s methods: %s", layer, mw_ctx_message(ctx));
        goto done;
    }
    for (int m = 0; m < MW_N_METHODS && st == MW_OK; m++) {
        const int stochastic = mw_method_is_stochastic((mw_method)m);
        mw_grad_opts o = mw_grad_opts_default();
        o.proj_samples = PROJ_K;
        o.rng_seed = s->seed;
        mw_grad_info gi;
        double error = INFINITY, ulps = NAN;
        if (mw_grad(ctx, net, batch, (mw_method)m, &o, &gt, &gi) == MW_OK &&
            mw_tensor_download(ctx, &gt, 0, g, P) == MW_OK) {
            mw_metrics mm;
            mw_metrics_compute(g, gold->hi, gold->lo, P, dt, &mm);
            error = stochastic ? mm.rel_l2 / sqrt((double)(P + 1) / PROJ_K) : mm.rel_l2;
            if (!stochastic) { /* against gold rounded to double */
                for (size_t i = 0; i < P; i++)
                    gx[i] = gold->hi[i] + gold->lo[i];
                ulps = mw_max_ulp_floored(g, gx, P, dt);
            }
        }
        char check[32];
        snprintf(check, sizeof check, "method:%s", mw_method_name((mw_method)m));
        double thr = stochastic ? 1.5 : dt == MW_F64 ? 1e-11 : 1e-4;
        st = add_row(rows, layer, cname, dt, check, error, ulps, thr, err);
    }
done:
    mw_tensor_free(ctx, &gt);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    free(g), free(gx);
    return st;
}

static mw_status check_methods(const char *layer, const lc_config *c, mw_layer_rows *rows,
                               mw_err *err)
{
    mw_spec s = c->spec;
    s.depth = 3;
    mw_layout lay;
    if (mw_layout_build(&s, &lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const size_t P = lay.total, N = (size_t)s.batch * (size_t)s.width;
    double *x = malloc(N * sizeof *x), *theta = malloc(P * sizeof *theta);
    int *labels = malloc((size_t)s.batch * sizeof *labels);
    mw_gold gold;
    memset(&gold, 0, sizeof gold);
    mw_status st = MW_OK;
    if (!x || !theta || !labels) {
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        goto done;
    }
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, labels);
    for (size_t i = 0; i < N; i++)
        x[i] = (double)(float)(c->x_scale * x[i]);
    mw_init_params(&s, &lay, theta);
    mw_gold_opts go = mw_gold_opts_default();
    go.fd_coords = 0;
    go.prove = 0; /* a layer check keeps gold's values, not its proof */
    if ((st = mw_gold_compute(&s, theta, x, labels, &go, &gold, err)) != MW_OK)
        goto done;
    if (!gold.certified) {
        st = mw_err_set(err, MW_ERR_BACKEND, "%s", gold.uncertified);
        goto done;
    }
    char cname[sizeof c->name + 16];
    snprintf(cname, sizeof cname, "%.80s, depth 3", c->name);
    for (int dt = 0; dt < 2 && st == MW_OK; dt++)
        st = methods_in(layer, &s, cname, (mw_dtype)dt, theta, x, labels, &gold, rows, err);
done:
    mw_gold_free(&gold);
    mw_layout_free(&lay);
    free(x), free(theta), free(labels);
    return st;
}

mw_status mw_layer_check_cost(const char *layer, double *seconds, mw_err *err)
{
    mw_layer_info info;
    *seconds = 0.0;
    if (mw_layer_info_of(layer, &info) != 0)
        return mw_err_set(err, MW_ERR_ARG, "layer %s: no such layer (mwverify layer list)", layer);
    lc_config cs[8];
    int n = make_configs(&info, cs);
    /* each configuration in each dtype: the layer oracle's forward pass, two jvps by
     * central differences (three passes each) and two exact vjps, in MPFR */
    for (int k = 0; k < n; k++)
        *seconds += 2.0 * (7.0 * mw_ref_pass_seconds(&cs[k].spec, REF_BITS, 0) +
                           2.0 * (mw_ref_pass_seconds(&cs[k].spec, REF_BITS, 1) -
                                  mw_ref_pass_seconds(&cs[k].spec, REF_BITS, 0)));
    /* the methods on a 3-layer network: gold without its witness, and every method in
     * each dtype */
    for (int k = 0; info.coupling >= 0 && k < 3; k += 2) {
        mw_spec s = cs[k].spec;
        s.depth = 3;
        mw_gold_opts go = mw_gold_opts_default();
        go.fd_coords = 0;
        go.prove = 0;
        *seconds += mw_gold_cost_seconds(&s, &go);
        for (int dt = 0; dt < 2; dt++)
            for (int m = 0; m < MW_N_METHODS; m++) {
                mw_grad_opts o = mw_grad_opts_default();
                o.proj_samples = PROJ_K;
                mw_call_cost c;
                mw_status st = mw_call_cost_measure(
                    &(mw_engine_config){MW_BACKEND_CPU, MW_MATH_STRICT}, &s, (mw_method)m,
                    (mw_dtype)dt, &o, &c, err);
                if (st != MW_OK)
                    return st;
                *seconds += c.seconds;
            }
    }
    return MW_OK;
}

mw_status mw_layer_check(const char *layer, mw_layer_rows *rows, mw_err *err)
{
    mw_layer_info info;
    if (mw_layer_info_of(layer, &info) != 0)
        return mw_err_set(err, MW_ERR_ARG, "layer %s: no such layer (mwverify layer list)", layer);
    lc_config cs[8];
    int n = make_configs(&info, cs);
    mw_status st = MW_OK;
    for (int k = 0; k < n && st == MW_OK; k++)
        for (int dt = 0; dt < 2 && st == MW_OK; dt++)
            st = check_config(layer, &info, &cs[k], (mw_dtype)dt, rows, err);
    /* the methods on a network of the layer: the first tanh mlp and the BN mlp (every
     * fault shows there or in the operations) */
    for (int k = 0; info.coupling >= 0 && k < 3 && st == MW_OK; k += 2)
        st = check_methods(layer, &cs[k], rows, err);
    return st;
}

size_t mw_layer_check_against(mw_layer_check_row *rows, size_t n, const mw_layer_check_row *base,
                              size_t n_base, double factor, size_t *unmatched)
{
    size_t regressions = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        mw_layer_check_row *r = &rows[i];
        const mw_layer_check_row *o = NULL;
        for (size_t k = 0; k < n_base && !o; k++)
            if (!strcmp(base[k].layer, r->layer) && !strcmp(base[k].config, r->config) &&
                base[k].dtype == r->dtype && !strcmp(base[k].check, r->check))
                o = &base[k];
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
