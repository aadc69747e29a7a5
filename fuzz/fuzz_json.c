/* libFuzzer target: JSON text (config files, safetensors metadata) through json_parse and the
 * model configuration reader vit_config_from_json, plus the DOM accessors on the result.
 * The first byte picks nothing: the whole input is the text, so seeds are plain JSON files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "fuzz_util.h"
#include "model/vit.h"

/* Walks the whole tree the way callers do, so a broken count or pointer shows up. */
static size_t json_fuzz_walk(const JsonValue *v, int depth) {
    FUZZ_ASSERT(depth <= JSON_MAX_DEPTH);
    size_t n = 1;
    switch (v->type) {
    case JSON_STRING: FUZZ_ASSERT(v->str && json_as_string(v) == v->str); (void)strlen(v->str); break;
    case JSON_NUMBER: {
        double d;
        int64_t i;
        FUZZ_ASSERT(json_as_double(v, &d) == 0);
        if (v->is_int) FUZZ_ASSERT(json_as_int64(v, INT64_MIN, INT64_MAX, &i) == 0 && i == v->i);
        break;
    }
    case JSON_ARRAY:
    case JSON_OBJECT:
        FUZZ_ASSERT(json_len(v) == v->n && json_at(v, v->n) == NULL);
        for (size_t k = 0; k < v->n; k++) {
            FUZZ_ASSERT(json_at(v, k) == &v->items[k]);
            if (v->type == JSON_OBJECT) FUZZ_ASSERT(json_get(v, v->keys[k]) == &v->items[k]);   /* keys are unique */
            n += json_fuzz_walk(&v->items[k], depth + 1);
        }
        break;
    default: break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    err[0] = 0;
    JsonValue *v = json_parse((const char *)data, size, 1 << 20, "fuzz", err, sizeof err);
    if (v) {
        json_fuzz_walk(v, 0);
        (void)json_get(v, "vars");
        json_free(v);
    } else {
        FUZZ_ASSERT(err[0]);
    }
    /* vit_config_from_json takes a NUL-terminated string (safetensors metadata values are). */
    char *text = malloc(size + 1);
    FUZZ_ASSERT(text);
    memcpy(text, data, size);
    text[size] = 0;
    VitConfig c;
    if (vit_config_from_json(&c, text, err, sizeof err) == 0) {
        FUZZ_ASSERT(vit_config_check(&c, err, sizeof err) == 0);
        for (int k = 0; k < c.V; k++) FUZZ_ASSERT(memchr(c.var_names[k], 0, LVIT_VAR_NAME));
        char *back = vit_config_to_json(&c);
        VitConfig c2;
        FUZZ_ASSERT(vit_config_from_json(&c2, back, err, sizeof err) == 0);
        FUZZ_ASSERT(c2.V == c.V && c2.H == c.H && c2.W == c.W && c2.p == c.p && c2.D == c.D);
        vit_config_free(&c2);
        free(back);
        vit_config_free(&c);
    } else {
        FUZZ_ASSERT(err[0]);
    }
    free(text);
    return 0;
}
