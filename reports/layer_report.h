/* The layer check report (SCHEMA.md, "Layer check report"): the rows of `mwverify layer
 * check`, one per (layer, configuration, dtype, check), and the HDF5 file that keeps them
 * for a later run's --baseline. */
#ifndef MW_LAYER_REPORT_H
#define MW_LAYER_REPORT_H

#include <stddef.h>

#define MW_LAYER_REPORT_FORMAT "mwverify-layer-check"
#define MW_LAYER_REPORT_VERSION 1

typedef struct mw_layer_check_row {
    char layer[32];      /* the registry's name */
    char config[96];     /* "mlp 8/6 k2 tanh/tanh, scale 1" */
    char dtype[8];
    char check[32];      /* forward, inverse, inverse_bias, jvp, vjp_input, vjp_params,
                            adjoint, vijp_identity, vijp_exact, method:<name> */
    double error;        /* the check's measure (layer_check.h), judged against threshold */
    double max_ulp;      /* where an output is compared with the exact one: max |e - x| /
                            ulp(max(|x|, 2^-10 max|x|)) in the dtype, for information;
                            NaN elsewhere */
    double threshold;
    int pass;
} mw_layer_check_row;

typedef struct mw_layer_check_result {
    mw_layer_check_row *rows;
    size_t n_rows, cap_rows;
} mw_layer_check_result;

/* Append a row (pass = error <= threshold, so NaN fails). 0, or 1 out of memory. */
int mw_layer_check_add(mw_layer_check_result *res, const char *layer, const char *config,
                       const char *dtype, const char *check, double error, double max_ulp,
                       double threshold);
void mw_layer_check_free(mw_layer_check_result *res);

/* Write res to path atomically (an existing file only with force; the directory must
 * exist); load one back (a file of another format or a newer version is refused). 0, or
 * nonzero with a message. */
/* Before the checks run: can a report be written at path? 0, or nonzero with a message. */
int mw_layer_report_check_path(const char *path, int force, char *msg, size_t msg_len);
int mw_layer_report_write(const char *path, const mw_layer_check_result *res, int force,
                          const char *version, const char *command_line, char *msg,
                          size_t msg_len);
int mw_layer_report_load(const char *path, mw_layer_check_result *res, char *msg,
                         size_t msg_len);

#endif
