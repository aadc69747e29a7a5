/* The module's entry points: options, dispatch to the float or double engine, probe guesses. */
#include "ptycho/ptycho.h"
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/comm.h"
#include "ptycho/engine.h"
#include "ptycho/tiling.h"

void pty_data_free(PtyData *d) {
    free(d->amp), free(d->pos), free(d->frac), free(d->probe), free(d->obj_true);
    memset(d, 0, sizeof *d);
}

void pty_recon_defaults(PtyReconOptions *o) {
    memset(o, 0, sizeof *o);
    o->iters = 100;
    o->eps = PTY_EPS_DEFAULT;
    o->alpha = 1.0f;
    o->beta = 1.0f;
    o->probe_update = 1;
    o->probe_start = 5;
    o->cell = 0;
    o->poisson_start = -1;
}

/* one process: the 1 x 1 grid of the same cells, so it adds in the tiled runs' order */
static void one_tile(PtyTiling *T, Comm *c, const PtyData *d, int cell) {
    char err[256];
    comm_single_init(c);
    if (pty_tiling_init(T, d->H, d->W, d->n, cell > 0 ? cell : pty_cell_default(d->n), 1, 1, d->pos, d->N, err,
                        sizeof err))
        DIE_USER("%s", err);
}

void pty_reconstruct(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                     const PtyReconOptions *o) {
    PtyTiling T;
    Comm c;
    one_tile(&T, &c, d, o->cell);
    pty_reconstruct_tiled(obj, probe, cost, d, o, &T, &c);
    pty_tiling_free(&T);
}

void pty_reconstruct_tiled(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                           const PtyReconOptions *o, const PtyTiling *T, Comm *comm) {
    if (o->use_double)
        pty_reconstruct_tile_d(obj, probe, cost, d, o, T, comm->rank, comm);
    else
        pty_reconstruct_tile_f(obj, probe, cost, d, o, T, comm->rank, comm);
}

double pty_cost_grad(float complex *gobj, float complex *gprobe, const float complex *obj,
                     const float complex *probe, const PtyData *d, float eps) {
    PtyTiling T;
    Comm c;
    one_tile(&T, &c, d, 0);
    double r = pty_cost_grad_tile_f(gobj, gprobe, obj, probe, d, eps, &T, 0, &c);
    pty_tiling_free(&T);
    return r;
}

void pty_fft2(float complex *out, const float complex *in, int n, int sign) {
    size_t nn = (size_t)n * n;
    fftwf_complex *b = fftwf_malloc(sizeof(fftwf_complex) * nn);
    CHECK(b, "out of memory: a %dx%d FFT buffer", n, n);
    /* planned on the buffer before the data goes in: ESTIMATE does not touch it, but say so */
    fftwf_plan p = fftwf_plan_dft_2d(n, n, b, b, sign < 0 ? FFTW_FORWARD : FFTW_BACKWARD, FFTW_ESTIMATE);
    CHECK(p, "FFTW could not plan a %dx%d transform", n, n);
    memcpy(b, in, sizeof(float complex) * nn);
    fftwf_execute(p);
    float s = 1.0f / (float)n;
    const float complex *bc = (const float complex *)b;
    for (size_t i = 0; i < nn; i++) out[i] = bc[i] * s;
    fftwf_destroy_plan(p);
    fftwf_free(b);
}

void pty_shift_ramp(double complex *r, int n, double d) {
    for (int k = 0; k < n; k++) {
        int f = k < n / 2 ? k : k - n; /* the Nyquist bin as -n/2 */
        r[k] = cexp(-2 * M_PI * I * (double)f * d / n);
    }
}

void pty_probe_shift(float complex *out, const float complex *in, int n, double dy, double dx) {
    const size_t nn = (size_t)n * n;
    double complex *ry = xmalloc(sizeof(double complex) * 2 * n), *rx = ry + n;
    float complex *f = xmalloc(sizeof(float complex) * nn);
    pty_shift_ramp(ry, n, dy), pty_shift_ramp(rx, n, dx);
    pty_fft2(f, in, n, -1);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) f[(size_t)y * n + x] *= (float complex)(ry[y] * rx[x]);
    pty_fft2(out, f, n, +1);
    free(f), free(ry);
}

static void scale_power(float complex *p, size_t nn, double power) {
    double s = 0;
    for (size_t i = 0; i < nn; i++) s += (double)crealf(p[i]) * crealf(p[i]) + (double)cimagf(p[i]) * cimagf(p[i]);
    float f = s > 0 ? (float)sqrt(power / s) : 0.0f;
    for (size_t i = 0; i < nn; i++) p[i] *= f;
}

/* The mean pattern's amplitude with zero phase, transformed back: a probe whose far field has
 * the measured mean intensity (right size, no defocus). fftshift'ed so it sits in the middle. */
void pty_probe_from_intensity(float complex *probe, const double *mean, int n) {
    size_t nn = (size_t)n * n;
    float complex *f = xmalloc(sizeof(float complex) * nn);
    double power = 0;
    for (size_t k = 0; k < nn; k++) f[k] = (float)sqrt(mean[k]), power += mean[k];
    pty_fft2(probe, f, n, +1);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) f[(size_t)((y + n / 2) % n) * n + (x + n / 2) % n] = probe[(size_t)y * n + x];
    memcpy(probe, f, sizeof(float complex) * nn);
    free(f);
    scale_power(probe, nn, power);
}

void pty_probe_from_mean(float complex *probe, const PtyData *d) {
    const int n = d->n;
    size_t nn = (size_t)n * n;
    double *mean = xmalloc(sizeof(double) * nn);
    for (size_t k = 0; k < nn; k++) {
        double s = 0;
        for (int j = 0; j < d->N; j++) s += (double)d->amp[nn * j + k] * d->amp[nn * j + k];
        mean[k] = s / d->N;
    }
    pty_probe_from_intensity(probe, mean, n);
    free(mean);
}

void pty_probe_pupil(float complex *probe, int n, double radius, double defocus, double power) {
    size_t nn = (size_t)n * n;
    float complex *f = xmalloc(sizeof(float complex) * nn);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            /* frequencies in FFT order; the phase alternates sign so the probe lands centred */
            int ky = y < (n + 1) / 2 ? y : y - n, kx = x < (n + 1) / 2 ? x : x - n;
            double rho2 = ((double)ky * ky + (double)kx * kx) / (radius * radius);
            double shift = M_PI * (ky + kx) * (n / 2) * 2.0 / n;
            f[(size_t)y * n + x] = rho2 <= 1.0 ? (float complex)cexp(I * (defocus * rho2 + shift)) : 0.0f;
        }
    pty_fft2(probe, f, n, +1);
    free(f);
    scale_power(probe, nn, power);
}
