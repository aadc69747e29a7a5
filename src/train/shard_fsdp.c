/* ZeRO-3 / FSDP over groups of data-parallel ranks (--zero 3: one group of all dp ranks;
 * --fsdp F: groups of F, replicated across the dp/F groups): every block's parameters live only
 * as shards; a block is all-gathered over its group into one buffer just before its forward
 * (and again before its backward) and dropped after; its gradients are reduce-scattered into
 * the shards as soon as the block's backward is done, then all-reduced across the replicas.
 * The parameters outside the blocks (embeddings, head: small) stay replicated and are
 * all-reduced. With tensor parallelism (Hybrid-STOP) the same happens to each rank's tp shard
 * of the blocks: a rank stores 1/(T F) of them and gathers 1/T of one block at a time.
 * A block's shard layout: the block's 12 slices (n1_w ... fc2_b) one after the other (length
 * bl), padded to F * sb; rank j of the group holds [j*sb, (j+1)*sb). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train/trainer.h"
#include "core/check.h"

static float **bp_slot(BlockParams *b, int f) {
    float **s[12] = {&b->n1_w, &b->n1_b, &b->qkv_w, &b->qkv_b, &b->proj_w, &b->proj_b,
                     &b->n2_w, &b->n2_b, &b->fc1_w, &b->fc1_b, &b->fc2_w, &b->fc2_b};
    return s[f - PF_n1_w];
}

static void block_at(void *ctx, int layer, int backward, BlockParams *p, BlockParams *g) {
    Trainer *t = ctx;
    Fsdp *z = &t->fsdp;
    Comm *dp = &t->par->fs;
    dp->ops->allgather(dp, z->gb, z->pshard + layer * z->sb, z->sb);
    for (int f = PF_n1_w; f <= PF_fc2_b; f++) *bp_slot(p, f) = z->gb + z->bo[f];
    if (backward) {
        t->model.k->zero(z->gg, (int64_t)dp->size * z->sb);
        for (int f = PF_n1_w; f <= PF_fc2_b; f++) *bp_slot(g, f) = z->gg + z->bo[f];
    }
}

static void grads_ready(void *ctx, int layer) {
    Trainer *t = ctx;
    Fsdp *z = &t->fsdp;
    if (layer == vit_nblocks(&t->model.cfg)) return; /* head: reduced with the other replicated ones */
    int trained = 0; /* --freeze-encoder: a frozen block's gradient shards stay zero, unreduced */
    for (int f = PF_n1_w; f <= PF_fc2_b; f++) trained |= !t->opt.frozen[f];
    if (!trained) return;
    Comm *fs = &t->par->fs, *sp = &t->par->sp, *rep = &t->par->rep;
    if (sp->size > 1) sp->ops->allreduce_sum(sp, z->gg, z->bl);
    /* into the shard's sum over the step's micro-batches (one with no pipeline; zeroed per step) */
    fs->ops->reduce_scatter(fs, z->gtmp, z->gg, z->sb);
    if (rep->size > 1) rep->ops->allreduce_sum(rep, z->gtmp, z->sb);
    t->model.k->add_inplace(z->gshard + layer * z->sb, z->gtmp, z->sb);
}

/* this rank's part of block-local range [a, b) of field f: shard offsets [e0, e0 + n) */
static int64_t mine(const Fsdp *z, int rank, int f, int64_t *e0, int64_t *src) {
    int64_t lo = (int64_t)rank * z->sb, hi = lo + z->sb;
    int64_t a = z->bo[f] > lo ? z->bo[f] : lo, b = z->bo[f] + z->per[f] < hi ? z->bo[f] + z->per[f] : hi;
    if (a >= b) return 0;
    *e0 = a - lo;
    *src = a - z->bo[f];
    return b - a;
}

/* this rank's block shards from host [n_params] (the blocks' fields, field-major) */
static void upload_shards(Trainer *t, const float *host) {
    Fsdp *z = &t->fsdp;
    const Vit *m = &t->model;
    for (int l = 0; l < vit_nblocks(&m->cfg); l++)
        for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
            int64_t e0, src, n = mine(z, t->par->fs.rank, f, &e0, &src);
            if (n) m->k->upload(z->pshard + l * z->sb + e0, host + m->fields[f].offset + l * z->per[f] + src, n);
        }
}

