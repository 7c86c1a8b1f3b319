/* bench_grad: time and working memory of one gradient per method against depth, on the
 * mlp of `mwverify grad` (DESIGN.md §6's timing and memory, in small). Median wall time
 * over repeats after one warm-up call. A benchmark, never a test: numbers depend on the
 * machine (OpenBLAS picks its kernel from OPENBLAS_CORETYPE; say which when quoting).
 *
 *   bench_grad [--dtype f32|f64] [--width N] [--batch B] [--repeats R] [depth ...] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "mw_engine.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench_depth(mw_spec s, mw_dtype dt, int repeats)
{
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_tensor g;
    size_t N = (size_t)s.batch * (size_t)s.width;
    double *x = malloc(N * sizeof *x), *t = malloc((size_t)repeats * sizeof *t);
    int *y = malloc((size_t)s.batch * sizeof *y);
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, y);
    if (mw_ctx_new(MW_BACKEND_CPU, dt, &ctx) != MW_OK || mw_net_new(ctx, &s, &net) != MW_OK ||
        mw_batch_new(ctx, net, x, y, &batch) != MW_OK ||
        mw_tensor_alloc(ctx, mw_net_layout(net)->total, &g) != MW_OK) {
        fprintf(stderr, "bench_grad: setup failed\n");
        return 1;
    }
    for (int m = 0; m < MW_N_METHODS; m++) {
        mw_grad_info info;
        mw_status st = mw_grad(ctx, net, batch, (mw_method)m, NULL, &g, &info); /* warm-up */
        for (int r = 0; r < repeats && st == MW_OK; r++) {
            double t0 = now();
            st = mw_grad(ctx, net, batch, (mw_method)m, NULL, &g, &info);
            t[r] = now() - t0;
        }
        if (st != MW_OK) {
            printf("%5d  %-12s failed: %s\n", s.depth, mw_method_name((mw_method)m),
                   mw_ctx_message(ctx));
            continue;
        }
        qsort(t, (size_t)repeats, sizeof *t, cmp);
        printf("%5d  %-12s %12.6f %12zu\n", s.depth, mw_method_name((mw_method)m),
               t[repeats / 2], info.peak_bytes);
    }
    mw_tensor_free(ctx, &g);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    free(x), free(y), free(t);
    return 0;
}

int main(int argc, char **argv)
{
    mw_spec s = mw_spec_default();
    mw_dtype dt = MW_F32;
    int repeats = 5, depths[32], nd = 0;
    s.out_act = MW_ACT_TANH;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dtype") == 0 && i + 1 < argc)
            dt = strcmp(argv[++i], "f64") == 0 ? MW_F64 : MW_F32;
        else if (strcmp(argv[i], "--width") == 0 && i + 1 < argc)
            s.width = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            s.batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (nd < 32 && atoi(argv[i]) > 0)
            depths[nd++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: bench_grad [--dtype f32|f64] [--width N] [--batch B] "
                            "[--repeats R] [depth ...]\n");
            return 2;
        }
    }
    if (nd == 0)
        depths[nd++] = 2, depths[nd++] = 5, depths[nd++] = 10;
    if (repeats < 1)
        repeats = 1;
    char why[256];
    printf("mlp width %d hidden %d units %d batch %d out-act tanh, %s, median of %d\n", s.width,
           s.hidden, s.units, s.batch, mw_dtype_name(dt), repeats);
    printf("%5s  %-12s %12s %12s\n", "depth", "method", "seconds", "peak_bytes");
    for (int i = 0; i < nd; i++) {
        s.depth = depths[i];
        if (mw_spec_validate(&s, why, sizeof why) != 0) {
            fprintf(stderr, "bench_grad: %s\n", why);
            return 2;
        }
        if (bench_depth(s, dt, repeats) != 0)
            return 3;
    }
    return 0;
}
