/* The masked autoencoder's forward and backward passes (He et al., "Masked autoencoders are
 * scalable vision learners", 2022; docs/pretraining.md): the visible tokens of x0 through the
 * encoder's blocks and norm, decoder_embed, the mask token at the masked places, the (fixed)
 * decoder position embedding, the decoder's blocks over every token and its norm; the head
 * (vit.c) then predicts every token's pixels and the loss counts the masked ones (the task's
 * mask). Row-stratified masks: every patch row keeps c->mae_keep tokens, so the ranks of a
 * sequence-parallel group (whole patch rows each) hold equally many; with band groups every
 * group's row draws its own (SatMAE's independent masking), and the decoder adds a fixed sin-cos
 * group embedding beside the position embedding so that a group's mask tokens know their group. */
#include <string.h>
#include "core/check.h"
#include "core/rng.h"
#include "model/vit_block.h"
#include "model/vit_mae.h"

void vit_mae_visible(const VitConfig *c, uint32_t seed, int grow, int group, int *cols) {
    const int Wt = c->W / c->p, keep = c->mae_keep;
    Rng r;
    rng_seed_stream(&r, seed, 0x6d61650000000000ULL + (uint64_t)grow + ((uint64_t)group << 32));
    int chosen = 0;
    for (int t = 0; t < Wt && chosen < keep; t++) /* selection sampling: ascending, each subset equally likely */
        if (rng_below(&r, (uint64_t)(Wt - t)) < (uint64_t)(keep - chosen)) cols[chosen++] = t;
}

/* Every sample's visible tokens (indices into this rank's S tokens: group-major, then rows) from
 * the seeds in b->lead. */
static void visible_tokens(Vit *m, const Batch *b) {
    const VitConfig *c = &m->lc;
    const int Ht = c->H / c->p, Wt = c->W / c->p, keep = c->mae_keep, row0 = m->row0 / c->p;
    const int G = c->mode == CH_GROUPS ? c->groups : 1;
    const int64_t Se = vit_mae_S(c), L = vit_L(c);
    m->k->download(m->mae_seed, b->lead, b->B);
    for (int i = 0; i < b->B; i++)
        for (int g = 0; g < G; g++)
            for (int r = 0; r < Ht; r++) {
                int *v = m->mae_vis + i * Se + ((int64_t)g * Ht + r) * keep;
                vit_mae_visible(c, (uint32_t)m->mae_seed[i], row0 + r, g, v);
                for (int j = 0; j < keep; j++) v[j] += (int)(g * L) + r * Wt;
            }
}

/* rows dst[b, idx[b, j]] = src[b, j] (scatter = 1) or dst[b, j] = src[b, idx[b, j]] (scatter = 0), D floats each
 * (L: the tokens of a sample) */
static void move_rows(const Vit *m, float *dst, const float *src, int B, int64_t L, int64_t Se, int scatter) {
    const int64_t D = m->lc.D;
    for (int i = 0; i < B; i++)
        for (int64_t j = 0; j < Se; j++) {
            const int64_t t = m->mae_vis[i * Se + j];
            if (scatter) m->k->copy(dst + (i * L + t) * D, src + (i * Se + j) * D, D);
            else m->k->copy(dst + (i * Se + j) * D, src + (i * L + t) * D, D);
        }
}

const float *vit_mae_forward(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p;
    VitActs *a = &m->a;
    const int B = b->B, nbl = vit_nblocks(c);
    const int64_t L = vit_L(c), S = vit_S(c), D = c->D, Se = vit_mae_S(c);
    visible_tokens(m, b);
    const float *x = a->x0; /* a later pipeline stage: the previous stage's output, Se rows per sample */
    if (vit_first_stage(c)) {
        move_rows(m, a->mae_xv, a->x0, B, S, Se, 0);
        x = a->mae_xv;
    }
    SeqAttn enc = m->sa; /* the same buffers, for the encoder's shorter sequence */
    enc.S_loc = Se;
    for (int l = 0; l < nbl; l++) {
        BlockParams bp;
        vit_block_at(m, l, 0, &bp, NULL);
        vit_block_fwd(m, B, l, x, Se, &enc, &bp);
        x = vit_layer_acts(m, l).res2;
    }
    if (!vit_last_stage(c)) return NULL; /* vit_output: what goes to the next pipeline stage */
    k->layernorm_fwd(a->lnf, a->lnf_mean, a->lnf_rstd, x, p->norm_w, p->norm_b, B * Se, D, 1e-5f);
    k->linear_fwd(a->mae_emb, a->lnf, p->demb_w, p->demb_b, B * Se, D, D, 0);
    /* the decoder's input: the mask token everywhere (doubling copies), the embedded visible
     * tokens at their places, plus the position embedding of this rank's tokens */
    float *xd = a->mae_xd;
    k->copy(xd, p->mask_tok, D);
    for (int64_t n = 1; n < B * S; n *= 2) k->copy(xd + n * D, xd, (n < B * S - n ? n : B * S - n) * D);
    move_rows(m, xd, a->mae_emb, B, S, Se, 1);
    const int G = vit_tokens_per_loc(c); /* 1, or the band groups */
    for (int64_t i = 0; i < (int64_t)B * G; i++) {
        k->add_inplace(xd + i * L * D, p->dpos + m->l0 * D, L * D);
        if (c->mode == CH_GROUPS) /* (fixed, like the position embedding) */
            for (int64_t l = 0; l < L; l++) k->add_inplace(xd + (i * L + l) * D, p->dgemb + i % G * D, D);
    }
    x = xd;
    for (int j = 0; j < c->mae_depth; j++) {
        BlockParams bp;
        vit_dec_block_view(p, c, j, &bp);
        vit_block_fwd(m, B, nbl + j, x, S, &m->sa, &bp);
        x = vit_layer_acts(m, nbl + j).res2;
    }
    k->layernorm_fwd(a->mae_dn, a->mae_dn_mean, a->mae_dn_rstd, x, p->dnorm_w, p->dnorm_b, B * S, D, 1e-5f);
    return a->mae_dn;
}

