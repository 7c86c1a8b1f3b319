/* Reading a fuzzed file as a report (fuzz_load.h). A file mw_report_load accepts is one
 * `report summary` prints and `report export` writes, so printing and exporting are part
 * of the check: the reader's range checks are what that code relies on.
 *
 * mw_report_load reads every file in a forked child (h5u_read_isolated), which contains
 * libhdf5's own crashes, loops and damaged state, and this process unpacks the report the
 * child sends (report_wire.h). The fuzzer must still see a sanitizer report on this
 * project's code in that child, and must not count libhdf5's faults there as ours; the
 * child's death callback below tells them apart. */
#include "fuzz_load.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export.h"
#include "fuzz_util.h"
#include "report.h"
#include "suite.h"
#include "summary.h"

static FILE *sink;

void fuzz_summary_init(void)
{
    sink = fopen("/dev/null", "w");
    if (!sink)
        fuzz_fail("cannot open /dev/null");
}
/* Left by the forked read when a sanitizer ended it: on our code, or on libhdf5's fault
 * (the isolation's to contain). */
static char ours[4096], contained[4096];

/* The sanitizers see libhdf5 only where it calls libc (it is not instrumented): a damaged
 * file makes it memcpy past a buffer or ask malloc for exabytes, which a program without
 * ASan survives or reports as an error, and which the forked first read is there to
 * contain. So ASan lets those through as libc would: a huge malloc returns NULL, and a
 * libc call from within libhdf5 is not checked. Our own code is instrumented, and its
 * memcpy is ASan's own, which no suppression touches. ASAN_OPTIONS still overrides. */
const char *__asan_default_options(void);
const char *__asan_default_suppressions(void);

const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

const char *__asan_default_suppressions(void)
{
    return "interceptor_via_lib:libhdf5\n";
}

/* Set by UBSan on each report: one that ends the forked read is on our code, the only code
 * instrumented for it. */
static volatile int ubsan_reported;

void __ubsan_on_report(void);

void __ubsan_on_report(void)
{
    ubsan_reported = 1;
}

/* In the forked read, in place of libFuzzer's callback (which would save the input as a
 * crash from inside the child). Ours: a UBSan report, or an ASan report on a memory
 * access (one with a pc; libhdf5's accesses reach ASan only through the libc calls the
 * suppressions let through). The rest is libhdf5's, for the isolation to contain: an ASan
 * report without a pc (a bad free on a heap libhdf5 had damaged) or ASan's own CHECK
 * failing (libhdf5's memcpy of a terabyte). This process fails on ours after the read. */
static void forked_read_died(void)
{
    const int mine = ubsan_reported || (__asan_report_present() && __asan_get_report_pc());
    int fd = open(mine ? ours : contained, O_WRONLY | O_CREAT, 0600);
    if (fd >= 0)
        close(fd);
}

static void in_child(void)
{
    __sanitizer_set_death_callback(forked_read_died);
    /* Whole reports, to the stderr this process kept: the reader would keep only their
     * last line, and libFuzzer's copy of stderr (-close_fd_mask) would be reopened in a
     * child as a file named .<pid> in the working directory. */
    __sanitizer_set_report_fd((void *)(uintptr_t)fuzz_stderr_fd());
}

void fuzz_load_init(void)
{
    /* libhdf5 1.10 crashes or loops on some damaged files, so the reader first reads in a
     * child with a time limit; a quarter of a second (the seeds read in a few milliseconds)
     * keeps the inputs that make libhdf5 loop cheap, and the fuzzer's own -timeout (30 s)
     * for hangs of ours. A limit the caller set is kept. */
    setenv("MW_READ_TIME_LIMIT", "0.25", 0);
    fuzz_summary_init();
    fuzz_path("forked-read-ours", ours);
    fuzz_path("forked-read-contained", contained);
    if (pthread_atfork(NULL, NULL, in_child) != 0)
        fuzz_fail("pthread_atfork failed");
}

/* libFuzzer's malloc limit is checked in the forked read too, where libhdf5 sizes buffers
 * from 4-byte lengths in the file (up to 4 GiB, never touched, from files of a few KiB):
 * the harness raises it above that unless the command line sets it. */
char **fuzz_load_args(int *argc, char **argv)
{
    for (int i = 1; i < *argc; i++)
        if (strncmp(argv[i], "-malloc_limit_mb=", 17) == 0)
            return argv;
    static char limit[] = "-malloc_limit_mb=8192";
    char **more = calloc((size_t)*argc + 2, sizeof *more);
    if (!more)
        return argv;
    more[0] = argv[0];
    more[1] = limit;
    for (int i = 1; i < *argc; i++)
        more[i + 1] = argv[i];
    (*argc)++;
    return more; /* libFuzzer keeps argv to the end */
}

void fuzz_summarise(const mw_report *r, const char *path)
{
    const mw_suite_def *def = mw_suite_find(r->meta.suite);
    mw_print_report_head(sink, r);
    if (r->n_runs)
        mw_print_report(sink, r, 1);
    if (def)
        def->print(sink, NULL, r, 0);
    mw_json j;
    mw_json_init(&j, sink);
    mw_json_object_begin(&j, NULL);
    mw_json_string(&j, "file", path);
    mw_json_string(&j, "suite", r->meta.suite);
    mw_json_integer(&j, "networks", (long long)r->n_networks);
    if (def)
        def->json(&j, NULL, r, 0);
    mw_json_runs(&j, r);
    mw_json_object_end(&j);
    mw_json_finish(&j);
    /* and report export, every table in both formats */
    mw_err err;
    for (int t = 0; t < MW_N_EXPORT_TABLES; t++)
        for (int fmt = 0; fmt < 2; fmt++)
            mw_report_export(sink, r, (mw_export_table)t, (mw_export_format)fmt, &err);
}

void fuzz_load_one(const uint8_t *data, size_t size)
{
    char path[4096];
    fuzz_write(fuzz_path("input.h5", path), data, size);
    unlink(ours);
    unlink(contained);
    mw_report r;
    mw_err err;
    err.msg[0] = '\0';
    mw_status st = mw_report_load(&r, path, &err);
    if (access(ours, F_OK) == 0)
        fuzz_fail("the reader's forked read died of the sanitizer report above, on this "
                  "project's code; the reader said: %s", err.msg);
    if (access(contained, F_OK) == 0)
        fuzz_note("the report above is libhdf5's, in the reader's forked read: contained (the "
                  "reader said: %.300s)", err.msg);
    if (st == MW_OK) {
        fuzz_summarise(&r, path);
        mw_report_free(&r);
    } else if (!err.msg[0] || !strstr(err.msg, path)) {
        fuzz_fail("refused without a line naming the file: \"%s\"", err.msg);
    }
}
