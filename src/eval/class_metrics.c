/* Classification metrics from confusion matrices, top-k hits, multi-label F1 and mAP, and the CSV
 * writers. The formulas and the 0/0 rules are in class_metrics.h; the PNGs are eval/class_plot.c. */
#include "eval/class_metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- confusion matrix */

void class_cm_clear(int64_t *cm, int C) {
    if (C > 0) memset(cm, 0, (size_t)C * (size_t)C * sizeof *cm);
}

int class_cm_add(int64_t *cm, int C, int truth, int pred) {
    if (truth < 0 || truth >= C || pred < 0 || pred >= C) return -1;
    cm[(size_t)truth * C + pred]++;
    return 0;
}

void class_cm_merge(int64_t *dst, const int64_t *src, int C) {
    for (size_t i = 0, n = C > 0 ? (size_t)C * (size_t)C : 0; i < n; i++) dst[i] += src[i];
}

static double ratio0(double num, double den) { return den > 0 ? num / den : 0.0; }

/* One class's counts and ratios (0/0 -> 0, see class_metrics.h). */
static ClassStats class_one(const int64_t *cm, int C, int c) {
    ClassStats st = {0, 0, 0, 0, 0, 0, 0};
    for (int k = 0; k < C; k++) {
        st.support += cm[(size_t)c * C + k];
        st.predicted += cm[(size_t)k * C + c];
    }
    st.tp = cm[(size_t)c * C + c];
    double tp = (double)st.tp, s = (double)st.support, p = (double)st.predicted;
    st.precision = ratio0(tp, p);
    st.recall = ratio0(tp, s);
    st.f1 = ratio0(2 * tp, s + p);
    st.iou = ratio0(tp, s + p - tp);
    return st;
}

void class_metrics(const int64_t *cm, int C, ClassStats *per, ClassSummary *s) {
    memset(s, 0, sizeof *s);
    double sum_recall = 0, sum_f1 = 0, sum_iou = 0, chance = 0;   /* chance = sum_c s_c p_c */
    for (int c = 0; c < C; c++) {
        ClassStats st = class_one(cm, C, c);
        if (per) per[c] = st;
        s->n += st.support;
        s->correct += st.tp;
        chance += (double)st.support * (double)st.predicted;
        if (st.support > 0) s->present++, sum_recall += st.recall;
        if (st.support > 0 || st.predicted > 0) s->seen++, sum_f1 += st.f1, sum_iou += st.iou;
    }
    if (s->n == 0) {
        s->oa = s->aa = s->kappa = s->macro_f1 = s->miou = NAN;
        return;
    }
    double n = (double)s->n;
    s->oa = (double)s->correct / n;
    s->aa = sum_recall / s->present;
    s->macro_f1 = sum_f1 / s->seen;
    s->miou = sum_iou / s->seen;
    /* kappa = (po - pe) / (1 - pe) multiplied through by n^2: exact integers up to 2^53. */
    double den = n * n - chance;
    s->kappa = den > 0 ? (n * (double)s->correct - chance) / den : NAN;
}

/* ---------------------------------------------------------------- single-label scores */

int class_argmax(const float *scores, int C) {
    int best = 0;
    for (int c = 1; c < C; c++)
        if (scores[c] > scores[best] || (isnan(scores[best]) && !isnan(scores[c]))) best = c;
    return best;
}

int class_topk_hit(const float *scores, int C, int truth, int k) {
    if (k < 1 || truth < 0 || truth >= C) return 0;
    if (k >= C) return 1;
    float t = scores[truth];
    int ahead = 0;   /* classes ranked before truth */
    for (int c = 0; c < C && ahead < k; c++) {
        if (c == truth) continue;
        float v = scores[c];
        if (isnan(t)) ahead += !isnan(v) || c < truth;
        else ahead += v > t || (v == t && c < truth);
    }
    return ahead < k;
}

/* ---------------------------------------------------------------- multi-label */

/* Descending score, NaN last. */
static int pair_desc(const void *a, const void *b) {
    float x = ((const ClassScorePair *)a)->score, y = ((const ClassScorePair *)b)->score;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x < y) - (x > y);
}

static int same_score(float a, float b) { return a == b || (isnan(a) && isnan(b)); }

