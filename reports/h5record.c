/* Records in HDF5 (h5util.h): a record as attributes of a group, and rows of a record as a
 * compound dataset, both driven by the record's field table and read back with every
 * field checked. Sub-records are flat, or prefixed by their name (MW_F_PREFIX); enums are
 * written as their names. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5util.h"

/* A field of the record with its place in the whole and its name in the file. */
typedef struct leaf {
    const mw_field *f;
    size_t off;           /* of the record that holds it, within the top record */
    char name[128];
    const mw_field *parent; /* the RECORD field it sits in (for `when`), or NULL */
    size_t parent_off;
} leaf;

enum { MAX_LEAVES = 128 };

static void flatten(h5u *w, const mw_record *r, size_t off, const char *prefix,
                    const mw_field *parent, size_t parent_off, leaf *out, int *n)
{
    for (const mw_field *f = r->fields; f->name; f++) {
        if (f->flags & MW_F_NO_H5)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%s%s", prefix, f->name);
        if (f->kind == MW_FK_RECORD) {
            char sub[128];
            snprintf(sub, sizeof sub, "%s", (f->flags & MW_F_PREFIX) ? name : prefix);
            if (f->flags & MW_F_PREFIX)
                strncat(sub, "_", sizeof sub - strlen(sub) - 1);
            flatten(w, f->sub, off + f->offset, sub, f->when ? f : parent,
                    f->when ? off : parent_off, out, n);
            continue;
        }
        if (*n == MAX_LEAVES) {
            h5u_fail(w, "record '%s' has too many fields", r->name);
            return;
        }
        leaf *l = &out[(*n)++];
        l->f = f;
        l->off = off;
        snprintf(l->name, sizeof l->name, "%s", name);
        l->parent = parent;
        l->parent_off = parent_off;
    }
}

/* Does the leaf belong in the file for this record? */
static int present(const leaf *l, const void *rec)
{
    const char *base = rec;
    if (l->parent && !mw_field_present(l->parent, base + l->parent_off))
        return 0;
    return mw_field_present(l->f, base + l->off);
}

/* The checks a record's table asks for, after reading, its sub-records' first. */
static void check_record(h5u *w, const mw_record *r, const void *rec)
{
    for (const mw_field *f = r->fields; f->name && !w->failed; f++)
        if (f->kind == MW_FK_RECORD)
            check_record(w, f->sub, (const char *)rec + f->offset);
    mw_err err;
    if (!w->failed && r->check && r->check(rec, &err) != MW_OK)
        h5u_fail(w, "%s", err.msg);
}

/* Does an integer from a file fit its field's C type (int, bool, long, long long, size_t)?
 * The field's lo..hi range is a separate check. */
static int integer_fits(const mw_field *f, long long v)
{
    switch (f->kind) {
    case MW_FK_I64: return 1;
    case MW_FK_LONG: return v >= LONG_MIN && v <= LONG_MAX;
    case MW_FK_SIZE: return v >= 0 && (unsigned long long)v <= SIZE_MAX;
    default: return v >= INT_MIN && v <= INT_MAX;
    }
}

/* Store an integer that fits its field, exactly: through a double (mw_field_set_number) a
 * 64-bit value rounds, and LLONG_MAX rounds up to 2^63, which converts to no integer type
 * (undefined behaviour; a damaged file had it). */
static void store_integer(const mw_field *f, void *p, long long v)
{
    switch (f->kind) {
    case MW_FK_I64: *(long long *)p = v; break;
    case MW_FK_LONG: *(long *)p = (long)v; break;
    case MW_FK_SIZE: *(size_t *)p = (size_t)v; break;
    default: *(int *)p = (int)v; break;
    }
}

static size_t longest_name(const mw_names *t)
{
    size_t m = 1;
    for (int i = 0; i < t->n; i++)
        if (t->names[i] && strlen(t->names[i]) > m)
            m = strlen(t->names[i]);
    return m + 1;
}

/* ---- attributes ---- */

