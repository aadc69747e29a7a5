#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

/* ---------------------------------------------------------------- reader */

typedef JsonReader Parser;

int json_reader_fail(Parser *P, const char *fmt, ...) {
    /* Line/column are computed only here, so the happy path pays nothing for them. */
    size_t line = 1, col = 1;
    for (const char *q = P->start; q < P->p; q++) {
        if (*q == '\n') { line++; col = 1; } else col++;
    }
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (P->err && P->errlen)
        snprintf(P->err, P->errlen, "%s%sline %zu, column %zu (byte %zu): %s",
                 P->name ? P->name : "", P->name ? ": " : "", line, col,
                 (size_t)(P->p - P->start), what);
    return -1;
}
#define perr json_reader_fail   /* short name for this file */

/* Describes the byte at p for an error message without echoing raw control bytes. */
static const char *describe(const Parser *P, char buf[16]) {
    if (P->p >= P->end) return "end of input";
    unsigned char c = (unsigned char)*P->p;
    if (c >= 0x20 && c < 0x7f) snprintf(buf, 16, "'%c'", c);
    else snprintf(buf, 16, "byte 0x%02x", c);
    return buf;
}

static void skip_ws(Parser *P) {
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r'))
        P->p++;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), 0 if invalid.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    return len;
}

static size_t utf8_put(char *o, uint32_t cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static int hex4(Parser *P, uint32_t *out) {
    if (P->end - P->p < 4) { perr(P, "\\u must be followed by 4 hex digits"); return -1; }
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        char c = P->p[k];
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) { perr(P, "\\u must be followed by 4 hex digits"); return -1; }
        v = v * 16 + (uint32_t)d;
    }
    P->p += 4;
    *out = v;
    return 0;
}

/* P->p is at the opening quote. Decoded text is never longer than its encoding, so
 * one allocation of the token's length suffices. */
static int parse_string(Parser *P, char **out) {
    const char *q = P->p + 1;
    while (q < P->end && *q != '"') {
        if (*q == '\\' && P->end - q < 2) { q = P->end; break; }
        q += (*q == '\\') ? 2 : 1;
    }
    if (q >= P->end) { perr(P, "unterminated string"); return -1; }
    char *s = xmalloc((size_t)(q - P->p));
    size_t n = 0;
    P->p++;
    while (*P->p != '"') {
        unsigned char c = (unsigned char)*P->p;
        if (c < 0x20) { perr(P, "control character 0x%02x in string (must be escaped)", c); goto fail; }
        if (c != '\\') {
            size_t len = utf8_len((const unsigned char *)P->p, (size_t)(P->end - P->p));
            if (!len) { perr(P, "invalid UTF-8 in string"); goto fail; }
            memcpy(s + n, P->p, len);
            n += len;
            P->p += len;
            continue;
        }
        P->p++;
        char e = *P->p++;
        switch (e) {
        case '"': s[n++] = '"'; break;
        case '\\': s[n++] = '\\'; break;
        case '/': s[n++] = '/'; break;
        case 'b': s[n++] = '\b'; break;
        case 'f': s[n++] = '\f'; break;
        case 'n': s[n++] = '\n'; break;
        case 'r': s[n++] = '\r'; break;
        case 't': s[n++] = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(P, &cp)) goto fail;
            if (cp >= 0xdc00 && cp <= 0xdfff) { perr(P, "lone low surrogate \\u%04x", cp); goto fail; }
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (P->end - P->p < 2 || P->p[0] != '\\' || P->p[1] != 'u') {
                    perr(P, "high surrogate \\u%04x not followed by a low surrogate", cp);
                    goto fail;
                }
                P->p += 2;
                if (hex4(P, &lo)) goto fail;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    perr(P, "high surrogate \\u%04x followed by \\u%04x, not a low surrogate", cp, lo);
                    goto fail;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (cp == 0) { perr(P, "\\u0000 in string is not supported"); goto fail; }
            n += utf8_put(s + n, cp);
            break;
        }
        default:
            P->p--;
            perr(P, "invalid escape '\\%c'", (e >= 0x20 && e < 0x7f) ? e : '?');
            goto fail;
        }
    }
    P->p++;
    s[n] = '\0';
    *out = s;
    return 0;
