/* The affine coupling layer in the reference (RealNVP/Glow; mw_spec.h, docs/architecture.md §2's
 * extension). F's last unit gives 2h values per sample, (B, C, H, W) with channels
 * [0, C/2) the raw log-scale r and [C/2, C) the shift t (dense: features [0, h) and
 * [h, 2h)), each after the last unit's act and BN like any unit's output:
 *   s = tanh(r),  z = b ⊙ exp(s) + t,  y = (a, σ(z)).
 * Reverse: h_z = h_{y,b} σ'(z), h_b = h_z ⊙ exp(s), h_t = h_z,
 * h_r = h_z ⊙ b ⊙ exp(s) ⊙ sech²(r), then (h_r, h_t) through F adds to h_a = h_{y,a}. */
#include "ref_internal.h"

int ref_affine_forward(mw_ref *r, int l, char *msg, size_t msg_len)
{
    (void)msg, (void)msg_len; /* nothing here can fail; the caller checks MPFR's flags */
    size_t off_a, off_b, n = r->n, h = r->h;
    ref_halves(r, l, &off_a, &off_b);
    ref_f_forward(r, l);
    ref_num *F = ref_f_out(r, l), *xin = ref_layer_in(r, l), *xout = ref_layer_out(r, l);
    ref_num *dzc = ref_dzc(r, l);
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < h; j++) {
            ref_ptr z = r->t1;
            N_tanh(r->t0, F[b * 2 * h + j]);              /* s = tanh(r) */
            N_exp(r->t0, r->t0);                           /* exp(s) */
            N_mul(z, xin[b * n + off_b + j], r->t0);       /* b ⊙ exp(s) */
            N_add(z, z, F[b * 2 * h + h + j]);             /* + t */
            r->at_layer = l, r->at_unit = 0;
            ref_act(r, r->s.out_act, xout[b * n + off_b + j],
                    r->loss_only ? NULL : dzc[b * h + j], z);
            N_set(xout[b * n + off_a + j], xin[b * n + off_a + j]);
        }
    return 0;
}

int ref_affine_reverse(mw_ref *r, int l, char *msg, size_t msg_len)
{
    (void)msg, (void)msg_len;
    size_t off_a, off_b, n = r->n, h = r->h;
    ref_halves(r, l, &off_a, &off_b);
    ref_num *F = ref_f_out(r, l), *xin = ref_layer_in(r, l), *dzc = ref_dzc(r, l);
    ref_num *hF = r->hv; /* (B, C, H, W): F's output cotangent, h_r then h_t */
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < h; j++) {
            ref_srcptr raw = F[b * 2 * h + j], xb = xin[b * n + off_b + j];
            N_mul(r->t0, r->hy[b * n + off_b + j], dzc[b * h + j]); /* h_z */
            N_tanh(r->t1, raw);
            N_exp(r->t1, r->t1);                            /* exp(s) */
            N_mul(r->hx[b * n + off_b + j], r->t0, r->t1);  /* h_b */
            N_set(hF[b * 2 * h + h + j], r->t0);            /* h_t */
            /* tanh'(r) = sech(r)², which keeps its relative accuracy where 1 − tanh² does not */
            N_sech(r->t2, raw);
            N_sqr(r->t2, r->t2);
            N_mul(r->t2, r->t2, r->t1);
            N_mul(r->t2, r->t2, xb);
            N_mul(hF[b * 2 * h + j], r->t0, r->t2);         /* h_r */
            N_set(r->hx[b * n + off_a + j], r->hy[b * n + off_a + j]);
        }
    ref_f_backward(r, l);
    return 0;
}
