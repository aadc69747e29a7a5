/* lvit datasets from real files: the assembler that turns the readers' VarSeries into one
 * dataset on one grid and one time axis, and writing it as a dataset file (docs/formats.md;
 * data/dataset_file.h reads it). */
#ifndef LVIT_CONVERT_H
#define LVIT_CONVERT_H
#include <stddef.h>
#include "data/series.h"

typedef struct ConvertOptions {
    ReadFilter filter;
    int nrename;
    const char *const *rename; /* "FILE:VAR=NAME" or "VAR=NAME" (FILE: basename of the input) */
    double train_frac, val_frac; /* split by time; test is the rest */
} ConvertOptions;

/* Reads every input (netCDF, NCZarr/Zarr directory, GRIB: detected from the content), merges
 * series, checks grids and times, and writes the dataset to out_path (temporary name, then
 * rename). Prints what it did (names made unique, times dropped) through log_info.
 * 0 on success; -1 with err naming the file, variable and problem. */
int convert_files(const char *out_path, int ninputs, const char *const *inputs, const ConvertOptions *o,
                  char *err, size_t errlen);

#endif
