/* Networks (docs/architecture.md §2): the body of coupling layers and the head over one flat
 * parameter tensor in canonical order, their deterministic initialisation, batches,
 * and the plain forward pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/inner.h"
#include "net.h"
#include "mwverify/mw_plugin.h"
#include "philox.h"

static const struct mwp_layer *plugin_layer;

void mw_engine_use_plugin(const struct mwp_layer *layer)
{
    plugin_layer = layer;
}

const struct mwp_layer *mw_engine_plugin(void)
{
    return plugin_layer;
}

/* The call of a plugin's layer i of a network of spec s. */
static mwp_call plugin_call(const mw_spec *s, int i)
{
    const mw_shape sh = mw_spec_layer_shape(s, 1);
    mwp_call c;
    memset(&c, 0, sizeof c);
    c.batch = (size_t)s->batch, c.features = (size_t)s->width;
    c.channels = (size_t)sh.c, c.height = (size_t)sh.h, c.width = (size_t)sh.w;
    c.index = i;
    c.dtype_bits = 64;
    return c;
}

void mw_init_params(const mw_spec *spec, const mw_layout *lay, double *theta)
{
    for (int t = 0; t < lay->n_params; t++) {
        const mw_param_info *p = &lay->params[t];
        if (spec->coupling == MW_COUPLING_PLUGIN && p->layer > 0) { /* the plugin's own */
            mwp_call c = plugin_call(spec, p->layer);
            if (!plugin_layer ||
                plugin_layer->init(&c, spec->seed + (uint64_t)p->layer, theta + p->offset) != MWP_OK)
                for (size_t i = 0; i < p->count; i++) /* no plugin: mw_net_new refuses */
                    theta[p->offset + i] = NAN;
            for (size_t i = 0; i < p->count; i++)
                theta[p->offset + i] = (double)(float)theta[p->offset + i];
            continue;
        }
        for (size_t i = 0; i < p->count; i++) {
            double v;
            if (p->kind == MW_PARAM_GAMMA)
                v = 1.0;
            else if (p->kind == MW_PARAM_BETA)
                v = 0.0;
            else {
                double bound = spec->init_scale / sqrt((double)p->fan_in);
                double u = mw_philox_uniform(spec->seed, MW_STREAM_INIT, p->offset + i);
                v = (2.0 * u - 1.0) * bound;
            }
            theta[p->offset + i] = (double)(float)v;
        }
    }
}

mw_status mw_net_new(mw_ctx *ctx, const mw_spec *spec, mw_net **out)
{
    if (spec->coupling == MW_COUPLING_PLUGIN) {
        *out = NULL;
        if (!plugin_layer)
            return mw_fail(ctx, MW_ERR_ARG, "coupling plugin: no plugin's layer is loaded "
                           "(--layer-plugin)");
        return mw_net_new_plugin(ctx, spec, plugin_layer, out);
    }
    return mw_net_new_layer(ctx, spec, NULL, out);
}

