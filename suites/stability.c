/* `mwverify suite stability` (stability.h): its presets and options, its checks before
 * any work, its cost on this machine, and its entry in the registry. */
#include "stability.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plot.h"

/* ---- presets ---- */

/* Every preset's start: the mlp of grad (batch 32) in float32, trained against silver with
 * gold on a schedule. */
static void base(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    c->mlp = mw_spec_default();
    c->mlp.batch = 32;
    c->oracle.kind = MW_ORACLE_SILVER;
    c->oracle.gold.bits = 128;    /* certified to ~118 bits: ample against float32 and float64 */
    c->oracle.gold.fd_coords = 0; /* the witness is gradcheck's business */
    c->oracle.gold.prove = 0;     /* and so is the proof */
    c->check.proj_repeats = 0;
    g->out_acts[0] = MW_ACT_IDENTITY, g->out_acts[1] = MW_ACT_TANH, g->n_out_acts = 2;
    g->depths[0] = 2, g->depths[1] = 8, g->n_depths = 2;
    g->n_archs = 1; /* mlp; --arch revnet trains the revnet instead */
    g->lpbs[0] = 1, g->lpbs[1] = 2, g->n_lpbs = 2;
    g->dtypes[0] = MW_F32, g->n_dtypes = 1;
    g->seeds[0] = 1, g->seeds[1] = 2, g->n_seeds = 2;
    c->revnet.batch = c->mlp.batch, c->revnet.classes = c->mlp.classes;
}

static void quick(mw_suite_config *c)
{
    base(c);
}

static void standard(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    base(c);
    const int d[] = {2, 4, 8, 16};
    memcpy(g->depths, d, sizeof d), g->n_depths = 4;
    g->out_acts[2] = MW_ACT_LEAKY, g->n_out_acts = 3;
    g->seeds[2] = 3, g->seeds[3] = 4, g->n_seeds = 4;
    g->lpbs[2] = 4, g->n_lpbs = 3;
    c->train.epochs = 30;
    c->train.gold_every = 256;
}

/* Fashion-MNIST pooled to 14x14: the mlp on its 196 features, the revnet on 2 channels (the
 * image and a zero one) in 2 blocks, 14x14 then 8x7x7. */
static void real(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    base(c);
    snprintf(c->train.dataset, sizeof c->train.dataset, "fashion-mnist");
    c->train.image_h = c->train.image_w = 14;
    c->train.epochs = 4, c->train.n_train = 512, c->train.n_test = 1024;
    c->mlp.batch = 16, c->mlp.hidden = 32;
    g->archs[1] = MW_ARCH_REVNET, g->n_archs = 2;
    g->depths[0] = 2, g->depths[1] = 6, g->n_depths = 2;
    g->lpbs[0] = 1, g->lpbs[1] = 3, g->n_lpbs = 2;
    g->n_seeds = 1;
    g->channels[0] = c->revnet.channels = 2;
    c->revnet.blocks = 2;
    /* with BN, moonwalk's phase 1 pushes B·n tangents: batch 8 keeps it affordable at one
     * layer per block */
    c->revnet.batch = 8;
    c->train.run_budget_gflop = 150.0;
}

/* The paper's §6.1: RevNet on CIFAR-10 padded to 8 channels, 3 blocks of 1, 3, 5, 10
 * layers, batch 512, Adam 1e-3 with decay, ReLU in F, 20 seeds, 100 epochs. */
static void paper(mw_suite_config *c)
{
    mw_suite_grid *g = &c->grid;
    base(c);
    c->train.dataset[0] = '\0'; /* CIFAR-10 is the user's: --dataset cifar10:DIR */
    c->train.epochs = 100, c->train.n_train = 50000, c->train.n_test = 10000;
    c->train.gold_every = 1000;
    /* backprop, revbackprop, mixed, projforward (about 2e6 GFLOP a run at 10 layers per
     * block); forward mode and moonwalk's B·n tangents (BN) are over it, by far */
    c->train.run_budget_gflop = 1e8;
    c->mlp.batch = c->revnet.batch = 512;
    g->archs[0] = MW_ARCH_REVNET, g->n_archs = 1;
    const int lpb[] = {1, 3, 5, 10};
    memcpy(g->lpbs, lpb, sizeof lpb), g->n_lpbs = 4;
    g->f_acts[0] = MW_ACT_RELU, g->n_f_acts = 1;
    for (int i = 0; i < 20; i++)
        g->seeds[i] = (uint64_t)i + 1;
    g->n_seeds = 20;
    g->channels[0] = c->revnet.channels = 8;
    c->revnet.image_h = c->revnet.image_w = 32;
    c->revnet.blocks = 3;
}

