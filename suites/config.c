/* A suite's configuration (suite.h): the tables of its records and option groups, the
 * defaults, the grid's expansion into networks and runs, validation, and the registry. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_reference.h"
#include "suite.h"

/* ---- the records of a configuration ---- */

/* --methods LIST|all: the set, and whether the methods were named one by one. */
static mw_status parse_methods(const mw_field *f, void *rec, const char *v, mw_err *err)
{
    mw_field plain = *f;
    plain.parse = NULL;
    mw_status st = mw_field_parse(&plain, rec, v, err);
    if (st == MW_OK)
        ((mw_method_config *)rec)->named = strcmp(v, "all") != 0;
    return st;
}

#define M(m) offsetof(mw_method_config, m)
static const mw_field method_fields[] = {
    {"asked", MW_FK_SET, M(want),
     "comma list of backprop, forward, projforward, revbackprop, moonwalk, mixed; or\n"
     "all. all skips a method whose estimated cost is over --budget; naming it runs it\n"
     "anyway",
     .names = &mw_method_names, .opt = "methods", .meta = "LIST", .parse = parse_methods},
    {"named", MW_FK_BOOL, M(named), "the methods were named one by one (no budget skips)"},
    {"budget_gflop", MW_FK_F64, M(budget_gflop), "cost over which \"all\" skips a method",
     .unit = MW_UNIT_GFLOP, .opt = "budget", .meta = "GFLOP", .lo = 0, .hi = 1e12},
    {"tangent_block", MW_FK_INT, M(opts.tangent_block), "tangents per forward-mode pass",
     .opt = "tangent-block", .meta = "T", .lo = 1, .hi = 1 << 16},
    {"proj_samples", MW_FK_INT, M(opts.proj_samples),
     "projforward: average K projected gradients", .opt = "proj-samples", .meta = "K", .lo = 1,
     .hi = 1 << 24},
    MW_FIELDS_END,
};
#undef M
const mw_record mw_method_config_record = {"methods", sizeof(mw_method_config), method_fields,
                                           "which methods, and how they run", NULL};

#define O(m) offsetof(mw_oracle_config, m)
static const mw_field oracle_config_fields[] = {
    {"kind", MW_FK_ENUM, O(kind),
     "gold, proof, silver or auto (auto: gold when its estimated time is at most 5 s,\n"
     "which holds for the default network, else silver). proof: the interval reference\n"
     "(MPFI) at P bits, whose enclosures contain the exact gradient; their midpoints are\n"
     "the oracle, and each entry's proved bits, the least reported, must reach\n"
     "--certify-floor; a ReLU or leaky kink is named instead of a number",
     .names = &mw_oracle_names, .opt = "oracle", .meta = "KIND", .flags = MW_F_SWEPT},
    {"bits", MW_FK_LONG, O(gold.bits),
     "gold's (and proof's) working precision in bits; gold is certified by a second\n"
     "run at P+64 bits",
     .opt = "oracle-bits", .meta = "P", .lo = MW_REF_MIN_BITS, .hi = MW_REF_MAX_BITS},
    {"certify_floor", MW_FK_F64, O(gold.floor_bits),
     "gold certified (proof: proved) to fewer bits than this is an error",
     .opt = "certify-floor", .meta = "B",
     .lo = 0, .hi = MW_REF_MAX_BITS},
    {"fd_coords", MW_FK_LONG, O(gold.fd_coords),
     "coordinates checked by gold's finite-difference witness (default: all up to 64\n"
     "parameters, else about 64 over every tensor; 0: none)",
     .opt = "fd-coords", .meta = "N", .lo = 0, .hi = 1 << 30, .flags = MW_F_NO_DEFAULT},
    {"gold_auto_seconds", MW_FK_F64, O(gold_auto_s), "auto's limit for gold",
     .unit = MW_UNIT_SECONDS},
    {"gold_budget_seconds", MW_FK_F64, O(gold_budget_s),
     "refuse gold estimated to take longer", .unit = MW_UNIT_SECONDS, .opt = "gold-budget",
     .meta = "TIME", .lo = 0, .hi = 1e9},
    MW_FIELDS_END,
};
#undef O
const mw_record mw_oracle_config_record = {"oracle", sizeof(mw_oracle_config),
                                           oracle_config_fields, "the oracle", NULL};

