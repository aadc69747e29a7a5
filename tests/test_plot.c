/* Tests for src/eval/plot.c: PNGs are written to a mkdtemp directory, read back with libpng
 * and probed at pixels whose colour the layout in plot.h determines. One example of each
 * plot is also copied to /tmp/plot_examples/ for looking at. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval/canvas.h"
#include "eval/plot.h"
#include "util_test.h"

static void copy_example(const char *src, const char *name) {
    mkdir("/tmp/plot_examples", 0755);
    char dst[256];
    snprintf(dst, sizeof dst, "/tmp/plot_examples/%s", name);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    if (in && out) {
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, in)) > 0) fwrite(buf, 1, k, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
}

/* ---- reading PNGs back ---- */

typedef struct Img {
    int w, h;
    unsigned char *px;   /* [h][w][3] */
} Img;

static Img read_png(const char *path) {
    Img im = {0, 0, NULL};
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng failed reading %s", path);
    png_init_io(png, f);
    png_read_info(png, info);
    assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    assert_int_equal(png_get_bit_depth(png, info), 8);
    im.w = (int)png_get_image_width(png, info), im.h = (int)png_get_image_height(png, info);
    im.px = malloc((size_t)im.w * im.h * 3);
    assert_non_null(im.px);
    for (int y = 0; y < im.h; y++) png_read_row(png, im.px + (size_t)y * im.w * 3, NULL);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return im;
}

static const unsigned char *px(const Img *im, int x, int y) {
    if (x < 0 || y < 0 || x >= im->w || y >= im->h) fail_msg("pixel (%d,%d) outside %dx%d", x, y, im->w, im->h);
    return im->px + ((size_t)y * im->w + x) * 3;
}

static void assert_rgb(const Img *im, int x, int y, const unsigned char want[3], int tol, const char *what) {
    const unsigned char *p = px(im, x, y);
    for (int k = 0; k < 3; k++)
        if (abs(p[k] - want[k]) > tol)
            fail_msg("%s: pixel (%d,%d) is (%d,%d,%d), expected (%d,%d,%d)", what, x, y, p[0], p[1], p[2], want[0],
                     want[1], want[2]);
}

/* Pixels in [x0,x1) x [y0,y1) that are dark (text, axes) or of colour rgb (tol 0). */
static int count_dark(const Img *im, int x0, int y0, int x1, int y1) {
    int n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const unsigned char *p = px(im, x, y);
            n += p[0] < 80 && p[1] < 80 && p[2] < 80;
        }
    return n;
}
static int count_rgb(const Img *im, int x0, int y0, int x1, int y1, const unsigned char rgb[3], double *mean_y) {
    int n = 0;
    double sy = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++)
            if (!memcmp(px(im, x, y), rgb, 3)) n++, sy += y;
    if (mean_y) *mean_y = n ? sy / n : NAN;
    return n;
}

/* ---- a synthetic 33x36 field: 60N..20N (descending), 130W..60W; the value grows to the
 * north; the north-west corner (rows 0..5, cols 0..5) is masked and one cell is NaN ---- */

enum { H = 33, W = 36 };
static double g_lat[H], g_lon[W], g_lat_up[H];
static float g_truth[H * W], g_fc[H * W], g_errf[H * W], g_truth_up[H * W];
static unsigned char g_valid[H * W], g_valid_up[H * W];

static void make_field(void) {
    for (int r = 0; r < H; r++) g_lat[r] = 60 - 1.25 * r, g_lat_up[r] = 20 + 1.25 * r;
    for (int q = 0; q < W; q++) g_lon[q] = -130 + 2 * q;
    for (int r = 0; r < H; r++)
        for (int q = 0; q < W; q++) {
            int i = r * W + q;
            g_truth[i] = (float)(250 + g_lat[r] + 5 * sin(q * 0.3));
            g_fc[i] = g_truth[i] + (float)(3 * sin(r * 0.7 + q * 0.4));
            g_errf[i] = g_fc[i] - g_truth[i] + 1;   /* biased: -2..4, drawn as -4..4 */
            g_valid[i] = !(r < 6 && q < 6);
        }
    g_errf[30 * W + 30] = 0;   /* must be white */
    g_fc[20 * W + 20] = NAN;
    g_fc[20 * W + 22] = INFINITY;   /* non-finite is treated as invalid too */
    /* The same field stored south-to-north. */
    for (int r = 0; r < H; r++)
        for (int q = 0; q < W; q++)
            g_truth_up[(H - 1 - r) * W + q] = g_truth[r * W + q], g_valid_up[(H - 1 - r) * W + q] = g_valid[r * W + q];
}

