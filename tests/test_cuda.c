/* The CUDA kernels (src/kernels/cuda) against their CPU twins on the same inputs, odd sizes
 * included. fp32 on both sides: the tolerances are float rounding (1e-6 relative to the scale),
 * looser where the two sides use different erf implementations (GELU: 2e-6), reduce in another
 * order (LayerNorm's input gradient) or chain a softmax and two dot products of up to 256
 * terms (variable aggregation: 1e-5). Skips, saying why, where
 * there is no GPU or lvit was built without CUDA. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/cpu/ops_cpu.h"
#include "kernels/kernels.h"
#include "kernels/cuda/ops_cuda.h"
#include "util_test.h"

static int have_gpu(void) {
    char err[512] = "";
    static int n = -1;
    if (n < 0) {
        n = cuda_device_count(err, sizeof err);
        if (n == 0) fprintf(stderr, "skip: %s\n", err);
        else {
            char name[256];
            cuda_device_name(name, sizeof name);
            fprintf(stderr, "GPU: %s\n", name);
        }
    }
    return n > 0;
}

static float *dev_from(const float *host, int64_t n) {
    float *d = cuda_alloc((size_t)n * sizeof(float));
    cuda_upload(d, host, n);
    return d;
}

static float *host_of(const float *dev, int64_t n) {
    float *h = tu_falloc(n);
    cuda_download(h, dev, n);
    return h;
}

static const int64_t SIZES[] = {1, 7, 255, 256, 257, 1000, 65537, 1 << 20};
enum { NSIZES = sizeof SIZES / sizeof SIZES[0] };

static void test_elementwise(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = SIZES[k];
        float *x = tu_falloc(n), *y = tu_falloc(n), *g = tu_falloc(n), *ref = tu_falloc(n);
        tu_fill_normal(x, n, 1 + k, 0.0f, 3.0f);
        tu_fill_normal(y, n, 100 + k, 0.5f, 1.0f);
        tu_fill_normal(g, n, 200 + k, 0.0f, 1.0f);
        float *dx = dev_from(x, n), *dy = dev_from(y, n), *dg = dev_from(g, n);
        /* gelu forward, backward (accumulating) */
        gelu_fwd_cpu(ref, x, n);
        gelu_fwd_cuda(dy, dx, n);
        float *got = host_of(dy, n);
        TU_ASSERT_CLOSE_FF(got, ref, n, 2e-6);
        free(got);
        memcpy(ref, y, sizeof(float) * (size_t)n);
        cuda_upload(dy, y, n);
        gelu_bwd_cpu(ref, g, x, n);
        gelu_bwd_cuda(dy, dg, dx, n);
        got = host_of(dy, n);
        TU_ASSERT_CLOSE_FF(got, ref, n, 2e-6);
        free(got);
        /* add, lerp, scale (nvcc contracts a*(x-y)+y into an FMA, the C11 build does not) */
        memcpy(ref, y, sizeof(float) * (size_t)n);
        cuda_upload(dy, y, n);
        add_inplace_cpu(ref, x, n);
        add_inplace_cuda(dy, dx, n);
        lerp_cpu(ref, g, 0.1f, n);
        lerp_cuda(dy, dg, 0.1f, n);
        scale_cpu(ref, 0.37f, n);
        scale_cuda(dy, 0.37f, n);
        got = host_of(dy, n);
        TU_ASSERT_CLOSE_FF(got, ref, n, 1e-6);
        free(got);
        /* sum of squares in double, summed in another order */
        double a = sumsq_cpu(x, n), b = sumsq_cuda(dx, n);
        assert_true(fabs(a - b) <= 1e-9 * a);
        cuda_free(dx), cuda_free(dy), cuda_free(dg);
        free(x), free(y), free(g), free(ref);
    }
}

