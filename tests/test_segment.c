/* The segmentation head (--task segment, model/vit.c): the image head's Vo = K outputs of a pixel
 * are its class logits under a per-pixel softmax cross-entropy over the labelled pixels. Checked:
 * the loss against one computed here in double from the predicted logit image (so the pixel
 * grouping of the token layout is right: targets built in image layout, moved to tokens with the
 * kernel's patchify), central differences of the loss for a few entries of every tensor, the model
 * configuration's JSON round trip and refusals, and the task's tiles, split and targets on a small
 * scene (tasks/segment_data.c: targets in token layout back through unpatchify, a sequence-parallel
 * band of rows). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/rng.h"
#include "model/config.h"
#include "model/vit.h"
#include "tasks/segment_data.h"
#include "util_model.h"

enum { B = 2, K = 4 };

typedef struct Fixture {
    VitConfig c;
    Vit m;
    Batch b;
    float *mem;
    int32_t *truth; /* [B,H,W], -1 unlabelled */
} Fixture;

/* A 4x6 grid, patch 2, 4 classes; random weights and inputs; every third pixel unlabelled. */
static void setup(Fixture *f) {
    f->c = tu_tiny_config(CH_AGG);
    f->c.seg_classes = f->c.Vo = K;
    char err[256];
    assert_int_equal(vit_config_check(&f->c, err, sizeof err), 0);
    const Kernels *k = kernels_cpu();
    vit_init(&f->m, &f->c, NULL, B, k);
    Rng r;
    rng_seed(&r, 17);
    for (int64_t i = 0; i < f->m.n_params; i++) f->m.param_mem[i] = (float)(0.3 * rng_normal(&r));
    const int64_t HW = (int64_t)f->c.H * f->c.W, nx = B * f->c.V * HW, ny = B * K * HW;
    f->mem = calloc((size_t)(nx + 4 * ny + B + f->c.H), sizeof(float));
    float *yimg = f->mem + nx + 2 * ny, *mimg = yimg + ny;
    f->b = (Batch){.B = B, .x = f->mem, .y = f->mem + nx, .mask = f->mem + nx + ny, .lead = f->mem + nx + 4 * ny,
                   .wlat = f->mem + nx + 4 * ny + B};
    for (int64_t i = 0; i < nx; i++) f->b.x[i] = (float)rng_normal(&r);
    f->truth = malloc(sizeof(int32_t) * (size_t)(B * HW));
    for (int b = 0; b < B; b++)
        for (int64_t g = 0; g < HW; g++) {
            const int t = (b * 5 + (int)g) % 3 == 0 ? -1 : (int)rng_below(&r, K);
            f->truth[b * HW + g] = t;
            if (t >= 0) yimg[((int64_t)b * K + t) * HW + g] = 1.0f, mimg[((int64_t)b * K + t) * HW + g] = 1.0f;
        }
    for (int i = 0; i < f->c.H; i++) f->b.wlat[i] = 1.0f;
    k->patchify(f->b.y, yimg, B, K, f->c.H, f->c.W, f->c.p, 0);
    k->patchify(f->b.mask, mimg, B, K, f->c.H, f->c.W, f->c.p, 0);
}

static void teardown(Fixture *f) {
    free(f->mem), free(f->truth);
    vit_free(&f->m);
    vit_config_free(&f->c);
}

static void test_loss_per_pixel(void **s) {
    (void)s;
    Fixture f;
    setup(&f);
    const float loss = vit_forward(&f.m, &f.b);
    const int64_t HW = (int64_t)f.c.H * f.c.W;
    float *img = malloc(sizeof(float) * (size_t)(B * K * HW));
    vit_prediction(&f.m, img, B);
    double want = 0.0;
    int n = 0;
    for (int b = 0; b < B; b++)
        for (int64_t g = 0; g < HW; g++) {
            const int t = f.truth[b * HW + g];
            if (t < 0) continue;
            double mx = -1e30, se = 0.0;
            for (int k = 0; k < K; k++) mx = fmax(mx, img[((int64_t)b * K + k) * HW + g]);
            for (int k = 0; k < K; k++) se += exp(img[((int64_t)b * K + k) * HW + g] - mx);
            want += -(img[((int64_t)b * K + t) * HW + g] - mx - log(se));
            n++;
        }
    want /= n;
    print_message("segmentation loss %.7f, by hand over %d labelled pixels %.7f\n", loss, n, want);
    assert_int_equal(n, 32); /* 48 pixels, 16 unlabelled */
    assert_true(fabs(loss - want) < 1e-5 * fabs(want));
    free(img);
    teardown(&f);
}

