/* Which reader an input goes to, decided from its content (and, for folders, their files). */
#include "imagery/convert_any.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/check.h"

enum { IN_GRID, IN_MAT, IN_GDAL, IN_FOLDER, IN_BEN };
static const char *const KIND_NAME[] = {"a netCDF/Zarr/GRIB file", "a MATLAB file", "a GDAL raster",
                                        "a folder of JPEG/PNG images", "a BigEarthNet folder"};

static int exists_in(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0;
}

/* names that say netCDF, Zarr or GRIB: those go to data/convert.c whatever their bytes, so that a
 * damaged one gets its reader's diagnosis rather than GDAL's "not recognized" */
static int climate_name(const char *path) {
    static const char *const ext[] = {".nc", ".nc3", ".nc4", ".cdf", ".netcdf", ".grib", ".grib1", ".grib2", ".grb",
                                      ".grb2", ".zarr"};
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    for (size_t k = 0; k < sizeof ext / sizeof *ext; k++) {
        size_t e = strlen(ext[k]);
        if (n > e && strncasecmp(path + n - e, ext[k], e) == 0) return 1;
    }
    return 0;
}

static int input_kind(const char *path) {
    struct stat st;
    if (stat(path, &st) || climate_name(path)) return IN_GRID; /* convert_files reads or reports it */
    if (S_ISDIR(st.st_mode)) {
        if (exists_in(path, ".zgroup") || exists_in(path, ".zarray") || exists_in(path, "zarr.json") ||
            exists_in(path, ".zmetadata") || exists_in(path, ".zattrs"))
            return IN_GRID;
        return is_bigearthnet(path) ? IN_BEN : IN_FOLDER;
    }
    /* named as a grid file: its reader says what is wrong with it (a text file named .grib is
       "not a GRIB file", not an unknown raster) */
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/') &&
        (!strcasecmp(dot, ".grib") || !strcasecmp(dot, ".grb") || !strcasecmp(dot, ".grib2") ||
         !strcasecmp(dot, ".grb2") || !strcasecmp(dot, ".nc") || !strcasecmp(dot, ".nc4") || !strcasecmp(dot, ".cdf")))
        return IN_GRID;
    unsigned char b[4096];
    FILE *f = fopen(path, "rb");
    if (!f) return IN_GRID;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    if (n >= 6 && memcmp(b, "MATLAB", 6) == 0) return IN_MAT;
    if (n >= 4 && (memcmp(b, "CDF\001", 4) == 0 || memcmp(b, "CDF\002", 4) == 0 || memcmp(b, "CDF\005", 4) == 0 ||
                   memcmp(b, "\211HDF", 4) == 0))
        return IN_GRID;
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(b + i, "GRIB", 4) == 0) return IN_GRID;
    return IN_GDAL;
}

static int is_csv(const char *p) {
    const char *dot = strrchr(p, '.');
    return dot && strcasecmp(dot, ".csv") == 0;
}

int convert_any(const char *out, int ninputs, const char *const *inputs, const ConvertOptions *grid,
                const ImageOptions *o, const char *image_flag, char *err, size_t errlen) {
    if (ninputs < 1) {
        snprintf(err, errlen, "no input files");
        return -1;
    }
    for (int i = 0; i < ninputs; i++) { /* before any kind is named: a missing file has none */
        struct stat st;
        if (stat(inputs[i], &st)) {
            snprintf(err, errlen, "%s: %s", inputs[i], strerror(errno));
            return -1;
        }
    }
    int k0 = input_kind(inputs[0]);
    for (int i = 1; i < ninputs; i++) {
        int k = input_kind(inputs[i]);
        if ((k == IN_GRID) != (k0 == IN_GRID) || k == IN_FOLDER || k == IN_BEN || k0 == IN_FOLDER || k0 == IN_BEN) {
            snprintf(err, errlen, "%s is %s but %s is %s: give climate files together, several GDAL rasters or .mat "
                     "cubes of one size together, or one image folder", inputs[i], KIND_NAME[k], inputs[0], KIND_NAME[k0]);
            return -1;
        }
    }
    if (k0 == IN_GRID) {
        if (image_flag) {
            snprintf(err, errlen, "%s applies to image inputs (GeoTIFF, .mat, image folders, BigEarthNet); %s is %s",
                     image_flag, inputs[0], KIND_NAME[k0]);
            return -1;
        }
        return convert_files(out, ninputs, inputs, grid, err, errlen);
    }
    if (grid->filter.nvars || grid->filter.nlevels || grid->nrename) {
        snprintf(err, errlen, "--vars, --levels and --rename apply to netCDF/Zarr/GRIB inputs; %s is %s (choose bands "
                 "with --drop-bands, a .mat variable with --var)", inputs[0], KIND_NAME[k0]);
        return -1;
    }
    if (!(o->train_frac > 0) || o->val_frac < 0 || o->train_frac + o->val_frac > 1.0) {
        snprintf(err, errlen, "--split %g,%g: the training and validation fractions must be positive and sum to at most 1",
                 o->train_frac, o->val_frac);
        return -1;
    }
    if (o->var && k0 != IN_MAT) {
        snprintf(err, errlen, "--var %s names a MATLAB variable, but %s is %s", o->var, inputs[0], KIND_NAME[k0]);
        return -1;
    }
    if (o->labels && k0 == IN_BEN) {
        snprintf(err, errlen, "--labels: %s is a BigEarthNet folder, whose labels come from each patch's JSON", inputs[0]);
        return -1;
    }
    if (o->labels && (k0 == IN_FOLDER) != is_csv(o->labels)) {
        snprintf(err, errlen, "--labels %s: %s", o->labels, k0 == IN_FOLDER ? "an image folder's labels are a CSV file "
                 "(file,label[,label...])" : "a raster's labels are a label raster (.mat or GeoTIFF), not a CSV");
        return -1;
    }
    ImageSet s = {0};
    int rc = -1;
    for (int i = 0; i < ninputs; i++) {
        int r = k0 == IN_BEN      ? read_bigearthnet(&s, inputs[i], o, err, errlen)
              : k0 == IN_FOLDER   ? read_photo_folder(&s, inputs[i], o, err, errlen)
              : input_kind(inputs[i]) == IN_MAT ? read_mat_image(&s, inputs[i], o, err, errlen)
                                  : read_gdal_image(&s, inputs[i], o, err, errlen);
        if (r) goto done;
    }
    if (o->labels && k0 != IN_FOLDER && image_set_label_map(&s, o->labels, o, err, errlen)) goto done;
    if (o->drop_bands && image_set_drop_bands(&s, o->drop_bands, err, errlen)) goto done;
    rc = image_set_write(&s, out, ninputs, inputs, o, err, errlen);
done:
    image_set_free(&s);
    return rc;
}
