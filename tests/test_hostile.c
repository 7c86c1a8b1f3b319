/* Tests of what a hostile or unlucky user can do to mwverify (issue "nothing lost, nothing
 * crashed, nothing overwritten"): a table of bad inputs, one per kind of option and one per
 * conflict, each asserting exit 2, one line naming the culprit, and nothing written; files
 * that cannot be written (a full disk, simulated by RLIMIT_FSIZE), two writers of one file,
 * damaged reports that crash or hang libhdf5, and SIGINT/SIGTERM in the middle of a suite. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "h5util.h"
#include "mw_reference.h"
#include "oracles.h"
#include "report.h"
#include "testutil.h"

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Lines of stderr that are mwverify's errors ("mwverify CMD: ..."), as opposed to the
 * estimate a long command prints first. */
static int error_lines(const char *s)
{
    int n = 0;
    for (const char *line = s; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "")
        n += strncmp(line, "mwverify ", 9) == 0;
    return n;
}

/* A fresh directory for one test, the test's working directory while it runs. */
static char dir[256];

static void enter_tmpdir(void)
{
    snprintf(dir, sizeof dir, "%s/mwverify-hostile-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
    ck_assert(chdir(dir) == 0);
}

/* The names in the test's directory, sorted, joined by spaces (for "nothing written"). */
static void listing(char *out, size_t n)
{
    DIR *d = opendir(dir);
    ck_assert(d);
    out[0] = '\0';
    size_t used = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s ", e->d_name);
    closedir(d);
}

static void leave_tmpdir(void)
{
    char cmd[300];
    ck_assert(chdir("/") == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert(system(cmd) == 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f && fputs(text, f) >= 0 && fclose(f) == 0);
}

static int file_says(const char *path, const char *text)
{
    char buf[256] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t k = fread(buf, 1, sizeof buf - 1, f);
    buf[k] = '\0';
    fclose(f);
    return strcmp(buf, text) == 0;
}

/* Big-endian 32-bit, for IDX headers. */
static void be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {v >> 24, v >> 16, v >> 8, v};
    ck_assert(fwrite(b, 1, 4, f) == 4);
}

/* An IDX pair (images n x h x w, labels n) under dir/prefix-*-ubyte. */
static void idx_pair(const char *prefix, unsigned n, unsigned h, unsigned w)
{
    char path[128];
    snprintf(path, sizeof path, "%s-images-idx3-ubyte", prefix);
    FILE *f = fopen(path, "wb");
    ck_assert(f);
    be32(f, 0x803), be32(f, n), be32(f, h), be32(f, w);
    for (unsigned i = 0; i < n * h * w; i++)
        ck_assert(fputc((int)(i * 37 % 256), f) != EOF);
    ck_assert(fclose(f) == 0);
    snprintf(path, sizeof path, "%s-labels-idx1-ubyte", prefix);
    f = fopen(path, "wb");
    ck_assert(f);
    be32(f, 0x801), be32(f, n);
    for (unsigned i = 0; i < n; i++)
        ck_assert(fputc((int)(i % 10), f) != EOF);
    ck_assert(fclose(f) == 0);
}

/* ---- the table ---- */

START_TEST(bad_inputs_are_refused_and_nothing_is_written)
{
    enter_tmpdir();
    /* a Fashion-MNIST directory whose test images are smaller than its training images */
    ck_assert(mkdir("fm", 0755) == 0 && chdir("fm") == 0);
    idx_pair("train", 64, 28, 28);
    idx_pair("t10k", 64, 14, 14);
    ck_assert(chdir("..") == 0);
    char fm[300];
    snprintf(fm, sizeof fm, "fashion-mnist:%s/fm", dir);
    const struct {
        const char *args[10];
        const char *must[2]; /* substrings of the one error line */
    } cases[] = {
        /* duplicates and gaps in lists, one per kind of list */
        {{"suite", "stability", "--dtype", "f32,f32"}, {"'f32' given twice", NULL}},
        {{"suite", "gradcheck", "--depth", "2,2"}, {"given twice", NULL}},
        {{"suite", "gradcheck", "--seed", "1,1"}, {"given twice", NULL}},
        {{"suite", "gradcheck", "--f-act", "relu,relu"}, {"given twice", NULL}},
        {{"suite", "gradcheck", "--init-scale", "1,1"}, {"given twice", NULL}},
        {{"suite", "gradcheck", "--depth", "1,,2"}, {"empty item", NULL}},
        {{"suite", "gradcheck", "--seed", "1,"}, {"empty item", NULL}},
        /* conflicts */
        {{"grad", "--bn", "--no-bn"}, {"--bn and --no-bn", NULL}},
        {{"suite", "stability", "--arch", "mlp", "--arch", "revnet"}, {"--arch", "twice"}},
        {{"suite", "stability", "--dataset", "fashion-mnist", "--width", "64"},
         {"--width", "set by the dataset"}},
        {{"suite", "stability", "--preset", "real", "--classes", "3"}, {"--classes", "dataset"}},
        {{"suite", "gradcheck", "--force", "--resume"}, {"--force", "--resume"}},
        {{"suite", "gradcheck", "--out", "j.h5", "--junit", "./j.h5"}, {"--junit", "same file"}},
        /* one per kind of value */
        {{"grad", "--width", "1e3"}, {"--width 1e3", NULL}},                  /* integer */
        {{"grad", "--seed", "18446744073709551616"}, {"--seed", NULL}},        /* u64 */
        {{"grad", "--init-scale", "inf"}, {"--init-scale inf", NULL}},         /* real */
        {{"layer", "check", "additive", "--factor", "nan"}, {"--factor nan", "[1, "}},
        {{"suite", "gradcheck", "--dtype", "f32,f128"}, {"f128", "f64"}},      /* enum list */
        {{"grad", "--coupling", "multiplicative"}, {"multiplicative", "additive"}},
        {{"suite", "stability", "--time-budget", "5parsecs"}, {"--time-budget", "unit"}},
        {{"grad", "--budget", "-1"}, {"--budget -1", NULL}},                   /* GFLOP */
        {{"grad", "--arch", "revnet", "--image", "8x"}, {"--image 8x", NULL}}, /* HxW */
        {{"grad", "--out", ""}, {"--out", "empty"}},                           /* path */
        {{"grad", "--out", "sub/"}, {"--out sub/", "directory"}},
        {{"suite", "gradcheck", "--jobs", "two"}, {"--jobs two", NULL}},
        /* data that does not fit together */
        {{"suite", "stability", "--dataset", fm, "--train-samples", "8", "--test-samples", "8"},
         {"test images 14x14", "training images are 28x28"}},
        /* files that are not reports */
        {{"report", "summary", "fm/train-images-idx3-ubyte"}, {"train-images-idx3-ubyte", "HDF5"}},
        {{"report", "summary", "fm"}, {"fm", "directory"}},
        {{"report", "summary", "/dev/zero"}, {"/dev/zero", "not a regular file"}},
        {{"suite", "gradcheck", "--resume", "--out", "none.h5"}, {"none.h5", "does not exist"}},
    };
    const int n = (int)(sizeof cases / sizeof cases[0]);
    char before[1024], after[1024];
    listing(before, sizeof before);
    for (int i = 0; i < n; i++) {
        tu_run_result r = tu_run(MW_BINARY, cases[i].args);
        ck_assert_msg(r.code == 2, "case %d (%s %s %s): exit %d, stderr: %s", i, cases[i].args[0],
                      cases[i].args[1], cases[i].args[2] ? cases[i].args[2] : "", r.code, r.err);
        ck_assert_msg(count_lines(r.err) == 1, "case %d: stderr is not one line: %s", i, r.err);
        ck_assert_msg(r.out[0] == '\0', "case %d wrote to stdout: %s", i, r.out);
        for (int k = 0; k < 2; k++)
            ck_assert_msg(!cases[i].must[k] || strstr(r.err, cases[i].must[k]),
                          "case %d: '%s' not in: %s", i, cases[i].must[k], r.err);
        listing(after, sizeof after);
        ck_assert_msg(strcmp(before, after) == 0, "case %d wrote files: before '%s', after '%s'",
                      i, before, after);
        tu_run_free(&r);
    }
    leave_tmpdir();
}
END_TEST

/* The largest --oracle-bits allowed is one gold can use: it builds its certification
 * re-run 64 bits finer, and the reference takes that. */
START_TEST(oracle_bits_limit_is_usable)
{
    mw_spec s = tu_small_spec(1, MW_ACT_RELU, MW_ACT_IDENTITY, 0, 1);
    mw_ref *r = NULL;
    char msg[256];
    ck_assert_msg(mw_ref_new(&s, MW_REF_MAX_BITS + MW_GOLD_CHECK_EXTRA_BITS, &r, msg, sizeof msg) == 0,
                  "%s", msg);
    mw_ref_free(r);
    ck_assert(mw_ref_new(&s, MW_REF_MAX_BITS + MW_GOLD_CHECK_EXTRA_BITS + 1, &r, msg, sizeof msg) != 0);
}
END_TEST

/* ---- writing when the disk is full ---- */

/* Start mwverify with args, its stdout thrown away and its stderr into *e; with limit > 0
 * its files are limited to limit bytes (writes past it fail with EFBIG, as on a full disk,
 * SIGXFSZ being ignored). */
static pid_t start(const char *const *args, rlim_t limit, FILE **e)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = (char *)MW_BINARY;
    for (; *args && argc < 39; args++)
        argv[argc++] = (char *)*args;
    argv[argc] = NULL;
    *e = tmpfile();
    ck_assert(*e);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(fileno(*e), 2);
        if (limit > 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {limit, limit};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        execv(MW_BINARY, argv);
        _exit(127);
    }
    return pid;
}

