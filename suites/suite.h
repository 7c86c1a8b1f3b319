/* Suites that write reports (DESIGN.md §6): a grid of networks — arch × F activation ×
 * output activation × depth × seed — each with its runs, method × dtype, expanded from a
 * preset and command-line overrides, and driven by the runner into one HDF5 report. */
#ifndef MW_SUITE_H
#define MW_SUITE_H

#include "report.h"
#include "runner.h"
#include "suites.h"

#define MW_SUITE_MAX_DEPTHS 32
#define MW_SUITE_MAX_SEEDS 32
#define MW_SUITE_MAX_PROJ_K 5

typedef struct mw_suite_grid {
    mw_arch archs[2];
    int n_archs;
    mw_act f_acts[4];
    int n_f_acts;
    mw_act out_acts[3];
    int n_out_acts;
    int depths[MW_SUITE_MAX_DEPTHS];  /* mlp: coupling layers */
    int n_depths;
    int lpbs[MW_SUITE_MAX_DEPTHS];    /* revnet: layers per block */
    int n_lpbs;
    int channels[4];                  /* revnet: input channels (padding); 0 values: the
                                         revnet's own --channels */
    int n_channels;
    mw_dtype dtypes[2];
    int n_dtypes;
    uint64_t seeds[MW_SUITE_MAX_SEEDS];
    int n_seeds;
    int want[MW_N_METHODS];
    int named;                /* methods named one by one (no budget skips) */
} mw_suite_grid;

struct mw_stability_data;

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
    double time_budget_h;     /* refuse to start a suite estimated to take longer */
    /* the real data, loaded once before the workers start (mw_stability_load_data);
     * NULL for synthetic data. Not part of the configuration's JSON: `dataset` is. */
    const struct mw_stability_data *data;
} mw_train_config;

typedef struct mw_suite_config {
    char preset[32];
    uint64_t suite_seed;
    mw_suite_grid grid;
    mw_grad_request base;     /* the mlp network's other sizes, the oracle, method options */
    mw_spec revnet;           /* the revnet network's other sizes (channels, image, blocks,
                                 units, BN; batch and classes as base's) */
    double tol;               /* f64 deterministic methods: rel_l2 against gold at most */
    int proj_repeats;         /* projforward unbiasedness: repeats per K (0: not measured) */
    int repeats;              /* suite timing: timed calls per method, after a warm-up */
    int no_gold;              /* the suite uses no oracle (memory, timing) */
    mw_train_config train;    /* stability only */
} mw_suite_config;

/* The presets of `suite gradcheck`: quick (the gradcheck grid: depths 1, 2, 4, 8; relu,
 * tanh; none, tanh, leaky; f32, f64; one seed; width 8, hidden 8, batch 4, 3 classes) and
 * standard (grad's default network, depths 1..16, every F activation, three seeds).
 * 0, or 1 for an unknown name. */
int mw_suite_preset(const char *name, mw_suite_config *c);

long mw_suite_n_networks(const mw_suite_config *c);
long mw_suite_runs_per_network(const mw_suite_config *c); /* asked methods × dtypes */

/* Networks of one architecture in the grid (mlp: its depths; revnet: its layers per
 * block). */
long mw_suite_n_networks_of(const mw_suite_config *c, mw_arch a);

/* The network of unit u (grid order: arch, F act, out act, depth or layers per block, seed;
 * the seed varies fastest). Its seed is mixed from the suite seed and the grid's seed value alone, so
 * every method, dtype, activation and depth of one replicate starts from the same stream
 * of parameters and data, and no unit's numbers depend on any other's. */
void mw_suite_network(const mw_suite_config *c, long u, mw_spec *out);
/* Run index of (unit, dtype position, method): stable whatever methods are asked. */
long mw_suite_run_index(const mw_suite_config *c, long u, int dtype_pos, mw_method m);

/* Every network valid, the grid not empty, gold's estimated time within its budget.
 * 0, or 1 with a message. */
int mw_suite_validate(const mw_suite_config *c, char *msg, size_t msg_len);
/* The configuration as JSON text (what --resume compares). */
int mw_suite_config_json(const mw_suite_config *c, char *buf, size_t n);

/* ---- suite gradcheck ---- */

/* The runner's unit: one network against gold, every asked method in every dtype, and
 * projforward's unbiasedness in float64. cfg is a const mw_suite_config *. */
int mw_gradcheck_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                      mw_unit_result *out, char *msg, size_t msg_len);
/* A run that fails the suite's checks: a float64 deterministic method beyond tol, or any
 * method failed or its network's oracle failed. */
int mw_gradcheck_run_failed(const mw_suite_config *c, const mw_report_run *run);

typedef struct mw_suite_progress {
    size_t runs_done, runs_total;
    size_t networks_done, networks_total;
    double elapsed_s;
    const mw_spec *last;      /* the network just finished */
} mw_suite_progress;

typedef void (*mw_suite_progress_fn)(const mw_suite_progress *p, void *arg);

typedef struct mw_suite_job {
    const mw_suite_config *cfg;
    const char *path;         /* the report; NULL: keep it in memory only */
    int force, resume, jobs;
    const char *command_line;
    mw_suite_progress_fn progress;
    void *progress_arg;
} mw_suite_job;

/* A suite: its name (the report's `suite`), its unit, its check of a run, and what it
 * adds to the report once every unit is in (NULL: nothing; 0 or nonzero with msg). */
typedef struct mw_suite_def {
    const char *name;
    mw_unit_fn unit;
    int (*run_failed)(const mw_suite_config *c, const mw_report_run *run);
    int (*finish)(const mw_suite_config *c, mw_report *r, char *msg, size_t msg_len);
} mw_suite_def;

