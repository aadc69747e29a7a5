/* An ImageSet into an image dataset file (docs/formats.md, "Image datasets"): label rasters into
 * class indices, the split of the images, per-band statistics over the training images, metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/georef.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "imagery/imagery.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --classes for a label raster: "VALUE=NAME,..." (those classes, in that order) or plain names for
 * the raster's values in ascending order. */
static int map_classes(ImageSet *s, const double *vals, size_t n, const uint8_t *ok, const char *path,
                       const ImageOptions *o, char *err, size_t errlen) {
    double *u = xmalloc(sizeof(double) * (n ? n : 1));
    size_t nu = 0;
    for (size_t k = 0; k < n; k++)
        if (ok[k] && vals[k] != o->unlabelled) u[nu++] = vals[k];
    qsort(u, nu, sizeof(double), cmp_double);
    int C = 0;
    for (size_t k = 0; k < nu; k++)
        if (!k || u[k] != u[k - 1]) u[C++] = u[k];
    if (C == 0) {
        free(u);
        snprintf(err, errlen, "--labels %s: every pixel is unlabelled (value %g) or nodata", path, o->unlabelled);
        return -1;
    }
    if (o->classes) {
        char (*names)[LVIT_CLASS_NAME];
        int m = image_parse_classes(o->classes, &names, err, errlen), pairs = 0;
        if (m < 0) {
            free(u);
            return -1;
        }
        for (int c = 0; c < m; c++) pairs += strchr(names[c], '=') != NULL;
        s->class_values = xmalloc(sizeof(double) * (size_t)(pairs ? m : C));
        s->classes = xcalloc((size_t)(pairs ? m : C), LVIT_CLASS_NAME);
        if (pairs) {
            for (int c = 0; c < m; c++) {
                char *eq = strchr(names[c], '='), *end;
                s->class_values[c] = eq ? strtod(names[c], &end) : NAN;
                if (!eq || end != eq || !eq[1]) {
                    snprintf(err, errlen, "--classes: '%s' is not VALUE=NAME (for a label raster give them all so, "
                             "or plain names for its %d values in ascending order)", names[c], C);
                    free(names), free(u);
                    return -1;
                }
                snprintf(s->classes[c], LVIT_CLASS_NAME, "%s", eq + 1);
            }
            s->C = m;
        } else if (m != C) {
            char vl[512] = "";
            for (int c = 0, k = 0; c < C && k < 480; c++) k += snprintf(vl + k, sizeof vl - (size_t)k, "%s%g", c ? "," : "", u[c]);
            snprintf(err, errlen, "--classes gives %d names, but --labels %s has %d class values (%s; %g = unlabelled)",
                     m, path, C, vl, o->unlabelled);
            free(names), free(u);
            return -1;
        } else {
            for (int c = 0; c < C; c++) snprintf(s->classes[c], LVIT_CLASS_NAME, "%s", names[c]), s->class_values[c] = u[c];
            s->C = C;
        }
        free(names);
    } else {
        s->C = C;
        s->class_values = xmalloc(sizeof(double) * (size_t)C);
        s->classes = xcalloc((size_t)C, LVIT_CLASS_NAME);
        for (int c = 0; c < C; c++) snprintf(s->classes[c], LVIT_CLASS_NAME, "class_%g", u[c]), s->class_values[c] = u[c];
    }
    free(u);
    return 0;
}

