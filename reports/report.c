/* Suite reports (report.h): the in-memory report, its atomic commits, and the reader. */
#include "report.h"

#include <libgen.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "h5util.h"

enum { CHUNK_ROWS = 16 };

static void utc_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

void mw_report_host(char *host, size_t host_len, char *device, size_t device_len)
{
    if (gethostname(host, host_len) != 0)
        snprintf(host, host_len, "unknown");
    host[host_len - 1] = '\0';
    snprintf(device, device_len, "cpu");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += 2;
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(device, device_len, "cpu: %s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
}

int mw_report_init(mw_report *r, const char *path, const mw_report_meta *meta, char *msg,
                   size_t msg_len)
{
    memset(r, 0, sizeof *r);
    if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path) {
        snprintf(msg, msg_len, "%s: path too long", path);
        return 1;
    }
    r->meta = *meta;
    mw_report_meta *m = &r->meta;
    if (!m->created_utc[0])
        utc_now(m->created_utc, sizeof m->created_utc);
    if (!m->engine[0])
        snprintf(m->engine, sizeof m->engine, "cpu");
    if (!m->math_mode[0])
        snprintf(m->math_mode, sizeof m->math_mode,
                 "ieee754 binary32/binary64 as the dtype says; no TF32, no fast-math");
    if (!m->host[0] || !m->device[0]) { /* each only where the caller left it empty: a GPU
                                            run's device is the GPU, not this CPU */
        char host[sizeof m->host], device[sizeof m->device];
        mw_report_host(host, sizeof host, device, sizeof device);
        if (!m->host[0])
            memcpy(m->host, host, sizeof host);
        if (!m->device[0])
            memcpy(m->device, device, sizeof device);
    }
    return 0;
}

static void run_free(mw_report_run *run)
{
    free(run->steps);
    free(run->layer_rel_l2);
    free(run->epochs);
    run->steps = NULL, run->layer_rel_l2 = NULL, run->epochs = NULL;
}

static void network_free(mw_report_network *n)
{
    free(n->ref_steps);
    free(n->ref_epochs);
    n->ref_steps = NULL, n->ref_epochs = NULL;
}

void mw_report_free(mw_report *r)
{
    free(r->fits);
    free(r->ratios);
    for (size_t i = 0; i < r->n_runs; i++)
        run_free(&r->runs[i]);
    for (size_t i = 0; i < r->n_networks; i++)
        network_free(&r->networks[i]);
    free(r->runs);
    free(r->networks);
    memset(r, 0, sizeof *r);
}

int mw_report_check_path(const char *path, int force, int resume, char *msg, size_t msg_len)
{
    return h5u_check_path("--out", path, force, resume,
                          "report exists (add --resume to finish it, or --force to replace it)",
                          msg, msg_len);
}

