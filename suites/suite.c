/* Suite grids (suite.h): presets, expansion into networks and runs, validation, and the
 * configuration as JSON. */
#include "suite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int mw_suite_preset(const char *name, mw_suite_config *c)
{
    memset(c, 0, sizeof *c);
    c->base = mw_grad_request_default();
    c->base.oracle = MW_ORACLE_GOLD;
    c->suite_seed = 1;
    c->tol = 1e-11;
    c->proj_repeats = 8;
    mw_suite_grid *g = &c->grid;
    g->archs[0] = MW_ARCH_MLP, g->n_archs = 1;
    g->out_acts[0] = MW_ACT_IDENTITY, g->out_acts[1] = MW_ACT_TANH, g->out_acts[2] = MW_ACT_LEAKY;
    g->n_out_acts = 3;
    g->dtypes[0] = MW_F32, g->dtypes[1] = MW_F64, g->n_dtypes = 2;
    for (int m = 0; m < MW_N_METHODS; m++)
        g->want[m] = 1;
    g->seeds[0] = 1, g->n_seeds = 1;
    /* the revnet cell: 4 channels of 8x8, 3 blocks, k = 1 with BN (the golden shape) */
    c->revnet = mw_spec_revnet_default();
    g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
    g->lpbs[0] = 1, g->n_lpbs = 1;
    if (strcmp(name, "quick") == 0) {
        mw_spec *s = &c->base.spec;
        s->width = 8, s->hidden = 8, s->batch = 4, s->classes = 3;
        const int d[] = {1, 2, 4, 8};
        memcpy(g->depths, d, sizeof d);
        g->n_depths = 4;
        g->f_acts[0] = MW_ACT_RELU, g->f_acts[1] = MW_ACT_TANH, g->n_f_acts = 2;
    } else if (strcmp(name, "standard") == 0) {
        const int d[] = {1, 2, 4, 8, 16};
        memcpy(g->depths, d, sizeof d);
        g->n_depths = 5;
        g->lpbs[1] = 2, g->n_lpbs = 2;
        g->f_acts[0] = MW_ACT_RELU, g->f_acts[1] = MW_ACT_TANH;
        g->f_acts[2] = MW_ACT_LEAKY, g->f_acts[3] = MW_ACT_IDENTITY, g->n_f_acts = 4;
        g->seeds[1] = 2, g->seeds[2] = 3, g->n_seeds = 3;
        c->proj_repeats = 16;
    } else {
        return 1;
    }
    c->revnet.batch = c->base.spec.batch;
    c->revnet.classes = c->base.spec.classes;
    snprintf(c->preset, sizeof c->preset, "%s", name);
    return 0;
}

long mw_suite_n_networks_of(const mw_suite_config *c, mw_arch a)
{
    const mw_suite_grid *g = &c->grid;
    long depths = a == MW_ARCH_REVNET ? (long)g->n_lpbs * (g->n_channels ? g->n_channels : 1)
                                      : g->n_depths;
    return (long)g->n_f_acts * g->n_out_acts * depths * g->n_seeds;
}

long mw_suite_n_networks(const mw_suite_config *c)
{
    long n = 0;
    for (int a = 0; a < c->grid.n_archs; a++)
        n += mw_suite_n_networks_of(c, c->grid.archs[a]);
    return n;
}

long mw_suite_runs_per_network(const mw_suite_config *c)
{
    long m = 0;
    for (int i = 0; i < MW_N_METHODS; i++)
        m += c->grid.want[i] != 0;
    return m * c->grid.n_dtypes;
}

/* splitmix64: a seed per replicate, far from its neighbours. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

void mw_suite_network(const mw_suite_config *c, long u, mw_spec *out)
{
    const mw_suite_grid *g = &c->grid;
    int a = 0;
    while (a + 1 < g->n_archs && u >= mw_suite_n_networks_of(c, g->archs[a]))
        u -= mw_suite_n_networks_of(c, g->archs[a++]);
    const mw_arch arch = g->archs[a];
    const int n_ch = arch == MW_ARCH_REVNET && g->n_channels ? g->n_channels : 1;
    const int n_depths = (arch == MW_ARCH_REVNET ? g->n_lpbs : g->n_depths) * n_ch;
    long seed_i = u % g->n_seeds;
    u /= g->n_seeds;
    long depth_i = u % n_depths;
    u /= n_depths;
    long out_i = u % g->n_out_acts;
    u /= g->n_out_acts;
    long f_i = u % g->n_f_acts;
    if (arch == MW_ARCH_REVNET) { /* channels vary slower than layers per block */
        *out = c->revnet;
        out->layers_per_block = g->lpbs[depth_i % g->n_lpbs];
        if (g->n_channels)
            out->channels = g->channels[depth_i / g->n_lpbs];
    } else {
        *out = c->base.spec;
        out->depth = g->depths[depth_i];
    }
    out->arch = arch;
    out->f_act = g->f_acts[f_i];
    out->out_act = g->out_acts[out_i];
    out->seed = mix(c->suite_seed ^ mix(g->seeds[seed_i]));
    mw_spec_complete(out);
}

