/* Tests of reference/: the MPFR implementation reproduces the 60-digit golden cases (mlp
 * and revnet) to 1e-25 of each tensor (tests/golden/README.md), agrees with its own
 * central differences on revnet shapes the golden cases lack and on the affine coupling
 * (which no golden case has), its body-only vjp agrees with central differences of
 * <h_L, x_L>, the affine coupling with a zero log-scale is the additive one, the layer
 * type table finds both types, it agrees with the float64 engine to 1e-13, and it refuses
 * bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpfi.h>

#include "mw_ireference.h"
#include "mw_ref_layers.h"
#include "mw_reference.h"
#include "datasets.h"
#include "oracles.h"
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

/* Parameters drawn like the golden generator's (W, c in ±1/√fan_in, γ = 1 ± 0.2,
 * β ± 0.2), inputs in ±1, all rounded to float; labels b mod classes. */
static void seeded_data(const mw_spec *s, double **theta, double **x, int **labels, uint64_t seed)
{
    mw_layout lay;
    ck_assert(mw_layout_build(s, &lay) == 0);
    size_t N = (size_t)s->batch * (size_t)s->width;
    *theta = malloc(lay.total * sizeof **theta);
    *x = malloc(N * sizeof **x);
    *labels = malloc((size_t)s->batch * sizeof **labels);
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
    for (int b = 0; b < s->batch; b++)
        (*labels)[b] = b % s->classes;
    mw_layout_free(&lay);
}

/* A revnet with the shapes no golden case has: k = 2 units with hidden 3 != C/2, two
 * layers per block (so ψ sits inside the body between layers 2 and 3, and layer 4's
 * parity follows layer 3's), tanh in F, leaky σ. */
static mw_spec fd_revnet(void)
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
    return s;
}

/* The affine couplings of the finite-difference tests: an mlp (width 8, hidden 6, k = 2,
 * tanh F, leaky σ, BN, 3 layers) and a revnet (4 channels of 4x4, 2 blocks of 2, k = 1,
 * ReLU F, tanh σ, BN). */
static mw_spec affine_mlp(int depth)
{
    mw_spec s = tu_small_spec(depth, MW_ACT_TANH, MW_ACT_LEAKY, 1, 1);
    s.coupling = MW_COUPLING_AFFINE;
    return s;
}

static mw_spec affine_revnet(void)
{
    mw_spec s = tu_small_revnet(2, MW_ACT_RELU, MW_ACT_TANH, 1, 0, 1);
    s.coupling = MW_COUPLING_AFFINE;
    return s;
}

