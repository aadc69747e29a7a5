/* Opening an lvit dataset file: a safetensors file whose arrays training reads in place from
 * the memory map (docs/formats.md, "Dataset"). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "data/dataset_check.h"
#include "data/dataset_file.h"
#include "io/safetensors.h"

static void release_file(void *p) {
    st_close(p);
    free(p);
}

/* The array `name` as a pointer into the map, after checking dtype and shape. */
static const void *mapped(const StFile *f, const char *name, StDtype dt, int ndim, const int64_t *shape, char *err,
                          size_t errlen) {
    const StTensor *t = st_find(f, name);
    if (!t) {
        snprintf(err, errlen, "%s: not an lvit dataset: array '%s' is missing", f->path, name);
        return NULL;
    }
    int ok = t->dtype == dt && t->ndim == ndim;
    for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        snprintf(err, errlen, "%s: array '%s' has dtype %s and %d dims; expected %s with %d dims matching the others",
                 f->path, name, st_dtype_name(t->dtype), t->ndim, st_dtype_name(dt), ndim);
        return NULL;
    }
    /* The data buffer starts after a header of any length: what must be aligned is the
       array's position in the file (the map is page-aligned), not its offset in the buffer. */
    uint64_t at = (uint64_t)(f->data - (const uint8_t *)f->map) + t->begin;
    if (at % st_dtype_size(dt)) {
        snprintf(err, errlen, "%s: array '%s' is not aligned in the file (%s at byte %llu; lvit convert writes "
                 "aligned files)", f->path, name, st_dtype_name(dt), (unsigned long long)at);
        return NULL;
    }
    return f->data + t->begin;
}

/* An image dataset (docs/formats.md, "Image datasets"): data and valid [N,V,H,W], per-band mean
 * and std, a split per image and the labels the metadata names. The arrays stay in the map. */
static int open_image(Dataset *ds, const StFile *f, const JsonValue *meta, char *err, size_t errlen) {
    const char *path = f->path;
    int64_t s4[4] = {ds->T, ds->V, ds->H, ds->W}, sV[1] = {ds->V}, sN[1] = {ds->T}, s3[3] = {ds->T, ds->H, ds->W};
    const double *mean, *sd;
    if (!(ds->data = mapped(f, "data", ST_F32, 4, s4, err, errlen)) ||
        !(ds->valid = mapped(f, "valid", ST_U8, 4, s4, err, errlen)) ||
        !(mean = mapped(f, "mean", ST_F64, 1, sV, err, errlen)) || !(sd = mapped(f, "std", ST_F64, 1, sV, err, errlen)) ||
        !(ds->img.split = mapped(f, "split", ST_U8, 1, sN, err, errlen)))
        return -1;
    const JsonValue *vars = json_get(meta, "vars"), *labels = json_get(meta, "labels");
    const JsonValue *classes = json_get(labels, "classes");
    const char *lk = json_as_string(json_get(labels, "kind"));
    if (json_len(vars) != (size_t)ds->V || !lk) {
        snprintf(err, errlen, "%s: metadata lvit.dataset is invalid (vars/labels)", path);
        return -1;
    }
    DatasetImages *im = &ds->img;
    im->label_kind = strcmp(lk, "class") == 0 ? LABELS_CLASS : strcmp(lk, "multilabel") == 0 ? LABELS_MULTI
                   : strcmp(lk, "map") == 0 ? LABELS_MAP : strcmp(lk, "none") == 0 ? LABELS_NONE : -1;
    im->C = (int)json_len(classes);
    if (im->label_kind < 0 || (im->label_kind != LABELS_NONE && (im->C < 1 || im->C > 100000))) {
        snprintf(err, errlen, "%s: labels kind '%s' with %d classes is not one lvit knows (class, multilabel, map, none)",
                 path, lk, im->C);
        return -1;
    }
    int64_t sNC[2] = {ds->T, im->C > 0 ? im->C : 1};
    if ((im->label_kind == LABELS_CLASS && !(im->label = mapped(f, "label", ST_I32, 1, sN, err, errlen))) ||
        (im->label_kind == LABELS_MULTI && !(im->multi = mapped(f, "label_multi", ST_U8, 2, sNC, err, errlen))) ||
        (im->label_kind == LABELS_MAP && !(im->label_map = mapped(f, "label_map", ST_I32, 3, s3, err, errlen))))
        return -1;
    im->class_names = xcalloc((size_t)(im->C > 0 ? im->C : 1), LVIT_CLASS_NAME);
    for (int c = 0; c < im->C; c++) {
        const char *nm = json_as_string(json_get(json_at(classes, (size_t)c), "name"));
        snprintf(im->class_names[c], LVIT_CLASS_NAME, "%s", nm ? nm : "");
    }
    ds->names = xcalloc((size_t)ds->V, LVIT_VAR_NAME);
    ds->units = xcalloc((size_t)ds->V, 32);
    ds->mean = xmalloc(sizeof(float) * (size_t)ds->V);
    ds->std = xmalloc(sizeof(float) * (size_t)ds->V);
    for (int v = 0; v < ds->V; v++) {
        const char *nm = json_as_string(json_get(json_at(vars, (size_t)v), "name"));
        const char *un = json_as_string(json_get(json_at(vars, (size_t)v), "units"));
        if (!nm || !nm[0] || !(sd[v] >= FLT_MIN && sd[v] <= FLT_MAX) || !(fabs(mean[v]) <= FLT_MAX)) {
            snprintf(err, errlen, "%s: band %d has no name or a mean/std that is not a float32 value (std at least %g)",
                     path, v, (double)FLT_MIN);
            return -1;
        }
        snprintf(ds->names[v], LVIT_VAR_NAME, "%s", nm);
        snprintf(ds->units[v], 32, "%s", un ? un : "");
        ds->mean[v] = (float)mean[v];
        ds->std[v] = (float)sd[v];
    }
    /* labels index arrays of C classes in the tasks: a value outside [-1, C) is refused here */
    const int64_t plane = (int64_t)ds->H * ds->W;
    for (int64_t k = 0; im->label && k < ds->T; k++)
        if (im->label[k] < -1 || im->label[k] >= im->C) {
            snprintf(err, errlen, "%s: label[%lld] = %d is not a class index in [-1, %d)", path, (long long)k,
                     im->label[k], im->C);
            return -1;
        }
    for (int64_t k = 0; im->multi && k < (int64_t)ds->T * im->C; k++)
        if (im->multi[k] > 1) {
            snprintf(err, errlen, "%s: label_multi holds %d at image %lld, class %lld; expected 0 or 1", path,
                     im->multi[k], (long long)(k / im->C), (long long)(k % im->C));
            return -1;
        }
    for (int64_t k = 0; im->label_map && k < ds->T * plane; k++)
        if (im->label_map[k] < -1 || im->label_map[k] >= im->C) {
            snprintf(err, errlen, "%s: label_map holds %d at image %lld, row %lld, column %lld; expected -1 or a class "
                     "index below %d", path, im->label_map[k], (long long)(k / plane), (long long)(k % plane / ds->W),
                     (long long)(k % ds->W), im->C);
            return -1;
        }
    for (int t = 0; t < ds->T; t++)
        if (im->split[t] > SPLIT_TEST) {
            snprintf(err, errlen, "%s: split[%d] = %d is not 0 (train), 1 (validation) or 2 (test)", path, t, im->split[t]);
            return -1;
        }
    /* training images first in the same sense as the grid kind's time split, for code that reads it */
    ds->t_train_end = ds->t_val_end = ds->T;
    ds->kind = DATASET_IMAGE;
    return 0;
}

