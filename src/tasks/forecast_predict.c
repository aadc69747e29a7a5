/* The forecasting task's `lvit predict`: one sample through a trained model, written in
 * physical units (CF netCDF or safetensors) with truth | forecast | error maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset_file.h"
#include "data/series.h"
#include "data/dataset.h"
#include "eval/plot.h"
#include "io/checkpoint.h"
#include "io/forecast_nc.h"
#include "io/run_meta.h"
#include "io/safetensors.h"
#include "tasks/forecast_run.h"
#include "tasks/jobs.h"
#include "train/setup.h"

/* One PNG per variable: truth, forecast (same colour range) and error (diverging, centred). */
static void plot_forecast_maps(const char *dir, const Dataset *ds, const float *fc, const float *truth, int time, int t2,
                               float lead) {
    size_t plane = (size_t)ds->H * ds->W;
    double *lat = xmalloc(sizeof(double) * ds->H), *lon = xmalloc(sizeof(double) * ds->W);
    for (int i = 0; i < ds->H; i++) lat[i] = (float)ds->lat[i];
    for (int j = 0; j < ds->W; j++) lon[j] = (float)ds->lon[j];
    float *errf = xmalloc(sizeof(float) * plane);
    unsigned char *ok = xmalloc(plane);
    char when[32], path[4096], title[256], err[1024];
    hours_to_iso(ds->hours[time], when, sizeof when);
    for (int v = 0; v < ds->V; v++) {
        const float *f = fc + v * plane, *y = truth + v * plane;
        for (size_t c = 0; c < plane; c++) ok[c] = ds->valid ? ds->valid[((size_t)t2 * ds->V + v) * plane + c] : 1;
        float lo, hi, emax;
        plot_error_field(f, y, ok, (int64_t)plane, errf, &lo, &hi, &emax);
        const char *u = ds->units ? ds->units[v] : "";
        PlotPanel p[3] = {
            {.title = "truth", .values = y, .valid = ok, .H = ds->H, .W = ds->W, .lat = lat, .lon = lon, .vmin = lo, .vmax = hi, .units = u},
            {.title = "forecast", .values = f, .valid = ok, .H = ds->H, .W = ds->W, .lat = lat, .lon = lon, .vmin = lo, .vmax = hi, .units = u},
            {.title = "forecast - truth", .values = errf, .valid = ok, .H = ds->H, .W = ds->W, .lat = lat, .lon = lon,
             .vmin = -emax, .vmax = emax, .diverging = 1, .units = u},
        };
        snprintf(path, sizeof path, "%s/%s_t%d_%gh.png", dir, ds->names[v], time, lead);
        snprintf(title, sizeof title, "%s, +%g h from %s", ds->names[v], lead, when);
        if (plot_fields_png(path, p, 3, title, err, sizeof err)) DIE_USER("lvit predict --plot: %s", err);
        printf("wrote %s\n", path);
    }
    free(lat), free(lon), free(errf), free(ok);
}

