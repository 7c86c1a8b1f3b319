/* Suites that write reports (docs/architecture.md §6): a grid of units — networks (arch × F
 * activation × output activation × depth × seed), or layer types — each with its runs,
 * expanded from a preset and command-line overrides, driven by the runner into one HDF5
 * report. Every suite is one entry of the registry (mw_suite_def): its presets, its
 * options and help, its validation, its unit, its check of a result, what it adds once
 * every unit is in, and how it prints and draws. Adding a suite is one entry there
 * (docs/architecture.md). */
#ifndef MW_SUITE_H
#define MW_SUITE_H

#include <stdio.h>

#include "junit.h"
#include "report.h"
#include "runner.h"
#include "suites.h"

#define MW_SUITE_MAX_DEPTHS 32
#define MW_SUITE_MAX_SEEDS 32
#define MW_SUITE_MAX_LAYERS 32

/* ---- the configuration ---- */

typedef struct mw_suite_grid {
    mw_arch archs[2];
    int n_archs;
    mw_act f_acts[4];
    int n_f_acts;
    mw_act out_acts[4];
    int n_out_acts;
    int depths[MW_SUITE_MAX_DEPTHS];  /* mlp: coupling layers */
    int n_depths;
    int lpbs[MW_SUITE_MAX_DEPTHS];    /* revnet: layers per block */
    int n_lpbs;
    int channels[4];                  /* revnet: input channels (padding) */
    int n_channels;
    mw_dtype dtypes[2];
    int n_dtypes;
    double init_scales[8];            /* the parameters' scale (saturation, from 2 up) */
    int n_init_scales;
    uint64_t seeds[MW_SUITE_MAX_SEEDS];
    int n_seeds;
    uint64_t suite_seed;
} mw_suite_grid;

/* Training (suite stability): Adam from the same θ_0 for every method, on the same
 * shuffled batches of a synthetic Gaussian mixture or of a real dataset, with a held-out
 * part for the test accuracy. */
typedef struct mw_train_config {
    int epochs;
    int n_train, n_test;      /* samples; batches have the network's batch size */
    char dataset[256];        /* "synthetic" (the mixture), "fashion-mnist[:DIR]" or
                                 "cifar10:DIR" */
    int image_h, image_w;     /* real data: average-pooled to this size (0: as stored) */
    double separation, noise; /* the mixture: class centres ~ separation · N(0, I) */
    double lr, beta1, beta2, eps;
    double decay;             /* the learning rate is lr · decay^epoch */
    int gold_every;           /* gold every this many steps, and at the first and the last */
    double explode;           /* a loss above explode times the first one is divergence
                                 (0: only non-finite values are) */
    double run_budget_gflop;  /* a method estimated to cost more over the training is
                                 skipped, with the estimate as its reason */
    double time_budget_s;     /* refuse to start a suite estimated to take longer */
} mw_train_config;

/* How long a suite may take (every suite but stability, whose training options hold its
 * own): refused before it starts when estimated longer. */
typedef struct mw_budget_config {
    double time_budget_s;
} mw_budget_config;

/* suite gradcheck's check, and projforward's unbiasedness. */
typedef struct mw_check_config {
    double tol;               /* f64 deterministic methods: rel_l2 against gold at most */
    int proj_repeats;         /* draws per K (0: not measured) */
} mw_check_config;

/* suite timing. */
typedef struct mw_timing_config {
    int repeats;              /* timed calls per method, after a warm-up */
} mw_timing_config;

/* suite layers. */
typedef struct mw_layers_config {
    char names[MW_SUITE_MAX_LAYERS][32]; /* the layer types to check; none: every real one */
    int n_names;
    int include_faulty;       /* the negative controls too (each must be caught) */
    char baseline[4096];      /* an earlier report to compare with ("": none) */
    char plugin[4096];        /* --layer-plugin PATH.so[:NAME]: its layers instead ("": none) */
    char cmd[4096];           /* --layer-cmd COMMAND: the layers it serves (docs/layer-protocol.md) */
    double factor;            /* the growth over the baseline that is a regression */
} mw_layers_config;

/* Gates: what fails a run beyond the suite's own check (judge.c). Outcomes a run can end
 * with that a gate may fail. */
typedef enum {
    MW_OUTCOME_DIVERGED = 0,
    MW_OUTCOME_NONFINITE,
    MW_OUTCOME_UNSTABLE, /* diagnosed method-unstable (single-gradient suites) */
    MW_OUTCOME_UNRELIABLE, /* moonwalk, mixed: a closure error over MW_CLOSURE_ALARM */
    MW_N_OUTCOMES
} mw_outcome;


