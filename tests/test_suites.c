/* Tests of suites/: the gradient check behind `mwverify grad` (a case and its runs) and
 * the gradcheck grid. */
#include <math.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "layer_check.h"
#include "stability.h"
#include "suite.h"
#include "suites.h"
#include "testutil.h"

static mw_grad_request small_request(void)
{
    mw_grad_request r = mw_grad_request_default();
    r.spec = tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    r.dtype = MW_F64;
    return r;
}

/* On a small network auto takes gold; in f64 every deterministic method lands within
 * 1e-12 of it, with memory, time and per-layer errors measured; projforward is an
 * estimate, and only its finiteness is asked here. */
START_TEST(all_methods_measured_against_gold)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_method_results res;
    mw_err err;
    ck_assert_msg(mw_grad_case_prepare(&r, &c, &err) == MW_OK, "%s", err.msg);
    ck_assert(c.oracle.kind == MW_ORACLE_GOLD && strstr(c.oracle.reason, "auto"));
    ck_assert(c.gold.certified && c.gold.certified_bits >= 100 && c.ref_lo != NULL);
    ck_assert(c.oracle.certified_bits == c.gold.certified_bits);
    ck_assert(c.oracle.silver_vs_gold.rel_l2 <= 1e-13);
    ck_assert(mw_grad_case_run(&r, &c, MW_F64, &res, &err) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_result *x = &res.m[m];
        const mw_report_run *run = &x->run;
        ck_assert_msg(run->status == MW_RUN_COMPLETE, "%s: %s", mw_method_name((mw_method)m),
                      run->message);
        ck_assert(run->method == (mw_method)m && run->dtype == MW_F64 && run->n_steps == 1);
        ck_assert(run->steps[0].peak_bytes > 0 && run->steps[0].seconds >= 0 && run->est_gflop > 0);
        ck_assert(x->grad && x->per_layer && run->layer_rel_l2 == x->per_layer);
        ck_assert(fabs(run->steps[0].loss - c.oracle.loss) <= 1e-14 * c.oracle.loss);
        if (m != MW_PROJFORWARD) {
            ck_assert_msg(run->steps[0].vs.rel_l2 <= 1e-12, "%s: %g", mw_method_name((mw_method)m),
                          run->steps[0].vs.rel_l2);
            ck_assert(run->steps[0].gold_rel_l2 == run->steps[0].vs.rel_l2);
            for (int l = 0; l <= c.spec.depth; l++)
                ck_assert(x->per_layer[l] <= 1e-12);
        } else {
            ck_assert(isfinite(run->steps[0].vs.rel_l2));
        }
    }
    mw_method_results_free(&res);
    mw_grad_case_free(&c);
}
END_TEST

/* Silver when asked or when gold would be slow (auto says why); an explicit gold over
 * its budget is refused before any work. */
START_TEST(oracle_choice)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_err err;
    r.oracle.kind = MW_ORACLE_SILVER;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_OK);
    ck_assert(c.oracle.kind == MW_ORACLE_SILVER && c.ref_lo == NULL && c.ref_hi == c.silver);
    ck_assert(isnan(c.oracle.certified_bits) && c.oracle.bits == 0);
    mw_grad_case_free(&c);
    r.oracle.kind = MW_ORACLE_AUTO;
    r.oracle.gold_auto_s = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_OK);
    ck_assert(c.oracle.kind == MW_ORACLE_SILVER && strstr(c.oracle.reason, "over"));
    mw_grad_case_free(&c);
    r.oracle.kind = MW_ORACLE_GOLD;
    r.oracle.gold_budget_s = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_ERR_ARG && err.status == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "gold-budget"), "%s", err.msg);
    mw_grad_case_free(&c);
}
END_TEST

/* "all" skips what is over budget and says why; a named method runs anyway. */
START_TEST(budget_skips_only_unnamed_methods)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_method_results res;
    mw_err err;
    r.oracle.kind = MW_ORACLE_SILVER;
    r.methods.budget_gflop = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &res, &err) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        ck_assert(res.m[m].run.status == MW_RUN_SKIPPED && res.m[m].run.n_steps == 0);
        ck_assert(strstr(res.m[m].run.message, "budget") != NULL);
    }
    mw_method_results_free(&res);
    r.methods.named = 1;
    memset(r.methods.want, 0, sizeof r.methods.want);
    r.methods.want[MW_FORWARD] = 1;
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &res, &err) == MW_OK);
    ck_assert(res.m[MW_FORWARD].run.status == MW_RUN_COMPLETE);
    ck_assert(res.m[MW_BACKPROP].run.status == MW_RUN_NOT_ASKED);
    mw_method_results_free(&res);
    mw_grad_case_free(&c);
}
END_TEST

/* The estimate of a case: every method that runs has its seconds, gold its own when auto
 * takes it, the memory is at least the case's own; past enough_s it stops, a lower bound.
 * The budgets refuse in one line naming the option (time) or the memory available. */
START_TEST(estimate_and_budgets)
{
    mw_grad_request r = small_request();
    mw_grad_cost c;
    mw_err err;
    ck_assert(mw_grad_case_estimate(&r, &r.dtype, 1, INFINITY, &c, &err) == MW_OK);
    mw_call_cost_release();
    ck_assert(c.seconds > 0 && isfinite(c.seconds) && c.peak_bytes > 0 && !c.partial);
    ck_assert(c.gold_seconds > 0); /* auto takes gold on this network */
    for (int m = 0; m < MW_N_METHODS; m++)
        ck_assert_msg(!mw_grad_method_runs(&r, (mw_method)m) || c.method_seconds[m] > 0,
                      "%s has no estimate", mw_method_name((mw_method)m));
    ck_assert(mw_grad_case_estimate(&r, &r.dtype, 1, 0.0, &c, &err) == MW_OK && c.partial);
    mw_call_cost_release();
    ck_assert(mw_budget_check(1.0, 0, 1.0, 10.0, "here", "shrink it", &err) == MW_OK);
    ck_assert(mw_budget_check(100.0, 1, 1.0, 10.0, "here", "shrink it", &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "at least 100 s here") && strstr(err.msg, "--time-budget") &&
                      strstr(err.msg, "shrink it") && !strchr(err.msg, '\n'),
                  "%s", err.msg);
    if (mw_mem_available() > 0) {
        ck_assert(mw_budget_check(1.0, 0, 1e30, 10.0, "here", "shrink it", &err) == MW_ERR_ARG);
        ck_assert_msg(strstr(err.msg, "memory budget") && strstr(err.msg, "MemAvailable"), "%s",
                      err.msg);
    }
}
END_TEST

/* Methods needing an inverse are skipped, with the reason, on σ = leaky with slope 0;
 * a saturated f32 tanh stops revbackprop part way, reported as non-finite. */
START_TEST(inverse_methods_skip_or_stop_with_reason)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_method_results res;
    mw_err err;
    r.oracle.kind = MW_ORACLE_SILVER;
    r.spec.out_act = MW_ACT_LEAKY;
    r.spec.leaky_slope = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F64, &res, &err) == MW_OK);
    ck_assert(res.m[MW_BACKPROP].run.status == MW_RUN_COMPLETE);
    ck_assert(res.m[MW_MOONWALK].run.status == MW_RUN_SKIPPED);
    ck_assert(strstr(res.m[MW_MIXED].run.message, "inverse") != NULL);
    mw_method_results_free(&res);
    mw_grad_case_free(&c);

    r = small_request();
    r.oracle.kind = MW_ORACLE_SILVER;
    r.spec.f_act = MW_ACT_IDENTITY;
    r.spec.init_scale = 60;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &res, &err) == MW_OK);
    const mw_method_result *rb = &res.m[MW_REVBACKPROP];
    ck_assert(rb->run.status == MW_RUN_NONFINITE && !rb->info.complete && !rb->grad);
    ck_assert(rb->run.n_steps == 1 && isnan(rb->step.vs.rel_l2) && rb->step.peak_bytes > 0);
    ck_assert(strstr(rb->run.message, "inverse") != NULL);
    mw_method_results_free(&res);
    mw_grad_case_free(&c);
}
END_TEST