static void make_panels(PlotPanel p[3]) {
    make_field();
    PlotPanel base = {NULL, NULL, g_valid, H, W, g_lat, g_lon, 0, 0, 0, "K"};
    p[0] = base, p[0].title = "truth", p[0].values = g_truth;
    p[1] = base, p[1].title = "forecast", p[1].values = g_fc;
    p[1].vmin = 260, p[1].vmax = 320;   /* explicit range: the NaN cell must still be grey */
    p[2] = base, p[2].title = "error", p[2].values = g_errf, p[2].diverging = 1;
}

static void test_fields_png(void **state) {
    (void)state;
    PlotPanel p[3];
    make_panels(p);
    char path[256], err[512] = "";
    tu_path(path, sizeof path, "t2m.png");
    if (plot_fields_png(path, p, 3, "2m temperature, lead 6 h", err, sizeof err)) fail_msg("%s", err);
    copy_example(path, "fields.png");
    PlotLayout lay;
    assert_int_equal(plot_fields_layout(p, 3, &lay, err, sizeof err), 0);
    Img im = read_png(path);

    /* Size as documented in plot.h: cell = max(4, ceil(256/36)) = 8, maps 288x264. */
    int cell = 8, mw = W * cell, mh = H * cell;
    assert_int_equal(lay.panel[0].cell, cell);
    assert_int_equal(lay.panel[0].w, mw);
    assert_int_equal(lay.panel[0].h, mh);
    assert_int_equal(im.w, 20 + 3 * (48 + mw + 24));
    assert_int_equal(im.h, 30 + 22 + mh + 20 + 12 + 32);
    assert_int_equal(im.w, lay.width);
    assert_int_equal(im.h, lay.height);

    const PlotPanelLayout *L0 = &lay.panel[0], *L1 = &lay.panel[1], *L2 = &lay.panel[2];
    /* Masked corner (data row 2, col 2 -> north-west, top-left on screen) is grey, in all
     * panels; the NaN forecast cell too, though the panel has an explicit range. */
    for (int k = 0; k < 3; k++)
        assert_rgb(&im, lay.panel[k].x + 2 * cell + 3, lay.panel[k].y + 2 * cell + 3, PLOT_GREY, 0, "masked cell");
    assert_rgb(&im, L1->x + 20 * cell + 4, L1->y + 20 * cell + 4, PLOT_GREY, 0, "NaN cell");
    assert_rgb(&im, L1->x + 22 * cell + 4, L1->y + 20 * cell + 4, PLOT_GREY, 0, "Inf cell");
    /* A valid neighbour is not grey (the mask is not the whole map). */
    const unsigned char *nb = px(&im, L1->x + 21 * cell + 4, L1->y + 20 * cell + 4);
    assert_false(!memcmp(nb, PLOT_GREY, 3));

    /* Colour bar ends: the colormap's two ends (viridis for truth, blue/red for the error). */
    unsigned char c0[3], c1[3], d0[3], d1[3];
    plot_colormap(0, 0, c0), plot_colormap(1, 0, c1), plot_colormap(0, 1, d0), plot_colormap(1, 1, d1);
    assert_rgb(&im, L0->bar_x, L0->bar_y + 6, c0, 0, "sequential bar left");
    assert_rgb(&im, L0->bar_x + L0->bar_w - 1, L0->bar_y + 6, c1, 0, "sequential bar right");
    assert_rgb(&im, L2->bar_x, L2->bar_y + 6, d0, 0, "diverging bar left");
    assert_rgb(&im, L2->bar_x + L2->bar_w - 1, L2->bar_y + 6, d1, 0, "diverging bar right");
    static const unsigned char viridis_end[3] = {253, 231, 37}, blue[3] = {33, 102, 172};
    assert_rgb(&im, L0->bar_x + L0->bar_w - 1, L0->bar_y + 6, viridis_end, 0, "viridis yellow end");
    assert_rgb(&im, L2->bar_x, L2->bar_y + 6, blue, 0, "diverging blue end");
    /* Diverging range is symmetric so that white is 0. */
    assert_true(L2->vmin == -L2->vmax && L2->vmax > 3.5f);
    static const unsigned char white[3] = {247, 247, 247};
    assert_rgb(&im, L2->x + 30 * cell + 4, L2->y + 30 * cell + 4, white, 0, "zero error");
    /* min / mid / max labels under each bar. */
    for (int k = 0; k < 3; k++) {
        const PlotPanelLayout *L = &lay.panel[k];
        int ly = L->bar_y + L->bar_h + 2;
        assert_true(count_dark(&im, L->bar_x, ly, L->bar_x + 20, ly + 10) > 8);
        assert_true(count_dark(&im, L->bar_x + L->bar_w / 2 - 10, ly, L->bar_x + L->bar_w / 2 + 10, ly + 10) > 8);
        assert_true(count_dark(&im, L->bar_x + L->bar_w - 20, ly, L->bar_x + L->bar_w, ly + 10) > 8);
    }

    /* North up: the truth grows northwards, so the top of the map (away from the masked
     * corner) is yellow-ish (red channel high), the bottom dark purple. */
    const unsigned char *top = px(&im, L0->x + 30 * cell, L0->y + 2), *bot = px(&im, L0->x + 30 * cell, L0->y + mh - 3);
    if (!(top[0] > 150 && bot[0] < 100))
        fail_msg("not north-up: top (%d,%d,%d) bottom (%d,%d,%d)", top[0], top[1], top[2], bot[0], bot[1], bot[2]);

    /* Text: the overall title band and the panel-title band have dark pixels; lat labels too. */
    assert_true(count_dark(&im, 0, 0, im.w, 30) > 100);
    assert_true(count_dark(&im, L0->x, 30, L0->x + L0->w, 52) > 40);
    assert_true(count_dark(&im, 10, L0->y + 4, L0->x - 6, L0->y + L0->h) > 40);
    free(im.px);

    /* Without titles the title band is empty: the text check above can fail. */
    p[0].title = p[1].title = p[2].title = NULL;
    if (plot_fields_png(path, p, 3, NULL, err, sizeof err)) fail_msg("%s", err);
    im = read_png(path);
    assert_int_equal(count_dark(&im, 0, 0, im.w, 50), 0);
    free(im.px);
    assert_int_equal(tu_count_temporaries(), 0);
}

