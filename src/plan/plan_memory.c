/* What one rank holds under a layout (plan/plan.h), from the size functions the model and the
 * trainer allocate with: vit_params_layout (parameters of a stage's tensor-parallel shard),
 * vit_acts_carve without memory (activations, scratch, sequence-parallel buffers), the
 * Shardings' shard sizes (src/train/shard_*.c) and the trainer's batch buffers. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "model/acts.h"
#include "model/params.h"
#include "plan/plan.h"

/* The configuration stage q of a layout computes: whole model shape with tp, pp, D-CHAG and
 * recomputation set (what trainer_init hands vit_init). */
static VitConfig stage_config(const VitConfig *c, const PlanLayout *l, int q, int recompute) {
    VitConfig s = *c;
    s.tp = l->tp;
    s.pp = l->pp;
    s.pp_stage = q;
    s.recompute = recompute;
    if (l->chag) s.chag = l->chag;
    return s;
}

/* This rank's rows (vit_init: ceil(patch rows / sp) of them, padded on the last ranks; or a TILES
 * window). */
static VitConfig local_config(const VitConfig *s, int P) {
    VitConfig lc = *s;
    if (s->tile_h > 0) {
        lc.H = s->tile_h;
        lc.W = s->tile_w;
    } else {
        lc.H = (s->H / s->p + P - 1) / P * s->p;
    }
    return lc;
}

/* Floats of one activation set of stage config s for micro-batches of Bm samples; parts: the
 * embedding share, the kernel workspace and the sequence-parallel buffers. */
static int64_t act_floats(const VitConfig *s, const PlanLayout *l, int Bm, int threads, int64_t parts[3]) {
    Comm sp = {0}, spu = {0}, spr = {0}; /* only their sizes are read */
    sp.size = l->sp;
    spu.size = l->sp_mode == SP_USP ? l->sp_u : 1;
    spr.size = l->sp_mode == SP_USP ? l->sp / l->sp_u : 1;
    SeqAttn sa;
    memset(&sa, 0, sizeof sa);
    sa.sp = l->sp > 1 ? &sp : NULL;
    sa.spu = &spu;
    sa.spr = &spr;
    sa.mode = (SpMode)l->sp_mode;
    VitConfig lc = local_config(s, l->sp);
    VitActs a;
    const int was = omp_get_max_threads();
    if (threads > 0) omp_set_num_threads(threads); /* the kernels' workspace is per thread */
    int64_t n = vit_acts_carve(&a, &lc, Bm, kernels_cpu(), &sa, NULL);
    if (threads > 0) omp_set_num_threads(was);
    const int nl = s->recompute && vit_nblocks(s) ? 1 : vit_nblocks(s);
    parts[0] = a.embed_floats;
    parts[1] = a.ws_floats;
    parts[2] = seq_attn_floats(&sa, nl);
    return n;
}

/* Parameters of stage config s: this rank's count and where its block fields start. The
 * enumeration asks for the same few (tp, pp, stage, D-CHAG) many times: the last answers are
 * kept (the model's other fields are the same within one plan). */
static void param_counts(const VitConfig *s, int64_t *n_params, int64_t *before_blocks) {
    enum { NC = 64 };
    static struct { VitConfig c; int64_t np, nb0; } cache[NC];
    static int ncache, next;
    for (int i = 0; i < ncache; i++)
        if (!memcmp(&cache[i].c, s, sizeof *s)) {
            *n_params = cache[i].np;
            *before_blocks = cache[i].nb0;
            return;
        }
    FieldSpec fields[PF_COUNT];
    ParamSpec *specs = NULL;
    VitSeg *seg = NULL;
    int nspecs = 0, nseg = 0;
    int64_t n_canon = 0;
    vit_params_layout(s, 0, fields, n_params, &specs, &nspecs, &n_canon, &seg, &nseg);
    *before_blocks = fields[PF_n1_w].offset;
    free(specs);
    free(seg);
    cache[next].c = *s;
    cache[next].np = *n_params;
    cache[next].nb0 = *before_blocks;
    next = (next + 1) % NC;
    if (ncache < NC) ncache++;
}

void plan_stage_params(const VitConfig *c, const PlanLayout *l, int q, int64_t *n_params, int64_t *before_blocks) {
    const VitConfig s = stage_config(c, l, q, l->recompute);
    param_counts(&s, n_params, before_blocks);
}

