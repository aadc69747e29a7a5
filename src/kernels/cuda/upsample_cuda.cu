/* CUDA kernels of the Reslim downscaling head (see ops_cuda.h): the 3x3 convolution as a direct
 * convolution, pixel shuffle and the total-variation regularizer fused with its gradient. The
 * contracts are the kernel table's (kernels/kernels.h). Deterministic: no atomics; the weight,
 * bias and loss sums run in a fixed order (per-thread strides, then a fixed reduction tree). */
#include <cuda_runtime.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

static const int THREADS = 256;
static unsigned blocks_for(int64_t n) { return cuda_blocks(n, THREADS); }


/* ---------------------------------------------------------------- 3x3 convolution */

/* out [B,Cout,H,W]: one thread per output element, input channels then taps in order */
__global__ void k_conv3_fwd(float *out, const float *in, const float *w, const float *bias, int64_t Cin,
                            int64_t Cout, int64_t H, int64_t W, int64_t n) {
    GRID_STRIDE(i, n) {
        const int64_t x = i % W, r = i / W, y = r % H, bc = r / H, co = bc % Cout, b = bc / Cout;
        const float *img = in + b * Cin * H * W;
        const float *wk = w + co * Cin * 9;
        float acc = 0.0f;
        for (int64_t ci = 0; ci < Cin; ci++)
            for (int kh = 0; kh < 3; kh++) {
                const int64_t ih = y + kh - 1;
                if (ih < 0 || ih >= H) continue;
                for (int kw = 0; kw < 3; kw++) {
                    const int64_t iw = x + kw - 1;
                    if (iw < 0 || iw >= W) continue;
                    acc += wk[ci * 9 + kh * 3 + kw] * img[(ci * H + ih) * W + iw];
                }
            }
        out[i] = (bias ? bias[co] : 0.0f) + acc;
    }
}

/* din [B,Cin,H,W] +=: one thread per input element, the outputs it feeds in order */
__global__ void k_conv3_din(float *din, const float *dout, const float *w, int64_t Cin, int64_t Cout, int64_t H,
                            int64_t W, int64_t n) {
    GRID_STRIDE(i, n) {
        const int64_t x = i % W, r = i / W, y = r % H, bc = r / H, ci = bc % Cin, b = bc / Cin;
        float acc = 0.0f;
        for (int64_t co = 0; co < Cout; co++) {
            const float *g = dout + (b * Cout + co) * H * W;
            const float *wk = w + (co * Cin + ci) * 9;
            for (int kh = 0; kh < 3; kh++) {
                const int64_t oh = y - kh + 1;
                if (oh < 0 || oh >= H) continue;
                for (int kw = 0; kw < 3; kw++) {
                    const int64_t ow = x - kw + 1;
                    if (ow < 0 || ow >= W) continue;
                    acc += wk[kh * 3 + kw] * g[oh * W + ow];
                }
            }
        }
        din[i] += acc;
    }
}

/* dw [Cout,Cin,3,3] +=: one block per weight; its threads stride over (b, h, w), then the
 * block's fixed reduction tree (a thread per weight would leave the GPU nearly idle: a few
 * thousand weights, each a sum over the whole batch) */
__global__ void k_conv3_dw(float *dw, const float *dout, const float *in, int64_t B, int64_t Cin, int64_t Cout,
                           int64_t H, int64_t W) {
    const int64_t e = blockIdx.x, HW = H * W, m = B * HW;
    const int k = (int)(e % 9), kh = k / 3, kw = k % 3;
    const int64_t ci = (e / 9) % Cin, co = e / 9 / Cin;
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) {
        const int64_t b = j / HW, p = j % HW, y = p / W, x = p % W, ih = y + kh - 1, iw = x + kw - 1;
        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
        acc += (double)dout[(b * Cout + co) * HW + p] * (double)in[(b * Cin + ci) * HW + ih * W + iw];
    }
    acc = block_sum_d<THREADS>(acc);
    if (threadIdx.x == 0) dw[e] += (float)acc;
}

