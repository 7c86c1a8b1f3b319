/* Mixed (DESIGN.md §3, the paper's §4.2): phase 1 is backprop for the input cotangent
 * only — each layer keeps just what its input derivative needs (pre-activations, BN
 * statistics: M_x), and no parameter gradient is formed; phase 2 is Moonwalk's vijp
 * sweep from that h_0. Memory O(M_x L + M_θ). */
#include <stdlib.h>

#include "method.h"

mw_status mw_backprop_input_cotangent(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                      void *h0, double *loss)
{
    const size_t N = batch->x.n;
    const int L = net->L;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}}, h = {0};
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
        if ((st = l->ops->forward(ctx, l, xs[cur].data, xs[1 - cur].data, MW_CACHE_INPUT,
                                  &caches[i])) != MW_OK) {
            st = mw_annotate(ctx, st, "layer %d forward", l->index);
            goto done;
        }
        cur = 1 - cur;
    }
    /* The cotangents ping-pong between h0 and h; L steps back from h0 or h so that
     * the last one lands in h0. */
    MW_GO(mw_tensor_alloc(ctx, N, &h));
    void *hc = L % 2 == 0 ? h0 : h.data, *hn = L % 2 == 0 ? h.data : h0;
    MW_GO(mw_head_vjp(ctx, &head, xs[cur].data, hc, NULL, loss));
    mw_tensor_free(ctx, &xs[0]);
    mw_tensor_free(ctx, &xs[1]);
    for (int i = L - 1; i >= 0; i--) {
        const mw_layer *l = &net->layers[i];
        if ((st = l->ops->vjp(ctx, l, caches[i], hc, hn, NULL)) != MW_OK) {
            st = mw_annotate(ctx, st, "layer %d vjp", l->index);
            goto done;
        }
        l->ops->cache_free(ctx, l, caches[i]);
        caches[i] = NULL;
        void *t = hc;
        hc = hn;
        hn = t;
    }
done:
    for (int i = 0; i < L; i++)
        net->layers[i].ops->cache_free(ctx, &net->layers[i], caches[i]);
    free(caches);
    mw_tensor_free(ctx, &xs[0]);
    mw_tensor_free(ctx, &xs[1]);
    mw_tensor_free(ctx, &h);
    return st;
}

mw_status mw_method_mixed(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                          const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    (void)o;
    mw_status st = MW_OK;
    mw_tensor h0 = {0};
    MW_GO(mw_tensor_alloc(ctx, batch->x.n, &h0));
    MW_GO(mw_backprop_input_cotangent(ctx, net, batch, h0.data, NULL));
    MW_GO(mw_moonwalk_sweep(ctx, net, batch, h0.data, g, info));
done:
    mw_tensor_free(ctx, &h0);
    return st;
}
