/* Tests of reports/: the JSON writer, gradient dumps, suite reports (written and read
 * back through their field tables, and refused when damaged or foreign), figures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "export.h"
#include "plot.h"
#include "report.h"
#include "report_wire.h"
#include "h5util.h"
#include "mw_json.h"
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

/* ---- helpers ---- */

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

static size_t kind_bytes(mw_kind k, size_t elem_bytes)
{
    switch (k) {
    case MW_FK_LONG: return sizeof(long);
    case MW_FK_I64: return sizeof(long long);
    case MW_FK_U64: return sizeof(uint64_t);
    case MW_FK_SIZE: return sizeof(size_t);
    case MW_FK_F64: return sizeof(double);
    case MW_FK_STR: return elem_bytes;
    default: return sizeof(int);
    }
}

/* Two records equal in every field that files hold (NaN equal to NaN), by the record's
 * own table: a field added to a record is compared without touching this test. */
static void same_record(const mw_record *r, const void *a, const void *b, const char *what)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (f->flags & MW_F_NO_H5)
            continue;
        ck_assert_msg(mw_field_present(f, a) == mw_field_present(f, b), "%s: %s present in one",
                      what, f->name);
        if (!mw_field_present(f, a))
            continue;
        const void *p = mw_field_at_c(f, a), *q = mw_field_at_c(f, b);
        switch (f->kind) {
        case MW_FK_RECORD: same_record(f->sub, p, q, what); break;
        case MW_FK_STR:
            ck_assert_msg(strcmp(p, q) == 0, "%s: %s '%s' read back as '%s'", what, f->name,
                          (const char *)p, (const char *)q);
            break;
        case MW_FK_F64: {
            double x = *(const double *)p, y = *(const double *)q;
            ck_assert_msg(x == y || (isnan(x) && isnan(y)), "%s: %s %.17g read back as %.17g",
                          what, f->name, x, y);
            break;
        }
        case MW_FK_SET:
            ck_assert_msg(memcmp(p, q, (size_t)f->names->n * sizeof(int)) == 0, "%s: %s", what,
                          f->name);
            break;
        case MW_FK_LIST: {
            int n = *(const int *)((const char *)a + f->count);
            ck_assert_msg(n == *(const int *)((const char *)b + f->count), "%s: %s count", what,
                          f->name);
            size_t es = kind_bytes(f->elem, f->elem_bytes);
            for (int i = 0; i < n; i++) { /* bytes: lists of F64 here hold no NaN */
                ck_assert_msg(memcmp((const char *)p + (size_t)i * es,
                                     (const char *)q + (size_t)i * es, es) == 0,
                              "%s: %s[%d]", what, f->name, i);
            }
            break;
        }
        default:
            ck_assert_msg(memcmp(p, q, kind_bytes(f->kind, 0)) == 0, "%s: %s %g read back as %g",
                          what, f->name, mw_field_number(f, a), mw_field_number(f, b));
        }
    }
}

static mw_report_step a_step(long long k)
{
    mw_report_step s = mw_step_none();
    s.step = k, s.epoch = k / 2, s.loss = 1.5 + (double)k, s.accuracy = 0.25;
    s.vs = (mw_metrics){.rel_l2 = 1e-7 * (double)(k + 1), .max_abs = 2e-8, .max_ulp = 3.5,
                        .cosine = 0.999, .norm = 4.0, .nonfinite = 0};
    s.closure_err = k ? NAN : 1e-9, s.recon_err = 1e-12, s.dist_ref = 1e-6 * (double)k;
    s.silver_vs_gold = 1e-16, s.seconds = 0.25, s.peak_bytes = 4096 + k;
    return s;
}

static mw_report_epoch an_epoch(long long e)
{
    return (mw_report_epoch){.epoch = e, .steps = 10, .loss_mean = 1.25, .accuracy = 0.5,
                             .test_accuracy = 0.375, .rel_l2_mean = 1e-7, .rel_l2_max = 2e-7,
                             .max_ulp_max = 8.0, .dist_ref = NAN, .lr = 1e-3, .seconds = 2.0};
}

