/* Output shared by grad and gradcheck (emit.h). */
#include "emit.h"

#include "suite.h"

#include <math.h>
#include <string.h>

const char *mw_run_state_name(mw_run_state s)
{
    switch (s) {
    case MW_RUN_OK: return "ok";
    case MW_RUN_SKIPPED: return "skipped";
    case MW_RUN_NONFINITE: return "nonfinite";
    case MW_RUN_FAILED: return "failed";
    default: return "not asked";
    }
}

int mw_method_has_closure(mw_method m)
{
    return m == MW_MOONWALK || m == MW_MIXED;
}

const char *mw_fmt(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (!isfinite(v))
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.3e", v);
    return buf;
}

/* ---- JSON ---- */

void mw_emit_spec_json(mw_json *j, const char *key, const mw_spec *s)
{
    mw_json_object_begin(j, key);
    mw_json_string(j, "arch", mw_arch_name(s->arch));
    mw_json_string(j, "coupling", mw_coupling_name(s->coupling));
    mw_json_integer(j, "width", s->width);
    mw_json_integer(j, "hidden", s->hidden);
    mw_json_integer(j, "units", s->units);
    mw_json_integer(j, "depth", s->depth);
    mw_json_string(j, "f_act", mw_act_name(s->f_act));
    mw_json_string(j, "out_act", mw_out_act_name(s->out_act));
    mw_json_number(j, "leaky_slope", s->leaky_slope);
    mw_json_bool(j, "bn", s->bn);
    mw_json_number(j, "bn_eps", s->bn_eps);
    mw_json_integer(j, "batch", s->batch);
    mw_json_integer(j, "classes", s->classes);
    mw_json_number(j, "init_scale", s->init_scale);
    mw_json_unsigned(j, "seed", (unsigned long long)s->seed);
    if (s->arch == MW_ARCH_REVNET) {
        mw_json_integer(j, "channels", s->channels);
        mw_json_array_begin(j, "image");
        mw_json_integer(j, NULL, s->image_h);
        mw_json_integer(j, NULL, s->image_w);
        mw_json_array_end(j);
        mw_json_integer(j, "blocks", s->blocks);
        mw_json_integer(j, "layers_per_block", s->layers_per_block);
    }
    mw_json_object_end(j);
}

static void layers_json(mw_json *j, const char *key, const double *v, int L)
{
    mw_json_array_begin(j, key);
    for (int l = 0; v && l <= L; l++)
        mw_json_number(j, NULL, v[l]);
    mw_json_array_end(j);
}

void mw_emit_oracle_json(mw_json *j, const mw_grad_case *c)
{
    int gold = c->oracle == MW_ORACLE_GOLD;
    mw_json_object_begin(j, "oracle");
    mw_json_string(j, "kind", mw_oracle_name(c->oracle));
    mw_json_string(j, "reason", c->oracle_reason);
    mw_json_number(j, "loss", c->ref_loss);
    mw_json_number(j, "grad_norm", c->ref_norm);
    mw_json_number(j, "gold_estimate_seconds", c->gold_estimate_s);
    if (gold) {
        mw_json_integer(j, "bits", c->gold.bits);
        mw_json_integer(j, "check_bits", c->gold.check_bits);
        mw_json_number(j, "certified_bits", c->gold.certified_bits);
        mw_json_number(j, "fd_agree_bits", c->gold.fd_agree_bits);
        mw_json_integer(j, "fd_coords", (long long)c->gold.fd_coords);
        mw_json_number(j, "seconds", c->gold.seconds);
        mw_json_object_begin(j, "silver_vs_gold");
        mw_json_number(j, "rel_l2", c->silver_vs_gold.rel_l2);
        mw_json_number(j, "max_abs", c->silver_vs_gold.max_abs);
        mw_json_number(j, "max_ulp", c->silver_vs_gold.max_ulp);
        mw_json_number(j, "cosine", c->silver_vs_gold.cosine);
        layers_json(j, "per_layer_rel_l2", c->silver_vs_gold_layers, c->spec.depth);
        mw_json_object_end(j);
    } else {
        mw_json_null(j, "bits");
        mw_json_null(j, "certified_bits");
        mw_json_null(j, "fd_agree_bits");
    }
    mw_json_object_end(j);
}

