/* Fourier ring correlation between two reconstructions of the same object (from two halves of
 * the frames): the resolution at which they stop agreeing. */
#include <complex.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "ptycho/ptycho.h"

int pty_frc(double *frc, int maxring, const float complex *a, const float complex *b, const unsigned char *mask,
            int H, int W) {
    /* the two halves differ by the same scale and ramp ambiguity as a reconstruction and the
     * truth: map a onto b first */
    double complex s;
    double g[2];
    pty_nrmse(a, b, mask, H, W, 1, &s, g);
    int y0 = H, y1 = -1, x0 = W, x1 = -1;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            if (mask[(size_t)y * W + x]) y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1, x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
    if (y1 < 0) return 0;
    /* the largest square centred in the lit box, tapered by a Hann window so that its edges add
     * no spurious high frequencies */
    int S = (y1 - y0 + 1) < (x1 - x0 + 1) ? (y1 - y0 + 1) : (x1 - x0 + 1);
    int cy = y0 + (y1 - y0 + 1 - S) / 2, cx = x0 + (x1 - x0 + 1 - S) / 2;
    size_t SS = (size_t)S * S;
    float complex *ua = xmalloc(sizeof(float complex) * SS), *ub = xmalloc(sizeof(float complex) * SS);
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            double w = sin(M_PI * (y + 0.5) / S) * sin(M_PI * (x + 0.5) / S);
            w *= w;
            size_t i = (size_t)(cy + y) * W + cx + x;
            ua[(size_t)y * S + x] = (float complex)(w * s * a[i] * cexp(I * (g[0] * (cy + y) + g[1] * (cx + x))));
            ub[(size_t)y * S + x] = (float complex)(w * b[i]);
        }
    pty_fft2(ua, ua, S, -1);
    pty_fft2(ub, ub, S, -1);
    int R = S / 2 < maxring ? S / 2 : maxring;
    double *num = xcalloc((size_t)R + 1, sizeof(double)), *pa = xcalloc((size_t)R + 1, sizeof(double)),
           *pb = xcalloc((size_t)R + 1, sizeof(double));
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int ky = y < (S + 1) / 2 ? y : y - S, kx = x < (S + 1) / 2 ? x : x - S;
            int r = (int)floor(sqrt((double)ky * ky + (double)kx * kx) + 0.5);
            if (r > R) continue;
            float complex fa = ua[(size_t)y * S + x], fb = ub[(size_t)y * S + x];
            num[r] += crealf(fa * conjf(fb));
            pa[r] += crealf(fa * conjf(fa)), pb[r] += crealf(fb * conjf(fb));
        }
    for (int r = 0; r <= R; r++) frc[r] = pa[r] > 0 && pb[r] > 0 ? num[r] / sqrt(pa[r] * pb[r]) : 0;
    free(ua), free(ub), free(num), free(pa), free(pb);
    return S;
}
