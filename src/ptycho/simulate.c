/* A simulated far-field scan with known truth: a complex test object, a defocused pupil probe, a
 * Fermat spiral of positions, Poisson counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/rng.h"
#include "ptycho/outfile.h"
#include "ptycho/scan.h"

void pty_scan_free(PtyScan *s) {
    free(s->counts), free(s->pos), free(s->probe), free(s->obj);
    memset(s, 0, sizeof *s);
}

void pty_sim_defaults(PtySimOptions *o) {
    memset(o, 0, sizeof *o);
    o->side = 192, o->n = 64, o->N = 160, o->photons = 1e6, o->noise = 1;
    o->radius = 16, o->defocus = 12, o->seed = 1;
}

/* Poisson deviates: multiplication for small means, Hormann's transformed rejection (PTRS, as
 * NumPy) above; a normal approximation would be wrong in the tails that dim pixels live in. */
static double poisson(Rng *r, double lam) {
    if (lam <= 0) return 0;
    if (lam < 10) {
        double L = exp(-lam), p = 1;
        int k = 0;
        do {
            k++;
            p *= rng_uniform(r);
        } while (p > L);
        return k - 1;
    }
    double slam = sqrt(lam), loglam = log(lam), b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
        double U = rng_uniform(r) - 0.5, V = rng_uniform(r), us = 0.5 - fabs(U);
        double k = floor((2 * a / us + b) * U + lam + 0.43);
        if (us >= 0.07 && V <= vr) return k;
        if (k < 0 || (us < 0.013 && V > us)) continue;
        if (log(V) + log(invalpha) - log(a / (us * us) + b) <= -lam + k * loglam - lgamma(k + 1)) return k;
    }
}

/* Amplitude 0.45..1 with spokes (a Siemens-star-like feature: every spatial frequency) and a
 * smooth phase of two bumps and a wave, -0.9..0.9 rad: both vary everywhere the scan looks. */
static void test_object(float complex *o, int side) {
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            double u = (x + 0.5) / side - 0.5, v = (y + 0.5) / side - 0.5, r = hypot(u, v), th = atan2(v, u);
            double amp = 0.75 + 0.2 * tanh(3 * sin(10 * th)) * exp(-pow(r / 0.35, 4)) + 0.05 * cos(2 * M_PI * 3 * u);
            double ph = 0.9 * exp(-((u - 0.15) * (u - 0.15) + (v + 0.1) * (v + 0.1)) / 0.01) -
                        0.7 * exp(-((u + 0.2) * (u + 0.2) + (v - 0.15) * (v - 0.15)) / 0.006) +
                        0.2 * sin(2 * M_PI * 2.5 * v);
            o[(size_t)y * side + x] = (float complex)(amp * cexp(I * ph));
        }
}

/* Twice the RMS radius of |P|^2 times sqrt 2: a uniform disc's diameter. */
static double probe_diameter(const float complex *p, int n) {
    double s = 0, sy = 0, sx = 0, syy = 0;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            double w = crealf(p[(size_t)y * n + x] * conjf(p[(size_t)y * n + x]));
            s += w, sy += w * y, sx += w * x, syy += w * ((double)y * y + (double)x * x);
        }
    double var = syy / s - (sy / s) * (sy / s) - (sx / s) * (sx / s);
    return 2 * sqrt(2 * var);
}