void mw_emit_methods_json(mw_json *j, const mw_grad_case *c, const mw_method_runs *runs)
{
    mw_json_object_begin(j, "methods");
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &runs->run[m];
        if (r->state == MW_RUN_NOT_ASKED)
            continue;
        int ran = r->state == MW_RUN_OK || r->state == MW_RUN_NONFINITE;
        int measured = ran && r->info.complete && r->grad;
        const mw_metrics *v = &r->vs_oracle;
        mw_json_object_begin(j, mw_method_name((mw_method)m));
        mw_json_string(j, "status", mw_run_state_name(r->state));
        mw_json_string(j, "message", r->message[0] ? r->message : NULL);
        mw_json_number(j, "rel_l2", measured ? v->rel_l2 : NAN);
        mw_json_number(j, "max_abs", measured ? v->max_abs : NAN);
        mw_json_number(j, "max_ulp", measured ? v->max_ulp : NAN);
        mw_json_number(j, "cosine", measured ? v->cosine : NAN);
        mw_json_number(j, "grad_norm", measured ? v->norm : NAN);
        layers_json(j, "per_layer_rel_l2", measured ? r->per_layer : NULL, c->spec.depth);
        mw_json_integer(j, "nonfinite", measured ? (long long)v->nonfinite : 0);
        mw_json_number(j, "loss", ran ? r->info.loss : NAN);
        if (ran)
            mw_json_integer(j, "peak_bytes", (long long)r->info.peak_bytes);
        else
            mw_json_null(j, "peak_bytes");
        if (ran && r->info.dev_free_before) { /* a GPU's free memory around the call */
            mw_json_unsigned(j, "device_free_before", (unsigned long long)r->info.dev_free_before);
            mw_json_unsigned(j, "device_free_after", (unsigned long long)r->info.dev_free_after);
        }
        mw_json_number(j, "seconds", ran ? r->seconds : NAN);
        mw_json_number(j, "closure_err", measured ? r->info.closure_err : NAN);
        mw_json_number(j, "est_gflop", r->est_gflop);
        /* JSON has no NaN: a value that should be a number but is not finite is written
         * as null and named here */
        mw_json_array_begin(j, "nonfinite_fields");
        if (measured) {
            const double vals[5] = {v->rel_l2, v->max_abs, v->max_ulp, v->norm, r->info.loss};
            static const char *names[5] = {"rel_l2", "max_abs", "max_ulp", "grad_norm", "loss"};
            for (int q = 0; q < 5; q++)
                if (!isfinite(vals[q]))
                    mw_json_string(j, NULL, names[q]);
            if (mw_method_has_closure((mw_method)m) && !isfinite(r->info.closure_err))
                mw_json_string(j, NULL, "closure_err");
        }
        mw_json_array_end(j);
        mw_json_object_end(j);
    }
    mw_json_object_end(j);
}

/* ---- tables ---- */

void mw_print_oracle(FILE *f, const mw_grad_case *c)
{
    char a[32], b[32];
    if (c->oracle == MW_ORACLE_GOLD) {
        fprintf(f, "oracle: gold, MPFR at %ld bits, certified %.1f bits by a %ld-bit rerun",
                c->gold.bits, c->gold.certified_bits, c->gold.check_bits);
        if (c->gold.fd_coords)
            fprintf(f, ", central differences agree to %.1f bits on %zu coordinates",
                    c->gold.fd_agree_bits, c->gold.fd_coords);
        fprintf(f, " (%.2f s; %s)\n", c->gold.seconds, c->oracle_reason);
        fprintf(f, "silver (float64 backprop) against gold: rel_l2 %s, max_ulp %s\n",
                mw_fmt(a, sizeof a, c->silver_vs_gold.rel_l2),
                mw_fmt(b, sizeof b, c->silver_vs_gold.max_ulp));
    } else {
        fprintf(f, "oracle: silver, float64 backprop (%s)\n", c->oracle_reason);
    }
    fprintf(f, "oracle loss %.17g, |g*| %.6e\n", c->ref_loss, c->ref_norm);
}

