/* Verdicts (suite.h): every run of a suite judged against the suite's own check (gradcheck's
 * --tol) and the gates a user sets (--fail-on, --max-err, --max-growth), with the reason
 * in words — the measure, the limit, the step, and the worst parameter by name. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suite.h"

/* ---- the gates' record ---- */

#define OUTCOME_METHODS(o)                                                                     \
    o ":backprop", o ":forward", o ":projforward", o ":revbackprop", o ":moonwalk", o ":mixed"
static const char *const fail_on_names[] = {OUTCOME_METHODS("diverged"),
                                            OUTCOME_METHODS("nonfinite"),
                                            OUTCOME_METHODS("unstable"),
                                            OUTCOME_METHODS("unreliable")};
#undef OUTCOME_METHODS
static const mw_names fail_on_set = {"outcome:method", fail_on_names, MW_N_OUTCOMES * MW_N_METHODS,
                                     NULL};
static const char *const outcome_names[] = {"diverged", "nonfinite", "unstable", "unreliable"};
static const mw_names outcomes = {"outcome", outcome_names, MW_N_OUTCOMES, NULL};

/* --fail-on: comma-separated items, each OUTCOME (every method), OUTCOME:METHOD, or a METHOD
 * that adds to the outcome before it: "diverged:backprop,mixed,nonfinite". */
static mw_status parse_fail_on(const mw_field *f, void *rec, const char *v, mw_err *err)
{
    int *set = mw_field_at(f, rec);
    int chosen[MW_N_OUTCOMES * MW_N_METHODS] = {0};
    char buf[512];
    if (strlen(v) >= sizeof buf)
        return mw_err_set(err, MW_ERR_ARG, "--fail-on: longer than %zu characters",
                          sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", v);
    int outcome = -1, n = 0;
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save), n++) {
        char *colon = strchr(item, ':');
        int m = -1, o;
        if (colon)
            *colon = '\0';
        if (mw_name_parse(&outcomes, item, &o) == 0) {
            outcome = o;
            if (colon && mw_name_parse(&mw_method_names, colon + 1, &m) != 0)
                return mw_err_set(err, MW_ERR_ARG, "--fail-on %s: '%s' is not a method "
                                  "(backprop, forward, projforward, revbackprop, moonwalk, "
                                  "mixed)", v, colon + 1);
            for (int k = 0; k < MW_N_METHODS; k++)
                if (m < 0 || k == m)
                    chosen[outcome * MW_N_METHODS + k] = 1;
        } else if (!colon && outcome >= 0 && mw_name_parse(&mw_method_names, item, &m) == 0) {
            chosen[outcome * MW_N_METHODS + m] = 1;
        } else {
            return mw_err_set(err, MW_ERR_ARG, "--fail-on %s: '%s' is not OUTCOME[:METHOD] "
                              "(outcomes: diverged, nonfinite), or a method after one", v, item);
        }
    }
    if (n == 0)
        return mw_err_set(err, MW_ERR_ARG, "--fail-on: an empty value");
    memcpy(set, chosen, sizeof chosen);
    return MW_OK;
}

/* --max-err [DTYPE:]X,...: a limit per dtype; a bare X for both. */
static mw_status parse_max_err(const mw_field *f, void *rec, const char *v, mw_err *err)
{
    double *lim = mw_field_at(f, rec); /* f32, then f64 */
    double out[2] = {lim[0], lim[1]};
    char buf[256];
    if (strlen(v) >= sizeof buf || !v[0])
        return mw_err_set(err, MW_ERR_ARG, "--max-err %s: give [f32:|f64:]X, e.g. f32:1e-4", v);
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':'), *num = item, *end;
        int d = -1;
        if (colon) {
            *colon = '\0', num = colon + 1;
            if (mw_name_parse(&mw_dtype_names, item, &d) != 0)
                return mw_err_set(err, MW_ERR_ARG, "--max-err %s: '%s' is not a dtype (f32, "
                                  "f64)", v, item);
        }
        double x = strtod(num, &end);
        if (end == num || *end || !(x > 0) || !isfinite(x))
            return mw_err_set(err, MW_ERR_ARG, "--max-err %s: '%s' is not a positive number",
                              v, num);
        for (int k = 0; k < 2; k++)
            if (d < 0 || d == k)
                out[k] = x;
    }
    lim[0] = out[0], lim[1] = out[1];
    return MW_OK;
}

