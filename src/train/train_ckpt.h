/* Training-state checkpoints of a Trainer under any layout (the file format is io/train_state.h):
 * each data-parallel rank's first sequence-parallel rank writes the part of the state it owns,
 * rank 0 the manifest after a barrier; on resume every rank gathers what it holds under its own
 * layout from the files of whatever layout wrote them. Buffers are sized once, up front. */
#ifndef LVIT_TRAIN_CKPT_H
#define LVIT_TRAIN_CKPT_H
#include "train/trainer.h"
#include "io/train_state.h"

typedef struct TrainCkpt {
    Trainer *t;
    float *best;                           /* backend [trainer_held_floats] best weights, or NULL */
    int nr[2][SV_COUNT];                   /* [own][vec]: ranges written (own = 1) / held (0) */
    StateRange *r[2][SV_COUNT];
    float **dev[2][SV_COUNT];
    float *host;                           /* packed host copy of everything held */
    StateManifest man;                     /* this run's layout (step and files set at save) */
    int64_t fault_kill_step;               /* tests: SIGKILL after the own file of this step */
    int64_t fault_signal_step;             /* tests: raise fault_signals[] after the own file of this step */
    int fault_signals[4], nfault_signals;
} TrainCkpt;

void train_ckpt_init(TrainCkpt *c, Trainer *t, float *best, const StateManifest *man);
void train_ckpt_free(TrainCkpt *c);
/* Collective: writes RUN_DIR/ckpt/step_<ts->step>/ and prunes to keep / keep_every. A failed
 * write stops the run (every rank) with a message naming the path; the checkpoints already
 * there stay as they were. */
void train_ckpt_save(TrainCkpt *c, const char *run, const TrainState *ts, int keep, int64_t keep_every);
/* Loads the checkpoint in dir (manifest m, possibly of another layout) into the trainer, the
 * EMA and best weights; the scalars into *ts. Dies with exit 2 naming the file on any error. */
void train_ckpt_load(TrainCkpt *c, const char *dir, const StateManifest *m, TrainState *ts);

#endif
