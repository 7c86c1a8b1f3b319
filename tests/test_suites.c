/* Tests of suites/: the gradient check behind `mwverify grad` (a case and its runs) and
 * the gradcheck grid. */
#include <math.h>
#include <string.h>

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
    mw_method_runs runs;
    char msg[320];
    ck_assert_msg(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK, "%s", msg);
    ck_assert(c.oracle == MW_ORACLE_GOLD && strstr(c.oracle_reason, "auto"));
    ck_assert(c.gold.certified_bits >= 100 && c.ref_lo != NULL);
    ck_assert(c.silver_vs_gold.rel_l2 <= 1e-13);
    ck_assert(mw_grad_case_run(&r, &c, MW_F64, &runs, msg, sizeof msg) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *run = &runs.run[m];
        ck_assert_msg(run->state == MW_RUN_OK, "%s: %s", mw_method_name((mw_method)m), run->message);
        ck_assert(run->info.peak_bytes > 0 && run->seconds >= 0 && run->est_gflop > 0);
        ck_assert(run->grad && run->per_layer);
        ck_assert(fabs(run->info.loss - c.ref_loss) <= 1e-14 * c.ref_loss);
        if (m != MW_PROJFORWARD) {
            ck_assert_msg(run->vs_oracle.rel_l2 <= 1e-12, "%s: %g", mw_method_name((mw_method)m),
                          run->vs_oracle.rel_l2);
            for (int l = 0; l <= c.spec.depth; l++)
                ck_assert(run->per_layer[l] <= 1e-12);
        } else {
            ck_assert(isfinite(run->vs_oracle.rel_l2));
        }
    }
    mw_method_runs_free(&runs);
    mw_grad_case_free(&c);
}
END_TEST

/* Silver when asked or when gold would be slow (auto says why); an explicit gold over
 * its budget is refused before any work. */
START_TEST(oracle_choice)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    char msg[320];
    r.oracle = MW_ORACLE_SILVER;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK);
    ck_assert(c.oracle == MW_ORACLE_SILVER && c.ref_lo == NULL && c.ref_hi == c.silver);
    mw_grad_case_free(&c);
    r.oracle = MW_ORACLE_AUTO;
    r.gold_auto_s = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK);
    ck_assert(c.oracle == MW_ORACLE_SILVER && strstr(c.oracle_reason, "over"));
    mw_grad_case_free(&c);
    r.oracle = MW_ORACLE_GOLD;
    r.gold_budget_s = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_ERR_ARG);
    ck_assert_msg(strstr(msg, "gold-budget"), "%s", msg);
    mw_grad_case_free(&c);
}
END_TEST

/* "all" skips what is over budget and says why; a named method runs anyway. */
START_TEST(budget_skips_only_unnamed_methods)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_method_runs runs;
    char msg[320];
    r.oracle = MW_ORACLE_SILVER;
    r.budget_gflop = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &runs, msg, sizeof msg) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        ck_assert(runs.run[m].state == MW_RUN_SKIPPED);
        ck_assert(strstr(runs.run[m].message, "budget") != NULL);
    }
    mw_method_runs_free(&runs);
    r.named = 1;
    memset(r.want, 0, sizeof r.want);
    r.want[MW_FORWARD] = 1;
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &runs, msg, sizeof msg) == MW_OK);
    ck_assert(runs.run[MW_FORWARD].state == MW_RUN_OK);
    ck_assert(runs.run[MW_BACKPROP].state == MW_RUN_NOT_ASKED);
    mw_method_runs_free(&runs);
    mw_grad_case_free(&c);
}
END_TEST

/* Methods needing an inverse are skipped, with the reason, on σ = leaky with slope 0;
 * a saturated f32 tanh stops revbackprop part way, reported as non-finite. */
