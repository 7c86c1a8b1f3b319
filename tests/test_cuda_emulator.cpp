// Tests of the host emulator itself (engine/cuda/emu), which test_cuda_emu trusts to run
// the CUDA backend's kernels as a GPU would: barriers hold every thread of a block,
// __shared__ memory is the block's, and what is undefined on a GPU (threads at different
// barriers, a thread leaving while others wait), a launch the hardware refuses, a copy
// with a pointer on the wrong side, the host reading device memory, a kernel given a host
// pointer and a cuBLAS call with a bad leading dimension all fail instead of passing
// unnoticed. The gemm stand-in is checked against the
// column-major definition for every transpose, and TF32 against its rounding.
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "launch.cuh"

namespace {

const int kBlock = 64;

// out[block] = sum of in[block*n .. block*n + n) by a shared-memory tree with barriers.
__global__ void tree_sum(const int *in, int n, int *out)
{
    __shared__ int buf[kBlock];
    int part = 0;
    for (int i = (int)threadIdx.x; i < n; i += (int)blockDim.x)
        part += in[(int)blockIdx.y * n + i];
    buf[threadIdx.x] = part;
    __syncthreads();
    for (int s = kBlock / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s)
            buf[threadIdx.x] += buf[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0)
        out[blockIdx.y] = buf[0];
}

__global__ void split_barriers(int *out)
{
    if (threadIdx.x % 2) {
        __syncthreads();
        out[threadIdx.x] = 1;
    } else {
        __syncthreads();
        out[threadIdx.x] = 2;
    }
}

__global__ void early_exit(int *out)
{
    if (threadIdx.x == 3)
        return;
    __syncthreads();
    out[threadIdx.x] = 1;
}

__global__ void fill_index(int *out)
{
    out[blockIdx.x * blockDim.x + threadIdx.x] = (int)(blockIdx.x * 1000 + threadIdx.x);
}

// Each thread takes the next number of a counter: the order the threads ran in (the
// emulator runs a block's threads one at a time, so the counter needs no atomics there).
__global__ void record_order(int *counter, int *out)
{
    out[threadIdx.x] = (*counter)++;
}

template <typename T> T *device_copy(const T *h, size_t n)
{
    T *d = NULL;
    ck_assert_int_eq(cudaMalloc(&d, n * sizeof(T)), cudaSuccess);
    if (h)
        ck_assert_int_eq(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
    return d;
}

} // namespace

START_TEST(barriers_and_shared_memory)
{
    const int n = 150, blocks = 3;
    int in[n * blocks], out[blocks];
    for (int i = 0; i < n * blocks; i++)
        in[i] = i * 7 % 23;
    int *d_in = device_copy(in, n * blocks), *d_out = device_copy<int>(NULL, blocks);
    for (int rep = 0; rep < 2; rep++) { // the second launch reuses the first's fibers
        MW_LAUNCH(tree_sum, dim3(1, blocks), kBlock, 0)(d_in, n, d_out);
        ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
        ck_assert_int_eq(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost), cudaSuccess);
        for (int b = 0; b < blocks; b++) {
            int want = 0;
            for (int i = 0; i < n; i++)
                want += in[b * n + i];
            ck_assert_int_eq(out[b], want);
        }
    }
    // every thread of every block, with its own coordinates
    int idx[3 * 40];
    int *d_idx = device_copy<int>(NULL, 3 * 40);
    MW_LAUNCH(fill_index, 3, 40, 0)(d_idx);
    ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
    ck_assert_int_eq(cudaMemcpy(idx, d_idx, sizeof idx, cudaMemcpyDeviceToHost), cudaSuccess);
    for (int b = 0; b < 3; b++)
        for (int t = 0; t < 40; t++)
            ck_assert_int_eq(idx[b * 40 + t], b * 1000 + t);
    cudaFree(d_in), cudaFree(d_out), cudaFree(d_idx);
}
END_TEST

// A GPU promises no order among a block's threads: the emulator runs them in a shuffled
// order (seeded, MW_EMU_SEED), so that a kernel relying on one shows it. 32 threads ran
// in an order that is a permutation, not the identity, and another launch ran in another.
START_TEST(threads_run_in_no_fixed_order)
{
    const int zero = 0;
    int *counter = device_copy<int>(&zero, 1), *out = device_copy<int>(NULL, 32);
    int first[32], second[32];
    for (int round = 0; round < 2; round++) {
        ck_assert_int_eq(cudaMemcpy(counter, &zero, sizeof zero, cudaMemcpyHostToDevice),
                         cudaSuccess);
        MW_LAUNCH(record_order, 1, 32, 0)(counter, out);
        ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
        ck_assert_int_eq(cudaMemcpy(round ? second : first, out, sizeof first,
                                    cudaMemcpyDeviceToHost), cudaSuccess);
    }
    int seen[32] = {0}, identity = 1, same = 1;
    for (int t = 0; t < 32; t++) {
        ck_assert(first[t] >= 0 && first[t] < 32 && !seen[first[t]]++);
        identity &= first[t] == t;
        same &= first[t] == second[t];
    }
    ck_assert_msg(!identity && !same, "the threads ran in thread order, or twice alike");
    cudaFree(counter), cudaFree(out);
}
END_TEST

