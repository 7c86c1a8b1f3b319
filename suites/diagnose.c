/* Why a gradient lost its digits (suites.h): for each complete deterministic run of a
 * gradient check, measured on its own network and batch in float64, without gold —
 *
 *   floor     u (L + 1): the error of a backward-stable gradient through L + 1 layers;
 *   problem   |g(θ̃, x̃) − g(θ, x)| / |g| for θ and x perturbed by relative u (float64
 *             backprop; in float64 itself from a larger perturbation, scaled): how far the
 *             exact gradient moves under rounding-sized changes of its data, kinks and
 *             saturation included — what every method inherits;
 *   amplification  the method's own error in float64 over float64's u: its recurrence's
 *             gain on rounding, which a float32 run multiplies by float32's u;
 *
 *   backprop  backprop's own error in the same dtype (when it ran): a backward-stable
 *             method's, the direct witness of a problem that is sensitive in this dtype —
 *             beyond what perturbing θ and x shows when float32 cannot represent a
 *             derivative at all (a tanh that rounds to ±1);
 *
 * the problem's sensitivity is backprop's error where backprop ran, else problem; the
 * error rounding explains is the largest of floor, that sensitivity and (float32) u times
 * the amplification. A run is method-unstable when its error is over 10x floor and the
 * sensitivity, ill-conditioned when not and the sensitivity is over 10x floor, within
 * rounding otherwise. Backprop, the backward-stable reference, is within rounding or
 * ill-conditioned by its own error against 10x floor. The first layer whose
 * per-layer error departs more than 10x from backprop's (and from the floor) is where;
 * the saturation of σ's pre-activations there is the usual why. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"

static double unit_roundoff(mw_dtype d)
{
    return d == MW_F64 ? 0x1p-53 : 0x1p-24;
}

/* g's rel_l2 against the float64 reference ref. */
static double rel_l2(const double *g, const double *ref, size_t n)
{
    mw_metrics m;
    mw_metrics_compute(g, ref, NULL, n, MW_F64, &m);
    return m.rel_l2;
}

/* ±1 with equal odds, from a counter: the perturbation's signs. */
static double sign_at(uint64_t seed, uint64_t i)
{
    return mw_splitmix64(seed + 0x9E3779B97F4A7C15ull * i) & 1 ? 1.0 : -1.0;
}

typedef struct diag_net {
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_tensor g;
    double *host, *theta, *x; /* P, P, B·n */
} diag_net;

static void diag_net_free(diag_net *d)
{
    mw_tensor_free(d->ctx, &d->g);
    mw_batch_free(d->ctx, d->batch);
    mw_net_free(d->ctx, d->net);
    mw_ctx_free(d->ctx);
    free(d->host), free(d->theta), free(d->x);
}

static mw_status diag_net_open(const mw_grad_case *c, diag_net *d, mw_err *err)
{
    const size_t P = c->lay.total, BN = (size_t)c->spec.batch * (size_t)c->spec.width;
    memset(d, 0, sizeof *d);
    d->host = malloc(P * sizeof *d->host);
    d->theta = malloc(P * sizeof *d->theta);
    d->x = malloc(BN * sizeof *d->x);
    mw_status st = d->host && d->theta && d->x ? mw_ctx_new(MW_BACKEND_CPU, MW_F64, &d->ctx)
                                               : MW_ERR_NOMEM;
    if (st == MW_OK && ((st = mw_net_new(d->ctx, &c->spec, &d->net)) != MW_OK ||
                        (st = mw_net_set_params(d->ctx, d->net, c->theta)) != MW_OK ||
                        (st = mw_batch_new(d->ctx, d->net, c->x, c->labels, &d->batch)) != MW_OK ||
                        (st = mw_tensor_alloc(d->ctx, P, &d->g)) != MW_OK))
        return mw_err_set(err, st, "diagnosis: %s", mw_ctx_message(d->ctx));
    return st == MW_OK ? MW_OK : mw_err_set(err, st, "diagnosis: out of memory");
}

