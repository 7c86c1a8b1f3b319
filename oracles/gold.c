/* The gold oracle (docs/architecture.md §5): the MPFR reference gradient, certified the way MPFR
 * certifies its own functions — by computing again with more precision and counting the
 * bits the two results share (a Ziv-style check) — and witnessed independently by
 * central differences of the loss, computed in MPFR on chosen coordinates. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpfr.h>

#include "mw_reference.h"
#include "oracles.h"

mw_gold_opts mw_gold_opts_default(void)
{
    mw_gold_opts o = {256, 100.0, -1, 1, 1};
    return o;
}

void mw_gold_free(mw_gold *g)
{
    free(g->hi);
    free(g->lo);
    memset(g, 0, sizeof *g);
}

/* ---- cost ---- */

/* MPFR operations of layer l's forward pass (1..L; L + 1: the pool, head and loss):
 * multiply-adds, the element operations around them (a copy and an activation per unit
 * output, the coupling's add per feature) and transcendental calls. */
static void layer_ops(const mw_spec *s, int l, double *fma, double *elem, double *trans)
{
    const double B = s->batch;
    if (l > s->depth) {
        *fma = B * (double)s->classes * mw_spec_head_features(s) + B * s->width;
        *elem = B * (s->width + 2.0 * s->classes);
        *trans = 2.0 * B * s->classes; /* exp and log of the softmax */
        return;
    }
    const mw_shape sh = mw_spec_layer_shape(s, l);
    const double acts = mw_spec_layer_acts(s, l), h = sh.c * (double)sh.h * sh.w / 2.0;
    /* a 3x3 convolution's taps outside the image are skipped, not multiplied by zero: of
     * the 9 H W pairs of pixel and tap, (3H - 2)(3W - 2) are inside */
    const double inside = mw_spec_is_conv(s) ? (3.0 * sh.h - 2.0) * (3.0 * sh.w - 2.0) /
                                                   (9.0 * sh.h * sh.w)
                                             : 1.0;
    *fma = B * mw_spec_layer_macs(s, l) * inside;
    *elem = B * (2.0 * acts + 2.0 * h + (s->bn ? 4.0 * acts : 0.0));
    *trans = B * ((s->f_act == MW_ACT_TANH ? acts : 0.0) + (s->bn ? 0.1 * acts : 0.0) +
                  (s->out_act == MW_ACT_TANH ? h : 0.0));
}

/* The forward pass from layer `from` on in multiply-adds, an element operation (a copy,
 * an add, a comparison: about a third of a multiply-add at these precisions) counted as
 * 0.3 of one; and its transcendental calls. */
static void forward_work(const mw_spec *s, int from, double *work, double *trans)
{
    *work = *trans = 0.0;
    for (int l = from; l <= s->depth + 1; l++) {
        double f, e, t;
        layer_ops(s, l, &f, &e, &t);
        *work += f + 0.3 * e;
        *trans += t;
    }
}

void mw_gold_forward_ops(const mw_spec *s, double *fma, double *trans)
{
    *fma = *trans = 0.0;
    for (int l = 1; l <= s->depth + 1; l++) {
        double f, e, t;
        layer_ops(s, l, &f, &e, &t);
        *fma += f;
        *trans += t;
    }
}

/* Seconds of one multiply-add and one tanh of the reference at `bits` on this machine,
 * measured on the reference itself: forward passes of a small mlp (64 wide, hidden 32, 2
 * layers, batch 2) with relu, and again with tanh, their difference giving the tanh.
 * An MPFR operation timed alone on a few operands runs 20-50% faster than the same
 * operation in the reference's loops (its operands in cache, its arguments simpler), and
 * that is the error the estimate must not have. Each is the least CPU time of four
 * passes (about 8 ms in all): the work's own cost, which another process taking the core
 * during one pass does not inflate. The multiply-add's figure carries the element
 * operations around it, as the reference's passes do. Cached per precision for the life
 * of the process. */
