/* Classification of an image dataset: a sample is an image (scene classification, one class or
 * several) or the window around a labelled pixel of a label raster (pixel classification of
 * hyperspectral scenes); the model is the ViT with the classification head (cfg->classes), the
 * loss softmax cross-entropy (or per-class sigmoid for multi-label). Samples and split:
 * tasks/classify_data.h; evaluation: tasks/classify_eval.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "tasks/classify_data.h"
#include "tasks/jobs.h"
#include "tasks/task.h"

static void cl_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->leads_given) DIE_USER("lvit %s: --leads is for forecasting; --task classify learns labels", s->cmd);
    if (s->downscale_given) DIE_USER("lvit %s: --scale, --tiles and --static are for --task downscale", s->cmd);
    if (s->model->residual) DIE_USER("lvit %s: --residual is for forecasting; --task classify learns labels", s->cmd);
    ClassifyData *cd = xcalloc(1, sizeof *cd);
    char err[1024];
    if (s->opts->window < 1 || s->opts->window > 1024)
        DIE_USER("lvit %s --task classify: --window %d: expected 1..1024 pixels", s->cmd, s->opts->window);
    if (s->opts->split_block < 1)
        DIE_USER("lvit %s --task classify: --split-block %d: expected at least 1 pixel", s->cmd, s->opts->split_block);
    if (classify_data_open(cd, s->ds, s->opts, s->model->patch, err, sizeof err))
        DIE_USER("lvit %s --task classify: %s", s->cmd, err);
    model_options_to_config(s->model, s->ds->V, cd->Hp, cd->Wp, cfg, s->cmd);
    memcpy(cfg->var_names, s->ds->names, (size_t)s->ds->V * LVIT_VAR_NAME);
    cfg->classes = cd->K;
    cfg->multilabel = cd->multi;
    if (vit_config_check(cfg, err, sizeof err)) DIE_USER("lvit %s --task classify: %s", s->cmd, err);
    if (cd->pixel && s->opts->split_mode == CLS_SPLIT_RANDOM && (!s->par || s->par->world.rank == 0))
        log_warn("--split random: training and test pixels are neighbours, whose windows overlap; scores on such a "
                 "split are inflated and not comparable with a spatially disjoint one (the default, --split blocks)");
    *t = (Task){&task_classify_ops, s->ds, cd};
}

static void cl_stage_config(const Task *t, VitConfig *sc) {
    const ClassifyData *cd = t->self;
    CHECK(sc->classes == cd->K && sc->H == cd->Hp && sc->W == cd->Wp && sc->V == cd->ds->V,
          "classifier (%d classes, %d bands, %dx%d) for data of %d classes, %d bands, %dx%d", sc->classes, sc->V, sc->H,
          sc->W, cd->K, cd->ds->V, cd->Hp, cd->Wp);
}

static int cl_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    return sampler_init_list(s, t->ds, t0, (int64_t)t1 - t0, seed, shuffle, err, errlen);
}

static void cl_ranges(const Task *t, int *train_end, int *val_end) {
    const ClassifyData *cd = t->self;
    *train_end = (int)cd->n[SPLIT_TRAIN];
    *val_end = (int)(cd->n[SPLIT_TRAIN] + cd->n[SPLIT_VAL]);
}

static int cl_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    host_batch_init_classify(hb, B, t->self, m->row0, m->lc.H);
    return 1;
}

static int64_t cl_batch_extra(const Task *t) { return (void)t, 0; }

static void cl_batch_bind(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k) {
    (void)t, (void)b, (void)hb, (void)extra, (void)B_global, (void)k;
}

static float cl_reg_weight(const Task *t) { return (void)t, 0.0f; }

static void cl_log(const Task *t, const VitConfig *c, const VitConfig *sample) {
    (void)sample;
    const ClassifyData *cd = t->self;
    if (cd->pixel)
        log_info("classify: %d classes, %dx%d-pixel windows around labelled pixels (model grid %dx%d, %lld tokens); "
                 "split %s: %lld training pixels%s, %lld test pixels (%d more left out: inside a training pixel's "
                 "window)", cd->K, cd->window, cd->window, c->H, c->W, (long long)vit_S(c),
                 cd->split_mode == CLS_SPLIT_BLOCKS ? "by spatial blocks" : cd->split_mode == CLS_SPLIT_RASTERS
                 ? (cd->labels_src[1] ? "by the label rasters --train-labels and --test-labels" : "by the --split-mask raster") : "at random (not spatially disjoint)",
                 (long long)cd->n[SPLIT_TRAIN], cd->per_class > 0 ? " (--per-class)" : "", (long long)cd->n[SPLIT_TEST],
                 cd->dropped_guard);
    else
        log_info("classify: %d classes%s, whole %dx%d images (%lld tokens); %lld training, %lld validation, %lld test "
                 "images", cd->K, cd->multi ? " (multi-label: a sigmoid per class)" : "", cd->ds->H, cd->ds->W,
                 (long long)vit_S(c), (long long)cd->n[SPLIT_TRAIN], (long long)cd->n[SPLIT_VAL],
                 (long long)cd->n[SPLIT_TEST]);
    if (cd->pixel && cd->split_mode == CLS_SPLIT_BLOCKS)
        log_info("split blocks: %d pixels square, seed %llu", cd->split_block, (unsigned long long)cd->split_seed);
}

static void cl_run_files(const Task *t, const char *run) {
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/split.csv", run);
    if (classify_write_split(t->self, path, err, sizeof err)) DIE_USER("lvit train: %s", err);
}

static char *cl_describe(const Task *t) { return classify_describe(t->self); }

static void cl_free(Task *t) {
    classify_data_close(t->self);
    free(t->self);
}

static int cl_owns(const VitConfig *cfg) { return vit_classify(cfg); }

const TaskOps task_classify_ops = {
    .name = "classify",
    .open = cl_open,
    .stage_config = cl_stage_config,
    .sampler = cl_sampler,
    .batch_init = cl_batch_init,
    .batch_extra = cl_batch_extra,
    .batch_bind = cl_batch_bind,
    .reg_weight = cl_reg_weight,
    .log = cl_log,
    .ranges = cl_ranges,
    .run_files = cl_run_files,
    .describe = cl_describe,
    .free = cl_free,
    .owns = cl_owns,
    .eval = classify_eval,
    .predict = classify_predict,
};
