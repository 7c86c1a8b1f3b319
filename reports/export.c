/* A report's tables in long form (export.h). Each table is a list of columns, each column
 * a field of one of the structs a row is made of (the network, the run, the row itself)
 * found through the records' field tables, so that a field added to a record is a column
 * here with nothing else to change. */
#include "export.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5util.h"

static const char *const table_names[] = {"runs", "steps",  "epochs", "layers", "networks",
                                          "fits", "ratios", "layer_checks", "timings"};
const mw_names mw_export_table_names = {"table", table_names, MW_N_EXPORT_TABLES, NULL};
static const char *const format_names[] = {"csv", "jsonl"};
const mw_names mw_export_format_names = {"format", format_names, 2, NULL};

/* Where a column's value lives: the report's metadata, the row's network, its run, the row
 * itself; or a value the exporter makes (the layer's number and its error). */
typedef enum { SRC_META, SRC_NET, SRC_RUN, SRC_ROW, SRC_LAYER, SRC_LAYER_REL_L2 } col_src;

typedef struct col {
    char name[64];
    col_src src;
    const mw_field *f; /* NULL for SRC_LAYER* */
    size_t base;       /* offset of the record that holds f within its struct */
} col;

#define MAX_COLS 256

typedef struct cols {
    col c[MAX_COLS];
    int n;
} cols;

static int has(const cols *cs, const char *name)
{
    for (int i = 0; i < cs->n; i++)
        if (strcmp(cs->c[i].name, name) == 0)
            return 1;
    return 0;
}

static void add(cols *cs, const char *name, col_src src, const mw_field *f, size_t base)
{
    if (cs->n >= MAX_COLS || has(cs, name)) /* the first of two equal names wins */
        return;
    col *c = &cs->c[cs->n++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->src = src, c->f = f, c->base = base;
}

/* The fields of record r (at offset base in its struct) as columns named prefix + field;
 * a sub-record flattened, its fields prefixed with its name where files prefix them or
 * JSON nests them. Fields named in skip are left out (NULL-terminated). */
static void add_record(cols *cs, col_src src, const mw_record *r, size_t base,
                       const char *prefix, const char *const *skip)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        int skipped = 0;
        for (const char *const *s = skip; s && *s; s++)
            skipped |= strcmp(*s, f->name) == 0;
        if (skipped)
            continue;
        char name[64];
        if (f->kind == MW_FK_RECORD) {
            if (f->flags & (MW_F_PREFIX | MW_F_NEST))
                snprintf(name, sizeof name, "%s%s_", prefix, f->name);
            else
                snprintf(name, sizeof name, "%s", prefix);
            add_record(cs, src, f->sub, base + f->offset, name, NULL);
            continue;
        }
        if (f->kind == MW_FK_SET)
            continue; /* options of commands, in no report record */
        snprintf(name, sizeof name, "%s%s", prefix, f->name);
        add(cs, name, src, f, base);
    }
}

static const mw_field *field_named(const mw_record *r, const char *name)
{
    size_t base;
    return mw_record_find(r, name, &base);
}

/* The columns that say what a row is: the suite, the network's index and spec and, for
 * rows of a run, the run's index, method, dtype and status. */
static void add_ids(cols *cs, int of_run)
{
    add(cs, "suite", SRC_META, field_named(&mw_meta_record, "suite"), 0);
    add(cs, "network", SRC_NET, field_named(&mw_network_record, "index"), 0);
    if (of_run)
        add(cs, "run", SRC_RUN, field_named(&mw_run_record, "index"), 0);
    add_record(cs, SRC_NET, &mw_spec_record, offsetof(mw_report_network, spec), "", NULL);
    if (of_run) {
        static const char *const what[] = {"method", "dtype", "status"};
        for (int i = 0; i < 3; i++)
            add(cs, what[i], SRC_RUN, field_named(&mw_run_record, what[i]), 0);
    }
}