/* ---- in-memory edits ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return 1;
    *p = q;
    *cap = c;
    return 0;
}

static void *dup_array(const void *p, size_t n, size_t elem, int *bad)
{
    if (!n)
        return NULL;
    void *q = malloc(n * elem);
    if (!q)
        *bad = 1;
    else
        memcpy(q, p, n * elem);
    return q;
}

int mw_report_set_network(mw_report *r, const mw_report_network *n)
{
    int bad = 0;
    mw_report_network copy = *n;
    copy.ref_steps = dup_array(n->ref_steps, n->n_ref_steps, sizeof *n->ref_steps, &bad);
    copy.ref_epochs = dup_array(n->ref_epochs, n->n_ref_epochs, sizeof *n->ref_epochs, &bad);
    if (bad) {
        network_free(&copy);
        return 1;
    }
    for (size_t i = 0; i < r->n_networks; i++)
        if (r->networks[i].index == n->index) {
            network_free(&r->networks[i]);
            r->networks[i] = copy;
            return 0;
        }
    if (grow((void **)&r->networks, &r->cap_networks, r->n_networks + 1, sizeof copy)) {
        network_free(&copy);
        return 1;
    }
    r->networks[r->n_networks++] = copy;
    return 0;
}

static int copy_run(mw_report_run *dst, const mw_report_run *src)
{
    *dst = *src;
    dst->steps = NULL, dst->layer_rel_l2 = NULL, dst->epochs = NULL;
    size_t nl = src->n_steps * (size_t)src->n_layers;
    if ((src->n_steps && !(dst->steps = malloc(src->n_steps * sizeof *dst->steps))) ||
        (nl && !(dst->layer_rel_l2 = malloc(nl * sizeof(double)))) ||
        (src->n_epochs && !(dst->epochs = malloc(src->n_epochs * sizeof *dst->epochs)))) {
        run_free(dst);
        return 1;
    }
    if (src->n_steps)
        memcpy(dst->steps, src->steps, src->n_steps * sizeof *dst->steps);
    if (nl)
        memcpy(dst->layer_rel_l2, src->layer_rel_l2, nl * sizeof(double));
    if (src->n_epochs)
        memcpy(dst->epochs, src->epochs, src->n_epochs * sizeof *dst->epochs);
    return 0;
}

int mw_report_set_run(mw_report *r, const mw_report_run *run)
{
    mw_report_run copy;
    if (copy_run(&copy, run) != 0)
        return 1;
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].index == run->index) {
            run_free(&r->runs[i]);
            r->runs[i] = copy;
            return 0;
        }
    if (grow((void **)&r->runs, &r->cap_runs, r->n_runs + 1, sizeof copy)) {
        run_free(&copy);
        return 1;
    }
    r->runs[r->n_runs++] = copy;
    return 0;
}

const mw_report_network *mw_report_network_at(const mw_report *r, long index)
{
    for (size_t i = 0; i < r->n_networks; i++)
        if (r->networks[i].index == index)
            return &r->networks[i];
    return NULL;
}

const mw_report_run *mw_report_run_at(const mw_report *r, long index)
{
    for (size_t i = 0; i < r->n_runs; i++)
        if (r->runs[i].index == index)
            return &r->runs[i];
    return NULL;
}

const mw_report_step *mw_report_last_step(const mw_report_run *run)
{
    return run->n_steps ? &run->steps[run->n_steps - 1] : NULL;
}

/* ---- HDF5 types ---- */

static hid_t step_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mw_report_step));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
#define F(name, type) h5u_bad(w, H5Tinsert(t, #name, HOFFSET(mw_report_step, name), type), #name)
    F(step, H5T_NATIVE_LLONG);
    F(epoch, H5T_NATIVE_LLONG);
    F(loss, H5T_NATIVE_DOUBLE);
    F(accuracy, H5T_NATIVE_DOUBLE);
    F(rel_l2, H5T_NATIVE_DOUBLE);
    F(max_abs, H5T_NATIVE_DOUBLE);
    F(max_ulp, H5T_NATIVE_DOUBLE);
    F(cosine, H5T_NATIVE_DOUBLE);
    F(closure_err, H5T_NATIVE_DOUBLE);
    F(recon_err, H5T_NATIVE_DOUBLE);
    F(dist_ref, H5T_NATIVE_DOUBLE);
    F(gold_rel_l2, H5T_NATIVE_DOUBLE);
    F(silver_vs_gold, H5T_NATIVE_DOUBLE);
    F(seconds, H5T_NATIVE_DOUBLE);
    F(peak_bytes, H5T_NATIVE_LLONG);
#undef F
    return t;
}

