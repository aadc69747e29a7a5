/* Forecasting: a sample is (state at t, state at t + lead) for the lead times given; the model
 * sees the whole grid (padded to whole patches), a sequence-parallel rank only its band of rows. */
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "tasks/jobs.h"
#include "tasks/task.h"

typedef struct Forecast {
    float leads[SAMPLER_MAX_KINDS];
    int nlead;
} Forecast;

static void fc_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->ds->kind != DATASET_GRID)
        DIE_USER("lvit %s --task forecast: %s is an image dataset (no times or lat/lon); it is for the image tasks",
                 s->cmd, s->ds->source);
    if (s->downscale_given) DIE_USER("lvit %s: --scale, --tiles and --static are for --task downscale", s->cmd);
    model_options_to_config(s->model, s->ds->V, s->ds->H, s->ds->W, cfg, s->cmd);
    memcpy(cfg->var_names, s->ds->names, (size_t)s->ds->V * LVIT_VAR_NAME);
    task_forecast_init(t, s->ds, s->leads, s->nlead);
}

static void fc_stage_config(const Task *t, VitConfig *sc) { (void)t, (void)sc; }

static int fc_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    const Forecast *f = t->self;
    return sampler_init(s, t->ds, t0, t1, f->leads, f->nlead, seed, shuffle, err, errlen);
}

static int fc_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    const VitConfig *c = &m->cfg;
    host_batch_init_rows(hb, B, c->V, c->H, c->W, m->row0, m->lc.H);
    hb->residual = c->residual;
    dataset_lat_weights(t->ds, hb->wlat, c->H);
    return c->H;
}

static int64_t fc_batch_extra(const Task *t) { return (void)t, 0; }

static void fc_batch_bind(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k) {
    (void)t, (void)b, (void)hb, (void)extra, (void)B_global, (void)k;
}

static float fc_reg_weight(const Task *t) { return (void)t, 0.0f; }

static void fc_log(const Task *t, const VitConfig *c, const VitConfig *sample) { (void)t, (void)c, (void)sample; }

static char *fc_describe(const Task *t) { return (void)t, NULL; }

static void fc_free(Task *t) { free(t->self); }

static int fc_owns(const VitConfig *cfg) { return cfg->scale <= 1 && !vit_classify(cfg) && !vit_mae(cfg); }

const TaskOps task_forecast_ops = {
    .name = "forecast",
    .open = fc_open,
    .stage_config = fc_stage_config,
    .sampler = fc_sampler,
    .batch_init = fc_batch_init,
    .batch_extra = fc_batch_extra,
    .batch_bind = fc_batch_bind,
    .reg_weight = fc_reg_weight,
    .log = fc_log,
    .describe = fc_describe,
    .free = fc_free,
    .owns = fc_owns,
    .eval = forecast_eval,
    .predict = forecast_predict,
};

void task_forecast_init(Task *t, const Dataset *ds, const float *leads_h, int nlead) {
    CHECK(nlead >= 1 && nlead <= SAMPLER_MAX_KINDS, "forecast: %d lead times", nlead);
    Forecast *f = xcalloc(1, sizeof *f);
    memcpy(f->leads, leads_h, sizeof(float) * (size_t)nlead);
    f->nlead = nlead;
    *t = (Task){&task_forecast_ops, ds, f};
}

void task_free(Task *t) {
    if (t->ops) t->ops->free(t);
    memset(t, 0, sizeof *t);
}

