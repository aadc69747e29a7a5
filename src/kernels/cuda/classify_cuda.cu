/* The classification head's kernels on the GPU (contracts in kernels/kernels.h): the token mean
 * and its gradient as kernels; the loss on the host, since logits are [B,K] with K classes (a few
 * kilobytes): it is the CPU kernel's code, so both backends give the same loss. */
#include <stdlib.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

extern "C" float class_loss_cpu(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K,
                                int multi, float dloss, double denom);

/* one thread per (sample, channel): the tokens summed in order */
__global__ void k_token_mean(float *out, const float *x, int B, int64_t S, int D, float scale) {
    GRID_STRIDE(i, (int64_t)B * D) {
        const int64_t b = i / D, d = i % D;
        const float *xb = x + b * S * D + d;
        float acc = 0.0f;
        for (int64_t s = 0; s < S; s++) acc += xb[s * D];
        out[i] = acc * scale;
    }
}

__global__ void k_token_mean_bwd(float *dx, const float *dout, int64_t S, int D, float scale, int64_t n) {
    GRID_STRIDE(i, n) {
        const int64_t b = i / (S * D), d = i % D;
        dx[i] += scale * dout[b * D + d];
    }
}

extern "C" void token_mean_fwd_cuda(float *out, const float *x, int B, int64_t S, int D, float scale) {
    if (B <= 0 || D <= 0) return;
    k_token_mean<<<cuda_blocks((int64_t)B * D, 256), 256>>>(out, x, B, S, D, scale);
    LAUNCHED();
}

extern "C" void token_mean_bwd_cuda(float *dx, const float *dout, int B, int64_t S, int D, float scale) {
    const int64_t n = (int64_t)B * S * D;
    if (n <= 0) return;
    k_token_mean_bwd<<<cuda_blocks(n, 256), 256>>>(dx, dout, S, D, scale, n);
    LAUNCHED();
}

extern "C" float class_loss_cuda(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K,
                                 int multi, float dloss, double denom) {
    const size_t n = (size_t)B * (size_t)K;
    if (n == 0) return 0.0f;
    /* host copies kept for the process, grown when a larger batch comes (the first step) */
    static float *h = NULL;
    static size_t cap = 0;
    if (n > cap) {
        if (h) CU(cudaFreeHost(h));
        CU(cudaMallocHost(&h, 4 * n * sizeof(float)));
        cap = n;
    }
    float *hz = h, *hy = h + n, *hm = h + 2 * n, *hg = h + 3 * n;
    CU(cudaMemcpy(hz, logits, n * sizeof(float), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(hy, y, n * sizeof(float), cudaMemcpyDeviceToHost));
    CU(cudaMemcpy(hm, mask, n * sizeof(float), cudaMemcpyDeviceToHost));
    const float loss = class_loss_cpu(hg, hz, hy, hm, B, K, multi, dloss, denom);
    CU(cudaMemcpy(dlogits, hg, n * sizeof(float), cudaMemcpyHostToDevice));
    return loss;
}
