/* The CUDA backend's launchers (the .cu files in src/kernels/cuda, extern "C"; plain C here).
 * First steps of the GPU backend, fp32 (its checking mode): device discovery, memory, the
 * elementwise, normalization and optimizer kernels, the position/lead embedding, unpatchify,
 * the loss, the variable aggregation, the patch embedding, the linear layers (cuBLASLt), flash
 * attention and the Reslim head's convolution, pixel shuffle and total variation, each checked against its CPU twin by tests/test_cuda_*.c on a machine with a GPU
 * (scripts/gpu-check.sh). bf16 follows; until the kernel table is complete nothing
 * outside the tests uses these. All pointers are device pointers; every launch goes on the
 * default stream; no atomics, every reduction in a fixed order (bitwise reproducible). */
#ifndef LVIT_OPS_CUDA_H
#define LVIT_OPS_CUDA_H
#include <stddef.h>
#include <stdint.h>
#include "attention/attention.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Usable CUDA devices; 0 with err saying why (no driver, no device, built without CUDA). */
int cuda_device_count(char *err, size_t errlen);
/* "NVIDIA H100 80GB HBM3, compute 9.0, 80 GiB" of the current device into buf. */
void cuda_device_name(char *buf, size_t n);

/* Use device i modulo the devices there are (one process per GPU). */
void cuda_set_device(int i);
/* Bytes of the current device's memory in use (by every process on it), 0 if unknown. */
double cuda_mem_used(void);
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
void patchify_cuda(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi);
float mse_loss_cuda(float *dpred, const float *pred, const float *y, const float *mask, const float *wlat, int B,
                    int Vo, int H, int W, int p, int multi, float dloss, double denom, float *ws);
/* classify_cuda.cu: the kernel table's token_mean_fwd/bwd and class_loss (same contracts) */
void token_mean_fwd_cuda(float *out, const float *x, int B, int64_t S, int D, float scale);
void token_mean_bwd_cuda(float *dx, const float *dout, int B, int64_t S, int D, float scale);
float class_loss_cuda(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K, int multi,
                      float dloss, double denom);
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
/* linear_cuda.cu: the kernel table's linear_fwd/bwd (same contracts) through cuBLASLt, fp32 compute (no
 * TF32); one handle and one 32 MiB workspace for the process, made at the first call. */
void linear_fwd_cuda(float *out /* [M,N] */, const float *in /* [M,K] */, const float *w /* [N,K] */,
                     const float *bias /* [N] or NULL */, int64_t M, int64_t K, int64_t N, int accumulate);
void linear_bwd_cuda(float *din /* [M,K] or NULL */, float *dw /* [N,K] or NULL */, float *dbias /* [N] or NULL */,
                     const float *dout /* [M,N] */, const float *in /* [M,K] */, const float *w /* [N,K] */,
                     int64_t M, int64_t K, int64_t N);
/* out = gelu(pre), pre = in W^T + bias (overwritten, saved for the backward; its own buffer) */
void linear_fwd_gelu_cuda(float *out /* [M,N] */, float *pre /* [M,N] */, const float *in /* [M,K] */,
                          const float *w /* [N,K] */, const float *bias /* [N] or NULL */, int64_t M, int64_t K,
                          int64_t N);
/* upsample_cuda.cu: the kernel table's conv3x3_fwd/bwd (same contracts; direct convolution, no scratch),
 * pixel_shuffle_fwd/bwd and tv_loss (same contracts) */
void conv3x3_fwd_cuda(float *out /* [B,Cout,H,W] */, const float *in /* [B,Cin,H,W] */, const float *w /* [Cout,Cin,3,3] */,
                      const float *bias /* [Cout] or NULL */, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W);
void conv3x3_bwd_cuda(float *din /* [B,Cin,H,W] or NULL */, float *dw /* [Cout,Cin,3,3] or NULL */,
                      float *dbias /* [Cout] or NULL */, const float *dout /* [B,Cout,H,W] */, const float *in,
                      const float *w, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W);
void pixel_shuffle_fwd_cuda(float *out /* [B,C,H*r,W*r] */, const float *in /* [B,C*r*r,H,W] */, int64_t B, int64_t C,
                            int64_t H, int64_t W, int r);
void pixel_shuffle_bwd_cuda(float *din /* [B,C*r*r,H,W] */, const float *dout /* [B,C,H*r,W*r] */, int64_t B,
                            int64_t C, int64_t H, int64_t W, int r);
float tv_loss_cuda(float *dimg /* [B,V,H,W] or NULL */, const float *img /* [B,V,H,W] */, const float *vw /* [V] or NULL */,
                   int B, int V, int H, int W, double denom, float dloss);
/* flash_cuda.cu: the contracts of attn_fwd_cpu, attn_bwd_cpu and attn_merge_cpu (attention.h), head sizes
 * d = 32, 64, 128, 256 (others die with a message). The forward needs no scratch (ws may be NULL); the
 * backward needs attn_ws_floats_cuda floats (Delta [B,NH,Sq]; nthreads is ignored). dq, dk or dv may
 * be NULL (not wanted). */
size_t attn_ws_floats_cuda(const AttnDims *dm, int nthreads);
void attn_fwd_cuda(float *o /* [B,Sq,NH,d] */, float *lse /* [B,NH,Sq] */, const float *q, const float *k,
                   const float *v, const AttnDims *dm, float *ws);
void attn_bwd_cuda(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                   const float *o, const float *lse, const AttnDims *dm, float *ws);
void attn_merge_cuda(float *o, float *lse, const float *o2, const float *lse2, const AttnDims *dm);

#ifdef __cplusplus
}
#endif
#endif
