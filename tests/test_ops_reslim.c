/* The Reslim head's ops in the CPU kernel table: the 3x3 convolution (every small size, images
 * taller than one im2col band, finite differences, PyTorch's values), pixel shuffle and the
 * total-variation regularizer with its gradient. Forward against plain double-precision
 * references written here, backward against central differences of them (see util_test.h) and
 * against PyTorch 1.13, accumulation semantics and each gradient NULL (not wanted). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util_ops.h"
#include "util_test.h"

static const Kernels *K;

/* ================================================================ Reslim head: 3x3 conv */

typedef struct {
    int B, Cin, Cout, H, W;
    double *in, *w, *b, *R; /* b may be NULL */
} CvCtx;

static void ref_conv3x3(double *out, const CvCtx *c) {
    const int Ci = c->Cin, Co = c->Cout, H = c->H, W = c->W;
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < Co; co++)
            for (int h = 0; h < H; h++)
                for (int x = 0; x < W; x++) {
                    double s = c->b ? c->b[co] : 0.0;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = h + kh - 1, iw = x + kw - 1;
                                if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                                    s += c->w[((co * Ci + ci) * 3 + kh) * 3 + kw] *
                                         c->in[(((int64_t)b * Ci + ci) * H + ih) * W + iw];
                            }
                    out[(((int64_t)b * Co + co) * H + h) * W + x] = s;
                }
}

/* The adjoint written as its own loops (scatter from every output), so that an index slip
 * shared with the forward reference would not cancel out. */
static void ref_conv3x3_bwd(double *din, double *dw, double *db, const double *dout,
                            const CvCtx *c) {
    const int Ci = c->Cin, Co = c->Cout, H = c->H, W = c->W;
    memset(din, 0, sizeof(double) * (size_t)c->B * Ci * H * W);
    memset(dw, 0, sizeof(double) * (size_t)Co * Ci * 9);
    memset(db, 0, sizeof(double) * (size_t)Co);
    for (int b = 0; b < c->B; b++)
        for (int co = 0; co < Co; co++)
            for (int h = 0; h < H; h++)
                for (int x = 0; x < W; x++) {
                    const double g = dout[(((int64_t)b * Co + co) * H + h) * W + x];
                    db[co] += g;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++) {
                                int ih = h + kh - 1, iw = x + kw - 1;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                int64_t ii = (((int64_t)b * Ci + ci) * H + ih) * W + iw;
                                int wi = ((co * Ci + ci) * 3 + kh) * 3 + kw;
                                din[ii] += g * c->w[wi];
                                dw[wi] += g * c->in[ii];
                            }
                }
}

static double cv_loss(void *p) {
    CvCtx *c = p;
    const int64_t n = (int64_t)c->B * c->Cout * c->H * c->W;
    double *out = tu_dalloc(n);
    ref_conv3x3(out, c);
    double l = tu_dot(out, c->R, n);
    free(out);
    return l;
}

static float *conv_ws(int B, int Ci, int Co, int H, int W) {
    int64_t n = conv3x3_ws_floats(B, Ci, Co, H, W);
    return tu_falloc(n > 0 ? n : 1);
}

/* expect = pre + g (double), the value an accumulating backward must leave */
static double *plus(const float *pre, const double *g, int64_t n) {
    double *e = tu_dalloc(n);
    for (int64_t i = 0; i < n; i++) e[i] = pre[i] + g[i];
    return e;
}

/* Forward and backward against the double loops on one shape: the forward with and without
 * bias (out pre-filled with NaN: it is overwritten), the backward with each of the 8 subsets of
 * {din, dw, dbias} wanted (pre-filled: it accumulates; in and w passed only where the subset
 * needs them, as the contract allows). Returns the worst error seen. */
