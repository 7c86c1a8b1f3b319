/* The inner function F of a coupling layer (docs/architecture.md §2): k units of map -> act -> [BN]
 * from the conditioning half a (B x n/2) to the shift added to the other half. F need not
 * be invertible; the coupling around it is. F's parameters are all of the layer's. */
#ifndef MW_INNER_H
#define MW_INNER_H

#include "layer.h"

typedef struct mw_inner_ops {
    /* y (B x n/2, contiguous) = F(a); a is a (1, B, n/2) view (sr used). */
    mw_status (*forward)(mw_ctx *ctx, const mw_layer *l, mw_view a, void *y,
                         mw_cache_level level, void **cache);
    void (*cache_free)(mw_ctx *ctx, void *cache);
    /* A cache that forward(a, INPUT) left raised to FULL in place, and y = F(a) (y may be
     * NULL): what forward(a, FULL) gives, bit for bit, from the cache alone, no map
     * evaluated (a unit's output is elementwise in what INPUT keeps). A FULL cache is
     * left as it is. NULL where F cannot. */
    mw_status (*complete)(mw_ctx *ctx, const mw_layer *l, void *cache, mw_view a, void *y);
    /* y = F(a) and dy (T, B, n/2 contiguous) = J_a da + J_θ dθ; da.p == NULL or
     * dtheta == NULL mean zero. da is (T, B, n/2) with st == B * sr. */
    mw_status (*jvp)(mw_ctx *ctx, const mw_layer *l, size_t T, mw_view a, mw_view da,
                     const void *dtheta, size_t ld_dtheta, void *y, void *dy);
    /* From the cache and hy (B x n/2, contiguous): ha += alpha * hy J_a (ha.p may be NULL)
     * and gtheta = hy J_θ (may be NULL; needs a FULL cache). */
    mw_status (*vjp)(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     double alpha, mw_view ha, void *gtheta);
} mw_inner_ops;

extern const mw_inner_ops mw_f_ops; /* dense (mlp) and conv (revnet) units, layers/f.c */
/* The same with BatchNorm's vjp stripped of its batch coupling: a negative control. */
extern const mw_inner_ops mw_f_ops_bn_uncoupled;

#endif
