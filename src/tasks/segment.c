/* Semantic segmentation of a scene (--task segment): a sample is a tile of the image, the model the
 * ViT with its per-pixel image head emitting K class logits per pixel (cfg->seg_classes), the loss a
 * softmax cross-entropy over the tile's labelled pixels of the sample's set (the classification loss
 * kernel on rows of K logits, model/vit.c). Samples and split: tasks/segment_data.h; evaluation and
 * prediction: tasks/segment_eval.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "tasks/jobs.h"
#include "tasks/segment_data.h"
#include "tasks/task.h"

static void seg_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->leads_given) DIE_USER("lvit %s: --leads is for forecasting; --task segment learns labels", s->cmd);
    if (s->downscale_given) DIE_USER("lvit %s: --scale, --tiles and --static are for --task downscale", s->cmd);
    if (s->model->residual) DIE_USER("lvit %s: --residual is for forecasting; --task segment learns labels", s->cmd);
    if (s->model->channels != CH_AGG)
        DIE_USER("lvit %s --task segment: needs --channels agg (the head emits every class of a token's pixels)", s->cmd);
    if (s->opts->window < 1 || s->opts->window > 1024)
        DIE_USER("lvit %s --task segment: --window %d: expected a tile of 1..1024 pixels", s->cmd, s->opts->window);
    SegmentData *sd = xcalloc(1, sizeof *sd);
    char err[2048];
    if (segment_data_open(sd, s->ds, s->opts, s->model->patch, err, sizeof err))
        DIE_USER("lvit %s --task segment: %s", s->cmd, err);
    model_options_to_config(s->model, s->ds->V, sd->cd.Hp, sd->cd.Wp, cfg, s->cmd);
    memcpy(cfg->var_names, s->ds->names, (size_t)s->ds->V * LVIT_VAR_NAME);
    cfg->seg_classes = cfg->Vo = sd->cd.K;
    if (vit_config_check(cfg, err, sizeof err)) DIE_USER("lvit %s --task segment: %s", s->cmd, err);
    *t = (Task){&task_segment_ops, s->ds, sd};
}

static void seg_stage_config(const Task *t, VitConfig *sc) {
    const SegmentData *sd = t->self;
    CHECK(sc->seg_classes == sd->cd.K && sc->H == sd->cd.Hp && sc->W == sd->cd.Wp && sc->V == sd->cd.ds->V,
          "segmentation model (%d classes, %d bands, %dx%d) for data of %d classes, %d bands, %dx%d", sc->seg_classes,
          sc->V, sc->H, sc->W, sd->cd.K, sd->cd.ds->V, sd->cd.Hp, sd->cd.Wp);
}

static int seg_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    return sampler_init_list(s, t->ds, t0, (int64_t)t1 - t0, seed, shuffle, err, errlen);
}

static void seg_ranges(const Task *t, int *train_end, int *val_end) {
    const SegmentData *sd = t->self;
    *train_end = (int)sd->cd.n[SPLIT_TRAIN];
    *val_end = (int)(sd->cd.n[SPLIT_TRAIN] + sd->cd.n[SPLIT_VAL]);
}

static int seg_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    host_batch_init_segment(hb, B, t->self, m->row0, m->lc.H);
    return 1;
}

static int64_t seg_batch_extra(const Task *t) { return (void)t, 0; }

static void seg_batch_bind(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k) {
    (void)t, (void)b, (void)hb, (void)extra, (void)B_global, (void)k;
}

static float seg_reg_weight(const Task *t) { return (void)t, 0.0f; }

static void seg_log(const Task *t, const VitConfig *c, const VitConfig *sample) {
    (void)sample;
    const SegmentData *sd = t->self;
    log_info("segment: %d classes, %dx%d-pixel tiles (model grid %dx%d, %lld tokens, %d logits per pixel); split %s: "
             "%lld training pixels in %lld tiles, %lld test pixels in %lld tiles", sd->cd.K, sd->tile, sd->tile, c->H,
             c->W, (long long)vit_S(c), c->seg_classes,
             sd->cd.split_mode == CLS_SPLIT_RASTERS ? (sd->cd.labels_src[1] ? "by the label rasters --train-labels and --test-labels"
                                                                              : "by the --split-mask raster")
                                                    : "by tiles (spatially disjoint)",
             (long long)sd->npix[SPLIT_TRAIN], (long long)sd->cd.n[SPLIT_TRAIN], (long long)sd->npix[SPLIT_TEST],
             (long long)sd->cd.n[SPLIT_TEST]);
}

static void seg_run_files(const Task *t, const char *run) {
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/split.csv", run);
    if (segment_write_split(t->self, path, err, sizeof err)) DIE_USER("lvit train: %s", err);
}

static char *seg_describe(const Task *t) { return segment_describe(t->self); }

static void seg_free(Task *t) {
    segment_data_close(t->self);
    free(t->self);
}

static int seg_owns(const VitConfig *cfg) { return vit_segment(cfg); }

const TaskOps task_segment_ops = {
    .name = "segment",
    .open = seg_open,
    .stage_config = seg_stage_config,
    .sampler = seg_sampler,
    .batch_init = seg_batch_init,
    .batch_extra = seg_batch_extra,
    .batch_bind = seg_batch_bind,
    .reg_weight = seg_reg_weight,
    .log = seg_log,
    .ranges = seg_ranges,
    .run_files = seg_run_files,
    .describe = seg_describe,
    .free = seg_free,
    .owns = seg_owns,
    .eval = segment_eval,
    .predict = segment_predict,
};
