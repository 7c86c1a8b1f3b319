/* Reports read by people and programs: the per-network lines and the table of runs that
 * grad, gradcheck and report summary print, the JSON of runs and cells, and the schema
 * listing. The suites add their own views (a verdict, fits) through the registry. */
#ifndef MW_SUMMARY_H
#define MW_SUMMARY_H

#include <stdio.h>

#include "report.h"

/* The table of runs: a header, then a row per run (its cell's dtype and method, its last
 * step's metrics, with verdicts its verdict, its status and message, and under a failing
 * run why); with per_layer a line of rel_l2 per layer. */
void mw_print_runs_head(FILE *f, const char *indent, int verdicts);
void mw_print_run(FILE *f, const char *indent, const mw_report_run *run,
                  const mw_report_network *net, int per_layer, int verdicts);

/* What a network was measured against, in a line or two (after its description). */
void mw_print_network(FILE *f, const mw_report_network *n);

/* The report's header line, then per network its lines and the table of its runs. */
void mw_print_report_head(FILE *f, const mw_report *r);
void mw_print_report(FILE *f, const mw_report *r, int per_layer);

/* One run as JSON: its summary row, its last step's rel_l2 per layer, and which of its
 * measured numbers are not finite (JSON writes them as null). */
void mw_json_run(mw_json *j, const char *key, const mw_report_run *run,
                 const mw_report_network *net);
/* "runs": every run, in run order. */
void mw_json_runs(mw_json *j, const mw_report *r);
/* "cells": per network and dtype, the network's record and its runs by method (the JSON of
 * gradcheck). */
void mw_json_cells(mw_json *j, const mw_report *r);

/* Every record of the files as markdown tables (SCHEMA.md's field lists). */
void mw_print_schema(FILE *f);

#endif
