/* Gradient dumps in HDF5 (dump.h, reports/SCHEMA.md). Every HDF5 call is checked; the
 * library's own error printing is turned off, the failing call is named in the message. */
#include "dump.h"
#include "h5util.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int mw_dump_check_path(const char *path, int force, char *msg, size_t msg_len)
{
    return h5u_check_path("--dump", path, force, 0, "file exists (add --force to replace it)",
                          msg, msg_len);
}

/* One dataset per parameter tensor, in the tensor's shape, from a flat vector in
 * canonical order; each carries its canonical index and offset. */
static void tensors(h5u *w, hid_t loc, const mw_layout *lay, const double *flat)
{
    for (int t = 0; t < lay->n_params && !w->failed; t++) {
        const mw_param_info *p = &lay->params[t];
        hsize_t dims[4];
        for (int i = 0; i < p->ndim; i++)
            dims[i] = (hsize_t)p->dims[i];
        hid_t d = h5u_dataset_nd(w, loc, p->name, H5T_NATIVE_DOUBLE, p->ndim, dims,
                                 flat + p->offset);
        h5u_attr_i64(w, d, "index", t);
        h5u_attr_i64(w, d, "offset", (long long)p->offset);
        h5u_close_d(d);
    }
}

static void write_file(h5u *w, hid_t f, const mw_dump *d)
{
    const mw_spec *s = d->spec;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    h5u_attr_str(w, f, "format", MW_DUMP_FORMAT);
    h5u_attr_i64(w, f, "format_version", MW_DUMP_VERSION);
    h5u_attr_str(w, f, "mwverify_version", d->version);
    h5u_attr_str(w, f, "created_utc", when);
    h5u_attr_str(w, f, "command_line", d->command_line);
    h5u_attr_str(w, f, "dtype", d->dtype);
    h5u_attr_i64(w, f, "n_params", (long long)d->lay->total);
    h5u_spec_attrs(w, f, s);

    /* the batch in its shape: (B, n), or (B, C, H, W) for images */
    const int img = s->arch == MW_ARCH_REVNET;
    hsize_t xd[4] = {(hsize_t)s->batch, (hsize_t)(img ? s->channels : s->width),
                     (hsize_t)s->image_h, (hsize_t)s->image_w}, ld[2] = {(hsize_t)s->batch, 0};
    h5u_close_d(h5u_dataset_nd(w, f, "input", H5T_NATIVE_DOUBLE, img ? 4 : 2, xd, d->x));
    h5u_close_d(h5u_dataset(w, f, "labels", H5T_NATIVE_INT, ld, 0, d->labels));
    hsize_t pd[2] = {(hsize_t)d->lay->total, 0};
    h5u_close_d(h5u_dataset(w, f, "theta", H5T_NATIVE_DOUBLE, pd, 0, d->theta));

    /* the canonical order, as names */
    const char **names = malloc((size_t)d->lay->n_params * sizeof *names);
    if (!names)
        h5u_fail(w, "out of memory");
    for (int t = 0; names && t < d->lay->n_params; t++)
        names[t] = d->lay->params[t].name;
    hid_t st = H5Tcopy(H5T_C_S1);
    if (!h5u_bad(w, st, "H5Tcopy") && !h5u_bad(w, H5Tset_size(st, H5T_VARIABLE), "H5Tset_size")) {
        hsize_t nd[2] = {(hsize_t)d->lay->n_params, 0};
        h5u_close_d(h5u_dataset(w, f, "param_names", st, nd, 0, names));
    }
    if (st >= 0)
        H5Tclose(st);
    free(names);

    hid_t g = h5u_group(w, f, "params");
    tensors(w, g, d->lay, d->theta);
    h5u_close_g(g);

    g = h5u_group(w, f, "oracle");
    h5u_attr_str(w, g, "kind", d->oracle);
    h5u_attr_f64(w, g, "loss", d->oracle_loss);
    h5u_attr_i64(w, g, "bits", d->oracle_bits);
    h5u_attr_i64(w, g, "check_bits", d->oracle_check_bits);
    h5u_attr_f64(w, g, "certified_bits", d->certified_bits);
    h5u_attr_f64(w, g, "fd_agree_bits", d->fd_agree_bits);
    hid_t gg = h5u_group(w, g, "grad");
    tensors(w, gg, d->lay, d->oracle_hi);
    h5u_close_g(gg);
    if (d->oracle_lo) {
        gg = h5u_group(w, g, "grad_lo");
        tensors(w, gg, d->lay, d->oracle_lo);
        h5u_close_g(gg);
    }
    h5u_close_g(g);

    g = h5u_group(w, f, "methods");
    for (int m = 0; m < d->n_methods && !w->failed; m++) {
        const mw_dump_method *dm = &d->methods[m];
        hid_t mg = h5u_group(w, g, dm->name);
        h5u_attr_str(w, mg, "status", dm->status);
        h5u_attr_str(w, mg, "message", dm->message);
        h5u_attr_f64(w, mg, "rel_l2", dm->rel_l2);
        h5u_attr_f64(w, mg, "max_abs", dm->max_abs);
        h5u_attr_f64(w, mg, "max_ulp", dm->max_ulp);
        h5u_attr_f64(w, mg, "cosine", dm->cosine);
        h5u_attr_f64(w, mg, "seconds", dm->seconds);
        h5u_attr_f64(w, mg, "closure_err", dm->closure_err);
        h5u_attr_i64(w, mg, "peak_bytes", dm->peak_bytes);
        if (dm->grad) {
            gg = h5u_group(w, mg, "grad");
            tensors(w, gg, d->lay, dm->grad);
            h5u_close_g(gg);
        }
        h5u_close_g(mg);
    }
    h5u_close_g(g);
}

static void fill(h5u *w, hid_t f, void *arg)
{
    write_file(w, f, arg);
}

int mw_dump_write(const char *path, const mw_dump *d, char *msg, size_t msg_len)
{
    return h5u_write_atomic(path, fill, (void *)d, msg, msg_len);
}
