// Device probe and Philox draws on the GPU (mw_cuda.h). Every CUDA call is checked.
#include <cstdio>

#include "launch.cuh"
#include "mw_cuda.h"
#include "philox.h"

#define CUDA_TRY(call)                                                                        \
    do {                                                                                      \
        cudaError_t e_ = (call);                                                              \
        if (e_ != cudaSuccess) {                                                              \
            snprintf(msg, msg_len, "%s: %s (%s)", #call, cudaGetErrorString(e_),              \
                     cudaGetErrorName(e_));                                                   \
            goto fail;                                                                        \
        }                                                                                     \
    } while (0)

extern "C" int mw_cuda_probe(mw_cuda_info *info, char *msg, size_t msg_len)
{
    int count = 0; /* cudaGetDeviceCount leaves it untouched when there is no driver */
    cudaError_t e = cudaGetDeviceCount(&count);
    cudaDeviceProp prop;
    info->devices = 0;
    if (e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice || e == cudaErrorStubLibrary) {
        snprintf(msg, msg_len, "no CUDA device: %s", cudaGetErrorString(e));
        return 1;
    }
    CUDA_TRY(e);
    if (count == 0) {
        snprintf(msg, msg_len, "no CUDA device: the driver reports none");
        return 1;
    }
    CUDA_TRY(cudaGetDeviceProperties(&prop, 0));
    CUDA_TRY(cudaDriverGetVersion(&info->driver_version));
    CUDA_TRY(cudaRuntimeGetVersion(&info->runtime_version));
    info->devices = count;
    snprintf(info->name, sizeof info->name, "%s", prop.name);
    info->cc_major = prop.major;
    info->cc_minor = prop.minor;
    return 0;
fail:
    return 1;
}

__global__ static void philox_kernel(double *out, size_t n, uint64_t seed, uint64_t stream,
                                     uint64_t index0, int normal)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = normal ? mw_philox_normal(seed, stream, index0 + i)
                        : mw_philox_uniform(seed, stream, index0 + i);
}

extern "C" int mw_cuda_philox(double *out, size_t n, uint64_t seed, uint64_t stream,
                              uint64_t index0, int normal, char *msg, size_t msg_len)
{
    double *d = NULL;
    unsigned blocks = (unsigned)((n + 255) / 256);
    CUDA_TRY(cudaMalloc(&d, n * sizeof *d));
    MW_LAUNCH(philox_kernel, blocks, 256, 0)(d, n, seed, stream, index0, normal);
    CUDA_TRY(cudaGetLastError());
    CUDA_TRY(cudaMemcpy(out, d, n * sizeof *d, cudaMemcpyDeviceToHost));
    CUDA_TRY(cudaFree(d));
    return 0;
fail:
    cudaFree(d);
    return 1;
}
