/* `mwverify suite stability` (suite.h; DESIGN.md §6; the paper's §6.6, Figures 5 and 6):
 * one network trained by every method in lockstep — the same θ_0, the same shuffled
 * batches, Adam with exponential decay — and by the reference, float64 backprop. Every
 * step records each method's gradient error against the silver oracle at the method's
 * own parameters, its distance to the reference trajectory, its closure or
 * reconstruction error, time and memory; gold runs on a schedule. A method that goes
 * non-finite or whose loss explodes is marked diverged at that step and stops; the
 * others go on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets.h"
#include "philox.h"
#include "suite.h"

static double now(void);

/* ---- presets ---- */

int mw_stability_preset(const char *name, mw_suite_config *c)
{
    const int quick = strcmp(name, "quick") == 0, standard = strcmp(name, "standard") == 0;
    const int real = strcmp(name, "real") == 0, paper = strcmp(name, "paper") == 0;
    if (!quick && !standard && !real && !paper)
        return 1;
    mw_suite_preset("quick", c); /* the grid's defaults, then ours */
    snprintf(c->preset, sizeof c->preset, "%s", name);
    mw_spec *s = &c->base.spec;
    *s = mw_spec_default();
    s->batch = 32;
    c->base.oracle = MW_ORACLE_SILVER;
    c->base.gold.bits = 128;   /* certified to ~118 bits: ample against float32 and float64 */
    c->base.gold.fd_coords = 0; /* the witness is gradcheck's business */
    c->proj_repeats = 0;
    mw_suite_grid *g = &c->grid;
    g->f_acts[0] = MW_ACT_RELU, g->f_acts[1] = MW_ACT_TANH, g->n_f_acts = 2;
    g->out_acts[0] = MW_ACT_IDENTITY, g->out_acts[1] = MW_ACT_TANH, g->n_out_acts = 2;
    g->depths[0] = 2, g->depths[1] = 8, g->n_depths = 2;
    g->n_archs = 1; /* mlp; --arch revnet trains the revnet below instead */
    g->lpbs[0] = 1, g->lpbs[1] = 2, g->n_lpbs = 2;
    g->dtypes[0] = MW_F32, g->n_dtypes = 1;
    g->seeds[0] = 1, g->seeds[1] = 2, g->n_seeds = 2;
    mw_train_config *t = &c->train;
    *t = (mw_train_config){.epochs = 8,
                           .n_train = 1024,
                           .n_test = 512,
                           .dataset = "synthetic",
                           .separation = 1.0,
                           .noise = 1.5,
                           .lr = 1e-3,
                           .beta1 = 0.9,
                           .beta2 = 0.999,
                           .eps = 1e-8,
                           .decay = 0.95,
                           .gold_every = 128,
                           .explode = 10.0,
                           .run_budget_gflop = 30.0,
                           .time_budget_h = 6.0};
    if (standard) {
        const int d[] = {2, 4, 8, 16};
        memcpy(g->depths, d, sizeof d);
        g->n_depths = 4;
        g->out_acts[2] = MW_ACT_LEAKY, g->n_out_acts = 3;
        g->seeds[2] = 3, g->seeds[3] = 4, g->n_seeds = 4;
        t->epochs = 30;
        t->gold_every = 256;
        g->lpbs[2] = 4, g->n_lpbs = 3;
    } else if (real) {
        /* Fashion-MNIST pooled to 14x14: the mlp on its 196 features, the revnet on 2
         * channels (the image and a zero one) in 2 blocks, 14x14 then 8x7x7 */
        snprintf(t->dataset, sizeof t->dataset, "fashion-mnist");
        t->image_h = t->image_w = 14;
        t->epochs = 4, t->n_train = 512, t->n_test = 1024;
        t->gold_every = 128;
        s->batch = 16, s->hidden = 32;
        g->archs[0] = MW_ARCH_MLP, g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
        g->depths[0] = 2, g->depths[1] = 6, g->n_depths = 2;
        g->lpbs[0] = 1, g->lpbs[1] = 3, g->n_lpbs = 2;
        g->n_seeds = 1;
        c->revnet.channels = 2, c->revnet.blocks = 2;
        /* with BN, moonwalk's phase 1 pushes B·n tangents: batch 8 keeps it affordable at
         * one layer per block */
        t->run_budget_gflop = 150.0;
    } else if (paper) {
        /* the paper's §6.1: RevNet on CIFAR-10 padded to 8 channels, 3 blocks of 1, 3, 5,
         * 10 layers, batch 512, Adam 1e-3 with decay, ReLU in F, 20 seeds, 100 epochs */
        t->dataset[0] = '\0'; /* CIFAR-10 is the user's: --dataset cifar10:DIR */
        t->epochs = 100, t->n_train = 50000, t->n_test = 10000;
        t->gold_every = 1000;
        /* backprop, revbackprop, mixed, projforward (about 2e6 GFLOP a run at 10 layers per
         * block); forward mode and moonwalk's B·n tangents (BN) are over it, by far */
        t->run_budget_gflop = 1e8;
        s->batch = 512;
        g->archs[0] = MW_ARCH_REVNET, g->n_archs = 1;
        const int lpb[] = {1, 3, 5, 10};
        memcpy(g->lpbs, lpb, sizeof lpb);
        g->n_lpbs = 4;
        g->f_acts[0] = MW_ACT_RELU, g->n_f_acts = 1;
        for (int i = 0; i < 20; i++)
            g->seeds[i] = (uint64_t)i + 1;
        g->n_seeds = 20;
        c->revnet.channels = 8, c->revnet.image_h = c->revnet.image_w = 32;
        c->revnet.blocks = 3;
    }
    c->revnet.batch = real ? 8 : s->batch;
    c->revnet.classes = s->classes;
    mw_spec_complete(&c->revnet);
    return 0;
}