int dataset_open(Dataset *ds, const char *path, char *err, size_t errlen) {
    memset(ds, 0, sizeof *ds);
    StFile *f = xcalloc(1, sizeof *f);
    if (st_open(f, path, err, errlen)) {
        free(f);
        return -1;
    }
    JsonValue *meta = NULL;
    const char *mj = st_meta(f, "lvit.dataset");
    const StTensor *td = st_find(f, "data");
    if (!mj || !td || td->ndim != 4) {
        snprintf(err, errlen, "%s: not an lvit dataset (no lvit.dataset metadata or 4-D 'data'); make one with lvit convert",
                 path);
        goto fail;
    }
    if (td->shape[0] < 1 || td->shape[1] < 1 || td->shape[2] < 1 || td->shape[3] < 1 || td->shape[1] > LVIT_MAX_VARS ||
        td->shape[0] > INT32_MAX || td->shape[2] > 100000 || td->shape[3] > 100000) {
        snprintf(err, errlen, "%s: implausible dataset shape", path);
        goto fail;
    }
    ds->T = (int)td->shape[0];
    ds->V = (int)td->shape[1];
    ds->H = (int)td->shape[2];
    ds->W = (int)td->shape[3];
    if (strstr(mj, "\"kind\"")) {   /* only image datasets carry a kind (grid files stay as they were) */
        char jerr0[256];
        meta = json_parse(mj, strlen(mj), 1 << 26, "lvit.dataset", jerr0, sizeof jerr0);
        const char *kind = json_as_string(json_get(meta, "kind"));
        if (!meta || !kind || strcmp(kind, "image")) {
            snprintf(err, errlen, "%s: metadata lvit.dataset: %s", path,
                     meta ? "kind is not \"image\" (a newer lvit's dataset?)" : jerr0);
            goto fail;
        }
        if (open_image(ds, f, meta, err, errlen) || dataset_check_cells(ds, path, err, errlen)) goto fail;
        ds->img.meta = mj;
        snprintf(ds->source, sizeof ds->source, "%s", path);
        ds->owned = f;
        ds->release = release_file;
        json_free(meta);
        return 0;
    }
    int64_t s4[4] = {ds->T, ds->V, ds->H, ds->W}, s3[3] = {ds->V, ds->H, ds->W}, sT[1] = {ds->T}, sV[1] = {ds->V},
            sH[1] = {ds->H}, sW[1] = {ds->W};
    const double *time, *lat, *lon, *mean, *sd;
    if (!(ds->data = mapped(f, "data", ST_F32, 4, s4, err, errlen)) ||
        !(ds->valid = mapped(f, "valid", ST_U8, 4, s4, err, errlen)) ||
        !(ds->clim = mapped(f, "climatology", ST_F32, 3, s3, err, errlen)) ||
        !(time = mapped(f, "time", ST_F64, 1, sT, err, errlen)) || !(lat = mapped(f, "lat", ST_F64, 1, sH, err, errlen)) ||
        !(lon = mapped(f, "lon", ST_F64, 1, sW, err, errlen)) || !(mean = mapped(f, "mean", ST_F64, 1, sV, err, errlen)) ||
        !(sd = mapped(f, "std", ST_F64, 1, sV, err, errlen)))
        goto fail;
    char jerr[256];
    meta = json_parse(mj, strlen(mj), 1 << 24, "lvit.dataset", jerr, sizeof jerr);
    const JsonValue *vars = json_get(meta, "vars"), *split = json_get(meta, "split");
    int64_t a, b;
    if (!meta || json_len(vars) != (size_t)ds->V || json_as_int64(json_get(split, "train_end"), 1, ds->T, &a) ||
        json_as_int64(json_get(split, "val_end"), a, ds->T, &b)) {
        snprintf(err, errlen, "%s: metadata lvit.dataset is invalid (%s)", path, meta ? "vars/split" : jerr);
        goto fail;
    }
    ds->t_train_end = (int)a;
    ds->t_val_end = (int)b;
    ds->names = xcalloc((size_t)ds->V, LVIT_VAR_NAME);
    ds->units = xcalloc((size_t)ds->V, 32);
    ds->hours = xmalloc(sizeof(double) * (size_t)ds->T);
    ds->lat = xmalloc(sizeof(double) * (size_t)ds->H);
    ds->lon = xmalloc(sizeof(double) * (size_t)ds->W);
    ds->mean = xmalloc(sizeof(float) * (size_t)ds->V);
    ds->std = xmalloc(sizeof(float) * (size_t)ds->V);
    for (int v = 0; v < ds->V; v++) {
        const char *nm = json_as_string(json_get(json_at(vars, v), "name"));
        const char *un = json_as_string(json_get(json_at(vars, v), "units"));
        if (!nm || !nm[0] || !(sd[v] > 0) || !isfinite(mean[v])) {
            snprintf(err, errlen, "%s: variable %d has no name or an invalid mean/std", path, v);
            goto fail;
        }
        /* Batches normalize in float32 as (x - mean) / std: both must survive the conversion. */
        if (!(sd[v] >= FLT_MIN && sd[v] <= FLT_MAX) || !(fabs(mean[v]) <= FLT_MAX)) {
            snprintf(err, errlen, "%s: variable %d ('%.64s'): mean %g and std %g must be float32 values, std at least %g",
                     path, v, nm, mean[v], sd[v], (double)FLT_MIN);
            goto fail;
        }
        snprintf(ds->names[v], LVIT_VAR_NAME, "%s", nm);
        snprintf(ds->units[v], 32, "%s", un ? un : "");
        ds->mean[v] = (float)mean[v];
        ds->std[v] = (float)sd[v];
    }
    for (int t = 0; t < ds->T; t++) {
        ds->hours[t] = time[t];
        if (!isfinite(time[t]) || (t && !(time[t] > time[t - 1]))) {
            snprintf(err, errlen, "%s: times are not increasing at index %d", path, t);
            goto fail;
        }
    }
    for (int i = 0; i < ds->H; i++) {
        if (!(fabs(lat[i]) <= 90)) {   /* latitude weights are cos(lat) */
            snprintf(err, errlen, "%s: lat[%d] = %g is not a latitude in [-90, 90]", path, i, lat[i]);
            goto fail;
        }
        ds->lat[i] = lat[i];
    }
    for (int j = 0; j < ds->W; j++) {
        if (!(fabs(lon[j]) <= 1e6)) {
            snprintf(err, errlen, "%s: lon[%d] = %g is not a finite longitude", path, j, lon[j]);
            goto fail;
        }
        ds->lon[j] = lon[j];
    }
    if (dataset_check_cells(ds, path, err, errlen)) goto fail;
    snprintf(ds->source, sizeof ds->source, "%s", path);
    ds->owned = f;
    ds->release = release_file;
    json_free(meta);
    return 0;
fail:
    json_free(meta);
    ds->owned = f;
    ds->release = release_file;
    ds->data = NULL;
    ds->valid = NULL;
    ds->clim = NULL;
    dataset_free(ds);
    return -1;
}
