/* A small, strict JSON parser (a DOM, plus a pull reader for large inputs) and a string
 * builder for writing JSON.
 *
 * Parsing is meant for input we do not trust (safetensors headers, config files):
 * it never aborts on bad content, bounds nesting depth and input size, and rejects
 * anything RFC 8259 does not allow (trailing commas, comments, NaN, leading zeros,
 * raw control characters, invalid UTF-8, lone surrogates) plus two things it allows
 * but that only cause trouble downstream: "\u0000" (strings are plain NUL-terminated
 * C strings) and, in the DOM, duplicate object keys.
 *
 * The DOM costs up to ~30 bytes per input byte (a value can be 2 bytes of text, "0,"),
 * so max_len is what bounds its memory. For large untrusted documents of a known
 * shape, walk them with the JsonReader below instead: it allocates only what the
 * caller keeps.
 */
#ifndef LVIT_JSON_H
#define LVIT_JSON_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum { JSON_MAX_DEPTH = 64 };

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    int boolean;              /* JSON_BOOL: 0 or 1 */
    int is_int;               /* JSON_NUMBER written without fraction/exponent and fits int64 */
    int64_t i;                /* JSON_NUMBER: exact value when is_int */
    double num;               /* JSON_NUMBER: value (nearest double), always set */
    char *str;                /* JSON_STRING: NUL-terminated UTF-8 */
    size_t n;                 /* JSON_ARRAY / JSON_OBJECT: number of elements / members */
    struct JsonValue *items;  /* [n] array elements or object member values */
    char **keys;              /* [n] object member names, in input order */
} JsonValue;

/* Parse text[0..len) (need not be NUL-terminated). Returns NULL when len > max_len or
 * the text is not exactly one JSON value (surrounding whitespace allowed); err then
 * holds "<name>: line L, column C (byte B): what was wrong". name may be NULL. */
JsonValue *json_parse(const char *text, size_t len, size_t max_len, const char *name,
                      char *err, size_t errlen);
void json_free(JsonValue *v);   /* frees a tree returned by json_parse; NULL is fine */

const char *json_type_name(JsonType t);
/* Lookups return NULL / 0 when v is NULL or of the wrong type, so they can be chained. */
const JsonValue *json_get(const JsonValue *obj, const char *key);
size_t json_len(const JsonValue *v);                       /* array/object length */
const JsonValue *json_at(const JsonValue *arr, size_t i);  /* NULL when out of range */
/* 0 and *out set when v is an integer number within [lo, hi]; -1 otherwise. */
int json_as_int64(const JsonValue *v, int64_t lo, int64_t hi, int64_t *out);
int json_as_double(const JsonValue *v, double *out);       /* 0 when v is a number */
const char *json_as_string(const JsonValue *v);            /* NULL unless a string */

/* Pull reader over the same grammar and checks. Every function skips leading
 * whitespace; on error it returns -1 with err = "<name>: line L, column C (byte B): what". */
typedef struct JsonReader {
    const char *start, *p, *end;
    const char *name;
    char *err;
    size_t errlen;
} JsonReader;

void json_reader_init(JsonReader *r, const char *text, size_t len, const char *name, char *err,
                      size_t errlen);
/* Writes a positioned error (at the reader's current byte); returns -1. */
int json_reader_fail(JsonReader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int json_read_peek(JsonReader *r);                 /* next byte, or -1 at the end */
int json_read_expect(JsonReader *r, char c);       /* consumes c, or fails naming what was there */
int json_read_string(JsonReader *r, char **out);   /* xmalloc'd; the caller frees */
int json_read_number(JsonReader *r, JsonValue *out);   /* fills a JSON_NUMBER; allocates nothing */
int json_read_end(JsonReader *r);                  /* fails unless only whitespace remains */

/* Growable text buffer. A zeroed JsonBuf is empty; s is NUL-terminated after any
 * write (NULL before the first). Out of memory is fatal, as for xmalloc. */
typedef struct JsonBuf {
    char *s;
    size_t len, cap;
} JsonBuf;

void json_buf_printf(JsonBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void json_buf_vprintf(JsonBuf *b, const char *fmt, va_list ap);
void json_buf_puts(JsonBuf *b, const char *s);           /* raw, no escaping */
/* s as a quoted JSON string: escapes '"', '\\' and control characters; invalid UTF-8
 * bytes become U+FFFD so that the output is always valid JSON. */
void json_buf_put_string(JsonBuf *b, const char *s);
/* The n strings as a JSON array of strings, each escaped as json_buf_put_string does. */
void json_buf_put_strings(JsonBuf *b, const char *const *s, int n);
/* Shortest "%.{15,16,17}g" form that reads back to exactly x; NaN and +-Inf, which
 * JSON cannot express, are written as null. */
void json_buf_put_number(JsonBuf *b, double x);
void json_buf_free(JsonBuf *b);

#endif
