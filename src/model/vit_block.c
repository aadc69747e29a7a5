/* A transformer block's forward and backward passes over the kernel table, under tensor and
 * sequence parallelism (model/vit_block.h). */
#include "model/vit_block.h"

void vit_tp_sum(Vit *m, float *x, int64_t n) {
    if (m->tp) m->tp->ops->allreduce_sum(m->tp, x, n);
}

/* The group's first rank adds the residual and the bias (once), every rank its own columns'
 * product, and the all-reduce sums them, so every rank holds the same out. resid may be NULL. */
void vit_row_parallel_fwd(Vit *m, float *out, const float *resid, const float *in, const float *w, const float *bias,
                          int64_t M, int64_t K, int64_t N) {
    const Kernels *k = m->k;
    if (m->tp_rank == 0) {
        if (resid) k->copy(out, resid, M * N);
        k->linear_fwd(out, in, w, bias, M, K, N, resid != NULL);
    } else {
        k->linear_fwd(out, in, w, NULL, M, K, N, 0);
    }
    vit_tp_sum(m, out, M * N);
}

void vit_block_at(Vit *m, int l, int backward, BlockParams *p, BlockParams *g) {
    if (m->block_at) {
        m->block_at(m->block_at_ctx, l, backward, p, g);
        return;
    }
    vit_block_view(&m->p, &m->cfg, l, p);
    if (g) vit_block_view(&m->g, &m->cfg, l, g);
}

LayerActs vit_layer_acts(const Vit *m, int l) {
    const VitConfig *c = &m->lc;
    const VitActs *a = &m->a;
    const int64_t S = vit_S(c), D = c->D, F = vit_Ft(c), Dt = vit_Dt(c), BSmax = (int64_t)m->B * S;
    const int64_t j = c->recompute ? 0 : l;
    return (LayerActs){a->ln1 + j * BSmax * D, a->ln1_mean + j * BSmax, a->ln1_rstd + j * BSmax,
                       a->qkv + j * BSmax * 3 * Dt, a->atty + j * BSmax * Dt, a->lse + j * (int64_t)m->B * vit_NHt(c) * S,
                       a->res1 + j * BSmax * D, a->ln2 + j * BSmax * D, a->ln2_mean + j * BSmax, a->ln2_rstd + j * BSmax,
                       a->fc1 + j * BSmax * F, a->gelu + j * BSmax * F, a->res2 + (int64_t)l * BSmax * D, (int)j};
}

void vit_block_fwd(Vit *m, int B, int l, const float *x, int64_t S, SeqAttn *sa, const BlockParams *bp) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const int64_t D = c->D, F = vit_Ft(c), Dt = vit_Dt(c), BS = (int64_t)B * S;
    LayerActs y = vit_layer_acts(m, l);
    k->layernorm_fwd(y.ln1, y.mean1, y.rstd1, x, bp->n1_w, bp->n1_b, BS, D, 1e-5f);
    k->linear_fwd(y.qkv, y.ln1, bp->qkv_w, bp->qkv_b, BS, D, 3 * Dt, 0);
    seq_attn_fwd(sa, k, y.slot, B, y.atty, y.lse, y.qkv, m->a.ws);
    vit_row_parallel_fwd(m, y.res1, x, y.atty, bp->proj_w, bp->proj_b, BS, Dt, D);
    k->layernorm_fwd(y.ln2, y.mean2, y.rstd2, y.res1, bp->n2_w, bp->n2_b, BS, D, 1e-5f);
    k->linear_fwd(y.fc1, y.ln2, bp->fc1_w, bp->fc1_b, BS, D, F, 0);
    k->gelu_fwd(y.gl, y.fc1, BS * F);
    vit_row_parallel_fwd(m, y.res2, y.res1, y.gl, bp->fc2_w, bp->fc2_b, BS, F, D);
}

void vit_block_bwd(Vit *m, int B, int l, const float *xin, float *dx, int64_t S, SeqAttn *sa, const BlockParams *bp,
                   const BlockParams *bg) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    VitActs *a = &m->a;
    const int64_t D = c->D, F = vit_Ft(c), Dt = vit_Dt(c), BS = (int64_t)B * S;
    float *dln = a->dtmp, *datty = a->dtmp2, *dbig = a->dbig, *dbig2 = a->dbig2;
    LayerActs y = vit_layer_acts(m, l);
    /* res2 = res1 + fc2(GELU(fc1(LN2(res1)))); dx holds d res2 and becomes d res1 */
    k->zero(dbig2, BS * F);
    k->linear_bwd(dbig2, bg->fc2_w, bg->fc2_b, dx, y.gl, bp->fc2_w, BS, F, D);
    k->zero(dbig, BS * F);
    k->gelu_bwd(dbig, dbig2, y.fc1, BS * F);
    k->zero(dln, BS * D);
    k->linear_bwd(dln, bg->fc1_w, bg->fc1_b, dbig, y.ln2, bp->fc1_w, BS, D, F);
    vit_tp_sum(m, dln, BS * D);
    k->layernorm_bwd(dx, bg->n2_w, bg->n2_b, dln, y.res1, bp->n2_w, y.mean2, y.rstd2, BS, D);
    /* res1 = x + proj(attn(LN1(x))); dx becomes d x */
    k->zero(datty, BS * Dt);
    k->linear_bwd(datty, bg->proj_w, bg->proj_b, dx, y.atty, bp->proj_w, BS, Dt, D);
    seq_attn_bwd(sa, k, y.slot, B, dbig, datty, y.qkv, y.atty, y.lse, a->ws);
    k->zero(dln, BS * D);
    k->linear_bwd(dln, bg->qkv_w, bg->qkv_b, dbig, y.ln1, bp->qkv_w, BS, D, 3 * Dt);
    vit_tp_sum(m, dln, BS * D);
    k->layernorm_bwd(dx, bg->n1_w, bg->n1_b, dln, xin, bp->n1_w, y.mean1, y.rstd1, BS, D);
}