mw_status mw_net_new_layer(mw_ctx *ctx, const mw_spec *spec, const char *layer, mw_net **out)
{
    char why[256];
    *out = NULL;
    if (mw_spec_validate(spec, why, sizeof why) != 0)
        return mw_fail(ctx, MW_ERR_ARG, "%s", why);
    const mw_layer_type *type = layer ? mw_layer_type_find(layer) : mw_layer_type_for(spec->coupling);
    if (!type)
        return mw_fail(ctx, MW_ERR_ARG, "layer %s: no such layer type", layer ? layer : "?");
    if (type->coupling != (int)spec->coupling)
        return mw_fail(ctx, MW_ERR_ARG, "layer %s: not a %s coupling", type->name,
                       mw_coupling_name(spec->coupling));
    mw_net *net = calloc(1, sizeof *net);
    if (!net)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a network");
    mw_status st = MW_OK;
    double *theta = NULL;
    const int L = spec->depth, k = spec->units;
    net->spec = *spec;
    net->n_layers = L + (spec->arch == MW_ARCH_REVNET ? spec->blocks - 1 : 0);
    if (mw_layout_build(&net->spec, &net->lay) != 0 ||
        !(net->layers = calloc((size_t)net->n_layers, sizeof *net->layers)) ||
        (spec->bn && !(net->running = calloc((size_t)L * (size_t)k, sizeof *net->running))) ||
        !(theta = malloc(net->lay.total * sizeof *theta))) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a network");
        goto done;
    }
    MW_GO(mw_tensor_alloc(ctx, net->lay.total, &net->theta));
    mw_layer *l = net->layers;
    for (int i = 1; i <= L; i++) {
        if (mw_spec_squeeze_before(&net->spec, i)) { /* ψ, from the previous block's shape */
            l->ops = &mw_squeeze_ops;
            l->spec = &net->spec;
            l->index = 0;
            l->batch = (size_t)spec->batch;
            l->width = (size_t)spec->width;
            l->shape = mw_spec_layer_shape(&net->spec, i - 1);
            snprintf(l->label, sizeof l->label, "squeeze after block %d",
                     (i - 1) / spec->layers_per_block);
            l->theta_off = net->lay.layer_offset[i];
            l->theta = mw_at(ctx, net->theta.data, l->theta_off);
            l++;
        }
        l->ops = type->ops;
        l->inner = type->inner;
        l->spec = &net->spec;
        l->index = i;
        l->batch = (size_t)spec->batch;
        l->width = (size_t)spec->width;
        l->shape = mw_spec_layer_shape(&net->spec, i);
        snprintf(l->label, sizeof l->label, "layer %d", i);
        l->theta_off = net->lay.layer_offset[i];
        l->n_theta = net->lay.layer_offset[i + 1] - l->theta_off;
        l->theta = mw_at(ctx, net->theta.data, l->theta_off);
        if (spec->bn) {
            l->running = &net->running[(size_t)(i - 1) * (size_t)k];
            for (int u = 1; u <= k; u++) {
                int o, in;
                mw_spec_unit_shape(spec, i, u, &o, &in);
                mw_bn_running *r = &l->running[u - 1];
                MW_GO(mw_tensor_alloc(ctx, (size_t)o, &r->mean));
                MW_GO(mw_tensor_alloc(ctx, (size_t)o, &r->var));
                MW_GO(mw_fill(ctx, mw_d(1, 1, (size_t)o), mw_v(r->mean.data, 0, 0), 0.0));
                MW_GO(mw_fill(ctx, mw_d(1, 1, (size_t)o), mw_v(r->var.data, 0, 0), 1.0));
            }
        }
        l++;
    }
    net->head_theta = mw_at(ctx, net->theta.data, net->lay.layer_offset[L + 1]);
    mw_init_params(&net->spec, &net->lay, theta);
    MW_GO(mw_tensor_upload(ctx, &net->theta, 0, theta, net->lay.total));
done:
    free(theta);
    if (st != MW_OK) {
        mw_net_free(ctx, net);
        net = NULL;
    }
    *out = net;
    return st;
}

