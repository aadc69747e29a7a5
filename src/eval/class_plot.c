/* The classification PNGs declared in eval/class_metrics.h: the row-normalised confusion heatmap
 * and class maps side by side with a legend, drawn on the raster of eval/canvas.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/canvas.h"
#include "eval/class_metrics.h"
#include "eval/plot.h"

/* 24 colours picked greedily for the largest CIELAB distance from each other and from black,
 * white and grey (black is "unlabelled", white the background), lightness 30..92. */
const unsigned char CLASS_PALETTE[CLASS_PLOT_PALETTE_N][3] = {
    {0, 0, 255},     {0, 255, 0},     {255, 0, 0},    {238, 17, 170},  {255, 204, 0},  {0, 102, 221},
    {17, 119, 0},    {0, 255, 204},   {153, 34, 51},  {136, 102, 17},  {238, 170, 255}, {204, 238, 136},
    {0, 187, 255},   {187, 85, 255},  {119, 51, 119}, {255, 136, 51},  {187, 238, 0},  {255, 153, 153},
    {0, 85, 68},     {17, 85, 136},   {255, 0, 102},  {34, 187, 187},  {0, 221, 102},  {255, 204, 136}};

static const unsigned char WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0}, MID[3] = {120, 120, 120};

void class_color(int c, unsigned char rgb[3]) {
    if (c < 0) {
        memcpy(rgb, BLACK, 3);
        return;
    }
    if (c < CLASS_PLOT_PALETTE_N) {
        memcpy(rgb, CLASS_PALETTE[c], 3);
        return;
    }
    /* Beyond the table: hue by the golden angle, saturation and value alternating, HSV -> RGB. */
    double h = fmod(c * 137.508, 360.0) / 60.0, s = c % 2 ? 0.55 : 0.9, v = c % 3 ? 0.95 : 0.7;
    int i = (int)h;
    double f = h - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f)), r, g, b;
    switch (i % 6) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
    }
    rgb[0] = (unsigned char)lround(r * 255), rgb[1] = (unsigned char)lround(g * 255), rgb[2] = (unsigned char)lround(b * 255);
}

/* "<c> <name>" with the name cut to CLASS_PLOT_NAME_MAX characters (".." at the end when cut). */
static void class_label(char *buf, size_t n, int c, const char *const *names) {
    char name[CLASS_PLOT_NAME_MAX + 1], fallback[32];
    const char *s = names && names[c] ? names[c] : (snprintf(fallback, sizeof fallback, "class_%d", c), fallback);
    size_t len = strlen(s);
    if (len > CLASS_PLOT_NAME_MAX) {
        memcpy(name, s, CLASS_PLOT_NAME_MAX - 2);
        memcpy(name + CLASS_PLOT_NAME_MAX - 2, "..", 3);
    } else {
        memcpy(name, s, len + 1);
    }
    snprintf(buf, n, "%d %s", c, name);
}

static int text_w(const char *s) { return s[0] ? (int)strlen(s) * 6 - 1 : 0; }

/* canvas_write_png goes through its own temporary and a rename but does not fsync: write to
 * "<path>.tmp.<pid>" with it, fsync that file, then rename it over path. */
static int write_png_synced(const char *path, const Canvas *cv, char *err, size_t errlen) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        plot_set_err(err, errlen, "cannot write '%s': path too long", path);
        return -1;
    }
    if (canvas_write_png(tmp, cv, err, errlen)) return -1;
    int fd = open(tmp, O_RDONLY), bad = fd < 0 || fsync(fd) != 0, e = errno;
    if (fd >= 0) close(fd);
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        remove(tmp);
        plot_set_err(err, errlen, "cannot write '%s': %s", path, strerror(e));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- confusion heatmap */

enum { MARGIN = 10, TITLE_H = 30, AXIS_H = 14, BAR_H = 12, MIN_CELL = 12, MAX_CELL = 48 };

/* The width in pixels of the widest of `first` and the labels of classes 0..C-1. */
static int widest_label(const char *first, int C, const char *const *names) {
    char label[CLASS_PLOT_NAME_MAX + 16];
    int w = text_w(first);
    for (int c = 0; c < C; c++) {
        class_label(label, sizeof label, c, names);
        if (text_w(label) > w) w = text_w(label);
    }
    return w;
}

