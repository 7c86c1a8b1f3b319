/* Options shared by the commands that build networks and oracles: the network's sizes and
 * activations, and the gold oracle's precision and checks. */
#ifndef MW_NETOPTS_H
#define MW_NETOPTS_H

#include <stddef.h>

#include "args.h"
#include "suite.h"
#include "suites.h"

extern const mw_opt mw_act_opts[];    /* --arch --f-act --out-act: one network's kind */
extern const mw_opt mw_size_opts[];   /* --width --hidden --units --leaky-slope --bn --batch ... */
extern const mw_opt mw_seed_opts[];   /* --seed */
extern const mw_opt mw_method_opts[]; /* --methods --budget --tangent-block --proj-samples */
extern const mw_opt mw_oracle_opts[]; /* --oracle-bits --certify-floor --fd-coords --gold-budget */
extern const mw_opt mw_engine_opts[]; /* --engine --math */
int mw_engine_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n);

/* Apply one option of these tables to req (req->spec: the mlp network, and --arch) and
 * revnet (the revnet network): --width and --depth reach the mlp alone, --channels,
 * --image, --blocks and --layers-per-block the revnet alone, the others both. 0 applied,
 * 1 bad value (err written), -1 not an option of these tables. (A command offers only the
 * tables it lists.) */
int mw_net_opt_apply(mw_grad_request *req, mw_spec *revnet, const char *name, const char *v,
                     char *err, size_t n);
/* After parsing a single network's options: req->spec := the network --arch chose,
 * completed (mw_spec_complete). */
void mw_net_choose(mw_grad_request *req, const mw_spec *revnet);
/* "HxW" into h and w. */
int mw_parse_image(const char *name, const char *v, int *h, int *w, char *err, size_t n);
int mw_oracle_opt_apply(mw_grad_request *req, const char *name, const char *v, char *err,
                        size_t n);

/* The grid of a suite: --arch --archs --f-acts --out-acts --depths --layers-per-block
 * --dtypes --seeds --tol --proj-repeats. */
extern const mw_opt mw_grid_opts[];
int mw_grid_opt_apply(mw_suite_config *c, const char *name, const char *v, char *err, size_t n);

/* --preset NAME (or --preset=NAME) among argv, else dflt. */
const char *mw_find_preset(int argc, char **argv, const char *dflt);

/* After parsing: the methods and network options gathered in c->base go to the grid. */
void mw_grid_finish(mw_suite_config *c);

/* Parse a comma list of methods ("all" allowed) into want/named. */
int mw_parse_methods(mw_grad_request *req, const char *v, char *err, size_t n);

#endif
