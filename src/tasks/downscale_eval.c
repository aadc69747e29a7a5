/* The downscaling task's `lvit eval`: per variable the latitude-weighted RMSE and R^2 of the
 * model against bilinear and bicubic interpolation, at the date line and the tile edges, and
 * tiled against untiled inference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/resample.h"
#include "eval/metrics.h"
#include "tasks/downscale_run.h"
#include "tasks/jobs.h"
#include "train/setup.h"

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

int downscale_eval(const EvalOptions *opt) {
    const char *run = opt->run, *data = opt->data, *split = opt->split, *json = opt->json, *statics = opt->statics,
               *coarse = opt->coarse;
    const int batch = opt->batch, blend = opt->blend, max_times = opt->max_times, device = opt->device;
    const TaskOptions tf = opt->tiles;
    if (!run) DIE_USER("lvit eval: --run RUN_DIR is required");
    train_set_threads(opt->threads);
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
    for (int i = 0; i < d->H; i++) lat[i] = (float)r.ds.lat[i];
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
    if (json) write_text_file(json, jb.s, "eval");
    json_buf_free(&jb);
    free(sk), free(fine), free(fine1), free(y), free(up), free(ok), free(dl), free(edge), free(band), free(lat), free(w);
    ds_infer_free(&q);
    if (tiled) ds_infer_free(&q1);
    ds_run_close(&r);
    return 0;
}
