/* lvit predict: run a trained model on one sample and write the forecast in physical units. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "cli/downscale_cli.h"
#include "core/check.h"
#include "core/json.h"
#include "data/convert.h"
#include "data/dataset.h"
#include "eval/plot.h"
#include "io/checkpoint.h"
#include "io/forecast_nc.h"
#include "io/safetensors.h"

/* Reopens the data a run was trained on from its "lvit.data" description (a dataset file, or
 * the synthetic data rebuilt from its parameters). */
static void dataset_from_desc(Dataset *ds, const char *desc, int V, const char *path) {
    char err[1024];
    JsonValue *d = desc ? json_parse(desc, strlen(desc), 1 << 16, "lvit.data", err, sizeof err) : NULL;
    const char *src = json_as_string(json_get(d, "source"));
    if (src && strcmp(src, "synthetic") != 0) {
        if (dataset_open(ds, src, err, sizeof err)) DIE_USER("%s (the data this model was trained on)", err);
        json_free(d);
        return;
    }
    const char *grid = json_as_string(json_get(d, "grid"));
    int64_t times, seed;
    int H, W;
    if (!src || strcmp(src, "synthetic") || !grid || args_parse_grid(grid, &H, &W) ||
        json_as_int64(json_get(d, "times"), 1, 100000000, &times) ||
        json_as_int64(json_get(d, "seed"), 0, INT64_MAX, &seed))
        DIE_USER("%s: no usable \"lvit.data\" description of the training data (synthetic data only in this version)",
                 path);
    dataset_synthetic(ds, V, (int)times, H, W, (uint64_t)seed);
    json_free(d);
}