typedef struct op_seconds {
    long bits;
    double fma, tanh;
} op_seconds;

static double timed_forward(const mw_spec *s, long bits)
{
    mw_layout lay;
    mw_ref *r = NULL;
    char msg[256];
    double best = INFINITY;
    if (mw_layout_build(s, &lay) != 0)
        return NAN;
    const size_t N = (size_t)s->batch * (size_t)s->width;
    double *theta = malloc(lay.total * sizeof *theta), *x = malloc(N * sizeof *x);
    int *labels = malloc((size_t)s->batch * sizeof *labels);
    if (theta && x && labels && mw_ref_new(s, bits, &r, msg, sizeof msg) == 0) {
        mw_init_params(s, &lay, theta);
        uint64_t u = s->seed;
        for (size_t i = 0; i < N; i++) {
            u = mw_splitmix64(u);
            x[i] = 2.0 * ((double)(u >> 11) * 0x1p-53 - 0.5);
        }
        for (int b = 0; b < s->batch; b++)
            labels[b] = b % s->classes;
        if (mw_ref_set_params(r, theta, msg, sizeof msg) == 0 &&
            mw_ref_set_batch(r, x, labels, msg, sizeof msg) == 0)
            for (int rep = 0; rep < 4; rep++) {
                double t0 = mw_thread_cpu_now();
                if (mw_ref_forward(r, msg, sizeof msg) != 0)
                    break;
                best = fmin(best, mw_thread_cpu_now() - t0);
            }
    }
    mw_ref_free(r);
    mw_layout_free(&lay);
    free(theta), free(x), free(labels);
    return best;
}

static op_seconds measure_ops(long bits)
{
    op_seconds o = {bits, NAN, NAN};
    mw_spec s = mw_spec_default();
    s.width = 64, s.depth = 2, s.batch = 2;
    double work, trans, work2, trans2;
    forward_work(&s, 1, &work, &trans);
    const double relu = timed_forward(&s, bits);
    s.f_act = MW_ACT_TANH;
    forward_work(&s, 1, &work2, &trans2);
    const double tanh_ = timed_forward(&s, bits);
    /* the same elementwise work in both; the tanh net adds tanh calls to the softmax's
     * exp and log, which cost about as much */
    o.tanh = (tanh_ - relu) / (trans2 - trans);
    o.fma = (relu - trans * o.tanh) / work;
    /* a clock that does not move, or a reading that makes no sense, would make every
     * estimate wrong: bench_gold's figures of a 2026 x86 core stand in, scaled by limbs */
    const double limbs = (double)((bits + 63) / 64) / 4.0;
    if (!(o.fma > 1e-10 && o.fma < 1e-4))
        o.fma = 80e-9 * limbs;
    if (!(o.tanh > 10.0 * o.fma && o.tanh < 1e-2))
        o.tanh = 4e-6 * limbs;
    return o;
}

static op_seconds op_costs(long bits)
{
    static op_seconds cache[4];
    static int used;
    for (int i = 0; i < used; i++)
        if (cache[i].bits == bits)
            return cache[i];
    op_seconds o = measure_ops(bits);
    cache[used < 4 ? used++ : 3] = o;
    return o;
}

/* Seconds of the forward pass from layer `from` on (L + 1: the head alone), at those
 * costs; a backward pass (backward = 1) adds its own: twice the multiply-adds (the input's
 * and the parameters' cotangents) and an element operation per element, about 2.5 forward
 * passes' worth of them in all, but no transcendental call: tanh's derivative is kept from
 * the forward pass (reference.c). */
static double pass_seconds(const mw_spec *s, int from, const op_seconds *c, int backward)
{
    double work, trans;
    forward_work(s, from, &work, &trans);
    return work * c->fma * (backward ? 2.5 : 1.0) + trans * c->tanh;
}

/* The layer of parameter j (1..L), or L + 1 for the head's. */
static int layer_of(const mw_layout *lay, size_t j, int L);
static size_t pick_coords(const mw_layout *lay, long fd_coords, size_t **out);

