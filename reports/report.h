/* Suite reports (docs/architecture.md §7, reports/SCHEMA.md): one HDF5 file per suite run, with
 * root metadata, one group per network (a unit of the suite, with its oracle), one group
 * per run (a method in a dtype on a network: its status and its per-step, per-epoch and
 * per-layer tables), a summary table in run order, and the suite's own tables (fits,
 * ratios, layer checks). Every record is written and read through its field table
 * (records.h).
 *
 * The report lives in memory and each commit writes the whole file anew, beside the old
 * one, and renames it into place: a writer killed at any moment leaves the last
 * committed file, complete and closed (SCHEMA.md says why HDF5 gives no safer way). The
 * same structures are what mw_report_load reads back — from a suite report, or from a
 * gradient dump (grad --out), which it reads as a report of one network. */
#ifndef MW_REPORT_H
#define MW_REPORT_H

#include <stddef.h>

#include "records.h"

#define MW_REPORT_FORMAT "mwverify-report"
#define MW_REPORT_VERSION 4

/* The tables a suite may add, by dataset name. */
typedef enum {
    MW_TABLE_FITS = 0,
    MW_TABLE_RATIOS,
    MW_TABLE_LAYER_CHECKS,
    MW_TABLE_TIMINGS,
    MW_N_TABLES
} mw_table_id;

typedef struct mw_report_table {
    void *rows;                /* records of mw_report_table_record(id) */
    size_t n, cap;
} mw_report_table;

typedef struct mw_report {
    char path[4096];
    mw_report_meta meta;
    mw_report_network *networks; /* in index order */
    size_t n_networks, cap_networks;
    mw_report_run *runs;       /* in index order */
    size_t n_runs, cap_runs;
    mw_report_table tables[MW_N_TABLES];
} mw_report;

const char *mw_report_table_name(mw_table_id t);
const mw_record *mw_report_table_record(mw_table_id t);

/* A report for path, empty but for its metadata (engine, device, math mode, host and
 * times are filled in here when left empty). Nothing is written until a commit. */
mw_status mw_report_init(mw_report *r, const char *path, const mw_report_meta *meta,
                         mw_err *err);
void mw_report_free(mw_report *r);

/* Before any work: the directory of path must exist and be writable; an existing path is
 * refused unless force or resume (and must exist for resume). */
mw_status mw_report_check_path(const char *path, int force, int resume, mw_err *err);

/* Give up the claim mw_report_check_path made on path, once nothing more will be written
 * there (a process that writes many reports; the end of the process gives up every claim). */
void mw_report_release_path(const char *path);

/* Insert, or replace the one with the same index, keeping index order. Deep copies. */
mw_status mw_report_set_network(mw_report *r, const mw_report_network *n);
mw_status mw_report_set_run(mw_report *r, const mw_report_run *run);
const mw_report_network *mw_report_network_at(const mw_report *r, long index);
const mw_report_run *mw_report_run_at(const mw_report *r, long index);
/* Append rows to a table. */
mw_status mw_report_add_rows(mw_report *r, mw_table_id t, const void *rows, size_t n);
void mw_report_clear_table(mw_report *r, mw_table_id t);

/* Deep copies and frees of a network's and a run's arrays. */
mw_status mw_network_copy(mw_report_network *dst, const mw_report_network *src);
void mw_network_free(mw_report_network *n);
mw_status mw_run_copy(mw_report_run *dst, const mw_report_run *src);
void mw_run_free(mw_report_run *run);

/* Write the whole report to its path (atomically; see above). */
mw_status mw_report_commit(mw_report *r, mw_err *err);

/* Read a report or a gradient dump. A file that is not HDF5, truncated, damaged, foreign,
 * of a newer format version or with a field out of its range is refused with one line
 * naming the file (MW_ERR_FORMAT; MW_ERR_ARG for a missing file). libhdf5 reads it in a
 * child process, which sends the report back (report_wire.h): a file that crashes, hangs
 * or corrupts libhdf5 harms only that child. */
mw_status mw_report_load(mw_report *r, const char *path, mw_err *err);

/* Do two reports hold different results? Every number of every network, run, step, epoch
 * and table row is compared bit for bit, and the metadata that says what was computed
 * (suite, version, configuration, engine, math mode); not what differs between two runs of
 * the same work: measured times (fields named *seconds*, the timing suite's tables), when,
 * where, by which command or as which shard. Table rows are compared as a multiset (units
 * append theirs as they finish). 1 with the first difference in why, else 0. */
int mw_report_diff(const mw_report *a, const mw_report *b, char *why, size_t n);

/* For a signal handler about to end the process: remove the lock files this process holds
 * on the files it writes and the temporary file of a write in progress (async-signal-safe;
 * the files already in place are whole). */
void mw_report_abandon_writes(void);

/* The last row of a run's steps, or NULL. */
const mw_report_step *mw_report_last_step(const mw_report_run *run);

/* The host's name, and the CPU's model name (from /proc/cpuinfo), for metadata. */
void mw_report_host(char *host, size_t host_len, char *device, size_t device_len);

#endif
