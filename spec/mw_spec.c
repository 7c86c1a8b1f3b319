/* mw_spec: defaults, validation, names and the canonical layout (docs/architecture.md §2). */
#include "mw_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

mw_spec mw_spec_default(void)
{
    mw_spec s = {
        .arch = MW_ARCH_MLP,
        .width = 16,
        .hidden = 32,
        .units = 2,
        .depth = 4,
        .f_act = MW_ACT_RELU,
        .out_act = MW_ACT_IDENTITY,
        .leaky_slope = 0.1,
        .bn = 0,
        .bn_eps = 1e-5,
        .batch = 8,
        .classes = 4,
        .init_scale = 1.0,
        .seed = 1,
    };
    return s;
}

mw_spec mw_spec_revnet_default(void)
{
    mw_spec s = mw_spec_default();
    s.arch = MW_ARCH_REVNET;
    s.channels = 4;
    s.image_h = s.image_w = 8;
    s.blocks = 3;
    s.layers_per_block = 1;
    s.hidden = 0;
    s.units = 1;
    s.bn = 1;
    s.batch = 4;
    mw_spec_complete(&s);
    return s;
}

void mw_spec_complete(mw_spec *s)
{
    if (s->arch != MW_ARCH_REVNET)
        return;
    /* out-of-range factors leave -1, which validation names by the offending option */
    long long n = (long long)s->channels * s->image_h * s->image_w;
    long long L = (long long)s->blocks * s->layers_per_block;
    int sane = s->channels > 0 && s->image_h > 0 && s->image_w > 0 && s->blocks > 0 &&
               s->layers_per_block > 0 && s->channels <= MW_MAX_CHANNELS &&
               s->image_h <= MW_MAX_IMAGE && s->image_w <= MW_MAX_IMAGE &&
               s->blocks <= MW_MAX_BLOCKS && s->layers_per_block <= MW_MAX_DEPTH;
    s->width = sane && n <= MW_MAX_WIDTH ? (int)n : -1;
    s->depth = sane && L <= MW_MAX_DEPTH ? (int)L : -1;
}

static const char *const arch_names[] = {"mlp", "revnet"};
const mw_names mw_arch_names = {"architecture", arch_names, 2, NULL};
static const char *const act_names[] = {"identity", "relu", "tanh", "leaky"};
const mw_names mw_act_names = {"activation", act_names, 4, NULL};
/* σ: relu has a name, so that asking for it gets mw_spec_validate's explanation */
static const char *const out_act_names[] = {"none", "relu", "tanh", "leaky"};
static const mw_alias out_act_aliases[] = {{"identity", MW_ACT_IDENTITY}, {NULL, 0}};
const mw_names mw_out_act_names = {"output activation", out_act_names, 4, out_act_aliases};
static const char *const coupling_names[] = {"additive", "affine", "plugin"};
const mw_names mw_coupling_names = {"coupling", coupling_names, 3, NULL};

const char *mw_act_name(mw_act a)
{
    return mw_name_of(&mw_act_names, (int)a);
}

const char *mw_out_act_name(mw_act a)
{
    return mw_name_of(&mw_out_act_names, (int)a);
}

const char *mw_arch_name(mw_arch a)
{
    return mw_name_of(&mw_arch_names, (int)a);
}

const char *mw_coupling_name(mw_coupling c)
{
    return mw_name_of(&mw_coupling_names, (int)c);
}

void mw_spec_setting(const mw_spec *s, char *buf, size_t n)
{
    if (s->arch == MW_ARCH_REVNET)
        snprintf(buf, n, "revnet %dx%dx%d, batch %d", s->channels, s->image_h, s->image_w,
                 s->batch);
    else
        snprintf(buf, n, "mlp width %d hidden %d, batch %d", s->width, s->hidden, s->batch);
}

