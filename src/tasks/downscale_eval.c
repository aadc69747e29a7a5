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

/* the scores of a variable: model, interpolations, seams (tiled vs untiled), date line, tile edges */
enum { DS_MODEL, DS_BILINEAR, DS_BICUBIC, DS_SEAM, DS_DATELINE, DS_EDGES, DS_N };
typedef struct DsSkill {
    FieldAcc a[DS_N];
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

static double rows_masked(double *part, const float *f, const float *y, const unsigned char *ok,
                          const unsigned char *band, unsigned char *tmp, const double *w, int H, int W, double ref) {
    for (int64_t i = 0; i < (int64_t)H * W; i++) tmp[i] = ok[i] && band[i];
    return field_acc_rows(part, f, y, tmp, w, H, W, ref);
}

/* One time's contribution, per variable a block of E = DS_N (4 H + 1) + 1 doubles: each score's
 * weighted row sums and cell count (field_acc_rows), then the largest tiled - untiled difference.
 * Scores that do not apply stay zero. */
typedef struct DsTime {
    const Downscale *d;
    const double *w;
    const float *mean;
    const unsigned char *dl, *edge;
    unsigned char *band;
    float *up;
    int tiled;
} DsTime;

static int64_t ds_block(const Downscale *d) { return DS_N * (4 * (int64_t)d->H + 1) + 1; }

static void score_time(const DsTime *c, int t, const float *fine, const float *fine1, const float *y,
                       const unsigned char *ok, double *blk) {
    const Downscale *d = c->d;
    const int H = d->H, W = d->W;
    const int64_t HW = (int64_t)H * W, hw = (int64_t)d->h * d->w, E = ds_block(d), R = 4 * (int64_t)H + 1;
    for (int v = 0; v < d->Vo; v++) {
        const int64_t o = v * HW;
        const double ref = c->mean[v];
        double *b = blk + v * E;
        b[DS_MODEL * R + R - 1] = field_acc_rows(b + DS_MODEL * R, fine + o, y + o, ok + o, c->w, H, W, ref);
        if (d->global)
            b[DS_DATELINE * R + R - 1] = rows_masked(b + DS_DATELINE * R, fine + o, y + o, ok + o, c->dl, c->band, c->w, H, W, ref);
        if (c->tiled)
            b[DS_EDGES * R + R - 1] = rows_masked(b + DS_EDGES * R, fine + o, y + o, ok + o, c->edge, c->band, c->w, H, W, ref);
        const float *cp = d->coarse_phys + ((int64_t)t * d->Vo + v) * hw;
        resample_upsample(c->up, cp, d->h, d->w, d->s, RS_BILINEAR, d->global);
        b[DS_BILINEAR * R + R - 1] = field_acc_rows(b + DS_BILINEAR * R, c->up, y + o, ok + o, c->w, H, W, ref);
        resample_upsample(c->up, cp, d->h, d->w, d->s, RS_BICUBIC, d->global);
        b[DS_BICUBIC * R + R - 1] = field_acc_rows(b + DS_BICUBIC * R, c->up, y + o, ok + o, c->w, H, W, ref);
        if (c->tiled) {
            b[DS_SEAM * R + R - 1] = field_acc_rows(b + DS_SEAM * R, fine + o, fine1 + o, NULL, c->w, H, W, ref);
            double mx = 0;
            for (int64_t i = 0; i < HW; i++) mx = fmax(mx, fabs((double)fine[o + i] - fine1[o + i]));
            b[E - 1] = mx;
        }
    }
}

/* Adds one time's blocks to the scores, as one process adds them (row by row, time after time). */
static void add_time(DsSkill *sk, const Downscale *d, const double *blk) {
    const int64_t E = ds_block(d), R = 4 * (int64_t)d->H + 1;
    for (int v = 0; v < d->Vo; v++) {
        const double *b = blk + v * E;
        for (int k = 0; k < DS_N; k++) field_acc_add_rows(&sk[v].a[k], b + k * R, b[k * R + R - 1], d->H);
        sk[v].seam_max = fmax(sk[v].seam_max, b[E - 1]);
    }
}

static void put_num(JsonBuf *b, const char *key, double x) {
    json_buf_printf(b, ",\"%s\":", key);
    json_buf_put_number(b, x);
}

/* The scores as a table and as JSON (rank 0). */
static void ds_report(const DsRun *r, const DsSkill *sk, int nt, const char *split, int blend, double t_model,
                      const char *json) {
    const Downscale *d = &r->dd.d;
    const int tiled = downscale_tiled(d);
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
        const double rm = field_rmse(&s->a[DS_MODEL]), rb = field_rmse(&s->a[DS_BILINEAR]), rc = field_rmse(&s->a[DS_BICUBIC]);
        printf("%-14s %12.5g %8.4f %12.5g %8.4f %12.5g %8.4f", r->ds.names[v], rm, field_r2(&s->a[DS_MODEL]), rb,
               field_r2(&s->a[DS_BILINEAR]), rc, field_r2(&s->a[DS_BICUBIC]));
        if (d->global) printf(" %13.5g", field_rmse(&s->a[DS_DATELINE]));
        if (tiled) printf(" %10.5g   %10.4g %10.4g", field_rmse(&s->a[DS_EDGES]), field_rmse(&s->a[DS_SEAM]), s->seam_max);
        printf(" %s\n", r->ds.units[v]);
        if (rm < rc) wins++;
        else snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%s", *miss ? ", " : "", r->ds.names[v]);
        json_buf_puts(&jb, v ? ",\n {\"var\":" : "\n {\"var\":");
        json_buf_put_string(&jb, r->ds.names[v]);
        json_buf_printf(&jb, ",\"times\":%d", nt);
        put_num(&jb, "rmse", rm);
        put_num(&jb, "r2", field_r2(&s->a[DS_MODEL]));
        put_num(&jb, "rmse_bilinear", rb);
        put_num(&jb, "r2_bilinear", field_r2(&s->a[DS_BILINEAR]));
        put_num(&jb, "rmse_bicubic", rc);
        put_num(&jb, "r2_bicubic", field_r2(&s->a[DS_BICUBIC]));
        if (d->global) put_num(&jb, "rmse_dateline", field_rmse(&s->a[DS_DATELINE]));
        if (tiled) {
            put_num(&jb, "rmse_tile_edges", field_rmse(&s->a[DS_EDGES]));
            put_num(&jb, "rmse_vs_untiled", field_rmse(&s->a[DS_SEAM]));
            put_num(&jb, "max_abs_vs_untiled", s->seam_max);
            json_buf_printf(&jb, ",\"tiles\":%d,\"halo\":%d,\"periodic\":%s,\"blend\":%s", d->tp.n, d->tp.hv,
                            d->periodic ? "true" : "false", blend ? "true" : "false");
        }
        json_buf_puts(&jb, ",\"units\":");
        json_buf_put_string(&jb, r->ds.units[v]);
        json_buf_puts(&jb, "}");
    }
    json_buf_puts(&jb, "\n]\n");
    printf("Reslim beats bicubic interpolation in RMSE on %d of %d variables%s%s%s; %.1f ms per field%s\n", wins, d->Vo,
           *miss ? " (not on " : "", miss, *miss ? ")" : "", 1e3 * t_model / nt, tiled ? " (tiled)" : "");
    if (json) write_text_file(json, jb.s, "eval");
    json_buf_free(&jb);
}

