/* mwverify's layer plugin interface, ABI version 1 (docs/layer-plugins.md).
 *
 * A plugin is a shared object that exports one function, mwp_plugin_entry, returning a
 * table of one or more invertible layers. `mwverify layer check --layer-plugin PATH.so[:NAME]`
 * checks such a layer exactly as it checks its own: forward, inverse, jvp, vjp, vijp and
 * the identities that tie them together, in float32 and float64, against the plugin's own
 * MPFR passes where it supplies them (the gold oracle) or else against float64 central
 * differences and identities (the silver path). The plugin's code always runs in a child
 * process: a crash, an abort or an endless loop in it is a failed check naming the signal,
 * never a crashed mwverify.
 *
 * Data: plain host arrays, row-major, batch first. An input x is B samples of n features
 * (B x n doubles or floats); images are n = C*H*W with channels before height before
 * width, as in PyTorch's (B, C, H, W). A block of T tangents or cotangents is (T, B, n),
 * contiguous. A layer's parameters are one flat vector of P scalars in the order its
 * param_blocks give; a block of T parameter tangents is (T, P). Host arrays rather than
 * mwverify's engine tensors, so that the ABI holds no internal type: a plugin is plain
 * C (or C++, Rust, anything with a C ABI), it needs no mwverify library to link against,
 * and the same interface serves the process bridge for PyTorch and JAX layers.
 *
 * Every operation returns MWP_OK, or another mwp_status with a one-line reason in
 * call->msg. Outputs are overwritten, never accumulated into; they never alias an input
 * or each other. theta and gtheta are never NULL, also when P = 0. Operations must not keep
 * pointers to their arguments after they return, and must be deterministic: the same
 * inputs give the same bits. A layer whose operations are all reentrant may say so
 * (MWP_REENTRANT); mwverify then may call it from several threads.
 *
 * Compatibility: a plugin built against ABI version N is loaded only by an mwverify that
 * speaks version N; any change to this file's types changes the version. */
#ifndef MWVERIFY_MW_PLUGIN_H
#define MWVERIFY_MW_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <mpfr.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MWP_ABI_VERSION 1

typedef enum mwp_status {
    MWP_OK = 0,
    MWP_ERR_DOMAIN = 1, /* the input has no image (inverse: y outside the range in this
                           precision, e.g. tanh's output at ±1); not a fault of the layer */
    MWP_ERR_SHAPE = 2,  /* accepts: this shape is not one the layer takes */
    MWP_ERR_FAILED = 3, /* anything else: out of memory, an MPFR failure, a bug found */
} mwp_status;

/* What every operation is called with: the shape of x, the layer's place in a network,
 * and room for the reason of a failure. */
typedef struct mwp_call {
    size_t batch;           /* B */
    size_t features;        /* n = channels * height * width */
    size_t channels, height, width; /* a dense input is (n, 1, 1) */
    int index;              /* 1..L in a network (couplings alternate on it); 1 alone */
    int dtype_bits;         /* 32 or 64: the precision of this call's arrays; for the
                               MPFR passes, 0 */
    long mpfr_prec;         /* the MPFR passes: the precision of their arguments, in bits */
    char msg[256];          /* the operation's reason when it fails, one line */
} mwp_call;

/* One named block of the parameter vector ("log_scale", "bias", "weight"). */
typedef struct mwp_param_block {
    char name[32];
    size_t count;
} mwp_param_block;

/* The five operations in one precision (real is float or double). */
#define MWP_OPS(real)                                                                         \
    struct {                                                                                  \
        /* y = f(x). */                                                                       \
        mwp_status (*forward)(mwp_call *c, const real *theta, const real *x, real *y);       \
        /* x = f⁻¹(y); MWP_ERR_DOMAIN where y has no preimage in this precision. */          \
        mwp_status (*inverse)(mwp_call *c, const real *theta, const real *y, real *x);       \
        /* y = f(x), and for T tangents dy = J_x dx + J_θ dθ: dx (T, B, n) or NULL (zero),  \
         * dtheta (T, P) or NULL (zero), dy (T, B, n). */                                     \
        mwp_status (*jvp)(mwp_call *c, const real *theta, size_t T, const real *x,           \
                          const real *dx, const real *dtheta, real *y, real *dy);            \
        /* From x and the output cotangent hy (B, n): hx = hy J_x (B, n) and g = hy J_θ     \
         * (P), summed over the batch. Both outputs are always given. */                     \
        mwp_status (*vjp)(mwp_call *c, const real *theta, const real *x, const real *hy,     \
                          real *hx, real *gtheta);                                            \
        /* The Moonwalk step: from x and the input cotangent hx, y = f(x),                   \
         * hy = hx J_x⁻¹ and g = hy J_θ. */                                                   \
        mwp_status (*vijp)(mwp_call *c, const real *theta, const real *x, const real *hx,    \
                           real *y, real *hy, real *gtheta);                                  \
    }

