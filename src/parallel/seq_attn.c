/* Sequence-parallel attention: Ulysses and LSS over the communicator interface.
 * The pack/unpack loops move whole rows (memcpy on the CPU backend; the GPU backend will
 * need them as kernels). */
#include "parallel/seq_attn.h"
#include <math.h>
#include <string.h>
#include "core/check.h"

const char *sp_mode_name(SpMode m) {
    return m == SP_USP ? "usp" : m == SP_RING ? "ring" : m == SP_LSS ? "lss" : "ulysses";
}

static void cp(float *dst, const float *src, int64_t n) { memcpy(dst, src, (size_t)n * sizeof(float)); }

static AttnDims dims(const SeqAttn *s, int B) {
    AttnDims dm = {0};
    const int64_t D = (int64_t)s->NH * s->d, S = s->S_loc * s->P;
    dm.B = B;
    dm.d = s->d;
    dm.scale = 1.0f / sqrtf((float)s->d);
    if (s->P == 1) {
        dm.NH = s->NH;
        dm.Sq = dm.Sk = s->S_loc;
        dm.q_stride = dm.k_stride = dm.v_stride = 3 * D;
        dm.o_stride = D;
    } else if (s->mode == SP_USP) { /* the ring part: NH/u heads of the group's u chunks */
        const int u = s->spu->size;
        const int64_t hd = D / u;
        dm.NH = s->NH / u;
        dm.Sq = dm.Sk = s->S_loc * u;
        dm.q_stride = 3 * hd;
        dm.k_stride = dm.v_stride = 2 * hd;
        dm.o_stride = hd;
    } else if (s->mode == SP_ULYSSES) {
        const int64_t hd = D / s->P;
        dm.NH = s->NH / s->P;
        dm.Sq = dm.Sk = S;
        dm.q_stride = dm.k_stride = dm.v_stride = 3 * hd;
        dm.o_stride = hd;
    } else {
        dm.NH = s->NH;
        dm.Sq = s->S_loc;
        dm.Sk = s->mode == SP_RING ? s->S_loc : S;
        dm.q_stride = 3 * D;
        dm.k_stride = dm.v_stride = 2 * D;
        dm.o_stride = D;
    }
    return dm;
}

void seq_attn_plan(SeqAttn *s, int Bmax, int NH, int d, int64_t S_loc, AttnDims *kernel_dims) {
    Comm *sp = s->sp, *spu = s->spu, *spr = s->spr;
    SpMode mode = s->mode;
    const int64_t L_valid = s->L_valid;
    const int nvar = s->nvar > 1 ? s->nvar : 1;
    memset(s, 0, sizeof *s);
    s->sp = sp;
    s->spu = spu;
    s->spr = spr;
    s->mode = mode;
    s->L_valid = L_valid;
    s->nvar = nvar;
    CHECK(S_loc % nvar == 0, "sequence parallel: %lld tokens in %d segments", (long long)S_loc, nvar);
    s->P = sp ? sp->size : 1;
    s->Bmax = Bmax;
    s->NH = NH;
    s->d = d;
    s->S_loc = S_loc;
    const int64_t D = (int64_t)NH * d, S = S_loc * s->P;
    if (s->P > 1 && mode == SP_ULYSSES) {
        CHECK(NH % s->P == 0, "ulysses: %d heads over %d ranks", NH, s->P);
        s->save_per_layer = (int64_t)Bmax * S_loc * D;    /* oh [B,S,NH/P,d] */
        s->scratch_floats = (int64_t)Bmax * S_loc * 3 * D; /* one fused q,k,v message */
    } else if (s->P > 1 && mode == SP_LSS) {
        s->save_per_layer = (int64_t)Bmax * S * 2 * D;     /* everybody's K,V */
        s->scratch_floats = (int64_t)Bmax * S * 2 * D;
    } else if (s->P > 1) {
        /* ring: buf1 = two K,V chunks and two dK,dV chunks; buf2 = a partial o and lse (usp: the
         * same for the group's head shard, and the ulysses messages) */
        CHECK(mode != SP_USP || (spu && spr && NH % spu->size == 0 && spu->size * spr->size == s->P),
              "usp: groups of %d over %d ranks, %d heads", spu ? spu->size : 0, s->P, NH);
        s->scratch_floats = (int64_t)Bmax * S_loc * 8 * D;
        if (mode == SP_USP) s->save_per_layer = (int64_t)Bmax * S_loc * D; /* oh of the group's heads */
    }
    *kernel_dims = dims(s, Bmax);
}

