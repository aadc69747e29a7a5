/* The CPU kernel table's ops between images and tokens: patch embedding, position and lead-time
 * embedding, variable aggregation (cross-attention over the variables), unpatchify / patchify and
 * the latitude-weighted masked MSE loss (data-parallel splits of it included). Forward against a
 * plain double-precision reference written here, backward against central differences of that
 * reference (see util_test.h), accumulation semantics and edge cases. Odd sizes throughout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util_ops.h"
#include "util_test.h"

static const Kernels *K;

/* ================================================================ patch embedding */

enum { PB = 2, PV = 3, PH = 6, PW = 10, PP = 2, PD = 8, PL = (PH / PP) * (PW / PP) };

typedef struct {
    double *x, *w, *b, *ve, *R;
} PeCtx;

static void ref_patch_embed(double *tok, const double *x, const double *w, const double *b,
                            const double *ve) {
    const int Wp = PW / PP;
    for (int bb = 0; bb < PB; bb++)
        for (int v = 0; v < PV; v++)
            for (int l = 0; l < PL; l++)
                for (int d = 0; d < PD; d++) {
                    double s = (b ? b[v * PD + d] : 0.0) + (ve ? ve[v * PD + d] : 0.0);
                    for (int pr = 0; pr < PP; pr++)
                        for (int pc = 0; pc < PP; pc++) {
                            int h = (l / Wp) * PP + pr, ww = (l % Wp) * PP + pc;
                            s += w[((v * PD + d) * PP + pr) * PP + pc] *
                                 x[((bb * PV + v) * PH + h) * PW + ww];
                        }
                    tok[((bb * PV + v) * PL + l) * PD + d] = s;
                }
}

static double pe_loss(void *p) {
    PeCtx *c = p;
    double tok[PB * PV * PL * PD];
    ref_patch_embed(tok, c->x, c->w, c->b, c->ve);
    return tu_dot(tok, c->R, PB * PV * PL * PD);
}

enum { NX = PB * PV * PH * PW, NW = PV * PD * PP * PP, NT = PB * PV * PL * PD };

static void test_patch_embed_fwd(void **state) {
    (void)state;
    assert_int_equal(patch_embed_ws_floats(PB, PV, PH, PW, PP), PB * PL * PP * PP);
    float *x = tu_rnd(NX, 30), *w = tu_rnd(NW, 31), *b = tu_rnd(PV * PD, 32), *ve = tu_rnd(PV * PD, 33);
    float *ws = tu_falloc(patch_embed_ws_floats(PB, PV, PH, PW, PP)), tok[NT];
    double *xd = tu_to_double(x, NX), *wd = tu_to_double(w, NW), *bd = tu_to_double(b, PV * PD),
           *ved = tu_to_double(ve, PV * PD), ref[NT];
    tu_fill_const(tok, NT, NAN);
    K->patch_embed_fwd(tok, x, w, b, ve, PB, PV, PH, PW, PP, PD, ws);
    ref_patch_embed(ref, xd, wd, bd, ved);
    TU_ASSERT_CLOSE(tok, ref, NT, TOL_FWD);
    /* hand check: tok[b=1, v=2, l=6 (hp=1, wp=1), d=3] */
    double s = b[2 * PD + 3] + ve[2 * PD + 3];
    for (int pr = 0; pr < PP; pr++)
        for (int pc = 0; pc < PP; pc++)
            s += w[((2 * PD + 3) * PP + pr) * PP + pc] * x[((1 * PV + 2) * PH + 2 + pr) * PW + 2 + pc];
    assert_true(fabs(tok[((1 * PV + 2) * PL + 6) * PD + 3] - s) < 1e-5);
    K->patch_embed_fwd(tok, x, w, NULL, NULL, PB, PV, PH, PW, PP, PD, ws);
    ref_patch_embed(ref, xd, wd, NULL, NULL);
    TU_ASSERT_CLOSE(tok, ref, NT, TOL_FWD);
    free(x), free(w), free(b), free(ve), free(ws), free(xd), free(wd), free(bd), free(ved);
}

