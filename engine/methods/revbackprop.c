/* RevBackprop (docs/architecture.md §3, the paper's §5 item 4; MacKay et al. 2018): a forward pass
 * keeping only x_L, then backwards: reconstruct x_{i-1} = f_i⁻¹(x_i), recompute the
 * layer's cache from it, vjp. The additive coupling does the first two in one pass
 * (inverse_cached: F evaluated once, where inverse and forward took it twice), with the
 * same bits. Memory O(M_x + M_θ); the reconstruction is where it
 * fails on saturated σ (the inverse of tanh blows up near ±1). Its error, measured at
 * x_0 where the true value is at hand, is reported as info->recon_err. */
#include <math.h>

#include "method.h"

static mw_status one_pass(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                          const mw_grad_opts *o, void *g, mw_grad_info *info, int record)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}}, hs[2] = {{0}};
    void *cache = NULL;
    const mw_layer *l = NULL;
    mw_head head = mw_net_head(net, batch);
    MW_GO(mw_tensor_alloc(ctx, N, &xs[0]));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(xs[0].data, 0, 0), mw_v(batch->x.data, 0, 0)));
    /* the one forward over the true inputs feeds BatchNorm's running statistics; the
     * recomputations from reconstructed inputs below must not */
    mw_bn_record(ctx, o, record);
    MW_GO(mw_net_forward_inplace(ctx, net, xs[0].data));
    mw_bn_record(ctx, o, 0);
    MW_GO(mw_tensor_alloc(ctx, N, &hs[0]));
    MW_GO(mw_head_vjp(ctx, &head, xs[0].data, hs[0].data,
                      mw_at(ctx, g, mw_block_offset(net, net->n_layers)), &info->loss));
    MW_GO(mw_tensor_alloc(ctx, N, &xs[1]));
    /* the cotangent stays in hs[hc] through a layer that works in place, and moves to
     * the other buffer (taken when first needed) through the others */
    int cur = 0, hc = 0;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        l = &net->layers[i];
        const bool in_place = l->ops->in_place;
        if (!in_place && i > 0 && !hs[1 - hc].data)
            MW_GO(mw_tensor_alloc(ctx, N, &hs[1 - hc]));
        void *x_in = xs[1 - cur].data;
        void *hx = i == 0 ? NULL : in_place ? hs[hc].data : hs[1 - hc].data;
        /* x_in = f⁻¹(x), and the layer's cache at it (one evaluation of F where the layer
         * can: inverse_cached) */
        if ((st = l->ops->inverse_cached
                      ? l->ops->inverse_cached(ctx, l, xs[cur].data, x_in, MW_CACHE_FULL, &cache)
                      : l->ops->inverse(ctx, l, xs[cur].data, x_in)) != MW_OK) {
            st = mw_annotate(ctx, st, "%s inverse", l->label);
            goto done;
        }
        if ((!l->ops->inverse_cached &&
             (st = l->ops->forward(ctx, l, x_in, NULL, MW_CACHE_FULL, &cache)) != MW_OK) ||
            (st = l->ops->vjp(ctx, l, cache, hs[hc].data, hx, mw_at(ctx, g, l->theta_off))) !=
                MW_OK) {
            st = mw_annotate(ctx, st, "%s", l->label);
            goto done;
        }
        l->ops->cache_free(ctx, l, cache);
        cache = NULL;
        cur = 1 - cur;
        if (!in_place)
            hc = 1 - hc;
    }
    /* the reconstruction error, free: x̂_0 against the batch */
    double d2, x2;
    MW_GO(ctx->ops->dist2(ctx, N, xs[cur].data, batch->x.data, &d2));
    MW_GO(ctx->ops->dot(ctx, N, batch->x.data, batch->x.data, &x2));
    info->recon_err = x2 > 0.0 ? sqrt(d2 / x2) : sqrt(d2);
done:
    if (l)
        l->ops->cache_free(ctx, l, cache);
    for (int i = 0; i < 2; i++) {
        mw_tensor_free(ctx, &xs[i]);
        mw_tensor_free(ctx, &hs[i]);
    }
    return st;
}

/* On a device the reconstructions' finiteness is checked without waiting after every
 * layer (mw_finite_defer_begin): one read at the end. Where a check failed, the pass runs
 * again with the checks immediate, and stops at that layer saying why (by the end of the
 * first pass its x and y are gone); its forward does not fold BatchNorm's statistics in a
 * second time. The same numbers either way: the pass is deterministic. */
mw_status mw_method_revbackprop(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    mw_status st = mw_finite_defer_begin(ctx);
    if (st != MW_OK)
        return st;
    st = one_pass(ctx, net, batch, o, g, info, 1);
    int bad = 0;
    const mw_status end = mw_finite_defer_end(ctx, &bad);
    if (st != MW_OK || end != MW_OK || !bad)
        return st != MW_OK ? st : end;
    st = one_pass(ctx, net, batch, o, g, info, 0);
    return st != MW_OK ? st
                       : mw_fail(ctx, MW_ERR_BACKEND, "a reconstruction that was not finite "
                                 "came out finite when the pass ran again");
}
