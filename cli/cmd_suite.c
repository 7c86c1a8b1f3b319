/* `mwverify suite <name>`: a sweep writing an HDF5 report. For now: suite gradcheck. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "emit.h"
#include "netopts.h"
#include "progress.h"

typedef struct suite_state {
    mw_suite_config cfg;
    const char *out;
    int force, resume, quiet, jobs;
} suite_state;

static const mw_opt suite_opts[] = {
    {"preset", "NAME", "quick (default: the gradcheck grid, seconds) or standard (grad's\n"
                       "default network, depths 1..16, every F activation, 3 seeds: minutes)"},
    {"out", "FILE.h5", "the report (default mwverify-gradcheck-<UTC time>.h5 here)"},
    {"resume", NULL, "finish an interrupted report: give the same options as the run that\n"
                     "wrote it; units already in it are kept, the rest computed"},
    {"force", NULL, "replace an existing report"},
    {"jobs", "N", "compute N networks at a time, in N processes (default 1)"},
    {"quiet", NULL, "no progress line on standard error"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt *const suite_tables[] = {suite_opts,     mw_grid_opts,   mw_size_opts,
                                             mw_method_opts, mw_oracle_opts, NULL};

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    suite_state *s = state;
    int rc = mw_grid_opt_apply(&s->cfg, name, v, err, n);
    if (rc < 0)
        rc = mw_net_opt_apply(&s->cfg.base, name, v, err, n);
    if (rc < 0)
        rc = mw_oracle_opt_apply(&s->cfg.base, name, v, err, n);
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
        return mw_parse_int(name, v, 1, 1024, &s->jobs, err, n);
    if (strcmp(name, "quiet") == 0)
        return s->quiet = 1, 0;
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

static void print_help(void)
{
    printf("usage: mwverify suite gradcheck [options]\n\n"
           "The gradcheck grid as a suite that writes an HDF5 report (reports/SCHEMA.md):\n"
           "one group per network with its gold oracle and projforward's unbiasedness (the\n"
           "error of the K-sample mean for K = 1, 4, 16, 64, 256 and its fitted slope), one\n"
           "group per run (a method in a dtype on a network) with its status and tables,\n"
           "and a summary table. The grid is a preset with overrides; every network is\n"
           "seeded from the suite seed and its replicate seed alone, so any order, split or\n"
           "resume gives the same numbers.\n\n"
           "The report is written whole after every network and renamed into place, so a\n"
           "run killed at any moment leaves a complete file with every network finished\n"
           "so far; --resume finishes it.\n\n"
           "options:\n");
    mw_args_print_options(stdout, suite_opts);
    printf("\ngrid (overrides the preset):\n");
    mw_args_print_options(stdout, mw_grid_opts);
    printf("\nnetwork (every cell; the quick preset uses width 8, hidden 8, batch 4, 3 "
           "classes):\n");
    mw_args_print_options(stdout, mw_size_opts);
    printf("\nmethods:\n");
    mw_args_print_options(stdout, mw_method_opts);
    printf("\ngold oracle:\n");
    mw_args_print_options(stdout, mw_oracle_opts);
    printf("\nthen: mwverify report summary FILE.h5; mwverify report plot FILE.h5 --out F.png\n\n"
           "exit status: 0 every check passed, 1 a float64 deterministic method is more than\n"
           "--tol from gold, a method failed, or gold did not certify (all recorded in the\n"
           "report); 2 bad usage; 3 the report could not be written.\n");
}

static int suite_gradcheck(int argc, char **argv)
{
    suite_state s = {.jobs = 1};
    const char *preset = mw_find_preset(argc, argv, "quick");
    if (mw_suite_preset(preset, &s.cfg) != 0) {
        fprintf(stderr, "mwverify suite gradcheck: --preset %s: unknown preset (allowed: quick, "
                        "standard)\n", preset);
        return MW_EXIT_USAGE;
    }
    int help = 0;
    int rc = mw_args_parse("suite gradcheck", suite_tables, argc, argv, apply, &s, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    if (help) {
        print_help();
        return MW_EXIT_OK;
    }
    if (s.force && s.resume) {
        fprintf(stderr, "mwverify suite gradcheck: --force and --resume: choose one (replace the "
                        "report, or finish it)\n");
        return MW_EXIT_USAGE;
    }
    mw_grid_finish(&s.cfg);
    char path[512], msg[1024], cmdline[2048];
    if (s.out) {
        snprintf(path, sizeof path, "%s", s.out);
    } else {
        time_t t = time(NULL);
        struct tm tm;
        strftime(path, sizeof path, "mwverify-gradcheck-%Y%m%dT%H%M%SZ.h5", gmtime_r(&t, &tm));
    }
    mw_args_command_line("suite gradcheck", argc, argv, cmdline, sizeof cmdline);
    mw_progress_line prog;
    mw_progress_init(&prog, "suite gradcheck", s.quiet);
    mw_suite_job job = {.cfg = &s.cfg, .path = path, .force = s.force, .resume = s.resume,
                        .jobs = s.jobs, .command_line = cmdline,
                        .progress = mw_progress_suite, .progress_arg = &prog};
    size_t failed = 0;
    mw_status st = mw_suite_gradcheck(&job, NULL, &failed, msg, sizeof msg);
    mw_progress_end(&prog);
    if (st != MW_OK) {
        fprintf(stderr, "mwverify suite gradcheck: %s\n", msg);
        return st == MW_ERR_ARG ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    printf("report: %s (%ld networks, %ld runs; %zu failed checks)\n", path,
           mw_suite_n_networks(&s.cfg), mw_suite_n_networks(&s.cfg) * mw_suite_runs_per_network(&s.cfg),
           failed);
    return failed ? MW_EXIT_CHECKS : MW_EXIT_OK;
}

int mw_cmd_suite(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify suite <name> [options]\n\nsuites:\n"
                   "  gradcheck   every method against gold on a grid of networks, into an HDF5 "
                   "report\n              (mwverify suite gradcheck --help)\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    if (strcmp(argv[0], "gradcheck") == 0)
        return suite_gradcheck(argc - 1, argv + 1);
    fprintf(stderr, "mwverify suite: unknown suite '%s' (suites: gradcheck)\n", argv[0]);
    return MW_EXIT_USAGE;
}
