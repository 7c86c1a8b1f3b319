/* The layer check report: root attributes and one compound table (layer_report.h). */
#include "layer_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "h5util.h"

int mw_layer_check_add(mw_layer_check_result *res, const char *layer, const char *config,
                       const char *dtype, const char *check, double error, double max_ulp,
                       double threshold)
{
    if (res->n_rows == res->cap_rows) {
        size_t cap = res->cap_rows ? 2 * res->cap_rows : 64;
        mw_layer_check_row *p = realloc(res->rows, cap * sizeof *p);
        if (!p)
            return 1;
        res->rows = p;
        res->cap_rows = cap;
    }
    mw_layer_check_row *r = &res->rows[res->n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->layer, sizeof r->layer, "%s", layer);
    snprintf(r->config, sizeof r->config, "%s", config);
    snprintf(r->dtype, sizeof r->dtype, "%s", dtype);
    snprintf(r->check, sizeof r->check, "%s", check);
    r->error = error;
    r->max_ulp = max_ulp;
    r->threshold = threshold;
    r->pass = error <= threshold;
    return 0;
}

void mw_layer_check_free(mw_layer_check_result *res)
{
    free(res->rows);
    memset(res, 0, sizeof *res);
}

static hid_t row_type(h5u *w)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(mw_layer_check_row));
    if (h5u_bad(w, t, "H5Tcreate"))
        return t;
    hid_t s32 = h5u_fixed_str(w, 32), s96 = h5u_fixed_str(w, 96), s8 = h5u_fixed_str(w, 8);
#define F(name, type) h5u_bad(w, H5Tinsert(t, #name, HOFFSET(mw_layer_check_row, name), type), #name)
    F(layer, s32);
    F(config, s96);
    F(dtype, s8);
    F(check, s32);
    F(error, H5T_NATIVE_DOUBLE);
    F(max_ulp, H5T_NATIVE_DOUBLE);
    F(threshold, H5T_NATIVE_DOUBLE);
    F(pass, H5T_NATIVE_INT);
#undef F
    if (s32 >= 0)
        H5Tclose(s32);
    if (s96 >= 0)
        H5Tclose(s96);
    if (s8 >= 0)
        H5Tclose(s8);
    return t;
}

typedef struct fill_arg {
    const mw_layer_check_result *res;
    const char *version, *command_line;
} fill_arg;

static void fill(h5u *w, hid_t f, void *arg)
{
    const fill_arg *a = arg;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    size_t failed = 0;
    for (size_t i = 0; i < a->res->n_rows; i++)
        failed += !a->res->rows[i].pass;
    h5u_attr_str(w, f, "format", MW_LAYER_REPORT_FORMAT);
    h5u_attr_i64(w, f, "format_version", MW_LAYER_REPORT_VERSION);
    h5u_attr_str(w, f, "mwverify_version", a->version);
    h5u_attr_str(w, f, "created_utc", when);
    h5u_attr_str(w, f, "command_line", a->command_line);
    h5u_attr_i64(w, f, "checks", (long long)a->res->n_rows);
    h5u_attr_i64(w, f, "failed", (long long)failed);
    hid_t t = row_type(w);
    hsize_t dims[2] = {a->res->n_rows, 0};
    h5u_close_d(h5u_dataset(w, f, "layer_checks", t, dims, 0, a->res->rows));
    if (t >= 0)
        H5Tclose(t);
}

int mw_layer_report_check_path(const char *path, int force, char *msg, size_t msg_len)
{
    return h5u_check_path("--report", path, force, 0, "exists (--force replaces it)", msg,
                          msg_len);
}

int mw_layer_report_write(const char *path, const mw_layer_check_result *res, int force,
                          const char *version, const char *command_line, char *msg,
                          size_t msg_len)
{
    if (mw_layer_report_check_path(path, force, msg, msg_len) != 0)
        return 1;
    fill_arg a = {res, version, command_line};
    return h5u_write_atomic(path, fill, &a, msg, msg_len);
}

int mw_layer_report_load(const char *path, mw_layer_check_result *res, char *msg,
                         size_t msg_len)
{
    char why[300] = "";
    h5u w = {why, sizeof why, 0};
    memset(res, 0, sizeof *res);
    h5u_quiet();
    struct stat sb;
    if (stat(path, &sb) != 0)
        return snprintf(msg, msg_len, "%s: no such file", path) > 0;
    if (S_ISDIR(sb.st_mode))
        return snprintf(msg, msg_len, "%s: is a directory", path) > 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return snprintf(msg, msg_len, "%s: cannot be opened as HDF5 (not an HDF5 file, or "
                                      "truncated or damaged)", path) > 0;
    char format[64] = "";
    int rc = 1;
    if (H5Aexists(f, "format") <= 0) {
        snprintf(msg, msg_len, "%s: not a layer check report (no 'format' attribute)", path);
        H5Fclose(f);
        return 1;
    }
    h5u_read_str(&w, f, "format", format, sizeof format);
    long long version = h5u_read_i64(&w, f, "format_version");
    if (w.failed)
        snprintf(msg, msg_len, "%s: damaged layer check report: %s", path, why);
    else if (strcmp(format, MW_LAYER_REPORT_FORMAT) != 0)
        snprintf(msg, msg_len, "%s: not a layer check report (format '%s'; `mwverify layer "
                               "check --report` writes one)", path, format);
    else if (version < 1 || version > MW_LAYER_REPORT_VERSION)
        snprintf(msg, msg_len, "%s: layer check report version %lld, but this mwverify reads "
                               "version %d", path, version, MW_LAYER_REPORT_VERSION);
    else
        rc = 0;
    if (rc == 0) {
        hid_t t = row_type(&w);
        hid_t d = w.failed ? -1 : H5Dopen2(f, "layer_checks", H5P_DEFAULT);
        if (!w.failed && d < 0)
            h5u_fail(&w, "dataset 'layer_checks' missing");
        hid_t s = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t n = 0;
        if (d >= 0 && (s < 0 || H5Sget_simple_extent_ndims(s) != 1 ||
                       H5Sget_simple_extent_dims(s, &n, NULL) != 1))
            h5u_fail(&w, "dataset 'layer_checks' is not a table");
        if (!w.failed && n > 0) {
            res->rows = calloc((size_t)n, sizeof *res->rows);
            if (!res->rows)
                h5u_fail(&w, "out of memory");
            else if (!h5u_bad(&w, H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, res->rows),
                              "layer_checks"))
                res->n_rows = res->cap_rows = (size_t)n;
        }
        /* the strings are read into fixed fields: make sure each ends */
        for (size_t i = 0; i < res->n_rows; i++) {
            mw_layer_check_row *r = &res->rows[i];
            r->layer[sizeof r->layer - 1] = r->config[sizeof r->config - 1] = 0;
            r->dtype[sizeof r->dtype - 1] = r->check[sizeof r->check - 1] = 0;
        }
        if (s >= 0)
            H5Sclose(s);
        if (d >= 0)
            H5Dclose(d);
        if (t >= 0)
            H5Tclose(t);
        if (w.failed) {
            snprintf(msg, msg_len, "%s: damaged layer check report: %s", path, why);
            mw_layer_check_free(res);
            rc = 1;
        }
    }
    H5Fclose(f);
    return rc;
}
