/* The BigEarthNet-S2 layout: a folder per patch holding <patch>_<band>.tif single-band GeoTIFFs
 * at 10, 20 and 60 m and <patch>_labels_metadata.json (labels, projection, acquisition date).
 * The 12 bands are resampled onto the finest band's grid; the labels become a multi-hot vector. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "imagery/gdal_util.h"
#include "imagery/imagery.h"

static const char *const BANDS[] = {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"};
enum { NB = 12 };

static int has_json(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while (!found && (e = readdir(d))) {
        size_t n = strlen(e->d_name), k = strlen("_labels_metadata.json");
        found = n > k && strcmp(e->d_name + n - k, "_labels_metadata.json") == 0;
    }
    closedir(d);
    return found;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Patch folders: dir itself, or its subfolders that hold a labels JSON (sorted). */
static int patch_dirs(const char *dir, char ***out) {
    *out = NULL;
    if (has_json(dir)) {
        *out = xmalloc(sizeof(char *));
        (*out)[0] = xstrdup(dir);
        return 1;
    }
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (is_dir(p) && has_json(p)) {
            *out = xrealloc(*out, sizeof(char *) * (size_t)(n + 1));
            (*out)[n++] = xstrdup(p);
        }
    }
    closedir(d);
    if (n > 1) qsort(*out, (size_t)n, sizeof(char *), cmp_str); /* *out is NULL when n == 0 */
    return n;
}

int is_bigearthnet(const char *dir) {
    char **p;
    int n = patch_dirs(dir, &p);
    for (int i = 0; i < n; i++) free(p[i]);
    free(p);
    return n > 0;
}

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *b = xmalloc(cap);
    while ((r = fread(b + n, 1, cap - n, f)) > 0)
        if ((n += r) == cap) b = xrealloc(b, cap *= 2);
    fclose(f);
    *len = n;
    return b;
}

/* One patch: 12 bands onto the finest grid, georeference of that band, labels into names (joined by '\n'). */
static int read_patch(ImageSet *s, const char *dir, GDALRIOResampleAlg alg, const ImageOptions *o, char **labels,
                      char *err, size_t errlen) {
    const char *patch = image_base_name(dir);
    char path[NB][4096];
    GDALDatasetH d[NB] = {0};
    int rc = -1, fine = 0;
    JsonValue *js = NULL;
    char *text = NULL;
    for (int b = 0; b < NB; b++) {
        snprintf(path[b], sizeof path[b], "%s/%s_%s.tif", dir, patch, BANDS[b]);
        if (access(path[b], R_OK) != 0) {
            snprintf(err, errlen, "%s: band %s is missing (%s): a BigEarthNet-S2 patch has the 12 bands B01-B12 and B8A",
                     dir, BANDS[b], path[b]);
            goto done;
        }
        if (!(d[b] = gdal_open(path[b], err, errlen))) goto done;
        if (GDALGetRasterXSize(d[b]) > GDALGetRasterXSize(d[fine])) fine = b;
    }
    const int H = GDALGetRasterYSize(d[fine]), W = GDALGetRasterXSize(d[fine]);
    double g0[6], g[6];
    if (GDALGetGeoTransform(d[fine], g0) != CE_None) {
        snprintf(err, errlen, "%s: no geotransform", path[fine]);
        goto done;
    }
    int i = image_set_add(s, NB, H, W, patch, dir, err, errlen);
    if (i < 0) goto done;
    for (int b = 0; b < NB; b++) {
        /* every band must cover the same ground (1.2 km x 1.2 km), whatever its pixel size */
        const int w = GDALGetRasterXSize(d[b]), h = GDALGetRasterYSize(d[b]);
        if (GDALGetGeoTransform(d[b], g) != CE_None || fabs(g[0] - g0[0]) > 1e-3 || fabs(g[3] - g0[3]) > 1e-3 ||
            fabs(w * g[1] - W * g0[1]) > 1e-3 || fabs(h * g[5] - H * g0[5]) > 1e-3) {
            snprintf(err, errlen, "%s: this band does not cover the same area as %s (origin or extent differ)", path[b],
                     path[fine]);
            goto done;
        }
        ImageBand bd = {0};
        if (gdal_read_band(d[b], path[b], 1, H, W, alg, image_set_data(s, i) + (size_t)b * H * W,
                           image_set_valid(s, i) + (size_t)b * H * W, o, &bd.nodata, &bd.has_nodata, err, errlen))
            goto done;
        image_band_name(&bd, BANDS[b], b + 1);
        snprintf(bd.units, sizeof bd.units, "reflectance x 10000");
        snprintf(bd.source, sizeof bd.source, "%s", BANDS[b]);
        bd.resolution = fabs(g[1]);
        if (i == 0) s->bands[b] = bd;
    }
    gdal_georef(s, i, d[fine]);
    char jp[4096];
    snprintf(jp, sizeof jp, "%s/%s_labels_metadata.json", dir, patch);
    size_t len;
    char jerr[512];
    if (!(text = slurp(jp, &len)) || !(js = json_parse(text, len, 1 << 24, jp, jerr, sizeof jerr))) {
        snprintf(err, errlen, "%s: %s", jp, text ? jerr : "cannot read the labels file");
        goto done;
    }
    const JsonValue *lab = json_get(js, "labels");
    if (!lab || lab->type != JSON_ARRAY) {
        snprintf(err, errlen, "%s: no \"labels\" list", jp);
        goto done;
    }
    size_t k = 0, cap = 256;
    *labels = xmalloc(cap);
    (*labels)[0] = 0;
    for (size_t j = 0; j < json_len(lab); j++) {
        const char *t = json_as_string(json_at(lab, j));
        if (!t || !*t) {
            snprintf(err, errlen, "%s: label %zu is not a class name", jp, j);
            goto done;
        }
        while (k + strlen(t) + 2 > cap) *labels = xrealloc(*labels, cap *= 2);
        k += (size_t)sprintf(*labels + k, "%s%s", k ? "\n" : "", t);
    }
    const char *date = json_as_string(json_get(js, "acquisition_date"));
    if (date) snprintf(s->images[i].date, sizeof s->images[i].date, "%s", date);
    rc = 0;
done:
    for (int b = 0; b < NB; b++)
        if (d[b]) GDALClose(d[b]);
    json_free(js);
    free(text);
    return rc;
}