/* Whether gold runs on two threads (mw_gold_opts.threads). */
static int two_threads(const mw_spec *s, const mw_gold_opts *o)
{
    return o->threads >= 2 && mpfr_buildopt_tls_p() && s->coupling != MW_COUPLING_PLUGIN;
}

double mw_gold_cost_seconds(const mw_spec *s, const mw_gold_opts *o)
{
    const op_seconds lo = op_costs(o->bits), hi = op_costs(o->bits + MW_GOLD_CHECK_EXTRA_BITS);
    const int two = two_threads(s, o);
    /* the gradient at p and at p + 64 bits: a forward and a backward pass each */
    double part[2] = {pass_seconds(s, 1, &lo, 1), pass_seconds(s, 1, &hi, 1)};
    /* the witness: two forward passes at p bits per coordinate it checks, each from the
     * coordinate's own layer on (the layers before keep their outputs); on two threads
     * every other coordinate on the second, after a forward pass of its own at p bits */
    mw_layout lay;
    if (mw_layout_build(s, &lay) != 0)
        return two ? fmax(part[0], part[1]) : part[0] + part[1];
    size_t *coords = NULL, n = pick_coords(&lay, o->fd_coords, &coords);
    double from[MW_MAX_DEPTH + 2];
    for (int l = 1; l <= s->depth + 1; l++)
        from[l] = -1.0;
    if (two && n > 1)
        part[1] += pass_seconds(s, 1, &lo, 0);
    for (size_t k = 0; k < n; k++) {
        int l = layer_of(&lay, coords[k], s->depth);
        if (from[l] < 0.0)
            from[l] = pass_seconds(s, l, &lo, 0);
        part[two ? k % 2 : 0] += 2.0 * from[l];
    }
    free(coords);
    mw_layout_free(&lay);
    /* the proof, after both (one thread) */
    const double proof = o->prove && s->coupling != MW_COUPLING_PLUGIN
                             ? mw_proof_cost_seconds(s, o->bits)
                             : 0.0;
    return (two ? fmax(part[0], part[1]) : part[0] + part[1]) + proof;
}

double mw_ref_pass_seconds(const mw_spec *s, long bits, int backward)
{
    const op_seconds c = op_costs(bits);
    return pass_seconds(s, 1, &c, backward);
}

double mw_gold_peak_bytes(const mw_spec *s, const mw_gold_opts *o)
{
    /* the p-bit and the (p + 64)-bit reference are alive together, with the result; on two
     * threads with a witness, a second p-bit reference for the second thread's coordinates */
    mw_layout lay;
    double P = 0.0, extra = 0.0;
    if (mw_layout_build(s, &lay) == 0) {
        P = (double)lay.total;
        size_t *coords = NULL, n = pick_coords(&lay, o->fd_coords, &coords);
        if (two_threads(s, o) && n > 1)
            extra = mw_ref_bytes(s, o->bits);
        free(coords);
        mw_layout_free(&lay);
    }
    /* the proof runs while both references are alive */
    const double proof = o->prove && s->coupling != MW_COUPLING_PLUGIN
                             ? mw_proof_peak_bytes(s, o->bits)
                             : 0.0;
    return mw_ref_bytes(s, o->bits) + mw_ref_bytes(s, o->bits + MW_GOLD_CHECK_EXTRA_BITS) +
           extra + 16.0 * P + proof;
}

/* ---- certification ---- */

