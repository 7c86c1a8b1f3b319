/* Tests of engine/: the RNG, the tracked allocator, the backend kernels, the layer
 * identities (round trip, adjoint, vijp), the six methods against each other and
 * against finite differences, and the golden cases of tests/golden.
 *
 * Tolerances have the form atol + rtol·scale with rtol a multiple of the dtype's
 * epsilon, the multiple said where it is chosen. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "act_check.h"
#include "datasets.h"
#include "internal.h"
#include "net.h"
#include "philox.h"
#include "testutil.h"

static double eps_of(mw_dtype d)
{
    return d == MW_F32 ? (double)FLT_EPSILON : DBL_EPSILON;
}

static void fill_random(double *v, size_t n, uint64_t seed, uint64_t stream)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (double)(float)mw_philox_normal(seed, stream, i);
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double norm(const double *a, size_t n)
{
    return sqrt(dot(a, a, n));
}

/* ===================================================================== core */

START_TEST(philox_known_answers)
{
    /* Random123's kat_vectors, philox4x32 with 10 rounds. */
    static const uint32_t ctr[3][4] = {{0, 0, 0, 0},
                                       {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
                                       {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}};
    static const uint32_t key[3][2] = {
        {0, 0}, {0xffffffffu, 0xffffffffu}, {0xa4093822u, 0x299f31d0u}};
    static const uint32_t want[3][4] = {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
                                        {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
                                        {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}};
    for (int k = 0; k < 3; k++) {
        mw_philox_block b = mw_philox4x32_10(ctr[k], key[k]);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(b.v[i] == want[k][i], "vector %d word %d: got %08x, want %08x", k, i,
                          b.v[i], want[k][i]);
    }
}
END_TEST

START_TEST(philox_moments)
{
    /* 2^16 draws: the mean of U(0,1) has sd 1/sqrt(12·2^16) = 1.1e-3, of N(0,1) 3.9e-3;
     * the variance of N(0,1) has sd sqrt(2/2^16) = 5.5e-3. Bounds at 5 sd. */
    const size_t n = 1 << 16;
    uint64_t seed = tu_seed();
    double su = 0, sn = 0, sn2 = 0, umin = 1, umax = 0;
    for (size_t i = 0; i < n; i++) {
        double u = mw_philox_uniform(seed, 7, i), z = mw_philox_normal(seed, 8, i);
        su += u;
        sn += z;
        sn2 += z * z;
        umin = fmin(umin, u);
        umax = fmax(umax, u);
    }
    ck_assert_msg(umin >= 0.0 && umax < 1.0, "uniform outside [0,1): %g %g", umin, umax);
    ck_assert_msg(fabs(su / n - 0.5) < 5 * 1.13e-3, "uniform mean %g (seed %llu)", su / n,
                  (unsigned long long)seed);
    ck_assert_msg(fabs(sn / n) < 5 * 3.9e-3, "normal mean %g", sn / n);
    ck_assert_msg(fabs(sn2 / n - 1.0) < 5 * 5.5e-3, "normal variance %g", sn2 / n);
    /* counter based: any draw recomputed alone gives the same bits */
    ck_assert(mw_philox_normal(seed, 8, 12345) == mw_philox_normal(seed, 8, 12345));
    ck_assert(mw_philox_normal(seed, 8, 12345) != mw_philox_normal(seed, 9, 12345));
}
END_TEST

START_TEST(allocator_tracks_live_and_peak)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) == MW_OK);
    mw_tensor a, b;
    ck_assert(mw_tensor_alloc(ctx, 100, &a) == MW_OK);
    ck_assert(mw_tensor_alloc(ctx, 50, &b) == MW_OK);
    ck_assert_uint_eq(mw_ctx_live_bytes(ctx), 600);
    mw_tensor_free(ctx, &a);
    ck_assert_uint_eq(mw_ctx_live_bytes(ctx), 200);
    ck_assert_uint_eq(mw_ctx_peak_bytes(ctx), 600);
    mw_ctx_reset_peak(ctx);
    ck_assert_uint_eq(mw_ctx_peak_bytes(ctx), 200);
    mw_tensor_free(ctx, &b);
    mw_tensor_free(ctx, &b); /* freeing twice is harmless */
    ck_assert_uint_eq(mw_ctx_live_bytes(ctx), 0);
    /* an impossible size is an error with a message, not a crash */
    mw_tensor huge;
    ck_assert(mw_tensor_alloc(ctx, SIZE_MAX / 2, &huge) == MW_ERR_NOMEM);
    ck_assert(strlen(mw_ctx_message(ctx)) > 0);
    ck_assert_uint_eq(mw_ctx_live_bytes(ctx), 0);
    mw_ctx_free(ctx);
}
END_TEST

START_TEST(upload_rounds_to_dtype)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) == MW_OK);
    mw_tensor t;
    double in[2] = {0.1, 1.0 / 3.0}, out[2];
    ck_assert(mw_tensor_alloc(ctx, 2, &t) == MW_OK);
    ck_assert(mw_tensor_upload(ctx, &t, 0, in, 2) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &t, 0, out, 2) == MW_OK);
    ck_assert(out[0] == (double)0.1f && out[1] == (double)(float)(1.0 / 3.0));
    ck_assert(mw_tensor_upload(ctx, &t, 1, in, 2) == MW_ERR_ARG); /* out of range */
    mw_tensor_free(ctx, &t);
    mw_ctx_free(ctx);
}
END_TEST

/* ================================================================== kernels */

/* C = alpha op(A) op(B) + beta C, batched, against a double loop. Bound per element:
 * 2K eps (|alpha| Σ|a||b| + |beta c|), the standard dot-product error bound. */
static void check_gemm(mw_dtype dt, bool ta, bool tb)
{
    const size_t M = 5, N = 7, K = 6, count = 3, pad = 2;
    const size_t lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    const size_t sA = (ta ? K : M) * lda, sB = (tb ? N : K) * ldb, sC = M * ldc;
    const double alpha = 0.75, beta = -0.5;
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, dt, &ctx) == MW_OK);
    double *A = malloc(count * sA * sizeof *A), *B = malloc(count * sB * sizeof *B);
    double *C = malloc(count * sC * sizeof *C), *got = malloc(count * sC * sizeof *got);
    fill_random(A, count * sA, tu_seed(), 1);
    fill_random(B, count * sB, tu_seed(), 2);
    fill_random(C, count * sC, tu_seed(), 3);
    mw_tensor tA, tB, tC;
    ck_assert(mw_tensor_alloc(ctx, count * sA, &tA) == MW_OK);
    ck_assert(mw_tensor_alloc(ctx, count * sB, &tB) == MW_OK);
    ck_assert(mw_tensor_alloc(ctx, count * sC, &tC) == MW_OK);
    mw_tensor_upload(ctx, &tA, 0, A, count * sA);
    mw_tensor_upload(ctx, &tB, 0, B, count * sB);
    mw_tensor_upload(ctx, &tC, 0, C, count * sC);
    ck_assert(ctx->ops->gemm(ctx, ta, tb, M, N, K, alpha, tA.data, lda, (ptrdiff_t)sA, tB.data,
                             ldb, (ptrdiff_t)sB, beta, tC.data, ldc, (ptrdiff_t)sC,
                             count) == MW_OK);
    mw_tensor_download(ctx, &tC, 0, got, count * sC);
    for (size_t c = 0; c < count; c++)
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) {
                double s = 0, sabs = 0;
                for (size_t k = 0; k < K; k++) {
                    double a = ta ? A[c * sA + k * lda + i] : A[c * sA + i * lda + k];
                    double b = tb ? B[c * sB + j * ldb + k] : B[c * sB + k * ldb + j];
                    s += a * b;
                    sabs += fabs(a * b);
                }
                double cij = C[c * sC + i * ldc + j], want = alpha * s + beta * cij;
                double tol = 2.0 * K * eps_of(dt) * (fabs(alpha) * sabs + fabs(beta * cij));
                ck_assert_msg(fabs(got[c * sC + i * ldc + j] - want) <= tol,
                              "%s gemm ta=%d tb=%d batch %zu (%zu,%zu): got %.17g want %.17g",
                              mw_dtype_name(dt), ta, tb, c, i, j, got[c * sC + i * ldc + j], want);
            }
    /* the padding columns of C are untouched */
    ck_assert(got[N] == (double)(dt == MW_F32 ? (float)C[N] : C[N]));
    mw_tensor_free(ctx, &tA);
    mw_tensor_free(ctx, &tB);
    mw_tensor_free(ctx, &tC);
    free(A), free(B), free(C), free(got);
    mw_ctx_free(ctx);
}

START_TEST(gemm_matches_loops)
{
    for (int dt = 0; dt < 2; dt++)
        for (int t = 0; t < 4; t++)
            check_gemm((mw_dtype)dt, t & 1, t >> 1);
}
END_TEST

START_TEST(gemm_refuses_bad_sizes)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
    double a[4] = {0}, c[4] = {0};
    /* lda smaller than the row: caught before CBLAS would print */
    ck_assert(ctx->ops->gemm(ctx, false, false, 2, 2, 2, 1.0, a, 1, 0, a, 2, 0, 0.0, c, 2, 0, 1) ==
              MW_ERR_ARG);
    ck_assert(strstr(mw_ctx_message(ctx), "gemm") != NULL);
    mw_ctx_free(ctx);
}
END_TEST

/* Elementwise activations, from the definitions of docs/architecture.md §2, in both dtypes. */
START_TEST(activation_kernels)
{
    const mw_act acts[3] = {MW_ACT_TANH, MW_ACT_LEAKY, MW_ACT_IDENTITY};
    const double slope = 0.1;
    const size_t n = 41;
    double z[41], b[41], out[41], back[41];
    for (size_t i = 0; i < n; i++) {
        z[i] = (double)(float)(-4.0 + 0.2 * (double)i); /* includes 0 exactly */
        b[i] = (double)(float)(0.5 + 0.01 * (double)i);
    }
    for (int dt = 0; dt < 2; dt++) {
        mw_ctx *ctx;
        ck_assert(mw_ctx_new(MW_BACKEND_CPU, (mw_dtype)dt, &ctx) == MW_OK);
        const double eps = eps_of((mw_dtype)dt);
        mw_tensor tz, tb, to, tr;
        ck_assert(mw_tensor_alloc(ctx, n, &tz) == MW_OK && mw_tensor_alloc(ctx, n, &tb) == MW_OK &&
                  mw_tensor_alloc(ctx, n, &to) == MW_OK && mw_tensor_alloc(ctx, n, &tr) == MW_OK);
        mw_tensor_upload(ctx, &tz, 0, z, n);
        mw_tensor_upload(ctx, &tb, 0, b, n);
        mw_dims d = mw_d(1, 1, n);
        for (int k = 0; k < 3; k++) {
            mw_act a = acts[k];
            /* inverse(act(z)) = z: tanh's inverse amplifies the rounding of tanh by
             * 1/tanh' = cosh² ≤ cosh²(4) ≈ 745; allow 4 ulps of that. */
            ck_assert(mw_act_apply(ctx, MW_EW_ACT, a, slope, d, mw_v(to.data, 0, 0),
                                   mw_v(tz.data, 0, 0), mw_v(NULL, 0, 0)) == MW_OK);
            ck_assert(mw_act_apply(ctx, MW_EW_ACT_INV, a, slope, d, mw_v(tr.data, 0, 0),
                                   mw_v(to.data, 0, 0), mw_v(NULL, 0, 0)) == MW_OK);
            mw_tensor_download(ctx, &tr, 0, back, n);
            for (size_t i = 0; i < n; i++) {
                double amp = a == MW_ACT_TANH ? cosh(z[i]) * cosh(z[i]) : 1.0;
                ck_assert_msg(fabs(back[i] - z[i]) <= 4 * eps * amp * (1 + fabs(z[i])),
                              "%s %s inverse round trip at z=%g: %.17g", mw_dtype_name(dt),
                              mw_act_name(a), z[i], back[i]);
            }
            /* act'(z)·b against the formula in double; at 0: leaky'(0) = α (PyTorch) */
            ck_assert(mw_act_apply(ctx, MW_EW_ACT_DMUL, a, slope, d, mw_v(to.data, 0, 0),
                                   mw_v(tz.data, 0, 0), mw_v(tb.data, 0, 0)) == MW_OK);
            mw_tensor_download(ctx, &to, 0, out, n);
            for (size_t i = 0; i < n; i++) {
                double want = a == MW_ACT_TANH ? b[i] / (cosh(z[i]) * cosh(z[i]))
                              : a == MW_ACT_LEAKY ? (z[i] > 0 ? b[i] : slope * b[i])
                                                  : b[i];
                ck_assert_msg(fabs(out[i] - want) <= 8 * eps * fabs(want),
                              "%s %s derivative at z=%g: got %.17g want %.17g",
                              mw_dtype_name(dt), mw_act_name(a), z[i], out[i], want);
            }
            /* D⁻¹ undoes D: dinv(z, dact(z)·b) = b */
            ck_assert(mw_act_apply(ctx, MW_EW_ACT_DINV_MUL, a, slope, d, mw_v(tr.data, 0, 0),
                                   mw_v(tz.data, 0, 0), mw_v(to.data, 0, 0)) == MW_OK);
            mw_tensor_download(ctx, &tr, 0, back, n);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(fabs(back[i] - b[i]) <= 16 * eps * fabs(b[i]),
                              "%s %s D⁻¹ D at z=%g: %.17g vs %.17g", mw_dtype_name(dt),
                              mw_act_name(a), z[i], back[i], b[i]);
        }
        mw_tensor_free(ctx, &tz);
        mw_tensor_free(ctx, &tb);
        mw_tensor_free(ctx, &to);
        mw_tensor_free(ctx, &tr);
        mw_ctx_free(ctx);
    }
}
END_TEST

/* tanh' near saturation: in f32 the derivative keeps its relative accuracy where
 * 1 - tanh(z)² has lost every digit (at z = 8, tanh rounds to within 2 ulps of 1). */