/* The same field stored south-to-north draws the identical map. */
static void test_fields_lat_ascending(void **state) {
    (void)state;
    make_field();
    PlotPanel dn = {"t", g_truth, g_valid, H, W, g_lat, g_lon, 0, 0, 0, "K"};
    PlotPanel up = {"t", g_truth_up, g_valid_up, H, W, g_lat_up, g_lon, 0, 0, 0, "K"};
    char a[256], b[256], err[512];
    tu_path(a, sizeof a, "down.png");
    tu_path(b, sizeof b, "up.png");
    if (plot_fields_png(a, &dn, 1, "x", err, sizeof err)) fail_msg("%s", err);
    if (plot_fields_png(b, &up, 1, "x", err, sizeof err)) fail_msg("%s", err);
    Img ia = read_png(a), ib = read_png(b);
    assert_int_equal(ia.w, ib.w);
    assert_int_equal(ia.h, ib.h);
    assert_memory_equal(ia.px, ib.px, (size_t)ia.w * ia.h * 3);
    PlotLayout lay;
    assert_int_equal(plot_fields_layout(&up, 1, &lay, err, sizeof err), 0);
    assert_int_equal(lay.panel[0].flip_rows, 1);
    /* Top-right cell is the northernmost, i.e. the colour of the maximum. */
    const unsigned char *top = px(&ib, lay.panel[0].x + lay.panel[0].w - 20, lay.panel[0].y + 2);
    assert_true(top[0] > 150);
    free(ia.px), free(ib.px);
}

