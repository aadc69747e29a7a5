/* One run per run directory: the lock, the earlier-run check, the run identity (train/run_dir.h). */
#define _GNU_SOURCE /* nftw's FTW_DEPTH and FTW_PHYS */
#include "train/run_dir.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"

static void mkdir_p(const char *dir) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(buf, 0755);
            *p = '/';
        }
    if (mkdir(buf, 0755) && errno != EEXIST) DIE_USER("cannot create run directory '%s': %s", dir, strerror(errno));
    struct stat st;
    if (stat(buf, &st) || !S_ISDIR(st.st_mode)) DIE_USER("run directory '%s' is not a directory", dir);
}

/* flock on RUN_DIR/.lock; the file holds "PID HOST" of the holder, for the refusal message */
static void take_lock(RunDir *rd, const char *run, int resume) {
    char path[4200];
    snprintf(path, sizeof path, "%s/.lock", run);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) DIE_USER("cannot create the lock file '%s': %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB)) {
        if (errno != EWOULDBLOCK) { /* a file system without locks: run, but say what is not guarded */
            log_warn("cannot lock '%s' (%s): a second lvit train on %s would not be noticed", path, strerror(errno), run);
            close(fd);
            return;
        }
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        long pid = 0;
        char host[200] = "";
        int k = sscanf(holder, "%ld %199s", &pid, host);
        char who[300] = "PID unknown";
        if (k >= 1) snprintf(who, sizeof who, "PID %ld%s%s", pid, k == 2 ? " on " : "", k == 2 ? host : "");
        close(fd);
        if (resume)
            DIE_USER("lvit train --resume: run directory '%s' belongs to a live run (%s): it cannot be resumed while "
                     "that run goes on; stop it first (SIGTERM or SIGINT writes a checkpoint), then --resume", run, who);
        DIE_USER("lvit train: run directory '%s' is in use by another lvit train (%s); wait for it to finish, stop it, "
                 "or give another --run directory", run, who);
    }
    char host[200] = "", line[256];
    if (gethostname(host, sizeof host - 1)) snprintf(host, sizeof host, "?");
    int len = snprintf(line, sizeof line, "%ld %s\n", (long)getpid(), host);
    if (ftruncate(fd, 0) || pwrite(fd, line, (size_t)len, 0) != len)
        log_warn("cannot write the lock holder into '%s': %s", path, strerror(errno));
    rd->lock_fd = fd;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    if ((type == FTW_DP ? rmdir(path) : unlink(path)) && errno != ENOENT)
        DIE_USER("--overwrite: cannot remove '%s': %s", path, strerror(errno));
    return 0;
}

static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return a && b && !stat(a, &x) && !stat(b, &y) && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

void run_dir_claim(RunDir *rd, const char *run, int resume, int overwrite, const char *keep_path) {
    rd->lock_fd = -1;
    mkdir_p(run);
    take_lock(rd, run, resume);
    if (resume) return;
    static const char *const earlier[3] = {"model.safetensors", "metrics.jsonl", "ckpt"};
    char path[4200], found[64] = "";
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", run, earlier[i]);
        struct stat st;
        if (!lstat(path, &st))
            snprintf(found + strlen(found), sizeof found - strlen(found), "%s%s%s", *found ? ", " : "", earlier[i],
                     i == 2 ? "/" : "");
    }
    if (!*found) return;
    if (!overwrite)
        DIE_USER("lvit train: run directory '%s' already holds a run (%s); continue it with --resume, replace it with "
                 "--overwrite (its checkpoints and model are removed first), or give another --run directory", run,
                 found);
    snprintf(path, sizeof path, "%s/ckpt", run);
    struct stat st;
    if (!lstat(path, &st)) { /* nothing of the earlier run can be resumed into this one */
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        log_info("--overwrite: removed the checkpoints of the earlier run in %s", path);
    }
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    if (!same_file(path, keep_path) && unlink(path) && errno != ENOENT)
        DIE_USER("--overwrite: cannot remove '%s': %s", path, strerror(errno));
}

void run_dir_release(RunDir *rd) {
    if (rd->lock_fd >= 0) close(rd->lock_fd); /* closing the last descriptor releases the flock */
    rd->lock_fd = -1;
}

/* ---- identity ---- */

enum { DESC_LIST_MAX = 1500 }; /* longer name lists and task descriptions are recorded as a hash */

static void put_hashed(JsonBuf *b, const char *key, const char *json) {
    if (strlen(json) <= DESC_LIST_MAX)
        json_buf_printf(b, ",\"%s\":%s", key, json);
    else
        json_buf_printf(b, ",\"%s_fnv1a64\":\"%016" PRIx64 "\"", key, state_fnv1a64(json, (int64_t)strlen(json)));
}