static double conv_case(int B, int Ci, int Co, int H, int W, uint64_t seed, double tol) {
    const int64_t ni = (int64_t)B * Ci * H * W, nw = (int64_t)Co * Ci * 9, no = (int64_t)B * Co * H * W;
    float *in = tu_rnd(ni, seed), *w = tu_rnd(nw, seed + 1), *bias = tu_rnd(Co, seed + 2);
    float *dout = tu_rnd(no, seed + 3), *out = tu_falloc(no), *ws = conv_ws(B, Ci, Co, H, W);
    float *pi = tu_rnd(ni, seed + 4), *pw = tu_rnd(nw, seed + 5), *pb = tu_rnd(Co, seed + 6);
    CvCtx c = {B, Ci, Co, H, W, tu_to_double(in, ni), tu_to_double(w, nw), NULL, NULL};
    double *bd = tu_to_double(bias, Co), *ref = tu_dalloc(no), *dod = tu_to_double(dout, no);
    double worst = 0.0;
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        tu_fill_const(out, no, NAN);
        K->conv3x3_fwd(out, in, w, with_bias ? bias : NULL, B, Ci, Co, H, W, ws);
        c.b = with_bias ? bd : NULL;
        ref_conv3x3(ref, &c);
        worst = fmax(worst, tu_max_rel_err(out, ref, no, NULL));
        TU_ASSERT_CLOSE(out, ref, no, tol);
    }
    double *gi = tu_dalloc(ni), *gw = tu_dalloc(nw), *gb = tu_dalloc(Co);
    ref_conv3x3_bwd(gi, gw, gb, dod, &c);
    double *ei = plus(pi, gi, ni), *ew = plus(pw, gw, nw), *eb = plus(pb, gb, Co);
    float *di = tu_falloc(ni), *dw = tu_falloc(nw), *db = tu_falloc(Co);
    for (int mask = 0; mask < 8; mask++) {
        memcpy(di, pi, sizeof(float) * (size_t)ni);
        memcpy(dw, pw, sizeof(float) * (size_t)nw);
        memcpy(db, pb, sizeof(float) * (size_t)Co);
        const int wi = mask & 1, ww = mask & 2, wb = mask & 4;
        K->conv3x3_bwd(wi ? di : NULL, ww ? dw : NULL, wb ? db : NULL, dout, ww ? in : NULL,
                       wi ? w : NULL, B, Ci, Co, H, W, ws);
        if (wi) {
            worst = fmax(worst, tu_max_rel_err(di, ei, ni, NULL));
            TU_ASSERT_CLOSE(di, ei, ni, tol);
        } else {
            assert_memory_equal(di, pi, sizeof(float) * (size_t)ni);
        }
        if (ww) {
            worst = fmax(worst, tu_max_rel_err(dw, ew, nw, NULL));
            TU_ASSERT_CLOSE(dw, ew, nw, tol);
        } else {
            assert_memory_equal(dw, pw, sizeof(float) * (size_t)nw);
        }
        if (wb) {
            worst = fmax(worst, tu_max_rel_err(db, eb, Co, NULL));
            TU_ASSERT_CLOSE(db, eb, Co, tol);
        } else {
            assert_memory_equal(db, pb, sizeof(float) * (size_t)Co);
        }
    }
    free(in), free(w), free(bias), free(dout), free(out), free(ws), free(pi), free(pw), free(pb);
    free(c.in), free(c.w), free(bd), free(ref), free(dod), free(gi), free(gw), free(gb);
    free(ei), free(ew), free(eb), free(di), free(dw), free(db);
    return worst;
}

/* Every combination of H, W in {1,2,5,7}, Cin, Cout in {1,3,4}, B in {1,2}: single-row and
 * single-column images, where every tap but the centre is padding. Sums of at most 36 float
 * terms (forward, din) or 2*49 (dw, dbias): 1e-5 of the scale is float rounding with margin. */
