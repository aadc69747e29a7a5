/* What dataset_open (data/dataset_file.c) checks in the cells of an lvit dataset file: a cell
 * marked valid must hold a number training can use, and every variable needs valid cells, or
 * the loss is NaN or 0 without a word. */
#ifndef LVIT_DATASET_CHECK_H
#define LVIT_DATASET_CHECK_H
#include <stddef.h>
#include "data/dataset.h"

/* One pass over data and valid (a read of the whole file: its cost is in docs/formats.md):
 * 0, or -1 with err naming the file, the variable, the time, row and column of the first valid
 * cell that is not finite or beyond +-1e30, or the variable without any valid cell. */
int dataset_check_cells(const Dataset *ds, const char *path, char *err, size_t errlen);

#endif
