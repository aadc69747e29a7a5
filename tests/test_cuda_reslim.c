/* The CUDA kernels of the Reslim head (3x3 convolution, pixel shuffle, total variation) against
 * their CPU twins on the same inputs, from a single cell to the Reslim sizes; the tolerances are
 * explained where they are set.
 * Skips, saying why, where there is no GPU or lvit was built without CUDA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/ops_cpu.h"
#include "kernels/kernels.h"
#include "kernels/cuda/ops_cuda.h"
#include "util_cuda.h"
#include "util_test.h"

/* ---------------------------------------------------------------- the Reslim head
 * 3x3 convolution, pixel shuffle and total variation against the CPU kernels. Tolerances (of
 * each tensor's scale): the forward and din are float sums of 9*Cin (9*Cout) products in
 * another order (the CPU's in BLAS): 1e-5; dw and dbias sum B*H*W terms, in double on the GPU
 * and in float (BLAS, blocked) on the CPU: 1e-5 still covers 65536 terms; pixel shuffle is a
 * permutation (bitwise); the TV gradient is the same float expression (1e-6: nvcc contracts
 * the final multiply-add into an FMA), the loss a double sum in another order (1e-6). Each
 * gradient starts pre-filled (the backward accumulates); the GPU pass runs twice for the bits. */