fail:
    free(s);
    return -1;
}

static int is_digit(const Parser *P, const char *q) { return q < P->end && *q >= '0' && *q <= '9'; }

static int parse_number(Parser *P, JsonValue *v) {
    const char *q = P->p;
    int neg = 0, integral = 1;
    if (q < P->end && *q == '-') { neg = 1; q++; }
    if (!is_digit(P, q)) { P->p = q; perr(P, "invalid number"); return -1; }
    if (*q == '0') {
        q++;
        if (is_digit(P, q)) { P->p = q; perr(P, "leading zeros are not allowed in numbers"); return -1; }
    } else {
        while (is_digit(P, q)) q++;
    }
    if (q < P->end && *q == '.') {
        integral = 0;
        q++;
        if (!is_digit(P, q)) { P->p = q; perr(P, "digit expected after '.'"); return -1; }
        while (is_digit(P, q)) q++;
    }
    if (q < P->end && (*q == 'e' || *q == 'E')) {
        integral = 0;
        q++;
        if (q < P->end && (*q == '+' || *q == '-')) q++;
        if (!is_digit(P, q)) { P->p = q; perr(P, "digit expected in exponent"); return -1; }
        while (is_digit(P, q)) q++;
    }
    size_t len = (size_t)(q - P->p);
    /* strtod wants a terminated string and the input need not be; lvit never calls
       setlocale, so '.' is the decimal point strtod expects. */
    char small[64];
    char *buf = len < sizeof small ? small : xmalloc(len + 1);
    memcpy(buf, P->p, len);
    buf[len] = '\0';
    double d = strtod(buf, NULL);
    if (buf != small) free(buf);
    if (isinf(d)) { perr(P, "number out of range"); return -1; }
    v->type = JSON_NUMBER;
    v->num = d;
    if (integral) {
        /* Accumulate negatively so that INT64_MIN is representable. */
        int64_t acc = 0;
        int fits = 1;
        for (const char *c = P->p + neg; c < q; c++) {
            int dig = *c - '0';
            if (acc < (INT64_MIN + dig) / 10) { fits = 0; break; }
            acc = acc * 10 - dig;
        }
        if (fits && !neg && acc == INT64_MIN) fits = 0;
        if (fits) {
            v->is_int = 1;
            v->i = neg ? acc : -acc;
        }
    }
    P->p = q;
    return 0;
}

