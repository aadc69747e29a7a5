/* The activations and scratch of a forward and backward pass: one allocation, sized for the
 * largest batch before the first step and carved into every buffer (nothing is allocated inside
 * the step loop), for what one rank computes (its sequence chunk, tensor-parallel share, pipeline
 * stage and D-CHAG blocks). */
#ifndef LVIT_MODEL_ACTS_H
#define LVIT_MODEL_ACTS_H
#include <stdint.h>
#include "kernels/kernels.h"
#include "model/config.h"
#include "parallel/seq_attn.h"

/* Forward activations and backward scratch, carved from one allocation. */
typedef struct VitActs {
    float *tok;          /* [B,V,L,D] patch + variable embedding (== x0 in multi mode) */
    float *agg_q;        /* [D] projected variable query */
    float *agg_kv;       /* [B,V,L,2,D] */
    float *agg_probs;    /* [B,L,NH,V] */
    float *agg_o;        /* [B,L,D] */
    float *x0;           /* [B,S,D] block-0 input */
    /* per layer (vit_layers: the blocks, then an MAE's decoder blocks, each sized for S tokens) */
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
    float *pool;         /* classification: [B,D] the mean of lnf over the tokens */
    float *head_pre;     /* [dec][B,S,D] ([dec][B,D] classifying) */
    float *head_act;     /* [dec][B,S,D] ([dec][B,D] classifying) */
    float *out;          /* [B,S,E] head output, token layout ([B,classes] logits classifying) */
    float *dout;         /* [B,S,E] dloss/dout ([B,classes]) */
    /* Reslim (downscaling) on the fine grid Hf x Wf = sH x sW of the computed window */
    float *up;           /* [B,Vo,Hf,Wf] the head output unpatchified */
    float *pred;         /* [B,Vo,Hf,Wf] the prediction: head_conv(up) + res_path(x) */
    float *dpred;        /* [B,Vo,Hf,Wf] its gradient (also the residual path's output in the forward) */
    float *dup;          /* [B,Vo,Hf,Wf] the gradient of up */
    float *r1, *r1g;     /* [B,Rs,H,W] conv1 output, its GELU (backward: the GELU's gradient) */
    float *rps, *drps;   /* [B,R,Hf,Wf] the pixel shuffle's output and its gradient */
    float *dr1;          /* [B,Rs,H,W] */
    float *tpos, *dtpos; /* TILES: [B,L,D] each sample's window of pos_embed, [L,D] one sample's gradient */
    /* masked autoencoder (encoder on Se = vit_mae_S tokens, decoder on S): the encoder's input (the
     * visible tokens), the decoder_embed output [B,Se,D], the decoder's input [B,S,D] (mask tokens,
     * the embedded visible tokens, the position embedding) and the decoder norm [B,S,D] */
    float *mae_xv, *mae_emb, *mae_xd, *mae_dn, *mae_dn_mean, *mae_dn_rstd;
    float *mae_nolead;   /* [B] zeros: the lead-time input (the batch's lead carries mask seeds) */
    /* band groups (src/model/band_groups.c): the targets and mask with every group padded to the
     * largest, [B,G,Gmax,H,W] (NULL when the groups are equal or the head classifies) */
    float *grp_y, *grp_mask;
    /* backward scratch, shared by all layers */
    float *dx;           /* [B,S,D] residual-stream gradient */
    float *dtmp;         /* [B,S,D] */
    float *dtmp2;        /* [B,S,D] */
    float *dbig;         /* [B,S,max(F,3D)] */
    float *dbig2;        /* [B,S,F] */
    float *dagg;         /* agg: [B,V,L,2,D] dkv */
    float *dtok;         /* agg and band groups: [B,V,L,D] */
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

/* Lays out every activation and scratch buffer of configuration c (what this rank computes) for
 * batches up to B in mem and carves sa's saved state from it; with mem == NULL only counts.
 * Returns the floats. */
int64_t vit_acts_carve(VitActs *a, const VitConfig *c, int B, const Kernels *k, SeqAttn *sa, float *mem);

/* D-CHAG: one aggregation layer's saved activations, inside a->chag_layers. */
typedef struct ChagLayer {
    float *q;     /* [D] projected query */
    float *kv;    /* [B,nin,L,2,D] */
    float *probs; /* [B,L,NH,nin] */
    float *o;     /* [B,nout,L,D] attention output */
    float *out;   /* [B,nout,L,D] the group tokens of the first of two levels (the last writes chag_part) */
} ChagLayer;
/* Local layer la = block j * levels + level of the carve a (configuration c, batches up to B). */
ChagLayer vit_acts_chag_layer(const VitActs *a, const VitConfig *c, int B, int la);

#endif