/* One PNG per variable: truth, forecast (same colour range) and error (diverging, centred). */
static void plot_forecast_maps(const char *dir, const Dataset *ds, const float *fc, const float *truth, int time, int t2,
                               float lead) {
    size_t plane = (size_t)ds->H * ds->W;
    double *lat = xmalloc(sizeof(double) * ds->H), *lon = xmalloc(sizeof(double) * ds->W);
    for (int i = 0; i < ds->H; i++) lat[i] = ds->lat[i];
    for (int j = 0; j < ds->W; j++) lon[j] = ds->lon[j];
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

int cmd_predict(int argc, char **argv) {
    if (cli_run_is_downscale(argc, argv)) return cmd_predict_downscale(argc, argv);
    const char *run = NULL, *out = NULL, *plot_dir = NULL;
    int time = -1, threads = 0;
    float lead = 6;
    ArgSpec specs[] = {
        {"run", ARG_STR, &run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"time", ARG_INT, &time, "index of the initial time (default: the first validation time)", NULL, -1, 1e9, 0},
        {"lead", ARG_FLOAT, &lead, "lead time in hours", NULL, 0, 1e6, 0},
        {"output", ARG_STR, &out, "output file: .nc for CF netCDF, else safetensors (also -o; required)", NULL, 0, 0, 0},
        {"threads", ARG_INT, &threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {"plot", ARG_STR, &plot_dir, "also draw truth | forecast | error maps per variable into this directory", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict",
               "--run RUN_DIR [--time T] [--lead H] -o OUT.safetensors|OUT.nc [--plot DIR]\n"
               "  (a downscaling run writes the fine fields and takes --tiles, --halo, --blend, --device: "
               "lvit predict --run RUN_DIR --help)", NULL, 0);
    if (!run || !out) DIE_USER("lvit predict: --run RUN_DIR and -o OUT are required");
    cli_set_threads(threads);
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    VitConfig cfg;
    float *mean, *std;
    if (ckpt_load_config(path, &cfg, &mean, &std, err, sizeof err)) DIE_USER("%s", err);
    if (!mean) DIE_USER("%s: no normalization statistics (lvit.norm) in the checkpoint", path);
    char *desc = ckpt_load_data_desc(path);
    Dataset ds;
    dataset_from_desc(&ds, desc, cfg.V, path);
    free(desc);
    memcpy(ds.mean, mean, sizeof(float) * (size_t)cfg.V);
    memcpy(ds.std, std, sizeof(float) * (size_t)cfg.V);

    Sampler s;
    if (sampler_init(&s, &ds, 0, ds.T, &lead, 1, 0, 0, err, sizeof err)) DIE_USER("lvit predict: %s", err);
    if (time < 0) time = (int)floor(ds.T * 0.8 + 0.5);
    if (time >= ds.T || s.target[(int64_t)time * s.nlead] < 0)
        DIE_USER("lvit predict: --time %d with --lead %g h: the data (%d times) has no target time for it", time,
                 lead, ds.T);
    const Kernels *k = kernels_cpu();
    Vit m;
    vit_init(&m, &cfg, 1, k);
    if (ckpt_load_params(&m, path, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init(&hb, 1, cfg.V, cfg.H, cfg.W);
    hb.residual = 0; /* the input state as it is: the residual is added back below */
    dataset_lat_weights(&ds, hb.wlat, cfg.H);
    host_batch_fill(&hb, 0, &s, (int64_t)time * s.nlead);
    int64_t img = (int64_t)cfg.V * cfg.H * cfg.W;
    float *dev = k->alloc(sizeof(float) * (size_t)(2 * img + 1));
    k->upload(dev, hb.x, img);
    k->upload(dev + 2 * img, hb.lead, 1);
    Batch b = {.B = 1, .x = dev, .y = NULL, .mask = NULL, .lead = dev + 2 * img, .wlat = NULL};
    vit_forward(&m, &b);
    vit_prediction(&m, dev + img, 1);
    float *pred = xmalloc(sizeof(float) * (size_t)img);
    k->download(pred, dev + img, img);

    /* back to physical units on the data grid (padding removed) */
    size_t plane = (size_t)ds.H * ds.W;
    float *fc = xmalloc(sizeof(float) * cfg.V * plane), *truth = xmalloc(sizeof(float) * cfg.V * plane);
    float *init = xmalloc(sizeof(float) * cfg.V * plane);
    int t2 = s.target[(int64_t)time * s.nlead];
    printf("forecast from time %d (+%g h): latitude-weighted RMSE over cells valid at both times, model vs persistence\n",
           time, lead);
    for (int v = 0; v < cfg.V; v++) {
        double se = 0, sp = 0, sw = 0;
        for (int i = 0; i < ds.H; i++)
            for (int j = 0; j < ds.W; j++) {
                size_t o = (size_t)v * plane + (size_t)i * ds.W + j;
                size_t mo = ((size_t)v * cfg.H + i) * cfg.W + j;
                fc[o] = (pred[mo] + (cfg.residual ? hb.x[mo] : 0.0f)) * ds.std[v] + ds.mean[v];
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
    size_t olen = strlen(out);
    if (olen > 3 && strcmp(out + olen - 3, ".nc") == 0) {
        /* CF netCDF: the forecast, masked where the input state was not observed */
        unsigned char *okm = xmalloc((size_t)cfg.V * plane);
        for (int v = 0; v < cfg.V; v++)
            for (size_t c = 0; c < plane; c++)
                okm[(size_t)v * plane + c] = ds.valid ? ds.valid[((size_t)time * ds.V + v) * plane + c] : 1;
        if (forecast_write_nc(out, &ds, fc, okm, ds.hours[time], ds.hours[t2], err, sizeof err)) DIE_USER("%s", err);
        free(okm);
        printf("wrote %s (CF netCDF, %d variables on %dx%d)\n", out, cfg.V, ds.H, ds.W);
        if (plot_dir) plot_forecast_maps(plot_dir, &ds, fc, truth, time, t2, lead);
        goto done;
    }
    StWriter *w = st_writer_new();
    char meta[256];
    snprintf(meta, sizeof meta, "{\"time_index\":%d,\"lead_hours\":%g}", time, lead);
    st_writer_meta(w, "lvit.forecast", meta);
    char *cj = vit_config_to_json(&cfg);
    st_writer_meta(w, "lvit.config", cj);
    free(cj);
    int64_t shp[3] = {cfg.V, ds.H, ds.W}, sh_lat[1] = {ds.H}, sh_lon[1] = {ds.W};
    st_writer_add(w, "forecast", ST_F32, 3, shp, fc);
    st_writer_add(w, "truth", ST_F32, 3, shp, truth);
    st_writer_add(w, "initial", ST_F32, 3, shp, init);
    st_writer_add(w, "lat", ST_F32, 1, sh_lat, ds.lat);
    st_writer_add(w, "lon", ST_F32, 1, sh_lon, ds.lon);
    if (st_writer_finish(w, out, err, sizeof err)) DIE_USER("%s", err);
    printf("wrote %s (forecast, truth, initial [%d,%d,%d], lat, lon)\n", out, cfg.V, ds.H, ds.W);
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
    dataset_free(&ds);
    vit_config_free(&cfg);
    free(mean);
    free(std);
    return 0;
}