static hid_t epoch_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mw_report_epoch));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
#define F(name, type) h5u_bad(w, H5Tinsert(t, #name, HOFFSET(mw_report_epoch, name), type), #name)
    F(epoch, H5T_NATIVE_LLONG);
    F(steps, H5T_NATIVE_LLONG);
    F(loss_mean, H5T_NATIVE_DOUBLE);
    F(accuracy, H5T_NATIVE_DOUBLE);
    F(test_accuracy, H5T_NATIVE_DOUBLE);
    F(rel_l2_mean, H5T_NATIVE_DOUBLE);
    F(rel_l2_max, H5T_NATIVE_DOUBLE);
    F(max_ulp_max, H5T_NATIVE_DOUBLE);
    F(dist_ref, H5T_NATIVE_DOUBLE);
    F(lr, H5T_NATIVE_DOUBLE);
    F(seconds, H5T_NATIVE_DOUBLE);
#undef F
    return t;
}

typedef struct proj_row {
    double k, rel_err, rel_err_sd;
    long long repeats;
} proj_row;

static hid_t proj_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(proj_row));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
    h5u_bad(w, H5Tinsert(t, "K", HOFFSET(proj_row, k), H5T_NATIVE_DOUBLE), "K");
    h5u_bad(w, H5Tinsert(t, "rel_err", HOFFSET(proj_row, rel_err), H5T_NATIVE_DOUBLE), "rel_err");
    h5u_bad(w, H5Tinsert(t, "rel_err_sd", HOFFSET(proj_row, rel_err_sd), H5T_NATIVE_DOUBLE),
            "rel_err_sd");
    h5u_bad(w, H5Tinsert(t, "repeats", HOFFSET(proj_row, repeats), H5T_NATIVE_LLONG), "repeats");
    return t;
}

/* One summary row per run: its cell and its last step. */
typedef struct summary_row {
    long long run, network;
    char arch[8], f_act[12], out_act[8];
    long long depth;
    unsigned long long seed;
    char method[16], dtype[8], status[16];
    double rel_l2, max_abs, max_ulp, cosine, closure_err, seconds;
    long long peak_bytes;
    long long steps, epochs;
    double test_accuracy, dist_ref;
} summary_row;

static hid_t summary_type(h5u *w, hid_t s8, hid_t s12, hid_t s16)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(summary_row));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
#define F(name, type) h5u_bad(w, H5Tinsert(t, #name, HOFFSET(summary_row, name), type), #name)
    F(run, H5T_NATIVE_LLONG);
    F(network, H5T_NATIVE_LLONG);
    F(arch, s8);
    F(f_act, s12);
    F(out_act, s8);
    F(depth, H5T_NATIVE_LLONG);
    F(seed, H5T_NATIVE_ULLONG);
    F(method, s16);
    F(dtype, s8);
    F(status, s16);
    F(rel_l2, H5T_NATIVE_DOUBLE);
    F(max_abs, H5T_NATIVE_DOUBLE);
    F(max_ulp, H5T_NATIVE_DOUBLE);
    F(cosine, H5T_NATIVE_DOUBLE);
    F(closure_err, H5T_NATIVE_DOUBLE);
    F(seconds, H5T_NATIVE_DOUBLE);
    F(peak_bytes, H5T_NATIVE_LLONG);
    F(steps, H5T_NATIVE_LLONG);
    F(epochs, H5T_NATIVE_LLONG);
    F(test_accuracy, H5T_NATIVE_DOUBLE);
    F(dist_ref, H5T_NATIVE_DOUBLE);
#undef F
    return t;
}

static void close_type(hid_t t)
{
    if (t >= 0)
        H5Tclose(t);
}

/* The fits and ratios tables: fixed-length strings, as the summary's. */
static hid_t fit_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mw_report_fit));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
    hid_t s64 = h5u_fixed_str(w, 64), s16 = h5u_fixed_str(w, 16), s8 = h5u_fixed_str(w, 8);
#define F(name, type) h5u_bad(w, H5Tinsert(t, #name, HOFFSET(mw_report_fit, name), type), #name)
    F(setting, s64);
    F(method, s16);
    F(dtype, s8);
    F(quantity, s16);
    F(exponent, H5T_NATIVE_DOUBLE);
    F(r2, H5T_NATIVE_DOUBLE);
    F(points, H5T_NATIVE_LLONG);
    F(table1, s16);
