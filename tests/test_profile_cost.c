/* Tests for src/kernels/profile_cost.c and the counting of src/kernels/profile.c: the flops and
 * least bytes of single calls against hand counts, and, through the profiled kernel table, a
 * tiny model's forward pass whose counted linear and attention flops must add up to the model's
 * own FLOP count (vit_flops_per_sample) less the parts that are not products. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels/kernels.h"
#include "kernels/profile_cost.h"
#include "model/vit.h"
#include "util_model.h"

static void cost_is(OpCost c, double flops, double bytes) {
    assert_true(c.flops == flops);
    assert_true(c.bytes == bytes);
}

static void test_cost_linear(void **state) {
    (void)state;
    /* out[3,7] = in[3,5] W[7,5]^T + b[7]: 2*3*5*7 flops; 15 + 35 + 21 + 7 floats */
    cost_is(cost_linear_fwd(3, 5, 7, 1, 0), 210, 4 * 78);
    cost_is(cost_linear_fwd(3, 5, 7, 0, 0), 210, 4 * 71);
    cost_is(cost_linear_fwd(3, 5, 7, 1, 1), 210, 4 * 99);   /* out read too */
    /* dout 21; din: W 35 + din 2*15; dw: in 15 + dw 2*35; db 2*7 */
    cost_is(cost_linear_bwd(1, 1, 1, 3, 5, 7), 420, 4 * (21 + 65 + 85 + 14));
    cost_is(cost_linear_bwd(1, 0, 0, 3, 5, 7), 210, 4 * (21 + 65));
    cost_is(cost_linear_bwd(0, 1, 1, 3, 5, 7), 210, 4 * (21 + 85 + 14));
}

static void test_cost_attention(void **state) {
    (void)state;
    const AttnDims dm = {.B = 2, .NH = 3, .d = 4, .Sq = 5, .Sk = 6};
    /* 4 B NH Sq Sk d; q, o 5*4 and k, v 6*4 per (b, h), lse 5 */
    cost_is(cost_attn_fwd(&dm), 4.0 * 6 * 5 * 6 * 4, 4.0 * 6 * (2 * 20 + 2 * 24 + 5));
    /* 2.5 times; dout, q, o, dq twice 5*4 each, k, v, dk twice, dv twice 6*4 each, lse */
    cost_is(cost_attn_bwd(&dm), 10.0 * 6 * 5 * 6 * 4, 4.0 * 6 * (5 * 20 + 6 * 24 + 5));
    cost_is(cost_attn_merge(&dm), 6.0 * 5 * (3 * 4 + 10), 4.0 * 6 * 5 * (3 * 4 + 3));
}

static void test_cost_elementwise(void **state) {
    (void)state;
    cost_is(cost_zero(10), 0, 40);
    cost_is(cost_copy(10), 0, 80);
    cost_is(cost_add_inplace(10), 10, 120);
    cost_is(cost_adamw(10), 160, 280);
    cost_is(cost_sumsq(10), 20, 40);
    cost_is(cost_rearrange(2, 3, 4, 5), 0, 4.0 * 2 * 120);
    /* conv 3x3: 18 B Cin Cout H W; in 2*3*16, w 9*3*5, bias 5, out 2*5*16 */
    cost_is(cost_conv3x3_fwd(1, 2, 3, 5, 4, 4), 18.0 * 2 * 3 * 5 * 16 + 2 * 5 * 16, 4.0 * (96 + 135 + 5 + 160));
    cost_is(cost_conv3x3_bwd(0, 0, 0, 2, 3, 5, 4, 4), 0, 4.0 * 160);   /* only dout read */
    cost_is(cost_pixel_shuffle_fwd(1, 2, 3, 3, 2), 0, 4.0 * 2 * 72);
    cost_is(cost_mse_loss(0, 1, 2, 3, 4), 7.0 * 24, 4.0 * (3 * 24 + 3));
    cost_is(cost_mse_loss(1, 1, 2, 3, 4), 7.0 * 24, 4.0 * (4 * 24 + 3));
}

static double flops_of(const char *name) {
    KernelProfileOp ops[KERNELS_PROFILE_MAX_OPS];
    const int n = kernels_profile_ops(ops, KERNELS_PROFILE_MAX_OPS);
    for (int i = 0; i < n; i++)
        if (!strcmp(ops[i].name, name)) return ops[i].flops;
    return 0;
}

/* One forward pass of the tiny model through the profiled table: the products the profile counts
 * (every linear layer and the blocks' attention) are the model's FLOPs without the patch
 * embedding, the variable attention of agg mode (4 L V D per sample), and with the aggregation
 * query's projection (2 D D, once per batch, not per sample). */
static void model_products(ChannelMode mode) {
    VitConfig c = tu_tiny_config(mode);
    const int B = 2;
    Vit m;
    vit_init(&m, &c, NULL, B, kernels_profiled(kernels_cpu()));
    vit_init_params(&m, 3);
    const int64_t img = (int64_t)B * c.V * c.H * c.W;
    float *mem = calloc((size_t)(3 * img + B + c.H), sizeof(float));
    for (int64_t i = 0; i < img; i++) mem[i] = 0.01f * (float)(i % 17), mem[2 * img + i] = 1;
    for (int i = 0; i < c.H; i++) mem[3 * img + B + i] = 1;
    Batch b = {.B = B, .x = mem, .y = mem + img, .mask = mem + 2 * img, .lead = mem + 3 * img,
               .wlat = mem + 3 * img + B};
    kernels_profile_reset();
    vit_forward(&m, &b);
    const double L = (double)(c.H / c.p) * (c.W / c.p), D = c.D;
    double want = B * (vit_flops_per_sample(&c) - 2.0 * c.V * L * c.p * c.p * D);
    if (mode == CH_AGG) want += -B * 4.0 * L * c.V * D + 2 * D * D;
    const double got = flops_of("linear_fwd") + flops_of("attn_fwd");
    assert_true(got > 0);
    assert_true(got == want);
    free(mem);
    vit_free(&m);
    vit_config_free(&c);
}

static void test_model_products_agg(void **state) {
    (void)state;
    model_products(CH_AGG);
}
static void test_model_products_multi(void **state) {
    (void)state;
    model_products(CH_MULTI);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cost_linear),
        cmocka_unit_test(test_cost_attention),
        cmocka_unit_test(test_cost_elementwise),
        cmocka_unit_test(test_model_products_agg),
        cmocka_unit_test(test_model_products_multi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
