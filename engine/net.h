/* Networks and batches as the methods see them (engine-internal). */
#ifndef MW_NET_H
#define MW_NET_H

#include "layers/layer.h"

struct mw_net {
    mw_spec spec;
    mw_layout lay;
    mw_tensor theta; /* all parameters, canonical order */
    const void *head_theta; /* the head's part of theta */
    int n_layers;     /* the body: the L couplings, and ψ between revnet blocks */
    mw_layer *layers; /* [n_layers], in order; layers[i].index is 0 for ψ */
    mw_bn_running *running; /* [L * units] when the spec has BatchNorm */
};

struct mw_batch {
    mw_tensor x;      /* (B, n) */
    void *labels;     /* B int32 on the backend */
    size_t labels_bytes;
    int *labels_host; /* the same, on the host (for accuracy) */
};

/* The head of net, reading the labels of batch. */
mw_head mw_net_head(const mw_net *net, const mw_batch *batch);

/* x (B, n) := f_L ∘ ... ∘ f_1 (x) in place, without caches (two buffers of scratch), in
 * the context's BatchNorm mode. */
mw_status mw_net_forward_inplace(mw_ctx *ctx, const mw_net *net, void *x);

#endif
