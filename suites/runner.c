/* The suite runner (runner.h). With jobs > 1, worker w computes every jobs-th unit of
 * the list and writes each result down a pipe as one record; the parent reads whichever
 * pipe has a record and passes it on. Workers are forked before the parent does any
 * numerical work, so no BLAS or MPFR state crosses the fork. */
#include "runner.h"

#include "mw_child.h"
#include "plugin.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

void mw_unit_result_free(mw_unit_result *u)
{
    mw_network_free(&u->net);
    for (size_t i = 0; i < u->n_runs; i++)
        mw_run_free(&u->runs[i]);
    free(u->runs);
    free(u->rows);
    memset(u, 0, sizeof *u);
}

static size_t row_bytes(const mw_unit_result *u)
{
    return u->n_rows ? u->n_rows * mw_report_table_record(u->table)->size : 0;
}

/* ---- records as bytes: the unit's plain fields, then each run's arrays ---- */

/* Where a record's bytes go, and where they come from: a pipe, or a buffer (MPI). */
typedef struct sink {
    int (*put)(void *arg, const void *p, size_t n); /* nonzero: failed */
    void *arg;
} sink;
typedef struct source {
    size_t (*get)(void *arg, void *p, size_t n);    /* bytes read: n, fewer at the end */
    void *arg;
} source;

static int fd_put(void *arg, const void *p, size_t n)
{
    return mw_write_all(*(int *)arg, p, n);
}

static size_t fd_get(void *arg, void *p, size_t n)
{
    return mw_read_upto(*(int *)arg, p, n);
}

/* 0 read, 1 end of input before anything, -1 error or a record cut short. */
static int read_all(const source *in, void *p, size_t n, int first)
{
    const size_t got = in->get(in->arg, p, n);
    return got == n ? 0 : got == 0 && first ? 1 : -1;
}

static int put_result(const sink *out, const mw_unit_result *u)
{
    if (out->put(out->arg, u, sizeof *u) ||
        out->put(out->arg, u->net.ref_steps, u->net.n_ref_steps * sizeof *u->net.ref_steps) ||
        out->put(out->arg, u->net.ref_epochs, u->net.n_ref_epochs * sizeof *u->net.ref_epochs) ||
        out->put(out->arg, u->rows, row_bytes(u)))
        return 1;
    for (size_t i = 0; i < u->n_runs; i++) {
        const mw_report_run *r = &u->runs[i];
        if (out->put(out->arg, r, sizeof *r) ||
            out->put(out->arg, r->steps, r->n_steps * sizeof *r->steps) ||
            out->put(out->arg, r->layer_rel_l2, r->n_steps * (size_t)r->n_layers * sizeof(double)) ||
            out->put(out->arg, r->epochs, r->n_epochs * sizeof *r->epochs))
            return 1;
    }
    return 0;
}

/* 0 a record, 1 the input ended before one, -1 a broken record. */
static int get_result(const source *in, mw_unit_result *u)
{
    int rc = read_all(in, u, sizeof *u, 1);
    if (rc != 0) { /* a record cut short holds the sender's pointers: nothing to free */
        memset(u, 0, sizeof *u);
        return rc;
    }
    size_t ns = u->net.n_ref_steps, ne = u->net.n_ref_epochs;
    if ((unsigned)u->table >= MW_N_TABLES)
        u->n_rows = 0;
    u->net.ref_steps = malloc((ns ? ns : 1) * sizeof *u->net.ref_steps);
    u->net.ref_epochs = malloc((ne ? ne : 1) * sizeof *u->net.ref_epochs);
    u->rows = malloc(row_bytes(u) ? row_bytes(u) : 1);
    u->runs = NULL;
    if (!u->net.ref_steps || !u->net.ref_epochs || !u->rows ||
        read_all(in, u->net.ref_steps, ns * sizeof *u->net.ref_steps, 0) ||
        read_all(in, u->net.ref_epochs, ne * sizeof *u->net.ref_epochs, 0) ||
        read_all(in, u->rows, row_bytes(u), 0)) {
        u->n_runs = 0;
        return -1;
    }
    mw_report_run *runs = calloc(u->n_runs ? u->n_runs : 1, sizeof *runs);
    u->runs = runs;
    if (!runs) {
        u->n_runs = 0;
        return -1;
    }
    for (size_t i = 0; i < u->n_runs; i++) {
        mw_report_run *r = &runs[i];
        if (read_all(in, r, sizeof *r, 0)) {
            memset(r, 0, sizeof *r);
            u->n_runs = i;
            return -1;
        }
        size_t nl = r->n_steps * (size_t)r->n_layers;
        r->steps = malloc((r->n_steps ? r->n_steps : 1) * sizeof *r->steps);
        r->layer_rel_l2 = malloc((nl ? nl : 1) * sizeof(double));
        r->epochs = malloc((r->n_epochs ? r->n_epochs : 1) * sizeof *r->epochs);
        if (!r->steps || !r->layer_rel_l2 || !r->epochs ||
            read_all(in, r->steps, r->n_steps * sizeof *r->steps, 0) ||
            read_all(in, r->layer_rel_l2, nl * sizeof(double), 0) ||
            read_all(in, r->epochs, r->n_epochs * sizeof *r->epochs, 0)) {
            u->n_runs = i + 1;
            return -1;
        }
    }
    return 0;
}