static void test_conv3x3_sizes(void **state) {
    (void)state;
    static const int hw[] = {1, 2, 5, 7}, ch[] = {1, 3, 4};
    double worst = 0.0;
    uint64_t seed = 500;
    for (int B = 1; B <= 2; B++)
        for (int a = 0; a < 3; a++)
            for (int o = 0; o < 3; o++)
                for (int h = 0; h < 4; h++)
                    for (int x = 0; x < 4; x++, seed += 10)
                        worst = fmax(worst, conv_case(B, ch[a], ch[o], hw[h], hw[x], seed, TOL_FWD));
    if (getenv("LVIT_TEST_VERBOSE")) fprintf(stderr, "conv3x3 sizes: worst rel err %.3g\n", worst);
}

/* Images taller than one im2col band (kernels.h: about 2^18 floats), so that the bands, the
 * short last band and the GEMMs' leading dimension (H*W, not the band width) are exercised:
 * 16 -> 5 channels at 40 x 300 (6-row bands, the last 4 rows) and 3 -> 40 at 23 x 500 (Cout
 * sets the band: 1-row bands). dw sums 24000 float products: the tolerance is 1e-5 still. */
static void test_conv3x3_bands(void **state) {
    (void)state;
    assert_int_equal(conv3x3_band_rows(16, 5, 40, 300), 6);
    assert_int_equal(conv3x3_band_rows(3, 40, 23, 500), 1);
    assert_int_equal(conv3x3_band_rows(1, 1, 5, 7), 5);
    assert_int_equal(conv3x3_ws_floats(2, 16, 5, 40, 300), 9 * 16 * 5 + 9 * 16 * 6 * 300);
    double e1 = conv_case(2, 16, 5, 40, 300, 900, TOL_FWD);
    double e2 = conv_case(1, 3, 40, 23, 500, 910, TOL_FWD);
    if (getenv("LVIT_TEST_VERBOSE")) fprintf(stderr, "conv3x3 bands: worst rel err %.3g, %.3g\n", e1, e2);
}

/* Central differences of the double reference. loss = sum(out R) is linear in each of in, w
 * and bias, so the difference quotient has no truncation error at any step: h = 1e-5 leaves
 * only double rounding (~1e-16 |loss| / h ~ 1e-10 of the scale). What remains is the kernel's
 * float rounding, ~1e-7; 1e-5 catches any wrong term (each is >= 1e-2 of the scale here). */
static void test_conv3x3_grad(void **state) {
    (void)state;
    static const int shapes[][5] = {{2, 3, 4, 5, 7}, {1, 4, 3, 7, 2}, {1, 1, 2, 1, 6}};
    for (int s = 0; s < 3; s++) {
        const int B = shapes[s][0], Ci = shapes[s][1], Co = shapes[s][2], H = shapes[s][3],
                  W = shapes[s][4];
        const int64_t ni = (int64_t)B * Ci * H * W, nw = (int64_t)Co * Ci * 9, no = (int64_t)B * Co * H * W;
        float *in = tu_rnd(ni, 600 + s), *w = tu_rnd(nw, 610 + s), *bias = tu_rnd(Co, 620 + s);
        float *dout = tu_rnd(no, 630 + s), *ws = conv_ws(B, Ci, Co, H, W);
        CvCtx c = {B, Ci, Co, H, W, tu_to_double(in, ni), tu_to_double(w, nw),
                   tu_to_double(bias, Co), tu_to_double(dout, no)};
        float *di = tu_falloc(ni), *dw = tu_falloc(nw), *db = tu_falloc(Co);
        K->conv3x3_bwd(di, dw, db, dout, in, w, B, Ci, Co, H, W, ws);
        TU_ASSERT_GRAD(cv_loss, &c, c.in, di, ni, 1e-5);
        TU_ASSERT_GRAD(cv_loss, &c, c.w, dw, nw, 1e-5);
        TU_ASSERT_GRAD(cv_loss, &c, c.b, db, Co, 1e-5);
        free(in), free(w), free(bias), free(dout), free(ws), free(di), free(dw), free(db);
        free(c.in), free(c.w), free(c.b), free(c.R);
    }
}