/* Wait for it: its exit code (128 + signal if killed), its stderr in err. */
static int finish(pid_t pid, FILE *e, char *err, size_t n)
{
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    rewind(e);
    size_t k = fread(err, 1, n - 1, e);
    err[k] = '\0';
    fclose(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_limited(const char *const *args, rlim_t limit, char *err, size_t n)
{
    FILE *e;
    pid_t pid = start(args, limit, &e);
    return finish(pid, e, err, n);
}

START_TEST(a_full_disk_is_one_line_and_exit_3)
{
    enter_tmpdir();
    char err[4096], before[1024], after[1024];
    /* a dump of about 1 MB against a limit of 64 KB, over a file that must survive */
    write_file("d.h5", "precious\n");
    int code = run_limited((const char *[]){"grad", "--width", "64", "--depth", "8", "--out",
                                            "d.h5", "--force", NULL},
                           64 << 10, err, sizeof err);
    ck_assert_msg(code == 3 && error_lines(err) == 1 && strstr(err, "d.h5") &&
                      strstr(err, "File too large"),
                  "exit %d: %s", code, err);
    ck_assert(file_says("d.h5", "precious\n"));
    listing(after, sizeof after);
    ck_assert_msg(strcmp(after, "d.h5 ") == 0, "left behind: %s", after);

    /* a suite report: the first commit is small, a later one fails */
    code = run_limited((const char *[]){"suite", "gradcheck", "--arch", "mlp", "--depth", "1,2",
                                        "--seed", "1,2", "--quiet", "--out", "r.h5", NULL},
                       24 << 10, err, sizeof err);
    ck_assert_msg(code == 3 && strstr(err, "r.h5") && strstr(err, "File too large") &&
                      error_lines(err) == 1,
                  "exit %d: %s", code, err);

    /* a figure PLplot writes itself: cut short, it must not replace the old one */
    tu_run_result r = tu_run(MW_BINARY, (const char *[]){"suite", "gradcheck", "--arch", "mlp",
                                                         "--depth", "1,2", "--seed", "1", "--quiet",
                                                         "--out", "small.h5", NULL});
    ck_assert_msg(r.code == 0 || r.code == 1, "%s", r.err);
    tu_run_free(&r);
    write_file("fig.png", "old figure\n");
    listing(before, sizeof before);
    code = run_limited((const char *[]){"report", "plot", "small.h5", "--out", "fig.png", NULL},
                       4 << 10, err, sizeof err);
    ck_assert_msg(code == 3 && error_lines(err) == 1 && strstr(err, "fig.png"), "exit %d: %s",
                  code, err);
    ck_assert(file_says("fig.png", "old figure\n"));
    listing(after, sizeof after);
    ck_assert_msg(strcmp(before, after) == 0, "before '%s', after '%s'", before, after);

    /* standard output that cannot be written */
    int null = open("/dev/full", O_WRONLY);
    if (null >= 0) { /* where the system has /dev/full */
        close(null);
        const char *cmds[][6] = {{"--version"}, {"layer", "list"}, {"report", "summary", "small.h5"},
                                 {"grad", "--width", "8", "--depth", "2"}};
        for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
            char line[512] = "";
            size_t used = 0;
            for (int k = 0; k < 6 && cmds[i][k]; k++)
                used += (size_t)snprintf(line + used, sizeof line - used, " %s", cmds[i][k]);
            char sh[1024];
            snprintf(sh, sizeof sh, "'%s'%s > /dev/full 2> err.txt", MW_BINARY, line);
            int st = system(sh);
            ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 3, "%s: exit %d", line,
                          WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        }
    }
    leave_tmpdir();
}
END_TEST

/* ---- one writer per file ---- */

START_TEST(a_second_writer_is_refused)
{
    enter_tmpdir();
    mw_err e;
    /* this process claims r.h5 as a running suite would */
    ck_assert_msg(mw_report_check_path("r.h5", 0, 0, &e) == MW_OK, "%s", e.msg);
    char mine[32];
    snprintf(mine, sizeof mine, "process %ld", (long)getpid());
    const char *const *cmds[] = {
        (const char *[]){"grad", "--out", "r.h5", NULL},
        (const char *[]){"suite", "gradcheck", "--arch", "mlp", "--depth", "1", "--out", "r.h5", NULL},
        (const char *[]){"layer", "check", "additive", "--out", "r.h5", NULL},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        tu_run_result r = tu_run(MW_BINARY, cmds[i]);
        ck_assert_msg(r.code == 2 && error_lines(r.err) == 1 && strstr(r.err, "being written by") &&
                          strstr(r.err, mine),
                      "%s: exit %d: %s", cmds[i][0], r.code, r.err);
        tu_run_free(&r);
    }
    struct stat sb;
    ck_assert(stat("r.h5", &sb) != 0 && errno == ENOENT);
    /* a lock file that is a symlink is not followed */
    ck_assert(symlink("/nonexistent-target", "s.h5.lock") == 0);
    tu_run_result r = tu_run(MW_BINARY, (const char *[]){"grad", "--out", "s.h5", NULL});
    ck_assert_msg(r.code == 2 && error_lines(r.err) == 1 && strstr(r.err, "lock"), "exit %d: %s",
                  r.code, r.err);
    tu_run_free(&r);
    /* a writer that died leaves its lock file, which binds nobody */
    write_file("k.h5.lock", "999999 mwverify suite gradcheck --out k.h5\n");
    r = tu_run(MW_BINARY, (const char *[]){"grad", "--width", "8", "--depth", "1", "--out", "k.h5",
                                           NULL});
    ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
    tu_run_free(&r);
    ck_assert_msg(stat("k.h5.lock", &sb) != 0, "the finished writer left its lock file");
    leave_tmpdir();
}
END_TEST

/* ---- damaged reports ---- */

/* report summary on every file of a deterministic mutation of a small report: exit 0, or
 * exit 2 with one line; never a signal, a hang or another code. */
START_TEST(damaged_reports_are_one_line_and_exit_2)
{
    enter_tmpdir();
    setenv("MW_READ_TIME_LIMIT", "5", 1);
    tu_run_result r = tu_run(MW_BINARY, (const char *[]){"grad", "--width", "4", "--depth", "1",
                                                         "--out", "base.h5", NULL});
    ck_assert_msg(r.code == 0, "%s", r.err);
    tu_run_free(&r);
    FILE *f = fopen("base.h5", "rb");
    ck_assert(f && fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    unsigned char *base = malloc((size_t)size), *b = malloc((size_t)size);
    ck_assert(base && b && fseek(f, 0, SEEK_SET) == 0 && fread(base, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    uint64_t seed = tu_seed();
    int damaged = 0;
    const int trials = 40;
    for (int t = 0; t < trials; t++) {
        memcpy(b, base, (size_t)size);
        int flips = 1 + (int)(mw_splitmix64(seed + 1000u * (uint64_t)t) % 16);
        for (int k = 0; k < flips; k++) {
            uint64_t x = mw_splitmix64(seed + 1000u * (uint64_t)t + 1u + (uint64_t)k);
            b[x % (uint64_t)size] = (unsigned char)(x >> 40);
        }
        f = fopen("m.h5", "wb");
        ck_assert(f && fwrite(b, 1, (size_t)size, f) == (size_t)size && fclose(f) == 0);
        r = tu_run(MW_BINARY, (const char *[]){"report", "summary", "m.h5", NULL});
        ck_assert_msg(r.code == 0 || (r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "m.h5")),
                      "seed %llu, trial %d: exit %d: %s", (unsigned long long)seed, t, r.code, r.err);
        damaged += r.code == 2;
        tu_run_free(&r);
    }
    ck_assert_msg(damaged > 0, "no mutation was noticed (seed %llu)", (unsigned long long)seed);
    free(base), free(b);
    leave_tmpdir();
}
END_TEST

/* Inputs found by flipping bytes of a small dump: two crashed libhdf5 1.10 (SIGSEGV), one
 * (a single byte of an object header changed) made it touch gigabytes for seconds, where
 * the intact file reads in 0.05 s. Each is a clear "damaged" line and exit 2. */
START_TEST(libhdf5_crashes_and_hangs_are_contained)
{
    static const char *const files[] = {MW_HOSTILE_DIR "/hdf5-segv-1.h5",
                                        MW_HOSTILE_DIR "/hdf5-segv-2.h5",
                                        MW_HOSTILE_DIR "/hdf5-slow-1.h5"};
    setenv("MW_READ_TIME_LIMIT", "2", 1);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (access(files[i], R_OK) != 0)
            ck_abort_msg("missing regression file %s", files[i]);
        tu_run_result r = tu_run(MW_BINARY, (const char *[]){"report", "summary", files[i], NULL});
        ck_assert_msg(r.code == 2 && count_lines(r.err) == 1 && strstr(r.err, "damaged"),
                      "%s: exit %d: %s", files[i], r.code, r.err);
        tu_run_free(&r);
    }
}
END_TEST

/* The reading child's outcomes, each with a reader made to behave so. */
static mw_status reads_fine(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)path, (void)arg, (void)err;
    char *b = malloc(100000);
    for (size_t i = 0; b && i < 100000; i++)
        b[i] = (char)(i * 7 + 3);
    *out = b, *len = b ? 100000 : 0;
    return b ? MW_OK : MW_ERR_NOMEM;
}

static mw_status says_damaged(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)arg, (void)out, (void)len;
    return mw_err_set(err, MW_ERR_FORMAT, "%s: damaged: attribute 'x' missing", path);
}