START_TEST(invalid_spec_is_refused)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_err err;
    r.spec.depth = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, &err) == MW_ERR_ARG);
    ck_assert(strstr(err.msg, "depth 0") != NULL);
    mw_grad_case_free(&c);
}
END_TEST

static size_t progress_calls, progress_updates;
static double progress_last;
/* Every call: counts within their totals, the fraction done never going back, an update
 * of work in progress strictly between the finished networks' fractions, the suite's end
 * at 1 with nothing left. */
static void count_progress(const mw_suite_progress *p, void *arg)
{
    (void)arg;
    ck_assert(p->networks_done <= p->networks_total && p->runs_done <= p->runs_total);
    ck_assert_msg(p->fraction >= progress_last && p->fraction <= 1.0, "fraction %.17g after %.17g",
                  p->fraction, progress_last);
    if (!p->last)
        ck_assert(p->fraction > 0.0 && p->fraction < 1.0 && p->networks_done < p->networks_total),
            progress_updates++;
    if (p->networks_done == p->networks_total)
        ck_assert(p->fraction == 1.0 && !(p->eta_s > 0.0));
    progress_last = p->fraction;
    progress_calls++;
}

/* A suite's configuration, its preset applied. */
static mw_suite_config configured(const char *suite, const char *preset)
{
    mw_suite_config c;
    const mw_suite_def *def = mw_suite_find(suite);
    ck_assert(def != NULL);
    const mw_preset *p = mw_suite_preset(def, preset);
    ck_assert_msg(p != NULL, "%s has no preset %s", suite, preset);
    mw_suite_configure(def, p, &c);
    return c;
}

/* Prepare and run a suite in memory; it must succeed. */
static mw_report run_suite(const char *suite, mw_suite_config *c, int jobs, size_t *failures)
{
    const mw_suite_def *def = mw_suite_find(suite);
    mw_estimate est;
    mw_err err;
    mw_report r;
    ck_assert_msg(mw_suite_prepare(def, c, jobs, &est, &err) == MW_OK, "%s", err.msg);
    mw_suite_job job = {.def = def, .cfg = c, .path = NULL, .jobs = jobs, .command_line = "test",
                        .progress = count_progress, .unit_cost = est.unit_cost};
    progress_last = 0.0; /* a new suite starts from nothing done */
    ck_assert_msg(mw_suite_run(&job, &r, failures, &err) == MW_OK, "%s", err.msg);
    mw_estimate_release(&est);
    if (def->release)
        def->release(c);
    return r;
}

/* A grid of depths 1, 2 x tanh x none, tanh: 4 networks of 12 runs, in memory. */
static mw_suite_config small_grid(void)
{
    mw_suite_config c = configured("gradcheck", "quick");
    c.grid.n_archs = 1; /* mlp */
    c.grid.depths[0] = 1, c.grid.depths[1] = 2, c.grid.n_depths = 2;
    c.grid.f_acts[0] = MW_ACT_TANH, c.grid.n_f_acts = 1;
    c.grid.n_out_acts = 2;
    return c;
}

static mw_report run_grid(mw_suite_config *c, int jobs, size_t *failed)
{
    return run_suite("gradcheck", c, jobs, failed);
}

/* Every check passes; each network has its gold and projforward's rate, whose fitted
 * slope is -1/2 within 0.15 (8 draws per K: the slope's spread is about 0.04); runs sit
 * at their stable indices. */
START_TEST(suite_gradcheck_grid)
{
    mw_suite_config c = small_grid();
    size_t failed;
    progress_calls = progress_updates = 0, progress_last = 0.0;
    mw_report r = run_grid(&c, 1, &failed);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_eq(r.n_networks, 4);
    ck_assert_uint_eq(r.n_runs, 48);
    ck_assert_uint_eq(progress_calls, 4); /* a unit is one gradient: no updates between */
    ck_assert_uint_eq(progress_updates, 0);
    for (size_t i = 0; i < r.n_networks; i++) {
        const mw_report_network *n = &r.networks[i];
        ck_assert(n->status == MW_NET_OK && n->index == (long)i);
        ck_assert(n->oracle.certified_bits >= 100 && n->oracle.fd_agree_bits >= 100);
        ck_assert(n->proj.n == 5 && n->proj.k[4] == 256);
        ck_assert_msg(fabs(n->proj.slope + 0.5) < 0.15, "network %ld: slope %g", n->index,
                      n->proj.slope);
        for (int t = 0; t < 2; t++)
            for (int m = 0; m < MW_N_METHODS; m++) {
                const mw_report_run *run =
                    mw_report_run_at(&r, mw_grid_run_index(&c, n->index, t, (mw_method)m));
                ck_assert(run && run->network == n->index);
                ck_assert(run->method == (mw_method)m && run->status == MW_RUN_COMPLETE);
                ck_assert(run->n_steps == 1 && run->n_layers == n->spec.depth + 1);
            }
    }
    /* the runs in index order */
    for (size_t k = 1; k < r.n_runs; k++)
        ck_assert(r.runs[k - 1].index < r.runs[k].index);
    /* the same network for every method, dtype and depth of a replicate */
    ck_assert(r.networks[0].spec.seed == r.networks[3].spec.seed);
    mw_report_free(&r);
}
END_TEST

/* The same grid of affine couplings, mlp and revnet (the suite's networks carry the
 * coupling through the grid): every check passes, and the networks say affine. */
START_TEST(suite_gradcheck_affine)
{
    mw_suite_config c = small_grid();
    c.mlp.coupling = MW_COUPLING_AFFINE;
    c.revnet.coupling = MW_COUPLING_AFFINE;
    c.grid.archs[1] = MW_ARCH_REVNET, c.grid.n_archs = 2;
    c.grid.lpbs[0] = 1, c.grid.n_lpbs = 1;
    c.grid.n_out_acts = 1;
    c.check.proj_repeats = 1;
    size_t failed;
    mw_report r = run_grid(&c, 1, &failed);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_eq(r.n_networks, 3);
    for (size_t i = 0; i < r.n_networks; i++) {
        ck_assert(r.networks[i].status == MW_NET_OK);
        ck_assert(r.networks[i].spec.coupling == MW_COUPLING_AFFINE);
    }
    mw_report_free(&r);
}
END_TEST

/* Two workers give the same numbers as one. */
START_TEST(suite_gradcheck_jobs_agree)
{
    mw_suite_config c = small_grid();
    c.check.proj_repeats = 2;
    size_t fa, fb;
    mw_report a = run_grid(&c, 1, &fa), b = run_grid(&c, 2, &fb);
    ck_assert(a.n_runs == b.n_runs && fa == fb);
    for (size_t i = 0; i < a.n_runs; i++) {
        const mw_report_run *ra = &a.runs[i], *rb = &b.runs[i];
        ck_assert(rb->index == ra->index && ra->status == rb->status);
        const mw_report_step *sa = mw_report_last_step(ra), *sb = mw_report_last_step(rb);
        ck_assert(sa && sb);
        ck_assert(memcmp(&sa->vs.rel_l2, &sb->vs.rel_l2, sizeof sa->vs.rel_l2) == 0 &&
                  sa->vs.max_ulp == sb->vs.max_ulp && sa->peak_bytes == sb->peak_bytes);
    }
    for (size_t i = 0; i < a.n_networks; i++)
        ck_assert(mw_report_network_at(&b, a.networks[i].index)->proj.slope ==
                  a.networks[i].proj.slope);
    mw_report_free(&a);
    mw_report_free(&b);
}
END_TEST

