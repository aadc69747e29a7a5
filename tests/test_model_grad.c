/* Whole-model gradients: central differences of the loss against the analytic gradient (a few
 * entries of every tensor) for both channel modes, D-CHAG and the Reslim head (whole grid and
 * TILES windows), the classification head, band groups, the masked autoencoder over D-CHAG tokens, and --recompute giving the same loss and gradient bits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "train/trainer.h"
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/vit.h"
#include "optim/optim.h"
#include "util_model.h"
#include "util_test.h"

/* Random parameters (no zeros hiding a path) and a random batch with some masked cells. */
static void randomize(Vit *m, Batch *b, float **mem, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int64_t i = 0; i < m->n_params; i++) m->param_mem[i] = (float)(0.3 * rng_normal(&r));
    const VitConfig *c = &m->cfg;
    int B = m->B;
    int64_t img = (int64_t)B * c->V * c->H * c->W;
    *mem = calloc((size_t)(3 * img + B + c->H), sizeof(float));
    *b = (Batch){.B = B, .x = *mem, .y = *mem + img, .mask = *mem + 2 * img, .lead = *mem + 3 * img,
                 .wlat = *mem + 3 * img + B};
    for (int64_t i = 0; i < img; i++) {
        b->x[i] = (float)rng_normal(&r);
        b->y[i] = (float)rng_normal(&r);
        b->mask[i] = rng_uniform(&r) < 0.15 ? 0.0f : 1.0f;
    }
    for (int i = 0; i < B; i++) b->lead[i] = 0.06f * (i + 1);
    for (int i = 0; i < c->H; i++) b->wlat[i] = 0.5f + (float)i / c->H;
}

/* Central differences of the whole model's loss against the analytic gradient, a few entries
 * of every tensor; float32 forward, so h and the tolerance are loose but each entry counts. */
static void fd_check(Vit *m, const Batch *b, const char *what) {
    memset(m->grad_mem, 0, sizeof(float) * (size_t)m->n_params);
    vit_forward(m, b);
    vit_backward(m, b);
    Rng r;
    rng_seed(&r, 3);
    int bad = 0, checked = 0;
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        if (strcmp(ps->name, "decoder_pos_embed") == 0 || strcmp(ps->name, "decoder_group_embed") == 0)
            continue; /* fixed by design (test_fd_mae and test_fd_groups check them) */
        for (int k = 0; k < 3; k++) {
            int64_t j = ps->offset + (int64_t)rng_below(&r, (uint64_t)ps->numel);
            float save = m->param_mem[j], h = 1e-2f;
            m->param_mem[j] = save + h;
            double lp = vit_forward(m, b);
            m->param_mem[j] = save - h;
            double lm = vit_forward(m, b);
            m->param_mem[j] = save;
            double fd = (lp - lm) / (2 * h), an = m->grad_mem[j];
            checked++;
            if (fabs(fd - an) > 2e-2 * fabs(an) + 2e-4) {
                print_error("%s[%lld]: analytic %.6g, finite difference %.6g\n", ps->name, (long long)(j - ps->offset),
                            an, fd);
                bad++;
            }
        }
    }
    print_message("whole-model FD (%s): %d entries checked, %d bad\n", what, checked, bad);
    assert_int_equal(bad, 0);
}

static void whole_model_fd_cfg(VitConfig c, const char *what) {
    Vit m;
    vit_init(&m, &c, NULL, 2, kernels_cpu());
    Batch b;
    float *mem;
    randomize(&m, &b, &mem, 11);
    fd_check(&m, &b, what);
    free(mem);
    vit_free(&m);
    vit_config_free(&c);
}

/* Reslim (downscaling by 2): 2 output variables and 1 static input on a 4x8 coarse grid; the
 * whole grid, then TILES windows of 4x4 cells (one of them wrapping around the longitude), with
 * the TV term and per-variable weights. The residual path and head_conv are in the table. */
