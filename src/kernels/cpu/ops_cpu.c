/* CPU kernels: memory, linear layers (OpenBLAS), LayerNorm, exact GELU, elementwise ops and
 * AdamW. Semantics: kernels/kernels.h. Determinism rules: kernels/cpu/ops_cpu.h. */
#include "kernels/cpu/ops_cpu.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/check.h"

/* Elementwise ops split memory traffic into chunks of this many floats (4 MiB). */
#define MEM_CHUNK ((int64_t)1 << 20)

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int blas_dim_cpu(int64_t n, const char *what) {
    CHECK(n >= 0 && n <= INT_MAX, "%s = %lld does not fit the BLAS int; split the call", what,
          (long long)n);
    return (int)n;
}

/* ---------------------------------------------------------------- memory */

void *alloc_cpu(size_t bytes) { return xaligned(bytes); }

void free_cpu(void *p) { free(p); }

/* Large buffers are touched by all threads so that pages land near the cores that use them. */
void zero_cpu(float *x, int64_t n) {
    if (n <= 0) return;
    int64_t nc = (n + MEM_CHUNK - 1) / MEM_CHUNK;
#pragma omp parallel for schedule(static) if (nc > 1)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * MEM_CHUNK, len = n - i0 < MEM_CHUNK ? n - i0 : MEM_CHUNK;
        memset(x + i0, 0, (size_t)len * sizeof(float));
    }
}

void copy_cpu(float *dst, const float *src, int64_t n) {
    if (n <= 0 || dst == src) return;
    int64_t nc = (n + MEM_CHUNK - 1) / MEM_CHUNK;
#pragma omp parallel for schedule(static) if (nc > 1)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * MEM_CHUNK, len = n - i0 < MEM_CHUNK ? n - i0 : MEM_CHUNK;
        memcpy(dst + i0, src + i0, (size_t)len * sizeof(float));
    }
}

/* Host and device memory are the same on the CPU backend. */
void upload_cpu(float *dst, const float *host, int64_t n) { copy_cpu(dst, host, n); }
void download_cpu(float *host, const float *src, int64_t n) { copy_cpu(host, src, n); }

/* ---------------------------------------------------------------- column sums */

enum { CS_MAXW = 64 };

/* Width of the column blocks: wide for vector loads, narrower when there are too few blocks
 * to keep the threads busy. Results do not depend on it (each column sums alone). */
static int64_t col_block(int64_t n) {
    int64_t w = CS_MAXW, want = 2 * (int64_t)max_threads();
    while (w > 8 && (n + w - 1) / w < want) w /= 2;
    return w;
}

void colsum_cpu(float *sum, float *sum2, float *wsum, const float *wb, const float *x,
                int64_t nb, int64_t bstride, int64_t nr, int64_t ld, int64_t n) {
    if (n <= 0 || (!sum && !sum2 && !wsum)) return;
    int64_t cw = col_block(n), nblk = (n + cw - 1) / cw;
#pragma omp parallel for schedule(static) if (nb * nr * n > PAR_MIN)
    for (int64_t k = 0; k < nblk; k++) {
        int64_t j0 = k * cw, w = n - j0 < cw ? n - j0 : cw;
        double acc[CS_MAXW] = {0}, accw[CS_MAXW] = {0};
        for (int64_t b = 0; b < nb; b++) {
            double t[CS_MAXW] = {0};
            for (int64_t r = 0; r < nr; r++) {
                const float *row = x + b * bstride + r * ld + j0;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) t[j] += row[j];
            }
            for (int64_t j = 0; j < w; j++) acc[j] += t[j];
            if (wsum)
                for (int64_t j = 0; j < w; j++) accw[j] += (double)wb[b] * t[j];
        }
        for (int64_t j = 0; j < w; j++) {
            if (sum) sum[j0 + j] += (float)acc[j];
            if (sum2) sum2[j0 + j] += (float)acc[j];
            if (wsum) wsum[j0 + j] += (float)accw[j];
        }
    }
}

/* ---------------------------------------------------------------- linear */

