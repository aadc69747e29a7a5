/* The C API on image models (include/lvit.h, task "classify" and "segment"): lvit_classify of the
 * window around a pixel gives the class `lvit predict` maps there, and lvit_segment of a tile the
 * classes of a one-tile scene's map; the task, classes and window are reported; wrong tasks and sizes
 * are refused. Trains small models on Salinas-A (../shared/data/salinasA_aviris) with the lvit
 * binary (20 of the 204 bands, for time); skipped when that data is absent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/dataset_file.h"
#include "imagery/class_raster.h"
#include "imagery/imagery.h"
#include "lvit.h"
#include "util_test.h"

static char g_cls[4096], g_seg[4096], g_mae[4096], g_data[4096];

static int setup(void **state) {
    if (tu_tmpdir_setup(state)) return -1;
    char sal[4200];
    snprintf(sal, sizeof sal, "%s/salinasA_aviris/SalinasA.mat", LVIT_SHARED_DATA);
    if (access(sal, R_OK)) return 0; /* the tests skip */
    tu_path(g_data, sizeof g_data, "sal.lvd");
    tu_path(g_cls, sizeof g_cls, "cls");
    tu_path(g_seg, sizeof g_seg, "seg");
    tu_path(g_mae, sizeof g_mae, "mae");
    /* the one-tile segmentation's split: columns 0-39 train, 46-85 test (a mask raster) */
    int32_t *mk = calloc(83 * 86, sizeof *mk);
    for (int r = 0; r < 83; r++)
        for (int c = 0; c < 86; c++) mk[r * 86 + c] = c < 40 ? 1 : c >= 46 ? 2 : 0;
    char mask[4200], err[1024];
    snprintf(mask, sizeof mask, "%s/mask.tif", tu_tmpdir());
    if (write_class_raster(mask, mk, 83, 86, NULL, NULL, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    free(mk);
    static char cmd[16384];
    const char *tiny = "--dim 32 --depth 1 --heads 2 --decoder-depth 1 --threads 2 --batch 8 --lr 0.003";
    const int len = snprintf(cmd, sizeof cmd,
             "%s convert -o %s %s --labels %s/salinasA_aviris/SalinasA_gt.mat --drop-bands 21-224 > %s/log 2>&1"
             " && %s train --task classify --data %s --run %s --patch 3 --window 9 --steps 300 %s >> %s/log 2>&1"
             " && %s train --task segment --data %s --run %s --patch 4 --window 88 --steps 3 --split-mask %s %s >> %s/log 2>&1"
             " && %s train --task mae --data %s --run %s --patch 2 --window 8 --steps 2 %s >> %s/log 2>&1"
             " && %s predict --run %s -o %s/cls.tif >> %s/log 2>&1 && %s predict --run %s -o %s/seg.tif >> %s/log 2>&1",
             LVIT_BINARY, g_data, sal, LVIT_SHARED_DATA, tu_tmpdir(), LVIT_BINARY, g_data, g_cls, tiny, tu_tmpdir(),
             LVIT_BINARY, g_data, g_seg, mask, tiny, tu_tmpdir(), LVIT_BINARY, g_data, g_mae, tiny, tu_tmpdir(),
             LVIT_BINARY, g_cls, tu_tmpdir(), tu_tmpdir(), LVIT_BINARY, g_seg, tu_tmpdir(), tu_tmpdir());
    if (len < 0 || (size_t)len >= sizeof cmd) {
        fprintf(stderr, "the command line for the temporary directory %s is too long\n", tu_tmpdir());
        return -1;
    }
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s (see %s/log)\n", cmd, tu_tmpdir());
        return -1;
    }
    return 0;
}

/* The predicted class map (class indices) from lvit predict's GeoTIFF of label values; the class of
 * value v is the one named class_<v> (lvit convert's names for a raster without names). */