/* An impossible tolerance fails every f64 deterministic run; a certification floor above
 * the precision fails every network and run; a bad grid is refused before any work. */
START_TEST(suite_gradcheck_failures)
{
    mw_suite_config c = small_grid();
    c.check.proj_repeats = 0;
    c.check.tol = 1e-30;
    size_t failed;
    mw_report r = run_grid(&c, 1, &failed);
    ck_assert_uint_eq(failed, 4 * 5);
    mw_report_free(&r);
    c.check.tol = 1e-11;
    c.oracle.gold.floor_bits = 300;
    r = run_grid(&c, 1, &failed);
    ck_assert_uint_eq(failed, 48);
    for (size_t i = 0; i < r.n_networks; i++)
        ck_assert(r.networks[i].status == MW_NET_FAILED &&
                  strstr(r.networks[i].message, "not certified"));
    mw_report_free(&r);
    mw_err err;
    c = small_grid();
    c.grid.depths[0] = 0;
    ck_assert(mw_grid_validate(&c, 1, &err) == MW_ERR_ARG && strstr(err.msg, "depth 0"));
    c = small_grid();
    c.grid.n_dtypes = 0;
    ck_assert(mw_grid_validate(&c, 1, &err) == MW_ERR_ARG && strstr(err.msg, "empty"));
}
END_TEST

/* ---- the runner ---- */

/* A unit that fails when its index is odd, and otherwise says which it is. */
static mw_status flaky_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                            mw_unit_result *out, mw_err *err)
{
    (void)cfg, (void)emit, (void)emit_arg;
    memset(out, 0, sizeof *out);
    if (unit % 2)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory in unit %ld", unit);
    out->unit = unit;
    out->net.index = unit;
    out->net.spec = mw_spec_default();
    return MW_OK;
}

typedef struct collected {
    int seen[8];
    int failed[8];
} collected;

static mw_status collect(void *arg, const mw_unit_result *u, mw_err *err)
{
    collected *c = arg;
    (void)err;
    ck_assert(u->unit >= 0 && u->unit < 8 && u->net.index == u->unit);
    c->seen[u->unit]++;
    if (u->net.status == MW_NET_FAILED) {
        char want[64];
        snprintf(want, sizeof want, "out of memory in unit %ld", u->unit);
        ck_assert_str_eq(u->net.message, want);
        c->failed[u->unit]++;
    }
    return MW_OK;
}

/* A unit that cannot be computed is handed on as a failed network carrying its own index
 * and reason, and the others are still computed — in this process and in workers alike;
 * the report counts it as lost, so that the command exits 3 saying which. */
START_TEST(runner_keeps_failed_units)
{
    const long todo[] = {0, 1, 2, 3, 4, 5};
    for (int jobs = 1; jobs <= 2; jobs++) {
        collected c;
        memset(&c, 0, sizeof c);
        mw_runner r = {NULL, flaky_unit, collect, &c, todo, 6, jobs, NULL};
        mw_err err;
        ck_assert_msg(mw_runner_run(&r, &err) == MW_OK, "jobs %d: %s", jobs, err.msg);
        for (int u = 0; u < 6; u++) {
            ck_assert_int_eq(c.seen[u], 1);
            ck_assert_int_eq(c.failed[u], u % 2);
        }
    }
    mw_report rep;
    mw_err err;
    mw_report_meta meta;
    memset(&meta, 0, sizeof meta);
    ck_assert(mw_report_init(&rep, "", &meta, &err) == MW_OK);
    for (long u = 0; u < 3; u++) {
        mw_report_network n;
        memset(&n, 0, sizeof n);
        n.index = u, n.spec = mw_spec_default();
        n.status = u == 1 ? MW_NET_FAILED : MW_NET_OK;
        snprintf(n.message, sizeof n.message, "%s", u == 1 ? "out of memory" : "");
        ck_assert(mw_report_set_network(&rep, &n) == MW_OK);
    }
    const mw_report_network *first;
    ck_assert_uint_eq(mw_suite_lost_units(&rep, &first), 1);
    ck_assert(first && first->index == 1 && strcmp(first->message, "out of memory") == 0);
    mw_report_free(&rep);
}
END_TEST

/* ---- suite stability ---- */

/* A tiny training grid: depth 2, tanh, 2 epochs of 4 steps, in memory. */
static mw_suite_config tiny_training(mw_act out_act, mw_dtype dtype)
{
    mw_suite_config c = configured("stability", "quick");
    c.mlp.width = 8, c.mlp.hidden = 8, c.mlp.batch = 8;
    c.grid.f_acts[0] = MW_ACT_TANH, c.grid.n_f_acts = 1;
    c.grid.out_acts[0] = out_act, c.grid.n_out_acts = 1;
    c.grid.depths[0] = 2, c.grid.n_depths = 1;
    c.grid.seeds[0] = tu_seed(), c.grid.n_seeds = 1;
    c.grid.dtypes[0] = dtype, c.grid.n_dtypes = 1;
    c.train.epochs = 2, c.train.n_train = 32, c.train.n_test = 16;
    c.train.run_budget_gflop = 1e9; /* every method, forward included */
    return c;
}

static mw_report train(mw_suite_config *c)
{
    size_t failed;
    mw_report r = run_suite("stability", c, 1, &failed);
    ck_assert_uint_eq(failed, 0);
    return r;
}

/* Every method starts from the same θ_0 (distance 0 to the reference at step 0) and sees
 * the same batches: float64 backprop retraces the reference step for step, bit for bit,
 * and with out-act none the other deterministic methods stay within 1e-10 of it. Every
 * step has its row, every epoch its held-out accuracy. */
START_TEST(stability_lockstep)
{
    mw_suite_config c = tiny_training(MW_ACT_IDENTITY, MW_F64);
    progress_calls = progress_updates = 0, progress_last = 0.0;
    mw_report r = train(&c);
    ck_assert(r.n_networks == 1 && r.n_runs == 6);
    /* the progress: after the first of the two epochs, then at the end */
    ck_assert_uint_eq(progress_updates, 1);
    ck_assert_uint_eq(progress_calls, 2);
    const mw_report_network *n = &r.networks[0];
    ck_assert(n->n_ref_steps == 8 && n->n_ref_epochs == 2);
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_run *run = &r.runs[k];
        const mw_method m = run->method;
        const char *name = mw_method_name(m);
        ck_assert_msg(run->status == MW_RUN_COMPLETE, "%s: %d %s", name, (int)run->status,
                      run->message);
        ck_assert(run->n_steps == 8 && run->n_epochs == 2);
        ck_assert_msg(run->steps[0].dist_ref == 0, "%s starts %g from θ_0", name,
                      run->steps[0].dist_ref);
        ck_assert(isfinite(run->epochs[1].test_accuracy));
        for (size_t s = 0; s < run->n_steps; s++) {
            const mw_report_step *st = &run->steps[s];
            ck_assert(st->step == (long long)s && st->epoch == (long long)(s / 4));
            if (m == MW_BACKPROP)
                ck_assert_msg(st->dist_ref == 0 && st->loss == n->ref_steps[s].loss,
                              "backprop left the reference at step %zu", s);
            else if (!mw_method_is_stochastic(m))
                ck_assert_msg(st->dist_ref <= 1e-10, "%s: %g from the reference at step %zu",
                              name, st->dist_ref, s);
            if (m == MW_REVBACKPROP)
                ck_assert(st->recon_err < 1e-12);
            if (m == MW_MOONWALK || m == MW_MIXED)
                ck_assert(st->closure_err < 1e-10);
        }
        /* gold at the first and the last step and every 128th (none between here) */
        ck_assert(isfinite(run->steps[0].gold_rel_l2) && isfinite(run->steps[7].gold_rel_l2));
        ck_assert(isnan(run->steps[3].gold_rel_l2));
        ck_assert(run->steps[0].silver_vs_gold < 1e-14);
    }
    mw_report_free(&r);
}
END_TEST

