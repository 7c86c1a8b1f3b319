/* Work in a child process (mw_child.h). */
#include "mw_child.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char *doing_page; /* shared with the parent; set in the child only */

void mw_child_doing(const char *fmt, ...)
{
    if (!doing_page)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(doing_page, 96, fmt, ap);
    va_end(ap);
}

const char *mw_signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGILL, "SIGILL"},
                 {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTERM, "SIGTERM"},
                 {SIGPIPE, "SIGPIPE"}, {SIGTRAP, "SIGTRAP"}, {SIGSYS, "SIGSYS"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return "a signal";
}

/* What the child said on stderr: a sanitizer's SUMMARY line (the report of a fault) if
 * there is one, else its last non-empty line. */
static void gist(FILE *f, char *out, size_t n)
{
    char line[512];
    int summary = 0;
    out[0] = '\0';
    if (!f || fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || summary)
            continue;
        summary = strncmp(line, "SUMMARY:", 8) == 0;
        snprintf(out, n, "%.*s", (int)(n - 1), line);
    }
}

/* Address space for what the child has and extra more (a damaged file can make libhdf5
 * ask for terabytes, which a system that overcommits would grant until it kills). */
static void bound_memory(size_t extra)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f)
        return;
    int got = fscanf(f, "%lu", &pages);
    fclose(f);
    if (got != 1)
        return;
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)extra;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap)) {
        rl.rlim_cur = cap;
        setrlimit(RLIMIT_AS, &rl);
    }
}

static _Noreturn void in_child(mw_child_fn fn, void *arg, const mw_child_opts *o, int fd,
                               FILE *said)
{
    const double seconds = o->seconds;
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM, SIGTERM, SIGPIPE};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        signal(fatal[i], SIG_DFL);
    signal(SIGINT, SIG_IGN); /* the parent decides */
    struct rlimit none = {0, 0};
    setrlimit(RLIMIT_CORE, &none);
    if (o->memory_extra)
        bound_memory(o->memory_extra);
    if (said)
        dup2(fileno(said), 2);
    const time_t whole = (time_t)seconds;
    struct itimerval t = {{0, 0}, {whole, (suseconds_t)((seconds - (double)whole) * 1e6)}};
    setitimer(ITIMER_REAL, &t, NULL); /* SIGALRM when it runs out */
    mw_err why;
    memset(&why, 0, sizeof why);
    void *out = NULL;
    size_t len = 0;
    why.status = fn(arg, &out, &len, &why);
    if (why.status != MW_OK)
        len = 0;
    uint64_t n = len;
    if (mw_write_all(fd, &why, sizeof why) || mw_write_all(fd, &n, sizeof n) || mw_write_all(fd, out, len))
        _exit(1);
    _exit(0);
}

mw_status mw_child_run(mw_child_fn fn, void *arg, const mw_child_opts *o, void **out, size_t *n,
                       mw_child_end *end, mw_err *err)
{
    const double seconds = o->seconds;
    const size_t max_bytes = o->max_bytes;
    *out = NULL, *n = 0;
    memset(end, 0, sizeof *end);
    int p[2];
    if (pipe(p) != 0)
        return mw_err_set(err, MW_ERR_IO, "cannot create a pipe: %s", strerror(errno));
    char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        close(p[0]), close(p[1]);
        return mw_err_set(err, MW_ERR_NOMEM, "cannot map a page: %s", strerror(errno));
    }
    page[0] = '\0';
    FILE *said = tmpfile();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]), close(p[1]);
        munmap(page, 4096);
        if (said)
            fclose(said);
        return mw_err_set(err, MW_ERR_IO, "cannot fork: %s", strerror(errno));
    }
    if (pid == 0) {
        close(p[0]);
        doing_page = page;
        in_child(fn, arg, o, p[1], said);
    }
    close(p[1]);
    mw_err why;
    memset(&why, 0, sizeof why);
    uint64_t len = 0;
    char *got = NULL;
    int whole = mw_read_upto(p[0], &why, sizeof why) == sizeof why &&
                mw_read_upto(p[0], &len, sizeof len) == sizeof len;
    int too_big = whole && len > max_bytes, nomem = 0;
    if (whole && !too_big) {
        got = malloc(len ? (size_t)len : 1);
        nomem = !got;
        whole = got && mw_read_upto(p[0], got, (size_t)len) == len;
    }
    if (too_big || nomem)
        kill(pid, SIGKILL);
    close(p[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    snprintf(end->doing, sizeof end->doing, "%.95s", page);
    munmap(page, 4096);
    gist(said, end->said, sizeof end->said);
    if (said)
        fclose(said);
    char in[128] = "";
    if (end->doing[0])
        snprintf(in, sizeof in, " in %s", end->doing);
    if (too_big || nomem) {
        free(got);
        end->too_big = too_big;
        return mw_err_set(err, nomem ? MW_ERR_NOMEM : MW_ERR_BACKEND,
                          "sent %llu bytes, more than the %zu expected", (unsigned long long)len,
                          max_bytes);
    }
    if (WIFSIGNALED(ws) || !whole || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        free(got);
        end->died = 1;
        end->signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
        end->exit_status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        char gist[240] = "";
        if (end->said[0])
            snprintf(gist, sizeof gist, "; it said: %.200s", end->said);
        if (end->signal == SIGALRM)
            return mw_err_set(err, MW_ERR_BACKEND, "did not finish in %g s%s", seconds, in);
        if (end->signal)
            return mw_err_set(err, MW_ERR_BACKEND, "crashed: %s (%s)%s%s", mw_signal_name(end->signal),
                              strsignal(end->signal), in, gist);
        return mw_err_set(err, MW_ERR_BACKEND, "exited with status %d%s%s", end->exit_status, in,
                          gist);
    }
    why.msg[sizeof why.msg - 1] = '\0';
    if (why.status != MW_OK) {
        free(got);
        if (err)
            *err = why;
        return why.status;
    }
    *out = got;
    *n = (size_t)len;
    return MW_OK;
}