/* The gradient of method m in float64 at the network's current parameters and batch. */
static mw_status grad64(diag_net *d, const mw_grad_case *c, mw_method m, const mw_grad_opts *o)
{
    mw_grad_info info;
    mw_status st = mw_grad(d->ctx, d->net, d->batch, m, o, &d->g, &info);
    if (st == MW_OK)
        st = mw_tensor_download(d->ctx, &d->g, 0, d->host, c->lay.total);
    return st;
}

/* How far the exact gradient moves when θ and x are perturbed by relative u. In float64
 * a perturbation of float64's u is lost to rounding itself: it is made at 2^-40 and the
 * movement scaled to u (linear where the gradient is smooth). */
static mw_status problem_sensitivity(diag_net *d, const mw_grad_case *c, double u, double *out)
{
    const size_t P = c->lay.total, BN = (size_t)c->spec.batch * (size_t)c->spec.width;
    const double delta = fmax(u, 0x1p-40);
    for (size_t i = 0; i < P; i++)
        d->theta[i] = c->theta[i] * (1.0 + delta * sign_at(c->spec.seed, i));
    for (size_t i = 0; i < BN; i++)
        d->x[i] = c->x[i] * (1.0 + delta * sign_at(~c->spec.seed, i));
    mw_status st;
    if ((st = mw_net_set_params(d->ctx, d->net, d->theta)) != MW_OK ||
        (st = mw_batch_update(d->ctx, d->net, d->batch, d->x, c->labels)) != MW_OK ||
        (st = grad64(d, c, MW_BACKPROP, NULL)) != MW_OK)
        return st;
    *out = rel_l2(d->host, c->silver, P) * (u / delta);
    if ((st = mw_net_set_params(d->ctx, d->net, c->theta)) != MW_OK ||
        (st = mw_batch_update(d->ctx, d->net, d->batch, c->x, c->labels)) != MW_OK)
        return st;
    return MW_OK;
}

/* σ's pre-activations z at coupling layer k (1-based), from the float64 forward pass:
 * the shares with |z| > 4 and > 9, the float32 tanh outputs that round to ±1 and the
 * D⁻¹ = cosh²(z) that overflow float32. */
static mw_status saturation(diag_net *d, const mw_grad_case *c, int k, mw_diagnosis *out)
{
    const mw_spec *s = &c->spec;
    const size_t B = (size_t)s->batch, n = (size_t)s->width, h = n / 2;
    double *a = malloc(B * n * sizeof *a), *b = malloc(B * n * sizeof *b);
    mw_status st = a && b ? MW_OK : MW_ERR_NOMEM;
    if (st == MW_OK)
        memcpy(a, c->x, B * n * sizeof *a);
    for (int i = 0; st == MW_OK && i < mw_net_n_layers(d->net); i++) {
        char label[64];
        int at = 0;
        size_t n_theta, off;
        if ((st = mw_net_layer(d->net, i, label, sizeof label, &n_theta, &off)) != MW_OK ||
            (st = mw_layer_forward(d->ctx, d->net, i, a, b)) != MW_OK)
            break;
        double *t = a;
        a = b, b = t; /* a: this layer's output */
        if (sscanf(label, "layer %d", &at) != 1 || at != k)
            continue;
        const size_t off_b = k % 2 == 1 ? h : 0; /* odd layers transform the second half */
        size_t n4 = 0, n9 = 0, neg = 0, all = 0;
        for (size_t r = 0; r < B; r++)
            for (size_t j = off_b; j < off_b + h; j++) {
                const double y = a[r * n + j];
                double z = y;
                if (s->out_act == MW_ACT_TANH)
                    z = fabs(y) < 1.0 ? atanh(y) : copysign(INFINITY, y);
                else if (s->out_act == MW_ACT_LEAKY && y < 0)
                    z = s->leaky_slope > 0 ? y / s->leaky_slope : -INFINITY;
                n4 += fabs(z) > 4, n9 += fabs(z) > 9, neg += z < 0, all++;
                if (s->out_act == MW_ACT_TANH) {
                    const float tz = tanhf((float)z);
                    out->tanh_pm1 += tz == 1.0f || tz == -1.0f;
                    out->dinv_overflow += !(cosh(z) * cosh(z) <= FLT_MAX);
                }
            }
        out->sat4 = all ? (double)n4 / (double)all : NAN;
        out->sat9 = all ? (double)n9 / (double)all : NAN;
        if (s->out_act == MW_ACT_LEAKY)
            out->negative = all ? (double)neg / (double)all : NAN;
        break;
    }
    free(a), free(b);
    return st;
}

