#include "train/trainer.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"

static double mib(int64_t floats) { return floats * 4.0 / 1048576.0; }

void trainer_memory(const Trainer *t, TrainerMem *mem) {
    const Vit *m = &t->model;
    const int slots = t->nslots > 1 ? t->nslots : 1;
    mem->params = m->n_alloc;
    mem->grads = m->n_alloc;
    mem->opt = 2 * (t->opt.hi - t->opt.lo);
    mem->gathered = 0;
    t->sh->memory(t, &mem->params, &mem->grads, &mem->opt, &mem->gathered);
    mem->acts = m->act_floats * slots;
    mem->embed = m->embed_floats * slots;
}

void trainer_init(Trainer *t, const VitConfig *cfg, const OptConfig *oc, const Task *task, int train_t0, int train_t1,
                  int Bg, uint64_t seed, const Kernels *k, Parallel *par) {
    memset(t, 0, sizeof *t);
    t->task = task;
    t->par = par;
    t->opt_cfg = *oc;
    CHECK(Bg % par->dp.size == 0, "batch %d is not divisible by dp %d", Bg, par->dp.size);
    const int B = Bg / par->dp.size;
    t->B = B;
    t->B_global = Bg;
    char err[512];
    if (task->ops->sampler(task, &t->train, train_t0, train_t1, seed, 1, err, sizeof err))
        DIE_USER("training split: %s", err);
    sampler_shard(&t->train, par->dp.rank, par->dp.size);
    if (par->zero >= 3 && !par->fs.ops) parallel_split_fsdp(par, par->fsdp > 0 ? par->fsdp : par->dp.size);
    const Sharding *sh = t->sh = sharding_for(par);
    SeqGroup g = {&par->sp, &par->spu, &par->spr, (SpMode)par->sp_mode};
    const int K = par->pp.size, M = K > 1 ? (par->microbatches > 0 ? par->microbatches : 1) : 1;
    CHECK(B % M == 0, "pipeline: %d micro-batches of %d samples", M, B);
    t->mb = M;
    VitConfig sc = *cfg; /* this rank's pipeline stage */
    sc.pp = K;
    sc.pp_stage = par->pp.rank;
    task->ops->stage_config(task, &sc);
    const VitLayout lay = {.multiple = sh->pad_to_dp ? par->dp.size : 1, .seq = par->sp.size > 1 ? &g : NULL,
                           .external_blocks = sh->external_blocks, .tp = par->tp.size > 1 ? &par->tp : NULL};
    vit_init(&t->model, &sc, &lay, B / M, k);
    if (K > 1) { /* 1F1B: stage q has at most K - q micro-batches in flight */
        t->nslots = K - par->pp.rank < M ? K - par->pp.rank : M;
        t->slots = xcalloc((size_t)t->nslots, sizeof(VitSlot));
        t->slot_req = xcalloc((size_t)t->nslots * 2, sizeof(CommReq));
        t->slots[0] = (VitSlot){t->model.a, t->model.sa, NULL};
        for (int i = 1; i < t->nslots; i++) vit_slot_alloc(&t->model, &t->slots[i]);
    }
    /* every rank initializes the same way (deterministic streams per tensor) */
    float *host = xmalloc((size_t)t->model.n_params * sizeof(float));
    vit_init_params_host(&t->model, seed, host);
    k->upload(t->model.param_mem, host, t->model.n_alloc);
    sh->init(t, host);
    free(host);

    const VitConfig *c = &t->model.cfg;
    const VitConfig *lc = &t->model.lc; /* this rank's rows */
    const int nw = task->ops->batch_init(task, &t->hb, B, &t->model); /* rows of wlat */
    if (t->hb.tr0) { /* samples are windows: their origins travel with the batch */
        t->tr0 = xcalloc((size_t)B, sizeof(int));
        t->tc0 = xcalloc((size_t)B, sizeof(int));
    }
    const int64_t nx = B * t->hb.nx, ny = B * t->hb.ny, nbatch = nx + 2 * ny + B + nw + task->ops->batch_extra(task);
    t->batch_mem = k->alloc((size_t)nbatch * sizeof(float));
    t->batch.B = B;
    t->batch.x = t->batch_mem;
    t->batch.y = t->batch_mem + nx;
    t->batch.mask = t->batch_mem + nx + ny;
    t->batch.lead = t->batch_mem + nx + 2 * ny;
    t->batch.wlat = t->batch_mem + nx + 2 * ny + B;
    k->upload(t->batch.wlat, t->hb.wlat, nw);
    task->ops->batch_bind(task, &t->batch, &t->hb, t->batch_mem + nx + 2 * ny + B + nw, Bg, k);
    if (t->tr0 && sc.tile_h > 0) t->batch.tile_r0 = t->tr0, t->batch.tile_c0 = t->tc0;

    prefetch_start_like(&t->prefetch, &t->train, &t->hb);
    VitConfig fc = *lc; /* the FLOPs and tokens of one sample: a whole grid or window */
    fc.H = sc.tile_h > 0 ? sc.tile_h : c->H;
    t->tokens_per_step = (int64_t)Bg * vit_S(&fc);
    t->flops_per_step = 3.0 * Bg * vit_flops_per_sample(&fc);
    int64_t np = t->model.n_canon;
    TrainerMem mem;
    trainer_memory(t, &mem);
    log_info("model: %s, V=%d grid %dx%d patch %d -> S=%lld tokens, D=%d depth=%d heads=%d decoder=%d, %.2fM parameters",
             vit_mode_name(c->mode), c->V, c->H, c->W, c->p, (long long)vit_S(c), c->D, c->depth, c->NH,
             c->dec_depth, np / 1e6);
    if (par->world.size > 1)
        log_info("parallel: %d processes (MPI), dp %d x sp %d x tp %d%s%s; %d samples and %lld tokens of each per rank%s",
                 par->world.size, par->dp.size, par->sp.size, par->tp.size, par->sp.size > 1 ? ", sequence parallel " : "",
                 par->sp.size > 1 ? sp_mode_name((SpMode)par->sp_mode) : "", B, (long long)vit_S(lc),
                 par->tp.size > 1 ? ", the same samples on every rank of a tensor-parallel group" : "");
    if (t->fsdp.on)
        log_info("fsdp: the blocks sharded over groups of %d data-parallel ranks%s; %.2fM block parameters stored, %.2fM "
                 "gathered at a time (one block)", par->fs.size, par->rep.size > 1 ? ", replicated across the groups" : "",
                 vit_nblocks(&t->model.cfg) * t->fsdp.sb / 1e6, par->fs.size * t->fsdp.sb / 1e6);
    if (vit_chag(c))
        log_info("D-CHAG: %d of %d channel blocks (%d of %d channels) per rank, %d aggregation level%s; the %d partial "
                 "tokens all-gathered over the tensor-parallel group", vit_chag(c) / par->tp.size, vit_chag(c),
                 vit_Vt(lc), c->V, vit_chag_levels(c), vit_chag_levels(c) > 1 ? "s" : "", vit_chag(c));
    if (K > 1)
        log_info("pipeline: stage %d of %d on rank 0, blocks [%d, %d); %d micro-batches of %d samples (1F1B), %d activation "
                 "sets", par->pp.rank, K, vit_block0(&t->model.cfg), vit_block0(&t->model.cfg) + vit_nblocks(&t->model.cfg),
                 M, B / M, t->nslots);
    if (par->tp.size > 1)
        log_info("tensor parallel: %d heads of %d and %d of %d MLP channels per rank; %.2fM of the %.2fM parameters",
                 vit_NHt(lc), c->NH, vit_Ft(lc), vit_F(c), t->model.n_params / 1e6, t->model.n_canon / 1e6);
    char gathered[64] = "";
    if (mem.gathered) snprintf(gathered, sizeof gathered, ", one gathered block %.1f", mib(mem.gathered));
    log_info("memory (MiB) on rank 0: parameters %.1f, gradients %.1f, optimizer %.1f%s, activations+scratch %.1f (of "
             "which tokenization and aggregation %.1f), batch %.1f", mib(mem.params), mib(mem.grads), mib(mem.opt),
             gathered, mib(mem.acts), mib(mem.embed), mib(nbatch));
    task->ops->log(task, c, &fc);
}

