/* The layer interface (docs/architecture.md §2): every invertible layer type implements the same
 * five operations, and the methods are written once against them.
 *
 * Shapes: x and y are (B, n) row-major; a block of T tangents or cotangents is
 * (T, B, n), contiguous. A layer's parameters are n_theta consecutive scalars of the
 * flat vector (canonical order), and so are its parameter gradients and tangents. */
#ifndef MW_LAYER_H
#define MW_LAYER_H

#include "../internal.h"

/* What a forward pass keeps for a later vjp. INPUT: only what the input cotangent
 * needs (M_x: pre-activations, BN statistics); FULL: also what the parameter gradient
 * needs (M_θ: the input of every dense map). */
typedef enum { MW_CACHE_NONE = 0, MW_CACHE_INPUT, MW_CACHE_FULL } mw_cache_level;

typedef struct mw_layer mw_layer;

typedef struct mw_layer_ops {
    const char *name;
    /* forward, vjp, vijp and vijp_cached also take their output in their input's buffer
     * (y == x, hx == hy: the same pointer), with the same results bit for bit: the sweeps
     * then skip the copy of the half a coupling passes through (engine.layers checks it). */
    bool in_place;
    /* y = f(x). With level > NONE, *cache receives what vjp needs (free with cache_free).
     * y may be NULL when only the cache is wanted. */
    mw_status (*forward)(mw_ctx *ctx, const mw_layer *l, const void *x, void *y,
                         mw_cache_level level, void **cache);
    void (*cache_free)(mw_ctx *ctx, const mw_layer *l, void *cache);
    /* x = f⁻¹(y). MW_ERR_NONFINITE when y lies outside the image in this precision. */
    mw_status (*inverse)(mw_ctx *ctx, const mw_layer *l, const void *y, void *x);
    /* Optional: inverse, and the cache forward(x, level) would give, in one pass: the
     * inner function evaluated once where inverse and forward evaluate it once each
     * (revbackprop's reconstruction). The same x and cache, bit for bit, as inverse then
     * forward; NULL where a layer has no such shortcut, and in any table that replaces
     * inverse or forward (the negative controls of layers/registry.c). */
    mw_status (*inverse_cached)(mw_ctx *ctx, const mw_layer *l, const void *y, void *x,
                                mw_cache_level level, void **cache);
    /* y = f(x) and, for T tangents, dy = J_x dx + J_θ dθ. dx (T, B, n) or NULL for zero;
     * dtheta: T rows of n_theta scalars, ld apart, or NULL for zero. */
    mw_status (*jvp)(mw_ctx *ctx, const mw_layer *l, size_t T, const void *x, const void *dx,
                     const void *dtheta, size_t ld_dtheta, void *y, void *dy);
    /* From a cache and the output cotangent hy: hx = hy J_x (needs level >= INPUT) and
     * g = hy J_θ (needs FULL); either may be NULL. */
    mw_status (*vjp)(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy,
                     void *hx, void *gtheta);
    /* The Moonwalk step: from the input x and input cotangent hx, the output y = f(x),
     * hy = hx J_x⁻¹ and g = hy J_θ, with one vjp through the layer's inner function. */
    mw_status (*vijp)(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx, void *y,
                      void *hy, void *gtheta);
    /* Optional: vijp at x given the cache a forward pass at x left (level ≥ INPUT; it may
     * be raised to FULL, and stays the caller's to free): the same y, hy and g, bit for
     * bit, with the inner function's maps not evaluated again (mixed's second phase,
     * from its first phase's caches). NULL where a layer has no such shortcut, and in
     * any table that replaces vijp or forward (the negative controls of
     * layers/registry.c). */
    mw_status (*vijp_cached)(mw_ctx *ctx, const mw_layer *l, void *cache, const void *x,
                             const void *hx, void *y, void *hy, void *gtheta);
} mw_layer_ops;

