/* GeoTIFF and every raster GDAL reads: all bands as float32, the nodata value of each band as a
 * mask, the geotransform and the CRS (WKT) kept as metadata; and single-band label rasters. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <gdal.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include "core/check.h"
#include "imagery/gdal_util.h"
#include "imagery/imagery.h"

void gdal_start(void) {
    static int done;
    if (!done) GDALAllRegister();
    done = 1;
    /* GDAL's own messages are folded into lvit's (which name the user's file), not printed */
    CPLSetErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
}

/* GDAL reads the missing part of a cut ENVI raster as zeros without a word (GeoTIFF and .mat
 * files fail by themselves): the header's bands x lines x samples values after its offset must
 * be in the data file. */
static int envi_size_ok(GDALDatasetH d, const char *path, char *err, size_t errlen) {
    GDALDriverH drv = GDALGetDatasetDriver(d);
    char **files = GDALGetFileList(d);
    if (!drv || strcmp(GDALGetDriverShortName(drv), "ENVI") || !files || !files[0] || GDALGetRasterCount(d) < 1) {
        CSLDestroy(files);
        return 1;
    }
    const char *off = GDALGetMetadataItem(d, "header_offset", "ENVI");
    GDALDataType t = GDALGetRasterDataType(GDALGetRasterBand(d, 1));
    uint64_t want = (uint64_t)GDALGetRasterCount(d) * (uint64_t)GDALGetRasterYSize(d) *
                    (uint64_t)GDALGetRasterXSize(d) * (uint64_t)GDALGetDataTypeSizeBytes(t);
    uint64_t start = off ? strtoull(off, NULL, 10) : 0;
    struct stat st;
    int ok = stat(files[0], &st) != 0 || (uint64_t)st.st_size >= start + want;
    const char *hdr = "";
    for (int k = 1; files[k]; k++)
        if (strlen(files[k]) > 4 && !strcasecmp(files[k] + strlen(files[k]) - 4, ".hdr")) hdr = image_base_name(files[k]);
    if (!ok)
        snprintf(err, errlen, "%s: truncated: its ENVI header %s describes %d bands of %dx%d %s values (%" PRIu64 " bytes "
                 "from byte %" PRIu64 "), but %s has %" PRIu64 " bytes", path, hdr, GDALGetRasterCount(d),
                 GDALGetRasterYSize(d), GDALGetRasterXSize(d), GDALGetDataTypeName(t), want, start,
                 image_base_name(files[0]), (uint64_t)st.st_size);
    CSLDestroy(files);
    return ok;
}

GDALDatasetH gdal_open(const char *path, char *err, size_t errlen) {
    gdal_start();
    GDALDatasetH d = GDALOpen(path, GA_ReadOnly);
    if (!d) {
        const char *m = CPLGetLastErrorMsg();
        snprintf(err, errlen, "%s: not a file lvit reads (netCDF, Zarr, GRIB, MATLAB, or a raster GDAL opens)%s%s", path,
                 m && *m ? ": " : "", m ? m : "");
    } else if (!envi_size_ok(d, path, err, errlen)) {
        GDALClose(d);
        d = NULL;
    }
    return d;
}

/* Reads band b (1-based) of d into out [bh*bw] as float, resampled when bh x bw is not the band's
 * size. Its nodata value (and NaN) clear ok. */
int gdal_read_band(GDALDatasetH d, const char *path, int b, int bh, int bw, GDALRIOResampleAlg alg, float *out,
                   uint8_t *ok, const ImageOptions *o, double *nodata, int *has_nodata, char *err, size_t errlen) {
    GDALRasterBandH band = GDALGetRasterBand(d, b);
    GDALRasterIOExtraArg ex;
    INIT_RASTERIO_EXTRA_ARG(ex);
    ex.eResampleAlg = alg;
    CPLErrorReset();
    if (!band || GDALRasterIOEx(band, GF_Read, 0, 0, GDALGetRasterXSize(d), GDALGetRasterYSize(d), out, bw, bh,
                                GDT_Float32, 0, 0, &ex) != CE_None) {
        const char *m = CPLGetLastErrorMsg();
        snprintf(err, errlen, "%s: cannot read band %d: %s (a truncated or damaged file?)", path, b,
                 m && *m ? m : "GDAL gave no reason");
        return -1;
    }
    int hn = 0;
    double nd = GDALGetRasterNoDataValue(band, &hn);
    if (has_nodata) *has_nodata = hn;
    if (nodata) *nodata = nd;
    const size_t n = (size_t)bh * bw;
    for (size_t k = 0; k < n; k++) {
        float x = out[k];
        int good = isfinite(x) && !(hn && (x == (float)nd || (isnan(nd) && isnan(x)))) &&
                   !(o && o->nodata_set && x == (float)o->nodata);
        ok[k] = (uint8_t)good;
        if (!good) out[k] = 0.0f;
    }
    return 0;
}