int image_set_label_map(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen) {
    int H, W;
    double *vals;
    uint8_t *ok;
    double geo[6];
    int has_geo;
    if (read_label_raster(path, o->label_var, &H, &W, &vals, &ok, geo, &has_geo, err, errlen)) return -1;
    int rc = -1;
    const size_t plane = (size_t)H * W;
    if (H != s->H || W != s->W) {
        snprintf(err, errlen, "--labels %s is %dx%d pixels, the image%s %s %dx%d", path, H, W, s->N > 1 ? "s" : "",
                 s->images[0].source, s->H, s->W);
        goto done;
    }
    char why[512];
    if (has_geo && s->images[0].has_geo && !georef_same_grid(s->images[0].geo, geo, why, sizeof why)) {
        snprintf(err, errlen, "--labels %s lies on another grid than the image %s: %s; resample the labels onto the "
                 "image's grid (gdalwarp -te and -tr with the image's extent and pixel size)", path, s->images[0].source, why);
        goto done;
    }
    if (map_classes(s, vals, plane, ok, path, o, err, errlen)) goto done;
    s->label_map = xmalloc(sizeof(int32_t) * plane * (size_t)s->N);
    for (size_t k = 0; k < plane; k++) {
        int32_t c = -1;
        if (ok[k] && vals[k] != o->unlabelled) {
            for (int j = 0; j < s->C && c < 0; j++)
                if (s->class_values[j] == vals[k]) c = j;
            if (c < 0) {
                snprintf(err, errlen, "--labels %s: pixel (row %zu, column %zu) has the value %g, which --classes does not "
                         "name (and --unlabelled is %g)", path, k / (size_t)W, k % (size_t)W, vals[k], o->unlabelled);
                goto done;
            }
        }
        for (int i = 0; i < s->N; i++) s->label_map[(size_t)i * plane + k] = c; /* one map for every image */
    }
    s->label_kind = LABELS_MAP;
    snprintf(s->label_source, sizeof s->label_source, "%s", path);
    rc = 0;
done:
    free(vals);
    free(ok);
    return rc;
}

/* Per group (a class, or all images), shuffled with the seed: the first round(f_train n) train, up
 * to round((f_train + f_val) n) validation, the rest test. One image: training. */
static void make_split(const ImageSet *s, const ImageOptions *o, uint8_t *split) {
    const int N = s->N, by_class = s->label_kind == LABELS_CLASS;
    int64_t *idx = xmalloc(sizeof(int64_t) * (size_t)N);
    memset(split, SPLIT_TRAIN, (size_t)N);
    if (N < 2) goto done;
    for (int g = by_class ? -1 : 0; g < (by_class ? s->C : 1); g++) {
        int64_t n = 0;
        for (int i = 0; i < N; i++)
            if (!by_class || s->label[i] == g) idx[n++] = i;
        if (!n) continue;
        Rng r;
        rng_seed_stream(&r, o->seed, (uint64_t)(g + 1));
        rng_shuffle(&r, idx, n);
        int64_t a = (int64_t)floor(o->train_frac * n + 0.5), b = (int64_t)floor((o->train_frac + o->val_frac) * n + 0.5);
        if (a < 1) a = 1;
        if (b < a) b = a;
        if (b > n) b = n;
        for (int64_t k = 0; k < n; k++) split[idx[k]] = k < a ? SPLIT_TRAIN : k < b ? SPLIT_VAL : SPLIT_TEST;
    }
done:
    free(idx);
}

static void put_band(JsonBuf *m, const ImageBand *b) {
    json_buf_puts(m, "{\"name\":");
    json_buf_put_string(m, b->name);
    json_buf_puts(m, ",\"long_name\":");
    json_buf_put_string(m, b->long_name);
    json_buf_puts(m, ",\"units\":");
    json_buf_put_string(m, b->units);
    json_buf_puts(m, ",\"source\":");
    json_buf_put_string(m, b->source);
    json_buf_printf(m, ",\"band\":%d,\"nodata\":", b->number);
    if (b->has_nodata && isfinite(b->nodata)) json_buf_put_number(m, b->nodata);
    else json_buf_puts(m, "null");
    json_buf_puts(m, ",\"resolution\":");
    if (b->resolution > 0) json_buf_put_number(m, b->resolution);
    else json_buf_puts(m, "null");
    json_buf_puts(m, "}");
}