/* BatchNorm running statistics of one unit (PyTorch's running_mean / running_var):
 * state the network owns, folded in only by the pass a method designates (see
 * mw_grad_opts.bn_update) and used by evaluation. */
typedef struct mw_bn_running {
    mw_tensor mean, var; /* per channel (feature) */
    long updates;        /* batches folded in */
} mw_bn_running;

struct mw_layer {
    const mw_layer_ops *ops;
    const struct mw_inner_ops *inner; /* a coupling's F */
    const mw_spec *spec;
    int index;          /* 1..L for couplings, 0 for an unnumbered layer (ψ) */
    char label[32];     /* for messages: "layer 3", "squeeze after block 1" */
    size_t batch, width;/* width: features of x, C·H·W */
    mw_shape shape;     /* the input's (C, H, W); mlp: (width, 1, 1) */
    size_t theta_off;   /* first scalar in the flat parameter vector */
    size_t n_theta;
    const void *theta;  /* this layer's parameters on the backend */
    mw_bn_running *running; /* [units] when the layer has BatchNorm, else NULL */
    const struct mwp_layer *plugin; /* a plugin's layer (ops mw_plugin_layer_ops), or NULL */
};

extern const mw_layer_ops mw_coupling_ops;        /* additive, layers/coupling.c */
extern const mw_layer_ops mw_coupling_affine_ops; /* affine, layers/coupling_affine.c */
extern const mw_layer_ops mw_squeeze_ops;
extern const mw_layer_ops mw_plugin_layer_ops;    /* a plugin's layer, layers/plugin_layer.c */

/* ---- the layer registry (layers/registry.c; docs/adding-a-layer.md) ---- */

typedef struct mw_layer_type {
    const char *name;               /* "additive", "affine", "squeeze", negative controls */
    const char *summary;            /* one line, for `mwverify layer list` */
    const mw_layer_ops *ops;
    const struct mw_inner_ops *inner; /* a coupling's F; NULL for ψ */
    int coupling;                   /* the mw_coupling it implements; -1: not a coupling */
    const char *fault;              /* a negative control: what is deliberately wrong; NULL
                                       for a real layer */
} mw_layer_type;

extern const mw_layer_type mw_layer_registry[];
extern const size_t mw_layer_registry_size;
const mw_layer_type *mw_layer_type_find(const char *name);
/* The real coupling layer for a spec's coupling. */
const mw_layer_type *mw_layer_type_for(mw_coupling coupling);

/* ---- the head: [global average pool ->] dense -> logits -> mean softmax cross-entropy (not invertible) ---- */

typedef struct mw_head {
    const mw_spec *spec;
    size_t batch, width, classes; /* width: features after the pool */
    size_t pool;         /* revnet: H·W of x_L, averaged per channel first; mlp: 1 */
    size_t theta_off, n_theta;
    const void *theta;   /* W [classes][width], then c [classes] */
    const void *labels;  /* int32 on the backend */
} mw_head;

/* J at x_L. */
mw_status mw_head_loss(mw_ctx *ctx, const mw_head *h, const void *x, double *loss);
/* J, and the logits (B x classes host doubles). */
mw_status mw_head_logits(mw_ctx *ctx, const mw_head *h, const void *x, double *logits,
                         double *loss);
/* J, hx = dJ/dx_L and, unless g is NULL, g = dJ/dθ_head. */
mw_status mw_head_vjp(mw_ctx *ctx, const mw_head *h, const void *x, void *hx, void *g,
                      double *loss);
/* For T tangents: dJ_b per sample (T x B, not divided by B) of the per-sample losses,
 * from dx (T, B, n) or NULL and head parameter tangents dtheta (T rows, ld apart) or
 * NULL. loss may be NULL. */
mw_status mw_head_jvp(mw_ctx *ctx, const mw_head *h, size_t T, const void *x, const void *dx,
                      const void *dtheta, size_t ld_dtheta, void *dJ, double *loss);

#endif