/* A white w x h canvas with the overall title (NULL: none) at the top. 0, or -1 with err naming path. */
static int start_canvas(Canvas *cv, const char *path, int w, int h, const char *title, char *err, size_t errlen) {
    char why[256];
    if (canvas_init(cv, w, h, why, sizeof why)) {
        plot_set_err(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    if (title) canvas_title_text(cv, w / 2, MARGIN, title, w - 2 * MARGIN, BLACK);
    return 0;
}

int class_confusion_png(const char *path, const int64_t *cm, int C, const char *const *names, const char *title,
                        ClassConfusionLayout *layout, char *err, size_t errlen) {
    if (C < 1 || C > 100000) {
        plot_set_err(err, errlen, "cannot write '%s': need 1..100000 classes, got %d", path, C);
        return -1;
    }
    int cell = 640 / C;
    cell = cell < MIN_CELL ? MIN_CELL : cell > MAX_CELL ? MAX_CELL : cell;
    char label[CLASS_PLOT_NAME_MAX + 16];
    int lw = widest_label("true \\ predicted", C, names);
    int top = MARGIN + (title ? TITLE_H : 0), gw = C * cell, bw = gw < 120 ? 120 : gw;
    ClassConfusionLayout L = {0, 0, MARGIN + lw + 8, top + 2 * AXIS_H, cell};
    L.width = L.x0 + bw + MARGIN;
    L.height = L.y0 + gw + 8 + BAR_H + AXIS_H + MARGIN;
    if (layout) *layout = L;
    Canvas cv;
    if (start_canvas(&cv, path, L.width, L.height, title, err, errlen)) return -1;
    canvas_text(&cv, L.x0 + gw / 2, top, "predicted", 1, 0, BLACK);
    canvas_text(&cv, L.x0 - 8, top, "true \\ predicted", 1, 1, MID);
    int digits = snprintf(label, sizeof label, "%d", C - 1), step = 1;
    while (step * cell < digits * 6 + 2) step++;   /* column indices that fit side by side */
    for (int p = 0; p < C; p += step) {
        snprintf(label, sizeof label, "%d", p);
        canvas_text(&cv, L.x0 + p * cell + cell / 2, top + AXIS_H + 2, label, 1, 0, BLACK);
    }
    for (int t = 0; t < C; t++) {
        int64_t support = 0;
        for (int p = 0; p < C; p++) support += cm[(size_t)t * C + p];
        class_label(label, sizeof label, t, names);
        canvas_text(&cv, L.x0 - 8, L.y0 + t * cell + (cell - 7) / 2, label, 1, 1, BLACK);
        for (int p = 0; p < C; p++) {
            double frac = support > 0 ? (double)cm[(size_t)t * C + p] / (double)support : NAN;
            unsigned char rgb[3];
            plot_colormap(frac, 0, rgb);
            int x = L.x0 + p * cell, y = L.y0 + t * cell;
            canvas_fill_rect(&cv, x, y, cell, cell, rgb);
            if (cell >= 24 && support > 0) {
                char pct[8];
                snprintf(pct, sizeof pct, "%d", (int)lround(100 * frac));
                int light = 299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] > 128000;
                canvas_text(&cv, x + cell / 2, y + (cell - 7) / 2, pct, 1, 0, light ? BLACK : WHITE);
            }
        }
    }
    canvas_rect_outline(&cv, L.x0 - 1, L.y0 - 1, gw + 2, gw + 2, MID);
    /* colour bar: 0 % at the left, 100 % at the right (row-normalised counts = recall on the diagonal) */
    int by = L.y0 + gw + 8;
    for (int x = 0; x < bw; x++) {
        unsigned char rgb[3];
        plot_colormap(bw > 1 ? (double)x / (bw - 1) : 0, 0, rgb);
        canvas_fill_rect(&cv, L.x0 + x, by, 1, BAR_H, rgb);
    }
    canvas_text(&cv, L.x0, by + BAR_H + 3, "0%", 1, -1, BLACK);
    canvas_text(&cv, L.x0 + bw, by + BAR_H + 3, "100%", 1, 1, BLACK);
    canvas_text(&cv, L.x0 + bw / 2, by + BAR_H + 3, "of true class", 1, 0, MID);
    int rc = write_png_synced(path, &cv, err, errlen);
    canvas_free(&cv);
    return rc;
}

/* ---------------------------------------------------------------- class maps */

enum { PTITLE_H = 22, GAP_W = 16, TARGET_PX = 320, SWATCH = 12, ENTRY_H = 16 };

int class_maps_png(const char *path, const int32_t *const *maps, const char *const *titles, int nmaps, int H, int W,
                   int C, const char *const *names, int scale, const char *title, ClassMapsLayout *layout, char *err,
                   size_t errlen) {
    if (!maps || nmaps < 1 || nmaps > CLASS_MAPS_MAX || H < 1 || W < 1 || H > 100000 || W > 100000 || C < 1 ||
        scale < 0) {
        plot_set_err(err, errlen, "cannot write '%s': need 1..%d maps of H, W in 1..100000, C >= 1, scale >= 0 "
                     "(got %d maps of %dx%d, C %d, scale %d)", path, CLASS_MAPS_MAX, nmaps, H, W, C, scale);
        return -1;
    }
    for (int k = 0; k < nmaps; k++) {
        if (!maps[k]) {
            plot_set_err(err, errlen, "cannot write '%s': map %d is missing", path, k);
            return -1;
        }
        for (int64_t i = 0; i < (int64_t)H * W; i++)
            if (maps[k][i] < -1 || maps[k][i] >= C) {
                plot_set_err(err, errlen,
                             "cannot write '%s': map %d holds %d at row %lld, column %lld (expected -1..%d)", path,
                             k, (int)maps[k][i], (long long)(i / W), (long long)(i % W), C - 1);
                return -1;
            }
    }
    int big = H > W ? H : W;
    if (scale == 0) scale = big >= TARGET_PX ? 1 : (TARGET_PX + big - 1) / big;
    if ((int64_t)scale * big > 100000) {
        plot_set_err(err, errlen, "cannot write '%s': scale %d makes a map %lld pixels wide", path, scale,
                     (long long)scale * big);
        return -1;
    }
    int has_titles = 0;
    for (int k = 0; titles && k < nmaps; k++) has_titles |= titles[k] != NULL;
    ClassMapsLayout L;
    memset(&L, 0, sizeof L);
    L.scale = scale;
    L.y = MARGIN + (title ? TITLE_H : 0) + (has_titles ? PTITLE_H : 0);
    int mw = W * scale, mh = H * scale;
    for (int k = 0; k < nmaps; k++) L.x[k] = MARGIN + k * (mw + GAP_W);
    char label[CLASS_PLOT_NAME_MAX + 16];
    int tw = widest_label("unlabelled", C, names);
    int entry_w = SWATCH + 6 + tw + 14, inner = nmaps * mw + (nmaps - 1) * GAP_W;
    if (inner < entry_w) inner = entry_w;
    int ncols = inner / entry_w, nrows = (C + 1 + ncols - 1) / ncols;
    L.width = 2 * MARGIN + inner;
    L.legend_y = L.y + mh + 12;
    L.height = L.legend_y + nrows * ENTRY_H + MARGIN;
    if (layout) *layout = L;
    Canvas cv;
    if (start_canvas(&cv, path, L.width, L.height, title, err, errlen)) return -1;
    for (int k = 0; k < nmaps; k++) {
        if (titles && titles[k])
            canvas_title_text(&cv, L.x[k] + mw / 2, L.y - PTITLE_H + 2, titles[k], mw, BLACK);
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                unsigned char rgb[3];
                class_color(maps[k][(int64_t)r * W + c], rgb);
                canvas_fill_rect(&cv, L.x[k] + c * scale, L.y + r * scale, scale, scale, rgb);
            }
    }
    for (int e = 0; e <= C; e++) {   /* the classes, then "unlabelled" */
        int x = MARGIN + (e % ncols) * entry_w, y = L.legend_y + (e / ncols) * ENTRY_H;
        unsigned char rgb[3];
        class_color(e < C ? e : -1, rgb);
        canvas_fill_rect(&cv, x, y, SWATCH, SWATCH, rgb);
        canvas_rect_outline(&cv, x, y, SWATCH, SWATCH, MID);
        if (e < C) class_label(label, sizeof label, e, names);
        else snprintf(label, sizeof label, "unlabelled");
        canvas_text(&cv, x + SWATCH + 6, y + 3, label, 1, -1, BLACK);
    }
    int rc = write_png_synced(path, &cv, err, errlen);
    canvas_free(&cv);
    return rc;
}

