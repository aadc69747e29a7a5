/* The roofline plot of lvit bench --profile-png (eval/roofline.h). */
#include "eval/roofline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "eval/canvas.h"

static const unsigned char BLACK[3] = {0, 0, 0}, GRID[3] = {225, 225, 225}, ROOF[3] = {90, 90, 90};
/* ten colours that stay apart on white (the tab10 cycle) */
static const unsigned char PALETTE[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                             {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
                                             {188, 189, 34},  {23, 190, 207}};

typedef struct LogAxes {
    double lx0, lx1, ly0, ly1;   /* log10 of the axis ends */
} LogAxes;

static int px_x(const LogAxes *a, double x) {
    return ROOFLINE_X0 + (int)lround((log10(x) - a->lx0) / (a->lx1 - a->lx0) * (ROOFLINE_X1 - ROOFLINE_X0));
}
static int px_y(const LogAxes *a, double y) {
    return ROOFLINE_Y1 - (int)lround((log10(y) - a->ly0) / (a->ly1 - a->ly0) * (ROOFLINE_Y1 - ROOFLINE_Y0));
}

/* a decade as "0.01", "1", "1000" between 1e-3 and 1e5, else "1e6" */
static void fmt_decade(char *buf, size_t n, int d) {
    if (d >= -3 && d < 0) snprintf(buf, n, "%.*f", -d, pow(10, d));
    else if (d >= 0 && d <= 5) snprintf(buf, n, "%.0f", pow(10, d));
    else snprintf(buf, n, "1e%d", d);
}

static int plottable(const RooflinePoint *p) {
    return isfinite(p->intensity) && isfinite(p->gflops) && p->intensity > 0 && p->gflops > 0;
}

/* The axes cover every plotted point and both ceilings with the ridge point (peak / bw) in view,
 * in whole decades. */
static LogAxes axes_for(const RooflinePoint *pts, int n, double peak, double bw) {
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < n; i++)
        if (plottable(&pts[i])) {
            xmin = fmin(xmin, pts[i].intensity), xmax = fmax(xmax, pts[i].intensity);
            ymin = fmin(ymin, pts[i].gflops), ymax = fmax(ymax, pts[i].gflops);
        }
    if (peak > 0) ymax = fmax(ymax, peak), ymin = fmin(ymin, peak / 100);
    if (peak > 0 && bw > 0) xmin = fmin(xmin, peak / bw / 10), xmax = fmax(xmax, peak / bw * 10);
    if (!(xmin <= xmax)) xmin = 0.1, xmax = 100;
    if (!(ymin <= ymax)) ymin = 0.1, ymax = 100;
    LogAxes a = {floor(log10(xmin) + 1e-9), ceil(log10(xmax) - 1e-9), floor(log10(ymin) + 1e-9),
                 ceil(log10(ymax * 1.5) - 1e-9)};
    if (a.lx1 <= a.lx0) a.lx1 = a.lx0 + 1;
    if (a.ly1 <= a.ly0) a.ly1 = a.ly0 + 1;
    return a;
}

static void draw_grid(Canvas *c, const LogAxes *a) {
    char buf[32];
    for (int d = (int)a->lx0; d <= (int)a->lx1; d++) {
        const int x = px_x(a, pow(10, d));
        canvas_fill_rect(c, x, ROOFLINE_Y0, 1, ROOFLINE_Y1 - ROOFLINE_Y0, GRID);
        canvas_fill_rect(c, x, ROOFLINE_Y1, 1, 5, BLACK);
        fmt_decade(buf, sizeof buf, d);
        canvas_text(c, x, ROOFLINE_Y1 + 9, buf, 1, 0, BLACK);
    }
    for (int d = (int)a->ly0; d <= (int)a->ly1; d++) {
        const int y = px_y(a, pow(10, d));
        canvas_fill_rect(c, ROOFLINE_X0, y, ROOFLINE_X1 - ROOFLINE_X0, 1, GRID);
        canvas_fill_rect(c, ROOFLINE_X0 - 5, y, 5, 1, BLACK);
        fmt_decade(buf, sizeof buf, d);
        canvas_text(c, ROOFLINE_X0 - 8, y - 3, buf, 1, 1, BLACK);
    }
}

