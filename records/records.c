/* The tables of the records (records.h): one line a field. */
#include "records.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const run_status_names[] = {"not asked", "running",  "complete", "nonfinite",
                                               "diverged",  "skipped",  "failed"};
const mw_names mw_run_status_names = {"run status", run_status_names, 7, NULL};
static const char *const verdict_names[] = {"-", "pass", "fail", "skip"};
const mw_names mw_verdict_names = {"verdict", verdict_names, 4, NULL};
static const char *const diag_names[] = {"-", "within-rounding", "ill-conditioned",
                                         "method-unstable"};
const mw_names mw_diag_names = {"diagnosis", diag_names, 4, NULL};
static const char *const net_status_names[] = {"ok", "failed"};
const mw_names mw_net_status_names = {"network status", net_status_names, 2, NULL};
static const char *const oracle_names[] = {"auto", "gold", "silver", "none", "proof"};
const mw_names mw_oracle_names = {"oracle", oracle_names, 5, NULL};

int mw_oracle_exact(mw_oracle_kind k)
{
    return k == MW_ORACLE_GOLD || k == MW_ORACLE_PROOF;
}

/* ---- the network ---- */

static int is_revnet(const void *rec)
{
    return ((const mw_spec *)rec)->arch == MW_ARCH_REVNET;
}

static mw_status spec_check(const void *rec, mw_err *err)
{
    char why[256];
    if (mw_spec_validate(rec, why, sizeof why) != 0)
        return mw_err_set(err, MW_ERR_FORMAT, "invalid network: %s", why);
    return MW_OK;
}

static int is_plugin(const void *rec)
{
    return ((const mw_spec *)rec)->coupling == MW_COUPLING_PLUGIN;
}

#define S(m) offsetof(mw_spec, m)
static const mw_field spec_fields[] = {
    {"arch", MW_FK_ENUM, S(arch), "the architecture", .names = &mw_arch_names},
    {"coupling", MW_FK_ENUM, S(coupling),
     "the coupling layers: additive (z = b + F(a), the paper's; the default) or affine\n"
     "(z = b ⊙ exp(tanh(F_r(a))) + F_t(a), RealNVP/Glow; F's last unit gives both\n"
     "halves); mwverify layer list",
     .names = &mw_coupling_names, .opt = "coupling", .meta = "TYPE"},
    {"width", MW_FK_INT, S(width), "mlp: features n of the input, even (revnet: C·H·W)",
     .opt = "width", .meta = "N", .lo = 2, .hi = MW_MAX_WIDTH, .flags = MW_F_MLP},
    {"hidden", MW_FK_INT, S(hidden),
     "width of F's inner units (k >= 2); revnet: channels, 0 for half of each block's",
     .opt = "hidden", .meta = "N", .lo = 0, .hi = MW_MAX_HIDDEN},
    {"units", MW_FK_INT, S(units), "units k of F, each map -> act -> [BN]", .opt = "units",
     .meta = "K", .lo = 1, .hi = MW_MAX_UNITS},
    {"depth", MW_FK_INT, S(depth), "mlp: coupling layers (revnet: blocks · layers per block)",
     .opt = "depth", .meta = "L", .lo = 1, .hi = MW_MAX_DEPTH, .flags = MW_F_MLP | MW_F_SWEPT},
    {"f_act", MW_FK_ENUM, S(f_act), "activation inside F", .names = &mw_act_names,
     .opt = "f-act", .meta = "ACT", .flags = MW_F_SWEPT},
    {"out_act", MW_FK_ENUM, S(out_act),
     "the coupling's output activation σ (relu is refused: it is not invertible)",
     .names = &mw_out_act_names, .opt = "out-act", .meta = "ACT", .flags = MW_F_SWEPT},
    {"leaky_slope", MW_FK_F64, S(leaky_slope),
     "slope α of leaky in F and σ; σ = leaky with α = 0 has no inverse, so revbackprop,\n"
     "moonwalk and mixed skip",
     .opt = "leaky-slope", .meta = "A", .lo = 0, .hi = 1},
    {"bn", MW_FK_BOOL, S(bn),
     "BatchNorm after every unit of F (batch statistics; couples samples, which turns\n"
     "off moonwalk's one-tangent-per-sample shortcut)",
     .opt = "bn"},
    {"bn_eps", MW_FK_F64, S(bn_eps), "BatchNorm's epsilon"},
    {"batch", MW_FK_INT, S(batch), "samples in the batch", .opt = "batch", .meta = "B", .lo = 1,
     .hi = MW_MAX_BATCH},
    {"classes", MW_FK_INT, S(classes), "classes of the synthetic data and the head",
     .opt = "classes", .meta = "C", .lo = 2, .hi = MW_MAX_CLASSES},
    {"init_scale", MW_FK_F64, S(init_scale), "W, c uniform in ±X/sqrt(fan_in); large X saturates",
     .opt = "init-scale", .meta = "X", .lo = 0, .hi = 1e6, .flags = MW_F_SWEPT},
    {"seed", MW_FK_U64, S(seed), "seed of parameters, data and projforward's tangents",
     .opt = "seed", .meta = "S", .flags = MW_F_SWEPT},
    {"channels", MW_FK_INT, S(channels),
     "revnet: channels of the input, even (the paper pads CIFAR-10 to 8 or 18)",
     .opt = "channels", .meta = "C", .lo = 2, .hi = MW_MAX_CHANNELS,
     .flags = MW_F_REVNET | MW_F_SWEPT, .when = is_revnet},
    {"image_h", MW_FK_INT, S(image_h),
     "revnet: the input's height and width; each block after the first halves them",
     .opt = "image", .meta = "HxW", .lo = 1, .hi = MW_MAX_IMAGE, .flags = MW_F_REVNET,
     .when = is_revnet, .parse = mw_parse_hxw},
    {"image_w", MW_FK_INT, S(image_w), "revnet: the input's width", .when = is_revnet},
    {"blocks", MW_FK_INT, S(blocks), "revnet: blocks of couplings, a squeeze between each two",
     .opt = "blocks", .meta = "N", .lo = 1, .hi = MW_MAX_BLOCKS, .flags = MW_F_REVNET,
     .when = is_revnet},
    {"layers_per_block", MW_FK_INT, S(layers_per_block), "revnet: coupling layers per block",
     .opt = "layers-per-block", .meta = "L", .lo = 1, .hi = MW_MAX_DEPTH,
     .flags = MW_F_REVNET | MW_F_SWEPT, .when = is_revnet},
    {"plugin_params", MW_FK_LONG, S(plugin_params),
     "coupling plugin: the plugin layer's parameters per layer (set from --layer-plugin)",
     .lo = 0, .hi = 1 << 30, .when = is_plugin},
    MW_FIELDS_END,
};
#undef S
const mw_record mw_spec_record = {"network", sizeof(mw_spec), spec_fields,
                                  "a network: architecture, sizes, activations, seed", spec_check};

