/* libFuzzer harness of what the report reader's child sends (reports/report_wire.h):
 * mw_report_unpack on the input must give a report every field table accepts, which
 * `report summary` then prints, or a one-line refusal; never a crash, leak or hang. The
 * child is this program, so the bytes are normally well formed; the harness is there for
 * a child whose libhdf5 a damaged file has corrupted into sending anything at all.
 *
 * `fuzz_wire --pack REPORT OUT` writes the bytes the child would send for REPORT (a suite
 * report or a gradient dump): fuzz/make-corpus.sh makes the seeds that way. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_load.h"
#include "fuzz_util.h"
#include "report_wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int pack(const char *in, const char *out)
{
    mw_report r;
    mw_err err;
    void *bytes = NULL;
    size_t n = 0;
    if (mw_report_load(&r, in, &err) != MW_OK) {
        fprintf(stderr, "fuzz_wire: %s\n", err.msg);
        return 2;
    }
    int bad = mw_report_pack(&r, &bytes, &n) != MW_OK;
    mw_report_free(&r);
    FILE *f = bad ? NULL : fopen(out, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_wire: %s: cannot write it\n", out);
        free(bytes);
        return 3;
    }
    free(bytes);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc == 4 && strcmp((*argv)[1], "--pack") == 0)
        exit(pack((*argv)[2], (*argv)[3]));
    fuzz_init();
    fuzz_summary_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the child's bytes arrive in a malloc'd buffer, aligned as the structures need */
    void *bytes = malloc(size ? size : 1);
    if (!bytes)
        return 0;
    memcpy(bytes, data, size);
    mw_report r;
    mw_err err;
    err.msg[0] = '\0';
    mw_status st = mw_report_unpack(&r, bytes, size, &err);
    if (st == MW_OK)
        fuzz_summarise(&r, "wire");
    else if (!err.msg[0] || strchr(err.msg, '\n'))
        fuzz_fail("refused without one line: \"%s\"", err.msg);
    mw_report_free(&r);
    free(bytes);
    return 0;
}
