/* CUDA kernels, first part (see ops_cuda.h): memory, elementwise ops, AdamW, LayerNorm, the sum
 * of squares. fp32 throughout (the checking mode of the GPU backend); deterministic: no atomics,
 * every reduction in a fixed order. */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

static const int THREADS = 256;
static unsigned blocks_for(int64_t n) { return cuda_blocks(n, THREADS); }

extern "C" int cuda_device_count(char *err, size_t errlen) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        if (err && errlen)
            snprintf(err, errlen, "no CUDA device (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
        cudaGetLastError(); /* clear it */
        return 0;
    }
    return n;
}

extern "C" void cuda_device_name(char *buf, size_t n) {
    int d = 0;
    cudaDeviceProp p;
    if (cudaGetDevice(&d) != cudaSuccess || cudaGetDeviceProperties(&p, d) != cudaSuccess) {
        snprintf(buf, n, "unknown CUDA device");
        return;
    }
    snprintf(buf, n, "%s, compute %d.%d, %.0f GiB", p.name, p.major, p.minor, p.totalGlobalMem / 1073741824.0);
}

extern "C" void cuda_set_device(int i) {
    int n = 0;
    CU(cudaGetDeviceCount(&n));
    if (n > 0) CU(cudaSetDevice(i % n));
}

extern "C" double cuda_mem_used(void) {
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) return 0;
    return (double)(tot - fr);
}

extern "C" void *cuda_alloc(size_t bytes) {
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 64);
    if (e != cudaSuccess)
        lvit_die_at(__FILE__, __LINE__, 1, "out of GPU memory allocating %zu bytes (%.1f MiB): %s", bytes,
                    bytes / 1048576.0, cudaGetErrorString(e));
    CU(cudaMemset(p, 0, bytes ? bytes : 64));
    return p;
}
extern "C" void cuda_free(void *p) {
    if (p) CU(cudaFree(p));
}
extern "C" void cuda_zero(float *x, int64_t n) {
    if (n > 0) CU(cudaMemsetAsync(x, 0, (size_t)n * sizeof(float)));
}
extern "C" void cuda_copy(float *dst, const float *src, int64_t n) {
    if (n > 0) CU(cudaMemcpyAsync(dst, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToDevice));
}
extern "C" void cuda_upload(float *dst, const float *host, int64_t n) {
    if (n > 0) CU(cudaMemcpy(dst, host, (size_t)n * sizeof(float), cudaMemcpyHostToDevice));
}
extern "C" void cuda_download(float *host, const float *src, int64_t n) {
    if (n > 0) CU(cudaMemcpy(host, src, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost));
}
extern "C" void cuda_sync(void) {
    CU(cudaDeviceSynchronize());
}

/* ---------------------------------------------------------------- elementwise */


