#include "io/train_state.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "io/safetensors.h"

enum { STATE_META_MAX = 64 << 20, MANIFEST_MAX = 1 << 16 };

uint64_t state_fnv1a64(const void *x, int64_t bytes) {
    const unsigned char *b = x;
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

static const char *const NAMES[SV_COUNT] = {"params", "adam_m", "adam_v", "ema", "best"};
const char *state_vec_name(int v) { return v >= 0 && v < SV_COUNT ? NAMES[v] : "?"; }

/* the directory entries (renames) on disk before anything that depends on them is written */
static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) fsync(fd), close(fd);
}

static int write_text(const char *path, const char *text, char *err, size_t errlen) {
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fflush(f) || fsync(fileno(f))) {
        snprintf(err, errlen, "cannot write %s: %s", f ? tmp : path, strerror(errno));
        if (f) fclose(f), remove(tmp);
        return -1;
    }
    if (fclose(f) || rename(tmp, path)) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int state_dir(const char *run_dir, int64_t step, char *dir, size_t n, char *err, size_t errlen) {
    if (!dir || n == 0) return -1;
    snprintf(dir, n, "%s/ckpt", run_dir);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(dir, n, "%s/ckpt/step_%08" PRId64, run_dir, step);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int64_t part_len(const StatePart *p) {
    int64_t n = 0;
    for (int i = 0; i < p->nr; i++) n += p->r[i].len;
    return n;
}

int state_save_file(const char *dir, int file, const StatePart *parts, int nparts, const TrainState *s, char *err,
                    size_t errlen) {
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
    json_buf_puts(&m, "],\"tensors\":{");
    StWriter *w = st_writer_new();
    for (int i = 0; i < nparts; i++) {
        const StatePart *p = &parts[i];
        int64_t n = part_len(p);
        json_buf_printf(&m, "%s\"%s\":{\"fnv1a64\":\"%016" PRIx64 "\",\"ranges\":[", i ? "," : "", NAMES[p->vec],
                        state_fnv1a64(p->data, n * (int64_t)sizeof(float)));
        for (int j = 0; j < p->nr; j++)
            json_buf_printf(&m, "%s[%" PRId64 ",%" PRId64 "]", j ? "," : "", p->r[j].at, p->r[j].len);
        json_buf_puts(&m, "]}");
        int64_t shape[1] = {n};
        st_writer_add(w, NAMES[p->vec], ST_F32, 1, shape, p->data);
    }
    json_buf_puts(&m, "}}");
    st_writer_meta(w, "lvit.state", m.s);
    snprintf(path, sizeof path, "%s/state_%05d.safetensors", dir, file);
    int rc = st_writer_finish(w, path, err, errlen);
    json_buf_free(&m);
    if (!rc) sync_dir(dir);
    return rc;
}

int state_write_manifest(const char *dir, const StateManifest *l, char *err, size_t errlen) {
    char path[4200];
    JsonBuf b = {0};
    json_buf_printf(&b, "{\"step\":%" PRId64 ",\"files\":%d,\"dp\":%d,\"sp\":%d,\"tp\":%d,\"pp\":%d,\"zero\":%d,\"n_params\":%" PRId64
                    ",\"batch\":%" PRId64 ",\"seed\":%" PRId64 ",\"config\":", l->step, l->nfiles, l->dp, l->sp,
                    l->tp > 1 ? l->tp : 1, l->pp > 1 ? l->pp : 1, l->zero, l->n_params, l->batch, l->seed);
    json_buf_put_string(&b, l->config);
    if (*l->identity) { /* the run this checkpoint belongs to (train/run_dir.h) */
        json_buf_printf(&b, ",\"identity\":\"%s\",\"data\":", l->identity);
        json_buf_put_string(&b, l->data);
    }
    if (l->steps > 0) json_buf_printf(&b, ",\"steps\":%" PRId64 ",\"warmup\":%" PRId64, l->steps, l->warmup);
    json_buf_puts(&b, "}\n");
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    int rc = write_text(path, b.s, err, errlen);
    json_buf_free(&b);
    if (!rc) sync_dir(dir);
    return rc;
}

int state_read_manifest(const char *dir, StateManifest *l, char *err, size_t errlen) {
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    memset(l, 0, sizeof *l);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = xmalloc(MANIFEST_MAX + 1);
    size_t n = fread(buf, 1, MANIFEST_MAX + 1, f);
    fclose(f);
    char jerr[256] = "empty file";
    JsonValue *root = n && n <= MANIFEST_MAX ? json_parse(buf, n, MANIFEST_MAX, "manifest", jerr, sizeof jerr) : NULL;
    if (n > MANIFEST_MAX) snprintf(jerr, sizeof jerr, "larger than %d bytes", MANIFEST_MAX);
    free(buf);
    int64_t v[8];
    static const char *keys[8] = {"step", "files", "dp", "sp", "zero", "n_params", "batch", "seed"};
    static const int64_t hi[8] = {INT64_C(1) << 50, 1 << 24, 1 << 24, 1 << 24, 3, INT64_C(1) << 50, 1 << 30, INT64_MAX};
    int bad = !root;
    for (int i = 0; i < 8 && !bad; i++) {
        bad = json_as_int64(json_get(root, keys[i]), i == 1 || i == 2 || i == 3 ? 1 : 0, hi[i], &v[i]) != 0;
        if (bad) snprintf(jerr, sizeof jerr, "\"%s\" missing or not an integer in [%d, %" PRId64 "]", keys[i],
                          i == 1 || i == 2 || i == 3, hi[i]);
    }
    const char *cfg = bad ? NULL : json_as_string(json_get(root, "config"));
    if (!bad && (!cfg || strlen(cfg) >= sizeof l->config)) {
        bad = 1;
        snprintf(jerr, sizeof jerr, "\"config\" missing or not a string of under %zu bytes", sizeof l->config);
    }
    if (!bad) {
        l->step = v[0], l->nfiles = (int)v[1], l->dp = (int)v[2], l->sp = (int)v[3], l->zero = (int)v[4];
        l->n_params = v[5], l->batch = v[6], l->seed = v[7];
        snprintf(l->config, sizeof l->config, "%s", cfg);
        static const char *opt[2] = {"tp", "pp"}; /* optional: manifests from before model parallelism have none */
        int64_t deg[2] = {1, 1};
        for (int i = 0; i < 2 && !bad; i++) {
            const JsonValue *dv = json_get(root, opt[i]);
            if (dv && json_as_int64(dv, 1, 1 << 24, &deg[i])) {
                bad = 1;
                snprintf(jerr, sizeof jerr, "\"%s\" not an integer in [1, %d]", opt[i], 1 << 24);
            }
        }
        l->tp = (int)deg[0];
        l->pp = (int)deg[1];
        /* optional: identity and schedule (absent in manifests from before them) */
        const char *id = json_as_string(json_get(root, "identity")), *data = json_as_string(json_get(root, "data"));
        if (!bad && (id || data) && (!id || !data || strlen(id) != 16 || strlen(data) >= sizeof l->data)) {
            bad = 1;
            snprintf(jerr, sizeof jerr, "\"identity\" must be 16 hex digits with a \"data\" string of under %zu bytes",
                     sizeof l->data);
        }
        if (!bad && id) snprintf(l->identity, sizeof l->identity, "%s", id), snprintf(l->data, sizeof l->data, "%s", data);
        int64_t sched[2] = {-1, -1};
        static const char *sk[2] = {"steps", "warmup"};
        for (int i = 0; i < 2 && !bad; i++) {
            const JsonValue *sv = json_get(root, sk[i]);
            if (sv && json_as_int64(sv, 0, INT64_C(1) << 50, &sched[i])) {
                bad = 1;
                snprintf(jerr, sizeof jerr, "\"%s\" not a non-negative integer", sk[i]);
            }
        }
        l->steps = sched[0];
        l->warmup = sched[1];
    }
    json_free(root);
    if (bad) {
        snprintf(err, errlen, "%s: not a valid checkpoint manifest: %s", path, jerr);
        return -1;
    }
    return 0;
}

/* the steps of run_dir's complete checkpoints (with a manifest; complete = 1) or of its
 * incomplete ones (0), ascending; returns the count (caller frees *steps) */
static int list_steps(const char *run_dir, int64_t **steps, int complete) {
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
        if (sscanf(e->d_name, "step_%lld%c", &st, &tail) != 1 || st < 0) continue;
        snprintf(path, sizeof path, "%s/%s/manifest.json", dir, e->d_name);
        if ((access(path, R_OK) == 0) != complete) continue;
        if (n == cap) *steps = xrealloc(*steps, sizeof(int64_t) * (size_t)(cap = cap ? 2 * cap : 16));
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
    int k = list_steps(run_dir, &steps, 1);
    if (k) snprintf(dir, n, "%s/ckpt/step_%08" PRId64, run_dir, steps[k - 1]);
    free(steps);
    return k ? 0 : -1;
}

static void remove_dir(const char *run_dir, int64_t step) {
    char path[4300], f[4400 + 256];
    snprintf(path, sizeof path, "%s/ckpt/step_%08" PRId64 "/manifest.json", run_dir, step);
    remove(path); /* the manifest first: from here on the directory is not a checkpoint */
    snprintf(path, sizeof path, "%s/ckpt/step_%08" PRId64, run_dir, step);
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) snprintf(f, sizeof f, "%s/%s", path, e->d_name), remove(f);
    if (d) closedir(d);
    rmdir(path);
}

