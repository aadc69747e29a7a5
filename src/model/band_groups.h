/* Band groups (SatMAE: Cong et al., "SatMAE: pre-training transformers for temporal and
 * multi-spectral satellite imagery", 2022): the V bands in G contiguous groups, one token per group
 * and patch location (S = G L, group-major like multi mode's variable-major sequence). A group's
 * token is the mean of its bands' ClimaX tokens (per-band patch embedding + variable embedding),
 * which is one patch embedding over the group's bands (weight: the bands' [D,1,p,p] kernels side by
 * side, divided by the group's size) plus a group embedding (the mean of the bands' biases and
 * variable embeddings): the checkpoint keeps lvit's per-band names, and G = V is multi mode.
 * A group token's head predicts the pixels of its group's bands, padded to the largest group. */
#ifndef LVIT_BAND_GROUPS_H
#define LVIT_BAND_GROUPS_H
#include "model/vit_types.h"

/* The bands' tokens into m->a.tok [B,V,L,D], their group means into m->a.x0 [B,G,L,D]. */
void vit_groups_embed_fwd(Vit *m, const Batch *b);
/* dx [B,G,L,D] (the gradient of x0 before the position embedding) -> the patch and variable
 * embeddings' gradients (accumulated). */
void vit_groups_embed_bwd(Vit *m, const Batch *b, const float *dx);
/* The masked MSE of the head's pixels (token layout [B,G,L,p p Gmax], the group's bands fastest)
 * against b->y under b->mask [B,V,H,W]; writes dout. */
float vit_groups_loss(Vit *m, const Batch *b);
/* The head's pixels as the image [B,V,H,W] (backend memory). */
void vit_groups_prediction(Vit *m, float *img, int B);
/* The groups' first bands and V: band v's group. */
static inline int vit_group_of(const VitConfig *c, int v) {
    int g = 0;
    while (c->group_start[g + 1] <= v) g++;
    return g;
}

#endif
