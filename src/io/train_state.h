/* Training-state checkpoints: everything a run needs to continue bit for bit (parameters,
 * AdamW moments, EMA and best weights when kept, step and optimizer counters, the loss-spike
 * window), written so that any layout can read what any other wrote.
 *
 * RUN_DIR/ckpt/step_NNNNNNNN/ holds state_NNNNN.safetensors files and manifest.json, written
 * last: a directory without its manifest is never used. Every tensor of a state file is a
 * packed piece of one flat vector in the canonical order of the parameter memory (the
 * unsharded field-major layout, whatever the ZeRO stage), and its metadata lists the canonical
 * ranges [at, at + len) it holds, in order. A rank under any layout fills what it needs by
 * intersecting its own ranges with those of every file; every tensor's FNV-1a 64 checksum is
 * stored and verified before its data is used. The data order needs no state: it is a
 * function of the seed, the global batch and the step. */
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

/* Canonical range [at, at + len) of a flat vector. */
typedef struct StateRange {
    int64_t at, len;
} StateRange;

/* The vectors a state holds; a file holds packed pieces of some of them. */
enum { SV_PARAMS, SV_ADAM_M, SV_ADAM_V, SV_EMA, SV_BEST, SV_COUNT };
const char *state_vec_name(int v); /* "params", "adam_m", ... */

/* One tensor of a state file: vector v, data packed in the order of its ranges r[0..nr). */
typedef struct StatePart {
    int vec;
    float *data;
    const StateRange *r;
    int nr;
} StatePart;

/* The layout and run a checkpoint was written under (manifest.json). */
typedef struct StateManifest {
    int64_t step, n_params;
    int dp, sp, zero, nfiles;
    int tp, pp;               /* tensor-parallel and pipeline degrees (absent in older manifests: 1) */
    int64_t batch, seed;
    char config[4096];        /* the model configuration (JSON), compared on resume */
    /* the run's identity (train/run_dir.h): a hash of config, data, batch and seed, and the data
     * description it covers; "" in manifests written before identities */
    char identity[17];
    char data[4096];
    int64_t steps, warmup;    /* the schedule the run had (--steps, warmup steps); -1 unknown (older manifests) */
} StateManifest;

/* FNV-1a 64 of bytes: the checksum of state tensors, and the run identity's hash. */
uint64_t state_fnv1a64(const void *x, int64_t bytes);

/* RUN_DIR/ckpt/step_N into dir, created. */
int state_dir(const char *run_dir, int64_t step, char *dir, size_t n, char *err, size_t errlen);
/* state_NNNNN.safetensors (file = index among the checkpoint's files) with the given parts and
 * scalars; written to a temporary name, synced and renamed. */
int state_save_file(const char *dir, int file, const StatePart *parts, int nparts, const TrainState *s, char *err,
                    size_t errlen);
/* Written last, by one rank, after every file is in place. */
int state_write_manifest(const char *dir, const StateManifest *m, char *err, size_t errlen);
int state_read_manifest(const char *dir, StateManifest *m, char *err, size_t errlen);
/* Fills every part of want[] (ranges of any layout) from the files of the checkpoint in dir
 * and the scalars into *s; fails naming the file when a checksum, a range or a size is wrong,
 * when two ranges of a vector overlap (across all files) or when some wanted element is in no
 * file. With nwant 0 every tensor is checked (nothing is filled). */
int state_gather(const char *dir, const StateManifest *m, StatePart *want, int nwant, TrainState *s, char *err,
                 size_t errlen);
/* The newest complete checkpoint of run_dir whose manifest reads and whose files verify (state_gather
 * with nwant 0: every tensor's checksum, ranges inside the parameters and held once), into dir and
 * m; a damaged one is passed over with a warning naming it and what is wrong, and the one used is
 * named. -1 with err when there is none (no complete checkpoint, or all damaged). Costs one read
 * of the checkpoint's files. */
int state_find_intact(const char *run_dir, char *dir, size_t n, StateManifest *m, char *err, size_t errlen);
/* The newest complete checkpoint of run_dir into dir (size n); 0 when found, -1 when none. */
int state_find_latest(const char *run_dir, char *dir, size_t n);
/* Keeps the newest `keep` complete checkpoints (and every one whose step is a multiple of
 * keep_every, when > 0); removes the others, and incomplete ones older than the newest
 * complete one (left by a process killed while writing). */
void state_prune(const char *run_dir, int keep, int64_t keep_every);

#endif
