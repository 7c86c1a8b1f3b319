/* `mwverify grad`: one gradient of one network and batch, by the chosen methods, each
 * measured against the float64 engine's backprop (the silver oracle). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "json.h"
#include "suites.h"

typedef struct grad_state {
    mw_grad_request req;
    int json;
} grad_state;

static const mw_opt grad_opts[] = {
    {"arch", "NAME", "architecture: mlp (default mlp)"},
    {"width", "N", "features n of the input, even (default 16)"},
    {"hidden", "N", "width of F's inner units (default 32)"},
    {"units", "K", "units k of F, each dense -> act (default 2)"},
    {"depth", "L", "coupling layers (default 4)"},
    {"f-act", "ACT", "activation inside F: relu, tanh, leaky, identity (default relu)"},
    {"out-act", "ACT", "coupling output activation σ: none, tanh, leaky (default none);\n"
                       "relu is refused: it is not invertible"},
    {"leaky-slope", "A", "slope α of leaky in F and σ, 0..1 (default 0.1); σ = leaky with\n"
                         "α = 0 has no inverse, so revbackprop, moonwalk, mixed skip"},
    {"bn", NULL, "BatchNorm after every unit of F (batch statistics; couples samples,\n"
                 "which turns off moonwalk's one-tangent-per-sample shortcut)"},
    {"batch", "B", "samples in the batch (default 8)"},
    {"classes", "C", "classes of the synthetic data and the head (default 4)"},
    {"seed", "S", "seed of parameters, data and projforward's tangents (default 1)"},
    {"init-scale", "X", "W, c uniform in ±X/sqrt(fan_in); large X saturates (default 1)"},
    {"dtype", "T", "f32 or f64: the engine's precision under test (default f32)"},
    {"methods", "LIST", "comma list of backprop, forward, projforward, revbackprop,\n"
                        "moonwalk, mixed; or all (default all). all skips a method whose\n"
                        "estimated cost is over --budget; naming it runs it anyway"},
    {"budget", "GFLOP", "cost over which \"all\" skips a method (default 50)"},
    {"tangent-block", "T", "tangents per forward-mode pass (default 64)"},
    {"proj-samples", "K", "projforward: average K projected gradients (default 1)"},
    {"json", NULL, "print one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static int parse_methods(mw_grad_request *req, const char *v, char *err, size_t n)
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

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    grad_state *g = state;
    mw_spec *s = &g->req.spec;
    if (strcmp(name, "arch") == 0) {
        if (mw_arch_parse(v, &s->arch) != 0) {
            snprintf(err, n, "--arch %s: unknown architecture (allowed: mlp)", v);
            return 1;
        }
        return 0;
    }
    if (strcmp(name, "width") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_WIDTH, &s->width, err, n);
    if (strcmp(name, "hidden") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_HIDDEN, &s->hidden, err, n);
    if (strcmp(name, "units") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_UNITS, &s->units, err, n);
    if (strcmp(name, "depth") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_DEPTH, &s->depth, err, n);
    if (strcmp(name, "batch") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_BATCH, &s->batch, err, n);
    if (strcmp(name, "classes") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_CLASSES, &s->classes, err, n);
    if (strcmp(name, "f-act") == 0) {
        if (mw_act_parse(v, &s->f_act) != 0) {
            snprintf(err, n, "--f-act %s: unknown activation (allowed: relu, tanh, leaky, "
                             "identity)", v);
            return 1;
        }
        return 0;
    }
    if (strcmp(name, "out-act") == 0) {
        if (strcmp(v, "relu") == 0) {
            snprintf(err, n, "--out-act relu: ReLU is not invertible, so it cannot be the "
                             "coupling's output activation (allowed: none, tanh, leaky)");
            return 1;
        }
        if (mw_out_act_parse(v, &s->out_act) != 0) {
            snprintf(err, n, "--out-act %s: unknown activation (allowed: none, tanh, leaky)", v);
            return 1;
        }
        return 0;
    }
    if (strcmp(name, "leaky-slope") == 0)
        return mw_parse_double(name, v, 0.0, 1.0, &s->leaky_slope, err, n);
    if (strcmp(name, "bn") == 0) {
        s->bn = 1;
        return 0;
    }
    if (strcmp(name, "seed") == 0)
        return mw_parse_u64(name, v, &s->seed, err, n);
    if (strcmp(name, "init-scale") == 0)
        return mw_parse_double(name, v, 0.0, 1e6, &s->init_scale, err, n);
    if (strcmp(name, "dtype") == 0) {
        if (mw_dtype_parse(v, &g->req.dtype) != 0) {
            snprintf(err, n, "--dtype %s: unknown dtype (allowed: f32, f64)", v);
            return 1;
        }
        return 0;
    }
    if (strcmp(name, "methods") == 0)
        return parse_methods(&g->req, v, err, n);
    if (strcmp(name, "budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e12, &g->req.budget_gflop, err, n);
    if (strcmp(name, "tangent-block") == 0)
        return mw_parse_int(name, v, 1, 1 << 16, &g->req.opts.tangent_block, err, n);
    if (strcmp(name, "proj-samples") == 0)
        return mw_parse_int(name, v, 1, 1 << 24, &g->req.opts.proj_samples, err, n);
    if (strcmp(name, "json") == 0) {
        g->json = 1;
        return 0;
    }
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

static void print_help(void)
{
    printf("usage: mwverify grad [options]\n\n"
           "Compute the gradient dJ/dθ of one seeded network on one synthetic batch by each\n"
           "chosen method, and measure each against the float64 engine's backprop (the\n"
           "silver oracle): relative L2 error, largest absolute error, gradient norm,\n"
           "moonwalk/mixed closure error, peak working bytes (parameters and gradient not\n"
           "counted) and wall time.\n\n"
           "The network: `depth` additive coupling layers on `width`\n"
           "features, z = b + F(a), y = (a, σ(z)), halves alternating with the layer's\n"
           "parity; F = `units` x [dense -> f-act (-> BatchNorm)]; a dense head and mean\n"
           "softmax cross-entropy over the batch.\n\n"
           "options:\n");
    mw_args_print_options(stdout, grad_opts);
    printf("\nexamples:\n"
           "  mwverify grad\n"
           "  mwverify grad --dtype f64 --methods all --json\n"
           "  mwverify grad --depth 10 --out-act tanh --init-scale 3 --methods backprop,mixed\n\n"
           "exit status: 0 results printed (non-finite gradients are results and are said\n"
           "so), 2 bad usage, 3 a method could not run (out of memory, backend failure).\n");
}

static const char *state_name(mw_run_state s)
{
    switch (s) {
    case MW_RUN_OK: return "ok";
    case MW_RUN_SKIPPED: return "skipped";
    case MW_RUN_NONFINITE: return "nonfinite";
    case MW_RUN_FAILED: return "failed";
    default: return "not asked";
    }
}

static int has_closure(mw_method m)
{
    return m == MW_MOONWALK || m == MW_MIXED;
}

static void print_spec_json(mw_json *j, const mw_spec *s)
{
    mw_json_object_begin(j, "spec");
    mw_json_string(j, "arch", mw_arch_name(s->arch));
    mw_json_integer(j, "width", s->width);
    mw_json_integer(j, "hidden", s->hidden);
    mw_json_integer(j, "units", s->units);
    mw_json_integer(j, "depth", s->depth);
    mw_json_string(j, "f_act", mw_act_name(s->f_act));
    mw_json_string(j, "out_act", mw_out_act_name(s->out_act));
    mw_json_number(j, "leaky_slope", s->leaky_slope);
    mw_json_bool(j, "bn", s->bn);
    mw_json_number(j, "bn_eps", s->bn_eps);
    mw_json_integer(j, "batch", s->batch);
    mw_json_integer(j, "classes", s->classes);
    mw_json_number(j, "init_scale", s->init_scale);
    mw_json_integer(j, "seed", (long long)s->seed);
    mw_json_object_end(j);
}

static int print_json(const grad_state *g, const mw_grad_report *rep)
{
    mw_json j;
    mw_json_init(&j, stdout);
    mw_json_object_begin(&j, NULL);
    print_spec_json(&j, &g->req.spec);
    mw_json_string(&j, "dtype", mw_dtype_name(g->req.dtype));
    mw_json_integer(&j, "n_params", (long long)rep->n_params);
    mw_json_object_begin(&j, "reference");
    mw_json_string(&j, "oracle", "silver");
    mw_json_string(&j, "method", "backprop");
    mw_json_string(&j, "dtype", "f64");
    mw_json_number(&j, "loss", rep->silver_loss);
    mw_json_number(&j, "grad_norm", rep->silver_norm);
    mw_json_object_end(&j);
    mw_json_object_begin(&j, "methods");
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &rep->run[m];
        if (r->state == MW_RUN_NOT_ASKED)
            continue;
        int ran = r->state == MW_RUN_OK || r->state == MW_RUN_NONFINITE;
        int measured = ran && r->info.complete;
        mw_json_object_begin(&j, mw_method_name((mw_method)m));
        mw_json_string(&j, "status", state_name(r->state));
        mw_json_string(&j, "message", r->message[0] ? r->message : NULL);
        mw_json_number(&j, "rel_l2", measured ? r->vs_silver.rel_l2 : NAN);
        mw_json_number(&j, "max_abs", measured ? r->vs_silver.max_abs : NAN);
        mw_json_number(&j, "cosine", measured ? r->vs_silver.cosine : NAN);
        mw_json_number(&j, "grad_norm", measured ? r->vs_silver.norm : NAN);
        mw_json_integer(&j, "nonfinite", measured ? (long long)r->vs_silver.nonfinite : 0);
        mw_json_number(&j, "loss", ran ? r->info.loss : NAN);
        if (ran)
            mw_json_integer(&j, "peak_bytes", (long long)r->info.peak_bytes);
        else
            mw_json_null(&j, "peak_bytes");
        mw_json_number(&j, "seconds", ran ? r->seconds : NAN);
        mw_json_number(&j, "closure_err", measured ? r->info.closure_err : NAN);
        mw_json_number(&j, "est_gflop", r->est_gflop);
        /* JSON has no NaN: a value that should be a number but is not finite is written as
         * null and named here */
        mw_json_array_begin(&j, "nonfinite_fields");
        if (measured) {
            const double vals[4] = {r->vs_silver.rel_l2, r->vs_silver.max_abs, r->vs_silver.norm,
                                    r->info.loss};
            static const char *names[4] = {"rel_l2", "max_abs", "grad_norm", "loss"};
            for (int q = 0; q < 4; q++)
                if (!isfinite(vals[q]))
                    mw_json_string(&j, NULL, names[q]);
            if (has_closure((mw_method)m) && !isfinite(r->info.closure_err))
                mw_json_string(&j, NULL, "closure_err");
        }
        mw_json_array_end(&j);
        mw_json_object_end(&j);
    }
    mw_json_object_end(&j);
    mw_json_object_end(&j);
    return mw_json_finish(&j);
}