/* Agreeing bits of a and b (see oracles.h), at b's precision. */
static double agree_bits(mpfr_srcptr a, mpfr_srcptr b, mpfr_srcptr floor_, long cap, mpfr_t t,
                         mpfr_t d)
{
    mpfr_sub(d, a, b, MPFR_RNDN);
    mpfr_abs(d, d, MPFR_RNDN);
    if (mpfr_zero_p(d))
        return (double)cap;
    mpfr_abs(t, b, MPFR_RNDN);
    mpfr_max(t, t, floor_, MPFR_RNDN);
    if (mpfr_zero_p(t))
        return 0.0;
    /* -log2(d / t) from the exponents and leading digits of d and t (d = md 2^ed, t = mt
     * 2^et, md and mt in [1/2, 1]): exact but for log2 in double of a ratio in (1/2, 2),
     * which a bit count needs no better; mpfr_log2 (one per coordinate, a full-precision
     * logarithm) was a tenth to a third of gold's time. */
    long ed, et;
    const double md = mpfr_get_d_2exp(&ed, d, MPFR_RNDN), mt = mpfr_get_d_2exp(&et, t, MPFR_RNDN);
    double bits = -((double)(ed - et) + log2(md / mt));
    return bits < 0.0 ? 0.0 : bits > (double)cap ? (double)cap : bits;
}

/* The floor below which a coordinate is judged against the gradient's scale rather than
 * itself: 2^(-p/2) · max_j |g_j| over the whole gradient. */
static void scale_floor(const mw_ref *check, size_t P, long p, mpfr_t floor_)
{
    mpfr_set_zero(floor_, 1);
    for (size_t j = 0; j < P; j++)
        if (mpfr_cmpabs(mw_ref_grad(check, j), floor_) > 0)
            mpfr_abs(floor_, mw_ref_grad(check, j), MPFR_RNDN);
    mpfr_mul_2si(floor_, floor_, -p / 2, MPFR_RNDN);
}

/* ---- finite differences ---- */

/* The coordinates the witness checks: all when asked or few, else about `want` spread
 * evenly over the vector with at least one in every tensor. */
static size_t pick_coords(const mw_layout *lay, long fd_coords, size_t **out)
{
    size_t P = lay->total, want = fd_coords < 0 ? 64 : (size_t)fd_coords;
    *out = NULL;
    if (want == 0)
        return 0;
    size_t *c = malloc((P + (size_t)lay->n_params) * sizeof *c), n = 0;
    if (!c)
        return 0;
    if ((fd_coords < 0 && P <= 64) || want >= P) {
        for (size_t j = 0; j < P; j++)
            c[n++] = j;
    } else {
        for (int t = 0; t < lay->n_params; t++) {
            const mw_param_info *pi = &lay->params[t];
            size_t k = (size_t)((double)want * (double)pi->count / (double)P + 0.5);
            k = k < 1 ? 1 : k > pi->count ? pi->count : k;
            for (size_t i = 0; i < k; i++)
                c[n++] = pi->offset + (2 * i + 1) * pi->count / (2 * k);
        }
    }
    *out = c;
    return n;
}

/* Central difference of J at coordinate j with step h = 2^(e - p/3), e the exponent of
 * max(1, |θ_j|): truncation O(h²) and rounding O(2^-p / h) balance near 2^(-2p/3). The
 * quotient uses the perturbed parameters as stored, so their rounding is no error. */
static int central_difference(mw_ref *r, size_t j, int from, mpfr_t fd, mpfr_t keep,
                              mpfr_t minus, mpfr_t jm, char *msg, size_t msg_len)
{
    mpfr_ptr th = mw_ref_param(r, j);
    long p = (long)mw_ref_bits(r);
    mpfr_set(keep, th, MPFR_RNDN);
    long e = mpfr_cmpabs_ui(keep, 1) > 0 ? (long)mpfr_get_exp(keep) : 1;
    mpfr_set_ui_2exp(fd, 1, e - p / 3, MPFR_RNDN); /* h */
    mpfr_sub(th, keep, fd, MPFR_RNDN);             /* θ - h */
    mpfr_set(minus, th, MPFR_RNDN);
    if (mw_ref_loss_from(r, from, msg, msg_len) != 0)
        return 1;
    mpfr_set(jm, mw_ref_loss(r), MPFR_RNDN);
    mpfr_add(th, keep, fd, MPFR_RNDN);             /* θ + h */
    mpfr_sub(minus, th, minus, MPFR_RNDN);         /* the stored (θ + h) - (θ - h) */
    if (mw_ref_loss_from(r, from, msg, msg_len) != 0)
        return 1;
    mpfr_sub(fd, mw_ref_loss(r), jm, MPFR_RNDN);
    mpfr_div(fd, fd, minus, MPFR_RNDN);
    mpfr_set(th, keep, MPFR_RNDN);
    return 0;
}

