/* `mwverify suite memory` and `mwverify suite timing` (suite.h): how each method's
 * working memory and time grow with depth, against the paper's Table 1 and its
 * Figures 2–4. A unit is one network (an architecture, a width or padding, a depth); its
 * runs are the methods in each dtype, each one step row holding the peak tracked
 * working bytes (parameters, gradient and batch not counted, as in the paper) and, for
 * timing, the median wall time of one gradient after a warm-up. Once every network is
 * in, the growth exponents and the paper's ratios are fitted and stored (/fits, /ratios).
 *
 * Memory is measured by the memory probe (mw_grad_opts.memory_probe): forward-mode passes
 * run their first block of tangents only, which asks for exactly the buffers every block
 * does (tested: engine test memory_probe_peak_equals_full), so forward mode's peak is
 * measured at any depth without its O(P) passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "plot.h"
#include "suite.h"

/* ---- presets ---- */

/* What memory and timing share: one F activation, no σ, float32, one seed; the mlp of
 * grad at batch 8 and revnets of 3 blocks. */
static void scaling_base(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    c->check.proj_repeats = 0;
    c->oracle.kind = MW_ORACLE_NONE;
    g->f_acts[0] = MW_ACT_RELU, g->n_f_acts = 1;
    g->out_acts[0] = MW_ACT_IDENTITY, g->n_out_acts = 1;
    g->dtypes[0] = MW_F32, g->n_dtypes = 1;
    g->seeds[0] = 1, g->n_seeds = 1;
    g->archs[0] = MW_ARCH_MLP, g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
    c->mlp = mw_spec_default();
    c->mlp.batch = 8;
    c->revnet = mw_spec_revnet_default();
    c->revnet.blocks = 3;
    c->revnet.batch = 8;
    g->channels[0] = c->revnet.channels, g->n_channels = 1;
}

/* Layers per block 1, 2, 3, 5, 10 (Figures 2 and 3); the mlp at 3x those. One tangent
 * per forward-mode pass: Table 1's O(M_x + M_θ); with T (--tangent-block) their buffers
 * are T times that. Every method is probed, whatever its cost in time. */
static void memory_base(mw_suite_config *c, int paper)
{
    mw_suite_grid *g = &c->grid;
    scaling_base(c);
    c->methods.budget_gflop = 1e12;
    c->methods.opts.tangent_block = 1;
    const int lpb[] = {1, 2, 3, 5, 10}, d[] = {3, 6, 9, 15, 30};
    memcpy(g->lpbs, lpb, sizeof lpb), g->n_lpbs = 5;
    memcpy(g->depths, d, sizeof d), g->n_depths = 5;
    g->channels[0] = 8, g->channels[1] = 18, g->n_channels = 2;
    c->revnet.image_h = c->revnet.image_w = paper ? 32 : 8;
    c->revnet.batch = paper ? 512 : 4;
}

static void memory_quick(mw_suite_config *c)
{
    memory_base(c, 0);
}

static void memory_paper(mw_suite_config *c)
{
    memory_base(c, 1);
}

/* 6 and 60 coupling layers (Figure 4), and between; as many of the repeats as --budget
 * allows for all of a method's calls. */
static void timing_quick(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    scaling_base(c);
    c->methods.budget_gflop = 200.0;
    const int d[] = {6, 12, 30, 60}, lpb[] = {1, 2, 4};
    memcpy(g->depths, d, sizeof d), g->n_depths = 4;
    memcpy(g->lpbs, lpb, sizeof lpb), g->n_lpbs = 3;
    c->mlp.batch = 32; /* large enough batches that a gradient is not all call overhead */
    c->revnet.batch = 8;
}

/* Figure 4: 32x32x18, batch 512, 2 to 20 layers per block. */
static void timing_paper(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    timing_quick(c);
    const int pl[] = {2, 5, 10, 20};
    memcpy(g->lpbs, pl, sizeof pl), g->n_lpbs = 4;
    g->archs[0] = MW_ARCH_REVNET, g->n_archs = 1;
    g->channels[0] = c->revnet.channels = 18;
    c->revnet.image_h = c->revnet.image_w = 32, c->revnet.batch = 512;
    c->mlp.batch = 8;
    c->methods.budget_gflop = 1e9;
}

static const mw_preset memory_presets[] = {
    {"quick", "the mlp at 3 to 30 layers, revnets of 8x8 padded to 8 and 18 channels at 1 to "
              "10 layers per block: a minute or two on a CPU", memory_quick},
    {"paper", "the paper's 32x32 revnets, batch 512 (for a GPU: --engine cuda)", memory_paper},
    {NULL, NULL, NULL},
};

static const mw_preset timing_presets[] = {
    {"quick", "the mlp at 6 to 60 layers and a small revnet at 1, 2, 4 layers per block",
     timing_quick},
    {"paper", "Figure 4: a 32x32x18 revnet, batch 512, 2 to 20 layers per block (a GPU)",
     timing_paper},
    {NULL, NULL, NULL},
};

/* ---- units ---- */

long long mw_scaling_total_bytes(const mw_spec *s, mw_dtype dtype, long long peak)
{
    mw_layout lay;
    size_t P = 0, e = dtype == MW_F64 ? 8 : 4;
    if (mw_layout_build(s, &lay) == 0) {
        P = lay.total;
        mw_layout_free(&lay);
    }
    size_t N = (size_t)s->batch * (size_t)s->width;
    return peak + (long long)((2 * P + N) * e + (size_t)s->batch * sizeof(int));
}

