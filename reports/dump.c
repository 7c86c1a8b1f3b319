/* Gradient dumps in HDF5 (dump.h, reports/SCHEMA.md): the network and the oracle as
 * their records' attributes, each method as its run's and its step's, and the tensors. */
#include "dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

mw_status mw_dump_check_path(const char *path, int force, mw_err *err)
{
    return h5u_check_path("--out", path, force, 0, "file exists (add --force to replace it)",
                          err);
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

static void tensors_group(h5u *w, hid_t parent, const char *name, const mw_layout *lay,
                          const double *flat)
{
    hid_t g = h5u_group(w, parent, name);
    tensors(w, g, lay, flat);
    h5u_close_g(g);
}

static void fill(h5u *w, hid_t f, void *arg)
{
    const mw_dump *d = arg;
    const mw_spec *s = d->spec;
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    h5u_attr_str(w, f, "format", MW_DUMP_FORMAT);
    h5u_attr_i64(w, f, "format_version", MW_DUMP_VERSION);
    h5u_attr_str(w, f, "mwverify_version", MW_VERSION);
    h5u_attr_str(w, f, "created_utc", when);
    h5u_attr_str(w, f, "command_line", d->command_line);
    h5u_attr_str(w, f, "dtype", mw_dtype_name(d->dtype));
    h5u_attr_i64(w, f, "n_params", (long long)d->lay->total);
    h5u_write_record(w, f, &mw_spec_record, s);

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
    tensors_group(w, f, "params", d->lay, d->theta);

    hid_t g = h5u_group(w, f, "oracle");
    h5u_write_record(w, g, &mw_oracle_record, d->oracle);
    tensors_group(w, g, "grad", d->lay, d->oracle_hi);
    if (d->oracle_lo)
        tensors_group(w, g, "grad_lo", d->lay, d->oracle_lo);
    h5u_close_g(g);

    g = h5u_group(w, f, "methods");
    for (size_t m = 0; m < d->n_runs && !w->failed; m++) {
        const mw_report_run *run = &d->runs[m];
        hid_t mg = h5u_group(w, g, mw_method_name(run->method));
        h5u_write_record(w, mg, &mw_run_record, run);
        if (run->n_steps)
            h5u_write_record(w, mg, &mw_step_record, &run->steps[0]);
        if (d->grads[m])
            tensors_group(w, mg, "grad", d->lay, d->grads[m]);
        h5u_close_g(mg);
    }
    h5u_close_g(g);
}

mw_status mw_dump_write(const char *path, const mw_dump *d, mw_err *err)
{
    return h5u_write_atomic(path, fill, (void *)d, err);
}

/* ---- reading, as a report ---- */

typedef struct method_loader {
    h5u *w;
    mw_report *r;
} method_loader;

static herr_t load_method(hid_t parent, const char *name, const H5L_info_t *info, void *arg)
{
    (void)info;
    method_loader *ml = arg;
    h5u *w = ml->w;
    mw_report_run run;
    mw_report_step step = mw_step_none();
    memset(&run, 0, sizeof run);
    hid_t g = H5Gopen2(parent, name, H5P_DEFAULT);
    if (h5u_bad(w, g, name))
        return -1;
    h5u_read_record(w, g, &mw_run_record, &run);
    if (!w->failed && H5Aexists(g, "step") > 0) {
        h5u_read_record(w, g, &mw_step_record, &step);
        run.steps = &step;
        run.n_steps = 1;
    }
    H5Gclose(g);
    if (!w->failed && mw_report_run_at(ml->r, run.index))
        h5u_fail(w, "methods/%s: run %ld twice", name, run.index);
    if (!w->failed && mw_report_set_run(ml->r, &run) != MW_OK)
        h5u_fail(w, "out of memory");
    return w->failed ? -1 : 0;
}

void mw_dump_read(h5u *w, hid_t f, mw_report *r)
{
    mw_report_network net;
    memset(&net, 0, sizeof net);
    net.spec = mw_spec_default();
    snprintf(r->meta.suite, sizeof r->meta.suite, "grad");
    h5u_read_str(w, f, "mwverify_version", r->meta.mwverify_version,
                 sizeof r->meta.mwverify_version);
    h5u_read_str(w, f, "created_utc", r->meta.created_utc, sizeof r->meta.created_utc);
    snprintf(r->meta.updated_utc, sizeof r->meta.updated_utc, "%s", r->meta.created_utc);
    h5u_read_str(w, f, "command_line", r->meta.command_line, sizeof r->meta.command_line);
    h5u_read_record(w, f, &mw_spec_record, &net.spec);
    hid_t g = w->failed ? -1 : H5Gopen2(f, "oracle", H5P_DEFAULT);
    if (!w->failed && g < 0)
        h5u_fail(w, "group 'oracle' missing");
    if (g >= 0) {
        h5u_read_record(w, g, &mw_oracle_record, &net.oracle);
        H5Gclose(g);
    }
    if (!w->failed && mw_report_set_network(r, &net) != MW_OK)
        h5u_fail(w, "out of memory");
    g = w->failed ? -1 : H5Gopen2(f, "methods", H5P_DEFAULT);
    if (!w->failed && g < 0)
        h5u_fail(w, "group 'methods' missing");
    if (g >= 0) {
        method_loader ml = {w, r};
        hsize_t idx = 0;
        if (H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, load_method, &ml) < 0 && !w->failed)
            h5u_fail(w, "group 'methods' could not be read");
        H5Gclose(g);
    }
}