/* PyTorch 1.13 (float32, CPU), generated once by:
 *   x = sin(0.37 i + 0.1) as [1,2,3,4], w = 0.5 cos(0.91 i) as [2,2,3,3], b = 0.1 (i+1) - 0.15,
 *   out = F.conv2d(x, w, b, padding=1); out.backward(cos(0.23 i) as out's shape)
 * PixelShuffle(2) of arange(48) as [1,8,2,3]; and the ORBIT-2 TV (torch.abs of shifted
 * differences, the diagonals weighted 0.7) of PT_TV_IMG as [1,2,3,4] with ties (equal
 * neighbours), vw = (0.8, 1.3), divided by 7, and its autograd gradient. */
static const float PT_CONV_OUT[24] = {
    -2.26443976e-01f, -4.00469601e-01f, -8.61180723e-01f, -5.69488168e-01f, -4.72734272e-01f, -3.40317100e-01f,
    -9.37484354e-02f, 1.94792390e-01f,  1.04825258e+00f,  1.37410486e+00f,  1.17010844e+00f,  9.10446167e-01f,
    3.91125411e-01f,  4.86599714e-01f,  9.28158760e-01f,  9.79020894e-01f,  5.06163836e-01f,  6.39317036e-01f,
    4.79180932e-01f,  8.69004354e-02f,  -3.94703686e-01f, -9.69961703e-01f, -7.91279852e-01f, -7.73477376e-01f};
static const float PT_CONV_DIN[24] = {
    -8.77135277e-01f, -1.35544229e+00f, -1.40887392e+00f, -6.06605768e-01f, 3.19001079e-01f,  7.34917045e-01f,
    8.46632957e-01f,  9.62542295e-01f,  1.47854054e+00f,  1.67086053e+00f,  1.52736819e+00f,  5.63993692e-01f,
    1.22821331e-02f,  7.23520637e-01f,  1.11402225e+00f,  1.23117733e+00f,  5.60579181e-01f,  4.39683080e-01f,
    4.79791522e-01f,  -6.84114099e-02f, -5.33780515e-01f, -1.49279785e+00f, -1.65824473e+00f, -1.49587250e+00f};
static const float PT_CONV_DW[36] = {
    -1.59967184e+00f, -1.20580959e+00f, -1.32394567e-01f, 2.28469539e+00f,  4.26002264e+00f,  3.90014076e+00f,
    2.37408710e+00f,  2.74786949e+00f,  1.44827509e+00f,  -8.77583146e-01f, -2.03509831e+00f, -1.79789901e+00f,
    -4.46591902e+00f, -5.14925671e+00f, -3.13178658e+00f, 7.32655704e-01f,  1.95655334e+00f,  2.34692597e+00f,
    2.66514271e-01f,  -6.44217789e-01f, -1.30060029e+00f, -3.14909840e+00f, -4.96232843e+00f, -3.98121047e+00f,
    -2.31139970e+00f, -2.23863435e+00f, -8.73006105e-01f, 1.77894127e+00f,  2.81329107e+00f,  2.06568837e+00f,
    3.68655419e+00f,  3.65957141e+00f,  1.75053620e+00f,  -1.81345236e+00f, -3.30559611e+00f, -3.21811438e+00f};
static const float PT_CONV_DB[2] = {2.57601857e+00f, -5.42941093e+00f};
static const int PT_SHUFFLE[48] = {0,  6,  1,  7,  2,  8,  12, 18, 13, 19, 14, 20, 3,  9,  4,  10,
                                   5,  11, 15, 21, 16, 22, 17, 23, 24, 30, 25, 31, 26, 32, 36, 42,
                                   37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47};
static const float PT_TV_IMG[24] = {
    0.00000000e+00f, 9.91664827e-01f,  -2.55541116e-01f, -9.25814688e-01f, 4.94113356e-01f, 9.91664827e-01f,
    9.91664827e-01f, -6.18137121e-01f, 8.59161794e-01f,  3.96740586e-01f,  -9.61397469e-01f, -1.48999020e-01f,
    9.99792874e-01f, -1.08636595e-01f, -9.71798420e-01f, 3.59058350e-01f,  8.79273057e-01f, 9.99792874e-01f,
    -7.28360772e-01f, 7.73327887e-01f, 5.29082716e-01f,  -9.09666657e-01f, -2.94671595e-01f, 9.85600293e-01f};
