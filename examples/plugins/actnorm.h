/* ActNorm's five operations in one precision, written once for float and double.
 *
 * This is a template, not an ordinary header: actnorm.c includes it twice, first with
 *     REAL float,  FN(name) name##_f32,  EXP expf
 * and then with double, _f64 and exp, so that the float32 operations are genuine float32
 * arithmetic and the float64 ones genuine float64. No include guard, on purpose.
 *
 * Layout (docs/layer-plugins.md): x is (B, C, H, W), row-major, so the feature
 * (b, ch, pixel p) is at (b * C + ch) * HW + p, HW = H * W. theta = (log_scale[C], bias[C]).
 *
 * ACTNORM_FAULTY (defined by actnorm_faulty.c) puts the deliberate error into vijp. */

/* y = x ⊙ exp(s) + b */
static mwp_status FN(forward)(mwp_call *c, const REAL *theta, const REAL *x, REAL *y)
{
    const size_t C = c->channels, HW = c->height * c->width;
    const REAL *s = theta, *bias = theta + C;
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t ch = 0; ch < C; ch++) {
            const REAL e = EXP(s[ch]);
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++)
                y[o + p] = x[o + p] * e + bias[ch];
        }
    return MWP_OK;
}

/* x = (y − b) ⊙ exp(−s) */
static mwp_status FN(inverse)(mwp_call *c, const REAL *theta, const REAL *y, REAL *x)
{
    const size_t C = c->channels, HW = c->height * c->width;
    const REAL *s = theta, *bias = theta + C;
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t ch = 0; ch < C; ch++) {
            const REAL einv = EXP(-s[ch]);
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++)
                x[o + p] = (y[o + p] - bias[ch]) * einv;
        }
    return MWP_OK;
}

/* y = f(x); per tangent t: dy = dx ⊙ e + x ⊙ e ⊙ ds + db (dx or dtheta NULL: zero). */
static mwp_status FN(jvp)(mwp_call *c, const REAL *theta, size_t T, const REAL *x,
                          const REAL *dx, const REAL *dtheta, REAL *y, REAL *dy)
{
    const size_t C = c->channels, HW = c->height * c->width, P = 2 * C;
    const size_t BN = c->batch * c->features;
    FN(forward)(c, theta, x, y);
    for (size_t t = 0; t < T; t++) {
        const REAL *dxt = dx ? dx + t * BN : NULL;
        const REAL *dth = dtheta ? dtheta + t * P : NULL;
        REAL *dyt = dy + t * BN;
        for (size_t bt = 0; bt < c->batch; bt++)
            for (size_t ch = 0; ch < C; ch++) {
                const REAL e = EXP(theta[ch]);
                const REAL ds = dth ? dth[ch] : 0, db = dth ? dth[C + ch] : 0;
                const size_t o = (bt * C + ch) * HW;
                for (size_t p = 0; p < HW; p++) {
                    const REAL from_x = dxt ? dxt[o + p] * e : 0;
                    dyt[o + p] = from_x + x[o + p] * e * ds + db;
                }
            }
    }
    return MWP_OK;
}

/* The parameter gradient from x and an output cotangent hy, summed over batch and pixels:
 * g_s = Σ hy ⊙ x ⊙ e (g_s = Σ hy ⊙ x when with_e is 0: the faulty twin), g_b = Σ hy. */
static void FN(param_grad)(const mwp_call *c, const REAL *theta, const REAL *x,
                           const REAL *hy, int with_e, REAL *g)
{
    const size_t C = c->channels, HW = c->height * c->width;
    for (size_t ch = 0; ch < C; ch++) {
        const REAL e = with_e ? EXP(theta[ch]) : 1;
        REAL gs = 0, gb = 0;
        for (size_t bt = 0; bt < c->batch; bt++) {
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++) {
                gs += hy[o + p] * x[o + p] * e;
                gb += hy[o + p];
            }
        }
        g[ch] = gs;
        g[C + ch] = gb;
    }
}

/* hx = hy ⊙ e, and the parameter gradient. */
static mwp_status FN(vjp)(mwp_call *c, const REAL *theta, const REAL *x, const REAL *hy,
                          REAL *hx, REAL *gtheta)
{
    const size_t C = c->channels, HW = c->height * c->width;
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t ch = 0; ch < C; ch++) {
            const REAL e = EXP(theta[ch]);
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++)
                hx[o + p] = hy[o + p] * e;
        }
    FN(param_grad)(c, theta, x, hy, 1, gtheta);
    return MWP_OK;
}

/* The Moonwalk step: y = f(x); J_x is diagonal (e), so hy = hx J_x⁻¹ = hx ⊙ exp(−s);
 * then g from that hy as in vjp. */
static mwp_status FN(vijp)(mwp_call *c, const REAL *theta, const REAL *x, const REAL *hx,
                           REAL *y, REAL *hy, REAL *gtheta)
{
    const size_t C = c->channels, HW = c->height * c->width;
    FN(forward)(c, theta, x, y);
    for (size_t bt = 0; bt < c->batch; bt++)
        for (size_t ch = 0; ch < C; ch++) {
            const REAL einv = EXP(-theta[ch]);
            const size_t o = (bt * C + ch) * HW;
            for (size_t p = 0; p < HW; p++)
                hy[o + p] = hx[o + p] * einv;
        }
#ifdef ACTNORM_FAULTY
    FN(param_grad)(c, theta, x, hy, 0, gtheta); /* THE DELIBERATE ERROR: g_s without e */
#else
    FN(param_grad)(c, theta, x, hy, 1, gtheta);
#endif
    return MWP_OK;
}
