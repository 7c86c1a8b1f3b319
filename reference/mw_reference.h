/* reference: the networks of docs/architecture.md §2 (mlp and revnet) implemented a second time, in
 * MPFR at p bits, independently of engine/ (docs/architecture.md §1, §5). It shares only
 * spec/mw_spec.h with the engine: the network description and the canonical parameter
 * layout. Plain scalar loops, every operation a correctly rounded MPFR call, all storage
 * initialised once per network; obviously right rather than fast. Both coupling types of
 * mw_spec.coupling, additive and affine, one file each (mw_ref_layers.h).
 *
 * Float32 and float64 inputs convert exactly (p >= 53). Derivatives at exactly 0 follow
 * PyTorch (relu'(0) = 0, leaky'(0) = α). Functions return 0 on success and nonzero with a
 * one-line message in msg; they never print or exit. */
#ifndef MW_REFERENCE_H
#define MW_REFERENCE_H

#include <stddef.h>

#include <mpfr.h>

#include "ref_num.h"

#include "mw_spec.h"

#define MW_REF_MIN_BITS 24
#define MW_REF_MAX_BITS 65536 /* the most a user asks for (--oracle-bits) */
/* what a network may be built at: the gold oracle re-runs at its bits + 64 to certify them */
#define MW_REF_MAX_WORK_BITS (MW_REF_MAX_BITS + 64)

typedef struct mw_ref mw_ref;

/* A network of this spec at `bits` of precision, parameters and batch zero. */
int mw_ref_new(const mw_spec *spec, mpfr_prec_t bits, mw_ref **out, char *msg, size_t msg_len);
void mw_ref_free(mw_ref *r);
/* The plugin layer of this process for specs of coupling plugin (NULL: none): its MPFR
 * passes are the layer's reference (suites/plugin.h loads it, in a child). Whether it has
 * them. */
struct mwp_layer;
void mw_ref_use_plugin(const struct mwp_layer *layer);
int mw_ref_plugin_has_mpfr(void);
/* The bytes mw_ref_new allocates for this spec at `bits` (0 when the spec has no layout). */
double mw_ref_bytes(const mw_spec *spec, mpfr_prec_t bits);

size_t mw_ref_n_params(const mw_ref *r);
mpfr_prec_t mw_ref_bits(const mw_ref *r);

/* theta: the layout's total values in canonical order; x: batch x width, each sample
 * (C, H, W) row-major for revnet (width = C·H·W); labels: batch class indices. Checked
 * for range; values converted exactly (rounded if bits < 53). */
int mw_ref_set_params(mw_ref *r, const double *theta, char *msg, size_t msg_len);
int mw_ref_set_batch(mw_ref *r, const double *x, const int *labels, char *msg, size_t msg_len);
/* Parameter j, and input value i (b*width + f), as MPFR values (for finite differences:
 * change one, then mw_ref_forward_from its layer, 1 for an input). */
ref_ptr mw_ref_param(mw_ref *r, size_t j);
ref_ptr mw_ref_input(mw_ref *r, size_t i);

/* Forward pass and loss. */
int mw_ref_forward(mw_ref *r, char *msg, size_t msg_len);
/* The same from coupling layer `layer` on (1..L, or L+1 for the head alone), reusing the
 * stored outputs of the layers before it: after a change to that layer's parameters. */
int mw_ref_forward_from(mw_ref *r, int layer, char *msg, size_t msg_len);
/* mw_ref_forward_from for the loss alone: it keeps none of the activations' derivatives
 * that a reverse pass needs (a third of a tanh network's forward work), so a vjp after it
 * needs mw_ref_forward again. */
int mw_ref_loss_from(mw_ref *r, int layer, char *msg, size_t msg_len);
/* Forward pass, loss and the exact reverse-mode gradient of every parameter and of the
 * input. */
int mw_ref_gradient(mw_ref *r, char *msg, size_t msg_len);

/* Reverse mode through the body alone from a given cotangent h_L at x_L (B × width host
 * doubles, converted exactly), skipping the head and the loss: afterwards mw_ref_grad(j)
 * holds h_L · ∂x_L/∂θ_j for the body's parameters (the head's entries are 0) and
 * mw_ref_input_grad(i) holds h_L · ∂x_L/∂x_0. Needs a forward pass first (mw_ref_forward).
 * With one coupling layer (depth 1) this is that layer's vjp. x_L is
 * mw_ref_activation(r, L, ·), laid out as (B, mw_spec_head_shape) (revnet: no ψ after the
 * last layer). */
int mw_ref_vjp_body(mw_ref *r, const double *h_L, char *msg, size_t msg_len);

ref_srcptr mw_ref_loss(const mw_ref *r);
/* after mw_ref_gradient or mw_ref_vjp_body */
ref_srcptr mw_ref_grad(const mw_ref *r, size_t j);
ref_srcptr mw_ref_input_grad(const mw_ref *r, size_t i); /* (b, f) at b*width + f */
/* Output of coupling layer `layer` (1..L) at (b, f), b*width + f: after mw_ref_forward.
 * revnet: before any ψ, so f indexes (C, H, W) of mw_spec_layer_shape(layer); layer L's
 * is the body's output x_L. */
ref_srcptr mw_ref_activation(const mw_ref *r, int layer, size_t i);

/* Kinks of the last forward pass (the interval build: mw_ireference.h; 0 in this one) and
 * where the first was: its layer and unit (0: the coupling's σ). */
long mw_ref_kinks(const mw_ref *r, int *layer, int *unit);

/* The reference's tanh: y = tanh(z) and, unless d is NULL, d = tanh'(z) = sech²(z), from one
 * exponential, each within 4 ulps of the exact value at y's and d's precision (ta and tb:
 * scratch at that precision, distinct from the rest). reference.c says how. */
void mw_ref_tanh_sech2(ref_ptr y, ref_ptr d, ref_srcptr z, ref_ptr ta, ref_ptr tb);

#endif
