/* The squeeze ψ between revnet blocks (docs/architecture.md §2): 2x2 space-to-depth, (C, H, W) ->
 * (4C, H/2, W/2) in pixel_unshuffle order. A fixed permutation P of each sample's
 * features with no parameters, so every operation is P or Pᵀ = P⁻¹:
 *   forward y = P x, inverse x = Pᵀ y, jvp dy = P dx, vjp hx = Pᵀ hy, and the vijp
 *   (hy with hy P = hx) hy = P hx.
 * ψ is not a numbered layer (index 0) and keeps nothing for its vjp. */
#include "layer.h"

static mw_status psi(mw_ctx *ctx, const mw_layer *l, size_t n_img, const void *in, void *out,
                     bool inverse)
{
    return ctx->ops->squeeze(ctx, n_img, (size_t)l->shape.c, (size_t)l->shape.h,
                             (size_t)l->shape.w, in, out, inverse);
}

static mw_status forward(mw_ctx *ctx, const mw_layer *l, const void *x, void *y,
                         mw_cache_level level, void **cache)
{
    (void)level;
    if (cache)
        *cache = NULL;
    return y ? psi(ctx, l, l->batch, x, y, false) : MW_OK;
}

static void cache_free(mw_ctx *ctx, const mw_layer *l, void *cache)
{
    (void)ctx, (void)l, (void)cache;
}

static mw_status inverse(mw_ctx *ctx, const mw_layer *l, const void *y, void *x)
{
    return psi(ctx, l, l->batch, y, x, true);
}

static mw_status jvp(mw_ctx *ctx, const mw_layer *l, size_t T, const void *x, const void *dx,
                     const void *dtheta, size_t ld, void *y, void *dy)
{
    (void)dtheta, (void)ld;
    mw_status st = y ? psi(ctx, l, l->batch, x, y, false) : MW_OK;
    if (st != MW_OK)
        return st;
    if (dx)
        return psi(ctx, l, T * l->batch, dx, dy, false);
    return mw_fill(ctx, mw_d(1, 1, T * l->batch * l->width), mw_v(dy, 0, 0), 0.0);
}

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     void *hx, void *gtheta)
{
    (void)cache, (void)gtheta;
    return hx ? psi(ctx, l, l->batch, hy, hx, true) : MW_OK;
}

static mw_status vijp(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx, void *y,
                      void *hy, void *gtheta)
{
    (void)gtheta;
    mw_status st = psi(ctx, l, l->batch, x, y, false);
    return st == MW_OK ? psi(ctx, l, l->batch, hx, hy, false) : st;
}

const mw_layer_ops mw_squeeze_ops = {
    .name = "squeeze",
    .forward = forward,
    .cache_free = cache_free,
    .inverse = inverse,
    .jvp = jvp,
    .vjp = vjp,
    .vijp = vijp,
};
