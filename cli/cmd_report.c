/* `mwverify report summary|plot|schema`: read any file mwverify writes — a suite's report
 * or a gradient dump — and print it, draw it, or list the records of the files. The
 * suite's own part of the summary and its figure come from the registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"
#include "export.h"
#include "plot.h"
#include "summary.h"

typedef struct report_opts {
    int json, per_layer, force;
    mw_export_table table;
    mw_export_format format;
    char out[4096];
} report_opts;

#define R(m) offsetof(report_opts, m)
static const mw_field summary_fields[] = {
    {"per_layer", MW_FK_BOOL, R(per_layer), "print each run's rel_l2 per layer", .opt = "per-layer"},
    {"json", MW_FK_BOOL, R(json), "print one JSON object instead of the tables", .opt = "json"},
    MW_FIELDS_END,
};
static const mw_field plot_fields[] = {
    {"out", MW_FK_STR, R(out), "the figure: .png or .svg (required)",
     .size = sizeof(((report_opts *)0)->out), .opt = "out", .meta = "FILE"},
    MW_FIELDS_END,
};
static const mw_field export_fields[] = {
    {"table", MW_FK_ENUM, R(table),
     "which observations, one row each: runs (a run's cell and its last step), steps\n"
     "(every recorded gradient), epochs, layers (rel_l2 per coupling layer and the head,\n"
     "at every step), networks (spec, status, oracle), fits, ratios, layer_checks, timings",
     .names = &mw_export_table_names, .opt = "table", .meta = "T"},
    {"format", MW_FK_ENUM, R(format), "csv (a header line; pandas.read_csv reads it as it is) or\n"
     "jsonl (one JSON object per line; pandas.read_json(..., lines=True))",
     .names = &mw_export_format_names, .opt = "format", .meta = "F"},
    {"out", MW_FK_STR, R(out), "write to this file (written whole or not at all) instead of\n"
     "standard output", .size = sizeof(((report_opts *)0)->out), .opt = "out", .meta = "FILE",
     .flags = MW_F_NO_DEFAULT},
    {"force", MW_FK_BOOL, R(force), "replace an existing --out", .opt = "force"},
    MW_FIELDS_END,
};
#undef R
static const mw_record export_record = {"export", sizeof(report_opts), export_fields, NULL, NULL};
static const mw_optgroup export_group = {NULL, "options", &export_record, 0};
static const mw_record summary_record = {"summary", sizeof(report_opts), summary_fields, NULL, NULL};
static const mw_record plot_record = {"plot", sizeof(report_opts), plot_fields, NULL, NULL};
static const mw_optgroup summary_group = {NULL, "options", &summary_record, 0};
static const mw_optgroup plot_group = {NULL, "options", &plot_record, 0};

/* Read the report named by the one word; an exit status other than 0 when it cannot be
 * read (the line said). */
static int load(const mw_cli *cli, mw_report *r)
{
    mw_err err;
    mw_status st = mw_report_load(r, cli->words[0], &err);
    if (st != MW_OK) {
        mw_cli_error(cli->cmd, err.msg);
        return mw_exit_of(st);
    }
    return MW_EXIT_OK;
}

/* Parse; the one report file is the one word. */
static int parse(mw_cli *cli, const char *usage, int argc, char **argv)
{
    int rc = mw_cli_parse(cli, argc, argv);
    if (rc != MW_EXIT_OK)
        return rc;
    if (cli->help) {
        printf("%s", usage);
        mw_cli_help(stdout, cli);
        return MW_EXIT_OK;
    }
    if (cli->n_words != 1) {
        fprintf(stderr, "mwverify %s: give %s report file (mwverify %s FILE.h5)\n", cli->cmd,
                cli->n_words ? "one" : "the", cli->cmd);
        return MW_EXIT_USAGE;
    }
    return MW_EXIT_OK;
}