/* Run a suite into its report (see mw_suite_gradcheck). */
mw_status mw_suite_execute(const mw_suite_job *job, const mw_suite_def *def, mw_report *out,
                           size_t *failed_runs, char *msg, size_t msg_len);

/* Run suite gradcheck into its report. MW_OK when the report is complete (checks may
 * still have failed: *failed_runs counts them); MW_ERR_ARG for bad usage (a resume of a
 * report written with another configuration, a path that exists without --force);
 * MW_ERR_BACKEND when writing failed or a worker died. With out, the report is handed
 * over (free it with mw_report_free). */
mw_status mw_suite_gradcheck(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                             char *msg, size_t msg_len);

/* ---- suite stability ---- */

/* The presets of `suite stability`: quick (the default: mlp width 16, hidden 32, batch 32,
 * F act relu and tanh, out act none and tanh, depths 2 and 8, 2 seeds, 8 epochs of 32
 * steps, every affordable method in float32, gold every 128 steps; about a minute on two
 * cores) and standard
 * (more depths, seeds and epochs; tens of minutes). 0, or 1 for an unknown name. */
int mw_stability_preset(const char *name, mw_suite_config *c);
/* Also the training options' ranges; 0, or 1 with a message. */
int mw_stability_validate(const mw_suite_config *c, char *msg, size_t msg_len);
/* The same without gold's time budget (what mw_stability_estimate needs first). */
int mw_stability_check_options(const mw_suite_config *c, char *msg, size_t msg_len);

/* Real data for suite stability: the dataset c->train.dataset names, read and checked,
 * average-pooled to train.image (when set), normalised per channel with the statistics of
 * its training part; n_train training samples drawn (seeded by the suite seed) from the
 * training files, the held-out accuracy measured on the first n_test of the test files.
 * The networks are fitted to it: classes from the data; mlp width C·H·W (channels padded
 * to 2 when C·H·W is odd); revnet image H x W and channels padded with zeros to the
 * revnet's --channels (at least C, rounded up to even). Nothing to do for "synthetic".
 * 0, or 1 with a one-line message naming the file and record (bad input). */
int mw_stability_load_data(mw_suite_config *c, char *msg, size_t msg_len);
void mw_stability_free_data(mw_suite_config *c);

/* The estimated cost of the suite (after mw_stability_check_options, which it calls):
 * GFLOP of every method, the reference and silver, and the forward passes of the
 * accuracies, over every step; and seconds on this machine's CPU engine, from timed
 * float32 and float64 backprop steps of the first network of each architecture, plus
 * gold's estimate at every method's scheduled checks (0 when nothing could be timed). */
int mw_stability_estimate(const mw_suite_config *c, double *gflop, double *seconds, char *msg,
                          size_t msg_len);

/* The unit: one network trained by every asked method in every dtype in lockstep, and by
 * the reference (float64 backprop), emitting its rows after every epoch. */
int mw_stability_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                      mw_unit_result *out, char *msg, size_t msg_len);
/* A run that could not be computed (failed); divergence is a result, not a failure. */
int mw_stability_run_failed(const mw_suite_config *c, const mw_report_run *run);

mw_status mw_suite_stability(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                             char *msg, size_t msg_len);

/* ---- suite memory and suite timing (the paper's Table 1, Figures 2–4) ---- */

/* The presets: quick (the default: an mlp of width 16 at 3, 6, 9, 15, 30 layers and revnets
 * of 8x8 images padded to 8 and 18 channels at 1, 2, 3, 5, 10 layers per block; timing: the
 * mlp at 6, 12, 30, 60 layers and a small revnet) and paper (the paper's shapes: revnets of
 * 32x32 padded to 8 and 18 channels, batch 512, for a GPU). 0, or 1 for an unknown name. */
int mw_scaling_preset(const char *suite, const char *name, mw_suite_config *c);
int mw_memory_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                   mw_unit_result *out, char *msg, size_t msg_len);
int mw_timing_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                   mw_unit_result *out, char *msg, size_t msg_len);
/* The growth exponents (per setting, method, dtype: log-log slope against the coupling
 * layers, with R²) beside Table 1, and the paper's ratios, into r->fits and r->ratios. */
int mw_scaling_analyse(const mw_suite_config *c, mw_report *r, char *msg, size_t msg_len);
/* y ∝ x^p by least squares in log-log: the slope p and R² (NaN when undefined). 0, or 1
 * when fewer than two points are positive. */
int mw_fit_power(const double *x, const double *y, size_t n, double *exponent, double *r2);
/* Working bytes plus what the paper does not count: parameters, gradient and batch. */
long long mw_scaling_total_bytes(const mw_spec *s, const char *dtype, long long peak);
mw_status mw_suite_memory(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                          char *msg, size_t msg_len);
mw_status mw_suite_timing(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                          char *msg, size_t msg_len);

/* The verdict of a stability report: per architecture, output activation, method and
 * dtype. */
typedef struct mw_verdict_row {
    char arch[8], out_act[8], method[16], dtype[8];
    int runs, diverged, skipped, failed;
    double test_accuracy;     /* mean over the runs that completed, at the last epoch */
    double err_median_last, err_max_last; /* rel_l2 over every step of the last epoch */
    double err_median_first;  /* the same over the first epoch */
    double growth;            /* err_median_last / err_median_first */
    double dist_ref;          /* median distance to the reference at the end */
} mw_verdict_row;

/* Fill rows (at most max); returns how many. */
size_t mw_stability_verdict(const mw_report *r, mw_verdict_row *rows, size_t max);

#endif
