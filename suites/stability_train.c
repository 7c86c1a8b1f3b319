/* One method in training, for suite stability (stability.h): its engine, network and
 * Adam; its steps — the gradient at its own parameters measured against silver there
 * (and gold on a schedule), then the update — and its epochs. The reference (float64
 * backprop) trains the same way, from the same start, on the same batches. */
#include "stability.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_trainee_free(mw_trainee *t)
{
    if (t->ctx) {
        mw_tensor_free(t->ctx, &t->g);
        mw_adam_free(t->ctx, &t->adam);
        mw_batch_free(t->ctx, t->batch);
        mw_net_free(t->ctx, t->net);
        mw_ctx_free(t->ctx);
    }
    mw_run_free(&t->run);
    memset(t, 0, sizeof *t);
}

mw_status mw_trainee_init(mw_trainee *t, const mw_engine_config *e, const mw_spec *s,
                          const double *theta0, const double *x, const int *y,
                          const mw_train_config *tc, mw_err *err)
{
    mw_ctx_opts o = {e->math, e->device};
    char msg[512];
    mw_status st = mw_ctx_open(e->backend, t->dtype, &o, &t->ctx, msg, sizeof msg);
    if (st != MW_OK)
        return mw_err_set(err, st, "%s", msg);
    if ((st = mw_net_new(t->ctx, s, &t->net)) != MW_OK ||
        (st = mw_net_set_params(t->ctx, t->net, theta0)) != MW_OK ||
        (st = mw_batch_new(t->ctx, t->net, x, y, &t->batch)) != MW_OK ||
        (st = mw_adam_init(t->ctx, t->net, tc->beta1, tc->beta2, tc->eps, &t->adam)) != MW_OK ||
        (st = mw_tensor_alloc(t->ctx, mw_net_layout(t->net)->total, &t->g)) != MW_OK)
        return mw_err_set(err, st, "%s", mw_ctx_message(t->ctx));
    t->alive = 1;
    t->run.n_layers = s->depth + 1;
    t->run.diag = mw_diagnosis_none(); /* training runs are not diagnosed */
    return MW_OK;
}

/* Room for one more step row and its per-layer errors. */
static int grow_rows(mw_trainee *t)
{
    if (t->run.n_steps < t->cap_steps)
        return 0;
    size_t cap = t->cap_steps ? 2 * t->cap_steps : 64;
    mw_report_step *s = realloc(t->run.steps, cap * sizeof *s);
    if (!s)
        return 1;
    t->run.steps = s;
    double *l = realloc(t->run.layer_rel_l2, cap * (size_t)t->run.n_layers * sizeof *l);
    if (!l)
        return 1;
    t->run.layer_rel_l2 = l;
    t->cap_steps = cap;
    return 0;
}

static int add_epoch(mw_trainee *t, const mw_report_epoch *e)
{
    if (t->run.n_epochs == t->cap_epochs) {
        size_t cap = t->cap_epochs ? 2 * t->cap_epochs : 16;
        mw_report_epoch *p = realloc(t->run.epochs, cap * sizeof *p);
        if (!p)
            return 1;
        t->run.epochs = p;
        t->cap_epochs = cap;
    }
    t->run.epochs[t->run.n_epochs++] = *e;
    return 0;
}

static double rel_dist(const double *a, const double *b, size_t n)
{
    double d2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++)
        d2 += (a[i] - b[i]) * (a[i] - b[i]), b2 += b[i] * b[i];
    return b2 > 0 ? sqrt(d2 / b2) : sqrt(d2);
}

/* The engine's message as the step's failure. */
static mw_status engine_failed(mw_err *err, const char *who, mw_ctx *ctx)
{
    return mw_err_set(err, MW_ERR_BACKEND, "%s: %s", who, mw_ctx_message(ctx));
}

