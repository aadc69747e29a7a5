/* Coarsening and upsampling for downscaling (src/data/resample.c): values from PyTorch 1.13's
 * F.interpolate (align_corners=False) on a 3x4 field, what each method must reproduce exactly
 * (constants; linear fields away from the clamped edges), the periodic longitude seam, and the
 * area-weighted block mean. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/resample.h"
#include "util_test.h"

static const float X34[12] = {1.0f, 2.0f, 4.0f, 7.0f, 0.5f, -1.0f, 3.0f, 2.0f, 2.0f, 0.0f, 1.0f, -2.0f};
/* torch.nn.functional.interpolate(x.view(1,1,3,4), scale_factor=2, mode=..., align_corners=False) */
static const float TORCH_BILINEAR[48] = {
    1.0000000f, 1.2500000f, 1.7500000f, 2.5000000f, 3.5000000f, 4.7500000f, 6.2500000f, 7.0000000f,
    0.8750000f, 0.9687500f, 1.1562500f, 1.8750000f, 3.1250000f, 4.2500000f, 5.2500000f, 5.7500000f,
    0.6250000f, 0.4062500f, -0.0312500f, 0.6250000f, 2.3750000f, 3.2500000f, 3.2500000f, 3.2500000f,
    0.8750000f, 0.4687500f, -0.3437500f, 0.0625000f, 1.6875000f, 2.1250000f, 1.3750000f, 1.0000000f,
    1.6250000f, 1.1562500f, 0.2187500f, 0.1875000f, 1.0625000f, 0.8750000f, -0.3750000f, -1.0000000f,
    2.0000000f, 1.5000000f, 0.5000000f, 0.2500000f, 0.7500000f, 0.2500000f, -1.2500000f, -2.0000000f};
static const float TORCH_BICUBIC[48] = {
    0.9194565f, 1.2761383f, 1.8414154f, 2.7347183f, 3.3836594f, 5.0694275f, 6.8149719f, 7.8882446f,
    0.7863998f, 0.8462524f, 0.9130859f, 1.8363419f, 3.0516891f, 4.6038971f, 5.6074677f, 6.2360535f,
    0.5479813f, 0.1196899f, -0.6336670f, 0.3524704f, 2.5188980f, 3.8715057f, 3.6639557f, 3.5670471f,
    0.9850693f, 0.2377167f, -1.0370331f, -0.4218369f, 1.7731247f, 2.3890381f, 1.1153564f, 0.3686523f,
    1.8508377f, 1.1336823f, -0.0692291f, -0.0493240f, 1.2355118f, 0.9936523f, -0.5991211f, -1.5529785f,
    2.3747025f, 1.6690979f, 0.4984436f, 0.1567307f, 0.9006729f, 0.1336823f, -1.6703644f, -2.7605286f};

static void test_torch_values(void **state) {
    (void)state;
    float out[48];
    resample_upsample(out, X34, 3, 4, 2, RS_BILINEAR, 0);
    TU_ASSERT_CLOSE_FF(out, TORCH_BILINEAR, 48, 1e-6);
    resample_upsample(out, X34, 3, 4, 2, RS_BICUBIC, 0);
    TU_ASSERT_CLOSE_FF(out, TORCH_BICUBIC, 48, 1e-6);
}

/* periodic columns: torch's interpolate of the field padded circularly by 2 columns, cropped
 * (sin(1.7 k) + 0.1 k, k = 0..17, as 3x6, upsampled by 2) */
