/* The inner function F of a coupling (docs/architecture.md §2): k units, unit u:
 *
 *   z_u = map_u(in_u) + c_u,   p_u = act(z_u),   out_u = BN(p_u) or p_u
 *
 * and out_u feeds unit u+1. One code path for both architectures: a unit's values are
 * (B, O, S) with S = H·W spatial positions (S = 1 for mlp), its map is a dense matrix
 * W [O][I] (mlp) or a 3x3 same-padded cross-correlation W [O][I][3][3] done as W times
 * im2col of the input (revnet); the bias is per output channel, BatchNorm per channel
 * over (batch, S). Only the four map primitives below look at which one it is.
 *
 * What a cache keeps per unit: z_u (for act'), x̂_u and rstd_u (for BN's input
 * derivative) at level INPUT; also every unit's input (a copy of a for unit 1, out_u
 * for the others) at level FULL, which the weight gradient needs. */
#include <stdlib.h>

#include "inner.h"


typedef struct unit_shape {
    size_t in, out;  /* channels (features for mlp) */
    size_t S, H, W;  /* spatial size; 1, 1, 1 for mlp */
    size_t K;        /* inner dimension of the map: in (dense) or in·9 (conv) */
    int conv;
    size_t off_W, off_c, off_gamma, off_beta; /* within the layer's parameters */
} unit_shape;

typedef struct unit_cache {
    mw_tensor z;          /* (B, out, S) pre-activation */
    mw_tensor xhat, rstd; /* BN: (B, out, S) and (out) */
    mw_tensor out;        /* (B, out, S): the unit's output, the next unit's input (u < k) */
} unit_cache;

typedef struct f_cache {
    mw_cache_level level;
    int k;
    mw_tensor in1;        /* FULL: copy of a, the first unit's input */
    unit_cache u[];
} f_cache;

static unit_shape shape_of(const mw_layer *l, int unit)
{
    const mw_spec *s = l->spec;
    unit_shape sh = {0};
    sh.conv = mw_spec_is_conv(s);
    sh.H = sh.conv ? (size_t)l->shape.h : 1;
    sh.W = sh.conv ? (size_t)l->shape.w : 1;
    sh.S = sh.H * sh.W;
    size_t off = 0;
    for (int u = 1; u <= unit; u++) {
        int o, i;
        mw_spec_unit_shape(s, l->index, u, &o, &i);
        sh.in = (size_t)i;
        sh.out = (size_t)o;
        sh.K = sh.in * (sh.conv ? 9 : 1);
        sh.off_W = off;
        sh.off_c = off + sh.K * sh.out;
        sh.off_gamma = sh.off_c + sh.out;
        sh.off_beta = sh.off_gamma + sh.out;
        off = sh.off_c + sh.out * (s->bn ? 3 : 1);
    }
    return sh;
}

/* ---- the map: four primitives, dense or conv ---- */

/* The images one chunk of im2col scratch holds: the backend's col_bytes, one at least. */
static size_t col_chunk(const mw_ctx *ctx, const unit_shape *sh)
{
    size_t per = sh->K * sh->S * ctx->ops->esize, c = ctx->ops->col_bytes / (per ? per : 1);
    return c ? c : 1;
}

/* im2col scratch for n images, taken *chunk images at a time. */
static mw_status col_scratch(mw_ctx *ctx, const unit_shape *sh, size_t n, mw_tensor *col,
                             size_t *chunk)
{
    *chunk = col_chunk(ctx, sh);
    return mw_tensor_alloc(ctx, (n < *chunk ? n : *chunk) * sh->K * sh->S, col);
}

