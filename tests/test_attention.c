/* Flash attention (CPU) against a naive O(S^2)-memory oracle in double precision.
 *
 * The oracle lives only here. It is itself checked by finite differences, so a wrong
 * oracle cannot bless a wrong kernel. Every check compares independently computed
 * numbers; test_checker_can_fail shows the comparison catches a small perturbation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"

#define TOL_FWD 1e-5
#define TOL_BWD 2e-5
/* 1 vs 2 threads: only the grouping of dq's partial sums may differ */
#define TOL_THREADS 4e-6
/* Relative errors are taken against max(max|want|, REL_FLOOR): a tensor that is exactly
   zero in the oracle (dq with one key) is compared at the scale of the problem's values. */
#define REL_FLOOR 1e-2

/* ---------------- naive oracle (double) ----------------
 * q, k, v, dout are double copies with the same strided layout as the float inputs;
 * outputs are compact: o, dq [B,Sq,NH,d], dk, dv [B,Sk,NH,d], lse [B,NH,Sq]. */

static void naive_fwd(double *o, double *lse, const double *q, const double *k,
                      const double *v, const AttnDims *dm) {
    const int B = dm->B, NH = dm->NH, d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk;
    double *s = malloc(sizeof(double) * (size_t)(Sk > 0 ? Sk : 1)); /* [Sk] */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int64_t i = 0; i < Sq; i++) {
                const double *qi = q + (b * Sq + i) * dm->q_stride + h * d;
                double m = -INFINITY;
                for (int64_t j = 0; j < Sk; j++) {
                    const double *kj = k + (b * Sk + j) * dm->k_stride + h * d;
                    double acc = 0.0;
                    for (int c = 0; c < d; c++) acc += qi[c] * kj[c];
                    s[j] = acc * dm->scale;
                    if (s[j] > m) m = s[j];
                }
                double l = 0.0;
                for (int64_t j = 0; j < Sk; j++) l += exp(s[j] - m);
                double *oi = o + ((b * Sq + i) * NH + h) * d;
                for (int c = 0; c < d; c++) oi[c] = 0.0;
                for (int64_t j = 0; j < Sk; j++) {
                    const double p = exp(s[j] - m) / l;
                    const double *vj = v + (b * Sk + j) * dm->v_stride + h * d;
                    for (int c = 0; c < d; c++) oi[c] += p * vj[c];
                }
                lse[(b * NH + h) * Sq + i] = Sk > 0 ? m + log(l) : -INFINITY;
            }
    free(s);
}

static void naive_bwd(double *dq, double *dk, double *dv, const double *dout,
                      const double *q, const double *k, const double *v, const AttnDims *dm) {
    const int B = dm->B, NH = dm->NH, d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk;
    memset(dq, 0, sizeof(double) * (size_t)(B * Sq * NH * d));
    memset(dk, 0, sizeof(double) * (size_t)(B * Sk * NH * d));
    memset(dv, 0, sizeof(double) * (size_t)(B * Sk * NH * d));
    double *P = malloc(sizeof(double) * (size_t)(Sq * Sk + 1));  /* [Sq][Sk] */
    double *dP = malloc(sizeof(double) * (size_t)(Sq * Sk + 1)); /* [Sq][Sk] */
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            for (int64_t i = 0; i < Sq; i++) {
                const double *qi = q + (b * Sq + i) * dm->q_stride + h * d;
                const double *gi = dout + (b * Sq + i) * dm->o_stride + h * d;
                double m = -INFINITY;
                for (int64_t j = 0; j < Sk; j++) {
                    const double *kj = k + (b * Sk + j) * dm->k_stride + h * d;
                    const double *vj = v + (b * Sk + j) * dm->v_stride + h * d;
                    double acc = 0.0, accp = 0.0;
                    for (int c = 0; c < d; c++) {
                        acc += qi[c] * kj[c];
                        accp += gi[c] * vj[c];
                    }
                    P[i * Sk + j] = acc * dm->scale;
                    dP[i * Sk + j] = accp;
                    if (P[i * Sk + j] > m) m = P[i * Sk + j];
                }
                double l = 0.0;
                for (int64_t j = 0; j < Sk; j++) l += exp(P[i * Sk + j] - m);
                double delta = 0.0; /* sum_j P dP = rowsum(dO * O) */
                for (int64_t j = 0; j < Sk; j++) {
                    P[i * Sk + j] = exp(P[i * Sk + j] - m) / l;
                    delta += P[i * Sk + j] * dP[i * Sk + j];
                }
                for (int64_t j = 0; j < Sk; j++) {
                    const double p = P[i * Sk + j];
                    const double ds = p * (dP[i * Sk + j] - delta) * dm->scale;
                    const double *kj = k + (b * Sk + j) * dm->k_stride + h * d;
                    double *dqi = dq + ((b * Sq + i) * NH + h) * d;
                    double *dkj = dk + ((b * Sk + j) * NH + h) * d;
                    double *dvj = dv + ((b * Sk + j) * NH + h) * d;
                    for (int c = 0; c < d; c++) {
                        dqi[c] += ds * kj[c];
                        dkj[c] += ds * qi[c];
                        dvj[c] += p * gi[c];
                    }
                }
            }
        }
    free(P);
    free(dP);
}

