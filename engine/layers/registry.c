/* The layer registry: every layer type the engine has, real ones and the negative
 * controls. A new layer type is one file implementing the five operations of layer.h and
 * one line here (docs/adding-a-layer.md walks through the affine coupling). The MPFR
 * reference has its own table (reference/layers.c, mw_ref_layers.h) under the same names, so that
 * `mwverify layer check NAME` finds both.
 *
 * The negative controls are real layers with one deliberate fault each, hidden from
 * normal use (`layer check --include-faulty`): a green check means something only if
 * these turn it red. Each wraps the additive coupling and spoils one operation. */
#include <math.h>
#include <string.h>

#include "inner.h"

/* ---- negative controls ---- */

/* vijp whose parameter gradient has the wrong sign. */
static mw_status vijp_sign(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx,
                           void *y, void *hy, void *gtheta)
{
    mw_status st = mw_coupling_ops.vijp(ctx, l, x, hx, y, hy, gtheta);
    if (st == MW_OK && gtheta)
        st = mw_scale(ctx, mw_d(1, 1, l->n_theta), mw_v(gtheta, 0, 0), -1.0, mw_v(gtheta, 0, 0));
    return st;
}

/* vijp that takes tanh σ's D⁻¹ the naive way, 1/(1 − y²) from the output y, instead of
 * cosh²(z) from z: exact in exact arithmetic, ruinous where tanh saturates. */
static mw_status vijp_naive_dinv(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx,
                                 void *y, void *hy, void *gtheta)
{
    mw_status st = mw_coupling_ops.vijp(ctx, l, x, hx, y, hy, gtheta);
    if (st != MW_OK || l->spec->out_act != MW_ACT_TANH)
        return st;
    const size_t B = l->batch, n = l->width, h = n / 2;
    const size_t off_b = l->index % 2 == 1 ? h : 0;
    mw_dims d = mw_d(1, B, h);
    mw_view yb = mw_v(mw_at(ctx, y, off_b), 0, (ptrdiff_t)n);
    mw_view hyb = mw_v(mw_at(ctx, hy, off_b), 0, (ptrdiff_t)n);
    mw_view hxb = mw_v((void *)mw_at(ctx, hx, off_b), 0, (ptrdiff_t)n);
    mw_tensor den = {0}, one = {0};
    MW_GO(mw_tensor_alloc(ctx, B * h, &den));
    MW_GO(mw_tensor_alloc(ctx, B * h, &one));
    mw_view vd = mw_v(den.data, 0, (ptrdiff_t)h), vo = mw_v(one.data, 0, (ptrdiff_t)h);
    mw_ew sq = {MW_EW_MUL, MW_ACT_IDENTITY, 0, 0, 0, d, vd, yb, yb, {0}};
    MW_GO(ctx->ops->ew(ctx, &sq));
    MW_GO(mw_fill(ctx, d, vo, 1.0));
    MW_GO(mw_axpby(ctx, d, vd, 1.0, vo, -1.0, vd)); /* 1 − y² */
    mw_ew dv = {MW_EW_DIV, MW_ACT_IDENTITY, 0, 0, 0, d, hyb, vd, hxb, {0}};
    MW_GO(ctx->ops->ew(ctx, &dv));
done:
    mw_tensor_free(ctx, &den);
    mw_tensor_free(ctx, &one);
    return st;
}

/* inverse off by a bias of one ulp of the input's scale (2u times its RMS). */
static mw_status inverse_bias(mw_ctx *ctx, const mw_layer *l, const void *y, void *x)
{
    mw_status st = mw_coupling_ops.inverse(ctx, l, y, x);
    if (st != MW_OK)
        return st;
    const size_t N = l->batch * l->width;
    const double u = ctx->dtype == MW_F32 ? 0x1p-24 : 0x1p-53;
    double ss;
    mw_tensor bias = {0};
    MW_GO(ctx->ops->dot(ctx, N, x, x, &ss));
    MW_GO(mw_tensor_alloc(ctx, N, &bias));
    MW_GO(mw_fill(ctx, mw_d(1, 1, N), mw_v(bias.data, 0, 0), 2.0 * u * sqrt(ss / (double)N)));
    MW_GO(mw_axpby(ctx, mw_d(1, 1, N), mw_v(x, 0, 0), 1.0, mw_v(x, 0, 0), 1.0,
                   mw_v(bias.data, 0, 0)));
done:
    mw_tensor_free(ctx, &bias);
    return st;
}

