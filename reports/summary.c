/* Reports for people and programs (summary.h): tables of runs from the summary record,
 * JSON from the records' tables. */
#include "summary.h"

#include <math.h>
#include <string.h>

#include "dump.h"

/* ---- the table of runs ---- */

static int measured(const void *row)
{
    return ((const mw_run_summary *)row)->steps > 0;
}

/* max_ulp of a stochastic estimate (projforward) measures its variance in ulps: 1e45, or
 * the largest double where the true value is 0 — a number that says nothing */
static int stochastic(const void *row)
{
    return mw_method_is_stochastic(((const mw_run_summary *)row)->method);
}

static int closure_measured(const void *row)
{
    const mw_run_summary *s = row;
    return s->steps > 0 && mw_method_has_closure(s->method);
}

static const mw_column run_columns[] = {
    {"dtype", "type", -4},
    {"method", "method", -12},
    {"rel_l2", "rel_l2", -10, NULL, measured},
    {"max_abs", "max_abs", -10, NULL, measured},
    {"max_ulp", "max_ulp", -10, NULL, measured, 0, stochastic},
    {"cosine", "1-cosine", -10, NULL, measured, 1},
    {"grad_norm", "grad_norm", -10, NULL, measured},
    {"closure_err", "closure", -10, NULL, closure_measured},
    {"peak_bytes", "peak_bytes", 11, NULL, measured},
    {"seconds", "seconds", 9, "%.4f", measured},
};
enum { N_RUN_COLUMNS = sizeof run_columns / sizeof run_columns[0] };

void mw_print_runs_head(FILE *f, const char *indent, int verdicts)
{
    mw_table_head(f, indent, run_columns, N_RUN_COLUMNS);
    fputs(verdicts ? "  verdict status\n" : "  status\n", f);
}

/* The status as a reader needs it: what went wrong stands out. */
static void status_text(FILE *f, const mw_run_summary *s)
{
    switch (s->status) {
    case MW_RUN_COMPLETE:
        fputs(mw_method_is_stochastic(s->method) ? "ok (an unbiased estimate: its error is "
                                                   "variance)"
              : s->diag.cls == MW_DIAG_UNSTABLE        ? "METHOD-UNSTABLE (why: below)"
              : s->diag.cls == MW_DIAG_ILL_CONDITIONED ? "ok, ill-conditioned (why: below)"
              : s->steps == 1 && mw_closure_alarm(s->method, s->last.closure_err)
                  ? "UNRELIABLE (its closure error is over 1e-2)"
                  : "ok",
              f);
        break;
    case MW_RUN_NONFINITE:
        if (s->steps && s->last.vs.nonfinite)
            fprintf(f, "NON-FINITE: %zu gradient entries are inf or NaN", s->last.vs.nonfinite);
        else
            fputs("NON-FINITE, stopped", f);
        break;
    case MW_RUN_DIVERGED: fputs("DIVERGED", f); break;
    case MW_RUN_FAILED: fputs("FAILED", f); break;
    default: fputs(mw_name_of(&mw_run_status_names, (int)s->status), f);
    }
    if (s->message[0])
        fprintf(f, ": %s", s->message);
}

void mw_print_run(FILE *f, const char *indent, const mw_report_run *run,
                  const mw_report_network *net, int per_layer, int verdicts)
{
    mw_run_summary s;
    mw_run_summarize(run, net, &s);
    mw_table_row(f, indent, run_columns, N_RUN_COLUMNS, &mw_summary_record, &s);
    fputs("  ", f);
    if (verdicts)
        fprintf(f, "%-7s ", s.verdict == MW_VERDICT_FAIL ? "FAIL"
                                                          : mw_name_of(&mw_verdict_names,
                                                                       (int)s.verdict));
    status_text(f, &s);
    fputc('\n', f);
    if (s.verdict == MW_VERDICT_FAIL)
        fprintf(f, "%s%-17s FAIL: %s\n", indent, "", s.why);
    char words[600];
    if (s.diag.cls == MW_DIAG_ILL_CONDITIONED || s.diag.cls == MW_DIAG_UNSTABLE)
        fprintf(f, "%s%-17s why: %s\n", indent, "",
                mw_diagnosis_words(&s.diag, s.dtype, words, sizeof words));
    if (per_layer && run->layer_rel_l2 && run->n_steps) {
        const double *row = run->layer_rel_l2 + (run->n_steps - 1) * (size_t)run->n_layers;
        fprintf(f, "%s%-17s per-layer rel_l2:", indent, "");
        for (int l = 0; l < run->n_layers; l++) {
            char name[16], v[32];
            snprintf(name, sizeof name, l + 1 < run->n_layers ? "layer%d" : "head", l + 1);
            fprintf(f, " %s %s", name, mw_fmt(v, sizeof v, row[l]));
        }
        fputc('\n', f);
    }
}