#define E(m) offsetof(mw_engine_config, m)
static const mw_field engine_fields[] = {
    {"engine", MW_FK_ENUM, E(backend),
     "where the methods run: cpu or cuda (a GPU; the oracles stay on the CPU). Without a\n"
     "CUDA device, cuda is an error (exit 3)",
     .names = &mw_backend_names, .opt = "engine", .meta = "NAME"},
    {"math", MW_FK_ENUM, E(math),
     "a GPU's float32 matrix products: strict IEEE float32 or tf32 (tensor cores,\n"
     "10-bit mantissas); recorded in every report",
     .names = &mw_math_names, .opt = "math", .meta = "MODE"},
    {"device", MW_FK_INT, E(device),
     "with --engine cuda: the GPU's ordinal (default 0); under mpirun each rank takes\n"
     "its node-local rank's, modulo the GPUs it sees",
     .opt = "device", .meta = "N", .lo = 0, .hi = 1023, .flags = MW_F_NO_JSON | MW_F_NO_DEFAULT},
    {"layer_plugin", MW_FK_STR, E(layer_plugin),
     "networks whose coupling layers are a plugin's layer (docs/layer-plugins.md): mlps\n"
     "without BatchNorm or σ, on the CPU; the plugin runs in child processes, each\n"
     "network in its own (a crash fails that network)",
     .size = sizeof(((mw_engine_config *)0)->layer_plugin), .opt = "layer-plugin",
     .meta = "PATH.so[:NAME]"},
    {"layer_cmd", MW_FK_STR, E(layer_cmd),
     "networks of the layer a process serves over the layer protocol\n"
     "(docs/layer-protocol.md), as --layer-plugin; the oracle is silver",
     .size = sizeof(((mw_engine_config *)0)->layer_cmd), .opt = "layer-cmd", .meta = "COMMAND"},
    MW_FIELDS_END,
};
#undef E
const mw_record mw_engine_config_record = {"engine", sizeof(mw_engine_config), engine_fields,
                                           "where the methods run", NULL};

#define G(m) offsetof(mw_suite_grid, m)
#define LIST(m, n) .size = sizeof(((mw_suite_grid *)0)->m) / sizeof(((mw_suite_grid *)0)->m[0]), \
                   .count = G(n)
static const mw_field grid_fields[] = {
    {"archs", MW_FK_LIST, G(archs),
     "architectures: mlp (dense couplings on --width features) and revnet (conv\n"
     "couplings on --channels x --image, --blocks blocks of --layers-per-block, squeeze\n"
     "between blocks; k = 1 with BN by default)",
     .elem = MW_FK_ENUM, .names = &mw_arch_names, LIST(archs, n_archs), .opt = "arch",
     .meta = "LIST"},
    {"f_acts", MW_FK_LIST, G(f_acts), "activations inside F", .elem = MW_FK_ENUM,
     .names = &mw_act_names, LIST(f_acts, n_f_acts), .opt = "f-act", .meta = "LIST"},
    {"out_acts", MW_FK_LIST, G(out_acts),
     "the couplings' output activations σ (relu is refused: it is not invertible)",
     .elem = MW_FK_ENUM, .names = &mw_out_act_names, LIST(out_acts, n_out_acts), .opt = "out-act",
     .meta = "LIST"},
    {"depths", MW_FK_LIST, G(depths), "mlp: coupling layers", .elem = MW_FK_INT,
     LIST(depths, n_depths), .opt = "depth", .meta = "LIST", .lo = 1, .hi = MW_MAX_DEPTH},
    {"layers_per_block", MW_FK_LIST, G(lpbs),
     "revnet: coupling layers per block (the paper: 1, 3, 5, 10)", .elem = MW_FK_INT,
     LIST(lpbs, n_lpbs), .opt = "layers-per-block", .meta = "LIST", .lo = 1, .hi = MW_MAX_DEPTH},
    {"channels", MW_FK_LIST, G(channels),
     "revnet: channels of the input, even (the paper pads CIFAR-10 to 8 or 18)",
     .elem = MW_FK_INT, LIST(channels, n_channels), .opt = "channels", .meta = "LIST", .lo = 2,
     .hi = MW_MAX_CHANNELS},
    {"dtypes", MW_FK_LIST, G(dtypes), "the engine's precisions: f32, f64", .elem = MW_FK_ENUM,
     .names = &mw_dtype_names, LIST(dtypes, n_dtypes), .opt = "dtype", .meta = "LIST"},
    {"init_scales", MW_FK_LIST, G(init_scales),
     "the parameters' scale: W, c uniform in ±X/sqrt(fan_in); 2 and up saturate tanh",
     .elem = MW_FK_F64, LIST(init_scales, n_init_scales), .opt = "init-scale", .meta = "LIST",
     .lo = 1e-6, .hi = 1e6},
    {"seeds", MW_FK_LIST, G(seeds),
     "replicate seeds; each network's seed is mixed from one of these and --suite-seed,\n"
     "so any order or split of the work gives the same numbers",
     .elem = MW_FK_U64, LIST(seeds, n_seeds), .opt = "seed", .meta = "LIST"},
    {"suite_seed", MW_FK_U64, G(suite_seed), "the suite's seed", .opt = "suite-seed",
     .meta = "S"},
    MW_FIELDS_END,
};
#undef LIST
#undef G
const mw_record mw_grid_record = {"grid", sizeof(mw_suite_grid), grid_fields,
                                  "the networks a suite sweeps", NULL};

