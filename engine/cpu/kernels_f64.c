/* The CPU kernels in float64: kernels.inc with R = double. */
typedef double R;
#define X(name) mw_cpu_f64_##name
#define CBLAS_GEMM cblas_dgemm
#include "kernels.inc"
