/* ZeRO-1: parameters and gradients replicated, AdamW moments sharded over dp. After the backward
 * pass each rank reduce-scatters the gradients into its shard, clips and updates that shard, and
 * the ranks all-gather the parameters. The parameter memory is padded to equal shards. */
#include <math.h>
#include "train/trainer.h"

static void z1_init(Trainer *t, const float *host) {
    (void)host;
    const int P = t->par->dp.size;
    t->shard = (t->model.n_params + P - 1) / P;
    int64_t lo = (int64_t)t->par->dp.rank * t->shard;
    adamw_init_range(&t->opt, &t->model, &t->opt_cfg, lo, lo + t->shard);
    t->gshard = t->model.k->alloc((size_t)t->shard * sizeof(float));
}

static void z1_free(Trainer *t) {
    t->model.k->free(t->gshard);
    t->gshard = NULL;
}

static void z1_zero_grads(Trainer *t) { t->model.k->zero(t->model.grad_mem, t->model.n_alloc); }

static double z1_reduce(Trainer *t) {
    Vit *m = &t->model;
    Comm *dp = &t->par->dp, *sp = &t->par->sp;
    adamw_zero_frozen(&t->opt, m, m->grad_mem, 0, m->n_params); /* the norm of the trained parameters only */
    if (sp->size > 1) sp->ops->allreduce_sum(sp, m->grad_mem, m->n_params);
    dp->ops->reduce_scatter(dp, t->gshard, m->grad_mem, t->shard);
    double ss;
    if (!m->tp) {
        ss = m->k->sumsq(t->gshard, t->shard); /* the padding is zero */
        dp->ops->allreduce_sum_f64(dp, &ss, 1);
    } else { /* the shard's squares split by field kind: tp-sharded ones also summed over tp */
        double sk[2] = {0, 0};
        trainer_sumsq_split(t, t->gshard, t->opt.lo, t->opt.lo + t->shard, sk);
        dp->ops->allreduce_sum_f64(dp, sk, 2);
        m->tp->ops->allreduce_sum_f64(m->tp, sk, 1);
        ss = sk[0] + sk[1];
    }
    Comm *pp = &t->par->pp; /* the stages' parameters are disjoint */
    if (pp->size > 1) pp->ops->allreduce_sum_f64(pp, &ss, 1);
    return sqrt(ss);
}

static void z1_apply(Trainer *t, float lr, double grad_norm) {
    Vit *m = &t->model;
    Comm *dp = &t->par->dp;
    adamw_step(&t->opt, m, t->gshard, lr, grad_norm);
    dp->ops->allgather(dp, m->param_mem, m->param_mem + t->opt.lo, t->shard);
}

static void z1_full_params(Trainer *t, float *host) {
    if (host) t->model.k->download(host, t->model.param_mem, t->model.n_params);
}

static void z1_set_params(Trainer *t, const float *host) { t->model.k->upload(t->model.param_mem, host, t->model.n_params); }

static int z1_held(const Trainer *t, float **p, int64_t *n) { /* the padding to equal shards stays zero */
    p[0] = t->model.param_mem, n[0] = t->model.n_params;
    return 1;
}

static int z1_state_ranges(const Trainer *t, int vec, int own, StateRange *r, float **dev) {
    return trainer_replicated_ranges(t, vec, own, 1, r, dev); /* every rank writes its moments' shard */
}

static void z1_memory(const Trainer *t, int64_t *params, int64_t *grads, int64_t *opt, int64_t *gathered) {
    (void)params, (void)opt, (void)gathered;
    *grads += t->shard;
}

const Sharding sharding_zero1 = {
    .name = "zero1",
    .pad_to_dp = 1,
    .init = z1_init,
    .free = z1_free,
    .zero_grads = z1_zero_grads,
    .reduce = z1_reduce,
    .apply = z1_apply,
    .full_params = z1_full_params,
    .set_params = z1_set_params,
    .held = z1_held,
    .state_ranges = z1_state_ranges,
    .memory = z1_memory,
};
