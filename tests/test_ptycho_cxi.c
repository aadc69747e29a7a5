/* Tests for src/ptycho/scan_cxi.c: the real PETRA III near-field CXI file (../shared/data,
 * PROVENANCE.md section 6; values cross-checked with h5dump), a far-field CXI written here from a
 * simulated scan that loads exactly and reconstructs (library and command line), and the refusals
 * of bad files written here with the HDF5 API. */
#include "util_test.h"

#include <complex.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ptycho/cxi.h"
#include "ptycho/ptycho.h"
#include "ptycho/scan.h"

#define PETRA LVIT_SHARED_DATA "/ptycho_petra3_p25_nearfield/PETRAIII_P25_Near_Field_Ptycho.cxi"

/* the synthetic geometry: lambda 1e-10 m, z 2 m, pixel 50 um, so dx = lambda z / (n p) */
#define LAMBDA 1e-10
#define DIST 2.0
#define PIX 50e-6
#define HC 1.98644586e-25

static void put(hid_t f, const char *name, hid_t type, int nd, const hsize_t *dims, const void *buf) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t sp = nd ? H5Screate_simple(nd, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(f, name, type, sp, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d), H5Sclose(sp), H5Pclose(lcpl);
}
static void put_scalar(hid_t f, const char *name, double v) { put(f, name, H5T_NATIVE_DOUBLE, 0, NULL, &v); }

enum { OK, NO_TRANS, MISMATCH, NAN_FRAME, NEG_FRAME, NO_DIST };

/* s as a CXI file: frames fftshifted to detector order (int32 counts, float for NAN/NEG), sample
 * translations -pos * dx in metres, the geometry above; `bad` breaks one thing */
static void write_cxi(const char *path, const PtyScan *s, int bad) {
    const int N = s->N, n = s->n;
    const size_t nn = (size_t)n * n;
    const double dx = LAMBDA * DIST / (n * PIX);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    float *fr = malloc(sizeof(float) * nn * N);
    int *fi = malloc(sizeof(int) * nn * N);
    for (int j = 0; j < N; j++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                float v = s->counts[nn * j + (size_t)((y + n / 2) % n) * n + (x + n / 2) % n];
                fr[nn * j + (size_t)y * n + x] = v, fi[nn * j + (size_t)y * n + x] = (int)lrintf(v);
            }
    if (bad == NAN_FRAME) fr[nn * 2 + 5] = NAN;
    if (bad == NEG_FRAME) fr[nn * 1 + 7] = -3;
    hsize_t d3[3] = {(hsize_t)N, (hsize_t)n, (hsize_t)n};
    if (bad == NAN_FRAME || bad == NEG_FRAME)
        put(f, "entry_1/data_1/data", H5T_NATIVE_FLOAT, 3, d3, fr);
    else
        put(f, "entry_1/instrument_1/detector_1/data", H5T_NATIVE_INT, 3, d3, fi);
    float *t = calloc((size_t)3 * N, sizeof(float));
    for (int j = 0; j < N; j++) t[3 * j] = (float)(-s->pos[2 * j + 1] * dx), t[3 * j + 1] = (float)(-s->pos[2 * j] * dx);
    hsize_t d2[2] = {(hsize_t)(bad == MISMATCH ? N - 1 : N), 3};
    if (bad != NO_TRANS) put(f, "entry_1/sample_1/geometry_1/translation", H5T_NATIVE_FLOAT, 2, d2, t);
    if (bad != NO_DIST) put_scalar(f, "entry_1/instrument_1/detector_1/distance", DIST);
    put_scalar(f, "entry_1/instrument_1/detector_1/x_pixel_size", PIX);
    put_scalar(f, "entry_1/instrument_1/detector_1/y_pixel_size", PIX);
    put_scalar(f, "entry_1/instrument_1/source_1/energy", HC / LAMBDA);
    if (bad == OK && s->probe) {   /* complex as h5py writes it: a compound {r, i} */
        hid_t ct = H5Tcreate(H5T_COMPOUND, sizeof(float complex));
        H5Tinsert(ct, "r", 0, H5T_NATIVE_FLOAT), H5Tinsert(ct, "i", sizeof(float), H5T_NATIVE_FLOAT);
        hsize_t dp[2] = {(hsize_t)n, (hsize_t)n};
        put(f, "entry_1/instrument_1/source_1/illumination", ct, 2, dp, s->probe);
        H5Tclose(ct);
    }
    H5Fclose(f);
    free(fr), free(fi), free(t);
}

