/* `mwverify grad`: one gradient of one network and batch, by the chosen methods, each
 * measured against an oracle: gold (MPFR, self-certified) when it is quick, else silver
 * (the float64 engine's backprop). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "plugin.h"
#include "cli.h"
#include "dump.h"
#include "summary.h"

typedef struct grad_out {
    char out[4096];
    int force, json, per_layer, dry_run, quiet;
    double time_budget_s;
} grad_out;

typedef struct grad_what {
    mw_arch arch;
    mw_dtype dtype;
} grad_what;

typedef struct grad_state {
    grad_out out;
    grad_what what;
    mw_spec mlp, revnet;      /* the network --arch chooses */
    mw_method_config methods;
    mw_oracle_config oracle;
    mw_engine_config engine;
} grad_state;

#define O(m) offsetof(grad_out, m)
static const mw_field out_fields[] = {
    {"out", MW_FK_STR, O(out),
     "write the network, batch, every gradient and the oracle's to an HDF5 file (layout\n"
     "in reports/SCHEMA.md); never over an existing file unless --force",
     .size = sizeof(((grad_out *)0)->out), .opt = "out", .meta = "FILE.h5"},
    {"force", MW_FK_BOOL, O(force), "let --out replace an existing file", .opt = "force"},
    {"per_layer", MW_FK_BOOL, O(per_layer), "print each method's rel_l2 per layer (always in\n"
                                            "--json)", .opt = "per-layer"},
    {"json", MW_FK_BOOL, O(json), "print one JSON object instead of the table", .opt = "json"},
    {"time_budget_seconds", MW_FK_F64, O(time_budget_s),
     "refuse to start when the estimated time on this machine is longer (the estimate:\n"
     "gold, every method that runs, projforward's samples, the diagnosis, at this batch)",
     .unit = MW_UNIT_SECONDS, .opt = "time-budget", .meta = "TIME", .lo = 0, .hi = 1e10},
    {"dry_run", MW_FK_BOOL, O(dry_run),
     "check everything, print the estimated time and memory, and stop", .opt = "dry-run"},
    {"quiet", MW_FK_BOOL, O(quiet), "no estimate on standard error (nor with --json)",
     .opt = "quiet"},
    MW_FIELDS_END,
};
#undef O
static const mw_record out_record = {"output", sizeof(grad_out), out_fields, NULL, NULL};

#define W(m) offsetof(grad_what, m)
static const mw_field what_fields[] = {
    {"arch", MW_FK_ENUM, W(arch),
     "mlp (dense couplings on --width features) or revnet (conv couplings on --channels\n"
     "x --image, --blocks blocks of --layers-per-block, squeeze between blocks; k = 1\n"
     "with BN by default)",
     .names = &mw_arch_names, .opt = "arch", .meta = "NAME"},
    {"dtype", MW_FK_ENUM, W(dtype), "the engine's precision under test", .names = &mw_dtype_names,
     .opt = "dtype", .meta = "T"},
    MW_FIELDS_END,
};
#undef W
static const mw_record what_record = {"what", sizeof(grad_what), what_fields, NULL, NULL};

#define G(m) offsetof(grad_state, m)
static const mw_optgroup groups[] = {
    {NULL, "options", &out_record, G(out)},
    {NULL, "the network and the precision", &what_record, G(what)},
    {"network", "network (mlp: grad's default; revnet: 4 channels of 8x8, 3 blocks of 1, units 1\n"
                "with BN, hidden half the channels)",
     &mw_spec_record, G(mlp), 0, "revnet", G(revnet)},
    {"methods", "methods", &mw_method_config_record, G(methods)},
    {"oracle", "oracle", &mw_oracle_config_record, G(oracle)},
    {"engine", "engine", &mw_engine_config_record, G(engine)},
};
#undef G
enum { N_GROUPS = sizeof groups / sizeof groups[0] };