/* How many gradients `measure` computes for a method: the memory probe once, or a warm-up
 * and as many of the repeats as --budget allows (0: skipped). */
static int calls_of(const mw_suite_config *c, const mw_spec *s, mw_method m, int timing)
{
    if (mw_method_needs_inverse(m) && !mw_spec_invertible(s))
        return 0;
    if (!timing)
        return 1;
    const double per_call = mw_method_cost_gflop(s, m, &c->methods.opts);
    int timed = c->timing.repeats;
    if (!c->methods.named && per_call * (timed + 1) > c->methods.budget_gflop)
        timed = (int)(c->methods.budget_gflop / per_call) - 1;
    return !c->methods.named && timed < 1 ? 0 : timed + 1;
}

/* A unit's cost: every method's calls in every dtype, measured here. */
static mw_status scaling_unit_cost(const mw_suite_config *c, long u, int timing,
                                   double *seconds, double *bytes, mw_err *err)
{
    mw_spec s;
    mw_grid_network(c, u, &s);
    mw_grad_opts o = c->methods.opts;
    o.memory_probe = !timing;
    *seconds = *bytes = 0.0;
    for (int t = 0; t < c->grid.n_dtypes; t++) {
        double setup = 0.0; /* one network in each dtype for all the methods */
        for (int m = 0; m < MW_N_METHODS; m++) {
            const int calls = c->methods.want[m] ? calls_of(c, &s, (mw_method)m, timing) : 0;
            if (!calls)
                continue;
            mw_call_cost cost;
            mw_status st = mw_call_cost_measure(&c->engine, &s, (mw_method)m, c->grid.dtypes[t],
                                                &o, &cost, err);
            if (st != MW_OK)
                return st;
            /* a run that fails stops at its first call */
            *seconds += (cost.fails ? 1 : calls) * cost.seconds;
            setup = fmax(setup, cost.setup_seconds);
            *bytes = fmax(*bytes, mw_net_bytes(&s, c->grid.dtypes[t]) + cost.peak_bytes);
        }
        *seconds += setup;
    }
    return MW_OK;
}

static mw_status memory_unit_cost(const mw_suite_config *c, long u, double *seconds,
                                  double *bytes, mw_err *err)
{
    return scaling_unit_cost(c, u, 0, seconds, bytes, err);
}

static mw_status timing_unit_cost(const mw_suite_config *c, long u, double *seconds,
                                  double *bytes, mw_err *err)
{
    return scaling_unit_cost(c, u, 1, seconds, bytes, err);
}

static const char *const scaling_shrink =
    "run it with --engine cuda on a GPU machine, or shrink the grid (--depth, "
    "--layers-per-block, --channels, --arch) or the networks (--width, --hidden, --batch, "
    "--image)";

static mw_status memory_prepare(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err)
{
    mw_status st = mw_grid_validate(c, 0, err);
    return st != MW_OK ? st
                       : mw_suite_estimate(c, jobs, mw_grid_n_networks(c), memory_unit_cost,
                                           scaling_shrink, est, err);
}

static mw_status timing_prepare(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err)
{
    mw_status st = mw_grid_validate(c, 0, err);
    return st != MW_OK ? st
                       : mw_suite_estimate(c, jobs, mw_grid_n_networks(c), timing_unit_cost,
                                           scaling_shrink, est, err);
}

/* One method of the unit, measured: its step row (seconds the median of the timed calls
 * after the warm-up, for timing). */
static void measure(const mw_suite_config *c, const mw_spec *s, mw_ctx *ctx, mw_net *nn,
                    mw_batch *b, mw_tensor *g, int timing, double *times, mw_report_run *run,
                    mw_report_timing *tm)
{
    mw_grad_opts o = c->methods.opts;
    o.memory_probe = !timing;
    /* timing: as many of the repeats as the budget allows, at least one after the warm-up;
     * a method whose two calls would not fit is skipped */
    const double per_call = mw_method_cost_gflop(s, run->method, &o);
    const double budget = c->methods.budget_gflop;
    int timed = c->timing.repeats;
    run->est_gflop = per_call;
    if (timing && !c->methods.named && per_call * (timed + 1) > budget)
        timed = (int)(budget / per_call) - 1;
    if (mw_method_needs_inverse(run->method) && !mw_spec_invertible(s)) {
        run->status = MW_RUN_SKIPPED;
        snprintf(run->message, sizeof run->message,
                 "needs an inverse; out-act leaky with slope 0 has none");
        return;
    }
    if (timing && !c->methods.named && timed < 1) {
        run->status = MW_RUN_SKIPPED;
        snprintf(run->message, sizeof run->message, "estimated %.3g GFLOP a call: a warm-up and "
                 "one timed call are over the %.3g of --budget", per_call, budget);
        return;
    }
    mw_grad_info info;
    mw_status gs = MW_OK;
    const int calls = timing ? timed + 1 : 1;
    for (int k = 0; k < calls && gs == MW_OK; k++) {
        double t0 = mw_now();
        gs = mw_grad(ctx, nn, b, run->method, &o, g, &info);
        times[k] = mw_now() - t0;
    }
    if (gs != MW_OK) {
        run->status = MW_RUN_FAILED;
        snprintf(run->message, sizeof run->message, "%s", mw_ctx_message(ctx));
        return;
    }
    run->steps[0] = mw_step_none();
    if (timing) { /* the median of the calls after the first */
        tm->seconds_min = tm->seconds_max = times[1];
        for (int k = 2; k <= timed; k++)
            tm->seconds_min = fmin(tm->seconds_min, times[k]),
            tm->seconds_max = fmax(tm->seconds_max, times[k]);
        run->steps[0].seconds = mw_median(times + 1, (size_t)timed);
        if (timed % 2 == 0) /* the upper middle, as the suite has always kept */
            run->steps[0].seconds = times[1 + timed / 2];
        tm->seconds_median = run->steps[0].seconds;
        tm->calls = timed;
        if (timed < c->timing.repeats)
            snprintf(run->message, sizeof run->message, "timed %d time%s, not %d: the budget "
                     "(%.3g GFLOP a call)", timed, timed == 1 ? "" : "s", c->timing.repeats,
                     per_call);
        run->steps[0].loss = info.loss;
    }
    run->steps[0].peak_bytes = (long long)info.peak_bytes;
    for (int l = 0; l < run->n_layers; l++)
        run->layer_rel_l2[l] = NAN;
    run->n_steps = 1;
    run->status = MW_RUN_COMPLETE;
}

