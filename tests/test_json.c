/* Tests for src/core/json.c: nesting and key order, string escapes and UTF-8, numbers (int64 and
 * double, the typed getters), what is rejected and with which message, and JsonBuf output that
 * reads back the same. Every parse runs on an exact-size heap copy, so ASan catches any read
 * past the end. */
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
#include "core/json.h"
#include "util_test.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_nested),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_buf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
