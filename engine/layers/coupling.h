/* What the coupling layers share (coupling.c, coupling_affine.c): the two halves of the
 * features a layer conditions on and transforms, as views, and the output activation σ.
 * Engine-internal. */
#ifndef MW_COUPLING_H
#define MW_COUPLING_H

#include "inner.h"

typedef struct halves {
    size_t B, n, h;
    size_t off_a, off_b; /* column offsets of the conditioning and transformed halves */
} halves;

/* Odd layers condition on the first half (a = x[:n/2]), even ones on the second. */
static inline halves halves_of(const mw_layer *l)
{
    halves hv = {l->batch, l->width, l->width / 2, 0, 0};
    int first_conditions = l->index % 2 == 1;
    hv.off_a = first_conditions ? 0 : hv.h;
    hv.off_b = first_conditions ? hv.h : 0;
    return hv;
}

/* A half of a (B, n) buffer, or of every tangent of a (T, B, n) block, as a view. */
static inline mw_view half(const mw_ctx *ctx, const halves *hv, const void *x, size_t off)
{
    return mw_v(x ? mw_at(ctx, x, off) : NULL, (ptrdiff_t)(hv->B * hv->n), (ptrdiff_t)hv->n);
}

static inline mw_status act_sigma(mw_ctx *ctx, const mw_layer *l, mw_ew_op op, mw_dims d,
                                  mw_view out, mw_view a, mw_view b)
{
    return mw_act_apply(ctx, op, l->spec->out_act, l->spec->leaky_slope, d, out, a, b);
}

/* st from checking the reconstructed input x of an inverse: when it is MW_ERR_NONFINITE, the
 * message gains the cause at the first bad element (coupling.c). */
mw_status mw_coupling_explain_inverse(mw_ctx *ctx, const mw_layer *l, const halves *hv,
                                      const void *y, const void *x, mw_status st);

#endif
