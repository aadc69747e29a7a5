/* The model over the kernel table: its one constructor (vit_init, any parallel layout), the
 * conversions between this rank's parameters and the canonical ones, and the forward and backward
 * passes, written once. */
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "model/band_groups.h"
#include "model/vit.h"
#include "model/vit_block.h"
#include "model/vit_mae.h"

void vit_init(Vit *m, const VitConfig *cfg, const VitLayout *lay, int B, const Kernels *k) {
    static const VitLayout one_process = {0};
    if (!lay) lay = &one_process;
    const SeqGroup *g = lay->seq;
    Comm *sp = g ? g->sp : NULL, *tp = lay->tp;
    const int64_t multiple = lay->multiple > 1 ? lay->multiple : 1;
    memset(m, 0, sizeof *m);
    vit_config_copy(&m->cfg, cfg);
    const int T = tp ? tp->size : 1;
    m->cfg.tp = T;
    CHECK(cfg->NH % T == 0 && vit_F(cfg) % T == 0, "tensor parallel: %d heads and %d MLP channels over %d ranks",
          cfg->NH, vit_F(cfg), T);
    m->tp = T > 1 ? tp : NULL;
    m->tp_rank = T > 1 ? tp->rank : 0;
    if (vit_mae(&m->cfg) && m->cfg.recompute) { /* (its encoder and decoder see sequences of two lengths) */
        log_warn("--recompute is not supported for the masked autoencoder: all activations are kept");
        m->cfg.recompute = 0;
    }
    vit_config_copy(&m->lc, &m->cfg);
    const int P = sp ? sp->size : 1, r = sp ? sp->rank : 0;
    const int prows = cfg->H / cfg->p, lrows = (prows + P - 1) / P; /* patch rows: of the grid, of a rank */
    CHECK(prows % P == 0 || (!vit_mae(cfg) && !vit_classify(cfg) && !vit_segment(cfg) && !vit_reslim(cfg) &&
                             cfg->mode != CH_GROUPS),
          "sequence parallel: %d patch rows over %d ranks (padding is for per-token tasks)", prows, P);
    m->lc.H = lrows * cfg->p;
    if (cfg->tile_h > 0) { /* TILES: windows of the grid, one per sample */
        CHECK(P == 1 && cfg->tile_h <= cfg->H && cfg->tile_w <= cfg->W && cfg->tile_h % cfg->p == 0 &&
                  cfg->tile_w % cfg->p == 0, "tiles of %dx%d cells in a %dx%d grid (patch %d, sequence parallel %d)",
              cfg->tile_h, cfg->tile_w, cfg->H, cfg->W, cfg->p, P);
        m->lc.H = cfg->tile_h;
        m->lc.W = cfg->tile_w;
    }
    m->row0 = r * m->lc.H;
    m->l0 = (int64_t)r * vit_L(&m->lc);
    m->sa.sp = sp;
    m->sa.spu = g ? g->spu : NULL;
    m->sa.spr = g ? g->spr : NULL;
    m->sa.mode = g ? g->mode : SP_ULYSSES;
    if (prows % P && cfg->tile_h <= 0) { /* padded rows: every rank of the group knows which keys are real */
        const int real = prows - r * lrows;
        m->pad_rows = real <= 0 ? lrows : real >= lrows ? 0 : lrows - real;
        m->sa.L_valid = (int64_t)prows * (cfg->W / cfg->p);
        m->sa.nvar = vit_tokens_per_loc(cfg);
    }
    m->B = B;
    m->k = k;
    vit_params_layout(&m->cfg, m->tp_rank, m->fields, &m->n_params, &m->specs, &m->nspecs, &m->n_canon, &m->seg,
                      &m->nseg);
    m->n_alloc = lay->external_blocks ? m->fields[PF_n1_w].offset : m->n_params;
    int64_t cap = (m->n_alloc + multiple - 1) / multiple * multiple;
    lvit_alloc_what("the model's %lld parameters and their gradients (--dim %d, --depth %d, --patch %d)",
                    (long long)m->n_params, cfg->D, cfg->depth, cfg->p);
    m->param_mem = k->alloc((size_t)(cap ? cap : 1) * sizeof(float));
    m->grad_mem = k->alloc((size_t)(cap ? cap : 1) * sizeof(float));
    lvit_alloc_what(NULL);
    vit_params_carve(m->fields, &m->p, m->param_mem);
    vit_params_carve(m->fields, &m->g, m->grad_mem);
    if (lay->external_blocks) {
        VitParams *t[2] = {&m->p, &m->g};
        for (int i = 0; i < 2; i++)
            t[i]->n1_w = t[i]->n1_b = t[i]->qkv_w = t[i]->qkv_b = t[i]->proj_w = t[i]->proj_b = t[i]->n2_w =
                t[i]->n2_b = t[i]->fc1_w = t[i]->fc1_b = t[i]->fc2_w = t[i]->fc2_b = NULL;
    }
    m->act_floats = vit_acts_carve(&m->a, &m->lc, B, k, &m->sa, NULL);
    m->embed_floats = m->a.embed_floats;
    lvit_alloc_what("the activations of a batch of %d samples of %lld tokens (--batch, the grid and --patch, --dim)", B,
                    (long long)vit_S(&m->lc));
    m->act_mem = k->alloc((size_t)m->act_floats * sizeof(float));
    lvit_alloc_what(NULL);
    vit_acts_carve(&m->a, &m->lc, B, k, &m->sa, m->act_mem);
    if (m->pad_rows) {
        const int64_t n = 2 * vit_L(&m->lc) * cfg->D + m->lc.H;
        m->pad_mem = k->alloc((size_t)n * sizeof(float));
        k->zero(m->pad_mem, n);
    }
    if (vit_mae(cfg)) {
        CHECK(cfg->tile_h == 0, "the masked autoencoder runs without tiles");
        m->mae_seed = xcalloc((size_t)B, sizeof(float));
        m->mae_vis = xcalloc((size_t)(B * vit_mae_S(&m->lc) + 1), sizeof(int));
    }
}

