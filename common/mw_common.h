/* What every module of mwverify shares, and nothing else: the one status enum and the
 * error convention (a status returned, a one-line message in an mw_err), the clock, a
 * median, and tables of enum names. Plain C, no dependency beyond the C library, usable
 * from CUDA sources too (docs/architecture.md). */
#ifndef MW_COMMON_H
#define MW_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    MW_OK = 0,
    MW_ERR_ARG,            /* bad usage or input, the caller's mistake (exit 2) */
    MW_ERR_NOMEM,          /* memory could not be had */
    MW_ERR_NONFINITE,      /* a computed value became inf or NaN */
    MW_ERR_NOT_INVERTIBLE, /* a method needs an inverse the network does not have */
    MW_ERR_BACKEND,        /* BLAS, MPFR or device failure */
    MW_ERR_IO,             /* a file could not be read, written or replaced */
    MW_ERR_FORMAT,         /* a file's contents are not what its format says (bad input) */
    MW_ERR_INTERRUPTED,    /* stopped at a safe point on SIGINT or SIGTERM (exit 128 + signal) */
} mw_status;

const char *mw_status_name(mw_status s);

/* ---- errors above the engine ----
 * A function that can fail returns an mw_status and, on failure, leaves one line in the
 * mw_err its caller passed: what failed, where, and why. (The engine keeps its message on
 * its context instead; the two meet where a caller copies mw_ctx_message into an mw_err.)
 * err may be NULL when the caller does not want the message. */
typedef struct mw_err {
    mw_status status;
    char msg[1024];
} mw_err;

/* Set the message and the status; returns s. */
mw_status mw_err_set(mw_err *err, mw_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put "<context>: " before the message already there; returns err's status. */
mw_status mw_err_prefix(mw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Add to the end of the message; returns err's status. */
mw_status mw_err_append(mw_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Keep the message, change the status (a failure below seen as bad input here); returns s. */
mw_status mw_err_set_status(mw_err *err, mw_status s);

/* With a local `mw_status st` and a label `done` that frees what was acquired. */
#define MW_TRY(expr)                                                                          \
    do {                                                                                      \
        if ((st = (expr)) != MW_OK)                                                           \
            goto done;                                                                        \
    } while (0)

/* ---- interruption ----
 * SIGINT and SIGTERM reach long work through one flag. A command that can stop cleanly
 * (a suite: it commits what is done and says how to resume) calls mw_interrupt_defer(1)
 * while it runs and polls mw_interrupted() at its safe points; the signal handler (cli/)
 * calls mw_interrupt_request(), which sets the flag and returns 1 only while deferred
 * and only for the first signal, else 0 (the handler then stops the process at once). */
void mw_interrupt_defer(int on);
int mw_interrupt_request(int sig); /* async-signal-safe */
/* The signal that asked to stop, or 0. */
int mw_interrupted(void);

/* ---- small shared tools ---- */

/* Seconds on a monotonic clock. */
double mw_now(void);
/* Seconds of CPU time this thread has used: what a calibration of single-threaded work
 * measures, so that another process taking the core meanwhile does not count. */
double mw_thread_cpu_now(void);
/* Seconds since this process started, the dynamic loader's and the libraries' start-up
 * included (Linux /proc); 0 when it cannot be read. */
double mw_process_age(void);
/* How busy the machine's processors are with other processes' work: a sample now, and
 * between two samples the processors' busy time (steal by the hypervisor included) less
 * this process's own, per second — in processors, NaN when /proc/stat cannot be read or
 * the samples are under 50 ms apart. */
typedef struct mw_cpu_sample {
    double wall, busy, own;
} mw_cpu_sample;
void mw_cpu_sample_now(mw_cpu_sample *s);
double mw_cpu_others(const mw_cpu_sample *a, const mw_cpu_sample *b);
/* Processors online. */
int mw_cpu_count(void);
/* Bytes the kernel can give without swapping (MemAvailable of /proc/meminfo); 0 when it
 * cannot be read. */
double mw_mem_available(void);
/* splitmix64's output for x: well-mixed bits from a counter or a seed. */
uint64_t mw_splitmix64(uint64_t x);
/* The median of v[0..n) (NaN when n = 0); sorts v. */
double mw_median(double *v, size_t n);
/* qsort comparison of doubles, ascending. */
int mw_cmp_double(const void *a, const void *b);

/* ---- enum names ----
 * The names of an enum's values, for the file and command-line boundaries (in memory a
 * value is its enum). names[v] is value v's name; aliases are extra spellings that parse
 * to a value ("identity" for out-act none). */
typedef struct mw_alias {
    const char *name;
    int value;
} mw_alias;

typedef struct mw_names {
    const char *what;           /* "method", "activation": for messages */
    const char *const *names;
    int n;
    const mw_alias *aliases;    /* NULL-name-terminated, or NULL */
} mw_names;

const char *mw_name_of(const mw_names *t, int v); /* "?" out of range */
/* 0 and *v set, or 1 when s names no value. */
int mw_name_parse(const mw_names *t, const char *s, int *v);
/* "a, b, c": the names, for "allowed: ..." in messages. */
const char *mw_names_list(const mw_names *t, char *buf, size_t n);

/* The candidate closest to word by edit distance when it is close enough to be what was
 * meant (at most a third of its length, and at most 3 edits), else NULL. */
const char *mw_nearest(const char *word, const char *const *candidates, size_t n);

/* Pipes between mwverify's processes: all n bytes to fd, retrying interrupted and short
 * writes (0, or 1 when the other end is gone or another error); up to n bytes from fd,
 * stopping early only at end of file or an error (the bytes read). */
int mw_write_all(int fd, const void *p, size_t n);
size_t mw_read_upto(int fd, void *p, size_t n);

#endif
