/* The kernel table: every numeric operation the model needs, one function pointer each.
 * The model (src/model/vit.c) is written once over this table; the CPU backend
 * (kernels/cpu) and the CUDA backend (kernels/cuda) fill it.
 *
 * Conventions (every backend, checked against the CPU by tests/test_ops_*.c and tests/test_cuda_*.c):
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
    /* The inverse (and adjoint) of unpatchify: image img [B,Vo,H,W] -> token layout pred [B,T,E]
     * (overwritten); the Reslim head's gradient goes back to its tokens through it. */
    void (*patchify)(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi);
    /* Latitude-weighted masked MSE, fused with its gradient:
     *   loss = sum_{b,v,h,w} wlat[h] m (img - y)^2 / denom,   denom = sum m unless denom > 0
     * (under data or sequence parallelism the caller passes the mask sum of the global batch,
     * so the local losses and gradients add up to the global ones). Returns the loss (host
     * float) and writes dpred [B,T,E] (token layout, overwritten), scaled by dloss.
     * mask [B,Vo,H,W] is 0/1 (NULL = all valid), wlat [H]. ws: at least B*Vo*H*W floats. */
    float (*mse_loss)(float *dpred, const float *pred, const float *y, const float *mask,
                      const float *wlat, int B, int Vo, int H, int W, int p, int multi,
                      float dloss, double denom, float *ws);

    /* ---- the classification head ----
     * Mean over tokens, scaled: out[b,:] = scale * sum_s x[b,s,:]  (x [B,S,D], out [B,D]
     * overwritten; scale 1/S, or 1/S_total when the sequence is split over ranks and the caller
     * sums the ranks' partial means). The sum runs over s in order (bitwise reproducible). */
    void (*token_mean_fwd)(float *out, const float *x, int B, int64_t S, int D, float scale);
    /* dx[b,s,:] += scale * dout[b,:]   (dx [B,S,D], dout [B,D]) */
    void (*token_mean_bwd)(float *dx, const float *dout, int B, int64_t S, int D, float scale);
    /* Classification loss on logits [B,K], fused with its gradient (dlogits [B,K], overwritten):
     *   multi = 0 (softmax cross-entropy): sample b weighs w_b = sum_k mask[b,k] and
     *     loss = sum_b w_b * (-sum_k y[b,k] log softmax(logits[b])_k) / denom,
     *     dlogits[b,k] = dloss * w_b * (softmax_k * sum_j y[b,j] - y[b,k]) / denom
     *     (y one-hot, or any distribution; a row of zeros with mask 0 is a padded sample);
     *   multi = 1 (sigmoid binary cross-entropy per class, multi-label):
     *     loss = sum_{b,k} mask[b,k] (softplus(z) - y z) / denom,
     *     dlogits = dloss * mask * (sigmoid(z) - y) / denom;
     * denom = sum(mask) unless denom > 0 (the global batch's under data or sequence parallelism).
     * Returns the loss (host float; sums in double in a fixed order). */
    float (*class_loss)(float *dlogits, const float *logits, const float *y, const float *mask, int B, int K,
                        int multi, float dloss, double denom);

    /* ---- the Reslim downscaling head (ORBIT-2): 3x3 convolution, pixel shuffle, TV ----
     * 3x3 convolution, stride 1, zero padding 1, PyTorch Conv2d(Cin, Cout, 3, padding=1):
     *   out[b,co,h,w] = bias[co] + sum_{ci,kh,kw} w[co,ci,kh,kw] in[b,ci,h+kh-1,w+kw-1]
     * (input cells outside the H x W grid are 0). in [B,Cin,H,W]; w [Cout,Cin,3,3];
     * bias [Cout] or NULL (no bias); out [B,Cout,H,W] is overwritten.
     * ws: at least conv3x3_ws_floats(B,Cin,Cout,H,W) floats of scratch, for the forward and the
     * backward alike (the CUDA backend needs none and ignores it). */
    void (*conv3x3_fwd)(float *out, const float *in, const float *w, const float *bias,
                        int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W, float *ws);
    /* din [B,Cin,H,W] +=, dw [Cout,Cin,3,3] +=, dbias [Cout] += (each may be NULL: not
     * wanted); dout [B,Cout,H,W]. in is read only for dw (may be NULL without it), w only for
     * din (likewise). */
    void (*conv3x3_bwd)(float *din, float *dw, float *dbias, const float *dout, const float *in,
                        const float *w, int64_t B, int64_t Cin, int64_t Cout, int64_t H,
                        int64_t W, float *ws);
    /* Pixel shuffle, PyTorch PixelShuffle(r) (r >= 1): in [B,C*r*r,H,W] -> out [B,C,H*r,W*r]
     * (overwritten),
     *   out[b,c,h*r+i,w*r+j] = in[b, c*r*r + i*r + j, h, w]   (0 <= i, j < r). */
    void (*pixel_shuffle_fwd)(float *out, const float *in, int64_t B, int64_t C, int64_t H,
                              int64_t W, int r);
    /* din [B,C*r*r,H,W] += dout [B,C,H*r,W*r] moved back by the same map (a permutation). */
    void (*pixel_shuffle_bwd)(float *din, const float *dout, int64_t B, int64_t C, int64_t H,
                              int64_t W, int r);
    /* Total variation of img [B,V,H,W] (ORBIT-2's "Bayesian" regularizer), fused with its
     * gradient. With x = img[b,v]:
     *   TV = sum_{b,v} vw[v] sum_{h,w} ( |x[h+1,w] - x[h,w]| + |x[h,w+1] - x[h,w]|
     *          + 0.7 (|x[h+1,w+1] - x[h,w]| + |x[h+1,w-1] - x[h,w]|) ),
     * every neighbour pair counted once and only where both cells lie inside the H x W grid
     * (no wrap in either direction); vw [V] per-variable weights (NULL = all 1).
     * Returns TV / denom (host float; denom > 0 is the caller's normalizer, e.g. the element
     * count of the global batch, so that local losses and gradients add up under data
     * parallelism); the sum is in double in a fixed order. Unless dimg is NULL, adds
     * dloss * d(TV/denom)/dimg into dimg [B,V,H,W] (+=), taking d|t|/dt = 0 at t = 0 (equal
     * neighbours contribute no gradient), as torch.abs does. */
    float (*tv_loss)(float *dimg, const float *img, const float *vw, int B, int V, int H, int W,
                     double denom, float dloss);

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

