/* A plugin's layer (include/mwverify/mw_plugin.h) as a layer of the engine: its five
 * operations on the host arrays the CPU backend's buffers are, in the context's dtype.
 * The plugin keeps nothing between calls, so the cache of a forward pass is a copy of its
 * input x, from which the plugin's vjp recomputes what it needs; outputs the engine does
 * not want (a NULL hx, g or y) go to scratch, because a plugin always gets every output.
 * Parameter tangents come to the plugin as (T, P) contiguous rows. */
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "mwverify/mw_plugin.h"

static mwp_call call_of(const mw_ctx *ctx, const mw_layer *l)
{
    mwp_call c;
    memset(&c, 0, sizeof c);
    c.batch = l->batch;
    c.features = l->width;
    c.channels = (size_t)l->shape.c, c.height = (size_t)l->shape.h, c.width = (size_t)l->shape.w;
    c.index = l->index;
    c.dtype_bits = ctx->dtype == MW_F32 ? 32 : 64;
    return c;
}

static mw_status said(mw_ctx *ctx, const mw_layer *l, mwp_status st, mwp_call *c, const char *op)
{
    if (st == MWP_OK)
        return MW_OK;
    c->msg[sizeof c->msg - 1] = '\0';
    return mw_fail(ctx, st == MWP_ERR_DOMAIN ? MW_ERR_NONFINITE : MW_ERR_BACKEND,
                   "%s: the plugin's %s said: %.200s", l->label, op,
                   c->msg[0] ? c->msg : "failed, without a reason");
}

#define F32(p) ((float *)(p))
#define F64(p) ((double *)(p))
#define C32(p) ((const float *)(p))
#define C64(p) ((const double *)(p))

static mw_status forward(mw_ctx *ctx, const mw_layer *l, const void *x, void *y,
                         mw_cache_level level, void **cache)
{
    const size_t N = l->batch * l->width;
    mwp_call c = call_of(ctx, l);
    mw_tensor tmp = {0}, *keep = NULL;
    mw_status st = MW_OK;
    if (!y) {
        MW_GO(mw_tensor_alloc(ctx, N, &tmp));
        y = tmp.data;
    }
    const mwp_layer *p = l->plugin;
    st = said(ctx, l,
              ctx->dtype == MW_F32 ? p->f32.forward(&c, C32(l->theta), C32(x), F32(y))
                                   : p->f64.forward(&c, C64(l->theta), C64(x), F64(y)),
              &c, "forward");
    if (st == MW_OK && level > MW_CACHE_NONE) { /* the input, for vjp */
        keep = calloc(1, sizeof *keep);
        if (!keep) {
            st = mw_fail(ctx, MW_ERR_NOMEM, "out of host memory");
            goto done;
        }
        MW_GO(mw_tensor_alloc(ctx, N, keep));
        MW_GO(mw_copy(ctx, mw_d(1, 1, N), mw_v(keep->data, 0, 0), mw_v((void *)x, 0, 0)));
        *cache = keep;
        keep = NULL;
    }
done:
    if (keep) {
        mw_tensor_free(ctx, keep);
        free(keep);
    }
    mw_tensor_free(ctx, &tmp);
    return st;
}

static void cache_free(mw_ctx *ctx, const mw_layer *l, void *cache)
{
    (void)l;
    if (cache) {
        mw_tensor_free(ctx, cache);
        free(cache);
    }
}

static mw_status inverse(mw_ctx *ctx, const mw_layer *l, const void *y, void *x)
{
    mwp_call c = call_of(ctx, l);
    const mwp_layer *p = l->plugin;
    return said(ctx, l,
                ctx->dtype == MW_F32 ? p->f32.inverse(&c, C32(l->theta), C32(y), F32(x))
                                     : p->f64.inverse(&c, C64(l->theta), C64(y), F64(x)),
                &c, "inverse");
}