static const mw_preset presets[] = {
    {"quick", "synthetic Gaussian-mixture data, the mlp at two depths: about a minute on two "
              "cores (--arch revnet: the small revnet instead, about 4 minutes)", quick},
    {"standard", "more depths, seeds, epochs and σ = leaky: about 13 minutes on two cores",
     standard},
    {"real", "Fashion-MNIST (Debian's dataset-fashion-mnist) pooled to 14x14, an mlp and a "
             "revnet: about 5 minutes on two cores", real},
    {"paper", "the paper's §6.1: revnets on CIFAR-10 (--dataset cifar10:DIR), 20 seeds, 100 "
              "epochs; for GPUs (--engine cuda)", paper},
    {NULL, NULL, NULL},
};

/* ---- checks before any work ---- */

static mw_status check_training(const mw_suite_config *c, mw_err *err)
{
    const mw_train_config *t = &c->train;
    int batch = 0; /* the largest of the grid's networks */
    for (int a = 0; a < c->grid.n_archs; a++) {
        int b = c->grid.archs[a] == MW_ARCH_REVNET ? c->revnet.batch : c->mlp.batch;
        batch = b > batch ? b : batch;
    }
    if (t->n_train < batch)
        return mw_err_set(err, MW_ERR_ARG, "--train-samples %d: fewer than one batch of %d",
                          t->n_train, batch);
    if (t->n_test < batch)
        return mw_err_set(err, MW_ERR_ARG, "--test-samples %d: fewer than one batch of %d",
                          t->n_test, batch);
    return MW_OK;
}

/* ---- cost ---- */

/* GFLOP of one lockstep step of network s: the reference, and every method that runs
 * (want: the asked ones within --run-budget over `steps` steps, or, given, exactly those
 * of want_in) with its loss and silver at its parameters; *methods counts them. */
static double step_gflop(const mw_suite_config *c, const mw_spec *s, double steps,
                         const int *want_in, int *want, int *methods)
{
    const double bp = mw_method_cost_gflop(s, MW_BACKPROP, &c->methods.opts);
    const double fwd = bp / 3.0; /* a forward pass (the loss) is about a third of a backprop */
    double step = bp + fwd;
    *methods = 0;
    for (int m = 0; m < MW_N_METHODS; m++) {
        double cost = mw_method_cost_gflop(s, (mw_method)m, &c->methods.opts);
        want[m] = want_in ? want_in[m]
                          : c->methods.want[m] &&
                                (c->methods.named || cost * steps <= c->train.run_budget_gflop);
        if (want[m])
            step += c->grid.n_dtypes * (cost + fwd + bp), *methods += c->grid.n_dtypes;
    }
    return step;
}

/* Seconds per GFLOP of a lockstep step like network u's, timed on this machine. A step of
 * a large network is timed on a smaller batch (so that the timing costs about 0.5 GFLOP a
 * step), with the same methods: the time is then scaled by GFLOP. */
