/* `mwverify layer check` and `mwverify suite layers` (docs/adding-a-layer.md): every
 * operation of a layer type of the registry — forward, inverse, jvp, vjp, vijp — against
 * the MPFR reference (256 bits, through oracles' layer oracle) and against the identities
 * that tie them together, over a small grid of configurations (mlps 8 wide, k = 2:
 * tanh/tanh at input and weight scale 1 and 2.5, near saturation; ReLU/leaky with
 * BatchNorm; tanh/none; a conv revnet coupling on 4x4x4 with BatchNorm at scale 1 and 2.5;
 * the squeeze between two revnet blocks), each in float32 and float64; then the six
 * methods on a 3-layer network of the layer against gold. Each check has a threshold
 * derived from the operation, and reports its error and that threshold.
 *
 * Thresholds. u is the dtype's unit roundoff; K = Σ_units (the map's inner dimension) +
 * (BN: the B·S values each statistic sums) + 10 counts the roundings an output element
 * goes through; tol = 8·u·K.
 *   forward, jvp, vjp_input, vjp_params, vijp_exact, vijp_identity:
 *     max |engine − exact| / max |exact| ≤ tol (forward) or 2·tol. jvp's exact value is
 *     a central difference in MPFR (step 2^-80 at 256 bits: far below any dtype); vjp's is
 *     the reference's reverse mode; vijp_exact feeds the engine's h_y to the exact vjp and
 *     asks for h_x and g back. vijp needs no condition factor: it and vjp take σ's
 *     derivative and its inverse both from z.
 *   The squeeze ψ, a permutation, has no MPFR counterpart of its own: its forward, jvp,
 *     vjp_input and vijp_exact are compared with a direct pixel_unshuffle loop, and
 *     must match it exactly (threshold 0), as must its round trip.
 *   inverse: the round trip, max_i |f⁻¹(f(x))_i − x_i| / κ_i over max(|x|, |y|) ≤ tol,
 *     κ_i the gain of σ⁻¹ at the exact y_i (tanh: 1/(1 − y_i²); leaky below 0: 1/α), times
 *     e for the affine coupling's exp(−s). An output that is ±1 in the dtype under a tanh
 *     σ (the exact one rounded, or the engine's) has no inverse there: it is left out.
 *   inverse_bias: the round trip's mean error over the transformed half against its
 *     spread, t = mean / (sd/√N): |t| ≤ 6 (rounding is unbiased; a systematic shift of an
 *     ulp stands out at N ≥ 64).
 *   adjoint: |⟨v, J u⟩ − ⟨Jᵀv, u⟩| ≤ tol · (|v||J u| + |Jᵀv||u|), in the engine alone.
 *   method:<name>: rel_l2 against gold, float64 ≤ 1e-11 (gradcheck's tolerance), float32
 *     ≤ 1e-4; projforward (K = 256 projections) is unbiased with E|ĝ − g|² = |g|²(P+1)/K,
 *     and its error in units of √((P+1)/K) must be ≤ 1.5.
 * Each row also carries max_ulp_floored (oracles.h) of the output it compares. */
#ifndef MW_LAYER_CHECK_H
#define MW_LAYER_CHECK_H

#include <stddef.h>

#include "suite.h"

extern const mw_suite_def mw_layers_suite;

/* The rows of checks, growing. */
typedef struct mw_layer_rows {
    mw_layer_check_row *rows;
    size_t n, cap;
} mw_layer_rows;

void mw_layer_rows_free(mw_layer_rows *r);
/* Append a copy of row. */
mw_status mw_layer_rows_add(mw_layer_rows *rows, const mw_layer_check_row *row, mw_err *err);

/* Check one layer type of the registry (any, negative controls included), appending its
 * rows. MW_OK when it ran (checks may have failed: count them); a failure with a message
 * when it could not (unknown layer, out of memory, an MPFR failure). */
mw_status mw_layer_check(const char *layer, mw_layer_rows *out, mw_err *err);
/* Its estimated seconds on this machine (its configurations are fixed: a second or so). */
mw_status mw_layer_check_cost(const char *layer, double *seconds, mw_err *err);
/* Rows that fail, of one layer (NULL: of all). */
size_t mw_layer_check_failures(const mw_layer_check_row *rows, size_t n, const char *layer);

/* Against a baseline: a row whose error grew by more than `factor` over the same row of
 * the baseline (layer, config, dtype, check), counting errors below 1e-3 of the threshold
 * as that floor, is a regression: its pass is cleared and its check renamed
 * "<check> regressed". Returns the number of regressions; *unmatched (unless NULL) gets the
 * number of rows the baseline does not have, which are not compared. */
size_t mw_layer_check_against(mw_layer_check_row *rows, size_t n, const mw_layer_check_row *base,
                              size_t n_base, double factor, size_t *unmatched);

#endif