void mw_print_runs_header(FILE *f, const char *prefix_head)
{
    fprintf(f, "%s%-12s %-10s %-10s %-10s %-10s %-10s %-10s %11s %9s  %s\n", prefix_head,
            "method", "rel_l2", "max_abs", "max_ulp", "1-cosine", "grad_norm", "closure",
            "peak_bytes", "seconds", "status");
}

void mw_print_runs(FILE *f, const char *prefix, const mw_grad_case *c,
                   const mw_method_runs *runs, int per_layer)
{
    char a[32], b[32], u[32], k[32], n[32], d[32];
    int closure_overflow = 0;
    for (int m = 0; m < MW_N_METHODS; m++) {
        const mw_method_run *r = &runs->run[m];
        const char *name = mw_method_name((mw_method)m);
        if (r->state == MW_RUN_NOT_ASKED)
            continue;
        if (r->state == MW_RUN_SKIPPED || r->state == MW_RUN_FAILED) {
            fprintf(f, "%s%-12s %-10s %-10s %-10s %-10s %-10s %-10s %11s %9s  %s: %s\n", prefix,
                    name, "-", "-", "-", "-", "-", "-", "-", "-", mw_run_state_name(r->state),
                    r->message);
            continue;
        }
        if (!r->info.complete || !r->grad) {
            fprintf(f, "%s%-12s %-10s %-10s %-10s %-10s %-10s %-10s %11zu %9.4f  NON-FINITE, "
                       "stopped: %s\n", prefix, name, "-", "-", "-", "-", "-", "-",
                    r->info.peak_bytes, r->seconds, r->message);
            continue;
        }
        const mw_metrics *v = &r->vs_oracle;
        int closure = mw_method_has_closure((mw_method)m);
        fprintf(f, "%s%-12s %-10s %-10s %-10s %-10s %-10s %-10s %11zu %9.4f  ", prefix, name,
                mw_fmt(a, sizeof a, v->rel_l2), mw_fmt(b, sizeof b, v->max_abs),
                mw_fmt(u, sizeof u, v->max_ulp), mw_fmt(k, sizeof k, 1.0 - v->cosine),
                mw_fmt(n, sizeof n, v->norm), closure ? mw_fmt(d, sizeof d, r->info.closure_err) : "-",
                r->info.peak_bytes, r->seconds);
        if (closure && !isfinite(r->info.closure_err))
            closure_overflow = 1;
        if (r->state == MW_RUN_NONFINITE)
            fprintf(f, "NON-FINITE: %zu gradient entries are inf or NaN (%s)\n", v->nonfinite,
                    r->message);
        else
            fprintf(f, "ok%s\n", mw_method_is_stochastic((mw_method)m)
                                     ? " (an unbiased estimate: its error is variance)"
                                     : "");
        if (per_layer) {
            fprintf(f, "%s%-12s per-layer rel_l2:", prefix, "");
            for (int l = 0; l <= c->spec.depth; l++) {
                char name_l[16];
                snprintf(name_l, sizeof name_l, l < c->spec.depth ? "layer%d" : "head", l + 1);
                fprintf(f, " %s %s", name_l, mw_fmt(a, sizeof a, r->per_layer[l]));
            }
            fprintf(f, "\n");
        }
    }
    if (closure_overflow)
        fprintf(f, "%snote: a closure error is not finite: h_L of the vijp sweep overflowed "
                   "(D⁻¹ = cosh²(z) of a saturated tanh, or 1/α), after the last parameter "
                   "gradient was formed.\n", prefix);
}

/* ---- reports ---- */