/* z_i (O, S) = beta z_i + W in_i for n images; image i of in at in + i*ld, z contiguous. */
static mw_status map_apply(mw_ctx *ctx, const mw_layer *l, const unit_shape *sh, size_t n,
                           const void *in, size_t ld, double beta, void *z)
{
    const void *W = mw_at(ctx, l->theta, sh->off_W);
    if (!sh->conv)
        return ctx->ops->gemm(ctx, false, true, n, sh->out, sh->in, 1.0, in, ld, 0, W, sh->in,
                              0, beta, z, sh->out, 0, 1);
    mw_status st = MW_OK;
    mw_tensor col = {0};
    size_t chunk;
    MW_GO(col_scratch(ctx, sh, n, &col, &chunk));
    for (size_t i0 = 0; i0 < n; i0 += chunk) {
        size_t m = n - i0 < chunk ? n - i0 : chunk;
        MW_GO(ctx->ops->im2col(ctx, m, sh->in, sh->H, sh->W, mw_at(ctx, in, i0 * ld), ld,
                               col.data, false));
        MW_GO(ctx->ops->gemm(ctx, false, false, sh->out, sh->S, sh->K, 1.0, W, sh->K, 0,
                             col.data, sh->S, (ptrdiff_t)(sh->K * sh->S), beta,
                             mw_at(ctx, z, i0 * sh->out * sh->S), sh->S,
                             (ptrdiff_t)(sh->out * sh->S), m));
    }
done:
    mw_tensor_free(ctx, &col);
    return st;
}

/* For T parameter tangents dW_t (at dW + t*ld): dz[t, b] += dW_t in_b, b < B; in and dz
 * contiguous. */
static mw_status map_param_tangent(mw_ctx *ctx, const unit_shape *sh, size_t T, size_t B,
                                   const void *in, const void *dW, size_t ld, void *dz)
{
    const size_t zs = sh->out * sh->S;
    if (!sh->conv)
        return ctx->ops->gemm(ctx, false, true, B, sh->out, sh->in, 1.0, in, sh->in, 0, dW,
                              sh->in, (ptrdiff_t)ld, 1.0, dz, sh->out, (ptrdiff_t)(B * zs), T);
    mw_status st = MW_OK;
    mw_tensor col = {0};
    size_t chunk;
    MW_GO(col_scratch(ctx, sh, B, &col, &chunk));
    for (size_t b0 = 0; b0 < B; b0 += chunk) {
        size_t m = B - b0 < chunk ? B - b0 : chunk;
        MW_GO(ctx->ops->im2col(ctx, m, sh->in, sh->H, sh->W, mw_at(ctx, in, b0 * sh->in * sh->S),
                               sh->in * sh->S, col.data, false));
        for (size_t t = 0; t < T; t++)
            MW_GO(ctx->ops->gemm(ctx, false, false, sh->out, sh->S, sh->K, 1.0,
                                 mw_at(ctx, dW, t * ld), sh->K, 0, col.data, sh->S,
                                 (ptrdiff_t)(sh->K * sh->S), 1.0,
                                 mw_at(ctx, dz, (t * B + b0) * zs), sh->S, (ptrdiff_t)zs, m));
    }
done:
    mw_tensor_free(ctx, &col);
    return st;
}

/* hin_b = beta hin_b + alpha hz_b J_map for B images; hz contiguous, image b of hin at
 * hin + b*ld. Conv: the transposed convolution, Wᵗ (in, out*9) times the flipped im2col
 * of hz_b (engine/backend.h), gemms straight into hin. Wᵗ (Wᵗ[c][o*9 + t] = W[o][c*9 +
 * t], the nine taps of each (o, c) moved whole) and the flipped col share the scratch the
 * forward's col would take, so the working memory is the forward's: the whole of Wᵗ and
 * as many images as fit beside it, or, where Wᵗ alone is larger (small images, many
 * channels), one image and Wᵗ oc output channels at a time, the gemms adding up. */
