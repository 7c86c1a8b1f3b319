// The CUDA backend's own source (../backend.cu), built for the host emulator.
#include "cuda_runtime.h"

#include "../backend.cu"
