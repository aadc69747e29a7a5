/* Tests for src/io/safetensors.c, reading and writing good files: the round trip of every dtype,
 * metadata and awkward names, the header's alignment, float32 conversions and shape errors of
 * st_read_f32, and writes that replace a file atomically or fail without touching the old one
 * (missing or read-only directory, a full disk). Malformed files: test_safetensors_reject.c.
 * Files go to a mkdtemp directory under /tmp, removed by the group teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/json.h"
#include "io/safetensors.h"
#include "util_st.h"
#include "util_test.h"

static int count_entries(const char *dir, const char *containing) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, containing)) n++;
    closedir(d);
    return n;
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

/* ------------------------------------------------------------ safetensors */

static void test_st_roundtrip(void **state) {
    char path[256], err[512];
    tu_path(path, sizeof path, "rt.safetensors");
    const float w[6] = {1.0f, -2.5f, 0.1f, 3e38f, -0.0f, 1e-40f};
    const uint16_t bf[4] = {0x3f80, 0xc040, 0x7f80, 0x0001};
    const int64_t steps[3] = {-1, INT64_MAX, 42};
    const double scalar = 3.5;
    const uint8_t bytes[5] = {1, 2, 3, 254, 255};
    const int32_t i32[3] = {INT32_MIN, 0, 7};
    const char *weird = "he said \"hi\"\n\tback\\slash \x01 \xc3\xbc \xe2\x82\xac";
    struct { const char *name; StDtype dt; int ndim; int64_t shape[2]; const void *data; size_t nb; } T[] = {
        {"w", ST_F32, 2, {2, 3}, w, sizeof w},
        {"b", ST_BF16, 1, {4}, bf, sizeof bf},
        {"b\"y\\t\xc3\xa9s", ST_U8, 1, {5}, bytes, sizeof bytes},   /* name needs escaping */
        {"steps", ST_I64, 1, {3}, steps, sizeof steps},
        {"empty", ST_F32, 2, {0, 5}, NULL, 0},
        {"scalar", ST_F64, 0, {0}, &scalar, sizeof scalar},
        {"i32", ST_I32, 1, {3}, i32, sizeof i32},
    };
    const int NT = sizeof T / sizeof *T;
    StWriter *wr = st_writer_new();
    st_writer_meta(wr, "format", "pt");
    st_writer_meta(wr, "k\"ey\n", weird);
    st_writer_meta(wr, "format", "lvit");   /* replaces */
    for (int k = 0; k < NT; k++) st_writer_add(wr, T[k].name, T[k].dt, T[k].ndim, T[k].shape, T[k].data);
    if (st_writer_finish(wr, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(count_entries(tu_tmpdir(), ".tmp."), 0);

    StFile f;
    if (st_open(&f, path, err, sizeof err)) fail_msg("%s", err);
    assert_string_equal(f.path, path);
    assert_int_equal(f.n, NT);
    assert_int_equal(f.nmeta, 2);   /* "format" was replaced, not added */
    assert_string_equal(st_meta(&f, "format"), "lvit");
    assert_string_equal(st_meta(&f, "k\"ey\n"), weird);
    assert_null(st_meta(&f, "missing"));
    assert_null(st_find(&f, "missing"));
    assert_int_equal(((const uint8_t *)f.data - (const uint8_t *)f.map) % 8, 0);
    uint64_t total = 0;
    for (int k = 0; k < NT; k++) {
        const StTensor *t = &f.t[k];
        assert_string_equal(t->name, T[k].name);   /* header keeps insertion order */
        assert_ptr_equal(st_find(&f, T[k].name), t);
        assert_int_equal(t->dtype, T[k].dt);
        assert_int_equal(t->ndim, T[k].ndim);
        for (int d = 0; d < t->ndim; d++) assert_int_equal(t->shape[d], T[k].shape[d]);
        assert_int_equal(t->end - t->begin, T[k].nb);
        if (T[k].nb) assert_memory_equal(f.data + t->begin, T[k].data, T[k].nb);
        /* Largest-element-first layout keeps every tensor naturally aligned in the file. */
        assert_int_equal(t->begin % st_dtype_size(t->dtype), 0);
        total += t->end - t->begin;
    }
    /* No gaps: the Python library rejects a data buffer with holes. */
    assert_int_equal(total, f.data_size);
    assert_int_equal(st_numel(st_find(&f, "empty")), 0);
    assert_int_equal(st_numel(st_find(&f, "scalar")), 1);
    float back[6];
    assert_int_equal(st_read_f32(&f, "w", back, 2, T[0].shape, err, sizeof err), 0);
    assert_memory_equal(back, w, sizeof w);
    assert_int_equal(st_read_f32(&f, "empty", back, 2, T[4].shape, err, sizeof err), 0);
    assert_int_equal(st_read_f32(&f, "scalar", back, 0, NULL, err, sizeof err), 0);
    assert_true(back[0] == 3.5f);
    st_close(&f);
    assert_null(f.path);

    /* The raw bytes follow the format spec: LE length, '{', data right after. */
    size_t n;
    uint8_t *raw = tu_read_bytes(path, &n);
    uint64_t hlen = le64(raw);
    assert_true(hlen + 8 <= n);
    assert_int_equal(raw[8], '{');
    assert_int_equal(n - 8 - hlen, total);
    char jerr[256];
    JsonValue *h = json_parse((const char *)raw + 8, hlen, hlen, NULL, jerr, sizeof jerr);
    assert_non_null(h);
    assert_string_equal(h->keys[0], "__metadata__");
    json_free(h);
    free(raw);
}

static void test_st_header_alignment(void **state) {
    char path[256], err[512], name[32];
    tu_path(path, sizeof path, "align.safetensors");
    const float x = 1.0f;
    const int64_t one = 1;
    for (int len = 1; len <= 16; len++) {
        memset(name, 'x', (size_t)len);
        name[len] = '\0';
        StWriter *w = st_writer_new();
        st_writer_add(w, name, ST_F32, 1, &one, &x);
        if (st_writer_finish(w, path, err, sizeof err)) fail_msg("%s", err);
        size_t n;
        uint8_t *raw = tu_read_bytes(path, &n);
        uint64_t hlen = le64(raw);
        assert_int_equal((8 + hlen) % 8, 0);
        assert_int_equal(n, 8 + hlen + 4);
        size_t close_brace = 8 + hlen - 1;
        while (raw[close_brace] == ' ') close_brace--;
        assert_int_equal(raw[close_brace], '}');
        assert_true(8 + hlen - 1 - close_brace < 8);   /* fewer than 8 pad bytes */
        free(raw);
    }
}

static void expect_f32_bits(float got, float want, const char *what, int k) {
    uint32_t g, w;
    memcpy(&g, &got, 4);
    memcpy(&w, &want, 4);
    if (g != w) fail_msg("%s[%d]: got %a (0x%08x), want %a (0x%08x)", what, k, got, g, want, w);
}

static void test_st_read_f32_conversions(void **state) {
    char path[256], err[512];
    tu_path(path, sizeof path, "conv.safetensors");
    const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00,
                          0x7e00, 0x8000, 0x3555, 0x8001};
    const float h_want[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, 0x1.ff8p-15f, 0x1p-14f, INFINITY,
                            -INFINITY, NAN, -0.0f, 0.333251953125f, -0x1p-24f};
    const uint16_t b[] = {0x3f80, 0xc040, 0x4049, 0x7f80, 0x0001, 0xff7f, 0x7fc0, 0x8000};
    const float b_want[] = {1.0f, -3.0f, 3.140625f, INFINITY, 0x1p-133f, -0x1.fep127f, NAN, -0.0f};
    const double d[] = {0.1, 1.0 / 3.0, -2.5, 1e38, 1e-40, -0.0, INFINITY};
    const float d_want[] = {0x1.99999ap-4f, 0x1.555556p-2f, -2.5f, 0x1.2ced32p+126f,
                            0x1.16c2p-133f, -0.0f, INFINITY};
    const float f[] = {1.5f, -0x1.fffffep127f};
    const double too_big[] = {0.0, 1e300};
    int64_t nh = 12, nb = 8, nd = 7, nf = 2, nbig = 2;
    StWriter *w = st_writer_new();
    st_writer_add(w, "h", ST_F16, 1, &nh, h);
    st_writer_add(w, "b", ST_BF16, 1, &nb, b);
    st_writer_add(w, "d", ST_F64, 1, &nd, d);
    st_writer_add(w, "f", ST_F32, 1, &nf, f);
    st_writer_add(w, "big", ST_F64, 1, &nbig, too_big);
    if (st_writer_finish(w, path, err, sizeof err)) fail_msg("%s", err);
    StFile sf;
    if (st_open(&sf, path, err, sizeof err)) fail_msg("%s", err);
    float out[12];
    assert_int_equal(st_read_f32(&sf, "h", out, 1, &nh, err, sizeof err), 0);
    for (int k = 0; k < nh; k++) expect_f32_bits(out[k], h_want[k], "F16", k);
    assert_int_equal(st_read_f32(&sf, "b", out, 1, &nb, err, sizeof err), 0);
    for (int k = 0; k < nb; k++) expect_f32_bits(out[k], b_want[k], "BF16", k);
    assert_int_equal(st_read_f32(&sf, "d", out, 1, &nd, err, sizeof err), 0);
    for (int k = 0; k < nd; k++) expect_f32_bits(out[k], d_want[k], "F64", k);
    assert_int_equal(st_read_f32(&sf, "f", out, 1, &nf, err, sizeof err), 0);
    for (int k = 0; k < nf; k++) expect_f32_bits(out[k], f[k], "F32", k);
    assert_int_equal(st_read_f32(&sf, "big", out, 1, &nbig, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "float32 range");
    st_close(&sf);
}

static void test_st_read_f32_errors(void **state) {
    char path[256], err[512];
    tu_path(path, sizeof path, "shape.safetensors");
    const float x[6] = {0};
    const int64_t steps[2] = {1, 2};
    const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6}, s2[1] = {2};
    StWriter *w = st_writer_new();
    st_writer_add(w, "w", ST_F32, 2, s23, x);
    st_writer_add(w, "steps", ST_I64, 1, s2, steps);
    if (st_writer_finish(w, path, err, sizeof err)) fail_msg("%s", err);
    StFile f;
    if (st_open(&f, path, err, sizeof err)) fail_msg("%s", err);
    float out[6];
    assert_int_equal(st_read_f32(&f, "w", out, 2, s32, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, "'w'");
    TU_ASSERT_CONTAINS(err, "[3, 2]");
    TU_ASSERT_CONTAINS(err, "F32 [2, 3]");
    assert_int_equal(st_read_f32(&f, "w", out, 1, s6, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "[6]");
    assert_int_equal(st_read_f32(&f, "steps", out, 1, s2, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "I64 [2]");
    assert_int_equal(st_read_f32(&f, "nope", out, 1, s2, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "no tensor named 'nope'");
    assert_int_equal(st_read_f32(&f, "w", out, 2, s23, err, sizeof err), 0);
    st_close(&f);
}

static void test_st_overwrite(void **state) {
    char path[256];
    tu_path(path, sizeof path, "over.safetensors");
    tu_st_write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *one = tu_read_bytes(path, &n1);
    tu_st_write_small(path, 2.0f);
    uint8_t *two = tu_read_bytes(path, &n2);
    assert_int_equal(n1, n2);
    assert_true(memcmp(one, two, n1) != 0);
    assert_int_equal(count_entries(tu_tmpdir(), ".tmp."), 0);
    free(one);
    free(two);
}

static void test_st_write_missing_dir(void **state) {
    char path[256], err[512];
    tu_path(path, sizeof path, "no/such/dir/x.safetensors");
    int before = count_entries(tu_tmpdir(), "");
    const float x = 1;
    const int64_t one = 1;
    StWriter *w = st_writer_new();
    st_writer_add(w, "x", ST_F32, 1, &one, &x);
    assert_int_equal(st_writer_finish(w, path, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, strerror(ENOENT));
    assert_int_equal(count_entries(tu_tmpdir(), ""), before);
}

static void test_st_write_readonly_dir(void **state) {
    if (geteuid() == 0) skip();   /* root ignores directory permissions */
    char dir[256], path[300], err[512];
    tu_path(dir, sizeof dir, "ro");
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    tu_st_write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *old = tu_read_bytes(path, &n1);
    assert_int_equal(chmod(dir, 0555), 0);
    const float x = 5;
    const int64_t one = 1;
    StWriter *w = st_writer_new();
    st_writer_add(w, "x", ST_F32, 1, &one, &x);
    int rc = st_writer_finish(w, path, err, sizeof err);
    chmod(dir, 0755);
    assert_int_equal(rc, -1);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, strerror(EACCES));
    uint8_t *now = tu_read_bytes(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(old, now, n1);
    assert_int_equal(count_entries(dir, ".tmp."), 0);
    free(old);
    free(now);
}

/* A write that fails halfway (here: the file size limit, standing in for a full disk)
   must leave the previous checkpoint intact and no temporary file behind. */
static void test_st_write_failure_keeps_old(void **state) {
    char path[256], err[512];
    tu_path(path, sizeof path, "keep.safetensors");
    tu_st_write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *old = tu_read_bytes(path, &n1);
    static float big[16384];
    const int64_t nbig = 16384;
    StWriter *w = st_writer_new();
    st_writer_add(w, "big", ST_F32, 1, &nbig, big);
    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    lim = saved;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = st_writer_finish(w, path, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &saved);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, -1);
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, strerror(EFBIG));
    uint8_t *now = tu_read_bytes(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(old, now, n1);
    assert_int_equal(count_entries(tu_tmpdir(), ".tmp."), 0);
    free(old);
    free(now);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_roundtrip),
        cmocka_unit_test(test_st_header_alignment),
        cmocka_unit_test(test_st_read_f32_conversions),
        cmocka_unit_test(test_st_read_f32_errors),
        cmocka_unit_test(test_st_overwrite),
        cmocka_unit_test(test_st_write_missing_dir),
        cmocka_unit_test(test_st_write_readonly_dir),
        cmocka_unit_test(test_st_write_failure_keeps_old),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
