/* mwverify engine: the public interface (docs/architecture.md §3, §4).
 *
 * A context fixes a backend (cpu, later cuda) and a dtype (f32 or f64); every tensor,
 * network and gradient made through it lives there. Six methods compute the same
 * gradient g = dJ/dθ of the mean softmax cross-entropy J; they are selected by
 * mw_method and share one entry point, mw_grad. Library code never prints or exits:
 * each call returns an mw_status and leaves a one-line message on the context. */
#ifndef MW_ENGINE_H
#define MW_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "mw_common.h" /* mw_status */
#include "mw_spec.h"

#ifndef MW_VERSION /* the build defines it from CMakeLists.txt's project() */
#define MW_VERSION "0.1.0"
#endif

typedef enum { MW_F32 = 0, MW_F64 = 1 } mw_dtype;
typedef enum { MW_BACKEND_CPU = 0, MW_BACKEND_CUDA = 1 } mw_backend_kind;

/* How a GPU backend's float32 matrix products round: strict IEEE float32 (the default),
 * or TF32 tensor cores (10-bit mantissa inputs), opt-in. The CPU is always strict. */
typedef enum { MW_MATH_STRICT = 0, MW_MATH_TF32 = 1 } mw_math_mode;

extern const mw_names mw_dtype_names;
const char *mw_dtype_name(mw_dtype d);
int mw_dtype_parse(const char *name, mw_dtype *out);

/* ---- context: backend, dtype, tracked allocator, last message ---- */

typedef struct mw_ctx mw_ctx;

/* A context on the CPU (MW_ERR_ARG for another backend or dtype). */
mw_status mw_ctx_new(mw_backend_kind backend, mw_dtype dtype, mw_ctx **out);

typedef struct mw_ctx_opts {
    mw_math_mode math;
    int device;         /* the GPU's ordinal */
} mw_ctx_opts;

/* A backend that lives in a module loaded on first use (mwverify's CUDA engine, so that a
 * run on the CPU never maps the CUDA libraries): mw_ctx_open calls load when the backend
 * is asked for and not registered yet; load registers it and returns 0, or returns
 * nonzero with one line in msg saying why it cannot. */
typedef int (*mw_backend_loader)(char *msg, size_t msg_len);
void mw_backend_set_loader(mw_backend_kind kind, mw_backend_loader load);

/* A context on any backend this program has (the CUDA one when it was built and
 * registered, mw_cuda_register, or its loader succeeds). On failure *out is NULL, and msg holds one line: no such
 * backend in this build, no device, no driver. opts may be NULL (strict math, device 0). */
mw_status mw_ctx_open(mw_backend_kind backend, mw_dtype dtype, const mw_ctx_opts *opts,
                      mw_ctx **out, char *msg, size_t msg_len);
extern const mw_names mw_backend_names; /* cpu, cuda */
extern const mw_names mw_math_names;    /* strict (alias fp32), tf32 */
const char *mw_backend_name(mw_backend_kind b); /* cpu, cuda */
int mw_backend_parse(const char *name, mw_backend_kind *out);

/* What a context runs on, for reports. */
typedef struct mw_engine_info {
    char backend[8];       /* "cpu" or "cuda" */
    char device[128];      /* the CPU model, or the GPU's name */
    char math[8];          /* "fp64", "fp32" or "tf32": how matrix products round */
    int cc_major, cc_minor;              /* GPU compute capability (0 on the CPU) */
    int driver_version, runtime_version; /* CUDA, as 1000 major + 10 minor (0 on the CPU) */
    size_t mem_free, mem_total;          /* device memory now (0 on the CPU) */
    int devices;                         /* GPUs this process sees (0 on the CPU) */
} mw_engine_info;

mw_status mw_ctx_info(mw_ctx *ctx, mw_engine_info *info);
mw_backend_kind mw_ctx_backend(const mw_ctx *ctx);
void mw_ctx_free(mw_ctx *ctx);
mw_dtype mw_ctx_dtype(const mw_ctx *ctx);
const char *mw_ctx_message(const mw_ctx *ctx); /* "" when the last call succeeded */
size_t mw_ctx_live_bytes(const mw_ctx *ctx);   /* tracked bytes allocated now */
size_t mw_ctx_peak_bytes(const mw_ctx *ctx);   /* high-water mark since the last reset */
void mw_ctx_reset_peak(mw_ctx *ctx);           /* peak := live */
/* What a GPU context has asked of its device since it opened: kernel launches (a cuBLAS
 * call counts one), waits for its stream (each a synchronisation with the device) and
 * device allocations (stream-ordered, from a pool that keeps what is freed). MW_ERR_ARG
 * on the CPU, which has none of them. */
typedef struct mw_device_counts {
    unsigned long long launches, syncs, allocs;
} mw_device_counts;
mw_status mw_ctx_device_counts(mw_ctx *ctx, mw_device_counts *out);

/* ---- tensors: a flat array of the context's dtype on its backend ---- */

typedef struct mw_tensor {
    void *data;
    size_t n; /* elements */
} mw_tensor;

