#include "io/train_state.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "io/safetensors.h"

static uint64_t fnv1a(const float *x, int64_t n) {
    const unsigned char *b = (const unsigned char *)x;
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < n * (int64_t)sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static const char *const NAMES[5] = {"params", "adam_m", "adam_v", "ema", "best"};
static float *slot(const StateTensors *t, int i) {
    float *p[5] = {t->params, t->adam_m, t->adam_v, t->ema, t->best};
    return p[i];
}

static int write_text(const char *path, const char *text, char *err, size_t errlen) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        if (f) remove(tmp);
        return -1;
    }
    return 0;
}

int state_dir(const char *run_dir, int64_t step, char *dir, size_t n, char *err, size_t errlen) {
    if (!dir || n == 0) return -1;
    snprintf(dir, n, "%s/ckpt", run_dir);
    mkdir(dir, 0755);
    snprintf(dir, n, "%s/ckpt/step_%08" PRId64, run_dir, step);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int64_t len_of(const StateTensors *t, int i) { return i == 1 || i == 2 ? t->nm : t->n; }

StateTensors state_own_file(const StateTensors *t, int dp_rank) {
    StateTensors o = *t;
    if (dp_rank) o.params = o.ema = o.best = NULL;
    return o;
}

int state_save_file(const char *dir, int dp_rank, const StateTensors *t, const TrainState *s, char *err, size_t errlen) {
    char path[4200];
    JsonBuf m = {0};
    json_buf_printf(&m, "{\"step\":%" PRId64 ",\"opt_t\":%" PRId64 ",\"best_step\":%" PRId64 ",\"best_val\":", s->step,
                    s->opt_t, s->best_step);
    json_buf_put_number(&m, s->best_val);
    json_buf_printf(&m, ",\"spike_n\":%d,\"spike_hist\":[", s->spike_n);
    for (int i = 0; i < 128; i++) {
        if (i) json_buf_puts(&m, ",");
        json_buf_put_number(&m, s->spike_hist[i]);
    }
    json_buf_puts(&m, "],\"fnv1a64\":{");
    StWriter *w = st_writer_new();
    int first = 1;
    for (int i = 0; i < 5; i++) {
        float *p = slot(t, i);
        if (!p) continue;
        json_buf_printf(&m, "%s\"%s\":\"%016" PRIx64 "\"", first ? "" : ",", NAMES[i], fnv1a(p, len_of(t, i)));
        first = 0;
        int64_t shape[1] = {len_of(t, i)};
        st_writer_add(w, NAMES[i], ST_F32, 1, shape, p);
    }
    json_buf_puts(&m, "}}");
    st_writer_meta(w, "lvit.state", m.s);
    snprintf(path, sizeof path, "%s/state_dp%05d.safetensors", dir, dp_rank);
    int rc = st_writer_finish(w, path, err, errlen);
    json_buf_free(&m);
    return rc;
}

int state_write_manifest(const char *dir, int64_t step, const StateLayout *l, char *err, size_t errlen) {
    char man[256], path[4200];
    snprintf(man, sizeof man, "{\"step\":%" PRId64 ",\"files\":\"state_dp00000..%05d.safetensors\",\"dp\":%d,\"sp\":%d,\"zero\":%d}\n",
             step, l->dp - 1, l->dp, l->sp, l->zero);
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    return write_text(path, man, err, errlen);
}

int state_read_layout(const char *dir, StateLayout *l, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "r");
    char buf[1024];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = 0;
    char jerr[128];
    JsonValue *root = n ? json_parse(buf, n, sizeof buf, "manifest", jerr, sizeof jerr) : NULL;
    double dp, sp, zero;
    int bad = !root || json_as_double(json_get(root, "dp"), &dp) || json_as_double(json_get(root, "sp"), &sp) ||
              json_as_double(json_get(root, "zero"), &zero);
    json_free(root);
    if (bad) {
        snprintf(err, errlen, "%s: not a valid checkpoint manifest (needs step, dp, sp, zero)", path);
        return -1;
    }
    l->dp = (int)dp, l->sp = (int)sp, l->zero = (int)zero;
    return 0;
}

