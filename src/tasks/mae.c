/* Masked-autoencoder pretraining on an image dataset (labels, if any, unused): a sample is the
 * --window of pixels around any pixel of a scene (a dataset of one image, or with a label raster),
 * or a whole image; every 20th sample is held out for the validation loss. The target is the
 * sample's own normalised pixels; the loss counts the pixels of the masked patches (valid ones),
 * drawn per sample and epoch from a seed carried in the batch's lead input (model/vit.h,
 * vit_mae_visible). The encoder this trains initializes --task classify (--init). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"
#include "model/band_groups.h"
#include "tasks/classify_data.h"
#include "tasks/jobs.h"
#include "tasks/task.h"
#include "train/setup.h"

typedef struct MaeTask {
    ClassifyData cd;  /* the samples (no labels) */
    VitConfig cfg;    /* the model's: its mask geometry */
} MaeTask;

static void mae_open(Task *t, const TaskSetup *s, VitConfig *cfg) {
    if (s->leads_given) DIE_USER("lvit %s: --leads is for forecasting; --task mae reconstructs masked patches", s->cmd);
    if (s->downscale_given) DIE_USER("lvit %s: --scale, --tiles and --static are for --task downscale", s->cmd);
    if (s->model->residual) DIE_USER("lvit %s: --residual is for forecasting", s->cmd);
    if (s->model->channels != CH_AGG)
        DIE_USER("lvit %s --task mae: --channels multi is not supported (the mask selects locations); use agg or "
                 "--band-groups N", s->cmd);
    if (!(s->opts->mask_ratio > 0 && s->opts->mask_ratio < 1))
        DIE_USER("lvit %s --task mae: --mask-ratio %g: expected a fraction between 0 and 1 (MAE: 0.75)", s->cmd,
                 s->opts->mask_ratio);
    if (s->par && s->par->pp.size > 1)
        parallel_refuse(s->par, "lvit %s --task mae: pipeline parallelism is not supported for the masked autoencoder "
                        "yet (its encoder and decoder see sequences of two lengths); use --dp, --zero, --sp or --tp", s->cmd);
    MaeTask *mt = xcalloc(1, sizeof *mt);
    const Dataset *ds = s->ds;
    const int pixel = ds->kind == DATASET_IMAGE && (ds->T == 1 || ds->img.label_kind == LABELS_MAP);
    char err[1024];
    if (s->opts->window < 1 || s->opts->window > 1024)
        DIE_USER("lvit %s --task mae: --window %d: expected 1..1024 pixels", s->cmd, s->opts->window);
    if (classify_data_open_all(&mt->cd, ds, pixel, s->opts->window, s->model->patch, err, sizeof err))
        DIE_USER("lvit %s --task mae: %s; --task mae pretrains on image datasets (lvit convert)", s->cmd, err);
    model_options_to_config(s->model, ds->V, mt->cd.Hp, mt->cd.Wp, cfg, s->cmd);
    memcpy(cfg->var_names, ds->names, (size_t)ds->V * LVIT_VAR_NAME);
    const int Wt = cfg->W / cfg->p;
    int keep = (int)(Wt * (1.0 - s->opts->mask_ratio) + 0.5);
    if (keep < 1) keep = 1;
    if (keep >= Wt)
        DIE_USER("lvit %s --task mae: --mask-ratio %g masks nothing of a patch row of %d tokens (%d-pixel %s, --patch %d); "
                 "give a larger ratio or a smaller --patch", s->cmd, s->opts->mask_ratio, Wt, cfg->W,
                 pixel ? "window" : "image", cfg->p);
    cfg->mae_keep = keep;
    cfg->mae_depth = s->opts->mae_depth;
    if (vit_config_check(cfg, err, sizeof err)) DIE_USER("lvit %s --task mae: %s", s->cmd, err);
    vit_config_copy(&mt->cfg, cfg);
    *t = (Task){&task_mae_ops, ds, mt};
}

static void mae_stage_config(const Task *t, VitConfig *sc) {
    const MaeTask *mt = t->self;
    CHECK(sc->mae_keep == mt->cfg.mae_keep && sc->H == mt->cd.Hp && sc->W == mt->cd.Wp, "masked autoencoder for other data");
}