mw_status mw_tensor_alloc(mw_ctx *ctx, size_t n, mw_tensor *t);
void mw_tensor_free(mw_ctx *ctx, mw_tensor *t);
/* Copy n host doubles into t[off..off+n), rounding to the dtype. */
mw_status mw_tensor_upload(mw_ctx *ctx, mw_tensor *t, size_t off, const double *src, size_t n);
/* Copy t[off..off+n) into host doubles (exact). */
mw_status mw_tensor_download(mw_ctx *ctx, const mw_tensor *t, size_t off, double *dst, size_t n);

/* ---- networks and batches ---- */

typedef struct mw_net mw_net;

/* Deterministic initial parameters of docs/architecture.md §2, identical for every dtype and
 * backend: W and c uniform in ±init_scale/sqrt(fan_in) from Philox4x32-10 keyed by the
 * spec's seed, γ = 1, β = 0, every value rounded to float32. theta has lay->total
 * entries. */
void mw_init_params(const mw_spec *spec, const mw_layout *lay, double *theta);

/* A network with the spec's initial parameters. The spec must be valid
 * (mw_spec_validate); an invalid one is MW_ERR_ARG. */
mw_status mw_net_new(mw_ctx *ctx, const mw_spec *spec, mw_net **out);
/* The same with every coupling layer of the named type of the layer registry (a real
 * layer, or a negative control), which must implement the spec's coupling. */
mw_status mw_net_new_layer(mw_ctx *ctx, const mw_spec *spec, const char *layer, mw_net **out);
/* A network whose L coupling layers are a plugin's layer (include/mwverify/mw_plugin.h),
 * followed by the spec's head: an mlp without BatchNorm on the CPU engine (else
 * MW_ERR_ARG). Layer i's parameters are the plugin's own (its init with seed + i), one
 * tensor "layer<i>.plugin" each; the head's are initialised as mw_init_params does. */
struct mwp_layer;
mw_status mw_net_new_plugin(mw_ctx *ctx, const mw_spec *spec, const struct mwp_layer *layer,
                            mw_net **out);
/* The plugin layer of this process: what mw_net_new and mw_init_params build a spec of
 * coupling plugin from (NULL: none; such a spec is then MW_ERR_ARG). Set only in a process
 * that runs plugin code (a child: suites/plugin.h). */
void mw_engine_use_plugin(const struct mwp_layer *layer);
const struct mwp_layer *mw_engine_plugin(void);

/* ---- the layer registry, and one layer's operations on host doubles (layer checks) ---- */

typedef struct mw_layer_info {
    const char *name;     /* additive, affine, squeeze; negative controls */
    const char *summary;
    const char *fault;    /* a negative control: what is deliberately wrong; NULL if real */
    int coupling;         /* the mw_coupling it implements; -1 for the squeeze */
} mw_layer_info;

size_t mw_layer_count(void);
int mw_layer_info_at(size_t i, mw_layer_info *out); /* 0, or 1 past the end */
int mw_layer_info_of(const char *name, mw_layer_info *out); /* 0, or 1 when unknown */

/* Body layer i (0-based: the couplings and, in a revnet, the squezes between blocks):
 * its name ("layer 3", "squeeze after block 1"), parameters (count and first index in
 * the flat vector). Buffers are batch x width host doubles; dx, hy etc. likewise; T
 * tangents are T of those, dtheta T rows of the layer's n_theta parameters. */
int mw_net_n_layers(const mw_net *net);
mw_status mw_net_layer(const mw_net *net, int i, char *label, size_t label_len,
                       size_t *n_theta, size_t *theta_off);
mw_status mw_layer_forward(mw_ctx *ctx, const mw_net *net, int i, const double *x, double *y);
mw_status mw_layer_inverse(mw_ctx *ctx, const mw_net *net, int i, const double *y, double *x);
mw_status mw_layer_jvp(mw_ctx *ctx, const mw_net *net, int i, size_t T, const double *x,
                       const double *dx, const double *dtheta, double *y, double *dy);
mw_status mw_layer_vjp(mw_ctx *ctx, const mw_net *net, int i, const double *x, const double *hy,
                       double *hx, double *g);
mw_status mw_layer_vijp(mw_ctx *ctx, const mw_net *net, int i, const double *x, const double *hx,
                        double *y, double *hy, double *g);
void mw_net_free(mw_ctx *ctx, mw_net *net);
const mw_spec *mw_net_spec(const mw_net *net);
const mw_layout *mw_net_layout(const mw_net *net);
mw_status mw_net_set_params(mw_ctx *ctx, mw_net *net, const double *theta);
mw_status mw_net_get_params(mw_ctx *ctx, const mw_net *net, double *theta);

/* BatchNorm running statistics (PyTorch's running_mean/running_var, momentum 0.1, the
 * unbiased batch variance): start at 0 and 1, folded in once per gradient computed with
 * mw_grad_opts.bn_update, used by mw_eval. For unit `unit` of coupling `layer`: channels
 * values each (the unit's output channels or features) and the number of batches folded
 * in. MW_ERR_ARG when that unit has no BatchNorm. */