static void table_columns(mw_export_table t, cols *cs)
{
    cs->n = 0;
    static const char *const net_skip[] = {"index", "spec", NULL};
    switch (t) {
    case MW_EXPORT_RUNS:
        add_ids(cs, 1);
        add_record(cs, SRC_ROW, &mw_summary_record, 0, "", NULL);
        break;
    case MW_EXPORT_STEPS:
        add_ids(cs, 1);
        add_record(cs, SRC_ROW, &mw_step_record, 0, "", NULL);
        break;
    case MW_EXPORT_EPOCHS:
        add_ids(cs, 1);
        add_record(cs, SRC_ROW, &mw_epoch_record, 0, "", NULL);
        break;
    case MW_EXPORT_LAYERS:
        add_ids(cs, 1);
        add(cs, "step", SRC_ROW, field_named(&mw_step_record, "step"), 0);
        add(cs, "epoch", SRC_ROW, field_named(&mw_step_record, "epoch"), 0);
        add(cs, "layer", SRC_LAYER, NULL, 0);
        add(cs, "rel_l2", SRC_LAYER_REL_L2, NULL, 0);
        break;
    case MW_EXPORT_NETWORKS:
        add_ids(cs, 0);
        add_record(cs, SRC_NET, &mw_network_record, 0, "", net_skip);
        break;
    case MW_EXPORT_FITS:
    case MW_EXPORT_RATIOS:
    case MW_EXPORT_LAYER_CHECKS:
    case MW_EXPORT_TIMINGS: {
        static const mw_table_id id[] = {MW_TABLE_FITS, MW_TABLE_RATIOS, MW_TABLE_LAYER_CHECKS,
                                         MW_TABLE_TIMINGS};
        add(cs, "suite", SRC_META, field_named(&mw_meta_record, "suite"), 0);
        add_record(cs, SRC_ROW, mw_report_table_record(id[t - MW_EXPORT_FITS]), 0, "", NULL);
        break;
    }
    default: break;
    }
}

/* ---- values ---- */

typedef struct row_ctx {
    const mw_report_meta *meta;
    const mw_report_network *net; /* NULL: none recorded */
    const mw_report_run *run;
    const void *row;
    int layer;                    /* SRC_LAYER: 1..L, L + 1 the head */
    double layer_rel_l2;
} row_ctx;

static const void *source(const row_ctx *x, col_src s)
{
    switch (s) {
    case SRC_META: return x->meta;
    case SRC_NET: return x->net;
    case SRC_RUN: return x->run;
    default: return x->row;
    }
}

typedef struct out {
    FILE *f;
    mw_export_format fmt;
    int first; /* no cell written yet on this line */
} out;

static void put_sep(out *o, const char *name)
{
    if (o->fmt == MW_EXPORT_CSV) {
        if (!o->first)
            fputc(',', o->f);
    } else {
        fputs(o->first ? "{" : ", ", o->f);
        fprintf(o->f, "\"%s\": ", name); /* field names are plain identifiers */
    }
    o->first = 0;
}

