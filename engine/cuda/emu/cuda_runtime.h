// The host emulator's stand-in for the CUDA runtime: the subset of cuda_runtime.h that
// engine/cuda uses, implemented on the CPU (emu.cpp), so that the CUDA backend's own
// source runs in the tests on machines without a GPU. Built only for the emulator
// (MW_CUDA_EMULATED), from this directory, ahead of any real CUDA include directory.
//
// What it runs faithfully: every kernel, as written, for every thread of every block
// (threadIdx, blockIdx, blockDim, gridDim), with __syncthreads as a real barrier between
// the threads of a block (each thread is a fiber) and __shared__ memory per block; launch
// configurations checked as the hardware does; device memory the host cannot touch (host
// code that reads through a device pointer faults there and then), kernels refused a host
// pointer, copies that check each side, and, under AddressSanitizer, a kernel stepping
// out of its allocation reported as on the heap. What it cannot tell you: anything about the GPU's own
// arithmetic (its libm, fused multiply-adds, cuBLAS's blocking), its memory model
// (threads of a block run one at a time between barriers, so a missing barrier goes
// unseen) or its speed. Those need a GPU.
#ifndef MW_EMU_CUDA_RUNTIME_H
#define MW_EMU_CUDA_RUNTIME_H

#if !defined(MW_CUDA_EMULATED)
#error "emu/cuda_runtime.h is the host emulator's; build it with MW_CUDA_EMULATED"
#endif

#include <math.h> // the float overloads of tanh, exp, ... in the global namespace, as in CUDA
#include <stddef.h>
#include <stdint.h>

#include <type_traits>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// One block runs at a time on a host thread: a static per host thread is the block's.
#define __shared__ static thread_local

struct uint3 {
    unsigned x, y, z;
};

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

extern thread_local uint3 threadIdx, blockIdx;
extern thread_local dim3 blockDim, gridDim;

// A barrier is known by where it is in the source, not by its return address: an
// optimiser may copy one call into several (loop unswitching on threadIdx, at -O3), and
// the copies are still the one barrier every thread of the block must reach.
void mw_emu_syncthreads(const char *file, int line);
#define __syncthreads() mw_emu_syncthreads(__FILE__, __LINE__)

enum cudaError {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevice = 101,
    cudaErrorStubLibrary = 34,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorIllegalAddress = 700,
    cudaErrorLaunchFailure = 719,
};
typedef enum cudaError cudaError_t;

enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4,
};

typedef struct CUstream_st *cudaStream_t;
// The stream-ordered allocator's pool: one per device; its release threshold is accepted
// and has nothing to change here (freed memory goes back to the emulator at once).
typedef struct CUmemPoolHandle_st *cudaMemPool_t;
enum cudaMemPoolAttr { cudaMemPoolAttrReleaseThreshold = 4 };
#define cudaStreamNonBlocking 0x01

struct cudaDeviceProp {
    char name[256];
    int major, minor;
};

#define CUDART_VERSION 0 // no runtime: the emulator reports version 0

cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaDriverGetVersion(int *version);
cudaError_t cudaRuntimeGetVersion(int *version);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaMalloc(void **p, size_t bytes);
cudaError_t cudaFree(void *p);
cudaError_t cudaMallocAsync(void **p, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void *p, cudaStream_t stream);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream);
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t *pool, int device);
cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void *value);
cudaError_t cudaGetLastError(void);
const char *cudaGetErrorString(cudaError_t e);
const char *cudaGetErrorName(cudaError_t e);

// The runtime's typed conveniences (cuda_runtime.h has these templates too).
template <typename T> cudaError_t cudaMalloc(T **p, size_t bytes)
{
    return cudaMalloc(reinterpret_cast<void **>(p), bytes);
}
template <typename T> cudaError_t cudaMallocAsync(T **p, size_t bytes, cudaStream_t stream)
{
    return cudaMallocAsync(reinterpret_cast<void **>(p), bytes, stream);
}

namespace mw_emu {

// Runs body(arg) once for every thread of a grid of blocks, or records a launch error
// for cudaGetLastError. kernel identifies the kernel (its address); name is its source.
void run(uintptr_t kernel, const char *name, dim3 grid, dim3 block, void (*body)(void *),
         void *arg);

// Is p a pointer the host owns (not null, not device memory)?
bool is_host_pointer(const void *p);
// Fails the launch: the kernel's argument index (from 0) points to host memory.
void host_pointer_argument(const char *name, int index);

// The index of the first kernel argument that points to host memory, or -1.
template <typename T> bool host_pointer_in(const T &a, std::true_type)
{
    return is_host_pointer((const void *)a);
}
template <typename T> bool host_pointer_in(const T &, std::false_type)
{
    return false;
}
inline int first_host_pointer(int)
{
    return -1;
}
template <typename T, typename... Rest>
int first_host_pointer(int i, const T &a, const Rest &...rest)
{
    return host_pointer_in(a, std::is_pointer<T>()) ? i : first_host_pointer(i + 1, rest...);
}

template <typename... P> struct launcher {
    void (*kernel)(P...);
    const char *name;
    dim3 grid, block;

    // The arguments convert to the kernel's parameters as in a <<<>>> launch: implicitly.
    template <typename... A> void operator()(A... args) const
    {
        int bad = first_host_pointer(0, args...);
        if (bad >= 0) {
            host_pointer_argument(name, bad);
            return;
        }
        auto call = [&]() { kernel(args...); };
        run(reinterpret_cast<uintptr_t>(kernel), name, grid, block,
            [](void *c) { (*static_cast<decltype(call) *>(c))(); }, &call);
    }
};

template <typename... P>
launcher<P...> launch_of(void (*kernel)(P...), const char *name, dim3 grid, dim3 block,
                         cudaStream_t stream)
{
    (void)stream; // one stream, in order: every launch completes before the next call
    return launcher<P...>{kernel, name, grid, block};
}

} // namespace mw_emu

#endif
