// The device probe and the Philox kernel (../probe.cu), built for the host emulator.
#include "cuda_runtime.h"

#include "../probe.cu"
