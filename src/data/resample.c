/* Area-average coarsening and bilinear / bicubic upsampling (data/resample.h). */
#include "data/resample.h"
#include <math.h>
#include <stdlib.h>
#include "core/check.h"

void resample_coarsen(float *coarse, uint8_t *coarse_valid, const float *fine, const uint8_t *valid, int H, int W,
                      int s, const double *lat_deg) {
    CHECK(s >= 1 && H % s == 0 && W % s == 0, "coarsen: %dx%d grid by %d", H, W, s);
    const int Hc = H / s, Wc = W / s;
    for (int ic = 0; ic < Hc; ic++)
        for (int jc = 0; jc < Wc; jc++) {
            double sum = 0, wsum = 0;
            for (int i = ic * s; i < (ic + 1) * s; i++) {
                const double wr = lat_deg ? cos((float)lat_deg[i] * M_PI / 180.0) : 1.0;
                for (int j = jc * s; j < (jc + 1) * s; j++) {
                    const int64_t k = (int64_t)i * W + j;
                    if (valid && !valid[k]) continue;
                    sum += wr * fine[k];
                    wsum += wr;
                }
            }
            const int64_t o = (int64_t)ic * Wc + jc;
            coarse[o] = wsum > 0 ? (float)(sum / wsum) : NAN;
            if (coarse_valid) coarse_valid[o] = wsum > 0;
        }
}

/* Keys' cubic convolution weights for the 4 taps at offsets -1, 0, 1, 2 of fraction t, a = -0.75 */
static void cubic_weights(double t, double w[4]) {
    const double a = -0.75;
    double x;
    x = t + 1, w[0] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    x = t, w[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = 1 - t, w[2] = ((a + 2) * x - (a + 3)) * x * x + 1;
    x = 2 - t, w[3] = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
}

static int clampi(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }
static int wrapi(int i, int n) { return ((i % n) + n) % n; }

/* the taps (indices) and weights of output index o along an axis of n coarse samples */
static int taps(int o, int s, int n, ResampleKind kind, int periodic, int idx[4], double w[4]) {
    double src = (o + 0.5) / s - 0.5;
    if (kind == RS_BILINEAR) {
        if (!periodic && src < 0) src = 0; /* PyTorch clamps the source index (linear modes only) */
        const int i0 = (int)floor(src);
        const double t = src - i0;
        idx[0] = periodic ? wrapi(i0, n) : clampi(i0, n);
        idx[1] = periodic ? wrapi(i0 + 1, n) : clampi(i0 + 1, n);
        w[0] = 1 - t, w[1] = t;
        return 2;
    }
    const int i0 = (int)floor(src);
    cubic_weights(src - i0, w);
    for (int k = 0; k < 4; k++) idx[k] = periodic ? wrapi(i0 - 1 + k, n) : clampi(i0 - 1 + k, n);
    return 4;
}

void resample_upsample(float *fine, const float *coarse, int Hc, int Wc, int s, ResampleKind kind, int periodic_x) {
    CHECK(s >= 1 && Hc >= 1 && Wc >= 1, "upsample: %dx%d grid by %d", Hc, Wc, s);
    const int H = Hc * s, W = Wc * s;
    int *cx = xmalloc(sizeof(int) * 4 * (size_t)W);
    double *wx = xmalloc(sizeof(double) * 4 * (size_t)W);
    int nx = 0;
    for (int j = 0; j < W; j++) nx = taps(j, s, Wc, kind, periodic_x, cx + 4 * j, wx + 4 * j);
    for (int i = 0; i < H; i++) {
        int ry[4];
        double wy[4];
        const int ny = taps(i, s, Hc, kind, 0, ry, wy);
        for (int j = 0; j < W; j++) {
            double v = 0;
            for (int a = 0; a < ny; a++) {
                const float *row = coarse + (int64_t)ry[a] * Wc;
                double r = 0;
                for (int b = 0; b < nx; b++) r += wx[4 * j + b] * row[cx[4 * j + b]];
                v += wy[a] * r;
            }
            fine[(int64_t)i * W + j] = (float)v;
        }
    }
    free(cx);
    free(wx);
}
