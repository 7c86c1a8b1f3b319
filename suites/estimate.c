/* What a gradient costs on this machine before it is computed (suites.h): each method's
 * time and working memory measured on the network itself at a small batch — forward-mode
 * methods by their first block of tangents (the memory probe) — and scaled to the asked
 * batch and to every block by counting the work; gold's from its own model (oracles.h);
 * and the whole of `mwverify grad` from those. The suites build their estimates from the
 * same pieces. An estimate is the work's, on cores of its own: other processes on the
 * machine make the run slower than said. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets.h"
#include "suites.h"

/* ---- the work of a call, counted ----
 * In multiply-adds of the batch through the network's maps: enough to scale a measured
 * call to another batch or to all of its blocks, not to predict its time alone. */

/* Multiply-adds per sample from coupling layer l on, the head included (l = L + 1: the
 * head alone). */
static double macs_from(const mw_spec *s, int l)
{
    double m = (double)s->classes * mw_spec_head_features(s);
    for (int i = l; i <= s->depth; i++)
        m += mw_spec_layer_macs(s, i);
    return m;
}

static double layer_macs(const mw_spec *s, int l)
{
    return l <= s->depth ? mw_spec_layer_macs(s, l)
                         : (double)s->classes * mw_spec_head_features(s);
}

/* Parameters of each coupling layer (1..L) and of the head (L + 1). */
static int layer_params(const mw_spec *s, double *p)
{
    mw_layout lay;
    if (mw_layout_build(s, &lay) != 0)
        return 1;
    for (int l = 1; l <= s->depth + 1; l++)
        p[l] = 0.0;
    for (int t = 0; t < lay.n_params; t++)
        p[lay.params[t].layer ? lay.params[t].layer : s->depth + 1] += (double)lay.params[t].count;
    mw_layout_free(&lay);
    return 0;
}

/* A normal draw of projforward's tangents, in multiply-adds (Philox and Box-Muller: a log
 * and a sine per pair cost what some fifty multiply-adds of small products do). */
#define NORMAL_MACS 50.0

/* The work of one call of method m at the spec's batch: in full, or (probe) only the
 * first block of tangents of each forward-mode pass, as the memory probe runs it. */
static double call_work(const mw_spec *s, mw_method m, const mw_grad_opts *o, int probe)
{
    const double B = s->batch, T = o->tangent_block, all = macs_from(s, 1);
    switch (m) {
    case MW_FORWARD: { /* per layer: blocks of T one-hot tangents pushed from it on, each
                          block with its primal pass */
        double *p = malloc(((size_t)s->depth + 2) * sizeof *p), w = B * all;
        if (!p || layer_params(s, p) != 0) {
            free(p);
            return NAN;
        }
        for (int l = 1; l <= s->depth + 1; l++) {
            if (p[l] == 0.0)
                continue;
            const double tangents = probe ? fmin(T, p[l]) : p[l];
            const double blocks = probe ? 1.0 : ceil(p[l] / T);
            w += B * (blocks * macs_from(s, l) + tangents * (macs_from(s, l) + layer_macs(s, l)));
        }
        free(p);
        return w;
    }
    case MW_PROJFORWARD: { /* blocks of T samples through everything, their normals drawn
                              twice */
        mw_layout lay;
        double P = 0.0;
        if (mw_layout_build(s, &lay) == 0) {
            P = (double)lay.total;
            mw_layout_free(&lay);
        }
        const double K = o->proj_samples, first = fmin(K, T);
        const double samples = probe ? first : K, blocks = probe ? 1.0 : ceil(K / T);
        return blocks * B * all + samples * (2.0 * B * all + 2.0 * NORMAL_MACS * P);
    }
    case MW_MOONWALK: { /* phase 1: input tangents (one per feature, or per coordinate of
                           the batch with BatchNorm) through everything; phase 2 a sweep */
        const double count = s->bn || o->moonwalk_general ? B * s->width : (double)s->width;
        const double tangents = probe ? fmin(count, T) : count;
        const double blocks = probe ? 1.0 : ceil(count / T);
        return B * all * (blocks + tangents + 3.0);
    }
    case MW_MIXED:
        return 6.0 * B * all;
    case MW_REVBACKPROP:
        return 4.0 * B * all;
    default:
        return 3.0 * B * all;
    }
}