void h5u_write_record(h5u *w, hid_t loc, const mw_record *r, const void *rec)
{
    leaf leaves[MAX_LEAVES];
    int n = 0;
    flatten(w, r, 0, "", NULL, 0, leaves, &n);
    for (int i = 0; i < n && !w->failed; i++) {
        const leaf *l = &leaves[i];
        const void *holder = (const char *)rec + l->off, *p = mw_field_at_c(l->f, holder);
        if (!present(l, rec))
            continue;
        switch (l->f->kind) {
        case MW_FK_U64: h5u_attr_u64(w, loc, l->name, (unsigned long long)*(const uint64_t *)p); break;
        case MW_FK_F64: h5u_attr_f64(w, loc, l->name, *(const double *)p); break;
        case MW_FK_STR: h5u_attr_str(w, loc, l->name, p); break;
        case MW_FK_ENUM:
            h5u_attr_str(w, loc, l->name, mw_name_of(l->f->names, *(const int *)p));
            break;
        case MW_FK_LIST: {
            int count = *(const int *)((const char *)holder + l->f->count);
            if (l->f->elem != MW_FK_F64)
                h5u_fail(w, "%s: only lists of numbers are attributes", l->name);
            else
                h5u_attr_f64_array(w, loc, l->name, p, (size_t)count);
            break;
        }
        case MW_FK_SET:
        case MW_FK_RECORD: h5u_fail(w, "%s: not an attribute", l->name); break;
        default: h5u_attr_i64(w, loc, l->name, mw_field_integer(l->f, holder)); break;
        }
    }
}

void h5u_read_record(h5u *w, hid_t loc, const mw_record *r, void *rec)
{
    leaf leaves[MAX_LEAVES];
    int n = 0;
    flatten(w, r, 0, "", NULL, 0, leaves, &n);
    for (int i = 0; i < n && !w->failed; i++) {
        const leaf *l = &leaves[i];
        const mw_field *f = l->f;
        void *holder = (char *)rec + l->off, *p = mw_field_at(f, holder);
        if ((l->parent || f->when) && H5Aexists(loc, l->name) <= 0)
            continue; /* a field the record has only sometimes, and this one has not */
        switch (f->kind) {
        case MW_FK_U64: *(uint64_t *)p = (uint64_t)h5u_read_u64(w, loc, l->name); break;
        case MW_FK_F64: *(double *)p = h5u_read_f64(w, loc, l->name); break;
        case MW_FK_STR: h5u_read_str(w, loc, l->name, p, f->size); break;
        case MW_FK_ENUM: {
            char name[64];
            int v = 0;
            h5u_read_str(w, loc, l->name, name, sizeof name);
            if (w->failed)
                break;
            if (mw_name_parse(f->names, name, &v) != 0)
                h5u_fail(w, "attribute '%s': unknown %s '%s'", l->name, f->names->what, name);
            else
                *(int *)p = v;
            break;
        }
        case MW_FK_LIST: {
            size_t count = 0;
            h5u_read_f64_array(w, loc, l->name, p, f->size, &count);
            *(int *)((char *)holder + f->count) = (int)count;
            break;
        }
        case MW_FK_SET:
        case MW_FK_RECORD: h5u_fail(w, "%s: not an attribute", l->name); break;
        default: {
            long long v = h5u_read_i64(w, loc, l->name);
            if (!w->failed && f->lo < f->hi && (v < f->lo || v > f->hi))
                h5u_fail(w, "attribute '%s' = %lld: allowed %.0f..%.0f", l->name, v, f->lo, f->hi);
            else if (!w->failed && f->kind == MW_FK_BOOL && v != 0 && v != 1)
                h5u_fail(w, "attribute '%s' = %lld: allowed 0 or 1", l->name, v);
            else if (!w->failed && !integer_fits(f, v))
                h5u_fail(w, "attribute '%s' = %lld: out of range", l->name, v);
            else if (!w->failed)
                store_integer(f, p, v);
            break;
        }
        }
    }
    if (!w->failed)
        check_record(w, r, rec);
}

/* ---- compound tables ---- */

