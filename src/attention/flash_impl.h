/* Flash attention on the CPU, the kernels: exact softmax attention in O(S*d) memory (Dao et al.,
 * "FlashAttention", 2022: tiled online softmax, the S x S matrix never formed). This file is
 * compiled once per instruction set (flash_generic.c, flash_avx2.c, flash_avx512.c, each
 * defining LANES, the floats per vector register (4, 8 or 16), and FL_FWD / FL_BWD, the entry
 * points); flash_cpu.c picks one at run time from the CPU's flags.
 *
 * Forward, one task per (b, h, group of up to FG blocks of FQ queries), tasks spread over
 *   threads: each query block is kept transposed and pre-scaled, Qt[c][r] = q[r][c] *
 *   scale*log2(e), and key tiles of FK keys, each packed once for the whole group, stream
 *   past the group's blocks:
 *     St[j][r] = sum_c K[j][c] Qt[c][r]              (keys are rows, queries are columns)
 *     m[r] = max(m[r], max_j St[j][r]);  P = 2^(St - m);  l = alpha*l + sum_j P
 *     Ot[c][r] = alpha[r] Ot[c][r] + sum_j V[j][c] P[j][r]
 *   Keeping queries in the vector lanes makes the running max and sum element-wise across
 *   rows (no horizontal reductions); K and V are read as broadcasts from their packed rows,
 *   so nothing is transposed per key tile and any d works without padded flops. Working in
 *   base 2 (scale*log2 e folded into Qt) saves a multiply per exp.
 *
 * Backward, one task per (b, h) when there are enough heads, else the key tiles of one head
 *   are split into chunks over threads (B*NH small at long S). A task owns key tiles, taken
 *   in groups of up to BG: it transposes K and V once per key tile and streams every query
 *   tile (its q and dout rows packed once per group) past the group's tiles:
 *     S = Q Kt, dP = dO Vt (queries rows, keys columns), P = 2^(S*scale*log2e - lse*log2e),
 *     dS = P (dP - Delta), dVt += dO^T P, dKt += Q^T dS (accumulated over all query tiles,
 *     written out once), dQ_part += dS K into a per-thread [Sq,dp] partial.
 *   Head mode adds the partial into dq when the head is done; split mode reduces the
 *   chunks' partials in chunk order after a barrier. Either way every sum has a fixed
 *   order for a given thread count, so runs are bitwise reproducible; the group sizes change
 *   only which work shares a packed tile, not the order of any sum (the bits are those of
 *   one query block or key tile at a time).
 *
 * Tile products (flash_vec.h) are register blocks of NR rows x NC vectors held in separately
 * named vector variables: that is the form compilers keep in registers (an accumulator array
 * ends up in memory). The block shapes fill the register file without spilling: 16 accumulators of
 * 32 zmm with AVX-512, 12 of 16 ymm with AVX2 (or xmm in the portable build).
 */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "attention/attention.h"
#include "attention/flash_layout.h"

#if !defined(LANES) || !defined(FL_FWD) || !defined(FL_BWD)
#error "define LANES, FL_FWD and FL_BWD before including flash_impl.h"
#endif

#define LOG2E 1.4426950408889634
#define LN2 0.6931471805599453

#include "attention/flash_vec.h"

/* Whether the tiles of one head are better read in place than packed: when its n rows of
   the two streamed operands (k and v forward, q and dout backward) fit in about 3/4 of the
   L2, packing them (shared by a group) only adds work (S = 1k, d = 64: 3-5% slower). */
static int flash_direct(int64_t n, int d) { return n * 2 * d * (int64_t)sizeof(float) <= 768 * 1024; }

static float *ws_align(float *ws) {
    return (float *)(((uintptr_t)ws + 63) & ~(uintptr_t)63);
}

/* ---- forward ---- */

/* Per query block of a group: Qt [dp][FQ] scaled queries, transposed (columns >= nq zero),
   Ot [dp][FQ] unnormalized output, transposed, m [FQ] running max (log2 units), l [FQ]
   running sum of 2^(s - m). */
