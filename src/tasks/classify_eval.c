/* `lvit eval` and `lvit predict` of a classification run: the run's model and data reopened, the
 * split rebuilt from the recorded options, logits for every sample of a split; scores (OA, AA,
 * kappa, per-class F1 and IoU, top-5; multi-label micro/macro-F1 and mAP) against the majority
 * class of the training set, confusion matrices as CSV and PNG, class maps of a scene. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "eval/class_metrics.h"
#include "io/checkpoint.h"
#include "tasks/classify_data.h"
#include "tasks/class_map_out.h"
#include "tasks/image_run.h"
#include "tasks/jobs.h"
#include "train/setup.h"

typedef struct ClassifyRun {
    ImageRun ir; /* checkpoint, configuration, data, task options */
    ClassifyData cd;
    const char *names[4096]; /* class names (at most the first 4096 are named in plots) */
} ClassifyRun;

/* The model, its data (the recorded file or --data) and the samples as training made them. */
static void classify_run_open(ClassifyRun *r, const char *run, const char *data, LabelRasterRead rd, const char *cmd) {
    memset(r, 0, sizeof *r);
    image_run_open(&r->ir, run, data, rd, cmd, "classify");
    char err[2048];
    if (!image_run_labelled(&r->ir)) { /* a scene without labels: lvit predict maps it, pixel by pixel */
        if (strcmp(cmd, "predict"))
            DIE_USER("lvit %s: %s has no labels to score (lvit predict maps a scene without them)", cmd, r->ir.data);
        const int w = r->ir.opts.window, p = r->ir.cfg.p;
        if (r->ir.cfg.multilabel || r->ir.cfg.H != (w + p - 1) / p * p)
            DIE_USER("lvit predict: the model %s classifies whole images; lvit eval scores them", r->ir.ckpt);
        if (classify_data_open_all(&r->cd, &r->ir.ds, 1, w, p, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
        r->cd.K = r->ir.cfg.classes;
        for (int k = 0; k < r->ir.nclass && k < 4096; k++) r->names[k] = r->ir.class_names[k];
        return;
    }
    if (classify_data_open(&r->cd, &r->ir.ds, &r->ir.opts, r->ir.cfg.p, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
    image_run_check_split(&r->ir, &r->cd);
    if (r->cd.K != r->ir.cfg.classes || r->cd.Hp != r->ir.cfg.H || r->cd.Wp != r->ir.cfg.W || r->cd.multi != r->ir.cfg.multilabel)
        DIE_USER("lvit %s: %s has %d classes on %dx%d samples, the model %s was trained for %d on %dx%d", cmd, r->ir.data,
                 r->cd.K, r->cd.Hp, r->cd.Wp, r->ir.ckpt, r->ir.cfg.classes, r->ir.cfg.H, r->ir.cfg.W);
    for (int k = 0; k < r->cd.K && k < 4096; k++) r->names[k] = r->ir.ds.img.class_names[k];
}

static void classify_run_close(ClassifyRun *r) {
    classify_data_close(&r->cd);
    image_run_close(&r->ir);
}

/* Logits [n, K] of samples [first, first + n) of the run's list, batch at a time. */
static float *logits_of(ClassifyRun *r, int64_t first, int64_t n, int batch) {
    const Kernels *k = kernels_cpu();
    const VitConfig *c = &r->ir.cfg;
    const int K = c->classes;
    Vit m;
    vit_init(&m, c, NULL, batch, k);
    char err[2048];
    if (ckpt_load_params(&m, r->ir.ckpt, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init_classify(&hb, batch, &r->cd, 0, r->cd.Hp);
    /* backend memory: the inputs [batch, nx], the lead input [batch] and wlat [1] (zero: unused by the
     * classifier), the logits [batch, K] */
    const int64_t nx = batch * hb.nx;
    float *dev = k->alloc(sizeof(float) * (size_t)(nx + batch + 1 + (int64_t)batch * K));
    float *dlogits = dev + nx + batch + 1;
    float *logits = xmalloc(sizeof(float) * (size_t)(n * K + 1));
    for (int64_t done = 0; done < n;) {
        const int b = (int)(n - done < batch ? n - done : batch);
        for (int i = 0; i < b; i++) classify_fill(&r->cd, &hb, i, first + done + i);
        k->upload(dev, hb.x, b * hb.nx);
        Batch bt = {.B = b, .x = dev, .lead = dev + nx, .wlat = dev + nx + batch};
        vit_forward(&m, &bt);
        vit_prediction(&m, dlogits, b);
        k->download(logits + done * K, dlogits, (int64_t)b * K);
        done += b;
    }
    k->free(dev);
    host_batch_free(&hb);
    vit_free(&m);
    return logits;
}

static int set_of(const char *split) {
    return !strcmp(split, "test") ? SPLIT_TEST : !strcmp(split, "val") ? SPLIT_VAL : !strcmp(split, "train") ? SPLIT_TRAIN : -1;
}

/* The most frequent class of the training samples (the trivial baseline). */
static int majority_class(const ClassifyData *cd) {
    int64_t *n = xcalloc((size_t)cd->K, sizeof(int64_t));
    for (int64_t i = 0; i < cd->n[SPLIT_TRAIN]; i++) n[cd->s[i].cls]++;
    int best = 0;
    for (int k = 1; k < cd->K; k++) best = n[k] > n[best] ? k : best;
    free(n);
    return best;
}

static void write_or_die(int rc, const char *err) {
    if (rc) DIE_USER("lvit eval: %s", err);
}

/* Single-label scores of one split; the JSON summary into js. */
static void eval_single(ClassifyRun *r, const float *logits, int64_t first, int64_t n, const char *split, const char *run,
                        JsonBuf *js) {
    const ClassifyData *cd = &r->cd;
    const int K = cd->K, maj = majority_class(cd);
    int64_t *cm = xcalloc((size_t)K * K, sizeof(int64_t)), *cm0 = xcalloc((size_t)K * K, sizeof(int64_t)), top5 = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * K;
        const int truth = cd->s[first + i].cls;
        class_cm_add(cm, K, truth, class_argmax(z, K));
        class_cm_add(cm0, K, truth, maj);
        top5 += class_topk_hit(z, K, truth, 5);
    }
    ClassStats *per = xcalloc((size_t)K, sizeof *per);
    ClassSummary s, s0;
    class_metrics(cm, K, per, &s);
    class_metrics(cm0, K, NULL, &s0);
    printf("%s: %lld %s; OA %.2f%%, AA %.2f%%, kappa %.4f, macro-F1 %.4f, mIoU %.4f, top-%d %.2f%%\n", split,
           (long long)n, cd->pixel ? "pixels" : "images", 100 * s.oa, 100 * s.aa, s.kappa, s.macro_f1, s.miou,
           K < 5 ? K : 5, n ? 100.0 * top5 / n : 0.0);
    printf("baseline (the training set's majority class, '%s'): OA %.2f%%, AA %.2f%%, kappa %.4f\n",
           cd->ds->img.class_names[maj], 100 * s0.oa, 100 * s0.aa, s0.kappa);
    printf("  %-24s %8s %8s %8s %8s %8s\n", "class", "support", "recall", "prec", "F1", "IoU");
    for (int k = 0; k < K; k++)
        printf("  %-24.24s %8lld %8.4f %8.4f %8.4f %8.4f\n", cd->ds->img.class_names[k], (long long)per[k].support,
               per[k].recall, per[k].precision, per[k].f1, per[k].iou);
    json_buf_printf(js, ",\"n\":%lld,\"oa\":%.6f,\"aa\":%.6f,\"kappa\":%.6f,\"macro_f1\":%.6f,\"miou\":%.6f,\"top5\":%.6f,"
                        "\"baseline_majority\":{\"class\":%d,\"oa\":%.6f,\"aa\":%.6f,\"kappa\":%.6f},\"per_class\":[",
                    (long long)n, s.oa, s.aa, s.kappa, s.macro_f1, s.miou, n ? (double)top5 / n : 0.0, maj, s0.oa, s0.aa,
                    s0.kappa);
    for (int k = 0; k < K; k++) {
        json_buf_printf(js, "%s{\"name\":", k ? "," : "");
        json_buf_put_string(js, cd->ds->img.class_names[k]);
        json_buf_printf(js, ",\"support\":%lld,\"recall\":%.6f,\"precision\":%.6f,\"f1\":%.6f,\"iou\":%.6f}",
                        (long long)per[k].support, per[k].recall, per[k].precision, per[k].f1, per[k].iou);
    }
    json_buf_puts(js, "]");
    char path[4200], err[4400];
    snprintf(path, sizeof path, "%s/confusion_%s%s.csv", run, split, r->ir.tag);
    write_or_die(class_write_confusion_csv(path, cm, K, r->names, err, sizeof err), err);
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/class_metrics_%s%s.csv", run, split, r->ir.tag);
    write_or_die(class_write_metrics_csv(path, cm, K, r->names, err, sizeof err), err);
    printf("wrote %s\n", path);
    snprintf(path, sizeof path, "%s/confusion_%s%s.png", run, split, r->ir.tag);
    char title[256];
    snprintf(title, sizeof title, "%s split: OA %.1f%%, AA %.1f%%, kappa %.3f", split, 100 * s.oa, 100 * s.aa, s.kappa);
    write_or_die(class_confusion_png(path, cm, K, r->names, title, NULL, err, sizeof err), err);
    printf("wrote %s\n", path);
    free(cm), free(cm0), free(per);
}

/* Multi-label scores at threshold 0.5 of the sigmoid; the JSON summary into js. */
static void eval_multi(ClassifyRun *r, const float *logits, int64_t first, int64_t n, const char *split, JsonBuf *js) {
    const ClassifyData *cd = &r->cd;
    const int K = cd->K;
    float *p = xmalloc(sizeof(float) * (size_t)(n * K + 1));
    uint8_t *t = xmalloc((size_t)(n * K + 1));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            p[i * K + k] = 1.0f / (1.0f + expf(-logits[i * K + k]));
            t[i * K + k] = cd->ds->img.multi[(int64_t)cd->s[first + i].img * K + k];
        }
    ClassScorePair *work = xmalloc(sizeof *work * (size_t)(n + 1));
    ClassMultiSummary s;
    class_multilabel(p, t, n, K, 0.5, NULL, work, &s);
    printf("%s: %lld images, %d classes (multi-label); micro-F1 %.4f, macro-F1 %.4f, mAP %.4f (threshold 0.5)\n", split,
           (long long)n, K, s.micro_f1, s.macro_f1, s.map);
    json_buf_printf(js, ",\"n\":%lld,\"micro_f1\":%.6f,\"macro_f1\":%.6f,\"map\":%.6f", (long long)n, s.micro_f1,
                    s.macro_f1, s.map);
    free(p), free(t), free(work);
}

int classify_eval(const EvalOptions *o) {
    if (!o->run) DIE_USER("lvit eval: --run RUN_DIR is required");
    const int set = set_of(o->split);
    if (set < 0) DIE_USER("lvit eval: --split expects test, val or train, got '%s'", o->split);
    train_set_threads(o->threads);
    ClassifyRun r;
    classify_run_open(&r, o->run, o->data, o->tiles.read_raster, "eval");
    const int64_t first = classify_first(&r.cd, set), n = r.cd.n[set];
    if (n == 0) DIE_USER("lvit eval: the %s split of %s has no samples for this run", o->split, r.ir.ds.source);
    float *logits = logits_of(&r, first, n, o->batch);
    JsonBuf js = {0};
    json_buf_printf(&js, "{\"task\":\"classify\",\"split\":\"%s\"", o->split);
    if (r.cd.multi) eval_multi(&r, logits, first, n, o->split, &js);
    else eval_single(&r, logits, first, n, o->split, o->run, &js);
    json_buf_puts(&js, "}\n");
    if (o->json) write_text_file(o->json, js.s, "eval");
    json_buf_free(&js);
    free(logits);
    classify_run_close(&r);
    return 0;
}

/* lvit predict: every pixel of scene --time classified (pixel mode): the class map (tasks/class_map_out.h)
 * and, where the data has labels, OUT_test.png beside it (the prediction on the labelled pixels). */
int classify_predict(const PredictOptions *o) {
    if (!o->run) DIE_USER("lvit predict: --run RUN_DIR is required");
    class_map_kind(o);
    train_set_threads(o->threads);
    ClassifyRun r;
    classify_run_open(&r, o->run, o->data, o->tiles.read_raster, "predict");
    if (!r.cd.pixel) DIE_USER("lvit predict: the model %s classifies whole images; lvit eval scores them", r.ir.ckpt);
    const int img = o->time < 0 ? 0 : o->time, H = r.ir.ds.H, W = r.ir.ds.W;
    if (img >= r.ir.ds.T) DIE_USER("lvit predict: --time %d: %s has %d images", img, r.ir.ds.source, r.ir.ds.T);
    /* every pixel as a sample: the list replaced by the scene's pixels */
    ClassifySample *keep = r.cd.s;
    int64_t nkeep[3];
    memcpy(nkeep, r.cd.n, sizeof nkeep);
    r.cd.s = xmalloc(sizeof *r.cd.s * (size_t)H * W);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) r.cd.s[(int64_t)y * W + x] = (ClassifySample){img, y, x, 0};
    r.cd.n[0] = (int64_t)H * W, r.cd.n[1] = r.cd.n[2] = 0;
    float *logits = logits_of(&r, 0, (int64_t)H * W, o->batch);
    int32_t *pred = xmalloc(sizeof(int32_t) * (size_t)H * W);
    for (int64_t i = 0; i < (int64_t)H * W; i++) pred[i] = class_argmax(logits + i * r.cd.K, r.cd.K);
    free(r.cd.s);
    r.cd.s = keep;
    memcpy(r.cd.n, nkeep, sizeof nkeep);
    char png[4200], err[4400];
    class_map_write(&r.ir, o, img, pred, r.cd.K, r.names, png, sizeof png);
    if (image_run_labelled(&r.ir)) {
        /* beside it OUT_test.png: the prediction on the labelled pixels, the training ones marked, the test ones scored */
        const int32_t *truth = r.ir.ds.img.label_map + (int64_t)img * H * W;
        uint8_t *role = xcalloc((size_t)H * W, 1);
        const int64_t ntrain = r.cd.n[SPLIT_TRAIN] + r.cd.n[SPLIT_VAL], nall = ntrain + r.cd.n[SPLIT_TEST];
        int64_t right = 0, ntest = 0;
        for (int64_t j = 0; j < nall; j++)
            if (r.cd.s[j].img == img) {
                const int64_t i = (int64_t)r.cd.s[j].row * W + r.cd.s[j].col;
                role[i] = j < ntrain ? CLASS_ROLE_TRAIN : CLASS_ROLE_TEST;
                ntest += j >= ntrain, right += j >= ntrain && pred[i] == truth[i];
            }
        char test_png[4300];
        snprintf(test_png, sizeof test_png, "%.*s_test.png", (int)(strlen(png) - 4), png);
        if (class_compare_png(test_png, truth, pred, role, H, W, r.cd.K, r.names, 512 / (H > W ? H : W) > 1 ? 512 / (H > W ? H : W) : 1,
                              r.ir.ckpt, NULL, err, sizeof err))
            DIE_USER("lvit predict: %s", err);
        printf("wrote %s: %lld test pixels, %lld predicted right (OA %.4f)\n", test_png, (long long)ntest, (long long)right,
               ntest ? (double)right / (double)ntest : 0.0);
        free(role);
    }
    free(logits), free(pred);
    classify_run_close(&r);
    return 0;
}