/* A run with `steps` steps, two epochs when it has steps, and its per-layer matrix. */
static mw_report_run make_run(long index, long network, mw_method method, mw_run_status status,
                              size_t steps, int layers)
{
    mw_report_run run;
    memset(&run, 0, sizeof run);
    run.index = index, run.network = network, run.method = method, run.dtype = MW_F64;
    run.status = status, run.est_gflop = 0.5 * (double)index;
    snprintf(run.message, sizeof run.message, "%s", status == MW_RUN_COMPLETE ? "" : "why");
    run.n_layers = layers, run.n_steps = steps, run.n_epochs = steps ? 2 : 0;
    run.steps = calloc(steps ? steps : 1, sizeof *run.steps);
    run.layer_rel_l2 = calloc(steps * (size_t)layers + 1, sizeof(double));
    run.epochs = calloc(2, sizeof *run.epochs);
    ck_assert(run.steps && run.layer_rel_l2 && run.epochs);
    for (size_t k = 0; k < steps; k++) {
        run.steps[k] = a_step((long long)k);
        for (int l = 0; l < layers; l++)
            run.layer_rel_l2[k * (size_t)layers + (size_t)l] = 1e-9 * (double)(l + 1) + (double)k;
    }
    for (size_t e = 0; e < run.n_epochs; e++)
        run.epochs[e] = an_epoch((long long)e);
    return run;
}

/* ---- gradient dumps ---- */

START_TEST(dump_path_checks)
{
    make_tmpdir();
    char path[512];
    mw_err err = {0};
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5", tmpdir);
    ck_assert(mw_dump_check_path(path, 0, &err) == MW_ERR_ARG);
    ck_assert_msg(strstr(err.msg, "does not exist"), "%s", err.msg);
    ck_assert(mw_dump_check_path(tmpdir, 1, &err) == MW_ERR_ARG && strstr(err.msg, "directory"));
    snprintf(path, sizeof path, "%s/x.h5", tmpdir);
    ck_assert(mw_dump_check_path(path, 0, &err) == MW_OK);
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs("keep me", f) >= 0 && fclose(f) == 0);
    ck_assert(mw_dump_check_path(path, 0, &err) == MW_ERR_ARG && strstr(err.msg, "--force"));
    ck_assert(mw_dump_check_path(path, 1, &err) == MW_OK);
    remove_tmpdir();
}
END_TEST

/* A revnet's dump: the batch as (B, C, H, W), conv weights as [out][in][3][3], the
 * revnet's shape attributes; values at their canonical places. */
