/* The ClimaX-layout vision transformer (ALGORITHMS.md section 1), written once over the
 * kernel table. Dimension letters: B batch, V input variables, Vo output variables, H x W
 * grid, p patch, L = (H/p)(W/p), S tokens in the sequence (L in agg mode, V*L in multi mode),
 * D width, NH heads, d = D/NH, F = mlp_ratio*D, E head outputs per token. */
#ifndef LVIT_VIT_H
#define LVIT_VIT_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels.h"
#include "parallel/seq_attn.h"

#define LVIT_MAX_VARS 4096
#define LVIT_VAR_NAME 64

typedef enum { CH_AGG = 0, CH_MULTI = 1 } ChannelMode;

typedef struct VitConfig {
    int V, Vo;          /* input / output variables (Vo == V: forecasting maps a state to a state) */
    int H, W;           /* grid the model sees (multiples of p) */
    int p, D, depth, NH, dec_depth, mlp_ratio;
    ChannelMode mode;
    int residual;       /* the model predicts the change: forecast = input + output (targets are y - x) */
    int chag;           /* D-CHAG (agg mode): the channels aggregate in `chag` blocks of V/chag, each with its own
                         * cross-attention, then one cross-attention over the chag partial tokens
                         * (0 or 1: one cross-attention over all V). Under tp the blocks are split over
                         * the tensor-parallel ranks, each tokenizing only its channels. */
    int chag_group;     /* D-CHAG hierarchy: a block's channels first aggregate in groups of this many
                         * (0: one level) */
    int pp, pp_stage;   /* pipeline: this rank is stage pp_stage of pp (0 or 1: the whole model): it holds
                         * the blocks [vit_block0, +vit_nblocks), the embeddings on the first stage and the
                         * final norm and head on the last. Not part of the model: never serialized. */
    int recompute;      /* keep only each block's input and recompute its activations just before its
                         * backward pass (one block's worth of memory; a second forward of every block) */
    int tp;             /* tensor parallel: this rank holds 1/tp of the heads and of the MLP width (0 or 1:
                         * the whole model). Not part of the model: never serialized. */
    int scale;          /* downscaling (ORBIT-2 Reslim, ALGORITHMS.md section 6) by this factor s >= 2 (0 or 1:
                         * forecasting). The ViT runs on the coarse H x W grid of V inputs (the Vo output
                         * variables, then static fields); its head emits (s p)^2 Vo values per token,
                         * unpatchified onto the fine sH x sW grid and through a 3x3 convolution; a residual
                         * path (3x3 conv to res_width s^2 channels, GELU, pixel shuffle by s, 3x3 conv to
                         * Vo) on the coarse inputs is added. */
    int res_width;      /* downscaling: channels of the residual path after the pixel shuffle */
    int ds_base;        /* downscaling target: 0 the fine field, 1 its difference from the bicubic
                         * interpolation of the coarse input (prediction = interpolation + model) */
    int tile_h, tile_w; /* TILES: this rank computes coarse windows of tile_h x tile_w cells of the H x W grid
                         * (their origins come with each batch); 0: the whole grid. Not part of the model. */
    char (*var_names)[LVIT_VAR_NAME]; /* [V], owned by the config (vit_config_free) */
} VitConfig;

static inline int64_t vit_L(const VitConfig *c) { return (int64_t)(c->H / c->p) * (c->W / c->p); }
static inline int64_t vit_S(const VitConfig *c) { return c->mode == CH_AGG ? vit_L(c) : c->V * vit_L(c); }
static inline int vit_scale(const VitConfig *c) { return c->scale > 1 ? c->scale : 1; }
static inline int vit_reslim(const VitConfig *c) { return c->scale > 1; }
/* the head's patch on the output grid: p, or s p when downscaling */
static inline int vit_P(const VitConfig *c) { return c->p * vit_scale(c); }
static inline int vit_E(const VitConfig *c) {
    return c->mode == CH_AGG ? vit_P(c) * vit_P(c) * c->Vo : vit_P(c) * vit_P(c);
}
/* Reslim residual path: channels before the pixel shuffle */
static inline int vit_Rs(const VitConfig *c) { return c->res_width * vit_scale(c) * vit_scale(c); }
static inline int vit_F(const VitConfig *c) { return c->mlp_ratio * c->D; }
/* Tensor parallel (Megatron): qkv and fc1 (and the variable aggregation's in-projection) are
 * split by output rows, by heads for q, k and v; proj and fc2 (and the aggregation's
 * out-projection) by input columns. A rank holds NH/tp heads, Dt = D/tp attention channels and
 * Ft = F/tp MLP channels. */
