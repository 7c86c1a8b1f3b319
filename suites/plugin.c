/* Layers from plugins (plugin.h): loading and describing a plugin, in a child. The checks
 * are in plugin_check.c. */
#include "plugin.h"

#include <ctype.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bridge.h"
#include "mw_child.h"
#include "mw_reference.h"
#include "plugin_internal.h"

const mw_plugin_shape mw_plugin_shapes[MW_PLUGIN_SHAPES] = {
    {"dense 4x8", 4, 8, 1, 1},
    {"image 2x4x4x4", 2, 4, 4, 4},
};

/* MW_PLUGIN_TIME_LIMIT as seconds: 0 when unset, -1 when not a number in (0, 86400]. */
static double time_limit_env(void)
{
    const char *e = getenv("MW_PLUGIN_TIME_LIMIT");
    char *end;
    if (!e)
        return 0.0;
    double v = strtod(e, &end);
    return end != e && *end == '\0' && v > 0 && v <= 86400 ? v : -1.0;
}

double mw_plugin_time_limit(double otherwise)
{
    double v = time_limit_env();
    return v > 0 ? v : otherwise;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MW_PLUGIN_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' ||
              s[i] == '-'))
            return 0;
    return 1;
}

mwp_call mw_plugin_call_for(int shape, int dtype_bits)
{
    const mw_plugin_shape *s = &mw_plugin_shapes[shape];
    mwp_call c;
    memset(&c, 0, sizeof c);
    c.batch = s->batch;
    c.channels = s->channels, c.height = s->height, c.width = s->width;
    c.features = s->channels * s->height * s->width;
    c.index = 1;
    c.dtype_bits = dtype_bits;
    return c;
}

/* ---- in the child: load and check the table ---- */

/* The operations a layer must have, by name, for the message naming a missing one. */
static const char *missing_op(const mwp_layer *l)
{
#define NEED(f)                                                                                \
    if (!l->f)                                                                                 \
        return #f;
    NEED(accepts) NEED(n_params) NEED(param_blocks) NEED(init)
    NEED(f32.forward) NEED(f32.inverse) NEED(f32.jvp) NEED(f32.vjp) NEED(f32.vijp)
    NEED(f64.forward) NEED(f64.inverse) NEED(f64.jvp) NEED(f64.vjp) NEED(f64.vijp)
#undef NEED
    if (!l->mpfr.forward != !l->mpfr.vjp)
        return l->mpfr.forward ? "mpfr.vjp (mpfr.forward is set: give both or neither)"
                               : "mpfr.forward (mpfr.vjp is set: give both or neither)";
    return NULL;
}

