/* AdamW over the parameter table, the learning-rate schedule and global-norm clipping. */
#ifndef LVIT_OPTIM_H
#define LVIT_OPTIM_H
#include <stdint.h>
#include "model/vit.h"

typedef struct OptConfig {
    float lr, min_lr;       /* peak and final learning rate */
    int64_t warmup, total;  /* linear warmup steps, total steps (cosine to min_lr) */
    float beta1, beta2, eps, weight_decay;
    float grad_clip;        /* max global gradient norm; <= 0 disables */
    int freeze_encoder;     /* train only the task's head (optim/param_groups.h): the encoder's parameters
                             * get no update and no weight decay, and their gradients are left out of the
                             * norm (a linear probe) */
} OptConfig;

typedef struct AdamW {
    OptConfig cfg;
    int64_t lo, hi;         /* the parameters [lo, hi) of the flat vector this optimizer updates
                             * (all of them, or this rank's ZeRO shard) */
    float *m, *v;           /* [hi - lo] moments, laid out like the parameters */
    int64_t t;              /* updates taken */
    unsigned char frozen[PF_COUNT]; /* fields left exactly as they are (freeze_encoder) */
    int nfrozen;
} AdamW;

OptConfig opt_default(void);
/* Step s (0-based): linear warmup to lr over `warmup` steps, then cosine to min_lr at `total`. */
float opt_lr_at(const OptConfig *c, int64_t step);
void adamw_init(AdamW *o, const Vit *m, const OptConfig *c);
/* Only the parameters [lo, hi) (ZeRO-1: this rank's shard; hi may pass n_params, the rest is
 * padding and never touched). With c->freeze_encoder the encoder's fields are marked frozen. */
void adamw_init_range(AdamW *o, const Vit *m, const OptConfig *c, int64_t lo, int64_t hi);
void adamw_free(AdamW *o, const Vit *m);
/* Global L2 norm of the gradients (before clipping). */
double opt_grad_norm(const Vit *m);
/* Clip (PyTorch clip_grad_norm_ semantics, given the global norm) and take one AdamW step at
 * lr on the parameters [o->lo, o->hi); g [hi - lo] are their gradients (m->grad_mem + lo for
 * the whole model; clipping scales g in place). */
void adamw_step(AdamW *o, Vit *m, float *g, float lr, double grad_norm);
/* Zeroes the frozen fields' part of g, a gradient vector laid out like the parameters [lo, hi)
 * (g holds element lo), so that the global norm counts only the trained parameters. */
void adamw_zero_frozen(const AdamW *o, const Vit *m, float *g, int64_t lo, int64_t hi);

#endif
