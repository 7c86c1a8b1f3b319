/* Tests of reports/: the JSON writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <unistd.h>

#include "dump.h"
#include "json.h"
#include "jsonr.h"
#include "testutil.h"

START_TEST(json_writer_output)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_json j;
    mw_json_init(&j, f);
    mw_json_object_begin(&j, NULL);
    mw_json_string(&j, "name", "a \"quoted\"\\ line\n");
    mw_json_number(&j, "x", 0.1);
    mw_json_number(&j, "nan", NAN);
    mw_json_number(&j, "inf", -INFINITY);
    mw_json_integer(&j, "n", -42);
    mw_json_bool(&j, "yes", 1);
    mw_json_array_begin(&j, "list");
    mw_json_integer(&j, NULL, 1);
    mw_json_object_begin(&j, NULL);
    mw_json_null(&j, "z");
    mw_json_object_end(&j);
    mw_json_array_end(&j);
    mw_json_object_end(&j);
    ck_assert(mw_json_finish(&j) == 0);
    fclose(f);
    ck_assert_str_eq(buf, "{\"name\": \"a \\\"quoted\\\"\\\\ line\\n\", \"x\": 0.10000000000000001, "
                          "\"nan\": null, \"inf\": null, \"n\": -42, \"yes\": true, "
                          "\"list\": [1, {\"z\": null}]}\n");
    /* and it reads back, 0.1 exactly */
    char err[128];
    jr_value *v = jr_parse(buf, err, sizeof err);
    ck_assert_msg(v != NULL, "%s", err);
    ck_assert(jr_number(jr_get(v, "x")) == 0.1);
    ck_assert_str_eq(jr_get(v, "name")->text, "a \"quoted\"\\ line\n");
    ck_assert(jr_get(v, "nan")->type == JR_NULL);
    jr_free(v);
    free(buf);
}
END_TEST

/* ---- gradient dumps ---- */

static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/mw-test-reports-XXXXXX", base && *base ? base : "/tmp");
    ck_assert(mkdtemp(tmpdir) != NULL);
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert(system(cmd) == 0);
}

START_TEST(dump_path_checks)
{
    make_tmpdir();
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", tmpdir);
    ck_assert(mw_dump_check_path(path, 0, msg, sizeof msg) != 0);
    ck_assert_msg(strstr(msg, "does not exist"), "%s", msg);
    ck_assert(mw_dump_check_path(tmpdir, 1, msg, sizeof msg) != 0 && strstr(msg, "directory"));
    snprintf(path, sizeof path, "%s/x.h5", tmpdir);
    ck_assert(mw_dump_check_path(path, 0, msg, sizeof msg) == 0);
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs("keep me", f) >= 0 && fclose(f) == 0);
    ck_assert(mw_dump_check_path(path, 0, msg, sizeof msg) != 0 && strstr(msg, "--force"));
    ck_assert(mw_dump_check_path(path, 1, msg, sizeof msg) == 0);
    remove_tmpdir();
}
END_TEST

static double read_attr_f64(hid_t loc, const char *name)
{
    double v = NAN;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    ck_assert_msg(a >= 0, "attribute %s missing", name);
    ck_assert(H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0);
    H5Aclose(a);
    return v;
}

static void read_attr_str(hid_t loc, const char *name, char *out, size_t n)
{
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT), t = H5Aget_type(a);
    char *v = NULL;
    ck_assert(a >= 0 && t >= 0 && H5Tis_variable_str(t) > 0);
    ck_assert(H5Aread(a, t, &v) >= 0);
    snprintf(out, n, "%s", v);
    H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
}

static void read_doubles(hid_t loc, const char *name, double *out, size_t n, int rank_want)
{
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "dataset %s missing", name);
    hid_t sp = H5Dget_space(d);
    ck_assert_int_eq(H5Sget_simple_extent_ndims(sp), rank_want);
    ck_assert_uint_eq((size_t)H5Sget_simple_extent_npoints(sp), n);
    ck_assert(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0);
    H5Sclose(sp);
    H5Dclose(d);
}

/* A dump holds the spec, batch, every tensor in canonical order and shape, the oracle's
 * gradient and each method's, bit for bit; it replaces an existing file only whole. */
