/* `mwverify suite layers` and `mwverify layer check` (layer_check.h): the layer types of
 * the registry as the units of a suite. A unit checks one layer type; its rows go to the
 * report's /layer_checks table; the baseline, when given, is compared once every unit is
 * in. A real layer fails when a check fails; a negative control fails when none does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layer_check.h"
#include "plugin.h"
#include "summary.h"

/* The layer types to check: those named (each known; a negative control only with
 * include_faulty), or every real one and, with include_faulty, the controls. */
/* The plugin's layers, described once per process (a child reads its table; the
 * runner's workers inherit this). */
static const mw_plugin_desc *plugin_layers(const char *arg, mw_err *err)
{
    static mw_plugin_desc desc;
    static char described[sizeof ((mw_layers_config *)0)->plugin];
    if (strcmp(described, arg) == 0)
        return &desc;
    described[0] = '\0';
    if (mw_plugin_describe(arg, &desc, err) != MW_OK)
        return NULL;
    snprintf(described, sizeof described, "%s", arg);
    return &desc;
}

static mw_status select_layers(const mw_suite_config *c, mw_layer_info *out, int *n, mw_err *err)
{
    const mw_layers_config *y = &c->layers;
    *n = 0;
    if (y->plugin[0]) {
        if (y->n_names || y->include_faulty)
            return mw_err_set(err, MW_ERR_ARG, "--layer-plugin checks the plugin's layers: name "
                              "no other layer%s", y->include_faulty ? " (and no --include-faulty)"
                                                                     : "");
        const mw_plugin_desc *d = plugin_layers(y->plugin, err);
        if (!d)
            return err ? err->status : MW_ERR_ARG;
        for (int i = 0; i < d->n && *n < MW_SUITE_MAX_LAYERS; i++)
            out[(*n)++] = (mw_layer_info){d->layers[i].name, d->layers[i].summary, NULL,
                                          MW_PLUGIN_COUPLING};
        return MW_OK;
    }
    for (size_t i = 0; y->n_names == 0 && i < mw_layer_count() && *n < MW_SUITE_MAX_LAYERS; i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (!info.fault || y->include_faulty)
            out[(*n)++] = info;
    }
    for (int k = 0; k < y->n_names; k++) {
        mw_layer_info info;
        if (mw_layer_info_of(y->names[k], &info) != 0) {
            const char *names[64];
            size_t m = 0;
            for (size_t i = 0; i < mw_layer_count() && m < 64; i++, m++) {
                mw_layer_info_at(i, &info);
                names[m] = info.name;
            }
            const char *near = mw_nearest(y->names[k], names, m);
            return mw_err_set(err, MW_ERR_ARG, "no layer named '%s'%s%s%s (mwverify layer list "
                              "names them)", y->names[k], near ? "; did you mean " : "",
                              near ? near : "", near ? "?" : "");
        }
        if (info.fault && !y->include_faulty)
            return mw_err_set(err, MW_ERR_ARG, "'%s' is a negative control (deliberately wrong); "
                              "add --include-faulty to check it", y->names[k]);
        out[(*n)++] = info;
    }
    return MW_OK;
}

static long layers_n_units(const mw_suite_config *c)
{
    mw_layer_info all[MW_SUITE_MAX_LAYERS];
    int n = 0;
    return select_layers(c, all, &n, NULL) == MW_OK ? n : 0;
}

static long no_runs(const mw_suite_config *c)
{
    (void)c;
    return 0;
}

static mw_status layers_unit_cost(const mw_suite_config *c, long u, double *seconds,
                                  double *bytes, mw_err *err)
{
    mw_layer_info all[MW_SUITE_MAX_LAYERS];
    int n;
    mw_status st = select_layers(c, all, &n, err);
    *seconds = *bytes = 0.0;
    if (st != MW_OK || u >= n)
        return st;
    if (all[u].coupling == MW_PLUGIN_COUPLING) {
        *seconds = mw_plugin_layer_check_cost(&plugin_layers(c->layers.plugin, err)->layers[u]);
        return MW_OK;
    }
    return mw_layer_check_cost(all[u].name, seconds, err);
}

