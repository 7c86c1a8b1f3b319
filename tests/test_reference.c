/* Tests of reference/: the MPFR implementation reproduces the 60-digit golden cases (mlp
 * and revnet) to 1e-25 of each tensor (tests/golden/README.md), agrees with its own
 * central differences on revnet shapes the golden cases lack, agrees with the float64
 * engine to 1e-13, and refuses bad input. */
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

START_TEST(golden_cases)
{
    static const char *cases[] = {"mlp-01", "mlp-02", "mlp-03", "mlp-04",    "mlp-05",   "mlp-06",
                                  "mlp-07", "mlp-08", "mlp-09", "revnet-01", "revnet-02"};
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
        /* activations are written with 20 digits: 5e-20 of rounding, so 1e-18; revnet's
         * are the layer outputs before ψ */
        for (act_layer = 1; act_layer <= gc.spec.depth; act_layer++)
            check_tensor(gc.name, "activation", get_act, r, 0,
                         gc.acts_text + (size_t)(act_layer - 1) * gc.N, gc.N, 1e-18);
        mw_ref_free(r);
    }
    tu_golden_free(&gc);
}
END_TEST

/* splitmix64: the test's own parameters and inputs, from the seed. */
static double uniform_pm1(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1p-52 - 1.0;
}

/* A revnet with the shapes no golden case has: k = 2 units with hidden 3 != C/2, two
 * layers per block (so ψ sits inside the body between layers 2 and 3, and layer 4's
 * parity follows layer 3's), tanh in F, leaky σ; parameters drawn like the golden
 * generator's (W, c in ±1/√fan_in, γ = 1 ± 0.2, β ± 0.2), inputs in ±1. */
static mw_spec fd_revnet(double **theta, double **x, int **labels, uint64_t seed)
{
    mw_spec s = mw_spec_revnet_default();
    s.channels = 2;
    s.image_h = s.image_w = 4;
    s.blocks = 2;
    s.layers_per_block = 2;
    s.units = 2;
    s.hidden = 3;
    s.f_act = MW_ACT_TANH;
    s.out_act = MW_ACT_LEAKY;
    s.batch = 3;
    s.classes = 3;
    s.init_scale = 1.0;
    mw_spec_complete(&s);
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    size_t N = (size_t)s.batch * (size_t)s.width;
    *theta = malloc(lay.total * sizeof **theta);
    *x = malloc(N * sizeof **x);
    *labels = malloc((size_t)s.batch * sizeof **labels);
    ck_assert(*theta && *x && *labels);
    uint64_t st = seed;
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        for (size_t i = 0; i < p->count; i++) {
            double u = uniform_pm1(&st), v = p->kind == MW_PARAM_GAMMA ? 1.0 + 0.2 * u
                                             : p->kind == MW_PARAM_BETA ? 0.2 * u
                                                                        : u / sqrt(p->fan_in);
            (*theta)[p->offset + i] = (float)v;
        }
    }
    for (size_t i = 0; i < N; i++)
        (*x)[i] = (float)uniform_pm1(&st);
    for (int b = 0; b < s.batch; b++)
        (*labels)[b] = b % s.classes;
    mw_layout_free(&lay);
    return s;
}

/* (J(v + h) − J(v − h)) / 2h with v the value at *v and h = 2^-100: at 256 bits v ± h is
 * exact, truncation is O(h²) ≈ 1e-60 and rounding O(2^-256 / h) ≈ 1e-47. Recomputes from
 * `from` on and leaves v and the stored forward pass as they were. */
