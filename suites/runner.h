/* The suite runner (docs/architecture.md §6): a suite is a list of independent work units (one
 * network each, with all its runs); the runner executes the units still to do, in this
 * process or in N forked workers, and hands every finished unit to the caller in the
 * parent, which records it in the report. Units are seeded from their own coordinates,
 * so any order or split of the work gives the same numbers. */
#ifndef MW_RUNNER_H
#define MW_RUNNER_H

#include <stddef.h>

#include "report.h"

/* What a unit produces: its network record, its runs and rows of one of the report's
 * tables (all owned). A partial result (partial = 1) is the unit so far, its runs still
 * running; the final one replaces it. */
typedef struct mw_unit_result {
    long unit;
    int partial;
    double progress; /* a partial result: the part of the unit done, 0..1 */
    mw_report_network net;
    size_t n_runs;
    mw_report_run *runs;
    mw_table_id table;         /* the rows' table (with n_rows > 0) */
    size_t n_rows;
    void *rows;
} mw_unit_result;

void mw_unit_result_free(mw_unit_result *u);

/* A result as bytes for another process of this program (an MPI rank), and back: the
 * bytes are malloc'd (free them); MW_ERR_FORMAT for bytes that are not one whole result. */
mw_status mw_unit_result_pack(const mw_unit_result *u, void **bytes, size_t *n);
mw_status mw_unit_result_unpack(const void *bytes, size_t n, mw_unit_result *u);

/* u (freed first) as the record of a unit that could not be computed: a failed network
 * saying why. The suite goes on with the other units. */
void mw_unit_failed(mw_unit_result *u, long unit, const mw_err *why);

/* A unit's way to hand over its progress (a partial result) while it runs; nonzero
 * when the receiving end is gone. */
typedef int (*mw_unit_emit_fn)(void *emit_arg, const mw_unit_result *partial);

/* Compute unit `unit`, emitting partial results as it likes; MW_OK, or a failure with a
 * message (a failure of the unit is better recorded in the result as a failed network;
 * a status means it could not even do that). */
typedef mw_status (*mw_unit_fn)(const void *cfg, long unit, mw_unit_emit_fn emit,
                                void *emit_arg, mw_unit_result *out, mw_err *err);
/* Called in the parent for every result, partial or final, in arrival order; a failure
 * stops. */
typedef mw_status (*mw_unit_done_fn)(void *arg, const mw_unit_result *u, mw_err *err);

typedef struct mw_runner {
    const void *cfg;
    mw_unit_fn compute;
    mw_unit_done_fn done;
    void *done_arg;
    const long *todo;  /* the units to compute */
    size_t n_todo;
    int jobs;          /* worker processes; 1 computes in this process */
    const double *cost; /* each unit's estimated cost (by unit index; NULL: unknown): the
                           MPI runner hands out the costliest first */
} mw_runner;

/* Run every unit of todo. MW_OK when every unit was handed to done; a failure with a
 * message when a unit could not be computed, a worker died, or done refused. */
mw_status mw_runner_run(const mw_runner *r, mw_err *err);

#endif
