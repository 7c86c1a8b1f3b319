/* Tests of engine/cuda, run where a CUDA device exists: Philox draws on the GPU equal
 * the CPU's; every primitive of the CUDA backend table against the CPU's on random
 * inputs, within a bound derived from the operation (the rounding of each backend is at
 * most a few units in the last place per operation, so the two differ by at most the
 * sum over the operation's terms of those); all six methods on an mlp and a revnet, GPU
 * against CPU against gold; the same bits on two runs; the same tracked peak bytes as the
 * CPU (the methods ask for the same buffers); gradcheck and a small stability suite through
 * the command line with --engine cuda. Without a device the program prints why and exits
 * 77 (skipped). CUDA is initialised in this process, so Check runs unforked. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "mw_cuda.h"
#include "oracles.h"
#include "philox.h"
#include "testutil.h"

/* Uniforms are integer arithmetic and one exact conversion: the same bits. Normals go
 * through log, sqrt, sin, cos, where CUDA's double functions are within 2 ulps of
 * glibc's: 8 ulps of the value (plus 1e-300 for values near 0) bounds the difference. */
START_TEST(philox_on_gpu_equals_cpu)
{
    const size_t n = 4099;
    double *gpu = malloc(n * sizeof *gpu);
    char msg[256];
    for (int normal = 0; normal < 2; normal++) {
        ck_assert_msg(mw_cuda_philox(gpu, n, tu_seed(), 5, 1000, normal, msg, sizeof msg) == 0,
                      "%s", msg);
        for (size_t i = 0; i < n; i++) {
            double cpu = normal ? mw_philox_normal(tu_seed(), 5, 1000 + i)
                                : mw_philox_uniform(tu_seed(), 5, 1000 + i);
            double tol = normal ? 8 * DBL_EPSILON * fabs(cpu) + 1e-300 : 0.0;
            ck_assert_msg(fabs(gpu[i] - cpu) <= tol, "%s draw %zu: gpu %.17g cpu %.17g",
                          normal ? "normal" : "uniform", i, gpu[i], cpu);
        }
    }
    free(gpu);
}
END_TEST

/* ---- the primitives: one CPU and one GPU context of a dtype, the same inputs ---- */

typedef struct pair {
    mw_dtype dt;
    mw_ctx *c[2]; /* cpu, gpu */
    double u;     /* unit roundoff of the dtype */
} pair;

static pair pair_open(mw_dtype dt)
{
    pair p = {dt, {NULL, NULL}, dt == MW_F32 ? FLT_EPSILON / 2 : DBL_EPSILON / 2};
    char msg[256];
    ck_assert(mw_ctx_open(MW_BACKEND_CPU, dt, NULL, &p.c[0], msg, sizeof msg) == MW_OK);
    ck_assert_msg(mw_ctx_open(MW_BACKEND_CUDA, dt, NULL, &p.c[1], msg, sizeof msg) == MW_OK, "%s",
                  msg);
    return p;
}

static void pair_close(pair *p)
{
    mw_ctx_free(p->c[0]);
    mw_ctx_free(p->c[1]);
}

/* A buffer on both sides with the same values (rounded to the dtype). */
typedef struct twin {
    mw_tensor t[2];
    size_t n;
} twin;

static twin twin_make(pair *p, const double *v, size_t n)
{
    twin w = {{{0}, {0}}, n};
    for (int k = 0; k < 2; k++) {
        ck_assert(mw_tensor_alloc(p->c[k], n ? n : 1, &w.t[k]) == MW_OK);
        if (v && n)
            ck_assert(mw_tensor_upload(p->c[k], &w.t[k], 0, v, n) == MW_OK);
    }
    return w;
}

static twin twin_random(pair *p, size_t n, uint64_t stream, double scale)
{
    double *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = scale * mw_philox_normal(tu_seed(), stream, i);
    twin w = twin_make(p, v, n);
    free(v);
    return w;
}

static void twin_free(pair *p, twin *w)
{
    mw_tensor_free(p->c[0], &w->t[0]);
    mw_tensor_free(p->c[1], &w->t[1]);
}

/* GPU against CPU: |g - c| <= bound[i] (or bound0 when bound is NULL) at every element. */
static void twin_expect(pair *p, const twin *w, const double *bound, double bound0,
                        const char *what)
{
    double *a = malloc(w->n * sizeof *a), *b = malloc(w->n * sizeof *b);
    ck_assert(mw_tensor_download(p->c[0], &w->t[0], 0, a, w->n) == MW_OK);
    ck_assert_msg(mw_tensor_download(p->c[1], &w->t[1], 0, b, w->n) == MW_OK, "%s: %s", what,
                  mw_ctx_message(p->c[1]));
    for (size_t i = 0; i < w->n; i++) {
        double tol = bound ? bound[i] : bound0;
        ck_assert_msg(fabs(a[i] - b[i]) <= tol || (isnan(a[i]) && isnan(b[i])) ||
                          (isinf(a[i]) && a[i] == b[i]),
                      "%s %s [%zu]: cpu %.17g gpu %.17g, bound %.3g", mw_dtype_name(p->dt), what,
                      i, a[i], b[i], tol);
    }
    free(a), free(b);
}

static void host_of(pair *p, const twin *w, double *out)
{
    ck_assert(mw_tensor_download(p->c[0], &w->t[0], 0, out, w->n) == MW_OK);
}

/* gemm, batched, every transpose, a broadcast A (stride 0), and K = 0: the difference of
 * two roundings of a K-term dot product is at most 2 (K + 2) u Σ_k |a_k b_k|. */