static void test_fd_reslim(void **s) {
    (void)s;
    for (int tiled = 0; tiled < 2; tiled++) {
        VitConfig c = tu_tiny_config(CH_AGG);
        c.V = 3, c.Vo = 2, c.H = 4, c.W = 8, c.scale = 2, c.res_width = 3;
        c.tile_h = tiled ? 4 : 0, c.tile_w = tiled ? 4 : 0;
        vit_config_set_default_names(&c);
        char err[256];
        assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
        Vit m;
        const int B = 2;
        vit_init(&m, &c, NULL, B, kernels_cpu());
        assert_non_null(vit_find_param(&m, "res_path.conv1.weight"));
        assert_int_equal(vit_find_param(&m, "head.2.weight")->shape[0], 4 * 4 * 2); /* (s p)^2 Vo */
        Rng r;
        rng_seed(&r, 5);
        for (int64_t i = 0; i < m.n_params; i++) m.param_mem[i] = (float)(0.3 * rng_normal(&r));
        const int h = m.lc.H, w = m.lc.W, Hf = 2 * h, Wf = 2 * w;
        const int64_t nx = (int64_t)B * c.V * h * w, ny = (int64_t)B * c.Vo * Hf * Wf;
        float *mem = calloc((size_t)(nx + 2 * ny + B + Hf + c.Vo), sizeof(float));
        static const int r0[2] = {0, 0}, c0[2] = {2, 6}; /* the second window wraps: columns 6, 7, 0, 1 */
        Batch b = {.B = B, .x = mem, .y = mem + nx, .mask = mem + nx + ny, .lead = mem + nx + 2 * ny,
                   .wlat = mem + nx + 2 * ny + B, .tv_weight = 0.3f, .tile_r0 = tiled ? r0 : NULL, .tile_c0 = tiled ? c0 : NULL};
        float *vw = mem + nx + 2 * ny + B + Hf;
        vw[0] = 1.0f, vw[1] = 0.5f;
        b.vw = vw;
        for (int64_t i = 0; i < nx; i++) b.x[i] = (float)rng_normal(&r);
        for (int64_t i = 0; i < ny; i++) {
            b.y[i] = (float)rng_normal(&r);
            b.mask[i] = rng_uniform(&r) < 0.15 ? 0.0f : (float)(0.5 + rng_uniform(&r));
        }
        for (int i = 0; i < Hf; i++) b.wlat[i] = 1.0f;
        fd_check(&m, &b, tiled ? "Reslim, tiles of 4x4 (one wrapping)" : "Reslim, whole grid");
        free(mem);
        vit_free(&m);
        vit_config_free(&c);
    }
}

/* The classification head (mean token, head MLP, 5 logits) under softmax cross-entropy with
 * per-sample weights (one sample weighing 0.5) and under per-class sigmoids with a masked class */
static void test_fd_classify(void **s) {
    (void)s;
    for (int multi = 0; multi < 2; multi++) {
        VitConfig c = tu_tiny_config(multi ? CH_MULTI : CH_AGG);
        c.classes = 5, c.multilabel = multi;
        char err[256];
        assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
        Vit m;
        const int B = 2, K = 5;
        vit_init(&m, &c, NULL, B, kernels_cpu());
        assert_non_null(vit_find_param(&m, "head.2.weight")); /* decoder 1: head.0, then the logits */
        assert_int_equal(vit_find_param(&m, "head.2.weight")->shape[0], K);
        Rng r;
        rng_seed(&r, 7);
        for (int64_t i = 0; i < m.n_params; i++) m.param_mem[i] = (float)(0.3 * rng_normal(&r));
        const int64_t nx = (int64_t)B * c.V * c.H * c.W;
        float *mem = calloc((size_t)(nx + 2 * B * K + B + 1), sizeof(float));
        Batch b = {.B = B, .x = mem, .y = mem + nx, .mask = mem + nx + B * K, .lead = mem + nx + 2 * B * K,
                   .wlat = mem + nx + 2 * B * K + B};
        for (int64_t i = 0; i < nx; i++) b.x[i] = (float)rng_normal(&r);
        for (int i = 0; i < B; i++)
            for (int k = 0; k < K; k++) {
                b.y[i * K + k] = multi ? (float)((i + k) % 2) : (float)(k == 3 - i);
                b.mask[i * K + k] = multi ? (k == 1 ? 0.0f : 1.0f) : (i ? 0.5f : 1.0f) / K;
            }
        fd_check(&m, &b, multi ? "classify, multi-label sigmoid" : "classify, softmax");
        free(mem);
        vit_free(&m);
        vit_config_free(&c);
    }
}