void state_prune(const char *run_dir, int keep, int64_t keep_every) {
    int64_t *steps, *torn;
    int k = list_steps(run_dir, &steps, 1), nt = list_steps(run_dir, &torn, 0);
    for (int i = 0; i < k - keep; i++)
        if (!(keep_every > 0 && steps[i] % keep_every == 0)) remove_dir(run_dir, steps[i]);
    for (int i = 0; i < nt; i++)
        if (k && torn[i] < steps[k - 1]) remove_dir(run_dir, torn[i]);
    free(steps);
    free(torn);
}

/* ---- reading ---- */

typedef struct Piece { int64_t at, len, off; } Piece; /* canonical [at, at+len) at packed offset off */

static int by_at(const void *a, const void *b) {
    int64_t x = ((const Piece *)a)->at, y = ((const Piece *)b)->at;
    return x < y ? -1 : x > y;
}

/* the ranges of a part as pieces sorted by canonical position */
static Piece *pieces_of(const StateRange *r, int nr) {
    Piece *p = xmalloc(sizeof(Piece) * (size_t)(nr ? nr : 1));
    int64_t off = 0;
    for (int i = 0; i < nr; i++) p[i] = (Piece){r[i].at, r[i].len, off}, off += r[i].len;
    qsort(p, (size_t)nr, sizeof *p, by_at);
    return p;
}