long mw_suite_run_index(const mw_suite_config *c, long u, int dtype_pos, mw_method m)
{
    return (u * c->grid.n_dtypes + dtype_pos) * MW_N_METHODS + (long)m;
}

int mw_suite_validate(const mw_suite_config *c, char *msg, size_t msg_len)
{
    if (mw_suite_n_networks(c) == 0 || mw_suite_runs_per_network(c) == 0) {
        snprintf(msg, msg_len, "the grid is empty");
        return 1;
    }
    double gold_s = 0.0;
    for (long u = 0; u < mw_suite_n_networks(c); u++) {
        mw_spec s;
        mw_suite_network(c, u, &s);
        char why[256];
        if (mw_spec_validate(&s, why, sizeof why) != 0) {
            snprintf(msg, msg_len, "--%s", why);
            return 1;
        }
        if (!c->no_gold)
            gold_s += mw_gold_cost_seconds(&s, &c->base.gold);
    }
    if (gold_s > c->base.gold_budget_s) {
        snprintf(msg, msg_len,
                 "oracle gold: estimated %.0f s for the %ld networks of the grid, over the %.0f s "
                 "of --gold-budget; shrink the grid or raise --gold-budget",
                 gold_s, mw_suite_n_networks(c), c->base.gold_budget_s);
        return 1;
    }
    return 0;
}