/* ---------------- problems ---------------- */

typedef struct Cfg {
    int B, NH, d;
    int64_t Sq, Sk;
    int fused;     /* 1: q, k, v inside one [B,S,3,NH,d] buffer (needs Sq == Sk) */
    int64_t o_pad; /* extra floats after each token of o and dout */
    float amp;     /* input amplitude: larger spreads the scores across tiles */
} Cfg;

/* Buffers of one problem: q lives in qbuf, k and v in kvbuf (the same buffer as qbuf
   when fused); gradients have the same layouts in gqbuf and gkvbuf. */
typedef struct Prob {
    AttnDims dm;
    size_t nq, nkv, no; /* floats in qbuf, kvbuf, o */
    float *qbuf, *kvbuf, *gqbuf, *gkvbuf, *o, *dout, *lse;
    const float *q, *k, *v;
    float *dq, *dk, *dv;
} Prob;

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
}

static void fill(float *x, size_t n, float amp, unsigned *s) {
    for (size_t i = 0; i < n; i++) x[i] = amp * frand(s);
}

static float *falloc(size_t n) {
    float *p = malloc(sizeof(float) * (n > 0 ? n : 1));
    assert_non_null(p);
    return p;
}

static double *widen(const float *x, size_t n) {
    double *y = malloc(sizeof(double) * (n > 0 ? n : 1));
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

static void prob_init(Prob *p, const Cfg *c, unsigned seed) {
    memset(p, 0, sizeof *p);
    const int64_t D = (int64_t)c->NH * c->d;
    AttnDims dm = {.B = c->B, .NH = c->NH, .d = c->d, .Sq = c->Sq, .Sk = c->Sk,
                   .o_stride = D + c->o_pad, .scale = 1.0f / sqrtf((float)c->d)};
    if (c->fused) {
        assert_int_equal(c->Sq, c->Sk);
        dm.q_stride = dm.k_stride = dm.v_stride = 3 * D;
        p->nq = (size_t)(c->B * c->Sq * 3 * D);
    } else {
        dm.q_stride = D;
        dm.k_stride = dm.v_stride = 2 * D;
        p->nq = (size_t)(c->B * c->Sq * D);
        p->nkv = (size_t)(c->B * c->Sk * 2 * D);
    }
    p->dm = dm;
    p->no = (size_t)(c->B * c->Sq * dm.o_stride);
    p->qbuf = falloc(p->nq);
    p->gqbuf = falloc(p->nq);
    p->kvbuf = c->fused ? p->qbuf : falloc(p->nkv);
    p->gkvbuf = c->fused ? p->gqbuf : falloc(p->nkv);
    p->o = falloc(p->no);
    p->dout = falloc(p->no);
    p->lse = falloc((size_t)(c->B * c->NH * c->Sq));
    fill(p->qbuf, p->nq, c->amp, &seed);
    if (!c->fused) fill(p->kvbuf, p->nkv, c->amp, &seed);
    fill(p->dout, p->no, 1.0f, &seed);
    p->q = p->qbuf;
    p->k = c->fused ? p->qbuf + D : p->kvbuf;
    p->v = c->fused ? p->qbuf + 2 * D : p->kvbuf + D;
    p->dq = p->gqbuf;
    p->dk = c->fused ? p->gqbuf + D : p->gkvbuf;
    p->dv = c->fused ? p->gqbuf + 2 * D : p->gkvbuf + D;
}

static void prob_free(Prob *p) {
    if (p->kvbuf != p->qbuf) free(p->kvbuf);
    if (p->gkvbuf != p->gqbuf) free(p->gkvbuf);
    free(p->qbuf);
    free(p->gqbuf);
    free(p->o);
    free(p->dout);
    free(p->lse);
}

/* Fresh workspace for the current thread count, poisoned with NaN so that any scratch
   read before it is written shows up in the results. */
static float *ws_alloc(const AttnDims *dm) {
    const size_t n = attn_workspace_floats_cpu(dm, omp_get_max_threads());
    float *ws = falloc(n);
    for (size_t i = 0; i < n; i++) ws[i] = NAN;
    return ws;
}

static void run_fwd(Prob *p) {
    float *ws = ws_alloc(&p->dm);
    attn_fwd_cpu(p->o, p->lse, p->q, p->k, p->v, &p->dm, ws);
    free(ws);
}

static void run_bwd(Prob *p) {
    float *ws = ws_alloc(&p->dm);
    attn_bwd_cpu(p->dq, p->dk, p->dv, p->dout, p->q, p->k, p->v, p->o, p->lse, &p->dm, ws);
    free(ws);
}

/* ---------------- comparisons ---------------- */

/* max |got - want| / max(max |want|, REL_FLOOR) over a [B,S,NH,d] tensor; got is strided
   (token stride gs), want compact. got0 (same layout as got, may be NULL) is subtracted
   from got first: the gradient a += call added. NaN counts as an infinite error. */
static double rel_err(const float *got, const float *got0, int64_t gs, const double *want,
                      int B, int64_t S, int NH, int d) {
    double maxw = REL_FLOOR, maxe = 0.0;
    for (int64_t t = 0; t < (int64_t)B * S; t++)
        for (int e = 0; e < NH * d; e++) {
            const double w = want[t * NH * d + e];
            double g = got[t * gs + e];
            if (got0) g -= got0[t * gs + e];
            const double err = fabs(g - w);
            if (!(err <= maxe)) maxe = isnan(err) ? INFINITY : err;
            if (fabs(w) > maxw) maxw = fabs(w);
        }
    return maxe / maxw;
}

static double rel_err_lse(const float *got, const double *want, size_t n) {
    double maxw = REL_FLOOR, maxe = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs(got[i] - want[i]);
        if (!(err <= maxe)) maxe = isnan(err) ? INFINITY : err;
        if (fabs(want[i]) > maxw) maxw = fabs(want[i]);
    }
    return maxe / maxw;
}

