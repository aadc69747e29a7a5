/* CUDA kernels, third part (see ops_cuda.h): the one-query attention over the V variable tokens
 * of each location (ClimaX's variable aggregation). First version for correctness: one thread
 * per (location, head); dq, a sum over all locations, goes through per-location softmax
 * gradients kept in a scratch buffer and is reduced by one thread per element in a fixed order. */
#include <cuda_runtime.h>
#include <math.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

static const int THREADS = 128;
static unsigned blocks_for(int64_t n) { return cuda_blocks(n, THREADS); }

/* kv [B,V,L,2,D]: key of variable v at location (b,l), head h starts at kv_at(...) */
__device__ __forceinline__ int64_t kv_at(int64_t b, int64_t l, int v, int h, int64_t L, int V, int D, int hd) {
    return ((b * V + v) * L + l) * 2 * D + (int64_t)h * hd;
}

__global__ void k_var_attn_fwd(float *out, float *probs, const float *q, const float *kv, int64_t L, int V, int NH,
                               int D, float scale, int64_t n) {
    GRID_STRIDE(i, n) { /* i = loc * NH + h */
        const int h = (int)(i % NH), hd = D / NH;
        const int64_t loc = i / NH, b = loc / L, l = loc % L;
        const float *qh = q + h * hd;
        float *pr = probs + i * V, mx = -INFINITY, sum = 0.0f;
        for (int v = 0; v < V; v++) {
            const float *k = kv + kv_at(b, l, v, h, L, V, D, hd);
            float s = 0.0f;
            for (int c = 0; c < hd; c++) s += qh[c] * k[c];
            pr[v] = s * scale;
            mx = fmaxf(mx, pr[v]);
        }
        for (int v = 0; v < V; v++) {
            pr[v] = expf(pr[v] - mx);
            sum += pr[v];
        }
        const float inv = 1.0f / sum;
        for (int v = 0; v < V; v++) pr[v] *= inv;
        float *o = out + loc * D + h * hd;
        for (int c = 0; c < hd; c++) {
            float acc = 0.0f;
            for (int v = 0; v < V; v++) acc += pr[v] * kv[kv_at(b, l, v, h, L, V, D, hd) + D + c];
            o[c] = acc;
        }
    }
}

/* per (location, head): ds_v = p_v (dout.v_v - sum_u p_u dout.v_u) * scale into dsc [B*L,NH,V];
 * dk_v += ds_v q, dv_v += p_v dout (each (location, head) owns its slices: no races) */
__global__ void k_var_attn_bwd_kv(float *dkv, float *dsc, const float *dout, const float *probs, const float *q,
                                  const float *kv, int64_t L, int V, int NH, int D, float scale, int64_t n) {
    GRID_STRIDE(i, n) {
        const int h = (int)(i % NH), hd = D / NH;
        const int64_t loc = i / NH, b = loc / L, l = loc % L;
        const float *go = dout + loc * D + h * hd, *pr = probs + i * V, *qh = q + h * hd;
        float delta = 0.0f;
        for (int v = 0; v < V; v++) {
            const float *vv = kv + kv_at(b, l, v, h, L, V, D, hd) + D;
            float s = 0.0f;
            for (int c = 0; c < hd; c++) s += go[c] * vv[c];
            delta += pr[v] * s;
        }
        for (int v = 0; v < V; v++) {
            const int64_t at = kv_at(b, l, v, h, L, V, D, hd);
            float s = 0.0f;
            for (int c = 0; c < hd; c++) s += go[c] * kv[at + D + c];
            const float ds = pr[v] * (s - delta) * scale;
            dsc[i * V + v] = ds;
            if (dkv)
                for (int c = 0; c < hd; c++) {
                    dkv[at + c] += ds * qh[c];
                    dkv[at + D + c] += pr[v] * go[c];
                }
        }
    }
}

/* dq[h*hd + c] += sum over locations and variables of ds * k, in order */
__global__ void k_var_attn_bwd_q(float *dq, const float *dsc, const float *kv, int64_t nloc, int64_t L, int V, int NH,
                                 int D) {
    const int64_t j = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (j >= D) return;
    const int hd = D / NH, h = (int)(j / hd), c = (int)(j % hd);
    double acc = 0.0;
    for (int64_t loc = 0; loc < nloc; loc++) {
        const int64_t b = loc / L, l = loc % L;
        for (int v = 0; v < V; v++) acc += (double)(dsc[(loc * NH + h) * V + v] * kv[kv_at(b, l, v, h, L, V, D, hd) + c]);
    }
    dq[j] += (float)acc;
}

static void check_heads(int NH, int D) {
    if (!(NH > 0 && D % NH == 0)) lvit_die_at(__FILE__, __LINE__, 1, "var_attn: D=%d is not a multiple of NH=%d", D, NH);
}

extern "C" void var_attn_fwd_cuda(float *out, float *probs, const float *q, const float *kv, int B, int64_t L, int V,
                                  int NH, int D) {
    check_heads(NH, D);
    const int64_t n = (int64_t)B * L * NH;
    if (n <= 0 || V <= 0) return;
    k_var_attn_fwd<<<blocks_for(n), THREADS>>>(out, probs, q, kv, L, V, NH, D, 1.0f / sqrtf((float)(D / NH)), n);
    LAUNCHED();
}

extern "C" void var_attn_bwd_cuda(float *dq, float *dkv, const float *dout, const float *probs, const float *q,
                                  const float *kv, int B, int64_t L, int V, int NH, int D) {
    check_heads(NH, D);
    const int64_t n = (int64_t)B * L * NH;
    if ((!dq && !dkv) || n <= 0 || V <= 0) return;
    /* the softmax gradients of every (location, head, variable): kept for the process, grown
     * when a larger batch comes (the first step) */
    static float *dsc = NULL;
    static int64_t cap = 0;
    if (n * V > cap) {
        if (dsc) CU(cudaFree(dsc));
        CU(cudaMalloc(&dsc, sizeof(float) * (size_t)(n * V)));
        cap = n * V;
    }
    const float scale = 1.0f / sqrtf((float)(D / NH));
    k_var_attn_bwd_kv<<<blocks_for(n), THREADS>>>(dkv, dsc, dout, probs, q, kv, L, V, NH, D, scale, n);
    LAUNCHED();
    if (dq) {
        k_var_attn_bwd_q<<<(unsigned)((D + THREADS - 1) / THREADS), THREADS>>>(dq, dsc, kv, (int64_t)B * L, L, V, NH, D);
        LAUNCHED();
    }
}