static int summary(int argc, char **argv)
{
    report_opts o = {0};
    mw_cli cli = {.cmd = "report summary", .words_meta = "FILE.h5"};
    mw_cli_add(&cli, &summary_group, &o);
    int rc = parse(&cli, "usage: mwverify report summary FILE.h5 [--json] [--per-layer]\n\n"
                         "Read a report — of any suite, or a gradient dump of mwverify grad --out —\n"
                         "and print, per network, its oracle and, per run, the method, dtype,\n"
                         "rel_l2, max_abs, max_ulp, 1-cosine, gradient norm, closure error, peak\n"
                         "bytes, seconds and status (of the last step, for training suites); then\n"
                         "the suite's own summary: a stability report's verdict, a memory or timing\n"
                         "report's growth exponents and ratios, a layers report's checks. With\n"
                         "--json one object with every run.\n",
                   argc, argv);
    mw_report r;
    if (rc != MW_EXIT_OK || cli.help || mw_cli_parse_only || (rc = load(&cli, &r)) != MW_EXIT_OK)
        return rc;
    const mw_suite_def *def = mw_suite_find(r.meta.suite);
    if (o.json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_string(&j, "file", cli.words[0]);
        mw_json_string(&j, "suite", r.meta.suite);
        mw_json_string(&j, "command_line", r.meta.command_line);
        mw_json_string(&j, "created_utc", r.meta.created_utc);
        mw_json_string(&j, "updated_utc", r.meta.updated_utc);
        mw_json_integer(&j, "networks", (long long)r.n_networks);
        if (def)
            def->json(&j, NULL, &r, 0);
        mw_json_runs(&j, &r);
        mw_json_object_end(&j);
        rc = mw_json_finish(&j);
    } else {
        mw_print_report_head(stdout, &r);
        if (r.n_runs)
            mw_print_report(stdout, &r, o.per_layer);
        if (def)
            def->print(stdout, NULL, &r, 0);
        rc = fflush(stdout) != 0 || ferror(stdout);
    }
    mw_report_free(&r);
    if (rc) {
        mw_cli_error(cli.cmd, "writing to standard output failed");
        return MW_EXIT_RUNTIME;
    }
    return MW_EXIT_OK;
}

static int plot(int argc, char **argv)
{
    report_opts o = {0};
    mw_cli cli = {.cmd = "report plot", .words_meta = "FILE.h5"};
    mw_cli_add(&cli, &plot_group, &o);
    char usage[1024];
    size_t used = (size_t)snprintf(usage, sizeof usage,
                                   "usage: mwverify report plot FILE.h5 --out F.png|F.svg\n\n"
                                   "Draw a suite's report, PNG or SVG by the extension of --out:\n");
    for (int i = 0; mw_suites[i]; i++)
        if (mw_suites[i]->plot && used < sizeof usage)
            used += (size_t)snprintf(usage + used, sizeof usage - used, "  %-10s %s\n",
                                     mw_suites[i]->name, mw_suites[i]->plot_help);
    if (used < sizeof usage)
        snprintf(usage + used, sizeof usage - used, "Other reports (a gradient dump, layer checks) "
                 "have no figure:\nreport summary prints them.\n");
    int rc = parse(&cli, usage, argc, argv);
    if (rc != MW_EXIT_OK || cli.help || mw_cli_parse_only)
        return rc;
    mw_err err;
    mw_report r;
    mw_status st = MW_OK;
    if (!o.out[0])
        st = mw_err_set(&err, MW_ERR_ARG, "--out F.png or F.svg is required");
    if (st == MW_OK)
        st = mw_plot_check_out(o.out, &err);
    if (st == MW_OK && (st = mw_report_load(&r, cli.words[0], &err)) == MW_OK) {
        const mw_suite_def *def = mw_suite_find(r.meta.suite);
        if (def && def->plot)
            st = def->plot(&r, o.out, &err);
        else if (!def) /* a gradient dump */
            st = mw_err_set(&err, MW_ERR_ARG, "%s is a gradient dump (mwverify grad --out): one "
                            "gradient has no figure; `mwverify report summary %s` prints it",
                            cli.words[0], cli.words[0]);
        else
            st = mw_err_set(&err, MW_ERR_ARG, "%s: a report of suite %s has no figure; "
                            "`mwverify report summary %s` prints it", cli.words[0], def->name,
                            cli.words[0]);
        mw_report_free(&r);
    }
    if (st != MW_OK) {
        mw_cli_error(cli.cmd, err.msg);
        return mw_exit_of(st);
    }
    printf("wrote %s\n", o.out);
    return fflush(stdout) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
}