/* Output rows the CPU 3x3 convolution handles per GEMM: its im2col band [9*max(Cin,Cout),
 * rows*W] is kept near 1 MiB (at least one row) so that it stays in cache and its size does not
 * grow with the image. */
static inline int64_t conv3x3_band_rows(int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    const int64_t c = Cin > Cout ? Cin : Cout, per_row = 9 * c * W;
    int64_t rows = per_row > 0 ? ((int64_t)1 << 18) / per_row : H;
    if (rows < 1) rows = 1;
    if (rows > H) rows = H;
    return rows > 0 ? rows : 0;
}

/* Scratch floats the 3x3 convolution needs (forward and backward): the backward's flipped
 * weights [Cin, Cout*9] and one im2col band. */
static inline int64_t conv3x3_ws_floats(int64_t B, int64_t Cin, int64_t Cout, int64_t H,
                                        int64_t W) {
    (void)B;
    if (Cin <= 0 || Cout <= 0 || H <= 0 || W <= 0) return 0;
    const int64_t c = Cin > Cout ? Cin : Cout;
    return 9 * Cin * Cout + 9 * c * conv3x3_band_rows(Cin, Cout, H, W) * W;
}

const Kernels *kernels_cpu(void);
/* The CUDA table (fp32), or NULL with err saying why there is none (no device or driver, a build
 * without CUDA). */
const Kernels *kernels_cuda(char *err, size_t errlen);

/* A table that forwards to base and times every call (sync before stopping the clock), adding
 * up each op's flops and least bytes moved (kernels/profile_cost.h). Used by lvit bench
 * --profile (train/bench_roofline.c prints the table). */
const Kernels *kernels_profiled(const Kernels *base);
void kernels_profile_reset(void);
/* One op's totals since the reset. */
typedef struct KernelProfileOp {
    const char *name;       /* the table entry, "linear_fwd" */
    double seconds, flops, bytes;
    long calls;
} KernelProfileOp;
enum { KERNELS_PROFILE_MAX_OPS = 64 };
/* The ops called since the reset, most time first, into ops[max]; returns how many. */
int kernels_profile_ops(KernelProfileOp *ops, int max);

#endif
