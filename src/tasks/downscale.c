/* Downscaling (ORBIT-2's Reslim): a sample is one time's coarse inputs and fine targets, or one
 * TILES window of them (data/downscale.h); the loss adds a total-variation term; the model is a
 * Reslim (cfg->scale > 1) on the coarse grid, or on a window of it. */
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "data/downscale.h"
#include "tasks/jobs.h"
#include "tasks/task.h"

typedef struct DownscaleTask {
    const Downscale *d;
    float tv_weight;
    char *desc;
} DownscaleTask;

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

static char *ds_describe(const Task *t) {
    const char *desc = ((const DownscaleTask *)t->self)->desc;
    return desc ? xstrdup(desc) : NULL;
}

static void ds_free(Task *t) {
    DownscaleTask *s = t->self;
    free(s->desc);
    free(s);
}

static int ds_owns(const VitConfig *cfg) { return cfg->scale > 1; }

const TaskOps task_downscale_ops = {
    .name = "downscale",
    .stage_config = ds_stage_config,
    .sampler = ds_sampler,
    .batch_init = ds_batch_init,
    .batch_extra = ds_batch_extra,
    .batch_bind = ds_batch_bind,
    .reg_weight = ds_reg_weight,
    .log = ds_log,
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
