/* Downscaling set-up shared by training, evaluation, prediction and the C API: the data from
 * the task options, the Reslim configuration, the checkpoint's description, and whole fine fields
 * from a model, window by window (tasks/downscale_setup.h). */
#include "tasks/downscale_setup.h"
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"

static const int PERIODIC_OPT[3] = {-1, 0, 1}; /* auto, off, on */

void downscale_data_open(DownscaleData *dd, const TaskOptions *f, const Dataset *ds, int patch, const char *cmd) {
    memset(dd, 0, sizeof *dd);
    char err[2048];
    if (f->coarse && *f->coarse) {
        if (dataset_open(&dd->coarse, f->coarse, err, sizeof err)) DIE_USER("lvit %s: --coarse-data: %s", cmd, err);
        dd->have_coarse = 1;
    }
    DownscaleOptions o = {.scale = f->scale, .patch = patch, .coarse = dd->have_coarse ? &dd->coarse : NULL,
                          .statics = f->statics, .var_weights = f->var_weights, .tiles = f->tiles, .halo = f->halo,
                          .periodic = PERIODIC_OPT[f->periodic], .base = f->base};
    if (downscale_init(&dd->d, ds, &o, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
}

void downscale_data_close(DownscaleData *dd) {
    downscale_free(&dd->d);
    if (dd->have_coarse) dataset_free(&dd->coarse);
    dd->have_coarse = 0;
}

void downscale_data_config(const DownscaleData *dd, const TaskOptions *f, VitConfig *cfg, const char *cmd) {
    const Downscale *d = &dd->d;
    cfg->scale = d->s;
    cfg->Vo = d->Vo;
    cfg->res_width = f->res_width;
    cfg->ds_base = f->base;
    cfg->residual = 0;
    memcpy(cfg->var_names, d->names, (size_t)d->V * LVIT_VAR_NAME);
    char err[512];
    if (vit_config_check(cfg, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
}

char *downscale_data_desc(const TaskOptions *f) {
    JsonBuf b = {0};
    json_buf_printf(&b, "{\"scale\":%d,\"static\":", f->scale);
    json_buf_put_string(&b, f->statics ? f->statics : "");
    json_buf_puts(&b, ",\"coarse_data\":");
    json_buf_put_string(&b, f->coarse ? f->coarse : "");
    json_buf_puts(&b, ",\"var_weights\":");
    json_buf_put_string(&b, f->var_weights ? f->var_weights : "");
    json_buf_puts(&b, "}");
    return b.s;
}

/* ---------------------------------------------------------------- tiled inference */

void ds_infer_init(DsInfer *q, const VitConfig *cfg, const char *ckpt, const Downscale *d, int B, int blend,
                   const Kernels *k) {
    memset(q, 0, sizeof *q);
    q->d = d;
    const int n = tiles_count(&d->tp);
    q->B = B < n ? B : n;
    q->blend = blend;
    VitConfig c;
    vit_config_copy(&c, cfg);
    c.tile_h = downscale_tiled(d) ? d->tp.th : 0;
    c.tile_w = downscale_tiled(d) ? d->tp.tw : 0;
    vit_init(&q->m, &c, NULL, q->B, k);
    vit_config_free(&c);
    char err[1024];
    if (ckpt_load_params(&q->m, ckpt, err, sizeof err)) DIE_USER("%s", err);
    host_batch_init_downscale(&q->hb, q->B, d);
    q->dev = k->alloc(sizeof(float) * (size_t)(q->B * (q->hb.nx + q->hb.ny) + q->B));
    q->out = xmalloc(sizeof(float) * (size_t)(q->B * q->hb.ny));
    const int64_t npix = (int64_t)d->s * d->hp * d->s * d->wp;
    q->acc = xmalloc(sizeof(float) * (size_t)(d->Vo * npix));
    q->wacc = xmalloc(sizeof(float) * (size_t)npix);
}

void ds_infer(DsInfer *q, int t, float *fine) {
    const Downscale *d = q->d;
    const Kernels *k = q->m.k;
    const int n = tiles_count(&d->tp), s = d->s;
    const int64_t npix = (int64_t)s * d->hp * s * d->wp, nx = q->hb.nx, ny = q->hb.ny;
    memset(q->acc, 0, sizeof(float) * (size_t)(d->Vo * npix));
    memset(q->wacc, 0, sizeof(float) * (size_t)npix);
    float *x = q->dev, *lead = q->dev + q->B * nx, *pred = lead + q->B;
    for (int i0 = 0; i0 < n; i0 += q->B) {
        const int b = n - i0 < q->B ? n - i0 : q->B;
        for (int i = 0; i < b; i++) downscale_fill(d, &q->hb, i, t, i0 + i);
        k->upload(x, q->hb.x, b * nx);
        k->upload(lead, q->hb.lead, b);
        Batch bt = {.B = b, .x = x, .lead = lead};
        if (downscale_tiled(d)) bt.tile_r0 = q->hb.tr0, bt.tile_c0 = q->hb.tc0;
        vit_forward(&q->m, &bt);
        vit_prediction(&q->m, pred, b);
        k->download(q->out, pred, b * ny);
        for (int i = 0; i < b; i++) tiles_stitch(&d->tp, i0 + i, s, q->out + i * ny, d->Vo, q->acc, q->wacc, q->blend);
    }
    tiles_finish(q->acc, q->wacc, d->Vo, npix);
    const int Wf = s * d->wp;
    for (int v = 0; v < d->Vo; v++) {
        const float mu = d->ds->mean[v], sd = d->ds->std[v];
        const float *bs = d->base ? d->base + ((int64_t)t * d->Vo + v) * d->H * d->W : NULL;
        for (int r = 0; r < d->H; r++)
            for (int c = 0; c < d->W; c++) {
                const int64_t o = ((int64_t)v * d->H + r) * d->W + c;
                fine[o] = (q->acc[((int64_t)v * s * d->hp + r) * Wf + c] + (bs ? bs[(int64_t)r * d->W + c] : 0.0f)) * sd + mu;
            }
    }
}

void ds_infer_free(DsInfer *q) {
    const Kernels *k = q->m.k;
    k->free(q->dev);
    free(q->out);
    free(q->acc);
    free(q->wacc);
    host_batch_free(&q->hb);
    vit_free(&q->m);
    memset(q, 0, sizeof *q);
}
