/* Training-state checkpoint files (src/io/train_state.c): a state written as the shards of one
 * layout is gathered exactly by the ranges of another; every broken or crafted file (missing,
 * truncated, bad checksum, bad ranges, wrong dtype, bad manifest) is an error that names the
 * file, never a crash. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "io/safetensors.h"
#include "io/train_state.h"
#include "util_test.h"

enum { N = 1000 };

static float *canon(int vec) { /* the canonical vector: a distinct value per element and vector */
    float *x = tu_falloc(N);
    for (int i = 0; i < N; i++) x[i] = (float)(vec * 10000 + i);
    return x;
}

static void ckdir(char *dir, size_t n) {
    char err[512];
    int rc = state_dir(tu_tmpdir(), 10, dir, n, err, sizeof err);
    if (rc) fail_msg("%s", err);
}

/* writes the state as nf files whose ranges are given by cut points, params in file 0 only */
static void write_state(const char *dir, int nf, const int64_t *cuts, const StateManifest *m0) {
    char err[512];
    float *p = canon(SV_PARAMS), *mm = canon(SV_ADAM_M), *vv = canon(SV_ADAM_V);
    TrainState ts = {.step = 10, .opt_t = 9, .spike_n = 3, .best_step = 5, .best_val = 0.25};
    ts.spike_hist[1] = 1.5;
    for (int f = 0; f < nf; f++) {
        /* moments of [cuts[f], cuts[f+1]) in two pieces stored in reverse order (any order works) */
        int64_t a = cuts[f], b = cuts[f + 1], mid = (a + b) / 2;
        StateRange r[2] = {{mid, b - mid}, {a, mid - a}};
        float *pm = tu_falloc(N), *pv = tu_falloc(N);
        memcpy(pm, mm + mid, sizeof(float) * (size_t)(b - mid));
        memcpy(pm + (b - mid), mm + a, sizeof(float) * (size_t)(mid - a));
        memcpy(pv, vv + mid, sizeof(float) * (size_t)(b - mid));
        memcpy(pv + (b - mid), vv + a, sizeof(float) * (size_t)(mid - a));
        StateRange all = {0, N};
        StatePart parts[3] = {{SV_ADAM_M, pm, r, 2}, {SV_ADAM_V, pv, r, 2}, {SV_PARAMS, p, &all, 1}};
        if (state_save_file(dir, f, parts, f == 0 ? 3 : 2, &ts, err, sizeof err)) fail_msg("%s", err);
        free(pm), free(pv);
    }
    StateManifest m = *m0;
    m.nfiles = nf;
    if (state_write_manifest(dir, &m, err, sizeof err)) fail_msg("%s", err);
    free(p), free(mm), free(vv);
}

static StateManifest base_manifest(void) {
    StateManifest m = {.step = 10, .n_params = N, .dp = 3, .sp = 1, .zero = 1, .batch = 4, .seed = 7};
    snprintf(m.config, sizeof m.config, "{\"dim\":32}");
    return m;
}

/* gather moments over [lo, hi) split into k ranges, params whole */
static int gather(const char *dir, int64_t lo, int64_t hi, int k, char *err, size_t n, TrainState *ts) {
    StateManifest m;
    if (state_read_manifest(dir, &m, err, n)) return -1;
    StateRange r[8];
    int64_t step = (hi - lo + k - 1) / k;
    int nr = 0;
    for (int64_t a = lo; a < hi; a += step) r[nr++] = (StateRange){a, a + step < hi ? step : hi - a};
    float *pm = tu_falloc(N), *pv = tu_falloc(N), *pp = tu_falloc(N);
    StateRange all = {0, N};
    StatePart want[3] = {{SV_ADAM_M, pm, r, nr}, {SV_ADAM_V, pv, r, nr}, {SV_PARAMS, pp, &all, 1}};
    int rc = state_gather(dir, &m, want, 3, ts, err, n);
    if (rc == 0) {
        float *mm = canon(SV_ADAM_M), *vv = canon(SV_ADAM_V), *p = canon(SV_PARAMS);
        assert_memory_equal(pm, mm + lo, sizeof(float) * (size_t)(hi - lo));
        assert_memory_equal(pv, vv + lo, sizeof(float) * (size_t)(hi - lo));
        assert_memory_equal(pp, p, sizeof(float) * N);
        free(mm), free(vv), free(p);
    }
    free(pm), free(pv), free(pp);
    return rc;
}

