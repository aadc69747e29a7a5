/* Tests for src/eval/metrics.c: hand-computed cases on a 2x3 grid, properties on random
 * grids against a plain double reference, and the persistence fixtures of the real ERA5 EDA
 * file in shared/data (PROVENANCE.md section 1), read with the netCDF C API. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "eval/blend.h"
#include "eval/metrics.h"

#define assert_near(got, ref, tol)                                                          \
    do {                                                                                    \
        const double g_ = (got), r_ = (ref), t_ = (tol);                                    \
        if (!(fabs(g_ - r_) <= t_))                                                         \
            fail_msg("%s = %.12g, expected %.12g (|diff| %.3g > tol %.3g)", #got, g_, r_,   \
                     fabs(g_ - r_), t_);                                                    \
    } while (0)

/* ---- hand-computed 2x3 cases ----
 * Weights are given directly (not from lat_weights) so the arithmetic stays exact: w = {0.5,
 * 1.5} (mean 1). Masked cells hold NaN: any read of them would poison the result. */
static const double W23[2] = {0.5, 1.5};

static void test_rmse_hand(void **state) {
    (void)state;
    SkillAcc a;
    skill_init(&a);
    /* Sample 1: e = f - y = [1 0 -1; 0 1 (masked)] -> sum w e^2 = 0.5*2 + 1.5*1 = 2.5,
     * W_1 = 0.5*3 + 1.5*2 = 4.5, MSE_1 = 5/9, RMSE_1 = sqrt(5)/3. */
    const float f1[6] = {1, 2, 3, 4, 5, NAN};
    const float y1[6] = {0, 2, 4, 4, 4, 4};
    const unsigned char v1[6] = {1, 1, 1, 1, 1, 0};
    skill_add(&a, f1, y1, NULL, v1, W23, 2, 3);
    /* Sample 2: f = y + 2 everywhere, no mask -> sum w e^2 = 4*6 = 24, W_2 = 6, RMSE_2 = 2. */
    const float y2[6] = {1, -2, 3, 0, 7, 5};
    float f2[6];
    for (int i = 0; i < 6; i++) f2[i] = y2[i] + 2.0f;
    skill_add(&a, f2, y2, NULL, NULL, W23, 2, 3);

    assert_int_equal(skill_count(&a), 2);
    assert_near(skill_rmse_wb1(&a), sqrt((2.5 + 24.0) / (4.5 + 6.0)), 1e-14);
    assert_near(skill_rmse_sample_mean(&a), (sqrt(5.0) / 3.0 + 2.0) / 2.0, 1e-14);
    /* c = NULL: RMSE only, the ACC side untouched. */
    assert_int_equal(skill_acc_count(&a), 0);
    assert_int_equal(skill_acc_skipped(&a), 0);
    assert_true(isnan(skill_acc(&a)));
    /* Uniform weights (w = NULL) on sample 1: 3 / 5 cells. */
    SkillAcc u;
    skill_init(&u);
    skill_add(&u, f1, y1, NULL, v1, NULL, 2, 3);
    assert_near(skill_rmse_wb1(&u), sqrt(3.0 / 5.0), 1e-15);
}

/* Anomalies y' = [2 0 0; 0 0 (masked)], f' = [1 1 0; 0 0 (masked)] on c = [10..60]:
 * W = 4.5, mf = my = (0.5*2)/4.5 = 2/9,
 * COV = sum w f'y' - W mf my = 1 - 2/9 = 7/9, VF = 1 - 2/9 = 7/9, VY = 2 - 2/9 = 16/9,
 * ACC = (7/9) / sqrt(7/9 * 16/9) = sqrt(7)/4. */