/* The masked autoencoder: 1 of the 3 tokens of each patch row through the 2 encoder blocks, a
 * decoder block over all of them, the head on every token; the masks from the seeds in lead */
static void test_fd_mae(void **s) {
    (void)s;
    VitConfig c = tu_tiny_config(CH_AGG);
    c.mae_keep = 1, c.mae_depth = 1;
    char err[256];
    assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
    Vit m;
    vit_init(&m, &c, NULL, 2, kernels_cpu());
    assert_non_null(vit_find_param(&m, "decoder_blocks.0.attn.qkv.weight"));
    assert_non_null(vit_find_param(&m, "mask_token"));
    Batch b;
    float *mem;
    randomize(&m, &b, &mem, 23);
    b.lead[0] = 5.0f, b.lead[1] = 77.0f;
    int cols[3];
    vit_mae_visible(&c, 5, 0, 0, cols);
    assert_true(cols[0] >= 0 && cols[0] < 3);
    const int64_t dpos = vit_find_param(&m, "decoder_pos_embed")->offset;
    fd_check(&m, &b, "masked autoencoder");
    for (int64_t i = 0; i < vit_L(&c) * c.D; i++) assert_true(m.grad_mem[dpos + i] == 0.0f); /* fixed */
    free(mem);
    vit_free(&m);
    vit_config_free(&c);
}

/* Band groups (src/model/band_groups.c): 3 bands in an unequal pair of groups {0}, {1, 2} (the head
 * padded to 2 bands), as a pixel model, a classifier and a masked autoencoder (each group's row
 * masked on its own, the fixed decoder group embedding); and the group tokens by hand: a group
 * token is the mean of its bands' multi-mode tokens. */
static void test_fd_groups(void **s) {
    (void)s;
    char err[256];
    for (int kind = 0; kind < 3; kind++) {
        VitConfig c = tu_tiny_config(CH_AGG);
        assert_int_equal(vit_config_set_band_groups(&c, "0-0,1-2", err, sizeof err), 0);
        assert_int_equal(c.groups, 2);
        assert_int_equal(vit_S(&c), 2 * vit_L(&c));
        assert_int_equal(vit_E(&c), 2 * c.p * c.p);
        if (kind == 1) c.classes = 4;
        if (kind == 2) c.mae_keep = 1, c.mae_depth = 1;
        assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
        if (kind != 2) {
            whole_model_fd_cfg(c, kind ? "band groups, classifier" : "band groups, pixels");
            continue;
        }
        Vit m;
        vit_init(&m, &c, NULL, 2, kernels_cpu());
        const ParamSpec *ge = vit_find_param(&m, "decoder_group_embed");
        assert_non_null(ge);
        assert_int_equal(ge->shape[1], 2);
        Batch b;
        float *mem;
        randomize(&m, &b, &mem, 29);
        b.lead[0] = 9.0f, b.lead[1] = 1234.0f;
        int c0[3], c1[3];
        vit_mae_visible(&c, 9, 0, 0, c0);
        vit_mae_visible(&c, 9, 0, 1, c1);
        int c00[3];
        vit_mae_visible(&c, 9, 0, 0, c00);
        assert_int_equal(c0[0], c00[0]); /* group 0 draws as without groups */
        fd_check(&m, &b, "band groups, masked autoencoder");
        for (int64_t i = 0; i < ge->numel; i++) assert_true(m.grad_mem[ge->offset + i] == 0.0f); /* fixed */
        free(mem);
        vit_free(&m);
        vit_config_free(&c);
    }
    /* the tokens by hand against multi mode's */
    VitConfig cm = tu_tiny_config(CH_MULTI), cg = tu_tiny_config(CH_AGG);
    assert_int_equal(vit_config_set_band_groups(&cg, "2", err, sizeof err), 0); /* 3 bands: {0, 1}, {2} */
    assert_int_equal(cg.group_start[1], 2);
    Vit mm, mg;
    vit_init(&mm, &cm, NULL, 1, kernels_cpu());
    vit_init(&mg, &cg, NULL, 1, kernels_cpu());
    vit_init_params(&mm, 5);
    vit_init_params(&mg, 5);
    Batch b;
    float *mem;
    randomize(&mm, &b, &mem, 31);
    vit_init_params(&mm, 5); /* (randomize drew random parameters) */
    const int64_t LD = vit_L(&cm) * cm.D;
    b.B = 1;
    vit_forward(&mm, &b);
    vit_forward(&mg, &b);
    for (int64_t i = 0; i < LD; i++) { /* x0 = tokens + position embedding (lead 0.06) */
        assert_float_equal(mg.a.x0[i], 0.5f * (mm.a.x0[i] + mm.a.x0[LD + i]), 1e-5);
        assert_float_equal(mg.a.x0[LD + i], mm.a.x0[2 * LD + i], 1e-6);
    }
    free(mem);
    vit_free(&mm), vit_free(&mg);
    vit_config_free(&cm), vit_config_free(&cg);
}

