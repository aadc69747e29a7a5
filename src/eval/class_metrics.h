/* Classification metrics: confusion matrices and the scores read from them (OA, AA, Cohen's
 * kappa, per-class precision / recall / F1 / IoU, macro-F1, mIoU), top-k hits, multi-label F1
 * and mAP, and their CSV and PNG writers (the PNGs are drawn in eval/class_plot.c).
 *
 * Host memory only, no allocation in the metric functions: every array is the caller's, with the
 * size given next to it. Counts are int64, results double.
 *
 * Confusion matrix cm [C][C] int64, row = true class, column = predicted class; class indices
 * are 0..C-1. Distributed runs sum the matrices element-wise (class_cm_merge, or an MPI sum of
 * the C*C int64 array: the order of the sum does not matter, the counts are exact).
 *
 * Notation for class c: tp = cm[c][c], support s = row sum, predicted p = column sum,
 * fp = p - tp, fn = s - tp, n = the sum of all cells.
 *   precision = tp / p            recall = tp / s
 *   F1        = 2 tp / (s + p)    IoU    = tp / (s + p - tp)
 *   OA        = sum_c tp / n
 *   AA        = mean of recall over the classes with s > 0
 *   kappa     = (po - pe) / (1 - pe), po = OA, pe = sum_c s_c p_c / n^2
 *   macro-F1  = mean of F1 over the classes with s > 0 or p > 0 ("seen" classes)
 *   mIoU      = mean of IoU over the same seen classes
 * A class neither in the truth nor in the predictions is left out of macro-F1 and mIoU (it has
 * no pixels to be right or wrong about); sklearn's f1_score / jaccard_score with labels=None
 * follow the same rule (the union of the labels present), with labels=range(C) they would count
 * such a class as 0.
 *
 * 0/0 rules. Per class, a ratio with a zero denominator is 0 (sklearn's zero_division=0):
 * precision with p = 0, recall with s = 0, F1 and IoU with s = p = 0. A summary that averages over
 * nothing is NaN: OA, AA, kappa, macro-F1 and mIoU when n = 0; kappa also when pe = 1 (every true
 * and predicted label is one and the same class: agreement cannot be told from chance; sklearn's
 * cohen_kappa_score gives NaN there too). Writers print NaN as "nan".
 */
#ifndef LVIT_EVAL_CLASS_METRICS_H
#define LVIT_EVAL_CLASS_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- confusion matrix */

void class_cm_clear(int64_t *cm /* [C][C] */, int C);
/* cm[truth][pred] += 1. Returns 0, or -1 (and adds nothing) when truth or pred is outside 0..C-1. */
int class_cm_add(int64_t *cm /* [C][C] */, int C, int truth, int pred);
/* dst += src, element-wise. */
void class_cm_merge(int64_t *dst /* [C][C] */, const int64_t *src /* [C][C] */, int C);

typedef struct ClassStats {
    int64_t support, predicted, tp;
    double precision, recall, f1, iou;
} ClassStats;

typedef struct ClassSummary {
    int64_t n, correct;
    int present;   /* classes with support > 0: AA averages over these */
    int seen;      /* classes with support > 0 or predicted > 0: macro-F1 and mIoU average over these */
    double oa, aa, kappa, macro_f1, miou;
} ClassSummary;

/* Fills *s and, when per is not NULL, per[0..C-1], by the formulas and 0/0 rules above. */
void class_metrics(const int64_t *cm /* [C][C] */, int C, ClassStats *per /* [C] or NULL */, ClassSummary *s);

/* ---------------------------------------------------------------- single-label scores */

/* The index of the largest score, the lowest index among equal ones; NaN never wins (all NaN: 0). */
int class_argmax(const float *scores /* [C] */, int C);
/* 1 when truth is among the k best of scores, else 0. Ranking: by score, descending; equal scores
 * are ranked by class index, lower first (so k = 1 agrees with class_argmax); NaN scores rank below
 * every number, and among themselves by index too. k > C counts as k = C (always a hit); k < 1 or
 * truth outside 0..C-1 is never a hit. */
int class_topk_hit(const float *scores /* [C] */, int C, int truth, int k);

/* ---------------------------------------------------------------- multi-label */

/* One (score, target) pair of the workspace class_multilabel sorts. */
typedef struct ClassScorePair {
    float score;
    int32_t target;
} ClassScorePair;

typedef struct ClassMultiSummary {
    int64_t tp, fp, fn;   /* summed over classes at the threshold */
    int f1_classes;       /* classes with a positive target or a positive prediction */
    int ap_classes;       /* classes with a positive target */
    double micro_f1, macro_f1, map;
} ClassMultiSummary;

/* Multi-label scores from scores [N][C] (sigmoid probabilities) and 0/1 targets [N][C] (any
 * non-zero byte is a positive). A sample predicts class c when scores >= threshold (0.5 is the
 * usual value). Per class F1 = 2 tp / (2 tp + fp + fn).
 *   micro-F1 = 2 TP / (2 TP + FP + FN) with the counts summed over classes; NaN when 0/0
 *   macro-F1 = mean per-class F1 over the classes with a positive target or prediction (as for
 *              single-label: an absent class that is never predicted is left out); NaN if none
 *   AP_c     = sklearn's average_precision_score on column c: sum over the distinct score values
 *              t, descending, of (R(t) - R(t_prev)) * P(t), where P and R are the precision and
 *              recall of "score >= t" (step-wise, not interpolated; equal scores form one step)
 *   mAP      = mean AP_c over the classes with at least one positive target; NaN if none
 * NaN scores count as below every threshold and below every number. ap (may be NULL) gets AP_c,
 * NaN for a class without positives. work is scratch space of N pairs. Returns 0, or -1 when N < 1
 * or C < 1 (out is then all NaN / 0). */
