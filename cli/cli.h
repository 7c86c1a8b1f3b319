/* The commands of mwverify; each returns its exit status (args.h). */
#ifndef MW_CLI_H
#define MW_CLI_H

#include "suite.h"

int mw_cmd_grad(int argc, char **argv);
int mw_cmd_gradcheck(int argc, char **argv);
int mw_cmd_suite(int argc, char **argv);
int mw_cmd_report(int argc, char **argv);
int mw_cmd_layer(int argc, char **argv);
int mw_cmd_layer_check(int argc, char **argv);

/* Makes --engine cuda load the CUDA engine's module on first use (cuda_module.c; in
 * mwverify when it is built with CUDA). */
void mw_cli_cuda_module(void);

#endif