static mw_status map_vjp_input(mw_ctx *ctx, const mw_layer *l, const unit_shape *sh, size_t B,
                               const void *hz, double alpha, double beta, void *hin, size_t ld)
{
    const void *W = mw_at(ctx, l->theta, sh->off_W);
    if (!sh->conv)
        return ctx->ops->gemm(ctx, false, false, B, sh->in, sh->out, alpha, hz, sh->out, 0, W,
                              sh->in, 0, beta, hin, ld, 0, 1);
    mw_status st = MW_OK;
    mw_tensor col = {0}, wt = {0};
    const size_t O = sh->out, C = sh->in, S = sh->S, per = O * 9 * S, wfull = C * O * 9;
    /* the forward's scratch (col_scratch), in elements: min(B, chunk) images of K rows */
    const size_t fchunk = col_chunk(ctx, sh), budget = (fchunk < B ? fchunk : B) * sh->K * S;
    size_t mi, oc;
    if (wfull + per <= budget) {
        oc = O;
        mi = (budget - wfull) / per;
        mi = mi > B ? B : mi;
    } else {
        mi = 1;
        oc = budget > per + C * 9 ? (budget - per) / (C * 9) : 1;
        oc = oc > O ? O : oc;
    }
    MW_GO(mw_tensor_alloc(ctx, C * oc * 9, &wt));
    MW_GO(mw_tensor_alloc(ctx, mi * per, &col));
    for (size_t b0 = 0; b0 < B; b0 += mi) {
        const size_t m = B - b0 < mi ? B - b0 : mi;
        MW_GO(ctx->ops->im2col(ctx, m, O, sh->H, sh->W, mw_at(ctx, hz, b0 * O * S), O * S,
                               col.data, true));
        for (size_t o0 = 0; o0 < O; o0 += oc) {
            const size_t n = O - o0 < oc ? O - o0 : oc;
            if (oc < O || b0 == 0) /* Wᵗ's columns o0 .. o0 + n - 1 */
                MW_GO(mw_copy(ctx, mw_d(n, C, 9), mw_v(wt.data, 9, (ptrdiff_t)(n * 9)),
                              mw_v((void *)mw_at(ctx, W, o0 * C * 9), (ptrdiff_t)(C * 9), 9)));
            MW_GO(ctx->ops->gemm(ctx, false, false, C, S, n * 9, alpha, wt.data, n * 9, 0,
                                 mw_at(ctx, col.data, o0 * 9 * S), S, (ptrdiff_t)per,
                                 o0 == 0 ? beta : 1.0, mw_at(ctx, hin, b0 * ld), S,
                                 (ptrdiff_t)ld, m));
        }
    }
done:
    mw_tensor_free(ctx, &col);
    mw_tensor_free(ctx, &wt);
    return st;
}

/* gW = Σ_b hz_b ⊗ in_b (the map's weight gradient) and gc = Σ_{b,s} hz; both contiguous. */
static mw_status map_vjp_param(mw_ctx *ctx, const unit_shape *sh, size_t B, const void *hz,
                               const void *in, void *g)
{
    mw_status st = MW_OK;
    mw_tensor col = {0};
    void *gW = mw_at(ctx, g, sh->off_W);
    MW_GO(ctx->ops->chan_sum(ctx, B, sh->out, sh->S, B, hz, 1.0, 0.0,
                             mw_at(ctx, g, sh->off_c), 0));
    if (!sh->conv)
        return ctx->ops->gemm(ctx, true, false, sh->out, sh->in, B, 1.0, hz, sh->out, 0, in,
                              sh->in, 0, 0.0, gW, sh->in, 0, 1);
    size_t chunk;
    MW_GO(col_scratch(ctx, sh, B, &col, &chunk));
    for (size_t b0 = 0; b0 < B; b0 += chunk) {
        size_t m = B - b0 < chunk ? B - b0 : chunk;
        MW_GO(ctx->ops->im2col(ctx, m, sh->in, sh->H, sh->W, mw_at(ctx, in, b0 * sh->in * sh->S),
                               sh->in * sh->S, col.data, false));
        /* gW (O, K) += Σ_b hz_b (O, S) col_bᵀ (S, K), image after image */
        MW_GO(ctx->ops->gemm_sum(ctx, false, true, sh->out, sh->K, sh->S, 1.0,
                                 mw_at(ctx, hz, b0 * sh->out * sh->S), sh->S,
                                 (ptrdiff_t)(sh->out * sh->S), col.data, sh->S,
                                 (ptrdiff_t)(sh->K * sh->S), b0 == 0 ? 0.0 : 1.0, gW, sh->K, m));
    }
done:
    mw_tensor_free(ctx, &col);
    return st;
}

/* ---- BatchNorm of one unit, in place, in the context's mode ---- */

