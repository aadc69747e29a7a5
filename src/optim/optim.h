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
} OptConfig;

typedef struct AdamW {
    OptConfig cfg;
    float *m, *v;           /* [n_params] moments, laid out like the parameters */
    int64_t t;              /* updates taken */
} AdamW;

OptConfig opt_default(void);
/* Step s (0-based): linear warmup to lr over `warmup` steps, then cosine to min_lr at `total`. */
float opt_lr_at(const OptConfig *c, int64_t step);
void adamw_init(AdamW *o, const Vit *m, const OptConfig *c);
void adamw_free(AdamW *o, const Vit *m);
/* Global L2 norm of the gradients (before clipping). */
double opt_grad_norm(const Vit *m);
/* Clip (PyTorch clip_grad_norm_ semantics, given the norm) and take one AdamW step at lr. */
void adamw_step(AdamW *o, Vit *m, float lr, double grad_norm);

#endif