void vit_to_canonical(const Vit *m, const float *local, float *canon) {
    for (int i = 0; i < m->nseg; i++)
        memcpy(canon + m->seg[i].canon, local + m->seg[i].local, sizeof(float) * (size_t)m->seg[i].len);
}

void vit_from_canonical(const Vit *m, const float *canon, float *local) {
    for (int i = 0; i < m->nseg; i++)
        memcpy(local + m->seg[i].local, canon + m->seg[i].canon, sizeof(float) * (size_t)m->seg[i].len);
}

const ParamSpec *vit_find_param(const Vit *m, const char *name) {
    for (int i = 0; i < m->nspecs; i++)
        if (strcmp(m->specs[i].name, name) == 0) return &m->specs[i];
    return NULL;
}

void vit_init_params_host(const Vit *m, uint64_t seed, float *host) {
    float *canon = m->n_canon == m->n_params && m->nseg == 1 ? host : xmalloc(sizeof(float) * (size_t)m->n_canon);
    vit_params_init_canonical(&m->cfg, m->specs, m->nspecs, seed, canon);
    if (canon != host) {
        vit_from_canonical(m, canon, host);
        free(canon);
    }
}

void vit_init_params(Vit *m, uint64_t seed) {
    CHECK(m->n_alloc == m->n_params, "vit_init_params with external blocks: use vit_init_params_host");
    float *host = xmalloc((size_t)m->n_params * sizeof(float));
    vit_init_params_host(m, seed, host);
    m->k->upload(m->param_mem, host, m->n_params);
    free(host);
}

void vit_slot_alloc(Vit *m, VitSlot *s) {
    s->sa = m->sa;
    int64_t n = vit_acts_carve(&s->a, &m->lc, m->B, m->k, &s->sa, NULL);
    s->mem = m->k->alloc((size_t)n * sizeof(float));
    vit_acts_carve(&s->a, &m->lc, m->B, m->k, &s->sa, s->mem);
}

void vit_slot_free(Vit *m, VitSlot *s) {
    if (s->mem) m->k->free(s->mem);
    s->mem = NULL;
}

void vit_free(Vit *m) {
    m->k->free(m->param_mem);
    m->k->free(m->grad_mem);
    m->k->free(m->act_mem);
    if (m->pad_mem) m->k->free(m->pad_mem);
    free(m->mae_seed), free(m->mae_vis);
    free(m->specs);
    free(m->seg);
    vit_config_free(&m->cfg);
    vit_config_free(&m->lc);
    memset(m, 0, sizeof *m);
}

/* ranks of the sequence-parallel group (1 without one) */
static int seq_ranks(const Vit *m) { return m->sa.sp ? m->sa.sp->size : 1; }

/* D-CHAG (docs/parallelism.md, D-CHAG): this rank's nb = C/T blocks of V/C channels are tokenized and
 * aggregated, each by its own cross-attention (with a first level over groups of chag_group
 * channels when set), into nb partial tokens per location; the tp group all-gathers them and the
 * final cross-attention (var_agg, head-split over tp) runs over the C partial tokens in ctok. */