static void print_help(const mw_cli *cli)
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
           "The network: `depth` coupling layers on `width` features, z = b + F(a) (additive)\n"
           "or z = b ⊙ exp(tanh(F_r(a))) + F_t(a) (affine), y = (a, σ(z)), halves alternating\n"
           "with the layer's parity; F = `units` x [dense -> f-act (-> BatchNorm)]; a dense\n"
           "head and mean softmax cross-entropy over the batch. With --arch revnet: `blocks`\n"
           "blocks of `layers-per-block` couplings over channel halves of a C x H x W image, F =\n"
           "`units` x [3x3 conv -> f-act -> BatchNorm], the 2x2 squeeze between blocks, and a\n"
           "global average pool before the head.\n");
    mw_cli_help(stdout, cli);
    printf("\nexamples:\n"
           "  mwverify grad\n"
           "  mwverify grad --dtype f64 --methods all --json\n"
           "  mwverify grad --depth 10 --out-act tanh --init-scale 3 --methods backprop,mixed\n"
           "  mwverify grad --oracle gold --oracle-bits 512 --out grad.h5\n"
           "  mwverify grad --arch revnet --image 16x16 --layers-per-block 2 --dtype f64\n\n"
           "Before any work it prints its estimated time and peak memory on this machine\n"
           "(standard error; --dry-run prints it and stops), and refuses a run estimated\n"
           "over --time-budget or over the memory this machine has available.\n\n"
           "exit status: 0 results printed (non-finite gradients are results and are said\n"
           "so), 1 the gold oracle could not certify itself (or proof: too few bits proved, or\n"
           "a kink), 2 bad usage or a run over its\n"
           "budget, 3 a method could not run (out of memory, backend failure) or the file\n"
           "could not be written.\n");
}

static int print_json(const grad_state *g, const mw_engine_info *engine, const mw_grad_case *c,
                      const mw_method_results *res)
{
    mw_json j;
    mw_json_init(&j, stdout);
    mw_json_object_begin(&j, NULL);
    mw_json_record(&j, "spec", &mw_spec_record, &c->spec);
    mw_json_string(&j, "dtype", mw_dtype_name(g->what.dtype));
    mw_json_record(&j, "engine", &mw_engine_info_record, engine);
    mw_json_integer(&j, "n_params", (long long)c->lay.total);
    mw_json_object_begin(&j, "oracle");
    mw_json_members(&j, &mw_oracle_record, &c->oracle);
    mw_json_array_begin(&j, "silver_vs_gold_per_layer_rel_l2");
    for (int l = 0; mw_oracle_exact(c->oracle.kind) && l <= c->spec.depth; l++)
        mw_json_number(&j, NULL, c->silver_vs_gold_layers[l]);
    mw_json_array_end(&j);
    mw_json_object_end(&j);
    mw_report_network n;
    mw_grad_case_network(c, 0, &n);
    mw_json_object_begin(&j, "methods");
    for (int m = 0; m < MW_N_METHODS; m++)
        if (g->methods.want[m])
            mw_json_run(&j, mw_method_name((mw_method)m), &res->m[m].run, &n);
    mw_json_object_end(&j);
    mw_json_object_end(&j);
    return mw_json_finish(&j);
}

static int print_table(const grad_state *g, const mw_engine_info *e, const mw_grad_case *c,
                       const mw_method_results *res)
{
    char net[256];
    mw_spec_describe(&c->spec, net, sizeof net);
    printf("network: %s: %zu parameters\n", net, c->lay.total);
    if (g->engine.backend != MW_BACKEND_CPU)
        printf("engine: %s, %s (compute %d.%d, driver %d, runtime %d), %s matrix products\n",
               e->backend, e->device, e->cc_major, e->cc_minor, e->driver_version,
               e->runtime_version, e->math);
    mw_report_network n;
    mw_grad_case_network(c, 0, &n);
    mw_print_network(stdout, &n);
    printf("  oracle loss %.17g, |g*| %.6e\n", c->oracle.loss, c->oracle.grad_norm);
    printf("methods in %s, against the oracle; max_ulp in %s ulps; closure = "
           "|h_L - dJ/dx_L|/|dJ/dx_L|\n\n",
           mw_dtype_name(g->what.dtype), mw_dtype_name(g->what.dtype));
    mw_print_runs_head(stdout, "", 0); /* one gradient, not judged */
    int closure_overflow = 0;
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_result *r = &res->m[m];
        if (!g->methods.want[m])
            continue;
        mw_print_run(stdout, "", &r->run, &n, g->out.per_layer, 0);
        closure_overflow |= r->run.n_steps && mw_method_has_closure((mw_method)m) &&
                            !isfinite(r->step.closure_err);
    }
    if (closure_overflow)
        printf("note: a closure error is not finite: h_L of the vijp sweep overflowed (D⁻¹ = "
               "cosh²(z) of a saturated tanh, or 1/α), after the last parameter gradient was "
               "formed.\n");
    return fflush(stdout) != 0 || ferror(stdout);
}

