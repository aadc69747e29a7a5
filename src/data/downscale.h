/* Downscaling data (docs/downscaling.md, "Data"): each sample pairs a coarse input (the fine field
 * area-averaged over s x s blocks, or a coarse dataset of its own) with the fine target, plus
 * static input fields; with TILES (data/tiles.h) a sample is one window of one time.
 *
 * Grids: the fine dataset's H x W cells are cropped to multiples of s (the last rows or columns
 * are left out, and said so); the coarse grid is h x w = H/s x W/s, padded for the model up to
 * whole patches (hp x wp; padded cells are 0 and weigh nothing). Inputs are the Vo variables
 * (normalized with the fine dataset's training statistics; invalid cells 0), then the static
 * channels (standardized over the grid). */
#ifndef LVIT_DOWNSCALE_H
#define LVIT_DOWNSCALE_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"
#include "data/tiles.h"

typedef struct DownscaleOptions {
    int scale;                 /* s >= 2 */
    int patch;                 /* the model's patch on the coarse grid */
    const Dataset *coarse;     /* coarse inputs of their own (grid H/s x W/s, the same variables and
                                * times), or NULL: area-average the fine fields */
    const char *statics;       /* comma-separated static inputs: "lat", "lon" (cos and sin), or an lvit
                                * dataset file on the fine grid (all its variables, first time);
                                * NULL or "": none */
    const char *var_weights;   /* "NAME=W,..." per-variable loss weights (others 1); NULL: all 1 */
    int tiles, halo;           /* TILES: n x n windows with a halo of `halo` rows (2 halo columns) */
    int periodic;              /* -1 auto (a global longitude circle wraps), 0 off, 1 on (refused if not global) */
    int base;                  /* 1: targets are the fine fields minus the bicubic interpolation of the coarse inputs */
} DownscaleOptions;

typedef struct Downscale {
    const Dataset *ds;         /* the fine dataset (targets; the inputs too unless coarse files) */
    int s;
    int H, W;                  /* fine cells used (cropped to multiples of s) */
    int h, w;                  /* coarse grid */
    int hp, wp;                /* the model's coarse grid (padded to the patch) */
    int Vo, Ns, V;             /* output variables, static channels, inputs (Vo + Ns) */
    float *coarse;             /* [T, Vo, h, w] normalized coarse inputs, 0 where invalid */
    float *coarse_phys;        /* [T, Vo, h, w] the same in physical units (invalid: the training mean) */
    uint8_t *coarse_valid;     /* [T, Vo, h, w] 1 where the coarse cell has data */
    float *statics;            /* [Ns, h, w] */
    float *base;               /* [T, Vo, H, W] normalized bicubic interpolation of the coarse inputs
                                * (periodic in longitude on global grids), subtracted from the targets;
                                * NULL: the targets are the fine fields */
    char (*names)[LVIT_VAR_NAME]; /* [V] the variables, then the static channels */
    float *vw;                 /* [Vo] per-variable loss weights */
    float *wlat;               /* [s hp] fine row weights cos(lat) / mean (used rows), 0 past H */
    int periodic;              /* columns wrap (global grid, w == wp) */
    int global;                /* the fine grid is a whole longitude circle */
    TilePlan tp;               /* windows on the hp x wp grid (n = 1, halo 0: the whole grid) */
} Downscale;

/* 0, or -1 with err naming the flag or file and what was expected. */
int downscale_init(Downscale *d, const Dataset *ds, const DownscaleOptions *o, char *err, size_t errlen);
void downscale_free(Downscale *d);
static inline int downscale_tiled(const Downscale *d) { return d->tp.n > 1 || d->tp.hv > 0; }
/* A sampler over times [t0, t1) x windows: sample id = t * tiles + window. */
int downscale_sampler(Sampler *s, const Downscale *d, int t0, int t1, uint64_t seed, int shuffle, char *err,
                      size_t errlen);
/* Floats per sample of the inputs [V, th, tw] and of the targets and weights [Vo, s th, s tw]. */
int64_t downscale_nx(const Downscale *d);
int64_t downscale_ny(const Downscale *d);
/* Downscaling batches of d's windows (wlat: [s th] ones, the weights being in the mask); they
 * fill through host_batch_fill like any other. */
void host_batch_init_downscale(HostBatch *hb, int B, const Downscale *d);
/* Sample slot i of hb (host_batch_init_downscale) from time t, window `tile`. */
void downscale_fill(const Downscale *d, HostBatch *hb, int i, int t, int tile);

#endif
