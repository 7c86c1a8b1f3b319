// The CUDA backend (docs/architecture.md §4): the backend table of engine/backend.h on one GPU, for
// float32 and float64 from one template, the way cpu/kernels.inc serves the CPU.
//
// - gemm: cuBLAS, strided-batched, row-major operands mapped onto its column-major
//   convention (C^T = op(B)^T op(A)^T). float32 is strict IEEE (CUBLAS_PEDANTIC_MATH:
//   no tensor cores, no TF32) unless the context asks for TF32.
// - Convolution: our own im2col kernel around that gemm, the CPU's algorithm (the input
//   gradient is the transposed convolution: the flipped im2col of the cotangent), with no
//   atomics, so it is deterministic. cuDNN would be faster on large
//   images, but its deterministic algorithms are not guaranteed for every shape, and the
//   engine's first duty is to be the same computation on both backends.
// - Every reduction has a fixed shape (one block of 256 threads per output, each thread a
//   fixed stride, then a fixed tree), so results are the same bits on every run.
// - Errors: every CUDA and cuBLAS return code is checked and becomes MW_ERR_BACKEND (or
//   MW_ERR_NOMEM) with the call named in the context's message.
// Layers and methods never see any of this: they call the table.
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <cublas_v2.h>
#include <cuda_runtime.h>

extern "C" {
#include "internal.h"
}
#include "launch.cuh"
#include "mw_cuda.h"
#include "philox.h"

namespace {

// Threads per block. The host emulator builds with fewer (emu/CMakeLists.txt): its cost is
// per thread, and the kernels depend on blockDim only through this constant.
#ifndef MW_CUDA_THREADS
#define MW_CUDA_THREADS 256
#endif
const int kThreads = MW_CUDA_THREADS;

struct cuda_state {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    cudaError_t free_error; // a cudaFree that failed, said by the next call that can
    int sync;               // MW_CUDA_SYNC=1: wait for every kernel, and name the one that faults
    // what this context asked of the device (mw_ctx_device_counts): kernel launches (a
    // cuBLAS call counts one), waits for the stream, device allocations
    unsigned long long launches, syncs, allocs;
};

cuda_state *state_of(const mw_ctx *ctx)
{
    return static_cast<cuda_state *>(ctx->bstate);
}

mw_status cuda_fail(mw_ctx *ctx, cudaError_t e, const char *what)
{
    return mw_fail(ctx, e == cudaErrorMemoryAllocation ? MW_ERR_NOMEM : MW_ERR_BACKEND,
                   "%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

mw_status blas_fail(mw_ctx *ctx, cublasStatus_t e, const char *what)
{
    return mw_fail(ctx, e == CUBLAS_STATUS_ALLOC_FAILED ? MW_ERR_NOMEM : MW_ERR_BACKEND,
                   "%s: %s (%s)", what, cublasGetStatusString(e), cublasGetStatusName(e));
}

// Wait for the context's stream, counted.
cudaError_t stream_sync(cuda_state *st)
{
    st->syncs++;
    return cudaStreamSynchronize(st->stream);
}

#define CU(ctx, call)                                                                         \
    do {                                                                                      \
        cudaError_t e_ = (call);                                                              \
        if (e_ != cudaSuccess)                                                                \
            return cuda_fail((ctx), e_, #call);                                               \
    } while (0)

// After a kernel launch: a bad configuration is reported at once, naming the kernel. A
// fault inside it surfaces at a later synchronising call, naming that call; with
// MW_CUDA_SYNC=1 every launch is waited for, so that the fault names its kernel.
cudaError_t after_launch(cuda_state *st)
{
    st->launches++;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && st->sync)
        e = stream_sync(st);
    return e;
}

#define LAUNCHED(ctx, what)                                                                   \
    do {                                                                                      \
        const cudaError_t e_ = after_launch(state_of(ctx));                                   \
        if (e_ != cudaSuccess)                                                                \
            return cuda_fail((ctx), e_, what);                                                \
    } while (0)

// LAUNCHED for a caller that holds scratch to free: the status into st, no return.
#define LAUNCHED_OR(ctx, what, st)                                                            \
    do {                                                                                      \
        const cudaError_t e_ = after_launch(state_of(ctx));                                   \
        if (e_ != cudaSuccess)                                                                \
            (st) = cuda_fail((ctx), e_, what);                                                \
    } while (0)

// A grid's y extent is at most 65535 blocks: launches with more go in chunks of it.
// MW_CUDA_GRID_Y_MAX (a number below that) makes the chunks smaller, so that a test runs
// the chunking at small sizes.
static size_t grid_y_max()
{
    const char *e = getenv("MW_CUDA_GRID_Y_MAX");
    const long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 && v < 65535 ? (size_t)v : 65535;
}

unsigned blocks_for(size_t n)
{
    size_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < 65535u * 32u ? (b ? b : 1) : 65535u * 32u);
}

// ---- activations: the CPU's formulas, from the same source (one overload per type) ----

#define MW_ACT_FN(name) name
#define R float
#include "../activations.inc"
#undef R
#define R double
#include "../activations.inc"
#undef R
#undef MW_ACT_FN

// A block-wide sum in a fixed order: thread i holds v; the result is in thread 0.
template <typename T> __device__ T block_sum(T v)
{
    __shared__ T buf[kThreads];
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    T r = buf[0];
    __syncthreads();
    return r;
}

// ---- memory ----

template <typename R> mw_status k_alloc(mw_ctx *ctx, size_t bytes, void **p)
{
    *p = NULL;
    if (bytes == 0)
        return MW_OK;
    cuda_state *cs = state_of(ctx);
    if (cs->free_error != cudaSuccess) { // said once, by the first call that can
        const cudaError_t f = cs->free_error;
        cs->free_error = cudaSuccess;
        return mw_fail(ctx, MW_ERR_BACKEND, "an earlier cudaFree failed: %s (%s)",
                       cudaGetErrorString(f), cudaGetErrorName(f));
    }
    // stream-ordered, from the device's pool, which keeps what is freed (cuda_open): no
    // synchronisation, and after the first gradient no new device memory either
    cs->allocs++;
    cudaError_t e = cudaMallocAsync(p, bytes, cs->stream);
    if (e == cudaSuccess)
        return MW_OK;
    *p = NULL;
    if (e == cudaErrorMemoryAllocation) {
        (void)cudaGetLastError(); // not sticky: clear it
        return mw_fail(ctx, MW_ERR_NOMEM, "out of device memory: %zu bytes requested, %zu live "
                       "(%s)", bytes, ctx->live_bytes, cudaGetErrorString(e));
    }
    // anything else is the device's state, often a fault of an earlier kernel that the
    // allocation is the first to see
    return mw_fail(ctx, MW_ERR_BACKEND, "cudaMallocAsync of %zu bytes: %s (%s); a kernel before it "
                   "may have faulted: MW_CUDA_SYNC=1 names the kernel", bytes,
                   cudaGetErrorString(e), cudaGetErrorName(e));
}

template <typename R> void k_release(mw_ctx *ctx, void *p)
{
    if (!p)
        return;
    cuda_state *cs = state_of(ctx);
    const cudaError_t e = cudaFreeAsync(p, cs->stream);
    if (e != cudaSuccess && cs->free_error == cudaSuccess)
        cs->free_error = e; // no status to return here: the next allocation says it
}

template <typename R> mw_status k_upload(mw_ctx *ctx, void *dst, const double *src, size_t n)
{
    if (n == 0)
        return MW_OK;
    R *h = static_cast<R *>(malloc(n * sizeof(R)));
    if (!h)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for an upload");
    for (size_t i = 0; i < n; i++)
        h[i] = (R)src[i];
    cudaError_t e = cudaMemcpyAsync(dst, h, n * sizeof(R), cudaMemcpyHostToDevice,
                                    state_of(ctx)->stream);
    if (e == cudaSuccess)
        e = stream_sync(state_of(ctx));
    free(h);
    return e == cudaSuccess ? MW_OK : cuda_fail(ctx, e, "upload");
}

template <typename R> mw_status k_download(mw_ctx *ctx, double *dst, const void *src, size_t n)
{
    if (n == 0)
        return MW_OK;
    R *h = static_cast<R *>(malloc(n * sizeof(R)));
    if (!h)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a download");
    cudaError_t e = cudaMemcpyAsync(h, src, n * sizeof(R), cudaMemcpyDeviceToHost,
                                    state_of(ctx)->stream);
    if (e == cudaSuccess)
        e = stream_sync(state_of(ctx));
    if (e == cudaSuccess)
        for (size_t i = 0; i < n; i++)
            dst[i] = (double)h[i];
    free(h);
    return e == cudaSuccess ? MW_OK : cuda_fail(ctx, e, "download");
}

template <typename R> mw_status k_upload_labels(mw_ctx *ctx, void *dst, const int *src, size_t n)
{
    if (n == 0)
        return MW_OK;
    CU(ctx, cudaMemcpyAsync(dst, src, n * sizeof(int), cudaMemcpyHostToDevice,
                            state_of(ctx)->stream));
    CU(ctx, stream_sync(state_of(ctx)));
    return MW_OK;
}

// ---- gemm through cuBLAS ----

cublasStatus_t gemm_sb(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                       int n, int k, const float *alpha, const float *A, int lda, long long sA,
                       const float *B, int ldb, long long sB, const float *beta, float *C,
                       int ldc, long long sC, int count)
{
    return cublasSgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta,
                                     C, ldc, sC, count);
}

cublasStatus_t gemm_sb(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                       int n, int k, const double *alpha, const double *A, int lda, long long sA,
                       const double *B, int ldb, long long sB, const double *beta, double *C,
                       int ldc, long long sC, int count)
{
    return cublasDgemmStridedBatched(h, ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta,
                                     C, ldc, sC, count);
}

template <typename R>
__global__ void scale_matrix(size_t M, size_t N, R beta, R *C, size_t ldc, ptrdiff_t sC,
                             size_t count)
{
    size_t total = M * N * count;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t b = i / (M * N), r = (i / N) % M, c = i % N;
        R *p = C + (ptrdiff_t)b * sC + r * ldc + c;
        *p = beta == R(0) ? R(0) : beta * *p;
    }
}