/* a small noisy far-field scan: 48x48 object, 32x32 probe, 24 positions */
static void small_sim(PtyScan *s) {
    PtySimOptions o;
    pty_sim_defaults(&o);
    o.side = 48, o.n = 32, o.N = 24, o.radius = 8, o.defocus = 6, o.photons = 1e6, o.seed = 5;
    char err[512];
    if (pty_simulate(s, &o, err, sizeof err)) fail_msg("%s", err);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path) {
    size_t n = 0;
    uint8_t *b = tu_read_bytes(path, &n);
    if (!b) return calloc(1, 1);
    char *s = realloc(b, n + 1);
    s[n] = 0;
    return s;
}

static void test_petra(void **state) {
    (void)state;
    if (access(PETRA, R_OK)) {
        print_message("skipping: %s not found (PROVENANCE.md section 6)\n", PETRA);
        skip();
    }
    PtyCxi c;
    char err[1024];
    if (pty_cxi_read(&c, PETRA, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(c.scan.N, 200);
    assert_int_equal(c.scan.n, 100);
    assert_string_equal(c.frames_ds, "entry_1/data_1/data");   /* the soft link to detector_1/data */
    assert_string_equal(c.trans_ds, "entry_1/data_1/translation");
    assert_true(fabs(c.distance - 1.12) < 1e-6);
    assert_true(fabs(c.pixel[0] - 55e-6) < 1e-12 && fabs(c.pixel[1] - 55e-6) < 1e-12);
    assert_true(fabs(c.energy - 2.028e-15) < 1e-18);
    /* h c / energy against the file's own wavelength dataset (h5dump: 9.79491e-11) */
    if (fabs(c.wavelength - 9.79491e-11) > 1e-15) fail_msg("wavelength %.6g, file says 9.79491e-11", c.wavelength);
    /* by hand: 9.79491e-11 * 1.12 / (100 * 55e-6) = 1.99460e-8 m */
    assert_true(fabs(c.dx[0] - 1.99460e-8) < 1e-12 && fabs(c.dx[1] - c.dx[0]) < 1e-15);
    assert_int_equal(c.masked, 5);
    assert_null(c.scan.probe);
    /* h5dump -d .../translation: extremes (float32 values) */
    assert_true(c.tmin[0] == (double)-6.28150447e-05f && c.tmax[0] == (double)-4.26574079e-05f);
    assert_true(c.tmin[1] == (double)-4.78020374e-05f && c.tmax[1] == (double)-2.87549265e-05f);
    assert_true(c.tmin[2] == 0 && c.tmax[2] == 0);
    /* frame 0: translation (-5.34000319e-05, -3.83996121e-05): probe at row +y/dx, column +x/dx */
    assert_true(fabs(c.scan.pos[0] - 3.83996121e-05 / c.dx[0]) < 1e-3);
    assert_true(fabs(c.scan.pos[1] - 5.34000319e-05 / c.dx[1]) < 1e-3);
    /* median nearest-neighbour step (computed from the h5dump text: 1.19245e-06 m) */
    assert_true(fabs(c.step - 1.19245e-06) < 1e-10);
    /* h5dump -s 7,50,48 -c 1,1,5: 10395 9674 22077 15567 13148; -s 123,17,37: 48 74 0 295 293
     * (17, 39 is masked); the maximum 29176 at frame 80, pixel (48, 51); the mean 9667603.795 */
    const int n = 100;
    const size_t nn = (size_t)n * n;
#define AT(j, y, x) c.scan.counts[nn * (j) + (size_t)(((y) + 50) % n) * n + ((x) + 50) % n]
    const float want7[5] = {10395, 9674, 22077, 15567, 13148}, want123[5] = {48, 74, 0, 295, 293};
    for (int k = 0; k < 5; k++) {
        if (AT(7, 50, 48 + k) != want7[k]) fail_msg("frame 7 (50, %d) = %g, h5dump %g", 48 + k, AT(7, 50, 48 + k), want7[k]);
        if (AT(123, 17, 37 + k) != want123[k]) fail_msg("frame 123 (17, %d) = %g, h5dump %g", 37 + k, AT(123, 17, 37 + k), want123[k]);
    }
    assert_true(AT(80, 48, 51) == 29176 && c.fmax == 29176 && c.fmin == 0);
    assert_true(fabs(c.fmean - 9667603.795) < 0.01);
    /* the mask (h5dump: (17,39) (21,76) (62,9) (76,23) (85,81)) zeroes those pixels in every frame */
    assert_true(c.mask[17 * n + 39] && c.mask[21 * n + 76] && c.mask[62 * n + 9] && c.mask[76 * n + 23] && c.mask[85 * n + 81]);
    for (int j = 0; j < 200; j++) assert_true(AT(j, 21, 76) == 0 && AT(j, 85, 81) == 0);
#undef AT
    char why[512];
    assert_int_equal(pty_cxi_far_field(&c, why, sizeof why), 0);
    assert_non_null(strstr(why, "near-field"));
    pty_cxi_free(&c);

    /* through the command line: inspect works, reconstruct refuses (exit 2) and writes nothing */
    char cmd[2048], out[512], log[512];
    tu_path(out, sizeof out, "petra.nc"), tu_path(log, sizeof log, "petra.log");
    snprintf(cmd, sizeof cmd, "%s ptycho inspect %s >%s 2>&1", LVIT_BINARY, PETRA, log);
    assert_int_equal(run(cmd), 0);
    char *txt = slurp(log);
    assert_non_null(strstr(txt, "200 x 100 x 100"));
    assert_non_null(strstr(txt, "5 bad pixels"));
    assert_non_null(strstr(txt, "not far field"));
    free(txt);
    snprintf(cmd, sizeof cmd, "%s ptycho reconstruct --data %s --iters 2 -o %s >%s 2>&1", LVIT_BINARY, PETRA, out, log);
    assert_int_equal(run(cmd), 2);
    txt = slurp(log);
    if (!strstr(txt, "PETRAIII_P25_Near_Field_Ptycho.cxi: cannot reconstruct") || !strstr(txt, "near-field"))
        fail_msg("unexpected message: %s", txt);
    free(txt);
    assert_int_not_equal(access(out, F_OK), 0);
    snprintf(cmd, sizeof cmd, "%s ptycho convert %s -o %s >%s 2>&1", LVIT_BINARY, PETRA, out, log);
    assert_int_equal(run(cmd), 2);
    assert_int_not_equal(access(out, F_OK), 0);
}

static void test_far_field_synthetic(void **state) {
    (void)state;
    PtyScan sim, s;
    small_sim(&sim);
    char p[512], err[1024];
    tu_path(p, sizeof p, "far.cxi");
    write_cxi(p, &sim, OK);
    assert_int_equal(pty_cxi_is(p), 1);
    if (pty_scan_load(&s, p, "reconstruct", err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(s.N, sim.N);
    assert_int_equal(s.n, sim.n);
    const size_t m = (size_t)s.N * s.n * s.n;
    for (size_t i = 0; i < m; i++)
        if (s.counts[i] != sim.counts[i]) fail_msg("count %zu: %g read, %g written", i, s.counts[i], sim.counts[i]);
    for (int i = 0; i < 2 * s.N; i++)
        if (fabsf(s.pos[i] - sim.pos[i]) > 1e-3f) fail_msg("position %d: %g read, %g written", i, s.pos[i], sim.pos[i]);
    assert_non_null(s.probe);
    for (int i = 0; i < s.n * s.n; i++) assert_true(s.probe[i] == sim.probe[i]);
    /* reconstruct with the true probe: 30 iterations, the cost falls to under a tenth */
    PtyData d;
    if (pty_data_from_scan(&d, &s, 4, p, err, sizeof err)) fail_msg("%s", err);
    float complex *O = malloc(sizeof(float complex) * d.H * d.W), *P = malloc(sizeof(float complex) * d.n * d.n);
    for (int i = 0; i < d.H * d.W; i++) O[i] = 1;
    memcpy(P, sim.probe, sizeof(float complex) * d.n * d.n);
    PtyReconOptions ro;
    pty_recon_defaults(&ro);
    ro.iters = 30, ro.probe_update = 0;
    double cost[30];
    pty_reconstruct(O, P, cost, &d, &ro);
    if (!(cost[29] < 0.1 * cost[0])) fail_msg("cost %g -> %g in 30 iterations, expected to fall tenfold", cost[0], cost[29]);
    free(O), free(P);
    pty_data_free(&d), pty_scan_free(&s);

    /* the command line end to end: inspect says far field, reconstruct writes its result */
    char cmd[2048], out[512], log[512];
    tu_path(out, sizeof out, "far_rec.nc"), tu_path(log, sizeof log, "far.log");
    snprintf(cmd, sizeof cmd, "%s ptycho inspect %s >%s 2>&1", LVIT_BINARY, p, log);
    assert_int_equal(run(cmd), 0);
    char *txt = slurp(log);
    if (!strstr(txt, "model       far field")) fail_msg("inspect: %s", txt);
    free(txt);
    snprintf(cmd, sizeof cmd, "%s ptycho reconstruct --data %s --iters 5 --quiet -o %s >%s 2>&1",
             LVIT_BINARY, p, out, log);
    int rc = run(cmd);
    txt = slurp(log);
    if (rc != 0 || !strstr(txt, "ptycho: 24 frames 32x32") || !strstr(txt, "probe from the file")) fail_msg("reconstruct exit %d: %s", rc, txt);
    free(txt);
    assert_int_equal(access(out, R_OK), 0);
    /* convert to the netCDF scan: the same counts and positions come back through scan_nc.c */
    tu_path(out, sizeof out, "far_scan.nc");
    snprintf(cmd, sizeof cmd, "%s ptycho convert %s -o %s >%s 2>&1", LVIT_BINARY, p, out, log);
    assert_int_equal(run(cmd), 0);
    if (pty_scan_read(&s, out, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(s.N, sim.N);
    for (size_t i = 0; i < m; i++)
        if (s.counts[i] != sim.counts[i]) fail_msg("converted count %zu: %g, written %g", i, s.counts[i], sim.counts[i]);
    for (int i = 0; i < 2 * s.N; i++) assert_true(fabsf(s.pos[i] - sim.pos[i]) < 1e-3f);
    pty_scan_free(&s);
    pty_scan_free(&sim);
}

static void expect_refusal(const char *p, const char *a, const char *b) {
    PtyScan s;
    char err[1024];
    if (!pty_scan_load(&s, p, "reconstruct", err, sizeof err)) fail_msg("%s: accepted", p);
    if (!strstr(err, p) || !strstr(err, a) || (b && !strstr(err, b)))
        fail_msg("%s: message '%s' lacks '%s' / '%s'", p, err, a, b ? b : "");
    assert_null(s.counts);
    assert_null(s.pos);
}

static void test_refusals(void **state) {
    (void)state;
    PtyScan sim;
    small_sim(&sim);
    char p[512];
    tu_path(p, sizeof p, "notrans.cxi");
    write_cxi(p, &sim, NO_TRANS);
    expect_refusal(p, "looked for 'entry_1/data_1/translation' and 'entry_1/sample_1/geometry_1/translation'", NULL);
    tu_path(p, sizeof p, "mismatch.cxi");
    write_cxi(p, &sim, MISMATCH);
    expect_refusal(p, "'entry_1/sample_1/geometry_1/translation' is 23 x 3, expected 24 x 3", NULL);
    tu_path(p, sizeof p, "nan.cxi");
    write_cxi(p, &sim, NAN_FRAME);
    expect_refusal(p, "'entry_1/data_1/data' has nan at frame 2, pixel (0, 5)", NULL);
    tu_path(p, sizeof p, "neg.cxi");
    write_cxi(p, &sim, NEG_FRAME);
    expect_refusal(p, "'entry_1/data_1/data' has -3 at frame 1, pixel (0, 7)", NULL);
    tu_path(p, sizeof p, "nodist.cxi");
    write_cxi(p, &sim, NO_DIST);
    expect_refusal(p, "no detector distance in metres", "'entry_1/instrument_1/detector_1/distance'");
    /* a text file named .cxi */
    tu_path(p, sizeof p, "text.cxi");
    FILE *f = fopen(p, "w");
    fputs("not HDF5\n", f);
    fclose(f);
    expect_refusal(p, "not an HDF5 file", NULL);
    /* a valid file cut in half */
    char good[512];
    tu_path(good, sizeof good, "good.cxi");
    write_cxi(good, &sim, OK);
    size_t nb = 0;
    uint8_t *b = tu_read_bytes(good, &nb);
    tu_path(p, sizeof p, "cut.cxi");
    f = fopen(p, "wb");
    fwrite(b, 1, nb / 2, f);
    fclose(f);
    free(b);
    expect_refusal(p, "truncated", NULL);
    pty_scan_free(&sim);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_petra),
        cmocka_unit_test(test_far_field_synthetic),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