int downscale_eval(const EvalOptions *opt) {
    const char *run = opt->run, *data = opt->data, *split = opt->split, *json = opt->json, *statics = opt->statics,
               *coarse = opt->coarse;
    const int batch = opt->batch, blend = opt->blend, max_times = opt->max_times;
    const TaskOptions tf = opt->tiles;
    if (!run) DIE_USER("lvit eval: --run RUN_DIR is required");
    Parallel par;
    LayoutOptions lo = opt->layout;
    lo.device = opt->device;
    const Kernels *k = eval_layout_init(&par, &lo, "eval");
    const int P = par.world.size, me = par.world.rank;
    eval_check_split(&par, split);
    train_set_threads(opt->threads);
    DsRun r;
    ds_run_open(&r, run, data, statics, coarse, &tf, "eval");
    const Downscale *d = &r.dd.d;
    int t0, t1;
    split_range(&r.ds, split, &t0, &t1, "eval");
    if (max_times > 0 && t1 - t0 > max_times) t1 = t0 + max_times;
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
    const int64_t HW = (int64_t)d->H * d->W;
    float *fine = xmalloc(sizeof(float) * (size_t)(d->Vo * HW)), *fine1 = tiled ? xmalloc(sizeof(float) * (size_t)(d->Vo * HW)) : NULL;
    float *y = xmalloc(sizeof(float) * (size_t)(d->Vo * HW)), *up = xmalloc(sizeof(float) * (size_t)HW);
    unsigned char *ok = xmalloc((size_t)(d->Vo * HW)), *dl = xmalloc((size_t)HW), *edge = xmalloc((size_t)HW),
                  *band = xmalloc((size_t)HW);
    seam_masks(d, tiled, dl, edge);
    double *lat = xmalloc(sizeof(double) * (size_t)d->H), *w = xmalloc(sizeof(double) * (size_t)d->H);
    for (int i = 0; i < d->H; i++) lat[i] = (float)r.ds.lat[i];
    lat_weights(w, lat, d->H);
    DsSkill *sk = xcalloc((size_t)d->Vo, sizeof(DsSkill));
    const DsTime c = {.d = d, .w = w, .mean = r.ds.mean, .dl = dl, .edge = edge, .band = band, .up = up, .tiled = tiled};
    /* the times in rounds of one per process: rank j scores time t0 + round + j */
    const int64_t tb = (int64_t)d->Vo * ds_block(d);
    double *sums = xmalloc(sizeof(double) * (size_t)(P * tb));
    double t_model = 0;
    for (int t00 = t0; t00 < t1; t00 += P) {
        memset(sums, 0, sizeof(double) * (size_t)(P * tb));
        const int t = t00 + me;
        if (t < t1) {
            double ts = now_sec();
            ds_infer(&q, t, fine);
            t_model += now_sec() - ts;
            if (tiled) ds_infer(&q1, t, fine1);
            truth_at(d, t, y, ok);
            score_time(&c, t, fine, fine1, y, ok, sums + me * tb);
        }
        eval_round_sum(&par, sums, P * tb);
        for (int j = 0; j < P && t00 + j < t1; j++) add_time(sk, d, sums + j * tb);
    }
    eval_round_sum(&par, &t_model, 1);
    if (me == 0) ds_report(&r, sk, t1 - t0, split, blend, t_model, json);
    free(sums), free(sk), free(fine), free(fine1), free(y), free(up), free(ok), free(dl), free(edge), free(band), free(lat), free(w);
    ds_infer_free(&q);
    if (tiled) ds_infer_free(&q1);
    ds_run_close(&r);
    parallel_finalize(&par);
    return 0;
}
