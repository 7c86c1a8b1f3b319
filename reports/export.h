/* A report's tables in long ("tidy") form for other tools: one row per observation — a
 * network, a run, a step, an epoch, a layer's error at a step, a fit, a ratio, a layer
 * check — each row carrying every column that says what it is (the suite, the network's
 * index and every field of its spec, the run's index, method, dtype and status, the step
 * and epoch), as CSV with a header (pandas.read_csv with no arguments) or JSON Lines.
 * Column names are the field names of the records (reports/SCHEMA.md), sub-records
 * flattened as the HDF5 tables flatten them. */
#ifndef MW_EXPORT_H
#define MW_EXPORT_H

#include <stdio.h>

#include "report.h"

typedef enum {
    MW_EXPORT_RUNS = 0,   /* a run's summary: its cell and its last step */
    MW_EXPORT_STEPS,      /* every recorded gradient of every run */
    MW_EXPORT_EPOCHS,     /* every epoch of every training run */
    MW_EXPORT_LAYERS,     /* rel_l2 per coupling layer (and the head) at every step */
    MW_EXPORT_NETWORKS,   /* the units: spec, status, oracle */
    MW_EXPORT_FITS,       /* scaling suites' fitted exponents */
    MW_EXPORT_RATIOS,     /* scaling suites' ratios */
    MW_EXPORT_LAYER_CHECKS, /* suite layers' and layer check's rows */
    MW_EXPORT_TIMINGS,    /* suite timing's timed runs: spread, load, residual */
    MW_N_EXPORT_TABLES
} mw_export_table;
extern const mw_names mw_export_table_names;

typedef enum { MW_EXPORT_CSV = 0, MW_EXPORT_JSONL } mw_export_format;
extern const mw_names mw_export_format_names;

/* Rows the table has in this report (what mw_report_export would write). */
size_t mw_export_rows(const mw_report *r, mw_export_table t);

/* Write the table to f: CSV (a header line, then a row per observation; a missing or
 * non-finite number an empty cell, infinities inf and -inf, booleans true/false, a cell
 * with a comma, quote or line break quoted as RFC 4180 says) or JSON Lines (an object per
 * row; missing and non-finite numbers null, integers above 2^53 as strings so that no
 * reader rounds them). MW_ERR_IO when writing failed. */
mw_status mw_report_export(FILE *f, const mw_report *r, mw_export_table t,
                           mw_export_format fmt, mw_err *err);
/* The same into the file at path, written whole or not at all (a temporary file beside it,
 * renamed into place), refused when it exists without force or is report_path itself;
 * *bytes (may be NULL) gets its size. */
mw_status mw_report_export_file(const char *path, int force, const char *report_path,
                                const mw_report *r, mw_export_table t, mw_export_format fmt,
                                size_t *bytes, mw_err *err);

#endif