static void chag_block_x(Vit *m, const Batch *b, int gblock, float *xl) {
    const VitConfig *c = &m->lc;
    const int64_t Vb = c->V / vit_chag(c), HW = (int64_t)c->H * c->W;
    for (int bb = 0; bb < b->B; bb++) m->k->copy(xl + bb * Vb * HW, b->x + ((int64_t)bb * c->V + gblock * Vb) * HW, Vb * HW);
}

static void chag_fwd(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p;
    VitActs *a = &m->a;
    const int B = b->B, C = vit_chag(c), nb = C / vit_tp(c), nlev = vit_chag_levels(c);
    const int64_t L = vit_L(c), D = c->D, Vb = c->V / C, BLD = (int64_t)B * L * D;
    for (int j = 0; j < nb; j++) {
        float *tok = a->tok + j * B * Vb * L * D;
        chag_block_x(m, b, m->tp_rank * nb + j, a->chag_x);
        k->patch_embed_fwd(tok, a->chag_x, p->tok_w + j * Vb * D * c->p * c->p, p->tok_b + j * Vb * D,
                           p->var_embed + j * Vb * D, B, (int)Vb, c->H, c->W, c->p, c->D, a->ws);
        const float *in = tok;
        int64_t ntok = Vb;
        for (int lev = 0; lev < nlev; lev++) {
            const int la = j * nlev + lev;
            const int64_t grp = lev == nlev - 1 ? ntok : c->chag_group, nout = ntok / grp;
            ChagLayer y = vit_acts_chag_layer(&m->a, &m->lc, m->B, la);
            float *out = lev == nlev - 1 ? a->chag_part + j * BLD : y.out;
            const float *w = p->c_in_w + la * 3 * D * D, *bias = p->c_in_b + la * 3 * D;
            k->linear_fwd(y.q, p->cq + la * D, w, bias, 1, D, D, 0);
            k->linear_fwd(y.kv, in, w + D * D, bias + D, B * ntok * L, D, 2 * D, 0);
            k->var_attn_fwd(y.o, y.probs, y.q, y.kv, (int)(B * nout), L, (int)grp, c->NH, c->D);
            k->linear_fwd(out, y.o, p->c_out_w + la * D * D, p->c_out_b + la * D, B * nout * L, D, D, 0);
            in = out;
            ntok = nout;
        }
    }
    const float *gath = a->chag_part;
    if (m->tp) {
        m->tp->ops->allgather(m->tp, a->chag_gath, a->chag_part, nb * BLD);
        gath = a->chag_gath;
    }
    for (int bc = 0; bc < C; bc++) /* [C][B,L,D] -> [B,C,L,D] */
        for (int bb = 0; bb < B; bb++) k->copy(a->ctok + (bb * C + bc) * L * D, gath + (bc * B + bb) * L * D, L * D);
}

