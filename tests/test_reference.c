/* Tests of reference/: the MPFR implementation reproduces the 60-digit golden cases to
 * 1e-25 of each tensor (tests/golden/README.md), agrees with the float64 engine to
 * 1e-13, and refuses bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mw_reference.h"
#include "testutil.h"

/* max_i |got_i - want_i| <= tol · max_i |want_i|, in MPFR: the values carry 30 digits. */
static void check_tensor(const char *cs, const char *what, mpfr_srcptr (*get)(const mw_ref *, size_t),
                         const mw_ref *r, size_t first, char **want_text, size_t n, double tol)
{
    mpfr_t want, diff, worst, scale;
    mpfr_inits2(320, want, diff, worst, scale, (mpfr_ptr)0);
    mpfr_set_zero(worst, 1);
    mpfr_set_zero(scale, 1);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(mpfr_set_str(want, want_text[i], 10, MPFR_RNDN) == 0, "%s: bad number %s", cs,
                      want_text[i]);
        mpfr_sub(diff, get(r, first + i), want, MPFR_RNDN);
        mpfr_abs(diff, diff, MPFR_RNDN);
        if (mpfr_greater_p(diff, worst))
            mpfr_set(worst, diff, MPFR_RNDN), at = i;
        mpfr_abs(want, want, MPFR_RNDN);
        mpfr_max(scale, scale, want, MPFR_RNDN);
    }
    mpfr_mul_d(scale, scale, tol, MPFR_RNDN);
    ck_assert_msg(mpfr_lessequal_p(worst, scale), "%s %s: |got - want| = %.3e at %zu (want %s), tol %.3e",
                  cs, what, mpfr_get_d(worst, MPFR_RNDN), at, want_text[at],
                  mpfr_get_d(scale, MPFR_RNDN));
    mpfr_clears(want, diff, worst, scale, (mpfr_ptr)0);
}

static mpfr_srcptr get_grad(const mw_ref *r, size_t j) { return mw_ref_grad(r, j); }
static mpfr_srcptr get_input_grad(const mw_ref *r, size_t j) { return mw_ref_input_grad(r, j); }
static mpfr_srcptr get_loss(const mw_ref *r, size_t j) { (void)j; return mw_ref_loss(r); }
static int act_layer;
static mpfr_srcptr get_act(const mw_ref *r, size_t j) { return mw_ref_activation(r, act_layer, j); }

START_TEST(golden_mlp_cases)
{
    static const char *cases[] = {"mlp-01", "mlp-02", "mlp-03", "mlp-04", "mlp-05",
                                  "mlp-06", "mlp-07", "mlp-08", "mlp-09"};
    static const mpfr_prec_t bits[2] = {128, 256};
    tu_golden gc;
    tu_golden_load(&gc, cases[_i]);
    for (int k = 0; k < 2; k++) {
        mw_ref *r;
        char msg[256];
        ck_assert_msg(mw_ref_new(&gc.spec, bits[k], &r, msg, sizeof msg) == 0, "%s", msg);
        ck_assert(mw_ref_set_params(r, gc.theta, msg, sizeof msg) == 0);
        ck_assert(mw_ref_set_batch(r, gc.x, gc.labels, msg, sizeof msg) == 0);
        ck_assert_msg(mw_ref_gradient(r, msg, sizeof msg) == 0, "%s", msg);
        check_tensor(gc.name, "loss", get_loss, r, 0, &gc.loss_text, 1, 1e-25);
        mw_layout lay;
        ck_assert(mw_layout_build(&gc.spec, &lay) == 0);
        for (int t = 0; t < lay.n_params; t++)
            check_tensor(gc.name, lay.params[t].name, get_grad, r, lay.params[t].offset,
                         gc.grad_text + lay.params[t].offset, lay.params[t].count, 1e-25);
        mw_layout_free(&lay);
        check_tensor(gc.name, "input_grad", get_input_grad, r, 0, gc.input_grad_text, gc.N, 1e-25);
        /* activations are written with 20 digits: 5e-20 of rounding, so 1e-18 */
        for (act_layer = 1; act_layer <= gc.spec.depth; act_layer++)
            check_tensor(gc.name, "activation", get_act, r, 0,
                         gc.acts_text + (size_t)(act_layer - 1) * gc.N, gc.N, 1e-18);
        mw_ref_free(r);
    }
    tu_golden_free(&gc);
}
END_TEST