static int mae_sampler(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen) {
    return sampler_init_list(s, t->ds, t0, (int64_t)t1 - t0, seed, shuffle, err, errlen);
}

static void mae_ranges(const Task *t, int *train_end, int *val_end) {
    const MaeTask *mt = t->self;
    *train_end = (int)mt->cd.n[SPLIT_TRAIN];
    *val_end = (int)(mt->cd.n[SPLIT_TRAIN] + mt->cd.n[SPLIT_VAL]);
}

/* The sample's mask seed: from its id and the epoch (a new mask every epoch; validation samplers
 * stay in epoch 0: fixed masks), below 2^24 so that a float carries it exactly. */
static uint32_t mask_seed(int64_t id, int64_t epoch) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)id;
    h = (h ^ (uint64_t)epoch * 0x9e3779b97f4a7c15ULL) * 1099511628211ULL;
    h ^= h >> 29;
    return (uint32_t)(h & 0xffffffu);
}

/* x the normalised window or image, y = x, mask 1 on the valid pixels of the masked patches */
static void fill_mae(HostBatch *hb, int i, const Sampler *s, int64_t id) {
    const MaeTask *mt = hb->owner;
    const VitConfig *c = &mt->cfg;
    float *x = hb->x + i * hb->nx, *y = hb->y + i * hb->ny, *m = hb->mask + i * hb->ny;
    classify_fill_x(&mt->cd, hb, id, x, m);
    memcpy(y, x, sizeof(float) * (size_t)hb->nx);
    const uint32_t seed = mask_seed(id, s->epoch < 0 ? 0 : s->epoch);
    hb->lead[i] = (float)seed;
    const int p = c->p, Wt = c->W / p, G = c->mode == CH_GROUPS ? c->groups : 1;
    int cols[1024];
    char vis[1024];
    for (int pr = 0; pr < hb->nrows / p; pr++)
        for (int g = 0; g < G; g++) { /* a band group's own mask, or one for all bands */
            vit_mae_visible(c, seed, hb->row0 / p + pr, g, cols);
            memset(vis, 0, (size_t)Wt);
            for (int j = 0; j < c->mae_keep; j++) vis[cols[j]] = 1;
            const int v0 = G > 1 ? c->group_start[g] : 0, v1 = G > 1 ? c->group_start[g + 1] : hb->V;
            for (int v = v0; v < v1; v++)
                for (int r = pr * p; r < (pr + 1) * p; r++) {
                    float *mr = m + ((int64_t)v * hb->nrows + r) * hb->Wp;
                    for (int col = 0; col < hb->Wp; col++)
                        if (vis[col / p]) mr[col] = 0.0f;
                }
        }
}

static void init_like_mae(HostBatch *hb, const HostBatch *shape);

static void host_batch_init_mae(HostBatch *hb, int B, const MaeTask *mt, int row0, int nrows) {
    host_batch_init_rows(hb, B, mt->cd.ds->V, mt->cd.Hp, mt->cd.Wp, row0, nrows);
    hb->owner = mt;
    hb->fill = fill_mae;
    hb->init_like = init_like_mae;
    for (int r = 0; r < mt->cd.Hp; r++) hb->wlat[r] = 1.0f;
}

static void init_like_mae(HostBatch *hb, const HostBatch *shape) {
    host_batch_init_mae(hb, shape->B, shape->owner, shape->row0, shape->nrows);
}

static int mae_batch_init(const Task *t, HostBatch *hb, int B, const Vit *m) {
    CHECK(m->cfg.W / m->cfg.p <= 1024, "masked autoencoder: at most 1024 tokens per patch row");
    host_batch_init_mae(hb, B, t->self, m->row0, m->lc.H);
    return m->cfg.H;
}

static int64_t mae_batch_extra(const Task *t) { return (void)t, 0; }

static void mae_batch_bind(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k) {
    (void)t, (void)b, (void)hb, (void)extra, (void)B_global, (void)k;
}

static float mae_reg_weight(const Task *t) { return (void)t, 0.0f; }