int mw_stability_validate(const mw_suite_config *c, char *msg, size_t msg_len)
{
    return mw_stability_check_options(c, msg, msg_len) || mw_suite_validate(c, msg, msg_len);
}

int mw_stability_check_options(const mw_suite_config *c, char *msg, size_t msg_len)
{
    const mw_train_config *t = &c->train;
    if (mw_suite_n_networks(c) == 0 || mw_suite_runs_per_network(c) == 0)
        return snprintf(msg, msg_len, "the grid is empty") > 0;
    for (long u = 0; u < mw_suite_n_networks(c); u++) {
        mw_spec s;
        char why[256];
        mw_suite_network(c, u, &s);
        if (mw_spec_validate(&s, why, sizeof why) != 0)
            return snprintf(msg, msg_len, "--%s", why) > 0;
    }
    if (t->epochs < 1 || t->epochs > 100000)
        return snprintf(msg, msg_len, "--epochs %d: allowed 1..100000", t->epochs) > 0;
    if (t->gold_every < 1)
        return snprintf(msg, msg_len, "--gold-every %d: allowed 1 or more (gold runs at the "
                                      "first and the last step anyway)", t->gold_every) > 0;
    int batch = 0; /* the largest of the grid's networks */
    for (int a = 0; a < c->grid.n_archs; a++) {
        int b = c->grid.archs[a] == MW_ARCH_REVNET ? c->revnet.batch : c->base.spec.batch;
        batch = b > batch ? b : batch;
    }
    if (t->n_train < batch)
        return snprintf(msg, msg_len, "--train-samples %d: fewer than one batch of %d", t->n_train,
                        batch) > 0;
    if (t->n_test < batch)
        return snprintf(msg, msg_len, "--test-samples %d: fewer than one batch of %d", t->n_test,
                        batch) > 0;
    if (strcmp(t->dataset, "synthetic") != 0 && !t->data)
        return snprintf(msg, msg_len, "--dataset %s: not loaded", t->dataset) > 0;
    return 0;
}

/* ---- cost ---- */

/* GFLOP per second of a float32 or float64 backprop step of this network, timed (best of
 * three); 0 when it cannot be. */
static double backprop_rate(const mw_suite_config *c, const mw_spec *s, mw_dtype dt)
{
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *b = NULL;
    mw_tensor g = {0};
    double *x = calloc((size_t)s->batch * (size_t)s->width, sizeof *x), rate = 0.0;
    int *y = calloc((size_t)s->batch, sizeof *y);
    mw_grad_info info;
    if (x && y && mw_ctx_new(MW_BACKEND_CPU, dt, &ctx) == MW_OK &&
        mw_net_new(ctx, s, &net) == MW_OK && mw_batch_new(ctx, net, x, y, &b) == MW_OK &&
        mw_tensor_alloc(ctx, mw_net_layout(net)->total, &g) == MW_OK) {
        double best = INFINITY;
        for (int i = 0; i < 3; i++) {
            double t0 = now();
            if (mw_grad(ctx, net, b, MW_BACKPROP, NULL, &g, &info) != MW_OK)
                break;
            best = fmin(best, now() - t0);
        }
        if (isfinite(best) && best > 0)
            rate = mw_method_cost_gflop(s, MW_BACKPROP, &c->base.opts) / best;
    }
    if (ctx) {
        mw_tensor_free(ctx, &g);
        mw_batch_free(ctx, b);
        mw_net_free(ctx, net);
        mw_ctx_free(ctx);
    }
    free(x), free(y);
    return rate;
}

int mw_stability_estimate(const mw_suite_config *c, double *gflop, double *seconds, char *msg,
                          size_t msg_len)
{
    const mw_train_config *t = &c->train;
    double total = 0.0, sec = 0.0;
    int timed[2] = {0, 0};
    double rate[2][2] = {{0}}; /* [arch][dtype]: timed on the first network of each arch */
    *gflop = *seconds = 0.0;
    if (mw_stability_check_options(c, msg, msg_len) != 0)
        return 1;
    for (long u = 0; u < mw_suite_n_networks(c); u++) {
        mw_spec s;
        mw_suite_network(c, u, &s);
        const int a = s.arch == MW_ARCH_REVNET;
        if (!timed[a]) {
            rate[a][0] = backprop_rate(c, &s, MW_F32);
            rate[a][1] = backprop_rate(c, &s, MW_F64);
            timed[a] = 1;
        }
        double steps = (double)(t->n_train / s.batch) * t->epochs;
        double bp = mw_method_cost_gflop(&s, MW_BACKPROP, &c->base.opts);
        /* a forward pass (the step's loss and accuracy; the held-out batches, n_test per
         * epoch) is about a third of a backprop step */
        double fwd = bp / 3.0 * (1.0 + (double)t->n_test / t->n_train);
        double g32 = 0.0, g64 = bp + fwd; /* the reference */
        int methods = 0;
        for (int d = 0; d < c->grid.n_dtypes; d++)
            for (int m = 0; m < MW_N_METHODS; m++) {
                double cost = mw_method_cost_gflop(&s, (mw_method)m, &c->base.opts);
                if (!c->grid.want[m] || (!c->grid.named && cost * steps > t->run_budget_gflop))
                    continue;
                *(c->grid.dtypes[d] == MW_F32 ? &g32 : &g64) += cost + fwd;
                g64 += bp; /* silver at the method's parameters */
                methods++;
            }
        total += (g32 + g64) * steps;
        if (rate[a][0] > 0 && rate[a][1] > 0)
            sec += (g32 / rate[a][0] + g64 / rate[a][1]) * steps;
        /* gold at each method's own parameters, on its schedule */
        double golds = floor((steps - 1) / (t->gold_every > 0 ? t->gold_every : 1)) + 2.0;
        sec += golds * methods * mw_gold_cost_seconds(&s, &c->base.gold);
    }
    *gflop = total;
    *seconds = sec;
    return 0;
}

