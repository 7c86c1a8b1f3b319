/* The backend table (docs/architecture.md §4): every primitive that touches tensor elements.
 * Layers and methods reach memory only through these functions, so the same layer
 * and method code runs on any backend. A backend provides one table per dtype; the
 * CPU tables are one template source compiled twice (cpu/kernels.inc).
 *
 * Operands are strided 3-D views (T, R, C): element (t, r, c) lives at
 * p[t*st + r*sr + c]. T counts tangents (or is 1), R rows (samples), C columns
 * (features). A stride of 0 broadcasts, which is how a bias row or one primal
 * activation meets a block of T tangents. */
#ifndef MW_BACKEND_H
#define MW_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_engine.h"

typedef struct mw_view {
    void *p;
    ptrdiff_t st, sr; /* tangent and row strides, in elements */
} mw_view;

typedef struct mw_dims {
    size_t T, R, C;
} mw_dims;

typedef enum {
    MW_EW_FILL,         /* out = alpha */
    MW_EW_SCALE,        /* out = alpha * a */
    MW_EW_AXPBY,        /* out = alpha * a + beta * b */
    MW_EW_MUL,          /* out = a * b */
    MW_EW_ACT,          /* out = act(a) */
    MW_EW_ACT_INV,      /* out = act^-1(a) */
    MW_EW_ACT_DMUL,     /* out = act'(a) * b */
    MW_EW_ACT_DINV_MUL, /* out = b / act'(a), from a stably (tanh: b * cosh(a)^2) */
    MW_EW_EXP,          /* out = exp(alpha * a) */
    MW_EW_DIV,          /* out = b / a */
    MW_EW_ACT_WITH_DINV_MUL, /* out = act(a) and out2 = b / act'(a), from one evaluation
                              * (Moonwalk's step: σ(z) and h ⊙ D⁻¹ of the same z) */
} mw_ew_op;

typedef struct mw_ew {
    mw_ew_op op;
    mw_act act;
    double slope;       /* leaky α */
    double alpha, beta;
    mw_dims d;
    mw_view out, a, b;  /* unused operands may be left zero */
    mw_view out2;       /* ACT_WITH_DINV_MUL's second result */
} mw_ew;

