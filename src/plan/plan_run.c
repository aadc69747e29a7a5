/* lvit plan as a job (plan/plan_run.h). */
#include "plan/plan_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/parse.h"
#include "data/tiles.h"
#include "plan/plan.h"

void plan_options_default(PlanOptions *o) {
    memset(o, 0, sizeof *o);
    o->model = model_options_default();
    o->task = (TaskOptions)TASK_OPTIONS_DEFAULT;
    o->layout = (LayoutOptions)LAYOUT_OPTIONS_DEFAULT;
    o->batch = 8;
    o->nodes = 1;
    o->best = 5;
    o->machine = "cpu";
}

int plan_run(const PlanOptions *o) {
    const ModelOptions *mo = &o->model;
    int H, W;
    if (parse_grid(mo->grid, &H, &W)) DIE_USER("lvit plan: --grid expects HxW (e.g. 32x64), got '%s'", mo->grid);
    PlanInput in;
    memset(&in, 0, sizeof in);
    model_options_to_config(mo, mo->vars, H, W, &in.cfg, "plan");
    char err[1024];
    if (plan_machine_preset(o->machine, o->cpu_peak_gflops * 1e9, &in.mach, err, sizeof err) &&
        plan_machine_load(o->machine, o->cpu_peak_gflops * 1e9, &in.mach, err, sizeof err))
        DIE_USER("lvit plan: %s", err);
    if (o->ranks_per_node > 0) in.mach.ranks_per_node = o->ranks_per_node;
    if (o->mem_gib > 0) in.mach.mem_bytes = o->mem_gib * 1073741824.0;
    if (o->peak_tflops > 0) in.mach.peak_flops = o->peak_tflops * 1e12;
    if (o->efficiency > 0) in.mach.efficiency = o->efficiency;
    if (o->task.tiles > 1 || o->task.halo > 0) { /* TILES: each sample is one window of the grid */
        TilePlan tp;
        if (tiles_plan(&tp, in.cfg.H, in.cfg.W, o->task.tiles, o->task.halo, in.cfg.p, 0, err, sizeof err))
            DIE_USER("lvit plan: %s", err);
        in.cfg.tile_h = tp.th;
        in.cfg.tile_w = tp.tw;
    }
    in.batch = o->batch;
    in.nodes = o->nodes;
    in.data_times = o->times;
    in.try_chag = o->try_chag;
    const LayoutOptions *lo = &o->layout;
    in.only = (PlanLayout){.dp = lo->dp, .sp = lo->sp, .tp = lo->tp, .pp = lo->pp, .zero = lo->zero, .fsdp = lo->fsdp,
                           .sp_mode = lo->sp_mode, .sp_u = lo->sp_u, .microbatches = lo->microbatches,
                           .recompute = lo->recompute, .no_overlap = lo->no_overlap};
    if (o->only) {
        in.fixed = 1;
        /* the layout decides the ranks: --dp 0 (lvit train's "the processes left") is 1 here */
        if (in.only.dp < 1) in.only.dp = 1;
        const int N = in.only.dp * lo->sp * lo->tp * lo->pp;
        if (N % in.nodes)
            DIE_USER("lvit plan: --only: --dp %d x --sp %d x --tp %d x --pp %d = %d ranks do not fill %d nodes evenly",
                     in.only.dp, lo->sp, lo->tp, lo->pp, N, in.nodes);
        in.mach.ranks_per_node = N / in.nodes;
    }
    /* the model flags of the printed commands: what lvit train needs to build the same model */
    char flags[512];
    int k = snprintf(flags, sizeof flags, "--vars %d --grid %s --patch %d --dim %d --depth %d --heads %d --decoder-depth %d",
                     mo->vars, mo->grid, mo->patch, mo->dim, mo->depth, mo->heads, mo->dec_depth);
    if (mo->channels == CH_MULTI) k += snprintf(flags + k, sizeof flags - (size_t)k, " --channels multi");
    if (mo->chag > 1) k += snprintf(flags + k, sizeof flags - (size_t)k, " --channel-parallel %d", mo->chag);
    if (mo->chag_group > 0) k += snprintf(flags + k, sizeof flags - (size_t)k, " --chag-group %d", mo->chag_group);
    if (mo->residual) k += snprintf(flags + k, sizeof flags - (size_t)k, " --residual");
    if (in.cfg.tile_h > 0) snprintf(flags + k, sizeof flags - (size_t)k, " --task downscale --tiles %d --halo %d", o->task.tiles, o->task.halo);
    PlanEntry *e = NULL;
    const int n = plan_enumerate(&in, &e);
    plan_print(&in, e, n, o->best, flags, o->json);
    int nv = 0;
    for (int i = 0; i < n; i++) nv += e[i].valid;
    free(e);
    vit_config_free(&in.cfg);
    return nv ? 0 : 1;
}