/* ---- real data ---- */

struct mw_stability_data {
    mw_dataset train, test; /* pooled and normalised */
    size_t *train_idx;      /* the n_train training samples, a seeded draw */
    size_t *test_idx;       /* 0 .. n_test-1 */
};

void mw_stability_free_data(mw_suite_config *c)
{
    struct mw_stability_data *d = (struct mw_stability_data *)c->train.data;
    if (!d)
        return;
    mw_dataset_free(&d->train);
    mw_dataset_free(&d->test);
    free(d->train_idx);
    free(d->test_idx);
    free(d);
    c->train.data = NULL;
}

int mw_stability_load_data(mw_suite_config *c, char *msg, size_t msg_len)
{
    mw_train_config *t = &c->train;
    if (strcmp(t->dataset, "synthetic") == 0)
        return 0;
    if (t->dataset[0] == '\0')
        return snprintf(msg, msg_len, "--dataset: the %s preset trains on real data; give "
                        "--dataset cifar10:DIR (a directory with data_batch_1.bin .. "
                        "data_batch_5.bin and test_batch.bin) or fashion-mnist[:DIR]",
                        c->preset) > 0;
    struct mw_stability_data *d = calloc(1, sizeof *d);
    char err[400];
    double mean[64], std[64];
    int rc = 0;
    if (!d)
        return snprintf(msg, msg_len, "out of memory for the dataset") > 0;
    if (mw_dataset_load(t->dataset, 1, &d->train, err, sizeof err) != 0 ||
        mw_dataset_load(t->dataset, 0, &d->test, err, sizeof err) != 0) {
        rc = snprintf(msg, msg_len, "--dataset %s: %s", t->dataset, err) > 0;
        goto done;
    }
    if (t->image_h > 0 && (t->image_h != d->train.height || t->image_w != d->train.width) &&
        (mw_dataset_downsample(&d->train, t->image_h, t->image_w, err, sizeof err) != 0 ||
         mw_dataset_downsample(&d->test, t->image_h, t->image_w, err, sizeof err) != 0)) {
        rc = snprintf(msg, msg_len, "--image %dx%d: %s (%s images are %dx%d; give a size that "
                      "divides them)", t->image_h, t->image_w, err, t->dataset, d->train.height,
                      d->train.width) > 0;
        goto done;
    }
    if ((size_t)t->n_train > d->train.n || (size_t)t->n_test > d->test.n) {
        rc = snprintf(msg, msg_len, "--%s %d: %s has %zu %s samples",
                      (size_t)t->n_train > d->train.n ? "train-samples" : "test-samples",
                      (size_t)t->n_train > d->train.n ? t->n_train : t->n_test, t->dataset,
                      (size_t)t->n_train > d->train.n ? d->train.n : d->test.n,
                      (size_t)t->n_train > d->train.n ? "training" : "test") > 0;
        goto done;
    }
    if (d->train.channels > 64 ||
        mw_dataset_channel_stats(&d->train, mean, std, err, sizeof err) != 0 ||
        mw_dataset_normalise(&d->train, mean, std, err, sizeof err) != 0 ||
        mw_dataset_normalise(&d->test, mean, std, err, sizeof err) != 0) {
        rc = snprintf(msg, msg_len, "--dataset %s: %s", t->dataset,
                      d->train.channels > 64 ? "more than 64 channels" : err) > 0;
        goto done;
    }
    /* the training samples: a draw of the suite's seed, the same for every network */
    d->train_idx = malloc(d->train.n * sizeof *d->train_idx);
    d->test_idx = malloc((size_t)t->n_test * sizeof *d->test_idx);
    if (!d->train_idx || !d->test_idx) {
        rc = snprintf(msg, msg_len, "out of memory for the dataset") > 0;
        goto done;
    }
    mw_permutation(c->suite_seed, ((uint64_t)MW_STREAM_DATA << 56) | 0x200u, d->train.n,
                   d->train_idx);
    for (int i = 0; i < t->n_test; i++)
        d->test_idx[i] = (size_t)i;
    /* fit the networks to the data */
    const int C = d->train.channels, H = d->train.height, W = d->train.width;
    mw_spec *m = &c->base.spec, *r = &c->revnet;
    m->classes = r->classes = d->train.classes;
    m->width = (C * H * W) % 2 ? 2 * H * W : C * H * W;
    if (r->channels < C)
        r->channels = C + C % 2;
    r->image_h = H, r->image_w = W;
    mw_spec_complete(r);
    t->data = d;
    d = NULL;
done:
    if (d) {
        mw_dataset_free(&d->train);
        mw_dataset_free(&d->test);
        free(d->train_idx);
        free(d->test_idx);
        free(d);
    }
    return rc;
}

/* ---- one method in training ---- */

typedef struct trainee {
    mw_method m;
    mw_dtype dtype;
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_adam adam;
    mw_tensor g;
    int alive, was_alive; /* training now; at the start of this epoch */
    mw_report_run run;    /* its rows so far */
    size_t cap_steps, cap_epochs;
    /* this epoch so far */
    long ep_steps;
    double ep_loss, ep_acc, ep_err, ep_err_max, ep_ulp_max, ep_seconds;
} trainee;