mw_status mw_plugin_load_here(const char *path, const char *name, mw_plugin_here *out,
                              mw_err *err)
{
    memset(out, 0, sizeof *out);
    const mwp_plugin *p;
    void *h = NULL;
    if (strncmp(path, MW_LAYER_CMD_PREFIX, strlen(MW_LAYER_CMD_PREFIX)) == 0) {
        /* a layer served by another process (bridge.h) */
        char why[400];
        mw_child_doing("starting the layer's process");
        if (!(p = mw_bridge_table(path + strlen(MW_LAYER_CMD_PREFIX), why, sizeof why)))
            return mw_err_set(err, MW_ERR_ARG, "%s", why);
    } else {
        mw_child_doing("loading the plugin");
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            const char *why = dlerror();
            return mw_err_set(err, MW_ERR_ARG, "cannot be loaded as a shared object: %.300s",
                              why ? why : "dlopen failed");
        }
        const mwp_plugin *(*entry)(void);
        *(void **)&entry = dlsym(h, MWP_ENTRY_SYMBOL);
        if (!entry)
            return mw_err_set(err, MW_ERR_ARG, "no %s: not an mwverify layer plugin (or, in "
                              "C++, not declared extern \"C\")", MWP_ENTRY_SYMBOL);
        mw_child_doing("%s", MWP_ENTRY_SYMBOL);
        p = entry();
    }
    if (!p)
        return mw_err_set(err, MW_ERR_ARG, "%s returned NULL", MWP_ENTRY_SYMBOL);
    if (p->abi_version != MWP_ABI_VERSION)
        return mw_err_set(err, MW_ERR_ARG, "built for plugin ABI version %d; this mwverify loads "
                          "version %d (rebuild it against this mwverify's mw_plugin.h)",
                          p->abi_version, MWP_ABI_VERSION);
    if (p->size != sizeof *p)
        return mw_err_set(err, MW_ERR_ARG, "its table is %zu bytes where ABI version %d's is %zu "
                          "(built against another mw_plugin.h)", p->size, MWP_ABI_VERSION,
                          sizeof *p);
    if (p->n_layers == 0 || !p->layers)
        return mw_err_set(err, MW_ERR_ARG, "its table has no layers");
    if (p->n_layers > MW_PLUGIN_MAX_LAYERS)
        return mw_err_set(err, MW_ERR_ARG, "its table has %zu layers, more than the %d mwverify "
                          "takes from one plugin", p->n_layers, MW_PLUGIN_MAX_LAYERS);
    for (size_t i = 0; i < p->n_layers; i++) {
        const mwp_layer *l = &p->layers[i];
        if (!l->name || !valid_name(l->name))
            return mw_err_set(err, MW_ERR_ARG, "layer %zu: its name %s%.60s%s is not 1 to %d of "
                              "[a-z0-9_-]", i + 1, l->name ? "'" : "", l->name ? l->name : "NULL",
                              l->name ? "'" : "", MW_PLUGIN_NAME_MAX);
        for (size_t k = 0; k < i; k++)
            if (strcmp(p->layers[k].name, l->name) == 0)
                return mw_err_set(err, MW_ERR_ARG, "two layers named '%s'", l->name);
        if (!l->summary)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': its summary is NULL", l->name);
        const char *op = missing_op(l);
        if (op)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': %s is NULL", l->name, op);
    }
    out->handle = h;
    out->plugin = p;
    if (name) {
        for (size_t i = 0; i < p->n_layers && !out->layer; i++)
            if (strcmp(p->layers[i].name, name) == 0)
                out->layer = &p->layers[i];
        if (!out->layer) {
            char names[400] = "";
            for (size_t i = 0; i < p->n_layers; i++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                         i ? ", " : "", p->layers[i].name);
            return mw_err_set(err, MW_ERR_ARG, "no layer named '%s' (it has %s)", name, names);
        }
    }
    return MW_OK;
}

/* One layer's description: its table, and what it says of each shape. */
static mw_status describe_layer(const char *path, const mwp_plugin *p, const mwp_layer *l,
                                mw_plugin_layer *d, mw_err *err)
{
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    snprintf(d->name, sizeof d->name, "%s", l->name);
    snprintf(d->summary, sizeof d->summary, "%s", l->summary);
    snprintf(d->plugin, sizeof d->plugin, "%s", p->name ? p->name : "");
    snprintf(d->version, sizeof d->version, "%s", p->version ? p->version : "");
    d->has_mpfr = l->mpfr.forward != NULL;
    int any = 0;
    for (int s = 0; s < MW_PLUGIN_SHAPES; s++) {
        mwp_call c = mw_plugin_call_for(s, 64);
        mw_child_doing("%s: accepts", l->name);
        mwp_status st = l->accepts(&c);
        c.msg[sizeof c.msg - 1] = '\0';
        if (st == MWP_ERR_SHAPE) {
            snprintf(d->refusal[s], sizeof d->refusal[s], "%.159s", c.msg[0] ? c.msg : "refused");
            continue;
        }
        if (st != MWP_OK)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': accepts(%s) failed: %.200s", l->name,
                              mw_plugin_shapes[s].name, c.msg[0] ? c.msg : "no reason given");
        mw_child_doing("%s: n_params", l->name);
        size_t P = l->n_params(&c);
        if (P > MW_PLUGIN_MAX_PARAMS)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': %zu parameters for %s, more than the "
                              "%d a check takes", l->name, P, mw_plugin_shapes[s].name,
                              MW_PLUGIN_MAX_PARAMS);
        mwp_param_block blocks[64];
        mw_child_doing("%s: param_blocks", l->name);
        int nb = l->param_blocks(&c, blocks, 64);
        size_t sum = 0;
        for (int b = 0; b < nb && b < 64; b++) {
            if (!memchr(blocks[b].name, '\0', sizeof blocks[b].name) || !blocks[b].name[0])
                return mw_err_set(err, MW_ERR_ARG, "layer '%s': parameter block %d has no name",
                                  l->name, b + 1);
            sum += blocks[b].count;
        }
        if (nb < 0 || nb > 64 || sum != P)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': its %d parameter blocks hold %zu "
                              "parameters, n_params says %zu (%s)", l->name, nb, sum, P,
                              mw_plugin_shapes[s].name);
        d->accepts[s] = 1;
        d->n_params[s] = P;
        mw_child_doing("%s: roundings", l->name);
        size_t K = l->roundings ? l->roundings(&c) : 0;
        d->roundings[s] = K ? K : c.features + 10;
        any = 1;
    }
    if (!any)
        return mw_err_set(err, MW_ERR_ARG, "layer '%s' refuses every shape layer check uses (%s: "
                          "%.100s; %s: %.100s)", l->name, mw_plugin_shapes[0].name,
                          d->refusal[0], mw_plugin_shapes[1].name, d->refusal[1]);
    return MW_OK;
}

