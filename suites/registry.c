/* The registry of suites (suite.h): one entry per suite, in the order `mwverify suite
 * --help` lists them. A new suite is a file with its mw_suite_def, and a line here. */
#include "suite.h"

extern const mw_suite_def mw_stability_suite, mw_gradcheck_suite, mw_memory_suite,
    mw_timing_suite, mw_layers_suite;

const mw_suite_def *const mw_suites[] = {
    &mw_stability_suite, &mw_gradcheck_suite, &mw_memory_suite, &mw_timing_suite,
    &mw_layers_suite,    NULL,
};
