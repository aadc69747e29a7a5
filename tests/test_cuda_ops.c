/* The CUDA kernels (src/kernels/cuda) of every op but attention and the Reslim head against their
 * CPU twins on the same inputs, odd sizes included: GELU and the elementwise ops, AdamW,
 * LayerNorm, position and lead-time embedding, unpatchify / patchify and the MSE loss, variable
 * aggregation, patch embedding and the linear layers (with the fused GELU). fp32 on both sides:
 * the tolerances are float rounding (1e-6 relative to the scale), looser where the two sides use
 * different erf implementations (GELU: 2e-6), reduce in another order (LayerNorm's input
 * gradient) or chain a softmax and two dot products of up to 256 terms (variable aggregation:
 * 1e-5); the linear layers say why theirs where they are checked.
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

static const int64_t SIZES[] = {1, 7, 255, 256, 257, 1000, 65537, 1 << 20};
enum { NSIZES = sizeof SIZES / sizeof SIZES[0] };

static void test_elementwise(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = SIZES[k];
        float *x = tu_falloc(n), *y = tu_falloc(n), *g = tu_falloc(n), *ref = tu_falloc(n);
        tu_fill_normal(x, n, 1 + k, 0.0f, 3.0f);
        tu_fill_normal(y, n, 100 + k, 0.5f, 1.0f);
        tu_fill_normal(g, n, 200 + k, 0.0f, 1.0f);
        float *dx = tu_dev_from(x, n), *dy = tu_dev_from(y, n), *dg = tu_dev_from(g, n);
        /* gelu forward, backward (accumulating) */
        gelu_fwd_cpu(ref, x, n);
        gelu_fwd_cuda(dy, dx, n);
        float *got = tu_host_of(dy, n);
        TU_ASSERT_CLOSE_FF(got, ref, n, 2e-6);
        free(got);
        memcpy(ref, y, sizeof(float) * (size_t)n);
        cuda_upload(dy, y, n);
        gelu_bwd_cpu(ref, g, x, n);
        gelu_bwd_cuda(dy, dg, dx, n);
        got = tu_host_of(dy, n);
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
        got = tu_host_of(dy, n);
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
    if (!tu_have_gpu()) skip();
    for (int k = 0; k < NSIZES; k++) {
        int64_t n = SIZES[k];
        float *p = tu_falloc(n), *m = tu_falloc(n), *v = tu_falloc(n), *g = tu_falloc(n);
        tu_fill_normal(p, n, 1 + k, 0.0f, 1.0f);
        tu_fill_normal(g, n, 2 + k, 0.0f, 1e-2f);
        float *dp = tu_dev_from(p, n), *dm = tu_dev_from(m, n), *dv = tu_dev_from(v, n), *dgr = tu_dev_from(g, n);
        for (int t = 1; t <= 3; t++) {
            float bc1 = 1.0f - powf(0.9f, (float)t), bc2 = 1.0f - powf(0.95f, (float)t);
            adamw_cpu(p, m, v, g, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
            adamw_cuda(dp, dm, dv, dgr, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, bc1, bc2);
        }
        float *hp = tu_host_of(dp, n), *hm = tu_host_of(dm, n), *hv = tu_host_of(dv, n);
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
    if (!tu_have_gpu()) skip();
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
        float *gx = tu_dev_from(x, n), *gw = tu_dev_from(w, C), *gb = tu_dev_from(b, C), *gdo = tu_dev_from(dout, n);
        float *gout = cuda_alloc(sizeof(float) * (size_t)n), *gmu = cuda_alloc(sizeof(float) * (size_t)M);
        float *grs = cuda_alloc(sizeof(float) * (size_t)M);
        float *gdin = tu_dev_from(din, n), *gdw = tu_dev_from(dw, C), *gdb = tu_dev_from(db, C);
        layernorm_fwd_cpu(out, mu, rs, x, w, b, M, C, 1e-5f);
        layernorm_fwd_cuda(gout, gmu, grs, gx, gw, gb, M, C, 1e-5f);
        layernorm_bwd_cpu(din, dw, db, dout, x, w, mu, rs, M, C);
        layernorm_bwd_cuda(gdin, gdw, gdb, gdo, gx, gw, gmu, grs, M, C);
        const struct { const float *dev, *ref; int64_t n; double tol; } chk[] = {
            {gout, out, n, 1e-6}, {gmu, mu, M, 1e-6}, {grs, rs, M, 1e-6},
            {gdin, din, n, 1e-5}, {gdw, dw, C, 1e-6}, {gdb, db, C, 1e-6}};
        for (size_t c = 0; c < sizeof chk / sizeof chk[0]; c++) {
            float *h = tu_host_of(chk[c].dev, chk[c].n);
            TU_ASSERT_CLOSE_FF(h, chk[c].ref, chk[c].n, chk[c].tol);
            free(h);
        }
        /* deterministic: the same call twice gives the same bits */
        float *again = tu_dev_from(dw, C);
        cuda_upload(gdw, dw, C);
        layernorm_bwd_cuda(NULL, gdw, NULL, gdo, gx, gw, gmu, grs, M, C);
        layernorm_bwd_cuda(NULL, again, NULL, gdo, gx, gw, gmu, grs, M, C);
        float *h1 = tu_host_of(gdw, C), *h2 = tu_host_of(again, C);
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
    if (!tu_have_gpu()) skip();
    const int cfg[][4] = {{1, 1, 1, 1}, {2, 6, 3, 5}, {3, 64, 16, 96}, {2, 4 * 128, 128, 256}}; /* B, T, L, D */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], D = cfg[c][3];
        int64_t T = cfg[c][1], L = cfg[c][2], n = B * T * D;
        float *x = tu_falloc(n), *pos = tu_falloc(L * D), *lw = tu_falloc(D), *lb = tu_falloc(D), *lead = tu_falloc(B);
        tu_fill_normal(x, n, 1, 0, 1), tu_fill_normal(pos, L * D, 2, 0, 1), tu_fill_normal(lw, D, 3, 0, 1);
        tu_fill_normal(lb, D, 4, 0, 1), tu_fill_uniform(lead, B, 5, 0.06f, 0.24f);
        float *gx = tu_dev_from(x, n), *gpos = tu_dev_from(pos, L * D), *glw = tu_dev_from(lw, D), *glb = tu_dev_from(lb, D);
        float *glead = tu_dev_from(lead, B);
        pos_lead_fwd_cpu(x, pos, lw, lb, lead, B, T, L, D);
        pos_lead_fwd_cuda(gx, gpos, glw, glb, glead, B, T, L, D);
        float *h = tu_host_of(gx, n);
        TU_ASSERT_CLOSE_FF(h, x, n, 1e-6);
        free(h);
        /* backward: x is now the upstream gradient; pos, lw, lb accumulate */
        pos_lead_bwd_cpu(pos, lw, lb, x, lead, B, T, L, D);
        pos_lead_bwd_cuda(gpos, glw, glb, gx, glead, B, T, L, D);
        const struct { const float *dev, *ref; int64_t n; } chk[] = {{gpos, pos, L * D}, {glw, lw, D}, {glb, lb, D}};
        for (size_t k = 0; k < 3; k++) {
            h = tu_host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, 1e-6);
            free(h);
        }
        cuda_free(gx), cuda_free(gpos), cuda_free(glw), cuda_free(glb), cuda_free(glead);
        free(x), free(pos), free(lw), free(lb), free(lead);
    }
}