static const float C23[6] = {10, 20, 30, 40, 50, 60};
static void masked_case(float *f, float *y, unsigned char *v) {
    const float fa[6] = {1, 1, 0, 0, 0, 0}, ya[6] = {2, 0, 0, 0, 0, 0};
    for (int i = 0; i < 6; i++) {
        f[i] = C23[i] + fa[i];
        y[i] = C23[i] + ya[i];
        v[i] = 1;
    }
    f[5] = y[5] = NAN;
    v[5] = 0;
}

static void test_acc_hand(void **state) {
    (void)state;
    float f[6], y[6];
    unsigned char v[6];
    masked_case(f, y, v);
    SkillAcc a;
    skill_init(&a);
    skill_add(&a, f, y, C23, v, W23, 2, 3);
    assert_int_equal(skill_acc_count(&a), 1);
    assert_near(skill_acc(&a), sqrt(7.0) / 4.0, 1e-14);
    assert_near(skill_acc_pooled(&a), sqrt(7.0) / 4.0, 1e-14);

    /* Second sample, perfect, unmasked, y' = [1 2 3; 4 5 6]: W = 6, my = (0.5*6 + 1.5*15)/6
     * = 4.25, VY = 0.5*14 + 1.5*77 - 6*4.25^2 = 14.125 = COV = VF; ACC = 1. */
    float y2[6];
    for (int i = 0; i < 6; i++) y2[i] = C23[i] + (float)(i + 1);
    skill_add(&a, y2, y2, C23, NULL, W23, 2, 3);
    assert_int_equal(skill_acc_count(&a), 2);
    assert_near(skill_acc(&a), (sqrt(7.0) / 4.0 + 1.0) / 2.0, 1e-14);
    const double cov = 7.0 / 9.0 + 14.125, vf = 7.0 / 9.0 + 14.125, vy = 16.0 / 9.0 + 14.125;
    assert_near(skill_acc_pooled(&a), cov / sqrt(vf * vy), 1e-14);
}

static void test_acc_perfect_and_anti(void **state) {
    (void)state;
    float y[6], fa[6];
    for (int i = 0; i < 6; i++) {
        y[i] = C23[i] + (float)(i * i) - 3.0f; /* y' = i^2 - 3 */
        fa[i] = C23[i] + 7.0f - (float)(i * i); /* f' = 4 - y': centred, exactly -y' */
    }
    SkillAcc p, n;
    skill_init(&p);
    skill_init(&n);
    skill_add(&p, y, y, C23, NULL, W23, 2, 3);
    skill_add(&n, fa, y, C23, NULL, W23, 2, 3);
    assert_near(skill_acc(&p), 1.0, 1e-14);
    assert_near(skill_acc(&n), -1.0, 1e-14);
    assert_near(skill_acc_pooled(&n), -1.0, 1e-14);
    /* One of each: the sample mean is 0. */
    skill_merge(&p, &n);
    assert_int_equal(skill_acc_count(&p), 2);
    assert_near(skill_acc(&p), 0.0, 1e-14);
    assert_near(skill_rmse_wb1(&p), skill_rmse_wb1(&n) / sqrt(2.0), 1e-12); /* half the error mass */
}

/* A constant anomaly has zero spread: ACC undefined, the sample is skipped and counted, never
 * NaN in the scores of the other samples. Real latitude weights (irrational) make the centred
 * field rounding noise rather than an exact 0, the case the relative threshold exists for. */
