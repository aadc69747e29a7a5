/* What the downscaling task's eval and predict share (tasks/downscale_run.h). */
#include "tasks/downscale_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"

/* The run's model and data: the flags given override what lvit.data recorded (data file, static
 * inputs, coarse files). */
void ds_run_open(DsRun *r, const char *run, const char *data, const char *statics, const char *coarse,
                        const TaskOptions *tiles, const char *cmd) {
    memset(r, 0, sizeof *r);
    char err[2048];
    snprintf(r->ckpt, sizeof r->ckpt, "%s/model.safetensors", run);
    if (ckpt_load_config(r->ckpt, &r->cfg, &r->mean, &r->std, err, sizeof err)) DIE_USER("%s", err);
    if (!r->mean) DIE_USER("%s: no normalization statistics (lvit.norm)", r->ckpt);
    r->desc = ckpt_load_data_desc(r->ckpt);
    JsonValue *jd = r->desc ? json_parse(r->desc, strlen(r->desc), 1 << 16, "lvit.data", err, sizeof err) : NULL;
    const JsonValue *dsj = json_get(jd, "downscale");
    const char *src = json_as_string(json_get(jd, "source"));
    if (!data) data = src;
    if (!data || strcmp(data, "synthetic") == 0)
        DIE_USER("lvit %s: --data DATASET is needed (the model was not trained on a dataset file)", cmd);
    r->f = *tiles;
    r->f.scale = r->cfg.scale;
    r->f.res_width = r->cfg.res_width;
    r->f.base = r->cfg.ds_base;
    r->f.statics = statics ? statics : json_as_string(json_get(dsj, "static"));
    r->f.coarse = coarse ? coarse : json_as_string(json_get(dsj, "coarse_data"));
    r->f.var_weights = NULL;
    if (dataset_open(&r->ds, data, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
    if (r->ds.V != r->cfg.Vo) DIE_USER("lvit %s: %s has %d variables, the model downscales %d", cmd, data, r->ds.V, r->cfg.Vo);
    for (int v = 0; v < r->ds.V; v++)
        if (strcmp(r->ds.names[v], r->cfg.var_names[v]))
            DIE_USER("lvit %s: variable %d is %s in %s but %s in the model", cmd, v, r->ds.names[v], data, r->cfg.var_names[v]);
    memcpy(r->ds.mean, r->mean, sizeof(float) * (size_t)r->ds.V);
    memcpy(r->ds.std, r->std, sizeof(float) * (size_t)r->ds.V);
    downscale_data_open(&r->dd, &r->f, &r->ds, r->cfg.p, cmd);
    json_free(jd); /* the strings above were used by downscale_data_open */
    r->f.statics = r->f.coarse = NULL;
    const Downscale *d = &r->dd.d;
    if (d->V != r->cfg.V || d->hp != r->cfg.H || d->wp != r->cfg.W) {
        char names[512] = "";
        for (int v = r->cfg.Vo; v < r->cfg.V; v++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", v > r->cfg.Vo ? "," : "", r->cfg.var_names[v]);
        DIE_USER("lvit %s: the model takes %d inputs (static: %s) on a %dx%d coarse grid; this data gives %d on %dx%d "
                 "(give the --static inputs and --data the model was trained with)", cmd, r->cfg.V, *names ? names : "none",
                 r->cfg.H, r->cfg.W, d->V, d->hp, d->wp);
    }
}

void ds_run_close(DsRun *r) {
    downscale_data_close(&r->dd);
    dataset_free(&r->ds);
    vit_config_free(&r->cfg);
    free(r->mean), free(r->std), free(r->desc);
}

/* --device: the CPU's kernel table or the GPU's (exit 2 with the reason when there is none) */
const Kernels *ds_kernels(int device, const char *cmd) {
    if (!device) return kernels_cpu();
    char err[512];
    const Kernels *k = kernels_cuda(err, sizeof err);
    if (!k) DIE_USER("lvit %s: --device cuda: %s", cmd, err);
    return k;
}

void split_range(const Dataset *ds, const char *split, int *t0, int *t1, const char *cmd) {
    if (!strcmp(split, "test")) *t0 = ds->t_val_end, *t1 = ds->T;
    else if (!strcmp(split, "val")) *t0 = ds->t_train_end, *t1 = ds->t_val_end;
    else if (!strcmp(split, "train")) *t0 = 0, *t1 = ds->t_train_end;
    else DIE_USER("lvit %s: --split expects test, val or train, got '%s'", cmd, split);
    if (*t0 >= *t1) DIE_USER("lvit %s: the %s split of %s is empty", cmd, split, ds->source);
}

/* The truth [Vo, H, W] of time t on the used cells and where it is valid. */
void truth_at(const Downscale *d, int t, float *y, unsigned char *ok) {
    const Dataset *ds = d->ds;
    for (int v = 0; v < d->Vo; v++)
        for (int r = 0; r < d->H; r++)
            for (int c = 0; c < d->W; c++) {
                const int64_t q = (((int64_t)t * ds->V + v) * ds->H + r) * ds->W + c, o = ((int64_t)v * d->H + r) * d->W + c;
                y[o] = ds->data[q];
                ok[o] = !ds->valid || ds->valid[q];
            }
}
