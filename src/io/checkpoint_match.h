/* Weights from a checkpoint of another configuration (`lvit train --init`): fine-tuning a
 * pretrained encoder under a new head. What is loaded and refused: docs/validation.md, Checkpoints. */
#ifndef LVIT_CHECKPOINT_MATCH_H
#define LVIT_CHECKPOINT_MATCH_H
#include <stddef.h>
#include <stdint.h>
#include "model/vit.h"

typedef struct CkptMatch {
    int loaded, tensors;          /* model tensors loaded, of this many */
    int64_t loaded_params, params;
    int kept_encoder;             /* encoder tensors (optim/param_groups.h) left at their initialization */
    char kept_encoder_names[512]; /* their names, shortened */
    char summary[2048];           /* one line: what was loaded, kept and left unused */
} CkptMatch;

/* Reads into canon [n_canon] (the canonical vector of m, holding its initial values) every
 * tensor of m that the file at path holds with the same shape: the encoder's tensor by tensor,
 * each head group (head.*, the downscaling convolutions, the MAE decoder) only whole, when the
 * file has exactly its tensors and shapes. The rest of canon is untouched; tensors of the file
 * that m lacks are ignored. Refused (-1, err naming the file): an encoder tensor of another
 * shape (both shapes and the flag that likely differs), another number of transformer blocks,
 * a position embedding of another grid (both grids), no tensor in common, values that are not
 * finite. A file of m's own configuration loads every tensor exactly. */
int ckpt_load_matching(const Vit *m, const char *path, float *canon, CkptMatch *r, char *err, size_t errlen);

#endif