static mw_status crashes(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)path, (void)arg, (void)err, (void)out, (void)len;
    raise(SIGSEGV);
    return MW_OK;
}

static mw_status loops(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)path, (void)arg, (void)err, (void)out, (void)len;
    for (;;)
        pause();
    return MW_OK;
}

static mw_status exits(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)path, (void)arg, (void)err, (void)out, (void)len;
    _exit(1);
}

/* Claims more bytes than any file of its size could give (the pages are never touched). */
static mw_status gives_too_much(const char *path, void *arg, void **out, size_t *len, mw_err *err)
{
    (void)arg, (void)err;
    struct stat sb;
    stat(path, &sb);
    *len = ((size_t)256 << 20) + 64 * (size_t)sb.st_size + 1;
    *out = malloc(*len);
    return *out ? MW_OK : MW_ERR_NOMEM;
}

START_TEST(the_reading_child_is_contained)
{
    const char *path = MW_HOSTILE_DIR "/hdf5-segv-1.h5"; /* any regular file */
    mw_err e = {MW_OK, ""};
    void *b = NULL;
    size_t n = 0;
    setenv("MW_READ_TIME_LIMIT", "1", 1);
    ck_assert(h5u_read_isolated(path, reads_fine, NULL, &b, &n, &e) == MW_OK && n == 100000);
    for (size_t i = 0; i < n; i++)
        ck_assert(((char *)b)[i] == (char)(i * 7 + 3));
    free(b);
    ck_assert(h5u_read_isolated(path, says_damaged, NULL, &b, &n, &e) == MW_ERR_FORMAT &&
              strstr(e.msg, "attribute 'x' missing") && !b && n == 0);
    ck_assert(h5u_read_isolated(path, crashes, NULL, &b, &n, &e) == MW_ERR_FORMAT &&
              strstr(e.msg, "crashed") && strstr(e.msg, "damaged") && !b);
    ck_assert_msg(h5u_read_isolated(path, loops, NULL, &b, &n, &e) == MW_ERR_FORMAT &&
                      strstr(e.msg, "did not finish in 1 s"),
                  "%s", e.msg);
    ck_assert(h5u_read_isolated(path, exits, NULL, &b, &n, &e) == MW_ERR_FORMAT &&
              strstr(e.msg, "exit status 1") && !b);
    ck_assert_msg(h5u_read_isolated(path, gives_too_much, NULL, &b, &n, &e) == MW_ERR_FORMAT &&
                      strstr(e.msg, "more than a file of") && !b,
                  "%s", e.msg);
    ck_assert(h5u_read_isolated(MW_HOSTILE_DIR "/no-such.h5", reads_fine, NULL, &b, &n, &e) ==
              MW_ERR_ARG);
}
END_TEST

