/* The data-dependent defaults of the pixel tasks (src/train/auto_defaults_pixels.c): what the rule
 * picks for a hyperspectral and a multispectral scene, its rounding to the layout, and that every
 * flag the user gives is left alone. */
#include <string.h>
#include "train/auto_defaults.h"
#include "util_test.h"

static AutoDefaults start(void) { /* the general defaults, as train_run hands them over */
    AutoDefaults a = {.steps = 200, .lr = 5e-4f, .weight_decay = 1e-5f, .dim = 128, .depth = 4, .heads = 4, .batch = 8,
                      .window = 9, .patch = 2};
    return a;
}

static void test_hyperspectral(void **state) {
    (void)state;
    Dataset ds = {.V = 204};
    AutoDefaults a = start();
    char what[512];
    assert_int_equal(auto_defaults_pixels(&a, 0, &ds, 0, 1, 1, 1, what, sizeof what), 8);
    assert_int_equal(a.patch, 1);
    assert_int_equal(a.window, 3);
    assert_string_equal(a.band_groups, "13"); /* ceil(204 / 16) */
    assert_int_equal(a.dim, 64);
    assert_int_equal(a.depth, 2);
    assert_int_equal(a.batch, 16);
    assert_int_equal(a.steps, 2000);
    assert_float_equal(a.lr, 5e-4f, 0); /* classification keeps the general learning rate */
    assert_non_null(strstr(what, "band-groups 13"));
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 1, 1, 1, 1, NULL, 0); /* the MAE: longer, larger batches, lr 1e-3 */
    assert_int_equal(a.steps, 4000);
    assert_int_equal(a.batch, 32);
    assert_float_equal(a.lr, 1e-3f, 0);
    ds.V = 17; /* the first count with two groups */
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 1, 1, NULL, 0);
    assert_string_equal(a.band_groups, "2");
}

static void test_multispectral(void **state) { /* 16 bands or fewer: 9x9 windows, ClimaX's aggregation */
    (void)state;
    Dataset ds = {.V = 8};
    AutoDefaults a = start();
    char what[512];
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 1, 1, what, sizeof what);
    assert_int_equal(a.window, 9);
    assert_int_equal(a.patch, 3);
    assert_string_equal(a.band_groups, "");
    assert_null(strstr(what, "band-groups"));
    ds.V = 16;
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 1, 1, NULL, 0);
    assert_string_equal(a.band_groups, "");
}

static void test_layout(void **state) { /* whole patch rows per sp rank, a block per stage, dp | batch */
    (void)state;
    Dataset ds = {.V = 204};
    AutoDefaults a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 3, 2, 3, NULL, 0);
    assert_int_equal(a.window, 4);
    assert_int_equal(a.depth, 3);
    assert_int_equal(a.batch, 18);
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 4, 1, NULL, 0);
    assert_int_equal(a.window, 4);
    a = start(); /* a given patch: the window still holds whole patch rows per rank */
    a.patch = 2;
    auto_defaults_pixels(&a, GIVEN_PATCH, &ds, 0, 1, 2, 1, NULL, 0);
    assert_int_equal(a.window, 4);
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 3, 1, NULL, 0);
    assert_int_equal(a.window, 3);
    ds.V = 8; /* 3 patch rows of 3 on 2 ranks: 2 rows each */
    a = start();
    auto_defaults_pixels(&a, 0, &ds, 0, 1, 2, 1, NULL, 0);
    assert_int_equal(a.window, 12);
}

static void test_given_flags_win(void **state) {
    (void)state;
    Dataset ds = {.V = 204};
    AutoDefaults a = start();
    const unsigned all = GIVEN_STEPS | GIVEN_LR | GIVEN_DIM | GIVEN_DEPTH | GIVEN_HEADS | GIVEN_BATCH | GIVEN_WINDOW |
                         GIVEN_PATCH | GIVEN_BAND_GROUPS;
    assert_int_equal(auto_defaults_pixels(&a, all, &ds, 1, 1, 1, 1, NULL, 0), 0);
    AutoDefaults b = start();
    assert_memory_equal(&a, &b, sizeof a);
    /* another tokenizer chosen: no band groups */
    auto_defaults_pixels(&a, GIVEN_CHANNELS, &ds, 0, 1, 1, 1, NULL, 0);
    assert_string_equal(a.band_groups, "");
    auto_defaults_pixels(&a, GIVEN_CHANNEL_PARALLEL, &ds, 0, 1, 1, 1, NULL, 0);
    assert_string_equal(a.band_groups, "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hyperspectral),
        cmocka_unit_test(test_multispectral),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_given_flags_win),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
