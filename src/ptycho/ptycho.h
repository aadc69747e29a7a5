/* Far-field ptychography: the forward model, its amplitude cost and gradient, and a full-batch
 * reconstruction of object and probe (issue 22, single process).
 *
 * Conventions (docs/ptychography.md):
 * - Everything is in pixels. A frame is n x n, stored row-major in FFT order (zero frequency at
 *   [0,0]), the probe is n x n in real space, the object H x W.
 * - Position j is the minimum corner (row, column) of probe window j in object pixels, rounded to
 *   whole pixels (pos); the remainder (frac, in [-0.5, 0.5)) is used only with subpixel on, as the
 *   probe shifted by it: exit wave P(r - frac) O(r + pos), the shift a Fourier phase ramp.
 * - The far field is the unitary DFT, Psi = fft2(psi) / n, so that sum |Psi|^2 = sum |psi|^2 and
 *   a frame's total count equals the exit wave's power.
 * - Cost C = sum_j sum_k (sqrt(|Psi_jk|^2 + eps) - sqrt(I_jk + eps))^2 (Gaussian amplitude cost;
 *   eps in counts, see PTY_EPS_DEFAULT for why it is there). */
#ifndef LVIT_PTYCHO_H
#define LVIT_PTYCHO_H
#include <complex.h>
#include <stddef.h>
#include <stdint.h>

/* Why the smoothing: from a flat object most far-field pixels of the model hold almost no
 * power, and the amplitude projection's phase Psi/|Psi| there is pure rounding noise, which
 * float and double round differently; the runs then drift apart. Inside the square root eps
 * shrinks the projection's step where |Psi|^2 << eps, where the measured count is below one
 * photon anyway. 0.01 counts: far below one photon, far above float rounding of |Psi|^2. */
#define PTY_EPS_DEFAULT 1e-2f

/* A measured scan: what the reconstruction reads. */
typedef struct PtyData {
    int N, n;            /* frames, frame side */
    int H, W;            /* object grid (positions lie inside: 0 <= row <= H-n, 0 <= col <= W-n) */
    float *amp;          /* [N, n, n] sqrt of the measured counts, FFT order */
    int *pos;            /* [N, 2] window min corner (row, col), object pixels, rounded */
    float *frac;         /* [N, 2] the rounding's remainder (file position + shift - pos), or NULL: none */
    float complex *probe;    /* [n, n] probe from the file, or NULL */
    float complex *obj_true; /* [H, W] ground truth (simulations), or NULL */
    double shift[2];     /* added to the file's positions to get pos (before rounding) */
} PtyData;

void pty_data_free(PtyData *d);

/* How a reconstruction runs. */
typedef struct PtyReconOptions {
    int iters;
    float eps;           /* smoothing constant in counts (PTY_EPS_DEFAULT) */
    float alpha, beta;   /* object and probe step sizes (1 and 1 are the usual) */
    int probe_update;    /* 0: keep the probe fixed */
    int probe_start;     /* first iteration that updates the probe (object-only before) */
    int use_double;      /* 1: the same arithmetic in double (for the float-vs-double check) */
    int cell;            /* cell side of the fixed summation order (tiling.h); 0: the probe side */
    int poisson_start;   /* first iteration on the Poisson cost (engine_tmpl.h poisson_far); -1: never.
                          * From a cold start the Poisson cost diverges: warm up on the amplitude cost */
    int subpixel;        /* 1: positions keep their fractional part (d->frac): the probe is shifted by it */
    int amp_in_place;    /* float: the engine overwrites d->amp with sqrt(amp^2 + eps) instead of copying */
    /* called after every iteration with the cost before that iteration's update; may be NULL */
    void (*progress)(void *ctx, int iter, double cost, double ms);
    /* asked after every iteration (after progress); nonzero: the reconstruction ends there, obj and
     * probe holding that iteration's update. One process only (a tile would leave the others
     * waiting); may be NULL */
    int (*stop)(void *ctx);
    void *ctx;
} PtyReconOptions;

void pty_recon_defaults(PtyReconOptions *o);

/* Reconstructs from d, starting from obj [H, W] and probe [n, n] (updated in place); cost
 * [iters] gets the cost at the start of each iteration (the cost of the estimate it updates).
 * Memory: everything is allocated before the first iteration. */
void pty_reconstruct(float complex *obj /* [H, W] */, float complex *probe /* [n, n] */,
                     double *cost /* [iters] */, const PtyData *d, const PtyReconOptions *o);
/* The same on one tile of T (tile = comm's rank; T's grid has comm's size tiles): d holds only this
 * tile's positions and frames (pty_tile_of_cell of their cells is this tile), in ascending order of
 * their index in the whole scan; obj is the tile's extent [pty_tile_ext], in and out. Every rank
 * gets the same cost and probe, and the owned pixels are bitwise those of pty_reconstruct with the
 * same cell (o->cell). */
