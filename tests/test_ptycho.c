/* Tests for src/ptycho: the unitary FFT, the cost and its gradient against a double-precision
 * reference (naive DFT, central differences), monotone cost, a small reconstruction's object
 * error, float against double, scoring, and the refusals of bad scan files. */
#include "util_test.h"
#include "util_nc.h"

#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ptycho/ptycho.h"
#include "ptycho/scan.h"

static float complex *crand(int64_t n, uint64_t seed, double lo, double hi) {
    TuRng r;
    tu_rng_seed(&r, seed);
    float complex *z = malloc(sizeof(float complex) * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        double a = lo + (hi - lo) * tu_rng_uniform(&r), b = lo + (hi - lo) * tu_rng_uniform(&r);
        z[i] = (float)a + I * (float)b;
    }
    return z;
}

static void test_fft_roundtrip(void **state) {
    (void)state;
    const int n = 16;
    float complex *x = crand(n * n, 1, -1, 1), *f = malloc(sizeof(float complex) * n * n),
                  *y = malloc(sizeof(float complex) * n * n);
    pty_fft2(f, x, n, -1);
    pty_fft2(y, f, n, +1);
    double ex = 0, ef = 0, e = 0, sx = 0;
    for (int i = 0; i < n * n; i++) {
        e = fmax(e, cabs(y[i] - x[i]));
        ex += crealf(x[i] * conjf(x[i])), ef += crealf(f[i] * conjf(f[i]));
        sx = fmax(sx, cabs(x[i]));
    }
    if (e > 1e-6 * sx) fail_msg("inverse(forward(x)) differs from x by %g", e);
    if (fabs(ef - ex) > 1e-5 * ex) fail_msg("not unitary: sum |F x|^2 = %g, sum |x|^2 = %g", ef, ex);
    /* one coefficient against the definition: F[ky=1, kx=2] = sum x e^{-2 pi i (y + 2x)/n} / n */
    double complex ref = 0;
    for (int yy = 0; yy < n; yy++)
        for (int xx = 0; xx < n; xx++) ref += x[yy * n + xx] * cexp(-2 * M_PI * I * (1.0 * yy + 2.0 * xx) / n);
    ref /= n;
    if (cabs(f[1 * n + 2] - ref) > 1e-5 * cabs(ref) + 1e-6) fail_msg("F[1,2] = %g%+gi, expected %g%+gi", crealf(f[n + 2]),
                                                                      cimagf(f[n + 2]), creal(ref), cimag(ref));
    free(x), free(f), free(y);
}

/* ---- the gradient: a 16x16 object, 8x8 probe, 4 overlapping positions ---- */
enum { GH = 16, GW = 16, GN = 8, GJ = 4 };
typedef struct GradCtx {
    const PtyData *d;
    double eps;
} GradCtx;

/* the point the gradient is checked at: [Re O, Im O, Re P, Im P] (tu_grad_check moves it) */
static double g_x[2 * GH * GW + 2 * GN * GN];

