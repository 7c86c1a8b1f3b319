/* Helpers shared by the datasets/ sources, not part of its interface (datasets.h). */
#ifndef MW_DATA_PRIVATE_H
#define MW_DATA_PRIVATE_H

#include <stddef.h>

#include "datasets.h"

/* Write the message to err (when not NULL) and return code. */
int mw_data_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Allocate d for n samples of (C, H, W), zeroed values; checks the sizes. On failure d
 * is zeroed and err says "<name>: ...". */
int mw_data_alloc(mw_dataset *d, const char *name, size_t n, int C, int H, int W, int classes,
                  char *err, size_t errlen);

#endif