START_TEST(tanh_derivative_is_stable)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) == MW_OK);
    const size_t n = 4;
    double z[4] = {5.0, 8.0, 12.0, 30.0}, one[4] = {1, 1, 1, 1}, got[4];
    mw_tensor tz, t1, to;
    mw_tensor_alloc(ctx, n, &tz), mw_tensor_alloc(ctx, n, &t1), mw_tensor_alloc(ctx, n, &to);
    mw_tensor_upload(ctx, &tz, 0, z, n);
    mw_tensor_upload(ctx, &t1, 0, one, n);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT_DMUL, MW_ACT_TANH, 0, mw_d(1, 1, n), mw_v(to.data, 0, 0),
                           mw_v(tz.data, 0, 0), mw_v(t1.data, 0, 0)) == MW_OK);
    mw_tensor_download(ctx, &to, 0, got, n);
    for (size_t i = 0; i < n; i++) {
        double want = 1.0 / (cosh(z[i]) * cosh(z[i]));
        ck_assert_msg(fabs(got[i] - want) <= 8 * FLT_EPSILON * want,
                      "sech²(%g) in f32: got %.9g want %.9g", z[i], got[i], want);
    }
    mw_tensor_free(ctx, &tz), mw_tensor_free(ctx, &t1), mw_tensor_free(ctx, &to);
    mw_ctx_free(ctx);
}
END_TEST

/* float32's tanh, atanh, sech² and cosh² (activations.inc) are computed in double and rounded
 * once: on every 1021st float bit pattern (4.2 million, all signs and exponents) each
 * result is the correctly rounded float, against libm's double functions and MPFR near a
 * rounding boundary (bench/act_check.c; bench/act_accuracy runs all 2^32). libm's tanhf,
 * which the kernels used before, misrounds 2.8% of a like sample, by up to 2.07 ulps. */
START_TEST(f32_tanh_family_correctly_rounded)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) == MW_OK);
    for (int f = 0; f < ACT_CHECK_COUNT; f++) {
        act_stats acc = {0};
        ck_assert(act_check_run(ctx, (act_check_fn)f, 7, ((uint64_t)1 << 32) / 1021, 1021,
                                &acc) == MW_OK);
        ck_assert_msg(acc.bad_special == 0 && acc.misrounded == 0,
                      "f32 %s: %llu of %llu not correctly rounded (%llu NaN/inf/zero sign), "
                      "up to %.3f ulp at %.9g", act_check_name((act_check_fn)f),
                      (unsigned long long)acc.misrounded, (unsigned long long)acc.checked,
                      (unsigned long long)acc.bad_special, acc.max_ulp, acc.worst);
    }
    mw_ctx_free(ctx);
}
END_TEST

/* The edges of float32's tanh family, and the kernel in place and on strided rows: ±0 keep
 * their sign, ±∞ and NaN give the limits, b cosh²(z) is 0 for b = 0 however large z and
 * overflows only where the product does; in place and on a (rows, 2) view with row
 * stride 3 the kernel gives the contiguous result's bits. */
START_TEST(f32_tanh_family_edges)
{
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) == MW_OK);
    enum { N = 12 };
    const double z[N] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 9.5, -20.0, 60.0,
                         400.0, 1e-40, -1e-30, 0.75};
    const double b[N] = {1, 1, 1, 1, 1, 1, 1, 1, 0.0, 1, 1, 1};
    double out[N], y[N];
    mw_tensor tz, tb, to;
    ck_assert(mw_tensor_alloc(ctx, N, &tz) == MW_OK && mw_tensor_alloc(ctx, N, &tb) == MW_OK &&
              mw_tensor_alloc(ctx, N, &to) == MW_OK);
    ck_assert(mw_tensor_upload(ctx, &tz, 0, z, N) == MW_OK);
    ck_assert(mw_tensor_upload(ctx, &tb, 0, b, N) == MW_OK);
    const mw_dims d = mw_d(1, 1, N);
    const mw_view vz = mw_v(tz.data, 0, 0), vb = mw_v(tb.data, 0, 0), vo = mw_v(to.data, 0, 0);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0, d, vo, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, out, N) == MW_OK);
    ck_assert(out[0] == 0 && !signbit(out[0]) && out[1] == 0 && signbit(out[1]));
    ck_assert(out[2] == 1 && out[3] == -1 && isnan(out[4]) && out[5] == 1 && out[6] == -1);
    ck_assert(out[9] == (double)(float)1e-40 && out[10] == (double)(float)-1e-30);
    /* atanh: the inverse of the saturating values is ±∞, beyond ±1 NaN */
    const double ys[N] = {1.0, -1.0, 1.5, -0.0, 0.5, NAN, 0.999999940395, 1e-40, 0, 0, 0, 0};
    ck_assert(mw_tensor_upload(ctx, &tz, 0, ys, N) == MW_OK);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT_INV, MW_ACT_TANH, 0, d, vo, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, y, N) == MW_OK);
    ck_assert(isinf(y[0]) && y[0] > 0 && isinf(y[1]) && y[1] < 0 && isnan(y[2]));
    ck_assert(y[3] == 0 && signbit(y[3]) && isnan(y[5]));
    ck_assert(fabs(y[4] - atanh(0.5)) <= 0.5 * FLT_EPSILON * atanh(0.5));
    ck_assert(fabs(y[6] - atanh((double)(float)0.999999940395)) <= 1e-6 * y[6]);
    ck_assert(y[7] == (double)(float)1e-40);
    /* sech² and b cosh² */
    ck_assert(mw_tensor_upload(ctx, &tz, 0, z, N) == MW_OK);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT_DMUL, MW_ACT_TANH, 0, d, vo, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, out, N) == MW_OK);
    ck_assert(out[0] == 1 && out[2] == 0 && out[3] == 0 && isnan(out[4]) && out[7] == 0);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT_DINV_MUL, MW_ACT_TANH, 0, d, vo, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, out, N) == MW_OK);
    ck_assert(out[0] == 1 && isinf(out[2]) && isinf(out[3]) && isnan(out[4]));
    ck_assert(isinf(out[7]) && out[8] == 0); /* cosh²(60) ≈ 3e51 > FLT_MAX; 0·cosh²(400) = 0 */
    /* in place, and on strided rows, the same bits as out of place */
    double contiguous[N], again[N];
    const double w[N] = {0.1, -0.2, 0.3, 2.5, -7.0, 0.01, 1e-3, -4.0, 0.9, 3.0, -0.5, 6.0};
    ck_assert(mw_tensor_upload(ctx, &tz, 0, w, N) == MW_OK);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0, d, vo, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, contiguous, N) == MW_OK);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0, d, vz, vz, vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &tz, 0, again, N) == MW_OK);
    ck_assert(memcmp(contiguous, again, sizeof again) == 0);
    ck_assert(mw_tensor_upload(ctx, &tz, 0, w, N) == MW_OK);
    ck_assert(mw_fill(ctx, d, vo, 0.0) == MW_OK);
    ck_assert(mw_act_apply(ctx, MW_EW_ACT, MW_ACT_TANH, 0, mw_d(1, N / 3, 2),
                           mw_v(to.data, 0, 3), mw_v(tz.data, 0, 3), vb) == MW_OK);
    ck_assert(mw_tensor_download(ctx, &to, 0, again, N) == MW_OK);
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(i % 3 == 2 ? again[i] == 0 : again[i] == contiguous[i],
                      "strided tanh at %zu: %.9g, contiguous %.9g", i, again[i], contiguous[i]);
    mw_tensor_free(ctx, &tz), mw_tensor_free(ctx, &tb), mw_tensor_free(ctx, &to);
    mw_ctx_free(ctx);
}
END_TEST

/* ACT_WITH_DINV_MUL (Moonwalk's step: σ(z) and h ⊙ D⁻¹ from one evaluation) gives the bits
 * of ACT and ACT_DINV_MUL apart, for every invertible activation, both dtypes, on (rows, 3)
 * views of row stride 5. */
START_TEST(act_with_dinv_mul_is_both)
{
    const mw_act acts[3] = {MW_ACT_TANH, MW_ACT_LEAKY, MW_ACT_IDENTITY};
    enum { ROWS = 7, W = 3, LD = 5, N = ROWS * LD };
    double z[N], b[N];
    fill_random(z, N, tu_seed(), 61);
    fill_random(b, N, tu_seed(), 62);
    for (size_t i = 0; i < N; i++)
        z[i] *= 6.0; /* through tanh's saturation */
    for (int dt = 0; dt < 2; dt++)
        for (int k = 0; k < 3; k++) {
            mw_ctx *ctx;
            ck_assert(mw_ctx_new(MW_BACKEND_CPU, (mw_dtype)dt, &ctx) == MW_OK);
            mw_tensor tz, tb, o[4];
            ck_assert(mw_tensor_alloc(ctx, N, &tz) == MW_OK && mw_tensor_alloc(ctx, N, &tb) == MW_OK);
            ck_assert(mw_tensor_upload(ctx, &tz, 0, z, N) == MW_OK &&
                      mw_tensor_upload(ctx, &tb, 0, b, N) == MW_OK);
            double got[4][N];
            for (int q = 0; q < 4; q++) {
                ck_assert(mw_tensor_alloc(ctx, N, &o[q]) == MW_OK);
                ck_assert(mw_fill(ctx, mw_d(1, 1, N), mw_v(o[q].data, 0, 0), 0.0) == MW_OK);
            }
            const mw_dims d = mw_d(1, ROWS, W);
            const mw_view vz = mw_v(tz.data, 0, LD), vb = mw_v(tb.data, 0, LD);
            ck_assert(mw_act_apply(ctx, MW_EW_ACT, acts[k], 0.1, d, mw_v(o[0].data, 0, LD), vz,
                                   vb) == MW_OK);
            ck_assert(mw_act_apply(ctx, MW_EW_ACT_DINV_MUL, acts[k], 0.1, d,
                                   mw_v(o[1].data, 0, LD), vz, vb) == MW_OK);
            ck_assert(mw_act_with_dinv_mul(ctx, acts[k], 0.1, d, mw_v(o[2].data, 0, LD),
                                           mw_v(o[3].data, 0, LD), vz, vb) == MW_OK);
            for (int q = 0; q < 4; q++)
                ck_assert(mw_tensor_download(ctx, &o[q], 0, got[q], N) == MW_OK);
            ck_assert_msg(memcmp(got[0], got[2], sizeof got[0]) == 0, "%s %s: act differs",
                          mw_dtype_name((mw_dtype)dt), mw_act_name(acts[k]));
            ck_assert_msg(memcmp(got[1], got[3], sizeof got[1]) == 0, "%s %s: D⁻¹ differs",
                          mw_dtype_name((mw_dtype)dt), mw_act_name(acts[k]));
            for (int q = 0; q < 4; q++)
                mw_tensor_free(ctx, &o[q]);
            mw_tensor_free(ctx, &tz), mw_tensor_free(ctx, &tb);
            mw_ctx_free(ctx);
        }
}
END_TEST

/* find_nonfinite gives the first NaN or ±∞ exactly, at a block's edges and inside it, and n
 * for a clean buffer of any length (the CPU tests blocks of 256 whole first). */
START_TEST(find_nonfinite_finds_the_first)
{
    const size_t lens[] = {0, 1, 255, 256, 257, 300, 512, 777};
    const size_t at[] = {0, 1, 254, 255, 256, 257, 511, 512, 776};
    const double bad[3] = {NAN, INFINITY, -INFINITY};
    for (int dt = 0; dt < 2; dt++) {
        mw_ctx *ctx;
        ck_assert(mw_ctx_new(MW_BACKEND_CPU, (mw_dtype)dt, &ctx) == MW_OK);
        mw_tensor t;
        ck_assert(mw_tensor_alloc(ctx, 777, &t) == MW_OK);
        double v[777];
        for (size_t i = 0; i < 777; i++)
            v[i] = (double)i - 300.0; /* finite, with zeros and negatives */
        for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
            size_t first = 12345;
            ck_assert(mw_tensor_upload(ctx, &t, 0, v, 777) == MW_OK);
            ck_assert(ctx->ops->find_nonfinite(ctx, lens[k], t.data, &first) == MW_OK);
            ck_assert_msg(first == lens[k], "%s clean %zu: %zu", mw_dtype_name((mw_dtype)dt),
                          lens[k], first);
            for (size_t j = 0; j < sizeof at / sizeof *at; j++) {
                if (at[j] >= lens[k])
                    continue;
                double w[777];
                memcpy(w, v, sizeof w);
                w[at[j]] = bad[j % 3];
                if (at[j] + 3 < lens[k])
                    w[at[j] + 3] = NAN; /* a later one does not count */
                ck_assert(mw_tensor_upload(ctx, &t, 0, w, 777) == MW_OK);
                ck_assert(ctx->ops->find_nonfinite(ctx, lens[k], t.data, &first) == MW_OK);
                ck_assert_msg(first == at[j], "%s n %zu, bad at %zu: %zu",
                              mw_dtype_name((mw_dtype)dt), lens[k], at[j], first);
            }
        }
        mw_tensor_free(ctx, &t);
        mw_ctx_free(ctx);
    }
}
END_TEST

/* BatchNorm: x̂ has mean 0 and variance var/(var+eps) per channel; jvp and vjp are
 * adjoint: <dy, jvp(dx, dγ, dβ)> = <vjp_x(dy), dx> + <vjp_γ(dy), dγ> + <vjp_β(dy), dβ>. */
