/* libmwverify's public API: what a program of your own (a test in your CI, say) may call.
 * Layer plugins need none of it: they implement mw_plugin.h and mwverify loads them. */
#ifndef MWVERIFY_MWVERIFY_H
#define MWVERIFY_MWVERIFY_H

#include <stddef.h>

#include "mw_plugin.h"
#include "mwverify_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (the headers' MWVERIFY_VERSION is the
 * version they came with). */
const char *mwv_version(void);
/* The plugin ABI version this library loads (the headers' MWP_ABI_VERSION). */
int mwv_plugin_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif
