/* The forecast's anchor (data/anchor.h) and history inputs (data/dataset.h), by hand: the
 * coefficient, scale and gain between and beyond the trained leads, the metadata round trip and
 * its refusals, the training target (y - (c + a (x - c))) / s of host_batch_fill, and the earlier
 * states of --history with the samples that lack them dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "data/anchor.h"
#include "data/dataset.h"

/* two variables, leads 6 and 18 h */
static void two_leads(Anchor *an, float *coef, float *scale) {
    const float c[4] = {0.8f, 0.5f, 0.2f, 0.0f}, s[4] = {0.4f, 0.3f, 1.0f, 0.9f};
    memcpy(coef, c, sizeof c);
    memcpy(scale, s, sizeof s);
    *an = (Anchor){.V = 2, .H = 1, .W = 2, .nlead = 2, .lead_h = {6, 18}, .coef = coef, .scale = scale};
}

static void test_interpolation(void **state) {
    (void)state;
    Anchor an;
    float coef[4], scale[4];
    two_leads(&an, coef, scale);
    /* a: from 1 at lead 0 to 0.8 at 6 h, linear to 0.2 at 18 h, held beyond */
    assert_float_equal(anchor_coef(&an, 0, 3), 0.9f, 1e-6);
    assert_float_equal(anchor_coef(&an, 0, 6), 0.8f, 1e-6);
    assert_float_equal(anchor_coef(&an, 0, 12), 0.5f, 1e-6);
    assert_float_equal(anchor_coef(&an, 1, 12), 0.25f, 1e-6);
    assert_float_equal(anchor_coef(&an, 1, 48), 0.0f, 0);
    /* the scale is held below the first lead (the difference shrinks, its scale is fitted there) */
    assert_float_equal(anchor_scale(&an, 0, 3), 0.4f, 0);
    assert_float_equal(anchor_scale(&an, 0, 12), 0.7f, 1e-6);
    assert_float_equal(anchor_scale(&an, 1, 72), 0.9f, 0);
    assert_float_equal(anchor_gain(&an, 1, 12), 1.0f, 0); /* before calibration */
    float gain[4] = {0.0f, 1.0f, 0.5f, 0.5f};
    an.gain = gain;
    assert_float_equal(anchor_gain(&an, 0, 12), 0.25f, 1e-6);
    /* anchor_value: c + a (x - c); persistence where there is no climatology */
    assert_float_equal(anchor_value(3.0f, 1.0f, 0.25f), 1.5f, 0);
    assert_float_equal(anchor_value(3.0f, NAN, 0.25f), 3.0f, 0);
}

static void test_json_round_trip(void **state) {
    (void)state;
    Anchor an, back;
    float coef[4], scale[4], gain[4] = {0.25f, 1.0f, 0.0f, 0.5f};
    two_leads(&an, coef, scale);
    an.gain = gain;
    char *js = anchor_to_json(&an), err[256];
    assert_int_equal(anchor_from_json(&back, js, 2, 1, 2, err, sizeof err), 0);
    assert_int_equal(back.nlead, 2);
    for (int i = 0; i < 4; i++) {
        assert_float_equal(back.coef[i], coef[i], 0);
        assert_float_equal(back.scale[i], scale[i], 0);
        assert_float_equal(back.gain[i], gain[i], 0);
    }
    anchor_free(&back);
    /* the wrong number of variables, a coefficient outside [0, 1], leads out of order, no scale */
    assert_int_equal(anchor_from_json(&back, js, 3, 1, 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "lvit.anchor"));
    free(js);
    const char *bad[] = {
        "{\"kind\":\"blend\",\"lead_hours\":[6],\"coef\":[[1.5,0]],\"scale\":[[1,1]]}",
        "{\"kind\":\"blend\",\"lead_hours\":[12,6],\"coef\":[[1,0],[1,0]],\"scale\":[[1,1],[1,1]]}",
        "{\"kind\":\"blend\",\"lead_hours\":[6],\"coef\":[[1,0]]}",
        "{\"kind\":\"blend\",\"lead_hours\":[6],\"coef\":[[1,0]],\"scale\":[[0,1]]}",
        "{\"kind\":\"persistence\",\"lead_hours\":[6],\"coef\":[[1,0]],\"scale\":[[1,1]]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(anchor_from_json(&back, bad[i], 2, 1, 2, err, sizeof err), -1);
        assert_null(back.coef);
    }
}