/* Rectangles already drawn on (markers, labels), so that a label goes where it hides nothing. */
typedef struct Taken {
    int n, x[2 * ROOFLINE_MAX_POINTS + 4], y[2 * ROOFLINE_MAX_POINTS + 4], w[2 * ROOFLINE_MAX_POINTS + 4],
        h[2 * ROOFLINE_MAX_POINTS + 4];
} Taken;

static void take(Taken *t, int x, int y, int w, int h) {
    if (t->n >= (int)(sizeof t->x / sizeof *t->x)) return;
    t->x[t->n] = x, t->y[t->n] = y, t->w[t->n] = w, t->h[t->n] = h, t->n++;
}

static int is_free(const Taken *t, int x, int y, int w, int h) {
    if (x < ROOFLINE_X0 + 2 || y < ROOFLINE_Y0 + 2 || x + w > ROOFLINE_X1 - 2 || y + h > ROOFLINE_Y1 - 2) return 0;
    for (int i = 0; i < t->n; i++)
        if (x < t->x[i] + t->w[i] && t->x[i] < x + w && y < t->y[i] + t->h[i] && t->y[i] < y + h) return 0;
    return 1;
}

/* s beside the square of half-size r at (x, y): right, left, above, below, or right and a line up or
 * down, the first place that covers no marker or label; none: not drawn (the legend has it). */
static void place_label(Canvas *c, Taken *t, int x, int y, int r, const char *s, const unsigned char rgb[3]) {
    const int w = 6 * (int)strlen(s) - 1, h = 7;
    const int cx[6] = {x + r + 3, x - r - 3 - w, x - w / 2, x - w / 2, x + r + 3, x + r + 3};
    const int cy[6] = {y - 3, y - 3, y - r - 10, y + r + 3, y - r - 8, y + r + 1};
    for (int k = 0; k < 6; k++)
        if (is_free(t, cx[k] - 1, cy[k] - 1, w + 2, h + 2)) {
            canvas_text(c, cx[k], cy[k], s, 1, -1, rgb);
            take(t, cx[k] - 1, cy[k] - 1, w + 2, h + 2);
            return;
        }
}

/* The roof: bw x intensity up to the ridge, then the sgemm line. */
static void draw_ceilings(Canvas *c, const LogAxes *a, double peak, double bw) {
    const double xlo = pow(10, a->lx0), xhi = pow(10, a->lx1);
    const double ridge = peak > 0 && bw > 0 ? peak / bw : peak > 0 ? xlo : xhi;
    if (bw > 0) {
        const double x1 = fmin(ridge, xhi);
        canvas_line(c, px_x(a, xlo), px_y(a, bw * xlo), px_x(a, x1), px_y(a, bw * x1), 2, ROOF);
    }
    if (peak > 0) canvas_line(c, px_x(a, fmax(ridge, xlo)), px_y(a, peak), px_x(a, xhi), px_y(a, peak), 2, ROOF);
}