/* One network, every asked method in every dtype: the memory probe (timing = 0) or the
 * median of the timed gradients after a warm-up (timing = 1). */
static mw_status scaling_unit(const mw_suite_config *c, long unit, int timing,
                              mw_unit_result *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    out->unit = unit;
    mw_report_network *net = &out->net;
    net->index = unit;
    mw_grid_network(c, unit, &net->spec);
    const mw_spec *s = &net->spec;
    net->oracle.kind = MW_ORACLE_NONE;
    net->oracle.certified_bits = net->oracle.fd_agree_bits = net->oracle.seconds = NAN;
    net->oracle.gold_estimate_seconds = net->oracle.loss = net->oracle.grad_norm = NAN;
    net->oracle.silver_vs_gold = mw_step_none().vs;
    net->proj.slope = net->proj.slope_r2 = NAN;
    const size_t N = (size_t)s->batch * (size_t)s->width, runs = (size_t)mw_grid_runs_per_network(c);
    out->runs = calloc(runs + 1, sizeof *out->runs);
    double *x = malloc(N * sizeof *x), *times = malloc((size_t)(c->timing.repeats + 1) * sizeof *times);
    int *y = malloc((size_t)s->batch * sizeof *y);
    mw_status rc = MW_OK;
    mw_report_timing *tms = NULL;
    if (timing && (tms = calloc(runs + 1, sizeof *tms))) {
        out->table = MW_TABLE_TIMINGS;
        out->rows = tms;
    }
    if (!out->runs || !x || !y || !times || (timing && !tms))
        rc = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_cpu_sample before, after;
    mw_cpu_sample_now(&before);
    for (size_t k = 0; rc == MW_OK && k < runs; k++) {
        mw_report_run *r = &out->runs[k];
        r->steps = malloc(sizeof *r->steps);
        r->layer_rel_l2 = malloc(((size_t)s->depth + 1) * sizeof(double));
        if (!r->steps || !r->layer_rel_l2)
            rc = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    if (rc == MW_OK) {
        mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
        mw_synth_batch(&d, 0, s->batch, x, y);
    }
    for (int t = 0; t < c->grid.n_dtypes && rc == MW_OK; t++) {
        mw_ctx *ctx = NULL;
        mw_net *nn = NULL;
        mw_batch *b = NULL;
        mw_tensor g = {0};
        char why[320] = "";
        mw_ctx_opts co = {c->engine.math, c->engine.device};
        mw_status st = mw_ctx_open(c->engine.backend, c->grid.dtypes[t], &co, &ctx, why, sizeof why);
        if (st == MW_OK && (mw_net_new(ctx, s, &nn) != MW_OK || mw_batch_new(ctx, nn, x, y, &b) != MW_OK ||
                            mw_tensor_alloc(ctx, mw_net_layout(nn)->total, &g) != MW_OK)) {
            st = MW_ERR_BACKEND;
            snprintf(why, sizeof why, "%s", mw_ctx_message(ctx));
        }
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (!c->methods.want[m])
                continue;
            mw_report_run *run = &out->runs[out->n_runs++];
            run->index = mw_grid_run_index(c, unit, t, (mw_method)m);
            run->network = unit;
            run->n_layers = s->depth + 1;
            run->diag = mw_diagnosis_none();
            run->method = (mw_method)m;
            run->dtype = c->grid.dtypes[t];
            mw_report_timing tm = {.run = run->index, .network = unit, .method = run->method,
                                   .dtype = run->dtype, .layers = s->depth,
                                   .seconds_min = NAN, .seconds_median = NAN,
                                   .seconds_max = NAN, .fitted = NAN, .residual = NAN};
            if (st != MW_OK) {
                run->status = MW_RUN_FAILED;
                snprintf(run->message, sizeof run->message, "%s", why);
            } else {
                measure(c, s, ctx, nn, b, &g, timing, times, run, &tm);
            }
            if (tms && run->status == MW_RUN_COMPLETE)
                tms[out->n_rows++] = tm;
        }
        mw_tensor_free(ctx, &g);
        mw_batch_free(ctx, b);
        mw_net_free(ctx, nn);
        mw_ctx_free(ctx);
    }
    mw_cpu_sample_now(&after);
    /* what else ran while this network was timed: the load every row of it carries */
    const double others = mw_cpu_others(&before, &after);
    for (size_t k = 0; k < out->n_rows; k++)
        tms[k].others = others, tms[k].cores = mw_cpu_count();
    free(x), free(y), free(times);
    return rc;
}

static mw_status memory_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                             mw_unit_result *out, mw_err *err)
{
    (void)emit, (void)emit_arg;
    return scaling_unit(cfg, unit, 0, out, err);
}