static mw_status bn_unit(mw_ctx *ctx, const mw_layer *l, int unit, const unit_shape *sh,
                         void *y, unit_cache *q)
{
    const mw_spec *s = l->spec;
    const size_t B = l->batch, O = sh->out, S = sh->S;
    const void *gamma = mw_at(ctx, l->theta, sh->off_gamma);
    const void *beta = mw_at(ctx, l->theta, sh->off_beta);
    mw_bn_running *run = &l->running[unit - 1];
    if (ctx->bn_mode == MW_BN_RUNNING)
        return ctx->ops->bn_eval(ctx, B, O, S, s->bn_eps, y, gamma, beta, run->mean.data,
                                 run->var.data, y);
    mw_status st = MW_OK;
    mw_tensor mean = {0}, var = {0};
    MW_GO(mw_tensor_alloc(ctx, B * O * S, &q->xhat));
    MW_GO(mw_tensor_alloc(ctx, O, &q->rstd));
    if (ctx->bn_mode == MW_BN_RECORD) {
        MW_GO(mw_tensor_alloc(ctx, O, &mean));
        MW_GO(mw_tensor_alloc(ctx, O, &var));
    }
    MW_GO(ctx->ops->bn_forward(ctx, B, O, S, s->bn_eps, y, gamma, beta, y, q->xhat.data,
                               q->rstd.data, mean.data, var.data));
    if (ctx->bn_mode == MW_BN_RECORD) {
        const double m = MW_BN_MOMENTUM, n = (double)(B * S);
        mw_dims d = mw_d(1, 1, O);
        mw_view rm = mw_v(run->mean.data, 0, 0), rv = mw_v(run->var.data, 0, 0);
        MW_GO(mw_axpby(ctx, d, rm, 1.0 - m, rm, m, mw_v(mean.data, 0, 0)));
        MW_GO(mw_axpby(ctx, d, rv, 1.0 - m, rv, m * n / (n - 1.0), mw_v(var.data, 0, 0)));
        run->updates++;
    }
done:
    mw_tensor_free(ctx, &mean);
    mw_tensor_free(ctx, &var);
    return st;
}

/* ---- the inner operations ---- */

static void cache_free(mw_ctx *ctx, void *p)
{
    f_cache *c = p;
    if (!c)
        return;
    mw_tensor_free(ctx, &c->in1);
    for (int u = 0; u < c->k; u++) {
        mw_tensor_free(ctx, &c->u[u].z);
        mw_tensor_free(ctx, &c->u[u].xhat);
        mw_tensor_free(ctx, &c->u[u].rstd);
        mw_tensor_free(ctx, &c->u[u].out);
    }
    free(c);
}

/* The input of unit u (1-based) as kept by a FULL cache. */
static const void *unit_input(const f_cache *c, int u)
{
    return u == 1 ? c->in1.data : c->u[u - 2].out.data;
}

