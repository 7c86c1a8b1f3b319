/* A plugin's layer in the reference (include/mwverify/mw_plugin.h): its own MPFR passes,
 * forward and exact vjp, at the reference's precision. The network around it — the head,
 * the loss, the chain of cotangents — is the reference's. A plugin without MPFR passes has
 * no reference: its networks are checked against silver. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mwverify/mw_plugin.h"
#include "ref_internal.h"

static const mwp_layer *plugin;

void mw_ref_use_plugin(const struct mwp_layer *layer)
{
    plugin = layer;
}

int mw_ref_plugin_has_mpfr(void)
{
    return plugin && plugin->mpfr.forward && plugin->mpfr.vjp;
}

static mwp_call call_of(const mw_ref *r, int l)
{
    const mw_shape sh = mw_spec_layer_shape(&r->s, l);
    mwp_call c;
    memset(&c, 0, sizeof c);
    c.batch = r->B, c.features = r->n;
    c.channels = (size_t)sh.c, c.height = (size_t)sh.h, c.width = (size_t)sh.w;
    c.index = l;
    c.mpfr_prec = (long)r->prec;
    return c;
}

/* Pointers to n numbers of v, as the plugin takes them. */
static mpfr_ptr *pointers(mpfr_t *v, size_t n)
{
    mpfr_ptr *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = v[i];
    return p;
}

static int said(mwp_status st, mwp_call *c, const char *op, int l, char *msg, size_t msg_len)
{
    if (st == MWP_OK)
        return 0;
    c->msg[sizeof c->msg - 1] = '\0';
    snprintf(msg, msg_len, "layer %d: the plugin's MPFR %s said: %.200s", l, op,
             c->msg[0] ? c->msg : "failed");
    return 1;
}

int ref_plugin_forward(mw_ref *r, int l, char *msg, size_t msg_len)
{
    if (!mw_ref_plugin_has_mpfr()) {
        snprintf(msg, msg_len, "the plugin's layer has no MPFR passes: no gold (the checks use "
                 "silver)");
        return 1;
    }
    const size_t off = r->lay.layer_offset[l], P = r->lay.layer_offset[l + 1] - off;
    mpfr_ptr *th = pointers(r->theta + off, P), *x = pointers(ref_layer_in(r, l), r->N),
             *y = pointers(ref_layer_out(r, l), r->N);
    int bad = 1;
    if (!th || !x || !y) {
        snprintf(msg, msg_len, "out of memory");
    } else {
        mwp_call c = call_of(r, l);
        bad = said(plugin->mpfr.forward(&c, (mpfr_srcptr const *)th, (mpfr_srcptr const *)x, y),
                   &c, "forward", l, msg, msg_len);
    }
    free(th), free(x), free(y);
    return bad;
}

int ref_plugin_reverse(mw_ref *r, int l, char *msg, size_t msg_len)
{
    if (!mw_ref_plugin_has_mpfr()) {
        snprintf(msg, msg_len, "the plugin's layer has no MPFR passes");
        return 1;
    }
    const size_t off = r->lay.layer_offset[l], P = r->lay.layer_offset[l + 1] - off;
    mpfr_ptr *th = pointers(r->theta + off, P), *x = pointers(ref_layer_in(r, l), r->N),
             *hy = pointers(r->hy, r->N), *hx = pointers(r->hx, r->N),
             *g = pointers(r->g + off, P);
    int bad = 1;
    if (!th || !x || !hy || !hx || !g) {
        snprintf(msg, msg_len, "out of memory");
    } else {
        mwp_call c = call_of(r, l);
        bad = said(plugin->mpfr.vjp(&c, (mpfr_srcptr const *)th, (mpfr_srcptr const *)x,
                                    (mpfr_srcptr const *)hy, hx, g),
                   &c, "vjp", l, msg, msg_len);
    }
    free(th), free(x), free(hy), free(hx), free(g);
    return bad;
}
