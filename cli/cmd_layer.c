/* `mwverify layer list|check` and `mwverify suite layers`: the layer registry, and each
 * layer's operations checked against the MPFR reference (suites/layer_check.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "emit.h"
#include "layer_check.h"

enum { MAX_NAMES = 64 };

typedef struct layer_state {
    int all, include_faulty, force, json, quiet, verbose;
    const char *report, *baseline;
    double factor;
    const char *names[MAX_NAMES];
    int n_names;
} layer_state;

static const mw_opt list_opts[] = {
    {"include-faulty", NULL, "also the negative controls: deliberately wrong variants that\n"
                             "layer check must catch"},
    {"json", NULL, "one JSON object instead of the table"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt check_opts[] = {
    {"all", NULL, "every layer of the registry (instead of naming them)"},
    {"include-faulty", NULL, "also the negative controls (with --all, or to name one): each\n"
                             "must be caught by at least one check"},
    {"report", "FILE.h5", "write every check's result here (reports/SCHEMA.md, \"Layer\n"
                          "check report\"): the baseline of a later run"},
    {"force", NULL, "replace an existing --report file"},
    {"baseline", "OLD.h5", "an earlier --report: a check whose error grew by more than\n"
                           "--factor over it fails as a regression"},
    {"factor", "F", "the growth --baseline tolerates (default 4; > 1)"},
    {"verbose", NULL, "every check of every configuration, not only the worst per check"},
    {"json", NULL, "one JSON object with every check instead of the tables"},
    {"quiet", NULL, "no progress line"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static const mw_opt suite_opts[] = {
    {"out", "FILE.h5", "the report (default mwverify-layers-<UTC time>.h5 here)"},
    {"include-faulty", NULL, "also the negative controls, each of which must be caught"},
    {"force", NULL, "replace an existing --out file"},
    {"baseline", "OLD.h5", "an earlier report: a check whose error grew by more than\n"
                           "--factor over it fails as a regression"},
    {"factor", "F", "the growth --baseline tolerates (default 4; > 1)"},
    {"verbose", NULL, "every check of every configuration"},
    {"json", NULL, "one JSON object instead of the tables"},
    {"quiet", NULL, "no progress line"},
    {"help", NULL, "this text"},
    {NULL, NULL, NULL},
};

static int apply(void *state, const char *name, const char *v, char *err, size_t n)
{
    layer_state *s = state;
    if (strcmp(name, "all") == 0)
        return s->all = 1, 0;
    if (strcmp(name, "include-faulty") == 0)
        return s->include_faulty = 1, 0;
    if (strcmp(name, "force") == 0)
        return s->force = 1, 0;
    if (strcmp(name, "json") == 0)
        return s->json = 1, 0;
    if (strcmp(name, "quiet") == 0)
        return s->quiet = 1, 0;
    if (strcmp(name, "verbose") == 0)
        return s->verbose = 1, 0;
    if (strcmp(name, "report") == 0 || strcmp(name, "out") == 0)
        return s->report = v, 0;
    if (strcmp(name, "baseline") == 0)
        return s->baseline = v, 0;
    if (strcmp(name, "factor") == 0) {
        if (mw_parse_double("--factor", v, 1.0, 1e12, &s->factor, err, n) != 0)
            return 1;
        if (!(s->factor > 1.0)) {
            snprintf(err, n, "--factor %s: must be greater than 1", v);
            return 1;
        }
        return 0;
    }
    snprintf(err, n, "--%s: not handled", name);
    return 1;
}

/* Move the words that are not options (nor an option's value) into s->names. */
static int split_names(const char *cmd, int *argc, char **argv, layer_state *s)
{
    static const char *const valued[] = {"--report", "--baseline", "--factor", "--out"};
    int k = 0;
    for (int i = 0; i < *argc; i++) {
        if (strncmp(argv[i], "-", 1) == 0 && argv[i][1] != '\0') {
            argv[k++] = argv[i];
            for (size_t v = 0; v < sizeof valued / sizeof valued[0]; v++)
                if (strcmp(argv[i], valued[v]) == 0 && i + 1 < *argc)
                    argv[k++] = argv[++i];
            continue;
        }
        if (s->n_names == MAX_NAMES) {
            fprintf(stderr, "mwverify %s: more than %d layer names\n", cmd, MAX_NAMES);
            return 1;
        }
        s->names[s->n_names++] = argv[i];
    }
    *argc = k;
    return 0;
}

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* ---- layer list ---- */

