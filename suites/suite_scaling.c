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
#include <time.h>

#include "datasets.h"
#include "suite.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- presets ---- */

int mw_scaling_preset(const char *suite, const char *name, mw_suite_config *c)
{
    const int timing = strcmp(suite, "timing") == 0;
    const int quick = strcmp(name, "quick") == 0, paper = strcmp(name, "paper") == 0;
    if (!quick && !paper)
        return 1;
    mw_suite_preset("quick", c); /* the grid's defaults, then ours */
    snprintf(c->preset, sizeof c->preset, "%s", name);
    c->no_gold = 1;
    c->proj_repeats = 0;
    c->repeats = timing ? 5 : 0;
    c->base.oracle = MW_ORACLE_SILVER;
    c->base.budget_gflop = timing ? 200.0 : 1e12; /* timing: all calls; memory probes all */
    mw_suite_grid *g = &c->grid;
    g->f_acts[0] = MW_ACT_RELU, g->n_f_acts = 1;
    g->out_acts[0] = MW_ACT_IDENTITY, g->n_out_acts = 1;
    g->dtypes[0] = MW_F32, g->n_dtypes = 1;
    g->seeds[0] = 1, g->n_seeds = 1;
    g->archs[0] = MW_ARCH_MLP, g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
    mw_spec *m = &c->base.spec, *r = &c->revnet;
    *m = mw_spec_default();
    m->batch = 8;
    *r = mw_spec_revnet_default();
    r->blocks = 3;
    r->batch = 8;
    if (!timing) { /* layers per block 1, 2, 3, 5, 10 (Figures 2 and 3); the mlp at 3x those.
                    * One tangent per forward-mode pass: Table 1's O(M_x + M_θ); with T
                    * (--tangent-block) their buffers are T times that. */
        c->base.opts.tangent_block = 1;
        const int lpb[] = {1, 2, 3, 5, 10}, d[] = {3, 6, 9, 15, 30};
        memcpy(g->lpbs, lpb, sizeof lpb), g->n_lpbs = 5;
        memcpy(g->depths, d, sizeof d), g->n_depths = 5;
        g->channels[0] = 8, g->channels[1] = 18, g->n_channels = 2;
        r->image_h = r->image_w = paper ? 32 : 8;
        r->batch = paper ? 512 : 4;
    } else { /* 6 and 60 coupling layers (Figure 4), and between */
        const int d[] = {6, 12, 30, 60}, lpb[] = {1, 2, 4};
        memcpy(g->depths, d, sizeof d), g->n_depths = 4;
        memcpy(g->lpbs, lpb, sizeof lpb), g->n_lpbs = 3;
        if (paper) { /* Figure 4: 32x32x18, batch 512, 2 to 20 layers per block */
            const int pl[] = {2, 5, 10, 20};
            memcpy(g->lpbs, pl, sizeof pl), g->n_lpbs = 4;
            g->archs[0] = MW_ARCH_REVNET, g->n_archs = 1;
            r->channels = 18, r->image_h = r->image_w = 32, r->batch = 512;
            c->base.budget_gflop = 1e9;
        } else { /* large enough batches that a gradient is not all call overhead */
            m->batch = 32;
            r->batch = 8;
        }
    }
    mw_spec_complete(r);
    return 0;
}

/* ---- units ---- */

static long long total_bytes_esize(const mw_spec *s, size_t e, long long peak)
{
    mw_layout lay;
    size_t P = 0;
    if (mw_layout_build(s, &lay) == 0) {
        P = lay.total;
        mw_layout_free(&lay);
    }
    size_t N = (size_t)s->batch * (size_t)s->width;
    return peak + (long long)((2 * P + N) * e + (size_t)s->batch * sizeof(int));
}