/* The file (and memory image) type of a leaf; *size its bytes. */
static hid_t member_type(h5u *w, const mw_field *f, size_t *size)
{
    switch (f->kind) {
    case MW_FK_U64: *size = 8; return H5Tcopy(H5T_NATIVE_ULLONG);
    case MW_FK_F64: *size = 8; return H5Tcopy(H5T_NATIVE_DOUBLE);
    case MW_FK_BOOL: *size = sizeof(int); return H5Tcopy(H5T_NATIVE_INT);
    case MW_FK_STR: *size = f->size; return h5u_fixed_str(w, f->size);
    case MW_FK_ENUM: *size = longest_name(f->names); return h5u_fixed_str(w, *size);
    case MW_FK_INT:
    case MW_FK_LONG:
    case MW_FK_I64:
    case MW_FK_SIZE: *size = 8; return H5Tcopy(H5T_NATIVE_LLONG);
    default: h5u_fail(w, "%s: not a column", f->name); return -1;
    }
}

typedef struct table_layout {
    leaf leaves[MAX_LEAVES];
    size_t at[MAX_LEAVES];  /* byte offset in a row image */
    int n;
    size_t row;             /* bytes of a row image */
    hid_t type;             /* the compound type of a row image */
} table_layout;

/* The compound type of the record's rows; with file >= 0 (a type read from a file), only
 * the members the file has, and every one the record needs must be there. */
static void layout(h5u *w, const mw_record *r, const char *dataset, hid_t file, table_layout *t)
{
    t->n = 0;
    t->row = 0;
    t->type = -1;
    flatten(w, r, 0, "", NULL, 0, t->leaves, &t->n);
    for (int i = 0; i < t->n && !w->failed; i++) {
        size_t sz = 0;
        hid_t m = member_type(w, t->leaves[i].f, &sz);
        h5u_bad(w, m, "H5Tcopy");
        if (m >= 0)
            H5Tclose(m);
        t->at[i] = t->row;
        t->row += sz;
        if (file >= 0 && !w->failed && H5Tget_member_index(file, t->leaves[i].name) < 0)
            h5u_fail(w, "dataset '%s' has no field '%s'", dataset, t->leaves[i].name);
    }
    if (w->failed)
        return;
    t->type = H5Tcreate(H5T_COMPOUND, t->row ? t->row : 1);
    if (h5u_bad(w, t->type, "H5Tcreate"))
        return;
    for (int i = 0; i < t->n && !w->failed; i++) {
        size_t sz;
        hid_t m = member_type(w, t->leaves[i].f, &sz);
        if (!h5u_bad(w, m, "H5Tcopy"))
            h5u_bad(w, H5Tinsert(t->type, t->leaves[i].name, t->at[i], m), t->leaves[i].name);
        if (m >= 0)
            H5Tclose(m);
    }
}

static void close_layout(table_layout *t)
{
    if (t->type >= 0)
        H5Tclose(t->type);
    t->type = -1;
}

/* Record -> row image. */
static void pack(const table_layout *t, const void *rec, unsigned char *row)
{
    for (int i = 0; i < t->n; i++) {
        const leaf *l = &t->leaves[i];
        const void *holder = (const char *)rec + l->off, *p = mw_field_at_c(l->f, holder);
        unsigned char *q = row + t->at[i];
        switch (l->f->kind) {
        case MW_FK_U64:
        case MW_FK_F64: memcpy(q, p, 8); break;
        case MW_FK_BOOL: memcpy(q, p, sizeof(int)); break;
        case MW_FK_STR: strncpy((char *)q, p, l->f->size - 1), q[l->f->size - 1] = 0; break;
        case MW_FK_ENUM: {
            size_t sz = longest_name(l->f->names);
            memset(q, 0, sz);
            strncpy((char *)q, mw_name_of(l->f->names, *(const int *)p), sz - 1);
            break;
        }
        default: {
            long long v = mw_field_integer(l->f, holder);
            memcpy(q, &v, 8);
        }
        }
    }
}

