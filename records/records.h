/* The records mwverify measures and writes, each with its field table (mw_record.h):
 * the network (mw_spec), metrics, an oracle, a gradient step, an epoch, projforward's
 * rate, a network (a unit of a suite), a run, a run's summary row, a fit, a ratio, a
 * layer check row and a report's metadata. reports/SCHEMA.md lists them as files hold them
 * (`mwverify report schema` prints the same from these tables). */
#ifndef MW_RECORDS_H
#define MW_RECORDS_H

#include <stddef.h>

#include "mw_engine.h"
#include "mw_record.h"
#include "oracles.h"

/* ---- the enums of the records ---- */

/* Why a gradient has the error it has (suites/diagnose.c). */
typedef enum {
    MW_DIAG_NONE = 0,        /* not diagnosed (not complete, stochastic, or a training run) */
    MW_DIAG_ROUNDING,        /* within what rounding explains in a backward-stable gradient */
    MW_DIAG_ILL_CONDITIONED, /* the exact gradient itself moves that much under rounding-sized
                                perturbations of θ and x: every method, backprop included */
    MW_DIAG_UNSTABLE,        /* beyond both: the method's own recurrence amplified rounding */
} mw_diag_class;
extern const mw_names mw_diag_names;

/* A run of a method: what became of it. */
typedef enum {
    MW_RUN_NOT_ASKED = 0,
    MW_RUN_RUNNING,   /* a training run still going (a report being written) */
    MW_RUN_COMPLETE,
    MW_RUN_NONFINITE, /* the gradient came out with inf or NaN (or stopped part way on one) */
    MW_RUN_DIVERGED,  /* training stopped: a non-finite value, or the loss exploded */
    MW_RUN_SKIPPED,   /* not run: the message says why */
    MW_RUN_FAILED,    /* could not be computed: the message says why */
} mw_run_status;
extern const mw_names mw_run_status_names;

/* A run judged against the checks and gates of its suite (suites/judge.c). */
typedef enum {
    MW_VERDICT_NONE = 0, /* not judged: a run still going, or a single gradient (grad) */
    MW_VERDICT_PASS,     /* within every check and gate (a divergence no gate fails is a
                            finding, and passes) */
    MW_VERDICT_FAIL,     /* a check or gate tripped, or the run could not be computed */
    MW_VERDICT_SKIP,     /* not run (too costly, no inverse): the message says why */
} mw_verdict;
extern const mw_names mw_verdict_names;

typedef enum { MW_NET_OK = 0, MW_NET_FAILED } mw_net_status;
extern const mw_names mw_net_status_names;

typedef enum {
    MW_ORACLE_AUTO = 0,
    MW_ORACLE_GOLD,
    MW_ORACLE_SILVER,
    MW_ORACLE_NONE,
    MW_ORACLE_PROOF, /* the interval reference: enclosures of the exact gradient */
} mw_oracle_kind;
/* Gold or proof: the exact gradient, to p bits (not float64's silver). */
int mw_oracle_exact(mw_oracle_kind k);
extern const mw_names mw_oracle_names;

/* ---- records ---- */

extern const mw_record mw_spec_record;    /* mw_spec (spec/mw_spec.h) */
extern const mw_record mw_engine_info_record; /* mw_engine_info (mw_engine.h) */
extern const mw_record mw_metrics_record; /* mw_metrics (oracles.h) */

/* What a gradient was measured against. */
typedef struct mw_oracle_info {
    mw_oracle_kind kind;
    char reason[200];           /* why this oracle */
    long bits, check_bits;      /* gold's precisions; 0 for silver */
    double certified_bits, fd_agree_bits; /* NaN without gold */
    long fd_coords;
    double seconds;             /* gold's wall time */
    double gold_estimate_seconds;
    double loss, grad_norm;     /* the oracle's loss and |g*| */
    mw_metrics silver_vs_gold;  /* silver's own error against gold (NaN without gold) */
    /* proof (the interval reference; files have them only then) */
    double proved_bits;         /* the least over the gradient's entries */
    long kinks;                 /* ReLU or leaky pre-activations whose interval holds 0 */
    long undetermined;          /* entries with less than one bit proved */
    char first_kink[64];           /* where the first kink was: "layer 2, unit 1" */
} mw_oracle_info;
extern const mw_record mw_oracle_record;

/* One gradient: its error against the oracle at the run's own parameters, and for
 * training suites where the run stands. Fields that do not apply are NaN. */
