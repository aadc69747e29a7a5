/* `lvit eval` and `lvit predict` of a segmentation run: the run's model and data reopened, the tiles
 * and their split rebuilt from the recorded options, every scored pixel of a split's tiles predicted;
 * OA, AA, kappa, per-class IoU and mIoU against the training pixels' majority class, the confusion
 * matrix as CSV and PNG; the predicted class map of a scene as GeoTIFF (georeferenced like the
 * input) and PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "eval/class_metrics.h"
#include "io/checkpoint.h"
#include "tasks/class_map_out.h"
#include "tasks/image_run.h"
#include "tasks/jobs.h"
#include "tasks/segment_data.h"
#include "train/setup.h"

typedef struct SegRun {
    ImageRun ir; /* checkpoint, configuration, data, task options */
    SegmentData sd;
    const char *names[4096];
} SegRun;

static void seg_run_open(SegRun *r, const char *run, const char *data, LabelRasterRead rd, const char *cmd) {
    memset(r, 0, sizeof *r);
    image_run_open(&r->ir, run, data, rd, cmd, "segment");
    char err[2048];
    if (!image_run_labelled(&r->ir)) { /* a scene without labels: lvit predict maps it */
        if (strcmp(cmd, "predict"))
            DIE_USER("lvit %s: %s has no labels to score (lvit predict maps a scene without them)", cmd, r->ir.data);
        if (segment_data_scene(&r->sd, &r->ir.ds, r->ir.opts.window, r->ir.cfg.p, r->ir.cfg.seg_classes, err, sizeof err))
            DIE_USER("lvit %s: %s", cmd, err);
        for (int k = 0; k < r->ir.nclass && k < 4096; k++) r->names[k] = r->ir.class_names[k];
        return;
    }
    if (segment_data_open(&r->sd, &r->ir.ds, &r->ir.opts, r->ir.cfg.p, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
    image_run_check_split(&r->ir, &r->sd.cd);
    if (r->sd.cd.K != r->ir.cfg.seg_classes || r->sd.cd.Hp != r->ir.cfg.H || r->sd.cd.Wp != r->ir.cfg.W)
        DIE_USER("lvit %s: %s has %d classes on %dx%d tiles, the model %s was trained for %d on %dx%d", cmd, r->ir.data,
                 r->sd.cd.K, r->sd.cd.Hp, r->sd.cd.Wp, r->ir.ckpt, r->ir.cfg.seg_classes, r->ir.cfg.H, r->ir.cfg.W);
    for (int k = 0; k < r->sd.cd.K && k < 4096; k++) r->names[k] = r->ir.ds.img.class_names[k];
}

static void seg_run_close(SegRun *r) {
    segment_data_close(&r->sd);
    image_run_close(&r->ir);
}

/* The model over samples [first, first + n) (tiles), batch at a time: take(ctx, i, logits [K, Hp, Wp]) for each. */
typedef void (*TileTake)(void *ctx, int64_t i, const float *logits);
static void run_tiles(SegRun *r, int64_t first, int64_t n, int batch, TileTake take, void *ctx) {
    const Kernels *k = kernels_cpu();
    const VitConfig *c = &r->ir.cfg;
    const int64_t G = (int64_t)c->H * c->W, KG = c->seg_classes * G;
    Vit m;
    vit_init(&m, c, NULL, batch, k);
    char err[2048];
    if (ckpt_load_params(&m, r->ir.ckpt, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init_segment(&hb, batch, &r->sd, 0, c->H);
    /* backend memory: the inputs [batch, nx], lead [batch] and wlat [1] (unused), the logits [batch, K, Hp, Wp] */
    const int64_t nx = batch * hb.nx;
    float *dev = k->alloc(sizeof(float) * (size_t)(nx + batch + 1 + batch * KG));
    float *dimg = dev + nx + batch + 1, *img = xmalloc(sizeof(float) * (size_t)(batch * KG));
    for (int64_t done = 0; done < n;) {
        const int b = (int)(n - done < batch ? n - done : batch);
        for (int i = 0; i < b; i++) classify_fill_x(&r->sd.cd, &hb, first + done + i, hb.x + i * hb.nx, NULL);
        k->upload(dev, hb.x, b * hb.nx);
        Batch bt = {.B = b, .x = dev, .lead = dev + nx, .wlat = dev + nx + batch};
        vit_forward(&m, &bt);
        vit_prediction(&m, dimg, b);
        k->download(img, dimg, b * KG);
        for (int i = 0; i < b; i++) take(ctx, done + i, img + i * KG);
        done += b;
    }
    k->free(dev);
    free(img);
    host_batch_free(&hb);
    vit_free(&m);
}

/* Tiles overlapping by about half cover the scene; each adds its softmax, weighted by the pixel's
 * distance from the tile's edge (1 at the edge, t/2 in the middle), so no tile border shows in the
 * map. The stride is a whole number of patches, and the last tile of a row or column lies flush
 * with the image's edge: inside the image no tile holds padding (training's edge tiles do, at
 * their own place; a padded patch elsewhere in a tile is what the model never saw). */
typedef struct SceneAcc {
    float *acc; /* [K, H, W] */
    int K, H, W, t, stride, nw, Wp;
    int64_t G;
} SceneAcc;

/* The first row (or column) of tile j along a side of `size` pixels. */
static int tile_origin(int j, int size, int t, int stride) {
    const int last = size > t ? size - t : 0;
    return j * stride < last ? j * stride : last;
}

/* Tiles along a side of `size` pixels: enough that the last, flush with the edge, follows on. */
static int tile_count(int size, int t, int stride) { return size <= t ? 1 : (size - t + stride - 1) / stride + 1; }

static void scene_take(void *ctx, int64_t i, const float *logits) {
    const SceneAcc *a = ctx;
    const int y0 = tile_origin((int)(i / a->nw), a->H, a->t, a->stride),
              x0 = tile_origin((int)(i % a->nw), a->W, a->t, a->stride);
    float z[4096];
    const int K = a->K < 4096 ? a->K : 4096;
    for (int gr = 0; gr < a->t && y0 + gr < a->H; gr++)
        for (int gc = 0; gc < a->t && x0 + gc < a->W; gc++) {
            const int64_t g = (int64_t)gr * a->Wp + gc;
            float mx = logits[g], sum = 0.0f;
            for (int k = 1; k < K; k++) mx = fmaxf(mx, logits[k * a->G + g]);
            for (int k = 0; k < K; k++) sum += z[k] = expf(logits[k * a->G + g] - mx);
            const int wy = gr + 1 < a->t - gr ? gr + 1 : a->t - gr, wx = gc + 1 < a->t - gc ? gc + 1 : a->t - gc;
            const float w = (float)wy * (float)wx / sum;
            float *o = a->acc + (int64_t)(y0 + gr) * a->W + x0 + gc;
            for (int k = 0; k < K; k++) o[(int64_t)k * a->H * a->W] += w * z[k];
        }
}

/* The class of every pixel of image img [H * W], from tiles overlapping by half. */
static int32_t *scene_map(SegRun *r, int img, int batch) {
    ClassifyData *cd = &r->sd.cd;
    const int H = r->ir.ds.H, W = r->ir.ds.W, t = r->sd.tile, p = r->sd.patch, K = cd->K;
    const int s = t / 2 / p * p > 0 ? t / 2 / p * p : (t / 2 > 0 ? t / 2 : 1); /* half a tile, in whole patches */
    const int nh = tile_count(H, t, s), nw = tile_count(W, t, s);
    ClassifySample *keep = cd->s; /* the tiles of the scene in place of the split's */
    int64_t nkeep[3];
    memcpy(nkeep, cd->n, sizeof nkeep);
    cd->s = xmalloc(sizeof *cd->s * (size_t)nh * nw);
    for (int ty = 0; ty < nh; ty++)
        for (int tx = 0; tx < nw; tx++)
            cd->s[ty * nw + tx] = (ClassifySample){img, tile_origin(ty, H, t, s) + t / 2, tile_origin(tx, W, t, s) + t / 2, 0};
    cd->n[0] = (int64_t)nh * nw, cd->n[1] = cd->n[2] = 0;
    SceneAcc a = {xcalloc((size_t)K * H * W, sizeof(float)), K, H, W, t, s, nw, cd->Wp, (int64_t)cd->Hp * cd->Wp};
    run_tiles(r, 0, (int64_t)nh * nw, batch, scene_take, &a);
    free(cd->s);
    cd->s = keep;
    memcpy(cd->n, nkeep, sizeof nkeep);
    int32_t *pred = xmalloc(sizeof(int32_t) * (size_t)H * W);
    float z[4096];
    for (int64_t q = 0; q < (int64_t)H * W; q++) {
        for (int k = 0; k < K && k < 4096; k++) z[k] = a.acc[(int64_t)k * H * W + q];
        pred[q] = class_argmax(z, K < 4096 ? K : 4096);
    }
    free(a.acc);
    return pred;
}

static void or_die(int rc, const char *cmd, const char *err) {
    if (rc) DIE_USER("lvit %s: %s", cmd, err);
}

int segment_eval(const EvalOptions *o) {
    const int set = !strcmp(o->split, "test") ? SPLIT_TEST : !strcmp(o->split, "train") ? SPLIT_TRAIN : -1;
    if (set < 0) DIE_USER("lvit eval: --split expects test or train for a segmentation run, got '%s'", o->split);
    train_set_threads(o->threads);
    SegRun r;
    seg_run_open(&r, o->run, o->data, o->tiles.read_raster, "eval");
    const SegmentData *sd = &r.sd;
    const int K = sd->cd.K, Hp = sd->cd.Hp, Wp = sd->cd.Wp;
    const int64_t first = classify_first(&sd->cd, set), n = sd->cd.n[set];
    /* every image with pixels in the set predicted whole, as lvit predict draws it */
    int32_t **maps = xcalloc((size_t)r.ir.ds.T, sizeof *maps);
    for (int64_t i = 0; i < n; i++) {
        const int im = sd->cd.s[first + i].img;
        if (!maps[im]) maps[im] = scene_map(&r, im, o->batch);
    }
    /* the baseline: the most frequent class of the training pixels */
    int64_t *cnt = xcalloc((size_t)K, sizeof(int64_t));
    const int64_t all = (int64_t)r.ir.ds.T * r.ir.ds.H * r.ir.ds.W;
    for (int64_t i = 0; i < all; i++)
        if (sd->map[SPLIT_TRAIN][i] >= 0) cnt[sd->map[SPLIT_TRAIN][i]]++;
    int maj = 0;
    for (int c = 1; c < K; c++) maj = cnt[c] > cnt[maj] ? c : maj;
    int64_t *cm = xcalloc((size_t)K * K, sizeof(int64_t)), *cm0 = xcalloc((size_t)K * K, sizeof(int64_t)), np = 0;
    for (int64_t i = 0; i < n; i++)
        for (int gr = 0; gr < Hp; gr++)
            for (int gc = 0; gc < Wp; gc++) {
                const int t = segment_label(sd, first + i, gr, gc);
                if (t < 0) continue;
                const ClassifySample *smp = &sd->cd.s[first + i];
                const int y = smp->row - sd->tile / 2 + gr, x = smp->col - sd->tile / 2 + gc;
                class_cm_add(cm, K, t, maps[smp->img][(int64_t)y * r.ir.ds.W + x]);
                class_cm_add(cm0, K, t, maj);
                np++;
            }
    ClassStats *per = xcalloc((size_t)K, sizeof *per);
    ClassSummary s, s0;
    class_metrics(cm, K, per, &s);
    class_metrics(cm0, K, NULL, &s0);
    printf("%s: %lld pixels in %lld tiles; OA %.2f%%, AA %.2f%%, kappa %.4f, mIoU %.4f, macro-F1 %.4f\n", o->split,
           (long long)np, (long long)n, 100 * s.oa, 100 * s.aa, s.kappa, s.miou, s.macro_f1);
    printf("baseline (the training pixels' majority class, '%s'): OA %.2f%%, AA %.2f%%, kappa %.4f, mIoU %.4f\n",
           r.names[maj], 100 * s0.oa, 100 * s0.aa, s0.kappa, s0.miou);
    printf("  %-24s %8s %8s %8s %8s %8s\n", "class", "support", "recall", "prec", "F1", "IoU");
    for (int c = 0; c < K; c++)
        printf("  %-24.24s %8lld %8.4f %8.4f %8.4f %8.4f\n", r.names[c], (long long)per[c].support, per[c].recall,
               per[c].precision, per[c].f1, per[c].iou);
    JsonBuf js = {0};
    json_buf_printf(&js, "{\"task\":\"segment\",\"split\":\"%s\",\"n\":%lld,\"tiles\":%lld,\"oa\":%.6f,\"aa\":%.6f,"
                         "\"kappa\":%.6f,\"miou\":%.6f,\"macro_f1\":%.6f,\"baseline_majority\":{\"class\":%d,\"oa\":%.6f,"
                         "\"aa\":%.6f,\"kappa\":%.6f,\"miou\":%.6f},\"per_class\":[",
                    o->split, (long long)np, (long long)n, s.oa, s.aa, s.kappa, s.miou, s.macro_f1, maj, s0.oa, s0.aa,
                    s0.kappa, s0.miou);
    for (int c = 0; c < K; c++) {
        json_buf_printf(&js, "%s{\"name\":", c ? "," : "");
        json_buf_put_string(&js, r.names[c]);
        json_buf_printf(&js, ",\"support\":%lld,\"recall\":%.6f,\"precision\":%.6f,\"f1\":%.6f,\"iou\":%.6f}",
                        (long long)per[c].support, per[c].recall, per[c].precision, per[c].f1, per[c].iou);
    }
    json_buf_puts(&js, "]}\n");
    char path[4200], err[4400], title[256];
    snprintf(path, sizeof path, "%s/confusion_%s%s.csv", o->run, o->split, r.ir.tag);
    or_die(class_write_confusion_csv(path, cm, K, r.names, err, sizeof err), "eval", err);
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/class_metrics_%s%s.csv", o->run, o->split, r.ir.tag);
    or_die(class_write_metrics_csv(path, cm, K, r.names, err, sizeof err), "eval", err);
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/confusion_%s%s.png", o->run, o->split, r.ir.tag);
    snprintf(title, sizeof title, "%s pixels: OA %.1f%%, AA %.1f%%, kappa %.3f, mIoU %.3f", o->split, 100 * s.oa,
             100 * s.aa, s.kappa, s.miou);
    or_die(class_confusion_png(path, cm, K, r.names, title, NULL, err, sizeof err), "eval", err);
    printf("wrote %s\n", path);
    if (o->json) write_text_file(o->json, js.s, "eval");
    json_buf_free(&js);
    for (int im = 0; im < r.ir.ds.T; im++) free(maps[im]);
    free(maps), free(cnt), free(cm), free(cm0), free(per);
    seg_run_close(&r);
    return 0;
}

/* lvit predict: every tile of scene --time, the class of every pixel: -o MAP.tif (GeoTIFF of the class
 * values, and MAP.png beside it) or -o MAP.png (the labels beside the prediction). */
int segment_predict(const PredictOptions *o) {
    class_map_kind(o);
    train_set_threads(o->threads);
    SegRun r;
    seg_run_open(&r, o->run, o->data, o->tiles.read_raster, "predict");
    const int img = o->time < 0 ? 0 : o->time;
    if (img >= r.ir.ds.T) DIE_USER("lvit predict: --time %d: %s has %d images", img, r.ir.ds.source, r.ir.ds.T);
    int32_t *pred = scene_map(&r, img, o->batch);
    char png[4200];
    class_map_write(&r.ir, o, img, pred, r.sd.cd.K, r.names, png, sizeof png);
    free(pred);
    seg_run_close(&r);
    return 0;
}