static void print_network(FILE *f, const mw_report_network *n)
{
    char a[32], b[32], desc[256];
    mw_spec_describe(&n->spec, desc, sizeof desc);
    fprintf(f, "\nnetwork %ld: %s\n", n->index, desc);
    if (strcmp(n->status, "ok") != 0) {
        fprintf(f, "  NETWORK FAILED: %s\n", n->message);
        return;
    }
    if (n->n_ref_epochs) {
        const mw_report_epoch *e = &n->ref_epochs[n->n_ref_epochs - 1];
        fprintf(f, "  reference (float64 backprop): loss %.4g, held-out accuracy %.3f after %lld "
                   "epochs; silver oracle every step%s\n", e->loss_mean, e->test_accuracy,
                e->epoch + 1, n->bits ? ", gold on a schedule" : "");
        return;
    }
    if (strcmp(n->oracle, "gold") == 0)
        fprintf(f, "  oracle gold: %ld bits, certified %.1f bits, central differences %.1f bits "
                   "on %ld coordinates (%.2f s); silver against it %s\n",
                n->bits, n->certified_bits, n->fd_agree_bits, n->fd_coords, n->oracle_seconds,
                mw_fmt(a, sizeof a, n->silver_vs_gold));
    else
        fprintf(f, "  oracle %s\n", n->oracle);
    if (n->n_proj) {
        fprintf(f, "  projforward, RMS error of the K-sample mean:");
        for (int k = 0; k < n->n_proj; k++)
            fprintf(f, " K=%.0f %s", n->proj_k[k], mw_fmt(a, sizeof a, n->proj_rel_err[k]));
        fprintf(f, "; slope %s (expected -0.5, R² %s, %ld repeats)\n",
                mw_fmt(a, sizeof a, n->proj_slope), mw_fmt(b, sizeof b, n->proj_slope_r2),
                n->proj_repeats);
    }
}

static void print_report_run(FILE *f, const mw_report_run *r, int per_layer)
{
    char a[32], b[32], u[32], k[32], d[32];
    const mw_report_step *s = mw_report_last_step(r);
    if (!s) {
        fprintf(f, "  %-4s %-12s %-10s %-10s %-10s %-10s %-10s %11s %9s  %s%s%s\n", r->dtype,
                r->method, "-", "-", "-", "-", "-", "-", "-", r->status, r->message[0] ? ": " : "",
                r->message);
        return;
    }
    mw_method m = MW_BACKPROP;
    mw_method_parse(r->method, &m);
    fprintf(f, "  %-4s %-12s %-10s %-10s %-10s %-10s %-10s %11lld %9.4f  %s%s%s\n", r->dtype,
            r->method, mw_fmt(a, sizeof a, s->rel_l2), mw_fmt(b, sizeof b, s->max_abs),
            mw_fmt(u, sizeof u, s->max_ulp), mw_fmt(k, sizeof k, 1.0 - s->cosine),
            mw_method_has_closure(m) ? mw_fmt(d, sizeof d, s->closure_err) : "-", s->peak_bytes,
            s->seconds, r->status, r->message[0] ? ": " : "", r->message);
    if (per_layer && r->layer_rel_l2) {
        const double *row = r->layer_rel_l2 + (r->n_steps - 1) * (size_t)r->n_layers;
        fprintf(f, "  %-17s per-layer rel_l2:", "");
        for (int l = 0; l < r->n_layers; l++) {
            char name[16];
            snprintf(name, sizeof name, l + 1 < r->n_layers ? "layer%d" : "head", l + 1);
            fprintf(f, " %s %s", name, mw_fmt(a, sizeof a, row[l]));
        }
        fprintf(f, "\n");
    }
}

void mw_print_report(FILE *f, const mw_report *r, int per_layer)
{
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        print_network(f, n);
        fprintf(f, "  %-4s %-12s %-10s %-10s %-10s %-10s %-10s %11s %9s  %s\n", "type", "method",
                "rel_l2", "max_abs", "max_ulp", "1-cosine", "closure", "peak_bytes", "seconds",
                "status");
        for (size_t k = 0; k < r->n_runs; k++)
            if (r->runs[k].network == n->index)
                print_report_run(f, &r->runs[k], per_layer);
    }
}

static void spec_of_network(mw_json *j, const mw_report_network *n)
{
    mw_emit_spec_json(j, "spec", &n->spec);
}