// Row-major C_i = alpha op(A_i) op(B_i) + beta C_i is, column-major, C_i^T = alpha
// op(B_i)^T op(A_i)^T + beta C_i^T: cuBLAS with the operands swapped.
template <typename R>
mw_status k_gemm(mw_ctx *ctx, bool ta, bool tb, size_t M, size_t N, size_t K, double alpha,
                 const void *A, size_t lda, ptrdiff_t sA, const void *B, size_t ldb, ptrdiff_t sB,
                 double beta, void *C, size_t ldc, ptrdiff_t sC, size_t count)
{
    size_t acols = ta ? M : K, bcols = tb ? K : N;
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX || count > INT_MAX || lda < (acols ? acols : 1) ||
        ldb < (bcols ? bcols : 1) || ldc < (N ? N : 1))
        return mw_fail(ctx, MW_ERR_ARG,
                       "gemm: sizes M=%zu N=%zu K=%zu lda=%zu ldb=%zu ldc=%zu out of range", M, N,
                       K, lda, ldb, ldc);
    if (M == 0 || N == 0 || count == 0)
        return MW_OK;
    cuda_state *st = state_of(ctx);
    if (K == 0) {
        MW_LAUNCH(scale_matrix<R>, blocks_for(M * N * count), kThreads, st->stream)(
            M, N, (R)beta, static_cast<R *>(C), ldc, sC, count);
        LAUNCHED(ctx, "scale_matrix");
        return MW_OK;
    }
    const R a = (R)alpha, b = (R)beta;
    st->launches++;
    cublasStatus_t e =
        gemm_sb(st->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N,
                (int)M, (int)K, &a, static_cast<const R *>(B), (int)ldb, (long long)sB,
                static_cast<const R *>(A), (int)lda, (long long)sA, &b, static_cast<R *>(C),
                (int)ldc, (long long)sC, (int)count);
    if (e != CUBLAS_STATUS_SUCCESS)
        return blas_fail(ctx, e, sizeof(R) == 4 ? "cublasSgemmStridedBatched"
                                                : "cublasDgemmStridedBatched");
    return MW_OK;
}

// C = beta C + alpha Σ_i op(A_i) op(B_i) in two launches a chunk: the products into
// partials (one strided-batched gemm), then one kernel adding them to C in the order of i,
// each element's own fixed sum. The partials are the backend's scratch, like cuBLAS's
// workspace, not the engine's tracked memory (the CPU's gemm_sum needs none), taken
// stream-ordered (no synchronisation) and at most 64 MiB: the images a chunk
// (MW_CUDA_SUM_SCRATCH, in bytes, makes it smaller for a test).
static size_t sum_scratch()
{
    const char *e = getenv("MW_CUDA_SUM_SCRATCH");
    const long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 && v < (64L << 20) ? (size_t)v : (size_t)64 << 20;
}

template <typename R>
__global__ void add_partials(size_t M, size_t N, size_t m, const R *P, R beta, bool first,
                             R *C, size_t ldc)
{
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < M * N;
         e += (size_t)gridDim.x * blockDim.x) {
        R *c = C + (e / N) * ldc + e % N;
        R acc = !first ? *c : beta == R(0) ? R(0) : beta * *c;
        for (size_t i = 0; i < m; i++)
            acc += P[i * M * N + e];
        *c = acc;
    }
}

template <typename R>
mw_status k_gemm_sum(mw_ctx *ctx, bool ta, bool tb, size_t M, size_t N, size_t K, double alpha,
                     const void *A, size_t lda, ptrdiff_t sA, const void *B, size_t ldb,
                     ptrdiff_t sB, double beta, void *C, size_t ldc, size_t count)
{
    if (M == 0 || N == 0)
        return MW_OK;
    if (count <= 1 || K == 0)
        return count == 0 ? MW_OK
                          : k_gemm<R>(ctx, ta, tb, M, N, K, alpha, A, lda, sA, B, ldb, sB,
                                      count == 1 ? beta : 0.0, C, ldc, 0, 1);
    cuda_state *st = state_of(ctx);
    const size_t per = M * N * sizeof(R), chunk = sum_scratch() / per ? sum_scratch() / per : 1;
    const size_t mmax = count < chunk ? count : chunk;
    R *P = NULL;
    st->allocs++;
    cudaError_t e = cudaMallocAsync(reinterpret_cast<void **>(&P), mmax * per, st->stream);
    if (e != cudaSuccess)
        return cuda_fail(ctx, e, "cudaMallocAsync (gemm_sum's partials)");
    mw_status s = MW_OK;
    for (size_t i0 = 0; i0 < count && s == MW_OK; i0 += mmax) {
        const size_t m = count - i0 < mmax ? count - i0 : mmax;
        s = k_gemm<R>(ctx, ta, tb, M, N, K, alpha, static_cast<const R *>(A) + (ptrdiff_t)i0 * sA,
                      lda, sA, static_cast<const R *>(B) + (ptrdiff_t)i0 * sB, ldb, sB, 0.0, P, N,
                      (ptrdiff_t)(M * N), m);
        if (s != MW_OK)
            break;
        MW_LAUNCH(add_partials<R>, blocks_for(M * N), kThreads, st->stream)(
            M, N, m, P, (R)beta, i0 == 0, static_cast<R *>(C), ldc);
        LAUNCHED_OR(ctx, "add_partials", s);
    }
    e = cudaFreeAsync(P, st->stream);
    if (s == MW_OK && e != cudaSuccess)
        s = cuda_fail(ctx, e, "cudaFreeAsync (gemm_sum's partials)");
    return s;
}

// ---- elementwise over strided (T, R, C) views ----

