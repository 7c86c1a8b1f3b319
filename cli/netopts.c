/* Options shared by grad and gradcheck (netopts.h). */
#include "netopts.h"

#include <stdio.h>
#include <string.h>

#include "mw_reference.h"

const mw_opt mw_net_opts[] = {
    {"arch", "NAME", "architecture: mlp (default mlp)"},
    {"width", "N", "features n of the input, even (default 16)"},
    {"hidden", "N", "width of F's inner units (default 32)"},
    {"units", "K", "units k of F, each dense -> act (default 2)"},
    {"f-act", "ACT", "activation inside F: relu, tanh, leaky, identity (default relu)"},
    {"out-act", "ACT", "coupling output activation σ: none, tanh, leaky (default none);\n"
                       "relu is refused: it is not invertible"},
    {"leaky-slope", "A", "slope α of leaky in F and σ, 0..1 (default 0.1); σ = leaky with\n"
                         "α = 0 has no inverse, so revbackprop, moonwalk, mixed skip"},
    {"bn", NULL, "BatchNorm after every unit of F (batch statistics; couples samples,\n"
                 "which turns off moonwalk's one-tangent-per-sample shortcut)"},
    {"batch", "B", "samples in the batch (default 8)"},
    {"classes", "C", "classes of the synthetic data and the head (default 4)"},
    {"seed", "S", "seed of parameters, data and projforward's tangents (default 1)"},
    {"init-scale", "X", "W, c uniform in ±X/sqrt(fan_in); large X saturates (default 1)"},
    {"methods", "LIST", "comma list of backprop, forward, projforward, revbackprop,\n"
                        "moonwalk, mixed; or all (default all). all skips a method whose\n"
                        "estimated cost is over --budget; naming it runs it anyway"},
    {"budget", "GFLOP", "cost over which \"all\" skips a method (default 50)"},
    {"tangent-block", "T", "tangents per forward-mode pass (default 64)"},
    {"proj-samples", "K", "projforward: average K projected gradients (default 1)"},
    {NULL, NULL, NULL},
};

const mw_opt mw_oracle_opts[] = {
    {"oracle-bits", "P", "gold's working precision in bits, 24..65536 (default 256); it is\n"
                         "certified by a second run at P+64 bits"},
    {"certify-floor", "B", "gold certified to fewer bits than this is an error (default 100)"},
    {"fd-coords", "N", "coordinates checked by gold's finite-difference witness (default:\n"
                       "all up to 64 parameters, else about 64 over every tensor; 0: none)"},
    {"gold-budget", "S", "refuse gold estimated to take more than S seconds (default 600)"},
    {NULL, NULL, NULL},
};

int mw_parse_methods(mw_grad_request *req, const char *v, char *err, size_t n)
{
    char buf[256];
    if (strlen(v) >= sizeof buf) {
        snprintf(err, n, "--methods: list too long");
        return 1;
    }
    strcpy(buf, v);
    int want[MW_N_METHODS] = {0}, named = 1;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        mw_method m;
        if (strcmp(tok, "all") == 0) {
            for (int i = 0; i < MW_N_METHODS; i++)
                want[i] = 1;
            named = 0;
        } else if (mw_method_parse(tok, &m) == 0) {
            want[m] = 1;
        } else {
            snprintf(err, n, "--methods %s: unknown method '%s' (allowed: backprop, forward, "
                             "projforward, revbackprop, moonwalk, mixed, all)", v, tok);
            return 1;
        }
    }
    int any = 0;
    for (int i = 0; i < MW_N_METHODS; i++)
        any |= want[i];
    if (!any) {
        snprintf(err, n, "--methods '%s': no method named", v);
        return 1;
    }
    memcpy(req->want, want, sizeof want);
    req->named = named;
    return 0;
}

int mw_net_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err, size_t n)
{
    mw_spec *s = &req->spec;
    if (strcmp(name, "arch") == 0) {
        if (mw_arch_parse(v, &s->arch) == 0)
            return 0;
        snprintf(err, n, "--arch %s: unknown architecture (allowed: mlp)", v);
        return 1;
    }
    if (strcmp(name, "width") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_WIDTH, &s->width, err, n);
    if (strcmp(name, "hidden") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_HIDDEN, &s->hidden, err, n);
    if (strcmp(name, "units") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_UNITS, &s->units, err, n);
    if (strcmp(name, "depth") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_DEPTH, &s->depth, err, n);
    if (strcmp(name, "batch") == 0)
        return mw_parse_int(name, v, 1, MW_MAX_BATCH, &s->batch, err, n);
    if (strcmp(name, "classes") == 0)
        return mw_parse_int(name, v, 2, MW_MAX_CLASSES, &s->classes, err, n);
    if (strcmp(name, "f-act") == 0) {
        if (mw_act_parse(v, &s->f_act) == 0)
            return 0;
        snprintf(err, n, "--f-act %s: unknown activation (allowed: relu, tanh, leaky, identity)", v);
        return 1;
    }
    if (strcmp(name, "out-act") == 0) {
        if (strcmp(v, "relu") == 0) {
            snprintf(err, n, "--out-act relu: ReLU is not invertible, so it cannot be the "
                             "coupling's output activation (allowed: none, tanh, leaky)");
            return 1;
        }
        if (mw_out_act_parse(v, &s->out_act) == 0)
            return 0;
        snprintf(err, n, "--out-act %s: unknown activation (allowed: none, tanh, leaky)", v);
        return 1;
    }
    if (strcmp(name, "leaky-slope") == 0)
        return mw_parse_double(name, v, 0.0, 1.0, &s->leaky_slope, err, n);
    if (strcmp(name, "bn") == 0) {
        s->bn = 1;
        return 0;
    }
    if (strcmp(name, "seed") == 0)
        return mw_parse_u64(name, v, &s->seed, err, n);
    if (strcmp(name, "init-scale") == 0)
        return mw_parse_double(name, v, 0.0, 1e6, &s->init_scale, err, n);
    if (strcmp(name, "methods") == 0)
        return mw_parse_methods(req, v, err, n);
    if (strcmp(name, "budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e12, &req->budget_gflop, err, n);
    if (strcmp(name, "tangent-block") == 0)
        return mw_parse_int(name, v, 1, 1 << 16, &req->opts.tangent_block, err, n);
    if (strcmp(name, "proj-samples") == 0)
        return mw_parse_int(name, v, 1, 1 << 24, &req->opts.proj_samples, err, n);
    return -1;
}

int mw_oracle_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n)
{
    int iv;
    if (strcmp(name, "oracle-bits") == 0) {
        if (mw_parse_int(name, v, MW_REF_MIN_BITS, MW_REF_MAX_BITS, &iv, err, n) != 0)
            return 1;
        req->gold.bits = iv;
        return 0;
    }
    if (strcmp(name, "certify-floor") == 0)
        return mw_parse_double(name, v, 0.0, MW_REF_MAX_BITS, &req->gold.floor_bits, err, n);
    if (strcmp(name, "fd-coords") == 0) {
        if (mw_parse_int(name, v, 0, 1 << 30, &iv, err, n) != 0)
            return 1;
        req->gold.fd_coords = iv;
        return 0;
    }
    if (strcmp(name, "gold-budget") == 0)
        return mw_parse_double(name, v, 0.0, 1e9, &req->gold_budget_s, err, n);
    return -1;
}
