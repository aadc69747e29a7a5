/* Downscaling (ORBIT-2's Reslim): a sample is one time's coarse inputs and fine targets, or one
 * TILES window of them (data/downscale.h); the loss adds a total-variation term; the model is a
 * Reslim (cfg->scale > 1) on the coarse grid, or on a window of it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "tasks/downscale_setup.h"
#include "tasks/jobs.h"
#include "tasks/task.h"

typedef struct DownscaleTask {
    DownscaleData *own;     /* the pairs, when the task opened them itself (open) */
    const Downscale *d;
    float tv_weight;
    char *desc;
} DownscaleTask;

/* The model sees the coarse grid; its inputs are the variables and the static fields. */
static void ds_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->ds->kind != DATASET_GRID)
        DIE_USER("lvit %s --task downscale: %s is an image dataset (no times or lat/lon); it is for the image tasks",
                 s->cmd, s->ds->source);
    if (s->leads_given)
        DIE_USER("lvit %s: --leads is for forecasting; --task downscale pairs each time's coarse and fine fields", s->cmd);
    if (s->par && s->par->sp.size > 1)
        parallel_refuse(s->par, "lvit %s --task downscale: sequence parallelism is not supported for downscaling (the "
                        "convolutions would need rows of other ranks); long sequences are what --tiles is for (tiles "
                        "spread over --dp)", s->cmd);
    DownscaleData *dd = xcalloc(1, sizeof *dd);
    downscale_data_open(dd, s->opts, s->ds, s->model->patch, s->cmd);
    model_options_to_config(s->model, dd->d.V, dd->d.h, dd->d.w, cfg, s->cmd);
    downscale_data_config(dd, s->opts, cfg, s->cmd);
    char *desc = downscale_data_desc(s->opts);
    task_downscale_init(t, &dd->d, s->opts->tv_weight, desc);
    free(desc);
    ((DownscaleTask *)t->self)->own = dd;
}

static void ds_stage_config(const Task *t, VitConfig *sc) {
    const Downscale *d = ((const DownscaleTask *)t->self)->d;
    CHECK(sc->scale == d->s && sc->V == d->V && sc->Vo == d->Vo && sc->H == d->hp && sc->W == d->wp,
          "downscaling model (scale %d, %d -> %d variables, %dx%d) for data of scale %d, %d -> %d, %dx%d", sc->scale,
          sc->V, sc->Vo, sc->H, sc->W, d->s, d->V, d->Vo, d->hp, d->wp);
    sc->tile_h = downscale_tiled(d) ? d->tp.th : 0;
    sc->tile_w = downscale_tiled(d) ? d->tp.tw : 0;
}

static int ds_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    return downscale_sampler(s, ((const DownscaleTask *)t->self)->d, t0, t1, seed, shuffle, err, errlen);
}

static int ds_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    (void)m;
    const Downscale *d = ((const DownscaleTask *)t->self)->d;
    host_batch_init_downscale(hb, B, d);
    return d->s * d->tp.th;
}

static int64_t ds_batch_extra(const Task *t) { return ((const DownscaleTask *)t->self)->d->Vo; }

static void ds_batch_bind(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k) {
    const Downscale *d = ((const DownscaleTask *)t->self)->d;
    k->upload(extra, d->vw, d->Vo); /* per-variable loss weights */
    b->vw = extra;
    b->tv_denom = (double)B_global * hb->ny; /* TV normalized by the global batch's fine cells */
}

static float ds_reg_weight(const Task *t) { return ((const DownscaleTask *)t->self)->tv_weight; }

static void ds_log(const Task *t, const VitConfig *c, const VitConfig *sample) {
    const Downscale *d = ((const DownscaleTask *)t->self)->d;
    log_info("downscale: Reslim x%d, %d inputs (%d variables + %d static) on the %dx%d coarse grid -> %dx%d; %s", d->s, d->V,
             d->Vo, d->Ns, d->h, d->w, d->H, d->W, downscale_tiled(d) ? "trained on TILES windows" : "whole fields");
    if (downscale_tiled(d))
        log_info("tiles: %dx%d windows of %dx%d coarse cells (cores %dx%d, halo %d rows / %d columns%s), %lld tokens each "
                 "instead of %lld", d->tp.n, d->tp.n, d->tp.th, d->tp.tw, d->tp.ch, d->tp.cw, d->tp.hv, d->tp.hh,
                 d->periodic ? ", periodic in longitude" : "", (long long)vit_S(sample), (long long)vit_S(c));
}

/* TILES: one image is n^2 windows; the attention work per image and the activations per window */
static void ds_bench_report(const Task *t, const VitConfig *cfg, double step_ms, int batch, int64_t act_floats, int print0) {
    const Downscale *d = ((const DownscaleTask *)t->self)->d;
    const TilePlan *tp = &d->tp;
    const int nw = tiles_count(tp);
    const double S = (double)(tp->th / cfg->p) * (tp->tw / cfg->p), Sfull = (double)vit_L(cfg);
    const double attn = 4.0 * S * S * cfg->D * cfg->depth * nw * 3 / 1e9,
                 attn_full = 4.0 * Sfull * Sfull * cfg->D * cfg->depth * 3 / 1e9, act_mib = act_floats * 4.0 / 1048576;
    log_info("downscale: fine %dx%d <- coarse %dx%d, %dx%d window%s of %dx%d cells (%.0f tokens); attention %.3f GFLOP "
             "per image per step (untiled %.0f tokens: %.3f); activations %.1f MiB for %d window%s; %.1f ms per image",
             d->H, d->W, d->h, d->w, tp->n, tp->n, nw > 1 ? "s" : "", tp->th, tp->tw, S, attn, Sfull, attn_full, act_mib,
             batch, batch > 1 ? "s" : "", step_ms * nw / batch);
    if (print0)
        printf("tiles_bench: fine %dx%d tiles %d window_tokens %.0f attn_gflop_per_image %.4f act_mib %.2f batch %d "
               "image_ms %.2f\n", d->H, d->W, tp->n, S, attn, act_mib, batch, step_ms * nw / batch);
}

static char *ds_describe(const Task *t) {
    const char *desc = ((const DownscaleTask *)t->self)->desc;
    return desc ? xstrdup(desc) : NULL;
}

static void ds_free(Task *t) {
    DownscaleTask *s = t->self;
    if (s->own) downscale_data_close(s->own), free(s->own);
    free(s->desc);
    free(s);
}

static int ds_owns(const VitConfig *cfg) { return cfg->scale > 1; }

const TaskOps task_downscale_ops = {
    .name = "downscale",
    .open = ds_open,
    .stage_config = ds_stage_config,
    .sampler = ds_sampler,
    .batch_init = ds_batch_init,
    .batch_extra = ds_batch_extra,
    .batch_bind = ds_batch_bind,
    .reg_weight = ds_reg_weight,
    .log = ds_log,
    .bench_report = ds_bench_report,
    .describe = ds_describe,
    .free = ds_free,
    .owns = ds_owns,
    .eval = downscale_eval,
    .predict = downscale_predict,
};

void task_downscale_init(Task *t, const Downscale *d, float tv_weight, const char *desc) {
    DownscaleTask *s = xcalloc(1, sizeof *s);
    s->d = d;
    s->tv_weight = tv_weight;
    s->desc = desc ? xstrdup(desc) : NULL;
    *t = (Task){&task_downscale_ops, d->ds, s};
}
