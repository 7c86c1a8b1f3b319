/* Tests of reports/: the JSON writer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump.h"
#include "plot.h"
#include "report.h"
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
    mw_dump d = {.spec = &s, .lay = &lay, .version = "test", .command_line = "mwverify grad",
                 .dtype = "f64", .theta = theta, .x = x, .labels = labels, .oracle = "silver",
                 .oracle_hi = theta, .oracle_loss = 1.0, .certified_bits = NAN,
                 .fd_agree_bits = NAN};
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    ck_assert_msg(mw_dump_write(path, &d, msg, sizeof msg) == 0, "%s", msg);
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

/* ---- suite reports ---- */

static void fill_run(mw_report_run *run, long index, long network, const char *method,
                     const char *status, size_t steps, int layers)
{
    memset(run, 0, sizeof *run);
    run->index = index, run->network = network;
    snprintf(run->method, sizeof run->method, "%s", method);
    snprintf(run->dtype, sizeof run->dtype, "f64");
    snprintf(run->status, sizeof run->status, "%s", status);
    snprintf(run->message, sizeof run->message, "%s", strcmp(status, "complete") ? "why" : "");
    run->n_layers = layers, run->n_steps = steps, run->n_epochs = steps ? 2 : 0;
    run->steps = calloc(steps ? steps : 1, sizeof *run->steps);
    run->layer_rel_l2 = calloc(steps * (size_t)layers + 1, sizeof(double));
    run->epochs = calloc(2, sizeof *run->epochs);
    for (size_t k = 0; k < steps; k++) {
        run->steps[k] = (mw_report_step){.step = (long long)k, .epoch = (long long)k / 2,
                                         .loss = 1.5 + (double)k, .accuracy = 0.25,
                                         .rel_l2 = 1e-7 * (double)(k + 1), .max_abs = 2e-8,
                                         .max_ulp = 3.5, .cosine = 0.999,
                                         .closure_err = k ? NAN : 1e-9, .recon_err = 1e-12,
                                         .dist_ref = 1e-6 * (double)k, .gold_rel_l2 = NAN,
                                         .silver_vs_gold = 1e-16, .seconds = 0.25,
                                         .peak_bytes = 4096 + (long long)k};
        for (int l = 0; l < layers; l++)
            run->layer_rel_l2[k * (size_t)layers + (size_t)l] = 1e-9 * (double)(l + 1) + (double)k;
    }
    for (size_t e = 0; e < run->n_epochs; e++)
        run->epochs[e] = (mw_report_epoch){.epoch = (long long)e, .steps = 10, .loss_mean = 1.25,
                                           .accuracy = 0.5, .test_accuracy = 0.375,
                                           .rel_l2_mean = 1e-7, .rel_l2_max = 2e-7,
                                           .max_ulp_max = 8.0, .dist_ref = 1e-5, .lr = 1e-3,
                                           .seconds = 2.0};
}

static void free_run(mw_report_run *run)
{
    free(run->steps), free(run->layer_rel_l2), free(run->epochs);
}

static int same_spec(const mw_spec *a, const mw_spec *b)
{
    return a->arch == b->arch && a->width == b->width && a->hidden == b->hidden &&
           a->units == b->units && a->depth == b->depth && a->f_act == b->f_act &&
           a->out_act == b->out_act && a->leaky_slope == b->leaky_slope && a->bn == b->bn &&
           a->bn_eps == b->bn_eps && a->batch == b->batch && a->classes == b->classes &&
           a->init_scale == b->init_scale && a->seed == b->seed;
}

static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

