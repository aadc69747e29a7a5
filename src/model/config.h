/* What a model is: the configuration of the ClimaX-layout vision transformer (Nguyen et al.,
 * "ClimaX: A foundation model for weather and climate", 2023), the sizes derived from it, its
 * checks and its JSON form. The bottom of src/model: it knows nothing of parameters or
 * activations. Dimension letters: B batch, V input variables, Vo output variables, H x W grid,
 * p patch, L = (H/p)(W/p), S tokens in the sequence (L in agg mode, V*L in multi mode), D width,
 * NH heads, d = D/NH, F = mlp_ratio*D, E head outputs per token. */
#ifndef LVIT_MODEL_CONFIG_H
#define LVIT_MODEL_CONFIG_H
#include <stddef.h>
#include <stdint.h>
#include "core/limits.h"

/* CH_GROUPS (SatMAE, Cong et al. 2022; src/model/band_groups.c): the bands in contiguous groups, one
 * token per group and location (S = G L) */
typedef enum { CH_AGG = 0, CH_MULTI = 1, CH_GROUPS = 2 } ChannelMode;

typedef struct VitConfig {
    int V, Vo;          /* input / output variables (Vo == V: forecasting maps a state to a state) */
    int H, W;           /* grid the model sees (multiples of p) */
    int p, D, depth, NH, dec_depth, mlp_ratio;
    ChannelMode mode;
    int residual;       /* the model predicts the change: forecast = input + output (targets are y - x) */
    int history;        /* forecasting: the inputs are the Vo variables at t, then at k earlier times (V = Vo (k + 1)) */
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
    int scale;          /* downscaling (ORBIT-2's Reslim, docs/downscaling.md) by this factor s >= 2 (0 or 1:
                         * forecasting). The ViT runs on the coarse H x W grid of V inputs (the Vo output
                         * variables, then static fields); its head emits (s p)^2 Vo values per token,
                         * unpatchified onto the fine sH x sW grid and through a 3x3 convolution; a residual
                         * path (3x3 conv to res_width s^2 channels, GELU, pixel shuffle by s, 3x3 conv to
                         * Vo) on the coarse inputs is added. */
    int res_width;      /* downscaling: channels of the residual path after the pixel shuffle */
    int ds_base;        /* downscaling target: 0 the fine field, 1 its difference from the bicubic
                         * interpolation of the coarse input (prediction = interpolation + model) */
    int classes;        /* a classification head with this many classes (0: the image head). The
                         * tokens' final-norm outputs are averaged over the whole sequence (all
                         * sequence-parallel ranks), the head MLP runs on that mean and its last layer
                         * emits E = classes logits per sample. */
    int multilabel;     /* classification: independent sigmoid outputs (multi-label) instead of a softmax */
    int seg_classes;    /* semantic segmentation (tasks/segment.c): the image head's Vo = seg_classes outputs of a
                         * pixel are its class logits, under a per-pixel softmax cross-entropy (0: none) */
    int mae_keep;       /* masked-autoencoder pretraining (He et al. 2022; docs/pretraining.md): the encoder sees
                         * this many tokens of every patch row (the rest masked; 0: no MAE), the tokens of each
                         * row drawn at random per sample (row-stratified, so a sequence-parallel rank's rows
                         * hold the same number); a decoder of mae_depth blocks on every token (a mask token
                         * where masked) feeds the head, which predicts the normalised pixels. */
    int mae_depth;
    int tile_h, tile_w; /* TILES: this rank computes coarse windows of tile_h x tile_w cells of the H x W grid
                         * (their origins come with each batch); 0: the whole grid. Not part of the model. */
    char (*var_names)[LVIT_VAR_NAME]; /* [V], owned by the config (vit_config_free) */
    int groups;         /* CH_GROUPS: G band groups, group g the bands [group_start[g], group_start[g+1]) */
    int *group_start;   /* [groups+1] (0 ... V), owned by the config; NULL without groups */
} VitConfig;

static inline int64_t vit_L(const VitConfig *c) { return (int64_t)(c->H / c->p) * (c->W / c->p); }
/* tokens per location: 1 (agg), V (multi) or G (band groups) */
static inline int vit_tokens_per_loc(const VitConfig *c) {
    return c->mode == CH_AGG ? 1 : c->mode == CH_GROUPS ? c->groups : c->V;
}
static inline int64_t vit_S(const VitConfig *c) { return vit_tokens_per_loc(c) * vit_L(c); }
/* band groups: the bands of the largest group (a group token's head predicts that many, padded) */
static inline int vit_group_max(const VitConfig *c) {
    int n = 0;
    for (int g = 0; g < c->groups; g++)
        if (c->group_start[g + 1] - c->group_start[g] > n) n = c->group_start[g + 1] - c->group_start[g];
    return n;
}
static inline int vit_scale(const VitConfig *c) { return c->scale > 1 ? c->scale : 1; }
static inline int vit_reslim(const VitConfig *c) { return c->scale > 1; }
/* the head's patch on the output grid: p, or s p when downscaling */
static inline int vit_P(const VitConfig *c) { return c->p * vit_scale(c); }
static inline int vit_classify(const VitConfig *c) { return c->classes > 0; }
static inline int vit_segment(const VitConfig *c) { return c->seg_classes > 0; }
static inline int vit_E(const VitConfig *c) {
    if (vit_classify(c)) return c->classes;
    if (c->mode == CH_GROUPS) return vit_P(c) * vit_P(c) * vit_group_max(c);
    return c->mode == CH_AGG ? vit_P(c) * vit_P(c) * c->Vo : vit_P(c) * vit_P(c);
}
/* masked-autoencoder pretraining: the tokens the encoder sees (of this rank's rows) */
static inline int vit_mae(const VitConfig *c) { return c->mae_keep > 0; }
static inline int64_t vit_mae_S(const VitConfig *c) {
    return (int64_t)(c->H / c->p) * c->mae_keep * (c->mode == CH_GROUPS ? c->groups : 1);
}
/* rows of the head's matrix products for a batch of B: one per token, or one per sample classifying */
static inline int64_t vit_head_rows(const VitConfig *c, int B) { return vit_classify(c) ? B : (int64_t)B * vit_S(c); }
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
/* the MAE's decoder and Reslim's convolutions live on the last stage */
static inline int vit_mae_decoder(const VitConfig *c) { return vit_mae(c) && vit_last_stage(c); }
static inline int vit_reslim_head(const VitConfig *c) { return vit_last_stage(c) && vit_reslim(c); }
/* the encoder's blocks, then (on the last pipeline stage) the masked autoencoder's decoder blocks */
static inline int vit_layers(const VitConfig *c) {
    return vit_nblocks(c) + (vit_mae_decoder(c) ? c->mae_depth : 0);
}
/* tokens per sample that a pipeline stage receives and passes on: the encoder's (the visible ones
 * for the masked autoencoder) */
static inline int64_t vit_stage_S(const VitConfig *c) { return vit_mae(c) ? vit_mae_S(c) : vit_S(c); }
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
/* --band-groups SPEC: "N" (N contiguous groups, sizes differing by at most one) or "a-b,c-d,..."
 * (inclusive band ranges covering 0..V-1 in order); sets mode CH_GROUPS. 0, or -1 with a message. */
int vit_config_set_band_groups(VitConfig *c, const char *spec, char *err, size_t errlen);

#endif