/* On seeded networks of every activation, with and without BN, the reference at 256 bits
 * and the f64 engine's backprop agree to 1e-13 (loss and gradient, relative). */
START_TEST(agrees_with_f64_engine)
{
    static const struct { mw_act f, s; int bn; } cfg[] = {
        {MW_ACT_RELU, MW_ACT_IDENTITY, 0}, {MW_ACT_TANH, MW_ACT_TANH, 0},
        {MW_ACT_LEAKY, MW_ACT_LEAKY, 0},   {MW_ACT_IDENTITY, MW_ACT_TANH, 1},
        {MW_ACT_TANH, MW_ACT_LEAKY, 1},
    };
    for (int k = 0; k < 5; k++) {
        mw_spec s = tu_small_spec(3, cfg[k].f, cfg[k].s, cfg[k].bn, tu_seed() + (uint64_t)k);
        tu_net t;
        tu_net_make(&t, &s, MW_F64);
        double *g = malloc(t.P * sizeof *g), *ref = malloc(t.P * sizeof *ref);
        double *theta = malloc(t.P * sizeof *theta);
        mw_grad_info info;
        tu_grad(&t, MW_BACKPROP, NULL, g, &info, MW_OK);
        ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
        mw_ref *r;
        char msg[256];
        ck_assert(mw_ref_new(&s, 256, &r, msg, sizeof msg) == 0);
        ck_assert(mw_ref_set_params(r, theta, msg, sizeof msg) == 0);
        ck_assert(mw_ref_set_batch(r, t.x, t.labels, msg, sizeof msg) == 0);
        ck_assert(mw_ref_gradient(r, msg, sizeof msg) == 0);
        for (size_t j = 0; j < t.P; j++)
            ref[j] = mpfr_get_d(mw_ref_grad(r, j), MPFR_RNDN);
        double loss = mpfr_get_d(mw_ref_loss(r), MPFR_RNDN);
        ck_assert_msg(fabs(loss - info.loss) <= 1e-13 * fabs(loss), "config %d loss %.17g vs %.17g",
                      k, info.loss, loss);
        double e = tu_rel_l2(g, ref, t.P);
        ck_assert_msg(e <= 1e-13, "config %d: engine f64 backprop vs reference rel_l2 %g", k, e);
        mw_ref_free(r);
        free(g), free(ref), free(theta);
        tu_net_free(&t);
    }
}
END_TEST

START_TEST(bad_input_refused)
{
    mw_spec s = tu_small_spec(2, MW_ACT_TANH, MW_ACT_TANH, 0, 1);
    mw_ref *r;
    char msg[256];
    ck_assert(mw_ref_new(&s, 16, &r, msg, sizeof msg) != 0);
    ck_assert(strstr(msg, "oracle-bits 16") != NULL);
    ck_assert(mw_ref_new(&s, 70000, &r, msg, sizeof msg) != 0);
    s.width = 5;
    ck_assert(mw_ref_new(&s, 128, &r, msg, sizeof msg) != 0 && strstr(msg, "width 5"));
    s.width = 8;
    ck_assert(mw_ref_new(&s, 128, &r, msg, sizeof msg) == 0);
    double x[32] = {0};
    int labels[4] = {0, 1, 2, 3}; /* 3 classes: label 3 is out of range */
    ck_assert(mw_ref_set_batch(r, x, labels, msg, sizeof msg) != 0 && strstr(msg, "label 3"));
    mw_ref_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, golden_mlp_cases, 0, 9);
    tcase_add_test(tc, agrees_with_f64_engine);
    tcase_add_test(tc, bad_input_refused);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