int64_t seq_attn_floats(const SeqAttn *s, int depth) { return depth * s->save_per_layer + 2 * s->scratch_floats; }

void seq_attn_carve(SeqAttn *s, float *mem, int depth) {
    if (s->P == 1) return;
    s->save = mem;
    s->buf1 = mem + depth * s->save_per_layer;
    s->buf2 = s->buf1 + s->scratch_floats;
}

/* ---- padded sequences: only the real keys ---- */

typedef struct KeyIt {
    int j, v; /* the next segment: chunk j, variable v */
} KeyIt;

/* The next run [*st, *st + *len) of real keys in the sequence made of chunks c0 .. c0+nch-1 one
 * after the other (adjacent segments joined); 0 when none is left. */
static int next_run(const SeqAttn *s, int c0, int nch, KeyIt *it, int64_t *st, int64_t *len) {
    const int64_t seg = s->S_loc / s->nvar;
    int found = 0;
    for (; it->j < nch; it->j++, it->v = 0) {
        int64_t n = s->L_valid - (int64_t)(c0 + it->j) * seg;
        n = n < 0 ? 0 : n > seg ? seg : n;
        for (; n > 0 && it->v < s->nvar; it->v++) {
            const int64_t a = (int64_t)it->j * s->S_loc + (int64_t)it->v * seg;
            if (found && a != *st + *len) return 1; /* this segment starts the next run */
            if (!found) *st = a, *len = 0, found = 1;
            *len += n;
        }
    }
    return found;
}

/* o, lse of the queries q against the real keys of k, v (dm->Sk rows per sample: chunks c0 ..
 * c0+nch-1), sample by sample and run by run; acc: merge into o, lse instead of writing them.
 * part: one sample's partial o [Sq rows of o_stride] and lse [NH, Sq]. Without padding the plain
 * kernel (acc = 0 only). */
static void fwd_keys(const SeqAttn *s, const Kernels *k, const AttnDims *dm, int c0, int nch, int acc, float *o,
                     float *lse, const float *q, const float *kk, const float *v, float *part, float *ws) {
    if (!s->L_valid) {
        k->attn_fwd(o, lse, q, kk, v, dm, ws);
        return;
    }
    AttnDims d1 = *dm;
    d1.B = 1;
    float *op = part, *lp = part + dm->Sq * dm->o_stride;
    for (int b = 0; b < dm->B; b++) {
        float *ob = o + b * dm->Sq * dm->o_stride, *lb = lse + (int64_t)b * dm->NH * dm->Sq;
        const float *qb = q + b * dm->Sq * dm->q_stride;
        KeyIt it = {0, 0};
        int64_t st = 0, n = 0;
        int first = !acc;
        while (next_run(s, c0, nch, &it, &st, &n)) {
            const float *kb = kk + (b * dm->Sk + st) * dm->k_stride, *vb = v + (b * dm->Sk + st) * dm->v_stride;
            d1.Sk = n;
            if (first) {
                k->attn_fwd(ob, lb, qb, kb, vb, &d1, ws);
                first = 0;
            } else {
                k->attn_fwd(op, lp, qb, kb, vb, &d1, ws);
                k->attn_merge(ob, lb, op, lp, &d1);
            }
        }
        if (first) { /* no real key here: the empty result (o = 0, lse = -inf) */
            d1.Sk = 0;
            k->attn_fwd(ob, lb, qb, kk, v, &d1, ws);
        }
    }
}

