/* Line plots of spectra (eval/spectra_plot.h) on the raster of eval/canvas.h. */
#include "eval/spectra_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "eval/canvas.h"
#include "eval/plot.h"

static const unsigned char BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, MID[3] = {120, 120, 120};
static const unsigned char CURVE_RGB[SPECTRA_CURVES][3] = {{0, 0, 0}, {20, 90, 230}, {235, 125, 0}};
enum { MARGIN = 10, TITLE_H = 30, LEGEND_H = 20, LEFT = 62, RIGHT = 14, TOP = 24, BOTTOM = 34 };

/* 1, 2 or 5 times a power of ten, near range / target */
static double tick_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

static void tick_label(char *buf, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, fabs(v) < step * 1e-6 ? 0.0 : v);
}

static void draw_panel(Canvas *cv, const SpectraPanel *p, int nband, int x0, int y0, int fw, int fh) {
    double lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < SPECTRA_CURVES; c++)
        for (int b = 0; p->curve[c] && b < nband; b++)
            if (isfinite(p->curve[c][b])) lo = fmin(lo, p->curve[c][b]), hi = fmax(hi, p->curve[c][b]);
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (hi - lo < 1e-6 * (fabs(hi) + 1)) lo -= 0.5 * (fabs(hi) + 1), hi += 0.5 * (fabs(hi) + 1);
    const double pad = 0.05 * (hi - lo);
    lo -= pad, hi += pad;
    char buf[32];
    const double ys = tick_step(hi - lo, 5);
    for (int i = 0; i < 50; i++) { /* counted: v += ys can stall on a tiny range */
        const double v = (ceil(lo / ys) + i) * ys;
        if (v > hi) break;
        const int py = y0 + fh - (int)lround((v - lo) / (hi - lo) * fh);
        canvas_fill_rect(cv, x0, py, fw, 1, GRID);
        canvas_fill_rect(cv, x0 - 4, py, 4, 1, BLACK);
        tick_label(buf, sizeof buf, v, ys);
        canvas_text(cv, x0 - 7, py - 3, buf, 1, 1, BLACK);
    }
    const double xs = tick_step(nband - 1, 6);
    for (int i = 0; i * xs <= nband - 1; i++) {
        const double v = i * xs;
        const int px = x0 + (int)lround(v / (nband - 1) * fw);
        canvas_fill_rect(cv, px, y0, 1, fh, GRID);
        canvas_fill_rect(cv, px, y0 + fh, 1, 4, BLACK);
        tick_label(buf, sizeof buf, v, xs);
        canvas_text(cv, px, y0 + fh + 7, buf, 1, 0, BLACK);
    }
    canvas_text(cv, x0 + fw / 2, y0 + fh + 19, "band index", 1, 0, MID);
    cv->cx0 = x0, cv->cy0 = y0, cv->cx1 = x0 + fw, cv->cy1 = y0 + fh;
    for (int c = SPECTRA_CURVES - 1; c >= 0; c--) /* the first curve (the truth) on top */
        for (int b = 1; p->curve[c] && b < nband; b++) {
            const float a = p->curve[c][b - 1], z = p->curve[c][b];
            if (!isfinite(a) || !isfinite(z)) continue;
            const double sx = (double)fw / (nband - 1), sy = fh / (hi - lo);
            const int xa = x0 + (int)lround((b - 1) * sx), xb = x0 + (int)lround(b * sx);
            const int ya = y0 + fh - (int)lround((a - lo) * sy), yb = y0 + fh - (int)lround((z - lo) * sy);
            canvas_line(cv, xa, ya, xb, yb, c == 0 ? 2 : 1, CURVE_RGB[c]);
        }
    cv->cx0 = 0, cv->cy0 = 0, cv->cx1 = cv->w - 1, cv->cy1 = cv->h - 1;
    canvas_rect_outline(cv, x0, y0, fw + 1, fh + 1, BLACK);
    if (p->title) canvas_text(cv, x0 + fw / 2, y0 - 14, p->title, 1, 0, BLACK);
}

int spectra_png(const char *path, const SpectraPanel *panels, int npanels, int nband, const char *const *names,
                const char *ylabel, const char *title, SpectraLayout *layout, char *err, size_t errlen) {
    if (!panels || npanels < 1 || npanels > SPECTRA_MAX_PANELS || nband < 2) {
        plot_set_err(err, errlen, "cannot write '%s': need 1..%d panels of at least 2 bands (got %d panels, %d bands)",
                     path, SPECTRA_MAX_PANELS, npanels, nband);
        return -1;
    }
    SpectraLayout L;
    memset(&L, 0, sizeof L);
    const int cols = npanels < SPECTRA_COLS ? npanels : SPECTRA_COLS, rows = (npanels + cols - 1) / cols;
    const int top = MARGIN + (title ? TITLE_H : 0) + LEGEND_H;
    L.width = 2 * MARGIN + cols * SPECTRA_PANEL_W;
    L.height = top + rows * SPECTRA_PANEL_H + MARGIN;
    L.frame_w = SPECTRA_PANEL_W - LEFT - RIGHT, L.frame_h = SPECTRA_PANEL_H - TOP - BOTTOM;
    for (int k = 0; k < npanels; k++)
        L.x0[k] = MARGIN + (k % cols) * SPECTRA_PANEL_W + LEFT, L.y0[k] = top + (k / cols) * SPECTRA_PANEL_H + TOP;
    if (layout) *layout = L;
    Canvas cv;
    char why[256];
    if (canvas_init(&cv, L.width, L.height, why, sizeof why)) {
        plot_set_err(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    if (title) canvas_title_text(&cv, L.width / 2, MARGIN, title, L.width - 2 * MARGIN, BLACK);
    int lx = MARGIN + LEFT;
    const int ly = top - LEGEND_H + 4;
    for (int c = 0; names && c < SPECTRA_CURVES; c++) {
        if (!names[c]) continue;
        canvas_fill_rect(&cv, lx, ly + 3, 24, c == 0 ? 2 : 1, CURVE_RGB[c]);
        canvas_text(&cv, lx + 30, ly, names[c], 1, -1, BLACK);
        lx += 30 + (int)strlen(names[c]) * 6 + 24;
    }
    if (ylabel) canvas_text(&cv, L.width - MARGIN, ly, ylabel, 1, 1, MID);
    for (int k = 0; k < npanels; k++) draw_panel(&cv, &panels[k], nband, L.x0[k], L.y0[k], L.frame_w, L.frame_h);
    const int rc = canvas_write_png(path, &cv, err, errlen);
    canvas_free(&cv);
    return rc;
}
