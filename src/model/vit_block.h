/* Inside the model (src/model only): a transformer block's forward and backward passes, its saved
 * activations, and the tensor-parallel helpers, shared by the encoder (vit.c) and the masked
 * autoencoder's decoder (vit_mae.c). */
#ifndef LVIT_VIT_BLOCK_H
#define LVIT_VIT_BLOCK_H
#include "model/vit_types.h"

/* Layer l's saved activations (l < vit_layers: the blocks, then an MAE's decoder blocks). With
 * recomputation (--recompute) every block shares one set, refilled from the block's input (the
 * previous block's res2, always kept) just before its backward pass; res2 (the block outputs)
 * stays per block. */
typedef struct LayerActs {
    float *ln1, *mean1, *rstd1, *qkv, *atty, *lse, *res1, *ln2, *mean2, *rstd2, *fc1, *gl, *res2;
    int slot; /* the layer index of the sequence-parallel attention's saved state */
} LayerActs;
LayerActs vit_layer_acts(const Vit *m, int l);

/* Block `l`'s parameters (and gradients, g non-NULL): in param_mem / grad_mem, or where the
 * layout's block_at callback puts them (ZeRO-3 gathers them). */
void vit_block_at(Vit *m, int l, int backward, BlockParams *p, BlockParams *g);
/* Tensor parallel: the sum over the group of each rank's partial result (nothing without one). */
void vit_tp_sum(Vit *m, float *x, int64_t n);
/* out[M,N] = resid + in[M,K] W^T + bias for a row-parallel layer (K split over the tp group). */
void vit_row_parallel_fwd(Vit *m, float *out, const float *resid, const float *in, const float *w, const float *bias,
                          int64_t M, int64_t K, int64_t N);

/* Forward of layer l with parameters bp on x [B,S,D] (S of this rank's tokens; sa their attention,
 * planned for at least S) into the layer's activations. */
void vit_block_fwd(Vit *m, int B, int l, const float *x, int64_t S, SeqAttn *sa, const BlockParams *bp);
/* Backward of layer l: dx [B,S,D] holds the gradient of the block's output and becomes that of its
 * input xin; the parameter gradients accumulate into bg. */
void vit_block_bwd(Vit *m, int B, int l, const float *xin, float *dx, int64_t S, SeqAttn *sa, const BlockParams *bp,
                   const BlockParams *bg);

#endif