/* The cost in double with a naive DFT at g_x */
static double cost_ref(void *ctx) {
    GradCtx *c = ctx;
    const PtyData *d = c->d;
    const double *x = g_x;
    const int hw = GH * GW, nn = GN * GN;
    double cost = 0;
    for (int j = 0; j < GJ; j++) {
        double complex psi[GN * GN];
        for (int y = 0; y < GN; y++)
            for (int xx = 0; xx < GN; xx++) {
                int o = (d->pos[2 * j] + y) * GW + d->pos[2 * j + 1] + xx, p = y * GN + xx;
                psi[p] = (x[o] + I * x[hw + o]) * (x[2 * hw + p] + I * x[2 * hw + nn + p]);
            }
        for (int ky = 0; ky < GN; ky++)
            for (int kx = 0; kx < GN; kx++) {
                double complex F = 0;
                for (int y = 0; y < GN; y++)
                    for (int xx = 0; xx < GN; xx++) F += psi[y * GN + xx] * cexp(-2 * M_PI * I * (ky * y + kx * xx) / (double)GN);
                F /= GN;
                double m = d->amp[(j * GN + ky) * GN + kx];
                double r = sqrt(creal(F) * creal(F) + cimag(F) * cimag(F) + c->eps) - sqrt(m * m + c->eps);
                cost += r * r;
            }
    }
    return cost;
}
static void test_gradient(void **state) {
    (void)state;
    const int hw = GH * GW, nn = GN * GN;
    int pos[2 * GJ] = {0, 0, 0, 7, 6, 2, 8, 8};
    float *amp = tu_falloc((int64_t)GJ * nn);
    tu_fill_uniform(amp, (int64_t)GJ * nn, 7, 0.0f, 3.0f);
    PtyData d = {.N = GJ, .n = GN, .H = GH, .W = GW, .amp = amp, .pos = pos};
    float complex *O = crand(hw, 2, -1, 1), *P = crand(nn, 3, -1, 1), *gO = malloc(sizeof(float complex) * hw),
                  *gP = malloc(sizeof(float complex) * nn);
    const float eps = 0.01f;
    double c = pty_cost_grad(gO, gP, O, P, &d, eps);
    for (int i = 0; i < hw; i++) g_x[i] = crealf(O[i]), g_x[hw + i] = cimagf(O[i]);
    for (int i = 0; i < nn; i++) g_x[2 * hw + i] = crealf(P[i]), g_x[2 * hw + nn + i] = cimagf(P[i]);
    GradCtx ctx = {&d, eps};
    double cr = cost_ref(&ctx);
    if (fabs(c - cr) > 1e-5 * cr) fail_msg("cost %.9g, double reference %.9g", c, cr);
    /* the real gradient d/dRe + i d/dIm is twice the conjugate derivative the engine returns */
    float *g = tu_falloc(2 * hw + 2 * nn);
    for (int i = 0; i < hw; i++) g[i] = 2 * crealf(gO[i]), g[hw + i] = 2 * cimagf(gO[i]);
    for (int i = 0; i < nn; i++) g[2 * hw + i] = 2 * crealf(gP[i]), g[2 * hw + nn + i] = 2 * cimagf(gP[i]);
    if (!tu_grad_check("d cost / d (O, P)", cost_ref, &ctx, g_x, g, 2 * hw + 2 * nn, 2 * hw + 2 * nn, 1e-5, 1e-4,
                       __FILE__, __LINE__))
        fail();
    free(amp), free(O), free(P), free(gO), free(gP), free(g);
}

/* ---- small simulated scans ---- */
static void small_scan(PtyScan *s, PtyData *d, int noise) {
    PtySimOptions o;
    pty_sim_defaults(&o);
    o.side = 64, o.n = 32, o.N = 30, o.photons = 1e6, o.noise = noise, o.radius = 8, o.defocus = 6, o.seed = 5;
    char err[256];
    assert_int_equal(pty_simulate(s, &o, err, sizeof err), 0);
    if (pty_data_from_scan(d, s, 0, "small", err, sizeof err)) fail_msg("%s", err);
}

static int rises(const double *c, int n, int from) {
    for (int i = from + 1; i < n; i++)
        if (c[i] > c[i - 1] * (1 + 1e-6)) return i;
    return 0;
}

static void test_cost_monotone(void **state) {
    (void)state;
    PtyScan s;
    PtyData d;
    small_scan(&s, &d, 0);
    const int iters = 40, hw = d.H * d.W, nn = d.n * d.n;
    float complex *O = malloc(sizeof(float complex) * hw), *P = malloc(sizeof(float complex) * nn);
    double cost[40];
    PtyReconOptions o;
    pty_recon_defaults(&o);
    o.iters = iters;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < hw; i++) O[i] = 1;
        memcpy(P, d.probe, sizeof(float complex) * nn);
        o.probe_update = pass; /* fixed probe: proved monotone; with the probe: measured */
        pty_reconstruct(O, P, cost, &d, &o);
        int r = rises(cost, iters, 0);
        if (r) fail_msg("probe_update %d: cost rose at iteration %d: %g -> %g", pass, r, cost[r - 1], cost[r]);
        if (!(cost[iters - 1] < 1e-2 * cost[0]))
            fail_msg("probe_update %d: cost only fell from %g to %g", pass, cost[0], cost[iters - 1]);
    }
    free(O), free(P);
    pty_data_free(&d), pty_scan_free(&s);
}