static void network_oracle_json(mw_json *j, const mw_report_network *n)
{
    mw_json_object_begin(j, "oracle");
    mw_json_string(j, "kind", n->oracle);
    mw_json_integer(j, "bits", n->bits);
    mw_json_integer(j, "check_bits", n->check_bits);
    mw_json_number(j, "certified_bits", n->certified_bits);
    mw_json_number(j, "fd_agree_bits", n->fd_agree_bits);
    mw_json_integer(j, "fd_coords", n->fd_coords);
    mw_json_number(j, "seconds", n->oracle_seconds);
    mw_json_number(j, "loss", n->loss);
    mw_json_number(j, "grad_norm", n->grad_norm);
    mw_json_number(j, "silver_vs_gold", n->silver_vs_gold);
    mw_json_object_end(j);
    if (n->n_proj) {
        mw_json_object_begin(j, "projforward_rate");
        mw_json_array_begin(j, "K");
        for (int k = 0; k < n->n_proj; k++)
            mw_json_number(j, NULL, n->proj_k[k]);
        mw_json_array_end(j);
        mw_json_array_begin(j, "rel_err");
        for (int k = 0; k < n->n_proj; k++)
            mw_json_number(j, NULL, n->proj_rel_err[k]);
        mw_json_array_end(j);
        mw_json_number(j, "slope", n->proj_slope);
        mw_json_number(j, "slope_r2", n->proj_slope_r2);
        mw_json_integer(j, "repeats", n->proj_repeats);
        mw_json_object_end(j);
    }
}

static void run_fields_json(mw_json *j, const mw_report_run *r)
{
    const mw_report_step *s = mw_report_last_step(r);
    mw_json_string(j, "status", r->status);
    mw_json_string(j, "message", r->message[0] ? r->message : NULL);
    mw_json_number(j, "rel_l2", s ? s->rel_l2 : NAN);
    mw_json_number(j, "max_abs", s ? s->max_abs : NAN);
    mw_json_number(j, "max_ulp", s ? s->max_ulp : NAN);
    mw_json_number(j, "cosine", s ? s->cosine : NAN);
    mw_json_number(j, "closure_err", s ? s->closure_err : NAN);
    mw_json_number(j, "loss", s ? s->loss : NAN);
    if (s)
        mw_json_integer(j, "peak_bytes", s->peak_bytes);
    else
        mw_json_null(j, "peak_bytes");
    mw_json_number(j, "seconds", s ? s->seconds : NAN);
    mw_json_array_begin(j, "per_layer_rel_l2");
    for (int l = 0; s && r->layer_rel_l2 && l < r->n_layers; l++)
        mw_json_number(j, NULL, r->layer_rel_l2[(r->n_steps - 1) * (size_t)r->n_layers + (size_t)l]);
    mw_json_array_end(j);
}

void mw_emit_report_cells_json(mw_json *j, const mw_report *r)
{
    static const char *const dtypes[2] = {"f32", "f64"};
    mw_json_array_begin(j, "cells");
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        for (int t = 0; t < 2; t++) {
            int any = 0;
            for (size_t k = 0; k < r->n_runs; k++)
                any |= r->runs[k].network == n->index && strcmp(r->runs[k].dtype, dtypes[t]) == 0;
            if (!any)
                continue;
            mw_json_object_begin(j, NULL);
            spec_of_network(j, n);
            mw_json_string(j, "dtype", dtypes[t]);
            mw_json_string(j, "network_status", n->status);
            mw_json_string(j, "network_message", n->message[0] ? n->message : NULL);
            network_oracle_json(j, n);
            mw_json_object_begin(j, "methods");
            for (size_t k = 0; k < r->n_runs; k++) {
                const mw_report_run *run = &r->runs[k];
                if (run->network != n->index || strcmp(run->dtype, dtypes[t]) != 0)
                    continue;
                mw_json_object_begin(j, run->method);
                run_fields_json(j, run);
                mw_json_object_end(j);
            }
            mw_json_object_end(j);
            mw_json_object_end(j);
        }
    }
    mw_json_array_end(j);
}

