/* libFuzzer harness of the report reader: mw_report_load on a file holding the input
 * must give a report or a one-line error naming the file, never a crash, leak or hang.
 * Built twice: fuzz_report, whose seed corpus (fuzz/corpus/report/) is suite reports, and
 * fuzz_dump, whose corpus is gradient dumps (grad --out), read by reports/dump.c. */
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
