/* Options shared by the commands that build networks and oracles: the network's sizes and
 * activations, and the gold oracle's precision and checks. */
#ifndef MW_NETOPTS_H
#define MW_NETOPTS_H

#include <stddef.h>

#include "args.h"
#include "suites.h"

extern const mw_opt mw_net_opts[];    /* --width --hidden --units --f-act --out-act ... */
extern const mw_opt mw_oracle_opts[]; /* --oracle-bits --certify-floor --fd-coords --gold-budget */

/* Apply one option of these tables to req: 0 applied, 1 bad value (err written), -1 not
 * an option of these tables. */
int mw_net_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                     size_t n);
int mw_oracle_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n);

/* Parse a comma list of methods ("all" allowed) into want/named. */
int mw_parse_methods(mw_grad_request *req, const char *v, char *err, size_t n);

#endif
