/* bench_grad: time and working memory of one gradient per method against depth, on the
 * mlp of `mwverify grad` or a revnet (docs/architecture.md §6's timing and memory, in small), on
 * the CPU or a GPU. Median wall time over repeats after one warm-up call (mw_grad ends by reading
 * the gradient's finiteness back, so a GPU's queue is drained inside the time). A benchmark, never
 * a test: numbers depend on the machine (OpenBLAS picks its kernel from OPENBLAS_CORETYPE; say
 * which when quoting).
 *
 *   bench_grad [--engine cpu|cuda] [--dtype f32|f64] [--arch mlp|revnet] [--width N]
 *              [--hidden N] [--channels C] [--image HxW] [--blocks N] [--classes N]
 *              [--out-act none|tanh|leaky] [--batch B] [--repeats R] [--json]
 *              [--methods a,b,...] [depth or layers-per-block ...]
 *
 * Defaults: σ (--out-act) tanh for both architectures, the rest as mw_spec_default and
 * mw_spec_revnet_default. --json prints one JSON object per line (network, method,
 * parameter count, seconds, peak_bytes) instead of the table, for bench/peers.py.
 *
 * The paper's RevNet on a GPU: bench_grad --engine cuda --arch revnet --channels 8
 *   --image 32x32 --batch 512 --methods backprop,revbackprop,mixed,projforward 1 3 5 10 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "mw_engine.h"
#ifdef MW_HAVE_CUDA
#include "mw_cuda.h"
#endif

/* One result, as a table row or (json) one JSON object per line. */
static void print_row(const mw_spec *s, mw_dtype dt, mw_backend_kind eng, int json, int repeats,
                      size_t params, mw_method m, double seconds, size_t peak_bytes,
                      const char *error)
{
    int depth = s->arch == MW_ARCH_REVNET ? s->layers_per_block : s->depth;
    if (!json) {
        if (error)
            printf("%5d  %-12s failed: %s\n", depth, mw_method_name(m), error);
        else
            printf("%5d  %-12s %12.6f %12zu\n", depth, mw_method_name(m), seconds, peak_bytes);
        return;
    }
    char desc[256];
    mw_spec_describe(s, desc, sizeof desc);
    printf("{\"arch\": \"%s\", \"depth\": %d, \"layers_per_block\": %d, \"spec\": \"%s\", "
           "\"dtype\": \"%s\", \"engine\": \"%s\", \"repeats\": %d, \"params\": %zu, "
           "\"method\": \"%s\", ", mw_arch_name(s->arch), s->depth,
           s->arch == MW_ARCH_REVNET ? s->layers_per_block : 0, desc, mw_dtype_name(dt),
           mw_backend_name(eng), repeats, params, mw_method_name(m));
    if (error) /* messages are plain text; keep the object valid whatever they hold */
        printf("\"error\": \"");
    for (const char *c = error; c && *c; c++)
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if ((unsigned char)*c >= 0x20)
            putchar(*c);
    if (error)
        printf("\"}\n");
    else
        printf("\"seconds\": %.9g, \"peak_bytes\": %zu}\n", seconds, peak_bytes);
}

static int bench_depth(mw_spec s, mw_backend_kind eng, mw_dtype dt, int repeats,
                       const int *want, int json)
{
    char msg[256];
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_tensor g;
    size_t N = (size_t)s.batch * (size_t)s.width;
    double *x = malloc(N * sizeof *x), *t = malloc((size_t)repeats * sizeof *t);
    int *y = malloc((size_t)s.batch * sizeof *y);
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, y);
    if (mw_ctx_open(eng, dt, NULL, &ctx, msg, sizeof msg) != MW_OK) {
        fprintf(stderr, "bench_grad: %s\n", msg);
        return 1;
    }
    if (mw_net_new(ctx, &s, &net) != MW_OK || mw_batch_new(ctx, net, x, y, &batch) != MW_OK ||
        mw_tensor_alloc(ctx, mw_net_layout(net)->total, &g) != MW_OK) {
        fprintf(stderr, "bench_grad: setup failed: %s\n", mw_ctx_message(ctx));
        return 1;
    }
    for (int m = 0; m < MW_N_METHODS; m++) {
        if (!want[m])
            continue;
        mw_grad_info info;
        mw_status st = mw_grad(ctx, net, batch, (mw_method)m, NULL, &g, &info); /* warm-up */
        for (int r = 0; r < repeats && st == MW_OK; r++) {
            double t0 = mw_now();
            st = mw_grad(ctx, net, batch, (mw_method)m, NULL, &g, &info);
            t[r] = mw_now() - t0;
        }
        if (st != MW_OK) {
            print_row(&s, dt, eng, json, repeats, g.n, (mw_method)m, 0.0, 0, mw_ctx_message(ctx));
            continue;
        }
        qsort(t, (size_t)repeats, sizeof *t, mw_cmp_double);
        print_row(&s, dt, eng, json, repeats, g.n, (mw_method)m, t[repeats / 2], info.peak_bytes,
                  NULL);
    }
    mw_tensor_free(ctx, &g);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    free(x), free(y), free(t);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_grad [--engine cpu|cuda] [--dtype f32|f64] [--arch mlp|revnet] "
                    "[--width N] [--hidden N] [--channels C] [--image HxW] [--blocks N] "
                    "[--classes N] [--out-act none|tanh|leaky] [--batch B] [--repeats R] "
                    "[--json] [--methods a,b,...] [depth or layers-per-block ...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    mw_spec s = mw_spec_default(), r = mw_spec_revnet_default();
    mw_dtype dt = MW_F32;
    mw_backend_kind eng = MW_BACKEND_CPU;
    int repeats = 5, depths[32], nd = 0, revnet = 0, json = 0, want[MW_N_METHODS];
    for (int m = 0; m < MW_N_METHODS; m++)
        want[m] = 1;
    s.out_act = r.out_act = MW_ACT_TANH;
