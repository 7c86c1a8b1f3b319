/* `mwverify suite NAME`, and the commands that are a suite by another name (`gradcheck`,
 * `layer check`): a lookup in the registry (suites/suite.h) and one way of running any
 * suite — its preset, its options, its checks and estimate, the run, its report. */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "mw_mpi.h"
#include "plugin.h"
#include "cli.h"
#include "progress.h"
#include "summary.h"

/* The options of running a suite (not its configuration). */
typedef struct run_opts {
    char preset[32];
    char out[4096];
    char junit[4096];
    int resume, force, jobs, quiet, json, verbose, dry_run, per_layer;
    double progress_every;
    char shard[32];
    int shard_index, shard_count; /* from shard */
    int ranks;                    /* --dry-run: the estimate for this many MPI ranks */
} run_opts;

#define R(m) offsetof(run_opts, m)
static const mw_field run_fields[] = {
    {"preset", MW_FK_STR, R(preset), "a preset (above); the options below override it",
     .size = sizeof(((run_opts *)0)->preset), .opt = "preset", .meta = "NAME"},
    {"out", MW_FK_STR, R(out),
     "the report (suite: default mwverify-<suite>-<UTC time>.h5 here, -2.h5 and on when\n"
     "another run took that name; gradcheck and layer check write one only when asked)",
     .size = sizeof(((run_opts *)0)->out), .opt = "out", .meta = "FILE.h5"},
    {"resume", MW_FK_BOOL, R(resume),
     "finish an interrupted report: give the same options as the run that wrote it;\n"
     "networks already in it are kept, the rest computed",
     .opt = "resume"},
    {"junit", MW_FK_STR, R(junit),
     "also write the verdicts as JUnit XML for a CI system: a testcase per run (layer\n"
     "check: per check), each failure with its reason; written even when checks fail",
     .size = sizeof(((run_opts *)0)->junit), .opt = "junit", .meta = "FILE.xml"},
    {"force", MW_FK_BOOL, R(force), "replace an existing report (and --junit file)",
     .opt = "force"},
    {"jobs", MW_FK_INT, R(jobs),
     "compute N networks at a time, in N processes (default: the processors here; one\n"
     "with --engine cuda, and for suite timing)",
     .opt = "jobs", .meta = "N", .lo = 1, .hi = 1024, .flags = MW_F_NO_DEFAULT},
    {"shard", MW_FK_STR, R(shard),
     "compute shard I of N: the networks u with u mod N = I - 1, into a report of its own;\n"
     "N such runs anywhere (a scheduler's job array, I = 1..N) are one run of the whole\n"
     "grid once `mwverify report merge OUT.h5 SHARD.h5...` has merged them\n"
     "(docs/cluster.md)", .size = sizeof(((run_opts *)0)->shard), .opt = "shard", .meta = "I/N",
     .flags = MW_F_NO_DEFAULT},
    {"ranks", MW_FK_INT, R(ranks),
     "with --dry-run: also estimate the wall time on N MPI ranks (or array tasks), each a\n"
     "process like this one handed the costliest network left (under mpirun: its ranks)",
     .opt = "ranks", .meta = "N", .lo = 1, .hi = 1 << 20, .flags = MW_F_NO_DEFAULT},
    {"dry_run", MW_FK_BOOL, R(dry_run),
     "check everything, print the configuration and the estimated cost, and stop",
     .opt = "dry-run"},
    {"verbose", MW_FK_BOOL, R(verbose), "every run of every network, not only the summary",
     .opt = "verbose"},
    {"per_layer", MW_FK_BOOL, R(per_layer), "with every run, its rel_l2 per layer",
     .opt = "per-layer"},
    {"json", MW_FK_BOOL, R(json), "one JSON object on standard output instead of the tables",
     .opt = "json"},
    {"quiet", MW_FK_BOOL, R(quiet), "no estimate and no progress on standard error",
     .opt = "quiet"},
    {"progress_every", MW_FK_F64, R(progress_every),
     "progress on standard error: on a terminal a bar by estimated cost, redrawn at every\n"
     "finished network and epoch; elsewhere (a pipe, a CI log) a line at every finished\n"
     "network and, between them, at most one per T (0: only at finished networks)",
     .unit = MW_UNIT_SECONDS, .opt = "progress-every", .meta = "T", .lo = 0, .hi = 86400},
    MW_FIELDS_END,
};
#undef R
static const mw_record run_record = {"run", sizeof(run_opts), run_fields, NULL, NULL};
static const mw_optgroup run_group = {NULL, "options", &run_record, 0};

