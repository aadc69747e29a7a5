/* The kernel table: every numeric operation the model needs, one function pointer each.
 * The model (src/model/vit.c) is written once over this table; the CPU backend
 * (kernels/cpu) and the CUDA backend (kernels/cuda) fill it.
 *
 * Conventions (DESIGN.md):
 *  - argument order (outputs, saved-for-backward, inputs, weights, dims);
 *    backward (d_inputs, d_weights, d_out, saved, inputs, weights, dims).
 *  - Every backward ACCUMULATES (+=) into every gradient it writes, activation
 *    gradients included; callers zero what needs zeroing. A NULL gradient pointer
 *    means "not wanted".
 *  - Linear weights are [out,in] (PyTorch layout): y = x W^T + b.
 *  - Sizes are int64_t. All pointers are device pointers of the backend.
 */
#ifndef LVIT_KERNELS_H
#define LVIT_KERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "attention/attention.h"

typedef struct Kernels {
    const char *name; /* "cpu", "cuda" */

    /* ---- memory ---- */
    void *(*alloc)(size_t bytes);                 /* zeroed, 64-byte aligned */
    void (*free)(void *p);
    void (*zero)(float *x, int64_t n);
    void (*copy)(float *dst, const float *src, int64_t n);
    void (*upload)(float *dst, const float *host, int64_t n);   /* host -> backend */
    void (*download)(float *host, const float *src, int64_t n); /* backend -> host */
    void (*sync)(void);  /* wait for queued work (timing); no-op on the CPU */

    /* ---- linear layers ----
     * out[M,N] = (accumulate ? out : 0) + in[M,K] W[N,K]^T + bias[N]   (bias may be NULL) */
    void (*linear_fwd)(float *out, const float *in, const float *w, const float *bias,
                       int64_t M, int64_t K, int64_t N, int accumulate);
    /* din[M,K] += dout W;  dw[N,K] += dout^T in;  dbias[N] += colsum(dout) */
    void (*linear_bwd)(float *din, float *dw, float *dbias, const float *dout,
                       const float *in, const float *w, int64_t M, int64_t K, int64_t N);

    /* ---- normalization and activations ----
     * LayerNorm over the last dim C (biased variance, eps inside the sqrt). */
    void (*layernorm_fwd)(float *out, float *mean, float *rstd, const float *in,
                          const float *w, const float *b, int64_t M, int64_t C, float eps);
    void (*layernorm_bwd)(float *din, float *dw, float *db, const float *dout,
                          const float *in, const float *w, const float *mean,
                          const float *rstd, int64_t M, int64_t C);
    /* exact GELU: x * 0.5 * (1 + erf(x/sqrt 2)) */
    void (*gelu_fwd)(float *out, const float *in, int64_t n);
    void (*gelu_bwd)(float *din, const float *dout, const float *in, int64_t n);
    /* y += x */
    void (*add_inplace)(float *y, const float *x, int64_t n);
    /* y += a * (x - y)   (exponential moving average of the weights: a = 1 - decay) */
    void (*lerp)(float *y, const float *x, float a, int64_t n);

    /* ---- embeddings ----
     * Per-variable patch embedding (Conv2d 1->D, kernel = stride = p, row-major tokens)
     * plus the variable embedding:
     *   tok[b,v,l,:] = conv_v(x[b,v]) at patch l + var_embed[v,:]
     * x [B,V,H,W]; w [V,D,p,p]; bias [V,D]; var_embed [V,D]; tok [B,V,L,D], L=(H/p)(W/p).
     * ws: at least patch_embed_ws_floats(B,V,H,W,p) floats of scratch. */
    void (*patch_embed_fwd)(float *tok, const float *x, const float *w, const float *bias,
                            const float *var_embed, int B, int V, int H, int W, int p, int D,
                            float *ws);
    void (*patch_embed_bwd)(float *dw, float *dbias, float *dvar_embed, const float *dtok,
                            const float *x, int B, int V, int H, int W, int p, int D,
                            float *ws);
    /* x[b,t,:] += pos[t % L,:] + lead_w[:] * lead[b] + lead_b[:]   for t < T
     * (x [B,T,D]; T = L in agg mode, V*L in multi mode; lead [B] is hours/100) */
    void (*pos_lead_fwd)(float *x, const float *pos, const float *lead_w, const float *lead_b,
                         const float *lead, int B, int64_t T, int64_t L, int D);
    void (*pos_lead_bwd)(float *dpos, float *dlead_w, float *dlead_b, const float *dx,
                         const float *lead, int B, int64_t T, int64_t L, int D);

    /* ---- one-query attention over the V variable tokens of each location ----
     * q [D] (already projected, shared by all B*L locations); kv [B,V,L,2,D] (projected
     * keys then values, straight out of one linear layer over tok [B,V,L,D]);
     * NH heads of size D/NH, scale 1/sqrt(D/NH).
     * out [B,L,D] = per head softmax(q.k^T * scale) v over the V variables;
     * probs [B,L,NH,V] saved for backward. */
    void (*var_attn_fwd)(float *out, float *probs, const float *q, const float *kv,
                         int B, int64_t L, int V, int NH, int D);
    /* dq [D] +=, dkv [B,V,L,2,D] += */
    void (*var_attn_bwd)(float *dq, float *dkv, const float *dout, const float *probs,
                         const float *q, const float *kv, int B, int64_t L, int V, int NH,
                         int D);

    /* ---- token-to-image rearrangement and the loss ----
     * Head output pred [B,T,E] -> image img [B,Vo,H,W].
     *   agg:   T = L tokens, E = p*p*Vo ordered (p_row, p_col, var), var fastest.
     *   multi: T = Vo*L tokens (variable-major), E = p*p ordered (p_row, p_col). */
    void (*unpatchify)(float *img, const float *pred, int B, int Vo, int H, int W, int p,
                       int multi);
    /* Latitude-weighted masked MSE, fused with its gradient:
     *   loss = sum_{b,v,h,w} wlat[h] m (img - y)^2 / denom,   denom = sum m unless denom > 0
     * (under data or sequence parallelism the caller passes the mask sum of the global batch,
     * so the local losses and gradients add up to the global ones). Returns the loss (host
     * float) and writes dpred [B,T,E] (token layout, overwritten), scaled by dloss.
     * mask [B,Vo,H,W] is 0/1 (NULL = all valid), wlat [H]. ws: at least B*Vo*H*W floats. */
    float (*mse_loss)(float *dpred, const float *pred, const float *y, const float *mask,
                      const float *wlat, int B, int Vo, int H, int W, int p, int multi,
                      float dloss, double denom, float *ws);

    /* ---- optimizer ----
     * sum of squares of x[0..n) (host double), for the global gradient norm. */
    double (*sumsq)(const float *x, int64_t n);
    void (*scale)(float *x, float s, int64_t n);
    /* AdamW (PyTorch semantics) on n parameters:
     *   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
     *   p -= lr * (m / bc1) / (sqrt(v / bc2) + eps),  bc1 = 1-b1^t, bc2 = 1-b2^t. */
    void (*adamw)(float *p, float *m, float *v, const float *g, int64_t n, float lr,
                  float b1, float b2, float eps, float wd, float bc1, float bc2);

    /* ---- attention (see attention/attention.h) ---- */
    size_t (*attn_ws_floats)(const AttnDims *dm, int nthreads);
    void (*attn_fwd)(float *o, float *lse, const float *q, const float *k, const float *v,
                     const AttnDims *dm, float *ws);
    void (*attn_bwd)(float *dq, float *dk, float *dv, const float *dout, const float *q,
                     const float *k, const float *v, const float *o, const float *lse,
                     const AttnDims *dm, float *ws);
    void (*attn_merge)(float *o, float *lse, const float *o2, const float *lse2,
                       const AttnDims *dm);
} Kernels;

/* Scratch floats the patch embedding needs (im2col of one variable). */
static inline int64_t patch_embed_ws_floats(int B, int V, int H, int W, int p) {
    (void)V;
    return (int64_t)B * (H / p) * (W / p) * p * p;
}

const Kernels *kernels_cpu(void);
/* The CUDA table (fp32), or NULL with err saying why there is none (no device or driver, a build
 * without CUDA). */
const Kernels *kernels_cuda(char *err, size_t errlen);

/* A table that forwards to base and times every call (sync before stopping the clock).
 * Used by lvit bench --profile; kernels_profile_report prints the time per op. */
const Kernels *kernels_profiled(const Kernels *base);
void kernels_profile_reset(void);
void kernels_profile_report(int steps);

#endif