static char *metadata(const ImageSet *s, const uint8_t *split, const ImageOptions *o, int ninputs,
                      const char *const *inputs) {
    JsonBuf m = {0};
    int cnt[3] = {0, 0, 0};
    for (int i = 0; i < s->N; i++) cnt[split[i]]++;
    json_buf_puts(&m, "{\"version\":1,\"kind\":\"image\",\"vars\":[");
    for (int v = 0; v < s->V; v++) {
        if (v) json_buf_puts(&m, ",");
        put_band(&m, &s->bands[v]);
    }
    json_buf_puts(&m, "],\"dropped_bands\":");
    json_buf_put_string(&m, o->drop_bands ? o->drop_bands : "");
    json_buf_printf(&m, ",\"split\":{\"train\":%d,\"val\":%d,\"test\":%d,\"by\":\"%s\",\"fractions\":[", cnt[0], cnt[1],
                    cnt[2], s->N < 2 ? "none" : s->label_kind == LABELS_CLASS ? "class" : "image");
    json_buf_put_number(&m, o->train_frac);
    json_buf_puts(&m, ",");
    json_buf_put_number(&m, o->val_frac);
    json_buf_printf(&m, "],\"seed\":%llu},\"labels\":{\"kind\":\"%s\",\"source\":", (unsigned long long)o->seed,
                    s->label_kind == LABELS_CLASS ? "class" : s->label_kind == LABELS_MULTI ? "multilabel"
                    : s->label_kind == LABELS_MAP ? "map" : "none");
    json_buf_put_string(&m, s->label_source);
    if (s->label_kind == LABELS_MAP) {
        json_buf_puts(&m, ",\"unlabelled\":");
        json_buf_put_number(&m, o->unlabelled);
    }
    json_buf_puts(&m, ",\"classes\":[");
    const size_t plane = (size_t)s->H * s->W;
    for (int c = 0; c < s->C; c++) {
        int64_t count = 0;
        for (int i = 0; i < s->N; i++) {
            if (s->label_kind == LABELS_CLASS) count += s->label[i] == c;
            else if (s->label_kind == LABELS_MULTI) count += s->multi[(size_t)i * s->C + c];
            else for (size_t k = 0; k < plane; k++) count += s->label_map[(size_t)i * plane + k] == c;
        }
        json_buf_puts(&m, c ? ",{\"name\":" : "{\"name\":");
        json_buf_put_string(&m, s->classes[c]);
        json_buf_puts(&m, ",\"value\":");
        json_buf_put_number(&m, s->class_values ? s->class_values[c] : c);
        json_buf_printf(&m, ",\"count\":%lld}", (long long)count);
    }
    json_buf_puts(&m, "]},\"crs\":[");
    for (int k = 0; k < s->ncrs; k++) {
        if (k) json_buf_puts(&m, ",");
        json_buf_put_string(&m, s->crs[k]);
    }
    json_buf_puts(&m, "],\"images\":[");
    for (int i = 0; i < s->N; i++) {
        const ImageInfo *im = &s->images[i];
        json_buf_puts(&m, i ? ",{\"name\":" : "{\"name\":");
        json_buf_put_string(&m, im->name);
        json_buf_puts(&m, ",\"source\":");
        json_buf_put_string(&m, im->source);
        json_buf_puts(&m, ",\"geotransform\":");
        if (im->has_geo) {
            for (int k = 0; k < 6; k++) {
                json_buf_puts(&m, k ? "," : "[");
                json_buf_put_number(&m, im->geo[k]);
            }
            json_buf_puts(&m, "]");
        } else {
            json_buf_puts(&m, "null");
        }
        json_buf_printf(&m, ",\"crs\":%d", im->crs);
        if (im->date[0]) {
            json_buf_puts(&m, ",\"date\":");
            json_buf_put_string(&m, im->date);
        }
        json_buf_puts(&m, "}");
    }
    json_buf_puts(&m, "],\"inputs\":");
    json_buf_put_strings(&m, inputs, ninputs);
    json_buf_puts(&m, "}");
    return m.s;
}

/* A value beyond +-1e30 in a pixel not marked nodata is a fill value the file does not declare
 * (3e38, 9.999e20): its statistics and training losses would be inf or NaN. The same bound as
 * grids (data/series_check.c) and dataset_open (data/dataset_check.c). */