/* ---- networks ---- */

void mw_print_network(FILE *f, const mw_report_network *n)
{
    char a[32], b[32];
    const mw_oracle_info *o = &n->oracle;
    if (n->status != MW_NET_OK) {
        fprintf(f, "  NETWORK FAILED: %s\n", n->message);
        return;
    }
    if (n->n_ref_epochs) {
        const mw_report_epoch *e = &n->ref_epochs[n->n_ref_epochs - 1];
        fprintf(f, "  reference (float64 backprop): loss %.4g, held-out accuracy %.3f after %lld "
                   "epochs; silver oracle every step%s\n", e->loss_mean, e->test_accuracy,
                e->epoch + 1, o->bits ? ", gold on a schedule" : "");
        return;
    }
    if (o->kind == MW_ORACLE_PROOF) {
        fprintf(f, "  oracle proof: MPFI enclosures at %ld bits, at least %.1f bits proved of "
                   "every entry", o->bits, o->proved_bits);
        if (o->kinks)
            fprintf(f, "; %ld kinks, the first at %s; %ld entries undetermined", o->kinks,
                    o->first_kink, o->undetermined);
        fprintf(f, " (%.2f s); silver against its midpoints: rel_l2 %s, max_ulp %s\n", o->seconds,
                mw_fmt(a, sizeof a, o->silver_vs_gold.rel_l2),
                mw_fmt(b, sizeof b, o->silver_vs_gold.max_ulp));
    } else if (o->kind == MW_ORACLE_GOLD) {
        fprintf(f, "  oracle gold: %ld bits, certified %.1f bits by a %ld-bit rerun", o->bits,
                o->certified_bits, o->check_bits);
        if (o->fd_coords)
            fprintf(f, ", central differences agree to %.1f bits on %ld coordinates",
                    o->fd_agree_bits, o->fd_coords);
        if (o->proved_bits > 0 || o->kinks > 0)
            fprintf(f, ", its proof %.1f bits%s%s", o->proved_bits, o->kinks ? ", a kink at " : "",
                    o->kinks ? o->first_kink : "");
        fprintf(f, " (%.2f s%s%s); silver against it: rel_l2 %s, max_ulp %s\n", o->seconds,
                strncmp(o->reason, "auto", 4) == 0 ? "; " : "",
                strncmp(o->reason, "auto", 4) == 0 ? o->reason : "",
                mw_fmt(a, sizeof a, o->silver_vs_gold.rel_l2),
                mw_fmt(b, sizeof b, o->silver_vs_gold.max_ulp));
    } else {
        fprintf(f, "  oracle %s%s%s\n", mw_name_of(&mw_oracle_names, (int)o->kind),
                o->reason[0] ? ": " : "", o->reason);
    }
    const mw_proj_rate *p = &n->proj;
    if (p->n) {
        fprintf(f, "  projforward, RMS error of the K-sample mean:");
        for (int k = 0; k < p->n; k++)
            fprintf(f, " K=%.0f %s", p->k[k], mw_fmt(a, sizeof a, p->rel_err[k]));
        fprintf(f, "; slope %s (expected -0.5, R² %s, %ld repeats)\n",
                mw_fmt(a, sizeof a, p->slope), mw_fmt(b, sizeof b, p->slope_r2), p->repeats);
    }
}

void mw_print_report_head(FILE *f, const mw_report *r)
{
    fprintf(f, "report %s: suite %s, %zu network%s, %zu run%s; written by mwverify %s",
            r->path, r->meta.suite, r->n_networks, r->n_networks == 1 ? "" : "s", r->n_runs,
            r->n_runs == 1 ? "" : "s", r->meta.mwverify_version);
    if (r->meta.host[0])
        fprintf(f, " on %s (%s)", r->meta.host, r->meta.device);
    fprintf(f, ", last updated %s\ncommand: %s\n", r->meta.updated_utc, r->meta.command_line);
}

