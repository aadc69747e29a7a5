/* One job: where every activation and scratch buffer of a pass lives. vit_acts_carve sizes and
 * carves them from one allocation for what a rank computes, so the forward and backward passes
 * (vit.c) only index buffers; D-CHAG's per-layer pieces are found with vit_acts_chag_layer. */
#include <omp.h>
#include "model/acts.h"

static int64_t r16(int64_t n) { return (n + 15) & ~(int64_t)15; }

/* D-CHAG: the floats of each part (q, kv, probs, o) of the activations of a block's aggregation
 * layer at level lev, for batch B: level 0 reads the block's Vb channel tokens (in groups of G with
 * two levels), level 1 the Vb/G group tokens. The last level writes the block's partial token
 * into chag_part, the first of two its group tokens after o. */
static void chag_sizes(const VitConfig *c, int B, int lev, int64_t sz[5]) {
    const int64_t L = vit_L(c), D = c->D, Vb = c->V / vit_chag(c);
    const int two = vit_chag_levels(c) == 2;
    const int64_t nin = lev ? Vb / c->chag_group : Vb, nout = two && !lev ? Vb / c->chag_group : 1;
    sz[0] = r16(D);
    sz[1] = r16(B * nin * L * 2 * D);
    sz[2] = r16(B * L * c->NH * nin);
    sz[3] = r16(B * nout * L * D);
    sz[4] = two && !lev ? r16(B * nout * L * D) : 0;
}

static int64_t chag_layer_floats(const VitConfig *c, int B, int lev) {
    int64_t sz[5];
    chag_sizes(c, B, lev, sz);
    return sz[0] + sz[1] + sz[2] + sz[3] + sz[4];
}

/* a block's layers one after the other */
ChagLayer vit_acts_chag_layer(const VitActs *a, const VitConfig *c, int B, int la) {
    const int nlev = vit_chag_levels(c), j = la / nlev, lev = la % nlev;
    int64_t sz[5];
    chag_sizes(c, B, lev, sz);
    float *b = a->chag_layers + j * a->chag_layer_floats + (lev ? chag_layer_floats(c, B, 0) : 0);
    return (ChagLayer){b, b + sz[0], b + sz[0] + sz[1], b + sz[0] + sz[1] + sz[2], b + sz[0] + sz[1] + sz[2] + sz[3]};
}

