/* The sweeps the methods share: a forward pass keeping every layer's cache and the
 * reverse vjp sweep over those caches (backprop, mixed's phase 1), and forward-mode
 * propagation of a block of tangents (forward, projforward, moonwalk's phase 1). */
#include <stdlib.h>

#include "method.h"

size_t mw_block_offset(const mw_net *net, int layer)
{
    return layer < net->n_layers ? net->layers[layer].theta_off
                                 : net->lay.layer_offset[net->spec.depth + 1];
}

size_t mw_block_size(const mw_net *net, int layer)
{
    return layer < net->n_layers ? net->layers[layer].n_theta
                                 : net->lay.total - mw_block_offset(net, layer);
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
    for (int i = first; i <= net->n_layers; i++) {
        if (tangent)
            MW_GO(tangent(ctx, net, i, T, arg, &dtheta));
        if (i == net->n_layers) {
            MW_GO(mw_head_jvp(ctx, &head, T, xs[cur].data, dcur, dtheta.data,
                              mw_block_size(net, i), dJ, loss));
        } else {
            const mw_layer *l = &net->layers[i];
            st = l->ops->jvp(ctx, l, T, xs[cur].data, dcur, dtheta.data, mw_block_size(net, i),
                             xs[1 - cur].data, ds[1 - cur].data);
            if (st != MW_OK) {
                st = mw_annotate(ctx, st, "%s jvp", l->label);
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

mw_status mw_forward_cached(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                            mw_cache_level level, void **caches, mw_tensor *xL)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}};
    MW_GO(mw_tensor_alloc(ctx, N, &xs[0]));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(xs[0].data, 0, 0), mw_v(batch->x.data, 0, 0)));
    int cur = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const mw_layer *l = &net->layers[i];
        /* a layer that works in place writes over its input; the others ping-pong */
        const int out = l->ops->in_place ? cur : 1 - cur;
        if (!xs[out].data)
            MW_GO(mw_tensor_alloc(ctx, N, &xs[out]));
        if ((st = l->ops->forward(ctx, l, xs[cur].data, xs[out].data, level, &caches[i])) !=
            MW_OK) {
            st = mw_annotate(ctx, st, "%s forward", l->label);
            goto done;
        }
        cur = out;
    }
    *xL = xs[cur];
    xs[cur].data = NULL;
done:
    mw_tensor_free(ctx, &xs[0]);
    mw_tensor_free(ctx, &xs[1]);
    return st;
}

void mw_caches_free(mw_ctx *ctx, const mw_net *net, void **caches)
{
    for (int i = 0; i < net->n_layers; i++) {
        net->layers[i].ops->cache_free(ctx, &net->layers[i], caches[i]);
        caches[i] = NULL;
    }
}

mw_status mw_backward_cached(mw_ctx *ctx, const mw_net *net, void **caches, mw_tensor *hL,
                             void *g, void *h0, int keep)
{
    const size_t N = hL->n;
    mw_status st = MW_OK;
    mw_tensor other = {0};
    /* the cotangent stays in its buffer through the layers that work in place and
     * ping-pongs between hL and h0 (or a scratch buffer, taken when first needed, without
     * h0) through the others */
    void *cur = hL->data, *next = h0;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        const mw_layer *l = &net->layers[i];
        const bool in_place = l->ops->in_place;
        if (!in_place && !next && (i > 0 || h0)) {
            MW_GO(mw_tensor_alloc(ctx, N, &other));
            next = other.data;
        }
        /* without h0, the first layer's input cotangent is not needed */
        void *hx = i > 0 || h0 ? (in_place ? cur : next) : NULL;
        void *gl = g ? mw_at(ctx, g, l->theta_off) : NULL;
        if ((st = l->ops->vjp(ctx, l, caches[i], cur, hx, gl)) != MW_OK) {
            st = mw_annotate(ctx, st, "%s vjp", l->label);
            goto done;
        }
        if (!keep) {
            l->ops->cache_free(ctx, l, caches[i]);
            caches[i] = NULL;
        }
        if (!in_place) {
            void *t = cur;
            cur = next;
            next = t;
        }
    }
    if (h0 && cur != h0)
        MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(h0, 0, 0), mw_v(cur, 0, 0)));
done:
    mw_tensor_free(ctx, &other);
    return st;
}