static int cmd_list(int argc, char **argv)
{
    layer_state st = {0};
    const mw_opt *const tables[] = {list_opts, NULL};
    int help = 0;
    if (wants_help(argc, argv)) {
        printf("usage: mwverify layer list [--include-faulty] [--json]\n\n"
               "The layer types of the registry: the couplings a network's body is made of\n"
               "(--coupling of grad, gradcheck and the suites) and the squeeze between a\n"
               "revnet's blocks. Each is checked by mwverify layer check NAME.\n"
               "docs/adding-a-layer.md says how to add one.\n\noptions:\n");
        mw_args_print_options(stdout, list_opts);
        return MW_EXIT_OK;
    }
    int rc = mw_args_parse("layer list", tables, argc, argv, apply, &st, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    mw_json j;
    if (st.json) {
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_array_begin(&j, "layers");
    }
    for (size_t i = 0; i < mw_layer_count(); i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (info.fault && !st.include_faulty)
            continue;
        if (st.json) {
            mw_json_object_begin(&j, NULL);
            mw_json_string(&j, "name", info.name);
            mw_json_string(&j, "summary", info.summary);
            mw_json_string(&j, "implements",
                           info.coupling < 0 ? "squeeze" : mw_coupling_name((mw_coupling)info.coupling));
            mw_json_string(&j, "fault", info.fault);
            mw_json_object_end(&j);
        } else {
            printf("%-26s %s\n", info.name, info.summary);
            if (info.fault)
                printf("%-26s   negative control: %s\n", "", info.fault);
        }
    }
    if (st.json) {
        mw_json_array_end(&j);
        mw_json_object_end(&j);
        return mw_json_finish(&j) != 0 ? MW_EXIT_RUNTIME : MW_EXIT_OK;
    }
    return MW_EXIT_OK;
}

/* ---- layer check ---- */

static void progress(const char *layer, const char *config, void *arg)
{
    (void)arg;
    fprintf(stderr, "\r\033[Klayer check: %s: %s", layer, config);
    fflush(stderr);
}

/* The checks named in a layer's failing rows, comma-separated, each once. */
static void caught_by(const mw_layer_check_result *res, const char *layer, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < res->n_rows; i++) {
        const mw_layer_check_row *r = &res->rows[i];
        if (r->pass || strcmp(r->layer, layer) != 0)
            continue;
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = !res->rows[k].pass && strcmp(res->rows[k].layer, layer) == 0 &&
                   strcmp(res->rows[k].check, r->check) == 0;
        if (!seen) {
            size_t len = strlen(buf);
            snprintf(buf + len, n - len, "%s%s", len ? ", " : "", r->check);
        }
    }
}

static double ratio(const mw_layer_check_row *r)
{
    if (isnan(r->error))
        return INFINITY;
    return r->threshold > 0 ? r->error / r->threshold : r->error > 0 ? INFINITY : 0.0;
}

/* three digits, or the word for a non-finite value */
static const char *num(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "nan");
    else if (isinf(v))
        snprintf(buf, n, v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, n, "%.3g", v);
    return buf;
}

static void print_row(const mw_layer_check_row *r, const char *check, int n)
{
    char e[32], u[32], t[32], q[32];
    num(e, sizeof e, r->error);
    num(t, sizeof t, r->threshold);
    num(q, sizeof q, ratio(r));
    if (isnan(r->max_ulp))
        snprintf(u, sizeof u, "-");
    else
        num(u, sizeof u, r->max_ulp);
    printf("  %-22s %4d  %-9s %-9s %-8s %-8s %-4s  %s %s\n", check, n, e, t, q, u,
           r->pass ? "pass" : "FAIL", r->dtype, r->config);
}