static inline int vit_tp(const VitConfig *c) { return c->tp > 1 ? c->tp : 1; }
static inline int vit_Dt(const VitConfig *c) { return c->D / vit_tp(c); }
static inline int vit_Ft(const VitConfig *c) { return vit_F(c) / vit_tp(c); }
static inline int vit_NHt(const VitConfig *c) { return c->NH / vit_tp(c); }
/* Pipeline stages: blocks split as evenly as possible, the first depth % pp stages one more. */
static inline int vit_pp(const VitConfig *c) { return c->pp > 1 ? c->pp : 1; }
static inline int vit_stage(const VitConfig *c) { return c->pp > 1 ? c->pp_stage : 0; }
static inline int vit_nblocks(const VitConfig *c) {
    return c->depth / vit_pp(c) + (vit_stage(c) < c->depth % vit_pp(c));
}
static inline int vit_block0(const VitConfig *c) {
    const int q = vit_stage(c), r = c->depth % vit_pp(c);
    return q * (c->depth / vit_pp(c)) + (q < r ? q : r);
}
static inline int vit_first_stage(const VitConfig *c) { return vit_stage(c) == 0; }
static inline int vit_last_stage(const VitConfig *c) { return vit_stage(c) == vit_pp(c) - 1; }
/* D-CHAG: blocks, their levels (1 or 2), the channels this rank tokenizes, the tokens the final
 * cross-attention sees (C partial tokens, or the V channels without D-CHAG). */
static inline int vit_chag(const VitConfig *c) { return c->mode == CH_AGG && c->chag > 1 ? c->chag : 0; }
static inline int vit_chag_levels(const VitConfig *c) {
    return vit_chag(c) && c->chag_group > 0 && c->chag_group < c->V / c->chag ? 2 : 1;
}
static inline int vit_Vt(const VitConfig *c) { return vit_chag(c) ? c->V / vit_tp(c) : c->V; }
static inline int vit_Vagg(const VitConfig *c) { return vit_chag(c) ? vit_chag(c) : c->V; }
/* local D-CHAG aggregation layers: (blocks of this rank) x levels */
static inline int vit_chag_layers(const VitConfig *c) {
    return vit_chag(c) ? vit_chag(c) / vit_tp(c) * vit_chag_levels(c) : 0;
}

/* Default names "var0", "var1", ... for V variables. */
void vit_config_set_default_names(VitConfig *c);
void vit_config_copy(VitConfig *dst, const VitConfig *src);
void vit_config_free(VitConfig *c);
/* 0 if the configuration is usable, else -1 with a message naming the flag and what works. */
int vit_config_check(const VitConfig *c, char *err, size_t errlen);
/* JSON of the configuration ("lvit.config" checkpoint metadata), caller frees. */
char *vit_config_to_json(const VitConfig *c);
int vit_config_from_json(VitConfig *c, const char *json, char *err, size_t errlen);
const char *vit_mode_name(ChannelMode m);

/* ---- the one list of parameters ----
 * X(field, state-dict name pattern (%d = repeat index * mul + add), repeats, mul, add,
 *   present in this config, init, weight decay, ndim, dim0, dim1, dim2, dim3)
 * Each field is one contiguous block of `repeats` tensors; the state dict splits it.
 * Weight decay only on the transformer's and head's matrices: never on biases, norms or
 * embeddings (token_embeds, var_embed, pos_embed, var_query, lead_time_embed). */
