// How the CUDA sources launch a kernel: MW_LAUNCH(kernel, grid, block, stream)(args...).
// Under nvcc this is the <<<grid, block, 0, stream>>> launch. Built for the host emulator
// (emu/, MW_CUDA_EMULATED), the same kernel source runs on the CPU, every thread of every
// block, so that the tests can execute the CUDA backend on machines without a GPU.
#ifndef MW_LAUNCH_CUH
#define MW_LAUNCH_CUH

#if defined(MW_CUDA_EMULATED)
#define MW_LAUNCH(kernel, grid, block, stream)                                                \
    ::mw_emu::launch_of(kernel, #kernel, (grid), (block), (stream))
#else
#define MW_LAUNCH(kernel, grid, block, stream) kernel<<<(grid), (block), 0, (stream)>>>
#endif

#endif