static void fsdp_init(Trainer *t, const float *host) {
    Fsdp *z = &t->fsdp;
    z->on = 1;
    Vit *m = &t->model;
    const Kernels *k = m->k;
    const int P = t->par->fs.size, depth = vit_nblocks(&m->cfg);
    z->bl = 0;
    for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
        z->per[f] = m->fields[f].numel / depth;
        z->bo[f] = z->bl;
        z->bl += z->per[f];
    }
    z->sb = (z->bl + P - 1) / P;
    size_t shard = (size_t)depth * z->sb * sizeof(float), full = (size_t)P * z->sb * sizeof(float);
    z->pshard = k->alloc(shard);
    z->gshard = k->alloc(shard);
    z->m = k->alloc(shard);
    z->v = k->alloc(shard);
    z->gb = k->alloc(full);
    z->gg = k->alloc(full);
    z->gtmp = k->alloc((size_t)z->sb * sizeof(float));
    upload_shards(t, host);
    m->block_at = block_at;
    m->block_at_ctx = t;
    m->grads_ready = grads_ready;
    m->grads_ready_ctx = t;
    adamw_init_range(&t->opt, m, &t->opt_cfg, 0, m->n_alloc); /* the replicated parameters */
}

static void fsdp_free(Trainer *t) {
    const Kernels *k = t->model.k;
    Fsdp *z = &t->fsdp;
    k->free(z->pshard), k->free(z->gshard), k->free(z->m), k->free(z->v), k->free(z->gb), k->free(z->gg), k->free(z->gtmp);
    memset(z, 0, sizeof *z);
}

/* The squares of the gradients this rank holds, split by whether tensor parallelism shards the
 * field ([0]) or replicates it ([1]): the replicated part of the model (the same on every rank
 * of the group), then the block shards (disjoint over the group). */
static void sumsq_by_split(Trainer *t, double ss[2], double sh[2]) {
    Fsdp *z = &t->fsdp;
    Vit *m = &t->model;
    trainer_sumsq_split(t, m->grad_mem, 0, m->n_alloc, ss); /* memory holds only the fields before the blocks */
    for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
        if (t->opt.frozen[f]) continue; /* the norm of the trained parameters only */
        for (int l = 0; l < vit_nblocks(&m->cfg); l++) {
            int64_t e0, src, n = mine(z, t->par->fs.rank, f, &e0, &src);
            if (n) sh[vit_field_split(&m->cfg, f) == TP_NONE] += m->k->sumsq(z->gshard + l * z->sb + e0, n);
        }
    }
}

static void fsdp_zero_grads(Trainer *t) {
    const Vit *m = &t->model;
    m->k->zero(m->grad_mem, m->n_alloc);
    m->k->zero(t->fsdp.gshard, vit_nblocks(&m->cfg) * t->fsdp.sb);
}

static double fsdp_reduce(Trainer *t) {
    Vit *m = &t->model;
    Comm *w = &t->par->dsp, *fs = &t->par->fs, *tp = &t->par->tp;
    if (w->size > 1) w->ops->allreduce_sum(w, m->grad_mem, m->n_alloc); /* the replicated parameters */
    adamw_zero_frozen(&t->opt, m, m->grad_mem, 0, m->n_alloc);
    double ss[2] = {0, 0}, sh[2] = {0, 0};
    sumsq_by_split(t, ss, sh);
    fs->ops->allreduce_sum_f64(fs, sh, 2); /* the shards are disjoint over the group */
    double tot[2] = {ss[0] + sh[0], ss[1] + sh[1]};
    if (tp->size > 1) tp->ops->allreduce_sum_f64(tp, tot, 1); /* and the tp-sharded fields over the tp group */
    double all = tot[0] + tot[1];
    Comm *pp = &t->par->pp; /* and the pipeline stages' (disjoint) parameters */
    if (pp->size > 1) pp->ops->allreduce_sum_f64(pp, &all, 1);
    return sqrt(all);
}

