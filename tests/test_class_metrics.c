/* Tests for src/eval/class_metrics.c and class_plot.c: the scores of a small confusion matrix and
 * of a multi-label example against hand-computed fractions (checked once with scikit-learn 1.9.1:
 * accuracy_score, balanced_accuracy_score, cohen_kappa_score, f1_score, jaccard_score and
 * average_precision_score gave the same numbers), the 0/0 rules, top-k ties, and the writers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/class_metrics.h"
#include "util_test.h"

#define EPS 1e-12

/* The 3-class example: rows true, columns predicted.
 *   [5 2 1]  support 8     predicted 7, 5, 8; n = 20, correct = 14
 *   [0 3 1]  support 4
 *   [2 0 6]  support 8
 * recall 5/8, 3/4, 3/4 -> AA 17/24; precision 5/7, 3/5, 3/4
 * F1 = 2tp/(s+p): 10/15, 6/9, 12/16 = 2/3, 2/3, 3/4 -> macro-F1 25/36
 * IoU = tp/(s+p-tp): 5/10, 3/6, 6/10 -> mIoU 8/15
 * kappa: pe = (8*7 + 4*5 + 8*8)/400 = 140/400, po = 14/20 -> (0.7-0.35)/0.65 = 7/13 */
static const int64_t CM3[9] = {5, 2, 1, 0, 3, 1, 2, 0, 6};

static void test_confusion_scores(void **state) {
    (void)state;
    int64_t cm[9];
    class_cm_clear(cm, 3);
    for (int t = 0; t < 3; t++)
        for (int p = 0; p < 3; p++)
            for (int64_t i = 0; i < CM3[t * 3 + p]; i++) assert_int_equal(class_cm_add(cm, 3, t, p), 0);
    assert_memory_equal(cm, CM3, sizeof cm);
    assert_int_equal(class_cm_add(cm, 3, 3, 0), -1);   /* out of range: refused, nothing added */
    assert_int_equal(class_cm_add(cm, 3, 0, -1), -1);
    assert_memory_equal(cm, CM3, sizeof cm);

    ClassStats per[3];
    ClassSummary s;
    class_metrics(cm, 3, per, &s);
    assert_int_equal(s.n, 20);
    assert_int_equal(s.correct, 14);
    assert_int_equal(s.present, 3);
    assert_int_equal(s.seen, 3);
    assert_float_equal(s.oa, 0.7, EPS);
    assert_float_equal(s.aa, 17.0 / 24, EPS);
    assert_float_equal(s.kappa, 7.0 / 13, EPS);
    assert_float_equal(s.macro_f1, 25.0 / 36, EPS);
    assert_float_equal(s.miou, 8.0 / 15, EPS);
    const double prec[3] = {5.0 / 7, 3.0 / 5, 3.0 / 4}, rec[3] = {5.0 / 8, 3.0 / 4, 3.0 / 4},
                 f1[3] = {2.0 / 3, 2.0 / 3, 3.0 / 4}, iou[3] = {0.5, 0.5, 0.6};
    const int64_t sup[3] = {8, 4, 8}, pred[3] = {7, 5, 8};
    for (int c = 0; c < 3; c++) {
        assert_int_equal(per[c].support, sup[c]);
        assert_int_equal(per[c].predicted, pred[c]);
        assert_float_equal(per[c].precision, prec[c], EPS);
        assert_float_equal(per[c].recall, rec[c], EPS);
        assert_float_equal(per[c].f1, f1[c], EPS);
        assert_float_equal(per[c].iou, iou[c], EPS);
    }

    /* merge = element-wise sum: twice the matrix, the same ratios */
    int64_t twice[9];
    memcpy(twice, CM3, sizeof twice);
    class_cm_merge(twice, CM3, 3);
    for (int i = 0; i < 9; i++) assert_int_equal(twice[i], 2 * CM3[i]);
    ClassSummary s2;
    class_metrics(twice, 3, NULL, &s2);
    assert_int_equal(s2.n, 40);
    assert_float_equal(s2.kappa, 7.0 / 13, EPS);
}