static void test_loss_png(void **state) {
    (void)state;
    enum { N = 1000, NV = 10 };
    static double st[N], lo[N], vs[NV], vl[NV];
    for (int i = 0; i < N; i++) st[i] = i + 1, lo[i] = 2.0 * exp(-i / 200.0) + 0.02 + 0.01 * sin(i * 0.9);
    lo[500] = NAN;   /* a gap */
    lo[600] = 0;     /* clamped to the smallest positive loss */
    for (int j = 0; j < NV; j++) vs[j] = 100 * (j + 1), vl[j] = 2.2 * exp(-vs[j] / 220.0) + 0.03;
    char path[256], err[512];
    tu_path(path, sizeof path, "loss.png");
    if (plot_loss_png(path, st, lo, N, vs, vl, NV, "training loss", err, sizeof err)) fail_msg("%s", err);
    copy_example(path, "loss.png");
    Img im = read_png(path);
    assert_int_equal(im.w, PLOT_LOSS_W);
    assert_int_equal(im.h, PLOT_LOSS_H);
    /* Both curves are there, inside the frame. */
    double ytr_left, ytr_right;
    int mid = (PLOT_LOSS_X0 + PLOT_LOSS_X1) / 2;
    int nl = count_rgb(&im, PLOT_LOSS_X0, PLOT_LOSS_Y0, mid, PLOT_LOSS_Y1, PLOT_TRAIN_RGB, &ytr_left);
    int nr = count_rgb(&im, mid, PLOT_LOSS_Y0 + 60, PLOT_LOSS_X1, PLOT_LOSS_Y1, PLOT_TRAIN_RGB, &ytr_right);
    assert_true(nl > 300 && nr > 300);
    assert_true(ytr_left < ytr_right);   /* decreasing loss: higher on screen at the start */
    assert_true(count_rgb(&im, PLOT_LOSS_X0, PLOT_LOSS_Y0 + 60, PLOT_LOSS_X1, PLOT_LOSS_Y1, PLOT_VAL_RGB, NULL) > 200);
    /* The zero loss at step 601 is clamped to the smallest positive loss: a spike down to
     * near the bottom of the curve, where its neighbours are well above it. */
    int col = (int)lround(PLOT_LOSS_X0 + 600.0 / 999 * (PLOT_LOSS_X1 - PLOT_LOSS_X0));
    int low_spike = 0, low_near = 0;
    for (int y = PLOT_LOSS_Y0; y <= PLOT_LOSS_Y1; y++) {
        for (int dx = -1; dx <= 1; dx++)
            if (!memcmp(px(&im, col + dx, y), PLOT_TRAIN_RGB, 3)) low_spike = y;
        if (!memcmp(px(&im, col - 8, y), PLOT_TRAIN_RGB, 3) || !memcmp(px(&im, col + 8, y), PLOT_TRAIN_RGB, 3))
            low_near = y;
    }
    if (!(low_spike > low_near + 20)) fail_msg("no clamped spike: %d vs %d", low_spike, low_near);
    /* No curve pixels leak outside the frame (legend sample excepted: it is inside). */
    assert_int_equal(count_rgb(&im, 0, PLOT_LOSS_Y1 + 1, im.w, im.h, PLOT_TRAIN_RGB, NULL), 0);
    /* Title and axis labels. */
    assert_true(count_dark(&im, 0, 0, im.w, PLOT_LOSS_Y0 - 14) > 100);
    assert_true(count_dark(&im, 0, PLOT_LOSS_Y0 + 10, PLOT_LOSS_X0 - 6, PLOT_LOSS_Y1) > 50);
    assert_true(count_dark(&im, PLOT_LOSS_X0, PLOT_LOSS_Y1 + 6, PLOT_LOSS_X1, im.h) > 100);
    free(im.px);

    /* Train only, no title: no validation colour anywhere, empty title band. */
    if (plot_loss_png(path, st, lo, N, NULL, NULL, 0, NULL, err, sizeof err)) fail_msg("%s", err);
    im = read_png(path);
    assert_int_equal(count_rgb(&im, 0, 0, im.w, im.h, PLOT_VAL_RGB, NULL), 0);
    assert_int_equal(count_dark(&im, 0, 0, im.w, PLOT_LOSS_Y0 - 14), 0);
    free(im.px);

    /* Nothing positive to plot on a log axis. */
    double z[3] = {0, -1, NAN};
    assert_int_equal(plot_loss_png(path, st, z, 3, NULL, NULL, 0, "x", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, "positive");
}

static void write_text(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(s, f);
    assert_int_equal(fclose(f), 0);
}

static void test_jsonl(void **state) {
    (void)state;
    char mp[256], png[256], err[512];
    tu_path(mp, sizeof mp, "metrics.jsonl");
    tu_path(png, sizeof png, "from_jsonl.png");
    write_text(mp, "{\"step\":1,\"loss\":2.5,\"lr\":0.001}\n"
                   "{\"step\":2,\"loss\":1.5,\"lr\":0.001}\n"
                   "\n"
                   "{\"step\":3,\"loss\":0.9,\"val_loss\":1.1}\n"
                   "{\"step\":4,\"loss\":null}\n"
                   "{\"step\":5,\"loss\":0.5,\"val_loss\":0.7}\n");
    if (plot_loss_from_jsonl(mp, png, err, sizeof err)) fail_msg("%s", err);
    Img im = read_png(png);
    assert_int_equal(im.w, PLOT_LOSS_W);
    assert_true(count_rgb(&im, PLOT_LOSS_X0, PLOT_LOSS_Y0 + 60, PLOT_LOSS_X1, PLOT_LOSS_Y1, PLOT_VAL_RGB, NULL) > 50);
    free(im.px);

    /* Malformed JSON on line 3 (counting the blank line 2): named with the file. */
    remove(png);
    write_text(mp, "{\"step\":1,\"loss\":2.5}\n\n{\"step\":2,\"loss\":1.5,}\n{\"step\":3,\"loss\":1}\n");
    assert_int_equal(plot_loss_from_jsonl(mp, png, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, mp);
    TU_ASSERT_CONTAINS(err, "line 3,");
    assert_int_equal(access(png, F_OK), -1);
    /* Valid JSON of the wrong shape on line 2. */
    write_text(mp, "{\"step\":1,\"loss\":2.5}\n{\"loss\":\"high\"}\n");
    assert_int_equal(plot_loss_from_jsonl(mp, png, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "line 2:");
    write_text(mp, "[1,2]\n");
    assert_int_equal(plot_loss_from_jsonl(mp, png, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "line 1:");
    /* Missing file. */
    tu_path(mp, sizeof mp, "nope.jsonl");
    assert_int_equal(plot_loss_from_jsonl(mp, png, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, mp);
}

static void test_write_errors(void **state) {
    (void)state;
    PlotPanel p[3];
    make_panels(p);
    double st[2] = {1, 2}, lo[2] = {1, 0.5};
    char path[256], err[512];
    /* A directory that does not exist. */
    tu_path(path, sizeof path, "no/such/dir/map.png");
    strcpy(err, "");
    assert_int_equal(plot_fields_png(path, p, 3, "t", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    strcpy(err, "");
    assert_int_equal(plot_loss_png(path, st, lo, 2, NULL, NULL, 0, "t", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    /* The temporary can be written but the rename cannot (path is a non-empty directory):
     * the temporary must be removed again. */
    tu_path(path, sizeof path, "adir");
    assert_int_equal(mkdir(path, 0755), 0);
    char inner[300];
    snprintf(inner, sizeof inner, "%s/keep", path);
    write_text(inner, "x");
    assert_int_equal(plot_fields_png(path, p, 3, "t", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    assert_int_equal(tu_count_temporaries(), 0);
    assert_int_equal(plot_loss_png(path, st, lo, 2, st, lo, 2, "t", err, sizeof err), -1);
    assert_int_equal(tu_count_temporaries(), 0);
    /* Bad arguments. */
    assert_int_equal(plot_fields_png(path, p, 0, "t", err, sizeof err), -1);
    p[1].H = 0;
    assert_int_equal(plot_fields_png(path, p, 3, "t", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "panel 1");
}

static void test_colormap_and_font(void **state) {
    (void)state;
    unsigned char a[3], b[3];
    plot_colormap(0.5, 1, a);
    assert_int_equal(a[0], 247), assert_int_equal(a[1], 247), assert_int_equal(a[2], 247);
    plot_colormap(-3, 0, a), plot_colormap(0, 0, b);
    assert_memory_equal(a, b, 3);   /* clamped */
    plot_colormap(NAN, 0, a);
    assert_memory_equal(a, PLOT_GREY, 3);
    /* Sequential map gets lighter monotonically (perceptual: luminance increases). */
    double prev = -1;
    for (int i = 0; i <= 100; i++) {
        plot_colormap(i / 100.0, 0, a);
        double lum = 0.2126 * a[0] + 0.7152 * a[1] + 0.0722 * a[2];
        assert_true(lum >= prev - 0.5);
        prev = lum;
    }
    /* Every printable glyph but space has ink; space has none. */
    for (int ch = 33; ch <= 126; ch++) {
        int ink = 0;
        for (int k = 0; k < 5; k++) ink |= plot_font5x7[ch - 32][k];
        if (!ink) fail_msg("glyph '%c' is empty", ch);
        assert_int_equal(ink & 0x80, 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_png),  cmocka_unit_test(test_fields_lat_ascending),
        cmocka_unit_test(test_loss_png),    cmocka_unit_test(test_jsonl),
        cmocka_unit_test(test_write_errors), cmocka_unit_test(test_colormap_and_font),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