static void test_unpatchify_loss(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
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
                float *gpred = tu_dev_from(pred, n), *gy = tu_dev_from(y, n), *gm = tu_dev_from(mask, n), *gwl = tu_dev_from(wl, H);
                float *gimg = cuda_alloc(sizeof(float) * (size_t)n), *gdp = cuda_alloc(sizeof(float) * (size_t)n);
                float *gws = cuda_alloc(sizeof(float) * (size_t)n);
                unpatchify_cpu(img, pred, B, Vo, H, W, p, multi);
                unpatchify_cuda(gimg, gpred, B, Vo, H, W, p, multi);
                float *h = tu_host_of(gimg, n);
                assert_memory_equal(h, img, sizeof(float) * (size_t)n); /* a permutation */
                free(h);
                patchify_cuda(gdp, gimg, B, Vo, H, W, p, multi); /* and back: the inverse */
                h = tu_host_of(gdp, n);
                assert_memory_equal(h, pred, sizeof(float) * (size_t)n);
                free(h);
                for (int dn = 0; dn < 2; dn++) { /* the local mask sum, then a given global one */
                    double denom = dn ? 0.75 * n : 0.0;
                    float a = mse_loss_cpu(dp, pred, y, masked ? mask : NULL, wl, B, Vo, H, W, p, multi, 0.5f, denom, ws);
                    float b = mse_loss_cuda(gdp, gpred, gy, masked ? gm : NULL, gwl, B, Vo, H, W, p, multi, 0.5f, denom, gws);
                    assert_true(fabsf(a - b) <= 1e-6f * fabsf(a) + 1e-30f);
                    h = tu_host_of(gdp, n);
                    TU_ASSERT_CLOSE_FF(h, dp, n, 1e-6);
                    free(h);
                }
                cuda_free(gpred), cuda_free(gy), cuda_free(gm), cuda_free(gwl), cuda_free(gimg), cuda_free(gdp), cuda_free(gws);
                free(pred), free(y), free(mask), free(wl), free(img), free(dp), free(ws);
            }
}

