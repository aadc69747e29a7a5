/* The dense ops of the CPU kernel table: linear (with and without bias, accumulating or not),
 * LayerNorm, GELU, the elementwise add / scale / lerp, the sum of squares and AdamW. Forward
 * against a plain double-precision reference written here, backward against central differences
 * of that reference (see util_test.h), accumulation semantics and NULL (not wanted) gradients.
 * Odd sizes throughout so that no blocking or vector width divides them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util_ops.h"
#include "util_test.h"

static const Kernels *K;

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
    float *in = tu_rnd(LM * LK, 2), *w = tu_rnd(LN * LK, 3), *b = tu_rnd(LN, 4);
    double *ind = tu_to_double(in, LM * LK), *wd = tu_to_double(w, LN * LK),
           *bd = tu_to_double(b, LN), ref[LM * LN];
    float out[LM * LN], *prev = tu_rnd(LM * LN, 5);
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
    float *in = tu_rnd(LM * LK, 6), *w = tu_rnd(LN * LK, 7), *b = tu_rnd(LN, 8), *dout = tu_rnd(LM * LN, 9);
    LinCtx c = {tu_to_double(in, LM * LK), tu_to_double(w, LN * LK), tu_to_double(b, LN),
                tu_to_double(dout, LM * LN)};
    float *din = tu_falloc(LM * LK), *dw = tu_falloc(LN * LK), *db = tu_falloc(LN);
    K->linear_bwd(din, dw, db, dout, in, w, LM, LK, LN);
    TU_ASSERT_GRAD(lin_loss, &c, c.in, din, LM * LK, TOL_GRAD);
    TU_ASSERT_GRAD(lin_loss, &c, c.w, dw, LN * LK, TOL_GRAD);
    TU_ASSERT_GRAD(lin_loss, &c, c.b, db, LN, TOL_GRAD);

    float *din2 = tu_dup_f(din, LM * LK), *dw2 = tu_dup_f(dw, LN * LK), *db2 = tu_dup_f(db, LN);
    K->linear_bwd(din2, dw2, db2, dout, in, w, LM, LK, LN);
    tu_assert_twice("din", din2, din, LM * LK);
    tu_assert_twice("dw", dw2, dw, LN * LK);
    tu_assert_twice("dbias", db2, db, LN);

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
    float *in = ln_input(10), *w = tu_rnd(NC, 11), *b = tu_rnd(NC, 12);
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
    float *in = ln_input(13), *w = tu_rnd(NC, 14), *b = tu_rnd(NC, 15), *dout = tu_rnd(NM * NC, 16);
    LnCtx c = {tu_to_double(in, NM * NC), tu_to_double(w, NC), tu_to_double(b, NC),
               tu_to_double(dout, NM * NC)};
    float out[NM * NC], mean[NM], rstd[NM];
    K->layernorm_fwd(out, mean, rstd, in, w, b, NM, NC, LN_EPS);
    float *din = tu_falloc(NM * NC), *dw = tu_falloc(NC), *db = tu_falloc(NC);
    K->layernorm_bwd(din, dw, db, dout, in, w, mean, rstd, NM, NC);
    TU_ASSERT_GRAD(ln_loss, &c, c.in, din, NM * NC, TOL_GRAD);
    TU_ASSERT_GRAD(ln_loss, &c, c.w, dw, NC, TOL_GRAD);
    TU_ASSERT_GRAD(ln_loss, &c, c.b, db, NC, TOL_GRAD);
    float *din2 = tu_dup_f(din, NM * NC), *dw2 = tu_dup_f(dw, NC), *db2 = tu_dup_f(db, NC);
    K->layernorm_bwd(din2, dw2, db2, dout, in, w, mean, rstd, NM, NC);
    tu_assert_twice("din", din2, din, NM * NC);
    tu_assert_twice("dw", dw2, dw, NC);
    tu_assert_twice("db", db2, db, NC);
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
    float *x = gelu_inputs(), *dout = tu_rnd(GN, 17), *din = tu_falloc(GN);
    GeluCtx c = {tu_to_double(x, GN), tu_to_double(dout, GN), GN};
    double *ref = tu_dalloc(GN);
    for (int i = 0; i < GN; i++) ref[i] = c.R[i] * ref_dgelu(x[i]);
    K->gelu_bwd(din, dout, x, GN);
    TU_ASSERT_CLOSE(din, ref, GN, TOL_FWD);
    /* the finite difference checks the reference derivative as well (skip |x| = 1e6) */
    TU_ASSERT_GRAD(gelu_loss, &c, c.x, din, 2401, TOL_GRAD);
    float *din2 = tu_dup_f(din, GN);
    K->gelu_bwd(din2, dout, x, GN);
    tu_assert_twice("din", din2, din, GN);
    free(x), free(dout), free(din), free(c.x), free(c.R), free(ref), free(din2);
}

static void test_add_scale(void **state) {
    (void)state;
    const int64_t n = 100003;
    float *y = tu_rnd(n, 18), *x = tu_rnd(n, 19), *y0 = tu_dup_f(y, n);
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
    float *p = tu_rnd(n, 21), *m = tu_rnd(n, 22), *v = tu_rnd(n, 23), *g = tu_rnd(n, 24);
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

int main(void) {
    K = kernels_cpu();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_fwd),
        cmocka_unit_test(test_linear_bwd),
        cmocka_unit_test(test_layernorm_fwd),
        cmocka_unit_test(test_layernorm_bwd),
        cmocka_unit_test(test_gelu_fwd),
        cmocka_unit_test(test_gelu_bwd),
        cmocka_unit_test(test_add_scale),
        cmocka_unit_test(test_sumsq),
        cmocka_unit_test(test_adamw_hand),
        cmocka_unit_test(test_adamw_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
