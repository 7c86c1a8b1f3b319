/* `mwverify grad`: one gradient of one network and batch, by the chosen methods, each
 * measured against an oracle: gold (MPFR, self-certified) when it is quick, else silver
 * (the float64 engine's backprop). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dump.h"
#include "emit.h"
#include "netopts.h"

typedef struct grad_state {
    mw_grad_request req;
    mw_engine_info engine;  /* what the methods ran on */
    mw_spec revnet; /* the network when --arch revnet */
    const char *mlp_only, *revnet_only; /* an option given that only that arch has */
    int json, per_layer, force;
    const char *dump;
} grad_state;

static const mw_opt grad_opts[] = {
    {"depth", "L", "mlp: coupling layers (default 4)"},
    {"layers-per-block", "L", "revnet: coupling layers per block (default 1)"},
    {"dtype", "T", "f32 or f64: the engine's precision under test (default f32)"},
    {"oracle", "KIND", "gold, silver or auto (default auto: gold when its estimated time is\n"
                       "at most 5 s, which holds for the default network, else silver)"},
    {"dump", "FILE.h5", "write the network, batch, every gradient and the oracle's to an\n"
                        "HDF5 file (layout in reports/SCHEMA.md); never over an existing\n"
                        "file unless --force"},
    {"force", NULL, "let --dump replace an existing file"},
    {"per-layer", NULL, "print each method's rel_l2 per layer (always in --json)"},
    {"json", NULL, "print one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt *const grad_tables[] = {grad_opts,      mw_act_opts,    mw_size_opts,
                                            mw_seed_opts,   mw_method_opts, mw_oracle_opts,
                                            mw_engine_opts, NULL};

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    grad_state *g = state;
    if (strcmp(name, "width") == 0 || strcmp(name, "depth") == 0)
        g->mlp_only = name;
    if (strcmp(name, "channels") == 0 || strcmp(name, "image") == 0 ||
        strcmp(name, "blocks") == 0 || strcmp(name, "layers-per-block") == 0)
        g->revnet_only = name;
    int rc = mw_net_opt_apply(&g->req, &g->revnet, name, v, err, n);
    if (rc < 0)
        rc = mw_oracle_opt_apply(&g->req, name, v, err, n);
    if (rc < 0)
        rc = mw_engine_opt_apply(&g->req, name, v, err, n);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "depth") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_DEPTH, &g->req.spec.depth, err, n);
    if (strcmp(name, "dtype") == 0) {
        if (mw_dtype_parse(v, &g->req.dtype) == 0)
            return 0;
        snprintf(err, n, "--dtype %s: unknown dtype (allowed: f32, f64)", v);
        return 1;
    }
    if (strcmp(name, "oracle") == 0) {
        if (strcmp(v, "gold") == 0 || strcmp(v, "silver") == 0 || strcmp(v, "auto") == 0) {
            g->req.oracle = v[0] == 'g' ? MW_ORACLE_GOLD : v[0] == 's' ? MW_ORACLE_SILVER
                                                                       : MW_ORACLE_AUTO;
            return 0;
        }
        snprintf(err, n, "--oracle %s: unknown oracle (allowed: gold, silver, auto)", v);
        return 1;
    }
    if (strcmp(name, "dump") == 0) {
        g->dump = v;
        return 0;
    }
    if (strcmp(name, "force") == 0)
        return g->force = 1, 0;
    if (strcmp(name, "per-layer") == 0)
        return g->per_layer = 1, 0;
    if (strcmp(name, "json") == 0)
        return g->json = 1, 0;
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

