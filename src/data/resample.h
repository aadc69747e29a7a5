/* Resampling between a fine grid and one s times coarser (downscaling, docs/downscaling.md):
 * area-average coarsening (the coarse inputs made from fine fields) and the bilinear and bicubic
 * upsampling that downscaling models are measured against. One 2-D field [rows, cols] per call,
 * row-major; rows run in latitude, columns in longitude. */
#ifndef LVIT_RESAMPLE_H
#define LVIT_RESAMPLE_H
#include <stdint.h>

/* coarse [H/s, W/s]: the area-weighted mean of each s x s block of fine [H, W] (H % s == 0,
 * W % s == 0). Each fine row weighs cos(lat) (lat_deg [H] in degrees, rounded to float32 as
 * the coarse inputs of every model so far were made; NULL: all rows alike);
 * cells with valid[i] == 0 (valid NULL: all valid) weigh nothing. A block without a valid cell
 * gets NaN and coarse_valid 0 (coarse_valid may be NULL). */
void resample_coarsen(float *coarse, uint8_t *coarse_valid, const float *fine, const uint8_t *valid, int H, int W,
                      int s, const double *lat_deg);

typedef enum { RS_BILINEAR = 0, RS_BICUBIC = 1 } ResampleKind;

/* fine [Hc*s, Wc*s] from coarse [Hc, Wc], PyTorch's interpolate(scale_factor=s,
 * align_corners=False) semantics: fine pixel (i, j) samples the coarse grid at
 * ((i + 0.5)/s - 0.5, (j + 0.5)/s - 0.5); bilinear, or bicubic (Keys, a = -0.75). At the edges
 * rows are clamped, as PyTorch does; columns too unless periodic_x, where they wrap (a global
 * longitude circle: no seam at the date line). */
void resample_upsample(float *fine, const float *coarse, int Hc, int Wc, int s, ResampleKind kind, int periodic_x);

#endif