void mw_spec_describe(const mw_spec *s, char *buf, size_t n)
{
    char shape[128], hidden[32];
    if (s->coupling == MW_COUPLING_PLUGIN) { /* no F, no σ: the plugin's layer is all */
        snprintf(buf, n, "mlp width %d depth %d of a plugin's layer (%ld parameters each), "
                 "batch %d, classes %d, init-scale %g (head), seed %llu", s->width, s->depth,
                 s->plugin_params, s->batch, s->classes, s->init_scale,
                 (unsigned long long)s->seed);
        return;
    }
    if (s->arch == MW_ARCH_REVNET) {
        if (s->hidden)
            snprintf(hidden, sizeof hidden, "%d", s->hidden);
        else
            snprintf(hidden, sizeof hidden, "C/2");
        snprintf(shape, sizeof shape, "revnet %dx%dx%d, %d block%s of %d layer%s, hidden %s",
                 s->channels, s->image_h, s->image_w, s->blocks, s->blocks == 1 ? "" : "s",
                 s->layers_per_block, s->layers_per_block == 1 ? "" : "s", hidden);
    } else {
        snprintf(shape, sizeof shape, "mlp width %d hidden %d depth %d", s->width, s->hidden,
                 s->depth);
    }
    snprintf(buf, n, "%s%s units %d, f-act %s, out-act %s%s, batch %d, classes %d, init-scale "
             "%g, seed %llu", shape,
             s->coupling == MW_COUPLING_AFFINE   ? " affine"
             : s->coupling == MW_COUPLING_PLUGIN ? " plugin"
                                                 : "",
             s->units,
             mw_act_name(s->f_act), mw_out_act_name(s->out_act), s->bn ? ", bn" : "", s->batch,
             s->classes, s->init_scale, (unsigned long long)s->seed);
}

int mw_spec_invertible(const mw_spec *s)
{
    return s->out_act != MW_ACT_LEAKY || s->leaky_slope > 0.0;
}

static int int_in(int v, int lo, int hi)
{
    return v >= lo && v <= hi;
}