static void check_gemm(pair *p)
{
    static const int tr[4][2] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}};
    const size_t M = 7, N = 5, K = 9, count = 3;
    for (int q = 0; q < 4; q++)
        for (int bcast = 0; bcast < 2; bcast++)
            for (int zeroK = 0; zeroK < 2; zeroK++) {
                const size_t k = zeroK ? 0 : K;
                const int ta = tr[q][0], tb = tr[q][1];
                const size_t lda = (ta ? M : k) + 1, ldb = (tb ? k : N) + 2, ldc = N + 1;
                const size_t arows = ta ? k : M, brows = tb ? N : k;
                const ptrdiff_t sA = bcast ? 0 : (ptrdiff_t)(arows * lda + 3);
                const ptrdiff_t sB = (ptrdiff_t)(brows * ldb), sC = (ptrdiff_t)(M * ldc + 1);
                size_t na = (size_t)sA * (count - 1) + arows * lda + 1, nb = (size_t)sB * count + 1;
                size_t nc = (size_t)sC * count;
                twin A = twin_random(p, na, 21, 1.0), B = twin_random(p, nb, 22, 1.0);
                twin C = twin_random(p, nc, 23, 1.0);
                double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
                double *c0 = malloc(nc * sizeof *c0), *bound = malloc(nc * sizeof *bound);
                host_of(p, &A, a), host_of(p, &B, b), host_of(p, &C, c0);
                for (int s = 0; s < 2; s++)
                    ck_assert_msg(p->c[s]->ops->gemm(p->c[s], ta, tb, M, N, k, 1.25, A.t[s].data,
                                                     lda, sA, B.t[s].data, ldb, sB, -0.5,
                                                     C.t[s].data, ldc, sC, count) == MW_OK,
                                  "%s", mw_ctx_message(p->c[s]));
                for (size_t i = 0; i < nc; i++)
                    bound[i] = 0.0;
                for (size_t bi = 0; bi < count; bi++)
                    for (size_t r = 0; r < M; r++)
                        for (size_t cc = 0; cc < N; cc++) {
                            double mag = 0.5 * fabs(c0[bi * (size_t)sC + r * ldc + cc]);
                            for (size_t kk = 0; kk < k; kk++) {
                                double av = a[bi * (size_t)sA + (ta ? kk * lda + r : r * lda + kk)];
                                double bv = b[bi * (size_t)sB + (tb ? cc * ldb + kk : kk * ldb + cc)];
                                mag += 1.25 * fabs(av * bv);
                            }
                            bound[bi * (size_t)sC + r * ldc + cc] = 2.0 * (double)(k + 2) * p->u * mag;
                        }
                char what[64];
                snprintf(what, sizeof what, "gemm ta=%d tb=%d bcast=%d K=%zu", ta, tb, bcast, k);
                twin_expect(p, &C, bound, 0, what);
                twin_free(p, &A), twin_free(p, &B), twin_free(p, &C);
                free(a), free(b), free(c0), free(bound);
            }
}

/* gemm_sum: C = beta C + alpha Σ_i op(A_i) op(B_i) over count = 9 products, every
 * transpose; the GPU's partials in chunks of 4 products and one (MW_CUDA_SUM_SCRATCH) as
 * well as whole. The bound of a count·K-term dot product. */
static void check_gemm_sum(pair *p)
{
    const size_t M = 4, N = 5, K = 6, count = 9;
    static const char *const scratch[3] = {NULL, "320", "1"};
    for (int q = 0; q < 4; q++)
        for (int sc = 0; sc < 3; sc++) {
            const int ta = q / 2, tb = q % 2;
            const size_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
            const ptrdiff_t sA = (ptrdiff_t)((ta ? K : M) * lda + 1);
            const ptrdiff_t sB = (ptrdiff_t)((tb ? N : K) * ldb);
            const size_t na = (size_t)sA * count, nb = (size_t)sB * count, nc = M * ldc;
            twin A = twin_random(p, na, 24, 1.0), B = twin_random(p, nb, 25, 1.0);
            twin C = twin_random(p, nc, 26, 1.0);
            double *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
            double *c0 = malloc(nc * sizeof *c0), *bound = malloc(nc * sizeof *bound);
            host_of(p, &A, a), host_of(p, &B, b), host_of(p, &C, c0);
            if (scratch[sc])
                setenv("MW_CUDA_SUM_SCRATCH", scratch[sc], 1);
            for (int s = 0; s < 2; s++)
                ck_assert_msg(p->c[s]->ops->gemm_sum(p->c[s], ta, tb, M, N, K, 0.75, A.t[s].data,
                                                     lda, sA, B.t[s].data, ldb, sB, -1.5,
                                                     C.t[s].data, ldc, count) == MW_OK,
                              "%s", mw_ctx_message(p->c[s]));
            unsetenv("MW_CUDA_SUM_SCRATCH");
            for (size_t r = 0; r < M; r++)
                for (size_t cc = 0; cc < ldc; cc++) {
                    double mag = 1.5 * fabs(c0[r * ldc + cc]);
                    for (size_t i = 0; cc < N && i < count; i++)
                        for (size_t k = 0; k < K; k++)
                            mag += 0.75 * fabs(a[i * (size_t)sA + (ta ? k * lda + r : r * lda + k)] *
                                               b[i * (size_t)sB + (tb ? cc * ldb + k : k * ldb + cc)]);
                    /* beyond column N: C's gap, untouched on both sides */
                    bound[r * ldc + cc] = cc < N ? 2.0 * (double)(count * K + 2) * p->u * mag : 0.0;
                }
            char what[80];
            snprintf(what, sizeof what, "gemm_sum ta=%d tb=%d scratch=%s", ta, tb,
                     scratch[sc] ? scratch[sc] : "whole");
            twin_expect(p, &C, bound, 0, what);
            twin_free(p, &A), twin_free(p, &B), twin_free(p, &C);
            free(a), free(b), free(c0), free(bound);
        }
}

/* Elementwise ops on strided views with a broadcast operand: one rounding each on both
 * sides, plus the transcendentals' own few ulps: 8 u |value| covers them. */