/* --dataset: a name the readers know. */
static mw_status parse_dataset(const mw_field *f, void *rec, const char *v, mw_err *err)
{
    if (strcmp(v, "synthetic") != 0 && strcmp(v, "fashion-mnist") != 0 &&
        strncmp(v, "fashion-mnist:", 14) != 0 && strncmp(v, "cifar10:", 8) != 0)
        return mw_err_set(err, MW_ERR_ARG, "--dataset %s: unknown dataset (allowed: synthetic, "
                          "fashion-mnist[:DIR], cifar10:DIR)", v);
    mw_field plain = *f;
    plain.parse = NULL;
    return mw_field_parse(&plain, rec, v, err);
}

#define T(m) offsetof(mw_train_config, m)
static const mw_field train_fields[] = {
    {"dataset", MW_FK_STR, T(dataset),
     "synthetic (the Gaussian mixture), fashion-mnist[:DIR] (default DIR\n"
     "/usr/share/datasets/fashion-mnist, from Debian's dataset-fashion-mnist) or\n"
     "cifar10:DIR (data_batch_1.bin .. data_batch_5.bin, test_batch.bin). Real images\n"
     "are pooled to --image, normalised per channel with the training part's statistics,\n"
     "zero-padded to the revnet's --channels; an mlp sees them flattened; classes come\n"
     "from the data",
     .size = sizeof(((mw_train_config *)0)->dataset), .opt = "dataset", .meta = "NAME",
     .parse = parse_dataset},
    {"epochs", MW_FK_INT, T(epochs), "training epochs", .opt = "epochs", .meta = "E", .lo = 1,
     .hi = 100000},
    {"train_samples", MW_FK_INT, T(n_train),
     "training samples (real data: a seeded draw from the training files)",
     .opt = "train-samples", .meta = "N", .lo = 1, .hi = 1 << 26},
    {"test_samples", MW_FK_INT, T(n_test),
     "held-out samples, for the test accuracy of every epoch (real data: the first N of\n"
     "the test files; BatchNorm with running statistics)",
     .opt = "test-samples", .meta = "N", .lo = 1, .hi = 1 << 26},
    {"image_h", MW_FK_INT, T(image_h),
     "real data: pooled to HxW, and the revnet's input is that size (default: as stored)",
     .opt = "image", .meta = "HxW", .lo = 1, .hi = MW_MAX_IMAGE, .parse = mw_parse_hxw,
     .flags = MW_F_NO_DEFAULT},
    {"image_w", MW_FK_INT, T(image_w), "real data: the pooled width"},
    {"separation", MW_FK_F64, T(separation), "the mixture: class centres ~ S · N(0, I)",
     .opt = "separation", .meta = "S", .lo = 0, .hi = 1e3},
    {"noise", MW_FK_F64, T(noise), "the mixture: samples scatter with X · N(0, I)",
     .opt = "noise", .meta = "X", .lo = 0, .hi = 1e3},
    {"lr", MW_FK_F64, T(lr), "Adam's learning rate (β 0.9, 0.999; eps 1e-8)", .opt = "lr",
     .meta = "A", .lo = 1e-12, .hi = 10},
    {"beta1", MW_FK_F64, T(beta1), "Adam's β1"},
    {"beta2", MW_FK_F64, T(beta2), "Adam's β2"},
    {"eps", MW_FK_F64, T(eps), "Adam's epsilon"},
    {"decay", MW_FK_F64, T(decay), "the learning rate of epoch e is lr · D^e", .opt = "decay",
     .meta = "D", .lo = 1e-6, .hi = 1},
    {"gold_every", MW_FK_INT, T(gold_every),
     "gold (MPFR, certified) at every K-th step, and at the first and the last",
     .opt = "gold-every", .meta = "K", .lo = 1, .hi = 1 << 30},
    {"explode", MW_FK_F64, T(explode),
     "a loss above F times the first marks divergence (0: only a non-finite value does)",
     .opt = "explode", .meta = "F", .lo = 0, .hi = 1e12},
    {"run_budget_gflop", MW_FK_F64, T(run_budget_gflop),
     "skip a method estimated to cost more than this over the training, unless it is\n"
     "named in --methods",
     .unit = MW_UNIT_GFLOP, .opt = "run-budget", .meta = "GFLOP", .lo = 0, .hi = 1e12},
    {"time_budget_seconds", MW_FK_F64, T(time_budget_s),
     "refuse to start when the estimated time on this machine is longer",
     .unit = MW_UNIT_SECONDS, .opt = "time-budget", .meta = "TIME", .lo = 0, .hi = 1e10},
    MW_FIELDS_END,
};
#undef T
const mw_record mw_train_record = {"training", sizeof(mw_train_config), train_fields,
                                   "how suite stability trains", NULL};

static const mw_field check_fields[] = {
    {"tol", MW_FK_F64, offsetof(mw_check_config, tol),
     "float64 deterministic methods must be within X of gold, relative L2", .opt = "tol",
     .meta = "X", .lo = 0, .hi = 1},
    {"proj_repeats", MW_FK_INT, offsetof(mw_check_config, proj_repeats),
     "projforward's unbiasedness: draws per K in 1, 4, 16, 64, 256 (0: not measured)",
     .opt = "proj-repeats", .meta = "R", .lo = 0, .hi = 1 << 16},
    MW_FIELDS_END,
};
const mw_record mw_check_record = {"check", sizeof(mw_check_config), check_fields,
                                   "what gradcheck requires", NULL};

