/* Every non-attention op of the CPU kernel table (the Reslim head's convolution, pixel shuffle
 * and total variation included): forward against a plain double-precision reference written
 * here, backward against central differences of that reference (see util_test.h),
 * accumulation semantics, edge cases, and bitwise determinism across thread counts. Odd sizes throughout so that no blocking or vector width divides them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernels/kernels.h"
#include "util_test.h"

static const Kernels *K;

/* Forward vs double reference, and analytic vs finite-difference gradients. */
#define TOL_FWD 1e-5
#define TOL_GRAD 1e-4

/* g2 (after two identical backward calls) must be 2 * g1 (after one). */
static void assert_twice(const char *what, const float *g2, const float *g1, int64_t n) {
    double *ref = tu_dalloc(n);
    for (int64_t i = 0; i < n; i++) ref[i] = 2.0 * g1[i];
    int ok = tu_close(what, g2, ref, n, 1e-6, __FILE__, __LINE__);
    free(ref);
    if (!ok) fail_msg("%s does not accumulate", what);
}

static float *rnd(int64_t n, uint64_t seed) {
    float *x = tu_falloc(n);
    tu_fill_uniform(x, n, seed, -1.0f, 1.0f);
    return x;
}

static float *dup_f(const float *x, int64_t n) {
    float *y = tu_falloc(n);
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

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
    float *h = rnd(n, 1), *back = tu_falloc(n);
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

/* ================================================================ linear */

enum { LM = 37, LK = 19, LN = 23 };

typedef struct {
    double *in, *w, *b, *R;
} LinCtx;

static void ref_linear(double *out, const double *in, const double *w, const double *b,
                       int M, int Kd, int N) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = b ? b[j] : 0.0;
            for (int k = 0; k < Kd; k++) s += in[i * Kd + k] * w[j * Kd + k];
            out[i * N + j] = s;
        }
}

static double lin_loss(void *p) {
    LinCtx *c = p;
    double out[LM * LN];
    ref_linear(out, c->in, c->w, c->b, LM, LK, LN);
    return tu_dot(out, c->R, LM * LN);
}

static void test_linear_fwd(void **state) {
    (void)state;
    float *in = rnd(LM * LK, 2), *w = rnd(LN * LK, 3), *b = rnd(LN, 4);
    double *ind = tu_to_double(in, LM * LK), *wd = tu_to_double(w, LN * LK),
           *bd = tu_to_double(b, LN), ref[LM * LN];
    float out[LM * LN], *prev = rnd(LM * LN, 5);
    for (int with_bias = 0; with_bias < 2; with_bias++)
        for (int acc = 0; acc < 2; acc++) {
            /* without accumulate, whatever was in out (even NaN) must not leak through */
            if (acc)
                memcpy(out, prev, sizeof out);
            else
                tu_fill_const(out, LM * LN, NAN);
            K->linear_fwd(out, in, w, with_bias ? b : NULL, LM, LK, LN, acc);
            ref_linear(ref, ind, wd, with_bias ? bd : NULL, LM, LK, LN);
            if (acc)
                for (int i = 0; i < LM * LN; i++) ref[i] += prev[i];
            TU_ASSERT_CLOSE(out, ref, LM * LN, TOL_FWD);
        }
    free(in), free(w), free(b), free(ind), free(wd), free(bd), free(prev);
}

static void test_linear_bwd(void **state) {
    (void)state;
    float *in = rnd(LM * LK, 6), *w = rnd(LN * LK, 7), *b = rnd(LN, 8), *dout = rnd(LM * LN, 9);
    LinCtx c = {tu_to_double(in, LM * LK), tu_to_double(w, LN * LK), tu_to_double(b, LN),
                tu_to_double(dout, LM * LN)};
    float *din = tu_falloc(LM * LK), *dw = tu_falloc(LN * LK), *db = tu_falloc(LN);
    K->linear_bwd(din, dw, db, dout, in, w, LM, LK, LN);
    TU_ASSERT_GRAD(lin_loss, &c, c.in, din, LM * LK, TOL_GRAD);
    TU_ASSERT_GRAD(lin_loss, &c, c.w, dw, LN * LK, TOL_GRAD);
    TU_ASSERT_GRAD(lin_loss, &c, c.b, db, LN, TOL_GRAD);

    float *din2 = dup_f(din, LM * LK), *dw2 = dup_f(dw, LN * LK), *db2 = dup_f(db, LN);
    K->linear_bwd(din2, dw2, db2, dout, in, w, LM, LK, LN);
    assert_twice("din", din2, din, LM * LK);
    assert_twice("dw", dw2, dw, LN * LK);
    assert_twice("dbias", db2, db, LN);

    /* NULL = not wanted; the others are unaffected */
    float *db3 = tu_falloc(LN), *din3 = tu_falloc(LM * LK);
    K->linear_bwd(NULL, NULL, db3, dout, in, w, LM, LK, LN);
    assert_memory_equal(db3, db, sizeof(float) * LN);
    K->linear_bwd(din3, NULL, NULL, dout, in, w, LM, LK, LN);
    TU_ASSERT_CLOSE_FF(din3, din, LM * LK, 1e-6);
    free(in), free(w), free(b), free(dout), free(c.in), free(c.w), free(c.b), free(c.R);
    free(din), free(dw), free(db), free(din2), free(dw2), free(db2), free(db3), free(din3);
}

/* ================================================================ layernorm */

enum { NM = 37, NC = 23 };
static const float LN_EPS = 1e-5f;

typedef struct {
    double *in, *w, *b, *R;
} LnCtx;

static void ref_layernorm(double *out, double *mean, double *rstd, const double *in,
                          const double *w, const double *b, int M, int C, double eps) {
    for (int r = 0; r < M; r++) {
        const double *x = in + r * C;
        double mu = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) mu += x[c];
        mu /= C;
        for (int c = 0; c < C; c++) var += (x[c] - mu) * (x[c] - mu);
        double rs = 1.0 / sqrt(var / C + eps);
        for (int c = 0; c < C; c++) out[r * C + c] = (x[c] - mu) * rs * w[c] + b[c];
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
    }
}

static double ln_loss(void *p) {
    LnCtx *c = p;
    double out[NM * NC];
    ref_layernorm(out, NULL, NULL, c->in, c->w, c->b, NM, NC, LN_EPS);
    return tu_dot(out, c->R, NM * NC);
}

/* Rows with a mean far from zero relative to their spread: the one-pass variance fails. */
static float *ln_input(uint64_t seed) {
    float *in = tu_falloc(NM * NC);
    tu_fill_normal(in, NM * NC, seed, 0.0f, 1.0f);
    for (int r = 0; r < NM; r += 3)
        for (int c = 0; c < NC; c++) in[r * NC + c] = 20.0f + 0.05f * in[r * NC + c];
    return in;
}