static void check_ew(pair *p)
{
    const size_t T = 3, R = 4, C = 5;
    const ptrdiff_t st = (ptrdiff_t)(R * (C + 2)), sr = (ptrdiff_t)(C + 2);
    const size_t n = T * (size_t)st;
    for (int op = MW_EW_FILL; op <= MW_EW_ACT_WITH_DINV_MUL; op++)
        for (int act = 0; act < 4; act++) {
            const bool with_act = (op >= MW_EW_ACT && op <= MW_EW_ACT_DINV_MUL) ||
                                  op == MW_EW_ACT_WITH_DINV_MUL;
            if (!with_act && act > 0)
                continue;
            if ((op == MW_EW_ACT_INV || op == MW_EW_ACT_DINV_MUL ||
                 op == MW_EW_ACT_WITH_DINV_MUL) && act == MW_ACT_RELU)
                continue; /* not invertible: never asked */
            twin a = twin_random(p, n, 31, op == MW_EW_ACT_INV && act == MW_ACT_TANH ? 0.3 : 1.5);
            twin b = twin_random(p, R * (size_t)sr, 32, 1.0); /* broadcast over T */
            twin o = twin_random(p, n, 33, 1.0), o2 = twin_random(p, n, 34, 1.0);
            for (int s = 0; s < 2; s++) {
                mw_ew e = {(mw_ew_op)op, (mw_act)act, 0.1, 0.75, -1.5, mw_d(T, R, C),
                           mw_v(o.t[s].data, st, sr), mw_v(a.t[s].data, st, sr),
                           mw_v(b.t[s].data, 0, sr), mw_v(o2.t[s].data, st, sr)};
                ck_assert_msg(p->c[s]->ops->ew(p->c[s], &e) == MW_OK, "%s", mw_ctx_message(p->c[s]));
            }
            double *ov = malloc(n * sizeof *ov), *bound = malloc(n * sizeof *bound);
            for (int k = 0; k < (op == MW_EW_ACT_WITH_DINV_MUL ? 2 : 1); k++) {
                twin *out = k == 0 ? &o : &o2;
                host_of(p, out, ov);
                for (size_t i = 0; i < n; i++)
                    bound[i] = 8 * p->u * fabs(ov[i]) + 1e-300;
                char what[64];
                snprintf(what, sizeof what, "ew op %d act %s%s", op, mw_act_name((mw_act)act),
                         k ? " (out2)" : "");
                twin_expect(p, out, bound, 0, what);
            }
            free(ov), free(bound);
            twin_free(p, &a), twin_free(p, &b), twin_free(p, &o), twin_free(p, &o2);
        }
}

/* Reductions of n terms in another order: n u Σ|terms| (twice, for both sides). */
static double sum_bound(const pair *p, double n, double mag)
{
    return 2.0 * (n + 2) * p->u * mag + 1e-300;
}

static void check_reductions(pair *p)
{
    const size_t T = 2, R = 37, C = 6;
    twin in = twin_random(p, T * R * C, 41, 1.0), o = twin_random(p, T * C, 42, 1.0);
    twin a = twin_random(p, T * R * C, 43, 1.0), rd = twin_random(p, T * R, 44, 1.0);
    double *x = malloc(T * R * C * sizeof *x), *y = malloc(T * R * C * sizeof *y);
    host_of(p, &in, x), host_of(p, &a, y);
    for (int s = 0; s < 2; s++) {
        ck_assert(p->c[s]->ops->sum_rows(p->c[s], mw_d(T, R, C), mw_v(in.t[s].data, (ptrdiff_t)(R * C), (ptrdiff_t)C),
                                         2.0, 0.0, mw_v(o.t[s].data, (ptrdiff_t)C, 0)) == MW_OK);
        ck_assert(p->c[s]->ops->rowdot(p->c[s], mw_d(T, R, C), mw_v(in.t[s].data, (ptrdiff_t)(R * C), (ptrdiff_t)C),
                                       mw_v(a.t[s].data, (ptrdiff_t)(R * C), (ptrdiff_t)C), 0.5,
                                       mw_v(rd.t[s].data, (ptrdiff_t)R, 1)) == MW_OK);
    }
    double mag = 0, dmag = 0;
    for (size_t i = 0; i < T * R * C; i++)
        mag += 2.0 * fabs(x[i]), dmag += 0.5 * fabs(x[i] * y[i]);
    twin_expect(p, &o, NULL, sum_bound(p, R, mag), "sum_rows");
    twin_expect(p, &rd, NULL, sum_bound(p, C, dmag), "rowdot");
    /* dot, dist2, sum accumulate in double on both sides */
    double r[2][3];
    for (int s = 0; s < 2; s++) {
        ck_assert(p->c[s]->ops->dot(p->c[s], T * R * C, in.t[s].data, a.t[s].data, &r[s][0]) == MW_OK);
        ck_assert(p->c[s]->ops->dist2(p->c[s], T * R * C, in.t[s].data, a.t[s].data, &r[s][1]) == MW_OK);
        ck_assert(p->c[s]->ops->sum(p->c[s], T * R * C, in.t[s].data, &r[s][2]) == MW_OK);
    }
    double n = (double)(T * R * C);
    ck_assert(fabs(r[0][0] - r[1][0]) <= 2 * (n + 2) * DBL_EPSILON * dmag * 2);
    ck_assert(fabs(r[0][1] - r[1][1]) <= 2 * (n + 2) * DBL_EPSILON * r[0][1]);
    ck_assert(fabs(r[0][2] - r[1][2]) <= 2 * (n + 2) * DBL_EPSILON * mag);
    /* find_nonfinite: the first, exactly */
    double bad[9] = {1, 2, 3, 4, INFINITY, 6, NAN, 8, 9};
    twin nf = twin_make(p, bad, 9);
    size_t first[2];
    for (int s = 0; s < 2; s++)
        ck_assert(p->c[s]->ops->find_nonfinite(p->c[s], 9, nf.t[s].data, &first[s]) == MW_OK);
    ck_assert(first[0] == 4 && first[1] == 4);
    twin_free(p, &nf);
    twin_free(p, &in), twin_free(p, &o), twin_free(p, &a), twin_free(p, &rd);
    free(x), free(y);
}

/* Softmax cross-entropy of B rows of C logits: a few transcendentals and C-term sums. */
static void check_xent(pair *p)
{
    const size_t B = 9, C = 7;
    int labels[9];
    for (size_t b = 0; b < B; b++)
        labels[b] = (int)(b * 3 % C);
    twin lg = twin_random(p, B * C, 51, 3.0), loss = twin_make(p, NULL, B), G = twin_make(p, NULL, B * C);
    void *lab[2];
    for (int s = 0; s < 2; s++) {
        ck_assert(mw_raw_alloc(p->c[s], B * sizeof(int), &lab[s]) == MW_OK);
        ck_assert(p->c[s]->ops->upload_labels(p->c[s], lab[s], labels, B) == MW_OK);
        ck_assert(p->c[s]->ops->xent(p->c[s], B, C, lg.t[s].data, lab[s], loss.t[s].data,
                                     G.t[s].data) == MW_OK);
    }
    twin_expect(p, &loss, NULL, 64 * (double)C * p->u * 10, "xent loss");
    twin_expect(p, &G, NULL, 64 * (double)C * p->u, "xent G");
    for (int s = 0; s < 2; s++)
        mw_raw_free(p->c[s], lab[s], B * sizeof(int));
    twin_free(p, &lg), twin_free(p, &loss), twin_free(p, &G);
}

/* BatchNorm forward, jvp, vjp, eval over (B, C, S): sums of n = B·S terms, then a few
 * operations per element; the normalised values are O(1). */
