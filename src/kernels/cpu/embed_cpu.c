/* CPU kernels around the transformer trunk: patch and position/lead-time embeddings, the
 * one-query variable aggregation, unpatchify and the fused latitude-weighted MSE.
 * Semantics: kernels/kernels.h. Determinism rules: kernels/cpu/ops_cpu.h. */
#include "kernels/cpu/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/check.h"

/* ---------------------------------------------------------------- patch embedding */

/* patches [B*L, p*p] of variable v: row (b, hp*Wp+wp), column pr*p+pc. */
static void im2col_var(float *patches /* [B*L, p*p] */, const float *x /* [B,V,H,W] */, int B,
                       int V, int v, int H, int W, int p) {
    const int Hp = H / p, Wp = W / p;
    const int64_t pp = (int64_t)p * p, L = (int64_t)Hp * Wp;
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * L * pp > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int hp = 0; hp < Hp; hp++)
            for (int pr = 0; pr < p; pr++) {
                const float *src = x + (((int64_t)b * V + v) * H + (int64_t)hp * p + pr) * W;
                float *dst = patches + ((int64_t)b * L + (int64_t)hp * Wp) * pp + (int64_t)pr * p;
                for (int wp = 0; wp < Wp; wp++)
                    memcpy(dst + wp * pp, src + (int64_t)wp * p, (size_t)p * sizeof(float));
            }
}

void patch_embed_fwd_cpu(float *tok, const float *x, const float *w, const float *bias,
                         const float *var_embed, int B, int V, int H, int W, int p, int D,
                         float *ws) {
    CHECK(p > 0, "patch size %d", p);
    const int64_t pp = (int64_t)p * p, L = (int64_t)(H / p) * (W / p);
    if (B <= 0 || V <= 0 || L <= 0 || D <= 0) return;
    const int l_ = blas_dim_cpu(L, "patch_embed L"), d_ = blas_dim_cpu(D, "patch_embed D"),
              k_ = blas_dim_cpu(pp, "patch_embed p*p");
    for (int v = 0; v < V; v++) {
        im2col_var(ws, x, B, V, v, H, W, p);
        const float *bv = bias ? bias + (int64_t)v * D : NULL;
        const float *ev = var_embed ? var_embed + (int64_t)v * D : NULL;
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * L * D > PAR_MIN)
        for (int b = 0; b < B; b++)
            for (int64_t l = 0; l < L; l++) {
                float *o = tok + (((int64_t)b * V + v) * L + l) * D;
                if (bv && ev)
                    for (int d = 0; d < D; d++) o[d] = bv[d] + ev[d];
                else if (bv || ev)
                    memcpy(o, bv ? bv : ev, (size_t)D * sizeof(float));
                else
                    memset(o, 0, (size_t)D * sizeof(float));
            }
        /* tok[b,v] is a contiguous [L,D] block but consecutive b are V*L*D apart, so one
         * GEMM per batch element (K = p*p is small: these are output-bandwidth bound). */
        for (int b = 0; b < B; b++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l_, d_, k_, 1.0f,
                        ws + (int64_t)b * L * pp, k_, w + (int64_t)v * D * pp, k_, 1.0f,
                        tok + ((int64_t)b * V + v) * L * D, d_);
    }
}

void patch_embed_bwd_cpu(float *dw, float *dbias, float *dvar_embed, const float *dtok,
                         const float *x, int B, int V, int H, int W, int p, int D, float *ws) {
    CHECK(p > 0, "patch size %d", p);
    const int64_t pp = (int64_t)p * p, L = (int64_t)(H / p) * (W / p);
    if (B <= 0 || V <= 0 || L <= 0 || D <= 0) return;
    const int l_ = blas_dim_cpu(L, "patch_embed L"), d_ = blas_dim_cpu(D, "patch_embed D"),
              k_ = blas_dim_cpu(pp, "patch_embed p*p");
    for (int v = 0; v < V; v++) {
        if (dw) {
            im2col_var(ws, x, B, V, v, H, W, p);
            for (int b = 0; b < B; b++)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d_, k_, l_, 1.0f,
                            dtok + ((int64_t)b * V + v) * L * D, d_, ws + (int64_t)b * L * pp,
                            k_, 1.0f, dw + (int64_t)v * D * pp, k_);
        }
        /* bias and var_embed enter identically, so they share one reduction */
        colsum_cpu(dbias ? dbias + (int64_t)v * D : NULL,
                   dvar_embed ? dvar_embed + (int64_t)v * D : NULL, NULL, NULL,
                   dtok + (int64_t)v * L * D, B, (int64_t)V * L * D, L, D, D);
    }
}