static void test_layernorm_fwd(void **state) {
    (void)state;
    float *in = ln_input(10), *w = rnd(NC, 11), *b = rnd(NC, 12);
    double *ind = tu_to_double(in, NM * NC), *wd = tu_to_double(w, NC), *bd = tu_to_double(b, NC);
    double ref[NM * NC], rmean[NM], rrstd[NM];
    float out[NM * NC], mean[NM], rstd[NM];
    ref_layernorm(ref, rmean, rrstd, ind, wd, bd, NM, NC, LN_EPS);
    K->layernorm_fwd(out, mean, rstd, in, w, b, NM, NC, LN_EPS);
    TU_ASSERT_CLOSE(out, ref, NM * NC, TOL_FWD);
    TU_ASSERT_CLOSE(mean, rmean, NM, 1e-6);
    TU_ASSERT_CLOSE(rstd, rrstd, NM, TOL_FWD);
    free(in), free(w), free(b), free(ind), free(wd), free(bd);
}

static void test_layernorm_bwd(void **state) {
    (void)state;
    float *in = ln_input(13), *w = rnd(NC, 14), *b = rnd(NC, 15), *dout = rnd(NM * NC, 16);
    LnCtx c = {tu_to_double(in, NM * NC), tu_to_double(w, NC), tu_to_double(b, NC),
               tu_to_double(dout, NM * NC)};
    float out[NM * NC], mean[NM], rstd[NM];
    K->layernorm_fwd(out, mean, rstd, in, w, b, NM, NC, LN_EPS);
    float *din = tu_falloc(NM * NC), *dw = tu_falloc(NC), *db = tu_falloc(NC);
    K->layernorm_bwd(din, dw, db, dout, in, w, mean, rstd, NM, NC);
    TU_ASSERT_GRAD(ln_loss, &c, c.in, din, NM * NC, TOL_GRAD);
    TU_ASSERT_GRAD(ln_loss, &c, c.w, dw, NC, TOL_GRAD);
    TU_ASSERT_GRAD(ln_loss, &c, c.b, db, NC, TOL_GRAD);
    float *din2 = dup_f(din, NM * NC), *dw2 = dup_f(dw, NC), *db2 = dup_f(db, NC);
    K->layernorm_bwd(din2, dw2, db2, dout, in, w, mean, rstd, NM, NC);
    assert_twice("din", din2, din, NM * NC);
    assert_twice("dw", dw2, dw, NC);
    assert_twice("db", db2, db, NC);
    float *dw3 = tu_falloc(NC);
    K->layernorm_bwd(NULL, dw3, NULL, dout, in, w, mean, rstd, NM, NC);
    assert_memory_equal(dw3, dw, sizeof(float) * NC);
    free(in), free(w), free(b), free(dout), free(c.in), free(c.w), free(c.b), free(c.R);
    free(din), free(dw), free(db), free(din2), free(dw2), free(db2), free(dw3);
}

/* ================================================================ GELU and elementwise */