int pty_simulate(PtyScan *s, const PtySimOptions *o, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    if (o->n < 4 || o->side < o->n + 2 || o->N < 1) {
        snprintf(err, errlen, "--object %d must exceed --probe %d by 2 or more (probe >= 4, positions >= 1)",
                 o->side, o->n);
        return -1;
    }
    if (o->radius <= 0 || o->radius > o->n / 2.0) {
        snprintf(err, errlen, "--pupil-radius %g must be in (0, %g] (half the frame)", o->radius, o->n / 2.0);
        return -1;
    }
    const int n = o->n, side = o->side;
    const size_t nn = (size_t)n * n;
    s->N = o->N, s->n = n, s->H = s->W = side;
    s->counts = pty_alloc(sizeof(float) * nn * o->N, "the simulated frames");
    s->pos = xmalloc(sizeof(float) * 2 * o->N);
    s->probe = xmalloc(sizeof(float complex) * nn);
    s->obj = xmalloc(sizeof(float complex) * (size_t)side * side);
    test_object(s->obj, side);
    pty_probe_pupil(s->probe, n, o->radius, o->defocus, o->photons);
    /* Fermat spiral r = c sqrt(k), angle k * golden angle: even density, no raster periodicity
     * (which would add ambiguities); c makes it fill the object */
    double rmax = (side - n) / 2.0 - 0.5, c = o->N > 1 ? rmax / sqrt(o->N - 1.0) : 0;
    double golden = M_PI * (3 - sqrt(5.0));
    for (int k = 0; k < o->N; k++) {
        double r = c * sqrt((double)k), th = k * golden;
        double py = (side - n) / 2.0 + r * sin(th), px = (side - n) / 2.0 + r * cos(th);
        s->pos[2 * k] = (float)(o->subpixel ? py : floor(py + 0.5));
        s->pos[2 * k + 1] = (float)(o->subpixel ? px : floor(px + 0.5));
    }
    /* the spiral's neighbour spacing: area pi c^2 per point, hexagonal packing */
    s->overlap = 1 - c * sqrt(2 * M_PI / sqrt(3.0)) / probe_diameter(s->probe, n);
    float complex *w = xmalloc(sizeof(float complex) * nn), *f = xmalloc(sizeof(float complex) * nn);
    float complex *ps = xmalloc(sizeof(float complex) * nn);
    Rng rng;
    rng_seed(&rng, o->seed);
    for (int j = 0; j < o->N; j++) {
        double fy = floor(s->pos[2 * j] + 0.5), fx = floor(s->pos[2 * j + 1] + 0.5);
        int r0 = (int)fy, c0 = (int)fx;
        const float complex *P = s->probe;
        if (s->pos[2 * j] != fy || s->pos[2 * j + 1] != fx) /* the remainders (as the reader computes them) */
            pty_probe_shift(ps, s->probe, n, (double)(s->pos[2 * j] - (float)fy), (double)(s->pos[2 * j + 1] - (float)fx)), P = ps;
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) w[(size_t)y * n + x] = P[(size_t)y * n + x] * s->obj[(size_t)(r0 + y) * side + c0 + x];
        pty_fft2(f, w, n, -1);
        for (size_t k = 0; k < nn; k++) {
            double I0 = crealf(f[k] * conjf(f[k]));
            s->counts[nn * j + k] = (float)(o->noise ? poisson(&rng, I0) : I0);
        }
    }
    free(w), free(f), free(ps);
    return 0;
}