START_TEST(undefined_behaviour_fails_the_launch)
{
    int *d = device_copy<int>(NULL, 32);
    MW_LAUNCH(split_barriers, 1, 32, 0)(d);
    cudaError_t e = cudaGetLastError();
    ck_assert_int_eq(e, cudaErrorLaunchFailure);
    ck_assert_msg(strstr(cudaGetErrorString(e), "split_barriers") &&
                      strstr(cudaGetErrorString(e), "different"),
                  "%s", cudaGetErrorString(e));
    ck_assert_int_eq(cudaGetLastError(), cudaSuccess); // read once, then cleared
    MW_LAUNCH(early_exit, 1, 32, 0)(d);
    e = cudaGetLastError();
    ck_assert_int_eq(e, cudaErrorLaunchFailure);
    ck_assert_msg(strstr(cudaGetErrorString(e), "early_exit") &&
                      strstr(cudaGetErrorString(e), "without reaching"),
                  "%s", cudaGetErrorString(e));
    MW_LAUNCH(fill_index, 1, 2048, 0)(d); // more threads than a block holds
    ck_assert_int_eq(cudaGetLastError(), cudaErrorInvalidConfiguration);
    MW_LAUNCH(fill_index, dim3(1, 70000), 1, 0)(d); // grid.y beyond 65535
    ck_assert_int_eq(cudaGetLastError(), cudaErrorInvalidConfiguration);
    cudaFree(d);
}
END_TEST

START_TEST(memory_sides_are_checked)
{
    /* fresh device memory is not zero, as on a GPU: NaN in every float, also where a
     * region was freed and given out again */
    for (int round = 0; round < 2; round++) {
        float *f = NULL, back[5];
        ck_assert_int_eq(cudaMalloc(&f, sizeof back), cudaSuccess);
        ck_assert_int_eq(cudaMemcpy(back, f, sizeof back, cudaMemcpyDeviceToHost), cudaSuccess);
        for (int i = 0; i < 5; i++)
            ck_assert_msg(isnan(back[i]), "fresh device float %d is %g", i, back[i]);
        const float zeros[5] = {0};
        ck_assert_int_eq(cudaMemcpy(f, zeros, sizeof zeros, cudaMemcpyHostToDevice), cudaSuccess);
        cudaFree(f);
    }
    int host[8] = {0}, *d = device_copy<int>(NULL, 8);
    ck_assert_int_eq(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
    ck_assert_int_eq(cudaMemcpy(host, d, sizeof host, cudaMemcpyHostToDevice),
                     cudaErrorInvalidValue); // the sides swapped
    ck_assert_int_eq(cudaMemcpy(d, host, sizeof host + 4, cudaMemcpyHostToDevice),
                     cudaErrorInvalidValue); // past the allocation's end
    ck_assert_int_eq(cudaMemcpy(host, d + 1, sizeof host - 4, cudaMemcpyDeviceToHost), cudaSuccess);
    ck_assert_int_eq(cudaFree(host), cudaErrorInvalidValue);
    ck_assert_int_eq(cudaFree(d), cudaSuccess);
    ck_assert_int_eq(cudaFree(d), cudaErrorInvalidValue); // twice
}
END_TEST

// The host touching device memory faults, as with a GPU (a child process tries; under
// AddressSanitizer the fault is reported and the child exits 1); a kernel is refused a
// host pointer.
START_TEST(device_memory_is_the_devices)
{
    int *d = device_copy<int>(NULL, 4);
    fflush(NULL);
    pid_t child = fork();
    ck_assert(child >= 0);
    if (child == 0) {
        int null_fd = open("/dev/null", O_WRONLY);
        if (null_fd >= 0)
            dup2(null_fd, 2); // the fault's report is expected: keep it out of the log
        volatile int v = d[1];
        (void)v;
        _exit(0); // read through a device pointer from the host: must not get here
    }
    int status = 0;
    ck_assert(waitpid(child, &status, 0) == child);
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0),
                  "the host read device memory");
    int host[40];
    MW_LAUNCH(fill_index, 1, 40, 0)(host);
    cudaError_t e = cudaGetLastError();
    ck_assert_int_eq(e, cudaErrorIllegalAddress);
    ck_assert_msg(strstr(cudaGetErrorString(e), "host pointer"), "%s", cudaGetErrorString(e));
    MW_LAUNCH(fill_index, 1, 4, 0)(d); // the device's own is fine
    ck_assert_int_eq(cudaGetLastError(), cudaSuccess);
    /* a fault not yet read is what the next allocation returns, as the runtime's */
    MW_LAUNCH(fill_index, 1, 40, 0)(host);
    void *more = d;
    ck_assert_int_eq(cudaMalloc(&more, 16), cudaErrorIllegalAddress);
    ck_assert(more == NULL);
    ck_assert_int_eq(cudaGetLastError(), cudaErrorIllegalAddress);
    ck_assert_int_eq(cudaMalloc(&more, 16), cudaSuccess);
    cudaFree(more);
    cudaFree(d);
}
END_TEST