static void test_var_attn(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    const int cfg[][5] = {{1, 1, 1, 1, 4}, {2, 5, 3, 2, 8}, {2, 37, 7, 4, 64}, {1, 16, 92, 8, 256}}; /* B, L, V, NH, D */
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        int B = cfg[c][0], V = cfg[c][2], NH = cfg[c][3], D = cfg[c][4];
        int64_t L = cfg[c][1], nkv = (int64_t)B * V * L * 2 * D, no = (int64_t)B * L * D, np = (int64_t)B * L * NH * V;
        float *q = tu_falloc(D), *kv = tu_falloc(nkv), *out = tu_falloc(no), *probs = tu_falloc(np);
        float *dout = tu_falloc(no), *dq = tu_falloc(D), *dkv = tu_falloc(nkv);
        tu_fill_normal(q, D, 1, 0, 1), tu_fill_normal(kv, nkv, 2, 0, 1), tu_fill_normal(dout, no, 3, 0, 1);
        tu_fill_const(dq, D, 0.5f), tu_fill_const(dkv, nkv, -0.25f); /* backward accumulates */
        float *gq = tu_dev_from(q, D), *gkv = tu_dev_from(kv, nkv), *gdo = tu_dev_from(dout, no), *gdq = tu_dev_from(dq, D);
        float *gdkv = tu_dev_from(dkv, nkv), *gout = cuda_alloc(sizeof(float) * (size_t)no);
        float *gpr = cuda_alloc(sizeof(float) * (size_t)np);
        var_attn_fwd_cpu(out, probs, q, kv, B, L, V, NH, D);
        var_attn_fwd_cuda(gout, gpr, gq, gkv, B, L, V, NH, D);
        var_attn_bwd_cpu(dq, dkv, dout, probs, q, kv, B, L, V, NH, D);
        var_attn_bwd_cuda(gdq, gdkv, gdo, gpr, gq, gkv, B, L, V, NH, D);
        const struct { const float *dev, *ref; int64_t n; double tol; } chk[] = {
            {gout, out, no, 1e-5}, {gpr, probs, np, 1e-5}, {gdq, dq, D, 1e-5}, {gdkv, dkv, nkv, 1e-5}};
        for (size_t k = 0; k < 4; k++) {
            float *h = tu_host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, chk[k].tol);
            free(h);
        }
        cuda_free(gq), cuda_free(gkv), cuda_free(gdo), cuda_free(gdq), cuda_free(gdkv), cuda_free(gout), cuda_free(gpr);
        free(q), free(kv), free(out), free(probs), free(dout), free(dq), free(dkv);
    }
}

