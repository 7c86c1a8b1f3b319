/* Dense F (DESIGN.md §2): k units, unit u: z_u = in_u W_uᵀ + c_u, p_u = act(z_u), then
 * BatchNorm over the batch when the spec asks (q_u = γ x̂ + β), and out_u feeds unit
 * u+1. Shapes: W_u [out_u][in_u], first unit in = n/2, last unit out = n/2.
 *
 * What a cache keeps per unit: z_u (for act'), x̂_u and rstd_u (for BN's input
 * derivative) at level INPUT; also every unit's input (a copy of a for unit 1, out_u
 * for the others) at level FULL, which the weight gradient needs. */
#include <stdlib.h>

#include "inner.h"

typedef struct unit_shape {
    size_t in, out;
    size_t off_W, off_c, off_gamma, off_beta; /* within the layer's parameters */
} unit_shape;

typedef struct unit_cache {
    mw_tensor z;          /* (B, out) pre-activation */
    mw_tensor xhat, rstd; /* BN: (B, out) and (out) */
    mw_tensor out;        /* (B, out): the unit's output, the next unit's input (u < k) */
} unit_cache;

typedef struct f_cache {
    mw_cache_level level;
    int k;
    mw_tensor in1;        /* FULL: copy of a, the first unit's input */
    unit_cache u[];
} f_cache;