static void test_fd(void **s) {
    (void)s;
    Fixture f;
    setup(&f);
    Vit *m = &f.m;
    memset(m->grad_mem, 0, sizeof(float) * (size_t)m->n_params);
    vit_forward(m, &f.b);
    vit_backward(m, &f.b);
    Rng r;
    rng_seed(&r, 3);
    int bad = 0, checked = 0;
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        for (int k = 0; k < 3; k++) {
            const int64_t j = ps->offset + (int64_t)rng_below(&r, (uint64_t)ps->numel);
            const float save = m->param_mem[j], h = 1e-2f;
            m->param_mem[j] = save + h;
            const double lp = vit_forward(m, &f.b);
            m->param_mem[j] = save - h;
            const double lm = vit_forward(m, &f.b);
            m->param_mem[j] = save;
            const double fd = (lp - lm) / (2 * h), an = m->grad_mem[j];
            checked++;
            if (fabs(fd - an) > 2e-2 * fabs(an) + 2e-4) {
                print_error("%s[%lld]: analytic %.6g, finite difference %.6g\n", ps->name, (long long)(j - ps->offset), an, fd);
                bad++;
            }
        }
    }
    print_message("segmentation head FD: %d entries checked, %d bad\n", checked, bad);
    assert_true(checked > 30);
    assert_int_equal(bad, 0);
    teardown(&f);
}

static void test_config(void **s) {
    (void)s;
    VitConfig c = tu_tiny_config(CH_AGG);
    c.seg_classes = c.Vo = 5;
    char err[256];
    assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
    char *js = vit_config_to_json(&c);
    assert_non_null(strstr(js, "\"task\":\"segment\",\"classes\":5"));
    VitConfig d;
    assert_int_equal(vit_config_from_json(&d, js, err, sizeof err), 0);
    assert_int_equal(d.seg_classes, 5);
    assert_int_equal(d.Vo, 5);
    assert_int_equal(d.V, 3);
    vit_config_free(&d);
    free(js);
    c.mode = CH_MULTI;
    assert_int_not_equal(vit_config_check(&c, err, sizeof err), 0);
    assert_non_null(strstr(err, "--channels agg"));
    c.mode = CH_AGG, c.Vo = 3;
    assert_int_not_equal(vit_config_check(&c, err, sizeof err), 0);
    assert_non_null(strstr(err, "one output per class"));
    vit_config_free(&c);
}

/* A 10x12 scene of one band and 3 classes in 4x4 tiles (3x3 of them, the last row and column cut),
 * patch 2: the tiles' split, and each sample's targets against the scene's labels. */