static const mw_field timing_fields[] = {
    {"repeats", MW_FK_INT, offsetof(mw_timing_config, repeats),
     "timed gradients per method after a warm-up; the median is kept", .opt = "repeats",
     .meta = "R", .lo = 1, .hi = 1000},
    MW_FIELDS_END,
};
const mw_record mw_timing_record = {"timing", sizeof(mw_timing_config), timing_fields,
                                    "how suite timing times", NULL};

#define Y(m) offsetof(mw_layers_config, m)
static const mw_field layers_fields[] = {
    {"layers", MW_FK_LIST, Y(names),
     "the layer types to check (mwverify layer list names them); none: every real one",
     .elem = MW_FK_STR, .elem_bytes = 32, .size = MW_SUITE_MAX_LAYERS, .count = Y(n_names),
     .opt = "layer", .meta = "LIST"},
    {"include_faulty", MW_FK_BOOL, Y(include_faulty),
     "also the negative controls: deliberately wrong variants, each of which must be\n"
     "caught by a check",
     .opt = "include-faulty"},
    {"baseline", MW_FK_STR, Y(baseline),
     "an earlier report of layer checks: a check whose error grew by more than --factor\n"
     "over it fails as a regression",
     .size = sizeof(((mw_layers_config *)0)->baseline), .opt = "baseline", .meta = "OLD.h5"},
    {"factor", MW_FK_F64, Y(factor), "the growth --baseline tolerates (> 1)", .opt = "factor",
     .meta = "F", .lo = 1, .hi = 1e12},
    {"layer_plugin", MW_FK_STR, Y(plugin),
     "check the layers of this plugin (a shared object, docs/layer-plugins.md) instead of\n"
     "the registry's; :NAME picks one of its layers. It runs in child processes: a crash\n"
     "or a hang in it is a failed check (MW_PLUGIN_TIME_LIMIT seconds, default 60)",
     .size = sizeof(((mw_layers_config *)0)->plugin), .opt = "layer-plugin",
     .meta = "PATH.so[:NAME]"},
    {"layer_cmd", MW_FK_STR, Y(cmd),
     "check the layers a process serves over the layer protocol (docs/layer-protocol.md;\n"
     "python/ serves PyTorch, JAX and numpy layers): COMMAND runs through /bin/sh, once\n"
     "for each group of checks; the silver path",
     .size = sizeof(((mw_layers_config *)0)->cmd), .opt = "layer-cmd", .meta = "COMMAND"},
    MW_FIELDS_END,
};
#undef Y
const mw_record mw_layers_record = {"layers", sizeof(mw_layers_config), layers_fields,
                                    "which layer types suite layers checks", NULL};

/* ---- the option groups ---- */

static const mw_field budget_fields[] = {
    {"time_budget_seconds", MW_FK_F64, offsetof(mw_budget_config, time_budget_s),
     "refuse to start when the estimated time on this machine is longer (or when the\n"
     "estimated memory is more than this machine has available)",
     .unit = MW_UNIT_SECONDS, .opt = "time-budget", .meta = "TIME", .lo = 0, .hi = 1e10},
    MW_FIELDS_END,
};
const mw_record mw_budget_record = {"budget", sizeof(mw_budget_config), budget_fields,
                                    "how long a suite may take", NULL};

#define C(m) offsetof(mw_suite_config, m)
/* Not in the configuration: a resume may be given another budget. */
const mw_optgroup mw_budget_group = {NULL, "budget", &mw_budget_record, C(budget)};
const mw_optgroup mw_grid_group = {"grid", "grid (overrides the preset; comma lists)",
                                   &mw_grid_record, C(grid)};
const mw_optgroup mw_network_group = {"network", "network (every cell; mlp and revnet)",
                                      &mw_spec_record, C(mlp), MW_F_SWEPT, "revnet", C(revnet)};
const mw_optgroup mw_methods_group = {"methods", "methods", &mw_method_config_record,
                                      C(methods)};
const mw_optgroup mw_oracle_group = {"oracle", "gold oracle", &mw_oracle_config_record,
                                     C(oracle), MW_F_SWEPT};
const mw_optgroup mw_exact_oracle_group = {"oracle", "oracle (gold or proof)",
                                           &mw_oracle_config_record, C(oracle)};
const mw_optgroup mw_engine_group = {"engine", "engine", &mw_engine_config_record, C(engine)};
#undef C

/* ---- defaults and the grid ---- */

