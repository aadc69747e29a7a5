/* Spectra over the band index as line plots, a grid of panels on one PNG (eval/canvas.h): e.g. a
 * masked pixel's true spectrum beside a masked autoencoder's reconstruction of it (tasks/mae.c). */
#ifndef LVIT_SPECTRA_PLOT_H
#define LVIT_SPECTRA_PLOT_H
#include <stddef.h>

enum {
    SPECTRA_CURVES = 3,                          /* curves per panel at most */
    SPECTRA_PANEL_W = 440, SPECTRA_PANEL_H = 250, /* a panel's cell, frame and labels included */
    SPECTRA_COLS = 2,                            /* panels per row */
    SPECTRA_MAX_PANELS = 16
};

typedef struct SpectraPanel {
    const char *title;                    /* above the panel, or NULL */
    const float *curve[SPECTRA_CURVES];   /* [nband] each, or NULL: not drawn; non-finite values break the line */
} SpectraPanel;

/* Where things are: panel k's frame is [x0[k], x0[k] + frame_w] x [y0[k], y0[k] + frame_h]; band b
 * at x0 + b * frame_w / (nband - 1). */
typedef struct SpectraLayout {
    int width, height, frame_w, frame_h;
    int x0[SPECTRA_MAX_PANELS], y0[SPECTRA_MAX_PANELS];
} SpectraLayout;

/* 1..SPECTRA_MAX_PANELS panels of nband >= 2 values per curve, SPECTRA_COLS per row, each on its
 * own linear y axis (the finite range of its curves); names[c] labels curve c in the legend at the
 * top (curve 0 black, 1 blue, 2 orange); ylabel over the y axes. Written through a temporary,
 * fsync and rename. 0, or -1 with err = "cannot write '<path>': why". */
int spectra_png(const char *path, const SpectraPanel *panels, int npanels, int nband, const char *const *names,
                const char *ylabel, const char *title, SpectraLayout *layout, char *err, size_t errlen);

#endif
