/* The model: the ClimaX-layout vision transformer (Nguyen et al., "ClimaX: A foundation model for
 * weather and climate", 2023), with ORBIT-2's Reslim head for downscaling (docs/downscaling.md),
 * written once over the kernel table. Its configuration is in config.h, its parameter table in
 * params.h, its activations in acts.h, its structs in vit_types.h; this header is what the rest of lvit
 * includes. */
#ifndef LVIT_VIT_H
#define LVIT_VIT_H
#include <stddef.h>
#include <stdint.h>
#include "model/vit_mae.h"
#include "model/vit_types.h"


/* The one constructor: the model of cfg as this rank holds and computes it under layout lay
 * (NULL: one process), with activations for batches up to B on the backend k. cfg->pp and
 * cfg->pp_stage say which pipeline stage this rank is; the tensor-parallel group's size becomes
 * cfg's tp. Parameters are allocated but not initialized (vit_init_params). */
void vit_init(Vit *m, const VitConfig *cfg, const VitLayout *lay, int B, const Kernels *k);
/* Canonical host [n_canon] <-> this rank's layout host [n_params]. */
void vit_to_canonical(const Vit *m, const float *local, float *canon);
void vit_from_canonical(const Vit *m, const float *canon, float *local);
/* Initial values of every parameter into host [n_params] (what vit_init_params uploads): the
 * canonical initialization cut to this rank's shard, so every layout starts from the same model. */
void vit_init_params_host(const Vit *m, uint64_t seed, float *host);
void vit_free(Vit *m);
/* Deterministic ClimaX-style initialization from the seed (per-tensor random streams). */
void vit_init_params(Vit *m, uint64_t seed);
/* Forward pass on b (b->B <= m->B). If b->y is set, returns the loss and prepares the
 * backward pass (dloss/dout); otherwise returns 0. */
float vit_forward(Vit *m, const Batch *b);
/* Backward pass: ACCUMULATES parameter gradients into m->grad_mem (zero it first). */
void vit_backward(Vit *m, const Batch *b);
/* Pipeline: a later stage's vit_forward reads its input from m->a.x0 [B,S,D] (filled by the
 * caller) and, but on the last stage, leaves its output at vit_output and returns 0; vit_backward
 * then reads the gradient of that output from m->a.dx and, but on the first stage, leaves the
 * gradient of its input there. */
const float *vit_output(const Vit *m);
/* Prediction image [B,Vo,H,W] of the last forward pass ([B,Vo,sH,sW] when downscaling; the logits
 * [B,classes] when classifying), into backend memory img. */
void vit_prediction(Vit *m, float *img, int B);
/* Forward FLOPs of one sample (matrix products and attention), for MFU/GFLOP/s reports. */
double vit_flops_per_sample(const VitConfig *c);
const ParamSpec *vit_find_param(const Vit *m, const char *name);

#endif
