/* The table of the reference's coupling layer types (mw_ref_layers.h): one line per type,
 * its name as mw_coupling_name gives it and the two functions of its file. */
#include <string.h>

#include "ref_internal.h"

static const mw_ref_layer_type table[] = {
    {"additive", ref_additive_forward, ref_additive_reverse}, /* coupling_additive.c */
    {"affine", ref_affine_forward, ref_affine_reverse},       /* coupling_affine.c */
#ifndef MW_REF_INTERVAL /* a plugin's reference passes are MPFR's */
    {"plugin", ref_plugin_forward, ref_plugin_reverse},       /* coupling_plugin.c */
#endif
};

const mw_ref_layer_type *mw_ref_layer_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

size_t mw_ref_layer_types(const mw_ref_layer_type **out)
{
    *out = table;
    return sizeof table / sizeof table[0];
}
