/* HDF5 helpers (h5util.h). */
#include "h5util.h"

#include "mw_child.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


void h5u_quiet(void)
{
    static int first = 1;
    if (first) {
        /* No library teardown at exit: a damaged file that libhdf5 1.10 read without a fault
         * can leave its free lists corrupt, and their collection at exit then frees a wild
         * pointer (found by fuzz.report). Such files are read only in a child
         * (h5u_read_isolated); this is the second guard. Every file is closed explicitly;
         * the memory goes back with the process. Must come before the library starts. */
        H5dont_atexit();
        first = 0;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5u_fail(h5u *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    if (w->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err->msg, sizeof w->err->msg, fmt, ap);
        va_end(ap);
        w->err->status = w->on_fail;
    }
    w->failed = 1;
}

int h5u_bad(h5u *w, long long rc, const char *what)
{
    if (rc < 0)
        h5u_fail(w, "HDF5: %s failed", what);
    return w->failed;
}

void h5u_attr_str(h5u *w, hid_t loc, const char *name, const char *v)
{
    if (w->failed)
        return;
    hid_t t = H5Tcopy(H5T_C_S1), s = -1, a = -1;
    if (!h5u_bad(w, t, "H5Tcopy") && !h5u_bad(w, H5Tset_size(t, H5T_VARIABLE), "H5Tset_size") &&
        !h5u_bad(w, H5Tset_cset(t, H5T_CSET_UTF8), "H5Tset_cset") &&
        !h5u_bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT), name)) {
        const char *p = v ? v : "";
        h5u_bad(w, H5Awrite(a, t, &p), name);
    }
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
    if (t >= 0)
        H5Tclose(t);
}

static void attr_num(h5u *w, hid_t loc, const char *name, hid_t type, const void *v)
{
    if (w->failed)
        return;
    hid_t s = -1, a = -1;
    if (!h5u_bad(w, s = H5Screate(H5S_SCALAR), "H5Screate") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT), name))
        h5u_bad(w, H5Awrite(a, type, v), name);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
}

void h5u_attr_f64(h5u *w, hid_t loc, const char *name, double v)
{
    attr_num(w, loc, name, H5T_NATIVE_DOUBLE, &v);
}

void h5u_attr_i64(h5u *w, hid_t loc, const char *name, long long v)
{
    attr_num(w, loc, name, H5T_NATIVE_LLONG, &v);
}

void h5u_attr_u64(h5u *w, hid_t loc, const char *name, unsigned long long v)
{
    attr_num(w, loc, name, H5T_NATIVE_ULLONG, &v);
}

static hid_t open_attr(h5u *w, hid_t loc, const char *name)
{
    if (w->failed)
        return -1;
    htri_t has = H5Aexists(loc, name);
    if (has <= 0) {
        h5u_fail(w, "attribute '%s' missing", name);
        return -1;
    }
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    h5u_bad(w, a, name);
    return a;
}

/* An attribute that must hold one value (a scalar, or an array of one): reading more into
 * one variable would run past it. */
static hid_t open_scalar_attr(h5u *w, hid_t loc, const char *name)
{
    hid_t a = open_attr(w, loc, name), s = a >= 0 ? H5Aget_space(a) : -1;
    if (a >= 0 && (s < 0 || H5Sget_simple_extent_npoints(s) != 1)) {
        h5u_fail(w, "attribute '%s' is not a single value", name);
        H5Aclose(a);
        a = -1;
    }
    if (s >= 0)
        H5Sclose(s);
    return a;
}

void h5u_read_str(h5u *w, hid_t loc, const char *name, char *out, size_t n)
{
    out[0] = '\0';
    hid_t a = open_scalar_attr(w, loc, name), t = -1;
    if (a < 0)
        return;
    if (!h5u_bad(w, t = H5Aget_type(a), name)) {
        if (H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) <= 0) {
            h5u_fail(w, "attribute '%s' is not a string", name);
        } else {
            char *v = NULL;
            if (!h5u_bad(w, H5Aread(a, t, &v), name))
                snprintf(out, n, "%s", v ? v : "");
            H5free_memory(v);
        }
        H5Tclose(t);
    }
    H5Aclose(a);
}