/* dbias [Cout] +=: one block per output channel, the same pattern */
__global__ void k_conv3_db(float *dbias, const float *dout, int64_t B, int64_t Cout, int64_t HW) {
    const int64_t co = blockIdx.x, m = B * HW;
    double acc = 0.0;
    for (int64_t j = threadIdx.x; j < m; j += blockDim.x) acc += dout[((j / HW) * Cout + co) * HW + j % HW];
    acc = block_sum_d<THREADS>(acc);
    if (threadIdx.x == 0) dbias[co] += (float)acc;
}

static void conv_check(int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    if (B < 0 || Cin < 0 || Cout < 0 || H < 0 || W < 0)
        lvit_die_at(__FILE__, __LINE__, 1, "conv3x3: negative size (B %lld, Cin %lld, Cout %lld, H %lld, W %lld)",
                    (long long)B, (long long)Cin, (long long)Cout, (long long)H, (long long)W);
    if (Cin * Cout * 9 > 0x7fffffffLL)
        lvit_die_at(__FILE__, __LINE__, 1, "conv3x3: %lld weights exceed one grid", (long long)(Cin * Cout * 9));
}

extern "C" void conv3x3_fwd_cuda(float *out, const float *in, const float *w, const float *bias, int64_t B,
                                 int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    conv_check(B, Cin, Cout, H, W);
    const int64_t n = B * Cout * H * W;
    if (n <= 0) return;
    k_conv3_fwd<<<blocks_for(n), THREADS>>>(out, in, w, bias, Cin, Cout, H, W, n);
    LAUNCHED();
}

extern "C" void conv3x3_bwd_cuda(float *din, float *dw, float *dbias, const float *dout, const float *in,
                                 const float *w, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    conv_check(B, Cin, Cout, H, W);
    if (B <= 0 || Cout <= 0 || H <= 0 || W <= 0) return;
    if (din && Cin > 0) {
        const int64_t n = B * Cin * H * W;
        k_conv3_din<<<blocks_for(n), THREADS>>>(din, dout, w, Cin, Cout, H, W, n);
        LAUNCHED();
    }
    if (dw && Cin > 0) {
        k_conv3_dw<<<(unsigned)(Cout * Cin * 9), THREADS>>>(dw, dout, in, B, Cin, Cout, H, W);
        LAUNCHED();
    }
    if (dbias) {
        k_conv3_db<<<(unsigned)Cout, THREADS>>>(dbias, dout, B, Cout, H * W);
        LAUNCHED();
    }
}

/* ---------------------------------------------------------------- pixel shuffle */

/* offset in [B,C*r*r,H,W] of element i of [B,C,H*r,W*r] */
__device__ __forceinline__ int64_t shuffle_src(int64_t i, int64_t H, int64_t W, int r) {
    const int64_t Wo = W * r, Ho = H * r, ow = i % Wo, q = i / Wo, oh = q % Ho, bc = q / Ho;
    const int64_t h = oh / r, ii = oh % r, x = ow / r, j = ow % r;
    return ((bc * r * r + ii * r + j) * H + h) * W + x;
}

__global__ void k_shuffle_fwd(float *out, const float *in, int64_t H, int64_t W, int r, int64_t n) {
    GRID_STRIDE(i, n) out[i] = in[shuffle_src(i, H, W, r)];
}

/* a permutation: every din element is written by exactly one thread */
__global__ void k_shuffle_bwd(float *din, const float *dout, int64_t H, int64_t W, int r, int64_t n) {
    GRID_STRIDE(i, n) din[shuffle_src(i, H, W, r)] += dout[i];
}

static int64_t shuffle_n(int64_t B, int64_t C, int64_t H, int64_t W, int r) {
    if (r < 1 || B < 0 || C < 0 || H < 0 || W < 0)
        lvit_die_at(__FILE__, __LINE__, 1, "pixel_shuffle: factor %d, sizes %lld %lld %lld %lld", r, (long long)B,
                    (long long)C, (long long)H, (long long)W);
    return B * C * H * W * r * r;
}

extern "C" void pixel_shuffle_fwd_cuda(float *out, const float *in, int64_t B, int64_t C, int64_t H, int64_t W,
                                       int r) {
    const int64_t n = shuffle_n(B, C, H, W, r);
    if (n <= 0) return;
    k_shuffle_fwd<<<blocks_for(n), THREADS>>>(out, in, H, W, r, n);
    LAUNCHED();
}