/* Phi via erfc: 1 + erf(x/sqrt 2) underflows to 0 in double below x ~ -8.3. */
static double ref_phi(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double ref_gelu(double x) { return x * ref_phi(x); }
static double ref_dgelu(double x) {
    return ref_phi(x) + x * exp(-0.5 * x * x) * 0.3989422804014327; /* 1/sqrt(2 pi) */
}

typedef struct {
    double *x, *R;
    int64_t n;
} GeluCtx;

static double gelu_loss(void *p) {
    GeluCtx *c = p;
    double s = 0.0;
    for (int64_t i = 0; i < c->n; i++) s += ref_gelu(c->x[i]) * c->R[i];
    return s;
}

/* Inputs: a fine grid over [-12, 12] (both approximation regions and their seams), the
 * seams themselves, and values far out. */
enum { GN = 2413 };
static float *gelu_inputs(void) {
    float *x = tu_falloc(GN);
    for (int i = 0; i < 2401; i++) x[i] = -12.0f + 0.01f * (float)i;
    const float extra[GN - 2401] = {0.0f, -0.0f, 1.5f, -1.5f, 10.0f, -10.0f, 1e-30f, -1e-30f,
                                    1e6f, -1e6f, 1.50001f, -1.50001f};
    memcpy(x + 2401, extra, sizeof extra);
    return x;
}

static void test_gelu_fwd(void **state) {
    (void)state;
    float *x = gelu_inputs(), *out = tu_falloc(GN);
    double *ref = tu_dalloc(GN);
    for (int i = 0; i < GN; i++) ref[i] = ref_gelu(x[i]);
    K->gelu_fwd(out, x, GN);
    TU_ASSERT_CLOSE(out, ref, GN, 1e-7);
    /* elementwise relative accuracy, including the tiny negative tail down to x = -10 */
    for (int i = 0; i < GN; i++) {
        double r = ref[i], e = fabs(out[i] - r);
        if (!(e <= 3e-6 * fabs(r) + 1e-37 || (x[i] < -10.0f && fabs(out[i]) < 1e-21)))
            fail_msg("gelu(%.9g) = %.9g, reference %.9g", (double)x[i], (double)out[i], r);
    }
    free(x), free(out), free(ref);
}

static void test_gelu_bwd(void **state) {
    (void)state;
    float *x = gelu_inputs(), *dout = rnd(GN, 17), *din = tu_falloc(GN);
    GeluCtx c = {tu_to_double(x, GN), tu_to_double(dout, GN), GN};
    double *ref = tu_dalloc(GN);
    for (int i = 0; i < GN; i++) ref[i] = c.R[i] * ref_dgelu(x[i]);
    K->gelu_bwd(din, dout, x, GN);
    TU_ASSERT_CLOSE(din, ref, GN, TOL_FWD);
    /* the finite difference checks the reference derivative as well (skip |x| = 1e6) */
    TU_ASSERT_GRAD(gelu_loss, &c, c.x, din, 2401, TOL_GRAD);
    float *din2 = dup_f(din, GN);
    K->gelu_bwd(din2, dout, x, GN);
    assert_twice("din", din2, din, GN);
    free(x), free(dout), free(din), free(c.x), free(c.R), free(ref), free(din2);
}

static void test_add_scale(void **state) {
    (void)state;
    const int64_t n = 100003;
    float *y = rnd(n, 18), *x = rnd(n, 19), *y0 = dup_f(y, n);
    double *ref = tu_dalloc(n);
    K->add_inplace(y, x, n);
    for (int64_t i = 0; i < n; i++) ref[i] = (double)y0[i] + x[i];
    TU_ASSERT_CLOSE(y, ref, n, 1e-7);
    K->scale(y, -0.37f, n);
    for (int64_t i = 0; i < n; i++) ref[i] *= -0.37;
    TU_ASSERT_CLOSE(y, ref, n, 1e-6);
    K->lerp(y, x, 0.01f, n); /* one EMA update with decay 0.99 */
    for (int64_t i = 0; i < n; i++) ref[i] = ref[i] + 0.01 * ((double)x[i] - ref[i]);
    TU_ASSERT_CLOSE(y, ref, n, 1e-6);
    free(y), free(x), free(y0), free(ref);
}

/* ================================================================ optimizer */

static void test_sumsq(void **state) {
    (void)state;
    const int64_t n = 1000003;
    float *x = tu_falloc(n);
    tu_fill_normal(x, n, 20, 0.5f, 2.0f);
    double ref = 0.0;
    for (int64_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    double got = K->sumsq(x, n);
    if (!(fabs(got - ref) <= 1e-12 * ref)) fail_msg("sumsq %.17g vs %.17g", got, ref);
    assert_true(K->sumsq(x, 0) == 0.0);
    float three[3] = {1.0f, -2.0f, 3.0f};
    assert_true(K->sumsq(three, 3) == 14.0);
    free(x);
}

static void test_adamw_hand(void **state) {
    (void)state;
    /* step t = 3 from p=1, m=0.1, v=0.01 with g=0.5, lr=0.1, betas (0.9, 0.999), eps=1e-8,
     * wd=0.01:  p = 1 * (1 - 0.1*0.01) = 0.999;  m = 0.9*0.1 + 0.1*0.5 = 0.14;
     * v = 0.999*0.01 + 0.001*0.25 = 0.01024;  bc1 = 1-0.9^3 = 0.271;  bc2 = 1-0.999^3;
     * p -= 0.1 * (0.14/0.271) / (sqrt(0.01024/bc2) + 1e-8)  ->  0.971051905... */
    float p = 1.0f, m = 0.1f, v = 0.01f, g = 0.5f;
    K->adamw(&p, &m, &v, &g, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.271f, 0.002997001f);
    /* float inputs (0.01f, 0.999f, ...) are themselves off by up to half an ulp */
    if (fabs(p - 0.9710519051775128) > 1e-6 * 0.971 || fabs(m - 0.14) > 1e-6 * 0.14 ||
        fabs(v - 0.01024) > 1e-6 * 0.01024)
        fail_msg("adamw step: p %.9g m %.9g v %.9g", (double)p, (double)m, (double)v);
}

static void test_adamw_vector(void **state) {
    (void)state;
    const int64_t n = 40001;
    float *p = rnd(n, 21), *m = rnd(n, 22), *v = rnd(n, 23), *g = rnd(n, 24);
    for (int64_t i = 0; i < n; i++) v[i] = fabsf(v[i]) * 1e-3f;
    double *rp = tu_dalloc(n), *rm = tu_dalloc(n), *rv = tu_dalloc(n);
    const double lr = 3e-4, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.05;
    const double bc1 = 1.0 - pow(b1, 7), bc2 = 1.0 - pow(b2, 7);
    for (int64_t i = 0; i < n; i++) {
        rm[i] = b1 * m[i] + (1 - b1) * g[i];
        rv[i] = b2 * v[i] + (1 - b2) * (double)g[i] * g[i];
        rp[i] = p[i] * (1 - lr * wd) - lr * (rm[i] / bc1) / (sqrt(rv[i] / bc2) + eps);
    }
    K->adamw(p, m, v, g, n, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, (float)bc1,
             (float)bc2);
    TU_ASSERT_CLOSE(p, rp, n, 1e-6);
    TU_ASSERT_CLOSE(m, rm, n, 1e-6);
    TU_ASSERT_CLOSE(v, rv, n, 1e-6);
    free(p), free(m), free(v), free(g), free(rp), free(rm), free(rv);
}

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
    float *x = rnd(NX, 30), *w = rnd(NW, 31), *b = rnd(PV * PD, 32), *ve = rnd(PV * PD, 33);
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
    float *x = rnd(NX, 34), *dtok = rnd(NT, 35);
    float *ws = tu_falloc(patch_embed_ws_floats(PB, PV, PH, PW, PP));
    PeCtx c = {tu_to_double(x, NX), tu_dalloc(NW), tu_dalloc(PV * PD), tu_dalloc(PV * PD),
               tu_to_double(dtok, NT)};
    tu_fill_uniform_d(c.w, NW, 36, -1, 1);
    float *dw = tu_falloc(NW), *db = tu_falloc(PV * PD), *dve = tu_falloc(PV * PD);
    K->patch_embed_bwd(dw, db, dve, dtok, x, PB, PV, PH, PW, PP, PD, ws);
    TU_ASSERT_GRAD(pe_loss, &c, c.w, dw, NW, TOL_GRAD);
    TU_ASSERT_GRAD(pe_loss, &c, c.b, db, PV * PD, TOL_GRAD);
    TU_ASSERT_GRAD(pe_loss, &c, c.ve, dve, PV * PD, TOL_GRAD);
    float *dw2 = dup_f(dw, NW), *db2 = dup_f(db, PV * PD), *dve2 = dup_f(dve, PV * PD);
    K->patch_embed_bwd(dw2, db2, dve2, dtok, x, PB, PV, PH, PW, PP, PD, ws);
    assert_twice("dw", dw2, dw, NW);
    assert_twice("dbias", db2, db, PV * PD);
    assert_twice("dvar_embed", dve2, dve, PV * PD);
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
        float *x = rnd(n, 40), *pos = rnd(PL * PD, 41), *lw = rnd(PD, 42), *lb = rnd(PD, 43);
        float lead[PB] = {0.06f, -1.2f}, *dx = rnd(n, 44);
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
        float *dpos2 = dup_f(dpos, PL * PD), *dlw2 = dup_f(dlw, PD), *dlb2 = dup_f(dlb, PD);
        K->pos_lead_bwd(dpos2, dlw2, dlb2, dx, lead, PB, T, PL, PD);
        assert_twice("dpos", dpos2, dpos, PL * PD);
        assert_twice("dlead_w", dlw2, dlw, PD);
        assert_twice("dlead_b", dlb2, dlb, PD);
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
        float *q = tu_falloc(D), *kv = tu_falloc(nkv), *dout = rnd(no, 52);
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
        float *dq2 = dup_f(dq, D), *dkv2 = dup_f(dkv, nkv), *dq3 = tu_falloc(D);
        K->var_attn_bwd(dq2, dkv2, dout, probs, q, kv, B, L, V, NH, D);
        assert_twice("dq", dq2, dq, D);
        assert_twice("dkv", dkv2, dkv, nkv);
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
    float *pred = rnd(UN, 60), *y = rnd(UN, 61), *mask = tu_falloc(UN), wlat[UH];
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

/* ================================================================ Reslim head: 3x3 conv */

typedef struct {
    int B, Cin, Cout, H, W;
    double *in, *w, *b, *R; /* b may be NULL */
} CvCtx;

static void ref_conv3x3(double *out, const CvCtx *c) {
    const int Ci = c->Cin, Co = c->Cout, H = c->H, W = c->W;
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < Co; co++)
            for (int h = 0; h < H; h++)
                for (int x = 0; x < W; x++) {
                    double s = c->b ? c->b[co] : 0.0;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = h + kh - 1, iw = x + kw - 1;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += c->w[((co * Ci + ci) * 3 + kh) * 3 + kw] *
                                         c->in[(((int64_t)b * Ci + ci) * H + ih) * W + iw];
                            }
                    out[(((int64_t)b * Co + co) * H + h) * W + x] = s;
                }
}