/* A run that goes non-finite is marked diverged at that step, keeps its rows and stops,
 * while the others go on: float32 tanh saturated by init scale 60 breaks revbackprop's
 * inverse at once. An exploding loss is divergence too. */
START_TEST(stability_divergence)
{
    mw_suite_config c = tiny_training(MW_ACT_TANH, MW_F32);
    c.grid.init_scales[0] = 60;
    c.grid.f_acts[0] = MW_ACT_IDENTITY;
    mw_report r = train(&c);
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_run *run = &r.runs[k];
        if (run->method == MW_REVBACKPROP) {
            ck_assert(run->status == MW_RUN_DIVERGED);
            ck_assert_msg(strstr(run->message, "step 0") && strstr(run->message, "inverse"), "%s",
                          run->message);
            ck_assert(run->n_steps == 0);
        } else if (run->method == MW_BACKPROP) {
            ck_assert(run->status == MW_RUN_COMPLETE);
            ck_assert(run->n_steps == 8);
        }
    }
    mw_report_free(&r);
    /* a loss that must stay below half the first: every run diverges at step 1, its row of
     * step 0... and step 1 kept */
    c = tiny_training(MW_ACT_TANH, MW_F64);
    c.train.explode = 0.5;
    r = train(&c);
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_run *run = &r.runs[k];
        ck_assert(run->status == MW_RUN_DIVERGED);
        ck_assert_msg(strstr(run->message, "step 0") && strstr(run->message, "exploded"), "%s",
                      run->message);
        ck_assert(run->n_steps == 1);
    }
    mw_report_free(&r);
}
END_TEST

/* The verdict pools the runs of an output activation and method. */
START_TEST(stability_verdict)
{
    mw_suite_config c = tiny_training(MW_ACT_IDENTITY, MW_F64);
    mw_report r = train(&c);
    size_t n;
    mw_verdict_row *rows = mw_stability_verdict(&r, &n);
    ck_assert(rows != NULL);
    ck_assert_uint_eq(n, 6);
    for (size_t i = 0; i < n; i++) {
        ck_assert(rows[i].out_act == MW_ACT_IDENTITY && rows[i].method == (mw_method)i);
        ck_assert(rows[i].runs == 1 && rows[i].diverged == 0);
        ck_assert(rows[i].test_accuracy >= 0 && rows[i].test_accuracy <= 1);
        if (rows[i].method != MW_PROJFORWARD)
            ck_assert(rows[i].err_max_last < 1e-12 && rows[i].dist_ref < 1e-10);
    }
    free(rows);
    mw_report_free(&r);
}
END_TEST

/* ---- memory and timing ---- */

/* The power fit recovers an exact power law (its factor too) and a constant, and refuses
 * too few positive points. */
START_TEST(power_fit)
{
    double x[5] = {1, 2, 3, 5, 10}, y[5], p, r2, log_c;
    for (int i = 0; i < 5; i++)
        y[i] = 3.0 * pow(x[i], 1.5);
    ck_assert(mw_fit_power(x, y, 5, &p, &r2) == 0);
    ck_assert_msg(fabs(p - 1.5) < 1e-12 && fabs(r2 - 1) < 1e-12, "p %.17g r2 %.17g", p, r2);
    ck_assert(mw_fit_power_line(x, y, 5, &p, &r2, &log_c) == 0);
    ck_assert_msg(fabs(log_c - log(3.0)) < 1e-12, "log c %.17g", log_c);
    for (int i = 0; i < 5; i++)
        y[i] = 4096;
    ck_assert(mw_fit_power(x, y, 5, &p, &r2) == 0 && p == 0.0 && r2 == 1.0);
    y[0] = 2, y[1] = NAN, y[2] = 0, y[3] = -1, y[4] = NAN;
    ck_assert(mw_fit_power(x, y, 5, &p, &r2) != 0 && isnan(p));
    /* noise lowers R² below 1 and leaves the slope near */
    for (int i = 0; i < 5; i++)
        y[i] = x[i] * (1 + 0.05 * (i % 2 ? 1 : -1));
    ck_assert(mw_fit_power(x, y, 5, &p, &r2) == 0 && fabs(p - 1) < 0.1 && r2 < 1 && r2 > 0.9);
}
END_TEST

static mw_report run_scaling(const char *suite, mw_suite_config *c)
{
    size_t failed;
    mw_report r = run_suite(suite, c, 1, &failed);
    ck_assert_uint_eq(failed, 0);
    return r;
}

/* suite memory on an mlp and a revnet: every run complete with its peak; the fits say
 * what the engine test peak_bytes_per_layer_exact says byte by byte — revbackprop's and
 * moonwalk's working memory does not grow with depth (exponent exactly 0, R² 1), and
 * backprop's and mixed's does, backprop's more; the ratios at 10 layers per block are
 * those of the runs; the total adds parameters, gradient and batch. */
START_TEST(memory_suite)
{
    mw_suite_config c = configured("memory", "quick");
    const int d[3] = {6, 12, 30}, lpb[2] = {2, 10};
    memcpy(c.grid.depths, d, sizeof d), c.grid.n_depths = 3;
    memcpy(c.grid.lpbs, lpb, sizeof lpb), c.grid.n_lpbs = 2;
    c.grid.n_channels = 1;
    c.revnet.image_h = c.revnet.image_w = 4;
    mw_spec_complete(&c.revnet);
    mw_report r = run_scaling("memory", &c);
    ck_assert_uint_eq(r.n_networks, 5);
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_step *st = mw_report_last_step(&r.runs[k]);
        ck_assert(st && st->peak_bytes > 0 && r.runs[k].status == MW_RUN_COMPLETE);
    }
    int seen = 0;
    const mw_report_fit *fits = r.tables[MW_TABLE_FITS].rows;
    for (size_t i = 0; i < r.tables[MW_TABLE_FITS].n; i++) {
        const mw_report_fit *f = &fits[i];
        if (strcmp(f->quantity, "peak_bytes") != 0)
            continue;
        seen++;
        if (f->method == MW_REVBACKPROP || f->method == MW_MOONWALK || f->method == MW_FORWARD ||
            f->method == MW_PROJFORWARD)
            ck_assert_msg(f->exponent == 0.0 && f->r2 == 1.0, "%s %s: p %g", f->setting,
                          mw_method_name(f->method), f->exponent);
        if (f->method == MW_BACKPROP)
            ck_assert_msg(f->exponent > 0.5 && !strcmp(f->table1, "1"), "%s backprop p %g",
                          f->setting, f->exponent);
    }
    ck_assert_int_eq(seen, 2 * MW_N_METHODS);
    double bp = 0, mwk = 0;
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_network *n = mw_report_network_at(&r, r.runs[k].network);
        if (n->spec.arch == MW_ARCH_REVNET && n->spec.layers_per_block == 10) {
            if (r.runs[k].method == MW_BACKPROP)
                bp = (double)r.runs[k].steps[0].peak_bytes;
            if (r.runs[k].method == MW_MOONWALK)
                mwk = (double)r.runs[k].steps[0].peak_bytes;
            ck_assert(mw_scaling_total_bytes(&n->spec, r.runs[k].dtype, 100) >
                      100 + 2 * 4 * 10000);
        }
    }
    int found = 0;
    const mw_report_ratio *ratios = r.tables[MW_TABLE_RATIOS].rows;
    for (size_t i = 0; i < r.tables[MW_TABLE_RATIOS].n; i++)
        if (strstr(ratios[i].name, "peak_bytes backprop/moonwalk, revnet")) {
            ck_assert(fabs(ratios[i].value - bp / mwk) <= 1e-12 * ratios[i].value);
            found = 1;
        }
    ck_assert(found && bp > mwk);
    mw_report_free(&r);
}
END_TEST

