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
    unsigned long long file_bytes; /* reading: the file's size, which bounds what its tables
                                      can hold (0: not known) */
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
 * directory exists and is writable, path is no directory and nothing but a regular file,
 * and an existing file is refused unless force or resume (resume also needs it to exist).
 * Then the path is claimed (h5u_claim): a second writer of the same file is refused. MW_ERR_ARG
 * with a message; exists_hint ends the message for an existing file. */
mw_status h5u_check_path(const char *option, const char *path, int force, int resume,
                         const char *exists_hint, mw_err *err);

/* One writer per file: a POSIX lock on "<path>.lock", held until this process ends (or
 * h5u_unclaim), the file naming the process that holds it. A path another live process has
 * claimed is refused (MW_ERR_ARG) with a line naming that process; claiming again in the same
 * process is a no-op. The kernel drops the lock of a process that dies, so a killed writer
 * never blocks the next one. */
mw_status h5u_claim(const char *option, const char *path, mw_err *err);
void h5u_unclaim(const char *path);
/* For a signal handler about to end the process: remove this process's lock files and the
 * temporary file it is writing (async-signal-safe). */
void h5u_abandon(void);

/* Writers never expose a partial file: they write a temporary file beside the target,
 * "<path>.tmp-<pid>-XXXXXX", created exclusively (mkstemp, so nothing at a guessable name is
 * followed or overwritten) with the mode a new file would have, then flush it to disk and
 * rename it over path. A file that existed at path is replaced whole or left as it was;
 * temporary files whose writer died are removed by the next writer of the same path.
 *
 * h5u_temp_beside makes the empty temporary file (its name in tmp) for a writer that fills
 * it itself; h5u_finish_temp flushes it and moves it into place (removing it on failure). */
mw_status h5u_temp_beside(const char *path, char *tmp, size_t n, mw_err *err);
mw_status h5u_finish_temp(const char *path, const char *tmp, mw_err *err);
/* n bytes as the whole new content of path: every write checked (a full disk is MW_ERR_IO
 * with the system's reason, the old file untouched). */
mw_status h5u_write_bytes_atomic(const char *path, const void *bytes, size_t n, mw_err *err);
/* A whole HDF5 file: fill(w, file, arg) writes into a file HDF5 keeps in memory, whose
 * image is then written as above. MW_OK, or MW_ERR_IO with a message. */
typedef void (*h5u_fill_fn)(h5u *w, hid_t file, void *arg);
mw_status h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, mw_err *err);

/* Read an untrusted file in a child process: fn(path, arg, &out, &out_len, err) runs there
 * under a time limit (30 s, and 1 s more per 16 MiB; the environment's MW_READ_TIME_LIMIT
 * in seconds, fractions allowed, overrides) and a memory limit, and what comes back is its
 * status, its message and the out_len bytes it left in out (malloc'd; the child frees
 * nothing, it ends). libhdf5 1.10 can crash, loop or corrupt its own memory on a damaged
 * file; there that is a "damaged" MW_ERR_FORMAT, and libhdf5 never reads the file in this
 * process. On MW_OK *bytes (malloc'd, the caller frees) holds *n bytes, at most
 * 256 MiB + 64 bytes per byte of the file; they are the child's word, to be checked as
 * untrusted input. */
typedef mw_status (*h5u_read_fn)(const char *path, void *arg, void **out, size_t *out_len,
                                 mw_err *err);
mw_status h5u_read_isolated(const char *path, h5u_read_fn fn, void *arg, void **bytes, size_t *n,
                            mw_err *err);

/* Whether a dataset declaring rows of row_bytes each (stored in the file at file_row
 * bytes each) fits in the file being read: a damaged file may declare far more than it
 * holds, and that is refused before anything is allocated. */
int h5u_rows_fit(h5u *w, const char *dataset, unsigned long long rows, size_t file_row,
                 size_t row_bytes);

/* Open an HDF5 file for reading and check its root attributes format (one of formats,
 * NULL-terminated) and format_version (exactly max_version[i]: each version is read by
 * the code that writes it): the file id, with *which the format found; or -1 with a
 * one-line message naming the file (MW_ERR_ARG: no such file; MW_ERR_FORMAT: not HDF5,
 * damaged, another format, an older or a newer version). */
hid_t h5u_open_format(const char *path, const char *const *formats, const long *max_version,
                      int *which, long *version, mw_err *err);

#endif
