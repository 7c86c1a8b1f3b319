/* The body of the report and dump harnesses (fuzz_report.c, built as both): one reader,
 * mw_report_load, serves suite reports and gradient dumps alike; the harnesses differ in
 * their seed corpus, which decides the path the fuzzer explores. */
#ifndef MW_FUZZ_LOAD_H
#define MW_FUZZ_LOAD_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* Before the first input: MW_READ_TIME_LIMIT for the reader's forked first read, and the
 * watch on that read. */
void fuzz_load_init(void);

/* libFuzzer's command line with the harness's own defaults added (LLVMFuzzerInitialize). */
char **fuzz_load_args(int *argc, char **argv);

/* Write the input to a file, read it with mw_report_load, and when it is accepted print
 * it as `mwverify report summary` does (tables and JSON, into /dev/null) and free it. */
void fuzz_load_one(const uint8_t *data, size_t size);

/* What `mwverify report summary FILE [--per-layer] [--json]` prints of r (cli/cmd_report.c),
 * into /dev/null: the printing code relies on the reader's checks. fuzz_summary_init
 * first (fuzz_load_init calls it). */
void fuzz_summary_init(void);
void fuzz_summarise(const mw_report *r, const char *path);

#endif