void mw_suite_defaults(mw_suite_config *c)
{
    memset(c, 0, sizeof *c);
    c->mlp = mw_spec_default();
    c->mlp.width = 8, c->mlp.hidden = 8, c->mlp.batch = 4, c->mlp.classes = 3;
    /* the revnet cell: 4 channels of 8x8, 3 blocks, k = 1 with BN (the golden shape) */
    c->revnet = mw_spec_revnet_default();
    c->revnet.batch = c->mlp.batch, c->revnet.classes = c->mlp.classes;
    c->methods = mw_method_config_default();
    c->oracle = mw_oracle_config_default();
    c->oracle.kind = MW_ORACLE_GOLD;
    c->engine = (mw_engine_config){MW_BACKEND_CPU, MW_MATH_STRICT};
    c->check = (mw_check_config){1e-11, 8};
    c->timing.repeats = 5;
    c->layers.factor = 4.0;
    c->budget.time_budget_s = 6 * 3600.0;
    c->train = (mw_train_config){.epochs = 8, .n_train = 1024, .n_test = 512,
                                 .dataset = "synthetic", .separation = 1.0, .noise = 1.5,
                                 .lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                                 .decay = 0.95, .gold_every = 128, .explode = 10.0,
                                 .run_budget_gflop = 30.0, .time_budget_s = 6 * 3600.0};
    mw_suite_grid *g = &c->grid;
    g->archs[0] = MW_ARCH_MLP, g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
    g->f_acts[0] = MW_ACT_RELU, g->f_acts[1] = MW_ACT_TANH, g->n_f_acts = 2;
    g->out_acts[0] = MW_ACT_IDENTITY, g->out_acts[1] = MW_ACT_TANH, g->out_acts[2] = MW_ACT_LEAKY;
    g->n_out_acts = 3;
    const int d[] = {1, 2, 4, 8};
    memcpy(g->depths, d, sizeof d), g->n_depths = 4;
    g->lpbs[0] = 1, g->n_lpbs = 1;
    g->channels[0] = c->revnet.channels, g->n_channels = 1;
    g->dtypes[0] = MW_F32, g->dtypes[1] = MW_F64, g->n_dtypes = 2;
    g->init_scales[0] = 1.0, g->n_init_scales = 1;
    g->seeds[0] = 1, g->n_seeds = 1;
    g->suite_seed = 1;
}

long mw_grid_n_networks_of(const mw_suite_config *c, mw_arch a)
{
    const mw_suite_grid *g = &c->grid;
    long depths = a == MW_ARCH_REVNET ? (long)g->n_lpbs * g->n_channels : g->n_depths;
    return (long)g->n_f_acts * g->n_out_acts * depths * g->n_init_scales * g->n_seeds;
}

long mw_grid_n_networks(const mw_suite_config *c)
{
    long n = 0;
    for (int a = 0; a < c->grid.n_archs; a++)
        n += mw_grid_n_networks_of(c, c->grid.archs[a]);
    return n;
}

long mw_grid_runs_per_network(const mw_suite_config *c)
{
    long m = 0;
    for (int i = 0; i < MW_N_METHODS; i++)
        m += c->methods.want[i] != 0;
    return m * c->grid.n_dtypes;
}


void mw_grid_network(const mw_suite_config *c, long u, mw_spec *out)
{
    const mw_suite_grid *g = &c->grid;
    int a = 0;
    while (a + 1 < g->n_archs && u >= mw_grid_n_networks_of(c, g->archs[a]))
        u -= mw_grid_n_networks_of(c, g->archs[a++]);
    const mw_arch arch = g->archs[a];
    const int n_depths = arch == MW_ARCH_REVNET ? g->n_lpbs * g->n_channels : g->n_depths;
    long seed_i = u % g->n_seeds;
    u /= g->n_seeds;
    long scale_i = u % g->n_init_scales;
    u /= g->n_init_scales;
    long depth_i = u % n_depths;
    u /= n_depths;
    long out_i = u % g->n_out_acts;
    u /= g->n_out_acts;
    long f_i = u % g->n_f_acts;
    if (arch == MW_ARCH_REVNET) { /* channels vary slower than layers per block */
        *out = c->revnet;
        out->layers_per_block = g->lpbs[depth_i % g->n_lpbs];
        out->channels = g->channels[depth_i / g->n_lpbs];
    } else {
        *out = c->mlp;
        out->depth = g->depths[depth_i];
    }
    out->arch = arch;
    out->f_act = g->f_acts[f_i];
    out->out_act = g->out_acts[out_i];
    out->init_scale = g->init_scales[scale_i];
    out->seed = mw_splitmix64(g->suite_seed ^ mw_splitmix64(g->seeds[seed_i]));
    mw_spec_complete(out);
}

long mw_grid_run_index(const mw_suite_config *c, long u, int dtype_pos, mw_method m)
{
    return (u * c->grid.n_dtypes + dtype_pos) * MW_N_METHODS + (long)m;
}

mw_grad_request mw_grid_request(const mw_suite_config *c, long u)
{
    mw_grad_request r = mw_grad_request_default();
    mw_grid_network(c, u, &r.spec);
    r.dtype = c->grid.dtypes[0];
    r.methods = c->methods;
    r.oracle = c->oracle;
    r.engine = c->engine;
    return r;
}

