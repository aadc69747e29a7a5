/* Training-state checkpoints: everything a run needs to continue bit for bit (parameters,
 * AdamW moments, EMA and best weights when kept, step and optimizer counters, the loss-spike
 * window). RUN_DIR/ckpt/step_NNNNNNNN/state.safetensors, then manifest.json written last: a
 * directory without its manifest is never used. Every tensor's FNV-1a 64 checksum is stored in
 * the metadata and verified on load. The data order needs no state: it is a function of the
 * seed and the step. (Replicated layouts; sharded states come with issue 5's resharding.) */
#ifndef LVIT_TRAIN_STATE_H
#define LVIT_TRAIN_STATE_H
#include <stddef.h>
#include <stdint.h>

typedef struct TrainState {
    int64_t step;             /* steps taken */
    int64_t opt_t;            /* AdamW updates applied (skipped steps do not count) */
    int spike_n;
    double spike_hist[128];
    int64_t best_step;        /* 0: no best weights */
    double best_val;
} TrainState;

/* The tensors of a state; NULL pointers are not saved (and not expected on load). */
typedef struct StateTensors {
    float *params, *ema, *best;   /* [n] each */
    float *adam_m, *adam_v;       /* [nm]: all parameters, or this data-parallel rank's ZeRO-1 shard */
    int64_t n, nm;
} StateTensors;

/* The layout a checkpoint was written under (resuming needs the same one for now). */
typedef struct StateLayout {
    int dp, sp, zero;
} StateLayout;

/* RUN_DIR/ckpt/step_N into dir, created. */
int state_dir(const char *run_dir, int64_t step, char *dir, size_t n, char *err, size_t errlen);
/* One file of a checkpoint: state_dpNNNNN.safetensors, one per data-parallel rank (the
 * moments of its shard; rank 0's also the parameters, EMA and best weights). */
/* What dp rank r's file holds of t: the moments, and the weights when r == 0. */
StateTensors state_own_file(const StateTensors *t, int dp_rank);
int state_save_file(const char *dir, int dp_rank, const StateTensors *t, const TrainState *s, char *err, size_t errlen);
/* Written last, by one rank, after every file is in place. */
int state_write_manifest(const char *dir, int64_t step, const StateLayout *l, char *err, size_t errlen);
/* The newest complete checkpoint of run_dir into dir (size n); 0 when found, -1 when none. */
int state_find_latest(const char *run_dir, char *dir, size_t n);
int state_read_layout(const char *dir, StateLayout *l, char *err, size_t errlen);
int state_load_file(const char *dir, int dp_rank, const StateTensors *t, TrainState *s, char *err, size_t errlen);
/* Keeps the newest `keep` complete checkpoints (and every one whose step is a multiple of
 * keep_every, when > 0); removes the others. */
void state_prune(const char *run_dir, int keep, int64_t keep_every);

#endif
