/* The six methods of docs/architecture.md §3, one file each, all written against the layer
 * operations of engine/layers/layer.h and nothing below them. Each writes the whole
 * gradient g (canonical order) and fills info->loss and, where it has one,
 * info->closure_err; mw_grad (grad.c) does the checks and the accounting around them. */
#ifndef MW_METHOD_H
#define MW_METHOD_H

#include "../net.h"

typedef mw_status (*mw_method_fn)(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                  const mw_grad_opts *o, void *g, mw_grad_info *info);

mw_status mw_method_backprop(mw_ctx *, const mw_net *, const mw_batch *, const mw_grad_opts *,
                             void *, mw_grad_info *);
mw_status mw_method_forward(mw_ctx *, const mw_net *, const mw_batch *, const mw_grad_opts *,
                            void *, mw_grad_info *);
mw_status mw_method_projforward(mw_ctx *, const mw_net *, const mw_batch *,
                                const mw_grad_opts *, void *, mw_grad_info *);
mw_status mw_method_revbackprop(mw_ctx *, const mw_net *, const mw_batch *,
                                const mw_grad_opts *, void *, mw_grad_info *);
mw_status mw_method_moonwalk(mw_ctx *, const mw_net *, const mw_batch *, const mw_grad_opts *,
                             void *, mw_grad_info *);
mw_status mw_method_mixed(mw_ctx *, const mw_net *, const mw_batch *, const mw_grad_opts *,
                          void *, mw_grad_info *);

/* Moonwalk's phase 2, shared with mixed (the paper's Algorithm 1): from h0 = dJ/dx_0
 * (which the sweep overwrites), sweep forward with vijp, writing each layer's gradient
 * and dropping x_{i-1}; then the head's gradient and the closure error against the head's
 * dJ/dx_L. With caches (mixed: those its first phase's forward left at each layer's
 * input), a layer that has vijp_cached takes its step from its cache, which is freed once
 * used; NULL: none. */
mw_status mw_moonwalk_sweep(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, void *h0,
                            void **caches, void *g, mw_grad_info *info);

/* Forward through the body keeping each layer's cache at `level` in caches[0..L); x_L
 * is returned in a fresh tensor. On failure the caches made so far are left for
 * mw_caches_free. */
mw_status mw_forward_cached(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                            mw_cache_level level, void **caches, mw_tensor *xL);
void mw_caches_free(mw_ctx *ctx, const mw_net *net, void **caches);

/* The reverse sweep over the caches from hL = dJ/dx_L (hL is used as scratch): vjp
 * layer by layer, each cache freed once used unless keep. With g (FULL caches), every
 * layer's parameter gradient is written into g; with h0, dJ/dx_0 is left there. */
mw_status mw_backward_cached(mw_ctx *ctx, const mw_net *net, void **caches, mw_tensor *hL,
                             void *g, void *h0, int keep);

/* Mixed's phase 1: h0 (B, n) = dJ/dx_0 by backprop keeping only M_x per layer. With
 * caches (n_layers of them), the layers' caches are left there for the second phase
 * (free with mw_caches_free, also on failure); NULL: freed as the sweep goes. */
mw_status mw_backprop_input_cotangent(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                                      void *h0, double *loss, void **caches);

/* Propagate T tangents from layer `first` (0-based) through the rest of the body and
 * the head: x (B, n) is that layer's input, dx (T, B, n) its input tangent or NULL,
 * dtheta_first the parameter tangent of layer `first` (or NULL), and dJ (T, B) receives
 * the per-sample loss derivatives. Shared by forward, projforward and moonwalk phase 1.
 * tangent(ℓ, T, buf) supplies parameter tangents for later layers (NULL: none). */
typedef mw_status (*mw_theta_tangent_fn)(mw_ctx *ctx, const mw_net *net, int layer,
                                         size_t T, void *arg, mw_tensor *out);
mw_status mw_push_tangents(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, int first,
                           size_t T, const void *x, const void *dx, mw_theta_tangent_fn tangent,
                           void *arg, void *dJ, double *loss);

/* (n_theta of body layer ℓ, its offset): ℓ in 0..n_layers-1 for the body (ψ has none),
 * n_layers for the head. */
size_t mw_block_size(const mw_net *net, int layer);
size_t mw_block_offset(const mw_net *net, int layer);

/* BatchNorm's mode for the pass a method designates to fold the batch statistics into
 * the running ones (mw_grad_opts.bn_update): call with 1 before that pass and 0 after
 * it; mw_grad puts the mode back whatever happens. */
static inline void mw_bn_record(mw_ctx *ctx, const mw_grad_opts *o, int on)
{
    ctx->bn_mode = on && o->bn_update ? MW_BN_RECORD : MW_BN_BATCH;
}

#endif
