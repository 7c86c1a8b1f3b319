/* Mixed (docs/architecture.md §3, the paper's §4.2): phase 1 is backprop for the input cotangent
 * only — each layer keeps just what its input derivative needs (pre-activations, BN
 * statistics: M_x), and no parameter gradient is formed; phase 2 is Moonwalk's vijp
 * sweep from that h_0. Phase 1's caches are kept for phase 2, where each layer's step
 * starts from its cache (vijp_cached) instead of evaluating its inner maps again, and
 * frees it: the same bits as the plain sweep, one pass fewer, and no more memory than
 * phase 1 already held. Memory O(M_x L + M_θ). */
#include <stdlib.h>

#include "method.h"

mw_status mw_backprop_input_cotangent(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                      void *h0, double *loss, void **keep)
{
    mw_status st = MW_OK;
    mw_tensor x = {0}, h = {0};
    mw_head head = mw_net_head(net, batch);
    void **caches = keep ? keep : calloc((size_t)net->n_layers, sizeof *caches);
    if (!caches)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
    MW_GO(mw_forward_cached(ctx, net, batch, MW_CACHE_INPUT, caches, &x));
    MW_GO(mw_tensor_alloc(ctx, x.n, &h));
    MW_GO(mw_head_vjp(ctx, &head, x.data, h.data, NULL, loss));
    mw_tensor_free(ctx, &x);
    MW_GO(mw_backward_cached(ctx, net, caches, &h, NULL, h0, keep != NULL));
done:
    if (!keep) {
        mw_caches_free(ctx, net, caches);
        free(caches);
    }
    mw_tensor_free(ctx, &x);
    mw_tensor_free(ctx, &h);
    return st;
}

mw_status mw_method_mixed(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                          const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    mw_status st = MW_OK;
    mw_tensor h0 = {0};
    void **caches = calloc((size_t)net->n_layers, sizeof *caches);
    if (!caches)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
    MW_GO(mw_tensor_alloc(ctx, batch->x.n, &h0));
    /* phase 1's forward feeds BatchNorm's running statistics; phase 2 does not */
    mw_bn_record(ctx, o, 1);
    MW_GO(mw_backprop_input_cotangent(ctx, net, batch, h0.data, NULL, caches));
    mw_bn_record(ctx, o, 0);
    MW_GO(mw_moonwalk_sweep(ctx, net, batch, h0.data, caches, g, info));
done:
    mw_caches_free(ctx, net, caches);
    free(caches);
    mw_tensor_free(ctx, &h0);
    return st;
}
