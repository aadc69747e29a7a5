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

/* What the file also says about the model: the grid it computed on (Hp x Wp, the data grid
 * padded after its last row and column; 0: not said) and the checkpoint (NULL: not said), as
 * global attributes (docs/formats.md). */
typedef struct ForecastNcInfo {
    int Hp, Wp;
    const char *checkpoint;
} ForecastNcInfo;
int forecast_write_nc_info(const char *path, const Dataset *ds, const float *fc, const unsigned char *ok,
                           double init_hours, double valid_hours, const ForecastNcInfo *info, char *err, size_t errlen);

#endif
