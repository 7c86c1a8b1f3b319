/* Output shared by grad and gradcheck: the JSON objects of a spec, an oracle and a set
 * of method runs, and their table lines. Every non-finite number is said to be one. */
#ifndef MW_EMIT_H
#define MW_EMIT_H

#include <stdio.h>

#include "json.h"
#include "report.h"
#include "suites.h"

const char *mw_run_state_name(mw_run_state s);
int mw_method_has_closure(mw_method m);

void mw_emit_spec_json(mw_json *j, const char *key, const mw_spec *s);
void mw_emit_oracle_json(mw_json *j, const mw_grad_case *c);
void mw_emit_methods_json(mw_json *j, const mw_grad_case *c, const mw_method_runs *runs);

/* "1.234e-07", "nan", "inf": never a bare non-finite number. */
const char *mw_fmt(char *buf, size_t n, double v);

/* The oracle in two or three lines. */
void mw_print_oracle(FILE *f, const mw_grad_case *c);
/* The header and one row per method of runs; prefix (may be "") starts every line. */
void mw_print_runs_header(FILE *f, const char *prefix_head);
void mw_print_runs(FILE *f, const char *prefix, const mw_grad_case *c,
                   const mw_method_runs *runs, int per_layer);

/* ---- reports (suite results, in memory or read from a file) ---- */

/* Per network a line with its cell, its oracle and projforward's rate; per run a row. */
void mw_print_report(FILE *f, const mw_report *r, int per_layer);
/* {"cells": [...]} members: one cell per network and dtype, as `gradcheck --json`. */
void mw_emit_report_cells_json(mw_json *j, const mw_report *r);
/* A stability report's verdict: per output activation, method and dtype. */
void mw_print_verdict(FILE *f, const mw_report *r);
void mw_emit_verdict_json(mw_json *j, const mw_report *r);

/* One object per run, flat, as `report summary --json`. */
void mw_emit_report_runs_json(mw_json *j, const mw_report *r);

/* A memory or timing report's fits (growth exponents beside Table 1) and ratios (beside
 * the paper's), as tables or JSON. */
void mw_print_scaling(FILE *f, const mw_report *r);
void mw_emit_scaling_json(mw_json *j, const mw_report *r);

#endif