/* The object error of a small reconstruction (64x64 object, 32x32 probe, 30 positions, Poisson
 * noise at 1e6 photons, true probe to start, probe updated, 100 iterations): measured 0.0159 in
 * float and in double; the bound leaves room for other FFTW builds and thread counts, not for a
 * wrong update (the start, a flat object, scores 0.256). */
static double recon_nrmse(const PtyData *d, int iters, int dbl, float eps, int probe_update, float complex *O) {
    const int hw = d->H * d->W, nn = d->n * d->n;
    float complex *P = malloc(sizeof(float complex) * nn);
    double *cost = malloc(sizeof(double) * iters);
    for (int i = 0; i < hw; i++) O[i] = 1;
    memcpy(P, d->probe, sizeof(float complex) * nn);
    PtyReconOptions o;
    pty_recon_defaults(&o);
    o.iters = iters, o.use_double = dbl, o.eps = eps, o.probe_update = probe_update;
    pty_reconstruct(O, P, cost, d, &o);
    unsigned char *mask = malloc(hw);
    pty_illuminated_mask(mask, d, d->probe, 0.1);
    double e = pty_nrmse(O, d->obj_true, mask, d->H, d->W, 1, NULL, NULL);
    free(P), free(cost), free(mask);
    return e;
}

static void test_small_reconstruction(void **state) {
    (void)state;
    PtyScan s;
    PtyData d;
    small_scan(&s, &d, 1);
    float complex *O = malloc(sizeof(float complex) * d.H * d.W);
    unsigned char *mask = malloc((size_t)d.H * d.W);
    pty_illuminated_mask(mask, &d, d.probe, 0.1);
    for (int i = 0; i < d.H * d.W; i++) O[i] = 1;
    double e0 = pty_nrmse(O, d.obj_true, mask, d.H, d.W, 1, NULL, NULL);
    double e = recon_nrmse(&d, 100, 0, PTY_EPS_DEFAULT, 1, O);
    if (getenv("LVIT_TEST_VERBOSE")) printf("small reconstruction: NRMSE %.4f (start %.4f)\n", e, e0);
    if (!(e < 0.03)) fail_msg("object NRMSE %.4f after 100 iterations (start %.4f), expected < 0.03", e, e0);
    free(O), free(mask);
    pty_data_free(&d), pty_scan_free(&s);
}

/* Float against double on the same update from a flat object (100 iterations, probe updated).
 * Measured: with eps = 0.01 the float and double objects differ by 2.9e-6 (NRMSE); with eps = 0
 * by 1.8e-3, and before the engine guarded |Psi| = 0 the float run turned NaN (exact zeros in
 * the far field, 0/0 in the projection). The bound holds the smoothed runs to the same
 * reconstruction; the eps = 0 figure is printed under LVIT_TEST_VERBOSE=1. */
static void test_float_vs_double(void **state) {
    (void)state;
    PtyScan s;
    PtyData d;
    small_scan(&s, &d, 1);
    const int hw = d.H * d.W;
    float complex *Of = malloc(sizeof(float complex) * hw), *Od = malloc(sizeof(float complex) * hw);
    unsigned char *mask = malloc(hw);
    pty_illuminated_mask(mask, &d, d.probe, 0.1);
    double diff[2];
    float eps[2] = {PTY_EPS_DEFAULT, 0.0f};
    for (int k = 0; k < 2; k++) {
        double ef = recon_nrmse(&d, 100, 0, eps[k], 1, Of), ed = recon_nrmse(&d, 100, 1, eps[k], 1, Od);
        diff[k] = pty_nrmse(Of, Od, mask, d.H, d.W, 0, NULL, NULL);
        if (getenv("LVIT_TEST_VERBOSE"))
            printf("eps %g: NRMSE float %.5f double %.5f, float vs double %.3g\n", eps[k], ef, ed, diff[k]);
    }
    if (!(diff[0] < 1e-4)) fail_msg("float and double reconstructions differ by %.3g (NRMSE), expected < 1e-4", diff[0]);
    free(Of), free(Od), free(mask);
    pty_data_free(&d), pty_scan_free(&s);
}