/* ---- the engine a run was on ---- */

static int on_gpu(const void *rec)
{
    return strcmp(((const mw_engine_info *)rec)->backend, "cpu") != 0;
}

#define I(m) offsetof(mw_engine_info, m)
#define ISTR(m) I(m), .size = sizeof(((mw_engine_info *)0)->m)
static const mw_field engine_info_fields[] = {
    {"backend", MW_FK_STR, ISTR(backend), .help = "cpu or cuda"},
    {"device", MW_FK_STR, ISTR(device), .help = "the CPU's model, or the GPU's name"},
    {"math", MW_FK_STR, ISTR(math), .help = "how matrix products round: fp64, fp32 or tf32"},
    {"compute_major", MW_FK_INT, I(cc_major), "the GPU's compute capability", .when = on_gpu},
    {"compute_minor", MW_FK_INT, I(cc_minor), "its minor number", .when = on_gpu},
    {"driver_version", MW_FK_INT, I(driver_version), "CUDA driver, 1000 major + 10 minor",
     .when = on_gpu},
    {"runtime_version", MW_FK_INT, I(runtime_version), "CUDA runtime, likewise", .when = on_gpu},
    {"memory_free_bytes", MW_FK_SIZE, I(mem_free), "the device's free memory", .when = on_gpu},
    {"memory_total_bytes", MW_FK_SIZE, I(mem_total), "its memory", .when = on_gpu},
    MW_FIELDS_END,
};
#undef ISTR
#undef I
const mw_record mw_engine_info_record = {"engine", sizeof(mw_engine_info), engine_info_fields,
                                         "what the methods ran on", NULL};

/* ---- metrics and oracles ---- */

#define M(m) offsetof(mw_metrics, m)
static const mw_field metrics_fields[] = {
    {"rel_l2", MW_FK_F64, M(rel_l2), "|g - g*| / |g*|"},
    {"max_abs", MW_FK_F64, M(max_abs), "max |g_i - g*_i|"},
    {"max_ulp", MW_FK_F64, M(max_ulp), "max |g_i - g*_i| / ulp(g*_i) in the method's dtype"},
    {"cosine", MW_FK_F64, M(cosine), "g·g* / (|g| |g*|)"},
    {"grad_norm", MW_FK_F64, M(norm), "|g|"},
    {"nonfinite", MW_FK_SIZE, M(nonfinite), "entries of g that are inf or NaN"},
    {"worst", MW_FK_I64, M(worst),
     "the coordinate of max_abs (the first non-finite one, if any; null: none)",
     .flags = MW_F_NULL_NEG},
    {"worst_got", MW_FK_F64, M(worst_got), "g there"},
    {"worst_want", MW_FK_F64, M(worst_want), "g* there"},
    MW_FIELDS_END,
};
#undef M
const mw_record mw_metrics_record = {"metrics", sizeof(mw_metrics), metrics_fields,
                                     "a gradient against an oracle", NULL};