static void print_help(void)
{
    printf("usage: mwverify grad [options]\n\n"
           "Compute the gradient dJ/dθ of one seeded network on one synthetic batch by each\n"
           "chosen method and measure each against an oracle: relative L2 error, largest\n"
           "absolute error, largest error in ulps of the method's dtype, cosine, gradient\n"
           "norm, per-layer error, moonwalk/mixed closure error, peak working bytes\n"
           "(parameters and gradient not counted) and wall time.\n\n"
           "The oracle is gold — the exact gradient from an independent MPFR implementation,\n"
           "certified by recomputing it with 64 more bits and witnessed by central\n"
           "differences in MPFR — or silver, the float64 engine's own backprop.\n\n"
           "The network: `depth` additive coupling layers on `width` features,\n"
           "z = b + F(a), y = (a, σ(z)), halves alternating with the layer's parity;\n"
           "F = `units` x [dense -> f-act (-> BatchNorm)]; a dense head and mean softmax\n"
           "cross-entropy over the batch. With --arch revnet: `blocks` blocks of\n"
           "`layers-per-block` couplings over channel halves of a C x H x W image, F =\n"
           "`units` x [3x3 conv -> f-act -> BatchNorm], the 2x2 squeeze between blocks,\n"
           "and a global average pool before the head.\n\n"
           "options:\n");
    mw_args_print_options(stdout, grad_opts);
    printf("\nnetwork (default: mlp width 16, hidden 32, units 2, depth 4, relu, none, batch\n"
           "8, 4 classes, init-scale 1, seed 1; revnet: 4 channels of 8x8, 3 blocks of 1,\n"
           "units 1 with BN, hidden half the channels, batch 4):\n");
    mw_args_print_options(stdout, mw_act_opts);
    mw_args_print_options(stdout, mw_size_opts);
    mw_args_print_options(stdout, mw_seed_opts);
    printf("\nmethods:\n");
    mw_args_print_options(stdout, mw_method_opts);
    printf("\ngold oracle:\n");
    mw_args_print_options(stdout, mw_oracle_opts);
    printf("\nengine:\n");
    mw_args_print_options(stdout, mw_engine_opts);
    printf("\nexamples:\n"
           "  mwverify grad\n"
           "  mwverify grad --dtype f64 --methods all --json\n"
           "  mwverify grad --depth 10 --out-act tanh --init-scale 3 --methods backprop,mixed\n"
           "  mwverify grad --oracle gold --oracle-bits 512 --dump grad.h5\n"
           "  mwverify grad --arch revnet --image 16x16 --layers-per-block 2 --dtype f64\n\n"
           "exit status: 0 results printed (non-finite gradients are results and are said\n"
           "so), 1 the gold oracle could not certify itself, 2 bad usage, 3 a method could\n"
           "not run (out of memory, backend failure) or the dump could not be written.\n");
}

static int print_json(const grad_state *g, const mw_grad_case *c, const mw_method_runs *runs)
{
    mw_json j;
    mw_json_init(&j, stdout);
    mw_json_object_begin(&j, NULL);
    mw_emit_spec_json(&j, "spec", &c->spec);
    mw_json_string(&j, "dtype", mw_dtype_name(g->req.dtype));
    mw_json_object_begin(&j, "engine");
    mw_json_string(&j, "backend", g->engine.backend);
    mw_json_string(&j, "device", g->engine.device);
    mw_json_string(&j, "math", g->engine.math);
    if (g->req.engine != MW_BACKEND_CPU) {
        mw_json_integer(&j, "compute_major", g->engine.cc_major);
        mw_json_integer(&j, "compute_minor", g->engine.cc_minor);
        mw_json_integer(&j, "driver_version", g->engine.driver_version);
        mw_json_integer(&j, "runtime_version", g->engine.runtime_version);
        mw_json_unsigned(&j, "memory_free_bytes", (unsigned long long)g->engine.mem_free);
    }
    mw_json_object_end(&j);
    mw_json_integer(&j, "n_params", (long long)c->lay.total);
    mw_emit_oracle_json(&j, c);
    mw_emit_methods_json(&j, c, runs);
    mw_json_object_end(&j);
    return mw_json_finish(&j);
}

static void print_table(const grad_state *g, const mw_grad_case *c, const mw_method_runs *runs)
{
    char net[256];
    mw_spec_describe(&c->spec, net, sizeof net);
    printf("network: %s: %zu parameters\n", net, c->lay.total);
    if (g->req.engine != MW_BACKEND_CPU)
        printf("engine: %s, %s (compute %d.%d, driver %d, runtime %d), %s matrix products\n",
               g->engine.backend, g->engine.device, g->engine.cc_major, g->engine.cc_minor,
               g->engine.driver_version, g->engine.runtime_version, g->engine.math);
    mw_print_oracle(stdout, c);
    printf("methods in %s, against the oracle; max_ulp in %s ulps; closure = "
           "|h_L - dJ/dx_L|/|dJ/dx_L|\n\n",
           mw_dtype_name(g->req.dtype), mw_dtype_name(g->req.dtype));
    mw_print_runs_header(stdout, "");
    mw_print_runs(stdout, "", c, runs, g->per_layer);
}

