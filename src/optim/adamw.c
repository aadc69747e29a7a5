#include <math.h>
#include "core/check.h"
#include "optim/optim.h"

OptConfig opt_default(void) {
    OptConfig c = {.lr = 5e-4f, .min_lr = 1e-5f, .warmup = 0, .total = 100, .beta1 = 0.9f, .beta2 = 0.95f,
                   .eps = 1e-8f, .weight_decay = 1e-5f, .grad_clip = 1.0f};
    return c;
}

float opt_lr_at(const OptConfig *c, int64_t step) {
    if (step < c->warmup) return c->lr * (float)(step + 1) / (float)c->warmup;
    int64_t span = c->total - c->warmup;
    double t = (double)(step - c->warmup) / (double)(span > 1 ? span : 1);
    if (t > 1.0) t = 1.0;
    return (float)(c->min_lr + 0.5 * (c->lr - c->min_lr) * (1.0 + cos(M_PI * t)));
}

void adamw_init(AdamW *o, const Vit *m, const OptConfig *c) {
    o->cfg = *c;
    o->m = m->k->alloc((size_t)m->n_params * sizeof(float));
    o->v = m->k->alloc((size_t)m->n_params * sizeof(float));
    o->t = 0;
}

void adamw_free(AdamW *o, const Vit *m) {
    m->k->free(o->m);
    m->k->free(o->v);
    o->m = o->v = NULL;
}

double opt_grad_norm(const Vit *m) { return sqrt(m->k->sumsq(m->grad_mem, m->n_params)); }

void adamw_step(AdamW *o, Vit *m, float lr, double grad_norm) {
    const OptConfig *c = &o->cfg;
    /* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1 */
    double coef = c->grad_clip / (grad_norm + 1e-6);
    if (c->grad_clip > 0 && coef < 1.0) m->k->scale(m->grad_mem, (float)coef, m->n_params);
    o->t++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->t), bc2 = 1.0f - powf(c->beta2, (float)o->t);
    /* one call per field: decay is a property of the field in the parameter table */
    for (int f = 0; f < PF_COUNT; f++) {
        const FieldSpec *fs = &m->fields[f];
        if (!fs->present || fs->numel == 0) continue;
        m->k->adamw(m->param_mem + fs->offset, o->m + fs->offset, o->v + fs->offset, m->grad_mem + fs->offset,
                    fs->numel, lr, c->beta1, c->beta2, c->eps, fs->decay ? c->weight_decay : 0.0f, bc1, bc2);
    }
}
