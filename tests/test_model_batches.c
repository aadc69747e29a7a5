/* The batches a model is fed: residual targets (the normalized change, valid where both times
 * are), the sampler's splits (no leaks) and shards (every sample once, epochs reshuffled the same
 * way every run), and sequence-parallel row bands of a batch. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "train/trainer.h"
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/vit.h"
#include "optim/optim.h"
#include "util_model.h"
#include "util_test.h"

/* With a residual model the target is the normalized change, counted where both times are valid. */
static void test_residual_targets(void **s) {
    (void)s;
    Dataset ds;
    dataset_synthetic(&ds, 2, 10, 4, 6, 1);
    uint8_t *valid = malloc((size_t)10 * 2 * 4 * 6);
    memset(valid, 1, (size_t)10 * 2 * 4 * 6);
    valid[0] = 0; /* t=0, v=0, cell 0 missing at the initial time only */
    ds.valid = valid;
    Sampler sm;
    float lead = 6;
    char err[256];
    assert_int_equal(sampler_init(&sm, &ds, 0, 10, &lead, 1, 1, 0, err, sizeof err), 0);
    HostBatch a, b;
    host_batch_init(&a, 1, 2, 4, 6);
    host_batch_init(&b, 1, 2, 4, 6);
    b.residual = 1;
    host_batch_fill(&a, 0, &sm, 0);
    host_batch_fill(&b, 0, &sm, 0);
    for (int i = 1; i < 2 * 4 * 6; i++) {
        assert_float_equal(b.y[i], a.y[i] - a.x[i], 1e-6);
        assert_float_equal(b.mask[i], 1.0f, 0);
    }
    assert_float_equal(a.mask[0], 1.0f, 0); /* direct target: valid at t+lead */
    assert_float_equal(b.mask[0], 0.0f, 0); /* residual target: needs the initial value too */
    host_batch_free(&a);
    host_batch_free(&b);
    sampler_free(&sm);
    dataset_free(&ds);
    free(valid);
}

/* Splits never leak: every sample of a split has both its times inside it. Shards of an epoch
 * cover every sample exactly once; epochs reshuffle deterministically. */
static void test_sampler_splits_and_shards(void **s) {
    (void)s;
    Dataset ds;
    dataset_synthetic(&ds, 2, 64, 4, 6, 3);
    float leads[2] = {6, 24};
    char err[256];
    int bounds[4] = {0, 40, 48, 64};
    for (int k = 0; k < 3; k++) {
        Sampler sm;
        assert_int_equal(sampler_init(&sm, &ds, bounds[k], bounds[k + 1], leads, 2, 5, 1, err, sizeof err), 0);
        for (int64_t i = 0; i < sm.n; i++) {
            int t, t2;
            float lead;
            sampler_decode(&sm, sm.idx[i], &t, &t2, &lead);
            assert_true(t >= bounds[k] && t2 < bounds[k + 1] && t2 > t);
            assert_float_equal(ds.hours[t2] - ds.hours[t], lead, 1e-6);
        }
        sampler_free(&sm);
    }
    Sampler full, sh[3];
    assert_int_equal(sampler_init(&full, &ds, 0, 40, leads, 2, 5, 1, err, sizeof err), 0);
    int64_t n = full.n;
    int *seen = calloc((size_t)ds.T * 2, sizeof(int));
    int64_t *order = malloc(sizeof(int64_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) order[i] = sampler_next(&full);
    for (int r = 0; r < 3; r++) {
        assert_int_equal(sampler_init(&sh[r], &ds, 0, 40, leads, 2, 5, 1, err, sizeof err), 0);
        sampler_shard(&sh[r], r, 3);
        for (int64_t i = r; i < n; i += 3) {
            int64_t id = sampler_next(&sh[r]);
            assert_int_equal(id, order[i]); /* a shard is a slice of the common order */
            seen[id]++;
        }
    }
    for (int64_t i = 0; i < n; i++) assert_int_equal(seen[order[i]], 1);
    /* the next epoch is a different order, the same on every run */
    int64_t a = sampler_next(&full), differs = 0;
    Sampler again;
    assert_int_equal(sampler_init(&again, &ds, 0, 40, leads, 2, 5, 1, err, sizeof err), 0);
    for (int64_t i = 0; i < n; i++) sampler_next(&again);
    assert_int_equal(sampler_next(&again), a);
    for (int64_t i = 1; i < n; i++) differs |= sampler_next(&full) != order[i];
    assert_true(differs);
    for (int r = 0; r < 3; r++) sampler_free(&sh[r]);
    sampler_free(&full);
    sampler_free(&again);
    free(seen);
    free(order);
    dataset_free(&ds);
}

/* Sequence-parallel row bands: each band holds exactly the rows of the full batch (padding
 * rows included), and the bands of the ranks cover the grid once. */
static void test_batch_row_bands(void **s) {
    (void)s;
    Dataset ds;
    dataset_synthetic(&ds, 3, 20, 7, 6, 4); /* 7 rows: padded to 8 for patch 2 */
    dataset_compute_stats(&ds, 0, 16);
    float leads[1] = {6};
    char err[256];
    Sampler sm;
    assert_int_equal(sampler_init(&sm, &ds, 0, 16, leads, 1, 5, 1, err, sizeof err), 0);
    const int B = 2, V = 3, Hp = 8, Wp = 6;
    HostBatch full;
    host_batch_init(&full, B, V, Hp, Wp);
    for (int i = 0; i < B; i++) host_batch_fill(&full, i, &sm, sm.idx[i + 3]);
    const int bands[5] = {0, 2, 4, 6, 8}; /* 4 ranks, one patch row each */
    int covered[8] = {0};
    for (int r = 0; r < 4; r++) {
        HostBatch hb;
        int r0 = bands[r], nr = bands[r + 1] - bands[r];
        host_batch_init_rows(&hb, B, V, Hp, Wp, r0, nr);
        for (int i = 0; i < B; i++) host_batch_fill(&hb, i, &sm, sm.idx[i + 3]);
        for (int bv = 0; bv < B * V; bv++)
            for (int row = 0; row < nr; row++) {
                size_t a = ((size_t)bv * nr + row) * Wp, f = ((size_t)bv * Hp + r0 + row) * Wp;
                assert_memory_equal(hb.x + a, full.x + f, sizeof(float) * Wp);
                assert_memory_equal(hb.y + a, full.y + f, sizeof(float) * Wp);
                assert_memory_equal(hb.mask + a, full.mask + f, sizeof(float) * Wp);
            }
        assert_memory_equal(hb.lead, full.lead, sizeof(float) * B);
        for (int row = r0; row < r0 + nr; row++) covered[row]++;
        host_batch_free(&hb);
    }
    for (int row = 0; row < Hp; row++) assert_int_equal(covered[row], 1);
    /* the padding row (7) is masked in the band that holds it */
    for (int c = 0; c < Wp; c++) assert_true(full.mask[(size_t)7 * Wp + c] == 0.0f);
    host_batch_free(&full);
    sampler_free(&sm);
    dataset_free(&ds);
}

int main(void) {
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_residual_targets),
        cmocka_unit_test(test_sampler_splits_and_shards),
        cmocka_unit_test(test_batch_row_bands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
