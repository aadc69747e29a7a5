/* The MLPerf-HPC-style event log of lvit train (train/mllog.h, docs/mllog.md). */
#define _GNU_SOURCE
#include "train/mllog.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "core/check.h"
#include "core/cpu.h"
#include "core/json.h"
#include "core/log.h"

static const char *type_name(MllogType t) {
    return t == MLLOG_START ? "INTERVAL_START" : t == MLLOG_END ? "INTERVAL_END" : "POINT_IN_TIME";
}

/* the source path from the repository root ("src/train/train_run.c"), whatever the build's prefix */
static const char *src_name(const char *src) {
    const char *p = strstr(src, "src/"), *q;
    while (p && (q = strstr(p + 1, "src/"))) p = q;
    if (p) return p;
    q = strrchr(src, '/');
    return q ? q + 1 : src;
}

int mllog_format(char *buf, size_t n, double time_ms, const char *src, int line, MllogType type, const char *key,
                 const char *value, const char *extra) {
    int len = snprintf(buf, n,
                       "{\"namespace\": \"\", \"time_ms\": %.0f, \"event_type\": \"%s\", \"key\": \"%s\", \"value\": %s, "
                       "\"metadata\": {\"file\": \"%s\", \"lineno\": %d%s%s}}",
                       time_ms, type_name(type), key, value ? value : "null", src_name(src), line, extra ? ", " : "",
                       extra ? extra : "");
    return len < 0 || (size_t)len >= n ? -1 : len;
}

/* milliseconds since the Unix epoch (the format's clock; now_sec is monotonic, not wall time) */
static double wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1e3 + floor(tv.tv_usec / 1e3);
}

void mllog_event_at(MlLog *L, const char *src, int line, MllogType type, const char *key, const char *value,
                    const char *extra) {
    if (!L->f || L->err) return;
    char buf[4096];
    if (mllog_format(buf, sizeof buf, wall_ms(), src, line, type, key, value, extra) < 0)
        DIE("mllog: the line of '%s' does not fit %zu bytes", key, sizeof buf);
    errno = 0;
    if (fprintf(L->f, ":::MLLOG %s\n", buf) < 0 || fflush(L->f) || ferror(L->f)) {
        L->err = errno ? errno : EIO;
        log_warn("cannot write '%s': %s; the MLLOG event log stops here (the run goes on)", L->path, strerror(L->err));
    }
}

/* values as JSON text: hyperparameters are floats, printed as typed (7 digits) */
static void ev_int(MlLog *L, int line, const char *key, int64_t v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)v);
    mllog_event_at(L, __FILE__, line, MLLOG_POINT, key, b, NULL);
}
static void ev_float(MlLog *L, int line, const char *key, double v) {
    char b[40] = "null";
    if (isfinite(v)) snprintf(b, sizeof b, "%.7g", v);
    mllog_event_at(L, __FILE__, line, MLLOG_POINT, key, b, NULL);
}
static void ev_str(MlLog *L, int line, const char *key, const char *v) {
    JsonBuf b = {0};
    json_buf_put_string(&b, v);
    mllog_event_at(L, __FILE__, line, MLLOG_POINT, key, b.s, NULL);
    json_buf_free(&b);
}

static int is_file(const char *data) { return data && strcmp(data, "synthetic") != 0; }

void mllog_open(MlLog *L, const char *path, int write, const char *data) {
    memset(L, 0, sizeof *L);
    L->epoch = -1;
    if (!path) return;
    L->on = 1;
    snprintf(L->path, sizeof L->path, "%s", path);
    if (write && !(L->f = fopen(path, "w")))
        DIE_USER("lvit train: --mllog: cannot write '%s': %s", path, strerror(errno));
    /* the page cache's copy of the data file goes (clean pages; no root needed), so that staging
     * reads it from storage as a fresh job would */
    int cleared = 0;
    if (is_file(data)) {
        int fd = open(data, O_RDONLY);
        if (fd >= 0) cleared = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0, close(fd);
    }
    mllog_event(L, MLLOG_POINT, "cache_clear", cleared ? "true" : "false",
                is_file(data) ? "\"method\": \"posix_fadvise(POSIX_FADV_DONTNEED) on the data file\""
                              : "\"method\": \"none: the synthetic data is generated in memory\"");
    mllog_event(L, MLLOG_START, "init_start", NULL, NULL);
}

void mllog_staging_start(MlLog *L, const char *data) {
    if (!L->on) return;
    mllog_event(L, MLLOG_START, "staging_start", NULL, NULL);
    if (!is_file(data)) return;
    int fd = open(data, O_RDONLY);
    if (fd < 0) return; /* opening the dataset says why, naming the file */
    enum { CHUNK = 1 << 20 };
    char *buf = xmalloc(CHUNK);
    ssize_t got;
    while ((got = read(fd, buf, CHUNK)) > 0) L->staged += got;
    free(buf);
    close(fd);
}

void mllog_staging_stop(MlLog *L) {
    char extra[96];
    snprintf(extra, sizeof extra, "\"bytes\": %lld", (long long)L->staged);
    mllog_event(L, MLLOG_END, "staging_stop", NULL, extra);
}

