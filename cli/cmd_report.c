/* `mwverify report summary|plot FILE`: read a suite's report back. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "emit.h"
#include "plot.h"

typedef struct report_state {
    int json, per_layer;
    const char *out;
} report_state;

static const mw_opt summary_opts[] = {
    {"per-layer", NULL, "print each run's rel_l2 per layer"},
    {"json", NULL, "print one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt plot_opts[] = {
    {"out", "FILE", "the figure: .png or .svg (required)"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    report_state *r = state;
    if (strcmp(name, "json") == 0)
        return r->json = 1, 0;
    if (strcmp(name, "per-layer") == 0)
        return r->per_layer = 1, 0;
    if (strcmp(name, "out") == 0)
        return r->out = v, 0;
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

/* The report file: the first word that is not an option. */
static int split_file(const char *cmd, int *argc, char **argv, const char **file)
{
    for (int i = 0; i < *argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            if ((strcmp(argv[i], "--out") == 0) && i + 1 < *argc)
                i++; /* its value */
            continue;
        }
        *file = argv[i];
        for (int k = i; k + 1 < *argc; k++)
            argv[k] = argv[k + 1];
        (*argc)--;
        return 0;
    }
    fprintf(stderr, "mwverify report %s: give the report file (mwverify report %s FILE.h5)\n",
            cmd, cmd);
    return 1;
}

static int summary(int argc, char **argv)
{
    report_state st = {0};
    const char *file = NULL;
    const mw_opt *const tables[] = {summary_opts, NULL};
    int help = 0, rc;
    for (int i = 0; i < argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    if (help) {
        printf("usage: mwverify report summary FILE.h5 [--json] [--per-layer]\n\n"
               "Read a suite's report and print, per network, its oracle and, per run, the\n"
               "method, dtype, rel_l2, max_abs, max_ulp, 1-cosine, closure error, peak bytes,\n"
               "seconds and status (of the last step, for training suites), then for a\n"
               "stability report its verdict, for a memory or timing report the growth exponents\n"
               "and ratios; with --json one object with every run.\n\n"
               "options:\n");
        mw_args_print_options(stdout, summary_opts);
        return MW_EXIT_OK;
    }
    if (split_file("summary", &argc, argv, &file) != 0)
        return MW_EXIT_USAGE;
    if ((rc = mw_args_parse("report summary", tables, argc, argv, apply, &st, &help)) != 0)
        return rc;
    mw_report r;
    char msg[1024];
    if (mw_report_load(&r, file, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify report summary: %s\n", msg);
        return MW_EXIT_USAGE;
    }
    if (st.json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_string(&j, "file", file);
        mw_json_string(&j, "suite", r.meta.suite);
        mw_json_string(&j, "command_line", r.meta.command_line);
        mw_json_string(&j, "created_utc", r.meta.created_utc);
        mw_json_string(&j, "updated_utc", r.meta.updated_utc);
        mw_json_integer(&j, "networks", (long long)r.n_networks);
        if (strcmp(r.meta.suite, "stability") == 0)
            mw_emit_verdict_json(&j, &r);
        if (r.n_fits || r.n_ratios)
            mw_emit_scaling_json(&j, &r);
        mw_emit_report_runs_json(&j, &r);
        mw_json_object_end(&j);
        rc = mw_json_finish(&j) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
    } else {
        printf("report %s: suite %s, %zu networks, %zu runs; written by mwverify %s on %s (%s), "
               "last updated %s\ncommand: %s\n", file, r.meta.suite, r.n_networks, r.n_runs,
               r.meta.mwverify_version, r.meta.host, r.meta.device, r.meta.updated_utc,
               r.meta.command_line);
        mw_print_report(stdout, &r, st.per_layer);
        if (strcmp(r.meta.suite, "stability") == 0)
            mw_print_verdict(stdout, &r);
        if (r.n_fits || r.n_ratios)
            mw_print_scaling(stdout, &r);
    }
    mw_report_free(&r);
    return rc;
}

static int plot(int argc, char **argv)
{
    report_state st = {0};
    const char *file = NULL;
    const mw_opt *const tables[] = {plot_opts, NULL};
    int help = 0, rc;
    for (int i = 0; i < argc; i++)
        help |= strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0;
    if (help) {
        printf("usage: mwverify report plot FILE.h5 --out F.png|F.svg\n\n"
               "Draw a gradcheck report: the error against gold (rel_l2, log scale) against\n"
               "depth, one line per method, the median over the report's F activations,\n"
               "output activations and seeds, one panel per dtype. PNG or SVG by the\n"
               "extension of --out.\n\noptions:\n");
        mw_args_print_options(stdout, plot_opts);
        return MW_EXIT_OK;
    }
    if (split_file("plot", &argc, argv, &file) != 0)
        return MW_EXIT_USAGE;
    if ((rc = mw_args_parse("report plot", tables, argc, argv, apply, &st, &help)) != 0)
        return rc;
    char msg[1024];
    if (!st.out) {
        fprintf(stderr, "mwverify report plot: --out F.png or F.svg is required\n");
        return MW_EXIT_USAGE;
    }
    if (mw_plot_check_out(st.out, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify report plot: %s\n", msg);
        return MW_EXIT_USAGE;
    }
    mw_report r;
    if (mw_report_load(&r, file, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify report plot: %s\n", msg);
        return MW_EXIT_USAGE;
    }
    rc = mw_report_plot(&r, st.out, msg, sizeof msg);
    mw_report_free(&r);
    if (rc != 0) {
        fprintf(stderr, "mwverify report plot: %s\n", msg);
        return rc == 2 ? MW_EXIT_USAGE : MW_EXIT_RUNTIME;
    }
    printf("wrote %s\n", st.out);
    return MW_EXIT_OK;
}

int mw_cmd_report(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify report <summary|plot> FILE.h5 [options]\n\n"
                   "  summary   a table of every run (or --json)\n"
                   "  plot      error against depth per method, as PNG or SVG (--out)\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    if (strcmp(argv[0], "summary") == 0)
        return summary(argc - 1, argv + 1);
    if (strcmp(argv[0], "plot") == 0)
        return plot(argc - 1, argv + 1);
    fprintf(stderr, "mwverify report: unknown command '%s' (allowed: summary, plot)\n", argv[0]);
    return MW_EXIT_USAGE;
}