template <typename R>
__global__ void ew_kernel(mw_ew_op op, mw_act a_kind, R slope, R alpha, R beta, size_t T,
                          size_t Rn, size_t Cn, R *out, ptrdiff_t ost, ptrdiff_t osr, const R *a,
                          ptrdiff_t ast, ptrdiff_t asr, const R *b, ptrdiff_t bst, ptrdiff_t bsr,
                          R *out2, ptrdiff_t o2st, ptrdiff_t o2sr)
{
    size_t total = T * Rn * Cn;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / (Rn * Cn), r = (i / Cn) % Rn, c = i % Cn;
        R *o = out + (ptrdiff_t)t * ost + (ptrdiff_t)r * osr + (ptrdiff_t)c;
        R va = a ? a[(ptrdiff_t)t * ast + (ptrdiff_t)r * asr + (ptrdiff_t)c] : R(0);
        R vb = b ? b[(ptrdiff_t)t * bst + (ptrdiff_t)r * bsr + (ptrdiff_t)c] : R(0);
        switch (op) {
        case MW_EW_FILL: *o = alpha; break;
        case MW_EW_SCALE: *o = alpha * va; break;
        case MW_EW_AXPBY: *o = alpha * va + beta * vb; break;
        case MW_EW_MUL: *o = va * vb; break;
        case MW_EW_ACT: *o = act(a_kind, slope, va); break;
        case MW_EW_ACT_INV: *o = act_inv(a_kind, slope, va); break;
        case MW_EW_ACT_DMUL: *o = dact(a_kind, slope, va) * vb; break;
        case MW_EW_ACT_DINV_MUL: *o = dinv_mul(a_kind, slope, va, vb); break;
        case MW_EW_EXP: *o = exp(alpha * va); break;
        case MW_EW_DIV: *o = vb / va; break;
        case MW_EW_ACT_WITH_DINV_MUL:
            *o = act(a_kind, slope, va);
            out2[(ptrdiff_t)t * o2st + (ptrdiff_t)r * o2sr + (ptrdiff_t)c] =
                dinv_mul(a_kind, slope, va, vb);
            break;
        }
    }
}

template <typename R> mw_status k_ew(mw_ctx *ctx, const mw_ew *e)
{
    size_t n = e->d.T * e->d.R * e->d.C;
    if (n == 0)
        return MW_OK;
    MW_LAUNCH(ew_kernel<R>, blocks_for(n), kThreads, state_of(ctx)->stream)(
        e->op, e->act, (R)e->slope, (R)e->alpha, (R)e->beta, e->d.T, e->d.R, e->d.C,
        static_cast<R *>(e->out.p), e->out.st, e->out.sr, static_cast<const R *>(e->a.p),
        e->a.st, e->a.sr, static_cast<const R *>(e->b.p), e->b.st, e->b.sr,
        static_cast<R *>(e->out2.p), e->out2.st, e->out2.sr);
    LAUNCHED(ctx, "ew");
    return MW_OK;
}

// ---- reductions ----

// One thread per (t, c) (grid-stride, as every elementwise kernel: a grid is capped at
// blocks_for's limit), rows in order: the CPU's summation order.
template <typename R>
__global__ void sum_rows_kernel(size_t T, size_t Rn, size_t Cn, const R *in, ptrdiff_t ist,
                                ptrdiff_t isr, R alpha, R beta, R *out, ptrdiff_t ost)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < T * Cn;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / Cn, c = i % Cn;
        R s = R(0);
        for (size_t r = 0; r < Rn; r++)
            s += in[(ptrdiff_t)t * ist + (ptrdiff_t)r * isr + (ptrdiff_t)c];
        R *o = out + (ptrdiff_t)t * ost + (ptrdiff_t)c;
        *o = (beta == R(0) ? R(0) : beta * *o) + alpha * s;
    }
}

template <typename R>
mw_status k_sum_rows(mw_ctx *ctx, mw_dims d, mw_view in, double alpha, double beta, mw_view out)
{
    if (d.T * d.C == 0)
        return MW_OK;
    MW_LAUNCH(sum_rows_kernel<R>, blocks_for(d.T * d.C), kThreads, state_of(ctx)->stream)(
        d.T, d.R, d.C, static_cast<const R *>(in.p), in.st, in.sr, (R)alpha, (R)beta,
        static_cast<R *>(out.p), out.st);
    LAUNCHED(ctx, "sum_rows");
    return MW_OK;
}

template <typename R>
__global__ void rowdot_kernel(size_t T, size_t Rn, size_t Cn, const R *a, ptrdiff_t ast,
                              ptrdiff_t asr, const R *b, ptrdiff_t bst, ptrdiff_t bsr, R alpha,
                              R *out, ptrdiff_t ost, ptrdiff_t osr)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < T * Rn;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / Rn, r = i % Rn;
        const R *pa = a + (ptrdiff_t)t * ast + (ptrdiff_t)r * asr;
        const R *pb = b + (ptrdiff_t)t * bst + (ptrdiff_t)r * bsr;
        R s = R(0);
        for (size_t c = 0; c < Cn; c++)
            s += pa[c] * pb[c];
        out[(ptrdiff_t)t * ost + (ptrdiff_t)r * osr] = alpha * s;
    }
}

template <typename R>
mw_status k_rowdot(mw_ctx *ctx, mw_dims d, mw_view a, mw_view b, double alpha, mw_view out)
{
    if (d.T * d.R == 0)
        return MW_OK;
    MW_LAUNCH(rowdot_kernel<R>, blocks_for(d.T * d.R), kThreads, state_of(ctx)->stream)(
        d.T, d.R, d.C, static_cast<const R *>(a.p), a.st, a.sr, static_cast<const R *>(b.p),
        b.st, b.sr, (R)alpha, static_cast<R *>(out.p), out.st, out.sr);
    LAUNCHED(ctx, "rowdot");
    return MW_OK;
}

// ---- softmax cross-entropy: one thread per row, the CPU's formulas ----

template <typename R>
__global__ void xent_kernel(size_t B, size_t C, const R *logits, const int *y, R *loss, R *G)
{
    for (size_t b = (size_t)blockIdx.x * blockDim.x + threadIdx.x; b < B;
         b += (size_t)gridDim.x * blockDim.x) {
        const R *l = logits + b * C;
        R *g = G + b * C;
        R m = l[0];
        for (size_t c = 1; c < C; c++)
            m = l[c] > m ? l[c] : m;
        R s = R(0);
        for (size_t c = 0; c < C; c++)
            s += exp(l[c] - m);
        R lse = m + log(s);
        for (size_t c = 0; c < C; c++)
            g[c] = exp(l[c] - lse);
        g[y[b]] -= R(1);
        loss[b] = lse - l[y[b]];
    }
}

template <typename R>
mw_status k_xent(mw_ctx *ctx, size_t B, size_t C, const void *logits, const void *labels,
                 void *loss, void *G)
{
    if (B == 0)
        return MW_OK;
    MW_LAUNCH(xent_kernel<R>, blocks_for(B), kThreads, state_of(ctx)->stream)(
        B, C, static_cast<const R *>(logits), static_cast<const int *>(labels),
        static_cast<R *>(loss), static_cast<R *>(G));
    LAUNCHED(ctx, "xent");
    return MW_OK;
}

// ---- BatchNorm over (B, C, S): one block per channel (and tangent), or per slice of one ----

// A channel of many elements is summed by many blocks: each block one slice of the
// channel's n = B*S elements (its own fixed-order sum), then one thread per channel adds
// the slices' sums in order (two stages, a few more launches) — where one block a channel
// would leave most of the device idle (the paper's first block has 4 channels of 524288
// elements). Channels of one slice keep the one-block kernels. The reductions (dot, dist2,
// sum, find_nonfinite) slice the same way. MW_CUDA_SLICE (elements) makes the slices
// small, so that a test runs the two stages at small sizes.
static size_t bn_slice()
{
    const char *e = getenv("MW_CUDA_SLICE");
    const long v = e ? strtol(e, NULL, 10) : 0;
    return v > 0 && v < 16384 ? (size_t)v : 16384;
}