mw_status mw_net_new_plugin(mw_ctx *ctx, const mw_spec *spec, const struct mwp_layer *pl,
                            mw_net **out)
{
    char why[256];
    *out = NULL;
    if (mw_spec_validate(spec, why, sizeof why) != 0)
        return mw_fail(ctx, MW_ERR_ARG, "%s", why);
    if (ctx->backend != MW_BACKEND_CPU)
        return mw_fail(ctx, MW_ERR_ARG, "a plugin's layer runs on the CPU engine only");
    if (spec->arch != MW_ARCH_MLP || spec->bn)
        return mw_fail(ctx, MW_ERR_ARG, "a network of a plugin's layer is an mlp without "
                       "BatchNorm");
    const int L = spec->depth;
    mw_net *net = calloc(1, sizeof *net);
    double *theta = NULL;
    mw_status st = MW_OK;
    if (!net)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a network");
    net->spec = *spec;
    net->spec.coupling = MW_COUPLING_PLUGIN;
    net->n_layers = L;
    mw_layout *lay = &net->lay;
    /* the plugin's parameter count, the same for every layer, is the spec's */
    for (int i = 1; i <= L; i++) {
        mwp_call c = plugin_call(spec, i);
        size_t P = pl->n_params(&c);
        if (i == 1 && spec->coupling != MW_COUPLING_PLUGIN)
            net->spec.plugin_params = (long)P;
        if (P != (size_t)net->spec.plugin_params) {
            st = mw_fail(ctx, MW_ERR_ARG, "layer %d: the plugin's layer has %zu parameters, the "
                         "network %ld per layer (a count that changes with the layer is not "
                         "supported)", i, P, net->spec.plugin_params);
            goto done;
        }
    }
    if (mw_layout_build(&net->spec, lay) != 0 ||
        !(net->layers = calloc((size_t)L, sizeof *net->layers))) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a network");
        goto done;
    }
    const size_t off = lay->total;
    const mw_shape sh = mw_spec_layer_shape(spec, 1);
    if (!(theta = malloc((off ? off : 1) * sizeof *theta))) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a network");
        goto done;
    }
    MW_GO(mw_tensor_alloc(ctx, off, &net->theta));
    for (int i = 1; i <= L; i++) {
        mw_layer *l = &net->layers[i - 1];
        l->ops = &mw_plugin_layer_ops;
        l->plugin = pl;
        l->spec = &net->spec;
        l->index = i;
        l->batch = (size_t)spec->batch;
        l->width = (size_t)spec->width;
        l->shape = sh;
        snprintf(l->label, sizeof l->label, "layer %d", i);
        l->theta_off = lay->layer_offset[i];
        l->n_theta = lay->layer_offset[i + 1] - l->theta_off;
        l->theta = mw_at(ctx, net->theta.data, l->theta_off);
    }
    {   /* the plugin's init for its layers (this one's, which may not be the process's) */
        const struct mwp_layer *before = plugin_layer;
        plugin_layer = pl;
        mw_init_params(&net->spec, lay, theta);
        plugin_layer = before;
        for (size_t i = 0; i < off; i++)
            if (!isfinite(theta[i])) {
                st = mw_fail(ctx, MW_ERR_BACKEND, "the plugin's init failed or gave a "
                             "non-finite parameter (%s)", "its layers");
                goto done;
            }
    }
    net->head_theta = mw_at(ctx, net->theta.data, lay->layer_offset[L + 1]);
    MW_GO(mw_tensor_upload(ctx, &net->theta, 0, theta, off));
done:
    free(theta);
    if (st != MW_OK) {
        mw_net_free(ctx, net);
        net = NULL;
    }
    *out = net;
    return st;
}

void mw_net_free(mw_ctx *ctx, mw_net *net)
{
    if (!net)
        return;
    mw_tensor_free(ctx, &net->theta);
    if (net->running)
        for (size_t i = 0; i < (size_t)net->spec.depth * (size_t)net->spec.units; i++) {
            mw_tensor_free(ctx, &net->running[i].mean);
            mw_tensor_free(ctx, &net->running[i].var);
        }
    free(net->running);
    mw_layout_free(&net->lay);
    free(net->layers);
    free(net);
}

mw_status mw_net_bn_running(mw_ctx *ctx, const mw_net *net, int layer, int unit, double *mean,
                            double *var, size_t channels, long *updates)
{
    const mw_spec *s = &net->spec;
    if (!net->running || layer < 1 || layer > s->depth || unit < 1 || unit > s->units)
        return mw_fail(ctx, MW_ERR_ARG, "layer %d unit %d has no BatchNorm", layer, unit);
    const mw_bn_running *r = &net->running[(size_t)(layer - 1) * (size_t)s->units + (size_t)(unit - 1)];
    if (channels != r->mean.n)
        return mw_fail(ctx, MW_ERR_ARG, "layer %d unit %d has %zu BatchNorm channels, not %zu",
                       layer, unit, r->mean.n, channels);
    mw_status st = mw_tensor_download(ctx, &r->mean, 0, mean, channels);
    if (st == MW_OK)
        st = mw_tensor_download(ctx, &r->var, 0, var, channels);
    if (updates)
        *updates = r->updates;
    return st;
}

