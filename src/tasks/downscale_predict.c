/* The downscaling task's `lvit predict`: the fine fields of one time as CF netCDF, with coarse
 * input | truth | prediction | error maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "data/series.h"
#include "data/resample.h"
#include "eval/metrics.h"
#include "eval/plot.h"
#include "io/forecast_nc.h"
#include "tasks/downscale_run.h"
#include "tasks/jobs.h"
#include "train/setup.h"

/* One PNG per variable: coarse input, truth, prediction (one colour range) and error. */
static void plot_downscale(const char *dir, const Downscale *d, int t, const float *fine, const float *y,
                           const unsigned char *ok) {
    const Dataset *ds = d->ds;
    const int64_t HW = (int64_t)d->H * d->W, hw = (int64_t)d->h * d->w;
    double *lat = xmalloc(sizeof(double) * (size_t)d->H), *lon = xmalloc(sizeof(double) * (size_t)d->W);
    double *clat = xmalloc(sizeof(double) * (size_t)d->h), *clon = xmalloc(sizeof(double) * (size_t)d->w);
    for (int i = 0; i < d->H; i++) lat[i] = (float)ds->lat[i];
    for (int j = 0; j < d->W; j++) lon[j] = (float)ds->lon[j];
    for (int i = 0; i < d->h; i++) { /* block centres */
        clat[i] = 0;
        for (int u = 0; u < d->s; u++) clat[i] += lat[i * d->s + u] / d->s;
    }
    for (int j = 0; j < d->w; j++) {
        clon[j] = 0;
        for (int u = 0; u < d->s; u++) clon[j] += lon[j * d->s + u] / d->s;
    }
    float *e = xmalloc(sizeof(float) * (size_t)HW);
    char when[32], path[4096], title[256], err[1024];
    hours_to_iso(ds->hours[t], when, sizeof when);
    for (int v = 0; v < d->Vo; v++) {
        const float *f = fine + v * HW, *yt = y + v * HW, *c = d->coarse_phys + ((int64_t)t * d->Vo + v) * hw;
        const unsigned char *okv = ok + v * HW;
        float lo, hi, emax;
        plot_error_field(f, yt, okv, HW, e, &lo, &hi, &emax);
        const char *u = ds->units ? ds->units[v] : "";
        char ct[64];
        snprintf(ct, sizeof ct, "coarse input (1/%d)", d->s);
        PlotPanel p[4] = {
            {.title = ct, .values = c, .valid = d->coarse_valid + ((int64_t)t * d->Vo + v) * hw, .H = d->h, .W = d->w, .lat = clat, .lon = clon, .vmin = lo, .vmax = hi, .units = u},
            {.title = "truth", .values = yt, .valid = okv, .H = d->H, .W = d->W, .lat = lat, .lon = lon, .vmin = lo, .vmax = hi, .units = u},
            {.title = "Reslim", .values = f, .valid = okv, .H = d->H, .W = d->W, .lat = lat, .lon = lon, .vmin = lo, .vmax = hi, .units = u},
            {.title = "Reslim - truth", .values = e, .valid = okv, .H = d->H, .W = d->W, .lat = lat, .lon = lon,
             .vmin = -emax, .vmax = emax, .diverging = 1, .units = u},
        };
        snprintf(path, sizeof path, "%s/%s_t%d_x%d.png", dir, ds->names[v], t, d->s);
        snprintf(title, sizeof title, "%s at %s, downscaled x%d", ds->names[v], when, d->s);
        if (plot_fields_png(path, p, 4, title, err, sizeof err)) DIE_USER("lvit predict --plot: %s", err);
        printf("wrote %s\n", path);
    }
    free(lat), free(lon), free(clat), free(clon), free(e);
}

