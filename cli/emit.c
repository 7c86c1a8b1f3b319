/* Output shared by grad and gradcheck (emit.h). */
#include "emit.h"

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
    mw_json_integer(j, "seed", (long long)s->seed);
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