/* Per check of one layer: the row with the largest error/threshold, and how many rows. */
static void print_layer(const mw_layer_check_result *res, const mw_layer_info *info, int verbose)
{
    size_t total = 0, failed = 0;
    for (size_t i = 0; i < res->n_rows; i++)
        if (strcmp(res->rows[i].layer, info->name) == 0)
            total++, failed += !res->rows[i].pass;
    printf("\n%s: %s\n", info->name, info->summary);
    if (info->fault)
        printf("  negative control: %s\n", info->fault);
    printf("  %-22s %4s  %-9s %-9s %-8s %-8s %-4s  %s\n", "check", "rows", "error", "threshold",
           "ratio", "max ulp", "", "worst at");
    for (size_t i = 0; i < res->n_rows; i++) {
        const mw_layer_check_row *r = &res->rows[i];
        if (strcmp(r->layer, info->name) != 0)
            continue;
        if (verbose) {
            print_row(r, r->check, 1);
            continue;
        }
        int first = 1, n = 0;
        const mw_layer_check_row *worst = r;
        for (size_t k = 0; k < res->n_rows; k++) {
            const mw_layer_check_row *o = &res->rows[k];
            if (strcmp(o->layer, r->layer) != 0 || strcmp(o->check, r->check) != 0)
                continue;
            if (k < i)
                first = 0;
            n++;
            if (ratio(o) > ratio(worst))
                worst = o;
        }
        if (first)
            print_row(worst, r->check, n);
    }
    if (info->fault) {
        char by[512];
        caught_by(res, info->name, by, sizeof by);
        if (failed)
            printf("  caught: %zu of %zu checks fail (%s)\n", failed, total, by);
        else
            printf("  NOT CAUGHT: all %zu checks pass on a deliberately wrong layer\n", total);
    } else {
        printf("  %s: %zu of %zu checks fail\n", failed ? "FAILED" : "ok", failed, total);
    }
}

static void json_layer(mw_json *j, const mw_layer_check_result *res, const mw_layer_info *info)
{
    size_t total = 0, failed = 0;
    char by[512];
    caught_by(res, info->name, by, sizeof by);
    mw_json_object_begin(j, NULL);
    mw_json_string(j, "name", info->name);
    mw_json_string(j, "fault", info->fault);
    mw_json_array_begin(j, "rows");
    for (size_t i = 0; i < res->n_rows; i++) {
        const mw_layer_check_row *r = &res->rows[i];
        if (strcmp(r->layer, info->name) != 0)
            continue;
        total++, failed += !r->pass;
        mw_json_object_begin(j, NULL);
        mw_json_string(j, "config", r->config);
        mw_json_string(j, "dtype", r->dtype);
        mw_json_string(j, "check", r->check);
        mw_json_number(j, "error", r->error);
        mw_json_number(j, "max_ulp", r->max_ulp);
        mw_json_number(j, "threshold", r->threshold);
        mw_json_bool(j, "pass", r->pass);
        mw_json_object_end(j);
    }
    mw_json_array_end(j);
    mw_json_integer(j, "checks", (long long)total);
    mw_json_integer(j, "failed", (long long)failed);
    mw_json_string(j, "failed_checks", by);
    mw_json_bool(j, "ok", info->fault ? failed > 0 : failed == 0);
    mw_json_object_end(j);
}

/* The layers to check: named ones (each known; a negative control only with
 * --include-faulty), or with --all every real one and, with --include-faulty, the controls. */
static int select_layers(const char *cmd, const layer_state *st, mw_layer_info *out, int *n)
{
    *n = 0;
    if (st->all && st->n_names) {
        fprintf(stderr, "mwverify %s: give layer names or --all, not both\n", cmd);
        return 1;
    }
    if (!st->all && !st->n_names) {
        fprintf(stderr, "mwverify %s: name the layers to check, or --all (mwverify layer list "
                        "names them)\n", cmd);
        return 1;
    }
    for (size_t i = 0; st->all && i < mw_layer_count(); i++) {
        mw_layer_info info;
        mw_layer_info_at(i, &info);
        if (!info.fault || st->include_faulty)
            out[(*n)++] = info;
    }
    for (int k = 0; k < st->n_names; k++) {
        mw_layer_info info;
        if (mw_layer_info_of(st->names[k], &info) != 0) {
            fprintf(stderr, "mwverify %s: no layer named '%s' (mwverify layer list names them)\n",
                    cmd, st->names[k]);
            return 1;
        }
        if (info.fault && !st->include_faulty) {
            fprintf(stderr, "mwverify %s: '%s' is a negative control (deliberately wrong); add "
                            "--include-faulty to check it\n", cmd, st->names[k]);
            return 1;
        }
        int dup = 0;
        for (int i = 0; i < *n && !dup; i++)
            dup = strcmp(out[i].name, info.name) == 0;
        if (!dup)
            out[(*n)++] = info;
    }
    return 0;
}