/* ---------------------------------------------------------------- position + lead time */

void pos_lead_fwd_cpu(float *x, const float *pos, const float *lead_w, const float *lead_b,
                      const float *lead, int B, int64_t T, int64_t L, int D) {
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * T * D > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            float *xr = x + ((int64_t)b * T + t) * D;
            const float *pr = pos + (t % L) * D;
            const float ld = lead[b];
#pragma omp simd
            for (int d = 0; d < D; d++) xr[d] += pr[d] + (lead_w[d] * ld + lead_b[d]);
        }
}

enum { POS_CW = 256 };

void pos_lead_bwd_cpu(float *dpos, float *dlead_w, float *dlead_b, const float *dx,
                      const float *lead, int B, int64_t T, int64_t L, int D) {
    if (B <= 0 || T <= 0 || D <= 0) return;
    if (dpos) {
        /* Every position row sums its own tokens (t = l, l+L, ...), so splitting over l is
         * race-free and keeps a fixed order. */
        const int64_t Lu = L < T ? L : T;
#pragma omp parallel for schedule(static) if ((int64_t)B * T * D > PAR_MIN)
        for (int64_t l = 0; l < Lu; l++)
            for (int d0 = 0; d0 < D; d0 += POS_CW) {
                int w = D - d0 < POS_CW ? D - d0 : POS_CW;
                double acc[POS_CW] = {0};
                for (int b = 0; b < B; b++)
                    for (int64_t t = l; t < T; t += L) {
                        const float *g = dx + ((int64_t)b * T + t) * D + d0;
#pragma omp simd
                        for (int j = 0; j < w; j++) acc[j] += g[j];
                    }
                float *o = dpos + l * D + d0;
                for (int j = 0; j < w; j++) o[j] += (float)acc[j];
            }
    }
    colsum_cpu(dlead_b, NULL, dlead_w, lead, dx, B, T * D, T, D, D);
}

/* ---------------------------------------------------------------- variable aggregation */

/* Largest head size var_attn_bwd accumulates dq for on the stack. */
enum { VA_HD_MAX = 1024 };

static inline float dotf(const float *a /* [n] */, const float *b /* [n] */, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

void var_attn_fwd_cpu(float *out, float *probs, const float *q, const float *kv, int B,
                      int64_t L, int V, int NH, int D) {
    CHECK(NH > 0 && D % NH == 0, "var_attn: D=%d is not a multiple of NH=%d", D, NH);
    const int hd = D / NH;
    const float scale = 1.0f / sqrtf((float)hd);
    const int64_t vstride = L * 2 * D; /* between variables of one location */
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * L * V * D > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int64_t l = 0; l < L; l++) {
            const float *kv0 = kv + ((int64_t)b * V * L + l) * 2 * D;
            float *pr = probs + ((int64_t)b * L + l) * NH * V;
            float *o = out + ((int64_t)b * L + l) * D;
            for (int v = 0; v < V; v++)
                for (int h = 0; h < NH; h++)
                    pr[h * V + v] = dotf(q + h * hd, kv0 + v * vstride + h * hd, hd) * scale;
            for (int h = 0; h < NH; h++) {
                float *s = pr + h * V, mx = -INFINITY, sum = 0.0f;
                for (int v = 0; v < V; v++) mx = fmaxf(mx, s[v]);
                for (int v = 0; v < V; v++) {
                    s[v] = expf(s[v] - mx);
                    sum += s[v];
                }
                const float inv = 1.0f / sum;
                for (int v = 0; v < V; v++) s[v] *= inv;
            }
            memset(o, 0, (size_t)D * sizeof(float));
            for (int v = 0; v < V; v++) {
                const float *vv = kv0 + v * vstride + D;
                for (int h = 0; h < NH; h++) {
                    const float pv = pr[h * V + v];
#pragma omp simd
                    for (int c = 0; c < hd; c++) o[h * hd + c] += pv * vv[h * hd + c];
                }
            }
        }
}