/* The proof's fields: with the proof oracle, and beside gold's certificate where gold
 * ran it (a record made without it holds zeros: no bit proved, no kink). */
static int is_proof(const void *rec)
{
    const mw_oracle_info *o = rec;
    return o->kind == MW_ORACLE_PROOF ||
           (o->kind == MW_ORACLE_GOLD && (o->proved_bits > 0 || o->kinks > 0));
}

#define O(m) offsetof(mw_oracle_info, m)
static const mw_field oracle_fields[] = {
    {"kind", MW_FK_ENUM, O(kind), "gold (MPFR, certified), proof (MPFI enclosures), silver (float64 "
     "backprop) or none",
     .names = &mw_oracle_names},
    {"reason", MW_FK_STR, O(reason), "why this oracle", .size = sizeof(((mw_oracle_info *)0)->reason)},
    {"bits", MW_FK_LONG, O(bits), "gold's working precision p (0 without gold)"},
    {"check_bits", MW_FK_LONG, O(check_bits), "the precision of its certifying rerun, p + 64"},
    {"certified_bits", MW_FK_F64, O(certified_bits),
     "bits the p- and (p + 64)-bit gradients share, the least over the coordinates"},
    {"fd_agree_bits", MW_FK_F64, O(fd_agree_bits),
     "bits central differences in MPFR share with gold"},
    {"fd_coords", MW_FK_LONG, O(fd_coords), "coordinates the finite differences checked"},
    {"seconds", MW_FK_F64, O(seconds), "gold's wall time, s"},
    {"gold_estimate_seconds", MW_FK_F64, O(gold_estimate_seconds),
     "gold's estimated time, s"},
    {"loss", MW_FK_F64, O(loss), "the oracle's loss J"},
    {"grad_norm", MW_FK_F64, O(grad_norm), "|g*|"},
    {"silver_vs_gold", MW_FK_RECORD, O(silver_vs_gold), "silver against gold",
     .sub = &mw_metrics_record, .flags = MW_F_NEST | MW_F_PREFIX},
    {"proved_bits", MW_FK_F64, O(proved_bits),
     "proof (and gold, beside its certificate): bits of every gradient entry its enclosure "
     "proves, the least (-log2 of the "
     "interval's width over its midpoint, or over 2^(-p/2) of the gradient's scale for an "
     "entry below that)", .when = is_proof},
    {"kinks", MW_FK_LONG, O(kinks), "proof: ReLU or leaky pre-activations whose interval "
     "holds 0, where the derivative is not defined", .lo = 0, .hi = 1e18, .when = is_proof},
    {"undetermined", MW_FK_LONG, O(undetermined), "proof: gradient entries with less than "
     "one bit proved (behind a kink)", .lo = 0, .hi = 1e18, .when = is_proof},
    {"first_kink", MW_FK_STR, O(first_kink), "proof: where the first kink was", .when = is_proof,
     .size = sizeof(((mw_oracle_info *)0)->first_kink)},
    MW_FIELDS_END,
};
#undef O
const mw_record mw_oracle_record = {"oracle", sizeof(mw_oracle_info), oracle_fields,
                                    "what the gradients were measured against", NULL};

/* ---- steps, epochs, projforward ---- */

#define T(m) offsetof(mw_report_step, m)
static const mw_field step_fields[] = {
    {"step", MW_FK_I64, T(step), "training step (0 outside training)"},
    {"epoch", MW_FK_I64, T(epoch), "its epoch"},
    {"loss", MW_FK_F64, T(loss), "the loss J at the batch, before the update"},
    {"accuracy", MW_FK_F64, T(accuracy), "the batch's accuracy, before the update"},
    {"vs", MW_FK_RECORD, T(vs), "the gradient against the oracle (silver in training)",
     .sub = &mw_metrics_record},
    {"closure_err", MW_FK_F64, T(closure_err), "moonwalk, mixed: |h_L - dJ/dx_L| / |dJ/dx_L|"},
    {"recon_err", MW_FK_F64, T(recon_err), "revbackprop: |x̂_0 - x_0| / |x_0|"},
    {"dist_ref", MW_FK_F64, T(dist_ref), "|θ - θ_ref| / |θ_ref| to the reference trajectory"},
    {"gold_rel_l2", MW_FK_F64, T(gold_rel_l2), "rel_l2 against gold, on gold's schedule"},
    {"silver_vs_gold", MW_FK_F64, T(silver_vs_gold), "the silver oracle's own rel_l2 then"},
    {"seconds", MW_FK_F64, T(seconds), "wall time of the gradient, s"},
    {"peak_bytes", MW_FK_I64, T(peak_bytes),
     "peak working bytes (parameters, gradient and batch not counted)", .flags = MW_F_NULL_NEG},
    MW_FIELDS_END,
};
#undef T
const mw_record mw_step_record = {"step", sizeof(mw_report_step), step_fields,
                                  "one gradient of a run", NULL};

