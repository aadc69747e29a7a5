/* The CUDA backend's launchers (the .cu files in src/kernels/cuda, extern "C"; plain C here).
 * First steps of the GPU backend, fp32 (its checking mode): device discovery, memory, the
 * elementwise, normalization and optimizer kernels, the position/lead embedding, unpatchify,
 * the loss, the variable aggregation and the patch embedding, each checked against its CPU twin by tests/test_cuda.c
 * on a machine with a GPU (scripts/gpu-check.sh). The matrix products (cuBLASLt), flash
 * attention and bf16 follow; until the kernel table is complete nothing
 * outside the tests uses these. All pointers are device pointers; every launch goes on the
 * default stream; no atomics, every reduction in a fixed order (bitwise reproducible). */
#ifndef LVIT_OPS_CUDA_H
#define LVIT_OPS_CUDA_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Usable CUDA devices; 0 with err saying why (no driver, no device, built without CUDA). */
int cuda_device_count(char *err, size_t errlen);
/* "NVIDIA H100 80GB HBM3, compute 9.0, 80 GiB" of the current device into buf. */
void cuda_device_name(char *buf, size_t n);

void *cuda_alloc(size_t bytes); /* zeroed; dies with the size on failure */
void cuda_free(void *p);
void cuda_zero(float *x, int64_t n);
void cuda_copy(float *dst, const float *src, int64_t n);
void cuda_upload(float *dst, const float *host, int64_t n);
void cuda_download(float *host, const float *src, int64_t n);
void cuda_sync(void);

void gelu_fwd_cuda(float *out, const float *in, int64_t n);
void gelu_bwd_cuda(float *din, const float *dout, const float *in, int64_t n); /* din += */
void add_inplace_cuda(float *y, const float *x, int64_t n);
void lerp_cuda(float *y, const float *x, float a, int64_t n);
void scale_cuda(float *x, float s, int64_t n);
/* Deterministic: a fixed grid of per-block double partials, summed on the host in order. */
double sumsq_cuda(const float *x, int64_t n);
void adamw_cuda(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1, float b2,
                float eps, float wd, float bc1, float bc2);
void layernorm_fwd_cuda(float *out, float *mean, float *rstd, const float *in, const float *w, const float *b,
                        int64_t M, int64_t C, float eps);
/* din, dw, db accumulate (+=); dw/db sum over rows in a fixed order (one thread per column). */
void layernorm_bwd_cuda(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                        const float *mean, const float *rstd, int64_t M, int64_t C);

/* embed_cuda.cu: the kernel table's pos_lead_fwd/bwd, unpatchify and mse_loss (same contracts) */
void pos_lead_fwd_cuda(float *x, const float *pos, const float *lead_w, const float *lead_b, const float *lead,
                       int B, int64_t T, int64_t L, int D);
void pos_lead_bwd_cuda(float *dpos, float *dlead_w, float *dlead_b, const float *dx, const float *lead, int B,
                       int64_t T, int64_t L, int D);
void unpatchify_cuda(float *img, const float *pred, int B, int Vo, int H, int W, int p, int multi);
float mse_loss_cuda(float *dpred, const float *pred, const float *y, const float *mask, const float *wlat, int B,
                    int Vo, int H, int W, int p, int multi, float dloss, double denom, float *ws);
/* varattn_cuda.cu: the kernel table's var_attn_fwd/bwd (same contracts) */
void var_attn_fwd_cuda(float *out, float *probs, const float *q, const float *kv, int B, int64_t L, int V, int NH,
                       int D);
void var_attn_bwd_cuda(float *dq, float *dkv, const float *dout, const float *probs, const float *q, const float *kv,
                       int B, int64_t L, int V, int NH, int D);
/* patch_cuda.cu: the kernel table's patch_embed_fwd/bwd (same contracts; no scratch needed) */
void patch_embed_fwd_cuda(float *tok, const float *x, const float *w, const float *bias, const float *var_embed,
                          int B, int V, int H, int W, int p, int D);
void patch_embed_bwd_cuda(float *dw, float *dbias, float *dvar_embed, const float *dtok, const float *x, int B,
                          int V, int H, int W, int p, int D);

#ifdef __cplusplus
}
#endif
#endif