/* How a command runs its suite. */
typedef struct suite_cmd {
    const char *cmd;          /* "suite stability", "gradcheck", "layer check" */
    const mw_suite_def *def;
    int report_by_default;    /* suite NAME writes a report unless told where */
    int verbose;              /* prints every run (gradcheck) */
    const char *words_meta;   /* layer check: the layers by name */
} suite_cmd;

typedef struct state {
    mw_suite_config cfg;
    run_opts run;
} state;

static void print_help(const suite_cmd *sc, const mw_cli *cli, const state *s)
{
    const mw_suite_def *def = sc->def;
    printf("usage: mwverify %s %s[options]\n\n%s\n\npresets (--preset NAME; options override "
           "them):\n", sc->cmd, sc->words_meta ? "[NAME...] " : "", def->help);
    for (const mw_preset *p = def->presets; p->name; p++) {
        state other;
        char diff[2048];
        mw_suite_configure(def, p, &other.cfg);
        mw_cli_diff(cli, &s->cfg, &other.cfg, sizeof other.cfg, diff, sizeof diff);
        char text[3072];
        snprintf(text, sizeof text, "%s%s", p == def->presets ? "(the default) " : "", p->summary);
        printf("  %-9s ", p->name);
        mw_cli_wrap(stdout, text, 12, 12);
        if (diff[0]) {
            snprintf(text, sizeof text, "settings: %s", diff);
            printf("%12s", "");
            mw_cli_wrap(stdout, text, 14, 12);
        }
    }
    mw_cli_help(stdout, cli);
    if (def->plot)
        printf("\nthen: mwverify report summary FILE.h5; mwverify report plot FILE.h5 --out F.png\n");
    else
        printf("\nthen: mwverify report summary FILE.h5\n");
    printf("\nexit status: %s; 2 bad usage or input; 3 the report could not be written, a unit\n"
           "could not be computed (the others are, and --resume retries it), or the engine is\n"
           "not there.\n", def->exit_help);
}

/* --preset, read before the other options (they override it). */
static int find_preset(const suite_cmd *sc, int argc, char **argv, const mw_preset **out)
{
    const char *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc)
            name = argv[++i];
        else if (strncmp(argv[i], "--preset=", 9) == 0)
            name = argv[i] + 9;
    }
    *out = name ? mw_suite_preset(sc->def, name) : &sc->def->presets[0];
    if (*out)
        return MW_EXIT_OK;
    const char *names[16];
    char list[256] = "";
    size_t n = 0, used = 0;
    for (const mw_preset *p = sc->def->presets; p->name && n < 16; p++, n++) {
        names[n] = p->name;
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", n ? ", " : "", p->name);
    }
    const char *near = mw_nearest(name, names, n);
    fprintf(stderr, "mwverify %s: --preset %s: unknown preset (allowed: %s)%s%s%s\n", sc->cmd,
            name, list, near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
    return MW_EXIT_USAGE;
}

/* The options as the suite needs them: one choice of --force and --resume, the layers
 * named as words, no option of an architecture the grid does not have, the jobs. */
