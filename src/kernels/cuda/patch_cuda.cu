/* CUDA kernels, fourth part (see ops_cuda.h): the per-variable patch embedding (a p x p conv
 * with stride p, one input channel per variable) plus the variable embedding, forward and
 * backward. Direct kernels (K = p*p is small: output-bandwidth bound, no im2col needed); the
 * weight gradients are one thread per element, summing over samples and patches in order. */
#include <cuda_runtime.h>
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/ops_cuda.h"

static const int THREADS = 256;
static unsigned blocks_for(int64_t n) { return cuda_blocks(n, THREADS); }

/* tok [B,V,L,D]: one thread per output element (d fastest: the weights of one d are contiguous) */
__global__ void k_patch_fwd(float *tok, const float *x, const float *w, const float *bias, const float *ve, int V,
                            int H, int W, int p, int D, int64_t L, int64_t n) {
    GRID_STRIDE(i, n) {
        const int d = (int)(i % D);
        const int64_t r = i / D, l = r % L, bv = r / L;
        const int v = (int)(bv % V);
        const int Wp = W / p, hp = (int)(l / Wp), wp = (int)(l % Wp);
        const float *img = x + bv * H * W + (int64_t)hp * p * W + (int64_t)wp * p;
        const float *wk = w + ((int64_t)v * D + d) * p * p;
        float acc = 0.0f;
        for (int pr = 0; pr < p; pr++)
            for (int pc = 0; pc < p; pc++) acc += img[(int64_t)pr * W + pc] * wk[pr * p + pc];
        float add = (bias ? bias[(int64_t)v * D + d] : 0.0f) + (ve ? ve[(int64_t)v * D + d] : 0.0f);
        tok[i] = add + acc;
    }
}

/* dw [V,D,p,p]: one thread per weight, over every sample and patch in order */
__global__ void k_patch_dw(float *dw, const float *dtok, const float *x, int B, int V, int H, int W, int p, int D,
                           int64_t L, int64_t n) {
    GRID_STRIDE(i, n) {
        const int pp = p * p, e = (int)(i % pp), pr = e / p, pc = e % p;
        const int64_t vd = i / pp;
        const int d = (int)(vd % D), v = (int)(vd / D), Wp = W / p;
        double acc = 0.0;
        for (int b = 0; b < B; b++) {
            const float *img = x + ((int64_t)b * V + v) * H * W;
            const float *g = dtok + ((int64_t)b * V + v) * L * D + d;
            for (int64_t l = 0; l < L; l++) {
                const int hp = (int)(l / Wp), wp = (int)(l % Wp);
                acc += (double)(g[l * D] * img[((int64_t)hp * p + pr) * W + (int64_t)wp * p + pc]);
            }
        }
        dw[i] += (float)acc;
    }
}

/* dbias and dvar_embed [V,D]: the same column sums over samples and patches */
__global__ void k_patch_db(float *dbias, float *dve, const float *dtok, int B, int V, int D, int64_t L, int64_t n) {
    GRID_STRIDE(i, n) {
        const int d = (int)(i % D), v = (int)(i / D);
        double acc = 0.0;
        for (int b = 0; b < B; b++) {
            const float *g = dtok + ((int64_t)b * V + v) * L * D + d;
            for (int64_t l = 0; l < L; l++) acc += g[l * D];
        }
        if (dbias) dbias[i] += (float)acc;
        if (dve) dve[i] += (float)acc;
    }
}

extern "C" void patch_embed_fwd_cuda(float *tok, const float *x, const float *w, const float *bias,
                                     const float *var_embed, int B, int V, int H, int W, int p, int D) {
    if (p <= 0) lvit_die_at(__FILE__, __LINE__, 1, "patch size %d", p);
    const int64_t L = (int64_t)(H / p) * (W / p), n = (int64_t)B * V * L * D;
    if (n <= 0) return;
    k_patch_fwd<<<blocks_for(n), THREADS>>>(tok, x, w, bias, var_embed, V, H, W, p, D, L, n);
    LAUNCHED();
}

extern "C" void patch_embed_bwd_cuda(float *dw, float *dbias, float *dvar_embed, const float *dtok, const float *x,
                                     int B, int V, int H, int W, int p, int D) {
    if (p <= 0) lvit_die_at(__FILE__, __LINE__, 1, "patch size %d", p);
    const int64_t L = (int64_t)(H / p) * (W / p);
    if (B <= 0 || V <= 0 || L <= 0 || D <= 0) return;
    if (dw) {
        const int64_t n = (int64_t)V * D * p * p;
        k_patch_dw<<<blocks_for(n), THREADS>>>(dw, dtok, x, B, V, H, W, p, D, L, n);
        LAUNCHED();
    }
    if (dbias || dvar_embed) {
        const int64_t n = (int64_t)V * D;
        k_patch_db<<<blocks_for(n), THREADS>>>(dbias, dvar_embed, dtok, B, V, D, L, n);
        LAUNCHED();
    }
}