mw_status mw_net_bn_copy(mw_ctx *ctx, mw_net *dst, const mw_net *src)
{
    if (!dst->running || !src->running)
        return MW_OK;
    if (dst->lay.total != src->lay.total || dst->spec.depth != src->spec.depth ||
        dst->spec.units != src->spec.units)
        return mw_fail(ctx, MW_ERR_ARG, "BatchNorm statistics copied between different networks");
    mw_status st = MW_OK;
    for (size_t i = 0; st == MW_OK && i < (size_t)src->spec.depth * (size_t)src->spec.units; i++) {
        const mw_bn_running *a = &src->running[i];
        mw_bn_running *b = &dst->running[i];
        st = mw_copy(ctx, mw_d(1, 1, a->mean.n), mw_v(b->mean.data, 0, 0), mw_v(a->mean.data, 0, 0));
        if (st == MW_OK)
            st = mw_copy(ctx, mw_d(1, 1, a->var.n), mw_v(b->var.data, 0, 0), mw_v(a->var.data, 0, 0));
        b->updates = a->updates;
    }
    return st;
}

const mw_spec *mw_net_spec(const mw_net *net)
{
    return &net->spec;
}

const mw_layout *mw_net_layout(const mw_net *net)
{
    return &net->lay;
}

mw_status mw_net_set_params(mw_ctx *ctx, mw_net *net, const double *theta)
{
    return mw_tensor_upload(ctx, &net->theta, 0, theta, net->lay.total);
}

mw_status mw_net_get_params(mw_ctx *ctx, const mw_net *net, double *theta)
{
    return mw_tensor_download(ctx, &net->theta, 0, theta, net->lay.total);
}

mw_head mw_net_head(const mw_net *net, const mw_batch *batch)
{
    const mw_spec *s = &net->spec;
    size_t off = net->lay.layer_offset[s->depth + 1];
    mw_shape last = mw_spec_head_shape(s);
    mw_head h = {
        .spec = s,
        .batch = (size_t)s->batch,
        .width = (size_t)mw_spec_head_features(s),
        .pool = s->arch == MW_ARCH_REVNET ? (size_t)last.h * (size_t)last.w : 1,
        .classes = (size_t)s->classes,
        .theta_off = off,
        .n_theta = net->lay.total - off,
        .theta = net->head_theta,
        .labels = batch->labels,
    };
    return h;
}

mw_status mw_batch_new(mw_ctx *ctx, const mw_net *net, const double *x, const int *labels,
                       mw_batch **out)
{
    const mw_spec *s = &net->spec;
    const size_t B = (size_t)s->batch, n = (size_t)s->width;
    *out = NULL;
    for (size_t b = 0; b < B; b++)
        if (labels[b] < 0 || labels[b] >= s->classes)
            return mw_fail(ctx, MW_ERR_ARG, "label %d of sample %zu outside 0..%d", labels[b],
                           b, s->classes - 1);
    for (size_t i = 0; i < B * n; i++)
        if (!isfinite(x[i]))
            return mw_fail(ctx, MW_ERR_ARG, "input of sample %zu, feature %zu is not finite",
                           i / n, i % n);
    mw_batch *bt = calloc(1, sizeof *bt);
    if (!bt)
        return mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a batch");
    mw_status st = MW_OK;
    MW_GO(mw_tensor_alloc(ctx, B * n, &bt->x));
    MW_GO(mw_tensor_upload(ctx, &bt->x, 0, x, B * n));
    MW_GO(mw_raw_alloc(ctx, B * sizeof(int), &bt->labels));
    bt->labels_bytes = B * sizeof(int);
    if (!(bt->labels_host = malloc(B * sizeof(int)))) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory for a batch");
        goto done;
    }
    memcpy(bt->labels_host, labels, B * sizeof(int));
    MW_GO(ctx->ops->upload_labels(ctx, bt->labels, labels, B));
