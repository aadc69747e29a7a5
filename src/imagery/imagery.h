/* Image inputs for lvit convert: GeoTIFF and other GDAL rasters, MATLAB cubes (libmatio), folders
 * of JPEG/PNG images (libjpeg, libpng) with a labels CSV or one folder per class, and the
 * BigEarthNet layout. The readers fill one ImageSet; image_write.c turns it into an image dataset
 * (docs/formats.md, "Image datasets"), which data/dataset_file.c opens without these libraries. */
#ifndef LVIT_IMAGERY_H
#define LVIT_IMAGERY_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"

typedef struct ImageOptions {
    const char *var;         /* --var: the .mat variable holding the cube (default: the only 3-D numeric one) */
    const char *labels;      /* --labels: label raster (.mat or GDAL) or labels CSV */
    const char *label_var;   /* --label-var: the .mat variable of the label raster */
    const char *drop_bands;  /* --drop-bands: 1-based band numbers and ranges, "108-112,154-167,224" */
    const char *classes;     /* --classes: names (comma list, or a file with one per line); maps: VALUE=NAME,... */
    const char *csv_columns; /* --csv-columns: header names of the file column and the label column(s) */
    const char *resample;    /* --resample: nearest, bilinear (default) or cubic (BigEarthNet bands) */
    double unlabelled;       /* --unlabelled: label-raster value meaning "no label" (default 0) */
    int multi_label;         /* --multi-label: CSV labels are a multi-hot vector even with one label per row */
    double nodata;           /* --nodata: value meaning "no data" in every band (besides the files' own) */
    int nodata_set;
    double train_frac, val_frac; /* the images' split (stratified by class for one class per image) */
    uint64_t seed;           /* the split's shuffle */
} ImageOptions;

typedef struct ImageBand {
    char name[LVIT_VAR_NAME];  /* lvit name: lower case, [a-z0-9_] */
    char long_name[128];       /* as the file describes it */
    char units[32];
    char source[256];          /* the file's base name */
    int number;                /* 1-based band number in the source (what --drop-bands counts) */
    int has_nodata;
    double nodata;
    double resolution;         /* native pixel size in CRS units (0: unknown) */
} ImageBand;

typedef struct ImageInfo {
    char name[128];            /* file stem or patch name */
    char source[512];          /* the file or folder it came from */
    int has_geo;
    double geo[6];             /* GDAL geotransform: x0, dx, rx, y0, ry, dy */
    int crs;                   /* index into ImageSet.crs, -1: none */
    char date[32];             /* acquisition date when the input says it ("" otherwise) */
} ImageInfo;

typedef struct ImageSet {
    int N, V, H, W, cap;
    float *data;               /* [N,V,H,W] physical values, 0 where not valid */
    uint8_t *valid;            /* [N,V,H,W] */
    ImageBand *bands;          /* [V] */
    ImageInfo *images;         /* [N] */
    int ncrs;
    char **crs;                /* [ncrs] WKT, each once */
    int label_kind, C;         /* LABELS_* (data/dataset.h) */
    char (*classes)[LVIT_CLASS_NAME]; /* [C] */
    double *class_values;      /* [C] label-raster value of each class (maps), else the class index */
    int32_t *label;            /* [N] */
    uint8_t *multi;            /* [N,C] */
    int32_t *label_map;        /* [N,H,W] */
    char label_source[512];
} ImageSet;

void image_set_free(ImageSet *s);
/* Room for one more image of V bands, H x W, from src (error when the set's images are another
 * size: the message names both files). Returns its index, or -1. */
int image_set_add(ImageSet *s, int V, int H, int W, const char *name, const char *src, char *err, size_t errlen);
float *image_set_data(ImageSet *s, int i);    /* [V,H,W] of image i */
uint8_t *image_set_valid(ImageSet *s, int i);
int image_set_crs(ImageSet *s, const char *wkt); /* index of wkt in the set's list, added when new */
void image_band_name(ImageBand *b, const char *desc, int number); /* name from a description */
/* Removes bands by 1-based number ("104-108,150-163,220"); error naming the flag and the band. */
int image_set_drop_bands(ImageSet *s, const char *spec, char *err, size_t errlen);
/* Class list from --classes (comma list or file) into names; count or -1. */
int image_parse_classes(const char *spec, char (**names)[LVIT_CLASS_NAME], char *err, size_t errlen);
const char *image_base_name(const char *path);

/* Readers (0, or -1 with err naming the user's file) */
int read_gdal_image(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen);
/* A single-band raster (GDAL or .mat) as doubles [H*W], with a validity mask and its geotransform
 * (*has_geo 0 for a .mat file or a raster without one). */
int read_label_raster(const char *path, const char *var, int *H, int *W, double **vals, uint8_t **ok, double geo[6],
                      int *has_geo, char *err, size_t errlen);
int read_mat_image(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen);
int read_mat_raster(const char *path, const char *var, int *H, int *W, double **vals, char *err, size_t errlen);
int read_photo(const char *path, int *V, int *H, int *W, float **pix, uint8_t **ok, char *err, size_t errlen);
int read_photo_folder(ImageSet *s, const char *dir, const ImageOptions *o, char *err, size_t errlen);
int read_bigearthnet(ImageSet *s, const char *dir, const ImageOptions *o, char *err, size_t errlen);
int is_bigearthnet(const char *dir);

/* Label rasters: values -> class indices (LABELS_MAP), after the images are read. */
int image_set_label_map(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen);
/* Writes the image dataset (statistics over the training images, split, labels, metadata). */
int image_set_write(ImageSet *s, const char *out, int ninputs, const char *const *inputs, const ImageOptions *o,
                    char *err, size_t errlen);

#endif