/* The backward of fwd_keys: dq += and the real keys' dk, dv += (o, lse: over all keys). */
static void bwd_keys(const SeqAttn *s, const Kernels *k, const AttnDims *dm, int c0, int nch, float *dq, float *dk,
                     float *dv, const float *dout, const float *q, const float *kk, const float *v, const float *o,
                     const float *lse, float *ws) {
    if (!s->L_valid) {
        k->attn_bwd(dq, dk, dv, dout, q, kk, v, o, lse, dm, ws);
        return;
    }
    AttnDims d1 = *dm;
    d1.B = 1;
    for (int b = 0; b < dm->B; b++) {
        const int64_t qo = b * dm->Sq * dm->q_stride, oo = b * dm->Sq * dm->o_stride;
        const float *lb = lse + (int64_t)b * dm->NH * dm->Sq;
        KeyIt it = {0, 0};
        int64_t st = 0, n = 0;
        while (next_run(s, c0, nch, &it, &st, &n)) {
            const int64_t ko = (b * dm->Sk + st) * dm->k_stride, vo = (b * dm->Sk + st) * dm->v_stride;
            d1.Sk = n;
            k->attn_bwd(dq + qo, dk + ko, dv + vo, dout + oo, q + qo, kk + ko, v + vo, o + oo, lb, &d1, ws);
        }
    }
}

/* ---- Ulysses ---- */

/* blocks[j] = heads group j of every row of x [rows, nt, NH*d] (nt = 3 for q,k,v; 1 for o) */
static void split_heads(float *blocks, const float *x, int64_t rows, int nt, int P, int64_t D) {
    const int64_t hd = D / P, blk = rows * nt * hd;
    for (int j = 0; j < P; j++)
        for (int64_t r = 0; r < rows * nt; r++) cp(blocks + j * blk + r * hd, x + r * D + j * hd, hd);
}
static void join_heads(float *x, const float *blocks, int64_t rows, int nt, int P, int64_t D) {
    const int64_t hd = D / P, blk = rows * nt * hd;
    for (int j = 0; j < P; j++)
        for (int64_t r = 0; r < rows * nt; r++) cp(x + r * D + j * hd, blocks + j * blk + r * hd, hd);
}
/* full [B,S,w] <-> chunks[i] [B,S_loc,w] (rank i's tokens) */
static void chunks_to_full(float *full, const float *chunks, int B, int64_t S_loc, int P, int64_t w) {
    const int64_t blk = (int64_t)B * S_loc * w, S = S_loc * P;
    for (int i = 0; i < P; i++)
        for (int b = 0; b < B; b++) cp(full + ((int64_t)b * S + i * S_loc) * w, chunks + i * blk + b * S_loc * w, S_loc * w);
}
static void full_to_chunks(float *chunks, const float *full, int B, int64_t S_loc, int P, int64_t w) {
    const int64_t blk = (int64_t)B * S_loc * w, S = S_loc * P;
    for (int i = 0; i < P; i++)
        for (int b = 0; b < B; b++) cp(chunks + i * blk + b * S_loc * w, full + ((int64_t)b * S + i * S_loc) * w, S_loc * w);
}

/* ---- ring ---- */

enum { TAG_KV = 1, TAG_DKV = 2 };

static void own_kv(float *kv, const float *qkv, int64_t rows, int64_t D) {
    for (int64_t r = 0; r < rows; r++) cp(kv + r * 2 * D, qkv + r * 3 * D + D, 2 * D);
}

/* Ring attention of q [rows = B*S_c tokens, 3, H] (H = dm->NH * d; k, v parts of the same
 * rows are this rank's chunk) against every chunk of the ring c. kvbuf holds 4 chunks of
 * [rows, 2, H], obuf rows*H + B*NH*S_c floats. Each ring member's chunk is cpm of s's chunks
 * (usp: the group's u). */
static void ring_fwd(const SeqAttn *s, Comm *c, int cpm, const Kernels *k, const AttnDims *dm, int64_t rows,
                     float *kvbuf, float *obuf, float *o, float *lse, const float *qkv, float *ws) {
    const int P = c->size, r = c->rank;
    const int64_t H = (int64_t)dm->NH * dm->d, n = rows * 2 * H;
    float *cur = kvbuf, *nxt = kvbuf + n, *op = obuf, *lp = obuf + rows * H;
    own_kv(cur, qkv, rows, H);
    for (int step = 0; step < P; step++) {
        CommReq req = {0};
        if (step < P - 1) c->ops->sendrecv_start(c, nxt, cur, n, (r + 1) % P, (r + P - 1) % P, TAG_KV, &req);
        const int src = (r + P - step) % P; /* whose chunk (cpm of the sequence's chunks) is here */
        if (step == 0 || s->L_valid) {
            fwd_keys(s, k, dm, src * cpm, cpm, step > 0, o, lse, qkv, cur, cur + H, obuf, ws);
        } else {
            k->attn_fwd(op, lp, qkv, cur, cur + H, dm, ws);
            k->attn_merge(o, lse, op, lp, dm);
        }
        if (step < P - 1) {
            c->ops->wait(c, &req);
            float *t = cur;
            cur = nxt, nxt = t;
        }
    }
}

