/* The numbers every command and suite prints, against a stored expectation: small runs of
 * grad, gradcheck and every suite, their JSON compared with tests/expect/<case>.json key by
 * key. A refactor of the code above the engine must leave them as they were.
 *
 * On the machine that recorded them (the same OpenBLAS core, so the same summation order
 * in every matrix product) numbers must be identical to the digit: the runs are bitwise
 * reproducible. On another BLAS core the products round differently, which moves every
 * quantity that measures rounding (an error against the oracle, a closure error) by an
 * O(1) factor and everything else by far less: there the comparison allows a factor of
 * 10 on the former (or both below 1e-5 of the gradient's scale, i.e. both rounding) and
 * 1e-3 relative on the rest, and says that it did. Identities (statuses, counts, names,
 * bytes, bits) must match everywhere.
 *
 * MW_EXPECT_RECORD=1 writes the expectations instead of checking them (do it before a
 * change whose numbers must not move, and commit the files). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonr.h"
#include "testutil.h"

#ifndef MW_EXPECT_DIR
#error MW_EXPECT_DIR must name tests/expect
#endif

char *openblas_get_corename(void);

/* The keys whose values depend on the clock, the path or the host (gold's estimate, and
 * the reason auto gives that quotes it, come from MPFR timed on the machine). */
static const char *const volatile_keys[] = {"seconds",    "file",        "command_line",
                                            "created_utc", "updated_utc", "device",
                                            "device_free_before", "device_free_after",
                                            "gold_seconds", "gold_estimate_seconds", "reason",
                                            NULL};
/* Keys that measure rounding (compared within a factor on another BLAS core). */
static const char *const rounding_keys[] = {"rel_l2",   "max_abs",         "max_ulp",
                                            "closure_err", "silver_vs_gold", "err_median_last",
                                            "err_max_last", "err_median_first", "growth",
                                            "dist_ref", "error", "cosine", "per_layer_rel_l2",
                                            "rel_err", "silver_vs_gold_per_layer_rel_l2",
                                            "max_ulp_floored", "gold_rel_l2", "recon_err",
                                            "amplification", "backprop", "predicted", NULL};
/* Keys that say where rounding was worst, or quote a rounding measure in words: on another
 * BLAS core another coordinate may be the worst, and the words carry the other digits.
 * Compared on the recording's core only. */
static const char *const rounding_place_keys[] = {"worst", "worst_got", "worst_want",
                                                  "worst_name", "why", NULL};

static int in_list(const char *const *list, const char *key)
{
    for (; key && *list; list++)
        if (strcmp(*list, key) == 0)
            return 1;
    return 0;
}

typedef struct cmp_state {
    int exact;           /* same BLAS core as the recording */
    int timing;          /* a timing suite: its fits and ratios are of seconds */
    int failures;
    char where[512];
} cmp_state;

static void fail_at(cmp_state *c, const char *path, const char *fmt, const char *a, const char *b)
{
    if (c->failures++ < 20)
        fprintf(stderr, "%s: %s: ", c->where, path), fprintf(stderr, fmt, a, b),
            fputc('\n', stderr);
}

static int numbers_close(const cmp_state *c, const char *key, const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return 1;
    if (c->exact)
        return 0;
    double x = strtod(a, NULL), y = strtod(b, NULL);
    if (x == y)
        return 1;
    if (in_list(rounding_keys, key)) {
        if (fabs(x) < 1e-5 && fabs(y) < 1e-5)
            return 1;
        return x / y <= 10 && y / x <= 10;
    }
    return fabs(x - y) <= 1e-3 * fmax(fabs(x), fabs(y));
}

/* Does every member of the expectation have its counterpart in the output? (Members the
 * output adds are allowed: a new field is not a changed number.) */
static void compare(cmp_state *c, const jr_value *want, const jr_value *got, const char *path,
                    const char *key)
{
    if (in_list(volatile_keys, key) || (!c->exact && in_list(rounding_place_keys, key)))
        return;
    if (c->timing && (in_list((const char *const[]){"exponent", "r2", "value", NULL}, key)))
        return;
    if (!got) {
        fail_at(c, path, "%s%s missing from the output", "", "");
        return;
    }
    if (want->type != got->type) {
        fail_at(c, path, "type changed (%s%s)", "", "");
        return;
    }
    char sub[512];
    switch (want->type) {
    case JR_NULL:
        return;
    case JR_BOOL:
    case JR_STRING:
        if (strcmp(want->text, got->text) != 0)
            fail_at(c, path, "expected '%s', got '%s'", want->text, got->text);
        return;
    case JR_NUMBER:
        if (!numbers_close(c, key, want->text, got->text))
            fail_at(c, path, "expected %s, got %s", want->text, got->text);
        return;
    case JR_ARRAY:
        if (want->n != got->n) {
            char a[32], b[32];
            snprintf(a, sizeof a, "%zu", want->n), snprintf(b, sizeof b, "%zu", got->n);
            fail_at(c, path, "expected %s items, got %s", a, b);
            return;
        }
        for (size_t i = 0; i < want->n; i++) {
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            compare(c, &want->items[i], &got->items[i], sub, key);
        }
        return;
    case JR_OBJECT:
        for (size_t i = 0; i < want->n; i++) {
            snprintf(sub, sizeof sub, "%s.%s", path, want->keys[i]);
            compare(c, &want->items[i], jr_get(got, want->keys[i]), sub, want->keys[i]);
        }
        return;
    }
}

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mw-test-numbers-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(tmpdir) != NULL);
}