/* A report with every kind of field, committed and read back: every field equal. */
static void make_report(mw_report *r, const char *path)
{
    mw_report_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.suite, sizeof meta.suite, "gradcheck");
    snprintf(meta.mwverify_version, sizeof meta.mwverify_version, "9.9.9");
    snprintf(meta.command_line, sizeof meta.command_line, "mwverify suite gradcheck --x \"y\"");
    snprintf(meta.config_json, sizeof meta.config_json, "{\"depths\": [1, 2]}");
    char msg[256];
    ck_assert(mw_report_init(r, path, &meta, msg, sizeof msg) == 0);
    for (int i = 0; i < 2; i++) {
        mw_report_network n;
        memset(&n, 0, sizeof n);
        n.index = i;
        n.spec = tu_small_spec(1 + i, MW_ACT_TANH, i ? MW_ACT_LEAKY : MW_ACT_IDENTITY, i, 77);
        snprintf(n.status, sizeof n.status, "ok");
        snprintf(n.oracle, sizeof n.oracle, "gold");
        n.bits = 256, n.check_bits = 320, n.certified_bits = 244.5, n.fd_agree_bits = 160.25;
        n.fd_coords = 64, n.oracle_seconds = 0.5, n.loss = 1.125, n.grad_norm = 2.5;
        n.silver_vs_gold = 1e-16, n.n_proj = 5, n.proj_repeats = 8, n.proj_slope = -0.49;
        n.proj_slope_r2 = 0.99;
        for (int k = 0; k < 5; k++)
            n.proj_k[k] = pow(4.0, k), n.proj_rel_err[k] = 8.0 / (k + 1), n.proj_rel_err_sd[k] = 0.1;
        mw_report_run ref; /* a reference trajectory on network 1 */
        fill_run(&ref, 0, 0, "reference", "complete", i ? 4 : 0, 1);
        n.ref_steps = ref.steps, n.n_ref_steps = ref.n_steps;
        n.ref_epochs = ref.epochs, n.n_ref_epochs = ref.n_epochs;
        ck_assert(mw_report_set_network(r, &n) == 0);
        free_run(&ref);
    }
    mw_report_run runs[3];
    fill_run(&runs[0], 0, 0, "backprop", "complete", 3, 2);
    fill_run(&runs[1], 7, 1, "moonwalk", "diverged", 1, 3);
    fill_run(&runs[2], 8, 1, "forward", "skipped", 0, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert(mw_report_set_run(r, &runs[i]) == 0);
        free_run(&runs[i]);
    }
}