static void test_acc_constant_anomaly(void **state) {
    (void)state;
    enum { H = 32, Wd = 64 };
    double lat[H], w[H];
    for (int i = 0; i < H; i++) lat[i] = -87.1875 + 5.625 * i;
    lat_weights(w, lat, H);
    float *c = malloc(sizeof(float) * H * Wd), *f = malloc(sizeof(float) * H * Wd),
          *y = malloc(sizeof(float) * H * Wd);
    for (int i = 0; i < H * Wd; i++) {
        /* Quarter-unit values near 5000 are exact in float, so f' = 5.25 exactly everywhere. */
        c[i] = 5000.0f + 0.25f * (float)(i % 97);
        f[i] = c[i] + 5.25f;
        y[i] = c[i] + 3.0f * (float)sin(0.01 * i); /* y' varies */
    }
    SkillAcc a;
    skill_init(&a);
    skill_add(&a, f, y, c, NULL, w, H, Wd);
    assert_int_equal(skill_count(&a), 1);
    assert_int_equal(skill_acc_count(&a), 0);
    assert_int_equal(skill_acc_skipped(&a), 1);
    assert_true(isnan(skill_acc(&a)) && isnan(skill_acc_pooled(&a)));
    assert_false(isnan(skill_rmse_wb1(&a)));
    /* Constant truth anomaly, varying forecast: skipped too. Then a perfect sample: ACC = 1. */
    skill_add(&a, y, f, c, NULL, w, H, Wd);
    skill_add(&a, y, y, c, NULL, w, H, Wd);
    assert_int_equal(skill_acc_skipped(&a), 2);
    assert_int_equal(skill_acc_count(&a), 1);
    assert_near(skill_acc(&a), 1.0, 1e-14);
    assert_near(skill_acc_pooled(&a), 1.0, 1e-14);
    free(c);
    free(f);
    free(y);
}

/* Climatology baseline: f = c, so f' = 0, ACC skipped; RMSE = sqrt(weighted mean (c-y)^2).
 * An all-masked sample counts only as empty. */
static void test_climatology_and_empty(void **state) {
    (void)state;
    const float y[6] = {11, 20, 27, 40, 52, NAN};
    const unsigned char v[6] = {1, 1, 1, 1, 1, 0}, none[6] = {0};
    SkillAcc a;
    skill_init(&a);
    skill_add_climatology(&a, y, C23, v, W23, 2, 3);
    /* (c-y)^2 = [1 0 9; 0 4 -]: 0.5*10 + 1.5*4 = 11 over W = 4.5. */
    assert_near(skill_rmse_wb1(&a), sqrt(11.0 / 4.5), 1e-14);
    assert_int_equal(skill_acc_skipped(&a), 1);
    assert_true(isnan(skill_acc(&a)));
    skill_add(&a, y, y, C23, none, W23, 2, 3);
    assert_int_equal(skill_count(&a), 1);
    assert_int_equal(a.n_empty, 1);
    assert_near(skill_rmse_wb1(&a), sqrt(11.0 / 4.5), 1e-14);

    SkillAcc e;
    skill_init(&e);
    skill_add(&e, y, y, C23, none, W23, 2, 3);
    assert_int_equal(skill_count(&e), 0);
    assert_true(isnan(skill_rmse_wb1(&e)) && isnan(skill_rmse_sample_mean(&e)));
}

static void test_lat_weights(void **state) {
    (void)state;
    const double lat3[3] = {-60, 0, 60}; /* cos = .5, 1, .5, mean 2/3 -> .75, 1.5, .75 */
    double w3[3];
    lat_weights(w3, lat3, 3);
    assert_near(w3[0], 0.75, 1e-15);
    assert_near(w3[1], 1.5, 1e-15);
    assert_near(w3[2], 0.75, 1e-15);

    enum { H = 32 }; /* the WeatherBench 5.625 deg grid */
    double lat[H], w[H], sum = 0.0;
    for (int i = 0; i < H; i++) lat[i] = -87.1875 + 5.625 * i;
    lat_weights(w, lat, H);
    for (int i = 0; i < H; i++) {
        sum += w[i];
        assert_true(w[i] > 0.0);
        assert_near(w[i], w[H - 1 - i], 1e-14);
        if (i > 0 && i < H / 2) assert_true(w[i] > w[i - 1]); /* grows towards the equator */
    }
    assert_near(sum / H, 1.0, 1e-14);

    const double poles[3] = {-90, 0, 90};
    lat_weights(w3, poles, 3);
    assert_true(w3[0] == 0.0 && w3[2] == 0.0);
    assert_near(w3[1], 3.0, 1e-15);
}

