/* The CPU kernel table as a whole: every entry filled, the memory functions (aligned, zeroed,
 * copy / upload / download / zero), bitwise determinism of every self-written reduction across
 * thread counts, and the checkers of util_test.c themselves (they do fail). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"
#include "util_ops.h"
#include "util_test.h"

static const Kernels *K;

/* ================================================================ table and memory */

static void test_table_complete(void **state) {
    (void)state;
    assert_string_equal(K->name, "cpu");
#define HAS(f) assert_true(K->f != NULL)
    HAS(alloc), HAS(free), HAS(zero), HAS(copy), HAS(upload), HAS(download);
    HAS(linear_fwd), HAS(linear_bwd), HAS(layernorm_fwd), HAS(layernorm_bwd);
    HAS(gelu_fwd), HAS(gelu_bwd), HAS(add_inplace), HAS(lerp), HAS(patch_embed_fwd);
    HAS(patch_embed_bwd), HAS(pos_lead_fwd), HAS(pos_lead_bwd), HAS(var_attn_fwd);
    HAS(var_attn_bwd), HAS(unpatchify), HAS(patchify), HAS(mse_loss), HAS(sumsq), HAS(scale), HAS(adamw);
    HAS(attn_ws_floats), HAS(attn_fwd), HAS(attn_bwd), HAS(attn_merge);
    HAS(conv3x3_fwd), HAS(conv3x3_bwd), HAS(pixel_shuffle_fwd), HAS(pixel_shuffle_bwd), HAS(tv_loss);
#undef HAS
}

static void test_memory(void **state) {
    (void)state;
    const int64_t n = ((int64_t)1 << 21) + 37; /* crosses the parallel chunk size */
    float *d = K->alloc((size_t)n * sizeof(float));
    assert_non_null(d);
    assert_int_equal((uintptr_t)d % 64, 0);
    for (int64_t i = 0; i < n; i++)
        if (d[i] != 0.0f) fail_msg("alloc not zeroed at %lld", (long long)i);
    float *h = tu_rnd(n, 1), *back = tu_falloc(n);
    K->upload(d, h, n);
    K->download(back, d, n);
    assert_memory_equal(back, h, (size_t)n * sizeof(float));
    float *d2 = K->alloc((size_t)n * sizeof(float));
    K->copy(d2, d, n);
    assert_memory_equal(d2, h, (size_t)n * sizeof(float));
    K->zero(d2 + 5, n - 10);
    assert_true(d2[4] == h[4] && d2[n - 5] == h[n - 5]);
    for (int64_t i = 5; i < n - 5; i++)
        if (d2[i] != 0.0f) fail_msg("zero missed %lld", (long long)i);
    float *small = K->alloc(3); /* odd byte counts still come back aligned */
    assert_int_equal((uintptr_t)small % 64, 0);
    K->free(small);
    K->free(d2);
    K->free(d);
    free(h);
    free(back);
}

/* ================================================================ determinism */

/* Returns the previous setting. */
static int set_threads(int n) {
#ifdef _OPENMP
    int old = omp_get_max_threads();
    omp_set_num_threads(n);
    return old;
#else
    (void)n;
    return 1;
#endif
}

/* Runs every self-written reduction (sizes above the parallel thresholds) and returns the
 * concatenated results; the caller compares two thread counts bitwise. */