static void test_patch_embed_bwd(void **state) {
    (void)state;
    float *x = tu_rnd(NX, 34), *dtok = tu_rnd(NT, 35);
    float *ws = tu_falloc(patch_embed_ws_floats(PB, PV, PH, PW, PP));
    PeCtx c = {tu_to_double(x, NX), tu_dalloc(NW), tu_dalloc(PV * PD), tu_dalloc(PV * PD),
               tu_to_double(dtok, NT)};
    tu_fill_uniform_d(c.w, NW, 36, -1, 1);
    float *dw = tu_falloc(NW), *db = tu_falloc(PV * PD), *dve = tu_falloc(PV * PD);
    K->patch_embed_bwd(dw, db, dve, dtok, x, PB, PV, PH, PW, PP, PD, ws);
    TU_ASSERT_GRAD(pe_loss, &c, c.w, dw, NW, TOL_GRAD);
    TU_ASSERT_GRAD(pe_loss, &c, c.b, db, PV * PD, TOL_GRAD);
    TU_ASSERT_GRAD(pe_loss, &c, c.ve, dve, PV * PD, TOL_GRAD);
    float *dw2 = tu_dup_f(dw, NW), *db2 = tu_dup_f(db, PV * PD), *dve2 = tu_dup_f(dve, PV * PD);
    K->patch_embed_bwd(dw2, db2, dve2, dtok, x, PB, PV, PH, PW, PP, PD, ws);
    tu_assert_twice("dw", dw2, dw, NW);
    tu_assert_twice("dbias", db2, db, PV * PD);
    tu_assert_twice("dvar_embed", dve2, dve, PV * PD);
    float *db3 = tu_falloc(PV * PD);
    K->patch_embed_bwd(NULL, db3, NULL, dtok, x, PB, PV, PH, PW, PP, PD, ws);
    assert_memory_equal(db3, db, sizeof(float) * PV * PD);
    free(x), free(dtok), free(ws), free(c.x), free(c.w), free(c.b), free(c.ve), free(c.R);
    free(dw), free(db), free(dve), free(dw2), free(db2), free(dve2), free(db3);
}

/* ================================================================ position + lead time */

typedef struct {
    double *x0, *pos, *lw, *lb, *lead, *R;
    int64_t T;
} PlCtx;

static void ref_pos_lead(double *x, const PlCtx *c) {
    for (int b = 0; b < PB; b++)
        for (int64_t t = 0; t < c->T; t++)
            for (int d = 0; d < PD; d++)
                x[(b * c->T + t) * PD + d] = c->x0[(b * c->T + t) * PD + d] +
                                             c->pos[(t % PL) * PD + d] +
                                             c->lw[d] * c->lead[b] + c->lb[d];
}

static double pl_loss(void *p) {
    PlCtx *c = p;
    double x[PB * PV * PL * PD];
    ref_pos_lead(x, c);
    return tu_dot(x, c->R, PB * c->T * PD);
}

static void test_pos_lead(void **state) {
    (void)state;
    for (int multi = 0; multi < 2; multi++) {
        const int64_t T = multi ? PV * PL : PL, n = PB * T * PD;
        float *x = tu_rnd(n, 40), *pos = tu_rnd(PL * PD, 41), *lw = tu_rnd(PD, 42), *lb = tu_rnd(PD, 43);
        float lead[PB] = {0.06f, -1.2f}, *dx = tu_rnd(n, 44);
        PlCtx c = {tu_to_double(x, n), tu_to_double(pos, PL * PD), tu_to_double(lw, PD),
                   tu_to_double(lb, PD), tu_to_double(lead, PB), tu_to_double(dx, n), T};
        double ref[PB * PV * PL * PD];
        ref_pos_lead(ref, &c);
        K->pos_lead_fwd(x, pos, lw, lb, lead, PB, T, PL, PD);
        TU_ASSERT_CLOSE(x, ref, n, TOL_FWD);
        float *dpos = tu_falloc(PL * PD), *dlw = tu_falloc(PD), *dlb = tu_falloc(PD);
        K->pos_lead_bwd(dpos, dlw, dlb, dx, lead, PB, T, PL, PD);
        TU_ASSERT_GRAD(pl_loss, &c, c.pos, dpos, PL * PD, TOL_GRAD);
        TU_ASSERT_GRAD(pl_loss, &c, c.lw, dlw, PD, TOL_GRAD);
        TU_ASSERT_GRAD(pl_loss, &c, c.lb, dlb, PD, TOL_GRAD);
        float *dpos2 = tu_dup_f(dpos, PL * PD), *dlw2 = tu_dup_f(dlw, PD), *dlb2 = tu_dup_f(dlb, PD);
        K->pos_lead_bwd(dpos2, dlw2, dlb2, dx, lead, PB, T, PL, PD);
        tu_assert_twice("dpos", dpos2, dpos, PL * PD);
        tu_assert_twice("dlead_w", dlw2, dlw, PD);
        tu_assert_twice("dlead_b", dlb2, dlb, PD);
        free(x), free(pos), free(lw), free(lb), free(dx), free(dpos), free(dlw), free(dlb);
        free(c.x0), free(c.pos), free(c.lw), free(c.lb), free(c.lead), free(c.R);
        free(dpos2), free(dlw2), free(dlb2);
    }
}