static void check_bn(pair *p)
{
    const size_t T = 2, B = 5, C = 3, S = 11, n = B * C * S;
    twin x = twin_random(p, n, 61, 2.0), g = twin_random(p, C, 62, 1.0), be = twin_random(p, C, 63, 1.0);
    twin y = twin_make(p, NULL, n), xh = twin_make(p, NULL, n), rs = twin_make(p, NULL, C);
    twin mean = twin_make(p, NULL, C), var = twin_make(p, NULL, C);
    twin dx = twin_random(p, T * n, 64, 1.0), dg = twin_random(p, T * C, 65, 1.0);
    twin db = twin_random(p, T * C, 66, 1.0), dy = twin_make(p, NULL, T * n);
    twin hy = twin_random(p, n, 67, 1.0), hx = twin_make(p, NULL, n), gg = twin_make(p, NULL, C);
    twin gb = twin_make(p, NULL, C), ev = twin_make(p, NULL, n);
    for (int s = 0; s < 2; s++) {
        mw_ctx *c = p->c[s];
        ck_assert(c->ops->bn_forward(c, B, C, S, 1e-5, x.t[s].data, g.t[s].data, be.t[s].data,
                                     y.t[s].data, xh.t[s].data, rs.t[s].data, mean.t[s].data,
                                     var.t[s].data) == MW_OK);
        ck_assert(c->ops->bn_jvp(c, T, B, C, S, xh.t[s].data, rs.t[s].data, g.t[s].data,
                                 dx.t[s].data, mw_v(dg.t[s].data, (ptrdiff_t)C, 0),
                                 mw_v(db.t[s].data, (ptrdiff_t)C, 0), dy.t[s].data) == MW_OK);
        ck_assert(c->ops->bn_vjp(c, B, C, S, xh.t[s].data, rs.t[s].data, g.t[s].data, hy.t[s].data,
                                 hx.t[s].data, gg.t[s].data, gb.t[s].data) == MW_OK);
        ck_assert(c->ops->bn_eval(c, B, C, S, 1e-5, x.t[s].data, g.t[s].data, be.t[s].data,
                                  mean.t[s].data, var.t[s].data, ev.t[s].data) == MW_OK);
    }
    const double m = (double)(B * S), tol = 16 * (m + 2) * p->u * 4.0;
    twin_expect(p, &mean, NULL, tol, "bn mean");
    twin_expect(p, &var, NULL, tol * 8, "bn var");
    twin_expect(p, &xh, NULL, tol * 4, "bn xhat");
    twin_expect(p, &y, NULL, tol * 8, "bn y");
    twin_expect(p, &dy, NULL, tol * 16, "bn jvp");
    twin_expect(p, &hx, NULL, tol * 16, "bn vjp dx");
    twin_expect(p, &gg, NULL, tol * 8, "bn vjp dgamma");
    twin_expect(p, &gb, NULL, tol * 8, "bn vjp dbeta");
    twin_expect(p, &ev, NULL, tol * 8, "bn eval");
    twin *all[] = {&x, &g, &be, &y, &xh, &rs, &mean, &var, &dx, &dg, &db, &dy, &hy, &hx, &gg, &gb, &ev};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(p, all[i]);
}

/* im2col (plain and flipped) and the squeeze move values: equal bits; chan_bias one add,
 * chan_mul one multiply: equal bits; chan_sum n terms. */
static void check_images(pair *p)
{
    const size_t NI = 3, C = 2, H = 6, W = 4, S = H * W, ld = C * S + 5;
    twin in = twin_random(p, NI * ld, 71, 1.0), col = twin_make(p, NULL, NI * C * 9 * S);
    twin flip = twin_make(p, NULL, NI * C * 9 * S), sq = twin_make(p, NULL, NI * C * S);
    twin un = twin_make(p, NULL, NI * C * S), bias = twin_random(p, 2 * 4, 73, 1.0);
    twin cb = twin_random(p, NI * C * S, 74, 1.0), cs = twin_random(p, 2 * 4, 75, 1.0);
    twin cm = twin_random(p, NI * C * S, 76, 1.0), scale = twin_random(p, C, 77, 1.0);
    for (int s = 0; s < 2; s++) {
        mw_ctx *c = p->c[s];
        ck_assert(c->ops->im2col(c, NI, C, H, W, in.t[s].data, ld, col.t[s].data, false) ==
                  MW_OK);
        ck_assert(c->ops->im2col(c, NI, C, H, W, in.t[s].data, ld, flip.t[s].data, true) ==
                  MW_OK);
        ck_assert(c->ops->squeeze(c, NI, C, H, W, col.t[s].data, sq.t[s].data, false) == MW_OK);
        ck_assert(c->ops->squeeze(c, NI, C, H, W, sq.t[s].data, un.t[s].data, true) == MW_OK);
        ck_assert(c->ops->chan_bias(c, NI, C, S, 1.5, bias.t[s].data, 2, 4, cb.t[s].data) == MW_OK);
        ck_assert(c->ops->chan_sum(c, NI, C, S, 2, cb.t[s].data, 0.25, 1.0, cs.t[s].data, 4) == MW_OK);
        ck_assert(c->ops->chan_mul(c, NI, C, S, scale.t[s].data, cm.t[s].data) == MW_OK);
    }
    twin_expect(p, &col, NULL, 0.0, "im2col");
    twin_expect(p, &flip, NULL, 0.0, "im2col flipped");
    twin_expect(p, &sq, NULL, 0.0, "squeeze");
    twin_expect(p, &un, NULL, 0.0, "squeeze inverse");
    twin_expect(p, &cb, NULL, 0.0, "chan_bias");
    twin_expect(p, &cm, NULL, 0.0, "chan_mul");
    twin_expect(p, &cs, NULL, sum_bound(p, 2.0 * S, 0.25 * 2.0 * S * 8.0), "chan_sum");
    twin *all[] = {&in, &col, &flip, &sq, &un, &bias, &cb, &cs, &cm, &scale};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(p, all[i]);
}

/* A grid is at most 65535 blocks high: bn_jvp (a block row per tangent) and chan_sum (per
 * group of images) launch in chunks beyond that. With the chunk made 2 (MW_CUDA_GRID_Y_MAX)
 * 5 tangents and 5 groups go in three launches each, and equal the CPU as one launch does;
 * the dgamma and dbeta views are strided. */
