/* `mwverify suite gradcheck` (suite.h): the gradcheck grid as a suite writing a report.
 * A unit is one network: gold once, then every asked method in every dtype measured
 * against it, and projforward's unbiasedness — the error of the K-sample mean for
 * K = 1, 4, 16, 64, 256 and its fitted slope (expected -1/2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "suite.h"

static const int proj_ks[MW_SUITE_MAX_PROJ_K] = {1, 4, 16, 64, 256};

static const char *run_status(mw_run_state s)
{
    switch (s) {
    case MW_RUN_OK: return "complete";
    case MW_RUN_SKIPPED: return "skipped";
    case MW_RUN_NONFINITE: return "diverged";
    default: return "failed";
    }
}

/* One report run from one method run: a single step row (step 0) and its per-layer row. */
static int to_report_run(const mw_suite_config *c, long unit, int dtype_pos, mw_method m,
                         const mw_grad_case *gc, const mw_method_run *mr, mw_report_run *out)
{
    memset(out, 0, sizeof *out);
    out->index = mw_suite_run_index(c, unit, dtype_pos, m);
    out->network = unit;
    snprintf(out->method, sizeof out->method, "%s", mw_method_name(m));
    snprintf(out->dtype, sizeof out->dtype, "%s", mw_dtype_name(c->grid.dtypes[dtype_pos]));
    snprintf(out->status, sizeof out->status, "%s", run_status(mr->state));
    snprintf(out->message, sizeof out->message, "%s", mr->message);
    out->n_layers = gc->spec.depth + 1;
    if (mr->state == MW_RUN_SKIPPED || mr->state == MW_RUN_FAILED)
        return 0;
    out->n_steps = 1;
    out->steps = malloc(sizeof *out->steps);
    out->layer_rel_l2 = malloc((size_t)out->n_layers * sizeof(double));
    if (!out->steps || !out->layer_rel_l2)
        return 1;
    const mw_metrics *v = &mr->vs_oracle;
    int gold = gc->oracle == MW_ORACLE_GOLD;
    *out->steps = (mw_report_step){
        .step = 0,
        .epoch = 0,
        .loss = mr->info.loss,
        .accuracy = NAN,
        .rel_l2 = v->rel_l2,
        .max_abs = v->max_abs,
        .max_ulp = v->max_ulp,
        .cosine = v->cosine,
        .closure_err = mr->info.closure_err,
        .recon_err = mr->info.recon_err,
        .dist_ref = NAN,
        .gold_rel_l2 = gold ? v->rel_l2 : NAN,
        .silver_vs_gold = gold ? gc->silver_vs_gold.rel_l2 : NAN,
        .seconds = mr->seconds,
        .peak_bytes = (long long)mr->info.peak_bytes,
    };
    for (int l = 0; l < out->n_layers; l++)
        out->layer_rel_l2[l] = mr->per_layer ? mr->per_layer[l] : NAN;
    return 0;
}

/* The error of projforward's K-sample mean against gold, in float64 (rounding far below
 * the estimator's variance), over `repeats` independent draws per K; and the log-log
 * slope of its root mean square against K. */
static int projforward_rate(const mw_suite_config *c, const mw_grad_case *gc,
                            mw_report_network *net, char *msg, size_t msg_len)
{
    mw_ctx *ctx = NULL;
    mw_net *nn = NULL;
    mw_batch *batch = NULL;
    mw_tensor g = {0};
    size_t P = gc->lay.total;
    double *host = malloc(P * sizeof *host);
    int rc = 1;
    if (!host || mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) != MW_OK) {
        snprintf(msg, msg_len, "out of memory");
        goto done;
    }
    if (mw_net_new(ctx, &gc->spec, &nn) != MW_OK || mw_net_set_params(ctx, nn, gc->theta) != MW_OK ||
        mw_batch_new(ctx, nn, gc->x, gc->labels, &batch) != MW_OK ||
        mw_tensor_alloc(ctx, P, &g) != MW_OK) {
        snprintf(msg, msg_len, "projforward rate: %s", mw_ctx_message(ctx));
        goto done;
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    for (int k = 0; k < MW_SUITE_MAX_PROJ_K; k++) {
        double sum = 0, sum2 = 0;
        for (int r = 0; r < c->proj_repeats; r++) {
            mw_grad_opts o = c->base.opts;
            o.proj_samples = proj_ks[k];
            o.rng_seed = gc->spec.seed;
            o.rng_step = (uint64_t)(1000 * k + r);
            mw_grad_info info;
            if (mw_grad(ctx, nn, batch, MW_PROJFORWARD, &o, &g, &info) != MW_OK ||
                mw_tensor_download(ctx, &g, 0, host, P) != MW_OK) {
                snprintf(msg, msg_len, "projforward rate: %s", mw_ctx_message(ctx));
                goto done;
            }
            mw_metrics m;
            mw_metrics_compute(host, gc->ref_hi, gc->ref_lo, P, MW_F64, &m);
            sum += m.rel_l2;
            sum2 += m.rel_l2 * m.rel_l2;
        }
        /* the root mean square: E|ĝ_K - g|² = |g|²(d+1)/K exactly, so its slope against K is
         * -1/2 exactly, where the mean error's is not (E|z| < sqrt(E z²) for K = 1) */
        double n = c->proj_repeats, mean = sum / n, rms = sqrt(sum2 / n);
        net->proj_k[k] = proj_ks[k];
        net->proj_rel_err[k] = rms;
        net->proj_rel_err_sd[k] = n > 1 ? sqrt(fmax(0.0, (sum2 - n * mean * mean) / (n - 1))) : NAN;
        double x = log((double)proj_ks[k]), y = log(rms);
        sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
    }
    const double n = MW_SUITE_MAX_PROJ_K;
    double vx = sxx - sx * sx / n, vy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
    net->n_proj = MW_SUITE_MAX_PROJ_K;
    net->proj_repeats = c->proj_repeats;
    net->proj_slope = cxy / vx;
    net->proj_slope_r2 = vy > 0 ? cxy * cxy / (vx * vy) : NAN;
    rc = 0;
done:
    mw_tensor_free(ctx, &g);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, nn);
    mw_ctx_free(ctx);
    free(host);
    return rc;
}

