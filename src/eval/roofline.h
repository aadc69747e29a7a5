/* A roofline plot as PNG (lvit bench --profile-png): attained GFLOP/s against arithmetic
 * intensity (flop per byte moved), both axes log-scale, under the machine's two ceilings, the
 * memory line bw x intensity and the sgemm line. Drawn on the plots' canvas (eval/canvas.h) and
 * written through "<path>.tmp.<pid>" and a rename, like every plot. */
#ifndef LVIT_ROOFLINE_H
#define LVIT_ROOFLINE_H
#include <stddef.h>

/* The image is ROOFLINE_W x ROOFLINE_H, the axes frame [ROOFLINE_X0, ROOFLINE_X1] x
 * [ROOFLINE_Y0, ROOFLINE_Y1]; a legend (one line per op) fills the right-hand side. */
enum { ROOFLINE_W = 960, ROOFLINE_H = 600, ROOFLINE_X0 = 70, ROOFLINE_X1 = 640, ROOFLINE_Y0 = 50, ROOFLINE_Y1 = 540 };
enum { ROOFLINE_MAX_POINTS = 64 };

typedef struct RooflinePoint {
    const char *label;   /* the op's name */
    double intensity;    /* flop / byte */
    double gflops;       /* attained GFLOP/s */
    double share;        /* fraction of the kernel time, 0..1: sets the marker's size */
} RooflinePoint;

/* Writes the plot of n points (at most ROOFLINE_MAX_POINTS, most time first as the legend lists
 * them) under the ceilings peak_gflops (horizontal) and bw_gbs (GB/s, the diagonal); a ceiling
 * <= 0 is not drawn (not measured). Each op is a square sized by its share, labelled with its name
 * where the label covers no other square or label (the legend always lists it). Points without flops (intensity or rate <= 0: copies and
 * rearrangements) cannot sit on log axes: the legend lists them as "not plotted". title may be
 * NULL. 0, or -1 with err = a message naming path. */
int roofline_png(const char *path, const RooflinePoint *pts, int n, double peak_gflops, double bw_gbs,
                 const char *title, char *err, size_t errlen);

#endif
