/* lvit plan as a job: the model from train's options, the machine from a preset or a file, the
 * layouts planned and printed (plan/plan.h). The library side of `lvit plan`. */
#ifndef LVIT_PLAN_RUN_H
#define LVIT_PLAN_RUN_H
#include "tasks/task.h"
#include "train/setup.h"

typedef struct PlanOptions {
    ModelOptions model;     /* lvit train's model flags */
    TaskOptions task;       /* only --tiles and --halo (TILES windows) */
    LayoutOptions layout;   /* with only: the one layout to size (lvit train's layout flags) */
    int batch, nodes, best, json, only, times, try_chag;
    const char *machine;    /* preset name or key=value file */
    int ranks_per_node;     /* overrides of the machine (0 / negative: keep) */
    float mem_gib, peak_tflops, efficiency, cpu_peak_gflops;
} PlanOptions;
void plan_options_default(PlanOptions *o);
/* Exit status: 0, or LVIT_EXIT_USAGE on bad input (the message names the flag or file), or 1
 * when no layout fits. */
int plan_run(const PlanOptions *o);

#endif
