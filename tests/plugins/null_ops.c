/* A table whose one layer, "nullvjp", leaves f64.vjp NULL (everything else is set): mwverify
 * must refuse it with a message naming the missing operation, not call through NULL. */
#include "scale2.h"

static const mwp_layer layers[] = {{
    .name = "nullvjp",
    .summary = "y = 2x without a float64 vjp",
    .flags = MWP_REENTRANT,
    .accepts = scale2_accepts,
    .n_params = scale2_n_params,
    .param_blocks = scale2_param_blocks,
    .init = scale2_init,
    .roundings = scale2_roundings,
    .f32 = {.forward = scale2_forward_f32, .inverse = scale2_inverse_f32,
            .jvp = scale2_jvp_f32, .vjp = scale2_vjp_f32, .vijp = scale2_vijp_f32},
    .f64 = {.forward = scale2_forward_f64, .inverse = scale2_inverse_f64,
            .jvp = scale2_jvp_f64, .vjp = NULL /* the fault */, .vijp = scale2_vijp_f64},
    .mpfr = {.forward = scale2_forward_mpfr, .vjp = scale2_vjp_mpfr},
}};

static const mwp_plugin plugin = {
    .abi_version = MWP_ABI_VERSION,
    .size = sizeof(mwp_plugin),
    .name = "mwverify-test-null-ops",
    .version = "1.0",
    .n_layers = 1,
    .layers = layers,
};

const mwp_plugin *mwp_plugin_entry(void)
{
    return &plugin;
}
