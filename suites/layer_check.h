/* `mwverify layer check` (DESIGN.md §6; docs/adding-a-layer.md): every operation of a layer
 * type of the registry — forward, inverse, jvp, vjp, vijp — against the MPFR reference
 * and against the identities that tie them together, over a small grid of shapes,
 * activations, input scales (one near saturation) and dtypes; then the six methods on a
 * small network of that layer against gold. Each check has a threshold derived from the
 * operation (below), and reports its error and the threshold.
 *
 * Thresholds. u is the dtype's unit roundoff; K = Σ_units (the map's inner dimension) +
 * (BN: the B·S values each statistic sums) + 10 counts the roundings an output element
 * goes through; tol = 8·u·K.
 *   forward, jvp, vjp (input and parameter cotangents), vijp vs MPFR, vijp identity:
 *     max |engine − exact| / max |exact| ≤ 2·tol (forward: tol). vijp's checks need no
 *     condition factor: it and vjp take σ's derivative and its inverse both from z.
 *   inverse round trip: max |f⁻¹(f(x)) − x| / max |x| ≤ tol · κ, κ the largest gain of
 *     σ⁻¹ over the layer's outputs (tanh: 1/(1 − y²); leaky: 1/α), times e for the affine
 *     coupling's scale.
 *   inverse bias: the round trip's mean error over the transformed half against its
 *     spread, t = mean / (sd/√N): |t| ≤ 6 (rounding is unbiased; a systematic shift of an
 *     ulp stands out at N ≥ 64).
 *   adjoint: |⟨v, J u⟩ − ⟨Jᵀv, u⟩| ≤ tol · (|v||J u| + |Jᵀv||u|).
 *   methods: float64 deterministic methods within 1e-11 of gold (gradcheck's tolerance),
 *     float32 within 1e-4 (the golden cases' smoke bound). */
#ifndef MW_LAYER_CHECK_H
#define MW_LAYER_CHECK_H

#include <stddef.h>

#include "layer_report.h"
#include "suites.h"

/* Check one layer type of the registry (any, negative controls included); rows are
 * appended to res. 0 when it ran (checks may have failed: count them), nonzero with a
 * message when it could not (unknown layer, out of memory, an MPFR failure). progress,
 * when not NULL, is called after each configuration. */
int mw_layer_check(const char *layer, mw_layer_check_result *res,
                   void (*progress)(const char *layer, const char *config, void *arg),
                   void *arg, char *msg, size_t msg_len);
size_t mw_layer_check_failures(const mw_layer_check_result *res, const char *layer);

/* Against a baseline: a row whose error grew by more than `factor` over the same row of
 * the baseline (layer, config, dtype, check), counting errors below 1e-3 of the threshold
 * as that floor, is a regression: its pass is cleared and its check renamed
 * "<check> regressed". Returns the number of regressions. */
size_t mw_layer_check_against(mw_layer_check_result *res, const mw_layer_check_result *base,
                              double factor);

#endif
