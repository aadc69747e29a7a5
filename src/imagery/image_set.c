/* The ImageSet the readers fill: growing it image by image, band names, dropping bands, class lists. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/limits.h"
#include "imagery/imagery.h"

const char *image_base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

void image_set_free(ImageSet *s) {
    free(s->data);
    free(s->valid);
    free(s->bands);
    free(s->images);
    for (int i = 0; i < s->ncrs; i++) free(s->crs[i]);
    free(s->crs);
    free(s->classes);
    free(s->class_values);
    free(s->label);
    free(s->multi);
    free(s->label_map);
    memset(s, 0, sizeof *s);
}

int image_set_add(ImageSet *s, int V, int H, int W, const char *name, const char *src, char *err, size_t errlen) {
    if (V < 1 || H < 1 || W < 1 || V > LVIT_MAX_VARS || H > 100000 || W > 100000 || (int64_t)H * W > 1000000000 / V) {
        snprintf(err, errlen, "%s: %d bands of %dx%d pixels is not an image lvit can hold (at most %d bands, "
                 "100000 pixels a side, 1e9 values an image)", src, V, H, W, LVIT_MAX_VARS);
        return -1;
    }
    if (s->N == 0) {
        s->V = V, s->H = H, s->W = W;
        s->bands = xcalloc((size_t)V, sizeof *s->bands);
    } else if (V != s->V || H != s->H || W != s->W) {
        snprintf(err, errlen, "%s is %dx%d pixels with %d band%s, but %s is %dx%d with %d: every image of a dataset "
                 "must have the same size and bands (crop or resample them first)", src, H, W, V, V == 1 ? "" : "s",
                 s->images[0].source, s->H, s->W, s->V);
        return -1;
    }
    if (s->N == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 4;
        size_t img = (size_t)V * H * W;
        s->data = xrealloc(s->data, sizeof(float) * img * (size_t)s->cap);
        s->valid = xrealloc(s->valid, img * (size_t)s->cap);
        s->images = xrealloc(s->images, sizeof *s->images * (size_t)s->cap);
    }
    ImageInfo *im = &s->images[s->N];
    memset(im, 0, sizeof *im);
    snprintf(im->name, sizeof im->name, "%s", name);
    snprintf(im->source, sizeof im->source, "%s", src);
    im->crs = -1;
    return s->N++;
}

float *image_set_data(ImageSet *s, int i) { return s->data + (size_t)i * s->V * s->H * s->W; }
uint8_t *image_set_valid(ImageSet *s, int i) { return s->valid + (size_t)i * s->V * s->H * s->W; }

int image_set_crs(ImageSet *s, const char *wkt) {
    for (int i = 0; i < s->ncrs; i++)
        if (strcmp(s->crs[i], wkt) == 0) return i;
    s->crs = xrealloc(s->crs, sizeof(char *) * (size_t)(s->ncrs + 1));
    s->crs[s->ncrs] = xstrdup(wkt);
    return s->ncrs++;
}

void image_band_name(ImageBand *b, const char *desc, int number) {
    b->number = number;
    snprintf(b->long_name, sizeof b->long_name, "%s", desc ? desc : "");
    size_t k = 0;
    for (const char *c = desc; c && *c && k + 1 < sizeof b->name; c++) {
        char x = (char)tolower((unsigned char)*c);
        int ok = (x >= 'a' && x <= 'z') || (x >= '0' && x <= '9');
        if (ok) b->name[k++] = x;
        else if (k && b->name[k - 1] != '_') b->name[k++] = '_';
    }
    while (k && b->name[k - 1] == '_') k--;
    b->name[k] = 0;
    if (!k) snprintf(b->name, sizeof b->name, "band_%03d", number);
}

/* "104-108,150-163,220" -> flags[1..V] */
static int parse_bands(const char *spec, int V, uint8_t *drop, char *err, size_t errlen) {
    const char *p = spec;
    while (*p) {
        char *end;
        errno = 0;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) goto bad;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            b = strtol(q, &end, 10);
            if (end == q) goto bad;
            p = end;
        }
        if (a < 1 || b < a || b > V) {
            snprintf(err, errlen, "--drop-bands %s: band %ld%s is not among the input's bands 1..%d (band numbers are "
                     "1-based, as GDAL and the hyperspectral literature count them)", spec, a < 1 || b < a ? a : b,
                     b < a ? " (a range must go upwards)" : "", V);
            return -1;
        }
        for (long k = a; k <= b; k++) drop[k] = 1;
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    return 0;
bad:
    snprintf(err, errlen, "--drop-bands expects 1-based band numbers and ranges like 108-112,154-167,224; got '%s'", spec);
    return -1;
}

int image_set_drop_bands(ImageSet *s, const char *spec, char *err, size_t errlen) {
    uint8_t *drop = xcalloc((size_t)s->V + 1, 1);
    if (parse_bands(spec, s->V, drop, err, errlen)) {
        free(drop);
        return -1;
    }
    int keep = 0;
    for (int v = 0; v < s->V; v++) keep += !drop[v + 1];
    if (keep == 0) {
        free(drop);
        snprintf(err, errlen, "--drop-bands %s drops all %d bands", spec, s->V);
        return -1;
    }
    const size_t plane = (size_t)s->H * s->W;
    /* compact in place, image by image: band v of image i moves to slot k of image i */
    for (int i = 0; i < s->N; i++)
        for (int v = 0, k = 0; v < s->V; v++) {
            if (drop[v + 1]) continue;
            memmove(s->data + ((size_t)i * keep + k) * plane, s->data + ((size_t)i * s->V + v) * plane, sizeof(float) * plane);
            memmove(s->valid + ((size_t)i * keep + k) * plane, s->valid + ((size_t)i * s->V + v) * plane, plane);
            k++;
        }
    for (int v = 0, k = 0; v < s->V; v++)
        if (!drop[v + 1]) s->bands[k++] = s->bands[v];
    s->V = keep;
    free(drop);
    return 0;
}

/* A file with one name per line, or a comma-separated list. */
int image_parse_classes(const char *spec, char (**names)[LVIT_CLASS_NAME], char *err, size_t errlen) {
    char *text = NULL;
    FILE *f = fopen(spec, "rb");
    char sep = ',';
    if (f) {
        size_t cap = 4096, n = 0;
        text = xmalloc(cap);
        size_t r;
        while ((r = fread(text + n, 1, cap - n - 1, f)) > 0) {
            n += r;
            if (n + 1 == cap) text = xrealloc(text, cap *= 2);
        }
        fclose(f);
        text[n] = 0;
        sep = '\n';
    } else {
        text = xstrdup(spec);
    }
    int C = 0;
    *names = NULL;
    for (char *p = text; *p;) {
        char *e = strchr(p, sep);
        if (e) *e = 0;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ')) p[--l] = 0;
        while (*p == ' ') p++;
        if (*p) {
            if (strlen(p) >= LVIT_CLASS_NAME) {
                snprintf(err, errlen, "--classes: class name '%.40s...' is longer than %d characters", p, LVIT_CLASS_NAME - 1);
                free(text), free(*names);
                return -1;
            }
            *names = xrealloc(*names, (size_t)(C + 1) * LVIT_CLASS_NAME);
            snprintf((*names)[C++], LVIT_CLASS_NAME, "%s", p);
        }
        if (!e) break;
        p = e + 1;
    }
    free(text);
    if (C == 0) {
        snprintf(err, errlen, "--classes %s: no class names (give a comma list or a file with one name per line)", spec);
        return -1;
    }
    return C;
}
