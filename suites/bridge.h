/* A layer served by another process over the layer protocol (docs/layer-protocol.md):
 * `--layer-cmd "COMMAND"`. The command's layers become a plugin's table (mw_plugin.h),
 * without MPFR passes, so they are checked on the silver path; plugin.c loads this table
 * where it would dlopen a shared object. */
#ifndef MW_BRIDGE_H
#define MW_BRIDGE_H

#include <stddef.h>

#include "mwverify/mw_plugin.h"
#include "plugin.h"

#define MW_BRIDGE_PROTOCOL 1
enum { MW_BRIDGE_MAX_LAYERS = 8 };

/* Start COMMAND (through /bin/sh -c) in this process's name, say hello and make the table
 * of the layers it serves; NULL with one line in why when it cannot. */
const mwp_plugin *mw_bridge_table(const char *cmd, char *why, size_t n);

#endif