/* The last stage's part of the backward pass: the loss's gradient dh of the decoder's output back
 * through the decoder, decoder_embed and the encoder's norm, into dx (Se rows per sample). */
static void decoder_backward(Vit *m, const Batch *b, const float *dh, const float *xin) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p, *g = &m->g;
    VitActs *a = &m->a;
    const int B = b->B, nbl = vit_nblocks(c), nd = c->mae_depth;
    const int64_t S = vit_S(c), D = c->D, Se = vit_mae_S(c);
    float *dx = a->dx;
    k->zero(dx, B * S * D);
    k->layernorm_bwd(dx, g->dnorm_w, g->dnorm_b, dh, vit_layer_acts(m, nbl + nd - 1).res2, p->dnorm_w, a->mae_dn_mean,
                     a->mae_dn_rstd, B * S, D);
    for (int j = nd - 1; j >= 0; j--) {
        BlockParams bp, bg;
        vit_dec_block_view(p, c, j, &bp);
        vit_dec_block_view(g, c, j, &bg);
        vit_block_bwd(m, B, nbl + j, j ? vit_layer_acts(m, nbl + j - 1).res2 : a->mae_xd, dx, S, &m->sa, &bp, &bg);
    }
    /* dx: the gradient of the decoder's input. The visible rows go back through decoder_embed (into
     * mae_emb, free now); the masked rows sum into the mask token (the visible rows zeroed first);
     * the position embedding is fixed (no gradient: AdamW leaves it as initialized) */
    move_rows(m, a->mae_emb, dx, B, S, Se, 0);
    for (int i = 0; i < B; i++)
        for (int64_t j = 0; j < Se; j++) k->zero(dx + (i * S + m->mae_vis[i * Se + j]) * D, D);
    k->linear_bwd(NULL, NULL, g->mask_tok, dx, NULL, NULL, B * S, 1, D);
    float *dln = a->mae_dn; /* the decoder norm's output is not needed again */
    k->zero(dln, B * Se * D);
    k->linear_bwd(dln, g->demb_w, g->demb_b, a->mae_emb, a->lnf, p->demb_w, B * Se, D, D);
    k->zero(dx, B * Se * D);
    k->layernorm_bwd(dx, g->norm_w, g->norm_b, dln, nbl ? vit_layer_acts(m, nbl - 1).res2 : xin, p->norm_w,
                     a->lnf_mean, a->lnf_rstd, B * Se, D);
}

void vit_mae_backward(Vit *m, const Batch *b, float *dh) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    VitActs *a = &m->a;
    const int B = b->B, nbl = vit_nblocks(c);
    const int64_t S = vit_S(c), D = c->D, Se = vit_mae_S(c);
    float *dx = a->dx; /* the encoder's gradient, Se rows per sample */
    /* the masks again: under a pipeline another micro-batch's forward may have run since this one's */
    visible_tokens(m, b);
    const float *xin = vit_first_stage(c) ? a->mae_xv : a->x0; /* the encoder's input on this stage */
    if (vit_last_stage(c)) decoder_backward(m, b, dh, xin);
    /* (else dx holds the next stage's gradient of this stage's output) */
    if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, nbl);
    SeqAttn enc = m->sa;
    enc.S_loc = Se;
    for (int l = nbl - 1; l >= 0; l--) {
        BlockParams bp, bg;
        vit_block_at(m, l, 1, &bp, &bg);
        vit_block_bwd(m, B, l, l ? vit_layer_acts(m, l - 1).res2 : xin, dx, Se, &enc, &bp, &bg);
        if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, l);
    }
    if (!vit_first_stage(c)) return; /* dx: the gradient of this stage's input, for the previous stage */
    /* back to x0's places: the masked tokens never reached the encoder (zero gradient) */
    k->copy(a->mae_emb, dx, B * Se * D);
    k->zero(dx, B * S * D);
    move_rows(m, dx, a->mae_emb, B, S, Se, 1);
}