double h5u_read_f64(h5u *w, hid_t loc, const char *name)
{
    double v = 0.0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_DOUBLE, &v), name);
        H5Aclose(a);
    }
    return v;
}

long long h5u_read_i64(h5u *w, hid_t loc, const char *name)
{
    long long v = 0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_LLONG, &v), name);
        H5Aclose(a);
    }
    return v;
}

unsigned long long h5u_read_u64(h5u *w, hid_t loc, const char *name)
{
    unsigned long long v = 0;
    hid_t a = open_scalar_attr(w, loc, name);
    if (a >= 0) {
        h5u_bad(w, H5Aread(a, H5T_NATIVE_ULLONG, &v), name);
        H5Aclose(a);
    }
    return v;
}

hid_t h5u_fixed_str(h5u *w, size_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (!h5u_bad(w, t, "H5Tcopy") && !h5u_bad(w, H5Tset_size(t, n), "H5Tset_size"))
        h5u_bad(w, H5Tset_strpad(t, H5T_STR_NULLTERM), "H5Tset_strpad");
    return t;
}

hid_t h5u_dataset(h5u *w, hid_t loc, const char *name, hid_t type, const hsize_t dims[2],
                  hsize_t chunk, const void *data)
{
    if (w->failed)
        return -1;
    int rank = dims[1] ? 2 : 1;
    hsize_t maxdims[2] = {chunk ? H5S_UNLIMITED : dims[0], dims[1]};
    hsize_t cdims[2] = {chunk, dims[1] ? dims[1] : 1};
    hid_t s = -1, d = -1, dcpl = H5P_DEFAULT;
    if (chunk && !h5u_bad(w, dcpl = H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate"))
        h5u_bad(w, H5Pset_chunk(dcpl, rank, cdims), "H5Pset_chunk");
    if (!h5u_bad(w, s = H5Screate_simple(rank, dims, maxdims), "H5Screate_simple") &&
        !h5u_bad(w, d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT), name) &&
        dims[0] > 0 && data)
        h5u_bad(w, H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    if (s >= 0)
        H5Sclose(s);
    if (dcpl != H5P_DEFAULT && dcpl >= 0)
        H5Pclose(dcpl);
    return d;
}

hid_t h5u_dataset_nd(h5u *w, hid_t loc, const char *name, hid_t type, int rank,
                     const hsize_t *dims, const void *data)
{
    if (w->failed)
        return -1;
    if (rank < 1 || rank > 4) {
        h5u_fail(w, "%s: rank %d", name, rank);
        return -1;
    }
    hsize_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    hid_t s = -1, d = -1;
    if (!h5u_bad(w, s = H5Screate_simple(rank, dims, NULL), "H5Screate_simple") &&
        !h5u_bad(w, d = H5Dcreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                 name) &&
        n > 0 && data)
        h5u_bad(w, H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    if (s >= 0)
        H5Sclose(s);
    return d;
}

void h5u_close_d(hid_t d)
{
    if (d >= 0)
        H5Dclose(d);
}

hid_t h5u_group(h5u *w, hid_t loc, const char *name)
{
    if (w->failed)
        return -1;
    hid_t g = H5Gcreate2(loc, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    h5u_bad(w, g, name);
    return g;
}

void h5u_close_g(hid_t g)
{
    if (g >= 0)
        H5Gclose(g);
}

mw_status h5u_check_path(const char *option, const char *path, int force, int resume,
                         const char *exists_hint, mw_err *err)
{
    struct stat sb;
    char *copy = strdup(path);
    if (!copy)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const char *dir = dirname(copy);
    /* lstat: a symlink is what is at the path, not what it points to */
    int exists = lstat(path, &sb) == 0, is_dir = exists && S_ISDIR(sb.st_mode);
    int regular = exists && S_ISREG(sb.st_mode);
    mw_status st = MW_ERR_ARG;
    if (*path == '\0')
        mw_err_set(err, st, "%s: empty file name", option);
    else if (path[strlen(path) - 1] == '/')
        mw_err_set(err, st, "%s %s: names a directory, not a file", option, path);
    else if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        mw_err_set(err, st, "%s %s: directory %s does not exist", option, path, dir);
    else if (access(dir, W_OK) != 0)
        mw_err_set(err, st, "%s %s: directory %s is not writable", option, path, dir);
    else if (is_dir)
        mw_err_set(err, st, "%s %s: is a directory", option, path);
    else if (exists && !regular)
        mw_err_set(err, st, "%s %s: not a regular file (a symlink, device or pipe); mwverify "
                   "replaces or resumes only regular files", option, path);
    else if (resume && !exists)
        mw_err_set(err, st, "--resume: %s does not exist", path);
    else if (exists && !force && !resume)
        mw_err_set(err, st, "%s %s: %s", option, path, exists_hint);
    else
        st = h5u_claim(option, path, err);
    free(copy);
    return st;
}

/* fsync a path (a file, or the directory holding a rename). */
static int sync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Remove the temporary files a killed writer of path left behind: "<path>.tmp-<pid>-XXXXXX"
 * regular files whose process is gone. Another live writer's file is left alone. */
static void sweep_stale(const char *path)
{
    char *copy = strdup(path), *copy2 = strdup(path);
    const char *where = copy && copy2 ? dirname(copy) : NULL;
    DIR *dir = where ? opendir(where) : NULL;
    if (dir) {
        const char *base = basename(copy2);
        const size_t nb = strlen(base);
        char full[4200];
        for (struct dirent *e; (e = readdir(dir)) != NULL;) {
            char *end;
            if (strncmp(e->d_name, base, nb) != 0 || strncmp(e->d_name + nb, ".tmp-", 5) != 0)
                continue;
            long pid = strtol(e->d_name + nb + 5, &end, 10);
            struct stat sb;
            if (end == e->d_name + nb + 5 || *end != '-' || strlen(end) != 7 || pid <= 0 ||
                (pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH ||
                (size_t)snprintf(full, sizeof full, "%s/%s", where, e->d_name) >=
                    sizeof full ||
                lstat(full, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            unlink(full);
        }
        closedir(dir);
    }
    free(copy), free(copy2);
}

/* The temporary file being written now, for the signal handler to remove (h5u_abandon). */
static char live_tmp[4200];
static volatile sig_atomic_t live_tmp_pid;

/* A new empty file beside path, made exclusively, open for writing: its descriptor. */
static int temp_fd(const char *path, char *tmp, size_t n, mw_err *err)
{
    sweep_stale(path);
    if (snprintf(tmp, n, "%s.tmp-%ld-XXXXXX", path, (long)getpid()) >= (int)n) {
        mw_err_set(err, MW_ERR_ARG, "%s: path too long", path);
        return -1;
    }
    int fd = mkstemp(tmp); /* O_CREAT | O_EXCL, 0600: never an existing name or a symlink */
    if (fd < 0) {
        mw_err_set(err, MW_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                   strerror(errno));
        return -1;
    }
    mode_t mask = umask(0); /* the finished file's mode as any new file's: 0666 less umask */
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        mw_err_set(err, MW_ERR_IO, "%s: cannot set the mode of %s: %s", path, tmp,
                   strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (strlen(tmp) < sizeof live_tmp) {
        live_tmp_pid = 0;
        memcpy(live_tmp, tmp, strlen(tmp) + 1);
        live_tmp_pid = getpid();
    }
    return fd;
}

mw_status h5u_temp_beside(const char *path, char *tmp, size_t n, mw_err *err)
{
    int fd = temp_fd(path, tmp, n, err);
    if (fd < 0)
        return err ? err->status : MW_ERR_IO;
    close(fd);
    return MW_OK;
}

mw_status h5u_finish_temp(const char *path, const char *tmp, mw_err *err)
{
    int fd = open(tmp, O_RDONLY | O_NOFOLLOW);
    mw_status st = MW_OK;
    if (fd < 0 || fsync(fd) != 0)
        st = mw_err_set(err, MW_ERR_IO, "%s: cannot flush %s to disk: %s", path, tmp,
                        strerror(errno));
    if (fd >= 0 && close(fd) != 0 && st == MW_OK)
        st = mw_err_set(err, MW_ERR_IO, "%s: cannot flush %s to disk: %s", path, tmp,
                        strerror(errno));
    if (st == MW_OK && rename(tmp, path) != 0)
        st = mw_err_set(err, MW_ERR_IO, "%s: cannot move the new file into place: %s", path,
                        strerror(errno));
    if (st != MW_OK) {
        unlink(tmp);
    } else {
        char *copy = strdup(path);
        if (copy) { /* the rename itself reaches the disk with its directory */
            sync_path(dirname(copy));
            free(copy);
        }
    }
    live_tmp_pid = 0;
    return st;
}

mw_status h5u_write_bytes_atomic(const char *path, const void *bytes, size_t n, mw_err *err)
{
    char tmp[4200];
    int fd = temp_fd(path, tmp, sizeof tmp, err);
    if (fd < 0)
        return err ? err->status : MW_ERR_IO;
    const char *p = bytes;
    size_t left = n;
    while (left > 0) {
        ssize_t k = write(fd, p, left);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) { /* ENOSPC, EDQUOT, EFBIG, EIO: said, and the old file is left as it was */
            mw_err_set(err, MW_ERR_IO, "%s: writing failed after %zu of %zu bytes: %s", path,
                       n - left, n, k < 0 ? strerror(errno) : "no progress");
            close(fd);
            unlink(tmp);
            live_tmp_pid = 0;
            return MW_ERR_IO;
        }
        p += k, left -= (size_t)k;
    }
    if (close(fd) != 0) {
        mw_err_set(err, MW_ERR_IO, "%s: writing failed: %s", path, strerror(errno));
        unlink(tmp);
        live_tmp_pid = 0;
        return MW_ERR_IO;
    }
    return h5u_finish_temp(path, tmp, err);
}

mw_status h5u_write_atomic(const char *path, h5u_fill_fn fill, void *arg, mw_err *err)
{
    /* HDF5 builds the file in memory (the core driver, no backing store) and the image is
     * written here, every write checked. libhdf5 1.10 never touches the disk: a full disk
     * is one message, where a failed H5Fclose of a file on disk left state that crashed
     * libhdf5's exit handler (SIGSEGV). */
    static unsigned images;
    h5u w = {err, MW_ERR_IO, 0, 0};
    char name[64];
    snprintf(name, sizeof name, "mwverify-image-%ld-%u", (long)getpid(), images++);
    h5u_quiet();
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (h5u_bad(&w, fapl, "H5Pcreate") ||
        h5u_bad(&w, H5Pset_fapl_core(fapl, (size_t)1 << 20, 0), "H5Pset_fapl_core") ||
        h5u_bad(&w, f = H5Fcreate(name, H5F_ACC_EXCL, H5P_DEFAULT, fapl), "H5Fcreate")) {
        if (fapl >= 0)
            H5Pclose(fapl);
        return MW_ERR_IO;
    }
    H5Pclose(fapl);
    fill(&w, f, arg);
    void *image = NULL;
    ssize_t size = -1;
    if (!h5u_bad(&w, H5Fflush(f, H5F_SCOPE_LOCAL), "H5Fflush") &&
        !h5u_bad(&w, size = H5Fget_file_image(f, NULL, 0), "H5Fget_file_image")) {
        image = malloc(size > 0 ? (size_t)size : 1);
        if (!image)
            h5u_fail(&w, "%s: out of memory for the file's image (%zd bytes)", path, size);
        else
            h5u_bad(&w, H5Fget_file_image(f, image, (size_t)size), "H5Fget_file_image");
    }
    h5u_bad(&w, H5Fclose(f), "H5Fclose");
    mw_status st = w.failed ? MW_ERR_IO : h5u_write_bytes_atomic(path, image, (size_t)size, err);
    free(image);
    return st;
}

/* ---- claims: one writer per target ---- */

typedef struct claim {
    char lock[4200];  /* "<path>.lock" */
    int fd;
    pid_t owner;
} claim;

static claim claims[8];
static volatile sig_atomic_t n_claims;

static void release_claims(void)
{
    for (int i = 0; i < n_claims; i++)
        if (claims[i].owner == getpid()) { /* not a forked worker's to remove */
            unlink(claims[i].lock);
            close(claims[i].fd);
            claims[i].owner = 0;
        }
}

void h5u_abandon(void)
{
    for (int i = 0; i < n_claims; i++)
        if (claims[i].owner == getpid())
            unlink(claims[i].lock);
    if (live_tmp_pid == getpid())
        unlink(live_tmp);
}

/* Who holds a lock file: "process N (command line)" from what it wrote there. */
static void holder(int fd, const struct flock *q, char *out, size_t n)
{
    char said[600] = "";
    ssize_t k = pread(fd, said, sizeof said - 1, 0);
    said[k > 0 ? k : 0] = '\0';
    said[strcspn(said, "\n")] = '\0';
    char *cmd = strchr(said, ' ');
    if (q->l_pid > 0)
        snprintf(out, n, "process %ld%s%s%s", (long)q->l_pid, cmd ? " (" : "", cmd ? cmd + 1 : "",
                 cmd ? ")" : "");
    else
        snprintf(out, n, "another process%s%s%s", cmd ? " (" : "", cmd ? cmd + 1 : "",
                 cmd ? ")" : "");
}

/* This process's command line, its words joined by spaces. */
static void own_command(char *out, size_t n)
{
    out[0] = '\0';
    int fd = open("/proc/self/cmdline", O_RDONLY);
    if (fd < 0)
        return;
    ssize_t k = read(fd, out, n - 1);
    close(fd);
    if (k <= 0)
        return;
    for (ssize_t i = 0; i < k; i++)
        if (out[i] == '\0' || out[i] == '\n')
            out[i] = ' ';
    out[k > 0 && out[k - 1] == ' ' ? k - 1 : k] = '\0';
}

mw_status h5u_claim(const char *option, const char *path, mw_err *err)
{
    static int registered;
    claim c = {.fd = -1};
    if (snprintf(c.lock, sizeof c.lock, "%s.lock", path) >= (int)sizeof c.lock)
        return mw_err_set(err, MW_ERR_ARG, "%s %s: path too long", option, path);
    for (int i = 0; i < n_claims; i++)
        if (claims[i].owner == getpid() && strcmp(claims[i].lock, c.lock) == 0)
            return MW_OK; /* this process's already */
    if (n_claims == (int)(sizeof claims / sizeof claims[0]))
        return mw_err_set(err, MW_ERR_ARG, "%s %s: too many files written at once", option, path);
    /* A POSIX record lock on "<path>.lock": the kernel drops it when its process ends, so a
     * killed writer never blocks the next one; the file itself only says who holds it. */
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(c.lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
            return mw_err_set(err, errno == ELOOP ? MW_ERR_ARG : MW_ERR_IO,
                              "%s %s: cannot create its lock file %s: %s", option, path, c.lock,
                              strerror(errno));
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        if (fcntl(fd, F_SETLK, &fl) != 0) {
            int e = errno;
            if (e == EACCES || e == EAGAIN) {
                struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
                char who[700];
                if (fcntl(fd, F_GETLK, &q) != 0)
                    q.l_pid = 0;
                holder(fd, &q, who, sizeof who);
                close(fd);
                return mw_err_set(err, MW_ERR_ARG, "%s %s: being written by %s; wait for it to "
                                  "finish, or write another file", option, path, who);
            }
            close(fd);
            return mw_err_set(err, MW_ERR_IO, "%s %s: cannot lock %s: %s", option, path, c.lock,
                              strerror(e));
        }
        /* the lock holds only if the file is still the one at the name: a writer that
         * finished may have removed it between our open and our lock */
        struct stat a, b;
        if (fstat(fd, &a) == 0 && lstat(c.lock, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            char line[600];
            own_command(line, sizeof line);
            char said[700];
            int len = snprintf(said, sizeof said, "%ld %s\n", (long)getpid(), line);
            if (ftruncate(fd, 0) != 0 || pwrite(fd, said, (size_t)len, 0) != len) {
                /* the lock holds; only the note of who holds it is missing */
            }
            c.fd = fd;
            c.owner = getpid();
            claims[n_claims] = c;
            n_claims = n_claims + 1;
            if (!registered)
                registered = atexit(release_claims) == 0;
            return MW_OK;
        }
        close(fd);
    }
    return mw_err_set(err, MW_ERR_IO, "%s %s: cannot lock %s (it keeps being replaced)", option,
                      path, c.lock);
}

void h5u_unclaim(const char *path)
{
    char lock[4200];
    snprintf(lock, sizeof lock, "%s.lock", path);
    for (int i = 0; i < n_claims; i++)
        if (claims[i].owner == getpid() && strcmp(claims[i].lock, lock) == 0) {
            unlink(claims[i].lock);
            close(claims[i].fd);
            claims[i] = claims[n_claims - 1];
            n_claims = n_claims - 1;
            return;
        }
}

/* ---- reading untrusted files in a child ---- */

static double read_time_limit(const char *path)
{
    const char *env = getenv("MW_READ_TIME_LIMIT");
    char *end;
    double v = env ? strtod(env, &end) : 0.0;
    if (env && *env && *end == '\0' && v >= 0.01 && v < 1e5)
        return v;
    struct stat sb;
    off_t size = stat(path, &sb) == 0 ? sb.st_size : 0;
    return 30.0 + (double)(size / (16 << 20)); /* a legitimate file reads at > 16 MiB/s */
}

#if defined(__SANITIZE_ADDRESS__)
#define MW_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MW_ASAN 1
#endif
#endif

/* The reading child's work: fn on the path. */
typedef struct isolated_read {
    const char *path;
    h5u_read_fn fn;
    void *arg;
} isolated_read;

static mw_status read_in_child(void *argp, void **out, size_t *len, mw_err *err)
{
    const isolated_read *r = argp;
    return r->fn(r->path, r->arg, out, len, err);
}

mw_status h5u_read_isolated(const char *path, h5u_read_fn fn, void *arg, void **bytes, size_t *n,
                            mw_err *err)
{
    *bytes = NULL;
    *n = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return mw_err_set(err, MW_ERR_ARG, "%s: no such file", path);
    const size_t size = sb.st_size > 0 ? (size_t)sb.st_size : 0;
    /* the report it sends is at most 256 MiB and 64 bytes per byte of the file; its
     * address space what it has, 1 GiB and 16 bytes per byte of the file more */
    const mw_child_opts o = {read_time_limit(path), ((size_t)256 << 20) + 64 * size,
                             ((size_t)1 << 30) + 16 * size};
    isolated_read r = {path, fn, arg};
    mw_child_end end;
    mw_err why = {MW_OK, ""};
    mw_status st = mw_child_run(read_in_child, &r, &o, bytes, n, &end, &why);
    char gist[240] = "";
    if (end.said[0])
        snprintf(gist, sizeof gist, "; it said: %.180s", end.said);
    if (st == MW_OK)
        return MW_OK;
    if (end.too_big)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: reading it gave more than a "
                          "file of %zu bytes can hold", path, size);
    if (!end.died) { /* the reader's own verdict, or this process's failure */
        if (err)
            *err = why;
        return st;
    }
    if (end.signal == SIGALRM)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: reading it did not finish in %g s "
                          "(libhdf5 loops on some damaged files; MW_READ_TIME_LIMIT=SECONDS sets "
                          "the limit)", path, o.seconds);
    if (end.signal == SIGKILL || end.signal == SIGTERM || end.signal == SIGINT)
        return mw_err_set(err, MW_ERR_IO, "%s: the process reading it was stopped (%s)", path,
                          strsignal(end.signal));
    if (end.signal)
        return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: libhdf5 crashed reading it (%s)%s",
                          path, strsignal(end.signal), gist);
    return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: the process reading it failed (exit "
                      "status %d)%s", path, end.exit_status, gist);
}

int h5u_rows_fit(h5u *w, const char *dataset, unsigned long long rows, size_t file_row,
                 size_t row_bytes)
{
    if (w->failed)
        return 0;
    /* uncompressed (mwverify writes no filters), a table's rows take their bytes in the file;
     * in memory a row takes row_bytes, which the file's row type cannot make larger than
     * twice the file without declaring more rows than the file holds */
    unsigned long long cap = w->file_bytes ? w->file_bytes : (1ull << 40);
    if ((file_row && rows > cap / file_row) || (row_bytes && rows > (2 * cap + 65536) / row_bytes))
        h5u_fail(w, "dataset '%s' declares %llu rows, more than the file's %llu bytes can hold",
                 dataset, rows, cap);
    return !w->failed;
}

hid_t h5u_open_format(const char *path, const char *const *formats, const long *max_version,
                      int *which, long *version, mw_err *err)
{
    struct stat sb;
    h5u_quiet();
    if (stat(path, &sb) != 0) {
        mw_err_set(err, MW_ERR_ARG, "%s: no such file", path);
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        mw_err_set(err, MW_ERR_ARG, "%s: is a directory", path);
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) { /* a pipe or a device would block or never end */
        mw_err_set(err, MW_ERR_ARG, "%s: not a regular file", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        mw_err_set(err, MW_ERR_FORMAT, "%s: cannot be opened as HDF5 (not an HDF5 file, or "
                   "truncated or damaged)", path);
        return -1;
    }
    char format[64] = "";
    mw_err why;
    h5u w = {&why, MW_ERR_FORMAT, 0, 0};
    if (H5Aexists(f, "format") <= 0) {
        mw_err_set(err, MW_ERR_FORMAT, "%s: not a file of mwverify's (no 'format' attribute)",
                   path);
        H5Fclose(f);
        return -1;
    }
    h5u_read_str(&w, f, "format", format, sizeof format);
    long long v = h5u_read_i64(&w, f, "format_version");
    int k = 0;
    while (formats[k] && strcmp(formats[k], format) != 0)
        k++;
    if (w.failed)
        mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: %s", path, why.msg);
    else if (!formats[k])
        mw_err_set(err, MW_ERR_FORMAT, "%s: format '%s' is not one mwverify reads", path, format);
    else if (v != max_version[k]) /* each version is read by the code that writes it */
        mw_err_set(err, MW_ERR_FORMAT, "%s: %s format version %lld; this mwverify reads version "
                   "%ld (%s)", path, format, v, max_version[k],
                   v > max_version[k] ? "upgrade mwverify to read it"
                                      : "written by an older mwverify: run it again");
    else {
        *which = k;
        *version = (long)v;
        return f;
    }
    H5Fclose(f);
    return -1;
}

void h5u_attr_f64_array(h5u *w, hid_t loc, const char *name, const double *v, size_t n)
{
    if (w->failed)
        return;
    hsize_t dims[1] = {n};
    hid_t s = -1, a = -1;
    if (!h5u_bad(w, s = H5Screate_simple(1, dims, NULL), "H5Screate_simple") &&
        !h5u_bad(w, a = H5Acreate2(loc, name, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT),
                 name) &&
        n > 0)
        h5u_bad(w, H5Awrite(a, H5T_NATIVE_DOUBLE, v), name);
    if (a >= 0)
        H5Aclose(a);
    if (s >= 0)
        H5Sclose(s);
}

void h5u_read_f64_array(h5u *w, hid_t loc, const char *name, double *v, size_t cap, size_t *n)
{
    *n = 0;
    hid_t a = open_attr(w, loc, name), s = -1;
    if (a < 0)
        return;
    hsize_t dims[1] = {0};
    if (h5u_bad(w, s = H5Aget_space(a), name) || H5Sget_simple_extent_ndims(s) != 1 ||
        H5Sget_simple_extent_dims(s, dims, NULL) != 1)
        h5u_fail(w, "attribute '%s' is not a list", name);
    else if (dims[0] > cap)
        h5u_fail(w, "attribute '%s' holds %llu values (at most %zu)", name,
                 (unsigned long long)dims[0], cap);
    else if (dims[0] > 0 && !h5u_bad(w, H5Aread(a, H5T_NATIVE_DOUBLE, v), name))
        *n = (size_t)dims[0];
    if (s >= 0)
        H5Sclose(s);
    H5Aclose(a);
}
