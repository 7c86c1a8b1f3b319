/* JUnit XML for CI systems (Jenkins, GitLab, GitHub's test reporters): one testsuite per
 * command, one testcase per run of a suite or check of a layer, a failure with its reason
 * for each that failed, skipped for each that did not run. Written with libxml2, into a
 * temporary file renamed into place, so that a reader never sees half a file. */
#ifndef MW_JUNIT_H
#define MW_JUNIT_H

#include <stddef.h>

#include "report.h"

typedef struct mw_junit_case {
    char classname[160];       /* mwverify.<suite>.<cell>: how CI systems group cases */
    char name[200];
    double seconds;            /* NaN: not said */
    mw_verdict verdict;        /* pass, fail or skip (none: written as passed) */
    char message[700];         /* the reason of a failure or skip */
} mw_junit_case;

/* The testcases of a report's runs: one per run, named by its cell, method and dtype
 * (*out is malloc'd; NULL with n 0 when there are no runs). */
mw_status mw_junit_runs(const mw_report *r, mw_junit_case **out, size_t *n, mw_err *err);

/* Before any work: path's directory must be writable; an existing file is refused unless
 * force. */
mw_status mw_junit_check_path(const char *path, int force, mw_err *err);
/* Write the testsuite `suite` of n cases to path (replacing it). */
mw_status mw_junit_write(const char *path, const char *suite, const mw_junit_case *cases,
                         size_t n, double seconds, mw_err *err);

#endif
