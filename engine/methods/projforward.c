/* ProjForward (docs/architecture.md §3, the paper's §3.3): draw u ~ N(0, I_d) over all parameters,
 * push one jvp pass with u injected at every layer to get s = ∇J·u, and return
 * g = s u, averaged over K samples (T per pass). u is never stored: Philox is counter
 * based, so each layer's slice is drawn when the jvp needs it and drawn again, the same
 * bits, when s u is accumulated. Unbiased (E[u uᵀ] = I); the error of the K-sample mean
 * falls like K^-1/2. Memory O(M_x + M_θ) per tangent block. */
#include "../philox.h"
#include "method.h"

typedef struct proj_block {
    const mw_grad_opts *o;
    size_t k0; /* first sample of the block */
} proj_block;

/* Rows t < T: sample k0 + t of u, restricted to the layer's coordinates. Normal number
 * (k * d + j) of the stream belongs to sample k, coordinate j. */
static mw_status gauss_tangent(mw_ctx *ctx, const mw_net *net, int layer, size_t T, void *arg,
                               mw_tensor *out)
{
    const proj_block *b = arg;
    const size_t P = mw_block_size(net, layer), d = net->lay.total;
    if (P == 0) /* ψ */
        return MW_OK;
    mw_status st = mw_tensor_alloc(ctx, T * P, out);
    if (st == MW_OK)
        st = ctx->ops->normal(ctx, T, P, out->data, P, b->o->rng_seed,
                              mw_stream_proj(b->o->rng_step),
                              b->k0 * d + mw_block_offset(net, layer), d);
    return st;
}

mw_status mw_method_projforward(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    const size_t B = (size_t)net->spec.batch, K = (size_t)o->proj_samples;
    const size_t Tmax = K < (size_t)o->tangent_block ? K : (size_t)o->tangent_block;
    mw_status st = MW_OK;
    mw_tensor dJ = {0}, s = {0}, u = {0};
    MW_GO(mw_tensor_alloc(ctx, Tmax * B, &dJ));
    MW_GO(mw_tensor_alloc(ctx, Tmax, &s));
    MW_GO(mw_fill(ctx, mw_d(1, 1, net->lay.total), mw_v(g, 0, 0), 0.0));
    for (size_t k0 = 0; k0 < K; k0 += Tmax) {
        size_t T = K - k0 < Tmax ? K - k0 : Tmax;
        proj_block blk = {o, k0};
        /* the first pass's forward is the one that feeds BatchNorm's running statistics */
        mw_bn_record(ctx, o, k0 == 0);
        MW_GO(mw_push_tangents(ctx, net, batch, 0, T, batch->x.data, NULL, gauss_tangent, &blk,
                               dJ.data, &info->loss));
        mw_bn_record(ctx, o, 0);
        /* s_t = ∇J·u_t = (1/B) Σ_b dJ_b */
        MW_GO(ctx->ops->sum_rows(ctx, mw_d(T, B, 1), mw_v(dJ.data, (ptrdiff_t)B, 1),
                                 1.0 / (double)B, 0.0, mw_v(s.data, 1, 0)));
        /* g += (1/K) Σ_t s_t u_t, one layer's slice of u at a time */
        for (int layer = 0; layer <= net->n_layers; layer++) {
            size_t P = mw_block_size(net, layer);
            if (P == 0)
                continue;
            MW_GO(gauss_tangent(ctx, net, layer, T, &blk, &u));
            MW_GO(ctx->ops->gemm(ctx, false, false, 1, P, T, 1.0 / (double)K, s.data, T, 0,
                                 u.data, P, 0, 1.0, mw_at(ctx, g, mw_block_offset(net, layer)),
                                 P, 0, 1));
            mw_tensor_free(ctx, &u);
        }
        if (o->memory_probe) /* every block asks for the same buffers */
            break;
    }
done:
    mw_tensor_free(ctx, &dJ);
    mw_tensor_free(ctx, &s);
    mw_tensor_free(ctx, &u);
    return st;
}