static mw_status timing_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                             mw_unit_result *out, mw_err *err)
{
    (void)emit, (void)emit_arg;
    return scaling_unit(cfg, unit, 1, out, err);
}

/* ---- fits and ratios ---- */

int mw_fit_power(const double *x, const double *y, size_t n, double *exponent, double *r2)
{
    double log_c;
    return mw_fit_power_line(x, y, n, exponent, r2, &log_c);
}

int mw_fit_power_line(const double *x, const double *y, size_t n, double *exponent,
                      double *r2, double *log_c)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i]))
            continue;
        double a = log(x[i]), b = log(y[i]);
        sx += a, sy += b, sxx += a * a, sxy += a * b, syy += b * b, k++;
    }
    *exponent = *r2 = *log_c = NAN;
    if (k < 2)
        return 1;
    double vx = sxx - sx * sx / (double)k, vy = syy - sy * sy / (double)k;
    double cxy = sxy - sx * sy / (double)k;
    if (!(vx > 0))
        return 1;
    *exponent = cxy / vx;
    /* all points on one horizontal line (vy is then rounding only): a perfect fit of
     * slope 0 */
    *r2 = vy > 1e-12 * syy ? cxy * cxy / (vx * vy) : 1.0;
    if (!(vy > 1e-12 * syy))
        *exponent = 0.0;
    *log_c = (sy - *exponent * sx) / (double)k;
    return 0;
}

/* Table 1's order in L of a method's memory and time. */
static const char *table1(mw_method m, int timing)
{
    if (timing)
        return m == MW_FORWARD ? "2" : "1";
    return m == MW_BACKPROP ? "1" : m == MW_MIXED ? "0..1" : "0";
}

/* What a scaling suite measures of a run: working bytes, working plus parameters,
 * gradient and batch (what the paper's figures allocate), or seconds. */
enum { Q_PEAK, Q_TOTAL, Q_SECONDS };
static const char *const q_names[] = {"peak_bytes", "total_bytes", "seconds"};

static double quantity_of(const mw_report_run *run, const mw_spec *s, int q)
{
    const mw_report_step *st = mw_report_last_step(run);
    if (!st || run->status != MW_RUN_COMPLETE)
        return NAN;
    if (q == Q_SECONDS)
        return st->seconds;
    return q == Q_TOTAL ? (double)mw_scaling_total_bytes(s, run->dtype, st->peak_bytes)
                        : (double)st->peak_bytes;
}

/* The quantity of method m (dtype) on the network of `setting` whose depth is L. */
static double value_at(const mw_report *r, const char *setting, mw_method m, mw_dtype dtype,
                       int L, int q)
{
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_network *net = mw_report_network_at(r, run->network);
        char set[64];
        if (!net)
            continue;
        mw_spec_setting(&net->spec, set, sizeof set);
        if (net->spec.depth == L && strcmp(set, setting) == 0 && run->method == m &&
            run->dtype == dtype)
            return quantity_of(run, &net->spec, q);
    }
    return NAN;
}

static mw_status add_ratio(mw_report *r, const char *name, double value, double paper)
{
    mw_report_ratio q;
    memset(&q, 0, sizeof q);
    snprintf(q.name, sizeof q.name, "%s", name);
    q.value = value;
    q.paper = paper;
    return mw_report_add_rows(r, MW_TABLE_RATIOS, &q, 1);
}

/* The growth exponent of quantity q of method m (dtype) over the networks of a setting. */
static mw_status fit(mw_report *r, const char *setting, mw_method m, mw_dtype dt, int q,
                     int timing, double *xs, double *ys)
{
    size_t k = 0, points = 0;
    for (size_t i = 0; i < r->n_networks; i++) {
        char set[64];
        mw_spec_setting(&r->networks[i].spec, set, sizeof set);
        if (strcmp(set, setting) != 0)
            continue;
        xs[k] = r->networks[i].spec.depth;
        ys[k] = value_at(r, set, m, dt, r->networks[i].spec.depth, q);
        points += ys[k] > 0 && isfinite(ys[k]);
        k++;
    }
    mw_report_fit f;
    memset(&f, 0, sizeof f);
    if (mw_fit_power(xs, ys, k, &f.exponent, &f.r2) != 0)
        return MW_OK;
    snprintf(f.setting, sizeof f.setting, "%s", setting);
    f.method = m, f.dtype = dt, f.points = (long long)points;
    snprintf(f.quantity, sizeof f.quantity, "%s", q_names[q]);
    snprintf(f.table1, sizeof f.table1, "%s", table1(m, timing));
    return mw_report_add_rows(r, MW_TABLE_FITS, &f, 1);
}

/* Memory at 10 layers per block (Figure 2, allocated memory in all: about 2 for moonwalk,
 * mixed and revbackprop, 2.4 for projforward, at 32x32x8). */