static mw_status layers_prepare(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err)
{
    mw_layer_info all[MW_SUITE_MAX_LAYERS];
    int n;
    mw_status st = select_layers(c, all, &n, err);
    if (st != MW_OK)
        return st;
    if (!(c->layers.factor > 1.0))
        return mw_err_set(err, MW_ERR_ARG, "--factor %g: must be greater than 1", c->layers.factor);
    if (c->layers.baseline[0]) { /* readable, and of layer checks, before any work */
        mw_report base;
        if ((st = mw_report_load(&base, c->layers.baseline, err)) != MW_OK)
            return mw_err_set_status(err, MW_ERR_ARG), mw_err_prefix(err, "--baseline");
        size_t rows = base.tables[MW_TABLE_LAYER_CHECKS].n;
        mw_report_free(&base);
        if (rows == 0)
            return mw_err_set(err, MW_ERR_ARG, "--baseline %s: no layer checks in it (`mwverify "
                              "layer check --out FILE` writes them)", c->layers.baseline);
    }
    return mw_suite_estimate(c, jobs, n, layers_unit_cost, "check fewer layers (--layer)", est,
                             err);
}

static mw_status layers_unit(const void *cfgp, long unit, mw_unit_emit_fn emit, void *emit_arg,
                             mw_unit_result *out, mw_err *err)
{
    (void)emit, (void)emit_arg;
    const mw_suite_config *c = cfgp;
    mw_layer_info all[MW_SUITE_MAX_LAYERS];
    int n;
    memset(out, 0, sizeof *out);
    mw_status st = select_layers(c, all, &n, err);
    if (st != MW_OK)
        return st;
    if (unit >= n)
        return mw_err_set(err, MW_ERR_ARG, "unit %ld of %d layers", unit, n);
    mw_layer_rows rows = {0};
    const mw_plugin_layer *pl = NULL;
    if (all[unit].coupling == MW_PLUGIN_COUPLING) {
        pl = &plugin_layers(c->layers.plugin, err)->layers[unit];
        st = mw_plugin_layer_check(pl, &rows, err);
    } else {
        st = mw_layer_check(all[unit].name, &rows, err);
    }
    if (st != MW_OK) {
        mw_layer_rows_free(&rows);
        return st;
    }
    out->unit = unit;
    out->net.index = unit;
    out->net.spec = mw_spec_default();
    snprintf(out->net.label, sizeof out->net.label, "layer %s", all[unit].name);
    out->net.oracle.kind = !pl || pl->has_mpfr ? MW_ORACLE_GOLD : MW_ORACLE_SILVER;
    if (!pl)
        snprintf(out->net.oracle.reason, sizeof out->net.oracle.reason,
                 "the MPFR reference at 256 bits, and gold for the methods");
    else if (pl->has_mpfr)
        snprintf(out->net.oracle.reason, sizeof out->net.oracle.reason,
                 "the plugin's own MPFR passes at 256 bits");
    else
        snprintf(out->net.oracle.reason, sizeof out->net.oracle.reason,
                 "silver: the plugin has no MPFR passes; float64 against central differences "
                 "with Richardson extrapolation, float32 against its float64 operations, and "
                 "the identities");
    if (pl) /* a plugin's layer: what it is, from where */
        snprintf(out->net.message, sizeof out->net.message, "%.199s [plugin %.40s %.20s]",
                 pl->summary, pl->plugin, pl->version);
    out->net.proj.slope = out->net.proj.slope_r2 = NAN;
    out->table = MW_TABLE_LAYER_CHECKS;
    out->rows = rows.rows;
    out->n_rows = rows.n;
    return MW_OK;
}

static const mw_layer_check_row *all_rows(const mw_report *r, size_t *n)
{
    *n = r->tables[MW_TABLE_LAYER_CHECKS].n;
    return r->tables[MW_TABLE_LAYER_CHECKS].rows;
}

