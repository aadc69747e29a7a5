/* TILES: tile-wise sequence scaling for downscaling (ORBIT-2). A coarse input of H x W cells
 * (rows in latitude, columns in longitude) is cut into n x n tiles, each a core of ch = H/n rows
 * by cw = W/n columns plus a halo of hv rows above and below and hh = 2 hv columns left and right,
 * so that every tile has the same shape th x tw and the model sees a sequence 1/n^2 as long. Edge
 * tiles extend inward instead of leaving the image; with `periodic` (a global longitude circle)
 * columns wrap instead, rows never do. A fine image s times finer (s >= 1) is tiled the same way:
 * tile window rows [s r0, s (r0 + th)), columns s c0 ... (mod s W when periodic).
 *
 * Use: tiles_plan once per grid; per sample tiles_extract each tile of the coarse input (s = 1),
 * run the model on it, tiles_stitch its fine output into zeroed acc / wacc, then tiles_finish.
 * Images are row-major, channels first. */
#ifndef LVIT_TILES_H
#define LVIT_TILES_H
#include <stddef.h>
#include <stdint.h>

typedef struct TilePlan {
    int n;            /* tiles per side: n x n tiles, tile index i = ti * n + tj */
    int H, W;         /* the coarse grid */
    int hv, hh;       /* halo rows, halo columns (hh = 2 hv) */
    int ch, cw;       /* core rows, core columns (H / n, W / n) */
    int th, tw;       /* tile rows, tile columns (ch + 2 hv, cw + 2 hh) */
    int periodic;     /* columns wrap (global longitude) */
} TilePlan;

/* Plans n x n tiles with a halo of `halo` rows (2 halo columns) over the H x W coarse grid whose
 * model patches are p x p cells (p >= 1); periodic: columns wrap. 0, or -1 with err (errlen
 * bytes; may be NULL) naming --tiles / --halo and the values that would work for this grid.
 * Rules: n >= 1; H % n == 0 and W % n == 0; ch, cw and hv multiples of p (patch size, >= 1) so
 * that every tile starts and ends on whole patches; th <= H and tw <= W. n = 1 with halo 0 is
 * the untiled image (one tile = the whole grid). */
int tiles_plan(TilePlan *t, int H, int W, int n, int halo, int p, int periodic, char *err, size_t errlen);
static inline int tiles_count(const TilePlan *t) { return t->n * t->n; }

/* Window origin of tile i (0 <= i < tiles_count) in coarse cells: row r0 in [0, H - th], column
 * c0 in [0, W) (periodic: the column of tile column 0, wrapping) or [0, W - tw]. */
void tiles_origin(const TilePlan *t, int i, int *r0, int *c0);

/* Copy tile i's window out of img [C, H*s, W*s] into out [C, th*s, tw*s] (s = 1: the coarse
 * image; s > 1: a fine image of the same area). */
void tiles_extract(const TilePlan *t, int i, int s, const float *img, int C, float *out);

/* Accumulate tile i's fine values tile [C, th*s, tw*s] into acc [C, H*s, W*s] with weights wacc
 * [H*s, W*s] (shared by the channels).
 * blend = 0: crop the halos: every cell of the tile's core (rows [ti ch, (ti+1) ch), columns
 *   [tj cw, (tj+1) cw) of the coarse grid, times s) gets weight 1; the cores partition the grid.
 * blend = 1: every cell of the window gets weight wr(u) wc(v) for tile row u, column v in fine
 *   cells: wr(u) = min(1, (d + 0.5) / (s hv + 0.5)), d the distance in rows to the nearer window
 *   edge, and wc likewise with s hh: 1 over the core, falling linearly across the halo towards
 *   the window's edge and staying > 0. A window edge on the image boundary (rows, or columns
 *   when not periodic) gets no ramp (weight 1 up to that edge: no other tile covers it).
 * acc and wacc start zeroed; call for every tile, then tiles_finish. */
void tiles_stitch(const TilePlan *t, int i, int s, const float *tile, int C, float *acc, float *wacc, int blend);

/* acc [C, npix] /= wacc [npix] (npix = H*s*W*s); a cell with weight 0 (never covered) becomes NaN. */
void tiles_finish(float *acc, const float *wacc, int C, int64_t npix);

#endif