/* suite timing on a small mlp: every run has its seconds, a fit per method, and the
 * paper's ratios are those of the runs' seconds (forward/moonwalk at 6 layers, and
 * mixed/backprop at each depth). How the times grow is a speed claim, measured by the
 * suite itself and by bench/, not asserted here: on a loaded machine a 3-repeat median of
 * a millisecond run is at the scheduler's mercy (this test once failed under the
 * sanitizer build running beside the emulated CUDA tests). */
START_TEST(timing_suite)
{
    mw_suite_config c = configured("timing", "quick");
    c.grid.n_archs = 1;
    const int d[2] = {6, 24};
    memcpy(c.grid.depths, d, sizeof d), c.grid.n_depths = 2;
    c.mlp.width = 8, c.mlp.hidden = 8, c.mlp.batch = 8;
    c.timing.repeats = 3;
    mw_report r = run_scaling("timing", &c);
    double f = 0, m = 0;
    for (size_t k = 0; k < r.n_runs; k++) {
        const mw_report_network *n = mw_report_network_at(&r, r.runs[k].network);
        const mw_report_step *st = mw_report_last_step(&r.runs[k]);
        ck_assert(st && st->seconds > 0);
        if (n->spec.depth == 6 && r.runs[k].method == MW_FORWARD)
            f = st->seconds;
        if (n->spec.depth == 6 && r.runs[k].method == MW_MOONWALK)
            m = st->seconds;
    }
    ck_assert(r.tables[MW_TABLE_FITS].n == MW_N_METHODS);
    int fm = 0, mb = 0;
    const mw_report_ratio *ratios = r.tables[MW_TABLE_RATIOS].rows;
    for (size_t i = 0; i < r.tables[MW_TABLE_RATIOS].n; i++) {
        if (strstr(ratios[i].name, "seconds forward/moonwalk") &&
            strstr(ratios[i].name, ", 6 layers")) {
            ck_assert(fabs(ratios[i].value - f / m) <= 1e-12 * ratios[i].value);
            fm++;
        }
        mb += strstr(ratios[i].name, "seconds mixed/backprop") != NULL;
    }
    ck_assert_int_eq(fm, 1);
    ck_assert_int_eq(mb, 2);
    /* every timed run has its spread: 3 calls, fastest <= median <= slowest, the median the
     * run's seconds, its residual against its fit (two points: on the line) and the load */
    const mw_report_table *tt = &r.tables[MW_TABLE_TIMINGS];
    ck_assert_uint_eq(tt->n, r.n_runs);
    mw_report_timing *rows = tt->rows;
    for (size_t i = 0; i < tt->n; i++) {
        const mw_report_timing *t = &rows[i];
        const mw_report_run *run = mw_report_run_at(&r, (long)t->run);
        ck_assert(run && run->method == t->method && run->network == t->network);
        ck_assert(t->calls == 3 && t->seconds_min > 0 && t->seconds_min <= t->seconds_median &&
                  t->seconds_median <= t->seconds_max);
        ck_assert(t->seconds_median == mw_report_last_step(run)->seconds);
        ck_assert_msg(fabs(t->residual - 1.0) < 1e-9, "residual %g", t->residual);
        ck_assert(t->cores == mw_cpu_count() && (isnan(t->others) || t->others >= 0));
    }
    /* the printout: every run's spread and residual, each exponent's range; a warning
     * exactly when a range is wider than the alarm or other processes took the cores */
    const mw_suite_def *def = mw_suite_find("timing");
    char *buf = NULL;
    size_t len = 0;
    for (int doctor = 0; doctor < 3; doctor++) {
        for (size_t i = 0; i < tt->n; i++) { /* 0: tight calls, an idle machine */
            rows[i].seconds_min = rows[i].seconds_max = rows[i].seconds_median;
            rows[i].others = 0.0;
            /* 1: the deep runs' slowest calls 2x: exponents can move by log 2/log 4 = 0.5 */
            if (doctor == 1 && rows[i].layers == 24)
                rows[i].seconds_max = 2.0 * rows[i].seconds_median;
            if (doctor == 2) /* 2: others took a core */
                rows[i].others = 1.0;
        }
        FILE *out = open_memstream(&buf, &len);
        def->print(out, &c, &r, 0);
        fclose(out);
        ck_assert_msg(strstr(buf, "1.00 (1.00)") && strstr(buf, "exponents p within") &&
                          strstr(buf, "3 calls, [fastest, slowest] is a 75% confidence"),
                      "%s", buf);
        ck_assert_msg(!strstr(buf, "WARNING") == (doctor == 0), "case %d: %s", doctor, buf);
        ck_assert(doctor != 1 || strstr(buf, "can move by 0.50"));
        ck_assert(doctor != 2 || strstr(buf, "kept up to 1.00 of the"));
        free(buf);
    }
    mw_report_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- layer check */

static int has_row(const mw_layer_rows *r, const char *layer, const char *check, int failing)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->rows[i].layer, layer) == 0 && strcmp(r->rows[i].check, check) == 0 &&
            (!failing || !r->rows[i].pass))
            return 1;
    return 0;
}

/* Every real layer passes every check, and a coupling is checked by all of them: each
 * operation against MPFR, the identities, the six methods, in both dtypes. */
START_TEST(layer_check_passes_real_layers)
{
    static const char *const checks[] = {
        "forward", "inverse", "inverse_bias", "adjoint", "vijp_identity", "jvp", "vjp_input",
        "vjp_params", "vijp_exact", "method:backprop", "method:forward", "method:projforward",
        "method:revbackprop", "method:moonwalk", "method:mixed"};
    mw_err err;
    for (size_t i = 0; i < mw_layer_count(); i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (info.fault)
            continue;
        mw_layer_rows r = {0};
        ck_assert_msg(mw_layer_check(info.name, &r, &err) == MW_OK, "%s", err.msg);
        for (size_t k = 0; k < r.n; k++) {
            const mw_layer_check_row *w = &r.rows[k];
            ck_assert_msg(w->pass, "%s %s %s %s: %g > %g", w->layer, w->config,
                          mw_dtype_name(w->dtype), w->check, w->error, w->threshold);
            ck_assert(isfinite(w->error) && w->threshold >= 0);
        }
        /* the squeeze has no parameters, so no vjp_params and no network of its own */
        for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
            int wanted = info.coupling >= 0 || (strcmp(checks[c], "vjp_params") != 0 &&
                                                strncmp(checks[c], "method:", 7) != 0);
            ck_assert_msg(has_row(&r, info.name, checks[c], 0) == wanted, "%s: %s check %s",
                          info.name, checks[c], wanted ? "missing" : "unexpected");
        }
        int dtypes = 0;
        for (size_t k = 0; k < r.n; k++)
            dtypes |= 1 << r.rows[k].dtype;
        ck_assert_int_eq(dtypes, 3);
        ck_assert_uint_eq(mw_layer_check_failures(r.rows, r.n, info.name), 0);
        mw_layer_rows_free(&r);
    }
}
END_TEST

/* Every negative control is caught, by the check that names its fault. */
START_TEST(layer_check_catches_every_fault)
{
    static const struct {
        const char *layer, *check;
    } expect[] = {
        {"additive-vijp-sign", "vijp_exact"},
        {"additive-naive-dinv", "vijp_exact"},
        {"additive-bn-vjp-uncoupled", "vjp_input"},
        {"additive-inverse-bias", "inverse_bias"},
    };
    mw_err err;
    size_t controls = 0;
    for (size_t i = 0; i < mw_layer_count(); i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (!info.fault)
            continue;
        controls++;
        mw_layer_rows r = {0};
        ck_assert_msg(mw_layer_check(info.name, &r, &err) == MW_OK, "%s", err.msg);
        ck_assert_msg(mw_layer_check_failures(r.rows, r.n, info.name) > 0,
                      "%s escaped every check", info.name);
        for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++)
            if (strcmp(expect[k].layer, info.name) == 0)
                ck_assert_msg(has_row(&r, info.name, expect[k].check, 1), "%s: %s did not fail",
                              info.name, expect[k].check);
        /* the fault is in one operation: forward and the jvp stay right */
        ck_assert(!has_row(&r, info.name, "forward", 1) && !has_row(&r, info.name, "jvp", 1));
        mw_layer_rows_free(&r);
    }
    ck_assert_uint_ge(controls, sizeof expect / sizeof expect[0]);
    mw_layer_rows r = {0};
    ck_assert(mw_layer_check("no-such-layer", &r, &err) == MW_ERR_ARG);
    ck_assert(strstr(err.msg, "no-such-layer") != NULL);
}
END_TEST

