/* Amplitude and phase of a complex image side by side in one PNG, one image pixel per screen
 * pixel (grey for amplitude up to its 99.5th percentile, blue-white-red for phase), drawn with
 * the plots' canvas. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "core/check.h"
#include "eval/canvas.h"
#include "eval/plot.h"
#include "ptycho/ptycho.h"

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int pty_complex_png(const char *path, const float complex *z, int H, int W, const char *title, char *err, size_t errlen) {
    enum { M = 10, TOP = 52, GAP = 20, BOTTOM = 24 };
    Canvas c;
    if (canvas_init(&c, 2 * W + GAP + 2 * M, H + TOP + BOTTOM, err, errlen)) return -1;
    /* grey range 0 .. the 99.5th percentile of the amplitude: the barely lit edge of a
     * reconstruction holds a few huge values that would otherwise turn the object black */
    size_t m = (size_t)H * W, k = m - 1 - m / 200;
    float *amp = xmalloc(sizeof(float) * m);
    for (size_t i = 0; i < m; i++) amp[i] = cabsf(z[i]);
    qsort(amp, m, sizeof(float), cmp_float);
    float amax = amp[k];
    free(amp);
    const unsigned char black[3] = {0, 0, 0};
    canvas_title_text(&c, c.w / 2, 8, title, c.w, black);
    canvas_text(&c, M + W / 2, TOP - 14, "amplitude", 1, 0, black);
    canvas_text(&c, M + W + GAP + W / 2, TOP - 14, "phase (-pi..pi)", 1, 0, black);
    char lab[64];
    snprintf(lab, sizeof lab, "0 .. %.3g", amax);
    canvas_text(&c, M + W / 2, TOP + H + 6, lab, 1, 0, black);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float complex v = z[(size_t)y * W + x];
            unsigned char g = (unsigned char)(amax > 0 ? fminf(255.0f, 255.0f * cabsf(v) / amax) : 0), rgb[3];
            unsigned char *p = c.px + ((size_t)(TOP + y) * c.w + M + x) * 3;
            p[0] = p[1] = p[2] = g;
            plot_colormap(0.5 + cargf(v) / (2 * M_PI), 1, rgb);
            p = c.px + ((size_t)(TOP + y) * c.w + M + W + GAP + x) * 3;
            p[0] = rgb[0], p[1] = rgb[1], p[2] = rgb[2];
        }
    int rc = canvas_write_png(path, &c, err, errlen);
    canvas_free(&c);
    return rc;
}
