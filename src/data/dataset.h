/* Datasets in memory and the sampler that turns them into batches.
 * A dataset is V variables on a lat-lon grid at T times (physical units), with a validity mask,
 * per-variable normalization statistics and a time axis. A sample is (state at t, state at
 * t + lead). The model sees the grid padded up to a multiple of the patch size; padded cells
 * are masked and weigh nothing. */
#ifndef LVIT_DATASET_H
#define LVIT_DATASET_H
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"
#include "core/rng.h"

/* Image datasets (lvit convert of GeoTIFF, .mat, JPEG/PNG folders, BigEarthNet; docs/formats.md,
 * "Image datasets"): T counts images, not times, and lat/lon/hours/clim are absent (NULL). */
enum { DATASET_GRID = 0, DATASET_IMAGE = 1 };
enum { LABELS_NONE = 0, LABELS_CLASS = 1, LABELS_MULTI = 2, LABELS_MAP = 3 };
enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 };
#define LVIT_CLASS_NAME 128       /* BigEarthNet's longest class name has 86 characters */
typedef struct DatasetImages {
    int label_kind;               /* LABELS_*: one class per image, a multi-hot vector, or a label raster */
    int C;                        /* classes */
    char (*class_names)[LVIT_CLASS_NAME]; /* [C] */
    const uint8_t *split;         /* [T] SPLIT_* per image (a single scene: SPLIT_TRAIN; pixel splits are the task's) */
    const int32_t *label;         /* [T] class index in [0,C), -1 = none (LABELS_CLASS) */
    const uint8_t *multi;         /* [T,C] 1 = class present (LABELS_MULTI) */
    const int32_t *label_map;     /* [T,H,W] class index in [0,C), -1 = unlabelled (LABELS_MAP) */
    const char *meta;             /* the lvit.dataset JSON (per-image names, geotransforms, CRS), in the open file */
} DatasetImages;

typedef struct Dataset {
    int kind;                     /* DATASET_GRID or DATASET_IMAGE */
    DatasetImages img;            /* DATASET_IMAGE only */
    int V, T, H, W;
    char (*names)[LVIT_VAR_NAME]; /* [V] */
    char (*units)[32];            /* [V], "" when unknown */
    /* [H] degrees north, [W] degrees east, as the file holds them. Computations that used them
     * when they were float32 (latitude weights, static channels, the coarsening, plots, metrics)
     * round them to float first, so weights trained so far stay bit for bit. */
    double *lat, *lon;
    double *hours;                /* [T] hours since 1970-01-01 (synthetic: since its start), increasing */
    const float *data;            /* [T,V,H,W] physical units (memory-mapped for dataset files) */
    const uint8_t *valid;         /* [T,V,H,W] 1 = observed; NULL = all valid */
    const float *clim;            /* [V,H,W] per-cell training-period mean; NAN = never observed; may be NULL */
    float *mean, *std;            /* [V] over the training period */
    int t_train_end, t_val_end;   /* split by time: train [0,a), validation [a,b), test [b,T) */
    char source[256];
    void *owned;                  /* what dataset_free releases besides the arrays above */
    void (*release)(void *owned);
} Dataset;

/* A deterministic synthetic "weather" dataset: smooth fields advected eastward by a
 * latitude-dependent jet, coupled across variables, on a global grid; 6-hourly. */
void dataset_synthetic(Dataset *ds, int V, int T, int H, int W, uint64_t seed);
void dataset_free(Dataset *ds);
/* An image dataset whose samples are windows around pixels: a scene with a label raster (labelled:
 * what pixel classification needs), or also any dataset of one image (what MAE pretraining takes). */
static inline int dataset_pixel_scene(const Dataset *ds, int labelled) {
    return ds->kind == DATASET_IMAGE && (ds->img.label_kind == LABELS_MAP || (!labelled && ds->T == 1));
}
/* Mean and standard deviation per variable over times [t0, t1), valid cells only. */
void dataset_compute_stats(Dataset *ds, int t0, int t1);

enum { SAMPLER_MAX_KINDS = 1024 };
/* Samples of a time range: pairs (t, t + lead) with both times inside [t0, t1). */
typedef struct Sampler {
    const Dataset *ds;
    int nlead;            /* lead times (downscaling: windows per time, all of lead 0) */
    float lead_hours[SAMPLER_MAX_KINDS];
    int *target;          /* [T*nlead] time index of t + lead (-1: none inside the range) */
    int64_t n;            /* number of samples */
    int64_t *idx;         /* [n] sample ids, shuffled per epoch: id = t * nlead + lead index */
    int t0, t1;
    uint64_t seed;
    int shuffle;
    int64_t epoch;        /* the epoch whose order idx holds (-1: none yet) */
    int64_t pos;          /* this rank's next position in the stream of all epochs' orders, one
                           * after the other: epoch pos / n, position pos % n of its order */
    int shard, nshards;   /* this rank takes stream positions shard, shard + nshards, ... */
    int64_t list_first;   /* sampler_init_list: the first id (target is then NULL) */
} Sampler;

