/* The additive coupling layer in the reference (docs/architecture.md §2, the paper's eq. 12):
 * z = b + F(a), y = (a, σ(z)); reverse h_z = h_{y,b} σ'(z), h_b = h_z,
 * h_a = h_{y,a} + vjp_F(a, h_z). F's output is (B, C/2, H, W): h values per sample. */
#include "ref_internal.h"

int ref_additive_forward(mw_ref *r, int l, char *msg, size_t msg_len)
{
    (void)msg, (void)msg_len; /* nothing here can fail; the caller checks MPFR's flags */
    size_t off_a, off_b, n = r->n, h = r->h;
    ref_halves(r, l, &off_a, &off_b);
    ref_f_forward(r, l);
    ref_num *F = ref_f_out(r, l), *xin = ref_layer_in(r, l), *xout = ref_layer_out(r, l);
    ref_num *dzc = ref_dzc(r, l);
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < h; j++) {
            N_add(r->t0, xin[b * n + off_b + j], F[b * h + j]); /* z */
            r->at_layer = l, r->at_unit = 0;
            ref_act(r, r->s.out_act, xout[b * n + off_b + j],
                    r->loss_only ? NULL : dzc[b * h + j], r->t0);
            N_set(xout[b * n + off_a + j], xin[b * n + off_a + j]);
        }
    return 0;
}

int ref_additive_reverse(mw_ref *r, int l, char *msg, size_t msg_len)
{
    (void)msg, (void)msg_len;
    size_t off_a, off_b, n = r->n, h = r->h;
    ref_halves(r, l, &off_a, &off_b);
    ref_num *dzc = ref_dzc(r, l), *hF = r->hv; /* hF: (B, C/2, H, W), F's output cotangent */
    /* h_z = h_{y,b} σ'(z); h_{x,b} = h_z; h_{x,a} = h_{y,a} (+ F's input cotangent below) */
    for (size_t b = 0; b < r->B; b++)
        for (size_t j = 0; j < h; j++) {
            N_mul(hF[b * h + j], r->hy[b * n + off_b + j], dzc[b * h + j]);
            N_set(r->hx[b * n + off_b + j], hF[b * h + j]);
            N_set(r->hx[b * n + off_a + j], r->hy[b * n + off_a + j]);
        }
    ref_f_backward(r, l);
    return 0;
}