#define FWD_BLOCK(dp) (2 * (dp) * FQ + 2 * FQ)

/* One key tile (kp, vp: [nk] rows, strides kps, vps) against one query block's state. */
static void fwd_tile(float *restrict qt, float *restrict St, float *restrict alpha,
                     const float *restrict kp, int64_t kps, const float *restrict vp,
                     int64_t vps, int nk, int d, int64_t dp) {
    float *Qt = qt, *Ot = qt + dp * FQ, *m = Ot + dp * FQ, *l = m + FQ;
    mm64(St, FQ, nk, kp, kps, 1, Qt, FQ, d, MODE_ZERO, NULL);

    /* Online softmax, SM_N*LANES queries at a time: SM_N vector-wide column groups go
       through each loop together so that their dependency chains (max, sum) overlap. */
    for (int g = 0; g < FQ; g += SM_N * LANES) {
        float *mg = m + g, *lg = l + g, *ag = alpha + g;
#define SM_MO(i) const vf mo##i = vload(mg + (i) * LANES); vf m##i = mo##i;
        SM_V(SM_MO)
        for (int j = 0; j < nk; j++) {
            const float *sj = St + g + j * FQ;
#define SM_MAX(i) m##i = vmax(vload(sj + (i) * LANES), m##i);
            SM_V(SM_MAX)
        }
        /* alpha = 0 on the first tile: m = -inf */
#define SM_ALPHA(i) const vf a##i = vexp2(mo##i - m##i); vstore(ag + (i) * LANES, a##i); \
                    vf l##i = vload(lg + (i) * LANES) * a##i;
        SM_V(SM_ALPHA)
        for (int j = 0; j < nk; j++) {
            float *sj = St + g + j * FQ;
#define SM_EXP(i) const vf p##i = vexp2(vload(sj + (i) * LANES) - m##i); \
                  vstore(sj + (i) * LANES, p##i); l##i += p##i;
            SM_V(SM_EXP)
        }
#define SM_STORE(i) vstore(mg + (i) * LANES, m##i); vstore(lg + (i) * LANES, l##i);
        SM_V(SM_STORE)
    }
    /* Ot[c][r] = alpha[r] Ot[c][r] + sum_j V[j][c] P[j][r] */
    mm64(Ot, FQ, d, vp, 1, vps, St, FQ, nk, MODE_COLSCALE, alpha);
}

/* ng blocks of FQ queries from i0 (the last may be short) of head (b, h) against all Sk
   keys. Each key tile is packed once for the group: the products then read rows next to
   each other instead of rows that are far apart in q, k, v ([B,S,3,NH,d]: 3 KiB at
   NH*d = 256, about a page per row, which at long S misses every cache and the TLB).
   direct: read the tiles in place instead (one head's keys and values fit in the L2). */
static void fwd_group(float *o, float *lse, const float *q, const float *k, const float *v,
                      const AttnDims *dm, int b, int h, int64_t i0, int ng, int direct,
                      float *tb, int64_t dp) {
    const int d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk;
    const int64_t qs = dm->q_stride, ks = dm->k_stride, vs = dm->v_stride, os = dm->o_stride;
    float *St = tb;              /* [FK][FQ] scores, then probabilities, of one key tile */
    float *alpha = St + FK * FQ; /* [FQ] rescale of the old state for this tile */
    float *Kp = alpha + FQ;      /* [FK][dp] the key tile, rows packed */
    float *Vp = Kp + FK * dp;    /* [FK][dp] the value tile, rows packed */
    float *blk = Vp + FK * dp;   /* ng x FWD_BLOCK(dp): the blocks' states */

    const float cs = (float)(dm->scale * LOG2E);
    for (int g = 0; g < ng; g++) {
        float *Qt = blk + g * FWD_BLOCK(dp), *Ot = Qt + dp * FQ, *m = Ot + dp * FQ;
        float *l = m + FQ;
        const int64_t r0 = i0 + (int64_t)g * FQ;
        const int nq = (int)min64(FQ, Sq - r0);
        const float *qb = q + ((int64_t)b * Sq + r0) * qs + (int64_t)h * d; /* [nq] rows */
        /* q's rows first, with vector copies into Ot's space (q is cold here: independent
           row loads overlap their misses), then the transpose from L1 */
        float *Qs = Ot; /* [FQ][dp] */
        for (int r = 0; r < nq; r++) copy_row(Qs + (int64_t)r * dp, qb + (int64_t)r * qs, d);
        memset(Qt, 0, sizeof(float) * (size_t)(d * FQ));
        for (int r = 0; r < nq; r++)
            for (int c = 0; c < d; c++) Qt[c * FQ + r] = Qs[r * dp + c] * cs;
        memset(Ot, 0, sizeof(float) * (size_t)(d * FQ));
        for (int r = 0; r < FQ; r++) { m[r] = -INFINITY; l[r] = 0.0f; }
    }

    for (int64_t j0 = 0; j0 < Sk; j0 += FK) {
        const int nk = (int)min64(FK, Sk - j0);
        const float *kb = k + ((int64_t)b * Sk + j0) * ks + (int64_t)h * d; /* [nk] rows */
        const float *vb = v + ((int64_t)b * Sk + j0) * vs + (int64_t)h * d; /* [nk] rows */
        if (direct) {
            for (int g = 0; g < ng; g++)
                fwd_tile(blk + g * FWD_BLOCK(dp), St, alpha, kb, ks, vb, vs, nk, d, dp);
            continue;
        }
        for (int j = 0; j < nk; j++) {
            memcpy(Kp + (int64_t)j * dp, kb + (int64_t)j * ks, sizeof(float) * (size_t)d);
            memcpy(Vp + (int64_t)j * dp, vb + (int64_t)j * vs, sizeof(float) * (size_t)d);
        }
        for (int g = 0; g < ng; g++)
            fwd_tile(blk + g * FWD_BLOCK(dp), St, alpha, Kp, dp, Vp, dp, nk, d, dp);
    }

    for (int g = 0; g < ng; g++) {
        float *Os = blk + g * FWD_BLOCK(dp); /* [FQ][dp] in Qt's space: Ot as rows */
        const float *Ot = Os + dp * FQ, *m = Ot + dp * FQ, *l = m + FQ;
        const int64_t r0 = i0 + (int64_t)g * FQ;
        const int nq = (int)min64(FQ, Sq - r0);
        float *ob = o + ((int64_t)b * Sq + r0) * os + (int64_t)h * d; /* [nq] rows, stride os */
        float *lb = lse + ((int64_t)b * dm->NH + h) * Sq + r0;        /* [nq] */
        for (int c = 0; c < d; c++)
            for (int r = 0; r < nq; r++) Os[r * dp + c] = Ot[c * FQ + r];
        for (int r = 0; r < nq; r++) {
            const float inv = 1.0f / l[r];
            const vf vinv = vsplat(inv);
            float *orow = ob + (int64_t)r * os;
            const float *srow = Os + (int64_t)r * dp;
            int c = 0;
            for (; c + LANES <= d; c += LANES) vstore(orow + c, vload(srow + c) * vinv);
            for (; c < d; c++) orow[c] = srow[c] * inv;
            lb[r] = (float)((double)m[r] * LN2 + log((double)l[r]));
        }
    }
}

void FL_FWD(float *o, float *lse, const float *q, const float *k, const float *v,
                  const AttnDims *dm, float *ws) {
    const int B = dm->B, NH = dm->NH, d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk;
    if (B <= 0 || NH <= 0 || d <= 0 || Sq <= 0) return;
    if (Sk <= 0) { /* no keys: the empty partial of attn_merge_cpu */
        for (int64_t t = 0; t < (int64_t)B * Sq; t++)
            for (int h = 0; h < NH; h++)
                memset(o + t * dm->o_stride + (int64_t)h * d, 0, sizeof(float) * (size_t)d);
        for (int64_t i = 0; i < (int64_t)B * NH * Sq; i++) lse[i] = -INFINITY;
        return;
    }
    const FlashWs L = flash_ws(dm);
    const int T = omp_get_max_threads(); /* the caller sized ws for this many threads */
    float *base = ws_align(ws);
    const int64_t nqt = (Sq + FQ - 1) / FQ;
    /* query blocks per task: as many as the workspace holds while every thread still gets
       several tasks (the packing of a key tile is shared by the group) */
    const int direct = flash_direct(Sk, d);
    int64_t G = direct ? 1 : L.fg;
    while (G > 1 && (int64_t)B * NH * ((nqt + G - 1) / G) < 4 * (int64_t)T) G /= 2;
    const int64_t ngr = (nqt + G - 1) / G;
    const int64_t ntask = (int64_t)B * NH * ngr;
#pragma omp parallel num_threads(T) if (ntask > 1)
    {
        float *tb = base + (int64_t)omp_get_thread_num() * L.per_thread;
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < ntask; t++) {
            const int64_t bh = t / ngr, q0 = (t % ngr) * G;
            fwd_group(o, lse, q, k, v, dm, (int)(bh / NH), (int)(bh % NH), q0 * FQ,
                      (int)min64(G, nqt - q0), direct, tb, L.dp);
        }
    }
}

