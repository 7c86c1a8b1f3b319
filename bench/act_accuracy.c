/* act_accuracy: the float32 engine's tanh, atanh, sech² and cosh² (engine/activations.inc)
 * on every float, or every stride-th, against the correctly rounded values (act_check.c):
 * how many results are not correctly rounded, and the largest error in ulps. A benchmark
 * of accuracy, never a test (all 2^32 floats take minutes; the engine test takes a sample).
 *
 *   act_accuracy [--stride N] [--jobs N] [function ...]     (default: stride 1, 2 jobs, all)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "act_check.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: act_accuracy [--stride N] [--jobs N] [tanh|atanh|sech2|cosh2 ...]\n"
               "  every N-th float bit pattern (default 1: all 2^32 of them) through the\n"
               "  float32 CPU kernels, against the correctly rounded value; --jobs processes\n"
               "  share the range (default 2)\n");
}

static int parse_u32(const char *s, unsigned long lo, unsigned long hi, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || *s == '-' || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* One job's share: count inputs from first, written as one binary record to fd. */
static int run_share(act_check_fn fn, uint32_t first, uint64_t count, uint32_t stride, int fd)
{
    mw_ctx *ctx;
    act_stats acc = {0};
    if (mw_ctx_new(MW_BACKEND_CPU, MW_F32, &ctx) != MW_OK)
        return 3;
    mw_status st = act_check_run(ctx, fn, first, count, stride, &acc);
    if (st != MW_OK)
        fprintf(stderr, "act_accuracy: %s\n", mw_ctx_message(ctx));
    mw_ctx_free(ctx);
    if (st != MW_OK)
        return 3;
    return write(fd, &acc, sizeof acc) == (ssize_t)sizeof acc ? 0 : 3;
}

int main(int argc, char **argv)
{
    unsigned long stride = 1, jobs = 2;
    bool want[ACT_CHECK_COUNT] = {0}, any = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--stride") || !strcmp(argv[i], "--jobs")) {
            unsigned long *v = argv[i][2] == 's' ? &stride : &jobs;
            if (i + 1 == argc || parse_u32(argv[i + 1], 1, v == &jobs ? 64 : 1UL << 31, v)) {
                fprintf(stderr, "act_accuracy: %s needs a number (stride from 1, jobs 1-64)\n",
                        argv[i]);
                return 2;
            }
            i++;
        } else {
            int f = 0;
            while (f < ACT_CHECK_COUNT && strcmp(argv[i], act_check_name((act_check_fn)f)))
                f++;
            if (f == ACT_CHECK_COUNT) {
                fprintf(stderr, "act_accuracy: unknown argument '%s' (try --help)\n", argv[i]);
                return 2;
            }
            want[f] = any = true;
        }
    }
    const uint64_t total = ((uint64_t)1 << 32) / stride;
    printf("float32 tanh family (engine/activations.inc) on %llu floats (every %lu-th bit "
           "pattern), %lu jobs\n", (unsigned long long)total, stride, jobs);
    printf("%-6s %12s %12s %10s %8s %10s  %s\n", "fn", "checked", "misrounded", "by_mpfr",
           "special", "max_ulp", "at");
    int rc = 0;
    for (int f = 0; f < ACT_CHECK_COUNT; f++) {
        if (any && !want[f])
            continue;
        act_stats sum = {0};
        int fds[64];
        pid_t pids[64];
        for (unsigned long j = 0; j < jobs; j++) {
            int p[2];
            if (pipe(p)) {
                perror("act_accuracy: pipe");
                return 3;
            }
            const uint64_t lo = total * j / jobs, hi = total * (j + 1) / jobs;
            pids[j] = fork();
            if (pids[j] < 0) {
                perror("act_accuracy: fork");
                return 3;
            }
            if (pids[j] == 0) {
                close(p[0]);
                _exit(run_share((act_check_fn)f, (uint32_t)(lo * stride), hi - lo,
                                (uint32_t)stride, p[1]));
            }
            close(p[1]);
            fds[j] = p[0];
        }
        for (unsigned long j = 0; j < jobs; j++) {
            act_stats a;
            int status;
            const bool got = read(fds[j], &a, sizeof a) == (ssize_t)sizeof a;
            close(fds[j]);
            if (waitpid(pids[j], &status, 0) < 0 || !WIFEXITED(status) ||
                WEXITSTATUS(status) != 0 || !got) {
                fprintf(stderr, "act_accuracy: a %s job failed\n", act_check_name(f));
                rc = 3;
                continue;
            }
            sum.checked += a.checked;
            sum.misrounded += a.misrounded;
            sum.by_mpfr += a.by_mpfr;
            sum.bad_special += a.bad_special;
            if (a.max_ulp > sum.max_ulp) {
                sum.max_ulp = a.max_ulp;
                sum.worst = a.worst;
            }
        }
        printf("%-6s %12llu %12llu %10llu %8llu %10.4f  %.9g\n", act_check_name(f),
               (unsigned long long)sum.checked, (unsigned long long)sum.misrounded,
               (unsigned long long)sum.by_mpfr, (unsigned long long)sum.bad_special,
               sum.max_ulp, sum.worst);
        fflush(stdout);
        if (sum.bad_special || sum.max_ulp > 1.0)
            rc = rc ? rc : 1;
    }
    return rc;
}
