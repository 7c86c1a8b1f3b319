/* The silver oracle (docs/architecture.md §5): backprop in the float64 engine. Cheap enough for
 * every training step; its own error is measured against gold by the oracle issue. */
#include <stdio.h>

#include "oracles.h"

mw_status mw_silver_gradient(const mw_spec *spec, const double *theta, const double *x,
                             const int *labels, double *g, double *loss, mw_err *err)
{
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    mw_tensor gt = {0};
    mw_grad_info info;
    mw_status st = mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx);
    if (st != MW_OK)
        return mw_err_set(err, st, "silver oracle: cannot create a float64 context");
    if ((st = mw_net_new(ctx, spec, &net)) != MW_OK ||
        (theta && (st = mw_net_set_params(ctx, net, theta)) != MW_OK) ||
        (st = mw_batch_new(ctx, net, x, labels, &batch)) != MW_OK ||
        (st = mw_tensor_alloc(ctx, mw_net_layout(net)->total, &gt)) != MW_OK ||
        (st = mw_grad(ctx, net, batch, MW_BACKPROP, NULL, &gt, &info)) != MW_OK ||
        (st = mw_tensor_download(ctx, &gt, 0, g, gt.n)) != MW_OK)
        mw_err_set(err, st, "silver oracle: %s", mw_ctx_message(ctx));
    else
        *loss = info.loss;
    mw_tensor_free(ctx, &gt);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    return st;
}