static mw_status memory_ratios(mw_report *r, const char *setting, mw_dtype dt)
{
    int L10 = 0;
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_spec *s = &r->networks[i].spec;
        char set[64];
        mw_spec_setting(s, set, sizeof set);
        if (strcmp(set, setting) == 0 &&
            ((s->arch == MW_ARCH_REVNET && s->layers_per_block == 10) ||
             (s->arch == MW_ARCH_MLP && s->depth == 30)))
            L10 = s->depth;
    }
    if (!L10)
        return MW_OK;
    static const mw_method others[4] = {MW_MOONWALK, MW_MIXED, MW_REVBACKPROP, MW_PROJFORWARD};
    static const double paper8[4] = {2.0, 2.0, 2.0, 2.4};
    const int p8 = strncmp(setting, "revnet 8x32x32", 14) == 0;
    mw_status st = MW_OK;
    for (int q = Q_PEAK; q <= Q_TOTAL; q++) {
        double bp = value_at(r, setting, MW_BACKPROP, dt, L10, q);
        for (int o = 0; o < 4 && st == MW_OK; o++) {
            char name[128];
            double v = value_at(r, setting, others[o], dt, L10, q);
            snprintf(name, sizeof name, "%s backprop/%s, %s, %s, %d layers", q_names[q],
                     mw_method_name(others[o]), setting, mw_dtype_name(dt), L10);
            st = add_ratio(r, name, bp / v, p8 && q == Q_TOTAL ? paper8[o] : NAN);
        }
    }
    return st;
}

/* Time at 6 and 60 layers (§6.4: forward/moonwalk 27 and 110) and mixed/backprop (§6.5:
 * about 2) at every depth. */
static mw_status timing_ratios(mw_report *r, const char *setting, mw_dtype dt)
{
    static const int Ls[2] = {6, 60};
    static const double paper_fm[2] = {27.0, 110.0};
    const char *dn = mw_dtype_name(dt);
    char name[128];
    mw_status st = MW_OK;
    for (int q = 0; q < 2 && st == MW_OK; q++) {
        double f = value_at(r, setting, MW_FORWARD, dt, Ls[q], Q_SECONDS);
        double mw = value_at(r, setting, MW_MOONWALK, dt, Ls[q], Q_SECONDS);
        if (!isfinite(f) || !isfinite(mw))
            continue;
        snprintf(name, sizeof name, "seconds forward/moonwalk, %s, %s, %d layers", setting, dn,
                 Ls[q]);
        st = add_ratio(r, name, f / mw, paper_fm[q]);
    }
    for (size_t i = 0; i < r->n_networks && st == MW_OK; i++) {
        char set[64];
        mw_spec_setting(&r->networks[i].spec, set, sizeof set);
        if (strcmp(set, setting) != 0)
            continue;
        int L = r->networks[i].spec.depth;
        double mx = value_at(r, set, MW_MIXED, dt, L, Q_SECONDS);
        double bp = value_at(r, set, MW_BACKPROP, dt, L, Q_SECONDS);
        if (!isfinite(mx) || !isfinite(bp))
            continue;
        snprintf(name, sizeof name, "seconds mixed/backprop, %s, %s, %d layers", set, dn, L);
        st = add_ratio(r, name, mx / bp, 2.0);
    }
    return st;
}

/* Each timed run's place against its fit: the seconds its setting's line (log seconds
 * against log L over the runs of the same setting, method and dtype, mw_fit_power_line)
 * gives at its L, and the measured median over that. */
static void timing_residuals(mw_report *r)
{
    mw_report_table *t = &r->tables[MW_TABLE_TIMINGS];
    mw_report_timing *rows = t->rows;
    const size_t n = t->n;
    char (*set)[64] = calloc(n ? n : 1, sizeof *set); /* each row's setting, once */
    double *xs = malloc((n ? n : 1) * sizeof *xs), *ys = malloc((n ? n : 1) * sizeof *ys);
    for (size_t i = 0; set && i < n; i++) {
        const mw_report_network *ni = mw_report_network_at(r, (long)rows[i].network);
        if (ni)
            mw_spec_setting(&ni->spec, set[i], sizeof set[i]);
    }
    for (size_t i = 0; i < n; i++) {
        rows[i].fitted = rows[i].residual = NAN;
        if (!set || !xs || !ys || !set[i][0])
            continue;
        size_t k = 0;
        for (size_t j = 0; j < n; j++)
            if (rows[j].method == rows[i].method && rows[j].dtype == rows[i].dtype &&
                strcmp(set[i], set[j]) == 0)
                xs[k] = rows[j].layers, ys[k++] = rows[j].seconds_median;
        double p, r2, log_c;
        if (mw_fit_power_line(xs, ys, k, &p, &r2, &log_c) != 0 || !(rows[i].seconds_median > 0))
            continue;
        rows[i].fitted = exp(log_c + p * log((double)rows[i].layers));
        rows[i].residual = rows[i].seconds_median / rows[i].fitted;
    }
    free(set), free(xs), free(ys);
}

/* The growth exponents (per setting, method, dtype: log-log slope against the coupling
 * layers, with R²) beside Table 1, and the paper's ratios, into the report's tables. */
static mw_status analyse(const mw_suite_config *c, mw_report *r, int timing, mw_err *err)
{
    mw_report_clear_table(r, MW_TABLE_FITS);
    mw_report_clear_table(r, MW_TABLE_RATIOS);
    const size_t n = r->n_networks;
    double *xs = malloc((n ? n : 1) * sizeof *xs), *ys = malloc((n ? n : 1) * sizeof *ys);
    char (*settings)[64] = calloc(n ? n : 1, sizeof *settings);
    mw_status st = xs && ys && settings ? MW_OK : MW_ERR_NOMEM;
    size_t ns = 0; /* distinct settings, in network order */
    for (size_t i = 0; st == MW_OK && i < n; i++) {
        char set[64];
        mw_spec_setting(&r->networks[i].spec, set, sizeof set);
        size_t j = 0;
        while (j < ns && strcmp(settings[j], set) != 0)
            j++;
        if (j == ns)
            snprintf(settings[ns++], sizeof settings[0], "%s", set);
    }
    const int q0 = timing ? Q_SECONDS : Q_PEAK, q1 = timing ? Q_SECONDS : Q_TOTAL;
    for (int q = q0; q <= q1 && st == MW_OK; q++)
        for (size_t si = 0; si < ns && st == MW_OK; si++)
            for (int t = 0; t < c->grid.n_dtypes && st == MW_OK; t++)
                for (int m = 0; m < MW_N_METHODS && st == MW_OK; m++)
                    if (c->methods.want[m])
                        st = fit(r, settings[si], (mw_method)m, c->grid.dtypes[t], q, timing, xs,
                                 ys);
    for (size_t si = 0; si < ns && st == MW_OK; si++)
        for (int t = 0; t < c->grid.n_dtypes && st == MW_OK; t++)
            st = timing ? timing_ratios(r, settings[si], c->grid.dtypes[t])
                        : memory_ratios(r, settings[si], c->grid.dtypes[t]);
    if (timing)
        timing_residuals(r);
    free(xs), free(ys), free(settings);
    return st == MW_OK ? MW_OK : mw_err_set(err, st, "out of memory");
}

