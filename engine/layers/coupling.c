/* Additive coupling layer (the paper's eq. 12, output activation σ; docs/architecture.md §2):
 *
 *   z = b + F(a)        y = (a, σ(z))        D = diag(σ'(z))
 *
 * Odd layers condition on the first half of the features (a = x[:n/2]) and transform the
 * second; even layers the reverse. Each half keeps its place. For images (C, H, W) the
 * halves are the first and last C/2 channels, which in row-major (C, H, W) are exactly the
 * first and last n/2 features: one code path for both. F is the inner function
 * (engine/layers/inner.h), reached through l->inner; this file never looks inside it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "coupling.h"

typedef struct coupling_cache {
    void *f;     /* F's cache */
    mw_tensor z; /* (B, n/2) pre-σ; kept only when σ is not the identity */
} coupling_cache;

static void cache_free(mw_ctx *ctx, const mw_layer *l, void *p)
{
    coupling_cache *c = p;
    if (!c)
        return;
    l->inner->cache_free(ctx, c->f);
    mw_tensor_free(ctx, &c->z);
    free(c);
}

/* z = b + F(a) into a fresh (B, n/2) tensor; *fcache as F's forward leaves it. */
static mw_status shift(mw_ctx *ctx, const mw_layer *l, const halves *hv, const void *x,
                       mw_cache_level level, void **fcache, mw_tensor *z)
{
    mw_status st = mw_tensor_alloc(ctx, hv->B * hv->h, z);
    if (st != MW_OK)
        return st;
    mw_view vz = mw_v(z->data, 0, (ptrdiff_t)hv->h);
    st = l->inner->forward(ctx, l, half(ctx, hv, x, hv->off_a), z->data, level, fcache);
    if (st == MW_OK)
        st = mw_axpby(ctx, mw_d(1, hv->B, hv->h), vz, 1.0, vz, 1.0, half(ctx, hv, x, hv->off_b));
    if (st != MW_OK)
        mw_tensor_free(ctx, z);
    return st;
}

/* y = (a, σ(z)) */
static mw_status emit(mw_ctx *ctx, const mw_layer *l, const halves *hv, const void *x,
                      const mw_tensor *z, void *y)
{
    mw_dims d = mw_d(1, hv->B, hv->h);
    mw_view vz = mw_v(z->data, 0, (ptrdiff_t)hv->h);
    mw_status st = mw_copy(ctx, d, half(ctx, hv, y, hv->off_a), half(ctx, hv, x, hv->off_a));
    if (st == MW_OK)
        st = act_sigma(ctx, l, MW_EW_ACT, d, half(ctx, hv, y, hv->off_b), vz, vz);
    return st;
}

/* The layer's cache from F's cache and z, both taken (set to NULL); z is kept only where
 * σ is not the identity (vjp needs σ'(z)). */
static mw_status make_cache(mw_ctx *ctx, const mw_layer *l, void **fcache, mw_tensor *z,
                            coupling_cache **out)
{
    coupling_cache *c = calloc(1, sizeof *c);
    if (!c)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a layer cache");
    c->f = *fcache;
    *fcache = NULL;
    if (l->spec->out_act != MW_ACT_IDENTITY) {
        c->z = *z;
        z->data = NULL;
    }
    *out = c;
    return MW_OK;
}

static mw_status forward(mw_ctx *ctx, const mw_layer *l, const void *x, void *y,
                         mw_cache_level level, void **cache_out)
{
    halves hv = halves_of(l);
    mw_status st = MW_OK;
    coupling_cache *c = NULL;
    mw_tensor z = {0};
    void *fcache = NULL;
    MW_GO(shift(ctx, l, &hv, x, level, &fcache, &z));
    if (y)
        MW_GO(emit(ctx, l, &hv, x, &z, y));
    if (level != MW_CACHE_NONE)
        MW_GO(make_cache(ctx, l, &fcache, &z, &c));
done:
    l->inner->cache_free(ctx, fcache);
    mw_tensor_free(ctx, &z);
    if (cache_out)
        *cache_out = c;
    return st;
}

/* The reconstructed input x is not finite: say why, in the message, from the first bad
 * element. In the transformed half b = σ⁻¹(y_b) − F(a): σ = tanh's inverse is infinite at
 * y = ±1 — a tanh output that rounded to ±1 (|z| above about 9.0 in float32, 19.1 in
 * float64) — and NaN beyond, where an error reconstructed upstream pushed y out of
 * (−1, 1); or y, or F(a), was not finite already. Shared by the couplings (coupling.h). */
