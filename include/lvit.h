/* lvit: run a trained lvit model inside another program (C11; a Fortran module over it is in
 * bindings/fortran/lvit.f90). docs/api.md has the whole story; the short one:
 *
 *     lvit_model *m;
 *     if (lvit_open("run/model.safetensors", NULL, &m) != LVIT_OK) { puts(lvit_last_error()); ... }
 *     int H, W; lvit_grid(m, &H, &W);
 *     float *y = malloc(sizeof(float) * lvit_num_outputs(m) * H * W);
 *     lvit_forecast(m, x, NULL, 6.0f, y);  // x: [V][H][W] physical units, row-major
 *     lvit_close(m);
 *
 * Conventions:
 *  - Fields are float32, row-major [variable][row][column] on the model's UNPADDED data grid
 *    (H x W, lvit_grid), in the physical units of the training data (lvit_units).
 *  - Padding: the model sees the grid padded up to whole patches (lvit_padded_grid) by rows and
 *    columns appended after the last row and column; the library pads and crops, as training did.
 *  - Masks: optional [variable][row][column] bytes, 1 = observed. A masked input cell enters the
 *    model as the variable's training mean (0 after normalisation) and its forecast is written as
 *    NaN, so the output marks exactly the cells the input did not have.
 *  - Lead time: lvit_forecast takes hours; the model's lead input is hours / 100
 *    (lvit_lead_divisor).
 *  - Errors: every call returns an lvit_status; on failure lvit_last_error() (per thread) names
 *    the file, tensor, variable or argument at fault. The library does not print and does not end
 *    the process on bad input (unreadable or wrong files, wrong sizes, NaN inputs). Internal
 *    errors (a bug) found inside an OpenMP parallel region still abort, as they do in the
 *    command-line tool; see docs/api.md.
 *  - Threads: a model may be used by one thread at a time; different models on different threads
 *    are independent.
 */
#ifndef LVIT_PUBLIC_H
#define LVIT_PUBLIC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LVIT_API_VERSION 1

typedef enum lvit_status {
    LVIT_OK = 0,
    LVIT_E_IO = 1,       /* a file could not be opened or read */
    LVIT_E_FORMAT = 2,   /* a file is not an lvit checkpoint, or is damaged or from a newer lvit */
    LVIT_E_ARG = 3,      /* a bad argument: NULL, out-of-range index, NaN input, wrong task */
    LVIT_E_MEMORY = 4,   /* out of memory */
    LVIT_E_INTERNAL = 5  /* an internal check failed (a bug: please report it with the message) */
} lvit_status;

/* An opened model (weights, configuration and metadata); opaque. */
typedef struct lvit_model lvit_model;

typedef struct LvitOptions {
    int threads;         /* CPU threads for each call (0: OpenMP's default, i.e. all cores) */
    const char *device;  /* reserved: NULL or "cpu" (the only device in this version) */
} LvitOptions;

/* The library's version, e.g. "0.1.0". */
const char *lvit_version(void);
/* The message of this thread's last failure ("" when none); valid until this thread's next call. */
const char *lvit_last_error(void);

/* Opens an lvit model checkpoint (model.safetensors of a run directory). opts may be NULL. On
 * failure *out is NULL. */
lvit_status lvit_open(const char *checkpoint_path, const LvitOptions *opts, lvit_model **out);
/* Releases everything of m; NULL is fine. */
void lvit_close(lvit_model *m);

/* ---- metadata (all valid while m is open) ---- */
const char *lvit_task(const lvit_model *m);            /* "forecast", "downscale", "classify" or "segment" */
int lvit_num_inputs(const lvit_model *m);              /* V: variables the model reads (downscaling: + static) */
int lvit_num_outputs(const lvit_model *m);             /* Vo: variables it writes */
/* Name and units of input i (0 <= i < V; outputs are inputs 0 .. Vo-1). NULL if i is out of range;
 * units "" when the checkpoint did not record them. */
const char *lvit_var_name(const lvit_model *m, int i);
const char *lvit_units(const lvit_model *m, int i);
/* Normalisation statistics of input i: x_model = (x - mean) / std. */
lvit_status lvit_norm(const lvit_model *m, int i, double *mean, double *std);
/* The data grid the caller passes (unpadded; downscaling: the coarse input grid) and the grid the
 * model computes on (padded to whole patches). */
