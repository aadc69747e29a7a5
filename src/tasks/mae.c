/* Masked-autoencoder pretraining on an image dataset (labels, if any, unused): a sample is the
 * --window of pixels around any pixel of a scene (a dataset of one image, or with a label raster),
 * or a whole image; every 20th sample is held out for the validation loss. The target is the
 * sample's own normalised pixels; the loss counts the pixels of the masked patches (valid ones),
 * drawn per sample and epoch from a seed carried in the batch's lead input (model/vit.h,
 * vit_mae_visible). The encoder this trains initializes --task classify (--init). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "eval/spectra_plot.h"
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
    if (s->opts->train_labels || s->opts->test_labels || s->opts->split_mask)
        DIE_USER("lvit %s --task mae: %s: the masked autoencoder pretrains on every pixel and uses no labels or split; "
                 "give the split to --task classify or segment", s->cmd,
                 s->opts->split_mask ? "--split-mask" : s->opts->train_labels ? "--train-labels" : "--test-labels");
    if (!(s->opts->mask_ratio > 0 && s->opts->mask_ratio < 1))
        DIE_USER("lvit %s --task mae: --mask-ratio %g: expected a fraction between 0 and 1 (MAE: 0.75)", s->cmd,
                 s->opts->mask_ratio);
    MaeTask *mt = xcalloc(1, sizeof *mt);
    const Dataset *ds = s->ds;
    const int pixel = dataset_pixel_scene(ds, 0);
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

/* A trained pretraining run opened for lvit eval and predict: the model (batches of B), its data
 * and its samples, the dataset normalised with the checkpoint's band means and deviations. */
typedef struct MaeRun {
    char ckpt[4200];
    VitConfig cfg;
    float *mean, *std;
    char *desc;
    RunMeta rm;
    JsonValue *root;
    MaeTask mt;
    Dataset ds;
    Vit m;
    HostBatch hb;
    const Kernels *k;
    float *dev, *pred; /* the backend batch (x, lead, wlat) and the reconstruction [B * nx] */
} MaeRun;

static void mae_run_open(MaeRun *r, const char *run, const char *data, int B, const char *cmd) {
    memset(r, 0, sizeof *r);
    char err[2048];
    snprintf(r->ckpt, sizeof r->ckpt, "%s/model.safetensors", run);
    if (ckpt_load_config(r->ckpt, &r->cfg, &r->mean, &r->std, err, sizeof err)) DIE_USER("%s", err);
    r->desc = ckpt_load_data_desc(r->ckpt);
    if (run_meta_parse(&r->rm, r->desc, r->ckpt, err, sizeof err)) DIE_USER("%s", err);
    r->root = r->desc ? json_parse(r->desc, strlen(r->desc), 1 << 28, "lvit.data", err, sizeof err) : NULL;
    const JsonValue *td = r->root ? json_get(r->root, "mae") : NULL;
    const char *mode = td ? json_as_string(json_get(td, "mode")) : NULL;
    int64_t window = 0;
    if (!mode || json_as_int64(json_get(td, "window"), 1, 4096, &window))
        DIE_USER("%s: the run's description of its pretraining lacks its mode or window", r->ckpt);
    run_meta_open_dataset(&r->ds, &r->rm, data, r->ckpt);
    if (r->ds.V != r->cfg.V)
        DIE_USER("lvit %s: %s has %d bands, the model %s takes %d", cmd, r->ds.source, r->ds.V, r->ckpt, r->cfg.V);
    memcpy(r->ds.mean, r->mean, sizeof(float) * (size_t)r->cfg.V);
    memcpy(r->ds.std, r->std, sizeof(float) * (size_t)r->cfg.V);
    if (classify_data_open_all(&r->mt.cd, &r->ds, strcmp(mode, "pixel") == 0, (int)window, r->cfg.p, err, sizeof err))
        DIE_USER("lvit %s: %s", cmd, err);
    vit_config_copy(&r->mt.cfg, &r->cfg);
    r->k = kernels_cpu();
    vit_init(&r->m, &r->cfg, NULL, B, r->k);
    if (ckpt_load_params(&r->m, r->ckpt, err, sizeof err)) DIE_USER("%s", err);
    host_batch_init_mae(&r->hb, B, &r->mt, 0, r->cfg.H);
    const int64_t nx = r->hb.nx;
    r->dev = r->k->alloc(sizeof(float) * (size_t)(2 * B * nx + B + r->cfg.H));
    r->pred = xmalloc(sizeof(float) * (size_t)(B * nx));
}