#ifdef MW_HAVE_CUDA
    mw_cuda_register();
#endif
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--dtype") == 0 && v)
            dt = strcmp(argv[++i], "f64") == 0 ? MW_F64 : MW_F32;
        else if (strcmp(a, "--engine") == 0 && v) {
            if (mw_backend_parse(argv[++i], &eng) != 0)
                return usage();
        } else if (strcmp(a, "--arch") == 0 && v)
            revnet = strcmp(argv[++i], "revnet") == 0;
        else if (strcmp(a, "--width") == 0 && v)
            s.width = atoi(argv[++i]);
        else if (strcmp(a, "--hidden") == 0 && v)
            s.hidden = r.hidden = atoi(argv[++i]);
        else if (strcmp(a, "--classes") == 0 && v)
            s.classes = r.classes = atoi(argv[++i]);
        else if (strcmp(a, "--out-act") == 0 && v) {
            int act;
            if (mw_name_parse(&mw_out_act_names, argv[++i], &act) != 0)
                return usage();
            s.out_act = r.out_act = (mw_act)act;
        } else if (strcmp(a, "--json") == 0)
            json = 1;
        else if (strcmp(a, "--channels") == 0 && v)
            r.channels = atoi(argv[++i]);
        else if (strcmp(a, "--image") == 0 && v) {
            if (sscanf(argv[++i], "%dx%d", &r.image_h, &r.image_w) != 2)
                return usage();
        } else if (strcmp(a, "--blocks") == 0 && v)
            r.blocks = atoi(argv[++i]);
        else if (strcmp(a, "--batch") == 0 && v)
            s.batch = r.batch = atoi(argv[++i]);
        else if (strcmp(a, "--repeats") == 0 && v)
            repeats = atoi(argv[++i]);
        else if (strcmp(a, "--methods") == 0 && v) {
            char buf[256];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            for (int m = 0; m < MW_N_METHODS; m++)
                want[m] = 0;
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                mw_method m;
                if (mw_method_parse(t, &m) != 0)
                    return usage();
                want[m] = 1;
            }
        } else if (nd < 32 && atoi(a) > 0)
            depths[nd++] = atoi(a);
        else
            return usage();
    }
    if (nd == 0)
        depths[nd++] = 2, depths[nd++] = 5, depths[nd++] = 10;
    if (repeats < 1)
        repeats = 1;
    char why[256], desc[256];
    mw_spec base = revnet ? r : s;
    base.layers_per_block = revnet ? depths[0] : 0;
    mw_spec_complete(&base);
    mw_spec_describe(&base, desc, sizeof desc);
    if (!json) {
        printf("%s; %s on %s, median of %d\n", desc, mw_dtype_name(dt), mw_backend_name(eng),
               repeats);
        printf("%5s  %-12s %12s %12s\n", revnet ? "lpb" : "depth", "method", "seconds",
               "peak_bytes");
    }
    for (int i = 0; i < nd; i++) {
        mw_spec cur = base;
        if (revnet)
            cur.layers_per_block = depths[i];
        else
            cur.depth = depths[i];
        mw_spec_complete(&cur);
        if (mw_spec_validate(&cur, why, sizeof why) != 0) {
            fprintf(stderr, "bench_grad: %s\n", why);
            return 2;
        }
        if (bench_depth(cur, eng, dt, repeats, want, json) != 0)
            return 3;
    }
    return 0;
}