/* ================================================================ variable aggregation */

typedef struct {
    int B, L, V, NH, D;
    double *q, *kv, *R;
} VaCtx;

static void ref_var_attn(double *out, double *probs, const VaCtx *c) {
    const int B = c->B, L = c->L, V = c->V, NH = c->NH, D = c->D, hd = D / NH;
    double *s = tu_dalloc(V);
    for (int b = 0; b < B; b++)
        for (int l = 0; l < L; l++)
            for (int h = 0; h < NH; h++) {
                double mx = -INFINITY, z = 0.0;
                for (int v = 0; v < V; v++) {
                    const double *k = c->kv + ((int64_t)(b * V + v) * L + l) * 2 * D + h * hd;
                    s[v] = 0.0;
                    for (int i = 0; i < hd; i++) s[v] += c->q[h * hd + i] * k[i];
                    s[v] /= sqrt((double)hd);
                    if (s[v] > mx) mx = s[v];
                }
                for (int v = 0; v < V; v++) z += (s[v] = exp(s[v] - mx));
                double *o = out + (int64_t)(b * L + l) * D + h * hd;
                for (int i = 0; i < hd; i++) o[i] = 0.0;
                for (int v = 0; v < V; v++) {
                    const double *vv = c->kv + ((int64_t)(b * V + v) * L + l) * 2 * D + D + h * hd;
                    double p = s[v] / z;
                    if (probs) probs[((b * L + l) * NH + h) * V + v] = p;
                    for (int i = 0; i < hd; i++) o[i] += p * vv[i];
                }
            }
    free(s);
}

static double va_loss(void *p) {
    VaCtx *c = p;
    const int64_t n = (int64_t)c->B * c->L * c->D;
    double *out = tu_dalloc(n);
    ref_var_attn(out, NULL, c);
    double l = tu_dot(out, c->R, n);
    free(out);
    return l;
}

/* The second shape has D above the kernel's stack budget for dq partials (the other path). */
static void test_var_attn(void **state) {
    (void)state;
    const int shapes[2][5] = {{2, 5, 3, 2, 8}, {1, 3, 2, 10, 8200}};
    for (int sh = 0; sh < 2; sh++) {
        const int B = shapes[sh][0], L = shapes[sh][1], V = shapes[sh][2], NH = shapes[sh][3],
                  D = shapes[sh][4];
        const int64_t nkv = (int64_t)B * V * L * 2 * D, no = (int64_t)B * L * D,
                      np = (int64_t)B * L * NH * V;
        /* scaled scores have std ~1 whatever hd: the softmax is neither uniform nor one-hot */
        float *q = tu_falloc(D), *kv = tu_falloc(nkv), *dout = tu_rnd(no, 52);
        tu_fill_uniform(q, D, 50, -2.0f, 2.0f);
        tu_fill_uniform(kv, nkv, 51, -1.5f, 1.5f);
        VaCtx c = {B, L, V, NH, D, tu_to_double(q, D), tu_to_double(kv, nkv),
                   tu_to_double(dout, no)};
        double *ref = tu_dalloc(no), *rprobs = tu_dalloc(np);
        float *out = tu_falloc(no), *probs = tu_falloc(np);
        ref_var_attn(ref, rprobs, &c);
        K->var_attn_fwd(out, probs, q, kv, B, L, V, NH, D);
        TU_ASSERT_CLOSE(out, ref, no, TOL_FWD);
        TU_ASSERT_CLOSE(probs, rprobs, np, TOL_FWD);
        float *dq = tu_falloc(D), *dkv = tu_falloc(nkv);
        K->var_attn_bwd(dq, dkv, dout, probs, q, kv, B, L, V, NH, D);
        TU_ASSERT_GRAD(va_loss, &c, c.q, dq, D, TOL_GRAD);
        TU_ASSERT_GRAD(va_loss, &c, c.kv, dkv, nkv, TOL_GRAD);
        float *dq2 = tu_dup_f(dq, D), *dkv2 = tu_dup_f(dkv, nkv), *dq3 = tu_falloc(D);
        K->var_attn_bwd(dq2, dkv2, dout, probs, q, kv, B, L, V, NH, D);
        tu_assert_twice("dq", dq2, dq, D);
        tu_assert_twice("dkv", dkv2, dkv, nkv);
        K->var_attn_bwd(dq3, NULL, dout, probs, q, kv, B, L, V, NH, D);
        assert_memory_equal(dq3, dq, sizeof(float) * D);
        free(q), free(kv), free(dout), free(c.q), free(c.kv), free(c.R), free(ref), free(rprobs);
        free(out), free(probs), free(dq), free(dkv), free(dq2), free(dkv2), free(dq3);
    }
}