#define E(m) offsetof(mw_report_epoch, m)
static const mw_field epoch_fields[] = {
    {"epoch", MW_FK_I64, E(epoch), "the epoch, from 0"},
    {"steps", MW_FK_I64, E(steps), "steps the run took in it"},
    {"loss_mean", MW_FK_F64, E(loss_mean), "mean batch loss"},
    {"accuracy", MW_FK_F64, E(accuracy), "mean batch accuracy"},
    {"test_accuracy", MW_FK_F64, E(test_accuracy), "held-out accuracy at its end"},
    {"rel_l2_mean", MW_FK_F64, E(rel_l2_mean), "mean gradient rel_l2 against silver"},
    {"rel_l2_max", MW_FK_F64, E(rel_l2_max), "largest gradient rel_l2 against silver"},
    {"max_ulp_max", MW_FK_F64, E(max_ulp_max), "largest max_ulp"},
    {"dist_ref", MW_FK_F64, E(dist_ref), "distance to the reference at its end"},
    {"lr", MW_FK_F64, E(lr), "the learning rate"},
    {"seconds", MW_FK_F64, E(seconds), "time of the run's gradients in it, s"},
    MW_FIELDS_END,
};
#undef E
const mw_record mw_epoch_record = {"epoch", sizeof(mw_report_epoch), epoch_fields,
                                   "one epoch of a training run", NULL};

static mw_status proj_check(const void *rec, mw_err *err)
{
    const mw_proj_rate *p = rec;
    if (p->n < 0 || p->n > MW_PROJ_MAX)
        return mw_err_set(err, MW_ERR_FORMAT, "projforward: %d values of K", p->n);
    return MW_OK;
}

#define P(m) offsetof(mw_proj_rate, m)
static const mw_field proj_fields[] = {
    {"K", MW_FK_LIST, P(k), "the numbers of samples K averaged", .elem = MW_FK_F64,
     .size = MW_PROJ_MAX, .count = P(n)},
    {"rel_err", MW_FK_LIST, P(rel_err), "RMS rel_l2 of the K-sample mean against gold",
     .elem = MW_FK_F64, .size = MW_PROJ_MAX, .count = P(n)},
    {"rel_err_sd", MW_FK_LIST, P(rel_err_sd), "its standard deviation over the draws",
     .elem = MW_FK_F64, .size = MW_PROJ_MAX, .count = P(n)},
    {"slope", MW_FK_F64, P(slope), "log-log slope of rel_err against K (expected -1/2)"},
    {"slope_r2", MW_FK_F64, P(slope_r2), "R² of that fit"},
    {"repeats", MW_FK_LONG, P(repeats), "independent draws per K"},
    MW_FIELDS_END,
};
#undef P
const mw_record mw_proj_record = {"projforward rate", sizeof(mw_proj_rate), proj_fields,
                                  "projforward's error against K", proj_check};

/* ---- networks and runs ---- */

static int proj_measured(const void *rec)
{
    return ((const mw_report_network *)rec)->proj.n > 0;
}

#define N(m) offsetof(mw_report_network, m)
static const mw_field network_fields[] = {
    {"index", MW_FK_LONG, N(index), "the unit's index in the suite's grid"},
    {"label", MW_FK_STR, N(label), "what the unit is, when it is not one network (a layer)",
     .size = sizeof(((mw_report_network *)0)->label)},
    {"spec", MW_FK_RECORD, N(spec), "the network", .sub = &mw_spec_record, .flags = MW_F_NEST},
    {"status", MW_FK_ENUM, N(status), "ok, or failed (the message says why)",
     .names = &mw_net_status_names},
    {"message", MW_FK_STR, N(message), "why it failed",
     .size = sizeof(((mw_report_network *)0)->message)},
    {"oracle", MW_FK_RECORD, N(oracle), "its oracle", .sub = &mw_oracle_record,
     .flags = MW_F_NEST | MW_F_PREFIX},
    {"projforward_rate", MW_FK_RECORD, N(proj), "projforward's unbiasedness (gradcheck)",
     .sub = &mw_proj_record, .flags = MW_F_NEST | MW_F_PREFIX, .when = proj_measured},
    MW_FIELDS_END,
};
#undef N
const mw_record mw_network_record = {"network record", sizeof(mw_report_network),
                                     network_fields, "a unit of a suite: a network and its oracle",
                                     NULL};