mw_status mw_grid_unit(const mw_suite_config *c, long unit, mw_grad_case *gc,
                       mw_unit_result *out, mw_err *err)
{
    memset(out, 0, sizeof *out);
    out->unit = unit;
    mw_grad_request req = mw_grid_request(c, unit);
    mw_err why;
    mw_status st = mw_grad_case_prepare(&req, gc, &why);
    mw_grad_case_network(gc, unit, &out->net);
    if (st != MW_OK) {
        out->net.status = MW_NET_FAILED;
        snprintf(out->net.message, sizeof out->net.message, "%.300s", why.msg);
    }
    const int usable = out->net.status == MW_NET_OK;
    out->runs = calloc((size_t)mw_grid_runs_per_network(c) + 1, sizeof *out->runs);
    if (!out->runs)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_status rc = MW_OK;
    for (int t = 0; t < c->grid.n_dtypes && rc == MW_OK; t++) {
        mw_method_results res;
        memset(&res, 0, sizeof res);
        mw_status rst = usable ? mw_grad_case_run(&req, gc, c->grid.dtypes[t], &res, &why)
                               : MW_ERR_ARG;
        for (int m = 0; m < MW_N_METHODS && rc == MW_OK; m++) {
            if (!c->methods.want[m])
                continue;
            mw_report_run run = res.m[m].run;
            if (rst != MW_OK) { /* no oracle, or no run: every run says why */
                memset(&run, 0, sizeof run);
                run.diag = mw_diagnosis_none();
                run.status = MW_RUN_FAILED;
                snprintf(run.message, sizeof run.message, "%.300s",
                         usable ? why.msg : out->net.message);
            }
            run.index = mw_grid_run_index(c, unit, t, (mw_method)m);
            run.network = unit;
            run.method = (mw_method)m;
            run.dtype = c->grid.dtypes[t];
            run.n_layers = gc->spec.depth + 1;
            if (mw_run_copy(&out->runs[out->n_runs], &run) != MW_OK)
                rc = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
            else
                out->n_runs++;
        }
        mw_method_results_free(&res);
    }
    return rc;
}

mw_status mw_grid_validate(const mw_suite_config *c, int gold, mw_err *err)
{
    if (mw_grid_n_networks(c) == 0 || mw_grid_runs_per_network(c) == 0)
        return mw_err_set(err, MW_ERR_ARG, "the grid is empty");
    double gold_s = 0.0;
    for (long u = 0; u < mw_grid_n_networks(c); u++) {
        mw_spec s;
        mw_grid_network(c, u, &s);
        char why[256];
        if (mw_spec_validate(&s, why, sizeof why) != 0)
            return mw_err_set(err, MW_ERR_ARG, "--%s", why);
        if (gold)
            gold_s += c->oracle.kind == MW_ORACLE_PROOF
                          ? mw_proof_cost_seconds(&s, c->oracle.gold.bits)
                          : mw_gold_cost_seconds(&s, &c->oracle.gold);
    }
    if (gold_s > c->oracle.gold_budget_s) {
        char a[32], b[32];
        return mw_err_set(err, MW_ERR_ARG,
                          "oracle %s: estimated %s for the %ld network%s of the grid, over "
                          "the %s of --gold-budget; shrink the grid or raise --gold-budget",
                          c->oracle.kind == MW_ORACLE_PROOF ? "proof" : "gold",
                          mw_fmt_seconds(a, sizeof a, gold_s), mw_grid_n_networks(c),
                          mw_grid_n_networks(c) == 1 ? "" : "s",
                          mw_fmt_seconds(b, sizeof b, c->oracle.gold_budget_s));
    }
    return MW_OK;
}

/* ---- the registry ---- */

const mw_suite_def *mw_suite_find(const char *name)
{
    for (int i = 0; mw_suites[i]; i++)
        if (strcmp(mw_suites[i]->name, name) == 0)
            return mw_suites[i];
    return NULL;
}