/* The additive coupling's operations with one of them replaced. C has no constant struct
 * copy, so these are filled at the first lookup (mw_layer_type_find, _for, the list). */
static mw_layer_ops ops_vijp_sign, ops_naive_dinv, ops_inverse_bias;

static void fill_faulty(void)
{
    static int done;
    if (done)
        return;
    ops_vijp_sign = mw_coupling_ops;
    ops_vijp_sign.name = "additive-vijp-sign";
    ops_vijp_sign.vijp = vijp_sign;
    ops_vijp_sign.vijp_cached = NULL; /* mixed must sweep through the faulty vijp */
    ops_naive_dinv = mw_coupling_ops;
    ops_naive_dinv.name = "additive-naive-dinv";
    ops_naive_dinv.vijp = vijp_naive_dinv;
    ops_naive_dinv.vijp_cached = NULL;
    ops_naive_dinv.in_place = false; /* it reads h_{x,b} after vijp wrote h_{y,b} */
    ops_inverse_bias = mw_coupling_ops;
    ops_inverse_bias.name = "additive-inverse-bias";
    ops_inverse_bias.inverse = inverse_bias;
    ops_inverse_bias.inverse_cached = NULL; /* the shortcut is the true inverse's: revbackprop
                                               must reconstruct through the faulty one */
    done = 1;
}

/* ---- the registry ---- */

const mw_layer_type mw_layer_registry[] = {
    {"additive", "additive coupling: z = b + F(a), y = (a, σ(z)) (the paper's eq. 12)",
     &mw_coupling_ops, &mw_f_ops, MW_COUPLING_ADDITIVE, NULL},
    {"affine", "affine coupling: z = b ⊙ exp(tanh(F_r(a))) + F_t(a), y = (a, σ(z)) "
               "(RealNVP, Glow)",
     &mw_coupling_affine_ops, &mw_f_ops, MW_COUPLING_AFFINE, NULL},
    {"squeeze", "the 2x2 squeeze ψ between revnet blocks: a fixed permutation",
     &mw_squeeze_ops, NULL, -1, NULL},
    /* negative controls */
    {"additive-vijp-sign", "additive coupling, vijp's parameter gradient negated",
     &ops_vijp_sign, &mw_f_ops, MW_COUPLING_ADDITIVE,
     "vijp returns the parameter gradient with the wrong sign"},
    {"additive-naive-dinv", "additive coupling, vijp with tanh's D⁻¹ as 1/(1 − y²)",
     &ops_naive_dinv, &mw_f_ops, MW_COUPLING_ADDITIVE,
     "vijp takes tanh σ's inverse derivative as 1/(1 − y²) from the output instead of "
     "cosh²(z)"},
    {"additive-bn-vjp-uncoupled", "additive coupling, vjp with BatchNorm taken per sample",
     &mw_coupling_ops, &mw_f_ops_bn_uncoupled, MW_COUPLING_ADDITIVE,
     "vjp drops BatchNorm's batch coupling (the terms through the batch mean and variance)"},
    {"additive-inverse-bias", "additive coupling, inverse biased by one ulp of scale",
     &ops_inverse_bias, &mw_f_ops, MW_COUPLING_ADDITIVE,
     "inverse adds a bias of one ulp of the input's RMS to every element"},
};
const size_t mw_layer_registry_size = sizeof mw_layer_registry / sizeof mw_layer_registry[0];

const mw_layer_type *mw_layer_type_find(const char *name)
{
    fill_faulty();
    for (size_t i = 0; i < mw_layer_registry_size; i++)
        if (strcmp(mw_layer_registry[i].name, name) == 0)
            return &mw_layer_registry[i];
    return NULL;
}

const mw_layer_type *mw_layer_type_for(mw_coupling coupling)
{
    fill_faulty();
    for (size_t i = 0; i < mw_layer_registry_size; i++)
        if (!mw_layer_registry[i].fault && mw_layer_registry[i].coupling == (int)coupling)
            return &mw_layer_registry[i];
    return NULL;
}