static void mae_run_close(MaeRun *r) {
    r->k->free(r->dev), free(r->pred), host_batch_free(&r->hb), vit_free(&r->m);
    classify_data_close(&r->mt.cd), vit_config_free(&r->mt.cfg), vit_config_free(&r->cfg);
    dataset_free(&r->ds), run_meta_free(&r->rm), json_free(r->root), free(r->desc), free(r->mean), free(r->std);
}

/* Samples ids[0..b) with their epoch-0 masks (those of training's validation) into r->hb, and the
 * model's reconstruction of them into r->pred. */
static void mae_run_reconstruct(MaeRun *r, const int64_t *ids, int b) {
    const int B = r->hb.B;
    const int64_t nx = r->hb.nx;
    Sampler s = {.epoch = 0};
    for (int i = 0; i < b; i++) fill_mae(&r->hb, i, &s, ids[i]);
    r->k->upload(r->dev, r->hb.x, b * nx);
    r->k->upload(r->dev + B * nx, r->hb.lead, b);
    r->k->upload(r->dev + B * nx + B, r->hb.wlat, r->cfg.H);
    Batch bt = {.B = b, .x = r->dev, .lead = r->dev + B * nx, .wlat = r->dev + B * nx + B};
    vit_forward(&r->m, &bt);
    vit_prediction(&r->m, r->dev, b);
    r->k->download(r->pred, r->dev, b * nx);
}

/* The baseline's source: near[t] the visible patch column nearest to column t of patch row pr
 * (band group g) under mask seed. */
static void nearest_visible(const VitConfig *cfg, uint32_t seed, int pr, int g, int *near) {
    int cols[1024];
    vit_mae_visible(cfg, seed, pr, g, cols);
    for (int t = 0; t < cfg->W / cfg->p; t++) {
        near[t] = cols[0];
        for (int j = 1; j < cfg->mae_keep; j++)
            if (abs(cols[j] - t) < abs(near[t] - t)) near[t] = cols[j];
    }
}

/* band v's group (0 without band groups) */
static int group_of(const VitConfig *c, int v) {
    int g = 0;
    while (c->mode == CH_GROUPS && g + 1 < c->groups && v >= c->group_start[g + 1]) g++;
    return g;
}

/* lvit eval of a pretraining run: the masked pixels' mean squared error (normalised units) on the
 * held-out samples, beside two baselines that use the same visible pixels: the band means (0), and
 * each masked patch copied from the nearest visible patch of its row. */
static int mae_eval(const EvalOptions *o) {
    if (!o->run) DIE_USER("lvit eval: --run RUN_DIR is required");
    train_set_threads(o->threads);
    MaeRun r;
    mae_run_open(&r, o->run, o->data, o->batch, "eval");
    const VitConfig cfg = r.cfg;
    const int set = !strcmp(o->split, "train") ? SPLIT_TRAIN : SPLIT_VAL, B = o->batch;
    if (strcmp(o->split, "train") && strcmp(o->split, "val"))
        log_info("eval --split %s: a pretraining run has no test split; it scores the held-out samples (every 20th, the "
                 "validation split)", o->split);
    const int64_t first = set == SPLIT_VAL ? r.mt.cd.n[SPLIT_TRAIN] : 0, n = r.mt.cd.n[set];
    const int64_t nx = r.hb.nx, p = cfg.p, HW = (int64_t)cfg.H * cfg.W;
    const float *pred = r.pred, *x = r.hb.x, *y = r.hb.y, *mask = r.hb.mask;
    int64_t *ids = xmalloc(sizeof(int64_t) * (size_t)B);
    double se[3] = {0, 0, 0}, cnt = 0;
    for (int64_t done = 0; done < n;) {
        const int b = (int)(n - done < B ? n - done : B);
        for (int i = 0; i < b; i++) ids[i] = first + done + i;
        mae_run_reconstruct(&r, ids, b);
        const int G = cfg.mode == CH_GROUPS ? cfg.groups : 1;
        for (int i = 0; i < b; i++)
            for (int64_t pr = 0; pr < cfg.H / p; pr++)
                for (int g = 0; g < G; g++) {
                    /* the nearest visible patch of each patch column of this row (its pixel at the same offset is
                     * the baseline), drawn once per row (and band group) */
                    int near[1024];
                    nearest_visible(&cfg, (uint32_t)r.hb.lead[i], (int)pr, g, near);
                    for (int64_t v = G > 1 ? cfg.group_start[g] : 0; v < (G > 1 ? cfg.group_start[g + 1] : cfg.V); v++)
                        for (int64_t row = pr * p; row < (pr + 1) * p; row++)
                            for (int64_t c = 0; c < cfg.W; c++) {
                                const int64_t o0 = i * nx + v * HW + row * cfg.W + c;
                                if (mask[o0] == 0.0f) continue;
                                const float t = y[o0], nn = x[o0 - c + near[c / p] * p + c % p];
                                se[0] += (double)(pred[o0] - t) * (pred[o0] - t), se[1] += (double)t * t;
                                se[2] += (double)(nn - t) * (nn - t);
                                cnt += 1;
                            }
                }
        done += b;
    }
    printf("%s: %lld %s, %.0f masked pixel values; mean squared error (normalised units): model %.5f, band means %.5f, "
           "nearest visible patch %.5f\n", set == SPLIT_VAL ? "val" : "train", (long long)n, r.mt.cd.pixel ? "windows" : "images",
           cnt, se[0] / cnt, se[1] / cnt, se[2] / cnt);
    if (o->json) {
        char js[512];
        snprintf(js, sizeof js, "{\"task\":\"mae\",\"split\":\"%s\",\"n\":%lld,\"mse\":%.6g,\"mse_band_mean\":%.6g,"
                 "\"mse_nearest_visible\":%.6g}\n", set == SPLIT_VAL ? "val" : "train", (long long)n, se[0] / cnt, se[1] / cnt,
                 se[2] / cnt);
        write_text_file(o->json, js, "eval");
    }
    free(ids);
    mae_run_close(&r);
    return 0;
}