static int find_class(const ImageSet *s, const char *t) {
    for (int c = 0; c < s->C; c++)
        if (strcmp(s->classes[c], t) == 0) return c;
    return -1;
}

static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

int read_bigearthnet(ImageSet *s, const char *dir, const ImageOptions *o, char *err, size_t errlen) {
    GDALRIOResampleAlg alg = GRIORA_Bilinear;
    if (o->resample && strcmp(o->resample, "nearest") == 0) alg = GRIORA_NearestNeighbour;
    else if (o->resample && strcmp(o->resample, "cubic") == 0) alg = GRIORA_Cubic;
    else if (o->resample && strcmp(o->resample, "bilinear")) {
        snprintf(err, errlen, "--resample %s: expected nearest, bilinear or cubic", o->resample);
        return -1;
    }
    char **dirs;
    int n = patch_dirs(dir, &dirs), rc = -1;
    char **labels = xcalloc((size_t)(n ? n : 1), sizeof(char *));
    for (int p = 0; p < n; p++)
        if (read_patch(s, dirs[p], alg, o, &labels[p], err, errlen)) goto done;
    if (o->classes) {
        if ((s->C = image_parse_classes(o->classes, &s->classes, err, errlen)) < 0) goto done;
    } else {
        for (int p = 0; p < n; p++) {
            char *tmp = xstrdup(labels[p]);
            for (char *t = strtok(tmp, "\n"); t; t = strtok(NULL, "\n"))
                if (find_class(s, t) < 0) {
                    s->classes = xrealloc(s->classes, (size_t)(s->C + 1) * LVIT_CLASS_NAME);
                    snprintf(s->classes[s->C++], LVIT_CLASS_NAME, "%s", t);
                }
            free(tmp);
        }
        qsort(s->classes, (size_t)s->C, LVIT_CLASS_NAME, cmp_name);
    }
    s->label_kind = LABELS_MULTI;
    s->multi = xcalloc((size_t)n * (s->C ? s->C : 1), 1);
    for (int p = 0; p < n; p++) {
        char *tmp = xstrdup(labels[p]);
        for (char *t = strtok(tmp, "\n"); t; t = strtok(NULL, "\n")) {
            int c = find_class(s, t);
            if (c < 0) {
                snprintf(err, errlen, "%s: label '%s' is not among the %d classes --classes lists", dirs[p], t, s->C);
                free(tmp);
                goto done;
            }
            s->multi[(size_t)p * s->C + c] = 1;
        }
        free(tmp);
    }
    snprintf(s->label_source, sizeof s->label_source, "%s", "<patch>_labels_metadata.json");
    rc = 0;
done:
    for (int p = 0; p < n; p++) free(dirs[p]), free(labels[p]);
    free(dirs);
    free(labels);
    return rc;
}
