/* A correct y = 2x layer in a table that claims the next ABI version: mwverify must refuse
 * to load it, saying which version it speaks and which the plugin was built for. */
#include "scale2.h"

static const mwp_layer layers[] = {SCALE2_CORRECT("scale2")};

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION + 1, /* the fault */
    .size = sizeof(mwp_plugin),
    .name = "mwverify-test-bad-abi",
    .version = "1.0",
    .n_layers = 1,
    .layers = layers,
};

const mwp_plugin *mwp_plugin_entry(void)
{
    return &plugin;
}
