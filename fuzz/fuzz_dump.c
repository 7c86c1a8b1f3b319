/* libFuzzer harness of the gradient-dump reader (reports/dump.c, mw_dump_read, reached
 * through mw_report_load as `report summary` reads a dump): a report of one network or a
 * one-line error, never a crash, leak or hang. The same body as fuzz_report.c; its own
 * harness so that its corpus (fuzz/corpus/dump/, files of grad --out) keeps it on that path. */
#include <stdint.h>

#include "fuzz_load.h"
#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    *argv = fuzz_load_args(argc, *argv);
    fuzz_load_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_load_one(data, size);
    return 0;
}