#define G(m) offsetof(mw_gates, m)
static const mw_field gate_fields[] = {
    {"fail_on", MW_FK_SET, G(fail_on),
     "fail the runs with this outcome: OUTCOME[:METHOD], comma list, a method after\n"
     "one adds to it (diverged:backprop,mixed); outcomes diverged (training stopped on a\n"
     "non-finite value or an exploding loss), nonfinite (a gradient with inf or NaN) and\n"
     "unstable (diagnosed method-unstable: its error beyond what rounding explains;\n"
     "single-gradient suites) and unreliable (moonwalk, mixed: a closure error over 1e-2\n"
     "at some step, no oracle needed). Default: none; a divergence is a finding, not a\n"
     "failure",
     .names = &fail_on_set, .opt = "fail-on", .meta = "LIST", .parse = parse_fail_on,
     .flags = MW_F_NO_DEFAULT},
    {"max_err_f32", MW_FK_F64, G(max_err[0]),
     "fail a run whose rel_l2 against its oracle exceeds X at any step: [f32:|f64:]X,\n"
     "comma list (projforward is exempt: its error is variance). Default: none",
     .opt = "max-err", .meta = "LIST", .parse = parse_max_err, .flags = MW_F_NO_DEFAULT},
    {"max_err_f64", MW_FK_F64, G(max_err[1]), "the float64 limit (0: none)"},
    {"max_growth", MW_FK_F64, G(max_growth),
     "fail a training run whose median error over the last epoch exceeds X times the\n"
     "first epoch's (0: none)",
     .opt = "max-growth", .meta = "X", .lo = 0, .hi = 1e300},
    MW_FIELDS_END,
};
#undef G
const mw_record mw_gates_record = {"gates", sizeof(mw_gates), gate_fields,
                                   "what fails a run beyond the suite's own check", NULL};
const mw_optgroup mw_gates_group = {"gates", "gates (exit 1 when one trips, naming the runs)",
                                    &mw_gates_record, offsetof(mw_suite_config, gates)};

/* ---- judging ---- */

/* The coordinate's parameter by name and index: "layer3.unit1.W[2,5]". */
static void coord_name(const mw_spec *s, long long coord, char *buf, size_t n)
{
    mw_layout lay;
    snprintf(buf, n, "coordinate %lld", coord);
    if (coord < 0 || mw_layout_build(s, &lay) != 0)
        return;
    for (int p = 0; p < lay.n_params; p++) {
        const mw_param_info *pi = &lay.params[p];
        if ((size_t)coord < pi->offset || (size_t)coord >= pi->offset + pi->count)
            continue;
        size_t r = (size_t)coord - pi->offset, idx[4] = {0};
        for (int d = pi->ndim - 1; d >= 0; d--)
            idx[d] = r % (size_t)pi->dims[d], r /= (size_t)pi->dims[d];
        int k = snprintf(buf, n, "%s[", pi->name);
        for (int d = 0; d < pi->ndim && k > 0 && (size_t)k < n; d++)
            k += snprintf(buf + k, n - (size_t)k, d ? ",%zu" : "%zu", idx[d]);
        if (k > 0 && (size_t)k < n)
            snprintf(buf + k, n - (size_t)k, "]");
        break;
    }
    mw_layout_free(&lay);
}

static void say(mw_report_run *run, mw_verdict v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    run->verdict = v;
    vsnprintf(run->why, sizeof run->why, fmt, ap);
    va_end(ap);
}

/* The first step of a moonwalk or mixed run whose closure error is over the alarm (a
 * non-finite one too: h_L overflowed); NULL when none is. */
static const mw_report_step *closure_alarm(const mw_report_run *run)
{
    for (size_t i = 0; i < run->n_steps; i++)
        if (mw_closure_alarm(run->method, run->steps[i].closure_err))
            return &run->steps[i];
    return NULL;
}

/* The step with the largest error, and the medians of the first and the last epoch. */
static const mw_report_step *worst_step(const mw_report_run *run)
{
    const mw_report_step *w = NULL;
    for (size_t i = 0; i < run->n_steps; i++)
        if (isfinite(run->steps[i].vs.rel_l2) && (!w || run->steps[i].vs.rel_l2 > w->vs.rel_l2))
            w = &run->steps[i];
    return w;
}

static double epoch_median(const mw_report_run *run, long long epoch, double *buf)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n_steps; i++)
        if (run->steps[i].epoch == epoch && isfinite(run->steps[i].vs.rel_l2))
            buf[n++] = run->steps[i].vs.rel_l2;
    return mw_median(buf, n);
}

/* " at step 57" in training, nothing for a single gradient. */
static const char *at_step(const mw_report_run *run, const mw_report_step *s, char *buf, size_t n)
{
    buf[0] = '\0';
    if (run->n_steps > 1)
        snprintf(buf, n, " at step %lld", s->step);
    return buf;
}