// kind 0: Σ a; 1: Σ (a - mean[c])²; 2: Σ a and Σ a·b (BatchNorm's vjp: a = dy, b = x̂).
template <typename R>
__global__ void chan_slices(int kind, size_t B, size_t C, size_t S, size_t slice, const R *a,
                            const R *b, const R *mean, R *s1, R *s2)
{
    const size_t c = blockIdx.x, q = blockIdx.y, P = gridDim.y, n = B * S;
    const size_t k0 = q * slice, k1 = k0 + slice < n ? k0 + slice : n;
    R p1 = R(0), p2 = R(0);
    for (size_t k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
        const size_t i = ((k / S) * C + c) * S + k % S;
        if (kind == 1) {
            const R dev = a[i] - mean[c];
            p1 += dev * dev;
        } else {
            p1 += a[i];
            if (kind == 2)
                p2 += a[i] * b[i];
        }
    }
    p1 = block_sum<R>(p1);
    if (kind == 2)
        p2 = block_sum<R>(p2);
    if (threadIdx.x == 0) {
        s1[c * P + q] = p1;
        if (kind == 2)
            s2[c * P + q] = p2;
    }
}

// The slices' sums of each channel, in order. stage 0: mean; 1: the variance's, rstd and
// the statistics asked for; 2 (the vjp): dγ, dβ and the two means the input's needs.
template <typename R>
__global__ void chan_finish(int stage, size_t C, size_t P, R inv_n, R eps, const R *s1,
                            const R *s2, R *mean, R *rstd, R *mean_out, R *var_out, R *dgamma,
                            R *dbeta, R *m)
{
    for (size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x; c < C;
         c += (size_t)gridDim.x * blockDim.x) {
        R a = R(0), b = R(0);
        for (size_t q = 0; q < P; q++) {
            a += s1[c * P + q];
            if (stage == 2)
                b += s2[c * P + q];
        }
        if (stage == 0) {
            mean[c] = a * inv_n;
        } else if (stage == 1) {
            const R var = a * inv_n;
            rstd[c] = R(1) / sqrt(var + eps);
            if (mean_out)
                mean_out[c] = mean[c];
            if (var_out)
                var_out[c] = var;
        } else {
            if (dgamma)
                dgamma[c] = b;
            if (dbeta)
                dbeta[c] = a;
            m[2 * c] = a * inv_n;
            m[2 * c + 1] = b * inv_n;
        }
    }
}

template <typename R>
__global__ void bn_normalize(size_t B, size_t C, size_t S, const R *x, const R *mean,
                             const R *rstd, const R *gamma, const R *beta, R *xhat, R *y)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * C * S;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t c = (i / S) % C;
        const R xh = (x[i] - mean[c]) * rstd[c];
        xhat[i] = xh;
        y[i] = gamma[c] * xh + beta[c];
    }
}

template <typename R>
__global__ void bn_vjp_input(size_t B, size_t C, size_t S, const R *xhat, const R *rstd,
                             const R *gamma, const R *dy, const R *m, R *dx)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * C * S;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t c = (i / S) % C;
        const R kk = gamma[c] * rstd[c];
        dx[i] = kk * (dy[i] - m[2 * c] - xhat[i] * m[2 * c + 1]);
    }
}

// Scratch for the two stages, stream-ordered from the pool: the slices' sums and the
// per-channel means.
template <typename R> R *slice_scratch(mw_ctx *ctx, size_t n, mw_status *st)
{
    cuda_state *cs = state_of(ctx);
    void *p = NULL;
    cs->allocs++;
    cudaError_t e = cudaMallocAsync(&p, n * sizeof(R), cs->stream);
    *st = e == cudaSuccess ? MW_OK : cuda_fail(ctx, e, "cudaMallocAsync (BatchNorm's slices)");
    return static_cast<R *>(p);
}

template <typename R> mw_status free_scratch(mw_ctx *ctx, void *p, mw_status st)
{
    const cudaError_t e = cudaFreeAsync(p, state_of(ctx)->stream);
    return st == MW_OK && e != cudaSuccess ? cuda_fail(ctx, e, "cudaFreeAsync (BatchNorm's slices)")
                                           : st;
}

template <typename R>
__global__ void bn_forward_kernel(size_t B, size_t C, size_t S, R eps, const R *x,
                                  const R *gamma, const R *beta, R *y, R *xhat, R *rstd,
                                  R *mean_out, R *var_out)
{
    const size_t c = blockIdx.x, n = B * S;
    const R inv_n = R(1) / (R)n;
    R part = R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x)
        part += x[((k / S) * C + c) * S + k % S];
    const R mean = block_sum<R>(part) * inv_n;
    part = R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        R dev = x[((k / S) * C + c) * S + k % S] - mean;
        part += dev * dev;
    }
    const R var = block_sum<R>(part) * inv_n;
    const R r = R(1) / sqrt(var + eps);
    if (threadIdx.x == 0) {
        rstd[c] = r;
        if (mean_out)
            mean_out[c] = mean;
        if (var_out)
            var_out[c] = var;
    }
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        R xh = (x[i] - mean) * r;
        xhat[i] = xh;
        y[i] = gamma[c] * xh + beta[c];
    }
}

template <typename R>
mw_status k_bn_forward(mw_ctx *ctx, size_t B, size_t C, size_t S, double eps, const void *x,
                       const void *gamma, const void *beta, void *y, void *xhat, void *rstd,
                       void *mean, void *var)
{
    if (C == 0)
        return MW_OK;
    const size_t n = B * S, slice = bn_slice(), P = (n + slice - 1) / slice;
    if (P > 1 && P <= grid_y_max() && C <= INT_MAX) {
        cudaStream_t sm = state_of(ctx)->stream;
        const R *cn = nullptr;
        R *rn = nullptr;
        mw_status st = MW_OK;
        R *s1 = slice_scratch<R>(ctx, C * P + C, &st), *mu = s1 + C * P;
        if (st != MW_OK)
            return st;
        const R inv_n = R(1) / (R)n;
        dim3 grid((unsigned)C, (unsigned)P);
        MW_LAUNCH(chan_slices<R>, grid, kThreads, sm)(0, B, C, S, slice,
                                                      static_cast<const R *>(x), cn, cn, s1, rn);
        LAUNCHED_OR(ctx, "bn_forward (sums)", st);
        if (st == MW_OK) {
            MW_LAUNCH(chan_finish<R>, blocks_for(C), kThreads, sm)(
                0, C, P, inv_n, (R)eps, s1, cn, mu, rn, rn, rn, rn, rn, rn);
            LAUNCHED_OR(ctx, "bn_forward (mean)", st);
        }
        if (st == MW_OK) {
            MW_LAUNCH(chan_slices<R>, grid, kThreads, sm)(1, B, C, S, slice,
                                                          static_cast<const R *>(x), cn, mu, s1, rn);
            LAUNCHED_OR(ctx, "bn_forward (squares)", st);
        }
        if (st == MW_OK) {
            MW_LAUNCH(chan_finish<R>, blocks_for(C), kThreads, sm)(
                1, C, P, inv_n, (R)eps, s1, cn, mu, static_cast<R *>(rstd),
                static_cast<R *>(mean), static_cast<R *>(var), rn, rn, rn);
            LAUNCHED_OR(ctx, "bn_forward (variance)", st);
        }
        if (st == MW_OK) {
            MW_LAUNCH(bn_normalize<R>, blocks_for(B * C * S), kThreads, sm)(
                B, C, S, static_cast<const R *>(x), mu, static_cast<const R *>(rstd),
                static_cast<const R *>(gamma), static_cast<const R *>(beta),
                static_cast<R *>(xhat), static_cast<R *>(y));
            LAUNCHED_OR(ctx, "bn_forward (normalise)", st);
        }
        return free_scratch<R>(ctx, s1, st);
    }
    MW_LAUNCH(bn_forward_kernel<R>, (unsigned)C, kThreads, state_of(ctx)->stream)(
        B, C, S, (R)eps, static_cast<const R *>(x), static_cast<const R *>(gamma),
        static_cast<const R *>(beta), static_cast<R *>(y), static_cast<R *>(xhat),
        static_cast<R *>(rstd), static_cast<R *>(mean), static_cast<R *>(var));
    LAUNCHED(ctx, "bn_forward");
    return MW_OK;
}

