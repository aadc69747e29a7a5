/* Reopening a trained classification or segmentation run (image_run.h). */
#include "tasks/image_run.h"
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"
#include "tasks/classify_data.h"

/* The dataset's classes against those the model was trained on (names, in order): the same count
 * with other names or values would be scored against the wrong classes. */
static void check_classes(const ImageRun *r, const JsonValue *classes, const char *data, const char *cmd) {
    const size_t n = json_len(classes);
    if (!classes || r->ds.kind != DATASET_IMAGE || n != (size_t)r->ds.img.C) return; /* (a count differs: below) */
    for (size_t k = 0; k < n; k++) {
        const char *want = json_as_string(json_at(classes, k)), *have = r->ds.img.class_names[k];
        if (want && have && strcmp(want, have))
            DIE_USER("lvit %s: class %zu is '%s' in %s but '%s' in the model %s (the same classes in the same order, "
                     "as lvit convert numbered them, are needed)", cmd, k, have, data, want, r->ckpt);
    }
}

void image_run_open(ImageRun *r, const char *run, const char *data, LabelRasterRead rd, const char *cmd,
                    const char *key) {
    memset(r, 0, sizeof *r);
    const char *given = data;
    char err[2048];
    snprintf(r->ckpt, sizeof r->ckpt, "%s/model.safetensors", run);
    if (ckpt_load_config(r->ckpt, &r->cfg, &r->mean, &r->std, err, sizeof err)) DIE_USER("%s", err);
    if (!r->mean) DIE_USER("%s: no normalization statistics (lvit.norm) in the checkpoint", r->ckpt);
    char *desc = ckpt_load_data_desc(r->ckpt);
    RunMeta rm;
    if (run_meta_parse(&rm, desc, r->ckpt, err, sizeof err)) DIE_USER("%s", err);
    JsonValue *root = desc ? json_parse(desc, strlen(desc), 1 << 28, "lvit.data", err, sizeof err) : NULL;
    r->opts = (TaskOptions)TASK_OPTIONS_DEFAULT;
    if (classify_options_from_json(root ? json_get(root, key) : NULL, &r->opts, err, sizeof err))
        DIE_USER("%s: %s", r->ckpt, err);
    r->opts.read_raster = rd; /* a split by label rasters: the recorded files read again */
    data = run_meta_open_dataset(&r->ds, &rm, data, r->ckpt);
    const JsonValue *task = json_get(root, key), *names = json_get(task, "classes"), *vals = json_get(task, "class_values");
    check_classes(r, names, data, cmd);
    r->nclass = (int)json_len(names);
    r->class_names = xcalloc((size_t)r->nclass + 1, sizeof *r->class_names);
    for (int k = 0; k < r->nclass; k++) {
        const char *nm = json_as_string(json_at(names, (size_t)k));
        r->class_names[k] = xstrdup(nm ? nm : "?");
    }
    if (r->nclass && json_len(vals) == (size_t)r->nclass) {
        r->class_values = xmalloc(sizeof(double) * (size_t)r->nclass);
        for (int k = 0; k < r->nclass; k++)
            if (json_as_double(json_at(vals, (size_t)k), &r->class_values[k])) r->class_values[k] = k + 1;
    }
    const JsonValue *hs = json_get(json_get(json_get(root, key), "split"), "hashes");
    for (size_t i = 0; i < 2 && i < json_len(hs); i++) {
        const char *h = json_as_string(json_at(hs, i));
        snprintf(r->split_hash[i], sizeof r->split_hash[i], "%s", h ? h : "");
    }
    json_free(root);
    free(desc);
    snprintf(r->data, sizeof r->data, "%s", data);
    char a[PATH_MAX], b[PATH_MAX];
    if (given && *rm.source && !(realpath(given, a) && realpath(rm.source, b) && !strcmp(a, b))) {
        const char *base = strrchr(given, '/') ? strrchr(given, '/') + 1 : given;
        size_t n = 0;
        r->tag[n++] = '_';
        for (const char *c = base; *c && *c != '.' && n + 1 < sizeof r->tag; c++) /* a file-name-safe stem */
            r->tag[n++] = (isalnum((unsigned char)*c) || *c == '-' || *c == '_') ? *c : '_';
        r->tag[n] = 0;
    }
    run_meta_free(&rm);
    if (r->ds.V != r->cfg.V) DIE_USER("lvit %s: %s has %d bands, the model %s takes %d", cmd, r->data, r->ds.V, r->ckpt, r->cfg.V);
    for (int v = 0; v < r->ds.V; v++)
        if (strcmp(r->ds.names[v], r->cfg.var_names[v]))
            DIE_USER("lvit %s: band %d is '%s' in %s but '%s' in the model %s", cmd, v, r->ds.names[v], r->data,
                     r->cfg.var_names[v], r->ckpt);
    memcpy(r->ds.mean, r->mean, sizeof(float) * (size_t)r->cfg.V); /* the model's normalisation */
    memcpy(r->ds.std, r->std, sizeof(float) * (size_t)r->cfg.V);
}

int image_run_labelled(const ImageRun *r) { return r->ds.kind != DATASET_IMAGE || r->ds.img.label_kind != LABELS_NONE; }

void image_run_close(ImageRun *r) {
    for (int k = 0; k < r->nclass; k++) free(r->class_names[k]);
    free(r->class_names), free(r->class_values);
    classify_options_free(&r->opts);
    dataset_free(&r->ds);
    vit_config_free(&r->cfg);
    free(r->mean), free(r->std);
}

void image_run_check_split(const ImageRun *r, const ClassifyData *cd) {
    for (int i = 0; i < 2; i++)
        if (cd->labels_src[i] && *r->split_hash[i] && *cd->labels_hash[i] && strcmp(r->split_hash[i], cd->labels_hash[i]))
            log_warn("%s is not the raster the model was trained with (content hash %s, recorded %s): the split it gives "
                     "now is the one scored", cd->labels_src[i], cd->labels_hash[i], r->split_hash[i]);
}