static const float PT_TV_LOSS = 6.66266966e+00f;
static const float PT_TV_GRAD[24] = {
    -3.08571458e-01f, 3.08571458e-01f,  -1.14285722e-01f, -3.08571458e-01f, -1.14285722e-01f, 5.48571467e-01f,
    5.82857132e-01f,  -1.14285722e-01f, 1.48571432e-01f,  -2.74285734e-01f, -5.02857149e-01f, 1.48571432e-01f,
    3.71428579e-01f,  -1.85714290e-01f, -8.17142904e-01f, 1.30000010e-01f,  7.42857009e-02f,  1.13285720e+00f,
    -6.31428599e-01f, 4.45714295e-01f,  -1.29999995e-01f, -8.17142904e-01f, -7.42857009e-02f, 5.01428604e-01f};

/* Both sides float32 with sums of at most 18 (forward, din) or 12 (dw, dbias) terms in other
 * orders: 1e-6 of the scale. */
static void test_conv3x3_torch(void **state) {
    (void)state;
    float x[24], w[36], b[2], g[24], out[24], din[24] = {0}, dw[36] = {0}, db[2] = {0};
    for (int i = 0; i < 24; i++) x[i] = (float)sin(0.37 * i + 0.1), g[i] = (float)cos(0.23 * i);
    for (int i = 0; i < 36; i++) w[i] = (float)(0.5 * cos(0.91 * i));
    for (int i = 0; i < 2; i++) b[i] = (float)(0.1 * (i + 1) - 0.15);
    float *ws = conv_ws(1, 2, 2, 3, 4);
    K->conv3x3_fwd(out, x, w, b, 1, 2, 2, 3, 4, ws);
    K->conv3x3_bwd(din, dw, db, g, x, w, 1, 2, 2, 3, 4, ws);
    TU_ASSERT_CLOSE_FF(out, PT_CONV_OUT, 24, 1e-6);
    TU_ASSERT_CLOSE_FF(din, PT_CONV_DIN, 24, 1e-6);
    TU_ASSERT_CLOSE_FF(dw, PT_CONV_DW, 36, 1e-6);
    TU_ASSERT_CLOSE_FF(db, PT_CONV_DB, 2, 1e-6);
    free(ws);
}

/* ================================================================ pixel shuffle */

typedef struct {
    int B, C, H, W, r;
    double *in, *R;
} PsCtx;

/* written from the input side: in[b, c*r*r + i*r + j, h, w] goes to out[b, c, h*r+i, w*r+j] */
static void ref_shuffle(double *out, const PsCtx *c) {
    const int r = c->r, Ho = c->H * r, Wo = c->W * r;
    for (int b = 0; b < c->B; b++)
        for (int ch = 0; ch < c->C * r * r; ch++)
            for (int h = 0; h < c->H; h++)
                for (int x = 0; x < c->W; x++) {
                    const int cc = ch / (r * r), i = (ch % (r * r)) / r, j = ch % r;
                    out[(((int64_t)b * c->C + cc) * Ho + h * r + i) * Wo + x * r + j] =
                        c->in[(((int64_t)b * c->C * r * r + ch) * c->H + h) * c->W + x];
                }
}

static double ps_loss(void *p) {
    PsCtx *c = p;
    const int64_t n = (int64_t)c->B * c->C * c->H * c->W * c->r * c->r;
    double *out = tu_dalloc(n);
    ref_shuffle(out, c);
    double l = tu_dot(out, c->R, n);
    free(out);
    return l;
}

/* A permutation: forward and backward are exact (tolerance 0, bitwise for the backward's
 * pre-filled sums). The finite differences (h = 1e-5, exact for a linear loss) check the
 * backward is the forward's adjoint. */
