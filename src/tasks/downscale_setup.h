/* Downscaling set-up shared by training, evaluation, prediction and the C API. */
#ifndef LVIT_DOWNSCALE_SETUP_H
#define LVIT_DOWNSCALE_SETUP_H
#include "data/downscale.h"
#include "kernels/kernels.h"
#include "tasks/task.h"

/* The downscaling data of a job: the pairs, and the coarse dataset when it has its own. */
typedef struct DownscaleData {
    Downscale d;
    Dataset coarse;
    int have_coarse;
} DownscaleData;
/* The downscaling data of dataset ds (kept alive by the caller) for a model of patch p: the
 * coarse files opened and checked, --static and --var-weights parsed, the tiles planned. Dies with
 * exit 2 and the reason on bad input. */
void downscale_data_open(DownscaleData *dd, const TaskOptions *f, const Dataset *ds, int patch, const char *cmd);
void downscale_data_close(DownscaleData *dd);
/* Makes cfg (built for dd's coarse inputs) a Reslim model of f's options. */
void downscale_data_config(const DownscaleData *dd, const TaskOptions *f, VitConfig *cfg, const char *cmd);
/* The checkpoint's description of the downscaling inputs (JSON object; caller frees). */
char *downscale_data_desc(const TaskOptions *f);

/* Whole fine fields from a model, tile by tile (untiled: one window, the whole grid). */
typedef struct DsInfer {
    Vit m;
    const Downscale *d;
    HostBatch hb;
    float *dev, *out;      /* backend x, lead, prediction; host prediction of a batch of windows */
    float *acc, *wacc;     /* [Vo, s hp, s wp], [s hp, s wp] stitching */
    int B, blend;
} DsInfer;
void ds_infer_init(DsInfer *q, const VitConfig *cfg, const char *ckpt, const Downscale *d, int B, int blend,
                   const Kernels *k);
/* fine [Vo, H, W] in physical units (d->H x d->W cells) at time t */
void ds_infer(DsInfer *q, int t, float *fine);
void ds_infer_free(DsInfer *q);

#endif