static void network_record(long unit, const mw_grad_case *gc, mw_status st, const char *why,
                           mw_report_network *n)
{
    memset(n, 0, sizeof *n);
    n->index = unit;
    n->spec = gc->spec;
    snprintf(n->status, sizeof n->status, "%s", st == MW_OK ? "ok" : "failed");
    snprintf(n->message, sizeof n->message, "%s", st == MW_OK ? "" : why);
    int gold = gc->oracle == MW_ORACLE_GOLD && gc->gold.hi;
    snprintf(n->oracle, sizeof n->oracle, "%s", mw_oracle_name(gc->oracle));
    n->bits = gold ? gc->gold.bits : 0;
    n->check_bits = gold ? gc->gold.check_bits : 0;
    n->certified_bits = gold ? gc->gold.certified_bits : NAN;
    n->fd_agree_bits = gold ? gc->gold.fd_agree_bits : NAN;
    n->fd_coords = gold ? (long)gc->gold.fd_coords : 0;
    n->oracle_seconds = gold ? gc->gold.seconds : NAN;
    n->loss = gc->ref_loss;
    n->grad_norm = gc->ref_norm;
    n->silver_vs_gold = gold ? gc->silver_vs_gold.rel_l2 : NAN;
    n->proj_slope = n->proj_slope_r2 = NAN;
}

int mw_gradcheck_unit(const void *cfgp, long unit, mw_unit_emit_fn emit, void *emit_arg,
                      mw_unit_result *out, char *msg, size_t msg_len)
{
    (void)emit, (void)emit_arg; /* a network takes a second: no partial results */
    const mw_suite_config *c = cfgp;
    memset(out, 0, sizeof *out);
    out->unit = unit;
    mw_grad_request req = c->base;
    memcpy(req.want, c->grid.want, sizeof req.want);
    req.named = c->grid.named;
    mw_suite_network(c, unit, &req.spec);
    mw_grad_case gc;
    char why[320] = "";
    mw_status st = mw_grad_case_prepare(&req, &gc, why, sizeof why);
    network_record(unit, &gc, st, why, &out->net);
    out->runs = calloc((size_t)mw_suite_runs_per_network(c), sizeof *out->runs);
    if (!out->runs) {
        mw_grad_case_free(&gc);
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    int rc = 0;
    for (int t = 0; t < c->grid.n_dtypes && rc == 0; t++) {
        mw_method_runs runs;
        memset(&runs, 0, sizeof runs);
        mw_status rst = st == MW_OK ? mw_grad_case_run(&req, &gc, c->grid.dtypes[t], &runs, why,
                                                       sizeof why)
                                    : st;
        for (int m = 0; m < MW_N_METHODS && rc == 0; m++) {
            if (!c->grid.want[m])
                continue;
            mw_method_run failed = {.state = MW_RUN_FAILED};
            const mw_method_run *mr = &runs.run[m];
            if (rst != MW_OK) { /* no oracle, or no run: every run says why */
                snprintf(failed.message, sizeof failed.message, "%s", why);
                mr = &failed;
            }
            rc = to_report_run(c, unit, t, (mw_method)m, &gc, mr, &out->runs[out->n_runs++]);
        }
        mw_method_runs_free(&runs);
    }
    if (rc == 0 && st == MW_OK && c->grid.want[MW_PROJFORWARD] && c->proj_repeats > 0)
        rc = projforward_rate(c, &gc, &out->net, msg, msg_len);
    else if (rc != 0)
        snprintf(msg, msg_len, "out of memory");
    mw_grad_case_free(&gc);
    return rc;
}

int mw_gradcheck_run_failed(const mw_suite_config *c, const mw_report_run *run)
{
    if (strcmp(run->status, "failed") == 0)
        return 1;
    mw_method m;
    if (strcmp(run->dtype, "f64") != 0 || mw_method_parse(run->method, &m) != 0 ||
        mw_method_is_stochastic(m) || strcmp(run->status, "skipped") == 0)
        return 0;
    const mw_report_step *last = mw_report_last_step(run);
    return !(strcmp(run->status, "complete") == 0 && last && last->rel_l2 <= c->tol);
}

static const mw_suite_def gradcheck_def = {"gradcheck", mw_gradcheck_unit,
                                            mw_gradcheck_run_failed, NULL};

mw_status mw_suite_gradcheck(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                             char *msg, size_t msg_len)
{
    return mw_suite_execute(job, &gradcheck_def, out, failed_runs, msg, msg_len);
}
