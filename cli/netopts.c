/* Options shared by grad and gradcheck (netopts.h). */
#include "netopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_reference.h"

/* transitional: the parsers of the names tables */
#define SHIM_PARSE(fn, table, type) \
    static int fn(const char *n, type *out) { int v; if (mw_name_parse(&table, n, &v)) return 1; *out = (type)v; return 0; }
SHIM_PARSE(mw_arch_parse, mw_arch_names, mw_arch)
SHIM_PARSE(mw_act_parse, mw_act_names, mw_act)
SHIM_PARSE(mw_coupling_parse, mw_coupling_names, mw_coupling)
static int mw_out_act_parse(const char *n, mw_act *out) { if (!strcmp(n, "relu")) return 1; int v; if (mw_name_parse(&mw_out_act_names, n, &v)) return 1; *out = (mw_act)v; return 0; }


const mw_opt mw_act_opts[] = {
    {"arch", "NAME", "architecture: mlp (dense couplings on --width features) or revnet (conv\n"
                     "couplings on --channels x --image, --blocks blocks of\n"
                     "--layers-per-block, squeeze between blocks; k = 1 with BN by default)\n"
                     "(default mlp)"},
    {"f-act", "ACT", "activation inside F: relu, tanh, leaky, identity (default relu)"},
    {"out-act", "ACT", "coupling output activation σ: none, tanh, leaky (default none);\n"
                       "relu is refused: it is not invertible"},
    {NULL, NULL, NULL},
};

const mw_opt mw_size_opts[] = {
    {"coupling", "TYPE", "the coupling layers: additive (z = b + F(a), the paper's; the\n"
                         "default) or affine (z = b ⊙ exp(tanh(F_r(a))) + F_t(a), RealNVP/Glow;\n"
                         "F's last unit gives both halves); mwverify layer list"},
    {"width", "N", "mlp: features n of the input, even"},
    {"channels", "C", "revnet: channels of the input, even (default 4; the paper pads\n"
                      "CIFAR-10 to 8 or 18)"},
    {"image", "HxW", "revnet: the input's height and width (default 8x8); each block after\n"
                     "the first halves them"},
    {"blocks", "N", "revnet: blocks of couplings, a squeeze between each two (default 3)"},
    {"hidden", "N", "width of F's inner units (k >= 2); revnet: channels, 0 for half of\n"
                    "each block's (the default)"},
    {"units", "K", "units k of F, each map -> act -> [BN] (default mlp 2, revnet 1)"},
    {"leaky-slope", "A", "slope α of leaky in F and σ, 0..1 (default 0.1); σ = leaky with\n"
                         "α = 0 has no inverse, so revbackprop, moonwalk, mixed skip"},
    {"bn", NULL, "BatchNorm after every unit of F (batch statistics; couples samples,\n"
                 "which turns off moonwalk's one-tangent-per-sample shortcut); revnet's\n"
                 "default"},
    {"no-bn", NULL, "no BatchNorm (mlp's default)"},
    {"batch", "B", "samples in the batch"},
    {"classes", "C", "classes of the synthetic data and the head"},
    {"init-scale", "X", "W, c uniform in ±X/sqrt(fan_in); large X saturates"},
    {NULL, NULL, NULL},
};

const mw_opt mw_seed_opts[] = {
    {"seed", "S", "seed of parameters, data and projforward's tangents (default 1)"},
    {NULL, NULL, NULL},
};

const mw_opt mw_method_opts[] = {
    {"methods", "LIST", "comma list of backprop, forward, projforward, revbackprop,\n"
                        "moonwalk, mixed; or all (default all). all skips a method whose\n"
                        "estimated cost is over --budget; naming it runs it anyway"},
    {"budget", "GFLOP", "cost over which \"all\" skips a method (default 50)"},
    {"tangent-block", "T", "tangents per forward-mode pass (default 64)"},
    {"proj-samples", "K", "projforward: average K projected gradients (default 1)"},
    {NULL, NULL, NULL},
};

const mw_opt mw_engine_opts[] = {
    {"engine", "NAME", "where the methods run: cpu (the default) or cuda (a GPU; the oracles\n"
                       "stay on the CPU). Without a CUDA device, cuda is an error (exit 3)"},
    {"math", "MODE", "a GPU's float32 matrix products: strict IEEE float32 (the default) or\n"
                     "tf32 (tensor cores, 10-bit mantissas); recorded in every report"},
    {NULL, NULL, NULL},
};