static void test_zero_cases(void **state) {
    (void)state;
    ClassSummary s;
    ClassStats per[4];
    /* nothing counted: every summary NaN, every per-class ratio 0 */
    int64_t empty[4] = {0};
    class_metrics(empty, 2, per, &s);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.oa) && isnan(s.aa) && isnan(s.kappa) && isnan(s.macro_f1) && isnan(s.miou));
    assert_true(per[0].precision == 0 && per[0].recall == 0 && per[0].f1 == 0 && per[0].iou == 0);

    /* one class, all right: OA 1, kappa undefined (pe = 1) */
    int64_t one[4] = {5, 0, 0, 0};
    class_metrics(one, 2, per, &s);
    assert_float_equal(s.oa, 1, EPS);
    assert_float_equal(s.aa, 1, EPS);
    assert_true(isnan(s.kappa));
    assert_int_equal(s.present, 1);
    assert_int_equal(s.seen, 1);   /* class 1: no support, never predicted -> left out of macro-F1, mIoU */
    assert_float_equal(s.macro_f1, 1, EPS);
    assert_float_equal(s.miou, 1, EPS);

    /* the 3-class example with a 4th class that has no support but 2 predictions (true 0 -> 3):
     * class 3 is in macro-F1 and mIoU (F1 = IoU = 0) but not in AA; class 0's recall drops to 3/8 */
    int64_t cm[16] = {3, 2, 1, 2, 0, 3, 1, 0, 2, 0, 6, 0, 0, 0, 0, 0};
    class_metrics(cm, 4, per, &s);
    assert_int_equal(s.present, 3);
    assert_int_equal(s.seen, 4);
    assert_float_equal(per[3].precision, 0, EPS);   /* tp 0 of p 2 */
    assert_float_equal(per[3].recall, 0, EPS);      /* 0/0 */
    assert_float_equal(s.aa, (3.0 / 8 + 3.0 / 4 + 3.0 / 4) / 3, EPS);
    /* F1: 6/(8+5), 6/9, 12/16, 0; IoU: 3/10, 3/6, 6/10, 0 */
    assert_float_equal(s.macro_f1, (6.0 / 13 + 2.0 / 3 + 3.0 / 4 + 0) / 4, EPS);
    assert_float_equal(s.miou, (0.3 + 0.5 + 0.6 + 0) / 4, EPS);
    /* kappa: n 20, correct 12, sum s*p = 8*5 + 4*5 + 8*8 + 0*2 = 124 -> (240-124)/(400-124) */
    assert_float_equal(s.kappa, 116.0 / 276, EPS);
}

static void test_topk(void **state) {
    (void)state;
    const float sc[4] = {0.1f, 0.5f, 0.5f, 0.2f};
    assert_int_equal(class_argmax(sc, 4), 1);   /* first of the tied maxima */
    assert_int_equal(class_topk_hit(sc, 4, 1, 1), 1);
    assert_int_equal(class_topk_hit(sc, 4, 2, 1), 0);   /* tied with class 1, ranked after it */
    assert_int_equal(class_topk_hit(sc, 4, 2, 2), 1);
    assert_int_equal(class_topk_hit(sc, 4, 0, 3), 0);   /* rank 3 (0-based) */
    assert_int_equal(class_topk_hit(sc, 4, 0, 4), 1);
    assert_int_equal(class_topk_hit(sc, 4, 0, 10), 1);   /* k > C = C */
    assert_int_equal(class_topk_hit(sc, 4, 3, 0), 0);
    assert_int_equal(class_topk_hit(sc, 4, 4, 10), 0);   /* truth outside */
    assert_int_equal(class_topk_hit(sc, 4, -1, 10), 0);
    const float nan3[3] = {NAN, 0.3f, NAN};
    assert_int_equal(class_argmax(nan3, 3), 1);
    assert_int_equal(class_topk_hit(nan3, 3, 1, 1), 1);
    assert_int_equal(class_topk_hit(nan3, 3, 0, 1), 0);   /* NaN ranks below 0.3 */
    assert_int_equal(class_topk_hit(nan3, 3, 0, 2), 1);
    assert_int_equal(class_topk_hit(nan3, 3, 2, 2), 0);   /* after 0.3 and the lower-index NaN */
    assert_int_equal(class_topk_hit(nan3, 3, 2, 3), 1);
    const float allnan[2] = {NAN, NAN};
    assert_int_equal(class_argmax(allnan, 2), 0);
}