static void check_grid_chunks(pair *p)
{
    const size_t T = 5, B = 3, C = 2, S = 7, n = B * C * S, NI = 9, ld = 3;
    twin x = twin_random(p, n, 91, 2.0), g = twin_random(p, C, 92, 1.0), be = twin_random(p, C, 93, 1.0);
    twin y = twin_make(p, NULL, n), xh = twin_make(p, NULL, n), rs = twin_make(p, NULL, C);
    twin mean = twin_make(p, NULL, C), var = twin_make(p, NULL, C);
    twin dx = twin_random(p, T * n, 94, 1.0), dg = twin_random(p, T * (C + 1), 95, 1.0);
    twin db = twin_random(p, T * (C + 1), 96, 1.0), dy = twin_make(p, NULL, T * n);
    twin in = twin_random(p, NI * C * S, 97, 1.0), cs = twin_random(p, 5 * ld, 98, 1.0);
    setenv("MW_CUDA_GRID_Y_MAX", "2", 1);
    for (int s = 0; s < 2; s++) {
        mw_ctx *c = p->c[s];
        ck_assert(c->ops->bn_forward(c, B, C, S, 1e-5, x.t[s].data, g.t[s].data, be.t[s].data,
                                     y.t[s].data, xh.t[s].data, rs.t[s].data, mean.t[s].data,
                                     var.t[s].data) == MW_OK);
        ck_assert(c->ops->bn_jvp(c, T, B, C, S, xh.t[s].data, rs.t[s].data, g.t[s].data,
                                 dx.t[s].data, mw_v(dg.t[s].data, (ptrdiff_t)(C + 1), 0),
                                 mw_v(db.t[s].data, (ptrdiff_t)(C + 1), 0), dy.t[s].data) == MW_OK);
        ck_assert(c->ops->chan_sum(c, NI, C, S, 2, in.t[s].data, 0.5, 1.0, cs.t[s].data, ld) ==
                  MW_OK);
    }
    unsetenv("MW_CUDA_GRID_Y_MAX");
    const double m = (double)(B * S), tol = 16 * (m + 2) * p->u * 4.0;
    twin_expect(p, &dy, NULL, tol * 16, "bn jvp in chunks");
    twin_expect(p, &cs, NULL, sum_bound(p, 2.0 * S, 0.5 * 2.0 * S * 8.0), "chan_sum in chunks");
    twin *all[] = {&x, &g, &be, &y, &xh, &rs, &mean, &var, &dx, &dg, &db, &dy, &in, &cs};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        twin_free(p, all[i]);
}

/* Philox normals through the table (pairs on the CPU, one at a time on the GPU) and one
 * Adam step: a handful of roundings per element. */
static void check_normal_adam(pair *p)
{
    const size_t T = 3, C = 37, ld = 40, n = 500;
    twin nr = twin_make(p, NULL, T * ld);
    for (int s = 0; s < 2; s++) {
        ck_assert(mw_fill(p->c[s], mw_d(1, 1, T * ld), mw_v(nr.t[s].data, 0, 0), 0.0) == MW_OK);
        ck_assert(p->c[s]->ops->normal(p->c[s], T, C, nr.t[s].data, ld, tu_seed(), 7, 3, 101) == MW_OK);
    }
    twin_expect(p, &nr, NULL, 8 * p->u * 6.0, "normal");
    twin th = twin_random(p, n, 81, 1.0), g = twin_random(p, n, 82, 1.0);
    twin m = twin_random(p, n, 83, 0.1), v = twin_random(p, n, 84, 0.0);
    for (int s = 0; s < 2; s++)
        ck_assert(p->c[s]->ops->adam(p->c[s], n, th.t[s].data, g.t[s].data, m.t[s].data, v.t[s].data,
                                     0.9, 0.999, 1e-8, 1e-3, 0.0316) == MW_OK);
    twin_expect(p, &m, NULL, 8 * p->u * 4.0, "adam m");
    twin_expect(p, &v, NULL, 8 * p->u * 16.0, "adam v");
    twin_expect(p, &th, NULL, 16 * p->u * 8.0, "adam theta");
    twin_free(p, &nr), twin_free(p, &th), twin_free(p, &g), twin_free(p, &m), twin_free(p, &v);
}

/* A failed cudaFree (here: a pointer the device never gave) is not lost: the next
 * allocation fails naming it, once; out of device memory is said as such, with the bytes. */
static void check_error_names(pair *p)
{
    mw_ctx *c = p->c[1];
    int host[4];
    c->ops->release(c, host);
    void *d = NULL;
    ck_assert(c->ops->alloc(c, 64, &d) == MW_ERR_BACKEND && d == NULL);
    ck_assert_msg(strstr(mw_ctx_message(c), "an earlier cudaFree failed") &&
                      strstr(mw_ctx_message(c), "cudaErrorInvalidValue"),
                  "%s", mw_ctx_message(c));
    ck_assert(c->ops->alloc(c, 64, &d) == MW_OK && d != NULL); /* said once */
    c->ops->release(c, d);
    ck_assert(c->ops->alloc(c, (size_t)1 << 60, &d) == MW_ERR_NOMEM && d == NULL);
    ck_assert_msg(strstr(mw_ctx_message(c), "out of device memory: 1152921504606846976 bytes"),
                  "%s", mw_ctx_message(c));
}

START_TEST(primitives_match_cpu)
{
    for (int dt = 0; dt < 2; dt++) {
        pair p = pair_open((mw_dtype)dt);
        check_gemm(&p);
        check_gemm_sum(&p);
        check_ew(&p);
        check_reductions(&p);
        check_xent(&p);
        check_bn(&p);
        check_images(&p);
        check_grid_chunks(&p);
        check_normal_adam(&p);
        check_error_names(&p);
        pair_close(&p);
    }
}
END_TEST

/* ---- the FMA policy ----
 * nvcc contracts a*b + c into one fused multiply-add unless told not to; ISO C does not.
 * The CUDA backend is compiled with --fmad=false (engine/cuda/CMakeLists.txt), so that
 * device code rounds a*b + c twice, as the CPU kernels do, and the elementwise primitives
 * give the CPU's bits (primitives_match_cpu demands it of chan_bias). The emulator is
 * built so too; its contracting build (test_cuda_emu_fma: the backend's source compiled
 * with -mfma -ffp-contract=fast, MW_EMU_CONTRACTS, as nvcc compiles without the flag)
 * must differ from the CPU somewhere in chan_bias (out += α·bias) and AXPBY (α a + β b), or
 * the bit-equality checks could not see a contraction; everywhere else — the plain
 * emulator, a GPU — the two agree to the bit. */