/* Against the baseline: regressions marked in the rows. */
static mw_status layers_finish(const mw_suite_config *c, mw_report *r, mw_err *err)
{
    if (!c->layers.baseline[0])
        return MW_OK;
    mw_report base;
    mw_status st = mw_report_load(&base, c->layers.baseline, err);
    if (st != MW_OK)
        return st;
    size_t nb, n;
    const mw_layer_check_row *b = all_rows(&base, &nb);
    all_rows(r, &n);
    mw_layer_check_against(r->tables[MW_TABLE_LAYER_CHECKS].rows, n, b, nb, c->layers.factor, NULL);
    mw_report_free(&base);
    return MW_OK;
}

/* The layer types of the report, from its units' labels. */
static int report_layers(const mw_report *r, mw_layer_info *out)
{
    int n = 0;
    for (size_t i = 0; i < r->n_networks && n < MW_SUITE_MAX_LAYERS; i++) {
        const mw_report_network *u = &r->networks[i];
        if (strncmp(u->label, "layer ", 6) != 0)
            continue;
        if (mw_layer_info_of(u->label + 6, &out[n]) == 0)
            n++;
        else /* a plugin's layer: its summary is in the unit's message */
            out[n++] = (mw_layer_info){u->label + 6, u->message, NULL, MW_PLUGIN_COUPLING};
    }
    return n;
}

/* A real layer with a failing check, or a negative control that no check caught. */
static int layer_fails(const mw_report *r, const mw_layer_info *info)
{
    size_t n;
    const mw_layer_check_row *rows = all_rows(r, &n);
    size_t failed = mw_layer_check_failures(rows, n, info->name);
    return info->fault ? failed == 0 : failed > 0;
}

static size_t layers_failures(const mw_suite_config *c, const mw_report *r)
{
    (void)c;
    mw_layer_info layers[MW_SUITE_MAX_LAYERS];
    int n = report_layers(r, layers);
    size_t bad = 0;
    for (int i = 0; i < n; i++)
        bad += (size_t)layer_fails(r, &layers[i]);
    return bad;
}

/* ---- what it prints ---- */

/* The checks named in a layer's failing rows, comma-separated, each once. */
static void caught_by(const mw_report *r, const char *layer, char *buf, size_t len)
{
    size_t n;
    const mw_layer_check_row *rows = all_rows(r, &n);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const mw_layer_check_row *x = &rows[i];
        if (x->pass || strcmp(x->layer, layer) != 0)
            continue;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !rows[k].pass && strcmp(rows[k].layer, layer) == 0 &&
                   strcmp(rows[k].check, x->check) == 0;
        if (!seen) {
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s%s", used ? ", " : "", x->check);
        }
    }
}

/* ---- JUnit ---- */

/* A testcase per check of a real layer (its threshold and error in the reason), and one
 * per negative control: caught by some check (pass) or not (fail). */