static void test_reshard_roundtrip(void **st) {
    (void)st;
    char dir[4096], err[4400];
    ckdir(dir, sizeof dir);
    StateManifest m = base_manifest();
    int64_t cuts[4] = {0, 334, 668, N}; /* written as 3 shards */
    write_state(dir, 3, cuts, &m);
    TrainState ts;
    /* read back as 1, 2, 4 and 7 ranks' shards, each in several ranges crossing file borders */
    int splits[4] = {1, 2, 4, 7};
    for (int s = 0; s < 4; s++)
        for (int r = 0; r < splits[s]; r++) {
            int64_t per = (N + splits[s] - 1) / splits[s], lo = r * per, hi = lo + per < N ? lo + per : N;
            if (gather(dir, lo, hi, 3, err, sizeof err, &ts)) fail_msg("%s", err);
        }
    assert_int_equal(ts.step, 10);
    assert_int_equal(ts.opt_t, 9);
    assert_int_equal(ts.spike_n, 3);
    assert_int_equal(ts.best_step, 5);
    assert_true(ts.best_val == 0.25 && ts.spike_hist[1] == 1.5);
    StateManifest back;
    assert_int_equal(state_read_manifest(dir, &back, err, sizeof err), 0);
    assert_int_equal(back.nfiles, 3);
    assert_int_equal(back.dp, 3);
    assert_int_equal(back.batch, 4);
    assert_string_equal(back.config, m.config);
    char latest[4096];
    assert_int_equal(state_find_latest(tu_tmpdir(), latest, sizeof latest), 0);
    assert_string_equal(latest, dir);
}

