/* `mwverify suite gradcheck` and `mwverify gradcheck` (suite.h): every method against gold
 * on a grid of networks. A unit is one network: gold once, then every asked method in
 * every dtype measured against it, and projforward's unbiasedness — the error of the
 * K-sample mean for K = 1, 4, 16, 64, 256 and its fitted slope (expected -1/2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"
#include "summary.h"
#include "suite.h"

static const int proj_ks[] = {1, 4, 16, 64, 256};
enum { N_PROJ_K = sizeof proj_ks / sizeof proj_ks[0] };

/* ---- presets ---- */

static void quick(mw_suite_config *c)
{
    (void)c; /* the defaults are the quick grid */
}

static void standard(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    c->mlp = mw_spec_default();
    c->revnet.batch = c->mlp.batch, c->revnet.classes = c->mlp.classes;
    const int d[] = {1, 2, 4, 8, 16};
    memcpy(g->depths, d, sizeof d), g->n_depths = 5;
    g->lpbs[1] = 2, g->n_lpbs = 2;
    g->f_acts[2] = MW_ACT_LEAKY, g->f_acts[3] = MW_ACT_IDENTITY, g->n_f_acts = 4;
    g->seeds[1] = 2, g->seeds[2] = 3, g->n_seeds = 3;
    c->check.proj_repeats = 16;
    c->oracle.gold_budget_s = 3600; /* 252 golds: about 13 min of MPFR on this kind of core */
}

static const mw_preset presets[] = {
    {"quick", "the gradcheck grid on a small mlp and the revnet cell: about 20 s on two cores",
     quick},
    {"standard", "grad's default network, deeper, every F activation, three seeds: about 18 "
                 "minutes on two cores; at depth 16 and on the deeper revnets a few float64 "
                 "runs lose digits beyond --tol to moonwalk's and revbackprop's own "
                 "amplification of rounding",
     standard},
    {NULL, NULL, NULL},
};

/* ---- the unit ---- */

/* The error of projforward's K-sample mean against gold, in float64 (rounding far below
 * the estimator's variance), over `repeats` independent draws per K; and the log-log
 * slope of its root mean square against K. */
static mw_status projforward_rate(const mw_suite_config *c, const mw_grad_case *gc,
                                  mw_proj_rate *out, mw_err *err)
{
    mw_ctx *ctx = NULL;
    mw_net *nn = NULL;
    mw_batch *batch = NULL;
    mw_tensor g = {0};
    const size_t P = gc->lay.total;
    double *host = malloc(P * sizeof *host), x[N_PROJ_K], y[N_PROJ_K];
    mw_status st = host ? mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) : MW_ERR_NOMEM;
    if (st != MW_OK) {
        mw_err_set(err, st, "projforward rate: out of memory");
        goto done;
    }
    if ((st = mw_net_new(ctx, &gc->spec, &nn)) != MW_OK ||
        (st = mw_net_set_params(ctx, nn, gc->theta)) != MW_OK ||
        (st = mw_batch_new(ctx, nn, gc->x, gc->labels, &batch)) != MW_OK ||
        (st = mw_tensor_alloc(ctx, P, &g)) != MW_OK) {
        mw_err_set(err, st, "projforward rate: %s", mw_ctx_message(ctx));
        goto done;
    }
    const int R = c->check.proj_repeats;
    for (int k = 0; k < N_PROJ_K; k++) {
        double sum = 0, sum2 = 0;
        for (int r = 0; r < R; r++) {
            mw_grad_opts o = c->methods.opts;
            o.proj_samples = proj_ks[k];
            o.rng_seed = gc->spec.seed;
            o.rng_step = (uint64_t)(1000 * k + r);
            mw_grad_info info;
            if ((st = mw_grad(ctx, nn, batch, MW_PROJFORWARD, &o, &g, &info)) != MW_OK ||
                (st = mw_tensor_download(ctx, &g, 0, host, P)) != MW_OK) {
                mw_err_set(err, st, "projforward rate: %s", mw_ctx_message(ctx));
                goto done;
            }
            mw_metrics m;
            mw_metrics_compute(host, gc->ref_hi, gc->ref_lo, P, MW_F64, &m);
            sum += m.rel_l2;
            sum2 += m.rel_l2 * m.rel_l2;
        }
        /* the root mean square: E|ĝ_K - g|² = |g|²(d+1)/K exactly, so its slope against K is
         * -1/2 exactly, where the mean error's is not (E|z| < sqrt(E z²) for K = 1) */
        double mean = sum / R, rms = sqrt(sum2 / R);
        out->k[k] = x[k] = proj_ks[k];
        out->rel_err[k] = y[k] = rms;
        out->rel_err_sd[k] = R > 1 ? sqrt(fmax(0.0, (sum2 - R * mean * mean) / (R - 1))) : NAN;
    }
    out->n = N_PROJ_K;
    out->repeats = R;
    mw_fit_power(x, y, N_PROJ_K, &out->slope, &out->slope_r2);
