/* Engine core: the context with its tracked allocator (docs/architecture.md §4),
 * tensors, and the small elementwise wrappers layers use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const dtype_names[] = {"f32", "f64"};
static const mw_alias dtype_aliases[] = {{"float32", MW_F32}, {"float64", MW_F64}, {NULL, 0}};
const mw_names mw_dtype_names = {"dtype", dtype_names, 2, dtype_aliases};

const char *mw_dtype_name(mw_dtype d)
{
    return mw_name_of(&mw_dtype_names, (int)d);
}

int mw_dtype_parse(const char *name, mw_dtype *out)
{
    int v;
    if (mw_name_parse(&mw_dtype_names, name, &v) != 0)
        return 1;
    *out = (mw_dtype)v;
    return 0;
}

mw_status mw_fail(mw_ctx *ctx, mw_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    return s;
}

mw_status mw_annotate(mw_ctx *ctx, mw_status s, const char *fmt, ...)
{
    char where[128], old[sizeof ctx->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(where, sizeof where, fmt, ap);
    va_end(ap);
    memcpy(old, ctx->msg, sizeof old);
    /* A message too long for the buffer keeps its start, which says where. */
    if (snprintf(ctx->msg, sizeof ctx->msg, "%s: %s", where, old[0] ? old : mw_status_name(s)) >=
        (int)sizeof ctx->msg)
        ctx->msg[sizeof ctx->msg - 1] = '\0';
    return s;
}

static const mw_backend_impl *registered[2]; /* by mw_backend_kind; [CPU] unused */
static mw_backend_loader loaders[2];

void mw_backend_register(mw_backend_kind kind, const mw_backend_impl *impl)
{
    if ((unsigned)kind < 2 && kind != MW_BACKEND_CPU)
        registered[kind] = impl;
}

void mw_backend_set_loader(mw_backend_kind kind, mw_backend_loader load)
{
    if ((unsigned)kind < 2 && kind != MW_BACKEND_CPU)
        loaders[kind] = load;
}

static const char *const backend_names[] = {"cpu", "cuda"};
const mw_names mw_backend_names = {"engine", backend_names, 2, NULL};
static const char *const math_names[] = {"strict", "tf32"};
static const mw_alias math_aliases[] = {{"fp32", MW_MATH_STRICT}, {NULL, 0}};
const mw_names mw_math_names = {"math mode", math_names, 2, math_aliases};

const char *mw_backend_name(mw_backend_kind b)
{
    return mw_name_of(&mw_backend_names, (int)b);
}

int mw_backend_parse(const char *name, mw_backend_kind *out)
{
    int v;
    if (mw_name_parse(&mw_backend_names, name, &v) != 0)
        return 1;
    *out = (mw_backend_kind)v;
    return 0;
}

mw_status mw_ctx_open(mw_backend_kind backend, mw_dtype dtype, const mw_ctx_opts *opts,
                      mw_ctx **out, char *msg, size_t msg_len)
{
    mw_ctx_opts o = {MW_MATH_STRICT, 0};
    *out = NULL;
    if (opts)
        o = *opts;
    if (dtype != MW_F32 && dtype != MW_F64) {
        snprintf(msg, msg_len, "unknown dtype %d", (int)dtype);
        return MW_ERR_ARG;
    }
    if (backend != MW_BACKEND_CPU && backend != MW_BACKEND_CUDA) {
        snprintf(msg, msg_len, "unknown engine %d", (int)backend);
        return MW_ERR_ARG;
    }
    if (backend != MW_BACKEND_CPU && !registered[backend] && loaders[backend]) {
        /* loaded on first use: a program that never opens it never maps its libraries */
        char why[640] = "";
        if (loaders[backend](why, sizeof why) != 0 || !registered[backend]) {
            snprintf(msg, msg_len, "--engine %s: %s", mw_backend_name(backend),
                     why[0] ? why : "its module registered no engine");
            return MW_ERR_BACKEND;
        }
    }
    if (backend != MW_BACKEND_CPU && !registered[backend]) {
        snprintf(msg, msg_len, "--engine %s: this build of mwverify has no %s engine (it was "
                 "built without a CUDA compiler)", mw_backend_name(backend),
                 mw_backend_name(backend));
        return MW_ERR_BACKEND;
    }
    mw_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        snprintf(msg, msg_len, "out of host memory for a context");
        return MW_ERR_NOMEM;
    }
    ctx->backend = backend;
    ctx->dtype = dtype;
    ctx->math = backend == MW_BACKEND_CPU ? MW_MATH_STRICT : o.math;
    if (backend == MW_BACKEND_CPU) {
        ctx->ops = dtype == MW_F32 ? &mw_cpu_f32_ops : &mw_cpu_f64_ops;
    } else {
        ctx->impl = registered[backend];
        char why[256] = "";
        mw_status st = ctx->impl->open(ctx, o.device, why, sizeof why);
        if (st != MW_OK) {
            snprintf(msg, msg_len, "--engine %s: %s", mw_backend_name(backend), why);
            free(ctx);
            return st;
        }
    }
    *out = ctx;
    return MW_OK;
}

