/* The gradient check behind `mwverify grad` (suites.h): a seeded network and synthetic
 * batch, its oracles, then each asked method in one dtype, timed, with its working memory
 * and every metric against the oracle. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "datasets.h"
#include "suites.h"

const char *mw_oracle_name(mw_oracle_kind k)
{
    return k == MW_ORACLE_GOLD ? "gold" : k == MW_ORACLE_SILVER ? "silver" : "auto";
}

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
    r.oracle = MW_ORACLE_AUTO;
    r.gold = mw_gold_opts_default();
    r.gold_auto_s = 5.0;
    r.gold_budget_s = 600.0;
    r.engine = MW_BACKEND_CPU;
    r.math = MW_MATH_STRICT;
    return r;
}

int mw_engine_probe(mw_backend_kind engine, mw_math_mode math, mw_dtype dtype,
                    mw_engine_info *info, char *msg, size_t msg_len)
{
    struct {
        int rc;
        mw_engine_info info;
        char msg[256];
    } out;
    int fd[2];
    memset(info, 0, sizeof *info);
    if (pipe(fd) != 0)
        return snprintf(msg, msg_len, "cannot probe the engine: pipe failed") > 0;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return snprintf(msg, msg_len, "cannot probe the engine: fork failed") > 0;
    }
    if (pid == 0) { /* the child opens the engine, reports, and goes */
        memset(&out, 0, sizeof out);
        mw_ctx *ctx = NULL;
        mw_ctx_opts o = {math, 0};
        out.rc = mw_ctx_open(engine, dtype, &o, &ctx, out.msg, sizeof out.msg) != MW_OK;
        if (!out.rc && mw_ctx_info(ctx, &out.info) != MW_OK) {
            out.rc = 1;
            snprintf(out.msg, sizeof out.msg, "%s", mw_ctx_message(ctx));
        }
        mw_ctx_free(ctx);
        ssize_t w = write(fd[1], &out, sizeof out);
        _exit(w == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof out) {
        ssize_t r = read(fd[0], (char *)&out + got, sizeof out - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got != sizeof out)
        return snprintf(msg, msg_len, "--engine %s: the probe died (%s)", mw_backend_name(engine),
                        WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no answer") > 0;
    if (out.rc)
        return snprintf(msg, msg_len, "%s", out.msg) > 0;
    *info = out.info;
    return 0;
}

/* Multiply-adds of the whole body's jvp for one tangent: every map of every layer for the
 * input tangent and again for the parameter tangent; and the parameters of the body. */
static double body_jvp_flop(const mw_spec *s)
{
    double macs = 0.0;
    for (int l = 1; l <= s->depth; l++)
        macs += mw_spec_layer_macs(s, l);
    return 2.0 * 2.0 * macs * s->batch;
}

double mw_method_cost_gflop(const mw_spec *s, mw_method m, const mw_grad_opts *o)
{
    const double L = s->depth, body = body_jvp_flop(s);
    double params = 0.0;
    mw_layout lay;
    if (mw_layout_build(s, &lay) == 0) {
        params = (double)lay.total;
        mw_layout_free(&lay);
    }
    double flop;
    switch (m) {
    case MW_FORWARD: /* each coordinate pushed from its layer on: half the body on average */
        flop = params * body * (L + 1) / (2.0 * L);
        break;
    case MW_MOONWALK: { /* phase 1: n or B·n input tangents (no parameter tangent: half a
                           jvp's work) through the whole body; phase 2 about a backprop */
        double tangents = s->bn ? (double)s->batch * s->width : (double)s->width;
        flop = tangents * body / 2.0 + 3.0 * body;
        break;
    }
    case MW_PROJFORWARD:
        flop = (double)o->proj_samples * body;
        break;
    default: /* backprop-like: a forward and a backward sweep, about three passes */
        flop = 3.0 * body;
    }
    return flop * 1e-9;
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- the case ---- */

void mw_grad_case_free(mw_grad_case *c)
{
    mw_layout_free(&c->lay);
    free(c->theta);
    free(c->x);
    free(c->labels);
    free(c->silver);
    free(c->silver_vs_gold_layers);
    mw_gold_free(&c->gold);
    memset(c, 0, sizeof *c);
}

/* Which oracle: silver when asked; gold when asked (refused over its budget); auto takes
 * gold when its estimate is small, silver otherwise, and says which and why. */
static mw_status choose_oracle(const mw_grad_request *req, mw_grad_case *c, char *msg,
                               size_t msg_len)
{
    c->gold_estimate_s = mw_gold_cost_seconds(&req->spec, &req->gold);
    switch (req->oracle) {
    case MW_ORACLE_SILVER:
        c->oracle = MW_ORACLE_SILVER;
        snprintf(c->oracle_reason, sizeof c->oracle_reason, "asked for");
        return MW_OK;
    case MW_ORACLE_GOLD:
        if (c->gold_estimate_s > req->gold_budget_s) {
            snprintf(msg, msg_len,
                     "oracle gold: estimated %.0f s for this network, over the %.0f s of "
                     "--gold-budget; use --oracle silver or raise --gold-budget",
                     c->gold_estimate_s, req->gold_budget_s);
            return MW_ERR_ARG;
        }
        c->oracle = MW_ORACLE_GOLD;
        snprintf(c->oracle_reason, sizeof c->oracle_reason, "asked for");
        return MW_OK;
    default:
        c->oracle = c->gold_estimate_s <= req->gold_auto_s ? MW_ORACLE_GOLD : MW_ORACLE_SILVER;
        snprintf(c->oracle_reason, sizeof c->oracle_reason,
                 "auto: gold estimated %.2g s, %s the %.0f s limit for auto", c->gold_estimate_s,
                 c->oracle == MW_ORACLE_GOLD ? "within" : "over", req->gold_auto_s);
        return MW_OK;
    }
}

mw_status mw_grad_case_prepare(const mw_grad_request *req, mw_grad_case *c, char *msg,
                               size_t msg_len)
{
    const mw_spec *s = &req->spec;
    memset(c, 0, sizeof *c);
    c->spec = *s;
    if (mw_spec_validate(s, msg, msg_len) != 0)
        return MW_ERR_ARG;
    mw_status st = choose_oracle(req, c, msg, msg_len);
    if (st != MW_OK)
        return st;
    if (mw_layout_build(s, &c->lay) != 0) {
        snprintf(msg, msg_len, "out of memory");
        return MW_ERR_NOMEM;
    }
    const size_t P = c->lay.total, BN = (size_t)s->batch * (size_t)s->width;
    c->theta = malloc(P * sizeof *c->theta);
    c->silver = malloc(P * sizeof *c->silver);
    c->silver_vs_gold_layers = malloc(((size_t)s->depth + 1) * sizeof(double));
    c->x = malloc(BN * sizeof *c->x);
    c->labels = malloc((size_t)s->batch * sizeof *c->labels);
    if (!c->theta || !c->silver || !c->silver_vs_gold_layers || !c->x || !c->labels) {
        snprintf(msg, msg_len, "out of memory for %zu parameters", P);
        mw_grad_case_free(c);
        return MW_ERR_NOMEM;
    }
    mw_init_params(s, &c->lay, c->theta);
    mw_synth data = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&data, 0, s->batch, c->x, c->labels);
    mw_err err;
    if ((st = mw_silver_gradient(s, c->theta, c->x, c->labels, c->silver, &c->silver_loss,
                                 &err)) != MW_OK)
        return snprintf(msg, msg_len, "%s", err.msg), st;
    c->ref_hi = c->silver;
    c->ref_loss = c->silver_loss;
    if (c->oracle == MW_ORACLE_GOLD) {
        st = mw_gold_compute(s, c->theta, c->x, c->labels, &req->gold, &c->gold, &err);
        if (st != MW_OK)
            return snprintf(msg, msg_len, "%s", err.msg), st;
        if (!c->gold.certified) {
            snprintf(msg, msg_len, "%s", c->gold.uncertified);
            st = 99;
        }
        c->ref_hi = c->gold.hi;
        c->ref_lo = c->gold.lo;
        c->ref_loss = c->gold.loss;
        mw_metrics_compute(c->silver, c->gold.hi, c->gold.lo, P, MW_F64, &c->silver_vs_gold);
        mw_metrics_per_layer(c->silver, c->gold.hi, c->gold.lo, &c->lay, s->depth,
                             c->silver_vs_gold_layers);
    }
    double n2 = 0.0;
    for (size_t j = 0; j < P; j++)
        n2 += c->ref_hi[j] * c->ref_hi[j];
    c->ref_norm = sqrt(n2);
    return st;
}

/* ---- the methods ---- */

void mw_method_runs_free(mw_method_runs *runs)
{
    for (int m = 0; m < MW_N_METHODS; m++) {
        free(runs->run[m].grad);
        free(runs->run[m].per_layer);
    }
    memset(runs, 0, sizeof *runs);
}

static void set_message(mw_method_run *run, mw_run_state state, const char *m)
{
    run->state = state;
    snprintf(run->message, sizeof run->message, "%s", m);
}

/* Run one method and measure it against the case's oracle. */
static void run_method(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, mw_method m,
                       const mw_grad_opts *o, const mw_grad_case *c, mw_dtype dtype,
                       mw_method_run *run)
{
    const size_t P = c->lay.total;
    mw_tensor g = {0};
    run->grad = malloc(P * sizeof *run->grad);
    run->per_layer = malloc(((size_t)c->spec.depth + 1) * sizeof *run->per_layer);
    if (!run->grad || !run->per_layer) {
        set_message(run, MW_RUN_FAILED, "out of memory");
        return;
    }
    mw_status st = mw_tensor_alloc(ctx, P, &g);
    if (st != MW_OK) {
        set_message(run, MW_RUN_FAILED, mw_ctx_message(ctx));
        return;
    }
    double t0 = now_seconds();
    st = mw_grad(ctx, net, batch, m, o, &g, &run->info);
    run->seconds = now_seconds() - t0;
    if (run->info.complete) {
        mw_status dl = mw_tensor_download(ctx, &g, 0, run->grad, P);
        if (dl == MW_OK) {
            mw_metrics_compute(run->grad, c->ref_hi, c->ref_lo, P, dtype, &run->vs_oracle);
            mw_metrics_per_layer(run->grad, c->ref_hi, c->ref_lo, &c->lay, c->spec.depth,
                                 run->per_layer);
        } else {
            st = dl;
        }
    }
    if (!run->info.complete || (st != MW_OK && st != MW_ERR_NONFINITE)) {
        /* stopped part way, or no gradient to show: nothing to measure */
        free(run->grad);
        free(run->per_layer);
        run->grad = run->per_layer = NULL;
        run->vs_oracle.rel_l2 = run->vs_oracle.max_abs = run->vs_oracle.max_ulp = NAN;
        run->vs_oracle.cosine = run->vs_oracle.norm = NAN;
    }
    if (st == MW_OK)
        run->state = MW_RUN_OK;
    else
        set_message(run, st == MW_ERR_NONFINITE ? MW_RUN_NONFINITE : MW_RUN_FAILED,
                    mw_ctx_message(ctx));
    mw_tensor_free(ctx, &g);
}

mw_status mw_grad_case_run(const mw_grad_request *req, const mw_grad_case *c, mw_dtype dtype,
                           mw_method_runs *runs, char *msg, size_t msg_len)
{
    const mw_spec *s = &c->spec;
    memset(runs, 0, sizeof *runs);
    runs->dtype = dtype;
    mw_status st = MW_OK;
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    mw_ctx_opts copts = {req->math, 0};
    if ((st = mw_ctx_open(req->engine, dtype, &copts, &ctx, msg, msg_len)) != MW_OK)
        return st;
    if ((st = mw_net_new(ctx, s, &net)) != MW_OK ||
        (st = mw_net_set_params(ctx, net, c->theta)) != MW_OK ||
        (st = mw_batch_new(ctx, net, c->x, c->labels, &batch)) != MW_OK) {
        snprintf(msg, msg_len, "%s", mw_ctx_message(ctx));
        goto done;
    }
    mw_grad_opts opts = req->opts;
    opts.rng_seed = s->seed; /* projforward's tangents follow the one seed too */
    for (int m = 0; m < MW_N_METHODS; m++) {
        mw_method_run *run = &runs->run[m];
        if (!req->want[m])
            continue;
        run->est_gflop = mw_method_cost_gflop(s, (mw_method)m, &opts);
        if (mw_method_needs_inverse((mw_method)m) && !mw_spec_invertible(s)) {
            set_message(run, MW_RUN_SKIPPED, "needs an inverse; out-act leaky with slope 0 has none");
            continue;
        }
        if (!req->named && run->est_gflop > req->budget_gflop) {
            char why[200];
            snprintf(why, sizeof why,
                     "estimated %.3g GFLOP, over the %.3g budget of \"all\"; name it in "
                     "--methods to run it anyway", run->est_gflop, req->budget_gflop);
            set_message(run, MW_RUN_SKIPPED, why);
            continue;
        }
        run_method(ctx, net, batch, (mw_method)m, &opts, c, dtype, run);
    }
done:
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    return st;
}
