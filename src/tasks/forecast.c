/* Forecasting: a sample is (state at t, state at t + lead) for the lead times given; the model
 * sees the whole grid (padded to whole patches), a sequence-parallel rank only its band of rows. */
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include "core/check.h"
#include "core/log.h"
#include "data/anchor.h"
#include "eval/blend.h"
#include "eval/metrics.h"
#include "tasks/forecast_run.h"
#include "tasks/jobs.h"
#include "tasks/task.h"

typedef struct Forecast {
    float leads[SAMPLER_MAX_KINDS];
    int nlead;
    int history;   /* earlier states as inputs */
    float step_h;  /* the data's time step: the history's spacing */
    Anchor anchor; /* nlead 0: the targets are the states themselves (or changes, --residual) */
} Forecast;

/* The blend anchor fitted on the training split at the training leads (sorted), its climatology
 * normalised as the inputs are. */
static void fit_anchor(Anchor *an, const Dataset *ds, const float *leads, int nlead, const char *cmd) {
    if (nlead > ANCHOR_MAX_LEADS)
        DIE_USER("lvit %s: --anchor blend takes at most %d --leads, got %d", cmd, ANCHOR_MAX_LEADS, nlead);
    const int V = ds->V, H = ds->H, W = ds->W;
    const size_t plane = (size_t)H * W;
    *an = (Anchor){.V = V, .H = H, .W = W, .nlead = nlead};
    for (int i = 0; i < nlead; i++) an->lead_h[i] = leads[i];
    for (int i = 1; i < nlead; i++) /* insertion sort: a handful of leads */
        for (int j = i; j > 0 && an->lead_h[j] < an->lead_h[j - 1]; j--) {
            float t = an->lead_h[j];
            an->lead_h[j] = an->lead_h[j - 1], an->lead_h[j - 1] = t;
        }
    for (int i = 1; i < nlead; i++)
        if (an->lead_h[i] == an->lead_h[i - 1]) DIE_USER("lvit %s: --leads names %g h twice", cmd, an->lead_h[i]);
    double *lat = xmalloc(sizeof(double) * (size_t)H), *w = xmalloc(sizeof(double) * (size_t)H);
    for (int r = 0; r < H; r++) lat[r] = (float)ds->lat[r];
    lat_weights(w, lat, H);
    double *a = xmalloc(sizeof(double) * (size_t)V), *rms = xmalloc(sizeof(double) * (size_t)V);
    an->coef = xmalloc(sizeof(float) * (size_t)nlead * V);
    an->scale = xmalloc(sizeof(float) * (size_t)nlead * V);
    char err[1024];
    for (int i = 0; i < nlead; i++) {
        if (blend_fit_rms(ds, 0, ds->t_train_end, an->lead_h[i], w, a, rms, err, sizeof err))
            DIE_USER("lvit %s: fitting the blend anchor at %g h on the training split of %s: %s (or --anchor none)", cmd,
                     an->lead_h[i], ds->source, err);
        for (int v = 0; v < V; v++) {
            an->coef[(size_t)i * V + v] = (float)a[v];
            const double sc = rms[v] / ds->std[v]; /* a variable that never changes keeps the unit scale */
            an->scale[(size_t)i * V + v] = sc > 1e-6 ? (float)sc : 1.0f;
        }
    }
    an->clim = xmalloc(sizeof(float) * plane * V);
    for (int v = 0; v < V; v++) {
        const float mu = ds->mean[v], inv = 1.0f / ds->std[v];
        for (size_t q = 0; q < plane; q++) {
            const float c = ds->clim[(size_t)v * plane + q];
            an->clim[(size_t)v * plane + q] = isfinite(c) ? (c - mu) * inv : NAN;
        }
    }
    free(lat), free(w), free(a), free(rms);
}