struct PtyTiling;
struct Comm;
void pty_reconstruct_tiled(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                           const PtyReconOptions *o, const struct PtyTiling *T, struct Comm *comm);

/* The cost at (obj, probe) and, when gobj / gprobe are not NULL, its gradient with respect to the
 * conjugates: gobj = dC/d conj(O) = sum_j conj(P) (psi_j - psi'_j) scattered into the windows,
 * gprobe = dC/d conj(P) = sum_j conj(O_j) (psi_j - psi'_j), where
 * psi'_j = F^-1[ sqrt(I + eps) Psi / sqrt(|Psi|^2 + eps) ]. The real gradient (d/dRe + i d/dIm)
 * is twice these. Allocates its own scratch: for tests and one-off evaluations. */
double pty_cost_grad(float complex *gobj /* [H, W] or NULL */, float complex *gprobe /* [n, n] or NULL */,
                     const float complex *obj /* [H, W] */, const float complex *probe /* [n, n] */,
                     const PtyData *d, float eps);

/* Probe initial guesses, scaled so that sum |P|^2 = the mean frame count (a unit object):
 * the mean diffraction pattern's square root with zero phase, and a pupil (below). */
void pty_probe_from_mean(float complex *probe /* [n, n] */, const PtyData *d);
/* The same from the mean intensity per detector pixel (FFT order); power = its sum. */
void pty_probe_from_intensity(float complex *probe /* [n, n] */, const double *mean /* [n, n] */, int n);
/* A circular aperture of radius `radius` (far-field pixels) with the quadratic phase
 * defocus * (rho / radius)^2 (radians at the aperture edge), inverse-transformed and centred in
 * the n x n window; scaled so that sum |P|^2 = power. */
void pty_probe_pupil(float complex *probe /* [n, n] */, int n, double radius, double defocus, double power);

/* The 1-D factor of a shift by d pixels: r[k] = exp(-2 pi i f_k d / n), f_k the frequency of
 * FFT bin k (-n/2 .. n/2 - 1). F[P](ky, kx) r_y[ky] r_x[kx] is the transform of P(r - (dy, dx))
 * (cyclic). */
void pty_shift_ramp(double complex *r /* [n] */, int n, double d);
/* The probe shifted by (dy, dx) pixels through that ramp (cyclic, band-limited), out of place. */
void pty_probe_shift(float complex *out /* [n, n] */, const float complex *in /* [n, n] */, int n, double dy, double dx);

/* The unitary 2-D DFT of an n x n array (sign -1 forward, +1 inverse), out of place; for
 * simulation and tests (the reconstruction keeps its own plans). */
void pty_fft2(float complex *out /* [n, n] */, const float complex *in /* [n, n] */, int n, int sign);

/* Scoring: the complex scale a and linear phase ramp exp(i (gy y + gx x)) that minimise
 * || a ramp O_rec - O_true || over the mask (NULL: all pixels), then
 * NRMSE = || a ramp O_rec - O_true || / || O_true ||. with_ramp = 0 fits the scale only.
 * The ramp is found on the peak of the cross-correlation's spectrum and refined by a few
 * Gauss-Newton steps. Fills a and the ramp (radians per pixel) when not NULL. */
double pty_nrmse(const float complex *rec /* [H, W] */, const float complex *truth /* [H, W] */,
                 const unsigned char *mask /* [H, W] or NULL */, int H, int W, int with_ramp,
                 double complex *a, double ramp[2]);

/* The pixels that some probe window covers where the probe's intensity is at least frac of its
 * maximum: where the object is determined at all (scored region). */
void pty_illuminated_mask(unsigned char *mask /* [H, W] */, const PtyData *d, const float complex *probe, double frac);

/* Fourier ring correlation of a against b (two reconstructions on the same grid) over the largest
 * square centred in the mask's bounding box, Hann-tapered, after mapping a onto b with the scale
 * and ramp of pty_nrmse. frc[r] for rings r = 0 .. min(S/2, maxring) (ring r: spatial frequency
 * r / S per pixel). Returns S, or 0 when the mask is empty. */
int pty_frc(double *frc /* [maxring + 1] */, int maxring, const float complex *a /* [H, W] */,
            const float complex *b /* [H, W] */, const unsigned char *mask /* [H, W] */, int H, int W);

/* Amplitude (grey, 0 .. its 99.5th percentile) and phase (blue-white-red, -pi..pi) of z side by side, one pixel per
 * pixel, titled. 0, or -1 with err naming path. */
int pty_complex_png(const char *path, const float complex *z /* [H, W] */, int H, int W, const char *title,
                    char *err, size_t errlen);

#endif
