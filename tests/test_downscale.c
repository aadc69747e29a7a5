/* Downscaling data and tiled inference (src/data/downscale.c, src/tasks/downscale_setup.c): the
 * coarse inputs are the area means of the fine fields, normalized with the fine statistics;
 * static channels, weights and crops; samples of whole grids and of (wrapping) TILES windows;
 * refusals that name the flag; and, for a model whose receptive field fits inside the halo,
 * tiled inference that reproduces untiled inference exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tasks/downscale_setup.h"
#include "data/downscale.h"
#include "data/resample.h"
#include "io/checkpoint.h"
#include "util_test.h"

static void expect_refusal_fn(const Dataset *ds, DownscaleOptions o, const char *a, const char *b);

static void synth(Dataset *ds, int V, int T, int H, int W) {
    dataset_synthetic(ds, V, T, H, W, 7);
    ds->t_train_end = T / 2;
    ds->t_val_end = T * 3 / 4;
    dataset_compute_stats(ds, 0, ds->t_train_end);
}

static void test_coarse_inputs(void **state) {
    (void)state;
    Dataset ds;
    synth(&ds, 2, 6, 12, 24);
    Downscale d;
    char err[512];
    DownscaleOptions o = {.scale = 3, .patch = 2, .statics = "lat", .periodic = -1};
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    assert_int_equal(d.h, 4), assert_int_equal(d.w, 8), assert_int_equal(d.hp, 4), assert_int_equal(d.wp, 8);
    assert_int_equal(d.V, 3), assert_int_equal(d.Ns, 1);
    assert_string_equal(d.names[2], "lat");
    assert_true(d.global && d.periodic); /* 24 columns of 15 degrees */
    float fine[12 * 24], coarse[4 * 8];
    for (int t = 0; t < ds.T; t++)
        for (int v = 0; v < 2; v++) {
            memcpy(fine, ds.data + ((int64_t)t * 2 + v) * 12 * 24, sizeof fine);
            resample_coarsen(coarse, NULL, fine, NULL, 12, 24, 3, ds.lat);
            for (int i = 0; i < 32; i++) coarse[i] = (coarse[i] - ds.mean[v]) / ds.std[v];
            TU_ASSERT_CLOSE_FF(d.coarse + ((int64_t)t * 2 + v) * 32, coarse, 32, 1e-6);
        }
    double m = 0, m2 = 0; /* the latitude channel is standardized over the grid */
    for (int i = 0; i < 32; i++) m += d.statics[i] / 32.0, m2 += d.statics[i] * d.statics[i] / 32.0;
    assert_true(fabs(m) < 1e-5 && fabs(m2 - 1) < 1e-4);
    assert_true(d.statics[0] < d.statics[31]); /* rows run south to north here */
    downscale_free(&d);
    /* lon: cos and sin of the longitude, block means of them, standardized */
    o.statics = "lat,lon";
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    assert_int_equal(d.Ns, 3);
    assert_string_equal(d.names[3], "cos_lon"), assert_string_equal(d.names[4], "sin_lon");
    float cl[8];
    double cm = 0, c2 = 0;
    for (int j = 0; j < 8; j++) { /* one coarse column: 3 fine columns of 15 degrees */
        cl[j] = 0;
        for (int u = 0; u < 3; u++) cl[j] += (float)cos(ds.lon[3 * j + u] * M_PI / 180.0) / 3.0f;
        cm += cl[j] / 8.0, c2 += (double)cl[j] * cl[j] / 8.0;
    }
    for (int j = 0; j < 8; j++) cl[j] = (float)((cl[j] - cm) / sqrt(c2 - cm * cm));
    TU_ASSERT_CLOSE_FF(d.statics + 32, cl, 8, 1e-5); /* first coarse row; every row is the same */
    TU_ASSERT_CLOSE_FF(d.statics + 32 + 24, cl, 8, 1e-5);
    downscale_free(&d);
    dataset_free(&ds);
}

/* coarse inputs of their own: the same variables and times on the grid H/s x W/s */
static void test_coarse_files(void **state) {
    (void)state;
    Dataset ds, cd;
    synth(&ds, 2, 6, 12, 24);
    synth(&cd, 2, 6, 4, 8);
    Downscale d;
    char err[512];
    DownscaleOptions o = {.scale = 3, .patch = 2, .coarse = &cd, .periodic = -1};
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    int bad = 0;
    for (int t = 0; t < 6; t++)
        for (int v = 0; v < 2; v++)
            for (int i = 0; i < 32; i++) {
                const int64_t q = ((int64_t)t * 2 + v) * 32 + i;
                bad += fabsf(d.coarse[q] - (cd.data[q] - ds.mean[v]) / ds.std[v]) > 1e-6f || d.coarse_phys[q] != cd.data[q];
            }
    assert_int_equal(bad, 0);
    downscale_free(&d);
    cd.hours[3] += 1.0; /* a fine time the coarse files do not have */
    expect_refusal_fn(&ds, o, "no time", "time 3");
    dataset_free(&cd);
    dataset_free(&ds);
}