static int forward_mode(mw_method m)
{
    return m == MW_FORWARD || m == MW_PROJFORWARD || m == MW_MOONWALK;
}

/* ---- measuring a call ---- */

static int same_shape(const mw_spec *a, const mw_spec *b);

/* The engine's contexts the measurements use, one per backend, dtype and math mode, open
 * until mw_call_cost_release (a device context takes long to make). */
typedef struct open_ctx {
    mw_backend_kind backend;
    mw_dtype dt;
    mw_math_mode math;
    mw_ctx *ctx;
} open_ctx;
static open_ctx ctxs[8];
static int n_ctxs;

static mw_status ctx_for(const mw_engine_config *e, mw_dtype dt, mw_ctx **out, char *msg,
                         size_t n)
{
    for (int i = 0; i < n_ctxs; i++)
        if (ctxs[i].backend == e->backend && ctxs[i].dt == dt && ctxs[i].math == e->math) {
            *out = ctxs[i].ctx;
            return MW_OK;
        }
    if (n_ctxs == (int)(sizeof ctxs / sizeof ctxs[0])) { /* room for every backend, dtype
                                                            and mode: not reached */
        snprintf(msg, n, "too many engines open");
        return MW_ERR_BACKEND;
    }
    mw_ctx_opts co = {e->math, e->device};
    mw_status st = mw_ctx_open(e->backend, dt, &co, out, msg, n);
    if (st == MW_OK)
        ctxs[n_ctxs++] = (open_ctx){e->backend, dt, e->math, *out};
    return st;
}

static void kept_free(void);

void mw_call_cost_release(void)
{
    kept_free();
    for (int i = 0; i < n_ctxs; i++)
        mw_ctx_free(ctxs[i].ctx);
    n_ctxs = 0;
}

/* The network the last measurement ran on, kept for the next: a unit's methods are
 * measured one after the other on the same network and batch, and a large network takes
 * longer to make (its parameters drawn, uploaded) than its calls. */
static struct {
    mw_spec spec;
    mw_dtype dt;
    mw_backend_kind backend;
    mw_math_mode math;
    mw_ctx *ctx;
    mw_net *net;
    mw_batch *batch;
    mw_tensor g;
    double setup_s;           /* making it: parameters drawn and uploaded, the batch */
} kept;

static void kept_free(void)
{
    mw_tensor_free(kept.ctx, &kept.g);
    mw_batch_free(kept.ctx, kept.batch);
    mw_net_free(kept.ctx, kept.net);
    memset(&kept, 0, sizeof kept);
}

/* The spec's network (its initial parameters) in dtype dt, with a synthetic batch and a
 * gradient. */
static mw_status network_for(const mw_engine_config *e, const mw_spec *s, mw_dtype dt, char *msg,
                             size_t n)
{
    if (kept.net && kept.dt == dt && kept.backend == e->backend && kept.math == e->math &&
        same_shape(&kept.spec, s) && kept.spec.seed == s->seed &&
        kept.spec.init_scale == s->init_scale)
        return MW_OK;
    kept_free();
    mw_ctx *ctx;
    const double t0 = mw_now();
    mw_status st = ctx_for(e, dt, &ctx, msg, n);
    if (st != MW_OK)
        return st;
    const size_t N = (size_t)s->batch * (size_t)s->width;
    double *x = malloc(N * sizeof *x);
    int *labels = malloc((size_t)s->batch * sizeof *labels);
    kept.ctx = ctx;
    if (!x || !labels) {
        st = MW_ERR_NOMEM;
        snprintf(msg, n, "out of memory");
    } else {
        mw_synth d = mw_synth_default(s->width, s->classes, s->seed);
        mw_synth_batch(&d, 0, s->batch, x, labels);
        if ((st = mw_net_new(ctx, s, &kept.net)) != MW_OK ||
            (st = mw_batch_new(ctx, kept.net, x, labels, &kept.batch)) != MW_OK ||
            (st = mw_tensor_alloc(ctx, mw_net_layout(kept.net)->total, &kept.g)) != MW_OK)
            snprintf(msg, n, "%s", mw_ctx_message(ctx));
    }
    free(x), free(labels);
    if (st != MW_OK)
        kept_free();
    else
        kept.spec = *s, kept.dt = dt, kept.backend = e->backend, kept.math = e->math;
    kept.setup_s = mw_now() - t0;
    return st;
}