int roofline_png(const char *path, const RooflinePoint *pts, int n, double peak_gflops, double bw_gbs,
                 const char *title, char *err, size_t errlen) {
    if (n < 0 || n > ROOFLINE_MAX_POINTS || (n > 0 && !pts)) {
        if (err && errlen) snprintf(err, errlen, "cannot write '%s': %d roofline points (at most %d)", path, n,
                                    ROOFLINE_MAX_POINTS);
        return -1;
    }
    Canvas c;
    char why[256];
    if (canvas_init(&c, ROOFLINE_W, ROOFLINE_H, why, sizeof why)) {
        if (err && errlen) snprintf(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    const LogAxes a = axes_for(pts, n, peak_gflops, bw_gbs);
    draw_grid(&c, &a);
    /* everything inside the frame is clipped to it */
    c.cx0 = ROOFLINE_X0, c.cx1 = ROOFLINE_X1, c.cy0 = ROOFLINE_Y0, c.cy1 = ROOFLINE_Y1;
    draw_ceilings(&c, &a, peak_gflops, bw_gbs);
    /* the largest markers first, so that the small ones stay visible on top; then the labels, the
     * ops with the most time first, where they cover nothing */
    Taken t = {0};
    int mx[ROOFLINE_MAX_POINTS], my[ROOFLINE_MAX_POINTS], mr[ROOFLINE_MAX_POINTS];
    for (int i = 0; i < n; i++) {
        mx[i] = px_x(&a, pts[i].intensity > 0 ? pts[i].intensity : 1);
        my[i] = px_y(&a, pts[i].gflops > 0 ? pts[i].gflops : 1);
        mr[i] = (5 + (int)lround(20 * sqrt(fmax(0, fmin(1, pts[i].share))))) / 2;
        if (plottable(&pts[i])) take(&t, mx[i] - mr[i], my[i] - mr[i], 2 * mr[i] + 1, 2 * mr[i] + 1);
    }
    for (int i = n - 1; i >= 0; i--) {
        if (!plottable(&pts[i])) continue;
        canvas_fill_rect(&c, mx[i] - mr[i], my[i] - mr[i], 2 * mr[i] + 1, 2 * mr[i] + 1, PALETTE[i % 10]);
        canvas_rect_outline(&c, mx[i] - mr[i], my[i] - mr[i], 2 * mr[i] + 1, 2 * mr[i] + 1, BLACK);
    }
    for (int i = 0; i < n; i++)
        if (plottable(&pts[i])) place_label(&c, &t, mx[i], my[i], mr[i], pts[i].label, BLACK);
    c.cx0 = 0, c.cy0 = 0, c.cx1 = c.w - 1, c.cy1 = c.h - 1;
    canvas_rect_outline(&c, ROOFLINE_X0, ROOFLINE_Y0, ROOFLINE_X1 - ROOFLINE_X0 + 1, ROOFLINE_Y1 - ROOFLINE_Y0 + 1,
                        BLACK);
    canvas_text(&c, (ROOFLINE_X0 + ROOFLINE_X1) / 2, ROOFLINE_Y1 + 26, "flop per byte (log scale)", 1, 0, BLACK);
    canvas_text(&c, ROOFLINE_X0, ROOFLINE_Y0 - 12, "GFLOP/s (log scale)", 1, -1, BLACK);
    canvas_title_text(&c, ROOFLINE_W / 2, 12, title, ROOFLINE_W - 20, BLACK);

    /* Legend: the ops by time, their share and the rate reached. */
    const int lx = ROOFLINE_X1 + 20;
    int ly = ROOFLINE_Y0, skipped = 0;
    char buf[128];
    if (peak_gflops > 0) {
        snprintf(buf, sizeof buf, "roof: sgemm %.1f GFLOP/s", peak_gflops);
        canvas_fill_rect(&c, lx, ly + 3, 8, 2, ROOF);
        canvas_text(&c, lx + 14, ly, buf, 1, -1, BLACK);
        ly += 13;
    }
    if (bw_gbs > 0) {
        snprintf(buf, sizeof buf, "      memory %.1f GB/s", bw_gbs);
        canvas_text(&c, lx + 14, ly, buf, 1, -1, BLACK);
        ly += 13;
    }
    ly += 8;
    canvas_text(&c, lx, ly, "op  (% of kernel time, GFLOP/s)", 1, -1, BLACK);
    ly += 16;
    for (int i = 0; i < n && ly < ROOFLINE_H - 40; i++) {
        if (!plottable(&pts[i])) {
            skipped++;
            continue;
        }
        canvas_fill_rect(&c, lx, ly, 8, 8, PALETTE[i % 10]);
        snprintf(buf, sizeof buf, "%.20s %4.1f%% %.3g", pts[i].label, 100 * pts[i].share, pts[i].gflops);
        canvas_text(&c, lx + 14, ly, buf, 1, -1, BLACK);
        ly += 13;
    }
    if (skipped) {
        ly += 6;
        snprintf(buf, sizeof buf, "not plotted (no flops): %d op%s", skipped, skipped > 1 ? "s" : "");
        canvas_text(&c, lx, ly, buf, 1, -1, BLACK);
        ly += 13;
        double share = 0;
        for (int i = 0; i < n; i++)
            if (!plottable(&pts[i])) share += pts[i].share;
        snprintf(buf, sizeof buf, "  %.1f%% of kernel time", 100 * share);
        canvas_text(&c, lx, ly, buf, 1, -1, BLACK);
    }
    int rc = canvas_write_png(path, &c, err, errlen);
    canvas_free(&c);
    return rc;
}
