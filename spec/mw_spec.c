/* mw_spec: defaults, validation, names and the canonical parameter layout of DESIGN.md §2. */
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

static const char *const act_names[] = {"identity", "relu", "tanh", "leaky"};
static const char *const out_act_names[] = {"none", "relu", "tanh", "leaky"};

const char *mw_act_name(mw_act a)
{
    return (unsigned)a < 4 ? act_names[a] : "?";
}

const char *mw_out_act_name(mw_act a)
{
    return (unsigned)a < 4 ? out_act_names[a] : "?";
}

int mw_act_parse(const char *name, mw_act *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, act_names[i]) == 0) {
            *out = (mw_act)i;
            return 0;
        }
    return 1;
}

int mw_out_act_parse(const char *name, mw_act *out)
{
    if (strcmp(name, "none") == 0 || strcmp(name, "identity") == 0) {
        *out = MW_ACT_IDENTITY;
        return 0;
    }
    if (strcmp(name, "tanh") == 0) {
        *out = MW_ACT_TANH;
        return 0;
    }
    if (strcmp(name, "leaky") == 0) {
        *out = MW_ACT_LEAKY;
        return 0;
    }
    return 1;
}

const char *mw_arch_name(mw_arch a)
{
    return a == MW_ARCH_MLP ? "mlp" : "?";
}

int mw_arch_parse(const char *name, mw_arch *out)
{
    if (strcmp(name, "mlp") == 0) {
        *out = MW_ARCH_MLP;
        return 0;
    }
    return 1;
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
    if (s->arch != MW_ARCH_MLP)
        BAD("arch: unknown architecture (allowed: mlp)");
    if (!int_in(s->width, 2, MW_MAX_WIDTH) || s->width % 2 != 0)
        BAD("width %d: must be even, 2..%d (the coupling splits the features into two "
            "equal halves)", s->width, MW_MAX_WIDTH);
    if (!int_in(s->units, 1, MW_MAX_UNITS))
        BAD("units %d: allowed 1..%d", s->units, MW_MAX_UNITS);
    if (!int_in(s->hidden, 1, MW_MAX_HIDDEN))
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

    /* The parameter count, with every product in size_t (each factor < 2^17). */
    size_t per_layer = 0;
    for (int u = 1; u <= s->units; u++) {
        int o, i;
        mw_spec_unit_shape(s, u, &o, &i);
        per_layer += (size_t)o * (size_t)i + (size_t)o * (s->bn ? 3 : 1);
    }
    size_t total = per_layer * (size_t)s->depth + (size_t)s->classes * (size_t)(s->width + 1);
    if (total > MW_MAX_PARAMS)
        BAD("depth %d: the network would have %zu parameters (at most %zu allowed); "
            "reduce depth, width or hidden", s->depth, total, MW_MAX_PARAMS);
    if ((size_t)s->batch * (size_t)s->width > MW_MAX_PARAMS)
        BAD("batch %d: batch x width exceeds %zu values", s->batch, MW_MAX_PARAMS);
    return 0;
#undef BAD
}

void mw_spec_unit_shape(const mw_spec *s, int unit, int *out, int *in)
{
    int half = s->width / 2;
    *in = unit == 1 ? half : s->hidden;
    *out = unit == s->units ? half : s->hidden;
}

static void set_param(mw_param_info *p, int layer, int unit, mw_param_kind kind, int rows,
                      int cols, size_t *offset, int fan_in)
{
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
        for (int u = 1; u <= s->units; u++) {
            int o, i;
            mw_spec_unit_shape(s, u, &o, &i);
            set_param(&lay->params[t++], l, u, MW_PARAM_W, o, i, &off, i);
            set_param(&lay->params[t++], l, u, MW_PARAM_C, o, 1, &off, i);
            if (s->bn) {
                set_param(&lay->params[t++], l, u, MW_PARAM_GAMMA, o, 1, &off, 0);
                set_param(&lay->params[t++], l, u, MW_PARAM_BETA, o, 1, &off, 0);
            }
        }
    }
    lay->layer_offset[s->depth + 1] = off;
    set_param(&lay->params[t++], 0, 0, MW_PARAM_W, s->classes, s->width, &off, s->width);
    set_param(&lay->params[t++], 0, 0, MW_PARAM_C, s->classes, 1, &off, s->width);
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
