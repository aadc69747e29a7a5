/* Maps and loss curves as PNG: the layouts, colour maps, axes, ticks and legends, drawn on the
 * raster of eval/canvas.h. See plot.h for the layouts and the error contract. */
#include "core/paths.h"
#include "eval/plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "eval/canvas.h"

const unsigned char PLOT_GREY[3] = {150, 150, 150};
const unsigned char PLOT_TRAIN_RGB[3] = {31, 119, 180};
const unsigned char PLOT_VAL_RGB[3] = {230, 100, 0};
static const unsigned char WHITE[3] = {255, 255, 255}, BLACK[3] = {0, 0, 0},
                           GRID[3] = {225, 225, 225};

void plot_set_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Three significant digits ("%.3g"), but positional between 1e-3 and 1e6 because "98500"
 * and "20000" read better than "9.85e4" and "2e4"; exponents lose their zero padding. */
static void fmt_num(char *buf, size_t n, double v) {
    if (fabs(v) < 1e-300) v = 0;   /* no "-0" */
    snprintf(buf, n, "%.3g", v);
    double r = strtod(buf, NULL), a = fabs(r);
    if (a >= 1e-3 && a < 1e6) {
        int dec = 2 - (int)floor(log10(a));
        snprintf(buf, n, "%.*f", dec < 0 ? 0 : dec, r);
        if (strchr(buf, '.')) {   /* 2.50 -> 2.5, 3.00 -> 3 */
            char *e = buf + strlen(buf) - 1;
            while (*e == '0') *e-- = 0;
            if (*e == '.') *e = 0;
        }
        return;
    }
    char *e = strchr(buf, 'e');
    if (e) {   /* 1e+06 -> 1e6, 1e-05 -> 1e-5 */
        char *d = e + 1, *src = d;
        if (*src == '+') src++;
        else if (*src == '-') *d++ = *src++;
        while (*src == '0' && src[1]) src++;
        memmove(d, src, strlen(src) + 1);
    }
}

/* ---------------------------------------------------------------- colour maps */

/* viridis (matplotlib, CC0) sampled at 16 evenly spaced points. */
static const unsigned char VIRIDIS[16][3] = {
    {68, 1, 84},    {72, 26, 108},  {71, 47, 125},  {65, 68, 135},  {57, 86, 140},   {49, 104, 142},
    {42, 120, 142}, {35, 136, 142}, {31, 152, 139}, {34, 168, 132}, {53, 183, 121},  {84, 197, 104},
    {122, 209, 81}, {165, 219, 54}, {210, 226, 27}, {253, 231, 37}};
/* ColorBrewer RdBu (reversed so that negative is blue), 7 points with white in the middle. */
static const unsigned char RDBU[7][3] = {{33, 102, 172},  {103, 169, 207}, {209, 229, 240}, {247, 247, 247},
                                         {253, 219, 199}, {239, 138, 98},  {178, 24, 43}};

void plot_colormap(double t, int diverging, unsigned char rgb[3]) {
    if (isnan(t)) {
        memcpy(rgb, PLOT_GREY, 3);
        return;
    }
    const unsigned char(*tab)[3] = diverging ? RDBU : VIRIDIS;
    int n = diverging ? 7 : 16;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double f = t * (n - 1);
    int i = (int)f;
    if (i >= n - 1) i = n - 2;
    f -= i;
    for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)lround(tab[i][k] + f * (tab[i + 1][k] - tab[i][k]));
}

/* ---------------------------------------------------------------- axes helpers */