char *run_data_describe(const Dataset *ds, const char *task, const char *task_json, const float *leads, int nlead) {
    JsonBuf b = {0}, names = {0};
    json_buf_printf(&b, "{\"task\":\"%s\",\"variables\":%d", task, ds->V);
    json_buf_puts(&names, "[");
    for (int v = 0; v < ds->V; v++) {
        if (v) json_buf_puts(&names, ",");
        json_buf_put_string(&names, ds->names[v]);
    }
    json_buf_puts(&names, "]");
    put_hashed(&b, "names", names.s);
    json_buf_free(&names);
    json_buf_printf(&b, ",\"grid\":[%d,%d],\"times\":%d,\"train\":[0,%d],\"validation\":[%d,%d],\"first_hour\":", ds->H,
                    ds->W, ds->T, ds->t_train_end, ds->t_train_end, ds->t_val_end);
    json_buf_put_number(&b, ds->T > 0 && ds->hours ? ds->hours[0] : 0.0);
    if (leads && nlead > 0) {
        json_buf_puts(&b, ",\"leads\":[");
        for (int i = 0; i < nlead; i++) json_buf_printf(&b, "%s%g", i ? "," : "", leads[i]);
        json_buf_puts(&b, "]");
    }
    /* the training-period statistics: any change of the data's values or of the split shows here */
    float *ms = xmalloc(sizeof(float) * (size_t)(2 * ds->V + 1));
    for (int v = 0; v < ds->V; v++) ms[v] = ds->mean[v], ms[ds->V + v] = ds->std[v];
    json_buf_printf(&b, ",\"statistics_fnv1a64\":\"%016" PRIx64 "\"",
                    state_fnv1a64(ms, (int64_t)sizeof(float) * 2 * ds->V));
    free(ms);
    if (task_json) put_hashed(&b, task, task_json);
    json_buf_puts(&b, "}");
    return b.s;
}

void run_identity_set(StateManifest *m, const char *data_json) {
    snprintf(m->data, sizeof m->data, "%s", data_json);
    JsonBuf b = {0};
    json_buf_printf(&b, "%s\n%s\nbatch %" PRId64 " seed %" PRId64, m->config, m->data, m->batch, m->seed);
    snprintf(m->identity, sizeof m->identity, "%016" PRIx64, state_fnv1a64(b.s, (int64_t)b.len));
    json_buf_free(&b);
}

/* the next top-level member of a JSON object's text at *p ("key":value), its key into key */
static int next_member(const char **p, char *key, size_t kn, const char **val, size_t *vlen) {
    const char *s = *p;
    while (*s == '{' || *s == ',' || *s == ' ') s++;
    if (*s != '"') return 0;
    const char *k = ++s;
    while (*s && *s != '"') s += *s == '\\' && s[1] ? 2 : 1;
    snprintf(key, kn, "%.*s", (int)(s - k), k);
    if (*s) s++;
    if (*s == ':') s++;
    *val = s;
    int depth = 0, str = 0;
    for (; *s; s++) {
        if (str) {
            if (*s == '\\' && s[1]) s++;
            else if (*s == '"') str = 0;
        } else if (*s == '"') str = 1;
        else if (*s == '[' || *s == '{') depth++;
        else if ((*s == ']' || *s == '}') && depth) depth--;
        else if ((*s == ',' || *s == '}') && !depth) break;
    }
    *vlen = (size_t)(s - *val);
    *p = s;
    return 1;
}

/* the value of top-level member `key` in JSON object text obj ("" when absent) */
static void member(const char *obj, const char *key, char *out, size_t n) {
    char k[128];
    const char *v;
    size_t len;
    *out = 0;
    for (const char *p = obj; next_member(&p, k, sizeof k, &v, &len);)
        if (!strcmp(k, key)) {
            if (len > 48) snprintf(out, n, "%.40s...", v); /* long lists: enough to tell them apart */
            else snprintf(out, n, "%.*s", (int)len, v);
            return;
        }
}

/* "key there/here" for every member that differs between the objects a (checkpoint), b (run) */
static int object_diff(const char *a, const char *b, char *out, size_t n) {
    int nd = 0;
    size_t used = strlen(out);
    const char *objs[2] = {a, b};
    char k[128], va[64], vb[64], seen[2048] = ",";
    const char *v;
    size_t len;
    for (int side = 0; side < 2; side++)
        for (const char *p = objs[side]; next_member(&p, k, sizeof k, &v, &len);) {
            char tag[140];
            snprintf(tag, sizeof tag, ",%s,", k);
            if (strstr(seen, tag)) continue;
            snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s,", k);
            member(a, k, va, sizeof va);
            member(b, k, vb, sizeof vb);
            if (!strcmp(va, vb)) continue;
            used += (size_t)snprintf(out + used, used < n ? n - used : 0, "%s%s %s in the checkpoint, %s in this run",
                                     nd ? "; " : "", k, *va ? va : "(none)", *vb ? vb : "(none)");
            if (used >= n) used = n - 1;
            nd++;
        }
    return nd;
}

int run_identity_diff(const StateManifest *was, const StateManifest *now, char *out, size_t n) {
    int nd = 0;
    size_t used = 0;
    char part[1024];
    *out = 0;
#define ADD(...) (used += (size_t)snprintf(out + used, used < n ? n - used : 0, __VA_ARGS__), used = used < n ? used : n - 1, nd++)
    if (strcmp(was->config, now->config) || was->n_params != now->n_params) {
        part[0] = 0;
        object_diff(was->config, now->config, part, sizeof part);
        ADD("%sit holds another model (%s; %" PRId64 " parameters, this run %" PRId64 ")", nd ? "; " : "",
            *part ? part : "configurations differ", was->n_params, now->n_params);
    }
    if (*was->data && strcmp(was->data, now->data)) {
        part[0] = 0;
        object_diff(was->data, now->data, part, sizeof part);
        ADD("%sit was trained on other data (%s)", nd ? "; " : "", *part ? part : "descriptions differ");
    }
    if (was->batch != now->batch || was->seed != now->seed)
        ADD("%sit was written with --batch %" PRId64 " --seed %" PRId64 " (the data order depends on both); this run "
            "has --batch %" PRId64 " --seed %" PRId64, nd ? "; " : "", was->batch, was->seed, now->batch, now->seed);
    if (!nd && *was->identity && strcmp(was->identity, now->identity))
        ADD("its identity %s is not this run's %s", was->identity, now->identity);
#undef ADD
    return nd;
}
