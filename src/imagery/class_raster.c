/* The class map as GeoTIFF through GDAL's GTiff driver (imagery/class_raster.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <gdal.h>
#include <cpl_error.h>
#include "imagery/class_raster.h"
#include "imagery/gdal_util.h"

int write_class_raster(const char *path, const int32_t *vals, int H, int W, const double *geo, const char *wkt, char *err,
                       size_t errlen) {
    gdal_start();
    GDALDriverH drv = GDALGetDriverByName("GTiff");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.tif", path, (int)getpid());
    int byte = 1;
    for (int64_t k = 0; k < (int64_t)H * W; k++) byte &= vals[k] >= 0 && vals[k] <= 255;
    CPLErrorReset();
    GDALDatasetH d = drv ? GDALCreate(drv, tmp, W, H, 1, byte ? GDT_Byte : GDT_Int32, NULL) : NULL;
    int bad = !d;
    if (d) {
        if (geo && GDALSetGeoTransform(d, (double *)geo) != CE_None) bad = 1;
        if (wkt && *wkt && GDALSetProjection(d, wkt) != CE_None) bad = 1;
        GDALRasterBandH b = GDALGetRasterBand(d, 1);
        if (!bad && GDALRasterIO(b, GF_Write, 0, 0, W, H, (void *)vals, W, H, GDT_Int32, 0, 0) != CE_None) bad = 1;
        GDALSetDescription(b, "class");
        GDALClose(d); /* (void in GDAL 3.6: a failed flush shows as an error message) */
        if (CPLGetLastErrorType() >= CE_Failure) bad = 1;
    }
    if (!bad && rename(tmp, path) != 0) bad = 1;
    if (!d) { /* (GDAL's own message names the temporary file) */
        snprintf(err, errlen, "cannot create %s (GeoTIFF): is its folder there and writable?", path);
        return -1;
    }
    if (bad) {
        const char *m = CPLGetLastErrorMsg();
        snprintf(err, errlen, "cannot write %s (GeoTIFF)%s%s", path, m && *m ? ": " : "", m ? m : "");
        unlink(tmp);
        return -1;
    }
    return 0;
}