/* Same for two float tensors of one strided layout. */
static double rel_err_ff(const float *got, const float *want, int64_t stride, int B, int64_t S,
                         int NH, int d) {
    double maxw = REL_FLOOR, maxe = 0.0;
    for (int64_t t = 0; t < (int64_t)B * S; t++)
        for (int e = 0; e < NH * d; e++) {
            const double err = fabs((double)got[t * stride + e] - want[t * stride + e]);
            if (!(err <= maxe)) maxe = isnan(err) ? INFINITY : err;
            if (fabs(want[t * stride + e]) > maxw) maxw = fabs(want[t * stride + e]);
        }
    return maxe / maxw;
}

#define CHECK_ERR(err, tol, what, c)                                                       \
    do {                                                                                   \
        const double e_ = (err);                                                           \
        if (getenv("LVIT_TEST_VERBOSE"))                                                   \
            printf("  %-22s rel err %.2e (B=%d NH=%d d=%d Sq=%lld Sk=%lld)\n", what, e_,      \
                   (c)->B, (c)->NH, (c)->d, (long long)(c)->Sq, (long long)(c)->Sk);       \
        if (!(e_ <= (tol)))                                                                \
            print_error("%s: rel err %.3g > %.1g (B=%d NH=%d d=%d Sq=%lld Sk=%lld)\n", what, \
                        e_, (double)(tol), (c)->B, (c)->NH, (c)->d, (long long)(c)->Sq,    \
                        (long long)(c)->Sk);                                               \
        assert_true(e_ <= (tol));                                                          \
    } while (0)

/* Bitwise equality of the first width floats of n tokens (the rest is padding). */
static int same_tokens(const float *a, const float *b, int64_t stride, int64_t n, int64_t width) {
    for (int64_t t = 0; t < n; t++)
        if (memcmp(a + t * stride, b + t * stride, sizeof(float) * (size_t)width)) return 0;
    return 1;
}

/* Oracle results of a problem. */
typedef struct Ref {
    double *o, *lse, *dq, *dk, *dv;
} Ref;

static Ref ref_compute(const Prob *p) {
    const AttnDims *dm = &p->dm;
    const size_t nqo = (size_t)(dm->B * dm->Sq * dm->NH * dm->d);
    const size_t nk = (size_t)(dm->B * dm->Sk * dm->NH * dm->d);
    Ref r;
    r.o = malloc(sizeof(double) * (nqo + 1));
    r.lse = malloc(sizeof(double) * (size_t)(dm->B * dm->NH * dm->Sq + 1));
    r.dq = malloc(sizeof(double) * (nqo + 1));
    r.dk = malloc(sizeof(double) * (nk + 1));
    r.dv = malloc(sizeof(double) * (nk + 1));
    double *qd = widen(p->qbuf, p->nq);
    double *kvd = p->kvbuf == p->qbuf ? qd : widen(p->kvbuf, p->nkv);
    double *gd = widen(p->dout, p->no);
    const double *k = kvd + (p->k - p->kvbuf), *v = kvd + (p->v - p->kvbuf);
    naive_fwd(r.o, r.lse, qd, k, v, dm);
    naive_bwd(r.dq, r.dk, r.dv, gd, qd, k, v, dm);
    if (kvd != qd) free(kvd);
    free(qd);
    free(gd);
    return r;
}

