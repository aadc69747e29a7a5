/* Evaluation and prediction with a trained model, for whichever task the checkpoint holds: the
 * library side of `lvit eval` and `lvit predict` (src/cli only fills these options). Each task
 * implements them (TaskOps.eval and .predict in tasks/task.h); eval_run and predict_run pick the
 * task from the checkpoint. Bad input exits 2 naming the file, option or variable. */
#ifndef LVIT_JOBS_H
#define LVIT_JOBS_H
#include "tasks/task.h"

typedef struct EvalOptions {
    const char *run;        /* run directory with model.safetensors (required) */
    const char *data;       /* dataset (NULL: the one the model was trained on) */
    const char *split;      /* "test", "val" or "train" */
    const char *leads;      /* forecast: lead times in hours, "6,24" */
    const char *json;       /* also write the scores as JSON here, or NULL */
    int batch, threads, device;
    const char *statics, *coarse; /* downscale: inputs other than the recorded ones, or NULL */
    TaskOptions tiles;      /* downscale: tiles, halo, periodic */
    int blend;              /* downscale: blend the tiles' halos instead of cropping them */
    int max_times;          /* downscale: score only the first N times (0 = all) */
    LayoutOptions layout;   /* forecast, downscale: under mpirun the processes share the samples
                             * (data parallel: dp; tp, sp and pp are refused) */
} EvalOptions;

typedef struct PredictOptions {
    const char *run, *data;
    const char *out;        /* .nc: CF netCDF; else safetensors (forecast only) */
    const char *plot_dir;   /* also draw maps here, or NULL */
    int time;               /* the initial time index (-1: the task's default) */
    float lead;             /* forecast: lead time in hours */
    int batch, threads, device, blend;
    const char *statics, *coarse;
    TaskOptions tiles;
    int64_t seed;           /* mae: which held-out samples are drawn */
} PredictOptions;

#define EVAL_OPTIONS_DEFAULT \
    {.split = "test", .leads = "6,24", .batch = 8, .tiles = TASK_OPTIONS_DEFAULT, .layout = LAYOUT_OPTIONS_DEFAULT}
#define PREDICT_OPTIONS_DEFAULT {.time = -1, .lead = 6, .batch = 8, .tiles = TASK_OPTIONS_DEFAULT}

/* The task of the model in RUN_DIR/model.safetensors (forecast when it cannot be read: the job
 * then says why). */
const TaskOps *task_of_run(const char *run);
/* Under mpirun (srun...): forecast and downscaling evaluation share the samples over the processes
 * and print and write once (rank 0), with the scores of one process; the other tasks' evaluation
 * and every prediction run on rank 0 alone, the other processes exit 0 at once (no duplicate
 * outputs, no races on their temporary files). */
int eval_run(const EvalOptions *o);
int predict_run(const PredictOptions *o);

/* The evaluation mesh (tasks/eval_layout.c): lo's layout under the launcher, refused on every rank
 * (exit 2) unless data parallel; the kernel table of lo->device (one GPU per process). */
const Kernels *eval_layout_init(Parallel *par, const LayoutOptions *lo, const char *cmd);
/* Rounds of one item per rank: the items [k0, k0 + ranks) of round k0; sums[n] of the round's
 * contributions, each filled by the rank that owns it (zero elsewhere), summed over the ranks in
 * place (exact: one non-zero term each). */
void eval_round_sum(Parallel *par, double *sums, int64_t n);
/* --split test, val or train; else refused (once, exit 2 on every rank) */
void eval_check_split(Parallel *par, const char *split);

/* The implementations (tasks/forecast_eval.c, forecast_predict.c, downscale_eval.c, downscale_predict.c). */
int forecast_eval(const EvalOptions *o);
int forecast_predict(const PredictOptions *o);
int downscale_eval(const EvalOptions *o);
int downscale_predict(const PredictOptions *o);
int classify_eval(const EvalOptions *o);     /* tasks/classify_eval.c */
int classify_predict(const PredictOptions *o);
int segment_eval(const EvalOptions *o);      /* tasks/segment_eval.c */
int segment_predict(const PredictOptions *o);

/* Writes text to path atomically (a temporary name, then rename) and says so; dies with exit 2
 * naming the command and the path on failure. */
void write_text_file(const char *path, const char *text, const char *cmd);

#endif
