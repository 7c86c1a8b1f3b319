/* Small HDF5 helpers for the writers and readers of reports/. Every call is checked: a
 * failure is recorded once, with the call named, and every later call becomes a no-op,
 * so a writer can go straight through and look at one flag at the end. HDF5's own error
 * printing is turned off by h5u_quiet(). */
#ifndef MW_H5UTIL_H
#define MW_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "mw_record.h"

typedef struct h5u {
    mw_err *err;          /* where the message goes (may be NULL) */
    mw_status on_fail;    /* the status of a failure: MW_ERR_IO writing, MW_ERR_FORMAT reading */
    int failed;
} h5u;

void h5u_quiet(void);
/* Record rc < 0 as a failure of `what`; returns the failed flag. */
int h5u_bad(h5u *w, long long rc, const char *what);
void h5u_fail(h5u *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void h5u_attr_str(h5u *w, hid_t loc, const char *name, const char *v);
void h5u_attr_f64(h5u *w, hid_t loc, const char *name, double v);
void h5u_attr_i64(h5u *w, hid_t loc, const char *name, long long v);
void h5u_attr_u64(h5u *w, hid_t loc, const char *name, unsigned long long v);

/* Readers: a missing or mistyped attribute fails with its name. */
void h5u_read_str(h5u *w, hid_t loc, const char *name, char *out, size_t n);
double h5u_read_f64(h5u *w, hid_t loc, const char *name);
long long h5u_read_i64(h5u *w, hid_t loc, const char *name);
unsigned long long h5u_read_u64(h5u *w, hid_t loc, const char *name);

/* 1-D arrays of doubles as attributes; reading refuses more than cap values. */
void h5u_attr_f64_array(h5u *w, hid_t loc, const char *name, const double *v, size_t n);
void h5u_read_f64_array(h5u *w, hid_t loc, const char *name, double *v, size_t cap, size_t *n);

/* A record (mw_record.h) as attributes of loc, and back with every field checked (a field
 * with a `when` may be absent; the record's own check runs last). */
void h5u_write_record(h5u *w, hid_t loc, const mw_record *r, const void *rec);
void h5u_read_record(h5u *w, hid_t loc, const mw_record *r, void *rec);

/* n rows of a record as a compound dataset (chunked and extendible along its rows when
 * chunk > 0; enums as fixed strings of their names), returned to be closed by the caller;
 * and back: every field must be a member, the rows it declares must be stored, every
 * value is checked. The rows are allocated (n records); NULL when n = 0 or on failure. */
hid_t h5u_write_table(h5u *w, hid_t loc, const char *name, const mw_record *r, const void *rows,
                      size_t n, hsize_t chunk);
void *h5u_read_table(h5u *w, hid_t loc, const char *name, const mw_record *r, size_t *n);

/* A fixed-length, NUL-terminated string type of n bytes (for compound members). */
hid_t h5u_fixed_str(h5u *w, size_t n);

/* A dataset of rank 1 or 2 (dims[1] == 0 means rank 1), written whole. With chunk > 0
 * it is chunked along its first dimension and extendible there (maxdims unlimited).
 * Returns the dataset, to be closed by the caller (h5u_close_d). */
hid_t h5u_dataset(h5u *w, hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                  hsize_t chunk, const void *data);
/* A contiguous dataset of any rank 1..4 (a tensor in its shape), written whole. */
hid_t h5u_dataset_nd(h5u *w, hid_t loc, const char *name, hid_t type, int rank,
                     const hsize_t *dims, const void *data);
void h5u_close_d(hid_t d);
hid_t h5u_group(h5u *w, hid_t loc, const char *name);
void h5u_close_g(hid_t g);

/* Before writing a new file at path (named by option in messages, e.g. "--out"): its
 * directory exists and is writable, path is no directory, and an existing file is
 * refused unless force or resume (resume also needs it to exist). MW_ERR_ARG with a
 * message; exists_hint ends the message for an existing file. */
mw_status h5u_check_path(const char *option, const char *path, int force, int resume,
                         const char *exists_hint, mw_err *err);

/* Write a whole HDF5 file at path without ever exposing a partial one: fill(w, file,
 * arg) writes into the temporary file path.tmp, which is closed, flushed to disk and
 * renamed over path. A file that existed at path is replaced whole or left as it was.
 * MW_OK, or MW_ERR_IO with a message. */
typedef void (*h5u_fill_fn)(h5u *w, hid_t file, void *arg);
/* A new empty file beside path, "<path>.tmp-XXXXXX", created exclusively (mkstemp): its
 * name in tmp. For every writer that renames a finished file into place. */
mw_status h5u_temp_beside(const char *path, char *tmp, size_t n, mw_err *err);
mw_status h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, mw_err *err);

/* Open an HDF5 file for reading and check its root attributes format (one of formats,
 * NULL-terminated) and format_version (exactly max_version[i]: each version is read by
 * the code that writes it): the file id, with *which the format found; or -1 with a
 * one-line message naming the file (MW_ERR_ARG: no such file; MW_ERR_FORMAT: not HDF5,
 * damaged, another format, an older or a newer version). */
hid_t h5u_open_format(const char *path, const char *const *formats, const long *max_version,
                      int *which, long *version, mw_err *err);

#endif