static void ref_free(Ref *r) {
    free(r->o);
    free(r->lse);
    free(r->dq);
    free(r->dk);
    free(r->dv);
}

/* Forward and backward of one configuration against the oracle. */
static void check_cfg(const Cfg *c) {
    Prob p;
    prob_init(&p, c, 17u + (unsigned)(c->d * 131 + c->Sq * 7 + c->Sk));
    const AttnDims *dm = &p.dm;
    const int64_t D = (int64_t)c->NH * c->d;
    Ref r = ref_compute(&p);

    /* forward over NaN-poisoned outputs; the padding after each token must survive */
    for (size_t i = 0; i < p.no; i++) p.o[i] = (int64_t)(i % dm->o_stride) < D ? NAN : 7.0f;
    for (int64_t i = 0; i < (int64_t)c->B * c->NH * c->Sq; i++) p.lse[i] = NAN;
    run_fwd(&p);
    CHECK_ERR(rel_err(p.o, NULL, dm->o_stride, r.o, c->B, c->Sq, c->NH, c->d), TOL_FWD, "o", c);
    CHECK_ERR(rel_err_lse(p.lse, r.lse, (size_t)(c->B * c->NH * c->Sq)), TOL_FWD, "lse", c);
    for (size_t i = 0; i < p.no; i++)
        if ((int64_t)(i % dm->o_stride) >= D) assert_true(p.o[i] == 7.0f);

    /* backward accumulates onto existing gradients */
    unsigned seed = 99u;
    fill(p.gqbuf, p.nq, 0.5f, &seed);
    if (p.gkvbuf != p.gqbuf) fill(p.gkvbuf, p.nkv, 0.5f, &seed);
    float *g0q = falloc(p.nq), *g0kv = falloc(p.nkv);
    memcpy(g0q, p.gqbuf, sizeof(float) * p.nq);
    if (p.gkvbuf != p.gqbuf) memcpy(g0kv, p.gkvbuf, sizeof(float) * p.nkv);
    const float *g0base = p.gkvbuf == p.gqbuf ? g0q : g0kv;
    run_bwd(&p);
    CHECK_ERR(rel_err(p.dq, g0q + (p.dq - p.gqbuf), dm->q_stride, r.dq, c->B, c->Sq, c->NH,
                      c->d), TOL_BWD, "dq", c);
    const float *gkv = p.gkvbuf;
    CHECK_ERR(rel_err(p.dk, g0base + (p.dk - gkv), dm->k_stride, r.dk, c->B, c->Sk, c->NH,
                      c->d), TOL_BWD, "dk", c);
    CHECK_ERR(rel_err(p.dv, g0base + (p.dv - gkv), dm->v_stride, r.dv, c->B, c->Sk, c->NH,
                      c->d), TOL_BWD, "dv", c);
    free(g0q);
    free(g0kv);
    ref_free(&r);
    prob_free(&p);
}

/* ---------------- tests ---------------- */

