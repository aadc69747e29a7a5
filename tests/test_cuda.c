/* The CUDA kernels (src/kernels/cuda) against their CPU twins on the same inputs, odd sizes
 * included. fp32 on both sides: the tolerances are float rounding (1e-6 relative to the scale),
 * looser where the two sides use different erf implementations (GELU: 2e-6), reduce in another
 * order (LayerNorm's input gradient) or chain a softmax and two dot products of up to 256
 * terms (variable aggregation: 1e-5); the linear layers, flash attention and the Reslim head
 * (convolution, pixel shuffle, total variation) say why theirs where they are checked. Skips, saying why, where there is no GPU or lvit was built without
 * CUDA. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attention/attention.h"
#include "kernels/cpu/ops_cpu.h"
#include "kernels/kernels.h"
#include "kernels/cuda/ops_cuda.h"
#include "model/vit.h"
#include "optim/optim.h"
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
                patchify_cuda(gdp, gimg, B, Vo, H, W, p, multi); /* and back: the inverse */
                h = host_of(gdp, n);
                assert_memory_equal(h, pred, sizeof(float) * (size_t)n);
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

/* ---------------------------------------------------------------- margins
 * The linear and attention tests run hundreds of configurations: each comparison goes into a
 * Margin (the worst error of one quantity and where it was), every failure is printed (the first
 * few of each quantity) and the test fails at the end, so that one GPU run reports every
 * configuration that is wrong instead of stopping at the first. The margins are printed always. */
typedef struct Margin {
    const char *what;
    double tol;
    int d; /* head size, 0 where not per head size */
    double worst;
    char at[128];
    int checks, fails;
} Margin;

/* max|got - ref| / max(max|ref|, floor) over the finite ref values; equal values (the same
 * infinity included) count 0, NaN or a one-sided infinity infinite. */
static double err_scaled(const float *got, const float *ref, int64_t n, double flr, int64_t *wi) {
    double scale = flr, e = 0.0;
    *wi = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (int64_t i = 0; i < n; i++) {
        if (got[i] == ref[i]) continue;
        double di = isfinite(got[i]) && isfinite(ref[i]) ? fabs((double)got[i] - ref[i]) : INFINITY;
        if (di > e) e = di, *wi = i;
    }
    return e / scale;
}

static void margin_add(Margin *m, double e, int64_t wi, const float *got, const float *ref, int64_t n,
                       const char *cfg) {
    if (m->checks++ == 0 || e > m->worst) {
        m->worst = e;
        snprintf(m->at, sizeof m->at, "%s", cfg);
    }
    if (!(e <= m->tol) && ++m->fails <= 5)
        fprintf(stderr, "  FAIL %s (%s): err %.3g > %.1g at [%lld] of %lld: got %.9g ref %.9g\n", m->what, cfg, e,
                m->tol, (long long)wi, (long long)n, n > 0 ? got[wi] : 0.0, n > 0 ? ref[wi] : 0.0);
}

static void margin_check(Margin *m, const float *got, const float *ref, int64_t n, double flr, const char *cfg) {
    int64_t wi;
    const double e = err_scaled(got, ref, n, flr, &wi);
    margin_add(m, e, wi, got, ref, n, cfg);
}

/* bitwise equality (tol 0); a difference is reported at its scaled size */
static void margin_bits(Margin *m, const float *got, const float *ref, int64_t n, const char *cfg) {
    int64_t wi = 0;
    double e = 0.0;
    if (memcmp(got, ref, sizeof(float) * (size_t)n)) {
        e = err_scaled(got, ref, n, 1e-30, &wi);
        if (e == 0.0) e = 1e-300; /* -0 vs +0 or NaN payloads */
    }
    margin_add(m, e, wi, got, ref, n, cfg);
}

/* Prints one line per checked margin; returns the number of failed checks. */
static int margins_report(const Margin *m, int n) {
    int fails = 0;
    for (int i = 0; i < n; i++) {
        if (!m[i].checks) continue;
        char name[64];
        if (m[i].d) snprintf(name, sizeof name, "%s d=%d", m[i].what, m[i].d);
        else snprintf(name, sizeof name, "%s", m[i].what);
        fprintf(stderr, "  %-30s worst %.2e (tol %.0e) at %s; %d checks%s\n", name, m[i].worst, m[i].tol, m[i].at,
                m[i].checks, m[i].fails ? ", FAILED" : "");
        fails += m[i].fails;
    }
    return fails;
}

