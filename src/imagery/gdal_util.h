/* GDAL helpers shared by the GeoTIFF and BigEarthNet readers (imagery/read_gdal.c). */
#ifndef LVIT_GDAL_UTIL_H
#define LVIT_GDAL_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <gdal.h>
#include "imagery/imagery.h"

void gdal_start(void);   /* registers the drivers once; GDAL's messages go into lvit's, not to stderr */
GDALDatasetH gdal_open(const char *path, char *err, size_t errlen);
/* Band b (1-based) into out [bh*bw] float32, resampled with alg when that is not its size; its
 * nodata value, NaN and o->nodata clear ok. */
int gdal_read_band(GDALDatasetH d, const char *path, int b, int bh, int bw, GDALRIOResampleAlg alg, float *out,
                   uint8_t *ok, const ImageOptions *o, double *nodata, int *has_nodata, char *err, size_t errlen);
void gdal_georef(ImageSet *s, int i, GDALDatasetH d);   /* geotransform and CRS of image i */

#endif
