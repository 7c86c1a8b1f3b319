/* The shared status, errors, clock, median and enum names (mw_common.h). */
#include "mw_common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *mw_status_name(mw_status s)
{
    switch (s) {
    case MW_OK: return "ok";
    case MW_ERR_ARG: return "invalid argument";
    case MW_ERR_NOMEM: return "out of memory";
    case MW_ERR_NONFINITE: return "non-finite value";
    case MW_ERR_NOT_INVERTIBLE: return "not invertible";
    case MW_ERR_BACKEND: return "backend failure";
    case MW_ERR_IO: return "input/output failure";
    case MW_ERR_FORMAT: return "bad file format";
    case MW_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown status";
}

mw_status mw_err_set(mw_err *err, mw_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

mw_status mw_err_prefix(mw_err *err, const char *fmt, ...)
{
    if (!err)
        return MW_OK;
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n + 2 < sizeof err->msg)
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %.*s",
                 (int)(sizeof err->msg - (size_t)n - 3), old);
    return err->status;
}

mw_status mw_err_append(mw_err *err, const char *fmt, ...)
{
    if (!err)
        return MW_OK;
    size_t used = strlen(err->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + used, sizeof err->msg - used, fmt, ap);
    va_end(ap);
    return err->status;
}

mw_status mw_err_set_status(mw_err *err, mw_status s)
{
    if (err)
        err->status = s;
    return s;
}

double mw_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double mw_thread_cpu_now(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) != 0)
        return mw_now();
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double mw_process_age(void)
{
    /* field 22 of /proc/self/stat is the start time in clock ticks after boot; the fields
     * are counted after the command name's closing parenthesis, which may hold spaces */
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0.0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long start = 0;
    for (int field = 2; p && *p && field < 22; p++)
        field += *p == ' ';
    long tick = sysconf(_SC_CLK_TCK);
    struct timespec t;
    if (!p || sscanf(p, "%llu", &start) != 1 || tick <= 0 ||
        clock_gettime(CLOCK_BOOTTIME, &t) != 0)
        return 0.0;
    double age = (double)t.tv_sec + 1e-9 * (double)t.tv_nsec - (double)start / (double)tick;
    return age > 0.0 ? age : 0.0;
}

void mw_cpu_sample_now(mw_cpu_sample *s)
{
    unsigned long long user = 0, nice = 0, sys = 0, idle = 0, iowait = 0, irq = 0, soft = 0,
                       steal = 0;
    struct timespec t;
    s->wall = mw_now();
    s->own = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) == 0
                 ? (double)t.tv_sec + 1e-9 * (double)t.tv_nsec
                 : NAN;
    s->busy = NAN;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
                   &iowait, &irq, &soft, &steal);
    fclose(f);
    long tick = sysconf(_SC_CLK_TCK);
    if (n >= 7 && tick > 0)
        s->busy = (double)(user + nice + sys + irq + soft + steal) / (double)tick;
}

double mw_cpu_others(const mw_cpu_sample *a, const mw_cpu_sample *b)
{
    const double dt = b->wall - a->wall;
    if (!(dt >= 0.05) || !isfinite(a->busy) || !isfinite(b->busy) || !isfinite(a->own) ||
        !isfinite(b->own))
        return NAN;
    const double others = ((b->busy - a->busy) - (b->own - a->own)) / dt;
    return others > 0.0 ? others : 0.0;
}

int mw_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double mw_mem_available(void)
{
    char line[256];
    double kib = 0.0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0.0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    fclose(f);
    return kib * 1024.0;
}

int mw_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

uint64_t mw_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

double mw_median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, mw_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

const char *mw_name_of(const mw_names *t, int v)
{
    return v >= 0 && v < t->n && t->names[v] ? t->names[v] : "?";
}

int mw_name_parse(const mw_names *t, const char *s, int *v)
{
    for (int i = 0; i < t->n; i++)
        if (t->names[i] && strcmp(t->names[i], s) == 0)
            return *v = i, 0;
    for (const mw_alias *a = t->aliases; a && a->name; a++)
        if (strcmp(a->name, s) == 0)
            return *v = a->value, 0;
    return 1;
}

const char *mw_names_list(const mw_names *t, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->n && used < n; i++)
        if (t->names[i])
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", t->names[i]);
    return buf;
}

/* Edit distance with adjacent transpositions (optimal string alignment: "tnah" is one
 * edit from "tanh"), capped: words longer than 63 characters are far from anything. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *mw_nearest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    int best_d = 99, limit = (int)strlen(word) / 3;
    if (limit > 3)
        limit = 3;
    if (limit < 1)
        limit = 1;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        int d = distance(word, candidates[i]);
        if (d < best_d)
            best_d = d, best = candidates[i];
    }
    return best_d <= limit ? best : NULL;
}

static volatile sig_atomic_t interrupt_deferred, interrupt_signal;

void mw_interrupt_defer(int on)
{
    interrupt_deferred = on != 0;
}

int mw_interrupt_request(int sig)
{
    if (!interrupt_deferred || interrupt_signal)
        return 0;
    interrupt_signal = sig;
    return 1;
}

int mw_interrupted(void)
{
    return interrupt_signal;
}

int mw_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 1;
        c += k, n -= (size_t)k;
    }
    return 0;
}

size_t mw_read_upto(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    return got;
}