/* dq sums over all B*L locations. For a fixed order without scratch in the signature, the
 * locations are split into G chunks whose dq partials (double) live in a fixed-size stack array
 * and are added in chunk order afterwards. G depends on D and B*L only, never on the thread
 * count. A task takes every head of its locations, so each kv/dkv row is swept once (a loop
 * over heads outside the locations swept them NH times). dkv slices of different tasks are
 * disjoint. */
enum { VA_PART = 8192, VA_MAX_CHUNKS = 16 };

void var_attn_bwd_cpu(float *dq, float *dkv, const float *dout, const float *probs,
                      const float *q, const float *kv, int B, int64_t L, int V, int NH, int D) {
    CHECK(NH > 0 && D % NH == 0, "var_attn: D=%d is not a multiple of NH=%d", D, NH);
    const int hd = D / NH;
    CHECK(hd <= VA_HD_MAX, "var_attn: head size %d exceeds %d", hd, (int)VA_HD_MAX);
    const int64_t nloc = (int64_t)B * L;
    if ((!dq && !dkv) || nloc <= 0) return;
    const float scale = 1.0f / sqrtf((float)hd);
    const int64_t vstride = L * 2 * D;
    int G = D <= VA_PART ? VA_PART / D : 1;
    if (G > VA_MAX_CHUNKS) G = VA_MAX_CHUNKS;
    if (G > nloc) G = (int)nloc;
    /* heads per pass: all of them unless D exceeds the partials' room (then G == 1) */
    const int hstep = D <= VA_PART ? NH : VA_PART / hd;
    double part[VA_PART]; /* [G, heads of the pass, hd] */
    for (int h0 = 0; h0 < NH; h0 += hstep) {
        const int nh = NH - h0 < hstep ? NH - h0 : hstep;
        const int64_t row = (int64_t)nh * hd;
#pragma omp parallel for schedule(static) if (nloc * V * D > PAR_MIN)
        for (int g = 0; g < G; g++) {
            double *acc = part + g * row;
            for (int64_t c = 0; c < row; c++) acc[c] = 0.0;
            for (int64_t loc = nloc * g / G; loc < nloc * (g + 1) / G; loc++) {
                const int64_t b = loc / L, l = loc % L;
                for (int h = h0; h < h0 + nh; h++) {
                    const int64_t base = (b * V * L + l) * 2 * D + h * hd;
                    const float *go = dout + loc * D + h * hd, *qh = q + h * hd;
                    const float *pr = probs + (loc * NH + h) * V;
                    double *ah = acc + (int64_t)(h - h0) * hd;
                    /* softmax backward: ds_v = p_v (dp_v - sum_u p_u dp_u), dp_v = dout . v_v.
                     * dp is recomputed in the second pass rather than stored (V is unbounded). */
                    float delta = 0.0f;
                    for (int v = 0; v < V; v++)
                        delta += pr[v] * dotf(go, kv + base + v * vstride + D, hd);
                    for (int v = 0; v < V; v++) {
                        const float *k = kv + base + v * vstride;
                        const float pv = pr[v];
                        const float ds = pv * (dotf(go, k + D, hd) - delta) * scale;
                        if (dq) {
#pragma omp simd
                            for (int c = 0; c < hd; c++) ah[c] += (double)(ds * k[c]);
                        }
                        if (dkv) {
                            float *dk = dkv + base + v * vstride, *dv = dk + D;
#pragma omp simd
                            for (int c = 0; c < hd; c++) {
                                dk[c] += ds * qh[c];
                                dv[c] += pv * go[c];
                            }
                        }
                    }
                }
            }
        }
        if (dq)
            for (int64_t c = 0; c < row; c++) {
                double s = 0.0;
                for (int g = 0; g < G; g++) s += part[g * row + c];
                dq[h0 * hd + c] += (float)s;
            }
    }
}

/* ---------------------------------------------------------------- unpatchify and loss */

/* Offset in pred [B,T,E] of image pixel (b, v, hp*p+pr, wp*p+pc). */
static inline int64_t tok_offset(int64_t b, int64_t v, int64_t l, int64_t e, int64_t Vo,
                                 int64_t L, int64_t pp, int multi) {
    return multi ? ((b * Vo + v) * L + l) * pp + e : ((b * L + l) * pp + e) * Vo + v;
}

/* Moves pixels between image layout [B,Vo,H,W] and token layout [B,T,E]:
 * to_img: img = pred; otherwise pred = img * s. One bijection serves both directions. */