void linear_fwd_cpu(float *out, const float *in, const float *w, const float *bias, int64_t M,
                    int64_t K, int64_t N, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (bias) {
#pragma omp parallel for schedule(static) if (M * N > PAR_MIN)
        for (int64_t i = 0; i < M; i++) {
            float *o = out + i * N;
            if (accumulate)
                for (int64_t j = 0; j < N; j++) o[j] += bias[j];
            else
                memcpy(o, bias, (size_t)N * sizeof(float));
        }
    }
    if (K <= 0) {
        if (!bias && !accumulate) zero_cpu(out, M * N);
        return;
    }
    /* beta = 0 only when nothing was put in out: BLAS then ignores its old contents. */
    float beta = (bias || accumulate) ? 1.0f : 0.0f;
    int m = blas_dim_cpu(M, "linear M"), k = blas_dim_cpu(K, "linear K"), nn = blas_dim_cpu(N, "linear N");
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, nn, k, 1.0f, in, k, w, k, beta, out,
                nn);
}

void linear_bwd_cpu(float *din, float *dw, float *dbias, const float *dout, const float *in,
                    const float *w, int64_t M, int64_t K, int64_t N) {
    if (M <= 0 || N <= 0) return;
    if (K > 0) {
        int m = blas_dim_cpu(M, "linear M"), k = blas_dim_cpu(K, "linear K"),
            nn = blas_dim_cpu(N, "linear N");
        if (din)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, nn, 1.0f, dout, nn, w,
                        k, 1.0f, din, k);
        if (dw)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, nn, k, m, 1.0f, dout, nn, in, k,
                        1.0f, dw, k);
    }
    if (dbias) colsum_cpu(dbias, NULL, NULL, NULL, dout, 1, 0, M, N, N);
}

/* ---------------------------------------------------------------- layernorm */

void layernorm_fwd_cpu(float *out, float *mean, float *rstd, const float *in, const float *w,
                       const float *b, int64_t M, int64_t C, float eps) {
#pragma omp parallel for schedule(static) if (M * C > PAR_MIN)
    for (int64_t r = 0; r < M; r++) {
        const float *x = in + r * C;
        float *o = out + r * C;
        /* Two passes in double: the one-pass E[x^2]-E[x]^2 form cancels badly when |mean|
         * dominates the spread, which residual streams do reach. */
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < C; c++) s += x[c];
        float mu = (float)(s / (double)C);
        double s2 = 0.0;
#pragma omp simd reduction(+ : s2)
        for (int64_t c = 0; c < C; c++) {
            double d = (double)(x[c] - mu);
            s2 += d * d;
        }
        float rs = (float)(1.0 / sqrt(s2 / (double)C + (double)eps));
#pragma omp simd
        for (int64_t c = 0; c < C; c++) o[c] = (x[c] - mu) * rs * w[c] + b[c];
        if (mean) mean[r] = mu;
        if (rstd) rstd[r] = rs;
    }
}

void layernorm_bwd_cpu(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, const float *mean, const float *rstd, int64_t M,
                       int64_t C) {
    if (M <= 0 || C <= 0) return;
    if (din) {
#pragma omp parallel for schedule(static) if (M * C > PAR_MIN)
        for (int64_t r = 0; r < M; r++) {
            const float *x = in + r * C, *dy = dout + r * C;
            float *dx = din + r * C;
            float mu = mean[r], rs = rstd[r];
            double sa = 0.0, sb = 0.0;
#pragma omp simd reduction(+ : sa, sb)
            for (int64_t c = 0; c < C; c++) {
                float g = dy[c] * w[c];
                sa += g;
                sb += (double)(g * ((x[c] - mu) * rs));
            }
            float ma = (float)(sa / (double)C), mb = (float)(sb / (double)C);
#pragma omp simd
            for (int64_t c = 0; c < C; c++) {
                float xh = (x[c] - mu) * rs;
                dx[c] += rs * (dy[c] * w[c] - ma - xh * mb);
            }
        }
    }
    if (!dw && !db) return;
    /* Weight gradients reduce over rows; splitting the columns instead of the rows keeps
     * the summation order fixed without per-thread partial buffers. */
    int64_t cw = col_block(C), nblk = (C + cw - 1) / cw;
#pragma omp parallel for schedule(static) if (M * C > PAR_MIN)
    for (int64_t k = 0; k < nblk; k++) {
        int64_t j0 = k * cw, wd = C - j0 < cw ? C - j0 : cw;
        double aw[CS_MAXW] = {0}, ab[CS_MAXW] = {0};
        for (int64_t r = 0; r < M; r++) {
            const float *x = in + r * C + j0, *dy = dout + r * C + j0;
            float mu = mean[r], rs = rstd[r];
#pragma omp simd
            for (int64_t j = 0; j < wd; j++) {
                aw[j] += (double)(dy[j] * ((x[j] - mu) * rs));
                ab[j] += dy[j];
            }
        }
        for (int64_t j = 0; j < wd; j++) {
            if (dw) dw[j0 + j] += (float)aw[j];
            if (db) db[j0 + j] += (float)ab[j];
        }
    }
}