static void test_patch_embed(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
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
        float *gx = tu_dev_from(x, nx), *gw = tu_dev_from(w, nw), *gb = tu_dev_from(bias, nb), *gve = tu_dev_from(ve, nb);
        float *gdt = tu_dev_from(dtok, nt), *gdw = tu_dev_from(dw, nw), *gdb = tu_dev_from(db, nb), *gdve = tu_dev_from(dve, nb);
        float *gtok = cuda_alloc(sizeof(float) * (size_t)nt);
        patch_embed_fwd_cpu(tok, x, w, bias, ve, B, V, H, W, p, D, ws);
        patch_embed_fwd_cuda(gtok, gx, gw, gb, gve, B, V, H, W, p, D);
        patch_embed_bwd_cpu(dw, db, dve, dtok, x, B, V, H, W, p, D, ws);
        patch_embed_bwd_cuda(gdw, gdb, gdve, gdt, gx, B, V, H, W, p, D);
        const struct { const float *dev, *ref; int64_t n; } chk[] = {{gtok, tok, nt}, {gdw, dw, nw}, {gdb, db, nb}, {gdve, dve, nb}};
        for (size_t k = 0; k < 4; k++) {
            float *h = tu_host_of(chk[k].dev, chk[k].n);
            TU_ASSERT_CLOSE_FF(h, chk[k].ref, chk[k].n, 1e-5);
            free(h);
        }
        cuda_free(gx), cuda_free(gw), cuda_free(gb), cuda_free(gve), cuda_free(gdt), cuda_free(gdw), cuda_free(gdb);
        cuda_free(gdve), cuda_free(gtok);
        free(x), free(w), free(bias), free(ve), free(tok), free(dtok), free(dw), free(db), free(dve), free(ws);
    }
}

/* ---------------------------------------------------------------- linear layers
 * Tolerances: every output is a dot product of K (forward), N (din) or M (dw) fp32 terms, summed
 * in another order and blocking by OpenBLAS and cuBLASLt (which may also split the sum): the
 * difference is a few ulps of the partial sums, ~1e-7 to 1e-6 of max|ref| up to 2304 terms, so
 * 1e-5 holds with margin and still fails TF32 (10-bit mantissa: ~1e-4 and worse). The bias
 * gradient is a double sum on both sides, rounded once: 1e-6. */
enum { LM_OUT, LM_DIN, LM_DW, LM_DB, LM_BITS, LM_PRE, LM_GELU, LM_N };

/* One shape: forward with accumulate 0/1 and bias NULL or not (over NaN when not accumulating:
 * out must be overwritten), backward with each of din, dw, dbias wanted or NULL (accumulating
 * onto nonzero gradients). off floats shift every device pointer (alignment below 16 bytes). */
