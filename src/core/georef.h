/* Whether two rasters of the same size cover the same ground: their GDAL geotransforms
 * (x0, dx, rx, y0, ry, dy; upper-left corner and pixel steps in CRS units) agree. A label raster
 * with the image's size but shifted by some pixels would otherwise label the wrong pixels. */
#ifndef LVIT_GEOREF_H
#define LVIT_GEOREF_H
#include <stddef.h>

/* 1 when the corners differ by under half a pixel and the pixel steps by under 0.1%; otherwise 0
 * with why: both corners and pixel sizes. */
int georef_same_grid(const double a[6], const double b[6], char *why, size_t n);

#endif