/* leads_h: lead times in hours; a sample (t, lead) exists when the dataset has the time
 * hours[t] + lead inside [t0, t1) (gaps in the time axis are fine). 0 or -1 + message. */
int sampler_init(Sampler *s, const Dataset *ds, int t0, int t1, const float *leads_h, int nlead,
                 uint64_t seed, int shuffle, char *err, size_t errlen);
void sampler_free(Sampler *s);
/* Samples that pair each time of [t0, t1) with itself, nkinds of them per time (downscaling:
 * the windows of a field), id = t * nkinds + kind. */
int sampler_init_same_time(Sampler *s, const Dataset *ds, int t0, int t1, int nkinds, uint64_t seed, int shuffle,
                           char *err, size_t errlen);
/* Samples that are a task's own list: ids first, first + 1, ..., first + n - 1 (an image task's
 * pixels or images, which it numbers itself; TaskOps.sampler). */
int sampler_init_list(Sampler *s, const Dataset *ds, int64_t first, int64_t n, uint64_t seed, int shuffle, char *err,
                      size_t errlen);
/* Next sample id (reshuffles at the start of each epoch, deterministically from seed and epoch). */
int64_t sampler_next(Sampler *s);
/* Data parallelism: every rank builds the same sampler (same seed) and keeps every nshards-th
 * sample of the stream of epochs from position shard on. Consecutive groups of nshards stream
 * positions are one global batch row each, so the ranks together take exactly the samples a
 * single process would take, epoch boundaries included, and read only their own. */
void sampler_shard(Sampler *s, int shard, int nshards);
/* History inputs: drop the samples whose initial time t lacks the k earlier states t-1..t-k at
 * whole multiples of step_h hours before it (gaps in the time axis drop samples; the earlier
 * states may lie before the range: they are the past, known when the forecast is made). 0, or -1
 * with a message when no sample is left. */
int sampler_require_history(Sampler *s, int k, float step_h, char *err, size_t errlen);
/* The initial and target time indices and the lead of a sample id. */
void sampler_decode(const Sampler *s, int64_t id, int *t, int *t2, float *lead_hours);

/* Host-side batch buffers for the model grid (Hp x Wp, padded to the patch), or for a band
 * of its rows [row0, row0 + nrows) (a sequence-parallel rank's tokens in row-major order:
 * whole patch rows), so a rank reads only its own part of every field. */
struct Downscale;
struct Anchor;
typedef struct HostBatch {
    int B, V, Hp, Wp;
    int row0, nrows;                   /* the rows held: all of them unless host_batch_init_rows */
    int residual;                      /* targets are y - x (valid where both are) */
    const struct Anchor *anchor;       /* or y - the anchor of x (data/anchor.h), valid where both are */
    int history;                       /* forecasting: x holds the dataset's V states at t, then at t-1, ..., t-history
                                        * (host_batch_set_history); y and mask the V of the target time */
    float *x, *y, *mask, *lead, *wlat; /* [B,V,nrows,Wp] x3, [B], [Hp] (all rows) */
    int64_t nx, ny;                    /* floats per sample of x, and of y and mask */
    /* downscaling (host_batch_init_downscale): x [B,V,th,tw] coarse windows, y and mask
     * [B,Vo,s th,s tw] (the mask holds each cell's loss weight), the windows' origins */
    const struct Downscale *dsc;
    const void *owner;                 /* the state of another layer's filling (an image task's samples) */
    int *tr0, *tc0;                    /* [B] */
    /* Batches of a layer built on this one (downscaling, data/downscale.c) bring their own
     * filling and copying, so the dataset layer need not know them; NULL: forecast batches. */
    void (*fill)(struct HostBatch *hb, int i, const Sampler *s, int64_t id);
    void (*init_like)(struct HostBatch *hb, const struct HostBatch *shape);
} HostBatch;

void host_batch_init(HostBatch *hb, int B, int V, int Hp, int Wp);
/* Rows [row0, row0 + nrows) of the Hp x Wp model grid only (0 <= row0; rows past Hp are padding:
 * x, y and mask 0, as sequence parallelism pads patch rows to a multiple of its ranks). */
void host_batch_init_rows(HostBatch *hb, int B, int V, int Hp, int Wp, int row0, int nrows);
/* History inputs: hb (from host_batch_init*, whose V counts every input channel, V_data (k + 1))
 * takes k earlier states as inputs and V_data targets (y and mask resized). */
void host_batch_set_history(HostBatch *hb, int k, int V_data);
/* Buffers shaped like shape's (the same B, rows, or downscaling windows). */
void host_batch_init_like(HostBatch *hb, const HostBatch *shape);
void host_batch_free(HostBatch *hb);
/* Fill slot i of the batch with sample id from the sampler: normalized, invalid and padded cells 0;
 * with hb->residual the target is the change y - x, with hb->anchor y minus the anchor of x, and then
 * counts where both times are valid. */
void host_batch_fill(HostBatch *hb, int i, const Sampler *s, int64_t id);
/* Latitude weights cos(lat)/mean(cos lat) over the dataset's rows; padded rows get 0. */
void dataset_lat_weights(const Dataset *ds, float *wlat, int Hp);

#endif