mw_status mw_reference_step(mw_lockstep *u, long step, int epoch, double lr, mw_err *err)
{
    mw_trainee *t = &u->ref;
    mw_grad_info info;
    double loss, acc, t0 = mw_now();
    mw_grad_opts o = mw_grad_opts_default();
    o.bn_update = 1; /* a training step: BatchNorm's running statistics move once */
    if (mw_batch_update(t->ctx, t->net, t->batch, u->xb, u->yb) != MW_OK ||
        mw_eval(t->ctx, t->net, t->batch, 0, &loss, &acc) != MW_OK ||
        mw_net_get_params(t->ctx, t->net, u->theta_ref) != MW_OK ||
        mw_grad(t->ctx, t->net, t->batch, MW_BACKPROP, &o, &t->g, &info) != MW_OK ||
        mw_adam_step(t->ctx, t->net, &t->adam, &t->g, lr) != MW_OK || grow_rows(t))
        return engine_failed(err, "reference", t->ctx);
    if (step == 0)
        u->loss0 = info.loss;
    mw_report_step *s = &t->run.steps[t->run.n_steps];
    *s = mw_step_none();
    s->step = step, s->epoch = epoch, s->loss = info.loss, s->accuracy = acc;
    s->vs.rel_l2 = s->vs.max_abs = s->vs.max_ulp = 0, s->vs.cosine = 1;
    s->dist_ref = 0, s->seconds = mw_now() - t0, s->peak_bytes = (long long)info.peak_bytes;
    for (int l = 0; l < t->run.n_layers; l++)
        t->run.layer_rel_l2[t->run.n_steps * (size_t)t->run.n_layers + (size_t)l] = 0;
    t->run.n_steps++;
    t->ep_steps++, t->ep_loss += info.loss, t->ep_acc += acc;
    return MW_OK;
}

static void diverge(mw_trainee *t, long step, const char *why)
{
    t->alive = 0;
    t->run.status = MW_RUN_DIVERGED;
    snprintf(t->run.message, sizeof t->run.message, "step %ld: %s", step, why);
}

/* Gold at the method's parameters, when it certifies: the method's rel_l2 against it and
 * silver's own; NaN otherwise (an uncertified gold is no measurement, and silver stands).
 * Gold is a function of θ and the batch alone: at the θ of the last gold in the same step
 * (the same batch) it is that gold, which every method but the first at step 0 reuses. */
static void gold_check(mw_lockstep *u, mw_trainee *t, long step, double *gold_err,
                       double *silver_gold)
{
    *gold_err = *silver_gold = NAN;
    const size_t P = u->P;
    if (!u->gold_have || u->gold_step != step ||
        memcmp(u->gold_theta, u->theta, P * sizeof *u->theta) != 0) {
        if (u->gold_have)
            mw_gold_free(&u->gold);
        u->gold_have = 0;
        if (mw_gold_compute(&u->spec, u->theta, u->xb, u->yb, &u->c->oracle.gold, &u->gold,
                            NULL) != MW_OK) {
            mw_gold_free(&u->gold);
            return;
        }
        u->gold_have = 1, u->gold_step = step;
        memcpy(u->gold_theta, u->theta, P * sizeof *u->theta);
    }
    const mw_gold *gd = &u->gold;
    if (gd->certified) {
        mw_metrics mg;
        mw_metrics_compute(u->g, gd->hi, gd->lo, P, t->dtype, &mg);
        *gold_err = mg.rel_l2;
        mw_metrics_compute(u->gs, gd->hi, gd->lo, P, MW_F64, &mg);
        *silver_gold = mg.rel_l2;
    }
}