mw_status mw_coupling_explain_inverse(mw_ctx *ctx, const mw_layer *l, const halves *hv,
                                      const void *y, const void *x, mw_status st)
{
    size_t at;
    double yv = 0.0;
    if (st != MW_ERR_NONFINITE ||
        ctx->ops->find_nonfinite(ctx, hv->B * hv->n, x, &at) != MW_OK || at == hv->B * hv->n ||
        ctx->ops->download(ctx, &yv, mw_at(ctx, y, at), 1) != MW_OK)
        return st;
    const size_t col = at % hv->n;
    const int in_b = col >= hv->off_b && col < hv->off_b + hv->h;
    char was[320];
    snprintf(was, sizeof was, "%s", mw_ctx_message(ctx));
    if (!in_b)
        return st; /* a copy of y_a: y itself was not finite, as its own message says */
    if (!isfinite(yv))
        return mw_fail(ctx, st, "%s: the layer's output y there is already %s", was,
                       isnan(yv) ? "NaN" : "infinite");
    if (l->spec->out_act == MW_ACT_TANH && fabs(yv) == 1.0)
        return mw_fail(ctx, st, "%s: its output y = tanh(z) there is exactly %+.0f (tanh rounded "
                       "to ±1 in %s, |z| beyond about %s), and atanh(±1) is infinite", was, yv,
                       mw_dtype_name(mw_ctx_dtype(ctx)),
                       mw_ctx_dtype(ctx) == MW_F32 ? "9.0" : "19.1");
    if (l->spec->out_act == MW_ACT_TANH && fabs(yv) > 1.0)
        return mw_fail(ctx, st, "%s: y = %.9g there, outside tanh's range (−1, 1): the layers "
                       "above reconstructed it with an error larger than 1 − |y|", was, yv);
    return mw_fail(ctx, st, "%s: y = %.9g there is finite, so F(a) is not (it overflowed)", was,
                   yv);
}

static mw_status inverse(mw_ctx *ctx, const mw_layer *l, const void *y, void *x)
{
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor f = {0};
    mw_view xb = half(ctx, &hv, x, hv.off_b);
    MW_GO(mw_copy(ctx, d, half(ctx, &hv, x, hv.off_a), half(ctx, &hv, y, hv.off_a)));
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &f));
    MW_GO(l->inner->forward(ctx, l, half(ctx, &hv, y, hv.off_a), f.data, MW_CACHE_NONE,
                                 NULL));
    /* b = σ⁻¹(y_b) - F(a) */
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_INV, d, xb, half(ctx, &hv, y, hv.off_b), xb));
    MW_GO(mw_axpby(ctx, d, xb, 1.0, xb, -1.0, mw_v(f.data, 0, (ptrdiff_t)hv.h)));
    st = mw_coupling_explain_inverse(ctx, l, &hv, y, x,
                                     mw_check_finite(ctx, x, hv.B * hv.n, hv.n,
                                                     "reconstructed input"));
done:
    mw_tensor_free(ctx, &f);
    return st;
}

/* inverse, keeping F(a)'s cache: a = y_a is the reconstructed x_a exactly, so F(a) here is
 * the F(a) that forward(x) would compute, and z = b + F(a) is formed from it by forward's
 * own addition (shift), the same bits. */
static mw_status inverse_cached(mw_ctx *ctx, const mw_layer *l, const void *y, void *x,
                                mw_cache_level level, void **cache_out)
{
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor f = {0};
    void *fcache = NULL;
    coupling_cache *c = NULL;
    mw_view xb = half(ctx, &hv, x, hv.off_b), vf = mw_v(NULL, 0, (ptrdiff_t)hv.h);
    *cache_out = NULL;
    MW_GO(mw_copy(ctx, d, half(ctx, &hv, x, hv.off_a), half(ctx, &hv, y, hv.off_a)));
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &f));
    vf.p = f.data;
    MW_GO(l->inner->forward(ctx, l, half(ctx, &hv, x, hv.off_a), f.data, level, &fcache));
    /* b = σ⁻¹(y_b) - F(a) */
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_INV, d, xb, half(ctx, &hv, y, hv.off_b), xb));
    MW_GO(mw_axpby(ctx, d, xb, 1.0, xb, -1.0, vf));
    MW_GO(mw_coupling_explain_inverse(ctx, l, &hv, y, x,
                                      mw_check_finite(ctx, x, hv.B * hv.n, hv.n,
                                                      "reconstructed input")));
    if (level == MW_CACHE_NONE)
        goto done;
    if (l->spec->out_act != MW_ACT_IDENTITY) /* z = F(a) + b, as shift forms it */
        MW_GO(mw_axpby(ctx, d, vf, 1.0, vf, 1.0, xb));
    MW_GO(make_cache(ctx, l, &fcache, &f, &c));
    *cache_out = c;
    c = NULL;