/* suite layers on one layer into a report; its rows read back whole. As its own baseline
 * nothing regresses (and a row with no counterpart is counted, not compared); a baseline
 * whose errors were smaller (doctored: one row 100x better than measured) makes that row
 * a regression, and the suite fails. */
START_TEST(layer_check_baseline)
{
    char dir[256], path[300], doctored[300];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-test-layers-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/base.h5", dir);
    snprintf(doctored, sizeof doctored, "%s/doctored.h5", dir);
    const mw_suite_def *def = mw_suite_find("layers");
    mw_suite_config c = configured("layers", "all");
    snprintf(c.layers.names[0], sizeof c.layers.names[0], "affine");
    c.layers.n_names = 1;
    mw_err err;
    mw_report r, back;
    size_t failures;
    mw_estimate est;
    ck_assert_msg(mw_suite_prepare(def, &c, 1, &est, &err) == MW_OK && est.units == 1, "%s",
                  err.msg);
    mw_estimate_release(&est);
    mw_suite_job job = {.def = def, .cfg = &c, .path = path, .jobs = 1, .command_line = "test"};
    ck_assert_msg(mw_suite_run(&job, &r, &failures, &err) == MW_OK, "%s", err.msg);
    ck_assert_uint_eq(failures, 0);
    ck_assert_msg(mw_report_load(&back, path, &err) == MW_OK, "%s", err.msg);
    const mw_report_table *t = &r.tables[MW_TABLE_LAYER_CHECKS], *u = &back.tables[MW_TABLE_LAYER_CHECKS];
    ck_assert(t->n > 0 && u->n == t->n);
    const mw_layer_check_row *rows = t->rows, *brows = u->rows;
    for (size_t i = 0; i < t->n; i++) {
        ck_assert_str_eq(brows[i].check, rows[i].check);
        ck_assert_str_eq(brows[i].config, rows[i].config);
        ck_assert(brows[i].dtype == rows[i].dtype && brows[i].pass == rows[i].pass);
        ck_assert(brows[i].error == rows[i].error || (isnan(brows[i].error) && isnan(rows[i].error)));
    }
    ck_assert(strcmp(back.networks[0].label, "layer affine") == 0);
    /* the same results against themselves: nothing regressed */
    mw_layer_rows again = {0};
    ck_assert(mw_layer_check("affine", &again, &err) == MW_OK);
    size_t unmatched = 1;
    ck_assert_uint_eq(mw_layer_check_against(again.rows, again.n, brows, u->n, 4.0, &unmatched), 0);
    ck_assert_uint_eq(unmatched, 0);
    ck_assert_uint_eq(mw_layer_check_against(again.rows, again.n, NULL, 0, 4.0, &unmatched), 0);
    ck_assert_uint_eq(unmatched, again.n);
    ck_assert_uint_eq(mw_layer_check_failures(again.rows, again.n, NULL), 0);
    mw_layer_rows_free(&again);
    /* doctor one row of the baseline: its error 100x smaller than measured */
    size_t which = u->n;
    mw_layer_check_row *b = u->rows;
    for (size_t i = 0; i < u->n && which == u->n; i++)
        if (strcmp(b[i].check, "vjp_params") == 0 && b[i].error > 0)
            which = i, b[i].error /= 100;
    ck_assert(which < u->n);
    snprintf(back.path, sizeof back.path, "%s", doctored);
    ck_assert(mw_report_commit(&back, &err) == MW_OK);
    mw_report_free(&back);
    mw_report_free(&r);
    snprintf(c.layers.baseline, sizeof c.layers.baseline, "%s", doctored);
    ck_assert(mw_suite_prepare(def, &c, 1, &est, &err) == MW_OK);
    mw_estimate_release(&est);
    job.path = NULL;
    ck_assert_msg(mw_suite_run(&job, &r, &failures, &err) == MW_OK, "%s", err.msg);
    ck_assert_uint_eq(failures, 1);
    rows = r.tables[MW_TABLE_LAYER_CHECKS].rows;
    ck_assert(!rows[which].pass && strstr(rows[which].check, "regressed"));
    ck_assert_uint_eq(mw_layer_check_failures(rows, r.tables[MW_TABLE_LAYER_CHECKS].n, NULL), 1);
    mw_report_free(&r);
    /* a baseline that is not a report of checks is refused before any work */
    snprintf(c.layers.baseline, sizeof c.layers.baseline, "%s/none.h5", dir);
    ck_assert(mw_suite_prepare(def, &c, 1, &est, &err) == MW_ERR_ARG && strstr(err.msg, "none.h5"));
    unlink(path), unlink(doctored);
    rmdir(dir);
}
END_TEST

/* ---- shards, merges, comparisons, ranks ---- */

static char shard_dir[200];

static void shard_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(shard_dir, sizeof shard_dir, "%s/mw-test-shards-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(shard_dir) != NULL);
}

static void shard_rmdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", shard_dir);
    ck_assert(system(cmd) == 0);
}

static const char *in_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", shard_dir, name);
    return buf;
}

/* Run suite into path, shard index/count (count 0: the whole grid), with jobs processes. */
static mw_status run_to(const char *suite, mw_suite_config *c, const char *path, int index,
                        int count, int resume, mw_err *err)
{
    const mw_suite_def *def = mw_suite_find(suite);
    mw_estimate est;
    mw_report r;
    size_t failures;
    ck_assert_msg(mw_suite_prepare(def, c, 1, &est, err) == MW_OK, "%s", err->msg);
    mw_suite_job job = {.def = def, .cfg = c, .path = path, .jobs = 1, .command_line = "test",
                        .unit_cost = est.unit_cost, .shard_index = index, .shard_count = count,
                        .resume = resume, .force = !resume};
    mw_status st = mw_suite_run(&job, &r, &failures, err);
    if (st == MW_OK)
        mw_report_free(&r);
    mw_report_release_path(path); /* this process writes many */
    mw_estimate_release(&est);
    if (def->release)
        def->release(c);
    return st;
}

static mw_status merge_to(const char *out, const char *const *in, int n, mw_report *rep,
                          mw_err *err)
{
    const mw_suite_def *def;
    mw_suite_config *cfg = calloc(1, sizeof *cfg);
    size_t failures;
    ck_assert(cfg != NULL);
    mw_status st = mw_suite_merge(out, 1, in, n, &def, cfg, rep, &failures, err);
    mw_report_release_path(out);
    free(cfg);
    return st;
}

/* Three shards of the gradcheck grid, merged, are the whole grid's report number for
 * number; each shard holds its networks (u mod 3) and no other; so do two of the memory
 * suite's, whose fits the merge draws from every network, as one process does. */
