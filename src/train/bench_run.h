/* Timed training steps on synthetic data, for any task and layout: ms per step, tokens/s, GFLOP/s
 * against the machine's sgemm rate,
 * the roofline table of --profile (train/bench_roofline.h), per-rank memory and bytes sent, and (TILES) the attention
 * work per image. The library side of `lvit bench`. */
#ifndef LVIT_BENCH_RUN_H
#define LVIT_BENCH_RUN_H
#include <stdint.h>
#include "tasks/task.h"
#include "train/setup.h"

typedef struct BenchOptions {
    ModelOptions model;     /* --vars and --grid shape the synthetic data (the fine grid for downscaling) */
    TaskOptions task;
    LayoutOptions layout;
    int batch, steps, warmup, threads, no_peak, profile;
    const char *profile_png;   /* --profile-png: the roofline plot (implies profile); NULL: none */
    int64_t seed;
} BenchOptions;
void bench_options_default(BenchOptions *o);
int bench_run(const BenchOptions *o);

#endif
