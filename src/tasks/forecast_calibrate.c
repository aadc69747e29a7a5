/* The gains of an anchored forecast (data/anchor.h), fitted after training on the validation
 * split: per variable and trained lead, the least-squares share g in [0, 1] of the network's
 * correction, minimising sum w (t - g p)^2 over the valid cells of every validation sample, where
 * t is the scaled difference of the target from the anchor (the training target) and p the
 * network's output for it: g = sum w t p / sum w p^2. The weights are the latitude weights the
 * loss uses. (tasks/forecast_run.h) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "io/checkpoint.h"
#include "kernels/kernels.h"
#include "tasks/forecast_run.h"

enum { CAL_BATCH = 8 };

/* sums [2 V]: sum w t p, sum w p^2 for the samples of one lead */
static void lead_sums(Vit *m, HostBatch *hb, float *dev, float *pred, Sampler *s, double *sums) {
    const VitConfig *c = &m->cfg;
    const Kernels *k = m->k;
    const int Vo = c->Vo;
    const int64_t img = (int64_t)CAL_BATCH * c->V * c->H * c->W, plane = (int64_t)c->H * c->W;
    for (int64_t done = 0; done < s->n; done += CAL_BATCH) {
        const int b = (int)(s->n - done < CAL_BATCH ? s->n - done : CAL_BATCH);
        for (int i = 0; i < b; i++) host_batch_fill(hb, i, s, s->idx[done + i]);
        k->upload(dev, hb->x, (int64_t)b * hb->nx);
        k->upload(dev + 2 * img, hb->lead, b);
        Batch bt = {.B = b, .x = dev, .lead = dev + 2 * img};
        vit_forward(m, &bt);
        vit_prediction(m, dev + img, b);
        k->download(pred, dev + img, (int64_t)b * Vo * plane);
        for (int i = 0; i < b; i++)
            for (int v = 0; v < Vo; v++) {
                const float *t = hb->y + ((int64_t)i * Vo + v) * plane, *ok = hb->mask + ((int64_t)i * Vo + v) * plane,
                            *p = pred + ((int64_t)i * Vo + v) * plane;
                for (int r = 0; r < c->H; r++) {
                    double tp = 0, pp = 0;
                    for (int q = 0; q < c->W; q++) {
                        const int64_t o = (int64_t)r * c->W + q;
                        if (ok[o] == 0) continue;
                        tp += (double)t[o] * p[o];
                        pp += (double)p[o] * p[o];
                    }
                    sums[2 * v] += hb->wlat[r] * tp;
                    sums[2 * v + 1] += hb->wlat[r] * pp;
                }
            }
    }
}

void forecast_calibrate(const char *run) {
    ForecastRun fr;
    forecast_run_open(&fr, run, NULL, 0, "train");
    Anchor *an = &fr.anchor;
    const Dataset *ds = &fr.ds;
    if (!an->nlead || ds->t_train_end >= ds->t_val_end) {
        if (an->nlead) log_info("anchor gains: no validation period; the network's correction is kept whole");
        forecast_run_close(&fr);
        return;
    }
    const VitConfig *c = &fr.cfg;
    const Kernels *k = kernels_cpu();
    Vit m;
    vit_init(&m, c, NULL, CAL_BATCH, k);
    char err[2048];
    if (ckpt_load_params(&m, fr.ckpt, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init(&hb, CAL_BATCH, c->V, c->H, c->W);
    if (c->history) host_batch_set_history(&hb, c->history, c->Vo);
    hb.anchor = an; /* the training targets: scaled differences from the anchor, valid where both times are */
    dataset_lat_weights(ds, hb.wlat, c->H);
    const int64_t img = (int64_t)CAL_BATCH * c->V * c->H * c->W;
    float *dev = k->alloc(sizeof(float) * (size_t)(2 * img + CAL_BATCH));
    float *pred = xmalloc(sizeof(float) * (size_t)img);
    double *sums = xmalloc(sizeof(double) * 2 * (size_t)c->Vo);
    float *gain = xmalloc(sizeof(float) * (size_t)an->nlead * c->Vo);
    char line[2048];
    int n = snprintf(line, sizeof line, "anchor gains on the validation split (the network's share of the correction):");
    for (int li = 0; li < an->nlead; li++) {
        Sampler s;
        memset(sums, 0, sizeof(double) * 2 * (size_t)c->Vo);
        if (sampler_init(&s, ds, ds->t_train_end, ds->t_val_end, &an->lead_h[li], 1, 0, 0, err, sizeof err) == 0 &&
            sampler_require_history(&s, c->history, forecast_time_step(ds), err, sizeof err) == 0)
            lead_sums(&m, &hb, dev, pred, &s, sums);
        if (s.target) sampler_free(&s);
        n += snprintf(line + n, sizeof line - (size_t)n, " %gh", an->lead_h[li]);
        for (int v = 0; v < c->Vo; v++) { /* no validation sample at this lead: keep the whole correction */
            const double g = sums[2 * v + 1] > 0 ? sums[2 * v] / sums[2 * v + 1] : 1.0;
            gain[(size_t)li * c->Vo + v] = g < 0 ? 0.0f : g > 1 ? 1.0f : (float)g;
            if (n < (int)sizeof line - 16)
                n += snprintf(line + n, sizeof line - (size_t)n, "%s%.2f", v ? "/" : " ", gain[(size_t)li * c->Vo + v]);
        }
    }
    log_info("%s", line);
    free(an->gain);
    an->gain = gain;
    /* the same file with the gains in its anchor */
    float *host = xmalloc(sizeof(float) * (size_t)m.n_params);
    k->download(host, m.param_mem, m.n_params);
    char *desc = ckpt_load_data_desc(fr.ckpt);
    if (ckpt_save_model_host(&m, host, fr.mean, fr.std, desc, an, fr.ckpt, err, sizeof err))
        DIE_USER("writing the calibrated model: %s", err);
    free(desc), free(host), free(sums), free(pred);
    k->free(dev);
    host_batch_free(&hb);
    vit_free(&m);
    forecast_run_close(&fr);
}