static void test_adamw(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = SIZES[k];
        float *p = tu_falloc(n), *m = tu_falloc(n), *v = tu_falloc(n), *g = tu_falloc(n);
        tu_fill_normal(p, n, 1 + k, 0.0f, 1.0f);
        tu_fill_normal(g, n, 2 + k, 0.0f, 1e-2f);
        float *dp = dev_from(p, n), *dm = dev_from(m, n), *dv = dev_from(v, n), *dgr = dev_from(g, n);
        for (int t = 1; t <= 3; t++) {
            float bc1 = 1.0f - powf(0.9f, (float)t), bc2 = 1.0f - powf(0.95f, (float)t);
            adamw_cpu(p, m, v, g, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
            adamw_cuda(dp, dm, dv, dgr, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
        }
        float *hp = host_of(dp, n), *hm = host_of(dm, n), *hv = host_of(dv, n);
        TU_ASSERT_CLOSE_FF(hp, p, n, 1e-6);
        TU_ASSERT_CLOSE_FF(hm, m, n, 1e-6);
        TU_ASSERT_CLOSE_FF(hv, v, n, 1e-6);
        free(hp), free(hm), free(hv);
        cuda_free(dp), cuda_free(dm), cuda_free(dv), cuda_free(dgr);
        free(p), free(m), free(v), free(g);
    }
}

static void test_layernorm(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    const int64_t shapes[][2] = {{1, 1}, {3, 7}, {5, 64}, {17, 768}, {300, 257}, {4096, 1024}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], C = shapes[s][1], n = M * C;
        float *x = tu_falloc(n), *w = tu_falloc(C), *b = tu_falloc(C), *dout = tu_falloc(n);
        tu_fill_normal(x, n, 1 + s, 2.0f, 3.0f); /* an offset mean, as residual streams have */
        tu_fill_normal(w, C, 2 + s, 1.0f, 0.2f);
        tu_fill_normal(b, C, 3 + s, 0.0f, 0.2f);
        tu_fill_normal(dout, n, 4 + s, 0.0f, 1.0f);
        float *out = tu_falloc(n), *mu = tu_falloc(M), *rs = tu_falloc(M);
        float *din = tu_falloc(n), *dw = tu_falloc(C), *db = tu_falloc(C);
        tu_fill_const(din, n, 0.25f); /* backward accumulates */
        tu_fill_const(dw, C, -0.5f);
        float *gx = dev_from(x, n), *gw = dev_from(w, C), *gb = dev_from(b, C), *gdo = dev_from(dout, n);
        float *gout = cuda_alloc(sizeof(float) * (size_t)n), *gmu = cuda_alloc(sizeof(float) * (size_t)M);
        float *grs = cuda_alloc(sizeof(float) * (size_t)M);
        float *gdin = dev_from(din, n), *gdw = dev_from(dw, C), *gdb = dev_from(db, C);
        layernorm_fwd_cpu(out, mu, rs, x, w, b, M, C, 1e-5f);
        layernorm_fwd_cuda(gout, gmu, grs, gx, gw, gb, M, C, 1e-5f);
        layernorm_bwd_cpu(din, dw, db, dout, x, w, mu, rs, M, C);
        layernorm_bwd_cuda(gdin, gdw, gdb, gdo, gx, gw, gmu, grs, M, C);
        const struct { const float *dev, *ref; int64_t n; double tol; } chk[] = {
            {gout, out, n, 1e-6}, {gmu, mu, M, 1e-6}, {grs, rs, M, 1e-6},
            {gdin, din, n, 1e-5}, {gdw, dw, C, 1e-6}, {gdb, db, C, 1e-6}};
        for (size_t c = 0; c < sizeof chk / sizeof chk[0]; c++) {
            float *h = host_of(chk[c].dev, chk[c].n);
            TU_ASSERT_CLOSE_FF(h, chk[c].ref, chk[c].n, chk[c].tol);
            free(h);
        }
        /* deterministic: the same call twice gives the same bits */
        float *again = dev_from(dw, C);
        cuda_upload(gdw, dw, C);
        layernorm_bwd_cuda(NULL, gdw, NULL, gdo, gx, gw, gmu, grs, M, C);
        layernorm_bwd_cuda(NULL, again, NULL, gdo, gx, gw, gmu, grs, M, C);
        float *h1 = host_of(gdw, C), *h2 = host_of(again, C);
        assert_memory_equal(h1, h2, sizeof(float) * (size_t)C);
        free(h1), free(h2);
        cuda_free(again);
        cuda_free(gx), cuda_free(gw), cuda_free(gb), cuda_free(gdo), cuda_free(gout), cuda_free(gmu), cuda_free(grs);
        cuda_free(gdin), cuda_free(gdw), cuda_free(gdb);
        free(x), free(w), free(b), free(dout), free(out), free(mu), free(rs), free(din), free(dw), free(db);
    }
}