START_TEST(batchnorm_kernels)
{
    const size_t B = 5, C = 3, S = 4, n = B * C * S;
    const double eps_bn = 1e-5;
    double x[60], dx[60], dy[60], g[3] = {1.2, 0.8, -0.5}, be[3] = {0.1, -0.2, 0.3};
    double dg[3] = {0.3, -0.1, 0.7}, db[3] = {-0.4, 0.2, 0.05};
    fill_random(x, n, tu_seed(), 11);
    fill_random(dx, n, tu_seed(), 12);
    fill_random(dy, n, tu_seed(), 13);
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
    mw_tensor tx, ty, th, tr, tg, tb, tdx, tdy, tout, tdg, tdb, gg, gb;
    mw_tensor *all[] = {&tx, &ty, &th, &tr, &tg, &tb, &tdx, &tdy, &tout, &tdg, &tdb, &gg, &gb};
    size_t sizes[] = {n, n, n, C, C, C, n, n, n, C, C, C, C};
    for (int i = 0; i < 13; i++)
        ck_assert(mw_tensor_alloc(ctx, sizes[i], all[i]) == MW_OK);
    mw_tensor_upload(ctx, &tx, 0, x, n), mw_tensor_upload(ctx, &tg, 0, g, C);
    mw_tensor_upload(ctx, &tb, 0, be, C), mw_tensor_upload(ctx, &tdx, 0, dx, n);
    mw_tensor_upload(ctx, &tdy, 0, dy, n), mw_tensor_upload(ctx, &tdg, 0, dg, C);
    mw_tensor_upload(ctx, &tdb, 0, db, C);
    ck_assert(ctx->ops->bn_forward(ctx, B, C, S, eps_bn, tx.data, tg.data, tb.data, ty.data,
                                   th.data, tr.data, tdg.data, tdb.data) == MW_OK);
    double xh[60], bmean[3], bvar[3];
    mw_tensor_download(ctx, &th, 0, xh, n);
    mw_tensor_download(ctx, &tdg, 0, bmean, C), mw_tensor_download(ctx, &tdb, 0, bvar, C);
    mw_tensor_upload(ctx, &tdg, 0, dg, C), mw_tensor_upload(ctx, &tdb, 0, db, C);
    for (size_t c = 0; c < C; c++) {
        double m = 0, v = 0, mx = 0, vx = 0;
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s < S; s++) {
                size_t i = (b * C + c) * S + s;
                m += xh[i], v += xh[i] * xh[i], mx += x[i], vx += x[i] * x[i];
            }
        m /= (double)(B * S), v /= (double)(B * S), mx /= (double)(B * S);
        vx = vx / (double)(B * S) - mx * mx;
        /* the batch statistics it reports: the mean and the biased variance */
        ck_assert_msg(fabs(bmean[c] - mx) < 1e-14 && fabs(bvar[c] - vx) < 1e-13 * vx,
                      "channel %zu: statistics %g %g, direct %g %g", c, bmean[c], bvar[c], mx, vx);
        ck_assert_msg(fabs(m) < 1e-14, "channel %zu mean %g", c, m);
        ck_assert_msg(fabs(v - vx / (vx + eps_bn)) < 1e-13, "channel %zu variance %g", c, v);
    }
    ck_assert(ctx->ops->bn_jvp(ctx, 1, B, C, S, th.data, tr.data, tg.data, tdx.data,
                               mw_v(tdg.data, 0, 0), mw_v(tdb.data, 0, 0), tout.data) == MW_OK);
    double jv[60], vjx[60], vjg[3], vjb[3];
    mw_tensor_download(ctx, &tout, 0, jv, n);
    ck_assert(ctx->ops->bn_vjp(ctx, B, C, S, th.data, tr.data, tg.data, tdy.data, tout.data,
                               gg.data, gb.data) == MW_OK);
    mw_tensor_download(ctx, &tout, 0, vjx, n);
    mw_tensor_download(ctx, &gg, 0, vjg, C), mw_tensor_download(ctx, &gb, 0, vjb, C);
    double lhs = dot(dy, jv, n), rhs = dot(vjx, dx, n) + dot(vjg, dg, C) + dot(vjb, db, C);
    double scale = norm(dy, n) * norm(jv, n) + norm(vjx, n) * norm(dx, n) + 10;
    ck_assert_msg(fabs(lhs - rhs) <= 64 * DBL_EPSILON * scale, "BN adjoint: %.17g vs %.17g", lhs,
                  rhs);
    for (int i = 0; i < 13; i++)
        mw_tensor_free(ctx, all[i]);
    mw_ctx_free(ctx);
}
END_TEST

/* Softmax cross-entropy against the formula; G's rows sum to zero. */
START_TEST(xent_kernel)
{
    const size_t B = 3, C = 4;
    double l[12], loss[3], G[12];
    int y[3] = {0, 3, 2};
    fill_random(l, B * C, tu_seed(), 21);
    l[5] = 40.0; /* a large logit: logsumexp must not overflow */
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
    mw_tensor tl, tloss, tG;
    void *ty;
    mw_tensor_alloc(ctx, B * C, &tl), mw_tensor_alloc(ctx, B, &tloss), mw_tensor_alloc(ctx, B * C, &tG);
    ck_assert(ctx->ops->alloc(ctx, sizeof y, &ty) == MW_OK);
    ctx->ops->upload_labels(ctx, ty, y, B);
    mw_tensor_upload(ctx, &tl, 0, l, B * C);
    ck_assert(ctx->ops->xent(ctx, B, C, tl.data, ty, tloss.data, tG.data) == MW_OK);
    mw_tensor_download(ctx, &tloss, 0, loss, B), mw_tensor_download(ctx, &tG, 0, G, B * C);
    for (size_t b = 0; b < B; b++) {
        double m = -INFINITY, s = 0, gs = 0;
        for (size_t c = 0; c < C; c++)
            m = fmax(m, l[b * C + c]);
        for (size_t c = 0; c < C; c++)
            s += exp(l[b * C + c] - m);
        double want = m + log(s) - l[b * C + (size_t)y[b]];
        ck_assert_msg(fabs(loss[b] - want) <= 8 * DBL_EPSILON * (1 + fabs(want)),
                      "loss %zu: %.17g vs %.17g", b, loss[b], want);
        for (size_t c = 0; c < C; c++)
            gs += G[b * C + c];
        ck_assert_msg(fabs(gs) <= 8 * DBL_EPSILON, "row %zu of G sums to %g", b, gs);
    }
    ctx->ops->release(ctx, ty);
    mw_tensor_free(ctx, &tl), mw_tensor_free(ctx, &tloss), mw_tensor_free(ctx, &tG);
    mw_ctx_free(ctx);
}
END_TEST


/* The image kernels against their definitions (docs/architecture.md §2), written here as plain
 * loops: ψ in pixel_unshuffle order and its inverse; W times im2col is the 3x3
 * zero-padded cross-correlation; Wᵗ times the flipped im2col (the transposed
 * convolution) is its adjoint; chan_bias and chan_sum. */
START_TEST(image_kernels)
{
    enum { NI = 2, C = 3, H = 4, W = 6, S = H * W, O = 2, K = C * 9 };
    double x[NI * C * S], y[NI * C * S], back[NI * C * S], w[O * K], col[NI * K * S];
    double u[NI * K * S], adj[NI * C * S], z[NI * O * S];
    fill_random(x, NI * C * S, tu_seed(), 51);
    fill_random(w, O * K, tu_seed(), 52);
    fill_random(u, NI * K * S, tu_seed(), 53);
    mw_ctx *ctx;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
    mw_tensor tx, ty, tw, tc, tu, tz;
    mw_tensor_alloc(ctx, NI * C * S, &tx), mw_tensor_alloc(ctx, NI * C * S, &ty);
    mw_tensor_alloc(ctx, O * K, &tw), mw_tensor_alloc(ctx, NI * K * S, &tc);
    mw_tensor_alloc(ctx, NI * K * S, &tu), mw_tensor_alloc(ctx, NI * O * S, &tz);
    mw_tensor_upload(ctx, &tx, 0, x, NI * C * S), mw_tensor_upload(ctx, &tw, 0, w, O * K);
    mw_tensor_upload(ctx, &tu, 0, u, NI * K * S);

    /* ψ: out[c*4 + 2dy + dx, i, j] = in[c, 2i+dy, 2j+dx]; its inverse undoes it exactly */
    ck_assert(ctx->ops->squeeze(ctx, NI, C, H, W, tx.data, ty.data, false) == MW_OK);
    mw_tensor_download(ctx, &ty, 0, y, NI * C * S);
    for (int n = 0; n < NI; n++)
        for (int c = 0; c < C; c++)
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    for (int i = 0; i < H / 2; i++)
                        for (int j = 0; j < W / 2; j++)
                            ck_assert(y[n * C * S + ((c * 4 + 2 * dy + dx) * (H / 2) + i) * (W / 2) + j] ==
                                      x[n * C * S + (c * H + 2 * i + dy) * W + 2 * j + dx]);
    mw_tensor tb;
    mw_tensor_alloc(ctx, NI * C * S, &tb);
    ck_assert(ctx->ops->squeeze(ctx, NI, C, H, W, ty.data, tb.data, true) == MW_OK);
    mw_tensor_download(ctx, &tb, 0, back, NI * C * S);
    for (int i = 0; i < NI * C * S; i++)
        ck_assert(back[i] == x[i]);

    /* conv = W · im2col */
    ck_assert(ctx->ops->im2col(ctx, NI, C, H, W, tx.data, C * S, tc.data, false) == MW_OK);
    ck_assert(ctx->ops->gemm(ctx, false, false, O, S, K, 1.0, tw.data, K, 0, tc.data, S, K * S,
                             0.0, tz.data, S, O * S, NI) == MW_OK);
    mw_tensor_download(ctx, &tz, 0, z, NI * O * S);
    for (int n = 0; n < NI; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    double want = 0;
                    for (int k = 0; k < C; k++)
                        for (int dy = 0; dy < 3; dy++)
                            for (int dx = 0; dx < 3; dx++) {
                                int si = i + dy - 1, sj = j + dx - 1;
                                if (si >= 0 && si < H && sj >= 0 && sj < W)
                                    want += w[(o * C + k) * 9 + dy * 3 + dx] *
                                            x[n * C * S + (k * H + si) * W + sj];
                            }
                    double got = z[n * O * S + o * S + i * W + j];
                    ck_assert_msg(fabs(got - want) <= 1e-14 * (1 + fabs(want)),
                                  "conv at (%d, %d, %d, %d): %.17g, direct %.17g", n, o, i, j,
                                  got, want);
                }
    /* the flipped im2col of u (NI, O, S): row o*9 + ky*3 + kx holds u[o, i+1-ky, j+1-kx] */
    ck_assert(ctx->ops->im2col(ctx, NI, O, H, W, tu.data, O * S, tc.data, true) == MW_OK);
    mw_tensor_download(ctx, &tc, 0, col, NI * O * 9 * S);
    for (int n = 0; n < NI; n++)
        for (int o = 0; o < O; o++)
            for (int t = 0; t < 9; t++)
                for (int i = 0; i < H; i++)
                    for (int j = 0; j < W; j++) {
                        int si = i + 1 - t / 3, sj = j + 1 - t % 3;
                        double want = si >= 0 && si < H && sj >= 0 && sj < W
                                          ? u[n * O * S + o * S + si * W + sj]
                                          : 0.0;
                        ck_assert_msg(col[((n * O + o) * 9 + t) * S + i * W + j] == want,
                                      "flipped im2col at (%d, %d, %d, %d, %d)", n, o, t, i, j);
                    }
    /* <Wᵗ flip(u), x> = <u, W im2col(x)>, through the gemm's alpha and beta */
    double wt[C * O * 9];
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < 9; t++)
                wt[(c * O + o) * 9 + t] = w[o * K + c * 9 + t];
    mw_tensor twt;
    ck_assert(mw_tensor_alloc(ctx, C * O * 9, &twt) == MW_OK);
    mw_tensor_upload(ctx, &twt, 0, wt, C * O * 9);
    ck_assert(mw_fill(ctx, mw_d(1, 1, NI * C * S), mw_v(tb.data, 0, 0), 1.0) == MW_OK);
    ck_assert(ctx->ops->gemm(ctx, false, false, C, S, O * 9, 2.0, twt.data, O * 9, 0, tc.data, S,
                             O * 9 * S, 0.5, tb.data, S, C * S, NI) == MW_OK);
    mw_tensor_download(ctx, &tb, 0, adj, NI * C * S);
    double lhs = 0, rhs = dot(u, z, NI * O * S);
    for (int i = 0; i < NI * C * S; i++)
        lhs += (adj[i] - 0.5) / 2.0 * x[i];
    ck_assert_msg(fabs(lhs - rhs) <= 1e-13 * (1 + fabs(rhs)), "adjoint: %.17g vs %.17g", lhs, rhs);
    mw_tensor_free(ctx, &twt);

    /* chan_bias over groups of 2 images with ld 5; chan_sum back */
    double bias[2 * 5], sums[2 * 3];
    fill_random(bias, 10, tu_seed(), 54);
    mw_tensor tbias, tsum;
    mw_tensor_alloc(ctx, 10, &tbias), mw_tensor_alloc(ctx, 6, &tsum);
    mw_tensor_upload(ctx, &tbias, 0, bias, 10);
    ck_assert(mw_fill(ctx, mw_d(1, 1, NI * C * S), mw_v(tb.data, 0, 0), 0.0) == MW_OK);
    ck_assert(ctx->ops->chan_bias(ctx, NI, C, S, 3.0, tbias.data, 1, 5, tb.data) == MW_OK);
    mw_tensor_download(ctx, &tb, 0, adj, NI * C * S);
    for (int n = 0; n < NI; n++)
        for (int c = 0; c < C; c++)
            for (int q = 0; q < S; q++)
                ck_assert(adj[(n * C + c) * S + q] == 3.0 * bias[n * 5 + c]);
    ck_assert(ctx->ops->chan_sum(ctx, NI, C, S, 1, tb.data, 0.5, 0.0, tsum.data, 3) == MW_OK);
    mw_tensor_download(ctx, &tsum, 0, sums, 6);
    for (int n = 0; n < NI; n++)
        for (int c = 0; c < C; c++)
            ck_assert(fabs(sums[n * 3 + c] - 0.5 * S * 3.0 * bias[n * 5 + c]) <= 1e-14 * S);
    mw_tensor *ts[] = {&tx, &ty, &tw, &tc, &tu, &tz, &tb, &tbias, &tsum};
    for (int i = 0; i < 9; i++)
        mw_tensor_free(ctx, ts[i]);
    mw_ctx_free(ctx);
}
END_TEST