static const float TORCH_PERIODIC[2][72] = {
   {
    0.3246218f, 0.2729162f, 0.8187486f, 0.8048633f, 0.2312604f, -0.1981095f, -0.4832463f,
    -0.2458327f, 0.5141314f, 0.9952068f, 1.1973937f, 0.9738653f, 0.2841774f, 0.1910771f, 0.6231686f,
    0.7226944f, 0.4896545f, 0.2435570f, -0.0155982f, 0.0611770f, 0.4738828f, 0.8130806f, 1.0787705f,
    0.9024695f, 0.2032886f, 0.0273988f, 0.2320085f, 0.5583565f, 1.0064429f, 1.1268899f, 0.9196978f,
    0.6751963f, 0.3933856f, 0.4488283f, 0.8415244f, 0.7596779f, 0.6042420f, 0.4460911f, 0.3881891f,
    0.6072839f, 1.1033758f, 1.3728963f, 1.4158454f, 1.2401825f, 0.8459076f, 0.7345380f, 0.9060736f,
    0.8626416f, 1.4870375f, 1.4471540f, 1.0917102f, 0.8694766f, 0.7804533f, 0.9815760f, 1.4728446f,
    1.7561356f, 1.8314488f, 1.6702096f, 1.2724180f, 1.2113607f, 1.9284353f, 1.9476855f, 1.4434708f,
    1.0005729f, 0.6189920f, 0.7859157f, 1.5013442f, 2.0141120f, 2.3242195f, 2.1380455f, 1.4555902f,
    1.3857203f},
   {
    0.1977132f, 0.1903364f, 1.0338268f, 1.0192285f, 0.1928388f, -0.5855945f, -0.9360557f,
    -0.4926336f, 0.5157846f, 1.3015947f, 1.4590993f, 1.0302757f, 0.1182896f, -0.0165890f,
    0.6146681f, 0.8408704f, 0.5720745f, 0.1672059f, -0.1798831f, -0.1061131f, 0.3438424f,
    0.8835896f, 1.2461245f, 0.9461522f, -0.0356188f, -0.3864125f, -0.0968186f, 0.5422566f,
    1.2082585f, 1.4212273f, 1.0671207f, 0.5149111f, 0.0318773f, 0.1697022f, 0.8888899f, 0.8020243f,
    0.5683393f, 0.2650054f, 0.1086444f, 0.5073475f, 1.2453943f, 1.7563328f, 1.7776294f, 1.3630153f,
    0.7111991f, 0.5035945f, 0.8668663f, 0.8827774f, 1.5891051f, 1.5698053f, 1.1150309f, 0.7558563f,
    0.6625112f, 0.9832863f, 1.5504147f, 1.9592701f, 1.9981910f, 1.6967154f, 1.1924903f, 1.1428096f,
    2.2085383f, 2.3591747f, 1.7178977f, 0.9030016f, 0.3164794f, 0.5301096f, 1.4295205f, 2.3310544f,
    2.7775269f, 2.4132595f, 1.3857733f, 1.2991359f}};

static void test_torch_periodic(void **state) {
    (void)state;
    float c[18], out[72];
    for (int k = 0; k < 18; k++) c[k] = (float)(sin(k * 1.7) + 0.1 * k);
    for (int kind = 0; kind < 2; kind++) {
        resample_upsample(out, c, 3, 6, 2, (ResampleKind)kind, 1);
        TU_ASSERT_CLOSE_FF(out, TORCH_PERIODIC[kind], 72, 2e-6);
    }
}

/* constants stay constant under both methods; a linear field a + b i + c j is reproduced exactly
 * by bilinear wherever no tap is clamped (PyTorch's bicubic, a = -0.75, reproduces constants only:
 * Keys' kernel reproduces quadratics at a = -0.5) */
static void test_exact_fields(void **state) {
    (void)state;
    enum { HC = 7, WC = 9, S = 3 };
    float c[HC * WC], f[HC * S * WC * S];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < HC * WC; i++) c[i] = 2.5f;
        resample_upsample(f, c, HC, WC, S, (ResampleKind)k, k);
        for (int i = 0; i < HC * S * WC * S; i++) assert_true(fabsf(f[i] - 2.5f) < 1e-6f);
        for (int i = 0; i < HC; i++)
            for (int j = 0; j < WC; j++) c[i * WC + j] = 1.0f + 0.5f * i - 0.25f * j;
        if (k) continue;
        resample_upsample(f, c, HC, WC, S, RS_BILINEAR, 0);
        const double lo = 0, hi = HC - 1, hix = WC - 1;
        int checked = 0;
        for (int i = 0; i < HC * S; i++)
            for (int j = 0; j < WC * S; j++) {
                double si = (i + 0.5) / S - 0.5, sj = (j + 0.5) / S - 0.5;
                if (si < lo || si > hi || sj < lo || sj > hix) continue;
                double want = 1.0 + 0.5 * si - 0.25 * sj;
                if (fabs(f[i * WC * S + j] - want) > 1e-5) fail_msg("kind %d at (%d,%d): %g vs %g", k, i, j, f[i * WC * S + j], want);
                checked++;
            }
        assert_true(checked > 100);
    }
}

/* a field periodic in longitude and steep at the date line (a sine): with periodic_x the result
 * is the same as for the field rotated by half the circle, rotated back (no seam), and at the
 * seam columns it is much closer to the continuous field than with clamped edges */