static void free_contents(JsonValue *v) {
    free(v->str);
    for (size_t k = 0; k < v->n; k++) {
        free_contents(&v->items[k]);
        if (v->keys) free(v->keys[k]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Duplicate keys make "which one wins" an accident of the reader; sorting keeps a
 * crafted object with millions of keys from taking quadratic time. */
static int check_duplicate_keys(Parser *P, const JsonValue *v) {
    if (v->n < 2) return 0;
    char **sorted = xmalloc(v->n * sizeof *sorted);
    memcpy(sorted, v->keys, v->n * sizeof *sorted);
    qsort(sorted, v->n, sizeof *sorted, cmp_str_ptr);
    int rc = 0;
    for (size_t k = 1; k < v->n; k++) {
        if (strcmp(sorted[k - 1], sorted[k]) == 0) {
            perr(P, "duplicate key \"%.80s\" in object", sorted[k]);
            rc = -1;
            break;
        }
    }
    free(sorted);
    return rc;
}

static void grow(JsonValue *v, size_t *cap, int with_keys) {
    if (v->n < *cap) return;
    *cap = *cap ? *cap * 2 : 4;
    JsonValue *it = realloc(v->items, *cap * sizeof *it);
    if (!it) DIE("out of memory growing a JSON container to %zu elements", *cap);
    v->items = it;
    if (with_keys) {
        char **k = realloc(v->keys, *cap * sizeof *k);
        if (!k) DIE("out of memory growing a JSON object to %zu members", *cap);
        v->keys = k;
    }
}

static int parse_value(Parser *P, JsonValue *v, int depth);

/* P->p is at '[' or '{'. v->n counts only fully parsed members, so free_contents on
 * v is always safe, whatever point the parse failed at. */
static int parse_container(Parser *P, JsonValue *v, int depth, int is_obj) {
    char close = is_obj ? '}' : ']';
    if (depth >= JSON_MAX_DEPTH) { perr(P, "nesting deeper than %d levels", JSON_MAX_DEPTH); return -1; }
    v->type = is_obj ? JSON_OBJECT : JSON_ARRAY;
    P->p++;
    size_t cap = 0;
    skip_ws(P);
    if (P->p < P->end && *P->p == close) { P->p++; return 0; }
    for (;;) {
        char *key = NULL;
        char d[16];
        skip_ws(P);
        if (is_obj) {
            if (P->p >= P->end || *P->p != '"') {
                perr(P, "expected a string key, found %s", describe(P, d));
                return -1;
            }
            if (parse_string(P, &key)) return -1;
            skip_ws(P);
            if (P->p >= P->end || *P->p != ':') {
                perr(P, "expected ':' after key, found %s", describe(P, d));
                free(key);
                return -1;
            }
            P->p++;
        }
        JsonValue item = {0};
        if (parse_value(P, &item, depth + 1)) {
            free_contents(&item);
            free(key);
            return -1;
        }
        grow(v, &cap, is_obj);
        v->items[v->n] = item;
        if (is_obj) v->keys[v->n] = key;
        v->n++;
        skip_ws(P);
        if (P->p < P->end && *P->p == ',') {
            P->p++;
            skip_ws(P);
            if (P->p < P->end && *P->p == close) { perr(P, "trailing comma"); return -1; }
            continue;
        }
        if (P->p < P->end && *P->p == close) { P->p++; break; }
        perr(P, "expected ',' or '%c', found %s", close, describe(P, d));
        return -1;
    }
    if (cap > v->n) {   /* give back the doubling slack: a parsed config may live all run */
        JsonValue *it = realloc(v->items, v->n * sizeof *it);
        if (it) v->items = it;
        if (is_obj) {
            char **k = realloc(v->keys, v->n * sizeof *k);
            if (k) v->keys = k;
        }
    }
    return is_obj ? check_duplicate_keys(P, v) : 0;
}

static int literal(Parser *P, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0) {
        perr(P, "invalid literal (expected '%s')", word);
        return -1;
    }
    P->p += n;
    return 0;
}

static int parse_value(Parser *P, JsonValue *v, int depth) {
    char d[16];
    skip_ws(P);
    if (P->p >= P->end) { perr(P, "unexpected end of input, expected a value"); return -1; }
    switch (*P->p) {
    case '{': return parse_container(P, v, depth, 1);
    case '[': return parse_container(P, v, depth, 0);
    case '"':
        v->type = JSON_STRING;
        return parse_string(P, &v->str);
    case 't': v->type = JSON_BOOL; v->boolean = 1; return literal(P, "true");
    case 'f': v->type = JSON_BOOL; v->boolean = 0; return literal(P, "false");
    case 'n': v->type = JSON_NULL; return literal(P, "null");
    default:
        if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9')) return parse_number(P, v);
        perr(P, "unexpected %s, expected a value", describe(P, d));
        return -1;
    }
}

void json_reader_init(JsonReader *r, const char *text, size_t len, const char *name, char *err,
                      size_t errlen) {
    *r = (JsonReader){text, text, text + len, name, err, errlen};
    if (err && errlen) err[0] = '\0';
}

int json_read_peek(JsonReader *r) {
    skip_ws(r);
    return r->p < r->end ? (unsigned char)*r->p : -1;
}

int json_read_expect(JsonReader *r, char c) {
    char d[16];
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 0;
    }
    return perr(r, "expected '%c', found %s", c, describe(r, d));
}

int json_read_string(JsonReader *r, char **out) {
    char d[16];
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') return perr(r, "expected a string, found %s", describe(r, d));
    return parse_string(r, out);
}

int json_read_number(JsonReader *r, JsonValue *out) {
    char d[16];
    memset(out, 0, sizeof *out);
    skip_ws(r);
    if (r->p >= r->end || (*r->p != '-' && (*r->p < '0' || *r->p > '9')))
        return perr(r, "expected a number, found %s", describe(r, d));
    return parse_number(r, out);
}

int json_read_end(JsonReader *r) {
    char d[16];
    skip_ws(r);
    if (r->p == r->end) return 0;
    return perr(r, "unexpected %s after the JSON value", describe(r, d));
}

JsonValue *json_parse(const char *text, size_t len, size_t max_len, const char *name,
                      char *err, size_t errlen) {
    Parser P;
    json_reader_init(&P, text, len, name, err, errlen);
    if (len > max_len) {
        if (err && errlen)
            snprintf(err, errlen, "%s%sJSON text of %zu bytes exceeds the limit of %zu bytes",
                     name ? name : "", name ? ": " : "", len, max_len);
        return NULL;
    }
    JsonValue *v = xcalloc(1, sizeof *v);
    if (parse_value(&P, v, 0) == 0 && json_read_end(&P) == 0) return v;
    json_free(v);
    return NULL;
}

void json_free(JsonValue *v) {
    if (!v) return;
    free_contents(v);
    free(v);
}

const char *json_type_name(JsonType t) {
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t k = 0; k < obj->n; k++)
        if (strcmp(obj->keys[k], key) == 0) return &obj->items[k];
    return NULL;
}

