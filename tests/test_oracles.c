/* Tests of oracles/: the error metrics and the silver oracle. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "oracles.h"
#include "testutil.h"

START_TEST(metrics_on_known_vectors)
{
    const double ref[4] = {3, 0, -4, 0}, g[4] = {3, 1, -4, 0};
    mw_metrics m;
    mw_metrics_compute(ref, ref, 4, &m);
    ck_assert(m.rel_l2 == 0 && m.max_abs == 0 && m.norm == 5 && m.nonfinite == 0);
    ck_assert(fabs(m.cosine - 1) <= 2 * DBL_EPSILON);
    mw_metrics_compute(g, ref, 4, &m);
    ck_assert(fabs(m.rel_l2 - 0.2) <= 2 * DBL_EPSILON); /* |(0,1,0,0)| / 5 */
    ck_assert(m.max_abs == 1);
    ck_assert(fabs(m.norm - sqrt(26)) <= 2 * DBL_EPSILON * sqrt(26));
    ck_assert(fabs(m.cosine - 25 / (5 * sqrt(26))) <= 4 * DBL_EPSILON);
    /* against a zero reference the error is absolute */
    const double zero[4] = {0};
    mw_metrics_compute(g, zero, 4, &m);
    ck_assert(fabs(m.rel_l2 - sqrt(26)) <= 2 * DBL_EPSILON * sqrt(26));
    ck_assert(isnan(m.cosine));
}
END_TEST

START_TEST(metrics_say_nonfinite)
{
    const double ref[3] = {1, 2, 3}, g[3] = {1, NAN, INFINITY};
    mw_metrics m;
    mw_metrics_compute(g, ref, 3, &m);
    ck_assert_uint_eq(m.nonfinite, 2);
    ck_assert(isnan(m.rel_l2) && isnan(m.max_abs) && isnan(m.norm));
}
END_TEST

/* Silver is f64 backprop: it equals the engine's own, follows the parameters it is
 * given, and refuses an invalid spec with a message instead of computing. */
START_TEST(silver_is_f64_backprop)
{
    mw_spec s = tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *g = malloc(t.P * sizeof *g), *sg = malloc(t.P * sizeof *sg);
    double *theta = malloc(t.P * sizeof *theta), loss;
    char msg[256];
    tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
    ck_assert(mw_silver_gradient(&s, NULL, t.x, t.labels, sg, &loss, msg, sizeof msg) == MW_OK);
    ck_assert(memcmp(g, sg, t.P * sizeof *g) == 0);
    ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
    for (size_t j = 0; j < t.P; j++)
        theta[j] *= 0.5;
    ck_assert(mw_silver_gradient(&s, theta, t.x, t.labels, sg, &loss, msg, sizeof msg) == MW_OK);
    ck_assert(tu_rel_l2(sg, g, t.P) > 1e-3);
    s.width = 7;
    ck_assert(mw_silver_gradient(&s, NULL, t.x, t.labels, sg, &loss, msg, sizeof msg) == MW_ERR_ARG);
    ck_assert_msg(strstr(msg, "width 7") != NULL, "message: %s", msg);
    free(g), free(sg), free(theta);
    tu_net_free(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oracles");
    TCase *tc = tcase_create("oracles");
    tcase_add_test(tc, metrics_on_known_vectors);
    tcase_add_test(tc, metrics_say_nonfinite);
    tcase_add_test(tc, silver_is_f64_backprop);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