/* "; worst parameter layer3.unit1.W[2,5]: expected 1.2e-03, got 1.3e-03" */
static const char *worst_param(const mw_spec *s, const mw_report_step *st, char *buf, size_t n)
{
    char name[96];
    buf[0] = '\0';
    if (st->vs.worst < 0)
        return buf;
    coord_name(s, st->vs.worst, name, sizeof name);
    snprintf(buf, n, "; worst parameter %s: expected %.17g, got %.17g (difference %.3g)", name,
             st->vs.worst_want, st->vs.worst_got, st->vs.worst_got - st->vs.worst_want);
    return buf;
}

/* "; first layer over it: layer 7 (3.1e-04)": where, at step s, the per-layer error first
 * exceeds the limit (layers from the input up, then the head). */
static void first_layer_over(const mw_report_run *run, const mw_report_step *s, double lim,
                             char *buf, size_t n)
{
    const size_t i = (size_t)(s - run->steps);
    if (!run->layer_rel_l2 || run->n_layers < 1 || i >= run->n_steps)
        return;
    const double *row = run->layer_rel_l2 + i * (size_t)run->n_layers;
    for (int l = 0; l < run->n_layers; l++)
        if (row[l] > lim) {
            if (l + 1 < run->n_layers)
                snprintf(buf, n, "; first layer over it: layer %d (%.2e)", l + 1, row[l]);
            else
                snprintf(buf, n, "; first over it: the head (%.2e)", row[l]);
            return;
        }
}

void mw_judge_run(const mw_suite_def *def, const mw_suite_config *c,
                  const mw_report_network *net, mw_report_run *run)
{
    const mw_gates *g = &c->gates;
    const char *method = mw_method_name(run->method);
    const char *oracle = !net                                 ? "the oracle"
                         : net->oracle.kind == MW_ORACLE_GOLD  ? "gold"
                         : net->oracle.kind == MW_ORACLE_PROOF ? "the proof\'s midpoint"
                                                              : "silver (float64 backprop)";
    char where[48], worst[256];
    if (run->status == MW_RUN_RUNNING || run->status == MW_RUN_NOT_ASKED) {
        say(run, MW_VERDICT_NONE, "%s", "");
        return;
    }
    if (run->status == MW_RUN_SKIPPED) {
        say(run, MW_VERDICT_SKIP, "skipped: %s", run->message);
        return;
    }
    if (run->status == MW_RUN_FAILED) {
        say(run, MW_VERDICT_FAIL, "could not be computed: %s", run->message);
        return;
    }
    if (net && net->status == MW_NET_FAILED) {
        say(run, MW_VERDICT_FAIL, "its network failed: %s", net->message);
        return;
    }
    const mw_report_step *last = run->n_steps ? &run->steps[run->n_steps - 1] : NULL;
    if (run->status == MW_RUN_DIVERGED || run->status == MW_RUN_NONFINITE) {
        const int o = run->status == MW_RUN_DIVERGED ? MW_OUTCOME_DIVERGED : MW_OUTCOME_NONFINITE;
        const char *what = outcome_names[o];
        char first[160] = "";
        if (last && last->vs.nonfinite && last->vs.worst >= 0 && net) {
            char name[96];
            coord_name(&net->spec, last->vs.worst, name, sizeof name);
            snprintf(first, sizeof first, "; first non-finite entry %s", name);
        }
        if (g->fail_on[o * MW_N_METHODS + (int)run->method])
            say(run, MW_VERDICT_FAIL, "%s: %s%s (gate --fail-on %s:%s)", what, run->message, first,
                what, method);
        else
            say(run, MW_VERDICT_PASS, "%s: %s%s; a finding, not a failure (--fail-on %s:%s "
                "fails it)", what, run->message, first, what, method);
        return;
    }
    /* complete: the diagnosis, the suite's check, then the gates on its error */
    const mw_report_step *w = worst_step(run);
    char diag[600] = "";
    if (run->diag.cls == MW_DIAG_ILL_CONDITIONED || run->diag.cls == MW_DIAG_UNSTABLE) {
        char words[560];
        snprintf(diag, sizeof diag, "; %s%s", run->n_steps > 1 ? "at the end of training, " : "",
                 mw_diagnosis_words(&run->diag, run->dtype, words, sizeof words));
    }
    if (run->diag.cls == MW_DIAG_UNSTABLE &&
        g->fail_on[MW_OUTCOME_UNSTABLE * MW_N_METHODS + (int)run->method]) {
        say(run, MW_VERDICT_FAIL, "%s (gate --fail-on unstable:%s)", diag + 2, method);
        return;
    }
    const mw_report_step *alarm = closure_alarm(run);
    if (alarm) { /* the sweep's own check, no oracle */
        const size_t k = strlen(diag);
        snprintf(diag + k, sizeof diag - k, "; unreliable: closure error %.2e%s, over %g",
                 alarm->closure_err, at_step(run, alarm, where, sizeof where), MW_CLOSURE_ALARM);
        if (g->fail_on[MW_OUTCOME_UNRELIABLE * MW_N_METHODS + (int)run->method]) {
            say(run, MW_VERDICT_FAIL, "%s (gate --fail-on unreliable:%s)", diag + 2, method);
            return;
        }
    }
    const int exact = !mw_method_is_stochastic(run->method);
    if (def && def->tol_check && run->dtype == MW_F64 && exact) {
        if (!(last && last->vs.rel_l2 <= c->check.tol)) {
            say(run, MW_VERDICT_FAIL, "rel_l2 %.3e against %s, over --tol %.1e%s%s",
                last ? last->vs.rel_l2 : NAN, oracle, c->check.tol,
                last && net ? worst_param(&net->spec, last, worst, sizeof worst) : "", diag);
            return;
        }
    }
    const double lim = g->max_err[run->dtype == MW_F64];
    if (lim > 0 && exact && w && w->vs.rel_l2 > lim) {
        char layer[96] = "";
        first_layer_over(run, w, lim, layer, sizeof layer);
        say(run, MW_VERDICT_FAIL, "rel_l2 %.3e against %s%s, over --max-err %s:%.1e%s%s%s",
            w->vs.rel_l2, oracle, at_step(run, w, where, sizeof where),
            mw_dtype_name(run->dtype), lim, layer,
            net ? worst_param(&net->spec, w, worst, sizeof worst) : "", diag);
        return;
    }
    if (g->max_growth > 0 && exact && run->n_steps > 1) {
        double *buf = malloc(run->n_steps * sizeof *buf);
        if (!buf) { /* a gate not checked is not a gate passed */
            say(run, MW_VERDICT_FAIL, "out of memory checking --max-growth");
            return;
        }
        double first = epoch_median(run, run->steps[0].epoch, buf);
        double lastm = epoch_median(run, last->epoch, buf);
        free(buf);
        if (lastm / first > g->max_growth) {
            say(run, MW_VERDICT_FAIL, "the median error grew %.3g-fold from the first epoch "
                "(%.3e) to the last (%.3e), over --max-growth %g", lastm / first, first, lastm,
                g->max_growth);
            return;
        }
    }
    if (!w)
        say(run, MW_VERDICT_PASS, "complete");
    else if (run->n_steps > 1)
        say(run, MW_VERDICT_PASS, "complete; largest rel_l2 %.3e%s%s", w->vs.rel_l2,
            at_step(run, w, where, sizeof where),
            !exact ? " (an unbiased estimate: its error is variance)" : "");
    else
        say(run, MW_VERDICT_PASS, "rel_l2 %.3e against %s%s%s", w->vs.rel_l2, oracle,
            !exact ? " (an unbiased estimate: its error is variance)"
            : def && def->tol_check && run->dtype == MW_F64 ? ", within --tol" : "",
            diag);
}

