#include <math.h>
#include <string.h>
#include "core/check.h"
#include "optim/optim.h"
#include "optim/param_groups.h"

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

void adamw_init(AdamW *o, const Vit *m, const OptConfig *c) { adamw_init_range(o, m, c, 0, m->n_params); }

void adamw_init_range(AdamW *o, const Vit *m, const OptConfig *c, int64_t lo, int64_t hi) {
    CHECK(lo >= 0 && hi >= lo, "optimizer range [%lld, %lld)", (long long)lo, (long long)hi);
    o->cfg = *c;
    o->lo = lo;
    o->hi = hi;
    size_t bytes = (size_t)(hi > lo ? hi - lo : 1) * sizeof(float);
    o->m = m->k->alloc(bytes);
    o->v = m->k->alloc(bytes);
    o->t = 0;
    memset(o->frozen, 0, sizeof o->frozen);
    o->nfrozen = 0;
    if (c->freeze_encoder) /* a field is one name pattern: its tensors share a group */
        for (int i = 0; i < m->nspecs; i++) {
            const int f = m->specs[i].field;
            if (param_group(m->specs[i].name) == PG_ENCODER && !o->frozen[f]) o->frozen[f] = 1, o->nfrozen++;
        }
}

void adamw_free(AdamW *o, const Vit *m) {
    m->k->free(o->m);
    m->k->free(o->v);
    o->m = o->v = NULL;
}

double opt_grad_norm(const Vit *m) { return sqrt(m->k->sumsq(m->grad_mem, m->n_params)); }

void adamw_step(AdamW *o, Vit *m, float *g, float lr, double grad_norm) {
    const OptConfig *c = &o->cfg;
    const int64_t hi = o->hi < m->n_params ? o->hi : m->n_params;
    /* torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1 */
    double coef = c->grad_clip / (grad_norm + 1e-6);
    if (c->grad_clip > 0 && coef < 1.0 && hi > o->lo) m->k->scale(g, (float)coef, hi - o->lo);
    o->t++;
    float bc1 = 1.0f - powf(c->beta1, (float)o->t), bc2 = 1.0f - powf(c->beta2, (float)o->t);
    /* one call per field (the part of it in [lo, hi)): decay is a property of the field */
    for (int f = 0; f < PF_COUNT; f++) {
        const FieldSpec *fs = &m->fields[f];
        if (!fs->present || fs->numel == 0 || o->frozen[f]) continue; /* frozen: not even decayed */
        int64_t a = fs->offset > o->lo ? fs->offset : o->lo, b = fs->offset + fs->numel < hi ? fs->offset + fs->numel : hi;
        if (a >= b) continue;
        int64_t r = a - o->lo;
        m->k->adamw(m->param_mem + a, o->m + r, o->v + r, g + r, b - a, lr, c->beta1, c->beta2, c->eps,
                    fs->decay ? c->weight_decay : 0.0f, bc1, bc2);
    }
}

void adamw_zero_frozen(const AdamW *o, const Vit *m, float *g, int64_t lo, int64_t hi) {
    for (int f = 0; f < PF_COUNT && o->nfrozen; f++) {
        const FieldSpec *fs = &m->fields[f];
        int64_t a = fs->offset > lo ? fs->offset : lo, b = fs->offset + fs->numel < hi ? fs->offset + fs->numel : hi;
        if (o->frozen[f] && fs->present && a < b) m->k->zero(g + (a - lo), b - a);
    }
}