/* ---- backward ---- */

/* lse2 = lse*log2(e) and delta = rowsum(dO * O) for every query of head (b, h). */
static void bwd_row_stats(float *lse2, float *delta, const float *dout, const float *o,
                          const float *lse, const AttnDims *dm, int b, int h) {
    const int d = dm->d;
    const int64_t Sq = dm->Sq, os = dm->o_stride;
    const float *lb = lse + ((int64_t)b * dm->NH + h) * Sq;          /* [Sq] */
    const float *ob = o + (int64_t)b * Sq * os + (int64_t)h * d;     /* [Sq] rows, stride os */
    const float *gb = dout + (int64_t)b * Sq * os + (int64_t)h * d;  /* [Sq] rows, stride os */
    /* a row no key reaches (lse = -inf) gets P = 2^-inf = 0 */
    for (int64_t i = 0; i < Sq; i++)
        lse2[i] = lb[i] == -INFINITY ? INFINITY : (float)(lb[i] * LOG2E);
    /* four rows' sums side by side (each still in channel order, and every product is exact
       in double): one row's chain of dependent adds left the core mostly idle */
    int64_t i = 0;
    for (; i + 4 <= Sq; i += 4) {
        const float *g0 = gb + i * os, *o0 = ob + i * os;
        double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
        for (int c = 0; c < d; c++) {
            a0 += (double)g0[c] * o0[c];
            a1 += (double)g0[os + c] * o0[os + c];
            a2 += (double)g0[2 * os + c] * o0[2 * os + c];
            a3 += (double)g0[3 * os + c] * o0[3 * os + c];
        }
        delta[i] = (float)a0, delta[i + 1] = (float)a1;
        delta[i + 2] = (float)a2, delta[i + 3] = (float)a3;
    }
    for (; i < Sq; i++) {
        double acc = 0.0;
        for (int c = 0; c < d; c++) acc += (double)gb[i * os + c] * ob[i * os + c];
        delta[i] = (float)acc;
    }
}

