/* Flash attention (CPU) against a naive O(S^2)-memory oracle in double precision (the harness
 * in util_attn.c), one configuration at a time: head sizes, fused qkv, widely spread scores,
 * tiny lengths, no keys, and that the backward accumulates. Key chunks and threads are in
 * test_attention_chunks.c.
 *
 * The oracle is itself checked by finite differences here, so a wrong oracle cannot bless a
 * wrong kernel. Every check compares independently computed numbers; test_checker_can_fail
 * shows the comparison catches a small perturbation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/attention.h"
#include "util_attn.h"

/* Forward and backward of one configuration against the oracle. */
static void check_cfg(const TuAttnCfg *c) {
    TuAttnProb p;
    tu_attn_prob_init(&p, c, 17u + (unsigned)(c->d * 131 + c->Sq * 7 + c->Sk));
    const AttnDims *dm = &p.dm;
    const int64_t D = (int64_t)c->NH * c->d;
    TuAttnRef r = tu_attn_ref(&p);

    /* forward over NaN-poisoned outputs; the padding after each token must survive */
    for (size_t i = 0; i < p.no; i++) p.o[i] = (int64_t)(i % dm->o_stride) < D ? NAN : 7.0f;
    for (int64_t i = 0; i < (int64_t)c->B * c->NH * c->Sq; i++) p.lse[i] = NAN;
    tu_attn_run_fwd(&p);
    CHECK_ERR(tu_attn_rel_err(p.o, NULL, dm->o_stride, r.o, c->B, c->Sq, c->NH, c->d), TOL_FWD, "o", c);
    CHECK_ERR(tu_attn_rel_err_lse(p.lse, r.lse, (size_t)(c->B * c->NH * c->Sq)), TOL_FWD, "lse", c);
    for (size_t i = 0; i < p.no; i++)
        if ((int64_t)(i % dm->o_stride) >= D) assert_true(p.o[i] == 7.0f);

    /* backward accumulates onto existing gradients */
    unsigned seed = 99u;
    tu_attn_fill(p.gqbuf, p.nq, 0.5f, &seed);
    if (p.gkvbuf != p.gqbuf) tu_attn_fill(p.gkvbuf, p.nkv, 0.5f, &seed);
    float *g0q = tu_attn_falloc(p.nq), *g0kv = tu_attn_falloc(p.nkv);
    memcpy(g0q, p.gqbuf, sizeof(float) * p.nq);
    if (p.gkvbuf != p.gqbuf) memcpy(g0kv, p.gkvbuf, sizeof(float) * p.nkv);
    const float *g0base = p.gkvbuf == p.gqbuf ? g0q : g0kv;
    tu_attn_run_bwd(&p);
    CHECK_ERR(tu_attn_rel_err(p.dq, g0q + (p.dq - p.gqbuf), dm->q_stride, r.dq, c->B, c->Sq, c->NH,
                              c->d), TOL_BWD, "dq", c);
    const float *gkv = p.gkvbuf;
    CHECK_ERR(tu_attn_rel_err(p.dk, g0base + (p.dk - gkv), dm->k_stride, r.dk, c->B, c->Sk, c->NH,
                              c->d), TOL_BWD, "dk", c);
    CHECK_ERR(tu_attn_rel_err(p.dv, g0base + (p.dv - gkv), dm->v_stride, r.dv, c->B, c->Sk, c->NH,
                              c->d), TOL_BWD, "dv", c);
    free(g0q);
    free(g0kv);
    tu_attn_ref_free(&r);
    tu_attn_prob_free(&p);
}

/* ---------------- tests ---------------- */

/* The oracle's backward is the gradient of its forward: L = sum(dout * o). */
static void test_oracle_finite_differences(void **state) {
    (void)state;
    const TuAttnCfg c = {.B = 2, .NH = 2, .d = 5, .Sq = 4, .Sk = 7, .fused = 0, .o_pad = 1, .amp = 1.5f};
    TuAttnProb p;
    tu_attn_prob_init(&p, &c, 5u);
    const AttnDims *dm = &p.dm;
    TuAttnRef r = tu_attn_ref(&p);
    double *qd = tu_attn_widen(p.qbuf, p.nq), *kvd = tu_attn_widen(p.kvbuf, p.nkv), *gd = tu_attn_widen(p.dout, p.no);
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
            tu_attn_naive_fwd(o, lse, qd, kvd, kvd + D, dm);
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
    tu_attn_ref_free(&r);
    tu_attn_prob_free(&p);
}

