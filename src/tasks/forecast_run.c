/* A trained forecasting run and its data, as eval and predict open them (tasks/forecast_run.h). */
#include "tasks/forecast_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"

/* Reopens the data a run was trained on from its "lvit.data" description (src/io/run_meta.h): the
 * dataset file (or --data, when it moved), checked against the recorded hash and the model's
 * variables, or the synthetic data rebuilt from its parameters. */
static void dataset_from_desc(Dataset *ds, const char *desc, const VitConfig *cfg, const char *path, const char *data,
                              int allow_synthetic, const char *cmd) {
    char err[2048];
    RunMeta rm;
    if (run_meta_parse(&rm, desc, path, err, sizeof err)) DIE_USER("%s", err);
    if (!data && strcmp(rm.source, "synthetic") == 0) {
        if (!allow_synthetic)
            DIE_USER("lvit %s: --data DATASET is needed (the model %s was trained on the synthetic data, which has no "
                     "test period)", cmd, path);
        if (rm.H < 1 || rm.times < 1)
            DIE_USER("%s: the \"lvit.data\" description of the synthetic training data lacks its grid or times", path);
        dataset_synthetic(ds, cfg->Vo, rm.times, rm.H, rm.W, (uint64_t)rm.seed);
        run_meta_free(&rm);
        return;
    }
    data = run_meta_open_dataset(ds, &rm, data, path);
    if (ds->V != cfg->Vo) /* (with --history the model's inputs are these variables at several times) */
        DIE_USER("lvit %s: %s has %d variables, the model %s forecasts %d", cmd, data, ds->V, path, cfg->Vo);
    for (int v = 0; v < ds->V; v++)
        if (strcmp(ds->names[v], cfg->var_names[v]))
            DIE_USER("lvit %s: variable %d is '%s' in %s but '%s' in the model %s", cmd, v, ds->names[v], data,
                     cfg->var_names[v], path);
    if (ds->H > cfg->H || ds->W > cfg->W || cfg->H - ds->H >= cfg->p || cfg->W - ds->W >= cfg->p)
        DIE_USER("lvit %s: the grid of %s (%dx%d) is not the one the model %s was trained on (%dx%d after padding "
                 "to whole patches of %d)", cmd, data, ds->H, ds->W, path, cfg->H, cfg->W, cfg->p);
    run_meta_free(&rm);
}

/* The longest of the "leads" the run's data description records (0 when absent). */
static float recorded_max_lead(const char *ckpt) {
    char *desc = ckpt_load_data_desc(ckpt), jerr[128];
    float best = 0;
    JsonValue *root = desc ? json_parse(desc, strlen(desc), 1 << 24, "lvit.data", jerr, sizeof jerr) : NULL;
    const JsonValue *leads = root ? json_get(root, "leads") : NULL;
    for (size_t i = 0; i < json_len(leads); i++) {
        double l;
        if (!json_as_double(json_at(leads, i), &l) && l > best) best = (float)l;
    }
    json_free(root);
    free(desc);
    return best;
}

void forecast_run_open(ForecastRun *r, const char *run, const char *data, int allow_synthetic, const char *cmd) {
    memset(r, 0, sizeof *r);
    char err[2048];
    snprintf(r->ckpt, sizeof r->ckpt, "%s/model.safetensors", run);
    if (ckpt_load_config(r->ckpt, &r->cfg, &r->mean, &r->std, err, sizeof err)) DIE_USER("%s", err);
    if (!r->mean) DIE_USER("%s: no normalization statistics (lvit.norm) in the checkpoint", r->ckpt);
    char *desc = ckpt_load_data_desc(r->ckpt);
    dataset_from_desc(&r->ds, desc, &r->cfg, r->ckpt, data, allow_synthetic, cmd);
    free(desc);
    /* the model's normalization, not the file's: they agree unless the data was re-converted */
    memcpy(r->ds.mean, r->mean, sizeof(float) * (size_t)r->cfg.Vo);
    memcpy(r->ds.std, r->std, sizeof(float) * (size_t)r->cfg.Vo);
    if (ckpt_load_anchor(r->ckpt, &r->cfg, r->ds.H, r->ds.W, &r->anchor, err, sizeof err)) DIE_USER("%s", err);
    r->max_lead_h = r->anchor.nlead ? r->anchor.lead_h[r->anchor.nlead - 1] : recorded_max_lead(r->ckpt);
}

void forecast_run_close(ForecastRun *r) {
    dataset_free(&r->ds);
    vit_config_free(&r->cfg);
    free(r->mean);
    free(r->std);
    anchor_free(&r->anchor);
    memset(r, 0, sizeof *r);
}

float forecast_time_step(const Dataset *ds) {
    float step = 0; /* the smallest spacing: gaps in the axis are multiples of it */
    for (int t = 1; t < ds->T; t++) {
        const float d = (float)(ds->hours[t] - ds->hours[t - 1]);
        if (d > 0 && (step == 0 || d < step)) step = d;
    }
    return step;
}

void forecast_input_names(VitConfig *cfg, const Dataset *ds, float step_h) {
    for (int h = 0; h <= cfg->history; h++)
        for (int v = 0; v < ds->V; v++) {
            char *name = cfg->var_names[(size_t)h * ds->V + v];
            if (h == 0) snprintf(name, LVIT_VAR_NAME, "%s", ds->names[v]);
            else snprintf(name, LVIT_VAR_NAME, "%.40s@-%gh", ds->names[v], h * step_h);
        }
}