const mw_preset *mw_suite_preset(const mw_suite_def *def, const char *name)
{
    for (const mw_preset *p = def->presets; p->name; p++)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

void mw_suite_configure(const mw_suite_def *def, const mw_preset *p, mw_suite_config *c)
{
    mw_suite_defaults(c);
    if (!p)
        p = &def->presets[0];
    p->apply(c);
    mw_spec_complete(&c->revnet);
    snprintf(c->preset, sizeof c->preset, "%s", p->name);
}

long mw_suite_n_units(const mw_suite_def *def, const mw_suite_config *c)
{
    return def->n_units ? def->n_units(c) : mw_grid_n_networks(c);
}

long mw_suite_runs_per_unit(const mw_suite_def *def, const mw_suite_config *c)
{
    return def->runs_per_unit ? def->runs_per_unit(c) : mw_grid_runs_per_network(c);
}

void mw_estimate_release(mw_estimate *e)
{
    free(e->unit_cost);
    e->unit_cost = NULL;
}

void mw_estimate_unit_cost(mw_estimate *e, long n_units, long u, double cost)
{
    if (!e->unit_cost && n_units > 0)
        e->unit_cost = calloc((size_t)n_units, sizeof *e->unit_cost);
    if (e->unit_cost && u >= 0 && u < n_units)
        e->unit_cost[u] = cost;
}

mw_status mw_suite_prepare(const mw_suite_def *def, mw_suite_config *c, int jobs,
                           mw_estimate *est, mw_err *err)
{
    memset(est, 0, sizeof *est);
    mw_status st = def->prepare ? def->prepare(c, jobs, est, err) : mw_grid_validate(c, def->gold, err);
    est->units = mw_suite_n_units(def, c);
    if (st != MW_OK) /* nothing of it to keep */
        mw_estimate_release(est);
    return st;
}

mw_status mw_suite_config_json(const mw_suite_def *def, const mw_suite_config *c, char *buf,
                               size_t n, mw_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_json j;
    mw_json_init(&j, f);
    mw_json_object_begin(&j, NULL);
    mw_json_string(&j, "suite", def->name);
    mw_json_string(&j, "preset", c->preset);
    for (const mw_optgroup *const *g = def->groups; *g; g++)
        mw_json_group(&j, *g, c);
    mw_json_object_end(&j);
    int bad = mw_json_finish(&j);
    fclose(f);
    mw_status st = MW_OK;
    if (bad || len >= n)
        st = mw_err_set(err, MW_ERR_ARG, "the configuration is too large to record");
    else {
        memcpy(buf, text, len + 1);
        if (len && buf[len - 1] == '\n')
            buf[len - 1] = '\0';
    }
    free(text);
    return st;
}

/* ---- estimates ---- */

mw_status mw_grid_unit_cost(const mw_suite_config *c, long u, double *seconds, double *bytes,
                            mw_err *err)
{
    mw_grad_request req = mw_grid_request(c, u);
    mw_grad_cost cost;
    mw_status st = mw_grad_case_estimate(&req, c->grid.dtypes, c->grid.n_dtypes, INFINITY, &cost,
                                         err);
    *seconds = cost.seconds, *bytes = cost.peak_bytes;
    return st;
}

mw_status mw_suite_estimate(const mw_suite_config *c, int jobs, long n_units,
                            mw_unit_cost_fn unit_cost, const char *shrink, mw_estimate *est,
                            mw_err *err)
{
    if (c->engine.backend != MW_BACKEND_CPU || n_units <= 0)
        return MW_OK;
    double total = 0.0, longest = 0.0, biggest = 0.0;
    mw_status st = MW_OK;
    const int par = jobs < n_units ? jobs : (int)n_units;
    long u = 0;
    mw_cpu_sample a, b;
    mw_cpu_sample_now(&a);
    /* once the units so far are over the budget the rest need not be measured */
    for (; u < n_units && st == MW_OK && total / par <= c->budget.time_budget_s; u++) {
        double sec = 0.0, bytes = 0.0;
        st = unit_cost(c, u, &sec, &bytes, err);
        mw_estimate_unit_cost(est, n_units, u, sec);
        total += sec;
        longest = fmax(longest, sec);
        biggest = fmax(biggest, bytes);
    }
    mw_call_cost_release();
    if (st != MW_OK)
        return st;
    mw_cpu_sample_now(&b);
    /* the processes share the processors with whatever else runs on them now; the
     * start-up and this estimate, already spent, are part of the run */
    est->seconds = fmax(total / (par > 0 ? par : 1), longest) *
                       mw_load_factor(mw_cpu_others(&a, &b), par) +
                   mw_process_age();
    est->bytes = biggest * (par > 0 ? par : 1);
    char where[96];
    snprintf(where, sizeof where, "on this machine's CPU with %d process%s (%ld units)", par,
             par == 1 ? "" : "es", n_units);
    return mw_budget_check(est->seconds, u < n_units, est->bytes, c->budget.time_budget_s, where,
                           shrink, err);
}

/* ---- the configuration read back from a report ---- */

/* One value of kind k from JSON into p (a field, or an item of a list). */
static int json_item_read(const mw_field *f, mw_kind k, json_t *v, void *p, size_t str_bytes)
{
    switch (k) {
    case MW_FK_STR: {
        const char *s = json_is_null(v) ? "" : json_string_value(v);
        if (!s || strlen(s) >= str_bytes)
            return 1;
        memcpy(p, s, strlen(s) + 1);
        return 0;
    }
    case MW_FK_ENUM: {
        int e;
        if (!json_is_string(v) || mw_name_parse(f->names, json_string_value(v), &e) != 0)
            return 1;
        *(int *)p = e;
        return 0;
    }
    case MW_FK_BOOL:
        if (!json_is_boolean(v))
            return 1;
        *(int *)p = json_is_true(v);
        return 0;
    case MW_FK_F64:
        if (json_is_null(v)) { /* written for a value that is not finite */
            if (isfinite(*(double *)p))
                *(double *)p = NAN;
            return 0;
        }
        if (!json_is_number(v))
            return 1;
        *(double *)p = json_number_value(v);
        return 0;
    case MW_FK_U64:
        if (json_is_string(v)) { /* above 2^53, as a string (mw_json_unsigned) */
            char *end;
            errno = 0;
            unsigned long long u = strtoull(json_string_value(v), &end, 10);
            if (errno || *end || end == json_string_value(v))
                return 1;
            *(uint64_t *)p = u;
            return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return 1;
        *(uint64_t *)p = (uint64_t)json_integer_value(v);
        return 0;
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: {
        long long x;
        if (json_is_null(v) && (f->flags & MW_F_NULL_NEG))
            x = -1;
        else if (json_is_integer(v))
            x = json_integer_value(v);
        else
            return 1;
        if (k == MW_FK_INT) {
            if (x < INT_MIN || x > INT_MAX)
                return 1;
            *(int *)p = (int)x;
        } else if (k == MW_FK_LONG) {
            *(long *)p = (long)x;
        } else if (k == MW_FK_I64) {
            *(long long *)p = x;
        } else {
            if (x < 0)
                return 1;
            *(size_t *)p = (size_t)x;
        }
        return 0;
    }
    default: return 1;
    }
}

/* The members of obj that are fields of r, into rec (fields with skip's flags left out, as
 * mw_json_members_except wrote them). A member that is absent keeps rec's value. The
 * field's name in *bad when one cannot be read. */
static int json_members_read(json_t *obj, const mw_record *r, void *rec, unsigned skip,
                             const char **bad)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (f->flags & (MW_F_NO_JSON | skip))
            continue;
        void *p = mw_field_at(f, rec);
        if (f->kind == MW_FK_RECORD && !(f->flags & MW_F_NEST)) {
            if (json_members_read(obj, f->sub, p, 0, bad))
                return 1;
            continue;
        }
        json_t *v = json_object_get(obj, f->name);
        if (!v)
            continue;
        *bad = f->name;
        switch (f->kind) {
        case MW_FK_RECORD:
            if (!json_is_object(v) || json_members_read(v, f->sub, p, 0, bad))
                return 1;
            break;
        case MW_FK_SET: {
            int *flags = p;
            if (!json_is_array(v))
                return 1;
            for (int e = 0; e < f->names->n; e++)
                flags[e] = 0;
            for (size_t i = 0; i < json_array_size(v); i++) {
                int e;
                json_t *item = json_array_get(v, i);
                if (!json_is_string(item) || mw_name_parse(f->names, json_string_value(item), &e))
                    return 1;
                flags[e] = 1;
            }
            break;
        }
        case MW_FK_LIST: {
            if (!json_is_array(v) || json_array_size(v) > f->size)
                return 1;
            for (size_t i = 0; i < json_array_size(v); i++)
                if (json_item_read(f, f->elem, json_array_get(v, i),
                                   (char *)p + i * mw_field_elem_size(f), f->elem_bytes))
                    return 1;
            *(int *)((char *)rec + f->count) = (int)json_array_size(v);
            break;
        }
        default:
            if (json_item_read(f, f->kind, v, p, f->size))
                return 1;
            break;
        }
    }
    return 0;
}

