/* The smallest layer plugin (mw_plugin.h), built against mwverify::plugin by
 * scripts/test-install.sh: a table with no layers. */
#include <mwverify/mw_plugin.h>

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION,
    .size = sizeof(mwp_plugin),
    .name = "install-smoke",
    .version = "0",
    .n_layers = 0,
    .layers = NULL,
};

const mwp_plugin *mwp_plugin_entry(void) {
    return &plugin;
}