typedef enum { INIT_ZERO, INIT_ONE, INIT_TRUNC02, INIT_XAVIER, INIT_POS_SINCOS, INIT_VAR_SINCOS, INIT_CONV } InitKind;
/* INIT_CONV: PyTorch's Conv2d default, uniform in +-1/sqrt(fan_in) (fan_in = in channels x 3 x 3) */

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
    X(c_out_w, "chag.%d.out_proj.weight", vit_chag_layers(c), 1, 0, vit_first_stage(c) && (vit_chag(c) > 0), INIT_TRUNC02, 1, 2, (c)->D, (c)->D, 1, 1) \
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
    X(hc_w, "head_conv.weight", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_CONV, 1, 4, (c)->Vo, (c)->Vo, 3, 3) \
    X(hc_b, "head_conv.bias", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_ZERO, 0, 1, (c)->Vo, 1, 1, 1) \
    X(r1_w, "res_path.conv1.weight", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_CONV, 1, 4, vit_Rs(c), (c)->V, 3, 3) \
    X(r1_b, "res_path.conv1.bias", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_ZERO, 0, 1, vit_Rs(c), 1, 1, 1) \
    X(r2_w, "res_path.conv2.weight", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_CONV, 1, 4, (c)->Vo, (c)->res_width, 3, 3) \
    X(r2_b, "res_path.conv2.bias", 1, 0, 0, vit_last_stage(c) && vit_reslim(c), INIT_ZERO, 0, 1, (c)->Vo, 1, 1, 1)

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
    case PF_qkv_w: case PF_qkv_b: case PF_agg_in_w: case PF_agg_in_b: return TP_ROWS3; /* q, k, v rows by heads */
    case PF_fc1_w: case PF_fc1_b: return TP_ROWS;
    case PF_proj_w: case PF_fc2_w: case PF_agg_out_w: return TP_COLS;
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

/* Forward activations and backward scratch, carved from one allocation. */
typedef struct VitActs {
    float *tok;          /* [B,V,L,D] patch + variable embedding (== x0 in multi mode) */
    float *agg_q;        /* [D] projected variable query */
    float *agg_kv;       /* [B,V,L,2,D] */
    float *agg_probs;    /* [B,L,NH,V] */
    float *agg_o;        /* [B,L,D] */
    float *x0;           /* [B,S,D] block-0 input */
    float *ln1, *ln1_mean, *ln1_rstd;   /* [depth][B,S,D], [depth][B,S] */
    float *qkv;          /* [depth][B,S,3,NH,d] */
    float *atty;         /* [depth][B,S,D] attention output (pre-projection) */
    float *lse;          /* [depth][B,NH,S] */
    float *res1;         /* [depth][B,S,D] */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fc1;          /* [depth][B,S,F] pre-GELU */
    float *gelu;         /* [depth][B,S,F] */
    float *res2;         /* [depth][B,S,D] block output */
    float *lnf, *lnf_mean, *lnf_rstd;   /* [B,S,D], [B,S] */
    float *head_pre;     /* [dec][B,S,D] */
    float *head_act;     /* [dec][B,S,D] */
    float *out;          /* [B,S,E] head output, token layout */
    float *dout;         /* [B,S,E] dloss/dout */
    /* Reslim (downscaling) on the fine grid Hf x Wf = sH x sW of the computed window */
    float *up;           /* [B,Vo,Hf,Wf] the head output unpatchified */
    float *pred;         /* [B,Vo,Hf,Wf] the prediction: head_conv(up) + res_path(x) */
    float *dpred;        /* [B,Vo,Hf,Wf] its gradient (also the residual path's output in the forward) */
    float *dup;          /* [B,Vo,Hf,Wf] the gradient of up */
    float *r1, *r1g;     /* [B,Rs,H,W] conv1 output, its GELU (backward: the GELU's gradient) */
    float *rps, *drps;   /* [B,R,Hf,Wf] the pixel shuffle's output and its gradient */
    float *dr1;          /* [B,Rs,H,W] */
    float *tpos, *dtpos; /* TILES: [B,L,D] each sample's window of pos_embed, [L,D] one sample's gradient */
    /* backward scratch, shared by all layers */
    float *dx;           /* [B,S,D] residual-stream gradient */
    float *dtmp;         /* [B,S,D] */
    float *dtmp2;        /* [B,S,D] */
    float *dbig;         /* [B,S,max(F,3D)] */
    float *dbig2;        /* [B,S,F] */
    float *dagg;         /* agg: [B,V,L,2,D] dkv */
    float *dtok;         /* agg: [B,V,L,D] */
    float *dagg_q;       /* [D] */
    /* D-CHAG (agg mode with chag blocks): tok holds this rank's blocks one after the other,
     * [nb][B,V/C,L,D]; the final cross-attention reads ctok and writes its gradient to dtok */
    float *chag_x;       /* [B,V/C,H,W] one block's input channels */
    float *chag_layers;  /* [nb][chag_layer_floats]: q, kv, probs, o (and out) of each block's aggregation layers */
    int64_t chag_layer_floats;
    float *chag_part;    /* [nb][B,L,D] this rank's partial tokens */
    float *chag_gath;    /* [C][B,L,D] everybody's */
    float *ctok;         /* [B,C,L,D] the final cross-attention's input */
    float *chag_dperm;   /* [C][B,L,D] its gradient, block-major */
    float *chag_dpart;   /* [nb][B,L,D] the gradient of this rank's partial tokens */
    float *chag_dtok, *chag_dh, *chag_do, *chag_dkv, *chag_dq; /* backward scratch of one block */
    float *ws;           /* kernel scratch: attention, patch im2col, loss */
    int64_t ws_floats;
    int64_t embed_floats; /* floats from the start of the carve through the D-CHAG buffers */
} VitActs;