int forecast_predict(const PredictOptions *opt) {
    const char *run = opt->run, *out = opt->out, *plot_dir = opt->plot_dir, *data = opt->data;
    int time = opt->time;
    float lead = opt->lead;
    if (!run || !out) DIE_USER("lvit predict: --run RUN_DIR and -o OUT are required");
    train_set_threads(opt->threads);
    ForecastRun fr;
    forecast_run_open(&fr, run, data, 1, "predict");
    const char *path = fr.ckpt;
    const VitConfig cfg = fr.cfg;
    const Dataset ds = fr.ds;
    char err[1024];
    if (cfg.history && fr.max_lead_h > 0 && lead > fr.max_lead_h * (1.0f + 1e-6f))
        DIE_USER("lvit predict: --lead %g is beyond the longest lead the model was trained at (%g h), and a model with "
                 "--history inputs cannot be rolled out; give a lead up to %g", lead, fr.max_lead_h, fr.max_lead_h);

    Sampler s;
    if (sampler_init(&s, &ds, 0, ds.T, &lead, 1, 0, 0, err, sizeof err) ||
        sampler_require_history(&s, cfg.history, forecast_time_step(&ds), err, sizeof err))
        DIE_USER("lvit predict: --lead %g: %s", lead, err);
    if (time < 0) time = (int)floor(ds.T * 0.8 + 0.5);
    if (time >= ds.T || s.target[(int64_t)time * s.nlead] < 0)
        DIE_USER("lvit predict: --time %d with --lead %g h: the data (%d times) has no target time for it", time,
                 lead, ds.T);
    const Kernels *k = kernels_cpu();
    Vit m;
    vit_init(&m, &cfg, NULL, 1, k);
    if (ckpt_load_params(&m, path, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init(&hb, 1, cfg.V, cfg.H, cfg.W);
    if (cfg.history) host_batch_set_history(&hb, cfg.history, cfg.Vo);
    hb.residual = 0; /* the input state as it is: forecast_rollout adds the residual or anchor back */
    dataset_lat_weights(&ds, hb.wlat, cfg.H);
    host_batch_fill(&hb, 0, &s, (int64_t)time * s.nlead);
    int64_t img = (int64_t)cfg.V * cfg.H * cfg.W;
    float *dev = k->alloc(sizeof(float) * (size_t)(2 * img + 1));
    const int64_t oimg = (int64_t)cfg.Vo * cfg.H * cfg.W;
    float *pred = xmalloc(sizeof(float) * (size_t)oimg), *xvalid = xmalloc(sizeof(float) * (size_t)oimg);
    forecast_initial_valid(&ds, &s, (int64_t)time * s.nlead, xvalid, cfg.H, cfg.W);
    if (forecast_rollout(&m, &fr, hb.x, xvalid, 1, lead, dev, img, pred) > 1)
        printf("+%g h is beyond the trained leads: rolled out in steps of %g h\n", lead, fr.max_lead_h);
    free(xvalid);

    /* back to physical units on the data grid (padding removed) */
    size_t plane = (size_t)ds.H * ds.W;
    float *fc = xmalloc(sizeof(float) * cfg.Vo * plane), *truth = xmalloc(sizeof(float) * cfg.Vo * plane);
    float *init = xmalloc(sizeof(float) * cfg.Vo * plane);
    int t2 = s.target[(int64_t)time * s.nlead];
    printf("forecast from time %d (+%g h): latitude-weighted RMSE over cells valid at both times, model vs persistence\n",
           time, lead);
    for (int v = 0; v < cfg.Vo; v++) {
        double se = 0, sp = 0, sw = 0;
        for (int i = 0; i < ds.H; i++)
            for (int j = 0; j < ds.W; j++) {
                size_t o = (size_t)v * plane + (size_t)i * ds.W + j;
                size_t mo = ((size_t)v * cfg.H + i) * cfg.W + j;
                fc[o] = pred[mo] * ds.std[v] + ds.mean[v]; /* the anchor added (forecast_rollout) */
                size_t q0 = ((size_t)time * ds.V + v) * plane + (size_t)i * ds.W + j;
                size_t q1 = ((size_t)t2 * ds.V + v) * plane + (size_t)i * ds.W + j;
                int ok0 = !ds.valid || ds.valid[q0], ok1 = !ds.valid || ds.valid[q1];
                truth[o] = ok1 ? ds.data[q1] : NAN;
                init[o] = ok0 ? ds.data[q0] : NAN;
                if (!ok0 || !ok1) continue; /* scores count cells observed at both times */
                double w = hb.wlat[i];
                se += w * (fc[o] - truth[o]) * (fc[o] - truth[o]);
                sp += w * (init[o] - truth[o]) * (init[o] - truth[o]);
                sw += w;
            }
        printf("  %-12s %12.5g %12.5g\n", ds.names[v], sqrt(se / sw), sqrt(sp / sw));
    }
    /* Every output format marks the same cells missing: those where the initial state was not
     * observed (netCDF: _FillValue, safetensors: NaN; the C API writes NaN there too) */
    unsigned char *okm = xmalloc((size_t)cfg.Vo * plane);
    for (int v = 0; v < cfg.Vo; v++)
        for (size_t c = 0; c < plane; c++)
            okm[(size_t)v * plane + c] = ds.valid ? ds.valid[((size_t)time * ds.V + v) * plane + c] : 1;
    size_t olen = strlen(out);
    if (olen > 3 && strcmp(out + olen - 3, ".nc") == 0) {
        ForecastNcInfo info = {.Hp = cfg.H, .Wp = cfg.W, .checkpoint = path};
        if (forecast_write_nc_info(out, &ds, fc, okm, ds.hours[time], ds.hours[t2], &info, err, sizeof err))
            DIE_USER("%s", err);
        printf("wrote %s (CF netCDF, %d variables on %dx%d)\n", out, cfg.Vo, ds.H, ds.W);
        free(okm);
        if (plot_dir) plot_forecast_maps(plot_dir, &ds, fc, truth, time, t2, lead);
        goto done;
    }
    float *fcm = xmalloc(sizeof(float) * cfg.Vo * plane);
    for (size_t c = 0; c < (size_t)cfg.Vo * plane; c++) fcm[c] = okm[c] ? fc[c] : NAN;
    free(okm);
    StWriter *w = st_writer_new();
    char meta[512];
    snprintf(meta, sizeof meta, "{\"time_index\":%d,\"lead_hours\":%g,\"reference_hours\":%.17g,\"valid_hours\":%.17g,"
             "\"time_units\":\"hours since 1970-01-01 00:00:00\",\"missing\":\"NaN where the initial state was not observed\","
             "\"model_grid\":[%d,%d]}", time, lead, ds.hours[time], ds.hours[t2], cfg.H, cfg.W);
    st_writer_meta(w, "lvit.forecast", meta);
    char *cj = vit_config_to_json(&cfg);
    st_writer_meta(w, "lvit.config", cj);
    free(cj);
    int64_t shp[3] = {cfg.Vo, ds.H, ds.W}, sh_lat[1] = {ds.H}, sh_lon[1] = {ds.W};
    st_writer_add(w, "forecast", ST_F32, 3, shp, fcm);
    st_writer_add(w, "truth", ST_F32, 3, shp, truth);
    st_writer_add(w, "initial", ST_F32, 3, shp, init);
    st_writer_add(w, "lat", ST_F64, 1, sh_lat, ds.lat);
    st_writer_add(w, "lon", ST_F64, 1, sh_lon, ds.lon);
    if (st_writer_finish(w, out, err, sizeof err)) DIE_USER("%s", err);
    free(fcm);
    printf("wrote %s (forecast, truth, initial [%d,%d,%d], lat, lon)\n", out, cfg.Vo, ds.H, ds.W);
    if (plot_dir) plot_forecast_maps(plot_dir, &ds, fc, truth, time, t2, lead);
done:
    free(fc);
    free(truth);
    free(init);
    free(pred);
    k->free(dev);
    host_batch_free(&hb);
    vit_free(&m);
    sampler_free(&s);
    forecast_run_close(&fr);
    return 0;
}