long long mw_scaling_total_bytes(const mw_spec *s, const char *dtype, long long peak)
{
    return total_bytes_esize(s, strcmp(dtype, "f64") == 0 ? 8 : 4, peak);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One network, every asked method in every dtype: the memory probe (timing = 0) or the
 * median of c->repeats timed gradients after a warm-up (timing = 1). */
static int scaling_unit(const mw_suite_config *c, long unit, int timing, mw_unit_result *out,
                        char *msg, size_t msg_len)
{
    memset(out, 0, sizeof *out);
    out->unit = unit;
    mw_report_network *net = &out->net;
    net->index = unit;
    mw_suite_network(c, unit, &net->spec);
    const mw_spec *s = &net->spec;
    snprintf(net->status, sizeof net->status, "ok");
    snprintf(net->oracle, sizeof net->oracle, "none");
    net->certified_bits = net->fd_agree_bits = net->oracle_seconds = net->silver_vs_gold = NAN;
    net->loss = net->grad_norm = net->proj_slope = net->proj_slope_r2 = NAN;
    out->runs = calloc((size_t)mw_suite_runs_per_network(c), sizeof *out->runs);
    const size_t N = (size_t)s->batch * (size_t)s->width;
    double *x = malloc(N * sizeof *x), *times = malloc((size_t)(c->repeats + 1) * sizeof *times);
    int *y = malloc((size_t)s->batch * sizeof *y), rc = 0;
    if (!out->runs || !x || !y || !times) {
        free(x), free(y), free(times);
        return snprintf(msg, msg_len, "out of memory") > 0;
    }
    mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&d, 0, s->batch, x, y);
    for (int t = 0; t < c->grid.n_dtypes && rc == 0; t++) {
        mw_ctx *ctx = NULL;
        mw_net *nn = NULL;
        mw_batch *b = NULL;
        mw_tensor g = {0};
        char why[320] = "";
        mw_ctx_opts co = {c->base.math, 0};
        mw_status st = mw_ctx_open(c->base.engine, c->grid.dtypes[t], &co, &ctx, why, sizeof why);
        if (st == MW_OK && (mw_net_new(ctx, s, &nn) != MW_OK || mw_batch_new(ctx, nn, x, y, &b) != MW_OK ||
                            mw_tensor_alloc(ctx, mw_net_layout(nn)->total, &g) != MW_OK)) {
            st = MW_ERR_BACKEND;
            snprintf(why, sizeof why, "%s", mw_ctx_message(ctx));
        }
        for (int m = 0; m < MW_N_METHODS && rc == 0; m++) {
            if (!c->grid.want[m])
                continue;
            mw_report_run *run = &out->runs[out->n_runs++];
            run->index = mw_suite_run_index(c, unit, t, (mw_method)m);
            run->network = unit;
            run->n_layers = s->depth + 1;
            snprintf(run->method, sizeof run->method, "%s", mw_method_name((mw_method)m));
            snprintf(run->dtype, sizeof run->dtype, "%s", mw_dtype_name(c->grid.dtypes[t]));
            mw_grad_opts o = c->base.opts;
            o.memory_probe = !timing;
            /* timing: as many of the repeats as the budget allows, at least one after the
             * warm-up; a method whose two calls would not fit is skipped */
            const double per_call = mw_method_cost_gflop(s, (mw_method)m, &o);
            int timed = c->repeats;
            if (timing && !c->grid.named && per_call * (timed + 1) > c->base.budget_gflop)
                timed = (int)(c->base.budget_gflop / per_call) - 1;
            if (st != MW_OK) {
                snprintf(run->status, sizeof run->status, "failed");
                snprintf(run->message, sizeof run->message, "%s", why);
                continue;
            }
            if (mw_method_needs_inverse((mw_method)m) && !mw_spec_invertible(s)) {
                snprintf(run->status, sizeof run->status, "skipped");
                snprintf(run->message, sizeof run->message,
                         "needs an inverse; out-act leaky with slope 0 has none");
                continue;
            }
            if (timing && !c->grid.named && timed < 1) {
                snprintf(run->status, sizeof run->status, "skipped");
                snprintf(run->message, sizeof run->message,
                         "estimated %.3g GFLOP a call: a warm-up and one timed call are over the "
                         "%.3g of --budget", per_call, c->base.budget_gflop);
                continue;
            }
            mw_grad_info info;
            mw_status gs = MW_OK;
            const int calls = timing ? timed + 1 : 1;
            for (int k = 0; k < calls && gs == MW_OK; k++) {
                double t0 = now();
                gs = mw_grad(ctx, nn, b, (mw_method)m, &o, &g, &info);
                times[k] = now() - t0;
            }
            if (gs != MW_OK) {
                snprintf(run->status, sizeof run->status, "failed");
                snprintf(run->message, sizeof run->message, "%s", mw_ctx_message(ctx));
                continue;
            }
            double secs = NAN;
            if (timing) { /* the median of the calls after the first */
                qsort(times + 1, (size_t)timed, sizeof *times, cmp_double);
                secs = times[1 + timed / 2];
                if (timed < c->repeats)
                    snprintf(run->message, sizeof run->message, "timed %d time%s, not %d: the "
                             "budget (%.3g GFLOP a call)", timed, timed == 1 ? "" : "s",
                             c->repeats, per_call);
            }
            run->steps = calloc(1, sizeof *run->steps);
            run->layer_rel_l2 = malloc((size_t)run->n_layers * sizeof(double));
            if (!run->steps || !run->layer_rel_l2) {
                rc = snprintf(msg, msg_len, "out of memory") > 0;
                break;
            }
            for (int l = 0; l < run->n_layers; l++)
                run->layer_rel_l2[l] = NAN;
            run->n_steps = 1;
            *run->steps = (mw_report_step){
                .step = 0, .epoch = 0, .loss = timing ? info.loss : NAN, .accuracy = NAN,
                .rel_l2 = NAN, .max_abs = NAN, .max_ulp = NAN, .cosine = NAN,
                .closure_err = NAN, .recon_err = NAN, .dist_ref = NAN, .gold_rel_l2 = NAN,
                .silver_vs_gold = NAN, .seconds = secs, .peak_bytes = (long long)info.peak_bytes};
            snprintf(run->status, sizeof run->status, "complete");
        }
        mw_tensor_free(ctx, &g);
        mw_batch_free(ctx, b);
        mw_net_free(ctx, nn);
        mw_ctx_free(ctx);
    }
    free(x), free(y), free(times);
    return rc;
}