static int write_dump(const grad_state *g, const mw_grad_case *c, const mw_method_runs *runs,
                      const char *cmdline)
{
    mw_dump_method dm[MW_N_METHODS];
    int n = 0;
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &runs->run[m];
        if (r->state == MW_RUN_NOT_ASKED)
            continue;
        int ran = r->state == MW_RUN_OK || r->state == MW_RUN_NONFINITE;
        dm[n++] = (mw_dump_method){
            .name = mw_method_name((mw_method)m),
            .status = mw_run_state_name(r->state),
            .message = r->message[0] ? r->message : NULL,
            .grad = r->grad,
            .rel_l2 = r->vs_oracle.rel_l2,
            .max_abs = r->vs_oracle.max_abs,
            .max_ulp = r->vs_oracle.max_ulp,
            .cosine = r->vs_oracle.cosine,
            .seconds = ran ? r->seconds : NAN,
            .closure_err = r->info.closure_err,
            .peak_bytes = ran ? (long long)r->info.peak_bytes : -1,
        };
    }
    int gold = c->oracle == MW_ORACLE_GOLD;
    mw_dump d = {
        .spec = &c->spec,
        .lay = &c->lay,
        .version = MW_VERSION,
        .command_line = cmdline,
        .dtype = mw_dtype_name(g->req.dtype),
        .theta = c->theta,
        .x = c->x,
        .labels = c->labels,
        .oracle = mw_oracle_name(c->oracle),
        .oracle_hi = c->ref_hi,
        .oracle_lo = c->ref_lo,
        .oracle_loss = c->ref_loss,
        .oracle_bits = gold ? c->gold.bits : 0,
        .oracle_check_bits = gold ? c->gold.check_bits : 0,
        .certified_bits = gold ? c->gold.certified_bits : NAN,
        .fd_agree_bits = gold ? c->gold.fd_agree_bits : NAN,
        .n_methods = n,
        .methods = dm,
    };
    char msg[512];
    if (mw_dump_write(g->dump, &d, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        return MW_EXIT_RUNTIME;
    }
    return MW_EXIT_OK;
}

int mw_cmd_grad(int argc, char **argv)
{
    grad_state g = {.req = mw_grad_request_default(), .revnet = mw_spec_revnet_default()};
    int help = 0;
    int rc = mw_args_parse("grad", grad_tables, argc, argv, apply, &g, &help);
    mw_net_choose(&g.req, &g.revnet);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        print_help();
        return MW_EXIT_OK;
    }
    const int revnet = g.req.spec.arch == MW_ARCH_REVNET;
    if (revnet ? g.mlp_only != NULL : g.revnet_only != NULL) {
        fprintf(stderr, "mwverify grad: --%s: %s\n", revnet ? g.mlp_only : g.revnet_only,
                revnet ? "an mlp option; a revnet has --channels x --image features and "
                         "--blocks x --layers-per-block layers"
                       : "a revnet option; add --arch revnet, or give the mlp's --width and "
                         "--depth");
        return MW_EXIT_USAGE;
    }
    char msg[512];
    if (mw_spec_validate(&g.req.spec, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify grad: --%s\n", msg);
        return MW_EXIT_USAGE;
    }
    if (mw_engine_probe(g.req.engine, g.req.math, g.req.dtype, &g.engine, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        return MW_EXIT_RUNTIME;
    }
    for (int m = 0; m < MW_N_METHODS; m++)
        if (g.req.named && g.req.want[m] && mw_method_needs_inverse((mw_method)m) &&
            !mw_spec_invertible(&g.req.spec)) {
            fprintf(stderr, "mwverify grad: --methods %s: needs the inverse of every layer, but "
                            "--out-act leaky with --leaky-slope 0 is not invertible\n",
                    mw_method_name((mw_method)m));
            return MW_EXIT_USAGE;
        }
    if (g.dump && mw_dump_check_path(g.dump, g.force, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        return MW_EXIT_USAGE;
    }
    mw_grad_case c;
    mw_status st = mw_grad_case_prepare(&g.req, &c, msg, sizeof msg);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        mw_grad_case_free(&c);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE
               : st == 99 ? MW_EXIT_CHECKS
                                          : MW_EXIT_RUNTIME;
    }
    mw_method_runs runs;
    st = mw_grad_case_run(&g.req, &c, g.req.dtype, &runs, msg, sizeof msg);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        rc = MW_EXIT_RUNTIME;
        goto done;
    }
    if (g.json) {
        if (print_json(&g, &c, &runs) != 0) {
            fprintf(stderr, "mwverify grad: writing the JSON to standard output failed\n");
            rc = MW_EXIT_RUNTIME;
        }
    } else {
        print_table(&g, &c, &runs);
    }
    for (int m = 0; m < MW_N_METHODS; m++)
        if (runs.run[m].state == MW_RUN_FAILED) {
            fprintf(stderr, "mwverify grad: %s could not run: %s\n", mw_method_name((mw_method)m),
                    runs.run[m].message);
            rc = MW_EXIT_RUNTIME;
        }
    if (g.dump) {
        char cmdline[2048];
        mw_args_command_line("grad", argc, argv, cmdline, sizeof cmdline);
        int drc = write_dump(&g, &c, &runs, cmdline);
        if (drc != MW_EXIT_OK)
            rc = drc;
    }
done:
    mw_method_runs_free(&runs);
    mw_grad_case_free(&c);
    return rc;
}