mw_status mw_method_step(mw_lockstep *u, mw_trainee *t, long step, int epoch, double lr,
                         int gold_now, mw_err *err)
{
    const size_t P = u->P;
    const char *who = mw_method_name(t->m);
    mw_grad_info info;
    double loss, acc;
    if (mw_batch_update(t->ctx, t->net, t->batch, u->xb, u->yb) != MW_OK ||
        mw_eval(t->ctx, t->net, t->batch, 0, &loss, &acc) != MW_OK ||
        mw_net_get_params(t->ctx, t->net, u->theta) != MW_OK)
        return engine_failed(err, who, t->ctx);
    mw_grad_opts o = u->c->methods.opts;
    o.rng_seed = u->spec.seed;
    o.rng_step = (uint64_t)step;
    o.bn_update = 1; /* a training step: BatchNorm's running statistics move once */
    double t0 = mw_now();
    mw_status st = mw_grad(t->ctx, t->net, t->batch, t->m, &o, &t->g, &info);
    double secs = mw_now() - t0;
    if (!info.complete) { /* stopped part way: a non-finite intermediate, or a failure */
        if (st == MW_ERR_NONFINITE || st == MW_ERR_NOT_INVERTIBLE) {
            diverge(t, step, mw_ctx_message(t->ctx));
            return MW_OK;
        }
        t->alive = 0;
        t->run.status = MW_RUN_FAILED;
        snprintf(t->run.message, sizeof t->run.message, "step %ld: %s", step,
                 mw_ctx_message(t->ctx));
        return MW_OK;
    }
    if (mw_tensor_download(t->ctx, &t->g, 0, u->g, P) != MW_OK || grow_rows(t))
        return engine_failed(err, who, t->ctx);
    /* silver at the method's own parameters (float32 values are exact in float64) */
    mw_grad_info sinfo;
    if (mw_net_set_params(u->sctx, u->snet, u->theta) != MW_OK ||
        mw_grad(u->sctx, u->snet, u->sbatch, MW_BACKPROP, NULL, &u->sg, &sinfo) != MW_OK ||
        mw_tensor_download(u->sctx, &u->sg, 0, u->gs, P) != MW_OK)
        return engine_failed(err, "silver", u->sctx);
    mw_report_step *s = &t->run.steps[t->run.n_steps];
    *s = mw_step_none();
    mw_metrics_compute(u->g, u->gs, NULL, P, t->dtype, &s->vs);
    mw_metrics_per_layer(u->g, u->gs, NULL, &u->lay, u->spec.depth,
                         t->run.layer_rel_l2 + t->run.n_steps * (size_t)t->run.n_layers);
    if (gold_now)
        gold_check(u, t, step, &s->gold_rel_l2, &s->silver_vs_gold);
    s->step = step, s->epoch = epoch, s->loss = info.loss, s->accuracy = acc;
    s->closure_err = info.closure_err, s->recon_err = info.recon_err;
    s->dist_ref = rel_dist(u->theta, u->theta_ref, P);
    s->seconds = secs, s->peak_bytes = (long long)info.peak_bytes;
    t->run.n_steps++;
    t->ep_steps++, t->ep_loss += info.loss, t->ep_acc += acc, t->ep_seconds += secs;
    if (isfinite(s->vs.rel_l2)) {
        t->ep_err += s->vs.rel_l2;
        t->ep_err_max = fmax(t->ep_err_max, s->vs.rel_l2);
        t->ep_ulp_max = fmax(t->ep_ulp_max, s->vs.max_ulp);
    }
    const double explode = u->c->train.explode;
    if (st == MW_ERR_NONFINITE)
        diverge(t, step, mw_ctx_message(t->ctx));
    else if (!isfinite(info.loss))
        diverge(t, step, "the loss is not finite");
    else if (explode > 0 && info.loss > explode * u->loss0) {
        char why[160];
        snprintf(why, sizeof why, "the loss %.4g exploded past %g times the first, %.4g",
                 info.loss, explode, u->loss0);
        diverge(t, step, why);
    } else if (mw_adam_step(t->ctx, t->net, &t->adam, &t->g, lr) != MW_OK)
        return engine_failed(err, who, t->ctx);
    return MW_OK;
}

/* Accuracy on the held-out part, a batch at a time (the remainder dropped), BatchNorm
 * with its running statistics. */
static int test_accuracy(mw_lockstep *u, mw_trainee *t, double *acc)
{
    const int batches = u->c->train.n_test / (int)u->B;
    double sum = 0;
    for (int b = 0; b < batches; b++) {
        double loss, a;
        for (size_t i = 0; i < u->B; i++)
            u->order[i] = (size_t)b * u->B + i;
        if (mw_lockstep_fetch(u, 1, u->order, u->xt, u->yt) != MW_OK ||
            mw_batch_update(t->ctx, t->net, t->batch, u->xt, u->yt) != MW_OK ||
            mw_eval(t->ctx, t->net, t->batch, 1, &loss, &a) != MW_OK)
            return 1;
        sum += a;
    }
    *acc = sum / batches;
    return 0;
}

mw_status mw_close_epoch(mw_lockstep *u, mw_trainee *t, int epoch, double lr,
                         const double *theta_ref, mw_err *err)
{
    if (!t->was_alive || t->ep_steps == 0)
        return MW_OK;
    double test = NAN, dist = NAN;
    if (t->alive) {
        if (test_accuracy(u, t, &test) != 0 || mw_net_get_params(t->ctx, t->net, u->theta) != MW_OK)
            return engine_failed(err, "held-out accuracy", t->ctx);
        dist = theta_ref ? rel_dist(u->theta, theta_ref, u->P) : 0.0;
    }
    const int ref = t == &u->ref;
    double n = (double)t->ep_steps;
    mw_report_epoch e = {.epoch = epoch, .steps = t->ep_steps, .loss_mean = t->ep_loss / n,
                         .accuracy = t->ep_acc / n, .test_accuracy = test,
                         .rel_l2_mean = ref ? 0 : t->ep_err / n, .rel_l2_max = ref ? 0 : t->ep_err_max,
                         .max_ulp_max = ref ? 0 : t->ep_ulp_max, .dist_ref = dist, .lr = lr,
                         .seconds = t->ep_seconds};
    t->ep_steps = 0, t->ep_loss = t->ep_acc = t->ep_err = t->ep_err_max = t->ep_ulp_max = 0;
    t->ep_seconds = 0;
    if (add_epoch(t, &e) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    return MW_OK;
}
