/* A class map written as a one-band GeoTIFF (lvit predict of a segmentation run, tasks/segment_eval.c
 * through TaskOptions.write_raster). */
#ifndef LVIT_CLASS_RASTER_H
#define LVIT_CLASS_RASTER_H
#include <stddef.h>
#include <stdint.h>

/* vals [H*W] as a GeoTIFF at path (Byte when every value fits 0..255, else Int32), with geo [6] (GDAL's
 * geotransform) and the CRS wkt when not NULL; written to a temporary name and renamed. 0, or -1
 * with err naming the file. */
int write_class_raster(const char *path, const int32_t *vals, int H, int W, const double *geo, const char *wkt, char *err,
                       size_t errlen);

#endif
