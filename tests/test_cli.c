/* Tests of cli/: the mwverify program run as a user runs it. Exit codes, one-line errors
 * that name the option and the value, help that names only what is accepted, version,
 * the JSON of every command, reports and their readers, kills and resumes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pty.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#include "export.h"
#include "jsonr.h"
#include "mw_engine.h"
#include "report.h"
#include "testutil.h"

extern char **environ;

typedef tu_run_result run_result;

/* Run mwverify with the given arguments (NULL-terminated), capturing both streams. */
static run_result run(const char *const *args)
{
    return tu_run(MW_BINARY, args);
}

static void run_free(run_result *r)
{
    tu_run_free(r);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(version_and_help)
{
    run_result r = run((const char *[]){"--version", NULL});
    ck_assert_int_eq(r.code, 0);
    ck_assert_msg(strncmp(r.out, "mwverify ", 9) == 0, "%s", r.out);
    run_free(&r);
    r = run((const char *[]){"--help", NULL});
    ck_assert(r.code == 0 && strstr(r.out, "grad") != NULL);
    run_free(&r);
    r = run((const char *[]){"grad", "--help", NULL});
    ck_assert(r.code == 0 && strstr(r.out, "--methods") && strstr(r.out, "--init-scale"));
    run_result h = run((const char *[]){"help", "grad", NULL});
    ck_assert(h.code == 0 && strcmp(h.out, r.out) == 0); /* help CMD is CMD --help */
    run_free(&h);
    run_free(&r);
    r = run((const char *[]){NULL});
    ck_assert_int_eq(r.code, 2);
    run_free(&r);
}
END_TEST

/* What --help names is what the command accepts: every option it lists parses (a value
 * that is empty is refused as a bad value, never as an unknown option), every preset it lists
 * passes --dry-run (or asks for its dataset, or, made for a GPU, is refused on this CPU over
 * its --time-budget), every example parses. */
START_TEST(help_names_only_what_is_accepted)
{
    static const char *const cmds[][2] = {
        {"grad", NULL},           {"gradcheck", NULL},     {"suite", "stability"},
        {"suite", "gradcheck"},   {"suite", "memory"},     {"suite", "timing"},
        {"suite", "layers"},      {"layer", "check"},      {"layer", "list"},
        {"report", "summary"},    {"report", "plot"},      {"report", "schema"},
        {"report", "export"},     {"report", "merge"},     {"report", "diff"},
    };
    /* a loop test: the commands from _i on, up to the next start in help_split */
    static const size_t help_split[] = {0, 4, sizeof cmds / sizeof cmds[0]};
    ck_assert(_i >= 0 && _i < 2);
    for (size_t c = help_split[_i]; c < help_split[_i + 1]; c++) {
        const char *args[8] = {cmds[c][0], cmds[c][1] ? cmds[c][1] : "--help",
                               cmds[c][1] ? "--help" : NULL, NULL};
        run_result h = run(args);
        ck_assert_msg(h.code == 0 && strstr(h.out, "usage: mwverify"), "%s --help", cmds[c][0]);
        int options = 0, presets = 0, in_presets = 0, in_examples = 0;
        for (char *line = h.out; line && *line;) {
            char *next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            if (strncmp(line, "presets (", 9) == 0)
                in_presets = 1;
            else if (line[0] != ' ' && line[0] != '\0')
                in_presets = 0, in_examples = strcmp(line, "examples:") == 0;
            int argc = cmds[c][1] ? 2 : 1;
            args[2] = NULL;
            if (strncmp(line, "  --", 4) == 0) { /* an option: --name, --[no-]name */
                char opt[64], value[80];
                sscanf(line + 2, "%63s", opt);
                const int both = strncmp(opt, "--[no-]", 7) == 0;
                for (int k = 0; k < 1 + both; k++) {
                    if (both)
                        snprintf(value, sizeof value, "--%s%s=", k ? "no-" : "", opt + 7);
                    else
                        snprintf(value, sizeof value, "%s=", opt);
                    args[argc] = value, args[argc + 1] = NULL;
                    run_result r = run(args);
                    ck_assert_msg(r.code == 2 && !strstr(r.err, "unknown option") &&
                                      count_lines(r.err) == 1,
                                  "%s %s: %s --help names %s, which is refused: %s",
                                  cmds[c][0], cmds[c][1] ? cmds[c][1] : "", cmds[c][0], value,
                                  r.err);
                    run_free(&r);
                    options++;
                }
            } else if (in_presets && strncmp(line, "  ", 2) == 0 && line[2] != ' ') {
                char name[32];
                sscanf(line + 2, "%31s", name);
                args[argc] = "--preset", args[argc + 1] = name, args[argc + 2] = "--dry-run";
                args[argc + 3] = NULL;
                run_result r = run(args);
                /* a preset made for a GPU is refused on a CPU, naming the engine */
                ck_assert_msg(r.code == 0 || (r.code == 2 && strstr(r.err, "--dataset")) ||
                                  (r.code == 2 && strstr(r.err, "--time-budget") &&
                                   strstr(r.err, "--engine cuda")),
                              "%s %s --preset %s --dry-run: exit %d: %s", cmds[c][0],
                              cmds[c][1] ? cmds[c][1] : "", name, r.code, r.err);
                run_free(&r);
                presets++;
            } else if (in_examples && strncmp(line, "  mwverify ", 11) == 0) {
                const char *ex[32];
                int n = 0;
                for (char *w = strtok(line + 11, " "); w && n < 30; w = strtok(NULL, " "))
                    ex[n++] = w;
                ex[n++] = "--help";
                ex[n] = NULL;
                run_result r = run(ex);
                ck_assert_msg(r.code == 0, "example of %s --help: %s", cmds[c][0], r.err);
                run_free(&r);
            }
            line = next;
        }
        ck_assert_msg(options > 0 || strcmp(cmds[c][1] ? cmds[c][1] : "", "schema") == 0 ||
                          strcmp(cmds[c][1] ? cmds[c][1] : "", "diff") == 0,
                      "%s: no option found in --help", cmds[c][0]);
        ck_assert(strcmp(cmds[c][0], "suite") != 0 || presets > 0);
        run_free(&h);
    }
}
END_TEST

/* reports/SCHEMA.md holds the output of `mwverify report schema` verbatim, between its
 * markers: the documented fields are the fields the code writes and reads. */
START_TEST(schema_doc_is_the_code)
{
    run_result r = run((const char *[]){"report", "schema", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "### run:"), "%s", r.err);
    FILE *f = fopen(MW_SCHEMA_MD, "r");
    ck_assert_msg(f != NULL, "%s", MW_SCHEMA_MD);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    ck_assert(fclose(f) == 0 && n < sizeof doc - 1);
    doc[n] = '\0';
    const char *begin = strstr(doc, "<!-- mwverify report schema: begin -->\n");
    const char *end = strstr(doc, "<!-- mwverify report schema: end -->");
    ck_assert(begin && end && end > begin);
    begin += strlen("<!-- mwverify report schema: begin -->\n");
    ck_assert_msg((size_t)(end - begin) == strlen(r.out) && memcmp(begin, r.out, strlen(r.out)) == 0,
                  "reports/SCHEMA.md differs from `mwverify report schema`: paste its output "
                  "between the markers");
    run_free(&r);
}
END_TEST

/* Every bad input: exit 2, nothing on stdout, one line on stderr naming the option
 * and the value (and what is allowed, where there is a list). */
START_TEST(bad_input_is_one_line_and_exit_2)
{
    static const struct {
        const char *args[6];
        const char *must[2]; /* substrings of the error line */
    } cases[] = {
        {{"grad", "--depth", "0"}, {"--depth 0", "1.."}},
        {{"grad", "--depth", "-3"}, {"--depth -3", NULL}},
        {{"grad", "--width", "7"}, {"--width 7", "even"}},
        {{"grad", "--width", "99999999999"}, {"--width 99999999999", NULL}},
        {{"grad", "--batch", "abc"}, {"--batch abc", NULL}},
        {{"grad", "--hidden", "0"}, {"--hidden 0", NULL}},
        {{"grad", "--methods", "backprop,foo"}, {"foo", "moonwalk"}},
        {{"grad", "--f-act", "sigmoid"}, {"--f-act sigmoid", "relu"}},
        {{"grad", "--out-act", "relu"}, {"--out-act relu", "invertible"}},
        {{"grad", "--dtype", "f16"}, {"--dtype f16", "f32"}},
        {{"grad", "--init-scale", "nan"}, {"--init-scale nan", NULL}},
        {{"grad", "--init-scale", "0"}, {"init-scale 0", NULL}},
        {{"grad", "--seed", "-1"}, {"--seed -1", NULL}},
        {{"grad", "--seed", "1,2"}, {"--seed 1,2", NULL}},
        {{"grad", "--no-such-option"}, {"--no-such-option", NULL}},
        {{"grad", "--depht", "3"}, {"--depht", "did you mean --depth?"}},
        {{"grad", "--depth"}, {"--depth", "value"}},
        {{"grad", "--depth", "2", "--depth", "3"}, {"--depth", "twice"}},
        {{"grad", "stray"}, {"stray", NULL}},
        {{"grad", "--bn", "--batch", "1"}, {"batch 1", "BatchNorm"}},
        {{"grad", "--oracle-bits", "10"}, {"--oracle-bits 10", "24"}},
        {{"grad", "--oracle-bits", "70000"}, {"--oracle-bits 70000", "65536"}},
        {{"grad", "--oracle", "bronze"}, {"--oracle bronze", "silver"}},
        {{"grad", "--oracle", "gold", "--gold-budget", "0"}, {"gold-budget", "silver"}},
        {{"grad", "--out", "/nonexistent-dir/x.h5"}, {"/nonexistent-dir", "does not exist"}},
        {{"grad", "--dump", "x.h5"}, {"--dump is now --out", NULL}},
        {{"gradcheck", "--depth", "1,0"}, {"--depth 1,0", "1.."}},
        {{"gradcheck", "--f-act", "sigmoid"}, {"sigmoid", "relu"}},
        {{"gradcheck", "--dtype", "f16"}, {"f16", "f32"}},
        {{"gradcheck", "--depths", "1,2"}, {"--depths is now --depth", NULL}},
        {{"suite", "gradcheck", "--preset", "huge"}, {"--preset huge", "quick"}},
        {{"suite", "gradcheck", "--depth", ""}, {"--depth", "comma list"}},
        {{"suite", "gradcheck", "--seed", "1,1"}, {"'1' given twice", NULL}},
        {{"suite", "gradcheck", "--jobs", "0"}, {"--jobs 0", "1..1024"}},
        {{"suite", "gradcheck", "--out", "/nonexistent-dir/r.h5"}, {"/nonexistent-dir", "does not exist"}},
        {{"suite", "gradcheck", "--resume", "--force"}, {"--force", "--resume"}},
        {{"suite", "gradcheck", "--arch", "revnet", "--width", "8"}, {"--width", "mlp"}},
        {{"suite", "frobnicate"}, {"frobnicate", "suite --help"}},
        {{"suite", "stabilty"}, {"stabilty", "did you mean stability?"}},
        {{"report", "summary", "/nonexistent-dir/r.h5"}, {"/nonexistent-dir/r.h5", "no such file"}},
        {{"report", "summary"}, {"report file", NULL}},
        {{"report", "plot", "r.h5", "--out", "fig.pdf"}, {"fig.pdf", ".png"}},
        {{"report", "nonsense"}, {"nonsense", "summary"}},
        {{"suite", "stability", "--epochs", "0"}, {"--epochs 0", "1.."}},
        {{"suite", "stability", "--gold-every", "0"}, {"--gold-every 0", NULL}},
        {{"suite", "stability", "--batch", "0"}, {"--batch 0", NULL}},
        {{"suite", "stability", "--batch", "4096"}, {"one batch", "4096"}},
        {{"suite", "stability", "--preset", "huge"}, {"--preset huge", "paper"}},
        {{"suite", "stability", "--preset", "paper"}, {"--dataset", "cifar10:DIR"}},
        {{"suite", "stability", "--dataset", "mnist"}, {"--dataset mnist", "fashion-mnist"}},
        {{"suite", "stability", "--dataset", "cifar10:/nonexistent-dir"}, {"data_batch_1.bin", NULL}},
        {{"suite", "stability", "--dataset", "fashion-mnist:/nonexistent-dir"}, {"train-images", NULL}},
        {{"suite", "stability", "--preset", "real", "--image", "13x13"}, {"--image 13x13", "28x28"}},
        {{"suite", "stability", "--arch", "revnet", "--image", "6x6"}, {"image 6x6", "divisible"}},
        {{"suite", "stability", "--image", "14x14"}, {"--image 14x14", "synthetic"}},
        {{"suite", "stability", "--engine", "tpu"}, {"--engine tpu", "cuda"}},
        {{"suite", "stability", "--time-budget", "30"}, {"--time-budget 30", "unit"}},
        {{"suite", "stability", "--lr", "-1"}, {"--lr -1", NULL}},
        {{"grad", "--math", "fp16"}, {"--math fp16", "tf32"}},
        {{"suite", "memory", "--preset", "standard"}, {"--preset standard", "paper"}},
        {{"suite", "timing", "--repeats", "0"}, {"--repeats 0", "1.."}},
        {{"suite", "memory", "--channels", "8,x"}, {"--channels 8,x", NULL}},
        {{"grad", "--arch", "revnet", "--channels", "3"}, {"--channels", "even"}},
        {{"grad", "--arch", "revnet", "--image", "8"}, {"--image 8", "HxW"}},
        {{"grad", "--arch", "resnet"}, {"--arch resnet", "revnet"}},
        {{"grad", "--arch", "revnet", "--width", "32"}, {"--width", "mlp option"}},
        {{"grad", "--blocks", "2"}, {"--blocks", "--arch revnet"}},
        {{"layer", "check", "--all"}, {"--all is gone", NULL}},
        {{"layer", "check", "nope"}, {"'nope'", "layer list"}},
        {{"layer", "check", "additive-vijp-sign"}, {"negative control", "--include-faulty"}},
        {{"layer", "check", "additive", "--factor", "0.5"}, {"--factor 0.5", NULL}},
        {{"layer", "check", "additive", "--baseline", "/nonexistent-dir/b.h5"}, {"/nonexistent-dir/b.h5", "no such file"}},
        {{"layer", "check", "additive", "--out", "/nonexistent-dir/r.h5"}, {"/nonexistent-dir", "does not exist"}},
        {{"layer", "frob"}, {"frob", "check"}},
        {{"suite", "layers", "--bogus"}, {"--bogus", NULL}},
        {{"help", "nonsense"}, {"nonsense", "grad"}},
        {{"grad", "--out-act", "leaky", "--leaky-slope", "0"}, {NULL, NULL}},
        {{"frobnicate"}, {"frobnicate", "grad"}},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) {
        const char *args[8] = {0};
        memcpy(args, cases[i].args, sizeof cases[i].args);
        /* the leaky-slope 0 case is valid unless an inverse method is named */
        if (i == n - 2)
            args[5] = "--methods", args[6] = "moonwalk";
        run_result r = run(args);
        ck_assert_msg(r.code == 2, "case %d (%s %s): exit %d, stderr: %s", i, args[1],
                      args[2] ? args[2] : "", r.code, r.err);
        ck_assert_msg(count_lines(r.err) == 1, "case %d: stderr is not one line: %s", i, r.err);
        ck_assert_msg(r.out[0] == '\0', "case %d wrote to stdout: %s", i, r.out);
        for (int k = 0; k < 2; k++)
            ck_assert_msg(!cases[i].must[k] || strstr(r.err, cases[i].must[k]),
                          "case %d: '%s' not in: %s", i, cases[i].must[k], r.err);
        if (i == n - 2)
            ck_assert(strstr(r.err, "moonwalk") && strstr(r.err, "not invertible"));
        run_free(&r);
    }
}
END_TEST

/* The JSON of the issue: spec, dtype, and per method rel_l2, max_abs, grad_norm,
 * peak_bytes, seconds, closure_err (a number for moonwalk and mixed, null for others);
 * in f64 the deterministic methods within 1e-10 of backprop. */
START_TEST(grad_json_f64)
{
    run_result r = run((const char *[]){"grad", "--dtype", "f64", "--methods", "all", "--json",
                                        "--depth", "3", "--out-act", "tanh", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v, "not JSON (%s): %s", err, r.out);
    ck_assert_str_eq(jr_get(v, "dtype")->text, "f64");
    const jr_value *orc = jr_get(v, "oracle");
    ck_assert_str_eq(jr_get(orc, "kind")->text, "gold");
    ck_assert(jr_number(jr_get(orc, "certified_bits")) >= 100);
    ck_assert_int_eq((int)jr_number(jr_get(jr_get(v, "spec"), "depth")), 3);
    const jr_value *ms = jr_get(v, "methods");
    static const char *names[] = {"backprop", "forward", "projforward", "revbackprop",
                                  "moonwalk", "mixed"};
    for (int m = 0; m < 6; m++) {
        const jr_value *e = jr_get(ms, names[m]);
        ck_assert_msg(e, "method %s missing", names[m]);
        static const char *keys[] = {"rel_l2", "max_abs", "grad_norm", "peak_bytes", "seconds"};
        for (int k = 0; k < 5; k++)
            ck_assert_msg(jr_get(e, keys[k]) && jr_get(e, keys[k])->type == JR_NUMBER,
                          "%s.%s is not a number", names[m], keys[k]);
        const jr_value *cl = jr_get(e, "closure_err");
        ck_assert(cl && cl->type == (m >= 4 ? JR_NUMBER : JR_NULL));
        if (m != 2)
            ck_assert_msg(jr_number(jr_get(e, "rel_l2")) <= 1e-10, "%s rel_l2 %s", names[m],
                          jr_get(e, "rel_l2")->text);
    }
    jr_free(v);
    run_free(&r);
}
END_TEST

/* --out writes an HDF5 file h5dump reads; an existing file is never replaced without
 * --force, and is left exactly as it was. */
START_TEST(grad_dump)
{
    char dir[200], path[300], cmd[1200];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mw-test-cli-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/grad.h5", dir);
    run_result r = run((const char *[]){"grad", "--depth", "2", "--out", path, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    /* report summary reads a dump as a report of one network */
    r = run((const char *[]){"report", "summary", path, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "suite grad") && strstr(r.out, "moonwalk"), "%s%s",
                  r.out, r.err);
    run_free(&r);
    snprintf(cmd, sizeof cmd, "%s/grad.png", dir);
    r = run((const char *[]){"report", "plot", path, "--out", cmd, NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "gradient dump") && count_lines(r.err) == 1, "%s",
                  r.err);
    run_free(&r);
    snprintf(cmd, sizeof cmd, "h5dump -A '%s' > '%s/dump.txt'", path, dir);
    ck_assert_msg(system(cmd) == 0, "h5dump cannot read %s", path);
    snprintf(cmd, sizeof cmd, "grep -q 'mwverify-grad-dump' '%s/dump.txt' && grep -q 'GROUP \"methods\"' '%s/dump.txt'", dir, dir);
    ck_assert(system(cmd) == 0);
    /* an existing file: refused, untouched */
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs("precious", f) >= 0 && fclose(f) == 0);
    r = run((const char *[]){"grad", "--depth", "2", "--out", path, NULL});
    ck_assert(r.code == 2 && strstr(r.err, "--force") && count_lines(r.err) == 1);
    run_free(&r);
    char buf[16] = "";
    f = fopen(path, "r");
    ck_assert(f && fgets(buf, sizeof buf, f) && fclose(f) == 0);
    ck_assert_str_eq(buf, "precious");
    r = run((const char *[]){"grad", "--depth", "2", "--out", path, "--force", NULL});
    ck_assert(r.code == 0);
    run_free(&r);
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' > /dev/null && rm -rf '%s'", path, dir);
    ck_assert(system(cmd) == 0);
}
END_TEST

/* gradcheck on a reduced grid: the JSON of the issue, every cell certified, f64 within
 * the tolerance; an impossible tolerance makes it exit 1. */
START_TEST(gradcheck_json)
{
    run_result r = run((const char *[]){"gradcheck", "--arch", "mlp", "--depth", "1,3", "--f-act",
                                        "tanh", "--out-act", "none,tanh", "--json", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v, "not JSON (%s)", err);
    const jr_value *cells = jr_get(v, "cells");
    ck_assert(cells && cells->n == 8);
    for (size_t i = 0; i < cells->n; i++) {
        const jr_value *c = &cells->items[i], *o = jr_get(c, "oracle");
        ck_assert(jr_get(c, "spec") && jr_get(c, "dtype"));
        ck_assert(jr_number(jr_get(o, "bits")) == 256);
        ck_assert(jr_number(jr_get(o, "certified_bits")) >= 100);
        ck_assert(jr_number(jr_get(o, "fd_agree_bits")) >= 100);
        /* gold carries its proof: the enclosures' bits beside the agreement */
        ck_assert(jr_number(jr_get(o, "proved_bits")) >= 100 &&
                  jr_number(jr_get(o, "proved_bits")) <= 256);
        ck_assert(jr_number(jr_get(o, "kinks")) == 0);
        const jr_value *bp = jr_get(jr_get(c, "methods"), "backprop");
        static const char *keys[] = {"rel_l2", "max_abs", "max_ulp", "cosine"};
        for (int k = 0; k < 4; k++)
            ck_assert(jr_get(bp, keys[k])->type == JR_NUMBER);
        const jr_value *pl = jr_get(bp, "per_layer_rel_l2");
        ck_assert(pl && pl->type == JR_ARRAY &&
                  pl->n == (size_t)jr_number(jr_get(jr_get(c, "spec"), "depth")) + 1);
    }
    ck_assert(jr_number(jr_get(v, "failures")) == 0);
    jr_free(v);
    run_free(&r);
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--depth", "1", "--f-act", "tanh",
                             "--out-act", "none", "--tol", "1e-30", "--quiet", NULL});
    ck_assert_msg(r.code == 1, "exit %d", r.code);
    ck_assert_msg(strstr(r.out, "FAILED runs (5)") &&
                      strstr(r.out, "f64 moonwalk: rel_l2") && strstr(r.out, "5 failures"),
                  "%s", r.out);
    run_free(&r);
}
END_TEST


/* ---- suites and reports ---- */

static char suite_dir[200];

static void suite_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(suite_dir, sizeof suite_dir, "%s/mw-test-suite-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(suite_dir) != NULL);
}

static void suite_rmdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", suite_dir);
    ck_assert(system(cmd) == 0);
}

/* --oracle proof: every cell measured against the interval reference's midpoints, its
 * proved bits (>= 100 at 256 bits on every network of a small mixed grid, depth 16
 * included) in the JSON, the summary and the figure's own panel; gradcheck refuses an
 * oracle that is not exact, and grad names a kink-free network's proof. */
START_TEST(gradcheck_proof)
{
    suite_tmpdir();
    char path[300], png[300];
    snprintf(path, sizeof path, "%s/proof.h5", suite_dir);
    snprintf(png, sizeof png, "%s/proof.png", suite_dir);
    run_result r = run((const char *[]){"gradcheck", "--oracle", "proof", "--arch", "mlp,revnet",
                                        "--depth", "1,4,16", "--f-act", "relu,tanh", "--out-act",
                                        "tanh", "--proj-repeats", "1", "--json", "--out", path,
                                        NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v, "not JSON (%s)", err);
    const jr_value *cells = jr_get(v, "cells");
    ck_assert(cells && cells->n == 16); /* (3 mlps + 1 revnet) x 2 F acts x 2 dtypes */
    for (size_t i = 0; i < cells->n; i++) {
        const jr_value *o = jr_get(&cells->items[i], "oracle");
        ck_assert_str_eq(jr_get(o, "kind")->text, "proof");
        ck_assert_msg(jr_number(jr_get(o, "proved_bits")) >= 100, "cell %zu: %g bits", i,
                      jr_number(jr_get(o, "proved_bits")));
        ck_assert(jr_number(jr_get(o, "kinks")) == 0 && jr_number(jr_get(o, "undetermined")) == 0);
        ck_assert(!jr_get(o, "certified_bits") || jr_get(o, "certified_bits")->type == JR_NULL);
    }
    jr_free(v);
    run_free(&r);
    r = run((const char *[]){"report", "summary", path, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "oracle proof: MPFI enclosures at 256 bits"), "%s",
                  r.err);
    run_free(&r);
    r = run((const char *[]){"report", "plot", path, "--out", png, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    struct stat sb;
    ck_assert(stat(png, &sb) == 0 && sb.st_size > 1000);
    r = run((const char *[]){"gradcheck", "--oracle", "silver", NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "gold or proof") && count_lines(r.err) == 1, "%s",
                  r.err);
    run_free(&r);
    r = run((const char *[]){"grad", "--oracle", "proof", "--depth", "3", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "oracle proof: MPFI enclosures") &&
                      strstr(r.out, "bits proved of every entry"),
                  "%s%s", r.out, r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* suite gradcheck writes a report that summary reads (table and JSON) and plot draws; an
 * existing report is neither replaced nor touched without --force. */
START_TEST(suite_report_summary_plot)
{
    suite_tmpdir();
    char path[300], png[300], svg[300];
    snprintf(path, sizeof path, "%s/r.h5", suite_dir);
    snprintf(png, sizeof png, "%s/r.png", suite_dir);
    snprintf(svg, sizeof svg, "%s/r.svg", suite_dir);
    run_result r = run((const char *[]){"suite", "gradcheck", "--arch", "mlp", "--depth", "1,2",
                                        "--f-act", "tanh", "--out-act", "none", "--out", path,
                                        NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert(strstr(r.out, "2 networks, 24 runs; 0 failures"));
    run_free(&r);
    r = run((const char *[]){"report", "summary", path, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "moonwalk") && strstr(r.out, "certified"), "%s", r.err);
    run_free(&r);
    r = run((const char *[]){"report", "summary", path, "--json", NULL});
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v && jr_get(v, "runs")->n == 24, "%s", err);
    ck_assert_str_eq(jr_get(&jr_get(v, "runs")->items[0], "status")->text, "complete");
    jr_free(v);
    run_free(&r);
    r = run((const char *[]){"report", "plot", path, "--out", png, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    r = run((const char *[]){"report", "plot", "--out", svg, path, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    struct stat sb;
    ck_assert(stat(png, &sb) == 0 && sb.st_size > 1000 && stat(svg, &sb) == 0 && sb.st_size > 1000);
    /* again without --force: refused, the report as it was */
    ck_assert(stat(path, &sb) == 0);
    off_t size = sb.st_size;
    r = run((const char *[]){"suite", "gradcheck", "--depth", "1", "--out", path, NULL});
    ck_assert(r.code == 2 && strstr(r.err, "--force") && count_lines(r.err) == 1);
    run_free(&r);
    ck_assert(stat(path, &sb) == 0 && sb.st_size == size);
    /* Python's h5py reads it without us: the summary table, a run's tables, attributes */
    char py[1400];
    snprintf(py, sizeof py,
             "/usr/bin/python3 -c \"import h5py, json\n"
             "f = h5py.File('%s', 'r')\n"
             "assert f.attrs['format'] == 'mwverify-report' and f.attrs['format_version'] == 4\n"
             "assert json.loads(f.attrs['config'])['grid']['depths'] == [1, 2]\n"
             "s = f['summary'][()]\n"
             "assert len(s) == 24 and set(s['status']) == {b'complete'}\n"
             "assert set(s['verdict']) == {b'pass'}\n"
             "r = f['runs/run-000000']\n"
             "assert r.attrs['method'] == 'backprop' and r['steps'].maxshape == (None,)\n"
             "assert r.attrs['verdict'] == 'pass' and r.attrs['why'].startswith('rel_l2 ')\n"
             "assert r['layer_rel_l2'].shape == (1, 2) and r['steps'][0]['rel_l2'] < 1e-6\n"
             "assert f['networks/net-000000'].attrs['oracle_certified_bits'] >= 100\n\"", path);
    if (system("/usr/bin/python3 -c 'import h5py' 2> /dev/null") == 0)
        ck_assert_msg(system(py) == 0, "h5py could not read the report as documented");
    else
        fprintf(stderr, "note: python3-h5py not installed, the h5py reading was not checked\n");
    /* summary of something that is not a report: one line, exit 2 */
    r = run((const char *[]){"report", "summary", png, NULL});
    ck_assert(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "HDF5"));
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* Two records hold the same numbers in every field, timings aside (NaN equal to NaN). */
static int same_numbers(const mw_record *r, const void *a, const void *b)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (strstr(f->name, "seconds") || f->kind == MW_FK_STR)
            continue;
        if (f->kind == MW_FK_RECORD) {
            if (!same_numbers(f->sub, mw_field_at_c(f, a), mw_field_at_c(f, b)))
                return 0;
            continue;
        }
        if (f->kind == MW_FK_LIST || f->kind == MW_FK_SET)
            continue;
        double x = mw_field_number(f, a), y = mw_field_number(f, b);
        if (!(x == y || (isnan(x) && isnan(y))))
            return 0;
    }
    return 1;
}

/* Two reports hold the same numbers (timings aside). */
static void same_reports(const char *pa, const char *pb)
{
    mw_report a, b;
    mw_err err;
    ck_assert_msg(mw_report_load(&a, pa, &err) == MW_OK, "%s", err.msg);
    ck_assert_msg(mw_report_load(&b, pb, &err) == MW_OK, "%s", err.msg);
    ck_assert_uint_eq(a.n_networks, b.n_networks);
    ck_assert_uint_eq(a.n_runs, b.n_runs);
    for (size_t i = 0; i < a.n_networks; i++) {
        const mw_report_network *x = &a.networks[i], *y = &b.networks[i];
        ck_assert_msg(same_numbers(&mw_network_record, x, y), "network %ld differs", x->index);
        ck_assert(x->n_ref_steps == y->n_ref_steps && x->n_ref_epochs == y->n_ref_epochs);
        for (size_t k = 0; k < x->n_ref_steps; k++)
            ck_assert(same_numbers(&mw_step_record, &x->ref_steps[k], &y->ref_steps[k]));
    }
    for (size_t i = 0; i < a.n_runs; i++) {
        const mw_report_run *x = &a.runs[i], *y = &b.runs[i];
        ck_assert_msg(same_numbers(&mw_run_record, x, y), "run %ld differs", x->index);
        ck_assert(x->n_steps == y->n_steps && x->n_epochs == y->n_epochs);
        for (size_t k = 0; k < x->n_steps; k++)
            ck_assert_msg(same_numbers(&mw_step_record, &x->steps[k], &y->steps[k]),
                          "run %ld differs at step %zu", x->index, k);
        for (size_t e = 0; e < x->n_epochs; e++)
            ck_assert(same_numbers(&mw_epoch_record, &x->epochs[e], &y->epochs[e]));
    }
    mw_report_free(&a);
    mw_report_free(&b);
}

/* SIGKILL at any moment leaves a report that opens with whole networks only; --resume
 * finishes it to the same numbers as a run never interrupted. Three kills: one just after
 * the first network is written, two at pseudo-random moments of the resumed runs. */
START_TEST(suite_kill_and_resume)
{
    suite_tmpdir();
    char path[300], whole[300];
    mw_err err;
    snprintf(path, sizeof path, "%s/killed.h5", suite_dir);
    snprintf(whole, sizeof whole, "%s/whole.h5", suite_dir);
    const char *grid[] = {"--arch", "mlp", "--depth", "1,2,4", "--f-act", "relu,tanh",
                          "--proj-repeats", "2", "--quiet"};
    const char *args[20] = {"suite", "gradcheck"};
    int n = 2;
    for (int i = 0; i < 9; i++)
        args[n++] = grid[i];
    args[n++] = "--out";
    args[n++] = whole;
    run_result r = run(args);
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);

    args[n - 1] = path;
    uint64_t seed = tu_seed();
    for (int kill_no = 0; kill_no < 3; kill_no++) {
        if (kill_no > 0)
            args[n] = "--resume";
        char *argv[24];
        int argc = 0;
        argv[argc++] = (char *)MW_BINARY;
        for (int i = 0; i < n + (kill_no > 0); i++)
            argv[argc++] = (char *)args[i];
        argv[argc] = NULL;
        pid_t pid;
        ck_assert(posix_spawn(&pid, MW_BINARY, NULL, NULL, argv, environ) == 0);
        if (kill_no == 0) { /* wait for the first network to be committed */
            for (int spin = 0; spin < 6000; spin++) {
                mw_report rep;
                if (mw_report_load(&rep, path, &err) == MW_OK) {
                    size_t nn = rep.n_networks;
                    mw_report_free(&rep);
                    if (nn >= 1)
                        break;
                }
                usleep(5000);
            }
        } else {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            usleep((useconds_t)(20000 + (seed >> 33) % 200000));
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        mw_report rep;
        ck_assert_msg(mw_report_load(&rep, path, &err) == MW_OK, "kill %d: %s", kill_no, err.msg);
        if (kill_no == 0)
            ck_assert_msg(rep.n_networks >= 1 && rep.n_networks < 12,
                          "the first kill came after %zu of 12 networks", rep.n_networks);
        /* every network in the file is whole: all its 12 runs, none running */
        ck_assert_uint_eq(rep.n_runs, rep.n_networks * 12);
        for (size_t k = 0; k < rep.n_runs; k++)
            ck_assert(rep.runs[k].status != MW_RUN_RUNNING);
        mw_report_free(&rep);
    }
    args[n] = "--resume";
    args[n + 1] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 0, "resume: %s", r.err);
    run_free(&r);
    same_reports(path, whole);
    /* nothing left beside the reports */
    char cmd[400];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls '%s' | grep tmp)\"", suite_dir);
    ck_assert(system(cmd) == 0);
    /* a resume with other options is refused */
    const char *other[] = {"suite", "gradcheck", "--depth", "1", "--out", path, "--resume", NULL};
    r = run(other);
    ck_assert_msg(r.code == 2 && strstr(r.err, "another configuration") && count_lines(r.err) == 1,
                  "%s", r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* suite stability prints its verdict, writes a report whose summary shows the verdict
 * and whose plot is drawn; killed after its first network, --resume finishes it to the
 * same numbers as a run never interrupted. */
START_TEST(stability_report_and_resume)
{
    suite_tmpdir();
    char path[300], whole[300], png[300];
    mw_err e;
    snprintf(path, sizeof path, "%s/s.h5", suite_dir);
    snprintf(whole, sizeof whole, "%s/whole.h5", suite_dir);
    snprintf(png, sizeof png, "%s/s.png", suite_dir);
    const char *grid[] = {"suite", "stability", "--depth", "2", "--f-act", "tanh", "--out-act",
                          "none,tanh", "--epochs", "2", "--train-samples", "256", "--width", "8",
                          "--hidden", "8", "--quiet", "--jobs", "1", "--out"};
    const char *args[32];
    int n = 0;
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++)
        args[n++] = grid[i];
    args[n] = whole, args[n + 1] = NULL;
    run_result r = run(args);
    ck_assert_msg(r.code == 0, "%s", r.err);
    ck_assert_msg(strstr(r.out, "verdict") && strstr(r.out, "revbackprop") && strstr(r.out, "growth"),
                  "%s", r.out);
    run_free(&r);
    r = run((const char *[]){"report", "summary", whole, NULL});
    ck_assert(r.code == 0 && strstr(r.out, "verdict") && strstr(r.out, "reference (float64 backprop)"));
    run_free(&r);
    r = run((const char *[]){"report", "summary", whole, "--json", NULL});
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v && jr_get(v, "verdict") && jr_get(v, "verdict")->n == 12, "%s", err);
    jr_free(v);
    run_free(&r);
    r = run((const char *[]){"report", "plot", whole, "--out", png, NULL});
    struct stat sb;
    ck_assert_msg(r.code == 0 && stat(png, &sb) == 0 && sb.st_size > 1000, "%s", r.err);
    run_free(&r);

    /* killed once the first network is in, then resumed */
    args[n] = path;
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)MW_BINARY;
    for (int i = 0; i <= n; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    pid_t pid;
    ck_assert(posix_spawn(&pid, MW_BINARY, NULL, NULL, argv, environ) == 0);
    for (int spin = 0; spin < 6000; spin++) {
        mw_report rep;
        if (mw_report_load(&rep, path, &e) == MW_OK) {
            size_t nn = 0;
            for (size_t k = 0; k < rep.n_runs; k++)
                nn += rep.runs[k].status != MW_RUN_RUNNING;
            mw_report_free(&rep);
            if (nn >= 1)
                break;
        }
        usleep(5000);
    }
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    mw_report rep;
    ck_assert_msg(mw_report_load(&rep, path, &e) == MW_OK, "%s", e.msg);
    mw_report_free(&rep);
    args[n + 1] = "--resume", args[n + 2] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 0, "resume: %s", r.err);
    run_free(&r);
    same_reports(path, whole);
    suite_rmdir();
}
END_TEST

/* The table says when a result is not finite: a saturated f32 tanh stops revbackprop. */
START_TEST(grad_table_says_nonfinite)
{
    run_result r = run((const char *[]){"grad", "--init-scale", "60", "--out-act", "tanh",
                                        "--f-act", "identity", "--depth", "2", NULL});
    ck_assert_int_eq(r.code, 0);
    const char *row = strstr(r.out, "\nf32  revbackprop");
    ck_assert_msg(row && strstr(row, "NON-FINITE"), "%s", r.out);
    ck_assert(strstr(r.out, "backprop ") && strstr(r.out, "closure"));
    /* where, and why: tanh's output rounded to ±1, whose atanh is infinite */
    ck_assert_msg(strstr(row, "layer 2 inverse: reconstructed input is infinite") &&
                      strstr(row, "tanh(z) there is exactly ") &&
                      strstr(row, "(tanh rounded to ±1 in f32, |z| beyond about 9.0), and "
                                  "atanh(±1) is infinite"),
                  "%s", row);
    run_free(&r);
    /* the saturated regime: an error reconstructed in the layers above pushes y out of
     * (−1, 1) (the issue's network at seed 6: layer 5, row 0, column 5) */
    r = run((const char *[]){"grad", "--width", "8", "--hidden", "8", "--units", "2", "--depth",
                             "10", "--f-act", "relu", "--out-act", "tanh", "--batch", "3",
                             "--classes", "3", "--init-scale", "3", "--seed", "6", "--methods",
                             "revbackprop", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "layer 5 inverse: reconstructed input is NaN at "
                                               "row 0, column 5: y = 1.00") &&
                      strstr(r.out, "outside tanh's range (−1, 1): the layers above"),
                  "exit %d: %s", r.code, r.out);
    run_free(&r);
    /* the same network as a suite's: the stopped run is a result with its row, in the
     * report too (it once crashed the worker that copied it) */
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--init-scale", "60", "--out-act", "tanh",
                             "--f-act", "identity", "--depth", "2", "--dtype", "f32",
                             "--proj-repeats", "0", "--quiet", NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "revbackprop") && strstr(r.out, "NON-FINITE"),
                  "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
}
END_TEST

/* gradcheck on the revnet cell: gold certifies the conv path, the float64 deterministic
 * methods are within the tolerance of it (exit 0, no failed run), the JSON names the
 * revnet's shape. */
START_TEST(gradcheck_revnet)
{
    run_result r = run((const char *[]){"gradcheck", "--arch", "revnet", "--f-act", "relu",
                                        "--out-act", "tanh", "--proj-repeats", "0", "--json",
                                        "--quiet", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v, "not JSON (%s)", err);
    ck_assert(jr_number(jr_get(v, "failures")) == 0);
    const jr_value *cells = jr_get(v, "cells");
    ck_assert(cells && cells->n == 2);
    for (size_t i = 0; i < cells->n; i++) {
        const jr_value *c = &cells->items[i], *sp = jr_get(c, "spec");
        ck_assert_str_eq(jr_get(sp, "arch")->text, "revnet");
        ck_assert(jr_number(jr_get(sp, "channels")) == 4 && jr_number(jr_get(sp, "blocks")) == 3);
        ck_assert(jr_number(jr_get(jr_get(c, "oracle"), "certified_bits")) >= 100);
        if (strcmp(jr_get(c, "dtype")->text, "f64") == 0)
            for (int m = 0; m < MW_N_METHODS; m++) {
                if (mw_method_is_stochastic((mw_method)m))
                    continue;
                const jr_value *mv = jr_get(jr_get(c, "methods"), mw_method_name((mw_method)m));
                ck_assert_msg(mv && jr_number(jr_get(mv, "rel_l2")) <= 1e-11, "%s",
                              mw_method_name((mw_method)m));
            }
    }
    jr_free(v);
    run_free(&r);
}
END_TEST

/* suite stability trains a revnet (BN's running statistics in the held-out accuracy) and
 * writes a report that reads back with the revnet's shape; on real data, an mlp and a
 * revnet on Fashion-MNIST pooled to 7x7, fitted to the data (10 classes, the mlp on 2 x 49
 * features with the zero channel, the revnet on its default 4 channels, 3 of them zero). */
START_TEST(stability_revnet_and_fashion)
{
    suite_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/rv.h5", suite_dir);
    run_result r = run((const char *[]){"suite", "stability", "--arch", "revnet", "--image", "4x4",
                                        "--blocks", "2", "--layers-per-block", "1", "--f-act",
                                        "relu", "--out-act", "none", "--seed", "1", "--epochs",
                                        "2", "--train-samples", "64", "--test-samples", "32",
                                        "--batch", "8", "--quiet", "--out", path, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.out, "revnet") && strstr(r.out, "mixed"), "%s", r.out);
    run_free(&r);
    r = run((const char *[]){"report", "summary", path, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "revnet 4x4x4, 2 blocks"), "%s%s", r.out, r.err);
    run_free(&r);

    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("stability_revnet_and_fashion: Fashion-MNIST is not installed here "
               "(apt-get install dataset-fashion-mnist); its half of the test is skipped\n");
    } else {
        snprintf(path, sizeof path, "%s/fm.h5", suite_dir);
        r = run((const char *[]){"suite", "stability", "--dataset", "fashion-mnist", "--image",
                                 "7x7", "--arch", "mlp,revnet", "--depth", "2",
                                 "--layers-per-block", "1", "--blocks", "1", "--f-act", "tanh",
                                 "--out-act", "none", "--seed", "1", "--epochs", "1",
                                 "--train-samples", "64", "--test-samples", "64", "--batch", "8",
                                 "--methods", "backprop,mixed", "--quiet", "--out", path, NULL});
        ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
        run_free(&r);
        r = run((const char *[]){"report", "summary", path, NULL});
        ck_assert_msg(r.code == 0 && strstr(r.out, "mlp width 98") &&
                          strstr(r.out, "revnet 4x7x7") && strstr(r.out, "classes 10"),
                      "%s%s", r.out, r.err);
        run_free(&r);
    }
    suite_rmdir();
}
END_TEST

/* The paper preset reads CIFAR-10 (here, files in its format), fits the revnet to it, and
 * on this CPU refuses with its estimate and the way out; so does any run over
 * --time-budget. One line each, exit 2. A run with no --out whose default name another
 * run took that second (a file there) takes the next free one rather than refusing. */
START_TEST(paper_preset_estimates_and_refuses)
{
    suite_tmpdir();
    static const char *files[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                  "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    unsigned char rec[3073];
    for (int f = 0; f < 6; f++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", suite_dir, files[f]);
        FILE *fp = fopen(p, "wb");
        ck_assert(fp);
        for (int i = 0; i < 600; i++) {
            rec[0] = (unsigned char)(i % 10);
            for (int k = 1; k < 3073; k++)
                rec[k] = (unsigned char)((k * 7 + i * 13 + f) % 256);
            ck_assert(fwrite(rec, 1, sizeof rec, fp) == sizeof rec);
        }
        ck_assert(fclose(fp) == 0);
    }
    char ds[320];
    snprintf(ds, sizeof ds, "cifar10:%s", suite_dir);
    run_result r = run((const char *[]){"suite", "stability", "--preset", "paper", "--dataset", ds,
                                        "--train-samples", "600", "--test-samples", "600", NULL});
    ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "--engine cuda") &&
                      strstr(r.err, "160 networks") && r.out[0] == '\0',
                  "exit %d: %s", r.code, r.err);
    run_free(&r);
    char here[4096];
    ck_assert(getcwd(here, sizeof here) && chdir(suite_dir) == 0);
    for (int ahead = 0; ahead < 3; ahead++) { /* the default names of this second and the next */
        time_t t = time(NULL) + ahead;
        struct tm tm;
        char name[96];
        strftime(name, sizeof name, "mwverify-stability-%Y%m%dT%H%M%SZ.h5", gmtime_r(&t, &tm));
        FILE *f = fopen(name, "w");
        ck_assert(f && fclose(f) == 0);
    }
    r = run((const char *[]){"suite", "stability", "--time-budget", "1s", NULL});
    ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "--time-budget"),
                  "exit %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"suite", "stability", "--resume", NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "--resume") && strstr(r.err, "--out"),
                  "exit %d: %s", r.code, r.err);
    run_free(&r);
    ck_assert(chdir(here) == 0);
    suite_rmdir();
}
END_TEST

/* The commands that can run long say what they will cost before any work, and refuse
 * beyond their budget there: exit 2, one line naming the estimate and the budget, and
 * nothing written. The reproducers of the issue, at sizes refused at once (the run they
 * were stopped in is never started). */
START_TEST(over_budget_is_refused_before_work)
{
    suite_tmpdir();
    char out[300];
    snprintf(out, sizeof out, "%s/r.h5", suite_dir);
    static const struct {
        const char *args[10];
        const char *budget; /* in the line */
    } cases[] = {
        /* hours of forward mode on a wide deep network: over the default 10 min */
        {{"grad", "--methods", "forward", "--width", "4096", "--depth", "64"}, "--time-budget"},
        /* 2^24 projforward samples */
        {{"grad", "--proj-samples", "16777216", "--methods", "projforward"}, "--time-budget"},
        /* the largest batch: about a minute and a half on two cores, over 10 s */
        {{"grad", "--batch", "1048576", "--time-budget", "10s"}, "--time-budget"},
        /* the deepest networks: a minute of timings, over 10 s */
        {{"suite", "timing", "--depth", "4096", "--time-budget", "10s"}, "--time-budget"},
        {{"gradcheck", "--depth", "1", "--time-budget", "1s"}, "--time-budget"},
        {{"suite", "memory", "--time-budget", "0s"}, "--time-budget"},
        {{"layer", "check", "additive", "--time-budget", "0s"}, "--time-budget"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *args[14] = {0};
        size_t n = 0;
        while (n < 10 && cases[i].args[n])
            args[n] = cases[i].args[n], n++;
        args[n++] = "--out", args[n++] = out;
        run_result r = run(args);
        struct stat sb;
        ck_assert_msg(r.code == 2, "case %zu (%s %s): exit %d, stderr: %s", i, args[0], args[1],
                      r.code, r.err);
        ck_assert_msg(count_lines(r.err) == 1, "case %zu: stderr is not one line: %s", i, r.err);
        ck_assert_msg(strstr(r.err, "estimated") && strstr(r.err, cases[i].budget),
                      "case %zu: no estimate or '%s' in: %s", i, cases[i].budget, r.err);
        ck_assert_msg(r.out[0] == '\0', "case %zu wrote to stdout: %s", i, r.out);
        ck_assert_msg(stat(out, &sb) != 0, "case %zu wrote %s", i, out);
        run_free(&r);
    }
    suite_rmdir();
}
END_TEST

/* grad says its estimate first (standard error, one line: time, memory, each part), and
 * --dry-run says it on standard output and stops without computing or writing anything. */
START_TEST(grad_estimate_and_dry_run)
{
    suite_tmpdir();
    char out[300];
    snprintf(out, sizeof out, "%s/g.h5", suite_dir);
    run_result r = run((const char *[]){"grad", "--methods", "backprop,mixed", NULL});
    ck_assert_msg(r.code == 0 && count_lines(r.err) == 1 && strncmp(r.err, "grad: about ", 12) == 0 &&
                      strstr(r.err, "of memory at most") && strstr(r.err, "mixed") &&
                      strstr(r.err, "gold"),
                  "exit %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"grad", "--dry-run", "--out", out, NULL});
    struct stat sb;
    ck_assert_msg(r.code == 0 && r.err[0] == '\0' && count_lines(r.out) == 1 &&
                      strncmp(r.out, "grad: about ", 12) == 0 && stat(out, &sb) != 0,
                  "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
    r = run((const char *[]){"grad", "--quiet", "--methods", "backprop", NULL});
    ck_assert_msg(r.code == 0 && r.err[0] == '\0', "exit %d: %s", r.code, r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* --engine cuda without a usable device (or in a build without CUDA) is one line and exit
 * 3, for every command; where a device exists the same commands run (exit 0). */
START_TEST(engine_cuda_fails_cleanly)
{
    static const char *cmds[][8] = {
        {"grad", "--engine", "cuda", "--methods", "backprop", "--oracle", "silver", NULL},
        {"gradcheck", "--engine", "cuda", "--depth", "1", "--f-act", "tanh", NULL},
        {"suite", "stability", "--engine", "cuda", "--epochs", "1", "--quiet", NULL},
    };
    for (int i = 0; i < 3; i++) {
        run_result r = run(cmds[i]);
        if (r.code == 0) {
            printf("engine_cuda_fails_cleanly: a CUDA device is present; %s ran\n", cmds[i][0]);
        } else {
            ck_assert_msg(r.code == 3 && count_lines(r.err) == 1 && strstr(r.err, "--engine cuda"),
                          "%s: exit %d: %s", cmds[i][0], r.code, r.err);
        }
        run_free(&r);
    }
}
END_TEST

/* The CUDA engine is a module loaded on first use of --engine cuda: mwverify itself needs
 * no CUDA library (a run on the CPU maps none), and a module that is missing or is not
 * the engine is one line and exit 3 naming where it looked. */
START_TEST(cuda_engine_is_a_module)
{
#ifndef MW_CUDA_MODULE
    printf("cuda_engine_is_a_module: this build has no CUDA engine\n");
#else
    setenv("LD_TRACE_LOADED_OBJECTS", "1", 1); /* the loader lists what it maps, as ldd */
    run_result r = run((const char *[]){"--version", NULL});
    unsetenv("LD_TRACE_LOADED_OBJECTS");
    ck_assert_msg(r.code == 0 && strstr(r.out, "libc.so"), "no list of libraries: %s", r.out);
    ck_assert_msg(!strstr(r.out, "libcudart") && !strstr(r.out, "libcublas"),
                  "mwverify maps the CUDA libraries at start: %s", r.out);
    run_free(&r);

    char dir[] = "/tmp/mwverify-cudamod-XXXXXX", copy[96], module[96], cmd[256];
    ck_assert(mkdtemp(dir) != NULL);
    snprintf(copy, sizeof copy, "%s/mwverify", dir);
    snprintf(module, sizeof module, "%s/mwverify-cuda.so", dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", MW_BINARY, copy);
    ck_assert(system(cmd) == 0);
    static const char *const args[] = {"grad", "--engine", "cuda", "--methods", "backprop",
                                       "--oracle", "silver", NULL};
    for (int k = 0; k < 2; k++) {
        if (k == 1) { /* a file in the module's place that is no shared object */
            FILE *f = fopen(module, "w");
            ck_assert(f && fputs("not an ELF file\n", f) >= 0 && fclose(f) == 0);
        }
        r = tu_run(copy, args);
        ck_assert_msg(r.code == 3 && count_lines(r.err) == 1 && strstr(r.err, "--engine cuda") &&
                          strstr(r.err, dir) &&
                          strstr(r.err, k == 0 ? "module is missing" : "cannot load"),
                      "module %s: exit %d: %s", k == 0 ? "missing" : "garbage", r.code, r.err);
        run_free(&r);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
#endif
}
END_TEST

/* suite memory (its quick preset) and a small suite timing: the fits and ratios printed,
 * stored, read back by report summary --json, and drawn by report plot. */
START_TEST(memory_and_timing_suites)
{
    suite_tmpdir();
    char mem[300], tim[300], png[300];
    snprintf(mem, sizeof mem, "%s/mem.h5", suite_dir);
    snprintf(tim, sizeof tim, "%s/tim.h5", suite_dir);
    snprintf(png, sizeof png, "%s/mem.png", suite_dir);
    run_result r = run((const char *[]){"suite", "memory", "--quiet", "--out", mem, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert_msg(strstr(r.out, "growth with depth") && strstr(r.out, "backprop/moonwalk") &&
                      strstr(r.out, "revnet 18x8x8"), "%s", r.out);
    run_free(&r);
    r = run((const char *[]){"report", "summary", mem, "--json", NULL});
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(v && jr_get(v, "fits") && jr_get(v, "ratios"), "%s", err);
    const jr_value *fits = jr_get(v, "fits");
    int checked = 0;
    for (size_t i = 0; i < fits->n; i++) {
        const jr_value *f = &fits->items[i];
        if (strcmp(jr_get(f, "quantity")->text, "peak_bytes") != 0)
            continue;
        if (strcmp(jr_get(f, "method")->text, "revbackprop") == 0)
            ck_assert(jr_number(jr_get(f, "exponent")) == 0), checked++;
        if (strcmp(jr_get(f, "method")->text, "backprop") == 0)
            ck_assert(jr_number(jr_get(f, "exponent")) > 0.5), checked++;
    }
    ck_assert_int_eq(checked, 6);
    jr_free(v);
    run_free(&r);
    r = run((const char *[]){"report", "plot", mem, "--out", png, NULL});
    struct stat sb;
    ck_assert_msg(r.code == 0 && stat(png, &sb) == 0 && sb.st_size > 1000, "%s", r.err);
    run_free(&r);
    r = run((const char *[]){"suite", "timing", "--arch", "mlp", "--depth", "6,12", "--width", "8",
                             "--hidden", "8", "--repeats", "2", "--quiet", "--out", tim, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "forward/moonwalk") &&
                      strstr(r.out, "median seconds per gradient"), "exit %d: %s%s", r.code,
                  r.out, r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* ---- layer check ---- */

/* layer list shows the real layers, the negative controls only when asked; layer check
 * --all --include-faulty passes every real layer and catches every control, naming the
 * checks, and writes a report; that report as --baseline passes, a doctored copy (the
 * affine errors 1000x smaller than measured) fails with the regressions named; an
 * existing report is not replaced without --force. */
START_TEST(layer_list_and_check)
{
    run_result r = run((const char *[]){"layer", "list", NULL});
    ck_assert_int_eq(r.code, 0);
    ck_assert(strstr(r.out, "additive ") && strstr(r.out, "affine ") && strstr(r.out, "squeeze "));
    ck_assert(!strstr(r.out, "additive-vijp-sign"));
    run_free(&r);
    r = run((const char *[]){"layer", "list", "--include-faulty", "--json", NULL});
    ck_assert_int_eq(r.code, 0);
    char err[256];
    jr_value *j = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(j != NULL, "%s", err);
    const jr_value *layers = jr_get(j, "layers");
    ck_assert(layers && layers->type == JR_ARRAY && layers->n == mw_layer_count());
    jr_free(j);
    run_free(&r);

    suite_tmpdir();
    char base[300], doctored[300];
    snprintf(base, sizeof base, "%s/base.h5", suite_dir);
    snprintf(doctored, sizeof doctored, "%s/doctored.h5", suite_dir);
    r = run((const char *[]){"layer", "check", "--include-faulty", "--out", base, "--json", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    j = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(j != NULL, "%s", err);
    layers = jr_get(j, "layers");
    ck_assert(layers && layers->n == mw_layer_count());
    double checks = 0;
    for (size_t i = 0; i < layers->n; i++) {
        const jr_value *l = &layers->items[i], *fault = jr_get(l, "fault");
        const char *name = jr_get(l, "name")->text;
        double failed = jr_number(jr_get(l, "failed"));
        checks += jr_number(jr_get(l, "checks"));
        ck_assert_str_eq(jr_get(l, "ok")->text, "true");
        if (fault->type == JR_NULL) {
            ck_assert_msg(failed == 0, "%s failed %g checks", name, failed);
        } else {
            ck_assert_msg(failed > 0, "%s escaped", name);
            ck_assert(strlen(jr_get(l, "failed_checks")->text) > 0);
        }
    }
    ck_assert_str_eq(jr_get(j, "ok")->text, "true");
    jr_free(j);
    run_free(&r);

    /* h5py reads the report as SCHEMA.md documents it: one row per check, and the rows
     * that failed are the negative controls' */
    char py[1024];
    snprintf(py, sizeof py,
             "/usr/bin/python3 -c \"import h5py\n"
             "f = h5py.File('%s', 'r')\n"
             "assert f.attrs['format'] == 'mwverify-report' and f.attrs['suite'] == 'layers'\n"
             "rows = f['layer_checks'][()]\n"
             "bad = [r for r in rows if not r['pass']]\n"
             "assert len(bad) > 0 and len(rows) == %.0f\n"
             "assert all(r['layer'].decode().startswith('additive-') for r in bad)\n\"",
             base, checks);
    if (system("/usr/bin/python3 -c 'import h5py' 2> /dev/null") == 0)
        ck_assert_msg(system(py) == 0, "h5py could not read the layer report as documented");

    /* the report is not replaced without --force, and is still whole afterwards */
    r = run((const char *[]){"layer", "check", "affine", "--out", base, NULL});
    ck_assert_int_eq(r.code, 2);
    ck_assert(strstr(r.err, "--force") && count_lines(r.err) == 1);
    run_free(&r);
    mw_report rep;
    mw_err e;
    ck_assert_msg(mw_report_load(&rep, base, &e) == MW_OK, "%s", e.msg);

    r = run((const char *[]){"layer", "check", "affine", "squeeze", "--baseline", base, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s%s", r.code, r.out, r.err);
    ck_assert(strstr(r.out, "0 regressions"));
    run_free(&r);

    /* a doctored baseline: the affine errors 1000x smaller than measured */
    mw_report_table *t = &rep.tables[MW_TABLE_LAYER_CHECKS];
    mw_layer_check_row *rows = t->rows;
    size_t n_affine = 0;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(rows[i].layer, "affine") == 0 && rows[i].error > 0)
            rows[i].error /= 1000, n_affine++;
    ck_assert(n_affine > 0);
    snprintf(rep.path, sizeof rep.path, "%s", doctored);
    ck_assert_msg(mw_report_commit(&rep, &e) == MW_OK, "%s", e.msg);
    mw_report_free(&rep);
    r = run((const char *[]){"layer", "check", "affine", "--baseline", doctored, NULL});
    ck_assert_msg(r.code == 1, "exit %d: %s", r.code, r.out);
    ck_assert(strstr(r.out, "regressed") && strstr(r.out, "FAILED"));
    run_free(&r);

    /* suite layers: the same as a suite, with its report */
    char out[300];
    snprintf(out, sizeof out, "%s/suite.h5", suite_dir);
    r = run((const char *[]){"suite", "layers", "--out", out, "--quiet", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    ck_assert(mw_report_load(&rep, out, &e) == MW_OK && rep.tables[MW_TABLE_LAYER_CHECKS].n > 0);
    mw_report_free(&rep);
    run_free(&r);
    r = run((const char *[]){"report", "summary", out, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "affine"), "%s%s", r.out, r.err);
    run_free(&r);
    char png[320];
    snprintf(png, sizeof png, "%s/layers.png", suite_dir);
    r = run((const char *[]){"report", "plot", out, "--out", png, NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "no figure") && strstr(r.err, "report summary") &&
                      count_lines(r.err) == 1 && access(png, F_OK) != 0,
                  "%s", r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* ---- verdicts, gates and JUnit ---- */

/* The runs of a JSON output (gradcheck's cells, by method) with the given verdict. */
static int cells_with_verdict(const jr_value *v, const char *verdict, const char *why_has)
{
    const jr_value *cells = jr_get(v, "cells");
    int n = 0;
    for (size_t i = 0; cells && i < cells->n; i++) {
        const jr_value *ms = jr_get(&cells->items[i], "methods");
        for (size_t k = 0; ms && k < ms->n; k++) {
            const jr_value *vd = jr_get(&ms->items[k], "verdict"), *why = jr_get(&ms->items[k], "why");
            ck_assert_msg(vd && vd->type == JR_STRING && why && why->type == JR_STRING,
                          "a run without its verdict and why");
            n += strcmp(vd->text, verdict) == 0 && (!why_has || strstr(why->text, why_has));
        }
    }
    return n;
}

/* gradcheck names a run beyond --tol in the text (the worst parameter by name, expected
 * and got, the tolerance, a FAILED line) and in JSON (verdict fail, why); within it every
 * run passes and the summary says PASSED. */
START_TEST(gradcheck_names_failures)
{
    const char *base[] = {"gradcheck", "--arch", "mlp", "--depth", "2", "--f-act", "tanh",
                          "--out-act", "tanh", "--quiet", "--jobs", "1"};
    const char *args[20];
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        args[n++] = base[i];
    args[n] = NULL;
    run_result r = run(args);
    ck_assert_msg(r.code == 0 && strstr(r.out, "PASSED: 12 judged runs") && !strstr(r.out, "FAIL"),
                  "exit %d: %s", r.code, r.out);
    run_free(&r);
    args[n] = "--tol", args[n + 1] = "1e-30", args[n + 2] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 1, "exit %d", r.code);
    ck_assert_msg(strstr(r.out, "FAILED runs (5)") && strstr(r.out, "FAILED: 5 of 12 judged runs") &&
                      strstr(r.out, "over --tol 1.0e-30; worst parameter ") &&
                      strstr(r.out, "expected ") && strstr(r.out, ", got ") &&
                      strstr(r.out, "f64 mixed: rel_l2"),
                  "%s", r.out);
    /* the row of a failing run says so in the table too */
    ck_assert_msg(strstr(r.out, "FAIL    ok") && strstr(r.out, "FAIL: rel_l2"), "%s", r.out);
    run_free(&r);
    args[n + 2] = "--json", args[n + 3] = NULL;
    r = run(args);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(r.code == 1 && v, "exit %d, %s", r.code, err);
    ck_assert_int_eq(cells_with_verdict(v, "fail", "over --tol"), 5);
    ck_assert_int_eq(cells_with_verdict(v, "pass", NULL), 7); /* float32, and projforward */
    jr_free(v);
    run_free(&r);
}
END_TEST

/* Gates: a divergence or an error over a limit fails only the runs a gate names; without
 * gates the same suite passes; a bad gate is one line and exit 2. */
START_TEST(stability_gates_trip_and_pass)
{
    const char *base[] = {"suite", "stability", "--depth", "2", "--f-act", "tanh", "--out-act",
                          "tanh", "--epochs", "2", "--train-samples", "128", "--width", "8",
                          "--hidden", "8", "--seed", "1", "--quiet", "--jobs", "1", "--out"};
    char out[320];
    suite_tmpdir();
    snprintf(out, sizeof out, "%s/g.h5", suite_dir);
    const char *args[40];
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        args[n++] = base[i];
    args[n++] = out, args[n++] = "--force";
    args[n] = NULL;
    run_result r = run(args);
    ck_assert_msg(r.code == 0 && strstr(r.out, "PASSED:"), "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
    /* float32 errors are about 1e-7 here: a limit of 1e-12 fails the five exact methods
     * (forward mode too, at this size), names each, and the report keeps the verdicts */
    args[n] = "--max-err", args[n + 1] = "f32:1e-12", args[n + 2] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 1 && strstr(r.out, "FAILED runs (5)") &&
                      strstr(r.out, "f32 moonwalk: rel_l2") &&
                      strstr(r.out, "over --max-err f32:1.0e-12; first layer over it: layer 1 (") &&
                      strstr(r.out, "worst parameter "),
                  "exit %d: %s", r.code, r.out);
    run_free(&r);
    mw_report rep;
    mw_err e;
    ck_assert_msg(mw_report_load(&rep, out, &e) == MW_OK, "%s", e.msg);
    int failing = 0, projforward_ok = 0;
    for (size_t k = 0; k < rep.n_runs; k++) {
        failing += rep.runs[k].verdict == MW_VERDICT_FAIL;
        projforward_ok += rep.runs[k].method == MW_PROJFORWARD &&
                          rep.runs[k].verdict == MW_VERDICT_PASS;
    }
    ck_assert_int_eq(failing, 5);
    ck_assert_int_eq(projforward_ok, 1); /* exempt: its error is variance */
    mw_report_free(&rep);
    /* the same limit in float64 alone trips nothing; nor does a generous growth limit */
    args[n + 1] = "f64:1e-12", args[n + 2] = "--max-growth", args[n + 3] = "1e6";
    args[n + 4] = "--fail-on", args[n + 5] = "diverged:backprop,mixed,nonfinite", args[n + 6] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 0 && strstr(r.out, "PASSED"), "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
    /* a divergence in words under the verdict, with its cause; the gate names the run */
    snprintf(out, sizeof out, "%s/s60.h5", suite_dir);
    r = run((const char *[]){"suite", "stability", "--init-scale", "60", "--f-act", "identity",
                             "--out-act", "tanh", "--depth", "2", "--epochs", "1",
                             "--train-samples", "64", "--seed", "1", "--width", "8", "--hidden",
                             "8", "--quiet", "--jobs", "1", "--out", out, "--fail-on",
                             "diverged:revbackprop", NULL});
    ck_assert_msg(r.code == 1 &&
                      strstr(r.out, "  mlp revbackprop f32, out-act tanh: diverged in 1 of 1 runs "
                                    "(step 0); the first: revbackprop: layer 2 inverse: ") &&
                      strstr(r.out, "and atanh(±1) is infinite (gate --fail-on "
                                    "diverged:revbackprop)") &&
                      strstr(r.out, "FAILED: 1 of 6 judged runs"),
                  "exit %d: %s", r.code, r.out);
    run_free(&r);
    static const char *const bad[][2] = {{"--fail-on", "exploded"},
                                         {"--fail-on", "diverged:backprob"},
                                         {"--fail-on", "mixed"},
                                         {"--max-err", "f16:1e-3"},
                                         {"--max-err", "f32:-1"},
                                         {"--max-growth", "x"}};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        args[n] = bad[b][0], args[n + 1] = bad[b][1], args[n + 2] = NULL;
        r = run(args);
        ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, bad[b][0]),
                      "%s %s: exit %d: %s", bad[b][0], bad[b][1], r.code, r.err);
        run_free(&r);
    }
    suite_rmdir();
}
END_TEST

/* Does the file validate against the JUnit schema (tests/junit.xsd), by libxml2? */
static int junit_valid(const char *path, char *why, size_t n)
{
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(MW_JUNIT_XSD);
    xmlSchemaPtr schema = pc ? xmlSchemaParse(pc) : NULL;
    xmlSchemaValidCtxtPtr vc = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    int rc = vc && doc ? xmlSchemaValidateDoc(vc, doc) : -1;
    snprintf(why, n, "%s", !schema ? "the schema did not parse" : !doc ? "not XML" : rc ? "invalid" : "");
    if (doc)
        xmlFreeDoc(doc);
    xmlSchemaFreeValidCtxt(vc);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pc);
    return rc == 0;
}

/* --junit: valid against the JUnit schema, read by a JUnit reader (junitparser) with the
 * counts and failure messages of the run; written when checks fail; an existing file is
 * refused (exit 2, untouched) without --force; layer check writes one case per check. */
START_TEST(junit_output)
{
    suite_tmpdir();
    char xml[320], py[1400], why[64];
    snprintf(xml, sizeof xml, "%s/gc.xml", suite_dir);
    run_result r = run((const char *[]){"gradcheck", "--arch", "mlp", "--depth", "2", "--f-act",
                                        "tanh", "--out-act", "tanh", "--tol", "1e-30", "--quiet",
                                        "--jobs", "1", "--junit", xml, NULL});
    ck_assert_msg(r.code == 1, "exit %d: %s", r.code, r.err);
    run_free(&r);
    ck_assert_msg(junit_valid(xml, why, sizeof why), "%s: %s", xml, why);
    snprintf(py, sizeof py,
             "/usr/bin/python3 -c \"from junitparser import JUnitXml, Failure, Skipped\n"
             "x = JUnitXml.fromfile('%s')\n"
             "s = list(x)\n"
             "assert len(s) == 1 and s[0].tests == 12 and s[0].failures == 5 and s[0].skipped == 0, (s[0].tests, s[0].failures)\n"
             "cases = list(s[0])\n"
             "fails = [c for c in cases if any(isinstance(o, Failure) for o in c.result)]\n"
             "assert len(fails) == 5 and all('over --tol' in c.result[0].message for c in fails)\n"
             "assert all(c.classname.startswith('mwverify.gradcheck.mlp') for c in cases)\n"
             "assert any(c.name == 'network 0 f64 moonwalk (run 10)' for c in fails)\"",
             xml);
    ck_assert_msg(system(py) == 0, "junitparser does not read what mwverify wrote");
    struct stat before, after;
    ck_assert(stat(xml, &before) == 0);
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--depth", "2", "--quiet", "--junit",
                             xml, NULL});
    ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "--junit") &&
                      strstr(r.err, "--force"), "exit %d: %s", r.code, r.err);
    ck_assert(stat(xml, &after) == 0 && after.st_mtime == before.st_mtime &&
              after.st_size == before.st_size);
    run_free(&r);
    snprintf(xml, sizeof xml, "%s/layers.xml", suite_dir);
    r = run((const char *[]){"layer", "check", "additive", "additive-vijp-sign", "--include-faulty",
                             "--quiet", "--junit", xml, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    ck_assert_msg(junit_valid(xml, why, sizeof why), "%s: %s", xml, why);
    snprintf(py, sizeof py,
             "/usr/bin/python3 -c \"from junitparser import JUnitXml\n"
             "s = list(JUnitXml.fromfile('%s'))[0]\n"
             "assert s.tests > 20 and s.failures == 0\n"
             "c = [c for c in s if c.classname == 'mwverify.layers.additive-vijp-sign']\n"
             "assert len(c) == 1 and c[0].name == 'negative control caught' and 'caught by' in c[0].system_out\"",
             xml);
    ck_assert_msg(system(py) == 0, "junitparser: the layer checks are not as written");
    suite_rmdir();
}
END_TEST

/* The diagnosis of grad's JSON runs: method name -> class. */
static const char *diag_class(const jr_value *v, const char *method, int *layer)
{
    const jr_value *d = jr_get(jr_get(jr_get(v, "methods"), method), "diag");
    ck_assert_msg(d, "%s has no diag", method);
    if (layer)
        *layer = (int)jr_number(jr_get(d, "layer"));
    return jr_get(d, "class")->text;
}

/* The diagnosis: a healthy network is within rounding for every exact method, in float32
 * and float64; a saturated network (seed 6: moonwalk off by about 150x
 * its size) is method-unstable for moonwalk and mixed from layer 5, where gold's
 * per-layer errors first depart from backprop's (1.4e-4 and 1.5e-5 against 2.5e-7), and
 * the table and a gate say so. */
START_TEST(diagnosis_classifies)
{
    static const char *const exact[] = {"backprop", "forward", "revbackprop", "moonwalk", "mixed"};
    char err[128];
    for (int d = 0; d < 2; d++) {
        run_result r = run((const char *[]){"grad", "--json", "--dtype", d ? "f64" : "f32", NULL});
        jr_value *v = jr_parse(r.out, err, sizeof err);
        ck_assert_msg(r.code == 0 && v, "exit %d: %s", r.code, err);
        for (int m = 0; m < 5; m++)
            ck_assert_msg(strcmp(diag_class(v, exact[m], NULL), "within-rounding") == 0,
                          "%s %s: %s", d ? "f64" : "f32", exact[m], diag_class(v, exact[m], NULL));
        ck_assert_str_eq(diag_class(v, "projforward", NULL), "-"); /* its error is variance */
        jr_free(v);
        run_free(&r);
    }
    const char *sat[] = {"grad", "--width", "8", "--hidden", "8", "--units", "2", "--depth", "10",
                         "--f-act", "relu", "--out-act", "tanh", "--batch", "3", "--classes",
                         "3", "--init-scale", "3", "--seed", "6", NULL, NULL};
    sat[21] = "--json";
    run_result r = run(sat);
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(r.code == 0 && v, "exit %d: %s", r.code, err);
    int layer;
    ck_assert_str_eq(diag_class(v, "moonwalk", &layer), "method-unstable");
    ck_assert_int_eq(layer, 5);
    ck_assert_str_eq(diag_class(v, "mixed", &layer), "method-unstable");
    ck_assert_int_eq(layer, 5);
    ck_assert_str_eq(diag_class(v, "backprop", NULL), "within-rounding");
    /* the table's line says the JSON's moonwalk error, to two digits */
    char why[96];
    snprintf(why, sizeof why, "why: method-unstable: rel_l2 %.1e where a backward-stable ",
             jr_number(jr_get(jr_get(jr_get(v, "methods"), "moonwalk"), "rel_l2")));
    jr_free(v);
    run_free(&r);
    sat[21] = NULL;
    r = run(sat);
    ck_assert_msg(strstr(r.out, "METHOD-UNSTABLE") && strstr(r.out, why) &&
                      strstr(r.out, "gradient has 6.6e-07") &&
                      strstr(r.out, "departs from backprop at layer 5, where 17% of σ's inputs "
                                    "have |z| > 4"),
                  "%s", r.out);
    run_free(&r);
    /* a gate on it: the saturated cell in gradcheck, three replicates */
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--width", "8", "--hidden", "8",
                             "--units", "2", "--depth", "10", "--f-act", "relu", "--out-act",
                             "tanh", "--batch", "3", "--classes", "3", "--init-scale", "3",
                             "--seed", "1,2,3", "--dtype", "f32", "--fail-on",
                             "unstable:moonwalk", "--quiet", "--jobs", "1", NULL});
    ck_assert_msg(r.code == 1 && strstr(r.out, "f32 moonwalk: method-unstable: rel_l2") &&
                      strstr(r.out, "(gate --fail-on unstable:moonwalk)") &&
                      !strstr(r.out, "f32 mixed: method-unstable"),
                  "exit %d: %s", r.code, r.out);
    run_free(&r);
    /* the closure alarm, without an oracle: the same cells, moonwalk and mixed runs whose
     * closure error is over 1e-2 fail under the gate, and say so */
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--width", "8", "--hidden", "8",
                             "--units", "2", "--depth", "10", "--f-act", "relu", "--out-act",
                             "tanh", "--batch", "3", "--classes", "3", "--init-scale", "3",
                             "--seed", "1,2,3", "--dtype", "f32", "--fail-on", "unreliable", "--quiet", "--jobs", "1", NULL});
    ck_assert_msg(r.code == 1 && strstr(r.out, "; unreliable: closure error ") &&
                      strstr(r.out, ", over 0.01 (gate --fail-on unreliable:moonwalk)") &&
                      !strstr(r.out, "f32 backprop: "),
                  "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
    /* gold judges the prediction: over healthy and saturated cells, the predicted error is
     * within 10x of gold's measure for at least 90% of the runs, and the class is the one
     * gold's errors give */
    r = run((const char *[]){"gradcheck", "--arch", "mlp", "--dtype", "f32", "--depth", "2,8",
                             "--f-act", "relu,tanh", "--out-act", "tanh,none", "--init-scale",
                             "1,3", "--seed", "1,2", "--proj-repeats", "0", "--json", "--quiet",
                             NULL});
    v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(r.code == 0 && v, "exit %d: %s", r.code, err);
    const jr_value *dg = jr_get(v, "diagnosis");
    ck_assert(dg && dg->n == 1);
    const double runs = jr_number(jr_get(&dg->items[0], "runs"));
    ck_assert_msg(runs >= 150, "%g runs diagnosed", runs); /* 32 networks x 5 exact methods */
    ck_assert_msg(jr_number(jr_get(&dg->items[0], "within_10x")) >= 0.9 * runs, "%s", r.out);
    ck_assert(jr_number(jr_get(&dg->items[0], "class_right")) == runs);
    jr_free(v);
    run_free(&r);
}
END_TEST

/* Training runs are diagnosed at their end: at depth 8 with tanh σ moonwalk is
 * method-unstable (about 1e-5 against backprop's 5e-7), the verdict says so per row, and
 * the gate fails those runs naming the layer; the report keeps the class. */
START_TEST(stability_diagnosed_at_the_end)
{
    suite_tmpdir();
    char out[320];
    snprintf(out, sizeof out, "%s/d.h5", suite_dir);
    run_result r = run((const char *[]){"suite", "stability", "--depth", "8", "--f-act", "tanh",
                                        "--out-act", "tanh", "--seed", "1,2", "--epochs", "2",
                                        "--quiet", "--jobs", "1", "--out", out, "--fail-on",
                                        "unstable:moonwalk", NULL});
    ck_assert_msg(r.code == 1 &&
                      strstr(r.out, "  mlp moonwalk f32, out-act tanh: method-unstable at the end "
                                    "of training in 2 of 2 runs (departing from backprop at layer") &&
                      strstr(r.out, "f32 moonwalk: at the end of training, method-unstable: rel_l2 ") &&
                      strstr(r.out, "(gate --fail-on unstable:moonwalk)") &&
                      strstr(r.out, "FAILED: 2 of 10 judged runs"),
                  "exit %d: %s%s", r.code, r.out, r.err);
    run_free(&r);
    mw_report rep;
    mw_err e;
    ck_assert_msg(mw_report_load(&rep, out, &e) == MW_OK, "%s", e.msg);
    int unstable = 0, rounding = 0;
    for (size_t k = 0; k < rep.n_runs; k++) {
        unstable += rep.runs[k].method == MW_MOONWALK && rep.runs[k].diag.cls == MW_DIAG_UNSTABLE;
        rounding += rep.runs[k].method == MW_BACKPROP && rep.runs[k].diag.cls == MW_DIAG_ROUNDING;
    }
    ck_assert_int_eq(unstable, 2);
    ck_assert_int_eq(rounding, 2);
    mw_report_free(&rep);
    suite_rmdir();
}
END_TEST

/* Only regular files are replaced or resumed: --force refuses a symlink (its target
 * untouched) and a pipe; a symlink at the old predictable temporary name is not followed;
 * a figure does not replace a symlink either. Each refusal is one line and exit 2. */
START_TEST(only_regular_files_are_replaced)
{
    suite_tmpdir();
    char victim[320], link[320], fifo[320], tmp[340], out[320], png[320];
    snprintf(victim, sizeof victim, "%s/victim", suite_dir);
    snprintf(link, sizeof link, "%s/link.h5", suite_dir);
    snprintf(fifo, sizeof fifo, "%s/fifo.h5", suite_dir);
    snprintf(out, sizeof out, "%s/d.h5", suite_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    snprintf(png, sizeof png, "%s/fig.png", suite_dir);
    FILE *f = fopen(victim, "w");
    ck_assert(f && fputs("precious\n", f) >= 0 && fclose(f) == 0);
    ck_assert(symlink(victim, link) == 0 && mkfifo(fifo, 0600) == 0 && symlink(victim, tmp) == 0 &&
              symlink(victim, png) == 0);
    const char *const targets[] = {link, fifo};
    for (int t = 0; t < 2; t++) {
        run_result r = run((const char *[]){"grad", "--out", targets[t], "--force", NULL});
        ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "not a regular file"),
                      "%s: exit %d: %s", targets[t], r.code, r.err);
        run_free(&r);
        r = run((const char *[]){"gradcheck", "--arch", "mlp", "--depth", "1", "--quiet", "--out",
                                 targets[t], "--force", NULL});
        ck_assert_msg(r.code == 2 && strstr(r.err, "not a regular file"), "exit %d: %s", r.code,
                      r.err);
        run_free(&r);
    }
    run_result r = run((const char *[]){"grad", "--out", out, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"report", "plot", out, "--out", png, NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "not a regular file"), "exit %d: %s", r.code, r.err);
    run_free(&r);
    char buf[32] = "";
    f = fopen(victim, "r");
    ck_assert(f && fgets(buf, sizeof buf, f) && fclose(f) == 0);
    ck_assert_str_eq(buf, "precious\n");
    struct stat sb;
    ck_assert(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
    ck_assert(lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode));
    ck_assert(lstat(out, &sb) == 0 && S_ISREG(sb.st_mode));
    suite_rmdir();
}
END_TEST

/* Lines of text that contain needle. */
static int lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Progress off a terminal (here: a pipe): a plain line at every finished network, the last
 * at 100% with nothing left, and none between them with --progress-every 0; --quiet and
 * --json say nothing of it, and the JSON on standard output stays one object. */
START_TEST(progress_lines_in_a_pipe)
{
    suite_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/p.h5", suite_dir);
    const char *base[] = {"suite", "stability", "--depth", "2", "--f-act", "tanh", "--out-act",
                          "none,tanh", "--epochs", "3", "--train-samples", "64", "--width", "8",
                          "--hidden", "8", "--jobs", "1", "--force", "--out", path};
    const char *args[32];
    int n = 0;
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        args[n++] = base[i];
    args[n] = "--progress-every", args[n + 1] = "0", args[n + 2] = NULL;
    run_result r = run(args);
    ck_assert_msg(r.code == 0, "%s", r.err);
    /* two out-activations in two dtypes: four networks */
    ck_assert_msg(lines_with(r.err, "networks, ") == 4 &&
                      strstr(r.err, "suite stability: 100% (4/4 networks, ") &&
                      strstr(r.err, "ETA 0:00; done: mlp depth 2 tanh ") && !strchr(r.err, '\r'),
                  "%s", r.err);
    run_free(&r);
    /* every epoch may say so when the interval allows: up to a line per epoch and network
     * (the first two epochs of each; the third is the network's end) */
    args[n + 1] = "0.001s";
    r = run(args);
    ck_assert_msg(r.code == 0 && lines_with(r.err, "networks, ") > 4 &&
                      lines_with(r.err, "networks, ") <= 12, "%s", r.err);
    run_free(&r);
    args[n] = "--quiet", args[n + 1] = NULL;
    r = run(args);
    ck_assert_msg(r.code == 0 && !strstr(r.err, "networks"), "%s", r.err);
    run_free(&r);
    args[n] = "--json";
    r = run(args);
    char err[128];
    jr_value *v = jr_parse(r.out, err, sizeof err);
    ck_assert_msg(r.code == 0 && v && !strstr(r.err, "networks"), "%s %s", err, r.err);
    jr_free(v);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* The text an SVG draws (PLplot's svg driver writes it as numeric character references,
 * one <tspan> a string): references below 128 decoded, others as '?', every tag and run of
 * white space one space, so that a sentence wrapped over lines reads as one. */
static char *svg_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "%s", path);
    ck_assert(fseek(f, 0, SEEK_END) == 0);
    const long n = ftell(f);
    ck_assert(n > 0 && fseek(f, 0, SEEK_SET) == 0);
    char *raw = malloc((size_t)n + 1), *out = malloc((size_t)n + 1);
    ck_assert(raw && out && fread(raw, 1, (size_t)n, f) == (size_t)n && fclose(f) == 0);
    raw[n] = '\0';
    size_t k = 0;
    for (const char *p = raw; *p;) {
        unsigned v;
        int used;
        char c;
        if (*p == '<') { /* a tag: a space */
            p += strcspn(p, ">");
            p += *p == '>';
            c = ' ';
        } else if (strncmp(p, "&#x", 3) == 0 && sscanf(p + 3, "%x;%n", &v, &used) == 1 &&
                   used > 0) {
            c = v < 128 ? (char)v : '?';
            p += 3 + used;
        } else
            c = *p++;
        if (c == '\n' || c == '\t' || c == '\r')
            c = ' ';
        if (c != ' ' || (k > 0 && out[k - 1] != ' '))
            out[k++] = c;
    }
    out[k] = '\0';
    free(raw);
    return out;
}

/* Figures that answer at a glance: a stability report of 12 cells draws all 12 panels (3
 * out-activations x 4 depths; a fixed limit once dropped the last ones silently), its
 * legend and projforward's own axis; a divergence is marked and its cause written under
 * the panels; gradcheck puts each architecture on its own depth axis and projforward on
 * its own panel; the SVG carries its words as text. */
START_TEST(figures_every_panel_and_divergence)
{
    suite_tmpdir();
    char path[300], svg[300], png[300];
    snprintf(path, sizeof path, "%s/p.h5", suite_dir);
    snprintf(svg, sizeof svg, "%s/p.svg", suite_dir);
    snprintf(png, sizeof png, "%s/p.png", suite_dir);
    run_result r = run((const char *[]){"suite", "stability", "--depth", "1,2,3,4", "--out-act",
                                        "none,tanh,leaky", "--f-act", "tanh", "--epochs", "1",
                                        "--train-samples", "32", "--width", "8", "--hidden",
                                        "8", "--dtype", "f32", "--quiet", "--out", path, NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"report", "plot", path, "--out", svg, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    char *text = svg_text(svg);
    static const char *const acts[] = {"none", "tanh", "leaky"};
    for (int a = 0; a < 3; a++)
        for (int d = 1; d <= 4; d++) {
            char title[64];
            snprintf(title, sizeof title, " out-act %s, depth %d (f32) ", acts[a], d);
            ck_assert_msg(strstr(text, title), "no panel %s", title);
        }
    ck_assert(strstr(text, " projforward rel_l2 ") && strstr(text, " held-out accuracy ") &&
              strstr(text, " reference (float64 backprop) ") && strstr(text, " moonwalk "));
    ck_assert(!strstr(text, "diverged")); /* none did */
    free(text);
    /* a divergence: marked, counted, and said why */
    r = run((const char *[]){"suite", "stability", "--init-scale", "60", "--f-act", "identity",
                             "--out-act", "tanh", "--depth", "2", "--epochs", "1",
                             "--train-samples", "64", "--seed", "1", "--width", "8", "--hidden",
                             "8", "--quiet", "--jobs", "1", "--force", "--out", path, NULL});
    run_free(&r);
    r = run((const char *[]){"report", "plot", path, "--out", svg, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    text = svg_text(svg);
    ck_assert_msg(strstr(text, " X revbackprop, out-act tanh, depth 2 (f32): 1 of 1 runs diverged "
                               "(step 0); the first: step 0: revbackprop: layer 2 inverse: ") &&
                      strstr(text, " 1/1 ") && strstr(text, " diverged: its first step"),
                  "the divergence is not on the figure: %s", text);
    free(text);
    /* gradcheck: an architecture a depth axis, projforward apart */
    r = run((const char *[]){"gradcheck", "--quiet", "--jobs", "2", "--f-act", "tanh",
                             "--out-act", "none", "--out", path, "--force", NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"report", "plot", path, "--out", svg, NULL});
    run_free(&r);
    text = svg_text(svg);
    ck_assert(strstr(text, " mlp, float32 ") && strstr(text, " revnet, float32 ") &&
              strstr(text, " mlp, float64 ") && strstr(text, " revnet, float64 ") &&
              strstr(text, " projforward: its error is its variance ") &&
              strstr(text, " float32: predicted error "));
    free(text);
    r = run((const char *[]){"report", "plot", path, "--out", png, NULL});
    struct stat sb;
    ck_assert_msg(r.code == 0 && stat(png, &sb) == 0 && sb.st_size > 10000, "%s", r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

/* mwverify with its standard output and error on a terminal (a pseudo-terminal): what it
 * wrote there, and its exit status in *code. */
static char *run_on_tty(const char *const *args, int *code)
{
    const char *argv[40];
    int n = 0;
    argv[n++] = MW_BINARY;
    for (; args[n - 1] && n < 39; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    ck_assert_msg(pid >= 0, "forkpty: %s", strerror(errno));
    if (pid == 0) {
        execv(MW_BINARY, (char *const *)argv);
        _exit(127);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ck_assert(buf);
    for (;;) {
        if (len + 4096 > cap)
            ck_assert((buf = realloc(buf, cap *= 2)) != NULL);
        ssize_t k = read(master, buf + len, 4096);
        if (k > 0)
            len += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO: the child closed the terminal */
    }
    buf[len] = '\0';
    close(master);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return buf;
}

/* Progress on a terminal: one line redrawn in place (carriage return, erase to its end)
 * with a bar, the percentage by estimated cost, the networks done (two out-activations,
 * two seeds: four), elapsed and ETA, ending at 100% with a newline before the results;
 * --quiet draws none. */
START_TEST(progress_bar_on_a_terminal)
{
    suite_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/t.h5", suite_dir);
    const char *args[] = {"suite", "stability", "--depth", "2", "--f-act", "tanh", "--out-act",
                          "none,tanh", "--epochs", "3", "--train-samples", "64", "--width", "8",
                          "--hidden", "8", "--dtype", "f32", "--jobs", "1", "--force", "--out",
                          path, NULL, NULL};
    int code;
    char *out = run_on_tty(args, &code);
    ck_assert_msg(code == 0, "exit %d: %s", code, out);
    ck_assert_msg(strstr(out, "\r\033[Ksuite stability [") &&
                      strstr(out, "] 100%  4/4 networks  ") && strstr(out, " elapsed  ETA 0:00") &&
                      strstr(out, "\r\033[Ksuite stability [#"),
                  "%s", out);
    /* updates between the networks (after each epoch but the last): more redraws than 4 */
    int redraws = 0;
    for (const char *p = out; (p = strstr(p, "\r\033[Ksuite stability [")); p++)
        redraws++;
    ck_assert_msg(redraws > 4, "%d redraws", redraws);
    /* the bar ends its line before the results */
    const char *last = strstr(out, "] 100%  4/4 networks  ");
    ck_assert(last && strchr(last, '\n') && strstr(strchr(last, '\n'), "verdict"));
    free(out);
    args[sizeof args / sizeof args[0] - 2] = "--quiet";
    out = run_on_tty(args, &code);
    ck_assert_msg(code == 0 && !strstr(out, "\033[K") && !strstr(out, "networks  "), "%s", out);
    free(out);
    suite_rmdir();
}
END_TEST

/* report export: every table of a stability report as CSV and JSON Lines, row counts as the
 * report has them, id columns on every row; bad options, an existing --out without --force
 * and the report itself as --out refused with one line, nothing touched; then pandas
 * (read_csv with no arguments) and h5py check every number against the report
 * (export_check.py; skipped, exit 77, where python3 has no pandas). */
START_TEST(report_export_tidy)
{
    suite_tmpdir();
    char path[300], out[400], cmd[1200];
    snprintf(path, sizeof path, "%s/s.h5", suite_dir);
    run_result r = run((const char *[]){"suite", "stability", "--depth", "2", "--f-act", "tanh",
                                        "--out-act", "none,tanh", "--epochs", "2",
                                        "--train-samples", "128", "--width", "8", "--hidden", "8",
                                        "--quiet", "--jobs", "1", "--out", path, NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    mw_report rep;
    mw_err e;
    ck_assert_msg(mw_report_load(&rep, path, &e) == MW_OK, "%s", e.msg);
    static const char *const tables[] = {"steps", "epochs", "layers", "runs", "networks"};
    for (int t = 0; t < 5; t++)
        for (int fmt = 0; fmt < 2; fmt++) {
            snprintf(out, sizeof out, "%s/%s.%s", suite_dir, tables[t], fmt ? "jsonl" : "csv");
            r = run((const char *[]){"report", "export", path, "--table", tables[t], "--format",
                                     fmt ? "jsonl" : "csv", "--out", out, NULL});
            ck_assert_msg(r.code == 0 && strstr(r.err, "wrote"), "%s: %s", tables[t], r.err);
            run_free(&r);
            FILE *f = fopen(out, "r");
            ck_assert(f);
            char line[8192];
            size_t lines = 0;
            int ids = 1;
            while (fgets(line, sizeof line, f)) {
                /* every row of a run says its suite, network, run, method and dtype */
                if (lines == 0 && !fmt)
                    ids = strncmp(line, "suite,network,", 14) == 0 &&
                          (t == 4 || (strstr(line, ",run,") && strstr(line, ",method,dtype,")));
                if (fmt)
                    ids &= strncmp(line, "{\"suite\": \"stability\", \"network\": ", 34) == 0;
                lines++;
            }
            ck_assert(fclose(f) == 0);
            static const mw_export_table id[] = {MW_EXPORT_STEPS, MW_EXPORT_EPOCHS,
                                                 MW_EXPORT_LAYERS, MW_EXPORT_RUNS,
                                                 MW_EXPORT_NETWORKS};
            size_t want = mw_export_rows(&rep, id[t]);
            ck_assert_msg(ids && lines == want + (fmt ? 0 : 1) && want > 0,
                          "%s.%s: %zu lines for %zu rows", tables[t], fmt ? "jsonl" : "csv",
                          lines, want);
        }
    ck_assert(mw_export_rows(&rep, MW_EXPORT_STEPS) > rep.n_runs); /* training: many steps */
    mw_report_free(&rep);
    /* standard output by default, the runs table in CSV */
    r = run((const char *[]){"report", "export", path, NULL});
    ck_assert_msg(r.code == 0 && strncmp(r.out, "suite,network,run,", 18) == 0 && !r.err[0],
                  "%s", r.err);
    run_free(&r);
    /* refused, one line each, the files as they were */
    snprintf(out, sizeof out, "%s/steps.csv", suite_dir);
    struct stat before, after;
    ck_assert(stat(out, &before) == 0 && stat(path, &after) == 0);
    const off_t report_size = after.st_size;
    const char *bad[][8] = {
        {"report", "export", path, "--table", "stepz"},
        {"report", "export", path, "--format", "xlsx"},
        {"report", "export", path, "--table", "steps", "--out", out},
        {"report", "export", path, "--out", path, "--force"},
        {"report", "export", "/nonexistent-dir/r.h5"},
    };
    const char *says[] = {"did you mean steps", "jsonl", "--force", "report itself",
                          "no such file"};
    for (int i = 0; i < 5; i++) {
        r = run(bad[i]);
        ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, says[i]),
                      "case %d: exit %d: %s", i, r.code, r.err);
        run_free(&r);
    }
    ck_assert(stat(out, &after) == 0 && after.st_mtime == before.st_mtime &&
              after.st_size == before.st_size);
    ck_assert(stat(path, &after) == 0 && after.st_size == report_size);
    /* pandas and h5py: every number as the report has it */
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' '%s' '%s' > '%s/check.txt' 2>&1",
             MW_EXPORT_CHECK, path, suite_dir, suite_dir);
    int rc = system(cmd);
    snprintf(out, sizeof out, "%s/check.txt", suite_dir);
    FILE *f = fopen(out, "r");
    char said[2048] = "";
    if (f) {
        size_t k = fread(said, 1, sizeof said - 1, f);
        said[k] = '\0';
        fclose(f);
    }
    if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
        fprintf(stderr, "cli.export: the pandas check skipped: %s", said);
        suite_rmdir();
        exit(77); /* CTest's skip */
    }
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0 && strstr(said, "all agree"), "%s", said);
    suite_rmdir();
}
END_TEST

/* ---- beyond one machine: shards and MPI ranks (docs/cluster.md) ---- */

static const char *const cluster_grid[] = {"--arch", "mlp", "--depth", "1,2,4", "--f-act",
                                           "relu,tanh", "--proj-repeats", "2", "--quiet", NULL};

/* args: "suite", "gradcheck", the grid, then extra (NULL-ended), into buf. */
static const char **cluster_args(const char **buf, const char *const *extra)
{
    int n = 0;
    buf[n++] = "suite", buf[n++] = "gradcheck";
    for (int i = 0; cluster_grid[i]; i++)
        buf[n++] = cluster_grid[i];
    for (int i = 0; extra[i]; i++)
        buf[n++] = extra[i];
    buf[n] = NULL;
    return buf;
}

/* Three shards run as a job array runs them, merged by `report merge`, are the one-process
 * report (`report diff` says so, exit 0); a shard is not (exit 1, the difference said);
 * what cannot be merged is one line and exit 2. */
START_TEST(shards_merge_and_diff_commands)
{
    suite_tmpdir();
    char whole[300], sh[3][300], merged[300], i_of_n[3][8];
    const char *args[40];
    snprintf(whole, sizeof whole, "%s/whole.h5", suite_dir);
    snprintf(merged, sizeof merged, "%s/merged.h5", suite_dir);
    run_result r = run(cluster_args(args, (const char *[]){"--jobs", "1", "--out", whole, NULL}));
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    for (int i = 0; i < 3; i++) {
        snprintf(sh[i], sizeof sh[i], "%s/shard%d.h5", suite_dir, i + 1);
        snprintf(i_of_n[i], sizeof i_of_n[i], "%d/3", i + 1);
        r = run(cluster_args(args, (const char *[]){"--shard", i_of_n[i], "--out", sh[i], NULL}));
        ck_assert_msg(r.code == 0, "shard %s: %s", i_of_n[i], r.err);
        run_free(&r);
    }
    r = run((const char *[]){"report", "merge", merged, sh[0], sh[1], NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "shard 3/3 is missing") && count_lines(r.err) == 1,
                  "%s", r.err);
    run_free(&r);
    r = run((const char *[]){"report", "merge", merged, sh[2], sh[0], sh[1], NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "3 shards merged: 18 networks"), "%s%s", r.out,
                  r.err);
    run_free(&r);
    r = run((const char *[]){"report", "merge", merged, sh[0], sh[1], sh[2], NULL});
    ck_assert_msg(r.code == 2 && strstr(r.err, "--force") && count_lines(r.err) == 1, "%s", r.err);
    run_free(&r);
    r = run((const char *[]){"report", "diff", whole, merged, NULL});
    ck_assert_msg(r.code == 0 && strstr(r.out, "the same: 18 networks"), "%s%s", r.out, r.err);
    run_free(&r);
    r = run((const char *[]){"report", "diff", whole, sh[1], NULL});
    ck_assert_msg(r.code == 1 && strstr(r.out, "different:"), "%s%s", r.out, r.err);
    run_free(&r);
    r = run(cluster_args(args, (const char *[]){"--shard", "4/3", NULL}));
    ck_assert_msg(r.code == 2 && strstr(r.err, "--shard 4/3") && count_lines(r.err) == 1, "%s",
                  r.err);
    run_free(&r);
    /* the estimate on ranks, and the shard's part of the work */
    r = run(cluster_args(args, (const char *[]){"--ranks", "4", NULL}));
    ck_assert_msg(r.code == 2 && strstr(r.err, "--dry-run") && count_lines(r.err) == 1, "%s",
                  r.err);
    run_free(&r);
    r = run(cluster_args(args, (const char *[]){"--dry-run", "--ranks", "4", "--shard", "2/3",
                                                NULL}));
    ck_assert_msg(r.code == 0 && strstr(r.out, "on 4 ranks") && strstr(r.out, "speed-up") &&
                      strstr(r.out, "shard 2/3: 6 of the 18 units"),
                  "%s%s", r.out, r.err);
    run_free(&r);
    suite_rmdir();
}
END_TEST

#ifdef MW_TEST_MPIEXEC
/* mpirun's arguments: -n N (oversubscribed: more ranks than this machine's cores) and
 * mwverify; as root, Open MPI's documented switches. */
static const char **mpi_args(const char **buf, const char *n, const char *const *args)
{
    int k = 0;
    if (geteuid() == 0) {
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    }
    buf[k++] = "-n", buf[k++] = n, buf[k++] = "--oversubscribe", buf[k++] = MW_BINARY;
    for (; *args; args++)
        buf[k++] = *args;
    buf[k] = NULL;
    return buf;
}

/* The rank `rank` among the processes mpirun (pid) started. */
static pid_t rank_pid(pid_t mpirun, int rank)
{
    char want[48], path[300], buf[8192];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *procs = opendir("/proc");
    ck_assert(procs != NULL);
    for (struct dirent *e; (e = readdir(procs));) {
        char *end;
        const long p = strtol(e->d_name, &end, 10);
        if (*end || p <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", p);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int ppid = -1;
        const int got = fscanf(f, "%*d (%*[^)]) %*c %d", &ppid);
        fclose(f);
        if (got != 1 || ppid != mpirun)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", p);
        if (!(f = fopen(path, "r")))
            continue;
        const size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, want) == 0) {
                closedir(procs);
                return (pid_t)p;
            }
    }
    closedir(procs);
    return -1;
}
#endif

/* `mpirun -n 3 mwverify suite ...` writes the one-process report, number for number; a
 * rank killed mid-run ends the job (exit status not 0) with a report of whole networks,
 * which `--resume` under mpirun finishes to the same numbers. Without MPI in the build,
 * a launch by mpirun is one line and exit 2. */
START_TEST(mpi_ranks_are_one_process)
{
    suite_tmpdir();
    char whole[300], ranks[300];
    const char *args[40], *margs[48];
    snprintf(whole, sizeof whole, "%s/whole.h5", suite_dir);
    snprintf(ranks, sizeof ranks, "%s/ranks.h5", suite_dir);
#ifndef MW_TEST_MPIEXEC
    setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    setenv("OMPI_COMM_WORLD_RANK", "0", 1);
    run_result r = run(cluster_args(args, (const char *[]){"--out", ranks, NULL}));
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("OMPI_COMM_WORLD_RANK");
    ck_assert_msg(r.code == 2 && strstr(r.err, "built without MPI") &&
                  strstr(r.err, "libopenmpi-dev") && count_lines(r.err) == 1, "%s", r.err);
    ck_assert(access(ranks, F_OK) != 0); /* nothing written */
    run_free(&r);
#else
    run_result r = run(cluster_args(args, (const char *[]){"--jobs", "1", "--out", whole, NULL}));
    ck_assert_msg(r.code == 0, "%s", r.err);
    run_free(&r);
    r = tu_run(MW_TEST_MPIEXEC, mpi_args(margs, "3", cluster_args(args, (const char *[]){
                                                          "--out", ranks, NULL})));
    ck_assert_msg(r.code == 0, "mpirun: %d: %s", r.code, r.err);
    run_free(&r);
    r = run((const char *[]){"report", "diff", whole, ranks, NULL});
    ck_assert_msg(r.code == 0, "%s%s", r.out, r.err);
    run_free(&r);
    /* what ranks do not do is refused by rank 0, once */
    r = tu_run(MW_TEST_MPIEXEC, mpi_args(margs, "2", cluster_args(args, (const char *[]){
                                                          "--jobs", "2", "--dry-run", NULL})));
    ck_assert_msg(r.code == 2 && strstr(r.err, "--jobs under mpirun"), "%d: %s", r.code, r.err);
    char *second = strstr(r.err, "--jobs under mpirun");
    ck_assert(!strstr(second + 1, "--jobs under mpirun"));
    run_free(&r);
    r = tu_run(MW_TEST_MPIEXEC, mpi_args(margs, "2", cluster_args(args, (const char *[]){
                                                          "--dry-run", NULL})));
    ck_assert_msg(r.code == 0 && strstr(r.out, "on 2 ranks"), "%s%s", r.out, r.err);
    run_free(&r);
    r = tu_run(MW_TEST_MPIEXEC, mpi_args(margs, "2", (const char *[]){"suite", "timing",
                                                                      "--dry-run", NULL}));
    ck_assert_msg(r.code == 2 && strstr(r.err, "times one process at a time"), "%d: %s", r.code,
                  r.err);
    run_free(&r);

    /* rank 1 killed once the first network is in */
    char killed[300];
    snprintf(killed, sizeof killed, "%s/killed.h5", suite_dir);
    mpi_args(margs, "3", cluster_args(args, (const char *[]){"--out", killed, NULL}));
    char *argv[48];
    int argc = 0;
    argv[argc++] = (char *)MW_TEST_MPIEXEC;
    for (int i = 0; margs[i]; i++)
        argv[argc++] = (char *)margs[i];
    argv[argc] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    ck_assert(posix_spawn(&pid, MW_TEST_MPIEXEC, &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    mw_err err;
    size_t before = 0;
    for (int spin = 0; spin < 6000 && before == 0; spin++) {
        mw_report rep;
        if (mw_report_load(&rep, killed, &err) == MW_OK) {
            before = rep.n_networks;
            mw_report_free(&rep);
        }
        if (before == 0)
            usleep(5000);
    }
    const pid_t one = rank_pid(pid, 1);
    ck_assert_msg(one > 0, "rank 1 of mpirun %d not found", (int)pid);
    kill(one, SIGKILL);
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 0), "mpirun ended well after a "
                  "rank was killed");
    mw_report rep;
    ck_assert_msg(mw_report_load(&rep, killed, &err) == MW_OK, "%s", err.msg);
    ck_assert_msg(rep.n_networks >= 1 && rep.n_networks < 18, "the kill came after %zu of 18 "
                  "networks", rep.n_networks);
    ck_assert_uint_eq(rep.n_runs, rep.n_networks * 12); /* whole networks only */
    mw_report_free(&rep);
    r = tu_run(MW_TEST_MPIEXEC, mpi_args(margs, "3", cluster_args(args, (const char *[]){
                                                          "--out", killed, "--resume", NULL})));
    ck_assert_msg(r.code == 0, "resume: %s", r.err);
    run_free(&r);
    r = run((const char *[]){"report", "diff", whole, killed, NULL});
    ck_assert_msg(r.code == 0, "%s%s", r.out, r.err);
    run_free(&r);
#endif
    suite_rmdir();
}
END_TEST

int main(void)
{
    const struct {
        const char *name;
        const TTest *tests[6];
    } cases[] = {
        {"usage", {version_and_help, bad_input_is_one_line_and_exit_2, schema_doc_is_the_code,
                   only_regular_files_are_replaced}},

        {"grad", {grad_json_f64, grad_table_says_nonfinite, grad_dump, engine_cuda_fails_cleanly,
                  cuda_engine_is_a_module}},
        {"gradcheck", {gradcheck_json, gradcheck_revnet, suite_report_summary_plot,
                       gradcheck_proof}},
        {"resume", {suite_kill_and_resume}},
        {"stability", {stability_report_and_resume, stability_revnet_and_fashion,
                       paper_preset_estimates_and_refuses, progress_lines_in_a_pipe}},
        {"export", {report_export_tidy}},
        {"figures", {figures_every_panel_and_divergence, progress_bar_on_a_terminal}},
        {"scaling", {memory_and_timing_suites}},
        {"layers", {layer_list_and_check}},
        {"verdicts", {gradcheck_names_failures, stability_gates_trip_and_pass, junit_output,
                      diagnosis_classifies, stability_diagnosed_at_the_end}},
        {"estimates", {over_budget_is_refused_before_work, grad_estimate_and_dry_run}},
        {"cluster", {shards_merge_and_diff_commands, mpi_ranks_are_one_process}},
    };
    Suite *s = suite_create("cli");
    /* every option of every command, in two halves that CTest runs side by side (each
     * dry-runs presets, which estimate their cost) */
    const char *help_cases[] = {"help", "help-more"};
    for (int i = 0; i < 2; i++) {
        TCase *tc = tcase_create(help_cases[i]);
        tcase_set_timeout(tc, 240);
        tcase_add_loop_test(tc, help_names_only_what_is_accepted, i, i + 1);
        suite_add_tcase(s, tc);
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_timeout(tc, 240);
        for (int t = 0; t < 6 && cases[i].tests[t]; t++)
            tcase_add_test(tc, cases[i].tests[t]);
        suite_add_tcase(s, tc);
    }
    return tu_main(s);
}
