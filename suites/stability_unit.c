/* The unit of suite stability (stability.h): one network trained by every asked method in
 * every dtype in lockstep — the same θ_0, the same shuffled batches, Adam with
 * exponential decay — and by the reference, float64 backprop, emitting its rows after
 * every epoch. */
#include "stability.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "philox.h"

static void lockstep_free(mw_lockstep *u)
{
    for (int i = 0; i < u->n_tr; i++)
        mw_trainee_free(&u->tr[i]);
    free(u->tr);
    mw_trainee_free(&u->ref);
    if (u->sctx) {
        mw_tensor_free(u->sctx, &u->sg);
        mw_batch_free(u->sctx, u->sbatch);
        mw_net_free(u->sctx, u->snet);
        mw_ctx_free(u->sctx);
    }
    mw_layout_free(&u->lay);
    if (u->gold_have)
        mw_gold_free(&u->gold);
    free(u->gold_theta);
    free(u->x_train), free(u->x_test), free(u->xb), free(u->theta0), free(u->theta_ref);
    free(u->theta), free(u->g), free(u->gs), free(u->xt), free(u->yt);
    free(u->y_train), free(u->y_test), free(u->yb), free(u->perm), free(u->order);
}

/* Synthetic data of the network's seed: training samples 0..n_train-1 of the mixture,
 * the held-out ones after them. */
static void make_data(mw_lockstep *u)
{
    const mw_train_config *t = &u->c->train;
    mw_synth d = mw_synth_default(u->spec.width, u->spec.classes, u->spec.seed);
    d.separation = t->separation;
    d.noise = t->noise;
    mw_synth_batch(&d, 0, t->n_train, u->x_train, u->y_train);
    mw_synth_batch(&d, (uint64_t)t->n_train, t->n_test, u->x_test, u->y_test);
}

mw_status mw_lockstep_fetch(mw_lockstep *u, int test, const size_t *order, double *xb, int *yb)
{
    const struct mw_stability_data *d = u->c->data;
    if (!d) {
        const double *x = test ? u->x_test : u->x_train;
        const int *y = test ? u->y_test : u->y_train;
        for (size_t b = 0; b < u->B; b++) {
            memcpy(xb + b * u->n, x + order[b] * u->n, u->n * sizeof(double));
            yb[b] = y[order[b]];
        }
        return MW_OK;
    }
    size_t *ix = malloc(u->B * sizeof *ix);
    if (!ix)
        return MW_ERR_NOMEM;
    const size_t *map = test ? d->test_idx : d->train_idx;
    for (size_t b = 0; b < u->B; b++)
        ix[b] = map[order[b]];
    const mw_dataset *ds = test ? &d->test : &d->train;
    int out_c = (int)(u->n / ((size_t)ds->height * (size_t)ds->width));
    mw_status st = mw_dataset_gather(ds, ix, (int)u->B, out_c, xb, yb, NULL);
    free(ix);
    return st;
}

/* The buffers of the unit, its synthetic data and the first batch. */
static mw_status buffers(mw_lockstep *u, mw_err *err)
{
    const mw_train_config *tc = &u->c->train;
    const size_t P = u->P;
    if (!u->c->data) {
        u->x_train = malloc((size_t)tc->n_train * u->n * sizeof(double));
        u->x_test = malloc((size_t)tc->n_test * u->n * sizeof(double));
        u->y_train = malloc((size_t)tc->n_train * sizeof(int));
        u->y_test = malloc((size_t)tc->n_test * sizeof(int));
        if (!u->x_train || !u->x_test || !u->y_train || !u->y_test)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        make_data(u);
    }
    u->xb = malloc(u->N * sizeof(double));
    u->yb = malloc(u->B * sizeof(int));
    u->xt = malloc(u->N * sizeof(double));
    u->yt = malloc(u->B * sizeof(int));
    u->order = malloc(u->B * sizeof(size_t));
    u->perm = malloc((size_t)tc->n_train * sizeof(size_t));
    u->theta0 = malloc(P * sizeof(double));
    u->theta_ref = malloc(P * sizeof(double));
    u->theta = malloc(P * sizeof(double));
    u->g = malloc(P * sizeof(double));
    u->gs = malloc(P * sizeof(double));
    u->gold_theta = malloc(P * sizeof(double));
    u->tr = calloc((size_t)(MW_N_METHODS * u->c->grid.n_dtypes), sizeof *u->tr);
    if (!u->xb || !u->yb || !u->xt || !u->yt || !u->order || !u->perm || !u->theta0 ||
        !u->theta_ref || !u->theta || !u->g || !u->gs || !u->gold_theta || !u->tr)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < u->B; i++) /* a first batch, to size the engine's */
        u->order[i] = i;
    if (mw_lockstep_fetch(u, 0, u->order, u->xb, u->yb) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "the dataset's first batch could not be gathered");
    return MW_OK;
}