/* The tensor holding coordinate j. */
static int tensor_of(const mw_layout *lay, size_t j)
{
    int q = 0;
    while (q + 1 < lay->n_params && lay->params[q].offset + lay->params[q].count <= j)
        q++;
    return q;
}

static int layer_of(const mw_layout *lay, size_t j, int L)
{
    int layer = lay->params[tensor_of(lay, j)].layer;
    return layer ? layer : L + 1;
}

/* The witness's central differences at coords[k] for k = from, from + step, ... < n, into
 * fd[k], on r (its forward pass done at θ), last coordinates first: each perturbation
 * recomputes from its own layer on, and the layers before it still hold the unperturbed
 * outputs. Each difference depends on θ and the batch alone, so which reference computes
 * which coordinate changes no number. */
static int witness_part(mw_ref *r, const mw_layout *lay, int L, const size_t *coords, size_t n,
                        size_t from, size_t step, mpfr_t *fd, char *msg, size_t msg_len)
{
    if (from >= n)
        return 0;
    mpfr_t keep, minus, jm;
    mpfr_inits2(mpfr_get_prec(fd[0]), keep, minus, jm, (mpfr_ptr)0);
    int rc = 0;
    for (size_t k = from + (n - 1 - from) / step * step;; k -= step) {
        size_t j = coords[k];
        if ((rc = central_difference(r, j, layer_of(lay, j, L), fd[k], keep, minus, jm, msg,
                                     msg_len)) != 0 ||
            k < from + step)
            break;
    }
    mpfr_clears(keep, minus, jm, (mpfr_ptr)0);
    return rc;
}

/* The witness's verdict: the fewest bits a central difference shares with gold. */
static double witness_bits(const mw_ref *check, const mw_layout *lay, long p,
                           const size_t *coords, size_t n, mpfr_t *fd)
{
    mpfr_t t, d, floor_;
    mpfr_inits2(mpfr_get_prec(fd[0]), t, d, floor_, (mpfr_ptr)0);
    scale_floor(check, lay->total, p, floor_);
    double worst = (double)p;
    for (size_t k = 0; k < n; k++)
        worst = fmin(worst, agree_bits(fd[k], mw_ref_grad(check, coords[k]), floor_, p, t, d));
    mpfr_clears(t, d, floor_, (mpfr_ptr)0);
    return worst;
}

/* ---- gold ---- */

/* certified_bits, weakest, hi, lo and loss from the p-bit run r and the (p+64)-bit run
 * check. */
static void certify(const mw_ref *r, const mw_ref *check, mw_gold *out)
{
    mpfr_t t, d, floor_;
    mpfr_inits2(out->check_bits, t, d, floor_, (mpfr_ptr)0);
    scale_floor(check, out->P, out->bits, floor_);
    out->certified_bits = (double)out->bits;
    for (size_t j = 0; j < out->P; j++) {
        double b = agree_bits(mw_ref_grad(r, j), mw_ref_grad(check, j), floor_, out->bits, t, d);
        if (b < out->certified_bits) {
            out->certified_bits = b;
            out->weakest = j;
        }
        /* the oracle value: the higher-precision run, as a double-double */
        out->hi[j] = mpfr_get_d(mw_ref_grad(check, j), MPFR_RNDN);
        mpfr_sub_d(d, mw_ref_grad(check, j), out->hi[j], MPFR_RNDN);
        out->lo[j] = mpfr_get_d(d, MPFR_RNDN);
    }
    out->loss = mpfr_get_d(mw_ref_loss(check), MPFR_RNDN);
    mpfr_clears(t, d, floor_, (mpfr_ptr)0);
}