/* whether image img has a value of band v at (y, x) */
static int pixel_ok(const Dataset *ds, int img, int v, int y, int x) {
    if (y < 0 || y >= ds->H || x < 0 || x >= ds->W) return 0;
    return !ds->valid || ds->valid[(((int64_t)img * ds->V + v) * ds->H + y) * ds->W + x];
}

/* lvit predict of a pretraining run: for MAE_SPECTRA held-out windows (or images) drawn with
 * --seed, the pixel with the most masked bands (the nearest to the centre among equals): its
 * true spectrum, the reconstruction and the nearest-visible-patch baseline over the band index,
 * in the data's units, as OUT.png and OUT.csv. */
enum { MAE_SPECTRA = 4 };
static int mae_predict(const PredictOptions *o) {
    if (!o->run) DIE_USER("lvit predict: --run RUN_DIR is required");
    if (!o->out) DIE_USER("lvit predict: --output SPECTRA.png is required (masked pixels' spectra and their reconstruction)");
    const size_t olen = strlen(o->out);
    if (olen < 4 || strcasecmp(o->out + olen - 4, ".png"))
        DIE_USER("lvit predict -o %s: a masked-autoencoder run draws spectra as PNG (and CSV beside it): give FILE.png", o->out);
    train_set_threads(o->threads);
    MaeRun r;
    mae_run_open(&r, o->run, o->data, MAE_SPECTRA, "predict");
    const VitConfig *c = &r.cfg;
    const ClassifyData *cd = &r.mt.cd;
    const int held = cd->n[SPLIT_VAL] > 0, V = c->V, H = c->H, W = c->W, p = c->p;
    const int64_t first = held ? cd->n[SPLIT_TRAIN] : 0, n = cd->n[held ? SPLIT_VAL : SPLIT_TRAIN];
    if (n < 1) DIE_USER("lvit predict: %s has no samples for the model %s", r.ds.source, r.ckpt);
    int64_t ids[MAE_SPECTRA] = {0};
    int b = 0;
    uint64_t h = (uint64_t)o->seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL;
    for (int tries = 0; b < MAE_SPECTRA && b < n && tries < 1000; tries++) { /* distinct samples, splitmix64 */
        uint64_t z = (h += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL, z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL, z ^= z >> 31;
        const int64_t id = first + (int64_t)(z % (uint64_t)n);
        int dup = 0;
        for (int i = 0; i < b; i++) dup |= ids[i] == id;
        if (!dup) ids[b++] = id;
    }
    mae_run_reconstruct(&r, ids, b);
    const int64_t nx = r.hb.nx, HW = (int64_t)H * W;
    float *curves = xmalloc(sizeof(float) * (size_t)(3 * b * V));
    SpectraPanel panels[MAE_SPECTRA];
    char titles[MAE_SPECTRA][160];
    JsonBuf csv = {0};
    json_buf_puts(&csv, "sample,image,row,col,band,name,masked,true,reconstruction,nearest_visible,nearest_col,"
                        "true_norm,reconstruction_norm,nearest_visible_norm\n");
    double se[3] = {0, 0, 0}, cnt = 0;
    for (int i = 0; i < b; i++) {
        const float *x = r.hb.x + i * nx, *y = r.hb.y + i * nx, *m = r.hb.mask + i * nx, *f = r.pred + i * nx;
        int br = 0, bc = 0, most = -1; /* the pixel with the most masked bands, nearest the centre */
        for (int row = 0; row < H; row++)
            for (int col = 0; col < W; col++) {
                int k = 0;
                for (int v = 0; v < V; v++) k += m[v * HW + row * W + col] != 0.0f;
                const int d = (2 * row + 1 - H) * (2 * row + 1 - H) + (2 * col + 1 - W) * (2 * col + 1 - W);
                const int db = (2 * br + 1 - H) * (2 * br + 1 - H) + (2 * bc + 1 - W) * (2 * bc + 1 - W);
                if (k > most || (k == most && d < db)) most = k, br = row, bc = col;
            }
        const ClassifySample *s = &cd->s[ids[i]];
        const int iy = cd->pixel ? s->row - cd->window / 2 + br : br, ix = cd->pixel ? s->col - cd->window / 2 + bc : bc;
        float *tru = curves + (3 * i) * V, *rec = tru + V, *nv = rec + V;
        int g_last = -1, near[1024];
        for (int v = 0; v < V; v++) {
            const int g = group_of(c, v);
            if (g != g_last) nearest_visible(c, (uint32_t)r.hb.lead[i], br / p, g, near), g_last = g;
            const int nc = near[bc / p] * p + bc % p;
            const int64_t o0 = v * HW + (int64_t)br * W;
            const int masked = m[o0 + bc] != 0.0f, x0 = cd->pixel ? s->col - cd->window / 2 : 0;
            const float mu = r.ds.mean[v], sd = r.ds.std[v];
            tru[v] = pixel_ok(&r.ds, s->img, v, iy, ix) ? y[o0 + bc] * sd + mu : NAN;
            rec[v] = f[o0 + bc] * sd + mu;
            nv[v] = pixel_ok(&r.ds, s->img, v, iy, x0 + nc) ? x[o0 + nc] * sd + mu : NAN;
            if (masked) {
                se[0] += (double)(f[o0 + bc] - y[o0 + bc]) * (f[o0 + bc] - y[o0 + bc]);
                se[1] += (double)y[o0 + bc] * y[o0 + bc];
                se[2] += (double)(x[o0 + nc] - y[o0 + bc]) * (x[o0 + nc] - y[o0 + bc]), cnt += 1;
            }
            json_buf_printf(&csv, "%d,%d,%d,%d,%d,\"%s\",%d,%.9g,%.9g,%.9g,%d,%.9g,%.9g,%.9g\n", i, s->img, iy, ix, v,
                            r.ds.names[v], masked, (double)tru[v], (double)rec[v], (double)nv[v], x0 + nc,
                            (double)y[o0 + bc], (double)f[o0 + bc],
                            (double)x[o0 + nc]);
        }
        snprintf(titles[i], sizeof titles[i], "image %d, row %d, col %d: %d of %d bands masked", s->img, iy, ix, most, V);
        panels[i] = (SpectraPanel){titles[i], {tru, rec, nv}};
    }
    const char *names[3] = {"true spectrum", "MAE reconstruction", "nearest visible patch"};
    char err[4400];
    if (spectra_png(o->out, panels, b, V, names, "data units", r.ckpt, NULL, err, sizeof err))
        DIE_USER("lvit predict: %s", err);
    const size_t len = strlen(o->out);
    const int ext = len >= 4 && strcmp(o->out + len - 4, ".png") == 0;
    char *csv_path = xmalloc(len + 8);
    snprintf(csv_path, len + 8, "%.*s.csv", (int)(ext ? len - 4 : len), o->out);
    write_text_file(csv_path, csv.s, "predict");
    printf("wrote %s and %s: %d %s %s; over their %.0f masked band values, mean squared error (normalised units): "
           "model %.5f, band means %.5f, nearest visible patch %.5f\n", o->out, csv_path, b, held ? "held-out" : "training",
           cd->pixel ? "windows" : "images", cnt, cnt ? se[0] / cnt : 0.0, cnt ? se[1] / cnt : 0.0, cnt ? se[2] / cnt : 0.0);
    free(csv_path), json_buf_free(&csv), free(curves);
    mae_run_close(&r);
    return 0;
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