static void test_pos_lead(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    const int cfg[][4] = {{1, 1, 1, 1}, {2, 6, 3, 5}, {3, 64, 16, 96}, {2, 4 * 128, 128, 256}}; /* B, T, L, D */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], D = cfg[c][3];
        int64_t T = cfg[c][1], L = cfg[c][2], n = B * T * D;
        float *x = tu_falloc(n), *pos = tu_falloc(L * D), *lw = tu_falloc(D), *lb = tu_falloc(D), *lead = tu_falloc(B);
        tu_fill_normal(x, n, 1, 0, 1), tu_fill_normal(pos, L * D, 2, 0, 1), tu_fill_normal(lw, D, 3, 0, 1);
        tu_fill_normal(lb, D, 4, 0, 1), tu_fill_uniform(lead, B, 5, 0.06f, 0.24f);
        float *gx = dev_from(x, n), *gpos = dev_from(pos, L * D), *glw = dev_from(lw, D), *glb = dev_from(lb, D);
        float *glead = dev_from(lead, B);
        pos_lead_fwd_cpu(x, pos, lw, lb, lead, B, T, L, D);
        pos_lead_fwd_cuda(gx, gpos, glw, glb, glead, B, T, L, D);
        float *h = host_of(gx, n);
        TU_ASSERT_CLOSE_FF(h, x, n, 1e-6);
        free(h);
        /* backward: x is now the upstream gradient; pos, lw, lb accumulate */
        pos_lead_bwd_cpu(pos, lw, lb, x, lead, B, T, L, D);
        pos_lead_bwd_cuda(gpos, glw, glb, gx, glead, B, T, L, D);
        const struct { const float *dev, *ref; int64_t n; } chk[] = {{gpos, pos, L * D}, {glw, lw, D}, {glb, lb, D}};
        for (size_t k = 0; k < 3; k++) {
            h = host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, 1e-6);
            free(h);
        }
        cuda_free(gx), cuda_free(gpos), cuda_free(glw), cuda_free(glb), cuda_free(glead);
        free(x), free(pos), free(lw), free(lb), free(lead);
    }
}

static void test_unpatchify_loss(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    const int cfg[][5] = {{1, 1, 2, 2, 1}, {2, 3, 8, 12, 2}, {2, 5, 32, 64, 4}, {1, 2, 33, 36, 3}}; /* B, Vo, H, W, p */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++)
        for (int multi = 0; multi < 2; multi++)
            for (int masked = 0; masked < 2; masked++) {
                int B = cfg[c][0], Vo = cfg[c][1], H = cfg[c][2], W = cfg[c][3], p = cfg[c][4];
                int64_t n = (int64_t)B * Vo * H * W;
                float *pred = tu_falloc(n), *y = tu_falloc(n), *mask = tu_falloc(n), *wl = tu_falloc(H);
                float *img = tu_falloc(n), *dp = tu_falloc(n), *ws = tu_falloc(n);
                tu_fill_normal(pred, n, 1, 0, 1), tu_fill_normal(y, n, 2, 0, 1), tu_fill_uniform(wl, H, 3, 0.2f, 1.0f);
                for (int64_t i = 0; i < n; i++) mask[i] = (i * 2654435761u) % 7 ? 1.0f : 0.0f;
                float *gpred = dev_from(pred, n), *gy = dev_from(y, n), *gm = dev_from(mask, n), *gwl = dev_from(wl, H);
                float *gimg = cuda_alloc(sizeof(float) * (size_t)n), *gdp = cuda_alloc(sizeof(float) * (size_t)n);
                float *gws = cuda_alloc(sizeof(float) * (size_t)n);
                unpatchify_cpu(img, pred, B, Vo, H, W, p, multi);
                unpatchify_cuda(gimg, gpred, B, Vo, H, W, p, multi);
                float *h = host_of(gimg, n);
                assert_memory_equal(h, img, sizeof(float) * (size_t)n); /* a permutation */
                free(h);
                for (int dn = 0; dn < 2; dn++) { /* the local mask sum, then a given global one */
                    double denom = dn ? 0.75 * n : 0.0;
                    float a = mse_loss_cpu(dp, pred, y, masked ? mask : NULL, wl, B, Vo, H, W, p, multi, 0.5f, denom, ws);
                    float b = mse_loss_cuda(gdp, gpred, gy, masked ? gm : NULL, gwl, B, Vo, H, W, p, multi, 0.5f, denom, gws);
                    assert_true(fabsf(a - b) <= 1e-6f * fabsf(a) + 1e-30f);
                    h = host_of(gdp, n);
                    TU_ASSERT_CLOSE_FF(h, dp, n, 1e-6);
                    free(h);
                }
                cuda_free(gpred), cuda_free(gy), cuda_free(gm), cuda_free(gwl), cuda_free(gimg), cuda_free(gdp), cuda_free(gws);
                free(pred), free(y), free(mask), free(wl), free(img), free(dp), free(ws);
            }
}