typedef struct describe_arg {
    const char *path, *name;
} describe_arg;

static mw_status describe_in_child(void *argp, void **out, size_t *n, mw_err *err)
{
    const describe_arg *a = argp;
    mw_plugin_here here;
    mw_status st = mw_plugin_load_here(a->path, a->name, &here, err);
    if (st != MW_OK)
        return st;
    mw_plugin_desc *d = calloc(1, sizeof *d);
    if (!d)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < here.plugin->n_layers && st == MW_OK; i++) {
        const mwp_layer *l = &here.plugin->layers[i];
        if (here.layer && l != here.layer)
            continue;
        st = describe_layer(a->path, here.plugin, l, &d->layers[d->n++], err);
    }
    *out = d;
    *n = sizeof *d;
    return st;
}

/* How the user named the layer's source, for messages: --layer-plugin PATH or
 * --layer-cmd "COMMAND". */
static const char *source(const char *path)
{
    static char buf[4200];
    const size_t k = strlen(MW_LAYER_CMD_PREFIX);
    if (strncmp(path, MW_LAYER_CMD_PREFIX, k) == 0)
        snprintf(buf, sizeof buf, "--layer-cmd \"%.4000s\"", path + k);
    else
        snprintf(buf, sizeof buf, "--layer-plugin %.4000s", path);
    return buf;
}

/* --layer-plugin's PATH.so[:NAME]: the shared object's real path (the children load it by
 * that name from anywhere) and the layer's name, or "". */
static mw_status split_arg(const char *arg, char *path, char *real, char *name, mw_err *err)
{
    struct stat sb;
    name[0] = '\0';
    if (time_limit_env() < 0)
        return mw_err_set(err, MW_ERR_ARG, "MW_PLUGIN_TIME_LIMIT=%.40s: seconds, a number in "
                          "(0, 86400]", getenv("MW_PLUGIN_TIME_LIMIT"));
    if (strlen(arg) >= 4096)
        return mw_err_set(err, MW_ERR_ARG, "--layer-plugin: the path is too long");
    if (strncmp(arg, MW_LAYER_CMD_PREFIX, strlen(MW_LAYER_CMD_PREFIX)) == 0) { /* --layer-cmd */
        snprintf(path, 4096, "%s", arg);
        snprintf(real, 4096, "%s", arg);
        return MW_OK;
    }
    snprintf(path, 4096, "%s", arg);
    /* PATH:NAME when PATH is a file and NAME a layer's name (a path may hold ':' too) */
    char *colon = strrchr(path, ':');
    if (colon && stat(path, &sb) != 0 && valid_name(colon + 1)) {
        snprintf(name, MW_PLUGIN_NAME_MAX + 1, "%s", colon + 1);
        *colon = '\0';
    }
    if (stat(path, &sb) != 0)
        return mw_err_set(err, MW_ERR_ARG, "%s: no such file", source(path));
    if (!S_ISREG(sb.st_mode))
        return mw_err_set(err, MW_ERR_ARG, "%s: not a regular file", source(path));
    if (!realpath(path, real))
        return mw_err_set(err, MW_ERR_ARG, "%s: cannot resolve the path", source(path));
    return MW_OK;
}