/* A number for the table: finite values in %.3e, otherwise nan or inf, said so. */
static const char *num(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (!isfinite(v))
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.3e", v);
    return buf;
}

static void print_table(const grad_state *g, const mw_grad_report *rep)
{
    const mw_spec *s = &g->req.spec;
    char a[32], b[32], c[32], d[32];
    int closure_overflow = 0;
    printf("network: %s width %d hidden %d units %d depth %d f-act %s out-act %s%s, batch %d, "
           "classes %d, init-scale %g, seed %llu: %zu parameters\n",
           mw_arch_name(s->arch), s->width, s->hidden, s->units, s->depth, mw_act_name(s->f_act),
           mw_out_act_name(s->out_act), s->bn ? " bn" : "", s->batch, s->classes, s->init_scale,
           (unsigned long long)s->seed, rep->n_params);
    printf("reference: float64 backprop (silver oracle), loss %.17g, |g| %.6e\n",
           rep->silver_loss, rep->silver_norm);
    printf("methods in %s; errors against the reference; closure = |h_L - dJ/dx_L|/|dJ/dx_L|\n\n",
           mw_dtype_name(g->req.dtype));
    printf("%-12s %-10s %-10s %-10s %-10s %12s %10s  %s\n", "method", "rel_l2", "max_abs",
           "grad_norm", "closure", "peak_bytes", "seconds", "status");
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &rep->run[m];
        if (r->state == MW_RUN_NOT_ASKED)
            continue;
        const char *name = mw_method_name((mw_method)m);
        if (r->state == MW_RUN_SKIPPED || r->state == MW_RUN_FAILED) {
            printf("%-12s %-10s %-10s %-10s %-10s %12s %10s  %s: %s\n", name, "-", "-", "-", "-",
                   "-", "-", state_name(r->state), r->message);
            continue;
        }
        if (!r->info.complete) {
            printf("%-12s %-10s %-10s %-10s %-10s %12zu %10.4f  NON-FINITE, stopped: %s\n", name,
                   "-", "-", "-", "-", r->info.peak_bytes, r->seconds, r->message);
            continue;
        }
        printf("%-12s %-10s %-10s %-10s %-10s %12zu %10.4f  ", name,
               num(a, sizeof a, r->vs_silver.rel_l2), num(b, sizeof b, r->vs_silver.max_abs),
               num(c, sizeof c, r->vs_silver.norm),
               has_closure((mw_method)m) ? num(d, sizeof d, r->info.closure_err) : "-",
               r->info.peak_bytes, r->seconds);
        if (has_closure((mw_method)m) && !isfinite(r->info.closure_err))
            closure_overflow = 1;
        if (r->state == MW_RUN_NONFINITE)
            printf("NON-FINITE: %zu gradient entries are inf or NaN (%s)\n",
                   r->vs_silver.nonfinite, r->message);
        else
            printf("ok%s\n", mw_method_is_stochastic((mw_method)m)
                                 ? " (an unbiased estimate: its error is variance)"
                                 : "");
    }
    if (closure_overflow)
        printf("\nnote: a closure error is not finite: h_L of the vijp sweep overflowed (D⁻¹ ="
               " cosh²(z) of a\nsaturated tanh, or 1/α), after the last parameter gradient "
               "was formed.\n");
}

