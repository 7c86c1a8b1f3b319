/* Suites across MPI ranks (mpi.h). */
#include "mw_mpi.h"

#include <stdlib.h>
#include <string.h>

static int env_int(const char *const *names, int fallback)
{
    for (; *names; names++) {
        const char *v = getenv(*names);
        char *end;
        if (v && *v) {
            long x = strtol(v, &end, 10);
            if (*end == '\0' && x >= 0 && x < 1 << 24)
                return (int)x;
        }
    }
    return fallback;
}

int mw_mpi_launched_size(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL};
    const int n = env_int(names, 1);
    return n < 1 ? 1 : n;
}

int mw_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMI_SIZE") != NULL ||
           getenv("PMIX_RANK") != NULL;
}

int mw_mpi_launched_rank(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", NULL};
    return env_int(names, 0);
}

int mw_mpi_local_rank(void)
{
    static const char *const names[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", NULL};
    return env_int(names, 0);
}

#ifndef MW_HAVE_MPI

int mw_mpi_built(void) { return 0; }

mw_status mw_mpi_init(mw_err *err)
{
    return mw_err_set(err, MW_ERR_ARG, "started by mpirun with %d processes, but this mwverify "
                      "was built without MPI: install Open MPI (Debian: apt-get install "
                      "libopenmpi-dev openmpi-bin; scripts/setup.sh does) and build again",
                      mw_mpi_launched_size());
}

int mw_mpi_rank(void) { return 0; }
int mw_mpi_size(void) { return 1; }

mw_status mw_mpi_run_units(const mw_runner *r, mw_err *err)
{
    (void)r;
    return mw_mpi_init(err);
}

mw_status mw_mpi_serve(const void *cfg, mw_unit_fn compute, mw_err *err)
{
    (void)cfg, (void)compute;
    return mw_mpi_init(err);
}

mw_status mw_mpi_end(int exit_status, mw_err *err)
{
    (void)exit_status, (void)err;
    return MW_OK;
}

#else

#include <errno.h>
#include <limits.h>
#include <mpi.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mw_child.h"

enum { TAG_UNIT = 1, TAG_RESULT = 2 };
static const long STOP = -1;

static int initialised, rank_ = 0, size_ = 1;

int mw_mpi_built(void) { return 1; }
int mw_mpi_rank(void) { return rank_; }
int mw_mpi_size(void) { return size_; }

static mw_status mpi_error(mw_err *err, int rc, const char *what)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "error %d", rc);
    return mw_err_set(err, MW_ERR_BACKEND, "MPI: %s: %s", what, text);
}

mw_status mw_mpi_init(mw_err *err)
{
    if (initialised)
        return MW_OK;
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS)
        return mw_err_set(err, MW_ERR_BACKEND, "MPI_Init failed (error %d)", rc);
    initialised = 1;
    if ((rc = MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(MPI_COMM_WORLD, &rank_)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(MPI_COMM_WORLD, &size_)) != MPI_SUCCESS)
        return mpi_error(err, rc, "the world communicator");
    return MW_OK;
}

mw_status mw_mpi_end(int exit_status, mw_err *err)
{
    if (!initialised)
        return MW_OK;
    initialised = 0;
    if (exit_status != 0 && exit_status != 1) {
        MPI_Abort(MPI_COMM_WORLD, exit_status); /* ends this process too */
        return mw_err_set(err, MW_ERR_BACKEND, "MPI_Abort returned");
    }
    const int rc = MPI_Finalize();
    return rc == MPI_SUCCESS ? MW_OK : mpi_error(err, rc, "MPI_Finalize");
}

/* ---- a result on the wire ---- */