/* ---------------------------------------------------------------- GELU
 * libm's erff does not vectorize (and differs between libms), so the normal CDF is computed
 * here with branch-free polynomials that the compiler turns into SIMD code:
 *   |x| <= 1.5:      Phi(x) = 1/2 + x P(x^2)                  (absolute error ~1 ulp of 1/2)
 *   1.5 < |x| <= 10: Phi(-|x|) = pdf(x) R(1/|x|)  (R = Mills ratio; relative error < 4e-7)
 *   |x| > 10:        Phi(-|x|) = 0                            (true value < 8e-24)
 * Unlike x/2 (1 + erf(x/sqrt 2)) in float, the lower tail keeps its relative accuracy.
 * P and R are Chebyshev interpolants (degree 8 and 12) rewritten as polynomials in the
 * interval variable t in [-1,1]. */

static inline uint32_t f2u(float f) {
    union { float f; uint32_t u; } c;
    c.f = f;
    return c.u;
}
static inline float u2f(uint32_t u) {
    union { float f; uint32_t u; } c;
    c.u = u;
    return c.f;
}

/* c ? a : b as a bit blend. Written as ?: (or fmaxf), GCC sinks one side's arithmetic into
 * a branch or specializes the code for a constant side, and with -ftrapping-math (the
 * default) it will then not if-convert the branch back: the loop stays scalar (10x slower). */
static inline float blendf(int c, float a, float b) {
    uint32_t m = 0u - (uint32_t)c;
    return u2f((f2u(a) & m) | (f2u(b) & ~m));
}

/* -std=c11 turns off FP contraction, so the polynomial steps ask for fused multiply-adds
 * explicitly where the target has them (FP_FAST_FMAF); elsewhere fmaf would be a libm call. */
#ifdef FP_FAST_FMAF
#define MADD(a, b, c) fmaf(a, b, c)
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

/* exp(y) for y <= 0: 2^n e^r with |r| <= ln2/2, Taylor to r^7. y is clamped at -80 so that
 * every result stays a normal float (denormal operands are slow on x86); GELU only needs
 * the density down to exp(-50). */
static inline float exp_nonpos(float y) {
    y = blendf(y > -80.0f, y, -80.0f);
    /* Truncation of z - 1/2 rounds z <= 0 to nearest; it vectorizes, unlike rintf. */
    int32_t n = (int32_t)(y * 1.44269504089f - 0.5f);
    float fn = (float)n;
    float r = (y - fn * 0.693359375f) + fn * 2.12194440e-4f; /* Cody-Waite ln2 split */
    float e = 1.0f / 5040.0f;
    e = MADD(e, r, 1.0f / 720.0f);
    e = MADD(e, r, 1.0f / 120.0f);
    e = MADD(e, r, 1.0f / 24.0f);
    e = MADD(e, r, 1.0f / 6.0f);
    e = MADD(e, r, 0.5f);
    e = MADD(e, r, 1.0f);
    e = MADD(e, r, 1.0f);
    return e * u2f((uint32_t)(n + 127) << 23);
}

/* Standard normal density exp(-x^2/2)/sqrt(2 pi). */
static inline float norm_pdf(float x) { return 0.398942280401f * exp_nonpos(-0.5f * x * x); }

