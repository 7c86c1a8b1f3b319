/* HDF5 helpers (h5util.h). */
#include "h5util.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


void h5u_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5u_fail(h5u *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    if (w->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err->msg, sizeof w->err->msg, fmt, ap);
        va_end(ap);
        w->err->status = w->on_fail;
    }
    w->failed = 1;
}

int h5u_bad(h5u *w, long long rc, const char *what)
{
    if (rc < 0)
        h5u_fail(w, "HDF5: %s failed", what);
    return w->failed;
}

void h5u_attr_str(h5u *w, hid_t loc, const char *name, const char *v)
{
    if (w->failed)
        return;
    hid_t t = H5Tcopy(H5T_C_S1), s = -1, a = -1;
    if (!h5u_bad(w, t, "H5Tcopy") && !h5u_bad(w, H5Tset_size(t, H5T_VARIABLE), "H5Tset_size") &&
        !h5u_bad(w, H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset") &&
        !h5u_bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT), name)) {
        const char *p = v ? v : "";
        h5u_bad(w, H5Awrite(a, t, &p), name);
    }
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
}

static void attr_num(h5u *w, hid_t loc, const char *name, hid_t type, const void *v)
{
    if (w->failed)
        return;
    hid_t s = -1, a = -1;
    if (!h5u_bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT), name))
        h5u_bad(w, H5Awrite(a, type, v), name);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
}

void h5u_attr_f64(h5u *w, hid_t loc, const char *name, double v)
{
    attr_num(w, loc, name, H5T_NATIVE_DOUBLE, &v);
}

void h5u_attr_i64(h5u *w, hid_t loc, const char *name, long long v)
{
    attr_num(w, loc, name, H5T_NATIVE_LLONG, &v);
}

void h5u_attr_u64(h5u *w, hid_t loc, const char *name, unsigned long long v)
{
    attr_num(w, loc, name, H5T_NATIVE_ULLONG, &v);
}

static hid_t open_attr(h5u *w, hid_t loc, const char *name)
{
    if (w->failed)
        return -1;
    htri_t has = H5Aexists(loc, name);
    if (has <= 0) {
        h5u_fail(w, "attribute '%s' missing", name);
        return -1;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    h5u_bad(w, a, name);
    return a;
}

/* An attribute that must hold one value (a scalar, or an array of one): reading more into
 * one variable would run past it. */
static hid_t open_scalar_attr(h5u *w, hid_t loc, const char *name)
{
    hid_t a = open_attr(w, loc, name), s = a >= 0 ? H5Aget_space(a) : -1;
    if (a >= 0 && (s < 0 || H5Sget_simple_extent_npoints(s) != 1)) {
        h5u_fail(w, "attribute '%s' is not a single value", name);
        H5Aclose(a);
        a = -1;
    }
    if (s >= 0)
        H5Sclose(s);
    return a;
}

void h5u_read_str(h5u *w, hid_t loc, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    hid_t a = open_scalar_attr(w, loc, name), t = -1;
    if (a < 0)
        return;
    if (!h5u_bad(w, t = H5Aget_type(a), name)) {
        if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0) {
            h5u_fail(w, "attribute '%s' is not a string", name);
        } else {
            char *v = NULL;
            if (!h5u_bad(w, H5Aread(a, t, &v), name))
                snprintf(out, n, "%s", v ? v : "");
            H5free_memory(v);
        }
        H5Tclose(t);
    }
    H5Aclose(a);
}

double h5u_read_f64(h5u *w, hid_t loc, const char *name)
{
    double v = 0.0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_DOUBLE, &v), name);
        H5Aclose(a);
    }
    return v;
}

long long h5u_read_i64(h5u *w, hid_t loc, const char *name)
{
    long long v = 0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_LLONG, &v), name);
        H5Aclose(a);
    }
    return v;
}

unsigned long long h5u_read_u64(h5u *w, hid_t loc, const char *name)
{
    unsigned long long v = 0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_ULLONG, &v), name);
        H5Aclose(a);
    }
    return v;
}

hid_t h5u_fixed_str(h5u *w, size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (!h5u_bad(w, t, "H5Tcopy") && !h5u_bad(w, H5Tset_size(t, n), "H5Tset_size"))
        h5u_bad(w, H5Tset_strpad(t, H5T_STR_NULLTERM), "H5Tset_strpad");
    return t;
}

