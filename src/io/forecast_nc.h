/* A forecast as a CF-1.8 netCDF file (xarray, Panoply and ncview open it). */
#ifndef LVIT_FORECAST_NC_H
#define LVIT_FORECAST_NC_H
#include <stddef.h>
#include "data/dataset.h"

/* fc: [V,H,W] physical units on the dataset grid; ok: [V,H,W] 1 where the value is meaningful
 * (others are written as _FillValue) or NULL. init_hours / valid_hours since 1970-01-01.
 * Written to a temporary name and renamed. 0 or -1 with err naming the path. */
int forecast_write_nc(const char *path, const Dataset *ds, const float *fc, const unsigned char *ok, double init_hours,
                      double valid_hours, char *err, size_t errlen);

#endif
