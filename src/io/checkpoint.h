/* Model checkpoints: safetensors with the ClimaX/timm state-dict names and PyTorch layouts,
 * the model configuration and normalization statistics in __metadata__. */
#ifndef LVIT_CHECKPOINT_H
#define LVIT_CHECKPOINT_H
#include <stddef.h>
#include "model/vit.h"

/* Writes every parameter (downloaded from the backend) under its state-dict name, atomically
 * (temporary file, flush, fsync, rename). mean/std: [V] or NULL; data: JSON describing the
 * training data ("lvit.data"), or NULL. */
int ckpt_save_model(const Vit *m, const float *mean, const float *std, const char *data, const char *path,
                    char *err, size_t errlen);
/* The same from the canonical host [n_canon] (ZeRO-3 and tensor parallelism assemble it), and a
 * forecast's anchor when not NULL: "lvit.anchor" metadata and its climatology as the tensor
 * CKPT_ANCHOR_CLIM [V,H,W] (normalised; NaN where none), which is not a parameter. */
#define CKPT_ANCHOR_CLIM "lvit_anchor.climatology"
struct Anchor;
int ckpt_save_model_host(const Vit *m, const float *host, const float *mean, const float *std, const char *data,
                         const struct Anchor *anchor, const char *path, char *err, size_t errlen);
/* The anchor a forecasting model was trained against (data/anchor.h) for its H x W data grid:
 * an->nlead 0 when the file has none. 0, or -1 with err naming the file. */
int ckpt_load_anchor(const char *path, const VitConfig *cfg, int H, int W, struct Anchor *an, char *err, size_t errlen);
/* The "lvit.data" metadata (caller frees), or NULL. */
char *ckpt_load_data_desc(const char *path);
/* Reads "lvit.config" (and "lvit.norm" when mean/std are given: [V] each, NULL if absent). */
int ckpt_load_config(const char *path, VitConfig *cfg, float **mean, float **std, char *err, size_t errlen);
/* Loads every parameter by name into m (same configuration; a tensor-parallel rank keeps its
 * shard); missing, extra or misshapen tensors are errors that name the tensor. */
int ckpt_load_params(Vit *m, const char *path, char *err, size_t errlen);
/* Reads the parameter ps of f (the file at path) into dst[ps->numel]: its shape must be ps's and
 * every value finite (a diverged run's weights). 0, or -1 with err naming path and the tensor. */
struct StFile;
int ckpt_read_param(struct StFile *f, const ParamSpec *ps, float *dst, const char *path, char *err, size_t errlen);
/* Where the model a file describes (a, its "lvit.config") differs from b: the task and every
 * size, "name A in the file, B in this run" per field, "; " between; returns their count. */
int ckpt_config_diff(const VitConfig *a, const VitConfig *b, char *out, size_t n);
/* Warnings for what may differ for a good reason: the grid, the variables' names. */
void ckpt_config_notes(const VitConfig *a, const VitConfig *b, const char *path);

#endif