/* ---- random grids against a plain double reference ---- */
static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}
static double unif(uint64_t *s) { return (double)lcg(s) / 9007199254740992.0; }

typedef struct { double mse, acc, cov, vf, vy; } RefSample;

/* The definitions of metrics.h written out literally (weighted means, then centred sums). */
static RefSample ref_sample(const float *f, const float *y, const float *c,
                            const unsigned char *v, const double *w, int H, int W) {
    double sw = 0, se = 0, sf = 0, sy = 0;
    for (int r = 0; r < H; r++)
        for (int j = 0; j < W; j++) {
            const int i = r * W + j;
            if (!v[i]) continue;
            sw += w[r];
            se += w[r] * ((double)f[i] - y[i]) * ((double)f[i] - y[i]);
            sf += w[r] * ((double)f[i] - c[i]);
            sy += w[r] * ((double)y[i] - c[i]);
        }
    RefSample o = {se / sw, 0, 0, 0, 0};
    for (int r = 0; r < H; r++)
        for (int j = 0; j < W; j++) {
            const int i = r * W + j;
            if (!v[i]) continue;
            const double a = (double)f[i] - c[i] - sf / sw, b = (double)y[i] - c[i] - sy / sw;
            o.cov += w[r] * a * b;
            o.vf += w[r] * a * a;
            o.vy += w[r] * b * b;
        }
    o.acc = o.cov / sqrt(o.vf * o.vy);
    return o;
}

/* Big enough (256 x 512 = 131 072 cells) to take the OpenMP path when built with OpenMP;
 * a random mask of ~20 % with NaN behind it; a merge of two halves equals one accumulator. */
static void test_random_vs_reference(void **state) {
    (void)state;
    enum { H = 256, Wd = 512, N = 5 };
    const int64_t n = (int64_t)H * Wd;
    float *f = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n), *c = malloc(sizeof(float) * n);
    unsigned char *v = malloc((size_t)n);
    double lat[H], w[H];
    for (int i = 0; i < H; i++) lat[i] = -90.0 + 180.0 * (i + 0.5) / H;
    lat_weights(w, lat, H);
    uint64_t s = 42;
    SkillAcc all, h1, h2;
    skill_init(&all);
    skill_init(&h1);
    skill_init(&h2);
    double se = 0, sw = 0, rm = 0, ac = 0, cov = 0, vf = 0, vy = 0;
    for (int k = 0; k < N; k++) {
        for (int64_t i = 0; i < n; i++) {
            c[i] = (float)(50000 + 2000 * unif(&s));
            y[i] = c[i] + (float)(300 * (unif(&s) - 0.5));
            f[i] = y[i] + (float)(100 * (unif(&s) - 0.4)); /* correlated, biased */
            v[i] = unif(&s) > 0.2;
            if (!v[i]) f[i] = y[i] = NAN;
        }
        skill_add(&all, f, y, c, v, w, H, Wd);
        skill_add(k < 2 ? &h1 : &h2, f, y, c, v, w, H, Wd);
        const RefSample r = ref_sample(f, y, c, v, w, H, Wd);
        double swk = 0;
        for (int rr = 0; rr < H; rr++)
            for (int j = 0; j < Wd; j++) swk += v[rr * Wd + j] ? w[rr] : 0.0;
        se += r.mse * swk;
        sw += swk;
        rm += sqrt(r.mse);
        ac += r.acc;
        cov += r.cov;
        vf += r.vf;
        vy += r.vy;
    }
    skill_merge(&h1, &h2);
    const SkillAcc *accs[2] = {&all, &h1};
    for (int t = 0; t < 2; t++) {
        const SkillAcc *a = accs[t];
        assert_int_equal(skill_count(a), N);
        assert_near(skill_rmse_wb1(a), sqrt(se / sw), 1e-10 * sqrt(se / sw));
        assert_near(skill_rmse_sample_mean(a), rm / N, 1e-10 * rm / N);
        assert_near(skill_acc(a), ac / N, 1e-10);
        assert_near(skill_acc_pooled(a), cov / sqrt(vf * vy), 1e-10);
    }
    assert_true(skill_acc(&all) > 0.5 && skill_acc(&all) < 1.0);