void mw_emit_report_runs_json(mw_json *j, const mw_report *r)
{
    mw_json_array_begin(j, "runs");
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        const mw_report_network *n = mw_report_network_at(r, run->network);
        mw_json_object_begin(j, NULL);
        mw_json_integer(j, "run", run->index);
        mw_json_integer(j, "network", run->network);
        if (n) {
            mw_json_string(j, "arch", mw_arch_name(n->spec.arch));
            mw_json_string(j, "f_act", mw_act_name(n->spec.f_act));
            mw_json_string(j, "out_act", mw_out_act_name(n->spec.out_act));
            mw_json_integer(j, "depth", n->spec.depth);
            mw_json_unsigned(j, "seed", (unsigned long long)n->spec.seed);
        }
        mw_json_string(j, "method", run->method);
        mw_json_string(j, "dtype", run->dtype);
        run_fields_json(j, run);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
}

/* ---- the verdict of a stability report ---- */

enum { MAX_VERDICT = 64 };

void mw_print_verdict(FILE *f, const mw_report *r)
{
    mw_verdict_row rows[MAX_VERDICT];
    size_t n = mw_stability_verdict(r, rows, MAX_VERDICT);
    char a[32], b[32], c[32], d[32];
    fprintf(f, "\nverdict: err = rel_l2 of the gradient against float64 backprop at the method's "
               "own parameters, over every\nstep of the epoch and every cell; growth = median err "
               "of the last epoch / of the first; dist = |θ - θ_ref|/|θ_ref|\nto the float64 "
               "reference trajectory at the end (median); accuracy on the held-out split at the "
               "end (mean)\n\n");
    fprintf(f, "%-6s %-8s %-12s %-5s %4s %8s %7s %6s %8s %-10s %-10s %-10s %-10s\n", "arch",
            "out-act", "method", "dtype", "runs", "diverged", "skipped", "failed", "accuracy",
            "err median", "err max", "growth", "dist");
    for (size_t i = 0; i < n; i++) {
        const mw_verdict_row *v = &rows[i];
        char acc[16] = "-";
        if (!isnan(v->test_accuracy))
            snprintf(acc, sizeof acc, "%.3f", v->test_accuracy);
        fprintf(f, "%-6s %-8s %-12s %-5s %4d %8d %7d %6d %8s %-10s %-10s %-10s %-10s\n",
                v->arch, v->out_act, v->method, v->dtype, v->runs, v->diverged, v->skipped, v->failed, acc,
                mw_fmt(a, sizeof a, v->err_median_last), mw_fmt(b, sizeof b, v->err_max_last),
                mw_fmt(c, sizeof c, v->growth), mw_fmt(d, sizeof d, v->dist_ref));
    }
}

void mw_emit_verdict_json(mw_json *j, const mw_report *r)
{
    mw_verdict_row rows[MAX_VERDICT];
    size_t n = mw_stability_verdict(r, rows, MAX_VERDICT);
    mw_json_array_begin(j, "verdict");
    for (size_t i = 0; i < n; i++) {
        const mw_verdict_row *v = &rows[i];
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "arch", v->arch);
        mw_json_string(j, "out_act", v->out_act);
        mw_json_string(j, "method", v->method);
        mw_json_string(j, "dtype", v->dtype);
        mw_json_integer(j, "runs", v->runs);
        mw_json_integer(j, "diverged", v->diverged);
        mw_json_integer(j, "skipped", v->skipped);
        mw_json_integer(j, "failed", v->failed);
        mw_json_number(j, "test_accuracy", v->test_accuracy);
        mw_json_number(j, "err_median_last", v->err_median_last);
        mw_json_number(j, "err_max_last", v->err_max_last);
        mw_json_number(j, "err_median_first", v->err_median_first);
        mw_json_number(j, "growth", v->growth);
        mw_json_number(j, "dist_ref", v->dist_ref);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
}