START_TEST(fma_policy)
{
    const size_t NI = 16, C = 8, S = 64, n = NI * C * S;
    for (int dt = 0; dt < 2; dt++) {
        pair p = pair_open((mw_dtype)dt);
        twin out = twin_random(&p, n, 81, 1.0), bias = twin_random(&p, C, 82, 1.0);
        twin a = twin_random(&p, n, 83, 1.0), b = twin_random(&p, n, 84, 1.0);
        twin o = twin_make(&p, NULL, n);
        for (int s = 0; s < 2; s++) {
            mw_ctx *c = p.c[s];
            ck_assert(c->ops->chan_bias(c, NI, C, S, 1.1, bias.t[s].data, 1, 0,
                                        out.t[s].data) == MW_OK);
            mw_ew e = {MW_EW_AXPBY, MW_ACT_IDENTITY, 0, 1.1, 0.7, mw_d(1, 1, n),
                       mw_v(o.t[s].data, 0, 0), mw_v(a.t[s].data, 0, 0), mw_v(b.t[s].data, 0, 0), {0}};
            ck_assert_msg(c->ops->ew(c, &e) == MW_OK, "%s", mw_ctx_message(c));
        }
        twin *ws[2] = {&out, &o};
        static const char *const what[2] = {"chan_bias", "axpby"};
        for (int k = 0; k < 2; k++) {
            double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
            ck_assert(mw_tensor_download(p.c[0], &ws[k]->t[0], 0, x, n) == MW_OK);
            ck_assert(mw_tensor_download(p.c[1], &ws[k]->t[1], 0, y, n) == MW_OK);
            size_t differ = 0;
            for (size_t i = 0; i < n; i++)
                differ += x[i] != y[i];
#ifdef MW_EMU_CONTRACTS
            ck_assert_msg(differ > 0, "%s %s: a contracting build gave the CPU's bits at all %zu "
                          "elements: the checks could not see a contraction",
                          mw_dtype_name((mw_dtype)dt), what[k], n);
#else
            ck_assert_msg(differ == 0, "%s %s: %zu of %zu elements differ from the CPU's: "
                          "a*b + c was fused (is the backend built with --fmad=false?)",
                          mw_dtype_name((mw_dtype)dt), what[k], differ, n);
#endif
            free(x), free(y);
        }
        twin_free(&p, &out), twin_free(&p, &bias), twin_free(&p, &a), twin_free(&p, &b);
        twin_free(&p, &o);
        pair_close(&p);
    }
}
END_TEST

/* What a backprop gradient asks of the device (mw_ctx_device_counts): at most 5 waits for
 * the stream (the goal for the paper's RevNet, bench_grad_emu), and as many launches at
 * batch 12 as at batch 6 — the weight gradient's sum over images is one batched product,
 * not one per image; after a first gradient, no more allocations than before it, and then
 * the same number each time. The CPU has no counts to give. */
START_TEST(device_counts_of_backprop)
{
    unsigned long long launches[2] = {0, 0};
    const int batches[2] = {6, 12};
    for (int k = 0; k < 2; k++) {
        mw_spec s = tu_small_revnet(2, MW_ACT_RELU, MW_ACT_TANH, 1, 0, tu_seed());
        s.batch = batches[k];
        tu_net t;
        tu_net_make_on(&t, &s, MW_BACKEND_CUDA, MW_F32);
        double *g = malloc(t.P * sizeof *g);
        mw_device_counts c0, c1, c2, c3;
        ck_assert(mw_ctx_device_counts(t.ctx, &c0) == MW_OK);
        tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
        ck_assert(mw_ctx_device_counts(t.ctx, &c1) == MW_OK);
        tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
        ck_assert(mw_ctx_device_counts(t.ctx, &c2) == MW_OK);
        tu_grad(&t, MW_BACKPROP, NULL, g, NULL, MW_OK);
        ck_assert(mw_ctx_device_counts(t.ctx, &c3) == MW_OK);
        launches[k] = c2.launches - c1.launches;
        ck_assert_msg(c2.syncs - c1.syncs <= 5, "batch %d: backprop waited %llu times",
                      batches[k], c2.syncs - c1.syncs);
        ck_assert_msg(c2.launches - c1.launches == c1.launches - c0.launches &&
                          c3.launches - c2.launches == c2.launches - c1.launches,
                      "three gradients launched different kernels: %llu, %llu, %llu",
                      c1.launches - c0.launches, c2.launches - c1.launches,
                      c3.launches - c2.launches);
        /* the first gradient fills the block cache; from then on the same each time */
        ck_assert_msg(c2.allocs - c1.allocs <= c1.allocs - c0.allocs &&
                          c3.allocs - c2.allocs == c2.allocs - c1.allocs,
                      "allocations per gradient: %llu, %llu, %llu", c1.allocs - c0.allocs,
                      c2.allocs - c1.allocs, c3.allocs - c2.allocs);
        ck_assert(launches[k] > 0);
        free(g);
        tu_net_free(&t);
    }
    ck_assert_msg(launches[0] == launches[1], "backprop launched %llu kernels at batch 6, %llu at 12",
                  launches[0], launches[1]);
    mw_ctx *cpu;
    char msg[256];
    mw_device_counts c;
    ck_assert(mw_ctx_open(MW_BACKEND_CPU, MW_F32, NULL, &cpu, msg, sizeof msg) == MW_OK);
    ck_assert(mw_ctx_device_counts(cpu, &c) == MW_ERR_ARG);
    mw_ctx_free(cpu);
}
END_TEST

/* Revbackprop on the device checks its reconstructions without waiting after each layer
 * (mw_finite_defer_begin): at most 6 waits a gradient (34 when it waited after every
 * inverse on the paper's RevNet); and where a reconstruction is not
 * finite (tanh σ saturated: init scale 60), it still fails with MW_ERR_NONFINITE and the
 * message that names the inverse and says why, as on the CPU (its second, immediate
 * pass). */
