/* Gradient dumps in HDF5 (dump.h, reports/SCHEMA.md). Every HDF5 call is checked; the
 * library's own error printing is turned off, the failing call is named in the message. */
#include "dump.h"

#include <errno.h>
#include <hdf5.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct writer {
    char *msg;
    size_t msg_len;
    int failed;
} writer;

/* Record the first failure; every later call becomes a no-op. */
static int bad(writer *w, long long rc, const char *what)
{
    if (rc >= 0 || w->failed)
        return w->failed;
    snprintf(w->msg, w->msg_len, "HDF5: %s failed", what);
    w->failed = 1;
    return 1;
}

int mw_dump_check_path(const char *path, int force, char *msg, size_t msg_len)
{
    struct stat sb;
    char *copy = strdup(path);
    if (!copy) {
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    const char *dir = dirname(copy);
    int rc = 0;
    if (*path == '\0')
        rc = snprintf(msg, msg_len, "--dump: empty file name") > 0;
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        rc = snprintf(msg, msg_len, "--dump %s: directory %s does not exist", path, dir) > 0;
    else if (access(dir, W_OK) != 0)
        rc = snprintf(msg, msg_len, "--dump %s: directory %s is not writable", path, dir) > 0;
    else if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        rc = snprintf(msg, msg_len, "--dump %s: is a directory", path) > 0;
    else if (stat(path, &sb) == 0 && !force)
        rc = snprintf(msg, msg_len, "--dump %s: file exists (add --force to replace it)", path) > 0;
    free(copy);
    return rc;
}

/* ---- small writers ---- */

static void attr_str(writer *w, hid_t loc, const char *name, const char *v)
{
    if (w->failed)
        return;
    hid_t t = H5Tcopy(H5T_C_S1), s = -1, a = -1;
    if (!bad(w, t, "H5Tcopy") && !bad(w, H5Tset_size(t, H5T_VARIABLE), "H5Tset_size") &&
        !bad(w, H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset") &&
        !bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !bad(w, a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT), name)) {
        const char *p = v ? v : "";
        bad(w, H5Awrite(a, t, &p), name);
    }
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
}

static void attr_num(writer *w, hid_t loc, const char *name, hid_t type, const void *v)
{
    if (w->failed)
        return;
    hid_t s = -1, a = -1;
    if (!bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !bad(w, a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT), name))
        bad(w, H5Awrite(a, type, v), name);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
}

static void attr_f64(writer *w, hid_t loc, const char *name, double v)
{
    attr_num(w, loc, name, H5T_NATIVE_DOUBLE, &v);
}

static void attr_i64(writer *w, hid_t loc, const char *name, long long v)
{
    attr_num(w, loc, name, H5T_NATIVE_LLONG, &v);
}

/* A dataset of rank 1 or 2 (dims[1] == 0 means rank 1). */
static hid_t dataset(writer *w, hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                     const void *data)
{
    if (w->failed)
        return -1;
    hid_t s = -1, d = -1;
    int rank = dims[1] ? 2 : 1;
    if (!bad(w, s = H5Screate_simple(rank, dims, NULL), "H5Screate_simple") &&
        !bad(w, d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), name))
        bad(w, H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    if (s >= 0)
        H5Sclose(s);
    return d;
}

static void close_dataset(hid_t d)
{
    if (d >= 0)
        H5Dclose(d);
}

static hid_t group(writer *w, hid_t loc, const char *name)
{
    if (w->failed)
        return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bad(w, g, name);
    return g;
}

static void close_group(hid_t g)
{
    if (g >= 0)
        H5Gclose(g);
}

/* One dataset per parameter tensor, in the tensor's shape, from a flat vector in
 * canonical order; each carries its canonical index and offset. */
static void tensors(writer *w, hid_t loc, const mw_layout *lay, const double *flat)
{
    for (int t = 0; t < lay->n_params && !w->failed; t++) {
        const mw_param_info *p = &lay->params[t];
        hsize_t dims[2] = {(hsize_t)p->rows, p->kind == MW_PARAM_W ? (hsize_t)p->cols : 0};
        hid_t d = dataset(w, loc, p->name, H5T_NATIVE_DOUBLE, dims, flat + p->offset);
        attr_i64(w, d, "index", t);
        attr_i64(w, d, "offset", (long long)p->offset);
        close_dataset(d);
    }
}

static void spec_attrs(writer *w, hid_t f, const mw_spec *s)
{
    attr_str(w, f, "arch", mw_arch_name(s->arch));
    attr_i64(w, f, "width", s->width);
    attr_i64(w, f, "hidden", s->hidden);
    attr_i64(w, f, "units", s->units);
    attr_i64(w, f, "depth", s->depth);
    attr_str(w, f, "f_act", mw_act_name(s->f_act));
    attr_str(w, f, "out_act", mw_out_act_name(s->out_act));
    attr_f64(w, f, "leaky_slope", s->leaky_slope);
    attr_i64(w, f, "bn", s->bn);
    attr_f64(w, f, "bn_eps", s->bn_eps);
    attr_i64(w, f, "batch", s->batch);
    attr_i64(w, f, "classes", s->classes);
    attr_f64(w, f, "init_scale", s->init_scale);
    attr_i64(w, f, "seed", (long long)s->seed);
}

