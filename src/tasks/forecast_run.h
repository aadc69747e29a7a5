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
    float max_lead_h;       /* the longest lead it was trained at (0: not recorded) */
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
/* The normalised forecast out [b, Vo, Hp, Wp] (anchor added; 0 outside the data grid) of the b
 * samples whose inputs host_batch_fill wrote into x [b, V, Hp, Wp], at lead_h hours: one pass of
 * the model within the trained leads; beyond the longest (r->max_lead_h), passes at that lead
 * whose forecast becomes the next input (autoregressive rollout, x is overwritten; xvalid
 * [b, Vo, Hp, Wp] is 1 where the initial state was observed), then one at the rest. dev and img:
 * the backend buffer [x | prediction | lead] of eval, img floats apart. Returns the passes. */
int forecast_rollout(Vit *m, const ForecastRun *r, float *x, const float *xvalid, int b, float lead_h, float *dev,
                     int64_t img, float *out);
/* ok [Vo, Hp, Wp]: 1 where the initial state of sample id is observed inside the data grid. */
void forecast_initial_valid(const Dataset *ds, const Sampler *s, int64_t id, float *ok, int Hp, int Wp);
/* An anchored model's gains (data/anchor.h) fitted on the validation split and written into
 * RUN_DIR/model.safetensors (atomically); a model without an anchor or data without a validation
 * period is left as it is. One process, on the CPU. */
void forecast_calibrate(const char *run);

#endif