/* The oracle's backward is the gradient of its forward: L = sum(dout * o). */
static void test_oracle_finite_differences(void **state) {
    (void)state;
    const Cfg c = {.B = 2, .NH = 2, .d = 5, .Sq = 4, .Sk = 7, .fused = 0, .o_pad = 1, .amp = 1.5f};
    Prob p;
    prob_init(&p, &c, 5u);
    const AttnDims *dm = &p.dm;
    Ref r = ref_compute(&p);
    double *qd = widen(p.qbuf, p.nq), *kvd = widen(p.kvbuf, p.nkv), *gd = widen(p.dout, p.no);
    const size_t nqo = (size_t)(c.B * c.Sq * c.NH * c.d);
    double *o = malloc(sizeof(double) * nqo), *lse = malloc(sizeof(double) * nqo);
    const int64_t D = (int64_t)c.NH * c.d;
    /* (which tensor, b, token, h, channel): 0 = q, 1 = k, 2 = v */
    const int picks[][5] = {{0, 0, 1, 0, 2}, {0, 1, 3, 1, 4}, {1, 0, 6, 1, 0},
                            {1, 1, 2, 0, 3}, {2, 0, 0, 0, 1}, {2, 1, 5, 1, 4}};
    for (size_t n = 0; n < sizeof picks / sizeof picks[0]; n++) {
        const int which = picks[n][0], b = picks[n][1], t = picks[n][2], h = picks[n][3],
                  ch = picks[n][4];
        double *x;
        double grad;
        if (which == 0) {
            x = qd + (b * c.Sq + t) * dm->q_stride + h * c.d + ch;
            grad = r.dq[((b * c.Sq + t) * c.NH + h) * c.d + ch];
        } else {
            x = kvd + (b * c.Sk + t) * dm->k_stride + (which == 2 ? D : 0) + h * c.d + ch;
            grad = (which == 1 ? r.dk : r.dv)[((b * c.Sk + t) * c.NH + h) * c.d + ch];
        }
        const double x0 = *x, eps = 1e-5;
        double L[2];
        for (int s = 0; s < 2; s++) {
            *x = x0 + (s ? -eps : eps);
            naive_fwd(o, lse, qd, kvd, kvd + D, dm);
            L[s] = 0.0;
            for (int64_t tok = 0; tok < c.B * c.Sq; tok++)
                for (int e = 0; e < D; e++) L[s] += gd[tok * dm->o_stride + e] * o[tok * D + e];
        }
        *x = x0;
        const double fd = (L[0] - L[1]) / (2 * eps);
        if (!(fabs(fd - grad) <= 1e-7 * (1.0 + fabs(grad))))
            print_error("pick %zu: finite difference %.10g, oracle %.10g\n", n, fd, grad);
        assert_true(fabs(fd - grad) <= 1e-7 * (1.0 + fabs(grad)));
        assert_true(fabs(grad) > 1e-4); /* the picks must exercise non-trivial gradients */
    }
    free(o);
    free(lse);
    free(qd);
    free(kvd);
    free(gd);
    ref_free(&r);
    prob_free(&p);
}

/* Sizes that are not multiples of the 64-wide tiles, Sq != Sk, odd head sizes. */
static void test_head_sizes(void **state) {
    (void)state;
    const int ds[] = {8, 24, 32, 64, 128};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        const Cfg c = {.B = 2, .NH = 3, .d = ds[i], .Sq = 37, .Sk = 101, .fused = 0,
                       .o_pad = 3, .amp = 1.0f};
        check_cfg(&c);
    }
    const Cfg odd = {.B = 1, .NH = 2, .d = 5, .Sq = 70, .Sk = 65, .fused = 0, .o_pad = 0,
                     .amp = 1.0f};
    check_cfg(&odd);
}