static void test_periodic_seam(void **state) {
    (void)state;
    enum { HC = 4, WC = 16, S = 4 };
    float c[HC * WC], f[HC * S * WC * S], g[HC * WC], fg[HC * S * WC * S];
    for (int kind = 0; kind < 2; kind++) {
        for (int i = 0; i < HC; i++)
            for (int j = 0; j < WC; j++) {
                c[i * WC + j] = (float)sin(2 * M_PI * (j + 0.5) / WC);
                g[i * WC + j] = (float)sin(2 * M_PI * ((j + WC / 2) % WC + 0.5) / WC); /* shifted by half */
            }
        resample_upsample(f, c, HC, WC, S, (ResampleKind)kind, 1);
        resample_upsample(fg, g, HC, WC, S, (ResampleKind)kind, 1);
        const int W = WC * S;
        double err_p = 0, err_c = 0;
        for (int j = 0; j < W; j++) {
            /* the periodic result is the shifted result shifted back, column for column */
            float a = f[j], b = fg[(j + W / 2) % W];
            assert_true(fabsf(a - b) < 1e-5f);
        }
        for (int j = 0; j < S; j++) { /* the first and last S fine columns: the seam */
            const int cols[2] = {j, W - 1 - j};
            for (int q = 0; q < 2; q++) {
                double truth = sin(2 * M_PI * (cols[q] + 0.5) / W);
                err_p = fmax(err_p, fabs(f[cols[q]] - truth));
            }
        }
        resample_upsample(f, c, HC, WC, S, (ResampleKind)kind, 0);
        for (int j = 0; j < S; j++) {
            const int cols[2] = {j, W - 1 - j};
            for (int q = 0; q < 2; q++) err_c = fmax(err_c, fabs(f[cols[q]] - sin(2 * M_PI * (cols[q] + 0.5) / W)));
        }
        print_message("%s: seam error %.2e periodic, %.2e clamped\n", kind ? "bicubic" : "bilinear", err_p, err_c);
        assert_true(err_p < err_c / 2);
    }
}

static void test_coarsen(void **state) {
    (void)state;
    enum { H = 4, W = 6, S = 2 };
    float fine[H * W], coarse[(H / S) * (W / S)];
    double lat[H] = {60, 30, -30, -60};
    uint8_t valid[H * W], cv[(H / S) * (W / S)];
    for (int i = 0; i < H * W; i++) fine[i] = 3.0f, valid[i] = 1;
    resample_coarsen(coarse, cv, fine, NULL, H, W, S, lat);
    for (int i = 0; i < 6; i++) assert_true(fabsf(coarse[i] - 3.0f) < 1e-6f && cv[i]);
    /* rows 60 and 30 degrees: weights cos 60 = 0.5 and cos 30 = 0.866 */
    for (int j = 0; j < W; j++) fine[0 * W + j] = 1.0f, fine[1 * W + j] = 2.0f;
    resample_coarsen(coarse, NULL, fine, NULL, H, W, S, lat);
    const double w0 = 0.5, w1 = cos(M_PI / 6), want = (w0 * 1 + w1 * 2) / (w0 + w1);
    assert_true(fabs(coarse[0] - want) < 1e-6);
    resample_coarsen(coarse, NULL, fine, NULL, H, W, S, NULL); /* no latitudes: the plain mean */
    assert_true(fabsf(coarse[0] - 1.5f) < 1e-6f);
    /* invalid cells weigh nothing; a block without any is NaN and not valid */
    valid[0] = 0;
    resample_coarsen(coarse, cv, fine, valid, H, W, S, NULL);
    assert_true(fabsf(coarse[0] - (1.0f + 2 + 2) / 3) < 1e-6f);
    valid[1] = valid[W] = valid[W + 1] = 0;
    resample_coarsen(coarse, cv, fine, valid, H, W, S, NULL);
    assert_true(isnan(coarse[0]) && !cv[0] && cv[1]);
    /* coarsening a block-replicated field gives it back */
    float c0[6] = {1, -2, 3.5f, 4, 0, 7}, rep[H * W], back[6];
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) rep[i * W + j] = c0[(i / S) * (W / S) + j / S];
    resample_coarsen(back, NULL, rep, NULL, H, W, S, lat);
    TU_ASSERT_CLOSE_FF(back, c0, 6, 1e-6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_values),
        cmocka_unit_test(test_torch_periodic),
        cmocka_unit_test(test_exact_fields),
        cmocka_unit_test(test_periodic_seam),
        cmocka_unit_test(test_coarsen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
