/* Engine internals shared by the core, layers and methods: the context, error
 * reporting and small helpers over the backend table. Not installed, not used
 * outside engine/ except by the engine's own tests. */
#ifndef MW_INTERNAL_H
#define MW_INTERNAL_H

#include <stdarg.h>

#include "backend.h"
#include "mw_engine.h"

/* How BatchNorm normalises: with the batch's statistics (training), the same and
 * folding them into the running statistics, or with the running statistics
 * (evaluation, forward passes without caches only). */
typedef enum { MW_BN_BATCH = 0, MW_BN_RECORD, MW_BN_RUNNING } mw_bn_mode;

/* BatchNorm's running statistics: r = (1 - m) r + m b, PyTorch's momentum and its
 * unbiased batch variance (n / (n - 1), n = B·H·W) for the running variance. */
#define MW_BN_MOMENTUM 0.1

/* Freed blocks kept for reuse: the methods allocate the same sizes every layer and every
 * step, and returning large blocks to the system each time costs page faults (on the CPU)
 * or device synchronisation (on a GPU), small ones malloc's bookkeeping (a tenth of a
 * small mlp's gradient). Blocks of MW_CACHE_MIN bytes or more take the first
 * MW_CACHE_LARGE slots, MW_CACHE_BYTES in all; smaller ones the other MW_CACHE_SLOTS −
 * MW_CACHE_LARGE (at most 4 MiB). live_bytes and peak_bytes count what the methods hold,
 * not what the cache keeps. */
#define MW_CACHE_SLOTS 96
#define MW_CACHE_LARGE 32
#define MW_CACHE_MIN ((size_t)64 << 10)
#define MW_CACHE_BYTES ((size_t)256 << 20)

struct mw_ctx {
    mw_backend_kind backend;
    mw_dtype dtype;
    mw_math_mode math;
    mw_bn_mode bn_mode;
    const mw_ops *ops;
    const mw_backend_impl *impl; /* NULL on the CPU */
    void *bstate;                /* the backend's own (a GPU's handles and scratch) */
    size_t live_bytes, peak_bytes;
    struct {
        void *p;
        size_t bytes;
    } cache[MW_CACHE_SLOTS];
    size_t cached_bytes;
    /* Where set (a device backend, during revbackprop's sweep), mw_check_finite only marks
     * this device flag when x is not finite, without waiting for the device: the method
     * reads the flag once at the end (mw_finite_defer_end). */
    void *finite_flag;
    char msg[512];
};

/* Set the context's message and return s. */
mw_status mw_fail(mw_ctx *ctx, mw_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the current message with "<where>: " and return s (for adding context, such
 * as the layer number, on the way out). */
mw_status mw_annotate(mw_ctx *ctx, mw_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Raw tracked allocation, for buffers that are not tensors of the dtype (labels). */
mw_status mw_raw_alloc(mw_ctx *ctx, size_t bytes, void **p);
void mw_raw_free(mw_ctx *ctx, void *p, size_t bytes);

/* Used with a local `mw_status st` and a label `done` that frees what was allocated. */
#define MW_GO(expr)                                                                           \
    do {                                                                                      \
        if ((st = (expr)) != MW_OK)                                                           \
            goto done;                                                                        \
    } while (0)

/* Pointer to element off of a buffer of the context's dtype. */
static inline void *mw_at(const mw_ctx *ctx, const void *p, size_t off)
{
    return (char *)p + off * ctx->ops->esize;
}

static inline mw_view mw_v(void *p, ptrdiff_t st, ptrdiff_t sr)
{
    mw_view v = {p, st, sr};
    return v;
}

static inline mw_dims mw_d(size_t tangents, size_t rows, size_t cols)
{
    mw_dims d = {tangents, rows, cols};
    return d;
}

/* Thin wrappers that keep layer code short. */
mw_status mw_fill(mw_ctx *ctx, mw_dims d, mw_view out, double value);
mw_status mw_copy(mw_ctx *ctx, mw_dims d, mw_view out, mw_view a);
mw_status mw_scale(mw_ctx *ctx, mw_dims d, mw_view out, double alpha, mw_view a);
mw_status mw_axpby(mw_ctx *ctx, mw_dims d, mw_view out, double alpha, mw_view a, double beta,
                   mw_view b);
mw_status mw_act_apply(mw_ctx *ctx, mw_ew_op op, mw_act act, double slope, mw_dims d,
                       mw_view out, mw_view a, mw_view b);
/* out = act(a) and out2 = b / act'(a) in one pass (MW_EW_ACT_WITH_DINV_MUL). */
mw_status mw_act_with_dinv_mul(mw_ctx *ctx, mw_act act, double slope, mw_dims d, mw_view out,
                               mw_view out2, mw_view a, mw_view b);

/* Fail with MW_ERR_NONFINITE if any of x[0..n) is not finite; `what` names the buffer
 * and `row_len` turns the flat index into (row, column) for the message. */
/* Deferred finiteness checks where the backend has them (a GPU): between begin and end,
 * mw_check_finite marks a device flag instead of waiting for the device; end reads it
 * once (*bad: some check failed; its message is for a second, immediate pass to give).
 * Without the backend's support, begin does nothing and end says *bad = 0. */
mw_status mw_finite_defer_begin(mw_ctx *ctx);
mw_status mw_finite_defer_end(mw_ctx *ctx, int *bad);
mw_status mw_check_finite(mw_ctx *ctx, const void *x, size_t n, size_t row_len,
                          const char *what);

#endif