enum { DM = 2001, DN = 41, DC = 67, DB = 2, DL = 301, DV = 5, DNH = 4, DD = 32 };
enum { DH = 64, DW = 128, DP = 4, DVO = 3 };
static float *reductions(void) {
    const int64_t nimg = (int64_t)DB * DVO * DH * DW, nkv = (int64_t)DB * DV * DL * 2 * DD;
    const int64_t nout = DN + 2 * DC + DD + 2 + DL * DD + 2 * DD + DV * DD + 1 + DVO;
    float *res = tu_falloc(nout), *o = res;
    float *x = tu_rnd((int64_t)DM * DC, 70), *dout = tu_rnd((int64_t)DM * DC, 71);
    K->linear_bwd(NULL, NULL, o, dout, x, NULL, DM, DC, DN); /* dbias over DM rows */
    o += DN;
    float *w = tu_rnd(DC, 72), *b = tu_rnd(DC, 73), *y = tu_falloc((int64_t)DM * DC);
    float *mean = tu_falloc(DM), *rstd = tu_falloc(DM);
    K->layernorm_fwd(y, mean, rstd, x, w, b, DM, DC, 1e-5f);
    K->layernorm_bwd(NULL, o, o + DC, dout, x, w, mean, rstd, DM, DC);
    o += 2 * DC;
    float *q = tu_rnd(DD, 74), *kv = tu_rnd(nkv, 75), *probs = tu_falloc((int64_t)DB * DL * DNH * DV);
    float *ao = tu_falloc((int64_t)DB * DL * DD), *ad = tu_rnd((int64_t)DB * DL * DD, 76);
    K->var_attn_fwd(ao, probs, q, kv, DB, DL, DV, DNH, DD);
    K->var_attn_bwd(o, NULL, ad, probs, q, kv, DB, DL, DV, DNH, DD);
    o += DD;
    float *pred = tu_rnd(nimg, 77), *yy = tu_rnd(nimg, 78), *ws = tu_falloc(nimg), wl[DH];
    float *dpred = tu_falloc(nimg);
    tu_fill_uniform(wl, DH, 79, 0.1f, 1.5f);
    *o++ = K->mse_loss(dpred, pred, yy, NULL, wl, DB, DVO, DH, DW, DP, 0, 1.0f, 0.0, ws);
    *o++ = (float)K->sumsq(kv, nkv);
    float lead[DB] = {0.06f, 0.12f};
    K->pos_lead_bwd(o, o + DL * DD, o + DL * DD + DD, kv, lead, DB, 3 * DL, DL, DD);
    o += DL * DD + 2 * DD;
    const int pH = 32, pW = 64, pp = 2, pL = (pH / pp) * (pW / pp);
    float *pws = tu_falloc(patch_embed_ws_floats(DB, DV, pH, pW, pp));
    float *dtok = tu_rnd((int64_t)DB * DV * pL * DD, 80);
    K->patch_embed_bwd(NULL, o, NULL, dtok, NULL, DB, DV, pH, pW, pp, DD, pws);
    o += DV * DD;
    *o++ = K->tv_loss(NULL, pred, wl, DB, DVO, DH, DW, 1000.0, 1.0f); /* wl: any V weights */
    float *cws = tu_falloc(conv3x3_ws_floats(DB, 1, DVO, DH, DW));
    K->conv3x3_bwd(NULL, NULL, o, yy, NULL, NULL, DB, 1, DVO, DH, DW, cws); /* dbias only */
    free(cws);
    free(x), free(dout), free(w), free(b), free(y), free(mean), free(rstd), free(q), free(kv);
    free(probs), free(ao), free(ad), free(pred), free(yy), free(ws), free(pws), free(dtok);
    free(dpred);
    return res;
}

static void test_determinism(void **state) {
    (void)state;
    const size_t bytes = sizeof(float) * (DN + 2 * DC + DD + 2 + DL * DD + 2 * DD + DV * DD + 1 + DVO);
    int old = set_threads(1);
    float *a = reductions();
    set_threads(3);
    float *b = reductions();
    float *c = reductions();
    set_threads(old);
    assert_memory_equal(a, b, bytes);
    assert_memory_equal(b, c, bytes);
    free(a), free(b), free(c);
}

/* ================================================================ the checkers themselves */

static double quad_loss(void *p) {
    double *x = p;
    return x[0] * x[0] + 3.0 * x[1];
}

static double quad_loss_f(void *p) {
    float *x = p;
    return (double)(x[0] * x[0] + 3.0f * x[1]);
}

static void test_checkers_fail(void **state) {
    (void)state;
    int old = tu_set_quiet(1);
    float got[3] = {1.0f, 2.0f, 3.0f};
    double ref[3] = {1.0, 2.0, 3.0001};
    assert_true(tu_close("ok", got, ref, 3, 1e-4, __FILE__, __LINE__));
    assert_false(tu_close("off", got, ref, 3, 1e-5, __FILE__, __LINE__));
    ref[0] = NAN;
    assert_false(tu_close("nan", got, ref, 3, 1.0, __FILE__, __LINE__));
    double x[2] = {0.7, -0.2};
    float good[2] = {1.4f, 3.0f}, bad[2] = {1.4f, 3.001f};
    assert_true(tu_grad_check("good", quad_loss, x, x, good, 2, 8, 1e-5, 1e-5, __FILE__, __LINE__));
    assert_false(tu_grad_check("bad", quad_loss, x, x, bad, 2, 8, 1e-5, 1e-5, __FILE__, __LINE__));
    float xf[2] = {0.7f, -0.2f};
    assert_true(tu_grad_check_f("good", quad_loss_f, xf, xf, good, 2, 8, 1e-2f, 1e-4, __FILE__,
                                __LINE__));
    assert_false(tu_grad_check_f("bad", quad_loss_f, xf, xf, bad, 2, 8, 1e-2f, 1e-4, __FILE__,
                                 __LINE__));
    tu_set_quiet(old);
}

int main(void) {
    K = kernels_cpu();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkers_fail),
        cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