/* The scale and ramp that scoring removes: a known a and ramp applied to the truth come back. */
static void test_nrmse_removes_ambiguity(void **state) {
    (void)state;
    const int H = 40, W = 48;
    float complex *t = crand(H * W, 9, 0.2, 1), *r = malloc(sizeof(float complex) * H * W);
    double complex a0 = 0.5 * cexp(0.7 * I);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) r[y * W + x] = (float complex)(t[y * W + x] / a0 * cexp(-I * (0.05 * y - 0.12 * x)));
    double complex a;
    double ramp[2];
    double e = pty_nrmse(r, t, NULL, H, W, 1, &a, ramp);
    if (e > 1e-5) fail_msg("NRMSE %g after removing a known scale and ramp", e);
    if (fabs(ramp[0] - 0.05) > 1e-5 || fabs(ramp[1] + 0.12) > 1e-5) fail_msg("ramp %g %g, expected 0.05 -0.12", ramp[0], ramp[1]);
    if (cabs(a - a0) > 1e-5) fail_msg("scale %g%+gi, expected %g%+gi", creal(a), cimag(a), creal(a0), cimag(a0));
    if (!(pty_nrmse(r, t, NULL, H, W, 0, NULL, NULL) > 0.5)) fail_msg("scale only should not remove the ramp");
    free(t), free(r);
}

/* FRC: an image against itself times a scale and ramp correlates fully at every ring; against
 * an independent image hardly at all */
static void test_frc(void **state) {
    (void)state;
    const int H = 48, W = 56;
    float complex *t = crand(H * W, 11, -1, 1), *u = malloc(sizeof(float complex) * H * W), *v = crand(H * W, 12, -1, 1);
    unsigned char *mask = malloc(H * W);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            u[y * W + x] = (float complex)(t[y * W + x] * 2.0 * cexp(I * (0.3 + 0.04 * y - 0.02 * x)));
            mask[y * W + x] = y >= 4 && y < 44 && x >= 6 && x < 50;
        }
    double frc[64];
    int S = pty_frc(frc, 63, u, t, mask, H, W);
    assert_int_equal(S, 40);
    for (int r = 0; r <= S / 2; r++)
        if (!(frc[r] > 0.999)) fail_msg("FRC of an image with itself: %g at ring %d", frc[r], r);
    pty_frc(frc, 63, v, t, mask, H, W);
    double m = 0;
    for (int r = 4; r <= S / 2; r++) m += fabs(frc[r]) / (S / 2 - 3);
    if (!(m < 0.2)) fail_msg("FRC of independent images: mean |FRC| %g over rings 4..%d", m, S / 2);
    free(t), free(u), free(v), free(mask);
}

/* ---- refusals ---- */
typedef struct BadFile {
    int frames, positions;   /* write the variable */
    int fy, fx, probe_n;     /* frame shape, probe side (0: no probe) */
    int obj;                 /* object_true side (0: none) */
    float pos_max;           /* largest position */
    int nan;                 /* a NaN count */
    int probe_nan;           /* a NaN in probe_real */
} BadFile;

static void write_bad(const char *path, BadFile b) {
    int nc, dfr, dky, dkx, dax, dy, dx, v;
    const int N = 3;
    NC(nc_create(path, NC_CLOBBER | NC_NETCDF4, &nc));
    NC(nc_def_dim(nc, "frame", N, &dfr));
    NC(nc_def_dim(nc, "ky", b.fy, &dky));
    NC(nc_def_dim(nc, "kx", b.fx, &dkx));
    NC(nc_def_dim(nc, "axis", 2, &dax));
    float *buf = calloc((size_t)N * b.fy * b.fx + 4096, sizeof(float));
    if (b.frames) {
        int dd[3] = {dfr, dky, dkx};
        NC(nc_def_var(nc, "frames", NC_FLOAT, 3, dd, &v));
        if (b.nan) buf[b.fy * b.fx + 5] = NAN;
        NC(nc_put_var_float(nc, v, buf));
        buf[b.fy * b.fx + 5] = 0;
    }
    if (b.positions) {
        int dd[2] = {dfr, dax};
        float p[6] = {0, 0, 1, 2, b.pos_max, 1};
        NC(nc_def_var(nc, "positions", NC_FLOAT, 2, dd, &v));
        NC(nc_put_var_float(nc, v, p));
    }
    if (b.probe_n) {
        int dp, dd[2];
        NC(nc_def_dim(nc, "pn", b.probe_n, &dp));
        dd[0] = dd[1] = dp;
        NC(nc_def_var(nc, "probe_real", NC_FLOAT, 2, dd, &v));
        if (b.probe_nan) buf[3] = NAN;
        NC(nc_put_var_float(nc, v, buf));
        buf[3] = 0;
        NC(nc_def_var(nc, "probe_imag", NC_FLOAT, 2, dd, &v));
        NC(nc_put_var_float(nc, v, buf));
    }
    if (b.obj) {
        NC(nc_def_dim(nc, "y", b.obj, &dy));
        NC(nc_def_dim(nc, "x", b.obj, &dx));
        int dd[2] = {dy, dx};
        float *z = calloc((size_t)b.obj * b.obj, sizeof(float));
        NC(nc_def_var(nc, "object_true_real", NC_FLOAT, 2, dd, &v));
        NC(nc_put_var_float(nc, v, z));
        NC(nc_def_var(nc, "object_true_imag", NC_FLOAT, 2, dd, &v));
        NC(nc_put_var_float(nc, v, z));
        free(z);
    }
    NC(nc_close(nc));
    free(buf);
}