void gdal_georef(ImageSet *s, int i, GDALDatasetH d) {
    ImageInfo *im = &s->images[i];
    im->has_geo = GDALGetGeoTransform(d, im->geo) == CE_None;
    const char *wkt = GDALGetProjectionRef(d);
    im->crs = wkt && *wkt ? image_set_crs(s, wkt) : -1;
}

static void stem(char *dst, size_t n, const char *path) {
    snprintf(dst, n, "%s", image_base_name(path));
    char *dot = strrchr(dst, '.');
    if (dot && dot != dst) *dot = 0;
}

int read_gdal_image(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen) {
    GDALDatasetH d = gdal_open(path, err, errlen);
    if (!d) return -1;
    int V = GDALGetRasterCount(d), H = GDALGetRasterYSize(d), W = GDALGetRasterXSize(d), rc = -1;
    char name[128];
    stem(name, sizeof name, path);
    if (V < 1) {
        snprintf(err, errlen, "%s: GDAL finds no raster bands in it", path);
        goto done;
    }
    int first = s->N == 0;
    int i = image_set_add(s, V, H, W, name, path, err, errlen);
    if (i < 0) goto done;
    for (int b = 1; b <= V; b++) {
        ImageBand bd = {0};
        float *dst = image_set_data(s, i) + (size_t)(b - 1) * H * W;
        uint8_t *ok = image_set_valid(s, i) + (size_t)(b - 1) * H * W;
        if (gdal_read_band(d, path, b, H, W, GRIORA_NearestNeighbour, dst, ok, o, &bd.nodata, &bd.has_nodata, err, errlen))
            goto done;
        /* a band's description, else the dataset's Band_<b> item (the .aux.xml of the Landsat tutorial stacks) */
        const char *desc = GDALGetDescription(GDALGetRasterBand(d, b));
        char key[32];
        snprintf(key, sizeof key, "Band_%d", b);
        if (!desc || !*desc) desc = GDALGetMetadataItem(d, key, NULL);
        char fallback[32];
        snprintf(fallback, sizeof fallback, "band_%03d", b);
        image_band_name(&bd, desc && *desc ? desc : fallback, b);
        const char *u = GDALGetRasterUnitType(GDALGetRasterBand(d, b));
        snprintf(bd.units, sizeof bd.units, "%s", u ? u : "");
        snprintf(bd.source, sizeof bd.source, "%s", image_base_name(path));
        double gt[6];
        if (GDALGetGeoTransform(d, gt) == CE_None) bd.resolution = fabs(gt[1]);
        if (first) {
            s->bands[b - 1] = bd;
        } else if (strcmp(s->bands[b - 1].name, bd.name)) {
            snprintf(err, errlen, "%s: band %d is '%s' but in %s it is '%s': the images of a dataset must have the "
                     "same bands in the same order", path, b, bd.long_name, s->images[0].source, s->bands[b - 1].long_name);
            goto done;
        }
    }
    gdal_georef(s, i, d);
    rc = 0;
done:
    GDALClose(d);
    return rc;
}

static int is_mat(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[8] = {0};
    size_t n = fread(buf, 1, 6, f);
    fclose(f);
    return n == 6 && memcmp(buf, "MATLAB", 6) == 0;
}

int read_label_raster(const char *path, const char *var, int *H, int *W, double **vals, uint8_t **ok, double geo[6],
                      int *has_geo, char *err, size_t errlen) {
    *vals = NULL;
    *ok = NULL;
    *has_geo = 0;
    if (is_mat(path)) {
        if (read_mat_raster(path, var, H, W, vals, err, errlen)) return -1;
        size_t n = (size_t)*H * *W;
        *ok = xmalloc(n);
        for (size_t k = 0; k < n; k++) (*ok)[k] = isfinite((*vals)[k]) != 0;
        return 0;
    }
    if (var) {
        snprintf(err, errlen, "%s is not a MATLAB file, so it has no variable '%s' (a variable is named only for .mat files)",
                 path, var);
        return -1;
    }
    GDALDatasetH d = gdal_open(path, err, errlen);
    if (!d) return -1;
    int rc = -1;
    *H = GDALGetRasterYSize(d);
    *W = GDALGetRasterXSize(d);
    *has_geo = GDALGetGeoTransform(d, geo) == CE_None;
    if (GDALGetRasterCount(d) != 1) {
        snprintf(err, errlen, "%s: a label raster has one band; this one has %d", path, GDALGetRasterCount(d));
        goto done;
    }
    size_t n = (size_t)*H * *W;
    float *f = xmalloc(sizeof(float) * n);
    *ok = xmalloc(n);
    if (gdal_read_band(d, path, 1, *H, *W, GRIORA_NearestNeighbour, f, *ok, NULL, NULL, NULL, err, errlen)) {
        free(f);
        free(*ok);
        *ok = NULL;
        goto done;
    }
    *vals = xmalloc(sizeof(double) * n);
    for (size_t k = 0; k < n; k++) (*vals)[k] = f[k];
    free(f);
    rc = 0;
done:
    GDALClose(d);
    return rc;
}
