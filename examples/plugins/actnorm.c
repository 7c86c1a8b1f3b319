/* ActNorm (Glow, Kingma & Dhariwal 2018) as an mwverify layer plugin, with its MPFR passes
 * (the gold oracle). docs/layer-plugins.md walks through it.
 *
 * Per channel c: y = x ⊙ exp(s_c) + b_c, broadcast over the batch and the pixels (a dense
 * input of n features is n channels of 1x1). Parameters: the block "log_scale" (C), then
 * the block "bias" (C); P = 2C.
 *
 * The float32 and float64 operations are in actnorm.h, written once and included here
 * twice. actnorm_faulty.c includes this file with ACTNORM_FAULTY defined to build the
 * negative control "actnorm-faulty". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <mwverify/mw_plugin.h>

#ifdef ACTNORM_FAULTY
#define ACTNORM_NAME "actnorm-faulty"
#define ACTNORM_SUMMARY "ActNorm with a deliberate error: vijp's log_scale gradient lacks exp(s)"
#define ACTNORM_PLUGIN "mwverify-example-actnorm-faulty"
#else
#define ACTNORM_NAME "actnorm"
#define ACTNORM_SUMMARY "ActNorm (Glow): y = x * exp(s_c) + b_c per channel"
#define ACTNORM_PLUGIN "mwverify-example-actnorm"
#endif

/* ---- shape rules --------------------------------------------------------------------- */

static mwp_status accepts(mwp_call *c)
{
    if (c->batch < 1 || c->features < 1) {
        snprintf(c->msg, sizeof c->msg, "needs a batch of at least 1 and at least 1 feature");
        return MWP_ERR_SHAPE;
    }
    if (c->channels < 1 || c->height < 1 || c->width < 1 ||
        c->features / c->channels / c->height != c->width ||
        c->channels * c->height * c->width != c->features) {
        snprintf(c->msg, sizeof c->msg,
                 "needs features = channels * height * width (got %zu features, %zux%zux%zu)",
                 c->features, c->channels, c->height, c->width);
        return MWP_ERR_SHAPE;
    }
    return MWP_OK;
}

static size_t n_params(const mwp_call *c)
{
    return 2 * c->channels;
}

static int param_blocks(const mwp_call *c, mwp_param_block *blocks, int max)
{
    static const char *const names[2] = {"log_scale", "bias"};
    for (int i = 0; i < 2 && i < max; i++) {
        memset(&blocks[i], 0, sizeof blocks[i]);
        strncpy(blocks[i].name, names[i], sizeof blocks[i].name - 1);
        blocks[i].count = c->channels;
    }
    return 2;
}

/* The parameter gradient is a sum over batch * height * width terms; everything else goes
 * through a handful of roundings (exp, a product or two, a sum). */
static size_t roundings(const mwp_call *c)
{
    return 8 + c->batch * c->height * c->width;
}

/* ---- init: s and b uniform in [−0.5, 0.5], from splitmix64 of the seed --------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static mwp_status init(mwp_call *c, uint64_t seed, double *theta)
{
    uint64_t state = seed;
    for (size_t i = 0; i < 2 * c->channels; i++)
        theta[i] = (double)(splitmix64(&state) >> 11) * 0x1p-53 - 0.5; /* [−0.5, 0.5) */
    return MWP_OK;
}

/* ---- float32 and float64: actnorm.h, once for each -------------------------------------- */

#define REAL float
#define FN(name) name##_f32
#define EXP expf
#include "actnorm.h"
#undef REAL
#undef FN
#undef EXP

#define REAL double
#define FN(name) name##_f64
#define EXP exp
#include "actnorm.h"
#undef REAL
#undef FN
#undef EXP

/* ---- MPFR: the gold oracle, at c->mpfr_prec bits, every operation rounded to nearest -- */