static int send_result(int fd, const mw_unit_result *u)
{
    const sink out = {fd_put, &fd};
    return put_result(&out, u);
}

static int recv_result(int fd, mw_unit_result *u)
{
    const source in = {fd_get, &fd};
    return get_result(&in, u);
}

typedef struct buffer {
    char *p;
    size_t n, cap, at;
} buffer;

static int buf_put(void *arg, const void *p, size_t n)
{
    buffer *b = arg;
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->n < n) {
            if (cap > SIZE_MAX / 2)
                return 1;
            cap *= 2;
        }
        char *q = realloc(b->p, cap);
        if (!q)
            return 1;
        b->p = q, b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
    return 0;
}

static size_t buf_get(void *arg, void *p, size_t n)
{
    buffer *b = arg;
    const size_t k = b->n - b->at < n ? b->n - b->at : n;
    if (k)
        memcpy(p, b->p + b->at, k);
    b->at += k;
    return k;
}

mw_status mw_unit_result_pack(const mw_unit_result *u, void **bytes, size_t *n)
{
    buffer b = {0};
    const sink out = {buf_put, &b};
    if (put_result(&out, u)) {
        free(b.p);
        return MW_ERR_NOMEM;
    }
    *bytes = b.p, *n = b.n;
    return MW_OK;
}

mw_status mw_unit_result_unpack(const void *bytes, size_t n, mw_unit_result *u)
{
    buffer b = {(char *)bytes, n, n, 0};
    const source in = {buf_get, &b};
    memset(u, 0, sizeof *u);
    if (get_result(&in, u) != 0 || b.at != n) {
        mw_unit_result_free(u);
        return MW_ERR_FORMAT;
    }
    return MW_OK;
}

/* ---- running ---- */

/* A unit that could not be computed, as the record of a failed network with its reason:
 * the caller keeps it and goes on with the other units. */
void mw_unit_failed(mw_unit_result *u, long unit, const mw_err *why)
{
    mw_unit_result_free(u);
    u->unit = unit;
    u->net.index = unit;
    u->net.status = MW_NET_FAILED;
    snprintf(u->net.message, sizeof u->net.message, "%.300s", why->msg);
}

typedef struct here_emit {
    const mw_runner *r;
    mw_err *err;
    int refused; /* done refused a partial result: stop, whatever the unit says */
} here_emit;

static int emit_here(void *arg, const mw_unit_result *partial)
{
    here_emit *h = arg;
    h->refused = h->r->done(h->r->done_arg, partial, h->err) != MW_OK;
    return h->refused;
}

static int emit_pipe(void *arg, const mw_unit_result *partial)
{
    return send_result(*(int *)arg, partial);
}