typedef struct mw_report_step {
    long long step, epoch;
    double loss, accuracy;      /* at the batch, before the update */
    mw_metrics vs;              /* against the oracle (silver in training) */
    double closure_err;         /* moonwalk, mixed */
    double recon_err;           /* revbackprop: |x̂_0 - x_0| / |x_0| */
    double dist_ref;            /* |θ - θ_ref| / |θ_ref| to the reference trajectory */
    double gold_rel_l2;         /* against gold, on gold's schedule */
    double silver_vs_gold;      /* the silver oracle's own error then */
    double seconds;
    long long peak_bytes;       /* -1: not measured */
} mw_report_step;
extern const mw_record mw_step_record;

typedef struct mw_report_epoch {
    long long epoch, steps;
    double loss_mean, accuracy, test_accuracy;
    double rel_l2_mean, rel_l2_max, max_ulp_max;
    double dist_ref;            /* at the end of the epoch */
    double lr, seconds;
} mw_report_epoch;
extern const mw_record mw_epoch_record;

/* projforward's unbiasedness on a network: the RMS error of its K-sample mean. */
#define MW_PROJ_MAX 8
typedef struct mw_proj_rate {
    int n;                      /* K values measured; 0: not measured */
    long repeats;
    double k[MW_PROJ_MAX], rel_err[MW_PROJ_MAX], rel_err_sd[MW_PROJ_MAX];
    double slope, slope_r2;     /* fitted log-log slope (expected -1/2) and its R² */
} mw_proj_rate;
extern const mw_record mw_proj_record;

/* A unit of a suite: a network with its oracle (or, in suite layers, a layer type). */
typedef struct mw_report_network {
    long index;
    char label[96];             /* what the unit is when it is not one network */
    mw_spec spec;
    mw_net_status status;
    char message[320];
    mw_oracle_info oracle;
    mw_proj_rate proj;
    /* training suites: the reference trajectory (float64 backprop) from the same start */
    size_t n_ref_steps, n_ref_epochs;
    mw_report_step *ref_steps;
    mw_report_epoch *ref_epochs;
} mw_report_network;
extern const mw_record mw_network_record;

/* The diagnosis of one gradient, measured on its own network and batch in float64: the
 * error rounding explains, and where a method departs from backprop. NaN and 0 where not
 * measured. */
typedef struct mw_diagnosis {
    mw_diag_class cls;
    double error;               /* the error diagnosed: rel_l2 against the oracle (for a
                                   training run, at its end) */
    double predicted;           /* the error rounding alone explains for this method */
    double floor;               /* a backward-stable gradient's: u (L + 1) */
    double problem;             /* |g(θ̃, x̃) − g(θ, x)| / |g|, θ and x perturbed by relative u */
    double amplification;       /* the method's own error in float64 over float64's u */
    double backprop;            /* backprop's error in the same dtype, the witness of a
                                   sensitive problem (NaN: not run; for backprop itself) */
    int layer;                  /* first layer whose error departs > 10x from backprop's and
                                   the floor (0: none; -1: the head) */
    double sat4, sat9;          /* there: share of σ's pre-activations with |z| > 4, > 9 */
    double negative;            /* there, leaky σ: share with z < 0 (D⁻¹ = 1/α on each) */
    long tanh_pm1;              /* there: units whose float32 tanh(z) rounds to ±1 */
    long dinv_overflow;         /* there: units whose cosh²(z) overflows float32 (|z| > 44.7) */
} mw_diagnosis;
extern const mw_record mw_diagnosis_record;

/* A method in a dtype on a network, and its rows. */
typedef struct mw_report_run {
    long index;
    long network;               /* index of its network */
    mw_method method;
    mw_dtype dtype;
    mw_run_status status;
    char message[320];          /* why skipped, diverged, non-finite or failed */
    double est_gflop;           /* the method's estimated cost of one gradient */
    mw_verdict verdict;
    char why[640];              /* the verdict's reason: the check or gate, its measure and
                                   limit (a failure: where and, when known, the cause) */
    mw_diagnosis diag;          /* single-gradient runs (grad, gradcheck): why its error */
    int n_layers;               /* columns of layer_rel_l2: L coupling layers and the head */
    size_t n_steps, n_epochs;
    mw_report_step *steps;
    double *layer_rel_l2;       /* n_steps x n_layers */
    mw_report_epoch *epochs;
} mw_report_run;
extern const mw_record mw_run_record;

/* A run at a glance: its cell, its status and its last step (the /summary table, the
 * rows of every printed table of runs, and the runs of report summary --json). */
