/* Helpers shared by the datasets/ sources, not part of its interface (datasets.h). */
#ifndef MW_DATA_PRIVATE_H
#define MW_DATA_PRIVATE_H

#include <stddef.h>

#include "datasets.h"

/* Allocate d for n samples of (C, H, W), zeroed values; checks the sizes. On failure d
 * is zeroed and err says "<name>: ...". */
mw_status mw_data_alloc(mw_dataset *d, const char *name, size_t n, int C, int H, int W,
                        int classes, mw_err *err);

#endif