/* Self-attention exactly as the model calls it: q, k, v in one fused qkv activation. */
static void test_fused_qkv(void **state) {
    (void)state;
    const Cfg cs[] = {
        {.B = 2, .NH = 3, .d = 32, .Sq = 100, .Sk = 100, .fused = 1, .o_pad = 0, .amp = 1.0f},
        {.B = 2, .NH = 3, .d = 64, .Sq = 129, .Sk = 129, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 1, .d = 16, .Sq = 300, .Sk = 300, .fused = 1, .o_pad = 0, .amp = 3.0f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check_cfg(&cs[i]);
}

/* Scores spread widely, so the running max changes from tile to tile. */
static void test_large_scores(void **state) {
    (void)state;
    const Cfg c = {.B = 1, .NH = 2, .d = 32, .Sq = 90, .Sk = 200, .fused = 0, .o_pad = 0,
                   .amp = 4.0f};
    check_cfg(&c);
}

static void test_tiny_lengths(void **state) {
    (void)state;
    const Cfg cs[] = {
        {.B = 2, .NH = 3, .d = 24, .Sq = 5, .Sk = 1, .fused = 0, .o_pad = 0, .amp = 1.0f},
        {.B = 2, .NH = 3, .d = 64, .Sq = 1, .Sk = 1, .fused = 1, .o_pad = 0, .amp = 1.0f},
        {.B = 1, .NH = 2, .d = 32, .Sq = 1, .Sk = 77, .fused = 0, .o_pad = 2, .amp = 1.0f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check_cfg(&cs[i]);
}

/* No keys: o = 0, lse = -inf (the empty partial), and backward adds nothing; nor does
   backward against an empty result. */
static void test_no_keys(void **state) {
    (void)state;
    const Cfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 9, .Sk = 0, .fused = 0, .o_pad = 2, .amp = 1.0f};
    Prob p;
    prob_init(&p, &c, 3u);
    const int64_t D = (int64_t)c.NH * c.d;
    for (size_t i = 0; i < p.no; i++) p.o[i] = (int64_t)(i % p.dm.o_stride) < D ? NAN : 7.0f;
    run_fwd(&p);
    for (size_t i = 0; i < p.no; i++)
        assert_true(p.o[i] == ((int64_t)(i % p.dm.o_stride) < D ? 0.0f : 7.0f));
    for (int64_t i = 0; i < c.B * c.NH * c.Sq; i++) assert_true(p.lse[i] == -INFINITY);
    for (size_t i = 0; i < p.nq; i++) p.gqbuf[i] = 1.0f;
    run_bwd(&p);
    for (size_t i = 0; i < p.nq; i++) assert_true(p.gqbuf[i] == 1.0f);
    prob_free(&p);

    /* keys present but the (global) result empty, lse = -inf: P = 0, nothing is added */
    const Cfg c2 = {.B = 1, .NH = 2, .d = 16, .Sq = 9, .Sk = 70, .fused = 0, .o_pad = 0,
                    .amp = 1.0f};
    prob_init(&p, &c2, 4u);
    memset(p.o, 0, sizeof(float) * p.no);
    for (int64_t i = 0; i < c2.B * c2.NH * c2.Sq; i++) p.lse[i] = -INFINITY;
    for (size_t i = 0; i < p.nq; i++) p.gqbuf[i] = 1.0f;
    for (size_t i = 0; i < p.nkv; i++) p.gkvbuf[i] = 2.0f;
    run_bwd(&p);
    for (size_t i = 0; i < p.nq; i++) assert_true(p.gqbuf[i] == 1.0f);
    for (size_t i = 0; i < p.nkv; i++) assert_true(p.gkvbuf[i] == 2.0f);
    prob_free(&p);
}

/* Backward adds: a second call adds the same gradient again. */
static void test_bwd_accumulates(void **state) {
    (void)state;
    const Cfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 70, .Sk = 70, .fused = 1, .o_pad = 0,
                   .amp = 1.0f};
    Prob p;
    prob_init(&p, &c, 11u);
    run_fwd(&p);
    unsigned seed = 5u;
    fill(p.gqbuf, p.nq, 0.5f, &seed);
    float *g0 = falloc(p.nq), *g1 = falloc(p.nq), *twice = falloc(p.nq);
    memcpy(g0, p.gqbuf, sizeof(float) * p.nq);
    run_bwd(&p);
    memcpy(g1, p.gqbuf, sizeof(float) * p.nq);
    run_bwd(&p);
    double maxg = 0.0;
    for (size_t i = 0; i < p.nq; i++) {
        twice[i] = g0[i] + 2.0f * (g1[i] - g0[i]);
        if (fabs(g1[i] - g0[i]) > maxg) maxg = fabs(g1[i] - g0[i]);
    }
    assert_true(maxg > 1e-3); /* the gradient is not trivially zero */
    const int64_t s3 = 3 * (int64_t)c.NH * c.d;
    CHECK_ERR(rel_err_ff(p.gqbuf, twice, s3, c.B, c.Sq, 3 * c.NH, c.d), 1e-6, "2x grad", &c);
    free(g0);
    free(g1);
    free(twice);
    prob_free(&p);
}

/* A problem's keys [j0, j0+n) as a separate problem sharing its queries (ring attention
   holds each chunk of keys in its own [B,S_chunk,...] buffer). */
static void chunk_of(Prob *ch, const Prob *p, int64_t j0, int64_t n) {
    const Cfg c = {.B = p->dm.B, .NH = p->dm.NH, .d = p->dm.d, .Sq = p->dm.Sq, .Sk = n,
                   .fused = 0, .o_pad = p->dm.o_stride - (int64_t)p->dm.NH * p->dm.d,
                   .amp = 1.0f};
    prob_init(ch, &c, 1u);
    const int64_t D = (int64_t)c.NH * c.d;
    memcpy(ch->qbuf, p->qbuf, sizeof(float) * p->nq);
    memcpy(ch->dout, p->dout, sizeof(float) * p->no);
    for (int b = 0; b < c.B; b++)
        for (int64_t j = 0; j < n; j++) {
            const int64_t src = b * p->dm.Sk + j0 + j, dst = b * n + j;
            memcpy(ch->kvbuf + dst * 2 * D, p->k + src * p->dm.k_stride, sizeof(float) * (size_t)D);
            memcpy(ch->kvbuf + dst * 2 * D + D, p->v + src * p->dm.v_stride,
                   sizeof(float) * (size_t)D);
        }
}

/* Forward over two disjoint key chunks merged by lse equals the full forward, and so
   does merging with an empty partial on either side. */
static void test_chunked_forward_merge(void **state) {
    (void)state;
    const Cfg c = {.B = 2, .NH = 3, .d = 32, .Sq = 45, .Sk = 101, .fused = 0, .o_pad = 1,
                   .amp = 2.0f};
    Prob p, c1, c2, e;
    prob_init(&p, &c, 21u);
    Ref r = ref_compute(&p);
    run_fwd(&p);
    chunk_of(&c1, &p, 0, 40);
    chunk_of(&c2, &p, 40, 61);
    chunk_of(&e, &p, 0, 0);
    run_fwd(&c1);
    run_fwd(&c2);
    run_fwd(&e);
    attn_merge_cpu(c1.o, c1.lse, c2.o, c2.lse, &c1.dm);
    const size_t nl = (size_t)(c.B * c.NH * c.Sq);
    CHECK_ERR(rel_err_ff(c1.o, p.o, p.dm.o_stride, c.B, c.Sq, c.NH, c.d), TOL_FWD, "merged o", &c);
    CHECK_ERR(rel_err_lse(c1.lse, r.lse, nl), TOL_FWD, "merged lse", &c);
    CHECK_ERR(rel_err(c1.o, NULL, p.dm.o_stride, r.o, c.B, c.Sq, c.NH, c.d), TOL_FWD,
              "merged o vs oracle", &c);

    /* empty on the right leaves (o, lse) as they are; empty on the left takes the other */
    float *o_keep = falloc(c1.no), *l_keep = falloc(nl);
    memcpy(o_keep, c1.o, sizeof(float) * c1.no);
    memcpy(l_keep, c1.lse, sizeof(float) * nl);
    const int64_t os = c1.dm.o_stride, ntok = c.B * c.Sq, D = (int64_t)c.NH * c.d;
    attn_merge_cpu(c1.o, c1.lse, e.o, e.lse, &c1.dm);
    assert_true(same_tokens(c1.o, o_keep, os, ntok, D));
    assert_memory_equal(c1.lse, l_keep, sizeof(float) * nl);
    attn_merge_cpu(e.o, e.lse, c1.o, c1.lse, &e.dm);
    assert_true(same_tokens(e.o, o_keep, os, ntok, D));
    assert_memory_equal(e.lse, l_keep, sizeof(float) * nl);
    free(o_keep);
    free(l_keep);
    prob_free(&e);
    prob_free(&c1);
    prob_free(&c2);
    ref_free(&r);
    prob_free(&p);
}

/* Backward over each key chunk with the global o and lse gives that chunk's exact dk, dv
   and its share of dq: the shares sum to the full gradient. */
static void test_chunked_backward(void **state) {
    (void)state;
    const Cfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 45, .Sk = 101, .fused = 0, .o_pad = 0,
                   .amp = 2.0f};
    Prob p, c1, c2;
    prob_init(&p, &c, 23u);
    Ref r = ref_compute(&p);
    run_fwd(&p);
    memset(p.gqbuf, 0, sizeof(float) * p.nq);
    memset(p.gkvbuf, 0, sizeof(float) * p.nkv);
    run_bwd(&p);
    chunk_of(&c1, &p, 0, 64);
    chunk_of(&c2, &p, 64, 37);
    Prob *chunks[2] = {&c1, &c2};
    float *dq = falloc(p.nq); /* chunk shares of dq accumulate here */
    memset(dq, 0, sizeof(float) * p.nq);
    for (int i = 0; i < 2; i++) {
        Prob *ch = chunks[i];
        memcpy(ch->o, p.o, sizeof(float) * p.no); /* global o and lse */
        memcpy(ch->lse, p.lse, sizeof(float) * (size_t)(c.B * c.NH * c.Sq));
        memset(ch->gkvbuf, 0, sizeof(float) * ch->nkv);
        float *ws = ws_alloc(&ch->dm);
        attn_bwd_cpu(dq, ch->dk, ch->dv, ch->dout, ch->q, ch->k, ch->v, ch->o, ch->lse, &ch->dm,
                     ws);
        free(ws);
    }
    const int64_t D = (int64_t)c.NH * c.d;
    CHECK_ERR(rel_err_ff(dq, p.dq, D, c.B, c.Sq, c.NH, c.d), TOL_BWD, "chunked dq", &c);
    CHECK_ERR(rel_err(dq, NULL, D, r.dq, c.B, c.Sq, c.NH, c.d), TOL_BWD, "chunked dq vs oracle",
              &c);
    /* reassemble dk, dv of the full key range from the chunks */
    float *dkv = falloc(p.nkv);
    for (int b = 0; b < c.B; b++)
        for (int i = 0, j0 = 0; i < 2; j0 += (int)chunks[i]->dm.Sk, i++)
            for (int64_t j = 0; j < chunks[i]->dm.Sk; j++)
                memcpy(dkv + (b * c.Sk + j0 + j) * 2 * D,
                       chunks[i]->gkvbuf + (b * chunks[i]->dm.Sk + j) * 2 * D,
                       sizeof(float) * (size_t)(2 * D));
    CHECK_ERR(rel_err_ff(dkv, p.gkvbuf, 2 * D, c.B, c.Sk, 2 * c.NH, c.d), TOL_BWD,
              "chunked dk,dv", &c);
    CHECK_ERR(rel_err(dkv, NULL, 2 * D, r.dk, c.B, c.Sk, c.NH, c.d), TOL_BWD,
              "chunked dk vs oracle", &c);
    CHECK_ERR(rel_err(dkv + D, NULL, 2 * D, r.dv, c.B, c.Sk, c.NH, c.d), TOL_BWD,
              "chunked dv vs oracle", &c);
    free(dkv);
    free(dq);
    prob_free(&c1);
    prob_free(&c2);
    ref_free(&r);
    prob_free(&p);
}

/* Forward + backward from zero gradients with the current thread count. */
static void run_all(Prob *p) {
    run_fwd(p);
    memset(p->gqbuf, 0, sizeof(float) * p->nq);
    if (p->gkvbuf != p->gqbuf) memset(p->gkvbuf, 0, sizeof(float) * p->nkv);
    run_bwd(p);
}

/* 1 and 2 threads agree up to rounding; two runs with 2 threads agree bitwise. Covers
   both backward schedules: whole heads per thread (B*NH = 6) and one head's key tiles
   split over the threads (B*NH = 1). */
static void test_threads(void **state) {
    (void)state;
    const Cfg cs[] = {
        {.B = 2, .NH = 3, .d = 32, .Sq = 150, .Sk = 150, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 1, .d = 64, .Sq = 200, .Sk = 300, .fused = 0, .o_pad = 0, .amp = 2.0f},
    };
    const int saved = omp_get_max_threads();
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const Cfg *c = &cs[i];
        Prob p1, p2, p2b;
        prob_init(&p1, c, 31u);
        prob_init(&p2, c, 31u);
        prob_init(&p2b, c, 31u);
        omp_set_num_threads(1);
        run_all(&p1);
        omp_set_num_threads(2);
        run_all(&p2);
        run_all(&p2b);
        omp_set_num_threads(saved);
        const AttnDims *dm = &p1.dm;
        const int B = c->B, NH = c->NH, d = c->d;
        const double tol = TOL_THREADS;
        CHECK_ERR(rel_err_ff(p2.o, p1.o, dm->o_stride, B, c->Sq, NH, d), tol, "o T1/T2", c);
        CHECK_ERR(rel_err_ff(p2.dq, p1.dq, dm->q_stride, B, c->Sq, NH, d), tol, "dq T1/T2", c);
        CHECK_ERR(rel_err_ff(p2.dk, p1.dk, dm->k_stride, B, c->Sk, NH, d), tol, "dk T1/T2", c);
        CHECK_ERR(rel_err_ff(p2.dv, p1.dv, dm->v_stride, B, c->Sk, NH, d), tol, "dv T1/T2", c);
        assert_true(same_tokens(p2.o, p2b.o, dm->o_stride, c->B * c->Sq, (int64_t)c->NH * c->d));
        assert_memory_equal(p2.lse, p2b.lse, sizeof(float) * (size_t)(c->B * c->NH * c->Sq));
        assert_memory_equal(p2.gqbuf, p2b.gqbuf, sizeof(float) * p2.nq);
        if (!c->fused) assert_memory_equal(p2.gkvbuf, p2b.gkvbuf, sizeof(float) * p2.nkv);
        prob_free(&p1);
        prob_free(&p2);
        prob_free(&p2b);
    }
}

