/* The verdict of a stability report (stability.h): per architecture, output activation,
 * method and dtype, how many runs diverged, the gradient's error over the last epoch and
 * its growth since the first, the distance to the reference, the held-out accuracy. */
#include "stability.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define V(m) offsetof(mw_verdict_row, m)
static const mw_field verdict_fields[] = {
    {"arch", MW_FK_ENUM, V(arch), "the architecture", .names = &mw_arch_names},
    {"out_act", MW_FK_ENUM, V(out_act), "the output activation", .names = &mw_out_act_names},
    {"method", MW_FK_ENUM, V(method), "the method", .names = &mw_method_names},
    {"dtype", MW_FK_ENUM, V(dtype), "its precision", .names = &mw_dtype_names},
    {"runs", MW_FK_INT, V(runs), "runs pooled"},
    {"diverged", MW_FK_INT, V(diverged), "of them diverged"},
    {"skipped", MW_FK_INT, V(skipped), "of them skipped"},
    {"failed", MW_FK_INT, V(failed), "of them could not be computed"},
    {"failing", MW_FK_INT, V(failing), "of them judged fail (a gate, or could not be computed)"},
    {"test_accuracy", MW_FK_F64, V(test_accuracy),
     "mean held-out accuracy at the end, over the runs that completed"},
    {"err_median_last", MW_FK_F64, V(err_median_last),
     "median rel_l2 against silver over every step of the last epoch"},
    {"err_max_last", MW_FK_F64, V(err_max_last), "its largest"},
    {"err_median_first", MW_FK_F64, V(err_median_first), "the median over the first epoch"},
    {"growth", MW_FK_F64, V(growth), "err_median_last / err_median_first"},
    {"dist_ref", MW_FK_F64, V(dist_ref), "median |θ - θ_ref|/|θ_ref| at the end"},
    MW_FIELDS_END,
};
#undef V
const mw_record mw_verdict_record = {"verdict", sizeof(mw_verdict_row), verdict_fields,
                                     "a stability report's verdict row", NULL};

/* Does the run belong to the row (architecture, output activation, method, dtype)? */
static int in_row(const mw_report *r, const mw_report_run *run, const mw_verdict_row *row)
{
    const mw_report_network *net = mw_report_network_at(r, run->network);
    return net && net->spec.arch == row->arch && net->spec.out_act == row->out_act &&
           run->method == row->method && run->dtype == row->dtype;
}

/* Errors of the steps of the first (last = 0) or the last epoch of the row's runs. */
static size_t epoch_errors(const mw_report *r, const mw_verdict_row *row, int last, double *buf)
{
    size_t n = 0;
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        if (!in_row(r, run, row) || !run->n_steps)
            continue;
        long long epoch = last ? run->steps[run->n_steps - 1].epoch : 0;
        for (size_t s = 0; s < run->n_steps; s++)
            if (run->steps[s].epoch == epoch && isfinite(run->steps[s].vs.rel_l2))
                buf[n++] = run->steps[s].vs.rel_l2;
    }
    return n;
}

/* The row's accuracy and distance at the end, over its complete runs. */
static void at_the_end(const mw_report *r, mw_verdict_row *row, double *buf)
{
    double acc = 0;
    size_t na = 0, nd = 0;
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        if (!in_row(r, run, row) || run->status != MW_RUN_COMPLETE || !run->n_epochs)
            continue;
        acc += run->epochs[run->n_epochs - 1].test_accuracy, na++;
        buf[nd++] = run->epochs[run->n_epochs - 1].dist_ref;
    }
    row->test_accuracy = na ? acc / (double)na : NAN;
    row->dist_ref = mw_median(buf, nd);
}

mw_verdict_row *mw_stability_verdict(const mw_report *r, size_t *n_rows)
{
    size_t n = 0, total_steps = 0;
    for (size_t k = 0; k < r->n_runs; k++)
        total_steps += r->runs[k].n_steps + 1;
    double *buf = malloc((total_steps ? total_steps : 1) * sizeof *buf);
    mw_verdict_row *rows = calloc(r->n_runs ? r->n_runs : 1, sizeof *rows);
    *n_rows = 0;
    if (!buf || !rows) {
        free(buf), free(rows);
        return NULL;
    }
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_network *net = mw_report_network_at(r, run->network);
        if (!net)
            continue;
        mw_verdict_row *row = NULL;
        for (size_t i = 0; i < n && !row; i++)
            if (in_row(r, run, &rows[i]))
                row = &rows[i];
        if (!row) {
            row = &rows[n++];
            row->arch = net->spec.arch, row->out_act = net->spec.out_act;
            row->method = run->method, row->dtype = run->dtype;
        }
        row->runs++;
        row->diverged += run->status == MW_RUN_DIVERGED;
        row->skipped += run->status == MW_RUN_SKIPPED;
        row->failed += run->status == MW_RUN_FAILED;
        row->failing += run->verdict == MW_VERDICT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        mw_verdict_row *row = &rows[i];
        size_t m = epoch_errors(r, row, 1, buf);
        row->err_median_last = mw_median(buf, m);
        row->err_max_last = m ? buf[m - 1] : NAN;
        m = epoch_errors(r, row, 0, buf);
        row->err_median_first = mw_median(buf, m);
        row->growth = row->err_median_last / row->err_median_first;
        at_the_end(r, row, buf);
    }
    free(buf);
    *n_rows = n;
    return rows;
}

/* A row with a run that trained: its measures mean something ("-" otherwise). */
static int trained(const void *row)
{
    const mw_verdict_row *v = row;
    return v->runs > v->skipped + v->failed;
}