/* rows or columns that do not make a whole s x s block are left out; the model grid pads to p */
static void test_crop_and_pad(void **state) {
    (void)state;
    Dataset ds;
    synth(&ds, 1, 4, 13, 20);
    Downscale d;
    char err[512];
    DownscaleOptions o = {.scale = 4, .patch = 2, .periodic = -1};
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    assert_int_equal(d.H, 12), assert_int_equal(d.W, 20), assert_int_equal(d.h, 3), assert_int_equal(d.w, 5);
    assert_int_equal(d.hp, 4), assert_int_equal(d.wp, 6);
    assert_false(d.periodic); /* padded columns break the circle */
    assert_true(d.wlat[11] > 0 && d.wlat[12] == 0 && d.wlat[15] == 0);
    HostBatch hb;
    host_batch_init_downscale(&hb, 1, &d);
    downscale_fill(&d, &hb, 0, 1, 0);
    /* padded cells: input 0, weight 0 */
    assert_true(hb.x[3 * 6 + 0] == 0 && hb.x[0 * 6 + 5] == 0);
    assert_true(hb.mask[12 * 24 + 3] == 0 && hb.mask[0 * 24 + 20] == 0 && hb.mask[0] > 0);
    host_batch_free(&hb);
    downscale_free(&d);
    dataset_free(&ds);
}

/* a whole-grid sample and wrapping TILES windows: inputs, targets and weights from the right cells */
static void test_fill(void **state) {
    (void)state;
    Dataset ds;
    synth(&ds, 2, 6, 24, 48);
    Downscale d;
    char err[512];
    for (int tiled = 0; tiled < 2; tiled++) {
        DownscaleOptions o = {.scale = 3, .patch = 2, .var_weights = "var1=0.5", .periodic = -1, .tiles = tiled ? 2 : 1,
                              .halo = tiled ? 2 : 0};
        assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
        assert_true(d.vw[0] == 1.0f && d.vw[1] == 0.5f);
        HostBatch hb;
        host_batch_init_downscale(&hb, 2, &d);
        const int t = 3, tile = tiled ? 2 : 0, th = d.tp.th, tw = d.tp.tw, s = 3;
        downscale_fill(&d, &hb, 1, t, tile);
        int r0, c0;
        tiles_origin(&d.tp, tile, &r0, &c0);
        assert_int_equal(hb.tr0[1], r0), assert_int_equal(hb.tc0[1], c0);
        if (tiled) assert_true(c0 + tw > d.wp); /* tile (1, 0) wraps around the date line */
        int bad = 0;
        for (int v = 0; v < 2; v++) {
            for (int u = 0; u < th; u++)
                for (int j = 0; j < tw; j++) {
                    const float want = d.coarse[(((int64_t)t * 2 + v) * d.h + r0 + u) * d.w + (c0 + j) % d.w];
                    bad += hb.x[hb.nx + ((int64_t)v * th + u) * tw + j] != want;
                }
            for (int u = 0; u < s * th; u++)
                for (int j = 0; j < s * tw; j++) {
                    const int R = s * r0 + u, C = (s * c0 + j) % (s * d.w);
                    const float y = (ds.data[(((int64_t)t * 2 + v) * 24 + R) * 48 + C] - ds.mean[v]) / ds.std[v];
                    const int64_t o2 = hb.ny + ((int64_t)v * s * th + u) * s * tw + j;
                    bad += fabsf(hb.y[o2] - y) > 1e-6f || fabsf(hb.mask[o2] - d.vw[v] * d.wlat[R]) > 1e-7f;
                }
        }
        assert_int_equal(bad, 0);
        host_batch_free(&hb);
        downscale_free(&d);
    }
    dataset_free(&ds);
}

/* --base bicubic: the targets are the fine fields minus the (periodic) bicubic interpolation of
 * the coarse inputs, so target + interpolation is the normalized fine field again */
static void test_base(void **state) {
    (void)state;
    Dataset ds;
    synth(&ds, 2, 4, 12, 24);
    Downscale d;
    char err[512];
    DownscaleOptions o = {.scale = 3, .patch = 2, .periodic = -1, .base = 1};
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    HostBatch hb;
    host_batch_init_downscale(&hb, 1, &d);
    downscale_fill(&d, &hb, 0, 2, 0);
    float up[12 * 24];
    int bad = 0;
    double base_ms = 0;
    for (int v = 0; v < 2; v++) {
        resample_upsample(up, d.coarse + ((int64_t)2 * 2 + v) * 32, 4, 8, 3, RS_BICUBIC, 1);
        for (int i = 0; i < 12 * 24; i++) {
            const float y = (ds.data[((int64_t)2 * 2 + v) * 288 + i] - ds.mean[v]) / ds.std[v];
            bad += fabsf(hb.y[v * 288 + i] + up[i] - y) > 1e-5f;
            base_ms += (double)up[i] * up[i];
        }
    }
    assert_int_equal(bad, 0);
    assert_true(base_ms > 1.0); /* the interpolation is not trivially zero */
    host_batch_free(&hb);
    downscale_free(&d);
    dataset_free(&ds);
}