START_TEST(dump_revnet_shapes)
{
    make_tmpdir();
    mw_spec s = mw_spec_revnet_default();
    s.image_h = s.image_w = 4, s.blocks = 2, s.batch = 2, s.classes = 3;
    mw_spec_complete(&s);
    mw_layout lay;
    ck_assert(mw_layout_build(&s, &lay) == 0);
    const size_t P = lay.total, N = (size_t)s.batch * (size_t)s.width;
    double *theta = malloc(P * sizeof *theta), *back = malloc(P * sizeof *back);
    double *x = malloc(N * sizeof *x), *xb = malloc(N * sizeof *xb);
    int labels[2] = {2, 0};
    for (size_t j = 0; j < P; j++)
        theta[j] = (double)j;
    for (size_t i = 0; i < N; i++)
        x[i] = -(double)i;
    mw_oracle_info oracle = {.kind = MW_ORACLE_SILVER, .certified_bits = NAN, .fd_agree_bits = NAN};
    mw_dump d = {.spec = &s, .lay = &lay, .command_line = "mwverify grad", .dtype = MW_F64,
                 .theta = theta, .x = x, .labels = labels, .oracle = &oracle, .oracle_hi = theta};
    char path[512];
    mw_err err = {0};
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    ck_assert_msg(mw_dump_write(path, &d, &err) == MW_OK, "%s", err.msg);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    char str[32];
    read_attr_str(f, "arch", str, sizeof str);
    ck_assert_str_eq(str, "revnet");
    ck_assert(read_attr_f64(f, "channels") == 4 && read_attr_f64(f, "image_h") == 4 &&
              read_attr_f64(f, "image_w") == 4 && read_attr_f64(f, "blocks") == 2 &&
              read_attr_f64(f, "layers_per_block") == 1);
    read_doubles(f, "input", xb, N, 4);
    ck_assert(memcmp(xb, x, N * sizeof *xb) == 0);
    hid_t ds = H5Dopen2(f, "params/layer2.unit1.W", H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[4];
    ck_assert_int_eq(H5Sget_simple_extent_dims(sp, dims, NULL), 4);
    ck_assert(dims[0] == 8 && dims[1] == 8 && dims[2] == 3 && dims[3] == 3);
    H5Sclose(sp);
    H5Dclose(ds);
    for (int t = 0; t < lay.n_params; t++) {
        const mw_param_info *p = &lay.params[t];
        char name[96];
        snprintf(name, sizeof name, "params/%s", p->name);
        read_doubles(f, name, back, p->count, p->ndim);
        ck_assert(memcmp(back, theta + p->offset, p->count * sizeof *back) == 0);
    }
    H5Fclose(f);
    mw_layout_free(&lay);
    free(theta), free(back), free(x), free(xb);
    remove_tmpdir();
}
END_TEST

/* A dump holds the spec, batch, every tensor in canonical order and shape, the oracle's
 * gradient and each method's, bit for bit; it replaces an existing file only whole; and
 * it reads back as a report of one network with the same records. */
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
    mw_oracle_info oracle = {.kind = MW_ORACLE_GOLD, .bits = 256, .check_bits = 320,
                             .certified_bits = 240.5, .fd_agree_bits = 150.25, .fd_coords = 32,
                             .seconds = 0.5, .gold_estimate_seconds = 0.25, .loss = 1.25,
                             .grad_norm = 3.0};
    snprintf(oracle.reason, sizeof oracle.reason, "within the gold budget");
    oracle.silver_vs_gold = (mw_metrics){.rel_l2 = 1e-17, .max_abs = 1e-18, .max_ulp = NAN,
                                         .cosine = 1, .norm = 3.0};
    mw_report_run runs[2];
    runs[0] = make_run(0, 0, MW_BACKPROP, MW_RUN_COMPLETE, 1, 0);
    runs[1] = make_run(1, 0, MW_REVBACKPROP, MW_RUN_NONFINITE, 1, 0);
    runs[1].steps[0].vs.nonfinite = 3;
    const double *grads[2] = {gm, NULL};
    mw_dump d = {.spec = &s, .lay = &lay, .command_line = "mwverify grad", .dtype = MW_F32,
                 .theta = theta, .x = x, .labels = labels, .oracle = &oracle, .oracle_hi = hi,
                 .oracle_lo = lo, .n_runs = 2, .runs = runs, .grads = grads};
    char path[512];
    mw_err err = {0};
    snprintf(path, sizeof path, "%s/g.h5", tmpdir);
    ck_assert_msg(mw_dump_write(path, &d, &err) == MW_OK, "%s", err.msg);
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

    /* read back as a report: one network with the spec and oracle, both runs */
    mw_report r;
    ck_assert_msg(mw_report_load(&r, path, &err) == MW_OK, "%s", err.msg);
    ck_assert_str_eq(r.meta.suite, "grad");
    ck_assert_str_eq(r.meta.command_line, "mwverify grad");
    ck_assert(r.n_networks == 1 && r.n_runs == 2);
    same_record(&mw_spec_record, &s, &r.networks[0].spec, "dump spec");
    same_record(&mw_oracle_record, &oracle, &r.networks[0].oracle, "dump oracle");
    for (int i = 0; i < 2; i++) {
        const mw_report_run *y = mw_report_run_at(&r, runs[i].index);
        ck_assert(y != NULL && y->n_steps == 1);
        same_record(&mw_run_record, &runs[i], y, "dump run");
        same_record(&mw_step_record, &runs[i].steps[0], &y->steps[0], "dump step");
    }
    mw_report_free(&r);

    /* no temporary left beside it; writing into a missing directory fails with a message */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", tmpdir);
    ck_assert(system(cmd) == 0);
    snprintf(path, sizeof path, "%s/missing/g.h5", tmpdir);
    ck_assert(mw_dump_write(path, &d, &err) == MW_ERR_IO && strlen(err.msg) > 0);
    for (int i = 0; i < 2; i++)
        mw_run_free(&runs[i]);
    free(theta), free(hi), free(lo), free(gm), free(back);
    mw_layout_free(&lay);
    remove_tmpdir();
}
END_TEST

/* ---- suite reports ---- */

/* A report with a field of every kind: networks with an oracle, projforward's rate and a
 * reference trajectory; runs set out of index order; each suite table with rows. */