static mw_status layers_junit(const mw_report *r, mw_junit_case **out, size_t *n_out, mw_err *err)
{
    mw_layer_info layers[MW_SUITE_MAX_LAYERS];
    int nl = report_layers(r, layers);
    size_t n, k = 0;
    const mw_layer_check_row *rows = all_rows(r, &n);
    mw_junit_case *c = calloc(n + (size_t)nl + 1, sizeof *c);
    *out = NULL, *n_out = 0;
    if (!c)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (int l = 0; l < nl; l++) {
        if (!layers[l].fault) {
            for (size_t i = 0; i < n; i++) {
                const mw_layer_check_row *w = &rows[i];
                if (strcmp(w->layer, layers[l].name) != 0)
                    continue;
                mw_junit_case *t = &c[k++];
                snprintf(t->classname, sizeof t->classname, "mwverify.layers.%s", w->layer);
                snprintf(t->name, sizeof t->name, "%s, %s: %s", w->config,
                         mw_dtype_name(w->dtype), w->check);
                t->seconds = NAN;
                t->verdict = w->pass ? MW_VERDICT_PASS : MW_VERDICT_FAIL;
                if (strstr(w->check, " regressed"))
                    snprintf(t->message, sizeof t->message, "regressed: error %.3e grew more than "
                             "--factor over the baseline's (threshold %.3e, oracle %s)", w->error,
                             w->threshold, w->oracle);
                else
                    snprintf(t->message, sizeof t->message, "error %.3e %s threshold %.3e (oracle "
                             "%s)%s%.200s", w->error, w->pass ? "within" : "over", w->threshold,
                             w->oracle, w->note[0] ? ": " : "", w->note);
            }
            continue;
        }
        mw_junit_case *t = &c[k++];
        char by[400];
        caught_by(r, layers[l].name, by, sizeof by);
        snprintf(t->classname, sizeof t->classname, "mwverify.layers.%s", layers[l].name);
        snprintf(t->name, sizeof t->name, "negative control caught");
        t->seconds = NAN;
        t->verdict = layer_fails(r, &layers[l]) ? MW_VERDICT_FAIL : MW_VERDICT_PASS;
        snprintf(t->message, sizeof t->message, "%.60s: %s%s", layers[l].fault,
                 t->verdict == MW_VERDICT_PASS ? "caught by " : "no check caught it",
                 t->verdict == MW_VERDICT_PASS ? by : "");
    }
    *out = c, *n_out = k;
    return MW_OK;
}


static double ratio(const mw_layer_check_row *x)
{
    if (isnan(x->error))
        return INFINITY;
    return x->threshold > 0 ? x->error / x->threshold : x->error > 0 ? INFINITY : 0.0;
}

/* A row as the table shows it: how many rows it stands for, and its error over its
 * threshold. */
typedef struct shown_row {
    mw_layer_check_row row;
    int rows;
    double ratio;
} shown_row;

#define W(m) offsetof(shown_row, m)
static const mw_field shown_fields[] = {
    {"row", MW_FK_RECORD, W(row), "the row", .sub = &mw_layer_check_record},
    {"rows", MW_FK_INT, W(rows), "rows it stands for"},
    {"ratio", MW_FK_F64, W(ratio), "error / threshold"},
    MW_FIELDS_END,
};
#undef W
static const mw_record shown_record = {"shown row", sizeof(shown_row), shown_fields, NULL, NULL};

static const mw_column layer_columns[] = {
    {"check", "check", -22},     {"rows", "rows", 4},
    {"error", "error", -9, "%.3g"}, {"threshold", "threshold", -9, "%.3g"},
    {"ratio", "ratio", -8, "%.3g"}, {"max_ulp_floored", "max ulp", -8, "%.3g"},
};
enum { N_LAYER_COLUMNS = sizeof layer_columns / sizeof layer_columns[0] };

static void print_row(FILE *f, const mw_layer_check_row *x, int n)
{
    shown_row s = {*x, n, ratio(x)};
    mw_table_row(f, "  ", layer_columns, N_LAYER_COLUMNS, &shown_record, &s);
    fprintf(f, " %-4s  %s %s\n", x->pass ? "pass" : "FAIL", mw_dtype_name(x->dtype), x->config);
    if (!x->pass && x->note[0]) /* why it could not be measured */
        fprintf(f, "  %-22s %s\n", "", x->note);
}

/* The oracle a layer was checked against, as its unit says. */
static const char *oracle_reason(const mw_report *r, const char *layer)
{
    for (size_t i = 0; i < r->n_networks; i++)
        if (strncmp(r->networks[i].label, "layer ", 6) == 0 &&
            strcmp(r->networks[i].label + 6, layer) == 0)
            return r->networks[i].oracle.reason;
    return "";
}

/* Per check of one layer: the row with the largest error/threshold, and how many rows
 * (verbose: every row). */
