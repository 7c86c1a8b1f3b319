/* suites: procedures over the engine, oracles and datasets (DESIGN.md §6).
 *
 * A gradient check has two parts. A *case* is one network and batch and what they are
 * measured against: the silver oracle always, the gold oracle when asked or cheap. A
 * *run* computes the chosen methods in one dtype on a case and measures each against
 * its oracle. `mwverify grad` is one case and one run; the suites (suite.h) are grids
 * of cases. */
#ifndef MW_SUITES_H
#define MW_SUITES_H

#include "mw_engine.h"
#include "oracles.h"

typedef enum { MW_ORACLE_AUTO = 0, MW_ORACLE_GOLD, MW_ORACLE_SILVER } mw_oracle_kind;

const char *mw_oracle_name(mw_oracle_kind k);

typedef struct mw_grad_request {
    mw_spec spec;
    mw_dtype dtype;
    mw_backend_kind engine; /* where the methods run (oracles are always on the CPU) */
    mw_math_mode math;      /* a GPU's float32 matrix products: strict or TF32 */
    int want[MW_N_METHODS]; /* 1: compute this method */
    int named;              /* 1: the methods were named one by one, not "all" */
    mw_grad_opts opts;
    double budget_gflop;    /* "all" skips a method estimated to cost more than this */
    mw_oracle_kind oracle;
    mw_gold_opts gold;
    double gold_auto_s;     /* auto takes gold when its estimate is at most this */
    double gold_budget_s;   /* an explicit gold estimated above this is refused up front */
} mw_grad_request;

mw_grad_request mw_grad_request_default(void);

/* What the request's engine is, found in a child process (a CUDA context must never be
 * made in a process that forks workers afterwards): 0 with info filled, or nonzero with
 * one line in msg (no such engine in this build, no device, no driver). */
int mw_engine_probe(mw_backend_kind engine, mw_math_mode math, mw_dtype dtype,
                    mw_engine_info *info, char *msg, size_t msg_len);

/* One network and batch, and its oracle. */
typedef struct mw_grad_case {
    mw_spec spec;
    mw_layout lay;
    double *theta, *x;
    int *labels;
    double *silver;
    double silver_loss;
    mw_oracle_kind oracle;    /* resolved: gold or silver */
    char oracle_reason[200];  /* why this oracle */
    double gold_estimate_s;
    mw_gold gold;             /* when the oracle is gold */
    mw_metrics silver_vs_gold;
    double *silver_vs_gold_layers; /* L + 1 */
    const double *ref_hi, *ref_lo; /* the oracle gradient (lo NULL for silver) */
    double ref_loss, ref_norm;
} mw_grad_case;

typedef enum {
    MW_RUN_NOT_ASKED = 0,
    MW_RUN_OK,
    MW_RUN_SKIPPED,   /* not run: message says why */
    MW_RUN_NONFINITE, /* a value became inf or NaN: in the gradient, or part way (then
                         info.complete is 0 and there are no metrics); message says where */
    MW_RUN_FAILED,    /* could not run to the end: message says why */
} mw_run_state;

typedef struct mw_method_run {
    mw_run_state state;
    char message[320];
    mw_metrics vs_oracle;
    double *per_layer; /* rel_l2 per layer and the head: L + 1 values, when measured */
    double *grad;      /* the gradient (P), when the method ran to its end */
    mw_grad_info info;
    double seconds;
    double est_gflop;
} mw_method_run;

typedef struct mw_method_runs {
    mw_dtype dtype;
    mw_method_run run[MW_N_METHODS];
} mw_method_runs;

/* Estimated cost of one gradient by method m, in GFLOP (multiply-adds counted twice). */
double mw_method_cost_gflop(const mw_spec *s, mw_method m, const mw_grad_opts *o);

/* Build the case: seeded parameters and synthetic batch, silver, and gold as the request
 * says. MW_ERR_ARG (with msg) for an invalid request, including an explicit gold over
 * its budget, before any work; MW_ERR_UNCERTIFIED when gold could not certify itself (the
 * case is then filled with what gold found, and is not to be measured against). */
mw_status mw_grad_case_prepare(const mw_grad_request *req, mw_grad_case *c, char *msg,
                               size_t msg_len);
void mw_grad_case_free(mw_grad_case *c);

/* Run the asked methods in dtype on the case. MW_OK when every method was computed,
 * skipped or found non-finite (these are results); another status when the run itself
 * could not be made. */
mw_status mw_grad_case_run(const mw_grad_request *req, const mw_grad_case *c, mw_dtype dtype,
                           mw_method_runs *runs, char *msg, size_t msg_len);
void mw_method_runs_free(mw_method_runs *runs);

#endif
