/* The one list of parameters (VIT_PARAM_TABLE) and what is generated from it for a configuration:
 * this rank's memory layout, the canonical state-dict tensors, the pieces that map one onto the
 * other under tensor parallelism, carving and the initial values. Above config.h, below vit.h:
 * nothing here knows the model struct. */
#ifndef LVIT_MODEL_PARAMS_H
#define LVIT_MODEL_PARAMS_H
#include <stddef.h>
#include <stdint.h>
#include "model/config.h"

/* ---- the one list of parameters ----
 * X(field, state-dict name pattern (%d = repeat index * mul + add), repeats, mul, add,
 *   present in this config, init, weight decay, ndim, dim0, dim1, dim2, dim3)
 * Each field is one contiguous block of `repeats` tensors; the state dict splits it.
 * Weight decay only on the transformer's and head's matrices: never on biases, norms or
 * embeddings (token_embeds, var_embed, pos_embed, var_query, lead_time_embed). */
typedef enum { INIT_ZERO, INIT_ONE, INIT_TRUNC02, INIT_XAVIER, INIT_POS_SINCOS, INIT_VAR_SINCOS, INIT_CONV } InitKind;
/* INIT_CONV: PyTorch's Conv2d default, uniform in +-1/sqrt(fan_in) (fan_in = in channels x 3 x 3) */
/* D-CHAG's partial aggregations (chag.*.out_proj) start at Xavier's gain of about 1, not ClimaX's
 * 0.02: two aggregations in series at a gain of 0.02 sqrt(D) each left the bands' signal so far
 * below the variable and position embeddings that the masked autoencoder never left the band-mean
 * plateau on Salinas-A (docs/pretraining.md). */