static void make_report(mw_report *r, const char *path)
{
    mw_report_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.suite, sizeof meta.suite, "gradcheck");
    snprintf(meta.mwverify_version, sizeof meta.mwverify_version, "9.9.9");
    snprintf(meta.command_line, sizeof meta.command_line, "mwverify gradcheck --x \"y\"");
    snprintf(meta.config_json, sizeof meta.config_json, "{\"depth\": [1, 2]}");
    mw_err err = {0};
    ck_assert_msg(mw_report_init(r, path, &meta, &err) == MW_OK, "%s", err.msg);
    for (int i = 1; i >= 0; i--) {
        mw_report_network n;
        memset(&n, 0, sizeof n);
        n.index = i;
        n.spec = tu_small_spec(1 + i, MW_ACT_TANH, i ? MW_ACT_LEAKY : MW_ACT_IDENTITY, i, 77);
        n.status = MW_NET_OK;
        n.oracle = (mw_oracle_info){.kind = MW_ORACLE_GOLD, .bits = 256, .check_bits = 320,
                                    .certified_bits = 244.5, .fd_agree_bits = 160.25,
                                    .fd_coords = 64, .seconds = 0.5, .gold_estimate_seconds = 1,
                                    .loss = 1.125, .grad_norm = 2.5};
        n.oracle.silver_vs_gold.rel_l2 = 1e-16;
        if (i == 1) {
            n.proj.n = 5, n.proj.repeats = 8, n.proj.slope = -0.49, n.proj.slope_r2 = 0.99;
            for (int k = 0; k < 5; k++)
                n.proj.k[k] = pow(4.0, k), n.proj.rel_err[k] = 8.0 / (k + 1),
                n.proj.rel_err_sd[k] = 0.1;
        }
        mw_report_run ref = make_run(0, 0, MW_BACKPROP, MW_RUN_COMPLETE, i ? 4 : 0, 1);
        n.ref_steps = ref.steps, n.n_ref_steps = ref.n_steps;
        n.ref_epochs = ref.epochs, n.n_ref_epochs = ref.n_epochs;
        ck_assert(mw_report_set_network(r, &n) == MW_OK);
        mw_run_free(&ref);
    }
    mw_report_run runs[3] = {
        make_run(8, 1, MW_FORWARD, MW_RUN_SKIPPED, 0, 3),
        make_run(0, 0, MW_BACKPROP, MW_RUN_COMPLETE, 3, 2),
        make_run(7, 1, MW_MOONWALK, MW_RUN_DIVERGED, 1, 3),
    };
    for (int i = 0; i < 3; i++) {
        ck_assert(mw_report_set_run(r, &runs[i]) == MW_OK);
        mw_run_free(&runs[i]);
    }
    mw_report_fit fits[2] = {
        {.setting = "mlp width 8", .method = MW_MOONWALK, .dtype = MW_F32,
         .quantity = "peak_bytes", .exponent = 0.02, .r2 = 0.5, .points = 4, .table1 = "0"},
        {.setting = "mlp width 8", .method = MW_BACKPROP, .dtype = MW_F64,
         .quantity = "seconds", .exponent = 1.01, .r2 = NAN, .points = 3, .table1 = "1"},
    };
    mw_report_ratio ratio = {.name = "peak_bytes backprop/moonwalk", .value = 3.5, .paper = NAN};
    mw_layer_check_row checks[2] = {
        {.layer = "coupling", .config = "mlp 8/6", .dtype = MW_F32, .check = "inverse",
         .error = 1e-7, .max_ulp_floored = 2, .threshold = 1e-5, .pass = 1},
        {.layer = "coupling", .config = "mlp 8/6", .dtype = MW_F64, .check = "method:moonwalk",
         .error = 1e-3, .max_ulp_floored = NAN, .threshold = 1e-12, .pass = 0},
    };
    ck_assert(mw_report_add_rows(r, MW_TABLE_FITS, fits, 2) == MW_OK);
    ck_assert(mw_report_add_rows(r, MW_TABLE_RATIOS, &ratio, 1) == MW_OK);
    ck_assert(mw_report_add_rows(r, MW_TABLE_LAYER_CHECKS, checks, 2) == MW_OK);
}

static void same_run(const mw_report_run *x, const mw_report_run *y)
{
    same_record(&mw_run_record, x, y, "run");
    ck_assert(y->n_layers == x->n_layers || (x->n_steps == 0 && y->n_steps == 0));
    ck_assert(y->n_steps == x->n_steps && y->n_epochs == x->n_epochs);
    for (size_t k = 0; k < x->n_steps; k++)
        same_record(&mw_step_record, &x->steps[k], &y->steps[k], "step");
    for (size_t e = 0; e < x->n_epochs; e++)
        same_record(&mw_epoch_record, &x->epochs[e], &y->epochs[e], "epoch");
    for (size_t k = 0; k < x->n_steps * (size_t)x->n_layers; k++)
        ck_assert(x->layer_rel_l2[k] == y->layer_rel_l2[k]);
}