/* The least wall time of a few calls at batch b, the call's peak working bytes, and
 * whether it failed (a gradient not finite is still timed: its work was done). */
static mw_status time_call(const mw_engine_config *e, const mw_spec *s0, int b, mw_method m,
                           mw_dtype dt, const mw_grad_opts *o, double *sec, double *peak,
                           int *fails, mw_err *err)
{
    mw_spec s = *s0;
    s.batch = b;
    char msg[320];
    mw_status st = network_for(e, &s, dt, msg, sizeof msg);
    *sec = INFINITY, *peak = 0.0;
    /* the first call pays for first touches and the BLAS threads' start: the least of
     * five is the call's own time (of fewer, down to the first alone, as a call is long
     * enough that its start and any one interruption are lost in it) */
    for (int k = 0; st == MW_OK && k < 5 && !(k >= 1 && *sec > 0.03) && !(k >= 2 && *sec > 0.01) &&
                    !(k >= 3 && *sec > 0.003);
         k++) {
        mw_grad_info info;
        const double t0 = mw_now();
        mw_status gs = mw_grad(kept.ctx, kept.net, kept.batch, m, o, &kept.g, &info);
        *sec = fmin(*sec, mw_now() - t0);
        *peak = fmax(*peak, (double)info.peak_bytes);
        /* a non-finite gradient (a saturated or diverging network) cost the same work */
        *fails = gs != MW_OK;
        if (gs != MW_OK && gs != MW_ERR_NONFINITE) {
            st = gs;
            snprintf(msg, sizeof msg, "%s", mw_ctx_message(kept.ctx));
        }
    }
    return st == MW_OK ? MW_OK : mw_err_set(err, st, "estimating %s: %s", mw_method_name(m), msg);
}

/* Multiply-adds a calibration call may cost (some milliseconds here), and those beyond
 * which a call is not measured at all but counted at FALLBACK_MACS_PER_S (a nominal rate,
 * what a few cores do on large products): a network so large that a tenth of a second
 * goes into one sample of its smallest measurement is refused on its count without the
 * wait. */
#define CALIBRATION_MACS 3.2e7
#define UNMEASURED_MACS 3e8
#define FALLBACK_MACS_PER_S 1e10
/* Working bytes beyond the caches of any machine here, and the work a measurement there
 * may cost (some tens of milliseconds). */
#define MEMORY_BOUND_BYTES (96.0 * 1024 * 1024)
#define MEMORY_BOUND_MACS 3e8

/* Memo of measured calls: the suites ask for the same network many times (seeds). */
typedef struct call_memo {
    mw_spec spec;
    mw_method m;
    mw_dtype dt;
    mw_grad_opts o;
    mw_backend_kind backend;
    mw_call_cost cost;
} call_memo;

static call_memo *memo;
static size_t n_memo, cap_memo;

/* The same network as far as cost goes: every field but the seed and the scale (the
 * values, not the work), compared one by one (a struct's padding is not its value). */
static int same_shape(const mw_spec *a, const mw_spec *b)
{
    return a->arch == b->arch && a->coupling == b->coupling && a->width == b->width &&
           a->hidden == b->hidden && a->units == b->units && a->depth == b->depth &&
           a->channels == b->channels && a->image_h == b->image_h && a->image_w == b->image_w &&
           a->blocks == b->blocks && a->layers_per_block == b->layers_per_block &&
           a->f_act == b->f_act && a->out_act == b->out_act && a->bn == b->bn &&
           a->batch == b->batch && a->classes == b->classes &&
           a->leaky_slope == b->leaky_slope;
}