/* A reference at `bits` with θ and the batch set, and its gradient (grad) or its forward
 * pass alone. */
static int run_reference(const mw_spec *s, long bits, const double *theta, const double *x,
                         const int *labels, int grad, mw_ref **out, char *msg, size_t msg_len)
{
    if (mw_ref_new(s, bits, out, msg, msg_len) != 0)
        return 1;
    if (mw_ref_set_params(*out, theta, msg, msg_len) != 0 ||
        mw_ref_set_batch(*out, x, labels, msg, msg_len) != 0 ||
        (grad ? mw_ref_gradient(*out, msg, msg_len)
              : mw_ref_loss_from(*out, 1, msg, msg_len)) != 0) {
        mw_ref_free(*out);
        *out = NULL;
        return 1;
    }
    return 0;
}

/* One thread's share of gold: a reference gradient at `bits`, then the witness's
 * coordinates from, from + step, ... on a p-bit reference — the gradient's own when it is
 * at p bits, else one of its own. */
typedef struct gold_part {
    const mw_spec *spec;
    const double *theta, *x;
    const int *labels;
    const mw_layout *lay;
    long bits, p;
    const size_t *coords;
    size_t n, from, step;
    mpfr_t *fd;
    int threaded; /* on a thread of its own: frees MPFR's caches of that thread at the end */
    mw_ref *grad; /* out: the reference with its gradient */
    int rc;
    char msg[sizeof(((mw_err *)0)->msg)];
} gold_part;

static void *gold_part_run(void *arg)
{
    gold_part *g = arg;
    mw_ref *fd_ref = NULL;
    g->rc = run_reference(g->spec, g->bits, g->theta, g->x, g->labels, 1, &g->grad, g->msg,
                          sizeof g->msg);
    if (g->rc == 0 && g->from < g->n) {
        mw_ref *w = g->grad;
        if (g->bits != g->p)
            g->rc = run_reference(g->spec, g->p, g->theta, g->x, g->labels, 0, &fd_ref, g->msg,
                                  sizeof g->msg);
        w = fd_ref ? fd_ref : w;
        if (g->rc == 0)
            g->rc = witness_part(w, g->lay, g->spec->depth, g->coords, g->n, g->from, g->step,
                                 g->fd, g->msg, sizeof g->msg);
    }
    mw_ref_free(fd_ref);
    if (g->threaded)
        mpfr_free_cache2(MPFR_FREE_LOCAL_CACHE);
    return NULL;
}

/* The witness's coordinates between the parts: every other one on each of two threads,
 * or all on the p-bit part (the check run takes none). */
static void split_witness(gold_part part[2], int two)
{
    part[0].step = part[1].step = two ? 2 : 1;
    part[0].from = 0;
    part[1].from = two ? 1 : part[1].n;
    part[1].threaded = two;
}

/* The two parts: the p-bit gradient and the (p+64)-bit one, each with its share of the
 * witness; side by side on two threads when two (two_threads()) and a thread starts, else
 * one after the other. */
static int run_parts(gold_part part[2], int two, char *msg, size_t msg_len)
{
    pthread_t th;
    split_witness(part, two);
    if (two && pthread_create(&th, NULL, gold_part_run, &part[1]) != 0)
        split_witness(part, two = 0);
    gold_part_run(&part[0]);
    if (two)
        pthread_join(th, NULL);
    else
        gold_part_run(&part[1]);
    for (int i = 0; i < 2; i++)
        if (part[i].rc != 0) {
            snprintf(msg, msg_len, "%s", part[i].msg);
            return 1;
        }
    return 0;
}

