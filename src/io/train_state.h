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
    float *params, *adam_m, *adam_v, *ema, *best; /* [n] each */
    int64_t n;
} StateTensors;

int state_save(const char *run_dir, const StateTensors *t, const TrainState *s, char *err, size_t errlen);
/* The newest complete checkpoint of run_dir into dir (size n); 0 when found, -1 when none. */
int state_find_latest(const char *run_dir, char *dir, size_t n);
int state_load(const char *dir, const StateTensors *t, TrainState *s, char *err, size_t errlen);
/* Keeps the newest `keep` complete checkpoints (and every one whose step is a multiple of
 * keep_every, when > 0); removes the others. */
void state_prune(const char *run_dir, int keep, int64_t keep_every);

#endif