static int run_checks(const char *cmd, layer_state *st, int argc, char **argv)
{
    mw_layer_info layers[MAX_NAMES];
    int n_layers = 0;
    if (select_layers(cmd, st, layers, &n_layers) != 0)
        return MW_EXIT_USAGE;
    char msg[1024], cmdline[2048];
    if (st->report && mw_layer_report_check_path(st->report, st->force, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        return MW_EXIT_USAGE;
    }
    mw_layer_check_result base = {0}, res = {0};
    if (st->baseline && mw_layer_report_load(st->baseline, &base, msg, sizeof msg) != 0) {
        fprintf(stderr, "mwverify %s: --baseline %s\n", cmd, msg);
        return MW_EXIT_USAGE;
    }
    mw_args_command_line(cmd, argc, argv, cmdline, sizeof cmdline);
    const int show = !st->quiet && isatty(2);
    for (int i = 0; i < n_layers; i++) {
        if (mw_layer_check(layers[i].name, &res, show ? progress : NULL, NULL, msg,
                           sizeof msg) != 0) {
            if (show)
                fprintf(stderr, "\r\033[K");
            fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
            mw_layer_check_free(&res);
            mw_layer_check_free(&base);
            return MW_EXIT_RUNTIME;
        }
    }
    if (show)
        fprintf(stderr, "\r\033[K");
    size_t regressions = 0, unmatched = 0;
    if (st->baseline)
        regressions = mw_layer_check_against(&res, &base, st->factor, &unmatched);
    /* the verdict: every real layer passes; every negative control is caught */
    int bad_real = 0, escaped = 0;
    for (int i = 0; i < n_layers; i++) {
        size_t f = mw_layer_check_failures(&res, layers[i].name);
        if (layers[i].fault)
            escaped += f == 0;
        else
            bad_real += f > 0;
    }
    int rc = bad_real || escaped ? MW_EXIT_CHECKS : MW_EXIT_OK;
    if (st->report && mw_layer_report_write(st->report, &res, st->force, MW_VERSION, cmdline, msg,
                                            sizeof msg) != 0) {
        fprintf(stderr, "mwverify %s: %s\n", cmd, msg);
        rc = MW_EXIT_RUNTIME;
    }
    if (st->json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_array_begin(&j, "layers");
        for (int i = 0; i < n_layers; i++)
            json_layer(&j, &res, &layers[i]);
        mw_json_array_end(&j);
        mw_json_string(&j, "baseline", st->baseline);
        mw_json_integer(&j, "regressions", (long long)regressions);
        mw_json_string(&j, "report", st->report);
        mw_json_bool(&j, "ok", rc == MW_EXIT_OK);
        mw_json_object_end(&j);
        if (mw_json_finish(&j) != 0)
            rc = MW_EXIT_RUNTIME;
    } else {
        printf("layer check: %d layer%s; error is the check's measure (layer check --help), ratio\n"
               "error/threshold; each check's worst configuration shown", n_layers,
               n_layers == 1 ? "" : "s");
        printf("%s\n", st->verbose ? " (--verbose: all)" : "");
        for (int i = 0; i < n_layers; i++)
            print_layer(&res, &layers[i], st->verbose);
        printf("\n");
        if (st->baseline)
            printf("baseline %s: %zu regression%s (error grew more than %gx)%s\n", st->baseline,
                   regressions, regressions == 1 ? "" : "s", st->factor,
                   unmatched ? "; checks not in the baseline were not compared" : "");
        if (st->report && rc != MW_EXIT_RUNTIME)
            printf("report: %s\n", st->report);
        if (bad_real)
            printf("FAILED: %d real layer%s failed a check\n", bad_real, bad_real == 1 ? "" : "s");
        if (escaped)
            printf("FAILED: %d negative control%s escaped every check\n", escaped,
                   escaped == 1 ? "" : "s");
        if (!bad_real && !escaped)
            printf("ok: every real layer passes%s\n",
                   st->include_faulty ? "; every negative control is caught" : "");
    }
    mw_layer_check_free(&res);
    mw_layer_check_free(&base);
    return rc;
}

static void check_help(void)
{
    printf("usage: mwverify layer check NAME... | --all [options]\n\n"
           "Check a layer's operations — forward, inverse, jvp, vjp, vijp — against the MPFR\n"
           "reference (256 bits) and the identities that tie them together, on a grid of\n"
           "small configurations (mlps 8 wide with tanh/tanh at input and weight scale 1\n"
           "and 2.5, near saturation; ReLU/leaky with BatchNorm; tanh/none; a 4x4x4 conv\n"
           "revnet layer with BatchNorm at scale 1 and 2.5), each in float32 and float64;\n"
           "then the six gradient methods on a 3-layer network of the layer against gold.\n"
           "Checks (error; threshold from the operation, u the dtype's unit roundoff, K\n"
           "the roundings an output goes through, tol = 8uK):\n"
           "  forward, jvp, vjp_input, vjp_params   max|engine - exact| / max|exact|;\n"
           "                         tol (forward) or 2 tol; jvp against central\n"
           "                         differences in MPFR (the squeeze, a permutation:\n"
           "                         against a direct loop, exactly)\n"
           "  inverse                round trip f^-1(f(x)) - x, each element divided by\n"
           "                         its condition (1/(1 - y^2) for tanh); tol\n"
           "  inverse_bias           the round trip's mean error over its spread (a t\n"
           "                         statistic); 6\n"
           "  adjoint                <v, J u> = <J^T v, u> in the engine; tol\n"
           "  vijp_identity          vjp(vijp(h)) = h and the same parameter gradient; 2 tol\n"
           "  vijp_exact             the exact vjp of the engine's vijp gives h back; 2 tol\n"
           "  method:<name>          rel_l2 against gold: float64 1e-11, float32 1e-4;\n"
           "                         projforward (K = 256) in units of its noise, 1.5\n"
           "The exit status says whether every real layer passed and, with\n"
           "--include-faulty, whether every negative control was caught.\n\n"
           "In CI: mwverify layer check my-layer --report base.h5 once, keep base.h5, then\n"
           "mwverify layer check my-layer --baseline base.h5 on every change.\n\n"
           "options:\n");
    mw_args_print_options(stdout, check_opts);
    printf("\nexit status: 0 every check passed (and every negative control was caught), 1 a\n"
           "check failed or regressed, or a negative control escaped; 2 bad usage or input;\n"
           "3 a check could not run or the report could not be written.\n");
}

static int cmd_check(int argc, char **argv)
{
    layer_state st = {0};
    st.factor = 4.0;
    const mw_opt *const tables[] = {check_opts, NULL};
    int help = 0;
    if (wants_help(argc, argv)) {
        check_help();
        return MW_EXIT_OK;
    }
    char **words = malloc((size_t)(argc + 1) * sizeof *words);
    if (!words) {
        fprintf(stderr, "mwverify layer check: out of memory\n");
        return MW_EXIT_RUNTIME;
    }
    memcpy(words, argv, (size_t)argc * sizeof *words);
    int n = argc, rc = split_names("layer check", &n, words, &st);
    if (rc == 0)
        rc = mw_args_parse("layer check", tables, n, words, apply, &st, &help);
    else
        rc = MW_EXIT_USAGE;
    if (rc == MW_EXIT_OK)
        rc = run_checks("layer check", &st, argc, argv);
    free(words);
    return rc;
}

int mw_cmd_layer(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify layer <list|check> [options]\n\n"
                   "  list    the layer types of the registry\n"
                   "  check   a layer's operations against the MPFR reference, their\n"
                   "          identities and the methods on a network of it\n\n"
                   "mwverify layer <list|check> --help says more; docs/adding-a-layer.md\n"
                   "says how to add a layer.\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    if (strcmp(argv[0], "list") == 0)
        return cmd_list(argc - 1, argv + 1);
    if (strcmp(argv[0], "check") == 0)
        return cmd_check(argc - 1, argv + 1);
    fprintf(stderr, "mwverify layer: unknown subcommand '%s' (list, check)\n", argv[0]);
    return MW_EXIT_USAGE;
}

int mw_cmd_suite_layers(int argc, char **argv)
{
    layer_state st = {0};
    st.factor = 4.0;
    st.all = 1;
    const mw_opt *const tables[] = {suite_opts, NULL};
    int help = 0;
    if (wants_help(argc, argv)) {
        printf("usage: mwverify suite layers [options]\n\n"
               "mwverify layer check --all as a suite: every layer of the registry checked\n"
               "(mwverify layer check --help lists the checks and their thresholds), the\n"
               "results written to an HDF5 report (reports/SCHEMA.md, \"Layer check\n"
               "report\") that a later run takes as --baseline.\n\noptions:\n");
        mw_args_print_options(stdout, suite_opts);
        printf("\nexit status: 0 every check passed, 1 a check failed or regressed, 2 bad\n"
               "usage or input, 3 a check could not run or the report could not be written.\n");
        return MW_EXIT_OK;
    }
    int rc = mw_args_parse("suite layers", tables, argc, argv, apply, &st, &help);
    if (rc != MW_EXIT_OK)
        return rc;
    char path[512];
    if (!st.report) {
        time_t t = time(NULL);
        struct tm tm;
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
        snprintf(path, sizeof path, "mwverify-layers-%s.h5", stamp);
        st.report = path;
    }
    return run_checks("suite layers", &st, argc, argv);
}
