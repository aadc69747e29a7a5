/* A trained forecasting run and its data, as eval and predict open them: the checkpoint's
 * configuration and normalisation, and the data it was trained on (from its "lvit.data"
 * description: the recorded file, checked against its content hash, or --data when it moved; or
 * the synthetic data rebuilt), checked against the model's variables and grid. */
#ifndef LVIT_FORECAST_RUN_H
#define LVIT_FORECAST_RUN_H
#include "data/anchor.h"
#include "data/dataset.h"
#include "model/vit.h"

typedef struct ForecastRun {
    char ckpt[4096];        /* RUN_DIR/model.safetensors */
    VitConfig cfg;
    float *mean, *std;      /* [V] the model's normalisation (also put into ds) */
    Dataset ds;
    Anchor anchor;          /* what the model's output is added to (nlead 0: none) */
} ForecastRun;

/* The forecast in normalised units at one cell from the model's output pred and the cell's
 * normalised input xn: pred itself, or pred + xn for --residual, or for an anchored model
 * pred s + the blend of xn and the climatology c (a the anchor's coefficient, s its scale times
 * its gain at the variable and lead, data/anchor.h). */
static inline float forecast_denorm_base(const ForecastRun *r, float pred, float xn, float c, float a, float s) {
    if (r->cfg.residual) return pred + xn;
    return r->anchor.nlead ? pred * s + anchor_value(xn, c, a) : pred;
}

/* data: a dataset file instead of the recorded one, or NULL; allow_synthetic: a model trained on
 * the synthetic data gets it rebuilt (else --data is required). Exit 2 naming the file on error. */
void forecast_run_open(ForecastRun *r, const char *run, const char *data, int allow_synthetic, const char *cmd);
void forecast_run_close(ForecastRun *r);
/* The data's time step in hours (the smallest spacing of its times; 0 with one time). */
float forecast_time_step(const Dataset *ds);
/* cfg->var_names for the inputs: the data's names, then "name@-6h"... for the earlier states. */
void forecast_input_names(VitConfig *cfg, const Dataset *ds, float step_h);
/* An anchored model's gains (data/anchor.h) fitted on the validation split and written into
 * RUN_DIR/model.safetensors (atomically); a model without an anchor or data without a validation
 * period is left as it is. One process, on the CPU. */
void forecast_calibrate(const char *run);

#endif