static mw_status memory_finish(const mw_suite_config *c, mw_report *r, mw_err *err)
{
    return analyse(c, r, 0, err);
}

static mw_status timing_finish(const mw_suite_config *c, mw_report *r, mw_err *err)
{
    return analyse(c, r, 1, err);
}

/* ---- what they print ---- */

/* "mlp 16/32 b32, depth 6", "revnet 4x8x8 b8, 2 per block": a row's name. */
static void network_name(const mw_spec *s, char *name, size_t n)
{
    if (s->arch == MW_ARCH_REVNET)
        snprintf(name, n, "revnet %dx%dx%d b%d, %d per block", s->channels, s->image_h,
                 s->image_w, s->batch, s->layers_per_block);
    else
        snprintf(name, n, "mlp %d/%d b%d, depth %d", s->width, s->hidden, s->batch, s->depth);
}

/* A matrix's row: the network's name, and its runs by method from runs[*k] on (runs are in
 * network order; *k moves past this network's). */
static void matrix_row(FILE *f, const mw_report *r, const mw_report_network *n, size_t *k,
                       const mw_report_run *by_method[MW_N_METHODS])
{
    char name[64];
    network_name(&n->spec, name, sizeof name);
    fprintf(f, "%-44s", name);
    for (int m = 0; m < MW_N_METHODS; m++)
        by_method[m] = NULL;
    for (; *k < r->n_runs && r->runs[*k].network <= n->index; (*k)++)
        if (r->runs[*k].network == n->index && !by_method[r->runs[*k].method])
            by_method[r->runs[*k].method] = &r->runs[*k];
}

/* A matrix's head: the column of networks, then a column per method. */
static void matrix_head(FILE *f)
{
    fprintf(f, "%-44s", "network");
    for (int m = 0; m < MW_N_METHODS; m++)
        fprintf(f, " %17s", mw_method_name((mw_method)m));
    fputc('\n', f);
}

/* The measurements as a matrix: a row per network, a column per method. */
static void print_matrix(FILE *f, const mw_report *r, int timing)
{
    fprintf(f, "\n%s\n\n", timing ? "median seconds per gradient"
                                   : "peak working KiB / total KiB (with parameters, gradient "
                                     "and batch)");
    matrix_head(f);
    size_t k = 0; /* runs are in network order */
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        const mw_spec *s = &n->spec;
        const mw_report_run *by_method[MW_N_METHODS];
        matrix_row(f, r, n, &k, by_method);
        for (int m = 0; m < MW_N_METHODS; m++) {
            const mw_report_run *run = by_method[m];
            const mw_report_step *st = run ? mw_report_last_step(run) : NULL;
            char cell[32] = "-";
            if (st && run->status == MW_RUN_COMPLETE) {
                if (timing)
                    snprintf(cell, sizeof cell, "%.3g", st->seconds);
                else
                    snprintf(cell, sizeof cell, "%.0f/%.0f", st->peak_bytes / 1024.0,
                             mw_scaling_total_bytes(s, run->dtype, st->peak_bytes) / 1024.0);
            } else if (run) {
                snprintf(cell, sizeof cell, "%s", mw_name_of(&mw_run_status_names, (int)run->status));
            }
            fprintf(f, " %17s", cell);
        }
        fprintf(f, "\n");
    }
}

/* A timed run's row of /timings, or NULL. */
static const mw_report_timing *timing_of(const mw_report *r, long long run)
{
    const mw_report_table *t = &r->tables[MW_TABLE_TIMINGS];
    for (size_t i = 0; i < t->n; i++)
        if (((const mw_report_timing *)t->rows)[i].run == run)
            return (const mw_report_timing *)t->rows + i;
    return NULL;
}

/* How far a fit's exponent can move within its runs' timed calls: the slope through the
 * fastest call at the shallow depths and the slowest at the deep ones (*hi), and the other
 * way round (*lo), the depths split at their mean log. A run's fastest and slowest of n
 * calls bound a confidence interval of its median (1 - 2/2^n: 94% for the default 5), so
 * the range is that of every run's median falling at the end of its interval in the worst
 * arrangement. 1 when there are fewer than two points. */
