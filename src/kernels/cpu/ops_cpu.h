/* CPU (fp32, OpenMP + OpenBLAS) implementations of the kernel table in kernels/kernels.h.
 * Each function is named after its table entry with the suffix _cpu and has exactly the
 * semantics documented there; kernels_cpu.c collects them into the table.
 *
 * Every reduction (bias and LayerNorm weight gradients, sumsq, the loss, dq, dpos, ...)
 * sums in a fixed order that does not depend on the number of OpenMP threads, so results
 * are bitwise identical run to run and across OMP_NUM_THREADS (the BLAS calls excepted,
 * which are deterministic for a fixed thread count). */
#ifndef LVIT_OPS_CPU_H
#define LVIT_OPS_CPU_H
#include <stddef.h>
#include <stdint.h>

/* Below this many elements (or multiply-adds) a parallel region costs more than it saves. */
#define PAR_MIN ((int64_t)1 << 15)

/* OpenBLAS (LP64) takes int dimensions: returns n as int, or dies naming `what` instead of
 * letting a truncated size corrupt memory. */
int blas_dim_cpu(int64_t n, const char *what);

/* ---- ops_cpu.c: memory, linear, normalization, activations, optimizer ---- */
void *alloc_cpu(size_t bytes);
void free_cpu(void *p);
void zero_cpu(float *x /* [n] */, int64_t n);
void copy_cpu(float *dst /* [n] */, const float *src /* [n] */, int64_t n);
void upload_cpu(float *dst /* [n] */, const float *host /* [n] */, int64_t n);
void download_cpu(float *host /* [n] */, const float *src /* [n] */, int64_t n);

void linear_fwd_cpu(float *out /* [M,N] */, const float *in /* [M,K] */,
                    const float *w /* [N,K] */, const float *bias /* [N] or NULL */,
                    int64_t M, int64_t K, int64_t N, int accumulate);
void linear_bwd_cpu(float *din /* [M,K] */, float *dw /* [N,K] */, float *dbias /* [N] */,
                    const float *dout /* [M,N] */, const float *in /* [M,K] */,
                    const float *w /* [N,K] */, int64_t M, int64_t K, int64_t N);

void layernorm_fwd_cpu(float *out /* [M,C] */, float *mean /* [M] */, float *rstd /* [M] */,
                       const float *in /* [M,C] */, const float *w /* [C] */,
                       const float *b /* [C] */, int64_t M, int64_t C, float eps);
void layernorm_bwd_cpu(float *din /* [M,C] */, float *dw /* [C] */, float *db /* [C] */,
                       const float *dout /* [M,C] */, const float *in /* [M,C] */,
                       const float *w /* [C] */, const float *mean /* [M] */,
                       const float *rstd /* [M] */, int64_t M, int64_t C);

void gelu_fwd_cpu(float *out /* [n] */, const float *in /* [n] */, int64_t n);
void gelu_bwd_cpu(float *din /* [n] */, const float *dout /* [n] */, const float *in /* [n] */,
                  int64_t n);
void add_inplace_cpu(float *y /* [n] */, const float *x /* [n] */, int64_t n);
void lerp_cpu(float *y /* [n] */, const float *x /* [n] */, float a, int64_t n);

double sumsq_cpu(const float *x /* [n] */, int64_t n);
void scale_cpu(float *x /* [n] */, float s, int64_t n);
void adamw_cpu(float *p /* [n] */, float *m /* [n] */, float *v /* [n] */,
               const float *g /* [n] */, int64_t n, float lr, float b1, float b2, float eps,
               float wd, float bc1, float bc2);

/* Column sums shared by the bias-like gradients:
 *   s[j] = sum_{b<nb} sum_{r<nr} x[b*bstride + r*ld + j]   for j < n,
 *   sum[j] += s[j], sum2[j] += s[j], wsum[j] += sum_b wb[b] * (the b term of s[j]).
 * Any of sum, sum2, wsum may be NULL (wb is read only when wsum is not). Double
 * accumulators; the summation order is fixed (b, then r) whatever the thread count. */
void colsum_cpu(float *sum /* [n] */, float *sum2 /* [n] */, float *wsum /* [n] */,
                const float *wb /* [nb] */, const float *x /* [nb, nr rows of ld] */,
                int64_t nb, int64_t bstride, int64_t nr, int64_t ld, int64_t n);

/* ---- embed_cpu.c: embeddings, variable aggregation, unpatchify, loss ---- */
void patch_embed_fwd_cpu(float *tok /* [B,V,L,D] */, const float *x /* [B,V,H,W] */,
                         const float *w /* [V,D,p,p] */, const float *bias /* [V,D] */,
                         const float *var_embed /* [V,D] */, int B, int V, int H, int W,
                         int p, int D, float *ws /* [B*L*p*p] */);
