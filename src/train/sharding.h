/* How the data-parallel replicas hold the training state: one interface, three layouts.
 *   replicated: every rank holds all parameters, gradients and AdamW moments; the gradients are
 *               all-reduced (overlapped with the backward pass, bucket by bucket).
 *   zero1:      parameters replicated, AdamW moments sharded over dp: the gradients are
 *               reduce-scattered, each rank updates its shard, the parameters are all-gathered.
 *   fsdp:       ZeRO-3: the blocks' parameters, gradients and moments live as shards over the
 *               FSDP group; a block is gathered just before its forward and backward.
 * The training step (train/trainer.c) is written once over these operations; a new layout is one
 * file implementing them plus one line in sharding_for. */
#ifndef LVIT_SHARDING_H
#define LVIT_SHARDING_H
#include <stdint.h>
#include "io/train_state.h"
#include "parallel/comm.h"

struct Trainer;

typedef struct Sharding {
    const char *name;
    int pad_to_dp;       /* the parameter memory is padded to a multiple of dp (equal shards) */
    int external_blocks; /* the model's blocks live outside its parameter memory (gathered per use) */
    /* after the model and its initial parameters exist: shard buffers, optimizer range, hooks;
     * host: the initial parameters [n_params] of this rank's layout */
    void (*init)(struct Trainer *t, const float *host);
    void (*free)(struct Trainer *t);
    void (*zero_grads)(struct Trainer *t);
    /* after the backward pass: every gradient reduced over the replicas; returns the global norm */
    double (*reduce)(struct Trainer *t);
    void (*apply)(struct Trainer *t, float lr, double grad_norm);
    /* every parameter of this rank's (tensor-parallel, pipeline) layout into host [n_params];
     * collective over the FSDP group */
    void (*full_params)(struct Trainer *t, float *host);
    /* the parameters of this rank's layout from host [n_params] into what the rank holds (--init) */
    void (*set_params)(struct Trainer *t, const float *host);
    /* the backend memory of this rank's parameters as up to 2 pieces (the model's own memory;
     * ZeRO-3: and the block shards), what an EMA or a best copy mirrors; returns the count */
    int (*held)(const struct Trainer *t, float **p, int64_t *n);
    /* what this rank holds of state vector vec as canonical ranges (train/trainer.h) */
    int (*state_ranges)(const struct Trainer *t, int vec, int own, StateRange *r, float **dev);
    /* floats held beyond the model's own parameter and gradient memory: parameters, gradients,
     * optimizer moments, gathered buffers */
    void (*memory)(const struct Trainer *t, int64_t *params, int64_t *grads, int64_t *opt, int64_t *gathered);
} Sharding;

extern const Sharding sharding_replicated, sharding_zero1, sharding_fsdp;

/* The layout of par (its zero stage and FSDP groups; a single replica is always replicated). */
const Sharding *sharding_for(const Parallel *par);

#endif