#define D(m) offsetof(mw_diagnosis, m)
static const mw_field diag_fields[] = {
    {"class", MW_FK_ENUM, D(cls), "within-rounding, ill-conditioned or method-unstable (-: not "
     "diagnosed)", .names = &mw_diag_names},
    {"error", MW_FK_F64, D(error),
     "the rel_l2 diagnosed, against the oracle (a training run's: at its end)"},
    {"predicted", MW_FK_F64, D(predicted), "the rel_l2 rounding alone explains for this method"},
    {"floor", MW_FK_F64, D(floor), "a backward-stable gradient's rounding error, u (L + 1)"},
    {"problem", MW_FK_F64, D(problem),
     "how far the exact gradient moves (rel_l2, float64) when θ and x are perturbed by relative u"},
    {"amplification", MW_FK_F64, D(amplification),
     "the method's own rel_l2 in float64 over float64's u"},
    {"backprop", MW_FK_F64, D(backprop),
     "backprop's rel_l2 in the same dtype: a backward-stable method's error here"},
    {"layer", MW_FK_INT, D(layer),
     "first layer whose error departs more than 10x from backprop's (0: none; -1: the head)"},
    {"sat4", MW_FK_F64, D(sat4), "there: share of σ's pre-activations with |z| > 4"},
    {"sat9", MW_FK_F64, D(sat9), "there: share with |z| > 9"},
    {"negative", MW_FK_F64, D(negative),
     "there, leaky σ: share with z < 0, where D⁻¹ = 1/α multiplies the vijp sweep"},
    {"tanh_pm1", MW_FK_LONG, D(tanh_pm1), "there: units whose float32 tanh(z) rounds to ±1"},
    {"dinv_overflow", MW_FK_LONG, D(dinv_overflow),
     "there: units whose cosh²(z) overflows float32 (|z| > 44.7)"},
    MW_FIELDS_END,
};
#undef D
const mw_record mw_diagnosis_record = {"diagnosis", sizeof(mw_diagnosis), diag_fields,
                                       "why a gradient has its error", NULL};

#define R(m) offsetof(mw_report_run, m)
static const mw_field run_fields[] = {
    {"index", MW_FK_LONG, R(index), "the run's index: (network, dtype, method)"},
    {"network", MW_FK_LONG, R(network), "its network's index"},
    {"method", MW_FK_ENUM, R(method), "the gradient method", .names = &mw_method_names},
    {"dtype", MW_FK_ENUM, R(dtype), "the engine's precision", .names = &mw_dtype_names},
    {"status", MW_FK_ENUM, R(status), "what became of it", .names = &mw_run_status_names},
    {"message", MW_FK_STR, R(message), "why skipped, non-finite, diverged or failed",
     .size = sizeof(((mw_report_run *)0)->message)},
    {"est_gflop", MW_FK_F64, R(est_gflop), "estimated cost of one gradient, GFLOP"},
    {"verdict", MW_FK_ENUM, R(verdict), "pass, fail or skip under the suite's checks and gates "
     "(- not judged)", .names = &mw_verdict_names},
    {"why", MW_FK_STR, R(why), "the verdict's reason: the check or gate, measure and limit",
     .size = sizeof(((mw_report_run *)0)->why)},
    {"diag", MW_FK_RECORD, R(diag), "why its error (single-gradient runs)",
     .sub = &mw_diagnosis_record, .flags = MW_F_NEST | MW_F_PREFIX},
    MW_FIELDS_END,
};
#undef R
const mw_record mw_run_record = {"run", sizeof(mw_report_run), run_fields,
                                 "a method in a dtype on a network", NULL};

#define U(m) offsetof(mw_run_summary, m)
static const mw_field summary_fields[] = {
    {"run", MW_FK_I64, U(run), "the run's index"},
    {"network", MW_FK_I64, U(network), "its network's index"},
    {"arch", MW_FK_ENUM, U(arch), "the network's architecture", .names = &mw_arch_names},
    {"f_act", MW_FK_ENUM, U(f_act), "its F activation", .names = &mw_act_names},
    {"out_act", MW_FK_ENUM, U(out_act), "its output activation", .names = &mw_out_act_names},
    {"depth", MW_FK_INT, U(depth), "its coupling layers"},
    {"seed", MW_FK_U64, U(seed), "its seed"},
    {"method", MW_FK_ENUM, U(method), "the method", .names = &mw_method_names},
    {"dtype", MW_FK_ENUM, U(dtype), "the precision", .names = &mw_dtype_names},
    {"status", MW_FK_ENUM, U(status), "what became of the run", .names = &mw_run_status_names},
    {"message", MW_FK_STR, U(message), "why", .size = sizeof(((mw_run_summary *)0)->message),
     .flags = MW_F_NO_H5},
    {"est_gflop", MW_FK_F64, U(est_gflop), "estimated GFLOP of one gradient"},
    {"verdict", MW_FK_ENUM, U(verdict), "pass, fail or skip (- not judged)",
     .names = &mw_verdict_names},
    {"why", MW_FK_STR, U(why), "the verdict's reason", .size = sizeof(((mw_run_summary *)0)->why),
     .flags = MW_F_NO_H5},
    {"diag", MW_FK_RECORD, U(diag), "why its error", .sub = &mw_diagnosis_record,
     .flags = MW_F_NEST | MW_F_NO_H5},
    {"last", MW_FK_RECORD, U(last), "its last step", .sub = &mw_step_record},
    {"steps", MW_FK_I64, U(steps), "steps recorded"},
    {"epochs", MW_FK_I64, U(epochs), "epochs recorded"},
    {"test_accuracy", MW_FK_F64, U(test_accuracy), "held-out accuracy at the last epoch"},
    MW_FIELDS_END,
};
#undef U
const mw_record mw_summary_record = {"summary", sizeof(mw_run_summary), summary_fields,
                                     "a run's cell, status and last step", NULL};