static void fill_nan(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = NAN;
}

static float *fdup(const float *x, int64_t n) {
    float *y = tu_falloc(n);
    memcpy(y, x, sizeof(float) * (size_t)n);
    return y;
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
static void linear_case(Margin *m, int64_t M, int64_t K, int64_t N, int off, int check_bits) {
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
    fill_nan(nanbuf, M * N);
    for (int acc = 0; acc < 2; acc++)
        for (int hb = 0; hb < 2; hb++) {
            char c2[128];
            snprintf(c2, sizeof c2, "%s acc=%d bias=%d", cfg, acc, hb);
            memcpy(ref, out0, sizeof(float) * (size_t)(M * N));
            linear_fwd_cpu(ref, in, w, hb ? b : NULL, M, K, N, acc);
            cuda_upload(gout, acc ? out0 : nanbuf, M * N);
            linear_fwd_cuda(gout, gin, gw, hb ? gb : NULL, M, K, N, acc);
            float *h = host_of(gout, M * N);
            margin_check(&m[LM_OUT], h, ref, M * N, 1e-30, c2);
            if (check_bits) { /* the same call again gives the same bits */
                cuda_upload(gout, acc ? out0 : nanbuf, M * N);
                linear_fwd_cuda(gout, gin, gw, hb ? gb : NULL, M, K, N, acc);
                float *h2 = host_of(gout, M * N);
                margin_bits(&m[LM_BITS], h2, h, M * N, c2);
                free(h2);
            }
            free(h);
        }
    for (int pat = 0; pat < 8; pat++) { /* bit 0: din, 1: dw, 2: dbias wanted */
        char c2[128];
        snprintf(c2, sizeof c2, "%s din=%d dw=%d dbias=%d", cfg, pat & 1, (pat >> 1) & 1, (pat >> 2) & 1);
        float *rdin = fdup(din0, M * K), *rdw = fdup(dw0, N * K), *rdb = fdup(db0, N);
        linear_bwd_cpu(pat & 1 ? rdin : NULL, pat & 2 ? rdw : NULL, pat & 4 ? rdb : NULL, dout, in, w, M, K, N);
        cuda_upload(gdin, din0, M * K), cuda_upload(gdw, dw0, N * K), cuda_upload(gdb, db0, N);
        for (int rep = 0; rep < (check_bits ? 2 : 1); rep++) {
            if (rep) cuda_upload(gdin, din0, M * K), cuda_upload(gdw, dw0, N * K), cuda_upload(gdb, db0, N);
            linear_bwd_cuda(pat & 1 ? gdin : NULL, pat & 2 ? gdw : NULL, pat & 4 ? gdb : NULL, gdo, gin, gw, M, K, N);
            float *h1 = host_of(gdin, M * K), *h2 = host_of(gdw, N * K), *h3 = host_of(gdb, N);
            if (!rep) { /* a NULL gradient's buffer stays as it was: the reference is then the initial value */
                margin_check(&m[LM_DIN], h1, rdin, M * K, 1e-30, c2);
                margin_check(&m[LM_DW], h2, rdw, N * K, 1e-30, c2);
                margin_check(&m[LM_DB], h3, rdb, N, 1e-30, c2);
                memcpy(rdin, h1, sizeof(float) * (size_t)(M * K)), memcpy(rdw, h2, sizeof(float) * (size_t)(N * K));
                memcpy(rdb, h3, sizeof(float) * (size_t)N);
            } else {
                margin_bits(&m[LM_BITS], h1, rdin, M * K, c2);
                margin_bits(&m[LM_BITS], h2, rdw, N * K, c2);
                margin_bits(&m[LM_BITS], h3, rdb, N, c2);
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
        float *h1 = host_of(gpre, M * N), *h2 = host_of(gout, M * N);
        margin_check(&m[LM_PRE], h1, ref, M * N, 1e-30, cfg);
        margin_check(&m[LM_GELU], h2, rout, M * N, 1e-30, cfg);
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
    if (!have_gpu()) skip();
    Margin m[LM_N] = {{.what = "linear fwd out", .tol = 1e-5},     {.what = "linear bwd din", .tol = 1e-5},
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
    assert_int_equal(margins_report(m, LM_N), 0);
}

/* ---------------------------------------------------------------- flash attention
 * Against the CPU flash kernels (tests/test_attention.c checks those against a double oracle).
 * Errors are taken against max(max|ref|, 1): gradients that are pure cancellation noise (dq, dk
 * with one key: dS = P (dP - Delta) with dP = Delta) are then compared at the scale of the
 * values they are made of instead of their own ~1e-7 (and with one key, where dq and dk are
 * nothing but that noise, against sqrt(Sq): see flash_case). Both sides are fp32 with the same
 * formulas (base-2 exponentials of scale*log2(e)-scaled scores, Delta in double); they differ in
 * exp2 (1-2 ulp each), in the order of the softmax sums over Sk (tiles of 32 vs 64, butterfly vs
 * sequential) and of dq's sum over key tiles: forward 1e-5, backward 2e-5 (the CPU kernels'
 * own tolerances against the oracle, which they meet with ~10x margin). The GPU's chunked
 * results against its full ones: the merge rounds lse once more (1e-5); dk, dv are bitwise the
 * same (each key's sums do not depend on the other keys), dq adds two partial sums (2e-5). */
enum { FB = 2, FNH = 3 };
static const int FLASH_D[] = {32, 64, 128, 256};
static const int64_t FLASH_S[] = {1, 63, 64, 65, 200, 1000};
enum { FM_O, FM_LSE, FM_DQ, FM_DK, FM_DV, FM_GBUF, FM_EMPTY, FM_BITS, FM_CO, FM_CLSE, FM_CDQ, FM_CDKV, FM_N };
static const struct { const char *what; double tol; } FLASH_M[FM_N] = {
    {"flash fwd o", 1e-5},         {"flash fwd lse", 1e-5},     {"flash bwd dq", 2e-5},
    {"flash bwd dk", 2e-5},        {"flash bwd dv", 2e-5},      {"flash bwd grad buffers", 2e-5},
    {"flash lse=-inf rows / Sk=0", 0}, {"flash same bits twice", 0}, {"flash chunks merged o", 1e-5},
    {"flash chunks merged lse", 1e-5}, {"flash chunks dq", 2e-5}, {"flash chunks dk,dv", 0}};

/* compact [ntok][width] copy of a token-strided tensor */
static float *gather(const float *base, int64_t ntok, int64_t stride, int64_t width) {
    float *y = tu_falloc(ntok * width);
    for (int64_t t = 0; t < ntok; t++) memcpy(y + t * width, base + t * stride, sizeof(float) * (size_t)width);
    return y;
}

/* compact [B][n][D] copy of key tokens s0..s0+n of every batch (keys [B,Sk] with stride) */
static float *gather_keys(const float *base, int64_t Sk, int64_t stride, int64_t s0, int64_t n, int64_t D) {
    float *y = tu_falloc(FB * n * D);
    for (int b = 0; b < FB; b++)
        for (int64_t s = 0; s < n; s++)
            memcpy(y + (b * n + s) * D, base + (b * Sk + s0 + s) * stride, sizeof(float) * (size_t)D);
    return y;
}

static float *cpu_ws(const AttnDims *dm) {
    return tu_falloc((int64_t)attn_workspace_floats_cpu(dm, omp_get_max_threads()));
}

/* One configuration. Layouts: plain (q [B,Sq,NH,d], k, v [B,Sk,NH,d], o too) or fused (q, k, v in
 * [B,S,3,NH,d] buffers, one buffer when Sq = Sk, dq, dk, dv in the same layout; o and dout with a
 * padded stride whose padding must survive). */
static void flash_case(Margin (*m)[4], int di, int64_t Sq, int64_t Sk, int fused) {
    const int d = FLASH_D[di];
    const int64_t D = (int64_t)FNH * d;
    char cfg[96];
    snprintf(cfg, sizeof cfg, "d=%d Sq=%lld Sk=%lld %s", d, (long long)Sq, (long long)Sk, fused ? "fused" : "plain");
    AttnDims dm = {.B = FB, .NH = FNH, .d = d, .Sq = Sq, .Sk = Sk, .scale = 1.0f / sqrtf((float)d)};
    /* input buffers: which buffer q, k, v live in and where */
    int nbuf, which[3];
    int64_t len[3] = {0, 0, 0}, off[3];
    if (fused) {
        dm.q_stride = dm.k_stride = dm.v_stride = 3 * D;
        dm.o_stride = D + 4;
        nbuf = Sq == Sk ? 1 : 2;
        len[0] = FB * Sq * 3 * D;
        if (nbuf == 2) len[1] = FB * Sk * 3 * D;
        which[0] = 0, which[1] = which[2] = nbuf - 1;
        off[0] = 0, off[1] = D, off[2] = 2 * D;
    } else {
        dm.q_stride = dm.k_stride = dm.v_stride = dm.o_stride = D;
        nbuf = 3;
        len[0] = FB * Sq * D, len[1] = len[2] = FB * Sk * D;
        which[0] = 0, which[1] = 1, which[2] = 2;
        off[0] = off[1] = off[2] = 0;
    }
    const uint64_t seed = (uint64_t)(d * 7919 + Sq * 131 + Sk * 3 + fused);
    float *in[3] = {0}, *g0[3] = {0}, *gin[3] = {0}, *gg[3] = {0}, *hg[3] = {0};
    for (int i = 0; i < nbuf; i++) {
        in[i] = tu_falloc(len[i]), g0[i] = tu_falloc(len[i]);
        tu_fill_normal(in[i], len[i], seed + i, 0.0f, 1.3f); /* scores of std ~1.7: some peaked rows */
        tu_fill_normal(g0[i], len[i], seed + 10 + i, 0.0f, 0.5f);
        gin[i] = dev_from(in[i], len[i]);
    }
#define AT(bufs, t) ((bufs)[which[t]] + off[t])
    const int64_t no = FB * Sq * dm.o_stride, nl = (int64_t)FB * FNH * Sq;
    float *o_init = tu_falloc(no), *dout = tu_falloc(no), *o_cpu = tu_falloc(no), *lse_cpu = tu_falloc(nl);
    for (int64_t i = 0; i < no; i++) o_init[i] = i % dm.o_stride < D ? NAN : 7.0f;
    tu_fill_normal(dout, no, seed + 20, 0.0f, 1.0f);
    memcpy(o_cpu, o_init, sizeof(float) * (size_t)no);
    float *ws = cpu_ws(&dm);
    attn_fwd_cpu(o_cpu, lse_cpu, AT(in, 0), AT(in, 1), AT(in, 2), &dm, ws);

    /* forward, twice */
    float *go = dev_from(o_init, no), *gl = cuda_alloc(sizeof(float) * (size_t)nl);
    attn_fwd_cuda(go, gl, AT(gin, 0), AT(gin, 1), AT(gin, 2), &dm, NULL);
    float *ho = host_of(go, no), *hl = host_of(gl, nl);
    if (Sk == 0) { /* the empty partial, exactly */
        margin_bits(&m[FM_EMPTY][di], ho, o_cpu, no, cfg);
        margin_bits(&m[FM_EMPTY][di], hl, lse_cpu, nl, cfg);
    } else {
        margin_check(&m[FM_O][di], ho, o_cpu, no, 1.0, cfg);
        margin_check(&m[FM_LSE][di], hl, lse_cpu, nl, 1.0, cfg);
    }
    cuda_upload(go, o_init, no);
    attn_fwd_cuda(go, gl, AT(gin, 0), AT(gin, 1), AT(gin, 2), &dm, NULL);
    float *ho2 = host_of(go, no), *hl2 = host_of(gl, nl);
    margin_bits(&m[FM_BITS][di], ho2, ho, no, cfg);
    margin_bits(&m[FM_BITS][di], hl2, hl, nl, cfg);
    free(ho2), free(hl2);

    /* backward from the CPU's o and lse, every 7th row made empty (lse = -inf: gets nothing) */
    float *lse_b = fdup(lse_cpu, nl);
    for (int64_t i = 0; i < nl; i++)
        if (i % 7 == 3) lse_b[i] = -INFINITY;
    float *go_b = dev_from(o_cpu, no), *gl_b = dev_from(lse_b, nl), *gdo = dev_from(dout, no);
    for (int i = 0; i < nbuf; i++) hg[i] = fdup(g0[i], len[i]), gg[i] = dev_from(g0[i], len[i]);
    const int64_t nws = (int64_t)attn_ws_floats_cuda(&dm, 1);
    float *gws = tu_falloc(nws > 0 ? nws : 1);
    fill_nan(gws, nws > 0 ? nws : 1); /* scratch read before written shows up as NaN */
    float *dws = dev_from(gws, nws > 0 ? nws : 1);
    attn_bwd_cpu(AT(hg, 0), AT(hg, 1), AT(hg, 2), dout, AT(in, 0), AT(in, 1), AT(in, 2), o_cpu, lse_b, &dm, ws);
    attn_bwd_cuda(AT(gg, 0), AT(gg, 1), AT(gg, 2), gdo, AT(gin, 0), AT(gin, 1), AT(gin, 2), go_b, gl_b, &dm, dws);
    /* With one key dS = P (dP - Delta) is 0 in exact arithmetic (P = 1, dP = Delta): dq and dk are
       the rounding noise of dP and Delta, which dk sums over Sq queries with random signs. They are
       compared at the scale of that sum, sqrt(Sq), instead of 1 (seen in emulation: 1.5e-5 of 1 at
       Sq = 1000, d = 256, i.e. 5e-7 of sqrt(Sq)). */
    const double gflr = Sk == 1 ? sqrt((double)Sq) : 1.0;
    float *hgg[3] = {0};
    for (int i = 0; i < nbuf; i++) {
        hgg[i] = host_of(gg[i], len[i]);
        margin_check(&m[FM_GBUF][di], hgg[i], hg[i], len[i], gflr, cfg); /* stray writes included */
    }
    const int64_t ntok[3] = {FB * Sq, FB * Sk, FB * Sk}, strd[3] = {dm.q_stride, dm.k_stride, dm.v_stride};
    for (int t = 0; t < 3 && Sk > 0; t++) {
        float *a = gather(AT(hgg, t), ntok[t], strd[t], D), *r = gather(AT(hg, t), ntok[t], strd[t], D);
        margin_check(&m[FM_DQ + t][di], a, r, ntok[t] * D, t < 2 ? gflr : 1.0, cfg);
        free(a), free(r);
    }
    /* empty rows (and everything when Sk = 0): dq exactly as it was */
    for (int64_t i = 0; i < nl; i++) {
        if (!(lse_b[i] == -INFINITY || Sk == 0)) continue;
        const int64_t s = i % Sq, bh = i / Sq, b = bh / FNH, h = bh % FNH;
        const int64_t at = (b * Sq + s) * dm.q_stride + h * d;
        margin_bits(&m[FM_EMPTY][di], AT(hgg, 0) + at, AT(g0, 0) + at, d, cfg);
    }
    /* backward again: the same bits */
    for (int i = 0; i < nbuf; i++) cuda_upload(gg[i], g0[i], len[i]);
    attn_bwd_cuda(AT(gg, 0), AT(gg, 1), AT(gg, 2), gdo, AT(gin, 0), AT(gin, 1), AT(gin, 2), go_b, gl_b, &dm, dws);
    for (int i = 0; i < nbuf; i++) {
        float *h = host_of(gg[i], len[i]);
        margin_bits(&m[FM_BITS][di], h, hgg[i], len[i], cfg);
        free(h);
    }

    /* two key chunks (plain [B,Skc,NH,d] buffers, as a ring step holds them): merged forward = full
       forward, chunk backwards with the global o, lse = full backward */
    if (Sk >= 2) {
        const int64_t Skc[2] = {Sk / 2, Sk - Sk / 2}, s0[2] = {0, Sk / 2};
        float *co[2], *cl[2], *ck[2], *cv[2], *cdk[2], *cdv[2];
        AttnDims cm[2];
        float *gq = dev_from(g0[which[0]], len[which[0]]); /* dq accumulates both chunks */
        for (int c = 0; c < 2; c++) {
            cm[c] = dm;
            cm[c].Sk = Skc[c], cm[c].k_stride = cm[c].v_stride = D;
            float *hk = gather_keys(AT(in, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *hv = gather_keys(AT(in, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            float *hdk = gather_keys(AT(g0, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *hdv = gather_keys(AT(g0, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            ck[c] = dev_from(hk, FB * Skc[c] * D), cv[c] = dev_from(hv, FB * Skc[c] * D);
            cdk[c] = dev_from(hdk, FB * Skc[c] * D), cdv[c] = dev_from(hdv, FB * Skc[c] * D);
            free(hk), free(hv), free(hdk), free(hdv);
            co[c] = dev_from(o_init, no), cl[c] = cuda_alloc(sizeof(float) * (size_t)nl);
            attn_fwd_cuda(co[c], cl[c], AT(gin, 0), ck[c], cv[c], &cm[c], NULL);
            attn_bwd_cuda(gq + off[0], cdk[c], cdv[c], gdo, AT(gin, 0), ck[c], cv[c], go_b, gl_b, &cm[c], dws);
        }
        attn_merge_cuda(co[0], cl[0], co[1], cl[1], &dm);
        float *h = host_of(co[0], no), *hl1 = host_of(cl[0], nl);
        margin_check(&m[FM_CO][di], h, ho, no, 1.0, cfg);
        margin_check(&m[FM_CLSE][di], hl1, hl, nl, 1.0, cfg);
        free(h), free(hl1);
        float *hq = host_of(gq, len[which[0]]);
        float *a = gather(hq + off[0], FB * Sq, dm.q_stride, D), *r = gather(AT(hgg, 0), FB * Sq, dm.q_stride, D);
        margin_check(&m[FM_CDQ][di], a, r, FB * Sq * D, 1.0, cfg);
        free(hq), free(a), free(r);
        for (int c = 0; c < 2; c++) {
            float *gk = host_of(cdk[c], FB * Skc[c] * D), *gv = host_of(cdv[c], FB * Skc[c] * D);
            float *rk = gather_keys(AT(hgg, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *rv = gather_keys(AT(hgg, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            margin_bits(&m[FM_CDKV][di], gk, rk, FB * Skc[c] * D, cfg);
            margin_bits(&m[FM_CDKV][di], gv, rv, FB * Skc[c] * D, cfg);
            free(gk), free(gv), free(rk), free(rv);
            cuda_free(co[c]), cuda_free(cl[c]), cuda_free(ck[c]), cuda_free(cv[c]), cuda_free(cdk[c]);
            cuda_free(cdv[c]);
        }
        cuda_free(gq);
    }
#undef AT
    for (int i = 0; i < nbuf; i++) {
        free(in[i]), free(g0[i]), free(hg[i]), free(hgg[i]);
        cuda_free(gin[i]), cuda_free(gg[i]);
    }
    cuda_free(go), cuda_free(gl), cuda_free(go_b), cuda_free(gl_b), cuda_free(gdo), cuda_free(dws);
    free(o_init), free(dout), free(o_cpu), free(lse_cpu), free(ws), free(ho), free(hl), free(lse_b), free(gws);
}

static void test_flash(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    Margin m[FM_N][4];
    for (int q = 0; q < FM_N; q++)
        for (int di = 0; di < 4; di++)
            m[q][di] = (Margin){.what = FLASH_M[q].what, .tol = FLASH_M[q].tol, .d = FLASH_D[di]};
    enum { NS = sizeof FLASH_S / sizeof FLASH_S[0] };
    for (int di = 0; di < 4; di++) {
        for (int i = 0; i < NS; i++) {
            for (int j = 0; j < NS; j++)
                for (int fused = 0; fused < 2; fused++) flash_case(m, di, FLASH_S[i], FLASH_S[j], fused);
            flash_case(m, di, FLASH_S[i], 0, 0); /* no keys */
        }
    }
    assert_int_equal(margins_report(&m[0][0], FM_N * 4), 0);
}

/* attn_merge_cuda against attn_merge_cpu: the same double formulas, so 1e-6 (the float weights
 * may differ in their last bit where the two libm's exp differ in the last double bit). Rows where
 * either side, or both, are empty; any head size; padding that must survive. */
static void test_flash_merge(void **st) {
    (void)st;
    if (!have_gpu()) skip();
    Margin m[2] = {{.what = "flash merge o", .tol = 1e-6}, {.what = "flash merge lse", .tol = 1e-6}};
    const int ds[] = {5, 32, 64, 256};
    const int64_t sq[] = {1, 65, 1000};
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++)
        for (size_t c = 0; c < sizeof sq / sizeof sq[0]; c++) {
            const int d = ds[a];
            const int64_t Sq = sq[c], D = (int64_t)FNH * d;
            AttnDims dm = {.B = FB, .NH = FNH, .d = d, .Sq = Sq, .Sk = 1, .o_stride = D + 3};
            const int64_t no = FB * Sq * dm.o_stride, nl = (int64_t)FB * FNH * Sq;
            float *o = tu_falloc(no), *o2 = tu_falloc(no), *l = tu_falloc(nl), *l2 = tu_falloc(nl);
            tu_fill_normal(o, no, 1 + d + Sq, 0, 1), tu_fill_normal(o2, no, 2 + d + Sq, 0, 1);
            tu_fill_normal(l, nl, 3 + d + Sq, 2, 3), tu_fill_normal(l2, nl, 4 + d + Sq, 2, 3);
            for (int64_t i = 0; i < nl; i++) {
                if (i % 5 == 1) l[i] = -INFINITY;
                if (i % 3 == 2) l2[i] = -INFINITY;
            }
            float *go = dev_from(o, no), *go2 = dev_from(o2, no), *gl = dev_from(l, nl), *gl2 = dev_from(l2, nl);
            attn_merge_cpu(o, l, o2, l2, &dm);
            attn_merge_cuda(go, gl, go2, gl2, &dm);
            char cfg[64];
            snprintf(cfg, sizeof cfg, "d=%d Sq=%lld", d, (long long)Sq);
            float *h = host_of(go, no), *hl = host_of(gl, nl);
            margin_check(&m[0], h, o, no, 1.0, cfg);
            margin_check(&m[1], hl, l, nl, 1.0, cfg);
            free(h), free(hl), free(o), free(o2), free(l), free(l2);
            cuda_free(go), cuda_free(go2), cuda_free(gl), cuda_free(gl2);
        }
    assert_int_equal(margins_report(m, 2), 0);
}

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
    if (!have_gpu()) skip();
    enum { CV_OUT, CV_DIN, CV_DW, CV_DB, CV_BITS, PS_FWD, PS_BWD, TV_LOSS, TV_GRAD, UP_N };
    Margin m[UP_N] = {{.what = "conv3x3 out", .tol = 1e-5},          {.what = "conv3x3 din", .tol = 1e-5},
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
            float *gin = dev_from(in, ni), *gw = dev_from(w, nw), *gb = dev_from(bias, Co), *gdo = dev_from(dout, no);
            float *gdin = dev_from(din, ni), *gdw = dev_from(dw, nw), *gdb = dev_from(db, Co);
            float *gdin2 = dev_from(din, ni), *gdw2 = dev_from(dw, nw), *gdb2 = dev_from(db, Co);
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
                float *h = host_of(chk[k].dev, chk[k].n);
                margin_check(&m[chk[k].k], h, chk[k].ref, chk[k].n, 1e-30, name);
                if (chk[k].dev2) {
                    float *h2 = host_of(chk[k].dev2, chk[k].n);
                    margin_bits(&m[CV_BITS], h2, h, chk[k].n, name);
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
        float *gin = dev_from(in, n), *gdin = dev_from(din, n), *gout = cuda_alloc(sizeof(float) * (size_t)n);
        pixel_shuffle_fwd_cpu(out, in, B, C, H, W, r);
        pixel_shuffle_fwd_cuda(gout, gin, B, C, H, W, r);
        float *h = host_of(gout, n);
        margin_bits(&m[PS_FWD], h, out, n, name);
        free(h);
        pixel_shuffle_bwd_cpu(din, out, B, C, H, W, r); /* out as the upstream gradient */
        pixel_shuffle_bwd_cuda(gdin, gout, B, C, H, W, r);
        h = host_of(gdin, n);
        margin_bits(&m[PS_BWD], h, din, n, name);
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
            float *gimg = dev_from(img, n), *gg = dev_from(g, n), *gvw = dev_from(vw, V);
            const double denom = 0.5 * (double)n;
            const float a = tv_loss_cpu(g, img, weighted ? vw : NULL, B, V, H, W, denom, 0.7f);
            const float b = tv_loss_cuda(gg, gimg, weighted ? gvw : NULL, B, V, H, W, denom, 0.7f);
            margin_check(&m[TV_LOSS], &b, &a, 1, 1e-30, name);
            float *h = host_of(gg, n);
            margin_check(&m[TV_GRAD], h, g, n, 1e-30, name);
            free(h);
            cuda_free(gimg), cuda_free(gg), cuda_free(gvw);
            free(img), free(g);
        }
    assert_int_equal(margins_report(m, UP_N), 0);
}

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
    if (!have_gpu()) skip();
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
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_pos_lead),
        cmocka_unit_test(test_unpatchify_loss),
        cmocka_unit_test(test_var_attn),
        cmocka_unit_test(test_patch_embed),
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_flash),
        cmocka_unit_test(test_flash_merge),
        cmocka_unit_test(test_upsample),
        cmocka_unit_test(test_whole_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