/* dctok [B,C,L,D] (this rank's heads' part) -> the parameter gradients of its blocks */
static void chag_bwd(Vit *m, const Batch *b, const float *dctok) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p, *g = &m->g;
    VitActs *a = &m->a;
    const int B = b->B, C = vit_chag(c), nb = C / vit_tp(c), nlev = vit_chag_levels(c);
    const int64_t L = vit_L(c), D = c->D, Vb = c->V / C, BLD = (int64_t)B * L * D;
    for (int bc = 0; bc < C; bc++)
        for (int bb = 0; bb < B; bb++) k->copy(a->chag_dperm + (bc * B + bb) * L * D, dctok + (bb * C + bc) * L * D, L * D);
    const float *dpart = a->chag_dperm; /* summed over the group's heads, each rank receiving its blocks' */
    if (m->tp) {
        m->tp->ops->reduce_scatter(m->tp, a->chag_dpart, a->chag_dperm, nb * BLD);
        dpart = a->chag_dpart;
    }
    for (int j = 0; j < nb; j++) {
        const float *tok = a->tok + j * B * Vb * L * D, *dout = dpart + j * BLD;
        for (int lev = nlev - 1; lev >= 0; lev--) {
            const int la = j * nlev + lev;
            const int64_t nin = lev == 0 ? Vb : Vb / c->chag_group, grp = lev == nlev - 1 ? nin : c->chag_group,
                          nout = nin / grp;
            ChagLayer y = vit_acts_chag_layer(&m->a, &m->lc, m->B, la);
            const float *in = lev == 0 ? tok : vit_acts_chag_layer(&m->a, &m->lc, m->B, la - 1).out;
            float *din = lev == 0 ? a->chag_dtok : a->chag_dh;
            const float *w = p->c_in_w + la * 3 * D * D;
            float *dw = g->c_in_w + la * 3 * D * D, *db = g->c_in_b + la * 3 * D;
            k->zero(a->chag_do, B * nout * L * D);
            k->linear_bwd(a->chag_do, g->c_out_w + la * D * D, g->c_out_b + la * D, dout, y.o, p->c_out_w + la * D * D,
                          B * nout * L, D, D);
            k->zero(a->chag_dkv, B * nin * L * 2 * D);
            k->zero(a->chag_dq, D);
            k->var_attn_bwd(a->chag_dq, a->chag_dkv, a->chag_do, y.probs, y.q, y.kv, (int)(B * nout), L, (int)grp, c->NH,
                            c->D);
            k->linear_bwd(g->cq + la * D, dw, db, a->chag_dq, p->cq + la * D, w, 1, D, D);
            k->zero(din, B * nin * L * D);
            k->linear_bwd(din, dw + D * D, db + D, a->chag_dkv, in, w + D * D, B * nin * L, D, 2 * D);
            dout = din;
        }
        chag_block_x(m, b, m->tp_rank * nb + j, a->chag_x);
        k->patch_embed_bwd(g->tok_w + j * Vb * D * c->p * c->p, g->tok_b + j * Vb * D, g->var_embed + j * Vb * D,
                           a->chag_dtok, a->chag_x, B, (int)Vb, c->H, c->W, c->p, c->D, a->ws);
    }
}

/* TILES: sample i's window of the position embedding [L_window, D] (rows of patches from
 * tile_r0 / p, columns from tile_c0 / p wrapping around the grid's W / p) gathered from pos into
 * win (scatter = 0) or added back into pos (scatter = 1: the gradient). */
static void tile_pos(const Vit *m, const Batch *b, int i, float *pos, float *win, int scatter) {
    const Kernels *k = m->k;
    const int p = m->cfg.p, gw = m->cfg.W / p, th = m->lc.H / p, tw = m->lc.W / p, D = m->cfg.D;
    const int r0 = b->tile_r0[i] / p, c0 = b->tile_c0[i] / p;
    for (int pr = 0; pr < th; pr++) {
        int j = 0;
        while (j < tw) { /* a run of columns that does not wrap */
            const int c = (c0 + j) % gw, n = tw - j < gw - c ? tw - j : gw - c;
            float *g = pos + ((int64_t)(r0 + pr) * gw + c) * D, *t = win + ((int64_t)pr * tw + j) * D;
            if (scatter) k->add_inplace(g, t, (int64_t)n * D);
            else k->copy(t, g, (int64_t)n * D);
            j += n;
        }
    }
}

/* Rows of a rank that holds padded rows (m->pad_rows): its real patches, its real grid rows. */
static int64_t real_patches(const Vit *m) { return (int64_t)(m->lc.H / m->lc.p - m->pad_rows) * (m->lc.W / m->lc.p); }
static int64_t real_rows(const Vit *m) { return m->cfg.H - m->row0 > 0 ? m->cfg.H - m->row0 : 0; }

/* This rank's position embedding rows [L_loc,D]: pos_embed's from l0, or where it holds padded
 * rows a copy of its real rows followed by zeros (pos_embed has none for the padding). */
static const float *local_pos(Vit *m) {
    if (!m->pad_rows) return m->p.pos_embed + m->l0 * m->lc.D;
    const int64_t n = real_patches(m) * m->lc.D;
    if (n > 0) m->k->copy(m->pad_mem, m->p.pos_embed + m->l0 * m->lc.D, n);
    return m->pad_mem;
}

/* The latitude weights of this rank's rows [lc.H] (padded rows: 0; b->wlat has the grid's H). */
static const float *local_wlat(Vit *m, const Batch *b) {
    if (!m->pad_rows) return b->wlat + m->row0;
    float *w = m->pad_mem + 2 * vit_L(&m->lc) * m->lc.D;
    if (real_rows(m) > 0) m->k->copy(w, b->wlat + m->row0, real_rows(m));
    return w;
}

/* Reslim (ORBIT-2): the head's tokens [B,L,(sp)^2 Vo] unpatchified onto the fine grid and through
 * head_conv, plus the residual path conv2(shuffle(GELU(conv1(x)))) of the coarse inputs; the loss
 * is the weighted MSE on the fine grid (weights in the mask) plus tv_weight TV(prediction). */
