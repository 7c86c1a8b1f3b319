/* Internal to reference/: the reference network's state and the pieces that the coupling
 * layer types (mw_ref_layers.h, one file each) share with the network code in
 * reference.c: F (its units, BN), σ and the halves of docs/architecture.md §2. Nothing outside
 * reference/ includes this header. */
#ifndef MW_REF_INTERNAL_H
#define MW_REF_INTERNAL_H

#include <stddef.h>

#include "ref_num.h"

#include "mw_ref_layers.h"
#include "mw_reference.h"
#ifdef MW_REF_INTERVAL
#include "mw_ireference.h" /* its declarations, checked against these definitions */
#endif

#define RND MPFR_RNDN

/* Every tensor is (B, C, H, W) row-major; the mlp's (B, n) is (B, n, 1, 1). */
struct mw_ref {
    mw_spec s;
    mw_layout lay;
    const mw_ref_layer_type *type; /* the coupling's, from the table of layers.c */
    mpfr_prec_t prec;
    size_t B, n, h, C, P, N, maxw;
    size_t nh, hs;      /* head features (after pooling) and the pooled pixels H_L·W_L */
    int L, k, K;        /* K: kernel size, 3 (conv) or 1 (dense) */
    ref_num *theta, *g;  /* P */
    ref_num *x;          /* (L+1) N: x[0] the input, x[l] the output of layer l, before ψ */
    ref_num *xs;         /* (blocks-1) N: ψ(x_{l-1}), the input of the first layer of blocks 2.. */
    size_t n_xs;
    int *labels;
    ref_num *dzc;        /* L (B h): σ'(z) at the coupling's pre-σ z, all reverse needs of z */
    /* per (layer, unit) at (l-1) k + (u-1), each (B, out, H, W): act'(z) at the
     * pre-activation z (all that the reverse pass needs of z), the activation, BN's x̂ and
     * output; rstd (out) */
    ref_num **dz, **p, **xhat, **rstd, **q;
    ref_num *feat, *hf;    /* B nh: pooled x_L and its cotangent */
    ref_num *logits, *lse; /* B C, B */
    ref_num loss;
    /* Cotangents. A layer type's reverse finds the cotangent at layer l's output x_l in
     * hy (B, n) and writes the one at its input into hx (B, n); it puts the cotangent at
     * F's output into hv, as (B, out_k, H, W), before ref_f_backward. */
    ref_num *hx, *hy, *ig; /* N: cotangents, and the input's */
    ref_num *hu, *hv;      /* B maxw: cotangents inside F */
    /* scratch: t0..t3 are free to a layer type's element loops, but ref_f_forward and
     * ref_f_backward use them too; ta and tb are ref_act's own */
    ref_num alpha, eps, t0, t1, t2, t3, ta, tb;
    /* kinks (interval build): pre-activations of ReLU or leaky whose interval holds 0, where
     * the derivative is not defined; the first one's layer and unit (0: the coupling's σ).
     * at_layer and at_unit say where ref_act is called from. */
    long kinks;
    int kink_layer, kink_unit, at_layer, at_unit;
    int have_forward; /* the stored forward pass is that of the current θ and x */
    int loss_only;    /* mw_ref_loss_from: ref_act's callers pass no derivative to fill */
};

/* ---- shared pieces (reference.c) ---- */

/* Offsets within a sample of layer l's conditioning half a and transformed half b: the
 * first or second half of the features (channels, contiguous in (C, H, W)); odd layers
 * condition on the first half. */
void ref_halves(const mw_ref *r, int l, size_t *off_a, size_t *off_b);
/* Layer l's input (B, n): x_{l-1}, or ψ(x_{l-1}) where a block begins; its output x_l. */
ref_num *ref_layer_in(mw_ref *r, int l);
ref_num *ref_layer_out(mw_ref *r, int l);
/* Layer l's σ'(z) at its pre-σ z, (B, h): h = n/2 values per sample, those of the b half. */
ref_num *ref_dzc(mw_ref *r, int l);

/* F of layer l on the a half of its input: every unit map -> act -> [BN], stored. */
void ref_f_forward(mw_ref *r, int l);
/* F's output, (B, out_k, H, W), out_k the last unit's channels (features): h per sample
 * for additive, 2h for affine. */
ref_num *ref_f_out(mw_ref *r, int l);
/* Reverse through F from the cotangent at its output in r->hv: adds the cotangent of F's
 * input to the a half of r->hx and writes the gradient of F's parameters. Uses r->hu and
 * r->hv as scratch. */
void ref_f_backward(mw_ref *r, int l);

/* act(z) and act'(z) for F's activation or σ (α from the spec; PyTorch at 0). */
/* y = act(z) and d = act'(z) (d may be NULL); z may alias r->t0..t3 but not y or d. */
void ref_act(mw_ref *r, mw_act a, ref_ptr y, ref_ptr d, ref_srcptr z);

/* ---- the layer types' functions, registered in the table of layers.c ---- */

int ref_additive_forward(mw_ref *r, int l, char *msg, size_t msg_len);
int ref_additive_reverse(mw_ref *r, int l, char *msg, size_t msg_len);
int ref_affine_forward(mw_ref *r, int l, char *msg, size_t msg_len);
int ref_affine_reverse(mw_ref *r, int l, char *msg, size_t msg_len);
int ref_plugin_forward(mw_ref *r, int l, char *msg, size_t msg_len);
int ref_plugin_reverse(mw_ref *r, int l, char *msg, size_t msg_len);

#endif