static int read_scalars(const JsonValue *root, TrainState *s, const char *path, char *err, size_t errlen) {
    double v;
    memset(s, 0, sizeof *s);
    int64_t i64;
    if (json_as_int64(json_get(root, "step"), 0, INT64_C(1) << 50, &s->step) ||
        json_as_int64(json_get(root, "opt_t"), 0, INT64_C(1) << 50, &s->opt_t) ||
        json_as_int64(json_get(root, "best_step"), 0, INT64_C(1) << 50, &s->best_step) ||
        json_as_int64(json_get(root, "spike_n"), 0, INT32_MAX, &i64)) {
        snprintf(err, errlen, "%s: metadata lvit.state: step, opt_t, best_step and spike_n must be non-negative integers", path);
        return -1;
    }
    s->spike_n = (int)i64;
    s->best_val = json_as_double(json_get(root, "best_val"), &v) ? INFINITY : v;
    const JsonValue *h = json_get(root, "spike_hist");
    if (json_len(h) != 128 || h->type != JSON_ARRAY) {
        snprintf(err, errlen, "%s: metadata lvit.state: spike_hist must be a list of 128 numbers", path);
        return -1;
    }
    for (int i = 0; i < 128; i++)
        if (json_as_double(json_at(h, (size_t)i), &s->spike_hist[i])) s->spike_hist[i] = NAN; /* null: not finite */
    return 0;
}

/* the ranges of tensor `name` from its metadata entry, checked against the tensor and n_params */
static StateRange *read_ranges(const JsonValue *e, const StTensor *t, int64_t n_params, int *nr, const char *path,
                               char *err, size_t errlen) {
    const JsonValue *r = json_get(e, "ranges");
    size_t k = json_len(r);
    if (!r || r->type != JSON_ARRAY) {
        snprintf(err, errlen, "%s: tensor '%s': metadata has no \"ranges\" list", path, t->name);
        return NULL;
    }
    if (t->dtype != ST_F32 || t->ndim != 1) {
        snprintf(err, errlen, "%s: tensor '%s' must be F32 with one dimension, is %s with %d", path, t->name,
                 st_dtype_name(t->dtype), t->ndim);
        return NULL;
    }
    StateRange *out = xmalloc(sizeof(StateRange) * (k ? k : 1));
    int64_t total = 0;
    for (size_t i = 0; i < k; i++) {
        const JsonValue *p = json_at(r, i);
        if (json_len(p) != 2 || p->type != JSON_ARRAY || json_as_int64(json_at(p, 0), 0, n_params, &out[i].at) ||
            json_as_int64(json_at(p, 1), 0, n_params - out[i].at, &out[i].len)) {
            snprintf(err, errlen, "%s: tensor '%s': range %zu is not [at, len] within the %" PRId64 " parameters", path,
                     t->name, i, n_params);
            free(out);
            return NULL;
        }
        total += out[i].len;
    }
    if (total != t->shape[0]) {
        snprintf(err, errlen, "%s: tensor '%s' has %" PRId64 " elements but its ranges cover %" PRId64, path, t->name,
                 t->shape[0], total);
        free(out);
        return NULL;
    }
    *nr = (int)k;
    return out;
}

