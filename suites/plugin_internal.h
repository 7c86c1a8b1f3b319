/* What plugin.c and plugin_check.c share (plugin.h is the interface). */
#ifndef MW_PLUGIN_INTERNAL_H
#define MW_PLUGIN_INTERNAL_H

#include "mwverify/mw_plugin.h"
#include "plugin.h"

enum { MW_PLUGIN_MAX_PARAMS = 1 << 16 };

/* A plugin loaded in this process — a child's, never mwverify's own. */
typedef struct mw_plugin_here {
    void *handle;
    const mwp_plugin *plugin;
    const mwp_layer *layer; /* the one named, or NULL */
} mw_plugin_here;

/* dlopen path, check its table (ABI version, size, names, no null operation) and find the
 * layer `name` (NULL: none). MW_ERR_ARG with the reason. Never unloaded: the child ends. */
mw_status mw_plugin_load_here(const char *path, const char *name, mw_plugin_here *out,
                              mw_err *err);

/* The call context of shape s of mw_plugin_shapes in a dtype (32, 64; 0 for MPFR). */
mwp_call mw_plugin_call_for(int shape, int dtype_bits);



#endif