int mw_memory_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                   mw_unit_result *out, char *msg, size_t msg_len)
{
    (void)emit, (void)emit_arg;
    return scaling_unit(cfg, unit, 0, out, msg, msg_len);
}

int mw_timing_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                   mw_unit_result *out, char *msg, size_t msg_len)
{
    (void)emit, (void)emit_arg;
    return scaling_unit(cfg, unit, 1, out, msg, msg_len);
}

static int scaling_run_failed(const mw_suite_config *c, const mw_report_run *run)
{
    (void)c;
    return strcmp(run->status, "failed") == 0;
}

/* ---- fits and ratios ---- */

int mw_fit_power(const double *x, const double *y, size_t n, double *exponent, double *r2)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] > 0) || !(y[i] > 0) || !isfinite(x[i]) || !isfinite(y[i]))
            continue;
        double a = log(x[i]), b = log(y[i]);
        sx += a, sy += b, sxx += a * a, sxy += a * b, syy += b * b, k++;
    }
    *exponent = *r2 = NAN;
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
    return 0;
}

/* The setting of a network: what stays the same along its depth axis. */
static void setting_of(const mw_spec *s, char *buf, size_t n)
{
    if (s->arch == MW_ARCH_REVNET)
        snprintf(buf, n, "revnet %dx%dx%d, batch %d", s->channels, s->image_h, s->image_w,
                 s->batch);
    else
        snprintf(buf, n, "mlp width %d hidden %d, batch %d", s->width, s->hidden, s->batch);
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
    if (!st || strcmp(run->status, "complete") != 0)
        return NAN;
    if (q == Q_SECONDS)
        return st->seconds;
    return q == Q_TOTAL ? (double)mw_scaling_total_bytes(s, run->dtype, st->peak_bytes)
                        : (double)st->peak_bytes;
}

/* The quantity of method `m` (dtype) on the network of `setting` whose depth is L. */
static double value_at(const mw_report *r, const char *setting, const char *method,
                       const char *dtype, int L, int q)
{
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_network *net = mw_report_network_at(r, run->network);
        char set[64];
        if (!net)
            continue;
        setting_of(&net->spec, set, sizeof set);
        if (net->spec.depth == L && strcmp(set, setting) == 0 &&
            strcmp(run->method, method) == 0 && strcmp(run->dtype, dtype) == 0)
            return quantity_of(run, &net->spec, q);
    }
    return NAN;
}

