/* Flash attention on the GPU, fp32 (the checking mode of the CUDA backend): exactly the contracts of
 * attn_fwd_cpu, attn_bwd_cpu and attn_merge_cpu in attention/attention.h (strided token layout,
 * lse [B,NH,Sq] in natural log, Sk = 0 gives o = 0 and lse = -inf, backward accumulates, rows with
 * lse = -inf get nothing). No SxS buffer, no atomics, every sum in a fixed order: the same inputs
 * give the same bits.
 *
 * FlashAttention-2 structure. Every kernel is a loop of 32-token "column" tiles streaming past a
 * block of "row" tokens that stays in shared memory:
 *   forward      rows: NW*R queries        columns: key tiles    (online softmax, o in registers)
 *   backward dq  rows: NW*R queries        columns: key tiles    (dq in registers)
 *   backward dkv rows: NW*R keys           columns: query tiles  (dk, dv in registers)
 * (plus a small kernel for Delta_i = rowsum(dO_i * O_i) before the two backward kernels, which
 * recompute the scores each: twice the flops of an atomics-based backward, but deterministic).
 * Warp w owns R rows; lane j owns column token j of the current tile for the scores, and channels
 * c = lane + 32m of its rows' accumulators. So every row reduction (max, sum) is a warp butterfly
 * and every output element has exactly one owner.
 *
 * Shared memory layouts:
 *   rows    [NW*R][D] row-major: read as float4 broadcasts (all lanes the same address).
 *   columns [D][32] transposed, XOR-swizzled: element (channel c, token t) at c*32 + (t ^ (c & 31)).
 *     Both access patterns are conflict-free: lanes over t at fixed c (scores) hit banks t ^ (c&31),
 *     lanes over c = lane + 32m at fixed t (accumulation) hit banks t ^ lane.
 * All arithmetic goes through two tile primitives, tile_dot (scores) and tile_acc (P V, dS K, ...).
 * A bf16 tensor-core variant keeps the kernels' bookkeeping (tiling, masking, online softmax,
 * Delta, stores) and replaces the two primitives and the shared-memory layouts with mma fragments
 * (ldmatrix-friendly bf16 tiles, fp32 accumulators).
 *
 * Head sizes: d = 32, 64, 128 and 256 (template instances, configurations in launch_*); any other d
 * dies with a message naming the supported ones. Shared memory stays within 96 KiB per block (the
 * 99 KiB opt-in limit of the smaller GPUs), set with cudaFuncSetAttribute once per instance. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>
#include "attention/attention.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

#define FULL_MASK 0xffffffffu
static constexpr double LOG2E = 1.4426950408889634, LN2 = 0.6931471805599453;
static constexpr size_t SMEM_MAX = 99 * 1024; /* opt-in limit of sm_86/sm_89 (H100: 227 KiB) */

/* ---------------------------------------------------------------- tile primitives */

__device__ __forceinline__ int swz(int c, int t) { return c * 32 + (t ^ (c & 31)); }

/* Butterfly reductions: at every step lanes i and i^o combine the same two values (a+b = b+a
 * exactly), so all 32 lanes end with the same bits. */
__device__ __forceinline__ float warp_max(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x = fmaxf(x, __shfl_xor_sync(FULL_MASK, x, o));
    return x;
}
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL_MASK, x, o);
    return x;
}
__device__ __forceinline__ double warp_sum_d(double x) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(FULL_MASK, x, o);
    return x;
}

/* dst [nrows][D] = mul * token rows tok0.. of one head (src: token 0 of the head, token stride
 * `stride`); tokens >= S are zero. */
/* Head h of batch b in a token-major tensor of S tokens, `stride` floats apart: its first value
 * (the head's D channels start at h * D in each token). */
__device__ __forceinline__ const float *head_of(const float *x, int b, int h, int64_t S, int64_t stride, int D) {
    return x + (int64_t)b * S * stride + (int64_t)h * D;
}

template <int D, int NT>
__device__ __forceinline__ void load_rows(float *dst, int nrows, const float *src, int64_t stride, int64_t tok0,
                                          int64_t S, float mul) {
    for (int e = threadIdx.x; e < nrows * D; e += NT) {
        const int r = e / D, c = e % D;
        const int64_t t = tok0 + r;
        dst[e] = t < S ? src[t * stride + c] * mul : 0.0f;
    }
}

