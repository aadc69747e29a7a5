/* CUDA kernels, second part (see ops_cuda.h): position and lead-time embedding, unpatchify and
 * the masked latitude-weighted loss. Deterministic: every sum in a fixed order, no atomics. */
#include <cuda_runtime.h>
#include <stdio.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

static const int THREADS = 256;
static unsigned blocks_for(int64_t n) { return cuda_blocks(n, THREADS); }

/* ---------------------------------------------------------------- position + lead time */

__global__ void k_pos_lead_fwd(float *x, const float *pos, const float *lw, const float *lb, const float *lead,
                               int64_t T, int64_t L, int D, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t d = i % D, bt = i / D, t = bt % T, b = bt / T;
        x[i] += pos[(t % L) * D + d] + (lw[d] * lead[b] + lb[d]);
    }
}

/* dpos[l,d]: one thread per (l, d), its tokens t = l, l+L, ... of every sample in order */
__global__ void k_pos_bwd(float *dpos, const float *dx, int B, int64_t T, int64_t L, int D, int64_t n) {
    GRID_STRIDE(i, n) {
        int64_t d = i % D, l = i / D;
        double acc = 0.0;
        for (int b = 0; b < B; b++)
            for (int64_t t = l; t < T; t += L) acc += dx[((int64_t)b * T + t) * D + d];
        dpos[i] += (float)acc;
    }
}

/* dlead_b[d] = sum over every token; dlead_w[d] = sum_b lead[b] * (sum over b's tokens) */
__global__ void k_lead_bwd(float *dlw, float *dlb, const float *dx, const float *lead, int B, int64_t T, int D) {
    int64_t d = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (d >= D) return;
    double acc = 0.0, accw = 0.0;
    for (int b = 0; b < B; b++) {
        double t = 0.0;
        for (int64_t k = 0; k < T; k++) t += dx[((int64_t)b * T + k) * D + d];
        acc += t;
        accw += (double)lead[b] * t;
    }
    if (dlb) dlb[d] += (float)acc;
    if (dlw) dlw[d] += (float)accw;
}

extern "C" void pos_lead_fwd_cuda(float *x, const float *pos, const float *lead_w, const float *lead_b,
                                  const float *lead, int B, int64_t T, int64_t L, int D) {
    int64_t n = (int64_t)B * T * D;
    if (n <= 0) return;
    k_pos_lead_fwd<<<blocks_for(n), THREADS>>>(x, pos, lead_w, lead_b, lead, T, L, D, n);
    LAUNCHED();
}

extern "C" void pos_lead_bwd_cuda(float *dpos, float *dlead_w, float *dlead_b, const float *dx, const float *lead,
                                  int B, int64_t T, int64_t L, int D) {
    if (B <= 0 || T <= 0 || D <= 0) return;
    if (dpos) {
        int64_t n = (L < T ? L : T) * D;
        k_pos_bwd<<<blocks_for(n), THREADS>>>(dpos, dx, B, T, L, D, n);
        LAUNCHED();
    }
    if (dlead_w || dlead_b) {
        k_lead_bwd<<<(unsigned)((D + THREADS - 1) / THREADS), THREADS>>>(dlead_w, dlead_b, dx, lead, B, T, D);
        LAUNCHED();
    }
}

/* ---------------------------------------------------------------- unpatchify and the loss */

/* offset in pred [B,T,E] of image pixel i of [B,Vo,H,W] (the CPU kernel's tok_offset) */
__device__ __forceinline__ int64_t tok_of(int64_t i, int Vo, int H, int W, int p, int multi) {
    int64_t w = i % W, r = i / W, h = r % H, bv = r / H, v = bv % Vo, b = bv / Vo;
    int64_t Wp = W / p, L = (int64_t)(H / p) * Wp, pp = (int64_t)p * p;
    int64_t l = (h / p) * Wp + w / p, e = (h % p) * p + w % p;
    return multi ? ((b * Vo + v) * L + l) * pp + e : ((b * L + l) * pp + e) * Vo + v;
}

