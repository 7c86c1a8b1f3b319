/* Backprop (docs/architecture.md §3, the paper's §5 item 1): a forward pass that keeps every
 * layer's full cache (inputs of every dense map and pre-activations: M_x + M_θ per
 * layer), then the reverse sweep with vjp. Memory O(M_x L + M_θ L). */
#include <stdlib.h>

#include "method.h"

mw_status mw_method_backprop(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                             const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    mw_status st = MW_OK;
    mw_tensor x = {0}, h = {0};
    mw_head head = mw_net_head(net, batch);
    void **caches = calloc((size_t)net->n_layers, sizeof *caches);
    if (!caches)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
    mw_bn_record(ctx, o, 1);
    MW_GO(mw_forward_cached(ctx, net, batch, MW_CACHE_FULL, caches, &x));
    mw_bn_record(ctx, o, 0);
    MW_GO(mw_tensor_alloc(ctx, x.n, &h));
    MW_GO(mw_head_vjp(ctx, &head, x.data, h.data, mw_at(ctx, g, mw_block_offset(net, net->n_layers)),
                      &info->loss));
    mw_tensor_free(ctx, &x);
    MW_GO(mw_backward_cached(ctx, net, caches, &h, g, NULL, 0));
done:
    mw_caches_free(ctx, net, caches);
    free(caches);
    mw_tensor_free(ctx, &x);
    mw_tensor_free(ctx, &h);
    return st;
}