mw_status mw_net_bn_running(mw_ctx *ctx, const mw_net *net, int layer, int unit, double *mean,
                            double *var, size_t channels, long *updates);
/* Copy the running statistics of src into dst (same spec). */
mw_status mw_net_bn_copy(mw_ctx *ctx, mw_net *dst, const mw_net *src);

typedef struct mw_batch mw_batch;

/* x: batch x width values (row-major), labels: batch class indices in [0, classes). */
mw_status mw_batch_new(mw_ctx *ctx, const mw_net *net, const double *x, const int *labels,
                       mw_batch **out);
void mw_batch_free(mw_ctx *ctx, mw_batch *b);

/* Replace the batch's inputs and labels (same sizes), without reallocating. */
mw_status mw_batch_update(mw_ctx *ctx, const mw_net *net, mw_batch *b, const double *x,
                          const int *labels);

/* The loss J at the network's parameters (forward pass only). */
mw_status mw_loss(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, double *loss);

/* J and the fraction of the batch whose largest logit is its label (ties: the first).
 * BatchNorm normalises with the batch's statistics (training mode, as the gradients see
 * it) or, with running = 1, with its running statistics (evaluation mode: held-out data). */
mw_status mw_eval(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, int running,
                  double *loss, double *accuracy);

/* ---- Adam, in the context's dtype ---- */

typedef struct mw_adam {
    double beta1, beta2, eps;
    long long t;        /* steps taken */
    mw_tensor m, v;     /* first and second moments, one per parameter */
} mw_adam;

mw_status mw_adam_init(mw_ctx *ctx, const mw_net *net, double beta1, double beta2, double eps,
                       mw_adam *a);
/* θ := θ - lr · m̂ / (sqrt(v̂) + eps) with the bias-corrected moments of g (PyTorch's
 * Adam, no weight decay). */
mw_status mw_adam_step(mw_ctx *ctx, mw_net *net, mw_adam *a, const mw_tensor *g, double lr);
void mw_adam_free(mw_ctx *ctx, mw_adam *a);

/* The output x_i of every coupling layer i = 1..L: out holds L blocks of batch x width
 * host doubles, layer 1 first. */
mw_status mw_net_activations(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                             double *out);

/* h_0 = dJ/dx_0 (batch x width host doubles) by backprop. */
mw_status mw_input_gradient(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                            double *h0);

/* ---- the six methods ---- */

typedef enum {
    MW_BACKPROP = 0,
    MW_FORWARD,
    MW_PROJFORWARD,
    MW_REVBACKPROP,
    MW_MOONWALK,
    MW_MIXED,
    MW_N_METHODS
} mw_method;

extern const mw_names mw_method_names;
const char *mw_method_name(mw_method m);
int mw_method_parse(const char *name, mw_method *out);
int mw_method_needs_inverse(mw_method m); /* revbackprop, moonwalk, mixed */
int mw_method_is_stochastic(mw_method m); /* projforward */

typedef struct mw_grad_opts {
    int tangent_block;     /* tangents per pass in forward, projforward, moonwalk phase 1 */
    int proj_samples;      /* K: projforward averages K projected gradients */
    uint64_t rng_seed;     /* projforward's tangents: Philox key ... */
    uint64_t rng_step;     /* ... and stream (one per training step) */
    int moonwalk_general;  /* 1: never take moonwalk's sample-separable shortcut */
    int memory_probe;      /* 1: measure the working memory only: forward-mode passes run
                              their first block of tangents and stop (every block asks for
                              the same buffers, so the peak is the full run's); g is not
                              the gradient, and info->complete is 0 */
    int bn_update;         /* 1: a training step: fold this batch's statistics into the
                              BatchNorm running statistics, exactly once per layer, from
                              the method's first forward pass over the true inputs
                              (never from recomputed or reconstructed activations) */
} mw_grad_opts;

mw_grad_opts mw_grad_opts_default(void);

typedef struct mw_grad_info {
    double loss;        /* J at the batch */
    double closure_err; /* moonwalk, mixed: |h_L - dJ/dx_L| / |dJ/dx_L|; NaN otherwise */
    size_t peak_bytes;  /* working bytes of this call (parameters and g not counted) */
    int separable;      /* moonwalk phase 1 took the one-tangent-per-sample shortcut */
    int complete;       /* the method ran to its end and wrote all of g (which may still
                           hold non-finite values); 0 when it stopped part way */
    double recon_err;   /* revbackprop: |x̂_0 - x_0| / |x_0|, the input rebuilt through
                           every inverse against the true one; NaN otherwise */
    size_t dev_free_before, dev_free_after; /* a GPU's free memory (cudaMemGetInfo) around
                           the call; 0 on the CPU */
} mw_grad_info;

/* g (lay->total elements, canonical order) := dJ/dθ by method m. A gradient with a
 * non-finite entry is MW_ERR_NONFINITE (g still written, the message names the entry);
 * a method needing an inverse on a network without one is MW_ERR_NOT_INVERTIBLE. */
mw_status mw_grad(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, mw_method m,
                  const mw_grad_opts *opts, mw_tensor *g, mw_grad_info *info);

#endif
