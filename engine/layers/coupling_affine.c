/* Affine coupling layer (RealNVP, Glow; spec.coupling = affine), written by following
 * docs/adding-a-layer.md:
 *
 *   (r, t) = F(a)      s = tanh(r)      e = exp(s)      z = b ⊙ e + t      y = (a, σ(z))
 *
 * F is the coupling's inner function with two outputs (its last unit gives 2·n/2 values a
 * sample: r first, then t; for images the first C/2 channels are r); tanh keeps the scale
 * e in [1/e, e], so the layer is as well conditioned as its σ allows. Halves as in the
 * additive coupling (coupling.h). With D = diag(σ'(z)) and r' = tanh'(r):
 *
 *   inverse:  a = y_a,  z = σ⁻¹(y_b),  b = (z − t) ⊙ exp(−s)
 *   jvp:      dz = e ⊙ db + b ⊙ e ⊙ r' ⊙ dr + dt   (dr, dt = F's jvp);  dy = (da, D dz)
 *   vjp:      h_z = D h_{y,b};  h_F = (h_z ⊙ b ⊙ e ⊙ r', h_z);  (gF_a, g) = vjp_F(a, h_F);
 *             h_x = (h_{y,a} + gF_a, h_z ⊙ e)
 *   vijp:     h_z = h_{x,b} ⊙ exp(−s);  h_F as above;  (gF_a, g) = vjp_F(a, h_F);
 *             h_y = (h_{x,a} − gF_a, h_z ⊙ D⁻¹)        — one vjp through F */
#include <stdlib.h>

#include "coupling.h"

typedef struct affine_cache {
    void *f;       /* F's cache */
    mw_tensor fo;  /* (B, 2h): F's output (r, t) */
    mw_tensor e;   /* (B, h): exp(tanh(r)) */
    mw_tensor b;   /* (B, h): the transformed half of the input */
    mw_tensor z;   /* (B, h): pre-σ */
} affine_cache;

static void cache_free(mw_ctx *ctx, const mw_layer *l, void *p)
{
    affine_cache *c = p;
    if (!c)
        return;
    l->inner->cache_free(ctx, c->f);
    mw_tensor_free(ctx, &c->fo);
    mw_tensor_free(ctx, &c->e);
    mw_tensor_free(ctx, &c->b);
    mw_tensor_free(ctx, &c->z);
    free(c);
}

/* r and t, the halves of F's (B, 2h) output, as (1, B, h) views. */
static mw_view r_of(const halves *hv, void *fo)
{
    return mw_v(fo, 0, (ptrdiff_t)(2 * hv->h));
}

static mw_view t_of(const mw_ctx *ctx, const halves *hv, void *fo)
{
    return mw_v(mw_at(ctx, fo, hv->h), 0, (ptrdiff_t)(2 * hv->h));
}

static mw_view flat(void *p, const halves *hv)
{
    return mw_v(p, 0, (ptrdiff_t)hv->h);
}

/* The forward computation into a fresh cache c: F(a) at `level`, e, a copy of b, z. */
static mw_status compute(mw_ctx *ctx, const mw_layer *l, const halves *hv, const void *x,
                         mw_cache_level level, affine_cache *c)
{
    const size_t B = hv->B, h = hv->h;
    mw_dims d = mw_d(1, B, h);
    mw_status st = MW_OK;
    MW_GO(mw_tensor_alloc(ctx, B * 2 * h, &c->fo));
    MW_GO(mw_tensor_alloc(ctx, B * h, &c->e));
    MW_GO(mw_tensor_alloc(ctx, B * h, &c->b));
    MW_GO(mw_tensor_alloc(ctx, B * h, &c->z));
    MW_GO(l->inner->forward(ctx, l, half(ctx, hv, x, hv->off_a), c->fo.data, level, &c->f));
    /* e = exp(tanh(r)) */
    MW_GO(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0.0, d, flat(c->e.data, hv),
                       r_of(hv, c->fo.data), r_of(hv, c->fo.data)));
    mw_ew ex = {MW_EW_EXP, MW_ACT_IDENTITY, 0, 1.0, 0, d, flat(c->e.data, hv),
                flat(c->e.data, hv), {0}, {0}};
    MW_GO(ctx->ops->ew(ctx, &ex));
    /* z = b ⊙ e + t */
    MW_GO(mw_copy(ctx, d, flat(c->b.data, hv), half(ctx, hv, x, hv->off_b)));
    mw_ew mul = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, flat(c->z.data, hv),
                 flat(c->b.data, hv), flat(c->e.data, hv), {0}};
    MW_GO(ctx->ops->ew(ctx, &mul));
    MW_GO(mw_axpby(ctx, d, flat(c->z.data, hv), 1.0, flat(c->z.data, hv), 1.0,
                   t_of(ctx, hv, c->fo.data)));
