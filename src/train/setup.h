/* Start-up shared by every job that builds a model (train, bench, eval, predict, the C API):
 * the model configuration from its options and the data's grid, the process mesh from the
 * layout options, the kernel table of the device, threads, and the stop signals. Messages name
 * the option as the command line spells it (--dp, --patch) and the command (cmd: "train"). */
#ifndef LVIT_TRAIN_SETUP_H
#define LVIT_TRAIN_SETUP_H
#include "kernels/kernels.h"
#include "model/vit.h"
#include "parallel/comm.h"

/* The model's shape (the synthetic data's too: vars, grid). */
typedef struct ModelOptions {
    int vars, patch, dim, depth, heads, dec_depth, channels, residual, chag, chag_group;
    const char *grid;
    const char *band_groups; /* --band-groups SPEC (NULL: none; model/config.h vit_config_set_band_groups) */
} ModelOptions;
ModelOptions model_options_default(void);
/* The configuration for V variables on an H x W grid (padded up to whole patches); dies with
 * exit 2 naming the option on bad values. */
void model_options_to_config(const ModelOptions *mo, int V, int H, int W, VitConfig *c, const char *cmd);

/* How the processes share the work, and where the model runs. */
typedef struct LayoutOptions {
    int dp, sp, tp, pp, microbatches, sp_mode, zero, sp_u, no_overlap, fsdp;
    int device;           /* 0: cpu, 1: cuda */
    int recompute;        /* activation recomputation per block */
    float comm_timeout;   /* seconds a rank waits for the others before it stops (0 = forever) */
} LayoutOptions;
#define LAYOUT_OPTIONS_DEFAULT {.sp = 1, .tp = 1, .pp = 1, .comm_timeout = 600}

/* The mesh from the launcher (mpirun, srun, or one process); a layout that cannot work is
 * refused on every rank (exit 2) with what would. */
void layout_init(Parallel *par, const LayoutOptions *lo, const char *cmd);
/* The layout against the model and the global batch: refused (exit 2 on every rank) with what
 * would work; fills in the derived choices (micro-batches, FSDP groups, usp groups). */
void layout_check(Parallel *par, const VitConfig *cfg, int batch, const char *cmd);
/* The kernel table of lo->device: the CPU's, or the GPU's when there is one (otherwise refused
 * on every rank with the reason). */
const Kernels *layout_kernels(Parallel *par, const LayoutOptions *lo, const char *cmd);

/* OpenMP and BLAS threads (0 = all cores). */
void train_set_threads(int threads);
/* "lvit <version>: BLAS core ..., N threads" line. */
void train_print_banner(void);
/* SIGTERM / SIGUSR1 (what batch schedulers send before killing a job), SIGINT (Ctrl-C) and SIGHUP
 * set a flag instead of killing the process (SIGINT and SIGHUP only when not ignored at start, as
 * under nohup); a second SIGINT within 3 s ends it at once (status 130). train_stop_requested
 * returns the last signal's number, 0 if none. */
void train_install_stop_signals(void);
int train_stop_requested(void);

#endif
