/* MATLAB v5 and v7.3 files through libmatio: hyperspectral cubes (rows x cols x bands, the way
 * the EHU scenes and most hyperspectral .mat files store them) and 2-D label maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <matio.h>
#include "core/check.h"
#include "imagery/imagery.h"

static int numeric(const matvar_t *v) {
    return v->class_type >= MAT_C_DOUBLE && v->class_type <= MAT_C_UINT64 && !v->isComplex;
}

/* Element k of v's data as double. */
static double elem(const matvar_t *v, size_t k) {
    switch (v->data_type) {
    case MAT_T_DOUBLE: return ((const double *)v->data)[k];
    case MAT_T_SINGLE: return ((const float *)v->data)[k];
    case MAT_T_INT8: return ((const int8_t *)v->data)[k];
    case MAT_T_UINT8: return ((const uint8_t *)v->data)[k];
    case MAT_T_INT16: return ((const int16_t *)v->data)[k];
    case MAT_T_UINT16: return ((const uint16_t *)v->data)[k];
    case MAT_T_INT32: return ((const int32_t *)v->data)[k];
    case MAT_T_UINT32: return ((const uint32_t *)v->data)[k];
    case MAT_T_INT64: return (double)((const int64_t *)v->data)[k];
    case MAT_T_UINT64: return (double)((const uint64_t *)v->data)[k];
    default: return NAN;
    }
}