#undef F
    close_type(s64), close_type(s16), close_type(s8);
    return t;
}

static hid_t ratio_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mw_report_ratio));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
    hid_t s128 = h5u_fixed_str(w, 128);
    h5u_bad(w, H5Tinsert(t, "name", HOFFSET(mw_report_ratio, name), s128), "name");
    h5u_bad(w, H5Tinsert(t, "value", HOFFSET(mw_report_ratio, value), H5T_NATIVE_DOUBLE), "value");
    h5u_bad(w, H5Tinsert(t, "paper", HOFFSET(mw_report_ratio, paper), H5T_NATIVE_DOUBLE), "paper");
    close_type(s128);
    return t;
}

/* ---- writing ---- */

static void write_network(h5u *w, hid_t parent, const mw_report_network *n, hid_t st, hid_t et)
{
    char name[32];
    snprintf(name, sizeof name, "net-%06ld", n->index);
    hid_t g = h5u_group(w, parent, name);
    h5u_attr_i64(w, g, "index", n->index);
    h5u_spec_attrs(w, g, &n->spec);
    h5u_attr_str(w, g, "status", n->status);
    h5u_attr_str(w, g, "message", n->message);
    h5u_attr_str(w, g, "oracle", n->oracle);
    h5u_attr_i64(w, g, "bits", n->bits);
    h5u_attr_i64(w, g, "check_bits", n->check_bits);
    h5u_attr_f64(w, g, "certified_bits", n->certified_bits);
    h5u_attr_f64(w, g, "fd_agree_bits", n->fd_agree_bits);
    h5u_attr_i64(w, g, "fd_coords", n->fd_coords);
    h5u_attr_f64(w, g, "oracle_seconds", n->oracle_seconds);
    h5u_attr_f64(w, g, "loss", n->loss);
    h5u_attr_f64(w, g, "grad_norm", n->grad_norm);
    h5u_attr_f64(w, g, "silver_vs_gold", n->silver_vs_gold);
    proj_row rows[MW_REPORT_MAX_PROJ];
    for (int i = 0; i < n->n_proj; i++)
        rows[i] = (proj_row){n->proj_k[i], n->proj_rel_err[i], n->proj_rel_err_sd[i],
                             n->proj_repeats};
    hid_t pt = proj_type(w);
    hsize_t dims[2] = {(hsize_t)n->n_proj, 0};
    hid_t d = h5u_dataset(w, g, "projforward", pt, dims, 0, rows);
    h5u_attr_f64(w, d, "slope", n->proj_slope);
    h5u_attr_f64(w, d, "slope_r2", n->proj_slope_r2);
    h5u_close_d(d);
    close_type(pt);
    hsize_t rd[2] = {n->n_ref_steps, 0};
    h5u_close_d(h5u_dataset(w, g, "reference_steps", st, rd, CHUNK_ROWS, n->ref_steps));
    rd[0] = n->n_ref_epochs;
    h5u_close_d(h5u_dataset(w, g, "reference_epochs", et, rd, CHUNK_ROWS, n->ref_epochs));
    h5u_close_g(g);
}

static void write_run(h5u *w, hid_t parent, const mw_report_run *run,
                      const mw_report_network *net, hid_t st, hid_t et)
{
    char name[32];
    snprintf(name, sizeof name, "run-%06ld", run->index);
    hid_t g = h5u_group(w, parent, name);
    h5u_attr_i64(w, g, "index", run->index);
    h5u_attr_i64(w, g, "network", run->network);
    h5u_attr_str(w, g, "method", run->method);
    h5u_attr_str(w, g, "dtype", run->dtype);
    h5u_attr_str(w, g, "status", run->status);
    h5u_attr_str(w, g, "message", run->message);
    if (net) /* the cell, for readers that look at one run alone */
        h5u_spec_attrs(w, g, &net->spec);
    hsize_t dims[2] = {run->n_steps, 0};
    h5u_close_d(h5u_dataset(w, g, "steps", st, dims, CHUNK_ROWS, run->steps));
    dims[0] = run->n_epochs;
    h5u_close_d(h5u_dataset(w, g, "epochs", et, dims, CHUNK_ROWS, run->epochs));
    hsize_t ld[2] = {run->n_steps, (hsize_t)(run->n_layers > 0 ? run->n_layers : 1)};
    h5u_close_d(h5u_dataset(w, g, "layer_rel_l2", H5T_NATIVE_DOUBLE, ld, CHUNK_ROWS,
                            run->layer_rel_l2));
    h5u_close_g(g);
}