/* dst [D][32] swizzled = the 32 tokens tok0.. of one head, transposed; tokens >= S are zero.
 * A warp's 32 consecutive e share t and cover c & 31 = 0..31: coalesced reads, conflict-free
 * stores. */
template <int D, int NT>
__device__ __forceinline__ void load_cols(float *dst, const float *src, int64_t stride, int64_t tok0, int64_t S) {
    for (int e = threadIdx.x; e < 32 * D; e += NT) {
        const int t = e / D, c = e % D;
        const int64_t tok = tok0 + t;
        dst[swz(c, t)] = tok < S ? src[tok * stride + c] : 0.0f;
    }
}

/* acc[r] = sum_c rows[r][c] * cols[c][lane], c in increasing order (fused multiply-adds).
 * rows: this warp's [R][D]; cols: [D][32] swizzled. */
template <int D, int R>
__device__ __forceinline__ void tile_dot(float (&acc)[R], const float *rows, const float *cols, int lane) {
#pragma unroll
    for (int r = 0; r < R; r++) acc[r] = 0.0f;
#pragma unroll 2
    for (int c = 0; c < D; c += 4) {
        const float k0 = cols[swz(c, lane)], k1 = cols[swz(c + 1, lane)];
        const float k2 = cols[swz(c + 2, lane)], k3 = cols[swz(c + 3, lane)];
#pragma unroll
        for (int r = 0; r < R; r++) {
            const float4 x = *reinterpret_cast<const float4 *>(rows + r * D + c);
            acc[r] = fmaf(x.x, k0, acc[r]);
            acc[r] = fmaf(x.y, k1, acc[r]);
            acc[r] = fmaf(x.z, k2, acc[r]);
            acc[r] = fmaf(x.w, k3, acc[r]);
        }
    }
}

/* acc[r][m] += sum_{j<32} w_j[r] * cols[lane + 32m][j], j in increasing order, where w_j[r] is
 * w[r] of lane j (broadcast by shuffles). */
template <int D, int R>
__device__ __forceinline__ void tile_acc(float (&acc)[R][D / 32], const float (&w)[R], const float *cols,
                                         int lane) {
#pragma unroll 4
    for (int j = 0; j < 32; j++) {
        float wj[R];
#pragma unroll
        for (int r = 0; r < R; r++) wj[r] = __shfl_sync(FULL_MASK, w[r], j);
#pragma unroll
        for (int m = 0; m < D / 32; m++) {
            const float x = cols[swz(lane + 32 * m, j)];
#pragma unroll
            for (int r = 0; r < R; r++) acc[r][m] = fmaf(wj[r], x, acc[r][m]);
        }
    }
}

/* -scale-free exponent offset of a row: P = 2^(s*cs - lse*log2 e); -inf for an empty row (P = 0),
 * rounded as the CPU kernel rounds it (double product, then float). */
__device__ __forceinline__ float neg_lse2(float lse) {
    return lse == -INFINITY ? -INFINITY : -(float)((double)lse * LOG2E);
}

/* ---------------------------------------------------------------- forward */

/* One block: BQ = NW*R queries of head (b, h) = blockIdx.y against all Sk keys.
 * smem: Qs [BQ][D] (queries times cs = scale*log2 e: scores come out in log2 units), Kt, Vt
 * [D][32] swizzled. */