/* b holds what a holds, record by record. */
static void same_report(const mw_report *a, const mw_report *b)
{
    same_record(&mw_meta_record, &a->meta, &b->meta, "meta");
    ck_assert(b->n_networks == 2 && b->n_runs == 3);
    for (size_t i = 0; i < 2; i++) {
        const mw_report_network *x = &a->networks[i], *y = &b->networks[i];
        same_record(&mw_network_record, x, y, "network");
        ck_assert(x->n_ref_steps == y->n_ref_steps && x->n_ref_epochs == y->n_ref_epochs);
        for (size_t k = 0; k < x->n_ref_steps; k++)
            same_record(&mw_step_record, &x->ref_steps[k], &y->ref_steps[k], "reference step");
        for (size_t e = 0; e < x->n_ref_epochs; e++)
            same_record(&mw_epoch_record, &x->ref_epochs[e], &y->ref_epochs[e], "reference epoch");
    }
    ck_assert(b->networks[1].proj.n == 5 && b->networks[0].proj.n == 0);
    for (size_t i = 0; i < 3; i++)
        same_run(&a->runs[i], &b->runs[i]);
    for (int t = 0; t < MW_N_TABLES; t++) {
        const mw_record *rec = mw_report_table_record(t);
        ck_assert_uint_eq(b->tables[t].n, a->tables[t].n);
        for (size_t k = 0; k < a->tables[t].n; k++)
            same_record(rec, (const char *)a->tables[t].rows + k * rec->size,
                        (const char *)b->tables[t].rows + k * rec->size, mw_report_table_name(t));
    }

}

START_TEST(report_round_trip)
{
    make_tmpdir();
    char path[512];
    mw_err err = {0};
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    mw_report a, b;
    make_report(&a, path);
    /* held in index order whatever order they were set in */
    ck_assert(a.n_networks == 2 && a.networks[0].index == 0 && a.networks[1].index == 1);
    ck_assert(a.n_runs == 3 && a.runs[0].index == 0 && a.runs[1].index == 7 &&
              a.runs[2].index == 8);
    ck_assert_msg(mw_report_commit(&a, &err) == MW_OK, "%s", err.msg);
    ck_assert_msg(mw_report_load(&b, path, &err) == MW_OK, "%s", err.msg);
    same_report(&a, &b);

    /* the /summary table: one row per run in index order, each the run's summary */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert(f >= 0);
    h5u w = {&err, MW_ERR_FORMAT, 0, 0};
    size_t n = 0;
    mw_run_summary *rows = h5u_read_table(&w, f, "summary", &mw_summary_record, &n);
    H5Fclose(f);
    ck_assert_msg(!w.failed && rows && n == 3, "%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        mw_run_summary want;
        mw_run_summarize(&a.runs[i], mw_report_network_at(&a, a.runs[i].network), &want);
        same_record(&mw_summary_record, &want, &rows[i], "summary row");
    }
    ck_assert(rows[0].run == 0 && rows[1].run == 7 && rows[2].run == 8);
    ck_assert(rows[1].depth == 2 && rows[1].last.step == 0 && rows[2].steps == 0);
    free(rows);
    /* h5dump reads it too */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' | grep -q 'DATASET \"layer_checks\"'", path);
    ck_assert(system(cmd) == 0);
    mw_report_free(&a);
    mw_report_free(&b);
    remove_tmpdir();
}
END_TEST

/* The bytes the reading child sends: they unpack to the same report, and a cut, a
 * corrupted word or a string without its end is refused with a message, never a fault
 * (ASan in CI) or a record that fails its field table. */
START_TEST(report_wire_refuses_damage)
{
    mw_report a, b;
    mw_err err = {0};
    make_report(&a, "unused.h5");
    void *bytes = NULL;
    size_t n = 0;
    ck_assert(mw_report_pack(&a, &bytes, &n) == MW_OK && n % 8 == 0 && n > 0);
    ck_assert_msg(mw_report_unpack(&b, bytes, n, &err) == MW_OK, "%s", err.msg);
    same_report(&a, &b);
    mw_report_free(&b);

    unsigned char *c = malloc(n);
    ck_assert(c != NULL);
    for (size_t cut = 0; cut < n; cut += 8) { /* every shorter message */
        memcpy(c, bytes, cut);
        ck_assert_msg(mw_report_unpack(&b, c, cut, &err) == MW_ERR_FORMAT, "cut at %zu", cut);
        mw_report_free(&b);
    }
    ck_assert(mw_report_unpack(&b, bytes, n - 3, &err) == MW_ERR_FORMAT);
    mw_report_free(&b);
    static const uint64_t words[] = {~0ull, 1ull << 63, 0x7fffffffull, 0xffffffffull, 3};
    long refused = 0;
    for (size_t at = 0; at < n; at += 8)
        for (size_t k = 0; k < sizeof words / sizeof words[0]; k++) {
            memcpy(c, bytes, n);
            memcpy(c + at, &words[k], 8);
            mw_status st = mw_report_unpack(&b, c, n, &err);
            ck_assert_msg(st == MW_OK || st == MW_ERR_FORMAT, "word %zu: %s", at, err.msg);
            if (st == MW_OK) {
                for (size_t i = 0; i < b.n_runs; i++)
                    ck_assert(mw_record_sane(&mw_run_record, &b.runs[i], &err) == MW_OK);
                ck_assert(mw_record_sane(&mw_meta_record, &b.meta, &err) == MW_OK);
            } else {
                ck_assert(err.msg[0] != '\0');
                refused++;
            }
            mw_report_free(&b);
        }
    ck_assert(refused > 0);
    memcpy(c, bytes, n);
    memset(c, 'x', sizeof a.meta); /* the metadata's strings without their ends */
    ck_assert(mw_report_unpack(&b, c, n, &err) == MW_ERR_FORMAT &&
              strstr(err.msg, "a string without its end"));
    mw_report_free(&b);
    free(c);
    free(bytes);
    mw_report_free(&a);
}
END_TEST