static unit_shape shape_of(const mw_spec *s, int layer, int unit)
{
    unit_shape sh = {0};
    size_t off = 0;
    for (int u = 1; u <= unit; u++) {
        int o, i;
        mw_spec_unit_shape(s, layer, u, &o, &i);
        sh.in = (size_t)i;
        sh.out = (size_t)o;
        sh.off_W = off;
        sh.off_c = off + sh.in * sh.out;
        sh.off_gamma = sh.off_c + sh.out;
        sh.off_beta = sh.off_gamma + sh.out;
        off = sh.off_c + sh.out * (s->bn ? 3 : 1);
    }
    return sh;
}

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
    f_cache *c = calloc(1, sizeof *c + (size_t)k * sizeof(unit_cache));
    if (!c)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a layer cache");
    c->level = level;
    c->k = k;
    if (level == MW_CACHE_FULL) {
        unit_shape sh = shape_of(s, l->index, 1);
        MW_GO(mw_tensor_alloc(ctx, B * sh.in, &c->in1));
        MW_GO(mw_copy(ctx, mw_d(1, B, sh.in), mw_v(c->in1.data, 0, (ptrdiff_t)sh.in), a));
    }
    mw_view in = a;
    for (int u = 1; u <= k; u++) {
        unit_shape sh = shape_of(s, l->index, u);
        unit_cache *q = &c->u[u - 1];
        const void *W = mw_at(ctx, l->theta, sh.off_W);
        MW_GO(mw_tensor_alloc(ctx, B * sh.out, &q->z));
        /* z = c (broadcast over rows) + in Wᵀ */
        MW_GO(mw_copy(ctx, mw_d(1, B, sh.out), mw_v(q->z.data, 0, (ptrdiff_t)sh.out),
                      mw_v(mw_at(ctx, l->theta, sh.off_c), 0, 0)));
        MW_GO(ctx->ops->gemm(ctx, false, true, B, sh.out, sh.in, 1.0, in.p, (size_t)in.sr, 0, W,
                             sh.in, 0, 1.0, q->z.data, sh.out, 0, 1));
        void *dest = y;
        if (u < k) {
            MW_GO(mw_tensor_alloc(ctx, B * sh.out, &q->out));
            dest = q->out.data;
        }
        mw_view vz = mw_v(q->z.data, 0, (ptrdiff_t)sh.out);
        MW_GO(mw_act_apply(ctx, MW_EW_ACT, s->f_act, s->leaky_slope, mw_d(1, B, sh.out),
                           mw_v(dest, 0, (ptrdiff_t)sh.out), vz, vz));
        if (s->bn) {
            MW_GO(mw_tensor_alloc(ctx, B * sh.out, &q->xhat));
            MW_GO(mw_tensor_alloc(ctx, sh.out, &q->rstd));
            MW_GO(ctx->ops->bn_forward(ctx, B, sh.out, 1, s->bn_eps, dest,
                                       mw_at(ctx, l->theta, sh.off_gamma),
                                       mw_at(ctx, l->theta, sh.off_beta), dest, q->xhat.data,
                                       q->rstd.data));
        }
        if (level == MW_CACHE_NONE) {
            mw_tensor_free(ctx, &q->z);
            mw_tensor_free(ctx, &q->xhat);
            mw_tensor_free(ctx, &q->rstd);
        }
        if (u > 1 && level != MW_CACHE_FULL)
            mw_tensor_free(ctx, &c->u[u - 2].out);
        in = mw_v(dest, 0, (ptrdiff_t)sh.out);
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

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     double alpha, mw_view ha, void *gtheta)
{
    const mw_spec *s = l->spec;
    const f_cache *c = cache;
    const size_t B = l->batch;
    mw_status st = MW_OK;
    mw_tensor hz = {0}, hprev = {0};
    const void *h = hy; /* cotangent of the current unit's output, (B, out) */
    if (gtheta && c->level != MW_CACHE_FULL)
        return mw_fail(ctx, MW_ERR_ARG, "vjp: parameter gradient asked from a partial cache");
    for (int u = c->k; u >= 1; u--) {
        unit_shape sh = shape_of(s, l->index, u);
        const unit_cache *q = &c->u[u - 1];
        const void *W = mw_at(ctx, l->theta, sh.off_W);
        mw_view vz = mw_v(q->z.data, 0, (ptrdiff_t)sh.out);
        MW_GO(mw_tensor_alloc(ctx, B * sh.out, &hz));
        mw_view vhz = mw_v(hz.data, 0, (ptrdiff_t)sh.out);
        if (s->bn) {
            void *gg = gtheta ? mw_at(ctx, gtheta, sh.off_gamma) : NULL;
            void *gb = gtheta ? mw_at(ctx, gtheta, sh.off_beta) : NULL;
            MW_GO(ctx->ops->bn_vjp(ctx, B, sh.out, 1, q->xhat.data, q->rstd.data,
                                   mw_at(ctx, l->theta, sh.off_gamma), h, hz.data, gg, gb));
            MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope,
                               mw_d(1, B, sh.out), vhz, vz, vhz));
        } else {
            MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope,
                               mw_d(1, B, sh.out), vhz, vz, mw_v((void *)h, 0, (ptrdiff_t)sh.out)));
        }
        mw_tensor_free(ctx, &hprev);
        if (gtheta) {
            /* gW = hzᵀ in, gc = Σ_rows hz */
            MW_GO(ctx->ops->gemm(ctx, true, false, sh.out, sh.in, B, 1.0, hz.data, sh.out, 0,
                                 unit_input(c, u), sh.in, 0, 0.0,
                                 mw_at(ctx, gtheta, sh.off_W), sh.in, 0, 1));
            MW_GO(ctx->ops->sum_rows(ctx, mw_d(1, B, sh.out), vhz, 1.0, 0.0,
                                     mw_v(mw_at(ctx, gtheta, sh.off_c), 0, 0)));
        }
        if (u > 1) {
            MW_GO(mw_tensor_alloc(ctx, B * sh.in, &hprev));
            MW_GO(ctx->ops->gemm(ctx, false, false, B, sh.in, sh.out, 1.0, hz.data, sh.out, 0,
                                 W, sh.in, 0, 0.0, hprev.data, sh.in, 0, 1));
            h = hprev.data;
        } else if (ha.p) {
            MW_GO(ctx->ops->gemm(ctx, false, false, B, sh.in, sh.out, alpha, hz.data, sh.out,
                                 0, W, sh.in, 0, 1.0, ha.p, (size_t)ha.sr, 0, 1));
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
    mw_view din = da;
    for (int u = 1; u <= c->k; u++) {
        unit_shape sh = shape_of(s, l->index, u);
        const unit_cache *q = &c->u[u - 1];
        void *dz = dy;
        if (u < c->k) {
            mw_tensor *buf = &dbuf[u % 2];
            MW_GO(mw_tensor_alloc(ctx, T * B * sh.out, buf));
            dz = buf->data;
        }
        const ptrdiff_t st_dz = (ptrdiff_t)(B * sh.out);
        mw_view vdz = mw_v(dz, st_dz, (ptrdiff_t)sh.out);
        /* dz = din Wᵀ (all T*B rows at once) */
        if (din.p)
            MW_GO(ctx->ops->gemm(ctx, false, true, T * B, sh.out, sh.in, 1.0, din.p,
                                 (size_t)din.sr, 0, mw_at(ctx, l->theta, sh.off_W), sh.in, 0,
                                 0.0, dz, sh.out, 0, 1));
        else
            MW_GO(mw_fill(ctx, mw_d(1, T * B, sh.out), mw_v(dz, 0, (ptrdiff_t)sh.out), 0.0));
        /* + in dW_tᵀ + dc_t for each tangent t */
        if (dtheta) {
            MW_GO(ctx->ops->gemm(ctx, false, true, B, sh.out, sh.in, 1.0, unit_input(c, u),
                                 sh.in, 0, mw_at(ctx, dtheta, sh.off_W), sh.in, (ptrdiff_t)ld,
                                 1.0, dz, sh.out, st_dz, T));
            MW_GO(mw_axpby(ctx, mw_d(T, B, sh.out), vdz, 1.0, vdz, 1.0,
                           mw_v((void *)mw_at(ctx, dtheta, sh.off_c), (ptrdiff_t)ld, 0)));
        }
        /* dp = act'(z) ⊙ dz, z shared by all tangents */
        MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, s->f_act, s->leaky_slope, mw_d(T, B, sh.out),
                           vdz, mw_v(q->z.data, 0, (ptrdiff_t)sh.out), vdz));
        if (s->bn) {
            mw_view dg = {0}, db = {0};
            if (dtheta) {
                dg = mw_v((void *)mw_at(ctx, dtheta, sh.off_gamma), (ptrdiff_t)ld, 0);
                db = mw_v((void *)mw_at(ctx, dtheta, sh.off_beta), (ptrdiff_t)ld, 0);
            }
            MW_GO(ctx->ops->bn_jvp(ctx, T, B, sh.out, 1, q->xhat.data, q->rstd.data,
                                   mw_at(ctx, l->theta, sh.off_gamma), dz, dg, db, dz));
        }
        if (u > 1)
            mw_tensor_free(ctx, &dbuf[(u - 1) % 2]);
        din = vdz;
    }
done:
    mw_tensor_free(ctx, &dbuf[0]);
    mw_tensor_free(ctx, &dbuf[1]);
    cache_free(ctx, c);
    return st;
}

const mw_inner_ops mw_dense_f_ops = {
    .forward = forward,
    .cache_free = cache_free,
    .jvp = jvp,
    .vjp = vjp,
};