lvit_status lvit_grid(const lvit_model *m, int *H, int *W);
lvit_status lvit_padded_grid(const lvit_model *m, int *Hp, int *Wp);
/* The output grid: lvit_grid for forecasting, scale times it for downscaling. */
lvit_status lvit_output_grid(const lvit_model *m, int *H, int *W);
/* Latitudes [H] and longitudes [W] (degrees) of the data grid, or NULL when not recorded. */
const double *lvit_lat(const lvit_model *m);
const double *lvit_lon(const lvit_model *m);
int lvit_patch_size(const lvit_model *m);
int lvit_scale(const lvit_model *m);                   /* downscaling factor (1: forecasting) */
int lvit_residual(const lvit_model *m);                /* 1: the model predicts the change of the state */
double lvit_lead_divisor(const lvit_model *m);         /* the lead input is hours / this (100) */
/* Version of the checkpoint's data description: 1 (older lvit: no units, lat/lon or unpadded
 * grid; the grid is then taken to be the model's) or 2. */
int lvit_format_version(const lvit_model *m);
/* Where the model was trained: the dataset's absolute path or "synthetic" ("" unknown). */
const char *lvit_data_source(const lvit_model *m);

/* ---- inference ---- */
/* Forecast: x [V][H][W] physical units at the initial time, mask [V][H][W] (1 = observed) or
 * NULL (all observed), lead_hours > 0; y [Vo][H][W] physical units at initial time + lead, NaN
 * where the mask is 0. NaN or infinite input at an observed cell is LVIT_E_ARG. */
lvit_status lvit_forecast(lvit_model *m, const float *x, const unsigned char *mask, float lead_hours, float *y);
/* The same with the number of elements of each array (x and mask: V*H*W, mask may be NULL with
 * nmask 0; y: Vo*H*W): a size that does not match the model is LVIT_E_ARG instead of a read or
 * write past the end. The Fortran module calls this one. */
lvit_status lvit_forecast_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                                float lead_hours, float *y, size_t ny);
/* Downscaling (task "downscale", an ORBIT-2 Reslim model), the whole grid at once:
 * coarse [V][h][w] on lvit_grid: the Vo variables in physical units, then the V - Vo static
 * channels exactly as the model saw them in training (standardized: lvit train --static,
 * docs/downscaling.md); mask [V][h][w] (1 = observed) or NULL; fine [Vo][s h][s w]
 * (lvit_output_grid) in physical units, NaN in the s x s block of every unobserved coarse cell.
 * TILES windows are not used: memory grows with the whole grid's sequence. */
lvit_status lvit_downscale(lvit_model *m, const float *coarse, const unsigned char *mask, float *fine);
/* The same with the array lengths checked (coarse and mask: V*h*w, mask NULL with nmask 0; fine:
 * Vo*(s h)*(s w)); the Fortran module calls this one. */
lvit_status lvit_downscale_sized(lvit_model *m, const float *coarse, size_t ncoarse, const unsigned char *mask,
                                 size_t nmask, float *fine, size_t nfine);

/* ---- image tasks (task "classify" or "segment", docs/api.md) ----
 * The grid (lvit_grid) is the model's window: a pixel classifier's W x W pixels around the pixel to
 * classify (the window's centre pixel is at row and column W / 2), a whole image for an image
 * classifier, a segmentation model's tile. x [V][H][W] are the bands in the units of the training
 * data, mask [V][H][W] (1 = observed) or NULL; cells outside the scene are given as unobserved. */
int lvit_num_classes(const lvit_model *m);            /* K (0 for other tasks) */
const char *lvit_class_name(const lvit_model *m, int k); /* as lvit convert named them, e.g. "class_10" */
/* Classification: logits [K] (softmax for single-label models, sigmoid per class for multi-label). */
lvit_status lvit_classify(lvit_model *m, const float *x, const unsigned char *mask, float *logits);
lvit_status lvit_classify_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                                float *logits, size_t nlogits);
/* Segmentation of one tile: logits [K][H][W], the class of each pixel the largest (lvit predict
 * covers a scene with tiles overlapping by half and sums their softmax, docs/classification.md). */
lvit_status lvit_segment(lvit_model *m, const float *x, const unsigned char *mask, float *logits);
lvit_status lvit_segment_sized(lvit_model *m, const float *x, size_t nx, const unsigned char *mask, size_t nmask,
                               float *logits, size_t nlogits);

#ifdef __cplusplus
}
#endif
#endif
