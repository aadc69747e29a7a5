/* Reading an lvit dataset file (docs/formats.md, "Dataset"; written by data/convert.c) into a
 * Dataset whose arrays stay in the memory map. */
#ifndef LVIT_DATASET_FILE_H
#define LVIT_DATASET_FILE_H
#include <stddef.h>
#include "data/dataset.h"

/* Opens a dataset file (memory-mapped; checks every array's shape and dtype). 0, or -1 with err
 * naming the file and what is wrong. */
int dataset_open(Dataset *ds, const char *path, char *err, size_t errlen);

#endif
