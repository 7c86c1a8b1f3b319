/* mw_spec: the plain description of a network and its canonical parameter layout.
 * This is the only header that engine/ and reference/ share (docs/architecture.md §1, §2): the
 * two implementations agree on what a network is and where each parameter lives,
 * and on nothing else. No arithmetic here, only sizes, names and validation. */
#ifndef MW_SPEC_H
#define MW_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "mw_common.h"

typedef enum { MW_ARCH_MLP = 0, MW_ARCH_REVNET } mw_arch;

/* Sizes beyond these are refused as absurd: each is far past anything one machine
 * computes a gradient for, and together they keep every product of sizes in 64 bits. */
enum {
    MW_MAX_WIDTH = 1 << 16,
    MW_MAX_HIDDEN = 1 << 16,
    MW_MAX_UNITS = 64,
    MW_MAX_DEPTH = 4096,
    MW_MAX_BATCH = 1 << 20,
    MW_MAX_CLASSES = 1 << 16,
    MW_MAX_CHANNELS = 1 << 12,
    MW_MAX_IMAGE = 1 << 12,  /* H and W */
    MW_MAX_BLOCKS = 8,
};
#define MW_MAX_PARAMS ((size_t)1 << 31)

/* The coupling layer's type (docs/architecture.md §2 and its extension): additive, z = b + F(a)
 * (the paper's), or affine (RealNVP/Glow), z = b ⊙ exp(tanh(F_s(a))) + F_t(a), where F
 * has two outputs: its last unit gives 2·n/2 values (channels), the log-scale's raw
 * value first, then the shift; the scale exp(tanh(·)) stays within [1/e, e]. */
typedef enum { MW_COUPLING_ADDITIVE = 0, MW_COUPLING_AFFINE = 1, MW_COUPLING_PLUGIN = 2 } mw_coupling;
/* MW_COUPLING_PLUGIN: every coupling layer is a plugin's layer (include/mwverify/mw_plugin.h,
 * --layer-plugin), with plugin_params parameters of its own per layer and no F: an mlp
 * without BatchNorm and without σ (the layer is all there is). Which plugin is not part of
 * the spec: the process that builds the network has it loaded. */

/* Activations. As F activation all four are allowed; as the coupling's output
 * activation σ only identity ("none"), tanh and leaky (ReLU is not invertible). */
typedef enum { MW_ACT_IDENTITY = 0, MW_ACT_RELU, MW_ACT_TANH, MW_ACT_LEAKY } mw_act;

typedef struct mw_spec {
    mw_arch arch;
    mw_coupling coupling; /* additive (the default) or affine */
    int width;          /* n: features of x_0; even (two halves of n/2). revnet: C·H·W,
                           set by mw_spec_complete */
    int hidden;         /* width of F's inner units (k >= 2); revnet: channels, 0 for C_b/2 */
    int units;          /* k: units of F, each map -> act -> [BN] */
    int depth;          /* L: coupling layers. revnet: blocks · layers_per_block, set by
                           mw_spec_complete */
    /* revnet only (docs/architecture.md §2): x_0 is (C, H, W); `blocks` blocks of
     * `layers_per_block` conv couplings with the squeeze ψ between blocks, so block b
     * runs at (4^b C, H/2^b, W/2^b). */
    int channels;       /* C, even */
    int image_h, image_w;
    int blocks;
    int layers_per_block;
    mw_act f_act;       /* activation inside F */
    mw_act out_act;     /* σ after the coupling; MW_ACT_IDENTITY means none */
    double leaky_slope; /* α, shared by F and σ */
    int bn;             /* BatchNorm after every unit's activation */
    double bn_eps;
    int batch;          /* B */
    int classes;
    double init_scale;
    uint64_t seed;
    long plugin_params; /* MW_COUPLING_PLUGIN: the plugin's parameters per layer */
} mw_spec;

/* The defaults of docs/architecture.md §2 for mlp: n=16, hidden 32, k=2, no BN. */
mw_spec mw_spec_default(void);
/* The revnet defaults: 4 channels of 8x8, 3 blocks of 1 coupling, k=1 with ReLU and BN,
 * hidden C_b/2 (the golden cases' shape). */
mw_spec mw_spec_revnet_default(void);
/* Fill the derived fields (revnet: width = C·H·W, depth = blocks · layers_per_block;
 * nothing for mlp). Call after setting the revnet fields, before validating. */
void mw_spec_complete(mw_spec *s);

