// What identifies mwverify-cuda.so to the program that loads it (cli/cuda_module.c): the
// version it was built as, which must be the program's own (the module and the program
// share the engine's internal structures).
#include "mw_engine.h"

extern "C" __attribute__((visibility("default"))) const char *const mw_cuda_module_version =
    MW_VERSION;
