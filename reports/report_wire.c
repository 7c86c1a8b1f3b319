/* A report as bytes between two processes of the same program (report_wire.h). */
#include "report_wire.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- packing ---- */

typedef struct packer {
    char *p;
    size_t n, cap;
    int failed;
} packer;

static void put(packer *k, const void *src, size_t n)
{
    size_t padded = (n + 7) & ~(size_t)7;
    if (k->failed || padded < n)
        return;
    if (k->cap - k->n < padded) {
        size_t cap = k->cap ? k->cap : 4096;
        while (cap - k->n < padded && cap < SIZE_MAX / 2)
            cap *= 2;
        char *p = cap - k->n >= padded ? realloc(k->p, cap) : NULL;
        if (!p) {
            k->failed = 1;
            return;
        }
        k->p = p, k->cap = cap;
    }
    if (n)
        memcpy(k->p + k->n, src, n);
    memset(k->p + k->n + n, 0, padded - n);
    k->n += padded;
}

static void put_count(packer *k, size_t n)
{
    uint64_t v = n;
    put(k, &v, sizeof v);
}

static void pack_report(packer *k, const mw_report *r)
{
    put(k, &r->meta, sizeof r->meta);
    put_count(k, r->n_networks);
    for (size_t i = 0; i < r->n_networks; i++) {
        const mw_report_network *n = &r->networks[i];
        mw_report_network plain = *n; /* its pointers mean nothing to the other process */
        plain.ref_steps = NULL, plain.ref_epochs = NULL;
        put(k, &plain, sizeof plain);
        put(k, n->ref_steps, n->n_ref_steps * sizeof *n->ref_steps);
        put(k, n->ref_epochs, n->n_ref_epochs * sizeof *n->ref_epochs);
    }
    put_count(k, r->n_runs);
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_report_run *run = &r->runs[i];
        mw_report_run plain = *run;
        plain.steps = NULL, plain.layer_rel_l2 = NULL, plain.epochs = NULL;
        put(k, &plain, sizeof plain);
        put(k, run->steps, run->n_steps * sizeof *run->steps);
        put(k, run->layer_rel_l2, run->n_steps * (size_t)run->n_layers * sizeof(double));
        put(k, run->epochs, run->n_epochs * sizeof *run->epochs);
    }
    for (int t = 0; t < MW_N_TABLES; t++) {
        put_count(k, r->tables[t].n);
        put(k, r->tables[t].rows, r->tables[t].n * mw_report_table_record((mw_table_id)t)->size);
    }
}

/* ---- unpacking ---- */

typedef struct unpacker {
    const char *p;
    size_t left;
    mw_err *err;
} unpacker;

/* The next n bytes (8-aligned in the buffer), or NULL with the reason when fewer remain. */
static const void *take(unpacker *u, size_t n, const char *what)
{
    size_t padded = (n + 7) & ~(size_t)7;
    if (padded < n || padded > u->left) {
        mw_err_set(u->err, MW_ERR_FORMAT, "the reading process sent %s cut short", what);
        return NULL;
    }
    const void *at = u->p;
    u->p += padded, u->left -= padded;
    return at;
}

/* A count of items of `size` bytes that must all still be in the buffer. */
static int take_count(unpacker *u, size_t size, size_t *n, const char *what)
{
    const uint64_t *v = take(u, sizeof *v, what);
    if (!v)
        return 1;
    if (*v > u->left / (size ? size : 1)) {
        mw_err_set(u->err, MW_ERR_FORMAT, "the reading process sent %llu %s, more than it sent "
                   "bytes for", (unsigned long long)*v, what);
        return 1;
    }
    *n = (size_t)*v;
    return 0;
}

/* n records of rec at p (8-aligned), each checked against its field table. */
static int rows_sane(const mw_record *rec, const void *p, size_t n, const char *what, mw_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (mw_record_sane(rec, (const char *)p + i * rec->size, err) != MW_OK) {
            mw_err_prefix(err, "%s row %zu", what, i);
            return 1;
        }
    return 0;
}

static int unpack_network(unpacker *u, mw_report *r)
{
    const mw_report_network *in = take(u, sizeof *in, "a network");
    if (!in)
        return 1;
    mw_report_network n = *in;
    n.ref_steps = NULL, n.ref_epochs = NULL;
    const size_t ns = n.n_ref_steps, ne = n.n_ref_epochs;
    if (ns > u->left / sizeof *n.ref_steps || ne > u->left / sizeof *n.ref_epochs)
        return mw_err_set(u->err, MW_ERR_FORMAT, "network %ld: more rows than were sent",
                          n.index), 1;
    if (mw_record_sane(&mw_network_record, &n, u->err) != MW_OK)
        return mw_err_prefix(u->err, "network %ld", n.index), 1;
    if (!(n.ref_steps = (mw_report_step *)take(u, ns * sizeof *n.ref_steps, "reference steps")) ||
        !(n.ref_epochs = (mw_report_epoch *)take(u, ne * sizeof *n.ref_epochs,
                                                 "reference epochs")) ||
        rows_sane(&mw_step_record, n.ref_steps, ns, "reference_steps", u->err) ||
        rows_sane(&mw_epoch_record, n.ref_epochs, ne, "reference_epochs", u->err))
        return 1;
    if (mw_report_network_at(r, n.index))
        return mw_err_set(u->err, MW_ERR_FORMAT, "network %ld twice", n.index), 1;
    if (mw_report_set_network(r, &n) != MW_OK) /* copies the rows out of the buffer */
        return mw_err_set(u->err, MW_ERR_NOMEM, "out of memory"), 1;
    return 0;
}