START_TEST(report_round_trip)
{
    make_tmpdir();
    char path[512], msg[512];
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    mw_report a, b;
    make_report(&a, path);
    ck_assert_msg(mw_report_commit(&a, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(mw_report_load(&b, path, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_str_eq(b.meta.suite, a.meta.suite);
    ck_assert_str_eq(b.meta.command_line, a.meta.command_line);
    ck_assert_str_eq(b.meta.config_json, a.meta.config_json);
    ck_assert_str_eq(b.meta.host, a.meta.host);
    ck_assert_str_eq(b.meta.device, a.meta.device);
    ck_assert_str_eq(b.meta.math_mode, a.meta.math_mode);
    ck_assert_str_eq(b.meta.created_utc, a.meta.created_utc);
    ck_assert_str_eq(b.meta.updated_utc, a.meta.updated_utc);
    ck_assert(b.n_networks == 2 && b.n_runs == 3);
    for (size_t i = 0; i < 2; i++) {
        const mw_report_network *x = &a.networks[i], *y = mw_report_network_at(&b, x->index);
        ck_assert(y != NULL);
        ck_assert(same_spec(&x->spec, &y->spec));
        ck_assert(x->bits == y->bits && x->check_bits == y->check_bits && x->fd_coords == y->fd_coords);
        ck_assert(x->certified_bits == y->certified_bits && x->fd_agree_bits == y->fd_agree_bits);
        ck_assert(x->loss == y->loss && x->grad_norm == y->grad_norm && x->silver_vs_gold == y->silver_vs_gold);
        ck_assert(x->n_proj == y->n_proj && x->proj_repeats == y->proj_repeats);
        ck_assert(x->proj_slope == y->proj_slope && x->proj_slope_r2 == y->proj_slope_r2);
        for (int k = 0; k < x->n_proj; k++)
            ck_assert(x->proj_k[k] == y->proj_k[k] && x->proj_rel_err[k] == y->proj_rel_err[k] &&
                      x->proj_rel_err_sd[k] == y->proj_rel_err_sd[k]);
        ck_assert_str_eq(x->status, y->status);
        ck_assert_str_eq(x->oracle, y->oracle);
        ck_assert(x->n_ref_steps == y->n_ref_steps && x->n_ref_epochs == y->n_ref_epochs);
        for (size_t k = 0; k < x->n_ref_steps; k++)
            ck_assert(x->ref_steps[k].loss == y->ref_steps[k].loss &&
                      x->ref_steps[k].dist_ref == y->ref_steps[k].dist_ref);
        for (size_t e = 0; e < x->n_ref_epochs; e++)
            ck_assert(memcmp(&x->ref_epochs[e], &y->ref_epochs[e], sizeof x->ref_epochs[e]) == 0);
    }
    for (size_t i = 0; i < 3; i++) {
        const mw_report_run *x = &a.runs[i], *y = mw_report_run_at(&b, x->index);
        ck_assert(y && y->network == x->network && y->n_layers == x->n_layers);
        ck_assert_str_eq(y->method, x->method);
        ck_assert_str_eq(y->dtype, x->dtype);
        ck_assert_str_eq(y->status, x->status);
        ck_assert_str_eq(y->message, x->message);
        ck_assert(y->n_steps == x->n_steps && y->n_epochs == x->n_epochs);
        for (size_t k = 0; k < x->n_steps; k++) {
            const mw_report_step *p = &x->steps[k], *q = &y->steps[k];
            ck_assert(p->step == q->step && p->peak_bytes == q->peak_bytes);
            ck_assert(p->epoch == q->epoch && same_double(p->accuracy, q->accuracy) &&
                      same_double(p->recon_err, q->recon_err) &&
                      same_double(p->dist_ref, q->dist_ref) &&
                      same_double(p->gold_rel_l2, q->gold_rel_l2) &&
                      same_double(p->silver_vs_gold, q->silver_vs_gold));
            ck_assert(same_double(p->loss, q->loss) && same_double(p->rel_l2, q->rel_l2) &&
                      same_double(p->max_abs, q->max_abs) && same_double(p->max_ulp, q->max_ulp) &&
                      same_double(p->cosine, q->cosine) &&
                      same_double(p->closure_err, q->closure_err) &&
                      same_double(p->seconds, q->seconds));
        }
        for (size_t k = 0; k < x->n_steps * (size_t)x->n_layers; k++)
            ck_assert(x->layer_rel_l2[k] == y->layer_rel_l2[k]);
        for (size_t e = 0; e < x->n_epochs; e++)
            ck_assert(memcmp(&x->epochs[e], &y->epochs[e], sizeof x->epochs[e]) == 0);
    }
    /* h5dump reads it too, summary table included */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' | grep -q 'DATASET \"summary\"'", path);
    ck_assert(system(cmd) == 0);
    mw_report_free(&a);
    mw_report_free(&b);
    remove_tmpdir();
}
END_TEST

/* What is not a report of ours is refused with a message that names the file. */
START_TEST(report_refuses_bad_files)
{
    make_tmpdir();
    char path[512], msg[512], cmd[1200];
    mw_report r;
    snprintf(path, sizeof path, "%s/missing.h5", tmpdir);
    ck_assert(mw_report_load(&r, path, msg, sizeof msg) != 0 && strstr(msg, "no such file"));
    /* not HDF5 */
    snprintf(path, sizeof path, "%s/text.h5", tmpdir);
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs("not hdf5 at all\n", f) >= 0 && fclose(f) == 0);
    ck_assert(mw_report_load(&r, path, msg, sizeof msg) != 0);
    ck_assert_msg(strstr(msg, "cannot be opened as HDF5") && strstr(msg, "text.h5"), "%s", msg);
    /* truncated: a real report cut in half */
    snprintf(path, sizeof path, "%s/cut.h5", tmpdir);
    make_report(&r, path);
    ck_assert(mw_report_commit(&r, msg, sizeof msg) == 0);
    mw_report_free(&r);
    snprintf(cmd, sizeof cmd, "truncate -s $(( $(stat -c %%s '%s') / 2 )) '%s'", path, path);
    ck_assert(system(cmd) == 0);
    ck_assert(mw_report_load(&r, path, msg, sizeof msg) != 0);
    ck_assert_msg(strstr(msg, "cut.h5") && (strstr(msg, "truncated") || strstr(msg, "damaged")),
                  "%s", msg);
    /* foreign HDF5: no format attribute */
    snprintf(path, sizeof path, "%s/foreign.h5", tmpdir);
    hid_t h = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(h >= 0 && H5Fclose(h) >= 0);
    ck_assert(mw_report_load(&r, path, msg, sizeof msg) != 0 && strstr(msg, "not an mwverify report"));
    /* a newer version of ours */
    snprintf(path, sizeof path, "%s/newer.h5", tmpdir);
    make_report(&r, path);
    ck_assert(mw_report_commit(&r, msg, sizeof msg) == 0);
    mw_report_free(&r);
    h = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(h, "format_version", H5P_DEFAULT);
    long long v = 99;
    ck_assert(a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &v) >= 0);
    H5Aclose(a), H5Fclose(h);
    ck_assert(mw_report_load(&r, path, msg, sizeof msg) != 0);
    ck_assert_msg(strstr(msg, "version 99") && strstr(msg, "upgrade"), "%s", msg);
    /* paths */
    ck_assert(mw_report_check_path(path, 0, 0, msg, sizeof msg) != 0 && strstr(msg, "--resume"));
    ck_assert(mw_report_check_path(path, 1, 0, msg, sizeof msg) == 0);
    snprintf(path, sizeof path, "%s/none.h5", tmpdir);
    ck_assert(mw_report_check_path(path, 0, 1, msg, sizeof msg) != 0 && strstr(msg, "does not exist"));
    remove_tmpdir();
}
END_TEST

/* The figure: a non-empty PNG and SVG; nothing to plot is said so; a bad name refused. */
START_TEST(report_plot_files)
{
    make_tmpdir();
    char path[512], out[600], msg[512];
    mw_report r;
    snprintf(path, sizeof path, "%s/r.h5", tmpdir);
    make_report(&r, path);
    const char *ext[2] = {"png", "svg"};
    for (int k = 0; k < 2; k++) {
        snprintf(out, sizeof out, "%s/fig.%s", tmpdir, ext[k]);
        ck_assert(mw_plot_check_out(out, msg, sizeof msg) == 0);
        ck_assert_msg(mw_report_plot(&r, out, msg, sizeof msg) == 0, "%s", msg);
        struct stat sb;
        ck_assert(stat(out, &sb) == 0 && sb.st_size > 1000);
        FILE *f = fopen(out, "rb");
        char head[8] = {0};
        ck_assert(f && fread(head, 1, 4, f) == 4 && fclose(f) == 0);
        ck_assert(k == 0 ? memcmp(head, "\x89PNG", 4) == 0 : strncmp(head, "<?xm", 4) == 0);
    }
    ck_assert(mw_plot_check_out("fig.pdf", msg, sizeof msg) != 0 && strstr(msg, ".png"));
    mw_report_free(&r);
    mw_report empty;
    mw_report_meta meta = {0};
    ck_assert(mw_report_init(&empty, path, &meta, msg, sizeof msg) == 0);
    snprintf(out, sizeof out, "%s/none.png", tmpdir);
    ck_assert(mw_report_plot(&empty, out, msg, sizeof msg) == 2 && strstr(msg, "nothing") == NULL &&
              strstr(msg, "no complete run"));
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
    tcase_add_test(tc, report_refuses_bad_files);
    tcase_add_test(tc, report_plot_files);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