static int settle(const suite_cmd *sc, const mw_cli *cli, state *s)
{
    mw_err err;
    if (s->run.force && s->run.resume) {
        mw_cli_error(sc->cmd, "--force and --resume: choose one (replace the report, or finish "
                              "it)");
        return MW_EXIT_USAGE;
    }
    if (s->run.shard[0]) {
        int i = 0, n = 0, used = 0;
        if (sscanf(s->run.shard, "%d/%d%n", &i, &n, &used) != 2 || s->run.shard[used] != '\0' ||
            n < 1 || n > 1 << 20 || i < 1 || i > n) {
            fprintf(stderr, "mwverify %s: --shard %s: give I/N with 1 <= I <= N (shard 2 of 5: "
                            "--shard 2/5)\n", sc->cmd, s->run.shard);
            return MW_EXIT_USAGE;
        }
        s->run.shard_index = i, s->run.shard_count = n;
    }
    if (s->run.ranks > 0 && !s->run.dry_run) {
        mw_cli_error(sc->cmd, "--ranks estimates with --dry-run; a run on ranks is mpirun -n N "
                              "mwverify ...");
        return MW_EXIT_USAGE;
    }
    if (cli->n_words) { /* layer check NAME...: the --layer list */
        char list[2048] = "";
        size_t used = 0;
        for (int i = 0; i < cli->n_words; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? "," : "",
                                     cli->words[i]);
        const mw_field *f = &mw_layers_record.fields[0];
        if (mw_cli_given(cli, "layer") || mw_field_parse(f, &s->cfg.layers, list, &err) != MW_OK) {
            mw_cli_error(sc->cmd, mw_cli_given(cli, "layer") ? "give the layers as names or as "
                                                                "--layer, not both"
                                                              : err.msg);
            return MW_EXIT_USAGE;
        }
    }
    if (strcmp(s->cfg.train.dataset, "synthetic") != 0) /* the data decides these */
        for (const char *const *o = (const char *const[]){"width", "classes", NULL}; *o; o++)
            if (mw_cli_given(cli, *o)) {
                fprintf(stderr, "mwverify %s: --%s: set by the dataset (--dataset %s); leave it "
                                "out\n", sc->cmd, *o, s->cfg.train.dataset);
                return MW_EXIT_USAGE;
            }
    unsigned archs = 0;
    for (int a = 0; a < s->cfg.grid.n_archs; a++)
        archs |= 1u << s->cfg.grid.archs[a];
    const char *off = mw_cli_off_scope(cli, archs);
    if (off) {
        fprintf(stderr, "mwverify %s: --%s: an option of the %s, which the grid does not have "
                        "(--arch %s)\n", sc->cmd, off, archs & 1u ? "revnet" : "mlp",
                archs & 1u ? "mlp,revnet" : "revnet,mlp");
        return MW_EXIT_USAGE;
    }
    /* --layer-cmd COMMAND travels as --layer-plugin's value, marked (plugin.h) */
    struct {
        char *plugin;
        const char *cmd;
    } src[] = {{s->cfg.layers.plugin, s->cfg.layers.cmd},
               {s->cfg.engine.layer_plugin, s->cfg.engine.layer_cmd}};
    for (int i = 0; i < 2; i++)
        if (src[i].cmd[0]) {
            if (src[i].plugin[0] || strlen(src[i].cmd) + strlen(MW_LAYER_CMD_PREFIX) >= 4096) {
                mw_cli_error(sc->cmd, src[i].plugin[0] ? "--layer-plugin and --layer-cmd: give "
                                                         "one"
                                                       : "--layer-cmd: the command is too long");
                return MW_EXIT_USAGE;
            }
            snprintf(src[i].plugin, 4096, "%s%s", MW_LAYER_CMD_PREFIX, src[i].cmd);
        }
    if (!mw_cli_given(cli, "jobs") && (s->cfg.engine.backend != MW_BACKEND_CPU || sc->def->one_job))
        s->run.jobs = 1; /* one process on the GPU, and for timings, unless asked */
    if (s->cfg.engine.layer_plugin[0]) { /* networks of a plugin's layer: mlps, no F, no σ */
        mw_suite_grid *g = &s->cfg.grid;
        if (s->cfg.engine.backend != MW_BACKEND_CPU || (archs & ~(1u << MW_ARCH_MLP))) {
            mw_cli_error(sc->cmd, s->cfg.engine.backend != MW_BACKEND_CPU
                                      ? "--layer-plugin: a plugin's layer runs on the CPU engine "
                                        "only"
                                      : "--layer-plugin: a plugin's layer makes mlps only (--arch "
                                        "mlp)");
            return MW_EXIT_USAGE;
        }
        g->n_f_acts = 1, g->f_acts[0] = MW_ACT_IDENTITY; /* no F: one cell, not four alike */
        g->n_out_acts = 1, g->out_acts[0] = MW_ACT_IDENTITY;
        int depth = s->cfg.mlp.depth;
        for (int i = 0; i < g->n_depths; i++)
            depth = g->depths[i] > depth ? g->depths[i] : depth;
        if (mw_plugin_settle(s->cfg.engine.layer_plugin, &s->cfg.mlp, depth, &err) != MW_OK) {
            mw_cli_error(sc->cmd, err.msg);
            return mw_exit_of(err.status);
        }
    } else if (s->cfg.mlp.coupling == MW_COUPLING_PLUGIN) {
        mw_cli_error(sc->cmd, "--coupling plugin: give the layer with --layer-plugin PATH.so");
        return MW_EXIT_USAGE;
    }
    return MW_EXIT_OK;
}

