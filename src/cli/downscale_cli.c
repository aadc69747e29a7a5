/* Downscaling in the commands: data set-up, tiled inference, lvit eval and lvit predict for
 * Reslim models (cli/downscale_cli.h). */
#include "cli/downscale_cli.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/convert.h"
#include "data/resample.h"
#include "eval/metrics.h"
#include "eval/plot.h"
#include "io/checkpoint.h"
#include "io/forecast_nc.h"

/* The flags eval and predict share on a downscaling run */
#define DS_RUN_ARG_SPECS(data, statics, coarse, tf, blend, batch, device) \
    {"device", ARG_CHOICE, &(device), "where the model runs: cpu, or cuda (the GPU backend)", "cpu|cuda", 0, 0, 0}, \
    {"run", ARG_STR, &run, "run directory with model.safetensors (required)", NULL, 0, 0, 0}, \
    {"data", ARG_STR, &(data), "fine dataset file (default: the one the model was trained on)", NULL, 0, 0, 0}, \
    {"static", ARG_STR, &(statics), "static inputs (default: those the model was trained with)", NULL, 0, 0, 0}, \
    {"coarse-data", ARG_STR, &(coarse), "coarse inputs of their own (default: as in training)", NULL, 0, 0, 0}, \
    TILE_ARG_SPECS(tf), \
    {"blend", ARG_FLAG, &(blend), "TILES: blend the overlapping halos (weights falling off across them) instead of cropping them", NULL, 0, 0, 0}, \
    {"batch", ARG_INT, &(batch), "windows per forward pass", NULL, 1, 1 << 16, 0}

int cli_run_is_downscale(int argc, char **argv) {
    const char *run = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) run = argv[i + 1];
        else if (strncmp(argv[i], "--run=", 6) == 0) run = argv[i] + 6;
    }
    if (!run) return 0;
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    VitConfig cfg;
    if (ckpt_load_config(path, &cfg, NULL, NULL, err, sizeof err)) return 0; /* the command says why */
    const int ds = cfg.scale > 1;
    vit_config_free(&cfg);
    return ds;
}

/* ---------------------------------------------------------------- shared set-up of eval and predict */

typedef struct DsRun {
    VitConfig cfg;
    float *mean, *std;
    Dataset ds;
    TaskOptions f;
    DownscaleData dd;
    char ckpt[4096];
    char *desc;
} DsRun;

/* The run's model and data: the flags given override what lvit.data recorded (data file, static
 * inputs, coarse files). */
