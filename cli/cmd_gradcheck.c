/* `mwverify gradcheck`: the gradcheck grid (the quick preset of `suite gradcheck`) run
 * without a report file, printed as a table or JSON; exit 1 when a float64 deterministic
 * method strays from gold by more than the tolerance, a method fails, or gold cannot
 * certify itself. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "emit.h"
#include "netopts.h"
#include "progress.h"

typedef struct gc_state {
    mw_suite_config cfg;
    int json, quiet, per_layer, jobs;
} gc_state;

static const mw_opt gc_opts[] = {
    {"jobs", "N", "compute N networks at a time, in N processes (default 1)"},
    {"per-layer", NULL, "print each method's rel_l2 per layer (always in --json)"},
    {"quiet", NULL, "no progress line on standard error"},
    {"json", NULL, "print one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt *const gc_tables[] = {gc_opts,        mw_grid_opts,   mw_size_opts,
                                          mw_method_opts, mw_oracle_opts, mw_engine_opts,
                                          NULL};

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    gc_state *g = state;
    int rc = mw_grid_opt_apply(&g->cfg, name, v, err, n);
    if (rc < 0)
        rc = mw_net_opt_apply(&g->cfg.base, &g->cfg.revnet, name, v, err, n);
    if (rc < 0)
        rc = mw_oracle_opt_apply(&g->cfg.base, name, v, err, n);
    if (rc < 0)
        rc = mw_engine_opt_apply(&g->cfg.base, name, v, err, n);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "jobs") == 0)
        return mw_parse_int(name, v, 1, 1024, &g->jobs, err, n);
    if (strcmp(name, "per-layer") == 0)
        return g->per_layer = 1, 0;
    if (strcmp(name, "quiet") == 0)
        return g->quiet = 1, 0;
    if (strcmp(name, "json") == 0)
        return g->json = 1, 0;
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

static void print_help(void)
{
    printf("usage: mwverify gradcheck [options]\n\n"
           "Check every method against the gold oracle on a small grid of networks: depths\n"
           "1, 2, 4, 8 x F activation relu, tanh x output activation none, tanh, leaky, each\n"
           "in float32 and float64 (24 networks, 288 runs, on an mlp of width 8, hidden 8,\n"
           "batch 4, 3 classes). Gold is the exact gradient from the MPFR reference,\n"
           "certified by a second run with 64 more bits and witnessed by central\n"
           "differences; it is computed once per network. Per network it also measures\n"
           "projforward's unbiasedness: the error of its K-sample mean for K = 1 .. 256\n"
           "and the fitted slope (expected -1/2). The same grid as `mwverify suite\n"
           "gradcheck --preset quick`, without a report file.\n\n"
           "options:\n");
    mw_args_print_options(stdout, gc_opts);
    printf("\ngrid:\n");
    mw_args_print_options(stdout, mw_grid_opts);
    printf("\nnetwork (every cell):\n");
    mw_args_print_options(stdout, mw_size_opts);
    printf("\nmethods:\n");
    mw_args_print_options(stdout, mw_method_opts);
    printf("\ngold oracle:\n");
    mw_args_print_options(stdout, mw_oracle_opts);
    printf("\nengine:\n");
    mw_args_print_options(stdout, mw_engine_opts);
    printf("\nexit status: 0 every check passed, 1 a float64 deterministic method is more\n"
           "than --tol from gold, a method failed, or gold did not certify; 2 bad usage.\n");
}

static void print_summary(const gc_state *g, const mw_report *r, size_t failed)
{
    double worst[2] = {0, 0}, cert = INFINITY, fd = INFINITY;
    for (size_t i = 0; i < r->n_networks; i++)
        if (strcmp(r->networks[i].status, "ok") == 0) {
            cert = fmin(cert, r->networks[i].certified_bits);
            fd = fmin(fd, r->networks[i].fd_agree_bits);
        }
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_step *s = mw_report_last_step(run);
        mw_method m;
        if (s && strcmp(run->status, "complete") == 0 && mw_method_parse(run->method, &m) == 0 &&
            !mw_method_is_stochastic(m)) {
            int t = strcmp(run->dtype, "f64") == 0;
            worst[t] = fmax(worst[t], s->rel_l2);
        }
    }
    printf("\n%zu networks, %zu runs, %zu failed checks. Gold certified at least %.1f bits; "
           "central differences agree to at least %.1f bits.\n", r->n_networks, r->n_runs,
           failed, cert, fd);
    printf("Largest rel_l2 against gold of a deterministic method: f64 %.3e (tolerance %.1e), "
           "f32 %.3e.\n", worst[1], g->cfg.tol, worst[0]);
}

int mw_cmd_gradcheck(int argc, char **argv)
{
    gc_state g = {.jobs = 1};
    mw_suite_preset("quick", &g.cfg);
    int help = 0;
    int rc = mw_args_parse("gradcheck", gc_tables, argc, argv, apply, &g, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        print_help();
        return MW_EXIT_OK;
    }
    mw_grid_finish(&g.cfg);
    char msg[512], cmdline[2048];
    mw_args_command_line("gradcheck", argc, argv, cmdline, sizeof cmdline);
    mw_progress_line prog;
    mw_progress_init(&prog, "gradcheck", g.quiet);
    mw_suite_job job = {.cfg = &g.cfg, .path = NULL, .jobs = g.jobs, .command_line = cmdline,
                        .progress = mw_progress_suite, .progress_arg = &prog};
    mw_report rep;
    size_t failed = 0;
    mw_status st = mw_suite_gradcheck(&job, &rep, &failed, msg, sizeof msg);
    mw_progress_end(&prog);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify gradcheck: %s\n", msg);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    if (g.json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_number(&j, "tol", g.cfg.tol);
        mw_json_integer(&j, "failed_runs", (long long)failed);
        mw_emit_report_cells_json(&j, &rep);
        mw_json_object_end(&j);
        if (mw_json_finish(&j) != 0) {
            fprintf(stderr, "mwverify gradcheck: writing the JSON failed\n");
            rc = MW_EXIT_RUNTIME;
        }
    } else {
        printf("mwverify gradcheck: %ld networks x %ld runs each, against gold at %ld bits; "
               "rel_l2, max_abs, max_ulp, closure against gold\n", mw_suite_n_networks(&g.cfg),
               mw_suite_runs_per_network(&g.cfg), g.cfg.base.gold.bits);
        mw_print_report(stdout, &rep, g.per_layer);
        print_summary(&g, &rep, failed);
    }
    if (rc == MW_EXIT_OK && failed)
        rc = MW_EXIT_CHECKS;
    mw_report_free(&rep);
    return rc;
}