static void mae_log(const Task *t, const VitConfig *c, const VitConfig *sample) {
    (void)sample;
    const MaeTask *mt = t->self;
    const int Wt = c->W / c->p;
    log_info("mae: %s (%dx%d model grid, %lld tokens); the encoder sees %d of the %d tokens of every patch row%s "
             "(%.0f%% masked, random per sample and epoch), a decoder of %d blocks sees all; %lld training, %lld "
             "validation samples", mt->cd.pixel ? "windows around every pixel" : "whole images", c->H, c->W,
             (long long)vit_S(c), c->mae_keep, Wt, c->mode == CH_GROUPS ? " of every band group" : "",
             100.0 * (Wt - c->mae_keep) / Wt, c->mae_depth,
             (long long)mt->cd.n[SPLIT_TRAIN], (long long)mt->cd.n[SPLIT_VAL]);
}

static char *mae_describe(const Task *t) {
    const MaeTask *mt = t->self;
    char *s = xmalloc(160);
    snprintf(s, 160, "{\"mode\":\"%s\",\"window\":%d,\"mae_keep\":%d,\"mae_depth\":%d}", mt->cd.pixel ? "pixel" : "image",
             mt->cd.window, mt->cfg.mae_keep, mt->cfg.mae_depth);
    return s;
}

static void mae_free(Task *t) {
    MaeTask *mt = t->self;
    classify_data_close(&mt->cd);
    vit_config_free(&mt->cfg);
    free(mt);
}

static int mae_owns(const VitConfig *cfg) { return vit_mae(cfg); }

/* lvit eval of a pretraining run: the masked pixels' mean squared error (normalised units) on the
 * held-out samples, beside two baselines that use the same visible pixels: the band means (0), and
 * each masked patch copied from the nearest visible patch of its row. */