/* A batch on the backend: normalized inputs and targets. */
typedef struct Batch {
    int B;
    float *x;     /* [B,V,H,W] */
    float *y;     /* [B,Vo,H,W] */
    float *mask;  /* [B,Vo,H,W] 0/1, validity of the target cell */
    float *lead;  /* [B] lead time in hours / 100 */
    float *wlat;  /* [H] cos(lat)/mean cos(lat) */
    double loss_denom; /* the loss is sum(wlat m err^2) / loss_denom; 0 = this batch's mask sum.
                        * Data/sequence-parallel ranks pass the global batch's mask sum. */
    /* Downscaling: y and mask are [B,Vo,sH,sW] on the fine grid (mask: the cell's weight, with the
     * latitude and per-variable weights folded in; wlat [sH] is then all ones). */
    float tv_weight;   /* loss += tv_weight * TV(prediction) / tv_denom (0: no TV term) */
    double tv_denom;   /* 0: this batch's fine cells, B Vo sH sW */
    const float *vw;   /* [Vo] per-variable TV weights (backend memory), NULL: all 1 */
    const int *tile_r0, *tile_c0; /* TILES (host [B]): each sample's window origin in coarse cells (a
                                   * multiple of p; columns wrap around W); NULL: the whole grid */
} Batch;

typedef struct Vit {
    VitConfig cfg;          /* the model (parameter shapes, checkpoint) */
    VitConfig lc;           /* what this rank computes: cfg with H = the rows of its sequence chunk */
    int row0;               /* sequence parallel: first image row (and wlat row) of this rank */
    int64_t l0;             /* ... and first patch index (pos_embed row) */
    SeqAttn sa;             /* attention over the sequence-parallel group (plain with one rank) */
    int B;                  /* activations are sized for batches up to B */
    const Kernels *k;
    int nspecs;
    ParamSpec *specs;       /* [nspecs], in PyTorch state-dict order: the canonical (unsharded) tensors
                             * and their offsets in the canonical vector [n_canon] */
    FieldSpec fields[PF_COUNT]; /* this rank's memory layout (field-major; local shapes under tp) */
    int64_t n_params;       /* parameters this rank holds (n_canon / about tp) */
    int64_t n_canon;        /* parameters of the model */
    Comm *tp;               /* tensor-parallel group (NULL: none) */
    int tp_rank;
    int nseg;
    VitSeg *seg;            /* [nseg] the local vector [n_params] as pieces of the canonical one, by local offset */
    int64_t n_alloc;              /* parameters held in param_mem / grad_mem: n_params, or with
                                   * external blocks (ZeRO-3) those before the block region */
    float *param_mem, *grad_mem;  /* [n_alloc (rounded up)] each */
    VitParams p, g;
    VitActs a;
    float *act_mem;
    int64_t act_floats;
    int64_t embed_floats;   /* of act_floats: the tokenization and channel aggregation (through x0) */
    /* Called by vit_backward when gradients become final: layer = depth after the head and
     * the final norm, then layer = depth-1 ... 0 after each block (data parallelism starts
     * reducing them while the backward pass goes on). NULL: not called. */
    void (*grads_ready)(void *ctx, int layer);
    void *grads_ready_ctx;
    /* Where block `layer`'s parameters (and, in the backward pass, gradients) are; NULL: in
     * param_mem / grad_mem (vit_block_view). */
    void (*block_at)(void *ctx, int layer, int backward, BlockParams *p, BlockParams *g);
    void *block_at_ctx;
} Vit;