void mllog_run_start(MlLog *L, const MllogSetup *s) {
    if (!L->on) return;
    L->epoch_samples = s->train_samples > 0 ? s->train_samples : 1;
    L->batch = s->batch;
    if (!L->f) return;
    CpuInfo ci;
    cpu_detect(&ci);
    char name[96], platform[160];
    snprintf(name, sizeof name, "lvit_%s", s->task);
    snprintf(platform, sizeof platform, "%s, %d process%s", ci.brand[0] ? ci.brand : "unknown CPU", s->ranks,
             s->ranks == 1 ? "" : "es");
    ev_str(L, __LINE__, "submission_benchmark", name);
    ev_str(L, __LINE__, "submission_org", "lvit");
    ev_str(L, __LINE__, "submission_division", "open");
    ev_str(L, __LINE__, "submission_status", "research");
    ev_str(L, __LINE__, "submission_platform", platform);
    ev_int(L, __LINE__, "number_of_ranks", s->ranks);
    ev_int(L, __LINE__, "seed", s->seed);
    ev_int(L, __LINE__, "global_batch_size", s->batch);
    ev_int(L, __LINE__, "gradient_accumulation_steps", 1);
    ev_int(L, __LINE__, "train_samples", s->train_samples);
    ev_int(L, __LINE__, "eval_samples", s->eval_samples);
    ev_int(L, __LINE__, "max_steps", s->opt->total);
    const OptConfig *o = s->opt;
    ev_str(L, __LINE__, "opt_name", "AdamW");
    ev_float(L, __LINE__, "opt_base_learning_rate", o->lr);
    ev_float(L, __LINE__, "opt_end_learning_rate", o->min_lr);
    ev_int(L, __LINE__, "opt_learning_rate_warmup_steps", o->warmup);
    ev_str(L, __LINE__, "opt_learning_rate_decay_schedule", "cosine");
    ev_int(L, __LINE__, "opt_learning_rate_decay_steps", o->total - o->warmup);
    ev_float(L, __LINE__, "opt_adamw_beta_1", o->beta1);
    ev_float(L, __LINE__, "opt_adamw_beta_2", o->beta2);
    ev_float(L, __LINE__, "opt_adamw_epsilon", o->eps);
    ev_float(L, __LINE__, "opt_adamw_weight_decay", o->weight_decay);
    ev_float(L, __LINE__, "opt_gradient_clip_norm", o->grad_clip > 0 ? o->grad_clip : 0);
    if (s->target > 0) ev_float(L, __LINE__, "lvit_target_val_loss", s->target);
    mllog_event(L, MLLOG_END, "init_stop", NULL, NULL);
    mllog_event(L, MLLOG_START, "run_start", NULL, NULL);
}

/* epochs counted from 1, as the benchmarks' logs do; step s's epoch is that of its first sample */
static int64_t epoch_of(const MlLog *L, int64_t s) { return s * L->batch / L->epoch_samples + 1; }

void mllog_step_begin_at(MlLog *L, const char *src, int line, int64_t s) {
    if (!L->f || L->epoch == epoch_of(L, s)) return;
    char extra[64];
    L->epoch = epoch_of(L, s);
    snprintf(extra, sizeof extra, "\"epoch_num\": %lld", (long long)L->epoch);
    mllog_event_at(L, src, line, MLLOG_START, "epoch_start", NULL, extra);
}

static void epoch_stop(MlLog *L, const char *src, int line) {
    char extra[64];
    snprintf(extra, sizeof extra, "\"epoch_num\": %lld", (long long)L->epoch);
    mllog_event_at(L, src, line, MLLOG_END, "epoch_stop", NULL, extra);
    L->epoch = -1;
}

void mllog_step_end_at(MlLog *L, const char *src, int line, int64_t s) {
    if (L->f && L->epoch >= 0 && epoch_of(L, s + 1) != L->epoch) epoch_stop(L, src, line);
}

void mllog_eval_start_at(MlLog *L, const char *src, int line, int64_t step) {
    if (!L->f) return;
    char extra[96];
    snprintf(extra, sizeof extra, "\"epoch_num\": %lld, \"step_num\": %lld", (long long)epoch_of(L, step - 1),
             (long long)step);
    mllog_event_at(L, src, line, MLLOG_START, "eval_start", NULL, extra);
}

void mllog_eval_stop_at(MlLog *L, const char *src, int line, int64_t step, double value) {
    if (!L->f) return;
    char extra[320], v[40] = "null";
    snprintf(extra, sizeof extra, "\"epoch_num\": %lld, \"step_num\": %lld", (long long)epoch_of(L, step - 1),
             (long long)step);
    mllog_event_at(L, src, line, MLLOG_END, "eval_stop", NULL, extra);
    if (isfinite(value)) snprintf(v, sizeof v, "%.8g", value);
    strcat(extra, ", \"metric\": \"val_loss\", \"lower_is_better\": true");
    mllog_event_at(L, src, line, MLLOG_POINT, "eval_accuracy", v, extra);
}

void mllog_run_stop_at(MlLog *L, const char *src, int line, int64_t step, int success) {
    if (!L->f) return;
    if (L->epoch >= 0) epoch_stop(L, src, line);
    char extra[128];
    snprintf(extra, sizeof extra, "\"status\": \"%s\", \"epoch_num\": %lld, \"step_num\": %lld",
             success ? "success" : "aborted", (long long)epoch_of(L, step > 0 ? step - 1 : 0), (long long)step);
    mllog_event_at(L, src, line, MLLOG_END, "run_stop", NULL, extra);
}

int mllog_close(MlLog *L, char *err, size_t errlen) {
    if (L->f && fclose(L->f) && !L->err) L->err = errno ? errno : EIO;
    L->f = NULL;
    if (!L->err) return 0;
    snprintf(err, errlen, "cannot write '%s': %s (the MLLOG event log is incomplete)", L->path, strerror(L->err));
    return -1;
}