static float reslim_fwd(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p;
    VitActs *a = &m->a;
    const int B = b->B, s = vit_scale(c);
    const int64_t H = c->H, W = c->W, Hf = s * H, Wf = s * W, Vo = c->Vo, R = c->res_width, Rs = vit_Rs(c);
    k->unpatchify(a->up, a->out, B, (int)Vo, (int)Hf, (int)Wf, vit_P(c), 0);
    k->conv3x3_fwd(a->pred, a->up, p->hc_w, p->hc_b, B, Vo, Vo, Hf, Wf, a->ws);
    k->conv3x3_fwd(a->r1, b->x, p->r1_w, p->r1_b, B, c->V, Rs, H, W, a->ws);
    k->gelu_fwd(a->r1g, a->r1, B * Rs * H * W);
    k->pixel_shuffle_fwd(a->rps, a->r1g, B, R, H, W, s);
    k->conv3x3_fwd(a->dpred, a->rps, p->r2_w, p->r2_b, B, R, Vo, Hf, Wf, a->ws);
    k->add_inplace(a->pred, a->dpred, B * Vo * Hf * Wf);
    if (!b->y) return 0.0f;
    float loss = k->mse_loss(a->dpred, a->pred, b->y, b->mask, b->wlat, B, (int)Vo, (int)Hf, (int)Wf, 1, 1, 1.0f,
                             b->loss_denom, a->ws);
    if (b->tv_weight > 0)
        loss += b->tv_weight * k->tv_loss(a->dpred, a->pred, b->vw, B, (int)Vo, (int)Hf, (int)Wf,
                                          b->tv_denom > 0 ? b->tv_denom : (double)B * Vo * Hf * Wf, b->tv_weight);
    return loss;
}

/* dpred -> the gradients of the residual path and head_conv, and the head's token gradient dout. */
static void reslim_bwd(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p, *g = &m->g;
    VitActs *a = &m->a;
    const int B = b->B, s = vit_scale(c);
    const int64_t H = c->H, W = c->W, Hf = s * H, Wf = s * W, Vo = c->Vo, R = c->res_width, Rs = vit_Rs(c);
    const int64_t nr = B * Rs * H * W;
    k->zero(a->drps, nr);
    k->conv3x3_bwd(a->drps, g->r2_w, g->r2_b, a->dpred, a->rps, p->r2_w, B, R, Vo, Hf, Wf, a->ws);
    k->zero(a->r1g, nr); /* the GELU output is not needed again: it holds its gradient */
    k->pixel_shuffle_bwd(a->r1g, a->drps, B, R, H, W, s);
    k->zero(a->dr1, nr);
    k->gelu_bwd(a->dr1, a->r1g, a->r1, nr);
    k->conv3x3_bwd(NULL, g->r1_w, g->r1_b, a->dr1, b->x, NULL, B, c->V, Rs, H, W, a->ws);
    k->zero(a->dup, B * Vo * Hf * Wf);
    k->conv3x3_bwd(a->dup, g->hc_w, g->hc_b, a->dpred, a->up, p->hc_w, B, Vo, Vo, Hf, Wf, a->ws);
    k->patchify(a->dout, a->dup, B, (int)Vo, (int)Hf, (int)Wf, vit_P(c), 0);
}