static mw_status forward(mw_ctx *ctx, const mw_layer *l, mw_view a, void *y,
                         mw_cache_level level, void **cache_out)
{
    const mw_spec *s = l->spec;
    const size_t B = l->batch;
    const int k = s->units;
    mw_status st = MW_OK;
    if (ctx->bn_mode == MW_BN_RUNNING && level != MW_CACHE_NONE)
        return mw_fail(ctx, MW_ERR_ARG, "BatchNorm with running statistics has no derivatives");
    f_cache *c = calloc(1, sizeof *c + (size_t)k * sizeof(unit_cache));
    if (!c)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a layer cache");
    c->level = level;
    c->k = k;
    if (level == MW_CACHE_FULL) {
        unit_shape sh = shape_of(l, 1);
        size_t w = sh.in * sh.S;
        MW_GO(mw_tensor_alloc(ctx, B * w, &c->in1));
        MW_GO(mw_copy(ctx, mw_d(1, B, w), mw_v(c->in1.data, 0, (ptrdiff_t)w), a));
    }
    const void *in = a.p;
    size_t ld = (size_t)a.sr;
    for (int u = 1; u <= k; u++) {
        unit_shape sh = shape_of(l, u);
        unit_cache *q = &c->u[u - 1];
        const size_t w = sh.out * sh.S;
        MW_GO(mw_tensor_alloc(ctx, B * w, &q->z));
        /* z = map(in) + c */
        MW_GO(map_apply(ctx, l, &sh, B, in, ld, 0.0, q->z.data));
        MW_GO(ctx->ops->chan_bias(ctx, B, sh.out, sh.S, 1.0, mw_at(ctx, l->theta, sh.off_c), 1,
                                  0, q->z.data));
        void *dest = y;
        if (u < k) {
            MW_GO(mw_tensor_alloc(ctx, B * w, &q->out));
            dest = q->out.data;
        }
        mw_view vz = mw_v(q->z.data, 0, (ptrdiff_t)w);
        MW_GO(mw_act_apply(ctx, MW_EW_ACT, s->f_act, s->leaky_slope, mw_d(1, B, w),
                           mw_v(dest, 0, (ptrdiff_t)w), vz, vz));
        if (s->bn)
            MW_GO(bn_unit(ctx, l, u, &sh, dest, q));
        if (level == MW_CACHE_NONE) {
            mw_tensor_free(ctx, &q->z);
            mw_tensor_free(ctx, &q->xhat);
            mw_tensor_free(ctx, &q->rstd);
        }
        if (u > 1 && level != MW_CACHE_FULL)
            mw_tensor_free(ctx, &c->u[u - 2].out);
        in = dest;
        ld = w;
    }
done:
    if (st != MW_OK || level == MW_CACHE_NONE) {
        cache_free(ctx, c);
        c = NULL;
    }
    if (cache_out)
        *cache_out = c;
    return st;
}

/* Unit u's output from its cache alone, the bits forward wrote: act(z) without BatchNorm;
 * with it γ x̂ + β, bn_forward's own two roundings (x̂ as kept, times γ, plus β). */
static mw_status unit_output(mw_ctx *ctx, const mw_layer *l, const unit_shape *sh,
                             const unit_cache *q, void *dest)
{
    const mw_spec *s = l->spec;
    const size_t B = l->batch, w = sh->out * sh->S;
    mw_dims d = mw_d(1, B, w);
    mw_view vd = mw_v(dest, 0, (ptrdiff_t)w);
    if (!s->bn) {
        mw_view vz = mw_v(q->z.data, 0, (ptrdiff_t)w);
        return mw_act_apply(ctx, MW_EW_ACT, s->f_act, s->leaky_slope, d, vd, vz, vz);
    }
    mw_status st = mw_copy(ctx, d, vd, mw_v(q->xhat.data, 0, (ptrdiff_t)w));
    if (st == MW_OK)
        st = ctx->ops->chan_mul(ctx, B, sh->out, sh->S, mw_at(ctx, l->theta, sh->off_gamma),
                                dest);
    if (st == MW_OK)
        st = ctx->ops->chan_bias(ctx, B, sh->out, sh->S, 1.0,
                                 mw_at(ctx, l->theta, sh->off_beta), 1, 0, dest);
    return st;
}

/* An INPUT cache made at a raised to FULL, and y = F(a) (y may be NULL), with no map
 * evaluated: a copied in, each unit's output rebuilt from its cache (unit_output). */
static mw_status complete(mw_ctx *ctx, const mw_layer *l, void *cache, mw_view a, void *y)
{
    f_cache *c = cache;
    const size_t B = l->batch;
    mw_status st = MW_OK;
    if (c->level == MW_CACHE_NONE)
        return mw_fail(ctx, MW_ERR_ARG, "complete: the cache holds no pre-activations");
    if (c->level == MW_CACHE_INPUT) {
        unit_shape sh = shape_of(l, 1);
        const size_t w = sh.in * sh.S;
        MW_GO(mw_tensor_alloc(ctx, B * w, &c->in1));
        MW_GO(mw_copy(ctx, mw_d(1, B, w), mw_v(c->in1.data, 0, (ptrdiff_t)w), a));
        for (int u = 1; u < c->k; u++) {
            unit_shape su = shape_of(l, u);
            unit_cache *q = &c->u[u - 1];
            MW_GO(mw_tensor_alloc(ctx, B * su.out * su.S, &q->out));
            MW_GO(unit_output(ctx, l, &su, q, q->out.data));
        }
        c->level = MW_CACHE_FULL;
    }
    if (y) {
        unit_shape sh = shape_of(l, c->k);
        MW_GO(unit_output(ctx, l, &sh, &c->u[c->k - 1], y));
    }
done:
    return st;
}