/* ---- signals ---- */

/* Start a suite, wait until its report holds a network, send sig; the exit code and
 * stderr. 0 when the suite finished before the signal could be sent. */
static int interrupt_suite(const char *const *args, int sig, char *err, size_t n)
{
    FILE *e;
    pid_t pid = start(args, 0, &e);
    int sent = 0;
    while (!sent) {
        siginfo_t info;
        memset(&info, 0, sizeof info);
        ck_assert(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0);
        if (info.si_pid == pid)
            break; /* it ended before the signal */
        mw_report rep;
        mw_err me;
        if (access("s.h5", R_OK) == 0 && mw_report_load(&rep, "s.h5", &me) == MW_OK) {
            int some = rep.n_networks > 0;
            mw_report_free(&rep);
            if (some) {
                kill(pid, sig);
                sent = 1;
            }
        }
        usleep(20000);
    }
    int code = finish(pid, e, err, n);
    return sent ? code : 0;
}

START_TEST(signals_stop_commit_and_say_how_to_resume)
{
    enter_tmpdir();
    static const struct {
        int sig, jobs;
    } runs[] = {{SIGINT, 1}, {SIGTERM, 2}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        char jobs[8], err[4096];
        snprintf(jobs, sizeof jobs, "%d", runs[i].jobs);
        int code = 0;
        /* a grid long enough to be interrupted (the signal goes as soon as one network is
         * in; a larger grid if this one finished first) */
        const char *seeds[] = {"1,2,3,4,5,6,7,8", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"};
        for (int t = 0; t < 2 && code == 0; t++) {
            unlink("s.h5");
            code = interrupt_suite((const char *[]){"suite", "gradcheck", "--arch", "mlp", "--depth",
                                                    "2,4", "--f-act", "relu", "--out-act",
                                                    "none,tanh", "--seed", seeds[t], "--jobs", jobs,
                                                    "--quiet", "--out", "s.h5", NULL},
                                   runs[i].sig, err, sizeof err);
        }
        ck_assert_msg(code != 0, "signal %d: the suite finished before it could be interrupted",
                      runs[i].sig);
        ck_assert_msg(code == 128 + runs[i].sig, "signal %d: exit %d: %s", runs[i].sig, code, err);
        const char *last = err + strlen(err);
        while (last > err && last[-1] == '\n')
            last--;
        while (last > err && last[-1] != '\n')
            last--;
        ck_assert_msg(strstr(last, "s.h5") && strstr(last, "--resume") &&
                          strstr(last, runs[i].sig == SIGINT ? "SIGINT" : "SIGTERM"),
                      "last line: %s", last);
        mw_report rep;
        mw_err me;
        ck_assert_msg(mw_report_load(&rep, "s.h5", &me) == MW_OK, "%s", me.msg);
        size_t had = rep.n_networks;
        mw_report_free(&rep);
        /* the line's own command finishes the report */
        const char *cmd = strstr(last, "to finish it: mwverify ");
        size_t total = 0;
        const char *of = strstr(last, " of ");
        ck_assert(cmd && of && sscanf(of, " of %zu networks", &total) == 1);
        cmd += strlen("to finish it: mwverify ");
        char sh[2048];
        snprintf(sh, sizeof sh, "'%s' %.*s > /dev/null 2> resume.txt", MW_BINARY,
                 (int)strcspn(cmd, "\n"), cmd);
        int st = system(sh);
        ck_assert_msg(WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 1), "%s: %d", sh, st);
        ck_assert_msg(mw_report_load(&rep, "s.h5", &me) == MW_OK, "%s", me.msg);
        ck_assert_msg(had < total && rep.n_networks == total, "%zu networks after %zu (of %zu)",
                      rep.n_networks, had, total);
        mw_report_free(&rep);
        struct stat sb;
        ck_assert(stat("s.h5.lock", &sb) != 0);
    }
    leave_tmpdir();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostile");
    TCase *tc = tcase_create("inputs");
    tcase_add_test(tc, bad_inputs_are_refused_and_nothing_is_written);
    tcase_add_test(tc, oracle_bits_limit_is_usable);
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);
    tc = tcase_create("writers");
    tcase_add_test(tc, a_full_disk_is_one_line_and_exit_3);
    tcase_add_test(tc, a_second_writer_is_refused);
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);
    tc = tcase_create("readers");
    tcase_add_test(tc, damaged_reports_are_one_line_and_exit_2);
    tcase_add_test(tc, libhdf5_crashes_and_hangs_are_contained);
    tcase_add_test(tc, the_reading_child_is_contained);
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);
    tc = tcase_create("signals");
    tcase_add_test(tc, signals_stop_commit_and_say_how_to_resume);
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);
    return tu_main(s);
}
