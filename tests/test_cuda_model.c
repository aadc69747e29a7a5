/* The whole model through the CUDA kernel table against the CPU one: both channel modes and a
 * Reslim model (whole grid and TILES windows), the loss and every gradient, 20 AdamW steps, the
 * same bits twice.
 * Skips, saying why, where there is no GPU or lvit was built without CUDA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/vit.h"
#include "optim/optim.h"
#include "util_cuda.h"
#include "util_test.h"

/* The whole model through the CUDA kernel table against the CPU one (fp32 on both): the same
 * parameters and batch, the loss and every gradient after one forward and backward, then 20
 * AdamW steps' losses, then the same gradients bit for bit from a second GPU pass. Tolerances:
 * the two sides sum in other orders through 2 blocks, the aggregation and the head (GEMMs of K up
 * to 4D, attention over S keys), so gradients agree to about 1e-5 of each tensor's scale; 2e-4 of
 * the largest gradient is the limit, the loss 1e-5. */
static void whole_model_cfg(VitConfig c, const char *what) {
    vit_config_set_default_names(&c);
    char err[256];
    const Kernels *kc = kernels_cpu(), *kg = kernels_cuda(err, sizeof err);
    assert_non_null(kg);
    const int B = 2;
    Vit mc, mg;
    vit_init(&mc, &c, NULL, B, kc);
    vit_init(&mg, &c, NULL, B, kg);
    vit_init_params(&mc, 7);
    vit_init_params(&mg, 7);
    /* Reslim: the inputs on the coarse grid (or windows of it), targets and weights on the fine one */
    const int sc = vit_scale(&c), h = c.tile_h ? c.tile_h : c.H, w = c.tile_w ? c.tile_w : c.W, Hf = sc * h;
    const int64_t nx = (int64_t)B * c.V * h * w, ny = (int64_t)B * c.Vo * Hf * sc * w, nb = nx + 2 * ny + B + Hf + c.Vo;
    float *host = tu_falloc(nb);
    tu_fill_normal(host, nx + ny, 5, 0.0f, 1.0f);
    for (int64_t i = 0; i < ny; i++) host[nx + ny + i] = (i % 7) ? 1.0f : 0.0f; /* some cells masked */
    for (int i = 0; i < B; i++) host[nx + 2 * ny + i] = 0.06f * (i + 1);
    for (int i = 0; i < Hf; i++) host[nx + 2 * ny + B + i] = 0.5f + (float)i / Hf;
    for (int v = 0; v < c.Vo; v++) host[nx + 2 * ny + B + Hf + v] = 1.0f + 0.5f * v;
    float *bmem_c = kc->alloc((size_t)nb * sizeof(float)), *bmem_g = kg->alloc((size_t)nb * sizeof(float));
    kc->upload(bmem_c, host, nb);
    kg->upload(bmem_g, host, nb);
    static const int r0[2] = {0, 2}, c0[2] = {2, 6}; /* windows (the second wraps when the grid is 8 wide) */
    Batch bc = {.B = B, .x = bmem_c, .y = bmem_c + nx, .mask = bmem_c + nx + ny, .lead = bmem_c + nx + 2 * ny,
                .wlat = bmem_c + nx + 2 * ny + B};
    Batch bg = {.B = B, .x = bmem_g, .y = bmem_g + nx, .mask = bmem_g + nx + ny, .lead = bmem_g + nx + 2 * ny,
                .wlat = bmem_g + nx + 2 * ny + B};
    if (sc > 1) {
        bc.tv_weight = bg.tv_weight = 0.02f;
        bc.vw = bmem_c + nx + 2 * ny + B + Hf, bg.vw = bmem_g + nx + 2 * ny + B + Hf;
    }
    if (c.tile_h) bc.tile_r0 = bg.tile_r0 = r0, bc.tile_c0 = bg.tile_c0 = c0;
    const int64_t np = mc.n_params;
    float *g1 = tu_falloc(np), *g2 = tu_falloc(np);
    kc->zero(mc.grad_mem, np);
    kg->zero(mg.grad_mem, np);
    float lc = vit_forward(&mc, &bc), lg = vit_forward(&mg, &bg);
    vit_backward(&mc, &bc);
    vit_backward(&mg, &bg);
    kg->download(g1, mg.grad_mem, np);
    double scale = 0;
    for (int64_t i = 0; i < np; i++) scale = fmax(scale, fabs(mc.grad_mem[i]));
    double worst = 0;
    for (int64_t i = 0; i < np; i++) worst = fmax(worst, fabs(g1[i] - mc.grad_mem[i]) / scale);
    fprintf(stderr, "whole model (%s): loss GPU %.9g CPU %.9g; gradients max error %.2e of the largest (%.3g)\n",
            what, lg, lc, worst, scale);
    assert_true(fabs(lg - lc) <= 1e-5 * fabs(lc));
    assert_true(worst <= 2e-4);
    /* determinism: the same pass again gives the same bits */
    kg->zero(mg.grad_mem, np);
    float lg2 = vit_forward(&mg, &bg);
    vit_backward(&mg, &bg);
    kg->download(g2, mg.grad_mem, np);
    assert_true(lg2 == lg);
    assert_memory_equal(g1, g2, sizeof(float) * (size_t)np);
    /* 20 AdamW steps on the batch: the same losses */
    OptConfig oc = opt_default();
    oc.total = 20;
    oc.lr = 2e-3f;
    AdamW oc_c, oc_g;
    adamw_init(&oc_c, &mc, &oc);
    adamw_init(&oc_g, &mg, &oc);
    double wl = 0;
    for (int s = 0; s < 20; s++) {
        kc->zero(mc.grad_mem, np);
        kg->zero(mg.grad_mem, np);
        float a = vit_forward(&mc, &bc), b = vit_forward(&mg, &bg);
        vit_backward(&mc, &bc);
        vit_backward(&mg, &bg);
        adamw_step(&oc_c, &mc, mc.grad_mem, opt_lr_at(&oc, s), opt_grad_norm(&mc));
        adamw_step(&oc_g, &mg, mg.grad_mem, opt_lr_at(&oc, s), opt_grad_norm(&mg));
        wl = fmax(wl, fabs(a - b) / fabs(a));
    }
    fprintf(stderr, "whole model (%s): 20 AdamW steps, losses within %.2e (relative)\n", what, wl);
    assert_true(wl <= 1e-4);
    adamw_free(&oc_c, &mc);
    adamw_free(&oc_g, &mg);
    kc->free(bmem_c);
    kg->free(bmem_g);
    free(host), free(g1), free(g2);
    vit_free(&mc);
    vit_free(&mg);
    vit_config_free(&c);
}

static void whole_model(ChannelMode mode) {
    VitConfig c = {.V = 3, .Vo = 3, .H = 16, .W = 32, .p = 2, .D = 64, .depth = 2, .NH = 2, .dec_depth = 1,
                   .mlp_ratio = 4, .mode = mode};
    whole_model_cfg(c, vit_mode_name(mode));
}

static void test_whole_model(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    whole_model(CH_AGG);
    whole_model(CH_MULTI);
    /* Reslim x2 (2 outputs, 1 static input), whole grid and TILES windows of 4x4 in an 8x8 grid */
    VitConfig r = {.V = 3, .Vo = 2, .H = 8, .W = 8, .p = 2, .D = 64, .depth = 2, .NH = 2, .dec_depth = 1, .mlp_ratio = 4,
                   .mode = CH_AGG, .scale = 2, .res_width = 4};
    whole_model_cfg(r, "Reslim x2");
    r.tile_h = r.tile_w = 4;
    whole_model_cfg(r, "Reslim x2, TILES 4x4 windows");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