/* The adjoint written as its own loops (scatter from every output), so that an index slip
 * shared with the forward reference would not cancel out. */
static void ref_conv3x3_bwd(double *din, double *dw, double *db, const double *dout,
                            const CvCtx *c) {
    const int Ci = c->Cin, Co = c->Cout, H = c->H, W = c->W;
    memset(din, 0, sizeof(double) * (size_t)c->B * Ci * H * W);
    memset(dw, 0, sizeof(double) * (size_t)Co * Ci * 9);
    memset(db, 0, sizeof(double) * (size_t)Co);
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < Co; co++)
            for (int h = 0; h < H; h++)
                for (int x = 0; x < W; x++) {
                    const double g = dout[(((int64_t)b * Co + co) * H + h) * W + x];
                    db[co] += g;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = h + kh - 1, iw = x + kw - 1;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                int64_t ii = (((int64_t)b * Ci + ci) * H + ih) * W + iw;
                                int wi = ((co * Ci + ci) * 3 + kh) * 3 + kw;
                                din[ii] += g * c->w[wi];
                                dw[wi] += g * c->in[ii];
                            }
                }
}

static double cv_loss(void *p) {
    CvCtx *c = p;
    const int64_t n = (int64_t)c->B * c->Cout * c->H * c->W;
    double *out = tu_dalloc(n);
    ref_conv3x3(out, c);
    double l = tu_dot(out, c->R, n);
    free(out);
    return l;
}

static float *conv_ws(int B, int Ci, int Co, int H, int W) {
    int64_t n = conv3x3_ws_floats(B, Ci, Co, H, W);
    return tu_falloc(n > 0 ? n : 1);
}

/* expect = pre + g (double), the value an accumulating backward must leave */
static double *plus(const float *pre, const double *g, int64_t n) {
    double *e = tu_dalloc(n);
    for (int64_t i = 0; i < n; i++) e[i] = pre[i] + g[i];
    return e;
}

/* Forward and backward against the double loops on one shape: the forward with and without
 * bias (out pre-filled with NaN: it is overwritten), the backward with each of the 8 subsets of
 * {din, dw, dbias} wanted (pre-filled: it accumulates; in and w passed only where the subset
 * needs them, as the contract allows). Returns the worst error seen. */
static double conv_case(int B, int Ci, int Co, int H, int W, uint64_t seed, double tol) {
    const int64_t ni = (int64_t)B * Ci * H * W, nw = (int64_t)Co * Ci * 9, no = (int64_t)B * Co * H * W;
    float *in = rnd(ni, seed), *w = rnd(nw, seed + 1), *bias = rnd(Co, seed + 2);
    float *dout = rnd(no, seed + 3), *out = tu_falloc(no), *ws = conv_ws(B, Ci, Co, H, W);
    float *pi = rnd(ni, seed + 4), *pw = rnd(nw, seed + 5), *pb = rnd(Co, seed + 6);
    CvCtx c = {B, Ci, Co, H, W, tu_to_double(in, ni), tu_to_double(w, nw), NULL, NULL};
    double *bd = tu_to_double(bias, Co), *ref = tu_dalloc(no), *dod = tu_to_double(dout, no);
    double worst = 0.0;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        tu_fill_const(out, no, NAN);
        K->conv3x3_fwd(out, in, w, with_bias ? bias : NULL, B, Ci, Co, H, W, ws);
        c.b = with_bias ? bd : NULL;
        ref_conv3x3(ref, &c);
        worst = fmax(worst, tu_max_rel_err(out, ref, no, NULL));
        TU_ASSERT_CLOSE(out, ref, no, tol);
    }
    double *gi = tu_dalloc(ni), *gw = tu_dalloc(nw), *gb = tu_dalloc(Co);
    ref_conv3x3_bwd(gi, gw, gb, dod, &c);
    double *ei = plus(pi, gi, ni), *ew = plus(pw, gw, nw), *eb = plus(pb, gb, Co);
    float *di = tu_falloc(ni), *dw = tu_falloc(nw), *db = tu_falloc(Co);
    for (int mask = 0; mask < 8; mask++) {
        memcpy(di, pi, sizeof(float) * (size_t)ni);
        memcpy(dw, pw, sizeof(float) * (size_t)nw);
        memcpy(db, pb, sizeof(float) * (size_t)Co);
        const int wi = mask & 1, ww = mask & 2, wb = mask & 4;
        K->conv3x3_bwd(wi ? di : NULL, ww ? dw : NULL, wb ? db : NULL, dout, ww ? in : NULL,
                       wi ? w : NULL, B, Ci, Co, H, W, ws);
        if (wi) {
            worst = fmax(worst, tu_max_rel_err(di, ei, ni, NULL));
            TU_ASSERT_CLOSE(di, ei, ni, tol);
        } else {
            assert_memory_equal(di, pi, sizeof(float) * (size_t)ni);
        }
        if (ww) {
            worst = fmax(worst, tu_max_rel_err(dw, ew, nw, NULL));
            TU_ASSERT_CLOSE(dw, ew, nw, tol);
        } else {
            assert_memory_equal(dw, pw, sizeof(float) * (size_t)nw);
        }
        if (wb) {
            worst = fmax(worst, tu_max_rel_err(db, eb, Co, NULL));
            TU_ASSERT_CLOSE(db, eb, Co, tol);
        } else {
            assert_memory_equal(db, pb, sizeof(float) * (size_t)Co);
        }
    }
    free(in), free(w), free(bias), free(dout), free(out), free(ws), free(pi), free(pw), free(pb);
    free(c.in), free(c.w), free(bd), free(ref), free(dod), free(gi), free(gw), free(gb);
    free(ei), free(ew), free(eb), free(di), free(dw), free(db);
    return worst;
}

/* Every combination of H, W in {1,2,5,7}, Cin, Cout in {1,3,4}, B in {1,2}: single-row and
 * single-column images, where every tap but the centre is padding. Sums of at most 36 float
 * terms (forward, din) or 2*49 (dw, dbias): 1e-5 of the scale is float rounding with margin. */