int downscale_predict(const PredictOptions *opt) {
    const char *run = opt->run, *out = opt->out, *plot_dir = opt->plot_dir, *data = opt->data, *statics = opt->statics,
               *coarse = opt->coarse;
    int time = opt->time;
    const int blend = opt->blend, batch = opt->batch, device = opt->device;
    const TaskOptions tf = opt->tiles;
    if (!run || !out) DIE_USER("lvit predict: --run RUN_DIR and -o OUT.nc are required");
    size_t olen = strlen(out);
    if (olen < 4 || strcmp(out + olen - 3, ".nc"))
        DIE_USER("lvit predict: -o %s: a downscaling model writes CF netCDF; give a name ending in .nc", out);
    train_set_threads(opt->threads);
    DsRun r;
    ds_run_open(&r, run, data, statics, coarse, &tf, "predict");
    const Downscale *d = &r.dd.d;
    if (time < 0) time = r.ds.t_val_end < r.ds.T ? r.ds.t_val_end : r.ds.T - 1;
    if (time >= r.ds.T) DIE_USER("lvit predict: --time %d: the data has %d times (0..%d)", time, r.ds.T, r.ds.T - 1);
    DsInfer q;
    ds_infer_init(&q, &r.cfg, r.ckpt, d, batch, blend, ds_kernels(device, "predict"));
    const int64_t HW = (int64_t)d->H * d->W, hw = (int64_t)d->h * d->w;
    float *fine = xmalloc(sizeof(float) * (size_t)(d->Vo * HW)), *y = xmalloc(sizeof(float) * (size_t)(d->Vo * HW));
    float *up = xmalloc(sizeof(float) * (size_t)HW);
    unsigned char *ok = xmalloc((size_t)(d->Vo * HW));
    ds_infer(&q, time, fine);
    truth_at(d, time, y, ok);
    double *lat = xmalloc(sizeof(double) * (size_t)d->H), *w = xmalloc(sizeof(double) * (size_t)d->H);
    for (int i = 0; i < d->H; i++) lat[i] = (float)r.ds.lat[i];
    lat_weights(w, lat, d->H);
    printf("time %d downscaled x%d (%dx%d -> %dx%d): latitude-weighted RMSE, Reslim vs bicubic\n", time, d->s, d->h, d->w,
           d->H, d->W);
    for (int v = 0; v < d->Vo; v++) {
        FieldAcc am = {0}, ab = {0};
        field_acc_add(&am, fine + v * HW, y + v * HW, ok + v * HW, w, d->H, d->W, r.ds.mean[v]);
        resample_upsample(up, d->coarse_phys + ((int64_t)time * d->Vo + v) * hw, d->h, d->w, d->s, RS_BICUBIC, d->global);
        field_acc_add(&ab, up, y + v * HW, ok + v * HW, w, d->H, d->W, r.ds.mean[v]);
        printf("  %-12s %12.5g %12.5g %s\n", r.ds.names[v], field_rmse(&am), field_rmse(&ab), r.ds.units[v]);
    }
    /* on the data's grid: the cropped rows and columns (if any) are fill values */
    const int64_t plane = (int64_t)r.ds.H * r.ds.W;
    float *fc = xcalloc((size_t)(d->Vo * plane), sizeof(float));
    unsigned char *okm = xcalloc((size_t)(d->Vo * plane), 1);
    for (int v = 0; v < d->Vo; v++)
        for (int i = 0; i < d->H; i++)
            for (int j = 0; j < d->W; j++) {
                fc[v * plane + (int64_t)i * r.ds.W + j] = fine[v * HW + (int64_t)i * d->W + j];
                okm[v * plane + (int64_t)i * r.ds.W + j] = 1;
            }
    char err[1024];
    if (forecast_write_nc(out, &r.ds, fc, okm, r.ds.hours[time], r.ds.hours[time], err, sizeof err)) DIE_USER("%s", err);
    printf("wrote %s (CF netCDF, %d variables on %dx%d)\n", out, d->Vo, r.ds.H, r.ds.W);
    if (plot_dir) plot_downscale(plot_dir, d, time, fine, y, ok);
    free(fc), free(okm), free(fine), free(y), free(up), free(ok), free(lat), free(w);
    ds_infer_free(&q);
    ds_run_close(&r);
    return 0;
}