/* Another set of activations like m->a (pipeline: one per micro-batch in flight); vit_slot_use
 * makes the model compute in it. */
typedef struct VitSlot {
    VitActs a;
    SeqAttn sa;
    float *mem; /* NULL: the model's own set */
} VitSlot;
void vit_slot_alloc(Vit *m, VitSlot *s);
void vit_slot_free(Vit *m, VitSlot *s);
static inline void vit_slot_use(Vit *m, const VitSlot *s) {
    m->a = s->a;
    m->sa = s->sa;
}

void vit_init(Vit *m, const VitConfig *cfg, int B, const Kernels *k);
/* As vit_init, with param_mem and grad_mem sized up to a multiple of `multiple` floats (the
 * zero tail lets ZeRO split the flat vectors into equal shards). */
void vit_init_padded(Vit *m, const VitConfig *cfg, int B, const Kernels *k, int multiple);
/* Sequence parallel: this rank computes the image rows [rank*H/P, (rank+1)*H/P) of the padded
 * grid (whole patch rows: (H/p) % P == 0; ulysses also NH % P == 0; the caller checks and says
 * what would work), batches carry only those rows (wlat stays [H]), and attention runs over
 * the group's whole sequence in its mode. g = NULL: one rank. */
void vit_init_seq(Vit *m, const VitConfig *cfg, int B, const Kernels *k, int multiple, const SeqGroup *g);
/* external_blocks: param_mem / grad_mem hold only the parameters outside the blocks (memory puts
 * the block fields last); the blocks come through block_at, which must be set. */
void vit_init_ext(Vit *m, const VitConfig *cfg, int B, const Kernels *k, int multiple, const SeqGroup *g,
                  int external_blocks);
/* The same with a tensor-parallel group (tp NULL or of size 1: none; its size becomes cfg's tp);
 * cfg->pp and cfg->pp_stage say which pipeline stage this rank is. */
void vit_init_par(Vit *m, const VitConfig *cfg, int B, const Kernels *k, int multiple, const SeqGroup *g,
                  int external_blocks, Comm *tp);
/* (Re)builds m->specs, m->fields and m->seg for m->cfg (its tp) and m->tp_rank. */
void vit_build_specs(Vit *m);
/* Canonical host [n_canon] <-> this rank's layout host [n_params]. */
void vit_to_canonical(const Vit *m, const float *local, float *canon);
void vit_from_canonical(const Vit *m, const float *canon, float *local);
/* Initial values of every parameter into host [n_params] (what vit_init_params uploads): the
 * canonical initialization cut to this rank's shard, so every layout starts from the same model. */
void vit_init_params_host(const Vit *m, uint64_t seed, float *host);
void vit_free(Vit *m);
/* Deterministic ClimaX-style initialization from the seed (per-tensor random streams). */
void vit_init_params(Vit *m, uint64_t seed);
/* Point a VitParams at a flat buffer laid out like the parameters (gradients, moments). */
void vit_params_carve(const Vit *m, VitParams *out, float *mem);
/* Forward pass on b (b->B <= m->B). If b->y is set, returns the loss and prepares the
 * backward pass (dloss/dout); otherwise returns 0. */
float vit_forward(Vit *m, const Batch *b);
/* Backward pass: ACCUMULATES parameter gradients into m->grad_mem (zero it first). */
void vit_backward(Vit *m, const Batch *b);
/* Pipeline: a later stage's vit_forward reads its input from m->a.x0 [B,S,D] (filled by the
 * caller) and, but on the last stage, leaves its output at vit_output and returns 0; vit_backward
 * then reads the gradient of that output from m->a.dx and, but on the first stage, leaves the
 * gradient of its input there. */
const float *vit_output(const Vit *m);
/* Prediction image [B,Vo,H,W] of the last forward pass ([B,Vo,sH,sW] when downscaling). */
void vit_prediction(Vit *m, float *img, int B);
/* Forward FLOPs of one sample (matrix products and attention), for MFU/GFLOP/s reports. */
double vit_flops_per_sample(const VitConfig *c);
const ParamSpec *vit_find_param(const Vit *m, const char *name);
/* Block `layer` of a field-major table (parameters, gradients or moments carved like them). */
void vit_block_view(const VitParams *t, const VitConfig *c, int layer, BlockParams *out);

#endif