/* Setting a network or run with an index already held replaces it, in place. */
START_TEST(report_set_replaces)
{
    mw_report r;
    mw_report_meta meta = {0};
    mw_err err = {0};
    ck_assert(mw_report_init(&r, "unused.h5", &meta, &err) == MW_OK);
    long order[] = {5, 2, 9, 5, 0};
    for (int i = 0; i < 5; i++) {
        mw_report_run run = make_run(order[i], 0, MW_MIXED,
                                     i == 3 ? MW_RUN_FAILED : MW_RUN_COMPLETE, 1, 1);
        ck_assert(mw_report_set_run(&r, &run) == MW_OK);
        mw_run_free(&run);
    }
    ck_assert_uint_eq(r.n_runs, 4);
    for (size_t i = 1; i < r.n_runs; i++)
        ck_assert(r.runs[i - 1].index < r.runs[i].index);
    ck_assert(mw_report_run_at(&r, 5)->status == MW_RUN_FAILED);
    ck_assert(mw_report_run_at(&r, 3) == NULL && mw_report_run_at(&r, 10) == NULL);
    mw_report_free(&r);
}
END_TEST

/* The text mw_report_export writes for table t in format fmt. */
static char *exported(const mw_report *r, mw_export_table t, mw_export_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    mw_err err = {0};
    ck_assert(f && mw_report_export(f, r, t, fmt, &err) == MW_OK);
    ck_assert(fclose(f) == 0);
    return buf;
}