/* Sizes that are not multiples of the 64-wide tiles, Sq != Sk, odd head sizes. */
static void test_head_sizes(void **state) {
    (void)state;
    const int ds[] = {8, 24, 32, 64, 128};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        const TuAttnCfg c = {.B = 2, .NH = 3, .d = ds[i], .Sq = 37, .Sk = 101, .fused = 0,
                             .o_pad = 3, .amp = 1.0f};
        check_cfg(&c);
    }
    const TuAttnCfg odd = {.B = 1, .NH = 2, .d = 5, .Sq = 70, .Sk = 65, .fused = 0, .o_pad = 0,
                           .amp = 1.0f};
    check_cfg(&odd);
}

/* Self-attention exactly as the model calls it: q, k, v in one fused qkv activation. */
static void test_fused_qkv(void **state) {
    (void)state;
    const TuAttnCfg cs[] = {
        {.B = 2, .NH = 3, .d = 32, .Sq = 100, .Sk = 100, .fused = 1, .o_pad = 0, .amp = 1.0f},
        {.B = 2, .NH = 3, .d = 64, .Sq = 129, .Sk = 129, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 1, .d = 16, .Sq = 300, .Sk = 300, .fused = 1, .o_pad = 0, .amp = 3.0f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check_cfg(&cs[i]);
}

/* Scores spread widely, so the running max changes from tile to tile. */
static void test_large_scores(void **state) {
    (void)state;
    const TuAttnCfg c = {.B = 1, .NH = 2, .d = 32, .Sq = 90, .Sk = 200, .fused = 0, .o_pad = 0,
                         .amp = 4.0f};
    check_cfg(&c);
}

/* Long enough that the kernels pack the streamed tiles (one head's rows beyond 3/4 MiB,
   src/attention/flash_impl.h flash_direct) and split the work into several groups of query
   blocks (forward) and of key tiles (backward), the last group short, at 1 and 2 threads
   (group sizes from src/attention/flash_layout.h: d = 128 takes up to 8 query blocks and 4
   key tiles a group, d = 96 11 and 6, fewer when the threads need more tasks). */
static void test_groups(void **state) {
    (void)state;
    const TuAttnCfg cs[] = {
        {.B = 1, .NH = 1, .d = 128, .Sq = 900, .Sk = 900, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 1, .d = 96, .Sq = 1100, .Sk = 1300, .fused = 0, .o_pad = 1, .amp = 2.0f},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check_cfg(&cs[i]);
}

static void test_tiny_lengths(void **state) {
    (void)state;
    const TuAttnCfg cs[] = {
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
    const TuAttnCfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 9, .Sk = 0, .fused = 0, .o_pad = 2, .amp = 1.0f};
    TuAttnProb p;
    tu_attn_prob_init(&p, &c, 3u);
    const int64_t D = (int64_t)c.NH * c.d;
    for (size_t i = 0; i < p.no; i++) p.o[i] = (int64_t)(i % p.dm.o_stride) < D ? NAN : 7.0f;
    tu_attn_run_fwd(&p);
    for (size_t i = 0; i < p.no; i++)
        assert_true(p.o[i] == ((int64_t)(i % p.dm.o_stride) < D ? 0.0f : 7.0f));
    for (int64_t i = 0; i < c.B * c.NH * c.Sq; i++) assert_true(p.lse[i] == -INFINITY);
    for (size_t i = 0; i < p.nq; i++) p.gqbuf[i] = 1.0f;
    tu_attn_run_bwd(&p);
    for (size_t i = 0; i < p.nq; i++) assert_true(p.gqbuf[i] == 1.0f);
    tu_attn_prob_free(&p);

    /* keys present but the (global) result empty, lse = -inf: P = 0, nothing is added */
    const TuAttnCfg c2 = {.B = 1, .NH = 2, .d = 16, .Sq = 9, .Sk = 70, .fused = 0, .o_pad = 0,
                          .amp = 1.0f};
    tu_attn_prob_init(&p, &c2, 4u);
    memset(p.o, 0, sizeof(float) * p.no);
    for (int64_t i = 0; i < c2.B * c2.NH * c2.Sq; i++) p.lse[i] = -INFINITY;
    for (size_t i = 0; i < p.nq; i++) p.gqbuf[i] = 1.0f;
    for (size_t i = 0; i < p.nkv; i++) p.gkvbuf[i] = 2.0f;
    tu_attn_run_bwd(&p);
    for (size_t i = 0; i < p.nq; i++) assert_true(p.gqbuf[i] == 1.0f);
    for (size_t i = 0; i < p.nkv; i++) assert_true(p.gkvbuf[i] == 2.0f);
    tu_attn_prob_free(&p);
}

/* Backward adds: a second call adds the same gradient again. */
static void test_bwd_accumulates(void **state) {
    (void)state;
    const TuAttnCfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 70, .Sk = 70, .fused = 1, .o_pad = 0,
                         .amp = 1.0f};
    TuAttnProb p;
    tu_attn_prob_init(&p, &c, 11u);
    tu_attn_run_fwd(&p);
    unsigned seed = 5u;
    tu_attn_fill(p.gqbuf, p.nq, 0.5f, &seed);
    float *g0 = tu_attn_falloc(p.nq), *g1 = tu_attn_falloc(p.nq), *twice = tu_attn_falloc(p.nq);
    memcpy(g0, p.gqbuf, sizeof(float) * p.nq);
    tu_attn_run_bwd(&p);
    memcpy(g1, p.gqbuf, sizeof(float) * p.nq);
    tu_attn_run_bwd(&p);
    double maxg = 0.0;
    for (size_t i = 0; i < p.nq; i++) {
        twice[i] = g0[i] + 2.0f * (g1[i] - g0[i]);
        if (fabs(g1[i] - g0[i]) > maxg) maxg = fabs(g1[i] - g0[i]);
    }
    assert_true(maxg > 1e-3); /* the gradient is not trivially zero */
    const int64_t s3 = 3 * (int64_t)c.NH * c.d;
    CHECK_ERR(tu_attn_rel_err_ff(p.gqbuf, twice, s3, c.B, c.Sq, 3 * c.NH, c.d), 1e-6, "2x grad", &c);
    free(g0);
    free(g1);
    free(twice);
    tu_attn_prob_free(&p);
}

/* The comparison used everywhere notices an error just above tolerance and a NaN. */
static void test_checker_can_fail(void **state) {
    (void)state;
    const TuAttnCfg c = {.B = 1, .NH = 2, .d = 8, .Sq = 20, .Sk = 30, .fused = 0, .o_pad = 0,
                         .amp = 1.0f};
    TuAttnProb p;
    tu_attn_prob_init(&p, &c, 41u);
    TuAttnRef r = tu_attn_ref(&p);
    tu_attn_run_fwd(&p);
    const int64_t os = p.dm.o_stride;
    assert_true(tu_attn_rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) <= TOL_FWD);
    double maxw = 0.0;
    for (int64_t i = 0; i < c.B * c.Sq * c.NH * c.d; i++)
        if (fabs(r.o[i]) > maxw) maxw = fabs(r.o[i]);
    p.o[os * 7 + 3] += (float)(3 * TOL_FWD * maxw);
    assert_true(tu_attn_rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) > TOL_FWD);
    p.o[os * 7 + 3] = NAN;
    assert_true(tu_attn_rel_err(p.o, NULL, os, r.o, c.B, c.Sq, c.NH, c.d) > TOL_FWD);
    tu_attn_ref_free(&r);
    tu_attn_prob_free(&p);
}