static void test_var_attn(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    const int cfg[][5] = {{1, 1, 1, 1, 4}, {2, 5, 3, 2, 8}, {2, 37, 7, 4, 64}, {1, 16, 92, 8, 256}}; /* B, L, V, NH, D */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], V = cfg[c][2], NH = cfg[c][3], D = cfg[c][4];
        int64_t L = cfg[c][1], nkv = (int64_t)B * V * L * 2 * D, no = (int64_t)B * L * D, np = (int64_t)B * L * NH * V;
        float *q = tu_falloc(D), *kv = tu_falloc(nkv), *out = tu_falloc(no), *probs = tu_falloc(np);
        float *dout = tu_falloc(no), *dq = tu_falloc(D), *dkv = tu_falloc(nkv);
        tu_fill_normal(q, D, 1, 0, 1), tu_fill_normal(kv, nkv, 2, 0, 1), tu_fill_normal(dout, no, 3, 0, 1);
        tu_fill_const(dq, D, 0.5f), tu_fill_const(dkv, nkv, -0.25f); /* backward accumulates */
        float *gq = dev_from(q, D), *gkv = dev_from(kv, nkv), *gdo = dev_from(dout, no), *gdq = dev_from(dq, D);
        float *gdkv = dev_from(dkv, nkv), *gout = cuda_alloc(sizeof(float) * (size_t)no);
        float *gpr = cuda_alloc(sizeof(float) * (size_t)np);
        var_attn_fwd_cpu(out, probs, q, kv, B, L, V, NH, D);
        var_attn_fwd_cuda(gout, gpr, gq, gkv, B, L, V, NH, D);
        var_attn_bwd_cpu(dq, dkv, dout, probs, q, kv, B, L, V, NH, D);
        var_attn_bwd_cuda(gdq, gdkv, gdo, gpr, gq, gkv, B, L, V, NH, D);
        const struct { const float *dev, *ref; int64_t n; double tol; } chk[] = {
            {gout, out, no, 1e-5}, {gpr, probs, np, 1e-5}, {gdq, dq, D, 1e-5}, {gdkv, dkv, nkv, 1e-5}};
        for (size_t k = 0; k < 4; k++) {
            float *h = host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, chk[k].tol);
            free(h);
        }
        cuda_free(gq), cuda_free(gkv), cuda_free(gdo), cuda_free(gdq), cuda_free(gdkv), cuda_free(gout), cuda_free(gpr);
        free(q), free(kv), free(out), free(probs), free(dout), free(dq), free(dkv);
    }
}

static void test_patch_embed(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    const int cfg[][6] = {{1, 1, 2, 2, 1, 1}, {2, 3, 8, 12, 2, 5}, {2, 5, 32, 64, 2, 64}, {1, 4, 33, 36, 3, 32}}; /* B,V,H,W,p,D */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], V = cfg[c][1], H = cfg[c][2], W = cfg[c][3], p = cfg[c][4], D = cfg[c][5];
        int64_t L = (int64_t)(H / p) * (W / p), nx = (int64_t)B * V * H * W, nt = (int64_t)B * V * L * D;
        int64_t nw = (int64_t)V * D * p * p, nb = (int64_t)V * D;
        float *x = tu_falloc(nx), *w = tu_falloc(nw), *bias = tu_falloc(nb), *ve = tu_falloc(nb), *tok = tu_falloc(nt);
        float *dtok = tu_falloc(nt), *dw = tu_falloc(nw), *db = tu_falloc(nb), *dve = tu_falloc(nb);
        float *ws = tu_falloc(patch_embed_ws_floats(B, V, H, W, p));
        tu_fill_normal(x, nx, 1, 0, 1), tu_fill_normal(w, nw, 2, 0, 0.3f), tu_fill_normal(bias, nb, 3, 0, 1);
        tu_fill_normal(ve, nb, 4, 0, 1), tu_fill_normal(dtok, nt, 5, 0, 1), tu_fill_const(dw, nw, 0.125f);
        float *gx = dev_from(x, nx), *gw = dev_from(w, nw), *gb = dev_from(bias, nb), *gve = dev_from(ve, nb);
        float *gdt = dev_from(dtok, nt), *gdw = dev_from(dw, nw), *gdb = dev_from(db, nb), *gdve = dev_from(dve, nb);
        float *gtok = cuda_alloc(sizeof(float) * (size_t)nt);
        patch_embed_fwd_cpu(tok, x, w, bias, ve, B, V, H, W, p, D, ws);
        patch_embed_fwd_cuda(gtok, gx, gw, gb, gve, B, V, H, W, p, D);
        patch_embed_bwd_cpu(dw, db, dve, dtok, x, B, V, H, W, p, D, ws);
        patch_embed_bwd_cuda(gdw, gdb, gdve, gdt, gx, B, V, H, W, p, D);
        const struct { const float *dev, *ref; int64_t n; } chk[] = {{gtok, tok, nt}, {gdw, dw, nw}, {gdb, db, nb}, {gdve, dve, nb}};
        for (size_t k = 0; k < 4; k++) {
            float *h = host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, 1e-5);
            free(h);
        }
        cuda_free(gx), cuda_free(gw), cuda_free(gb), cuda_free(gve), cuda_free(gdt), cuda_free(gdw), cuda_free(gdb);
        cuda_free(gdve), cuda_free(gtok);
        free(x), free(w), free(bias), free(ve), free(tok), free(dtok), free(dw), free(db), free(dve), free(ws);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_pos_lead),
        cmocka_unit_test(test_unpatchify_loss),
        cmocka_unit_test(test_var_attn),
        cmocka_unit_test(test_patch_embed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