/* copy the overlap of the file's pieces (sorted) with those of a wanted part (sorted) */
static int64_t fill(float *dst, const Piece *w, int nw, const uint8_t *src, const Piece *f, int nf) {
    int64_t got = 0;
    for (int i = 0, j = 0; i < nw && j < nf;) {
        int64_t a = w[i].at > f[j].at ? w[i].at : f[j].at;
        int64_t b = w[i].at + w[i].len < f[j].at + f[j].len ? w[i].at + w[i].len : f[j].at + f[j].len;
        if (a < b) {
            memcpy(dst + w[i].off + (a - w[i].at), src + sizeof(float) * (size_t)(f[j].off + (a - f[j].at)),
                   sizeof(float) * (size_t)(b - a));
            got += b - a;
        }
        if (w[i].at + w[i].len < f[j].at + f[j].len) i++;
        else j++;
    }
    return got;
}

/* A range as some file holds it, for the check that no element is held twice. */
typedef struct Held { int64_t at, len; int file; } Held;

static int held_by_at(const void *a, const void *b) {
    int64_t x = ((const Held *)a)->at, y = ((const Held *)b)->at;
    return x < y ? -1 : x > y;
}

/* Overlapping ranges would load some elements twice and leave others unloaded while the count
 * of loaded elements still matches: every element of a vector is in at most one range. */
static int check_disjoint(Held *h, int n, const char *dir, int vec, char *err, size_t errlen) {
    if (n > 1) qsort(h, (size_t)n, sizeof *h, held_by_at); /* h may be NULL when n == 0 */
    for (int i = 1; i < n; i++)
        if (h[i].at < h[i - 1].at + h[i - 1].len) {
            snprintf(err, errlen, "%s: the '%s' ranges [%" PRId64 ", +%" PRId64 ") of state_%05d.safetensors and [%" PRId64
                     ", +%" PRId64 ") of state_%05d.safetensors overlap: the checkpoint is corrupted (every element must "
                     "be held exactly once)", dir, NAMES[vec], h[i - 1].at, h[i - 1].len, h[i - 1].file, h[i].at,
                     h[i].len, h[i].file);
            return -1;
        }
    return 0;
}