static mw_status send_packed(const mw_unit_result *u, mw_err *err)
{
    void *bytes = NULL;
    size_t n = 0;
    if (mw_unit_result_pack(u, &bytes, &n) != MW_OK)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_status st = MW_OK;
    if (n > INT_MAX) { /* one message holds at most INT_MAX bytes: say so in the record */
        mw_unit_result failed;
        memset(&failed, 0, sizeof failed);
        mw_err why;
        mw_err_set(&why, MW_ERR_BACKEND, "its result (%zu bytes) is larger than one MPI "
                   "message", n);
        mw_unit_failed(&failed, u->unit, &why);
        free(bytes);
        bytes = NULL;
        if (mw_unit_result_pack(&failed, &bytes, &n) != MW_OK)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    int rc = MPI_Send(bytes, (int)n, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
    if (rc != MPI_SUCCESS)
        st = mpi_error(err, rc, "sending a result to rank 0");
    free(bytes);
    return st;
}

static int emit_mpi(void *arg, const mw_unit_result *partial)
{
    return send_packed(partial, arg) != MW_OK;
}

mw_status mw_mpi_serve(const void *cfg, mw_unit_fn compute, mw_err *err)
{
    for (;;) {
        long unit = STOP;
        int rc = MPI_Recv(&unit, 1, MPI_LONG, 0, TAG_UNIT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return mpi_error(err, rc, "receiving a unit from rank 0");
        if (unit < 0)
            return MW_OK;
        mw_unit_result u;
        mw_err why;
        memset(&u, 0, sizeof u);
        if (compute(cfg, unit, emit_mpi, err, &u, &why) != MW_OK)
            mw_unit_failed(&u, unit, &why); /* said through the record */
        mw_status st = send_packed(&u, err);
        mw_unit_result_free(&u);
        if (st != MW_OK)
            return st;
    }
}

/* ---- rank 0's own worker: a process forked here, units and results over pipes ---- */

static int write_framed(int fd, const mw_unit_result *u)
{
    void *bytes = NULL;
    size_t n = 0;
    if (mw_unit_result_pack(u, &bytes, &n) != MW_OK)
        return 1;
    const uint64_t len = n;
    const int bad = mw_write_all(fd, &len, sizeof len) || mw_write_all(fd, bytes, n);
    free(bytes);
    return bad;
}

static int emit_pipe(void *arg, const mw_unit_result *partial)
{
    return write_framed(*(int *)arg, partial);
}

static void local_worker(const mw_runner *r, int in, int out)
{
    signal(SIGPIPE, SIG_DFL); /* rank 0 gone: end with it */
    signal(SIGINT, SIG_IGN);  /* rank 0 decides */
    signal(SIGTERM, SIG_DFL);
    for (;;) {
        long unit = STOP;
        if (mw_read_upto(in, &unit, sizeof unit) != sizeof unit || unit < 0)
            break;
        mw_unit_result u;
        mw_err why;
        memset(&u, 0, sizeof u);
        if (r->compute(r->cfg, unit, emit_pipe, &out, &u, &why) != MW_OK)
            mw_unit_failed(&u, unit, &why);
        const int bad = write_framed(out, &u);
        mw_unit_result_free(&u);
        if (bad)
            _exit(3);
    }
    _exit(0);
}

/* 0 a result, 1 the worker closed its pipe, -1 a broken one. */
static int read_framed(int fd, mw_unit_result *u)
{
    uint64_t len = 0;
    const size_t got = mw_read_upto(fd, &len, sizeof len);
    if (got == 0)
        return 1;
    if (got != sizeof len || len > (uint64_t)1 << 40)
        return -1;
    void *bytes = malloc(len ? (size_t)len : 1);
    int rc = !bytes || mw_read_upto(fd, bytes, (size_t)len) != len ||
                     mw_unit_result_unpack(bytes, (size_t)len, u) != MW_OK
                 ? -1
                 : 0;
    free(bytes);
    return rc;
}

/* ---- rank 0: the dispatcher ---- */

typedef struct dispatch {
    const mw_runner *r;
    long *order;        /* the units, costliest first */
    size_t next, finished;
    int to_local;       /* rank 0's worker: units to it (-1 once stopped) */
} dispatch;

static const double *sort_cost;

static int by_cost(const void *a, const void *b)
{
    const long x = *(const long *)a, y = *(const long *)b;
    const double cx = sort_cost ? sort_cost[x] : 0.0, cy = sort_cost ? sort_cost[y] : 0.0;
    if (cx != cy)
        return cx > cy ? -1 : 1;
    return (x > y) - (x < y);
}

/* The next unit to worker `rank` (-1: rank 0's own), or stop when none is left. */
static mw_status hand_out(dispatch *d, int rank, mw_err *err)
{
    const long unit = d->next < d->r->n_todo ? d->order[d->next++] : STOP;
    if (rank < 0) {
        if (d->to_local < 0)
            return MW_OK;
        if (mw_write_all(d->to_local, &unit, sizeof unit))
            return mw_err_set(err, MW_ERR_BACKEND, "rank 0's worker process is gone");
        if (unit == STOP)
            close(d->to_local), d->to_local = -1;
        return MW_OK;
    }
    int rc = MPI_Send(&unit, 1, MPI_LONG, rank, TAG_UNIT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? MW_OK : mpi_error(err, rc, "handing out a unit");
}

/* A result from worker `rank`: recorded; the worker gets its next unit when it was final. */
static mw_status take(dispatch *d, int rank, mw_unit_result *u, mw_err *err)
{
    mw_status st = d->r->done(d->r->done_arg, u, err);
    const int final = !u->partial;
    mw_unit_result_free(u);
    if (st != MW_OK || !final)
        return st;
    d->finished++;
    return hand_out(d, rank, err);
}

mw_status mw_mpi_run_units(const mw_runner *r, mw_err *err)
{
    if (!initialised)
        return mw_err_set(err, MW_ERR_BACKEND, "MPI is not initialised");
    dispatch d = {r, malloc((r->n_todo ? r->n_todo : 1) * sizeof(long)), 0, 0, -1};
    if (!d.order)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    memcpy(d.order, r->todo, r->n_todo * sizeof(long));
    sort_cost = r->cost;
    qsort(d.order, r->n_todo, sizeof(long), by_cost);
    sort_cost = NULL;

    int down[2], up[2];
    if (pipe(down) != 0 || (pipe(up) != 0 && (close(down[0]), close(down[1]), 1))) {
        free(d.order);
        return mw_err_set(err, MW_ERR_BACKEND, "cannot create a pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(down[1]), close(up[0]);
        local_worker(r, down[0], up[1]);
    }
    close(down[0]), close(up[1]);
    if (pid < 0) {
        close(down[1]), close(up[0]);
        free(d.order);
        return mw_err_set(err, MW_ERR_BACKEND, "cannot fork rank 0's worker: %s",
                          strerror(errno));
    }
    d.to_local = down[1];
    int from_local = up[0];

    mw_status st = hand_out(&d, -1, err);
    for (int k = 1; k < size_ && st == MW_OK; k++)
        st = hand_out(&d, k, err);
    while (st == MW_OK && d.finished < r->n_todo) {
        if (mw_interrupted()) { /* units in progress are dropped: computed anew on resume */
            st = mw_err_set(err, MW_ERR_INTERRUPTED, "interrupted");
            break;
        }
        int flag = 0, got = 0;
        MPI_Status ms;
        int rc = size_ > 1 ? MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &ms)
                           : MPI_SUCCESS;
        if (rc != MPI_SUCCESS) {
            st = mpi_error(err, rc, "waiting for results");
            break;
        }
        if (flag) {
            int count = 0;
            rc = MPI_Get_count(&ms, MPI_BYTE, &count);
            void *bytes = rc == MPI_SUCCESS ? malloc(count > 0 ? (size_t)count : 1) : NULL;
            if (rc == MPI_SUCCESS && !bytes) {
                st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
                break;
            }
            if (rc == MPI_SUCCESS)
                rc = MPI_Recv(bytes, count, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                              MPI_STATUS_IGNORE);
            mw_unit_result u;
            if (rc != MPI_SUCCESS)
                st = mpi_error(err, rc, "receiving a result");
            else if (mw_unit_result_unpack(bytes, (size_t)count, &u) != MW_OK)
                st = mw_err_set(err, MW_ERR_BACKEND, "rank %d sent a broken record",
                                ms.MPI_SOURCE);
            else
                st = take(&d, ms.MPI_SOURCE, &u, err);
            free(bytes);
            got = 1;
        }
        if (st != MW_OK)
            continue;
        if (from_local < 0) { /* rank 0's worker is done: wait for the ranks a little */
            if (!got)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
            continue;
        }
        /* rank 0's worker; when nothing came, wait for it (or the ranks) a little */
        struct pollfd p = {.fd = from_local, .events = POLLIN};
        const int ready = poll(&p, 1, got ? 0 : size_ > 1 ? 2 : -1);
        if (ready < 0 && errno != EINTR) {
            st = mw_err_set(err, MW_ERR_BACKEND, "poll: %s", strerror(errno));
        } else if (ready > 0) {
            mw_unit_result u;
            memset(&u, 0, sizeof u);
            const int rd = read_framed(from_local, &u);
            if (rd == 0)
                st = take(&d, -1, &u, err);
            else if (d.to_local >= 0 || rd < 0)
                st = mw_err_set(err, MW_ERR_BACKEND, "rank 0's worker process ended before "
                                "its units were done");
            else
                close(from_local), from_local = -1;
        }
    }
    /* the ranks that were not told to stop are busy: the caller's mw_mpi_end aborts them */
    if (d.to_local >= 0)
        close(d.to_local);
    if (from_local >= 0)
        close(from_local);
    if (st != MW_OK)
        kill(pid, SIGTERM);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (st == MW_OK && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))
        st = mw_err_set(err, MW_ERR_BACKEND, "rank 0's worker process ended badly (%s %d)",
                        WIFSIGNALED(ws) ? "signal" : "exit status",
                        WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
    free(d.order);
    return st;
}

#endif