static int add_ratio(mw_report *r, const char *name, double value, double paper)
{
    mw_report_ratio *p = realloc(r->ratios, (r->n_ratios + 1) * sizeof *p);
    if (!p)
        return 1;
    r->ratios = p;
    mw_report_ratio *q = &r->ratios[r->n_ratios++];
    memset(q, 0, sizeof *q);
    snprintf(q->name, sizeof q->name, "%s", name);
    q->value = value;
    q->paper = paper;
    return 0;
}

int mw_scaling_analyse(const mw_suite_config *c, mw_report *r, char *msg, size_t msg_len)
{
    const int timing = strcmp(r->meta.suite, "timing") == 0;
    free(r->fits), free(r->ratios);
    r->fits = NULL, r->ratios = NULL, r->n_fits = r->n_ratios = 0;
    const size_t n = r->n_networks;
    double *xs = malloc((n ? n : 1) * sizeof *xs), *ys = malloc((n ? n : 1) * sizeof *ys);
    char (*settings)[64] = calloc(n ? n : 1, sizeof *settings);
    if (!xs || !ys || !settings) {
        free(xs), free(ys), free(settings);
        return snprintf(msg, msg_len, "out of memory") > 0;
    }
    size_t ns = 0; /* distinct settings, in network order */
    for (size_t i = 0; i < n; i++) {
        char set[64];
        setting_of(&r->networks[i].spec, set, sizeof set);
        size_t j = 0;
        while (j < ns && strcmp(settings[j], set) != 0)
            j++;
        if (j == ns)
            snprintf(settings[ns++], sizeof settings[0], "%s", set);
    }
    int rc = 0;
    const int q0 = timing ? Q_SECONDS : Q_PEAK, q1 = timing ? Q_SECONDS : Q_TOTAL;
    for (int q = q0; q <= q1 && rc == 0; q++)
        for (size_t si = 0; si < ns && rc == 0; si++)
            for (int t = 0; t < c->grid.n_dtypes && rc == 0; t++)
                for (int m = 0; m < MW_N_METHODS && rc == 0; m++) {
                    if (!c->grid.want[m])
                        continue;
                    const char *dt = mw_dtype_name(c->grid.dtypes[t]);
                    const char *mn = mw_method_name((mw_method)m);
                    size_t k = 0;
                    for (size_t i = 0; i < n; i++) {
                        char set[64];
                        setting_of(&r->networks[i].spec, set, sizeof set);
                        if (strcmp(set, settings[si]) != 0)
                            continue;
                        xs[k] = r->networks[i].spec.depth;
                        ys[k++] = value_at(r, set, mn, dt, r->networks[i].spec.depth, q);
                    }
                    double p, r2;
                    if (mw_fit_power(xs, ys, k, &p, &r2) != 0)
                        continue;
                    size_t points = 0;
                    for (size_t i = 0; i < k; i++)
                        points += ys[i] > 0 && isfinite(ys[i]);
                    mw_report_fit *f = realloc(r->fits, (r->n_fits + 1) * sizeof *f);
                    if (!f) {
                        rc = 1;
                        break;
                    }
                    r->fits = f;
                    f = &r->fits[r->n_fits++];
                    memset(f, 0, sizeof *f);
                    snprintf(f->setting, sizeof f->setting, "%s", settings[si]);
                    snprintf(f->method, sizeof f->method, "%s", mn);
                    snprintf(f->dtype, sizeof f->dtype, "%s", dt);
                    snprintf(f->quantity, sizeof f->quantity, "%s", q_names[q]);
                    f->exponent = p, f->r2 = r2, f->points = (long long)points;
                    snprintf(f->table1, sizeof f->table1, "%s", table1((mw_method)m, timing));
                }
    /* the paper's ratios: memory at 10 layers per block (Figure 2, allocated memory in
     * all: about 2 for moonwalk, mixed and revbackprop, 2.4 for projforward, at 32x32x8);
     * time at 6 and 60 layers (§6.4: forward/moonwalk 27 and 110) and mixed/backprop
     * (§6.5: about 2) */
    for (size_t si = 0; si < ns && rc == 0; si++)
        for (int t = 0; t < c->grid.n_dtypes && rc == 0; t++) {
            const char *dt = mw_dtype_name(c->grid.dtypes[t]);
            char name[128];
            if (!timing) {
                int L10 = 0;
                for (size_t i = 0; i < n; i++) {
                    char set[64];
                    setting_of(&r->networks[i].spec, set, sizeof set);
                    if (strcmp(set, settings[si]) == 0 &&
                        ((r->networks[i].spec.arch == MW_ARCH_REVNET &&
                          r->networks[i].spec.layers_per_block == 10) ||
                         (r->networks[i].spec.arch == MW_ARCH_MLP && r->networks[i].spec.depth == 30)))
                        L10 = r->networks[i].spec.depth;
                }
                if (!L10)
                    continue;
                static const mw_method others[4] = {MW_MOONWALK, MW_MIXED, MW_REVBACKPROP,
                                                    MW_PROJFORWARD};
                static const double paper8[4] = {2.0, 2.0, 2.0, 2.4};
                const int p8 = strncmp(settings[si], "revnet 8x32x32", 14) == 0;
                for (int q = Q_PEAK; q <= Q_TOTAL; q++) {
                    double bp = value_at(r, settings[si], "backprop", dt, L10, q);
                    for (int o = 0; o < 4 && rc == 0; o++) {
                        double v = value_at(r, settings[si], mw_method_name(others[o]), dt, L10, q);
                        snprintf(name, sizeof name, "%s backprop/%s, %s, %s, %d layers", q_names[q],
                                 mw_method_name(others[o]), settings[si], dt, L10);
                        rc = add_ratio(r, name, bp / v, p8 && q == Q_TOTAL ? paper8[o] : NAN);
                    }
                }
            } else {
                static const int Ls[2] = {6, 60};
                static const double paper_fm[2] = {27.0, 110.0};
                for (int q = 0; q < 2 && rc == 0; q++) {
                    double f = value_at(r, settings[si], "forward", dt, Ls[q], Q_SECONDS);
                    double mw = value_at(r, settings[si], "moonwalk", dt, Ls[q], Q_SECONDS);
                    if (!isfinite(f) || !isfinite(mw))
                        continue;
                    snprintf(name, sizeof name, "seconds forward/moonwalk, %s, %s, %d layers",
                             settings[si], dt, Ls[q]);
                    rc = add_ratio(r, name, f / mw, paper_fm[q]);
                }
                for (size_t i = 0; i < n && rc == 0; i++) {
                    char set[64];
                    setting_of(&r->networks[i].spec, set, sizeof set);
                    if (strcmp(set, settings[si]) != 0)
                        continue;
                    int L = r->networks[i].spec.depth;
                    double mx = value_at(r, set, "mixed", dt, L, Q_SECONDS);
                    double bp = value_at(r, set, "backprop", dt, L, Q_SECONDS);
                    if (!isfinite(mx) || !isfinite(bp))
                        continue;
                    snprintf(name, sizeof name, "seconds mixed/backprop, %s, %s, %d layers", set,
                             dt, L);
                    rc = add_ratio(r, name, mx / bp, 2.0);
                }
            }
        }
    free(xs), free(ys), free(settings);
    if (rc)
        snprintf(msg, msg_len, "out of memory");
    return rc;
}

static const mw_suite_def memory_def = {"memory", mw_memory_unit, scaling_run_failed,
                                        mw_scaling_analyse};
static const mw_suite_def timing_def = {"timing", mw_timing_unit, scaling_run_failed,
                                        mw_scaling_analyse};

mw_status mw_suite_memory(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                          char *msg, size_t msg_len)
{
    return mw_suite_execute(job, &memory_def, out, failed_runs, msg, msg_len);
}

mw_status mw_suite_timing(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                          char *msg, size_t msg_len)
{
    return mw_suite_execute(job, &timing_def, out, failed_runs, msg, msg_len);
}