template <int D, int NW, int R>
__global__ void __launch_bounds__(NW * 32)
    k_attn_fwd(float *o, float *lse, const float *q, const float *k, const float *v, AttnDims dm, float cs) {
    constexpr int NT = NW * 32, BQ = NW * R;
    extern __shared__ float4 smem4[];
    float *Qs = reinterpret_cast<float *>(smem4); /* [BQ][D] */
    float *Kt = Qs + BQ * D;                       /* [D][32] */
    float *Vt = Kt + D * 32;                       /* [D][32] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.y / dm.NH, h = blockIdx.y % dm.NH;
    const int64_t Sq = dm.Sq, Sk = dm.Sk, q0 = (int64_t)blockIdx.x * BQ;
    const float *qh = head_of(q, b, h, Sq, dm.q_stride, D); /* [Sq] tokens, stride q_stride */
    const float *kh = head_of(k, b, h, Sk, dm.k_stride, D); /* [Sk] tokens, stride k_stride */
    const float *vh = head_of(v, b, h, Sk, dm.v_stride, D); /* [Sk] tokens, stride v_stride */
    load_rows<D, NT>(Qs, BQ, qh, dm.q_stride, q0, Sq, cs);
    const float *myQ = Qs + w * R * D; /* [R][D] */

    float m[R], l[R], acc[R][D / 32];
#pragma unroll
    for (int r = 0; r < R; r++) {
        m[r] = -INFINITY;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < D / 32; c++) acc[r][c] = 0.0f;
    }
    for (int64_t k0 = 0; k0 < Sk; k0 += 32) {
        __syncthreads(); /* Qs written (first tile); the previous Kt, Vt no longer read */
        load_cols<D, NT>(Kt, kh, dm.k_stride, k0, Sk);
        load_cols<D, NT>(Vt, vh, dm.v_stride, k0, Sk);
        __syncthreads();
        float s[R];
        tile_dot<D, R>(s, myQ, Kt, lane);
        const bool valid = k0 + lane < Sk;
#pragma unroll
        for (int r = 0; r < R; r++) {
            const float sr = valid ? s[r] : -INFINITY;
            /* the first tile has a valid key, so mn is finite and alpha = 2^-inf = 0 there */
            const float mn = fmaxf(m[r], warp_max(sr));
            const float alpha = exp2f(m[r] - mn);
            const float p = exp2f(sr - mn);
            l[r] = l[r] * alpha + warp_sum(p);
            m[r] = mn;
            s[r] = p;
#pragma unroll
            for (int c = 0; c < D / 32; c++) acc[r][c] *= alpha;
        }
        tile_acc<D, R>(acc, s, Vt, lane); /* o += P V */
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t i = q0 + w * R + r;
        if (i >= Sq) continue;
        const float inv = 1.0f / l[r];
        float *orow = o + ((int64_t)b * Sq + i) * dm.o_stride + (int64_t)h * D; /* [D] */
#pragma unroll
        for (int c = 0; c < D / 32; c++) orow[lane + 32 * c] = acc[r][c] * inv;
        if (lane == 0) lse[((int64_t)b * dm.NH + h) * Sq + i] = (float)((double)m[r] * LN2 + log((double)l[r]));
    }
}

/* Sk = 0: the empty partial (o rows zero, lse = -inf); padding between tokens untouched. */
__global__ void k_attn_empty(float *o, float *lse, AttnDims dm) {
    const int64_t D = (int64_t)dm.NH * dm.d, n = (int64_t)dm.B * dm.Sq * D;
    GRID_STRIDE(i, n) o[(i / D) * dm.o_stride + i % D] = 0.0f;
    GRID_STRIDE(i, (int64_t)dm.B * dm.NH * dm.Sq) lse[i] = -INFINITY;
}

/* ---------------------------------------------------------------- backward */

/* delta [B,NH,Sq] = rowsum(dO * O) in double, one warp per row (lse order); 0 where lse = -inf so
 * that such rows' dS = P (dP - Delta) = 0 exactly. */
__global__ void k_attn_delta(float *delta, const float *dout, const float *o, const float *lse, AttnDims dm) {
    const int lane = threadIdx.x & 31;
    const int64_t rows = (int64_t)dm.B * dm.NH * dm.Sq;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t i = blockIdx.x * (int64_t)(blockDim.x >> 5) + (threadIdx.x >> 5); i < rows; i += warps) {
        const int64_t s = i % dm.Sq, bh = i / dm.Sq, b = bh / dm.NH, h = bh % dm.NH;
        const int64_t at = (b * dm.Sq + s) * dm.o_stride + h * dm.d;
        double acc = 0.0;
        for (int c = lane; c < dm.d; c += 32) acc += (double)dout[at + c] * o[at + c];
        acc = warp_sum_d(acc);
        if (lane == 0) delta[i] = lse[i] == -INFINITY ? 0.0f : (float)acc;
    }
}

/* dk, dv += the gradient of BK = NW*R keys of head (b, h) = blockIdx.y, over all queries.
 * smem: Ks, Vs [BK][D] (rows), Qt, Gt [D][32] swizzled (query and dout tiles).
 *   S = K Q^T (unscaled), P = 2^(S*cs - lse*log2 e), dP = V dO^T, dS = P (dP - Delta),
 *   dV += P dO, dK += dS Q, dk = scale * dK. */