void trainer_free(Trainer *t) {
    const Kernels *k = t->model.k;
    prefetch_stop(&t->prefetch);
    k->free(t->batch_mem);
    t->sh->free(t);
    for (int i = 1; i < t->nslots; i++) vit_slot_free(&t->model, &t->slots[i]);
    if (t->slots) vit_slot_use(&t->model, &t->slots[0]); /* vit_free releases the model's own set */
    free(t->slots);
    free(t->slot_req);
    if (t->ema) k->free(t->ema), k->free(t->ema_swap);
    host_batch_free(&t->hb);
    free(t->tr0);
    free(t->tc0);
    adamw_free(&t->opt, &t->model);
    vit_free(&t->model);
    sampler_free(&t->train);
}

static void upload_batch(Trainer *t, const HostBatch *hb, int B) {
    const Kernels *k = t->model.k;
    k->upload(t->batch.x, hb->x, B * hb->nx);
    k->upload(t->batch.y, hb->y, B * hb->ny);
    k->upload(t->batch.mask, hb->mask, B * hb->ny);
    k->upload(t->batch.lead, hb->lead, B);
    if (t->tr0) memcpy(t->tr0, hb->tr0, sizeof(int) * (size_t)B), memcpy(t->tc0, hb->tc0, sizeof(int) * (size_t)B);
    t->batch.B = B;
}