static int export_(int argc, char **argv)
{
    report_opts o = {0};
    mw_cli cli = {.cmd = "report export", .words_meta = "FILE.h5"};
    mw_cli_add(&cli, &export_group, &o);
    int rc = parse(&cli, "usage: mwverify report export FILE.h5 [--table T] [--format csv|jsonl] "
                         "[--out FILE]\n\n"
                         "A report's observations in long (\"tidy\") form, one row each, every row\n"
                         "with the columns that say what it is: the suite, the network's index and\n"
                         "every field of its spec (arch, width, depth, f_act, out_act, seed, ...),\n"
                         "and for rows of a run its index, method, dtype and status, then the\n"
                         "row's own fields as reports/SCHEMA.md names them. A missing or\n"
                         "non-finite number is an empty cell (null in jsonl); a run's steps\n"
                         "and epochs keep their step and epoch numbers. Numbers carry every digit\n"
                         "that reads back exactly; pandas' default CSV parser may be 3 ulps off,\n"
                         "read_csv(..., float_precision=\"round_trip\") is exact. In Python:\n\n"
                         "  mwverify report export r.h5 --table epochs > epochs.csv\n"
                         "  df = pandas.read_csv(\"epochs.csv\")\n"
                         "  df.pivot_table(index=\"epoch\", columns=\"method\", values=\"rel_l2_max\")\n",
                   argc, argv);
    mw_report r;
    if (rc != MW_EXIT_OK || cli.help || mw_cli_parse_only || (rc = load(&cli, &r)) != MW_EXIT_OK)
        return rc;
    mw_err err;
    mw_status st = MW_OK;
    size_t bytes = 0;
    if (o.out[0])
        st = mw_report_export_file(o.out, o.force, cli.words[0], &r, o.table, o.format, &bytes,
                                   &err);
    else
        st = mw_report_export(stdout, &r, o.table, o.format, &err);
    if (st == MW_OK && o.out[0])
        fprintf(stderr, "wrote %s: %zu rows of %s, %zu bytes\n", o.out,
                mw_export_rows(&r, o.table), mw_name_of(&mw_export_table_names, (int)o.table),
                bytes);
    mw_report_free(&r);
    if (st != MW_OK) {
        mw_cli_error(cli.cmd, err.msg);
        return mw_exit_of(st);
    }
    return MW_EXIT_OK;
}

static const mw_field merge_fields[] = {
    {"force", MW_FK_BOOL, offsetof(report_opts, force), "replace an existing OUT.h5",
     .opt = "force"},
    {"json", MW_FK_BOOL, offsetof(report_opts, json), "one JSON object on standard output "
     "instead of the tables", .opt = "json"},
    MW_FIELDS_END,
};
static const mw_record merge_record = {"merge", sizeof(report_opts), merge_fields, NULL, NULL};
static const mw_optgroup merge_group = {NULL, "options", &merge_record, 0};

static int merge(int argc, char **argv)
{
    report_opts o = {0};
    mw_cli cli = {.cmd = "report merge", .words_meta = "OUT.h5 IN.h5..."};
    mw_cli_add(&cli, &merge_group, &o);
    int rc = mw_cli_parse(&cli, argc, argv);
    if (rc != MW_EXIT_OK)
        return rc;
    if (cli.help) {
        printf("usage: mwverify report merge OUT.h5 SHARD.h5... [--force] [--json]\n\n"
               "Merge the reports of a suite's shards — each written by the same command with\n"
               "--shard I/N, I = 1..N, on any machines (a scheduler's job array) — into OUT.h5,\n"
               "the report one process would have written: the same numbers, bit for bit\n"
               "(measured times aside; mwverify report diff compares two reports), and the\n"
               "suite's own tables (fits, ratios) drawn from all the networks. Refused, with\n"
               "one line, unless every shard is there once, complete (a shard cut short:\n"
               "finish it with its command and --resume) and of one configuration.\n");
        mw_cli_help(stdout, &cli);
        printf("\nexit status: 0 merged and every check passed, 1 merged with failed checks\n"
               "(as the suite's would), 2 bad usage or a shard refused, 3 OUT could not be\n"
               "written.\n");
        return MW_EXIT_OK;
    }
    if (cli.n_words < 2) {
        mw_cli_error(cli.cmd, "give the merged report and the shards' reports (mwverify report "
                              "merge OUT.h5 SHARD.h5...)");
        return MW_EXIT_USAGE;
    }
    if (mw_cli_parse_only)
        return MW_EXIT_OK;
    mw_err err;
    mw_report rep;
    const mw_suite_def *def = NULL;
    mw_suite_config *cfg = calloc(1, sizeof *cfg);
    size_t failures = 0;
    mw_status st = cfg ? mw_suite_merge(cli.words[0], o.force, cli.words + 1, cli.n_words - 1,
                                        &def, cfg, &rep, &failures, &err)
                       : mw_err_set(&err, MW_ERR_NOMEM, "out of memory");
    if (st != MW_OK) {
        free(cfg);
        mw_cli_error(cli.cmd, err.msg);
        return mw_exit_of(st);
    }
    if (o.json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_string(&j, "suite", def->name);
        mw_json_string(&j, "report", cli.words[0]);
        mw_json_integer(&j, "shards", cli.n_words - 1);
        mw_json_integer(&j, "networks", (long long)rep.n_networks);
        mw_json_integer(&j, "runs", (long long)rep.n_runs);
        mw_json_integer(&j, "failures", (long long)failures);
        def->json(&j, cfg, &rep, 0);
        mw_json_object_end(&j);
        rc = mw_json_finish(&j);
    } else {
        def->print(stdout, cfg, &rep, 0);
        printf("\nreport: %s (%d shards merged: %zu network%s, %zu run%s; %zu failure%s)\n",
               cli.words[0], cli.n_words - 1, rep.n_networks, rep.n_networks == 1 ? "" : "s",
               rep.n_runs, rep.n_runs == 1 ? "" : "s", failures, failures == 1 ? "" : "s");
        rc = fflush(stdout) != 0 || ferror(stdout);
    }
    mw_report_free(&rep);
    free(cfg);
    if (rc) {
        mw_cli_error(cli.cmd, "writing to standard output failed");
        return MW_EXIT_RUNTIME;
    }
    return failures ? MW_EXIT_CHECKS : MW_EXIT_OK;
}

