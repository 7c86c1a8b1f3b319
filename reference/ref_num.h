/* One source, two number types. The reference's files (reference.c, layers.c and the
 * coupling types' files) are written once, against ref_num and the N_ operations below,
 * and compiled twice:
 *   - with MPFR: the mw_ref_* functions, every value correctly rounded at p bits (gold);
 *   - with MW_REF_INTERVAL, with MPFI: the mw_iref_* functions (mw_ireference.h), every
 *     value an interval at p bits that contains the exact value (the proof).
 * So the two cannot drift apart: a change to the network code changes both. The few places
 * where an interval needs another algorithm than a number (a kink of ReLU, tanh, the
 * softmax's shift) say so with #ifdef MW_REF_INTERVAL. */
#ifndef MW_REF_NUM_H
#define MW_REF_NUM_H

#include <mpfr.h>

#ifdef MW_REF_INTERVAL

#include <mpfi.h>

typedef mpfi_t ref_num;
typedef mpfi_ptr ref_ptr;
typedef mpfi_srcptr ref_srcptr;

#define N_init2(x, p) mpfi_init2(x, p)
#define N_clear(x) mpfi_clear(x)
#define N_set(r, a) mpfi_set(r, a)
#define N_set_zero(r, sign) mpfi_set_ui(r, 0)
#define N_set_ui(r, u) mpfi_set_ui(r, u)
#define N_set_d(r, d) mpfi_set_d(r, d)
#define N_add(r, a, b) mpfi_add(r, a, b)
#define N_sub(r, a, b) mpfi_sub(r, a, b)
#define N_mul(r, a, b) mpfi_mul(r, a, b)
#define N_div(r, a, b) mpfi_div(r, a, b)
#define N_div_ui(r, a, u) mpfi_div_ui(r, a, u)
#define N_mul_2ui(r, a, u) mpfi_mul_2ui(r, a, u)
#define N_add_ui(r, a, u) mpfi_add_ui(r, a, u)
#define N_sub_ui(r, a, u) mpfi_sub_ui(r, a, u)
#define N_sqr(r, a) mpfi_sqr(r, a)
#define N_exp(r, a) mpfi_exp(r, a)
#define N_log(r, a) mpfi_log(r, a)
#define N_tanh(r, a) mpfi_tanh(r, a)
#define N_sech(r, a) mpfi_sech(r, a)
#define N_abs(r, a) mpfi_abs(r, a)
/* r = a b + c (MPFI has no fused form: the product is enclosed, then the sum; r may be c) */
void iref_fma(ref_ptr r, ref_srcptr a, ref_srcptr b, ref_srcptr c);
#define N_fma(r, a, b, c) iref_fma(r, a, b, c)
/* r = 1/√a */
void iref_rec_sqrt(ref_ptr r, ref_srcptr a);
#define N_rec_sqrt(r, a) iref_rec_sqrt(r, a)
/* r = max(a, b), endpoint by endpoint */
void iref_max(ref_ptr r, ref_srcptr a, ref_srcptr b);
#define N_max(r, a, b) iref_max(r, a, b)
/* The scratch those use, given back (with the last network of the thread). */
void iref_scratch_release(void);

/* The interval build's own names, so that both builds link into one program. */
#define mw_ref mw_iref
#define mw_ref_new mw_iref_new
#define mw_ref_free mw_iref_free
#define mw_ref_bytes mw_iref_bytes
#define mw_ref_n_params mw_iref_n_params
#define mw_ref_bits mw_iref_bits
#define mw_ref_set_params mw_iref_set_params
#define mw_ref_set_batch mw_iref_set_batch
#define mw_ref_param mw_iref_param
#define mw_ref_input mw_iref_input
#define mw_ref_forward mw_iref_forward
#define mw_ref_forward_from mw_iref_forward_from
#define mw_ref_loss_from mw_iref_loss_from
#define mw_ref_gradient mw_iref_gradient
#define mw_ref_vjp_body mw_iref_vjp_body
#define mw_ref_loss mw_iref_loss
#define mw_ref_grad mw_iref_grad
#define mw_ref_input_grad mw_iref_input_grad
#define mw_ref_activation mw_iref_activation
#define mw_ref_tanh_sech2 mw_iref_tanh_sech2
#define mw_ref_kinks mw_iref_kinks
#define mw_ref_use_plugin mw_iref_use_plugin
#define mw_ref_plugin_has_mpfr mw_iref_plugin_has_mpfr
#define mw_ref_layer_type mw_iref_layer_type
#define mw_ref_layer_type_find mw_iref_layer_type_find
#define mw_ref_layer_types mw_iref_layer_types
#define ref_halves iref_halves
#define ref_layer_in iref_layer_in
#define ref_layer_out iref_layer_out
#define ref_dzc iref_dzc
#define ref_f_forward iref_f_forward
#define ref_f_out iref_f_out
#define ref_f_backward iref_f_backward
#define ref_act iref_act
#define ref_additive_forward iref_additive_forward
#define ref_additive_reverse iref_additive_reverse
#define ref_affine_forward iref_affine_forward
#define ref_affine_reverse iref_affine_reverse

#else

typedef mpfr_t ref_num;
typedef mpfr_ptr ref_ptr;
typedef mpfr_srcptr ref_srcptr;

#define N_init2(x, p) mpfr_init2(x, p)
#define N_clear(x) mpfr_clear(x)
#define N_set(r, a) mpfr_set(r, a, MPFR_RNDN)
#define N_set_zero(r, sign) mpfr_set_zero(r, sign)
#define N_set_ui(r, u) mpfr_set_ui(r, u, MPFR_RNDN)
#define N_set_d(r, d) mpfr_set_d(r, d, MPFR_RNDN)
#define N_add(r, a, b) mpfr_add(r, a, b, MPFR_RNDN)
#define N_sub(r, a, b) mpfr_sub(r, a, b, MPFR_RNDN)
#define N_mul(r, a, b) mpfr_mul(r, a, b, MPFR_RNDN)
#define N_div(r, a, b) mpfr_div(r, a, b, MPFR_RNDN)
#define N_div_ui(r, a, u) mpfr_div_ui(r, a, u, MPFR_RNDN)
#define N_mul_2ui(r, a, u) mpfr_mul_2ui(r, a, u, MPFR_RNDN)
#define N_add_ui(r, a, u) mpfr_add_ui(r, a, u, MPFR_RNDN)
#define N_sub_ui(r, a, u) mpfr_sub_ui(r, a, u, MPFR_RNDN)
#define N_sqr(r, a) mpfr_sqr(r, a, MPFR_RNDN)
#define N_exp(r, a) mpfr_exp(r, a, MPFR_RNDN)
#define N_log(r, a) mpfr_log(r, a, MPFR_RNDN)
#define N_tanh(r, a) mpfr_tanh(r, a, MPFR_RNDN)
#define N_sech(r, a) mpfr_sech(r, a, MPFR_RNDN)
#define N_abs(r, a) mpfr_abs(r, a, MPFR_RNDN)
#define N_fma(r, a, b, c) mpfr_fma(r, a, b, c, MPFR_RNDN)
#define N_rec_sqrt(r, a) mpfr_rec_sqrt(r, a, MPFR_RNDN)
#define N_max(r, a, b) mpfr_max(r, a, b, MPFR_RNDN)

#endif

#endif
