/* `mwverify suite <name>`: sweeps that write an HDF5 report — gradcheck (every method
 * against gold on a grid) and stability (every method trained in lockstep, epoch by
 * epoch, against the silver oracle and a float64 reference trajectory). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "emit.h"
#include "netopts.h"
#include "progress.h"

typedef struct suite_state {
    const char *suite;
    mw_suite_config cfg;
    const char *out;
    int force, resume, quiet, jobs, jobs_given;
} suite_state;

static const mw_opt suite_opts[] = {
    {"preset", "NAME", "quick (the default), standard; stability also real and paper; see\n"
                       "the suite's description"},
    {"out", "FILE.h5", "the report (default mwverify-<suite>-<UTC time>.h5 here)"},
    {"resume", NULL, "finish an interrupted report: give the same options as the run that\n"
                     "wrote it; networks already in it are kept, the rest computed"},
    {"force", NULL, "replace an existing report"},
    {"jobs", "N", "compute N networks at a time, in N processes (default: the number of\n"
                  "processors; 1 with --engine cuda)"},
    {"quiet", NULL, "no progress line on standard error"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt train_opts[] = {
    {"dataset", "NAME", "synthetic (the Gaussian mixture; the default), fashion-mnist[:DIR]\n"
                        "(default DIR /usr/share/datasets/fashion-mnist, from Debian's\n"
                        "dataset-fashion-mnist) or cifar10:DIR (data_batch_1.bin ..\n"
                        "data_batch_5.bin, test_batch.bin). Real images are pooled to\n"
                        "--image, normalised per channel with the training part's statistics,\n"
                        "zero-padded to the revnet's --channels; an mlp sees them flattened;\n"
                        "classes come from the data"},
    {"epochs", "E", "training epochs"},
    {"train-samples", "N", "training samples (real data: a seeded draw from the training\n"
                           "files)"},
    {"test-samples", "N", "held-out samples, for the test accuracy of every epoch (real data:\n"
                          "the first N of the test files; BatchNorm with running statistics)"},
    {"separation", "S", "class centres ~ S · N(0, I) (default 1)"},
    {"noise", "X", "samples scatter around their centre with X · N(0, I) (default 1.5)"},
    {"lr", "A", "Adam's learning rate (default 1e-3; β 0.9, 0.999; eps 1e-8)"},
    {"decay", "D", "the learning rate of epoch e is lr · D^e (default 0.95)"},
    {"gold-every", "K", "gold (MPFR, certified) at every K-th step, and at the first and the\n"
                        "last (quick preset: 128)"},
    {"explode", "F", "a loss above F times the first marks divergence (default 10; 0: only\n"
                     "a non-finite value does)"},
    {"run-budget", "GFLOP", "skip a method estimated to cost more than this over the training\n"
                            "(default 30), unless it is named in --methods"},
    {"time-budget", "HOURS", "refuse to start when the estimated time on this machine is longer\n"
                             "(default 6)"},
    {NULL, NULL, NULL},
};

static const mw_opt *const gradcheck_tables[] = {suite_opts,     mw_grid_opts,   mw_size_opts,
                                                 mw_method_opts, mw_oracle_opts, mw_engine_opts,
                                                 NULL};
static const mw_opt *const stability_tables[] = {suite_opts,     train_opts,     mw_grid_opts,
                                                 mw_size_opts,   mw_method_opts, mw_oracle_opts,
                                                 mw_engine_opts, NULL};

static const mw_opt scaling_opts[] = {
    {"repeats", "R", "suite timing: timed gradients per method after a warm-up; the median\n"
                     "is kept (default 5)"},
    {"channels-list", "LIST", "revnet: the paddings to measure, e.g. 8,18 (the paper's)"},
    {NULL, NULL, NULL},
};
static const mw_opt *const scaling_tables[] = {suite_opts,   scaling_opts,   mw_grid_opts,
                                               mw_size_opts, mw_method_opts, mw_engine_opts,
                                               NULL};

static int train_apply(mw_train_config *t, const char *name, const char *v, char *err, size_t n)
{
    if (strcmp(name, "dataset") == 0) {
        if (strcmp(v, "synthetic") != 0 && strncmp(v, "fashion-mnist", 13) != 0 &&
            strncmp(v, "cifar10:", 8) != 0) {
            snprintf(err, n, "--dataset %s: unknown dataset (allowed: synthetic, "
                             "fashion-mnist[:DIR], cifar10:DIR)", v);
            return 1;
        }
        if (strlen(v) >= sizeof t->dataset) {
            snprintf(err, n, "--dataset: the name is longer than %zu characters",
                     sizeof t->dataset - 1);
            return 1;
        }
        snprintf(t->dataset, sizeof t->dataset, "%s", v);
        return 0;
    }
    if (strcmp(name, "time-budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e6, &t->time_budget_h, err, n);
    if (strcmp(name, "epochs") == 0)
        return mw_parse_int(name, v, 1, 100000, &t->epochs, err, n);
    if (strcmp(name, "train-samples") == 0)
        return mw_parse_int(name, v, 1, 1 << 26, &t->n_train, err, n);
    if (strcmp(name, "test-samples") == 0)
        return mw_parse_int(name, v, 1, 1 << 26, &t->n_test, err, n);
    if (strcmp(name, "separation") == 0)
        return mw_parse_double(name, v, 0.0, 1e3, &t->separation, err, n);
    if (strcmp(name, "noise") == 0)
        return mw_parse_double(name, v, 0.0, 1e3, &t->noise, err, n);
    if (strcmp(name, "lr") == 0)
        return mw_parse_double(name, v, 1e-12, 10.0, &t->lr, err, n);
    if (strcmp(name, "decay") == 0)
        return mw_parse_double(name, v, 1e-6, 1.0, &t->decay, err, n);
    if (strcmp(name, "gold-every") == 0)
        return mw_parse_int(name, v, 1, 1 << 30, &t->gold_every, err, n);
    if (strcmp(name, "explode") == 0)
        return mw_parse_double(name, v, 0.0, 1e12, &t->explode, err, n);
    if (strcmp(name, "run-budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e12, &t->run_budget_gflop, err, n);
    return -1;
}

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    suite_state *s = state;
    if (strcmp(name, "image") == 0 && strcmp(s->suite, "stability") == 0 &&
        mw_parse_image(name, v, &s->cfg.train.image_h, &s->cfg.train.image_w, err, n) != 0)
        return 1; /* the revnet's image, and real data pooled to it */
    int rc = mw_grid_opt_apply(&s->cfg, name, v, err, n);
    if (rc < 0)
        rc = mw_net_opt_apply(&s->cfg.base, &s->cfg.revnet, name, v, err, n);
    if (rc < 0)
        rc = mw_oracle_opt_apply(&s->cfg.base, name, v, err, n);
    if (rc < 0)
        rc = mw_engine_opt_apply(&s->cfg.base, name, v, err, n);
    if (rc < 0 && strcmp(s->suite, "stability") == 0)
        rc = train_apply(&s->cfg.train, name, v, err, n);
    if (rc < 0 && strcmp(name, "repeats") == 0)
        rc = mw_parse_int(name, v, 1, 1000, &s->cfg.repeats, err, n);
    if (rc < 0 && strcmp(name, "channels-list") == 0) {
        char buf[128];
        int k = 0;
        snprintf(buf, sizeof buf, "%s", v);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            int c;
            if (k == 4 || mw_parse_int("channels-list", t, 2, MW_MAX_CHANNELS, &c, err, n) != 0) {
                if (k == 4)
                    snprintf(err, n, "--channels-list %s: at most 4 values", v);
                return 1;
            }
            s->cfg.grid.channels[k++] = c;
        }
        if (k == 0) {
            snprintf(err, n, "--channels-list '%s': give a comma list of channel counts", v);
            return 1;
        }
        s->cfg.grid.n_channels = k;
        return 0;
    }
    if (rc >= 0)
        return rc;
    if (strcmp(name, "preset") == 0)
        return 0; /* applied before the other options */
    if (strcmp(name, "out") == 0)
        return s->out = v, 0;
    if (strcmp(name, "resume") == 0)
        return s->resume = 1, 0;
    if (strcmp(name, "force") == 0)
        return s->force = 1, 0;
    if (strcmp(name, "jobs") == 0)
        return s->jobs_given = 1, mw_parse_int(name, v, 1, 1024, &s->jobs, err, n);
    if (strcmp(name, "quiet") == 0)
        return s->quiet = 1, 0;
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

