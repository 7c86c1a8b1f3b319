/* suites: procedures over the engine, oracles and datasets (docs/architecture.md §6).
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
#include "records.h"

/* Which methods, and how they run. */
typedef struct mw_method_config {
    int want[MW_N_METHODS];  /* 1: compute this method */
    int named;               /* 1: the methods were named one by one, not "all" */
    double budget_gflop;     /* "all" skips a method estimated to cost more than this */
    mw_grad_opts opts;
} mw_method_config;
extern const mw_record mw_method_config_record;

/* What the gradients are measured against. */
typedef struct mw_oracle_config {
    mw_oracle_kind kind;     /* auto, gold or silver (grad; the suites set their own) */
    mw_gold_opts gold;
    double gold_auto_s;      /* auto takes gold when its estimate is at most this */
    double gold_budget_s;    /* an explicit gold estimated above this is refused up front */
} mw_oracle_config;
extern const mw_record mw_oracle_config_record;

/* Where the methods run (oracles are always on the CPU). */
typedef struct mw_engine_config {
    mw_backend_kind backend;
    mw_math_mode math;       /* a GPU's float32 matrix products: strict or TF32 */
    char layer_plugin[4096]; /* --layer-plugin PATH.so[:NAME]: networks of its layer ("": none) */
    char layer_cmd[4096];    /* --layer-cmd COMMAND: of the layer it serves (layer-protocol.md) */
    int device;              /* the GPU's ordinal (not configuration: where, not what) */
} mw_engine_config;
extern const mw_record mw_engine_config_record;

typedef struct mw_grad_request {
    mw_spec spec;
    mw_dtype dtype;
    mw_method_config methods;
    mw_oracle_config oracle;
    mw_engine_config engine;
} mw_grad_request;

mw_grad_request mw_grad_request_default(void);
mw_method_config mw_method_config_default(void);
mw_oracle_config mw_oracle_config_default(void);

/* What the request's engine is, found in a child process (a CUDA context must never be
 * made in a process that forks workers afterwards): MW_OK with info filled, or
 * MW_ERR_BACKEND with one line (no such engine in this build, no device, no driver). */
mw_status mw_engine_probe(const mw_engine_config *e, mw_dtype dtype, mw_engine_info *info,
                          mw_err *err);

/* One network and batch, and its oracle. */
typedef struct mw_grad_case {
    mw_spec spec;
    mw_layout lay;
    double *theta, *x;
    int *labels;
    double *silver;
    double silver_loss;
    mw_oracle_info oracle;     /* resolved: gold or silver, and why */
    mw_gold gold;              /* when the oracle is gold */
    mw_proof proof;            /* when it is proof */
    char proof_failed[320];    /* proof: why it is no oracle (a kink, too few bits proved) */
    double *silver_vs_gold_layers; /* L + 1 */
    const double *ref_hi, *ref_lo; /* the oracle gradient (lo NULL for silver) */
} mw_grad_case;

/* One method's result in one dtype: a report run with its one step (when it ran), and
 * what the step does not hold. */
typedef struct mw_method_result {
    mw_report_run run;         /* status, message, est_gflop; steps -> &step when it ran */
    mw_report_step step;
    double *grad;              /* the gradient (P), when the method ran to its end */
    double *per_layer;         /* rel_l2 per layer and the head (L + 1), when measured */
    mw_grad_info info;
} mw_method_result;

typedef struct mw_method_results {
    mw_dtype dtype;
    mw_method_result m[MW_N_METHODS];
} mw_method_results;

/* Estimated cost of one gradient by method m, in GFLOP (multiply-adds counted twice). */
double mw_method_cost_gflop(const mw_spec *s, mw_method m, const mw_grad_opts *o);

/* ---- estimates (estimate.c): what a gradient costs here, before it is computed ---- */

/* One call of a method on this machine (o->memory_probe: a memory-probe call). */
typedef struct mw_call_cost {
    double seconds;
    double peak_bytes;        /* its tracked working bytes (0: not measured) */
    double setup_seconds;     /* making the network and batch it runs on */
    int measured;             /* 0: counted at a nominal rate (too large to measure) */
    int fails;                /* measured, it failed or its gradient was not finite */
} mw_call_cost;