static void ds_run_open(DsRun *r, const char *run, const char *data, const char *statics, const char *coarse,
                        const TaskOptions *tiles, const char *cmd) {
    memset(r, 0, sizeof *r);
    char err[2048];
    snprintf(r->ckpt, sizeof r->ckpt, "%s/model.safetensors", run);
    if (ckpt_load_config(r->ckpt, &r->cfg, &r->mean, &r->std, err, sizeof err)) DIE_USER("%s", err);
    if (!r->mean) DIE_USER("%s: no normalization statistics (lvit.norm)", r->ckpt);
    r->desc = ckpt_load_data_desc(r->ckpt);
    JsonValue *jd = r->desc ? json_parse(r->desc, strlen(r->desc), 1 << 16, "lvit.data", err, sizeof err) : NULL;
    const JsonValue *dsj = json_get(jd, "downscale");
    const char *src = json_as_string(json_get(jd, "source"));
    if (!data) data = src;
    if (!data || strcmp(data, "synthetic") == 0)
        DIE_USER("lvit %s: --data DATASET is needed (the model was not trained on a dataset file)", cmd);
    r->f = *tiles;
    r->f.scale = r->cfg.scale;
    r->f.res_width = r->cfg.res_width;
    r->f.base = r->cfg.ds_base;
    r->f.statics = statics ? statics : json_as_string(json_get(dsj, "static"));
    r->f.coarse = coarse ? coarse : json_as_string(json_get(dsj, "coarse_data"));
    r->f.var_weights = NULL;
    if (dataset_open(&r->ds, data, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
    if (r->ds.V != r->cfg.Vo) DIE_USER("lvit %s: %s has %d variables, the model downscales %d", cmd, data, r->ds.V, r->cfg.Vo);
    for (int v = 0; v < r->ds.V; v++)
        if (strcmp(r->ds.names[v], r->cfg.var_names[v]))
            DIE_USER("lvit %s: variable %d is %s in %s but %s in the model", cmd, v, r->ds.names[v], data, r->cfg.var_names[v]);
    memcpy(r->ds.mean, r->mean, sizeof(float) * (size_t)r->ds.V);
    memcpy(r->ds.std, r->std, sizeof(float) * (size_t)r->ds.V);
    downscale_data_open(&r->dd, &r->f, &r->ds, r->cfg.p, cmd);
    json_free(jd); /* the strings above were used by downscale_data_open */
    r->f.statics = r->f.coarse = NULL;
    const Downscale *d = &r->dd.d;
    if (d->V != r->cfg.V || d->hp != r->cfg.H || d->wp != r->cfg.W) {
        char names[512] = "";
        for (int v = r->cfg.Vo; v < r->cfg.V; v++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", v > r->cfg.Vo ? "," : "", r->cfg.var_names[v]);
        DIE_USER("lvit %s: the model takes %d inputs (static: %s) on a %dx%d coarse grid; this data gives %d on %dx%d "
                 "(give the --static inputs and --data the model was trained with)", cmd, r->cfg.V, *names ? names : "none",
                 r->cfg.H, r->cfg.W, d->V, d->hp, d->wp);
    }
}

static void ds_run_close(DsRun *r) {
    downscale_data_close(&r->dd);
    dataset_free(&r->ds);
    vit_config_free(&r->cfg);
    free(r->mean), free(r->std), free(r->desc);
}

/* --device: the CPU's kernel table or the GPU's (exit 2 with the reason when there is none) */
static const Kernels *ds_kernels(int device, const char *cmd) {
    if (!device) return kernels_cpu();
    char err[512];
    const Kernels *k = kernels_cuda(err, sizeof err);
    if (!k) DIE_USER("lvit %s: --device cuda: %s", cmd, err);
    return k;
}

static void split_range(const Dataset *ds, const char *split, int *t0, int *t1, const char *cmd) {
    if (!strcmp(split, "test")) *t0 = ds->t_val_end, *t1 = ds->T;
    else if (!strcmp(split, "val")) *t0 = ds->t_train_end, *t1 = ds->t_val_end;
    else if (!strcmp(split, "train")) *t0 = 0, *t1 = ds->t_train_end;
    else DIE_USER("lvit %s: --split expects test, val or train, got '%s'", cmd, split);
    if (*t0 >= *t1) DIE_USER("lvit %s: the %s split of %s is empty", cmd, split, ds->source);
}

/* The truth [Vo, H, W] of time t on the used cells and where it is valid. */
static void truth_at(const Downscale *d, int t, float *y, unsigned char *ok) {
    const Dataset *ds = d->ds;
    for (int v = 0; v < d->Vo; v++)
        for (int r = 0; r < d->H; r++)
            for (int c = 0; c < d->W; c++) {
                const int64_t q = (((int64_t)t * ds->V + v) * ds->H + r) * ds->W + c, o = ((int64_t)v * d->H + r) * d->W + c;
                y[o] = ds->data[q];
                ok[o] = !ds->valid || ds->valid[q];
            }
}

/* ---------------------------------------------------------------- lvit eval */

typedef struct DsSkill {
    FieldAcc model, bilinear, bicubic, seam, dateline, edges;
    double seam_max;
} DsSkill;

/* Seams: fine cells within one coarse cell (s fine cells) of the date line (on a global grid: the
 * first and last s columns), and of the tiles' core boundaries (inside the image; with periodic
 * tiles the date line is one of them). */
static void seam_masks(const Downscale *d, int tiled, unsigned char *dl, unsigned char *edge) {
    const int s = d->s;
    for (int r = 0; r < d->H; r++)
        for (int c = 0; c < d->W; c++) {
            const int64_t i = (int64_t)r * d->W + c;
            dl[i] = d->global && (c < s || c >= d->W - s);
            int e = 0;
            for (int j = 1; tiled && j < d->tp.n; j++) {
                const int br = s * d->tp.ch * j, bc = s * d->tp.cw * j;
                e |= (r >= br - s && r < br + s) || (c >= bc - s && c < bc + s);
            }
            edge[i] = e || (tiled && d->periodic && dl[i]);
        }
}

static void add_masked(FieldAcc *a, const float *f, const float *y, const unsigned char *ok, const unsigned char *band,
                       unsigned char *tmp, const double *w, int H, int W, double ref) {
    for (int64_t i = 0; i < (int64_t)H * W; i++) tmp[i] = ok[i] && band[i];
    field_acc_add(a, f, y, tmp, w, H, W, ref);
}

static void put_num(JsonBuf *b, const char *key, double x) {
    json_buf_printf(b, ",\"%s\":", key);
    json_buf_put_number(b, x);
}

int cmd_eval_downscale(int argc, char **argv) {
    const char *run = NULL, *data = NULL, *split = "test", *json = NULL, *statics = NULL, *coarse = NULL;
    int threads = 0, batch = 8, blend = 0, max_times = 0, device = 0;
    TaskOptions tf = TASK_OPTIONS_DEFAULT;
    ArgSpec specs[] = {
        DS_RUN_ARG_SPECS(data, statics, coarse, tf, blend, batch, device),
        {"split", ARG_STR, &split, "time split to score: test, val or train", NULL, 0, 0, 0},
        {"json", ARG_STR, &json, "also write the scores as JSON to this file", NULL, 0, 0, 0},
        {"max-times", ARG_INT, &max_times, "score only the first N times of the split (0 = all)", NULL, 0, 1 << 30, 0},
        {"threads", ARG_INT, &threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "eval", "--run RUN_DIR [--split test] [--tiles N --halo H] [--json FILE]", NULL, 0);
    if (!run) DIE_USER("lvit eval: --run RUN_DIR is required");
    train_set_threads(threads);
    DsRun r;
    ds_run_open(&r, run, data, statics, coarse, &tf, "eval");
    const Downscale *d = &r.dd.d;
    int t0, t1;
    split_range(&r.ds, split, &t0, &t1, "eval");
    if (max_times > 0 && t1 - t0 > max_times) t1 = t0 + max_times;
    const Kernels *k = ds_kernels(device, "eval");
    DsInfer q, q1;
    ds_infer_init(&q, &r.cfg, r.ckpt, d, batch, blend, k);
    /* with tiles, the same model untiled too: the seam error is the difference */
    const int tiled = downscale_tiled(d);
    Downscale whole = *d;
    char err[512];
    if (tiled) {
        if (tiles_plan(&whole.tp, d->hp, d->wp, 1, 0, r.cfg.p, d->periodic, err, sizeof err)) DIE("%s", err);
        ds_infer_init(&q1, &r.cfg, r.ckpt, &whole, batch, 0, k);
    }
    const int64_t HW = (int64_t)d->H * d->W, hw = (int64_t)d->h * d->w;
    float *fine = xmalloc(sizeof(float) * (size_t)(d->Vo * HW)), *fine1 = tiled ? xmalloc(sizeof(float) * (size_t)(d->Vo * HW)) : NULL;
    float *y = xmalloc(sizeof(float) * (size_t)(d->Vo * HW)), *up = xmalloc(sizeof(float) * (size_t)HW);
    unsigned char *ok = xmalloc((size_t)(d->Vo * HW)), *dl = xmalloc((size_t)HW), *edge = xmalloc((size_t)HW),
                  *band = xmalloc((size_t)HW);
    seam_masks(d, tiled, dl, edge);
    double *lat = xmalloc(sizeof(double) * (size_t)d->H), *w = xmalloc(sizeof(double) * (size_t)d->H);
    for (int i = 0; i < d->H; i++) lat[i] = r.ds.lat[i];
    lat_weights(w, lat, d->H);
    DsSkill *sk = xcalloc((size_t)d->Vo, sizeof(DsSkill));
    double t_model = 0;
    for (int t = t0; t < t1; t++) {
        double ts = now_sec();
        ds_infer(&q, t, fine);
        t_model += now_sec() - ts;
        if (tiled) ds_infer(&q1, t, fine1);
        truth_at(d, t, y, ok);
        for (int v = 0; v < d->Vo; v++) {
            const int64_t o = v * HW;
            const double ref = r.ds.mean[v];
            DsSkill *s = &sk[v];
            field_acc_add(&s->model, fine + o, y + o, ok + o, w, d->H, d->W, ref);
            if (d->global) add_masked(&s->dateline, fine + o, y + o, ok + o, dl, band, w, d->H, d->W, ref);
            if (tiled) add_masked(&s->edges, fine + o, y + o, ok + o, edge, band, w, d->H, d->W, ref);
            const float *cp = d->coarse_phys + ((int64_t)t * d->Vo + v) * hw;
            resample_upsample(up, cp, d->h, d->w, d->s, RS_BILINEAR, d->global);
            field_acc_add(&s->bilinear, up, y + o, ok + o, w, d->H, d->W, ref);
            resample_upsample(up, cp, d->h, d->w, d->s, RS_BICUBIC, d->global);
            field_acc_add(&s->bicubic, up, y + o, ok + o, w, d->H, d->W, ref);
            if (tiled) {
                field_acc_add(&s->seam, fine + o, fine1 + o, NULL, w, d->H, d->W, ref);
                for (int64_t i = 0; i < HW; i++) s->seam_max = fmax(s->seam_max, fabs((double)fine[o + i] - fine1[o + i]));
            }
        }
    }
    const int nt = t1 - t0;
    printf("downscaling x%d on the %s split (%d times, %dx%d -> %dx%d), latitude-weighted over valid cells%s:\n", d->s,
           split, nt, d->h, d->w, d->H, d->W, tiled ? "" : ", untiled");
    if (tiled)
        printf("TILES %dx%d, windows of %dx%d coarse cells, halo %d rows / %d columns, %s longitude, %s overlaps\n",
               d->tp.n, d->tp.n, d->tp.th, d->tp.tw, d->tp.hv, d->tp.hh, d->periodic ? "periodic" : "clamped",
               blend ? "blended" : "cropped");
    printf("%-14s %12s %8s %12s %8s %12s %8s%s%s%s\n", "variable", "rmse", "r2", "bilinear", "r2", "bicubic", "r2",
           d->global ? " rmse@dateline" : "", tiled ? " rmse@edges" : "", tiled ? "   vs untiled (rms, max)" : "");
    JsonBuf jb = {0};
    json_buf_puts(&jb, "[");
    int wins = 0;
    char miss[512] = "";
    for (int v = 0; v < d->Vo; v++) {
        const DsSkill *s = &sk[v];
        const double rm = field_rmse(&s->model), rb = field_rmse(&s->bilinear), rc = field_rmse(&s->bicubic);
        printf("%-14s %12.5g %8.4f %12.5g %8.4f %12.5g %8.4f", r.ds.names[v], rm, field_r2(&s->model), rb,
               field_r2(&s->bilinear), rc, field_r2(&s->bicubic));
        if (d->global) printf(" %13.5g", field_rmse(&s->dateline));
        if (tiled) printf(" %10.5g   %10.4g %10.4g", field_rmse(&s->edges), field_rmse(&s->seam), s->seam_max);
        printf(" %s\n", r.ds.units[v]);
        if (rm < rc) wins++;
        else snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%s", *miss ? ", " : "", r.ds.names[v]);
        json_buf_puts(&jb, v ? ",\n {\"var\":" : "\n {\"var\":");
        json_buf_put_string(&jb, r.ds.names[v]);
        json_buf_printf(&jb, ",\"times\":%d", nt);
        put_num(&jb, "rmse", rm);
        put_num(&jb, "r2", field_r2(&s->model));
        put_num(&jb, "rmse_bilinear", rb);
        put_num(&jb, "r2_bilinear", field_r2(&s->bilinear));
        put_num(&jb, "rmse_bicubic", rc);
        put_num(&jb, "r2_bicubic", field_r2(&s->bicubic));
        if (d->global) put_num(&jb, "rmse_dateline", field_rmse(&s->dateline));
        if (tiled) {
            put_num(&jb, "rmse_tile_edges", field_rmse(&s->edges));
            put_num(&jb, "rmse_vs_untiled", field_rmse(&s->seam));
            put_num(&jb, "max_abs_vs_untiled", s->seam_max);
            json_buf_printf(&jb, ",\"tiles\":%d,\"halo\":%d,\"periodic\":%s,\"blend\":%s", d->tp.n, d->tp.hv,
                            d->periodic ? "true" : "false", blend ? "true" : "false");
        }
        json_buf_puts(&jb, ",\"units\":");
        json_buf_put_string(&jb, r.ds.units[v]);
        json_buf_puts(&jb, "}");
    }
    json_buf_puts(&jb, "\n]\n");
    printf("Reslim beats bicubic interpolation in RMSE on %d of %d variables%s%s%s; %.1f ms per field%s\n", wins, d->Vo,
           *miss ? " (not on " : "", miss, *miss ? ")" : "", 1e3 * t_model / nt, tiled ? " (tiled)" : "");
    if (json) cli_write_text(json, jb.s, "eval");
    json_buf_free(&jb);
    free(sk), free(fine), free(fine1), free(y), free(up), free(ok), free(dl), free(edge), free(band), free(lat), free(w);
    ds_infer_free(&q);
    if (tiled) ds_infer_free(&q1);
    ds_run_close(&r);
    return 0;
}

/* ---------------------------------------------------------------- lvit predict */

/* One PNG per variable: coarse input, truth, prediction (one colour range) and error. */
static void plot_downscale(const char *dir, const Downscale *d, int t, const float *fine, const float *y,
                           const unsigned char *ok) {
    const Dataset *ds = d->ds;
    const int64_t HW = (int64_t)d->H * d->W, hw = (int64_t)d->h * d->w;
    double *lat = xmalloc(sizeof(double) * (size_t)d->H), *lon = xmalloc(sizeof(double) * (size_t)d->W);
    double *clat = xmalloc(sizeof(double) * (size_t)d->h), *clon = xmalloc(sizeof(double) * (size_t)d->w);
    for (int i = 0; i < d->H; i++) lat[i] = ds->lat[i];
    for (int j = 0; j < d->W; j++) lon[j] = ds->lon[j];
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

int cmd_predict_downscale(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *plot_dir = NULL, *data = NULL, *statics = NULL, *coarse = NULL;
    int time = -1, threads = 0, blend = 0, batch = 8, device = 0;
    TaskOptions tf = TASK_OPTIONS_DEFAULT;
    ArgSpec specs[] = {
        DS_RUN_ARG_SPECS(data, statics, coarse, tf, blend, batch, device),
        {"time", ARG_INT, &time, "index of the time to downscale (default: the first test time)", NULL, -1, 1e9, 0},
        {"output", ARG_STR, &out, "output file: CF netCDF of the fine fields (also -o; required, .nc)", NULL, 0, 0, 0},
        {"plot", ARG_STR, &plot_dir, "also draw coarse input | truth | prediction | error maps per variable into this directory", NULL, 0, 0, 0},
        {"threads", ARG_INT, &threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict", "--run RUN_DIR [--time T] -o OUT.nc [--plot DIR] [--tiles N --halo H]", NULL, 0);
    if (!run || !out) DIE_USER("lvit predict: --run RUN_DIR and -o OUT.nc are required");
    size_t olen = strlen(out);
    if (olen < 4 || strcmp(out + olen - 3, ".nc"))
        DIE_USER("lvit predict: -o %s: a downscaling model writes CF netCDF; give a name ending in .nc", out);
    train_set_threads(threads);
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
    for (int i = 0; i < d->H; i++) lat[i] = r.ds.lat[i];
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