/* class_loss against values computed by hand: logits (0, ln 2, ln 3) give softmax (1, 2, 3)/6 */
static void test_class_loss_values(void **s) {
    (void)s;
    const Kernels *k = kernels_cpu();
    const float z[3] = {0.0f, logf(2.0f), logf(3.0f)}, y[3] = {0, 1, 0}, m[3] = {1.0f / 3, 1.0f / 3, 1.0f / 3};
    float g[3];
    float l = k->class_loss(g, z, y, m, 1, 3, 0, 1.0f, 0.0);
    assert_true(fabs(l - log(3.0)) < 1e-6);            /* -log(2/6) */
    assert_true(fabs(g[0] - 1.0 / 6) < 1e-6 && fabs(g[1] - (2.0 / 6 - 1)) < 1e-6 && fabs(g[2] - 0.5) < 1e-6);
    l = k->class_loss(g, z, y, m, 1, 3, 0, 1.0f, 4.0); /* a global denominator of 4 samples */
    assert_true(fabs(l - log(3.0) / 4) < 1e-6 && fabs(g[2] - 0.125) < 1e-6);
    /* sigmoid: z = 0 gives log 2 per class and gradient 1/2 - y; mask 0 drops a class */
    const float z0[2] = {0, 0}, y2[2] = {1, 0}, m2[2] = {1, 0};
    l = k->class_loss(g, z0, y2, m2, 1, 2, 1, 1.0f, 0.0);
    assert_true(fabs(l - log(2.0)) < 1e-6 && fabs(g[0] + 0.5) < 1e-6 && g[1] == 0.0f);
    /* large logits stay finite: softplus(80) - 80 = log1p(e^-80) */
    const float zb[2] = {80.0f, -80.0f}, yb[2] = {1, 0}, mb[2] = {1, 1};
    l = k->class_loss(g, zb, yb, mb, 1, 2, 1, 1.0f, 0.0);
    assert_true(isfinite(l) && l < 1e-30 + 1e-34);
    /* the token mean and its adjoint */
    const float x[2 * 3 * 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    float mean[4], dx[12] = {0};
    k->token_mean_fwd(mean, x, 2, 3, 2, 1.0f / 3);
    assert_true(fabs(mean[0] - 3) < 1e-6 && fabs(mean[1] - 4) < 1e-6 && fabs(mean[2] - 9) < 1e-6 && fabs(mean[3] - 10) < 1e-6);
    const float dm[4] = {3, 6, 9, 12};
    k->token_mean_bwd(dx, dm, 2, 3, 2, 1.0f / 3);
    assert_true(dx[0] == 1 && dx[1] == 2 && dx[4] == 1 && dx[6] == 3 && dx[11] == 4);
}

static void whole_model_fd(ChannelMode mode) { whole_model_fd_cfg(tu_tiny_config(mode), vit_mode_name(mode)); }
static void test_fd_agg(void **s) { (void)s, whole_model_fd(CH_AGG); }
static void test_fd_multi(void **s) { (void)s, whole_model_fd(CH_MULTI); }

/* D-CHAG: 8 channels in 2 blocks, each aggregated over groups of 2 then over its 2 group tokens,
 * then the final cross-attention over the 2 partial tokens; and 4 one-level blocks of 2 */
static void test_fd_chag(void **s) {
    (void)s;
    for (int k = 0; k < 2; k++) {
        VitConfig c = tu_tiny_config(CH_AGG);
        c.V = c.Vo = 8;
        c.chag = k ? 4 : 2;
        c.chag_group = k ? 0 : 2;
        vit_config_set_default_names(&c);
        char err[256];
        assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
        assert_int_equal(vit_chag_levels(&c), k ? 1 : 2);
        whole_model_fd_cfg(c, k ? "D-CHAG, 4 blocks, one level" : "D-CHAG, 2 blocks, groups of 2");
    }
    VitConfig c = tu_tiny_config(CH_AGG); /* the masked autoencoder over D-CHAG's tokens */
    c.V = c.Vo = 8, c.chag = 2, c.mae_keep = 1, c.mae_depth = 1;
    vit_config_set_default_names(&c);
    char err[256];
    assert_int_equal(vit_config_check(&c, err, sizeof err), 0);
    whole_model_fd_cfg(c, "D-CHAG masked autoencoder");
}

/* --recompute: only the block inputs kept, every block's activations recomputed before its
 * backward pass: the same loss and the same gradient bits (the same kernels in the same order),
 * in less activation memory */
static void test_recompute(void **s) {
    (void)s;
    for (int mode = 0; mode < 2; mode++) {
        VitConfig c = tu_tiny_config((ChannelMode)mode);
        c.depth = 3;
        Vit a, b;
        vit_init(&a, &c, NULL, 2, kernels_cpu());
        c.recompute = 1;
        vit_init(&b, &c, NULL, 2, kernels_cpu());
        Batch ba, bb;
        float *ma, *mb;
        randomize(&a, &ba, &ma, 17);
        randomize(&b, &bb, &mb, 17);
        memset(a.grad_mem, 0, sizeof(float) * (size_t)a.n_params);
        memset(b.grad_mem, 0, sizeof(float) * (size_t)b.n_params);
        float la = vit_forward(&a, &ba), lb = vit_forward(&b, &bb);
        vit_backward(&a, &ba);
        vit_backward(&b, &bb);
        assert_true(la == lb);
        assert_memory_equal(a.grad_mem, b.grad_mem, sizeof(float) * (size_t)a.n_params);
        print_message("recompute (%s): the same loss and gradients, activations %.1f -> %.1f KiB\n",
                      vit_mode_name((ChannelMode)mode), a.act_floats / 256.0, b.act_floats / 256.0);
        assert_true(b.act_floats < a.act_floats);
        free(ma), free(mb);
        vit_free(&a), vit_free(&b);
        vit_config_free(&c);
    }
}

int main(void) {
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_agg),
        cmocka_unit_test(test_fd_multi),
        cmocka_unit_test(test_fd_chag),
        cmocka_unit_test(test_fd_reslim),
        cmocka_unit_test(test_fd_classify),
        cmocka_unit_test(test_fd_mae),
        cmocka_unit_test(test_fd_groups),
        cmocka_unit_test(test_class_loss_values),
        cmocka_unit_test(test_recompute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