static void test_upsample(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    enum { CV_OUT, CV_DIN, CV_DW, CV_DB, CV_BITS, PS_FWD, PS_BWD, TV_LOSS, TV_GRAD, UP_N };
    TuMargin m[UP_N] = {{.what = "conv3x3 out", .tol = 1e-5},          {.what = "conv3x3 din", .tol = 1e-5},
                        {.what = "conv3x3 dw", .tol = 1e-5},           {.what = "conv3x3 dbias", .tol = 1e-5},
                        {.what = "conv3x3 twice (bits)", .tol = 0},    {.what = "pixel_shuffle out (bits)", .tol = 0},
                        {.what = "pixel_shuffle din (bits)", .tol = 0}, {.what = "tv_loss loss", .tol = 1e-6},
                        {.what = "tv_loss dimg", .tol = 1e-6}};
    /* B, Cin, Cout, H, W: a single cell, odd sizes, several CPU bands, Cout > Cin, the Reslim sizes */
    const int cfg[][5] = {{1, 1, 1, 1, 1}, {2, 3, 4, 5, 7}, {2, 16, 5, 40, 300}, {1, 3, 40, 23, 65},
                          {1, 16, 16, 128, 256}, {2, 64, 3, 32, 64}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            const int B = cfg[c][0], Ci = cfg[c][1], Co = cfg[c][2], H = cfg[c][3], W = cfg[c][4];
            const int64_t ni = (int64_t)B * Ci * H * W, nw = (int64_t)Co * Ci * 9, no = (int64_t)B * Co * H * W;
            char name[96];
            snprintf(name, sizeof name, "B=%d Cin=%d Cout=%d %dx%d%s", B, Ci, Co, H, W, with_bias ? " bias" : "");
            float *in = tu_falloc(ni), *w = tu_falloc(nw), *bias = tu_falloc(Co), *dout = tu_falloc(no);
            float *out = tu_falloc(no), *din = tu_falloc(ni), *dw = tu_falloc(nw), *db = tu_falloc(Co);
            float *ws = tu_falloc(conv3x3_ws_floats(B, Ci, Co, H, W));
            tu_fill_normal(in, ni, 1 + c, 0, 1), tu_fill_normal(w, nw, 2 + c, 0, 0.3f), tu_fill_normal(bias, Co, 3 + c, 0, 1);
            tu_fill_normal(dout, no, 4 + c, 0, 1), tu_fill_const(din, ni, 0.25f), tu_fill_const(dw, nw, -0.5f);
            tu_fill_const(db, Co, 0.125f);
            float *gin = tu_dev_from(in, ni), *gw = tu_dev_from(w, nw), *gb = tu_dev_from(bias, Co), *gdo = tu_dev_from(dout, no);
            float *gdin = tu_dev_from(din, ni), *gdw = tu_dev_from(dw, nw), *gdb = tu_dev_from(db, Co);
            float *gdin2 = tu_dev_from(din, ni), *gdw2 = tu_dev_from(dw, nw), *gdb2 = tu_dev_from(db, Co);
            float *gout = cuda_alloc(sizeof(float) * (size_t)no);
            conv3x3_fwd_cpu(out, in, w, with_bias ? bias : NULL, B, Ci, Co, H, W, ws);
            conv3x3_fwd_cuda(gout, gin, gw, with_bias ? gb : NULL, B, Ci, Co, H, W);
            conv3x3_bwd_cpu(din, dw, db, dout, in, w, B, Ci, Co, H, W, ws);
            conv3x3_bwd_cuda(gdin, gdw, gdb, gdo, gin, gw, B, Ci, Co, H, W);
            conv3x3_bwd_cuda(gdin2, gdw2, gdb2, gdo, gin, gw, B, Ci, Co, H, W);
            const struct { const float *dev, *dev2, *ref; int64_t n; int k; } chk[] = {
                {gout, NULL, out, no, CV_OUT}, {gdin, gdin2, din, ni, CV_DIN}, {gdw, gdw2, dw, nw, CV_DW},
                {gdb, gdb2, db, Co, CV_DB}};
            for (size_t k = 0; k < 4; k++) {
                float *h = tu_host_of(chk[k].dev, chk[k].n);
                tu_margin_check(&m[chk[k].k], h, chk[k].ref, chk[k].n, 1e-30, name);
                if (chk[k].dev2) {
                    float *h2 = tu_host_of(chk[k].dev2, chk[k].n);
                    tu_margin_bits(&m[CV_BITS], h2, h, chk[k].n, name);
                    free(h2);
                }
                free(h);
            }
            cuda_free(gin), cuda_free(gw), cuda_free(gb), cuda_free(gdo), cuda_free(gdin), cuda_free(gdw), cuda_free(gdb);
            cuda_free(gdin2), cuda_free(gdw2), cuda_free(gdb2), cuda_free(gout);
            free(in), free(w), free(bias), free(dout), free(out), free(din), free(dw), free(db), free(ws);
        }
    /* pixel shuffle: B, C, H, W, r */
    const int ps[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 2}, {1, 2, 3, 4, 3}, {2, 5, 64, 128, 4}};
    for (size_t c = 0; c < sizeof ps / sizeof ps[0]; c++) {
        const int B = ps[c][0], C = ps[c][1], H = ps[c][2], W = ps[c][3], r = ps[c][4];
        const int64_t n = (int64_t)B * C * H * W * r * r;
        char name[64];
        snprintf(name, sizeof name, "B=%d C=%d %dx%d r=%d", B, C, H, W, r);
        float *in = tu_falloc(n), *out = tu_falloc(n), *din = tu_falloc(n);
        tu_fill_normal(in, n, 10 + c, 0, 1), tu_fill_const(din, n, 0.5f);
        float *gin = tu_dev_from(in, n), *gdin = tu_dev_from(din, n), *gout = cuda_alloc(sizeof(float) * (size_t)n);
        pixel_shuffle_fwd_cpu(out, in, B, C, H, W, r);
        pixel_shuffle_fwd_cuda(gout, gin, B, C, H, W, r);
        float *h = tu_host_of(gout, n);
        tu_margin_bits(&m[PS_FWD], h, out, n, name);
        free(h);
        pixel_shuffle_bwd_cpu(din, out, B, C, H, W, r); /* out as the upstream gradient */
        pixel_shuffle_bwd_cuda(gdin, gout, B, C, H, W, r);
        h = tu_host_of(gdin, n);
        tu_margin_bits(&m[PS_BWD], h, din, n, name);
        free(h);
        cuda_free(gin), cuda_free(gdin), cuda_free(gout);
        free(in), free(out), free(din);
    }
    /* total variation: B, V, H, W; values on a grid of eighths (many ties) */
    const int tv[][4] = {{1, 1, 1, 1}, {1, 1, 1, 9}, {2, 3, 5, 7}, {2, 5, 128, 256}, {1, 2, 321, 97}};
    for (size_t c = 0; c < sizeof tv / sizeof tv[0]; c++)
        for (int weighted = 0; weighted < 2; weighted++) {
            const int B = tv[c][0], V = tv[c][1], H = tv[c][2], W = tv[c][3];
            const int64_t n = (int64_t)B * V * H * W;
            char name[64];
            snprintf(name, sizeof name, "B=%d V=%d %dx%d%s", B, V, H, W, weighted ? " weighted" : "");
            float *img = tu_falloc(n), *g = tu_falloc(n), vw[5] = {0.5f, 1.25f, 2.0f, 0.75f, 1.0f};
            for (int64_t i = 0; i < n; i++) img[i] = (float)((i * 2654435761u) % 17) * 0.125f - 1.0f;
            tu_fill_const(g, n, 0.25f);
            float *gimg = tu_dev_from(img, n), *gg = tu_dev_from(g, n), *gvw = tu_dev_from(vw, V);
            const double denom = 0.5 * (double)n;
            const float a = tv_loss_cpu(g, img, weighted ? vw : NULL, B, V, H, W, denom, 0.7f);
            const float b = tv_loss_cuda(gg, gimg, weighted ? gvw : NULL, B, V, H, W, denom, 0.7f);
            tu_margin_check(&m[TV_LOSS], &b, &a, 1, 1e-30, name);
            float *h = tu_host_of(gg, n);
            tu_margin_check(&m[TV_GRAD], h, g, n, 1e-30, name);
            free(h);
            cuda_free(gimg), cuda_free(gg), cuda_free(gvw);
            free(img), free(g);
        }
    assert_int_equal(tu_margins_report(m, UP_N), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upsample),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
