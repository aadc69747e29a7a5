/* lvit convert's dispatch: climate inputs (netCDF, Zarr, GRIB) to data/convert.c, image inputs
 * (GeoTIFF and other GDAL rasters, .mat cubes, JPEG/PNG folders, BigEarthNet) to imagery/. */
#ifndef LVIT_CONVERT_ANY_H
#define LVIT_CONVERT_ANY_H
#include <stddef.h>
#include "data/convert.h"
#include "imagery/imagery.h"

/* image_flag: the first image-only flag the user gave (for the message when the inputs are
 * climate files), NULL when none. 0, or -1 with err naming the file or flag. */
int convert_any(const char *out, int ninputs, const char *const *inputs, const ConvertOptions *grid,
                const ImageOptions *image, const char *image_flag, char *err, size_t errlen);

#endif
