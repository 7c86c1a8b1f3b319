/* Checks of a plugin's layer (plugin.h), with the thresholds of layer_check.h: u the
 * dtype's unit roundoff, K the roundings an output goes through (the plugin's word, or
 * n + 10), tol = 8 u K.
 *
 * Each group of checks — forward; inverse; jvp; vjp with the adjoint; vijp — runs in a
 * child of its own for each shape and dtype, so that a crash or a hang in one operation
 * fails that group's rows and no other. The oracle of each row:
 *   gold        the plugin's MPFR passes at 256 bits: its forward (and the jvp as a
 *               central difference of it in MPFR, step 2^-80) and its exact vjp
 *   silver-fd   no MPFR: float64 central differences of the plugin's float64 forward,
 *               with Richardson extrapolation (steps h, h/2, h/4; h = 2^-10 of the
 *               coordinate's size, per coordinate for the vjp), whose own error — the
 *               difference of the last two extrapolations, plus the rounding of f's
 *               stored outputs (u |f| per evaluation) through the smallest step — is added to the
 *               threshold (threshold = 2 tol + 8 · that error, relative)
 *   silver-f64  no MPFR, float32: the plugin's own float64 operation at the same
 *               (float-rounded) point
 *   identity    no oracle: the round trip, the adjoint identity, vjp(vijp(h)) = h
 * Without MPFR, float64's forward has no oracle of its own: the round trip and the
 * derivatives' agreement with its differences are what check it. */
#include <math.h>
#include <mpfr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_child.h"
#include "datasets.h"
#include "oracles.h"
#include "philox.h"
#include "plugin_internal.h"

enum { G_FORWARD, G_INVERSE, G_JVP, G_VJP, G_VIJP, G_METHODS, N_GROUPS };
enum { TANGENTS = 2, GOLD_BITS = 256, FD_STEP_EXP = 80, MAX_ROWS = MW_N_METHODS + 1 };
enum { NET_DEPTH = 3, NET_CLASSES = 3, PROJ_K = 256 };

static const char *const group_checks[N_GROUPS][MAX_ROWS] = {
    [G_FORWARD] = {"forward"},
    [G_INVERSE] = {"inverse"},
    [G_JVP] = {"jvp"},
    [G_VJP] = {"vjp_input", "vjp_params", "adjoint"},
    [G_VIJP] = {"vijp_identity", "vijp_exact"},
    [G_METHODS] = {NULL}, /* method:<name>, filled in by method_check */
};

static const char *method_check(int m)
{
    static char names[MW_N_METHODS][32];
    snprintf(names[m], sizeof names[m], "method:%s", mw_method_name((mw_method)m));
    return names[m];
}

static const char *oracle_of(const char *check, int has_mpfr, mw_dtype dt)
{
    if (!strcmp(check, "inverse") || !strcmp(check, "adjoint") || !strcmp(check, "vijp_identity"))
        return "identity";
    if (!strncmp(check, "method:", 7)) /* against gold, or float64 backprop */
        return has_mpfr ? "gold" : "silver";
    return has_mpfr ? "gold" : dt == MW_F32 ? "silver-f64" : "silver-fd";
}

/* Whether the group has anything to check in shape s: float64's forward needs an oracle;
 * the methods run on an mlp of the layer, so on the dense shape alone. */
static int group_runs(int g, int has_mpfr, mw_dtype dt, int s)
{
    return !(g == G_FORWARD && !has_mpfr && dt == MW_F64) && !(g == G_METHODS && s != 0);
}

/* ---- one group, in the child ---- */

typedef struct pc {
    const mw_plugin_layer *d;
    const mwp_layer *L;
    int shape;
    mw_dtype dt;
    size_t B, n, N, P;
    double tol;
    double *x, *theta;        /* the point, rounded to the dtype */
    mw_layer_check_row rows[MAX_ROWS];
    int n_rows;
    const char *config;       /* the rows' configuration: the shape's name, or the network's */
} pc;

static const char *dt_word(mw_dtype dt)
{
    return dt == MW_F32 ? "float32" : "float64";
}

static mw_status add(pc *k, const char *check, double error, double ulps, double threshold,
                     const char *note)
{
    mw_layer_check_row *r = &k->rows[k->n_rows++];
    memset(r, 0, sizeof *r);
    snprintf(r->layer, sizeof r->layer, "%s", k->d->name);
    snprintf(r->config, sizeof r->config, "%s", k->config);
    snprintf(r->check, sizeof r->check, "%s", check);
    snprintf(r->oracle, sizeof r->oracle, "%s", oracle_of(check, k->d->has_mpfr, k->dt));
    snprintf(r->note, sizeof r->note, "%s", note ? note : "");
    r->dtype = k->dt;
    r->error = error;
    r->max_ulp_floored = ulps;
    r->threshold = threshold;
    r->pass = error <= threshold;
    return MW_OK;
}

/* The plugin's status as ours: its reason, naming the operation. */
static mw_status said(mwp_status st, mwp_call *c, const char *op, mw_dtype dt, mw_err *err)
{
    if (st == MWP_OK)
        return MW_OK;
    c->msg[sizeof c->msg - 1] = '\0';
    return mw_err_set(err, st == MWP_ERR_DOMAIN ? MW_ERR_NONFINITE : MW_ERR_BACKEND,
                      "the plugin's %s (%s) said: %.200s", op, dt_word(dt),
                      c->msg[0] ? c->msg : "failed, without a reason");
}

