/* The user's own split of a scene's pixels: training and test label rasters (tasks/label_split.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/check.h"
#include "core/georef.h"
#include "core/json.h"
#include "io/run_meta.h"
#include "tasks/label_split.h"

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* "FILE:VAR" into file and *var (NULL: none); a spec that names an existing file keeps its ':'. */
static void split_spec(const char *spec, char *file, size_t n, const char **var) {
    snprintf(file, n, "%s", spec);
    *var = NULL;
    const char *c = strrchr(spec, ':');
    if (!c || is_file(spec) || c[1] == 0 || strchr(c, '/')) return;
    file[(size_t)(c - spec) < n ? (size_t)(c - spec) : n - 1] = 0;
    *var = c + 1;
}

int label_split_class_values(const Dataset *ds, double *v, char *err, size_t errlen) {
    char jerr[512];
    const char *mj = ds->img.meta;
    JsonValue *m = mj ? json_parse(mj, strlen(mj), 1 << 26, "lvit.dataset", jerr, sizeof jerr) : NULL;
    const JsonValue *cl = json_get(json_get(m, "labels"), "classes");
    int ok = m && json_len(cl) == (size_t)ds->img.C;
    for (int c = 0; ok && c < ds->img.C; c++) ok = json_as_double(json_get(json_at(cl, (size_t)c), "value"), &v[c]) == 0;
    json_free(m);
    if (!ok) snprintf(err, errlen, "%s: its metadata does not give the label value of each class", ds->source);
    return ok ? 0 : -1;
}

/* Reads the raster of spec ("FILE" or "FILE:VAR") for flag: its values and validity, refused unless it
 * is the size of ds's images. 0, or -1 with err naming the flag and the file (nothing to free). */
static int read_spec(const Dataset *ds, LabelRasterRead rd, const char *flag, const char *spec, double **vals,
                     uint8_t **ok, char *err, size_t errlen) {
    if (!rd) {
        snprintf(err, errlen, "%s %s: this program reads no rasters (the lvit command does)", flag, spec);
        return -1;
    }
    char file[4096], e[2048];
    const char *var;
    split_spec(spec, file, sizeof file, &var);
    int H, W, has_geo;
    double geo[6], img_geo[6];
    if (rd(file, var, &H, &W, vals, ok, geo, &has_geo, e, sizeof e)) {
        snprintf(err, errlen, "%s %s: %s", flag, spec, e);
        return -1;
    }
    char *wkt = NULL;
    if (H != ds->H || W != ds->W) {
        snprintf(err, errlen, "%s %s is %dx%d pixels (rows x columns), but the images of %s are %dx%d", flag, file, H, W,
                 ds->source, ds->H, ds->W);
    } else if (has_geo && label_split_image_georef(ds, 0, img_geo, &wkt) == 0 &&
               !georef_same_grid(img_geo, geo, e, sizeof e)) {
        snprintf(err, errlen, "%s %s lies on another grid than the images of %s: %s; resample it onto their grid "
                 "(gdalwarp -te and -tr with the image's extent and pixel size)", flag, file, ds->source, e);
    } else {
        free(wkt);
        return 0;
    }
    free(wkt), free(*vals), free(*ok);
    return -1;
}

int label_split_image_georef(const Dataset *ds, int img, double geo[6], char **wkt) {
    char jerr[256];
    *wkt = NULL;
    JsonValue *m = ds->img.meta ? json_parse(ds->img.meta, strlen(ds->img.meta), 1 << 26, NULL, jerr, sizeof jerr) : NULL;
    const JsonValue *im = json_at(json_get(m, "images"), (size_t)img), *g = json_get(im, "geotransform");
    int ok = json_len(g) == 6;
    for (int k = 0; ok && k < 6; k++) ok = json_as_double(json_at(g, (size_t)k), &geo[k]) == 0;
    int64_t c;
    if (ok && json_as_int64(json_get(im, "crs"), 0, 1 << 20, &c) == 0) {
        const char *w = json_as_string(json_at(json_get(m, "crs"), (size_t)c));
        if (w) *wkt = xstrdup(w);
    }
    json_free(m);
    return ok ? 0 : -1;
}

int label_split_read(const Dataset *ds, LabelRasterRead rd, const char *flag, const char *spec, int32_t **map,
                     char *err, size_t errlen) {
    *map = NULL;
    double *vals;
    uint8_t *ok;
    if (read_spec(ds, rd, flag, spec, &vals, &ok, err, errlen)) return -1;
    const int H = ds->H, W = ds->W;
    char file[4096];
    const char *var;
    split_spec(spec, file, sizeof file, &var);
    int rc = -1;
    const int C = ds->img.C;
    double *cv = xmalloc(sizeof(double) * (size_t)C);
    if (label_split_class_values(ds, cv, err, errlen)) goto done;
    int32_t *m = xmalloc(sizeof(int32_t) * (size_t)H * W);
    for (int64_t k = 0; k < (int64_t)H * W; k++) {
        m[k] = -1;
        if (!ok[k] || vals[k] == 0) continue;
        for (int c = 0; c < C && m[k] < 0; c++)
            if (cv[c] == vals[k]) m[k] = c;
        if (m[k] < 0) {
            JsonBuf b = {0};
            for (int c = 0; c < C && c < 32; c++) json_buf_printf(&b, "%s%g '%s'", c ? ", " : "", cv[c], ds->img.class_names[c]);
            snprintf(err, errlen, "%s %s: pixel (row %lld, column %lld) has the label %g, which is not one of the classes "
                     "of %s (0 = unlabelled; %s)", flag, file, (long long)(k / W), (long long)(k % W), vals[k], ds->source,
                     b.s ? b.s : "");
            json_buf_free(&b);
            free(m);
            goto done;
        }
    }
    *map = m;
    rc = 0;
done:
    free(vals), free(ok), free(cv);
    return rc;
}