done:
    if (st != MW_OK) {
        mw_batch_free(ctx, bt);
        bt = NULL;
    }
    *out = bt;
    return st;
}

void mw_batch_free(mw_ctx *ctx, mw_batch *b)
{
    if (!b)
        return;
    mw_tensor_free(ctx, &b->x);
    mw_raw_free(ctx, b->labels, b->labels_bytes);
    free(b->labels_host);
    free(b);
}

mw_status mw_net_forward_inplace(mw_ctx *ctx, const mw_net *net, void *x)
{
    const size_t N = (size_t)net->spec.batch * (size_t)net->spec.width;
    mw_status st = MW_OK;
    mw_tensor y = {0};
    /* in place through the layers that can be, ping-pong (with y, taken when first
     * needed) through the others */
    void *cur = x, *next = NULL;
    for (int i = 0; i < net->n_layers; i++) {
        const mw_layer *l = &net->layers[i];
        const bool in_place = l->ops->in_place;
        if (!in_place && !next) {
            MW_GO(mw_tensor_alloc(ctx, N, &y));
            next = y.data;
        }
        if ((st = l->ops->forward(ctx, l, cur, in_place ? cur : next, MW_CACHE_NONE, NULL)) !=
            MW_OK) {
            st = mw_annotate(ctx, st, "%s forward", l->label);
            goto done;
        }
        if (!in_place) {
            void *t = cur;
            cur = next;
            next = t;
        }
    }
    if (cur != x)
        MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(x, 0, 0), mw_v(cur, 0, 0)));
done:
    mw_tensor_free(ctx, &y);
    return st;
}

mw_status mw_loss(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, double *loss)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor x = {0};
    mw_head head = mw_net_head(net, batch);
    MW_GO(mw_tensor_alloc(ctx, N, &x));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(x.data, 0, 0), mw_v(batch->x.data, 0, 0)));
    MW_GO(mw_net_forward_inplace(ctx, net, x.data));
    MW_GO(mw_head_loss(ctx, &head, x.data, loss));
done:
    mw_tensor_free(ctx, &x);
    return st;
}

mw_status mw_net_activations(mw_ctx *ctx, const mw_net *net, const mw_batch *batch,
                             double *out)
{
    const size_t N = batch->x.n;
    mw_status st = MW_OK;
    mw_tensor xs[2] = {{0}};
    MW_GO(mw_tensor_alloc(ctx, N, &xs[0]));
    MW_GO(mw_tensor_alloc(ctx, N, &xs[1]));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(xs[0].data, 0, 0), mw_v(batch->x.data, 0, 0)));
    for (int i = 0; i < net->n_layers; i++) {
        const mw_layer *l = &net->layers[i];
        if ((st = l->ops->forward(ctx, l, xs[i % 2].data, xs[1 - i % 2].data, MW_CACHE_NONE,
                                  NULL)) != MW_OK) {
            st = mw_annotate(ctx, st, "%s forward", l->label);
            goto done;
        }
        if (l->index > 0) /* coupling outputs only, before any ψ */
            MW_GO(mw_tensor_download(ctx, &xs[1 - i % 2], 0, out + (size_t)(l->index - 1) * N, N));
    }
done:
    mw_tensor_free(ctx, &xs[0]);
    mw_tensor_free(ctx, &xs[1]);
    return st;
}