static void test_conv3x3_sizes(void **state) {
    (void)state;
    static const int hw[] = {1, 2, 5, 7}, ch[] = {1, 3, 4};
    double worst = 0.0;
    uint64_t seed = 500;
    for (int B = 1; B <= 2; B++)
        for (int a = 0; a < 3; a++)
            for (int o = 0; o < 3; o++)
                for (int h = 0; h < 4; h++)
                    for (int x = 0; x < 4; x++, seed += 10)
                        worst = fmax(worst, conv_case(B, ch[a], ch[o], hw[h], hw[x], seed, TOL_FWD));
    if (getenv("LVIT_TEST_VERBOSE")) fprintf(stderr, "conv3x3 sizes: worst rel err %.3g\n", worst);
}

/* Images taller than one im2col band (kernels.h: about 2^18 floats), so that the bands, the
 * short last band and the GEMMs' leading dimension (H*W, not the band width) are exercised:
 * 16 -> 5 channels at 40 x 300 (6-row bands, the last 4 rows) and 3 -> 40 at 23 x 500 (Cout
 * sets the band: 1-row bands). dw sums 24000 float products: the tolerance is 1e-5 still. */
static void test_conv3x3_bands(void **state) {
    (void)state;
    assert_int_equal(conv3x3_band_rows(16, 5, 40, 300), 6);
    assert_int_equal(conv3x3_band_rows(3, 40, 23, 500), 1);
    assert_int_equal(conv3x3_band_rows(1, 1, 5, 7), 5);
    assert_int_equal(conv3x3_ws_floats(2, 16, 5, 40, 300), 9 * 16 * 5 + 9 * 16 * 6 * 300);
    double e1 = conv_case(2, 16, 5, 40, 300, 900, TOL_FWD);
    double e2 = conv_case(1, 3, 40, 23, 500, 910, TOL_FWD);
    if (getenv("LVIT_TEST_VERBOSE")) fprintf(stderr, "conv3x3 bands: worst rel err %.3g, %.3g\n", e1, e2);
}

/* Central differences of the double reference. loss = sum(out R) is linear in each of in, w
 * and bias, so the difference quotient has no truncation error at any step: h = 1e-5 leaves
 * only double rounding (~1e-16 |loss| / h ~ 1e-10 of the scale). What remains is the kernel's
 * float rounding, ~1e-7; 1e-5 catches any wrong term (each is >= 1e-2 of the scale here). */
static void test_conv3x3_grad(void **state) {
    (void)state;
    static const int shapes[][5] = {{2, 3, 4, 5, 7}, {1, 4, 3, 7, 2}, {1, 1, 2, 1, 6}};
    for (int s = 0; s < 3; s++) {
        const int B = shapes[s][0], Ci = shapes[s][1], Co = shapes[s][2], H = shapes[s][3],
                  W = shapes[s][4];
        const int64_t ni = (int64_t)B * Ci * H * W, nw = (int64_t)Co * Ci * 9, no = (int64_t)B * Co * H * W;
        float *in = rnd(ni, 600 + s), *w = rnd(nw, 610 + s), *bias = rnd(Co, 620 + s);
        float *dout = rnd(no, 630 + s), *ws = conv_ws(B, Ci, Co, H, W);
        CvCtx c = {B, Ci, Co, H, W, tu_to_double(in, ni), tu_to_double(w, nw),
                   tu_to_double(bias, Co), tu_to_double(dout, no)};
        float *di = tu_falloc(ni), *dw = tu_falloc(nw), *db = tu_falloc(Co);
        K->conv3x3_bwd(di, dw, db, dout, in, w, B, Ci, Co, H, W, ws);
        TU_ASSERT_GRAD(cv_loss, &c, c.in, di, ni, 1e-5);
        TU_ASSERT_GRAD(cv_loss, &c, c.w, dw, nw, 1e-5);
        TU_ASSERT_GRAD(cv_loss, &c, c.b, db, Co, 1e-5);
        free(in), free(w), free(bias), free(dout), free(ws), free(di), free(dw), free(db);
        free(c.in), free(c.w), free(c.b), free(c.R);
    }
}

/* PyTorch 1.13 (float32, CPU), generated once by:
 *   x = sin(0.37 i + 0.1) as [1,2,3,4], w = 0.5 cos(0.91 i) as [2,2,3,3], b = 0.1 (i+1) - 0.15,
 *   out = F.conv2d(x, w, b, padding=1); out.backward(cos(0.23 i) as out's shape)
 * PixelShuffle(2) of arange(48) as [1,8,2,3]; and the ORBIT-2 TV (torch.abs of shifted
 * differences, the diagonals weighted 0.7) of PT_TV_IMG as [1,2,3,4] with ties (equal
 * neighbours), vw = (0.8, 1.3), divided by 7, and its autograd gradient. */
static const float PT_CONV_OUT[24] = {
    -2.26443976e-01f, -4.00469601e-01f, -8.61180723e-01f, -5.69488168e-01f, -4.72734272e-01f, -3.40317100e-01f,
    -9.37484354e-02f, 1.94792390e-01f,  1.04825258e+00f,  1.37410486e+00f,  1.17010844e+00f,  9.10446167e-01f,
    3.91125411e-01f,  4.86599714e-01f,  9.28158760e-01f,  9.79020894e-01f,  5.06163836e-01f,  6.39317036e-01f,
    4.79180932e-01f,  8.69004354e-02f,  -3.94703686e-01f, -9.69961703e-01f, -7.91279852e-01f, -7.73477376e-01f};
static const float PT_CONV_DIN[24] = {
    -8.77135277e-01f, -1.35544229e+00f, -1.40887392e+00f, -6.06605768e-01f, 3.19001079e-01f,  7.34917045e-01f,
    8.46632957e-01f,  9.62542295e-01f,  1.47854054e+00f,  1.67086053e+00f,  1.52736819e+00f,  5.63993692e-01f,
    1.22821331e-02f,  7.23520637e-01f,  1.11402225e+00f,  1.23117733e+00f,  5.60579181e-01f,  4.39683080e-01f,
    4.79791522e-01f,  -6.84114099e-02f, -5.33780515e-01f, -1.49279785e+00f, -1.65824473e+00f, -1.49587250e+00f};
