/* Flash attention (CPU) over key chunks and threads, against the full computation and the
 * naive double-precision oracle of util_attn.c: forward over disjoint key chunks merged by lse
 * (ring attention's steps), the chunks' backward with the global o and lse, and 1 vs 2 threads
 * (up to rounding) and 2 vs 2 threads (bitwise).
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
#include "util_attn.h"

/* 1 vs 2 threads: only the grouping of dq's partial sums may differ */
#define TOL_THREADS 4e-6

/* A problem's keys [j0, j0+n) as a separate problem sharing its queries (ring attention
   holds each chunk of keys in its own [B,S_chunk,...] buffer). */
static void chunk_of(TuAttnProb *ch, const TuAttnProb *p, int64_t j0, int64_t n) {
    const TuAttnCfg c = {.B = p->dm.B, .NH = p->dm.NH, .d = p->dm.d, .Sq = p->dm.Sq, .Sk = n,
                         .fused = 0, .o_pad = p->dm.o_stride - (int64_t)p->dm.NH * p->dm.d,
                         .amp = 1.0f};
    tu_attn_prob_init(ch, &c, 1u);
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
    const TuAttnCfg c = {.B = 2, .NH = 3, .d = 32, .Sq = 45, .Sk = 101, .fused = 0, .o_pad = 1,
                         .amp = 2.0f};
    TuAttnProb p, c1, c2, e;
    tu_attn_prob_init(&p, &c, 21u);
    TuAttnRef r = tu_attn_ref(&p);
    tu_attn_run_fwd(&p);
    chunk_of(&c1, &p, 0, 40);
    chunk_of(&c2, &p, 40, 61);
    chunk_of(&e, &p, 0, 0);
    tu_attn_run_fwd(&c1);
    tu_attn_run_fwd(&c2);
    tu_attn_run_fwd(&e);
    attn_merge_cpu(c1.o, c1.lse, c2.o, c2.lse, &c1.dm);
    const size_t nl = (size_t)(c.B * c.NH * c.Sq);
    CHECK_ERR(tu_attn_rel_err_ff(c1.o, p.o, p.dm.o_stride, c.B, c.Sq, c.NH, c.d), TOL_FWD, "merged o", &c);
    CHECK_ERR(tu_attn_rel_err_lse(c1.lse, r.lse, nl), TOL_FWD, "merged lse", &c);
    CHECK_ERR(tu_attn_rel_err(c1.o, NULL, p.dm.o_stride, r.o, c.B, c.Sq, c.NH, c.d), TOL_FWD,
              "merged o vs oracle", &c);

    /* empty on the right leaves (o, lse) as they are; empty on the left takes the other */
    float *o_keep = tu_attn_falloc(c1.no), *l_keep = tu_attn_falloc(nl);
    memcpy(o_keep, c1.o, sizeof(float) * c1.no);
    memcpy(l_keep, c1.lse, sizeof(float) * nl);
    const int64_t os = c1.dm.o_stride, ntok = c.B * c.Sq, D = (int64_t)c.NH * c.d;
    attn_merge_cpu(c1.o, c1.lse, e.o, e.lse, &c1.dm);
    assert_true(tu_attn_same_tokens(c1.o, o_keep, os, ntok, D));
    assert_memory_equal(c1.lse, l_keep, sizeof(float) * nl);
    attn_merge_cpu(e.o, e.lse, c1.o, c1.lse, &e.dm);
    assert_true(tu_attn_same_tokens(e.o, o_keep, os, ntok, D));
    assert_memory_equal(e.lse, l_keep, sizeof(float) * nl);
    free(o_keep);
    free(l_keep);
    tu_attn_prob_free(&e);
    tu_attn_prob_free(&c1);
    tu_attn_prob_free(&c2);
    tu_attn_ref_free(&r);
    tu_attn_prob_free(&p);
}

/* Backward over each key chunk with the global o and lse gives that chunk's exact dk, dv
   and its share of dq: the shares sum to the full gradient. */