/* Measure it: the call itself on the network at a batch small enough to take a few
 * milliseconds (forward-mode methods by their first block of tangents), the least of
 * three calls, at two batches scaled to the spec's, and to every block. Memoised for the
 * process. A call that fails is counted, not measured (the run will say why it fails). */
mw_status mw_call_cost_measure(const mw_engine_config *e, const mw_spec *s, mw_method m,
                               mw_dtype dt, const mw_grad_opts *o, mw_call_cost *out,
                               mw_err *err);

/* Does method m run in mw_grad_case_run: asked, invertible where it must be, and named or
 * within the GFLOP budget of "all"? */
int mw_grad_method_runs(const mw_grad_request *req, mw_method m);

/* A case and its runs in each of the dtypes (mw_grad_case_prepare, then mw_grad_case_run
 * per dtype with its diagnosis): seconds on this machine and peak bytes held. Once the
 * seconds pass enough_s the rest is not measured (partial: they are a lower bound). */
typedef struct mw_grad_cost {
    double seconds, peak_bytes;
    int partial;
    double gold_seconds;      /* 0: silver is the oracle */
    double method_seconds[MW_N_METHODS];
    double diagnosis_seconds;
    double others;            /* processors busy with other work meanwhile (mw_cpu_others) */
} mw_grad_cost;
mw_status mw_grad_case_estimate(const mw_grad_request *req, const mw_dtype *dtypes, int n_dtypes,
                                double enough_s, mw_grad_cost *out, mw_err *err);

/* How much longer work takes in `procs` processes while `others` processors' worth of
 * other work shares this machine's processors with them (NaN: none known): 1 while there
 * is a processor for each. */
double mw_load_factor(double others, int procs);

/* The bytes of an engine network in dtype d with its parameters, batch and a gradient. */
double mw_net_bytes(const mw_spec *s, mw_dtype d);

/* Close the engine contexts the measurements keep open. */
void mw_call_cost_release(void);

/* An estimate against its budgets: MW_ERR_ARG with one line when the time is over
 * time_budget_s (naming --time-budget; at_least: the time is a lower bound) or the bytes
 * over what this machine has available (MemAvailable); `where` says what the time is of
 * ("on this machine's CPU"), `shrink` what to make smaller. */
mw_status mw_budget_check(double seconds, int at_least, double bytes, double time_budget_s,
                          const char *where, const char *shrink, mw_err *err);

/* "512 bytes", "3.2 MiB", "12 GiB". */
const char *mw_fmt_bytes(char *buf, size_t n, double bytes);

/* Build the case: seeded parameters and synthetic batch, silver, and gold as the request
 * says. MW_ERR_ARG for an invalid request, including an explicit gold over its budget,
 * before any work. A gold that could not certify itself is in the case (gold.certified
 * 0, gold.uncertified why): never to be measured against. */
mw_status mw_grad_case_prepare(const mw_grad_request *req, mw_grad_case *c, mw_err *err);
void mw_grad_case_free(mw_grad_case *c);
/* A case at given parameters and batch (a training run's, at its end), against silver. */
mw_status mw_grad_case_at(const mw_spec *s, const double *theta, const double *x,
                          const int *labels, mw_grad_case *c, mw_err *err);

/* Run the asked methods in dtype on the case: out->m[method].run holds each one's method,
 * dtype, status, message and estimated cost (its index and network are the caller's to
 * set). MW_OK when every method was computed, skipped or found non-finite (these are
 * results); another status when the run itself could not be made. */
mw_status mw_grad_case_run(const mw_grad_request *req, const mw_grad_case *c, mw_dtype dtype,
                           mw_method_results *out, mw_err *err);
void mw_method_results_free(mw_method_results *r);

/* Why each complete deterministic run of res has its error (diagnose.c): its diagnosis
 * — the error rounding explains, the class, and where it departs from backprop — measured
 * on the case in float64, without gold. Runs it cannot diagnose keep "-". */
mw_status mw_diagnose(const mw_grad_request *req, const mw_grad_case *c, mw_method_results *res,
                      mw_err *err);

/* The case's network record: its spec and oracle (status ok unless the oracle failed). */
void mw_grad_case_network(const mw_grad_case *c, long index, mw_report_network *out);
/* Why the case's exact oracle is no oracle (gold uncertified; proof on a kink or short of
 * --certify-floor), or NULL: nothing is measured against it then. */
const char *mw_grad_case_unusable(const mw_grad_case *c);

#endif
