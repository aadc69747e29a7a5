/* The vector building blocks of the CPU flash attention (flash_impl.h includes this, once
 * per instruction set, with LANES defined): GCC/Clang vector types, 2^x, the register-blocked
 * tile products and a row copy. */
#ifndef LANES
#error "define LANES before including flash_vec.h"
#endif
#include <stdint.h>
#include <string.h>

#define AI static inline __attribute__((always_inline))

/* Vectors per column group in the forward's softmax loops: 4 where there are 32 vector
   registers (AVX-512), 2 with 16 (AVX2, SSE: 4 groups' max, sum and the exp's constants
   did not fit and spilled). */
#if LANES == 16
#define SM_N 4
#define SM_V(X) X(0) X(1) X(2) X(3)
#else
#define SM_N 2
#define SM_V(X) X(0) X(1)
#endif

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* ---- vectors ----
 * GCC/Clang vector types of LANES floats: the compiler maps them onto the target's registers
 * (one zmm, one ymm, or two xmm), and named vector variables stay in registers where arrays
 * that loops index may not. Loads and stores go through memcpy: no alignment is assumed. */
typedef float vf __attribute__((vector_size(4 * LANES)));
typedef int32_t vi __attribute__((vector_size(4 * LANES)));

AI vf vload(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
AI void vstore(float *p, vf v) { memcpy(p, &v, sizeof v); }
AI vf vsplat(float x) { return (vf){0} + x; }
AI vf vmax(vf a, vf b) {
    const vi gt = a > b;
    return (vf)((gt & (vi)a) | (~gt & (vi)b));
}

/* 2^x on every lane for x <= 127, within 1 ulp (exact at 0); below -126.5 it gives 0, which is
   what the softmax wants for -inf. Softmax arguments are <= 0, so there is no upper clamp
   (larger x give garbage). The polynomial for 2^f on [-0.5, 0.5] is Cephes exp2f's; its
   steps p * f + c become FMAs where the target has them (the kernel files are compiled with
   -ffp-contract=fast, CMakeLists.txt). */
AI vf vexp2(vf x) {
    x = vmax(x, vsplat(-127.0f));
    const vf t = x + 0x1.8p23f; /* round to nearest integer: n sits in t's low bits */
    const vf n = t - 0x1.8p23f;
    const vf f = x - n;
    vf p = vsplat(1.535336188319500e-4f);
    p = p * f + 1.339887440266574e-3f;
    p = p * f + 9.618437357674640e-3f;
    p = p * f + 5.550332471162809e-2f;
    p = p * f + 2.402264791363012e-1f;
    p = p * f + 6.931472028550421e-1f;
    p = p * f + 1.0f;
    const vi eb = ((vi)t + 127) << 23; /* (n + 127) << 23: the bits of 2^n */
    return p * (vf)eb;
}

/* ---- register-blocked tile product ----
 * C[r][h*LANES + j] (r < NR, h < NC, j < LANES; row stride ldc) =
 *     init + sum_{k<K} A(r,k) * Bm[k*ldb + h*LANES + j],   A(r,k) = A[r*ars + k*aks]
 * init: MODE_ZERO 0, MODE_ACC C, MODE_COLSCALE cscale[col] * C.
 * Rows r >= nrow are neither read nor stored (their A row is clamped to a valid one).
 * Each step loads the NC vectors of B once and broadcasts A(r,k) against them, row by row. */
enum { MODE_ZERO, MODE_ACC, MODE_COLSCALE };

#define SHAPE_4x4(X) X(0,0) X(0,1) X(0,2) X(0,3) X(1,0) X(1,1) X(1,2) X(1,3) \
                     X(2,0) X(2,1) X(2,2) X(2,3) X(3,0) X(3,1) X(3,2) X(3,3)
#define SHAPE_8x2(X) X(0,0) X(0,1) X(1,0) X(1,1) X(2,0) X(2,1) X(3,0) X(3,1) \
                     X(4,0) X(4,1) X(5,0) X(5,1) X(6,0) X(6,1) X(7,0) X(7,1)
#define SHAPE_16x1(X) X(0,0) X(1,0) X(2,0) X(3,0) X(4,0) X(5,0) X(6,0) X(7,0) \
                      X(8,0) X(9,0) X(10,0) X(11,0) X(12,0) X(13,0) X(14,0) X(15,0)
#define SHAPE_6x2(X) X(0,0) X(0,1) X(1,0) X(1,1) X(2,0) X(2,1) X(3,0) X(3,1) \
                     X(4,0) X(4,1) X(5,0) X(5,1)
#define SHAPE_4x2(X) X(0,0) X(0,1) X(1,0) X(1,1) X(2,0) X(2,1) X(3,0) X(3,1)
#define COLS_4(X) X(0) X(1) X(2) X(3)
#define COLS_2(X) X(0) X(1)
#define COLS_1(X) X(0)

#define BLK_INIT(r, h)                                                                    \
    vf acc##r##_##h = (mode == MODE_ZERO || (r) >= nrow) ? vsplat(0.0f)                   \
                    : mode == MODE_ACC ? vload(C + (int64_t)(r) * ldc + (h) * LANES)      \
                    : vload(cscale + (h) * LANES) * vload(C + (int64_t)(r) * ldc + (h) * LANES);
#define BLK_LOADB(h) const vf b##h = vload(b + (h) * LANES);
#define BLK_FMA(r, h) acc##r##_##h += a##r * b##h;
#define BLK_STORE(r, h) \
    if ((r) < nrow) vstore(C + (int64_t)(r) * ldc + (h) * LANES, acc##r##_##h);

#define DEFINE_BLOCK(NAME, NR, SHAPE, COLS)                                               \
    AI void NAME(float *restrict C, int64_t ldc, int nrow, const float *restrict A,       \
                 int64_t ars, int64_t aks, const float *restrict Bm, int64_t ldb, int K,  \
                 int mode, const float *restrict cscale) {                                \
        const float *ar[NR];                                                              \
        for (int r = 0; r < NR; r++) ar[r] = A + (int64_t)(r < nrow ? r : nrow - 1) * ars; \
        SHAPE(BLK_INIT)                                                                   \
        for (int k = 0; k < K; k++) {                                                     \
            const float *b = Bm + (int64_t)k * ldb;                                       \
            COLS(BLK_LOADB)                                                               \
            SHAPE(BLK_ROWFMA)                                                             \
        }                                                                                 \
        SHAPE(BLK_STORE)                                                                  \
    }
/* one FMA per (row, vector); the compiler reads and broadcasts each row's A value once */
#define BLK_ROWFMA(r, h) { const float a##r = ar[r][(int64_t)k * aks]; BLK_FMA(r, h) }

#if LANES == 16
/* 16 zmm accumulators: 4 rows x 64 columns, or 8 x 32, or 16 x 16 */
DEFINE_BLOCK(blk_wide, 4, SHAPE_4x4, COLS_4)
DEFINE_BLOCK(blk_mid, 8, SHAPE_8x2, COLS_2)
DEFINE_BLOCK(blk_narrow, 16, SHAPE_16x1, COLS_1)
#define WIDE_ROWS 4
#define WIDE_COLS 64
#define TAIL_ROWS 0 /* blocks of 4 rows waste at most 3 */
#define blk_tail blk_wide
#define MID_ROWS 8
#define NARROW_ROWS 16
#elif LANES == 8 || LANES == 4
/* 12 accumulators as 6 rows x 2 vectors, the two B vectors of a step held in registers for
   the six rows: 15 of the 16 ymm (AVX2) or xmm (SSE, NEON) registers; a wider block would
   reload B for every row */
DEFINE_BLOCK(blk_wide, 6, SHAPE_6x2, COLS_2)
/* the last rows when 6 does not divide the count (64 = 10*6 + 4): a 6-row block there
   would spend a third of its FMAs on rows it does not store */
DEFINE_BLOCK(blk_tail, 4, SHAPE_4x2, COLS_2)
#define WIDE_ROWS 6
#define WIDE_COLS (2 * LANES)
#define TAIL_ROWS 4
#else
#error "LANES must be 4, 8 or 16"
#endif

/* C[R][64] (op)= A(R x K) . Bm[K][64]: the shape of every product with 64 vector columns. */
AI void mm64(float *restrict C, int64_t ldc, int R, const float *restrict A, int64_t ars,
             int64_t aks, const float *restrict Bm, int64_t ldb, int K, int mode,
             const float *restrict cscale) {
    for (int c0 = 0; c0 < 64; c0 += WIDE_COLS) {
        int r = 0;
        for (; r < R - TAIL_ROWS; r += WIDE_ROWS)
            blk_wide(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                     Bm + c0, ldb, K, mode, cscale ? cscale + c0 : NULL);
        if (r < R)
            blk_tail(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                     Bm + c0, ldb, K, mode, cscale ? cscale + c0 : NULL);
    }
}

/* C[R][dp] += A(R x K) . Bm[K][dp], dp a multiple of 16: wide column blocks, then narrower
   remainders with taller blocks so each still fills the accumulators. */
AI void mm_acc_dp(float *restrict C, int64_t ldc, int R, const float *restrict A, int64_t ars,
                  int64_t aks, const float *restrict Bm, int64_t ldb, int K, int dp) {
    int c0 = 0;
    for (; c0 + WIDE_COLS <= dp; c0 += WIDE_COLS) {
        int r = 0;
        for (; r < R - TAIL_ROWS; r += WIDE_ROWS)
            blk_wide(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                     Bm + c0, ldb, K, MODE_ACC, NULL);
        if (r < R)
            blk_tail(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                     Bm + c0, ldb, K, MODE_ACC, NULL);
    }
#if LANES == 16
    if (dp - c0 >= 32) {
        for (int r = 0; r < R; r += MID_ROWS)
            blk_mid(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                    Bm + c0, ldb, K, MODE_ACC, NULL);
        c0 += 32;
    }
    if (dp - c0 >= 16)
        for (int r = 0; r < R; r += NARROW_ROWS)
            blk_narrow(C + (int64_t)r * ldc + c0, ldc, R - r, A + (int64_t)r * ars, ars, aks,
                       Bm + c0, ldb, K, MODE_ACC, NULL);
#endif
}

/* dst[0..n) = src[0..n), inline (n is small: one head's row) */
AI void copy_row(float *restrict dst, const float *restrict src, int n) {
    int c = 0;
    for (; c + LANES <= n; c += LANES) vstore(dst + c, vload(src + c));
    for (; c < n; c++) dst[c] = src[c];
}