hid_t h5u_dataset(h5u *w, hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                  hsize_t chunk, const void *data)
{
    if (w->failed)
        return -1;
    int rank = dims[1] ? 2 : 1;
    hsize_t maxdims[2] = {chunk ? H5S_UNLIMITED : dims[0], dims[1]};
    hsize_t cdims[2] = {chunk, dims[1] ? dims[1] : 1};
    hid_t s = -1, d = -1, dcpl = H5P_DEFAULT;
    if (chunk && !h5u_bad(w, dcpl = H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"))
        h5u_bad(w, H5Pset_chunk(dcpl, rank, cdims), "H5Pset_chunk");
    if (!h5u_bad(w, s = H5Screate_simple(rank, dims, maxdims), "H5Screate_simple") &&
        !h5u_bad(w, d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT), name) &&
        dims[0] > 0 && data)
        h5u_bad(w, H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    if (s >= 0)
        H5Sclose(s);
    if (dcpl != H5P_DEFAULT && dcpl >= 0)
        H5Pclose(dcpl);
    return d;
}

hid_t h5u_dataset_nd(h5u *w, hid_t loc, const char *name, hid_t type, int rank,
                     const hsize_t *dims, const void *data)
{
    if (w->failed)
        return -1;
    if (rank < 1 || rank > 4) {
        h5u_fail(w, "%s: rank %d", name, rank);
        return -1;
    }
    hsize_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    hid_t s = -1, d = -1;
    if (!h5u_bad(w, s = H5Screate_simple(rank, dims, NULL), "H5Screate_simple") &&
        !h5u_bad(w, d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 name) &&
        n > 0 && data)
        h5u_bad(w, H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    if (s >= 0)
        H5Sclose(s);
    return d;
}

void h5u_close_d(hid_t d)
{
    if (d >= 0)
        H5Dclose(d);
}

hid_t h5u_group(h5u *w, hid_t loc, const char *name)
{
    if (w->failed)
        return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    h5u_bad(w, g, name);
    return g;
}

void h5u_close_g(hid_t g)
{
    if (g >= 0)
        H5Gclose(g);
}

mw_status h5u_check_path(const char *option, const char *path, int force, int resume,
                         const char *exists_hint, mw_err *err)
{
    struct stat sb;
    char *copy = strdup(path);
    if (!copy)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    /* lstat: a symlink is what is at the path, not what it points to */
    int exists = lstat(path, &sb) == 0, is_dir = exists && S_ISDIR(sb.st_mode);
    int regular = exists && S_ISREG(sb.st_mode);
    mw_status st = MW_ERR_ARG;
    if (*path == '\0')
        mw_err_set(err, st, "%s: empty file name", option);
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        mw_err_set(err, st, "%s %s: directory %s does not exist", option, path, dir);
    else if (access(dir, W_OK) != 0)
        mw_err_set(err, st, "%s %s: directory %s is not writable", option, path, dir);
    else if (is_dir)
        mw_err_set(err, st, "%s %s: is a directory", option, path);
    else if (exists && !regular)
        mw_err_set(err, st, "%s %s: not a regular file (a symlink, device or pipe); mwverify "
                   "replaces or resumes only regular files", option, path);
    else if (resume && !exists)
        mw_err_set(err, st, "--resume: %s does not exist", path);
    else if (exists && !force && !resume)
        mw_err_set(err, st, "%s %s: %s", option, path, exists_hint);
    else
        st = MW_OK;
    free(copy);
    return st;
}

/* fsync a path (a file, or the directory holding a rename). */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Remove the temporary files a killed writer of path left behind: "<path>.tmp-<pid>-XXXXXX"
 * regular files whose process is gone. Another live writer's file is left alone. */
static void sweep_stale(const char *path)
{
    char *copy = strdup(path), *copy2 = strdup(path);
    const char *where = copy && copy2 ? dirname(copy) : NULL;
    DIR *dir = where ? opendir(where) : NULL;
    if (dir) {
        const char *base = basename(copy2);
        const size_t nb = strlen(base);
        char full[4200];
        for (struct dirent *e; (e = readdir(dir)) != NULL;) {
            char *end;
            if (strncmp(e->d_name, base, nb) != 0 || strncmp(e->d_name + nb, ".tmp-", 5) != 0)
                continue;
            long pid = strtol(e->d_name + nb + 5, &end, 10);
            struct stat sb;
            if (end == e->d_name + nb + 5 || *end != '-' || strlen(end) != 7 || pid <= 0 ||
                (pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH ||
                (size_t)snprintf(full, sizeof full, "%s/%s", where, e->d_name) >=
                    sizeof full ||
                lstat(full, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            unlink(full);
        }
        closedir(dir);
    }
    free(copy), free(copy2);
}

mw_status h5u_temp_beside(const char *path, char *tmp, size_t n, mw_err *err)
{
    sweep_stale(path);
    if (snprintf(tmp, n, "%s.tmp-%ld-XXXXXX", path, (long)getpid()) >= (int)n)
        return mw_err_set(err, MW_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp); /* O_CREAT | O_EXCL, 0600: never an existing name or a symlink */
    if (fd < 0)
        return mw_err_set(err, MW_ERR_IO, "%s: cannot create a temporary file beside it: %s",
                          path, strerror(errno));
    close(fd);
    return MW_OK;
}

mw_status h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, mw_err *err)
{
    h5u w = {err, MW_ERR_IO, 0};
    char tmp[4096];
    /* A fresh name each commit, made exclusively: nothing at a guessable name is followed
     * or overwritten (a writer killed mid-commit leaves its temporary file behind). */
    mw_status made = h5u_temp_beside(path, tmp, sizeof tmp, err);
    if (made != MW_OK)
        return made;
    h5u_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        unlink(tmp);
        return mw_err_set(err, MW_ERR_IO, "%s: cannot create %s", path, tmp);
    }
    fill(&w, f, arg);
    if (H5Fclose(f) < 0)
        h5u_fail(&w, "HDF5: closing %s failed", tmp);
    if (!w.failed && sync_path(tmp) != 0)
        h5u_fail(&w, "%s: cannot flush to disk: %s", tmp, strerror(errno));
    if (!w.failed && rename(tmp, path) != 0)
        h5u_fail(&w, "%s: cannot move the new file into place: %s", path, strerror(errno));
    if (w.failed) {
        unlink(tmp);
        return MW_ERR_IO;
    }
    char *copy = strdup(path);
    if (copy) { /* the rename itself reaches the disk with its directory */
        sync_path(dirname(copy));
        free(copy);
    }
    return MW_OK;
}

hid_t h5u_open_format(const char *path, const char *const *formats, const long *max_version,
                      int *which, long *version, mw_err *err)
{
    struct stat sb;
    h5u_quiet();
    if (stat(path, &sb) != 0) {
        mw_err_set(err, MW_ERR_ARG, "%s: no such file", path);
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        mw_err_set(err, MW_ERR_ARG, "%s: is a directory", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mw_err_set(err, MW_ERR_FORMAT, "%s: cannot be opened as HDF5 (not an HDF5 file, or "
                   "truncated or damaged)", path);
        return -1;
    }
    char format[64] = "";
    mw_err why;
    h5u w = {&why, MW_ERR_FORMAT, 0};
    if (H5Aexists(f, "format") <= 0) {
        mw_err_set(err, MW_ERR_FORMAT, "%s: not a file of mwverify's (no 'format' attribute)",
                   path);
        H5Fclose(f);
        return -1;
    }
    h5u_read_str(&w, f, "format", format, sizeof format);
    long long v = h5u_read_i64(&w, f, "format_version");
    int k = 0;
    while (formats[k] && strcmp(formats[k], format) != 0)
        k++;
    if (w.failed)
        mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: %s", path, why.msg);
    else if (!formats[k])
        mw_err_set(err, MW_ERR_FORMAT, "%s: format '%s' is not one mwverify reads", path, format);
    else if (v != max_version[k]) /* each version is read by the code that writes it */
        mw_err_set(err, MW_ERR_FORMAT, "%s: %s format version %lld; this mwverify reads version "
                   "%ld (%s)", path, format, v, max_version[k],
                   v > max_version[k] ? "upgrade mwverify to read it"
                                      : "written by an older mwverify: run it again");
    else {
        *which = k;
        *version = (long)v;
        return f;
    }
    H5Fclose(f);
    return -1;
}

void h5u_attr_f64_array(h5u *w, hid_t loc, const char *name, const double *v, size_t n)
{
    if (w->failed)
        return;
    hsize_t dims[1] = {n};
    hid_t s = -1, a = -1;
    if (!h5u_bad(w, s = H5Screate_simple(1, dims, NULL), "H5Screate_simple") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT),
                 name) &&
        n > 0)
        h5u_bad(w, H5Awrite(a, H5T_NATIVE_DOUBLE, v), name);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
}

void h5u_read_f64_array(h5u *w, hid_t loc, const char *name, double *v, size_t cap, size_t *n)
{
    *n = 0;
    hid_t a = open_attr(w, loc, name), s = -1;
    if (a < 0)
        return;
    hsize_t dims[1] = {0};
    if (h5u_bad(w, s = H5Aget_space(a), name) || H5Sget_simple_extent_ndims(s) != 1 ||
        H5Sget_simple_extent_dims(s, dims, NULL) != 1)
        h5u_fail(w, "attribute '%s' is not a list", name);
    else if (dims[0] > cap)
        h5u_fail(w, "attribute '%s' holds %llu values (at most %zu)", name,
                 (unsigned long long)dims[0], cap);
    else if (dims[0] > 0 && !h5u_bad(w, H5Aread(a, H5T_NATIVE_DOUBLE, v), name))
        *n = (size_t)dims[0];
    if (s >= 0)
        H5Sclose(s);
    H5Aclose(a);
}