static void rearrange(float *img /* [B,Vo,H,W] */, float *pred /* [B,T,E] */, int B, int Vo,
                      int H, int W, int p, int multi, int to_img, float s) {
    CHECK(p > 0 && H % p == 0 && W % p == 0, "unpatchify: %dx%d grid not divisible by p=%d",
          H, W, p);
    const int Wp = W / p;
    const int64_t L = (int64_t)(H / p) * Wp, pp = (int64_t)p * p;
#pragma omp parallel for collapse(3) schedule(static) if ((int64_t)B * Vo * H * W > PAR_MIN)
    for (int b = 0; b < B; b++)
        for (int v = 0; v < Vo; v++)
            for (int h = 0; h < H; h++) {
                float *row = img + (((int64_t)b * Vo + v) * H + h) * W;
                const int64_t lrow = (int64_t)(h / p) * Wp, erow = (int64_t)(h % p) * p;
                for (int wp = 0; wp < Wp; wp++)
                    for (int pc = 0; pc < p; pc++) {
                        int64_t o = tok_offset(b, v, lrow + wp, erow + pc, Vo, L, pp, multi);
                        if (to_img)
                            row[wp * p + pc] = pred[o];
                        else
                            pred[o] = row[wp * p + pc] * s;
                    }
            }
}

void unpatchify_cpu(float *img, const float *pred, int B, int Vo, int H, int W, int p,
                    int multi) {
    /* the cast is safe: with to_img set, pred is only read */
    rearrange(img, (float *)pred, B, Vo, H, W, p, multi, 1, 1.0f);
}

void patchify_cpu(float *pred, const float *img, int B, int Vo, int H, int W, int p, int multi) {
    /* the cast is safe: with to_img clear, img is only read */
    rearrange((float *)img, pred, B, Vo, H, W, p, multi, 0, 1.0f);
}

/* Fixed chunk count (not one per thread) keeps the loss independent of the thread count. */
enum { MSE_CHUNKS = 64 };

float mse_loss_cpu(float *dpred, const float *pred, const float *y, const float *mask,
                   const float *wlat, int B, int Vo, int H, int W, int p, int multi, float dloss,
                   double denom, float *ws) {
    const int64_t rows = (int64_t)B * Vo * H;
    if (rows <= 0 || W <= 0) return 0.0f;
    unpatchify_cpu(ws, pred, B, Vo, H, W, p, multi);
    double part[MSE_CHUNKS][2];
    /* One pass: reduce the loss and the mask sum, and turn ws into the unnormalized image
     * gradient 2 wlat m (img - y); 1/sum(m) is applied on the way back to token layout. */
#pragma omp parallel for schedule(static) if (rows * W > PAR_MIN)
    for (int c = 0; c < MSE_CHUNKS; c++) {
        const int64_t r0 = rows * c / MSE_CHUNKS, r1 = rows * (c + 1) / MSE_CHUNKS;
        double sl = 0.0, sm = 0.0;
        for (int64_t r = r0; r < r1; r++) {
            const float wl = wlat[r % H];
            float *g = ws + r * W;
            const float *yr = y + r * W;
            double rl = 0.0, rm = 0.0;
            if (mask) {
                const float *mr = mask + r * W;
#pragma omp simd reduction(+ : rl, rm)
                for (int w = 0; w < W; w++) {
                    const float md = mr[w] * (g[w] - yr[w]);
                    rl += (double)(md * (g[w] - yr[w]));
                    rm += mr[w];
                    g[w] = 2.0f * wl * md;
                }
            } else {
#pragma omp simd reduction(+ : rl)
                for (int w = 0; w < W; w++) {
                    const float d = g[w] - yr[w];
                    rl += (double)(d * d);
                    g[w] = 2.0f * wl * d;
                }
                rm = W;
            }
            sl += (double)wl * rl;
            sm += rm;
        }
        part[c][0] = sl;
        part[c][1] = sm;
    }
    double loss = 0.0, msum = 0.0;
    for (int c = 0; c < MSE_CHUNKS; c++) {
        loss += part[c][0];
        msum += part[c][1];
    }
    if (denom > 0.0) msum = denom;
    if (msum == 0.0) {
        zero_cpu(dpred, rows * W);
        return 0.0f;
    }
    rearrange(ws, dpred, B, Vo, H, W, p, multi, 0, (float)((double)dloss / msum));
    return (float)(loss / msum);
}