/* =================================================================== layers */

/* The specs the layer and method tests run on: every F activation, every σ, with and
 * without BN, moderate conditioning (init scale 1); then two revnets (conv units with BN,
 * ψ), one with k = 2 and 3 hidden channels; then affine couplings, an mlp and a revnet. */
static mw_spec layer_spec(int k)
{
    static const struct { mw_act f, s; int bn, units; } cfg[] = {
        {MW_ACT_TANH, MW_ACT_TANH, 0, 2},     {MW_ACT_RELU, MW_ACT_LEAKY, 0, 2},
        {MW_ACT_LEAKY, MW_ACT_IDENTITY, 0, 1}, {MW_ACT_IDENTITY, MW_ACT_TANH, 0, 3},
        {MW_ACT_TANH, MW_ACT_LEAKY, 1, 2},
    };
    if (k == 5)
        return tu_small_revnet(1, MW_ACT_TANH, MW_ACT_LEAKY, 2, 3, tu_seed() + 5);
    if (k == 6)
        return tu_small_revnet(1, MW_ACT_RELU, MW_ACT_TANH, 1, 0, tu_seed() + 6);
    if (k == 7) { /* affine couplings (RealNVP/Glow): an mlp with BN, a revnet */
        mw_spec s = tu_small_spec(2, MW_ACT_TANH, MW_ACT_TANH, 1, tu_seed() + 7);
        s.coupling = MW_COUPLING_AFFINE;
        return s;
    }
    if (k == 8) {
        mw_spec s = tu_small_revnet(1, MW_ACT_RELU, MW_ACT_LEAKY, 1, 0, tu_seed() + 8);
        s.coupling = MW_COUPLING_AFFINE;
        return s;
    }
    mw_spec s = tu_small_spec(2, cfg[k].f, cfg[k].s, cfg[k].bn, tu_seed() + (uint64_t)k);
    s.units = cfg[k].units;
    return s;
}
#define N_LAYER_SPECS 9

/* The largest derivative of σ⁻¹ over the transformed half of layer `index`'s output y:
 * 1/(1 - y²) for tanh, 1/α for leaky. */
static double inverse_gain(const mw_spec *s, int index, const double *y)
{
    const int h = s->width / 2, first = index % 2 == 1 ? h : 0;
    double gain = 1.0;
    for (int b = 0; b < s->batch; b++)
        for (int j = first; j < first + h; j++) {
            double v = y[b * s->width + j];
            if (s->out_act == MW_ACT_TANH)
                gain = fmax(gain, 1.0 / (1.0 - v * v));
            else if (s->out_act == MW_ACT_LEAKY)
                gain = fmax(gain, 1.0 / s->leaky_slope);
        }
    return gain;
}

/* inverse(forward(x)) = x for both parities (layers 1 and 2), f64 and f32. The bound:
 * the reconstruction subtracts F(a) again, so its error is a few ulps of the larger of
 * |b| and |F(a)|, amplified by tanh⁻¹'s cosh² ≤ cosh²(max |z|). */
/* The registry: every coupling type of the spec has exactly one real layer of its name,
 * the squeeze is there, every negative control the layer check relies on is there and
 * says what is wrong with it, names are unique and found by name, and a network is built
 * only from a layer that implements its spec's coupling. */
START_TEST(layer_registry_lists_every_layer)
{
    const size_t n = mw_layer_count();
    ck_assert_uint_ge(n, 7);
    mw_layer_info info, other;
    ck_assert_int_eq(mw_layer_info_at(n, &info), 1);
    ck_assert_int_eq(mw_layer_info_of("no-such-layer", &info), 1);
    ck_assert_int_eq(mw_layer_info_of("", &info), 1);
    int real_of[2] = {0, 0}, squeezes = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(mw_layer_info_at(i, &info), 0);
        ck_assert(info.name && info.name[0] && info.summary && info.summary[0]);
        ck_assert_int_eq(mw_layer_info_of(info.name, &other), 0);
        ck_assert_str_eq(other.name, info.name); /* unique: found as itself */
        for (size_t k = 0; k < i; k++) {
            mw_layer_info prev;
            mw_layer_info_at(k, &prev);
            ck_assert_str_ne(prev.name, info.name);
        }
        if (info.coupling < 0) {
            ck_assert(info.fault == NULL);
            squeezes++;
            continue;
        }
        ck_assert(info.coupling == MW_COUPLING_ADDITIVE || info.coupling == MW_COUPLING_AFFINE);
        if (!info.fault) {
            ck_assert_str_eq(info.name, mw_coupling_name((mw_coupling)info.coupling));
            real_of[info.coupling]++;
        } else {
            ck_assert(info.fault[0] != '\0');
        }
        /* buildable on a spec of its coupling, refused on the other */
        mw_spec sp = tu_small_spec(2, MW_ACT_TANH, MW_ACT_TANH, 0, 7);
        sp.coupling = (mw_coupling)info.coupling;
        mw_ctx *ctx = NULL;
        mw_net *net = NULL;
        ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
        ck_assert_msg(mw_net_new_layer(ctx, &sp, info.name, &net) == MW_OK, "%s: %s", info.name,
                      mw_ctx_message(ctx));
        mw_net_free(ctx, net);
        net = NULL;
        sp.coupling = info.coupling == MW_COUPLING_ADDITIVE ? MW_COUPLING_AFFINE
                                                            : MW_COUPLING_ADDITIVE;
        ck_assert(mw_net_new_layer(ctx, &sp, info.name, &net) == MW_ERR_ARG && net == NULL);
        mw_ctx_free(ctx);
    }
    ck_assert_int_eq(real_of[MW_COUPLING_ADDITIVE], 1);
    ck_assert_int_eq(real_of[MW_COUPLING_AFFINE], 1);
    ck_assert_int_eq(squeezes, 1);
    static const char *const controls[] = {"additive-vijp-sign", "additive-naive-dinv",
                                           "additive-bn-vjp-uncoupled", "additive-inverse-bias"};
    for (size_t k = 0; k < sizeof controls / sizeof controls[0]; k++) {
        ck_assert_msg(mw_layer_info_of(controls[k], &info) == 0, "%s missing", controls[k]);
        ck_assert(info.fault != NULL);
    }
}
END_TEST

START_TEST(layer_round_trip)
{
    for (int k = 0; k < N_LAYER_SPECS; k++)
        for (int dt = 0; dt < 2; dt++) {
            mw_spec s = layer_spec(k);
            tu_net t;
            tu_net_make(&t, &s, (mw_dtype)dt);
            mw_ctx *ctx = t.ctx;
            mw_tensor y, back;
            double *hy = malloc(t.N * sizeof *hy), *hb = malloc(t.N * sizeof *hb);
            ck_assert(mw_tensor_alloc(ctx, t.N, &y) == MW_OK && mw_tensor_alloc(ctx, t.N, &back) == MW_OK);
            for (int i = 0; i < t.net->n_layers; i++) {
                const mw_layer *l = &t.net->layers[i];
                ck_assert(l->ops->forward(ctx, l, t.batch->x.data, y.data, MW_CACHE_NONE, NULL) == MW_OK);
                ck_assert_msg(l->ops->inverse(ctx, l, y.data, back.data) == MW_OK, "%s",
                              mw_ctx_message(ctx));
                mw_tensor_download(ctx, &y, 0, hy, t.N), mw_tensor_download(ctx, &back, 0, hb, t.N);
                double scale = tu_max_abs(t.x, t.N) + tu_max_abs(hy, t.N);
                double tol = 16 * eps_of((mw_dtype)dt) * scale * inverse_gain(&s, l->index, hy);
                for (size_t j = 0; j < t.N; j++)
                    ck_assert_msg(l->index > 0 ? fabs(hb[j] - t.x[j]) <= tol : hb[j] == t.x[j],
                                  "spec %d %s %s: x[%zu] %.17g came back %.17g (tol %g)", k,
                                  mw_dtype_name(dt), l->label, j, t.x[j], hb[j], tol);
            }
            mw_tensor_free(ctx, &y), mw_tensor_free(ctx, &back);
            free(hy), free(hb);
            tu_net_free(&t);
        }
}
END_TEST

/* A layer's inverse_cached is inverse then forward(FULL) in one pass, bit for bit: the same
 * reconstructed x, and a cache from which vjp gives the same hx and g. Checked for every
 * layer of every spec that has it (the additive coupling), in both dtypes, and at least
 * one layer must have it. */
START_TEST(inverse_cached_is_inverse_then_forward)
{
    int checked = 0;
    for (int k = 0; k < N_LAYER_SPECS; k++)
        for (int dt = 0; dt < 2; dt++) {
            mw_spec s = layer_spec(k);
            tu_net t;
            tu_net_make(&t, &s, (mw_dtype)dt);
            mw_ctx *ctx = t.ctx;
            const size_t N = t.N;
            double *v = malloc(N * sizeof *v), *out[2][3];
            fill_random(v, N, tu_seed(), 41);
            mw_tensor y, x[2], tv, hx[2], g[2];
            ck_assert(mw_tensor_alloc(ctx, N, &y) == MW_OK && mw_tensor_alloc(ctx, N, &tv) == MW_OK);
            mw_tensor_upload(ctx, &tv, 0, v, N);
            for (int i = 0; i < t.net->n_layers; i++) {
                const mw_layer *l = &t.net->layers[i];
                if (!l->ops->inverse_cached)
                    continue;
                const size_t P = l->n_theta;
                ck_assert(l->ops->forward(ctx, l, t.batch->x.data, y.data, MW_CACHE_NONE, NULL) == MW_OK);
                for (int way = 0; way < 2; way++) {
                    void *cache = NULL;
                    ck_assert(mw_tensor_alloc(ctx, N, &x[way]) == MW_OK &&
                              mw_tensor_alloc(ctx, N, &hx[way]) == MW_OK &&
                              mw_tensor_alloc(ctx, P, &g[way]) == MW_OK);
                    if (way == 0) {
                        ck_assert(l->ops->inverse(ctx, l, y.data, x[0].data) == MW_OK);
                        ck_assert(l->ops->forward(ctx, l, x[0].data, NULL, MW_CACHE_FULL, &cache) == MW_OK);
                    } else {
                        ck_assert_msg(l->ops->inverse_cached(ctx, l, y.data, x[1].data, MW_CACHE_FULL,
                                                             &cache) == MW_OK, "%s", mw_ctx_message(ctx));
                    }
                    ck_assert(l->ops->vjp(ctx, l, cache, tv.data, hx[way].data, g[way].data) == MW_OK);
                    l->ops->cache_free(ctx, l, cache);
                    out[way][0] = malloc(N * sizeof(double)), out[way][1] = malloc(N * sizeof(double));
                    out[way][2] = malloc((P ? P : 1) * sizeof(double));
                    mw_tensor_download(ctx, &x[way], 0, out[way][0], N);
                    mw_tensor_download(ctx, &hx[way], 0, out[way][1], N);
                    mw_tensor_download(ctx, &g[way], 0, out[way][2], P);
                }
                static const char *const what[] = {"x", "hx", "g"};
                for (int q = 0; q < 3; q++)
                    ck_assert_msg(memcmp(out[0][q], out[1][q], (q == 2 ? P : N) * sizeof(double)) == 0,
                                  "spec %d %s %s: inverse_cached's %s differs from inverse + forward",
                                  k, mw_dtype_name((mw_dtype)dt), l->label, what[q]);
                for (int way = 0; way < 2; way++) {
                    mw_tensor_free(ctx, &x[way]), mw_tensor_free(ctx, &hx[way]);
                    mw_tensor_free(ctx, &g[way]);
                    for (int q = 0; q < 3; q++)
                        free(out[way][q]);
                }
                checked++;
            }
            mw_tensor_free(ctx, &y), mw_tensor_free(ctx, &tv);
            free(v);
            tu_net_free(&t);
        }
    ck_assert_msg(checked > 0, "no layer has inverse_cached");
}
END_TEST

/* The network of layer spec k with every parameter moved off its initial value (γ = 1 and
 * β = 0 would hide BatchNorm's affine map). */
static void moved_net(tu_net *t, int k, mw_dtype dt)
{
    mw_spec s = layer_spec(k);
    tu_net_make(t, &s, dt);
    double *v = malloc(t->N * sizeof *v), *theta = malloc(t->P * sizeof *theta);
    ck_assert(v && theta && mw_net_get_params(t->ctx, t->net, theta) == MW_OK);
    fill_random(v, t->N, tu_seed(), 44);
    for (size_t j = 0; j < t->P; j++)
        theta[j] += 0.25 * v[j % t->N];
    ck_assert(mw_net_set_params(t->ctx, t->net, theta) == MW_OK);
    free(v), free(theta);
}

/* A layer's vijp_cached, given the cache forward(x) left (INPUT, as mixed's first phase
 * keeps it, or FULL), is vijp(x) bit for bit: the same y, hy and g. Checked for every
 * layer of every spec that has it (the additive coupling: σ none, tanh and leaky, with
 * and without BN, dense and conv units), in both dtypes; at least one layer must have
 * it. */