static void fc_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->ds->kind != DATASET_GRID)
        DIE_USER("lvit %s --task forecast: %s is an image dataset (no times or lat/lon); it is for the image tasks",
                 s->cmd, s->ds->source);
    if (s->downscale_given) DIE_USER("lvit %s: --scale, --tiles and --static are for --task downscale", s->cmd);
    const Dataset *ds = s->ds;
    const int k = s->opts->history < 0 ? 0 : s->opts->history;
    model_options_to_config(s->model, ds->V * (k + 1), ds->H, ds->W, cfg, s->cmd);
    task_forecast_init(t, ds, s->leads, s->nlead);
    Forecast *f = t->self;
    f->step_h = forecast_time_step(ds);
    if (k) {
        if (!(f->step_h > 0)) DIE_USER("lvit %s: --history needs a dataset with at least two times", s->cmd);
        cfg->history = f->history = k;
        cfg->Vo = ds->V;
        char err[512];
        if (vit_config_check(cfg, err, sizeof err)) DIE_USER("lvit %s: %s", s->cmd, err);
    }
    forecast_input_names(cfg, ds, f->step_h);
    /* auto: the blend wherever the data has a climatology (files from lvit convert; not the
     * synthetic data), unless the model predicts the change itself (--residual) */
    const int anchor = s->opts->anchor;
    if (anchor == 2 && cfg->residual) DIE_USER("lvit %s: --anchor blend and --residual are two anchors; give one", s->cmd);
    if (anchor == 2 && !s->ds->clim)
        DIE_USER("lvit %s: --anchor blend needs a climatology, and %s has none (convert it with lvit convert)", s->cmd,
                 s->ds->source);
    if (anchor == 2 || (anchor == 0 && s->ds->clim && !cfg->residual)) {
        fit_anchor(&f->anchor, s->ds, s->leads, s->nlead, s->cmd);
        char line[1024];
        int n = snprintf(line, sizeof line, "anchor: the blend climatology + a (state - climatology), a fitted on the training split:");
        for (int i = 0; i < f->anchor.nlead && n < (int)sizeof line - 64; i++) {
            n += snprintf(line + n, sizeof line - (size_t)n, " %gh", f->anchor.lead_h[i]);
            for (int v = 0; v < s->ds->V && n < (int)sizeof line - 32; v++)
                n += snprintf(line + n, sizeof line - (size_t)n, "%s%.2f", v ? "/" : " ", f->anchor.coef[(size_t)i * s->ds->V + v]);
        }
        log_info("%s", line);
    }
}

static void fc_stage_config(const Task *t, VitConfig *sc) { (void)t, (void)sc; }

static int fc_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    const Forecast *f = t->self;
    if (sampler_init(s, t->ds, t0, t1, f->leads, f->nlead, seed, shuffle, err, errlen)) {
        char why[512];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "--leads: %s", why); /* the flag the leads came from */
        return -1;
    }
    if (sampler_require_history(s, f->history, f->step_h, err, errlen)) {
        sampler_free(s);
        return -1;
    }
    return 0;
}

static int fc_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    const VitConfig *c = &m->cfg;
    host_batch_init_rows(hb, B, c->V, c->H, c->W, m->row0, m->lc.H);
    hb->residual = c->residual;
    const Forecast *f = t->self;
    if (f->history) host_batch_set_history(hb, f->history, c->Vo);
    hb->anchor = f->anchor.nlead ? &f->anchor : NULL;
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

static const Anchor *fc_anchor(const Task *t) {
    const Forecast *f = t->self;
    return f->anchor.nlead ? &f->anchor : NULL;
}

static void fc_finish(const Task *t, const char *run) {
    const Forecast *f = t->self;
    if (f->anchor.nlead) forecast_calibrate(run);
}

static void fc_free(Task *t) {
    Forecast *f = t->self;
    if (f) anchor_free(&f->anchor);
    free(t->self);
}

static int fc_owns(const VitConfig *cfg) {
    return cfg->scale <= 1 && !vit_classify(cfg) && !vit_mae(cfg) && !vit_segment(cfg);
}

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
    .anchor = fc_anchor,
    .finish = fc_finish,
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

