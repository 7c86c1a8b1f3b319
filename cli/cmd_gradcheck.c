/* `mwverify gradcheck`: a small built-in grid of networks, every method in float32 and
 * float64 against the gold oracle; exit 1 when a float64 deterministic method strays
 * from gold by more than the tolerance or gold cannot certify itself. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "emit.h"
#include "netopts.h"

typedef struct gc_state {
    mw_gradcheck_request req;
    int json, quiet, per_layer;
} gc_state;

static const mw_opt gc_opts[] = {
    {"depths", "LIST", "comma list of depths (default 1,2,4,8)"},
    {"f-acts", "LIST", "comma list of F activations (default relu,tanh)"},
    {"out-acts", "LIST", "comma list of output activations (default none,tanh,leaky)"},
    {"dtypes", "LIST", "comma list of f32, f64 (default f32,f64)"},
    {"tol", "X", "float64 deterministic methods must be within X of gold, relative L2\n"
                 "(default 1e-11)"},
    {"per-layer", NULL, "print each method's rel_l2 per layer (always in --json)"},
    {"quiet", NULL, "no progress line on standard error"},
    {"json", NULL, "print one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt *const gc_tables[] = {gc_opts, mw_net_opts, mw_oracle_opts, NULL};

/* Split a comma list, calling one(token) on each; counts into *n up to max. */
static int parse_list(const char *name, const char *v, int max, int *n,
                      int (*one)(const char *tok, int i, void *arg), void *arg, char *err,
                      size_t len)
{
    char buf[256];
    if (strlen(v) >= sizeof buf || *v == '\0') {
        snprintf(err, len, "--%s '%s': give a comma list", name, v);
        return 1;
    }
    strcpy(buf, v);
    *n = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n == max) {
            snprintf(err, len, "--%s %s: at most %d values", name, v, max);
            return 1;
        }
        if (one(tok, *n, arg) != 0) {
            snprintf(err, len, "--%s %s: bad value '%s'", name, v, tok);
            return 1;
        }
        (*n)++;
    }
    return 0;
}

static int one_depth(const char *tok, int i, void *arg)
{
    char e[8];
    return mw_parse_int("depths", tok, 1, MW_MAX_DEPTH, &((gc_state *)arg)->req.depths[i], e,
                        sizeof e);
}

static int one_f_act(const char *tok, int i, void *arg)
{
    return mw_act_parse(tok, &((gc_state *)arg)->req.f_acts[i]);
}

static int one_out_act(const char *tok, int i, void *arg)
{
    return strcmp(tok, "relu") == 0 || mw_out_act_parse(tok, &((gc_state *)arg)->req.out_acts[i]);
}

static int one_dtype(const char *tok, int i, void *arg)
{
    return mw_dtype_parse(tok, &((gc_state *)arg)->req.dtypes[i]);
}

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    gc_state *g = state;
    mw_gradcheck_request *r = &g->req;
    int rc = mw_net_opt_apply(&r->base, name, v, err, n);
    if (rc < 0)
        rc = mw_oracle_opt_apply(&r->base, name, v, err, n);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "depths") == 0)
        return parse_list(name, v, 16, &r->n_depths, one_depth, g, err, n);
    if (strcmp(name, "f-acts") == 0) {
        rc = parse_list(name, v, 4, &r->n_f_acts, one_f_act, g, err, n);
        if (rc)
            snprintf(err + strlen(err), n - strlen(err), " (allowed: relu, tanh, leaky, identity)");
        return rc;
    }
    if (strcmp(name, "out-acts") == 0) {
        rc = parse_list(name, v, 3, &r->n_out_acts, one_out_act, g, err, n);
        if (rc)
            snprintf(err + strlen(err), n - strlen(err), " (allowed: none, tanh, leaky)");
        return rc;
    }
    if (strcmp(name, "dtypes") == 0) {
        rc = parse_list(name, v, 2, &r->n_dtypes, one_dtype, g, err, n);
        if (rc)
            snprintf(err + strlen(err), n - strlen(err), " (allowed: f32, f64)");
        return rc;
    }
    if (strcmp(name, "tol") == 0)
        return mw_parse_double(name, v, 0.0, 1.0, &r->tol, err, n);
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
           "in float32 and float64 (48 cells on an mlp of width 8, hidden 8, batch 4, 3\n"
           "classes). Gold is the exact gradient from the MPFR reference, certified by a\n"
           "second run with 64 more bits and witnessed by central differences; it is\n"
           "computed once per network. A table row per cell and method, or --json.\n\n"
           "options:\n");
    mw_args_print_options(stdout, gc_opts);
    printf("\nnetwork and methods (--depth is replaced by --depths):\n");
    mw_args_print_options(stdout, mw_net_opts);
    printf("\ngold oracle:\n");
    mw_args_print_options(stdout, mw_oracle_opts);
    printf("\nexit status: 0 every check passed, 1 a float64 deterministic method is more\n"
           "than --tol from gold, a method failed, or gold did not certify; 2 bad usage.\n");
}

typedef struct progress_state {
    int tty, quiet, json, per_layer;
} progress_state;