static int check_values(const ImageSet *s, char *err, size_t errlen) {
    const size_t plane = (size_t)s->H * s->W;
    for (int i = 0; i < s->N; i++)
        for (int v = 0; v < s->V; v++) {
            const float *x = s->data + ((size_t)i * s->V + v) * plane;
            const uint8_t *ok = s->valid + ((size_t)i * s->V + v) * plane;
            for (size_t k = 0; k < plane; k++)
                if (ok[k] && !(fabsf(x[k]) <= 1e30f)) {
                    snprintf(err, errlen, "%s: band %d (%s) holds %g at pixel (row %zu, column %zu), which is not marked "
                             "nodata; expected a finite value within +-1e30 (if it means \"no data\", give --nodata %.9g)",
                             s->images[i].source, s->bands[v].number, s->bands[v].name, (double)x[k], k / (size_t)s->W,
                             k % (size_t)s->W, (double)x[k]);
                    return -1;
                }
        }
    return 0;
}

int image_set_write(ImageSet *s, const char *out, int ninputs, const char *const *inputs, const ImageOptions *o,
                    char *err, size_t errlen) {
    if (check_values(s, err, errlen)) return -1;
    const int N = s->N, V = s->V, H = s->H, W = s->W;
    const size_t plane = (size_t)H * W;
    uint8_t *split = xmalloc((size_t)N);
    make_split(s, o, split);
    double *mean = xcalloc((size_t)V, sizeof(double)), *sd = xcalloc((size_t)V, sizeof(double));
    int rc = -1;
    for (int v = 0; v < V; v++) {
        double sum = 0, sum2 = 0;
        int64_t n = 0;
        for (int i = 0; i < N; i++) {
            if (split[i] != SPLIT_TRAIN) continue;
            const float *x = s->data + ((size_t)i * V + v) * plane;
            const uint8_t *ok = s->valid + ((size_t)i * V + v) * plane;
            for (size_t k = 0; k < plane; k++)
                if (ok[k]) sum += x[k], sum2 += (double)x[k] * x[k], n++;
        }
        if (!n) {
            snprintf(err, errlen, "band %d (%s, from %s) has no valid value in the training images", v + 1,
                     s->bands[v].name, s->bands[v].source);
            goto done;
        }
        mean[v] = sum / n;
        double var = sum2 / n - mean[v] * mean[v];
        sd[v] = var > 1e-30 ? sqrt(var) : 1.0;
    }
    char *meta = metadata(s, split, o, ninputs, inputs);
    StWriter *w = st_writer_new();
    st_writer_meta(w, "lvit.dataset", meta);
    free(meta);
    int64_t s4[4] = {N, V, H, W}, sV[1] = {V}, sN[1] = {N}, sNC[2] = {N, s->C}, s3[3] = {N, H, W};
    st_writer_add(w, "data", ST_F32, 4, s4, s->data);
    st_writer_add(w, "valid", ST_U8, 4, s4, s->valid);
    st_writer_add(w, "mean", ST_F64, 1, sV, mean);
    st_writer_add(w, "std", ST_F64, 1, sV, sd);
    st_writer_add(w, "split", ST_U8, 1, sN, split);
    if (s->label_kind == LABELS_CLASS) st_writer_add(w, "label", ST_I32, 1, sN, s->label);
    if (s->label_kind == LABELS_MULTI) st_writer_add(w, "label_multi", ST_U8, 2, sNC, s->multi);
    if (s->label_kind == LABELS_MAP) st_writer_add(w, "label_map", ST_I32, 3, s3, s->label_map);
    if ((rc = st_writer_finish(w, out, err, errlen)) == 0) {
        int cnt[3] = {0, 0, 0};
        for (int i = 0; i < N; i++) cnt[split[i]]++;
        static const char *kinds[] = {"none", "one class per image", "multi-label", "label raster"};
        log_info("convert: wrote %s: %d image%s of %d bands, %dx%d pixels; labels: %s, %d classes; images for training "
                 "%d, validation %d, test %d", out, N, N == 1 ? "" : "s", V, H, W, kinds[s->label_kind], s->C, cnt[0],
                 cnt[1], cnt[2]);
        for (int v = 0; v < V && v < 16; v++)
            log_info("  %-24s mean %-12.6g std %-12.6g from %s", s->bands[v].name, mean[v], sd[v], s->bands[v].source);
        if (V > 16) log_info("  ... %d more bands (lvit info shows them all)", V - 16);
    }
done:
    free(split);
    free(mean);
    free(sd);
    return rc;
}
