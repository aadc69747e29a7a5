/* lvit bench: the flags into BenchOptions, then the library (train/bench_run.h). */
#include "cli/common.h"
#include "cli/downscale_cli.h"
#include "train/bench_run.h"

int cmd_bench(int argc, char **argv) {
    BenchOptions o;
    bench_options_default(&o);
    ArgSpec specs[] = {
        MODEL_ARG_SPECS(o.model),
        DOWNSCALE_ARG_SPECS(o.task),
        {"batch", ARG_INT, &o.batch, "samples per step", NULL, 1, 1 << 20, 0},
        {"steps", ARG_INT, &o.steps, "timed steps", NULL, 1, 1 << 30, 0},
        {"warmup", ARG_INT, &o.warmup, "untimed steps first", NULL, 0, 1 << 30, 0},
        {"threads", ARG_INT, &o.threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {"seed", ARG_I64, &o.seed, "seed", NULL, 0, 9e18, 0},
        {"no-peak", ARG_FLAG, &o.no_peak, "skip measuring the machine's sgemm rate and memory bandwidth", NULL, 0, 0, 0},
        DIST_ARG_SPECS(o.layout),
        {"profile", ARG_FLAG, &o.profile, "time every kernel call and print the roofline table per op", NULL, 0, 0, 0},
        {"profile-png", ARG_STR, &o.profile_png, "write the roofline plot of --profile to this PNG (implies --profile)",
         NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "bench", "[model options] [--batch B] [--steps N]", NULL, 0);
    return bench_run(&o);
}