done:
    cache_free(ctx, l, c);
    l->inner->cache_free(ctx, fcache);
    mw_tensor_free(ctx, &f);
    return st;
}

static mw_status jvp(mw_ctx *ctx, const mw_layer *l, size_t T, const void *x, const void *dx,
                     const void *dtheta, size_t ld, void *y, void *dy)
{
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h), dT = mw_d(T, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor z = {0}, dz = {0};
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &z));
    MW_GO(mw_tensor_alloc(ctx, T * hv.B * hv.h, &dz));
    mw_view vz = mw_v(z.data, 0, (ptrdiff_t)hv.h);
    mw_view vdz = mw_v(dz.data, (ptrdiff_t)(hv.B * hv.h), (ptrdiff_t)hv.h);
    MW_GO(l->inner->jvp(ctx, l, T, half(ctx, &hv, x, hv.off_a), half(ctx, &hv, dx, hv.off_a),
                             dtheta, ld, z.data, dz.data));
    /* z = b + F(a), dz = dx_b + dF */
    MW_GO(mw_axpby(ctx, d, vz, 1.0, vz, 1.0, half(ctx, &hv, x, hv.off_b)));
    if (dx)
        MW_GO(mw_axpby(ctx, dT, vdz, 1.0, vdz, 1.0, half(ctx, &hv, dx, hv.off_b)));
    /* dy = (dx_a, D dz) */
    if (dx)
        MW_GO(mw_copy(ctx, dT, half(ctx, &hv, dy, hv.off_a), half(ctx, &hv, dx, hv.off_a)));
    else
        MW_GO(mw_fill(ctx, dT, half(ctx, &hv, dy, hv.off_a), 0.0));
    MW_GO(act_sigma(ctx, l, MW_EW_ACT_DMUL, dT, half(ctx, &hv, dy, hv.off_b),
                    mw_v(z.data, 0, (ptrdiff_t)hv.h), vdz));
    if (y)
        MW_GO(emit(ctx, l, &hv, x, &z, y));
done:
    mw_tensor_free(ctx, &z);
    mw_tensor_free(ctx, &dz);
    return st;
}

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     void *hx, void *gtheta)
{
    const coupling_cache *c = cache;
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor hz = {0};
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &hz));
    mw_view vhz = mw_v(hz.data, 0, (ptrdiff_t)hv.h);
    /* h_z = h_{y,b} ⊙ σ'(z) */
    if (l->spec->out_act == MW_ACT_IDENTITY)
        MW_GO(mw_copy(ctx, d, vhz, half(ctx, &hv, hy, hv.off_b)));
    else
        MW_GO(act_sigma(ctx, l, MW_EW_ACT_DMUL, d, vhz, mw_v(c->z.data, 0, (ptrdiff_t)hv.h),
                        half(ctx, &hv, hy, hv.off_b)));
    /* h_x = (h_{y,a} + h_z J_F, h_z); g = h_z ∂F/∂θ */
    if (hx)
        MW_GO(mw_copy(ctx, d, half(ctx, &hv, hx, hv.off_a), half(ctx, &hv, hy, hv.off_a)));
    MW_GO(l->inner->vjp(ctx, l, c->f, hz.data, 1.0, half(ctx, &hv, hx, hv.off_a), gtheta));
    if (hx)
        MW_GO(mw_copy(ctx, d, half(ctx, &hv, hx, hv.off_b), vhz));
done:
    mw_tensor_free(ctx, &hz);
    return st;
}

/* The rest of a Moonwalk step once z = b + F(a) is known and F's cache is FULL:
 * h_z = h_{x,b}; (gF_a, g) = vjp_F(a, h_z); y = (a, σ(z)), h_y = (h_{x,a} − gF_a, h_z ⊙ D⁻¹),
 * σ(z) and D⁻¹ from one evaluation. In place (y == x, hy == hx) h_z is taken before
 * h_{y,b} replaces it; hz is scratch of (B, n/2). */