START_TEST(dump_round_trip)
{
    make_tmpdir();
    mw_spec s = tu_small_spec(2, MW_ACT_TANH, MW_ACT_LEAKY, 1, 3);
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    const size_t P = lay.total, N = (size_t)s.batch * (size_t)s.width;
    double *theta = malloc(P * sizeof *theta), *hi = malloc(P * sizeof *hi);
    double *lo = malloc(P * sizeof *lo), *gm = malloc(P * sizeof *gm), *back = malloc(P * sizeof *back);
    double x[32];
    int labels[4] = {0, 2, 1, 2};
    for (size_t j = 0; j < P; j++)
        theta[j] = 0.1 * (double)j, hi[j] = -(double)j, lo[j] = 0x1p-70 * (double)j,
        gm[j] = 1.0 / (1.0 + (double)j);
    for (size_t i = 0; i < N; i++)
        x[i] = (double)i / 7.0;
    mw_dump_method methods[2] = {
        {.name = "backprop", .status = "ok", .grad = gm, .rel_l2 = 1e-7, .max_abs = 1e-8,
         .max_ulp = 3, .cosine = 1, .seconds = 0.5, .closure_err = NAN, .peak_bytes = 1234},
        {.name = "revbackprop", .status = "nonfinite", .message = "layer 2 inverse: inf",
         .grad = NULL, .rel_l2 = NAN, .peak_bytes = -1},
    };
    mw_dump d = {.spec = &s, .lay = &lay, .version = "test", .command_line = "mwverify grad",
                 .dtype = "f32", .theta = theta, .x = x, .labels = labels, .oracle = "gold",
                 .oracle_hi = hi, .oracle_lo = lo, .oracle_loss = 1.25, .oracle_bits = 256,
                 .oracle_check_bits = 320, .certified_bits = 240.5, .fd_agree_bits = 150.25,
                 .n_methods = 2, .methods = methods};
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/g.h5", tmpdir);
    ck_assert_msg(mw_dump_write(path, &d, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(access(path, R_OK) == 0);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    char str[128];
    read_attr_str(f, "format", str, sizeof str);
    ck_assert_str_eq(str, MW_DUMP_FORMAT);
    read_attr_str(f, "out_act", str, sizeof str);
    ck_assert_str_eq(str, "leaky");
    ck_assert(read_attr_f64(f, "depth") == 2 && read_attr_f64(f, "bn") == 1);
    ck_assert(read_attr_f64(f, "leaky_slope") == 0.1);
    read_doubles(f, "theta", back, P, 1);
    ck_assert(memcmp(back, theta, P * sizeof *back) == 0);
    double xb[32];
    read_doubles(f, "input", xb, N, 2);
    ck_assert(memcmp(xb, x, N * sizeof *xb) == 0);
    /* every tensor, in its shape, at its canonical place */
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        char name[96];
        snprintf(name, sizeof name, "params/%s", p->name);
        read_doubles(f, name, back, p->count, p->kind == MW_PARAM_W ? 2 : 1);
        ck_assert(memcmp(back, theta + p->offset, p->count * sizeof *back) == 0);
        snprintf(name, sizeof name, "oracle/grad_lo/%s", p->name);
        read_doubles(f, name, back, p->count, p->kind == MW_PARAM_W ? 2 : 1);
        ck_assert(memcmp(back, lo + p->offset, p->count * sizeof *back) == 0);
        snprintf(name, sizeof name, "methods/backprop/grad/%s", p->name);
        read_doubles(f, name, back, p->count, p->kind == MW_PARAM_W ? 2 : 1);
        ck_assert(memcmp(back, gm + p->offset, p->count * sizeof *back) == 0);
    }
    hid_t g = H5Gopen2(f, "oracle", H5P_DEFAULT);
    ck_assert(read_attr_f64(g, "certified_bits") == 240.5);
    H5Gclose(g);
    g = H5Gopen2(f, "methods/revbackprop", H5P_DEFAULT);
    read_attr_str(g, "status", str, sizeof str);
    ck_assert_str_eq(str, "nonfinite");
    ck_assert(H5Lexists(g, "grad", H5P_DEFAULT) == 0);
    H5Gclose(g);
    H5Fclose(f);

    /* no temporary left beside it; writing into a missing directory fails with a message */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", tmpdir);
    ck_assert(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/missing/g.h5", tmpdir);
    ck_assert(mw_dump_write(path, &d, msg, sizeof msg) != 0 && strlen(msg) > 0);
    free(theta), free(hi), free(lo), free(gm), free(back);
    mw_layout_free(&lay);
    remove_tmpdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, json_writer_output);
    suite_add_tcase(s, tc);
    tc = tcase_create("dump");
    tcase_add_test(tc, dump_path_checks);
    tcase_add_test(tc, dump_round_trip);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