static void linear_case(TuMargin *m, int64_t M, int64_t K, int64_t N, int off, int check_bits) {
    char cfg[96];
    snprintf(cfg, sizeof cfg, "M=%lld K=%lld N=%lld%s", (long long)M, (long long)K, (long long)N,
             off ? " misaligned" : "");
    const uint64_t seed = (uint64_t)(M * 1000003 + K * 1009 + N);
    float *in = tu_falloc(M * K), *w = tu_falloc(N * K), *b = tu_falloc(N), *out0 = tu_falloc(M * N);
    float *dout = tu_falloc(M * N), *din0 = tu_falloc(M * K), *dw0 = tu_falloc(N * K), *db0 = tu_falloc(N);
    tu_fill_normal(in, M * K, seed + 1, 0, 1), tu_fill_normal(w, N * K, seed + 2, 0, 0.5f);
    tu_fill_normal(b, N, seed + 3, 0, 1), tu_fill_normal(out0, M * N, seed + 4, 0, 1);
    tu_fill_normal(dout, M * N, seed + 5, 0, 1), tu_fill_normal(din0, M * K, seed + 6, 0, 1);
    tu_fill_normal(dw0, N * K, seed + 7, 0, 1), tu_fill_normal(db0, N, seed + 8, 0, 1);
    /* device buffers of n + off floats used from +off */
#define DEV(x, n) (float *)((float *)cuda_alloc(sizeof(float) * (size_t)((n) + off)) + off)
#define DEV_FREE(p) cuda_free((float *)(p)-off)
    float *gin = DEV(in, M * K), *gw = DEV(w, N * K), *gb = DEV(b, N), *gout = DEV(out0, M * N);
    float *gdo = DEV(dout, M * N), *gdin = DEV(din0, M * K), *gdw = DEV(dw0, N * K), *gdb = DEV(db0, N);
    cuda_upload(gin, in, M * K), cuda_upload(gw, w, N * K), cuda_upload(gb, b, N), cuda_upload(gdo, dout, M * N);
    float *ref = tu_falloc(M * N), *nanbuf = tu_falloc(M * N);
    tu_fill_const(nanbuf, M * N, NAN);
    for (int acc = 0; acc < 2; acc++)
        for (int hb = 0; hb < 2; hb++) {
            char c2[128];
            snprintf(c2, sizeof c2, "%s acc=%d bias=%d", cfg, acc, hb);
            memcpy(ref, out0, sizeof(float) * (size_t)(M * N));
            linear_fwd_cpu(ref, in, w, hb ? b : NULL, M, K, N, acc);
            cuda_upload(gout, acc ? out0 : nanbuf, M * N);
            linear_fwd_cuda(gout, gin, gw, hb ? gb : NULL, M, K, N, acc);
            float *h = tu_host_of(gout, M * N);
            tu_margin_check(&m[LM_OUT], h, ref, M * N, 1e-30, c2);
            if (check_bits) { /* the same call again gives the same bits */
                cuda_upload(gout, acc ? out0 : nanbuf, M * N);
                linear_fwd_cuda(gout, gin, gw, hb ? gb : NULL, M, K, N, acc);
                float *h2 = tu_host_of(gout, M * N);
                tu_margin_bits(&m[LM_BITS], h2, h, M * N, c2);
                free(h2);
            }
            free(h);
        }
    for (int pat = 0; pat < 8; pat++) { /* bit 0: din, 1: dw, 2: dbias wanted */
        char c2[128];
        snprintf(c2, sizeof c2, "%s din=%d dw=%d dbias=%d", cfg, pat & 1, (pat >> 1) & 1, (pat >> 2) & 1);
        float *rdin = tu_dup_f(din0, M * K), *rdw = tu_dup_f(dw0, N * K), *rdb = tu_dup_f(db0, N);
        linear_bwd_cpu(pat & 1 ? rdin : NULL, pat & 2 ? rdw : NULL, pat & 4 ? rdb : NULL, dout, in, w, M, K, N);
        cuda_upload(gdin, din0, M * K), cuda_upload(gdw, dw0, N * K), cuda_upload(gdb, db0, N);
        for (int rep = 0; rep < (check_bits ? 2 : 1); rep++) {
            if (rep) cuda_upload(gdin, din0, M * K), cuda_upload(gdw, dw0, N * K), cuda_upload(gdb, db0, N);
            linear_bwd_cuda(pat & 1 ? gdin : NULL, pat & 2 ? gdw : NULL, pat & 4 ? gdb : NULL, gdo, gin, gw, M, K, N);
            float *h1 = tu_host_of(gdin, M * K), *h2 = tu_host_of(gdw, N * K), *h3 = tu_host_of(gdb, N);
            if (!rep) { /* a NULL gradient's buffer stays as it was: the reference is then the initial value */
                tu_margin_check(&m[LM_DIN], h1, rdin, M * K, 1e-30, c2);
                tu_margin_check(&m[LM_DW], h2, rdw, N * K, 1e-30, c2);
                tu_margin_check(&m[LM_DB], h3, rdb, N, 1e-30, c2);
                memcpy(rdin, h1, sizeof(float) * (size_t)(M * K)), memcpy(rdw, h2, sizeof(float) * (size_t)(N * K));
                memcpy(rdb, h3, sizeof(float) * (size_t)N);
            } else {
                tu_margin_bits(&m[LM_BITS], h1, rdin, M * K, c2);
                tu_margin_bits(&m[LM_BITS], h2, rdw, N * K, c2);
                tu_margin_bits(&m[LM_BITS], h3, rdb, N, c2);
            }
            free(h1), free(h2), free(h3);
        }
        free(rdin), free(rdw), free(rdb);
    }
    /* fused GELU: pre = in W^T + b, out = gelu(pre) (exact erf GELU; out error <= 1.13 x pre's
       plus the two erf implementations' 2e-6) */
    {
        float *rout = tu_falloc(M * N);
        linear_fwd_cpu(ref, in, w, b, M, K, N, 0);
        gelu_fwd_cpu(rout, ref, M * N);
        float *gpre = DEV(out0, M * N);
        cuda_upload(gout, nanbuf, M * N), cuda_upload(gpre, nanbuf, M * N);
        linear_fwd_gelu_cuda(gout, gpre, gin, gw, gb, M, K, N);
        float *h1 = tu_host_of(gpre, M * N), *h2 = tu_host_of(gout, M * N);
        tu_margin_check(&m[LM_PRE], h1, ref, M * N, 1e-30, cfg);
        tu_margin_check(&m[LM_GELU], h2, rout, M * N, 1e-30, cfg);
        free(h1), free(h2), free(rout);
        DEV_FREE(gpre);
    }
    DEV_FREE(gin), DEV_FREE(gw), DEV_FREE(gb), DEV_FREE(gout), DEV_FREE(gdo), DEV_FREE(gdin), DEV_FREE(gdw);
    DEV_FREE(gdb);
#undef DEV
#undef DEV_FREE
    free(in), free(w), free(b), free(out0), free(dout), free(din0), free(dw0), free(db0), free(ref), free(nanbuf);
}

