#include "io/run_meta.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "data/dataset_file.h"
#include "core/log.h"

int run_meta_file_hash(const char *path, char *out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s' to hash it: %s", path, strerror(errno));
        return -1;
    }
    /* FNV-1a 64 (the checksum train_state.c uses): simple and stable; it is a change detector for
     * a dataset file, not a defence against tampering */
    uint64_t h = 0xcbf29ce484222325ULL;
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ buf[i]) * 0x100000001b3ULL;
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "cannot read '%s' to hash it", path);
        return -1;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

static void put_doubles(JsonBuf *b, const char *key, const double *x, int n) {
    json_buf_printf(b, ",\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        if (i) json_buf_puts(b, ",");
        json_buf_put_number(b, x[i]);
    }
    json_buf_puts(b, "]");
}

/* The members of the object extra ("{...}") without its braces, or "" when it is not an object. */
static void put_members(JsonBuf *b, const char *extra) {
    if (!extra) return;
    const char *s = extra;
    while (*s == ' ' || *s == '\n' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t')) n--;
    if (n < 2 || s[0] != '{' || s[n - 1] != '}') return;
    const char *in = s + 1;
    size_t m = n - 2;
    while (m && (*in == ' ' || *in == '\n')) in++, m--;
    if (!m) return;
    json_buf_puts(b, ",");
    char *tmp = xmalloc(m + 1);
    memcpy(tmp, in, m);
    tmp[m] = 0;
    json_buf_puts(b, tmp);
    free(tmp);
}

char *run_meta_json(const Dataset *ds, const char *data_arg, const char *extra_json) {
    JsonBuf b = {0};
    const int synthetic = !data_arg || strcmp(data_arg, "synthetic") == 0;
    char abs[PATH_MAX] = "", hash[17] = "", herr[512];
    if (!synthetic) {
        if (!realpath(data_arg, abs)) snprintf(abs, sizeof abs, "%s", data_arg);
        if (run_meta_file_hash(abs, hash, herr, sizeof herr)) hash[0] = 0;
    }
    json_buf_printf(&b, "{\"format_version\":%d,\"source\":", RUN_META_FORMAT);
    json_buf_put_string(&b, synthetic ? "synthetic" : abs);
    if (!synthetic) {
        json_buf_puts(&b, ",\"source_arg\":");
        json_buf_put_string(&b, data_arg);
        if (*hash) json_buf_printf(&b, ",\"fnv1a64\":\"%s\"", hash);
    }
    /* "grid" and "times" as format 1 wrote them (older readers rebuild synthetic data from them),
     * but now always the data's own unpadded grid */
    json_buf_printf(&b, ",\"grid\":\"%dx%d\",\"times\":%d,\"grid_unpadded\":[%d,%d]", ds->H, ds->W, ds->T, ds->H, ds->W);
    json_buf_puts(&b, ",\"padding\":\"rows and columns of zeros appended after the last row and column up to whole "
                      "patches (the model grid in lvit.config); padded cells are masked\"");
    json_buf_puts(&b, ",\"vars\":[");
    for (int v = 0; v < ds->V; v++) {
        if (v) json_buf_puts(&b, ",");
        json_buf_put_string(&b, ds->names[v]);
    }
    json_buf_puts(&b, "],\"units\":[");
    for (int v = 0; v < ds->V; v++) {
        if (v) json_buf_puts(&b, ",");
        json_buf_put_string(&b, ds->units ? ds->units[v] : "");
    }
    json_buf_puts(&b, "]");
    if (ds->lat && ds->lon) { /* (image datasets have none) */
        put_doubles(&b, "lat", ds->lat, ds->H);
        put_doubles(&b, "lon", ds->lon, ds->W);
    }
    json_buf_printf(&b, ",\"time_units\":\"%s\",\"hours_first\":", synthetic ? "hours since start" : "hours since 1970-01-01 00:00:00");
    json_buf_put_number(&b, ds->T && ds->hours ? ds->hours[0] : 0.0);
    json_buf_printf(&b, ",\"split\":[%d,%d]", ds->t_train_end, ds->t_val_end);
    json_buf_puts(&b, ",\"lead\":{\"units\":\"hours\",\"input\":\"lead_hours/100\",\"divisor\":");
    json_buf_put_number(&b, RUN_META_LEAD_DIVISOR);
    json_buf_puts(&b, "}");
    put_members(&b, extra_json);
    json_buf_puts(&b, "}");
    return b.s;
}

void run_meta_free(RunMeta *m) {
    free(m->names);
    free(m->units);
    free(m->lat);
    free(m->lon);
    memset(m, 0, sizeof *m);
}

/* [n] numbers of key, or NULL (absent or of another length) */
static double *get_doubles(const JsonValue *root, const char *key, int n) {
    const JsonValue *a = json_get(root, key);
    if (!a || json_len(a) != (size_t)n || n < 1) return NULL;
    double *x = xmalloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++)
        if (json_as_double(json_at(a, i), &x[i])) {
            free(x);
            return NULL;
        }
    return x;
}