int mw_spec_validate(const mw_spec *s, char *msg, size_t n)
{
#define BAD(...) do { snprintf(msg, n, __VA_ARGS__); return 1; } while (0)
    if (s->arch != MW_ARCH_MLP && s->arch != MW_ARCH_REVNET)
        BAD("arch: unknown architecture (allowed: mlp, revnet)");
    if (s->coupling != MW_COUPLING_ADDITIVE && s->coupling != MW_COUPLING_AFFINE &&
        s->coupling != MW_COUPLING_PLUGIN)
        BAD("coupling: unknown coupling (allowed: additive, affine; plugin with --layer-plugin)");
    if (s->coupling == MW_COUPLING_PLUGIN) {
        if (s->arch != MW_ARCH_MLP)
            BAD("arch %s: a plugin's layer makes mlps only", s->arch == MW_ARCH_REVNET
                                                                 ? "revnet" : "?");
        if (s->bn)
            BAD("bn: a network of a plugin's layer has no F, so no BatchNorm");
        if (s->out_act != MW_ACT_IDENTITY)
            BAD("out-act %s: a network of a plugin's layer has no σ (the layer is all there "
                "is; --out-act none)", s->out_act == MW_ACT_TANH ? "tanh" : "leaky");
        if (s->plugin_params < 0 || s->plugin_params > (1L << 30))
            BAD("plugin-params %ld: allowed 0..2^30", s->plugin_params);
    }
    if (s->arch == MW_ARCH_REVNET) {
        if (!int_in(s->channels, 2, MW_MAX_CHANNELS) || s->channels % 2 != 0)
            BAD("channels %d: must be even, 2..%d (the coupling splits the channels into two "
                "equal halves)", s->channels, MW_MAX_CHANNELS);
        if (!int_in(s->image_h, 1, MW_MAX_IMAGE) || !int_in(s->image_w, 1, MW_MAX_IMAGE))
            BAD("image %dx%d: H and W allowed 1..%d", s->image_h, s->image_w, MW_MAX_IMAGE);
        if (!int_in(s->blocks, 1, MW_MAX_BLOCKS))
            BAD("blocks %d: allowed 1..%d", s->blocks, MW_MAX_BLOCKS);
        if (!int_in(s->layers_per_block, 1, MW_MAX_DEPTH))
            BAD("layers-per-block %d: allowed 1..%d", s->layers_per_block, MW_MAX_DEPTH);
        int f = 1 << (s->blocks - 1);
        if (s->image_h % f != 0 || s->image_w % f != 0)
            BAD("image %dx%d: %d blocks need H and W divisible by %d (the squeeze between "
                "blocks halves them %d times)", s->image_h, s->image_w, s->blocks, f,
                s->blocks - 1);
        if ((long long)s->channels << (2 * (s->blocks - 1)) > MW_MAX_CHANNELS)
            BAD("blocks %d: the last block would have %lld channels (at most %d)", s->blocks,
                (long long)s->channels << (2 * (s->blocks - 1)), MW_MAX_CHANNELS);
        long long feats = (long long)s->channels * s->image_h * s->image_w;
        if (feats > MW_MAX_WIDTH)
            BAD("image %dx%d: %d channels of it make %lld features per sample (at most %d)",
                s->image_h, s->image_w, s->channels, feats, MW_MAX_WIDTH);
        if ((long long)s->blocks * s->layers_per_block > MW_MAX_DEPTH)
            BAD("layers-per-block %d: %d blocks of it exceed %d coupling layers",
                s->layers_per_block, s->blocks, MW_MAX_DEPTH);
        if (s->width != (int)feats || s->depth != s->blocks * s->layers_per_block)
            BAD("width %d, depth %d: a revnet has C·H·W = %lld features and blocks · "
                "layers-per-block = %d layers (mw_spec_complete sets them)", s->width,
                s->depth, feats, s->blocks * s->layers_per_block);
        if (s->hidden != 0 && !int_in(s->hidden, 1, MW_MAX_CHANNELS))
            BAD("hidden %d: allowed 1..%d channels, or 0 for half of each block's channels",
                s->hidden, MW_MAX_CHANNELS);
    }
    if (!int_in(s->width, 2, MW_MAX_WIDTH) || s->width % 2 != 0)
        BAD("width %d: must be even, 2..%d (the coupling splits the features into two "
            "equal halves)", s->width, MW_MAX_WIDTH);
    if (!int_in(s->units, 1, MW_MAX_UNITS))
        BAD("units %d: allowed 1..%d", s->units, MW_MAX_UNITS);
    if (s->arch == MW_ARCH_MLP && !int_in(s->hidden, 1, MW_MAX_HIDDEN))
        BAD("hidden %d: allowed 1..%d", s->hidden, MW_MAX_HIDDEN);
    if (!int_in(s->depth, 1, MW_MAX_DEPTH))
        BAD("depth %d: allowed 1..%d coupling layers", s->depth, MW_MAX_DEPTH);
    if (!int_in(s->batch, 1, MW_MAX_BATCH))
        BAD("batch %d: allowed 1..%d", s->batch, MW_MAX_BATCH);
    if (s->bn && s->batch < 2)
        BAD("batch %d: BatchNorm needs at least 2 samples per batch", s->batch);
    if (!int_in(s->classes, 2, MW_MAX_CLASSES))
        BAD("classes %d: allowed 2..%d", s->classes, MW_MAX_CLASSES);
    if ((unsigned)s->f_act > MW_ACT_LEAKY)
        BAD("f-act: unknown activation (allowed: relu, tanh, leaky, identity)");
    if (s->out_act == MW_ACT_RELU)
        BAD("out-act relu: ReLU is not invertible, so it cannot be the coupling's output "
            "activation (allowed: none, tanh, leaky)");
    if ((unsigned)s->out_act > MW_ACT_LEAKY)
        BAD("out-act: unknown activation (allowed: none, tanh, leaky)");
    if (!isfinite(s->leaky_slope) || s->leaky_slope < 0.0 || s->leaky_slope > 1.0)
        BAD("leaky-slope %g: allowed 0..1", s->leaky_slope);
    if (!isfinite(s->bn_eps) || s->bn_eps <= 0.0 || s->bn_eps > 1.0)
        BAD("bn-eps %g: allowed (0, 1]", s->bn_eps);
    if (!isfinite(s->init_scale) || s->init_scale <= 0.0 || s->init_scale > 1e6)
        BAD("init-scale %g: allowed (0, 1e6]", s->init_scale);

    /* The parameter count, with every product in size_t (each factor < 2^17); layers of
     * one block have the same shapes. */
    size_t total = (size_t)s->classes * (size_t)(mw_spec_head_features(s) + 1);
    int per_block = s->arch == MW_ARCH_REVNET ? s->layers_per_block : s->depth;
    for (int first = 1; first <= s->depth; first += per_block) {
        size_t per_layer = 0;
        for (int u = 1; u <= s->units; u++) {
            int o, i;
            mw_spec_unit_shape(s, first, u, &o, &i);
            per_layer += (size_t)o * (size_t)i * (mw_spec_is_conv(s) ? 9 : 1) +
                         (size_t)o * (s->bn ? 3 : 1);
        }
        total += per_layer * (size_t)per_block;
        if (total > MW_MAX_PARAMS)
            break;
    }
    if (total > MW_MAX_PARAMS)
        BAD("depth %d: the network would have %zu parameters (at most %zu allowed); "
            "reduce depth, width or hidden", s->depth, total, MW_MAX_PARAMS);
    if ((size_t)s->batch * (size_t)s->width > MW_MAX_PARAMS)
        BAD("batch %d: batch x width exceeds %zu values", s->batch, MW_MAX_PARAMS);
    return 0;
#undef BAD
}

