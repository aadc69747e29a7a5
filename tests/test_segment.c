/* The segmentation head (--task segment, model/vit.c): the image head's Vo = K outputs of a pixel
 * are its class logits under a per-pixel softmax cross-entropy over the labelled pixels. Checked:
 * the loss against one computed here in double from the predicted logit image (so the pixel
 * grouping of the token layout is right: targets built in image layout, moved to tokens with the
 * kernel's patchify), central differences of the loss for a few entries of every tensor, and the
 * model configuration's JSON round trip and refusals. */
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_per_pixel),
        cmocka_unit_test(test_fd),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
