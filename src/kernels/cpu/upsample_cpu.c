/* CPU kernels of the Reslim downscaling head: the 3x3 convolution (im2col bands + OpenBLAS),
 * pixel shuffle and the total-variation regularizer fused with its gradient.
 * Semantics: kernels/kernels.h. Determinism rules: kernels/cpu/ops_cpu.h. */
#include "kernels/cpu/ops_cpu.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/check.h"
#include "kernels/kernels.h"

/* ---------------------------------------------------------------- 3x3 convolution
 * Output rows are processed in bands of conv3x3_band_rows (kernels.h): an im2col band
 * col [9*C, n], n = (h1-h0)*W, feeds one GEMM whose output is the band's columns of the
 * [channels, H*W] plane of one sample (ldc = H*W). The input gradient is itself a 3x3
 * convolution, of dout with the weights transposed and flipped, so it is computed the same way
 * (gather form: every din element gets one += from BLAS, no scatter). */

/* col [C*9, (h1-h0)*W]: row ci*9 + kh*3 + kw, column (oh-h0)*W + ow holds
 * x[ci, oh+kh-1, ow+kw-1] (0 outside the grid), for output rows h0 <= oh < h1. */
static void im2col3(float *col, const float *x /* [C,H,W] */, int64_t C, int64_t H, int64_t W,
                    int64_t h0, int64_t h1) {
    const int64_t n = (h1 - h0) * W;
    const size_t rowb = (size_t)W * sizeof(float), shb = (size_t)(W - 1) * sizeof(float);
#pragma omp parallel for collapse(2) schedule(static) if (9 * C * n > PAR_MIN)
    for (int64_t ci = 0; ci < C; ci++)
        for (int k = 0; k < 9; k++) {
            const int kh = k / 3, kw = k % 3;
            float *dst = col + (ci * 9 + k) * n;
            for (int64_t oh = h0; oh < h1; oh++, dst += W) {
                const int64_t ih = oh + kh - 1;
                if (ih < 0 || ih >= H) {
                    memset(dst, 0, rowb);
                    continue;
                }
                const float *src = x + (ci * H + ih) * W;
                if (kw == 1) {
                    memcpy(dst, src, rowb);
                } else if (kw == 0) { /* dst[ow] = src[ow-1] */
                    dst[0] = 0.0f;
                    memcpy(dst + 1, src, shb);
                } else { /* dst[ow] = src[ow+1] */
                    memcpy(dst, src + 1, shb);
                    dst[W - 1] = 0.0f;
                }
            }
        }
}

static void conv_dims(int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W) {
    CHECK(B >= 0 && Cin >= 0 && Cout >= 0 && H >= 0 && W >= 0,
          "conv3x3: negative size (B %lld, Cin %lld, Cout %lld, H %lld, W %lld)", (long long)B,
          (long long)Cin, (long long)Cout, (long long)H, (long long)W);
    /* OpenBLAS takes int dimensions and leading dimensions: check them once here */
    blas_dim_cpu(H * W, "conv3x3 H*W");
    blas_dim_cpu(9 * (Cin > Cout ? Cin : Cout), "conv3x3 9*channels");
}

void conv3x3_fwd_cpu(float *out, const float *in, const float *w, const float *bias, int64_t B,
                     int64_t Cin, int64_t Cout, int64_t H, int64_t W, float *ws) {
    conv_dims(B, Cin, Cout, H, W);
    const int64_t HW = H * W, K9 = 9 * Cin;
    if (B == 0 || Cout == 0 || HW == 0) return;
    /* bias (or zero where there is no input to multiply) first; the GEMMs then add to it */
    if (bias || Cin == 0) {
#pragma omp parallel for collapse(2) schedule(static) if (B * Cout * HW > PAR_MIN)
        for (int64_t b = 0; b < B; b++)
            for (int64_t co = 0; co < Cout; co++) {
                float *o = out + (b * Cout + co) * HW;
                const float v = bias ? bias[co] : 0.0f;
                for (int64_t i = 0; i < HW; i++) o[i] = v;
            }
    }
    if (Cin == 0) return;
    const int64_t rows = conv3x3_band_rows(Cin, Cout, H, W);
    const float beta = bias ? 1.0f : 0.0f; /* beta 0: BLAS ignores what out held (even NaN) */
    const int m = (int)Cout, k = (int)K9, ldc = (int)HW;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h0 = 0; h0 < H; h0 += rows) {
            const int64_t h1 = h0 + rows < H ? h0 + rows : H;
            const int n = (int)((h1 - h0) * W);
            im2col3(ws, in + b * Cin * HW, Cin, H, W, h0, h1);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, w, k, ws, n,
                        beta, out + b * Cout * HW + h0 * W, ldc);
        }
}