size_t json_len(const JsonValue *v) {
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}

const JsonValue *json_at(const JsonValue *arr, size_t i) {
    if (!arr || (arr->type != JSON_ARRAY && arr->type != JSON_OBJECT) || i >= arr->n) return NULL;
    return &arr->items[i];
}

int json_as_int64(const JsonValue *v, int64_t lo, int64_t hi, int64_t *out) {
    if (!v || v->type != JSON_NUMBER || !v->is_int || v->i < lo || v->i > hi) return -1;
    *out = v->i;
    return 0;
}

int json_as_double(const JsonValue *v, double *out) {
    if (!v || v->type != JSON_NUMBER) return -1;
    *out = v->num;
    return 0;
}

const char *json_as_string(const JsonValue *v) {
    return v && v->type == JSON_STRING ? v->str : NULL;
}

/* ---------------------------------------------------------------- writer */

static void buf_reserve(JsonBuf *b, size_t extra) {
    if (extra > SIZE_MAX / 2 - b->len) DIE("JSON buffer size overflow (%zu + %zu bytes)", b->len, extra);
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) DIE("out of memory growing a JSON buffer to %zu bytes", cap);
    b->s = s;
    b->cap = cap;
}

static void buf_putn(JsonBuf *b, const char *s, size_t n) {
    buf_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void json_buf_vprintf(JsonBuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    buf_reserve(b, 0);
    int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) DIE("vsnprintf failed for format \"%s\"", fmt);
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n);
        vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void json_buf_printf(JsonBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    json_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void json_buf_puts(JsonBuf *b, const char *s) { buf_putn(b, s, strlen(s)); }

void json_buf_put_strings(JsonBuf *b, const char *const *s, int n) {
    buf_putn(b, "[", 1);
    for (int i = 0; i < n; i++) {
        if (i) buf_putn(b, ",", 1);
        json_buf_put_string(b, s[i]);
    }
    buf_putn(b, "]", 1);
}

void json_buf_put_string(JsonBuf *b, const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    buf_putn(b, "\"", 1);
    for (size_t k = 0; k < n;) {
        unsigned char c = u[k];
        const char *esc = NULL;
        char hex[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof hex, "\\u%04x", c);
                esc = hex;
            }
        }
        if (esc) {
            json_buf_puts(b, esc);
            k++;
            continue;
        }
        size_t len = utf8_len(u + k, n - k);
        if (len) {
            buf_putn(b, s + k, len);
            k += len;
        } else {
            json_buf_puts(b, "\xef\xbf\xbd");
            k++;
        }
    }
    buf_putn(b, "\"", 1);
}

void json_buf_put_number(JsonBuf *b, double x) {
    if (!isfinite(x)) {
        json_buf_puts(b, "null");
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x) break;
    }
    json_buf_puts(b, tmp);
}

void json_buf_free(JsonBuf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}
