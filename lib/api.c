/* libmwverify's public API (include/mwverify/mwverify.h). Only the functions named mwv_*
 * are exported (libmwverify.map); the module libraries linked in stay internal. */
#include <mwverify/mwverify.h>

const char *mwv_version(void) {
    return MWVERIFY_VERSION;
}

int mwv_plugin_abi_version(void) {
    return MWP_ABI_VERSION;
}
