/* The model's structs (src/model/vit.h has its functions): a batch on the backend, a rank's
 * parallel layout, the model as a rank holds it, and a pipeline slot's activations. Below vit.h,
 * vit_block.h and vit_mae.h, so that the model's files include each other in one direction. */
#ifndef LVIT_VIT_TYPES_H
#define LVIT_VIT_TYPES_H
#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels.h"
#include "model/acts.h"
#include "model/config.h"
#include "model/params.h"
#include "parallel/seq_attn.h"

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

/* How a rank holds its part of the model under a parallel layout (see docs/parallelism.md);
 * vit_init with NULL, or a zeroed VitLayout, is one process. */
typedef struct VitLayout {
    int multiple;          /* param_mem and grad_mem sized up to a multiple of this many floats (0 or 1:
                            * exact): the zero tail lets ZeRO split the flat vectors into equal shards */
    const SeqGroup *seq;   /* sequence parallel: this rank computes the image rows [rank*Hl, (rank+1)*Hl)
                            * with Hl = p * ceil((H/p) / P) (whole patch rows; when P does not divide them
                            * the last ranks hold rows past the grid: padding, masked; ulysses also
                            * NH % P == 0; the caller checks and says what would work), batches carry only
                            * those rows (wlat stays [H]) and attention runs over the group's whole
                            * sequence in its mode. NULL: one rank */
    int external_blocks;   /* ZeRO-3: param_mem / grad_mem hold only the parameters outside the blocks
                            * (memory puts the block fields last); the blocks come through Vit.block_at,
                            * which the caller must set */
    Comm *tp;              /* tensor-parallel group (NULL or of size 1: none) */
} VitLayout;

typedef struct Vit {
    VitConfig cfg;          /* the model (parameter shapes, checkpoint) */
    VitConfig lc;           /* what this rank computes: cfg with H = the rows of its sequence chunk */
    int row0;               /* sequence parallel: first image row (and wlat row) of this rank */
    int64_t l0;             /* ... and first patch index (pos_embed row) */
    int pad_rows;           /* sequence parallel, patch rows not divisible by the group: of this rank's lc.H / p
                             * patch rows, how many lie past the grid (padding: masked, never keys; 0: none) */
    float *pad_mem;         /* pad_rows > 0: the rank's pos_embed rows (real ones, then zeros) [L_loc,D], their
                             * gradient [L_loc,D] and its wlat rows [lc.H] (zeros past the grid) */
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
    /* masked autoencoder (host memory): each sample's mask seed, and the visible tokens [B, Se] */
    float *mae_seed;
    int *mae_vis;
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

#endif