float vit_forward(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p;
    VitActs *a = &m->a;
    const int B = b->B;
    CHECK(B >= 1 && B <= m->B, "batch of %d samples, model sized for at most %d", B, m->B);
    const int64_t L = vit_L(c), S = vit_S(c), D = c->D, E = vit_E(c), Dt = vit_Dt(c);
    const int64_t BS = (int64_t)B * S;

    const int Va = vit_Vagg(c); /* tokens per location the cross-attention sees: V, or the D-CHAG blocks */
    const float *agg_in = a->tok;
    if (!vit_first_stage(c)) {
        /* a later pipeline stage: a->x0 holds the previous stage's output */
    } else if (vit_chag(c)) {
        chag_fwd(m, b);
        agg_in = a->ctok;
    } else if (c->mode == CH_GROUPS) {
        vit_groups_embed_fwd(m, b);
    } else {
        k->patch_embed_fwd(a->tok, b->x, p->tok_w, p->tok_b, p->var_embed, B, c->V, c->H, c->W, c->p, c->D, a->ws);
    }
    if (c->mode == CH_AGG && vit_first_stage(c)) {
        /* in_proj rows [0,Dt) project the query, rows [Dt,3Dt) keys and values in one product
         * (this rank's heads under tensor parallelism) */
        k->linear_fwd(a->agg_q, p->var_query, p->agg_in_w, p->agg_in_b, 1, D, Dt, 0);
        k->linear_fwd(a->agg_kv, agg_in, p->agg_in_w + Dt * D, p->agg_in_b + Dt, B * Va * L, D, 2 * Dt, 0);
        k->var_attn_fwd(a->agg_o, a->agg_probs, a->agg_q, a->agg_kv, B, L, Va, vit_NHt(c), (int)Dt);
        vit_row_parallel_fwd(m, a->x0, NULL, a->agg_o, p->agg_out_w, p->agg_out_b, B * L, Dt, D);
    }
    if (vit_first_stage(c) && c->tile_h > 0) {
        CHECK(b->tile_r0 && b->tile_c0, "a tiled model needs each sample's window origin");
        for (int i = 0; i < B; i++) {
            float *win = a->tpos + (int64_t)i * L * D;
            tile_pos(m, b, i, p->pos_embed, win, 0);
            k->pos_lead_fwd(a->x0 + (int64_t)i * S * D, win, p->lead_w, p->lead_b, b->lead + i, 1, S, L, c->D);
        }
    } else if (vit_first_stage(c)) {
        /* (an MAE's batch carries mask seeds in lead: its lead-time input is zero) */
        k->pos_lead_fwd(a->x0, local_pos(m), p->lead_w, p->lead_b, vit_mae(c) ? a->mae_nolead : b->lead, B, S,
                        L, c->D);
    }

    const float *h; /* the head's input */
    const int64_t Mh = vit_head_rows(c, B), Hmax = vit_head_rows(c, m->B);
    if (vit_mae(c)) {
        h = vit_mae_forward(m, b); /* the encoder on the visible tokens, the decoder on all of them */
        if (!h) return 0.0f;       /* a stage before the last: vit_output */
    } else {
        const float *x = a->x0;
        for (int l = 0; l < vit_nblocks(c); l++) {
            BlockParams bp;
            vit_block_at(m, l, 0, &bp, NULL);
            vit_block_fwd(m, B, l, x, S, &m->sa, &bp);
            x = vit_layer_acts(m, l).res2;
        }
        if (!vit_last_stage(c)) return 0.0f; /* vit_output: what goes to the next pipeline stage */
        k->layernorm_fwd(a->lnf, a->lnf_mean, a->lnf_rstd, x, p->norm_w, p->norm_b, BS, D, 1e-5f);
        h = a->lnf;
        if (vit_classify(c)) { /* the mean over the whole sequence: this rank's share, summed over the group */
            k->token_mean_fwd(a->pool, a->lnf, B, S, (int)D, 1.0f / ((float)S * seq_ranks(m)));
            if (m->sa.sp) m->sa.sp->ops->allreduce_sum(m->sa.sp, a->pool, B * D);
            h = a->pool;
        }
    }
    for (int j = 0; j < c->dec_depth; j++) {
        float *pre = a->head_pre + j * Hmax * D, *act = a->head_act + j * Hmax * D;
        k->linear_fwd(pre, h, p->head_w + j * D * D, p->head_b + j * D, Mh, D, D, 0);
        k->gelu_fwd(act, pre, Mh * D);
        h = act;
    }
    k->linear_fwd(a->out, h, p->out_w, p->out_b, Mh, D, E, 0);
    if (vit_reslim(c)) return reslim_fwd(m, b);
    if (!b->y) return 0.0f;
    /* under sequence parallelism every rank of the group has the whole loss; the caller's denominator
     * counts each sample once per rank (the group's mask sums), so the ranks' shares add up to it */
    if (vit_classify(c)) return k->class_loss(a->dout, a->out, b->y, b->mask, B, (int)E, c->multilabel, 1.0f, b->loss_denom);
    if (vit_segment(c)) /* the head's (p_row, p_col, class) layout holds each pixel's logits together: rows of Vo */
        return k->class_loss(a->dout, a->out, b->y, b->mask, (int)(Mh * c->p * c->p), c->Vo, 0, 1.0f, b->loss_denom);
    if (c->mode == CH_GROUPS) return vit_groups_loss(m, b);
    return k->mse_loss(a->dout, a->out, b->y, b->mask, local_wlat(m, b), B, c->Vo, c->H, c->W, c->p,
                       c->mode == CH_MULTI, 1.0f, b->loss_denom, a->ws);
}