/* sklearn's average_precision_score for one column, sorted pairs in work; pos = number of positives. */
static double average_precision(const ClassScorePair *work, int64_t N, int64_t pos) {
    double ap = 0, prev_recall = 0;
    int64_t tp = 0;
    for (int64_t i = 0; i < N; i++) {
        tp += work[i].target != 0;
        if (i + 1 < N && same_score(work[i + 1].score, work[i].score)) continue;   /* one step per distinct score */
        double recall = (double)tp / (double)pos, precision = (double)tp / (double)(i + 1);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    return ap;
}

int class_multilabel(const float *scores, const uint8_t *targets, int64_t N, int C, double threshold, double *ap,
                     ClassScorePair *work, ClassMultiSummary *out) {
    memset(out, 0, sizeof *out);
    out->micro_f1 = out->macro_f1 = out->map = NAN;
    if (ap)
        for (int c = 0; c < C; c++) ap[c] = NAN;
    if (N < 1 || C < 1) return -1;
    double sum_f1 = 0, sum_ap = 0;
    for (int c = 0; c < C; c++) {
        int64_t tp = 0, fp = 0, fn = 0, pos = 0;
        for (int64_t i = 0; i < N; i++) {
            float sc = scores[i * C + c];
            int t = targets[i * C + c] != 0, p = sc >= threshold;   /* NaN >= threshold is false */
            tp += t && p, fp += !t && p, fn += t && !p, pos += t;
            work[i].score = sc, work[i].target = t;
        }
        out->tp += tp, out->fp += fp, out->fn += fn;
        if (tp + fp + fn > 0) out->f1_classes++, sum_f1 += 2.0 * tp / (2.0 * tp + fp + fn);
        if (pos == 0) continue;
        qsort(work, (size_t)N, sizeof *work, pair_desc);
        double a = average_precision(work, N, pos);
        if (ap) ap[c] = a;
        out->ap_classes++, sum_ap += a;
    }
    int64_t den = 2 * out->tp + out->fp + out->fn;
    if (den > 0) out->micro_f1 = 2.0 * out->tp / (double)den;
    if (out->f1_classes > 0) out->macro_f1 = sum_f1 / out->f1_classes;
    if (out->ap_classes > 0) out->map = sum_ap / out->ap_classes;
    return 0;
}

/* ---------------------------------------------------------------- CSV writers */

static int cannot_write(char *err, size_t errlen, const char *path, const char *why) {
    if (err && errlen) snprintf(err, errlen, "cannot write '%s': %s", path, why);
    return -1;
}

/* Opens "<path>.tmp.<pid>" into tmp[tmplen]; NULL with err on failure. */
static FILE *open_temp(const char *path, char *tmp, size_t tmplen, char *err, size_t errlen) {
    if (snprintf(tmp, tmplen, "%s.tmp.%ld", path, (long)getpid()) >= (int)tmplen) {
        cannot_write(err, errlen, path, "path too long");
        return NULL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) cannot_write(err, errlen, path, strerror(errno));
    return f;
}

/* Flushes, fsyncs and closes f, then renames tmp over path; removes tmp on any failure. A full
 * disk often shows only at flush time, so every step is checked. */
static int finish_temp(FILE *f, const char *tmp, const char *path, char *err, size_t errlen) {
    int bad = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0, e = errno;
    if (fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        remove(tmp);
        return cannot_write(err, errlen, path, e ? strerror(e) : "write error");
    }
    return 0;
}

/* A CSV field: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void csv_name(FILE *f, const char *const *names, int c) {
    if (names && names[c]) csv_field(f, names[c]);
    else fprintf(f, "class_%d", c);
}

int class_write_confusion_csv(const char *path, const int64_t *cm, int C, const char *const *names, char *err,
                              size_t errlen) {
    if (C < 1) return cannot_write(err, errlen, path, "no classes");
    char tmp[4200];
    FILE *f = open_temp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    fputs("true\\predicted", f);
    for (int p = 0; p < C; p++) fputc(',', f), csv_name(f, names, p);
    fputc('\n', f);
    for (int t = 0; t < C; t++) {
        csv_name(f, names, t);
        for (int p = 0; p < C; p++) fprintf(f, ",%lld", (long long)cm[(size_t)t * C + p]);
        fputc('\n', f);
    }
    return finish_temp(f, tmp, path, err, errlen);
}

int class_write_metrics_csv(const char *path, const int64_t *cm, int C, const char *const *names, char *err,
                            size_t errlen) {
    if (C < 1) return cannot_write(err, errlen, path, "no classes");
    char tmp[4200];
    FILE *f = open_temp(path, tmp, sizeof tmp, err, errlen);
    if (!f) return -1;
    fputs("class,name,support,predicted,tp,precision,recall,f1,iou\n", f);
    for (int c = 0; c < C; c++) {
        ClassStats st = class_one(cm, C, c);
        fprintf(f, "%d,", c);
        csv_name(f, names, c);
        fprintf(f, ",%lld,%lld,%lld,%.10f,%.10f,%.10f,%.10f\n", (long long)st.support, (long long)st.predicted,
                (long long)st.tp, st.precision, st.recall, st.f1, st.iou);
    }
    return finish_temp(f, tmp, path, err, errlen);
}