int pty_amp_from_counts(float *amp, const float *counts, const int *idx, int m, int n, const char *what, char *err,
                        size_t errlen) {
    const size_t nn = (size_t)n * n;
    for (int j = 0; j < m; j++)
        for (size_t k = 0; k < nn; k++) {
            float v = counts[nn * j + k];
            if (!isfinite(v) || v < 0) {
                snprintf(err, errlen, "%s: frames: frame %d pixel (%d, %d) is %g (counts must be finite and >= 0)",
                         what, idx[j], (int)(k / n), (int)(k % n), v);
                return -1;
            }
            if (amp) amp[nn * j + k] = sqrtf(v);
        }
    return 0;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* the frame farthest (in rows or columns) from the median position: the one that stretches the object */
static int outlier(const PtyScan *s) {
    float *v = xmalloc(sizeof(float) * s->N), med[2];
    for (int a = 0; a < 2; a++) {
        for (int j = 0; j < s->N; j++) v[j] = s->pos[2 * j + a];
        qsort(v, (size_t)s->N, sizeof(float), cmp_float);
        med[a] = v[s->N / 2];
    }
    free(v);
    int best = 0;
    double far = -1;
    for (int j = 0; j < s->N; j++) {
        double dy = fabs((double)s->pos[2 * j] - med[0]), dx = fabs((double)s->pos[2 * j + 1] - med[1]);
        if (fmax(dy, dx) > far) far = fmax(dy, dx), best = j;
    }
    return best;
}

int pty_data_from_scan(PtyData *d, const PtyScan *s, int pad, const char *what, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    const int n = s->n;
    const size_t nn = (size_t)n * n;
    for (int j = 0; s->counts && j < s->N; j++)
        if (pty_amp_from_counts(NULL, s->counts + nn * j, &j, 1, n, what, err, errlen)) return -1;
    double mn[2] = {INFINITY, INFINITY}, mx[2] = {-INFINITY, -INFINITY};
    for (int j = 0; j < s->N; j++)
        for (int a = 0; a < 2; a++) {
            double p = s->pos[2 * j + a];
            if (!isfinite(p)) {
                snprintf(err, errlen, "%s: positions: position %d is not finite", what, j);
                return -1;
            }
            mn[a] = fmin(mn[a], p), mx[a] = fmax(mx[a], p);
        }
    d->N = s->N, d->n = n;
    if (s->H > 0) { /* the truth's grid (its values may not have been read: pty_scan_read_meta) */
        d->H = s->H, d->W = s->W;
    } else {
        /* in double: a wild position (1e20, or a CXI translation of a metre) must not wrap an int */
        double ext[2];
        for (int a = 0; a < 2; a++) {
            d->shift[a] = pad - floor(mn[a] + 0.5);
            ext[a] = floor(mx[a] + 0.5) + d->shift[a] + n + pad;
        }
        if (ext[0] * ext[1] > PTY_MAX_OBJECT_PIXELS) {
            int j = outlier(s);
            snprintf(err, errlen, "%s: positions: the scan spans rows %g .. %g and columns %g .. %g (object pixels), an "
                     "object of %.10g x %.10g pixels with --pad %d, above the limit of %ld pixels (8192 x 8192; the "
                     "reconstruction holds several float copies of it); frame %d at (%g, %g) lies farthest from the "
                     "other positions: is it wrong?", what, mn[0] + 0.0, mx[0] + 0.0, mn[1] + 0.0, mx[1] + 0.0, ext[0], ext[1],
                     pad, (long)PTY_MAX_OBJECT_PIXELS, j, s->pos[2 * j] + 0.0, s->pos[2 * j + 1] + 0.0);
            return -1;
        }
        d->H = (int)ext[0], d->W = (int)ext[1];
    }
    d->pos = xmalloc(sizeof(int) * 2 * s->N);
    d->frac = xmalloc(sizeof(float) * 2 * s->N);
    for (int j = 0; j < s->N; j++)
        for (int a = 0; a < 2; a++) {
            double p = floor(s->pos[2 * j + a] + d->shift[a] + 0.5); /* compared before it becomes an int */
            int lim = (a ? d->W : d->H) - n;
            if (p < 0 || p > lim) {
                snprintf(err, errlen, "%s: positions: position %d (%g, %g) puts the %dx%d window outside the %dx%d object "
                         "(a window's min corner must lie in [0, %d] x [0, %d])", what, j, s->pos[2 * j], s->pos[2 * j + 1],
                         n, n, d->H, d->W, d->H - n, d->W - n);
                pty_data_free(d);
                return -1;
            }
            d->pos[2 * j + a] = (int)p;
            d->frac[2 * j + a] = (float)(s->pos[2 * j + a] + d->shift[a] - p);
        }
    if (s->counts) {
        d->amp = pty_alloc(sizeof(float) * nn * s->N, "the frames' amplitudes");
        for (size_t i = 0; i < nn * s->N; i++) d->amp[i] = sqrtf(s->counts[i]);
    }
    if (s->probe) {
        for (size_t k = 0; k < nn; k++)
            if (!isfinite(crealf(s->probe[k])) || !isfinite(cimagf(s->probe[k]))) {
                snprintf(err, errlen, "%s: probe_real/probe_imag: pixel (%d, %d) is not finite", what, (int)(k / n),
                         (int)(k % n));
                pty_data_free(d);
                return -1;
            }
        d->probe = xmalloc(sizeof(float complex) * nn);
        memcpy(d->probe, s->probe, sizeof(float complex) * nn);
    }
    if (s->obj) {
        d->obj_true = pty_alloc(sizeof(float complex) * (size_t)d->H * d->W, "the true object");
        memcpy(d->obj_true, s->obj, sizeof(float complex) * (size_t)d->H * d->W);
    }
    return 0;
}