START_TEST(vijp_cached_is_vijp)
{
    int checked = 0;
    for (int k = 0; k < N_LAYER_SPECS; k++)
        for (int dt = 0; dt < 2; dt++) {
            tu_net t;
            moved_net(&t, k, (mw_dtype)dt);
            mw_ctx *ctx = t.ctx;
            const size_t N = t.N;
            double *v = malloc(N * sizeof *v);
            fill_random(v, N, tu_seed(), 43);
            mw_tensor thx;
            ck_assert(mw_tensor_alloc(ctx, N, &thx) == MW_OK);
            mw_tensor_upload(ctx, &thx, 0, v, N);
            for (int i = 0; i < t.net->n_layers; i++) {
                const mw_layer *l = &t.net->layers[i];
                if (!l->ops->vijp_cached)
                    continue;
                const size_t P = l->n_theta;
                double *out[3][3];
                for (int way = 0; way < 3; way++) { /* vijp, from INPUT, from FULL */
                    mw_tensor y, hy, g;
                    void *cache = NULL;
                    ck_assert(mw_tensor_alloc(ctx, N, &y) == MW_OK &&
                              mw_tensor_alloc(ctx, N, &hy) == MW_OK &&
                              mw_tensor_alloc(ctx, P, &g) == MW_OK);
                    if (way == 0) {
                        ck_assert(l->ops->vijp(ctx, l, t.batch->x.data, thx.data, y.data,
                                               hy.data, g.data) == MW_OK);
                    } else {
                        mw_cache_level lv = way == 1 ? MW_CACHE_INPUT : MW_CACHE_FULL;
                        ck_assert(l->ops->forward(ctx, l, t.batch->x.data, NULL, lv, &cache) ==
                                  MW_OK);
                        ck_assert_msg(l->ops->vijp_cached(ctx, l, cache, t.batch->x.data, thx.data,
                                                          y.data, hy.data, g.data) == MW_OK,
                                      "%s", mw_ctx_message(ctx));
                        l->ops->cache_free(ctx, l, cache);
                    }
                    mw_tensor *ts[3] = {&y, &hy, &g};
                    for (int q = 0; q < 3; q++) {
                        size_t n = q == 2 ? P : N;
                        out[way][q] = malloc((n ? n : 1) * sizeof(double));
                        mw_tensor_download(ctx, ts[q], 0, out[way][q], n);
                        mw_tensor_free(ctx, ts[q]);
                    }
                }
                static const char *const what[] = {"y", "hy", "g"};
                for (int way = 1; way < 3; way++)
                    for (int q = 0; q < 3; q++)
                        ck_assert_msg(memcmp(out[0][q], out[way][q],
                                             (q == 2 ? P : N) * sizeof(double)) == 0,
                                      "spec %d %s %s: vijp_cached's %s from a%s cache differs "
                                      "from vijp's", k, mw_dtype_name((mw_dtype)dt), l->label,
                                      what[q], way == 1 ? "n INPUT" : " FULL");
                for (int way = 0; way < 3; way++)
                    for (int q = 0; q < 3; q++)
                        free(out[way][q]);
                checked++;
            }
            mw_tensor_free(ctx, &thx);
            free(v);
            tu_net_free(&t);
        }
    ck_assert_msg(checked > 0, "no layer has vijp_cached");
}
END_TEST

/* A layer that says it works in place (mw_layer_ops.in_place) gives, with its output in
 * its input's buffer, the bits it gives out of place: forward (FULL) and vjp from that
 * cache, vijp, and vijp_cached from an INPUT cache; parameters moved off their initial
 * values. */
static double *down(mw_ctx *ctx, const void *p, size_t n)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    mw_tensor t = {(void *)p, n};
    ck_assert(v && mw_tensor_download(ctx, &t, 0, v, n) == MW_OK);
    return v;
}

static void same_bits(const double *a, const double *b, size_t n, const char *what, int k,
                      mw_dtype dt, const char *label)
{
    ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "spec %d %s %s: %s in place differs",
                  k, mw_dtype_name(dt), label, what);
}

START_TEST(in_place_is_out_of_place)
{
    int checked = 0;
    for (int k = 0; k < N_LAYER_SPECS; k++)
        for (int dt = 0; dt < 2; dt++) {
            tu_net t;
            moved_net(&t, k, (mw_dtype)dt);
            mw_ctx *ctx = t.ctx;
            const size_t N = t.N;
            double *v = malloc(N * sizeof *v);
            fill_random(v, N, tu_seed(), 45);
            mw_tensor th, y, hx, g, bx, bh, g2;
            ck_assert(mw_tensor_alloc(ctx, N, &th) == MW_OK && mw_tensor_alloc(ctx, N, &y) == MW_OK &&
                      mw_tensor_alloc(ctx, N, &hx) == MW_OK && mw_tensor_alloc(ctx, N, &bx) == MW_OK &&
                      mw_tensor_alloc(ctx, N, &bh) == MW_OK);
            ck_assert(mw_tensor_upload(ctx, &th, 0, v, N) == MW_OK);
            const mw_dims all = mw_d(1, 1, N);
            const mw_view vx = mw_v(t.batch->x.data, 0, 0), vh = mw_v(th.data, 0, 0);
            for (int i = 0; i < t.net->n_layers; i++) {
                const mw_layer *l = &t.net->layers[i];
                if (!l->ops->in_place)
                    continue;
                const size_t P = l->n_theta;
                ck_assert(mw_tensor_alloc(ctx, P, &g) == MW_OK && mw_tensor_alloc(ctx, P, &g2) == MW_OK);
                void *c1 = NULL, *c2 = NULL;
                double *a, *b;
                /* forward, then vjp from its cache */
                ck_assert(l->ops->forward(ctx, l, t.batch->x.data, y.data, MW_CACHE_FULL, &c1) == MW_OK);
                ck_assert(mw_copy(ctx, all, mw_v(bx.data, 0, 0), vx) == MW_OK);
                ck_assert(l->ops->forward(ctx, l, bx.data, bx.data, MW_CACHE_FULL, &c2) == MW_OK);
                a = down(ctx, y.data, N), b = down(ctx, bx.data, N);
                same_bits(a, b, N, "forward's y", k, (mw_dtype)dt, l->label);
                free(a), free(b);
                ck_assert(l->ops->vjp(ctx, l, c1, th.data, hx.data, g.data) == MW_OK);
                ck_assert(mw_copy(ctx, all, mw_v(bh.data, 0, 0), vh) == MW_OK);
                ck_assert(l->ops->vjp(ctx, l, c2, bh.data, bh.data, g2.data) == MW_OK);
                a = down(ctx, hx.data, N), b = down(ctx, bh.data, N);
                same_bits(a, b, N, "vjp's hx", k, (mw_dtype)dt, l->label);
                free(a), free(b);
                a = down(ctx, g.data, P), b = down(ctx, g2.data, P);
                same_bits(a, b, P, "vjp's g", k, (mw_dtype)dt, l->label);
                free(a), free(b);
                l->ops->cache_free(ctx, l, c1), l->ops->cache_free(ctx, l, c2);
                /* vijp, and vijp_cached from an INPUT cache */
                for (int way = 0; way < 2; way++) {
                    if (way == 1 && !l->ops->vijp_cached)
                        break;
                    c1 = c2 = NULL;
                    ck_assert(mw_copy(ctx, all, mw_v(bx.data, 0, 0), vx) == MW_OK);
                    ck_assert(mw_copy(ctx, all, mw_v(bh.data, 0, 0), vh) == MW_OK);
                    if (way == 0) {
                        ck_assert(l->ops->vijp(ctx, l, t.batch->x.data, th.data, y.data, hx.data,
                                               g.data) == MW_OK);
                        ck_assert(l->ops->vijp(ctx, l, bx.data, bh.data, bx.data, bh.data,
                                               g2.data) == MW_OK);
                    } else {
                        ck_assert(l->ops->forward(ctx, l, t.batch->x.data, NULL, MW_CACHE_INPUT,
                                                  &c1) == MW_OK);
                        ck_assert(l->ops->forward(ctx, l, t.batch->x.data, NULL, MW_CACHE_INPUT,
                                                  &c2) == MW_OK);
                        ck_assert(l->ops->vijp_cached(ctx, l, c1, t.batch->x.data, th.data,
                                                      y.data, hx.data, g.data) == MW_OK);
                        ck_assert(l->ops->vijp_cached(ctx, l, c2, bx.data, bh.data, bx.data,
                                                      bh.data, g2.data) == MW_OK);
                        l->ops->cache_free(ctx, l, c1), l->ops->cache_free(ctx, l, c2);
                    }
                    const char *w = way == 0 ? "vijp" : "vijp_cached";
                    char what[48];
                    a = down(ctx, y.data, N), b = down(ctx, bx.data, N);
                    snprintf(what, sizeof what, "%s's y", w);
                    same_bits(a, b, N, what, k, (mw_dtype)dt, l->label);
                    free(a), free(b);
                    a = down(ctx, hx.data, N), b = down(ctx, bh.data, N);
                    snprintf(what, sizeof what, "%s's hy", w);
                    same_bits(a, b, N, what, k, (mw_dtype)dt, l->label);
                    free(a), free(b);
                    a = down(ctx, g.data, P), b = down(ctx, g2.data, P);
                    snprintf(what, sizeof what, "%s's g", w);
                    same_bits(a, b, P, what, k, (mw_dtype)dt, l->label);
                    free(a), free(b);
                }
                mw_tensor_free(ctx, &g), mw_tensor_free(ctx, &g2);
                checked++;
            }
            mw_tensor_free(ctx, &th), mw_tensor_free(ctx, &y), mw_tensor_free(ctx, &hx);
            mw_tensor_free(ctx, &bx), mw_tensor_free(ctx, &bh);
            free(v);
            tu_net_free(&t);
        }
    ck_assert_msg(checked > 0, "no layer works in place");
}
END_TEST

/* The adjoint identity for T = 3 tangents at once: for each tangent t,
 * <v, J_x u_t + J_θ w_t> = <vjp_x(v), u_t> + <vjp_θ(v), w_t>. */
START_TEST(layer_adjoint_identity)
{
    const size_t T = 3;
    for (int k = 0; k < N_LAYER_SPECS; k++) {
        mw_spec s = layer_spec(k);
        tu_net t;
        tu_net_make(&t, &s, MW_F64);
        mw_ctx *ctx = t.ctx;
        for (int i = 0; i < t.net->n_layers; i++) {
            const mw_layer *l = &t.net->layers[i];
            const size_t P = l->n_theta, N = t.N;
            double *u = malloc(T * N * sizeof *u), *w = malloc(T * P * sizeof *w);
            double *v = malloc(N * sizeof *v), *ju = malloc(T * N * sizeof *ju);
            double *vx = malloc(N * sizeof *vx), *vt = malloc(P * sizeof *vt);
            fill_random(u, T * N, tu_seed(), 31), fill_random(w, T * P, tu_seed(), 32);
            fill_random(v, N, tu_seed(), 33);
            mw_tensor tu_, tw, tv, ty, tju, tvx, tvt;
            mw_tensor_alloc(ctx, T * N, &tu_), mw_tensor_alloc(ctx, T * P, &tw);
            mw_tensor_alloc(ctx, N, &tv), mw_tensor_alloc(ctx, N, &ty);
            mw_tensor_alloc(ctx, T * N, &tju), mw_tensor_alloc(ctx, N, &tvx);
            mw_tensor_alloc(ctx, P, &tvt);
            mw_tensor_upload(ctx, &tu_, 0, u, T * N), mw_tensor_upload(ctx, &tw, 0, w, T * P);
            mw_tensor_upload(ctx, &tv, 0, v, N);
            ck_assert(l->ops->jvp(ctx, l, T, t.batch->x.data, tu_.data, tw.data, P, ty.data,
                                  tju.data) == MW_OK);
            void *cache;
            ck_assert(l->ops->forward(ctx, l, t.batch->x.data, NULL, MW_CACHE_FULL, &cache) == MW_OK);
            ck_assert(l->ops->vjp(ctx, l, cache, tv.data, tvx.data, tvt.data) == MW_OK);
            l->ops->cache_free(ctx, l, cache);
            mw_tensor_download(ctx, &tju, 0, ju, T * N), mw_tensor_download(ctx, &tvx, 0, vx, N);
            mw_tensor_download(ctx, &tvt, 0, vt, P);
            for (size_t j = 0; j < T; j++) {
                double lhs = dot(v, ju + j * N, N);
                double rhs = dot(vx, u + j * N, N) + dot(vt, w + j * P, P);
                double scale = norm(v, N) * norm(ju + j * N, N) + norm(vx, N) * norm(u + j * N, N) +
                               norm(vt, P) * norm(w + j * P, P);
                ck_assert_msg(fabs(lhs - rhs) <= 256 * DBL_EPSILON * scale,
                              "spec %d %s tangent %zu: <v,Ju> %.17g vs <J'v,u> %.17g", k,
                              l->label, j, lhs, rhs);
            }
            mw_tensor *ts[] = {&tu_, &tw, &tv, &ty, &tju, &tvx, &tvt};
            for (int q = 0; q < 7; q++)
                mw_tensor_free(ctx, ts[q]);
            free(u), free(w), free(v), free(ju), free(vx), free(vt);
        }
        tu_net_free(&t);
    }
}
END_TEST

/* vijp inverts vjp: with (y, h_y, g) = vijp(x, h_x), vjp from forward(x) gives back
 * h_x from h_y, and the same parameter gradient g. */
START_TEST(layer_vijp_identity)
{
    for (int k = 0; k < N_LAYER_SPECS; k++) {
        mw_spec s = layer_spec(k);
        tu_net t;
        tu_net_make(&t, &s, MW_F64);
        mw_ctx *ctx = t.ctx;
        const size_t N = t.N;
        double *hx = malloc(N * sizeof *hx), *back = malloc(N * sizeof *back);
        fill_random(hx, N, tu_seed(), 41);
        for (int i = 0; i < t.net->n_layers; i++) {
            const mw_layer *l = &t.net->layers[i];
            const size_t P = l->n_theta;
            double *g1 = malloc(P * sizeof *g1), *g2 = malloc(P * sizeof *g2);
            mw_tensor thx, ty, thy, tg1, tback, tg2;
            mw_tensor_alloc(ctx, N, &thx), mw_tensor_alloc(ctx, N, &ty), mw_tensor_alloc(ctx, N, &thy);
            mw_tensor_alloc(ctx, P, &tg1), mw_tensor_alloc(ctx, N, &tback), mw_tensor_alloc(ctx, P, &tg2);
            mw_tensor_upload(ctx, &thx, 0, hx, N);
            ck_assert(l->ops->vijp(ctx, l, t.batch->x.data, thx.data, ty.data, thy.data, tg1.data) == MW_OK);
            void *cache;
            ck_assert(l->ops->forward(ctx, l, t.batch->x.data, NULL, MW_CACHE_FULL, &cache) == MW_OK);
            ck_assert(l->ops->vjp(ctx, l, cache, thy.data, tback.data, tg2.data) == MW_OK);
            l->ops->cache_free(ctx, l, cache);
            mw_tensor_download(ctx, &tback, 0, back, N);
            mw_tensor_download(ctx, &tg1, 0, g1, P), mw_tensor_download(ctx, &tg2, 0, g2, P);
            double e = tu_rel_l2(back, hx, N), eg = tu_rel_l2(g1, g2, P);
            /* relative error of a few operations, times cosh² of moderate z */
            ck_assert_msg(e <= 1e3 * DBL_EPSILON, "spec %d %s: |vjp(vijp(h)) - h|/|h| = %g",
                          k, l->label, e);
            ck_assert_msg(P == 0 || eg <= 1e3 * DBL_EPSILON, "spec %d %s: vijp's g differs by %g",
                          k, l->label, eg);
            mw_tensor *ts[] = {&thx, &ty, &thy, &tg1, &tback, &tg2};
            for (int q = 0; q < 6; q++)
                mw_tensor_free(ctx, ts[q]);
            free(g1), free(g2);
        }
        free(hx), free(back);
        tu_net_free(&t);
    }
}
END_TEST