static mw_status write_dump(const grad_state *g, const mw_grad_case *c,
                            const mw_method_results *res, const char *cmdline, mw_err *err)
{
    mw_report_run runs[MW_N_METHODS];
    const double *grads[MW_N_METHODS];
    size_t n = 0;
    for (int m = 0; m < MW_N_METHODS; m++)
        if (g->methods.want[m]) {
            runs[n] = res->m[m].run;
            grads[n++] = res->m[m].grad;
        }
    mw_dump d = {
        .spec = &c->spec, .lay = &c->lay, .command_line = cmdline, .dtype = g->what.dtype,
        .theta = c->theta, .x = c->x, .labels = c->labels, .oracle = &c->oracle,
        .oracle_hi = c->ref_hi, .oracle_lo = c->ref_lo, .n_runs = n, .runs = runs, .grads = grads,
    };
    return mw_dump_write(g->out.out, &d, err);
}

/* The network --arch chose, and no option of the other architecture. */
static int choose_network(const mw_cli *cli, grad_state *g, mw_grad_request *req)
{
    const int revnet = g->what.arch == MW_ARCH_REVNET;
    const char *off = mw_cli_off_scope(cli, 1u << g->what.arch);
    if (off) {
        fprintf(stderr, "mwverify grad: --%s: %s\n", off,
                revnet ? "an mlp option; a revnet has --channels x --image features and "
                         "--blocks x --layers-per-block layers"
                       : "a revnet option; add --arch revnet, or give the mlp's --width and "
                         "--depth");
        return MW_EXIT_USAGE;
    }
    *req = mw_grad_request_default();
    req->spec = revnet ? g->revnet : g->mlp;
    req->spec.arch = g->what.arch;
    mw_spec_complete(&req->spec);
    req->dtype = g->what.dtype;
    req->methods = g->methods;
    req->oracle = g->oracle;
    req->oracle.gold.threads = mw_cpu_count() >= 2 ? 2 : 1; /* one command: a core is free */
    req->engine = g->engine;
    char why[256];
    if (mw_spec_validate(&req->spec, why, sizeof why) != 0) {
        fprintf(stderr, "mwverify grad: --%s\n", why);
        return MW_EXIT_USAGE;
    }
    for (int m = 0; m < MW_N_METHODS; m++)
        if (req->methods.named && req->methods.want[m] && mw_method_needs_inverse((mw_method)m) &&
            !mw_spec_invertible(&req->spec)) {
            fprintf(stderr, "mwverify grad: --methods %s: needs the inverse of every layer, but "
                            "--out-act leaky with --leaky-slope 0 is not invertible\n",
                    mw_method_name((mw_method)m));
            return MW_EXIT_USAGE;
        }
    return MW_EXIT_OK;
}

/* What to make smaller when the run is over its budget: the part that costs most. */
static void shrink_hint(const mw_grad_request *req, const mw_grad_cost *c, char *buf, size_t n)
{
    int worst = -1;
    for (int m = 0; m < MW_N_METHODS; m++)
        if (c->method_seconds[m] > 0 &&
            (worst < 0 || c->method_seconds[m] > c->method_seconds[worst]))
            worst = m;
    if (c->gold_seconds > 0 && (worst < 0 || c->gold_seconds >= c->method_seconds[worst]))
        snprintf(buf, n, "gold is %.0f%% of it: use --oracle silver or a smaller network",
                 100.0 * c->gold_seconds / c->seconds);
    else if (worst == MW_PROJFORWARD && req->methods.opts.proj_samples > 1)
        snprintf(buf, n, "use fewer --proj-samples, a smaller network or batch");
    else if (worst >= 0)
        snprintf(buf, n, "leave %s out of --methods, or use a smaller network or batch",
                 mw_method_name((mw_method)worst));
    else
        snprintf(buf, n, "use a smaller network or batch");
}

