/* Helpers shared by the Check test programs: the seed (MW_TEST_SEED overrides it and
 * every failure prints it), networks with seeded data, golden cases, a main. */
#ifndef MW_TESTUTIL_H
#define MW_TESTUTIL_H

#include <check.h>
#include <float.h>
#include <stdint.h>

#include "mw_engine.h"

/* A program run to its end: exit code (128 + signal when killed), both streams whole. */
typedef struct tu_run_result {
    int code;
    char *out, *err;
} tu_run_result;

/* Run program with argv args (NULL-terminated, the program's name not included). */
tu_run_result tu_run(const char *program, const char *const *args);
void tu_run_free(tu_run_result *r);

/* The seed of this run: MW_TEST_SEED if set, else a fixed default. */
uint64_t tu_seed(void);

/* A network with its own context and a synthetic batch (datasets' Gaussian mixture). */
typedef struct tu_net {
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    size_t P;     /* parameters */
    size_t N;     /* batch x width */
    double *x;    /* the batch on the host */
    int *labels;
} tu_net;

void tu_net_make(tu_net *t, const mw_spec *s, mw_dtype dtype);
/* The same on another backend (fails the test when it cannot be opened). */
void tu_net_make_on(tu_net *t, const mw_spec *s, mw_backend_kind backend, mw_dtype dtype);
void tu_net_free(tu_net *t);
/* g (P host doubles) by method m; fails the test on any status but `expect`. */
mw_status tu_grad(tu_net *t, mw_method m, const mw_grad_opts *o, double *g, mw_grad_info *info,
                  mw_status expect);

/* |a - b| / |b| over n entries (|a - b| when b = 0). */
double tu_rel_l2(const double *a, const double *b, size_t n);
double tu_max_abs(const double *a, size_t n);

/* A small mlp spec: width 8, hidden 6, batch 4, classes 3. */
mw_spec tu_small_spec(int depth, mw_act f_act, mw_act out_act, int bn, uint64_t seed);
/* A small revnet: 4 channels of 4x4, 2 blocks of lpb couplings (ψ between them: 16
 * channels of 2x2 in block 2), BN, batch 3, classes 3; hidden 0 is C/2. */
mw_spec tu_small_revnet(int lpb, mw_act f_act, mw_act out_act, int units, int hidden,
                        uint64_t seed);

/* One golden case (tests/golden, see its README), in canonical order. */
typedef struct tu_golden {
    char name[64];
    mw_spec spec;
    size_t P, N;
    double *theta, *x, *grad, *input_grad, *acts; /* acts: L blocks of N */
    int *labels;
    double loss;
    /* the same values as the file writes them (30 digits; 20 for activations), for
     * comparisons beyond double precision */
    char *loss_text, **grad_text, **input_grad_text, **acts_text;
} tu_golden;

/* Load tests/golden/<name>.json; fails the test with a message on any mismatch of names
 * or shapes against mw_layout (that is itself a convention check). */
void tu_golden_load(tu_golden *g, const char *name);
void tu_golden_free(tu_golden *g);

/* Run the Check suite; the case named by CK_RUN_CASE alone when it is set. */
int tu_main(Suite *s);

#endif