static void put_string(out *o, const char *s)
{
    FILE *f = o->f;
    if (o->fmt == MW_EXPORT_CSV) {
        if (!s[strcspn(s, ",\"\r\n")] && s[0] != ' ') {
            fputs(s, f);
            return;
        }
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
        return;
    }
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void put_null(out *o)
{
    if (o->fmt == MW_EXPORT_JSONL)
        fputs("null", o->f);
}

/* A finite double in the fewest significant digits (15 to 17) that read back as the same
 * double, and below 1 in magnitude in scientific notation: pandas.read_csv's default parser
 * drops digits after leading zeros ("0.00011549422684169964" came back 7000 ulps off),
 * and with no leading zero it stays within 3 ulps of every value (measured on 800 000
 * random doubles from 1e-300 to 1e300; float_precision="round_trip" reads them exactly). */
static void put_finite(FILE *f, double v)
{
    char s[40];
    int p = 15;
    for (; p < 17; p++) {
        snprintf(s, sizeof s, "%.*g", p, v);
        if (strtod(s, NULL) == v)
            break;
    }
    if (fabs(v) < 1.0 && v != 0.0) { /* %e keeps trailing zeros of the mantissa: not these */
        snprintf(s, sizeof s, "%.*e", p - 1, v);
        char *e = strchr(s, 'e'), *z = e;
        while (z[-1] == '0')
            z--;
        if (z[-1] == '.')
            z--;
        memmove(z, e, strlen(e) + 1);
        fputs(s, f);
    } else
        fprintf(f, "%.*g", p, v);
}

static void put_double(out *o, double v)
{
    if (isnan(v))
        put_null(o);
    else if (isinf(v))
        o->fmt == MW_EXPORT_CSV ? (void)fputs(v > 0 ? "inf" : "-inf", o->f) : put_null(o);
    else
        put_finite(o->f, v);
}

static void put_value(out *o, const mw_field *f, const void *rec)
{
    if (!rec || !mw_field_present(f, rec)) {
        put_null(o);
        return;
    }
    const void *p = mw_field_at_c(f, rec);
    switch (f->kind) {
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: {
        long long v = mw_field_integer(f, rec);
        if ((f->flags & MW_F_NULL_NEG) && v < 0)
            put_null(o);
        else
            fprintf(o->f, "%lld", v);
        break;
    }
    case MW_FK_U64: {
        unsigned long long v = *(const uint64_t *)p;
        if (o->fmt == MW_EXPORT_JSONL && v > (1ull << 53))
            fprintf(o->f, "\"%llu\"", v);
        else
            fprintf(o->f, "%llu", v);
        break;
    }
    case MW_FK_F64: put_double(o, *(const double *)p); break;
    case MW_FK_BOOL: fputs(*(const int *)p ? "true" : "false", o->f); break;
    case MW_FK_STR: put_string(o, (const char *)p); break;
    case MW_FK_ENUM: put_string(o, mw_name_of(f->names, *(const int *)p)); break;
    case MW_FK_LIST: { /* one cell: the items separated by ';' ("1;4;16") */
        char buf[1024];
        size_t used = 0;
        const int n = *(const int *)((const char *)rec + f->count);
        buf[0] = '\0';
        for (int i = 0; i < n && i < (int)f->size && used < sizeof buf; i++) {
            const char *item = (const char *)p;
            char one[96];
            switch (f->elem) {
            case MW_FK_F64: snprintf(one, sizeof one, "%.17g", ((const double *)p)[i]); break;
            case MW_FK_INT: snprintf(one, sizeof one, "%d", ((const int *)p)[i]); break;
            case MW_FK_U64:
                snprintf(one, sizeof one, "%llu", (unsigned long long)((const uint64_t *)p)[i]);
                break;
            case MW_FK_ENUM:
                snprintf(one, sizeof one, "%s", mw_name_of(f->names, ((const int *)p)[i]));
                break;
            default:
                snprintf(one, sizeof one, "%.*s", (int)f->elem_bytes,
                         item + (size_t)i * f->elem_bytes);
            }
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", i ? ";" : "", one);
        }
        put_string(o, buf);
        break;
    }
    default: put_null(o);
    }
}

static void put_row(out *o, const cols *cs, const row_ctx *x)
{
    o->first = 1;
    for (int i = 0; i < cs->n; i++) {
        const col *c = &cs->c[i];
        put_sep(o, c->name);
        if (c->src == SRC_LAYER)
            fprintf(o->f, "%d", x->layer);
        else if (c->src == SRC_LAYER_REL_L2)
            put_double(o, x->layer_rel_l2);
        else {
            const char *rec = source(x, c->src);
            put_value(o, c->f, rec ? rec + c->base : NULL);
        }
    }
    fputs(o->fmt == MW_EXPORT_JSONL ? "}\n" : "\n", o->f);
}

static void put_head(out *o, const cols *cs)
{
    if (o->fmt != MW_EXPORT_CSV)
        return;
    for (int i = 0; i < cs->n; i++)
        fprintf(o->f, "%s%s", i ? "," : "", cs->c[i].name);
    fputc('\n', o->f);
}

/* ---- rows ---- */

size_t mw_export_rows(const mw_report *r, mw_export_table t)
{
    size_t n = 0;
    switch (t) {
    case MW_EXPORT_RUNS: return r->n_runs;
    case MW_EXPORT_NETWORKS: return r->n_networks;
    case MW_EXPORT_FITS: return r->tables[MW_TABLE_FITS].n;
    case MW_EXPORT_RATIOS: return r->tables[MW_TABLE_RATIOS].n;
    case MW_EXPORT_LAYER_CHECKS: return r->tables[MW_TABLE_LAYER_CHECKS].n;
    case MW_EXPORT_TIMINGS: return r->tables[MW_TABLE_TIMINGS].n;
    default: break;
    }
    for (size_t i = 0; i < r->n_runs; i++) {
        const mw_report_run *run = &r->runs[i];
        const size_t layers = (size_t)(run->n_layers > 0 ? run->n_layers : 0);
        n += t == MW_EXPORT_STEPS    ? run->n_steps
             : t == MW_EXPORT_EPOCHS ? run->n_epochs
                                     : run->n_steps * layers;
    }
    return n;
}

mw_status mw_report_export(FILE *f, const mw_report *r, mw_export_table t,
                           mw_export_format fmt, mw_err *err)
{
    if ((unsigned)t >= MW_N_EXPORT_TABLES || (unsigned)fmt > MW_EXPORT_JSONL)
        return mw_err_set(err, MW_ERR_ARG, "export: no such table or format");
    cols *cs = malloc(sizeof *cs);
    if (!cs)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    table_columns(t, cs);
    out o = {f, fmt, 1};
    put_head(&o, cs);
    row_ctx x = {.meta = &r->meta};
    if (t == MW_EXPORT_NETWORKS)
        for (size_t i = 0; i < r->n_networks; i++) {
            x.net = &r->networks[i];
            put_row(&o, cs, &x);
        }
    else if (t >= MW_EXPORT_FITS) {
        static const mw_table_id id[] = {MW_TABLE_FITS, MW_TABLE_RATIOS, MW_TABLE_LAYER_CHECKS,
                                         MW_TABLE_TIMINGS};
        const mw_report_table *tab = &r->tables[id[t - MW_EXPORT_FITS]];
        const size_t size = mw_report_table_record(id[t - MW_EXPORT_FITS])->size;
        for (size_t i = 0; i < tab->n; i++) {
            x.row = (const char *)tab->rows + i * size;
            put_row(&o, cs, &x);
        }
    } else
        for (size_t i = 0; i < r->n_runs; i++) {
            const mw_report_run *run = &r->runs[i];
            x.run = run;
            x.net = mw_report_network_at(r, run->network);
            if (t == MW_EXPORT_RUNS) {
                mw_run_summary s;
                mw_run_summarize(run, x.net, &s);
                x.row = &s;
                put_row(&o, cs, &x);
            } else if (t == MW_EXPORT_STEPS || t == MW_EXPORT_LAYERS) {
                for (size_t k = 0; k < run->n_steps; k++) {
                    x.row = &run->steps[k];
                    if (t == MW_EXPORT_STEPS) {
                        put_row(&o, cs, &x);
                        continue;
                    }
                    for (int l = 0; l < run->n_layers; l++) {
                        x.layer = l + 1;
                        x.layer_rel_l2 = run->layer_rel_l2[k * (size_t)run->n_layers + (size_t)l];
                        put_row(&o, cs, &x);
                    }
                }
            } else
                for (size_t k = 0; k < run->n_epochs; k++) {
                    x.row = &run->epochs[k];
                    put_row(&o, cs, &x);
                }
        }
    free(cs);
    if (fflush(f) != 0 || ferror(f))
        return mw_err_set(err, MW_ERR_IO, "writing the %s table failed",
                          mw_name_of(&mw_export_table_names, (int)t));
    return MW_OK;
}

mw_status mw_report_export_file(const char *path, int force, const char *report_path,
                                const mw_report *r, mw_export_table t, mw_export_format fmt,
                                size_t *bytes, mw_err *err)
{
    struct stat a, b;
    if (report_path && stat(path, &a) == 0 && stat(report_path, &b) == 0 &&
        a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return mw_err_set(err, MW_ERR_ARG, "--out %s: that is the report itself; give the "
                          "export a name of its own", path);
    mw_status st = h5u_check_path("--out", path, force, 0, "exists (add --force to replace it)",
                                  err);
    if (st != MW_OK)
        return st;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    st = mw_report_export(f, r, t, fmt, err);
    if (fclose(f) != 0 && st == MW_OK)
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    if (st == MW_OK)
        st = h5u_write_bytes_atomic(path, buf, n, err);
    if (st == MW_OK && bytes)
        *bytes = n;
    free(buf);
    return st;
}