mw_status mw_suite_config_from_json(const mw_suite_def *def, const char *text,
                                    mw_suite_config *c, mw_err *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return mw_err_set(err, MW_ERR_FORMAT, "its configuration is not JSON (%s)", jerr.text);
    }
    mw_status st = MW_OK;
    const char *suite = json_string_value(json_object_get(root, "suite"));
    const char *preset = json_string_value(json_object_get(root, "preset"));
    const mw_preset *p = preset ? mw_suite_preset(def, preset) : NULL;
    if (!suite || strcmp(suite, def->name) != 0)
        st = mw_err_set(err, MW_ERR_FORMAT, "its configuration is of another suite");
    else if (!p)
        st = mw_err_set(err, MW_ERR_FORMAT, "its configuration names no preset of suite %s",
                        def->name);
    if (st == MW_OK) {
        mw_suite_configure(def, p, c);
        const char *bad = "?";
        for (const mw_optgroup *const *g = def->groups; *g && st == MW_OK; g++) {
            if (!(*g)->key)
                continue;
            json_t *o1 = json_object_get(root, (*g)->key);
            json_t *o2 = (*g)->offset2 ? json_object_get(root, (*g)->key2) : NULL;
            if (!json_is_object(o1) || ((*g)->offset2 && !json_is_object(o2)) ||
                json_members_read(o1, (*g)->record, (char *)c + (*g)->offset, (*g)->skip, &bad) ||
                (o2 && json_members_read(o2, (*g)->record, (char *)c + (*g)->offset2, (*g)->skip,
                                         &bad)))
                st = mw_err_set(err, MW_ERR_FORMAT, "its configuration's %s.%s cannot be read",
                                (*g)->key, bad);
        }
    }
    json_decref(root);
    /* read back exactly, or not at all: written again, it is the same text */
    const size_t cap = sizeof ((mw_report_meta *)0)->config_json;
    char *again = st == MW_OK ? malloc(cap) : NULL;
    if (st == MW_OK && !again)
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    if (st == MW_OK &&
        (mw_suite_config_json(def, c, again, cap, err) != MW_OK || strcmp(again, text) != 0))
        st = mw_err_set(err, MW_ERR_FORMAT, "its configuration is not one this mwverify writes "
                        "(written by another version?)");
    free(again);
    return st;
}