typedef struct mw_run_summary {
    long long run, network;
    mw_arch arch;
    mw_act f_act, out_act;
    int depth;
    uint64_t seed;
    mw_method method;
    mw_dtype dtype;
    mw_run_status status;
    char message[320];
    double est_gflop;
    mw_verdict verdict;
    char why[640];
    mw_diagnosis diag;
    mw_report_step last;        /* the last step (NaN and -1 when there is none) */
    long long steps, epochs;
    double test_accuracy;       /* at the last epoch */
} mw_run_summary;
extern const mw_record mw_summary_record;

/* Scaling suites: a fitted growth exponent y ∝ L^p against the coupling layers L, per
 * setting, method and dtype, beside the paper's Table 1. */
typedef struct mw_report_fit {
    char setting[64];           /* "mlp width 16 hidden 32, batch 8" */
    mw_method method;
    mw_dtype dtype;
    char quantity[16];          /* peak_bytes, total_bytes, seconds */
    double exponent, r2;
    long long points;
    char table1[16];            /* Table 1's order in L: "1", "0", "0..1", "2" */
} mw_report_fit;
extern const mw_record mw_fit_record;

typedef struct mw_report_ratio {
    char name[128];             /* "peak_bytes backprop/moonwalk, revnet 8x32x32, ..." */
    double value, paper;        /* paper: the paper's figure, NaN where it quotes none */
} mw_report_ratio;
extern const mw_record mw_ratio_record;

/* A timed run of suite timing: the spread of its timed calls, what else the machine ran
 * meanwhile, and how far it lies from its setting's fit. */
typedef struct mw_report_timing {
    long long run, network;
    mw_method method;
    mw_dtype dtype;
    int layers;                 /* coupling layers L: the fit's x */
    long long calls;            /* timed calls after the warm-up */
    double seconds_min, seconds_median, seconds_max;
    double others;              /* cores kept busy by other processes while its network was
                                   timed (NaN: not measured) */
    int cores;                  /* the processors there were */
    double fitted;              /* the seconds its setting's fit gives at L */
    double residual;            /* seconds_median / fitted */
} mw_report_timing;
extern const mw_record mw_timed_record;

/* One check of a layer type (suite layers, mwverify layer check). */
typedef struct mw_layer_check_row {
    char layer[32];             /* the registry's name */
    char config[96];            /* "mlp 8/6 k2 tanh/tanh, scale 1" */
    mw_dtype dtype;
    char check[32];             /* forward, inverse, ..., method:<name> */
    double error;               /* the check's measure, judged against threshold */
    double max_ulp_floored;     /* see layer_check.h; NaN where no output is compared */
    double threshold;
    int pass;
    char oracle[16];            /* what it was measured against: gold, silver-fd, silver-f64,
                                   identity, exact */
    char note[200];             /* why a check could not be measured (a plugin that crashed,
                                   hung or failed), or how its oracle was formed; "" */
} mw_layer_check_row;
extern const mw_record mw_layer_check_record;

typedef struct mw_report_meta {
    char suite[32];
    char mwverify_version[32];
    char created_utc[32];
    char updated_utc[32];       /* of the last commit */
    char command_line[2048];
    char config_json[8192];     /* the suite's configuration, as JSON text */
    char engine[32];
    char device[160];
    char math_mode[96];
    char host[128];
    /* a shard's report (--shard I/N): units u with u mod N = I - 1 of the grid's
     * units_total; shard_count 0 for a report of the whole grid */
    int shard_index, shard_count;
    long units_total;
} mw_report_meta;
extern const mw_record mw_meta_record;

/* The summary row of a run (its network may be NULL). */
void mw_run_summarize(const mw_report_run *run, const mw_report_network *net,
                      mw_run_summary *out);
/* A step with nothing measured: NaN everywhere, no bytes. */
mw_report_step mw_step_none(void);
/* The diagnosis in words: "method-unstable: ..." (buf; "" when not diagnosed). */
const char *mw_diagnosis_words(const mw_diagnosis *d, mw_dtype dtype, char *buf, size_t n);
/* A diagnosis not measured. */
mw_diagnosis mw_diagnosis_none(void);
/* The closure error |h_L − dJ/dx_L| / |dJ/dx_L| above which a moonwalk or mixed gradient is
 * unreliable, with no oracle: h_L off by more than 1%. Measured (README): on the diagnosis
 * grids every run over it had lost at least 3.9e-5 of its gradient — far beyond rounding —
 * and it caught about half of the method-unstable moonwalk and mixed runs. */
#define MW_CLOSURE_ALARM 1e-2
/* Is a step of method m with this closure error over the alarm (a non-finite one too: h_L
 * overflowed)? 0 for methods without a closure. */
int mw_closure_alarm(mw_method m, double closure_err);

/* Does the method have a closure error (moonwalk, mixed)? */
int mw_method_has_closure(mw_method m);

#endif