static const float PT_CONV_DW[36] = {
    -1.59967184e+00f, -1.20580959e+00f, -1.32394567e-01f, 2.28469539e+00f,  4.26002264e+00f,  3.90014076e+00f,
    2.37408710e+00f,  2.74786949e+00f,  1.44827509e+00f,  -8.77583146e-01f, -2.03509831e+00f, -1.79789901e+00f,
    -4.46591902e+00f, -5.14925671e+00f, -3.13178658e+00f, 7.32655704e-01f,  1.95655334e+00f,  2.34692597e+00f,
    2.66514271e-01f,  -6.44217789e-01f, -1.30060029e+00f, -3.14909840e+00f, -4.96232843e+00f, -3.98121047e+00f,
    -2.31139970e+00f, -2.23863435e+00f, -8.73006105e-01f, 1.77894127e+00f,  2.81329107e+00f,  2.06568837e+00f,
    3.68655419e+00f,  3.65957141e+00f,  1.75053620e+00f,  -1.81345236e+00f, -3.30559611e+00f, -3.21811438e+00f};
static const float PT_CONV_DB[2] = {2.57601857e+00f, -5.42941093e+00f};
static const int PT_SHUFFLE[48] = {0,  6,  1,  7,  2,  8,  12, 18, 13, 19, 14, 20, 3,  9,  4,  10,
                                   5,  11, 15, 21, 16, 22, 17, 23, 24, 30, 25, 31, 26, 32, 36, 42,
                                   37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47};
static const float PT_TV_IMG[24] = {
    0.00000000e+00f, 9.91664827e-01f,  -2.55541116e-01f, -9.25814688e-01f, 4.94113356e-01f, 9.91664827e-01f,
    9.91664827e-01f, -6.18137121e-01f, 8.59161794e-01f,  3.96740586e-01f,  -9.61397469e-01f, -1.48999020e-01f,
    9.99792874e-01f, -1.08636595e-01f, -9.71798420e-01f, 3.59058350e-01f,  8.79273057e-01f, 9.99792874e-01f,
    -7.28360772e-01f, 7.73327887e-01f, 5.29082716e-01f,  -9.09666657e-01f, -2.94671595e-01f, 9.85600293e-01f};
static const float PT_TV_LOSS = 6.66266966e+00f;
static const float PT_TV_GRAD[24] = {
    -3.08571458e-01f, 3.08571458e-01f,  -1.14285722e-01f, -3.08571458e-01f, -1.14285722e-01f, 5.48571467e-01f,
    5.82857132e-01f,  -1.14285722e-01f, 1.48571432e-01f,  -2.74285734e-01f, -5.02857149e-01f, 1.48571432e-01f,
    3.71428579e-01f,  -1.85714290e-01f, -8.17142904e-01f, 1.30000010e-01f,  7.42857009e-02f,  1.13285720e+00f,
    -6.31428599e-01f, 4.45714295e-01f,  -1.29999995e-01f, -8.17142904e-01f, -7.42857009e-02f, 5.01428604e-01f};

/* Both sides float32 with sums of at most 18 (forward, din) or 12 (dw, dbias) terms in other
 * orders: 1e-6 of the scale. */
static void test_conv3x3_torch(void **state) {
    (void)state;
    float x[24], w[36], b[2], g[24], out[24], din[24] = {0}, dw[36] = {0}, db[2] = {0};
    for (int i = 0; i < 24; i++) x[i] = (float)sin(0.37 * i + 0.1), g[i] = (float)cos(0.23 * i);
    for (int i = 0; i < 36; i++) w[i] = (float)(0.5 * cos(0.91 * i));
    for (int i = 0; i < 2; i++) b[i] = (float)(0.1 * (i + 1) - 0.15);
    float *ws = conv_ws(1, 2, 2, 3, 4);
    K->conv3x3_fwd(out, x, w, b, 1, 2, 2, 3, 4, ws);
    K->conv3x3_bwd(din, dw, db, g, x, w, 1, 2, 2, 3, 4, ws);
    TU_ASSERT_CLOSE_FF(out, PT_CONV_OUT, 24, 1e-6);
    TU_ASSERT_CLOSE_FF(din, PT_CONV_DIN, 24, 1e-6);
    TU_ASSERT_CLOSE_FF(dw, PT_CONV_DW, 36, 1e-6);
    TU_ASSERT_CLOSE_FF(db, PT_CONV_DB, 2, 1e-6);
    free(ws);
}

/* ================================================================ pixel shuffle */

typedef struct {
    int B, C, H, W, r;
    double *in, *R;
} PsCtx;

/* written from the input side: in[b, c*r*r + i*r + j, h, w] goes to out[b, c, h*r+i, w*r+j] */
static void ref_shuffle(double *out, const PsCtx *c) {
    const int r = c->r, Ho = c->H * r, Wo = c->W * r;
    for (int b = 0; b < c->B; b++)
        for (int ch = 0; ch < c->C * r * r; ch++)
            for (int h = 0; h < c->H; h++)
                for (int x = 0; x < c->W; x++) {
                    const int cc = ch / (r * r), i = (ch % (r * r)) / r, j = ch % r;
                    out[(((int64_t)b * c->C + cc) * Ho + h * r + i) * Wo + x * r + j] =
                        c->in[(((int64_t)b * c->C * r * r + ch) * c->H + h) * c->W + x];
                }
}

static double ps_loss(void *p) {
    PsCtx *c = p;
    const int64_t n = (int64_t)c->B * c->C * c->H * c->W * c->r * c->r;
    double *out = tu_dalloc(n);
    ref_shuffle(out, c);
    double l = tu_dot(out, c->R, n);
    free(out);
    return l;
}

/* A permutation: forward and backward are exact (tolerance 0, bitwise for the backward's
 * pre-filled sums). The finite differences (h = 1e-5, exact for a linear loss) check the
 * backward is the forward's adjoint. */