static int32_t *map_of(const char *tif, const lvit_model *m) {
    int H, W;
    double *vals;
    uint8_t *ok;
    char err[1024];
    double geo[6];
    int has_geo;
    if (read_label_raster(tif, NULL, &H, &W, &vals, &ok, geo, &has_geo, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(H, 83), assert_int_equal(W, 86);
    int32_t *idx = malloc(sizeof(int32_t) * 83 * 86);
    for (int i = 0; i < 83 * 86; i++) {
        idx[i] = -1;
        for (int k = 0; k < lvit_num_classes(m); k++)
            if (atof(lvit_class_name(m, k) + 6) == vals[i]) idx[i] = k;
        assert_true(idx[i] >= 0);
    }
    free(vals), free(ok);
    return idx;
}

static int argmax(const float *z, int K, size_t stride) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (z[k * stride] > z[best * stride]) best = k;
    return best;
}

/* i mirrored into [0, n) at the scene's edges (-1 -> 1, n -> n - 2), as docs/api.md tells callers */
static int mirror(int i, int n) {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

/* x [V][w][w] and its mask: the scene's bands in the window whose top-left pixel is (y0, x0) */
static void window(const Dataset *ds, int y0, int x0, int w, float *x, unsigned char *mask) {
    for (int v = 0; v < ds->V; v++)
        for (int r = 0; r < w; r++)
            for (int c = 0; c < w; c++) {
                const int y = mirror(y0 + r, ds->H), xx = mirror(x0 + c, ds->W);
                const size_t o = ((size_t)v * w + r) * w + c;
                mask[o] = !ds->valid || ds->valid[((size_t)v * ds->H + y) * ds->W + xx];
                x[o] = mask[o] ? ds->data[((size_t)v * ds->H + y) * ds->W + xx] : 0.0f;
            }
}

static void test_classify_equals_predict(void **state) {
    (void)state;
    if (!*g_cls) skip();
    char ckpt[4200], tif[4200], err[1024];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", g_cls);
    snprintf(tif, sizeof tif, "%s/cls.tif", tu_tmpdir());
    LvitOptions o = {.threads = 2};
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(ckpt, &o, &m), LVIT_OK);
    assert_string_equal(lvit_task(m), "classify");
    assert_int_equal(lvit_num_classes(m), 6);
    assert_string_equal(lvit_class_name(m, 0), "class_1");
    assert_null(lvit_class_name(m, 6));
    int H, W;
    assert_int_equal(lvit_grid(m, &H, &W), LVIT_OK);
    assert_int_equal(H, 9), assert_int_equal(W, 9);
    Dataset ds;
    if (dataset_open(&ds, g_data, err, sizeof err)) fail_msg("%s", err);
    int32_t *map = map_of(tif, m);
    const int V = lvit_num_inputs(m);
    assert_int_equal(V, ds.V);
    float *x = malloc(sizeof(float) * (size_t)V * 81), logits[6];
    unsigned char *mask = malloc((size_t)V * 81);
    int seen[6] = {0};
    for (int y = 0; y < 83; y += y < 81 ? 3 : 1) /* every third row and the last (the edges), every column */
        for (int xx = 0; xx < 86; xx++) {
            window(&ds, y - 4, xx - 4, 9, x, mask); /* the pixel at row and column 9 / 2 = 4 */
            assert_int_equal(lvit_classify_sized(m, x, (size_t)V * 81, mask, (size_t)V * 81, logits, 6), LVIT_OK);
            if (argmax(logits, 6, 1) != map[y * 86 + xx])
                fail_msg("pixel (%d, %d): the API's class %d, lvit predict's %d", y, xx, argmax(logits, 6, 1), map[y * 86 + xx]);
            seen[map[y * 86 + xx]] = 1;
        }
    assert_true(seen[0] + seen[1] + seen[2] + seen[3] + seen[4] + seen[5] >= 3); /* a map with classes to tell apart */
    /* refusals: another task's call, wrong sizes */
    float y1[1];
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y1), LVIT_E_ARG);
    assert_int_equal(lvit_segment(m, x, NULL, logits), LVIT_E_ARG);
    assert_non_null(strstr(lvit_last_error(), "\"classify\""));
    assert_int_equal(lvit_classify_sized(m, x, (size_t)V * 81, NULL, 0, logits, 5), LVIT_E_ARG);
    assert_non_null(strstr(lvit_last_error(), "writes 6"));
    lvit_close(m);
    dataset_free(&ds);
    free(x), free(mask), free(map);
}

static void test_segment_equals_predict(void **state) {
    (void)state;
    if (!*g_seg) skip();
    char ckpt[4200], tif[4200], err[1024];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", g_seg);
    snprintf(tif, sizeof tif, "%s/seg.tif", tu_tmpdir());
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(ckpt, NULL, &m), LVIT_OK);
    assert_string_equal(lvit_task(m), "segment");
    int H, W;
    assert_int_equal(lvit_grid(m, &H, &W), LVIT_OK);
    assert_int_equal(H, 88), assert_int_equal(W, 88);
    Dataset ds;
    if (dataset_open(&ds, g_data, err, sizeof err)) fail_msg("%s", err);
    const int V = lvit_num_inputs(m), K = lvit_num_classes(m);
    assert_int_equal(K, 6);
    const size_t n = (size_t)V * 88 * 88, G = 88 * 88;
    float *x = malloc(sizeof(float) * n), *logits = malloc(sizeof(float) * K * G);
    unsigned char *mask = malloc(n);
    window(&ds, 0, 0, 88, x, mask); /* the scene is one tile: its map is the tile's classes */
    assert_int_equal(lvit_segment(m, x, mask, logits), LVIT_OK);
    int32_t *map = map_of(tif, m);
    for (int y = 0; y < 83; y++)
        for (int c = 0; c < 86; c++)
            if (argmax(logits + (size_t)y * 88 + c, K, G) != map[y * 86 + c])
                fail_msg("pixel (%d, %d): the API's class %d, lvit predict's %d", y, c, argmax(logits + (size_t)y * 88 + c, K, G),
                         map[y * 86 + c]);
    lvit_close(m);
    dataset_free(&ds);
    free(x), free(mask), free(logits), free(map);
}

static void test_mae_refused(void **state) {
    (void)state;
    if (!*g_mae) skip();
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", g_mae);
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(ckpt, NULL, &m), LVIT_E_ARG);
    assert_null(m);
    assert_non_null(strstr(lvit_last_error(), "masked-autoencoder"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_classify_equals_predict), cmocka_unit_test(test_segment_equals_predict),
                                       cmocka_unit_test(test_mae_refused)};
    return cmocka_run_group_tests(tests, setup, tu_tmpdir_teardown);
}
