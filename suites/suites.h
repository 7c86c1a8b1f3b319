/* suites: procedures over the engine, oracles and datasets (DESIGN.md §6). For now the
 * single gradient check behind `mwverify grad`: one network, one batch, the chosen
 * methods, each measured against the silver oracle. */
#ifndef MW_SUITES_H
#define MW_SUITES_H

#include "mw_engine.h"
#include "oracles.h"

typedef struct mw_grad_request {
    mw_spec spec;
    mw_dtype dtype;
    int want[MW_N_METHODS]; /* 1: compute this method */
    int named;              /* 1: the methods were named one by one, not "all" */
    mw_grad_opts opts;
    double budget_gflop;    /* "all" skips a method estimated to cost more than this */
} mw_grad_request;

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
    mw_metrics vs_silver;
    mw_grad_info info;
    double seconds;
    double est_gflop;
} mw_method_run;

typedef struct mw_grad_report {
    double silver_loss;
    double silver_norm;
    size_t n_params;
    mw_method_run run[MW_N_METHODS];
} mw_grad_report;

mw_grad_request mw_grad_request_default(void);

/* Estimated cost of one gradient by method m, in GFLOP (multiply-adds counted twice). */
double mw_method_cost_gflop(const mw_spec *s, mw_method m, const mw_grad_opts *o);

/* Run the request. Returns MW_OK when every asked method was either computed or skipped
 * or found non-finite (these are results); another status when the check itself could not
 * be done (then msg says why). */
mw_status mw_suite_grad(const mw_grad_request *req, mw_grad_report *rep, char *msg,
                        size_t msg_len);

#endif