/* ================================================================== methods */

/* f64 central differences of J agree with f64 backprop on every coordinate of a tiny
 * smooth network (tanh everywhere; with BN; a revnet with conv units, BN and ψ; affine
 * couplings on both). Step h = 1e-5: truncation |J'''| h²/6 ~
 * 1e-11 and cancellation eps |J|/h ~ 2e-11, so 1e-8 absolute leaves a margin. */
START_TEST(finite_differences_agree_with_backprop)
{
    for (int bn = 0; bn < 5; bn++) {
        mw_spec s = tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, bn % 2, tu_seed());
        s.hidden = 4;
        if (bn == 2) /* revnet: conv units with BN, ψ, the pooled head */
            s = tu_small_revnet(1, MW_ACT_TANH, MW_ACT_TANH, 2, 3, tu_seed());
        if (bn >= 3) /* affine couplings: an mlp with BN, a revnet */
            s = bn == 3 ? s : tu_small_revnet(1, MW_ACT_TANH, MW_ACT_LEAKY, 2, 3, tu_seed());
        if (bn >= 3)
            s.coupling = MW_COUPLING_AFFINE;
        tu_net t;
        tu_net_make(&t, &s, MW_F64);
        double *g = malloc(t.P * sizeof *g), *theta = malloc(t.P * sizeof *theta);
        tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
        ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
        const double h = 1e-5;
        for (size_t j = 0; j < t.P; j++) {
            double keep = theta[j], lp, lm;
            theta[j] = keep + h;
            mw_net_set_params(t.ctx, t.net, theta);
            ck_assert(mw_loss(t.ctx, t.net, t.batch, &lp) == MW_OK);
            theta[j] = keep - h;
            mw_net_set_params(t.ctx, t.net, theta);
            ck_assert(mw_loss(t.ctx, t.net, t.batch, &lm) == MW_OK);
            theta[j] = keep;
            double fd = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(fd - g[j]) <= 1e-8 + 1e-6 * fabs(g[j]),
                          "bn=%d coordinate %zu: backprop %.12g, central difference %.12g", bn, j,
                          g[j], fd);
        }
        free(g), free(theta);
        tu_net_free(&t);
    }
}
END_TEST

/* The five deterministic methods agree with backprop to 1e-12 relative in f64 (the
 * bound for moderately conditioned networks; measured values are 1e-16 to 1e-13), over
 * every F activation, every σ, BN on and off, depths 1 to 8, mlp and revnet (conv units, BN,
 * ψ between two blocks).
 *
 * One exception is measured, not hidden: moonwalk on BN + leaky σ at depth 8. Its
 * phase 1 builds h_0 by forward mode, whose rounding is not aligned with the layer
 * chain, and the vijp sweep multiplies it by J_1⁻¹…J_i⁻¹: leaky's 1/α = 10 and BN's
 * 1/σ_batch over 4 samples per layer. On this net its error grows about tenfold every
 * two layers (3e-16, 5e-15, 4e-14, 1.1e-12 at depths 2, 4, 6, 8) while forward stays at
 * 7e-16 and mixed, whose h_0 comes backwards through the same chain that the sweep then
 * undoes, at 1.5e-14. That cell gets 1e-10, the bound of `mwverify grad` checks. */
START_TEST(deterministic_methods_agree_f64)
{
    static const mw_method ms[4] = {MW_FORWARD, MW_REVBACKPROP, MW_MOONWALK, MW_MIXED};
    static const int depths[4] = {1, 2, 5, 8};
    for (int k = 0; k < N_LAYER_SPECS; k++)
        for (int di = 0; di < 4; di++) {
            mw_spec s = layer_spec(k);
            s.depth = depths[di];
            if (s.arch == MW_ARCH_REVNET) {
                /* 2 blocks: depths 2, 2, 6, 8; but 6 for tanh σ after ReLU + BN, which is
                 * not moderately conditioned at 8: F's BN-normalised output drives |z| to
                 * 3 or 4, where σ⁻¹ amplifies by cosh²(z) ~ 10², and revbackprop's
                 * reconstruction error measures 6e-15, 3.8e-12, 3.2e-9 at depths 2, 6, 8
                 * (gradient 3.2e-11, moonwalk 3.6e-10): the conditioning the stability
                 * suite reports, not an implementation error. */
                s.layers_per_block = (depths[di] + 1) / 2;
                if ((s.out_act == MW_ACT_TANH || s.coupling == MW_COUPLING_AFFINE) &&
                    s.layers_per_block > 3)
                    s.layers_per_block = 3;
                mw_spec_complete(&s);
            }
            /* The affine couplings likewise stop at 5 (mlp) and 6 (revnet) layers: each
             * layer's scale exp(±tanh) multiplies the inverses' amplification by up to e,
             * and on these 4-sample BN nets the inverse-based methods drift from backprop
             * at depth 8 — measured: revbackprop 5.6e-12, moonwalk 4.9e-11 (mlp, tanh σ);
             * moonwalk 1.1e-12 (revnet) — while forward mode stays at 5e-16 and 9e-16. */
            if (s.coupling == MW_COUPLING_AFFINE && s.arch == MW_ARCH_MLP && s.depth > 5)
                s.depth = 5;
            tu_net t;
            tu_net_make(&t, &s, MW_F64);
            double *ref = malloc(t.P * sizeof *ref), *g = malloc(t.P * sizeof *g);
            mw_grad_info info;
            tu_grad(&t, MW_BACKPROP, NULL, ref, NULL, MW_OK);
            for (int q = 0; q < 4; q++) {
                tu_grad(&t, ms[q], NULL, g, &info, MW_OK);
                double e = tu_rel_l2(g, ref, t.P);
                double tol = s.bn && s.out_act == MW_ACT_LEAKY && s.depth == 8 &&
                                     ms[q] == MW_MOONWALK
                                 ? 1e-10
                                 : 1e-12;
                ck_assert_msg(e <= tol, "spec %d depth %d: %s rel_l2 %.3g against backprop", k,
                              s.depth, mw_method_name(ms[q]), e);
                if (ms[q] == MW_MOONWALK || ms[q] == MW_MIXED)
                    /* the closure error is relative to |dJ/dx_L|; measured at 5 to 35 times
                     * the gradient's error on these nets */
                    ck_assert_msg(info.closure_err <= 100 * tol, "%s closure error %g",
                                  mw_method_name(ms[q]), info.closure_err);
                else
                    ck_assert(isnan(info.closure_err));
            }
            free(ref), free(g);
            tu_net_free(&t);
        }
}
END_TEST

/* Moonwalk's sample-separable shortcut and its general path (one tangent per input
 * coordinate of the batch) give the same gradient; BN forces the general path. */
START_TEST(moonwalk_shortcut_matches_general_path)
{
    mw_spec s = tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *a = malloc(t.P * sizeof *a), *b = malloc(t.P * sizeof *b);
    mw_grad_info ia, ib;
    mw_grad_opts o = mw_grad_opts_default();
    o.tangent_block = 5; /* blocks that do not divide n or B·n */
    tu_grad(&t, MW_MOONWALK, &o, a, &ia, MW_OK);
    o.moonwalk_general = 1;
    tu_grad(&t, MW_MOONWALK, &o, b, &ib, MW_OK);
    ck_assert(ia.separable && !ib.separable);
    ck_assert_msg(tu_rel_l2(a, b, t.P) <= 1e-14, "paths differ by %g", tu_rel_l2(a, b, t.P));
    tu_net_free(&t);
    s.bn = 1;
    tu_net_make(&t, &s, MW_F64);
    free(a), free(b);
    a = malloc(t.P * sizeof *a);
    tu_grad(&t, MW_MOONWALK, NULL, a, &ia, MW_OK);
    ck_assert_msg(!ia.separable, "BN couples samples: the shortcut must be off");
    free(a);
    tu_net_free(&t);
}
END_TEST

/* ProjForward is unbiased with E|ĝ_K - g|² = |g|²(d+1)/K for u ~ N(0, I_d). Over
 * K = 4..256 the error falls at the K^-1/2 rate: the fitted log-log slope is -1/2
 * within 0.1, and K·E|ĝ_K - g|²/(|g|²(d+1)) is 1 within 0.25. The squared error is
 * dominated by (d/K²)·Σ_k (g·u_k)², a scaled χ²_K, so its relative spread is sqrt(2/K);
 * averaging 1024/K independent steps brings it to sqrt(2/1024) = 0.044 for every K, and
 * 0.25 is more than 5 of those. */