static mw_status seconds_per_gflop(const mw_suite_config *c, long u, const int *want,
                                   double full_step, double *out, mw_err *err)
{
    mw_spec s;
    mw_grid_network(c, u, &s);
    int b = s.batch;
    if (full_step > 0.5)
        b = (int)fmax(2.0, floor(s.batch * 0.5 / full_step));
    mw_suite_config *t = malloc(sizeof *t);
    if (!t)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    *t = *c;
    t->mlp.batch = t->revnet.batch = b;
    t->train.n_train = 64 * b, t->train.n_test = b, t->train.epochs = 1;
    t->methods.named = 1;
    mw_spec small;
    mw_grid_network(t, u, &small);
    /* the methods that run, but none whose own step would cost more than the budget of the
     * timing (forward mode on a large network): their rate is taken to be the others' */
    int timed_want[MW_N_METHODS], w[MW_N_METHODS], m;
    for (int k = 0; k < MW_N_METHODS; k++)
        timed_want[k] = want[k] &&
                        mw_method_cost_gflop(&small, (mw_method)k, &t->methods.opts) <= 0.5;
    memcpy(t->methods.want, timed_want, sizeof t->methods.want);
    const double gf = step_gflop(t, &small, 64.0, timed_want, w, &m);
    double sec = 0.0;
    mw_status st = mw_stability_step_seconds(t, u, &sec, err);
    free(t);
    *out = st == MW_OK && sec > 0 && gf > 0 ? sec / gf : 0.0;
    return st;
}

/* GFLOP of every method, the reference and silver, and the forward passes of the
 * accuracies, over every step; and seconds on this machine's CPU engine: a lockstep step
 * of the first network of each architecture and pair of activations is timed (a tanh
 * network's elementwise work weighs as much as its products, and a small network's
 * calls cost more than their arithmetic), the others scaled from it by their GFLOP; plus
 * gold's estimate at every method's scheduled checks. 0 seconds when nothing could be
 * timed. */
static mw_status estimate(const mw_suite_config *c, mw_estimate *e, mw_err *err)
{
    const mw_train_config *t = &c->train;
    double total = 0.0, sec = 0.0;
    struct {
        mw_arch arch;
        mw_act f_act, out_act;
        double rate; /* seconds per GFLOP */
    } timed[2 * 4 * 4];
    int n_timed = 0, any = 1;
    for (long u = 0; u < mw_grid_n_networks(c); u++) {
        mw_spec s;
        mw_grid_network(c, u, &s);
        const double steps = (double)(t->n_train / s.batch) * t->epochs;
        int want[MW_N_METHODS], methods;
        const double step = step_gflop(c, &s, steps, NULL, want, &methods);
        /* the held-out accuracies: a forward pass of each trainee over n_test per epoch */
        const double per_epoch = (methods + 1) * mw_method_cost_gflop(&s, MW_BACKPROP,
                                                                      &c->methods.opts) /
                                 3.0 * (double)t->n_test / s.batch;
        total += step * steps + per_epoch * t->epochs;
        int a = 0;
        while (a < n_timed && !(timed[a].arch == s.arch && timed[a].f_act == s.f_act &&
                                timed[a].out_act == s.out_act))
            a++;
        if (a == n_timed && n_timed < (int)(sizeof timed / sizeof timed[0])) {
            mw_status st = seconds_per_gflop(c, u, want, step, &timed[a].rate, err);
            if (st != MW_OK)
                return st;
            timed[a].arch = s.arch, timed[a].f_act = s.f_act, timed[a].out_act = s.out_act;
            n_timed++;
        }
        const double work = step * steps + per_epoch * t->epochs;
        double unit = work; /* GFLOP where its rate is not known: only the bar weighs it */
        if (a == n_timed || !(timed[a].rate > 0))
            any = 0;
        else
            unit = timed[a].rate * work;
        /* gold at each method's own parameters, on its schedule; at step 0 the methods
         * of a dtype share one θ, and one gold serves them all */
        const double golds = floor((steps - 1) / t->gold_every) + 1.0;
        if (methods > 0)
            unit += (golds * methods + c->grid.n_dtypes) *
                    mw_gold_cost_seconds(&s, &c->oracle.gold);
        sec += unit;
        mw_estimate_unit_cost(e, mw_grid_n_networks(c), u, unit);
    }
    e->gflop = total;
    e->seconds = any ? sec : 0.0;
    return MW_OK;
}

/* The data read and checked, the networks fitted to it, the grid checked, the cost
 * estimated, a run too long for the machine refused with what to do instead. */