__device__ __forceinline__ float phi(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
__device__ __forceinline__ float pdf(float x) { return 0.39894228040143268f * expf(-0.5f * x * x); }

__global__ void k_gelu_fwd(float *out, const float *in, int64_t n) {
    GRID_STRIDE(i, n) {
        float x = in[i];
        out[i] = x * phi(x);
    }
}
__global__ void k_gelu_bwd(float *din, const float *dout, const float *in, int64_t n) {
    GRID_STRIDE(i, n) {
        float x = in[i];
        din[i] += dout[i] * (phi(x) + x * pdf(x));
    }
}
__global__ void k_add(float *y, const float *x, int64_t n) {
    GRID_STRIDE(i, n) y[i] += x[i];
}
__global__ void k_lerp(float *y, const float *x, float a, int64_t n) {
    GRID_STRIDE(i, n) y[i] += a * (x[i] - y[i]);
}
__global__ void k_scale(float *x, float s, int64_t n) {
    GRID_STRIDE(i, n) x[i] *= s;
}
__global__ void k_adamw(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1, float b2,
                        float eps, float decay, float bc1, float bc2) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

extern "C" void gelu_fwd_cuda(float *out, const float *in, int64_t n) {
    if (n <= 0) return;
    k_gelu_fwd<<<blocks_for(n), THREADS>>>(out, in, n);
    LAUNCHED();
}
extern "C" void gelu_bwd_cuda(float *din, const float *dout, const float *in, int64_t n) {
    if (n <= 0) return;
    k_gelu_bwd<<<blocks_for(n), THREADS>>>(din, dout, in, n);
    LAUNCHED();
}
extern "C" void add_inplace_cuda(float *y, const float *x, int64_t n) {
    if (n <= 0) return;
    k_add<<<blocks_for(n), THREADS>>>(y, x, n);
    LAUNCHED();
}
extern "C" void lerp_cuda(float *y, const float *x, float a, int64_t n) {
    if (n <= 0) return;
    k_lerp<<<blocks_for(n), THREADS>>>(y, x, a, n);
    LAUNCHED();
}
extern "C" void scale_cuda(float *x, float s, int64_t n) {
    if (n <= 0) return;
    k_scale<<<blocks_for(n), THREADS>>>(x, s, n);
    LAUNCHED();
}
extern "C" void adamw_cuda(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1, float b2,
                           float eps, float wd, float bc1, float bc2) {
    if (n <= 0) return;
    k_adamw<<<blocks_for(n), THREADS>>>(p, m, v, g, n, lr, b1, b2, eps, 1.0f - lr * wd, bc1, bc2);
    LAUNCHED();
}

/* ---------------------------------------------------------------- reductions */


enum { SUMSQ_BLOCKS = 256 };
__global__ void k_sumsq(double *part, const float *x, int64_t n) {
    double s = 0.0;
    GRID_STRIDE(i, n) s += (double)x[i] * (double)x[i];
    s = block_sum_d<THREADS>(s);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

extern "C" double sumsq_cuda(const float *x, int64_t n) {
    if (n <= 0) return 0.0;
    static double *dpart = NULL; /* one small buffer for the process */
    if (!dpart) CU(cudaMalloc(&dpart, SUMSQ_BLOCKS * sizeof(double)));
    k_sumsq<<<SUMSQ_BLOCKS, THREADS>>>(dpart, x, n);
    LAUNCHED();
    double part[SUMSQ_BLOCKS], s = 0.0;
    CU(cudaMemcpy(part, dpart, sizeof part, cudaMemcpyDeviceToHost));
    for (int i = 0; i < SUMSQ_BLOCKS; i++) s += part[i];
    return s;
}

/* LayerNorm: one block per row; two passes in double, like the CPU kernel */
__global__ void k_ln_fwd(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b,
                         int64_t C, float eps) {
    const float *x = in + blockIdx.x * C;
    float *o = out + blockIdx.x * C;
    __shared__ float s_mu, s_rs;
    double s = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    s = block_sum_d<THREADS>(s);
    if (threadIdx.x == 0) s_mu = (float)(s / (double)C);
    __syncthreads();
    float mu = s_mu;
    double s2 = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        double d = (double)(x[c] - mu);
        s2 += d * d;
    }
    s2 = block_sum_d<THREADS>(s2);
    if (threadIdx.x == 0) s_rs = (float)(1.0 / sqrt(s2 / (double)C + (double)eps));
    __syncthreads();
    float rs = s_rs;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) o[c] = (x[c] - mu) * rs * w[c] + b[c];
    if (threadIdx.x == 0) {
        if (mean) mean[blockIdx.x] = mu;
        if (rstd) rstd[blockIdx.x] = rs;
    }
}

__global__ void k_ln_bwd_din(float *din, const float *dout, const float *in, const float *w, const float *mean,
                             const float *rstd, int64_t C) {
    const int64_t r = blockIdx.x;
    const float *x = in + r * C, *dy = dout + r * C;
    float *dx = din + r * C;
    const float mu = mean[r], rs = rstd[r];
    __shared__ float s_a, s_b;
    double sa = 0.0, sb = 0.0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float g = dy[c] * w[c];
        sa += g;
        sb += (double)(g * ((x[c] - mu) * rs));
    }
    sa = block_sum_d<THREADS>(sa);
    sb = block_sum_d<THREADS>(sb);
    if (threadIdx.x == 0) s_a = (float)(sa / (double)C), s_b = (float)(sb / (double)C);
    __syncthreads();
    const float ma = s_a, mb = s_b;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        float xh = (x[c] - mu) * rs;
        dx[c] += rs * (dy[c] * w[c] - ma - xh * mb);
    }
}

/* one thread per column, rows in order: deterministic and coalesced across the threads */
__global__ void k_ln_bwd_dwdb(float *dw, float *db, const float *dout, const float *in, const float *mean,
                              const float *rstd, int64_t M, int64_t C) {
    int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (c >= C) return;
    double aw = 0.0, ab = 0.0;
    for (int64_t r = 0; r < M; r++) {
        float dy = dout[r * C + c];
        aw += (double)(dy * ((in[r * C + c] - mean[r]) * rstd[r]));
        ab += dy;
    }
    if (dw) dw[c] += (float)aw;
    if (db) db[c] += (float)ab;
}

extern "C" void layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *in, const float *w,
                                   const float *b, int64_t M, int64_t C, float eps) {
    if (M <= 0 || C <= 0) return;
    CU(M <= 2147483647 ? cudaSuccess : cudaErrorInvalidValue);
    k_ln_fwd<<<(unsigned)M, THREADS>>>(out, mean, rstd, in, w, b, C, eps);
    LAUNCHED();
}

extern "C" void layernorm_bwd_cuda(float *din, float *dw, float *db, const float *dout, const float *in,
                                   const float *w, const float *mean, const float *rstd, int64_t M, int64_t C) {
    if (M <= 0 || C <= 0) return;
    if (din) {
        k_ln_bwd_din<<<(unsigned)M, THREADS>>>(din, dout, in, w, mean, rstd, C);
        LAUNCHED();
    }
    if (dw || db) {
        k_ln_bwd_dwdb<<<(unsigned)((C + THREADS - 1) / THREADS), THREADS>>>(dw, db, dout, in, mean, rstd, M, C);
        LAUNCHED();
    }
}