static int diff(int argc, char **argv)
{
    mw_cli cli = {.cmd = "report diff", .words_meta = "A.h5 B.h5"};
    int rc = mw_cli_parse(&cli, argc, argv);
    if (rc != MW_EXIT_OK)
        return rc;
    if (cli.help) {
        printf("usage: mwverify report diff A.h5 B.h5\n\n"
               "Do two reports hold the same results? Every number of every network, run,\n"
               "step, epoch and table row is compared bit for bit, with the metadata that says\n"
               "what was computed (suite, version, configuration, engine, math mode); not what\n"
               "two runs of the same work may differ in: measured times (fields named\n"
               "*seconds*, the timing suite's tables), when, where, by which command, as which\n"
               "shard. For instance a report merged from shards, or written by MPI ranks,\n"
               "against one process's.\n\n"
               "exit status: 0 the same, 1 different (the first difference is printed), 2 a\n"
               "file that cannot be read.\n");
        return MW_EXIT_OK;
    }
    if (cli.n_words != 2) {
        mw_cli_error(cli.cmd, "give two reports (mwverify report diff A.h5 B.h5)");
        return MW_EXIT_USAGE;
    }
    if (mw_cli_parse_only)
        return MW_EXIT_OK;
    mw_err err;
    mw_report a, b;
    if (mw_report_load(&a, cli.words[0], &err) != MW_OK) {
        mw_cli_error(cli.cmd, err.msg);
        return mw_exit_of(err.status);
    }
    if (mw_report_load(&b, cli.words[1], &err) != MW_OK) {
        mw_report_free(&a);
        mw_cli_error(cli.cmd, err.msg);
        return mw_exit_of(err.status);
    }
    char why[640];
    const int differ = mw_report_diff(&a, &b, why, sizeof why);
    if (differ)
        printf("different: %s\n", why);
    else
        printf("the same: %zu networks, %zu runs, every number bit for bit (measured times "
               "aside)\n", a.n_networks, a.n_runs);
    mw_report_free(&a);
    mw_report_free(&b);
    if (fflush(stdout) != 0) {
        mw_cli_error(cli.cmd, "writing to standard output failed");
        return MW_EXIT_RUNTIME;
    }
    return differ ? MW_EXIT_CHECKS : MW_EXIT_OK;
}

static int schema(int argc, char **argv)
{
    mw_cli cli = {.cmd = "report schema"};
    int rc = mw_cli_parse(&cli, argc, argv);
    if (rc != MW_EXIT_OK)
        return rc;
    if (cli.help) {
        printf("usage: mwverify report schema\n\nThe records of mwverify's files, field by field, "
               "as markdown tables: what\nreports/SCHEMA.md lists, printed from the tables that "
               "write and read them.\n");
        return MW_EXIT_OK;
    }
    if (mw_cli_parse_only)
        return MW_EXIT_OK;
    mw_print_schema(stdout);
    return fflush(stdout) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
}

int mw_cmd_report(int argc, char **argv)
{
    static const struct {
        const char *name, *summary;
        int (*run)(int, char **);
    } subs[] = {
        {"summary", "the report's tables (or --json)", summary},
        {"plot", "its figure, as PNG or SVG (--out)", plot},
        {"export", "its observations as CSV or JSON Lines, one row each", export_},
        {"schema", "the records of the files, field by field", schema},
        {"merge", "shards' reports (--shard I/N) into the whole grid's", merge},
        {"diff", "do two reports hold the same numbers?", diff},
    };
    const int n = sizeof subs / sizeof subs[0];
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify report <summary|plot|export|schema|merge|diff> [FILE.h5] [options]\n\n");
        for (int i = 0; i < n; i++)
            fprintf(f, "  %-9s %s\n", subs[i].name, subs[i].summary);
        fprintf(f, "\nA report is any file a suite, gradcheck --out, layer check --out or grad "
                   "--out wrote.\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(argv[0], subs[i].name) == 0)
            return subs[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mwverify report: unknown command '%s' (allowed: summary, plot, export, "
                    "schema, merge, diff)\n",
            argv[0]);
    return MW_EXIT_USAGE;
}