done:
    mw_tensor_free(ctx, &g);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, nn);
    mw_ctx_free(ctx);
    free(host);
    return st;
}

/* A unit's cost: its grid unit, and projforward's rate — `repeats` float64 calls at each
 * K. */
static mw_status gradcheck_unit_cost(const mw_suite_config *c, long u, double *seconds,
                                     double *bytes, mw_err *err)
{
    mw_status st = mw_grid_unit_cost(c, u, seconds, bytes, err);
    if (st != MW_OK || !c->methods.want[MW_PROJFORWARD] || c->check.proj_repeats <= 0)
        return st;
    mw_spec s;
    mw_grid_network(c, u, &s);
    for (int k = 0; k < N_PROJ_K && st == MW_OK; k++) {
        mw_grad_opts o = c->methods.opts;
        o.proj_samples = proj_ks[k];
        mw_call_cost cost;
        st = mw_call_cost_measure(&(mw_engine_config){MW_BACKEND_CPU, MW_MATH_STRICT}, &s,
                                  MW_PROJFORWARD, MW_F64, &o, &cost, err);
        *seconds += c->check.proj_repeats * cost.seconds;
    }
    return st;
}

/* The grid checked (gold within --gold-budget), then the whole estimated. */
static mw_status gradcheck_prepare(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err)
{
    if (!mw_oracle_exact(c->oracle.kind))
        return mw_err_set(err, MW_ERR_ARG, "--oracle %s: gradcheck measures every method "
                          "against the exact gradient: gold or proof",
                          mw_name_of(&mw_oracle_names, (int)c->oracle.kind));
    mw_status st = mw_grid_validate(c, 1, err);
    if (st == MW_OK)
        st = mw_suite_estimate(c, jobs, mw_grid_n_networks(c), gradcheck_unit_cost,
                               "shrink the grid (--depth, --seed, --f-act, --out-act, --arch) "
                               "or the networks (--width, --batch)",
                               est, err);
    return st;
}

static mw_status gradcheck_unit(const void *cfgp, long unit, mw_unit_emit_fn emit, void *emit_arg,
                                mw_unit_result *out, mw_err *err)
{
    (void)emit, (void)emit_arg; /* a network takes a second: no partial results */
    const mw_suite_config *c = cfgp;
    mw_grad_case gc;
    mw_status rc = mw_grid_unit(c, unit, &gc, out, err);
    out->net.proj.slope = out->net.proj.slope_r2 = NAN;
    if (rc == MW_OK && out->net.status == MW_NET_OK && c->methods.want[MW_PROJFORWARD] &&
        c->check.proj_repeats > 0)
        rc = projforward_rate(c, &gc, &out->net.proj, err);
    mw_grad_case_free(&gc);
    return rc;
}

/* ---- the diagnosis against gold ----
 * The diagnosis predicts without gold; gold judges it. For each diagnosed run the class
 * gold's errors give — method-unstable when the run's error is over 10x both backprop's
 * (same network and dtype) and the floor u (L + 1), ill-conditioned when backprop's own is
 * over 10x the floor, within rounding otherwise — and whether the predicted error is
 * within a factor of 10 of the measured one. */

typedef struct diag_tally {
    long runs, within10, class_right;
    long by_class[4], by_class_within10[4], by_class_right[4];
    double *log_ratio;       /* log10(predicted / measured) of each run, for the median */
} diag_tally;

