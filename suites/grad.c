/* The single gradient check (`mwverify grad`): a seeded network and synthetic batch,
 * the silver oracle on them, then each asked method in the asked dtype, timed, with its
 * working memory and its error against silver. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "suites.h"

mw_grad_request mw_grad_request_default(void)
{
    mw_grad_request r;
    memset(&r, 0, sizeof r);
    r.spec = mw_spec_default();
    r.dtype = MW_F32;
    for (int m = 0; m < MW_N_METHODS; m++)
        r.want[m] = 1;
    r.opts = mw_grad_opts_default();
    r.budget_gflop = 50.0;
    return r;
}

/* Multiply-adds of one layer's jvp for one tangent: the map of every unit for the input
 * tangent and again for the parameter tangent. */
static double layer_jvp_flop(const mw_spec *s)
{
    double macs = 0.0;
    for (int u = 1; u <= s->units; u++) {
        int o, i;
        mw_spec_unit_shape(s, u, &o, &i);
        macs += (double)o * i;
    }
    return 2.0 * 2.0 * macs * s->batch;
}

double mw_method_cost_gflop(const mw_spec *s, mw_method m, const mw_grad_opts *o)
{
    const double L = s->depth, layer = layer_jvp_flop(s);
    double per_layer_params = 0.0;
    for (int u = 1; u <= s->units; u++) {
        int out, in;
        mw_spec_unit_shape(s, u, &out, &in);
        per_layer_params += (double)out * (in + 1);
    }
    double flop;
    switch (m) {
    case MW_FORWARD: /* each layer's coordinates pushed through the rest of the body */
        flop = per_layer_params * layer * L * (L + 1) / 2.0;
        break;
    case MW_MOONWALK: { /* phase 1: n or B·n tangents through the whole body */
        double tangents = s->bn ? (double)s->batch * s->width : (double)s->width;
        flop = tangents * layer * L + 3.0 * layer * L;
        break;
    }
    case MW_PROJFORWARD:
        flop = (double)o->proj_samples * layer * L;
        break;
    default: /* backprop-like: a forward and a backward sweep, about three passes */
        flop = 3.0 * layer * L;
    }
    return flop * 1e-9;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Run one method and measure it against silver. */
static void run_method(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, mw_method m,
                       const mw_grad_opts *o, const double *silver, double *host,
                       mw_method_run *run)
{
    mw_tensor g = {0};
    size_t P = mw_net_layout(net)->total;
    mw_status st = mw_tensor_alloc(ctx, P, &g);
    if (st != MW_OK) {
        run->state = MW_RUN_FAILED;
        snprintf(run->message, sizeof run->message, "%s", mw_ctx_message(ctx));
        return;
    }
    double t0 = now_seconds();
    st = mw_grad(ctx, net, batch, m, o, &g, &run->info);
    run->seconds = now_seconds() - t0;
    if (run->info.complete) {
        mw_status dl = mw_tensor_download(ctx, &g, 0, host, P);
        if (dl == MW_OK)
            mw_metrics_compute(host, silver, P, &run->vs_silver);
        else
            st = dl;
    } else {
        /* stopped part way (a non-finite intermediate): no gradient to measure */
        run->vs_silver.rel_l2 = run->vs_silver.max_abs = NAN;
        run->vs_silver.cosine = run->vs_silver.norm = NAN;
    }
    if (st == MW_OK)
        run->state = MW_RUN_OK;
    else {
        run->state = st == MW_ERR_NONFINITE ? MW_RUN_NONFINITE : MW_RUN_FAILED;
        snprintf(run->message, sizeof run->message, "%s", mw_ctx_message(ctx));
    }
    mw_tensor_free(ctx, &g);
}

mw_status mw_suite_grad(const mw_grad_request *req, mw_grad_report *rep, char *msg,
                        size_t msg_len)
{
    const mw_spec *s = &req->spec;
    memset(rep, 0, sizeof *rep);
    if (mw_spec_validate(s, msg, msg_len) != 0)
        return MW_ERR_ARG;
    mw_layout lay;
    if (mw_layout_build(s, &lay) != 0) {
        snprintf(msg, msg_len, "out of memory");
        return MW_ERR_NOMEM;
    }
    const size_t P = lay.total, BN = (size_t)s->batch * (size_t)s->width;
    mw_layout_free(&lay);
    rep->n_params = P;

    mw_status st = MW_OK;
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    double *x = malloc(BN * sizeof *x), *silver = malloc(P * sizeof *silver);
    double *host = malloc(P * sizeof *host);
    int *labels = malloc((size_t)s->batch * sizeof *labels);
    if (!x || !silver || !host || !labels) {
        snprintf(msg, msg_len, "out of memory for %zu parameters", P);
        st = MW_ERR_NOMEM;
        goto done;
    }
    mw_synth data = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&data, 0, s->batch, x, labels);
    if ((st = mw_silver_gradient(s, NULL, x, labels, silver, &rep->silver_loss, msg,
                                 msg_len)) != MW_OK)
        goto done;
    mw_metrics self;
    mw_metrics_compute(silver, silver, P, &self);
    rep->silver_norm = self.norm;

    if ((st = mw_ctx_new(MW_BACKEND_CPU, req->dtype, &ctx)) != MW_OK) {
        snprintf(msg, msg_len, "cannot create a %s context", mw_dtype_name(req->dtype));
        goto done;
    }
    if ((st = mw_net_new(ctx, s, &net)) != MW_OK ||
        (st = mw_batch_new(ctx, net, x, labels, &batch)) != MW_OK) {
        snprintf(msg, msg_len, "%s", mw_ctx_message(ctx));
        goto done;
    }
    mw_grad_opts opts = req->opts;
    opts.rng_seed = s->seed; /* projforward's tangents follow the one seed too */
    for (int m = 0; m < MW_N_METHODS; m++) {
        mw_method_run *run = &rep->run[m];
        if (!req->want[m])
            continue;
        run->est_gflop = mw_method_cost_gflop(s, (mw_method)m, &req->opts);
        if (mw_method_needs_inverse((mw_method)m) && !mw_spec_invertible(s)) {
            run->state = MW_RUN_SKIPPED;
            snprintf(run->message, sizeof run->message,
                     "needs an inverse; out-act leaky with slope 0 has none");
            continue;
        }
        if (!req->named && run->est_gflop > req->budget_gflop) {
            run->state = MW_RUN_SKIPPED;
            snprintf(run->message, sizeof run->message,
                     "estimated %.3g GFLOP, over the %.3g budget of \"all\"; name it in "
                     "--methods to run it anyway", run->est_gflop, req->budget_gflop);
            continue;
        }
        run_method(ctx, net, batch, (mw_method)m, &opts, silver, host, run);
    }
done:
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    free(x);
    free(silver);
    free(host);
    free(labels);
    return st;
}