/* float copies of double arrays (NULL stays NULL), and back */
static float *f32_of(const double *v, size_t n)
{
    if (!v)
        return NULL;
    float *f = malloc((n ? n : 1) * sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        f[i] = (float)v[i];
    return f;
}

static void f64_of(const float *f, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = f[i];
}

#define DOING(op, dt) mw_child_doing("%s (%s)", op, dt_word(dt))

static mw_status op_forward(pc *k, mw_dtype dt, const double *theta, const double *x, double *y,
                            mw_err *err)
{
    mwp_call c = mw_plugin_call_for(k->shape, dt == MW_F32 ? 32 : 64);
    DOING("forward", dt);
    if (dt == MW_F64)
        return said(k->L->f64.forward(&c, theta, x, y), &c, "forward", dt, err);
    float *t = f32_of(theta, k->P), *xf = f32_of(x, k->N), *yf = malloc(k->N * sizeof *yf);
    mw_status st = !t || !xf || !yf ? mw_err_set(err, MW_ERR_NOMEM, "out of memory")
                                     : said(k->L->f32.forward(&c, t, xf, yf), &c, "forward", dt, err);
    if (st == MW_OK)
        f64_of(yf, y, k->N);
    free(t), free(xf), free(yf);
    return st;
}

static mw_status op_inverse(pc *k, mw_dtype dt, const double *y, double *x, mw_err *err)
{
    mwp_call c = mw_plugin_call_for(k->shape, dt == MW_F32 ? 32 : 64);
    DOING("inverse", dt);
    if (dt == MW_F64)
        return said(k->L->f64.inverse(&c, k->theta, y, x), &c, "inverse", dt, err);
    float *t = f32_of(k->theta, k->P), *yf = f32_of(y, k->N), *xf = malloc(k->N * sizeof *xf);
    mw_status st = !t || !yf || !xf ? mw_err_set(err, MW_ERR_NOMEM, "out of memory")
                                     : said(k->L->f32.inverse(&c, t, yf, xf), &c, "inverse", dt, err);
    if (st == MW_OK)
        f64_of(xf, x, k->N);
    free(t), free(yf), free(xf);
    return st;
}

static mw_status op_jvp(pc *k, mw_dtype dt, const double *dx, const double *dth, double *y,
                        double *dy, mw_err *err)
{
    mwp_call c = mw_plugin_call_for(k->shape, dt == MW_F32 ? 32 : 64);
    DOING("jvp", dt);
    if (dt == MW_F64)
        return said(k->L->f64.jvp(&c, k->theta, TANGENTS, k->x, dx, dth, y, dy), &c, "jvp", dt,
                    err);
    float *t = f32_of(k->theta, k->P), *xf = f32_of(k->x, k->N),
          *dxf = f32_of(dx, TANGENTS * k->N), *dtf = f32_of(dth, TANGENTS * k->P),
          *yf = malloc(k->N * sizeof *yf), *dyf = malloc(TANGENTS * k->N * sizeof *dyf);
    mw_status st = !t || !xf || !dxf || !dtf || !yf || !dyf
                       ? mw_err_set(err, MW_ERR_NOMEM, "out of memory")
                       : said(k->L->f32.jvp(&c, t, TANGENTS, xf, dxf, dtf, yf, dyf), &c, "jvp",
                              dt, err);
    if (st == MW_OK)
        f64_of(yf, y, k->N), f64_of(dyf, dy, TANGENTS * k->N);
    free(t), free(xf), free(dxf), free(dtf), free(yf), free(dyf);
    return st;
}

static mw_status op_vjp(pc *k, mw_dtype dt, const double *hy, double *hx, double *g, mw_err *err)
{
    mwp_call c = mw_plugin_call_for(k->shape, dt == MW_F32 ? 32 : 64);
    DOING("vjp", dt);
    if (dt == MW_F64)
        return said(k->L->f64.vjp(&c, k->theta, k->x, hy, hx, g), &c, "vjp", dt, err);
    float *t = f32_of(k->theta, k->P), *xf = f32_of(k->x, k->N), *hyf = f32_of(hy, k->N),
          *hxf = malloc(k->N * sizeof *hxf), *gf = malloc((k->P ? k->P : 1) * sizeof *gf);
    mw_status st = !t || !xf || !hyf || !hxf || !gf
                       ? mw_err_set(err, MW_ERR_NOMEM, "out of memory")
                       : said(k->L->f32.vjp(&c, t, xf, hyf, hxf, gf), &c, "vjp", dt, err);
    if (st == MW_OK)
        f64_of(hxf, hx, k->N), f64_of(gf, g, k->P);
    free(t), free(xf), free(hyf), free(hxf), free(gf);
    return st;
}

static mw_status op_vijp(pc *k, mw_dtype dt, const double *hx, double *y, double *hy, double *g,
                         mw_err *err)
{
    mwp_call c = mw_plugin_call_for(k->shape, dt == MW_F32 ? 32 : 64);
    DOING("vijp", dt);
    if (dt == MW_F64)
        return said(k->L->f64.vijp(&c, k->theta, k->x, hx, y, hy, g), &c, "vijp", dt, err);
    float *t = f32_of(k->theta, k->P), *xf = f32_of(k->x, k->N), *hxf = f32_of(hx, k->N),
          *yf = malloc(k->N * sizeof *yf), *hyf = malloc(k->N * sizeof *hyf),
          *gf = malloc((k->P ? k->P : 1) * sizeof *gf);
    mw_status st = !t || !xf || !hxf || !yf || !hyf || !gf
                       ? mw_err_set(err, MW_ERR_NOMEM, "out of memory")
                       : said(k->L->f32.vijp(&c, t, xf, hxf, yf, hyf, gf), &c, "vijp", dt, err);
    if (st == MW_OK)
        f64_of(yf, y, k->N), f64_of(hyf, hy, k->N), f64_of(gf, g, k->P);
    free(t), free(xf), free(hxf), free(yf), free(hyf), free(gf);
    return st;
}

/* ---- gold: the plugin's MPFR passes ---- */

typedef struct mpv {
    size_t n;
    mpfr_t *v;
    mpfr_ptr *p;
} mpv;

static int mpv_init(mpv *m, size_t n)
{
    m->n = n;
    m->v = malloc((n ? n : 1) * sizeof *m->v);
    m->p = malloc((n ? n : 1) * sizeof *m->p);
    if (!m->v || !m->p) {
        free(m->v), free(m->p);
        m->v = NULL, m->p = NULL, m->n = 0;
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        mpfr_init2(m->v[i], GOLD_BITS);
        mpfr_set_zero(m->v[i], 1);
        m->p[i] = m->v[i];
    }
    return 0;
}

static void mpv_clear(mpv *m)
{
    for (size_t i = 0; i < m->n; i++)
        mpfr_clear(m->v[i]);
    free(m->v), free(m->p);
    m->v = NULL, m->p = NULL, m->n = 0;
}

/* v + s·d, exactly at GOLD_BITS for the steps used (s = ±2^-80, doubles of 53 bits) */
static void mpv_set(mpv *m, const double *v, const double *d, int sign)
{
    for (size_t i = 0; i < m->n; i++) {
        mpfr_set_d(m->v[i], v[i], MPFR_RNDN);
        if (d && sign) {
            mpfr_t t;
            mpfr_init2(t, GOLD_BITS);
            mpfr_set_d(t, d[i], MPFR_RNDN);
            mpfr_mul_2si(t, t, -FD_STEP_EXP, MPFR_RNDN);
            if (sign > 0)
                mpfr_add(m->v[i], m->v[i], t, MPFR_RNDN);
            else
                mpfr_sub(m->v[i], m->v[i], t, MPFR_RNDN);
            mpfr_clear(t);
        }
    }
}

#define SRC(m) ((mpfr_srcptr const *)(m).p)

static mw_status gold_forward(pc *k, const double *dx, const double *dth, int sign, mpv *y,
                              mw_err *err)
{
    mpv x, t;
    if (mpv_init(&x, k->N) || mpv_init(&t, k->P)) {
        mpv_clear(&x);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    mpv_set(&x, k->x, dx, sign);
    mpv_set(&t, k->theta, dth, sign);
    mwp_call c = mw_plugin_call_for(k->shape, 0);
    c.mpfr_prec = GOLD_BITS;
    mw_child_doing("mpfr.forward");
    mw_status st = said(k->L->mpfr.forward(&c, SRC(t), SRC(x), y->p), &c, "MPFR forward",
                        MW_F64, err);
    mpv_clear(&x), mpv_clear(&t);
    return st;
}

static void mpv_get(const mpv *m, double *out)
{
    for (size_t i = 0; i < m->n; i++)
        out[i] = mpfr_get_d(m->v[i], MPFR_RNDN);
}

/* The exact jvp of tangent t: (f(z + εd) − f(z − εd)) / 2ε in MPFR. */
static mw_status gold_jvp(pc *k, const double *dx, const double *dth, double *dy, mw_err *err)
{
    mpv yp, ym;
    if (mpv_init(&yp, k->N) || mpv_init(&ym, k->N)) {
        mpv_clear(&yp);
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    }
    mw_status st = gold_forward(k, dx, dth, 1, &yp, err);
    if (st == MW_OK)
        st = gold_forward(k, dx, dth, -1, &ym, err);
    for (size_t i = 0; st == MW_OK && i < k->N; i++) {
        mpfr_sub(yp.v[i], yp.v[i], ym.v[i], MPFR_RNDN);
        mpfr_mul_2si(yp.v[i], yp.v[i], FD_STEP_EXP - 1, MPFR_RNDN);
        dy[i] = mpfr_get_d(yp.v[i], MPFR_RNDN);
    }
    mpv_clear(&yp), mpv_clear(&ym);
    return st;
}

static mw_status gold_vjp(pc *k, const double *hy, double *hx, double *g, mw_err *err)
{
    mpv x, t, h, ox, og;
    int bad = mpv_init(&x, k->N) | mpv_init(&t, k->P) | mpv_init(&h, k->N) |
              mpv_init(&ox, k->N) | mpv_init(&og, k->P);
    mw_status st = MW_OK;
    if (bad) {
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    } else {
        mpv_set(&x, k->x, NULL, 0);
        mpv_set(&t, k->theta, NULL, 0);
        mpv_set(&h, hy, NULL, 0);
        mwp_call c = mw_plugin_call_for(k->shape, 0);
        c.mpfr_prec = GOLD_BITS;
        mw_child_doing("mpfr.vjp");
        st = said(k->L->mpfr.vjp(&c, SRC(t), SRC(x), SRC(h), ox.p, og.p), &c, "MPFR vjp", MW_F64,
                  err);
        if (st == MW_OK)
            mpv_get(&ox, hx), mpv_get(&og, g);
    }
    mpv_clear(&x), mpv_clear(&t), mpv_clear(&h), mpv_clear(&ox), mpv_clear(&og);
    return st;
}

/* ---- silver: float64 central differences with Richardson extrapolation ---- */

/* The rounding of one float64 evaluation of f that a difference cannot cancel, relative:
 * u, the rounding of each stored output (what is common to f(z + h) and f(z − h) — most of
 * the K roundings — cancels in their difference; the Richardson term measures the rest). */
static double fd_eps(const pc *k)
{
    (void)k;
    return 0x1p-53;
}

/* f at (x + s·dx, θ + s·dθ) in float64 (dx, dth may be NULL). */
static mw_status f_at(pc *k, const double *dx, const double *dth, double s, double *y,
                      double *xs, double *ts, mw_err *err)
{
    for (size_t i = 0; i < k->N; i++)
        xs[i] = k->x[i] + (dx ? s * dx[i] : 0.0);
    for (size_t i = 0; i < k->P; i++)
        ts[i] = k->theta[i] + (dth ? s * dth[i] : 0.0);
    return op_forward(k, MW_F64, ts, xs, y, err);
}

/* The derivative of f along (dx, dθ) at the point: out (N), and the relative size of its
 * own error (the last two extrapolations' difference over the result's size). */
static mw_status fd_direction(pc *k, const double *dx, const double *dth, double *out,
                              double *est, mw_err *err)
{
    double zmax = 1.0, dmax = 0.0;
    for (size_t i = 0; i < k->N; i++)
        zmax = fmax(zmax, fabs(k->x[i])), dmax = fmax(dmax, dx ? fabs(dx[i]) : 0.0);
    for (size_t i = 0; i < k->P; i++)
        zmax = fmax(zmax, fabs(k->theta[i])), dmax = fmax(dmax, dth ? fabs(dth[i]) : 0.0);
    const size_t N = k->N;
    double *buf = malloc((7 * N + k->P) * sizeof *buf);
    if (!buf)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    double *D[3] = {buf, buf + N, buf + 2 * N}, *yp = buf + 3 * N, *ym = buf + 4 * N,
           *xs = buf + 5 * N, *ts = buf + 7 * N;
    double h = dmax > 0 ? ldexp(zmax / dmax, -10) : 1.0, fmax_abs = 0;
    mw_status st = MW_OK;
    for (int level = 0; level < 3 && st == MW_OK; level++, h /= 2) {
        if ((st = f_at(k, dx, dth, h, yp, xs, ts, err)) == MW_OK &&
            (st = f_at(k, dx, dth, -h, ym, xs, ts, err)) == MW_OK)
            for (size_t i = 0; i < N; i++) {
                D[level][i] = (yp[i] - ym[i]) / (2 * h);
                fmax_abs = fmax(fmax_abs, fmax(fabs(yp[i]), fabs(ym[i])));
            }
    }
    double worst = 0, size = 0;
    for (size_t i = 0; st == MW_OK && i < N; i++) {
        double r1 = (4 * D[1][i] - D[0][i]) / 3, r2 = (4 * D[2][i] - D[1][i]) / 3;
        out[i] = r2;
        worst = fmax(worst, fabs(r2 - r1));
        size = fmax(size, fabs(r2));
    }
    /* truncation: the last two extrapolations' difference; rounding: u |f| per evaluation
     * (fd_eps), through (4 D(h/4) − D(h/2)) / 3 at the smallest step h/4 */
    worst += 1.5 * fd_eps(k) * fmax_abs / (2 * h);
    *est = size > 0 ? worst / size : worst;
    free(buf);
    return st;
}

/* hy J for every coordinate of (x, θ): the derivative of <hy, f> along each, with the step
 * scaled to that coordinate. *est_x, *est_g as fd_direction's. */
static mw_status fd_vjp(pc *k, const double *hy, double *hx, double *g, double *est_x,
                        double *est_g, mw_err *err)
{
    const size_t N = k->N, P = k->P, Z = N + P;
    double zmax = 1.0;
    for (size_t i = 0; i < N; i++)
        zmax = fmax(zmax, fabs(k->x[i]));
    for (size_t i = 0; i < P; i++)
        zmax = fmax(zmax, fabs(k->theta[i]));
    double *e = calloc(Z, sizeof *e), *yp = malloc(2 * N * sizeof *yp),
           *xs = malloc(N * sizeof *xs), *ts = malloc((P ? P : 1) * sizeof *ts);
    mw_status st = !e || !yp || !xs || !ts ? mw_err_set(err, MW_ERR_NOMEM, "out of memory") : MW_OK;
    double wx = 0, sx = 0, wg = 0, sg = 0;
    for (size_t j = 0; j < Z && st == MW_OK; j++) {
        const double zj = j < N ? k->x[j] : k->theta[j - N];
        /* the coordinate's own scale, but no less than a quarter of the point's: a step
         * far below the others' would only magnify rounding */
        double h = ldexp(fmax(fabs(zj), 0.25 * zmax), -10), D[3], S = 0;
        e[j] = 1.0;
        for (int level = 0; level < 3 && st == MW_OK; level++, h /= 2) {
            if ((st = f_at(k, e, e + N, h, yp, xs, ts, err)) != MW_OK ||
                (st = f_at(k, e, e + N, -h, yp + N, xs, ts, err)) != MW_OK)
                break;
            double s = 0, sa = 0;
            for (size_t i = 0; i < N; i++) {
                s += hy[i] * (yp[i] - yp[N + i]);
                sa += fabs(hy[i]) * fmax(fabs(yp[i]), fabs(yp[N + i]));
            }
            S = fmax(S, sa);
            D[level] = s / (2 * h);
        }
        e[j] = 0.0;
        if (st != MW_OK)
            break;
        /* truncation, and rounding as in fd_direction: <hy, f> is off by about
         * u sum |hy||f| per evaluation */
        double r1 = (4 * D[1] - D[0]) / 3, r2 = (4 * D[2] - D[1]) / 3;
        double w = fabs(r2 - r1) + 1.5 * fd_eps(k) * S / (2 * h);
        if (j < N)
            hx[j] = r2, wx = fmax(wx, w), sx = fmax(sx, fabs(r2));
        else
            g[j - N] = r2, wg = fmax(wg, w), sg = fmax(sg, fabs(r2));
    }
    *est_x = sx > 0 ? wx / sx : wx;
    *est_g = sg > 0 ? wg / sg : wg;
    free(e), free(yp), free(xs), free(ts);
    return st;
}

/* ---- the groups ---- */

static double dotp(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static void draw(double *v, size_t n, uint64_t stream, mw_dtype dt)
{
    for (size_t i = 0; i < n; i++) {
        double z = mw_philox_normal(0x706c7567ull, stream, i);
        v[i] = dt == MW_F32 ? (double)(float)z : z;
    }
}

/* A note for a silver-fd row: what the differences' own error was. */
static const char *fd_note(char *buf, size_t n, double est)
{
    snprintf(buf, n, "central differences with Richardson extrapolation; their own error %.1e",
             est);
    return buf;
}

static mw_status group_forward(pc *k, double *w, mw_err *err)
{
    double *y = w, *yr = w + k->N;
    mw_status st = op_forward(k, k->dt, k->theta, k->x, y, err);
    if (st != MW_OK)
        return st;
    if (k->d->has_mpfr) {
        mpv m;
        if (mpv_init(&m, k->N))
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        st = gold_forward(k, NULL, NULL, 0, &m, err);
        mpv_get(&m, yr);
        mpv_clear(&m);
    } else {
        st = op_forward(k, MW_F64, k->theta, k->x, yr, err);
    }
    return st != MW_OK ? st
                       : add(k, "forward", mw_max_rel_err(y, yr, k->N),
                             mw_max_ulp_floored(y, yr, k->N, k->dt), k->tol, NULL);
}

static mw_status group_inverse(pc *k, double *w, mw_err *err)
{
    double *y = w, *xr = w + k->N;
    mw_status st = op_forward(k, k->dt, k->theta, k->x, y, err);
    if (st != MW_OK)
        return st;
    st = op_inverse(k, k->dt, y, xr, err);
    if (st == MW_ERR_NONFINITE)
        return add(k, "inverse", INFINITY, NAN, k->tol, err->msg);
    if (st != MW_OK)
        return st;
    double worst = 0, scale = fmax(mw_max_abs(k->x, k->N), mw_max_abs(y, k->N));
    for (size_t i = 0; i < k->N; i++)
        worst = fmax(worst, fabs(xr[i] - k->x[i]));
    if (!isfinite(mw_max_abs(xr, k->N)))
        worst = INFINITY;
    return add(k, "inverse", scale > 0 ? worst / scale : worst, NAN, k->tol, NULL);
}

static mw_status group_jvp(pc *k, double *w, mw_err *err)
{
    const size_t N = k->N, P = k->P;
    double *dx = w, *dth = dx + TANGENTS * N, *y = dth + TANGENTS * P, *dy = y + N,
           *dyr = dy + TANGENTS * N;
    draw(dx, TANGENTS * N, 11, k->dt);
    draw(dth, TANGENTS * P, 12, k->dt);
    mw_status st = op_jvp(k, k->dt, dx, dth, y, dy, err);
    double est = 0;
    for (size_t t = 0; t < TANGENTS && st == MW_OK; t++) {
        double e = 0;
        if (k->d->has_mpfr)
            st = gold_jvp(k, dx + t * N, dth + t * P, dyr + t * N, err);
        else if (k->dt == MW_F64)
            st = fd_direction(k, dx + t * N, dth + t * P, dyr + t * N, &e, err);
        est = fmax(est, e);
    }
    if (st == MW_OK && !k->d->has_mpfr && k->dt == MW_F32) {
        double *y64 = malloc(N * sizeof *y64);
        if (!y64)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        st = op_jvp(k, MW_F64, dx, dth, y64, dyr, err);
        free(y64);
    }
    if (st != MW_OK)
        return st;
    double e = 0;
    for (size_t t = 0; t < TANGENTS; t++)
        e = fmax(e, mw_max_rel_err(dy + t * N, dyr + t * N, N));
    if (isnan(mw_max_abs(dy, TANGENTS * N)))
        e = NAN;
    char note[160];
    const int fd = !k->d->has_mpfr && k->dt == MW_F64;
    return add(k, "jvp", e, mw_max_ulp_floored(dy, dyr, TANGENTS * N, k->dt),
               2 * k->tol + (fd ? 8 * est : 0), fd ? fd_note(note, sizeof note, est) : NULL);
}

static mw_status group_vjp(pc *k, double *w, mw_err *err)
{
    const size_t N = k->N, P = k->P;
    double *hy = w, *hx = hy + N, *g = hx + N, *hxr = g + P, *gr = hxr + N, *dx = gr + P,
           *dth = dx + TANGENTS * N, *y = dth + TANGENTS * P, *ju = y + N;
    draw(hy, N, 21, k->dt);
    mw_status st = op_vjp(k, k->dt, hy, hx, g, err);
    if (st != MW_OK)
        return st;
    double ex = 0, eg = 0;
    if (k->d->has_mpfr)
        st = gold_vjp(k, hy, hxr, gr, err);
    else if (k->dt == MW_F64)
        st = fd_vjp(k, hy, hxr, gr, &ex, &eg, err);
    else
        st = op_vjp(k, MW_F64, hy, hxr, gr, err);
    if (st != MW_OK)
        return st;
    const int fd = !k->d->has_mpfr && k->dt == MW_F64;
    char note[160];
    if ((st = add(k, "vjp_input", mw_max_rel_err(hx, hxr, N), mw_max_ulp_floored(hx, hxr, N, k->dt),
                  2 * k->tol + (fd ? 8 * ex : 0), fd ? fd_note(note, sizeof note, ex) : NULL)) !=
        MW_OK)
        return st;
    if (P && (st = add(k, "vjp_params", mw_max_rel_err(g, gr, P),
                       mw_max_ulp_floored(g, gr, P, k->dt), 2 * k->tol + (fd ? 8 * eg : 0),
                       fd ? fd_note(note, sizeof note, eg) : NULL)) != MW_OK)
        return st;
    /* the adjoint identity in the dtype: <hy, J u> = <hy J, u> */
    draw(dx, TANGENTS * N, 11, k->dt);
    draw(dth, TANGENTS * P, 12, k->dt);
    if ((st = op_jvp(k, k->dt, dx, dth, y, ju, err)) != MW_OK)
        return st == MW_ERR_NOMEM ? st : add(k, "adjoint", NAN, NAN, k->tol, err->msg);
    double lhs = dotp(hy, ju, N), rhs = dotp(hx, dx, N) + dotp(g, dth, P);
    double scale = sqrt(dotp(hy, hy, N) * dotp(ju, ju, N)) +
                   sqrt((dotp(hx, hx, N) + dotp(g, g, P)) * (dotp(dx, dx, N) + dotp(dth, dth, P)));
    double e = scale > 0 ? fabs(lhs - rhs) / scale : fabs(lhs - rhs);
    return add(k, "adjoint", isfinite(lhs) && isfinite(rhs) ? e : NAN, NAN, k->tol, NULL);
}

static mw_status group_vijp(pc *k, double *w, mw_err *err)
{
    const size_t N = k->N, P = k->P;
    double *hx = w, *y = hx + N, *hy = y + N, *g = hy + N, *hx2 = g + P, *g2 = hx2 + N,
           *yf = g2 + P, *hyr = yf + N, *gr = hyr + N;
    draw(hx, N, 31, k->dt);
    mw_status st = op_vijp(k, k->dt, hx, y, hy, g, err);
    if (st != MW_OK)
        return st;
    /* vjp(vijp(h)) = h, the same g, and vijp's y is forward's (a vjp or forward that
     * fails fails this row alone) */
    double e = NAN;
    const char *note = NULL;
    if ((st = op_vjp(k, k->dt, hy, hx2, g2, err)) != MW_OK ||
        (st = op_forward(k, k->dt, k->theta, k->x, yf, err)) != MW_OK) {
        if (st == MW_ERR_NOMEM)
            return st;
        note = err->msg;
    } else {
        e = fmax(mw_max_rel_err(hx2, hx, N), mw_max_rel_err(y, yf, N));
        if (P)
            e = fmax(e, mw_max_rel_err(g2, g, P));
        if (isnan(mw_max_abs(hy, N)) || isnan(mw_max_abs(g, P)))
            e = NAN;
    }
    if ((st = add(k, "vijp_identity", e, NAN, 2 * k->tol, note)) != MW_OK)
        return st;
    /* the exact vjp of its hy gives hx back, and its g */
    double ex = 0, eg = 0;
    const int fd = !k->d->has_mpfr && k->dt == MW_F64;
    if (k->d->has_mpfr || fd) {
        st = k->d->has_mpfr ? gold_vjp(k, hy, hyr, gr, err)
                            : fd_vjp(k, hy, hyr, gr, &ex, &eg, err);
        if (st != MW_OK)
            return st;
        e = mw_max_rel_err(hx, hyr, N); /* hyr: the exact h_x of the engine's h_y */
        if (P)
            e = fmax(e, mw_max_rel_err(g, gr, P));
    } else { /* float32 against the plugin's float64 vijp of the same hx */
        double *y64 = malloc(N * sizeof *y64);
        if (!y64)
            return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        st = op_vijp(k, MW_F64, hx, y64, hyr, gr, err);
        free(y64);
        if (st != MW_OK)
            return st;
        e = mw_max_rel_err(hy, hyr, N);
        if (P)
            e = fmax(e, mw_max_rel_err(g, gr, P));
    }
    if (isnan(mw_max_abs(hy, N)) || isnan(mw_max_abs(g, P)))
        e = NAN;
    char how[160];
    return add(k, "vijp_exact", e, NAN, 2 * k->tol + (fd ? 8 * fmax(ex, eg) : 0),
               fd ? fd_note(how, sizeof how, fmax(ex, eg)) : NULL);
}

/* ---- the six methods on a network of the layer ---- */

static const char *net_config(void)
{
    static char name[64];
    snprintf(name, sizeof name, "%s, depth %d", mw_plugin_shapes[0].name, NET_DEPTH);
    return name;
}

/* The network: NET_DEPTH layers of the plugin's on the dense shape, then the head. */
static mw_spec net_spec(void)
{
    mw_spec s = mw_spec_default();
    s.arch = MW_ARCH_MLP;
    s.width = (int)(mw_plugin_shapes[0].channels * mw_plugin_shapes[0].height *
                    mw_plugin_shapes[0].width);
    s.batch = (int)mw_plugin_shapes[0].batch;
    s.depth = NET_DEPTH;
    s.classes = NET_CLASSES;
    s.bn = 0;
    s.out_act = MW_ACT_IDENTITY;
    s.seed = 1;
    return s;
}

/* The exact gradient of the network in MPFR: forward through the plugin's MPFR layers,
 * the head and its loss, then the plugin's exact vjp back through each layer. hi + lo is
 * the gradient to twice double's precision. */
static mw_status gold_network(pc *k, const mw_spec *s, const size_t *off, const double *theta,
                              const double *x, const int *labels, double *hi, double *lo,
                              mw_err *err)
{
    const size_t B = (size_t)s->batch, n = (size_t)s->width, C = (size_t)s->classes,
                 N = B * n, L = (size_t)s->depth, P = off[L + 2];
    mpv z[NET_DEPTH + 1], h, hp, th, gl, hw, lg;
    mw_status st = MW_OK;
    int bad = 0;
    for (size_t l = 0; l <= L; l++)
        bad |= mpv_init(&z[l], N);
    bad |= mpv_init(&h, N) | mpv_init(&hp, N) | mpv_init(&th, P) | mpv_init(&gl, P) |
           mpv_init(&hw, C) | mpv_init(&lg, B * C);
    if (bad) {
        st = mw_err_set(err, MW_ERR_NOMEM, "out of memory");
        goto done;
    }
    mpv_set(&z[0], x, NULL, 0);
    mpv_set(&th, theta, NULL, 0);
    mwp_call c = mw_plugin_call_for(0, 0);
    c.mpfr_prec = GOLD_BITS;
    for (size_t l = 1; l <= L && st == MW_OK; l++) {
        c.index = (int)l;
        mw_child_doing("mpfr.forward (network layer %zu)", l);
        st = said(k->L->mpfr.forward(&c, SRC(th) + off[l], SRC(z[l - 1]), z[l].p), &c,
                  "MPFR forward", MW_F64, err);
    }
    if (st != MW_OK)
        goto done;
    /* the head: logits = z W^T + c; G = (softmax - onehot) / B; its gradients and h_L */
    const size_t ow = off[L + 1], oc = ow + C * n;
    mpfr_t t, m, sum;
    mpfr_inits2(GOLD_BITS, t, m, sum, (mpfr_ptr)0);
    for (size_t b = 0; b < B; b++) {
        for (size_t q = 0; q < C; q++) {
            mpfr_set(lg.v[b * C + q], th.v[oc + q], MPFR_RNDN);
            for (size_t j = 0; j < n; j++)
                mpfr_fma(lg.v[b * C + q], th.v[ow + q * n + j], z[L].v[b * n + j], lg.v[b * C + q],
                         MPFR_RNDN);
        }
        mpfr_set(m, lg.v[b * C], MPFR_RNDN);
        for (size_t q = 1; q < C; q++)
            mpfr_max(m, m, lg.v[b * C + q], MPFR_RNDN);
        mpfr_set_zero(sum, 1);
        for (size_t q = 0; q < C; q++) { /* exp(logit - max), then normalised */
            mpfr_sub(lg.v[b * C + q], lg.v[b * C + q], m, MPFR_RNDN);
            mpfr_exp(lg.v[b * C + q], lg.v[b * C + q], MPFR_RNDN);
            mpfr_add(sum, sum, lg.v[b * C + q], MPFR_RNDN);
        }
        for (size_t q = 0; q < C; q++) {
            mpfr_div(lg.v[b * C + q], lg.v[b * C + q], sum, MPFR_RNDN);
            if ((int)q == labels[b])
                mpfr_sub_ui(lg.v[b * C + q], lg.v[b * C + q], 1, MPFR_RNDN);
            mpfr_div_ui(lg.v[b * C + q], lg.v[b * C + q], (unsigned long)B, MPFR_RNDN);
        }
    }
    for (size_t q = 0; q < C; q++) {
        mpfr_set_zero(gl.v[oc + q], 1);
        for (size_t b = 0; b < B; b++)
            mpfr_add(gl.v[oc + q], gl.v[oc + q], lg.v[b * C + q], MPFR_RNDN);
        for (size_t j = 0; j < n; j++) {
            mpfr_set_zero(gl.v[ow + q * n + j], 1);
            for (size_t b = 0; b < B; b++)
                mpfr_fma(gl.v[ow + q * n + j], lg.v[b * C + q], z[L].v[b * n + j],
                         gl.v[ow + q * n + j], MPFR_RNDN);
        }
    }
    for (size_t b = 0; b < B; b++)
        for (size_t j = 0; j < n; j++) {
            mpfr_set_zero(h.v[b * n + j], 1);
            for (size_t q = 0; q < C; q++)
                mpfr_fma(h.v[b * n + j], lg.v[b * C + q], th.v[ow + q * n + j], h.v[b * n + j],
                         MPFR_RNDN);
        }
    mpfr_clears(t, m, sum, (mpfr_ptr)0);
    /* back through the layers: (h_{l-1}, g_l) = vjp_l(z_{l-1}, h_l) */
    for (size_t l = L; l >= 1 && st == MW_OK; l--) {
        c.index = (int)l;
        mw_child_doing("mpfr.vjp (network layer %zu)", l);
        st = said(k->L->mpfr.vjp(&c, SRC(th) + off[l], SRC(z[l - 1]), SRC(h), hp.p, gl.p + off[l]),
                  &c, "MPFR vjp", MW_F64, err);
        mpv tmp = h;
        h = hp, hp = tmp;
    }
    for (size_t i = 0; st == MW_OK && i < P; i++) {
        hi[i] = mpfr_get_d(gl.v[i], MPFR_RNDN);
        mpfr_sub_d(gl.v[i], gl.v[i], hi[i], MPFR_RNDN);
        lo[i] = mpfr_get_d(gl.v[i], MPFR_RNDN);
    }
done:
    for (size_t l = 0; l <= L; l++)
        mpv_clear(&z[l]);
    mpv_clear(&h), mpv_clear(&hp), mpv_clear(&th), mpv_clear(&gl), mpv_clear(&hw), mpv_clear(&lg);
    return st;
}

/* One method's gradient on the plugin network in a dtype: g (P). */
static mw_status net_grad(pc *k, const mw_spec *s, mw_dtype dt, mw_method m, const double *x,
                          const int *labels, double *g, size_t P, mw_err *err)
{
    mw_ctx *ctx = NULL;
    mw_net *net = NULL;
    mw_batch *batch = NULL;
    mw_tensor gt = {0};
    char msg[256];
    mw_status st = mw_ctx_open(MW_BACKEND_CPU, dt, NULL, &ctx, msg, sizeof msg);
    if (st != MW_OK)
        return mw_err_set(err, st, "%s", msg);
    mw_child_doing("%s (%s, network)", mw_method_name(m), dt_word(dt));
    mw_grad_opts o = mw_grad_opts_default();
    o.proj_samples = PROJ_K;
    o.rng_seed = s->seed;
    mw_grad_info gi;
    if ((st = mw_net_new_plugin(ctx, s, k->L, &net)) != MW_OK ||
        (st = mw_batch_new(ctx, net, x, labels, &batch)) != MW_OK ||
        (st = mw_tensor_alloc(ctx, P, &gt)) != MW_OK ||
        (st = mw_grad(ctx, net, batch, m, &o, &gt, &gi)) != MW_OK ||
        (st = mw_tensor_download(ctx, &gt, 0, g, P)) != MW_OK)
        mw_err_set(err, st, "%s (%s): %s", mw_method_name(m), dt_word(dt), mw_ctx_message(ctx));
    mw_tensor_free(ctx, &gt);
    mw_batch_free(ctx, batch);
    mw_net_free(ctx, net);
    mw_ctx_free(ctx);
    return st;
}

static mw_status group_methods(pc *k, mw_err *err)
{
    const mw_spec s = net_spec();
    const size_t N = (size_t)s.batch * (size_t)s.width, L = (size_t)s.depth;
    size_t off[NET_DEPTH + 3];
    mwp_call c = mw_plugin_call_for(0, 64);
    off[0] = off[1] = 0;
    for (size_t l = 1; l <= L; l++) {
        c.index = (int)l;
        off[l + 1] = off[l] + k->L->n_params(&c);
    }
    off[L + 2] = off[L + 1] + (size_t)(s.classes * s.width + s.classes);
    const size_t P = off[L + 2];
    double *x = malloc(N * sizeof *x), *hi = malloc(P * sizeof *hi), *lo = calloc(P, sizeof *lo),
           *g = malloc(P * sizeof *g), *theta = malloc(P * sizeof *theta);
    int *labels = malloc((size_t)s.batch * sizeof *labels);
    if (!x || !hi || !lo || !g || !theta || !labels)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    mw_synth d = mw_synth_default(s.width, s.classes, s.seed);
    mw_synth_batch(&d, 0, s.batch, x, labels);
    for (size_t i = 0; i < N; i++)
        x[i] = (double)(float)x[i];
    /* the oracle: gold from the plugin's MPFR passes, or float64 backprop */
    mw_status st;
    if (k->d->has_mpfr) {
        mw_ctx *ctx = NULL;
        mw_net *net = NULL;
        char msg[256];
        if ((st = mw_ctx_open(MW_BACKEND_CPU, MW_F64, NULL, &ctx, msg, sizeof msg)) != MW_OK)
            return mw_err_set(err, st, "%s", msg);
        if ((st = mw_net_new_plugin(ctx, &s, k->L, &net)) != MW_OK ||
            (st = mw_net_get_params(ctx, net, theta)) != MW_OK)
            mw_err_set(err, st, "the network: %s", mw_ctx_message(ctx));
        mw_net_free(ctx, net);
        mw_ctx_free(ctx);
        if (st != MW_OK || (st = gold_network(k, &s, off, theta, x, labels, hi, lo, err)) != MW_OK)
            return st;
    } else if ((st = net_grad(k, &s, MW_F64, MW_BACKPROP, x, labels, hi, P, err)) != MW_OK) {
        return st;
    }
    for (int m = 0; m < MW_N_METHODS; m++) {
        const int stochastic = mw_method_is_stochastic((mw_method)m);
        double error = INFINITY, ulps = NAN;
        mw_err why = {MW_OK, ""};
        if ((st = net_grad(k, &s, k->dt, (mw_method)m, x, labels, g, P, &why)) == MW_OK) {
            mw_metrics mm;
            mw_metrics_compute(g, hi, lo, P, k->dt, &mm);
            error = stochastic ? mm.rel_l2 / sqrt((double)(P + 1) / PROJ_K) : mm.rel_l2;
            if (!stochastic)
                ulps = mw_max_ulp_floored(g, hi, P, k->dt);
        } else if (st == MW_ERR_NOMEM) {
            return mw_err_set(err, st, "%s", why.msg);
        }
        double thr = stochastic ? 1.5 : k->dt == MW_F64 ? 1e-11 : 1e-4;
        add(k, method_check(m), error, ulps, thr, why.msg[0] ? why.msg : NULL);
    }
    return MW_OK;
}

typedef struct check_arg {
    const mw_plugin_layer *d;
    int shape, group;
    mw_dtype dt;
} check_arg;

static mw_status check_in_child(void *argp, void **out, size_t *n, mw_err *err)
{
    const check_arg *a = argp;
    mw_plugin_here here;
    mw_status st = mw_plugin_load_here(a->d->path, a->d->name, &here, err);
    if (st != MW_OK)
        return st;
    pc *k = calloc(1, sizeof *k);
    if (!k)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    const mw_plugin_shape *s = &mw_plugin_shapes[a->shape];
    k->d = a->d, k->L = here.layer, k->shape = a->shape, k->dt = a->dt;
    k->config = a->group == G_METHODS ? net_config() : s->name;
    k->B = s->batch, k->n = s->channels * s->height * s->width;
    k->N = k->B * k->n, k->P = a->d->n_params[a->shape];
    k->tol = 8.0 * (a->dt == MW_F32 ? 0x1p-24 : 0x1p-53) * (double)a->d->roundings[a->shape];
    const size_t N = k->N, P = k->P;
    k->x = malloc(N * sizeof *k->x);
    k->theta = malloc((P ? P : 1) * sizeof *k->theta);
    double *w = malloc((12 * N + 6 * P + 8) * sizeof *w); /* every group's arrays fit */
    if (!k->x || !k->theta || !w)
        return mw_err_set(err, MW_ERR_NOMEM, "out of memory");
    draw(k->x, N, (uint64_t)a->shape, a->dt);
    mwp_call c = mw_plugin_call_for(a->shape, 64);
    mw_child_doing("init");
    if ((st = said(k->L->init(&c, 1, k->theta), &c, "init", MW_F64, err)) != MW_OK)
        return st;
    for (size_t i = 0; i < P; i++) {
        if (!isfinite(k->theta[i]))
            return mw_err_set(err, MW_ERR_BACKEND, "the plugin's init gave a non-finite "
                              "parameter (%zu)", i);
        if (a->dt == MW_F32)
            k->theta[i] = (double)(float)k->theta[i];
    }
    switch (a->group) {
    case G_FORWARD: st = group_forward(k, w, err); break;
    case G_INVERSE: st = group_inverse(k, w, err); break;
    case G_JVP: st = group_jvp(k, w, err); break;
    case G_VJP: st = group_vjp(k, w, err); break;
    case G_VIJP: st = group_vijp(k, w, err); break;
    default: st = group_methods(k, err); break;
    }
    if (st != MW_OK)
        return st;
    *out = k->rows; /* the child ends: nothing is freed */
    *n = (size_t)k->n_rows * sizeof k->rows[0];
    return MW_OK;
}

/* ---- in this process ---- */

/* The rows of a group that could not be computed: failed, with the reason. */
static mw_status failed_rows(const mw_plugin_layer *d, int shape, mw_dtype dt, int g,
                             const char *why, mw_layer_rows *rows, mw_err *err)
{
    const int n = g == G_METHODS ? MW_N_METHODS : MAX_ROWS;
    for (int i = 0; i < n && (g == G_METHODS || group_checks[g][i]); i++) {
        const char *check = g == G_METHODS ? method_check(i) : group_checks[g][i];
        if (!strcmp(check, "vjp_params") && d->n_params[shape] == 0)
            continue;
        mw_layer_check_row r;
        memset(&r, 0, sizeof r);
        snprintf(r.layer, sizeof r.layer, "%s", d->name);
        snprintf(r.config, sizeof r.config, "%s",
                 g == G_METHODS ? net_config() : mw_plugin_shapes[shape].name);
        snprintf(r.check, sizeof r.check, "%s", check);
        snprintf(r.oracle, sizeof r.oracle, "%s", oracle_of(check, d->has_mpfr, dt));
        snprintf(r.note, sizeof r.note, "%s", why);
        r.dtype = dt;
        r.error = r.max_ulp_floored = NAN;
        r.threshold = NAN;
        r.pass = 0;
        mw_status st = mw_layer_rows_add(rows, &r, err);
        if (st != MW_OK)
            return st;
    }
    return MW_OK;
}

mw_status mw_plugin_layer_check(const mw_plugin_layer *d, mw_layer_rows *rows, mw_err *err)
{
    const double limit = mw_plugin_time_limit(60.0);
    for (int s = 0; s < MW_PLUGIN_SHAPES; s++) {
        if (!d->accepts[s])
            continue;
        for (int dt = 0; dt < 2; dt++)
            for (int g = 0; g < N_GROUPS; g++) {
                if (!group_runs(g, d->has_mpfr, (mw_dtype)dt, s))
                    continue;
                check_arg a = {d, s, g, (mw_dtype)dt};
                void *bytes = NULL;
                size_t n = 0;
                mw_child_end end;
                mw_err why = {MW_OK, ""};
                const mw_child_opts o = {limit, MAX_ROWS * sizeof(mw_layer_check_row), 0};
                mw_status st = mw_child_run(check_in_child, &a, &o, &bytes, &n, &end, &why);
                if (st == MW_ERR_IO || st == MW_ERR_NOMEM) {
                    free(bytes);
                    return mw_err_set(err, st, "layer %s: %s", d->name, why.msg);
                }
                if (st != MW_OK) { /* the plugin crashed, hung or failed: its rows fail */
                    free(bytes);
                    st = failed_rows(d, s, (mw_dtype)dt, g, why.msg, rows, err);
                    if (st != MW_OK)
                        return st;
                    continue;
                }
                const mw_layer_check_row *r = bytes;
                for (size_t i = 0; i < n / sizeof *r && st == MW_OK; i++) {
                    mw_layer_check_row row = r[i];
                    if (mw_record_sane(&mw_layer_check_record, &row, &why) != MW_OK)
                        st = failed_rows(d, s, (mw_dtype)dt, g, why.msg, rows, err);
                    else
                        st = mw_layer_rows_add(rows, &row, err);
                }
                free(bytes);
                if (st != MW_OK)
                    return st;
            }
    }
    return MW_OK;
}

double mw_plugin_layer_check_cost(const mw_plugin_layer *d)
{
    /* a child per group, shape and dtype (a few ms each); the float64 differences are a
     * few hundred forwards of a small layer; MPFR at 256 bits a little more */
    double s = 0;
    for (int k = 0; k < MW_PLUGIN_SHAPES; k++)
        s += d->accepts[k] ? (d->has_mpfr ? 0.2 : 0.1) : 0.0;
    return s;
}