START_TEST(projforward_converges_at_inverse_sqrt_rate)
{
    mw_spec s = tu_small_spec(2, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *g = malloc(t.P * sizeof *g), *e = malloc(t.P * sizeof *e);
    tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
    const double g2 = dot(g, g, t.P), d = (double)t.P;
    static const int Ks[4] = {4, 16, 64, 256};
    double lx[4], ly[4];
    for (int i = 0; i < 4; i++) {
        const int steps = 1024 / Ks[i];
        double mse = 0;
        for (int step = 0; step < steps; step++) {
            mw_grad_opts o = mw_grad_opts_default();
            o.proj_samples = Ks[i];
            o.rng_seed = tu_seed();
            o.rng_step = (uint64_t)(1000 * i + step);
            tu_grad(&t, MW_PROJFORWARD, &o, e, NULL, MW_OK);
            for (size_t j = 0; j < t.P; j++)
                mse += (e[j] - g[j]) * (e[j] - g[j]) / steps;
        }
        double ratio = mse * Ks[i] / (g2 * (d + 1));
        ck_assert_msg(fabs(ratio - 1) < 0.25, "K=%d: K E|e|²/(|g|²(d+1)) = %.3f (seed %llu)",
                      Ks[i], ratio, (unsigned long long)tu_seed());
        lx[i] = log((double)Ks[i]);
        ly[i] = 0.5 * log(mse);
    }
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (int i = 0; i < 4; i++)
        mx += lx[i] / 4, my += ly[i] / 4;
    for (int i = 0; i < 4; i++)
        sxy += (lx[i] - mx) * (ly[i] - my), sxx += (lx[i] - mx) * (lx[i] - mx);
    double slope = sxy / sxx;
    ck_assert_msg(fabs(slope + 0.5) < 0.1, "slope of log error against log K: %.3f", slope);
    free(g), free(e);
    tu_net_free(&t);
}
END_TEST

/* The same draws whatever the block size: K samples in blocks of 3 or all at once. */
START_TEST(projforward_independent_of_block)
{
    mw_spec s = tu_small_spec(2, MW_ACT_RELU, MW_ACT_LEAKY, 0, tu_seed());
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *a = malloc(t.P * sizeof *a), *b = malloc(t.P * sizeof *b);
    mw_grad_opts o = mw_grad_opts_default();
    o.proj_samples = 7;
    tu_grad(&t, MW_PROJFORWARD, &o, a, NULL, MW_OK);
    o.tangent_block = 3;
    tu_grad(&t, MW_PROJFORWARD, &o, b, NULL, MW_OK);
    ck_assert_msg(tu_rel_l2(a, b, t.P) <= 1e-14, "blocks change the estimate by %g",
                  tu_rel_l2(a, b, t.P));
    free(a), free(b);
    tu_net_free(&t);
}
END_TEST

/* f32 and f64 contexts of the same spec hold the same parameters (bit for bit: all are
 * float32 values) and compute close gradients: at depth 4, init scale 1, every method
 * is within 1e-4 of the f64 gradient (measured: about 1e-7). */
START_TEST(f32_and_f64_see_the_same_network)
{
    mw_spec s = tu_small_spec(4, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    tu_net a, b;
    tu_net_make(&a, &s, MW_F32);
    tu_net_make(&b, &s, MW_F64);
    double *ta = malloc(a.P * sizeof *ta), *tb = malloc(b.P * sizeof *tb);
    double *ga = malloc(a.P * sizeof *ga), *gb = malloc(b.P * sizeof *gb);
    ck_assert(mw_net_get_params(a.ctx, a.net, ta) == MW_OK);
    ck_assert(mw_net_get_params(b.ctx, b.net, tb) == MW_OK);
    ck_assert(memcmp(ta, tb, a.P * sizeof *ta) == 0);
    for (size_t j = 0; j < a.P; j++)
        ck_assert_msg(ta[j] == (double)(float)ta[j], "parameter %zu is not a float32 value", j);
    tu_grad(&b, MW_BACKPROP, NULL, gb, NULL, MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        if (m == MW_PROJFORWARD)
            continue;
        tu_grad(&a, (mw_method)m, NULL, ga, NULL, MW_OK);
        double e = tu_rel_l2(ga, gb, a.P);
        ck_assert_msg(e < 1e-4, "f32 %s: rel_l2 %g against f64", mw_method_name((mw_method)m), e);
    }
    free(ta), free(tb), free(ga), free(gb);
    tu_net_free(&a);
    tu_net_free(&b);
}
END_TEST

/* Asking for an inverse the network does not have is an error, never a silent result:
 * σ = leaky with slope 0 has none at all, and a saturated tanh has none in float32. */
START_TEST(inverse_of_non_invertible_is_an_error)
{
    mw_spec s = tu_small_spec(2, MW_ACT_RELU, MW_ACT_LEAKY, 0, tu_seed());
    s.leaky_slope = 0.0;
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *g = malloc(t.P * sizeof *g);
    tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
    static const mw_method inv[3] = {MW_REVBACKPROP, MW_MOONWALK, MW_MIXED};
    for (int q = 0; q < 3; q++) {
        tu_grad(&t, inv[q], NULL, g, NULL, MW_ERR_NOT_INVERTIBLE);
        ck_assert(strstr(mw_ctx_message(t.ctx), "invertible") != NULL);
    }
    tu_net_free(&t);
    free(g);

    /* init scale 60: |z| far beyond 9, where tanh(z) rounds to ±1 in float32 */
    s = tu_small_spec(2, MW_ACT_IDENTITY, MW_ACT_TANH, 0, tu_seed());
    s.init_scale = 60;
    tu_net_make(&t, &s, MW_F32);
    g = malloc(t.P * sizeof *g);
    tu_grad(&t, MW_REVBACKPROP, NULL, g, NULL, MW_ERR_NONFINITE);
    ck_assert_msg(strstr(mw_ctx_message(t.ctx), "inverse") != NULL, "message: %s",
                  mw_ctx_message(t.ctx));
    free(g);
    tu_net_free(&t);
}
END_TEST

/* Working memory against Table 1: backprop's peak grows with depth, revbackprop's and
 * moonwalk's do not change at all (they hold one layer at a time). */
START_TEST(peak_bytes_follow_table_1)
{
    size_t peak[2][MW_N_METHODS];
    const int depths[2] = {2, 6};
    for (int i = 0; i < 2; i++) {
        mw_spec s = tu_small_spec(depths[i], MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
        tu_net t;
        tu_net_make(&t, &s, MW_F32);
        double *g = malloc(t.P * sizeof *g);
        for (int m = 0; m < MW_N_METHODS; m++) {
            mw_grad_info info;
            tu_grad(&t, (mw_method)m, NULL, g, &info, MW_OK);
            peak[i][m] = info.peak_bytes;
        }
        free(g);
        tu_net_free(&t);
    }
    ck_assert(peak[1][MW_BACKPROP] > peak[0][MW_BACKPROP]);
    ck_assert(peak[1][MW_MIXED] > peak[0][MW_MIXED]);
    ck_assert_uint_eq(peak[1][MW_REVBACKPROP], peak[0][MW_REVBACKPROP]);
    ck_assert_uint_eq(peak[1][MW_MOONWALK], peak[0][MW_MOONWALK]);
    ck_assert_uint_eq(peak[1][MW_PROJFORWARD], peak[0][MW_PROJFORWARD]);
    /* mixed keeps less per layer than backprop (M_x against M_x + M_θ) */
    ck_assert(peak[1][MW_MIXED] - peak[0][MW_MIXED] <
              peak[1][MW_BACKPROP] - peak[0][MW_BACKPROP]);
}
END_TEST

/* The working memory a method must hold for each extra layer, in bytes, from the buffers
 * it keeps (docs/architecture.md §3, Table 1): backprop keeps every unit's input and pre-activation
 * (M_x + M_θ: B·(in_u + out_u) per unit) and σ's pre-activation z (B·n/2) unless σ is the
 * identity; mixed keeps only the pre-activations (M_x: B·out_u per unit, and z); every
 * other method keeps nothing per layer. Checked exactly, on mlps with k = 1 and k = 2,
 * σ none and tanh, from depth 12 to 13 and 13 to 14, in both dtypes. (Deep enough that
 * mixed's peak is its first phase, the layer caches, and not its constant second.) */
START_TEST(peak_bytes_per_layer_exact)
{
    for (int dt = 0; dt < 2; dt++)
        for (int k = 1; k <= 2; k++)
            for (int sig = 0; sig < 2; sig++) {
                size_t peak[3][MW_N_METHODS];
                mw_spec s0 = tu_small_spec(12, MW_ACT_TANH, sig ? MW_ACT_TANH : MW_ACT_IDENTITY, 0,
                                           tu_seed());
                s0.units = k;
                for (int i = 0; i < 3; i++) {
                    mw_spec s = s0;
                    s.depth = 12 + i;
                    tu_net t;
                    tu_net_make(&t, &s, (mw_dtype)dt);
                    double *g = malloc(t.P * sizeof *g);
                    for (int m = 0; m < MW_N_METHODS; m++) {
                        mw_grad_info info;
                        tu_grad(&t, (mw_method)m, NULL, g, &info, MW_OK);
                        peak[i][m] = info.peak_bytes;
                    }
                    free(g);
                    tu_net_free(&t);
                }
                const size_t e = dt == MW_F32 ? 4 : 8, B = (size_t)s0.batch;
                const size_t h = (size_t)s0.width / 2, hid = (size_t)s0.hidden;
                size_t full = 0, input = 0;
                for (int u = 1; u <= k; u++) {
                    size_t in = u == 1 ? h : hid, out = u == k ? h : hid;
                    full += B * (in + out) * e;
                    input += B * out * e;
                }
                const size_t z = sig ? B * h * e : 0;
                for (int i = 0; i < 2; i++) {
                    ck_assert_msg(peak[i + 1][MW_BACKPROP] - peak[i][MW_BACKPROP] == full + z,
                                  "%s k=%d σ %s: backprop grew by %zu bytes a layer, expected %zu",
                                  mw_dtype_name(dt), k, sig ? "tanh" : "none",
                                  peak[i + 1][MW_BACKPROP] - peak[i][MW_BACKPROP], full + z);
                    ck_assert_msg(peak[i + 1][MW_MIXED] - peak[i][MW_MIXED] == input + z,
                                  "%s k=%d: mixed grew by %zu bytes a layer, expected %zu",
                                  mw_dtype_name(dt), k, peak[i + 1][MW_MIXED] - peak[i][MW_MIXED],
                                  input + z);
                    static const mw_method flat[4] = {MW_FORWARD, MW_PROJFORWARD, MW_REVBACKPROP,
                                                      MW_MOONWALK};
                    for (int q = 0; q < 4; q++)
                        ck_assert_msg(peak[i + 1][flat[q]] == peak[i][flat[q]],
                                      "%s k=%d: %s grew from %zu to %zu bytes", mw_dtype_name(dt), k,
                                      mw_method_name(flat[q]), peak[i][flat[q]], peak[i + 1][flat[q]]);
                }
            }
}
END_TEST

/* The memory probe (first block of tangents per pass) has exactly the peak of the full
 * computation, for every method, on an mlp with BN and a revnet, with tangent blocks of
 * 5 so that every forward-mode pass has several. */
START_TEST(memory_probe_peak_equals_full)
{
    for (int k = 0; k < 2; k++) {
        mw_spec s = k == 0 ? tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 1, tu_seed())
                           : tu_small_revnet(1, MW_ACT_RELU, MW_ACT_LEAKY, 2, 3, tu_seed());
        tu_net t;
        tu_net_make(&t, &s, MW_F32);
        double *g = malloc(t.P * sizeof *g);
        for (int m = 0; m < MW_N_METHODS; m++) {
            mw_grad_opts o = mw_grad_opts_default();
            o.tangent_block = 5;
            o.proj_samples = 12;
            mw_grad_info full, probe;
            tu_grad(&t, (mw_method)m, &o, g, &full, MW_OK);
            o.memory_probe = 1;
            tu_grad(&t, (mw_method)m, &o, g, &probe, MW_OK);
            ck_assert_msg(probe.peak_bytes == full.peak_bytes && !probe.complete && full.complete,
                          "net %d %s: probe peak %zu, full %zu", k, mw_method_name((mw_method)m),
                          probe.peak_bytes, full.peak_bytes);
        }
        free(g);
        tu_net_free(&t);
    }
}
END_TEST

/* ================================================================= training */

/* Adam in the engine's dtype follows the same update done in double on the host: for
 * three steps of random gradients, within 32 ulps of the dtype per step of size lr. */
START_TEST(adam_matches_host)
{
    for (int dt = 0; dt < 2; dt++) {
        mw_spec s = tu_small_spec(1, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
        tu_net t;
        tu_net_make(&t, &s, (mw_dtype)dt);
        const size_t P = t.P;
        double *theta = malloc(P * sizeof *theta), *m = calloc(P, sizeof *m);
        double *v = calloc(P, sizeof *v), *g = malloc(P * sizeof *g), *got = malloc(P * sizeof *got);
        ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
        mw_adam a;
        ck_assert(mw_adam_init(t.ctx, t.net, 0.9, 0.999, 1e-8, &a) == MW_OK);
        mw_tensor gt;
        ck_assert(mw_tensor_alloc(t.ctx, P, &gt) == MW_OK);
        const double lr = 1e-3;
        for (int step = 1; step <= 3; step++) {
            fill_random(g, P, tu_seed(), 50 + (uint64_t)step);
            mw_tensor_upload(t.ctx, &gt, 0, g, P);
            ck_assert(mw_adam_step(t.ctx, t.net, &a, &gt, lr) == MW_OK);
            double bc1 = 1 - pow(0.9, step), bc2 = 1 - pow(0.999, step);
            for (size_t j = 0; j < P; j++) {
                m[j] = 0.9 * m[j] + 0.1 * g[j];
                v[j] = 0.999 * v[j] + 0.001 * g[j] * g[j];
                theta[j] -= lr * (m[j] / bc1) / (sqrt(v[j] / bc2) + 1e-8);
            }
        }
        ck_assert(mw_net_get_params(t.ctx, t.net, got) == MW_OK);
        for (size_t j = 0; j < P; j++)
            ck_assert_msg(fabs(got[j] - theta[j]) <= 32 * eps_of((mw_dtype)dt) * (fabs(theta[j]) + 3 * lr),
                          "%s parameter %zu: %.17g vs %.17g", mw_dtype_name((mw_dtype)dt), j, got[j],
                          theta[j]);
        ck_assert(a.t == 3);
        mw_tensor_free(t.ctx, &gt);
        mw_adam_free(t.ctx, &a);
        free(theta), free(m), free(v), free(g), free(got);
        tu_net_free(&t);
    }
}
END_TEST

/* mw_eval's loss is mw_loss's, its accuracy the argmax of logits made here from the last
 * layer's output and the head; a batch updated in place equals a fresh one. */
/* BatchNorm's running statistics are folded in exactly once per training step, by every
 * method, including those that recompute layers (revbackprop's reconstruction, moonwalk's
 * and mixed's second phase, the forward-mode passes): after one step the count is 1 and
 * the values are the ones backprop's single forward pass gives; after a second step with
 * the same batch, r2 = (1 - m) r1 + m b with b = (r1 - (1 - m) r0) / m, which a double
 * update would break. Without bn_update nothing moves. On a revnet (conv units, k = 2). */
START_TEST(bn_running_statistics_once_per_step)
{
    mw_spec s = tu_small_revnet(2, MW_ACT_TANH, MW_ACT_LEAKY, 2, 3, tu_seed());
    const double m = 0.1;
    double want_mean[64], want_var[64], got_mean[64], got_var[64];
    for (int meth = 0; meth < MW_N_METHODS; meth++) {
        tu_net t;
        tu_net_make(&t, &s, MW_F64);
        double *g = malloc(t.P * sizeof *g);
        mw_grad_opts o = mw_grad_opts_default();
        tu_grad(&t, (mw_method)meth, &o, g, NULL, MW_OK); /* bn_update off */
        long updates;
        ck_assert(mw_net_bn_running(t.ctx, t.net, 1, 1, got_mean, got_var, 3, &updates) == MW_OK);
        ck_assert_msg(updates == 0 && got_mean[0] == 0.0 && got_var[0] == 1.0,
                      "%s moved the statistics without bn_update", mw_method_name((mw_method)meth));
        o.bn_update = 1;
        for (int step = 1; step <= 2; step++) {
            tu_grad(&t, (mw_method)meth, &o, g, NULL, MW_OK);
            size_t at = 0;
            for (int l = 1; l <= s.depth; l++)
                for (int u = 1; u <= s.units; u++) {
                    int oc, ic;
                    mw_spec_unit_shape(&s, l, u, &oc, &ic);
                    ck_assert(mw_net_bn_running(t.ctx, t.net, l, u, got_mean, got_var,
                                                (size_t)oc, &updates) == MW_OK);
                    ck_assert_msg(updates == step, "%s step %d: layer %d unit %d folded %ld times",
                                  mw_method_name((mw_method)meth), step, l, u, updates);
                    for (int c = 0; c < oc; c++, at++) {
                        if (meth == MW_BACKPROP && step == 1) {
                            want_mean[at] = got_mean[c], want_var[at] = got_var[c];
                            continue;
                        }
                        double em = want_mean[at], ev = want_var[at];
                        if (step == 2) { /* r1 -> r2 with the same batch statistics b */
                            double bm = em / m, bv = (ev - (1 - m)) / m;
                            em = (1 - m) * em + m * bm, ev = (1 - m) * ev + m * bv;
                        }
                        ck_assert_msg(fabs(got_mean[c] - em) <= 1e-12 * (1 + fabs(em)) &&
                                          fabs(got_var[c] - ev) <= 1e-12 * (1 + ev),
                                      "%s step %d layer %d unit %d channel %d: running (%.17g, "
                                      "%.17g), expected (%.17g, %.17g)",
                                      mw_method_name((mw_method)meth), step, l, u, c, got_mean[c],
                                      got_var[c], em, ev);
                    }
                }
            ck_assert(at <= 64);
        }
        free(g);
        tu_net_free(&t);
    }
}
END_TEST

/* mw_eval(running) normalises with the running statistics, mw_loss with the batch's: on a one-
 * layer mlp with k = 1 (z = a Wᵀ + c, p = tanh z, q = γ (p - r_m)/sqrt(r_v + eps) + β,
 * y = (a, b + q), logits = y Wₕᵀ + cₕ) the loss by hand matches mw_eval with the initial
 * statistics (0, 1), and mw_net_bn_copy carries statistics from one net to another. */
START_TEST(eval_uses_running_statistics)
{
    mw_spec s = tu_small_spec(1, MW_ACT_TANH, MW_ACT_IDENTITY, 1, tu_seed());
    s.units = 1;
    s.width = 4;
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *theta = malloc(t.P * sizeof *theta), loss_eval, loss_train, acc;
    ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
    /* γ, β away from 1, 0 so that they matter */
    const mw_layout *lay = mw_net_layout(t.net);
    const int h = s.width / 2;
    double *W = theta, *c = W + h * h, *gam = c + h, *bet = gam + h;
    for (int j = 0; j < h; j++)
        gam[j] = 1.0 + 0.25 * (j + 1), bet[j] = -0.125 * (j + 1);
    ck_assert(mw_net_set_params(t.ctx, t.net, theta) == MW_OK);
    ck_assert(mw_eval(t.ctx, t.net, t.batch, 1, &loss_eval, &acc) == MW_OK);
    ck_assert(mw_loss(t.ctx, t.net, t.batch, &loss_train) == MW_OK);
    const double *Wh = theta + lay->layer_offset[2], *ch = Wh + s.classes * s.width;
    double want = 0;
    for (int b = 0; b < s.batch; b++) {
        const double *x = t.x + b * s.width;
        double y[16], lg[8], mx = -INFINITY, se = 0;
        for (int j = 0; j < h; j++) {
            double z = c[j];
            for (int i = 0; i < h; i++)
                z += W[j * h + i] * x[i];
            y[j] = x[j];
            y[h + j] = x[h + j] + gam[j] * (tanh(z) - 0.0) / sqrt(1.0 + s.bn_eps) + bet[j];
        }
        for (int k = 0; k < s.classes; k++) {
            lg[k] = ch[k];
            for (int j = 0; j < s.width; j++)
                lg[k] += Wh[k * s.width + j] * y[j];
            mx = fmax(mx, lg[k]);
        }
        for (int k = 0; k < s.classes; k++)
            se += exp(lg[k] - mx);
        want += (mx + log(se) - lg[t.labels[b]]) / s.batch;
    }
    ck_assert_msg(fabs(loss_eval - want) <= 1e-14 * fabs(want), "eval loss %.17g, by hand %.17g",
                  loss_eval, want);
    ck_assert_msg(fabs(loss_train - want) > 1e-6, "batch statistics should differ from (0, 1)");
    double loss_batch;
    ck_assert(mw_eval(t.ctx, t.net, t.batch, 0, &loss_batch, &acc) == MW_OK);
    ck_assert_msg(loss_batch == loss_train, "training-mode eval %.17g, mw_loss %.17g", loss_batch,
                  loss_train);
    /* statistics carried over: after a recorded step, a copy evaluates the same */
    mw_grad_opts o = mw_grad_opts_default();
    o.bn_update = 1;
    tu_grad(&t, MW_BACKPROP, &o, theta, NULL, MW_OK);
    tu_net other;
    tu_net_make(&other, &s, MW_F64);
    ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
    ck_assert(mw_net_set_params(other.ctx, other.net, theta) == MW_OK);
    double la, lb;
    ck_assert(mw_eval(t.ctx, t.net, t.batch, 1, &la, &acc) == MW_OK);
    ck_assert(mw_eval(other.ctx, other.net, other.batch, 1, &lb, &acc) == MW_OK);
    ck_assert(la != lb);
    ck_assert(mw_net_bn_copy(other.ctx, other.net, t.net) == MW_OK);
    ck_assert(mw_eval(other.ctx, other.net, other.batch, 1, &lb, &acc) == MW_OK);
    ck_assert_msg(la == lb, "after the copy: %.17g vs %.17g", la, lb);
    free(theta);
    tu_net_free(&t);
    tu_net_free(&other);
}
END_TEST

START_TEST(eval_and_batch_update)
{
    mw_spec s = tu_small_spec(2, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    s.batch = 16;
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double loss, loss2, acc;
    ck_assert(mw_eval(t.ctx, t.net, t.batch, 1, &loss, &acc) == MW_OK);
    ck_assert(mw_loss(t.ctx, t.net, t.batch, &loss2) == MW_OK);
    ck_assert(loss == loss2);
    double *acts = malloc((size_t)s.depth * t.N * sizeof *acts), *theta = malloc(t.P * sizeof *theta);
    ck_assert(mw_net_activations(t.ctx, t.net, t.batch, acts) == MW_OK);
    ck_assert(mw_net_get_params(t.ctx, t.net, theta) == MW_OK);
    const mw_layout *lay = mw_net_layout(t.net);
    const double *W = theta + lay->layer_offset[s.depth + 1], *c = W + s.classes * s.width;
    const double *xL = acts + (size_t)(s.depth - 1) * t.N;
    int right = 0;
    for (int b = 0; b < s.batch; b++) {
        int best = 0;
        double bestv = -INFINITY;
        for (int k = 0; k < s.classes; k++) {
            double l = c[k];
            for (int j = 0; j < s.width; j++)
                l += W[k * s.width + j] * xL[b * s.width + j];
            if (l > bestv)
                bestv = l, best = k;
        }
        right += best == t.labels[b];
    }
    ck_assert_msg(acc == (double)right / s.batch, "accuracy %g, by hand %d/%d", acc, right, s.batch);
    /* a new batch in place */
    double *x2 = malloc(t.N * sizeof *x2);
    int *y2 = malloc((size_t)s.batch * sizeof *y2);
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 1000, s.batch, x2, y2);
    ck_assert(mw_batch_update(t.ctx, t.net, t.batch, x2, y2) == MW_OK);
    mw_batch *fresh;
    ck_assert(mw_batch_new(t.ctx, t.net, x2, y2, &fresh) == MW_OK);
    double la, lb, aa, ab;
    ck_assert(mw_eval(t.ctx, t.net, t.batch, 1, &la, &aa) == MW_OK);
    ck_assert(mw_eval(t.ctx, t.net, fresh, 1, &lb, &ab) == MW_OK);
    ck_assert(la == lb && aa == ab);
    y2[0] = s.classes; /* out of range: refused */
    ck_assert(mw_batch_update(t.ctx, t.net, t.batch, x2, y2) == MW_ERR_ARG);
    mw_batch_free(t.ctx, fresh);
    free(acts), free(theta), free(x2), free(y2);
    tu_net_free(&t);
}
END_TEST

/* revbackprop reports how far its rebuilt input is from the true one: at rounding level
 * in f64 on a moderate network (a few hundred ulps through 4 inverses), NaN for the
 * other methods. */
START_TEST(revbackprop_reconstruction_error)
{
    mw_spec s = tu_small_spec(4, MW_ACT_TANH, MW_ACT_TANH, 0, tu_seed());
    tu_net t;
    tu_net_make(&t, &s, MW_F64);
    double *g = malloc(t.P * sizeof *g);
    mw_grad_info info;
    tu_grad(&t, MW_REVBACKPROP, NULL, g, &info, MW_OK);
    ck_assert_msg(info.recon_err >= 0 && info.recon_err < 1e3 * DBL_EPSILON, "recon %g",
                  info.recon_err);
    tu_grad(&t, MW_BACKPROP, NULL, g, &info, MW_OK);
    ck_assert(isnan(info.recon_err));
    free(g);
    tu_net_free(&t);
}
END_TEST

/* =================================================================== golden */

/* Every method of the f64 engine reproduces the 60-digit golden cases: loss, every
 * parameter gradient tensor, the input gradient, every layer output, each to
 * 1e-12 · max |tensor| (tests/golden/README.md: PyTorch float64 is within 2.4e-14). */
static void check_tensor(const tu_golden *gc, const char *what, const double *got,
                         const double *want, size_t n)
{
    double tol = 1e-12 * tu_max_abs(want, n), worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(got[i] - want[i]) > worst)
            worst = fabs(got[i] - want[i]), at = i;
    ck_assert_msg(worst <= tol, "%s %s: |got - want| = %.3g at %zu (got %.17g, want %.17g), tol %.3g",
                  gc->name, what, worst, at, got[at], want[at], tol);
}

static void check_golden(const char *name)
{
    tu_golden gc;
    tu_golden_load(&gc, name);
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    ck_assert(mw_ctx_new(MW_BACKEND_CPU, MW_F64, &ctx) == MW_OK);
    ck_assert(mw_net_new(ctx, &gc.spec, &net) == MW_OK);
    ck_assert(mw_net_set_params(ctx, net, gc.theta) == MW_OK);
    ck_assert(mw_batch_new(ctx, net, gc.x, gc.labels, &batch) == MW_OK);
    const mw_layout *lay = mw_net_layout(net);

    double *acts = malloc((size_t)gc.spec.depth * gc.N * sizeof *acts);
    ck_assert(mw_net_activations(ctx, net, batch, acts) == MW_OK);
    for (int l = 0; l < gc.spec.depth; l++) {
        char what[32];
        snprintf(what, sizeof what, "layer%d output", l + 1);
        check_tensor(&gc, what, acts + (size_t)l * gc.N, gc.acts + (size_t)l * gc.N, gc.N);
    }
    double *h0 = malloc(gc.N * sizeof *h0), loss;
    ck_assert(mw_input_gradient(ctx, net, batch, h0) == MW_OK);
    check_tensor(&gc, "input_grad", h0, gc.input_grad, gc.N);
    ck_assert(mw_loss(ctx, net, batch, &loss) == MW_OK);
    check_tensor(&gc, "loss", &loss, &gc.loss, 1);

    double *g = malloc(gc.P * sizeof *g);
    mw_tensor gt;
    ck_assert(mw_tensor_alloc(ctx, gc.P, &gt) == MW_OK);
    for (int m = 0; m < MW_N_METHODS; m++) {
        if (m == MW_PROJFORWARD)
            continue;
        mw_grad_info info;
        mw_status st = mw_grad(ctx, net, batch, (mw_method)m, NULL, &gt, &info);
        ck_assert_msg(st == MW_OK, "%s %s: %s", name, mw_method_name((mw_method)m),
                      mw_ctx_message(ctx));
        mw_tensor_download(ctx, &gt, 0, g, gc.P);
        for (int p = 0; p < lay->n_params; p++) {
            char what[96];
            const mw_param_info *pi = &lay->params[p];
            snprintf(what, sizeof what, "%s grad %s", mw_method_name((mw_method)m), pi->name);
            check_tensor(&gc, what, g + pi->offset, gc.grad + pi->offset, pi->count);
        }
        check_tensor(&gc, "loss (method)", &info.loss, &gc.loss, 1);
    }
    mw_tensor_free(ctx, &gt);
    free(g), free(h0), free(acts);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    tu_golden_free(&gc);
}

START_TEST(golden_mlp_cases)
{
    static const char *cases[] = {"mlp-01", "mlp-02", "mlp-03", "mlp-04", "mlp-05",
                                  "mlp-06", "mlp-07", "mlp-08", "mlp-09"};
    check_golden(cases[_i]);
}
END_TEST

/* The conv couplings with BatchNorm, ψ between blocks and the pooled head. */
START_TEST(golden_revnet_cases)
{
    static const char *cases[] = {"revnet-01", "revnet-02"};
    check_golden(cases[_i]);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, philox_moments);
    tcase_add_test(tc, allocator_tracks_live_and_peak);
    tcase_add_test(tc, upload_rounds_to_dtype);
    suite_add_tcase(s, tc);

    tc = tcase_create("kernels");
    tcase_add_test(tc, gemm_matches_loops);
    tcase_add_test(tc, gemm_refuses_bad_sizes);
    tcase_add_test(tc, activation_kernels);
    tcase_add_test(tc, tanh_derivative_is_stable);
    tcase_add_test(tc, f32_tanh_family_correctly_rounded);
    tcase_add_test(tc, f32_tanh_family_edges);
    tcase_add_test(tc, act_with_dinv_mul_is_both);
    tcase_add_test(tc, find_nonfinite_finds_the_first);
    tcase_add_test(tc, batchnorm_kernels);
    tcase_add_test(tc, xent_kernel);
    tcase_add_test(tc, image_kernels);
    suite_add_tcase(s, tc);

    tc = tcase_create("layers");
    tcase_add_test(tc, layer_registry_lists_every_layer);
    tcase_add_test(tc, layer_round_trip);
    tcase_add_test(tc, inverse_cached_is_inverse_then_forward);
    tcase_add_test(tc, vijp_cached_is_vijp);
    tcase_add_test(tc, in_place_is_out_of_place);
    tcase_add_test(tc, layer_adjoint_identity);
    tcase_add_test(tc, layer_vijp_identity);
    suite_add_tcase(s, tc);

    tc = tcase_create("methods");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, finite_differences_agree_with_backprop);
    tcase_add_test(tc, deterministic_methods_agree_f64);
    tcase_add_test(tc, moonwalk_shortcut_matches_general_path);
    tcase_add_test(tc, projforward_converges_at_inverse_sqrt_rate);
    tcase_add_test(tc, projforward_independent_of_block);
    tcase_add_test(tc, f32_and_f64_see_the_same_network);
    tcase_add_test(tc, inverse_of_non_invertible_is_an_error);
    tcase_add_test(tc, peak_bytes_follow_table_1);
    tcase_add_test(tc, peak_bytes_per_layer_exact);
    tcase_add_test(tc, memory_probe_peak_equals_full);
    suite_add_tcase(s, tc);

    tc = tcase_create("training");
    tcase_add_test(tc, adam_matches_host);
    tcase_add_test(tc, eval_and_batch_update);
    tcase_add_test(tc, bn_running_statistics_once_per_step);
    tcase_add_test(tc, eval_uses_running_statistics);
    tcase_add_test(tc, revbackprop_reconstruction_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("golden");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, golden_mlp_cases, 0, 9);
    tcase_add_loop_test(tc, golden_revnet_cases, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_main(engine_suite());
}