/* ---- the tables of scaling and layer suites ---- */

#define F(m) offsetof(mw_report_fit, m)
static const mw_field fit_fields[] = {
    {"setting", MW_FK_STR, F(setting), "what stays the same along the depth axis",
     .size = sizeof(((mw_report_fit *)0)->setting)},
    {"method", MW_FK_ENUM, F(method), "the method", .names = &mw_method_names},
    {"dtype", MW_FK_ENUM, F(dtype), "the precision", .names = &mw_dtype_names},
    {"quantity", MW_FK_STR, F(quantity), "peak_bytes, total_bytes or seconds",
     .size = sizeof(((mw_report_fit *)0)->quantity)},
    {"exponent", MW_FK_F64, F(exponent), "p in quantity ∝ L^p (least squares, log-log)"},
    {"r2", MW_FK_F64, F(r2), "R² of the fit"},
    {"points", MW_FK_I64, F(points), "depths fitted"},
    {"table1", MW_FK_STR, F(table1), "the paper's Table 1 order in L",
     .size = sizeof(((mw_report_fit *)0)->table1)},
    MW_FIELDS_END,
};
#undef F
const mw_record mw_fit_record = {"fit", sizeof(mw_report_fit), fit_fields,
                                 "a growth exponent against depth", NULL};

#define Q(m) offsetof(mw_report_timing, m)
static const mw_field timing_fields[] = {
    {"run", MW_FK_I64, Q(run), "the run's index"},
    {"network", MW_FK_I64, Q(network), "its network's index"},
    {"method", MW_FK_ENUM, Q(method), "the method", .names = &mw_method_names},
    {"dtype", MW_FK_ENUM, Q(dtype), "the precision", .names = &mw_dtype_names},
    {"layers", MW_FK_INT, Q(layers), "coupling layers L: the fit's x"},
    {"calls", MW_FK_I64, Q(calls), "timed calls after the warm-up"},
    {"seconds_min", MW_FK_F64, Q(seconds_min), "the fastest timed call, s"},
    {"seconds_median", MW_FK_F64, Q(seconds_median), "their median (the run's seconds), s"},
    {"seconds_max", MW_FK_F64, Q(seconds_max), "the slowest, s"},
    {"others", MW_FK_F64, Q(others),
     "cores other processes kept busy while the network was timed (NaN: not measured)"},
    {"cores", MW_FK_INT, Q(cores), "the processors there were"},
    {"fitted", MW_FK_F64, Q(fitted), "the seconds the setting's fit gives at L"},
    {"residual", MW_FK_F64, Q(residual), "seconds_median / fitted"},
    MW_FIELDS_END,
};
#undef Q
const mw_record mw_timed_record = {"timed run", sizeof(mw_report_timing), timing_fields,
                                    "a timed run's spread, load and residual", NULL};

#define Q(m) offsetof(mw_report_ratio, m)
static const mw_field ratio_fields[] = {
    {"name", MW_FK_STR, Q(name), "what is divided by what, where",
     .size = sizeof(((mw_report_ratio *)0)->name)},
    {"value", MW_FK_F64, Q(value), "the measured ratio"},
    {"paper", MW_FK_F64, Q(paper), "the paper's figure, NaN where it quotes none"},
    MW_FIELDS_END,
};
#undef Q
const mw_record mw_ratio_record = {"ratio", sizeof(mw_report_ratio), ratio_fields,
                                   "a ratio between methods, beside the paper's", NULL};