static int same_call(const call_memo *a, const mw_spec *s, mw_method m, mw_dtype dt,
                     const mw_grad_opts *o, mw_backend_kind backend)
{
    /* the activations are elementwise work beside the products: a network's calls cost
     * the same whichever it has (a grid of activations is measured once per shape) */
    mw_spec x = *s;
    x.f_act = a->spec.f_act, x.out_act = a->spec.out_act, x.leaky_slope = a->spec.leaky_slope;
    return a->m == m && a->dt == dt && a->backend == backend && same_shape(&a->spec, &x) &&
           a->o.tangent_block == o->tangent_block && a->o.proj_samples == o->proj_samples &&
           a->o.memory_probe == o->memory_probe && a->o.moonwalk_general == o->moonwalk_general;
}

/* Tangents in the first block of a forward-mode call (what a probe pushes), and the
 * options that make it tau. */
static double first_block(const mw_spec *s, mw_method m, const mw_grad_opts *o)
{
    switch (m) {
    case MW_FORWARD: return o->tangent_block;
    case MW_PROJFORWARD: return fmin(o->proj_samples, o->tangent_block);
    case MW_MOONWALK: {
        const double count = s->bn || o->moonwalk_general ? (double)s->batch * s->width : s->width;
        return fmin(count, o->tangent_block);
    }
    default: return 1.0;
    }
}

static mw_grad_opts with_block(mw_method m, const mw_grad_opts *o, int tau)
{
    mw_grad_opts x = *o;
    x.tangent_block = tau;
    if (m == MW_PROJFORWARD)
        x.proj_samples = tau;
    return x;
}

/* The call measured at the spec's batch (memoised): seconds and peak bytes of `co`'s call,
 * which for forward-mode methods is a probe. A call too costly to measure as it is, is
 * measured smaller — at two batches, and (forward mode) at two sizes of its first block
 * of tangents — and extrapolated: t(b, τ) = t0 + t1 b + t2 τ + t3 b τ, exact for a pass
 * whose work is a fixed part, a part per sample, a part per tangent (projforward's draws)
 * and a part per sample and tangent. */