typedef struct mw_gates {
    int fail_on[MW_N_OUTCOMES * MW_N_METHODS]; /* [outcome · methods + method]: fail it */
    double max_err[2];        /* per dtype (f32, f64): largest rel_l2 at any step; 0: none */
    double max_growth;        /* last epoch's median error over the first's; 0: none */
} mw_gates;

typedef struct mw_suite_config {
    char preset[32];
    mw_suite_grid grid;
    mw_spec mlp, revnet;      /* the networks' other sizes */
    mw_method_config methods;
    mw_oracle_config oracle;
    mw_engine_config engine;
    mw_check_config check;
    mw_timing_config timing;
    mw_train_config train;
    mw_layers_config layers;
    mw_gates gates;
    mw_budget_config budget;
    /* real data for training, loaded by the suite's prepare (not configuration: the
     * dataset's name is) */
    const struct mw_stability_data *data;
} mw_suite_config;

extern const mw_record mw_grid_record, mw_train_record, mw_check_record, mw_timing_record,
    mw_layers_record, mw_gates_record, mw_budget_record;

/* The option groups every network suite offers (relative to mw_suite_config). */
extern const mw_optgroup mw_grid_group, mw_network_group, mw_methods_group, mw_oracle_group,
    mw_engine_group, mw_gates_group, mw_budget_group;
/* The oracle's options with its kind (--oracle gold or proof): gradcheck's. */
extern const mw_optgroup mw_exact_oracle_group;

/* The defaults before any preset: the gradcheck grid's. */
void mw_suite_defaults(mw_suite_config *c);

long mw_grid_n_networks(const mw_suite_config *c);
long mw_grid_runs_per_network(const mw_suite_config *c); /* asked methods × dtypes */
/* Networks of one architecture in the grid (mlp: its depths; revnet: its layers per block
 * and paddings). */
long mw_grid_n_networks_of(const mw_suite_config *c, mw_arch a);
/* The network of unit u (grid order: arch, F act, out act, depth or layers per block, init
 * scale, seed; the seed varies fastest). Its seed is mixed from the suite seed and the grid's
 * seed value alone, so every method, dtype, activation and depth of one replicate starts
 * from the same stream of parameters and data, and no unit's numbers depend on any
 * other's. */
void mw_grid_network(const mw_suite_config *c, long u, mw_spec *out);
/* Run index of (unit, dtype position, method): stable whatever methods are asked. */
long mw_grid_run_index(const mw_suite_config *c, long u, int dtype_pos, mw_method m);
/* Every network of the grid valid, the grid not empty; with gold, its estimated time
 * within its budget. MW_ERR_ARG with a message naming the option. */
mw_status mw_grid_validate(const mw_suite_config *c, int gold, mw_err *err);
/* The request of one network of the grid in one dtype position. */
mw_grad_request mw_grid_request(const mw_suite_config *c, long u);

/* The unit of a suite that measures one gradient per method and dtype on each network
 * of the grid against its oracle (gradcheck's; a new suite of that kind needs no other):
 * the network's record and one run per asked method and dtype, each with its one step.
 * gc is left prepared for the caller's further measures (free it with
 * mw_grad_case_free, whatever the status). A network whose case could not be built is a
 * failed network with every run failed and saying why; a status other than MW_OK means
 * the unit could not even say that. */
mw_status mw_grid_unit(const mw_suite_config *c, long unit, mw_grad_case *gc,
                       mw_unit_result *out, mw_err *err);

/* ---- the registry ---- */

typedef struct mw_preset {
    const char *name;
    const char *summary;      /* what it is for (its settings are printed from the config) */
    void (*apply)(mw_suite_config *c); /* on mw_suite_defaults */
} mw_preset;

/* Before the units: what the suite will cost, when it can say. */
typedef struct mw_estimate {
    long units;
    double gflop;             /* 0: unknown */
    double seconds;           /* on this machine, with the given processes; 0: unknown */
    double bytes;             /* memory held at once by those processes; 0: unknown */
    double *unit_cost;        /* each unit's estimated cost (seconds, or any unit the same
                                 for all), units of them; NULL: unknown (owned: release) */
} mw_estimate;

void mw_estimate_release(mw_estimate *e);
/* Keep unit u's estimated cost (allocating the array for e->units on first use; out of
 * memory it quietly keeps none: the costs only weigh the progress bar). */
void mw_estimate_unit_cost(mw_estimate *e, long n_units, long u, double cost);

/* The wall time of units of these costs on `ranks` processes, each taking the costliest
 * unit left as soon as it is free (the MPI runner's order): the latest finish. */
double mw_estimate_makespan(const double *cost, long n, int ranks);

/* The cost of unit u: seconds on this machine and peak bytes held. */
typedef mw_status (*mw_unit_cost_fn)(const mw_suite_config *c, long u, double *seconds,
                                     double *bytes, mw_err *err);