static void trainee_free(trainee *t)
{
    if (t->ctx) {
        mw_tensor_free(t->ctx, &t->g);
        mw_adam_free(t->ctx, &t->adam);
        mw_batch_free(t->ctx, t->batch);
        mw_net_free(t->ctx, t->net);
        mw_ctx_free(t->ctx);
    }
    free(t->run.steps);
    free(t->run.layer_rel_l2);
    free(t->run.epochs);
    memset(t, 0, sizeof *t);
}

static int trainee_init(trainee *t, mw_backend_kind engine, mw_math_mode math, const mw_spec *s,
                        const double *theta0, const double *x, const int *y,
                        const mw_train_config *tc, char *msg, size_t msg_len)
{
    mw_ctx_opts o = {math, 0};
    if (mw_ctx_open(engine, t->dtype, &o, &t->ctx, msg, msg_len) != MW_OK)
        return 1;
    if (mw_net_new(t->ctx, s, &t->net) != MW_OK ||
        mw_net_set_params(t->ctx, t->net, theta0) != MW_OK ||
        mw_batch_new(t->ctx, t->net, x, y, &t->batch) != MW_OK ||
        mw_adam_init(t->ctx, t->net, tc->beta1, tc->beta2, tc->eps, &t->adam) != MW_OK ||
        mw_tensor_alloc(t->ctx, mw_net_layout(t->net)->total, &t->g) != MW_OK)
        return snprintf(msg, msg_len, "%s", mw_ctx_message(t->ctx)) > 0;
    t->alive = 1;
    t->run.n_layers = s->depth + 1;
    return 0;
}

static int grow_rows(trainee *t)
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

static int add_epoch(trainee *t, const mw_report_epoch *e)
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double rel_dist(const double *a, const double *b, size_t n)
{
    double d2 = 0, b2 = 0;
    for (size_t i = 0; i < n; i++)
        d2 += (a[i] - b[i]) * (a[i] - b[i]), b2 += b[i] * b[i];
    return b2 > 0 ? sqrt(d2 / b2) : sqrt(d2);
}

/* ---- the unit ---- */

typedef struct unit_state {
    const mw_suite_config *c;
    mw_spec spec;
    size_t P, N, B, n;
    int steps_per_epoch, total_steps;
    double *x_train, *x_test; /* synthetic data (real data: c->train.data) */
    double *xb, *xt, *theta0, *theta_ref, *theta, *g, *gs, *tmp_layers;
    int *y_train, *y_test, *yb, *yt;
    size_t *perm, *order;
    trainee ref;           /* float64 backprop: the reference trajectory */
    trainee *tr;           /* the asked methods, dtype-major */
    int n_tr;
    mw_ctx *sctx;          /* the silver oracle at each method's parameters */
    mw_net *snet;
    mw_batch *sbatch;
    mw_tensor sg;
    mw_layout lay;
    double loss0;
} unit_state;

static void unit_free(unit_state *u)
{
    for (int i = 0; i < u->n_tr; i++)
        trainee_free(&u->tr[i]);
    free(u->tr);
    trainee_free(&u->ref);
    if (u->sctx) {
        mw_tensor_free(u->sctx, &u->sg);
        mw_batch_free(u->sctx, u->sbatch);
        mw_net_free(u->sctx, u->snet);
        mw_ctx_free(u->sctx);
    }
    mw_layout_free(&u->lay);
    free(u->x_train), free(u->x_test), free(u->xb), free(u->theta0), free(u->theta_ref);
    free(u->theta), free(u->g), free(u->gs), free(u->tmp_layers), free(u->xt), free(u->yt);
    free(u->y_train), free(u->y_test), free(u->yb), free(u->perm), free(u->order);
}

/* Synthetic data of the network's seed: training samples 0..n_train-1 of the mixture,
 * the held-out ones after them. */
static void make_data(unit_state *u)
{
    const mw_train_config *t = &u->c->train;
    mw_synth d = mw_synth_default(u->spec.width, u->spec.classes, u->spec.seed);
    d.separation = t->separation;
    d.noise = t->noise;
    mw_synth_batch(&d, 0, t->n_train, u->x_train, u->y_train);
    mw_synth_batch(&d, (uint64_t)t->n_train, t->n_test, u->x_test, u->y_test);
}

/* xb, yb := samples order[0..B) of the training (test = 0) or held-out part: numbers
 * into n_train or n_test. */
static int fetch(unit_state *u, int test, const size_t *order, double *xb, int *yb)
{
    const struct mw_stability_data *d = u->c->train.data;
    if (!d) {
        const double *x = test ? u->x_test : u->x_train;
        const int *y = test ? u->y_test : u->y_train;
        for (size_t b = 0; b < u->B; b++) {
            memcpy(xb + b * u->n, x + order[b] * u->n, u->n * sizeof(double));
            yb[b] = y[order[b]];
        }
        return 0;
    }
    size_t idx[4096], *ix = u->B <= 4096 ? idx : malloc(u->B * sizeof *ix);
    if (!ix)
        return 1;
    const size_t *map = test ? d->test_idx : d->train_idx;
    for (size_t b = 0; b < u->B; b++)
        ix[b] = map[order[b]];
    const mw_dataset *ds = test ? &d->test : &d->train;
    int out_c = (int)(u->n / ((size_t)ds->height * (size_t)ds->width));
    char err[256];
    int rc = mw_dataset_gather(ds, ix, (int)u->B, out_c, xb, yb, err, sizeof err);
    if (ix != idx)
        free(ix);
    return rc != 0;
}

/* Accuracy on the held-out part, a batch at a time (the remainder dropped), BatchNorm
 * with its running statistics. */
