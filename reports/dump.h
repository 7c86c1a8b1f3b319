/* A gradient dump (`mwverify grad --dump FILE.h5`): everything needed to recompute one
 * gradient elsewhere — the network, the batch, every parameter tensor, each method's
 * gradient and the oracle's — in an HDF5 file that h5dump and h5py read without
 * mwverify. The layout is documented in reports/SCHEMA.md. */
#ifndef MW_DUMP_H
#define MW_DUMP_H

#include <stddef.h>

#include "mw_spec.h"

#define MW_DUMP_FORMAT "mwverify-grad-dump"
#define MW_DUMP_VERSION 1

typedef struct mw_dump_method {
    const char *name;
    const char *status;   /* ok, skipped, nonfinite, failed */
    const char *message;  /* NULL when none */
    const double *grad;   /* NULL when the method produced none */
    double rel_l2, max_abs, max_ulp, cosine, seconds, closure_err;
    long long peak_bytes; /* -1 when not measured */
} mw_dump_method;

typedef struct mw_dump {
    const mw_spec *spec;
    const mw_layout *lay;
    const char *version;       /* mwverify's */
    const char *command_line;
    const char *dtype;         /* of the methods */
    const double *theta, *x;
    const int *labels;
    const char *oracle;        /* gold or silver */
    const double *oracle_hi, *oracle_lo; /* lo NULL for silver */
    double oracle_loss;
    long oracle_bits, oracle_check_bits;  /* gold only, else 0 */
    double certified_bits, fd_agree_bits; /* gold only, else NaN */
    int n_methods;
    const mw_dump_method *methods;
} mw_dump;

/* Before any work: the directory of path must exist and be writable, and path must not
 * exist unless force. 0, or nonzero with a one-line message naming the file. */
int mw_dump_check_path(const char *path, int force, char *msg, size_t msg_len);

/* Write the dump to path (through a temporary file renamed into place, so a file that
 * existed is replaced whole or not at all). 0, or nonzero with a message. */
int mw_dump_write(const char *path, const mw_dump *d, char *msg, size_t msg_len);

#endif