/* A suite's estimate from its units' (est's seconds and bytes), shared among `jobs`
 * processes — no shorter than its longest unit, the memory of as many units as run at
 * once — and checked against --time-budget and the memory available (MW_ERR_ARG with one
 * line, `shrink` saying what to make smaller). Only the CPU engine is estimated: a
 * device's speed is not this machine's (est->seconds stays 0). */
mw_status mw_suite_estimate(const mw_suite_config *c, int jobs, long n_units,
                            mw_unit_cost_fn unit_cost, const char *shrink, mw_estimate *est,
                            mw_err *err);
/* The cost of a grid unit measured by mw_grid_unit (the case, its runs in every dtype and
 * their diagnoses). */
mw_status mw_grid_unit_cost(const mw_suite_config *c, long u, double *seconds, double *bytes,
                            mw_err *err);

typedef struct mw_suite_def mw_suite_def;

typedef struct mw_suite_progress {
    size_t runs_done, runs_total;
    size_t networks_done, networks_total;
    double elapsed_s;
    const mw_spec *last;      /* the network just finished; NULL: an update of work in
                                 progress (an epoch of a training unit) */
    double fraction;          /* of the suite's work done, each unit weighed by its
                                 estimated cost and counted by the part of it done */
    double eta_s;             /* seconds left at this run's pace so far; NaN: not known yet */
} mw_suite_progress;

typedef void (*mw_suite_progress_fn)(const mw_suite_progress *p, void *arg);

struct mw_suite_def {
    const char *name;         /* the report's suite */
    const char *summary;      /* one line, for `mwverify suite --help` */
    const char *help;         /* what it does and what it writes */
    const char *exit_help;    /* what its exit status says */
    const mw_preset *presets; /* the first is the default; ends with a NULL name */
    const mw_optgroup *const *groups; /* its options (relative to mw_suite_config), NULL-ended */
    int one_job;              /* one process unless --jobs says otherwise (timing) */
    int gold;                 /* its networks are measured against gold (budgeted) */
    int tol_check;            /* --tol: float64 deterministic methods within it of gold */
    /* After the options, before any work: check everything, load what the units share,
     * say what it will cost (est), refuse what is over budget. NULL: the grid's checks. */
    mw_status (*prepare)(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err);
    void (*release)(mw_suite_config *c); /* what prepare loaded */
    long (*n_units)(const mw_suite_config *c);     /* NULL: the grid's networks */
    long (*runs_per_unit)(const mw_suite_config *c); /* NULL: the grid's */
    mw_unit_fn unit;
    /* Its testcases for --junit (NULL: one per run, judged). */
    mw_status (*junit)(const mw_report *r, mw_junit_case **out, size_t *n, mw_err *err);
    /* The checks a report fails (exit 1): runs, or rows, that fail them. */
    size_t (*failures)(const mw_suite_config *c, const mw_report *r);
    /* What the suite draws from all its units, into the report (NULL: nothing). */
    mw_status (*finish)(const mw_suite_config *c, mw_report *r, mw_err *err);
    /* The suite's own view of a report, after its runs (c NULL when read from a file);
     * verbose: everything (the gradcheck command), else the summary. */
    void (*print)(FILE *f, const mw_suite_config *c, const mw_report *r, int verbose);
    void (*json)(mw_json *j, const mw_suite_config *c, const mw_report *r, int verbose);
    mw_status (*plot)(const mw_report *r, const char *out, mw_err *err); /* NULL: no figure */
    const char *plot_help;    /* what the figure shows, for report plot --help */
};

/* The suites, and one by name (NULL when there is none). */
extern const mw_suite_def *const mw_suites[];
const mw_suite_def *mw_suite_find(const char *name);
const mw_preset *mw_suite_preset(const mw_suite_def *def, const char *name);
/* The defaults, then the preset. */
void mw_suite_configure(const mw_suite_def *def, const mw_preset *p, mw_suite_config *c);

/* After the options, before any work: the suite's prepare (or the grid's checks); est
 * gets the units and what is known of the cost, its unit costs to be released
 * (mw_estimate_release) when it succeeded (on a failure they are already). */
mw_status mw_suite_prepare(const mw_suite_def *def, mw_suite_config *c, int jobs,
                           mw_estimate *est, mw_err *err);
/* Units of the suite, and runs per unit. */
long mw_suite_n_units(const mw_suite_def *def, const mw_suite_config *c);
long mw_suite_runs_per_unit(const mw_suite_def *def, const mw_suite_config *c);

/* The configuration as JSON text: the suite, the preset and every group of the suite
 * (what --resume compares, and the report keeps). */
