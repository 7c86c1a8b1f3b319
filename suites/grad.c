/* The gradient check behind `mwverify grad` (suites.h): a seeded network and synthetic
 * batch, its oracles, then each asked method in one dtype, timed, with its working memory
 * and every metric against the oracle. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mw_reference.h"
#include "datasets.h"
#include "suites.h"

mw_method_config mw_method_config_default(void)
{
    mw_method_config m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < MW_N_METHODS; i++)
        m.want[i] = 1;
    m.budget_gflop = 50.0;
    m.opts = mw_grad_opts_default();
    return m;
}

mw_oracle_config mw_oracle_config_default(void)
{
    mw_oracle_config o = {MW_ORACLE_AUTO, mw_gold_opts_default(), 5.0, 600.0};
    return o;
}

mw_grad_request mw_grad_request_default(void)
{
    mw_grad_request r;
    memset(&r, 0, sizeof r);
    r.spec = mw_spec_default();
    r.dtype = MW_F32;
    r.methods = mw_method_config_default();
    r.oracle = mw_oracle_config_default();
    r.engine = (mw_engine_config){MW_BACKEND_CPU, MW_MATH_STRICT};
    return r;
}

mw_status mw_engine_probe(const mw_engine_config *e, mw_dtype dtype, mw_engine_info *info,
                          mw_err *err)
{
    struct {
        int rc;
        mw_engine_info info;
        char msg[256];
    } out;
    int fd[2];
    memset(info, 0, sizeof *info);
    if (pipe(fd) != 0)
        return mw_err_set(err, MW_ERR_BACKEND, "cannot probe the engine: pipe failed");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return mw_err_set(err, MW_ERR_BACKEND, "cannot probe the engine: fork failed");
    }
    if (pid == 0) { /* the child opens the engine, reports, and goes */
        memset(&out, 0, sizeof out);
        mw_ctx *ctx = NULL;
        mw_ctx_opts o = {e->math, e->device};
        out.rc = mw_ctx_open(e->backend, dtype, &o, &ctx, out.msg, sizeof out.msg) != MW_OK;
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
        return mw_err_set(err, MW_ERR_BACKEND, "--engine %s: the probe died (%s)",
                          mw_backend_name(e->backend),
                          WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no answer");
    if (out.rc)
        return mw_err_set(err, MW_ERR_BACKEND, "%s", out.msg);
    *info = out.info;
    return MW_OK;
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
    mw_proof_free(&c->proof);
    memset(c, 0, sizeof *c);
}

/* Which oracle: silver when asked; gold when asked (refused over its budget); auto takes
 * gold when its estimate is small, silver otherwise, and says which and why. */