static void expect_refusal_fn(const Dataset *ds, DownscaleOptions o, const char *a, const char *b) {
    Downscale d;
    char err[1024] = "";
    assert_int_equal(downscale_init(&d, ds, &o, err, sizeof err), -1);
    print_message("refused: %s\n", err);
    TU_ASSERT_CONTAINS(err, a);
    if (b) TU_ASSERT_CONTAINS(err, b);
}

static void test_refusals(void **state) {
    (void)state;
    Dataset ds, small, regional;
    synth(&ds, 2, 6, 12, 24);
    synth(&small, 2, 6, 5, 8);
    synth(&regional, 2, 6, 12, 24);
    for (int j = 0; j < 24; j++) regional.lon[j] = 200.0f + j; /* 24 degrees of longitude */
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 3, .patch = 2, .var_weights = "q=2"}, "--var-weights: no variable 'q'", "var0 var1");
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 3, .patch = 2, .var_weights = "var0=-1"}, "--var-weights", "var0=-1");
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 3, .patch = 2, .coarse = &small}, "--coarse-data", "expected 4x8");
    expect_refusal_fn(&regional, (DownscaleOptions){.scale = 3, .patch = 2, .periodic = 1}, "--periodic on", "longitude circle");
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 3, .patch = 2, .tiles = 3}, "--tiles 3", "--tiles 1, 2");
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 1, .patch = 2}, "--scale 1", "2..16");
    expect_refusal_fn(&ds, (DownscaleOptions){.scale = 3, .patch = 2, .statics = "/nonexistent.lvd"}, "--static /nonexistent.lvd", NULL);
    dataset_free(&ds);
    dataset_free(&small);
    dataset_free(&regional);
}

/* Without attention (depth 0) a Reslim prediction at a cell depends on the coarse cells within
 * one patch and one conv tap of it, so TILES with a halo of one patch (clamped columns, cropped
 * halos) must give the untiled fields up to float rounding; with blocks it must not (attention
 * sees the whole window), which shows the windows are really separate sequences. */
static void test_tiled_inference(void **state) {
    (void)state;
    Dataset ds;
    synth(&ds, 2, 4, 24, 48);
    char err[1024], path[] = "/tmp/lvit_test_downscale_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (int depth = 0; depth < 2; depth++) {
        Downscale d1, d2;
        DownscaleOptions o = {.scale = 2, .patch = 2, .statics = "lat", .periodic = 0};
        assert_int_equal(downscale_init(&d1, &ds, &o, err, sizeof err), 0);
        o.tiles = 2, o.halo = 2;
        assert_int_equal(downscale_init(&d2, &ds, &o, err, sizeof err), 0);
        VitConfig c = {.V = d1.V, .Vo = d1.Vo, .H = d1.hp, .W = d1.wp, .p = 2, .D = 16, .depth = depth, .NH = 2, .dec_depth = 1,
                       .mlp_ratio = 2, .mode = CH_AGG, .scale = 2, .res_width = 4};
        vit_config_set_default_names(&c);
        Vit m;
        vit_init(&m, &c, NULL, 1, kernels_cpu());
        vit_init_params(&m, 5);
        for (int64_t i = 0; i < m.n_params; i++) m.param_mem[i] += 0.05f * sinf(0.37f * (float)i); /* no zero paths */
        float norm[3] = {0, 0, 0}, one[3] = {1, 1, 1};
        assert_int_equal(ckpt_save_model(&m, norm, one, NULL, path, err, sizeof err), 0);
        DsInfer q1, q2;
        ds_infer_init(&q1, &c, path, &d1, 4, 0, kernels_cpu());
        ds_infer_init(&q2, &c, path, &d2, 4, 0, kernels_cpu());
        const int64_t n = (int64_t)d1.Vo * d1.H * d1.W;
        float *f1 = tu_falloc(n), *f2 = tu_falloc(n);
        ds_infer(&q1, 2, f1);
        ds_infer(&q2, 2, f2);
        double e = tu_max_rel_err_ff(f2, f1, n, NULL);
        print_message("depth %d: tiled vs untiled max rel. difference %.3g\n", depth, e);
        if (depth == 0) assert_true(e < 1e-5);
        else assert_true(e > 1e-5); /* depth 0 is exactly 0 */
        free(f1), free(f2);
        ds_infer_free(&q1), ds_infer_free(&q2);
        vit_free(&m);
        vit_config_free(&c);
        downscale_free(&d1), downscale_free(&d2);
    }
    remove(path);
    dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coarse_inputs), cmocka_unit_test(test_coarse_files), cmocka_unit_test(test_crop_and_pad), cmocka_unit_test(test_fill), cmocka_unit_test(test_base),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_tiled_inference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