static mw_status measure(const mw_engine_config *e, const mw_spec *s, mw_method m, mw_dtype dt,
                         const mw_grad_opts *co, mw_call_cost *out, mw_err *err)
{
    for (size_t i = 0; i < n_memo; i++)
        if (same_call(&memo[i], s, m, dt, co, e->backend)) {
            *out = memo[i].cost;
            return MW_OK;
        }
    memset(out, 0, sizeof *out);
    const int B = s->batch, b_min = s->bn ? 2 : 1, tauF = (int)first_block(s, m, co);
    mw_spec sb = *s;
    const int probe = forward_mode(m);
#define WORK(b, tau)                                                                          \
    (sb.batch = (b), call_work(&sb, m, (mw_grad_opts[]){with_block(m, co, tau)}, 1))
    if (!(WORK(b_min, 1) <= UNMEASURED_MACS))
        return MW_OK;
    /* smaller blocks first, down to 8 tangents (a block's products lose their speed
     * below that), then smaller batches, then smaller blocks again; a reduced axis keeps
     * two points, a factor of two apart */
    int tau2 = tauF, b2 = B;
    while (probe && tau2 > 8 && WORK(b2, tau2) > CALIBRATION_MACS)
        tau2 = (tau2 + 1) / 2;
    while (b2 > 2 * b_min && WORK(b2, tau2) > CALIBRATION_MACS)
        b2 = b2 / 2 > 2 * b_min ? b2 / 2 : 2 * b_min;
    while (probe && tau2 > 2 && WORK(b2, tau2) > CALIBRATION_MACS)
        tau2 = (tau2 + 1) / 2;
    const int tau1 = tau2 < tauF ? tau2 / 2 : tau2;
    double t[2][2] = {{0}}, p[2][2] = {{0}};
    mw_status st = MW_OK;
    int fails = 0;
    if (b2 < B) {
        /* a batch whose working memory outgrows the caches runs at the memory's speed,
         * not at a small batch's: measured there too, where the asked batch is that large
         * (below MEMORY_BOUND_MACS of work) */
        mw_grad_opts x = probe ? with_block(m, co, tau2) : *co;
        double t0, p0;
        st = time_call(e, s, b2, m, dt, &x, &t0, &p0, &fails, err);
        const double per = p0 / b2, big = floor(MEMORY_BOUND_BYTES / (per > 0 ? per : 1));
        if (st == MW_OK && per * B > MEMORY_BOUND_BYTES && big > 2.0 * b2) {
            b2 = (int)fmin((double)B, big);
            while (b2 > 2 * b_min && WORK(b2, tau2) > MEMORY_BOUND_MACS)
                b2 /= 2;
        }
    }
#undef WORK
    const int b1 = b2 < B ? b2 / 2 : b2;
    const int bs[2] = {b1, b2}, taus[2] = {tau1, tau2};
    for (int i = 0; i < 2 && st == MW_OK; i++)
        for (int j = 0; j < 2 && st == MW_OK; j++) {
            if ((i == 0 && b1 == b2) || (j == 0 && tau1 == tau2))
                continue;
            mw_grad_opts x = probe ? with_block(m, co, taus[j]) : *co;
            int f = 0;
            st = time_call(e, s, bs[i], m, dt, &x, &t[i][j], &p[i][j], &f, err);
            fails |= f;
        }
    out->fails = fails || st != MW_OK;
    if (st != MW_OK) /* the run will say why it fails; the estimate counts its work */
        return MW_OK;
    /* the missing corners from the measured ones: no slope along an axis not varied */
    if (b1 == b2)
        t[0][0] = t[1][0], t[0][1] = t[1][1], p[0][0] = p[1][0], p[0][1] = p[1][1];
    if (tau1 == tau2)
        t[0][0] = t[0][1], t[1][0] = t[1][1], p[0][0] = p[0][1], p[1][0] = p[1][1];
    /* memory: exactly what the allocations are, a part per sample, per tangent, per both */
    const double db = b2 > b1 ? (double)(B - b2) / (b2 - b1) : 0.0;
    const double dt_ = tau2 > tau1 ? (double)(tauF - tau2) / (tau2 - tau1) : 0.0;
    const double sb_ = fmax(0.0, p[1][1] - p[0][1]), st_ = fmax(0.0, p[1][1] - p[1][0]);
    const double sbt = fmax(0.0, (p[1][1] - p[0][1]) - (p[1][0] - p[0][0]));
    out->peak_bytes = p[1][1] + db * sb_ + dt_ * st_ + db * dt_ * sbt;
    /* time: a line through the measured points against their counted work, least squares
     * (a few milliseconds each: one slow point must not tilt a far extrapolation), to the
     * asked batch and block */
    double sw = 0, st2 = 0, sww = 0, swt = 0, n = 0, wmax = 0, tmax = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            if ((i == 0 && b1 == b2) || (j == 0 && tau1 == tau2))
                continue;
            sb.batch = bs[i];
            const double w = call_work(&sb, m, (mw_grad_opts[]){with_block(m, co, taus[j])}, 1);
            sw += w, st2 += t[i][j], sww += w * w, swt += w * t[i][j], n++;
            if (w > wmax)
                wmax = w, tmax = t[i][j];
        }
    sb.batch = B;
    const double wF = call_work(&sb, m, (mw_grad_opts[]){with_block(m, co, tauF)}, 1);
    const double var = sww - sw * sw / n, slope = var > 0 ? (swt - sw * st2 / n) / var : 0.0;
    if (n < 2 || wF <= wmax)
        out->seconds = tmax;
    else if (slope > 0 && tmax + slope * (wF - wmax) >= tmax * 0.5 * wF / wmax)
        out->seconds = tmax + slope * (wF - wmax);
    else /* flat or falling: noise; the time goes with the work, no less than half of it */
        out->seconds = tmax * 0.5 * wF / wmax;
    out->measured = 1;
    out->setup_seconds = kept.setup_s;
    if (n_memo == cap_memo) {
        size_t cap = cap_memo ? 2 * cap_memo : 64;
        call_memo *bigger = realloc(memo, cap * sizeof *memo);
        if (!bigger)
            return MW_OK;
        memo = bigger, cap_memo = cap;
    }
    memo[n_memo++] = (call_memo){*s, m, dt, *co, e->backend, *out};
    return MW_OK;
}