// Block (c, t): dy = γ rstd (dx - mean dx - x̂ mean(x̂ dx)) + dγ x̂ + dβ.
template <typename R>
__global__ void bn_jvp_kernel(size_t B, size_t C, size_t S, const R *xhat, const R *rstd,
                              const R *gamma, const R *dxv, const R *dg, ptrdiff_t dgst,
                              const R *db, ptrdiff_t dbst, R *dyv)
{
    const size_t c = blockIdx.x, t = blockIdx.y, n = B * S, per = B * C * S;
    const R inv_n = R(1) / (R)n;
    const R *dx = dxv + t * per;
    R *dy = dyv + t * per;
    R p1 = R(0), p2 = R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        p1 += dx[i];
        p2 += xhat[i] * dx[i];
    }
    const R m1 = block_sum<R>(p1) * inv_n, m2 = block_sum<R>(p2) * inv_n;
    const R kk = gamma[c] * rstd[c];
    const R g = dg ? dg[(ptrdiff_t)t * dgst + (ptrdiff_t)c] : R(0);
    const R bb = db ? db[(ptrdiff_t)t * dbst + (ptrdiff_t)c] : R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        dy[i] = kk * (dx[i] - m1 - xhat[i] * m2) + g * xhat[i] + bb;
    }
}

template <typename R>
mw_status k_bn_jvp(mw_ctx *ctx, size_t T, size_t B, size_t C, size_t S, const void *xhat,
                   const void *rstd, const void *gamma, const void *dx, mw_view dgamma,
                   mw_view dbeta, void *dy)
{
    if (T == 0 || C == 0)
        return MW_OK;
    if (C > INT_MAX)
        return mw_fail(ctx, MW_ERR_ARG, "bn_jvp: %zu channels (at most %d)", C, INT_MAX);
    const size_t per = B * C * S, most = grid_y_max();
    const R *dg = static_cast<const R *>(dgamma.p), *db = static_cast<const R *>(dbeta.p);
    for (size_t t0 = 0; t0 < T; t0 += most) { // a block per (channel, tangent)
        const size_t tn = T - t0 < most ? T - t0 : most;
        dim3 grid((unsigned)C, (unsigned)tn);
        MW_LAUNCH(bn_jvp_kernel<R>, grid, kThreads, state_of(ctx)->stream)(
            B, C, S, static_cast<const R *>(xhat), static_cast<const R *>(rstd),
            static_cast<const R *>(gamma), static_cast<const R *>(dx) + t0 * per,
            dg ? dg + (ptrdiff_t)t0 * dgamma.st : dg, dgamma.st,
            db ? db + (ptrdiff_t)t0 * dbeta.st : db, dbeta.st, static_cast<R *>(dy) + t0 * per);
        LAUNCHED(ctx, "bn_jvp");
    }
    return MW_OK;
}

template <typename R>
__global__ void bn_vjp_kernel(size_t B, size_t C, size_t S, const R *xhat, const R *rstd,
                              const R *gamma, const R *dy, R *dx, R *dgamma, R *dbeta)
{
    const size_t c = blockIdx.x, n = B * S;
    const R inv_n = R(1) / (R)n;
    R p1 = R(0), p2 = R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        p1 += dy[i];
        p2 += dy[i] * xhat[i];
    }
    const R sdy = block_sum<R>(p1), sdyx = block_sum<R>(p2);
    if (threadIdx.x == 0) {
        if (dgamma)
            dgamma[c] = sdyx;
        if (dbeta)
            dbeta[c] = sdy;
    }
    if (!dx)
        return;
    const R kk = gamma[c] * rstd[c], m1 = sdy * inv_n, m2 = sdyx * inv_n;
    for (size_t k = threadIdx.x; k < n; k += blockDim.x) {
        size_t i = ((k / S) * C + c) * S + k % S;
        dx[i] = kk * (dy[i] - m1 - xhat[i] * m2);
    }
}

template <typename R>
mw_status k_bn_vjp(mw_ctx *ctx, size_t B, size_t C, size_t S, const void *xhat, const void *rstd,
                   const void *gamma, const void *dy, void *dx, void *dgamma, void *dbeta)
{
    if (C == 0)
        return MW_OK;
    const size_t n = B * S, slice = bn_slice(), P = (n + slice - 1) / slice;
    if (P > 1 && P <= grid_y_max() && C <= INT_MAX) {
        cudaStream_t sm = state_of(ctx)->stream;
        mw_status st = MW_OK;
        R *s1 = slice_scratch<R>(ctx, 2 * C * P + 2 * C, &st), *s2 = s1 + C * P;
        R *m = s2 + C * P, *rn = nullptr;
        const R *cn = nullptr;
        if (st != MW_OK)
            return st;
        dim3 grid((unsigned)C, (unsigned)P);
        MW_LAUNCH(chan_slices<R>, grid, kThreads, sm)(2, B, C, S, slice,
                                                      static_cast<const R *>(dy),
                                                      static_cast<const R *>(xhat), cn, s1, s2);
        LAUNCHED_OR(ctx, "bn_vjp (sums)", st);
        if (st == MW_OK) {
            MW_LAUNCH(chan_finish<R>, blocks_for(C), kThreads, sm)(
                2, C, P, R(1) / (R)n, R(0), s1, s2, rn, rn, rn, rn,
                static_cast<R *>(dgamma), static_cast<R *>(dbeta), m);
            LAUNCHED_OR(ctx, "bn_vjp (statistics)", st);
        }
        if (st == MW_OK && dx) {
            MW_LAUNCH(bn_vjp_input<R>, blocks_for(B * C * S), kThreads, sm)(
                B, C, S, static_cast<const R *>(xhat), static_cast<const R *>(rstd),
                static_cast<const R *>(gamma), static_cast<const R *>(dy), m,
                static_cast<R *>(dx));
            LAUNCHED_OR(ctx, "bn_vjp (input)", st);
        }
        return free_scratch<R>(ctx, s1, st);
    }
    MW_LAUNCH(bn_vjp_kernel<R>, (unsigned)C, kThreads, state_of(ctx)->stream)(
        B, C, S, static_cast<const R *>(xhat), static_cast<const R *>(rstd),
        static_cast<const R *>(gamma), static_cast<const R *>(dy), static_cast<R *>(dx),
        static_cast<R *>(dgamma), static_cast<R *>(dbeta));
    LAUNCHED(ctx, "bn_vjp");
    return MW_OK;
}

template <typename R>
__global__ void bn_eval_kernel(size_t B, size_t C, size_t S, R eps, const R *x, const R *gamma,
                               const R *beta, const R *mean, const R *var, R *y)
{
    size_t total = B * C * S;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t c = (i / S) % C;
        R k = gamma[c] / sqrt(var[c] + eps);
        y[i] = k * (x[i] - mean[c]) + beta[c];
    }
}

template <typename R>
mw_status k_bn_eval(mw_ctx *ctx, size_t B, size_t C, size_t S, double eps, const void *x,
                    const void *gamma, const void *beta, const void *mean, const void *var, void *y)
{
    if (B * C * S == 0)
        return MW_OK;
    MW_LAUNCH(bn_eval_kernel<R>, blocks_for(B * C * S), kThreads, state_of(ctx)->stream)(
        B, C, S, (R)eps, static_cast<const R *>(x), static_cast<const R *>(gamma),
        static_cast<const R *>(beta), static_cast<const R *>(mean), static_cast<const R *>(var),
        static_cast<R *>(y));
    LAUNCHED(ctx, "bn_eval");
    return MW_OK;
}