/* The comparison used everywhere notices an error just above tolerance and a NaN. */
static void test_checker_can_fail(void **state) {
    (void)state;
    const Cfg c = {.B = 1, .NH = 2, .d = 8, .Sq = 20, .Sk = 30, .fused = 0, .o_pad = 0,
                   .amp = 1.0f};
    Prob p;
    prob_init(&p, &c, 41u);
    Ref r = ref_compute(&p);
    run_fwd(&p);
    const int64_t os = p.dm.o_stride;
    assert_true(rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) <= TOL_FWD);
    double maxw = 0.0;
    for (int64_t i = 0; i < c.B * c.Sq * c.NH * c.d; i++)
        if (fabs(r.o[i]) > maxw) maxw = fabs(r.o[i]);
    p.o[os * 7 + 3] += (float)(3 * TOL_FWD * maxw);
    assert_true(rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) > TOL_FWD);
    p.o[os * 7 + 3] = NAN;
    assert_true(rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) > TOL_FWD);
    ref_free(&r);
    prob_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_finite_differences),
        cmocka_unit_test(test_checker_can_fail),
        cmocka_unit_test(test_head_sizes),
        cmocka_unit_test(test_fused_qkv),
        cmocka_unit_test(test_large_scores),
        cmocka_unit_test(test_tiny_lengths),
        cmocka_unit_test(test_no_keys),
        cmocka_unit_test(test_bwd_accumulates),
        cmocka_unit_test(test_chunked_forward_merge),
        cmocka_unit_test(test_chunked_backward),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