void conv3x3_bwd_cpu(float *din, float *dw, float *dbias, const float *dout, const float *in,
                     const float *w, int64_t B, int64_t Cin, int64_t Cout, int64_t H, int64_t W,
                     float *ws) {
    conv_dims(B, Cin, Cout, H, W);
    const int64_t HW = H * W;
    if (B == 0 || Cout == 0 || HW == 0) return;
    if (dbias) {
        /* one output channel per task, samples then pixels in order: thread-count independent */
#pragma omp parallel for schedule(static) if (B * Cout * HW > PAR_MIN)
        for (int64_t co = 0; co < Cout; co++) {
            double acc = 0.0;
            for (int64_t b = 0; b < B; b++) {
                const float *g = dout + (b * Cout + co) * HW;
                double s = 0.0;
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < HW; i++) s += g[i];
                acc += s;
            }
            dbias[co] += (float)acc;
        }
    }
    if (Cin == 0 || (!din && !dw)) return;
    const int64_t rows = conv3x3_band_rows(Cin, Cout, H, W);
    float *wt = ws, *col = ws + 9 * Cin * Cout;
    if (din) {
        /* wt[ci, co*9 + k] = w[co, ci, 8-k]: din = conv3x3(dout, wt) (kh -> 2-kh, kw -> 2-kw) */
#pragma omp parallel for schedule(static) if (9 * Cin * Cout > PAR_MIN)
        for (int64_t ci = 0; ci < Cin; ci++)
            for (int64_t co = 0; co < Cout; co++)
                for (int k = 0; k < 9; k++)
                    wt[(ci * Cout + co) * 9 + k] = w[(co * Cin + ci) * 9 + (8 - k)];
    }
    const int ci_ = (int)Cin, co_ = (int)Cout, k9in = (int)(9 * Cin), k9out = (int)(9 * Cout),
              ld = (int)HW;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h0 = 0; h0 < H; h0 += rows) {
            const int64_t h1 = h0 + rows < H ? h0 + rows : H;
            const int n = (int)((h1 - h0) * W);
            const float *g = dout + b * Cout * HW + h0 * W; /* [Cout, n] of ld HW */
            if (dw) { /* dw [Cout, 9 Cin] += dout_band [Cout, n] col^T [n, 9 Cin] */
                im2col3(col, in + b * Cin * HW, Cin, H, W, h0, h1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, co_, k9in, n, 1.0f, g, ld,
                            col, n, 1.0f, dw, k9in);
            }
            if (din) { /* din_band [Cin, n] += wt [Cin, 9 Cout] im2col(dout) [9 Cout, n] */
                im2col3(col, dout + b * Cout * HW, Cout, H, W, h0, h1);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ci_, n, k9out, 1.0f, wt,
                            k9out, col, n, 1.0f, din + b * Cin * HW + h0 * W, ld);
            }
        }
}

/* ---------------------------------------------------------------- pixel shuffle */

/* One bijection for both directions: fwd out = in; bwd din += dout. Every task owns whole
 * output rows, and through the bijection the input cells they map to. */
static void shuffle(float *img /* [B,C*r*r,H,W] */, float *big /* [B,C,H*r,W*r] */, int64_t B,
                    int64_t C, int64_t H, int64_t W, int r, int to_big) {
    CHECK(r >= 1, "pixel_shuffle: factor r = %d", r);
    CHECK(B >= 0 && C >= 0 && H >= 0 && W >= 0, "pixel_shuffle: negative size");
    const int64_t rr = (int64_t)r * r, Ho = H * r, Wo = W * r, plane = H * W;
#pragma omp parallel for collapse(2) schedule(static) if (B * C * rr * plane > PAR_MIN)
    for (int64_t bc = 0; bc < B * C; bc++)
        for (int64_t oh = 0; oh < Ho; oh++) {
            const int64_t h = oh / r, i = oh % r;
            float *o = big + (bc * Ho + oh) * Wo;
            float *s = img + ((bc * rr + i * r) * H + h) * W; /* channel c*r*r + i*r, row h */
            if (to_big) {
                for (int64_t x = 0; x < W; x++)
                    for (int j = 0; j < r; j++) o[x * r + j] = s[j * plane + x];
            } else {
                for (int64_t x = 0; x < W; x++)
                    for (int j = 0; j < r; j++) s[j * plane + x] += o[x * r + j];
            }
        }
}

void pixel_shuffle_fwd_cpu(float *out, const float *in, int64_t B, int64_t C, int64_t H,
                           int64_t W, int r) {
    /* the cast is safe: with to_big set, img is only read */
    shuffle((float *)in, out, B, C, H, W, r, 1);
}

