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

/* The roof: bw x intensity up to the ridge, then the sgemm line; each labelled. */
static void draw_ceilings(Canvas *c, const LogAxes *a, double peak, double bw) {
    char buf[64];
    const double xlo = pow(10, a->lx0), xhi = pow(10, a->lx1);
    const double ridge = peak > 0 && bw > 0 ? peak / bw : peak > 0 ? xlo : xhi;
    if (bw > 0) {
        const double x1 = fmin(ridge, xhi);
        canvas_line(c, px_x(a, xlo), px_y(a, bw * xlo), px_x(a, x1), px_y(a, bw * x1), 2, ROOF);
        snprintf(buf, sizeof buf, "memory %.1f GB/s", bw);
        const double xl = fmax(xlo, fmin(x1, xlo * 3));
        canvas_text(c, px_x(a, xl) + 6, px_y(a, bw * xl) - 16, buf, 1, -1, ROOF);
    }
    if (peak > 0) {
        const double x0 = fmax(ridge, xlo);
        canvas_line(c, px_x(a, x0), px_y(a, peak), px_x(a, xhi), px_y(a, peak), 2, ROOF);
        snprintf(buf, sizeof buf, "sgemm %.1f GFLOP/s", peak);
        canvas_text(c, ROOFLINE_X1 - 6, px_y(a, peak) - 12, buf, 1, 1, ROOF);
    }
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
    /* the largest markers first, so that the small ones stay visible on top */
    for (int i = n - 1; i >= 0; i--) {
        if (!plottable(&pts[i])) continue;
        const int x = px_x(&a, pts[i].intensity), y = px_y(&a, pts[i].gflops);
        const int s = 5 + (int)lround(20 * sqrt(fmax(0, fmin(1, pts[i].share))));
        canvas_fill_rect(&c, x - s / 2, y - s / 2, s, s, PALETTE[i % 10]);
        canvas_rect_outline(&c, x - s / 2, y - s / 2, s, s, BLACK);
        canvas_text(&c, x + s / 2 + 3, y - 3, pts[i].label, 1, -1, BLACK);
    }
    c.cx0 = 0, c.cy0 = 0, c.cx1 = c.w - 1, c.cy1 = c.h - 1;
    canvas_rect_outline(&c, ROOFLINE_X0, ROOFLINE_Y0, ROOFLINE_X1 - ROOFLINE_X0 + 1, ROOFLINE_Y1 - ROOFLINE_Y0 + 1,
                        BLACK);
    canvas_text(&c, (ROOFLINE_X0 + ROOFLINE_X1) / 2, ROOFLINE_Y1 + 26, "flop per byte (log scale)", 1, 0, BLACK);
    canvas_text(&c, ROOFLINE_X0, ROOFLINE_Y0 - 12, "GFLOP/s (log scale)", 1, -1, BLACK);
    canvas_title_text(&c, ROOFLINE_W / 2, 12, title, ROOFLINE_W - 20, BLACK);

    /* Legend: the ops by time, their share and the rate reached. */
    const int lx = ROOFLINE_X1 + 20;
    int ly = ROOFLINE_Y0, skipped = 0;
    canvas_text(&c, lx, ly, "op  (% of kernel time, GFLOP/s)", 1, -1, BLACK);
    ly += 16;
    char buf[128];
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