START_TEST(shards_merge_to_the_whole)
{
    shard_tmpdir();
    char whole[300], merged[300], sp[3][300];
    mw_err err;
    mw_report a, m;
    mw_suite_config c = small_grid();
    c.check.proj_repeats = 2;
    ck_assert_msg(run_to("gradcheck", &c, in_dir(whole, 300, "whole.h5"), 0, 0, 0, &err) == MW_OK,
                  "%s", err.msg);
    const char *in[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%d.h5", i + 1);
        in[i] = in_dir(sp[i], 300, name);
        ck_assert_msg(run_to("gradcheck", &c, sp[i], i + 1, 3, 0, &err) == MW_OK, "%s", err.msg);
        mw_report r;
        ck_assert(mw_report_load(&r, sp[i], &err) == MW_OK);
        ck_assert(r.meta.shard_index == i + 1 && r.meta.shard_count == 3 && r.meta.units_total == 4);
        ck_assert_uint_eq(r.n_networks, i == 0 ? 2 : 1); /* units 0, 3 | 1 | 2 */
        for (size_t k = 0; k < r.n_networks; k++)
            ck_assert_int_eq(r.networks[k].index % 3, i);
        mw_report_free(&r);
    }
    ck_assert_msg(merge_to(in_dir(merged, 300, "m.h5"), in, 3, &m, &err) == MW_OK, "%s", err.msg);
    mw_report_free(&m);
    ck_assert(mw_report_load(&a, whole, &err) == MW_OK && mw_report_load(&m, merged, &err) == MW_OK);
    char why[640];
    ck_assert_msg(!mw_report_diff(&a, &m, why, sizeof why), "%s", why);
    ck_assert(m.meta.shard_count == 0);
    mw_report_free(&a);
    mw_report_free(&m);

    /* a suite with a finish: memory's fits drawn on the merged report */
    mw_suite_config mc = configured("memory", "quick");
    const int d[3] = {2, 4, 6};
    memcpy(mc.grid.depths, d, sizeof d), mc.grid.n_depths = 3;
    mc.grid.n_archs = 1;
    ck_assert_msg(run_to("memory", &mc, in_dir(whole, 300, "mw.h5"), 0, 0, 0, &err) == MW_OK,
                  "%s", err.msg);
    ck_assert(run_to("memory", &mc, in_dir(sp[0], 300, "m1.h5"), 1, 2, 0, &err) == MW_OK);
    ck_assert(run_to("memory", &mc, in_dir(sp[1], 300, "m2.h5"), 2, 2, 0, &err) == MW_OK);
    mw_report s1;
    ck_assert(mw_report_load(&s1, sp[0], &err) == MW_OK);
    ck_assert_uint_eq(s1.tables[MW_TABLE_FITS].n, 0); /* a shard draws no fits */
    mw_report_free(&s1);
    ck_assert_msg(merge_to(in_dir(merged, 300, "mm.h5"), in, 2, &m, &err) == MW_OK, "%s", err.msg);
    ck_assert(m.tables[MW_TABLE_FITS].n > 0);
    mw_report_free(&m);
    ck_assert(mw_report_load(&a, whole, &err) == MW_OK && mw_report_load(&m, merged, &err) == MW_OK);
    ck_assert_msg(!mw_report_diff(&a, &m, why, sizeof why), "%s", why);
    mw_report_free(&a);
    mw_report_free(&m);
    shard_rmdir();
}
END_TEST

/* What is not the shards of one run is refused with one line naming the file: a shard
 * missing or given twice, another configuration, a shard cut short (until --resume
 * finishes it: then it merges), a report of the whole grid, the output among the inputs;
 * a resume of a shard as another shard is refused too. */
START_TEST(merge_refuses_what_is_not_one_run)
{
    shard_tmpdir();
    char sp[3][300], other[300], whole[300], out[300], cut[300];
    mw_err err;
    mw_report m;
    mw_suite_config c = small_grid();
    c.check.proj_repeats = 1;
    const char *in[3];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "s%d.h5", i + 1);
        in[i] = in_dir(sp[i], 300, name);
        ck_assert(run_to("gradcheck", &c, sp[i], i + 1, 3, 0, &err) == MW_OK);
    }
    in_dir(out, 300, "out.h5");
    ck_assert(merge_to(out, in, 2, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "shard 3/3 is missing") && !strchr(err.msg, '\n'), "%s", err.msg);
    const char *twice[] = {in[0], in[1], in[1]};
    ck_assert(merge_to(out, twice, 3, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "both shard 2/3"), "%s", err.msg);
    mw_suite_config c2 = c;
    c2.grid.seeds[0] = 7;
    ck_assert(run_to("gradcheck", &c2, in_dir(other, 300, "o3.h5"), 3, 3, 0, &err) == MW_OK);
    const char *mixed[] = {in[0], in[1], other};
    ck_assert(merge_to(out, mixed, 3, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "another configuration") && strstr(err.msg, other), "%s",
                  err.msg);
    ck_assert(run_to("gradcheck", &c, in_dir(whole, 300, "whole.h5"), 0, 0, 0, &err) == MW_OK);
    const char *with_whole[] = {in[0], in[1], whole};
    ck_assert(merge_to(out, with_whole, 3, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "not a shard's report"), "%s", err.msg);
    ck_assert(merge_to(in[2], in, 3, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "cannot be one of the shards"), "%s", err.msg);

    /* shard 1 cut short: its last network and that network's runs gone, as a kill leaves it */
    mw_report r;
    ck_assert(mw_report_load(&r, in[0], &err) == MW_OK);
    const long gone = r.networks[r.n_networks - 1].index;
    mw_network_free(&r.networks[--r.n_networks]);
    size_t kept = 0;
    for (size_t k = 0; k < r.n_runs; k++)
        if (r.runs[k].network != gone)
            r.runs[kept++] = r.runs[k];
        else
            mw_run_free(&r.runs[k]);
    r.n_runs = kept;
    snprintf(r.path, sizeof r.path, "%s", in_dir(cut, 300, "cut1.h5"));
    ck_assert_msg(mw_report_commit(&r, &err) == MW_OK, "%s", err.msg);
    mw_report_release_path(cut);
    mw_report_free(&r);
    const char *with_cut[] = {cut, in[1], in[2]};
    ck_assert(merge_to(out, with_cut, 3, &m, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "not finished") && strstr(err.msg, "--resume") &&
                  strstr(err.msg, cut), "%s", err.msg);
    /* resumed as another shard: refused; as itself: finished, and then it merges */
    ck_assert(run_to("gradcheck", &c, cut, 2, 3, 1, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "shard 1/3"), "%s", err.msg);
    ck_assert_msg(run_to("gradcheck", &c, cut, 1, 3, 1, &err) == MW_OK, "%s", err.msg);
    ck_assert_msg(merge_to(out, with_cut, 3, &m, &err) == MW_OK, "%s", err.msg);
    mw_report_free(&m);
    mw_report a, b;
    char why[640];
    ck_assert(mw_report_load(&a, whole, &err) == MW_OK && mw_report_load(&b, out, &err) == MW_OK);
    ck_assert_msg(!mw_report_diff(&a, &b, why, sizeof why), "%s", why);
    mw_report_free(&a);
    mw_report_free(&b);
    shard_rmdir();
}
END_TEST

/* The comparison finds one bit changed anywhere it looks, and ignores measured times. */
START_TEST(report_diff_sees_one_bit)
{
    mw_suite_config c = small_grid();
    c.check.proj_repeats = 1;
    size_t failed;
    mw_report a = run_grid(&c, 1, &failed), b = run_grid(&c, 1, &failed);
    char why[640];
    ck_assert_msg(!mw_report_diff(&a, &b, why, sizeof why), "%s", why);
    mw_report_step *st = &b.runs[5].steps[0];
    st->seconds *= 3.0; /* a time: not a result */
    b.networks[1].oracle.seconds += 1.0;
    ck_assert_msg(!mw_report_diff(&a, &b, why, sizeof why), "%s", why);
    uint64_t bits;
    memcpy(&bits, &st->vs.rel_l2, sizeof bits);
    bits ^= 1;
    memcpy(&st->vs.rel_l2, &bits, sizeof bits);
    ck_assert(mw_report_diff(&a, &b, why, sizeof why));
    ck_assert_msg(strstr(why, "run 5") && strstr(why, "rel_l2"), "%s", why);
    bits ^= 1;
    memcpy(&st->vs.rel_l2, &bits, sizeof bits);
    b.networks[2].oracle.certified_bits = nextafter(b.networks[2].oracle.certified_bits, 0.0);
    ck_assert(mw_report_diff(&a, &b, why, sizeof why) && strstr(why, "network 2"));
    b.networks[2].oracle.certified_bits = a.networks[2].oracle.certified_bits;
    snprintf(b.meta.host, sizeof b.meta.host, "elsewhere"); /* where: not a result */
    ck_assert(!mw_report_diff(&a, &b, why, sizeof why));
    b.meta.config_json[10] ^= 1;
    ck_assert(mw_report_diff(&a, &b, why, sizeof why) && strstr(why, "config"));
    mw_report_free(&a);
    mw_report_free(&b);
}
END_TEST

