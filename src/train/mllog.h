/* lvit train --mllog FILE: an MLPerf-HPC-style event log. Each event is one line
 *     :::MLLOG {"namespace": "", "time_ms": T, "event_type": E, "key": K, "value": V,
 *               "metadata": {"file": F, "lineno": N, ...}}
 * (the MLCommons logging format; keys and rules in docs/mllog.md), written as it happens and
 * flushed per line. Only the writing rank (rank 0) writes; every rank stages its data. The first
 * failed write stops the logging (the run goes on) and mllog_close reports it. */
#ifndef LVIT_MLLOG_H
#define LVIT_MLLOG_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "optim/optim.h"

typedef enum { MLLOG_POINT, MLLOG_START, MLLOG_END } MllogType;

typedef struct MlLog {
    int on;                 /* --mllog was given (every rank: staging reads the data) */
    FILE *f;                /* the log on the writing rank, else NULL */
    char path[4096];
    int err;                /* errno of the first failed write (later events are dropped) */
    int64_t epoch;          /* epoch of the steps in progress, -1 when none is open */
    int64_t epoch_samples;  /* training samples per epoch */
    int batch;              /* global batch */
    int64_t staged;         /* bytes of the data file read in staging */
} MlLog;

/* What the log says about the run before run_start. */
typedef struct MllogSetup {
    const char *task;          /* "forecast", "downscale": the benchmark is lvit_<task> */
    const char *data;          /* --data (recorded as the dataset) */
    int64_t seed;
    int batch, ranks, threads;
    int64_t train_samples;     /* per epoch */
    int64_t eval_samples;      /* per evaluation (0: no evaluation) */
    const OptConfig *opt;      /* with warmup, total and min_lr set */
    double target;             /* the validation loss that ends the run (0: none, all steps run) */
} MllogSetup;

/* Starts the log: path NULL leaves L off (every other call is then a no-op). write = 1 on the
 * rank that writes. Evicts the data file from the page cache (cache_clear; data "synthetic" has
 * none) and logs init_start. Exit 2 naming the path when it cannot be created. */
void mllog_open(MlLog *L, const char *path, int write, const char *data);
/* staging_start, then (data file) every byte of it read once so that training reads it from
 * memory; mllog_staging_stop after the dataset is open. */
void mllog_staging_start(MlLog *L, const char *data);
void mllog_staging_stop(MlLog *L);
/* The submission, data and hyperparameter keys, init_stop and run_start. */
void mllog_run_start(MlLog *L, const MllogSetup *s);
/* The calls below are macros that pass the caller's file and line to the log's metadata. */
/* Before step s (0-based) and after it: epoch_start / epoch_stop where an epoch begins or ends. */
#define mllog_step_begin(L, s) mllog_step_begin_at(L, __FILE__, __LINE__, s)
#define mllog_step_end(L, s) mllog_step_end_at(L, __FILE__, __LINE__, s)
/* An evaluation after `step` steps: eval_start; then eval_stop and eval_accuracy (the value). */
#define mllog_eval_start(L, step) mllog_eval_start_at(L, __FILE__, __LINE__, step)
#define mllog_eval_stop(L, step, value) mllog_eval_stop_at(L, __FILE__, __LINE__, step, value)
/* run_stop after `step` steps with status success or aborted (an open epoch is closed first). */
#define mllog_run_stop(L, step, success) mllog_run_stop_at(L, __FILE__, __LINE__, step, success)
void mllog_step_begin_at(MlLog *L, const char *src, int line, int64_t s);
void mllog_step_end_at(MlLog *L, const char *src, int line, int64_t s);
void mllog_eval_start_at(MlLog *L, const char *src, int line, int64_t step);
void mllog_eval_stop_at(MlLog *L, const char *src, int line, int64_t step, double value);
void mllog_run_stop_at(MlLog *L, const char *src, int line, int64_t step, int success);
/* Closes the log. Returns 0, or -1 with err naming the file and the reason when a write failed. */
int mllog_close(MlLog *L, char *err, size_t errlen);

/* One event line: value and extra are JSON text (extra: more metadata members, e.g.
 * "\"epoch_num\":2", or NULL); src and line become the metadata's file and lineno. */
void mllog_event_at(MlLog *L, const char *src, int line, MllogType type, const char *key, const char *value,
                    const char *extra);
#define mllog_event(L, type, key, value, extra) mllog_event_at(L, __FILE__, __LINE__, type, key, value, extra)
/* The line as mllog_event_at writes it, without the newline, into buf (tests). */
int mllog_format(char *buf, size_t n, double time_ms, const char *src, int line, MllogType type, const char *key,
                 const char *value, const char *extra);

#endif
