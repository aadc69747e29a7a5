/* The training loop shared by `lvit train` and `lvit bench`. */
#ifndef LVIT_TRAINER_H
#define LVIT_TRAINER_H
#include <stdio.h>
#include "data/dataset.h"
#include "data/prefetch.h"
#include "io/train_state.h"
#include "model/vit.h"
#include "optim/optim.h"
#include "parallel/comm.h"
#include "tasks/task.h"
#include "train/sharding.h"

/* ZeRO-3 state (trainer_fsdp.c) */
typedef struct Fsdp {
    int on;
    int64_t bl, sb;                      /* block parameters, shard size (bl rounded up to dp) */
    int64_t bo[PF_COUNT], per[PF_COUNT]; /* block-local offset and size of each block field */
    float *pshard, *gshard, *m, *v;      /* [depth][sb] this rank's shards and AdamW moments */
    float *gb, *gg;                      /* [F*sb] one gathered block and its gradients */
    float *gtmp;                         /* [sb] one block's reduced gradient shard */
} Fsdp;

typedef struct Trainer {
    Vit model;
    AdamW opt;
    OptConfig opt_cfg;
    const Sharding *sh;     /* how the replicas hold parameters, gradients and optimizer state */
    Parallel *par;          /* the mesh: samples are split over par->dp */
    const Task *task;       /* what a sample is, and the head's extra loss terms */
    Sampler train;
    Prefetch prefetch;      /* fills training batches from `train` in the background */
    HostBatch hb;           /* evaluation batches */
    Batch batch;            /* backend copies of hb */
    float *batch_mem;
    float *gshard;          /* ZeRO-1: [shard] this rank's reduced gradients, else NULL */
    int64_t shard;          /* ZeRO-1: parameters per rank (n_params rounded up to dp) */
    CommReq *reqs;          /* gradient all-reduces in flight during the backward pass */
    int nreq, maxreq;
    Fsdp fsdp;
    /* pipeline (par->pp.size > 1): the model is this rank's stage, sized for micro-batches of
     * B / microbatches samples, with one activation set per micro-batch in flight (1F1B) */
    int mb, nslots;
    VitSlot *slots;
    CommReq *slot_req;      /* [nslots][2] sends in flight from each slot (output, input gradient) */
    /* update guard: a non-finite loss or gradient norm always skips the update; with
     * spike_z > 0 so does a loss more than spike_z standard deviations above the mean of the
     * last SPIKE_WINDOW applied steps (once 20 are known) */
    float spike_z;
    double spike_hist[128];
    int spike_n;
    int stop_request;       /* set by the caller (a signal arrived): reported as StepStats.stop on every rank */
    int fault_nan;          /* tests: poison this step's batch (LVIT_FAULT=nan:STEP) */
    float *ema, *ema_swap;  /* [trainer_held_floats] each when an EMA of the weights is kept, else NULL */
    float ema_decay;
    int ema_in_model;       /* the model currently holds the EMA weights (trainer_use_ema) */
    int *tr0, *tc0;         /* [B] the windows of the batch when samples are windows (TILES), else NULL */
    int B;                  /* samples per step on this rank (the global batch / dp) */
    int B_global;
    int64_t step;           /* steps taken */
    int64_t tokens_per_step;
    double flops_per_step;  /* forward + backward model FLOPs */
} Trainer;

/* Sizes everything up front (model, optimizer, batch buffers); prints the memory plan. The
 * samples are the task's over times [train_t0, train_t1); cfg is the model for the task's data
 * (the task may narrow it to a window per sample). B is the global batch: each data-parallel
 * rank takes B / dp samples of it (B % dp == 0), so a step sees the same samples and, up to
 * rounding, gives the same update at every dp. The task must outlive the trainer. */
void trainer_init(Trainer *t, const VitConfig *cfg, const OptConfig *oc, const Task *task, int train_t0, int train_t1,
                  int B, uint64_t seed, const Kernels *k, Parallel *par);
void trainer_free(Trainer *t);

typedef struct StepStats {
    float loss, lr;
    double grad_norm, seconds;
    int skipped;            /* 0, or why the update was not applied: SKIP_* */
    int stop;               /* some rank had stop_request set for this step */
} StepStats;
enum { SKIP_NONE = 0, SKIP_NONFINITE = 1, SKIP_SPIKE = 2 };