/* Every preset of every suite, and a configuration far from them (a seed above 2^53, a
 * list changed, a bool flipped), read back from its JSON is the same configuration: the
 * same text written again, and the same units. */
START_TEST(config_json_reads_back)
{
    mw_err err;
    char text[8192], again[8192];
    for (int i = 0; mw_suites[i]; i++) {
        const mw_suite_def *def = mw_suites[i];
        for (const mw_preset *p = def->presets; p->name; p++) {
            mw_suite_config c, back;
            mw_suite_configure(def, p, &c);
            int grid = 0;
            for (const mw_optgroup *const *gr = def->groups; *gr; gr++)
                grid |= *gr == &mw_grid_group;
            if (grid && p == def->presets) { /* far from any preset */
                c.grid.suite_seed = (1ull << 60) + 12345;
                c.grid.seeds[0] = 99;
                c.methods.want[MW_FORWARD] = !c.methods.want[MW_FORWARD];
            }
            ck_assert_msg(mw_suite_config_json(def, &c, text, sizeof text, &err) == MW_OK, "%s",
                          err.msg);
            ck_assert_msg(mw_suite_config_from_json(def, text, &back, &err) == MW_OK, "%s %s: %s "
                          "(%s)", def->name, p->name, err.msg, text);
            ck_assert(mw_suite_config_json(def, &back, again, sizeof again, &err) == MW_OK);
            ck_assert_str_eq(again, text);
            ck_assert(back.grid.suite_seed == c.grid.suite_seed);
            ck_assert_int_eq(mw_suite_n_units(def, &back), mw_suite_n_units(def, &c));
        }
    }
    /* text that is not one of its configurations is refused */
    const mw_suite_def *g = mw_suite_find("gradcheck");
    mw_suite_config c;
    ck_assert(mw_suite_config_from_json(g, "{\"suite\": \"gradcheck\"", &c, &err) == MW_ERR_FORMAT);
    ck_assert(mw_suite_config_from_json(g, "{\"suite\": \"memory\", \"preset\": \"quick\"}", &c,
                                        &err) == MW_ERR_FORMAT);
    mw_suite_configure(g, &g->presets[0], &c);
    ck_assert(mw_suite_config_json(g, &c, text, sizeof text, &err) == MW_OK);
    char *depths = strstr(text, "\"depths\": [1");
    ck_assert(depths != NULL);
    depths[11] = '\0'; /* a depth that is not a number */
    char *bad = malloc(strlen(text) + strlen(depths + 12) + 8);
    ck_assert(bad != NULL);
    strcat(strcat(strcpy(bad, text), "\"one\""), depths + 12);
    ck_assert(mw_suite_config_from_json(g, bad, &c, &err) == MW_ERR_FORMAT);
    free(bad);
    ck_assert_msg(strstr(err.msg, "depths"), "%s", err.msg);
}
END_TEST

/* The estimate on R ranks is the costliest-first schedule's finish: one rank sums, more
 * ranks than units wait for the longest, and a worked case. */
START_TEST(makespan_on_ranks)
{
    const double cost[5] = {3, 5, 3, 4, 3};
    ck_assert(mw_estimate_makespan(cost, 5, 1) == 18.0);
    ck_assert(mw_estimate_makespan(cost, 5, 8) == 5.0);
    /* 5 | 4; 3 to the second (7); 3 to the first (8); 3 to the second (10) */
    ck_assert(mw_estimate_makespan(cost, 5, 2) == 10.0);
    ck_assert(mw_estimate_makespan(cost, 5, 3) == 7.0); /* 5 | 4 | 3; 3 to the third (6); 3 to
                                                          the second (7) */
}
END_TEST

/* A unit's result as bytes (what an MPI rank sends): read back whole it is the same; cut
 * anywhere short it is refused, never read (nor its sender's pointers freed). */
START_TEST(unit_result_bytes)
{
    mw_unit_result u;
    memset(&u, 0, sizeof u);
    u.unit = 7;
    u.net.index = 7;
    u.net.n_ref_steps = 2;
    mw_report_step steps[3] = {mw_step_none(), mw_step_none(), mw_step_none()};
    steps[1].loss = 0.25;
    u.net.ref_steps = steps;
    mw_report_run run;
    memset(&run, 0, sizeof run);
    double layers[6] = {1, 2, 3, 4, 5, 6};
    run.index = 3, run.network = 7, run.n_steps = 3, run.n_layers = 2;
    run.steps = steps, run.layer_rel_l2 = layers;
    u.n_runs = 1, u.runs = &run;
    void *bytes;
    size_t n;
    ck_assert(mw_unit_result_pack(&u, &bytes, &n) == MW_OK);
    mw_unit_result back;
    ck_assert(mw_unit_result_unpack(bytes, n, &back) == MW_OK);
    ck_assert(back.unit == 7 && back.net.n_ref_steps == 2 && back.net.ref_steps[1].loss == 0.25);
    ck_assert(back.n_runs == 1 && back.runs[0].n_steps == 3 && back.runs[0].layer_rel_l2[5] == 6);
    mw_unit_result_free(&back);
    for (size_t cut = 0; cut < n; cut++)
        ck_assert_msg(mw_unit_result_unpack(bytes, cut, &back) == MW_ERR_FORMAT, "cut at %zu of %zu",
                      cut, n);
    ck_assert(mw_unit_result_unpack(bytes, n - 1, &back) == MW_ERR_FORMAT);
    free(bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("suites");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, all_methods_measured_against_gold);
    tcase_add_test(tc, oracle_choice);
    tcase_add_test(tc, budget_skips_only_unnamed_methods);
    tcase_add_test(tc, inverse_methods_skip_or_stop_with_reason);
    tcase_add_test(tc, invalid_spec_is_refused);
    tcase_add_test(tc, estimate_and_budgets);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, suite_gradcheck_grid);
    tcase_add_test(tc, suite_gradcheck_affine);
    tcase_add_test(tc, suite_gradcheck_jobs_agree);
    tcase_add_test(tc, suite_gradcheck_failures);
    tcase_add_test(tc, runner_keeps_failed_units);
    suite_add_tcase(s, tc);
    tc = tcase_create("stability");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, stability_lockstep);
    tcase_add_test(tc, stability_divergence);
    tcase_add_test(tc, stability_verdict);
    suite_add_tcase(s, tc);
    tc = tcase_create("scaling");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, power_fit);
    tcase_add_test(tc, memory_suite);
    tcase_add_test(tc, timing_suite);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, layer_check_passes_real_layers);
    tcase_add_test(tc, layer_check_catches_every_fault);
    tcase_add_test(tc, layer_check_baseline);
    suite_add_tcase(s, tc);
    tc = tcase_create("shards");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shards_merge_to_the_whole);
    tcase_add_test(tc, merge_refuses_what_is_not_one_run);
    tcase_add_test(tc, report_diff_sees_one_bit);
    tcase_add_test(tc, config_json_reads_back);
    tcase_add_test(tc, makespan_on_ranks);
    tcase_add_test(tc, unit_result_bytes);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