int mw_suite_config_json(const mw_suite_config *c, char *buf, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return 1;
    const mw_suite_grid *g = &c->grid;
    const mw_spec *s = &c->base.spec;
    mw_json j;
    mw_json_init(&j, f);
    mw_json_object_begin(&j, NULL);
    mw_json_string(&j, "preset", c->preset);
    mw_json_unsigned(&j, "suite_seed", (unsigned long long)c->suite_seed);
    mw_json_array_begin(&j, "archs");
    for (int i = 0; i < g->n_archs; i++)
        mw_json_string(&j, NULL, mw_arch_name(g->archs[i]));
    mw_json_array_end(&j);
    mw_json_array_begin(&j, "f_acts");
    for (int i = 0; i < g->n_f_acts; i++)
        mw_json_string(&j, NULL, mw_act_name(g->f_acts[i]));
    mw_json_array_end(&j);
    mw_json_array_begin(&j, "out_acts");
    for (int i = 0; i < g->n_out_acts; i++)
        mw_json_string(&j, NULL, mw_out_act_name(g->out_acts[i]));
    mw_json_array_end(&j);
    int has[2] = {0, 0};
    for (int i = 0; i < g->n_archs; i++)
        has[g->archs[i] == MW_ARCH_REVNET] = 1;
    if (has[0]) {
        mw_json_array_begin(&j, "depths");
        for (int i = 0; i < g->n_depths; i++)
            mw_json_integer(&j, NULL, g->depths[i]);
        mw_json_array_end(&j);
    }
    if (has[1]) {
        mw_json_array_begin(&j, "layers_per_block");
        for (int i = 0; i < g->n_lpbs; i++)
            mw_json_integer(&j, NULL, g->lpbs[i]);
        mw_json_array_end(&j);
        if (g->n_channels) {
            mw_json_array_begin(&j, "revnet_channels");
            for (int i = 0; i < g->n_channels; i++)
                mw_json_integer(&j, NULL, g->channels[i]);
            mw_json_array_end(&j);
        }
    }
    mw_json_array_begin(&j, "methods");
    for (int m = 0; m < MW_N_METHODS; m++)
        if (g->want[m])
            mw_json_string(&j, NULL, mw_method_name((mw_method)m));
    mw_json_array_end(&j);
    mw_json_bool(&j, "methods_named", g->named);
    mw_json_array_begin(&j, "dtypes");
    for (int i = 0; i < g->n_dtypes; i++)
        mw_json_string(&j, NULL, mw_dtype_name(g->dtypes[i]));
    mw_json_array_end(&j);
    mw_json_array_begin(&j, "seeds");
    for (int i = 0; i < g->n_seeds; i++)
        mw_json_unsigned(&j, NULL, (unsigned long long)g->seeds[i]);
    mw_json_array_end(&j);
    mw_json_object_begin(&j, "network");
    mw_json_integer(&j, "width", s->width);
    mw_json_integer(&j, "hidden", s->hidden);
    mw_json_integer(&j, "units", s->units);
    mw_json_number(&j, "leaky_slope", s->leaky_slope);
    mw_json_bool(&j, "bn", s->bn);
    mw_json_number(&j, "bn_eps", s->bn_eps);
    mw_json_integer(&j, "batch", s->batch);
    mw_json_integer(&j, "classes", s->classes);
    mw_json_number(&j, "init_scale", s->init_scale);
    if (s->coupling != MW_COUPLING_ADDITIVE) /* absent: additive, as before it could be chosen */
        mw_json_string(&j, "coupling", mw_coupling_name(s->coupling));
    mw_json_object_end(&j);
    if (has[1]) {
        const mw_spec *r = &c->revnet;
        mw_json_object_begin(&j, "revnet");
        mw_json_integer(&j, "channels", r->channels);
        mw_json_array_begin(&j, "image");
        mw_json_integer(&j, NULL, r->image_h);
        mw_json_integer(&j, NULL, r->image_w);
        mw_json_array_end(&j);
        mw_json_integer(&j, "blocks", r->blocks);
        mw_json_integer(&j, "hidden", r->hidden);
        mw_json_integer(&j, "units", r->units);
        mw_json_bool(&j, "bn", r->bn);
        mw_json_object_end(&j);
    }
    mw_json_string(&j, "engine", mw_backend_name(c->base.engine));
    mw_json_string(&j, "math", c->base.math == MW_MATH_TF32 ? "tf32" : "strict");
    mw_json_object_begin(&j, "methods_options");
    mw_json_integer(&j, "tangent_block", c->base.opts.tangent_block);
    mw_json_integer(&j, "proj_samples", c->base.opts.proj_samples);
    mw_json_number(&j, "budget_gflop", c->base.budget_gflop);
    mw_json_object_end(&j);
    mw_json_object_begin(&j, "oracle");
    mw_json_string(&j, "kind", mw_oracle_name(c->base.oracle));
    mw_json_integer(&j, "bits", c->base.gold.bits);
    mw_json_number(&j, "certify_floor", c->base.gold.floor_bits);
    mw_json_integer(&j, "fd_coords", c->base.gold.fd_coords);
    mw_json_object_end(&j);
    mw_json_number(&j, "tol", c->tol);
    mw_json_integer(&j, "proj_repeats", c->proj_repeats);
    if (c->repeats)
        mw_json_integer(&j, "repeats", c->repeats);
    const mw_train_config *t = &c->train;
    if (t->epochs > 0) { /* training suites */
        mw_json_object_begin(&j, "train");
        mw_json_integer(&j, "epochs", t->epochs);
        mw_json_integer(&j, "train_samples", t->n_train);
        mw_json_integer(&j, "test_samples", t->n_test);
        mw_json_string(&j, "dataset", t->dataset);
        if (t->image_h > 0) {
            mw_json_array_begin(&j, "image");
            mw_json_integer(&j, NULL, t->image_h);
            mw_json_integer(&j, NULL, t->image_w);
            mw_json_array_end(&j);
        }
        mw_json_number(&j, "separation", t->separation);
        mw_json_number(&j, "noise", t->noise);
        mw_json_number(&j, "lr", t->lr);
        mw_json_number(&j, "beta1", t->beta1);
        mw_json_number(&j, "beta2", t->beta2);
        mw_json_number(&j, "eps", t->eps);
        mw_json_number(&j, "decay", t->decay);
        mw_json_integer(&j, "gold_every", t->gold_every);
        mw_json_number(&j, "explode", t->explode);
        mw_json_number(&j, "run_budget_gflop", t->run_budget_gflop);
        mw_json_object_end(&j);
    }
    mw_json_object_end(&j);
    int rc = mw_json_finish(&j);
    fclose(f);
    if (rc == 0 && len < n) {
        memcpy(buf, text, len + 1);
        if (len && buf[len - 1] == '\n')
            buf[len - 1] = '\0';
    } else {
        rc = 1;
    }
    free(text);
    return rc;
}