static mw_status choose_oracle(const mw_grad_request *req, mw_oracle_info *o, mw_err *err)
{
    const mw_oracle_config *oc = &req->oracle;
    o->gold_estimate_seconds = mw_gold_cost_seconds(&req->spec, &oc->gold);
    if (req->spec.coupling == MW_COUPLING_PLUGIN && !mw_ref_plugin_has_mpfr()) {
        if (oc->kind == MW_ORACLE_GOLD)
            return mw_err_set(err, MW_ERR_ARG, "oracle gold: the plugin's layer has no MPFR "
                              "passes, so no gold (--oracle silver)");
        o->kind = MW_ORACLE_SILVER;
        o->gold_estimate_seconds = NAN;
        snprintf(o->reason, sizeof o->reason, "%s: the plugin's layer has no MPFR passes",
                 oc->kind == MW_ORACLE_AUTO ? "auto" : "asked for");
        return MW_OK;
    }
    switch (oc->kind) {
    case MW_ORACLE_SILVER:
    case MW_ORACLE_NONE:
        o->kind = MW_ORACLE_SILVER;
        snprintf(o->reason, sizeof o->reason, "asked for");
        return MW_OK;
    case MW_ORACLE_PROOF:
        if (req->spec.coupling == MW_COUPLING_PLUGIN)
            return mw_err_set(err, MW_ERR_ARG, "oracle proof: a plugin's layer has no interval "
                              "passes (--oracle gold or silver)");
        o->gold_estimate_seconds = mw_proof_cost_seconds(&req->spec, oc->gold.bits);
        if (o->gold_estimate_seconds > oc->gold_budget_s) {
            char a[32], b[32];
            return mw_err_set(err, MW_ERR_ARG,
                              "oracle proof: estimated %s for this network, over the %s of "
                              "--gold-budget; use --oracle gold or silver, or raise "
                              "--gold-budget", mw_fmt_seconds(a, sizeof a, o->gold_estimate_seconds),
                              mw_fmt_seconds(b, sizeof b, oc->gold_budget_s));
        }
        o->kind = MW_ORACLE_PROOF;
        snprintf(o->reason, sizeof o->reason, "asked for");
        return MW_OK;
    case MW_ORACLE_GOLD:
        if (o->gold_estimate_seconds > oc->gold_budget_s) {
            char a[32], b[32];
            return mw_err_set(err, MW_ERR_ARG,
                              "oracle gold: estimated %s for this network, over the %s of "
                              "--gold-budget; use --oracle silver or raise --gold-budget",
                              mw_fmt_seconds(a, sizeof a, o->gold_estimate_seconds),
                              mw_fmt_seconds(b, sizeof b, oc->gold_budget_s));
        }
        o->kind = MW_ORACLE_GOLD;
        snprintf(o->reason, sizeof o->reason, "asked for");
        return MW_OK;
    default:
        o->kind = o->gold_estimate_seconds <= oc->gold_auto_s ? MW_ORACLE_GOLD : MW_ORACLE_SILVER;
        snprintf(o->reason, sizeof o->reason,
                 "auto: gold estimated %.2g s, %s the %.0f s limit for auto",
                 o->gold_estimate_seconds, o->kind == MW_ORACLE_GOLD ? "within" : "over",
                 oc->gold_auto_s);
        return MW_OK;
    }
}

/* Nothing measured: every number NaN. */
static void metrics_none(mw_metrics *m)
{
    m->rel_l2 = m->max_abs = m->max_ulp = m->cosine = m->norm = NAN;
    m->nonfinite = 0;
    m->worst = -1, m->worst_got = m->worst_want = NAN;
}

/* The case's buffers for c->spec (layout, parameters, batch, silver, per-layer NaN), and its
 * oracle's other numbers not measured yet. */