START_TEST(revbackprop_deferred_checks)
{
    mw_spec s = tu_small_revnet(2, MW_ACT_RELU, MW_ACT_TANH, 1, 0, tu_seed());
    s.batch = 6;
    tu_net t;
    tu_net_make_on(&t, &s, MW_BACKEND_CUDA, MW_F32);
    double *g = malloc(t.P * sizeof *g);
    mw_device_counts c0, c1;
    tu_grad(&t, MW_REVBACKPROP, NULL, g, NULL, MW_OK);
    ck_assert(mw_ctx_device_counts(t.ctx, &c0) == MW_OK);
    tu_grad(&t, MW_REVBACKPROP, NULL, g, NULL, MW_OK);
    ck_assert(mw_ctx_device_counts(t.ctx, &c1) == MW_OK);
    ck_assert_msg(c1.syncs - c0.syncs <= 6, "revbackprop waited %llu times", c1.syncs - c0.syncs);
    free(g);
    tu_net_free(&t);

    s = tu_small_spec(2, MW_ACT_IDENTITY, MW_ACT_TANH, 0, tu_seed());
    s.init_scale = 60;
    tu_net_make_on(&t, &s, MW_BACKEND_CUDA, MW_F32);
    g = malloc(t.P * sizeof *g);
    tu_grad(&t, MW_REVBACKPROP, NULL, g, NULL, MW_ERR_NONFINITE);
    ck_assert_msg(strstr(mw_ctx_message(t.ctx), "inverse") &&
                      strstr(mw_ctx_message(t.ctx), "tanh"),
                  "message: %s", mw_ctx_message(t.ctx));
    free(g);
    tu_net_free(&t);
}
END_TEST

/* ---- the methods ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* On an mlp with BN and a revnet, each with additive and with affine couplings: every
 * method on the GPU in float64 equals the CPU's to 1e-12 (different summation orders
 * only). In float32 the two backends round differently (summation orders, gemm blocking,
 * the device's libm), so one method's error against gold on one backend is one draw of a
 * rounding error whose size the computation's conditioning sets. The GPU's error of each
 * method must stay within 4x of the larger of the CPU's error for the same method and the
 * CPU's median over the five methods on that network: the median is the network's scale
 * when the CPU's draw for one method happens to be small, and the method's own error keeps
 * what is proper to the method (revbackprop's reconstruction). On the host emulator, over
 * nine seeds (180 method-network pairs), the largest ratio was 2.7. Two GPU runs give the same bits; the tracked peak
 * bytes equal the CPU's. */
START_TEST(methods_gpu_cpu_gold)
{
    /* nets 0, 1: additive couplings (mlp, revnet); 2, 3: the same with affine couplings */
    for (int k = 0; k < 4; k++) {
        mw_spec s = k % 2 == 0 ? tu_small_spec(3, MW_ACT_TANH, MW_ACT_TANH, 1, tu_seed())
                               : tu_small_revnet(1, MW_ACT_RELU, MW_ACT_TANH, 1, 0, tu_seed());
        if (k >= 2)
            s.coupling = MW_COUPLING_AFFINE;
        tu_net cpu64, gpu64, cpu32, gpu32;
        tu_net_make(&cpu64, &s, MW_F64);
        tu_net_make_on(&gpu64, &s, MW_BACKEND_CUDA, MW_F64);
        tu_net_make(&cpu32, &s, MW_F32);
        tu_net_make_on(&gpu32, &s, MW_BACKEND_CUDA, MW_F32);
        const size_t P = cpu64.P;
        double *gc = malloc(P * sizeof *gc), *gg = malloc(P * sizeof *gg), *g2 = malloc(P * sizeof *g2);
        mw_gold gold;
        mw_err err;
        ck_assert_msg(mw_gold_compute(&s, NULL, cpu64.x, cpu64.labels, NULL, &gold, &err) ==
                          MW_OK, "%s", err.msg);
        double err_gpu[MW_N_METHODS] = {0}, err_cpu[MW_N_METHODS] = {0};
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (mw_method_is_stochastic((mw_method)m))
                continue;
            const char *name = mw_method_name((mw_method)m);
            mw_grad_info ic, ig;
            tu_grad(&cpu64, (mw_method)m, NULL, gc, &ic, MW_OK);
            tu_grad(&gpu64, (mw_method)m, NULL, gg, &ig, MW_OK);
            const double d64 = tu_rel_l2(gg, gc, P);
            ck_assert_msg(d64 <= 1e-12, "net %d %s f64: gpu vs cpu %g", k, name, d64);
            ck_assert_msg(ig.peak_bytes == ic.peak_bytes, "net %d %s: peak %zu on the GPU, %zu on "
                          "the CPU", k, name, ig.peak_bytes, ic.peak_bytes);
            tu_grad(&cpu32, (mw_method)m, NULL, gc, NULL, MW_OK);
            tu_grad(&gpu32, (mw_method)m, NULL, gg, NULL, MW_OK);
            tu_grad(&gpu32, (mw_method)m, NULL, g2, NULL, MW_OK);
            ck_assert_msg(memcmp(gg, g2, P * sizeof *gg) == 0, "net %d %s: two GPU runs differ", k,
                          name);
            mw_metrics mc, mg;
            mw_metrics_compute(gc, gold.hi, gold.lo, P, MW_F32, &mc);
            mw_metrics_compute(gg, gold.hi, gold.lo, P, MW_F32, &mg);
            ck_assert_msg(mg.nonfinite == 0 && mc.nonfinite == 0, "net %d %s: non-finite gradient",
                          k, name);
            err_gpu[m] = mg.rel_l2, err_cpu[m] = mc.rel_l2;
            printf("net %d %-12s f32 vs gold: gpu %.3e cpu %.3e, gpu vs cpu %.3e; f64 gpu vs cpu "
                   "%.3e\n", k, name, mg.rel_l2, mc.rel_l2, tu_rel_l2(gg, gc, P), d64);
        }
        double sorted[MW_N_METHODS];
        int nm = 0;
        for (int m = 0; m < MW_N_METHODS; m++)
            if (!mw_method_is_stochastic((mw_method)m))
                sorted[nm++] = err_cpu[m];
        qsort(sorted, (size_t)nm, sizeof *sorted, cmp_double);
        const double median = sorted[nm / 2];
        ck_assert_msg(median > 0, "net %d: the CPU's float32 gradients equal gold exactly", k);
        for (int m = 0; m < MW_N_METHODS; m++)
            ck_assert_msg(err_gpu[m] <= 4 * fmax(err_cpu[m], median), "net %d %s f32 vs gold: gpu "
                          "%g, cpu %g (the cpu's median over the methods %g)", k,
                          mw_method_name((mw_method)m), err_gpu[m], err_cpu[m], median);
        mw_gold_free(&gold);
        free(gc), free(gg), free(g2);
        tu_net_free(&cpu64), tu_net_free(&gpu64), tu_net_free(&cpu32), tu_net_free(&gpu32);
    }
}
END_TEST

