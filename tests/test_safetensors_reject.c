/* Tests for src/io/safetensors.c, refusing bad files with a message that names the file and the
 * fault: every truncated prefix of a good file, malformed headers (each case beside a good
 * variant, so it fails for its stated reason), metadata and length limits, a header over the
 * 100 MB limit, and byte substitutions across a whole header (fuzz).
 * Files go to a mkdtemp directory under /tmp, removed by the group teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/json.h"
#include "io/safetensors.h"
#include "util_st.h"
#include "util_test.h"

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static void expect_open_fails(const char *path, const char *what) {
    StFile f;
    char err[1024];
    if (st_open(&f, path, err, sizeof err) == 0) {
        st_close(&f);
        fail_msg("st_open accepted %s", path);
    }
    TU_ASSERT_CONTAINS(err, path);
    if (what) TU_ASSERT_CONTAINS(err, what);
    assert_null(f.t);
    assert_null(f.map);
    st_close(&f);   /* harmless after a failed open */
}

static void test_st_truncated_prefixes(void **state) {
    char src[256], path[256];
    tu_path(src, sizeof src, "full.safetensors");
    tu_path(path, sizeof path, "trunc.safetensors");
    tu_st_write_small(src, 1.0f);
    size_t n;
    uint8_t *raw = tu_read_bytes(src, &n);
    for (size_t len = 0; len < n; len++) {
        write_bytes(path, raw, len);
        expect_open_fails(path, NULL);
    }
    write_bytes(path, raw, n);   /* the whole file is fine, so the loop tested truncation */
    StFile f;
    char err[512];
    if (st_open(&f, path, err, sizeof err)) fail_msg("%s", err);
    st_close(&f);
    free(raw);
}

/* Writes an 8-byte length, the header text and data_len zero bytes. */
static void write_raw(const char *path, const char *header, size_t data_len) {
    size_t hl = strlen(header);
    size_t n = 8 + hl + data_len;
    uint8_t *p = xcalloc(n, 1);
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(p + 8, header, hl);
    write_bytes(path, p, n);
    free(p);
}

