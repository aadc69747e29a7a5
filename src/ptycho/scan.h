/* A scan as it is stored: counts, positions in the file's frame, probe and truth when known;
 * simulated (simulate.c), read and written as netCDF (scan_nc.c), and turned into what the
 * reconstruction needs (pty_data_from_scan) with every check on the way. */
#ifndef LVIT_PTYCHO_SCAN_H
#define LVIT_PTYCHO_SCAN_H
#include <complex.h>
#include <stddef.h>
#include <stdint.h>
#include "ptycho/ptycho.h"

/* The largest object grid, in pixels (8192 x 8192): the reconstruction holds the object, its
 * gradient and illumination and the cells' sums (several float copies, 512 MiB each at this size).
 * A larger grid is almost always a wrong position (a translation in the wrong unit, one outlier)
 * stretching the scanned area, and is refused naming that position. */
#define PTY_MAX_OBJECT_PIXELS (1L << 26)

typedef struct PtyScan {
    int N, n;                /* frames, frame side */
    int H, W;                /* object grid of the truth (0 when there is none; known even when obj was not read) */
    float *counts;           /* [N, n, n] photon counts, FFT order */
    float *pos;              /* [N, 2] window min corner (row, col), pixels */
    float complex *probe;    /* [n, n] or NULL */
    float complex *obj;      /* [H, W] or NULL */
    double overlap;          /* simulations: 1 - step / probe diameter */
} PtyScan;

void pty_scan_free(PtyScan *s);

typedef struct PtySimOptions {
    int side;                /* object side (square) */
    int n;                   /* probe / frame side */
    int N;                   /* positions (Fermat spiral filling the object) */
    double photons;          /* sum |P|^2: counts per frame for a unit object */
    int noise;               /* Poisson noise */
    double radius;           /* pupil radius, far-field pixels */
    double defocus;          /* radians of quadratic phase at the pupil edge */
    int subpixel;            /* positions keep their fractional part (else whole pixels); the frames are
                              * then the probe shifted by it (pty_probe_shift) times the window at the
                              * rounded position, the model reconstruct --subpixel fits */
    uint64_t seed;
} PtySimOptions;

void pty_sim_defaults(PtySimOptions *o);
/* Fails (returns -1 with err naming the option) on sizes that cannot make a scan. */
int pty_simulate(PtyScan *s, const PtySimOptions *o, char *err, size_t errlen);

/* Checks the scan (finite non-negative counts, positions inside the object) and fills d: the
 * amplitudes, positions rounded to pixels with their remainders in d->frac (shifted by -min + pad when the scan has no object
 * grid, so that the object is the scanned area plus pad on every side), probe and truth copied.
 * Returns 0, or -1 with err naming `what` (the file) and the variable. */
int pty_data_from_scan(PtyData *d, const PtyScan *s, int pad, const char *what, char *err, size_t errlen);
/* A scan read without frames (s->counts NULL) gives d without amplitudes (d->amp NULL). The counts of
 * frames idx [m] (their index in the scan), checked like pty_data_from_scan's, into amp [m, n, n]. */
int pty_amp_from_counts(float *amp, const float *counts, const int *idx, int m, int n, const char *what, char *err,
                        size_t errlen);

/* netCDF: frames [frame, ky, kx] float counts (or "diffraction", any numeric type),
 * positions [frame, axis] (or "scan_px"), optional probe_real/imag [ky, kx] and
 * object_true_real/imag [y, x]. Errors name the file and the variable. */
int pty_scan_read(PtyScan *s, const char *path, char *err, size_t errlen);
/* The same without the frames (s->counts NULL; N and n are known) and, truth = 0, without the truth
 * (s->obj NULL; H and W are known): for a rank of a tiled run, which then reads only its frames
 * idx [m] (ascending) into counts [m, n, n] with pty_scan_read_frames. */
int pty_scan_read_meta(PtyScan *s, const char *path, int truth, char *err, size_t errlen);
int pty_scan_read_frames(float *counts, const char *path, const int *idx, int m, int n, char *err, size_t errlen);
int pty_scan_write(const char *path, const PtyScan *s, char *err, size_t errlen);
/* A reconstruction: object_real/imag [y, x], probe_real/imag [ky, kx], cost [iteration],
 * positions [frame, axis] as used (object pixels), the shift applied to the file's positions. */
int pty_result_write(const char *path, const float complex *obj, const float complex *probe, const double *cost,
                     int iters, const PtyData *d, char *err, size_t errlen);

#endif
