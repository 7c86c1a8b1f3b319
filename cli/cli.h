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

#endif