done:
    return st;
}

static mw_status emit(mw_ctx *ctx, const mw_layer *l, const halves *hv, const void *x,
                      const affine_cache *c, void *y)
{
    mw_dims d = mw_d(1, hv->B, hv->h);
    mw_status st = mw_copy(ctx, d, half(ctx, hv, y, hv->off_a), half(ctx, hv, x, hv->off_a));
    if (st == MW_OK)
        st = act_sigma(ctx, l, MW_EW_ACT, d, half(ctx, hv, y, hv->off_b), flat(c->z.data, hv),
                       flat(c->z.data, hv));
    return st;
}

static mw_status forward(mw_ctx *ctx, const mw_layer *l, const void *x, void *y,
                         mw_cache_level level, void **cache_out)
{
    halves hv = halves_of(l);
    mw_status st = MW_OK;
    affine_cache *c = calloc(1, sizeof *c);
    if (!c)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a layer cache");
    /* the vjp needs F's own cache at the caller's level, and always e, b, z, r */
    MW_GO(compute(ctx, l, &hv, x, level, c));
    if (y)
        MW_GO(emit(ctx, l, &hv, x, c, y));
done:
    if (st != MW_OK || level == MW_CACHE_NONE) {
        cache_free(ctx, l, c);
        c = NULL;
    }
    if (cache_out)
        *cache_out = c;
    return st;
}

static mw_status inverse(mw_ctx *ctx, const mw_layer *l, const void *y, void *x)
{
    halves hv = halves_of(l);
    const size_t B = hv.B, h = hv.h;
    mw_dims d = mw_d(1, B, h);
    mw_status st = MW_OK;
    mw_tensor fo = {0}, einv = {0};
    mw_view xb = half(ctx, &hv, x, hv.off_b);
    MW_GO(mw_copy(ctx, d, half(ctx, &hv, x, hv.off_a), half(ctx, &hv, y, hv.off_a)));
    MW_GO(mw_tensor_alloc(ctx, B * 2 * h, &fo));
    MW_GO(mw_tensor_alloc(ctx, B * h, &einv));
    MW_GO(l->inner->forward(ctx, l, half(ctx, &hv, y, hv.off_a), fo.data, MW_CACHE_NONE, NULL));
    /* exp(−tanh(r)) */
    MW_GO(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0.0, d, flat(einv.data, &hv),
                       r_of(&hv, fo.data), r_of(&hv, fo.data)));
    mw_ew ex = {MW_EW_EXP, MW_ACT_IDENTITY, 0, -1.0, 0, d, flat(einv.data, &hv),
                flat(einv.data, &hv), {0}, {0}};
    MW_GO(ctx->ops->ew(ctx, &ex));
    /* b = (σ⁻¹(y_b) − t) ⊙ exp(−s) */
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_INV, d, xb, half(ctx, &hv, y, hv.off_b), xb));
    MW_GO(mw_axpby(ctx, d, xb, 1.0, xb, -1.0, t_of(ctx, &hv, fo.data)));
    mw_ew mul = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, xb, xb, flat(einv.data, &hv), {0}};
    MW_GO(ctx->ops->ew(ctx, &mul));
    st = mw_coupling_explain_inverse(ctx, l, &hv, y, x,
                                     mw_check_finite(ctx, x, B * hv.n, hv.n, "reconstructed input"));
done:
    mw_tensor_free(ctx, &fo);
    mw_tensor_free(ctx, &einv);
    return st;
}