static void test_tiles_and_targets(void **s) {
    (void)s;
    enum { H = 10, W = 12, C = 3, T4 = 4 };
    float data[H * W];
    int32_t lab[H * W];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            data[y * W + x] = (float)(y * W + x);
            lab[y * W + x] = (x + y) % 7 == 0 ? -1 : (x / 3 + y / 4) % C;
        }
    char names[C][LVIT_CLASS_NAME] = {"a", "b", "c"};
    float mean = 0.0f, sd = 1.0f;
    uint8_t split = SPLIT_TRAIN;
    Dataset ds = {.kind = DATASET_IMAGE, .V = 1, .T = 1, .H = H, .W = W, .data = data, .mean = &mean, .std = &sd};
    ds.img = (DatasetImages){.label_kind = LABELS_MAP, .C = C, .class_names = names, .split = &split, .label_map = lab};
    snprintf(ds.source, sizeof ds.source, "scene");
    TaskOptions o = TASK_OPTIONS_DEFAULT;
    o.window = T4, o.split_seed = 3;
    SegmentData sd0;
    char err[512];
    assert_int_equal(segment_data_open(&sd0, &ds, &o, 2, err, sizeof err), 0);
    assert_int_equal(sd0.cd.Hp, 4);
    /* every labelled pixel in exactly one set, whole tiles in one set, the counts */
    int64_t lab_n = 0, tiles_train = 0, tiles_test = 0;
    for (int k = 0; k < H * W; k++) {
        lab_n += lab[k] >= 0;
        const int a = sd0.map[SPLIT_TRAIN][k], b = sd0.map[SPLIT_TEST][k];
        assert_true(a < 0 || b < 0);
        assert_int_equal(a >= 0 ? a : b, lab[k]);
        const int y = k / W, x = k % W, t0 = (y / T4) * T4 * W + (x / T4) * T4; /* the tile's first pixel */
        if (lab[k] >= 0 && lab[t0] >= 0) assert_int_equal(a >= 0, sd0.map[SPLIT_TRAIN][t0] >= 0);
    }
    assert_int_equal(sd0.npix[SPLIT_TRAIN] + sd0.npix[SPLIT_TEST], lab_n);
    for (int64_t i = 0; i < sd0.cd.n[0] + sd0.cd.n[2]; i++) {
        if (sd0.cd.s[i].cls == SPLIT_TRAIN) tiles_train++;
        else tiles_test++;
    }
    assert_int_equal(tiles_train, sd0.cd.n[SPLIT_TRAIN]);
    assert_int_equal(tiles_train + tiles_test, 9);
    /* targets: one-hot at the pixel's class with mask 1 where the sample's set labels it, back to the
     * image layout with unpatchify; and rows 2-3 alone (a sequence-parallel rank's band) */
    const Kernels *k = kernels_cpu();
    HostBatch hb, band;
    host_batch_init_segment(&hb, 1, &sd0, 0, 4);
    host_batch_init_segment(&band, 1, &sd0, 2, 2);
    assert_int_equal(hb.ny, 4 * 4 * C);
    float yimg[C * 16], mimg[C * 16];
    int checked = 0;
    for (int64_t id = 0; id < sd0.cd.n[0] + sd0.cd.n[2]; id++) {
        const ClassifySample *t = &sd0.cd.s[id];
        const int y0 = t->row - T4 / 2, x0 = t->col - T4 / 2;
        hb.fill(&hb, 0, NULL, id);
        band.fill(&band, 0, NULL, id);
        k->unpatchify(yimg, hb.y, 1, C, 4, 4, 2, 0);
        k->unpatchify(mimg, hb.mask, 1, C, 4, 4, 2, 0);
        for (int gr = 0; gr < 4; gr++)
            for (int gc = 0; gc < 4; gc++) {
                const int y = y0 + gr, x = x0 + gc;
                const int want = y < H && x < W ? sd0.map[t->cls][y * W + x] : -1;
                for (int c = 0; c < C; c++) {
                    assert_true(yimg[c * 16 + gr * 4 + gc] == (c == want ? 1.0f : 0.0f));
                    assert_true(mimg[c * 16 + gr * 4 + gc] == (c == want ? 1.0f : 0.0f));
                }
                if (y < H && x < W) assert_true(hb.x[gr * 4 + gc] == data[y * W + x]);
                checked += want >= 0;
            }
        /* the band's tokens are the second token row of the whole tile's */
        assert_memory_equal(band.y, hb.y + band.ny, sizeof(float) * (size_t)band.ny);
        assert_memory_equal(band.mask, hb.mask + band.ny, sizeof(float) * (size_t)band.ny);
    }
    assert_int_equal(checked, lab_n);
    host_batch_free(&hb), host_batch_free(&band);
    segment_data_close(&sd0);
    o.split_mode = 1; /* --split random */
    assert_int_not_equal(segment_data_open(&sd0, &ds, &o, 2, err, sizeof err), 0);
    assert_non_null(strstr(err, "--split random"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_per_pixel),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_tiles_and_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