size_t mw_count_failing_runs(const mw_suite_config *c, const mw_report *r)
{
    (void)c;
    size_t n = 0;
    for (size_t i = 0; i < r->n_runs; i++)
        n += r->runs[i].verdict == MW_VERDICT_FAIL;
    return n;
}

void mw_print_failing_runs(FILE *f, const mw_report *r)
{
    size_t n = mw_count_failing_runs(NULL, r), shown = 0, judged = 0;
    for (size_t k = 0; k < r->n_runs; k++)
        judged += r->runs[k].verdict == MW_VERDICT_PASS || r->runs[k].verdict == MW_VERDICT_FAIL;
    if (n)
        fprintf(f, "\nFAILED runs (%zu):\n", n);
    for (size_t k = 0; k < r->n_runs && shown < 20; k++) {
        const mw_report_run *run = &r->runs[k];
        if (run->verdict != MW_VERDICT_FAIL)
            continue;
        const mw_report_network *net = mw_report_network_at(r, run->network);
        char cell[160] = "";
        if (net)
            snprintf(cell, sizeof cell, ": %s, f-act %s, out-act %s, depth %d",
                     mw_name_of(&mw_arch_names, (int)net->spec.arch), mw_act_name(net->spec.f_act),
                     mw_name_of(&mw_out_act_names, (int)net->spec.out_act), net->spec.depth);
        fprintf(f, "  run %ld (network %ld%s), %s %s: %s\n", run->index, run->network, cell,
                mw_dtype_name(run->dtype), mw_method_name(run->method), run->why);
        shown++;
    }
    if (shown < n)
        fprintf(f, "  ... and %zu more (mwverify report summary FILE --json lists every run)\n",
                n - shown);
    if (n)
        fprintf(f, "FAILED: %zu of %zu judged runs\n", n, judged);
    else
        fprintf(f, "PASSED: %zu judged runs\n", judged);
}