/* F's cotangent (B, 2h) from h_z: (h_z ⊙ b ⊙ e ⊙ tanh'(r), h_z). */
static mw_status f_cotangent(mw_ctx *ctx, const halves *hv, const affine_cache *c,
                             const mw_tensor *hz, mw_tensor *hf)
{
    const size_t B = hv->B, h = hv->h;
    mw_dims d = mw_d(1, B, h);
    mw_status st = mw_tensor_alloc(ctx, B * 2 * h, hf);
    if (st != MW_OK)
        return st;
    mw_view hr = r_of(hv, hf->data), ht = t_of(ctx, hv, hf->data);
    mw_ew m1 = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, hr, flat(hz->data, hv),
                flat(c->b.data, hv), {0}};
    mw_ew m2 = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, hr, hr, flat(c->e.data, hv), {0}};
    if ((st = ctx->ops->ew(ctx, &m1)) == MW_OK && (st = ctx->ops->ew(ctx, &m2)) == MW_OK &&
        (st = mw_act_apply(ctx, MW_EW_ACT_DMUL, MW_ACT_TANH, 0.0, d, hr, r_of(hv, c->fo.data),
                           hr)) == MW_OK)
        st = mw_copy(ctx, d, ht, flat(hz->data, hv));
    if (st != MW_OK)
        mw_tensor_free(ctx, hf);
    return st;
}

static mw_status jvp(mw_ctx *ctx, const mw_layer *l, size_t T, const void *x, const void *dx,
                     const void *dtheta, size_t ld, void *y, void *dy)
{
    halves hv = halves_of(l);
    const size_t B = hv.B, h = hv.h;
    mw_dims dT = mw_d(T, B, h);
    mw_status st = MW_OK;
    affine_cache c = {0};
    mw_tensor df = {0}, dz = {0}, tmp = {0};
    /* the primal (F's cache not needed: F's jvp recomputes what it needs) */
    MW_GO(compute(ctx, l, &hv, x, MW_CACHE_NONE, &c));
    MW_GO(mw_tensor_alloc(ctx, T * B * 2 * h, &df));
    MW_GO(mw_tensor_alloc(ctx, T * B * h, &dz));
    {
        mw_tensor fo = {0};
        MW_GO(mw_tensor_alloc(ctx, B * 2 * h, &fo));
        st = l->inner->jvp(ctx, l, T, half(ctx, &hv, x, hv.off_a), half(ctx, &hv, dx, hv.off_a),
                           dtheta, ld, fo.data, df.data);
        mw_tensor_free(ctx, &fo);
        MW_GO(st);
    }
    const ptrdiff_t sdf = (ptrdiff_t)(B * 2 * h), sdz = (ptrdiff_t)(B * h);
    mw_view vdr = mw_v(df.data, sdf, (ptrdiff_t)(2 * h));
    mw_view vdt = mw_v(mw_at(ctx, df.data, h), sdf, (ptrdiff_t)(2 * h));
    mw_view vdz = mw_v(dz.data, sdz, (ptrdiff_t)h);
    mw_view vr = mw_v(c.fo.data, 0, (ptrdiff_t)(2 * h)), ve = mw_v(c.e.data, 0, (ptrdiff_t)h);
    mw_view vb = mw_v(c.b.data, 0, (ptrdiff_t)h);
    /* dz = b ⊙ e ⊙ tanh'(r) ⊙ dr + dt + e ⊙ db */
    MW_GO(mw_act_apply(ctx, MW_EW_ACT_DMUL, MW_ACT_TANH, 0.0, dT, vdz, vr, vdr));
    mw_ew m1 = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, dT, vdz, vdz, ve, {0}};
    mw_ew m2 = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, dT, vdz, vdz, vb, {0}};
    MW_GO(ctx->ops->ew(ctx, &m1));
    MW_GO(ctx->ops->ew(ctx, &m2));
    MW_GO(mw_axpby(ctx, dT, vdz, 1.0, vdz, 1.0, vdt));
    if (dx) {
        MW_GO(mw_tensor_alloc(ctx, T * B * h, &tmp));
        mw_view vt = mw_v(tmp.data, sdz, (ptrdiff_t)h);
        mw_ew m3 = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, dT, vt, half(ctx, &hv, dx, hv.off_b), ve, {0}};
        MW_GO(ctx->ops->ew(ctx, &m3));
        MW_GO(mw_axpby(ctx, dT, vdz, 1.0, vdz, 1.0, vt));
        MW_GO(mw_copy(ctx, dT, half(ctx, &hv, dy, hv.off_a), half(ctx, &hv, dx, hv.off_a)));
    } else {
        MW_GO(mw_fill(ctx, dT, half(ctx, &hv, dy, hv.off_a), 0.0));
    }
    /* dy = (da, D dz) */
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_DMUL, dT, half(ctx, &hv, dy, hv.off_b),
                    mw_v(c.z.data, 0, (ptrdiff_t)h), vdz));
    if (y)
        MW_GO(emit(ctx, l, &hv, x, &c, y));