/* Whether two names are one file: the same existing file, or the same name in the same
 * directory. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    char ca[4096], cb[4096], ra[PATH_MAX], rb[PATH_MAX];
    snprintf(ca, sizeof ca, "%s", a), snprintf(cb, sizeof cb, "%s", b);
    const char *ba = strrchr(a, '/') ? strrchr(a, '/') + 1 : a;
    const char *bb = strrchr(b, '/') ? strrchr(b, '/') + 1 : b;
    return strcmp(ba, bb) == 0 && realpath(dirname(ca), ra) && realpath(dirname(cb), rb) &&
           strcmp(ra, rb) == 0;
}

/* Where the report goes: --out, else (suite NAME) a name with the time in it. */
/* The report's path: --out, or (suite NAME) mwverify-NAME-<UTC time>.h5 here, claimed
 * (mw_report_check_path) for this process. A default name another run took the same second
 * — a file there, or a writer holding it — gets a number (-2, -3, ...): no run is refused
 * over a name it did not choose. */
static mw_status report_path(const suite_cmd *sc, const state *s, char *buf, size_t n,
                             const char **path, mw_err *err)
{
    *path = NULL;
    if (s->run.out[0]) {
        *path = s->run.out;
        return mw_report_check_path(*path, s->run.force, s->run.resume, err);
    }
    if (!sc->report_by_default)
        return MW_OK;
    if (s->run.resume) /* a default name is new each second: nothing to resume */
        return mw_err_set(err, MW_ERR_ARG, "--resume: name the report to finish with --out");
    time_t t = time(NULL);
    struct tm tm;
    char stamp[32], lock[600];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
    mw_status st = MW_OK;
    for (int k = 1; k <= 100; k++) {
        if (k == 1)
            snprintf(buf, n, "mwverify-%s-%s.h5", sc->def->name, stamp);
        else
            snprintf(buf, n, "mwverify-%s-%s-%d.h5", sc->def->name, stamp, k);
        snprintf(lock, sizeof lock, "%s.lock", buf);
        if (access(buf, F_OK) == 0 || access(lock, F_OK) == 0)
            continue;
        st = mw_report_check_path(buf, 0, 0, err);
        if (st == MW_OK) {
            *path = buf;
            return MW_OK;
        }
        if (!strstr(err->msg, "being written by")) /* not a race for the name */
            return st;
    }
    return st != MW_OK ? st
                       : mw_err_set(err, MW_ERR_IO, "no free report name here (mwverify-%s-%s"
                                    "-N.h5 taken up to 100); give --out", sc->def->name, stamp);
}

