/* CXI (HDF5) ptychography scans: read into a PtyScan plus the geometry, decide whether the
 * far-field model applies, summarise; and the loader that picks CXI or netCDF for a path.
 *
 * Conventions (docs/ptychography.md, "CXI input"):
 * - Frames are detector images with the direct beam at pixel (n/2, n/2); they are moved to FFT
 *   order (ifftshift) for the reconstruction. Rows are the detector's y, columns its x; the
 *   detector's basis_vectors are not read.
 * - Translations are sample moves in metres: the probe position is -translation, in object pixels
 *   of the far-field geometry dx = lambda z / (n p) (p: the pixel size along that axis), row from
 *   y and column from x. lambda = h c / energy (or the file's wavelength when there is no energy).
 * - Mask: nonzero = bad pixel (CXI); bad pixels are set to zero counts for the reconstruction. */
#ifndef LVIT_PTYCHO_CXI_H
#define LVIT_PTYCHO_CXI_H
#include <stdio.h>
#include "ptycho/scan.h"

typedef struct PtyCxi {
    PtyScan scan;              /* counts in FFT order, pos [N, 2] in far-field object pixels */
    char frames_ds[96], trans_ds[96], probe_ds[96], mask_ds[96];  /* the datasets read ("" when absent) */
    double distance;           /* sample to detector, m */
    double pixel[2];           /* detector pixel size (y, x), m */
    double energy, wavelength; /* J (0 when absent), m */
    double dx[2];              /* far-field object pixel (y, x), m */
    double tmin[3], tmax[3];   /* translation range (x, y, z), m */
    double step;               /* median nearest-neighbour distance between positions, m */
    unsigned char *mask;       /* [n, n] 1 = bad, or NULL */
    long masked;               /* bad pixels in the mask */
    double fmin, fmax, fmean;  /* counts: minimum, maximum, mean per frame */
} PtyCxi;

/* 1 when path should be read as CXI: a .cxi / .h5 / .hdf5 name, or an HDF5 file with /entry_1 */
int pty_cxi_is(const char *path);
/* Reads and checks the file; 0, or -1 with err naming the file and the dataset (for a missing one,
 * every name that was looked for). */
int pty_cxi_read(PtyCxi *c, const char *path, char *err, size_t errlen);
void pty_cxi_free(PtyCxi *c);
/* 1 when the far-field model is consistent with the geometry; 0 with why filled otherwise (-1 and
 * why: fewer than 2 frames, no scan at all). The
 * rule: a far-field frame of n pixels samples a window of n dx = lambda z / p in the object, and
 * the illumination must fit in half of it (oversampling 2), so neighbouring positions overlap only
 * when the median nearest-neighbour step is below lambda z / (2 p). A larger step means the data
 * are not far-field diffraction of an overlapping scan (near-field / Fresnel-scaling set-ups). */
int pty_cxi_far_field(const PtyCxi *c, char *why, size_t len);
void pty_cxi_summary(FILE *f, const PtyCxi *c, const char *path);

/* A scan for the reconstruction from netCDF (scan_nc.c) or CXI (far-field only, with some unmasked
 * pixel; refused with a message saying "cannot VERB" otherwise). 0, or -1 with err. */
int pty_scan_load(PtyScan *s, const char *path, const char *verb, char *err, size_t errlen);
/* The stored probe (NULL: none) for --probe-init file: 0, or -1 with err naming what was looked for
 * in path (CXI datasets or netCDF variables) when it is missing or 0 everywhere, and the guesses. */
int pty_probe_usable(const float complex *probe, int n, const char *path, char *err, size_t errlen);

#endif