/* A network of this spec at 256 bits with seeded data, after a forward pass. */
static mw_ref *seeded_ref(const mw_spec *s, uint64_t seed)
{
    double *theta, *x;
    int *labels;
    seeded_data(s, &theta, &x, &labels, seed);
    mw_ref *r;
    char msg[256];
    ck_assert_msg(mw_ref_new(s, 256, &r, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(mw_ref_set_params(r, theta, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_batch(r, x, labels, msg, sizeof msg) == 0);
    ck_assert_msg(mw_ref_forward(r, msg, sizeof msg) == 0, "%s", msg);
    free(theta), free(x), free(labels);
    return r;
}

/* The objective of the finite differences: the loss, or <h_L, x_L> when h_L is given. */
static void objective(mw_ref *r, const mw_spec *s, const double *h_L, mpfr_t out)
{
    if (!h_L) {
        mpfr_set(out, mw_ref_loss(r), MPFR_RNDN);
        return;
    }
    mpfr_t t;
    mpfr_init2(t, mpfr_get_prec(out));
    mpfr_set_zero(out, 1);
    for (size_t i = 0; i < (size_t)s->batch * (size_t)s->width; i++) {
        mpfr_mul_d(t, mw_ref_activation(r, s->depth, i), h_L[i], MPFR_RNDN);
        mpfr_add(out, out, t, MPFR_RNDN);
    }
    mpfr_clear(t);
}

/* (J(v + h) − J(v − h)) / 2h with v the value at *v and h = 2^-100: at 256 bits v ± h is
 * exact, truncation is O(h²) ≈ 1e-60 and rounding O(2^-256 / h) ≈ 1e-47. J is the
 * objective above. Recomputes from `from` on and leaves v and the stored forward pass as
 * they were. */
static void central_difference(mw_ref *r, const mw_spec *s, const double *h_L, mpfr_ptr v,
                               int from, mpfr_t fd)
{
    char msg[256];
    mpfr_t keep, jm;
    mpfr_inits2(mw_ref_bits(r), keep, jm, (mpfr_ptr)0);
    mpfr_set(keep, v, MPFR_RNDN);
    mpfr_sub_d(v, keep, 0x1p-100, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    objective(r, s, h_L, jm);
    mpfr_add_d(v, keep, 0x1p-100, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    objective(r, s, h_L, fd);
    mpfr_sub(fd, fd, jm, MPFR_RNDN);
    mpfr_mul_2si(fd, fd, 99, MPFR_RNDN);
    mpfr_set(v, keep, MPFR_RNDN);
    ck_assert_msg(mw_ref_forward_from(r, from, msg, sizeof msg) == 0, "%s", msg);
    mpfr_clears(keep, jm, (mpfr_ptr)0);
}

/* |fd − g| <= 1e-35 · scale, scale the largest |g| of the tensor (> 0); returns
 * |fd − g| / scale. */
static double check_fd(const char *what, size_t i, mpfr_srcptr fd, mpfr_srcptr g, mpfr_srcptr scale,
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
    double ratio = mpfr_get_d(d, MPFR_RNDN);
    mpfr_clear(d);
    return ratio;
}

static mpfr_srcptr largest(mpfr_srcptr (*get)(const mw_ref *, size_t), const mw_ref *r,
                           size_t first, size_t n, mpfr_ptr scale)
{
    mpfr_set_zero(scale, 1);
    for (size_t i = 0; i < n; i++)
        if (mpfr_cmpabs(get(r, first + i), scale) > 0)
            mpfr_abs(scale, get(r, first + i), MPFR_RNDN);
    return scale;
}

/* Reverse mode (mw_ref_gradient, or mw_ref_vjp_body from h_L) against central differences
 * of the loss (or of <h_L, x_L>) at two coordinates of every tensor and four of the input.
 * With h_L the head's gradient must be exactly 0. Returns the worst |fd − g| / scale. */
static double fd_every_tensor(const mw_spec *s, const double *h_L, uint64_t seed)
{
    mw_ref *r = seeded_ref(s, seed);
    char msg[256];
    if (h_L)
        ck_assert_msg(mw_ref_vjp_body(r, h_L, msg, sizeof msg) == 0, "%s", msg);
    else
        ck_assert_msg(mw_ref_gradient(r, msg, sizeof msg) == 0, "%s", msg);
    mw_layout lay;
    ck_assert(mw_layout_build(s, &lay) == 0);
    mpfr_t fd, scale;
    mpfr_inits2(256, fd, scale, (mpfr_ptr)0);
    double worst = 0.0;
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        largest(get_grad, r, p->offset, p->count, scale);
        if (h_L && p->layer == 0) { /* the head is outside the body */
            ck_assert_msg(mpfr_zero_p(scale), "%s: vjp of the body has a head gradient", p->name);
            continue;
        }
        ck_assert_msg(mpfr_sgn(scale) > 0, "%s: gradient is zero", p->name);
        size_t at[2] = {p->count / 3, p->count - 1};
        for (int q = 0; q < 2; q++) {
            size_t j = p->offset + at[q];
            central_difference(r, s, h_L, mw_ref_param(r, j), p->layer ? p->layer : s->depth + 1,
                               fd);
            worst = fmax(worst, check_fd(p->name, at[q], fd, mw_ref_grad(r, j), scale, seed));
        }
    }
    size_t N = (size_t)s->batch * (size_t)s->width;
    largest(get_input_grad, r, 0, N, scale);
    ck_assert(mpfr_sgn(scale) > 0);
    size_t at[4] = {0, 5, N / 2 + 3, N - 1};
    for (int q = 0; q < 4; q++) {
        central_difference(r, s, h_L, mw_ref_input(r, at[q]), 1, fd);
        worst = fmax(worst, check_fd("input", at[q], fd, mw_ref_input_grad(r, at[q]), scale, seed));
    }
    mpfr_clears(fd, scale, (mpfr_ptr)0);
    mw_ref_free(r);
    mw_layout_free(&lay);
    return worst;
}

/* conv W, c, γ, β of each unit of each layer (both sides of ψ), the head and the input */
START_TEST(revnet_finite_differences)
{
    mw_spec s = fd_revnet();
    fd_every_tensor(&s, NULL, tu_seed());
}
END_TEST

/* The affine coupling, which no golden case covers: W, c, γ, β of both units (the last
 * one twice as wide: log-scale and shift), the head and the input; mlp and revnet. */
START_TEST(affine_finite_differences)
{
    mw_spec m = affine_mlp(3), v = affine_revnet();
    fd_every_tensor(&m, NULL, tu_seed());
    fd_every_tensor(&v, NULL, tu_seed() + 1);
}
END_TEST

/* mw_ref_vjp_body from a seeded cotangent h_L in ±1 against central differences of
 * <h_L, x_L(θ, x)>: one layer (a layer's vjp, as the engine's checks use it) and a revnet
 * body through ψ, additive and affine. */
START_TEST(vjp_body_finite_differences)
{
    for (int c = 0; c < 2; c++) {
        mw_spec sp[2] = {affine_mlp(1), affine_revnet()};
        for (int a = 0; a < 2; a++) {
            mw_spec *s = &sp[a];
            s->coupling = c ? MW_COUPLING_AFFINE : MW_COUPLING_ADDITIVE;
            uint64_t seed = tu_seed() + (uint64_t)(2 * c + a), st = seed ^ 0x5a5a5a5au;
            size_t N = (size_t)s->batch * (size_t)s->width;
            double *h_L = malloc(N * sizeof *h_L);
            ck_assert(h_L);
            for (size_t i = 0; i < N; i++)
                h_L[i] = uniform_pm1(&st);
            fd_every_tensor(s, h_L, seed);
            free(h_L);
        }
    }
}
END_TEST

/* vjp_body refuses to run without a forward pass of the current values. */
START_TEST(vjp_body_needs_forward)
{
    mw_spec s = affine_mlp(2);
    mw_ref *r = seeded_ref(&s, tu_seed());
    char msg[256];
    double *h_L = calloc((size_t)s.batch * (size_t)s.width, sizeof *h_L);
    ck_assert(h_L);
    mpfr_mul_2si(mw_ref_param(r, 0), mw_ref_param(r, 0), 1, MPFR_RNDN);
    ck_assert(mw_ref_vjp_body(r, h_L, msg, sizeof msg) != 0 && strstr(msg, "forward"));
    ck_assert_msg(mw_ref_forward(r, msg, sizeof msg) == 0, "%s", msg);
    h_L[3] = INFINITY;
    ck_assert(mw_ref_vjp_body(r, h_L, msg, sizeof msg) != 0 && strstr(msg, "cotangent 3"));
    h_L[3] = 0.5;
    ck_assert_msg(mw_ref_vjp_body(r, h_L, msg, sizeof msg) == 0, "%s", msg);
    free(h_L);
    mw_ref_free(r);
}
END_TEST

/* The affine coupling with a zero log-scale (F's last unit's first half of W, c and β
 * zero, so r = 0, s = tanh 0 = 0, exp(s) = 1) is the additive coupling whose F is the
 * shift half: the same loss and, entry by entry, the same gradients, exactly (every
 * extra operation is exact). This pins the order r first, t second. */
static void zero_scale_is_additive(mw_spec add)
{
    mw_spec aff = add;
    aff.coupling = MW_COUPLING_AFFINE;
    mw_layout la, lf;
    ck_assert(mw_layout_build(&add, &la) == 0 && mw_layout_build(&aff, &lf) == 0);
    ck_assert(la.n_params == lf.n_params);
    double *ta, *x, *tf = calloc(lf.total, sizeof *tf);
    int *labels;
    seeded_data(&add, &ta, &x, &labels, tu_seed());
    ck_assert(tf);
    /* where additive entry i of tensor t sits in the affine layout: the shift half comes
     * after the log-scale half, whose rows have the same length */
    size_t *where = malloc(la.total * sizeof *where);
    ck_assert(where);
    for (int t = 0; t < la.n_params; t++) {
        const mw_param_info *pa = &la.params[t], *pf = &lf.params[t];
        int last = pa->layer > 0 && pa->unit == add.units;
        ck_assert(pf->count == (last ? 2 : 1) * pa->count);
        for (size_t i = 0; i < pa->count; i++) {
            where[pa->offset + i] = pf->offset + (last ? pa->count : 0) + i;
            tf[where[pa->offset + i]] = ta[pa->offset + i];
            if (last) /* the log-scale half: zero, but γ (which multiplies x̂ = 0) */
                tf[pf->offset + i] = pa->kind == MW_PARAM_GAMMA ? 1.25 : 0.0;
        }
    }
    mw_ref *ra, *rf;
    char msg[256];
    ck_assert(mw_ref_new(&add, 256, &ra, msg, sizeof msg) == 0);
    ck_assert(mw_ref_new(&aff, 256, &rf, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_params(ra, ta, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_params(rf, tf, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_batch(ra, x, labels, msg, sizeof msg) == 0);
    ck_assert(mw_ref_set_batch(rf, x, labels, msg, sizeof msg) == 0);
    ck_assert_msg(mw_ref_gradient(ra, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(mw_ref_gradient(rf, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(mpfr_equal_p(mw_ref_loss(ra), mw_ref_loss(rf)));
    for (size_t j = 0; j < la.total; j++)
        ck_assert_msg(mpfr_equal_p(mw_ref_grad(ra, j), mw_ref_grad(rf, where[j])),
                      "%s: gradient %zu (affine %zu) differs: %.17g vs %.17g", mw_arch_name(add.arch),
                      j, where[j], mpfr_get_d(mw_ref_grad(ra, j), MPFR_RNDN),
                      mpfr_get_d(mw_ref_grad(rf, where[j]), MPFR_RNDN));
    for (size_t i = 0; i < (size_t)add.batch * (size_t)add.width; i++)
        ck_assert(mpfr_equal_p(mw_ref_input_grad(ra, i), mw_ref_input_grad(rf, i)));
    mw_ref_free(ra), mw_ref_free(rf);
    mw_layout_free(&la), mw_layout_free(&lf);
    free(ta), free(tf), free(x), free(labels), free(where);
}

START_TEST(affine_zero_scale_is_additive)
{
    zero_scale_is_additive(tu_small_spec(3, MW_ACT_TANH, MW_ACT_LEAKY, 0, 1));
    zero_scale_is_additive(tu_small_revnet(2, MW_ACT_RELU, MW_ACT_TANH, 1, 0, 1));
}
END_TEST

/* The layer type table has a type for every coupling of mw_spec.h, by mw_coupling_name. */
START_TEST(layer_types_registered)
{
    const mw_ref_layer_type *table;
    size_t n = mw_ref_layer_types(&table);
    ck_assert_uint_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert(table[i].name && table[i].forward && table[i].reverse);
    mw_coupling all[] = {MW_COUPLING_ADDITIVE, MW_COUPLING_AFFINE, MW_COUPLING_PLUGIN};
    for (int c = 0; c < 3; c++) {
        const mw_ref_layer_type *t = mw_ref_layer_type_find(mw_coupling_name(all[c]));
        ck_assert_msg(t != NULL, "no reference layer type %s", mw_coupling_name(all[c]));
        ck_assert_str_eq(t->name, mw_coupling_name(all[c]));
    }
    ck_assert_ptr_null(mw_ref_layer_type_find("multiplicative"));
    ck_assert_ptr_null(mw_ref_layer_type_find(""));
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

/* |e| <= k · 2^-p: a relative error within k units of the last place at p bits (k = 2^i). */
static int within_ulps(mpfr_srcptr e, unsigned long k, long p)
{
    mpfr_t a;
    mpfr_init2(a, mpfr_get_prec(e));
    mpfr_abs(a, e, MPFR_RNDN);
    int ok = mpfr_cmp_ui_2exp(a, k, -p) <= 0;
    mpfr_clear(a);
    return ok;
}

/* The reference's tanh from one exponential is within 4 ulps of the correctly rounded tanh
 * and sech² (mpfr_tanh, mpfr_sech squared at 64 bits more), keeps tanh odd (the sign of
 * zero too), and hands over to MPFR's own functions past 2^20 without raising the
 * overflow flag that fails a reference pass. Arguments from 2^-60 to 2^24, both signs,
 * at 256 bits and at 53. */
START_TEST(tanh_one_exponential)
{
    static const long precs[] = {256, 53};
    for (int q = 0; q < 2; q++) {
        const long p = precs[q];
        mpfr_t z, y, d, ta, tb, want, e;
        mpfr_inits2(p, z, y, d, ta, tb, (mpfr_ptr)0);
        mpfr_inits2(p + 64, want, e, (mpfr_ptr)0);
        uint64_t u = tu_seed();
        int n = 0;
        for (int k = 0; k < 2000; k++, n++) {
            u = mw_splitmix64(u);
            /* |z| = m 2^x, m in [1, 2), x in -60..24; every other one negative */
            const double m = 1.0 + (double)(u >> 11) * 0x1p-53;
            mpfr_set_d(z, k % 2 ? -m : m, MPFR_RNDN);
            mpfr_mul_2si(z, z, (long)(u % 85) - 60, MPFR_RNDN);
            if (k < 4) /* the edges: the hand-over point and just inside it */
                mpfr_set_si_2exp(z, k % 2 ? -1 : 1, 20, MPFR_RNDN),
                    k >= 2 ? mpfr_nextbelow(z) : (void)0;
            mpfr_clear_flags();
            mw_ref_tanh_sech2(y, d, z, ta, tb);
            ck_assert_msg(!mpfr_overflow_p() && !mpfr_nanflag_p(), "flags raised at z = %.6e",
                          mpfr_get_d(z, MPFR_RNDN));
            mpfr_tanh(want, z, MPFR_RNDN);
            mpfr_sub(e, y, want, MPFR_RNDN);
            mpfr_div(e, e, want, MPFR_RNDN);
            ck_assert_msg(within_ulps(e, 4, p),
                          "%ld bits: tanh(%.17g) off by %.3g ulps", p, mpfr_get_d(z, MPFR_RNDN),
                          mpfr_get_d(e, MPFR_RNDN) * ldexp(1.0, (int)p));
            mpfr_sech(want, z, MPFR_RNDN);
            mpfr_sqr(want, want, MPFR_RNDN);
            if (mpfr_zero_p(want)) /* sech² below MPFR's range: zero both ways */
                ck_assert(mpfr_zero_p(d));
            else {
                mpfr_sub(e, d, want, MPFR_RNDN);
                mpfr_div(e, e, want, MPFR_RNDN);
                ck_assert_msg(within_ulps(e, 4, p),
                              "%ld bits: sech²(%.17g) off by %.3g ulps", p,
                              mpfr_get_d(z, MPFR_RNDN),
                              mpfr_get_d(e, MPFR_RNDN) * ldexp(1.0, (int)p));
            }
        }
        /* odd, zero's sign kept; the derivative at 0 is 1 exactly */
        mpfr_set_zero(z, -1);
        mw_ref_tanh_sech2(y, d, z, ta, tb);
        ck_assert(mpfr_zero_p(y) && mpfr_signbit(y) && mpfr_cmp_ui(d, 1) == 0);
        /* far out: ±1 and a derivative that underflows to zero, no overflow flag */
        mpfr_set_si_2exp(z, -3, 400, MPFR_RNDN);
        mpfr_clear_flags();
        mw_ref_tanh_sech2(y, d, z, ta, tb);
        ck_assert(mpfr_cmp_si(y, -1) == 0 && mpfr_zero_p(d) && !mpfr_overflow_p());
        /* no derivative asked: y alone */
        mpfr_set_d(z, 0.5, MPFR_RNDN);
        mw_ref_tanh_sech2(y, NULL, z, ta, tb);
        mpfr_tanh(want, z, MPFR_RNDN);
        mpfr_sub(e, y, want, MPFR_RNDN);
        mpfr_div(e, e, want, MPFR_RNDN);
        ck_assert(within_ulps(e, 4, p));
        ck_assert(n == 2000);
        mpfr_clears(z, y, d, ta, tb, want, e, (mpfr_ptr)0);
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

/* ---- the interval reference (mw_ireference.h) ---- */

/* The seeded parameters and synthetic batch of spec s, as the suites make them. */
static size_t host_case(const mw_spec *s, double **theta, double **x, int **labels)
{
    mw_layout lay;
    ck_assert(mw_layout_build(s, &lay) == 0);
    const size_t P = lay.total;
    *theta = malloc(P * sizeof **theta);
    *x = malloc((size_t)s->batch * (size_t)s->width * sizeof **x);
    *labels = malloc((size_t)s->batch * sizeof **labels);
    ck_assert(*theta && *x && *labels);
    mw_init_params(s, &lay, *theta);
    mw_synth data = mw_synth_default(s->width, s->classes, s->seed);
    mw_synth_batch(&data, 0, s->batch, *x, *labels);
    mw_layout_free(&lay);
    return P;
}

/* An interval reference of the golden case at `bits` with its gradient. */
static mw_iref *iref_of(const tu_golden *gc, mpfr_prec_t bits)
{
    mw_iref *r;
    char msg[256];
    ck_assert_msg(mw_iref_new(&gc->spec, bits, &r, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(mw_iref_set_params(r, gc->theta, msg, sizeof msg) == 0);
    ck_assert(mw_iref_set_batch(r, gc->x, gc->labels, msg, sizeof msg) == 0);
    ck_assert_msg(mw_iref_gradient(r, msg, sizeof msg) == 0, "%s", msg);
    return r;
}

/* Does the interval meet [g - δ, g + δ], g the 30-digit decimal and δ = 5e-30 |g| (what
 * its rounding may be: tests/golden/README.md)? */
static int meets_decimal(mpfi_srcptr iv, const char *text)
{
    mpfr_t g, d;
    mpfi_t gi;
    mpfr_inits2(400, g, d, (mpfr_ptr)0);
    mpfi_init2(gi, 400);
    ck_assert(mpfr_set_str(g, text, 10, MPFR_RNDN) == 0);
    mpfr_abs(d, g, MPFR_RNDU);
    mpfr_mul_d(d, d, 5e-30, MPFR_RNDU);
    mpfr_sub(g, g, d, MPFR_RNDD);
    mpfr_mul_2ui(d, d, 1, MPFR_RNDU);
    mpfr_add(d, g, d, MPFR_RNDU);
    mpfi_interv_fr(gi, g, d);
    mpfi_intersect(gi, gi, iv);
    const int meets = !mpfi_is_empty(gi);
    mpfi_clear(gi);
    mpfr_clears(g, d, (mpfr_ptr)0);
    return meets;
}

/* Every golden value — loss, gradient and input gradient — lies in its enclosure at 256
 * bits (within the 30 digits it is written to), and the enclosures are far narrower than
 * those digits: at least 150 bits proved of every entry above 2^-128 of its tensor's
 * scale. No golden network sits on a kink. */
START_TEST(interval_encloses_golden)
{
    static const char *cases[] = {"mlp-01", "mlp-02", "mlp-03", "mlp-04",    "mlp-05",   "mlp-06",
                                  "mlp-07", "mlp-08", "mlp-09", "revnet-01", "revnet-02"};
    tu_golden gc;
    tu_golden_load(&gc, cases[_i]);
    mw_iref *r = iref_of(&gc, 256);
    ck_assert_int_eq(mw_iref_kinks(r, NULL, NULL), 0);
    ck_assert_msg(meets_decimal(mw_iref_loss(r), gc.loss_text), "%s: loss", gc.name);
    mpfr_t w, m;
    mpfr_inits2(256, w, m, (mpfr_ptr)0);
    for (size_t j = 0; j < gc.P; j++) {
        ck_assert_msg(meets_decimal(mw_iref_grad(r, j), gc.grad_text[j]), "%s: gradient %zu = %s "
                      "outside its enclosure", gc.name, j, gc.grad_text[j]);
        mpfi_diam_abs(w, mw_iref_grad(r, j));
        mpfi_mid(m, mw_iref_grad(r, j));
        mpfr_abs(m, m, MPFR_RNDN);
        mpfr_mul_2si(m, m, -150, MPFR_RNDN);
        ck_assert_msg(mpfr_lessequal_p(w, m) || fabs(gc.grad[j]) < 1e-38, "%s: gradient %zu: "
                      "enclosure %.3e wide", gc.name, j, mpfr_get_d(w, MPFR_RNDN));
    }
    for (size_t i = 0; i < gc.N; i++)
        ck_assert_msg(meets_decimal(mw_iref_input_grad(r, i), gc.input_grad_text[i]),
                      "%s: input gradient %zu outside its enclosure", gc.name, i);
    mpfr_clears(w, m, (mpfr_ptr)0);
    mw_iref_free(r);
    tu_golden_free(&gc);
}
END_TEST

/* Gold's value (its p + 64 = 320-bit run, p = 256) lies in the enclosure computed at 320
 * bits, and gold's value moved by one ulp at 256 bits does not, on every entry: the
 * enclosures are narrow enough to catch an error in the MPFR reference's last bit. On a
 * tanh mlp, a revnet with BN and an affine mlp. */
START_TEST(interval_holds_gold_and_not_an_ulp_more)
{
    mw_spec specs[3];
    specs[0] = tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    specs[1] = tu_small_revnet(1, MW_ACT_RELU, MW_ACT_IDENTITY, 1, 0, tu_seed());
    specs[2] = tu_small_spec(2, MW_ACT_LEAKY, MW_ACT_LEAKY, 0, tu_seed() + 1);
    specs[2].coupling = MW_COUPLING_AFFINE;
    for (int k = 0; k < 3; k++) {
        double *theta, *x;
        int *labels;
        const size_t P = host_case(&specs[k], &theta, &x, &labels);
        mw_iref *r;
        char msg[256];
        ck_assert(mw_iref_new(&specs[k], 320, &r, msg, sizeof msg) == 0);
        ck_assert(mw_iref_set_params(r, theta, msg, sizeof msg) == 0);
        ck_assert(mw_iref_set_batch(r, x, labels, msg, sizeof msg) == 0);
        ck_assert_msg(mw_iref_gradient(r, msg, sizeof msg) == 0, "%s", msg);
        mpfr_t v;
        mpfr_init2(v, 320);
        /* gold's value is its p + 64 = 320-bit run (gold keeps it as a double-double):
         * the same run */
        mw_ref *m;
        ck_assert(mw_ref_new(&specs[k], 320, &m, msg, sizeof msg) == 0);
        ck_assert(mw_ref_set_params(m, theta, msg, sizeof msg) == 0);
        ck_assert(mw_ref_set_batch(m, x, labels, msg, sizeof msg) == 0);
        ck_assert(mw_ref_gradient(m, msg, sizeof msg) == 0);
        size_t moved_out = 0, checked = 0;
        for (size_t j = 0; j < P; j++) {
            mpfr_srcptr g = mw_ref_grad(m, j);
            ck_assert_msg(mpfi_is_inside_fr(g, mw_iref_grad(r, j)), "spec %d: gold's entry %zu "
                          "(%.17g) outside its enclosure", k, j, mpfr_get_d(g, MPFR_RNDN));
            if (mpfr_zero_p(g) || fabs(mpfr_get_d(g, MPFR_RNDN)) < 1e-30)
                continue; /* a zero has no ulp to move by */
            /* one ulp at 256 bits: 2^(EXP(g) - 256) */
            mpfr_set_ui_2exp(v, 1, mpfr_get_exp(g) - 256, MPFR_RNDN);
            mpfr_add(v, g, v, MPFR_RNDN);
            checked++;
            moved_out += !mpfi_is_inside_fr(v, mw_iref_grad(r, j));
        }
        ck_assert_msg(checked > 0 && moved_out == checked, "spec %d: %zu of %zu entries moved by "
                      "one ulp at 256 bits stay inside their enclosure", k, checked - moved_out,
                      checked);
        mpfr_clear(v);
        mw_ref_free(m);
        mw_iref_free(r);
        free(theta), free(x), free(labels);
    }
}
END_TEST

/* A network built to sit on a ReLU kink — layer 2's first unit with W = 0 and c = 0, so
 * every pre-activation there is exactly 0 — is reported as one, at layer 2, unit 1, and the
 * entries behind it are left undetermined rather than given a number; moved off the kink
 * (c = 0.25), it has none and every entry is proved. */
START_TEST(kink_is_named)
{
    mw_spec s = tu_small_spec(3, MW_ACT_RELU, MW_ACT_IDENTITY, 0, tu_seed());
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    double *theta, *x;
    int *labels;
    host_case(&s, &theta, &x, &labels);
    const mw_param_info *W = NULL, *c = NULL;
    for (int i = 0; i < lay.n_params; i++) {
        if (strcmp(lay.params[i].name, "layer2.unit1.W") == 0)
            W = &lay.params[i];
        if (strcmp(lay.params[i].name, "layer2.unit1.c") == 0)
            c = &lay.params[i];
    }
    ck_assert(W && c);
    for (size_t k = 0; k < W->count; k++)
        theta[W->offset + k] = 0.0;
    for (int off = 0; off < 2; off++) {
        for (size_t k = 0; k < c->count; k++)
            theta[c->offset + k] = off ? 0.25 : 0.0;
        mw_proof p;
        mw_err err;
        ck_assert_msg(mw_proof_compute(&s, theta, x, labels, 256, &p, &err) == MW_OK, "%s",
                      err.msg);
        if (!off) {
            ck_assert_msg(p.kinks > 0 && p.kink_layer == 2 && p.kink_unit == 1,
                          "kinks %ld, first at layer %d unit %d", p.kinks, p.kink_layer,
                          p.kink_unit);
            ck_assert(p.undetermined > 0 && p.proved_bits < 1.0);
        } else {
            ck_assert_int_eq(p.kinks, 0);
            ck_assert_msg(p.undetermined == 0 && p.proved_bits >= 100, "%g bits",
                          p.proved_bits);
        }
        mw_proof_free(&p);
    }
    mw_layout_free(&lay);
    free(theta), free(x), free(labels);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reference");
    TCase *tc = tcase_create("reference");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, golden_cases, 0, 11);
    tcase_add_test(tc, revnet_finite_differences);
    tcase_add_test(tc, affine_finite_differences);
    tcase_add_test(tc, vjp_body_finite_differences);
    tcase_add_test(tc, vjp_body_needs_forward);
    tcase_add_test(tc, affine_zero_scale_is_additive);
    tcase_add_test(tc, layer_types_registered);
    tcase_add_test(tc, agrees_with_f64_engine);
    tcase_add_test(tc, tanh_one_exponential);
    tcase_add_test(tc, bad_input_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("interval");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, interval_encloses_golden, 0, 11);
    tcase_add_test(tc, interval_holds_gold_and_not_an_ulp_more);
    tcase_add_test(tc, kink_is_named);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
