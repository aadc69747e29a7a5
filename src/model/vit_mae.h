/* The masked autoencoder's passes (vit_mae.c; docs/pretraining.md) and its masks. */
#ifndef LVIT_VIT_MAE_H
#define LVIT_VIT_MAE_H
#include <stdint.h>
#include "model/vit_types.h"

/* Masked autoencoder: the mask of a sample is drawn from its seed (an integer below 2^24, carried
 * in Batch.lead, which the MAE does not use otherwise): of patch row grow (of the whole grid) of
 * band group `group` (0 without groups) the c->mae_keep visible columns, ascending, into cols. The
 * task's loss mask and the model agree through this one function, on any layout. */
void vit_mae_visible(const VitConfig *c, uint32_t seed, int grow, int group, int *cols);
/* From x0, the visible tokens through the encoder and every token through the decoder; returns the
 * decoder norm's output [B,S,D], the head's input (vit.c). Under a pipeline the first stage gathers
 * the visible tokens, every stage runs its encoder blocks on them (a later stage's input, in x0, has
 * Se = vit_mae_S rows per sample), and only the last runs the decoder; the others return NULL and
 * leave their output at vit_output. */
const float *vit_mae_forward(Vit *m, const Batch *b);
/* dh: the gradient of that output (last stage; other stages: m->a.dx holds the next stage's
 * gradient of their output); leaves the gradient of x0 [B,S,D] in m->a.dx (first stage), or of
 * the stage's input [B,Se,D]. */
void vit_mae_backward(Vit *m, const Batch *b, float *dh);

#endif