#ifdef _OPENMP
    /* Row partials are summed in a fixed order: one thread and many give identical bits. */
    SkillAcc one, many;
    skill_init(&one);
    skill_init(&many);
    const int nthr = omp_get_max_threads();
    omp_set_num_threads(1);
    skill_add(&one, f, y, c, v, w, H, Wd);
    omp_set_num_threads(nthr > 1 ? nthr : 4);
    skill_add(&many, f, y, c, v, w, H, Wd);
    omp_set_num_threads(nthr);
    assert_memory_equal(&one, &many, sizeof one);
#endif
    free(f);
    free(y);
    free(c);
    free(v);
}

/* ---- real-data fixtures (PROVENANCE.md section 1) ---- */
#define ERA5_FIXTURE LVIT_SHARED_DATA "/era5_eda_2017/era5_eda_z500_t850_20170101-02_5.625deg.nc"
enum { NT = 4, NM = 10, NLAT = 32, NLON = 64, NCELL = NLAT * NLON };

/* 1 when the file can be read, else prints why the caller is skipping and returns 0. */
static int fixture_available(const char *path) {
    if (access(path, R_OK) == 0) return 1;
    print_message("[  SKIP    ] %s is absent: real-data fixture not checked\n", path);
    return 0;
}

/* The skip path must work on machines without shared/data: exercise it with a missing file. */
static void test_fixture_skip_path(void **state) {
    (void)state;
    assert_int_equal(fixture_available("/nonexistent/lvit/era5_fixture.nc"), 0);
}

