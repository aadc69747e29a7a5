/* Tests for src/core/json.c and src/io/safetensors.c.
 * Files go to a mkdtemp directory under /tmp, removed by the group teardown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/json.h"
#include "io/safetensors.h"
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

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = xmalloc((size_t)len);
    assert_int_equal(fread(p, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return p;
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--) v = v << 8 | p[k];
    return v;
}

/* ------------------------------------------------------------------ JSON */

/* Parses from an exact-size heap copy, so ASan catches any read past len. */
static JsonValue *parse_exact(const char *text, size_t len, char *err, size_t errlen) {
    char *copy = xmalloc(len);
    memcpy(copy, text, len);
    JsonValue *v = json_parse(copy, len, 1 << 20, "t.json", err, errlen);
    free(copy);
    return v;
}

static JsonValue *parse_ok(const char *text) {
    char err[512];
    JsonValue *v = parse_exact(text, strlen(text), err, sizeof err);
    if (!v) fail_msg("parse of %s failed: %s", text, err);
    return v;
}

static void expect_reject_n(const char *text, size_t len, const char *what) {
    char err[512];
    JsonValue *v = parse_exact(text, len, err, sizeof err);
    if (v) fail_msg("accepted invalid JSON %s", text);
    TU_ASSERT_CONTAINS(err, "t.json");
    if (what) TU_ASSERT_CONTAINS(err, what);
}
static void expect_reject(const char *text, const char *what) { expect_reject_n(text, strlen(text), what); }

static void test_json_nested(void **state) {
    JsonValue *v = parse_ok(" {\"a\" :\t[1, 2, {\"b\": null}],\r\n\"c\": {\"d\": true, \"e\": false},"
                            " \"f\": \"x\", \"z\": [], \"o\": {}} ");
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(json_len(v), 5);
    const char *order[] = {"a", "c", "f", "z", "o"};
    for (int k = 0; k < 5; k++) assert_string_equal(v->keys[k], order[k]);
    const JsonValue *a = json_get(v, "a");
    assert_int_equal(json_len(a), 3);
    assert_int_equal(json_at(a, 1)->i, 2);
    assert_null(json_at(a, 3));
    assert_int_equal(json_get(json_at(a, 2), "b")->type, JSON_NULL);
    assert_int_equal(json_get(json_get(v, "c"), "d")->boolean, 1);
    assert_int_equal(json_get(json_get(v, "c"), "e")->boolean, 0);
    assert_string_equal(json_as_string(json_get(v, "f")), "x");
    assert_int_equal(json_get(v, "z")->type, JSON_ARRAY);
    assert_int_equal(json_get(v, "o")->type, JSON_OBJECT);
    assert_null(json_get(v, "missing"));
    assert_null(json_get(a, "a"));             /* not an object */
    assert_null(json_get(json_get(v, "nope"), "x"));
    assert_int_equal(json_len(json_get(v, "f")), 0);
    json_free(v);
    /* Input need not be NUL-terminated: only the first 3 bytes are the document. */
    char err[256];
    v = parse_exact("123456", 3, err, sizeof err);
    assert_non_null(v);
    assert_int_equal(v->i, 123);
    json_free(v);
}

