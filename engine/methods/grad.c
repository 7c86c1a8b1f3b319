/* mw_grad: the one entry point to the six methods. It checks the request, measures the
 * method's working memory with the tracked allocator (parameters, batch and g are
 * allocated before and not counted, as in the paper), checks that everything the
 * method allocated came back, and that the gradient it wrote is finite. */
#include <math.h>
#include <string.h>

#include "method.h"

static const char *const names[MW_N_METHODS] = {
    [MW_BACKPROP] = "backprop", [MW_FORWARD] = "forward",   [MW_PROJFORWARD] = "projforward",
    [MW_REVBACKPROP] = "revbackprop", [MW_MOONWALK] = "moonwalk", [MW_MIXED] = "mixed",
};
const mw_names mw_method_names = {"method", names, MW_N_METHODS, NULL};

static const struct {
    mw_method_fn fn;
    int needs_inverse;
    int stochastic;
} methods[MW_N_METHODS] = {
    [MW_BACKPROP] = {mw_method_backprop, 0, 0},
    [MW_FORWARD] = {mw_method_forward, 0, 0},
    [MW_PROJFORWARD] = {mw_method_projforward, 0, 1},
    [MW_REVBACKPROP] = {mw_method_revbackprop, 1, 0},
    [MW_MOONWALK] = {mw_method_moonwalk, 1, 0},
    [MW_MIXED] = {mw_method_mixed, 1, 0},
};

const char *mw_method_name(mw_method m)
{
    return mw_name_of(&mw_method_names, (int)m);
}

int mw_method_parse(const char *name, mw_method *out)
{
    int v;
    if (mw_name_parse(&mw_method_names, name, &v) != 0)
        return 1;
    *out = (mw_method)v;
    return 0;
}

int mw_method_needs_inverse(mw_method m)
{
    return (unsigned)m < MW_N_METHODS && methods[m].needs_inverse;
}

int mw_method_is_stochastic(mw_method m)
{
    return (unsigned)m < MW_N_METHODS && methods[m].stochastic;
}

mw_grad_opts mw_grad_opts_default(void)
{
    mw_grad_opts o = {
        .tangent_block = 64,
        .proj_samples = 1,
        .rng_seed = 1,
        .rng_step = 0,
        .moonwalk_general = 0,
        .memory_probe = 0,
        .bn_update = 0,
    };
    return o;
}

/* Name the first non-finite entry of g by its parameter tensor. */
static mw_status check_gradient(mw_ctx *ctx, const mw_net *net, const void *g)
{
    size_t first, n = net->lay.total;
    mw_status st = ctx->ops->find_nonfinite(ctx, n, g, &first);
    if (st != MW_OK || first == n)
        return st;
    for (int t = 0; t < net->lay.n_params; t++) {
        const mw_param_info *p = &net->lay.params[t];
        if (first < p->offset + p->count)
            return mw_fail(ctx, MW_ERR_NONFINITE, "gradient not finite, first at %s[%zu]",
                           p->name, first - p->offset);
    }
    return mw_fail(ctx, MW_ERR_NONFINITE, "gradient not finite at %zu", first);
}

mw_status mw_grad(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, mw_method m,
                  const mw_grad_opts *opts, mw_tensor *g, mw_grad_info *info)
{
    mw_grad_opts o = opts ? *opts : mw_grad_opts_default();
    memset(info, 0, sizeof *info);
    info->closure_err = NAN;
    info->loss = NAN;
    info->recon_err = NAN;
    ctx->msg[0] = '\0';
    if ((unsigned)m >= MW_N_METHODS)
        return mw_fail(ctx, MW_ERR_ARG, "unknown method %d", (int)m);
    if (g->n != net->lay.total)
        return mw_fail(ctx, MW_ERR_ARG, "gradient tensor has %zu elements, the network %zu",
                       g->n, net->lay.total);
    if (o.tangent_block < 1 || o.proj_samples < 1)
        return mw_fail(ctx, MW_ERR_ARG, "tangent block %d and projection samples %d must be >= 1",
                       o.tangent_block, o.proj_samples);
    if (methods[m].needs_inverse && !mw_spec_invertible(&net->spec))
        return mw_fail(ctx, MW_ERR_NOT_INVERTIBLE,
                       "%s needs the inverse of every layer, but σ = leaky with slope 0 is not "
                       "invertible", names[m]);
    size_t live = ctx->live_bytes;
    mw_ctx_reset_peak(ctx);
    ctx->bn_mode = MW_BN_BATCH;
    if (ctx->impl)
        info->dev_free_before = ctx->impl->mem_free(ctx);
    mw_status st = methods[m].fn(ctx, net, batch, &o, g->data, info);
    ctx->bn_mode = MW_BN_BATCH;
    if (ctx->impl)
        info->dev_free_after = ctx->impl->mem_free(ctx);
    info->peak_bytes = ctx->peak_bytes - live;
    if (st != MW_OK)
        return mw_annotate(ctx, st, "%s", names[m]);
    if (o.memory_probe) /* g is not the gradient: nothing more to check of it */
        return ctx->live_bytes == live ? MW_OK
                                       : mw_fail(ctx, MW_ERR_BACKEND, "%s: %zu working bytes "
                                                 "not released", names[m],
                                                 ctx->live_bytes - live);
    info->complete = 1;
    if (ctx->live_bytes != live)
        return mw_fail(ctx, MW_ERR_BACKEND, "%s: %zu working bytes not released",
                       names[m], ctx->live_bytes - live);
    st = check_gradient(ctx, net, g->data);
    return st == MW_OK ? st : mw_annotate(ctx, st, "%s", names[m]);
}

mw_status mw_input_gradient(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, double *h0)
{
    mw_tensor h = {0};
    ctx->msg[0] = '\0';
    mw_status st = mw_tensor_alloc(ctx, batch->x.n, &h);
    if (st == MW_OK)
        st = mw_backprop_input_cotangent(ctx, net, batch, h.data, NULL, NULL);
    if (st == MW_OK)
        st = mw_tensor_download(ctx, &h, 0, h0, h.n);
    mw_tensor_free(ctx, &h);
    return st;
}
