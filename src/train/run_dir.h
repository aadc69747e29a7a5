/* A run directory belongs to one run (issue 20): rank 0 holds an flock() on RUN_DIR/.lock for the
 * whole job (the kernel releases it when the process dies, however it dies), a new run refuses a
 * directory that holds an earlier run unless told to overwrite it, and every checkpoint carries
 * the run's identity (model configuration, data, batch, seed) so that --resume never continues
 * another run's state by accident. */
#ifndef LVIT_RUN_DIR_H
#define LVIT_RUN_DIR_H
#include <stddef.h>
#include "data/dataset.h"
#include "io/train_state.h"

typedef struct RunDir {
    int lock_fd; /* -1: no lock held (not rank 0, or a file system without locks) */
} RunDir;

/* Rank 0: creates RUN_DIR (and its parents) and takes its lock; a live run holding it is
 * refused (exit 2) naming the directory and the holder's PID. A new run (resume 0) in a
 * directory holding model.safetensors, metrics.jsonl or ckpt/ is refused unless overwrite;
 * then the earlier run's ckpt/ and model.safetensors (unless it is keep_path, the --init file)
 * are removed first. */
void run_dir_claim(RunDir *rd, const char *run, int resume, int overwrite, const char *keep_path);
void run_dir_release(RunDir *rd);

/* The data part of a run's identity, a JSON object: task, variables, grid, time split, the first
 * time, forecast leads, a hash of the normalization statistics (a fingerprint of the data's
 * content that costs no read of the data) and the task's own description. Caller frees. */
char *run_data_describe(const Dataset *ds, const char *task, const char *task_json, const float *leads, int nlead);
/* Fills m->data and m->identity (FNV-1a 64 of config, data, batch and seed) from m's fields. */
void run_identity_set(StateManifest *m, const char *data_json);
/* What makes checkpoint `was` another run than `now` (model, data, batch and seed), one clause per
 * difference, into out; returns the number of differences (0: the same run). A manifest written
 * before identities has no data description: its data is not compared. */
int run_identity_diff(const StateManifest *was, const StateManifest *now, char *out, size_t n);

#endif