#define VIT_PARAM_TABLE(X, c)                                                                          \
    X(tok_w, "token_embeds.%d.proj.weight", vit_Vt(c), 1, 0, vit_first_stage(c), INIT_TRUNC02, 0, 4, (c)->D, 1, (c)->p, (c)->p) \
    X(tok_b, "token_embeds.%d.proj.bias", vit_Vt(c), 1, 0, vit_first_stage(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)       \
    X(var_embed, "var_embed", 1, 0, 0, vit_first_stage(c), INIT_VAR_SINCOS, 0, 3, 1, vit_Vt(c), (c)->D, 1)             \
    X(var_query, "var_query", 1, 0, 0, vit_first_stage(c) && ((c)->mode == CH_AGG), INIT_ZERO, 0, 3, 1, 1, (c)->D, 1)          \
    X(agg_in_w, "var_agg.in_proj_weight", 1, 0, 0, vit_first_stage(c) && ((c)->mode == CH_AGG), INIT_XAVIER, 1, 2, 3 * vit_Dt(c), (c)->D, 1, 1) \
    X(agg_in_b, "var_agg.in_proj_bias", 1, 0, 0, vit_first_stage(c) && ((c)->mode == CH_AGG), INIT_ZERO, 0, 1, 3 * vit_Dt(c), 1, 1, 1) \
    X(agg_out_w, "var_agg.out_proj.weight", 1, 0, 0, vit_first_stage(c) && ((c)->mode == CH_AGG), INIT_TRUNC02, 1, 2, (c)->D, vit_Dt(c), 1, 1) \
    X(agg_out_b, "var_agg.out_proj.bias", 1, 0, 0, vit_first_stage(c) && ((c)->mode == CH_AGG), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(cq, "chag.%d.query", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_ZERO, 0, 3, 1, 1, (c)->D, 1) \
    X(c_in_w, "chag.%d.in_proj_weight", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_XAVIER, 1, 2, 3 * (c)->D, (c)->D, 1, 1) \
    X(c_in_b, "chag.%d.in_proj_bias", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_ZERO, 0, 1, 3 * (c)->D, 1, 1, 1) \
    X(c_out_w, "chag.%d.out_proj.weight", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_XAVIER, 1, 2, (c)->D, (c)->D, 1, 1) \
    X(c_out_b, "chag.%d.out_proj.bias", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(pos_embed, "pos_embed", 1, 0, 0, vit_first_stage(c), INIT_POS_SINCOS, 0, 3, 1, vit_L(c), (c)->D, 1)              \
    X(lead_w, "lead_time_embed.weight", 1, 0, 0, vit_first_stage(c), INIT_TRUNC02, 0, 2, (c)->D, 1, 1, 1)             \
    X(lead_b, "lead_time_embed.bias", 1, 0, 0, vit_first_stage(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)                  \
    X(n1_w, "blocks.%d.norm1.weight", vit_nblocks(c), 1, 0, 1, INIT_ONE, 0, 1, (c)->D, 1, 1, 1)         \
    X(n1_b, "blocks.%d.norm1.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)          \
    X(qkv_w, "blocks.%d.attn.qkv.weight", vit_nblocks(c), 1, 0, 1, INIT_TRUNC02, 1, 2, 3 * vit_Dt(c), (c)->D, 1, 1) \
    X(qkv_b, "blocks.%d.attn.qkv.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, 3 * vit_Dt(c), 1, 1, 1)  \
    X(proj_w, "blocks.%d.attn.proj.weight", vit_nblocks(c), 1, 0, 1, INIT_TRUNC02, 1, 2, (c)->D, vit_Dt(c), 1, 1) \
    X(proj_b, "blocks.%d.attn.proj.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)    \
    X(n2_w, "blocks.%d.norm2.weight", vit_nblocks(c), 1, 0, 1, INIT_ONE, 0, 1, (c)->D, 1, 1, 1)         \
    X(n2_b, "blocks.%d.norm2.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)          \
    X(fc1_w, "blocks.%d.mlp.fc1.weight", vit_nblocks(c), 1, 0, 1, INIT_TRUNC02, 1, 2, vit_Ft(c), (c)->D, 1, 1) \
    X(fc1_b, "blocks.%d.mlp.fc1.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, vit_Ft(c), 1, 1, 1)     \
    X(fc2_w, "blocks.%d.mlp.fc2.weight", vit_nblocks(c), 1, 0, 1, INIT_TRUNC02, 1, 2, (c)->D, vit_Ft(c), 1, 1) \
    X(fc2_b, "blocks.%d.mlp.fc2.bias", vit_nblocks(c), 1, 0, 1, INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)       \
    X(norm_w, "norm.weight", 1, 0, 0, vit_last_stage(c), INIT_ONE, 0, 1, (c)->D, 1, 1, 1)                            \
    X(norm_b, "norm.bias", 1, 0, 0, vit_last_stage(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)                             \
    X(head_w, "head.%d.weight", (c)->dec_depth, 2, 0, vit_last_stage(c), INIT_TRUNC02, 1, 2, (c)->D, (c)->D, 1, 1)  \
    X(head_b, "head.%d.bias", (c)->dec_depth, 2, 0, vit_last_stage(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1)            \
    X(out_w, "head.%d.weight", 1, 0, 2 * (c)->dec_depth, vit_last_stage(c), INIT_TRUNC02, 1, 2, vit_E(c), (c)->D, 1, 1) \
    X(out_b, "head.%d.bias", 1, 0, 2 * (c)->dec_depth, vit_last_stage(c), INIT_ZERO, 0, 1, vit_E(c), 1, 1, 1) \
    X(hc_w, "head_conv.weight", 1, 0, 0, vit_reslim_head(c), INIT_CONV, 1, 4, (c)->Vo, (c)->Vo, 3, 3) \
    X(hc_b, "head_conv.bias", 1, 0, 0, vit_reslim_head(c), INIT_ZERO, 0, 1, (c)->Vo, 1, 1, 1) \
    X(r1_w, "res_path.conv1.weight", 1, 0, 0, vit_reslim_head(c), INIT_CONV, 1, 4, vit_Rs(c), (c)->V, 3, 3) \
    X(r1_b, "res_path.conv1.bias", 1, 0, 0, vit_reslim_head(c), INIT_ZERO, 0, 1, vit_Rs(c), 1, 1, 1) \
    X(r2_w, "res_path.conv2.weight", 1, 0, 0, vit_reslim_head(c), INIT_CONV, 1, 4, (c)->Vo, (c)->res_width, 3, 3) \
    X(r2_b, "res_path.conv2.bias", 1, 0, 0, vit_reslim_head(c), INIT_ZERO, 0, 1, (c)->Vo, 1, 1, 1) \
    X(demb_w, "decoder_embed.weight", 1, 0, 0, vit_mae_decoder(c), INIT_XAVIER, 1, 2, (c)->D, (c)->D, 1, 1) \
    X(demb_b, "decoder_embed.bias", 1, 0, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(mask_tok, "mask_token", 1, 0, 0, vit_mae_decoder(c), INIT_TRUNC02, 0, 3, 1, 1, (c)->D, 1) \
    X(dpos, "decoder_pos_embed", 1, 0, 0, vit_mae_decoder(c), INIT_POS_SINCOS, 0, 3, 1, vit_L(c), (c)->D, 1) \
    X(dn1_w, "decoder_blocks.%d.norm1.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ONE, 0, 1, (c)->D, 1, 1, 1) \
    X(dn1_b, "decoder_blocks.%d.norm1.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(dqkv_w, "decoder_blocks.%d.attn.qkv.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_XAVIER, 1, 2, 3 * vit_Dt(c), (c)->D, 1, 1) \
    X(dqkv_b, "decoder_blocks.%d.attn.qkv.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, 3 * vit_Dt(c), 1, 1, 1) \
    X(dproj_w, "decoder_blocks.%d.attn.proj.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_XAVIER, 1, 2, (c)->D, vit_Dt(c), 1, 1) \
    X(dproj_b, "decoder_blocks.%d.attn.proj.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(dn2_w, "decoder_blocks.%d.norm2.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ONE, 0, 1, (c)->D, 1, 1, 1) \
    X(dn2_b, "decoder_blocks.%d.norm2.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(dfc1_w, "decoder_blocks.%d.mlp.fc1.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_XAVIER, 1, 2, vit_Ft(c), (c)->D, 1, 1) \
    X(dfc1_b, "decoder_blocks.%d.mlp.fc1.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, vit_Ft(c), 1, 1, 1) \
    X(dfc2_w, "decoder_blocks.%d.mlp.fc2.weight", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_XAVIER, 1, 2, (c)->D, vit_Ft(c), 1, 1) \
    X(dfc2_b, "decoder_blocks.%d.mlp.fc2.bias", (c)->mae_depth, 1, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(dnorm_w, "decoder_norm.weight", 1, 0, 0, vit_mae_decoder(c), INIT_ONE, 0, 1, (c)->D, 1, 1, 1) \
    X(dnorm_b, "decoder_norm.bias", 1, 0, 0, vit_mae_decoder(c), INIT_ZERO, 0, 1, (c)->D, 1, 1, 1) \
    X(dgemb, "decoder_group_embed", 1, 0, 0, vit_mae_decoder(c) && (c)->mode == CH_GROUPS, INIT_VAR_SINCOS, 0, 3, 1, (c)->groups, (c)->D, 1)

enum {
#define VIT_FIELD_ENUM(f, ...) PF_##f,
    VIT_PARAM_TABLE(VIT_FIELD_ENUM, (const VitConfig *)0) PF_COUNT
#undef VIT_FIELD_ENUM
};

/* One pointer per field: parameters, their gradients and optimizer moments share this shape. */
typedef struct VitParams {
#define VIT_FIELD_PTR(f, ...) float *f;
    VIT_PARAM_TABLE(VIT_FIELD_PTR, (const VitConfig *)0)
#undef VIT_FIELD_PTR
} VitParams;

/* The parameters (or gradients) of one transformer block. The model reads them through
 * vit_block (below), never by indexing the fields, so that a block can live elsewhere (ZeRO-3 /
 * FSDP gathers one block's shards into a buffer just before use). */
typedef struct BlockParams {
    float *n1_w, *n1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *n2_w, *n2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} BlockParams;

/* How tensor parallelism splits a field (TP_NONE: replicated on every tp rank). D-CHAG splits the
 * channels: the token embeddings and aggregation layers by tensor (TP_REPS: a rank holds a
 * contiguous run of them), the variable embedding by rows (TP_VROWS, dim 1). */
typedef enum { TP_NONE = 0, TP_ROWS3, TP_ROWS, TP_COLS, TP_REPS, TP_VROWS } TpSplit;
static inline TpSplit vit_field_split(const VitConfig *c, int f) {
    switch (f) {
    case PF_qkv_w: case PF_qkv_b: case PF_agg_in_w: case PF_agg_in_b: case PF_dqkv_w: case PF_dqkv_b:
        return TP_ROWS3; /* q, k, v rows by heads */
    case PF_fc1_w: case PF_fc1_b: case PF_dfc1_w: case PF_dfc1_b: return TP_ROWS;
    case PF_proj_w: case PF_fc2_w: case PF_agg_out_w: case PF_dproj_w: case PF_dfc2_w: return TP_COLS;
    case PF_cq: case PF_c_in_w: case PF_c_in_b: case PF_c_out_w: case PF_c_out_b: return TP_REPS;
    case PF_tok_w: case PF_tok_b: return vit_chag(c) ? TP_REPS : TP_NONE;
    case PF_var_embed: return vit_chag(c) ? TP_VROWS : TP_NONE;
    default: return TP_NONE;
    }
}

/* A piece of the local parameter vector and where it sits in the canonical (unsharded) one. */
typedef struct VitSeg {
    int64_t local, canon, len;
    int sharded; /* 0: a replicated tensor (the same on every tp rank) */
} VitSeg;

/* One state-dict tensor (a repeat of a field). */
typedef struct ParamSpec {
    char name[96];
    int field, rep;         /* PF_* and repeat index */
    int ndim;
    int64_t shape[4];
    int64_t offset, numel;  /* in floats, into the flat parameter buffer */
    InitKind init;
    int decay;
} ParamSpec;

/* Field-level layout (one contiguous block per field). */
typedef struct FieldSpec {
    const char *field_name;
    int present, decay;
    int64_t offset, numel;  /* whole block: all repeats */
} FieldSpec;

/* Expands the table for configuration c on tensor-parallel rank tp_rank of vit_tp(c) (c's pipeline
 * stage decides which blocks): fields [PF_COUNT] and n_params, this rank's memory layout
 * (field-major, local shapes, the block fields last); specs [nspecs] and n_canon, the canonical
 * (unsharded, whole-model) tensors in PyTorch state-dict order with their offsets in the canonical
 * vector; seg [nseg], the local vector as pieces of the canonical one, by local offset. The caller
 * frees specs and seg. */
void vit_params_layout(const VitConfig *c, int tp_rank, FieldSpec *fields, int64_t *n_params, ParamSpec **specs,
                       int *nspecs, int64_t *n_canon, VitSeg **seg, int *nseg);
/* Point a VitParams at a flat buffer laid out by fields [PF_COUNT] (parameters, gradients, moments). */
void vit_params_carve(const FieldSpec *fields, VitParams *out, float *mem);
/* Block `layer` of a field-major table (parameters, gradients or moments carved like them). */
void vit_block_view(const VitParams *t, const VitConfig *c, int layer, BlockParams *out);
/* Masked-autoencoder decoder block j (split over the tensor-parallel group like the encoder's blocks). */
void vit_dec_block_view(const VitParams *t, const VitConfig *c, int j, BlockParams *out);
/* Deterministic ClimaX-style initial values of the canonical tensors specs [nspecs] of configuration
 * c into canon [n_canon] (per-tensor random streams from the seed and the tensor's name). */
void vit_params_init_canonical(const VitConfig *c, const ParamSpec *specs, int nspecs, uint64_t seed, float *canon);

#endif