mw_status mw_call_cost_measure(const mw_engine_config *e, const mw_spec *s, mw_method m,
                               mw_dtype dt, const mw_grad_opts *o, mw_call_cost *out,
                               mw_err *err)
{
    if (s->coupling == MW_COUPLING_PLUGIN) {
        /* a plugin's code does not run where estimates are made (it could crash them): an
         * additive coupling of one dense unit as wide as the layer stands in for it */
        mw_spec stand_in = *s;
        stand_in.coupling = MW_COUPLING_ADDITIVE;
        stand_in.units = 1;
        stand_in.hidden = s->width;
        stand_in.plugin_params = 0;
        return mw_call_cost_measure(e, &stand_in, m, dt, o, out, err);
    }
    /* forward-mode methods are measured by their first block of tangents and scaled to
     * all of them (a memory-probe call is its own measure); projforward's first block is
     * the same call for every K from a block's worth on */
    mw_grad_opts co = *o;
    co.memory_probe = o->memory_probe || forward_mode(m);
    if (m == MW_PROJFORWARD && co.memory_probe && co.proj_samples > co.tangent_block)
        co.proj_samples = co.tangent_block;
    if (m == MW_PROJFORWARD && co.proj_samples > 1 && co.proj_samples < co.tangent_block) {
        /* within a block the time is linear in the samples: from one and a full block */
        mw_grad_opts one = co, block = co;
        one.proj_samples = 1, block.proj_samples = block.tangent_block;
        mw_call_cost c1, cT;
        mw_status st = mw_call_cost_measure(e, s, m, dt, &one, &c1, err);
        if (st == MW_OK)
            st = mw_call_cost_measure(e, s, m, dt, &block, &cT, err);
        if (st != MW_OK)
            return st;
        const double f = (double)(co.proj_samples - 1) / (double)(co.tangent_block - 1);
        *out = cT;
        out->seconds = c1.seconds + f * (cT.seconds - c1.seconds);
        out->peak_bytes = fmax(c1.peak_bytes, cT.peak_bytes);
        return st;
    }
    const double full = call_work(s, m, o, o->memory_probe);
    const double measured = call_work(s, m, &co, 1);
    mw_status st = measure(e, s, m, dt, &co, out, err);
    if (st == MW_OK && out->measured && measured > 0.0 && isfinite(full))
        out->seconds *= full / measured;
    else if (st == MW_OK && !out->measured) /* too large to measure, or failing */
        out->seconds = full / FALLBACK_MACS_PER_S;
    return st;
}

/* ---- mwverify grad ---- */

/* Does method m run in mw_grad_case_run (asked, invertible where it must be, within the
 * GFLOP budget of "all")? */
int mw_grad_method_runs(const mw_grad_request *req, mw_method m)
{
    mw_grad_opts o = req->methods.opts;
    return req->methods.want[m] &&
           !(mw_method_needs_inverse(m) && !mw_spec_invertible(&req->spec)) &&
           (req->methods.named ||
            mw_method_cost_gflop(&req->spec, m, &o) <= req->methods.budget_gflop);
}

static double params_of(const mw_spec *s)
{
    mw_layout lay;
    double P = 0.0;
    if (mw_layout_build(s, &lay) == 0) {
        P = (double)lay.total;
        mw_layout_free(&lay);
    }
    return P;
}

static double dtype_bytes(mw_dtype d)
{
    return d == MW_F64 ? 8.0 : 4.0;
}