/* Rows as cells complete (table mode); a progress line on a terminal. */
static void on_cell(const mw_gradcheck_cell *cell, size_t done, size_t total, void *arg)
{
    progress_state *p = arg;
    const mw_spec *s = &cell->spec;
    if (!p->json) {
        if (p->tty && !p->quiet)
            fprintf(stderr, "\r\033[K");
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%5d  %-8s %-7s %-4s  ", s->depth, mw_act_name(s->f_act),
                 mw_out_act_name(s->out_act), mw_dtype_name(cell->dtype));
        if (done == 1 || cell[-1].gc != cell->gc) { /* a new network: its oracle first */
            printf("\n");
            if (cell->case_status == MW_OK || cell->case_status == MW_ERR_UNCERTIFIED)
                mw_print_oracle(stdout, cell->gc);
            mw_print_runs_header(stdout, "depth  f-act    out-act dtype ");
        }
        if (cell->case_status != MW_OK)
            printf("%sCELL FAILED: %s\n", prefix, cell->case_message);
        else
            mw_print_runs(stdout, prefix, cell->gc, &cell->runs, p->per_layer);
        fflush(stdout);
    }
    if (p->tty && !p->quiet)
        fprintf(stderr, "gradcheck: %zu/%zu cells, last depth %d %s %s %s%s", done, total, s->depth,
                mw_act_name(s->f_act), mw_out_act_name(s->out_act), mw_dtype_name(cell->dtype),
                done == total ? "\n" : "");
}

static int print_json(const gc_state *g, const mw_gradcheck_cell *cells, size_t n, size_t failed)
{
    mw_json j;
    mw_json_init(&j, stdout);
    mw_json_object_begin(&j, NULL);
    mw_json_number(&j, "tol", g->req.tol);
    mw_json_integer(&j, "failed_cells", (long long)failed);
    mw_json_array_begin(&j, "cells");
    for (size_t i = 0; i < n; i++) {
        const mw_gradcheck_cell *c = &cells[i];
        mw_json_object_begin(&j, NULL);
        mw_emit_spec_json(&j, "spec", &c->spec);
        mw_json_string(&j, "dtype", mw_dtype_name(c->dtype));
        mw_json_bool(&j, "failed", c->failed);
        mw_json_string(&j, "message", c->case_status == MW_OK ? NULL : c->case_message);
        if (c->case_status == MW_OK || c->case_status == MW_ERR_UNCERTIFIED)
            mw_emit_oracle_json(&j, c->gc);
        if (c->case_status == MW_OK)
            mw_emit_methods_json(&j, c->gc, &c->runs);
        mw_json_object_end(&j);
    }
    mw_json_array_end(&j);
    mw_json_object_end(&j);
    return mw_json_finish(&j);
}

/* The worst float64 deterministic and float32 errors, and gold's weakest certification. */
static void print_summary(const gc_state *g, const mw_gradcheck_cell *cells, size_t n,
                          size_t failed)
{
    double worst[2] = {0, 0}, cert = INFINITY, fd = INFINITY;
    for (size_t i = 0; i < n; i++) {
        const mw_gradcheck_cell *c = &cells[i];
        if (c->case_status != MW_OK)
            continue;
        cert = fmin(cert, c->gc->gold.certified_bits);
        if (c->gc->gold.fd_coords)
            fd = fmin(fd, c->gc->gold.fd_agree_bits);
        for (int m = 0; m < MW_N_METHODS; m++) {
            const mw_method_run *r = &c->runs.run[m];
            if (r->state == MW_RUN_OK && !mw_method_is_stochastic((mw_method)m))
                worst[c->dtype] = fmax(worst[c->dtype], r->vs_oracle.rel_l2);
        }
    }
    printf("\n%zu cells, %zu failed. Gold certified at least %.1f bits; central differences "
           "agree to at least %.1f bits.\n", n, failed, cert, fd);
    printf("Largest rel_l2 against gold of a deterministic method: f64 %.3e (tolerance %.1e), "
           "f32 %.3e.\n", worst[MW_F64], g->req.tol, worst[MW_F32]);
}

int mw_cmd_gradcheck(int argc, char **argv)
{
    gc_state g = {.req = mw_gradcheck_request_default()};
    int help = 0;
    int rc = mw_args_parse("gradcheck", gc_tables, argc, argv, apply, &g, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        print_help();
        return MW_EXIT_OK;
    }
    char msg[512];
    progress_state p = {isatty(2), g.quiet, g.json, g.per_layer};
    if (!g.json) {
        printf("mwverify gradcheck: %d depths x %d F activations x %d output activations x %d "
               "dtypes, against gold at %ld bits\n", g.req.n_depths, g.req.n_f_acts,
               g.req.n_out_acts, g.req.n_dtypes, g.req.base.gold.bits);
    }
    mw_gradcheck_cell *cells;
    mw_grad_case *cases;
    size_t n_cells, n_cases;
    mw_status st = mw_gradcheck_run(&g.req, &cells, &n_cells, &cases, &n_cases, on_cell, &p, msg,
                                    sizeof msg);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify gradcheck: %s\n", msg);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    size_t failed = 0;
    for (size_t i = 0; i < n_cells; i++)
        failed += cells[i].failed != 0;
    if (g.json) {
        if (print_json(&g, cells, n_cells, failed) != 0) {
            fprintf(stderr, "mwverify gradcheck: writing the JSON failed\n");
            rc = MW_EXIT_RUNTIME;
        }
    } else {
        print_summary(&g, cells, n_cells, failed);
    }
    if (rc == MW_EXIT_OK && failed)
        rc = MW_EXIT_CHECKS;
    mw_gradcheck_free(cells, n_cells, cases, n_cases);
    return rc;
}