/* ---- the command line on the CUDA engine ---- */

/* MW_CUDA_CLI (mwverify, or on the emulator the same main linked with it) with args. */
static tu_run_result cli(const char *const *args)
{
    return tu_run(MW_CUDA_CLI, args);
}

/* What a user of the GPU engine runs, in miniature, wherever the tests run: gradcheck and
 * a small stability suite with --engine cuda pass every run; the report names the device. */
START_TEST(cli_on_cuda)
{
    mw_cuda_info info;
    char msg[256], dir[512], path[600];
    ck_assert(mw_cuda_probe(&info, msg, sizeof msg) == 0);
    const char *gc[] = {"gradcheck", "--engine", "cuda", "--depth", "1", "--f-act", "tanh",
                        "--out-act", "tanh", "--dtype", "f32", "--width", "4", "--hidden", "4",
                        "--batch", "2", "--proj-repeats", "0", "--json", "--quiet", NULL};
    tu_run_result r = cli(gc);
    ck_assert_msg(r.code == 0 && strstr(r.out, "\"failures\": 0"), "gradcheck: exit %d: %s",
                  r.code, r.err);
    tu_run_free(&r);
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-test-cuda-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/stability.h5", dir);
    const char *st[] = {"suite", "stability", "--engine", "cuda", "--epochs", "2", "--depth", "2",
                        "--f-act", "tanh", "--out-act", "tanh", "--seed", "1", "--width", "4",
                        "--hidden", "4", "--batch", "16", "--train-samples", "64",
                        "--test-samples", "32", "--jobs", "1", "--quiet", "--out", path, NULL};
    r = cli(st);
    ck_assert_msg(r.code == 0 && strstr(r.out, "; 0 failures"), "suite stability: exit %d: %s%s",
                  r.code, r.out, r.err);
    printf("%s", r.out);
    tu_run_free(&r);
    const char *sum[] = {"report", "summary", path, NULL};
    r = cli(sum);
    ck_assert_msg(r.code == 0 && strstr(r.out, info.name), "report summary: exit %d: %s%s", r.code,
                  r.out, r.err);
    tu_run_free(&r);
    remove(path);
    rmdir(dir);
}
END_TEST

#ifdef MW_TEST_MPIEXEC
/* `mpirun -n 3 mwverify gradcheck --engine cuda` writes the one-process report, number for
 * number. On the emulator with two devices, the rank whose node-local rank is 1 computes on
 * device 1 (each cudaSetDevice is logged), rank 2 on device 0 again. */
START_TEST(ranks_on_cuda)
{
    char dir[512], one[600], three[600], log[600];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-test-cuda-ranks-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(one, sizeof one, "%s/one.h5", dir);
    snprintf(three, sizeof three, "%s/three.h5", dir);
    snprintf(log, sizeof log, "%s/devices.log", dir);
#define GRID "gradcheck", "--engine", "cuda", "--arch", "mlp", "--depth", "1,2", "--f-act", \
             "tanh", "--dtype", "f32,f64", "--proj-repeats", "0", "--quiet"
    const char *single[] = {GRID, "--jobs", "1", "--out", one, NULL};
    tu_run_result r = cli(single);
    ck_assert_msg(r.code == 0, "one process: exit %d: %s", r.code, r.err);
    tu_run_free(&r);
    if (geteuid() == 0) { /* Open MPI's documented switches for root */
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
#ifdef MW_CUDA_EMULATED
    setenv("MW_EMU_DEVICES", "2", 1);
    setenv("MW_EMU_DEVICE_LOG", log, 1);
#endif
    const char *ranks[] = {"-n", "3", "--oversubscribe", MW_CUDA_CLI, GRID, "--out", three, NULL};
#undef GRID
    r = tu_run(MW_TEST_MPIEXEC, ranks);
    unsetenv("MW_EMU_DEVICES"), unsetenv("MW_EMU_DEVICE_LOG");
    ck_assert_msg(r.code == 0, "mpirun: exit %d: %s", r.code, r.err);
    tu_run_free(&r);
    const char *diff[] = {"report", "diff", one, three, NULL};
    r = cli(diff);
    ck_assert_msg(r.code == 0, "%s%s", r.out, r.err);
    tu_run_free(&r);
#ifdef MW_CUDA_EMULATED
    FILE *f = fopen(log, "r");
    ck_assert(f != NULL);
    int dev, seen[2] = {0, 0};
    while (fscanf(f, "%d", &dev) == 1) {
        ck_assert_msg(dev == 0 || dev == 1, "device %d of 2", dev);
        seen[dev]++;
    }
    fclose(f);
    ck_assert_msg(seen[0] > 0 && seen[1] > 0, "devices used: 0 %d times, 1 %d times", seen[0],
                  seen[1]);
    remove(log);
#endif
    remove(one), remove(three);
    rmdir(dir);
}
END_TEST
#endif

int main(void)
{
    mw_cuda_info info;
    char msg[256];
#ifdef MW_EMU_CONTRACTS
    if (!__builtin_cpu_supports("fma")) {
        printf("SKIP: this CPU has no fused multiply-add for the contracting emulator\n");
        return 77;
    }
#endif
    if (mw_cuda_probe(&info, msg, sizeof msg) != 0) {
        printf("SKIP: CUDA tests not run: %s\n", msg);
        return 77;
    }
    printf("CUDA device: %s (compute %d.%d, driver %d, runtime %d)\n", info.name, info.cc_major,
           info.cc_minor, info.driver_version, info.runtime_version);
    mw_cuda_register();
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("primitives");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, philox_on_gpu_equals_cpu);
    tcase_add_test(tc, primitives_match_cpu);
    suite_add_tcase(s, tc);
    tc = tcase_create("fma");
    tcase_add_test(tc, fma_policy);
    suite_add_tcase(s, tc);
    tc = tcase_create("methods");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, methods_gpu_cpu_gold);
    tcase_add_test(tc, device_counts_of_backprop);
    tcase_add_test(tc, revbackprop_deferred_checks);
    suite_add_tcase(s, tc);
    tc = tcase_create("cli");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, cli_on_cuda);
#ifdef MW_TEST_MPIEXEC
    tcase_add_test(tc, ranks_on_cuda);
#endif
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