/* An engine network with its batch and a gradient, in dtype d. */
double mw_net_bytes(const mw_spec *s, mw_dtype d)
{
    return dtype_bytes(d) * (2.0 * params_of(s) + (double)s->batch * s->width) + 4.0 * s->batch;
}

double mw_load_factor(double others, int procs)
{
    const double cores = mw_cpu_count(), demand = (isfinite(others) ? others : 0.0) + procs;
    return demand > cores ? demand / cores : 1.0;
}

static mw_status case_estimate(const mw_grad_request *req, const mw_dtype *dtypes, int n_dtypes,
                               double enough_s, mw_grad_cost *out, mw_err *err);

mw_status mw_grad_case_estimate(const mw_grad_request *req, const mw_dtype *dtypes, int n_dtypes,
                                double enough_s, mw_grad_cost *out, mw_err *err)
{
    mw_cpu_sample a, b;
    mw_cpu_sample_now(&a);
    mw_status st = case_estimate(req, dtypes, n_dtypes, enough_s, out, err);
    mw_cpu_sample_now(&b);
    out->others = mw_cpu_others(&a, &b);
    return st;
}

static mw_status case_estimate(const mw_grad_request *req, const mw_dtype *dtypes, int n_dtypes,
                               double enough_s, mw_grad_cost *out, mw_err *err)
{
    const mw_spec *s = &req->spec;
    const double P = params_of(s), BN = (double)s->batch * s->width;
    memset(out, 0, sizeof *out);
    mw_grad_opts o = req->methods.opts;
    o.rng_seed = s->seed;
    /* the case: parameters, batch, silver and the per-layer errors, kept throughout */
    const double base = 8.0 * (2.0 * P + BN) + 4.0 * s->batch + 8.0 * (s->depth + 1);
    /* what is held whatever the methods — the case and silver's network — over what this
     * machine has is refused before a network is made to be measured */
    const double avail = mw_mem_available();
    if (avail > 0.0 && base + mw_net_bytes(s, MW_F64) > avail) {
        out->peak_bytes = base + mw_net_bytes(s, MW_F64);
        out->partial = 1;
        return MW_OK;
    }
    mw_call_cost c;
    mw_status st = mw_call_cost_measure(&(mw_engine_config){MW_BACKEND_CPU, MW_MATH_STRICT}, s,
                                        MW_BACKPROP, MW_F64, &o, &c, err);
    if (st != MW_OK)
        return st;
    const double silver_call = c.seconds + c.setup_seconds, silver_peak = c.peak_bytes;
    out->seconds += silver_call;
    double peak = base + mw_net_bytes(s, MW_F64) + silver_peak;
    /* gold: chosen as mw_grad_case_prepare chooses it */
    const int proof = req->oracle.kind == MW_ORACLE_PROOF;
    const double gold_s = proof ? mw_proof_cost_seconds(s, req->oracle.gold.bits)
                                : mw_gold_cost_seconds(s, &req->oracle.gold);
    const int gold = proof || req->oracle.kind == MW_ORACLE_GOLD ||
                     (req->oracle.kind == MW_ORACLE_AUTO && gold_s <= req->oracle.gold_auto_s);
    if (gold) {
        out->gold_seconds = gold_s;
        out->seconds += gold_s;
        /* proof: one interval reference, two endpoints a value, against gold's two */
        peak = fmax(peak, base + (proof ? mw_proof_peak_bytes(s, req->oracle.gold.bits)
                                        : mw_gold_peak_bytes(s, &req->oracle.gold)));
    }
    const double oracle_kept = gold ? 16.0 * P : 0.0;
    /* past enough_s the rest need not be measured: the caller refuses it anyway */
#define ENOUGH() (out->seconds > enough_s ? (out->partial = 1, out->peak_bytes = peak, MW_OK) : -1)
    if (ENOUGH() == MW_OK)
        return MW_OK;
    for (int t = 0; t < n_dtypes; t++) {
        const mw_dtype dt = dtypes[t];
        const mw_engine_config *eng = &req->engine;
        double results = 0.0, diag_s = silver_call, diag_peak = silver_peak, setup = 0.0;
        for (int m = 0; m < MW_N_METHODS; m++) {
            if (!mw_grad_method_runs(req, (mw_method)m))
                continue;
            if ((st = mw_call_cost_measure(eng, s, (mw_method)m, dt, &o, &c, err)) != MW_OK)
                return st;
            out->method_seconds[m] += c.seconds;
            out->seconds += c.seconds;
            setup = fmax(setup, c.setup_seconds); /* one network for all the methods */
            if (ENOUGH() == MW_OK)
                return MW_OK;
            results += 8.0 * (P + s->depth + 1);
            peak = fmax(peak, base + oracle_kept + results + mw_net_bytes(s, dt) + c.peak_bytes);
            /* the diagnosis computes every deterministic method but backprop again in
             * float64 (a method whose gradient is not finite is not diagnosed; counted
             * anyway) */
            if (m != MW_BACKPROP && !mw_method_is_stochastic((mw_method)m)) {
                mw_call_cost d;
                if ((st = mw_call_cost_measure(&(mw_engine_config){MW_BACKEND_CPU,
                                                                   MW_MATH_STRICT},
                                               s, (mw_method)m, MW_F64, &o, &d, err)) != MW_OK)
                    return st;
                diag_s += d.seconds;
                diag_peak = fmax(diag_peak, d.peak_bytes);
            }
        }
        out->diagnosis_seconds += diag_s;
        out->seconds += diag_s + setup;
        /* the diagnosis's own float64 network, parameters and batch beside the results */
        peak = fmax(peak, base + oracle_kept + results + mw_net_bytes(s, MW_F64) +
                              8.0 * (2.0 * P + BN) + diag_peak);
    }
#undef ENOUGH
    out->peak_bytes = peak;
    return MW_OK;
}