/* V = 1 on a 1 x 2 grid at 4 times 6 h apart; mean 10, std 2 */
static void tiny(Dataset *ds, float *data, double *hours, float *mean, float *std) {
    static char names[1][LVIT_VAR_NAME] = {"t"};
    const float d[8] = {10, 12, 14, 16, 11, 9, 20, 8};
    memcpy(data, d, sizeof d);
    for (int t = 0; t < 4; t++) hours[t] = 6.0 * t;
    *mean = 10, *std = 2;
    memset(ds, 0, sizeof *ds);
    ds->V = 1, ds->T = 4, ds->H = 1, ds->W = 2;
    ds->names = names, ds->hours = hours, ds->data = data, ds->mean = mean, ds->std = std;
    ds->t_train_end = ds->t_val_end = 4;
    snprintf(ds->source, sizeof ds->source, "hand-made");
}

static void test_fill_target(void **state) {
    (void)state;
    Dataset ds;
    float data[8], mean, std;
    double hours[4];
    tiny(&ds, data, hours, &mean, &std);
    float clim[2] = {0.5f, NAN}, coef[1] = {0.5f}, scale[1] = {0.25f}; /* normalised climatology */
    Anchor an = {.V = 1, .H = 1, .W = 2, .nlead = 1, .lead_h = {6}, .coef = coef, .scale = scale, .clim = clim};
    Sampler s;
    char err[256];
    const float lead = 6;
    assert_int_equal(sampler_init(&s, &ds, 0, 4, &lead, 1, 0, 0, err, sizeof err), 0);
    HostBatch hb;
    host_batch_init(&hb, 1, 1, 1, 2);
    hb.anchor = &an;
    host_batch_fill(&hb, 0, &s, 1); /* t = 1 -> 2: x = (14, 16), y = (11, 9) */
    /* normalised x = (2, 3), y = (0.5, -0.5); cell 0: anchor 0.5 + 0.5 (2 - 0.5) = 1.25, target
     * (0.5 - 1.25) / 0.25 = -3; cell 1 has no climatology: anchor = x = 3, target (-0.5 - 3) / 0.25 */
    assert_float_equal(hb.x[0], 2.0f, 0);
    assert_float_equal(hb.y[0], -3.0f, 1e-6);
    assert_float_equal(hb.y[1], -14.0f, 1e-6);
    assert_float_equal(hb.mask[0], 1.0f, 0);
    host_batch_free(&hb);
    sampler_free(&s);
}

static void test_history(void **state) {
    (void)state;
    Dataset ds;
    float data[8], mean, std;
    double hours[4];
    tiny(&ds, data, hours, &mean, &std);
    Sampler s;
    char err[256];
    const float lead = 6;
    assert_int_equal(sampler_init(&s, &ds, 0, 4, &lead, 1, 0, 0, err, sizeof err), 0);
    assert_int_equal(s.n, 3); /* t = 0, 1, 2 */
    assert_int_equal(sampler_require_history(&s, 2, 6.0f, err, sizeof err), 0);
    assert_int_equal(s.n, 1); /* only t = 2 has t - 1 and t - 2 */
    assert_int_equal(s.idx[0], 2);
    HostBatch hb;
    host_batch_init(&hb, 1, 3, 1, 2);
    host_batch_set_history(&hb, 2, 1);
    assert_int_equal(hb.ny, 2);
    host_batch_fill(&hb, 0, &s, s.idx[0]);
    /* channels: t = 2 (11, 9), t = 1 (14, 16), t = 0 (10, 12), normalised; the target t = 3 */
    const float want[6] = {0.5f, -0.5f, 2.0f, 3.0f, 0.0f, 1.0f};
    for (int i = 0; i < 6; i++) assert_float_equal(hb.x[i], want[i], 1e-6);
    assert_float_equal(hb.y[0], 5.0f, 1e-6);
    assert_float_equal(hb.y[1], -1.0f, 1e-6);
    host_batch_free(&hb);
    /* a gap: the times 0, 6, 18, 24 have no state 6 h before 18; none has two */
    hours[2] = 18, hours[3] = 24;
    sampler_free(&s);
    assert_int_equal(sampler_init(&s, &ds, 0, 4, &lead, 1, 0, 0, err, sizeof err), 0);
    assert_int_equal(sampler_require_history(&s, 1, 6.0f, err, sizeof err), -1);
    assert_non_null(strstr(err, "--history 1"));
    sampler_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolation),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_fill_target),
        cmocka_unit_test(test_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