template <int D, int NW, int R>
__global__ void __launch_bounds__(NW * 32)
    k_attn_bwd_kv(float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                  const float *lse, const float *delta, AttnDims dm, float cs) {
    constexpr int NT = NW * 32, BK = NW * R;
    extern __shared__ float4 smem4[];
    float *Ks = reinterpret_cast<float *>(smem4); /* [BK][D] */
    float *Vs = Ks + BK * D;                       /* [BK][D] */
    float *Qt = Vs + BK * D;                       /* [D][32] */
    float *Gt = Qt + D * 32;                       /* [D][32] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.y / dm.NH, h = blockIdx.y % dm.NH;
    const int64_t Sq = dm.Sq, Sk = dm.Sk, k0 = (int64_t)blockIdx.x * BK;
    const float *qh = head_of(q, b, h, Sq, dm.q_stride, D), *gh = head_of(dout, b, h, Sq, dm.o_stride, D); /* [Sq] */
    const float *kh = head_of(k, b, h, Sk, dm.k_stride, D), *vh = head_of(v, b, h, Sk, dm.v_stride, D);    /* [Sk] */
    const float *lrow = lse + (int64_t)blockIdx.y * Sq;                      /* [Sq] */
    const float *drow = delta + (int64_t)blockIdx.y * Sq;                    /* [Sq] */
    load_rows<D, NT>(Ks, BK, kh, dm.k_stride, k0, Sk, 1.0f);
    load_rows<D, NT>(Vs, BK, vh, dm.v_stride, k0, Sk, 1.0f);
    const float *myK = Ks + w * R * D, *myV = Vs + w * R * D; /* [R][D] each */

    float dka[R][D / 32], dva[R][D / 32];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int c = 0; c < D / 32; c++) dka[r][c] = dva[r][c] = 0.0f;
    for (int64_t i0 = 0; i0 < Sq; i0 += 32) {
        __syncthreads(); /* Ks, Vs written (first tile); the previous Qt, Gt no longer read */
        load_cols<D, NT>(Qt, qh, dm.q_stride, i0, Sq);
        load_cols<D, NT>(Gt, gh, dm.o_stride, i0, Sq);
        const int64_t i = i0 + lane; /* this lane's query */
        const bool valid = i < Sq;
        const float nl = valid ? neg_lse2(lrow[i]) : -INFINITY, de = valid ? drow[i] : 0.0f;
        __syncthreads();
        float p[R], ds[R];
        tile_dot<D, R>(p, myK, Qt, lane);  /* S */
        tile_dot<D, R>(ds, myV, Gt, lane); /* dP */
#pragma unroll
        for (int r = 0; r < R; r++) {
            p[r] = valid ? exp2f(fmaf(p[r], cs, nl)) : 0.0f;
            ds[r] = p[r] * (ds[r] - de);
        }
        tile_acc<D, R>(dva, p, Gt, lane);  /* dV += P dO */
        tile_acc<D, R>(dka, ds, Qt, lane); /* dK += dS Q */
    }
    const float scale = dm.scale;
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t j = k0 + w * R + r;
        if (j >= Sk) continue;
        float *dkrow = dk ? dk + ((int64_t)b * Sk + j) * dm.k_stride + (int64_t)h * D : NULL; /* [D] */
        float *dvrow = dv ? dv + ((int64_t)b * Sk + j) * dm.v_stride + (int64_t)h * D : NULL; /* [D] */
#pragma unroll
        for (int c = 0; c < D / 32; c++) {
            if (dkrow) dkrow[lane + 32 * c] += scale * dka[r][c];
            if (dvrow) dvrow[lane + 32 * c] += dva[r][c];
        }
    }
}

/* dq += the gradient of BQ = NW*R queries of head (b, h) = blockIdx.y, over all keys.
 * smem: Qs, Gs [BQ][D] (query and dout rows), Kt, Vt [D][32] swizzled.
 *   dQ += dS K over the key tiles, dq = scale * dQ. */
