/* Small HDF5 helpers for the writers and readers of reports/. Every call is checked: a
 * failure is recorded once, with the call named, and every later call becomes a no-op,
 * so a writer can go straight through and look at one flag at the end. HDF5's own error
 * printing is turned off by h5u_quiet(). */
#ifndef MW_H5UTIL_H
#define MW_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

#include "mw_spec.h"

typedef struct h5u {
    char *msg;
    size_t msg_len;
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

/* A network as attributes of loc (arch, width, ... seed), and back; reading validates it. */
void h5u_spec_attrs(h5u *w, hid_t loc, const mw_spec *s);
void h5u_read_spec(h5u *w, hid_t loc, mw_spec *s);

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
 * refused unless force or resume (resume also needs it to exist). 0, or nonzero with a
 * message; exists_hint ends the message for an existing file. */
int h5u_check_path(const char *option, const char *path, int force, int resume,
                   const char *exists_hint, char *msg, size_t msg_len);

/* Write a whole HDF5 file at path without ever exposing a partial one: fill(w, file,
 * arg) writes into the temporary file path.tmp, which is closed, flushed to disk and
 * renamed over path. A file that existed at path is replaced whole or left as it was.
 * 0, or nonzero with a message. */
typedef void (*h5u_fill_fn)(h5u *w, hid_t file, void *arg);
int h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, char *msg, size_t msg_len);

#endif