const char *mw_fmt_bytes(char *buf, size_t n, double bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 6)
        bytes /= 1024.0, u++;
    snprintf(buf, n, u ? "%.3g %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

mw_status mw_budget_check(double seconds, int at_least, double bytes, double time_budget_s,
                          const char *where, const char *shrink, mw_err *err)
{
    char a[32], b[32];
    if (seconds > time_budget_s)
        return mw_err_set(err, MW_ERR_ARG,
                          "estimated %s%s %s, over the %s of --time-budget; %s, or raise "
                          "--time-budget",
                          at_least ? "at least " : "", mw_fmt_seconds(a, sizeof a, seconds), where,
                          mw_fmt_seconds(b, sizeof b, time_budget_s), shrink);
    const double avail = mw_mem_available();
    if (avail > 0.0 && bytes > avail)
        return mw_err_set(err, MW_ERR_ARG,
                          "estimated to hold %s of memory, over the memory budget of %s this "
                          "machine has available (MemAvailable); %s",
                          mw_fmt_bytes(a, sizeof a, bytes), mw_fmt_bytes(b, sizeof b, avail),
                          shrink);
    return MW_OK;
}

/* ---- on many ranks ---- */

static int cost_desc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

double mw_estimate_makespan(const double *cost, long n, int ranks)
{
    if (n <= 0 || ranks < 1)
        return 0.0;
    double *c = malloc((size_t)n * sizeof *c);
    const long r = ranks < n ? ranks : n; /* more ranks than units: the rest stay idle */
    double *load = calloc((size_t)r, sizeof *load);
    if (!c || !load) {
        free(c), free(load);
        return NAN;
    }
    for (long u = 0; u < n; u++)
        c[u] = cost[u] > 0.0 && isfinite(cost[u]) ? cost[u] : 0.0;
    qsort(c, (size_t)n, sizeof *c, cost_desc);
    double end = 0.0;
    for (long u = 0; u < n; u++) { /* to the rank free first (ties: the lowest) */
        long k = 0;
        for (long j = 1; j < r; j++)
            if (load[j] < load[k])
                k = j;
        load[k] += c[u];
        end = load[k] > end ? load[k] : end;
    }
    free(c), free(load);
    return end;
}