/* BatchNorm's input derivative with its batch coupling dropped — hz = γ rstd ⊙ h, as if
 * each sample's statistics were constants — for the negative control
 * additive-bn-vjp-uncoupled (layers/registry.c) only; γ and β's gradients stay right. */
static mw_status bn_vjp_uncoupled(mw_ctx *ctx, const mw_layer *l, const unit_shape *sh,
                                  const unit_cache *q, const void *h, void *hz, void *gg,
                                  void *gb)
{
    const size_t B = l->batch, w = sh->out * sh->S;
    const void *gamma = mw_at(ctx, l->theta, sh->off_gamma);
    mw_status st = ctx->ops->bn_vjp(ctx, B, sh->out, sh->S, q->xhat.data, q->rstd.data, gamma, h,
                                    NULL, gg, gb);
    if (st == MW_OK)
        st = mw_copy(ctx, mw_d(1, B, w), mw_v(hz, 0, (ptrdiff_t)w), mw_v((void *)h, 0, (ptrdiff_t)w));
    if (st == MW_OK)
        st = ctx->ops->chan_mul(ctx, B, sh->out, sh->S, gamma, hz);
    if (st == MW_OK)
        st = ctx->ops->chan_mul(ctx, B, sh->out, sh->S, q->rstd.data, hz);
    return st;
}

static mw_status vjp_impl(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                          double alpha, mw_view ha, void *gtheta, int bn_uncoupled)
{
    const mw_spec *s = l->spec;
    const f_cache *c = cache;
    const size_t B = l->batch;
    mw_status st = MW_OK;
    mw_tensor hz = {0}, hprev = {0};
    const void *h = hy; /* cotangent of the current unit's output, (B, out, S) */
    if (gtheta && c->level != MW_CACHE_FULL)
        return mw_fail(ctx, MW_ERR_ARG, "vjp: parameter gradient asked from a partial cache");
    for (int u = c->k; u >= 1; u--) {
        unit_shape sh = shape_of(l, u);
        const unit_cache *q = &c->u[u - 1];
        const size_t w = sh.out * sh.S;
        mw_view vz = mw_v(q->z.data, 0, (ptrdiff_t)w);
        MW_GO(mw_tensor_alloc(ctx, B * w, &hz));
        mw_view vhz = mw_v(hz.data, 0, (ptrdiff_t)w);
        if (s->bn) {
            void *gg = gtheta ? mw_at(ctx, gtheta, sh.off_gamma) : NULL;
            void *gb = gtheta ? mw_at(ctx, gtheta, sh.off_beta) : NULL;
            if (bn_uncoupled)
                MW_GO(bn_vjp_uncoupled(ctx, l, &sh, q, h, hz.data, gg, gb));
            else
                MW_GO(ctx->ops->bn_vjp(ctx, B, sh.out, sh.S, q->xhat.data, q->rstd.data,
                                       mw_at(ctx, l->theta, sh.off_gamma), h, hz.data, gg, gb));
            MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope, mw_d(1, B, w), vhz,
                               vz, vhz));
        } else {
            MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope, mw_d(1, B, w), vhz,
                               vz, mw_v((void *)h, 0, (ptrdiff_t)w)));
        }
        mw_tensor_free(ctx, &hprev);
        if (gtheta)
            MW_GO(map_vjp_param(ctx, &sh, B, hz.data, unit_input(c, u), gtheta));
        if (u > 1) {
            MW_GO(mw_tensor_alloc(ctx, B * sh.in * sh.S, &hprev));
            MW_GO(map_vjp_input(ctx, l, &sh, B, hz.data, 1.0, 0.0, hprev.data, sh.in * sh.S));
            h = hprev.data;
        } else if (ha.p) {
            MW_GO(map_vjp_input(ctx, l, &sh, B, hz.data, alpha, 1.0, ha.p, (size_t)ha.sr));
        }
        mw_tensor_free(ctx, &hz);
    }