static mw_status sweep_step(mw_ctx *ctx, const mw_layer *l, const halves *hv, void *fcache,
                            const mw_tensor *z, const void *x, const void *hx, void *hz, void *y,
                            void *hy, void *gtheta)
{
    const mw_dims d = mw_d(1, hv->B, hv->h);
    const mw_view vz = mw_v(z->data, 0, (ptrdiff_t)hv->h), vhz = mw_v(hz, 0, (ptrdiff_t)hv->h);
    mw_status st = mw_copy(ctx, d, vhz, half(ctx, hv, hx, hv->off_b));
    if (st == MW_OK)
        st = mw_copy(ctx, d, half(ctx, hv, y, hv->off_a), half(ctx, hv, x, hv->off_a));
    if (st == MW_OK)
        st = mw_copy(ctx, d, half(ctx, hv, hy, hv->off_a), half(ctx, hv, hx, hv->off_a));
    if (st == MW_OK)
        st = l->inner->vjp(ctx, l, fcache, hz, -1.0, half(ctx, hv, hy, hv->off_a), gtheta);
    if (st == MW_OK)
        st = mw_act_with_dinv_mul(ctx, l->spec->out_act, l->spec->leaky_slope, d,
                                  half(ctx, hv, y, hv->off_b), half(ctx, hv, hy, hv->off_b), vz,
                                  vhz);
    return st;
}

static mw_status vijp(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx, void *y,
                      void *hy, void *gtheta)
{
    halves hv = halves_of(l);
    mw_status st = MW_OK;
    mw_tensor z = {0}, hz = {0};
    void *fcache = NULL;
    MW_GO(shift(ctx, l, &hv, x, MW_CACHE_FULL, &fcache, &z));
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &hz));
    MW_GO(sweep_step(ctx, l, &hv, fcache, &z, x, hx, hz.data, y, hy, gtheta));
done:
    l->inner->cache_free(ctx, fcache);
    mw_tensor_free(ctx, &z);
    mw_tensor_free(ctx, &hz);
    return st;
}

/* vijp from the cache forward(x, INPUT or FULL) left: F's cache raised to FULL and F(a)
 * rebuilt from it (inner->complete), then vijp's own steps. z = b + F(a) is the cache's
 * where σ is not the identity, and is otherwise formed by shift's own addition. */
static mw_status vijp_cached(mw_ctx *ctx, const mw_layer *l, void *cache, const void *x,
                             const void *hx, void *y, void *hy, void *gtheta)
{
    coupling_cache *c = cache;
    halves hv = halves_of(l);
    mw_dims d = mw_d(1, hv.B, hv.h);
    mw_status st = MW_OK;
    mw_tensor zf = {0}, hz = {0};
    const mw_tensor *z = &c->z;
    mw_view a = half(ctx, &hv, x, hv.off_a);
    if (!l->inner->complete)
        return mw_fail(ctx, MW_ERR_ARG, "%s: its inner function has no complete", l->label);
    if (l->spec->out_act == MW_ACT_IDENTITY) {
        MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &zf));
        mw_view vz = mw_v(zf.data, 0, (ptrdiff_t)hv.h);
        MW_GO(l->inner->complete(ctx, l, c->f, a, zf.data));
        MW_GO(mw_axpby(ctx, d, vz, 1.0, vz, 1.0, half(ctx, &hv, x, hv.off_b)));
        z = &zf;
    } else {
        MW_GO(l->inner->complete(ctx, l, c->f, a, NULL));
    }
    MW_GO(mw_tensor_alloc(ctx, hv.B * hv.h, &hz));
    MW_GO(sweep_step(ctx, l, &hv, c->f, z, x, hx, hz.data, y, hy, gtheta));
done:
    mw_tensor_free(ctx, &zf);
    mw_tensor_free(ctx, &hz);
    return st;
}

const mw_layer_ops mw_coupling_ops = {
    .name = "coupling",
    /* in place: z = b + F(a) is formed before y_b = σ(z) overwrites b, y_a = x_a is a copy
     * onto itself (none), and h_z is taken from h_{x,b} before h_{y,b} replaces it; F's
     * caches keep their own copy of a */
    .in_place = true,
    .forward = forward,
    .cache_free = cache_free,
    .inverse = inverse,
    .inverse_cached = inverse_cached,
    .jvp = jvp,
    .vjp = vjp,
    .vijp = vijp,
    .vijp_cached = vijp_cached,
};