#define NC_OK(call)                                                                      \
    do {                                                                                 \
        const int st_ = (call);                                                          \
        if (st_ != NC_NOERR) fail_msg("%s: %s", #call, nc_strerror(st_));                \
    } while (0)

/* Reads var (time, member, lat, lon) into [NT*NM*NCELL] and the latitude weights. */
static float *read_fixture(const char *var, double *w) {
    int nc, id, dim[4];
    size_t len;
    NC_OK(nc_open(ERA5_FIXTURE, NC_NOWRITE, &nc));
    NC_OK(nc_inq_varid(nc, var, &id));
    NC_OK(nc_inq_vardimid(nc, id, dim));
    const size_t want[4] = {NT, NM, NLAT, NLON};
    for (int d = 0; d < 4; d++) {
        NC_OK(nc_inq_dimlen(nc, dim[d], &len));
        assert_int_equal(len, want[d]);
    }
    float *x = malloc(sizeof(float) * NT * NM * NCELL);
    assert_non_null(x);
    NC_OK(nc_get_var_float(nc, id, x));
    double lat[NLAT];
    NC_OK(nc_inq_varid(nc, "lat", &id));
    NC_OK(nc_get_var_double(nc, id, lat));
    NC_OK(nc_close(nc));
    assert_near(lat[0], -87.1875, 1e-4); /* ascending WeatherBench grid */
    lat_weights(w, lat, NLAT);
    return x;
}

/* Passes at relative 1e-4 or half a unit in the last printed digit, whichever is looser. */
static void check_fixture(const char *what, double got, double ref, int decimals) {
    const double tol = fmax(1e-4 * fabs(ref), 0.5 * pow(10.0, -decimals));
    print_message("%-28s got %.6f fixture %.*f (diff %+.2e, tol %.1e)\n", what, got, decimals,
                  ref, got - ref, tol);
    assert_near(got, ref, tol);
}

static void persistence_case(const char *var, const double ref[3], int dec, double ref_m0,
                             int dec_m0) {
    if (!fixture_available(ERA5_FIXTURE)) {
        skip();
        return;
    }
    double w[NLAT];
    float *x = read_fixture(var, w);
    /* Climatology for the ACC cross-check: the file's mean over times and members. Not a
     * training climatology, but enough to compare skill_add with the reference on real data. */
    float *c = calloc(NCELL, sizeof(float));
    for (int i = 0; i < NCELL; i++) {
        double m = 0;
        for (int k = 0; k < NT * NM; k++) m += x[(int64_t)k * NCELL + i];
        c[i] = (float)(m / (NT * NM));
    }
    unsigned char all[NCELL];
    memset(all, 1, sizeof all);
    char what[64];
    for (int lead = 1; lead <= 3; lead++) { /* 12 h steps */
        SkillAcc a;
        skill_init(&a);
        double ac = 0;
        for (int t0 = 0; t0 + lead < NT; t0++)
            for (int m = 0; m < NM; m++) {
                const float *f = x + ((int64_t)t0 * NM + m) * NCELL;         /* state at init */
                const float *y = x + ((int64_t)(t0 + lead) * NM + m) * NCELL; /* at target */
                skill_add(&a, f, y, c, NULL, w, NLAT, NLON);
                ac += ref_sample(f, y, c, all, w, NLAT, NLON).acc;
            }
        assert_int_equal(skill_count(&a), (NT - lead) * NM);
        snprintf(what, sizeof what, "%s persistence %2d h", var, 12 * lead);
        check_fixture(what, skill_rmse_sample_mean(&a), ref[lead - 1], dec);
        assert_true(skill_rmse_wb1(&a) >= skill_rmse_sample_mean(&a)); /* Jensen */
        print_message("%-28s WB1 RMSE %.6f, ACC %.6f (pooled %.6f)\n", "", skill_rmse_wb1(&a),
                      skill_acc(&a), skill_acc_pooled(&a));
        assert_near(skill_acc(&a), ac / (double)skill_count(&a), 1e-12);
    }
    /* Member 0, init 2017-01-01 00 UTC, 12 h: one sample, so both conventions agree. */
    SkillAcc a;
    skill_init(&a);
    skill_add(&a, x, x + (int64_t)NM * NCELL, c, NULL, w, NLAT, NLON);
    snprintf(what, sizeof what, "%s m0 init 00 UTC 12 h", var);
    check_fixture(what, skill_rmse_sample_mean(&a), ref_m0, dec_m0);
    assert_near(skill_rmse_wb1(&a), skill_rmse_sample_mean(&a), 1e-12 * ref_m0);
    free(c);
    free(x);
}

static void test_era5_persistence_z500(void **state) {
    (void)state;
    const double ref[3] = {378.73, 609.84, 732.87};
    persistence_case("z500", ref, 2, 369.2443, 4);
}

static void test_era5_persistence_t850(void **state) {
    (void)state;
    const double ref[3] = {2.0381, 2.7451, 3.2637};
    persistence_case("t850", ref, 4, 2.0202, 4);
}


/* ---- bias and the damped-persistence blend, by hand ----
 * Bias: e = f - y = [2 2 2; 2 2 -4] with the last cell masked -> sum w e / W = 2. */
static void test_bias_hand(void **state) {
    (void)state;
    SkillAcc a;
    skill_init(&a);
    const float y[6] = {1, 2, 3, 4, 5, 6}, f[6] = {3, 4, 5, 6, 7, 2};
    const unsigned char ok[6] = {1, 1, 1, 1, 1, 0};
    skill_add(&a, f, y, NULL, ok, W23, 2, 3);
    assert_near(skill_bias(&a), 2.0, 1e-12);
    /* a second sample with e = -1 everywhere (W = 6): (2 * 4.5 - 6) / (4.5 + 6) */
    const float f2[6] = {0, 1, 2, 3, 4, 5};
    skill_add(&a, f2, y, NULL, NULL, W23, 2, 3);
    assert_near(skill_bias(&a), (2.0 * 4.5 - 6.0) / 10.5, 1e-12);
}

/* One variable on a 2x2 grid, 4 six-hourly times whose anomalies against the climatology c halve
 * every step: the blend at 6 h is a = 0.5 exactly; with the anomaly flipping sign each step the
 * least-squares slope is negative and clips to 0 (climatology); a constant state gives the
 * persistence end, 1. The latitude weights must not matter for an exact proportion. */
static void blend_dataset(Dataset *ds, float *data, float *clim, double *hours, double ratio) {
    static char names[1][LVIT_VAR_NAME] = {"z"};
    const float c[4] = {10, 20, 30, 40}, anom0[4] = {1, 2, 0, -1};
    double q = 1;
    for (int t = 0; t < 4; t++, q *= ratio) {
        hours[t] = 6.0 * t;
        for (int i = 0; i < 4; i++) data[t * 4 + i] = (float)(c[i] + q * anom0[i]);
    }
    memcpy(clim, c, sizeof c);
    memset(ds, 0, sizeof *ds);
    ds->V = 1, ds->T = 4, ds->H = 2, ds->W = 2;
    ds->names = names;
    ds->hours = hours;
    ds->data = data;
    ds->clim = clim;
    ds->t_train_end = ds->t_val_end = 4;
    snprintf(ds->source, sizeof ds->source, "hand-made");
}

static void test_blend_fit_hand(void **state) {
    (void)state;
    Dataset ds;
    float data[16], clim[4];
    double hours[4], a, w[2] = {0.3, 1.7};
    char err[256];
    blend_dataset(&ds, data, clim, hours, 0.5);
    assert_int_equal(blend_fit(&ds, 0, 4, 6.0f, w, &a, err, sizeof err), 0);
    assert_near(a, 0.5, 1e-12);
    assert_int_equal(blend_fit(&ds, 0, 4, 12.0f, NULL, &a, err, sizeof err), 0);
    assert_near(a, 0.25, 1e-12); /* two steps of halving */
    blend_dataset(&ds, data, clim, hours, -0.5);
    assert_int_equal(blend_fit(&ds, 0, 4, 6.0f, w, &a, err, sizeof err), 0);
    assert_near(a, 0.0, 0.0);
    blend_dataset(&ds, data, clim, hours, 1.0);
    assert_int_equal(blend_fit(&ds, 0, 4, 6.0f, w, &a, err, sizeof err), 0);
    assert_near(a, 1.0, 1e-12);
    /* no pair at a lead longer than the range; no climatology */
    assert_int_equal(blend_fit(&ds, 0, 4, 48.0f, w, &a, err, sizeof err), -1);
    ds.clim = NULL;
    assert_int_equal(blend_fit(&ds, 0, 4, 6.0f, w, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "hand-made"));
    /* blend_apply: c + a (x - c), and x where the climatology is missing */
    const float x[3] = {4, 8, 5}, c2[3] = {2, 0, NAN};
    float f[3];
    blend_apply(f, x, c2, 0.25, 3);
    assert_near(f[0], 2.5, 1e-6);
    assert_near(f[1], 2.0, 1e-6);
    assert_near(f[2], 5.0, 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmse_hand),
        cmocka_unit_test(test_acc_hand),
        cmocka_unit_test(test_bias_hand),
        cmocka_unit_test(test_blend_fit_hand),
        cmocka_unit_test(test_acc_perfect_and_anti),
        cmocka_unit_test(test_acc_constant_anomaly),
        cmocka_unit_test(test_climatology_and_empty),
        cmocka_unit_test(test_lat_weights),
        cmocka_unit_test(test_random_vs_reference),
        cmocka_unit_test(test_fixture_skip_path),
        cmocka_unit_test(test_era5_persistence_z500),
        cmocka_unit_test(test_era5_persistence_t850),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
