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

/* OpenBLAS's own (cblas.h does not declare it): the kernel it chose for this CPU. */
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

/* The CPU's model name, as /proc/cpuinfo gives it ("?" where it cannot be read). */
static const char *cpu_model(void)
{
    static char model[128] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    return model;
}

/* One result, as a table row or (json) one JSON object per line: t the repeats' times
 * sorted, ratio the median, min and max of time / backprop's within a repeat (0 when
 * backprop is not among the methods). */
static void print_row(const mw_spec *s, mw_dtype dt, mw_backend_kind eng, int json, int repeats,
                      size_t params, mw_method m, const double *t, const double *ratio,
                      size_t peak_bytes, const mw_device_counts *dc, const char *error)
{
    int depth = s->arch == MW_ARCH_REVNET ? s->layers_per_block : s->depth;
    if (!json) {
        if (error)
            printf("%5d  %-12s failed: %s\n", depth, mw_method_name(m), error);
        else {
            printf("%5d  %-12s %12.6f [%.6f, %.6f] %12zu", depth, mw_method_name(m),
                   t[repeats / 2], t[0], t[repeats - 1], peak_bytes);
            if (ratio[0] > 0)
                printf("   %.3f [%.3f, %.3f]", ratio[0], ratio[1], ratio[2]);
            if (dc)
                printf("   launches %llu syncs %llu allocs %llu", dc->launches, dc->syncs,
                       dc->allocs);
            printf("\n");
        }
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
    if (error) {
        printf("\"}\n");
        return;
    }
    printf("\"seconds\": %.9g, \"seconds_min\": %.9g, \"seconds_max\": %.9g, "
           "\"peak_bytes\": %zu, \"blas_core\": \"%s\", \"cpu\": \"%s\"", t[repeats / 2], t[0],
           t[repeats - 1], peak_bytes, openblas_get_corename(), cpu_model());
    if (ratio[0] > 0)
        printf(", \"vs_backprop\": [%.6g, %.6g, %.6g]", ratio[0], ratio[1], ratio[2]);
    if (dc) /* what one gradient asked of the device (the warm-up's call) */
        printf(", \"launches\": %llu, \"syncs\": %llu, \"device_allocs\": %llu", dc->launches,
               dc->syncs, dc->allocs);
    printf("}\n");
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
    if (!x || !t || !y) {
        fprintf(stderr, "bench_grad: out of memory\n");
        return 1;
    }
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
    /* The methods interleaved: repeat r times each method once, starting from method
     * r mod n, so that a slow spell of the machine falls on all of them alike; a ratio
     * to backprop is taken within each repeat (paired) and reported as median [min, max]. */
    int list[MW_N_METHODS], n = 0, bp = -1;
    for (int m = 0; m < MW_N_METHODS; m++)
        if (want[m]) {
            if (m == MW_BACKPROP)
                bp = n;
            list[n++] = m;
        }
    double *tm = malloc((size_t)n * (size_t)repeats * sizeof *tm);
    if (!tm) {
        fprintf(stderr, "bench_grad: out of memory for %d x %d times\n", n, repeats);
        return 1;
    }
    size_t peak[MW_N_METHODS] = {0};
    mw_device_counts dc[MW_N_METHODS];
    int counted = eng != MW_BACKEND_CPU;
    mw_status st[MW_N_METHODS];
    char err[MW_N_METHODS][256];
    for (int k = 0; k < n; k++) { /* warm-up, which also counts the device's work */
        mw_grad_info info;
        mw_device_counts before = {0, 0, 0}, after = {0, 0, 0};
        if (counted && mw_ctx_device_counts(ctx, &before) != MW_OK)
            counted = 0;
        st[k] = mw_grad(ctx, net, batch, (mw_method)list[k], NULL, &g, &info);
        if (counted && mw_ctx_device_counts(ctx, &after) == MW_OK)
            dc[k] = (mw_device_counts){after.launches - before.launches,
                                       after.syncs - before.syncs, after.allocs - before.allocs};
        peak[k] = info.peak_bytes;
        snprintf(err[k], sizeof err[k], "%s", st[k] == MW_OK ? "" : mw_ctx_message(ctx));
    }
    for (int r = 0; r < repeats; r++)
        for (int i = 0; i < n; i++) {
            int k = (i + r) % n;
            if (st[k] != MW_OK)
                continue;
            mw_grad_info info;
            double t0 = mw_now();
            st[k] = mw_grad(ctx, net, batch, (mw_method)list[k], NULL, &g, &info);
            tm[k * repeats + r] = mw_now() - t0;
            if (st[k] != MW_OK)
                snprintf(err[k], sizeof err[k], "%s", mw_ctx_message(ctx));
        }
    for (int k = 0; k < n; k++) {
        if (st[k] != MW_OK) {
            print_row(&s, dt, eng, json, repeats, g.n, (mw_method)list[k], NULL, NULL, 0, NULL,
                      err[k]);
            continue;
        }
        double ratio[3] = {0, 0, 0}; /* median, min, max of time / backprop's, per repeat */
        if (bp >= 0 && st[bp] == MW_OK) {
            for (int r = 0; r < repeats; r++)
                t[r] = tm[k * repeats + r] / tm[bp * repeats + r];
            qsort(t, (size_t)repeats, sizeof *t, mw_cmp_double);
            ratio[0] = t[repeats / 2], ratio[1] = t[0], ratio[2] = t[repeats - 1];
        }
        memcpy(t, tm + k * repeats, (size_t)repeats * sizeof *t);
        qsort(t, (size_t)repeats, sizeof *t, mw_cmp_double);
        print_row(&s, dt, eng, json, repeats, g.n, (mw_method)list[k], t, ratio, peak[k],
                  counted ? &dc[k] : NULL, NULL);
    }
    free(tm);
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
    /* one BLAS thread, as mwverify runs (cli/main.c), unless OPENBLAS_NUM_THREADS says */
    if (!getenv("OPENBLAS_NUM_THREADS"))
        openblas_set_num_threads(1);
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
        printf("%s; %s on %s (%s; OpenBLAS core %s, %d thread%s), methods interleaved, "
               "median [min, max] of %d\n",
               desc, mw_dtype_name(dt), mw_backend_name(eng), cpu_model(), openblas_get_corename(),
               openblas_get_num_threads(), openblas_get_num_threads() == 1 ? "" : "s", repeats);
        printf("%5s  %-12s %12s %21s %12s   %s\n", revnet ? "lpb" : "depth", "method", "seconds",
               "[min, max]", "peak_bytes", "time / backprop's [min, max]");
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