/* Keep an exponential moving average of the weights, updated after every step with decay
 * min(decay, (1 + step) / (10 + step)); allocates its two buffers now. */
void trainer_enable_ema(Trainer *t, float decay);
/* on = 1: put the EMA weights into the model (the trained weights are set aside); on = 0: put
 * the trained weights back. Without an EMA this does nothing. */
void trainer_use_ema(Trainer *t, int on);

/* A mirror of the parameters this rank holds (the EMA, the best weights): backend floats laid
 * out as the rank's pieces of parameter memory one after the other (Sharding.held): all its
 * parameters, or under ZeRO-3 the replicated ones and its block shards. */
int64_t trainer_held_floats(const Trainer *t);
/* to_mirror = 1: the parameters into mirror; 0: mirror into the parameters. */
void trainer_held_copy(Trainer *t, float *mirror, int to_mirror);
/* The same between the parameters and a host mirror: down = 1 into host, 0 from it. */
void trainer_held_transfer(Trainer *t, float *host, int down);

/* Continue the data order at `step` (resume): the prefetch thread restarts from there. */
void trainer_seek(Trainer *t, int64_t step);
/* What this rank holds, in floats (everything is allocated up front: this is the peak): its
 * parameters (ZeRO-3: the replicated ones and its block shards), their gradients (ZeRO-1: and the
 * reduced shard), AdamW's moments, under ZeRO-3 the one gathered block (parameters, gradients),
 * and the activations and scratch of every pipeline slot, of which embed are the tokenization
 * and channel aggregation's. */
typedef struct TrainerMem {
    int64_t params, grads, opt, gathered, acts, embed;
} TrainerMem;
void trainer_memory(const Trainer *t, TrainerMem *mem);
/* What this rank holds of state vector vec (SV_PARAMS, SV_ADAM_M, SV_ADAM_V, SV_EMA) as
 * canonical ranges of the flat parameter vector (the unsharded layout, io/train_state.h), with
 * dev[i] where range i lives in backend memory. own = 1: only the ranges this rank writes to a
 * checkpoint (each element by exactly one data-parallel rank); own = 0: all it holds. Returns
 * the count (at most trainer_state_max_ranges). */
int trainer_state_ranges(const Trainer *t, int vec, int own, StateRange *r, float **dev);
/* The part [lo, hi) of a vector laid out like this rank's parameters (base holds element lo) as
 * canonical ranges; own = 1 leaves out the replicated tensors on tensor-parallel ranks other
 * than the first (each element is written once). */
int trainer_vec_ranges(const Trainer *t, float *base, int64_t lo, int64_t hi, int own, StateRange *r, float **dev);
int trainer_state_max_ranges(const Trainer *t);
/* The ranges of a mirror of the parameters (trainer_held_floats): those of SV_PARAMS, in the
 * mirror (the EMA's, the best weights'). */
int trainer_mirror_ranges(const Trainer *t, float *mirror, int own, StateRange *r, float **dev);
/* Adds to ss[0] the squares of the tensor-parallel-sharded fields and to ss[1] those of the
 * replicated ones, of the part [lo, hi) of a vector laid out like this rank's parameters (v holds
 * element lo). */
void trainer_sumsq_split(const Trainer *t, const float *v, int64_t lo, int64_t hi, double ss[2]);
/* The ranges of the state held in the model's own memory and the optimizer's moments (all but
 * ZeRO-3's block shards); all_own_moments: every dp rank writes its part of the moments (ZeRO-1). */
int trainer_replicated_ranges(const Trainer *t, int vec, int own, int all_own_moments, StateRange *r, float **dev);
/* Every parameter into the canonical host [n_canon], whatever the sharding (collective under
 * ZeRO-3 and tensor parallelism). Without model parallelism (mp 1) host may be NULL on a rank
 * that needs nothing: it only takes part in the ZeRO-3 gathers. */
void trainer_full_params(Trainer *t, float *host);

/* One optimizer step on the next batch of the training sampler. */
StepStats trainer_step(Trainer *t);
/* Loss over (up to max_samples of) the samples of another sampler, without updating: the
 * latitude-weighted squared error summed over all of them divided by their mask sum (so it
 * does not depend on how they are batched or split over ranks). Collective over par->dp. */
double trainer_eval_loss(Trainer *t, Sampler *s, int64_t max_samples);
/* Load the next B samples of s into the backend batch. */
void trainer_load_batch(Trainer *t, Sampler *s, int B);

#endif