START_TEST(inverse_methods_skip_or_stop_with_reason)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    mw_method_runs runs;
    char msg[320];
    r.oracle = MW_ORACLE_SILVER;
    r.spec.out_act = MW_ACT_LEAKY;
    r.spec.leaky_slope = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F64, &runs, msg, sizeof msg) == MW_OK);
    ck_assert(runs.run[MW_BACKPROP].state == MW_RUN_OK);
    ck_assert(runs.run[MW_MOONWALK].state == MW_RUN_SKIPPED);
    ck_assert(strstr(runs.run[MW_MIXED].message, "inverse") != NULL);
    mw_method_runs_free(&runs);
    mw_grad_case_free(&c);

    r = small_request();
    r.oracle = MW_ORACLE_SILVER;
    r.spec.f_act = MW_ACT_IDENTITY;
    r.spec.init_scale = 60;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_OK);
    ck_assert(mw_grad_case_run(&r, &c, MW_F32, &runs, msg, sizeof msg) == MW_OK);
    const mw_method_run *rb = &runs.run[MW_REVBACKPROP];
    ck_assert(rb->state == MW_RUN_NONFINITE && !rb->info.complete && !rb->grad);
    ck_assert(isnan(rb->vs_oracle.rel_l2));
    ck_assert(strstr(rb->message, "inverse") != NULL);
    mw_method_runs_free(&runs);
    mw_grad_case_free(&c);
}
END_TEST

START_TEST(invalid_spec_is_refused)
{
    mw_grad_request r = small_request();
    mw_grad_case c;
    char msg[320];
    r.spec.depth = 0;
    ck_assert(mw_grad_case_prepare(&r, &c, msg, sizeof msg) == MW_ERR_ARG);
    ck_assert(strstr(msg, "depth 0") != NULL);
    mw_grad_case_free(&c);
}
END_TEST

static size_t progress_calls;
static void count_progress(const mw_gradcheck_cell *cell, size_t done, size_t total, void *arg)
{
    (void)cell, (void)arg;
    ck_assert(done <= total);
    progress_calls++;
}

/* A 2 x 1 x 2 x 2 grid: 8 cells, one gold per network shared by both dtypes, every
 * check passing; with an impossible tolerance every f64 cell fails, and with a floor
 * above the precision gold cannot certify and every cell fails. */
START_TEST(gradcheck_grid)
{
    mw_gradcheck_request q = mw_gradcheck_request_default();
    q.depths[0] = 1, q.depths[1] = 2, q.n_depths = 2;
    q.f_acts[0] = MW_ACT_TANH, q.n_f_acts = 1;
    q.n_out_acts = 2;
    mw_gradcheck_cell *cells;
    mw_grad_case *cases;
    size_t nc, nk;
    char msg[320];
    progress_calls = 0;
    ck_assert(mw_gradcheck_run(&q, &cells, &nc, &cases, &nk, count_progress, NULL, msg, sizeof msg) ==
              MW_OK);
    ck_assert_uint_eq(nc, 8);
    ck_assert_uint_eq(nk, 4);
    ck_assert_uint_eq(progress_calls, 8);
    for (size_t i = 0; i < nc; i++) {
        ck_assert_msg(!cells[i].failed, "cell %zu failed: %s", i, cells[i].case_message);
        ck_assert(cells[i].gc == &cases[i / 2] && cells[i].dtype == (i % 2 ? MW_F64 : MW_F32));
        ck_assert(cells[i].gc->gold.certified_bits >= 100);
    }
    mw_gradcheck_free(cells, nc, cases, nk);

    q.tol = 1e-30;
    ck_assert(mw_gradcheck_run(&q, &cells, &nc, &cases, &nk, NULL, NULL, msg, sizeof msg) == MW_OK);
    for (size_t i = 0; i < nc; i++)
        ck_assert(cells[i].failed == (cells[i].dtype == MW_F64));
    mw_gradcheck_free(cells, nc, cases, nk);

    q.tol = 1e-11;
    q.base.gold.floor_bits = 300;
    ck_assert(mw_gradcheck_run(&q, &cells, &nc, &cases, &nk, NULL, NULL, msg, sizeof msg) == MW_OK);
    for (size_t i = 0; i < nc; i++)
        ck_assert(cells[i].failed && cells[i].case_status == MW_ERR_UNCERTIFIED);
    mw_gradcheck_free(cells, nc, cases, nk);

    q.depths[0] = 0;
    ck_assert(mw_gradcheck_run(&q, &cells, &nc, &cases, &nk, NULL, NULL, msg, sizeof msg) ==
              MW_ERR_ARG);
    ck_assert(strstr(msg, "depth 0") != NULL);
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
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, gradcheck_grid);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