static void expect_gather_error(const char *dir, const char *what) {
    char err[4400];
    TrainState ts;
    int rc = gather(dir, 0, N, 2, err, sizeof err, &ts);
    if (rc == 0) fail_msg("expected an error mentioning \"%s\"", what);
    TU_ASSERT_CONTAINS(err, what);
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(*n + 1);
    assert_int_equal(fread(b, 1, *n, f), *n);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* replaces the first (all = 0) or every occurrence of `from` in the file by `to` (same
 * length). The metadata is a JSON string inside the header: its quotes are escaped (\\"). */
static void patch_n(const char *path, const char *from, const char *to, int all) {
    size_t n, k = strlen(from), hits = 0;
    char *b = slurp(path, &n);
    assert_int_equal(k, strlen(to));
    for (size_t i = 0; i + k <= n && (all || !hits); i++)
        if (!memcmp(b + i, from, k)) memcpy(b + i, to, k), hits++;
    if (!hits) fail_msg("'%s' not in %s", from, path);
    write_file(path, b, n);
    free(b);
}
static void patch(const char *path, const char *from, const char *to) { patch_n(path, from, to, 0); }

static void fresh(char *dir, size_t n) {
    tu_remove_tree(tu_tmpdir());
    mkdir(tu_tmpdir(), 0755);
    ckdir(dir, n);
    StateManifest m = base_manifest();
    int64_t cuts[3] = {0, 500, N};
    write_state(dir, 2, cuts, &m);
}

static void test_broken_files(void **st) {
    (void)st;
    char dir[4096], path[4300];
    fresh(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/state_00001.safetensors", dir);
    /* a missing file */
    remove(path);
    expect_gather_error(dir, "state_00001.safetensors");
    /* truncated */
    fresh(dir, sizeof dir);
    size_t n;
    char *b = slurp(path, &n);
    write_file(path, b, n / 2);
    expect_gather_error(dir, "state_00001.safetensors");
    /* a flipped data byte: the checksum */
    b[n - 8] ^= 0x40;
    write_file(path, b, n);
    expect_gather_error(dir, "fails its checksum");
    free(b);
    /* ranges beyond the parameters, of the wrong total, or not pairs */
    fresh(dir, sizeof dir);
    patch(path, "[[750,250]", "[[950,250]");
    expect_gather_error(dir, "not [at, len] within the 1000 parameters");
    fresh(dir, sizeof dir);
    patch(path, "[[750,250]", "[[750,240]");
    expect_gather_error(dir, "ranges cover");
    fresh(dir, sizeof dir);
    patch(path, "[[750,250]", "[[750,-50]");
    expect_gather_error(dir, "not [at, len]");
    fresh(dir, sizeof dir);
    patch(path, "[[750,250]", "[{750,250]"); /* not JSON */
    expect_gather_error(dir, "no valid lvit.state metadata");
    /* wrong dtype, unknown tensor, a step that is not the manifest's */
    fresh(dir, sizeof dir);
    patch(path, "\"F32\"", "\"I32\"");
    expect_gather_error(dir, "must be F32");
    fresh(dir, sizeof dir);
    patch_n(path, "adam_v", "adam_x", 1);
    expect_gather_error(dir, "unexpected tensor 'adam_x'");
    fresh(dir, sizeof dir);
    patch(path, "{\\\"step\\\":10,", "{\\\"step\\\":11,");
    expect_gather_error(dir, "its manifest says 10");
    /* a file that holds less than a rank needs */
    fresh(dir, sizeof dir);
    StateManifest m = base_manifest();
    int64_t cuts[3] = {0, 400, 800}; /* nobody wrote [800, 1000) */
    write_state(dir, 2, cuts, &m);
    expect_gather_error(dir, "hold 800 of the 1000 'adam_m' values");
    /* overlapping ranges with the right total (issue 20, defect 10: half the values were never
     * loaded): within one file, and across files */
    fresh(dir, sizeof dir);
    patch(path, "[[750,250],[500,250]]", "[[750,250],[750,250]]");
    expect_gather_error(dir, "[750, +250) of state_00001.safetensors and [750, +250) of state_00001.safetensors overlap");
    fresh(dir, sizeof dir);
    patch(path, "[[750,250],[500,250]]", "[[750,250],[400,250]]");
    expect_gather_error(dir, "[250, +250) of state_00000.safetensors and [400, +250) of state_00001.safetensors overlap");
    /* the same tensor twice in the metadata is refused by the JSON parser */
    fresh(dir, sizeof dir);
    patch(path, "\\\"adam_v\\\":{", "\\\"adam_m\\\":{");
    expect_gather_error(dir, "state_00001.safetensors");
}

static void expect_manifest_error(const char *dir, const char *text, const char *what) {
    char path[4300], err[4400];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    write_file(path, text, strlen(text));
    StateManifest m;
    if (state_read_manifest(dir, &m, err, sizeof err) == 0) fail_msg("manifest '%s' accepted", text);
    TU_ASSERT_CONTAINS(err, "manifest.json");
    TU_ASSERT_CONTAINS(err, what);
}

static void test_bad_manifests(void **st) {
    (void)st;
    char dir[4096];
    fresh(dir, sizeof dir);
    expect_manifest_error(dir, "", "empty");
    expect_manifest_error(dir, "{\"step\":10", "manifest");
    expect_manifest_error(dir, "[1,2]", "\"step\" missing");
    expect_manifest_error(dir, "{\"step\":10,\"files\":0,\"dp\":1,\"sp\":1,\"zero\":0,\"n_params\":1,\"batch\":1,\"seed\":1,\"config\":\"{}\"}",
                          "\"files\"");
    expect_manifest_error(dir, "{\"step\":10,\"files\":2,\"dp\":1,\"sp\":1,\"zero\":7,\"n_params\":1,\"batch\":1,\"seed\":1,\"config\":\"{}\"}",
                          "\"zero\"");
    expect_manifest_error(dir, "{\"step\":10,\"files\":2,\"dp\":1,\"sp\":1,\"zero\":1,\"n_params\":-5,\"batch\":1,\"seed\":1,\"config\":\"{}\"}",
                          "\"n_params\"");
    expect_manifest_error(dir, "{\"step\":10,\"files\":2,\"dp\":1,\"sp\":1,\"zero\":1,\"n_params\":5,\"batch\":1,\"seed\":1}",
                          "\"config\"");
    expect_manifest_error(dir, "{\"step\":1e400,\"files\":2}", "manifest");
    /* larger than any manifest: refused without reading it all */
    char *big = malloc(200000);
    memset(big, ' ', 199999);
    big[199999] = 0;
    big[0] = '{';
    expect_manifest_error(dir, big, "larger than");
    free(big);
    /* a directory without a manifest is not a checkpoint */
    char path[4300], latest[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    remove(path);
    assert_int_equal(state_find_latest(tu_tmpdir(), latest, sizeof latest), -1);
}

static void test_prune(void **st) {
    (void)st;
    char dir[4096], err[512], latest[4096];
    tu_remove_tree(tu_tmpdir());
    mkdir(tu_tmpdir(), 0755);
    StateManifest m = base_manifest();
    int64_t cuts[2] = {0, N};
    for (int64_t s = 5; s <= 30; s += 5) {
        if (state_dir(tu_tmpdir(), s, dir, sizeof dir, err, sizeof err)) fail_msg("%s", err);
        m.step = s;
        if (s != 25) write_state(dir, 1, cuts, &m); /* 25: torn (files but no manifest) */
        else {
            char p[4300];
            snprintf(p, sizeof p, "%s/state_00000.safetensors.tmp.1", dir);
            write_file(p, "partial", 7);
        }
    }
    /* written with step 10's scalars: fine for listing and pruning */
    state_prune(tu_tmpdir(), 2, 10);
    const char *kept[] = {"step_00000010", "step_00000020", "step_00000030"};
    const char *gone[] = {"step_00000005", "step_00000015", "step_00000025"};
    struct stat sb;
    for (int i = 0; i < 3; i++) {
        char p[4300];
        snprintf(p, sizeof p, "%s/ckpt/%s", tu_tmpdir(), kept[i]);
        if (stat(p, &sb)) fail_msg("%s was pruned", kept[i]);
        snprintf(p, sizeof p, "%s/ckpt/%s", tu_tmpdir(), gone[i]);
        if (!stat(p, &sb)) fail_msg("%s was kept", gone[i]);
    }
    assert_int_equal(state_find_latest(tu_tmpdir(), latest, sizeof latest), 0);
    TU_ASSERT_CONTAINS(latest, "step_00000030");
}

/* resume takes the newest checkpoint that verifies (issue 20, defect 11) */
static void test_find_intact(void **st) {
    (void)st;
    char dir[4096], found[4096], err[4400], path[4300];
    tu_remove_tree(tu_tmpdir());
    mkdir(tu_tmpdir(), 0755);
    StateManifest m = base_manifest(), got;
    int64_t cuts[3] = {0, 500, N};
    for (int64_t s = 10; s <= 20; s += 10) {
        if (state_dir(tu_tmpdir(), s, dir, sizeof dir, err, sizeof err)) fail_msg("%s", err);
        write_state(dir, 2, cuts, &m);
    }
    assert_int_equal(state_find_intact(tu_tmpdir(), found, sizeof found, &got, err, sizeof err), 0);
    TU_ASSERT_CONTAINS(found, "step_00000020");
    /* a flipped byte in the newest: the one before it */
    snprintf(path, sizeof path, "%s/state_00001.safetensors", dir);
    size_t n;
    char *b = slurp(path, &n);
    b[n - 8] ^= 0x40;
    write_file(path, b, n);
    free(b);
    assert_int_equal(state_find_intact(tu_tmpdir(), found, sizeof found, &got, err, sizeof err), 0);
    TU_ASSERT_CONTAINS(found, "step_00000010");
    assert_int_equal(got.nfiles, 2);
    /* both damaged: refused, naming the newest's problem */
    snprintf(path, sizeof path, "%s/ckpt/step_00000010/state_00000.safetensors", tu_tmpdir());
    remove(path);
    assert_int_not_equal(state_find_intact(tu_tmpdir(), found, sizeof found, &got, err, sizeof err), 0);
    TU_ASSERT_CONTAINS(err, "none of the 2 complete checkpoints");
    TU_ASSERT_CONTAINS(err, "fails its checksum");
    tu_remove_tree(tu_tmpdir());
    mkdir(tu_tmpdir(), 0755);
    assert_int_not_equal(state_find_intact(tu_tmpdir(), found, sizeof found, &got, err, sizeof err), 0);
    TU_ASSERT_CONTAINS(err, "no complete checkpoint");
}

static void test_write_errors(void **st) {
    (void)st;
    char err[4400], dir[4096];
    /* a step directory that is a file: the error names the path */
    tu_remove_tree(tu_tmpdir());
    mkdir(tu_tmpdir(), 0755);
    char p[4300];
    snprintf(p, sizeof p, "%s/ckpt", tu_tmpdir());
    write_file(p, "x", 1);
    assert_int_equal(state_dir(tu_tmpdir(), 10, dir, sizeof dir, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "/ckpt");
    /* a state file that cannot be created (its directory is missing) */
    TrainState ts = {0};
    float x[4] = {1, 2, 3, 4};
    StateRange r = {0, 4};
    StatePart part = {SV_PARAMS, x, &r, 1};
    snprintf(dir, sizeof dir, "%s/nowhere", tu_tmpdir());
    assert_int_equal(state_save_file(dir, 0, &part, 1, &ts, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "nowhere/state_00000.safetensors");
    StateManifest m = base_manifest();
    assert_int_equal(state_write_manifest(dir, &m, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "nowhere/manifest.json");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshard_roundtrip),
        cmocka_unit_test(test_broken_files),
        cmocka_unit_test(test_bad_manifests),
        cmocka_unit_test(test_prune),
        cmocka_unit_test(test_find_intact),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