static mw_status interrupted(mw_err *err)
{
    return mw_err_set(err, MW_ERR_INTERRUPTED, "interrupted by %s",
                      mw_interrupted() == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- a unit in a child of its own (a plugin's layer: its crash fails that unit) ---- */

typedef int (*forward_fn)(void *arg, const mw_unit_result *u);

/* Compute unit in a fork that sends its records (partial and final) down a pipe; each is
 * handed to forward here. A child that ends without its final record — a signal, the
 * time limit (MW_PLUGIN_TIME_LIMIT seconds, default 600 for a unit), an exit — gives the
 * record of a failed network saying how. Nonzero when forward refused. */
static int compute_isolated(const mw_runner *r, long unit, forward_fn forward, void *arg)
{
    int p[2];
    mw_unit_result u;
    memset(&u, 0, sizeof u);
    mw_err why = {MW_OK, ""};
    if (pipe(p) != 0) {
        mw_err_set(&why, MW_ERR_BACKEND, "cannot create a pipe: %s", strerror(errno));
        mw_unit_failed(&u, unit, &why);
        int bad = forward(arg, &u);
        mw_unit_result_free(&u);
        return bad;
    }
    const double limit = mw_plugin_time_limit(600.0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_IGN);
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL); /* the plugin's faults end the unit plainly */
        const time_t whole = (time_t)limit;
        struct itimerval t = {{0, 0}, {whole, (suseconds_t)((limit - (double)whole) * 1e6)}};
        setitimer(ITIMER_REAL, &t, NULL);
        mw_err err;
        if (r->compute(r->cfg, unit, emit_pipe, &p[1], &u, &err) != MW_OK)
            mw_unit_failed(&u, unit, &err);
        _exit(send_result(p[1], &u) ? 3 : 0);
    }
    close(p[1]);
    if (pid < 0) {
        close(p[0]);
        mw_err_set(&why, MW_ERR_BACKEND, "cannot fork: %s", strerror(errno));
        mw_unit_failed(&u, unit, &why);
        int bad = forward(arg, &u);
        mw_unit_result_free(&u);
        return bad;
    }
    int final = 0, bad = 0;
    for (;;) {
        memset(&u, 0, sizeof u);
        int got = recv_result(p[0], &u);
        if (got != 0) {
            mw_unit_result_free(&u);
            break;
        }
        final = !u.partial;
        bad = forward(arg, &u);
        mw_unit_result_free(&u);
        if (bad || final)
            break;
    }
    close(p[0]);
    if (bad)
        kill(pid, SIGKILL);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (bad || final)
        return bad;
    if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGALRM)
        mw_err_set(&why, MW_ERR_BACKEND, "did not finish in %g s (MW_PLUGIN_TIME_LIMIT)", limit);
    else if (WIFSIGNALED(ws))
        mw_err_set(&why, MW_ERR_BACKEND, "crashed: %s (%s), in the plugin's layer or on its "
                   "account", mw_signal_name(WTERMSIG(ws)), strsignal(WTERMSIG(ws)));
    else
        mw_err_set(&why, MW_ERR_BACKEND, "its process exited with status %d without a result",
                   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    memset(&u, 0, sizeof u);
    mw_unit_failed(&u, unit, &why);
    bad = forward(arg, &u);
    mw_unit_result_free(&u);
    return bad;
}

typedef struct here_forward {
    const mw_runner *r;
    mw_err *err;
} here_forward;

static int forward_here(void *arg, const mw_unit_result *u)
{
    here_forward *h = arg;
    return h->r->done(h->r->done_arg, u, h->err) != MW_OK;
}

static int forward_pipe(void *arg, const mw_unit_result *u)
{
    return send_result(*(int *)arg, u);
}

static mw_status run_here(const mw_runner *r, mw_err *err)
{
    if (mw_engine_plugin()) { /* each unit in a child of its own */
        for (size_t i = 0; i < r->n_todo; i++) {
            if (mw_interrupted())
                return interrupted(err);
            here_forward h = {r, err};
            if (compute_isolated(r, r->todo[i], forward_here, &h))
                return err->status != MW_OK ? err->status : MW_ERR_IO;
        }
        return MW_OK;
    }
    for (size_t i = 0; i < r->n_todo; i++) {
        if (mw_interrupted()) /* the safe point between units */
            return interrupted(err);
        mw_unit_result u;
        mw_err why;
        here_emit h = {r, err, 0};
        memset(&u, 0, sizeof u);
        mw_status st = r->compute(r->cfg, r->todo[i], emit_here, &h, &u, &why);
        if (h.refused) { /* done's own failure (the report could not be written) */
            mw_unit_result_free(&u);
            return err->status != MW_OK ? err->status : MW_ERR_IO;
        }
        if (st == MW_ERR_INTERRUPTED) { /* cut short: not recorded, computed anew on resume */
            mw_unit_result_free(&u);
            return interrupted(err);
        }
        if (st != MW_OK) /* as a worker would: the unit fails, the others go on */
            mw_unit_failed(&u, r->todo[i], &why);
        st = r->done(r->done_arg, &u, err);
        mw_unit_result_free(&u);
        if (st != MW_OK)
            return st;
    }
    return MW_OK;
}

static void worker(const mw_runner *r, int w, int fd)
{
    mw_err err;
    signal(SIGPIPE, SIG_DFL); /* the parent gone: die with it */
    signal(SIGINT, SIG_IGN);  /* a terminal's ^C reaches the whole group: the parent decides */
    signal(SIGTERM, SIG_DFL); /* and stops a worker with SIGTERM */
    for (size_t i = (size_t)w; i < r->n_todo; i += (size_t)r->jobs) {
        if (mw_engine_plugin()) { /* each unit in a child of its own */
            if (compute_isolated(r, r->todo[i], forward_pipe, &fd))
                _exit(3);
            continue;
        }
        mw_unit_result u;
        memset(&u, 0, sizeof u);
        if (r->compute(r->cfg, r->todo[i], emit_pipe, &fd, &u, &err) != MW_OK)
            mw_unit_failed(&u, r->todo[i], &err); /* said through the record */
        int bad = send_result(fd, &u);
        mw_unit_result_free(&u);
        if (bad)
            _exit(3);
    }
    close(fd);
    _exit(0);
}

mw_status mw_runner_run(const mw_runner *r, mw_err *err)
{
    int jobs = r->jobs < 1 ? 1 : r->jobs;
    if ((size_t)jobs > r->n_todo)
        jobs = r->n_todo ? (int)r->n_todo : 1;
    if (jobs == 1)
        return run_here(r, err);

    mw_runner rr = *r;
    rr.jobs = jobs;
    pid_t *pids = calloc((size_t)jobs, sizeof *pids);
    struct pollfd *fds = calloc((size_t)jobs, sizeof *fds);
    if (!pids || !fds) {
        free(pids), free(fds);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    mw_status rc = MW_OK;
    int started = 0;
    fflush(NULL); /* nothing buffered is written twice by the children */
    for (int w = 0; w < jobs; w++) {
        int p[2];
        if (pipe(p) != 0) {
            rc = mw_err_set(err, MW_ERR_BACKEND, "cannot create a pipe for worker %d: %s", w,
                            strerror(errno));
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            rc = mw_err_set(err, MW_ERR_BACKEND, "cannot start worker %d: %s", w, strerror(errno));
            close(p[0]), close(p[1]);
            break;
        }
        if (pid == 0) {
            close(p[0]);
            for (int k = 0; k < w; k++) /* the other workers' pipes are not this one's */
                close(fds[k].fd);
            worker(&rr, w, p[1]);
        }
        close(p[1]);
        pids[w] = pid;
        fds[w] = (struct pollfd){.fd = p[0], .events = POLLIN};
        started++;
    }
    int open_pipes = started;
    while (rc == MW_OK && open_pipes > 0) {
        if (mw_interrupted()) { /* units in progress are dropped: computed anew on resume */
            rc = interrupted(err);
            break;
        }
        if (poll(fds, (nfds_t)started, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = mw_err_set(err, MW_ERR_BACKEND, "poll: %s", strerror(errno));
            break;
        }
        for (int w = 0; w < started && rc == MW_OK; w++) {
            if (fds[w].fd < 0 || !(fds[w].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            mw_unit_result u;
            memset(&u, 0, sizeof u);
            int got = recv_result(fds[w].fd, &u);
            if (got == 0) {
                rc = r->done(r->done_arg, &u, err);
            } else {
                if (got < 0)
                    rc = mw_err_set(err, MW_ERR_BACKEND, "worker %d sent a broken record", w);
                close(fds[w].fd);
                fds[w].fd = -1;
                open_pipes--;
            }
            mw_unit_result_free(&u);
        }
    }
    for (int w = 0; w < started; w++) {
        if (fds[w].fd >= 0) {
            close(fds[w].fd);
            kill(pids[w], SIGTERM);
        }
        int status = 0;
        pid_t got;
        while ((got = waitpid(pids[w], &status, 0)) < 0 && errno == EINTR) {
        }
        if (got == pids[w] && rc == MW_OK &&
            !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            rc = mw_err_set(err, MW_ERR_BACKEND, "worker %d died (%s %d) before finishing its "
                            "units", w, WIFSIGNALED(status) ? "signal" : "exit status",
                            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    free(pids), free(fds);
    return rc;
}