#define L(m) offsetof(mw_layer_check_row, m)
static const mw_field layer_check_fields[] = {
    {"layer", MW_FK_STR, L(layer), "the layer type", .size = sizeof(((mw_layer_check_row *)0)->layer)},
    {"config", MW_FK_STR, L(config), "the configuration it was checked in",
     .size = sizeof(((mw_layer_check_row *)0)->config)},
    {"dtype", MW_FK_ENUM, L(dtype), "the precision", .names = &mw_dtype_names},
    {"check", MW_FK_STR, L(check), "the check", .size = sizeof(((mw_layer_check_row *)0)->check)},
    {"error", MW_FK_F64, L(error), "the check's measure (layer_check.h)"},
    {"max_ulp_floored", MW_FK_F64, L(max_ulp_floored),
     "max |e - x| / ulp(max(|x|, 2^-10 max|x|)) in the dtype, where an output is compared"},
    {"threshold", MW_FK_F64, L(threshold), "the largest error that passes"},
    {"pass", MW_FK_BOOL, L(pass), "error <= threshold (a regression clears it)"},
    {"oracle", MW_FK_STR, L(oracle),
     "what it was measured against: gold (MPFR), silver-fd (float64 central differences), "
     "silver-f64 (the layer's float64 operation), identity, exact (a direct loop)",
     .size = sizeof(((mw_layer_check_row *)0)->oracle)},
    {"note", MW_FK_STR, L(note),
     "why the check could not be measured (a plugin that crashed, hung or failed), or how its "
     "oracle was formed",
     .size = sizeof(((mw_layer_check_row *)0)->note)},
    MW_FIELDS_END,
};
#undef L
const mw_record mw_layer_check_record = {"layer check", sizeof(mw_layer_check_row),
                                         layer_check_fields, "one check of a layer type", NULL};

static int is_shard(const void *rec)
{
    return ((const mw_report_meta *)rec)->shard_count > 0;
}

#define D(m) offsetof(mw_report_meta, m), .size = sizeof(((mw_report_meta *)0)->m)
#define DN(m) offsetof(mw_report_meta, m)
static const mw_field meta_fields[] = {
    {"suite", MW_FK_STR, D(suite), .help = "the suite that wrote it"},
    {"mwverify_version", MW_FK_STR, D(mwverify_version), .help = "the mwverify that wrote it"},
    {"created_utc", MW_FK_STR, D(created_utc), .help = "when it was created"},
    {"updated_utc", MW_FK_STR, D(updated_utc), .help = "when it was last committed"},
    {"command_line", MW_FK_STR, D(command_line), .help = "the command that wrote it"},
    {"config", MW_FK_STR, D(config_json), .help = "the suite's configuration, as JSON"},
    {"engine", MW_FK_STR, D(engine), .help = "the engine the methods ran on"},
    {"device", MW_FK_STR, D(device), .help = "its device (a CPU's or a GPU's model)"},
    {"math_mode", MW_FK_STR, D(math_mode), .help = "how its products round"},
    {"host", MW_FK_STR, D(host), .help = "the machine's name"},
    {"shard_index", MW_FK_INT, DN(shard_index), "a shard's report (--shard I/N): its I, 1..N",
     .lo = 1, .hi = 1 << 20, .when = is_shard},
    {"shard_count", MW_FK_INT, DN(shard_count), "its N: units u with u mod N = I - 1 are "
     "this shard's", .lo = 1, .hi = 1 << 20, .when = is_shard},
    {"units_total", MW_FK_LONG, DN(units_total), "the units of the whole grid it is a shard of",
     .lo = 0, .hi = 1e15, .when = is_shard},
    MW_FIELDS_END,
};
#undef D
#undef DN
static mw_status meta_check(const void *rec, mw_err *err)
{
    const mw_report_meta *m = rec;
    if (m->shard_count > 0 && m->shard_index > m->shard_count)
        return mw_err_set(err, MW_ERR_FORMAT, "report.shard_index: %d of %d shards",
                          m->shard_index, m->shard_count);
    return MW_OK;
}
const mw_record mw_meta_record = {"report", sizeof(mw_report_meta), meta_fields,
                                  "a report's metadata (root attributes)", meta_check};

/* ---- helpers ---- */

int mw_method_has_closure(mw_method m)
{
    return m == MW_MOONWALK || m == MW_MIXED;
}

mw_diagnosis mw_diagnosis_none(void)
{
    mw_diagnosis d = {0};
    d.error = d.predicted = d.floor = d.problem = d.amplification = d.backprop = d.sat4 = d.sat9 = d.negative = NAN;
    return d;
}

/* "17%", "<1%", "0%". */
static const char *percent(char *buf, size_t n, double share)
{
    if (share > 0 && share < 0.005)
        snprintf(buf, n, "<1%%");
    else
        snprintf(buf, n, "%.0f%%", 100 * share);
    return buf;
}

