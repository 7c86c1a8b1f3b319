/* actnorm-faulty: ActNorm with one deliberate error, a negative control.
 *
 * The error: vijp's log_scale gradient omits the factor e = exp(s); it computes
 *     g_s = Σ hy ⊙ x          instead of          g_s = Σ hy ⊙ x ⊙ e.
 * Everything else is actnorm.c's code, unchanged (this file includes it).
 *
 * What must catch it: the vijp checks, vijp_exact (the exact vjp at vijp's hy gives another
 * g) and vijp_identity (vijp's g differs from vjp(x, hy).g). forward, inverse, jvp, vjp
 * and the adjoint identity must pass: they never call vijp.
 * `mwverify layer check --layer-plugin ./actnorm_faulty.so` must therefore fail, and fail
 * on those checks alone. */
#define ACTNORM_FAULTY 1
#include "actnorm.c"