/* Per key tile of a group: Kt, Vt [dp][BK] keys and values transposed (columns >= nk zero),
   dKt [dp][BK] the tile's dK (unscaled), transposed, dVt [dp][BK] its dV, transposed,
   Ks [BK][dp] the keys row-major (channels >= d zero). */
#define BWD_TILE(dp) (5 * (dp) * BK)

/* One query tile (qp, gp: [nq] rows of q and dout, strides qps, gps; lse2, delta: its [nq])
   against one key tile's state kt; dqp [nq][dp] += dS K. */
static void bwd_tile(float *restrict kt, float *restrict dqp, float *restrict P,
                     float *restrict dS, const float *restrict qp, int64_t qps,
                     const float *restrict gp, int64_t gps, const float *restrict lse2,
                     const float *restrict delta, int nq, int nk, int d, int64_t dp, float cs) {
    float *Kt = kt, *Vt = Kt + dp * BK, *dKt = Vt + dp * BK, *dVt = dKt + dp * BK;
    float *Ks = dVt + dp * BK;
    mm64(P, BK, nq, qp, qps, 1, Kt, BK, d, MODE_ZERO, NULL);  /* S = Q K^T */
    mm64(dS, BK, nq, gp, gps, 1, Vt, BK, d, MODE_ZERO, NULL); /* dP = dO V^T */
    for (int r = 0; r < nq; r++) {
        const float nl = -lse2[r], de = delta[r];
        float *restrict pr = P + r * BK;  /* [BK] */
        float *restrict dr = dS + r * BK; /* [BK] */
        for (int j = 0; j < BK; j += LANES) {
            const vf p = vexp2(vload(pr + j) * cs + nl);
            vstore(pr + j, p);
            vstore(dr + j, p * (vload(dr + j) - de));
        }
    }
    mm64(dVt, BK, d, gp, 1, gps, P, BK, nq, MODE_ACC, NULL);  /* dV^T += dO^T P */
    mm64(dKt, BK, d, qp, 1, qps, dS, BK, nq, MODE_ACC, NULL); /* dK^T += Q^T dS */
    mm_acc_dp(dqp, dp, nq, dS, BK, 1, Ks, dp, nk, (int)dp);  /* dQ += dS K */
}