/* dqkv [rows, 3, H]: the q part accumulates, the k, v part is overwritten with this chunk's
 * complete dK, dV. */
static void ring_bwd(const SeqAttn *s, Comm *c, int cpm, const Kernels *k, const AttnDims *dm, int64_t rows,
                     float *kvbuf, float *dqkv, const float *dout, const float *qkv, const float *o, const float *lse,
                     float *ws) {
    const int P = c->size, r = c->rank;
    const int64_t H = (int64_t)dm->NH * dm->d, n = rows * 2 * H;
    float *cur = kvbuf, *nxt = cur + n, *dcur = nxt + n, *dnxt = dcur + n;
    own_kv(cur, qkv, rows, H);
    k->zero(dcur, n);
    for (int step = 0; step < P; step++) {
        /* chunk (r - step) mod P is here: add this rank's queries' share of its dK, dV */
        CommReq kreq = {0}, dreq = {0};
        if (step < P - 1) c->ops->sendrecv_start(c, nxt, cur, n, (r + 1) % P, (r + P - 1) % P, TAG_KV, &kreq);
        bwd_keys(s, k, dm, (r + P - step) % P * cpm, cpm, dqkv, dcur, dcur + H, dout, qkv, cur, cur + H, o, lse, ws);
        c->ops->sendrecv_start(c, dnxt, dcur, n, (r + 1) % P, (r + P - 1) % P, TAG_DKV, &dreq);
        c->ops->wait(c, &kreq);
        c->ops->wait(c, &dreq);
        float *t = cur;
        cur = nxt, nxt = t;
        t = dcur;
        dcur = dnxt, dnxt = t;
    }
    /* after P passes the own chunk is back with everybody's contributions */
    for (int64_t i = 0; i < rows; i++) cp(dqkv + i * 3 * H + H, dcur + i * 2 * H, 2 * H);
}

void seq_attn_fwd(SeqAttn *s, const Kernels *k, int layer, int B, float *o, float *lse, float *qkv, float *ws) {
    AttnDims dm = dims(s, B);
    const int P = s->P;
    const int64_t D = (int64_t)s->NH * s->d, rows = (int64_t)B * s->S_loc;
    if (P == 1) {
        k->attn_fwd(o, lse, qkv, qkv + D, qkv + 2 * D, &dm, ws);
        return;
    }
    if (s->mode == SP_RING) {
        ring_fwd(s, s->sp, 1, k, &dm, rows, s->buf1, s->buf2, o, lse, qkv, ws);
        return;
    }
    if (s->mode == SP_USP) {
        Comm *cu = s->spu;
        const int u = cu->size;
        const int64_t hd = D / u;
        float *oh = s->save + layer * s->save_per_layer;
        split_heads(s->buf1, qkv, rows, 3, u, D);
        cu->ops->alltoall(cu, s->buf2, s->buf1, rows * 3 * hd);
        chunks_to_full(qkv, s->buf2, B, s->S_loc, u, 3 * hd); /* [B, u*S_loc, 3, NH/u, d] */
        ring_fwd(s, s->spr, u, k, &dm, rows * u, s->buf1, s->buf2, oh, lse, qkv, ws);
        full_to_chunks(s->buf1, oh, B, s->S_loc, u, hd);
        cu->ops->alltoall(cu, s->buf2, s->buf1, rows * hd);
        join_heads(o, s->buf2, rows, 1, u, D);
        return;
    }
    Comm *c = s->sp;
    float *save = s->save + layer * s->save_per_layer;
    if (s->mode == SP_ULYSSES) {
        const int64_t hd = D / P;
        split_heads(s->buf1, qkv, rows, 3, P, D);
        c->ops->alltoall(c, s->buf2, s->buf1, rows * 3 * hd);
        chunks_to_full(qkv, s->buf2, B, s->S_loc, P, 3 * hd); /* qkv is now [B,S,3,NH/P,d] */
        fwd_keys(s, k, &dm, 0, P, 0, save, lse, qkv, qkv + hd, qkv + 2 * hd, s->buf1, ws);
        full_to_chunks(s->buf1, save, B, s->S_loc, P, hd);
        c->ops->alltoall(c, s->buf2, s->buf1, rows * hd);
        join_heads(o, s->buf2, rows, 1, P, D);
    } else {
        for (int64_t r = 0; r < rows; r++) cp(s->buf2 + r * 2 * D, qkv + r * 3 * D + D, 2 * D);
        c->ops->allgather(c, s->buf1, s->buf2, rows * 2 * D);
        chunks_to_full(save, s->buf1, B, s->S_loc, P, 2 * D);
        fwd_keys(s, k, &dm, 0, P, 0, o, lse, qkv, save, save + D, s->buf2, ws);
    }
}

