/* oracles: what a computed gradient is measured against (docs/architecture.md §5).
 *   gold:   the MPFR reference gradient at p bits, certified by a second run at p + 64
 *           bits, with central differences in MPFR as an independent witness;
 *   silver: the float64 engine's backprop, cheap enough for every step;
 *   metrics of any gradient against either. */
#ifndef MW_ORACLES_H
#define MW_ORACLES_H

#include <stddef.h>

#include "mw_engine.h"

/* ---- metrics ---- */

typedef struct mw_metrics {
    double rel_l2;    /* |g - g*| / |g*| (|g - g*| when g* = 0) */
    double max_abs;   /* max_i |g_i - g*_i| */
    double max_ulp;   /* max_i |g_i - g*_i| / ulp(g*_i) in the method's dtype; the ulp of
                         0 is the dtype's smallest subnormal, and a quotient beyond the
                         largest double (possible only against a zero g*_i) saturates there */
    double cosine;    /* g·g* / (|g| |g*|); NaN when either is 0 */
    double norm;      /* |g| */
    size_t nonfinite; /* entries of g that are inf or NaN; the rest is then NaN */
    long long worst;  /* the coordinate of max_abs (with non-finite entries, the first of
                         them); -1: none */
    double worst_got, worst_want; /* g and g* there */
} mw_metrics;

/* The oracle g* is hi + lo (a double-double; lo may be NULL). dtype sets the ulp. */
void mw_metrics_compute(const double *g, const double *hi, const double *lo, size_t n,
                        mw_dtype dtype, mw_metrics *m);
/* rel_l2 over each layer's parameters, layers 1..L then the head: out has L + 1 values. */
void mw_metrics_per_layer(const double *g, const double *hi, const double *lo,
                          const mw_layout *lay, int L, double *out);
/* Spacing of the dtype's numbers at |v| (its smallest subnormal for 0 and below). */
double mw_ulp(double v, mw_dtype dtype);

/* Elementwise comparisons of an output with the exact one (layer checks):
 * max |a - b| / max |b|, the tensor-scaled error of the golden cases (absolute when b = 0);
 * and max |a - b| / ulp(b) in the dtype, an element below 2^-10 of the tensor's largest
 * counted in the ulps of that floor (an exact zero, such as the bias gradient of a unit
 * before BatchNorm, would otherwise be measured in subnormals): a different measure from
 * mw_metrics.max_ulp, hence its name. */
double mw_max_rel_err(const double *a, const double *b, size_t n);
double mw_max_ulp_floored(const double *a, const double *b, size_t n, mw_dtype dtype);
double mw_max_abs(const double *v, size_t n);

/* ---- silver ---- */

/* g* = dJ/dθ by backprop in the float64 CPU engine at parameters theta (NULL: the spec's
 * initial ones), for batch x, labels. Writes loss and g (the layout's total entries). On
 * failure returns the status and writes a message. */
mw_status mw_silver_gradient(const mw_spec *spec, const double *theta, const double *x,
                             const int *labels, double *g, double *loss, mw_err *err);

/* ---- gold ---- */

#define MW_GOLD_CHECK_EXTRA_BITS 64

typedef struct mw_gold_opts {
    long bits;          /* p, the working precision (default 256) */
    double floor_bits;  /* certified bits below this are an error (default 100) */
    long fd_coords;     /* finite-difference witness: coordinates to check; -1 (default):
                           all of them up to 64 parameters, else about 64 spread over every
                           tensor; 0: no witness */
    int threads;        /* 1 (default, also for 0) or 2: the p- and (p+64)-bit gradients side by
                           side, then the witness's coordinates split between two threads; the
                           same numbers either way. A plugin's layer always runs on one (its
                           MPFR passes need not be thread-safe). MPFR's caches are per
                           thread (it is built thread-safe on every platform we support,
                           which mw_gold_compute checks) */
    int prove;          /* also the interval reference (proof, below) at p bits: its proved
                           bits and kinks beside the certificate (default 1; not for a
                           plugin's layer, which has no interval passes) */
} mw_gold_opts;

mw_gold_opts mw_gold_opts_default(void);

typedef struct mw_gold {
    size_t P;
    double *hi, *lo;        /* the gradient from the p + 64 bit run, as double-double */
    double loss;
    long bits, check_bits;  /* p and p + 64 */
    double certified_bits;  /* min over coordinates of the bits the two runs share (below) */
    size_t weakest;         /* the coordinate where they share the fewest */
    double fd_agree_bits;   /* the same measure between central differences and gold;
                               NaN without a witness */
    size_t fd_coords;
    double seconds;
    int certified;          /* certified_bits reached the floor (else: never measure
                               against it) */
    char uncertified[320];  /* when not: where the two runs part and what to do */
    /* with opts.prove: the proof's least proved bits (NaN without), its kinks, the entries
     * it leaves undetermined and where the first kink was ("": none) */
    double proved_bits;
    long kinks, undetermined;
    char first_kink[64];
} mw_gold;

/* Agreeing bits of a coordinate: -log2(|a - b| / max(|b|, 2^(-p/2) · max_j |b_j|)),
 * capped at p. The floor keeps a coordinate that is zero in exact arithmetic (the bias of
 * a unit followed by BatchNorm, whose whole tensor is then zero) from counting as
 * disagreement when both runs give it as rounding noise far below the gradient's scale;
 * every coordinate above 2^(-p/2) of that scale is judged relative to itself.
 *
 * Computes gold for the network and batch: MW_OK with out filled (whether certified or
 * not: out->certified says, and out->uncertified why not); MW_ERR_ARG for bad options or
 * input, MW_ERR_NOMEM, with a message in err. */
