/* Amplitude and phase of a complex image side by side in one PNG, one image pixel per screen
 * pixel (grey for amplitude, 0 .. min(max, twice the mean), blue-white-red for phase), drawn with the plots' canvas. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include "eval/canvas.h"
#include "eval/plot.h"
#include "ptycho/ptycho.h"

int pty_complex_png(const char *path, const float complex *z, int H, int W, const char *title, char *err, size_t errlen) {
    enum { M = 10, TOP = 52, GAP = 20, BOTTOM = 24 };
    Canvas c;
    if (canvas_init(&c, 2 * W + GAP + 2 * M, H + TOP + BOTTOM, err, errlen)) return -1;
    /* grey range 0 .. 2 x the mean amplitude: the barely lit edge of a reconstruction holds a few
     * huge values that would otherwise turn the whole object black */
    double mean = 0, mx = 0;
    for (size_t i = 0; i < (size_t)H * W; i++) mean += cabsf(z[i]), mx = fmax(mx, cabsf(z[i]));
    float amax = (float)fmin(mx, 2 * mean / ((double)H * W));
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