mw_status mw_plugin_describe(const char *arg, mw_plugin_desc *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    char path[4096], real[4096], name[MW_PLUGIN_NAME_MAX + 1];
    mw_status st0 = split_arg(arg, path, real, name, err);
    if (st0 != MW_OK)
        return st0;
    describe_arg a = {real, name[0] ? name : NULL};
    void *bytes = NULL;
    size_t n = 0;
    mw_child_end end;
    const mw_child_opts o = {mw_plugin_time_limit(60.0), sizeof *out, 0};
    mw_status st = mw_child_run(describe_in_child, &a, &o, &bytes, &n, &end, err);
    if (st != MW_OK) {
        free(bytes);
        /* "--layer-plugin P: built for plugin ABI version 2; ..." or, for a plugin that
         * took the child down, "--layer-plugin P: loading it: crashed: SIGSEGV ..." */
        mw_err_prefix(err, end.died ? "%s: loading it" : "%s", source(path));
        return mw_err_set_status(err, st == MW_ERR_NOMEM ? MW_ERR_NOMEM : MW_ERR_ARG);
    }
    if (n != sizeof *out) {
        free(bytes);
        return mw_err_set(err, MW_ERR_ARG, "%s: its description came back cut "
                          "short", source(path));
    }
    memcpy(out, bytes, sizeof *out);
    free(bytes);
    /* the child's words, checked as any input */
    if (out->n < 1 || out->n > MW_PLUGIN_MAX_LAYERS)
        return mw_err_set(err, MW_ERR_ARG, "%s: a description of %d layers", source(path),
                          out->n);
    for (int i = 0; i < out->n; i++) {
        mw_plugin_layer *l = &out->layers[i];
        l->path[sizeof l->path - 1] = l->name[sizeof l->name - 1] = '\0';
        l->summary[sizeof l->summary - 1] = l->plugin[sizeof l->plugin - 1] = '\0';
        l->version[sizeof l->version - 1] = '\0';
        for (int s = 0; s < MW_PLUGIN_SHAPES; s++) {
            l->refusal[s][sizeof l->refusal[s] - 1] = '\0';
            if (l->accepts[s] && (l->n_params[s] > MW_PLUGIN_MAX_PARAMS || l->roundings[s] == 0))
                return mw_err_set(err, MW_ERR_ARG, "%s: a description out of "
                                  "range", source(path));
        }
        if (!valid_name(l->name))
            return mw_err_set(err, MW_ERR_ARG, "%s: a layer without a valid name",
                              source(path));
    }
    return MW_OK;
}

/* ---- a network of the plugin's layer ---- */

typedef struct settle_arg {
    const char *path, *name;
    mw_spec spec;
    int max_depth;
} settle_arg;

/* The layer named, or the plugin's only one. */
static mw_status the_layer(mw_plugin_here *here, const char *name, mw_err *err)
{
    if (here->layer)
        return MW_OK;
    if (here->plugin->n_layers != 1) {
        char names[400] = "";
        for (size_t i = 0; i < here->plugin->n_layers; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                     here->plugin->layers[i].name);
        return mw_err_set(err, MW_ERR_ARG, "it has %zu layers (%s): name one, PATH.so:NAME",
                          here->plugin->n_layers, names);
    }
    (void)name;
    here->layer = &here->plugin->layers[0];
    return MW_OK;
}