static int unpack_run(unpacker *u, mw_report *r)
{
    const mw_report_run *in = take(u, sizeof *in, "a run");
    if (!in)
        return 1;
    mw_report_run run = *in;
    run.steps = NULL, run.layer_rel_l2 = NULL, run.epochs = NULL;
    const size_t ns = run.n_steps, ne = run.n_epochs;
    if (run.n_layers < 0 || run.n_layers > MW_MAX_DEPTH + 1)
        return mw_err_set(u->err, MW_ERR_FORMAT, "run %ld: %d layers", run.index, run.n_layers),
               1;
    if (ns > u->left / (sizeof *run.steps + (size_t)run.n_layers * sizeof(double)) ||
        ne > u->left / sizeof *run.epochs)
        return mw_err_set(u->err, MW_ERR_FORMAT, "run %ld: more rows than were sent", run.index),
               1;
    if (mw_record_sane(&mw_run_record, &run, u->err) != MW_OK)
        return mw_err_prefix(u->err, "run %ld", run.index), 1;
    if (!(run.steps = (mw_report_step *)take(u, ns * sizeof *run.steps, "steps")) ||
        !(run.layer_rel_l2 = (double *)take(u, ns * (size_t)run.n_layers * sizeof(double),
                                            "layer_rel_l2")) ||
        !(run.epochs = (mw_report_epoch *)take(u, ne * sizeof *run.epochs, "epochs")) ||
        rows_sane(&mw_step_record, run.steps, ns, "steps", u->err) ||
        rows_sane(&mw_epoch_record, run.epochs, ne, "epochs", u->err))
        return 1;
    if (mw_report_run_at(r, run.index))
        return mw_err_set(u->err, MW_ERR_FORMAT, "run %ld twice", run.index), 1;
    if (!mw_report_network_at(r, run.network))
        return mw_err_set(u->err, MW_ERR_FORMAT, "run %ld belongs to network %ld, which is not "
                          "in the report", run.index, run.network), 1;
    if (mw_report_set_run(r, &run) != MW_OK)
        return mw_err_set(u->err, MW_ERR_NOMEM, "out of memory"), 1;
    return 0;
}

mw_status mw_report_unpack(mw_report *r, const void *bytes, size_t n, mw_err *err)
{
    memset(r, 0, sizeof *r);
    unpacker u = {bytes, n, err};
    size_t count = 0;
    const mw_report_meta *meta = take(&u, sizeof *meta, "the metadata");
    if (!meta)
        return MW_ERR_FORMAT;
    r->meta = *meta;
    if (mw_record_sane(&mw_meta_record, &r->meta, err) != MW_OK)
        return MW_ERR_FORMAT;
    if (take_count(&u, sizeof(mw_report_network), &count, "networks"))
        return err ? err->status : MW_ERR_FORMAT;
    for (size_t i = 0; i < count; i++)
        if (unpack_network(&u, r))
            return err ? err->status : MW_ERR_FORMAT;
    if (take_count(&u, sizeof(mw_report_run), &count, "runs"))
        return err ? err->status : MW_ERR_FORMAT;
    for (size_t i = 0; i < count; i++)
        if (unpack_run(&u, r))
            return err ? err->status : MW_ERR_FORMAT;
    for (int t = 0; t < MW_N_TABLES; t++) {
        const mw_record *rec = mw_report_table_record((mw_table_id)t);
        const void *rows;
        if (take_count(&u, rec->size, &count, mw_report_table_name((mw_table_id)t)) ||
            !(rows = take(&u, count * rec->size, mw_report_table_name((mw_table_id)t))) ||
            rows_sane(rec, rows, count, mw_report_table_name((mw_table_id)t), err))
            return err ? err->status : MW_ERR_FORMAT;
        if (count && mw_report_add_rows(r, (mw_table_id)t, rows, count) != MW_OK)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    if (u.left)
        return mw_err_set(err, MW_ERR_FORMAT, "the reading process sent %zu bytes more than the "
                          "report", u.left);
    return MW_OK;
}

mw_status mw_report_pack(const mw_report *r, void **bytes, size_t *n)
{
    packer k = {NULL, 0, 0, 0};
    pack_report(&k, r);
    if (k.failed) {
        free(k.p);
        return MW_ERR_NOMEM;
    }
    *bytes = k.p;
    *n = k.n;
    return MW_OK;
}