/* The vector builds against the portable one on the same inputs (besides each against the
   oracle): they differ only in rounding (FMA contraction, summation grouping by lanes). */
static void test_builds_agree(void **state) {
    (void)state;
    const TuAttnCfg cfgs[] = {
        {.B = 2, .NH = 3, .d = 32, .Sq = 150, .Sk = 150, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 2, .d = 72, .Sq = 70, .Sk = 133, .fused = 0, .o_pad = 3, .amp = 1.0f},
    };
    const char *vector_builds[] = {"avx2", "avx512"};
    const char *saved = attn_isa_cpu();
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const TuAttnCfg *c = &cfgs[ci];
        TuAttnProb ref;
        tu_attn_prob_init(&ref, c, 41u);
        assert_int_equal(attn_set_isa_cpu("generic"), 0);
        memset(ref.o, 0, sizeof(float) * ref.no); /* its padding is compared too */
        tu_attn_run_fwd(&ref);
        memset(ref.gqbuf, 0, sizeof(float) * ref.nq);
        if (ref.gkvbuf != ref.gqbuf) memset(ref.gkvbuf, 0, sizeof(float) * ref.nkv);
        tu_attn_run_bwd(&ref);
        for (size_t bi = 0; bi < 2; bi++) {
            if (attn_set_isa_cpu(vector_builds[bi]) != 0) {
                printf("builds agree: %s skipped: this CPU or build lacks it\n", vector_builds[bi]);
                continue;
            }
            TuAttnProb p;
            tu_attn_prob_init(&p, c, 41u);
            memset(p.o, 0, sizeof(float) * p.no);
            tu_attn_run_fwd(&p);
            memset(p.gqbuf, 0, sizeof(float) * p.nq);
            if (p.gkvbuf != p.gqbuf) memset(p.gkvbuf, 0, sizeof(float) * p.nkv);
            tu_attn_run_bwd(&p);
            double worst = 0.0, scale = 0.0;
            const float *got[] = {p.o, p.gqbuf, p.gkvbuf}, *want[] = {ref.o, ref.gqbuf, ref.gkvbuf};
            const size_t n[] = {p.no, p.nq, p.nkv};
            for (int t = 0; t < 3; t++)
                for (size_t i = 0; i < n[t]; i++) {
                    const double w = fabs((double)want[t][i]);
                    scale = w > scale ? w : scale;
                }
            for (int t = 0; t < 3; t++)
                for (size_t i = 0; i < n[t]; i++) {
                    const double e = fabs((double)got[t][i] - (double)want[t][i]);
                    worst = isnan(e) || e > worst ? (isnan(e) ? INFINITY : e) : worst;
                }
            printf("builds agree: %s vs generic, d=%d: max |diff| / max |value| = %.2e\n",
                   vector_builds[bi], c->d, worst / scale);
            assert_true(worst / scale <= TOL_BWD);
            tu_attn_prob_free(&p);
        }
        tu_attn_prob_free(&ref);
    }
    assert_int_equal(attn_set_isa_cpu(saved), 0);
}

/* Every test against the oracle once per instruction-set build this CPU runs (the vector
   builds are skipped, with the reason printed, where the CPU lacks them). */
int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_finite_differences),
        cmocka_unit_test(test_checker_can_fail),
        cmocka_unit_test(test_head_sizes),
        cmocka_unit_test(test_fused_qkv),
        cmocka_unit_test(test_large_scores),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_tiny_lengths),
        cmocka_unit_test(test_no_keys),
        cmocka_unit_test(test_bwd_accumulates),
    };
    const struct CMUnitTest cross[] = {cmocka_unit_test(test_builds_agree)};
    const char *builds[] = {"generic", "avx2", "avx512"};
    int failed = 0;
    for (int i = 0; i < 3; i++) {
        if (attn_set_isa_cpu(builds[i]) != 0) {
            printf("attention build %s: skipped, this CPU or build lacks it\n", builds[i]);
            continue;
        }
        printf("attention build %s\n", builds[i]);
        failed += cmocka_run_group_tests_name(builds[i], tests, NULL, NULL);
    }
    return failed + cmocka_run_group_tests_name("builds", cross, NULL, NULL);
}
