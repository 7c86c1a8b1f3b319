/* A gradient dump (`mwverify grad --out FILE.h5`): everything needed to recompute one
 * gradient elsewhere — the network, the batch, every parameter tensor, each method's
 * gradient and the oracle's — in an HDF5 file that h5dump and h5py read without
 * mwverify. The layout is documented in reports/SCHEMA.md; mw_report_load reads a dump
 * back as a report of one network (tensors aside). */
#ifndef MW_DUMP_H
#define MW_DUMP_H

#include <stddef.h>

#include "h5util.h"
#include "report.h"

#define MW_DUMP_FORMAT "mwverify-grad-dump"
#define MW_DUMP_VERSION 3

typedef struct mw_dump {
    const mw_spec *spec;
    const mw_layout *lay;
    const char *command_line;
    mw_dtype dtype;            /* of the methods */
    const double *theta, *x;
    const int *labels;
    const mw_oracle_info *oracle;
    const double *oracle_hi, *oracle_lo; /* lo NULL for silver */
    size_t n_runs;
    const mw_report_run *runs; /* one per method asked: its status and its one step */
    const double *const *grads;/* each run's gradient (P values), NULL when it made none */
} mw_dump;

/* Before any work: the directory of path must exist and be writable, and path must not
 * exist unless force. MW_ERR_ARG with a one-line message naming the file. */
mw_status mw_dump_check_path(const char *path, int force, mw_err *err);

/* Write the dump to path (through a temporary file renamed into place, so a file that
 * existed is replaced whole or not at all). MW_OK, or MW_ERR_IO with a message. */
mw_status mw_dump_write(const char *path, const mw_dump *d, mw_err *err);

/* Read an open dump into r as a report of one network (index 0) and its runs. */
void mw_dump_read(h5u *w, hid_t file, mw_report *r);

#endif
