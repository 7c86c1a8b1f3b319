/* The MPFR witness of one coupling layer (oracles.h): the reference network of a
 * one-layer spec, its layer's output, its jvp by central differences and its exact vjp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "mw_reference.h"
#include "oracles.h"

enum { FD_STEP_EXP = 80 };

struct mw_layer_oracle {
    mw_ref *r;
    size_t N, P;
    double *x, *theta;  /* the point, to restore after each perturbation */
    mpfr_t eps;
    mpfr_t *yp;         /* the + side of a central difference */
};

/* A reference failure: its message, as an MPFR failure. */
static mw_status ref_failed(mw_err *err, const char *msg)
{
    return mw_err_set(err, MW_ERR_BACKEND, "MPFR reference: %s", msg);
}

void mw_layer_oracle_free(mw_layer_oracle *o)
{
    if (!o)
        return;
    if (o->yp) {
        for (size_t i = 0; i < o->N; i++)
            mpfr_clear(o->yp[i]);
        free(o->yp);
        mpfr_clear(o->eps);
    }
    mw_ref_free(o->r);
    free(o->x);
    free(o->theta);
    free(o);
}

mw_status mw_layer_oracle_open(const mw_spec *spec, const double *theta, const double *x,
                               const int *labels, long bits, mw_layer_oracle **out, mw_err *err)
{
    char msg[512];
    mw_layer_oracle *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    if (mw_ref_new(spec, bits, &o->r, msg, sizeof msg) != 0) {
        mw_layer_oracle_free(o);
        return ref_failed(err, msg);
    }
    o->N = (size_t)spec->batch * (size_t)spec->width;
    o->P = mw_ref_n_params(o->r);
    o->x = malloc(o->N * sizeof *o->x);
    o->theta = malloc(o->P * sizeof *o->theta);
    o->yp = malloc(o->N * sizeof *o->yp);
    if (!o->x || !o->theta || !o->yp) {
        free(o->yp), o->yp = NULL;
        mw_layer_oracle_free(o);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    memcpy(o->x, x, o->N * sizeof *x);
    memcpy(o->theta, theta, o->P * sizeof *theta);
    mpfr_init2(o->eps, bits);
    mpfr_set_ui_2exp(o->eps, 1, -FD_STEP_EXP, MPFR_RNDN);
    for (size_t i = 0; i < o->N; i++)
        mpfr_init2(o->yp[i], bits);
    if (mw_ref_set_params(o->r, theta, msg, sizeof msg) ||
        mw_ref_set_batch(o->r, x, labels, msg, sizeof msg) ||
        mw_ref_forward(o->r, msg, sizeof msg)) {
        mw_layer_oracle_free(o);
        return ref_failed(err, msg);
    }
    *out = o;
    return MW_OK;
}

void mw_layer_oracle_output(const mw_layer_oracle *o, double *y)
{
    for (size_t i = 0; i < o->N; i++)
        y[i] = mpfr_get_d(mw_ref_activation(o->r, 1, i), MPFR_RNDN);
}

/* v := base + sign · eps · dir, for one value. */
static void perturb(mpfr_ptr v, double dir, double base, int sign, mpfr_srcptr eps)
{
    mpfr_set_d(v, dir, MPFR_RNDN);
    mpfr_mul(v, v, eps, MPFR_RNDN);
    if (sign < 0)
        mpfr_neg(v, v, MPFR_RNDN);
    mpfr_add_d(v, v, base, MPFR_RNDN);
}

mw_status mw_layer_oracle_jvp(mw_layer_oracle *o, const double *u, const double *w, size_t off,
                              size_t P, double *dy, mw_err *err)
{
    char msg[512];
    int rc = 0;
    for (int sgn = 1; sgn >= -1 && rc == 0; sgn -= 2) {
        for (size_t i = 0; u && i < o->N; i++)
            perturb(mw_ref_input(o->r, i), u[i], o->x[i], sgn, o->eps);
        for (size_t j = 0; w && j < P; j++)
            perturb(mw_ref_param(o->r, off + j), w[j], o->theta[off + j], sgn, o->eps);
        rc = mw_ref_forward_from(o->r, 1, msg, sizeof msg);
        for (size_t i = 0; rc == 0 && i < o->N; i++) {
            if (sgn > 0) {
                mpfr_set(o->yp[i], mw_ref_activation(o->r, 1, i), MPFR_RNDN);
            } else {
                mpfr_sub(o->yp[i], o->yp[i], mw_ref_activation(o->r, 1, i), MPFR_RNDN);
                mpfr_div(o->yp[i], o->yp[i], o->eps, MPFR_RNDN);
                mpfr_div_2ui(o->yp[i], o->yp[i], 1, MPFR_RNDN);
                dy[i] = mpfr_get_d(o->yp[i], MPFR_RNDN);
            }
        }
    }
    /* put the network back as it was */
    for (size_t i = 0; i < o->N; i++)
        mpfr_set_d(mw_ref_input(o->r, i), o->x[i], MPFR_RNDN);
    for (size_t j = 0; j < P; j++)
        mpfr_set_d(mw_ref_param(o->r, off + j), o->theta[off + j], MPFR_RNDN);
    if (rc == 0)
        rc = mw_ref_forward(o->r, msg, sizeof msg);
    return rc == 0 ? MW_OK : ref_failed(err, msg);
}

mw_status mw_layer_oracle_vjp(mw_layer_oracle *o, const double *h, size_t off, size_t P,
                              double *hx, double *g, mw_err *err)
{
    char msg[512];
    if (mw_ref_vjp_body(o->r, h, msg, sizeof msg) != 0)
        return ref_failed(err, msg);
    for (size_t i = 0; i < o->N; i++)
        hx[i] = mpfr_get_d(mw_ref_input_grad(o->r, i), MPFR_RNDN);
    for (size_t j = 0; j < P; j++)
        g[j] = mpfr_get_d(mw_ref_grad(o->r, off + j), MPFR_RNDN);
    return MW_OK;
}