void trainer_load_batch(Trainer *t, Sampler *s, int B) {
    for (int i = 0; i < B; i++) host_batch_fill(&t->hb, i, s, sampler_next(s));
    upload_batch(t, &t->hb, B);
}

static double mask_sum(const HostBatch *hb, int B) {
    double s = 0;
    int64_t n = B * hb->ny;
    for (int64_t i = 0; i < n; i++) s += hb->mask[i];
    return s;
}

/* The same decision on every rank: loss and norm are global. */
static int guard(Trainer *t, const StepStats *st) {
    if (!isfinite(st->loss) || !isfinite(st->grad_norm)) return SKIP_NONFINITE;
    if (t->spike_z > 0 && t->spike_n >= 20) {
        int n = t->spike_n < 128 ? t->spike_n : 128;
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++) s += t->spike_hist[i], s2 += t->spike_hist[i] * t->spike_hist[i];
        double mean = s / n, sd = sqrt(fmax(s2 / n - mean * mean, 0.0));
        if (sd > 0 && (st->loss - mean) / sd > t->spike_z) return SKIP_SPIKE;
    }
    t->spike_hist[t->spike_n++ % 128] = st->loss;
    return SKIP_NONE;
}

/* The ranks that report the loss: one per model replica (first tp rank, last pipeline stage). */
static int loss_owner(const Trainer *t) { return t->model.tp_rank == 0 && vit_last_stage(&t->model.cfg); }

/* Micro-batch i of the step's batch: B / mb samples from sample i * B / mb on. */
static Batch micro_batch(const Trainer *t, int i) {
    const int Bm = t->B / t->mb;
    const int64_t nx = Bm * t->hb.nx, ny = Bm * t->hb.ny;
    Batch b = t->batch;
    b.B = Bm;
    b.x += i * nx, b.y += i * ny, b.mask += i * ny, b.lead += (int64_t)i * Bm;
    if (b.tile_r0) b.tile_r0 += i * Bm, b.tile_c0 += i * Bm;
    return b;
}

static void slot_wait(Trainer *t, int s) {
    Comm *pp = &t->par->pp;
    for (int j = 0; j < 2; j++)
        if (t->slot_req[2 * s + j].active) pp->ops->wait(pp, &t->slot_req[2 * s + j]), t->slot_req[2 * s + j].active = 0;
}

/* Micro-batch i runs in activation slot i % nslots, once that slot's sends are done; returns the
 * floats of one block input or output of the micro-batch. */
static int64_t pipe_slot(Trainer *t, const Batch *b, int i) {
    Vit *m = &t->model;
    const int s = i % t->nslots;
    slot_wait(t, s);
    vit_slot_use(m, &t->slots[s]);
    return (int64_t)b->B * vit_stage_S(&m->lc) * m->lc.D;
}

static void pipe_recv(Trainer *t, float *buf, int64_t n, int src, int tag) {
    Comm *pp = &t->par->pp;
    CommReq r;
    pp->ops->sendrecv_start(pp, buf, NULL, n, -1, src, tag, &r);
    pp->ops->wait(pp, &r);
}

/* Pipeline forward of micro-batch i: its input from the previous stage, its output
 * (non-blocking unless `blocking`) to the next. Returns the loss on the last stage. */