static mw_status stability_prepare(mw_suite_config *c, int jobs, mw_estimate *est, mw_err *err)
{
    mw_status st;
    if ((st = mw_stability_load_data(c, err)) != MW_OK ||
        (st = mw_grid_validate(c, 0, err)) != MW_OK || (st = check_training(c, err)) != MW_OK)
        return st;
    const long nets = mw_grid_n_networks(c);
    const int par = jobs < nets ? jobs : (int)nets;
    mw_cpu_sample a, b;
    mw_cpu_sample_now(&a);
    if ((st = estimate(c, est, err)) != MW_OK)
        return st;
    mw_cpu_sample_now(&b);
    /* the processes share the processors with whatever else runs on them now */
    est->seconds *= mw_load_factor(mw_cpu_others(&a, &b), par > 0 ? par : 1);
    est->seconds /= par > 0 ? par : 1;
    if (c->engine.backend != MW_BACKEND_CPU) /* the CPU's rate says nothing of a GPU's */
        est->seconds = 0;
    if (est->seconds > c->train.time_budget_s) {
        char when[32], budget[32];
        return mw_err_set(err, MW_ERR_ARG,
                          "estimated %s on this machine's CPU (%.3g GFLOP over %ld network%s), "
                          "over the %s of --time-budget; run it with --engine cuda on a GPU "
                          "machine, or shrink it (--seed, --epochs, --train-samples, "
                          "--layers-per-block), or raise --time-budget",
                          mw_fmt_seconds(when, sizeof when, est->seconds), est->gflop, nets,
                          nets == 1 ? "" : "s",
                          mw_fmt_seconds(budget, sizeof budget, c->train.time_budget_s));
    }
    /* gold runs on the CPU whatever the engine: its first evaluations alone must fit */
    return mw_grid_validate(c, 1, err);
}

static const mw_optgroup train_group = {"train", "training", &mw_train_record,
                                        offsetof(mw_suite_config, train)};
static const mw_optgroup *const groups[] = {&train_group,      &mw_gates_group, &mw_grid_group,
                                            &mw_network_group, &mw_methods_group,
                                            &mw_oracle_group,  &mw_engine_group, NULL};

const mw_suite_def mw_stability_suite = {
    .name = "stability",
    .summary = "every method trained in lockstep: gradient drift and divergence, epoch by "
               "epoch (the main job)",
    .help =
        "Train one network with every gradient method in lockstep — the same θ_0, the\n"
        "same shuffled batches, Adam (β 0.9/0.999) with exponential decay — and with the\n"
        "reference, float64 backprop, from the same start; watch which method stays\n"
        "faithful to the true gradient and which drifts (the paper's §6.6). Every step\n"
        "records, per method: loss, batch accuracy, the gradient's error against the\n"
        "silver oracle (float64 backprop) at the method's own parameters (rel_l2, max_ulp,\n"
        "per layer), its distance to the reference trajectory, the closure error\n"
        "(moonwalk, mixed) or reconstruction error (revbackprop), time and memory; gold\n"
        "(MPFR, certified) at the first and last step and every --gold-every steps. Every\n"
        "epoch: means, maxima and the held-out accuracy. A method that goes non-finite or\n"
        "whose loss explodes is marked diverged at that step and stops; the others go on.\n"
        "Methods too costly for a cell (forward mode on these sizes) are skipped with the\n"
        "estimate as the reason. Every run first prints its estimated cost on this\n"
        "machine (--dry-run prints it and stops); at the end, a verdict per output\n"
        "activation and method.",
    .exit_help = "0 the report is complete (divergence is a result), 1 a method could not be\n"
                 "computed",
    .presets = presets,
    .groups = groups,
    .gold = 1,
    .prepare = stability_prepare,
    .release = mw_stability_free_data,
    .unit = mw_stability_unit,
    .failures = mw_count_failing_runs,
    .print = mw_stability_print_verdict,
    .json = mw_stability_json_verdict,
    .plot = mw_plot_stability,
    .plot_help = "error against silver and held-out accuracy, against epoch",
};