char *label_split_absolute(const char *spec) {
    char file[4096], real[PATH_MAX];
    const char *var;
    split_spec(spec, file, sizeof file, &var);
    const char *f = realpath(file, real) ? real : file;
    const size_t n = strlen(f) + (var ? strlen(var) + 1 : 0) + 1;
    char *s = xmalloc(n);
    snprintf(s, n, "%s%s%s", f, var ? ":" : "", var ? var : "");
    return s;
}

/* The split of --split-mask over the classes of the dataset's first label image. */
static int mask_split(const Dataset *ds, const TaskOptions *o, int32_t **train, int32_t **test, char *err, size_t errlen) {
    const char *spec = o->split_mask;
    if (o->train_labels || o->test_labels) {
        snprintf(err, errlen, "--split-mask %s and %s: give the split one way, as one mask raster or as two label rasters",
                 spec, o->train_labels ? "--train-labels" : "--test-labels");
        return -1;
    }
    if (!ds->img.label_map) {
        snprintf(err, errlen, "--split-mask %s: %s has no label raster to take the classes from (convert the scene with "
                 "--labels RASTER, or give --train-labels and --test-labels)", spec, ds->source);
        return -1;
    }
    double *vals;
    uint8_t *ok;
    if (read_spec(ds, o->read_raster, "--split-mask", spec, &vals, &ok, err, errlen)) return -1;
    char file[4096];
    const char *var;
    split_spec(spec, file, sizeof file, &var);
    const int W = ds->W;
    int rc = -1;
    const int64_t plane = (int64_t)ds->H * W;
    int32_t *tr = xmalloc(sizeof(int32_t) * (size_t)plane), *te = xmalloc(sizeof(int32_t) * (size_t)plane);
    int64_t ntr = 0, nte = 0;
    for (int64_t k = 0; k < plane; k++) {
        const double v = ok[k] ? vals[k] : 0.0;
        if (v != 0.0 && v != 1.0 && v != 2.0) {
            snprintf(err, errlen, "--split-mask %s: pixel (row %lld, column %lld) is %g; expected 1 (training), 2 (test) or "
                     "0 (unused)", file, (long long)(k / W), (long long)(k % W), v);
            goto done;
        }
        const int32_t cls = ds->img.label_map[k];
        tr[k] = v == 1.0 ? cls : -1, te[k] = v == 2.0 ? cls : -1;
        ntr += tr[k] >= 0, nte += te[k] >= 0;
    }
    if (!ntr || !nte) {
        snprintf(err, errlen, "--split-mask %s marks no labelled pixel of %s for %s (1 = training, 2 = test)", file,
                 ds->source, ntr ? "testing" : "training");
        goto done;
    }
    *train = tr, *test = te, tr = te = NULL;
    rc = 0;
done:
    free(vals), free(ok), free(tr), free(te);
    return rc;
}

int label_split_maps(const Dataset *ds, const TaskOptions *o, int32_t **train, int32_t **test, char *err, size_t errlen) {
    *train = *test = NULL;
    if (o->split_mask) return mask_split(ds, o, train, test, err, errlen);
    if (!o->train_labels || !o->test_labels) {
        snprintf(err, errlen, "%s: give both --train-labels and --test-labels (the test pixels are those the second "
                 "raster labels)", o->train_labels ? "--train-labels without --test-labels" : "--test-labels without --train-labels");
        return -1;
    }
    int32_t *tr = NULL, *te = NULL;
    if (label_split_read(ds, o->read_raster, "--train-labels", o->train_labels, &tr, err, errlen) ||
        label_split_read(ds, o->read_raster, "--test-labels", o->test_labels, &te, err, errlen)) {
        free(tr);
        return -1;
    }
    const int64_t plane = (int64_t)ds->H * ds->W;
    int64_t both = 0, first = -1, ntr = 0, nte = 0;
    for (int64_t k = 0; k < plane; k++) {
        if (tr[k] >= 0 && te[k] >= 0 && both++ == 0) first = k;
        ntr += tr[k] >= 0, nte += te[k] >= 0;
    }
    if (both) {
        snprintf(err, errlen, "--train-labels %s and --test-labels %s label %lld of the same pixels (the first at row %lld, "
                 "column %lld): a pixel is either for training or for testing", o->train_labels, o->test_labels,
                 (long long)both, (long long)(first / ds->W), (long long)(first % ds->W));
    } else if (!ntr || !nte) {
        snprintf(err, errlen, "%s %s labels no pixel (every value 0 or no data)", ntr ? "--test-labels" : "--train-labels",
                 ntr ? o->test_labels : o->train_labels);
    } else {
        *train = tr, *test = te;
        return 0;
    }
    free(tr), free(te);
    return -1;
}

void label_split_sources(const TaskOptions *o, char *src[2], char hash[2][17]) {
    src[0] = label_split_absolute(o->split_mask ? o->split_mask : o->train_labels);
    src[1] = o->split_mask ? NULL : label_split_absolute(o->test_labels);
    for (int i = 0; i < 2; i++) {
        char file[4096], e[256];
        const char *var;
        hash[i][0] = 0;
        if (!src[i]) continue;
        split_spec(src[i], file, sizeof file, &var);
        if (run_meta_file_hash(file, hash[i], e, sizeof e)) hash[i][0] = 0;
    }
}
