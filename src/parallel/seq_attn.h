/* Exact attention over a sequence split across the ranks of a sequence-parallel group
 * (docs/parallelism.md, "Sequence parallel"). Each rank holds S_loc = S / P tokens of every sample, in the
 * block layout qkv [B, S_loc, 3, NH, d]; the global sequence is the ranks' chunks one after
 * the other (attention is exact and not causal, so only the set of keys matters).
 *   ulysses: all-to-all q, k, v (one fused message) from token-sharded to head-sharded, local
 *            attention of NH/P heads over all S tokens, all-to-all back. Needs NH % P == 0.
 *   lss:     one all-gather of [K|V]; every rank computes complete attention rows for its own
 *            queries; backward reduce-scatters dK, dV to their owners. No head constraint.
 *   ring:    the [K|V] chunks travel around the ring (non-blocking send/receive of the next
 *            chunk while the current one is computed), partial results merged by log-sum-exp;
 *            backward sends each chunk round again with its dK, dV, which arrive home complete.
 *            Nothing grows with P: the memory of one chunk and its neighbour.
 *   usp:     2-D: ulysses inside groups of u consecutive ranks (fast links), ring across the
 *            P/u groups among the ranks that hold the same heads. Needs NH % u == 0.
 * With P = 1 both are the plain kernel. Buffers come from the caller's single allocation.
 * Padded sequences (patch rows not divisible by P: the last ranks hold padded rows): only the
 * real tokens are keys. Each chunk is nvar segments (multi mode: one per variable) of
 * S_loc / nvar tokens; token j of a segment of chunk i is patch i * S_loc / nvar + j of the
 * group's padded grid, real when that is below L_valid. The kernels then run sample by sample
 * on the runs of real keys (partial results merged by log-sum-exp), so no padded key enters a
 * softmax; padded queries get finite outputs that the caller ignores (their gradients are 0). */
#ifndef LVIT_SEQ_ATTN_H
#define LVIT_SEQ_ATTN_H
#include <stdint.h>
#include "kernels/kernels.h"
#include "parallel/comm.h"

typedef enum { SP_ULYSSES = 0, SP_LSS = 1, SP_RING = 2, SP_USP = 3 } SpMode;
#define SP_MODE_CHOICES "ulysses|lss|ring|usp"
const char *sp_mode_name(SpMode m);

/* The communicators of a sequence-parallel group and its mode (spu, spr: usp only). */
typedef struct SeqGroup {
    Comm *sp, *spu, *spr;
    SpMode mode;
} SeqGroup;

typedef struct SeqAttn {
    Comm *sp;
    Comm *spu, *spr;       /* usp: the ulysses group (u consecutive ranks) and the ring across groups */
    SpMode mode;
    int64_t L_valid;       /* padded sequence: the real patches of the group's grid (0: no padding) */
    int nvar;              /* segments per chunk (0 or 1: one) */
    int P, Bmax, NH, d;
    int64_t S_loc;
    float *save;           /* [depth][save_per_layer]: ulysses oh [B,S,NH/P,d]; lss [K|V] [B,S,2,NH,d] */
    int64_t save_per_layer;
    float *buf1, *buf2;    /* scratch [scratch_floats] each */
    int64_t scratch_floats;
} SeqAttn;

/* Sizes for batch Bmax, for the communicators, mode and padding already in s (sp NULL: one rank); the
 * caller allocates depth * save_per_layer + 2 * scratch floats and calls seq_attn_carve. Also
 * returns the attention dims the kernels will see (for their workspace size). */
void seq_attn_plan(SeqAttn *s, int Bmax, int NH, int d, int64_t S_loc, AttnDims *kernel_dims);
int64_t seq_attn_floats(const SeqAttn *s, int depth);
void seq_attn_carve(SeqAttn *s, float *mem, int depth);

/* o [B,S_loc,NH,d] and lse [B,NH,S_loc] (the layout the caller stores; for ulysses lse holds
 * the head-sharded [B,NH/P,S], the same size) from qkv [B,S_loc,3,NH,d]. With ulysses qkv is
 * replaced by its head-sharded form [B,S,3,NH/P,d], which is what the backward pass needs. */
void seq_attn_fwd(SeqAttn *s, const Kernels *k, int layer, int B, float *o, float *lse, float *qkv, float *ws);
/* dqkv [B,S_loc,3,NH,d] (overwritten) from dout [B,S_loc,NH,d] and the forward's saved state. */
void seq_attn_bwd(SeqAttn *s, const Kernels *k, int layer, int B, float *dqkv, const float *dout, const float *qkv,
                  const float *o, const float *lse, float *ws);

#endif