static mw_diag_class gold_class(const mw_report *r, const mw_report_run *run)
{
    const mw_report_step *s = mw_report_last_step(run);
    /* backprop of the same network and dtype: run indices put the methods of a cell in a
     * row (mw_grid_run_index), so it is this run's index less its method's */
    const mw_report_run *bp = mw_report_run_at(r, run->index - (long)run->method + MW_BACKPROP);
    const mw_report_step *b = bp && bp->status == MW_RUN_COMPLETE ? mw_report_last_step(bp) : NULL;
    if (!s || !b)
        return MW_DIAG_NONE;
    const double floor_ = run->diag.floor;
    if (s->vs.rel_l2 > 10.0 * fmax(b->vs.rel_l2, floor_))
        return MW_DIAG_UNSTABLE;
    return b->vs.rel_l2 > 10.0 * floor_ ? MW_DIAG_ILL_CONDITIONED : MW_DIAG_ROUNDING;
}

/* The tally of dtype's diagnosed runs; t->log_ratio must hold r->n_runs values. */
static void diag_tally_of(const mw_report *r, mw_dtype dtype, diag_tally *t)
{
    double *ratios = t->log_ratio;
    memset(t, 0, sizeof *t);
    t->log_ratio = ratios;
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_step *s = mw_report_last_step(run);
        const mw_report_network *net = mw_report_network_at(r, run->network);
        if (run->dtype != dtype || run->diag.cls == MW_DIAG_NONE || !s || !net ||
            !mw_oracle_exact(net->oracle.kind) || !(s->vs.rel_l2 > 0))
            continue;
        const double ratio = run->diag.predicted / s->vs.rel_l2;
        const int hit = ratio >= 0.1 && ratio <= 10.0;
        const mw_diag_class truth = gold_class(r, run);
        t->runs++, t->within10 += hit, t->class_right += truth == run->diag.cls;
        t->by_class[truth]++, t->by_class_within10[truth] += hit;
        t->by_class_right[truth] += truth == run->diag.cls;
        t->log_ratio[t->runs - 1] = log10(ratio);
    }
}

static void print_diagnosis(FILE *f, const mw_report *r)
{
    diag_tally tally = {.log_ratio = malloc((r->n_runs + 1) * sizeof(double))}, *t = &tally;
    if (!t->log_ratio)
        return;
    for (int d = 0; d < 2; d++) {
        diag_tally_of(r, (mw_dtype)d, t);
        if (!t->runs)
            continue;
        fprintf(f, "\nDiagnosis against gold, %s: %ld runs; predicted error within 10x of the "
                   "measured for %ld (%.1f%%), median predicted/measured %.2g; class as gold's "
                   "errors give it for %ld (%.1f%%)\n",
                mw_dtype_name((mw_dtype)d), t->runs, t->within10, 100.0 * t->within10 / t->runs,
                pow(10.0, mw_median(t->log_ratio, (size_t)t->runs)), t->class_right,
                100.0 * t->class_right / t->runs);
        fprintf(f, "  %-16s %6s %12s %12s\n", "gold's class", "runs", "within 10x", "class right");
        for (int k = 1; k < 4; k++)
            if (t->by_class[k])
                fprintf(f, "  %-16s %6ld %11.1f%% %11.1f%%\n", mw_diag_names.names[k],
                        t->by_class[k], 100.0 * t->by_class_within10[k] / t->by_class[k],
                        100.0 * t->by_class_right[k] / t->by_class[k]);
    }
    free(t->log_ratio);
}

static void json_diagnosis(mw_json *j, const mw_report *r)
{
    diag_tally tally = {.log_ratio = malloc((r->n_runs + 1) * sizeof(double))}, *t = &tally;
    mw_json_array_begin(j, "diagnosis");
    for (int d = 0; t->log_ratio && d < 2; d++) {
        diag_tally_of(r, (mw_dtype)d, t);
        if (!t->runs)
            continue;
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "dtype", mw_dtype_name((mw_dtype)d));
        mw_json_integer(j, "runs", t->runs);
        mw_json_integer(j, "within_10x", t->within10);
        mw_json_integer(j, "class_right", t->class_right);
        mw_json_number(j, "median_predicted_over_measured",
                       pow(10.0, mw_median(t->log_ratio, (size_t)t->runs)));
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
    free(t->log_ratio);
}

/* ---- what it prints ---- */