/* ng key tiles from j0 (the last may be short) of head (b, h) against all queries: dk, dv +=
   these tiles' gradient; dqp [Sq16][dp] += dS K (unscaled). Each query tile is packed once
   for the group (contiguous rows instead of q's and dout's far-apart ones; see fwd_group).
   Every sum keeps the order of one key tile at a time: dK, dV over query tiles in order,
   each row of dQ over key tiles in order. */
static void bwd_key_group(float *dk, float *dv, float *dqp, const float *dout, const float *q,
                          const float *k, const float *v, const float *lse2,
                          const float *delta, const AttnDims *dm, int b, int h, int64_t j0,
                          int ng, int direct, float *tb, int64_t dp) {
    const int d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk;
    const int64_t qs = dm->q_stride, ks = dm->k_stride, vs = dm->v_stride, os = dm->o_stride;
    float *P = tb;              /* [BQ][BK] scores, then probabilities */
    float *dS = P + BQ * BK;    /* [BQ][BK] dP, then dS */
    float *Qp = dS + BQ * BK;   /* [BQ][dp] the query tile, rows packed */
    float *Gp = Qp + BQ * dp;   /* [BQ][dp] the dout tile, rows packed */
    float *kts = Gp + BQ * dp;  /* ng x BWD_TILE(dp): the key tiles' states */

    const float cs = (float)(dm->scale * LOG2E);
    memset(kts, 0, sizeof(float) * (size_t)(ng * BWD_TILE(dp)));
    for (int g = 0; g < ng; g++) {
        float *Kt = kts + g * BWD_TILE(dp), *Vt = Kt + dp * BK, *Ks = Vt + 3 * dp * BK;
        const int64_t t0 = j0 + (int64_t)g * BK;
        const int nk = (int)min64(BK, Sk - t0);
        const float *kb = k + ((int64_t)b * Sk + t0) * ks + (int64_t)h * d; /* [nk] rows */
        const float *vb = v + ((int64_t)b * Sk + t0) * vs + (int64_t)h * d; /* [nk] rows */
        /* Rows first, with vector copies (k and v are cold here, and independent row loads
           overlap their misses), then the transposes from L1; dVt holds V's rows meanwhile. */
        float *Vs = Ks - dp * BK; /* dVt's space, [BK][dp] */
        for (int j = 0; j < nk; j++) {
            copy_row(Ks + (int64_t)j * dp, kb + (int64_t)j * ks, d);
            copy_row(Vs + (int64_t)j * dp, vb + (int64_t)j * vs, d);
        }
        for (int j = 0; j < nk; j++)
            for (int c = 0; c < d; c++) {
                Kt[c * BK + j] = Ks[j * dp + c];
                Vt[c * BK + j] = Vs[j * dp + c];
            }
        memset(Vs, 0, sizeof(float) * (size_t)(dp * BK));
    }

    /* Columns j >= nk of P, dS, dKt and dVt hold finite junk that never reaches an output:
       each column only feeds itself, and dQ sums over j < nk. */
    for (int64_t i0 = 0; i0 < Sq; i0 += BQ) {
        const int nq = (int)min64(BQ, Sq - i0);
        const float *qb = q + ((int64_t)b * Sq + i0) * qs + (int64_t)h * d;    /* [nq] rows */
        const float *gb = dout + ((int64_t)b * Sq + i0) * os + (int64_t)h * d; /* [nq] rows */
        const float *qp = qb, *gp = gb;
        int64_t qps = qs, gps = os;
        if (!direct) {
            for (int r = 0; r < nq; r++) {
                memcpy(Qp + (int64_t)r * dp, qb + (int64_t)r * qs, sizeof(float) * (size_t)d);
                memcpy(Gp + (int64_t)r * dp, gb + (int64_t)r * os, sizeof(float) * (size_t)d);
            }
            qp = Qp, gp = Gp, qps = gps = dp;
        }
        for (int g = 0; g < ng; g++)
            bwd_tile(kts + g * BWD_TILE(dp), dqp + i0 * dp, P, dS, qp, qps, gp, gps, lse2 + i0,
                     delta + i0, nq, (int)min64(BK, Sk - j0 - (int64_t)g * BK), d, dp, cs);
    }

    const float scale = dm->scale;
    for (int g = 0; g < ng; g++) {
        const float *dKt = kts + g * BWD_TILE(dp) + 2 * dp * BK, *dVt = dKt + dp * BK;
        const int64_t t0 = j0 + (int64_t)g * BK;
        const int nk = (int)min64(BK, Sk - t0);
        float *dkb = dk + ((int64_t)b * Sk + t0) * ks + (int64_t)h * d; /* [nk] rows */
        float *dvb = dv + ((int64_t)b * Sk + t0) * vs + (int64_t)h * d; /* [nk] rows */
        /* transposed back into rows in L1 (Kt's and Ks's space), then added to the cold
           rows of dk and dv with vector operations */
        float *dVs = kts + g * BWD_TILE(dp), *dKs = dVs + 4 * dp * BK; /* [BK][dp] each */
        for (int c = 0; c < d; c++)
            for (int j = 0; j < nk; j++) {
                dKs[j * dp + c] = dKt[c * BK + j];
                dVs[j * dp + c] = dVt[c * BK + j];
            }
        const vf vs_ = vsplat(scale);
        for (int j = 0; j < nk; j++) {
            float *kr = dkb + (int64_t)j * ks, *vr = dvb + (int64_t)j * vs;
            const float *ksr = dKs + (int64_t)j * dp, *vsr = dVs + (int64_t)j * dp;
            int c = 0;
            for (; c + LANES <= d; c += LANES) {
                vstore(kr + c, vload(kr + c) + vs_ * vload(ksr + c));
                vstore(vr + c, vload(vr + c) + vload(vsr + c));
            }
            for (; c < d; c++) {
                kr[c] += scale * ksr[c];
                vr[c] += vsr[c];
            }
        }
    }
}

