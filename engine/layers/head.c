/* The head (DESIGN.md §2): logits = x Wᵀ + c, J = mean over the batch of the softmax
 * cross-entropy. W is [classes][width]. Not invertible and not a numbered layer. */
#include "layer.h"

/* logits (B, C) and, from them, per-sample losses and G = softmax - onehot. */
static mw_status head_core(mw_ctx *ctx, const mw_head *h, const void *x, mw_tensor *logits,
                           mw_tensor *G, double *loss)
{
    const size_t B = h->batch, C = h->classes, n = h->width;
    mw_status st = MW_OK;
    mw_tensor lv = {0};
    MW_GO(mw_tensor_alloc(ctx, B * C, logits));
    MW_GO(mw_tensor_alloc(ctx, B * C, G));
    MW_GO(mw_tensor_alloc(ctx, B, &lv));
    MW_GO(mw_copy(ctx, mw_d(1, B, C), mw_v(logits->data, 0, (ptrdiff_t)C),
                  mw_v(mw_at(ctx, h->theta, C * n), 0, 0)));
    MW_GO(ctx->ops->gemm(ctx, false, true, B, C, n, 1.0, x, n, 0, h->theta, n, 0, 1.0,
                         logits->data, C, 0, 1));
    MW_GO(ctx->ops->xent(ctx, B, C, logits->data, h->labels, lv.data, G->data));
    if (loss) {
        MW_GO(ctx->ops->sum(ctx, B, lv.data, loss));
        *loss /= (double)B;
    }
done:
    mw_tensor_free(ctx, &lv);
    return st;
}

mw_status mw_head_loss(mw_ctx *ctx, const mw_head *h, const void *x, double *loss)
{
    mw_tensor logits = {0}, G = {0};
    mw_status st = head_core(ctx, h, x, &logits, &G, loss);
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_logits(mw_ctx *ctx, const mw_head *h, const void *x, double *logits,
                         double *loss)
{
    mw_tensor lg = {0}, G = {0};
    mw_status st = head_core(ctx, h, x, &lg, &G, loss);
    if (st == MW_OK)
        st = mw_tensor_download(ctx, &lg, 0, logits, lg.n);
    mw_tensor_free(ctx, &lg);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_vjp(mw_ctx *ctx, const mw_head *h, const void *x, void *hx, void *g,
                      double *loss)
{
    const size_t B = h->batch, C = h->classes, n = h->width;
    mw_status st = MW_OK;
    mw_tensor logits = {0}, G = {0};
    MW_GO(head_core(ctx, h, x, &logits, &G, loss));
    /* dJ/dlogits = G / B */
    mw_view vG = mw_v(G.data, 0, (ptrdiff_t)C);
    MW_GO(mw_scale(ctx, mw_d(1, B, C), vG, 1.0 / (double)B, vG));
    MW_GO(ctx->ops->gemm(ctx, false, false, B, n, C, 1.0, G.data, C, 0, h->theta, n, 0, 0.0, hx,
                         n, 0, 1));
    if (g) {
        MW_GO(ctx->ops->gemm(ctx, true, false, C, n, B, 1.0, G.data, C, 0, x, n, 0, 0.0, g, n, 0,
                             1));
        MW_GO(ctx->ops->sum_rows(ctx, mw_d(1, B, C), vG, 1.0, 0.0,
                                 mw_v(mw_at(ctx, g, C * n), 0, 0)));
    }
done:
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_jvp(mw_ctx *ctx, const mw_head *h, size_t T, const void *x, const void *dx,
                      const void *dtheta, size_t ld, void *dJ, double *loss)
{
    const size_t B = h->batch, C = h->classes, n = h->width;
    mw_status st = MW_OK;
    mw_tensor logits = {0}, G = {0}, dl = {0};
    MW_GO(head_core(ctx, h, x, &logits, &G, loss));
    MW_GO(mw_tensor_alloc(ctx, T * B * C, &dl));
    mw_view vdl = mw_v(dl.data, (ptrdiff_t)(B * C), (ptrdiff_t)C);
    /* dl_t = dx_t Wᵀ + x dW_tᵀ + dc_t */
    if (dx)
        MW_GO(ctx->ops->gemm(ctx, false, true, T * B, C, n, 1.0, dx, n, 0, h->theta, n, 0, 0.0,
                             dl.data, C, 0, 1));
    else
        MW_GO(mw_fill(ctx, mw_d(1, T * B, C), mw_v(dl.data, 0, (ptrdiff_t)C), 0.0));
    if (dtheta) {
        MW_GO(ctx->ops->gemm(ctx, false, true, B, C, n, 1.0, x, n, 0, dtheta, n, (ptrdiff_t)ld,
                             1.0, dl.data, C, (ptrdiff_t)(B * C), T));
        MW_GO(mw_axpby(ctx, mw_d(T, B, C), vdl, 1.0, vdl, 1.0,
                       mw_v((void *)mw_at(ctx, dtheta, C * n), (ptrdiff_t)ld, 0)));
    }
    /* dJ_b = Σ_c G[b, c] dl[t, b, c] */
    MW_GO(ctx->ops->rowdot(ctx, mw_d(T, B, C), mw_v(G.data, 0, (ptrdiff_t)C), vdl, 1.0,
                           mw_v(dJ, (ptrdiff_t)B, 1)));
done:
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    mw_tensor_free(ctx, &dl);
    return st;
}