static void fill_summary(const mw_report *r, summary_row *rows)
{
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_report_run *run = &r->runs[i];
        const mw_report_network *net = mw_report_network_at(r, run->network);
        const mw_report_step *last = mw_report_last_step(run);
        summary_row *s = &rows[i];
        memset(s, 0, sizeof *s);
        s->run = run->index;
        s->network = run->network;
        if (net) {
            snprintf(s->arch, sizeof s->arch, "%s", mw_arch_name(net->spec.arch));
            snprintf(s->f_act, sizeof s->f_act, "%s", mw_act_name(net->spec.f_act));
            snprintf(s->out_act, sizeof s->out_act, "%s", mw_out_act_name(net->spec.out_act));
            s->depth = net->spec.depth;
            s->seed = (unsigned long long)net->spec.seed;
        }
        snprintf(s->method, sizeof s->method, "%s", run->method);
        snprintf(s->dtype, sizeof s->dtype, "%s", run->dtype);
        snprintf(s->status, sizeof s->status, "%s", run->status);
        s->rel_l2 = last ? last->rel_l2 : NAN;
        s->max_abs = last ? last->max_abs : NAN;
        s->max_ulp = last ? last->max_ulp : NAN;
        s->cosine = last ? last->cosine : NAN;
        s->closure_err = last ? last->closure_err : NAN;
        s->seconds = last ? last->seconds : NAN;
        s->peak_bytes = last ? last->peak_bytes : -1;
        s->steps = (long long)run->n_steps;
        s->epochs = (long long)run->n_epochs;
        s->test_accuracy = run->n_epochs ? run->epochs[run->n_epochs - 1].test_accuracy : NAN;
        s->dist_ref = last ? last->dist_ref : NAN;
    }
}

static void fill_report(h5u *w, hid_t f, void *arg)
{
    const mw_report *r = arg;
    const mw_report_meta *m = &r->meta;
    h5u_attr_str(w, f, "format", MW_REPORT_FORMAT);
    h5u_attr_i64(w, f, "format_version", MW_REPORT_VERSION);
    h5u_attr_str(w, f, "suite", m->suite);
    h5u_attr_str(w, f, "mwverify_version", m->mwverify_version);
    h5u_attr_str(w, f, "created_utc", m->created_utc);
    h5u_attr_str(w, f, "updated_utc", m->updated_utc);
    h5u_attr_str(w, f, "command_line", m->command_line);
    h5u_attr_str(w, f, "config", m->config_json);
    h5u_attr_str(w, f, "engine", m->engine);
    h5u_attr_str(w, f, "device", m->device);
    h5u_attr_str(w, f, "math_mode", m->math_mode);
    h5u_attr_str(w, f, "host", m->host);

    hid_t st = step_type(w), et = epoch_type(w);
    hid_t g = h5u_group(w, f, "networks");
    for (size_t i = 0; i < r->n_networks && !w->failed; i++)
        write_network(w, g, &r->networks[i], st, et);
    h5u_close_g(g);

    g = h5u_group(w, f, "runs");
    for (size_t i = 0; i < r->n_runs && !w->failed; i++)
        write_run(w, g, &r->runs[i], mw_report_network_at(r, r->runs[i].network), st, et);
    h5u_close_g(g);
    close_type(st);
    close_type(et);

    summary_row *rows = malloc((r->n_runs ? r->n_runs : 1) * sizeof *rows);
    if (!rows) {
        h5u_fail(w, "out of memory");
        return;
    }
    fill_summary(r, rows);
    hid_t s8 = h5u_fixed_str(w, 8), s12 = h5u_fixed_str(w, 12), s16 = h5u_fixed_str(w, 16);
    hid_t sumt = summary_type(w, s8, s12, s16);
    hsize_t dims[2] = {r->n_runs, 0};
    h5u_close_d(h5u_dataset(w, f, "summary", sumt, dims, CHUNK_ROWS, rows));
    close_type(sumt), close_type(s8), close_type(s12), close_type(s16);
    free(rows);
    if (r->n_fits) {
        hid_t ft = fit_type(w);
        hsize_t fd[2] = {r->n_fits, 0};
        h5u_close_d(h5u_dataset(w, f, "fits", ft, fd, 0, r->fits));
        close_type(ft);
    }
    if (r->n_ratios) {
        hid_t rt = ratio_type(w);
        hsize_t rd[2] = {r->n_ratios, 0};
        h5u_close_d(h5u_dataset(w, f, "ratios", rt, rd, 0, r->ratios));
        close_type(rt);
    }
}