/* The estimate of the whole command — the start-up already spent, the oracles, every
 * method that runs and the diagnosis — checked against the budgets before any work, then
 * said (stdout with --dry-run, else stderr unless --quiet). MW_EXIT_OK to go on. */
static int estimate(const grad_state *g, const mw_grad_request *req, int *stop)
{
    mw_err err;
    mw_grad_cost c;
    *stop = 0;
    mw_status st = MW_OK;
    /* an explicit gold over --gold-budget is refused by its own option, before anything */
    const int proof = req->oracle.kind == MW_ORACLE_PROOF;
    const double gold_s = proof ? mw_proof_cost_seconds(&req->spec, req->oracle.gold.bits)
                                : mw_gold_cost_seconds(&req->spec, &req->oracle.gold);
    if ((proof || req->oracle.kind == MW_ORACLE_GOLD) && gold_s > req->oracle.gold_budget_s) {
        char a[32], b[32];
        st = mw_err_set(&err, MW_ERR_ARG, "oracle %s: estimated %s for this network, over the "
                        "%s of --gold-budget; use --oracle silver or raise --gold-budget",
                        proof ? "proof" : "gold",
                        mw_fmt_seconds(a, sizeof a, gold_s),
                        mw_fmt_seconds(b, sizeof b, req->oracle.gold_budget_s));
    }
    if (st == MW_OK)
        st = mw_grad_case_estimate(req, &req->dtype, 1, g->out.time_budget_s, &c, &err);
    mw_call_cost_release();
    char hint[160], where[64], when[32], mem[32];
    const int cpu = req->engine.backend == MW_BACKEND_CPU;
    snprintf(where, sizeof where, cpu ? "on this machine's CPU" : "on this machine (--engine %s)",
             mw_backend_name(req->engine.backend));
    double load = 1.0;
    if (st == MW_OK) {
        /* the processors are shared with whatever else runs on them now; the start-up,
         * already spent, is part of the run */
        load = mw_load_factor(c.others, 1);
        for (int m = 0; m < MW_N_METHODS; m++)
            c.method_seconds[m] *= load;
        c.gold_seconds *= load, c.diagnosis_seconds *= load;
        c.seconds = c.seconds * load + mw_process_age();
        shrink_hint(req, &c, hint, sizeof hint);
        st = mw_budget_check(c.seconds, c.partial, c.peak_bytes, g->out.time_budget_s, where,
                             hint, &err);
    }
    if (st != MW_OK) {
        mw_cli_error("grad", err.msg);
        return mw_exit_of(st);
    }
    FILE *f = g->out.dry_run ? stdout : g->out.quiet || g->out.json ? NULL : stderr;
    if (f) {
        fprintf(f, "grad: about %s %s, %s of memory at most (",
                mw_fmt_seconds(when, sizeof when, c.seconds), where,
                mw_fmt_bytes(mem, sizeof mem, c.peak_bytes));
        if (load > 1.05)
            fprintf(f, "%.2gx for the other work on its processors now; ", load);
        const char *sep = "";
        if (c.gold_seconds > 0)
            fprintf(f, "gold %s", mw_fmt_seconds(when, sizeof when, c.gold_seconds)), sep = ", ";
        for (int m = 0; m < MW_N_METHODS; m++)
            if (mw_grad_method_runs(req, (mw_method)m))
                fprintf(f, "%s%s %s", sep, mw_method_name((mw_method)m),
                        mw_fmt_seconds(when, sizeof when, c.method_seconds[m])), sep = ", ";
        fprintf(f, "%sthe diagnosis %s)\n", sep,
                mw_fmt_seconds(when, sizeof when, c.diagnosis_seconds));
        fflush(f);
    }
    *stop = g->out.dry_run;
    return MW_EXIT_OK;
}

