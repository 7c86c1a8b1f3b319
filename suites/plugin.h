/* Layers from plugins (include/mwverify/mw_plugin.h, docs/layer-plugins.md).
 *
 * This process never runs a plugin's code. Each use of a plugin — reading its table,
 * and every group of checks — happens in a child process that loads the shared object
 * itself, under a time limit, and sends back plain records: a crash, an abort or an
 * endless loop in the plugin is a failed check that names the signal and the operation
 * it happened in, and a plugin cannot corrupt this process's memory. */
#ifndef MW_PLUGIN_H
#define MW_PLUGIN_H

#include <stddef.h>

#include "layer_check.h"

enum { MW_PLUGIN_MAX_LAYERS = 16, MW_PLUGIN_SHAPES = 2 };

/* mw_layer_info.coupling of a plugin's layer (the registry's are >= -1). */
#define MW_PLUGIN_COUPLING (-2)

/* --layer-cmd COMMAND is carried where --layer-plugin's PATH is, after this prefix: the
 * layer comes from a process serving docs/layer-protocol.md instead of a shared object. */
#define MW_LAYER_CMD_PREFIX "exec:"

/* The longest layer name (mw_plugin.h): what a layer check row holds. */
#define MW_PLUGIN_NAME_MAX 31

/* The shapes layer check tries, in this order: a dense input and an image batch. */
typedef struct mw_plugin_shape {
    const char *name; /* "dense 4x8", "image 2x4x4x4" */
    size_t batch, channels, height, width;
} mw_plugin_shape;
extern const mw_plugin_shape mw_plugin_shapes[MW_PLUGIN_SHAPES];

/* One layer of a plugin, as its table described it (read in a child). */
typedef struct mw_plugin_layer {
    char path[4096];          /* the shared object */
    char name[MW_PLUGIN_NAME_MAX + 1];
    char summary[200];
    char plugin[64], version[32]; /* the plugin's name and version */
    int has_mpfr;             /* its MPFR passes: the gold oracle */
    int accepts[MW_PLUGIN_SHAPES];       /* which of mw_plugin_shapes it takes */
    char refusal[MW_PLUGIN_SHAPES][160]; /* why not, in its words */
    size_t n_params[MW_PLUGIN_SHAPES];
    size_t roundings[MW_PLUGIN_SHAPES];  /* K of its thresholds (its own, or n + 10) */
} mw_plugin_layer;

/* What --layer-plugin names: PATH.so, or PATH.so:NAME for one layer of it. */
typedef struct mw_plugin_desc {
    int n;                    /* the layers chosen */
    mw_plugin_layer layers[MW_PLUGIN_MAX_LAYERS];
} mw_plugin_desc;

/* Load the plugin in a child and read its table: MW_OK with the layers chosen, or
 * MW_ERR_ARG with one line (no such file, not a shared object, no mwp_plugin_entry, a
 * wrong ABI version, a null operation, a bad name, no layer NAME, every shape refused, a
 * crash or a hang while loading). */
mw_status mw_plugin_describe(const char *arg, mw_plugin_desc *out, mw_err *err);

/* A network of the plugin's layer (--layer-plugin on grad, gradcheck and the suites): read
 * in a child whether the layer (NAME, or the plugin's only one) takes s's shape (an mlp of
 * s->width features, s->batch samples) at every depth up to max_depth, and its parameter
 * count there; then make s a spec of coupling plugin (no BatchNorm, no σ). MW_ERR_ARG with
 * one line when it cannot be (as mw_plugin_describe, or a revnet, or a shape refused). */
mw_status mw_plugin_settle(const char *arg, mw_spec *s, int max_depth, mw_err *err);

/* In a child that runs plugin code (never in mwverify's own process): load the plugin and
 * make its layer the one mw_net_new and the MPFR reference build coupling plugin from. */
mw_status mw_plugin_activate(const char *arg, mw_err *err);

/* Seconds a child running plugin code may take: MW_PLUGIN_TIME_LIMIT (checked where a
 * plugin is named), or otherwise (60 for a group of checks, 600 for a network). */
double mw_plugin_time_limit(double otherwise);

/* Check one plugin layer as layer check checks a built-in one (layer_check.h), each group
 * of checks in a child under a time limit (MW_PLUGIN_TIME_LIMIT seconds, default 60):
 * rows appended, each naming its oracle; a plugin that crashes, hangs or fails gives
 * failed rows saying so. MW_OK when it ran; a failure of this process otherwise. */
mw_status mw_plugin_layer_check(const mw_plugin_layer *l, mw_layer_rows *rows, mw_err *err);
/* Its estimated seconds (a fraction of a second per shape without MPFR). */
double mw_plugin_layer_check_cost(const mw_plugin_layer *l);

#endif
