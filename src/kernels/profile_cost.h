/* What one call of a kernel-table op costs, for the roofline of lvit bench --profile
 * (kernels/profile.c): its floating-point operations and the bytes it must move at least once
 * (every input read once, every output written once; an accumulated (+=) output is read and
 * written). Scratch traffic (im2col bands, workspaces) and re-reads a cache would miss are not
 * counted: the figures are the least any implementation must do, so bytes/s is a lower bound
 * on the memory traffic. Elementwise ops get a nominal flop count per element (said beside
 * each); their bytes dominate. Arguments are those of the op in kernels/kernels.h; pointer
 * arguments are passed only as "present" flags where a NULL changes the work. */
#ifndef LVIT_PROFILE_COST_H
#define LVIT_PROFILE_COST_H
#include <stdint.h>
#include "attention/attention.h"

typedef struct OpCost {
    double flops, bytes;
} OpCost;

OpCost cost_zero(int64_t n);
OpCost cost_copy(int64_t n);
OpCost cost_linear_fwd(int64_t M, int64_t K, int64_t N, int bias, int accumulate);
OpCost cost_linear_bwd(int din, int dw, int db, int64_t M, int64_t K, int64_t N);
OpCost cost_layernorm_fwd(int64_t M, int64_t C);
OpCost cost_layernorm_bwd(int din, int dw, int db, int64_t M, int64_t C);
OpCost cost_gelu_fwd(int64_t n);
OpCost cost_gelu_bwd(int64_t n);
OpCost cost_add_inplace(int64_t n);
OpCost cost_lerp(int64_t n);
OpCost cost_patch_embed_fwd(int B, int V, int H, int W, int p, int D);
OpCost cost_patch_embed_bwd(int dw, int db, int dve, int B, int V, int H, int W, int p, int D);
OpCost cost_pos_lead_fwd(int B, int64_t T, int64_t L, int D);
OpCost cost_pos_lead_bwd(int B, int64_t T, int64_t L, int D);
OpCost cost_var_attn_fwd(int B, int64_t L, int V, int NH, int D);
OpCost cost_var_attn_bwd(int B, int64_t L, int V, int NH, int D);
OpCost cost_rearrange(int B, int Vo, int H, int W);   /* unpatchify, patchify */
OpCost cost_mse_loss(int mask, int B, int Vo, int H, int W);
OpCost cost_sumsq(int64_t n);
OpCost cost_scale(int64_t n);
OpCost cost_adamw(int64_t n);
OpCost cost_attn_fwd(const AttnDims *dm);
OpCost cost_attn_bwd(const AttnDims *dm);
OpCost cost_attn_merge(const AttnDims *dm);
OpCost cost_conv3x3_fwd(int bias, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W);
OpCost cost_conv3x3_bwd(int din, int dw, int dbias, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W);
OpCost cost_pixel_shuffle_fwd(int64_t B, int64_t C, int64_t H, int64_t W, int r);
OpCost cost_pixel_shuffle_bwd(int64_t B, int64_t C, int64_t H, int64_t W, int r);
OpCost cost_tv_loss(int grad, int vw, int B, int V, int H, int W);
OpCost cost_token_mean(int B, int64_t S, int D, int backward);
OpCost cost_class_loss(int B, int K);

#endif