static void stage_memory(const PlanInput *in, const PlanLayout *l, int q, PlanMem *m) {
    const VitConfig *c = &in->cfg;
    const int dp = l->dp, K = l->pp, M = l->microbatches > 0 ? l->microbatches : 1, Bd = in->batch / dp;
    const VitConfig s = stage_config(c, l, q, l->recompute);
    int64_t np, nb0;
    param_counts(&s, &np, &nb0);
    const int nblk = vit_nblocks(&s);
    double params, grads, opt, gathered = 0, host_init = (double)np;
    if (l->zero == 3) { /* shard_fsdp.c: the replicated fields whole, each block in shards of sb */
        const int F = l->fsdp > 0 ? l->fsdp : dp;
        const int64_t bl = nblk ? (np - nb0) / nblk : 0, sb = (bl + F - 1) / F;
        params = grads = (double)nb0 + (double)nblk * sb;
        opt = 2 * params;
        gathered = 2.0 * F * sb + sb;
    } else if (l->zero == 1) { /* shard_zero1.c: memory padded to dp shards, AdamW on one */
        const int64_t shard = (np + dp - 1) / dp;
        params = (double)shard * dp;
        grads = params + shard;
        opt = 2.0 * shard;
    } else {
        params = grads = (double)np;
        opt = 2.0 * np;
    }
    /* trainer.c: stage q keeps min(K - q, M) activation sets of B / (dp M) samples */
    const int slots = K > 1 ? (K - q < M ? K - q : M) : 1;
    int64_t parts[3], parts_o[3];
    const double acts = (double)act_floats(&s, l, Bd / M, in->mach.threads, parts) * slots;
    const VitConfig so = stage_config(c, l, q, !l->recompute);
    const double acts_o = (double)act_floats(&so, l, Bd / M, in->mach.threads, parts_o) * slots;
    /* the batch (dataset.c host_batch_init_rows): x, y and mask of B/dp samples' rows, in the
     * backend copy, the evaluation buffer and the prefetch thread's two */
    const VitConfig lc = local_config(&s, l->sp);
    const double cells = (double)Bd * c->V * lc.H * lc.W, batch1 = 3 * cells + Bd + c->H;
    const int host = in->mach.device == 0;
    const double batch = host ? 4 * batch1 : batch1;
    /* start-up (trainer_init): the host copy of the initial parameters [n_params], and the
     * canonical vector [n_canon] where this rank's layout is a cut of it, live until the
     * Sharding has allocated its state; the batch buffers come after */
    double canon = 0;
    if (l->tp > 1 || K > 1) { /* the whole model: stage config of one rank, one stage */
        PlanLayout one = {.dp = 1, .sp = 1, .tp = 1, .pp = 1, .chag = l->chag};
        const VitConfig w = stage_config(c, &one, 0, 0);
        int64_t n, b;
        param_counts(&w, &n, &b);
        canon = (double)n;
    }
    const double sh_extra = l->zero == 3 ? opt + params - nb0 + gathered : l->zero == 1 ? opt + (grads - params) : opt;
    double init = host ? host_init + (canon > sh_extra ? canon : sh_extra) - sh_extra - batch : 0;
    if (init < 0) init = 0;
    const double f = 4; /* fp32 */
    m->params = f * params;
    m->grads = f * grads;
    m->opt = f * opt;
    m->gathered = f * gathered;
    m->acts = f * acts;
    m->acts_embed = f * (double)parts[0] * slots;
    m->attn_ws = f * (double)parts[1] * slots;
    m->seq_buf = f * (double)parts[2] * slots;
    m->acts_other = f * acts_o;
    m->batch = f * batch;
    m->init_extra = f * init;
    m->data = host ? f * (double)in->data_times * c->V * c->H * c->W : 0;
    const int N = l->dp * l->sp * l->tp * l->pp, rpn = in->mach.ranks_per_node;
    const int local = N < rpn ? N : rpn;
    m->base = N == 1 ? in->mach.base_bytes : in->mach.base_mpi_bytes + (local - 2 > 0 ? local - 2 : 0) * in->mach.base_peer_bytes;
    m->comm = 0;
    m->total = m->params + m->grads + m->opt + m->gathered + m->acts + m->batch + m->data + m->init_extra + m->comm + m->base;
}

void plan_memory(const PlanInput *in, const PlanLayout *l, PlanMem *m) {
    stage_memory(in, l, 0, m); /* the first stage: most activation sets, the embeddings */
    if (l->pp > 1) {
        PlanMem last;
        stage_memory(in, l, l->pp - 1, &last);
        if (last.total > m->total) *m = last;
    }
}
