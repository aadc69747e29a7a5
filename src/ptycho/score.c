/* Scoring a reconstruction against the truth: object and probe are determined only up to a
 * complex scale (O a, P / a) and, with integer positions, a linear phase ramp shared between them
 * (O e^{i g.r}, P e^{-i g.r}): both are removed before the error is measured. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include "core/check.h"
#include "ptycho/ptycho.h"

/* The mean phase gradient of z = conj(rec) truth over neighbouring pairs inside the mask: the
 * ramp's slope, provided it is below pi per pixel (amplitude-weighted, so dark pixels whose
 * phase is noise count little). */
static void ramp_slope(double g[2], const float complex *rec, const float complex *truth,
                       const unsigned char *mask, int H, int W, const double cur[2]) {
    double complex sy = 0, sx = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if (mask && !mask[i]) continue;
            double complex z = conj(rec[i]) * truth[i] * cexp(-I * (cur[0] * y + cur[1] * x));
            if (x + 1 < W && (!mask || mask[i + 1]))
                sx += conj(z) * conj(rec[i + 1]) * truth[i + 1] * cexp(-I * (cur[0] * y + cur[1] * (x + 1)));
            if (y + 1 < H && (!mask || mask[i + W]))
                sy += conj(z) * conj(rec[i + W]) * truth[i + W] * cexp(-I * (cur[0] * (y + 1) + cur[1] * x));
        }
    g[0] = cur[0] + carg(sy);
    g[1] = cur[1] + carg(sx);
}

double pty_nrmse(const float complex *rec, const float complex *truth, const unsigned char *mask, int H, int W,
                 int with_ramp, double complex *a_out, double ramp[2]) {
    double g[2] = {0, 0};
    if (with_ramp)
        for (int k = 0; k < 3; k++) ramp_slope(g, rec, truth, mask, H, W, g); /* refine twice */
    double complex num = 0;
    double den = 0, tt = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if (mask && !mask[i]) continue;
            double complex u = rec[i] * cexp(I * (g[0] * y + g[1] * x));
            num += conj(u) * truth[i];
            den += creal(u) * creal(u) + cimag(u) * cimag(u);
            tt += (double)crealf(truth[i]) * crealf(truth[i]) + (double)cimagf(truth[i]) * cimagf(truth[i]);
        }
    double complex a = den > 0 ? num / den : 0;
    double e = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            if (mask && !mask[i]) continue;
            double complex r = a * rec[i] * cexp(I * (g[0] * y + g[1] * x)) - truth[i];
            e += creal(r) * creal(r) + cimag(r) * cimag(r);
        }
    if (a_out) *a_out = a;
    if (ramp) ramp[0] = g[0], ramp[1] = g[1];
    return tt > 0 ? sqrt(e / tt) : INFINITY;
}

void pty_illuminated_mask(unsigned char *mask, const PtyData *d, const float complex *probe, double frac) {
    const int n = d->n;
    float pmax = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) pmax = fmaxf(pmax, crealf(probe[i] * conjf(probe[i])));
    for (size_t i = 0; i < (size_t)d->H * d->W; i++) mask[i] = 0;
    for (int j = 0; j < d->N; j++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                if (crealf(probe[(size_t)y * n + x] * conjf(probe[(size_t)y * n + x])) >= frac * pmax)
                    mask[(size_t)(d->pos[2 * j] + y) * d->W + d->pos[2 * j + 1] + x] = 1;
}
