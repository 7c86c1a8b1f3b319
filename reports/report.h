/* Suite reports (DESIGN.md §7, reports/SCHEMA.md): one HDF5 file per suite run, with
 * root metadata, one group per network (its oracle), one group per run (a method in a
 * dtype on a network: its status and its per-step, per-epoch and per-layer tables) and
 * a summary table.
 *
 * The report lives in memory and each commit writes the whole file anew, beside the old
 * one, and renames it into place: a writer killed at any moment leaves the last
 * committed file, complete and closed (SCHEMA.md says why HDF5 gives no safer way). The
 * same structures are what mw_report_load reads back. */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stddef.h>

#include "mw_spec.h"

#define MW_REPORT_FORMAT "mwverify-report"
#define MW_REPORT_VERSION 1

typedef struct mw_report_meta {
    char suite[32];            /* gradcheck, stability, ... */
    char mwverify_version[32];
    char created_utc[32];
    char updated_utc[32];      /* of the last commit */
    char command_line[2048];
    char config_json[8192];    /* the suite's configuration, as JSON text */
    char engine[32];           /* cpu */
    char device[160];          /* e.g. the CPU's model name */
    char math_mode[96];
    char host[128];
} mw_report_meta;

/* One gradient: its error against the oracle at the run's own parameters, and for
 * training suites where the run stands. Fields that do not apply are NaN. */
typedef struct mw_report_step {
    long long step, epoch;
    double loss, accuracy;      /* at the batch, before the update */
    double rel_l2, max_abs, max_ulp, cosine; /* against the oracle (silver in training) */
    double closure_err;         /* moonwalk, mixed */
    double recon_err;           /* revbackprop: |x̂_0 - x_0| / |x_0| */
    double dist_ref;            /* |θ - θ_ref| / |θ_ref| to the reference trajectory */
    double gold_rel_l2;         /* against gold, on gold's schedule */
    double silver_vs_gold;      /* the silver oracle's own error then */
    double seconds;
    long long peak_bytes;
} mw_report_step;

typedef struct mw_report_epoch {
    long long epoch, steps;
    double loss_mean, accuracy, test_accuracy;
    double rel_l2_mean, rel_l2_max, max_ulp_max;
    double dist_ref;            /* at the end of the epoch */
    double lr, seconds;
} mw_report_epoch;

#define MW_REPORT_MAX_PROJ 8

typedef struct mw_report_network {
    long index;
    mw_spec spec;
    char status[16];           /* ok, failed */
    char message[320];
    char oracle[16];           /* gold, silver */
    long bits, check_bits;     /* gold's precisions; 0 for silver */
    double certified_bits, fd_agree_bits; /* NaN for silver */
    long fd_coords;
    double oracle_seconds, loss, grad_norm;
    double silver_vs_gold;     /* silver's rel_l2 against gold; NaN without gold */
    /* projforward's unbiasedness on this network: RMS error of the K-sample mean */
    int n_proj;
    long proj_repeats;
    double proj_k[MW_REPORT_MAX_PROJ], proj_rel_err[MW_REPORT_MAX_PROJ],
        proj_rel_err_sd[MW_REPORT_MAX_PROJ];
    double proj_slope, proj_slope_r2; /* fitted log-log slope (expected -1/2) and its R² */
    /* training suites: the reference trajectory (float64 backprop) from the same start */
    size_t n_ref_steps, n_ref_epochs;
    mw_report_step *ref_steps;   /* owned by the report */
    mw_report_epoch *ref_epochs; /* owned by the report */
} mw_report_network;

typedef struct mw_report_run {
    long index;
    long network;              /* index of its network */
    char method[16], dtype[8];
    char status[16];           /* running, complete, diverged, skipped, failed */
    char message[320];         /* why skipped, diverged or failed */
    int n_layers;              /* columns of layer_rel_l2: L coupling layers and the head */
    size_t n_steps, n_epochs;
    mw_report_step *steps;     /* owned */
    double *layer_rel_l2;      /* n_steps x n_layers, owned */
    mw_report_epoch *epochs;   /* owned */
} mw_report_run;

/* Scaling suites (memory, timing): a fitted growth exponent y ∝ L^p of a quantity
 * against the coupling layers L, per setting, method and dtype, beside the paper's
 * Table 1; and ratios between methods, beside the paper's figure where it quotes one. */
typedef struct mw_report_fit {
    char setting[64];          /* "mlp width 16", "revnet 8x32x32" */
    char method[16], dtype[8];
    char quantity[16];         /* peak_bytes, seconds */
    double exponent, r2;
    long long points;
    char table1[16];           /* Table 1's order in L: "1", "0", "0..1", "2" */
} mw_report_fit;

typedef struct mw_report_ratio {
    char name[128];            /* "peak_bytes backprop/moonwalk, revnet 8x32x32, 10 per block" */
    double value, paper;       /* paper: the paper's figure, NaN where it quotes none */
} mw_report_ratio;

typedef struct mw_report {
    char path[4096];
    mw_report_meta meta;
    mw_report_fit *fits;       /* owned; written as /fits when n_fits > 0 */
    size_t n_fits;
    mw_report_ratio *ratios;   /* owned; written as /ratios when n_ratios > 0 */
    size_t n_ratios;
    mw_report_network *networks;
    size_t n_networks, cap_networks;
    mw_report_run *runs;
    size_t n_runs, cap_runs;
} mw_report;

/* A report for path, empty but for its metadata (engine, device, math mode, host and
 * times are filled in here when left empty). Nothing is written until a commit. */
int mw_report_init(mw_report *r, const char *path, const mw_report_meta *meta, char *msg,
                   size_t msg_len);
void mw_report_free(mw_report *r);

/* Before any work: the directory of path must exist and be writable; an existing path is
 * refused unless force or resume (and must exist for resume). */
int mw_report_check_path(const char *path, int force, int resume, char *msg, size_t msg_len);

/* Insert, or replace the one with the same index. Both are deep-copied. */
int mw_report_set_network(mw_report *r, const mw_report_network *n);
int mw_report_set_run(mw_report *r, const mw_report_run *run);
const mw_report_network *mw_report_network_at(const mw_report *r, long index);
const mw_report_run *mw_report_run_at(const mw_report *r, long index);

/* Write the whole report to its path (atomically; see above). */
int mw_report_commit(mw_report *r, char *msg, size_t msg_len);

/* Read a report. A file that is not HDF5, truncated, foreign (no mwverify format
 * attribute) or of a newer format version is refused with a message naming the file. */
int mw_report_load(mw_report *r, const char *path, char *msg, size_t msg_len);

/* The last row of a run's steps, or NULL. */
const mw_report_step *mw_report_last_step(const mw_report_run *run);

/* The host's name, and the CPU's model name (from /proc/cpuinfo), for metadata. */
void mw_report_host(char *host, size_t host_len, char *device, size_t device_len);

#endif
