/* Forward (full forward mode; docs/architecture.md §3, the paper's §3.2): one tangent e_j per
 * parameter coordinate, injected at its layer and pushed with jvp to the loss, T
 * coordinates of one layer per pass. The primal activation is carried forward once
 * between layers. Time O(n² d L²), memory O(M_x + M_θ) per tangent block. */
#include "method.h"

typedef struct onehot_block {
    int layer;   /* the layer whose coordinates the block covers */
    size_t j0;   /* first coordinate of the block within that layer */
} onehot_block;

/* dθ_t = e_{j0+t} at the block's layer, nothing elsewhere. */
static mw_status onehot_tangent(mw_ctx *ctx, const mw_net *net, int layer, size_t T,
                                void *arg, mw_tensor *out)
{
    const onehot_block *b = arg;
    if (layer != b->layer)
        return MW_OK;
    size_t P = mw_block_size(net, layer);
    mw_status st = mw_tensor_alloc(ctx, T * P, out);
    if (st == MW_OK)
        st = mw_fill(ctx, mw_d(1, 1, T * P), mw_v(out->data, 0, 0), 0.0);
    if (st == MW_OK)
        st = mw_fill(ctx, mw_d(T, 1, 1), mw_v(mw_at(ctx, out->data, b->j0), (ptrdiff_t)P + 1, 0),
                     1.0);
    return st;
}

mw_status mw_method_forward(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                            const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    const size_t N = batch->x.n, B = (size_t)net->spec.batch;
    mw_status st = MW_OK;
    mw_tensor x = {0}, y = {0}, dJ = {0};
    MW_GO(mw_tensor_alloc(ctx, N, &x));
    MW_GO(mw_tensor_alloc(ctx, N, &y));
    MW_GO(mw_tensor_alloc(ctx, (size_t)o->tangent_block * B, &dJ));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(x.data, 0, 0), mw_v(batch->x.data, 0, 0)));
    for (int layer = 0; layer <= net->n_layers; layer++) {
        const size_t P = mw_block_size(net, layer);
        for (size_t j0 = 0; j0 < P; j0 += (size_t)o->tangent_block) {
            size_t T = P - j0 < (size_t)o->tangent_block ? P - j0 : (size_t)o->tangent_block;
            onehot_block blk = {layer, j0};
            MW_GO(mw_push_tangents(ctx, net, batch, layer, T, x.data, NULL, onehot_tangent, &blk,
                                   dJ.data, &info->loss));
            /* g_j = (1/B) Σ_b dJ_b/dθ_j */
            MW_GO(ctx->ops->sum_rows(ctx, mw_d(T, B, 1), mw_v(dJ.data, (ptrdiff_t)B, 1),
                                     1.0 / (double)B, 0.0,
                                     mw_v(mw_at(ctx, g, mw_block_offset(net, layer) + j0), 1, 0)));
            if (o->memory_probe) /* every block of this layer asks for the same buffers */
                break;
        }
        if (layer < net->n_layers) {
            const mw_layer *l = &net->layers[layer];
            /* the primal advance, once per layer, feeds BatchNorm's running statistics */
            mw_bn_record(ctx, o, 1);
            st = l->ops->forward(ctx, l, x.data, y.data, MW_CACHE_NONE, NULL);
            mw_bn_record(ctx, o, 0);
            if (st != MW_OK) {
                st = mw_annotate(ctx, st, "%s forward", l->label);
                goto done;
            }
            mw_tensor t = x;
            x = y;
            y = t;
        }
    }
done:
    mw_tensor_free(ctx, &x);
    mw_tensor_free(ctx, &y);
    mw_tensor_free(ctx, &dJ);
    return st;
}