static void remove_tmpdir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert(system(cmd) == 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    ck_assert(s && fread(s, 1, (size_t)n, f) == (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f && fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* The JSON again, without the volatile keys (a recording holds no paths, clocks or host). */
static void put_json(FILE *f, const jr_value *v)
{
    switch (v->type) {
    case JR_NULL: fputs("null", f); return;
    case JR_BOOL:
    case JR_NUMBER: fputs(v->text, f); return;
    case JR_STRING:
        fputc('"', f);
        for (const char *p = v->text; *p; p++)
            if (*p == '"' || *p == '\\')
                fprintf(f, "\\%c", *p);
            else if ((unsigned char)*p < 0x20)
                fprintf(f, "\\u%04x", (unsigned char)*p);
            else
                fputc(*p, f);
        fputc('"', f);
        return;
    case JR_ARRAY:
        fputc('[', f);
        for (size_t i = 0; i < v->n; i++)
            fputs(i ? ", " : "", f), put_json(f, &v->items[i]);
        fputc(']', f);
        return;
    case JR_OBJECT: {
        fputc('{', f);
        int first = 1;
        for (size_t i = 0; i < v->n; i++) {
            if (in_list(volatile_keys, v->keys[i]))
                continue;
            fprintf(f, "%s\"%s\": ", first ? "" : ", ", v->keys[i]);
            put_json(f, &v->items[i]);
            first = 0;
        }
        fputc('}', f);
        return;
    }
    }
}

/* ---- what changed in the JSON since the expectations were recorded ----
 * Expectations written before the rebuild of cli/, suites/ and reports/ around field
 * tables (no "expect_format" key) get the renames that rebuild made, applied to the
 * expectation before the comparison, so that every number is still compared with the one
 * recorded then. (No value is touched: keys move, and one word of a status.) A recording
 * made since (MW_EXPECT_RECORD=1) carries "expect_format": 2 and is compared as it is.
 *   - a method run's status "ok" is "complete", the word reports always used;
 *   - gradcheck's cell: network_status and network_message are the network record's
 *     status and message; failed_runs is failures (of every suite);
 *   - the oracle's silver_vs_gold is the metrics record ({"rel_l2": ...}); grad's
 *     per-layer errors of silver against gold sit beside it;
 *   - a revnet's "image": [h, w] is image_h and image_w, as in the files;
 *   - a layer check's max_ulp is max_ulp_floored (a different measure from the metrics'
 *     max_ulp, now named so). */

static jr_value *member(jr_value *obj, const char *key, size_t *at)
{
    for (size_t i = 0; obj->type == JR_OBJECT && i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) {
            if (at)
                *at = i;
            return &obj->items[i];
        }
    return NULL;
}

static void rename_key(jr_value *obj, const char *from, const char *to)
{
    size_t i;
    if (member(obj, from, &i)) {
        free(obj->keys[i]);
        ck_assert((obj->keys[i] = strdup(to)) != NULL);
    }
}

/* Append key: value (moved in) to an object. */
static void append(jr_value *obj, const char *key, jr_value value)
{
    obj->items = realloc(obj->items, (obj->n + 1) * sizeof *obj->items);
    obj->keys = realloc(obj->keys, (obj->n + 1) * sizeof *obj->keys);
    ck_assert(obj->items && obj->keys);
    obj->items[obj->n] = value;
    ck_assert((obj->keys[obj->n] = strdup(key)) != NULL);
    obj->n++;
}

/* Take member i out of an object. */
static jr_value take(jr_value *obj, size_t i)
{
    jr_value v = obj->items[i];
    free(obj->keys[i]);
    memmove(&obj->items[i], &obj->items[i + 1], (obj->n - i - 1) * sizeof *obj->items);
    memmove(&obj->keys[i], &obj->keys[i + 1], (obj->n - i - 1) * sizeof *obj->keys);
    obj->n--;
    return v;
}

static void migrate(jr_value *v)
{
    for (size_t i = 0; (v->type == JR_ARRAY || v->type == JR_OBJECT) && i < v->n; i++)
        migrate(&v->items[i]);
    if (v->type != JR_OBJECT)
        return;
    jr_value *st = member(v, "status", NULL);
    if (st && st->type == JR_STRING && strcmp(st->text, "ok") == 0 && member(v, "closure_err", NULL)) {
        free(st->text);
        ck_assert((st->text = strdup("complete")) != NULL);
    }
    rename_key(v, "network_status", "status");
    rename_key(v, "network_message", "message");
    rename_key(v, "failed_runs", "failures");
    if (member(v, "check", NULL))
        rename_key(v, "max_ulp", "max_ulp_floored");
    size_t at;
    jr_value *image = member(v, "image", &at);
    if (image && image->type == JR_ARRAY && image->n == 2) {
        jr_value both = take(v, at);
        append(v, "image_h", both.items[0]);
        append(v, "image_w", both.items[1]);
        free(both.items);
    }
    jr_value *svg = member(v, "silver_vs_gold", NULL);
    if (svg && svg->type == JR_NUMBER) {
        jr_value number = *svg;
        *svg = (jr_value){.type = JR_OBJECT};
        append(svg, "rel_l2", number);
    } else if (svg && svg->type == JR_OBJECT && member(svg, "per_layer_rel_l2", &at)) {
        jr_value layers = take(svg, at);
        append(v, "silver_vs_gold_per_layer_rel_l2", layers);
    }
}

/* The machine an expectation belongs to: its OpenBLAS core. */
static void machine(char *buf, size_t n)
{
    snprintf(buf, n, "openblas core %s\n", openblas_get_corename());
}

/* Check (or record) one case: the JSON that the command printed on standard output. */
static void expect_json(const char *name, const char *json, int timing)
{
    char path[512], mpath[512], here[128];
    snprintf(path, sizeof path, "%s/%s.json", MW_EXPECT_DIR, name);
    snprintf(mpath, sizeof mpath, "%s/MACHINE", MW_EXPECT_DIR);
    machine(here, sizeof here);
    const char *rec = getenv("MW_EXPECT_RECORD");
    if (rec && *rec == '1') {
        char err[256];
        jr_value *v = jr_parse(json, err, sizeof err);
        ck_assert_msg(v, "%s: the output is not JSON (%s)", name, err);
        ck_assert_msg(v->type == JR_OBJECT, "%s: the output is not a JSON object", name);
        char *two = strdup("2");
        ck_assert(two != NULL);
        append(v, "expect_format", (jr_value){.type = JR_NUMBER, .text = two});
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f, "cannot write %s", path);
        put_json(f, v);
        fputc('\n', f);
        ck_assert(fclose(f) == 0);
        jr_free(v);
        write_text(mpath, here);
        printf("recorded %s\n", path);
        return;
    }
    char *want_text = read_text(path), *recorded = read_text(mpath), err[256];
    ck_assert_msg(want_text && recorded, "%s or %s missing: record with MW_EXPECT_RECORD=1", path,
                  mpath);
    jr_value *want = jr_parse(want_text, err, sizeof err);
    ck_assert_msg(want, "%s: %s", path, err);
    size_t fmt_at;
    if (member(want, "expect_format", &fmt_at)) { /* recorded in today's format */
        jr_value fmt = take(want, fmt_at);
        ck_assert_msg(fmt.type == JR_NUMBER && strcmp(fmt.text, "2") == 0,
                      "%s: unknown expect_format", path);
        free(fmt.text);
    } else {
        migrate(want);
    }
    jr_value *got = jr_parse(json, err, sizeof err);
    ck_assert_msg(got, "%s: the output is not JSON (%s): %.300s", name, err, json);
    cmp_state c = {.exact = strcmp(recorded, here) == 0, .timing = timing};
    snprintf(c.where, sizeof c.where, "%s", name);
    if (!c.exact)
        printf("%s: recorded on %.*s, this machine has %.*s: numbers compared within the "
               "rounding of another summation order\n", name, (int)strcspn(recorded, "\n"),
               recorded, (int)strcspn(here, "\n"), here);
    compare(&c, want, got, name, NULL);
    ck_assert_msg(c.failures == 0, "%s: %d numbers differ from %s (first ones above)", name,
                  c.failures, path);
    jr_free(want);
    jr_free(got);
    free(want_text);
    free(recorded);
}

/* Run mwverify; it must succeed; its standard output is the JSON. */
static char *run_json(const char *const *args)
{
    tu_run_result r = tu_run(MW_BINARY, args);
    ck_assert_msg(r.code == 0, "%s %s: exit %d: %s", args[0], args[1] ? args[1] : "", r.code,
                  r.err);
    free(r.err);
    return r.out;
}

/* Run a suite into a report in tmpdir, then read it back with report summary --json. */
static char *suite_json(const char *const *args)
{
    char out[400];
    snprintf(out, sizeof out, "%s/r.h5", tmpdir);
    const char *argv[64];
    int n = 0;
    for (; args[n]; n++)
        argv[n] = args[n];
    argv[n++] = "--out", argv[n++] = out, argv[n++] = "--force", argv[n++] = "--quiet";
    argv[n] = NULL;
    tu_run_result r = tu_run(MW_BINARY, argv);
    ck_assert_msg(r.code == 0, "%s %s: exit %d: %s", args[0], args[1], r.code, r.err);
    tu_run_free(&r);
    return run_json((const char *[]){"report", "summary", out, "--json", NULL});
}

START_TEST(grad)
{
    char *j = run_json((const char *[]){"grad", "--depth", "3", "--f-act", "tanh", "--out-act",
                                        "tanh", "--json", NULL});
    expect_json("grad-mlp-f32", j, 0);
    free(j);
    j = run_json((const char *[]){"grad", "--arch", "revnet", "--dtype", "f64", "--out-act",
                                  "tanh", "--json", NULL});
    expect_json("grad-revnet-f64", j, 0);
    free(j);
}
END_TEST

START_TEST(gradcheck)
{
    char *j = run_json((const char *[]){"gradcheck", "--arch", "mlp,revnet", "--depth", "1,2",
                                        "--f-act", "tanh", "--out-act", "none,tanh",
                                        "--proj-repeats", "2", "--jobs", "1", "--quiet", "--json",
                                        NULL});
    expect_json("gradcheck", j, 0);
    free(j);
}
END_TEST

START_TEST(suites)
{
    make_tmpdir();
    char *j = suite_json((const char *[]){"suite", "gradcheck", "--arch", "mlp", "--depth",
                                          "1,2", "--f-act", "relu,tanh", "--out-act",
                                          "none,leaky", "--proj-repeats", "2", "--jobs", "1",
                                          NULL});
    expect_json("suite-gradcheck", j, 0);
    free(j);
    j = suite_json((const char *[]){"suite", "stability", "--depth", "2", "--f-act", "tanh",
                                    "--out-act", "none,tanh", "--epochs", "2", "--train-samples",
                                    "256", "--width", "8", "--hidden", "8", "--jobs", "1", NULL});
    expect_json("suite-stability-mlp", j, 0);
    free(j);
    j = suite_json((const char *[]){"suite", "stability", "--arch", "revnet", "--image", "4x4",
                                    "--blocks", "2", "--layers-per-block", "1", "--f-act", "relu",
                                    "--out-act", "none", "--seed", "1", "--epochs", "2",
                                    "--train-samples", "64", "--test-samples", "32", "--batch", "8",
                                    "--jobs", "1", NULL});
    expect_json("suite-stability-revnet", j, 0);
    free(j);
    j = suite_json((const char *[]){"suite", "memory", "--jobs", "1", NULL});
    expect_json("suite-memory", j, 0);
    free(j);
    j = suite_json((const char *[]){"suite", "timing", "--arch", "mlp", "--depth", "6,12",
                                    "--width", "8", "--hidden", "8", "--repeats", "2", "--jobs",
                                    "1", NULL});
    expect_json("suite-timing", j, 1);
    free(j);
    if (access("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", R_OK) == 0) {
        j = suite_json((const char *[]){"suite", "stability", "--dataset", "fashion-mnist",
                                        "--image", "7x7", "--arch", "mlp", "--depth", "2",
                                        "--f-act", "tanh", "--out-act", "none", "--seed", "1",
                                        "--epochs", "1", "--train-samples", "64", "--test-samples",
                                        "64", "--batch", "8", "--methods", "backprop,mixed",
                                        "--jobs", "1", NULL});
        expect_json("suite-stability-fashion", j, 0);
        free(j);
    } else {
        printf("suites: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist); "
               "its case was not compared\n");
    }
    remove_tmpdir();
}
END_TEST

START_TEST(layers)
{
    char *j = run_json((const char *[]){"layer", "check", "--include-faulty", "--json", NULL});
    expect_json("layer-check", j, 0);
    free(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("numbers");
    TCase *tc = tcase_create("grad");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, grad);
    suite_add_tcase(s, tc);
    tc = tcase_create("gradcheck");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, gradcheck);
    suite_add_tcase(s, tc);
    tc = tcase_create("suites");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, suites);
    suite_add_tcase(s, tc);
    tc = tcase_create("layers");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, layers);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