// ---- images ----

template <typename R>
__global__ void im2col_kernel(size_t n_img, size_t C, size_t H, size_t W, const R *in,
                              size_t ld, R *col, bool flip)
{
    const size_t S = H * W, total = n_img * C * 9 * S;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t img = i / (C * 9 * S), row = (i / S) % (C * 9), p = i % S;
        size_t c = row / 9, ky = (row % 9) / 3, kx = row % 3, y = p / W, x = p % W;
        if (flip) {
            ky = 2 - ky;
            kx = 2 - kx;
        }
        size_t sy = y + ky, sx = x + kx; // source row + 1, column + 1
        col[i] = sy >= 1 && sy <= H && sx >= 1 && sx <= W
                     ? in[img * ld + (c * H + sy - 1) * W + sx - 1]
                     : R(0);
    }
}

template <typename R>
mw_status k_im2col(mw_ctx *ctx, size_t n_img, size_t C, size_t H, size_t W, const void *in,
                   size_t ld, void *col, bool flip)
{
    size_t total = n_img * C * 9 * H * W;
    if (total == 0)
        return MW_OK;
    MW_LAUNCH(im2col_kernel<R>, blocks_for(total), kThreads, state_of(ctx)->stream)(
        n_img, C, H, W, static_cast<const R *>(in), ld, static_cast<R *>(col), flip);
    LAUNCHED(ctx, "im2col");
    return MW_OK;
}

template <typename R>
__global__ void squeeze_kernel(size_t n_img, size_t C, size_t H, size_t W, const R *in, R *out,
                               bool inverse)
{
    const size_t h = H / 2, w = W / 2, N = C * H * W, total = n_img * N;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        // i indexes the small (4C, h, w) side
        size_t img = i / N, q = i % N, cc = q / (h * w), yx = q % (h * w), y = yx / w, x = yx % w;
        size_t c = cc / 4, dy = (cc % 4) / 2, dx = cc % 2;
        size_t big = img * N + (c * H + 2 * y + dy) * W + 2 * x + dx;
        if (inverse)
            out[big] = in[i];
        else
            out[i] = in[big];
    }
}

template <typename R>
mw_status k_squeeze(mw_ctx *ctx, size_t n_img, size_t C, size_t H, size_t W, const void *in,
                    void *out, bool inverse)
{
    size_t total = n_img * C * H * W;
    if (total == 0)
        return MW_OK;
    MW_LAUNCH(squeeze_kernel<R>, blocks_for(total), kThreads, state_of(ctx)->stream)(
        n_img, C, H, W, static_cast<const R *>(in), static_cast<R *>(out), inverse);
    LAUNCHED(ctx, "squeeze");
    return MW_OK;
}

template <typename R>
__global__ void chan_bias_kernel(size_t n_img, size_t C, size_t S, R alpha, const R *bias,
                                 size_t group, size_t ld, R *out)
{
    const size_t total = n_img * C * S;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t img = i / (C * S), c = (i / S) % C;
        out[i] += alpha * bias[(img / group) * ld + c];
    }
}

template <typename R>
mw_status k_chan_bias(mw_ctx *ctx, size_t n_img, size_t C, size_t S, double alpha,
                      const void *bias, size_t group, size_t ld, void *out)
{
    size_t total = n_img * C * S;
    if (total == 0)
        return MW_OK;
    MW_LAUNCH(chan_bias_kernel<R>, blocks_for(total), kThreads, state_of(ctx)->stream)(
        n_img, C, S, (R)alpha, static_cast<const R *>(bias), group, ld, static_cast<R *>(out));
    LAUNCHED(ctx, "chan_bias");
    return MW_OK;
}

template <typename R>
__global__ void chan_mul_kernel(size_t n_img, size_t C, size_t S, const R *scale, R *out)
{
    const size_t total = n_img * C * S;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] *= scale[(i / S) % C];
}

template <typename R>
mw_status k_chan_mul(mw_ctx *ctx, size_t n_img, size_t C, size_t S, const void *scale, void *out)
{
    size_t total = n_img * C * S;
    if (total == 0)
        return MW_OK;
    MW_LAUNCH(chan_mul_kernel<R>, blocks_for(total), kThreads, state_of(ctx)->stream)(
        n_img, C, S, static_cast<const R *>(scale), static_cast<R *>(out));
    LAUNCHED(ctx, "chan_mul");
    return MW_OK;
}

// Block (c, g): the sum over the group's images and positions, fixed order.
// chan_sum of one group from its channels' slices: out[c] = alpha Σ + beta out[c].
template <typename R>
__global__ void chan_sum_finish(size_t C, size_t P, const R *s1, R alpha, R beta, R *out)
{
    for (size_t c = (size_t)blockIdx.x * blockDim.x + threadIdx.x; c < C;
         c += (size_t)gridDim.x * blockDim.x) {
        R a = R(0);
        for (size_t q = 0; q < P; q++)
            a += s1[c * P + q];
        out[c] = alpha * a + (beta == R(0) ? R(0) : beta * out[c]);
    }
}

template <typename R>
__global__ void chan_sum_kernel(size_t n_img, size_t C, size_t S, size_t group, const R *in,
                                R alpha, R beta, R *out, size_t ld)
{
    const size_t c = blockIdx.x, g = blockIdx.y, first = g * group;
    const size_t last = first + group < n_img ? first + group : n_img, n = (last - first) * S;
    R part = R(0);
    for (size_t k = threadIdx.x; k < n; k += blockDim.x)
        part += in[((first + k / S) * C + c) * S + k % S];
    R s = block_sum<R>(part);
    if (threadIdx.x == 0) {
        R *o = out + g * ld + c;
        *o = alpha * s + (beta == R(0) ? R(0) : beta * *o);
    }
}

template <typename R>
mw_status k_chan_sum(mw_ctx *ctx, size_t n_img, size_t C, size_t S, size_t group,
                     const void *in, double alpha, double beta, void *out, size_t ld)
{
    if (n_img == 0 || C == 0 || group == 0)
        return MW_OK;
    const size_t n = n_img * S, slice = bn_slice(), P = (n + slice - 1) / slice;
    if (group >= n_img && P > 1 && P <= grid_y_max() && C <= INT_MAX) {
        // one group (a bias gradient over the batch): the channels' slices over many blocks
        cudaStream_t sm = state_of(ctx)->stream;
        mw_status st = MW_OK;
        const R *cn = nullptr;
        R *rn = nullptr;
        R *s1 = slice_scratch<R>(ctx, C * P, &st);
        if (st != MW_OK)
            return st;
        dim3 grid((unsigned)C, (unsigned)P);
        MW_LAUNCH(chan_slices<R>, grid, kThreads, sm)(0, n_img, C, S, slice,
                                                      static_cast<const R *>(in), cn, cn, s1, rn);
        LAUNCHED_OR(ctx, "chan_sum (slices)", st);
        if (st == MW_OK) {
            MW_LAUNCH(chan_sum_finish<R>, blocks_for(C), kThreads, sm)(
                C, P, s1, (R)alpha, (R)beta, static_cast<R *>(out));
            LAUNCHED_OR(ctx, "chan_sum", st);
        }
        return free_scratch<R>(ctx, s1, st);
    }
    const size_t groups = (n_img + group - 1) / group, most = grid_y_max();
    if (C > INT_MAX)
        return mw_fail(ctx, MW_ERR_ARG, "chan_sum: %zu channels (at most %d)", C, INT_MAX);
    for (size_t g0 = 0; g0 < groups; g0 += most) { // a block per (channel, group)
        const size_t gn = groups - g0 < most ? groups - g0 : most, first = g0 * group;
        const size_t imgs = n_img - first < gn * group ? n_img - first : gn * group;
        dim3 grid((unsigned)C, (unsigned)gn);
        MW_LAUNCH(chan_sum_kernel<R>, grid, kThreads, state_of(ctx)->stream)(
            imgs, C, S, group, static_cast<const R *>(in) + first * C * S, (R)alpha, (R)beta,
            static_cast<R *>(out) + g0 * ld, ld);
        LAUNCHED(ctx, "chan_sum");
    }
    return MW_OK;
}