static void test_json_escapes(void **state) {
    JsonValue *v = parse_ok("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\\ud83d\\ude00\","
                            " \"h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80\", \"\\u007f\\u0001\"]");
    assert_string_equal(json_at(v, 0)->str, "\"\\/\b\f\n\r\t");
    assert_string_equal(json_at(v, 1)->str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(json_at(v, 2)->str, "h\xc3\xa9llo \xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(json_at(v, 3)->str, "\x7f\x01");
    json_free(v);
    expect_reject("\"\\ud83d\"", "surrogate");
    expect_reject("\"\\ud83d\\u0041\"", "surrogate");
    expect_reject("\"\\ud83dx\"", "surrogate");
    expect_reject("\"\\ude00\"", "low surrogate");
    expect_reject("\"\\x41\"", "escape");
    expect_reject("\"\\u12\"", "4 hex digits");
    expect_reject("\"\\u12", "unterminated");
    expect_reject("\"\\u12g4\"", "4 hex digits");
    expect_reject("\"a\x01z\"", "control");
    expect_reject("\"a\nz\"", "control");
    expect_reject("\"\\u0000\"", "u0000");
    expect_reject("\"\xff\"", "UTF-8");
    expect_reject("\"\xc0\xaf\"", "UTF-8");          /* overlong '/' */
    expect_reject("\"\xed\xa0\x80\"", "UTF-8");      /* encoded surrogate */
    expect_reject("\"\xf4\x90\x80\x80\"", "UTF-8");  /* above U+10FFFF */
    expect_reject("\"\xe2\x82\"", "UTF-8");          /* truncated sequence */
}

static void test_json_numbers(void **state) {
    static const struct { const char *text; int is_int; int64_t i; double num; } ok[] = {
        {"0", 1, 0, 0.0},
        {"-0", 1, 0, -0.0},
        {"123", 1, 123, 123.0},
        {"-42", 1, -42, -42.0},
        {"9223372036854775807", 1, INT64_MAX, 9223372036854775807.0},
        {"-9223372036854775808", 1, INT64_MIN, -9223372036854775808.0},
        {"9223372036854775808", 0, 0, 9223372036854775808.0},
        {"-9223372036854775809", 0, 0, -9223372036854775809.0},
        {"1.5", 0, 0, 1.5},
        {"1e3", 0, 0, 1000.0},
        {"1E+2", 0, 0, 100.0},
        {"-1.25E-2", 0, 0, -0.0125},
        {"0.1", 0, 0, 0.1},
        {"1e-400", 0, 0, 0.0},
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        JsonValue *v = parse_ok(ok[k].text);
        assert_int_equal(v->type, JSON_NUMBER);
        if (v->is_int != ok[k].is_int) fail_msg("%s: is_int %d", ok[k].text, v->is_int);
        if (ok[k].is_int && v->i != ok[k].i) fail_msg("%s: i = %lld", ok[k].text, (long long)v->i);
        if (v->num != ok[k].num || signbit(v->num) != signbit(ok[k].num))
            fail_msg("%s: num = %.17g", ok[k].text, v->num);
        json_free(v);
    }
    const char *bad[] = {"01", "-01", "+1", "1.", ".5", "1e", "1e+", "-", "1e999", "-1e999", "NaN",
                         "Infinity", "-Infinity", "0x10", "- 1", "1.e5", "1.5.2"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) expect_reject(bad[k], NULL);
    expect_reject("01", "leading zeros");
    expect_reject("1e999", "out of range");

    JsonValue *v = parse_ok("[5, 1.5, \"5\", 7]");
    int64_t x = -1;
    double d = 0;
    assert_int_equal(json_as_int64(json_at(v, 0), 0, 10, &x), 0);
    assert_int_equal(x, 5);
    assert_int_equal(json_as_int64(json_at(v, 0), 6, 10, &x), -1);
    assert_int_equal(json_as_int64(json_at(v, 0), 0, 4, &x), -1);
    assert_int_equal(json_as_int64(json_at(v, 1), 0, 10, &x), -1);
    assert_int_equal(json_as_int64(json_at(v, 2), 0, 10, &x), -1);
    assert_int_equal(json_as_int64(json_at(v, 9), 0, 10, &x), -1);
    assert_int_equal(x, 5);   /* untouched by the failures */
    assert_int_equal(json_as_double(json_at(v, 3), &d), 0);
    assert_true(d == 7.0);
    assert_int_equal(json_as_double(json_at(v, 2), &d), -1);
    assert_null(json_as_string(json_at(v, 0)));
    json_free(v);
}

static void test_json_rejects(void **state) {
    expect_reject("[1,2,]", "trailing comma");
    expect_reject("{\"a\":1,}", "trailing comma");
    expect_reject("[,1]", NULL);
    expect_reject("[1 2]", "expected ','");
    expect_reject("{\"a\" 1}", "expected ':'");
    expect_reject("{'a':1}", "string key");
    expect_reject("{a:1}", "string key");
    expect_reject("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"");
    expect_reject("\"abc", "unterminated");
    expect_reject("[\"abc]", "unterminated");
    expect_reject("\"abc\\", "unterminated");
    expect_reject("[1, 2", "expected ','");
    expect_reject("{\"a\":", "end of input");
    expect_reject("{} x", "after the JSON value");
    expect_reject("[1] ]", "after the JSON value");
    expect_reject("1 2", "after the JSON value");
    expect_reject("nullx", "after the JSON value");
    expect_reject("", "end of input");
    expect_reject(" \n ", "end of input");
    expect_reject("tru", "literal");
    expect_reject("nul", "literal");
    expect_reject("[1 /* c */]", NULL);
    expect_reject_n("[1,\0 2]", 7, "0x00");

    /* 64 levels are allowed, 65 are not. */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        for (int k = 0; k < depth; k++) deep[k] = '[', deep[depth + k] = ']';
        char err[512];
        JsonValue *v = parse_exact(deep, 2 * (size_t)depth, err, sizeof err);
        if (depth == 64) {
            if (!v) fail_msg("depth 64 rejected: %s", err);
            json_free(v);
        } else {
            assert_null(v);
            TU_ASSERT_CONTAINS(err, "nesting");
        }
    }
    /* Deep nesting through objects fails the same way, and frees what it built. */
    char obj[800] = "";
    for (int k = 0; k < 70; k++) strcat(obj, "{\"k\":");
    expect_reject(obj, "nesting");

    char err[512];
    assert_null(json_parse("[1,2,3]", 7, 6, "big.json", err, sizeof err));
    TU_ASSERT_CONTAINS(err, "big.json");
    TU_ASSERT_CONTAINS(err, "exceeds");
    assert_null(parse_exact("[1,\n  2,]", 9, err, sizeof err));
    TU_ASSERT_CONTAINS(err, "line 2, column 5");
}

static void test_json_buf(void **state) {
    JsonBuf b = {0};
    json_buf_put_string(&b, "a\"b\\c\n\t\x01\x1f\xe2\x82\xac\xff/");
    assert_string_equal(b.s, "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\xe2\x82\xac\xef\xbf\xbd/\"");
    JsonValue *v = parse_ok(b.s);
    assert_string_equal(v->str, "a\"b\\c\n\t\x01\x1f\xe2\x82\xac\xef\xbf\xbd/");
    json_free(v);
    json_buf_free(&b);
    assert_null(b.s);

    for (int k = 0; k < 2000; k++) json_buf_printf(&b, "%s%d", k ? "," : "[", k);
    json_buf_puts(&b, "]");
    assert_int_equal(b.len, strlen(b.s));
    v = parse_ok(b.s);
    assert_int_equal(json_len(v), 2000);
    assert_int_equal(json_at(v, 1999)->i, 1999);
    json_free(v);
    json_buf_free(&b);

    const double xs[] = {0.1, 1.0 / 3.0, 1e300, -2.5e-308, 123456789012345678.0, 1.0, 4.9e-324};
    for (size_t k = 0; k < sizeof xs / sizeof *xs; k++) {
        json_buf_put_number(&b, xs[k]);
        v = parse_ok(b.s);
        if (v->num != xs[k]) fail_msg("%.17g written as %s", xs[k], b.s);
        json_free(v);
        json_buf_free(&b);
    }
    json_buf_put_number(&b, 0.1);
    assert_string_equal(b.s, "0.1");
    json_buf_free(&b);
    json_buf_put_number(&b, NAN);
    json_buf_puts(&b, ",");
    json_buf_put_number(&b, -INFINITY);
    assert_string_equal(b.s, "null,null");
    json_buf_free(&b);
}

/* ------------------------------------------------------------ safetensors */

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
    uint8_t *raw = read_bytes(path, &n);
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
        uint8_t *raw = read_bytes(path, &n);
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

/* One small valid file: used for overwrite, truncation and fuzz tests. */
static void write_small(const char *path, float scale) {
    char err[512];
    float a[4] = {1 * scale, 2 * scale, 3 * scale, 4 * scale};
    uint8_t u[3] = {7, 8, 9};
    const int64_t s22[2] = {2, 2}, s3[1] = {3};
    StWriter *w = st_writer_new();
    st_writer_meta(w, "step", "12");
    st_writer_add(w, "a", ST_F32, 2, s22, a);
    st_writer_add(w, "u", ST_U8, 1, s3, u);   /* last in the data buffer, non-empty */
    if (st_writer_finish(w, path, err, sizeof err)) fail_msg("%s", err);
}

static void test_st_overwrite(void **state) {
    char path[256];
    tu_path(path, sizeof path, "over.safetensors");
    write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *one = read_bytes(path, &n1);
    write_small(path, 2.0f);
    uint8_t *two = read_bytes(path, &n2);
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
    write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *old = read_bytes(path, &n1);
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
    uint8_t *now = read_bytes(path, &n2);
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
    write_small(path, 1.0f);
    size_t n1, n2;
    uint8_t *old = read_bytes(path, &n1);
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
    uint8_t *now = read_bytes(path, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(old, now, n1);
    assert_int_equal(count_entries(tu_tmpdir(), ".tmp."), 0);
    free(old);
    free(now);
}

static void test_st_truncated_prefixes(void **state) {
    char src[256], path[256];
    tu_path(src, sizeof src, "full.safetensors");
    tu_path(path, sizeof path, "trunc.safetensors");
    write_small(src, 1.0f);
    size_t n;
    uint8_t *raw = read_bytes(src, &n);
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
    write_small(src, 1.0f);
    size_t n;
    uint8_t *raw = read_bytes(src, &n);
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
        cmocka_unit_test(test_json_nested),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_buf),
        cmocka_unit_test(test_st_roundtrip),
        cmocka_unit_test(test_st_header_alignment),
        cmocka_unit_test(test_st_read_f32_conversions),
        cmocka_unit_test(test_st_read_f32_errors),
        cmocka_unit_test(test_st_overwrite),
        cmocka_unit_test(test_st_write_missing_dir),
        cmocka_unit_test(test_st_write_readonly_dir),
        cmocka_unit_test(test_st_write_failure_keeps_old),
        cmocka_unit_test(test_st_truncated_prefixes),
        cmocka_unit_test(test_st_malformed),
        cmocka_unit_test(test_st_header_limit),
        cmocka_unit_test(test_st_fuzz_header),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
