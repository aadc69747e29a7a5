/* lvit plan: the flags into PlanOptions, then the library (plan/plan_run.h). */
#include "cli/common.h"
#include "cli/downscale_cli.h"
#include "plan/plan_run.h"

int cmd_plan(int argc, char **argv) {
    PlanOptions o;
    plan_options_default(&o);
    ArgSpec specs[] = {
        MODEL_ARG_SPECS(o.model),
        {"batch", ARG_INT, &o.batch, "samples per step (the global batch, as lvit train --batch)", NULL, 1, 1 << 30, 0},
        {"times", ARG_INT, &o.times, "samples of synthetic data each process holds in memory (lvit bench: 64, lvit train --data synthetic: --times; 0 = a dataset file, read per sample)", NULL, 0, 1 << 30, 0},
        {"tiles", ARG_INT, &o.task.tiles, "TILES: each sample is one of N x N windows of the grid (an independent sequence)", NULL, 1, 64, 0},
        {"halo", ARG_INT, &o.task.halo, "TILES: halo rows around each window (columns: twice this)", NULL, 0, 4096, 0},
        {"machine", ARG_STR, &o.machine, "cpu (this machine, its sgemm rate measured), h100-node, frontier-node, or a file of key=value lines (docs/scaling.md)", NULL, 0, 0, 0},
        {"nodes", ARG_INT, &o.nodes, "nodes", NULL, 1, 1 << 20, 0},
        {"ranks-per-node", ARG_INT, &o.ranks_per_node, "processes (GPUs) per node instead of the machine's (0 = keep)", NULL, 0, 1 << 20, 0},
        {"mem-gib", ARG_FLOAT, &o.mem_gib, "memory per rank in GiB instead of the machine's (0 = keep)", NULL, 0, 1e7, 0},
        {"peak-tflops", ARG_FLOAT, &o.peak_tflops, "peak TFLOP/s per rank instead of the machine's (0 = keep)", NULL, 0, 1e6, 0},
        {"efficiency", ARG_FLOAT, &o.efficiency, "fraction of the peak a step reaches instead of the machine's (0 = keep)", NULL, 0, 1, 0},
        {"cpu-peak-gflops", ARG_FLOAT, &o.cpu_peak_gflops, "cpu machine: this sgemm rate for the whole machine instead of measuring it (0 = measure)", NULL, 0, 1e9, 0},
        {"best", ARG_INT, &o.best, "how many of the fastest layouts to print", NULL, 1, 1 << 20, 0},
        {"try-channel-parallel", ARG_FLAG, &o.try_chag, "agg mode: also try D-CHAG (--channel-parallel = tp) on each tensor-parallel layout (it changes the model's aggregation)", NULL, 0, 0, 0},
        {"only", ARG_FLAG, &o.only, "size only the layout of the layout flags (--dp, --sp, --tp, --pp, --zero, ... as lvit train takes them)", NULL, 0, 0, 0},
        {"json", ARG_FLAG, &o.json, "print JSON (every layout, the invalid ones with their reason)", NULL, 0, 0, 0},
        DIST_ARG_SPECS(o.layout),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "plan", "[model flags of lvit train] [--batch B] [--machine cpu|h100-node|frontier-node|FILE] [--nodes N] [--json]", NULL, 0);
    return plan_run(&o);
}
