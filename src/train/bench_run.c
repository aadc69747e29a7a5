/* Timed training steps on synthetic data (train/bench_run.h). */
#include "train/bench_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "core/check.h"
#include "core/log.h"
#include "core/parse.h"
#include "kernels/cuda/ops_cuda.h"
#include "tasks/jobs.h"
#include "train/bench_roofline.h"
#include "train/trainer.h"

void bench_options_default(BenchOptions *o) {
    *o = (BenchOptions){.model = model_options_default(), .task = TASK_OPTIONS_DEFAULT, .layout = LAYOUT_OPTIONS_DEFAULT,
                        .batch = 8, .steps = 10, .warmup = 2, .seed = 1};
}

int bench_run(const BenchOptions *o) {
    ModelOptions mf = o->model;
    const LayoutOptions df = o->layout;
    const TaskOptions dsf = o->task;
    const int batch = o->batch, steps = o->steps, warm = o->warmup, no_peak = o->no_peak,
              profile = o->profile || o->profile_png;
    const int64_t seed = o->seed;
    Parallel par;
    layout_init(&par, &df, "bench");
    train_set_threads(o->threads);
    int H, W;
    if (parse_grid(mf.grid, &H, &W)) DIE_USER("lvit bench: --grid expects HxW (e.g. 32x64), got '%s'", mf.grid);
    Dataset ds;
    int times = 64; /* synthetic times: at most about 256 MiB of them (hundreds of channels on a large grid) */
    while (times > 8 && (double)times * mf.vars * H * W * 4 > 256.0 * 1048576) times /= 2;
    dataset_synthetic(&ds, mf.vars, times, H, W, (uint64_t)seed);
    VitConfig cfg;
    Task task;
    const float lead = 6;
    const TaskSetup setup = {.ds = &ds, .opts = &dsf, .model = &mf, .leads = &lead, .nlead = 1, .par = &par, .cmd = "bench"};
    if (dsf.task == TASK_DOWNSCALE) ds.t_train_end = ds.t_val_end = ds.T; /* --grid is then the fine grid */
    task_table[dsf.task]->open(&task, &setup, &cfg);
    layout_check(&par, &cfg, batch, "bench");
    cfg.recompute = df.recompute;
    train_print_banner();
    if (o->profile_png) bench_roofline_check_path(o->profile_png);
    BenchCeilings roof = {0};
    if (df.device != 1 && !no_peak) bench_ceilings_measure(&roof);
    OptConfig oc = opt_default();
    oc.total = warm + steps;
    Trainer t;
    const Kernels *dev = layout_kernels(&par, &df, "bench");
    const Kernels *k = profile ? kernels_profiled(dev) : dev;
    trainer_init(&t, &cfg, &oc, &task, 0, ds.T, batch, (uint64_t)seed, k, &par);
    for (int i = 0; i < warm; i++) trainer_step(&t);
    if (profile) kernels_profile_reset();
    int64_t sent0 = parallel_bytes_sent(&par);
    double best = INFINITY, total = 0;
    for (int i = 0; i < steps; i++) {
        StepStats st = trainer_step(&t);
        total += st.seconds;
        if (st.seconds < best) best = st.seconds;
        log_info("step %d: loss %.5f, %.1f ms", i + 1, st.loss, st.seconds * 1e3);
    }
    double mean = total / steps, tps = t.tokens_per_step / mean, gf = t.flops_per_step / mean / 1e9;
    if (profile) bench_roofline_report(steps, mean, &roof, o->profile_png);
    log_info("mean %.1f ms/step (best %.1f), %.2f GFLOP per step, %.1f GFLOP/s", mean * 1e3, best * 1e3,
             t.flops_per_step / 1e9, gf);
    if (df.device == 1) {
        /* fp32 on the CUDA cores (no tensor cores in the checking mode): the peak by model */
        char name[256];
        cuda_device_name(name, sizeof name);
        static const struct { const char *key; double tflops; } peaks[] = {
            {"H200", 67}, {"H100 80GB HBM3", 67}, {"H100 SXM", 67}, {"H100 NVL", 60}, {"H100 PCIe", 51}, {"A100", 19.5}};
        double peak = 0;
        for (size_t i = 0; i < sizeof peaks / sizeof *peaks && !peak; i++)
            if (strstr(name, peaks[i].key)) peak = peaks[i].tflops;
        if (peak > 0)
            log_info("%.2f TFLOP/s, %.1f%% of the %s fp32 peak (%.1f TFLOP/s)", gf / 1e3, 100.0 * gf / 1e3 / peak, name,
                     peak);
        log_info("GPU memory in use: %.1f MiB", cuda_mem_used() / 1048576.0);
    } else if (!no_peak) {
        const double peak = roof.sgemm_gflops;
        log_info("machine sgemm (1024^3, %d threads): %.1f GFLOP/s; this step reaches %.0f%% of it", omp_get_max_threads(),
                 peak, 100.0 * gf / peak);
    }
    if (par.world.size > 1) {
        /* per rank: step time, bytes sent, planned memory (everything is allocated up front) */
        enum { NC = 8 };
        const int P = par.world.size;
        TrainerMem mem;
        trainer_memory(&t, &mem);
        const double MiB = 4.0 / 1048576.0;
        float mine[NC] = {(float)(mean * 1e3), (float)((parallel_bytes_sent(&par) - sent0) / 1048576.0 / steps),
                          (float)(mem.params * MiB), (float)(mem.grads * MiB), (float)(mem.opt * MiB),
                          (float)(mem.gathered * MiB), (float)(mem.acts * MiB), (float)(mem.embed * MiB)};
        float *all = xcalloc((size_t)P * NC, sizeof(float));
        par.world.ops->allgather(&par.world, all, mine, NC);
        double worst = 0;
        log_info("%-5s %9s %10s  %s", "rank", "ms/step", "MiB sent", "MiB held: params   grads     adam  gathered  activations (tokens+agg)");
        for (int r = 0; r < P; r++) {
            const float *a = all + r * NC;
            log_info("%-5d %9.1f %10.3f  %18.2f %7.2f %8.2f %9.2f %12.1f (%.1f)", r, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
            if (a[0] > worst) worst = a[0];
        }
        tps = t.tokens_per_step / (worst / 1e3); /* a step ends when the slowest rank is done */
        free(all);
    }
    TrainerMem tm;
    trainer_memory(&t, &tm);
    if (task.ops->bench_report) task.ops->bench_report(&task, &cfg, mean * 1e3, batch, tm.acts, par.world.rank == 0);
    if (par.world.rank == 0) printf("tokens/s: %.1f\n", tps);
    trainer_free(&t);
    task_free(&task);
    vit_config_free(&cfg);
    dataset_free(&ds);
    parallel_finalize(&par);
    return 0;
}
