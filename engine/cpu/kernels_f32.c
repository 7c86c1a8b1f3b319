/* The CPU kernels in float32: kernels.inc with R = float. */
typedef float R;
#define X(name) mw_cpu_f32_##name
#define CBLAS_GEMM cblas_sgemm
#include "kernels.inc"