static void print_layer(FILE *f, const mw_report *r, const mw_layer_info *info, int verbose)
{
    size_t n, total = 0, failed = 0;
    const mw_layer_check_row *rows = all_rows(r, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].layer, info->name) == 0)
            total++, failed += !rows[i].pass;
    fprintf(f, "\n%s: %s\n", info->name, info->summary);
    if (oracle_reason(r, info->name)[0])
        fprintf(f, "  oracle: %s\n", oracle_reason(r, info->name));
    if (info->fault)
        fprintf(f, "  negative control: %s\n", info->fault);
    mw_table_head(f, "  ", layer_columns, N_LAYER_COLUMNS);
    fprintf(f, " %-4s  %s\n", "", "worst at");
    for (size_t i = 0; i < n; i++) {
        const mw_layer_check_row *x = &rows[i];
        if (strcmp(x->layer, info->name) != 0)
            continue;
        if (verbose) {
            print_row(f, x, 1);
            continue;
        }
        int first = 1, count = 0;
        const mw_layer_check_row *worst = x;
        for (size_t k = 0; k < n; k++) {
            const mw_layer_check_row *o = &rows[k];
            if (strcmp(o->layer, x->layer) != 0 || strcmp(o->check, x->check) != 0)
                continue;
            first &= k >= i;
            count++;
            if (ratio(o) > ratio(worst))
                worst = o;
        }
        if (first)
            print_row(f, worst, count);
    }
    char by[512];
    caught_by(r, info->name, by, sizeof by);
    if (info->fault && failed)
        fprintf(f, "  caught: %zu of %zu checks fail (%s)\n", failed, total, by);
    else if (info->fault)
        fprintf(f, "  NOT CAUGHT: all %zu checks pass on a deliberately wrong layer\n", total);
    else
        fprintf(f, "  %s: %zu of %zu checks fail\n", failed ? "FAILED" : "ok", failed, total);
}

static size_t regressions(const mw_report *r)
{
    size_t n, k = 0;
    const mw_layer_check_row *rows = all_rows(r, &n);
    for (size_t i = 0; i < n; i++)
        k += strstr(rows[i].check, " regressed") != NULL;
    return k;
}

static void layers_print(FILE *f, const mw_suite_config *c, const mw_report *r, int verbose)
{
    mw_layer_info layers[MW_SUITE_MAX_LAYERS];
    int n = report_layers(r, layers), bad_real = 0, escaped = 0;
    fprintf(f, "layer check: %d layer%s; error is the check's measure (layer check --help), "
               "ratio error/threshold; %s\n", n, n == 1 ? "" : "s",
            verbose ? "every check of every configuration" : "each check's worst configuration");
    for (int i = 0; i < n; i++) {
        print_layer(f, r, &layers[i], verbose);
        if (layer_fails(r, &layers[i]))
            *(layers[i].fault ? &escaped : &bad_real) += 1;
    }
    fputc('\n', f);
    if (c && c->layers.baseline[0]) {
        size_t k = regressions(r);
        fprintf(f, "baseline %s: %zu regression%s (error grew more than %gx)\n",
                c->layers.baseline, k, k == 1 ? "" : "s", c->layers.factor);
    }
    if (bad_real)
        fprintf(f, "FAILED: %d real layer%s failed a check\n", bad_real, bad_real == 1 ? "" : "s");
    if (escaped)
        fprintf(f, "FAILED: %d negative control%s escaped every check\n", escaped,
                escaped == 1 ? "" : "s");
    if (!bad_real && !escaped)
        fprintf(f, "ok: every real layer passes; every negative control is caught\n");
}

