/* Forward-mode propagation shared by forward, projforward and moonwalk's phase 1: a
 * block of T tangents pushed through the body and the head with jvp, holding two
 * activations and two tangent blocks at a time (the O(M_x + M_θ) memory of Table 1). */
#include "method.h"

size_t mw_block_offset(const mw_net *net, int layer)
{
    return net->lay.layer_offset[layer + 1];
}

size_t mw_block_size(const mw_net *net, int layer)
{
    return net->lay.layer_offset[layer + 2] - net->lay.layer_offset[layer + 1];
}

mw_status mw_push_tangents(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, int first,
                           size_t T, const void *x, const void *dx, mw_theta_tangent_fn tangent,
                           void *arg, void *dJ, double *loss)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}}, ds[2] = {{0}}, dtheta = {0};
    mw_head head = mw_net_head(net, batch);
    MW_GO(mw_tensor_alloc(ctx, N, &xs[0]));
    MW_GO(mw_tensor_alloc(ctx, N, &xs[1]));
    MW_GO(mw_tensor_alloc(ctx, T * N, &ds[0]));
    MW_GO(mw_tensor_alloc(ctx, T * N, &ds[1]));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(xs[0].data, 0, 0), mw_v((void *)x, 0, 0)));
    const void *dcur = NULL;
    if (dx) {
        MW_GO(mw_copy(ctx, mw_d(1, 1, T * N), mw_v(ds[0].data, 0, 0), mw_v((void *)dx, 0, 0)));
        dcur = ds[0].data;
    }
    int cur = 0;
    for (int i = first; i <= net->L; i++) {
        if (tangent)
            MW_GO(tangent(ctx, net, i, T, arg, &dtheta));
        if (i == net->L) {
            MW_GO(mw_head_jvp(ctx, &head, T, xs[cur].data, dcur, dtheta.data,
                              mw_block_size(net, i), dJ, loss));
        } else {
            const mw_layer *l = &net->layers[i];
            st = l->ops->jvp(ctx, l, T, xs[cur].data, dcur, dtheta.data, mw_block_size(net, i),
                             xs[1 - cur].data, ds[1 - cur].data);
            if (st != MW_OK) {
                st = mw_annotate(ctx, st, "layer %d jvp", l->index);
                goto done;
            }
            cur = 1 - cur;
            dcur = ds[cur].data;
        }
        mw_tensor_free(ctx, &dtheta);
    }
done:
    mw_tensor_free(ctx, &dtheta);
    for (int i = 0; i < 2; i++) {
        mw_tensor_free(ctx, &xs[i]);
        mw_tensor_free(ctx, &ds[i]);
    }
    return st;
}