static void test_st_malformed(void **state) {
    static const struct { const char *header; const char *what; } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", "header: line 1"},
        {"", "header must be a JSON object"},
        {"[1,2]", "header must be a JSON object"},
        {"{} x", "after the JSON value"},
        {"{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unsupported dtype \"F33\""},
        {"{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "unsupported dtype"},
        {"{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", "dtype is not a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775808],\"data_offsets\":[0,8]}}", "shape[0]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,8]}}",
         "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,8]}}", "needs"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", "at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", "shape must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}}", "outside the data buffer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "outside the data buffer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", "data_offsets[0] is not"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,16]}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"b\":0}}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "needs 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "duplicate key \"a\""},
        {"{\"__metadata__\":{\"k\":1}}", "value of \"k\" is not a string"},
        {"{\"__metadata__\":{\"k\":null}}", "not a string"},
        {"{\"__metadata__\":\"x\"}", "must be an object of strings"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "missing field \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "missing field \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", "unknown field"},
        {"{\"a\":[1]}", "entry must be an object"},
        {"{\"a\x01\":{}}", "control"},
        {"{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
         "duplicate field \"dtype\""},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate key \"__metadata__\""},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "duplicate key \"k\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},}", "expected a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", "expected a number"},
        {"{\"a\" {\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", "expected ':'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "[begin, end]"},
    };
    char path[256];
    tu_path(path, sizeof path, "bad.safetensors");
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_raw(path, cases[k].header, 16);
        expect_open_fails(path, cases[k].what);
    }
    /* A header padded with NULs instead of spaces ("{}" and six NUL bytes). */
    uint8_t nulpad[8 + 8 + 16] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(path, nulpad, sizeof nulpad);
    expect_open_fails(path, "0x00");
    /* Good variants of the same shapes pass, so the cases above fail for their stated reason. */
    write_raw(path, "{\"__metadata__\":{},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"z\":{\"shape\":[0],\"data_offsets\":[8,8],\"dtype\":\"F32\"},\n\t"
                    "\"\\u00fc\\\"q\" : { \"data_offsets\" : [ 8 , 16 ] , \"dtype\":\"F32\",\"shape\":[2]}}   ", 16);
    StFile f;
    char err[512];
    if (st_open(&f, path, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(f.n, 3);
    assert_non_null(st_find(&f, "\xc3\xbc\"q"));
    assert_int_equal(st_find(&f, "z")->dtype, ST_F32);
    st_close(&f);

    /* Metadata is capped: lvit writes a few dozen entries, a crafted file millions. */
    JsonBuf h = {0};
    json_buf_puts(&h, "{\"__metadata__\":{");
    for (int k = 0; k <= 4096; k++) json_buf_printf(&h, "%s\"%d\":\"\"", k ? "," : "", k);
    json_buf_puts(&h, "}}");
    write_raw(path, h.s, 0);
    expect_open_fails(path, "more than 4096");
    json_buf_free(&h);

    /* Length fields that do not fit the file. */
    uint8_t p[8 + 10] = {0xe8, 0x03};   /* 1000 */
    write_bytes(path, p, sizeof p);
    expect_open_fails(path, "exceeds the 10 bytes");
    memset(p, 0xff, 8);                 /* 2^64 - 1 */
    write_bytes(path, p, sizeof p);
    expect_open_fails(path, "exceeds");
    expect_open_fails(tu_tmpdir(), "not a regular file");
    tu_path(path, sizeof path, "does-not-exist.safetensors");
    expect_open_fails(path, strerror(ENOENT));
}

/* A header longer than the 100 MB limit is refused before it is read: a sparse file
   makes that cheap to test. */
static void test_st_header_limit(void **state) {
    char path[256];
    tu_path(path, sizeof path, "huge.safetensors");
    uint64_t hl = ST_MAX_HEADER + 1;
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)(hl >> (8 * k));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, len8, 8), 8);
    assert_int_equal(write(fd, "{", 1), 1);
    assert_int_equal(ftruncate(fd, (off_t)(8 + hl + 8)), 0);
    close(fd);
    expect_open_fails(path, "header length 100000001 exceeds the limit");
    unlink(path);
}

/* Byte substitutions across the whole header: every result must be either a valid file
   whose tensors lie inside the data buffer or an error naming the file. */
static void test_st_fuzz_header(void **state) {
    char src[256], path[256], err[1024];
    tu_path(src, sizeof src, "fuzzsrc.safetensors");
    tu_path(path, sizeof path, "fuzz.safetensors");
    tu_st_write_small(src, 1.0f);
    size_t n;
    uint8_t *raw = tu_read_bytes(src, &n);
    uint8_t *mut = xmalloc(n);
    const uint8_t subst[] = {0x00, '"', '}', '{', ',', ':', '[', ']', '9', '-', '\\', 0xff, ' '};
    int accepted = 0, rejected = 0;
    for (size_t pos = 0; pos < n; pos++) {
        for (size_t s = 0; s < sizeof subst + 1; s++) {
            memcpy(mut, raw, n);
            mut[pos] = s < sizeof subst ? subst[s] : (uint8_t)(raw[pos] ^ 0x80);
            if (mut[pos] == raw[pos]) continue;
            write_bytes(path, mut, n);
            StFile f;
            if (st_open(&f, path, err, sizeof err) == 0) {
                accepted++;
                for (int k = 0; k < f.n; k++) {
                    const StTensor *t = &f.t[k];
                    assert_true(t->begin <= t->end && t->end <= f.data_size);
                    assert_int_equal(t->end - t->begin, (uint64_t)st_numel(t) * st_dtype_size(t->dtype));
                }
                st_close(&f);
            } else {
                rejected++;
                TU_ASSERT_CONTAINS(err, path);
                assert_true(strlen(err) > strlen(path) + 2);
            }
        }
    }
    assert_true(accepted > 0);   /* e.g. data bytes and letters inside names */
    assert_true(rejected > 0);
    free(mut);
    free(raw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_st_truncated_prefixes),
        cmocka_unit_test(test_st_malformed),
        cmocka_unit_test(test_st_header_limit),
        cmocka_unit_test(test_st_fuzz_header),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