mw_status mw_gold_compute(const mw_spec *spec, const double *theta, const double *x,
                          const int *labels, const mw_gold_opts *opts, mw_gold *out, mw_err *err);
void mw_gold_free(mw_gold *g);

/* MPFR operations of one forward pass of the reference: multiply-adds (and the adds and
 * multiplies of the same count around them) and transcendental calls. */
void mw_gold_forward_ops(const mw_spec *spec, double *fma, double *trans);

/* Estimated time of mw_gold_compute in seconds on one core of this machine to itself: the
 * reference's operations layer by layer — its gradient at p and at p + 64 bits, and the
 * witness's forward passes from each checked coordinate's layer on — at the costs of an
 * MPFR multiply-add, add and tanh on full-precision operands, timed here once per process
 * and precision (about 5 ms each). */
double mw_gold_cost_seconds(const mw_spec *spec, const mw_gold_opts *opts);
/* Estimated seconds of a forward pass of the reference at `bits` (with backward: of a
 * gradient, the forward pass and the reverse pass after it), by the same model. */
double mw_ref_pass_seconds(const mw_spec *spec, long bits, int backward);
/* Bytes mw_gold_compute holds at its peak: both references and the result. */
double mw_gold_peak_bytes(const mw_spec *spec, const mw_gold_opts *opts);

/* ---- proof: the interval reference ---- */

/* The gradient as intervals (mw_ireference.h) at p bits: each entry's interval contains
 * the exact value. Its midpoint is the oracle's value, and the width says how many bits of
 * it are proved: proved_bits(j) = -log2(width_j / max(|mid_j|, 2^(-p/2) max_k |mid_k|)),
 * capped at p — an entry below 2^(-p/2) of the gradient's scale (zero in exact arithmetic:
 * a bias before BatchNorm) is judged against that scale, as gold's agreement is. */
typedef struct mw_proof {
    size_t P;
    double *hi, *lo;      /* the midpoints, as double-double */
    double *bits_of;      /* each entry's proved bits */
    double loss;          /* the loss interval's midpoint */
    long bits;            /* p */
    double proved_bits;   /* the least over the entries */
    size_t weakest;       /* where */
    size_t near_zero;     /* entries judged against the gradient's scale */
    size_t undetermined;  /* entries with less than one bit proved (an interval as wide as
                             its value: behind a kink, typically) */
    long kinks;           /* ReLU or leaky pre-activations whose interval holds 0, where the
                             derivative is not defined */
    int kink_layer, kink_unit; /* the first: coupling layer 1..L, unit 1..k of F (0: σ) */
    double seconds;
} mw_proof;

/* The proof for the network and batch. MW_ERR_ARG for a plugin's layer (no interval
 * passes) or a reference failure, MW_ERR_NOMEM. */
mw_status mw_proof_compute(const mw_spec *spec, const double *theta, const double *x,
                           const int *labels, long bits, mw_proof *out, mw_err *err);
void mw_proof_free(mw_proof *p);
/* Where its first kink was, in words ("layer 2, unit 1"; "layer 3, the output
 * activation"), or "" without one. */
void mw_proof_kink_words(const mw_proof *p, char *buf, size_t n);
/* Its estimated seconds on one core here: the reference's gradient at `bits` by gold's
 * model (mw_ref_pass_seconds), times what an interval operation costs over an MPFR one
 * (MW_PROOF_COST_FACTOR, measured: bench/bench_gold --proof). */
double mw_proof_cost_seconds(const mw_spec *spec, long bits);
/* Bytes mw_proof_compute holds at its peak: the interval reference and the result. */
double mw_proof_peak_bytes(const mw_spec *spec, long bits);

/* ---- the layer oracle: one coupling layer in MPFR (layer checks) ---- */

/* The MPFR reference of a one-layer network at `bits`, at parameters theta and batch x
 * (spec depth 1); its layer's output, its jvp by central differences (step 2^-80 at 256
 * bits: truncation ~2^-160, cancellation 80 bits of 256, far below any dtype) and its
 * exact vjp. MW_ERR_BACKEND with the reference's message when MPFR work fails. */
typedef struct mw_layer_oracle mw_layer_oracle;
mw_status mw_layer_oracle_open(const mw_spec *spec, const double *theta, const double *x,
                               const int *labels, long bits, mw_layer_oracle **out, mw_err *err);
void mw_layer_oracle_free(mw_layer_oracle *o);
/* The layer's output y (B x width), rounded to double. */
void mw_layer_oracle_output(const mw_layer_oracle *o, double *y);
/* dy = J·(u, w): an input tangent u (or NULL) and a tangent w of the parameters
 * [off, off + P) (or NULL); the network is put back as it was. */
mw_status mw_layer_oracle_jvp(mw_layer_oracle *o, const double *u, const double *w, size_t off,
                              size_t P, double *dy, mw_err *err);
/* h·J: the input cotangent hx and the gradient g of the parameters [off, off + P). */
mw_status mw_layer_oracle_vjp(mw_layer_oracle *o, const double *h, size_t off, size_t P,
                              double *hx, double *g, mw_err *err);

#endif