int mw_engine_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n)
{
    if (strcmp(name, "engine") == 0) {
        if (mw_backend_parse(v, &req->engine) == 0)
            return 0;
        snprintf(err, n, "--engine %s: unknown engine (allowed: cpu, cuda)", v);
        return 1;
    }
    if (strcmp(name, "math") == 0) {
        if (strcmp(v, "strict") == 0 || strcmp(v, "fp32") == 0)
            return req->math = MW_MATH_STRICT, 0;
        if (strcmp(v, "tf32") == 0)
            return req->math = MW_MATH_TF32, 0;
        snprintf(err, n, "--math %s: unknown mode (allowed: strict, tf32)", v);
        return 1;
    }
    return -1;
}

const mw_opt mw_oracle_opts[] = {
    {"oracle-bits", "P", "gold's working precision in bits, 24..65536 (default 256); it is\n"
                         "certified by a second run at P+64 bits"},
    {"certify-floor", "B", "gold certified to fewer bits than this is an error (default 100)"},
    {"fd-coords", "N", "coordinates checked by gold's finite-difference witness (default:\n"
                       "all up to 64 parameters, else about 64 over every tensor; 0: none)"},
    {"gold-budget", "S", "refuse gold estimated to take more than S seconds (default 600)"},
    {NULL, NULL, NULL},
};

int mw_parse_methods(mw_grad_request *req, const char *v, char *err, size_t n)
{
    char buf[256];
    if (strlen(v) >= sizeof buf) {
        snprintf(err, n, "--methods: list too long");
        return 1;
    }
    strcpy(buf, v);
    int want[MW_N_METHODS] = {0}, named = 1;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        mw_method m;
        if (strcmp(tok, "all") == 0) {
            for (int i = 0; i < MW_N_METHODS; i++)
                want[i] = 1;
            named = 0;
        } else if (mw_method_parse(tok, &m) == 0) {
            want[m] = 1;
        } else {
            snprintf(err, n, "--methods %s: unknown method '%s' (allowed: backprop, forward, "
                             "projforward, revbackprop, moonwalk, mixed, all)", v, tok);
            return 1;
        }
    }
    int any = 0;
    for (int i = 0; i < MW_N_METHODS; i++)
        any |= want[i];
    if (!any) {
        snprintf(err, n, "--methods '%s': no method named", v);
        return 1;
    }
    memcpy(req->want, want, sizeof want);
    req->named = named;
    return 0;
}

int mw_parse_image(const char *name, const char *v, int *h, int *w, char *err, size_t n)
{
    char *end;
    long a = strtol(v, &end, 10), b = -1;
    if (end != v && (*end == 'x' || *end == 'X')) {
        const char *q = end + 1;
        b = strtol(q, &end, 10);
        if (end == q)
            b = -1;
    }
    if (a < 1 || a > MW_MAX_IMAGE || b < 1 || b > MW_MAX_IMAGE || *end != '\0') {
        snprintf(err, n, "--%s %s: give HxW, e.g. 14x14, each 1..%d", name, v, MW_MAX_IMAGE);
        return 1;
    }
    *h = (int)a, *w = (int)b;
    return 0;
}

/* The option applies to both networks: parse into the mlp's field, copy to the revnet's. */
#define BOTH(field, expr)                                                                      \
    do {                                                                                       \
        int rc_ = (expr);                                                                      \
        if (rc_ == 0)                                                                          \
            revnet->field = s->field;                                                          \
        return rc_;                                                                            \
    } while (0)