extern "C" void pixel_shuffle_bwd_cuda(float *din, const float *dout, int64_t B, int64_t C, int64_t H, int64_t W,
                                       int r) {
    const int64_t n = shuffle_n(B, C, H, W, r);
    if (n <= 0) return;
    k_shuffle_bwd<<<blocks_for(n), THREADS>>>(din, dout, H, W, r, n);
    LAUNCHED();
}

/* ---------------------------------------------------------------- total variation */

__device__ __forceinline__ float sgnf(float t) { return (float)(t > 0.0f) - (float)(t < 0.0f); }

/* One cell per thread (grid-stride over a fixed grid): the gradient of the eight pairs around
 * it (the CPU kernel's tv_cell, the same expression) into dimg, and the pairs it starts (down,
 * right, down-right, down-left) into the thread's loss; per-block partials, summed on the host
 * in block order. */
enum { TV_BLOCKS = 256 };

__global__ void k_tv(double *part, float *dimg, const float *img, const float *vw, int V, int H, int W,
                     float dloss, double denom, int64_t n) {
    double acc = 0.0;
    GRID_STRIDE(i, n) {
        const int64_t x = i % W, r = i / W;
        const int h = (int)(r % H), v = (int)((r / H) % V);
        const float *c = img + r * W;
        const float *u = h > 0 ? c - W : c, *d = h < H - 1 ? c + W : c;
        const float fu = h > 0 ? 1.0f : 0.0f, fd = h < H - 1 ? 1.0f : 0.0f;
        const float fl = x > 0 ? 1.0f : 0.0f, fr = x < W - 1 ? 1.0f : 0.0f;
        const int64_t wl = x > 0 ? x - 1 : x, wr = x < W - 1 ? x + 1 : x;
        const float xc = c[x];
        const float tdn = d[x] - xc, tr = c[wr] - xc, tdr = d[wr] - xc, tdl = d[wl] - xc;
        const float tup = xc - u[x], tl = xc - c[wl], tul = xc - u[wl], tur = xc - u[wr];
        const double wv = vw ? (double)vw[v] : 1.0;
        const float s1 = fd * fabsf(tdn) + fr * fabsf(tr);
        const float s2 = fd * fr * fabsf(tdr) + fd * fl * fabsf(tdl);
        acc += wv * ((double)s1 + 0.7 * (double)s2);
        if (dimg) {
            const float axis = fu * sgnf(tup) - fd * sgnf(tdn) + fl * sgnf(tl) - fr * sgnf(tr);
            const float diag = fu * fl * sgnf(tul) + fu * fr * sgnf(tur) - fd * fr * sgnf(tdr) - fd * fl * sgnf(tdl);
            dimg[i] += (float)((double)dloss * wv / denom) * (axis + 0.7f * diag);
        }
    }
    acc = block_sum_d<THREADS>(acc);
    if (threadIdx.x == 0) part[blockIdx.x] = acc;
}

extern "C" float tv_loss_cuda(float *dimg, const float *img, const float *vw, int B, int V, int H, int W,
                              double denom, float dloss) {
    if (!(denom > 0.0)) lvit_die_at(__FILE__, __LINE__, 1, "tv_loss: denominator %g must be positive", denom);
    const int64_t n = (int64_t)B * V * H * W;
    if (B <= 0 || V <= 0 || H <= 0 || W <= 0) return 0.0f;
    static double *dpart = NULL; /* one small buffer for the process */
    if (!dpart) CU(cudaMalloc(&dpart, TV_BLOCKS * sizeof(double)));
    k_tv<<<TV_BLOCKS, THREADS>>>(dpart, dimg, img, vw, V, H, W, dloss, denom, n);
    LAUNCHED();
    double part[TV_BLOCKS], tv = 0.0;
    CU(cudaMemcpy(part, dpart, sizeof part, cudaMemcpyDeviceToHost));
    for (int i = 0; i < TV_BLOCKS; i++) tv += part[i];
    return (float)(tv / denom);
}
