/* PNG plots without Python: maps of gridded fields (truth | forecast | error side by side)
 * and training-loss curves. Everything is drawn on a small RGB8 raster canvas (eval/canvas.h) with
 * an embedded 5x7 bitmap font (src/eval/font.c) and written with libpng.
 *
 * Every writer goes through "<path>.tmp.<pid>" and renames it over path, so a reader
 * never sees a half-written PNG; on any failure the temporary is removed and the
 * function returns -1 with err = a message naming path. Memory is the image plus a few
 * fixed buffers; nothing is allocated per data point (plot_loss_from_jsonl excepted: it
 * has to keep the parsed series).
 */
#ifndef LVIT_PLOT_H
#define LVIT_PLOT_H
#include <stddef.h>
#include <stdint.h>

enum { PLOT_MAX_PANELS = 8 };

typedef struct PlotPanel {
    const char *title;            /* drawn above the map; NULL: none */
    const float *values;          /* [H*W], row 0 = first latitude in lat[] */
    const unsigned char *valid;   /* [H*W] or NULL; invalid (and NaN) cells drawn grey */
    int H, W;
    const double *lat, *lon;      /* [H], [W] degrees; monotonic, assumed evenly spaced for ticks */
    float vmin, vmax;             /* colour range; vmin == vmax -> auto from the valid values */
    int diverging;                /* 1: blue-white-red centred at 0; 0: viridis-like sequential */
    const char *units;            /* drawn under the colour bar; NULL: none */
} PlotPanel;

/* Where things are in a plot_fields_png image (pixels, origin top-left). Exposed so that
 * callers and tests can find a cell or the colour bar without re-deriving the layout.
 *
 * Layout, per panel from left to right: a 48 px latitude axis, the map, a 24 px gap;
 * the whole row of panels has a 10 px margin either side. Each grid cell is
 * cell x cell pixels with cell = max(4, ceil(256 / W)), so a map is W*cell wide and
 * H*cell tall. Vertically: a 30 px overall title band, a 22 px panel title band, the map,
 * 20 px of longitude ticks/labels, a 12 px colour bar, its labels and units, 10 px margin:
 * height = 30 + 22 + max(H*cell) + 20 + 12 + 32. Width = 20 + sum(48 + W*cell + 24). */
typedef struct PlotPanelLayout {
    int x, y, w, h, cell;           /* map rectangle; screen row 0 is the northernmost row */
    int bar_x, bar_y, bar_w, bar_h; /* colour bar: left end = vmin colour, right end = vmax */
    float vmin, vmax;               /* the colour range used (after auto / centring) */
    int flip_rows, flip_cols;       /* 1 when lat ascends / lon descends (drawn reversed) */
} PlotPanelLayout;
typedef struct PlotLayout {
    int width, height, npanels;
    PlotPanelLayout panel[PLOT_MAX_PANELS];
} PlotLayout;

/* Validates the panels (1..PLOT_MAX_PANELS of them, H, W >= 1, non-NULL arrays) and fills
 * *out. Colour range: vmin == vmax picks min/max of the valid finite values (a constant
 * field gets +-0.5, no valid values 0..1); a diverging panel always uses -a..a with
 * a = max(|vmin|, |vmax|) so that white is 0. Returns 0, or -1 with err. */
int plot_fields_layout(const PlotPanel *panels, int npanels, PlotLayout *out, char *err, size_t errlen);

/* Writes the panels side by side into one PNG: north up, nearest-neighbour cells, latitude
 * and longitude tick labels ("30N", "120W"), a colour bar with min/mid/max labels and
 * units under each map, panel titles and the overall title (NULL: none). */
int plot_fields_png(const char *path, const PlotPanel *panels, int npanels, const char *title,
                    char *err, size_t errlen);

/* For a truth | prediction | error figure: err[i] = f[i] - y[i] for every cell, and over the cells
 * with ok[i] (ok NULL: all) the joint range [lo, hi] of f and y and the largest |err| (emax). */
void plot_error_field(const float *f, const float *y, const unsigned char *ok, int64_t n, float *err, float *lo,
                      float *hi, float *emax);

/* err = the formatted message when err is non-NULL and errlen > 0 (the plot writers' error contract). */
void plot_set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The colour maps: t in [0, 1] (clamped; NaN -> grey) to RGB. Sequential: viridis sampled at
 * 16 points, linearly interpolated. Diverging: blue (t=0) - white (0.5) - red (1). */
void plot_colormap(double t, int diverging, unsigned char rgb[3]);
extern const unsigned char PLOT_GREY[3];   /* invalid / NaN cells */

/* Loss curve images are PLOT_LOSS_W x PLOT_LOSS_H with the data area (axes frame) at
 * [PLOT_LOSS_X0, PLOT_LOSS_X1] x [PLOT_LOSS_Y0, PLOT_LOSS_Y1]; train is drawn in
 * PLOT_TRAIN_RGB (1 px line), validation in PLOT_VAL_RGB (2 px line with square markers). */
enum {
    PLOT_LOSS_W = 800, PLOT_LOSS_H = 480,
    PLOT_LOSS_X0 = 80, PLOT_LOSS_X1 = 770, PLOT_LOSS_Y0 = 50, PLOT_LOSS_Y1 = 420
};
extern const unsigned char PLOT_TRAIN_RGB[3], PLOT_VAL_RGB[3];

/* Loss against step, log-scale y (decades labelled; 2 and 5 too when the range is at most
 * two decades), linear x, legend "train" / "validation" (the latter only when nval > 0).
 * Non-finite points are skipped (the line breaks there). A loss <= 0 cannot be shown on a
 * log axis: it is clamped to the smallest positive loss in the data, i.e. drawn at the
 * bottom of the curve range. Fails when there is no positive finite loss at all. */
int plot_loss_png(const char *path, const double *step, const double *loss, int n,
                  const double *val_step, const double *val_loss, int nval, const char *title,
                  char *err, size_t errlen);

/* Reads a metrics.jsonl written by `lvit train` (one JSON object per line with a numeric
 * "step" and optional "loss" / "val_loss", numbers or null; blank lines are skipped) and
 * plots it with plot_loss_png, titled with the file's path. A line that is not such an
 * object fails with "<metrics_path>: line N...". */
int plot_loss_from_jsonl(const char *metrics_path, const char *png_path, char *err, size_t errlen);

#endif