static int exponent_range(const mw_report *r, const char *setting, mw_method m, mw_dtype dt,
                          double *lo, double *hi)
{
    const mw_report_table *t = &r->tables[MW_TABLE_TIMINGS];
    const mw_report_timing *rows = t->rows;
    double xs[2][64], ys[2][64], mean = 0.0;
    size_t k = 0;
    for (size_t i = 0; i < t->n && k < 64; i++) {
        const mw_report_network *n = mw_report_network_at(r, (long)rows[i].network);
        char set[64];
        if (!n || rows[i].method != m || rows[i].dtype != dt || !(rows[i].seconds_min > 0))
            continue;
        mw_spec_setting(&n->spec, set, sizeof set);
        if (strcmp(set, setting) != 0)
            continue;
        xs[0][k] = xs[1][k] = rows[i].layers;
        ys[0][k] = rows[i].seconds_min, ys[1][k] = rows[i].seconds_max;
        mean += log((double)rows[i].layers);
        k++;
    }
    if (k < 2)
        return 1;
    mean /= (double)k;
    double up[64], down[64], r2;
    for (size_t i = 0; i < k; i++) {
        const int deep = log(xs[0][i]) > mean;
        up[i] = ys[deep][i], down[i] = ys[!deep][i];
    }
    return mw_fit_power(xs[0], up, k, hi, &r2) || mw_fit_power(xs[0], down, k, lo, &r2);
}

/* An exponent that can move by more than ±this within its calls' intervals, or other
 * processes taking more than this of a core while a network was timed, make the timings
 * unreliable (the fits' points are then the machine's, not the method's). Measured with
 * the quick preset on 2 cores: idle, the widest range was 0.31 (forward on the revnet, a
 * fit of two points) and the rest at most 0.20; beside two busy processes, 0.41 to 1.25
 * for five fits, and 1.39 cores taken by others. */
#define EXPONENT_ALARM 0.2
#define OTHERS_ALARM 0.25

/* Under the medians: each run's spread (slowest / fastest timed call) and its median over
 * what its setting's fit gives at its depth; each fit's exponent range within those
 * spreads; then, when the numbers cannot be trusted, a warning that says why. */
static void print_spread(FILE *f, const mw_report *r)
{
    /* n calls bound their median between the fastest and the slowest with probability
     * 1 - 2/2^n (each call falls below the true median with probability 1/2) */
    const long long calls = ((const mw_report_timing *)r->tables[MW_TABLE_TIMINGS].rows)->calls;
    fprintf(f, "\nspread of the timed calls, slowest/fastest (with %lld calls, [fastest, slowest] "
               "is a %.0f%% confidence\ninterval of the median), and in brackets the median over "
               "its setting's fit\n\n", calls, 100.0 * (1.0 - ldexp(2.0, -(int)calls)));
    matrix_head(f);
    size_t k = 0;
    double others = 0.0;
    int cores = 0;
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        const mw_report_run *by_method[MW_N_METHODS];
        matrix_row(f, r, n, &k, by_method);
        for (int m = 0; m < MW_N_METHODS; m++) {
            const mw_report_timing *t = by_method[m] ? timing_of(r, by_method[m]->index) : NULL;
            char cell[32] = "-";
            if (t && t->seconds_min > 0) {
                snprintf(cell, sizeof cell, "%.2f (%.2f)", t->seconds_max / t->seconds_min,
                         t->residual);
                if (isfinite(t->others))
                    others = fmax(others, t->others);
                cores = t->cores;
            }
            fprintf(f, " %17s", cell);
        }
        fputc('\n', f);
    }
    /* the exponents as far as the calls' intervals let them move */
    const mw_report_table *fits = &r->tables[MW_TABLE_FITS];
    const mw_report_fit *worst = NULL;
    double widest = 0.0;
    fprintf(f, "\nexponents p within the calls' intervals, [lowest, highest]:\n");
    const char *last = "";
    for (size_t i = 0; i < fits->n; i++) {
        const mw_report_fit *fi = (const mw_report_fit *)fits->rows + i;
        double lo, hi;
        if (exponent_range(r, fi->setting, fi->method, fi->dtype, &lo, &hi))
            continue;
        if (strcmp(last, fi->setting) != 0)
            fprintf(f, "%s  %s, %s:", last[0] ? "\n" : "", fi->setting, mw_dtype_name(fi->dtype));
        last = fi->setting;
        fprintf(f, " %s %.2f [%.2f, %.2f]", mw_method_name(fi->method), fi->exponent, lo, hi);
        if (hi - lo > widest)
            widest = hi - lo, worst = fi;
    }
    if (last[0])
        fputc('\n', f);
    if (widest > 2.0 * EXPONENT_ALARM || others > OTHERS_ALARM) {
        fprintf(f, "\nWARNING: these timings are not reliable:");
        if (widest > 2.0 * EXPONENT_ALARM)
            fprintf(f, " within its calls' spread %s's exponent on %s can move by %.2f (over "
                       "±%.2f);", mw_method_name(worst->method), worst->setting, widest,
                    EXPONENT_ALARM);
        if (others > OTHERS_ALARM)
            fprintf(f, " other processes kept up to %.2f of the %d cores busy while networks "
                       "were timed;", others, cores);
        fprintf(f, " time again on an idle machine, with more --repeats.\n");
    }
}

static const mw_column fit_columns[] = {
    {"quantity", "quantity", -12}, {"setting", "setting", -36}, {"method", "method", -12},
    {"dtype", "dtype", -5},        {"exponent", "p", 8, "%.3f"}, {"r2", "R²", 8, "%.4f"},
    {"points", "points", 6},       {"table1", "Table 1", 7},
};