/* ================================================================ unpatchify and loss */

enum { UB = 2, UV = 3, UH = 6, UW = 10, UP = 2, UL = (UH / UP) * (UW / UP), UN = UB * UV * UH * UW };

/* Written from the token side (a scatter), the opposite direction of the kernel's loops. */
static void ref_unpatchify(double *img, const double *pred, int multi) {
    const int Wp = UW / UP, T = multi ? UV * UL : UL, E = multi ? UP * UP : UP * UP * UV;
    for (int b = 0; b < UB; b++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < E; e++) {
                int v = multi ? t / UL : e % UV, l = multi ? t % UL : t;
                int pe = multi ? e : e / UV; /* position inside the patch, p_row-major */
                int h = (l / Wp) * UP + pe / UP, w = (l % Wp) * UP + pe % UP;
                img[((b * UV + v) * UH + h) * UW + w] = pred[((int64_t)b * T + t) * E + e];
            }
}

static void test_unpatchify(void **state) {
    (void)state;
    float *pred = tu_falloc(UN), img[UN];
    for (int i = 0; i < UN; i++) pred[i] = (float)i; /* value = its own token-layout index */
    double *pd = tu_to_double(pred, UN), ref[UN];
    for (int multi = 0; multi < 2; multi++) {
        tu_fill_const(img, UN, NAN);
        K->unpatchify(img, pred, UB, UV, UH, UW, UP, multi);
        ref_unpatchify(ref, pd, multi);
        TU_ASSERT_CLOSE(img, ref, UN, 0.0);
        /* patchify is its inverse (and, being a permutation, its adjoint: the Reslim head's backward) */
        float back[UN];
        tu_fill_const(back, UN, NAN);
        K->patchify(back, img, UB, UV, UH, UW, UP, multi);
        TU_ASSERT_CLOSE_FF(back, pred, UN, 0.0);
    }
    /* By hand, B=1, Vo=2, H=4, W=6, p=2 (Wp=3, L=6): pixel (v=1, h=3, w=4) is hp=1, pr=1,
     * wp=2, pc=0, so token l=5 and in-patch position 2.
     *   agg:   E = 8, e = 2*Vo + v = 5   -> pred[5*8 + 5]       = 45
     *   multi: E = 4, token v*L + l = 11 -> pred[11*4 + 2]      = 46
     * and pixel (v=0, h=1, w=1): l=0, position 3 -> agg pred[6] = 6, multi pred[3] = 3. */
    float small[48];
    K->unpatchify(small, pred, 1, 2, 4, 6, 2, 0);
    assert_true(small[(1 * 4 + 3) * 6 + 4] == 45.0f && small[(0 * 4 + 1) * 6 + 1] == 6.0f);
    K->unpatchify(small, pred, 1, 2, 4, 6, 2, 1);
    assert_true(small[(1 * 4 + 3) * 6 + 4] == 46.0f && small[(0 * 4 + 1) * 6 + 1] == 3.0f);
    free(pred), free(pd);
}

typedef struct {
    double *pred, *y, *mask, *wlat;
    int multi;
    double dloss;
} MseCtx;

