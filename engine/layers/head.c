/* The head (docs/architecture.md §2): for revnet first the global average pool p = mean over H·W of
 * each channel of x_L (mlp: p = x_L), then logits = p Wᵀ + c, J = mean over the batch of
 * the softmax cross-entropy. W is [classes][width]. Not invertible and not a numbered
 * layer. */
#include "layer.h"

/* p (n_img, width) = the pool of n_img contiguous images x (width channels of h->pool
 * positions); or x itself when there is no pool (p->data is then left NULL). */
static mw_status pool(mw_ctx *ctx, const mw_head *h, size_t n_img, const void *x, mw_tensor *p)
{
    if (h->pool == 1)
        return MW_OK;
    mw_status st = mw_tensor_alloc(ctx, n_img * h->width, p);
    if (st == MW_OK)
        st = ctx->ops->chan_sum(ctx, n_img, h->width, h->pool, 1, x, 1.0 / (double)h->pool, 0.0,
                                p->data, h->width);
    return st;
}

/* logits (B, C) and, from them, per-sample losses and G = softmax - onehot; x is the
 * pooled input. */
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
    mw_tensor p = {0}, logits = {0}, G = {0};
    mw_status st = pool(ctx, h, h->batch, x, &p);
    if (st == MW_OK)
        st = head_core(ctx, h, p.data ? p.data : x, &logits, &G, loss);
    mw_tensor_free(ctx, &p);
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_logits(mw_ctx *ctx, const mw_head *h, const void *x, double *logits,
                         double *loss)
{
    mw_tensor p = {0}, lg = {0}, G = {0};
    mw_status st = pool(ctx, h, h->batch, x, &p);
    if (st == MW_OK)
        st = head_core(ctx, h, p.data ? p.data : x, &lg, &G, loss);
    if (st == MW_OK)
        st = mw_tensor_download(ctx, &lg, 0, logits, lg.n);
    mw_tensor_free(ctx, &p);
    mw_tensor_free(ctx, &lg);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_vjp(mw_ctx *ctx, const mw_head *h, const void *x, void *hx, void *g,
                      double *loss)
{
    const size_t B = h->batch, C = h->classes, n = h->width;
    mw_status st = MW_OK;
    mw_tensor p = {0}, logits = {0}, G = {0}, hp = {0};
    MW_GO(pool(ctx, h, B, x, &p));
    const void *px = p.data ? p.data : x;
    MW_GO(head_core(ctx, h, px, &logits, &G, loss));
    /* dJ/dlogits = G / B */
    mw_view vG = mw_v(G.data, 0, (ptrdiff_t)C);
    MW_GO(mw_scale(ctx, mw_d(1, B, C), vG, 1.0 / (double)B, vG));
    if (h->pool > 1) { /* hp = G W, then spread evenly over the pooled positions */
        MW_GO(mw_tensor_alloc(ctx, B * n, &hp));
        MW_GO(ctx->ops->gemm(ctx, false, false, B, n, C, 1.0, G.data, C, 0, h->theta, n, 0, 0.0,
                             hp.data, n, 0, 1));
        MW_GO(mw_fill(ctx, mw_d(1, 1, B * n * h->pool), mw_v(hx, 0, 0), 0.0));
        MW_GO(ctx->ops->chan_bias(ctx, B, n, h->pool, 1.0 / (double)h->pool, hp.data, 1, n, hx));
    } else {
        MW_GO(ctx->ops->gemm(ctx, false, false, B, n, C, 1.0, G.data, C, 0, h->theta, n, 0, 0.0,
                             hx, n, 0, 1));
    }
    if (g) {
        MW_GO(ctx->ops->gemm(ctx, true, false, C, n, B, 1.0, G.data, C, 0, px, n, 0, 0.0, g, n,
                             0, 1));
        MW_GO(ctx->ops->sum_rows(ctx, mw_d(1, B, C), vG, 1.0, 0.0,
                                 mw_v(mw_at(ctx, g, C * n), 0, 0)));
    }
done:
    mw_tensor_free(ctx, &p);
    mw_tensor_free(ctx, &hp);
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    return st;
}

mw_status mw_head_jvp(mw_ctx *ctx, const mw_head *h, size_t T, const void *x_in,
                      const void *dx_in, const void *dtheta, size_t ld, void *dJ, double *loss)
{
    const size_t B = h->batch, C = h->classes, n = h->width;
    mw_status st = MW_OK;
    mw_tensor p = {0}, dp = {0}, logits = {0}, G = {0}, dl = {0};
    /* pool x and every tangent (pooling is linear) */
    MW_GO(pool(ctx, h, B, x_in, &p));
    if (dx_in)
        MW_GO(pool(ctx, h, T * B, dx_in, &dp));
    const void *x = p.data ? p.data : x_in, *dx = dp.data ? dp.data : dx_in;
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
    mw_tensor_free(ctx, &p);
    mw_tensor_free(ctx, &dp);
    mw_tensor_free(ctx, &logits);
    mw_tensor_free(ctx, &G);
    mw_tensor_free(ctx, &dl);
    return st;
}