int mw_spec_is_conv(const mw_spec *s)
{
    return s->arch == MW_ARCH_REVNET;
}

/* Block (0-based) of coupling `layer`. */
static int block_of(const mw_spec *s, int layer)
{
    return s->arch == MW_ARCH_REVNET ? (layer - 1) / s->layers_per_block : 0;
}

static mw_shape shape_of_block(const mw_spec *s, int b)
{
    mw_shape sh = {s->width, 1, 1};
    if (s->arch == MW_ARCH_REVNET) {
        sh.c = s->channels << (2 * b);
        sh.h = s->image_h >> b;
        sh.w = s->image_w >> b;
    }
    return sh;
}

mw_shape mw_spec_layer_shape(const mw_spec *s, int layer)
{
    return shape_of_block(s, block_of(s, layer));
}

int mw_spec_squeeze_before(const mw_spec *s, int layer)
{
    return s->arch == MW_ARCH_REVNET && layer > 1 && (layer - 1) % s->layers_per_block == 0;
}

mw_shape mw_spec_head_shape(const mw_spec *s)
{
    return shape_of_block(s, s->arch == MW_ARCH_REVNET ? s->blocks - 1 : 0);
}

int mw_spec_head_features(const mw_spec *s)
{
    return mw_spec_head_shape(s).c; /* revnet: global average pool over H x W */
}

void mw_spec_unit_shape(const mw_spec *s, int layer, int unit, int *out, int *in)
{
    int half = mw_spec_layer_shape(s, layer).c / 2;
    int hidden = s->arch == MW_ARCH_REVNET && s->hidden == 0 ? half : s->hidden;
    *in = unit == 1 ? half : hidden;
    /* the affine coupling's F has two outputs, log-scale and shift */
    *out = unit == s->units ? half * (s->coupling == MW_COUPLING_AFFINE ? 2 : 1) : hidden;
}

double mw_spec_layer_macs(const mw_spec *s, int layer)
{
    if (s->coupling == MW_COUPLING_PLUGIN) /* unknown: as a map of its parameters */
        return (double)s->plugin_params + s->width;
    mw_shape sh = mw_spec_layer_shape(s, layer);
    double taps = mw_spec_is_conv(s) ? 9.0 * sh.h * sh.w : 1.0, macs = 0.0;
    for (int u = 1; u <= s->units; u++) {
        int o, i;
        mw_spec_unit_shape(s, layer, u, &o, &i);
        macs += (double)o * i * taps;
    }
    return macs;
}