int mw_report_commit(mw_report *r, char *msg, size_t msg_len)
{
    utc_now(r->meta.updated_utc, sizeof r->meta.updated_utc);
    return h5u_write_atomic(r->path, fill_report, r, msg, msg_len);
}

/* ---- reading ---- */

typedef struct loader {
    h5u w;
    mw_report *r;
} loader;

/* Read a 1-D (or, with cols, 2-D) dataset whole into a fresh buffer; *rows its length. */
static void *read_table(h5u *w, hid_t g, const char *name, hid_t type, size_t elem,
                        size_t cols, size_t *rows)
{
    *rows = 0;
    if (w->failed)
        return NULL;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) {
        h5u_fail(w, "dataset '%s' missing", name);
        return NULL;
    }
    hid_t s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int rank = s >= 0 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
    void *buf = NULL;
    if (rank != (cols ? 2 : 1) || (cols && dims[1] != cols)) {
        h5u_fail(w, "dataset '%s' has the wrong shape", name);
    } else if (dims[0] > 0) {
        buf = malloc((size_t)dims[0] * (cols ? cols : 1) * elem);
        if (!buf)
            h5u_fail(w, "out of memory");
        else if (h5u_bad(w, H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), name)) {
            free(buf);
            buf = NULL;
        } else {
            *rows = (size_t)dims[0];
        }
    }
    if (s >= 0)
        H5Sclose(s);
    H5Dclose(d);
    return buf;
}