static mw_status jvp(mw_ctx *ctx, const mw_layer *l, size_t T, const void *x, const void *dx,
                     const void *dtheta, size_t ld, void *y, void *dy)
{
    const size_t N = l->batch * l->width, P = l->n_theta;
    mwp_call c = call_of(ctx, l);
    mw_tensor packed = {0}, ytmp = {0};
    mw_status st = MW_OK;
    if (dtheta && ld != P && P) { /* T rows of P, ld apart: packed for the plugin */
        MW_GO(mw_tensor_alloc(ctx, T * P, &packed));
        MW_GO(mw_copy(ctx, mw_d(1, T, P), mw_v(packed.data, 0, (ptrdiff_t)P),
                      mw_v((void *)dtheta, 0, (ptrdiff_t)ld)));
        dtheta = packed.data;
    }
    if (!y) {
        MW_GO(mw_tensor_alloc(ctx, N, &ytmp));
        y = ytmp.data;
    }
    const mwp_layer *p = l->plugin;
    st = said(ctx, l,
              ctx->dtype == MW_F32
                  ? p->f32.jvp(&c, C32(l->theta), T, C32(x), C32(dx), C32(dtheta), F32(y), F32(dy))
                  : p->f64.jvp(&c, C64(l->theta), T, C64(x), C64(dx), C64(dtheta), F64(y),
                               F64(dy)),
              &c, "jvp");
done:
    mw_tensor_free(ctx, &packed);
    mw_tensor_free(ctx, &ytmp);
    return st;
}

static mw_status vjp(mw_ctx *ctx, const mw_layer *l, const void *cache, const void *hy, void *hx,
                     void *gtheta)
{
    const size_t N = l->batch * l->width, P = l->n_theta;
    const mw_tensor *x = cache;
    mwp_call c = call_of(ctx, l);
    mw_tensor hxt = {0}, gt = {0};
    mw_status st = MW_OK;
    if (!x)
        return mw_fail(ctx, MW_ERR_ARG, "%s: vjp without a forward cache", l->label);
    if (!hx) {
        MW_GO(mw_tensor_alloc(ctx, N, &hxt));
        hx = hxt.data;
    }
    if (!gtheta) {
        MW_GO(mw_tensor_alloc(ctx, P ? P : 1, &gt));
        gtheta = gt.data;
    }
    const mwp_layer *p = l->plugin;
    st = said(ctx, l,
              ctx->dtype == MW_F32
                  ? p->f32.vjp(&c, C32(l->theta), C32(x->data), C32(hy), F32(hx), F32(gtheta))
                  : p->f64.vjp(&c, C64(l->theta), C64(x->data), C64(hy), F64(hx), F64(gtheta)),
              &c, "vjp");
done:
    mw_tensor_free(ctx, &hxt);
    mw_tensor_free(ctx, &gt);
    return st;
}

static mw_status vijp(mw_ctx *ctx, const mw_layer *l, const void *x, const void *hx, void *y,
                      void *hy, void *gtheta)
{
    const size_t N = l->batch * l->width, P = l->n_theta;
    mwp_call c = call_of(ctx, l);
    mw_tensor yt = {0}, gt = {0};
    mw_status st = MW_OK;
    if (!y) {
        MW_GO(mw_tensor_alloc(ctx, N, &yt));
        y = yt.data;
    }
    if (!gtheta) {
        MW_GO(mw_tensor_alloc(ctx, P ? P : 1, &gt));
        gtheta = gt.data;
    }
    const mwp_layer *p = l->plugin;
    st = said(ctx, l,
              ctx->dtype == MW_F32 ? p->f32.vijp(&c, C32(l->theta), C32(x), C32(hx), F32(y),
                                                 F32(hy), F32(gtheta))
                                   : p->f64.vijp(&c, C64(l->theta), C64(x), C64(hx), F64(y),
                                                 F64(hy), F64(gtheta)),
              &c, "vijp");
done:
    mw_tensor_free(ctx, &yt);
    mw_tensor_free(ctx, &gt);
    return st;
}

const mw_layer_ops mw_plugin_layer_ops = {
    .name = "plugin", .forward = forward, .cache_free = cache_free, .inverse = inverse,
    .jvp = jvp, .vjp = vjp, .vijp = vijp,
};