/* Tensor parallelism in the backward pass: the activation gradients that feed a replicated
 * region (a LayerNorm, the token embeddings) are partial sums over the group's heads or MLP
 * channels until tp_sum; those of the replicated regions themselves are the same on every rank,
 * so their parameter gradients are too. */
void vit_backward(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    const VitParams *p = &m->p, *g = &m->g;
    VitActs *a = &m->a;
    const int B = b->B;
    CHECK(b->y, "vit_backward needs targets");
    const int64_t L = vit_L(c), S = vit_S(c), D = c->D, E = vit_E(c), Dt = vit_Dt(c);
    const int64_t BS = (int64_t)B * S;
    const int64_t BSmax = (int64_t)m->B * S;

    const int nbl = vit_nblocks(c);
    float *dx = a->dx;
    if (vit_last_stage(c)) {
        /* head: out = Linear(h_last); h_j = GELU(Linear(h_{j-1})); h_{-1} = lnf */
        float *dh = a->dtmp, *dpre = a->dtmp2;
        if (vit_reslim(c)) reslim_bwd(m, b); /* the fine-grid head and residual path: dout */
        const int64_t Mh = vit_head_rows(c, B), Hmax = vit_head_rows(c, m->B);
        const float *h0 = vit_mae(c) ? a->mae_dn : vit_classify(c) ? a->pool : a->lnf;
        const float *h_last = c->dec_depth ? a->head_act + (c->dec_depth - 1) * Hmax * D : h0;
        k->zero(dh, Mh * D);
        k->linear_bwd(dh, g->out_w, g->out_b, a->dout, h_last, p->out_w, Mh, D, E);
        for (int j = c->dec_depth - 1; j >= 0; j--) {
            const float *hin = j ? a->head_act + (j - 1) * Hmax * D : h0;
            k->zero(dpre, Mh * D);
            k->gelu_bwd(dpre, dh, a->head_pre + j * Hmax * D, Mh * D);
            k->zero(dh, Mh * D);
            k->linear_bwd(dh, g->head_w + j * D * D, g->head_b + j * D, dpre, hin, p->head_w + j * D * D, Mh, D, D);
        }
        if (vit_mae(c)) {
            vit_mae_backward(m, b, dh); /* the decoder and the encoder: dx is the gradient of x0 */
            goto embeddings;
        }
        if (vit_classify(c)) { /* back through the mean: this rank's share of the loss came through its
                                * 1/P of the denominator, so its tokens take 1/S_local */
            k->zero(dpre, BS * D);
            k->token_mean_bwd(dpre, dh, B, S, (int)D, 1.0f / (float)S);
            dh = dpre;
        }
        const float *x_last = nbl ? a->res2 + (nbl - 1) * BSmax * D : a->x0;
        k->zero(dx, BS * D);
        k->layernorm_bwd(dx, g->norm_w, g->norm_b, dh, x_last, p->norm_w, a->lnf_mean, a->lnf_rstd, BS, D);
    } /* else a->dx holds the next pipeline stage's gradient of this stage's output */
    if (vit_mae(c)) { /* (the last stage went there above) */
        vit_mae_backward(m, b, NULL);
        goto embeddings;
    }
    if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, nbl);

    for (int l = nbl - 1; l >= 0; l--) {
        const float *xin = l ? a->res2 + (l - 1) * BSmax * D : a->x0;
        BlockParams bp, bg;
        if (c->recompute) { /* the block's activations again, from its input */
            vit_block_at(m, l, 0, &bp, NULL);
            vit_block_fwd(m, B, l, xin, S, &m->sa, &bp);
        }
        vit_block_at(m, l, 1, &bp, &bg);
        vit_block_bwd(m, B, l, xin, dx, S, &m->sa, &bp, &bg);
        if (m->grads_ready) m->grads_ready(m->grads_ready_ctx, l);
    }
