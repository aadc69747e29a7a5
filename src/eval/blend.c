/* The damped-persistence baseline (eval/blend.h). */
#include "eval/blend.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Latitude-weighted sums over the (t, t + lead) pairs in [t0, t1) of the anomalies' products,
 * per variable: m[v*4 + 0..3] = sum w xa ya, sum w xa^2, sum w ya^2, sum w, in a fixed order (the
 * same a on every machine and thread count). */
static int blend_sums(const Dataset *ds, int t0, int t1, float lead_h, const double *w, double *m, char *err, size_t errlen) {
    if (!ds->clim) {
        snprintf(err, errlen, "%s has no climatology (convert it with lvit convert)", ds->source);
        return -1;
    }
    Sampler s;
    if (sampler_init(&s, ds, t0, t1, &lead_h, 1, 0, 0, err, errlen)) return -1;
    const int64_t plane = (int64_t)ds->H * ds->W;
    for (int v = 0; v < ds->V; v++) {
        double xy = 0, xx = 0, yy = 0, ws = 0;
        for (int64_t k = 0; k < s.n; k++) {
            int t, t2;
            float lead;
            sampler_decode(&s, s.idx[k], &t, &t2, &lead);
            const float *x = ds->data + ((int64_t)t * ds->V + v) * plane, *y = ds->data + ((int64_t)t2 * ds->V + v) * plane;
            const uint8_t *vx = ds->valid ? ds->valid + ((int64_t)t * ds->V + v) * plane : NULL,
                          *vy = ds->valid ? ds->valid + ((int64_t)t2 * ds->V + v) * plane : NULL;
            const float *c = ds->clim + (int64_t)v * plane;
            for (int r = 0; r < ds->H; r++) {
                const double wr = w ? w[r] : 1.0;
                double rxy = 0, rxx = 0, ryy = 0, rn = 0;
                for (int j = 0; j < ds->W; j++) {
                    const int64_t i = (int64_t)r * ds->W + j;
                    if ((vx && !vx[i]) || (vy && !vy[i]) || !isfinite(c[i])) continue;
                    const double xa = (double)x[i] - c[i], ya = (double)y[i] - c[i];
                    rxy += xa * ya;
                    rxx += xa * xa;
                    ryy += ya * ya;
                    rn += 1;
                }
                xy += wr * rxy;
                xx += wr * rxx;
                yy += wr * ryy;
                ws += wr * rn;
            }
        }
        m[v * 4 + 0] = xy, m[v * 4 + 1] = xx, m[v * 4 + 2] = yy, m[v * 4 + 3] = ws;
    }
    sampler_free(&s);
    return 0;
}

int blend_fit_rms(const Dataset *ds, int t0, int t1, float lead_h, const double *w, double *a, double *rms, char *err,
                  size_t errlen) {
    double *m = malloc(sizeof(double) * 4 * (size_t)ds->V);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = blend_sums(ds, t0, t1, lead_h, w, m, err, errlen);
    for (int v = 0; !rc && v < ds->V; v++) {
        const double xy = m[v * 4], xx = m[v * 4 + 1], yy = m[v * 4 + 2], ws = m[v * 4 + 3];
        const double q = xx > 0 ? xy / xx : 1.0, av = q < 0 ? 0 : q > 1 ? 1 : q;
        a[v] = av;
        if (rms) { /* sum w (ya - a xa)^2 / sum w, expanded */
            const double e = yy - 2 * av * xy + av * av * xx;
            rms[v] = ws > 0 && e > 0 ? sqrt(e / ws) : 0.0;
        }
    }
    free(m);
    return rc;
}

int blend_fit(const Dataset *ds, int t0, int t1, float lead_h, const double *w, double *a, char *err, size_t errlen) {
    return blend_fit_rms(ds, t0, t1, lead_h, w, a, NULL, err, errlen);
}

void blend_apply(float *f, const float *x, const float *c, double a, int64_t n) {
    for (int64_t i = 0; i < n; i++) f[i] = isfinite(c[i]) ? (float)(c[i] + a * ((double)x[i] - c[i])) : x[i];
}