template <int D, int NW, int R>
__global__ void __launch_bounds__(NW * 32)
    k_attn_bwd_q(float *dq, const float *dout, const float *q, const float *k, const float *v, const float *lse,
                 const float *delta, AttnDims dm, float cs) {
    constexpr int NT = NW * 32, BQ = NW * R;
    extern __shared__ float4 smem4[];
    float *Qs = reinterpret_cast<float *>(smem4); /* [BQ][D] */
    float *Gs = Qs + BQ * D;                       /* [BQ][D] */
    float *Kt = Gs + BQ * D;                       /* [D][32] */
    float *Vt = Kt + D * 32;                       /* [D][32] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int b = blockIdx.y / dm.NH, h = blockIdx.y % dm.NH;
    const int64_t Sq = dm.Sq, Sk = dm.Sk, q0 = (int64_t)blockIdx.x * BQ;
    const float *qh = head_of(q, b, h, Sq, dm.q_stride, D), *gh = head_of(dout, b, h, Sq, dm.o_stride, D); /* [Sq] */
    const float *kh = head_of(k, b, h, Sk, dm.k_stride, D), *vh = head_of(v, b, h, Sk, dm.v_stride, D);    /* [Sk] */
    load_rows<D, NT>(Qs, BQ, qh, dm.q_stride, q0, Sq, 1.0f);
    load_rows<D, NT>(Gs, BQ, gh, dm.o_stride, q0, Sq, 1.0f);
    const float *myQ = Qs + w * R * D, *myG = Gs + w * R * D; /* [R][D] each */

    float nl[R], de[R], acc[R][D / 32];
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t i = q0 + w * R + r;
        const float *lrow = lse + (int64_t)blockIdx.y * Sq, *drow = delta + (int64_t)blockIdx.y * Sq; /* [Sq] */
        nl[r] = i < Sq ? neg_lse2(lrow[i]) : -INFINITY; /* rows past Sq: P = 0 */
        de[r] = i < Sq ? drow[i] : 0.0f;
#pragma unroll
        for (int c = 0; c < D / 32; c++) acc[r][c] = 0.0f;
    }
    for (int64_t k0 = 0; k0 < Sk; k0 += 32) {
        __syncthreads(); /* Qs, Gs written (first tile); the previous Kt, Vt no longer read */
        load_cols<D, NT>(Kt, kh, dm.k_stride, k0, Sk);
        load_cols<D, NT>(Vt, vh, dm.v_stride, k0, Sk);
        __syncthreads();
        float p[R], ds[R];
        tile_dot<D, R>(p, myQ, Kt, lane);  /* S */
        tile_dot<D, R>(ds, myG, Vt, lane); /* dP */
        const bool valid = k0 + lane < Sk;
#pragma unroll
        for (int r = 0; r < R; r++) {
            p[r] = valid ? exp2f(fmaf(p[r], cs, nl[r])) : 0.0f;
            ds[r] = p[r] * (ds[r] - de[r]);
        }
        tile_acc<D, R>(acc, ds, Kt, lane); /* dQ += dS K */
    }
    const float scale = dm.scale;
#pragma unroll
    for (int r = 0; r < R; r++) {
        const int64_t i = q0 + w * R + r;
        if (i >= Sq) continue;
        float *dqrow = dq + ((int64_t)b * Sq + i) * dm.q_stride + (int64_t)h * D; /* [D] */
#pragma unroll
        for (int c = 0; c < D / 32; c++) dqrow[lane + 32 * c] += scale * acc[r][c];
    }
}

/* ---------------------------------------------------------------- merge */

/* One warp per row (lse order): every lane reads the row's two lse before lane 0 rewrites it.
 * Same formula and rounding as attn_merge_cpu (double weights; separate multiply and add, as the
 * C11 build computes w1*o + w2*o2). */
__global__ void k_attn_merge(float *o, float *lse, const float *o2, const float *lse2, AttnDims dm) {
    const int lane = threadIdx.x & 31;
    const int64_t rows = (int64_t)dm.B * dm.NH * dm.Sq;
    const int64_t warps = (int64_t)gridDim.x * (blockDim.x >> 5);
    for (int64_t i = blockIdx.x * (int64_t)(blockDim.x >> 5) + (threadIdx.x >> 5); i < rows; i += warps) {
        const float a = lse[i], c = lse2[i];
        if (c == -INFINITY) continue; /* nothing to merge: the whole warp skips */
        const int64_t s = i % dm.Sq, bh = i / dm.Sq, b = bh / dm.NH, h = bh % dm.NH;
        const int64_t at = (b * dm.Sq + s) * dm.o_stride + h * dm.d;
        float out_lse;
        if (a == -INFINITY) {
            for (int e = lane; e < dm.d; e += 32) o[at + e] = o2[at + e];
            out_lse = c;
        } else {
            const double hi = a > c ? a : c, lo = a > c ? c : a;
            const double L = hi + log1p(exp(lo - hi));
            const float w1 = (float)exp(a - L), w2 = (float)exp(c - L);
            for (int e = lane; e < dm.d; e += 32) o[at + e] = __fadd_rn(__fmul_rn(w1, o[at + e]), __fmul_rn(w2, o2[at + e]));
            out_lse = (float)L;
        }
        __syncwarp();
        if (lane == 0) lse[i] = out_lse;
    }
}