static void say_estimate(const suite_cmd *sc, const state *s, const mw_estimate *e, long todo,
                         FILE *f)
{
    char when[32];
    const double part = e->units > 0 ? (double)todo / (double)e->units : 1.0;
    if (todo == e->units)
        fprintf(f, "%s: %ld unit%s", sc->cmd, e->units, e->units == 1 ? "" : "s");
    else
        fprintf(f, "%s: %ld of %ld units still to do", sc->cmd, todo, e->units);
    if (e->gflop > 0)
        fprintf(f, ", %.3g GFLOP in all", part * e->gflop);
    const int ranks = mw_mpi_size();
    if (e->seconds > 0 && ranks > 1 && e->unit_cost) /* ranks as fast as one process here */
        fprintf(f, "; about %s on %d MPI ranks, each as fast as one process on this machine's "
                "CPU", mw_fmt_seconds(when, sizeof when,
                                      part * mw_estimate_makespan(e->unit_cost, e->units, ranks)),
                ranks);
    else if (e->seconds > 0)
        fprintf(f, "; about %s on this machine's CPU with %d process%s",
                mw_fmt_seconds(when, sizeof when, part * e->seconds), s->run.jobs,
                s->run.jobs == 1 ? "" : "es");
    else if (s->cfg.engine.backend != MW_BACKEND_CPU)
        fprintf(f, ", on %s", mw_backend_name(s->cfg.engine.backend));
    if (e->bytes > 0) {
        char held[32];
        fprintf(f, ", %s of memory at most", mw_fmt_bytes(held, sizeof held, e->bytes));
    }
    fputc('\n', f);
}

/* --dry-run on R ranks: the wall time when each of R processes takes the costliest unit
 * left as soon as it is free (what the MPI runner does; a job array of R shards is no
 * faster). */
static void say_ranks(const suite_cmd *sc, const mw_estimate *e, int ranks, FILE *f)
{
    char when[32], one[32], longest[32];
    double total = 0.0, top = 0.0;
    for (long u = 0; e->unit_cost && u < e->units; u++) {
        total += e->unit_cost[u];
        top = e->unit_cost[u] > top ? e->unit_cost[u] : top;
    }
    if (!e->unit_cost || !(total > 0.0)) {
        fprintf(f, "%s: on %d ranks: no estimate (%s)\n", sc->cmd, ranks,
                e->seconds > 0 ? "no unit's cost is known" : "a device's speed is not this "
                "machine's: estimate on the CPU engine and scale by the device's speed-up");
        return;
    }
    const double t = mw_estimate_makespan(e->unit_cost, e->units, ranks);
    fprintf(f, "%s: on %d rank%s, one network at a time each, each as fast as one process "
            "here: about %s (one rank: %s; speed-up %.1f, efficiency %.0f%%; the costliest "
            "network alone takes %s)\n", sc->cmd, ranks, ranks == 1 ? "" : "s",
            mw_fmt_seconds(when, sizeof when, t), mw_fmt_seconds(one, sizeof one, total),
            total / t, 100.0 * total / t / ranks, mw_fmt_seconds(longest, sizeof longest, top));
}

/* The estimate, said once the report is open: the work a resume leaves is known then,
 * and a report that cannot be resumed is refused before anything is said. */
typedef struct estimate_note {
    const suite_cmd *sc;
    const state *s;
    const mw_estimate *e;
} estimate_note;

static void on_started(void *arg, long todo, long total)
{
    const estimate_note *n = arg;
    (void)total;
    say_estimate(n->sc, n->s, n->e, todo, stderr);
}

static int output(const suite_cmd *sc, const state *s, const mw_report *rep, const char *path,
                  size_t failures)
{
    const mw_suite_def *def = sc->def;
    const int verbose = s->run.verbose || sc->verbose ? 1 + s->run.per_layer : 0;
    if (s->run.json) {
        mw_json j;
        mw_json_init(&j, stdout);
        mw_json_object_begin(&j, NULL);
        mw_json_string(&j, "suite", def->name);
        mw_json_string(&j, "preset", s->cfg.preset);
        mw_json_string(&j, "report", path);
        mw_json_integer(&j, "networks", (long long)rep->n_networks);
        mw_json_integer(&j, "runs", (long long)rep->n_runs);
        mw_json_integer(&j, "failures", (long long)failures);
        def->json(&j, &s->cfg, rep, verbose);
        mw_json_object_end(&j);
        return mw_json_finish(&j) != 0;
    }
    def->print(stdout, &s->cfg, rep, verbose);
    char counts[128];
    snprintf(counts, sizeof counts, "%zu network%s, %zu run%s; %zu failure%s", rep->n_networks,
             rep->n_networks == 1 ? "" : "s", rep->n_runs, rep->n_runs == 1 ? "" : "s", failures,
             failures == 1 ? "" : "s");
    if (path)
        printf("\nreport: %s (%s)\n", path, counts);
    else
        printf("\n%s\n", counts);
    return fflush(stdout) != 0 || ferror(stdout);
}

