/* A trained forecasting run and its data, as eval and predict open them: the checkpoint's
 * configuration and normalisation, and the data it was trained on (from its "lvit.data"
 * description: the recorded file, checked against its content hash, or --data when it moved; or
 * the synthetic data rebuilt), checked against the model's variables and grid. */
#ifndef LVIT_FORECAST_RUN_H
#define LVIT_FORECAST_RUN_H
#include "data/dataset.h"
#include "model/vit.h"

typedef struct ForecastRun {
    char ckpt[4096];        /* RUN_DIR/model.safetensors */
    VitConfig cfg;
    float *mean, *std;      /* [V] the model's normalisation (also put into ds) */
    Dataset ds;
} ForecastRun;

/* data: a dataset file instead of the recorded one, or NULL; allow_synthetic: a model trained on
 * the synthetic data gets it rebuilt (else --data is required). Exit 2 naming the file on error. */
void forecast_run_open(ForecastRun *r, const char *run, const char *data, int allow_synthetic, const char *cmd);
void forecast_run_close(ForecastRun *r);

#endif