/* reads path, then checks it; the error must name the file and `word` */
static void expect_refusal(BadFile b, const char *word) {
    char path[512], err[1024] = "";
    tu_path(path, sizeof path, "bad.nc");
    write_bad(path, b);
    PtyScan s;
    PtyData d;
    int rc = pty_scan_read(&s, path, err, sizeof err);
    if (rc == 0) {
        rc = pty_data_from_scan(&d, &s, 0, path, err, sizeof err);
        pty_scan_free(&s);
        if (rc == 0) pty_data_free(&d);
    }
    if (rc == 0) fail_msg("a file that should be refused (%s) was accepted", word);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, word);
}

static void test_refusals(void **state) {
    (void)state;
    BadFile good = {1, 1, 8, 8, 8, 12, 3, 0, 0};
    char path[512], err[1024];
    tu_path(path, sizeof path, "good.nc");
    write_bad(path, good);
    PtyScan s;
    PtyData d;
    if (pty_scan_read(&s, path, err, sizeof err) || pty_data_from_scan(&d, &s, 0, path, err, sizeof err))
        fail_msg("the well-formed file was refused: %s", err);
    pty_scan_free(&s), pty_data_free(&d);
    BadFile b = good;
    b.frames = 0, expect_refusal(b, "'frames'");
    b = good, b.positions = 0, expect_refusal(b, "'positions'");
    b = good, b.fx = 6, expect_refusal(b, "square");
    b = good, b.probe_n = 6, expect_refusal(b, "probe_real");
    b = good, b.pos_max = 5, expect_refusal(b, "outside the 12x12 object");
    b = good, b.nan = 1, expect_refusal(b, "frames: frame 1");
    b = good, b.probe_nan = 1, expect_refusal(b, "probe_real/probe_imag: pixel (0, 3)");
    char missing[512];
    tu_path(missing, sizeof missing, "absent.nc");
    assert_int_equal(pty_scan_read(&s, missing, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, missing);
}

/* the simulated scan survives the netCDF round trip */
static void test_scan_roundtrip(void **state) {
    (void)state;
    PtyScan s, r;
    PtyData d;
    small_scan(&s, &d, 1);
    char path[512], err[1024];
    tu_path(path, sizeof path, "scan.nc");
    if (pty_scan_write(path, &s, err, sizeof err) || pty_scan_read(&r, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(r.N, s.N), assert_int_equal(r.n, s.n), assert_int_equal(r.H, s.H), assert_int_equal(r.W, s.W);
    assert_memory_equal(r.counts, s.counts, sizeof(float) * s.N * s.n * s.n);
    assert_memory_equal(r.pos, s.pos, sizeof(float) * 2 * s.N);
    assert_memory_equal(r.probe, s.probe, sizeof(float complex) * s.n * s.n);
    assert_memory_equal(r.obj, s.obj, sizeof(float complex) * s.H * s.W);
    pty_scan_free(&s), pty_scan_free(&r), pty_data_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fft_roundtrip),       cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_cost_monotone),       cmocka_unit_test(test_small_reconstruction),
        cmocka_unit_test(test_float_vs_double),     cmocka_unit_test(test_nrmse_removes_ambiguity),
        cmocka_unit_test(test_refusals),            cmocka_unit_test(test_scan_roundtrip),
        cmocka_unit_test(test_frc),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