/* A method's run: skipped with its reason, or a trainee from θ_0. */
static mw_status add_method(mw_lockstep *u, long unit, int t, mw_method m, mw_err *err)
{
    const mw_suite_config *c = u->c;
    const mw_train_config *tc = &c->train;
    mw_trainee *tr = &u->tr[u->n_tr++];
    tr->m = m;
    tr->dtype = c->grid.dtypes[t];
    mw_report_run *r = &tr->run;
    r->index = mw_grid_run_index(c, unit, t, m);
    r->network = unit;
    r->n_layers = u->spec.depth + 1;
    r->method = m;
    r->dtype = tr->dtype;
    r->est_gflop = mw_method_cost_gflop(&u->spec, m, &c->methods.opts);
    double cost = (double)u->total_steps * r->est_gflop;
    if (mw_method_needs_inverse(m) && !mw_spec_invertible(&u->spec)) {
        r->status = MW_RUN_SKIPPED;
        snprintf(r->message, sizeof r->message, "needs an inverse; out-act leaky with slope 0 has none");
    } else if (!c->methods.named && cost > tc->run_budget_gflop) {
        r->status = MW_RUN_SKIPPED;
        snprintf(r->message, sizeof r->message,
                 "estimated %.3g GFLOP over %d steps, over the %.3g of --run-budget", cost,
                 u->total_steps, tc->run_budget_gflop);
    } else {
        return mw_trainee_init(tr, &c->engine, &u->spec, u->theta0, u->xb, u->yb, tc, err);
    }
    return MW_OK;
}