/* Fraction of thread time doing work when n equal tasks go to T threads. */
static double balance(int64_t n, int T) {
    const int64_t rounds = (n + T - 1) / T;
    return (double)n / ((double)rounds * T);
}

void FL_BWD(float *dq, float *dk, float *dv, const float *dout, const float *q,
                  const float *k, const float *v, const float *o, const float *lse,
                  const AttnDims *dm, float *ws) {
    const int B = dm->B, NH = dm->NH, d = dm->d;
    const int64_t Sq = dm->Sq, Sk = dm->Sk, qs = dm->q_stride;
    if (B <= 0 || NH <= 0 || d <= 0 || Sq <= 0 || Sk <= 0) return;
    const FlashWs L = flash_ws(dm);
    const int T = omp_get_max_threads(); /* the caller sized ws for this many threads */
    float *base = ws_align(ws);
    float *slots = base + (int64_t)T * L.per_thread; /* T x [Sq16][dp] dQ partials */
    const int64_t nbh = (int64_t)B * NH, nkt = (Sk + BK - 1) / BK;
    const float scale = dm->scale;
    const int direct = flash_direct(Sq, d);
    const int64_t bg = direct ? 1 : L.bg;

    /* Whole heads per thread unless splitting one head's key tiles over the threads
       balances clearly better (few heads, long sequences: B=1, NH=2 on 16 threads). */
    const int split = T > 1 && balance(nkt, T) > balance(nbh, T) + 0.05;
    if (!split) {
#pragma omp parallel num_threads(T) if (nbh > 1)
        {
            const int tid = omp_get_thread_num();
            float *tb = base + (int64_t)tid * L.per_thread;
            float *lse2 = tb + L.per_thread - 2 * L.sq16; /* [Sq16] */
            float *delta = lse2 + L.sq16;                 /* [Sq16] */
            float *dqp = slots + (int64_t)tid * L.slot;   /* [Sq16][dp] */
#pragma omp for schedule(dynamic, 1)
            for (int64_t bh = 0; bh < nbh; bh++) {
                const int b = (int)(bh / NH), h = (int)(bh % NH);
                bwd_row_stats(lse2, delta, dout, o, lse, dm, b, h);
                memset(dqp, 0, sizeof(float) * (size_t)(Sq * L.dp));
                for (int64_t kt = 0; kt < nkt; kt += bg)
                    bwd_key_group(dk, dv, dqp, dout, q, k, v, lse2, delta, dm, b, h, kt * BK,
                                  (int)min64(bg, nkt - kt), direct, tb, L.dp);
                float *dqb = dq + (int64_t)b * Sq * qs + (int64_t)h * d; /* [Sq] rows, stride qs */
                for (int64_t i = 0; i < Sq; i++)
                    for (int c = 0; c < d; c++) dqb[i * qs + c] += scale * dqp[i * L.dp + c];
            }
        }
        return;
    }

    /* Split mode: head by head, chunk c of the key tiles goes to partial c. */
    const int64_t C = nkt < T ? nkt : T;
#pragma omp parallel num_threads(T)
    {
        const int tid = omp_get_thread_num();
        float *tb = base + (int64_t)tid * L.per_thread;
        float *lse2 = tb + L.per_thread - 2 * L.sq16; /* [Sq16] */
        float *delta = lse2 + L.sq16;                 /* [Sq16] */
        for (int64_t bh = 0; bh < nbh; bh++) {
            const int b = (int)(bh / NH), h = (int)(bh % NH);
#pragma omp for schedule(static, 1)
            for (int64_t c = 0; c < C; c++) {
                float *dqp = slots + c * L.slot; /* [Sq16][dp] */
                bwd_row_stats(lse2, delta, dout, o, lse, dm, b, h);
                memset(dqp, 0, sizeof(float) * (size_t)(Sq * L.dp));
                const int64_t k1 = nkt * (c + 1) / C;
                for (int64_t kt = nkt * c / C; kt < k1; kt += bg)
                    bwd_key_group(dk, dv, dqp, dout, q, k, v, lse2, delta, dm, b, h, kt * BK,
                                  (int)min64(bg, k1 - kt), direct, tb, L.dp);
            }
            float *dqb = dq + (int64_t)b * Sq * qs + (int64_t)h * d; /* [Sq] rows, stride qs */
            float *row = tb;                                          /* [dp] */
#pragma omp for schedule(static)
            for (int64_t i = 0; i < Sq; i++) {
                const float *part = slots + i * L.dp; /* row i of partial 0 */
                for (int c = 0; c < L.dp; c++) row[c] = part[c];
                for (int64_t p = 1; p < C; p++)
                    for (int c = 0; c < L.dp; c++) row[c] += part[p * L.slot + c];
                for (int c = 0; c < d; c++) dqb[i * qs + c] += scale * row[c];
            }
        }
    }
}