static void central_difference(mw_ref *r, mpfr_ptr v, int from, mpfr_t fd)
{
    char msg[256];
    mpfr_t keep, jm;
    mpfr_inits2(mw_ref_bits(r), keep, jm, (mpfr_ptr)0);
    mpfr_set(keep, v, MPFR_RNDN);
    mpfr_sub_d(v, keep, 0x1p-100, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    mpfr_set(jm, mw_ref_loss(r), MPFR_RNDN);
    mpfr_add_d(v, keep, 0x1p-100, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    mpfr_sub(fd, mw_ref_loss(r), jm, MPFR_RNDN);
    mpfr_mul_2si(fd, fd, 99, MPFR_RNDN);
    mpfr_set(v, keep, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    mpfr_clears(keep, jm, (mpfr_ptr)0);
}

/* |fd − g| <= 1e-35 · scale, scale the largest |g| of the tensor (> 0). */
static void check_fd(const char *what, size_t i, mpfr_srcptr fd, mpfr_srcptr g, mpfr_srcptr scale,
                     uint64_t seed)
{
    mpfr_t d;
    mpfr_init2(d, mpfr_get_prec(g));
    mpfr_sub(d, fd, g, MPFR_RNDN);
    mpfr_abs(d, d, MPFR_RNDN);
    mpfr_div(d, d, scale, MPFR_RNDN);
    char gs[64], fs[64];
    mpfr_snprintf(gs, sizeof gs, "%.20Re", g);
    mpfr_snprintf(fs, sizeof fs, "%.20Re", fd);
    ck_assert_msg(mpfr_cmp_d(d, 1e-35) <= 0,
                  "%s[%zu]: reverse mode %s, central difference %s, |diff|/scale %.3e (seed %llu)",
                  what, i, gs, fs, mpfr_get_d(d, MPFR_RNDN), (unsigned long long)seed);
    mpfr_clear(d);
}

START_TEST(revnet_finite_differences)
{
    double *theta, *x;
    int *labels;
    uint64_t seed = tu_seed();
    mw_spec s = fd_revnet(&theta, &x, &labels, seed);
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    mw_ref *r;
    char msg[256];
    ck_assert_msg(mw_ref_new(&s, 256, &r, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(mw_ref_set_params(r, theta, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_batch(r, x, labels, msg, sizeof msg) == 0);
    ck_assert_msg(mw_ref_gradient(r, msg, sizeof msg) == 0, "%s", msg);
    mpfr_t fd, scale;
    mpfr_inits2(256, fd, scale, (mpfr_ptr)0);
    /* two coordinates of every tensor: conv W, c, γ, β of each unit of each layer (both
     * sides of ψ) and the head */
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        mpfr_set_zero(scale, 1);
        for (size_t i = 0; i < p->count; i++)
            if (mpfr_cmpabs(mw_ref_grad(r, p->offset + i), scale) > 0)
                mpfr_abs(scale, mw_ref_grad(r, p->offset + i), MPFR_RNDN);
        ck_assert_msg(mpfr_sgn(scale) > 0, "%s: gradient is zero", p->name);
        size_t at[2] = {p->count / 3, p->count - 1};
        for (int q = 0; q < 2; q++) {
            size_t j = p->offset + at[q];
            central_difference(r, mw_ref_param(r, j), p->layer ? p->layer : s.depth + 1, fd);
            check_fd(p->name, at[q], fd, mw_ref_grad(r, j), scale, seed);
        }
    }
    /* the input: through both blocks, ψ and the pool */
    size_t N = (size_t)s.batch * (size_t)s.width;
    mpfr_set_zero(scale, 1);
    for (size_t i = 0; i < N; i++)
        if (mpfr_cmpabs(mw_ref_input_grad(r, i), scale) > 0)
            mpfr_abs(scale, mw_ref_input_grad(r, i), MPFR_RNDN);
    ck_assert(mpfr_sgn(scale) > 0);
    size_t at[4] = {0, 5, N / 2 + 3, N - 1};
    for (int q = 0; q < 4; q++) {
        central_difference(r, mw_ref_input(r, at[q]), 1, fd);
        check_fd("input", at[q], fd, mw_ref_input_grad(r, at[q]), scale, seed);
    }
    mpfr_clears(fd, scale, (mpfr_ptr)0);
    mw_ref_free(r);
    mw_layout_free(&lay);
    free(theta), free(x), free(labels);
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
    x[7] = NAN;
    labels[3] = 0;
    ck_assert(mw_ref_set_batch(r, x, labels, msg, sizeof msg) != 0 && strstr(msg, "input 7"));
    ck_assert(mw_ref_forward_from(r, 0, msg, sizeof msg) != 0 && strstr(msg, "layer 0"));
    ck_assert(mw_ref_forward_from(r, 4, msg, sizeof msg) != 0 && strstr(msg, "layer 4"));
    mw_ref_free(r);

    /* revnet: a spec that ψ cannot halve, one not completed, odd channels */
    mw_spec v = mw_spec_revnet_default();
    v.image_h = v.image_w = 6;
    mw_spec_complete(&v);
    ck_assert(mw_ref_new(&v, 128, &r, msg, sizeof msg) != 0 && strstr(msg, "image 6x6"));
    ck_assert(r == NULL);
    v = mw_spec_revnet_default();
    v.channels = 8; /* width and depth left as for 4 channels */
    ck_assert(mw_ref_new(&v, 128, &r, msg, sizeof msg) != 0 && strstr(msg, "mw_spec_complete"));
    v.channels = 3;
    mw_spec_complete(&v);
    ck_assert(mw_ref_new(&v, 128, &r, msg, sizeof msg) != 0 && strstr(msg, "channels 3"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, golden_cases, 0, 11);
    tcase_add_test(tc, revnet_finite_differences);
    tcase_add_test(tc, agrees_with_f64_engine);
    tcase_add_test(tc, bad_input_refused);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