static void test_pixel_shuffle(void **state) {
    (void)state;
    static const int shapes[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 2}, {1, 2, 3, 4, 3},
                                    {2, 1, 1, 6, 4}, {1, 4, 32, 48, 2}};
    for (int s = 0; s < 5; s++) {
        PsCtx c = {shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4], NULL, NULL};
        const int64_t n = (int64_t)c.B * c.C * c.H * c.W * c.r * c.r;
        float *in = rnd(n, 700 + s), *out = tu_falloc(n), *dout = rnd(n, 710 + s);
        float *din = rnd(n, 720 + s), *expect = dup_f(din, n);
        c.in = tu_to_double(in, n);
        c.R = tu_to_double(dout, n);
        double *ref = tu_dalloc(n);
        tu_fill_const(out, n, NAN);
        K->pixel_shuffle_fwd(out, in, c.B, c.C, c.H, c.W, c.r);
        ref_shuffle(ref, &c);
        TU_ASSERT_CLOSE(out, ref, n, 0.0);
        /* the backward adds dout at the inverse positions: found through the forward map */
        float *idx = tu_falloc(n), *pos = tu_falloc(n);
        for (int64_t i = 0; i < n; i++) idx[i] = (float)i;
        K->pixel_shuffle_fwd(pos, idx, c.B, c.C, c.H, c.W, c.r); /* pos[o] = input index of o */
        for (int64_t o = 0; o < n; o++) expect[(int64_t)pos[o]] += dout[o];
        K->pixel_shuffle_bwd(din, dout, c.B, c.C, c.H, c.W, c.r);
        assert_memory_equal(din, expect, sizeof(float) * (size_t)n);
        float *g = tu_falloc(n);
        K->pixel_shuffle_bwd(g, dout, c.B, c.C, c.H, c.W, c.r);
        TU_ASSERT_GRAD(ps_loss, &c, c.in, g, n, 1e-7);
        free(in), free(out), free(dout), free(din), free(expect), free(c.in), free(c.R);
        free(ref), free(idx), free(pos), free(g);
    }
    /* PyTorch's PixelShuffle(2) of arange(48) as [1,8,2,3]; and by hand: out[0,1,3,4] is
     * channel 1*4 + 1*2 + 0 = 6, row 1, column 2 -> in index 6*6 + 1*3 + 2 = 41 */
    float a[48], o[48];
    for (int i = 0; i < 48; i++) a[i] = (float)i;
    K->pixel_shuffle_fwd(o, a, 1, 2, 2, 3, 2);
    for (int i = 0; i < 48; i++)
        if (o[i] != (float)PT_SHUFFLE[i]) fail_msg("pixel_shuffle[%d] = %g, PyTorch %d", i, (double)o[i], PT_SHUFFLE[i]);
    assert_true(o[(1 * 4 + 3) * 6 + 4] == 41.0f);
}

/* ================================================================ total variation */

typedef struct {
    int B, V, H, W;
    double *img, *vw, denom, dloss;
} TvCtx;

/* straight from the formula: the four pairs starting at every cell, where inside the grid */
static double ref_tv(void *p) {
    const TvCtx *c = p;
    const int H = c->H, W = c->W;
    double tv = 0.0;
    for (int bv = 0; bv < c->B * c->V; bv++) {
        const double *x = c->img + (int64_t)bv * H * W, wv = c->vw ? c->vw[bv % c->V] : 1.0;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) {
                const double x0 = x[h * W + w];
                double s = 0.0;
                if (h + 1 < H) s += fabs(x[(h + 1) * W + w] - x0);
                if (w + 1 < W) s += fabs(x[h * W + w + 1] - x0);
                if (h + 1 < H && w + 1 < W) s += 0.7 * fabs(x[(h + 1) * W + w + 1] - x0);
                if (h + 1 < H && w > 0) s += 0.7 * fabs(x[(h + 1) * W + w - 1] - x0);
                tv += wv * s;
            }
    }
    return c->dloss * tv / c->denom;
}

/* the gradient by pairs (scatter): sign(b - a) to b, minus it to a; sign(0) = 0 */
static void ref_tv_grad(double *g, const TvCtx *c) {
    const int H = c->H, W = c->W;
    static const int dh[4] = {1, 0, 1, 1}, dwc[4] = {0, 1, 1, -1};
    static const double coef[4] = {1.0, 1.0, 0.7, 0.7};
    memset(g, 0, sizeof(double) * (size_t)c->B * c->V * H * W);
    for (int bv = 0; bv < c->B * c->V; bv++) {
        const double *x = c->img + (int64_t)bv * H * W;
        double *gg = g + (int64_t)bv * H * W;
        const double s = c->dloss * (c->vw ? c->vw[bv % c->V] : 1.0) / c->denom;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int k = 0; k < 4; k++) {
                    const int h2 = h + dh[k], w2 = w + dwc[k];
                    if (h2 >= H || w2 < 0 || w2 >= W) continue;
                    const double t = x[h2 * W + w2] - x[h * W + w];
                    const double sg = (t > 0) - (t < 0);
                    gg[h2 * W + w2] += s * coef[k] * sg;
                    gg[h * W + w] -= s * coef[k] * sg;
                }
    }
}

/* Shapes from a single cell to one larger than the parallel threshold; values on a grid of
 * quarters so that many neighbours are equal (ties: no gradient). Loss 1e-6 relative (double
 * sum of float differences); gradient 1e-6 (sums of +-1 and +-0.7 in float, then scaled). */
static void test_tv_loss(void **state) {
    (void)state;
    static const int shapes[][4] = {{1, 1, 1, 1}, {1, 1, 1, 5}, {1, 2, 5, 1}, {2, 3, 2, 2},
                                    {2, 2, 5, 7}, {1, 3, 40, 300}};
    for (int s = 0; s < 6; s++)
        for (int weighted = 0; weighted < 2; weighted++) {
            const int B = shapes[s][0], V = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
            const int64_t n = (int64_t)B * V * H * W;
            float *img = tu_falloc(n), vw[3] = {0.5f, 1.25f, 2.0f};
            TuRng r;
            tu_rng_seed(&r, 800 + s);
            for (int64_t i = 0; i < n; i++) img[i] = (float)(tu_rng_u64(&r) % 9) * 0.25f - 1.0f;
            double vwd[3] = {0.5, 1.25, 2.0};
            TvCtx c = {B, V, H, W, tu_to_double(img, n), weighted ? vwd : NULL, 0.37 * n, 1.0};
            const float dloss = 0.6f;
            float *g = rnd(n, 810 + s), *pre = dup_f(g, n);
            const float l0 = K->tv_loss(NULL, img, weighted ? vw : NULL, B, V, H, W, c.denom, dloss);
            const float l = K->tv_loss(g, img, weighted ? vw : NULL, B, V, H, W, c.denom, dloss);
            const double rl = ref_tv(&c);
            if (!(fabs(l - rl) <= 1e-6 * rl) || !(fabs(l0 - l) <= 1e-7 * rl))
                fail_msg("tv loss %.9g (without dimg %.9g), reference %.9g (shape %d)", (double)l,
                         (double)l0, rl, s);
            c.dloss = dloss;
            double *rg = tu_dalloc(n);
            ref_tv_grad(rg, &c);
            double *e = plus(pre, rg, n);
            TU_ASSERT_CLOSE(g, e, n, 1e-6);
            free(img), free(c.img), free(g), free(pre), free(rg), free(e);
        }
}

/* Finite differences away from the kinks: distinct values 0.01 apart (a shuffled ramp), so no
 * pair difference is below 0.01 and none changes sign within +-h = 1e-5; TV is linear there and
 * the central difference exact up to double rounding (~1e-16 |TV| / h ~ 1e-9 of the scale).
 * The kernel's float gradient is good to ~1e-7: tolerance 1e-6. By hand, a 2 x 2 image; a
 * constant image (all ties: TV 0, no gradient); the batch split in two with a shared denom
 * (losses add, gradients equal); PyTorch's loss and gradient on an image with ties. */