mw_status mw_suite_config_json(const mw_suite_def *def, const mw_suite_config *c, char *buf,
                               size_t n, mw_err *err);

/* The configuration a report's config JSON text describes (mw_suite_config_json's), read
 * back exactly: written again it gives the same text, or MW_ERR_FORMAT. The suite's prepare
 * has not run on it (no data loaded). */
mw_status mw_suite_config_from_json(const mw_suite_def *def, const char *text,
                                    mw_suite_config *c, mw_err *err);

/* ---- running ---- */

typedef struct mw_suite_job {
    const mw_suite_def *def;
    const mw_suite_config *cfg;
    const char *path;         /* the report; NULL: keep it in memory only */
    int force, resume, jobs;
    const char *command_line;
    mw_suite_progress_fn progress;
    void *progress_arg;
    const double *unit_cost;  /* the estimate's cost of each unit (mw_estimate.unit_cost), which
                                 weighs the progress; NULL: all alike */
    /* Called once the report is open (new, or resumed with the same configuration) and
     * before any unit runs: todo of the total units are still to do. NULL: nothing. */
    void (*started)(void *arg, long todo, long total);
    void *started_arg;
    /* --shard I/N (shard_count 0: the whole grid): the units u with u mod N = I - 1, into a
     * report that says so; the suite's finish is left to mwverify report merge */
    int shard_index, shard_count;
    /* the units' runner: NULL, processes forked here (mw_runner_run); else another (MPI) */
    mw_status (*run_units)(const mw_runner *r, mw_err *err);
} mw_suite_job;

/* Is unit u in the report, done: its network and every one of its runs, none of them
 * still running? */
int mw_suite_unit_done(const mw_suite_def *def, const mw_suite_config *c, const mw_report *r,
                       long u);

/* Shard reports (each of a suite run with --shard I/N, complete) into one report at out,
 * the whole grid's, as one process would have written it (the same numbers: the units are
 * independent of each other), the suite's finish drawn on it. Refused, with one line,
 * unless every input is a complete shard of one configuration, each shard given once, none
 * missing. cfg gets the configuration, rep the report (free it), *failures the checks it
 * fails (exit 1). */
mw_status mw_suite_merge(const char *out, int force, const char *const *in, int n_in,
                         const mw_suite_def **def, mw_suite_config *cfg, mw_report *rep,
                         size_t *failures, mw_err *err);

/* The command that finishes a report a command line wrote: the same, with --resume in
 * place of any --force or --resume. */
void mw_resume_command(const char *command_line, char *again, size_t len);

/* Is unit u one of shard index/count's (count 0: every unit is)? */
int mw_shard_has(int index, int count, long u);

/* Run a suite into its report. MW_OK when the report is complete (checks may still have
 * failed: *failures counts them); MW_ERR_ARG for bad usage (a resume of a report written
 * with another configuration, a path that exists without --force); MW_ERR_IO when
 * writing failed; MW_ERR_BACKEND when a worker died. With out, the report is handed over
 * (free it with mw_report_free). */
mw_status mw_suite_run(const mw_suite_job *job, mw_report *out, size_t *failures, mw_err *err);

/* ---- verdicts (judge.c) ---- */

/* Judge a finished run (its network may be NULL) under the suite's check and gates: its
 * verdict and why — the check or gate, the measure against the limit, the step, the worst
 * parameter by name and its expected and computed values. A run still going is not
 * judged. */
void mw_judge_run(const mw_suite_def *def, const mw_suite_config *c,
                  const mw_report_network *net, mw_report_run *run);
/* Runs whose verdict is fail (a suite's failures, for suites of runs). */
size_t mw_count_failing_runs(const mw_suite_config *c, const mw_report *r);
/* The failing runs, each named with its cell and why, and a one-line PASSED/FAILED. */
void mw_print_failing_runs(FILE *f, const mw_report *r);

/* Units that could not be computed at all (out of memory, a worker's failure): in the
 * report as failed networks without runs, which --resume computes again. Their count, and
 * the first of them. */
size_t mw_suite_lost_units(const mw_report *r, const mw_report_network **first);

/* ---- what the suites share ---- */

/* y ∝ x^p by least squares in log-log: the slope p and R² (NaN when undefined). 0, or 1
 * when fewer than two points are positive. */
int mw_fit_power(const double *x, const double *y, size_t n, double *exponent, double *r2);
/* The same with the line's intercept: log y ≈ *log_c + p log x (NaN when undefined). */
int mw_fit_power_line(const double *x, const double *y, size_t n, double *exponent,
                      double *r2, double *log_c);
/* Working bytes plus what the paper does not count: parameters, gradient and batch. */
long long mw_scaling_total_bytes(const mw_spec *s, mw_dtype dtype, long long peak);

#endif