mw_status mw_batch_update(mw_ctx *ctx, const mw_net *net, mw_batch *b, const double *x,
                          const int *labels)
{
    const mw_spec *s = &net->spec;
    const size_t B = (size_t)s->batch, n = (size_t)s->width;
    for (size_t i = 0; i < B; i++)
        if (labels[i] < 0 || labels[i] >= s->classes)
            return mw_fail(ctx, MW_ERR_ARG, "label %d of sample %zu outside 0..%d", labels[i], i,
                           s->classes - 1);
    for (size_t i = 0; i < B * n; i++)
        if (!isfinite(x[i]))
            return mw_fail(ctx, MW_ERR_ARG, "input of sample %zu, feature %zu is not finite",
                           i / n, i % n);
    mw_status st = mw_tensor_upload(ctx, &b->x, 0, x, B * n);
    if (st == MW_OK)
        memcpy(b->labels_host, labels, B * sizeof *labels);
    return st != MW_OK ? st : ctx->ops->upload_labels(ctx, b->labels, labels, B);
}

mw_status mw_eval(mw_ctx *ctx, const mw_net *net, const mw_batch *batch, int running,
                  double *loss, double *accuracy)
{
    const size_t N = batch->x.n, B = (size_t)net->spec.batch, C = (size_t)net->spec.classes;
    mw_status st = MW_OK;
    mw_tensor x = {0};
    mw_head head = mw_net_head(net, batch);
    double *logits = malloc(B * C * sizeof *logits);
    if (!logits) {
        st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
        goto done;
    }
    MW_GO(mw_tensor_alloc(ctx, N, &x));
    MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(x.data, 0, 0), mw_v(batch->x.data, 0, 0)));
    ctx->bn_mode = running ? MW_BN_RUNNING : MW_BN_BATCH;
    st = mw_net_forward_inplace(ctx, net, x.data);
    ctx->bn_mode = MW_BN_BATCH;
    MW_GO(st);
    MW_GO(mw_head_logits(ctx, &head, x.data, logits, loss));
    size_t right = 0;
    for (size_t b = 0; b < B; b++) {
        size_t best = 0;
        for (size_t c = 1; c < C; c++)
            if (logits[b * C + c] > logits[b * C + best])
                best = c;
        right += best == (size_t)batch->labels_host[b];
    }
    *accuracy = (double)right / (double)B;
done:
    mw_tensor_free(ctx, &x);
    free(logits);
    return st;
}

mw_status mw_adam_init(mw_ctx *ctx, const mw_net *net, double beta1, double beta2, double eps,
                       mw_adam *a)
{
    memset(a, 0, sizeof *a);
    a->beta1 = beta1, a->beta2 = beta2, a->eps = eps;
    const size_t P = net->lay.total;
    mw_status st = mw_tensor_alloc(ctx, P, &a->m);
    if (st == MW_OK)
        st = mw_tensor_alloc(ctx, P, &a->v);
    if (st == MW_OK)
        st = mw_fill(ctx, mw_d(1, 1, P), mw_v(a->m.data, 0, 0), 0.0);
    if (st == MW_OK)
        st = mw_fill(ctx, mw_d(1, 1, P), mw_v(a->v.data, 0, 0), 0.0);
    if (st != MW_OK)
        mw_adam_free(ctx, a);
    return st;
}

mw_status mw_adam_step(mw_ctx *ctx, mw_net *net, mw_adam *a, const mw_tensor *g, double lr)
{
    if (g->n != net->lay.total || a->m.n != g->n)
        return mw_fail(ctx, MW_ERR_ARG, "adam: gradient of %zu values for %zu parameters", g->n,
                       net->lay.total);
    a->t++;
    double bc1 = 1.0 - pow(a->beta1, (double)a->t), bc2 = 1.0 - pow(a->beta2, (double)a->t);
    return ctx->ops->adam(ctx, g->n, net->theta.data, g->data, a->m.data, a->v.data, a->beta1,
                          a->beta2, a->eps, lr / bc1, sqrt(bc2));
}