static void scaling_print(FILE *f, const mw_report *r, int timing)
{
    print_matrix(f, r, timing);
    if (timing && r->tables[MW_TABLE_TIMINGS].n)
        print_spread(f, r);
    fprintf(f, "\ngrowth with depth: %s ∝ L^p, least squares in log-log over the depths of each "
               "setting; Table 1's\norder in L beside it (memory: backprop 1, mixed between, the "
               "rest 0; time: forward 2, the rest 1)\n\n",
            timing ? "median seconds per gradient"
                   : "peak working bytes (and the total with parameters, gradient, batch)");
    const int nc = sizeof fit_columns / sizeof fit_columns[0];
    mw_table_head(f, "", fit_columns, nc);
    fputc('\n', f);
    const mw_report_table *fits = &r->tables[MW_TABLE_FITS];
    for (size_t i = 0; i < fits->n; i++) {
        mw_table_row(f, "", fit_columns, nc, &mw_fit_record, (mw_report_fit *)fits->rows + i);
        fputc('\n', f);
    }
    const mw_report_table *ratios = &r->tables[MW_TABLE_RATIOS];
    if (ratios->n)
        fprintf(f, "\nratios (the paper's figure where it quotes one):\n");
    for (size_t i = 0; i < ratios->n; i++) {
        const mw_report_ratio *q = (const mw_report_ratio *)ratios->rows + i;
        char a[32], b[32];
        fprintf(f, "  %-100s %10s  paper %s\n", q->name, mw_fmt(a, sizeof a, q->value),
                isnan(q->paper) ? "-" : mw_fmt(b, sizeof b, q->paper));
    }
}

static void memory_print(FILE *f, const mw_suite_config *c, const mw_report *r, int verbose)
{
    (void)c, (void)verbose;
    scaling_print(f, r, 0);
}

static void timing_print(FILE *f, const mw_suite_config *c, const mw_report *r, int verbose)
{
    (void)c, (void)verbose;
    scaling_print(f, r, 1);
}

static void scaling_json(mw_json *j, const mw_suite_config *c, const mw_report *r, int verbose)
{
    (void)c, (void)verbose;
    static const mw_table_id ids[2] = {MW_TABLE_FITS, MW_TABLE_RATIOS};
    for (int t = 0; t < 2; t++) {
        const mw_report_table *tb = &r->tables[ids[t]];
        const mw_record *rec = mw_report_table_record(ids[t]);
        mw_json_array_begin(j, mw_report_table_name(ids[t]));
        for (size_t i = 0; i < tb->n; i++)
            mw_json_record(j, NULL, rec, (const char *)tb->rows + i * rec->size);
        mw_json_array_end(j);
    }
}

static const mw_optgroup timing_group = {"timing", "timing", &mw_timing_record,
                                         offsetof(mw_suite_config, timing)};
static const mw_optgroup *const memory_groups[] = {&mw_gates_group,   &mw_grid_group,
                                                   &mw_network_group, &mw_methods_group,
                                                   &mw_engine_group,  &mw_budget_group, NULL};
static const mw_optgroup *const timing_groups[] = {&timing_group,     &mw_gates_group,
                                                   &mw_grid_group,    &mw_network_group,
                                                   &mw_methods_group, &mw_engine_group,
                                                   &mw_budget_group,  NULL};

const mw_suite_def mw_memory_suite = {
    .name = "memory",
    .summary = "every method's working memory against depth (Table 1)",
    .help =
        "The working memory of one gradient by each method against depth — the paper's\n"
        "Table 1 and Figures 2-3 measured: the peak bytes the tracked allocator saw, the\n"
        "parameters, the gradient and the batch not counted (as in the paper; the report's\n"
        "summary also gives the total). Forward-mode passes are measured by their first\n"
        "block of tangents, which asks for the same buffers as every other block, so\n"
        "forward mode's memory is measured at any depth without its cost in time. Then\n"
        "the growth exponent of each method (log-log slope against the coupling layers,\n"
        "with R²) beside Table 1's order, and the paper's ratios — backprop over moonwalk,\n"
        "mixed, revbackprop (about 2) and projforward (2.4) at 10 layers per block — are\n"
        "printed and stored in the report (/fits, /ratios).",
    .exit_help = "0 every run measured, 1 a run failed",
    .presets = memory_presets,
    .groups = memory_groups,
    .prepare = memory_prepare,
    .unit = memory_unit,
    .failures = mw_count_failing_runs,
    .finish = memory_finish,
    .print = memory_print,
    .json = scaling_json,
    .plot = mw_plot_memory,
    .plot_help = "peak working bytes against depth, log-log",
};

const mw_suite_def mw_timing_suite = {
    .name = "timing",
    .summary = "every method's time per gradient against depth (Table 1)",
    .help =
        "The wall time of one gradient by each method against depth — Table 1 and Figure 4\n"
        "measured: the median of --repeats calls after a warm-up. A method is timed as many\n"
        "of the --repeats times as --budget allows for all its calls, at least once after\n"
        "its warm-up, else skipped with its estimate. It runs one network at a time unless\n"
        "--jobs says otherwise: networks side by side on shared cores spoil each other's\n"
        "times. Then the growth exponents beside Table 1's order, and the paper's ratios —\n"
        "forward/moonwalk at 6 and 60 layers (27 and 110), mixed/backprop (about 2) — are\n"
        "printed and stored in the report (/fits, /ratios).",
    .exit_help = "0 every run measured, 1 a run failed",
    .presets = timing_presets,
    .groups = timing_groups,
    .one_job = 1,
    .prepare = timing_prepare,
    .unit = timing_unit,
    .failures = mw_count_failing_runs,
    .finish = timing_finish,
    .print = timing_print,
    .json = scaling_json,
    .plot = mw_plot_timing,
    .plot_help = "median seconds per gradient against depth, log-log",
};
