/* The harness of the CPU flash-attention tests: see util_attn.h. */
#include "util_attn.h"

#include <math.h>
#include <omp.h>
#include <string.h>

/* ---------------- naive oracle (double) ---------------- */

void tu_attn_naive_fwd(double *o, double *lse, const double *q, const double *k,
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

void tu_attn_naive_bwd(double *dq, double *dk, double *dv, const double *dout,
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

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
}

void tu_attn_fill(float *x, size_t n, float amp, unsigned *s) {
    for (size_t i = 0; i < n; i++) x[i] = amp * frand(s);
}

float *tu_attn_falloc(size_t n) {
    float *p = malloc(sizeof(float) * (n > 0 ? n : 1));
    assert_non_null(p);
    return p;
}

double *tu_attn_widen(const float *x, size_t n) {
    double *y = malloc(sizeof(double) * (n > 0 ? n : 1));
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) y[i] = x[i];
    return y;
}

void tu_attn_prob_init(TuAttnProb *p, const TuAttnCfg *c, unsigned seed) {
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
    p->qbuf = tu_attn_falloc(p->nq);
    p->gqbuf = tu_attn_falloc(p->nq);
    p->kvbuf = c->fused ? p->qbuf : tu_attn_falloc(p->nkv);
    p->gkvbuf = c->fused ? p->gqbuf : tu_attn_falloc(p->nkv);
    p->o = tu_attn_falloc(p->no);
    p->dout = tu_attn_falloc(p->no);
    p->lse = tu_attn_falloc((size_t)(c->B * c->NH * c->Sq));
    tu_attn_fill(p->qbuf, p->nq, c->amp, &seed);
    if (!c->fused) tu_attn_fill(p->kvbuf, p->nkv, c->amp, &seed);
    tu_attn_fill(p->dout, p->no, 1.0f, &seed);
    p->q = p->qbuf;
    p->k = c->fused ? p->qbuf + D : p->kvbuf;
    p->v = c->fused ? p->qbuf + 2 * D : p->kvbuf + D;
    p->dq = p->gqbuf;
    p->dk = c->fused ? p->gqbuf + D : p->gkvbuf;
    p->dv = c->fused ? p->gqbuf + 2 * D : p->gkvbuf + D;
}

void tu_attn_prob_free(TuAttnProb *p) {
    if (p->kvbuf != p->qbuf) free(p->kvbuf);
    if (p->gkvbuf != p->gqbuf) free(p->gkvbuf);
    free(p->qbuf);
    free(p->gqbuf);
    free(p->o);
    free(p->dout);
    free(p->lse);
}

float *tu_attn_ws_alloc(const AttnDims *dm) {
    const size_t n = attn_workspace_floats_cpu(dm, omp_get_max_threads());
    float *ws = tu_attn_falloc(n);
    for (size_t i = 0; i < n; i++) ws[i] = NAN;
    return ws;
}

void tu_attn_run_fwd(TuAttnProb *p) {
    float *ws = tu_attn_ws_alloc(&p->dm);
    attn_fwd_cpu(p->o, p->lse, p->q, p->k, p->v, &p->dm, ws);
    free(ws);
}

void tu_attn_run_bwd(TuAttnProb *p) {
    float *ws = tu_attn_ws_alloc(&p->dm);
    attn_bwd_cpu(p->dq, p->dk, p->dv, p->dout, p->q, p->k, p->v, p->o, p->lse, &p->dm, ws);
    free(ws);
}

/* ---------------- comparisons ---------------- */

double tu_attn_rel_err(const float *got, const float *got0, int64_t gs, const double *want,
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

double tu_attn_rel_err_lse(const float *got, const double *want, size_t n) {
    double maxw = REL_FLOOR, maxe = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double err = fabs(got[i] - want[i]);
        if (!(err <= maxe)) maxe = isnan(err) ? INFINITY : err;
        if (fabs(want[i]) > maxw) maxw = fabs(want[i]);
    }
    return maxe / maxw;
}

/* Same for two float tensors of one strided layout. */
double tu_attn_rel_err_ff(const float *got, const float *want, int64_t stride, int B, int64_t S,
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

int tu_attn_same_tokens(const float *a, const float *b, int64_t stride, int64_t n, int64_t width) {
    for (int64_t t = 0; t < n; t++)
        if (memcmp(a + t * stride, b + t * stride, sizeof(float) * (size_t)width)) return 0;
    return 1;
}

TuAttnRef tu_attn_ref(const TuAttnProb *p) {
    const AttnDims *dm = &p->dm;
    const size_t nqo = (size_t)(dm->B * dm->Sq * dm->NH * dm->d);
    const size_t nk = (size_t)(dm->B * dm->Sk * dm->NH * dm->d);
    TuAttnRef r;
    r.o = malloc(sizeof(double) * (nqo + 1));
    r.lse = malloc(sizeof(double) * (size_t)(dm->B * dm->NH * dm->Sq + 1));
    r.dq = malloc(sizeof(double) * (nqo + 1));
    r.dk = malloc(sizeof(double) * (nk + 1));
    r.dv = malloc(sizeof(double) * (nk + 1));
    double *qd = tu_attn_widen(p->qbuf, p->nq);
    double *kvd = p->kvbuf == p->qbuf ? qd : tu_attn_widen(p->kvbuf, p->nkv);
    double *gd = tu_attn_widen(p->dout, p->no);
    const double *k = kvd + (p->k - p->kvbuf), *v = kvd + (p->v - p->kvbuf);
    tu_attn_naive_fwd(r.o, r.lse, qd, k, v, dm);
    tu_attn_naive_bwd(r.dq, r.dk, r.dv, gd, qd, k, v, dm);
    if (kvd != qd) free(kvd);
    free(qd);
    free(gd);
    return r;
}

void tu_attn_ref_free(TuAttnRef *r) {
    free(r->o);
    free(r->lse);
    free(r->dq);
    free(r->dk);
    free(r->dv);
}
