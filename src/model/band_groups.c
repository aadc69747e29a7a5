/* Band groups (band_groups.h): the group tokens from the bands' tokens and back, and the pixel
 * loss and prediction of a head whose tokens each predict one group's bands. */
#include "model/band_groups.h"
#include "core/check.h"

void vit_groups_embed_fwd(Vit *m, const Batch *b) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    VitActs *a = &m->a;
    const int B = b->B, G = c->groups, V = c->V;
    const int64_t LD = vit_L(c) * c->D;
    k->patch_embed_fwd(a->tok, b->x, m->p.tok_w, m->p.tok_b, m->p.var_embed, B, V, c->H, c->W, c->p, c->D, a->ws);
    for (int bb = 0; bb < B; bb++)
        for (int g = 0; g < G; g++) {
            const int v0 = c->group_start[g], v1 = c->group_start[g + 1];
            float *dst = a->x0 + ((int64_t)bb * G + g) * LD;
            k->copy(dst, a->tok + ((int64_t)bb * V + v0) * LD, LD);
            for (int v = v0 + 1; v < v1; v++) k->add_inplace(dst, a->tok + ((int64_t)bb * V + v) * LD, LD);
            if (v1 - v0 > 1) k->scale(dst, 1.0f / (float)(v1 - v0), LD);
        }
}

void vit_groups_embed_bwd(Vit *m, const Batch *b, const float *dx) {
    const Kernels *k = m->k;
    const VitConfig *c = &m->lc;
    VitActs *a = &m->a;
    const int B = b->B, G = c->groups, V = c->V;
    const int64_t LD = vit_L(c) * c->D;
    for (int bb = 0; bb < B; bb++)
        for (int g = 0; g < G; g++) {
            const int v0 = c->group_start[g], v1 = c->group_start[g + 1];
            for (int v = v0; v < v1; v++) {
                float *d = a->dtok + ((int64_t)bb * V + v) * LD;
                k->copy(d, dx + ((int64_t)bb * G + g) * LD, LD);
                if (v1 - v0 > 1) k->scale(d, 1.0f / (float)(v1 - v0), LD);
            }
        }
    k->patch_embed_bwd(m->g.tok_w, m->g.tok_b, m->g.var_embed, a->dtok, b->x, B, V, c->H, c->W, c->p, c->D, a->ws);
}

/* the groups padded to the largest (zeros after each group's bands): unequal groups */
static int padded(const VitConfig *c) { return (int64_t)c->groups * vit_group_max(c) != c->V; }

/* src [B,V,H,W] -> dst [B,G,Gmax,H,W], zeros in the padding */
static void pad_groups(const Vit *m, float *dst, const float *src, int B) {
    const VitConfig *c = &m->lc;
    const int G = c->groups, n = vit_group_max(c);
    const int64_t HW = (int64_t)c->H * c->W;
    m->k->zero(dst, (int64_t)B * G * n * HW);
    for (int bb = 0; bb < B; bb++)
        for (int g = 0; g < G; g++)
            m->k->copy(dst + ((int64_t)bb * G + g) * n * HW, src + ((int64_t)bb * c->V + c->group_start[g]) * HW,
                       (c->group_start[g + 1] - c->group_start[g]) * HW);
}

float vit_groups_loss(Vit *m, const Batch *b) {
    const VitConfig *c = &m->lc;
    VitActs *a = &m->a;
    const float *y = b->y, *mask = b->mask;
    if (padded(c)) {
        CHECK(mask, "band groups of unequal sizes need the loss mask (its padding is masked)");
        pad_groups(m, a->grp_y, y, b->B);
        pad_groups(m, a->grp_mask, mask, b->B);
        y = a->grp_y, mask = a->grp_mask;
    }
    /* each (sample, group) is one image of Gmax bands in agg mode's token layout */
    return m->k->mse_loss(a->dout, a->out, y, mask, b->wlat + m->row0, b->B * c->groups, vit_group_max(c), c->H, c->W,
                          c->p, 0, 1.0f, b->loss_denom, a->ws);
}

void vit_groups_prediction(Vit *m, float *img, int B) {
    const VitConfig *c = &m->lc;
    const int G = c->groups, n = vit_group_max(c);
    if (!padded(c)) {
        m->k->unpatchify(img, m->a.out, B * G, n, c->H, c->W, c->p, 0);
        return;
    }
    const int64_t HW = (int64_t)c->H * c->W;
    m->k->unpatchify(m->a.grp_y, m->a.out, B * G, n, c->H, c->W, c->p, 0);
    for (int bb = 0; bb < B; bb++)
        for (int g = 0; g < G; g++)
            m->k->copy(img + ((int64_t)bb * c->V + c->group_start[g]) * HW, m->a.grp_y + ((int64_t)bb * G + g) * n * HW,
                       (c->group_start[g + 1] - c->group_start[g]) * HW);
}
