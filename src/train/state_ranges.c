/* Where each rank's training state lives: canonical ranges of the flat parameter vector (the
 * unsharded layout of io/train_state.h) for checkpoints, the whole model for the final weights,
 * and gradient squares split by tensor-parallel kind for the norms (train/trainer.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "train/trainer.h"

void trainer_sumsq_split(const Trainer *t, const float *v, int64_t lo, int64_t hi, double ss[2]) {
    const Vit *m = &t->model;
    for (int f = 0; f < PF_COUNT; f++) {
        const FieldSpec *fs = &m->fields[f];
        int64_t a = fs->offset > lo ? fs->offset : lo, b = fs->offset + fs->numel < hi ? fs->offset + fs->numel : hi;
        if (fs->present && a < b) ss[vit_field_split(&m->cfg, f) == TP_NONE] += m->k->sumsq(v + (a - lo), b - a);
    }
}

int trainer_state_max_ranges(const Trainer *t) {
    /* the pieces of the local vector, each cut at most once more by a range's ends: the replicated
     * part and (ZeRO-3) every block field's shard */
    return 2 + 2 * t->model.nseg + 2 * (PF_fc2_b - PF_n1_w + 1) * t->model.cfg.depth;
}

int trainer_vec_ranges(const Trainer *t, float *base, int64_t lo, int64_t hi, int own, StateRange *r, float **dev) {
    const Vit *m = &t->model;
    int n = 0;
    for (int i = 0; i < m->nseg; i++) {
        const VitSeg *s = &m->seg[i];
        int64_t a = s->local > lo ? s->local : lo, b = s->local + s->len < hi ? s->local + s->len : hi;
        if (a >= b || (own && !s->sharded && m->tp_rank != 0)) continue;
        r[n] = (StateRange){s->canon + (a - s->local), b - a};
        dev[n++] = base + (a - lo);
    }
    return n;
}

int trainer_replicated_ranges(const Trainer *t, int vec, int own, int all_own_moments, StateRange *r, float **dev) {
    const Vit *m = &t->model;
    const int first = t->par->dp.rank == 0;
    if (vec == SV_PARAMS) /* replicated over dp: the first rank writes them; under ZeRO-3 only those outside the blocks */
        return first || !own ? trainer_vec_ranges(t, m->param_mem, 0, m->n_alloc, own, r, dev) : 0;
    float *mv = vec == SV_ADAM_M ? t->opt.m : t->opt.v;
    int64_t hi = t->opt.hi < m->n_params ? t->opt.hi : m->n_params;
    if ((all_own_moments || first || !own) && hi > t->opt.lo) return trainer_vec_ranges(t, mv, t->opt.lo, hi, own, r, dev);
    return 0;
}

int trainer_mirror_ranges(const Trainer *t, float *mirror, int own, StateRange *r, float **dev) {
    /* the parameters' ranges (so each element is written once, as theirs are), each moved from its
     * piece of parameter memory to the same place in the mirror */
    const int n = t->sh->state_ranges(t, SV_PARAMS, own, r, dev);
    float *p[2];
    int64_t len[2];
    const int np = t->sh->held(t, p, len);
    for (int i = 0; i < n; i++) {
        int64_t off = 0;
        int j = 0;
        for (; j < np; off += len[j++]) {
            uintptr_t a = (uintptr_t)p[j], d = (uintptr_t)dev[i];
            if (d >= a && d < a + (uintptr_t)len[j] * sizeof(float)) break;
        }
        CHECK(j < np, "a parameter range outside the parameter memory");
        dev[i] = mirror + off + (dev[i] - p[j]);
    }
    return n;
}

int trainer_state_ranges(const Trainer *t, int vec, int own, StateRange *r, float **dev) {
    if (vec == SV_EMA) return t->ema ? trainer_mirror_ranges(t, t->ema, own, r, dev) : 0;
    return t->sh->state_ranges(t, vec, own, r, dev);
}

void trainer_full_params(Trainer *t, float *host) {
    Vit *m = &t->model;
    Comm *mp = &t->par->mp;
    CHECK(host || mp->size == 1, "trainer_full_params: every rank of a model-parallel group needs the host vector");
    float *mine = mp->size > 1 ? xmalloc(sizeof(float) * (size_t)m->n_params) : host; /* this rank's layout */
    t->sh->full_params(t, mine);
    if (mp->size == 1) return;
    /* every element from the one rank of the model-parallel group that writes it (its tp shard or,
     * for a replicated tensor, the first tp rank; its pipeline stage), zeros elsewhere: the sum
     * over the group is the whole model, exactly */
    memset(host, 0, sizeof(float) * (size_t)m->n_canon);
    for (int i = 0; i < m->nseg; i++)
        if (m->seg[i].sharded || m->tp_rank == 0)
            memcpy(host + m->seg[i].canon, mine + m->seg[i].local, sizeof(float) * (size_t)m->seg[i].len);
    mp->ops->allreduce_sum(mp, host, m->n_canon);
    free(mine);
}
