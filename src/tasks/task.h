/* What is being learned: a Task says what a sample is, how a batch of them is laid out and
 * filled, which model head and loss terms it trains, and describes itself in the checkpoint. The
 * training engine (src/train/) is written once over this interface and holds no task branches.
 *   forecast:  state at t -> state at t + lead (tasks/forecast.c)
 *   downscale: coarse field -> fine field, ORBIT-2's Reslim, optionally on TILES windows
 *              (tasks/downscale.c)
 *   classify:  image or pixel window -> class (or classes), on image datasets (tasks/classify.c)
 *   mae:       masked-autoencoder pretraining on images or pixel windows (tasks/mae.c)
 *   segment:   tile of a scene -> class of every pixel (tasks/segment.c)
 * A new task (masked-autoencoder pretraining, classification, segmentation: image inputs without
 * lat/lon, label targets, masked tokens) is one file implementing TaskOps plus its entry in
 * task_names. The model's head is chosen by VitConfig (cfg->scale, cfg->mode...), which a task's
 * configure sets. */
#ifndef LVIT_TASK_H
#define LVIT_TASK_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"
#include "model/vit.h"
#include "parallel/comm.h"
#include "train/setup.h"

/* A single-band label raster (a .mat variable, var NULL: the only 2-D one; or a GDAL raster) as
 * doubles [H*W] and a validity mask, both malloc'd, and its geotransform geo [6] (*has_geo 0 when
 * the file has none): 0, or -1 with err naming the file. The readers live in src/imagery, which
 * the public library does not link: the command line passes them in. */
typedef int (*LabelRasterRead)(const char *path, const char *var, int *H, int *W, double **vals, uint8_t **ok,
                               double geo[6], int *has_geo, char *err, size_t errlen);

/* Writes a class map [H*W] of label values as a one-band raster (GeoTIFF) at path, with the
 * geotransform geo [6] and the CRS wkt when not NULL: 0, or -1 with err naming the file. Also from
 * src/imagery through the command line. */
typedef int (*LabelRasterWrite)(const char *path, const int32_t *vals, int H, int W, const double *geo, const char *wkt,
                                char *err, size_t errlen);

/* What a job learns: the task (an index into task_table) and the downscaling options. */
typedef struct TaskOptions {
    int task;          /* TASK_*: 0 forecast, 1 downscale, 2 classify, 3 mae, 4 segment */
    int scale, res_width, tiles, halo;
    int periodic;      /* 0 auto, 1 off, 2 on (the order of the --periodic choices) */
    int base;          /* 0 none, 1 bicubic (the default: the model learns the difference from the
                          bicubic interpolation, so it starts near that baseline) */
    float tv_weight;
    const char *statics, *coarse, *var_weights;
    /* classification of an image dataset (tasks/classify_data.h) */
    int window;        /* pixel classification: the side of the window around each labelled pixel */
    int split_mode;    /* pixel classification: 0 spatial blocks (disjoint), 1 random pixels */
    int split_block;   /* the blocks' side in pixels */
    int per_class;     /* training samples per class (0: all of the training set) */
    int64_t split_seed; /* the split's blocks and the per-class choice */
    /* pixel classification: the user's own split, label rasters "FILE" or "FILE:VAR" (0 = unlabelled),
     * read with read_raster (tasks/label_split.h) */
    const char *train_labels, *test_labels;
    /* or one raster of the split, "FILE" or "FILE:VAR": 1 = training pixel, 2 = test pixel, 0 or no data =
     * unused; the classes come from the dataset's own label raster */
    const char *split_mask;
    LabelRasterRead read_raster;
    LabelRasterWrite write_raster; /* lvit predict of a segmentation: the class map as GeoTIFF */
    /* masked-autoencoder pretraining (tasks/mae.c) */
    float mask_ratio;  /* the fraction of each patch row's tokens masked */
    int mae_depth;     /* the decoder's blocks */
    int anchor;        /* forecasting: 0 auto, 1 none, 2 blend (data/anchor.h) */
    int history;       /* forecasting: earlier states as extra inputs (0: none) */
} TaskOptions;
#define TASK_OPTIONS_DEFAULT \
    {.scale = 4, .res_width = 16, .tiles = 1, .base = 1, .tv_weight = 0.02f, .window = 9, .split_block = 16, .split_seed = 1, \
     .mask_ratio = 0.75f, .mae_depth = 2}
enum { TASK_FORECAST = 0, TASK_DOWNSCALE = 1, TASK_CLASSIFY = 2, TASK_MAE = 3, TASK_SEGMENT = 4 };

typedef struct Task Task;
struct EvalOptions;
struct PredictOptions;