/* Multi-label, N = 4, C = 4, threshold 0.5 (score >= 0.5 predicts the class):
 *   class 0: scores .9 .4 .6 .2, targets 1 0 1 0 -> tp 2 fp 0 fn 0, F1 1; AP 1
 *   class 1: scores .2 .7 .1 .8, targets 1 1 0 0 -> tp 1 fp 1 fn 1, F1 1/2;
 *            AP: 0.8 (neg) P 0 R 0; 0.7 P 1/2 R 1/2; 0.2 P 2/3 R 1 -> 1/2*1/2 + 1/2*2/3 = 7/12
 *   class 2: scores .6 .6 .3 .5, targets 1 0 0 1 -> tp 2 fp 1 fn 0, F1 4/5;
 *            AP: the tie at 0.6 is one step P 1/2 R 1/2; 0.5 P 2/3 R 1; 0.3 adds no recall -> 7/12
 *   class 3: scores .1 .6 .2 .3, no positive -> fp 1, F1 0 (counted: it was predicted), AP NaN (left out)
 * micro-F1 = 2*5/(2*5 + 3 + 1) = 5/7; macro-F1 = (1 + 1/2 + 4/5 + 0)/4 = 0.575; mAP = (1 + 7/12 + 7/12)/3 = 13/18 */
static void test_multilabel(void **state) {
    (void)state;
    const float S[16] = {0.9f, 0.2f, 0.6f, 0.1f, 0.4f, 0.7f, 0.6f, 0.6f, 0.6f, 0.1f, 0.3f, 0.2f, 0.2f, 0.8f, 0.5f, 0.3f};
    const uint8_t T[16] = {1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0};
    ClassScorePair work[4];
    double ap[4];
    ClassMultiSummary m;
    assert_int_equal(class_multilabel(S, T, 4, 4, 0.5, ap, work, &m), 0);
    assert_int_equal(m.tp, 5);
    assert_int_equal(m.fp, 3);
    assert_int_equal(m.fn, 1);
    assert_int_equal(m.f1_classes, 4);
    assert_int_equal(m.ap_classes, 3);
    assert_float_equal(m.micro_f1, 5.0 / 7, EPS);
    assert_float_equal(m.macro_f1, 0.575, EPS);
    assert_float_equal(m.map, 13.0 / 18, EPS);
    assert_float_equal(ap[0], 1, EPS);
    assert_float_equal(ap[1], 7.0 / 12, EPS);
    assert_float_equal(ap[2], 7.0 / 12, EPS);
    assert_true(isnan(ap[3]));

    /* threshold 0.65: predicted are class 0 in row 0 (right), class 1 in rows 1 (right) and 3 (wrong):
     * class 0 tp 1 fn 1 -> F1 2/3; class 1 tp 1 fp 1 fn 1 -> 1/2; class 2 fn 2 -> 0; class 3 left out */
    assert_int_equal(class_multilabel(S, T, 4, 4, 0.65, NULL, work, &m), 0);
    assert_int_equal(m.tp, 2);
    assert_int_equal(m.fp, 1);
    assert_int_equal(m.fn, 4);
    assert_int_equal(m.f1_classes, 3);
    assert_float_equal(m.micro_f1, 4.0 / 9, EPS);
    assert_float_equal(m.macro_f1, (2.0 / 3 + 0.5 + 0) / 3, EPS);
    assert_float_equal(m.map, 13.0 / 18, EPS);   /* does not depend on the threshold */

    /* no positives, no predictions: every summary NaN */
    const float z[2] = {0.1f, 0.2f};
    const uint8_t zt[2] = {0, 0};
    assert_int_equal(class_multilabel(z, zt, 2, 1, 0.5, ap, work, &m), 0);
    assert_true(isnan(m.micro_f1) && isnan(m.macro_f1) && isnan(m.map) && isnan(ap[0]));
    assert_int_equal(class_multilabel(z, zt, 0, 1, 0.5, ap, work, &m), -1);
}

