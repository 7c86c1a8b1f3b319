/* Moonwalk (docs/architecture.md §3, the paper's §4 and Algorithm 1).
 * Phase 1 (pure forward, §4.1): h_0 = dJ/dx_0 by forward mode, one tangent per input
 * coordinate of the batch. When no layer couples the samples of a batch, sample b's
 * loss depends on x_b alone, so one tangent per feature, set in every sample at once,
 * gives every sample's derivative in the same pass (the jvp of the vector of per-sample
 * losses, then /B): n tangents instead of B·n. BatchNorm couples samples and turns this
 * shortcut off.
 * Phase 2 (mw_moonwalk_sweep, shared with mixed): forward sweep of vijp from h_0,
 * emitting each g_i and dropping x_{i-1}. Memory O(M_x + M_θ). */
#include <math.h>

#include "method.h"

mw_status mw_moonwalk_sweep(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, void *h0,
                            void **caches, void *g, mw_grad_info *info)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor xb[2] = {{0}}, h1 = {0}, href = {0};
    mw_head head = mw_net_head(net, batch);
    /* Layer 0 reads the batch and h0 themselves. A layer that works in place writes y over
     * x and hy over h (h0 is the sweep's to overwrite, the batch is not); through the
     * others x ping-pongs between xb[0] and xb[1], h between h0 and h1, each buffer taken
     * when first needed: on a net of couplings the sweep adds one buffer to what the
     * caches hold (mixed), and after layer 0's cache is freed */
    const void *x = batch->x.data;
    void *h = h0;
    for (int i = 0; i < net->n_layers; i++) {
        const mw_layer *l = &net->layers[i];
        const bool in_place = l->ops->in_place;
        void *y, *hy;
        if (in_place && x != batch->x.data) {
            y = (void *)x;
        } else {
            const int o = x == xb[0].data ? 1 : 0;
            if (!xb[o].data)
                MW_GO(mw_tensor_alloc(ctx, N, &xb[o]));
            y = xb[o].data;
        }
        if (in_place) {
            hy = h;
        } else {
            if (!h1.data)
                MW_GO(mw_tensor_alloc(ctx, N, &h1));
            hy = h == h0 ? h1.data : h0;
        }
        void *gl = mw_at(ctx, g, l->theta_off);
        if (caches && caches[i] && l->ops->vijp_cached)
            st = l->ops->vijp_cached(ctx, l, caches[i], x, h, y, hy, gl);
        else
            st = l->ops->vijp(ctx, l, x, h, y, hy, gl);
        if (caches) {
            l->ops->cache_free(ctx, l, caches[i]);
            caches[i] = NULL;
        }
        if (st != MW_OK) {
            st = mw_annotate(ctx, st, "%s vijp", l->label);
            goto done;
        }
        x = y;
        h = hy;
    }
    /* the head's own dJ/dx_L, against which h_L closes the loop */
    MW_GO(mw_tensor_alloc(ctx, N, &href));
    MW_GO(mw_head_vjp(ctx, &head, x, href.data,
                      mw_at(ctx, g, mw_block_offset(net, net->n_layers)), &info->loss));
    double diff2, ref2;
    MW_GO(ctx->ops->dist2(ctx, N, h, href.data, &diff2));
    MW_GO(ctx->ops->dot(ctx, N, href.data, href.data, &ref2));
    info->closure_err = ref2 > 0.0 ? sqrt(diff2 / ref2) : sqrt(diff2);
done:
    mw_tensor_free(ctx, &xb[0]);
    mw_tensor_free(ctx, &xb[1]);
    mw_tensor_free(ctx, &h1);
    mw_tensor_free(ctx, &href);
    return st;
}

/* Phase 1: h0 (B, n) = dJ/dx_0 by forward mode. */
static mw_status input_gradient(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                const mw_grad_opts *o, int separable, void *h0)
{
    const size_t B = (size_t)net->spec.batch, n = (size_t)net->spec.width, N = B * n;
    const size_t count = separable ? n : N, Tmax = (size_t)o->tangent_block;
    mw_status st = MW_OK;
    mw_tensor dx = {0}, dJ = {0};
    MW_GO(mw_tensor_alloc(ctx, (count < Tmax ? count : Tmax) * N, &dx));
    MW_GO(mw_tensor_alloc(ctx, (count < Tmax ? count : Tmax) * B, &dJ));
    for (size_t j0 = 0; j0 < count; j0 += Tmax) {
        size_t T = count - j0 < Tmax ? count - j0 : Tmax;
        /* tangent t: feature j0+t of every sample (separable), or coordinate j0+t */
        MW_GO(mw_fill(ctx, mw_d(1, 1, T * N), mw_v(dx.data, 0, 0), 0.0));
        MW_GO(mw_fill(ctx, mw_d(T, separable ? B : 1, 1),
                      mw_v(mw_at(ctx, dx.data, j0), (ptrdiff_t)N + 1, (ptrdiff_t)n), 1.0));
        MW_GO(mw_push_tangents(ctx, net, batch, 0, T, batch->x.data, dx.data, NULL, NULL,
                               dJ.data, NULL));
        if (separable) /* h0[b, j0+t] = dJ_b[t] / B */
            MW_GO(mw_scale(ctx, mw_d(T, B, 1), mw_v(mw_at(ctx, h0, j0), 1, (ptrdiff_t)n),
                           1.0 / (double)B, mw_v(dJ.data, (ptrdiff_t)B, 1)));
        else /* h0[j0+t] = Σ_b dJ_b[t] / B */
            MW_GO(ctx->ops->sum_rows(ctx, mw_d(T, B, 1), mw_v(dJ.data, (ptrdiff_t)B, 1),
                                     1.0 / (double)B, 0.0, mw_v(mw_at(ctx, h0, j0), 1, 0)));
        if (o->memory_probe) { /* every block asks for the same buffers; h0 := 0 for the rest */
            MW_GO(mw_fill(ctx, mw_d(1, 1, N), mw_v(h0, 0, 0), 0.0));
            break;
        }
    }
done:
    mw_tensor_free(ctx, &dx);
    mw_tensor_free(ctx, &dJ);
    return st;
}

mw_status mw_method_moonwalk(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                             const mw_grad_opts *o, void *g, mw_grad_info *info)
{
    mw_status st = MW_OK;
    mw_tensor h0 = {0};
    /* Only BatchNorm couples samples in these networks. */
    info->separable = !net->spec.bn && !o->moonwalk_general;
    MW_GO(mw_tensor_alloc(ctx, batch->x.n, &h0));
    MW_GO(input_gradient(ctx, net, batch, o, info->separable, h0.data));
    /* phase 2 is the pass that runs every layer once on its true input: it feeds
     * BatchNorm's running statistics (phase 1's jvps do not) */
    mw_bn_record(ctx, o, 1);
    MW_GO(mw_moonwalk_sweep(ctx, net, batch, h0.data, NULL, g, info));
    mw_bn_record(ctx, o, 0);
done:
    mw_tensor_free(ctx, &h0);
    return st;
}
