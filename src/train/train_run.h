/* A whole training job: any task, any layout, written once. train_run opens the data, builds the
 * model for the task, trains with validation, checkpoints and resume, and writes
 * RUN_DIR/model.safetensors and metrics.jsonl. The command line (src/cli/cmd_train.c) only fills
 * TrainOptions; the option names below are its flags'. */
#ifndef LVIT_TRAIN_RUN_H
#define LVIT_TRAIN_RUN_H
#include <stdint.h>
#include "optim/optim.h"
#include "tasks/task.h"
#include "train/setup.h"

typedef struct TrainOptions {
    const char *run;        /* run directory (required) */
    const char *data;       /* lvit dataset file, or "synthetic" */
    const char *init;       /* start from these weights, or NULL */
    const char *leads;      /* forecast lead times in hours, "6,24" */
    TaskOptions task;
    ModelOptions model;
    LayoutOptions layout;
    OptConfig opt;          /* lr, weight decay, betas, clipping (the schedule is set from steps below) */
    int64_t steps, warmup, seed;   /* warmup -1: 5% of steps */
    float min_lr;           /* -1: lr / 10 */
    int batch, threads, log_every, quiet;
    int times;              /* synthetic data: time steps */
    float val_frac;         /* synthetic data: the last fraction of the times for validation */
    int val_every, val_samples;
    int keep;               /* 0 auto (best with validation), 1 best, 2 last */
    float ema, spike_z;
    int max_skips, resume, ckpt_keep;
    int overwrite;          /* a new run may replace the run already in the directory */
    int resume_other;       /* --resume may continue from a checkpoint of another run (model, data, batch, seed) */
    int64_t ckpt_every, ckpt_keep_every;
    const char *mllog;      /* MLPerf-HPC-style event log (train/mllog.h), or NULL */
    float target_val_loss;  /* > 0: stop at the first validation loss at or below it (time to train) */
    int leads_given;        /* --leads was given (refused for downscaling) */
    unsigned given;         /* GIVEN_* (train/auto_defaults.h): the flags given, which data-chosen defaults leave alone */
    int downscale_given;    /* a downscaling-only option was given (refused for forecasting) */
} TrainOptions;

void train_options_default(TrainOptions *o);
/* Runs the job. Returns 0, LVIT_EXIT_FAIL when it stopped after --max-skips skipped updates in a
 * row (the weights of the last applied step written), or LVIT_EXIT_USAGE when metrics.jsonl could
 * not be written (the run stopped with a checkpoint, its weights written). Bad input, a run
 * directory in use or holding another run, or a failed write of a checkpoint or of the model exits
 * 2 with the path and the reason (every rank under MPI); a failed model write leaves the weights in
 * a checkpoint of the last step, written then if there was none. */
int train_run(const TrainOptions *o);
/* With --mllog a failed write of the log lets the run finish (weights written) and returns
 * LVIT_EXIT_USAGE naming the file; a log that cannot be created exits 2 at the start. */

#endif