mw_status mw_ctx_new(mw_backend_kind backend, mw_dtype dtype, mw_ctx **out)
{
    char msg[256];
    *out = NULL;
    if (backend != MW_BACKEND_CPU)
        return MW_ERR_ARG;
    return mw_ctx_open(backend, dtype, NULL, out, msg, sizeof msg);
}

void mw_ctx_free(mw_ctx *ctx)
{
    if (!ctx)
        return;
    for (int i = 0; i < MW_CACHE_SLOTS; i++)
        if (ctx->cache[i].p)
            ctx->ops->release(ctx, ctx->cache[i].p);
    if (ctx->impl)
        ctx->impl->close(ctx);
    free(ctx);
}

mw_backend_kind mw_ctx_backend(const mw_ctx *ctx)
{
    return ctx->backend;
}

/* The CPU's model name from /proc/cpuinfo, or "cpu". */
static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ')
                    v++;
                snprintf(buf, n, "%s", v);
                buf[strcspn(buf, "\n")] = '\0';
            }
            break;
        }
    fclose(f);
}

mw_status mw_ctx_info(mw_ctx *ctx, mw_engine_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->backend, sizeof info->backend, "%s", mw_backend_name(ctx->backend));
    snprintf(info->math, sizeof info->math, "%s",
             ctx->dtype == MW_F64 ? "fp64" : ctx->math == MW_MATH_TF32 ? "tf32" : "fp32");
    if (ctx->impl)
        return ctx->impl->info(ctx, info);
    cpu_model(info->device, sizeof info->device);
    return MW_OK;
}

mw_dtype mw_ctx_dtype(const mw_ctx *ctx)
{
    return ctx->dtype;
}

const char *mw_ctx_message(const mw_ctx *ctx)
{
    return ctx->msg;
}

size_t mw_ctx_live_bytes(const mw_ctx *ctx)
{
    return ctx->live_bytes;
}

size_t mw_ctx_peak_bytes(const mw_ctx *ctx)
{
    return ctx->peak_bytes;
}

void mw_ctx_reset_peak(mw_ctx *ctx)
{
    ctx->peak_bytes = ctx->live_bytes;
}

mw_status mw_ctx_device_counts(mw_ctx *ctx, mw_device_counts *out)
{
    if (!ctx->ops->counts)
        return mw_fail(ctx, MW_ERR_ARG, "the CPU backend has no device launches to count");
    ctx->ops->counts(ctx, out);
    return MW_OK;
}

/* ---- tensors through the tracked allocator ---- */

/* Under AddressSanitizer every block goes back at once, so that a use after free is
 * still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define MW_USE_CACHE 0
#else
#define MW_USE_CACHE 1
#endif

/* The cache slots for blocks of this size: [*lo, *hi). */
static void cache_slots(size_t bytes, int *lo, int *hi)
{
    *lo = bytes >= MW_CACHE_MIN ? 0 : MW_CACHE_LARGE;
    *hi = bytes >= MW_CACHE_MIN ? MW_CACHE_LARGE : MW_CACHE_SLOTS;
}