int mw_cmd_grad(int argc, char **argv)
{
    grad_state g = {mw_grad_request_default(), 0};
    int help = 0;
    int rc = mw_args_parse("grad", grad_opts, argc, argv, apply, &g, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        print_help();
        return MW_EXIT_OK;
    }
    char msg[512];
    if (mw_spec_validate(&g.req.spec, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify grad: --%s\n", msg);
        return MW_EXIT_USAGE;
    }
    for (int m = 0; m < MW_N_METHODS; m++)
        if (g.req.named && g.req.want[m] && mw_method_needs_inverse((mw_method)m) &&
            !mw_spec_invertible(&g.req.spec)) {
            fprintf(stderr, "mwverify grad: --methods %s: needs the inverse of every layer, but "
                            "--out-act leaky with --leaky-slope 0 is not invertible\n",
                    mw_method_name((mw_method)m));
            return MW_EXIT_USAGE;
        }
    mw_grad_report rep;
    mw_status st = mw_suite_grad(&g.req, &rep, msg, sizeof msg);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify grad: %s\n", msg);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    if (g.json) {
        if (print_json(&g, &rep) != 0) {
            fprintf(stderr, "mwverify grad: writing the JSON to standard output failed\n");
            return MW_EXIT_RUNTIME;
        }
    } else {
        print_table(&g, &rep);
    }
    for (int m = 0; m < MW_N_METHODS; m++)
        if (rep.run[m].state == MW_RUN_FAILED) {
            fprintf(stderr, "mwverify grad: %s could not run: %s\n",
                    mw_method_name((mw_method)m), rep.run[m].message);
            rc = MW_EXIT_RUNTIME;
        }
    return rc;
}