int class_multilabel(const float *scores /* [N][C] */, const uint8_t *targets /* [N][C] */, int64_t N, int C,
                     double threshold, double *ap /* [C] or NULL */, ClassScorePair *work /* [N] */,
                     ClassMultiSummary *out);

/* ---------------------------------------------------------------- writers */

/* All writers write "<path>.tmp.<pid>", flush, fsync and rename it over path; on failure the
 * temporary is removed and they return -1 with err = "cannot write '<path>': why". names: C
 * class names, or NULL for "class_<i>"; a NULL entry is "class_<i>" too. CSV fields holding a
 * comma, a quote or a line break are quoted (RFC 4180). */

/* Header "true\predicted,<name_0>,...,<name_C-1>", then one row per true class: its name and the
 * C counts. */
int class_write_confusion_csv(const char *path, const int64_t *cm /* [C][C] */, int C, const char *const *names,
                              char *err, size_t errlen);
/* Header "class,name,support,predicted,tp,precision,recall,f1,iou", then one row per class (class =
 * its index; ratios with 10 decimals). The summaries (OA, AA, kappa, ...) are not in this table:
 * callers report ClassSummary in their own JSON. */
int class_write_metrics_csv(const char *path, const int64_t *cm /* [C][C] */, int C, const char *const *names,
                            char *err, size_t errlen);

/* ---------------------------------------------------------------- PNGs (eval/class_plot.c) */

/* Longest class name the PNGs draw; longer ones end in ".." after CLASS_PLOT_NAME_MAX - 2 characters. */
enum { CLASS_PLOT_NAME_MAX = 24, CLASS_PLOT_PALETTE_N = 24 };

/* The fixed categorical palette: class c gets CLASS_PALETTE[c] for c < CLASS_PLOT_PALETTE_N, then
 * colours spaced by the golden angle in hue (class_color). Unlabelled (-1) is black. */
extern const unsigned char CLASS_PALETTE[CLASS_PLOT_PALETTE_N][3];
void class_color(int c, unsigned char rgb[3]);

/* Where things are in a class_confusion_png image, for callers and tests. */
typedef struct ClassConfusionLayout {
    int width, height;
    int x0, y0, cell;   /* cell (t, p) is the square at (x0 + p*cell, y0 + t*cell) */
} ClassConfusionLayout;
/* Heatmap of the row-normalised matrix (cm[t][p] / support_t; a row without support is grey),
 * viridis from 0 to 1, the percentage written in each cell when the cell is at least 24 px;
 * rows labelled "<t> <name>" (true class), columns by index (predicted), a colour bar, the title
 * (NULL: none). cell = clamp(640 / C, 12, 48) px. layout (may be NULL) gets the geometry. */
int class_confusion_png(const char *path, const int64_t *cm /* [C][C] */, int C, const char *const *names,
                        const char *title, ClassConfusionLayout *layout, char *err, size_t errlen);

enum { CLASS_MAPS_MAX = 8 };
/* Where things are in a class_maps_png image. */
typedef struct ClassMapsLayout {
    int width, height, scale;
    int x[CLASS_MAPS_MAX], y;   /* top-left of map k; pixel (r, c) is the scale x scale square at
                                   (x[k] + c*scale, y + r*scale) */
    int legend_y;               /* top of the legend */
} ClassMapsLayout;
/* Class maps side by side (e.g. ground truth and prediction): maps[k] is int32 [H][W], row 0 on
 * top, values -1 (no label, black) or 0..C-1 (CLASS_PALETTE colours); titles[k] above map k (NULL
 * or a NULL entry: none). Each pixel is scale x scale screen pixels; scale 0 picks
 * max(1, ceil(320 / max(H, W))) (4 for an 83x86 scene). Below the maps a legend: a swatch and
 * "<c> <name>" per class, and one for "unlabelled". 1..CLASS_MAPS_MAX maps; a value outside
 * -1..C-1 is refused (err names the map, the value and its row and column). */
int class_maps_png(const char *path, const int32_t *const *maps, const char *const *titles, int nmaps, int H, int W,
                   int C, const char *const *names, int scale, const char *title, ClassMapsLayout *layout, char *err,
                   size_t errlen);

/* What a labelled pixel was to a classifier: in neither set (e.g. left over by --per-class), used in
 * training (or validation), or scored as a test pixel. */
enum { CLASS_ROLE_NONE = 0, CLASS_ROLE_TRAIN = 1, CLASS_ROLE_TEST = 2 };
/* The prediction beside the labels, three maps of H x W pixels (scale x scale screen pixels each,
 * laid out as class_maps_png's, layout->x[0..2]): the labels, the prediction on the labelled
 * pixels (unlabelled ones, truth -1, grey in both; the training pixels, role CLASS_ROLE_TRAIN,
 * carry a white dot when scale >= 3), and the test pixels, white where pred equals truth and
 * black where not, the other labelled pixels pale grey. Legend: the classes, then the marks.
 * truth -1..C-1, pred 0..C-1 and role 0..2 at every pixel, or err names the first pixel that is not. */
int class_compare_png(const char *path, const int32_t *truth, const int32_t *pred, const uint8_t *role, int H, int W,
                      int C, const char *const *names, int scale, const char *title, ClassMapsLayout *layout,
                      char *err, size_t errlen);

#endif