static int test_accuracy(unit_state *u, trainee *t, double *acc)
{
    const int batches = u->c->train.n_test / (int)u->B;
    double sum = 0;
    for (int b = 0; b < batches; b++) {
        double loss, a;
        for (size_t i = 0; i < u->B; i++)
            u->order[i] = (size_t)b * u->B + i;
        if (fetch(u, 1, u->order, u->xt, u->yt) != 0 ||
            mw_batch_update(t->ctx, t->net, t->batch, u->xt, u->yt) != MW_OK ||
            mw_eval(t->ctx, t->net, t->batch, 1, &loss, &a) != MW_OK)
            return 1;
        sum += a;
    }
    *acc = sum / batches;
    return 0;
}

/* The reference's step: float64 backprop and Adam; its parameters before the update are
 * left in u->theta_ref for the distances of this step. */
static int reference_step(unit_state *u, long step, int epoch, double lr, char *msg,
                          size_t msg_len)
{
    trainee *t = &u->ref;
    mw_grad_info info;
    double loss, acc, t0 = now();
    mw_grad_opts o = mw_grad_opts_default();
    o.bn_update = 1; /* a training step: BatchNorm's running statistics move once */
    if (mw_batch_update(t->ctx, t->net, t->batch, u->xb, u->yb) != MW_OK ||
        mw_eval(t->ctx, t->net, t->batch, 0, &loss, &acc) != MW_OK ||
        mw_net_get_params(t->ctx, t->net, u->theta_ref) != MW_OK ||
        mw_grad(t->ctx, t->net, t->batch, MW_BACKPROP, &o, &t->g, &info) != MW_OK ||
        mw_adam_step(t->ctx, t->net, &t->adam, &t->g, lr) != MW_OK || grow_rows(t))
        return snprintf(msg, msg_len, "reference: %s", mw_ctx_message(t->ctx)) > 0;
    if (step == 0)
        u->loss0 = info.loss;
    t->run.steps[t->run.n_steps] = (mw_report_step){
        .step = step, .epoch = epoch, .loss = info.loss, .accuracy = acc, .rel_l2 = 0,
        .max_abs = 0, .max_ulp = 0, .cosine = 1, .closure_err = NAN, .recon_err = NAN,
        .dist_ref = 0, .gold_rel_l2 = NAN, .silver_vs_gold = NAN, .seconds = now() - t0,
        .peak_bytes = (long long)info.peak_bytes};
    for (int l = 0; l < t->run.n_layers; l++)
        t->run.layer_rel_l2[t->run.n_steps * (size_t)t->run.n_layers + (size_t)l] = 0;
    t->run.n_steps++;
    t->ep_steps++, t->ep_loss += info.loss, t->ep_acc += acc;
    return 0;
}

static void diverge(trainee *t, long step, const char *why)
{
    t->alive = 0;
    snprintf(t->run.status, sizeof t->run.status, "diverged");
    snprintf(t->run.message, sizeof t->run.message, "step %ld: %s", step, why);
}

/* One method's step: its gradient at its own θ, measured against silver there (and gold
 * on schedule), then Adam. */