/* Add to the text in buf (which holds *used bytes), truncating at n. */
static void say_more(char *buf, size_t n, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void say_more(char *buf, size_t n, size_t *used, const char *fmt, ...)
{
    if (*used + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, n - *used, fmt, ap);
    va_end(ap);
    if (k > 0)
        *used = *used + (size_t)k < n ? *used + (size_t)k : n - 1;
}

const char *mw_diagnosis_words(const mw_diagnosis *d, mw_dtype dtype, char *buf, size_t n)
{
    const double measured = d->error;
    size_t k = 0;
    char a[16], b[16];
    buf[0] = '\0';
    if (d->cls == MW_DIAG_NONE)
        return buf;
    if (d->cls == MW_DIAG_UNSTABLE) {
        say_more(buf, n, &k, "method-unstable: rel_l2 %.2g where a backward-stable gradient has "
                 "%.2g (the problem itself %.2g)", measured,
                 isfinite(d->backprop) ? fmax(d->floor, d->backprop) : d->floor, d->problem);
        if (dtype == MW_F32)
            say_more(buf, n, &k, "; its own gain on rounding, measured in float64, predicts %.2g",
                     d->predicted);
    } else if (d->cls == MW_DIAG_ILL_CONDITIONED && d->backprop > d->problem) {
        say_more(buf, n, &k, "ill-conditioned: rel_l2 %.2g; backprop, backward-stable, loses as "
                 "much in %s (%.2g)", measured, mw_dtype_name(dtype), d->backprop);
    } else if (d->cls == MW_DIAG_ILL_CONDITIONED) {
        say_more(buf, n, &k, "ill-conditioned: rel_l2 %.2g; the exact gradient itself moves %.2g "
                 "under %s-sized perturbations of θ and x", measured, d->problem,
                 mw_dtype_name(dtype));
    } else {
        say_more(buf, n, &k, "within rounding: rel_l2 %.2g, rounding explains %.2g", measured,
                 d->predicted);
    }
    if (d->layer == 0)
        return buf;
    if (d->layer < 0)
        say_more(buf, n, &k, "; departs from backprop at the head");
    else
        say_more(buf, n, &k, "; departs from backprop at layer %d", d->layer);
    if (d->negative > 0)
        say_more(buf, n, &k, ", where %s of leaky σ's inputs are negative (D⁻¹ = 1/α on each)",
                 percent(a, sizeof a, d->negative));
    else if (d->sat4 > 0)
        say_more(buf, n, &k, ", where %s of σ's inputs have |z| > 4 and %s > 9",
                 percent(a, sizeof a, d->sat4), percent(b, sizeof b, d->sat9));
    else if (d->sat4 == 0)
        say_more(buf, n, &k, ", where no input of σ has |z| > 4 (not saturation)");
    if (d->tanh_pm1)
        say_more(buf, n, &k, ", %ld float32 tanh outputs round to ±1", d->tanh_pm1);
    if (d->dinv_overflow)
        say_more(buf, n, &k, ", %ld units' D⁻¹ = cosh²(z) overflows float32", d->dinv_overflow);
    return buf;
}

int mw_closure_alarm(mw_method m, double closure_err)
{
    return mw_method_has_closure(m) && !(closure_err <= MW_CLOSURE_ALARM);
}

mw_report_step mw_step_none(void)
{
    mw_report_step s = {0};
    s.loss = s.accuracy = s.closure_err = s.recon_err = s.dist_ref = NAN;
    s.gold_rel_l2 = s.silver_vs_gold = s.seconds = NAN;
    s.vs.rel_l2 = s.vs.max_abs = s.vs.max_ulp = s.vs.cosine = s.vs.norm = NAN;
    s.vs.worst = -1, s.vs.worst_got = s.vs.worst_want = NAN;
    s.peak_bytes = -1;
    return s;
}

void mw_run_summarize(const mw_report_run *run, const mw_report_network *net,
                      mw_run_summary *out)
{
    memset(out, 0, sizeof *out);
    out->run = run->index;
    out->network = run->network;
    if (net) {
        out->arch = net->spec.arch;
        out->f_act = net->spec.f_act;
        out->out_act = net->spec.out_act;
        out->depth = net->spec.depth;
        out->seed = net->spec.seed;
    }
    out->method = run->method;
    out->dtype = run->dtype;
    out->status = run->status;
    snprintf(out->message, sizeof out->message, "%s", run->message);
    out->est_gflop = run->est_gflop;
    out->verdict = run->verdict;
    out->diag = run->diag;
    snprintf(out->why, sizeof out->why, "%s", run->why);
    out->last = run->n_steps ? run->steps[run->n_steps - 1] : mw_step_none();
    out->steps = (long long)run->n_steps;
    out->epochs = (long long)run->n_epochs;
    out->test_accuracy = run->n_epochs ? run->epochs[run->n_epochs - 1].test_accuracy : NAN;
}