void mw_adam_free(mw_ctx *ctx, mw_adam *a)
{
    mw_tensor_free(ctx, &a->m);
    mw_tensor_free(ctx, &a->v);
}

/* ---- one layer on host doubles ---- */

int mw_net_n_layers(const mw_net *net)
{
    return net->n_layers;
}

mw_status mw_net_layer(const mw_net *net, int i, char *label, size_t label_len,
                       size_t *n_theta, size_t *theta_off)
{
    if (i < 0 || i >= net->n_layers)
        return MW_ERR_ARG;
    const mw_layer *l = &net->layers[i];
    if (label)
        snprintf(label, label_len, "%s", l->label);
    if (n_theta)
        *n_theta = l->n_theta;
    if (theta_off)
        *theta_off = l->theta_off;
    return MW_OK;
}

/* Device buffers for one layer call: up to 6, sized in elements; uploaded from the
 * host where a source is given. */
typedef struct bufs {
    mw_tensor t[6];
} bufs;

static mw_status bufs_make(mw_ctx *ctx, bufs *b, const size_t *n, const double *const *src,
                           int count)
{
    memset(b, 0, sizeof *b);
    for (int k = 0; k < count; k++) {
        mw_status st = mw_tensor_alloc(ctx, n[k] ? n[k] : 1, &b->t[k]);
        if (st == MW_OK && src[k])
            st = mw_tensor_upload(ctx, &b->t[k], 0, src[k], n[k]);
        if (st != MW_OK)
            return st;
    }
    return MW_OK;
}

static void bufs_free(mw_ctx *ctx, bufs *b)
{
    for (int k = 0; k < 6; k++)
        mw_tensor_free(ctx, &b->t[k]);
}

static mw_status layer_of(mw_ctx *ctx, const mw_net *net, int i, const mw_layer **l)
{
    if (i < 0 || i >= net->n_layers)
        return mw_fail(ctx, MW_ERR_ARG, "layer index %d outside 0..%d", i, net->n_layers - 1);
    *l = &net->layers[i];
    return MW_OK;
}

#define N_OF(net) ((size_t)(net)->spec.batch * (size_t)(net)->spec.width)

mw_status mw_layer_forward(mw_ctx *ctx, const mw_net *net, int i, const double *x, double *y)
{
    const mw_layer *l = NULL;
    bufs b = {{{0}}};
    const size_t N = N_OF(net), n[2] = {N, N};
    const double *src[2] = {x, NULL};
    mw_status st = layer_of(ctx, net, i, &l);
    if (st == MW_OK && (st = bufs_make(ctx, &b, n, src, 2)) == MW_OK &&
        (st = l->ops->forward(ctx, l, b.t[0].data, b.t[1].data, MW_CACHE_NONE, NULL)) == MW_OK)
        st = mw_tensor_download(ctx, &b.t[1], 0, y, N);
    bufs_free(ctx, &b);
    return st;
}

mw_status mw_layer_inverse(mw_ctx *ctx, const mw_net *net, int i, const double *y, double *x)
{
    const mw_layer *l = NULL;
    bufs b = {{{0}}};
    const size_t N = N_OF(net), n[2] = {N, N};
    const double *src[2] = {y, NULL};
    mw_status st = layer_of(ctx, net, i, &l);
    if (st == MW_OK && (st = bufs_make(ctx, &b, n, src, 2)) == MW_OK &&
        (st = l->ops->inverse(ctx, l, b.t[0].data, b.t[1].data)) == MW_OK)
        st = mw_tensor_download(ctx, &b.t[1], 0, x, N);
    bufs_free(ctx, &b);
    return st;
}