static double ref_mse(void *p) {
    MseCtx *c = p;
    double img[UN], num = 0.0, den = 0.0;
    ref_unpatchify(img, c->pred, c->multi);
    for (int i = 0; i < UN; i++) {
        double m = c->mask ? c->mask[i] : 1.0, d = img[i] - c->y[i];
        num += c->wlat[(i / UW) % UH] * m * d * d;
        den += m;
    }
    return den > 0.0 ? c->dloss * num / den : 0.0;
}

static void test_mse_loss(void **state) {
    (void)state;
    float *pred = tu_rnd(UN, 60), *y = tu_rnd(UN, 61), *mask = tu_falloc(UN), wlat[UH];
    float *dpred = tu_falloc(UN), *ws = tu_falloc(UN);
    TuRng r;
    tu_rng_seed(&r, 62);
    for (int i = 0; i < UN; i++) mask[i] = tu_rng_uniform(&r) < 0.7 ? 1.0f : 0.0f;
    for (int h = 0; h < UH; h++) wlat[h] = (float)(cos(-1.2 + 0.45 * h) / 0.8);
    MseCtx c = {tu_to_double(pred, UN), tu_to_double(y, UN), NULL,
                tu_to_double(wlat, UH), 0, 0.7};
    for (int multi = 0; multi < 2; multi++)
        for (int masked = 0; masked < 2; masked++) {
            c.multi = multi;
            c.mask = masked ? tu_to_double(mask, UN) : NULL;
            tu_fill_const(dpred, UN, NAN); /* dpred is overwritten, not accumulated */
            float loss = K->mse_loss(dpred, pred, y, masked ? mask : NULL, wlat, UB, UV, UH,
                                     UW, UP, multi, 0.7f, 0.0, ws);
            double rl = ref_mse(&c) / 0.7;
            if (!(fabs(loss - rl) <= 1e-6 * rl))
                fail_msg("mse loss %.9g vs %.9g (multi %d mask %d)", (double)loss, rl, multi,
                         masked);
            TU_ASSERT_GRAD(ref_mse, &c, c.pred, dpred, UN, TOL_GRAD);
            free(c.mask);
        }
    /* data parallel: each half of the batch with the global mask sum as denominator gives
     * losses that add up to the whole batch's, and the same gradients */
    for (int multi = 0; multi < 2; multi++) {
        float full = K->mse_loss(dpred, pred, y, mask, wlat, UB, UV, UH, UW, UP, multi, 1.0f, 0.0, ws);
        double msum = 0;
        for (int i = 0; i < UN; i++) msum += mask[i];
        float *dhalf = tu_falloc(UN);
        const int half = UN / UB; /* one sample: [Vo,H,W] image, [T,E] tokens of the same size */
        double sum = 0;
        for (int b = 0; b < UB; b++)
            sum += K->mse_loss(dhalf + b * half, pred + b * half, y + b * half, mask + b * half, wlat, 1, UV, UH, UW,
                               UP, multi, 1.0f, msum, ws);
        if (!(fabs(sum - full) <= 1e-6 * full)) fail_msg("split losses add to %.9g, whole batch %.9g", sum, (double)full);
        TU_ASSERT_CLOSE_FF(dhalf, dpred, UN, 1e-6);
        free(dhalf);
    }
    /* all cells masked out: loss 0 and a zero gradient, not NaN */
    float *zero_mask = tu_falloc(UN);
    tu_fill_const(dpred, UN, NAN);
    float loss = K->mse_loss(dpred, pred, y, zero_mask, wlat, UB, UV, UH, UW, UP, 0, 1.0f, 0.0, ws);
    assert_true(loss == 0.0f);
    for (int i = 0; i < UN; i++)
        if (dpred[i] != 0.0f) fail_msg("dpred[%d] = %g with an all-zero mask", i, (double)dpred[i]);
    free(pred), free(y), free(mask), free(dpred), free(ws), free(zero_mask);
    free(c.pred), free(c.y), free(c.wlat);
}

int main(void) {
    K = kernels_cpu();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_embed_fwd),
        cmocka_unit_test(test_patch_embed_bwd),
        cmocka_unit_test(test_pos_lead),
        cmocka_unit_test(test_var_attn),
        cmocka_unit_test(test_unpatchify),
        cmocka_unit_test(test_mse_loss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