static mw_status settle_in_child(void *argp, void **out, size_t *n, mw_err *err)
{
    settle_arg *a = argp;
    mw_plugin_here here;
    mw_status st = mw_plugin_load_here(a->path, a->name, &here, err);
    if (st != MW_OK || (st = the_layer(&here, a->name, err)) != MW_OK)
        return st;
    const mwp_layer *l = here.layer;
    long *P = malloc(sizeof *P);
    if (!P)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (int i = 1; i <= a->max_depth; i++) {
        mwp_call c;
        memset(&c, 0, sizeof c);
        c.batch = (size_t)a->spec.batch, c.features = (size_t)a->spec.width;
        c.channels = c.features, c.height = c.width = 1;
        c.index = i;
        c.dtype_bits = 64;
        mw_child_doing("%s: accepts", l->name);
        mwp_status ps = l->accepts(&c);
        c.msg[sizeof c.msg - 1] = '\0';
        if (ps != MWP_OK)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s' refuses an mlp of width %d, batch %d%s: "
                              "%.160s", l->name, a->spec.width, a->spec.batch,
                              i > 1 ? " at depth > 1" : "", c.msg[0] ? c.msg : "no reason given");
        mw_child_doing("%s: n_params", l->name);
        size_t p = l->n_params(&c);
        if (p > (1u << 30))
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': %zu parameters per layer", l->name, p);
        if (i > 1 && (long)p != *P)
            return mw_err_set(err, MW_ERR_ARG, "layer '%s': its parameter count changes with the "
                              "layer's index (%ld, then %zu), which networks of it do not support",
                              l->name, *P, p);
        *P = (long)p;
    }
    *out = P;
    *n = sizeof *P;
    return MW_OK;
}

mw_status mw_plugin_settle(const char *arg, mw_spec *s, int max_depth, mw_err *err)
{
    char path[4096], real[4096], name[MW_PLUGIN_NAME_MAX + 1];
    mw_status st = split_arg(arg, path, real, name, err);
    if (st != MW_OK)
        return st;
    if (s->arch != MW_ARCH_MLP)
        return mw_err_set(err, MW_ERR_ARG, "%s: a plugin's layer makes mlps only "
                          "(not --arch revnet)", source(path));
    settle_arg a = {real, name[0] ? name : NULL, *s, max_depth > 0 ? max_depth : s->depth};
    void *bytes = NULL;
    size_t n = 0;
    mw_child_end end;
    const mw_child_opts o = {mw_plugin_time_limit(60.0), sizeof(long), 0};
    st = mw_child_run(settle_in_child, &a, &o, &bytes, &n, &end, err);
    if (st != MW_OK || n != sizeof(long)) {
        free(bytes);
        if (st == MW_OK)
            return mw_err_set(err, MW_ERR_ARG, "%s: no answer", source(path));
        mw_err_prefix(err, end.died ? "%s: loading it" : "%s", source(path));
        return mw_err_set_status(err, st == MW_ERR_NOMEM ? MW_ERR_NOMEM : MW_ERR_ARG);
    }
    long P = *(long *)bytes;
    free(bytes);
    if (P < 0 || P > (1L << 30))
        return mw_err_set(err, MW_ERR_ARG, "%s: a parameter count out of range",
                          source(path));
    s->coupling = MW_COUPLING_PLUGIN;
    s->plugin_params = P;
    s->bn = 0;
    s->out_act = MW_ACT_IDENTITY;
    return MW_OK;
}

mw_status mw_plugin_activate(const char *arg, mw_err *err)
{
    char path[4096], real[4096], name[MW_PLUGIN_NAME_MAX + 1];
    mw_status st = split_arg(arg, path, real, name, err);
    if (st != MW_OK)
        return st;
    static mw_plugin_here here; /* for the life of the process */
    if ((st = mw_plugin_load_here(real, name[0] ? name : NULL, &here, err)) != MW_OK ||
        (st = the_layer(&here, name, err)) != MW_OK)
        return mw_err_prefix(err, "%s", source(path));
    mw_engine_use_plugin(here.layer);
    mw_ref_use_plugin(here.layer);
    return MW_OK;
}