/* The measurements as a matrix: a row per network, a column per method. */
static void print_scaling_matrix(FILE *f, const mw_report *r, int timing)
{
    static const char *const ms[6] = {"backprop", "forward", "projforward", "revbackprop",
                                      "moonwalk", "mixed"};
    fprintf(f, "\n%s\n\n%-44s", timing ? "median seconds per gradient"
                                       : "peak working KiB / total KiB (with parameters, "
                                         "gradient and batch)",
            "network");
    for (int m = 0; m < 6; m++)
        fprintf(f, " %17s", ms[m]);
    fprintf(f, "\n");
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        char name[64];
        if (n->spec.arch == MW_ARCH_REVNET)
            snprintf(name, sizeof name, "revnet %dx%dx%d b%d, %d per block", n->spec.channels,
                     n->spec.image_h, n->spec.image_w, n->spec.batch, n->spec.layers_per_block);
        else
            snprintf(name, sizeof name, "mlp %d/%d b%d, depth %d", n->spec.width, n->spec.hidden,
                     n->spec.batch, n->spec.depth);
        fprintf(f, "%-44s", name);
        for (int m = 0; m < 6; m++) {
            const mw_report_run *run = NULL;
            for (size_t k = 0; k < r->n_runs && !run; k++)
                if (r->runs[k].network == n->index && strcmp(r->runs[k].method, ms[m]) == 0)
                    run = &r->runs[k];
            const mw_report_step *st = run ? mw_report_last_step(run) : NULL;
            char cell[32] = "-";
            if (st && strcmp(run->status, "complete") == 0) {
                if (timing)
                    snprintf(cell, sizeof cell, "%.3g", st->seconds);
                else
                    snprintf(cell, sizeof cell, "%.0f/%.0f", st->peak_bytes / 1024.0,
                             mw_scaling_total_bytes(&n->spec, run->dtype, st->peak_bytes) / 1024.0);
            } else if (run) {
                snprintf(cell, sizeof cell, "%s", run->status);
            }
            fprintf(f, " %17s", cell);
        }
        fprintf(f, "\n");
    }
}

void mw_print_scaling(FILE *f, const mw_report *r)
{
    const int timing = strcmp(r->meta.suite, "timing") == 0;
    char a[32], b[32];
    print_scaling_matrix(f, r, timing);
    fprintf(f, "\ngrowth with depth: %s ∝ L^p, least squares in log-log over the depths of each "
               "setting; Table 1's\norder in L beside it (memory: backprop 1, mixed between, the "
               "rest 0; time: forward 2, the rest 1)\n\n",
            timing ? "median seconds per gradient"
                   : "peak working bytes (and the total with parameters, gradient, batch)");
    fprintf(f, "%-12s %-36s %-12s %-5s %8s %8s %6s %7s\n", "quantity", "setting", "method",
            "dtype", "p", "R²", "points", "Table 1");
    for (size_t i = 0; i < r->n_fits; i++) {
        const mw_report_fit *x = &r->fits[i];
        fprintf(f, "%-12s %-36s %-12s %-5s %8.3f %8.4f %6lld %7s\n", x->quantity, x->setting,
                x->method, x->dtype, x->exponent, x->r2, x->points, x->table1);
    }
    if (r->n_ratios) {
        fprintf(f, "\nratios (the paper's figure where it quotes one):\n");
        for (size_t i = 0; i < r->n_ratios; i++)
            fprintf(f, "  %-100s %10s  paper %s\n", r->ratios[i].name,
                    mw_fmt(a, sizeof a, r->ratios[i].value),
                    isnan(r->ratios[i].paper) ? "-" : mw_fmt(b, sizeof b, r->ratios[i].paper));
    }
}

void mw_emit_scaling_json(mw_json *j, const mw_report *r)
{
    mw_json_array_begin(j, "fits");
    for (size_t i = 0; i < r->n_fits; i++) {
        const mw_report_fit *x = &r->fits[i];
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "setting", x->setting);
        mw_json_string(j, "method", x->method);
        mw_json_string(j, "dtype", x->dtype);
        mw_json_string(j, "quantity", x->quantity);
        mw_json_number(j, "exponent", x->exponent);
        mw_json_number(j, "r2", x->r2);
        mw_json_integer(j, "points", x->points);
        mw_json_string(j, "table1", x->table1);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
    mw_json_array_begin(j, "ratios");
    for (size_t i = 0; i < r->n_ratios; i++) {
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "name", r->ratios[i].name);
        mw_json_number(j, "value", r->ratios[i].value);
        mw_json_number(j, "paper", r->ratios[i].paper);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
}
