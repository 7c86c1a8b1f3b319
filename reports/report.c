/* Suite reports (report.h): the report in memory, in index order; its atomic commits; its
 * reader. Every record goes through its field table (records.h, h5util.h). */
#include "report.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dump.h"
#include "h5util.h"
#include "report_wire.h"

enum { CHUNK_ROWS = 16 };

static const struct {
    const char *name;
    const mw_record *record;
} tables[MW_N_TABLES] = {
    [MW_TABLE_FITS] = {"fits", &mw_fit_record},
    [MW_TABLE_RATIOS] = {"ratios", &mw_ratio_record},
    [MW_TABLE_LAYER_CHECKS] = {"layer_checks", &mw_layer_check_record},
    [MW_TABLE_TIMINGS] = {"timings", &mw_timed_record},
};

const char *mw_report_table_name(mw_table_id t)
{
    return tables[t].name;
}

const mw_record *mw_report_table_record(mw_table_id t)
{
    return tables[t].record;
}

static void utc_now(char *buf, size_t n)
{
    time_t t = time(NULL);
    struct tm tm;
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

/* OpenBLAS's kernel for this CPU, where the program links OpenBLAS (weak: a program
 * without a BLAS still links this library). */
char *openblas_get_corename(void) __attribute__((weak));

/* The widest vector ISA the CPU has, of those that decide the speed of our kernels and
 * of BLAS: timings compare only between machines that agree on it. */
static const char *vector_isa(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return "AVX-512";
    if (__builtin_cpu_supports("avx2"))
        return __builtin_cpu_supports("fma") ? "AVX2+FMA" : "AVX2";
    if (__builtin_cpu_supports("avx"))
        return "AVX";
    return "SSE";
#else
    return "non-x86";
#endif
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
            snprintf(device, device_len, "cpu: %.100s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
    /* the vector ISA and the BLAS kernel beside the model: "cpu: MODEL (AVX2+FMA,
     * OpenBLAS core Zen)" */
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    size_t used = strlen(device);
    snprintf(device + used, device_len - used, " (%s%s%.20s)", vector_isa(),
             core ? ", OpenBLAS core " : "", core ? core : "");
}

mw_status mw_report_init(mw_report *r, const char *path, const mw_report_meta *meta,
                         mw_err *err)
{
    memset(r, 0, sizeof *r);
    if (snprintf(r->path, sizeof r->path, "%s", path) >= (int)sizeof r->path)
        return mw_err_set(err, MW_ERR_ARG, "%s: path too long", path);
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
    return MW_OK;
}

void mw_run_free(mw_report_run *run)
{
    free(run->steps);
    free(run->layer_rel_l2);
    free(run->epochs);
    run->steps = NULL, run->layer_rel_l2 = NULL, run->epochs = NULL;
}

void mw_network_free(mw_report_network *n)
{
    free(n->ref_steps);
    free(n->ref_epochs);
    n->ref_steps = NULL, n->ref_epochs = NULL;
}

void mw_report_clear_table(mw_report *r, mw_table_id t)
{
    free(r->tables[t].rows);
    memset(&r->tables[t], 0, sizeof r->tables[t]);
}

void mw_report_free(mw_report *r)
{
    for (size_t i = 0; i < r->n_runs; i++)
        mw_run_free(&r->runs[i]);
    for (size_t i = 0; i < r->n_networks; i++)
        mw_network_free(&r->networks[i]);
    for (int t = 0; t < MW_N_TABLES; t++)
        mw_report_clear_table(r, (mw_table_id)t);
    free(r->runs);
    free(r->networks);
    memset(r, 0, sizeof *r);
}

mw_status mw_report_check_path(const char *path, int force, int resume, mw_err *err)
{
    return h5u_check_path("--out", path, force, resume,
                          "report exists (add --resume to finish it, or --force to replace it)",
                          err);
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

static int dup_array(void **dst, const void *src, size_t n, size_t elem)
{
    *dst = NULL;
    if (!n)
        return 0;
    if (!(*dst = malloc(n * elem)))
        return 1;
    memcpy(*dst, src, n * elem);
    return 0;
}

mw_status mw_network_copy(mw_report_network *dst, const mw_report_network *src)
{
    *dst = *src;
    if (dup_array((void **)&dst->ref_steps, src->ref_steps, src->n_ref_steps,
                  sizeof *src->ref_steps) ||
        dup_array((void **)&dst->ref_epochs, src->ref_epochs, src->n_ref_epochs,
                  sizeof *src->ref_epochs)) {
        mw_network_free(dst);
        return MW_ERR_NOMEM;
    }
    return MW_OK;
}

mw_status mw_run_copy(mw_report_run *dst, const mw_report_run *src)
{
    *dst = *src;
    dst->layer_rel_l2 = NULL, dst->epochs = NULL;
    const size_t cells = src->n_steps * (size_t)(src->n_layers > 0 ? src->n_layers : 0);
    if (dup_array((void **)&dst->steps, src->steps, src->n_steps, sizeof *src->steps) ||
        (src->layer_rel_l2
             ? dup_array((void **)&dst->layer_rel_l2, src->layer_rel_l2, cells, sizeof(double))
             : cells && !(dst->layer_rel_l2 = malloc(cells * sizeof(double)))) ||
        dup_array((void **)&dst->epochs, src->epochs, src->n_epochs, sizeof *src->epochs)) {
        mw_run_free(dst);
        return MW_ERR_NOMEM;
    }
    /* a run copied without its per-layer rows gets them, unmeasured (NaN): every step of a
     * report has its row */
    for (size_t i = 0; !src->layer_rel_l2 && i < cells; i++)
        dst->layer_rel_l2[i] = NAN;
    return MW_OK;
}

/* The first position of a record whose `long index` (at index_off) is not below key, in
 * an array of n records of size bytes sorted by index. */
static size_t lower_bound(const void *arr, size_t n, size_t size, size_t index_off, long key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        long at;
        memcpy(&at, (const char *)arr + mid * size + index_off, sizeof at);
        if (at < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t network_pos(const mw_report *r, long index)
{
    return lower_bound(r->networks, r->n_networks, sizeof *r->networks,
                       offsetof(mw_report_network, index), index);
}

static size_t run_pos(const mw_report *r, long index)
{
    return lower_bound(r->runs, r->n_runs, sizeof *r->runs, offsetof(mw_report_run, index), index);
}

/* Put the deep copy `copy` (size bytes, its long index at index_off) into an array kept
 * in index order, replacing (and freeing) the element with the same index. */
static mw_status insert_sorted(void **arr, size_t *n, size_t *cap, size_t size, size_t index_off,
                               void *copy, void (*free_fn)(void *))
{
    long index;
    memcpy(&index, (char *)copy + index_off, sizeof index);
    size_t i = lower_bound(*arr, *n, size, index_off, index);
    char *at = i < *n ? (char *)*arr + i * size : NULL; /* an empty array may be NULL: no
                                                             arithmetic on it (C11 6.5.6) */
    long there;
    if (i < *n && (memcpy(&there, at + index_off, sizeof there), there == index)) {
        free_fn(at);
        memcpy(at, copy, size);
        return MW_OK;
    }
    if (grow(arr, cap, *n + 1, size)) {
        free_fn(copy);
        return MW_ERR_NOMEM;
    }
    at = (char *)*arr + i * size;
    memmove(at + size, at, (*n - i) * size);
    memcpy(at, copy, size);
    (*n)++;
    return MW_OK;
}

static void free_network(void *n)
{
    mw_network_free(n);
}

static void free_run(void *run)
{
    mw_run_free(run);
}

mw_status mw_report_set_network(mw_report *r, const mw_report_network *n)
{
    mw_report_network copy;
    if (mw_network_copy(&copy, n) != MW_OK)
        return MW_ERR_NOMEM;
    return insert_sorted((void **)&r->networks, &r->n_networks, &r->cap_networks, sizeof copy,
                         offsetof(mw_report_network, index), &copy, free_network);
}

mw_status mw_report_set_run(mw_report *r, const mw_report_run *run)
{
    mw_report_run copy;
    if (mw_run_copy(&copy, run) != MW_OK)
        return MW_ERR_NOMEM;
    return insert_sorted((void **)&r->runs, &r->n_runs, &r->cap_runs, sizeof copy,
                         offsetof(mw_report_run, index), &copy, free_run);
}

const mw_report_network *mw_report_network_at(const mw_report *r, long index)
{
    size_t i = network_pos(r, index);
    return i < r->n_networks && r->networks[i].index == index ? &r->networks[i] : NULL;
}

const mw_report_run *mw_report_run_at(const mw_report *r, long index)
{
    size_t i = run_pos(r, index);
    return i < r->n_runs && r->runs[i].index == index ? &r->runs[i] : NULL;
}

mw_status mw_report_add_rows(mw_report *r, mw_table_id t, const void *rows, size_t n)
{
    mw_report_table *tb = &r->tables[t];
    size_t size = tables[t].record->size;
    if (grow(&tb->rows, &tb->cap, tb->n + n, size))
        return MW_ERR_NOMEM;
    memcpy((char *)tb->rows + tb->n * size, rows, n * size);
    tb->n += n;
    return MW_OK;
}

const mw_report_step *mw_report_last_step(const mw_report_run *run)
{
    return run->n_steps ? &run->steps[run->n_steps - 1] : NULL;
}

/* ---- writing ---- */

static void write_network(h5u *w, hid_t parent, const mw_report_network *n)
{
    char name[32];
    snprintf(name, sizeof name, "net-%06ld", n->index);
    hid_t g = h5u_group(w, parent, name);
    h5u_write_record(w, g, &mw_network_record, n);
    h5u_close_d(h5u_write_table(w, g, "reference_steps", &mw_step_record, n->ref_steps,
                                n->n_ref_steps, CHUNK_ROWS));
    h5u_close_d(h5u_write_table(w, g, "reference_epochs", &mw_epoch_record, n->ref_epochs,
                                n->n_ref_epochs, CHUNK_ROWS));
    h5u_close_g(g);
}

static void write_run(h5u *w, hid_t parent, const mw_report_run *run,
                      const mw_report_network *net)
{
    char name[32];
    snprintf(name, sizeof name, "run-%06ld", run->index);
    hid_t g = h5u_group(w, parent, name);
    h5u_write_record(w, g, &mw_run_record, run);
    if (net) /* the cell, for readers that look at one run alone */
        h5u_write_record(w, g, &mw_spec_record, &net->spec);
    h5u_close_d(h5u_write_table(w, g, "steps", &mw_step_record, run->steps, run->n_steps,
                                CHUNK_ROWS));
    h5u_close_d(h5u_write_table(w, g, "epochs", &mw_epoch_record, run->epochs, run->n_epochs,
                                CHUNK_ROWS));
    hsize_t ld[2] = {run->n_steps, (hsize_t)(run->n_layers > 0 ? run->n_layers : 1)};
    h5u_close_d(h5u_dataset(w, g, "layer_rel_l2", H5T_NATIVE_DOUBLE, ld, CHUNK_ROWS,
                            run->layer_rel_l2));
    h5u_close_g(g);
}

static void fill_report(h5u *w, hid_t f, void *arg)
{
    const mw_report *r = arg;
    h5u_attr_str(w, f, "format", MW_REPORT_FORMAT);
    h5u_attr_i64(w, f, "format_version", MW_REPORT_VERSION);
    h5u_write_record(w, f, &mw_meta_record, &r->meta);

    hid_t g = h5u_group(w, f, "networks");
    for (size_t i = 0; i < r->n_networks && !w->failed; i++)
        write_network(w, g, &r->networks[i]);
    h5u_close_g(g);
    g = h5u_group(w, f, "runs");
    for (size_t i = 0; i < r->n_runs && !w->failed; i++)
        write_run(w, g, &r->runs[i], mw_report_network_at(r, r->runs[i].network));
    h5u_close_g(g);

    mw_run_summary *rows = malloc((r->n_runs ? r->n_runs : 1) * sizeof *rows);
    if (!rows) {
        h5u_fail(w, "out of memory");
        return;
    }
    for (size_t i = 0; i < r->n_runs; i++)
        mw_run_summarize(&r->runs[i], mw_report_network_at(r, r->runs[i].network), &rows[i]);
    h5u_close_d(h5u_write_table(w, f, "summary", &mw_summary_record, rows, r->n_runs, CHUNK_ROWS));
    free(rows);
    for (int t = 0; t < MW_N_TABLES; t++)
        if (r->tables[t].n)
            h5u_close_d(h5u_write_table(w, f, tables[t].name, tables[t].record, r->tables[t].rows,
                                        r->tables[t].n, 0));
}

mw_status mw_report_commit(mw_report *r, mw_err *err)
{
    utc_now(r->meta.updated_utc, sizeof r->meta.updated_utc);
    return h5u_write_atomic(r->path, fill_report, r, err);
}

/* ---- reading ---- */

typedef struct loader {
    h5u w;
    mw_report *r;
} loader;

static herr_t load_network(hid_t parent, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    loader *ld = arg;
    h5u *w = &ld->w;
    mw_report_network n;
    memset(&n, 0, sizeof n);
    n.spec = mw_spec_default();
    hid_t g = H5Gopen2(parent, name, H5P_DEFAULT);
    if (h5u_bad(w, g, name))
        return -1;
    h5u_read_record(w, g, &mw_network_record, &n);
    n.ref_steps = h5u_read_table(w, g, "reference_steps", &mw_step_record, &n.n_ref_steps);
    n.ref_epochs = h5u_read_table(w, g, "reference_epochs", &mw_epoch_record, &n.n_ref_epochs);
    H5Gclose(g);
    if (w->failed && w->err)
        mw_err_prefix(w->err, "networks/%s", name);
    if (!w->failed && mw_report_network_at(ld->r, n.index))
        h5u_fail(w, "%s: network %ld twice", name, n.index);
    if (!w->failed && mw_report_set_network(ld->r, &n) != MW_OK)
        h5u_fail(w, "out of memory");
    mw_network_free(&n);
    return w->failed ? -1 : 0;
}

/* layer_rel_l2: a steps x layers matrix. */
static double *read_layers(h5u *w, hid_t g, const char *name, size_t steps, int *n_layers)
{
    hid_t d = H5Dopen2(g, "layer_rel_l2", H5P_DEFAULT), s = d >= 0 ? H5Dget_space(d) : -1;
    hsize_t dims[2] = {0, 0};
    double *v = NULL;
    if (s < 0 || H5Sget_simple_extent_ndims(s) != 2 ||
        H5Sget_simple_extent_dims(s, dims, NULL) != 2)
        h5u_fail(w, "%s: dataset 'layer_rel_l2' missing or not 2-D", name);
    else if (dims[0] != steps || dims[1] < 1 || dims[1] > MW_MAX_DEPTH + 1)
        h5u_fail(w, "%s: layer_rel_l2 is %llux%llu for %zu steps", name,
                 (unsigned long long)dims[0], (unsigned long long)dims[1], steps);
    else if ((hsize_t)H5Dget_storage_size(d) / sizeof(double) < dims[0] * dims[1])
        h5u_fail(w, "%s: layer_rel_l2 declares more rows than it stores", name);
    else if (!h5u_rows_fit(w, "layer_rel_l2", dims[0], dims[1] * sizeof *v, dims[1] * sizeof *v))
        ;
    else if (steps && !(v = malloc(steps * (size_t)dims[1] * sizeof *v)))
        h5u_fail(w, "out of memory");
    else if (v)
        h5u_bad(w, H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v), name);
    *n_layers = (int)dims[1];
    if (s >= 0)
        H5Sclose(s);
    if (d >= 0)
        H5Dclose(d);
    if (w->failed) {
        free(v);
        v = NULL;
    }
    return v;
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
    h5u_read_record(w, g, &mw_run_record, &run);
    run.steps = h5u_read_table(w, g, "steps", &mw_step_record, &run.n_steps);
    run.epochs = h5u_read_table(w, g, "epochs", &mw_epoch_record, &run.n_epochs);
    if (!w->failed)
        run.layer_rel_l2 = read_layers(w, g, name, run.n_steps, &run.n_layers);
    H5Gclose(g);
    if (w->failed && w->err)
        mw_err_prefix(w->err, "runs/%s", name);
    if (!w->failed && mw_report_run_at(ld->r, run.index))
        h5u_fail(w, "%s: run %ld twice", name, run.index);
    if (!w->failed && mw_report_set_run(ld->r, &run) != MW_OK)
        h5u_fail(w, "out of memory");
    mw_run_free(&run);
    return w->failed ? -1 : 0;
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

static void read_report(h5u *w, hid_t f, mw_report *r)
{
    loader ld = {*w, r};
    h5u_read_record(&ld.w, f, &mw_meta_record, &r->meta);
    iterate(&ld.w, f, "networks", load_network, &ld);
    iterate(&ld.w, f, "runs", load_run, &ld);
    for (size_t i = 0; i < r->n_runs && !ld.w.failed; i++)
        if (!mw_report_network_at(r, r->runs[i].network))
            h5u_fail(&ld.w, "run %ld belongs to network %ld, which is not in the report",
                     r->runs[i].index, r->runs[i].network);
    for (int t = 0; t < MW_N_TABLES && !ld.w.failed; t++) {
        if (H5Lexists(f, tables[t].name, H5P_DEFAULT) <= 0)
            continue;
        size_t n = 0;
        void *rows = h5u_read_table(&ld.w, f, tables[t].name, tables[t].record, &n);
        r->tables[t] = (mw_report_table){rows, n, n};
    }
    *w = ld.w;
}

void mw_report_release_path(const char *path)
{
    h5u_unclaim(path);
}

void mw_report_abandon_writes(void)
{
    h5u_abandon();
}

/* The whole read, in this process. */
static mw_status load(mw_report *r, const char *path, mw_err *err)
{
    static const char *const formats[] = {MW_REPORT_FORMAT, MW_DUMP_FORMAT, NULL};
    static const long versions[] = {MW_REPORT_VERSION, MW_DUMP_VERSION};
    memset(r, 0, sizeof *r);
    int which;
    long version;
    hid_t f = h5u_open_format(path, formats, versions, &which, &version, err);
    if (f < 0) {
        if (err && strstr(err->msg, "mwverify-layer-check"))
            mw_err_set(err, MW_ERR_FORMAT, "%s: a layer check report of an older mwverify; "
                       "`mwverify layer check --out FILE` writes one this version reads", path);
        return err ? err->status : MW_ERR_FORMAT;
    }
    snprintf(r->path, sizeof r->path, "%s", path);
    mw_err why;
    h5u w = {&why, MW_ERR_FORMAT, 0, 0};
    struct stat sb;
    w.file_bytes = stat(path, &sb) == 0 && sb.st_size > 0 ? (unsigned long long)sb.st_size : 1;
    if (which == 0)
        read_report(&w, f, r);
    else
        mw_dump_read(&w, f, r);
    H5Fclose(f);
    if (!w.failed)
        return MW_OK;
    mw_report_free(r);
    snprintf(r->path, sizeof r->path, "%s", path);
    return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: %s", path, why.msg);
}

/* In the reading child: the whole read, and the report packed for the parent. */
static mw_status read_and_pack(const char *path, void *arg, void **out, size_t *out_len,
                               mw_err *err)
{
    (void)arg;
    mw_report r;
    mw_status st = load(&r, path, err);
    if (st != MW_OK)
        return st;
    if (mw_report_pack(&r, out, out_len) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "%s: out of memory", path);
    return MW_OK;
}

mw_status mw_report_load(mw_report *r, const char *path, mw_err *err)
{
    memset(r, 0, sizeof *r);
    void *bytes = NULL;
    size_t n = 0;
    mw_status st = h5u_read_isolated(path, read_and_pack, NULL, &bytes, &n, err);
    if (st == MW_OK) {
        mw_err why;
        st = mw_report_unpack(r, bytes, n, &why);
        if (st != MW_OK) {
            mw_report_free(r);
            mw_err_set(err, st, st == MW_ERR_NOMEM ? "%s: %s" : "%s: damaged: %s", path,
                       why.msg);
        }
    }
    free(bytes);
    snprintf(r->path, sizeof r->path, "%s", path);
    return st;
}