static mw_status write_junit(const mw_suite_def *def, const mw_report *rep, const char *path,
                             double seconds, mw_err *err)
{
    mw_junit_case *cases = NULL;
    size_t n = 0;
    mw_status st = def->junit ? def->junit(rep, &cases, &n, err) : mw_junit_runs(rep, &cases, &n, err);
    if (st == MW_OK)
        st = mw_junit_write(path, def->name, cases, n, seconds, err);
    free(cases);
    return st;
}

/* Under mpirun: MPI started, and what a suite on ranks does not do refused. */
static int mpi_start(const suite_cmd *sc, const mw_cli *cli, state *s)
{
    mw_err err;
    if (mw_cli_given(cli, "jobs")) {
        mw_cli_error(sc->cmd, "--jobs under mpirun: each rank computes one network at a time; "
                              "ask mpirun for more ranks (mpirun -n N)");
        return MW_EXIT_USAGE;
    }
    if (s->cfg.engine.layer_plugin[0] || s->cfg.layers.plugin[0]) {
        mw_cli_error(sc->cmd, "a plugin's layer under mpirun: each of its networks runs in a "
                              "process of its own, which MPI ranks do not fork; run it without "
                              "mpirun, or split it with --shard I/N");
        return MW_EXIT_USAGE;
    }
    if (mw_mpi_init(&err) != MW_OK) {
        mw_cli_error(sc->cmd, err.msg);
        return mw_exit_of(err.status);
    }
    if (sc->def->one_job && mw_mpi_size() > 1) {
        mw_cli_error(sc->cmd, "on MPI ranks: this suite times one process at a time, and ranks "
                              "share their machines' cores; run it without mpirun");
        return MW_EXIT_USAGE;
    }
    s->run.jobs = 1;
    return MW_EXIT_OK;
}

static int run_suite_here(const suite_cmd *sc, int argc, char **argv);

static int run_suite(const suite_cmd *sc, int argc, char **argv)
{
    if (mw_mpi_launched() && mw_mpi_launched_rank() > 0) { /* rank 0 alone speaks */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO), dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    int rc = run_suite_here(sc, argc, argv);
    mw_err err; /* every rank: finalize, or abort the others on a failure */
    if (mw_mpi_end(rc, &err) != MW_OK && rc <= MW_EXIT_CHECKS) {
        mw_cli_error(sc->cmd, err.msg);
        rc = MW_EXIT_RUNTIME;
    }
    return rc;
}