__global__ void k_to_img(float *img, const float *pred, int Vo, int H, int W, int p, int multi, int64_t n) {
    GRID_STRIDE(i, n) img[i] = pred[tok_of(i, Vo, H, W, p, multi)];
}
__global__ void k_to_tok(float *pred, const float *img, float s, int Vo, int H, int W, int p, int multi, int64_t n) {
    GRID_STRIDE(i, n) pred[tok_of(i, Vo, H, W, p, multi)] = img[i] * s;
}

static void check_grid(int H, int W, int p) {
    if (!(p > 0 && H % p == 0 && W % p == 0))
        lvit_die_at(__FILE__, __LINE__, 1, "unpatchify: %dx%d grid not divisible by p=%d", H, W, p);
}

extern "C" void unpatchify_cuda(float *img, const float *pred, int B, int Vo, int H, int W, int p, int multi) {
    check_grid(H, W, p);
    int64_t n = (int64_t)B * Vo * H * W;
    if (n <= 0) return;
    k_to_img<<<blocks_for(n), THREADS>>>(img, pred, Vo, H, W, p, multi, n);
    LAUNCHED();
}

extern "C" void patchify_cuda(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi) {
    check_grid(H, W, p);
    int64_t n = (int64_t)B * Vo * H * W;
    if (n <= 0) return;
    k_to_tok<<<blocks_for(n), THREADS>>>(pred, img, 1.0f, Vo, H, W, p, multi, n);
    LAUNCHED();
}

/* one thread per image row: its weighted squared error and mask sum; the row becomes the
 * unnormalized gradient 2 wlat m (img - y), as in the CPU kernel */
__global__ void k_mse_rows(double *part, float *g, const float *y, const float *mask, const float *wlat, int H,
                           int W, int64_t rows) {
    GRID_STRIDE(r, rows) {
        const float wl = wlat[r % H];
        float *gr = g + r * W;
        const float *yr = y + r * W;
        double rl = 0.0, rm = 0.0;
        for (int w = 0; w < W; w++) {
            const float m = mask ? mask[r * W + w] : 1.0f;
            const float md = m * (gr[w] - yr[w]);
            rl += (double)(md * (gr[w] - yr[w]));
            rm += m;
            gr[w] = 2.0f * wl * md;
        }
        part[2 * r] = (double)wl * rl;
        part[2 * r + 1] = rm;
    }
}

extern "C" float mse_loss_cuda(float *dpred, const float *pred, const float *y, const float *mask, const float *wlat,
                               int B, int Vo, int H, int W, int p, int multi, float dloss, double denom, float *ws) {
    const int64_t rows = (int64_t)B * Vo * H, n = rows * W;
    if (rows <= 0 || W <= 0) return 0.0f;
    unpatchify_cuda(ws, pred, B, Vo, H, W, p, multi);
    /* per-row partials: a buffer kept for the process, grown when a larger batch comes (the
     * first step); summed on the host in row order */
    static double *dpart = NULL, *hpart = NULL;
    static int64_t cap = 0;
    if (rows > cap) {
        if (dpart) {
            CU(cudaFree(dpart));
            CU(cudaFreeHost(hpart));
        }
        CU(cudaMalloc(&dpart, sizeof(double) * 2 * (size_t)rows));
        CU(cudaMallocHost(&hpart, sizeof(double) * 2 * (size_t)rows));
        cap = rows;
    }
    k_mse_rows<<<blocks_for(rows), THREADS>>>(dpart, ws, y, mask, wlat, H, W, rows);
    LAUNCHED();
    CU(cudaMemcpy(hpart, dpart, sizeof(double) * 2 * (size_t)rows, cudaMemcpyDeviceToHost));
    double loss = 0.0, msum = 0.0;
    for (int64_t r = 0; r < rows; r++) loss += hpart[2 * r], msum += hpart[2 * r + 1];
    if (denom > 0.0) msum = denom;
    if (msum == 0.0) {
        CU(cudaMemset(dpred, 0, sizeof(float) * (size_t)n));
        return 0.0f;
    }
    k_to_tok<<<blocks_for(n), THREADS>>>(dpred, ws, (float)((double)dloss / msum), Vo, H, W, p, multi, n);
    LAUNCHED();
    return (float)(loss / msum);
}