// ---- random numbers: the CPU's Philox, the same draw for the same index ----

template <typename R>
__global__ void normal_kernel(size_t T, size_t Cn, R *out, size_t ld, uint64_t seed,
                              uint64_t stream, uint64_t index0, uint64_t tstride)
{
    const size_t total = T * Cn;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t t = i / Cn, c = i % Cn;
        out[t * ld + c] = (R)mw_philox_normal(seed, stream, index0 + t * tstride + c);
    }
}

template <typename R>
mw_status k_normal(mw_ctx *ctx, size_t T, size_t C, void *out, size_t ld, uint64_t seed,
                   uint64_t stream, uint64_t index0, uint64_t tstride)
{
    if (T * C == 0)
        return MW_OK;
    MW_LAUNCH(normal_kernel<R>, blocks_for(T * C), kThreads, state_of(ctx)->stream)(
        T, C, static_cast<R *>(out), ld, seed, stream, index0, tstride);
    LAUNCHED(ctx, "normal");
    return MW_OK;
}

// ---- optimiser ----

template <typename R>
__global__ void adam_kernel(size_t n, R *theta, const R *g, R *m, R *v, R b1, R b2, R eps,
                            R step, R bc2)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        m[i] = b1 * m[i] + (R(1) - b1) * g[i];
        v[i] = b2 * v[i] + (R(1) - b2) * g[i] * g[i];
        theta[i] -= step * m[i] / (sqrt(v[i]) / bc2 + eps);
    }
}

template <typename R>
mw_status k_adam(mw_ctx *ctx, size_t n, void *theta, const void *g, void *m, void *v, double b1,
                 double b2, double eps, double step_size, double sqrt_bc2)
{
    if (n == 0)
        return MW_OK;
    MW_LAUNCH(adam_kernel<R>, blocks_for(n), kThreads, state_of(ctx)->stream)(
        n, static_cast<R *>(theta), static_cast<const R *>(g), static_cast<R *>(m),
        static_cast<R *>(v), (R)b1, (R)b2, (R)eps, (R)step_size, (R)sqrt_bc2);
    LAUNCHED(ctx, "adam");
    return MW_OK;
}

// ---- diagnostics: double accumulation, one block, fixed order ----

enum { RED_DOT, RED_DIST2, RED_SUM };

template <typename R>
__global__ void reduce_kernel(int kind, size_t n, size_t slice, const R *x, const R *y,
                              double *out)
{
    const size_t k0 = (size_t)blockIdx.x * slice, k1 = k0 + slice < n ? k0 + slice : n;
    double part = 0.0;
    for (size_t i = k0 + threadIdx.x; i < k1; i += blockDim.x) {
        double a = (double)x[i];
        if (kind == RED_DOT)
            part += a * (double)y[i];
        else if (kind == RED_DIST2) {
            double d = a - (double)y[i];
            part += d * d;
        } else
            part += a;
    }
    double s = block_sum<double>(part);
    if (threadIdx.x == 0)
        out[blockIdx.x] = s;
}

// The slices' sums, one block: thread t adds slices t, t + blockDim, ... in order, then the
// block's fixed tree.
__global__ void reduce_finish(size_t P, const double *partial, double *out)
{
    double part = 0.0;
    for (size_t q = threadIdx.x; q < P; q += blockDim.x)
        part += partial[q];
    double s = block_sum<double>(part);
    if (threadIdx.x == 0)
        *out = s;
}

// Slices of a reduction over n elements: at most 1024, so that one block finishes them.
static size_t slices_of(size_t n, size_t *slice)
{
    size_t s = bn_slice(), P = n ? (n + s - 1) / s : 1;
    if (P > 1024) {
        s = (n + 1023) / 1024;
        P = (n + s - 1) / s;
    }
    *slice = s;
    return P;
}

template <typename R>
mw_status reduce(mw_ctx *ctx, int kind, size_t n, const void *x, const void *y, double *out)
{
    cuda_state *st = state_of(ctx);
    size_t slice;
    const size_t P = slices_of(n, &slice);
    double *d = NULL;
    st->allocs++;
    CU(ctx, cudaMallocAsync(&d, (P + 1) * sizeof *d, st->stream));
    MW_LAUNCH(reduce_kernel<R>, (unsigned)P, kThreads, st->stream)(
        kind, n, slice, static_cast<const R *>(x), static_cast<const R *>(y), d);
    st->launches++;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && P > 1) {
        MW_LAUNCH(reduce_finish, 1, kThreads, st->stream)(P, static_cast<const double *>(d),
                                                         d + P);
        st->launches++;
        e = cudaGetLastError();
    }
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(out, P > 1 ? d + P : d, sizeof *out, cudaMemcpyDeviceToHost,
                            st->stream);
    if (e == cudaSuccess)
        e = stream_sync(st);
    const cudaError_t f = cudaFreeAsync(d, st->stream);
    if (e == cudaSuccess)
        e = f;
    return e == cudaSuccess ? MW_OK : cuda_fail(ctx, e, "reduction");
}

template <typename R>
mw_status k_dot(mw_ctx *ctx, size_t n, const void *x, const void *y, double *out)
{
    return reduce<R>(ctx, RED_DOT, n, x, y, out);
}

template <typename R>
mw_status k_dist2(mw_ctx *ctx, size_t n, const void *x, const void *y, double *out)
{
    return reduce<R>(ctx, RED_DIST2, n, x, y, out);
}

template <typename R> mw_status k_sum(mw_ctx *ctx, size_t n, const void *x, double *out)
{
    return reduce<R>(ctx, RED_SUM, n, x, NULL, out);
}

// The least of the block's values, in every thread.
__device__ unsigned long long block_min(unsigned long long v)
{
    __shared__ unsigned long long buf[kThreads];
    buf[threadIdx.x] = v;
    __syncthreads();
    for (int s = kThreads / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s && buf[threadIdx.x + s] < buf[threadIdx.x])
            buf[threadIdx.x] = buf[threadIdx.x + s];
        __syncthreads();
    }
    const unsigned long long r = buf[0];
    __syncthreads();
    return r;
}

// The first non-finite index in the block's slice (n where there is none); then the least
// over the slices.
template <typename R>
__global__ void nonfinite_kernel(size_t n, size_t slice, const R *x, unsigned long long *first)
{
    const size_t k0 = (size_t)blockIdx.x * slice, k1 = k0 + slice < n ? k0 + slice : n;
    unsigned long long best = (unsigned long long)n;
    for (size_t i = k0 + threadIdx.x; i < k1; i += blockDim.x)
        if (!isfinite(x[i])) {
            best = i;
            break; // the thread's first; i grows
        }
    best = block_min(best);
    if (threadIdx.x == 0)
        first[blockIdx.x] = best;
}

__global__ void nonfinite_finish(size_t P, size_t n, const unsigned long long *partial,
                                 unsigned long long *first)
{
    unsigned long long best = (unsigned long long)n;
    for (size_t q = threadIdx.x; q < P; q += blockDim.x)
        if (partial[q] < best)
            best = partial[q];
    best = block_min(best);
    if (threadIdx.x == 0)
        *first = best;
}