void pixel_shuffle_bwd_cpu(float *din, const float *dout, int64_t B, int64_t C, int64_t H,
                           int64_t W, int r) {
    /* likewise: without to_big, big is only read */
    shuffle(din, (float *)dout, B, C, H, W, r, 0);
}

/* ---------------------------------------------------------------- total variation */

static inline float sgnf(float t) { return (float)(t > 0.0f) - (float)(t < 0.0f); }

/* One cell x = c[w] of a row: returns the TV gradient at it (all eight pairs it belongs to,
 * unscaled) and adds the pairs it starts (down, right, down-right, down-left) to *s1 (the
 * axis pairs) and *s2 (the diagonal ones). u and d are the rows above and below (c itself at
 * the grid's edge), wl and wr the left and right columns (w itself at the edge); the f factors
 * are 1 where that neighbour exists, else 0 and the pair drops out. */
static inline float tv_cell(const float *u, const float *c, const float *d, int64_t w,
                            int64_t wl, int64_t wr, float fu, float fd, float fl, float fr,
                            float *s1, float *s2) {
    const float x = c[w];
    const float tdn = d[w] - x, tr = c[wr] - x, tdr = d[wr] - x, tdl = d[wl] - x;
    const float tup = x - u[w], tl = x - c[wl], tul = x - u[wl], tur = x - u[wr];
    *s1 = fd * fabsf(tdn) + fr * fabsf(tr);
    *s2 = fd * fr * fabsf(tdr) + fd * fl * fabsf(tdl);
    const float axis = fu * sgnf(tup) - fd * sgnf(tdn) + fl * sgnf(tl) - fr * sgnf(tr);
    const float diag = fu * fl * sgnf(tul) + fu * fr * sgnf(tur) - fd * fr * sgnf(tdr) -
                       fd * fl * sgnf(tdl);
    return axis + 0.7f * diag;
}

/* Fixed chunk count (not one per thread) keeps the loss independent of the thread count. */
enum { TV_CHUNKS = 64 };

float tv_loss_cpu(float *dimg, const float *img, const float *vw, int B, int V, int H, int W,
                  double denom, float dloss) {
    CHECK(denom > 0.0, "tv_loss: denominator %g must be positive", denom);
    const int64_t rows = (int64_t)B * V * H;
    if (rows <= 0 || W <= 0) return 0.0f;
    double part[TV_CHUNKS];
#pragma omp parallel for schedule(static) if (rows * W > PAR_MIN)
    for (int ch = 0; ch < TV_CHUNKS; ch++) {
        const int64_t r0 = rows * ch / TV_CHUNKS, r1 = rows * (ch + 1) / TV_CHUNKS;
        double acc = 0.0;
        for (int64_t r = r0; r < r1; r++) {
            const int h = (int)(r % H), v = (int)((r / H) % V);
            const float *c = img + r * W;
            const float *u = h > 0 ? c - W : c, *d = h < H - 1 ? c + W : c;
            const float fu = h > 0 ? 1.0f : 0.0f, fd = h < H - 1 ? 1.0f : 0.0f;
            const double wv = vw ? (double)vw[v] : 1.0;
            const float s = (float)((double)dloss * wv / denom);
            float *g = dimg ? dimg + r * W : NULL;
            double a1 = 0.0, a2 = 0.0;
            float t1, t2, gc;
            /* the two edge columns with their flags; the interior without */
            gc = tv_cell(u, c, d, 0, 0, W > 1 ? 1 : 0, fu, fd, 0.0f, W > 1 ? 1.0f : 0.0f, &t1, &t2);
            a1 += t1, a2 += t2;
            if (g) g[0] += s * gc;
            if (W > 1) {
                gc = tv_cell(u, c, d, W - 1, W - 2, W - 1, fu, fd, 1.0f, 0.0f, &t1, &t2);
                a1 += t1, a2 += t2;
                if (g) g[W - 1] += s * gc;
            }
            if (g) {
#pragma omp simd reduction(+ : a1, a2)
                for (int64_t x = 1; x < W - 1; x++) {
                    float q1, q2;
                    g[x] += s * tv_cell(u, c, d, x, x - 1, x + 1, fu, fd, 1.0f, 1.0f, &q1, &q2);
                    a1 += q1, a2 += q2;
                }
            } else {
#pragma omp simd reduction(+ : a1, a2)
                for (int64_t x = 1; x < W - 1; x++) {
                    float q1, q2;
                    (void)tv_cell(u, c, d, x, x - 1, x + 1, fu, fd, 1.0f, 1.0f, &q1, &q2);
                    a1 += q1, a2 += q2;
                }
            }
            acc += wv * (a1 + 0.7 * a2);
        }
        part[ch] = acc;
    }
    double tv = 0.0;
    for (int ch = 0; ch < TV_CHUNKS; ch++) tv += part[ch];
    return (float)(tv / denom);
}