static void test_pixel_shuffle(void **state) {
    (void)state;
    static const int shapes[][5] = {{1, 1, 1, 1, 1}, {2, 3, 5, 7, 2}, {1, 2, 3, 4, 3},
                                    {2, 1, 1, 6, 4}, {1, 4, 32, 48, 2}};
    for (int s = 0; s < 5; s++) {
        PsCtx c = {shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4], NULL, NULL};
        const int64_t n = (int64_t)c.B * c.C * c.H * c.W * c.r * c.r;
        float *in = tu_rnd(n, 700 + s), *out = tu_falloc(n), *dout = tu_rnd(n, 710 + s);
        float *din = tu_rnd(n, 720 + s), *expect = tu_dup_f(din, n);
        c.in = tu_to_double(in, n);
        c.R = tu_to_double(dout, n);
        double *ref = tu_dalloc(n);
        tu_fill_const(out, n, NAN);
        K->pixel_shuffle_fwd(out, in, c.B, c.C, c.H, c.W, c.r);
        ref_shuffle(ref, &c);
        TU_ASSERT_CLOSE(out, ref, n, 0.0);
        /* the backward adds dout at the inverse positions: found through the forward map */
        float *idx = tu_falloc(n), *pos = tu_falloc(n);
        for (int64_t i = 0; i < n; i++) idx[i] = (float)i;
        K->pixel_shuffle_fwd(pos, idx, c.B, c.C, c.H, c.W, c.r); /* pos[o] = input index of o */
        for (int64_t o = 0; o < n; o++) expect[(int64_t)pos[o]] += dout[o];
        K->pixel_shuffle_bwd(din, dout, c.B, c.C, c.H, c.W, c.r);
        assert_memory_equal(din, expect, sizeof(float) * (size_t)n);
        float *g = tu_falloc(n);
        K->pixel_shuffle_bwd(g, dout, c.B, c.C, c.H, c.W, c.r);
        TU_ASSERT_GRAD(ps_loss, &c, c.in, g, n, 1e-7);
        free(in), free(out), free(dout), free(din), free(expect), free(c.in), free(c.R);
        free(ref), free(idx), free(pos), free(g);
    }
    /* PyTorch's PixelShuffle(2) of arange(48) as [1,8,2,3]; and by hand: out[0,1,3,4] is
     * channel 1*4 + 1*2 + 0 = 6, row 1, column 2 -> in index 6*6 + 1*3 + 2 = 41 */
    float a[48], o[48];
    for (int i = 0; i < 48; i++) a[i] = (float)i;
    K->pixel_shuffle_fwd(o, a, 1, 2, 2, 3, 2);
    for (int i = 0; i < 48; i++)
        if (o[i] != (float)PT_SHUFFLE[i]) fail_msg("pixel_shuffle[%d] = %g, PyTorch %d", i, (double)o[i], PT_SHUFFLE[i]);
    assert_true(o[(1 * 4 + 3) * 6 + 4] == 41.0f);
}

/* ================================================================ total variation */

typedef struct {
    int B, V, H, W;
    double *img, *vw, denom, dloss;
} TvCtx;

/* straight from the formula: the four pairs starting at every cell, where inside the grid */
static double ref_tv(void *p) {
    const TvCtx *c = p;
    const int H = c->H, W = c->W;
    double tv = 0.0;
    for (int bv = 0; bv < c->B * c->V; bv++) {
        const double *x = c->img + (int64_t)bv * H * W, wv = c->vw ? c->vw[bv % c->V] : 1.0;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) {
                const double x0 = x[h * W + w];
                double s = 0.0;
                if (h + 1 < H) s += fabs(x[(h + 1) * W + w] - x0);
                if (w + 1 < W) s += fabs(x[h * W + w + 1] - x0);
                if (h + 1 < H && w + 1 < W) s += 0.7 * fabs(x[(h + 1) * W + w + 1] - x0);
                if (h + 1 < H && w > 0) s += 0.7 * fabs(x[(h + 1) * W + w - 1] - x0);
                tv += wv * s;
            }
    }
    return c->dloss * tv / c->denom;
}