static void test_tv_grad(void **state) {
    (void)state;
    enum { TB = 2, TVV = 2, TH = 5, TW = 7, TN = TB * TVV * TH * TW };
    float img[TN], g[TN] = {0}, vw[TVV] = {0.75f, 1.5f};
    for (int i = 0; i < TN; i++) img[i] = (float)(0.01 * ((i * 37) % TN) - 0.5); /* 37 coprime to 140 */
    double vwd[TVV] = {0.75, 1.5};
    TvCtx c = {TB, TVV, TH, TW, tu_to_double(img, TN), vwd, 3.0, 0.8};
    K->tv_loss(g, img, vw, TB, TVV, TH, TW, 3.0, 0.8f);
    if (!tu_grad_check("tv dimg", ref_tv, &c, c.img, g, TN, 256, 1e-5, 1e-6, __FILE__, __LINE__)) fail();
    free(c.img);

    /* by hand: x = [[0, 1], [3, 7]]: TV = 3 + 6 + 1 + 4 + 0.7 (7 + 2) = 20.3; gradient
     * (0,0): -1 -1 -0.7 = -2.7; (0,1): -1 +1 -0.7 = -0.7; (1,0): 1 -1 +0.7; (1,1): 1 +1 +0.7 */
    float x4[4] = {0, 1, 3, 7}, g4[4] = {0};
    float l4 = K->tv_loss(g4, x4, NULL, 1, 1, 2, 2, 2.0, 1.0f);
    const float e4[4] = {-1.35f, -0.35f, 0.35f, 1.35f};
    assert_true(fabsf(l4 - 10.15f) <= 1e-6f * 10.15f);
    TU_ASSERT_CLOSE_FF(g4, e4, 4, 1e-6);

    float flat[TN], gf[TN];
    tu_fill_const(flat, TN, 0.3f);
    tu_fill_const(gf, TN, 0.125f);
    assert_true(K->tv_loss(gf, flat, vw, TB, TVV, TH, TW, 1.0, 1.0f) == 0.0f);
    for (int i = 0; i < TN; i++)
        if (gf[i] != 0.125f) fail_msg("constant image: dimg[%d] = %g", i, (double)gf[i]);

    float gs[TN] = {0}, gw[TN] = {0};
    const float whole = K->tv_loss(gw, img, vw, TB, TVV, TH, TW, 11.0, 1.0f);
    const int half = TN / TB;
    const float split = K->tv_loss(gs, img, vw, 1, TVV, TH, TW, 11.0, 1.0f) +
                        K->tv_loss(gs + half, img + half, vw, 1, TVV, TH, TW, 11.0, 1.0f);
    assert_true(fabsf(split - whole) <= 1e-6f * whole);
    assert_memory_equal(gs, gw, sizeof gs);

    float gt[24] = {0}, vt[2] = {0.8f, 1.3f};
    const float lt = K->tv_loss(gt, PT_TV_IMG, vt, 1, 2, 3, 4, 7.0, 1.0f);
    if (!(fabsf(lt - PT_TV_LOSS) <= 1e-6f * PT_TV_LOSS)) fail_msg("tv %.9g, PyTorch %.9g", (double)lt, (double)PT_TV_LOSS);
    TU_ASSERT_CLOSE_FF(gt, PT_TV_GRAD, 24, 1e-6);
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
    float *x = rnd((int64_t)DM * DC, 70), *dout = rnd((int64_t)DM * DC, 71);
    K->linear_bwd(NULL, NULL, o, dout, x, NULL, DM, DC, DN); /* dbias over DM rows */
    o += DN;
    float *w = rnd(DC, 72), *b = rnd(DC, 73), *y = tu_falloc((int64_t)DM * DC);
    float *mean = tu_falloc(DM), *rstd = tu_falloc(DM);
    K->layernorm_fwd(y, mean, rstd, x, w, b, DM, DC, 1e-5f);
    K->layernorm_bwd(NULL, o, o + DC, dout, x, w, mean, rstd, DM, DC);
    o += 2 * DC;
    float *q = rnd(DD, 74), *kv = rnd(nkv, 75), *probs = tu_falloc((int64_t)DB * DL * DNH * DV);
    float *ao = tu_falloc((int64_t)DB * DL * DD), *ad = rnd((int64_t)DB * DL * DD, 76);
    K->var_attn_fwd(ao, probs, q, kv, DB, DL, DV, DNH, DD);
    K->var_attn_bwd(o, NULL, ad, probs, q, kv, DB, DL, DV, DNH, DD);
    o += DD;
    float *pred = rnd(nimg, 77), *yy = rnd(nimg, 78), *ws = tu_falloc(nimg), wl[DH];
    float *dpred = tu_falloc(nimg);
    tu_fill_uniform(wl, DH, 79, 0.1f, 1.5f);
    *o++ = K->mse_loss(dpred, pred, yy, NULL, wl, DB, DVO, DH, DW, DP, 0, 1.0f, 0.0, ws);
    *o++ = (float)K->sumsq(kv, nkv);
    float lead[DB] = {0.06f, 0.12f};
    K->pos_lead_bwd(o, o + DL * DD, o + DL * DD + DD, kv, lead, DB, 3 * DL, DL, DD);
    o += DL * DD + 2 * DD;
    const int pH = 32, pW = 64, pp = 2, pL = (pH / pp) * (pW / pp);
    float *pws = tu_falloc(patch_embed_ws_floats(DB, DV, pH, pW, pp));
    float *dtok = rnd((int64_t)DB * DV * pL * DD, 80);
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

static int setup(void **state) {
    (void)state;
    K = kernels_cpu();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkers_fail),   cmocka_unit_test(test_table_complete),
        cmocka_unit_test(test_memory),          cmocka_unit_test(test_linear_fwd),
        cmocka_unit_test(test_linear_bwd),      cmocka_unit_test(test_layernorm_fwd),
        cmocka_unit_test(test_layernorm_bwd),   cmocka_unit_test(test_gelu_fwd),
        cmocka_unit_test(test_gelu_bwd),        cmocka_unit_test(test_add_scale),
        cmocka_unit_test(test_sumsq),           cmocka_unit_test(test_adamw_hand),
        cmocka_unit_test(test_adamw_vector),    cmocka_unit_test(test_patch_embed_fwd),
        cmocka_unit_test(test_patch_embed_bwd), cmocka_unit_test(test_pos_lead),
        cmocka_unit_test(test_var_attn),        cmocka_unit_test(test_unpatchify),
        cmocka_unit_test(test_mse_loss),        cmocka_unit_test(test_conv3x3_sizes),
        cmocka_unit_test(test_conv3x3_bands),   cmocka_unit_test(test_conv3x3_grad),
        cmocka_unit_test(test_conv3x3_torch),   cmocka_unit_test(test_pixel_shuffle),
        cmocka_unit_test(test_tv_loss),         cmocka_unit_test(test_tv_grad),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
