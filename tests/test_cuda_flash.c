/* The CUDA flash attention kernels (forward, backward, the merge of partial results) against the
 * CPU ones on the same inputs: head sizes 32 to 256, odd lengths, both token layouts, empty rows,
 * no keys, key chunks as ring attention holds them, and the same bits twice. The tolerances are
 * explained where they are set.
 * Skips, saying why, where there is no GPU or lvit was built without CUDA. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "attention/attention.h"
#include "kernels/cuda/ops_cuda.h"
#include "util_cuda.h"
#include "util_test.h"

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
static void flash_case(TuMargin (*m)[4], int di, int64_t Sq, int64_t Sk, int fused) {
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
        gin[i] = tu_dev_from(in[i], len[i]);
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
    float *go = tu_dev_from(o_init, no), *gl = cuda_alloc(sizeof(float) * (size_t)nl);
    attn_fwd_cuda(go, gl, AT(gin, 0), AT(gin, 1), AT(gin, 2), &dm, NULL);
    float *ho = tu_host_of(go, no), *hl = tu_host_of(gl, nl);
    if (Sk == 0) { /* the empty partial, exactly */
        tu_margin_bits(&m[FM_EMPTY][di], ho, o_cpu, no, cfg);
        tu_margin_bits(&m[FM_EMPTY][di], hl, lse_cpu, nl, cfg);
    } else {
        tu_margin_check(&m[FM_O][di], ho, o_cpu, no, 1.0, cfg);
        tu_margin_check(&m[FM_LSE][di], hl, lse_cpu, nl, 1.0, cfg);
    }
    cuda_upload(go, o_init, no);
    attn_fwd_cuda(go, gl, AT(gin, 0), AT(gin, 1), AT(gin, 2), &dm, NULL);
    float *ho2 = tu_host_of(go, no), *hl2 = tu_host_of(gl, nl);
    tu_margin_bits(&m[FM_BITS][di], ho2, ho, no, cfg);
    tu_margin_bits(&m[FM_BITS][di], hl2, hl, nl, cfg);
    free(ho2), free(hl2);

    /* backward from the CPU's o and lse, every 7th row made empty (lse = -inf: gets nothing) */
    float *lse_b = tu_dup_f(lse_cpu, nl);
    for (int64_t i = 0; i < nl; i++)
        if (i % 7 == 3) lse_b[i] = -INFINITY;
    float *go_b = tu_dev_from(o_cpu, no), *gl_b = tu_dev_from(lse_b, nl), *gdo = tu_dev_from(dout, no);
    for (int i = 0; i < nbuf; i++) hg[i] = tu_dup_f(g0[i], len[i]), gg[i] = tu_dev_from(g0[i], len[i]);
    const int64_t nws = (int64_t)attn_ws_floats_cuda(&dm, 1);
    float *gws = tu_falloc(nws > 0 ? nws : 1);
    tu_fill_const(gws, nws > 0 ? nws : 1, NAN); /* scratch read before written shows up as NaN */
    float *dws = tu_dev_from(gws, nws > 0 ? nws : 1);
    attn_bwd_cpu(AT(hg, 0), AT(hg, 1), AT(hg, 2), dout, AT(in, 0), AT(in, 1), AT(in, 2), o_cpu, lse_b, &dm, ws);
    attn_bwd_cuda(AT(gg, 0), AT(gg, 1), AT(gg, 2), gdo, AT(gin, 0), AT(gin, 1), AT(gin, 2), go_b, gl_b, &dm, dws);
    /* With one key dS = P (dP - Delta) is 0 in exact arithmetic (P = 1, dP = Delta): dq and dk are
       the rounding noise of dP and Delta, which dk sums over Sq queries with random signs. They are
       compared at the scale of that sum, sqrt(Sq), instead of 1 (seen in emulation: 1.5e-5 of 1 at
       Sq = 1000, d = 256, i.e. 5e-7 of sqrt(Sq)). */
    const double gflr = Sk == 1 ? sqrt((double)Sq) : 1.0;
    float *hgg[3] = {0};
    for (int i = 0; i < nbuf; i++) {
        hgg[i] = tu_host_of(gg[i], len[i]);
        tu_margin_check(&m[FM_GBUF][di], hgg[i], hg[i], len[i], gflr, cfg); /* stray writes included */
    }
    const int64_t ntok[3] = {FB * Sq, FB * Sk, FB * Sk}, strd[3] = {dm.q_stride, dm.k_stride, dm.v_stride};
    for (int t = 0; t < 3 && Sk > 0; t++) {
        float *a = gather(AT(hgg, t), ntok[t], strd[t], D), *r = gather(AT(hg, t), ntok[t], strd[t], D);
        tu_margin_check(&m[FM_DQ + t][di], a, r, ntok[t] * D, t < 2 ? gflr : 1.0, cfg);
        free(a), free(r);
    }
    /* empty rows (and everything when Sk = 0): dq exactly as it was */
    for (int64_t i = 0; i < nl; i++) {
        if (!(lse_b[i] == -INFINITY || Sk == 0)) continue;
        const int64_t s = i % Sq, bh = i / Sq, b = bh / FNH, h = bh % FNH;
        const int64_t at = (b * Sq + s) * dm.q_stride + h * d;
        tu_margin_bits(&m[FM_EMPTY][di], AT(hgg, 0) + at, AT(g0, 0) + at, d, cfg);
    }
    /* backward again: the same bits */
    for (int i = 0; i < nbuf; i++) cuda_upload(gg[i], g0[i], len[i]);
    attn_bwd_cuda(AT(gg, 0), AT(gg, 1), AT(gg, 2), gdo, AT(gin, 0), AT(gin, 1), AT(gin, 2), go_b, gl_b, &dm, dws);
    for (int i = 0; i < nbuf; i++) {
        float *h = tu_host_of(gg[i], len[i]);
        tu_margin_bits(&m[FM_BITS][di], h, hgg[i], len[i], cfg);
        free(h);
    }

    /* two key chunks (plain [B,Skc,NH,d] buffers, as a ring step holds them): merged forward = full
       forward, chunk backwards with the global o, lse = full backward */
    if (Sk >= 2) {
        const int64_t Skc[2] = {Sk / 2, Sk - Sk / 2}, s0[2] = {0, Sk / 2};
        float *co[2], *cl[2], *ck[2], *cv[2], *cdk[2], *cdv[2];
        AttnDims cm[2];
        float *gq = tu_dev_from(g0[which[0]], len[which[0]]); /* dq accumulates both chunks */
        for (int c = 0; c < 2; c++) {
            cm[c] = dm;
            cm[c].Sk = Skc[c], cm[c].k_stride = cm[c].v_stride = D;
            float *hk = gather_keys(AT(in, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *hv = gather_keys(AT(in, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            float *hdk = gather_keys(AT(g0, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *hdv = gather_keys(AT(g0, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            ck[c] = tu_dev_from(hk, FB * Skc[c] * D), cv[c] = tu_dev_from(hv, FB * Skc[c] * D);
            cdk[c] = tu_dev_from(hdk, FB * Skc[c] * D), cdv[c] = tu_dev_from(hdv, FB * Skc[c] * D);
            free(hk), free(hv), free(hdk), free(hdv);
            co[c] = tu_dev_from(o_init, no), cl[c] = cuda_alloc(sizeof(float) * (size_t)nl);
            attn_fwd_cuda(co[c], cl[c], AT(gin, 0), ck[c], cv[c], &cm[c], NULL);
            attn_bwd_cuda(gq + off[0], cdk[c], cdv[c], gdo, AT(gin, 0), ck[c], cv[c], go_b, gl_b, &cm[c], dws);
        }
        attn_merge_cuda(co[0], cl[0], co[1], cl[1], &dm);
        float *h = tu_host_of(co[0], no), *hl1 = tu_host_of(cl[0], nl);
        tu_margin_check(&m[FM_CO][di], h, ho, no, 1.0, cfg);
        tu_margin_check(&m[FM_CLSE][di], hl1, hl, nl, 1.0, cfg);
        free(h), free(hl1);
        float *hq = tu_host_of(gq, len[which[0]]);
        float *a = gather(hq + off[0], FB * Sq, dm.q_stride, D), *r = gather(AT(hgg, 0), FB * Sq, dm.q_stride, D);
        tu_margin_check(&m[FM_CDQ][di], a, r, FB * Sq * D, 1.0, cfg);
        free(hq), free(a), free(r);
        for (int c = 0; c < 2; c++) {
            float *gk = tu_host_of(cdk[c], FB * Skc[c] * D), *gv = tu_host_of(cdv[c], FB * Skc[c] * D);
            float *rk = gather_keys(AT(hgg, 1), Sk, dm.k_stride, s0[c], Skc[c], D);
            float *rv = gather_keys(AT(hgg, 2), Sk, dm.v_stride, s0[c], Skc[c], D);
            tu_margin_bits(&m[FM_CDKV][di], gk, rk, FB * Skc[c] * D, cfg);
            tu_margin_bits(&m[FM_CDKV][di], gv, rv, FB * Skc[c] * D, cfg);
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
    if (!tu_have_gpu()) skip();
    TuMargin m[FM_N][4];
    for (int q = 0; q < FM_N; q++)
        for (int di = 0; di < 4; di++)
            m[q][di] = (TuMargin){.what = FLASH_M[q].what, .tol = FLASH_M[q].tol, .d = FLASH_D[di]};
    enum { NS = sizeof FLASH_S / sizeof FLASH_S[0] };
    for (int di = 0; di < 4; di++) {
        for (int i = 0; i < NS; i++) {
            for (int j = 0; j < NS; j++)
                for (int fused = 0; fused < 2; fused++) flash_case(m, di, FLASH_S[i], FLASH_S[j], fused);
            flash_case(m, di, FLASH_S[i], 0, 0); /* no keys */
        }
    }
    assert_int_equal(tu_margins_report(&m[0][0], FM_N * 4), 0);
}

/* attn_merge_cuda against attn_merge_cpu: the same double formulas, so 1e-6 (the float weights
 * may differ in their last bit where the two libm's exp differ in the last double bit). Rows where
 * either side, or both, are empty; any head size; padding that must survive. */
static void test_flash_merge(void **st) {
    (void)st;
    if (!tu_have_gpu()) skip();
    TuMargin m[2] = {{.what = "flash merge o", .tol = 1e-6}, {.what = "flash merge lse", .tol = 1e-6}};
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
            float *go = tu_dev_from(o, no), *go2 = tu_dev_from(o2, no), *gl = tu_dev_from(l, nl), *gl2 = tu_dev_from(l2, nl);
            attn_merge_cpu(o, l, o2, l2, &dm);
            attn_merge_cuda(go, gl, go2, gl2, &dm);
            char cfg[64];
            snprintf(cfg, sizeof cfg, "d=%d Sq=%lld", d, (long long)Sq);
            float *h = tu_host_of(go, no), *hl = tu_host_of(gl, nl);
            tu_margin_check(&m[0], h, o, no, 1.0, cfg);
            tu_margin_check(&m[1], hl, l, nl, 1.0, cfg);
            free(h), free(hl), free(o), free(o2), free(l), free(l2);
            cuda_free(go), cuda_free(go2), cuda_free(gl), cuda_free(gl2);
        }
    assert_int_equal(tu_margins_report(m, 2), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flash),
        cmocka_unit_test(test_flash_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