/* A 1-2-5 step giving about `target` intervals over range. */
static double nice_step(double range, int target) {
    if (!(range > 0)) return 1;
    double raw = range / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* Degree ticks: 1-2-5 steps below 10 degrees, then the divisors of 360 people expect
 * (15, 30, 45, 90), so that a 0..360 grid is labelled 0, 90E, 180, 90W. */
static double degree_step(double range, int target) {
    static const double steps[] = {10, 15, 20, 30, 45, 60, 90, 180};
    double s = nice_step(range, target);
    if (s < 10) return s;
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if (range / steps[i] <= target + 0.5) return steps[i];
    return 180;
}

/* "45N", "12.5S", "0" for latitudes; longitudes are first folded into (-180, 180]. */
static void fmt_deg(char *buf, size_t n, double v, int is_lon) {
    if (is_lon) {
        v = fmod(v, 360);
        if (v > 180) v -= 360;
        if (v <= -180) v += 360;
    }
    char num[16];   /* fmt_num writes at most 10 characters ("-1.23e-300") */
    fmt_num(num, sizeof num, fabs(v));
    if (fabs(v) < 1e-9 || (is_lon && fabs(fabs(v) - 180) < 1e-9)) snprintf(buf, n, "%s", num);
    else snprintf(buf, n, "%s%c", num, is_lon ? (v > 0 ? 'E' : 'W') : (v > 0 ? 'N' : 'S'));
}

/* ---------------------------------------------------------------- field maps */

enum {
    MARGIN = 10, TITLE_H = 30, PTITLE_H = 22, LAT_AXIS_W = 48, GAP_W = 24, LON_AXIS_H = 20,
    BAR_H = 12, BELOW_BAR_H = 32, MIN_CELL = 4, MIN_MAP_W = 256
};

static int cell_ok(const PlotPanel *p, size_t i) {
    return (!p->valid || p->valid[i]) && isfinite(p->values[i]);
}

int plot_fields_layout(const PlotPanel *panels, int npanels, PlotLayout *out, char *err, size_t errlen) {
    if (!panels || npanels < 1 || npanels > PLOT_MAX_PANELS) {
        plot_set_err(err, errlen, "plot: need 1..%d panels, got %d", PLOT_MAX_PANELS, npanels);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->npanels = npanels;
    int64_t x = MARGIN, maxh = 0;
    for (int k = 0; k < npanels; k++) {
        const PlotPanel *p = &panels[k];
        if (p->H < 1 || p->W < 1 || p->H > 100000 || p->W > 100000 || !p->values || !p->lat || !p->lon) {
            plot_set_err(err, errlen, "plot: panel %d: need H, W in 1..100000 and values, lat, lon (got %dx%d)", k,
                         p->H, p->W);
            return -1;
        }
        int cell = (MIN_MAP_W + p->W - 1) / p->W;
        if (cell < MIN_CELL) cell = MIN_CELL;
        if ((int64_t)p->W * cell > CANVAS_MAX_PIXELS || (int64_t)p->H * cell > CANVAS_MAX_PIXELS) {
            plot_set_err(err, errlen, "plot: panel %d: %dx%d grid is too large to draw", k, p->H, p->W);
            return -1;
        }
        PlotPanelLayout *L = &out->panel[k];
        L->cell = cell;
        L->x = (int)(x + LAT_AXIS_W), L->y = TITLE_H + PTITLE_H, L->w = p->W * cell, L->h = p->H * cell;
        L->bar_x = L->x, L->bar_y = L->y + L->h + LON_AXIS_H, L->bar_w = L->w, L->bar_h = BAR_H;
        L->flip_rows = p->H > 1 && p->lat[0] < p->lat[p->H - 1];
        L->flip_cols = p->W > 1 && p->lon[0] > p->lon[p->W - 1];
        x += LAT_AXIS_W + (int64_t)L->w + GAP_W;
        if (L->h > maxh) maxh = L->h;
        /* Colour range: explicit, or min/max of what will actually be coloured. */
        double lo = p->vmin, hi = p->vmax;
        if (!(lo != hi)) {
            lo = INFINITY, hi = -INFINITY;
            for (size_t i = 0; i < (size_t)p->H * p->W; i++)
                if (cell_ok(p, i)) {
                    if (p->values[i] < lo) lo = p->values[i];
                    if (p->values[i] > hi) hi = p->values[i];
                }
            if (lo > hi) lo = 0, hi = 1;
            else if (lo == hi) lo -= 0.5, hi += 0.5;
        }
        if (p->diverging) {   /* centre white on 0: an error of +e and -e look equally strong */
            double a = fmax(fabs(lo), fabs(hi));
            if (!(a > 0)) a = 1;
            lo = -a, hi = a;
        }
        L->vmin = (float)lo, L->vmax = (float)hi;
    }
    x += MARGIN;
    int64_t h = TITLE_H + PTITLE_H + maxh + LON_AXIS_H + BAR_H + BELOW_BAR_H;
    if (x * h > CANVAS_MAX_PIXELS) {
        plot_set_err(err, errlen, "plot: image %lldx%lld is too large", (long long)x, (long long)h);
        return -1;
    }
    out->width = (int)x, out->height = (int)h;
    return 0;
}

/* Tick marks and labels for one axis of a map. v0 / v1 are the coordinates at the centres of
 * the first / last drawn cell, which sit at pixel p0 / p1 along the axis. */
static void map_ticks(Canvas *c, const PlotLayout *lay, int k, double v0, double v1, int is_lon) {
    const PlotPanelLayout *L = &lay->panel[k];
    int n = is_lon ? L->w / L->cell : L->h / L->cell;
    double p0 = (is_lon ? L->x : L->y) + 0.5 * L->cell, p1 = p0 + (double)(n - 1) * L->cell;
    double lo = fmin(v0, v1), hi = fmax(v0, v1);
    char buf[32];
    if (n == 1 || hi - lo < 1e-9) {   /* a single row/column: label it where it is */
        fmt_deg(buf, sizeof buf, v0, is_lon);
        if (is_lon) canvas_text(c, (int)p0, L->y + L->h + 6, buf, 1, 0, BLACK);
        else canvas_text(c, L->x - 7, (int)p0 - 3, buf, 1, 1, BLACK);
        return;
    }
    /* Longitude labels are wider, so fewer of them fit side by side. */
    double step = degree_step(hi - lo, is_lon ? (L->w < 400 ? 4 : 6) : 5);
    /* Counted with an int, not accumulated: v += step (or a double counter) stalls at large magnitudes. */
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    for (int i = 0; k0 + i <= k1 && i < 50; i++) {
        double v = (k0 + i) * step;
        int pix = (int)lround(p0 + (v - v0) / (v1 - v0) * (p1 - p0));
        fmt_deg(buf, sizeof buf, v, is_lon);
        if (is_lon) {
            canvas_fill_rect(c, pix, L->y + L->h, 1, 4, BLACK);
            canvas_text(c, pix, L->y + L->h + 7, buf, 1, 0, BLACK);
        } else {
            canvas_fill_rect(c, L->x - 4, pix, 4, 1, BLACK);
            canvas_text(c, L->x - 7, pix - 3, buf, 1, 1, BLACK);
        }
    }
}

int plot_fields_png(const char *path, const PlotPanel *panels, int npanels, const char *title, char *err,
                    size_t errlen) {
    PlotLayout lay;
    char why[256];
    if (plot_fields_layout(panels, npanels, &lay, why, sizeof why)) {
        plot_set_err(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    Canvas c;
    if (canvas_init(&c, lay.width, lay.height, why, sizeof why)) {
        plot_set_err(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    canvas_title_text(&c, lay.width / 2, 8, title, lay.width - 2 * MARGIN, BLACK);
    for (int k = 0; k < npanels; k++) {
        const PlotPanel *p = &panels[k];
        const PlotPanelLayout *L = &lay.panel[k];
        canvas_title_text(&c, L->x + L->w / 2, TITLE_H + 2, p->title, L->w + GAP_W, BLACK);
        double lo = L->vmin, span = (double)L->vmax - L->vmin;
        for (int r = 0; r < p->H; r++) {
            int sr = L->flip_rows ? p->H - 1 - r : r;   /* screen row r shows data row sr */
            for (int q = 0; q < p->W; q++) {
                int sq = L->flip_cols ? p->W - 1 - q : q;
                size_t i = (size_t)sr * p->W + sq;
                unsigned char rgb[3];
                if (cell_ok(p, i)) plot_colormap((p->values[i] - lo) / span, p->diverging, rgb);
                else memcpy(rgb, PLOT_GREY, 3);
                canvas_fill_rect(&c, L->x + q * L->cell, L->y + r * L->cell, L->cell, L->cell, rgb);
            }
        }
        canvas_rect_outline(&c, L->x - 1, L->y - 1, L->w + 2, L->h + 2, BLACK);
        int r0 = L->flip_rows ? p->H - 1 : 0, c0 = L->flip_cols ? p->W - 1 : 0;
        map_ticks(&c, &lay, k, p->lat[r0], p->lat[p->H - 1 - r0], 0);
        map_ticks(&c, &lay, k, p->lon[c0], p->lon[p->W - 1 - c0], 1);
        /* Colour bar: column x has t = x / (w - 1), so the two end columns are exactly
         * colormap(0) and colormap(1). */
        for (int xb = 0; xb < L->bar_w; xb++) {
            unsigned char rgb[3];
            plot_colormap(L->bar_w > 1 ? (double)xb / (L->bar_w - 1) : 0.5, p->diverging, rgb);
            canvas_fill_rect(&c, L->bar_x + xb, L->bar_y, 1, L->bar_h, rgb);
        }
        canvas_rect_outline(&c, L->bar_x - 1, L->bar_y - 1, L->bar_w + 2, L->bar_h + 2, BLACK);
        char buf[32];
        int ly = L->bar_y + L->bar_h + 4;
        fmt_num(buf, sizeof buf, L->vmin);
        canvas_text(&c, L->bar_x, ly, buf, 1, -1, BLACK);
        fmt_num(buf, sizeof buf, 0.5 * ((double)L->vmin + L->vmax));
        canvas_text(&c, L->bar_x + L->bar_w / 2, ly, buf, 1, 0, BLACK);
        fmt_num(buf, sizeof buf, L->vmax);
        canvas_text(&c, L->bar_x + L->bar_w - 1, ly, buf, 1, 1, BLACK);
        if (p->units && *p->units) canvas_text(&c, L->bar_x + L->bar_w / 2, ly + 11, p->units, 1, 0, BLACK);
    }
    int rc = canvas_write_png(path, &c, err, errlen);
    canvas_free(&c);
    return rc;
}

/* ---------------------------------------------------------------- loss curves */

typedef struct Axes {
    double x0, x1;      /* step range */
    double l0, l1;      /* log10 loss range (whole decades) */
    double floor_pos;   /* smallest positive finite loss: what a loss <= 0 is clamped to */
} Axes;

static int to_px(const Axes *a, double x, double y, int *px, int *py) {
    if (!isfinite(x) || !isfinite(y)) return 0;
    if (y <= 0) y = a->floor_pos;
    *px = (int)lround(PLOT_LOSS_X0 + (x - a->x0) / (a->x1 - a->x0) * (PLOT_LOSS_X1 - PLOT_LOSS_X0));
    *py = (int)lround(PLOT_LOSS_Y1 - (log10(y) - a->l0) / (a->l1 - a->l0) * (PLOT_LOSS_Y1 - PLOT_LOSS_Y0));
    return 1;
}

static void scan_range(const double *x, const double *y, int n, double *xlo, double *xhi, double *ylo,
                       double *yhi) {
    for (int i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        *xlo = fmin(*xlo, x[i]), *xhi = fmax(*xhi, x[i]);
        if (y[i] > 0) *ylo = fmin(*ylo, y[i]), *yhi = fmax(*yhi, y[i]);
    }
}

/* One series as a polyline; non-finite points break it. */
static void series(Canvas *c, const Axes *a, const double *x, const double *y, int n, int thick, int marker,
                   const unsigned char rgb[3]) {
    int have = 0, px0 = 0, py0 = 0;
    for (int i = 0; i < n; i++) {
        int px, py;
        if (!to_px(a, x[i], y[i], &px, &py)) {
            have = 0;
            continue;
        }
        if (have) canvas_line(c, px0, py0, px, py, thick, rgb);
        else canvas_line(c, px, py, px, py, thick, rgb);
        if (marker) canvas_fill_rect(c, px - 2, py - 2, 5, 5, rgb);
        px0 = px, py0 = py, have = 1;
    }
}

int plot_loss_png(const char *path, const double *step, const double *loss, int n, const double *val_step,
                  const double *val_loss, int nval, const char *title, char *err, size_t errlen) {
    if (n < 0 || nval < 0 || (n > 0 && (!step || !loss)) || (nval > 0 && (!val_step || !val_loss))) {
        plot_set_err(err, errlen, "cannot write '%s': bad loss arrays (n %d, nval %d)", path, n, nval);
        return -1;
    }
    Axes a = {INFINITY, -INFINITY, 0, 0, 0};
    double ylo = INFINITY, yhi = -INFINITY;
    scan_range(step, loss, n, &a.x0, &a.x1, &ylo, &yhi);
    scan_range(val_step, val_loss, nval, &a.x0, &a.x1, &ylo, &yhi);
    if (!(ylo <= yhi)) {
        plot_set_err(err, errlen, "cannot write '%s': no positive finite loss to plot on a log scale", path);
        return -1;
    }
    if (a.x0 == a.x1) a.x0 -= 1, a.x1 += 1;
    a.floor_pos = ylo;
    a.l0 = floor(log10(ylo) + 1e-9), a.l1 = ceil(log10(yhi) - 1e-9);
    if (a.l1 <= a.l0) a.l1 = a.l0 + 1;

    Canvas c;
    char why[256];
    if (canvas_init(&c, PLOT_LOSS_W, PLOT_LOSS_H, why, sizeof why)) {
        plot_set_err(err, errlen, "cannot write '%s': %s", path, why);
        return -1;
    }
    char buf[32];
    /* y: decades, plus 2x and 5x when there are few decades, so short runs still get labels;
     * the minor 2..9 multiples get grid lines only. */
    int few = a.l1 - a.l0 <= 2, every = (int)ceil((a.l1 - a.l0) / 8);   /* <= ~9 decade labels */
    for (int d = (int)a.l0; d <= (int)a.l1; d++)
        for (int m = 1; m <= 9; m++) {
            double v = m * pow(10, d);
            int px, py;
            if (log10(v) > a.l1 + 1e-9 || !to_px(&a, a.x0, v, &px, &py)) continue;
            if (m > 1 && a.l1 - a.l0 > 12) continue;   /* minor grid lines would merge */
            canvas_fill_rect(&c, PLOT_LOSS_X0, py, PLOT_LOSS_X1 - PLOT_LOSS_X0, 1, GRID);
            if ((m == 1 && (d - (int)a.l0) % every == 0) || (few && (m == 2 || m == 5))) {
                canvas_fill_rect(&c, PLOT_LOSS_X0 - 5, py, 5, 1, BLACK);
                fmt_num(buf, sizeof buf, v);
                canvas_text(&c, PLOT_LOSS_X0 - 8, py - 3, buf, 1, 1, BLACK);
            }
        }
    double xs = nice_step(a.x1 - a.x0, 6);
    double k0 = ceil(a.x0 / xs - 1e-9), k1 = floor(a.x1 / xs + 1e-9);
    for (int i = 0; k0 + i <= k1 && i < 50; i++) {   /* counted: v += xs can stall */
        double v = (k0 + i) * xs;
        int px, py;
        if (!to_px(&a, v, 1, &px, &py)) continue;
        canvas_fill_rect(&c, px, PLOT_LOSS_Y0, 1, PLOT_LOSS_Y1 - PLOT_LOSS_Y0, GRID);
        canvas_fill_rect(&c, px, PLOT_LOSS_Y1, 1, 5, BLACK);
        fmt_num(buf, sizeof buf, v);
        canvas_text(&c, px, PLOT_LOSS_Y1 + 9, buf, 1, 0, BLACK);
    }
    /* Curves are clipped to the frame: a clamped or rounded point must not spill onto labels. */
    c.cx0 = PLOT_LOSS_X0, c.cx1 = PLOT_LOSS_X1, c.cy0 = PLOT_LOSS_Y0, c.cy1 = PLOT_LOSS_Y1;
    series(&c, &a, step, loss, n, 1, 0, PLOT_TRAIN_RGB);
    series(&c, &a, val_step, val_loss, nval, 2, 1, PLOT_VAL_RGB);
    c.cx0 = 0, c.cy0 = 0, c.cx1 = c.w - 1, c.cy1 = c.h - 1;
    canvas_rect_outline(&c, PLOT_LOSS_X0, PLOT_LOSS_Y0, PLOT_LOSS_X1 - PLOT_LOSS_X0 + 1, PLOT_LOSS_Y1 - PLOT_LOSS_Y0 + 1,
                 BLACK);
    /* Legend in the top-right corner of the frame. */
    int lw = 110, lh = nval > 0 ? 36 : 20, lx = PLOT_LOSS_X1 - lw - 8, ly = PLOT_LOSS_Y0 + 8;
    canvas_fill_rect(&c, lx, ly, lw, lh, WHITE);
    canvas_rect_outline(&c, lx, ly, lw, lh, BLACK);
    canvas_fill_rect(&c, lx + 8, ly + 9, 24, 1, PLOT_TRAIN_RGB);
    canvas_text(&c, lx + 40, ly + 6, "train", 1, -1, BLACK);
    if (nval > 0) {
        canvas_fill_rect(&c, lx + 8, ly + 25, 24, 2, PLOT_VAL_RGB);
        canvas_fill_rect(&c, lx + 18, ly + 24, 5, 5, PLOT_VAL_RGB);
        canvas_text(&c, lx + 40, ly + 22, "validation", 1, -1, BLACK);
    }
    canvas_title_text(&c, PLOT_LOSS_W / 2, 14, title, PLOT_LOSS_W - 20, BLACK);
    canvas_text(&c, (PLOT_LOSS_X0 + PLOT_LOSS_X1) / 2, PLOT_LOSS_Y1 + 26, "step", 2, 0, BLACK);
    canvas_text(&c, PLOT_LOSS_X0, PLOT_LOSS_Y0 - 12, "loss (log scale)", 1, -1, BLACK);
    int rc = canvas_write_png(path, &c, err, errlen);
    canvas_free(&c);
    return rc;
}

/* ---------------------------------------------------------------- metrics.jsonl */

typedef struct Series {
    double *x, *y;
    int n, cap;
} Series;

static int series_push(Series *s, double x, double y) {
    if (s->n == s->cap) {
        if (s->cap > (1 << 29)) return -1;
        int cap = s->cap ? 2 * s->cap : 1024;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return -1;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return -1;
        s->y = ny, s->cap = cap;
    }
    s->x[s->n] = x, s->y[s->n] = y, s->n++;
    return 0;
}

/* A number, or null (how lvit writes a NaN) -> NaN; anything else (or absence when
 * required) is an error. Returns 1 when present, 0 when absent, -1 when of the wrong type. */
static int get_num(const JsonValue *obj, const char *key, double *out) {
    const JsonValue *v = json_get(obj, key);
    if (!v) return 0;
    if (v->type == JSON_NULL) {
        *out = NAN;
        return 1;
    }
    return json_as_double(v, out) ? -1 : 1;
}

int plot_loss_from_jsonl(const char *metrics_path, const char *png_path, char *err, size_t errlen) {
    if (paths_same_file(metrics_path, png_path)) {
        plot_set_err(err, errlen, "-o %s is the metrics file it plots; writing there would destroy it: give another "
                     "output path", png_path);
        return -1;
    }
    FILE *f = fopen(metrics_path, "r");
    if (!f) {
        plot_set_err(err, errlen, "cannot read '%s': %s", metrics_path, strerror(errno));
        return -1;
    }
    Series tr = {0}, va = {0};
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = -1;
    while ((len = getline(&buf, &cap, f)) >= 0) {
        lineno++;
        int blank = 1;
        for (ssize_t i = 0; i < len && blank; i++) blank = buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r';
        if (blank) continue;
        char jerr[512];
        JsonValue *v = json_parse(buf, (size_t)len, (size_t)1 << 20, NULL, jerr, sizeof jerr);
        if (!v) {
            /* The parser numbers lines within this one line; report the file's line instead. */
            const char *what = strncmp(jerr, "line 1, ", 8) ? jerr : jerr + 8;
            plot_set_err(err, errlen, "%s: line %d, %s", metrics_path, lineno, what);
            goto done;
        }
        double s = NAN, l = NAN, vl = NAN;
        int hs = v->type == JSON_OBJECT ? get_num(v, "step", &s) : -1;
        int hl = get_num(v, "loss", &l), hv = get_num(v, "val_loss", &vl);
        json_free(v);
        if (hs != 1 || !isfinite(s) || hl < 0 || hv < 0) {
            plot_set_err(err, errlen,
                         "%s: line %d: expected an object with a numeric \"step\" and numeric \"loss\"/\"val_loss\"",
                         metrics_path, lineno);
            goto done;
        }
        if ((hl == 1 && series_push(&tr, s, l)) || (hv == 1 && series_push(&va, s, vl))) {
            plot_set_err(err, errlen, "%s: line %d: out of memory", metrics_path, lineno);
            goto done;
        }
    }
    if (ferror(f)) {
        plot_set_err(err, errlen, "cannot read '%s': %s", metrics_path, strerror(errno));
        goto done;
    }
    if (tr.n + va.n == 0) {
        plot_set_err(err, errlen, "%s: no \"loss\" or \"val_loss\" values", metrics_path);
        goto done;
    }
    rc = plot_loss_png(png_path, tr.x, tr.y, tr.n, va.x, va.y, va.n, metrics_path, err, errlen);
done:
    free(buf);
    fclose(f);
    free(tr.x), free(tr.y), free(va.x), free(va.y);
    return rc;
}

void plot_error_field(const float *f, const float *y, const unsigned char *ok, int64_t n, float *err, float *lo,
                      float *hi, float *emax) {
    *lo = INFINITY, *hi = -INFINITY, *emax = 0;
    for (int64_t i = 0; i < n; i++) {
        err[i] = f[i] - y[i];
        if (ok && !ok[i]) continue;
        *lo = fminf(*lo, fminf(f[i], y[i]));
        *hi = fmaxf(*hi, fmaxf(f[i], y[i]));
        *emax = fmaxf(*emax, fabsf(err[i]));
    }
}