mw_status mw_layer_jvp(mw_ctx *ctx, const mw_net *net, int i, size_t T, const double *x,
                       const double *dx, const double *dtheta, double *y, double *dy)
{
    const mw_layer *l = NULL;
    bufs b = {{{0}}};
    mw_status st = layer_of(ctx, net, i, &l);
    if (st != MW_OK)
        return st;
    const size_t N = N_OF(net), P = l->n_theta;
    const size_t n[5] = {N, T * N, T * P, N, T * N};
    const double *src[5] = {x, dx, dtheta, NULL, NULL};
    if ((st = bufs_make(ctx, &b, n, src, 5)) == MW_OK &&
        (st = l->ops->jvp(ctx, l, T, b.t[0].data, dx ? b.t[1].data : NULL,
                          dtheta && P ? b.t[2].data : NULL, P, b.t[3].data, b.t[4].data)) == MW_OK &&
        (st = mw_tensor_download(ctx, &b.t[3], 0, y, N)) == MW_OK)
        st = mw_tensor_download(ctx, &b.t[4], 0, dy, T * N);
    bufs_free(ctx, &b);
    return st;
}

mw_status mw_layer_vjp(mw_ctx *ctx, const mw_net *net, int i, const double *x, const double *hy,
                       double *hx, double *g)
{
    const mw_layer *l = NULL;
    bufs b = {{{0}}};
    void *cache = NULL;
    mw_status st = layer_of(ctx, net, i, &l);
    if (st != MW_OK)
        return st;
    const size_t N = N_OF(net), P = l->n_theta, n[4] = {N, N, N, P};
    const double *src[4] = {x, hy, NULL, NULL};
    if ((st = bufs_make(ctx, &b, n, src, 4)) == MW_OK &&
        (st = l->ops->forward(ctx, l, b.t[0].data, NULL, MW_CACHE_FULL, &cache)) == MW_OK &&
        (st = l->ops->vjp(ctx, l, cache, b.t[1].data, b.t[2].data, P ? b.t[3].data : NULL)) ==
            MW_OK &&
        (st = mw_tensor_download(ctx, &b.t[2], 0, hx, N)) == MW_OK && P)
        st = mw_tensor_download(ctx, &b.t[3], 0, g, P);
    l->ops->cache_free(ctx, l, cache);
    bufs_free(ctx, &b);
    return st;
}

mw_status mw_layer_vijp(mw_ctx *ctx, const mw_net *net, int i, const double *x, const double *hx,
                        double *y, double *hy, double *g)
{
    const mw_layer *l = NULL;
    bufs b = {{{0}}};
    mw_status st = layer_of(ctx, net, i, &l);
    if (st != MW_OK)
        return st;
    const size_t N = N_OF(net), P = l->n_theta, n[5] = {N, N, N, N, P};
    const double *src[5] = {x, hx, NULL, NULL, NULL};
    if ((st = bufs_make(ctx, &b, n, src, 5)) == MW_OK &&
        (st = l->ops->vijp(ctx, l, b.t[0].data, b.t[1].data, b.t[2].data, b.t[3].data,
                           P ? b.t[4].data : NULL)) == MW_OK &&
        (st = mw_tensor_download(ctx, &b.t[2], 0, y, N)) == MW_OK &&
        (st = mw_tensor_download(ctx, &b.t[3], 0, hy, N)) == MW_OK && P)
        st = mw_tensor_download(ctx, &b.t[4], 0, g, P);
    bufs_free(ctx, &b);
    return st;
}

/* ---- the registry, for callers outside the engine ---- */

static void info_of(const mw_layer_type *t, mw_layer_info *out)
{
    out->name = t->name;
    out->summary = t->summary;
    out->fault = t->fault;
    out->coupling = t->coupling;
}

size_t mw_layer_count(void)
{
    return mw_layer_registry_size;
}

int mw_layer_info_at(size_t i, mw_layer_info *out)
{
    if (i >= mw_layer_registry_size)
        return 1;
    info_of(&mw_layer_registry[i], out);
    return 0;
}

int mw_layer_info_of(const char *name, mw_layer_info *out)
{
    const mw_layer_type *t = mw_layer_type_find(name);
    if (!t)
        return 1;
    info_of(t, out);
    return 0;
}