template <typename R>
mw_status k_find_nonfinite(mw_ctx *ctx, size_t n, const void *x, size_t *first)
{
    cuda_state *st = state_of(ctx);
    size_t slice;
    const size_t P = slices_of(n, &slice);
    unsigned long long *d = NULL, h = 0;
    st->allocs++;
    CU(ctx, cudaMallocAsync(&d, (P + 1) * sizeof *d, st->stream));
    MW_LAUNCH(nonfinite_kernel<R>, (unsigned)P, kThreads, st->stream)(
        n, slice, static_cast<const R *>(x), d);
    st->launches++;
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess && P > 1) {
        MW_LAUNCH(nonfinite_finish, 1, kThreads, st->stream)(
            P, n, static_cast<const unsigned long long *>(d), d + P);
        st->launches++;
        e = cudaGetLastError();
    }
    if (e == cudaSuccess)
        e = cudaMemcpyAsync(&h, P > 1 ? d + P : d, sizeof h, cudaMemcpyDeviceToHost, st->stream);
    if (e == cudaSuccess)
        e = stream_sync(st);
    const cudaError_t f = cudaFreeAsync(d, st->stream);
    if (e == cudaSuccess)
        e = f;
    *first = (size_t)h;
    return e == cudaSuccess ? MW_OK : cuda_fail(ctx, e, "find_nonfinite");
}

// Deferred finiteness (mw_finite_defer_begin): *flag = 1 where any element is not finite.
// Every writer stores the same value, so the result does not depend on their order.
template <typename R> __global__ void flag_kernel(size_t n, const R *x, R *flag)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        if (!isfinite(x[i]))
            *flag = R(1);
}

template <typename R>
mw_status k_flag_nonfinite(mw_ctx *ctx, size_t n, const void *x, void *flag)
{
    if (n == 0)
        return MW_OK;
    MW_LAUNCH(flag_kernel<R>, blocks_for(n), kThreads, state_of(ctx)->stream)(
        n, static_cast<const R *>(x), static_cast<R *>(flag));
    LAUNCHED(ctx, "flag_nonfinite");
    return MW_OK;
}

void k_counts(const mw_ctx *ctx, mw_device_counts *out)
{
    const cuda_state *st = state_of(ctx);
    out->launches = st->launches;
    out->syncs = st->syncs;
    out->allocs = st->allocs;
}

template <typename R> mw_ops make_ops()
{
    mw_ops o;
    memset(&o, 0, sizeof o);
    o.esize = sizeof(R);
    o.col_bytes = (size_t)256 << 20; // a GPU takes many images a launch
    o.gemm_sum = k_gemm_sum<R>;
    o.counts = k_counts;
    o.flag_nonfinite = k_flag_nonfinite<R>;
    o.alloc = k_alloc<R>;
    o.release = k_release<R>;
    o.upload = k_upload<R>;
    o.download = k_download<R>;
    o.upload_labels = k_upload_labels<R>;
    o.gemm = k_gemm<R>;
    o.ew = k_ew<R>;
    o.sum_rows = k_sum_rows<R>;
    o.rowdot = k_rowdot<R>;
    o.xent = k_xent<R>;
    o.bn_forward = k_bn_forward<R>;
    o.bn_jvp = k_bn_jvp<R>;
    o.bn_vjp = k_bn_vjp<R>;
    o.bn_eval = k_bn_eval<R>;
    o.im2col = k_im2col<R>;
    o.squeeze = k_squeeze<R>;
    o.chan_bias = k_chan_bias<R>;
    o.chan_sum = k_chan_sum<R>;
    o.chan_mul = k_chan_mul<R>;
    o.normal = k_normal<R>;
    o.adam = k_adam<R>;
    o.dot = k_dot<R>;
    o.dist2 = k_dist2<R>;
    o.sum = k_sum<R>;
    o.find_nonfinite = k_find_nonfinite<R>;
    return o;
}

const mw_ops cuda_f32_ops = make_ops<float>();
const mw_ops cuda_f64_ops = make_ops<double>();

// ---- the context ----

mw_status cuda_open(mw_ctx *ctx, int device, char *msg, size_t msg_len)
{
    mw_cuda_info info;
    if (mw_cuda_probe(&info, msg, msg_len) != 0)
        return MW_ERR_BACKEND;
    if (device < 0 || device >= info.devices) {
        snprintf(msg, msg_len, "CUDA device %d: there are %d (0..%d)", device, info.devices,
                 info.devices - 1);
        return MW_ERR_ARG;
    }
    cuda_state *st = static_cast<cuda_state *>(calloc(1, sizeof *st));
    if (!st) {
        snprintf(msg, msg_len, "out of host memory for a CUDA context");
        return MW_ERR_NOMEM;
    }
    st->device = device;
    st->free_error = cudaSuccess;
    const char *sync = getenv("MW_CUDA_SYNC");
    st->sync = sync && strcmp(sync, "1") == 0;
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess)
        e = cudaStreamCreateWithFlags(&st->stream, cudaStreamNonBlocking);
    // the device's memory pool keeps what is freed (by default it gives it back at each
    // synchronisation), so that a gradient's allocations after the first are the pool's
    cudaMemPool_t pool;
    if (e == cudaSuccess)
        e = cudaDeviceGetDefaultMemPool(&pool, device);
    if (e == cudaSuccess) {
        unsigned long long keep = ~0ULL;
        e = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    }
    if (e != cudaSuccess) {
        snprintf(msg, msg_len, "CUDA device %d: %s", device, cudaGetErrorString(e));
        free(st);
        return MW_ERR_BACKEND;
    }
    cublasStatus_t b = cublasCreate(&st->blas);
    if (b == CUBLAS_STATUS_SUCCESS)
        b = cublasSetStream(st->blas, st->stream);
    if (b == CUBLAS_STATUS_SUCCESS)
        b = cublasSetMathMode(st->blas, ctx->dtype == MW_F32 && ctx->math == MW_MATH_TF32
                                            ? CUBLAS_TF32_TENSOR_OP_MATH
                                            : CUBLAS_PEDANTIC_MATH);
    if (b != CUBLAS_STATUS_SUCCESS) {
        snprintf(msg, msg_len, "cuBLAS on CUDA device %d: %s", device, cublasGetStatusString(b));
        if (st->blas)
            cublasDestroy(st->blas);
        cudaStreamDestroy(st->stream);
        free(st);
        return MW_ERR_BACKEND;
    }
    ctx->bstate = st;
    ctx->ops = ctx->dtype == MW_F32 ? &cuda_f32_ops : &cuda_f64_ops;
    return MW_OK;
}

void cuda_close(mw_ctx *ctx)
{
    cuda_state *st = state_of(ctx);
    if (!st)
        return;
    cudaStreamSynchronize(st->stream);
    cublasDestroy(st->blas);
    cudaStreamDestroy(st->stream);
    free(st);
    ctx->bstate = NULL;
}

mw_status cuda_info(mw_ctx *ctx, mw_engine_info *out)
{
    mw_cuda_info info;
    char msg[256];
    if (mw_cuda_probe(&info, msg, sizeof msg) != 0)
        return mw_fail(ctx, MW_ERR_BACKEND, "%s", msg);
    // A longer name is cut to the report's field (GPU names are far shorter).
    snprintf(out->device, sizeof out->device, "%.*s", (int)sizeof out->device - 1, info.name);
    out->cc_major = info.cc_major, out->cc_minor = info.cc_minor;
    out->devices = info.devices;
    out->driver_version = info.driver_version, out->runtime_version = info.runtime_version;
    size_t fr = 0, tot = 0;
    CU(ctx, cudaMemGetInfo(&fr, &tot));
    out->mem_free = fr, out->mem_total = tot;
    return MW_OK;
}

size_t cuda_mem_free(mw_ctx *ctx)
{
    size_t fr = 0, tot = 0;
    (void)ctx;
    return cudaMemGetInfo(&fr, &tot) == cudaSuccess ? fr : 0;
}

const mw_backend_impl cuda_impl = {"cuda", cuda_open, cuda_close, cuda_info, cuda_mem_free};

} // namespace

extern "C" void mw_cuda_register(void)
{
    mw_backend_register(MW_BACKEND_CUDA, &cuda_impl);
}

extern "C" mw_status mw_cuda_sync(mw_ctx *ctx)
{
    if (!ctx->bstate)
        return MW_OK;
    CU(ctx, stream_sync(state_of(ctx)));
    return MW_OK;
}