static void test_chunked_backward(void **state) {
    (void)state;
    const TuAttnCfg c = {.B = 2, .NH = 3, .d = 24, .Sq = 45, .Sk = 101, .fused = 0, .o_pad = 0,
                         .amp = 2.0f};
    TuAttnProb p, c1, c2;
    tu_attn_prob_init(&p, &c, 23u);
    TuAttnRef r = tu_attn_ref(&p);
    tu_attn_run_fwd(&p);
    memset(p.gqbuf, 0, sizeof(float) * p.nq);
    memset(p.gkvbuf, 0, sizeof(float) * p.nkv);
    tu_attn_run_bwd(&p);
    chunk_of(&c1, &p, 0, 64);
    chunk_of(&c2, &p, 64, 37);
    TuAttnProb *chunks[2] = {&c1, &c2};
    float *dq = tu_attn_falloc(p.nq); /* chunk shares of dq accumulate here */
    memset(dq, 0, sizeof(float) * p.nq);
    for (int i = 0; i < 2; i++) {
        TuAttnProb *ch = chunks[i];
        memcpy(ch->o, p.o, sizeof(float) * p.no); /* global o and lse */
        memcpy(ch->lse, p.lse, sizeof(float) * (size_t)(c.B * c.NH * c.Sq));
        memset(ch->gkvbuf, 0, sizeof(float) * ch->nkv);
        float *ws = tu_attn_ws_alloc(&ch->dm);
        attn_bwd_cpu(dq, ch->dk, ch->dv, ch->dout, ch->q, ch->k, ch->v, ch->o, ch->lse, &ch->dm,
                     ws);
        free(ws);
    }
    const int64_t D = (int64_t)c.NH * c.d;
    CHECK_ERR(tu_attn_rel_err_ff(dq, p.dq, D, c.B, c.Sq, c.NH, c.d), TOL_BWD, "chunked dq", &c);
    CHECK_ERR(tu_attn_rel_err(dq, NULL, D, r.dq, c.B, c.Sq, c.NH, c.d), TOL_BWD, "chunked dq vs oracle",
              &c);
    /* reassemble dk, dv of the full key range from the chunks */
    float *dkv = tu_attn_falloc(p.nkv);
    for (int b = 0; b < c.B; b++)
        for (int i = 0, j0 = 0; i < 2; j0 += (int)chunks[i]->dm.Sk, i++)
            for (int64_t j = 0; j < chunks[i]->dm.Sk; j++)
                memcpy(dkv + (b * c.Sk + j0 + j) * 2 * D,
                       chunks[i]->gkvbuf + (b * chunks[i]->dm.Sk + j) * 2 * D,
                       sizeof(float) * (size_t)(2 * D));
    CHECK_ERR(tu_attn_rel_err_ff(dkv, p.gkvbuf, 2 * D, c.B, c.Sk, 2 * c.NH, c.d), TOL_BWD,
              "chunked dk,dv", &c);
    CHECK_ERR(tu_attn_rel_err(dkv, NULL, 2 * D, r.dk, c.B, c.Sk, c.NH, c.d), TOL_BWD,
              "chunked dk vs oracle", &c);
    CHECK_ERR(tu_attn_rel_err(dkv + D, NULL, 2 * D, r.dv, c.B, c.Sk, c.NH, c.d), TOL_BWD,
              "chunked dv vs oracle", &c);
    free(dkv);
    free(dq);
    tu_attn_prob_free(&c1);
    tu_attn_prob_free(&c2);
    tu_attn_ref_free(&r);
    tu_attn_prob_free(&p);
}

/* Forward + backward from zero gradients with the current thread count. */
static void run_all(TuAttnProb *p) {
    tu_attn_run_fwd(p);
    memset(p->gqbuf, 0, sizeof(float) * p->nq);
    if (p->gkvbuf != p->gqbuf) memset(p->gkvbuf, 0, sizeof(float) * p->nkv);
    tu_attn_run_bwd(p);
}

/* 1 and 2 threads agree up to rounding; two runs with 2 threads agree bitwise. Covers
   both backward schedules: whole heads per thread (B*NH = 6) and one head's key tiles
   split over the threads (B*NH = 1). */
static void test_threads(void **state) {
    (void)state;
    const TuAttnCfg cs[] = {
        {.B = 2, .NH = 3, .d = 32, .Sq = 150, .Sk = 150, .fused = 1, .o_pad = 0, .amp = 2.0f},
        {.B = 1, .NH = 1, .d = 64, .Sq = 200, .Sk = 300, .fused = 0, .o_pad = 0, .amp = 2.0f},
    };
    const int saved = omp_get_max_threads();
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        const TuAttnCfg *c = &cs[i];
        TuAttnProb p1, p2, p2b;
        tu_attn_prob_init(&p1, c, 31u);
        tu_attn_prob_init(&p2, c, 31u);
        tu_attn_prob_init(&p2b, c, 31u);
        omp_set_num_threads(1);
        run_all(&p1);
        omp_set_num_threads(2);
        run_all(&p2);
        run_all(&p2b);
        omp_set_num_threads(saved);
        const AttnDims *dm = &p1.dm;
        const int B = c->B, NH = c->NH, d = c->d;
        const double tol = TOL_THREADS;
        CHECK_ERR(tu_attn_rel_err_ff(p2.o, p1.o, dm->o_stride, B, c->Sq, NH, d), tol, "o T1/T2", c);
        CHECK_ERR(tu_attn_rel_err_ff(p2.dq, p1.dq, dm->q_stride, B, c->Sq, NH, d), tol, "dq T1/T2", c);
        CHECK_ERR(tu_attn_rel_err_ff(p2.dk, p1.dk, dm->k_stride, B, c->Sk, NH, d), tol, "dk T1/T2", c);
        CHECK_ERR(tu_attn_rel_err_ff(p2.dv, p1.dv, dm->v_stride, B, c->Sk, NH, d), tol, "dv T1/T2", c);
        assert_true(tu_attn_same_tokens(p2.o, p2b.o, dm->o_stride, c->B * c->Sq, (int64_t)c->NH * c->d));
        assert_memory_equal(p2.lse, p2b.lse, sizeof(float) * (size_t)(c->B * c->NH * c->Sq));
        assert_memory_equal(p2.gqbuf, p2b.gqbuf, sizeof(float) * p2.nq);
        if (!c->fused) assert_memory_equal(p2.gkvbuf, p2b.gkvbuf, sizeof(float) * p2.nkv);
        tu_attn_prob_free(&p1);
        tu_attn_prob_free(&p2);
        tu_attn_prob_free(&p2b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunked_forward_merge),
        cmocka_unit_test(test_chunked_backward),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