static void fsdp_apply(Trainer *t, float lr, double grad_norm) {
    Fsdp *z = &t->fsdp;
    Vit *m = &t->model;
    const Kernels *k = m->k;
    const int depth = vit_nblocks(&m->cfg), r = t->par->fs.rank;
    adamw_step(&t->opt, m, m->grad_mem, lr, grad_norm); /* clips and updates the replicated ones */
    const OptConfig *c = &t->opt.cfg;
    double coef = c->grad_clip / (grad_norm + 1e-6);
    if (c->grad_clip > 0 && coef < 1.0) k->scale(z->gshard, (float)coef, depth * z->sb);
    float bc1 = 1.0f - powf(c->beta1, (float)t->opt.t), bc2 = 1.0f - powf(c->beta2, (float)t->opt.t);
    for (int l = 0; l < depth; l++)
        for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
            int64_t e0, src, n = mine(z, r, f, &e0, &src);
            if (!n || t->opt.frozen[f]) continue; /* frozen: no update, no decay */
            int64_t o = l * z->sb + e0;
            k->adamw(z->pshard + o, z->m + o, z->v + o, z->gshard + o, n, lr, c->beta1, c->beta2, c->eps,
                     m->fields[f].decay ? c->weight_decay : 0.0f, bc1, bc2);
        }
}

/* the replicated parameters' ranges, then the block shards' */
static int fsdp_state_ranges(const Trainer *t, int vec, int own, StateRange *r, float **dev) {
    const Fsdp *z = &t->fsdp;
    const Vit *m = &t->model;
    float *base = vec == SV_PARAMS ? z->pshard : vec == SV_ADAM_M ? z->m : z->v;
    int n = trainer_replicated_ranges(t, vec, own, 0, r, dev);
    if (own && t->par->rep.rank != 0) return n; /* the first group writes the shards */
    for (int l = 0; l < vit_nblocks(&m->cfg); l++)
        for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
            int64_t e0, src, len = mine(z, t->par->fs.rank, f, &e0, &src);
            if (!len) continue;
            int64_t lo = m->fields[f].offset + l * z->per[f] + src;
            n += trainer_vec_ranges(t, base + l * z->sb + e0, lo, lo + len, own, r + n, dev + n);
        }
    return n;
}

static void fsdp_full_params(Trainer *t, float *host) {
    Fsdp *z = &t->fsdp;
    Vit *m = &t->model;
    Comm *dp = &t->par->fs;
    float *blk = host ? xmalloc((size_t)dp->size * z->sb * sizeof(float)) : NULL;
    if (host) m->k->download(host, m->param_mem, m->n_alloc);
    for (int l = 0; l < vit_nblocks(&m->cfg); l++) {
        dp->ops->allgather(dp, z->gb, z->pshard + l * z->sb, z->sb);
        if (!host) continue; /* a rank that only takes part in the gathers */
        m->k->download(blk, z->gb, (int64_t)dp->size * z->sb);
        for (int f = PF_n1_w; f <= PF_fc2_b; f++)
            memcpy(host + m->fields[f].offset + l * z->per[f], blk + z->bo[f], sizeof(float) * (size_t)z->per[f]);
    }
    free(blk);
}

static void fsdp_set_params(Trainer *t, const float *host) {
    t->model.k->upload(t->model.param_mem, host, t->model.n_alloc); /* the replicated ones */
    upload_shards(t, host);
}

/* the replicated parameters and the block shards (their padding stays zero: alloc zeroes it and
 * no update touches it) */
static int fsdp_held(const Trainer *t, float **p, int64_t *n) {
    p[0] = t->model.param_mem, n[0] = t->model.n_alloc;
    p[1] = t->fsdp.pshard, n[1] = vit_nblocks(&t->model.cfg) * t->fsdp.sb;
    return 2;
}

static void fsdp_memory(const Trainer *t, int64_t *params, int64_t *grads, int64_t *opt, int64_t *gathered) {
    const Fsdp *z = &t->fsdp;
    const int64_t sharded = vit_nblocks(&t->model.cfg) * z->sb; /* this rank's block shards */
    *params += sharded;
    *grads += sharded;
    *opt += 2 * sharded;
    *gathered += 2 * (int64_t)t->par->fs.size * z->sb + z->sb; /* one block and its gradients */
}

const Sharding sharding_fsdp = {
    .name = "fsdp",
    .external_blocks = 1,
    .init = fsdp_init,
    .free = fsdp_free,
    .zero_grads = fsdp_zero_grads,
    .reduce = fsdp_reduce,
    .apply = fsdp_apply,
    .full_params = fsdp_full_params,
    .set_params = fsdp_set_params,
    .held = fsdp_held,
    .state_ranges = fsdp_state_ranges,
    .memory = fsdp_memory,
};