/* the gradient by pairs (scatter): sign(b - a) to b, minus it to a; sign(0) = 0 */
static void ref_tv_grad(double *g, const TvCtx *c) {
    const int H = c->H, W = c->W;
    static const int dh[4] = {1, 0, 1, 1}, dwc[4] = {0, 1, 1, -1};
    static const double coef[4] = {1.0, 1.0, 0.7, 0.7};
    memset(g, 0, sizeof(double) * (size_t)c->B * c->V * H * W);
    for (int bv = 0; bv < c->B * c->V; bv++) {
        const double *x = c->img + (int64_t)bv * H * W;
        double *gg = g + (int64_t)bv * H * W;
        const double s = c->dloss * (c->vw ? c->vw[bv % c->V] : 1.0) / c->denom;
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int k = 0; k < 4; k++) {
                    const int h2 = h + dh[k], w2 = w + dwc[k];
                    if (h2 >= H || w2 < 0 || w2 >= W) continue;
                    const double t = x[h2 * W + w2] - x[h * W + w];
                    const double sg = (t > 0) - (t < 0);
                    gg[h2 * W + w2] += s * coef[k] * sg;
                    gg[h * W + w] -= s * coef[k] * sg;
                }
    }
}

/* Shapes from a single cell to one larger than the parallel threshold; values on a grid of
 * quarters so that many neighbours are equal (ties: no gradient). Loss 1e-6 relative (double
 * sum of float differences); gradient 1e-6 (sums of +-1 and +-0.7 in float, then scaled). */
static void test_tv_loss(void **state) {
    (void)state;
    static const int shapes[][4] = {{1, 1, 1, 1}, {1, 1, 1, 5}, {1, 2, 5, 1}, {2, 3, 2, 2},
                                    {2, 2, 5, 7}, {1, 3, 40, 300}};
    for (int s = 0; s < 6; s++)
        for (int weighted = 0; weighted < 2; weighted++) {
            const int B = shapes[s][0], V = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
            const int64_t n = (int64_t)B * V * H * W;
            float *img = tu_falloc(n), vw[3] = {0.5f, 1.25f, 2.0f};
            TuRng r;
            tu_rng_seed(&r, 800 + s);
            for (int64_t i = 0; i < n; i++) img[i] = (float)(tu_rng_u64(&r) % 9) * 0.25f - 1.0f;
            double vwd[3] = {0.5, 1.25, 2.0};
            TvCtx c = {B, V, H, W, tu_to_double(img, n), weighted ? vwd : NULL, 0.37 * n, 1.0};
            const float dloss = 0.6f;
            float *g = tu_rnd(n, 810 + s), *pre = tu_dup_f(g, n);
            const float l0 = K->tv_loss(NULL, img, weighted ? vw : NULL, B, V, H, W, c.denom, dloss);
            const float l = K->tv_loss(g, img, weighted ? vw : NULL, B, V, H, W, c.denom, dloss);
            const double rl = ref_tv(&c);
            if (!(fabs(l - rl) <= 1e-6 * rl) || !(fabs(l0 - l) <= 1e-7 * rl))
                fail_msg("tv loss %.9g (without dimg %.9g), reference %.9g (shape %d)", (double)l,
                         (double)l0, rl, s);
            c.dloss = dloss;
            double *rg = tu_dalloc(n);
            ref_tv_grad(rg, &c);
            double *e = plus(pre, rg, n);
            TU_ASSERT_CLOSE(g, e, n, 1e-6);
            free(img), free(c.img), free(g), free(pre), free(rg), free(e);
        }
}

/* Finite differences away from the kinks: distinct values 0.01 apart (a shuffled ramp), so no
 * pair difference is below 0.01 and none changes sign within +-h = 1e-5; TV is linear there and
 * the central difference exact up to double rounding (~1e-16 |TV| / h ~ 1e-9 of the scale).
 * The kernel's float gradient is good to ~1e-7: tolerance 1e-6. By hand, a 2 x 2 image; a
 * constant image (all ties: TV 0, no gradient); the batch split in two with a shared denom
 * (losses add, gradients equal); PyTorch's loss and gradient on an image with ties. */