/* ---------------------------------------------------------------- prediction against the labels */

static const unsigned char GREY[3] = {150, 150, 150}, PALE[3] = {215, 215, 215};

/* A swatch of the legend at (x, y): fill colour, a white dot when dot, and its text. */
static void legend_entry(Canvas *cv, int x, int y, const unsigned char rgb[3], int dot, const char *text) {
    canvas_fill_rect(cv, x, y, SWATCH, SWATCH, rgb);
    if (dot) canvas_fill_rect(cv, x + SWATCH / 2 - 2, y + SWATCH / 2 - 2, 4, 4, WHITE);
    canvas_rect_outline(cv, x, y, SWATCH, SWATCH, MID);
    canvas_text(cv, x + SWATCH + 6, y + 3, text, 1, -1, BLACK);
}

int class_compare_png(const char *path, const int32_t *truth, const int32_t *pred, const uint8_t *role, int H, int W,
                      int C, const char *const *names, int scale, const char *title, ClassMapsLayout *layout,
                      char *err, size_t errlen) {
    if (!truth || !pred || !role || H < 1 || W < 1 || H > 100000 || W > 100000 || C < 1 || scale < 1 ||
        (int64_t)scale * (H > W ? H : W) > 100000) {
        plot_set_err(err, errlen, "cannot write '%s': need the labels, prediction and roles of H, W in 1..100000, "
                     "C >= 1, scale >= 1 (got %dx%d, C %d, scale %d)", path, H, W, C, scale);
        return -1;
    }
    for (int64_t i = 0; i < (int64_t)H * W; i++)
        if (truth[i] < -1 || truth[i] >= C || pred[i] < 0 || pred[i] >= C || role[i] > CLASS_ROLE_TEST) {
            plot_set_err(err, errlen, "cannot write '%s': row %lld, column %lld holds label %d, prediction %d, role %d "
                         "(expected -1..%d, 0..%d, 0..2)", path, (long long)(i / W), (long long)(i % W), (int)truth[i],
                         (int)pred[i], (int)role[i], C - 1, C - 1);
            return -1;
        }
    const char *titles[3] = {"labels (dot: training)", "predicted, labelled px", "test px: right / wrong"};
    ClassMapsLayout L;
    memset(&L, 0, sizeof L);
    L.scale = scale;
    L.y = MARGIN + (title ? TITLE_H : 0) + PTITLE_H;
    const int mw = W * scale, mh = H * scale, dot = scale >= 3 ? (scale + 1) / 3 : 0;
    for (int k = 0; k < 3; k++) L.x[k] = MARGIN + k * (mw + GAP_W);
    char label[CLASS_PLOT_NAME_MAX + 16];
    int tw = widest_label("not a test pixel", C, names);
    int entry_w = SWATCH + 6 + tw + 14, inner = 3 * mw + 2 * GAP_W;
    if (inner < entry_w) inner = entry_w;
    int ncols = inner / entry_w, nrows = (C + 5 + ncols - 1) / ncols;
    L.width = 2 * MARGIN + inner;
    L.legend_y = L.y + mh + 12;
    L.height = L.legend_y + nrows * ENTRY_H + MARGIN;
    if (layout) *layout = L;
    Canvas cv;
    if (start_canvas(&cv, path, L.width, L.height, title, err, errlen)) return -1;
    for (int k = 0; k < 3; k++) {
        canvas_title_text(&cv, L.x[k] + mw / 2, L.y - PTITLE_H + 2, titles[k], mw, BLACK);
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                const int64_t i = (int64_t)r * W + c;
                unsigned char rgb[3];
                if (truth[i] < 0) memcpy(rgb, GREY, 3);
                else if (k == 0) class_color(truth[i], rgb);
                else if (k == 1) class_color(pred[i], rgb);
                else memcpy(rgb, role[i] != CLASS_ROLE_TEST ? PALE : pred[i] == truth[i] ? WHITE : BLACK, 3);
                const int x = L.x[k] + c * scale, y = L.y + r * scale;
                canvas_fill_rect(&cv, x, y, scale, scale, rgb);
                if (k < 2 && dot && role[i] == CLASS_ROLE_TRAIN)
                    canvas_fill_rect(&cv, x + (scale - dot) / 2, y + (scale - dot) / 2, dot, dot, WHITE);
            }
        canvas_rect_outline(&cv, L.x[k] - 1, L.y - 1, mw + 2, mh + 2, MID);
    }
    for (int e = 0; e < C + 5; e++) {   /* the classes, then the marks */
        int x = MARGIN + (e % ncols) * entry_w, y = L.legend_y + (e / ncols) * ENTRY_H;
        unsigned char rgb[3];
        if (e < C) {
            class_color(e, rgb);
            class_label(label, sizeof label, e, names);
            legend_entry(&cv, x, y, rgb, 0, label);
        } else if (e == C) legend_entry(&cv, x, y, GREY, 0, "unlabelled");
        else if (e == C + 1) legend_entry(&cv, x, y, MID, 1, "training pixel");
        else if (e == C + 2) legend_entry(&cv, x, y, WHITE, 0, "test: right");
        else if (e == C + 3) legend_entry(&cv, x, y, BLACK, 0, "test: wrong");
        else legend_entry(&cv, x, y, PALE, 0, "not a test pixel");
    }
    int rc = write_png_synced(path, &cv, err, errlen);
    canvas_free(&cv);
    return rc;
}
