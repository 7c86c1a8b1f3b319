/* The y = 2x layer the test plugins share: no parameters (P = 0), any shape, exact in
 * float32, float64 and MPFR (a multiplication by 2 rounds nothing, barring overflow).
 * Each test plugin builds its table from these functions, swapping in one misbehaving
 * operation where it needs one. static inline: a plugin that leaves one out gets no
 * unused-function warning. */
#ifndef MWVERIFY_TEST_SCALE2_H
#define MWVERIFY_TEST_SCALE2_H

#include <stdio.h>

#include <mwverify/mw_plugin.h>

static inline mwp_status scale2_accepts(mwp_call *c)
{
    if (c->batch < 1 || c->features < 1) {
        snprintf(c->msg, sizeof c->msg, "needs a batch of at least 1 and at least 1 feature");
        return MWP_ERR_SHAPE;
    }
    return MWP_OK;
}

static inline size_t scale2_n_params(const mwp_call *c)
{
    (void)c;
    return 0;
}

static inline int scale2_param_blocks(const mwp_call *c, mwp_param_block *blocks, int max)
{
    (void)c, (void)blocks, (void)max;
    return 0;
}

static inline mwp_status scale2_init(mwp_call *c, uint64_t seed, double *theta)
{
    (void)c, (void)seed, (void)theta;
    return MWP_OK;
}

static inline size_t scale2_roundings(const mwp_call *c)
{
    (void)c;
    return 1;
}

/* The five operations for one real type: y = 2x, dy = 2 dx, hx = 2 hy, and vijp's
 * hy = hx / 2; the parameter gradient is empty. */
#define SCALE2_OPS(real, sfx)                                                                 \
    static inline mwp_status scale2_forward_##sfx(mwp_call *c, const real *theta,            \
                                                  const real *x, real *y)                    \
    {                                                                                         \
        (void)theta;                                                                          \
        for (size_t i = 0; i < c->batch * c->features; i++)                                  \
            y[i] = 2 * x[i];                                                                  \
        return MWP_OK;                                                                        \
    }                                                                                         \
    static inline mwp_status scale2_inverse_##sfx(mwp_call *c, const real *theta,            \
                                                  const real *y, real *x)                    \
    {                                                                                         \
        (void)theta;                                                                          \
        for (size_t i = 0; i < c->batch * c->features; i++)                                  \
            x[i] = y[i] / 2;                                                                  \
        return MWP_OK;                                                                        \
    }                                                                                         \
    static inline mwp_status scale2_jvp_##sfx(mwp_call *c, const real *theta, size_t T,      \
                                              const real *x, const real *dx,                 \
                                              const real *dtheta, real *y, real *dy)         \
    {                                                                                         \
        const size_t bn = c->batch * c->features;                                             \
        (void)dtheta;                                                                         \
        scale2_forward_##sfx(c, theta, x, y);                                                 \
        for (size_t i = 0; i < T * bn; i++)                                                   \
            dy[i] = dx ? 2 * dx[i] : 0;                                                       \
        return MWP_OK;                                                                        \
    }                                                                                         \
    static inline mwp_status scale2_vjp_##sfx(mwp_call *c, const real *theta, const real *x, \
                                              const real *hy, real *hx, real *gtheta)        \
    {                                                                                         \
        (void)theta, (void)x, (void)gtheta;                                                   \
        for (size_t i = 0; i < c->batch * c->features; i++)                                  \
            hx[i] = 2 * hy[i];                                                                \
        return MWP_OK;                                                                        \
    }                                                                                         \
    static inline mwp_status scale2_vijp_##sfx(mwp_call *c, const real *theta,               \
                                               const real *x, const real *hx, real *y,       \
                                               real *hy, real *gtheta)                       \
    {                                                                                         \
        (void)gtheta;                                                                         \
        scale2_forward_##sfx(c, theta, x, y);                                                 \
        for (size_t i = 0; i < c->batch * c->features; i++)                                  \
            hy[i] = hx[i] / 2;                                                                \
        return MWP_OK;                                                                        \
    }

SCALE2_OPS(float, f32)
SCALE2_OPS(double, f64)

static inline mwp_status scale2_forward_mpfr(mwp_call *c, mpfr_srcptr const *theta,
                                             mpfr_srcptr const *x, mpfr_ptr const *y)
{
    (void)theta;
    for (size_t i = 0; i < c->batch * c->features; i++)
        mpfr_mul_2ui(y[i], x[i], 1, MPFR_RNDN);
    return MWP_OK;
}

static inline mwp_status scale2_vjp_mpfr(mwp_call *c, mpfr_srcptr const *theta,
                                         mpfr_srcptr const *x, mpfr_srcptr const *hy,
                                         mpfr_ptr const *hx, mpfr_ptr const *gtheta)
{
    (void)theta, (void)x, (void)gtheta;
    for (size_t i = 0; i < c->batch * c->features; i++)
        mpfr_mul_2ui(hx[i], hy[i], 1, MPFR_RNDN);
    return MWP_OK;
}

/* A layer table entry: scale2 with the accepts and the forward, inverse, jvp and vjp
 * named (each NAME stands for NAME_f32 and NAME_f64); vijp and the MPFR passes are
 * always scale2's. */
#define SCALE2_LAYER(NAME, SUMMARY, ACCEPTS, FORWARD, INVERSE, JVP, VJP)                      \
    {                                                                                         \
        .name = NAME, .summary = SUMMARY, .flags = MWP_REENTRANT, .accepts = ACCEPTS,        \
        .n_params = scale2_n_params, .param_blocks = scale2_param_blocks,                    \
        .init = scale2_init, .roundings = scale2_roundings,                                  \
        .f32 = {.forward = FORWARD##_f32, .inverse = INVERSE##_f32, .jvp = JVP##_f32,        \
                .vjp = VJP##_f32, .vijp = scale2_vijp_f32},                                   \
        .f64 = {.forward = FORWARD##_f64, .inverse = INVERSE##_f64, .jvp = JVP##_f64,        \
                .vjp = VJP##_f64, .vijp = scale2_vijp_f64},                                   \
        .mpfr = {.forward = scale2_forward_mpfr, .vjp = scale2_vjp_mpfr},                    \
    }

#define SCALE2_CORRECT(NAME)                                                                  \
    SCALE2_LAYER(NAME, "y = 2x", scale2_accepts, scale2_forward, scale2_inverse, scale2_jvp,  \
                 scale2_vjp)

#endif
