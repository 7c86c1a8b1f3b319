/* The reference's coupling layer types (docs/architecture.md §2 and its affine extension): one file
 * per type, coupling_<name>.c, each giving the forward and the reverse pass of one coupling
 * layer in MPFR, and one table (layers.c) that the network code dispatches through.
 *
 * Adding a coupling type to the reference = one file implementing forward and reverse
 * with the shared pieces of ref_internal.h (F, σ, the halves) + one line in the table of
 * layers.c (and the two functions' prototypes in ref_internal.h). Nothing else in reference/ changes:
 * F's units, BN, ψ, the head and the loss do not depend on the coupling type, except
 * that F's last unit is as wide as mw_spec_unit_shape says. */
#ifndef MW_REF_LAYERS_H
#define MW_REF_LAYERS_H

#include <stddef.h>

#include "mw_reference.h"

typedef struct mw_ref_layer_type {
    const char *name; /* "additive", "affine": the names mw_coupling_name gives */
    /* Forward of coupling layer l from its input (x_{l-1}, or ψ of it where a block
     * begins) to its output x_l, keeping what reverse needs (F's units, pre-σ z). */
    int (*forward)(mw_ref *r, int l, char *msg, size_t msg_len);
    /* Reverse of coupling layer l after its forward: from the cotangent at its output to
     * the cotangent at its input, writing the layer's parameter gradient (each parameter
     * belongs to one layer, so writing is adding to the zero it starts from). Where the
     * cotangents live: ref_internal.h. */
    int (*reverse)(mw_ref *r, int l, char *msg, size_t msg_len);
} mw_ref_layer_type;

/* The type of this name, or NULL. */
const mw_ref_layer_type *mw_ref_layer_type_find(const char *name);
/* The table: *out its first entry; returns the number of entries. */
size_t mw_ref_layer_types(const mw_ref_layer_type **out);

#endif
