/* Replicated data parallelism: every rank holds the whole state; the gradients are all-reduced
 * over dp x sp, overlapped with the backward pass: as vit_backward finishes the head and then
 * each block, their gradients (contiguous per-layer slices of the field-major table) go into
 * non-blocking all-reduces; the embeddings, final after the pass, follow. Also the layout of a
 * single replica. */
#include <math.h>
#include <stdlib.h>
#include "core/check.h"
#include "train/trainer.h"

static void reduce_start(Trainer *t, int64_t off, int64_t n) {
    Comm *w = &t->par->dsp;
    if (n <= 0) return;
    CHECK(t->nreq < t->maxreq, "more gradient buckets than planned (%d)", t->maxreq);
    w->ops->allreduce_start(w, t->model.grad_mem + off, n, &t->reqs[t->nreq++]);
}

static void grads_ready(void *ctx, int layer) {
    Trainer *t = ctx;
    const Vit *m = &t->model;
    if (layer == vit_nblocks(&m->cfg)) { /* memory: [before the blocks][after the blocks][blocks] */
        reduce_start(t, m->fields[PF_norm_w].offset, m->fields[PF_n1_w].offset - m->fields[PF_norm_w].offset);
    } else {
        for (int f = PF_n1_w; f <= PF_fc2_b; f++) {
            if (t->opt.frozen[f]) continue; /* --freeze-encoder: its gradient is dropped, not reduced */
            int64_t per = m->fields[f].numel / vit_nblocks(&m->cfg);
            reduce_start(t, m->fields[f].offset + layer * per, per);
        }
    }
    Comm *w = &t->par->dsp;
    for (int i = 0; i < t->nreq; i++) w->ops->test(w, &t->reqs[i]); /* let them progress */
}

static void rep_init(Trainer *t, const float *host) {
    (void)host;
    Parallel *par = t->par;
    if (par->dsp.size > 1 && !par->no_overlap && par->pp.size == 1) {
        t->maxreq = (PF_fc2_b - PF_n1_w + 1) * t->model.cfg.depth + 2;
        t->reqs = xcalloc((size_t)t->maxreq, sizeof(CommReq));
        t->model.grads_ready = grads_ready;
        t->model.grads_ready_ctx = t;
    }
    adamw_init_range(&t->opt, &t->model, &t->opt_cfg, 0, t->model.n_alloc);
}

static void rep_free(Trainer *t) {
    free(t->reqs);
    t->reqs = NULL;
}

static void rep_zero_grads(Trainer *t) {
    t->model.k->zero(t->model.grad_mem, t->model.n_alloc);
    t->nreq = 0;
}

/* The global gradient norm under tensor and pipeline parallelism: the tp shards' squares summed
 * over the tp group, the replicated tensors' (the same on every tp rank) counted once, the
 * stages' (disjoint) summed over the pipeline; every rank gets the same bits. */
static double model_grad_norm(Trainer *t) {
    const Vit *m = &t->model;
    double ss[2] = {0, 0}; /* sharded, replicated */
    trainer_sumsq_split(t, m->grad_mem, 0, m->n_params, ss);
    if (m->tp) m->tp->ops->allreduce_sum_f64(m->tp, ss, 1);
    double tot = ss[0] + ss[1];
    Comm *pp = &t->par->pp;
    if (pp->size > 1) pp->ops->allreduce_sum_f64(pp, &tot, 1);
    return sqrt(tot);
}

static double rep_reduce(Trainer *t) {
    Vit *m = &t->model;
    Comm *w = &t->par->dsp;
    if (t->reqs) { /* the last bucket: the embeddings; then everything must have arrived */
        reduce_start(t, 0, m->fields[PF_norm_w].offset);
        for (int i = 0; i < t->nreq; i++) w->ops->wait(w, &t->reqs[i]);
    } else if (w->size > 1) { /* --no-overlap, or a pipeline: after the pass, in one all-reduce */
        w->ops->allreduce_sum(w, m->grad_mem, m->n_params);
    }
    adamw_zero_frozen(&t->opt, m, m->grad_mem, 0, m->n_params); /* the norm of the trained parameters only */
    return m->tp || t->slots ? model_grad_norm(t) : opt_grad_norm(m);
}

static void rep_apply(Trainer *t, float lr, double grad_norm) {
    adamw_step(&t->opt, &t->model, t->model.grad_mem, lr, grad_norm);
}

static void rep_full_params(Trainer *t, float *host) {
    if (host) t->model.k->download(host, t->model.param_mem, t->model.n_params);
}

static void rep_set_params(Trainer *t, const float *host) { t->model.k->upload(t->model.param_mem, host, t->model.n_params); }

static int rep_held(const Trainer *t, float **p, int64_t *n) {
    p[0] = t->model.param_mem, n[0] = t->model.n_params;
    return 1;
}

static int rep_state_ranges(const Trainer *t, int vec, int own, StateRange *r, float **dev) {
    return trainer_replicated_ranges(t, vec, own, 0, r, dev);
}

static void rep_memory(const Trainer *t, int64_t *params, int64_t *grads, int64_t *opt, int64_t *gathered) {
    (void)t, (void)params, (void)grads, (void)opt, (void)gathered;
}

const Sharding sharding_replicated = {
    .name = "replicated",
    .init = rep_init,
    .free = rep_free,
    .zero_grads = rep_zero_grads,
    .reduce = rep_reduce,
    .apply = rep_apply,
    .full_params = rep_full_params,
    .set_params = rep_set_params,
    .held = rep_held,
    .state_ranges = rep_state_ranges,
    .memory = rep_memory,
};