static void test_linear(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    TuMargin m[LM_N] = {{.what = "linear fwd out", .tol = 1e-5},     {.what = "linear bwd din", .tol = 1e-5},
                        {.what = "linear bwd dw", .tol = 1e-5},      {.what = "linear bwd dbias", .tol = 1e-6},
                        {.what = "linear same bits twice", .tol = 0}, {.what = "linear+gelu pre", .tol = 1e-5},
                        {.what = "linear+gelu out", .tol = 2e-5}};
    static const int64_t dims[] = {1, 3, 17, 64, 129, 255};
    enum { ND = sizeof dims / sizeof dims[0] };
    for (int i = 0; i < ND; i++)
        for (int j = 0; j < ND; j++)
            for (int k = 0; k < ND; k++) linear_case(m, dims[i], dims[j], dims[k], 0, 0);
    linear_case(m, 1024, 768, 2304, 0, 1); /* a qkv projection */
    linear_case(m, 17, 33, 65, 1, 1);      /* 4-byte aligned pointers, odd leading dimensions */
    linear_case(m, 129, 255, 64, 1, 0);
    linear_case(m, 64, 64, 64, 2, 0); /* 8-byte aligned */
    linear_case(m, 7, 0, 5, 0, 0);    /* K = 0: out = bias (or += bias) */
    assert_int_equal(tu_margins_report(m, LM_N), 0);
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
        cmocka_unit_test(test_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