static int method_step(unit_state *u, trainee *t, long step, int epoch, double lr,
                       int gold_now, char *msg, size_t msg_len)
{
    const mw_spec *s = &u->spec;
    const size_t P = u->P;
    mw_grad_info info;
    double loss, acc;
    if (mw_batch_update(t->ctx, t->net, t->batch, u->xb, u->yb) != MW_OK ||
        mw_eval(t->ctx, t->net, t->batch, 0, &loss, &acc) != MW_OK ||
        mw_net_get_params(t->ctx, t->net, u->theta) != MW_OK)
        return snprintf(msg, msg_len, "%s: %s", mw_method_name(t->m), mw_ctx_message(t->ctx)) > 0;
    mw_grad_opts o = u->c->base.opts;
    o.rng_seed = s->seed;
    o.rng_step = (uint64_t)step;
    o.bn_update = 1; /* a training step: BatchNorm's running statistics move once */
    double t0 = now();
    mw_status st = mw_grad(t->ctx, t->net, t->batch, t->m, &o, &t->g, &info);
    double secs = now() - t0;
    if (!info.complete) { /* stopped part way: a non-finite intermediate, or a failure */
        if (st == MW_ERR_NONFINITE || st == MW_ERR_NOT_INVERTIBLE) {
            diverge(t, step, mw_ctx_message(t->ctx));
            return 0;
        }
        t->alive = 0;
        snprintf(t->run.status, sizeof t->run.status, "failed");
        snprintf(t->run.message, sizeof t->run.message, "step %ld: %s", step, mw_ctx_message(t->ctx));
        return 0;
    }
    if (mw_tensor_download(t->ctx, &t->g, 0, u->g, P) != MW_OK || grow_rows(t))
        return snprintf(msg, msg_len, "%s: %s", mw_method_name(t->m), mw_ctx_message(t->ctx)) > 0;
    /* silver at the method's own parameters (float32 values are exact in float64) */
    mw_grad_info sinfo;
    if (mw_net_set_params(u->sctx, u->snet, u->theta) != MW_OK ||
        mw_grad(u->sctx, u->snet, u->sbatch, MW_BACKPROP, NULL, &u->sg, &sinfo) != MW_OK ||
        mw_tensor_download(u->sctx, &u->sg, 0, u->gs, P) != MW_OK)
        return snprintf(msg, msg_len, "silver: %s", mw_ctx_message(u->sctx)) > 0;
    mw_metrics m;
    mw_metrics_compute(u->g, u->gs, NULL, P, t->dtype, &m);
    double *layers = t->run.layer_rel_l2 + t->run.n_steps * (size_t)t->run.n_layers;
    mw_metrics_per_layer(u->g, u->gs, NULL, &u->lay, s->depth, layers);
    double gold_err = NAN, silver_gold = NAN;
    if (gold_now) {
        mw_gold gd;
        if (mw_gold_compute(s, u->theta, u->xb, u->yb, &u->c->base.gold, &gd, NULL) == MW_OK &&
            gd.certified) {
            mw_metrics mg;
            mw_metrics_compute(u->g, gd.hi, gd.lo, P, t->dtype, &mg);
            gold_err = mg.rel_l2;
            mw_metrics_compute(u->gs, gd.hi, gd.lo, P, MW_F64, &mg);
            silver_gold = mg.rel_l2;
        } /* an uncertified gold is no measurement: NaN, and silver stands */
        mw_gold_free(&gd);
    }
    t->run.steps[t->run.n_steps++] = (mw_report_step){
        .step = step, .epoch = epoch, .loss = info.loss, .accuracy = acc, .rel_l2 = m.rel_l2,
        .max_abs = m.max_abs, .max_ulp = m.max_ulp, .cosine = m.cosine,
        .closure_err = info.closure_err, .recon_err = info.recon_err,
        .dist_ref = rel_dist(u->theta, u->theta_ref, P), .gold_rel_l2 = gold_err,
        .silver_vs_gold = silver_gold, .seconds = secs, .peak_bytes = (long long)info.peak_bytes};
    t->ep_steps++, t->ep_loss += info.loss, t->ep_acc += acc, t->ep_seconds += secs;
    if (isfinite(m.rel_l2)) {
        t->ep_err += m.rel_l2;
        t->ep_err_max = fmax(t->ep_err_max, m.rel_l2);
        t->ep_ulp_max = fmax(t->ep_ulp_max, m.max_ulp);
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
        return snprintf(msg, msg_len, "%s: %s", mw_method_name(t->m), mw_ctx_message(t->ctx)) > 0;
    return 0;
}

/* Close the epoch for a trainee that trained in it: means, maxima, held-out accuracy. */
static int close_epoch(unit_state *u, trainee *t, int epoch, double lr, const double *theta_ref)
{
    if (!t->was_alive || t->ep_steps == 0)
        return 0;
    double test = NAN, dist = NAN;
    if (t->alive) {
        if (test_accuracy(u, t, &test) != 0 || mw_net_get_params(t->ctx, t->net, u->theta) != MW_OK)
            return 1;
        dist = theta_ref ? rel_dist(u->theta, theta_ref, u->P) : 0.0;
    }
    double n = (double)t->ep_steps;
    mw_report_epoch e = {.epoch = epoch, .steps = t->ep_steps, .loss_mean = t->ep_loss / n,
                         .accuracy = t->ep_acc / n, .test_accuracy = test,
                         .rel_l2_mean = t == &u->ref ? 0 : t->ep_err / n,
                         .rel_l2_max = t == &u->ref ? 0 : t->ep_err_max,
                         .max_ulp_max = t == &u->ref ? 0 : t->ep_ulp_max, .dist_ref = dist,
                         .lr = lr, .seconds = t->ep_seconds};
    t->ep_steps = 0, t->ep_loss = t->ep_acc = t->ep_err = t->ep_err_max = t->ep_ulp_max = 0;
    t->ep_seconds = 0;
    return add_epoch(t, &e);
}

/* Fill out (not owning the rows: they stay with the trainees) with the unit so far. */
static void snapshot(unit_state *u, long unit, int final, mw_unit_result *out)
{
    out->unit = unit;
    out->partial = !final;
    mw_report_network *n = &out->net;
    memset(n, 0, sizeof *n);
    n->index = unit;
    n->spec = u->spec;
    snprintf(n->status, sizeof n->status, "ok");
    snprintf(n->oracle, sizeof n->oracle, "silver");
    n->bits = u->c->base.gold.bits;
    n->check_bits = n->bits + MW_GOLD_CHECK_EXTRA_BITS;
    n->certified_bits = n->fd_agree_bits = n->oracle_seconds = n->silver_vs_gold = NAN;
    n->proj_slope = n->proj_slope_r2 = NAN;
    n->loss = u->loss0;
    n->grad_norm = NAN;
    n->ref_steps = u->ref.run.steps, n->n_ref_steps = u->ref.run.n_steps;
    n->ref_epochs = u->ref.run.epochs, n->n_ref_epochs = u->ref.run.n_epochs;
    out->n_runs = (size_t)u->n_tr;
    for (int i = 0; i < u->n_tr; i++) {
        mw_report_run *r = &out->runs[i];
        *r = u->tr[i].run;
        if (u->tr[i].alive)
            snprintf(r->status, sizeof r->status, final ? "complete" : "running");
    }
}

static int set_up(unit_state *u, long unit, char *msg, size_t msg_len)
{
    const mw_suite_config *c = u->c;
    const mw_train_config *tc = &c->train;
    mw_suite_network(c, unit, &u->spec);
    if (mw_layout_build(&u->spec, &u->lay) != 0)
        return snprintf(msg, msg_len, "out of memory") > 0;
    u->P = u->lay.total, u->B = (size_t)u->spec.batch, u->n = (size_t)u->spec.width;
    u->N = u->B * u->n;
    u->steps_per_epoch = tc->n_train / (int)u->B;
    u->total_steps = u->steps_per_epoch * tc->epochs;
    size_t P = u->P;
    if (!tc->data) {
        u->x_train = malloc((size_t)tc->n_train * u->n * sizeof(double));
        u->x_test = malloc((size_t)tc->n_test * u->n * sizeof(double));
        u->y_train = malloc((size_t)tc->n_train * sizeof(int));
        u->y_test = malloc((size_t)tc->n_test * sizeof(int));
        if (!u->x_train || !u->x_test || !u->y_train || !u->y_test)
            return snprintf(msg, msg_len, "out of memory") > 0;
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
    u->tr = calloc((size_t)(MW_N_METHODS * c->grid.n_dtypes), sizeof *u->tr);
    if (!u->xb || !u->yb || !u->xt || !u->yt || !u->order || !u->perm || !u->theta0 ||
        !u->theta_ref || !u->theta || !u->g || !u->gs || !u->tr)
        return snprintf(msg, msg_len, "out of memory") > 0;
    for (size_t i = 0; i < u->B; i++) /* a first batch, to size the engine's */
        u->order[i] = i;
    if (fetch(u, 0, u->order, u->xb, u->yb) != 0)
        return snprintf(msg, msg_len, "the dataset's first batch could not be gathered") > 0;
    mw_init_params(&u->spec, &u->lay, u->theta0);
    u->ref.m = MW_BACKPROP, u->ref.dtype = MW_F64;
    /* the reference trains in float64 on the CPU, whatever the engine under test */
    if (trainee_init(&u->ref, MW_BACKEND_CPU, MW_MATH_STRICT, &u->spec, u->theta0, u->xb, u->yb,
                     tc, msg, msg_len))
        return 1;
    snprintf(u->ref.run.method, sizeof u->ref.run.method, "reference");
    if (mw_ctx_new(MW_BACKEND_CPU, MW_F64, &u->sctx) != MW_OK ||
        mw_net_new(u->sctx, &u->spec, &u->snet) != MW_OK ||
        mw_batch_new(u->sctx, u->snet, u->xb, u->yb, &u->sbatch) != MW_OK ||
        mw_tensor_alloc(u->sctx, P, &u->sg) != MW_OK)
        return snprintf(msg, msg_len, "silver: out of memory") > 0;
    /* the asked methods; those without an inverse or over budget skip, saying why */
    for (int t = 0; t < c->grid.n_dtypes; t++)
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (!c->grid.want[m])
                continue;
            trainee *tr = &u->tr[u->n_tr++];
            tr->m = (mw_method)m;
            tr->dtype = c->grid.dtypes[t];
            mw_report_run *r = &tr->run;
            r->index = mw_suite_run_index(c, unit, t, (mw_method)m);
            r->network = unit;
            r->n_layers = u->spec.depth + 1;
            snprintf(r->method, sizeof r->method, "%s", mw_method_name((mw_method)m));
            snprintf(r->dtype, sizeof r->dtype, "%s", mw_dtype_name(tr->dtype));
            double cost = (double)u->total_steps *
                          mw_method_cost_gflop(&u->spec, (mw_method)m, &c->base.opts);
            if (mw_method_needs_inverse((mw_method)m) && !mw_spec_invertible(&u->spec)) {
                snprintf(r->status, sizeof r->status, "skipped");
                snprintf(r->message, sizeof r->message,
                         "needs an inverse; out-act leaky with slope 0 has none");
            } else if (!c->grid.named && cost > tc->run_budget_gflop) {
                snprintf(r->status, sizeof r->status, "skipped");
                snprintf(r->message, sizeof r->message,
                         "estimated %.3g GFLOP over %d steps, over the %.3g of --run-budget",
                         cost, u->total_steps, tc->run_budget_gflop);
            } else if (trainee_init(tr, c->base.engine, c->base.math, &u->spec, u->theta0, u->xb,
                                    u->yb, tc, msg, msg_len)) {
                return 1;
            }
        }
    return 0;
}

int mw_stability_unit(const void *cfgp, long unit, mw_unit_emit_fn emit, void *emit_arg,
                      mw_unit_result *out, char *msg, size_t msg_len)
{
    unit_state u;
    memset(&u, 0, sizeof u);
    u.c = cfgp;
    const mw_train_config *tc = &u.c->train;
    memset(out, 0, sizeof *out);
    int rc = set_up(&u, unit, msg, msg_len);
    mw_unit_result snap;
    mw_report_run *snap_runs = calloc((size_t)u.n_tr + 1, sizeof *snap_runs);
    if (!snap_runs && rc == 0)
        rc = snprintf(msg, msg_len, "out of memory") > 0;
    long step = 0;
    for (int e = 0; rc == 0 && e < tc->epochs; e++) {
        const double lr = tc->lr * pow(tc->decay, e);
        const uint64_t stream = ((uint64_t)MW_STREAM_DATA << 56) | 0x100u | (uint64_t)e;
        mw_permutation(u.spec.seed, stream, (size_t)tc->n_train, u.perm);
        u.ref.was_alive = 1;
        for (int i = 0; i < u.n_tr; i++)
            u.tr[i].was_alive = u.tr[i].alive;
        for (int k = 0; rc == 0 && k < u.steps_per_epoch; k++, step++) {
            if (fetch(&u, 0, u.perm + (size_t)k * u.B, u.xb, u.yb) != 0) {
                rc = snprintf(msg, msg_len, "a training batch could not be gathered") > 0;
                break;
            }
            int gold_now = step == 0 || step == u.total_steps - 1 ||
                           (tc->gold_every > 0 && step % tc->gold_every == 0);
            rc = reference_step(&u, step, e, lr, msg, msg_len);
            if (rc == 0 && mw_batch_update(u.sctx, u.snet, u.sbatch, u.xb, u.yb) != MW_OK)
                rc = snprintf(msg, msg_len, "silver: %s", mw_ctx_message(u.sctx)) > 0;
            for (int i = 0; rc == 0 && i < u.n_tr; i++)
                if (u.tr[i].alive)
                    rc = method_step(&u, &u.tr[i], step, e, lr, gold_now, msg, msg_len);
        }
        /* the reference's parameters at the end of the epoch, for the distances */
        if (rc == 0 && mw_net_get_params(u.ref.ctx, u.ref.net, u.theta_ref) != MW_OK)
            rc = 1;
        for (int i = 0; rc == 0 && i < u.n_tr; i++)
            if (close_epoch(&u, &u.tr[i], e, lr, u.theta_ref) != 0)
                rc = snprintf(msg, msg_len, "out of memory") > 0;
        if (rc == 0 && close_epoch(&u, &u.ref, e, lr, NULL) != 0)
            rc = snprintf(msg, msg_len, "out of memory") > 0;
        if (rc == 0 && e + 1 < tc->epochs && emit) {
            snap.runs = snap_runs;
            snapshot(&u, unit, 0, &snap);
            rc = emit(emit_arg, &snap);
            if (rc)
                snprintf(msg, msg_len, "the report's writer is gone");
        }
    }
    if (rc == 0) { /* the final result owns copies of the rows */
        snap.runs = snap_runs;
        snapshot(&u, unit, 1, &snap);
        *out = snap;
        out->runs = calloc(snap.n_runs ? snap.n_runs : 1, sizeof *out->runs);
        out->net.ref_steps = NULL, out->net.ref_epochs = NULL;
        if (!out->runs) {
            rc = snprintf(msg, msg_len, "out of memory") > 0;
        } else {
            for (size_t i = 0; i < snap.n_runs; i++) {
                out->runs[i] = snap.runs[i];
                u.tr[i].run.steps = NULL, u.tr[i].run.layer_rel_l2 = NULL, u.tr[i].run.epochs = NULL;
            }
            out->net.ref_steps = u.ref.run.steps, out->net.ref_epochs = u.ref.run.epochs;
            u.ref.run.steps = NULL, u.ref.run.epochs = NULL;
        }
    }
    free(snap_runs);
    unit_free(&u);
    return rc;
}

int mw_stability_run_failed(const mw_suite_config *c, const mw_report_run *run)
{
    (void)c;
    return strcmp(run->status, "failed") == 0;
}

static const mw_suite_def stability_def = {"stability", mw_stability_unit,
                                           mw_stability_run_failed, NULL};

mw_status mw_suite_stability(const mw_suite_job *job, mw_report *out, size_t *failed_runs,
                             char *msg, size_t msg_len)
{
    if (mw_stability_validate(job->cfg, msg, msg_len) != 0)
        return MW_ERR_ARG;
    return mw_suite_execute(job, &stability_def, out, failed_runs, msg, msg_len);
}

/* ---- the verdict ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Errors of the steps of epoch `which` (0 first, 1 last) of runs of one row. */
/* Does the run belong to the verdict row (architecture, output activation, method,
 * dtype)? */
static int in_row(const mw_report *r, const mw_report_run *run, const mw_verdict_row *row)
{
    const mw_report_network *net = mw_report_network_at(r, run->network);
    return net && strcmp(mw_arch_name(net->spec.arch), row->arch) == 0 &&
           strcmp(mw_out_act_name(net->spec.out_act), row->out_act) == 0 &&
           strcmp(run->method, row->method) == 0 && strcmp(run->dtype, row->dtype) == 0;
}

static size_t epoch_errors(const mw_report *r, const mw_verdict_row *row, int last, double *buf)
{
    size_t n = 0;
    for (size_t k = 0; k < r->n_runs; k++) {
        const mw_report_run *run = &r->runs[k];
        if (!in_row(r, run, row) || !run->n_steps)
            continue;
        long long epoch = last ? run->steps[run->n_steps - 1].epoch : 0;
        for (size_t s = 0; s < run->n_steps; s++)
            if (run->steps[s].epoch == epoch && isfinite(run->steps[s].rel_l2))
                buf[n++] = run->steps[s].rel_l2;
    }
    return n;
}

size_t mw_stability_verdict(const mw_report *r, mw_verdict_row *rows, size_t max)
{
    size_t n = 0, total_steps = 0;
    for (size_t k = 0; k < r->n_runs; k++)
        total_steps += r->runs[k].n_steps + 1;
    double *buf = malloc((total_steps ? total_steps : 1) * sizeof *buf);
    if (!buf)
        return 0;
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
            if (n == max)
                continue;
            row = &rows[n++];
            memset(row, 0, sizeof *row);
            snprintf(row->arch, sizeof row->arch, "%s", mw_arch_name(net->spec.arch));
            snprintf(row->out_act, sizeof row->out_act, "%s", mw_out_act_name(net->spec.out_act));
            snprintf(row->method, sizeof row->method, "%s", run->method);
            snprintf(row->dtype, sizeof row->dtype, "%s", run->dtype);
        }
        row->runs++;
        row->diverged += strcmp(run->status, "diverged") == 0;
        row->skipped += strcmp(run->status, "skipped") == 0;
        row->failed += strcmp(run->status, "failed") == 0;
    }
    for (size_t i = 0; i < n; i++) {
        mw_verdict_row *row = &rows[i];
        size_t m = epoch_errors(r, row, 1, buf);
        row->err_median_last = median(buf, m);
        row->err_max_last = m ? buf[m - 1] : NAN;
        m = epoch_errors(r, row, 0, buf);
        row->err_median_first = median(buf, m);
        row->growth = row->err_median_last / row->err_median_first;
        double acc = 0;
        size_t na = 0, nd = 0;
        for (size_t k = 0; k < r->n_runs; k++) {
            const mw_report_run *run = &r->runs[k];
            if (!in_row(r, run, row) || strcmp(run->status, "complete") != 0 || !run->n_epochs)
                continue;
            acc += run->epochs[run->n_epochs - 1].test_accuracy, na++;
            buf[nd++] = run->epochs[run->n_epochs - 1].dist_ref;
        }
        row->test_accuracy = na ? acc / (double)na : NAN;
        row->dist_ref = median(buf, nd);
    }
    free(buf);
    return n;
}