typedef MWP_OPS(float) mwp_ops_f32;
typedef MWP_OPS(double) mwp_ops_f64;

/* The optional MPFR passes, which make the plugin its own gold oracle. Arguments are
 * arrays of pointers to mpfr numbers that mwverify initialised at c->mpfr_prec bits
 * (pointer arrays rather than arrays of mpfr_t: C before C23 has no implicit const for
 * pointers to arrays); outputs are set, every operation rounded to nearest at that
 * precision or better. */
typedef struct mwp_ops_mpfr {
    /* y = f(x). */
    mwp_status (*forward)(mwp_call *c, mpfr_srcptr const *theta, mpfr_srcptr const *x,
                          mpfr_ptr const *y);
    /* hx = hy J_x, g = hy J_θ (the exact reverse pass). */
    mwp_status (*vjp)(mwp_call *c, mpfr_srcptr const *theta, mpfr_srcptr const *x,
                      mpfr_srcptr const *hy, mpfr_ptr const *hx, mpfr_ptr const *gtheta);
} mwp_ops_mpfr;

/* Flags of a layer. */
enum {
    MWP_REENTRANT = 1u << 0, /* every operation may run in several threads at once */
};

typedef struct mwp_layer {
    const char *name;      /* [a-z0-9_-]+, at most 31 characters, unique in the plugin: how
                              it is named on the command line (PATH.so:NAME) and in reports */
    const char *summary;   /* one line: what it computes (not NULL) */
    unsigned flags;
    /* Shape rules: MWP_OK when the layer takes inputs of c's shape, else MWP_ERR_SHAPE
     * with the rule in c->msg ("needs an even number of features"). */
    mwp_status (*accepts)(mwp_call *c);
    /* Its parameters for c's shape: their number (P, may be 0) ... */
    size_t (*n_params)(const mwp_call *c);
    /* ... as named blocks, in order: fills up to max blocks, returns how many there are
     * (their counts sum to P). */
    int (*param_blocks)(const mwp_call *c, mwp_param_block *blocks, int max);
    /* The initial parameters for c's shape (P doubles), a function of seed alone. */
    mwp_status (*init)(mwp_call *c, uint64_t seed, double *theta);
    /* Optional (NULL or 0: mwverify takes n + 10): how many roundings an output element
     * goes through at most, as a function of the shape (a dense map of n inputs: about n;
     * an element-wise op: a few; a parameter gradient summed over B samples: B more).
     * mwverify's thresholds are 8 u K for it. */
    size_t (*roundings)(const mwp_call *c);
    mwp_ops_f32 f32;
    mwp_ops_f64 f64;
    mwp_ops_mpfr mpfr;     /* both NULL: no gold oracle, checks run on the silver path;
                              both set: gold (one alone is refused) */
} mwp_layer;

typedef struct mwp_plugin {
    int abi_version;       /* MWP_ABI_VERSION, as the plugin was built */
    size_t size;           /* sizeof(mwp_plugin) as the plugin was built */
    const char *name;      /* the plugin's name, for messages */
    const char *version;   /* the plugin's own version, recorded in reports */
    size_t n_layers;       /* 1 to 16 */
    const mwp_layer *layers;
} mwp_plugin;

/* The one symbol a plugin exports (extern "C" in C++). Called once, in every process
 * that loads it; the table must stay valid until the plugin is unloaded. */
#define MWP_ENTRY_SYMBOL "mwp_plugin_entry"
const mwp_plugin *mwp_plugin_entry(void);

#ifdef __cplusplus
}
#endif

#endif