static int prec_of(mwp_call *c, mpfr_prec_t *prec)
{
    if (c->mpfr_prec < MPFR_PREC_MIN || c->mpfr_prec > MPFR_PREC_MAX) {
        snprintf(c->msg, sizeof c->msg, "MPFR precision %ld out of range", c->mpfr_prec);
        return 0;
    }
    *prec = (mpfr_prec_t)c->mpfr_prec;
    return 1;
}

/* y = x ⊙ exp(s) + b, as one fused multiply-add per element. */
static mwp_status forward_mpfr(mwp_call *c, mpfr_srcptr const *theta, mpfr_srcptr const *x,
                               mpfr_ptr const *y)
{
    const size_t C = c->channels, HW = c->height * c->width;
    mpfr_prec_t prec;
    mpfr_t e;
    if (!prec_of(c, &prec))
        return MWP_ERR_FAILED;
    mpfr_init2(e, prec);
    for (size_t ch = 0; ch < C; ch++) {
        mpfr_exp(e, theta[ch], MPFR_RNDN);
        for (size_t bt = 0; bt < c->batch; bt++) {
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++)
                mpfr_fma(y[o + p], x[o + p], e, theta[C + ch], MPFR_RNDN);
        }
    }
    mpfr_clear(e);
    return MWP_OK;
}

/* hx = hy ⊙ e; g_s = (Σ hy ⊙ x) e; g_b = Σ hy. */
static mwp_status vjp_mpfr(mwp_call *c, mpfr_srcptr const *theta, mpfr_srcptr const *x,
                           mpfr_srcptr const *hy, mpfr_ptr const *hx, mpfr_ptr const *gtheta)
{
    const size_t C = c->channels, HW = c->height * c->width;
    mpfr_prec_t prec;
    mpfr_t e, t, gs, gb;
    if (!prec_of(c, &prec))
        return MWP_ERR_FAILED;
    mpfr_inits2(prec, e, t, gs, gb, (mpfr_ptr)0);
    for (size_t ch = 0; ch < C; ch++) {
        mpfr_exp(e, theta[ch], MPFR_RNDN);
        mpfr_set_zero(gs, 1);
        mpfr_set_zero(gb, 1);
        for (size_t bt = 0; bt < c->batch; bt++) {
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++) {
                mpfr_mul(hx[o + p], hy[o + p], e, MPFR_RNDN);
                mpfr_mul(t, hy[o + p], x[o + p], MPFR_RNDN);
                mpfr_add(gs, gs, t, MPFR_RNDN);
                mpfr_add(gb, gb, hy[o + p], MPFR_RNDN);
            }
        }
        mpfr_mul(gtheta[ch], gs, e, MPFR_RNDN);
        mpfr_set(gtheta[C + ch], gb, MPFR_RNDN);
    }
    mpfr_clears(e, t, gs, gb, (mpfr_ptr)0);
    return MWP_OK;
}

/* ---- the table ------------------------------------------------------------------------ */

static const mwp_layer layers[] = {{
    .name = ACTNORM_NAME,
    .summary = ACTNORM_SUMMARY,
    .flags = MWP_REENTRANT,
    .accepts = accepts,
    .n_params = n_params,
    .param_blocks = param_blocks,
    .init = init,
    .roundings = roundings,
    .f32 = {.forward = forward_f32, .inverse = inverse_f32, .jvp = jvp_f32,
            .vjp = vjp_f32, .vijp = vijp_f32},
    .f64 = {.forward = forward_f64, .inverse = inverse_f64, .jvp = jvp_f64,
            .vjp = vjp_f64, .vijp = vijp_f64},
    .mpfr = {.forward = forward_mpfr, .vjp = vjp_mpfr},
}};

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION,
    .size = sizeof(mwp_plugin),
    .name = ACTNORM_PLUGIN,
    .version = "1.0",
    .n_layers = sizeof layers / sizeof layers[0],
    .layers = layers,
};

const mwp_plugin *mwp_plugin_entry(void)
{
    return &plugin;
}