void seq_attn_bwd(SeqAttn *s, const Kernels *k, int layer, int B, float *dqkv, const float *dout, const float *qkv,
                  const float *o, const float *lse, float *ws) {
    AttnDims dm = dims(s, B);
    const int P = s->P;
    const int64_t D = (int64_t)s->NH * s->d, rows = (int64_t)B * s->S_loc;
    k->zero(dqkv, rows * 3 * D);
    if (P == 1) {
        k->attn_bwd(dqkv, dqkv + D, dqkv + 2 * D, dout, qkv, qkv + D, qkv + 2 * D, o, lse, &dm, ws);
        return;
    }
    if (s->mode == SP_RING) {
        ring_bwd(s, s->sp, 1, k, &dm, rows, s->buf1, dqkv, dout, qkv, o, lse, ws);
        return;
    }
    if (s->mode == SP_USP) {
        Comm *cu = s->spu;
        const int u = cu->size;
        const int64_t hd = D / u;
        const float *oh = s->save + layer * s->save_per_layer;
        float *doh = s->buf2, *msg = s->buf2 + rows * D;
        split_heads(s->buf1, dout, rows, 1, u, D);
        cu->ops->alltoall(cu, msg, s->buf1, rows * hd);
        chunks_to_full(doh, msg, B, s->S_loc, u, hd);
        /* dqkv (zero, the same size) holds the group's d qkvh for a moment */
        ring_bwd(s, s->spr, u, k, &dm, rows * u, s->buf1, dqkv, doh, qkv, oh, lse, ws);
        full_to_chunks(s->buf2, dqkv, B, s->S_loc, u, 3 * hd);
        cu->ops->alltoall(cu, s->buf1, s->buf2, rows * 3 * hd);
        join_heads(dqkv, s->buf1, rows, 3, u, D);
        return;
    }
    Comm *c = s->sp;
    const float *save = s->save + layer * s->save_per_layer;
    if (s->mode == SP_ULYSSES) {
        const int64_t hd = D / P;
        split_heads(s->buf1, dout, rows, 1, P, D);
        c->ops->alltoall(c, s->buf2, s->buf1, rows * hd);
        chunks_to_full(s->buf1, s->buf2, B, s->S_loc, P, hd); /* d oh [B,S,NH/P,d] */
        /* dqkv (zero, the same size) holds d qkvh [B,S,3,NH/P,d] for a moment */
        bwd_keys(s, k, &dm, 0, P, dqkv, dqkv + hd, dqkv + 2 * hd, s->buf1, qkv, qkv + hd, qkv + 2 * hd, save, lse, ws);
        full_to_chunks(s->buf2, dqkv, B, s->S_loc, P, 3 * hd);
        c->ops->alltoall(c, s->buf1, s->buf2, rows * 3 * hd);
        join_heads(dqkv, s->buf1, rows, 3, P, D);
    } else {
        float *dkv = s->buf1; /* [B,S,2,NH,d] for everybody's keys */
        k->zero(dkv, (int64_t)B * s->S_loc * P * 2 * D);
        bwd_keys(s, k, &dm, 0, P, dqkv, dkv, dkv + D, dout, qkv, save, save + D, o, lse, ws);
        full_to_chunks(s->buf2, dkv, B, s->S_loc, P, 2 * D);
        c->ops->reduce_scatter(c, s->buf1, s->buf2, rows * 2 * D);
        for (int64_t r = 0; r < rows; r++) cp(dqkv + r * 3 * D + D, s->buf1 + r * 2 * D, 2 * D);
    }
}