done:
    mw_tensor_free(ctx, &hz);
    mw_tensor_free(ctx, &hprev);
    return st;
}

static mw_status jvp(mw_ctx *ctx, const mw_layer *l, size_t T, mw_view a, mw_view da,
                     const void *dtheta, size_t ld, void *y, void *dy)
{
    const mw_spec *s = l->spec;
    const size_t B = l->batch;
    mw_status st = MW_OK;
    f_cache *c = NULL;
    mw_tensor dbuf[2] = {{0}};
    if (da.p && da.st != (ptrdiff_t)B * da.sr)
        return mw_fail(ctx, MW_ERR_ARG, "jvp: tangent rows must be evenly strided");
    MW_GO(forward(ctx, l, a, y, MW_CACHE_FULL, (void **)&c));
    const void *din = da.p;
    size_t din_ld = (size_t)da.sr;
    for (int u = 1; u <= c->k; u++) {
        unit_shape sh = shape_of(l, u);
        const unit_cache *q = &c->u[u - 1];
        const size_t w = sh.out * sh.S;
        void *dz = dy;
        if (u < c->k) {
            mw_tensor *buf = &dbuf[u % 2];
            MW_GO(mw_tensor_alloc(ctx, T * B * w, buf));
            dz = buf->data;
        }
        mw_view vdz = mw_v(dz, (ptrdiff_t)(B * w), (ptrdiff_t)w);
        /* dz = map(din), all T*B images at once */
        if (din)
            MW_GO(map_apply(ctx, l, &sh, T * B, din, din_ld, 0.0, dz));
        else
            MW_GO(mw_fill(ctx, mw_d(1, T * B, w), mw_v(dz, 0, (ptrdiff_t)w), 0.0));
        /* + dW_t in + dc_t for each tangent t */
        if (dtheta) {
            MW_GO(map_param_tangent(ctx, &sh, T, B, unit_input(c, u),
                                    mw_at(ctx, dtheta, sh.off_W), ld, dz));
            MW_GO(ctx->ops->chan_bias(ctx, T * B, sh.out, sh.S, 1.0,
                                      mw_at(ctx, dtheta, sh.off_c), B, ld, dz));
        }
        /* dp = act'(z) ⊙ dz, z shared by all tangents */
        MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope, mw_d(T, B, w), vdz,
                           mw_v(q->z.data, 0, (ptrdiff_t)w), vdz));
        if (s->bn) {
            mw_view dg = {0}, db = {0};
            if (dtheta) {
                dg = mw_v((void *)mw_at(ctx, dtheta, sh.off_gamma), (ptrdiff_t)ld, 0);
                db = mw_v((void *)mw_at(ctx, dtheta, sh.off_beta), (ptrdiff_t)ld, 0);
            }
            MW_GO(ctx->ops->bn_jvp(ctx, T, B, sh.out, sh.S, q->xhat.data, q->rstd.data,
                                   mw_at(ctx, l->theta, sh.off_gamma), dz, dg, db, dz));
        }
        if (u > 1)
            mw_tensor_free(ctx, &dbuf[(u - 1) % 2]);
        din = dz;
        din_ld = w;
    }
done:
    mw_tensor_free(ctx, &dbuf[0]);
    mw_tensor_free(ctx, &dbuf[1]);
    cache_free(ctx, c);
    return st;
}

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     double alpha, mw_view ha, void *gtheta)
{
    return vjp_impl(ctx, l, cache, hy, alpha, ha, gtheta, 0);
}

static mw_status vjp_bn_uncoupled(mw_ctx *ctx, const mw_layer *l, const void *cache,
                                  const void *hy, double alpha, mw_view ha, void *gtheta)
{
    return vjp_impl(ctx, l, cache, hy, alpha, ha, gtheta, 1);
}

const mw_inner_ops mw_f_ops = {
    .forward = forward,
    .cache_free = cache_free,
    .complete = complete,
    .jvp = jvp,
    .vjp = vjp,
};

const mw_inner_ops mw_f_ops_bn_uncoupled = {
    .forward = forward,
    .cache_free = cache_free,
    .complete = complete,
    .jvp = jvp,
    .vjp = vjp_bn_uncoupled,
};