/* ---- writers ---- */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_csv(void **state) {
    (void)state;
    char path[512], err[512];
    const char *names[3] = {"Brocoli", "Corn, senesced", NULL};
    snprintf(path, sizeof path, "%s/cm.csv", tu_tmpdir());
    assert_int_equal(class_write_confusion_csv(path, CM3, 3, names, err, sizeof err), 0);
    assert_string_equal(slurp(path), "true\\predicted,Brocoli,\"Corn, senesced\",class_2\n"
                                     "Brocoli,5,2,1\n\"Corn, senesced\",0,3,1\nclass_2,2,0,6\n");
    snprintf(path, sizeof path, "%s/per_class.csv", tu_tmpdir());
    assert_int_equal(class_write_metrics_csv(path, CM3, 3, NULL, err, sizeof err), 0);
    assert_string_equal(slurp(path), "class,name,support,predicted,tp,precision,recall,f1,iou\n"
                                     "0,class_0,8,7,5,0.7142857143,0.6250000000,0.6666666667,0.5000000000\n"
                                     "1,class_1,4,5,3,0.6000000000,0.7500000000,0.6666666667,0.5000000000\n"
                                     "2,class_2,8,8,6,0.7500000000,0.7500000000,0.7500000000,0.6000000000\n");
    /* a directory that does not exist: -1, the path named, no temporary left */
    snprintf(path, sizeof path, "%s/missing/cm.csv", tu_tmpdir());
    assert_int_equal(class_write_confusion_csv(path, CM3, 3, names, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(tu_count_temporaries(), 0);
}

typedef struct Img {
    int w, h;
    unsigned char *px;   /* [h][w][3] */
} Img;

static Img read_png(const char *path) {
    Img im = {0, 0, NULL};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    unsigned char sig[8];
    assert_int_equal(fread(sig, 1, 8, f), 8);
    assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed reading %s", path);
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    im.w = (int)png_get_image_width(png, info), im.h = (int)png_get_image_height(png, info);
    im.px = malloc((size_t)im.w * im.h * 3);
    assert_non_null(im.px);
    for (int y = 0; y < im.h; y++) png_read_row(png, im.px + (size_t)y * im.w * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return im;
}

static void assert_px(const Img *im, int x, int y, const unsigned char rgb[3]) {
    assert_true(x >= 0 && y >= 0 && x < im->w && y < im->h);
    const unsigned char *p = im->px + ((size_t)y * im->w + x) * 3;
    if (memcmp(p, rgb, 3))
        fail_msg("pixel (%d,%d) is %d,%d,%d, expected %d,%d,%d", x, y, p[0], p[1], p[2], rgb[0], rgb[1], rgb[2]);
}

static void test_confusion_png(void **state) {
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/cm.png", tu_tmpdir());
    /* class 1 all right (row 100 % on the diagonal), class 2 without support (grey row) */
    const int64_t cm[9] = {3, 1, 0, 0, 4, 0, 0, 0, 0};
    const char *names[3] = {"a", "a class name far longer than twenty-four characters", "c"};
    ClassConfusionLayout L;
    assert_int_equal(class_confusion_png(path, cm, 3, names, "confusion", &L, err, sizeof err), 0);
    Img im = read_png(path);
    assert_int_equal(im.w, L.width);
    assert_int_equal(im.h, L.height);
    assert_int_equal(L.cell, 48);   /* 640/3 clamped to 48 */
    const unsigned char top[3] = {253, 231, 37}, bottom[3] = {68, 1, 84}, grey[3] = {150, 150, 150};
    assert_px(&im, L.x0 + 1 * L.cell + 2, L.y0 + 1 * L.cell + 2, top);      /* (1,1): 100 % */
    assert_px(&im, L.x0 + 2 * L.cell + 2, L.y0 + 1 * L.cell + 2, bottom);   /* (1,2): 0 % */
    assert_px(&im, L.x0 + 0 * L.cell + 2, L.y0 + 2 * L.cell + 2, grey);     /* no support */
    free(im.px);
    /* the long name is cut to CLASS_PLOT_NAME_MAX characters: a 60-character name gives the same width */
    const char *names2[3] = {"a", "a class name far longer than twenty-four characters, by far!!", "c"};
    ClassConfusionLayout L2;
    assert_int_equal(class_confusion_png(path, cm, 3, names2, NULL, &L2, err, sizeof err), 0);
    assert_int_equal(L2.width, L.width);
    assert_int_equal(L.x0, 10 + (2 + CLASS_PLOT_NAME_MAX) * 6 - 1 + 8);   /* "1 " + 24 characters */
    assert_int_equal(tu_count_temporaries(), 0);
}

static void test_maps_png(void **state) {
    (void)state;
    enum { H = 83, W = 86, C = 6 };
    static int32_t gt[H * W], pred[H * W];
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            gt[r * W + c] = c < 10 ? -1 : (c / 15) % C;
            pred[r * W + c] = (r / 14) % C;
        }
    const int32_t *maps[2] = {gt, pred};
    const char *titles[2] = {"ground truth", "predicted"};
    const char *names[C] = {"Brocoli_green_weeds_1", "Corn_senesced_green_weeds", "Lettuce_romaine_4wk",
                            "Lettuce_romaine_5wk", "Lettuce_romaine_6wk", "Lettuce_romaine_7wk"};
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/maps.png", tu_tmpdir());
    ClassMapsLayout L;
    assert_int_equal(class_maps_png(path, maps, titles, 2, H, W, C, names, 0, "Salinas-A", &L, err, sizeof err), 0);
    assert_int_equal(L.scale, 4);   /* ceil(320 / 86) */
    Img im = read_png(path);
    assert_int_equal(im.w, L.width);
    assert_int_equal(im.h, L.height);
    assert_int_equal(im.w, 10 + 2 * W * 4 + 16 + 10);
    const unsigned char black[3] = {0, 0, 0};
    for (int r = 0; r < H; r += 7)
        for (int c = 0; c < W; c += 5) {
            int s = L.scale;
            if (gt[r * W + c] < 0) assert_px(&im, L.x[0] + c * s + 1, L.y + r * s + 2, black);
            else assert_px(&im, L.x[0] + c * s + 1, L.y + r * s + 2, CLASS_PALETTE[gt[r * W + c]]);
            assert_px(&im, L.x[1] + c * s + 3, L.y + r * s + 3, CLASS_PALETTE[pred[r * W + c]]);
        }
    assert_px(&im, 10 + 3, L.legend_y + 3, CLASS_PALETTE[0]);   /* first legend swatch */
    free(im.px);
    /* the palette's 24 colours differ from each other and from black and white; beyond it too */
    for (int a = 0; a < 40; a++) {
        unsigned char x[3], y[3];
        class_color(a, x);
        assert_false((x[0] == 0 && x[1] == 0 && x[2] == 0) || (x[0] == 255 && x[1] == 255 && x[2] == 255));
        for (int b = 0; b < a && b < CLASS_PLOT_PALETTE_N && a < CLASS_PLOT_PALETTE_N; b++) {
            class_color(b, y);
            assert_true(abs(x[0] - y[0]) + abs(x[1] - y[1]) + abs(x[2] - y[2]) > 60);
        }
    }
    /* a value outside -1..C-1: refused, named, nothing written */
    pred[5 * W + 7] = C;
    remove(path);
    assert_int_equal(class_maps_png(path, maps, titles, 2, H, W, C, names, 0, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "map 1 holds 6 at row 5, column 7"));
    assert_null(fopen(path, "rb"));
    assert_int_equal(tu_count_temporaries(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confusion_scores), cmocka_unit_test(test_zero_cases),
        cmocka_unit_test(test_topk),             cmocka_unit_test(test_multilabel),
        cmocka_unit_test(test_csv),              cmocka_unit_test(test_confusion_png),
        cmocka_unit_test(test_maps_png),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
