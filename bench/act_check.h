/* The float32 engine's tanh family against the correctly rounded values: shared by
 * bench/act_accuracy.c (every float) and the engine test (a sample). */
#ifndef MW_ACT_CHECK_H
#define MW_ACT_CHECK_H

#include <stdint.h>

#include "internal.h"

typedef enum {
    ACT_CHECK_TANH,  /* act(tanh, z) */
    ACT_CHECK_ATANH, /* act_inv(tanh, y) */
    ACT_CHECK_SECH2, /* act'(tanh, z)·1 */
    ACT_CHECK_COSH2, /* 1 / act'(tanh, z), as b cosh²(z) with b = 1 */
    ACT_CHECK_COUNT
} act_check_fn;

typedef struct act_stats {
    uint64_t checked;   /* inputs compared */
    uint64_t misrounded; /* results that are not the correctly rounded float */
    uint64_t by_mpfr;   /* inputs whose reference MPFR settled (near a rounding boundary) */
    uint64_t bad_special; /* NaN, ±∞ or signed-zero results that differ from the function's */
    double max_ulp;     /* largest error, in ulps of the correctly rounded result */
    float worst;        /* the input where it was largest */
} act_stats;

const char *act_check_name(act_check_fn fn);

/* Checks fn on the floats whose bit patterns are first, first + stride, ... (count of
 * them, wrapping at 2^32) through the f32 CPU backend's elementwise kernel, adding to
 * *acc. MW_OK, or the engine's status. */
mw_status act_check_run(mw_ctx *ctx, act_check_fn fn, uint32_t first, uint64_t count,
                        uint32_t stride, act_stats *acc);

#endif