/* Row image -> record, every value checked. */
static void unpack(h5u *w, const char *dataset, size_t index, const table_layout *t,
                   const unsigned char *row, void *rec)
{
    for (int i = 0; i < t->n && !w->failed; i++) {
        const leaf *l = &t->leaves[i];
        void *holder = (char *)rec + l->off, *p = mw_field_at(l->f, holder);
        const unsigned char *q = row + t->at[i];
        switch (l->f->kind) {
        case MW_FK_U64:
        case MW_FK_F64: memcpy(p, q, 8); break;
        case MW_FK_BOOL: {
            int v;
            memcpy(&v, q, sizeof v);
            if (v != 0 && v != 1)
                h5u_fail(w, "dataset '%s' row %zu: %s = %d (allowed 0 or 1)", dataset, index,
                         l->name, v);
            *(int *)p = v;
            break;
        }
        case MW_FK_STR:
            memcpy(p, q, l->f->size);
            ((char *)p)[l->f->size - 1] = '\0';
            break;
        case MW_FK_ENUM: {
            size_t sz = longest_name(l->f->names);
            char name[128];
            int v;
            memcpy(name, q, sz);
            name[sz - 1] = '\0';
            if (mw_name_parse(l->f->names, name, &v) != 0)
                h5u_fail(w, "dataset '%s' row %zu: unknown %s '%s'", dataset, index,
                         l->f->names->what, name);
            else
                *(int *)p = v;
            break;
        }
        default: {
            long long v;
            memcpy(&v, q, 8);
            if (!integer_fits(l->f, v))
                h5u_fail(w, "dataset '%s' row %zu: %s = %lld (out of range)", dataset, index,
                         l->name, v);
            else
                store_integer(l->f, p, v);
        }
        }
    }
}

hid_t h5u_write_table(h5u *w, hid_t loc, const char *name, const mw_record *r, const void *rows,
                      size_t n, hsize_t chunk)
{
    if (w->failed)
        return -1;
    table_layout t;
    layout(w, r, name, -1, &t);
    unsigned char *img = w->failed ? NULL : calloc(n ? n : 1, t.row ? t.row : 1);
    if (!w->failed && !img)
        h5u_fail(w, "out of memory for dataset '%s'", name);
    for (size_t i = 0; img && i < n; i++)
        pack(&t, (const char *)rows + i * r->size, img + i * t.row);
    hsize_t dims[2] = {n, 0};
    hid_t d = h5u_dataset(w, loc, name, t.type, dims, chunk, img);
    free(img);
    close_layout(&t);
    return d;
}

void *h5u_read_table(h5u *w, hid_t loc, const char *name, const mw_record *r, size_t *n)
{
    *n = 0;
    if (w->failed)
        return NULL;
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) {
        h5u_fail(w, "dataset '%s' missing", name);
        return NULL;
    }
    hid_t ft = H5Dget_type(d), s = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    void *recs = NULL;
    unsigned char *img = NULL;
    table_layout t = {.type = -1};
    if (ft < 0 || H5Tget_class(ft) != H5T_COMPOUND)
        h5u_fail(w, "dataset '%s' is not a table", name);
    else if (s < 0 || H5Sget_simple_extent_ndims(s) != 1 ||
             H5Sget_simple_extent_dims(s, dims, NULL) != 1)
        h5u_fail(w, "dataset '%s' is not one-dimensional", name);
    else if (dims[0] > 0 && (hsize_t)H5Dget_storage_size(d) / H5Tget_size(ft) < dims[0])
        h5u_fail(w, "dataset '%s' declares %llu rows but stores fewer", name,
                 (unsigned long long)dims[0]);
    else
        layout(w, r, name, ft, &t);
    if (!w->failed && dims[0] > 0 && h5u_rows_fit(w, name, dims[0], H5Tget_size(ft), t.row)) {
        img = malloc((size_t)dims[0] * t.row);
        recs = calloc((size_t)dims[0], r->size);
        if (!img || !recs)
            h5u_fail(w, "out of memory for dataset '%s' (%llu rows)", name,
                     (unsigned long long)dims[0]);
        else
            h5u_bad(w, H5Dread(d, t.type, H5S_ALL, H5S_ALL, H5P_DEFAULT, img), name);
        for (size_t i = 0; !w->failed && i < (size_t)dims[0]; i++) {
            unpack(w, name, i, &t, img + i * t.row, (char *)recs + i * r->size);
            if (!w->failed)
                check_record(w, r, (char *)recs + i * r->size);
        }
    }
    close_layout(&t);
    free(img);
    if (ft >= 0)
        H5Tclose(ft);
    if (s >= 0)
        H5Sclose(s);
    H5Dclose(d);
    if (w->failed) {
        free(recs);
        return NULL;
    }
    *n = (size_t)dims[0];
    return recs;
}
