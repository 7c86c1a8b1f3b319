/* Backprop (DESIGN.md §3, the paper's §5 item 1): a forward pass that keeps every
 * layer's full cache (inputs of every dense map and pre-activations: M_x + M_θ per
 * layer), then the reverse sweep with vjp. Memory O(M_x L + M_θ L). */
#include <stdlib.h>

#include "method.h"

mw_status mw_method_backprop(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                             const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    (void)o;
    const size_t N = batch->x.n;
    const int L = net->L;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}}, hs[2] = {{0}};
    mw_head head = mw_net_head(net, batch);
    void **caches = calloc((size_t)L, sizeof *caches);
    if (!caches)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
    MW_GO(mw_tensor_alloc(ctx, N, &xs[0]));
    MW_GO(mw_tensor_alloc(ctx, N, &xs[1]));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(xs[0].data, 0, 0), mw_v(batch->x.data, 0, 0)));
    int cur = 0;
    for (int i = 0; i < L; i++) {
        const mw_layer *l = &net->layers[i];
        if ((st = l->ops->forward(ctx, l, xs[cur].data, xs[1 - cur].data, MW_CACHE_FULL,
                                  &caches[i])) != MW_OK) {
            st = mw_annotate(ctx, st, "layer %d forward", l->index);
            goto done;
        }
        cur = 1 - cur;
    }
    MW_GO(mw_tensor_alloc(ctx, N, &hs[0]));
    MW_GO(mw_head_vjp(ctx, &head, xs[cur].data, hs[0].data,
                      mw_at(ctx, g, mw_block_offset(net, L)), &info->loss));
    mw_tensor_free(ctx, &xs[0]);
    mw_tensor_free(ctx, &xs[1]);
    MW_GO(mw_tensor_alloc(ctx, N, &hs[1]));
    cur = 0;
    for (int i = L - 1; i >= 0; i--) {
        const mw_layer *l = &net->layers[i];
        /* the first layer's input cotangent is not needed */
        void *hx = i > 0 ? hs[1 - cur].data : NULL;
        if ((st = l->ops->vjp(ctx, l, caches[i], hs[cur].data, hx,
                              mw_at(ctx, g, l->theta_off))) != MW_OK) {
            st = mw_annotate(ctx, st, "layer %d vjp", l->index);
            goto done;
        }
        l->ops->cache_free(ctx, l, caches[i]);
        caches[i] = NULL;
        cur = 1 - cur;
    }
done:
    for (int i = 0; i < L; i++)
        net->layers[i].ops->cache_free(ctx, &net->layers[i], caches[i]);
    free(caches);
    for (int i = 0; i < 2; i++) {
        mw_tensor_free(ctx, &xs[i]);
        mw_tensor_free(ctx, &hs[i]);
    }
    return st;
}