static int run_suite_here(const suite_cmd *sc, int argc, char **argv)
{
    state *s = calloc(1, sizeof *s);
    if (!s) {
        mw_cli_error(sc->cmd, "out of memory");
        return MW_EXIT_RUNTIME;
    }
    const mw_preset *preset;
    int rc = find_preset(sc, argc, argv, &preset);
    if (rc != MW_EXIT_OK) {
        free(s);
        return rc;
    }
    mw_suite_configure(sc->def, preset, &s->cfg);
    snprintf(s->run.preset, sizeof s->run.preset, "%s", preset->name);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    s->run.jobs = cpus > 0 ? (int)cpus : 1;
    s->run.progress_every = 30.0;
    mw_cli cli = {.cmd = sc->cmd, .words_meta = sc->words_meta};
    mw_cli_add(&cli, &run_group, &s->run);
    for (const mw_optgroup *const *g = sc->def->groups; *g; g++)
        mw_cli_add(&cli, *g, &s->cfg);
    rc = mw_cli_parse(&cli, argc, argv);
    if (rc == MW_EXIT_OK && cli.help)
        print_help(sc, &cli, s);
    if (rc != MW_EXIT_OK || cli.help || (rc = settle(sc, &cli, s)) != MW_EXIT_OK ||
        mw_cli_parse_only) {
        free(s);
        return rc;
    }
    if (s->cfg.engine.layer_plugin[0] &&
        (rc = mw_cli_plugin_child(sc->cmd, s->cfg.engine.layer_plugin,
                                  "; the report keeps what was committed before it")) >= 0) {
        free(s);
        return rc;
    }
    /* under mpirun (alone too, where this build has MPI: one rank is then rank 0 and its
     * worker, as in any MPI run) */
    const int mpi = mw_mpi_launched() && (mw_mpi_built() || mw_mpi_launched_size() > 1);
    if (mpi && (rc = mpi_start(sc, &cli, s)) != MW_EXIT_OK) {
        free(s);
        return rc;
    }
    const int serve = mpi && mw_mpi_rank() > 0; /* a rank that computes what rank 0 hands out */
    mw_err err;
    mw_estimate est = {0};
    mw_engine_info info;
    char pathbuf[512], cmdline[2048];
    mw_report rep;
    size_t failures = 0;
    mw_status st = MW_OK;
    if (s->cfg.engine.backend != MW_BACKEND_CPU)
        st = mw_engine_probe(&s->cfg.engine, MW_F32, &info, &err);
    if (st == MW_OK && mpi && s->cfg.engine.backend != MW_BACKEND_CPU &&
        !mw_cli_given(&cli, "device")) /* the ranks of a node share its GPUs */
        s->cfg.engine.device = mw_mpi_local_rank() % (info.devices > 0 ? info.devices : 1);
    const char *path = NULL;
    if (st == MW_OK && !serve) /* before any work, and before the estimate is said */
        st = report_path(sc, s, pathbuf, sizeof pathbuf, &path, &err);
    if (st == MW_OK && s->run.junit[0] && path && same_file(path, s->run.junit))
        st = mw_err_set(&err, MW_ERR_ARG, "--junit %s: the same file as the report; give it "
                        "another name", s->run.junit);
    if (st == MW_OK && s->run.junit[0] && !serve)
        st = mw_junit_check_path(s->run.junit, s->run.force || s->run.resume, &err);
    /* gold on two threads where the jobs leave a core free for each (--jobs 1 on two); one
     * under mpirun, whose ranks may share a node's cores */
    s->cfg.oracle.gold.threads = !mpi && mw_cpu_count() / s->run.jobs >= 2 ? 2 : 1;
    if (st == MW_OK)
        st = mw_suite_prepare(sc->def, &s->cfg, s->run.jobs, &est, &err);
    if (st == MW_OK && s->run.dry_run)
        say_estimate(sc, s, &est, est.units, stdout);
    if (st == MW_OK && s->run.dry_run && s->run.shard_count > 0) {
        long mine = 0;
        double part = 0.0, all = 0.0;
        for (long u = 0; u < est.units; u++) {
            const double c = est.unit_cost ? est.unit_cost[u] : 1.0;
            all += c;
            if (mw_shard_has(s->run.shard_index, s->run.shard_count, u))
                mine++, part += c;
        }
        printf("%s: shard %d/%d: %ld of the %ld units, %.0f%% of the estimated work\n", sc->cmd,
               s->run.shard_index, s->run.shard_count, mine, est.units,
               all > 0.0 ? 100.0 * part / all : 0.0);
    }
    if (st == MW_OK && s->run.dry_run && (s->run.ranks > 0 || mpi))
        say_ranks(sc, &est, s->run.ranks > 0 ? s->run.ranks : mw_mpi_size(), stdout);
    if (st == MW_OK && serve && !s->run.dry_run) {
        st = mw_mpi_serve(&s->cfg, sc->def->unit, &err);
    } else if (st == MW_OK && s->run.dry_run) {
        char config[8192];
        if ((st = mw_suite_config_json(sc->def, &s->cfg, config, sizeof config, &err)) == MW_OK)
            printf("configuration: %s\n", config);
    } else if (st == MW_OK) {
        char plain[sizeof cmdline - 32];
        mw_command_line(sc->cmd, argc, argv, plain, sizeof plain);
        if (mpi) /* the command that resumes it, as its message says, is an mpirun too */
            snprintf(cmdline, sizeof cmdline, "mpirun -n %d %s", mw_mpi_size(), plain);
        else
            snprintf(cmdline, sizeof cmdline, "%s", plain);
        mw_progress_line prog;
        mw_progress_init(&prog, sc->cmd, s->run.quiet || s->run.json, s->run.progress_every);
        mw_suite_job job = {.def = sc->def, .cfg = &s->cfg, .path = path, .force = s->run.force,
                            .resume = s->run.resume, .jobs = s->run.jobs, .command_line = cmdline,
                            .progress = mw_progress_suite, .progress_arg = &prog,
                            .unit_cost = est.unit_cost, .shard_index = s->run.shard_index,
                            .shard_count = s->run.shard_count,
                            .run_units = mpi ? mw_mpi_run_units : NULL};
        estimate_note note = {sc, s, &est};
        if (!s->run.quiet && !s->run.json)
            job.started = on_started, job.started_arg = &note;
        const double t0 = mw_now();
        st = mw_suite_run(&job, &rep, &failures, &err);
        mw_progress_end(&prog);
        if (st == MW_OK) {
            if (output(sc, s, &rep, path, failures) != 0)
                st = mw_err_set(&err, MW_ERR_IO, "writing to standard output failed");
            if (st == MW_OK && s->run.junit[0])
                st = write_junit(sc->def, &rep, s->run.junit, mw_now() - t0, &err);
            const mw_report_network *lost1;
            const size_t lost = mw_suite_lost_units(&rep, &lost1);
            if (st == MW_OK && lost) /* a runtime failure, however many units did run */
                st = mw_err_set(&err, MW_ERR_BACKEND, "%zu of %zu units could not be computed "
                                "(network %ld: %s); the report keeps them as failed networks, "
                                "and --resume computes them again", lost, rep.n_networks,
                                lost1->index, lost1->message);
            mw_report_free(&rep);
        }
    }
    mw_estimate_release(&est);
    if (sc->def->release)
        sc->def->release(&s->cfg);
    free(s);
    if (st != MW_OK) {
        mw_cli_error(sc->cmd, err.msg);
        return mw_exit_of(st);
    }
    return failures ? MW_EXIT_CHECKS : MW_EXIT_OK;
}