static void test_tv_grad(void **state) {
    (void)state;
    enum { TB = 2, TVV = 2, TH = 5, TW = 7, TN = TB * TVV * TH * TW };
    float img[TN], g[TN] = {0}, vw[TVV] = {0.75f, 1.5f};
    for (int i = 0; i < TN; i++) img[i] = (float)(0.01 * ((i * 37) % TN) - 0.5); /* 37 coprime to 140 */
    double vwd[TVV] = {0.75, 1.5};
    TvCtx c = {TB, TVV, TH, TW, tu_to_double(img, TN), vwd, 3.0, 0.8};
    K->tv_loss(g, img, vw, TB, TVV, TH, TW, 3.0, 0.8f);
    if (!tu_grad_check("tv dimg", ref_tv, &c, c.img, g, TN, 256, 1e-5, 1e-6, __FILE__, __LINE__)) fail();
    free(c.img);

    /* by hand: x = [[0, 1], [3, 7]]: TV = 3 + 6 + 1 + 4 + 0.7 (7 + 2) = 20.3; gradient
     * (0,0): -1 -1 -0.7 = -2.7; (0,1): -1 +1 -0.7 = -0.7; (1,0): 1 -1 +0.7; (1,1): 1 +1 +0.7 */
    float x4[4] = {0, 1, 3, 7}, g4[4] = {0};
    float l4 = K->tv_loss(g4, x4, NULL, 1, 1, 2, 2, 2.0, 1.0f);
    const float e4[4] = {-1.35f, -0.35f, 0.35f, 1.35f};
    assert_true(fabsf(l4 - 10.15f) <= 1e-6f * 10.15f);
    TU_ASSERT_CLOSE_FF(g4, e4, 4, 1e-6);

    float flat[TN], gf[TN];
    tu_fill_const(flat, TN, 0.3f);
    tu_fill_const(gf, TN, 0.125f);
    assert_true(K->tv_loss(gf, flat, vw, TB, TVV, TH, TW, 1.0, 1.0f) == 0.0f);
    for (int i = 0; i < TN; i++)
        if (gf[i] != 0.125f) fail_msg("constant image: dimg[%d] = %g", i, (double)gf[i]);

    float gs[TN] = {0}, gw[TN] = {0};
    const float whole = K->tv_loss(gw, img, vw, TB, TVV, TH, TW, 11.0, 1.0f);
    const int half = TN / TB;
    const float split = K->tv_loss(gs, img, vw, 1, TVV, TH, TW, 11.0, 1.0f) +
                        K->tv_loss(gs + half, img + half, vw, 1, TVV, TH, TW, 11.0, 1.0f);
    assert_true(fabsf(split - whole) <= 1e-6f * whole);
    assert_memory_equal(gs, gw, sizeof gs);

    float gt[24] = {0}, vt[2] = {0.8f, 1.3f};
    const float lt = K->tv_loss(gt, PT_TV_IMG, vt, 1, 2, 3, 4, 7.0, 1.0f);
    if (!(fabsf(lt - PT_TV_LOSS) <= 1e-6f * PT_TV_LOSS)) fail_msg("tv %.9g, PyTorch %.9g", (double)lt, (double)PT_TV_LOSS);
    TU_ASSERT_CLOSE_FF(gt, PT_TV_GRAD, 24, 1e-6);
}

int main(void) {
    K = kernels_cpu();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv3x3_sizes),
        cmocka_unit_test(test_conv3x3_bands),
        cmocka_unit_test(test_conv3x3_grad),
        cmocka_unit_test(test_conv3x3_torch),
        cmocka_unit_test(test_pixel_shuffle),
        cmocka_unit_test(test_tv_loss),
        cmocka_unit_test(test_tv_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