typedef struct mw_ops {
    size_t esize;
    /* The im2col scratch a convolution takes at a time, in bytes (one image at least): a
     * CPU's keeps it in its cache, a GPU's takes many images a launch. */
    size_t col_bytes;
    mw_status (*alloc)(mw_ctx *ctx, size_t bytes, void **p);
    void (*release)(mw_ctx *ctx, void *p);
    mw_status (*upload)(mw_ctx *ctx, void *dst, const double *src, size_t n);
    mw_status (*download)(mw_ctx *ctx, double *dst, const void *src, size_t n);
    mw_status (*upload_labels)(mw_ctx *ctx, void *dst, const int *src, size_t n);

    /* Row-major C_i = alpha op(A_i) op(B_i) + beta C_i for i < count, with
     * X_i = X + i*sX (elements). op(A) is M x K, op(B) K x N, C M x N. */
    mw_status (*gemm)(mw_ctx *ctx, bool ta, bool tb, size_t M, size_t N, size_t K,
                      double alpha, const void *A, size_t lda, ptrdiff_t sA,
                      const void *B, size_t ldb, ptrdiff_t sB, double beta, void *C,
                      size_t ldc, ptrdiff_t sC, size_t count);
    /* Row-major C = beta C + alpha Σ_{i<count} op(A_i) op(B_i), the terms added in the
     * order of i (a convolution's weight gradient over the images of a batch). */
    /* What a device context has asked of its device (mw_ctx_device_counts); NULL on the
     * CPU. */
    void (*counts)(const mw_ctx *ctx, mw_device_counts *out);
    /* Optional (a device backend): set *flag (one element of the dtype) to 1 if any of
     * x's n elements is not finite, with no wait for the device. */
    mw_status (*flag_nonfinite)(mw_ctx *ctx, size_t n, const void *x, void *flag);
    mw_status (*gemm_sum)(mw_ctx *ctx, bool ta, bool tb, size_t M, size_t N, size_t K,
                          double alpha, const void *A, size_t lda, ptrdiff_t sA,
                          const void *B, size_t ldb, ptrdiff_t sB, double beta, void *C,
                          size_t ldc, size_t count);
    mw_status (*ew)(mw_ctx *ctx, const mw_ew *e);

    /* out[t, c] = beta * out[t, c] + alpha * sum_r in[t, r, c]; out's sr is ignored. */
    mw_status (*sum_rows)(mw_ctx *ctx, mw_dims d, mw_view in, double alpha, double beta,
                          mw_view out);
    /* out[t, r] = alpha * sum_c a[t, r, c] * b[t, r, c]; out uses st and sr. */
    mw_status (*rowdot)(mw_ctx *ctx, mw_dims d, mw_view a, mw_view b, double alpha,
                        mw_view out);

    /* Softmax cross-entropy of B rows of C logits: loss[b] = logsumexp(l_b) - l_b[y_b],
     * G = softmax(l) - onehot(y) (B x C). */
    mw_status (*xent)(mw_ctx *ctx, size_t B, size_t C, const void *logits, const void *labels,
                      void *loss, void *G);

    /* BatchNorm over a contiguous (B, C, S) array, per channel c over (b, s), biased
     * variance. Forward may work in place (y == x); the batch mean and (biased) variance
     * are written to mean and var (C each) unless NULL. */
    mw_status (*bn_forward)(mw_ctx *ctx, size_t B, size_t C, size_t S, double eps,
                            const void *x, const void *gamma, const void *beta, void *y,
                            void *xhat, void *rstd, void *mean, void *var);
    /* T tangents (contiguous, T x B x C x S): dy = γ rstd (dx - mean dx - x̂ mean(x̂ dx))
     * + dγ x̂ + dβ. dgamma/dbeta are (T, C) views (st used) or NULL; dy may be dx. */
    mw_status (*bn_jvp)(mw_ctx *ctx, size_t T, size_t B, size_t C, size_t S, const void *xhat,
                        const void *rstd, const void *gamma, const void *dx, mw_view dgamma,
                        mw_view dbeta, void *dy);
    /* dx = γ rstd (dy - mean dy - x̂ mean(x̂ dy)); dgamma = Σ dy x̂, dbeta = Σ dy
     * (written, not accumulated; NULL p to skip). dx may be dy. */
    mw_status (*bn_vjp)(mw_ctx *ctx, size_t B, size_t C, size_t S, const void *xhat,
                        const void *rstd, const void *gamma, const void *dy, void *dx,
                        void *dgamma, void *dbeta);

    /* Evaluation-mode BatchNorm: y = γ (x - mean)/sqrt(var + eps) + β with the given
     * statistics (running averages). y may be x. */
    mw_status (*bn_eval)(mw_ctx *ctx, size_t B, size_t C, size_t S, double eps, const void *x,
                         const void *gamma, const void *beta, const void *mean,
                         const void *var, void *y);

    /* Images: n_img images of (C, H, W), image i of `in` at in + i*ld (contiguous
     * within). im2col writes col (n_img, C*9, H*W) contiguous, row c*9 + ky*3 + kx
     * holding in[c, y+ky-1, x+kx-1] (zero outside): a 3x3 same-padded cross-correlation
     * is then W [out][C*9] times col. Flipped, the row holds in[c, y+1-ky, x+1-kx]: the
     * taps of the transposed convolution, so that the adjoint of the cross-correlation
     * with W is Wᵗ [C][out*9] (Wᵗ[c][o*9 + t] = W[o][c*9 + t]) times the flipped col of
     * its output's cotangent. */
    mw_status (*im2col)(mw_ctx *ctx, size_t n_img, size_t C, size_t H, size_t W,
                        const void *in, size_t ld, void *col, bool flip);
    /* The squeeze ψ of n_img contiguous (C, H, W) images (docs/architecture.md §2, pixel_unshuffle
     * order): out[c*4 + 2dy + dx, i, j] = in[c, 2i+dy, 2j+dx]; inverse: the other way
     * (out (C, H, W) from in (4C, H/2, W/2)). Not in place. */
    mw_status (*squeeze)(mw_ctx *ctx, size_t n_img, size_t C, size_t H, size_t W,
                         const void *in, void *out, bool inverse);
    /* Over n_img contiguous (C, S) images, images in groups of `group`:
     * chan_bias: out[i, c, s] += alpha * bias[(i/group)*ld + c];
     * chan_sum: out[g*ld + c] = beta out[g*ld + c] + alpha * Σ_{i in group g, s} in[i, c, s]. */
    mw_status (*chan_bias)(mw_ctx *ctx, size_t n_img, size_t C, size_t S, double alpha,
                           const void *bias, size_t group, size_t ld, void *out);
    mw_status (*chan_sum)(mw_ctx *ctx, size_t n_img, size_t C, size_t S, size_t group,
                          const void *in, double alpha, double beta, void *out, size_t ld);
    /* out[i, c, s] *= scale[c] over n_img contiguous (C, S) images. */
    mw_status (*chan_mul)(mw_ctx *ctx, size_t n_img, size_t C, size_t S, const void *scale,
                          void *out);

    /* Standard normal draws: out[t*ld + c] = N(seed, stream, index0 + t*tstride + c)
     * for t < T, c < C (Philox4x32-10, engine/philox.h). */
    mw_status (*normal)(mw_ctx *ctx, size_t T, size_t C, void *out, size_t ld, uint64_t seed,
                        uint64_t stream, uint64_t index0, uint64_t tstride);

    /* One Adam step over n parameters (PyTorch's form): m = b1 m + (1-b1) g,
     * v = b2 v + (1-b2) g², θ -= step_size · m / (sqrt(v)/sqrt_bc2 + eps), where the
     * caller folds the learning rate and bias corrections into step_size and sqrt_bc2. */
    mw_status (*adam)(mw_ctx *ctx, size_t n, void *theta, const void *g, void *m, void *v,
                      double b1, double b2, double eps, double step_size, double sqrt_bc2);

    /* Diagnostics, accumulated in double whatever the dtype. */
    mw_status (*dot)(mw_ctx *ctx, size_t n, const void *x, const void *y, double *out);
    mw_status (*dist2)(mw_ctx *ctx, size_t n, const void *x, const void *y, double *out);
    mw_status (*sum)(mw_ctx *ctx, size_t n, const void *x, double *out);
    /* Index of the first non-finite element, or n when all are finite. */
    mw_status (*find_nonfinite)(mw_ctx *ctx, size_t n, const void *x, size_t *first);
} mw_ops;

extern const mw_ops mw_cpu_f32_ops;
extern const mw_ops mw_cpu_f64_ops;

/* A backend beyond the CPU, registered by the program that links it (the engine's core
 * never depends on one): open sets ctx->ops and ctx->bstate for ctx->dtype and
 * ctx->math, or fails with a one-line message; close releases what open made (after
 * the context's cached blocks went back through ctx->ops->release). */
typedef struct mw_backend_impl {
    const char *name;
    mw_status (*open)(mw_ctx *ctx, int device, char *msg, size_t msg_len);
    void (*close)(mw_ctx *ctx);
    mw_status (*info)(mw_ctx *ctx, mw_engine_info *info);
    size_t (*mem_free)(mw_ctx *ctx); /* the device's free bytes now (0 when unknown) */
} mw_backend_impl;

void mw_backend_register(mw_backend_kind kind, const mw_backend_impl *impl);

#endif
