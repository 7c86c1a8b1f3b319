/* The interval reference: the networks of mw_reference.h computed in MPFI, every value an
 * interval guaranteed to contain the exact one (forward pass, loss, and the exact reverse
 * pass: the gradient of the loss with respect to every parameter and input). It is the
 * same source as the MPFR reference, compiled with intervals (ref_num.h), so the two
 * cannot drift apart. Its functions are mw_reference.h's, named mw_iref_*, with MPFI's
 * types; a plugin's coupling layer has no interval passes (mw_iref_new refuses it).
 *
 * Where a ReLU or leaky unit's pre-activation interval holds 0, the derivative is not
 * defined there: mw_iref_kinks counts these kinks and says where the first was. Its
 * derivative is then enclosed by the hull of the one-sided ones, so every gradient entry
 * that depends on it is an interval holding every choice (and is wide). */
#ifndef MW_IREFERENCE_H
#define MW_IREFERENCE_H

#include <stddef.h>

#include <mpfi.h>

#include "mw_spec.h"

typedef struct mw_iref mw_iref;

int mw_iref_new(const mw_spec *spec, mpfr_prec_t bits, mw_iref **out, char *msg,
                size_t msg_len);
void mw_iref_free(mw_iref *r);
double mw_iref_bytes(const mw_spec *spec, mpfr_prec_t bits);
size_t mw_iref_n_params(const mw_iref *r);
mpfr_prec_t mw_iref_bits(const mw_iref *r);
int mw_iref_set_params(mw_iref *r, const double *theta, char *msg, size_t msg_len);
int mw_iref_set_batch(mw_iref *r, const double *x, const int *labels, char *msg, size_t msg_len);
mpfi_ptr mw_iref_param(mw_iref *r, size_t j);
mpfi_ptr mw_iref_input(mw_iref *r, size_t i);
int mw_iref_forward(mw_iref *r, char *msg, size_t msg_len);
int mw_iref_gradient(mw_iref *r, char *msg, size_t msg_len);
mpfi_srcptr mw_iref_loss(const mw_iref *r);
mpfi_srcptr mw_iref_grad(const mw_iref *r, size_t j);
mpfi_srcptr mw_iref_input_grad(const mw_iref *r, size_t i);
mpfi_srcptr mw_iref_activation(const mw_iref *r, int layer, size_t i);
/* Kinks of the last forward pass from the first layer, and where the first was: its
 * coupling layer (1..L) and unit (1..k of F; 0: the coupling's output activation σ). */
long mw_iref_kinks(const mw_iref *r, int *layer, int *unit);

#endif