embeddings:
    if (!vit_first_stage(c)) return; /* a->dx: the gradient of this stage's input, for the previous stage */
    if (c->tile_h > 0) {
        for (int i = 0; i < B; i++) {
            k->zero(a->dtpos, L * D);
            k->pos_lead_bwd(a->dtpos, g->lead_w, g->lead_b, dx + (int64_t)i * S * D, b->lead + i, 1, S, L, c->D);
            tile_pos(m, b, i, g->pos_embed, a->dtpos, 1);
        }
    } else if (m->pad_rows) { /* the real rows' gradient into pos_embed (0 + x is exact: the same bits) */
        float *dpos = m->pad_mem + L * D;
        k->zero(dpos, L * D);
        k->pos_lead_bwd(dpos, g->lead_w, g->lead_b, dx, b->lead, B, S, L, c->D);
        if (real_patches(m) > 0) k->add_inplace(g->pos_embed + m->l0 * D, dpos, real_patches(m) * D);
    } else {
        k->pos_lead_bwd(g->pos_embed + m->l0 * D, g->lead_w, g->lead_b, dx, vit_mae(c) ? a->mae_nolead : b->lead, B, S, L,
                        c->D);
    }

    const float *dtok = dx;
    if (c->mode == CH_GROUPS) {
        vit_groups_embed_bwd(m, b, dx);
        return;
    }
    if (c->mode == CH_AGG) {
        float *dagg_o = a->dtmp, *dkv = a->dagg, *dq = a->dagg_q, *dvq = a->dtmp2;
        k->zero(dagg_o, B * L * Dt);
        k->linear_bwd(dagg_o, g->agg_out_w, g->agg_out_b, dx, a->agg_o, p->agg_out_w, B * L, Dt, D);
        const int Va = vit_Vagg(c);
        k->zero(dkv, B * Va * L * 2 * Dt);
        k->zero(dq, Dt);
        k->var_attn_bwd(dq, dkv, dagg_o, a->agg_probs, a->agg_q, a->agg_kv, B, L, Va, vit_NHt(c), (int)Dt);
        /* the query is replicated, its gradient a sum over the heads of every rank */
        k->zero(dvq, D);
        k->linear_bwd(dvq, g->agg_in_w, g->agg_in_b, dq, p->var_query, p->agg_in_w, 1, D, Dt);
        vit_tp_sum(m, dvq, D);
        k->add_inplace(g->var_query, dvq, D);
        float *dt = a->dtok;
        k->zero(dt, B * Va * L * D);
        k->linear_bwd(dt, g->agg_in_w + Dt * D, g->agg_in_b + Dt, dkv, vit_chag(c) ? a->ctok : a->tok,
                      p->agg_in_w + Dt * D, B * Va * L, D, 2 * Dt);
        if (vit_chag(c)) { /* each rank gets its blocks' part of the group's sum (a reduce-scatter) */
            chag_bwd(m, b, dt);
            return;
        }
        vit_tp_sum(m, dt, B * Va * L * D);
        dtok = dt;
    }
    k->patch_embed_bwd(g->tok_w, g->tok_b, g->var_embed, dtok, b->x, B, c->V, c->H, c->W, c->p, c->D, a->ws);
}

const float *vit_output(const Vit *m) {
    const int nbl = vit_nblocks(&m->lc);
    if (nbl) return m->a.res2 + (int64_t)(nbl - 1) * m->B * vit_S(&m->lc) * m->lc.D;
    return vit_mae(&m->lc) && vit_first_stage(&m->lc) ? m->a.mae_xv : m->a.x0;
}

void vit_prediction(Vit *m, float *img, int B) {
    const VitConfig *c = &m->lc;
    const int64_t s = vit_scale(c);
    if (vit_classify(c)) m->k->copy(img, m->a.out, (int64_t)B * c->classes);
    else if (vit_reslim(c)) m->k->copy(img, m->a.pred, B * c->Vo * s * c->H * s * c->W);
    else if (c->mode == CH_GROUPS) vit_groups_prediction(m, img, B);
    else m->k->unpatchify(img, m->a.out, B, c->Vo, c->H, c->W, c->p, c->mode == CH_MULTI);
}

double vit_flops_per_sample(const VitConfig *c) {
    const double L = (double)vit_L(c), S = (double)vit_S(c), D = c->D, F = vit_F(c), E = vit_E(c), V = c->V;
    double f = 2.0 * V * L * c->p * c->p * D;                     /* patch embedding */
    if (c->mode == CH_AGG) f += 2.0 * V * L * 2 * D * D + 4.0 * L * V * D + 2.0 * L * D * D;
    f += c->depth * (2.0 * S * D * (3 * D + D + 2 * F) + 4.0 * S * S * D); /* blocks */
    f += 2.0 * (vit_classify(c) ? 1.0 : S) * D * (c->dec_depth * D + E); /* head (a classifier's on the mean token) */
    if (vit_reslim(c)) { /* Reslim: head_conv and the residual path's two convolutions */
        const double s2 = (double)vit_scale(c) * vit_scale(c), HW = (double)c->H * c->W;
        f += 18.0 * HW * (s2 * c->Vo * c->Vo + (double)c->V * vit_Rs(c) + s2 * c->res_width * c->Vo);
    }
    return f;
}