/* ---------------------------------------------------------------- launchers */

static void check_dims(const AttnDims *dm, const char *what) {
    if ((int64_t)dm->B * dm->NH > 65535)
        lvit_die_at(__FILE__, __LINE__, 1, "%s: B*NH = %lld heads exceed the grid's 65535 (split the batch)", what,
                    (long long)dm->B * dm->NH);
}

[[noreturn]] static void bad_head_size(const char *what, int d) {
    lvit_die_at(__FILE__, __LINE__, 1,
                "%s: head size d=%d is not supported by the CUDA flash attention (d = 32, 64, 128 or 256)", what, d);
}

/* cudaFuncSetAttribute once per kernel instance (above 48 KiB dynamic shared memory needs it). */
template <typename K>
static void set_smem(K kernel, size_t bytes, bool *done) {
    if (*done) return;
    CU(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
    *done = true;
}

template <int D, int NW, int R>
static void launch_fwd(float *o, float *lse, const float *q, const float *k, const float *v, const AttnDims *dm,
                       float cs) {
    constexpr int BQ = NW * R;
    constexpr size_t smem = sizeof(float) * ((size_t)BQ * D + 2 * 32 * D);
    static_assert(smem <= SMEM_MAX, "forward tile too large");
    static bool done = false;
    set_smem(k_attn_fwd<D, NW, R>, smem, &done);
    const dim3 grid((unsigned)((dm->Sq + BQ - 1) / BQ), (unsigned)(dm->B * dm->NH));
    k_attn_fwd<D, NW, R><<<grid, NW * 32, smem>>>(o, lse, q, k, v, *dm, cs);
    LAUNCHED();
}

template <int D, int NW, int R>
static void launch_bwd_kv(float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                          const float *lse, const float *delta, const AttnDims *dm, float cs) {
    constexpr int BK = NW * R;
    constexpr size_t smem = sizeof(float) * (2 * (size_t)BK * D + 2 * 32 * D);
    static_assert(smem <= SMEM_MAX, "dk/dv tile too large");
    static bool done = false;
    set_smem(k_attn_bwd_kv<D, NW, R>, smem, &done);
    const dim3 grid((unsigned)((dm->Sk + BK - 1) / BK), (unsigned)(dm->B * dm->NH));
    k_attn_bwd_kv<D, NW, R><<<grid, NW * 32, smem>>>(dk, dv, dout, q, k, v, lse, delta, *dm, cs);
    LAUNCHED();
}

template <int D, int NW, int R>
static void launch_bwd_q(float *dq, const float *dout, const float *q, const float *k, const float *v,
                         const float *lse, const float *delta, const AttnDims *dm, float cs) {
    constexpr int BQ = NW * R;
    constexpr size_t smem = sizeof(float) * (2 * (size_t)BQ * D + 2 * 32 * D);
    static_assert(smem <= SMEM_MAX, "dq tile too large");
    static bool done = false;
    set_smem(k_attn_bwd_q<D, NW, R>, smem, &done);
    const dim3 grid((unsigned)((dm->Sq + BQ - 1) / BQ), (unsigned)(dm->B * dm->NH));
    k_attn_bwd_q<D, NW, R><<<grid, NW * 32, smem>>>(dq, dout, q, k, v, lse, delta, *dm, cs);
    LAUNCHED();
}

extern "C" size_t attn_ws_floats_cuda(const AttnDims *dm, int nthreads) {
    (void)nthreads;
    return (size_t)((int64_t)dm->B * dm->NH * (dm->Sq > 0 ? dm->Sq : 0)); /* delta [B,NH,Sq] */
}

/* the CPU kernels' cs = (float)(scale * log2 e): same rounding, same scores */
static float log2_scale(const AttnDims *dm) { return (float)(dm->scale * LOG2E); }

/* (NW warps, R rows per warp) per head size: 256 threads and 64-token row blocks up to d = 128,
 * shared memory 16/32/64 KiB (forward, d = 32/64/128) and 24/48/96 KiB (each backward kernel);
 * at d = 256 128 threads and row blocks of 32 (forward) and 16 (backward) tokens, 96 KiB. */
extern "C" void attn_fwd_cuda(float *o, float *lse, const float *q, const float *k, const float *v,
                              const AttnDims *dm, float *ws) {
    (void)ws;
    if (dm->B <= 0 || dm->NH <= 0 || dm->d <= 0 || dm->Sq <= 0) return;
    check_dims(dm, "attn_fwd_cuda");
    if (dm->Sk <= 0) {
        k_attn_empty<<<cuda_blocks((int64_t)dm->B * dm->Sq * dm->NH * dm->d, 256), 256>>>(o, lse, *dm);
        LAUNCHED();
        return;
    }
    const float cs = log2_scale(dm);
    switch (dm->d) {
    case 32: launch_fwd<32, 8, 8>(o, lse, q, k, v, dm, cs); break;
    case 64: launch_fwd<64, 8, 8>(o, lse, q, k, v, dm, cs); break;
    case 128: launch_fwd<128, 8, 8>(o, lse, q, k, v, dm, cs); break;
    case 256: launch_fwd<256, 4, 8>(o, lse, q, k, v, dm, cs); break;
    default: bad_head_size("attn_fwd_cuda", dm->d);
    }
}

extern "C" void attn_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                              const float *v, const float *o, const float *lse, const AttnDims *dm, float *ws) {
    if (dm->B <= 0 || dm->NH <= 0 || dm->d <= 0 || dm->Sq <= 0 || dm->Sk <= 0) return;
    if (!dq && !dk && !dv) return;
    check_dims(dm, "attn_bwd_cuda");
    if (dm->d != 32 && dm->d != 64 && dm->d != 128 && dm->d != 256) bad_head_size("attn_bwd_cuda", dm->d);
    if (!ws) lvit_die_at(__FILE__, __LINE__, 1, "attn_bwd_cuda: no workspace (attn_ws_floats_cuda floats needed)");
    float *delta = ws; /* [B,NH,Sq] */
    const int64_t rows = (int64_t)dm->B * dm->NH * dm->Sq;
    k_attn_delta<<<cuda_blocks(rows, 8), 256>>>(delta, dout, o, lse, *dm); /* 8 rows (warps) per block */
    LAUNCHED();
    const float cs = log2_scale(dm);
    if (dk || dv) switch (dm->d) {
        case 32: launch_bwd_kv<32, 8, 8>(dk, dv, dout, q, k, v, lse, delta, dm, cs); break;
        case 64: launch_bwd_kv<64, 8, 8>(dk, dv, dout, q, k, v, lse, delta, dm, cs); break;
        case 128: launch_bwd_kv<128, 8, 8>(dk, dv, dout, q, k, v, lse, delta, dm, cs); break;
        case 256: launch_bwd_kv<256, 4, 4>(dk, dv, dout, q, k, v, lse, delta, dm, cs); break;
        }
    if (dq) switch (dm->d) {
        case 32: launch_bwd_q<32, 8, 8>(dq, dout, q, k, v, lse, delta, dm, cs); break;
        case 64: launch_bwd_q<64, 8, 8>(dq, dout, q, k, v, lse, delta, dm, cs); break;
        case 128: launch_bwd_q<128, 8, 8>(dq, dout, q, k, v, lse, delta, dm, cs); break;
        case 256: launch_bwd_q<256, 4, 4>(dq, dout, q, k, v, lse, delta, dm, cs); break;
        }
}

extern "C" void attn_merge_cuda(float *o, float *lse, const float *o2, const float *lse2, const AttnDims *dm) {
    const int64_t rows = (int64_t)dm->B * dm->NH * dm->Sq;
    if (rows <= 0 || dm->d <= 0) return;
    k_attn_merge<<<cuda_blocks(rows, 8), 256>>>(o, lse, o2, lse2, *dm);
    LAUNCHED();
}