/* complete checkpoints of run_dir, steps ascending; returns the count (caller frees *steps) */
static int list_complete(const char *run_dir, int64_t **steps) {
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s/ckpt", run_dir);
    *steps = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long long st;
        char tail;
        if (sscanf(e->d_name, "step_%lld%c", &st, &tail) != 1) continue;
        snprintf(path, sizeof path, "%s/%s/manifest.json", dir, e->d_name);
        if (access(path, R_OK)) continue;
        if (n == cap) *steps = realloc(*steps, sizeof(int64_t) * (size_t)(cap = cap ? 2 * cap : 16));
        (*steps)[n++] = st;
    }
    closedir(d);
    for (int i = 1; i < n; i++) /* insertion sort: a handful of entries */
        for (int j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            int64_t x = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = x;
        }
    return n;
}

int state_find_latest(const char *run_dir, char *dir, size_t n) {
    int64_t *steps;
    int k = list_complete(run_dir, &steps);
    if (k) snprintf(dir, n, "%s/ckpt/step_%08" PRId64, run_dir, steps[k - 1]);
    free(steps);
    return k ? 0 : -1;
}

void state_prune(const char *run_dir, int keep, int64_t keep_every) {
    int64_t *steps;
    int k = list_complete(run_dir, &steps);
    char path[4300];
    for (int i = 0; i < k - keep; i++) {
        if (keep_every > 0 && steps[i] % keep_every == 0) continue;
        snprintf(path, sizeof path, "%s/ckpt/step_%08" PRId64 "/manifest.json", run_dir, steps[i]);
        remove(path); /* the manifest first: from here on the directory is not a checkpoint */
        snprintf(path, sizeof path, "%s/ckpt/step_%08" PRId64, run_dir, steps[i]);
        DIR *d = opendir(path);
        struct dirent *e;
        char f[4400 + 256];
        while (d && (e = readdir(d)))
            if (e->d_name[0] != '.') snprintf(f, sizeof f, "%s/%s", path, e->d_name), remove(f);
        if (d) closedir(d);
        rmdir(path);
    }
    free(steps);
}

static int num(const JsonValue *o, const char *key, double *v, const char *path, char *err, size_t errlen) {
    if (json_as_double(json_get(o, key), v)) {
        snprintf(err, errlen, "%s: metadata lvit.state: \"%s\" missing or not a number", path, key);
        return -1;
    }
    return 0;
}

int state_load_file(const char *dir, int dp_rank, const StateTensors *t, TrainState *s, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/state_dp%05d.safetensors", dir, dp_rank);
    StFile f;
    if (st_open(&f, path, err, errlen)) return -1;
    int rc = -1;
    JsonValue *root = NULL;
    const char *meta = st_meta(&f, "lvit.state");
    char jerr[256];
    if (!meta || !(root = json_parse(meta, strlen(meta), 1 << 20, "lvit.state", jerr, sizeof jerr))) {
        snprintf(err, errlen, "%s: no valid lvit.state metadata%s%s", path, meta ? ": " : "", meta ? jerr : "");
        goto done;
    }
    double v;
    memset(s, 0, sizeof *s);
    if (num(root, "step", &v, path, err, errlen)) goto done;
    s->step = (int64_t)v;
    if (num(root, "opt_t", &v, path, err, errlen)) goto done;
    s->opt_t = (int64_t)v;
    if (num(root, "best_step", &v, path, err, errlen)) goto done;
    s->best_step = (int64_t)v;
    s->best_val = json_as_double(json_get(root, "best_val"), &v) ? INFINITY : v;
    if (num(root, "spike_n", &v, path, err, errlen)) goto done;
    s->spike_n = (int)v;
    const JsonValue *h = json_get(root, "spike_hist"), *sums = json_get(root, "fnv1a64");
    if (json_len(h) != 128 || !sums) {
        snprintf(err, errlen, "%s: metadata lvit.state: spike_hist (128 numbers) or fnv1a64 missing", path);
        goto done;
    }
    for (int i = 0; i < 128; i++) json_as_double(json_at(h, (size_t)i), &s->spike_hist[i]);
    for (int i = 0; i < 5; i++) {
        float *p = slot(t, i);
        if (!p) continue;
        int64_t shape[1] = {len_of(t, i)};
        if (st_read_f32(&f, NAMES[i], p, 1, shape, err, errlen)) goto done;
        const char *want = json_as_string(json_get(sums, NAMES[i]));
        char got[32];
        snprintf(got, sizeof got, "%016" PRIx64, fnv1a(p, len_of(t, i)));
        if (!want || strcmp(want, got)) {
            snprintf(err, errlen, "%s: tensor '%s' fails its checksum (stored %s, computed %s): the file is corrupted",
                     path, NAMES[i], want ? want : "none", got);
            goto done;
        }
    }
    rc = 0;
done:
    json_free(root);
    st_close(&f);
    return rc;
}
