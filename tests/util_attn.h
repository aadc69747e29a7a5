/* The harness of the CPU flash-attention tests (tests/test_attention*.c): a naive O(S^2)-memory
 * oracle in double precision, problems (inputs, outputs and gradients in the layouts the model
 * uses), and the comparisons.
 *
 * The oracle lives only here and in those tests. test_attention.c checks it by finite
 * differences, so a wrong oracle cannot bless a wrong kernel. */
#ifndef LVIT_UTIL_ATTN_H
#define LVIT_UTIL_ATTN_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "attention/attention.h"

#define TOL_FWD 1e-5
#define TOL_BWD 2e-5
/* Relative errors are taken against max(max|want|, REL_FLOOR): a tensor that is exactly
   zero in the oracle (dq with one key) is compared at the scale of the problem's values. */
#define REL_FLOOR 1e-2

/* ---------------- naive oracle (double) ----------------
 * q, k, v, dout are double copies with the same strided layout as the float inputs;
 * outputs are compact: o, dq [B,Sq,NH,d], dk, dv [B,Sk,NH,d], lse [B,NH,Sq]. */
void tu_attn_naive_fwd(double *o, double *lse, const double *q, const double *k, const double *v,
                       const AttnDims *dm);
void tu_attn_naive_bwd(double *dq, double *dk, double *dv, const double *dout, const double *q,
                       const double *k, const double *v, const AttnDims *dm);

/* ---------------- problems ---------------- */

typedef struct TuAttnCfg {
    int B, NH, d;
    int64_t Sq, Sk;
    int fused;     /* 1: q, k, v inside one [B,S,3,NH,d] buffer (needs Sq == Sk) */
    int64_t o_pad; /* extra floats after each token of o and dout */
    float amp;     /* input amplitude: larger spreads the scores across tiles */
} TuAttnCfg;

/* Buffers of one problem: q lives in qbuf, k and v in kvbuf (the same buffer as qbuf
   when fused); gradients have the same layouts in gqbuf and gkvbuf. */
typedef struct TuAttnProb {
    AttnDims dm;
    size_t nq, nkv, no; /* floats in qbuf, kvbuf, o */
    float *qbuf, *kvbuf, *gqbuf, *gkvbuf, *o, *dout, *lse;
    const float *q, *k, *v;
    float *dq, *dk, *dv;
} TuAttnProb;

/* n values amp * uniform(-1, 1) from the LCG state *s (advanced). */
void tu_attn_fill(float *x, size_t n, float amp, unsigned *s);
/* malloc of max(n, 1) floats, not zeroed; fails the test when out of memory. */
float *tu_attn_falloc(size_t n);
/* A new double copy. */
double *tu_attn_widen(const float *x, size_t n);
/* Allocates the problem of c and fills its inputs and dout from seed (o, lse and the gradients
   are not initialised). */
void tu_attn_prob_init(TuAttnProb *p, const TuAttnCfg *c, unsigned seed);
void tu_attn_prob_free(TuAttnProb *p);
/* Fresh workspace for the current thread count, poisoned with NaN so that any scratch
   read before it is written shows up in the results. */
float *tu_attn_ws_alloc(const AttnDims *dm);
/* attn_fwd_cpu / attn_bwd_cpu (accumulating into dq, dk, dv) on the problem, each with a
   fresh workspace. */
void tu_attn_run_fwd(TuAttnProb *p);
void tu_attn_run_bwd(TuAttnProb *p);

/* ---------------- comparisons ---------------- */

/* max |got - want| / max(max |want|, REL_FLOOR) over a [B,S,NH,d] tensor; got is strided
   (token stride gs), want compact. got0 (same layout as got, may be NULL) is subtracted
   from got first: the gradient a += call added. NaN counts as an infinite error. */
double tu_attn_rel_err(const float *got, const float *got0, int64_t gs, const double *want, int B,
                       int64_t S, int NH, int d);
double tu_attn_rel_err_lse(const float *got, const double *want, size_t n);
/* Same for two float tensors of one strided layout. */
double tu_attn_rel_err_ff(const float *got, const float *want, int64_t stride, int B, int64_t S,
                          int NH, int d);

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
int tu_attn_same_tokens(const float *a, const float *b, int64_t stride, int64_t n, int64_t width);

/* Oracle results of a problem. */
typedef struct TuAttnRef {
    double *o, *lse, *dq, *dk, *dv;
} TuAttnRef;

TuAttnRef tu_attn_ref(const TuAttnProb *p);
void tu_attn_ref_free(TuAttnRef *r);

#endif