static size_t lines_of(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* report export: a row per observation with its id columns; a cell with a comma, quote or
 * line break quoted as RFC 4180 says (quotes doubled) in CSV and escaped in JSON Lines; a
 * missing number an empty cell or null; a seed above 2^53 as digits in CSV and a string in
 * JSON Lines; as many rows as the report has of each table. */
START_TEST(export_quotes_and_rows)
{
    mw_report r;
    make_report(&r, "unused.h5");
    mw_report_run *moon = NULL;
    for (size_t k = 0; k < r.n_runs; k++)
        if (r.runs[k].index == 7)
            moon = &r.runs[k];
    ck_assert(moon);
    snprintf(moon->message, sizeof moon->message, "a, \"b\"\nc");
    r.networks[1].spec.seed = 1ull << 60;
    char *csv = exported(&r, MW_EXPORT_RUNS, MW_EXPORT_CSV);
    ck_assert_msg(strncmp(csv, "suite,network,run,arch,", 23) == 0, "%s", csv);
    ck_assert_msg(strstr(csv, ",\"a, \"\"b\"\"\nc\",") && strstr(csv, ",1152921504606846976,"),
                  "%s", csv);
    ck_assert_uint_eq(lines_of(csv), r.n_runs + 1 + 1); /* the header; the line break inside */
    free(csv);
    char *js = exported(&r, MW_EXPORT_RUNS, MW_EXPORT_JSONL);
    ck_assert_msg(strstr(js, "\"message\": \"a, \\\"b\\\"\\u000ac\"") &&
                      strstr(js, "\"seed\": \"1152921504606846976\""),
                  "%s", js);
    ck_assert_uint_eq(lines_of(js), r.n_runs);
    free(js);
    /* a fit without its R²: an empty cell, null */
    csv = exported(&r, MW_EXPORT_FITS, MW_EXPORT_CSV);
    ck_assert_msg(strstr(csv, "gradcheck,mlp width 8,backprop,f64,seconds,1.01,,3,1\n"), "%s", csv);
    free(csv);
    js = exported(&r, MW_EXPORT_FITS, MW_EXPORT_JSONL);
    ck_assert_msg(strstr(js, "\"r2\": null"), "%s", js);
    free(js);
    /* rows: every step, every epoch, every (step, layer) */
    size_t steps = 0, epochs = 0, cells = 0;
    for (size_t k = 0; k < r.n_runs; k++)
        steps += r.runs[k].n_steps, epochs += r.runs[k].n_epochs,
            cells += r.runs[k].n_steps * (size_t)r.runs[k].n_layers;
    const struct {
        mw_export_table t;
        size_t rows;
    } want[] = {{MW_EXPORT_STEPS, steps},   {MW_EXPORT_EPOCHS, epochs},
                {MW_EXPORT_LAYERS, cells},  {MW_EXPORT_NETWORKS, r.n_networks},
                {MW_EXPORT_RATIOS, 1}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_uint_eq(mw_export_rows(&r, want[i].t), want[i].rows);
        csv = exported(&r, want[i].t, MW_EXPORT_CSV);
        ck_assert_uint_eq(lines_of(csv), want[i].rows + 1);
        free(csv);
    }
    ck_assert(steps > r.n_runs && cells > steps);
    mw_report_free(&r);
}
END_TEST

/* Rewrite one attribute of an object in a file: as a string, or as an integer. */
static void set_attr(const char *path, const char *object, const char *name, const char *text,
                     long long number)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(f >= 0);
    hid_t o = H5Oopen(f, object, H5P_DEFAULT);
    ck_assert_msg(o >= 0, "%s missing", object);
    ck_assert(H5Adelete(o, name) >= 0);
    hid_t sp = H5Screate(H5S_SCALAR), t = text ? H5Tcopy(H5T_C_S1) : H5Tcopy(H5T_NATIVE_LLONG);
    if (text)
        ck_assert(H5Tset_size(t, H5T_VARIABLE) >= 0);
    hid_t a = H5Acreate2(o, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(a >= 0 && H5Awrite(a, t, text ? (const void *)&text : (const void *)&number) >= 0);
    H5Aclose(a), H5Tclose(t), H5Sclose(sp), H5Oclose(o);
    ck_assert(H5Fclose(f) >= 0);
}

/* A fresh committed report at dir/name. */
static void fresh_report(char *path, size_t n, const char *name)
{
    mw_report r;
    mw_err err = {0};
    snprintf(path, n, "%s/%s", tmpdir, name);
    make_report(&r, path);
    ck_assert_msg(mw_report_commit(&r, &err) == MW_OK, "%s", err.msg);
    mw_report_free(&r);
}

/* Loading path fails with status st and a one-line message naming the file and holding
 * every one of the wanted words. */
static void load_refused(const char *path, mw_status st, const char *want1, const char *want2)
{
    mw_report r;
    mw_err err = {0};
    ck_assert_int_eq(mw_report_load(&r, path, &err), st);
    const char *base = strrchr(path, '/') + 1;
    ck_assert_msg(strstr(err.msg, base) && strstr(err.msg, want1) &&
                  (!want2 || strstr(err.msg, want2)) && !strchr(err.msg, '\n'),
                  "%s: '%s'", base, err.msg);
    ck_assert(r.n_networks == 0 && r.n_runs == 0);
}

/* What is not a sound report of ours is refused with a message that names the file. */
START_TEST(report_refuses_bad_files)
{
    make_tmpdir();
    char path[512], cmd[1200];
    mw_err err = {0};
    snprintf(path, sizeof path, "%s/missing.h5", tmpdir);
    load_refused(path, MW_ERR_ARG, "no such file", NULL);
    /* not HDF5 */
    snprintf(path, sizeof path, "%s/text.h5", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs("not hdf5 at all\n", f) >= 0 && fclose(f) == 0);
    load_refused(path, MW_ERR_FORMAT, "cannot be opened as HDF5", NULL);
    /* truncated: a real report cut in half */
    fresh_report(path, sizeof path, "cut.h5");
    snprintf(cmd, sizeof cmd, "truncate -s $(( $(stat -c %%s '%s') / 2 )) '%s'", path, path);
    ck_assert(system(cmd) == 0);
    load_refused(path, MW_ERR_FORMAT, "damaged", NULL);
    /* foreign HDF5: no format attribute */
    snprintf(path, sizeof path, "%s/foreign.h5", tmpdir);
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(h >= 0 && H5Fclose(h) >= 0);
    load_refused(path, MW_ERR_FORMAT, "not a file of mwverify's", NULL);
    /* a newer version of ours */
    fresh_report(path, sizeof path, "newer.h5");
    set_attr(path, "/", "format_version", NULL, 99);
    load_refused(path, MW_ERR_FORMAT, "version 99", "upgrade");
    set_attr(path, "/", "format_version", NULL, 1); /* an older one */
    load_refused(path, MW_ERR_FORMAT, "version 1", "older mwverify");
    /* a field out of its range, an unknown enum name, a field missing, a wrong type */
    fresh_report(path, sizeof path, "range.h5");
    set_attr(path, "/networks/net-000000", "depth", NULL, 0);
    load_refused(path, MW_ERR_FORMAT, "'depth' = 0", "net-000000");
    fresh_report(path, sizeof path, "enum.h5");
    set_attr(path, "/runs/run-000007", "method", "moonwlak", 0);
    load_refused(path, MW_ERR_FORMAT, "unknown method 'moonwlak'", "run-000007");
    fresh_report(path, sizeof path, "type.h5");
    set_attr(path, "/runs/run-000000", "status", NULL, 2);
    load_refused(path, MW_ERR_FORMAT, "'status' is not a string", NULL);
    fresh_report(path, sizeof path, "missing-field.h5");
    h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(h >= 0 && H5Adelete_by_name(h, "runs/run-000008", "network", H5P_DEFAULT) >= 0);
    ck_assert(H5Fclose(h) >= 0);
    load_refused(path, MW_ERR_FORMAT, "attribute 'network' missing", NULL);
    /* a run whose network is not in the file */
    fresh_report(path, sizeof path, "orphan.h5");
    h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(h >= 0 && H5Ldelete(h, "networks/net-000001", H5P_DEFAULT) >= 0);
    ck_assert(H5Fclose(h) >= 0);
    load_refused(path, MW_ERR_FORMAT, "belongs to network 1", NULL);
    /* paths */
    ck_assert(mw_report_check_path(path, 0, 0, &err) == MW_ERR_ARG && strstr(err.msg, "--resume"));
    ck_assert(mw_report_check_path(path, 1, 0, &err) == MW_OK);
    snprintf(path, sizeof path, "%s/none.h5", tmpdir);
    ck_assert(mw_report_check_path(path, 0, 1, &err) == MW_ERR_ARG &&
              strstr(err.msg, "does not exist"));
    remove_tmpdir();
}
END_TEST

/* The figure: a non-empty PNG and SVG; nothing to plot is said so; a bad name refused. */
START_TEST(report_plot_files)
{
    make_tmpdir();
    char path[512], out[600];
    mw_err err = {0};
    mw_report r;
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    make_report(&r, path);
    const char *ext[2] = {"png", "svg"};
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/fig.%s", tmpdir, ext[k]);
        ck_assert(mw_plot_check_out(out, &err) == MW_OK);
        ck_assert_msg(mw_plot_gradcheck(&r, out, &err) == MW_OK, "%s", err.msg);
        struct stat sb;
        ck_assert(stat(out, &sb) == 0 && sb.st_size > 1000);
        FILE *f = fopen(out, "rb");
        char head[8] = {0};
        ck_assert(f && fread(head, 1, 4, f) == 4 && fclose(f) == 0);
        ck_assert(k == 0 ? memcmp(head, "\x89PNG", 4) == 0 : strncmp(head, "<?xm", 4) == 0);
    }
    ck_assert(mw_plot_check_out("fig.pdf", &err) == MW_ERR_ARG && strstr(err.msg, ".png"));
    snprintf(out, sizeof out, "%s/no/fig.png", tmpdir);
    ck_assert(mw_plot_check_out(out, &err) == MW_ERR_ARG && strstr(err.msg, "does not exist"));
    mw_report_free(&r);
    mw_report empty;
    mw_report_meta meta = {0};
    ck_assert(mw_report_init(&empty, path, &meta, &err) == MW_OK);
    snprintf(out, sizeof out, "%s/none.png", tmpdir);
    ck_assert(mw_plot_gradcheck(&empty, out, &err) == MW_ERR_ARG &&
              strstr(err.msg, "no complete run"));
    ck_assert(access(out, F_OK) != 0);
    mw_report_free(&empty);
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
    tcase_add_test(tc, dump_revnet_shapes);
    suite_add_tcase(s, tc);
    tc = tcase_create("report");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, report_round_trip);
    tcase_add_test(tc, report_wire_refuses_damage);
    tcase_add_test(tc, report_set_replaces);
    tcase_add_test(tc, export_quotes_and_rows);
    tcase_add_test(tc, report_refuses_bad_files);
    tcase_add_test(tc, report_plot_files);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