void mw_print_report(FILE *f, const mw_report *r, int per_layer)
{
    size_t k = 0; /* runs are in index order, grouped by network */
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        char desc[256];
        mw_spec_describe(&n->spec, desc, sizeof desc);
        fprintf(f, "\nnetwork %ld: %s\n", n->index, n->label[0] ? n->label : desc);
        mw_print_network(f, n);
        mw_print_runs_head(f, "  ", 1);
        for (; k < r->n_runs && r->runs[k].network <= n->index; k++)
            if (r->runs[k].network == n->index)
                mw_print_run(f, "  ", &r->runs[k], n, per_layer, 1);
    }
}

/* ---- JSON ---- */

void mw_json_run(mw_json *j, const char *key, const mw_report_run *run,
                 const mw_report_network *net)
{
    mw_run_summary s;
    mw_run_summarize(run, net, &s);
    mw_json_object_begin(j, key);
    mw_json_members(j, &mw_summary_record, &s);
    mw_json_array_begin(j, "per_layer_rel_l2");
    for (int l = 0; run->layer_rel_l2 && run->n_steps && l < run->n_layers; l++)
        mw_json_number(j, NULL, run->layer_rel_l2[(run->n_steps - 1) * (size_t)run->n_layers +
                                                  (size_t)l]);
    mw_json_array_end(j);
    /* JSON has no NaN: a measured number that is not finite is written as null and named */
    mw_json_array_begin(j, "nonfinite_fields");
    if (s.steps && s.status != MW_RUN_SKIPPED && s.status != MW_RUN_FAILED) {
        const struct {
            const char *name;
            double v;
        } vals[] = {{"rel_l2", s.last.vs.rel_l2}, {"max_abs", s.last.vs.max_abs},
                    {"max_ulp", s.last.vs.max_ulp}, {"cosine", s.last.vs.cosine},
                    {"grad_norm", s.last.vs.norm}, {"worst_got", s.last.vs.worst_got},
                    {"loss", s.last.loss},
                    {"closure_err", mw_method_has_closure(s.method) ? s.last.closure_err : 0},
                    {"recon_err", s.method == MW_REVBACKPROP ? s.last.recon_err : 0}};
        for (size_t q = 0; q < sizeof vals / sizeof vals[0]; q++)
            if (!isfinite(vals[q].v))
                mw_json_string(j, NULL, vals[q].name);
    }
    mw_json_array_end(j);
    mw_json_object_end(j);
}

void mw_json_runs(mw_json *j, const mw_report *r)
{
    mw_json_array_begin(j, "runs");
    for (size_t k = 0; k < r->n_runs; k++)
        mw_json_run(j, NULL, &r->runs[k], mw_report_network_at(r, r->runs[k].network));
    mw_json_array_end(j);
}

void mw_json_cells(mw_json *j, const mw_report *r)
{
    mw_json_array_begin(j, "cells");
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        for (int t = 0; t < 2; t++) {
            int any = 0;
            for (size_t k = 0; k < r->n_runs; k++)
                any |= r->runs[k].network == n->index && (int)r->runs[k].dtype == t;
            if (!any)
                continue;
            mw_json_object_begin(j, NULL);
            mw_json_members(j, &mw_network_record, n);
            mw_json_string(j, "dtype", mw_dtype_name((mw_dtype)t));
            mw_json_object_begin(j, "methods");
            for (size_t k = 0; k < r->n_runs; k++)
                if (r->runs[k].network == n->index && (int)r->runs[k].dtype == t)
                    mw_json_run(j, mw_method_name(r->runs[k].method), &r->runs[k], n);
            mw_json_object_end(j);
            mw_json_object_end(j);
        }
    }
    mw_json_array_end(j);
}

/* ---- schema ---- */

void mw_print_schema(FILE *f)
{
    static const struct {
        const char *where;
        const mw_record *record;
    } places[] = {
        {"root attributes of a report", &mw_meta_record},
        {"attributes of /networks/net-NNNNNN", &mw_network_record},
        {"attributes of /runs/run-NNNNNN (with its network's, as above)", &mw_run_record},
        {"rows of steps and reference_steps", &mw_step_record},
        {"rows of epochs and reference_epochs", &mw_epoch_record},
        {"rows of /summary", &mw_summary_record},
        {"rows of /fits", &mw_fit_record},
        {"rows of /ratios", &mw_ratio_record},
        {"rows of /timings", &mw_timed_record},
        {"rows of /layer_checks", &mw_layer_check_record},
    };
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++) {
        fprintf(f, "%s### %s: %s\n\n", i ? "\n" : "", places[i].record->name, places[i].where);
        mw_record_schema(f, places[i].record, 1);
    }
}