static int mae_eval(const EvalOptions *o) {
    if (!o->run) DIE_USER("lvit eval: --run RUN_DIR is required");
    train_set_threads(o->threads);
    char ckpt[4200], err[2048];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", o->run);
    VitConfig cfg;
    float *mean = NULL, *std = NULL;
    if (ckpt_load_config(ckpt, &cfg, &mean, &std, err, sizeof err)) DIE_USER("%s", err);
    char *desc = ckpt_load_data_desc(ckpt);
    RunMeta rm;
    if (run_meta_parse(&rm, desc, ckpt, err, sizeof err)) DIE_USER("%s", err);
    JsonValue *root = desc ? json_parse(desc, strlen(desc), 1 << 28, "lvit.data", err, sizeof err) : NULL;
    const JsonValue *td = root ? json_get(root, "mae") : NULL;
    const char *mode = td ? json_as_string(json_get(td, "mode")) : NULL;
    int64_t window = 0;
    if (!mode || json_as_int64(json_get(td, "window"), 1, 4096, &window))
        DIE_USER("%s: the run's description of its pretraining lacks its mode or window", ckpt);
    MaeTask mt = {0};
    Dataset ds;
    run_meta_open_dataset(&ds, &rm, o->data, ckpt);
    if (ds.V != cfg.V) DIE_USER("lvit eval: %s has %d bands, the model %s takes %d", ds.source, ds.V, ckpt, cfg.V);
    memcpy(ds.mean, mean, sizeof(float) * (size_t)cfg.V);
    memcpy(ds.std, std, sizeof(float) * (size_t)cfg.V);
    if (classify_data_open_all(&mt.cd, &ds, strcmp(mode, "pixel") == 0, (int)window, cfg.p, err, sizeof err))
        DIE_USER("lvit eval: %s", err);
    vit_config_copy(&mt.cfg, &cfg);
    const int set = !strcmp(o->split, "train") ? SPLIT_TRAIN : SPLIT_VAL, B = o->batch;
    const int64_t first = set == SPLIT_VAL ? mt.cd.n[SPLIT_TRAIN] : 0, n = mt.cd.n[set];
    const Kernels *k = kernels_cpu();
    Vit m;
    vit_init(&m, &cfg, NULL, B, k);
    if (ckpt_load_params(&m, ckpt, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init_mae(&hb, B, &mt, 0, cfg.H);
    const int64_t nx = hb.nx, p = cfg.p, Wt = cfg.W / p, HW = (int64_t)cfg.H * cfg.W;
    float *dev = k->alloc(sizeof(float) * (size_t)(2 * B * nx + B + cfg.H)), *pred = xmalloc(sizeof(float) * (size_t)(B * nx));
    Sampler s = {.epoch = 0}; /* the held-out samples' masks: epoch 0, as in training's validation */
    double se[3] = {0, 0, 0}, cnt = 0;
    for (int64_t done = 0; done < n;) {
        const int b = (int)(n - done < B ? n - done : B);
        for (int i = 0; i < b; i++) fill_mae(&hb, i, &s, first + done + i);
        k->upload(dev, hb.x, b * nx);
        k->upload(dev + B * nx, hb.lead, b);
        k->upload(dev + B * nx + B, hb.wlat, cfg.H);
        Batch bt = {.B = b, .x = dev, .lead = dev + B * nx, .wlat = dev + B * nx + B};
        vit_forward(&m, &bt);
        vit_prediction(&m, dev, b);
        k->download(pred, dev, b * nx);
        const int G = cfg.mode == CH_GROUPS ? cfg.groups : 1;
        for (int i = 0; i < b; i++)
            for (int64_t pr = 0; pr < cfg.H / p; pr++)
                for (int g = 0; g < G; g++) {
                    /* the nearest visible patch of each patch column of this row (its pixel at the same offset is
                     * the baseline), drawn once per row (and band group) */
                    int cols[1024], near[1024];
                    vit_mae_visible(&cfg, (uint32_t)hb.lead[i], (int)pr, g, cols);
                    for (int64_t t = 0; t < Wt; t++) {
                        near[t] = cols[0];
                        for (int j = 1; j < cfg.mae_keep; j++)
                            if (labs(cols[j] - t) < labs(near[t] - t)) near[t] = cols[j];
                    }
                    for (int64_t v = G > 1 ? cfg.group_start[g] : 0; v < (G > 1 ? cfg.group_start[g + 1] : cfg.V); v++)
                        for (int64_t r = pr * p; r < (pr + 1) * p; r++)
                            for (int64_t c = 0; c < cfg.W; c++) {
                                const int64_t o0 = i * nx + v * HW + r * cfg.W + c;
                                if (hb.mask[o0] == 0.0f) continue;
                                const float y = hb.y[o0], nn = hb.x[o0 - c + near[c / p] * p + c % p];
                                se[0] += (double)(pred[o0] - y) * (pred[o0] - y), se[1] += (double)y * y;
                                se[2] += (double)(nn - y) * (nn - y);
                                cnt += 1;
                            }
                }
        done += b;
    }
    printf("%s: %lld %s, %.0f masked pixel values; mean squared error (normalised units): model %.5f, band means %.5f, "
           "nearest visible patch %.5f\n", set == SPLIT_VAL ? "val" : "train", (long long)n, mt.cd.pixel ? "windows" : "images",
           cnt, se[0] / cnt, se[1] / cnt, se[2] / cnt);
    if (o->json) {
        char js[512];
        snprintf(js, sizeof js, "{\"task\":\"mae\",\"split\":\"%s\",\"n\":%lld,\"mse\":%.6g,\"mse_band_mean\":%.6g,"
                 "\"mse_nearest_visible\":%.6g}\n", set == SPLIT_VAL ? "val" : "train", (long long)n, se[0] / cnt, se[1] / cnt,
                 se[2] / cnt);
        write_text_file(o->json, js, "eval");
    }
    k->free(dev), free(pred), host_batch_free(&hb), vit_free(&m);
    classify_data_close(&mt.cd), vit_config_free(&mt.cfg), vit_config_free(&cfg);
    dataset_free(&ds), run_meta_free(&rm), json_free(root), free(desc), free(mean), free(std);
    return 0;
}

static int mae_predict(const PredictOptions *o) {
    (void)o;
    DIE_USER("lvit predict: this run is a masked-autoencoder pretraining; fine-tune it with lvit train --task classify "
             "--init RUN_DIR/model.safetensors");
}

const TaskOps task_mae_ops = {
    .name = "mae",
    .open = mae_open,
    .stage_config = mae_stage_config,
    .sampler = mae_sampler,
    .batch_init = mae_batch_init,
    .batch_extra = mae_batch_extra,
    .batch_bind = mae_batch_bind,
    .reg_weight = mae_reg_weight,
    .log = mae_log,
    .ranges = mae_ranges,
    .describe = mae_describe,
    .free = mae_free,
    .owns = mae_owns,
    .eval = mae_eval,
    .predict = mae_predict,
};