done:
    l->inner->cache_free(ctx, c.f);
    c.f = NULL;
    mw_tensor_free(ctx, &c.fo), mw_tensor_free(ctx, &c.e), mw_tensor_free(ctx, &c.b);
    mw_tensor_free(ctx, &c.z);
    mw_tensor_free(ctx, &df), mw_tensor_free(ctx, &dz), mw_tensor_free(ctx, &tmp);
    return st;
}

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     void *hx, void *gtheta)
{
    const affine_cache *c = cache;
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor hz = {0}, hf = {0};
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &hz));
    /* h_z = h_{y,b} ⊙ σ'(z) */
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_DMUL, d, flat(hz.data, &hv), flat(c->z.data, &hv),
                    half(ctx, &hv, hy, hv.off_b)));
    MW_GO(f_cotangent(ctx, &hv, c, &hz, &hf));
    if (hx)
        MW_GO(mw_copy(ctx, d, half(ctx, &hv, hx, hv.off_a), half(ctx, &hv, hy, hv.off_a)));
    MW_GO(l->inner->vjp(ctx, l, c->f, hf.data, 1.0, half(ctx, &hv, hx, hv.off_a), gtheta));
    if (hx) { /* h_{x,b} = h_z ⊙ e */
        mw_ew mul = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, half(ctx, &hv, hx, hv.off_b),
                     flat(hz.data, &hv), flat(c->e.data, &hv), {0}};
        MW_GO(ctx->ops->ew(ctx, &mul));
    }
done:
    mw_tensor_free(ctx, &hz);
    mw_tensor_free(ctx, &hf);
    return st;
}

static mw_status vijp(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx, void *y,
                      void *hy, void *gtheta)
{
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    affine_cache c = {0};
    mw_tensor hz = {0}, hf = {0};
    MW_GO(compute(ctx, l, &hv, x, MW_CACHE_FULL, &c));
    MW_GO(emit(ctx, l, &hv, x, &c, y));
    /* h_z = h_{x,b} / e */
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &hz));
    mw_ew dv = {MW_EW_DIV, MW_ACT_IDENTITY, 0, 0, 0, d, flat(hz.data, &hv), flat(c.e.data, &hv),
                half(ctx, &hv, hx, hv.off_b), {0}};
    MW_GO(ctx->ops->ew(ctx, &dv));
    MW_GO(f_cotangent(ctx, &hv, &c, &hz, &hf));
    /* h_{y,a} = h_{x,a} − gF_a;  h_{y,b} = h_z ⊙ D⁻¹ */
    MW_GO(mw_copy(ctx, d, half(ctx, &hv, hy, hv.off_a), half(ctx, &hv, hx, hv.off_a)));
    MW_GO(l->inner->vjp(ctx, l, c.f, hf.data, -1.0, half(ctx, &hv, hy, hv.off_a), gtheta));
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_DINV_MUL, d, half(ctx, &hv, hy, hv.off_b),
                    flat(c.z.data, &hv), flat(hz.data, &hv)));
done:
    l->inner->cache_free(ctx, c.f);
    mw_tensor_free(ctx, &c.fo), mw_tensor_free(ctx, &c.e), mw_tensor_free(ctx, &c.b);
    mw_tensor_free(ctx, &c.z);
    mw_tensor_free(ctx, &hz);
    mw_tensor_free(ctx, &hf);
    return st;
}

const mw_layer_ops mw_coupling_affine_ops = {
    .name = "affine",
    .forward = forward,
    .cache_free = cache_free,
    .inverse = inverse,
    .jvp = jvp,
    .vjp = vjp,
    .vijp = vijp,
};
