/* A dataset in words, for lvit info (image datasets: docs/formats.md, "Image datasets"). */
#ifndef LVIT_DATASET_DESCRIBE_H
#define LVIT_DATASET_DESCRIBE_H
#include <stdio.h>
#include "data/dataset.h"

/* Image datasets: images, bands (the first 20 unless all), split, labels and classes; others: nothing. */
void dataset_describe(const Dataset *ds, FILE *out, int all);

#endif