static mw_status case_alloc(mw_grad_case *c, mw_err *err)
{
    const mw_spec *s = &c->spec;
    c->oracle.certified_bits = c->oracle.fd_agree_bits = c->oracle.seconds = NAN;
    c->oracle.proved_bits = NAN;
    metrics_none(&c->oracle.silver_vs_gold);
    if (mw_layout_build(s, &c->lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const size_t P = c->lay.total, BN = (size_t)s->batch * (size_t)s->width;
    c->theta = malloc(P * sizeof *c->theta);
    c->silver = malloc(P * sizeof *c->silver);
    c->silver_vs_gold_layers = malloc(((size_t)s->depth + 1) * sizeof(double));
    c->x = malloc(BN * sizeof *c->x);
    c->labels = malloc((size_t)s->batch * sizeof *c->labels);
    if (!c->theta || !c->silver || !c->silver_vs_gold_layers || !c->x || !c->labels) {
        mw_grad_case_free(c);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory for %zu parameters", P);
    }
    for (int l = 0; l <= s->depth; l++)
        c->silver_vs_gold_layers[l] = NAN;
    return MW_OK;
}

/* Silver at the case's parameters and batch: the oracle until gold replaces it. */
static mw_status case_silver(mw_grad_case *c, mw_err *err)
{
    mw_status st = mw_silver_gradient(&c->spec, c->theta, c->x, c->labels, c->silver,
                                      &c->silver_loss, err);
    c->ref_hi = c->silver;
    c->oracle.loss = c->silver_loss;
    return st;
}

/* |g*| of the oracle the case settled on. */
static void case_norm(mw_grad_case *c)
{
    double n2 = 0.0;
    for (size_t j = 0; j < c->lay.total; j++)
        n2 += c->ref_hi[j] * c->ref_hi[j];
    c->oracle.grad_norm = sqrt(n2);
}

mw_status mw_grad_case_prepare(const mw_grad_request *req, mw_grad_case *c, mw_err *err)
{
    const mw_spec *s = &req->spec;
    memset(c, 0, sizeof *c);
    c->spec = *s;
    char why[256];
    if (mw_spec_validate(s, why, sizeof why) != 0)
        return mw_err_set(err, MW_ERR_ARG, "--%s", why);
    mw_status st = choose_oracle(req, &c->oracle, err);
    if (st != MW_OK || (st = case_alloc(c, err)) != MW_OK)
        return st;
    mw_init_params(s, &c->lay, c->theta);
    mw_synth data = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&data, 0, s->batch, c->x, c->labels);
    if ((st = case_silver(c, err)) != MW_OK)
        return st;
    if (c->oracle.kind == MW_ORACLE_GOLD) {
        if ((st = mw_gold_compute(s, c->theta, c->x, c->labels, &req->oracle.gold, &c->gold,
                                  err)) != MW_OK)
            return st;
        mw_oracle_info *o = &c->oracle;
        c->ref_hi = c->gold.hi;
        c->ref_lo = c->gold.lo;
        o->loss = c->gold.loss;
        o->bits = c->gold.bits;
        o->check_bits = c->gold.check_bits;
        o->certified_bits = c->gold.certified_bits;
        o->fd_agree_bits = c->gold.fd_agree_bits;
        o->fd_coords = (long)c->gold.fd_coords;
        o->seconds = c->gold.seconds;
        o->proved_bits = c->gold.proved_bits; /* the proof beside the certificate */
        o->kinks = c->gold.kinks;
        o->undetermined = c->gold.undetermined;
        memcpy(o->first_kink, c->gold.first_kink, sizeof o->first_kink);
        mw_metrics_compute(c->silver, c->gold.hi, c->gold.lo, c->lay.total, MW_F64,
                           &o->silver_vs_gold);
        mw_metrics_per_layer(c->silver, c->gold.hi, c->gold.lo, &c->lay, s->depth,
                             c->silver_vs_gold_layers);
    }
    if (c->oracle.kind == MW_ORACLE_PROOF) {
        if ((st = mw_proof_compute(s, c->theta, c->x, c->labels, req->oracle.gold.bits, &c->proof,
                                   err)) != MW_OK)
            return st;
        mw_oracle_info *o = &c->oracle;
        const mw_proof *p = &c->proof;
        c->ref_hi = p->hi;
        c->ref_lo = p->lo;
        o->loss = p->loss;
        o->bits = p->bits;
        o->check_bits = 0;
        o->proved_bits = p->proved_bits;
        o->kinks = p->kinks;
        o->undetermined = (long)p->undetermined;
        mw_proof_kink_words(p, o->first_kink, sizeof o->first_kink);
        o->seconds = p->seconds;
        mw_metrics_compute(c->silver, p->hi, p->lo, c->lay.total, MW_F64, &o->silver_vs_gold);
        mw_metrics_per_layer(c->silver, p->hi, p->lo, &c->lay, s->depth,
                             c->silver_vs_gold_layers);
        if (p->kinks) { /* the entries it leaves undetermined, the first two by name */
            char names[2][96] = {"", ""};
            int named = 0;
            for (size_t j = 0; j < p->P && named < 2; j++)
                for (int t = 0; p->bits_of[j] < 1.0 && t < c->lay.n_params; t++) {
                    const mw_param_info *pi = &c->lay.params[t];
                    if (j >= pi->offset && j < pi->offset + pi->count) {
                        snprintf(names[named++], sizeof names[0], "%s[%zu]", pi->name,
                                 j - pi->offset);
                        break;
                    }
                }
            snprintf(c->proof_failed, sizeof c->proof_failed, "proof: %ld kink%s, the first at "
                     "%s (a ReLU or leaky pre-activation whose enclosure holds 0, where the "
                     "derivative is not defined); %zu gradient entries undetermined%s%s%s%s",
                     p->kinks, p->kinks == 1 ? "" : "s", o->first_kink, p->undetermined,
                     named ? ", such as " : "", names[0], named > 1 ? " and " : "", names[1]);
        }
        else if (p->proved_bits < req->oracle.gold.floor_bits)
            snprintf(c->proof_failed, sizeof c->proof_failed, "proof: only %.1f bits proved "
                     "(entry %zu), under --certify-floor %.0f; raise --oracle-bits",
                     p->proved_bits, p->weakest, req->oracle.gold.floor_bits);
    }
    case_norm(c);
    return MW_OK;
}

mw_status mw_grad_case_at(const mw_spec *s, const double *theta, const double *x,
                          const int *labels, mw_grad_case *c, mw_err *err)
{
    memset(c, 0, sizeof *c);
    c->spec = *s;
    c->oracle.kind = MW_ORACLE_SILVER;
    snprintf(c->oracle.reason, sizeof c->oracle.reason, "given parameters and batch");
    c->oracle.gold_estimate_seconds = NAN;
    mw_status st = case_alloc(c, err);
    if (st != MW_OK)
        return st;
    memcpy(c->theta, theta, c->lay.total * sizeof *theta);
    memcpy(c->x, x, (size_t)s->batch * (size_t)s->width * sizeof *x);
    memcpy(c->labels, labels, (size_t)s->batch * sizeof *labels);
    if ((st = case_silver(c, err)) != MW_OK)
        return st;
    case_norm(c);
    return MW_OK;
}

const char *mw_grad_case_unusable(const mw_grad_case *c)
{
    if (c->oracle.kind == MW_ORACLE_GOLD && !c->gold.certified)
        return c->gold.uncertified;
    if (c->oracle.kind == MW_ORACLE_PROOF && c->proof_failed[0])
        return c->proof_failed;
    return NULL;
}

void mw_grad_case_network(const mw_grad_case *c, long index, mw_report_network *out)
{
    memset(out, 0, sizeof *out);
    out->index = index;
    out->spec = c->spec;
    out->oracle = c->oracle;
    out->proj.slope = out->proj.slope_r2 = NAN;
    const char *why = mw_grad_case_unusable(c);
    if (why) {
        out->status = MW_NET_FAILED;
        snprintf(out->message, sizeof out->message, "%s", why);
    }
}

/* ---- the methods ---- */

void mw_method_results_free(mw_method_results *r)
{
    for (int m = 0; m < MW_N_METHODS; m++) {
        free(r->m[m].grad);
        free(r->m[m].per_layer);
    }
    memset(r, 0, sizeof *r);
}

static void set_status(mw_method_result *res, mw_run_status s, const char *why)
{
    res->run.status = s;
    snprintf(res->run.message, sizeof res->run.message, "%s", why);
}

/* Run one method and measure it against the case's oracle. */
static void run_method(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, mw_method m,
                       const mw_grad_opts *o, const mw_grad_case *c, mw_dtype dtype,
                       mw_method_result *res)
{
    const size_t P = c->lay.total;
    mw_tensor g = {0};
    res->grad = malloc(P * sizeof *res->grad);
    res->per_layer = malloc(((size_t)c->spec.depth + 1) * sizeof *res->per_layer);
    if (!res->grad || !res->per_layer) {
        set_status(res, MW_RUN_FAILED, "out of memory");
        return;
    }
    mw_status st = mw_tensor_alloc(ctx, P, &g);
    if (st != MW_OK) {
        set_status(res, MW_RUN_FAILED, mw_ctx_message(ctx));
        return;
    }
    mw_report_step *step = &res->step;
    double t0 = mw_now();
    st = mw_grad(ctx, net, batch, m, o, &g, &res->info);
    step->seconds = mw_now() - t0;
    step->loss = res->info.loss;
    step->closure_err = res->info.closure_err;
    step->recon_err = res->info.recon_err;
    step->peak_bytes = (long long)res->info.peak_bytes;
    if (res->info.complete) {
        mw_status dl = mw_tensor_download(ctx, &g, 0, res->grad, P);
        if (dl == MW_OK) {
            mw_metrics_compute(res->grad, c->ref_hi, c->ref_lo, P, dtype, &step->vs);
            mw_metrics_per_layer(res->grad, c->ref_hi, c->ref_lo, &c->lay, c->spec.depth,
                                 res->per_layer);
        } else {
            st = dl;
        }
    }
    if (!res->info.complete || (st != MW_OK && st != MW_ERR_NONFINITE)) {
        /* stopped part way, or no gradient to show: nothing to measure (the per-layer row
         * stays, NaN, so that a step always has its row) */
        free(res->grad);
        res->grad = NULL;
        for (int l = 0; l <= c->spec.depth; l++)
            res->per_layer[l] = NAN;
        metrics_none(&step->vs);
    }
    if (mw_oracle_exact(c->oracle.kind)) {
        step->gold_rel_l2 = step->vs.rel_l2;
        step->silver_vs_gold = c->oracle.silver_vs_gold.rel_l2;
    }
    if (st == MW_OK)
        res->run.status = MW_RUN_COMPLETE;
    else
        set_status(res, st == MW_ERR_NONFINITE ? MW_RUN_NONFINITE : MW_RUN_FAILED,
                   mw_ctx_message(ctx));
    if (res->run.status != MW_RUN_FAILED) { /* a step to show */
        res->run.steps = step;
        res->run.n_steps = 1;
        res->run.layer_rel_l2 = res->per_layer;
    }
    mw_tensor_free(ctx, &g);
}

mw_status mw_grad_case_run(const mw_grad_request *req, const mw_grad_case *c, mw_dtype dtype,
                           mw_method_results *out, mw_err *err)
{
    const mw_spec *s = &c->spec;
    memset(out, 0, sizeof *out);
    out->dtype = dtype;
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    mw_ctx_opts copts = {req->engine.math, req->engine.device};
    char msg[512];
    mw_status st = mw_ctx_open(req->engine.backend, dtype, &copts, &ctx, msg, sizeof msg);
    if (st != MW_OK)
        return mw_err_set(err, st, "%s", msg);
    if ((st = mw_net_new(ctx, s, &net)) != MW_OK ||
        (st = mw_net_set_params(ctx, net, c->theta)) != MW_OK ||
        (st = mw_batch_new(ctx, net, c->x, c->labels, &batch)) != MW_OK) {
        mw_err_set(err, st, "%s", mw_ctx_message(ctx));
        goto done;
    }
    mw_grad_opts opts = req->methods.opts;
    opts.rng_seed = s->seed; /* projforward's tangents follow the one seed too */
    for (int m = 0; m < MW_N_METHODS; m++) {
        mw_method_result *res = &out->m[m];
        res->step = mw_step_none();
        res->run.diag = mw_diagnosis_none();
        res->run.index = m;
        res->run.method = (mw_method)m;
        res->run.dtype = dtype;
        res->run.n_layers = s->depth + 1;
        if (!req->methods.want[m])
            continue;
        res->run.est_gflop = mw_method_cost_gflop(s, (mw_method)m, &opts);
        if (mw_method_needs_inverse((mw_method)m) && !mw_spec_invertible(s)) {
            set_status(res, MW_RUN_SKIPPED, "needs an inverse; out-act leaky with slope 0 has none");
            continue;
        }
        if (!req->methods.named && res->run.est_gflop > req->methods.budget_gflop) {
            char why[200];
            snprintf(why, sizeof why,
                     "estimated %.3g GFLOP, over the %.3g budget of \"all\"; name it in "
                     "--methods to run it anyway", res->run.est_gflop, req->methods.budget_gflop);
            set_status(res, MW_RUN_SKIPPED, why);
            continue;
        }
        run_method(ctx, net, batch, (mw_method)m, &opts, c, dtype, res);
    }
    if (st == MW_OK) { /* why each has its error; a diagnosis that cannot be made leaves
                          the runs undiagnosed ("-"), their results stand */
        mw_err derr;
        (void)mw_diagnose(req, c, out, &derr);
    }
done:
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    return st;
}