mw_status mw_diagnose(const mw_grad_request *req, const mw_grad_case *c, mw_method_results *res,
                      mw_err *err)
{
    const mw_spec *s = &c->spec;
    const mw_dtype dtype = res->dtype;
    const double u = unit_roundoff(dtype), floor_ = u * (s->depth + 1);
    const size_t P = c->lay.total;
    for (int m = 0; m < MW_N_METHODS; m++)
        res->m[m].run.diag = mw_diagnosis_none();
    diag_net d;
    double problem = NAN;
    mw_status st = diag_net_open(c, &d, err);
    if (st == MW_OK && (st = problem_sensitivity(&d, c, u, &problem)) != MW_OK)
        mw_err_set(err, st, "diagnosis: %s", mw_ctx_message(d.ctx));
    const mw_method_result *bp = &res->m[MW_BACKPROP];
    const double bp_err = bp->run.status == MW_RUN_COMPLETE && isfinite(bp->step.vs.rel_l2)
                              ? bp->step.vs.rel_l2
                              : NAN;
    const double *bp_layers = bp->run.status == MW_RUN_COMPLETE && bp->per_layer ? bp->per_layer
                                                                                   : NULL;
    for (int m = 0; st == MW_OK && m < MW_N_METHODS; m++) {
        mw_method_result *r = &res->m[m];
        if (r->run.status != MW_RUN_COMPLETE || !r->grad || mw_method_is_stochastic((mw_method)m))
            continue;
        mw_diagnosis *dg = &r->run.diag;
        dg->floor = floor_, dg->problem = problem, dg->amplification = 0.0;
        if (m != MW_BACKPROP) { /* float64 backprop is silver itself: no gain of its own */
            mw_grad_opts o = req->methods.opts;
            o.rng_seed = s->seed;
            if ((st = grad64(&d, c, (mw_method)m, &o)) != MW_OK) {
                mw_err_set(err, st, "diagnosis: %s", mw_ctx_message(d.ctx));
                break;
            }
            dg->amplification = rel_l2(d.host, c->silver, P) / 0x1p-53;
        }
        const double e = r->step.vs.rel_l2;
        dg->error = e;
        dg->backprop = m == MW_BACKPROP ? NAN : bp_err;
        /* the direct witness when there is one: perturbing every parameter and input by ±u
         * moved the exact gradient 2-10x more than backprop's own rounding did on the
         * saturated networks of README's grid */
        const double sensitive = isfinite(dg->backprop) ? dg->backprop : problem;
        const double base = fmax(floor_, sensitive);
        /* a float64 run's own amplification is its measured error: not a prediction */
        dg->predicted = dtype == MW_F64 ? base : fmax(base, u * dg->amplification);
        if (m == MW_BACKPROP) /* the backward-stable reference: its error is the problem's */
            dg->cls = e <= 10.0 * floor_ ? MW_DIAG_ROUNDING : MW_DIAG_ILL_CONDITIONED;
        else
            dg->cls = e > 10.0 * base               ? MW_DIAG_UNSTABLE
                      : sensitive > 10.0 * floor_ ? MW_DIAG_ILL_CONDITIONED
                                                   : MW_DIAG_ROUNDING;
        /* where: the first layer (then the head) whose error departs from backprop's */
        for (int l = 0; r->per_layer && l <= s->depth; l++) {
            const double ref = fmax(bp_layers ? bp_layers[l] : 0.0, floor_);
            if (r->per_layer[l] > 10.0 * ref) {
                dg->layer = l < s->depth ? l + 1 : -1;
                break;
            }
        }
        if (dg->layer > 0 && s->out_act != MW_ACT_IDENTITY &&
            (st = saturation(&d, c, dg->layer, dg)) != MW_OK)
            mw_err_set(err, st, "diagnosis: %s", mw_ctx_message(d.ctx));
    }
    diag_net_free(&d);
    return st;
}