int mw_cmd_suite(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: mwverify suite <name> [options]\n\nsuites:\n");
        for (int i = 0; mw_suites[i]; i++)
            fprintf(f, "  %-11s ", mw_suites[i]->name), mw_cli_wrap(f, mw_suites[i]->summary, 14, 14);
        fprintf(f, "\nEach writes an HDF5 report: mwverify suite <name> --help.\n");
        return argc < 1 ? MW_EXIT_USAGE : MW_EXIT_OK;
    }
    const mw_suite_def *def = mw_suite_find(argv[0]);
    if (!def) {
        const char *names[16];
        size_t n = 0;
        for (; mw_suites[n] && n < 16; n++)
            names[n] = mw_suites[n]->name;
        const char *near = mw_nearest(argv[0], names, n);
        fprintf(stderr, "mwverify suite: unknown suite '%s'%s%s%s (see mwverify suite --help)\n",
                argv[0], near ? "; did you mean " : "", near ? near : "", near ? "?" : "");
        return MW_EXIT_USAGE;
    }
    char cmd[48];
    snprintf(cmd, sizeof cmd, "suite %s", def->name);
    suite_cmd sc = {cmd, def, 1, 0, NULL};
    return run_suite(&sc, argc - 1, argv + 1);
}

int mw_cmd_gradcheck(int argc, char **argv)
{
    suite_cmd sc = {"gradcheck", mw_suite_find("gradcheck"), 0, 1, NULL};
    return run_suite(&sc, argc, argv);
}

int mw_cmd_layer_check(int argc, char **argv)
{
    suite_cmd sc = {"layer check", mw_suite_find("layers"), 0, 0, "NAME..."};
    return run_suite(&sc, argc, argv);
}
