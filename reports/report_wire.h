/* A report as bytes, from the process that read it to the one that uses it.
 *
 * mw_report_load reads a file in a child process (h5util.h, h5u_read_isolated), so that a
 * damaged file can crash, hang or corrupt only that child's libhdf5; the child packs the
 * report it read and this process unpacks it. The same program packs and unpacks, so the
 * structures' layouts agree, and the bytes are the structures themselves, each padded to
 * 8 bytes:
 *
 *   meta, n networks, {network, its reference steps, its reference epochs},
 *   n runs, {run, its steps, its layer_rel_l2, its epochs}, {n rows, rows} per table
 *
 * Nothing in them is trusted: every count is bounded by the bytes that remain, every
 * record passes its field table (mw_record_sane: strings ended, enums named, integers in
 * range, the record's own check), run and network indices are unique and each run's
 * network is present, and the pointers the structures carry are the child's and are
 * never followed. */
#ifndef MW_REPORT_WIRE_H
#define MW_REPORT_WIRE_H

#include <stddef.h>

#include "report.h"

/* The report as n bytes (malloc'd, the caller frees): MW_OK or MW_ERR_NOMEM. */
mw_status mw_report_pack(const mw_report *r, void **bytes, size_t *n);
/* The report in bytes (from mw_report_pack, or anything else) into r, which is then
 * the caller's to free (also on failure). MW_OK, or MW_ERR_FORMAT (MW_ERR_NOMEM) with
 * what was wrong; the caller names the file. */
mw_status mw_report_unpack(mw_report *r, const void *bytes, size_t n, mw_err *err);

#endif