static void gradcheck_print(FILE *f, const mw_suite_config *c, const mw_report *r, int verbose)
{
    double worst[2] = {0, 0}, cert = INFINITY, fd = INFINITY, proved = INFINITY;
    long kinks = 0;
    size_t proofs = 0, gold_proofs = 0;
    if (verbose)
        mw_print_report(f, r, 0);
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_oracle_info *o = &r->networks[i].oracle;
        if (o->kind == MW_ORACLE_PROOF) {
            proofs++, kinks += o->kinks > 0;
            if (r->networks[i].status == MW_NET_OK)
                proved = fmin(proved, o->proved_bits);
        } else if (r->networks[i].status == MW_NET_OK) {
            cert = fmin(cert, o->certified_bits);
            fd = fmin(fd, o->fd_agree_bits);
            if (o->proved_bits > 0 || o->kinks > 0) /* gold carried its proof */
                proved = fmin(proved, o->proved_bits), kinks += o->kinks > 0, gold_proofs++;
        }
    }
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_step *s = mw_report_last_step(run);
        if (s && run->status == MW_RUN_COMPLETE && !mw_method_is_stochastic(run->method))
            worst[run->dtype] = fmax(worst[run->dtype], s->vs.rel_l2);
    }
    if (proofs)
        fprintf(f, "\nProof: every entry of every gradient enclosed, at least %.1f bits proved; "
                   "%ld of %zu networks on a kink.\n", proved, kinks, proofs);
    if (proofs < r->n_networks && gold_proofs)
        fprintf(f, "\nGold certified at least %.1f bits; central differences agree to at least "
                   "%.1f bits; its proof (MPFI) proves at least %.1f bits, %ld of %zu networks on "
                   "a kink.\n", cert, fd, proved, kinks, gold_proofs);
    else if (proofs < r->n_networks)
        fprintf(f, "\nGold certified at least %.1f bits; central differences agree to at least "
                   "%.1f bits.\n", cert, fd);
    fprintf(f, "Largest rel_l2 against %s of a deterministic method: f64 %.3e",
            proofs ? "the proof" : "gold", worst[1]);
    if (c)
        fprintf(f, " (tolerance %.1e)", c->check.tol);
    fprintf(f, ", f32 %.3e.\n", worst[0]);
    print_diagnosis(f, r);
    mw_print_failing_runs(f, r);
}

static void gradcheck_json(mw_json *j, const mw_suite_config *c, const mw_report *r,
                           int verbose)
{
    if (c)
        mw_json_number(j, "tol", c->check.tol);
    json_diagnosis(j, r);
    if (verbose)
        mw_json_cells(j, r);
}

static const mw_optgroup check_group = {"check", "checks", &mw_check_record,
                                        offsetof(mw_suite_config, check)};
static const mw_optgroup *const groups[] = {&check_group,      &mw_gates_group, &mw_grid_group,
                                            &mw_network_group, &mw_methods_group,
                                            &mw_exact_oracle_group, &mw_engine_group,
                                            &mw_budget_group,  NULL};

const mw_suite_def mw_gradcheck_suite = {
    .name = "gradcheck",
    .summary = "every method against gold on a grid of networks",
    .help =
        "Every method against the gold oracle on a grid of networks, in float32 and float64.\n"
        "Gold is the exact gradient from the MPFR reference, certified by a second run with\n"
        "64 more bits and witnessed by central differences; it is computed once per network.\n"
        "Per network it also measures projforward's unbiasedness: the RMS error of its\n"
        "K-sample mean for K = 1, 4, 16, 64, 256 and the fitted slope (expected -1/2).\n"
        "Every network is seeded from the suite seed and its replicate seed alone, so any\n"
        "order, split or resume gives the same numbers. The report holds one group per\n"
        "network (its gold, projforward's rate) and one per run (a method in a dtype on a\n"
        "network), and a summary table (reports/SCHEMA.md). `mwverify gradcheck` runs the\n"
        "same and prints every run, writing a report only with --out.",
    .exit_help = "0 every check passed, 1 a float64 deterministic method is more than --tol\n"
                 "from gold, a method failed, or gold did not certify (all recorded in the\n"
                 "report)",
    .presets = presets,
    .groups = groups,
    .gold = 1,
    .tol_check = 1,
    .prepare = gradcheck_prepare,
    .unit = gradcheck_unit,
    .failures = mw_count_failing_runs,
    .print = gradcheck_print,
    .json = gradcheck_json,
    .plot = mw_plot_gradcheck,
    .plot_help = "rel_l2 against gold, against depth, a panel per dtype; and float32 runs' "
                 "diagnosed error against the measured",
};