/* Standard normal CDF Phi(x), given pd = norm_pdf(x) (GELU backward needs both). */
static inline float norm_cdf(float x, float pd) {
    float ax = fabsf(x);
    /* central: t = x^2 / (1.5^2 / 2) - 1 */
    float t = MADD(x * x, 2.0f / 2.25f, -1.0f);
    float P = 3.55413753e-09f;
    P = MADD(P, t, -5.77845521e-08f);
    P = MADD(P, t, 8.31005059e-07f);
    P = MADD(P, t, -1.06036994e-05f);
    P = MADD(P, t, 0.000117137414f);
    P = MADD(P, t, -0.00109711852f);
    P = MADD(P, t, 0.00850878711f);
    P = MADD(P, t, -0.0539657606f);
    P = MADD(P, t, 0.335241981f);
    float central = MADD(x, P, 0.5f);
    /* tail: s = 1/|x| in [0.1, 2/3] mapped to t in [-1, 1] */
    float s = 1.0f / blendf(ax > 1.5f, ax, 1.5f);
    float ts = MADD(s, 2.0f / (2.0f / 3.0f - 0.1f), -(2.0f / 3.0f + 0.1f) / (2.0f / 3.0f - 0.1f));
    float R = 7.07533908e-07f;
    R = MADD(R, ts, 9.94810399e-07f);
    R = MADD(R, ts, -9.724967e-06f);
    R = MADD(R, ts, 1.91355839e-05f);
    R = MADD(R, ts, -1.47064117e-05f);
    R = MADD(R, ts, -4.68213435e-05f);
    R = MADD(R, ts, 0.00029885585f);
    R = MADD(R, ts, -0.000934484356f);
    R = MADD(R, ts, 0.00154407932f);
    R = MADD(R, ts, 0.00260174697f);
    R = MADD(R, ts, -0.0366264551f);
    R = MADD(R, ts, 0.206752949f);
    R = MADD(R, ts, 0.342229361f);
    float lower = blendf(ax > 10.0f, 0.0f, R * pd); /* Phi(-|x|) */
    float tail = blendf(x > 0.0f, 1.0f - lower, lower);
    return blendf(ax <= 1.5f, central, tail);
}

void gelu_fwd_cpu(float *out, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float x = in[i];
        out[i] = x * norm_cdf(x, norm_pdf(x));
    }
}

void gelu_bwd_cpu(float *din, const float *dout, const float *in, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float x = in[i], pd = norm_pdf(x);
        din[i] += dout[i] * (norm_cdf(x, pd) + x * pd);
    }
}

void add_inplace_cpu(float *y, const float *x, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void lerp_cpu(float *y, const float *x, float a, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) y[i] += a * (x[i] - y[i]);
}

/* ---------------------------------------------------------------- optimizer */

/* A fixed number of chunks (not one per thread) keeps the sum independent of the thread
 * count. */
enum { SUMSQ_CHUNKS = 64 };

double sumsq_cpu(const float *x, int64_t n) {
    if (n <= 0) return 0.0;
    double part[SUMSQ_CHUNKS];
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int c = 0; c < SUMSQ_CHUNKS; c++) {
        int64_t i0 = n * c / SUMSQ_CHUNKS, i1 = n * (c + 1) / SUMSQ_CHUNKS;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = i0; i < i1; i++) s += (double)x[i] * (double)x[i];
        part[c] = s;
    }
    double s = 0.0;
    for (int c = 0; c < SUMSQ_CHUNKS; c++) s += part[c];
    return s;
}

void scale_cpu(float *x, float s, int64_t n) {
#pragma omp parallel for simd schedule(static) if (parallel : n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

void adamw_cpu(float *p, float *m, float *v, const float *g, int64_t n, float lr, float b1,
               float b2, float eps, float wd, float bc1, float bc2) {
    const float decay = 1.0f - lr * wd;
    /* no simd: sqrtf may set errno, so compilers keep it scalar without -fno-math-errno;
     * the loop is bound by its 28 bytes of memory traffic per parameter anyway */
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}