int mw_cmd_grad(int argc, char **argv)
{
    grad_state g = {.what = {MW_ARCH_MLP, MW_F32}, .mlp = mw_spec_default(),
                    .revnet = mw_spec_revnet_default(), .methods = mw_method_config_default(),
                    .oracle = mw_oracle_config_default(),
                    .engine = {MW_BACKEND_CPU, MW_MATH_STRICT},
                    .out = {.time_budget_s = 600.0}};
    mw_cli cli = {.cmd = "grad"};
    for (int i = 0; i < N_GROUPS; i++)
        mw_cli_add(&cli, &groups[i], &g);
    int rc = mw_cli_parse(&cli, argc, argv);
    if (rc != MW_EXIT_OK || cli.help) {
        if (cli.help)
            print_help(&cli);
        return rc;
    }
    mw_grad_request req;
    if ((rc = choose_network(&cli, &g, &req)) != MW_EXIT_OK)
        return rc;
    mw_err err;
    if (g.engine.layer_cmd[0]) { /* carried as --layer-plugin's value, marked (plugin.h) */
        if (g.engine.layer_plugin[0]) {
            mw_cli_error("grad", "--layer-plugin and --layer-cmd: give one");
            return MW_EXIT_USAGE;
        }
        snprintf(g.engine.layer_plugin, sizeof g.engine.layer_plugin, "%s%.4000s",
                 MW_LAYER_CMD_PREFIX, g.engine.layer_cmd);
    }
    if (g.engine.layer_plugin[0]) { /* a network of the plugin's layer, computed in a child */
        if (req.engine.backend != MW_BACKEND_CPU) {
            mw_cli_error("grad", "--layer-plugin: a plugin's layer runs on the CPU engine only");
            return MW_EXIT_USAGE;
        }
        if (mw_plugin_settle(g.engine.layer_plugin, &req.spec, req.spec.depth, &err) != MW_OK) {
            mw_cli_error("grad", err.msg);
            return mw_exit_of(err.status);
        }
        if (mw_cli_parse_only)
            return MW_EXIT_OK;
        if ((rc = mw_cli_plugin_child("grad", g.engine.layer_plugin, "; nothing was written")) >= 0)
            return rc;
    } else if (req.spec.coupling == MW_COUPLING_PLUGIN) {
        mw_cli_error("grad", "--coupling plugin: give the layer with --layer-plugin PATH.so");
        return MW_EXIT_USAGE;
    }
    if (mw_cli_parse_only)
        return rc;
    mw_engine_info engine;
    mw_grad_case c;
    mw_method_results res;
    memset(&c, 0, sizeof c), memset(&res, 0, sizeof res);
    mw_status st = mw_engine_probe(&req.engine, req.dtype, &engine, &err);
    if (st == MW_OK && g.out.out[0])
        st = mw_dump_check_path(g.out.out, g.out.force, &err);
    if (st == MW_OK) {
        int stop;
        if ((rc = estimate(&g, &req, &stop)) != MW_EXIT_OK || stop)
            return rc;
    }
    if (st == MW_OK)
        st = mw_grad_case_prepare(&req, &c, &err);
    if (st == MW_OK && mw_grad_case_unusable(&c)) {
        mw_cli_error("grad", mw_grad_case_unusable(&c)); /* nothing is measured against it */
        mw_grad_case_free(&c);
        return MW_EXIT_CHECKS;
    }
    if (st == MW_OK)
        st = mw_grad_case_run(&req, &c, req.dtype, &res, &err);
    if (st == MW_OK) {
        if ((g.out.json ? print_json(&g, &engine, &c, &res) : print_table(&g, &engine, &c, &res)) != 0)
            st = mw_err_set(&err, MW_ERR_IO, "writing to standard output failed");
    }
    if (st == MW_OK && g.out.out[0]) {
        char cmdline[2048];
        mw_command_line("grad", argc, argv, cmdline, sizeof cmdline);
        st = write_dump(&g, &c, &res, cmdline, &err);
    }
    if (st != MW_OK)
        mw_cli_error("grad", err.msg);
    else
        rc = MW_EXIT_OK;
    for (int m = 0; st == MW_OK && m < MW_N_METHODS; m++)
        if (g.methods.want[m] && res.m[m].run.status == MW_RUN_FAILED) {
            fprintf(stderr, "mwverify grad: %s could not run: %s\n", mw_method_name((mw_method)m),
                    res.m[m].run.message);
            rc = MW_EXIT_RUNTIME;
        }
    mw_method_results_free(&res);
    mw_grad_case_free(&c);
    return st != MW_OK ? mw_exit_of(st) : rc;
}
