/* `lvit export --timm`: the encoder of an lvit checkpoint as a state dict that timm's
 * VisionTransformer loads (docs/pretraining.md, "Loading the encoder in PyTorch"). */
#ifndef LVIT_TIMM_EXPORT_H
#define LVIT_TIMM_EXPORT_H
#include <stddef.h>

typedef struct TimmExport {
    int written, left_out;   /* tensors */
    int patch_embed;         /* 1: patch_embed.proj written (one band group: a single patch embedding) */
    char left[1024];         /* what was left out and why, for the user */
    char kwargs[512];        /* timm VisionTransformer keyword arguments (JSON), also in the file's "lvit.timm" */
} TimmExport;

/* Reads lvit checkpoint `in` and writes `out` (atomically): blocks.N.*, norm.*, pos_embed under
 * their own names (lvit's blocks are timm's: pre-norm, fused qkv with bias, exact GELU; LayerNorm
 * eps 1e-5), head.weight/bias for a classifier without hidden head layers, and patch_embed.proj
 * when the model has one band group (the mean of the bands' tokens is one Conv2d over all bands;
 * its bias takes the variable embedding and the lead-time bias, the image tasks' lead input being
 * 0). 0, or -1 with err naming the file. */
int timm_export(const char *in, const char *out, TimmExport *r, char *err, size_t errlen);

#endif
