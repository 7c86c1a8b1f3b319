/* Tests of engine/cuda, run where a CUDA device exists: Philox draws on the GPU equal the
 * CPU's. Without a device the program prints why and exits 77 (skipped). CUDA is
 * initialised in this process, so Check runs the tests without forking. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mw_cuda.h"
#include "philox.h"
#include "testutil.h"

/* Uniforms are integer arithmetic and one exact conversion: the same bits. Normals go
 * through log, sqrt, sin, cos, where CUDA's double functions are within 2 ulps of
 * glibc's: 8 ulps of the value (plus 1e-300 for values near 0) bounds the difference. */
START_TEST(philox_on_gpu_equals_cpu)
{
    const size_t n = 4099;
    double *gpu = malloc(n * sizeof *gpu);
    char msg[256];
    for (int normal = 0; normal < 2; normal++) {
        ck_assert_msg(mw_cuda_philox(gpu, n, tu_seed(), 5, 1000, normal, msg, sizeof msg) == 0,
                      "%s", msg);
        for (size_t i = 0; i < n; i++) {
            double cpu = normal ? mw_philox_normal(tu_seed(), 5, 1000 + i)
                                : mw_philox_uniform(tu_seed(), 5, 1000 + i);
            double tol = normal ? 8 * DBL_EPSILON * fabs(cpu) + 1e-300 : 0.0;
            ck_assert_msg(fabs(gpu[i] - cpu) <= tol, "%s draw %zu: gpu %.17g cpu %.17g",
                          normal ? "normal" : "uniform", i, gpu[i], cpu);
        }
    }
    free(gpu);
}
END_TEST

int main(void)
{
    mw_cuda_info info;
    char msg[256];
    if (mw_cuda_probe(&info, msg, sizeof msg) != 0) {
        printf("SKIP: CUDA tests not run: %s\n", msg);
        return 77;
    }
    printf("CUDA device: %s (compute %d.%d, driver %d, runtime %d)\n", info.name, info.cc_major,
           info.cc_minor, info.driver_version, info.runtime_version);
    Suite *s = suite_create("cuda");
    TCase *tc = tcase_create("device");
    tcase_add_test(tc, philox_on_gpu_equals_cpu);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