static void layers_json(mw_json *j, const mw_suite_config *c, const mw_report *r, int verbose)
{
    (void)verbose;
    mw_layer_info layers[MW_SUITE_MAX_LAYERS];
    int n = report_layers(r, layers), ok = 1;
    size_t nr;
    const mw_layer_check_row *rows = all_rows(r, &nr);
    mw_json_array_begin(j, "layers");
    for (int i = 0; i < n; i++) {
        const mw_layer_info *info = &layers[i];
        size_t total = 0, failed = 0;
        char by[400];
        caught_by(r, info->name, by, sizeof by);
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "name", info->name);
        mw_json_string(j, "fault", info->fault);
        mw_json_array_begin(j, "rows");
        for (size_t k = 0; k < nr; k++)
            if (strcmp(rows[k].layer, info->name) == 0) {
                total++, failed += !rows[k].pass;
                mw_json_record(j, NULL, &mw_layer_check_record, &rows[k]);
            }
        mw_json_array_end(j);
        mw_json_integer(j, "checks", (long long)total);
        mw_json_integer(j, "failed", (long long)failed);
        mw_json_string(j, "failed_checks", by);
        mw_json_bool(j, "ok", !layer_fails(r, info));
        ok &= !layer_fails(r, info);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
    mw_json_string(j, "baseline", c && c->layers.baseline[0] ? c->layers.baseline : NULL);
    mw_json_integer(j, "regressions", (long long)regressions(r));
    mw_json_bool(j, "ok", ok);
}

static const mw_optgroup layers_group = {"layers", "layers", &mw_layers_record,
                                         offsetof(mw_suite_config, layers)};
static const mw_optgroup *const groups[] = {&layers_group, &mw_budget_group, NULL};

static void every_layer(mw_suite_config *c)
{
    (void)c;
}

static const mw_preset presets[] = {
    {"all", "every layer type of the registry (with --include-faulty, its negative controls "
            "too)", every_layer},
    {NULL, NULL, NULL},
};

const mw_suite_def mw_layers_suite = {
    .name = "layers",
    .summary = "every layer of the registry against the MPFR reference",
    .help =
        "Check a layer's operations — forward, inverse, jvp, vjp, vijp — against the MPFR\n"
        "reference (256 bits) and the identities that tie them together, on a grid of\n"
        "small configurations (mlps 8 wide with tanh/tanh at input and weight scale 1 and\n"
        "2.5, near saturation; ReLU/leaky with BatchNorm; tanh/none; a 4x4x4 conv revnet\n"
        "layer with BatchNorm at scale 1 and 2.5), each in float32 and float64; then the\n"
        "six gradient methods on a 3-layer network of the layer against gold.\n"
        "Checks (error; threshold from the operation, u the dtype's unit roundoff, K the\n"
        "roundings an output goes through, tol = 8uK):\n"
        "  forward, jvp, vjp_input, vjp_params   max|engine - exact| / max|exact|; tol\n"
        "                         (forward) or 2 tol; jvp against central differences in\n"
        "                         MPFR (the squeeze, a permutation: against a direct loop,\n"
        "                         exactly)\n"
        "  inverse                round trip f^-1(f(x)) - x, each element divided by its\n"
        "                         condition (1/(1 - y^2) for tanh); tol\n"
        "  inverse_bias           the round trip's mean error over its spread (a t\n"
        "                         statistic); 6\n"
        "  adjoint                <v, J u> = <J^T v, u> in the engine; tol\n"
        "  vijp_identity          vjp(vijp(h)) = h and the same parameter gradient; 2 tol\n"
        "  vijp_exact             the exact vjp of the engine's vijp gives h back; 2 tol\n"
        "  method:<name>          rel_l2 against gold: float64 1e-11, float32 1e-4;\n"
        "                         projforward (K = 256) in units of its noise, 1.5\n"
        "The report keeps every check (/layer_checks) for a later run's --baseline. In CI:\n"
        "mwverify layer check my-layer --out base.h5 once, keep base.h5, then mwverify\n"
        "layer check my-layer --baseline base.h5 on every change. docs/adding-a-layer.md\n"
        "says how to add a layer.",
    .exit_help = "0 every real layer passed (and every negative control was caught), 1 a check\n"
                 "failed or regressed, or a negative control escaped",
    .presets = presets,
    .groups = groups,
    .prepare = layers_prepare,
    .n_units = layers_n_units,
    .runs_per_unit = no_runs,
    .unit = layers_unit,
    .junit = layers_junit,
    .failures = layers_failures,
    .finish = layers_finish,
    .print = layers_print,
    .json = layers_json,
};
