/* HDF5 helpers (h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* transitional: the parsers of the names tables */
#define SHIM_PARSE(fn, table, type) \
    static int fn(const char *n, type *out) { int v; if (mw_name_parse(&table, n, &v)) return 1; *out = (type)v; return 0; }
SHIM_PARSE(mw_arch_parse, mw_arch_names, mw_arch)
SHIM_PARSE(mw_act_parse, mw_act_names, mw_act)
SHIM_PARSE(mw_coupling_parse, mw_coupling_names, mw_coupling)
static int mw_out_act_parse(const char *n, mw_act *out) { if (!strcmp(n, "relu")) return 1; int v; if (mw_name_parse(&mw_out_act_names, n, &v)) return 1; *out = (mw_act)v; return 0; }


void h5u_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5u_fail(h5u *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, w->msg_len, fmt, ap);
    va_end(ap);
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

void h5u_read_str(h5u *w, hid_t loc, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    hid_t a = open_attr(w, loc, name), t = -1;
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
    hid_t a = open_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_DOUBLE, &v), name);
        H5Aclose(a);
    }
    return v;
}

long long h5u_read_i64(h5u *w, hid_t loc, const char *name)
{
    long long v = 0;
    hid_t a = open_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_LLONG, &v), name);
        H5Aclose(a);
    }
    return v;
}

unsigned long long h5u_read_u64(h5u *w, hid_t loc, const char *name)
{
    unsigned long long v = 0;
    hid_t a = open_attr(w, loc, name);
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

int h5u_check_path(const char *option, const char *path, int force, int resume,
                   const char *exists_hint, char *msg, size_t msg_len)
{
    struct stat sb;
    char *copy = strdup(path);
    if (!copy) {
        snprintf(msg, msg_len, "out of memory");
        return 1;
    }
    const char *dir = dirname(copy);
    int exists = stat(path, &sb) == 0, is_dir = exists && S_ISDIR(sb.st_mode), rc = 1;
    if (*path == '\0')
        snprintf(msg, msg_len, "%s: empty file name", option);
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        snprintf(msg, msg_len, "%s %s: directory %s does not exist", option, path, dir);
    else if (access(dir, W_OK) != 0)
        snprintf(msg, msg_len, "%s %s: directory %s is not writable", option, path, dir);
    else if (is_dir)
        snprintf(msg, msg_len, "%s %s: is a directory", option, path);
    else if (resume && !exists)
        snprintf(msg, msg_len, "--resume: %s does not exist", path);
    else if (exists && !force && !resume)
        snprintf(msg, msg_len, "%s %s: %s", option, path, exists_hint);
    else
        rc = 0;
    free(copy);
    return rc;
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

int h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, char *msg, size_t msg_len)
{
    h5u w = {msg, msg_len, 0};
    char tmp[4096];
    /* One fixed name: a temporary file left by a writer that was killed is simply
     * truncated and reused by the next commit. (One writer per file at a time.) */
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(msg, msg_len, "%s: path too long", path);
        return 1;
    }
    h5u_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        snprintf(msg, msg_len, "%s: cannot create %s", path, tmp);
        return 1;
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
        return 1;
    }
    char *copy = strdup(path);
    if (copy) { /* the rename itself reaches the disk with its directory */
        sync_path(dirname(copy));
        free(copy);
    }
    return 0;
}

void h5u_spec_attrs(h5u *w, hid_t g, const mw_spec *s)
{
    h5u_attr_str(w, g, "arch", mw_arch_name(s->arch));
    h5u_attr_i64(w, g, "width", s->width);
    h5u_attr_i64(w, g, "hidden", s->hidden);
    h5u_attr_i64(w, g, "units", s->units);
    h5u_attr_i64(w, g, "depth", s->depth);
    h5u_attr_str(w, g, "f_act", mw_act_name(s->f_act));
    h5u_attr_str(w, g, "out_act", mw_out_act_name(s->out_act));
    h5u_attr_f64(w, g, "leaky_slope", s->leaky_slope);
    h5u_attr_i64(w, g, "bn", s->bn);
    h5u_attr_f64(w, g, "bn_eps", s->bn_eps);
    h5u_attr_i64(w, g, "batch", s->batch);
    h5u_attr_i64(w, g, "classes", s->classes);
    h5u_attr_f64(w, g, "init_scale", s->init_scale);
    h5u_attr_u64(w, g, "seed", (unsigned long long)s->seed);
    h5u_attr_str(w, g, "coupling", mw_coupling_name(s->coupling));
    if (s->arch == MW_ARCH_REVNET) {
        h5u_attr_i64(w, g, "channels", s->channels);
        h5u_attr_i64(w, g, "image_h", s->image_h);
        h5u_attr_i64(w, g, "image_w", s->image_w);
        h5u_attr_i64(w, g, "blocks", s->blocks);
        h5u_attr_i64(w, g, "layers_per_block", s->layers_per_block);
    }
}

void h5u_read_spec(h5u *w, hid_t g, mw_spec *s)
{
    char str[32];
    *s = mw_spec_default();
    h5u_read_str(w, g, "arch", str, sizeof str);
    if (!w->failed && mw_arch_parse(str, &s->arch) != 0)
        h5u_fail(w, "unknown arch '%s'", str);
    s->width = (int)h5u_read_i64(w, g, "width");
    s->hidden = (int)h5u_read_i64(w, g, "hidden");
    s->units = (int)h5u_read_i64(w, g, "units");
    s->depth = (int)h5u_read_i64(w, g, "depth");
    h5u_read_str(w, g, "f_act", str, sizeof str);
    if (!w->failed && mw_act_parse(str, &s->f_act) != 0)
        h5u_fail(w, "unknown f_act '%s'", str);
    h5u_read_str(w, g, "out_act", str, sizeof str);
    if (!w->failed && mw_out_act_parse(str, &s->out_act) != 0)
        h5u_fail(w, "unknown out_act '%s'", str);
    s->leaky_slope = h5u_read_f64(w, g, "leaky_slope");
    s->bn = (int)h5u_read_i64(w, g, "bn");
    s->bn_eps = h5u_read_f64(w, g, "bn_eps");
    s->batch = (int)h5u_read_i64(w, g, "batch");
    s->classes = (int)h5u_read_i64(w, g, "classes");
    s->init_scale = h5u_read_f64(w, g, "init_scale");
    s->seed = (uint64_t)h5u_read_u64(w, g, "seed");
    if (!w->failed && H5Aexists(g, "coupling") > 0) { /* reports before it are additive */
        h5u_read_str(w, g, "coupling", str, sizeof str);
        if (!w->failed && mw_coupling_parse(str, &s->coupling) != 0)
            h5u_fail(w, "unknown coupling '%s'", str);
    }
    if (s->arch == MW_ARCH_REVNET) {
        s->channels = (int)h5u_read_i64(w, g, "channels");
        s->image_h = (int)h5u_read_i64(w, g, "image_h");
        s->image_w = (int)h5u_read_i64(w, g, "image_w");
        s->blocks = (int)h5u_read_i64(w, g, "blocks");
        s->layers_per_block = (int)h5u_read_i64(w, g, "layers_per_block");
    }
    char why[256];
    if (!w->failed && mw_spec_validate(s, why, sizeof why) != 0)
        h5u_fail(w, "invalid network: %s", why);
}