static herr_t load_network(hid_t parent, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    loader *ld = arg;
    h5u *w = &ld->w;
    mw_report_network n;
    memset(&n, 0, sizeof n);
    hid_t g = H5Gopen2(parent, name, H5P_DEFAULT);
    if (h5u_bad(w, g, name))
        return -1;
    n.index = (long)h5u_read_i64(w, g, "index");
    h5u_read_spec(w, g, &n.spec);
    h5u_read_str(w, g, "status", n.status, sizeof n.status);
    h5u_read_str(w, g, "message", n.message, sizeof n.message);
    h5u_read_str(w, g, "oracle", n.oracle, sizeof n.oracle);
    n.bits = (long)h5u_read_i64(w, g, "bits");
    n.check_bits = (long)h5u_read_i64(w, g, "check_bits");
    n.certified_bits = h5u_read_f64(w, g, "certified_bits");
    n.fd_agree_bits = h5u_read_f64(w, g, "fd_agree_bits");
    n.fd_coords = (long)h5u_read_i64(w, g, "fd_coords");
    n.oracle_seconds = h5u_read_f64(w, g, "oracle_seconds");
    n.loss = h5u_read_f64(w, g, "loss");
    n.grad_norm = h5u_read_f64(w, g, "grad_norm");
    n.silver_vs_gold = h5u_read_f64(w, g, "silver_vs_gold");
    hid_t pt = proj_type(w);
    size_t rows = 0;
    proj_row *pr = read_table(w, g, "projforward", pt, sizeof(proj_row), 0, &rows);
    close_type(pt);
    if (rows > MW_REPORT_MAX_PROJ)
        h5u_fail(w, "%s: too many projforward rows", name);
    for (size_t i = 0; pr && i < rows && !w->failed; i++) {
        n.proj_k[i] = pr[i].k;
        n.proj_rel_err[i] = pr[i].rel_err;
        n.proj_rel_err_sd[i] = pr[i].rel_err_sd;
        n.proj_repeats = pr[i].repeats;
    }
    n.n_proj = w->failed ? 0 : (int)rows;
    free(pr);
    if (!w->failed) {
        hid_t d = H5Dopen2(g, "projforward", H5P_DEFAULT);
        n.proj_slope = h5u_read_f64(w, d, "slope");
        n.proj_slope_r2 = h5u_read_f64(w, d, "slope_r2");
        if (d >= 0)
            H5Dclose(d);
    }
    hid_t st = step_type(w), et = epoch_type(w);
    n.ref_steps = read_table(w, g, "reference_steps", st, sizeof(mw_report_step), 0,
                             &n.n_ref_steps);
    n.ref_epochs = read_table(w, g, "reference_epochs", et, sizeof(mw_report_epoch), 0,
                              &n.n_ref_epochs);
    close_type(st), close_type(et);
    H5Gclose(g);
    if (!w->failed && mw_report_set_network(ld->r, &n) != 0)
        h5u_fail(w, "out of memory");
    network_free(&n);
    return w->failed ? -1 : 0;
}

static herr_t load_run(hid_t parent, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    loader *ld = arg;
    h5u *w = &ld->w;
    mw_report_run run;
    memset(&run, 0, sizeof run);
    hid_t g = H5Gopen2(parent, name, H5P_DEFAULT);
    if (h5u_bad(w, g, name))
        return -1;
    run.index = (long)h5u_read_i64(w, g, "index");
    run.network = (long)h5u_read_i64(w, g, "network");
    h5u_read_str(w, g, "method", run.method, sizeof run.method);
    h5u_read_str(w, g, "dtype", run.dtype, sizeof run.dtype);
    h5u_read_str(w, g, "status", run.status, sizeof run.status);
    h5u_read_str(w, g, "message", run.message, sizeof run.message);
    hid_t st = step_type(w), et = epoch_type(w);
    run.steps = read_table(w, g, "steps", st, sizeof(mw_report_step), 0, &run.n_steps);
    run.epochs = read_table(w, g, "epochs", et, sizeof(mw_report_epoch), 0, &run.n_epochs);
    close_type(st), close_type(et);
    if (!w->failed) {
        hid_t d = H5Dopen2(g, "layer_rel_l2", H5P_DEFAULT), s = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t dims[2] = {0, 0};
        if (s < 0 || H5Sget_simple_extent_ndims(s) != 2)
            h5u_fail(w, "%s: dataset 'layer_rel_l2' missing or not 2-D", name);
        else
            H5Sget_simple_extent_dims(s, dims, NULL);
        if (s >= 0)
            H5Sclose(s);
        if (d >= 0)
            H5Dclose(d);
        size_t rows;
        run.n_layers = (int)dims[1];
        run.layer_rel_l2 = read_table(w, g, "layer_rel_l2", H5T_NATIVE_DOUBLE, sizeof(double),
                                      dims[1], &rows);
        if (!w->failed && rows != run.n_steps)
            h5u_fail(w, "%s: %zu step rows but %zu layer rows", name, run.n_steps, rows);
    }
    H5Gclose(g);
    if (!w->failed && mw_report_set_run(ld->r, &run) != 0)
        h5u_fail(w, "out of memory");
    run_free(&run);
    return w->failed ? -1 : 0;
}