mw_status mw_gold_compute(const mw_spec *spec, const double *theta, const double *x,
                          const int *labels, const mw_gold_opts *opts, mw_gold *out, mw_err *err)
{
    mw_gold_opts o = opts ? *opts : mw_gold_opts_default();
    mw_err scratch;
    char *msg = err ? err->msg : scratch.msg;
    const size_t msg_len = sizeof scratch.msg;
    memset(out, 0, sizeof *out);
    if (o.bits < MW_REF_MIN_BITS || o.bits > MW_REF_MAX_BITS)
        return mw_err_set(err, MW_ERR_ARG, "oracle-bits %ld: allowed %d..%d", o.bits,
                          MW_REF_MIN_BITS, MW_REF_MAX_BITS);
    double t0 = mw_now();
    mw_ref *r = NULL, *check = NULL;
    mw_layout lay = {0};
    mw_status st = MW_OK;
    double *th = NULL;
    size_t *coords = NULL, n = 0;
    mpfr_t *fd = NULL;
    if (mw_layout_build(spec, &lay) != 0)
        return mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
    if (!theta) { /* no parameters given: the spec's initial ones */
        if (!(th = malloc(lay.total * sizeof *th))) {
            st = mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
            goto done;
        }
        mw_init_params(spec, &lay, th);
        theta = th;
    }
    out->P = lay.total;
    out->bits = o.bits;
    out->check_bits = o.bits + MW_GOLD_CHECK_EXTRA_BITS;
    out->hi = malloc(out->P * sizeof *out->hi);
    out->lo = malloc(out->P * sizeof *out->lo);
    n = pick_coords(&lay, o.fd_coords, &coords);
    if (n && (fd = malloc(n * sizeof *fd)))
        for (size_t k = 0; k < n; k++)
            mpfr_init2(fd[k], out->check_bits);
    if (!out->hi || !out->lo || (o.fd_coords != 0 && !coords) || (n && !fd)) {
        st = mw_err_set(err, MW_ERR_NOMEM, "gold oracle: out of memory");
        goto done;
    }
    gold_part part[2];
    for (int i = 0; i < 2; i++)
        part[i] = (gold_part){.spec = spec, .theta = theta, .x = x, .labels = labels,
                              .lay = &lay, .bits = i ? out->check_bits : o.bits, .p = o.bits,
                              .coords = coords, .n = n, .fd = fd};
    int failed = run_parts(part, two_threads(spec, &o), msg, msg_len);
    r = part[0].grad, check = part[1].grad;
    if (failed) {
        st = MW_ERR_ARG; /* the message is the reference's */
        goto done;
    }

    certify(r, check, out);
    out->fd_coords = n;
    out->fd_agree_bits = n ? witness_bits(check, &lay, o.bits, coords, n, fd) : NAN;
    out->proved_bits = NAN;
    if (o.prove && spec->coupling != MW_COUPLING_PLUGIN) {
        mw_proof pf;
        if ((st = mw_proof_compute(spec, theta, x, labels, o.bits, &pf, err)) != MW_OK)
            goto done;
        out->proved_bits = pf.proved_bits;
        out->kinks = pf.kinks;
        out->undetermined = (long)pf.undetermined;
        mw_proof_kink_words(&pf, out->first_kink, sizeof out->first_kink);
        mw_proof_free(&pf);
    }
    out->seconds = mw_now() - t0;
    out->certified = out->certified_bits >= o.floor_bits;
    if (!out->certified) {
        const mw_param_info *pi = &lay.params[tensor_of(&lay, out->weakest)];
        snprintf(out->uncertified, sizeof out->uncertified,
                 "gold oracle not certified: its %ld- and %ld-bit gradients share only %.1f bits "
                 "at %s[%zu] (floor %.0f); raise --oracle-bits",
                 out->bits, out->check_bits, out->certified_bits, pi->name,
                 out->weakest - pi->offset, o.floor_bits);
    }
done:
    mw_ref_free(r);
    mw_ref_free(check);
    for (size_t k = 0; fd && k < n; k++)
        mpfr_clear(fd[k]);
    free(fd);
    free(coords);
    mw_layout_free(&lay);
    free(th);
    if (st != MW_OK)
        mw_gold_free(out);
    if (err && st != MW_OK)
        err->status = st;
    return st;
}
