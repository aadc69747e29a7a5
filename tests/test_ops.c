/* Every non-attention op of the CPU kernel table: forward against a plain double-precision
 * reference written here, backward against central differences of that reference (see
 * util_test.h), accumulation semantics, edge cases, and bitwise determinism across thread
 * counts. Odd sizes throughout so that no blocking or vector width divides them. */
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
    HAS(var_attn_bwd), HAS(unpatchify), HAS(mse_loss), HAS(sumsq), HAS(scale), HAS(adamw);
    HAS(attn_ws_floats), HAS(attn_fwd), HAS(attn_bwd), HAS(attn_merge);
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
    const int64_t nout = DN + 2 * DC + DD + 2 + DL * DD + 2 * DD + DV * DD;
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
    free(x), free(dout), free(w), free(b), free(y), free(mean), free(rstd), free(q), free(kv);
    free(probs), free(ao), free(ad), free(pred), free(yy), free(ws), free(pws), free(dtok);
    free(dpred);
    return res;
}

static void test_determinism(void **state) {
    (void)state;
    const size_t bytes = sizeof(float) * (DN + 2 * DC + DD + 2 + DL * DD + 2 * DD + DV * DD);
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
        cmocka_unit_test(test_mse_loss),        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