/* "name (83x86x224 int16), ..." of every variable, for messages */
static void list_vars(mat_t *m, char *buf, size_t n) {
    static const char *cls[] = {"empty", "cell", "struct", "object", "char", "sparse", "double", "single", "int8",
                                "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "function", "opaque"};
    size_t k = 0;
    buf[0] = 0;
    Mat_Rewind(m);
    matvar_t *v;
    while ((v = Mat_VarReadNextInfo(m)) && k + 1 < n) {
        k += (size_t)snprintf(buf + k, n - k, "%s%s (", k ? ", " : "", v->name ? v->name : "?");
        for (int d = 0; d < v->rank && k + 1 < n; d++)
            k += (size_t)snprintf(buf + k, n - k, "%s%zu", d ? "x" : "", v->dims[d]);
        if (k + 1 < n)
            k += (size_t)snprintf(buf + k, n - k, " %s)", (unsigned)v->class_type < 18 ? cls[v->class_type] : "?");
        Mat_VarFree(v);
    }
    if (k >= n) k = n - 1;
    if (!buf[0]) snprintf(buf, n, "none");
}

/* The variable `name`, or the only numeric one of rank `rank` when name is NULL. */
static matvar_t *find_var(mat_t *m, const char *path, const char *name, int rank, const char *flag, char *err,
                          size_t errlen) {
    char list[1024];
    matvar_t *v = NULL;
    if (name) {
        v = Mat_VarRead(m, name);
        if (!v) {
            list_vars(m, list, sizeof list);
            snprintf(err, errlen, "%s: no variable '%s' (%s); the file has: %s", path, name, flag, list);
            return NULL;
        }
    } else {
        char found[256] = "";
        int count = 0;
        Mat_Rewind(m);
        matvar_t *i;
        while ((i = Mat_VarReadNextInfo(m))) {
            if (numeric(i) && i->rank == rank && i->name) {
                if (!count) snprintf(found, sizeof found, "%s", i->name);
                count++;
            }
            Mat_VarFree(i);
        }
        if (count != 1) {
            list_vars(m, list, sizeof list);
            snprintf(err, errlen, "%s: %s %d-D numeric variables; name the one to read with %s. The file has: %s", path,
                     count ? "has several" : "has no", rank, flag, list);
            return NULL;
        }
        v = Mat_VarRead(m, found);
    }
    if (!v || !numeric(v) || v->rank != rank || !v->data || isnan(elem(v, 0))) {
        list_vars(m, list, sizeof list);
        snprintf(err, errlen, "%s: variable '%s' is not a %d-D real numeric array (or could not be read); the file has: %s",
                 path, name ? name : "?", rank, list);
        if (v) Mat_VarFree(v);
        return NULL;
    }
    return v;
}

/* libmatio reads a truncated v5 file's last variable without complaint (zeros where the bytes
 * are missing): every top-level element must end inside the file. */
static int v5_complete(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char h[128], t[8];
    int rc = 0;
    if (fread(h, 1, 128, f) == 128 && memcmp(h, "MATLAB 5.0", 10) == 0 && fseek(f, 0, SEEK_END) == 0) {
        const long size = ftell(f);
        const int swap = h[126] == 'M'; /* "MI": written big-endian */
        long at = 128;
        while (at + 8 <= size) {
            if (fseek(f, at, SEEK_SET) || fread(t, 1, 8, f) != 8) break;
            uint32_t type = swap ? (uint32_t)t[0] << 24 | t[1] << 16 | t[2] << 8 | t[3] : (uint32_t)t[3] << 24 | t[2] << 16 | t[1] << 8 | t[0];
            uint32_t n = swap ? (uint32_t)t[4] << 24 | t[5] << 16 | t[6] << 8 | t[7] : (uint32_t)t[7] << 24 | t[6] << 16 | t[5] << 8 | t[4];
            if (type >> 16) { at += 8; continue; } /* small data element: tag and data in 8 bytes */
            long end = at + 8 + (long)n;
            if (end > size) {
                snprintf(err, errlen, "%s: truncated MATLAB file: a variable at byte %ld needs %u bytes, the file ends "
                         "%ld bytes after it", path, at, n, size - at - 8);
                rc = -1;
                break;
            }
            at = type == 15 ? end : at + 8 + (((long)n + 7) & ~7L); /* compressed elements are not padded */
        }
    }
    fclose(f);
    return rc;
}

static mat_t *open_mat(const char *path, char *err, size_t errlen) {
    if (v5_complete(path, err, errlen)) return NULL;
    mat_t *m = Mat_Open(path, MAT_ACC_RDONLY);
    if (!m) snprintf(err, errlen, "%s: libmatio cannot open it as a MATLAB v4/v5/v7.3 file (truncated or damaged?)", path);
    return m;
}

int read_mat_image(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen) {
    mat_t *m = open_mat(path, err, errlen);
    if (!m) return -1;
    matvar_t *v = find_var(m, path, o->var, 3, "--var", err, errlen);
    int rc = -1;
    if (!v) goto done;
    /* MATLAB is column-major: element (r, c, b) of an R x C x B array is at r + R*(c + C*b) */
    const int H = (int)v->dims[0], W = (int)v->dims[1], V = (int)v->dims[2];
    int first = s->N == 0;
    int i = image_set_add(s, V, H, W, v->name, path, err, errlen);
    if (i < 0) goto done;
    float *dst = image_set_data(s, i);
    uint8_t *ok = image_set_valid(s, i);
    const int single = v->class_type == MAT_C_SINGLE;
    for (int b = 0; b < V; b++)
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                double x = elem(v, (size_t)r + (size_t)H * ((size_t)c + (size_t)W * b));
                size_t at = ((size_t)b * H + r) * W + c;
                /* a single cube matches --nodata in single precision, as GDAL rasters do */
                int good = isfinite(x) && !(o->nodata_set && (x == o->nodata || (single && (float)x == (float)o->nodata)));
                ok[at] = (uint8_t)good;
                dst[at] = good ? (float)x : 0.0f;
            }
    if (first)
        for (int b = 0; b < V; b++) {
            ImageBand *bd = &s->bands[b];
            char nm[32];
            snprintf(nm, sizeof nm, "band_%03d", b + 1);
            image_band_name(bd, nm, b + 1);
            snprintf(bd->source, sizeof bd->source, "%s", image_base_name(path));
        }
    rc = 0;
done:
    if (v) Mat_VarFree(v);
    Mat_Close(m);
    return rc;
}

int read_mat_raster(const char *path, const char *var, int *H, int *W, double **vals, char *err, size_t errlen) {
    mat_t *m = open_mat(path, err, errlen);
    if (!m) return -1;
    matvar_t *v = find_var(m, path, var, 2, "--label-var or FILE.mat:VAR", err, errlen);
    int rc = -1;
    if (!v) goto done;
    *H = (int)v->dims[0];
    *W = (int)v->dims[1];
    *vals = xmalloc(sizeof(double) * (size_t)*H * *W);
    for (int r = 0; r < *H; r++)
        for (int c = 0; c < *W; c++) (*vals)[(size_t)r * *W + c] = elem(v, (size_t)r + (size_t)*H * c);
    rc = 0;
done:
    if (v) Mat_VarFree(v);
    Mat_Close(m);
    return rc;
}