static float pipe_fwd(Trainer *t, const Batch *b, int i, int blocking) {
    Vit *m = &t->model;
    Comm *pp = &t->par->pp;
    const int q = pp->rank, s = i % t->nslots;
    const int64_t n = pipe_slot(t, b, i);
    if (q > 0) pipe_recv(t, m->a.x0, n, q - 1, 2 * i);
    float loss = vit_forward(m, b);
    if (q < pp->size - 1) {
        pp->ops->sendrecv_start(pp, NULL, vit_output(m), n, q + 1, -1, 2 * i, &t->slot_req[2 * s]);
        if (blocking) slot_wait(t, s);
    }
    return loss;
}

/* Pipeline backward of micro-batch i: the gradient of its output from the next stage, that of
 * its input (non-blocking) to the previous. */
static void pipe_bwd(Trainer *t, const Batch *b, int i) {
    Vit *m = &t->model;
    Comm *pp = &t->par->pp;
    const int q = pp->rank, s = i % t->nslots;
    const int64_t n = pipe_slot(t, b, i);
    if (q < pp->size - 1) pipe_recv(t, m->a.dx, n, q + 1, 2 * i + 1);
    vit_backward(m, b);
    if (q > 0) pp->ops->sendrecv_start(pp, NULL, m->a.dx, n, q - 1, -1, 2 * i + 1, &t->slot_req[2 * s + 1]);
}

/* One step's forward and backward passes over the micro-batches, 1F1B: stage q runs K - q - 1
 * forwards ahead, then alternates one forward and one backward, then drains the backwards.
 * Returns the loss (the sum of the micro-batches', each normalized by the whole batch's mask sum). */
static float pipe_step(Trainer *t) {
    const int M = t->mb, K = t->par->pp.size, q = t->par->pp.rank;
    const int warm = K - q - 1 < M ? K - q - 1 : M;
    float loss = 0;
    Batch b;
    for (int i = 0; i < warm; i++) b = micro_batch(t, i), loss += pipe_fwd(t, &b, i, 0);
    for (int i = warm; i < M; i++) {
        b = micro_batch(t, i), loss += pipe_fwd(t, &b, i, 0);
        b = micro_batch(t, i - warm), pipe_bwd(t, &b, i - warm);
    }
    for (int i = M - warm; i < M; i++) b = micro_batch(t, i), pipe_bwd(t, &b, i);
    for (int s = 0; s < t->nslots; s++) slot_wait(t, s);
    return loss;
}

StepStats trainer_step(Trainer *t) {
    StepStats st;
    double t0 = now_sec();
    Vit *m = &t->model;
    Comm *w = &t->par->dsp;
    const HostBatch *hb = prefetch_next(&t->prefetch);
    upload_batch(t, hb, t->B);
    if (t->fault_nan) {
        const float nan = NAN;
        m->k->upload(t->batch.x, &nan, 1);
        t->fault_nan = 0;
    }
    /* the loss is normalized by the mask sum of the global batch, so the ranks' losses and
     * gradients add up to the single-process ones: sum over dp, no averaging */
    double denom = 0;
    if (w->size > 1 || t->mb > 1) { /* over the samples of dp and the rows of sp (a tp group shares its
                                     * samples), and over a pipeline's micro-batches */
        denom = mask_sum(hb, t->B);
        if (w->size > 1) w->ops->allreduce_sum_f64(w, &denom, 1);
    }
    t->batch.loss_denom = denom;
    t->batch.tv_weight = t->task->ops->reg_weight(t->task);
    t->sh->zero_grads(t);
    if (t->slots) {
        st.loss = pipe_step(t);
    } else {
        st.loss = vit_forward(m, &t->batch);
        vit_backward(m, &t->batch);
    }
    /* the loss (each model replica's once: its tp ranks compute the same one, its last stage
     * has it) and the stop requests of all ranks in one reduction */
    st.stop = t->stop_request;
    Comm *world = &t->par->world;
    if (world->size > 1) {
        double l[2] = {loss_owner(t) ? st.loss : 0.0, t->stop_request};
        world->ops->allreduce_sum_f64(world, l, 2);
        st.loss = (float)l[0];
        st.stop = l[1] > 0;
    }
    st.lr = opt_lr_at(&t->opt.cfg, t->step);
    st.grad_norm = t->sh->reduce(t);
    if (!(st.skipped = guard(t, &st))) t->sh->apply(t, st.lr, st.grad_norm);
    if (t->ema && !st.skipped) {
        float d = (1.0f + t->step) / (10.0f + t->step);
        if (d > t->ema_decay) d = t->ema_decay;
        float *p[2], *e = t->ema;
        int64_t n[2];
        for (int i = 0, np = t->sh->held(t, p, n); i < np; e += n[i++]) m->k->lerp(e, p[i], 1.0f - d, n[i]);
    }
    t->step++;
    st.seconds = now_sec() - t0;
    return st;
}

