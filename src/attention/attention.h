/* Exact multi-head attention without an SxS buffer (flash attention), CPU backend.
 *
 * Layout: token s of batch b, head h, channel c lives at
 *     base[(b*S + s)*stride + h*d + c]
 * so q, k and v can point straight into a fused qkv activation [B,S,3,NH,d]
 * (stride 3*NH*d, k = q + NH*d, v = q + 2*NH*d) and o into [B,S,NH,d].
 * lse (log-sum-exp of the scaled scores, natural log) is [B,NH,Sq].
 * Bidirectional (no mask): every query sees every key of the call.
 *
 * Partial results over disjoint key sets merge exactly with attn_merge_cpu, and
 * backward over one key chunk with the *global* o and lse gives that chunk's exact
 * contribution to dq and its exact dk, dv (this is what ring / LSS attention use).
 */
#ifndef LVIT_ATTENTION_H
#define LVIT_ATTENTION_H
#include <stddef.h>
#include <stdint.h>

typedef struct AttnDims {
    int B, NH, d;        /* batch, heads, head size */
    int64_t Sq, Sk;      /* query and key/value lengths */
    int64_t q_stride;    /* elements between consecutive tokens of q (and dq) */
    int64_t k_stride;    /* of k (and dk) */
    int64_t v_stride;    /* of v (and dv) */
    int64_t o_stride;    /* of o (and dout) */
    float scale;         /* softmax scale, normally 1/sqrt(d) */
} AttnDims;

/* Floats of scratch the CPU kernels need for nthreads threads (forward and backward).
 * The kernels run omp_get_max_threads() threads, so pass that (as seen where they will be
 * called). About nthreads * (Sq*d + 5*64*d + 2*64*64) floats: nothing grows as Sq*Sk. */
size_t attn_workspace_floats_cpu(const AttnDims *dm, int nthreads);

/* o: [B,Sq,NH,d] (overwritten), lse: [B,NH,Sq] (overwritten). Sk = 0 gives the empty
 * partial o = 0, lse = -inf. Deterministic: the same inputs give the same bits. */
void attn_fwd_cpu(float *o, float *lse,
                  const float *q, const float *k, const float *v,
                  const AttnDims *dm, float *ws);

/* Accumulates (+=) into dq [B,Sq,NH,d], dk, dv [B,Sk,NH,d] (strides as q, k, v).
 * o and lse are the forward results over the full key set of which k, v may be a chunk.
 * Rows with lse = -inf get nothing. Bitwise reproducible for a given thread count; thread
 * counts differ only by rounding (in how dq's partial sums are grouped). */
void attn_bwd_cpu(float *dq, float *dk, float *dv,
                  const float *dout, const float *q, const float *k, const float *v,
                  const float *o, const float *lse,
                  const AttnDims *dm, float *ws);

/* The instruction-set build the CPU kernels run: "avx512", "avx2" or "generic", the best
 * this CPU and build support, chosen once per process from the CPU's flags
 * (LVIT_ATTN_ISA=avx2 or generic in the environment picks a lower one, to compare them). */
const char *attn_isa_cpu(void);
/* Switches to the named build (tests, benchmarks); 0, or -1 when this CPU or build lacks it.
 * Not while a kernel runs. */
int attn_set_isa_cpu(const char *name);

/* Merge a partial result (o2, lse2) over another key set into (o, lse), in place:
 * lse = log(e^lse + e^lse2), o = e^(lse_old - lse) o + e^(lse2 - lse) o2.
 * o, o2: [B,Sq,NH,d] with o_stride; lse, lse2: [B,NH,Sq]. lse = -inf means "empty". */
void attn_merge_cpu(float *o, float *lse, const float *o2, const float *lse2,
                    const AttnDims *dm);

#endif