static void print_common_help(const mw_opt *const *tables)
{
    printf("options:\n");
    mw_args_print_options(stdout, suite_opts);
    if (tables == stability_tables) {
        printf("\ntraining (the quick preset: 8 epochs of 1024 samples in batches of 32,\n"
               "512 held out):\n");
        mw_args_print_options(stdout, train_opts);
    }
    printf("\ngrid (overrides the preset):\n");
    mw_args_print_options(stdout, mw_grid_opts);
    printf("\nnetwork (every cell):\n");
    mw_args_print_options(stdout, mw_size_opts);
    printf("\nmethods:\n");
    mw_args_print_options(stdout, mw_method_opts);
    printf("\ngold oracle:\n");
    mw_args_print_options(stdout, mw_oracle_opts);
    printf("\nengine:\n");
    mw_args_print_options(stdout, mw_engine_opts);
}

static void gradcheck_help(void)
{
    printf("usage: mwverify suite gradcheck [options]\n\n"
           "The gradcheck grid as a suite that writes an HDF5 report (reports/SCHEMA.md):\n"
           "one group per network with its gold oracle and projforward's unbiasedness (the\n"
           "RMS error of the K-sample mean for K = 1, 4, 16, 64, 256 and its fitted slope),\n"
           "one group per run (a method in a dtype on a network) with its status and\n"
           "tables, and a summary table. Presets: quick (the default; depths 1, 2, 4, 8 x\n"
           "relu, tanh x none, tanh, leaky, f32 and f64, on an mlp of width 8, hidden 8,\n"
           "batch 4: seconds) and standard (grad's default network, depths 1..16, every F\n"
           "activation, 3 seeds: minutes). Every network is seeded from the suite seed and\n"
           "its replicate seed alone, so any order, split or resume gives the same numbers.\n"
           "The report is written whole after every network and renamed into place: a run\n"
           "killed at any moment leaves a complete file; --resume finishes it.\n\n");
    print_common_help(gradcheck_tables);
    printf("\nthen: mwverify report summary FILE.h5; mwverify report plot FILE.h5 --out F.png\n\n"
           "exit status: 0 every check passed, 1 a float64 deterministic method is more than\n"
           "--tol from gold, a method failed, or gold did not certify (all recorded in the\n"
           "report); 2 bad usage; 3 the report could not be written.\n");
}