static const mw_column verdict_columns[] = {
    {"arch", "arch", -6},
    {"out_act", "out-act", -8},
    {"method", "method", -12},
    {"dtype", "dtype", -5},
    {"runs", "runs", 4},
    {"diverged", "diverged", 8},
    {"skipped", "skipped", 7},
    {"failed", "failed", 6},
    {"failing", "fail", 4},
    {"test_accuracy", "accuracy", 8, "%.3f", trained},
    {"err_median_last", "err median", -10, NULL, trained},
    {"err_max_last", "err max", -10, NULL, trained},
    {"growth", "growth", -10, NULL, trained},
    {"dist_ref", "dist", -10, NULL, trained},
};
enum { N_VERDICT_COLUMNS = sizeof verdict_columns / sizeof verdict_columns[0] };

/* "mlp revbackprop f32, out-act tanh: diverged in 4 of 8 runs (steps 57-195); the first: layer 2
 * inverse: ...": the row's divergences, their steps, and the earliest one's message (which
 * says where and, for a reconstruction, why). */
static void print_divergence(FILE *f, const mw_report *r, const mw_verdict_row *row)
{
    long long first = -1, last = -1;
    const char *why = "";
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        long long step;
        if (!in_row(r, run, row) || run->status != MW_RUN_DIVERGED ||
            sscanf(run->message, "step %lld", &step) != 1)
            continue;
        if (first < 0 || step < first) {
            first = step;
            const char *colon = strchr(run->message, ':');
            why = colon ? colon + 2 : run->message;
        }
        last = step > last ? step : last;
    }
    if (first < 0)
        return;
    fprintf(f, "  %s %s %s, out-act %s: diverged in %d of %d runs (step%s %lld",
            mw_name_of(&mw_arch_names, (int)row->arch), mw_method_name(row->method),
            mw_dtype_name(row->dtype), mw_name_of(&mw_out_act_names, (int)row->out_act),
            row->diverged, row->runs, first == last ? "" : "s", first);
    if (last != first)
        fprintf(f, "–%lld", last);
    fprintf(f, "); the first: %s\n", why);
}

/* "mlp moonwalk f32, out-act tanh: method-unstable at the end of training in 2 of 8 runs
 * (departing from backprop at layer 4 to 6)": the row's runs diagnosed at their end. */
static void print_diagnoses(FILE *f, const mw_report *r, const mw_verdict_row *row)
{
    int count[4] = {0}, lo = 0, hi = 0;
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        if (!in_row(r, run, row))
            continue;
        count[run->diag.cls]++;
        if (run->diag.cls == MW_DIAG_UNSTABLE && run->diag.layer > 0) {
            lo = lo && lo < run->diag.layer ? lo : run->diag.layer;
            hi = hi > run->diag.layer ? hi : run->diag.layer;
        }
    }
    for (int cls = MW_DIAG_ILL_CONDITIONED; cls <= MW_DIAG_UNSTABLE; cls++) {
        if (!count[cls])
            continue;
        fprintf(f, "  %s %s %s, out-act %s: %s at the end of training in %d of %d runs",
                mw_name_of(&mw_arch_names, (int)row->arch), mw_method_name(row->method),
                mw_dtype_name(row->dtype), mw_name_of(&mw_out_act_names, (int)row->out_act),
                mw_diag_names.names[cls], count[cls], row->runs);
        if (cls == MW_DIAG_UNSTABLE && lo > 0)
            fprintf(f, lo == hi ? " (departing from backprop at layer %d)"
                                : " (departing from backprop at layers %d to %d)",
                    lo, hi);
        fputc('\n', f);
    }
}

void mw_stability_print_verdict(FILE *f, const mw_suite_config *c, const mw_report *r,
                                int verbose)
{
    (void)verbose;
    size_t n;
    mw_verdict_row *rows = mw_stability_verdict(r, &n);
    /* after report summary's table of runs (no configuration: a report read back), a blank
     * line; first on the page after a suite's run, none */
    if (!c)
        fputc('\n', f);
    if (!rows) {
        fprintf(f, "verdict: out of memory\n");
        return;
    }
    fprintf(f, "verdict: err = rel_l2 of the gradient against float64 backprop at the method's "
               "own parameters, over every\nstep of the epoch and every cell; growth = median err "
               "of the last epoch / of the first; dist = |θ - θ_ref|/|θ_ref|\nto the float64 "
               "reference trajectory at the end (median); accuracy on the held-out split at the "
               "end (mean)\n\n");
    mw_table_head(f, "", verdict_columns, N_VERDICT_COLUMNS);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        mw_table_row(f, "", verdict_columns, N_VERDICT_COLUMNS, &mw_verdict_record, &rows[i]);
        fputc('\n', f);
    }
    /* the divergences in words (how many, when, the first one's cause) and the diagnoses of
     * the runs that trained to their end */
    for (size_t i = 0; i < n; i++) {
        if (rows[i].diverged)
            print_divergence(f, r, &rows[i]);
        print_diagnoses(f, r, &rows[i]);
    }
    free(rows);
    mw_print_failing_runs(f, r);
}

void mw_stability_json_verdict(mw_json *j, const mw_suite_config *c, const mw_report *r,
                               int verbose)
{
    (void)c, (void)verbose;
    size_t n;
    mw_verdict_row *rows = mw_stability_verdict(r, &n);
    mw_json_array_begin(j, "verdict");
    for (size_t i = 0; rows && i < n; i++)
        mw_json_record(j, NULL, &mw_verdict_record, &rows[i]);
    mw_json_array_end(j);
    free(rows);
}
