/* Datasets in memory and the sampler that turns them into batches.
 * A dataset is V variables on a lat-lon grid at T times (physical units), with a validity mask,
 * per-variable normalization statistics and a time axis. A sample is (state at t, state at
 * t + lead). The model sees the grid padded up to a multiple of the patch size; padded cells
 * are masked and weigh nothing. */
#ifndef LVIT_DATASET_H
#define LVIT_DATASET_H
#include <stdint.h>
#include "core/rng.h"
#include "model/vit.h"

typedef struct Dataset {
    int V, T, H, W;
    char (*names)[LVIT_VAR_NAME]; /* [V] */
    float *lat, *lon;             /* [H] degrees north, [W] degrees east */
    double *hours;                /* [T] hours since the first time, increasing */
    float *data;                  /* [T,V,H,W] physical units */
    uint8_t *valid;               /* [T,V,H,W] 1 = observed; NULL = all valid */
    float *mean, *std;            /* [V] over the training period */
    char source[256];
} Dataset;

/* A deterministic synthetic "weather" dataset: smooth fields advected eastward by a
 * latitude-dependent jet, coupled across variables, on a global grid; 6-hourly. */
void dataset_synthetic(Dataset *ds, int V, int T, int H, int W, uint64_t seed);
void dataset_free(Dataset *ds);
/* Mean and standard deviation per variable over times [t0, t1), valid cells only. */
void dataset_compute_stats(Dataset *ds, int t0, int t1);

/* Samples of a time range: pairs (t, t + lead) with both times inside [t0, t1). */
typedef struct Sampler {
    const Dataset *ds;
    int nlead;
    int lead_steps[16];   /* leads in time steps */
    float lead_hours[16];
    int64_t n;            /* number of samples */
    int64_t *idx;         /* [n] sample ids, shuffled per epoch: id = t * nlead + lead index */
    int t0, t1;
    uint64_t seed;
    int shuffle;
    int64_t epoch, pos;
} Sampler;

/* leads_h: lead times in hours; each must be a multiple of the time step. 0 or -1 + message. */
int sampler_init(Sampler *s, const Dataset *ds, int t0, int t1, const float *leads_h, int nlead,
                 uint64_t seed, int shuffle, char *err, size_t errlen);
void sampler_free(Sampler *s);
/* Next sample id (reshuffles at the start of each epoch, deterministically from seed and epoch). */
int64_t sampler_next(Sampler *s);

/* Host-side batch buffers for the model grid (Hp x Wp, padded to the patch). */
typedef struct HostBatch {
    int B, V, Hp, Wp;
    int residual;                      /* targets are y - x (valid where both are) */
    float *x, *y, *mask, *lead, *wlat; /* [B,V,Hp,Wp] x3, [B], [Hp] */
} HostBatch;

void host_batch_init(HostBatch *hb, int B, int V, int Hp, int Wp);
void host_batch_free(HostBatch *hb);
/* Fill slot i of the batch with sample id from the sampler: normalized, invalid and padded cells 0;
 * with hb->residual the target is the change y - x and counts where both times are valid. */
void host_batch_fill(HostBatch *hb, int i, const Sampler *s, int64_t id);
/* Latitude weights cos(lat)/mean(cos lat) over the dataset's rows; padded rows get 0. */
void dataset_lat_weights(const Dataset *ds, float *wlat, int Hp);

#endif