static mw_status set_up(mw_lockstep *u, long unit, mw_err *err)
{
    const mw_suite_config *c = u->c;
    mw_grid_network(c, unit, &u->spec);
    if (mw_layout_build(&u->spec, &u->lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    u->P = u->lay.total, u->B = (size_t)u->spec.batch, u->n = (size_t)u->spec.width;
    u->N = u->B * u->n;
    u->steps_per_epoch = c->train.n_train / (int)u->B;
    u->total_steps = u->steps_per_epoch * c->train.epochs;
    mw_status st = buffers(u, err);
    if (st != MW_OK)
        return st;
    mw_init_params(&u->spec, &u->lay, u->theta0);
    u->ref.m = MW_BACKPROP, u->ref.dtype = MW_F64;
    /* the reference trains in float64 on the CPU, whatever the engine under test */
    const mw_engine_config cpu = {MW_BACKEND_CPU, MW_MATH_STRICT};
    if ((st = mw_trainee_init(&u->ref, &cpu, &u->spec, u->theta0, u->xb, u->yb, &c->train,
                              err)) != MW_OK)
        return st;
    if (mw_ctx_new(MW_BACKEND_CPU, MW_F64, &u->sctx) != MW_OK ||
        mw_net_new(u->sctx, &u->spec, &u->snet) != MW_OK ||
        mw_batch_new(u->sctx, u->snet, u->xb, u->yb, &u->sbatch) != MW_OK ||
        mw_tensor_alloc(u->sctx, u->P, &u->sg) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "silver: out of memory");
    /* the asked methods; those without an inverse or over budget skip, saying why */
    for (int t = 0; t < c->grid.n_dtypes; t++)
        for (int m = 0; m < MW_N_METHODS; m++)
            if (c->methods.want[m] && (st = add_method(u, unit, t, (mw_method)m, err)) != MW_OK)
                return st;
    return MW_OK;
}

/* Fill out (not owning the rows: they stay with the trainees) with the unit so far. */
static void snapshot(mw_lockstep *u, long unit, int final, mw_unit_result *out)
{
    out->unit = unit;
    out->partial = !final;
    mw_report_network *n = &out->net;
    memset(n, 0, sizeof *n);
    n->index = unit;
    n->spec = u->spec;
    mw_oracle_info *o = &n->oracle;
    o->kind = MW_ORACLE_SILVER;
    snprintf(o->reason, sizeof o->reason, "every step; gold on a schedule");
    o->bits = u->c->oracle.gold.bits;
    o->check_bits = o->bits + MW_GOLD_CHECK_EXTRA_BITS;
    o->certified_bits = o->fd_agree_bits = o->seconds = o->grad_norm = NAN;
    o->gold_estimate_seconds = NAN;
    o->silver_vs_gold = mw_step_none().vs;
    o->loss = u->loss0;
    n->proj.slope = n->proj.slope_r2 = NAN;
    n->ref_steps = u->ref.run.steps, n->n_ref_steps = u->ref.run.n_steps;
    n->ref_epochs = u->ref.run.epochs, n->n_ref_epochs = u->ref.run.n_epochs;
    out->n_runs = (size_t)u->n_tr;
    for (int i = 0; i < u->n_tr; i++) {
        mw_report_run *r = &out->runs[i];
        *r = u->tr[i].run;
        if (u->tr[i].alive)
            r->status = final ? MW_RUN_COMPLETE : MW_RUN_RUNNING;
    }
}

/* One epoch of every trainee, in lockstep; its rows closed. */
static mw_status epoch(mw_lockstep *u, int e, long *step, mw_err *err)
{
    const mw_train_config *tc = &u->c->train;
    const double lr = tc->lr * pow(tc->decay, e);
    const uint64_t stream = ((uint64_t)MW_STREAM_DATA << 56) | 0x100u | (uint64_t)e;
    mw_status st = MW_OK;
    mw_permutation(u->spec.seed, stream, (size_t)tc->n_train, u->perm);
    u->ref.was_alive = 1;
    for (int i = 0; i < u->n_tr; i++)
        u->tr[i].was_alive = u->tr[i].alive;
    for (int k = 0; st == MW_OK && k < u->steps_per_epoch; k++, (*step)++) {
        if (mw_interrupted()) /* a safe point: the unit is dropped, and computed anew on resume */
            return mw_err_set(err, MW_ERR_INTERRUPTED, "interrupted");
        if (mw_lockstep_fetch(u, 0, u->perm + (size_t)k * u->B, u->xb, u->yb) != MW_OK)
            return mw_err_set(err, MW_ERR_NOMEM, "a training batch could not be gathered");
        int gold_now = *step == 0 || *step == u->total_steps - 1 || *step % tc->gold_every == 0;
        st = mw_reference_step(u, *step, e, lr, err);
        if (st == MW_OK && mw_batch_update(u->sctx, u->snet, u->sbatch, u->xb, u->yb) != MW_OK)
            st = mw_err_set(err, MW_ERR_BACKEND, "silver: %s", mw_ctx_message(u->sctx));
        for (int i = 0; st == MW_OK && i < u->n_tr; i++)
            if (u->tr[i].alive)
                st = mw_method_step(u, &u->tr[i], *step, e, lr, gold_now, err);
    }
    /* the reference's parameters at the end of the epoch, for the distances */
    if (st == MW_OK && mw_net_get_params(u->ref.ctx, u->ref.net, u->theta_ref) != MW_OK)
        st = mw_err_set(err, MW_ERR_BACKEND, "reference: %s", mw_ctx_message(u->ref.ctx));
    for (int i = 0; st == MW_OK && i < u->n_tr; i++)
        st = mw_close_epoch(u, &u->tr[i], e, lr, u->theta_ref, err);
    if (st == MW_OK)
        st = mw_close_epoch(u, &u->ref, e, lr, NULL, err);
    return st;
}

mw_status mw_stability_step_seconds(const mw_suite_config *c, long unit, double *seconds,
                                    mw_err *err)
{
    mw_lockstep u;
    memset(&u, 0, sizeof u);
    u.c = c;
    *seconds = 0.0;
    mw_status st = set_up(&u, unit, err);
    const double lr = c->train.lr;
    double spent = 0.0;
    long timed = 0;
    /* a warm-up step, then timed ones: at least three and a quarter of a second, the mean
     * (a single step of a small network is too short to time alone) */
    for (long step = 0; st == MW_OK && step < u.total_steps && (timed < 3 || spent < 0.25);
         step++) {
        const double t0 = mw_now();
        if (mw_lockstep_fetch(&u, 0, u.order, u.xb, u.yb) != MW_OK)
            st = mw_err_set(err, MW_ERR_NOMEM, "a training batch could not be gathered");
        if (st == MW_OK)
            st = mw_reference_step(&u, step, 0, lr, err);
        if (st == MW_OK && mw_batch_update(u.sctx, u.snet, u.sbatch, u.xb, u.yb) != MW_OK)
            st = mw_err_set(err, MW_ERR_BACKEND, "silver: %s", mw_ctx_message(u.sctx));
        for (int i = 0; st == MW_OK && i < u.n_tr; i++)
            if (u.tr[i].alive)
                st = mw_method_step(&u, &u.tr[i], step, 0, lr, 0, err);
        if (step > 0 || u.total_steps == 1)
            spent += mw_now() - t0, timed++;
    }
    if (st == MW_OK && timed > 0)
        *seconds = spent / (double)timed;
    lockstep_free(&u);
    return st;
}

/* Each run that trained to its end, diagnosed there (suites.h, mw_diagnose): its method and
 * backprop once more in its dtype at its final parameters on the last batch, against
 * silver. A run that cannot be diagnosed keeps "-": its training stands. */
static void diagnose_final(mw_lockstep *u)
{
    const mw_suite_config *c = u->c;
    for (int i = 0; i < u->n_tr; i++) {
        mw_trainee *t = &u->tr[i];
        if (!t->alive || mw_method_is_stochastic(t->m) ||
            mw_net_get_params(t->ctx, t->net, u->theta) != MW_OK)
            continue;
        mw_grad_request req = mw_grad_request_default();
        req.spec = u->spec;
        req.dtype = t->dtype;
        memset(req.methods.want, 0, sizeof req.methods.want);
        req.methods.want[MW_BACKPROP] = req.methods.want[t->m] = 1;
        req.methods.named = 1;
        req.methods.opts = c->methods.opts;
        req.oracle.kind = MW_ORACLE_SILVER;
        req.engine = c->engine;
        mw_grad_case gc;
        mw_method_results res;
        mw_err err;
        memset(&res, 0, sizeof res);
        if (mw_grad_case_at(&u->spec, u->theta, u->xb, u->yb, &gc, &err) == MW_OK &&
            mw_grad_case_run(&req, &gc, t->dtype, &res, &err) == MW_OK)
            t->run.diag = res.m[t->m].run.diag;
        mw_method_results_free(&res);
        mw_grad_case_free(&gc);
    }
}

mw_status mw_stability_unit(const void *cfgp, long unit, mw_unit_emit_fn emit, void *emit_arg,
                            mw_unit_result *out, mw_err *err)
{
    mw_lockstep u;
    memset(&u, 0, sizeof u);
    u.c = cfgp;
    memset(out, 0, sizeof *out);
    mw_status st = set_up(&u, unit, err);
    mw_unit_result snap;
    mw_report_run *snap_runs = calloc((size_t)u.n_tr + 1, sizeof *snap_runs);
    if (!snap_runs && st == MW_OK)
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    long step = 0;
    for (int e = 0; st == MW_OK && e < u.c->train.epochs; e++) {
        st = epoch(&u, e, &step, err);
        if (st == MW_OK && e + 1 < u.c->train.epochs && emit) {
            memset(&snap, 0, sizeof snap);
            snap.runs = snap_runs;
            snapshot(&u, unit, 0, &snap);
            snap.progress = (double)(e + 1) / (double)u.c->train.epochs;
            if (emit(emit_arg, &snap) != 0)
                st = mw_err_set(err, MW_ERR_IO, "the report's writer is gone");
        }
    }
    if (st == MW_OK)
        diagnose_final(&u);
    if (st == MW_OK) { /* the final result owns copies of the rows */
        memset(&snap, 0, sizeof snap);
        snap.runs = snap_runs;
        snapshot(&u, unit, 1, &snap);
        out->unit = snap.unit;
        out->runs = calloc(snap.n_runs ? snap.n_runs : 1, sizeof *out->runs);
        if (!out->runs || mw_network_copy(&out->net, &snap.net) != MW_OK)
            st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == MW_OK && i < snap.n_runs; i++, out->n_runs++)
            if (mw_run_copy(&out->runs[i], &snap.runs[i]) != MW_OK)
                st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    free(snap_runs);
    lockstep_free(&u);
    return st;
}