/* Validate every field. On failure returns nonzero and writes one line to msg that
 * starts with the option name (e.g. "width 7: must be even ..."), so that a command
 * line tool can prefix it with "--". */
int mw_spec_validate(const mw_spec *s, char *msg, size_t msg_len);

/* The names of the enums, at the file and command-line boundaries. */
extern const mw_names mw_arch_names;     /* mlp, revnet */
extern const mw_names mw_act_names;      /* F activation: identity, relu, tanh, leaky */
extern const mw_names mw_out_act_names;  /* σ: none, relu (refused by validation), tanh, leaky */
extern const mw_names mw_coupling_names; /* additive, affine, plugin */
const char *mw_act_name(mw_act a);
const char *mw_out_act_name(mw_act a);
const char *mw_arch_name(mw_arch a);
const char *mw_coupling_name(mw_coupling c);

/* One line for people: "mlp width 16 hidden 32 units 2 depth 4, f-act relu, out-act none,
 * batch 8, classes 4, init-scale 1, seed 1" or "revnet 4x8x8, 3 blocks of 1 layer, ...". */
void mw_spec_describe(const mw_spec *s, char *buf, size_t n);
/* What stays the same along a network's depth axis, in words ("mlp width 16 hidden 32,
 * batch 8", "revnet 8x32x32, batch 512"): the setting of the scaling suites' fits. */
void mw_spec_setting(const mw_spec *s, char *buf, size_t n);

/* Is σ invertible with this slope? (leaky needs α > 0). */
int mw_spec_invertible(const mw_spec *s);

/* ---- shapes of the body ---- */

/* A feature map: mlp layers see (width, 1, 1). */
typedef struct mw_shape {
    int c, h, w;
} mw_shape;

int mw_spec_is_conv(const mw_spec *s);
/* The shape of coupling layer `layer`'s input (1..L), after any ψ before it. */
mw_shape mw_spec_layer_shape(const mw_spec *s, int layer);
/* Does ψ come between layer-1 and layer (revnet: the first layer of blocks 2, 3, ...)? */
int mw_spec_squeeze_before(const mw_spec *s, int layer);
/* The head's input before pooling (x_L's shape) and its feature count after it. */
mw_shape mw_spec_head_shape(const mw_spec *s);
int mw_spec_head_features(const mw_spec *s);
/* Shapes of unit u (1-based) of F in coupling `layer`: features (dense) or channels
 * (conv, 3x3 kernel). */
void mw_spec_unit_shape(const mw_spec *s, int layer, int unit, int *out, int *in);
/* Per sample: multiply-adds of F's maps in one layer, and F's activations (outputs of
 * every unit, each of which gets act and BN). Dense and conv alike, for cost models. */
double mw_spec_layer_macs(const mw_spec *s, int layer);
double mw_spec_layer_acts(const mw_spec *s, int layer);

/* ---- canonical parameter layout (docs/architecture.md §2 "Parameters") ---- */

typedef enum { MW_PARAM_W = 0, MW_PARAM_C, MW_PARAM_GAMMA, MW_PARAM_BETA } mw_param_kind;

typedef struct mw_param_info {
    char name[40];       /* layer3.unit1.W, head.c, ... */
    int layer;           /* 1..L for couplings, 0 for the head */
    int unit;            /* 1..k, 0 for the head */
    mw_param_kind kind;
    int rows, cols;      /* W: [out][in] (conv: [out][in·9]); vectors: rows = length, cols = 1 */
    int ndim, dims[4];   /* the tensor's shape: [out][in], [out][in][3][3] or [length] */
    size_t offset;       /* into the flat parameter vector */
    size_t count;
    int fan_in;          /* initialisation bound is init_scale / sqrt(fan_in); 0: not uniform */
} mw_param_info;

typedef struct mw_layout {
    mw_param_info *params;  /* canonical order */
    int n_params;           /* number of tensors */
    size_t total;           /* number of scalars */
    size_t *layer_offset;   /* [L+3]: first scalar of layer i at [i] (1..L), the head's at
                             [L+1], the total at [L+2]; [0] = 0 */
} mw_layout;

/* Build the layout; returns 0, or nonzero when out of memory. Free with mw_layout_free. */
int mw_layout_build(const mw_spec *s, mw_layout *lay);
void mw_layout_free(mw_layout *lay);
/* Index of the tensor with this name, or -1. */
int mw_layout_find(const mw_layout *lay, const char *name);

#endif