void trainer_seek(Trainer *t, int64_t step) {
    prefetch_stop(&t->prefetch);
    t->train.pos = t->train.shard + step * (int64_t)t->B * t->train.nshards;
    t->train.epoch = -1;
    t->step = step;
    prefetch_start_like(&t->prefetch, &t->train, &t->hb);
}


int64_t trainer_held_floats(const Trainer *t) {
    float *p[2];
    int64_t n[2], all = 0;
    for (int i = 0, np = t->sh->held(t, p, n); i < np; i++) all += n[i];
    return all;
}

/* dir: 1 parameters -> mirror, 0 back; host: the mirror is on the host */
static void held_move(Trainer *t, float *mirror, int dir, int host) {
    const Kernels *k = t->model.k;
    float *p[2];
    int64_t n[2];
    for (int i = 0, np = t->sh->held(t, p, n); i < np; mirror += n[i++]) {
        if (host) dir ? k->download(mirror, p[i], n[i]) : k->upload(p[i], mirror, n[i]);
        else dir ? k->copy(mirror, p[i], n[i]) : k->copy(p[i], mirror, n[i]);
    }
}

void trainer_held_copy(Trainer *t, float *mirror, int to_mirror) { held_move(t, mirror, to_mirror, 0); }
void trainer_held_transfer(Trainer *t, float *host, int down) { held_move(t, host, down, 1); }

void trainer_enable_ema(Trainer *t, float decay) {
    size_t bytes = (size_t)trainer_held_floats(t) * sizeof(float);
    t->ema = t->model.k->alloc(bytes);
    t->ema_swap = t->model.k->alloc(bytes);
    t->ema_decay = decay;
    trainer_held_copy(t, t->ema, 1);
}

void trainer_use_ema(Trainer *t, int on) {
    if (!t->ema || on == t->ema_in_model) return;
    if (on) {
        trainer_held_copy(t, t->ema_swap, 1);
        trainer_held_copy(t, t->ema, 0);
    } else {
        trainer_held_copy(t, t->ema_swap, 0);
    }
    t->ema_in_model = on;
}

double trainer_eval_loss(Trainer *t, Sampler *s, int64_t max_samples) {
    Comm *dp = &t->par->dp;
    int64_t n = s->n < max_samples ? s->n : max_samples;
    /* this rank's share of the first n samples: positions rank, rank + dp, ... */
    int64_t mine = n > dp->rank ? (n - dp->rank + dp->size - 1) / dp->size : 0;
    double acc[2] = {0, 0}; /* weighted squared error, mask sum */
    int64_t done = 0;
    s->pos = dp->rank;
    int nshards = s->nshards;
    s->nshards = dp->size;
    /* under ZeRO-3 every forward gathers blocks over dp: all dp ranks run as many batches as
     * the busiest one (a rank with nothing left runs one sample again and does not count it) */
    const int Be = t->B / t->mb; /* a pipeline evaluates micro-batches */
    int64_t most = (n + dp->size - 1) / dp->size, batches = 0, need = t->fsdp.on ? (most + Be - 1) / Be : 0;
    while (done < mine || batches < need) {
        int b = (int)(mine - done < Be ? mine - done : Be), dummy = b <= 0;
        if (dummy) {
            s->pos = 0;
            b = 1;
        }
        trainer_load_batch(t, s, b);
        double ms = mask_sum(&t->hb, b);
        t->batch.loss_denom = 0;
        t->batch.tv_weight = 0; /* the validation loss is the weighted MSE alone */
        double l = t->slots ? pipe_fwd(t, &t->batch, 0, 1) : vit_forward(&t->model, &t->batch);
        batches++;
        if (dummy) continue;
        acc[0] += l * ms;
        acc[1] += ms;
        done += b;
    }
    s->nshards = nshards;
    Comm *w = &t->par->world; /* one rank of each model replica has the replica's sums */
    if (!loss_owner(t)) acc[0] = acc[1] = 0;
    if (w->size > 1) w->ops->allreduce_sum_f64(w, acc, 2);
    return acc[1] > 0 ? acc[0] / acc[1] : NAN;
}