START_TEST(gemm_is_column_major_and_checked)
{
    cublasHandle_t h;
    ck_assert_int_eq(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
    const int m = 3, n = 4, k = 5, lda = 6, ldb = 7, ldc = 5;
    double a[6 * 6], b[7 * 7], c[5 * 4], c0[5 * 4];
    for (int i = 0; i < 36; i++)
        a[i] = (i * 13 % 11) - 5;
    for (int i = 0; i < 49; i++)
        b[i] = (i * 7 % 9) - 4;
    for (int i = 0; i < 20; i++)
        c0[i] = i % 3;
    double *da = device_copy(a, 36), *db = device_copy(b, 49), *dc = device_copy<double>(NULL, 20);
    const double alpha = 2, beta = -1;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            ck_assert_int_eq(cudaMemcpy(dc, c0, sizeof c0, cudaMemcpyHostToDevice), cudaSuccess);
            ck_assert_int_eq(cublasDgemmStridedBatched(h, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                                       tb ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k,
                                                       &alpha, da, lda, 0, db, ldb, 0, &beta, dc,
                                                       ldc, 0, 1),
                             CUBLAS_STATUS_SUCCESS);
            ck_assert_int_eq(cudaMemcpy(c, dc, sizeof c, cudaMemcpyDeviceToHost), cudaSuccess);
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    double s = 0;
                    for (int q = 0; q < k; q++)
                        s += (ta ? a[i * lda + q] : a[q * lda + i]) *
                             (tb ? b[q * ldb + j] : b[j * ldb + q]);
                    ck_assert_double_eq(c[j * ldc + i], alpha * s + beta * c0[j * ldc + i]);
                }
        }
    // lda below the rows of A (m when not transposed), and a host pointer for C
    ck_assert_int_eq(cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da,
                                               m - 1, 0, db, ldb, 0, &beta, dc, ldc, 0, 1),
                     CUBLAS_STATUS_INVALID_VALUE);
    ck_assert_int_eq(cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, da,
                                               lda, 0, db, ldb, 0, &beta, c, ldc, 0, 1),
                     CUBLAS_STATUS_INVALID_VALUE);
    // TF32 keeps 10 fraction bits: (1 + 2^-12) * 1 is 1 there, not in strict float32
    const float x = 1.0f + ldexpf(1.0f, -12), one = 1.0f, zero = 0.0f;
    float *dx = device_copy(&x, 1), *done = device_copy(&one, 1);
    float *dy = device_copy<float>(NULL, 1);
    float y[2];
    for (int tf32 = 0; tf32 < 2; tf32++) {
        cublasMath_t mode = tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_PEDANTIC_MATH;
        ck_assert_int_eq(cublasSetMathMode(h, mode), CUBLAS_STATUS_SUCCESS);
        ck_assert_int_eq(cublasSgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &one, dx,
                                                   1, 0, done, 1, 0, &zero, dy, 1, 0, 1),
                         CUBLAS_STATUS_SUCCESS);
        ck_assert_int_eq(cudaMemcpy(&y[tf32], dy, sizeof(float), cudaMemcpyDeviceToHost),
                         cudaSuccess);
    }
    ck_assert_float_eq(y[0], x);
    ck_assert_float_eq(y[1], 1.0f);
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(dx), cudaFree(done), cudaFree(dy);
    ck_assert_int_eq(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cuda_emulator");
    TCase *tc = tcase_create("emulator");
    tcase_add_test(tc, barriers_and_shared_memory);
    tcase_add_test(tc, threads_run_in_no_fixed_order);
    tcase_add_test(tc, undefined_behaviour_fails_the_launch);
    tcase_add_test(tc, memory_sides_are_checked);
    tcase_add_test(tc, device_memory_is_the_devices);
    tcase_add_test(tc, gemm_is_column_major_and_checked);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