static void load_meta(h5u *w, hid_t f, mw_report_meta *m)
{
    h5u_read_str(w, f, "suite", m->suite, sizeof m->suite);
    h5u_read_str(w, f, "mwverify_version", m->mwverify_version, sizeof m->mwverify_version);
    h5u_read_str(w, f, "created_utc", m->created_utc, sizeof m->created_utc);
    h5u_read_str(w, f, "updated_utc", m->updated_utc, sizeof m->updated_utc);
    h5u_read_str(w, f, "command_line", m->command_line, sizeof m->command_line);
    h5u_read_str(w, f, "config", m->config_json, sizeof m->config_json);
    h5u_read_str(w, f, "engine", m->engine, sizeof m->engine);
    h5u_read_str(w, f, "device", m->device, sizeof m->device);
    h5u_read_str(w, f, "math_mode", m->math_mode, sizeof m->math_mode);
    h5u_read_str(w, f, "host", m->host, sizeof m->host);
}

static void iterate(h5u *w, hid_t f, const char *group, H5L_iterate_t fn, loader *ld)
{
    if (w->failed)
        return;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) {
        h5u_fail(w, "group '%s' missing", group);
        return;
    }
    hsize_t idx = 0;
    if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, fn, ld) < 0)
        h5u_fail(w, "group '%s' could not be read", group);
    H5Gclose(g);
}

int mw_report_load(mw_report *r, const char *path, char *msg, size_t msg_len)
{
    char why[400] = "";
    loader ld = {{why, sizeof why, 0}, r};
    h5u *w = &ld.w;
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    h5u_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(msg, msg_len, "%s: no such file", path);
        return 1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(msg, msg_len, "%s: cannot be opened as HDF5 (not an HDF5 file, or truncated "
                               "or damaged)", path);
        return 1;
    }
    char format[64] = "";
    if (H5Aexists(f, "format") <= 0) {
        snprintf(msg, msg_len, "%s: not an mwverify report (no 'format' attribute)", path);
        H5Fclose(f);
        return 1;
    }
    h5u_read_str(w, f, "format", format, sizeof format);
    long long version = h5u_read_i64(w, f, "format_version");
    int rc = 1;
    if (w->failed)
        snprintf(msg, msg_len, "%s: damaged report: %s", path, why);
    else if (strcmp(format, MW_REPORT_FORMAT) != 0)
        snprintf(msg, msg_len, "%s: not an mwverify report (format '%s')", path, format);
    else if (version > MW_REPORT_VERSION || version < 1)
        snprintf(msg, msg_len, "%s: report format version %lld, but this mwverify reads version "
                               "%d (upgrade mwverify to read it)", path, version, MW_REPORT_VERSION);
    else
        rc = 0;
    if (rc == 0) {
        load_meta(w, f, &r->meta);
        iterate(w, f, "networks", load_network, &ld);
        iterate(w, f, "runs", load_run, &ld);
        if (!w->failed && H5Lexists(f, "fits", H5P_DEFAULT) > 0) {
            hid_t ft = fit_type(w);
            r->fits = read_table(w, f, "fits", ft, sizeof *r->fits, 0, &r->n_fits);
            close_type(ft);
        }
        if (!w->failed && H5Lexists(f, "ratios", H5P_DEFAULT) > 0) {
            hid_t rt = ratio_type(w);
            r->ratios = read_table(w, f, "ratios", rt, sizeof *r->ratios, 0, &r->n_ratios);
            close_type(rt);
        }
        if (w->failed) {
            snprintf(msg, msg_len, "%s: damaged report: %s", path, why);
            rc = 1;
        }
    }
    H5Fclose(f);
    if (rc != 0) {
        mw_report_free(r);
        snprintf(r->path, sizeof r->path, "%s", path);
    }
    return rc;
}
