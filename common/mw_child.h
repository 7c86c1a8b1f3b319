/* Work in a child process — reading an untrusted file with libhdf5 (reports/h5util.h),
 * a plugin's code (suites/plugin.h): fn runs in a fork of this process under a time limit
 * and, if asked, a memory limit, with the default action for fatal signals, SIGINT ignored
 * (the parent decides) and no core file, its stderr kept; what comes back is its status,
 * its message and the bytes it left in *out. A child that dies — a signal, the time limit,
 * an exit without a record — is reported with what it last said it was doing
 * (mw_child_doing) and the gist of what it said on stderr. */
#ifndef MW_CHILD_H
#define MW_CHILD_H

#include <stddef.h>

#include "mw_common.h"

typedef mw_status (*mw_child_fn)(void *arg, void **out, size_t *out_len, mw_err *err);

typedef struct mw_child_opts {
    double seconds;      /* the time limit */
    size_t max_bytes;    /* the most *out may hold */
    size_t memory_extra; /* address space the child may add to what it has at the fork
                            (RLIMIT_AS); 0: no limit */
} mw_child_opts;

typedef struct mw_child_end {
    int too_big;         /* 1: it sent more than max_bytes (it was killed) */
    int died;            /* 1: the child ended without its record (the fields below say how) */
    int signal;          /* the signal that ended it (SIGALRM: the time limit), or 0 */
    int exit_status;     /* its exit status when it exited without a record */
    char doing[96];      /* what it said it was doing last ("forward (float64)"), or "" */
    char said[200];      /* what it said on stderr: a sanitizer's SUMMARY line if there is
                            one, else its last line; "" */
} mw_child_end;

/* Run fn(arg) in a child as o says. MW_OK: *out (malloc'd, the caller frees) holds *n
 * bytes. fn's failure: its status and message. A child that died or sent too much:
 * MW_ERR_BACKEND, *end says how, and err has one line ("crashed: SIGSEGV (Segmentation
 * fault) in forward (float64)"; "did not finish in 60 s in inverse (float32)"). MW_ERR_IO
 * or MW_ERR_NOMEM: the child could not be run or heard. */
mw_status mw_child_run(mw_child_fn fn, void *arg, const mw_child_opts *o, void **out, size_t *n,
                       mw_child_end *end, mw_err *err);

/* "SIGSEGV", "SIGABRT", ...: a signal's name ("a signal" for one without). */
const char *mw_signal_name(int sig);

/* In the child: what it is doing now, for the report of its death. */
void mw_child_doing(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