static void stability_help(void)
{
    printf("usage: mwverify suite stability [options]\n\n"
           "Train one network with every gradient method in lockstep — the same θ_0, the\n"
           "same shuffled batches, Adam (lr 1e-3, β 0.9/0.999) with exponential decay — and\n"
           "with the reference, float64 backprop, from the same start; watch which method\n"
           "stays faithful to the true gradient and which drifts (the paper's §6.6). Every\n"
           "step records, per method: loss, batch accuracy, the gradient's error against the\n"
           "silver oracle (float64 backprop) at the method's own parameters (rel_l2,\n"
           "max_ulp, per layer), its distance to the reference trajectory, the closure\n"
           "error (moonwalk, mixed) or reconstruction error (revbackprop), time and memory;\n"
           "gold (MPFR, certified) at the first and last step and every --gold-every steps.\n"
           "Every epoch: means, maxima and the held-out accuracy. A method that goes\n"
           "non-finite or whose loss explodes is marked diverged at that step and stops;\n"
           "the others go on. Methods too costly for a cell (forward mode on these sizes)\n"
           "are skipped with the estimate as the reason.\n\n"
           "Presets: quick (the default): synthetic Gaussian-mixture data, mlp width 16,\n"
           "hidden 32, F activation relu and tanh, output activation none and tanh, depths\n"
           "2 and 8, 2 seeds, float32, 8 epochs: about a minute on two cores (--arch revnet:\n"
           "the revnet of 4 channels of 8x8, 3 blocks of 1 and 2 layers, instead). standard:\n"
           "depths 2..16, leaky too, 4 seeds, 30 epochs, gold every 256 steps: tens of\n"
           "minutes. real: Fashion-MNIST pooled to 14x14, an mlp on its 196 features\n"
           "(depths 2, 6) and a revnet of 2 channels in 2 blocks (1, 3 layers per block, BN),\n"
           "batch 16, 4 epochs of 1024 samples, 1024 held out: minutes. paper: the paper's\n"
           "§6.1 — revnet, CIFAR-10 padded to 8 channels, 3 blocks of 1, 3, 5, 10 layers,\n"
           "batch 512, ReLU in F, out-act none and tanh, 20 seeds, 100 epochs; it needs\n"
           "--dataset cifar10:DIR and a GPU: on a CPU it says how long it would take. Every\n"
           "run first prints its estimated cost. At the end, a verdict per output\n"
           "activation and method.\n\n");
    print_common_help(stability_tables);
    printf("\nthen: mwverify report summary FILE.h5; mwverify report plot FILE.h5 --out F.png\n\n"
           "exit status: 0 the report is complete (divergence is a result), 1 a method could\n"
           "not be computed, 2 bad usage, 3 the report could not be written.\n");
}