int state_gather(const char *dir, const StateManifest *man, StatePart *want, int nwant, TrainState *s, char *err,
                 size_t errlen) {
    Piece *wp[16];
    Held *held[SV_COUNT] = {0};
    int nheld[SV_COUNT] = {0}, capheld[SV_COUNT] = {0};
    int64_t *got = xcalloc((size_t)(nwant ? nwant : 1), sizeof(int64_t));
    CHECK(nwant <= 16, "state_gather: too many parts");
    for (int i = 0; i < nwant; i++) wp[i] = pieces_of(want[i].r, want[i].nr);
    int rc = -1;
    for (int k = 0; k < man->nfiles; k++) {
        char path[4200], jerr[256];
        snprintf(path, sizeof path, "%s/state_%05d.safetensors", dir, k);
        StFile f;
        if (st_open(&f, path, err, errlen)) goto done;
        const char *meta = st_meta(&f, "lvit.state");
        JsonValue *root = meta ? json_parse(meta, strlen(meta), STATE_META_MAX, "lvit.state", jerr, sizeof jerr) : NULL;
        const JsonValue *tens = json_get(root, "tensors");
        int bad = !root || !tens || tens->type != JSON_OBJECT;
        if (bad && snprintf(err, errlen, "%s: no valid lvit.state metadata (%s)", path,
                            !meta ? "missing" : !root ? jerr : "no \"tensors\" object") < 0)
            err[0] = 0; /* (testing the result keeps GCC quiet about a message cut at errlen, which is fine) */
        TrainState ts;
        if (!bad && read_scalars(root, &ts, path, err, errlen)) bad = 1;
        if (!bad && ts.step != man->step) {
            snprintf(err, errlen, "%s is at step %" PRId64 ", its manifest says %" PRId64, path, ts.step, man->step);
            bad = 1;
        }
        if (!bad && k == 0) *s = ts;
        for (int ti = 0; !bad && ti < f.n; ti++) {
            const StTensor *t = &f.t[ti];
            int vec = -1;
            for (int v = 0; v < SV_COUNT; v++)
                if (!strcmp(t->name, NAMES[v])) vec = v;
            const JsonValue *e = json_get(tens, t->name);
            if (vec < 0 || !e) {
                snprintf(err, errlen, "%s: unexpected tensor '%s' (a state holds %s, %s, %s, %s, %s, each listed in "
                         "lvit.state)", path, t->name, NAMES[0], NAMES[1], NAMES[2], NAMES[3], NAMES[4]);
                bad = 1;
                break;
            }
            int used = nwant == 0; /* nothing wanted: verify everything */
            for (int i = 0; i < nwant; i++) used |= want[i].vec == vec && want[i].nr > 0;
            if (!used) continue;
            int nr;
            StateRange *r = read_ranges(e, t, man->n_params, &nr, path, err, errlen);
            if (!r) {
                bad = 1;
                break;
            }
            const uint8_t *bytes = f.data + t->begin;
            char sum[32];
            const char *stored = json_as_string(json_get(e, "fnv1a64"));
            snprintf(sum, sizeof sum, "%016" PRIx64, state_fnv1a64(bytes, (int64_t)(t->end - t->begin)));
            if (!stored || strcmp(stored, sum)) {
                snprintf(err, errlen, "%s: tensor '%s' fails its checksum (stored %s, computed %s): the file is corrupted",
                         path, t->name, stored ? stored : "none", sum);
                free(r);
                bad = 1;
                break;
            }
            if (nheld[vec] + nr > capheld[vec])
                held[vec] = xrealloc(held[vec], sizeof(Held) * (size_t)(capheld[vec] = 2 * (nheld[vec] + nr)));
            for (int i = 0; i < nr; i++) held[vec][nheld[vec]++] = (Held){r[i].at, r[i].len, k};
            Piece *fp = pieces_of(r, nr);
            for (int i = 0; i < nwant; i++)
                if (want[i].vec == vec) got[i] += fill(want[i].data, wp[i], want[i].nr, bytes, fp, nr);
            free(fp);
            free(r);
        }
        json_free(root);
        st_close(&f);
        if (bad) goto done;
    }
    for (int v = 0; v < SV_COUNT; v++)
        if (check_disjoint(held[v], nheld[v], dir, v, err, errlen)) goto done;
    for (int i = 0; i < nwant; i++) {
        int64_t n = part_len(&want[i]);
        if (got[i] != n) {
            snprintf(err, errlen, "%s: the checkpoint's files hold %" PRId64 " of the %" PRId64 " '%s' values this rank "
                     "needs (files missing, or written by another model)", dir, got[i], n, NAMES[want[i].vec]);
            goto done;
        }
    }
    rc = 0;
done:
    for (int i = 0; i < nwant; i++) free(wp[i]);
    for (int v = 0; v < SV_COUNT; v++) free(held[v]);
    free(got);
    return rc;
}

int state_find_intact(const char *run_dir, char *dir, size_t n, StateManifest *m, char *err, size_t errlen) {
    int64_t *steps;
    int k = list_steps(run_dir, &steps, 1), rc = -1;
    char why[4400] = "", first[4096] = "";
    if (!k) snprintf(err, errlen, "no complete checkpoint in %s/ckpt (write them with --ckpt-every N)", run_dir);
    for (int i = k - 1; i >= 0 && rc; i--) {
        TrainState ts;
        snprintf(dir, n, "%s/ckpt/step_%08" PRId64, run_dir, steps[i]);
        if (!state_read_manifest(dir, m, why, sizeof why) && !state_gather(dir, m, NULL, 0, &ts, why, sizeof why)) {
            rc = 0;
            if (*first) log_warn("resuming from %s, the newest intact checkpoint (the damaged ones are left in place)", dir);
            break;
        }
        if (!*first) snprintf(first, sizeof first, "%s", why), snprintf(err, errlen, "%s", why);
        if (i > 0) log_warn("checkpoint %s is damaged: %s; trying the one before it", dir, why);
    }
    if (rc && k) {
        char e2[4400];
        if (k == 1) snprintf(e2, sizeof e2, "the only complete checkpoint in %s/ckpt is damaged: %s", run_dir, err);
        else snprintf(e2, sizeof e2, "none of the %d complete checkpoints in %s/ckpt is intact; the newest: %s", k, run_dir, err);
        snprintf(err, errlen, "%s", e2);
    }
    free(steps);
    return rc;
}