static void write_file(writer *w, hid_t f, const mw_dump *d)
{
    const mw_spec *s = d->spec;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    attr_str(w, f, "format", MW_DUMP_FORMAT);
    attr_i64(w, f, "format_version", MW_DUMP_VERSION);
    attr_str(w, f, "mwverify_version", d->version);
    attr_str(w, f, "created_utc", when);
    attr_str(w, f, "command_line", d->command_line);
    attr_str(w, f, "dtype", d->dtype);
    attr_i64(w, f, "n_params", (long long)d->lay->total);
    spec_attrs(w, f, s);

    hsize_t xd[2] = {(hsize_t)s->batch, (hsize_t)s->width}, ld[2] = {(hsize_t)s->batch, 0};
    close_dataset(dataset(w, f, "input", H5T_NATIVE_DOUBLE, xd, d->x));
    close_dataset(dataset(w, f, "labels", H5T_NATIVE_INT, ld, d->labels));
    hsize_t pd[2] = {(hsize_t)d->lay->total, 0};
    close_dataset(dataset(w, f, "theta", H5T_NATIVE_DOUBLE, pd, d->theta));

    /* the canonical order, as names */
    const char **names = malloc((size_t)d->lay->n_params * sizeof *names);
    if (!names && !w->failed) {
        snprintf(w->msg, w->msg_len, "out of memory");
        w->failed = 1;
    }
    for (int t = 0; names && t < d->lay->n_params; t++)
        names[t] = d->lay->params[t].name;
    hid_t st = H5Tcopy(H5T_C_S1);
    if (!bad(w, st, "H5Tcopy") && !bad(w, H5Tset_size(st, H5T_VARIABLE), "H5Tset_size")) {
        hsize_t nd[2] = {(hsize_t)d->lay->n_params, 0};
        close_dataset(dataset(w, f, "param_names", st, nd, names));
    }
    if (st >= 0)
        H5Tclose(st);
    free(names);

    hid_t g = group(w, f, "params");
    tensors(w, g, d->lay, d->theta);
    close_group(g);

    g = group(w, f, "oracle");
    attr_str(w, g, "kind", d->oracle);
    attr_f64(w, g, "loss", d->oracle_loss);
    attr_i64(w, g, "bits", d->oracle_bits);
    attr_i64(w, g, "check_bits", d->oracle_check_bits);
    attr_f64(w, g, "certified_bits", d->certified_bits);
    attr_f64(w, g, "fd_agree_bits", d->fd_agree_bits);
    hid_t gg = group(w, g, "grad");
    tensors(w, gg, d->lay, d->oracle_hi);
    close_group(gg);
    if (d->oracle_lo) {
        gg = group(w, g, "grad_lo");
        tensors(w, gg, d->lay, d->oracle_lo);
        close_group(gg);
    }
    close_group(g);

    g = group(w, f, "methods");
    for (int m = 0; m < d->n_methods && !w->failed; m++) {
        const mw_dump_method *dm = &d->methods[m];
        hid_t mg = group(w, g, dm->name);
        attr_str(w, mg, "status", dm->status);
        attr_str(w, mg, "message", dm->message);
        attr_f64(w, mg, "rel_l2", dm->rel_l2);
        attr_f64(w, mg, "max_abs", dm->max_abs);
        attr_f64(w, mg, "max_ulp", dm->max_ulp);
        attr_f64(w, mg, "cosine", dm->cosine);
        attr_f64(w, mg, "seconds", dm->seconds);
        attr_f64(w, mg, "closure_err", dm->closure_err);
        attr_i64(w, mg, "peak_bytes", dm->peak_bytes);
        if (dm->grad) {
            gg = group(w, mg, "grad");
            tensors(w, gg, d->lay, dm->grad);
            close_group(gg);
        }
        close_group(mg);
    }
    close_group(g);
}

int mw_dump_write(const char *path, const mw_dump *d, char *msg, size_t msg_len)
{
    writer w = {msg, msg_len, 0};
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(msg, msg_len, "--dump %s: path too long", path);
        return 1;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors come back as return codes, not prints */
    hid_t f = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        snprintf(msg, msg_len, "--dump %s: cannot create %s", path, tmp);
        return 1;
    }
    write_file(&w, f, d);
    if (H5Fclose(f) < 0 && !w.failed) {
        snprintf(msg, msg_len, "HDF5: closing %s failed", tmp);
        w.failed = 1;
    }
    if (!w.failed && rename(tmp, path) != 0) {
        snprintf(msg, msg_len, "--dump %s: cannot move the new file into place: %s", path,
                 strerror(errno));
        w.failed = 1;
    }
    if (w.failed)
        unlink(tmp);
    return w.failed;
}