mw_status mw_raw_alloc(mw_ctx *ctx, size_t bytes, void **p)
{
    int lo, hi;
    cache_slots(bytes, &lo, &hi);
    *p = NULL;
    if (MW_USE_CACHE && bytes > 0)
        for (int i = lo; i < hi; i++)
            if (ctx->cache[i].p && ctx->cache[i].bytes == bytes) {
                *p = ctx->cache[i].p;
                ctx->cache[i].p = NULL;
                ctx->cached_bytes -= bytes;
                break;
            }
    if (!*p) {
        mw_status st = ctx->ops->alloc(ctx, bytes, p);
        if (st != MW_OK && ctx->cached_bytes > 0) { /* give the cache back and try again */
            for (int i = 0; i < MW_CACHE_SLOTS; i++)
                if (ctx->cache[i].p) {
                    ctx->ops->release(ctx, ctx->cache[i].p);
                    ctx->cache[i].p = NULL;
                }
            ctx->cached_bytes = 0;
            st = ctx->ops->alloc(ctx, bytes, p);
        }
        if (st != MW_OK)
            return st;
    }
    ctx->live_bytes += bytes;
    if (ctx->live_bytes > ctx->peak_bytes)
        ctx->peak_bytes = ctx->live_bytes;
    return MW_OK;
}

void mw_raw_free(mw_ctx *ctx, void *p, size_t bytes)
{
    if (!p)
        return;
    int lo, hi;
    cache_slots(bytes, &lo, &hi);
    ctx->live_bytes -= bytes;
    if (MW_USE_CACHE && (bytes < MW_CACHE_MIN || ctx->cached_bytes + bytes <= MW_CACHE_BYTES))
        for (int i = lo; i < hi; i++)
            if (!ctx->cache[i].p) {
                ctx->cache[i].p = p;
                ctx->cache[i].bytes = bytes;
                ctx->cached_bytes += bytes;
                return;
            }
    ctx->ops->release(ctx, p);
}

mw_status mw_tensor_alloc(mw_ctx *ctx, size_t n, mw_tensor *t)
{
    t->data = NULL;
    t->n = 0;
    if (n > SIZE_MAX / ctx->ops->esize)
        return mw_fail(ctx, MW_ERR_NOMEM, "tensor of %zu elements is too large", n);
    mw_status st = mw_raw_alloc(ctx, n * ctx->ops->esize, &t->data);
    if (st == MW_OK)
        t->n = n;
    return st;
}

void mw_tensor_free(mw_ctx *ctx, mw_tensor *t)
{
    if (ctx) /* a context that was never made holds no tensor */
        mw_raw_free(ctx, t->data, t->n * ctx->ops->esize);
    t->data = NULL;
    t->n = 0;
}

static mw_status check_range(mw_ctx *ctx, const mw_tensor *t, size_t off, size_t n)
{
    if (off > t->n || n > t->n - off)
        return mw_fail(ctx, MW_ERR_ARG, "tensor range [%zu, %zu) outside its %zu elements",
                       off, off + n, t->n);
    return MW_OK;
}

mw_status mw_tensor_upload(mw_ctx *ctx, mw_tensor *t, size_t off, const double *src, size_t n)
{
    mw_status st = check_range(ctx, t, off, n);
    return st != MW_OK ? st : ctx->ops->upload(ctx, mw_at(ctx, t->data, off), src, n);
}

mw_status mw_tensor_download(mw_ctx *ctx, const mw_tensor *t, size_t off, double *dst, size_t n)
{
    mw_status st = check_range(ctx, t, off, n);
    return st != MW_OK ? st : ctx->ops->download(ctx, dst, mw_at(ctx, t->data, off), n);
}

/* ---- elementwise wrappers ---- */

static mw_status run_ew(mw_ctx *ctx, mw_ew_op op, mw_act act, double slope, double alpha,
                        double beta, mw_dims d, mw_view out, mw_view a, mw_view b)
{
    mw_ew e = {op, act, slope, alpha, beta, d, out, a, b, {0}};
    return ctx->ops->ew(ctx, &e);
}