void patch_embed_bwd_cpu(float *dw /* [V,D,p,p] */, float *dbias /* [V,D] */,
                         float *dvar_embed /* [V,D] */, const float *dtok /* [B,V,L,D] */,
                         const float *x /* [B,V,H,W] */, int B, int V, int H, int W, int p,
                         int D, float *ws /* [B*L*p*p] */);
void pos_lead_fwd_cpu(float *x /* [B,T,D] */, const float *pos /* [L,D] */,
                      const float *lead_w /* [D] */, const float *lead_b /* [D] */,
                      const float *lead /* [B] */, int B, int64_t T, int64_t L, int D);
void pos_lead_bwd_cpu(float *dpos /* [L,D] */, float *dlead_w /* [D] */,
                      float *dlead_b /* [D] */, const float *dx /* [B,T,D] */,
                      const float *lead /* [B] */, int B, int64_t T, int64_t L, int D);
void var_attn_fwd_cpu(float *out /* [B,L,D] */, float *probs /* [B,L,NH,V] */,
                      const float *q /* [D] */, const float *kv /* [B,V,L,2,D] */, int B,
                      int64_t L, int V, int NH, int D);
void var_attn_bwd_cpu(float *dq /* [D] */, float *dkv /* [B,V,L,2,D] */,
                      const float *dout /* [B,L,D] */, const float *probs /* [B,L,NH,V] */,
                      const float *q /* [D] */, const float *kv /* [B,V,L,2,D] */, int B,
                      int64_t L, int V, int NH, int D);
void unpatchify_cpu(float *img /* [B,Vo,H,W] */, const float *pred /* [B,T,E] */, int B,
                    int Vo, int H, int W, int p, int multi);
void patchify_cpu(float *pred /* [B,T,E] */, const float *img /* [B,Vo,H,W] */, int B, int Vo,
                  int H, int W, int p, int multi);
float mse_loss_cpu(float *dpred /* [B,T,E] */, const float *pred /* [B,T,E] */,
                   const float *y /* [B,Vo,H,W] */, const float *mask /* [B,Vo,H,W] or NULL */,
                   const float *wlat /* [H] */, int B, int Vo, int H, int W, int p, int multi,
                   float dloss, double denom, float *ws /* [B*Vo*H*W] */);

/* ---- classify_cpu.c: token mean and classification loss (kernels.h has the contracts) ---- */
void token_mean_fwd_cpu(float *out /* [B,D] */, const float *x /* [B,S,D] */, int B, int64_t S, int D, float scale);
void token_mean_bwd_cpu(float *dx /* [B,S,D] */, const float *dout /* [B,D] */, int B, int64_t S, int D, float scale);
float class_loss_cpu(float *dlogits /* [B,K] */, const float *logits /* [B,K] */, const float *y /* [B,K] */,
                     const float *mask /* [B,K] */, int B, int K, int multi, float dloss, double denom);

/* ---- upsample_cpu.c: the Reslim head's 3x3 convolution, pixel shuffle, total variation ---- */
void conv3x3_fwd_cpu(float *out /* [B,Cout,H,W] */, const float *in /* [B,Cin,H,W] */,
                     const float *w /* [Cout,Cin,3,3] */, const float *bias /* [Cout] or NULL */,
                     int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W,
                     float *ws /* [conv3x3_ws_floats] */);
void conv3x3_bwd_cpu(float *din /* [B,Cin,H,W] or NULL */, float *dw /* [Cout,Cin,3,3] or NULL */,
                     float *dbias /* [Cout] or NULL */, const float *dout /* [B,Cout,H,W] */,
                     const float *in /* [B,Cin,H,W] */, const float *w /* [Cout,Cin,3,3] */,
                     int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W,
                     float *ws /* [conv3x3_ws_floats] */);
void pixel_shuffle_fwd_cpu(float *out /* [B,C,H*r,W*r] */, const float *in /* [B,C*r*r,H,W] */,
                           int64_t B, int64_t C, int64_t H, int64_t W, int r);
void pixel_shuffle_bwd_cpu(float *din /* [B,C*r*r,H,W] */, const float *dout /* [B,C,H*r,W*r] */,
                           int64_t B, int64_t C, int64_t H, int64_t W, int r);
float tv_loss_cpu(float *dimg /* [B,V,H,W] or NULL */, const float *img /* [B,V,H,W] */,
                  const float *vw /* [V] or NULL */, int B, int V, int H, int W, double denom,
                  float dloss);

#endif