int mw_net_opt_apply(mw_grad_request *req, mw_spec *revnet, const char *name, const char *v,
                     char *err, size_t n)
{
    mw_spec *s = &req->spec;
    if (strcmp(name, "arch") == 0) {
        if (mw_arch_parse(v, &s->arch) == 0)
            return 0;
        snprintf(err, n, "--arch %s: unknown architecture (allowed: mlp, revnet)", v);
        return 1;
    }
    if (strcmp(name, "width") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_WIDTH, &s->width, err, n);
    if (strcmp(name, "depth") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_DEPTH, &s->depth, err, n);
    if (strcmp(name, "channels") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_CHANNELS, &revnet->channels, err, n);
    if (strcmp(name, "image") == 0)
        return mw_parse_image(name, v, &revnet->image_h, &revnet->image_w, err, n);
    if (strcmp(name, "blocks") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_BLOCKS, &revnet->blocks, err, n);
    if (strcmp(name, "layers-per-block") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_DEPTH, &revnet->layers_per_block, err, n);
    if (strcmp(name, "hidden") == 0)
        BOTH(hidden, mw_parse_int(name, v, 0, MW_MAX_HIDDEN, &s->hidden, err, n));
    if (strcmp(name, "units") == 0)
        BOTH(units, mw_parse_int(name, v, 1, MW_MAX_UNITS, &s->units, err, n));
    if (strcmp(name, "batch") == 0)
        BOTH(batch, mw_parse_int(name, v, 1, MW_MAX_BATCH, &s->batch, err, n));
    if (strcmp(name, "classes") == 0)
        BOTH(classes, mw_parse_int(name, v, 2, MW_MAX_CLASSES, &s->classes, err, n));
    if (strcmp(name, "f-act") == 0) {
        if (mw_act_parse(v, &s->f_act) == 0)
            BOTH(f_act, 0);
        snprintf(err, n, "--f-act %s: unknown activation (allowed: relu, tanh, leaky, identity)", v);
        return 1;
    }
    if (strcmp(name, "out-act") == 0) {
        if (strcmp(v, "relu") == 0) {
            snprintf(err, n, "--out-act relu: ReLU is not invertible, so it cannot be the "
                             "coupling's output activation (allowed: none, tanh, leaky)");
            return 1;
        }
        if (mw_out_act_parse(v, &s->out_act) == 0)
            BOTH(out_act, 0);
        snprintf(err, n, "--out-act %s: unknown activation (allowed: none, tanh, leaky)", v);
        return 1;
    }
    if (strcmp(name, "coupling") == 0) {
        if (mw_coupling_parse(v, &s->coupling) == 0)
            BOTH(coupling, 0);
        snprintf(err, n, "--coupling %s: unknown coupling (allowed: additive, affine)", v);
        return 1;
    }
    if (strcmp(name, "leaky-slope") == 0)
        BOTH(leaky_slope, mw_parse_double(name, v, 0.0, 1.0, &s->leaky_slope, err, n));
    if (strcmp(name, "bn") == 0 || strcmp(name, "no-bn") == 0) {
        s->bn = name[0] == 'b';
        BOTH(bn, 0);
    }
    if (strcmp(name, "seed") == 0)
        BOTH(seed, mw_parse_u64(name, v, &s->seed, err, n));
    if (strcmp(name, "init-scale") == 0)
        BOTH(init_scale, mw_parse_double(name, v, 0.0, 1e6, &s->init_scale, err, n));
    if (strcmp(name, "methods") == 0)
        return mw_parse_methods(req, v, err, n);
    if (strcmp(name, "budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e12, &req->budget_gflop, err, n);
    if (strcmp(name, "tangent-block") == 0)
        return mw_parse_int(name, v, 1, 1 << 16, &req->opts.tangent_block, err, n);
    if (strcmp(name, "proj-samples") == 0)
        return mw_parse_int(name, v, 1, 1 << 24, &req->opts.proj_samples, err, n);
    return -1;
}
#undef BOTH

void mw_net_choose(mw_grad_request *req, const mw_spec *revnet)
{
    if (req->spec.arch == MW_ARCH_REVNET)
        req->spec = *revnet;
    mw_spec_complete(&req->spec);
}

int mw_oracle_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n)
{
    int iv;
    if (strcmp(name, "oracle-bits") == 0) {
        if (mw_parse_int(name, v, MW_REF_MIN_BITS, MW_REF_MAX_BITS, &iv, err, n) != 0)
            return 1;
        req->gold.bits = iv;
        return 0;
    }
    if (strcmp(name, "certify-floor") == 0)
        return mw_parse_double(name, v, 0.0, MW_REF_MAX_BITS, &req->gold.floor_bits, err, n);
    if (strcmp(name, "fd-coords") == 0) {
        if (mw_parse_int(name, v, 0, 1 << 30, &iv, err, n) != 0)
            return 1;
        req->gold.fd_coords = iv;
        return 0;
    }
    if (strcmp(name, "gold-budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e9, &req->gold_budget_s, err, n);
    return -1;
}

/* ---- suite grids ---- */

const mw_opt mw_grid_opts[] = {
    {"arch", "NAME", "one architecture: mlp or revnet (the same as --archs NAME)"},
    {"archs", "LIST", "architectures: mlp, revnet"},
    {"f-acts", "LIST", "F activations: relu, tanh, leaky, identity"},
    {"out-acts", "LIST", "output activations: none, tanh, leaky"},
    {"depths", "LIST", "mlp: depths, each 1..4096"},
    {"layers-per-block", "LIST", "revnet: layers per block, each 1..4096 (the paper: 1, 3, 5, 10)"},
    {"dtypes", "LIST", "f32, f64"},
    {"seeds", "LIST", "replicate seeds; each network's seed is mixed from one of these and\n"
                      "--suite-seed, so any order or split of the work gives the same numbers"},
    {"suite-seed", "S", "the suite's seed (default 1)"},
    {"tol", "X", "float64 deterministic methods must be within X of gold, relative L2\n"
                 "(default 1e-11)"},
    {"proj-repeats", "R", "projforward's unbiasedness: draws per K in 1, 4, 16, 64, 256 (0:\n"
                          "not measured)"},
    {NULL, NULL, NULL},
};

/* Split a comma list; one(token, i) parses item i. */
static int parse_list(const char *name, const char *v, int max, int *n,
                      int (*one)(mw_suite_config *, const char *, int), mw_suite_config *c,
                      const char *allowed, char *err, size_t len)
{
    char buf[512];
    if (*v == '\0' || strlen(v) >= sizeof buf) {
        snprintf(err, len, "--%s '%s': give a comma list (allowed: %s)", name, v, allowed);
        return 1;
    }
    strcpy(buf, v);
    int k = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (k == max) {
            snprintf(err, len, "--%s %s: at most %d values", name, v, max);
            return 1;
        }
        if (one(c, tok, k) != 0) {
            snprintf(err, len, "--%s %s: bad value '%s' (allowed: %s)", name, v, tok, allowed);
            return 1;
        }
        k++;
    }
    *n = k;
    return 0;
}

static int one_arch(mw_suite_config *c, const char *t, int i)
{
    return mw_arch_parse(t, &c->grid.archs[i]);
}

static int one_f_act(mw_suite_config *c, const char *t, int i)
{
    return mw_act_parse(t, &c->grid.f_acts[i]);
}

static int one_out_act(mw_suite_config *c, const char *t, int i)
{
    return strcmp(t, "relu") == 0 || mw_out_act_parse(t, &c->grid.out_acts[i]);
}

static int one_depth(mw_suite_config *c, const char *t, int i)
{
    char e[8];
    return mw_parse_int("depths", t, 1, MW_MAX_DEPTH, &c->grid.depths[i], e, sizeof e);
}

static int one_lpb(mw_suite_config *c, const char *t, int i)
{
    char e[8];
    return mw_parse_int("layers-per-block", t, 1, MW_MAX_DEPTH, &c->grid.lpbs[i], e, sizeof e);
}

static int one_dtype(mw_suite_config *c, const char *t, int i)
{
    return mw_dtype_parse(t, &c->grid.dtypes[i]);
}

static int one_seed(mw_suite_config *c, const char *t, int i)
{
    char e[8];
    return mw_parse_u64("seeds", t, &c->grid.seeds[i], e, sizeof e);
}

int mw_grid_opt_apply(mw_suite_config *c, const char *name, const char *v, char *err, size_t n)
{
    mw_suite_grid *g = &c->grid;
    if (strcmp(name, "archs") == 0 || strcmp(name, "arch") == 0) {
        if (parse_list(name, v, strcmp(name, "arch") == 0 ? 1 : 2, &g->n_archs, one_arch, c,
                       "mlp, revnet", err, n) != 0)
            return 1;
        if (g->n_archs == 2 && g->archs[0] == g->archs[1]) {
            snprintf(err, n, "--archs %s: an architecture named twice", v);
            return 1;
        }
        return 0;
    }
    if (strcmp(name, "layers-per-block") == 0)
        return parse_list(name, v, MW_SUITE_MAX_DEPTHS, &g->n_lpbs, one_lpb, c, "integers 1..4096",
                          err, n);
    if (strcmp(name, "f-acts") == 0)
        return parse_list(name, v, 4, &g->n_f_acts, one_f_act, c, "relu, tanh, leaky, identity",
                          err, n);
    if (strcmp(name, "out-acts") == 0)
        return parse_list(name, v, 3, &g->n_out_acts, one_out_act, c, "none, tanh, leaky", err, n);
    if (strcmp(name, "depths") == 0)
        return parse_list(name, v, MW_SUITE_MAX_DEPTHS, &g->n_depths, one_depth, c,
                          "integers 1..4096", err, n);
    if (strcmp(name, "dtypes") == 0)
        return parse_list(name, v, 2, &g->n_dtypes, one_dtype, c, "f32, f64", err, n);
    if (strcmp(name, "seeds") == 0)
        return parse_list(name, v, MW_SUITE_MAX_SEEDS, &g->n_seeds, one_seed, c,
                          "integers 0..18446744073709551615", err, n);
    if (strcmp(name, "suite-seed") == 0)
        return mw_parse_u64(name, v, &c->suite_seed, err, n);
    if (strcmp(name, "tol") == 0)
        return mw_parse_double(name, v, 0.0, 1.0, &c->tol, err, n);
    if (strcmp(name, "proj-repeats") == 0)
        return mw_parse_int(name, v, 0, 1 << 16, &c->proj_repeats, err, n);
    return -1;
}

const char *mw_find_preset(int argc, char **argv, const char *dflt)
{
    const char *p = dflt;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc)
            p = argv[++i];
        else if (strncmp(argv[i], "--preset=", 9) == 0)
            p = argv[i] + 9;
    }
    return p;
}

void mw_grid_finish(mw_suite_config *c)
{
    memcpy(c->grid.want, c->base.want, sizeof c->grid.want);
    c->grid.named = c->base.named;
}