mw_status mw_fill(mw_ctx *ctx, mw_dims d, mw_view out, double value)
{
    mw_view none = {0};
    return run_ew(ctx, MW_EW_FILL, MW_ACT_IDENTITY, 0, value, 0, d, out, none, none);
}

mw_status mw_copy(mw_ctx *ctx, mw_dims d, mw_view out, mw_view a)
{
    return mw_scale(ctx, d, out, 1.0, a);
}

mw_status mw_scale(mw_ctx *ctx, mw_dims d, mw_view out, double alpha, mw_view a)
{
    /* a copy onto itself (a layer working in place passes half its input through): nothing
     * to do, and no launch on a device */
    if (alpha == 1.0 && out.p == a.p && out.st == a.st && out.sr == a.sr)
        return MW_OK;
    mw_view none = {0};
    return run_ew(ctx, MW_EW_SCALE, MW_ACT_IDENTITY, 0, alpha, 0, d, out, a, none);
}

mw_status mw_axpby(mw_ctx *ctx, mw_dims d, mw_view out, double alpha, mw_view a, double beta,
                   mw_view b)
{
    return run_ew(ctx, MW_EW_AXPBY, MW_ACT_IDENTITY, 0, alpha, beta, d, out, a, b);
}

mw_status mw_act_apply(mw_ctx *ctx, mw_ew_op op, mw_act act, double slope, mw_dims d,
                       mw_view out, mw_view a, mw_view b)
{
    return run_ew(ctx, op, act, slope, 0, 0, d, out, a, b);
}

mw_status mw_act_with_dinv_mul(mw_ctx *ctx, mw_act act, double slope, mw_dims d, mw_view out,
                               mw_view out2, mw_view a, mw_view b)
{
    mw_ew e = {MW_EW_ACT_WITH_DINV_MUL, act, slope, 0, 0, d, out, a, b, out2};
    return ctx->ops->ew(ctx, &e);
}

mw_status mw_finite_defer_begin(mw_ctx *ctx)
{
    if (!ctx->ops->flag_nonfinite || ctx->finite_flag)
        return MW_OK;
    /* the backend's own scratch, like its reductions' results: not the method's
     * tracked working memory (the CPU, which checks at once, has none) */
    void *flag = NULL;
    mw_status st = ctx->ops->alloc(ctx, ctx->ops->esize, &flag);
    if (st == MW_OK) /* a kernel, not an upload: no wait */
        st = mw_fill(ctx, mw_d(1, 1, 1), mw_v(flag, 0, 0), 0.0);
    if (st != MW_OK) {
        if (flag)
            ctx->ops->release(ctx, flag);
        return st;
    }
    ctx->finite_flag = flag;
    return MW_OK;
}

mw_status mw_finite_defer_end(mw_ctx *ctx, int *bad)
{
    *bad = 0;
    void *flag = ctx->finite_flag;
    if (!flag)
        return MW_OK;
    ctx->finite_flag = NULL;
    double v = 0.0;
    mw_status st = ctx->ops->download(ctx, &v, flag, 1);
    ctx->ops->release(ctx, flag);
    *bad = v != 0.0;
    return st;
}

mw_status mw_check_finite(mw_ctx *ctx, const void *x, size_t n, size_t row_len,
                          const char *what)
{
    if (ctx->finite_flag) /* deferred: mw_finite_deferred reads the flag */
        return ctx->ops->flag_nonfinite(ctx, n, x, ctx->finite_flag);
    size_t first;
    mw_status st = ctx->ops->find_nonfinite(ctx, n, x, &first);
    if (st != MW_OK || first == n)
        return st;
    double v;
    st = ctx->ops->download(ctx, &v, mw_at(ctx, x, first), 1);
    if (st != MW_OK)
        return st;
    return mw_fail(ctx, MW_ERR_NONFINITE, "%s is %s at row %zu, column %zu", what,
                   isnan(v) ? "NaN" : "infinite", first / row_len, first % row_len);
}