static void human_time(double sec, char *buf, size_t n)
{
    if (sec < 120)
        snprintf(buf, n, "%.0f s", sec);
    else if (sec < 7200)
        snprintf(buf, n, "%.0f min", sec / 60);
    else if (sec < 3 * 86400)
        snprintf(buf, n, "%.1f h", sec / 3600);
    else if (sec < 365 * 86400)
        snprintf(buf, n, "%.0f days", sec / 86400);
    else
        snprintf(buf, n, "%.3g years", sec / (365.25 * 86400));
}

/* Before a stability run: the real data read and checked, the cost estimated and said, a
 * run too long for the machine refused with what to do instead. */
static int prepare_stability(suite_state *s, const char *cmd)
{
    char msg[1024];
    mw_train_config *t = &s->cfg.train;
    mw_engine_info info;
    if (s->cfg.base.engine != MW_BACKEND_CPU &&
        mw_engine_probe(s->cfg.base.engine, s->cfg.base.math, MW_F32, &info, msg, sizeof msg)) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        return MW_EXIT_RUNTIME;
    }
    if (mw_stability_load_data(&s->cfg, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        return MW_EXIT_USAGE;
    }
    double gflop, sec;
    if (mw_stability_estimate(&s->cfg, &gflop, &sec, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        return MW_EXIT_USAGE;
    }
    long nets = mw_suite_n_networks(&s->cfg);
    int par = s->jobs < nets ? s->jobs : (int)nets;
    double wall = sec / (par > 0 ? par : 1);
    char when[32];
    human_time(wall, when, sizeof when);
    if (s->cfg.base.engine != MW_BACKEND_CPU) { /* the CPU's rate says nothing of a GPU's */
        if (!s->quiet)
            fprintf(stderr, "%s: %ld networks, %.3g GFLOP in all, on %s\n", cmd, nets, gflop,
                    mw_backend_name(s->cfg.base.engine));
        return MW_EXIT_OK;
    }
    if (wall > t->time_budget_h * 3600.0) {
        fprintf(stderr, "mwverify %s: estimated %s on this machine's CPU (%.3g GFLOP over %ld "
                        "networks), over the %g h of --time-budget; run it with --engine cuda "
                        "on a GPU machine, or shrink it (--seeds, --epochs, --train-samples, "
                        "--layers-per-block), or raise --time-budget\n",
                cmd, when, gflop, nets, t->time_budget_h);
        return MW_EXIT_USAGE;
    }
    if (!s->quiet)
        fprintf(stderr, "%s: %ld networks, %.3g GFLOP in all; about %s on this machine's CPU "
                        "with %d process%s\n", cmd, nets, gflop, when, par, par == 1 ? "" : "es");
    return MW_EXIT_OK;
}

static void scaling_help(const char *suite)
{
    const int timing = strcmp(suite, "timing") == 0;
    printf("usage: mwverify suite %s [options]\n\n", suite);
    if (!timing)
        printf("The working memory of one gradient by each method against depth — the paper's\n"
               "Table 1 and Figures 2-3 measured: the peak bytes the tracked allocator saw, the\n"
               "parameters, the gradient and the batch not counted (as in the paper; the report's\n"
               "summary also gives the total). Forward-mode passes are measured by their first\n"
               "block of tangents, which asks for the same buffers as every other block, so\n"
               "forward mode's memory is measured at any depth without its cost in time.\n\n"
               "Presets: quick (the default): an mlp (width 16, hidden 32, batch 8) at 3, 6, 9, 15,\n"
               "30 layers, and revnets of 8x8 images padded to 8 and 18 channels, 3 blocks of 1,\n"
               "2, 3, 5, 10 layers (batch 4): a minute or two on a CPU. paper: the paper's 32x32\n"
               "revnets, batch 512 (for a GPU: --engine cuda).\n\n");
    else
        printf("The wall time of one gradient by each method against depth — Table 1 and\n"
               "Figure 4 measured: the median of --repeats calls after a warm-up.\n\n"
               "Presets: quick (the default): the mlp (width 16, hidden 32, batch 32) at 6, 12,\n"
               "30, 60 layers and a revnet (4 channels of 8x8, batch 8) at 1, 2, 4 layers per\n"
               "block. A method is timed as many of the --repeats times as --budget GFLOP allows\n"
               "(default 200 for all its calls), at least once after its warm-up, else skipped\n"
               "with its estimate. paper: 32x32x18, batch 512, 2..20 layers per block (a GPU).\n\n");
    printf("Then the growth exponent of each method (log-log slope against the coupling\n"
           "layers, with R²) beside Table 1's order, and the paper's ratios — %s — are\n"
           "printed and stored in the report (/fits, /ratios).\n\n",
           timing ? "forward/moonwalk at 6 and 60 layers (27 and 110), mixed/backprop (about 2)"
                  : "backprop over moonwalk, mixed, revbackprop (about 2) and projforward (2.4) "
                    "at 10 layers per block");
    printf("options:\n");
    mw_args_print_options(stdout, suite_opts);
    mw_args_print_options(stdout, scaling_opts);
    printf("\ngrid (overrides the preset):\n");
    mw_args_print_options(stdout, mw_grid_opts);
    printf("\nnetwork:\n");
    mw_args_print_options(stdout, mw_size_opts);
    printf("\nmethods:\n");
    mw_args_print_options(stdout, mw_method_opts);
    printf("\nengine:\n");
    mw_args_print_options(stdout, mw_engine_opts);
    printf("\nthen: mwverify report summary FILE.h5; mwverify report plot FILE.h5 --out F.png\n\n"
           "exit status: 0 every run measured, 1 a run failed, 2 bad usage, 3 the report could\n"
           "not be written or the engine is not there.\n");
}

static int run_suite(const char *suite, int argc, char **argv)
{
    suite_state s = {.suite = suite, .jobs = (int)sysconf(_SC_NPROCESSORS_ONLN)};
    if (s.jobs < 1)
        s.jobs = 1;
    int stability = strcmp(suite, "stability") == 0;
    int scaling = strcmp(suite, "memory") == 0 || strcmp(suite, "timing") == 0;
    const char *preset = mw_find_preset(argc, argv, "quick");
    int bad = stability ? mw_stability_preset(preset, &s.cfg)
              : scaling ? mw_scaling_preset(suite, preset, &s.cfg)
                        : mw_suite_preset(preset, &s.cfg);
    if (bad) {
        fprintf(stderr, "mwverify suite %s: --preset %s: unknown preset (allowed: quick, %s)\n",
                suite, preset, stability ? "standard, real, paper" : scaling ? "paper" : "standard");
        return MW_EXIT_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof cmd, "suite %s", suite);
    int help = 0;
    int rc = mw_args_parse(cmd, stability ? stability_tables : scaling ? scaling_tables
                                                                        : gradcheck_tables,
                           argc, argv, apply, &s, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        if (stability)
            stability_help();
        else if (scaling)
            scaling_help(suite);
        else
            gradcheck_help();
        return MW_EXIT_OK;
    }
    if (s.force && s.resume) {
        fprintf(stderr, "mwverify %s: --force and --resume: choose one (replace the report, or "
                        "finish it)\n", cmd);
        return MW_EXIT_USAGE;
    }
    mw_grid_finish(&s.cfg);
    if ((s.cfg.base.engine != MW_BACKEND_CPU || strcmp(suite, "timing") == 0) && !s.jobs_given)
        s.jobs = 1; /* one process on the GPU, and for timings, unless asked */
    char path[512], msg[1024], cmdline[2048];
    if (stability) {
        rc = prepare_stability(&s, cmd);
        if (rc != MW_EXIT_OK) {
            mw_stability_free_data(&s.cfg);
            return rc;
        }
    }
    if (s.out) {
        snprintf(path, sizeof path, "%s", s.out);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
        snprintf(path, sizeof path, "mwverify-%s-%s.h5", suite, stamp);
    }
    mw_args_command_line(cmd, argc, argv, cmdline, sizeof cmdline);
    mw_progress_line prog;
    mw_progress_init(&prog, cmd, s.quiet);
    mw_suite_job job = {.cfg = &s.cfg, .path = path, .force = s.force, .resume = s.resume,
                        .jobs = s.jobs, .command_line = cmdline,
                        .progress = mw_progress_suite, .progress_arg = &prog};
    mw_report rep;
    size_t failed = 0;
    mw_status st = stability ? mw_suite_stability(&job, &rep, &failed, msg, sizeof msg)
                   : strcmp(suite, "memory") == 0 ? mw_suite_memory(&job, &rep, &failed, msg, sizeof msg)
                   : strcmp(suite, "timing") == 0 ? mw_suite_timing(&job, &rep, &failed, msg, sizeof msg)
                                                  : mw_suite_gradcheck(&job, &rep, &failed, msg, sizeof msg);
    mw_progress_end(&prog);
    mw_stability_free_data(&s.cfg);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    if (stability)
        mw_print_verdict(stdout, &rep);
    if (scaling)
        mw_print_scaling(stdout, &rep);
    printf("report: %s (%zu networks, %zu runs; %zu failed %s)\n", path, rep.n_networks,
           rep.n_runs, failed, stability || scaling ? "runs" : "checks");
    mw_report_free(&rep);
    return failed ? MW_EXIT_CHECKS : MW_EXIT_OK;
}

int mw_cmd_suite(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify suite <name> [options]\n\nsuites:\n"
                   "  stability   every method trained in lockstep: gradient drift and\n"
                   "              divergence, epoch by epoch (the main job)\n"
                   "  gradcheck   every method against gold on a grid of networks\n"
                   "  memory      every method's working memory against depth (Table 1)\n"
                   "  timing      every method's time per gradient against depth (Table 1)\n"
                   "  layers      every layer of the registry against the MPFR reference\n"
                   "              (mwverify layer check --all)\n\n"
                   "Each writes an HDF5 report: mwverify suite <name> --help.\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    if (strcmp(argv[0], "gradcheck") == 0 || strcmp(argv[0], "stability") == 0 ||
        strcmp(argv[0], "memory") == 0 || strcmp(argv[0], "timing") == 0)
        return run_suite(argv[0], argc - 1, argv + 1);
    if (strcmp(argv[0], "layers") == 0)
        return mw_cmd_suite_layers(argc - 1, argv + 1);
    fprintf(stderr, "mwverify suite: unknown suite '%s' (suites: stability, gradcheck, memory, "
                    "timing, layers)\n", argv[0]);
    return MW_EXIT_USAGE;
}