double mw_spec_layer_acts(const mw_spec *s, int layer)
{
    if (s->coupling == MW_COUPLING_PLUGIN)
        return s->width;
    mw_shape sh = mw_spec_layer_shape(s, layer);
    double acts = 0.0;
    for (int u = 1; u <= s->units; u++) {
        int o, i;
        mw_spec_unit_shape(s, layer, u, &o, &i);
        acts += (double)o * sh.h * sh.w;
    }
    return acts;
}

static void set_param(mw_param_info *p, int layer, int unit, mw_param_kind kind, int rows,
                      int cols, size_t *offset, int fan_in)
{
    p->ndim = cols > 1 || kind == MW_PARAM_W ? 2 : 1;
    p->dims[0] = rows;
    p->dims[1] = cols;
    static const char *const kind_names[] = {"W", "c", "gamma", "beta"};
    if (layer > 0)
        snprintf(p->name, sizeof p->name, "layer%d.unit%d.%s", layer, unit, kind_names[kind]);
    else
        snprintf(p->name, sizeof p->name, "head.%s", kind_names[kind]);
    p->layer = layer;
    p->unit = unit;
    p->kind = kind;
    p->rows = rows;
    p->cols = cols;
    p->count = (size_t)rows * (size_t)cols;
    p->offset = *offset;
    p->fan_in = fan_in;
    *offset += p->count;
}

int mw_layout_build(const mw_spec *s, mw_layout *lay)
{
    int per_unit = s->bn ? 4 : 2;
    int n = s->depth * s->units * per_unit + 2;
    memset(lay, 0, sizeof *lay);
    lay->params = calloc((size_t)n, sizeof *lay->params);
    lay->layer_offset = calloc((size_t)s->depth + 3, sizeof *lay->layer_offset);
    if (!lay->params || !lay->layer_offset) {
        mw_layout_free(lay);
        return 1;
    }
    size_t off = 0;
    int t = 0;
    for (int l = 1; l <= s->depth; l++) {
        lay->layer_offset[l] = off;
        if (s->coupling == MW_COUPLING_PLUGIN) { /* one vector, the plugin's own order */
            mw_param_info *p = &lay->params[t++];
            set_param(p, l, 0, MW_PARAM_W, (int)s->plugin_params, 1, &off, 0);
            p->ndim = 1;
            snprintf(p->name, sizeof p->name, "layer%d.plugin", l);
            continue;
        }
        for (int u = 1; u <= s->units; u++) {
            int o, i, taps = mw_spec_is_conv(s) ? 9 : 1;
            mw_spec_unit_shape(s, l, u, &o, &i);
            mw_param_info *W = &lay->params[t++];
            set_param(W, l, u, MW_PARAM_W, o, i * taps, &off, i * taps);
            if (taps == 9) { /* [out][in][3][3] */
                W->ndim = 4;
                W->dims[1] = i;
                W->dims[2] = W->dims[3] = 3;
            }
            set_param(&lay->params[t++], l, u, MW_PARAM_C, o, 1, &off, i * taps);
            if (s->bn) {
                set_param(&lay->params[t++], l, u, MW_PARAM_GAMMA, o, 1, &off, 0);
                set_param(&lay->params[t++], l, u, MW_PARAM_BETA, o, 1, &off, 0);
            }
        }
    }
    lay->layer_offset[s->depth + 1] = off;
    int nh = mw_spec_head_features(s);
    set_param(&lay->params[t++], 0, 0, MW_PARAM_W, s->classes, nh, &off, nh);
    set_param(&lay->params[t++], 0, 0, MW_PARAM_C, s->classes, 1, &off, nh);
    lay->layer_offset[s->depth + 2] = off;
    lay->n_params = t;
    lay->total = off;
    return 0;
}

void mw_layout_free(mw_layout *lay)
{
    free(lay->params);
    free(lay->layer_offset);
    memset(lay, 0, sizeof *lay);
}

int mw_layout_find(const mw_layout *lay, const char *name)
{
    for (int i = 0; i < lay->n_params; i++)
        if (strcmp(lay->params[i].name, name) == 0)
            return i;
    return -1;
}
