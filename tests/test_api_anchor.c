/* The C API on an anchored forecasting model (data/anchor.h; the default for data with a
 * climatology): lvit_forecast adds the blend back, with the fitted gains, exactly as `lvit predict`
 * does, at a trained lead and between two of them. Trains a small model on the storm data with the
 * lvit binary; skipped when the storm files are absent (apt-get install libncarg-data). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/safetensors.h"
#include "lvit.h"
#include "util_test.h"

enum { V = 4, H = 33, W = 36, T0 = 40 };
static char g_run[4096], g_storm[4096];

static int setup(void **state) {
    if (tu_tmpdir_setup(state)) return -1;
    snprintf(g_storm, sizeof g_storm, "%s/ncl_storm_1996", LVIT_SHARED_DATA);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/Tstorm.cdf", g_storm);
    if (access(probe, R_OK)) snprintf(g_storm, sizeof g_storm, "/usr/share/ncarg/data/cdf");
    snprintf(probe, sizeof probe, "%s/Tstorm.cdf", g_storm);
    if (access(probe, R_OK)) return 0; /* the tests skip */
    tu_path(g_run, sizeof g_run, "run");
    static char cmd[65536];
    snprintf(cmd, sizeof cmd,
             "%s convert -o %s/s.lvd %s/Pstorm.cdf %s/Tstorm.cdf %s/Ustorm.cdf %s/Vstorm.cdf --split 0.625,0.125 > %s/log 2>&1"
             " && %s train --data %s/s.lvd --run %s --steps 30 --dim 16 --depth 1 --heads 2 --leads 6,24 --threads 2 >> %s/log 2>&1",
             LVIT_BINARY, tu_tmpdir(), g_storm, g_storm, g_storm, g_storm, tu_tmpdir(), LVIT_BINARY, tu_tmpdir(), g_run,
             tu_tmpdir());
    if (system(cmd) != 0) {
        fprintf(stderr, "failed: %s (see %s/log)\n", cmd, tu_tmpdir());
        return -1;
    }
    return 0;
}

/* `lvit predict -o` at lead_h: its initial state and forecast [V,H,W] (NaN where unobserved) */
static void predict(float lead_h, float *initial, float *forecast) {
    char out[4200], err[1024];
    static char cmd[32768];
    snprintf(out, sizeof out, "%s/p%g.safetensors", tu_tmpdir(), lead_h);
    snprintf(cmd, sizeof cmd, "%s predict --run %s --time %d --lead %g -o %s --threads 2 > %s/predict.log 2>&1",
             LVIT_BINARY, g_run, T0, lead_h, out, tu_tmpdir());
    if (system(cmd) != 0) fail_msg("failed: %s", cmd);
    StFile f;
    if (st_open(&f, out, err, sizeof err)) fail_msg("%s", err);
    const int64_t shape[3] = {V, H, W};
    if (st_read_f32(&f, "initial", initial, 3, shape, err, sizeof err) ||
        st_read_f32(&f, "forecast", forecast, 3, shape, err, sizeof err))
        fail_msg("%s", err);
    st_close(&f);
}

static void test_forecast_equals_predict(void **state) {
    (void)state;
    if (!*g_run) skip();
    const size_t n = (size_t)V * H * W;
    float *x = tu_falloc((int64_t)n), *ref = tu_falloc((int64_t)n), *y = tu_falloc((int64_t)n);
    unsigned char *mask = malloc(n);
    char ckpt[4200];
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", g_run);
    LvitOptions o = {.threads = 2, .device = "cpu"};
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(ckpt, &o, &m), LVIT_OK);
    const float leads[] = {6.0f, 12.0f, 24.0f}; /* trained, between the two trained leads, the last */
    for (int li = 0; li < 3; li++) {
        predict(leads[li], x, ref);
        for (size_t i = 0; i < n; i++) {
            mask[i] = !isnan(x[i]);
            if (!mask[i]) x[i] = 0;
        }
        assert_int_equal(lvit_forecast(m, x, mask, leads[li], y), LVIT_OK);
        size_t cells = 0;
        for (size_t i = 0; i < n; i++)
            if (mask[i]) {
                if (y[i] != ref[i]) fail_msg("lead %g cell %zu: API %.9g, predict %.9g", leads[li], i, y[i], ref[i]);
                cells++;
            }
        assert_true(cells > n / 2);
    }
    lvit_close(m);
    free(x), free(ref), free(y), free(mask);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_forecast_equals_predict)};
    return cmocka_run_group_tests(tests, setup, tu_tmpdir_teardown);
}