int64_t vit_acts_carve(VitActs *a, const VitConfig *c, int B, const Kernels *k, SeqAttn *sa, float *mem) {
    /* under tensor parallelism the attention and MLP activations hold this rank's Dt channels
     * (NHt heads) and Ft MLP channels; the residual stream stays [B,S,D] */
    const int64_t L = vit_L(c), S = vit_S(c), D = c->D, E = vit_E(c), Dt = vit_Dt(c), F = vit_Ft(c);
    const int64_t BS = (int64_t)B * S, nb_l = vit_layers(c), nl = c->recompute && nb_l ? 1 : nb_l, V = c->V,
                  NH = vit_NHt(c); /* nl: blocks whose activations are kept (one with recomputation) */
    const int first = vit_first_stage(c), last = vit_last_stage(c); /* pipeline: embeddings / head here */
    int64_t off = 0;
#define TAKE(ptr, n) do { (ptr) = mem ? mem + off : NULL; off += r16(n); } while (0)
    const int64_t Va = vit_Vagg(c); /* the tokens of the (final) cross-attention over channels */
    TAKE(a->tok, first ? B * vit_Vt(c) * L * D : 0);
    if (!first) { /* a later pipeline stage: its input arrives from the previous one */
        a->agg_q = a->agg_kv = a->agg_probs = a->agg_o = a->dagg = a->dtok = a->dagg_q = a->tok = NULL;
        TAKE(a->x0, BS * D);
    } else if (c->mode == CH_AGG) {
        TAKE(a->agg_q, Dt);
        TAKE(a->agg_kv, B * Va * L * 2 * Dt);
        TAKE(a->agg_probs, B * L * NH * Va);
        TAKE(a->agg_o, B * L * Dt);
        TAKE(a->x0, BS * D);
        TAKE(a->dagg, B * Va * L * 2 * Dt);
        TAKE(a->dtok, B * Va * L * D);
        TAKE(a->dagg_q, Dt);
    } else if (c->mode == CH_GROUPS) { /* the bands' tokens, averaged into the groups' */
        a->agg_q = a->agg_kv = a->agg_probs = a->agg_o = a->dagg = a->dagg_q = NULL;
        TAKE(a->x0, BS * D);
        TAKE(a->dtok, B * V * L * D);
    } else {
        a->agg_q = a->agg_kv = a->agg_probs = a->agg_o = a->dagg = a->dtok = a->dagg_q = NULL;
        a->x0 = a->tok; /* multi mode: the token embeddings are the sequence */
    }
    a->chag_layers = a->chag_x = a->chag_part = a->chag_gath = a->ctok = a->chag_dperm = a->chag_dpart = NULL;
    a->chag_dtok = a->chag_dh = a->chag_do = a->chag_dkv = a->chag_dq = NULL;
    a->chag_layer_floats = 0;
    if (vit_chag(c) && first) {
        const int64_t C = vit_chag(c), nb = C / vit_tp(c), Vb = V / C, Ng = vit_chag_levels(c) == 2 ? Vb / c->chag_group : 1;
        a->chag_layer_floats = 0; /* per block */
        for (int lev = 0; lev < vit_chag_levels(c); lev++) a->chag_layer_floats += chag_layer_floats(c, B, lev);
        TAKE(a->chag_layers, nb * a->chag_layer_floats);
        TAKE(a->chag_x, B * Vb * c->H * c->W);
        TAKE(a->chag_part, nb * B * L * D);
        TAKE(a->chag_gath, C * B * L * D);
        TAKE(a->ctok, B * C * L * D);
        TAKE(a->chag_dperm, C * B * L * D);
        TAKE(a->chag_dpart, nb * B * L * D);
        TAKE(a->chag_dtok, B * Vb * L * D);
        TAKE(a->chag_dh, B * Ng * L * D);
        TAKE(a->chag_do, B * Ng * L * D);
        TAKE(a->chag_dkv, B * Vb * L * 2 * D);
        TAKE(a->chag_dq, D);
    }
    a->embed_floats = off; /* everything above: tokens, aggregation, D-CHAG */
    TAKE(a->ln1, nl * BS * D);
    TAKE(a->ln1_mean, nl * BS);
    TAKE(a->ln1_rstd, nl * BS);
    TAKE(a->qkv, nl * BS * 3 * Dt);
    TAKE(a->atty, nl * BS * Dt);
    TAKE(a->lse, nl * B * NH * S);
    TAKE(a->res1, nl * BS * D);
    TAKE(a->ln2, nl * BS * D);
    TAKE(a->ln2_mean, nl * BS);
    TAKE(a->ln2_rstd, nl * BS);
    TAKE(a->fc1, nl * BS * F);
    TAKE(a->gelu, nl * BS * F);
    TAKE(a->res2, nb_l * BS * D); /* every block's output: the next block's input */
    const int64_t nf_rows = last ? BS : 0; /* the final norm and head: the last pipeline stage */
    TAKE(a->lnf, nf_rows * D);
    TAKE(a->lnf_mean, nf_rows);
    TAKE(a->lnf_rstd, nf_rows);
    const int64_t hb = vit_head_rows(c, B) * last; /* a classifier's head sees one mean token per sample */
    TAKE(a->pool, vit_classify(c) ? hb * D : 0);
    TAKE(a->head_pre, c->dec_depth * hb * D);
    TAKE(a->head_act, c->dec_depth * hb * D);
    TAKE(a->out, hb * E);
    TAKE(a->dout, hb * E);
    const int rl = last && vit_reslim(c); /* Reslim: the fine grid of the window */
    const int64_t sc = vit_scale(c), nf = rl ? B * c->Vo * sc * c->H * sc * c->W : 0,
                  nr = rl ? (int64_t)B * vit_Rs(c) * c->H * c->W : 0;
    TAKE(a->up, nf);
    TAKE(a->pred, nf);
    TAKE(a->dpred, nf);
    TAKE(a->dup, nf);
    TAKE(a->r1, nr);
    TAKE(a->r1g, nr);
    TAKE(a->rps, nr);
    TAKE(a->drps, nr);
    TAKE(a->dr1, nr);
    const int64_t mae = vit_mae(c), Se = mae ? vit_mae_S(c) : 0;
    TAKE(a->mae_xv, mae * B * Se * D);
    TAKE(a->mae_emb, mae * B * Se * D);
    TAKE(a->mae_xd, mae * BS * D);
    TAKE(a->mae_dn, mae * BS * D);
    TAKE(a->mae_dn_mean, mae * BS);
    TAKE(a->mae_dn_rstd, mae * BS);
    TAKE(a->mae_nolead, mae * B); /* zeros, never written: the lead-time input */
    const int64_t gpad = c->mode == CH_GROUPS && last && !vit_classify(c) && (int64_t)c->groups * vit_group_max(c) != V
                             ? (int64_t)B * c->groups * vit_group_max(c) * c->H * c->W
                             : 0;
    TAKE(a->grp_y, gpad);
    TAKE(a->grp_mask, gpad);
    const int tiles = first && c->tile_h > 0; /* TILES: each sample's window of the position embedding */
    TAKE(a->tpos, tiles ? B * L * D : 0);
    TAKE(a->dtpos, tiles ? L * D : 0);
    TAKE(a->dx, BS * D);
    TAKE(a->dtmp, BS * D);
    TAKE(a->dtmp2, BS * D);
    TAKE(a->dbig, BS * (F > 3 * Dt ? F : 3 * Dt));
    TAKE(a->dbig2, BS * F);
    AttnDims dm;
    seq_attn_plan(sa, B, (int)NH, c->D / c->NH, S, &dm);
    float *sa_mem;
    TAKE(sa_mem, seq_attn_floats(sa, (int)nl));
    if (mem) seq_attn_carve(sa, sa_mem, (int)nl);
    int64_t ws = (int64_t)k->attn_ws_floats(&dm, omp_get_max_threads());
    int64_t pe = patch_embed_ws_floats(B, c->V, c->H, c->W, c->p);
    int64_t img = (int64_t)B * c->Vo * c->H * c->W;
    if (pe > ws) ws = pe;
    if (c->mode == CH_GROUPS) img = (int64_t)B * c->groups * vit_group_max(c) * c->H * c->W; /* padded */
    if (img > ws) ws = img;
    if (rl) { /* the loss on the fine grid, the three convolutions */
        const int64_t Hf = sc * c->H, Wf = sc * c->W, cw[3] = {conv3x3_ws_floats(B, c->Vo, c->Vo, Hf, Wf),
                                                               conv3x3_ws_floats(B, c->V, vit_Rs(c), c->H, c->W),
                                                               conv3x3_ws_floats(B, c->res_width, c->Vo, Hf, Wf)};
        if (nf > ws) ws = nf;
        for (int i = 0; i < 3; i++)
            if (cw[i] > ws) ws = cw[i];
    }
    a->ws_floats = ws;
    TAKE(a->ws, ws);
#undef TAKE
    return off;
}