/* What a job hands a task to set itself up (TaskOps.open). */
typedef struct TaskSetup {
    const Dataset *ds;              /* the data (kept open by the caller while the task lives) */
    const TaskOptions *opts;
    const ModelOptions *model;
    const float *leads;             /* forecast: lead times in hours */
    int nlead;
    int leads_given, downscale_given; /* which task-specific options the user gave (refused by the other task) */
    Parallel *par;                  /* refusals reach every rank */
    const char *cmd;                /* "train", "bench": for messages */
} TaskSetup;

typedef struct TaskOps {
    const char *name;
    /* Sets up the task on s->ds and builds the model configuration for its samples (cfg, to be
     * freed with vit_config_free); options that cannot work are refused (exit 2) with the reason. */
    void (*open)(Task *t, const TaskSetup *s, VitConfig *cfg);
    /* The model configuration of one pipeline stage for this task's samples (e.g. TILES
     * windows); dies naming the mismatch if cfg was built for other data. */
    void (*stage_config)(const Task *t, VitConfig *sc);
    /* Samples of times [t0, t1): 0, or -1 with a message naming what is missing. */
    int (*sampler)(const Task *t, Sampler *s, int t0, int t1, uint64_t seed, int shuffle, char *err, size_t errlen);
    /* Host batch buffers for B samples of this rank's rows of model m; returns the rows of the
     * latitude weights in hb->wlat. */
    int (*batch_init)(const Task *t, HostBatch *hb, int B, const Vit *m);
    /* floats of per-task constants in the backend batch after the latitude weights */
    int64_t (*batch_extra)(const Task *t);
    /* Points the backend batch b at its constants (extra: batch_extra floats of backend memory,
     * filled here) and the task's per-sample fields; B_global: samples per step over all ranks. */
    void (*batch_bind)(const Task *t, Batch *b, const HostBatch *hb, float *extra, int B_global, const Kernels *k);
    /* The weight of the regularizer in training steps (0 in evaluation). */
    float (*reg_weight)(const Task *t);
    /* Start-up lines describing the task's data: c the whole model, sample what one sample is. */
    void (*log)(const Task *t, const VitConfig *c, const VitConfig *sample);
    /* lvit bench: lines on the task's own costs (NULL: none); step_ms for batch samples, act_floats
     * the activations held; print0: this rank prints the machine-readable line. */
    void (*bench_report)(const Task *t, const VitConfig *cfg, double step_ms, int batch, int64_t act_floats, int print0);
    /* The samples' axis when the task numbers its samples itself (image tasks): training ids
     * [0, *train_end), validation [*train_end, *val_end), test from *val_end on. NULL: the
     * dataset's times (ds->t_train_end, ds->t_val_end). */
    void (*ranges)(const Task *t, int *train_end, int *val_end);
    /* Files the task writes into a new run directory (rank 0 only), such as its split; NULL: none. */
    void (*run_files)(const Task *t, const char *run);
    /* The task's part of the checkpoint's data description: a JSON object (caller frees), or NULL. */
    char *(*describe)(const Task *t);
    /* forecasting: what the targets are relative to (data/anchor.h), saved with the model; NULL: none */
    const struct Anchor *(*anchor)(const Task *t);
    /* After the trained model is written to RUN_DIR/model.safetensors (rank 0 only), e.g. to fit
     * what depends on the final weights; NULL: nothing. */
    void (*finish)(const Task *t, const char *run);
    void (*free)(Task *t);
    /* With a trained model (tasks/jobs.h): whether a checkpoint's configuration is this task's,
     * its `lvit eval` and its `lvit predict`. */
    int (*owns)(const VitConfig *cfg);
    int (*eval)(const struct EvalOptions *o);
    int (*predict)(const struct PredictOptions *o);
} TaskOps;

struct Task {
    const TaskOps *ops;
    const Dataset *ds;  /* the data the samples come from (the targets' for downscaling) */
    void *self;         /* the task's own state */
};

/* Forecasting with the given lead times (hours). */
void task_forecast_init(Task *t, const Dataset *ds, const float *leads_h, int nlead);
struct Downscale;
/* Downscaling of d's samples; tv_weight: the total-variation term's weight in training; desc: the
 * JSON object recorded in the checkpoint (copied; NULL for none). */
void task_downscale_init(Task *t, const struct Downscale *d, float tv_weight, const char *desc);
void task_free(Task *t);


/* Every task, in the order of the CLI's --task choices (TASK_FORECAST, TASK_DOWNSCALE, TASK_CLASSIFY, TASK_MAE,
 * TASK_SEGMENT);
 * NULL-terminated. */
extern const TaskOps *const task_table[];
extern const TaskOps task_forecast_ops, task_downscale_ops, task_classify_ops, task_mae_ops, task_segment_ops;

#endif
