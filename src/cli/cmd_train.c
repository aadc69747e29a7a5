/* lvit train: the flags into TrainOptions, then the training engine (train/train_run.h). */
#include "cli/common.h"
#include "cli/classify_cli.h"
#include "cli/downscale_cli.h"
#include "core/check.h"
#include "train/train_run.h"
#include "imagery/imagery.h"

int cmd_train(int argc, char **argv) {
    TrainOptions o;
    train_options_default(&o);
    o.task.read_raster = read_label_raster; /* --train-labels/--test-labels: the image readers */
    ArgSpec specs[] = {
        {"data", ARG_STR, &o.data, "dataset ('synthetic': built-in deterministic synthetic weather)", NULL, 0, 0, 0},
        {"run", ARG_STR, &o.run, "run directory for model.safetensors and metrics.jsonl (required)", NULL, 0, 0, 0},
        {"steps", ARG_I64, &o.steps, "optimizer steps", NULL, 0, 1e12, 0},
        {"batch", ARG_INT, &o.batch, "samples per step (the global batch, split over --dp)", NULL, 1, 1 << 20, 0},
        DIST_ARG_SPECS(o.layout),
        {"lr", ARG_FLOAT, &o.opt.lr, "peak learning rate", NULL, 0, 10, 0},
        {"min-lr", ARG_FLOAT, &o.min_lr, "final learning rate of the cosine schedule (default lr/10)", NULL, -1, 10, 0},
        {"warmup", ARG_I64, &o.warmup, "linear warmup steps (default 5% of steps)", NULL, -1, 1e12, 0},
        {"weight-decay", ARG_FLOAT, &o.opt.weight_decay, "AdamW weight decay (matrices only)", NULL, 0, 10, 0},
        {"beta1", ARG_FLOAT, &o.opt.beta1, "AdamW beta1", NULL, 0, 0.999999, 0},
        {"beta2", ARG_FLOAT, &o.opt.beta2, "AdamW beta2", NULL, 0, 0.999999, 0},
        {"grad-clip", ARG_FLOAT, &o.opt.grad_clip, "max global gradient norm (0 = off)", NULL, 0, 1e9, 0},
        MODEL_ARG_SPECS(o.model),
        DOWNSCALE_ARG_SPECS(o.task),
        CLASSIFY_ARG_SPECS(o.task),
        {"leads", ARG_STR, &o.leads, "lead times in hours, comma separated", NULL, 0, 0, 0},
        {"times", ARG_INT, &o.times, "time steps of the synthetic data", NULL, 4, 1000000, 0},
        {"val-frac", ARG_FLOAT, &o.val_frac, "fraction of the times (the last ones) held out for validation", NULL, 0, 0.9, 0},
        {"ckpt-every", ARG_I64, &o.ckpt_every, "write a training-state checkpoint (RUN_DIR/ckpt) every N steps (0 = only on SIGTERM, SIGUSR1, SIGINT or SIGHUP)", NULL, 0, 1e12, 0},
        {"ckpt-keep", ARG_INT, &o.ckpt_keep, "keep the newest K checkpoints", NULL, 1, 1 << 20, 0},
        {"ckpt-keep-every", ARG_I64, &o.ckpt_keep_every, "also keep every checkpoint whose step is a multiple of M (0 = none)", NULL, 0, 1e12, 0},
        {"resume", ARG_FLAG, &o.resume, "continue from the newest complete checkpoint in RUN_DIR/ckpt (same flags; a changed --steps extends or shortens the cosine schedule)", NULL, 0, 0, 0},
        {"resume-from-other", ARG_FLAG, &o.resume_other, "with --resume: continue from a checkpoint of another run (other model flags, data, --batch or --seed), printing what differs", NULL, 0, 0, 0},
        {"overwrite", ARG_FLAG, &o.overwrite, "start a new run in a RUN_DIR that holds an earlier one (its checkpoints and model.safetensors are removed first)", NULL, 0, 0, 0},
        {"max-skips", ARG_INT, &o.max_skips, "stop at this many consecutive skipped updates (non-finite loss or gradient norm, spikes; 0 = at the first)", NULL, 0, 1 << 30, 0},
        {"skip-spikes", ARG_FLOAT, &o.spike_z, "also skip the update when the loss is this many standard deviations above the mean of the last 128 steps (0 = off; e.g. 6)", NULL, 0, 1e6, 0},
        {"ema", ARG_FLOAT, &o.ema, "keep an exponential moving average of the weights with this decay (e.g. 0.99; 0 = off); validation and model.safetensors use it", NULL, 0, 0.999999, 0},
        {"val-every", ARG_INT, &o.val_every, "validation loss every N steps, logged as val_loss (0 = at the end only)", NULL, 0, 1 << 30, 0},
        {"val-samples", ARG_INT, &o.val_samples, "validation samples per evaluation (the first N of a fixed order)", NULL, 1, 1 << 30, 0},
        {"keep", ARG_CHOICE, &o.keep, "weights in model.safetensors: best (lowest validation loss; the default with --val-every) or last", "auto|best|last", 0, 0, 0},
        {"init", ARG_STR, &o.init, "start from the weights of this checkpoint: every tensor it holds with this model's shape (a pretrained encoder under a new head: the head, and tensors it lacks, keep their initialization)", NULL, 0, 0, 0},
        {"freeze-encoder", ARG_FLAG, &o.opt.freeze_encoder, "train only the head (head.*) on the encoder that --init loads, which stays exactly as loaded (with --decoder-depth 0: a linear probe)", NULL, 0, 0, 0},
        {"mllog", ARG_STR, &o.mllog, "write an MLPerf-HPC-style event log (:::MLLOG lines, docs/mllog.md) to FILE", NULL, 0, 0, 0},
        {"target-val-loss", ARG_FLOAT, &o.target_val_loss, "stop at the first validation loss at or below this (> 0; time to train; needs --val-every)", NULL, 1e-30, 1e30, 0},
        {"seed", ARG_I64, &o.seed, "seed of initialization and data order", NULL, 0, 9e18, 0},
        {"threads", ARG_INT, &o.threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {"log-every", ARG_INT, &o.log_every, "print a progress line every N steps", NULL, 1, 1 << 30, 0},
        {"quiet", ARG_FLAG, &o.quiet, "print only errors and the final summary", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "train", "--run RUN_DIR [--data DATASET] [options]", NULL, 0);
    o.leads_given = args_find(specs, "leads")->seen;
    static const char *const tracked[] = {"steps", "lr", "weight-decay", "dim", "depth", "heads", "val-every", "leads", "batch",
                                          "window", "patch", "band-groups", "channels", "channel-parallel"};
    for (unsigned i = 0; i < sizeof tracked / sizeof *tracked; i++) /* in the order of the GIVEN_* bits */
        if (args_find(specs, tracked[i])->seen) o.given |= 1u << i;
    o.downscale_given = args_find(specs, "scale")->seen || args_find(specs, "tiles")->seen || args_find(specs, "static")->seen;
    if (o.opt.freeze_encoder && !o.init) /* a frozen random encoder: almost always a forgotten --init */
        DIE_USER("lvit train: --freeze-encoder trains only the head on top of the encoder that --init FILE loads; "
                 "without --init the encoder would stay at its random initialization (to probe one on purpose, "
                 "write it with lvit init and pass that file to --init)");
    return train_run(&o);
}