int run_meta_parse(RunMeta *m, const char *json, const char *what, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    m->format = 1;
    snprintf(m->task, sizeof m->task, "forecast");
    m->lead_divisor = RUN_META_LEAD_DIVISOR;
    m->hours0 = NAN;
    if (!json) return 0;
    char jerr[512];
    JsonValue *root = json_parse(json, strlen(json), 1 << 26, "lvit.data", jerr, sizeof jerr);
    if (!root || root->type != JSON_OBJECT) {
        snprintf(err, errlen, "%s: metadata lvit.data is not a JSON object (%s)", what, root ? "another value" : jerr);
        json_free(root);
        return -1;
    }
    int64_t i64 = 0;
    if (json_get(root, "format_version")) {
        if (json_as_int64(json_get(root, "format_version"), 1, INT_MAX, &i64) || i64 > RUN_META_FORMAT) {
            snprintf(err, errlen, "%s: metadata lvit.data has format_version %s; this lvit (%s) reads up to %d: "
                     "use a newer lvit", what, i64 > RUN_META_FORMAT ? "newer than known" : "that is not a number",
                     LVIT_VERSION, RUN_META_FORMAT);
            json_free(root);
            return -1;
        }
        m->format = (int)i64;
    }
    const char *s = json_as_string(json_get(root, "source"));
    if (s) snprintf(m->source, sizeof m->source, "%s", s);
    if ((s = json_as_string(json_get(root, "fnv1a64"))) && strlen(s) == 16) snprintf(m->hash, sizeof m->hash, "%s", s);
    if ((s = json_as_string(json_get(root, "task")))) snprintf(m->task, sizeof m->task, "%s", s);
    else if (json_get(root, "downscale")) snprintf(m->task, sizeof m->task, "downscale");
    if ((s = json_as_string(json_get(root, "time_units")))) snprintf(m->time_units, sizeof m->time_units, "%s", s);
    json_as_double(json_get(root, "hours_first"), &m->hours0);
    if (json_as_int64(json_get(root, "times"), 1, INT_MAX, &i64) == 0) m->times = (int)i64;
    if (json_as_int64(json_get(root, "seed"), 0, INT64_MAX, &i64) == 0) m->seed = i64;
    double dv;
    if (json_as_double(json_get(json_get(root, "lead"), "divisor"), &dv) == 0 && dv > 0) m->lead_divisor = dv;
    /* the unpadded grid: format 2 records it; format 1's "grid" was the synthetic data's only */
    const JsonValue *g = json_get(root, "grid_unpadded");
    int64_t h, w;
    if (json_len(g) == 2 && !json_as_int64(json_at(g, 0), 1, 1 << 24, &h) && !json_as_int64(json_at(g, 1), 1, 1 << 24, &w)) {
        m->H = (int)h, m->W = (int)w;
    } else if (strcmp(m->source, "synthetic") == 0 && (s = json_as_string(json_get(root, "grid"))) &&
               sscanf(s, "%dx%d", &m->H, &m->W) != 2) {
        m->H = m->W = 0;
    }
    if (m->H > 0 && m->W > 0) {
        m->lat = get_doubles(root, "lat", m->H);
        m->lon = get_doubles(root, "lon", m->W);
    }
    const JsonValue *vs = json_get(root, "vars"), *us = json_get(root, "units");
    if (json_len(vs) > 0 && json_len(vs) <= 1 << 16) {
        m->V = (int)json_len(vs);
        m->names = xcalloc((size_t)m->V, sizeof *m->names);
        m->units = xcalloc((size_t)m->V, sizeof *m->units);
        for (int v = 0; v < m->V; v++) {
            const char *n = json_as_string(json_at(vs, v)), *u = json_as_string(json_at(us, v));
            snprintf(m->names[v], sizeof m->names[v], "%s", n ? n : "");
            snprintf(m->units[v], sizeof m->units[v], "%s", u ? u : "");
        }
    }
    json_free(root);
    return 0;
}

const char *run_meta_open_dataset(Dataset *ds, const RunMeta *m, const char *data, const char *ckpt) {
    char err[2048];
    if (!data) {
        if (!*m->source)
            DIE_USER("%s: the checkpoint does not say what data it was trained on: give it with --data DATASET", ckpt);
        if (access(m->source, R_OK) != 0)
            DIE_USER("%s: the data this model was trained on, %s, is not there (moved or deleted?): give its new place "
                     "with --data DATASET", ckpt, m->source);
        data = m->source;
    }
    if (dataset_open(ds, data, err, sizeof err))
        DIE_USER("%s (the data for the model %s)%s", err, ckpt, data == m->source ? "; another place: --data DATASET" : "");
    char hash[17];
    if (*m->hash && run_meta_file_hash(data, hash, err, sizeof err) == 0 && strcmp(hash, m->hash) != 0)
        log_warn("%s is not the file the model was trained on (content hash %s, recorded %s for %s): the model uses its "
                 "values with its own normalisation", data, hash, m->hash, m->source);
    return data;
}
