/* Tests of suites/: the single gradient check behind `mwverify grad`. */
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

/* In f64 every deterministic method lands within 1e-12 of silver, with its memory and
 * time measured; projforward is an estimate and only its finiteness is asked here. */
START_TEST(all_methods_measured_against_silver)
{
    mw_grad_request r = small_request();
    mw_grad_report rep;
    char msg[256];
    ck_assert_msg(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_OK, "%s", msg);
    ck_assert(rep.silver_norm > 0 && isfinite(rep.silver_loss));
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *run = &rep.run[m];
        ck_assert_msg(run->state == MW_RUN_OK, "%s: %s", mw_method_name((mw_method)m), run->message);
        ck_assert(run->info.peak_bytes > 0 && run->seconds >= 0 && run->est_gflop > 0);
        ck_assert(fabs(run->info.loss - rep.silver_loss) <= 1e-14 * rep.silver_loss);
        if (m != MW_PROJFORWARD)
            ck_assert_msg(run->vs_silver.rel_l2 <= 1e-12, "%s: %g", mw_method_name((mw_method)m),
                          run->vs_silver.rel_l2);
        else
            ck_assert(isfinite(run->vs_silver.rel_l2));
    }
}
END_TEST

/* "all" skips what is over budget and says why; a named method runs anyway. */
START_TEST(budget_skips_only_unnamed_methods)
{
    mw_grad_request r = small_request();
    mw_grad_report rep;
    char msg[256];
    r.budget_gflop = 0;
    ck_assert(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        ck_assert(rep.run[m].state == MW_RUN_SKIPPED);
        ck_assert(strstr(rep.run[m].message, "budget") != NULL);
    }
    r.named = 1;
    memset(r.want, 0, sizeof r.want);
    r.want[MW_FORWARD] = 1;
    ck_assert(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_OK);
    ck_assert(rep.run[MW_FORWARD].state == MW_RUN_OK);
    ck_assert(rep.run[MW_BACKPROP].state == MW_RUN_NOT_ASKED);
}
END_TEST

/* Methods needing an inverse are skipped, with the reason, on σ = leaky with slope 0;
 * a saturated f32 tanh stops revbackprop part way, reported as non-finite. */
START_TEST(inverse_methods_skip_or_stop_with_reason)
{
    mw_grad_request r = small_request();
    mw_grad_report rep;
    char msg[256];
    r.spec.out_act = MW_ACT_LEAKY;
    r.spec.leaky_slope = 0;
    ck_assert(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_OK);
    ck_assert(rep.run[MW_BACKPROP].state == MW_RUN_OK);
    ck_assert(rep.run[MW_MOONWALK].state == MW_RUN_SKIPPED);
    ck_assert(strstr(rep.run[MW_MIXED].message, "inverse") != NULL);

    r = small_request();
    r.dtype = MW_F32;
    r.spec.f_act = MW_ACT_IDENTITY;
    r.spec.init_scale = 60;
    ck_assert(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_OK);
    ck_assert(rep.run[MW_REVBACKPROP].state == MW_RUN_NONFINITE);
    ck_assert(!rep.run[MW_REVBACKPROP].info.complete);
    ck_assert(isnan(rep.run[MW_REVBACKPROP].vs_silver.rel_l2));
    ck_assert(strstr(rep.run[MW_REVBACKPROP].message, "inverse") != NULL);
}
END_TEST

START_TEST(invalid_spec_is_refused)
{
    mw_grad_request r = small_request();
    mw_grad_report rep;
    char msg[256];
    r.spec.depth = 0;
    ck_assert(mw_suite_grad(&r, &rep, msg, sizeof msg) == MW_ERR_ARG);
    ck_assert(strstr(msg, "depth 0") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("suites");
    TCase *tc = tcase_create("grad");
    tcase_add_test(tc, all_methods_measured_against_silver);
    tcase_add_test(tc, budget_skips_only_unnamed_methods);
    tcase_add_test(tc, inverse_methods_skip_or_stop_with_reason);
    tcase_add_test(tc, invalid_spec_is_refused);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
