/* One plugin, several layers, each the y = 2x layer of scale2.h with one operation
 * misbehaving (in float32 and float64 alike; the MPFR passes stay correct), and one
 * correct layer. Select one with PATH.so:NAME. mwverify runs plugin code in a child
 * process, so each of these must end as a failed check that says what happened (the
 * signal, the time limit, the plugin's message), never as a crashed or hung mwverify:
 *   segv-forward   forward writes through a NULL pointer (SIGSEGV)
 *   abort-vjp      vjp calls abort() (SIGABRT)
 *   hang-inverse   inverse never returns (the time limit)
 *   refuses-all    accepts refuses every shape: "takes no shape at all"
 *   fails-jvp      jvp returns MWP_ERR_FAILED: "jvp is not implemented"
 *   scale2         correct: passes every check */
#define _POSIX_C_SOURCE 200809L /* pause() */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "scale2.h"

/* A store through a pointer the compiler cannot see is NULL: a real SIGSEGV, not a trap
 * instruction the optimiser put in its place. */
static int *volatile null_pointer = NULL;

static mwp_status segv_forward_f32(mwp_call *c, const float *theta, const float *x, float *y)
{
    *null_pointer = 1;
    return scale2_forward_f32(c, theta, x, y);
}

static mwp_status segv_forward_f64(mwp_call *c, const double *theta, const double *x,
                                   double *y)
{
    *null_pointer = 1;
    return scale2_forward_f64(c, theta, x, y);
}

static mwp_status abort_vjp_f32(mwp_call *c, const float *theta, const float *x,
                                const float *hy, float *hx, float *gtheta)
{
    (void)c, (void)theta, (void)x, (void)hy, (void)hx, (void)gtheta;
    abort();
}

static mwp_status abort_vjp_f64(mwp_call *c, const double *theta, const double *x,
                                const double *hy, double *hx, double *gtheta)
{
    (void)c, (void)theta, (void)x, (void)hy, (void)hx, (void)gtheta;
    abort();
}

/* Set by nothing: the hanging inverse waits for signals for ever. */
static volatile sig_atomic_t released = 0;

static mwp_status hang_inverse_f32(mwp_call *c, const float *theta, const float *y, float *x)
{
    (void)c, (void)theta, (void)y, (void)x;
    while (!released)
        pause();
    return MWP_ERR_FAILED;
}

static mwp_status hang_inverse_f64(mwp_call *c, const double *theta, const double *y,
                                   double *x)
{
    (void)c, (void)theta, (void)y, (void)x;
    while (!released)
        pause();
    return MWP_ERR_FAILED;
}

static mwp_status refuses_all(mwp_call *c)
{
    snprintf(c->msg, sizeof c->msg, "takes no shape at all");
    return MWP_ERR_SHAPE;
}

#define FAILS_JVP(real, sfx)                                                                  \
    static mwp_status fails_jvp_##sfx(mwp_call *c, const real *theta, size_t T,             \
                                      const real *x, const real *dx, const real *dtheta,     \
                                      real *y, real *dy)                                      \
    {                                                                                         \
        (void)theta, (void)T, (void)x, (void)dx, (void)dtheta, (void)y, (void)dy;             \
        snprintf(c->msg, sizeof c->msg, "jvp is not implemented");                            \
        return MWP_ERR_FAILED;                                                                \
    }
FAILS_JVP(float, f32)
FAILS_JVP(double, f64)

static const mwp_layer layers[] = {
    SCALE2_LAYER("segv-forward", "y = 2x, but forward writes through NULL", scale2_accepts,
                 segv_forward, scale2_inverse, scale2_jvp, scale2_vjp),
    SCALE2_LAYER("abort-vjp", "y = 2x, but vjp calls abort()", scale2_accepts,
                 scale2_forward, scale2_inverse, scale2_jvp, abort_vjp),
    SCALE2_LAYER("hang-inverse", "y = 2x, but inverse never returns", scale2_accepts,
                 scale2_forward, hang_inverse, scale2_jvp, scale2_vjp),
    SCALE2_LAYER("refuses-all", "y = 2x, but it accepts no shape", refuses_all,
                 scale2_forward, scale2_inverse, scale2_jvp, scale2_vjp),
    SCALE2_LAYER("fails-jvp", "y = 2x, but jvp returns MWP_ERR_FAILED", scale2_accepts,
                 scale2_forward, scale2_inverse, fails_jvp, scale2_vjp),
    SCALE2_CORRECT("scale2"),
};

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION,
    .size = sizeof(mwp_plugin),
    .name = "mwverify-test-misbehave",
    .version = "1.0",
    .n_layers = sizeof layers / sizeof layers[0],
    .layers = layers,
};

const mwp_plugin *mwp_plugin_entry(void)
{
    return &plugin;
}
