/* suite stability inside suites/ (docs/architecture.md §6; the paper's §6.6): its configuration and
 * cost (stability.c), real data (stability_data.c), one method in training
 * (stability_train.c), the unit (stability_unit.c) and the verdict (stability_verdict.c). */
#ifndef MW_STABILITY_H
#define MW_STABILITY_H

#include "datasets.h"
#include "suite.h"

extern const mw_suite_def mw_stability_suite;

/* ---- real data ---- */

/* The dataset of the configuration, read, pooled, normalised, with the training draw. */
struct mw_stability_data {
    mw_dataset train, test; /* pooled and normalised */
    size_t *train_idx;      /* the n_train training samples, a seeded draw */
    size_t *test_idx;       /* 0 .. n_test-1 */
};

/* Real data for suite stability: the dataset c->train.dataset names, read and checked,
 * average-pooled to train.image (when set), normalised per channel with the statistics of
 * its training part; n_train training samples drawn (seeded by the suite seed) from the
 * training files, the held-out accuracy measured on the first n_test of the test files.
 * The networks are fitted to it: classes from the data; mlp width C·H·W (channels padded
 * to 2 when C·H·W is odd); revnet image H x W and channels padded with zeros to the
 * revnet's --channels (at least C, rounded up to even). Nothing to do for "synthetic".
 * MW_ERR_ARG with a one-line message naming the file and record. */
mw_status mw_stability_load_data(mw_suite_config *c, mw_err *err);
void mw_stability_free_data(mw_suite_config *c);

/* ---- one method in training ---- */

typedef struct mw_trainee {
    mw_method m;
    mw_dtype dtype;
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_adam adam;
    mw_tensor g;
    int alive, was_alive; /* training now; at the start of this epoch */
    mw_report_run run;    /* its rows so far */
    size_t cap_steps, cap_epochs;
    /* this epoch so far */
    long ep_steps;
    double ep_loss, ep_acc, ep_err, ep_err_max, ep_ulp_max, ep_seconds;
} mw_trainee;

mw_status mw_trainee_init(mw_trainee *t, const mw_engine_config *e, const mw_spec *s,
                          const double *theta0, const double *x, const int *y,
                          const mw_train_config *tc, mw_err *err);
void mw_trainee_free(mw_trainee *t);

/* ---- a unit: one network trained by every asked method in lockstep ---- */

typedef struct mw_lockstep {
    const mw_suite_config *c;
    mw_spec spec;
    mw_layout lay;
    size_t P, N, B, n;
    int steps_per_epoch, total_steps;
    double *x_train, *x_test; /* synthetic data (real data: c->data) */
    double *xb, *xt, *theta0, *theta_ref, *theta, *g, *gs;
    int *y_train, *y_test, *yb, *yt;
    size_t *perm, *order;
    mw_trainee ref;           /* float64 backprop: the reference trajectory */
    mw_trainee *tr;           /* the asked methods, dtype-major */
    int n_tr;
    mw_ctx *sctx;             /* the silver oracle at each method's parameters */
    mw_net *snet;
    mw_batch *sbatch;
    mw_tensor sg;
    double loss0;             /* the reference's first loss */
    /* The last gold computed, at gold_theta in step gold_step: a method at the same θ in
     * the same step (every method at step 0) reuses it rather than computing it again. */
    mw_gold gold;
    double *gold_theta;
    long gold_step;
    int gold_have;
} mw_lockstep;

/* The reference's step: float64 backprop and Adam; its parameters before the update are
 * left in u->theta_ref for the distances of this step. */
mw_status mw_reference_step(mw_lockstep *u, long step, int epoch, double lr, mw_err *err);
/* One method's step: its gradient at its own θ, measured against silver there (and gold
 * on schedule), then Adam; a non-finite value or an exploding loss stops it, diverged. */
mw_status mw_method_step(mw_lockstep *u, mw_trainee *t, long step, int epoch, double lr,
                         int gold_now, mw_err *err);
/* Close the epoch for a trainee that trained in it: means, maxima, held-out accuracy. */
mw_status mw_close_epoch(mw_lockstep *u, mw_trainee *t, int epoch, double lr,
                         const double *theta_ref, mw_err *err);
/* xb, yb := samples order[0..B) of the training (test = 0) or held-out part. */
mw_status mw_lockstep_fetch(mw_lockstep *u, int test, const size_t *order, double *xb, int *yb);

/* The wall time of one lockstep step of unit's network (the reference, silver and every
 * asked method that is not skipped; no gold), timed on this machine after a warm-up step:
 * the mean of at least three, over at least a quarter of a second when the unit has the
 * steps. */
mw_status mw_stability_step_seconds(const mw_suite_config *c, long unit, double *seconds,
                                    mw_err *err);
mw_status mw_stability_unit(const void *cfg, long unit, mw_unit_emit_fn emit, void *emit_arg,
                            mw_unit_result *out, mw_err *err);

/* ---- the verdict ---- */

/* Per architecture, output activation, method and dtype. */
typedef struct mw_verdict_row {
    mw_arch arch;
    mw_act out_act;
    mw_method method;
    mw_dtype dtype;
    int runs, diverged, skipped, failed;
    int failing;              /* judged fail: a gate tripped, or could not be computed */
    double test_accuracy;     /* mean over the runs that completed, at the last epoch */
    double err_median_last, err_max_last; /* rel_l2 over every step of the last epoch */
    double err_median_first;  /* the same over the first epoch */
    double growth;            /* err_median_last / err_median_first */
    double dist_ref;          /* median distance to the reference at the end */
} mw_verdict_row;
extern const mw_record mw_verdict_record;

/* The rows of a stability report (allocated; *n of them). NULL when out of memory. */
mw_verdict_row *mw_stability_verdict(const mw_report *r, size_t *n);
void mw_stability_print_verdict(FILE *f, const mw_suite_config *c, const mw_report *r,
                                int verbose);
void mw_stability_json_verdict(mw_json *j, const mw_suite_config *c, const mw_report *r,
                               int verbose);

#endif
