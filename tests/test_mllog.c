/* Tests for src/train/mllog.c (lvit train --mllog): every line is ":::MLLOG " and one JSON object
 * with the MLCommons fields in their order; a whole run's log has the required keys, interval
 * starts and stops paired and nested as hand-computed (epochs of 10 samples at batch 4), staging
 * reads the data file's bytes, and failed writes are reported naming the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/json.h"
#include "train/mllog.h"
#include "util_test.h"

static const char *const FIELDS[] = {"namespace", "time_ms", "event_type", "key", "value", "metadata"};

/* one line: the prefix, then a JSON object with exactly FIELDS in that order */
static JsonValue *parse_line(const char *line) {
    static const char prefix[] = ":::MLLOG ";
    if (strncmp(line, prefix, strlen(prefix))) fail_msg("no ':::MLLOG ' prefix: %s", line);
    const char *j = line + strlen(prefix);
    char err[256];
    JsonValue *v = json_parse(j, strlen(j), 1 << 16, "line", err, sizeof err);
    if (!v) fail_msg("not JSON (%s): %s", err, line);
    assert_int_equal(v->type, JSON_OBJECT);
    assert_int_equal(v->n, 6);
    for (int i = 0; i < 6; i++) assert_string_equal(v->keys[i], FIELDS[i]);
    const JsonValue *md = json_get(v, "metadata");
    assert_int_equal(md->type, JSON_OBJECT);
    assert_true(md->n >= 2);
    assert_string_equal(md->keys[0], "file");
    assert_string_equal(md->keys[1], "lineno");
    assert_int_equal(json_get(v, "time_ms")->type, JSON_NUMBER);
    return v;
}

static void test_format(void **state) {
    (void)state;
    char buf[512];
    int n = mllog_format(buf, sizeof buf, 1733500000123.0, "/home/x/src/lvit/src/train/train_run.c", 42, MLLOG_START,
                         "epoch_start", NULL, "\"epoch_num\": 3");
    assert_true(n > 0);
    assert_string_equal(buf, "{\"namespace\": \"\", \"time_ms\": 1733500000123, \"event_type\": \"INTERVAL_START\", "
                             "\"key\": \"epoch_start\", \"value\": null, \"metadata\": {\"file\": "
                             "\"src/train/train_run.c\", \"lineno\": 42, \"epoch_num\": 3}}");
    char line[600];
    snprintf(line, sizeof line, ":::MLLOG %s", buf);
    JsonValue *v = parse_line(line);
    assert_true(json_get(v, "time_ms")->num == 1733500000123.0);
    json_free(v);
    /* a value, no extra metadata; a file outside src/ keeps its base name */
    mllog_format(buf, sizeof buf, 5, "bench/x.c", 7, MLLOG_POINT, "seed", "42", NULL);
    assert_string_equal(buf, "{\"namespace\": \"\", \"time_ms\": 5, \"event_type\": \"POINT_IN_TIME\", \"key\": \"seed\", "
                             "\"value\": 42, \"metadata\": {\"file\": \"x.c\", \"lineno\": 7}}");
    assert_int_equal(mllog_format(buf, 20, 5, "a.c", 1, MLLOG_END, "run_stop", NULL, NULL), -1); /* too long */
}

typedef struct Ev {
    char key[64], type[20];
    int64_t epoch, step;  /* metadata epoch_num, step_num (-1: absent) */
    double value, time;
    char status[16];
} Ev;

/* reads every line of path back (each checked by parse_line) */
static int read_log(const char *path, Ev *ev, int max) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        assert_true(n < max);
        line[strcspn(line, "\n")] = 0;
        JsonValue *v = parse_line(line);
        Ev *e = &ev[n++];
        snprintf(e->key, sizeof e->key, "%s", json_as_string(json_get(v, "key")));
        snprintf(e->type, sizeof e->type, "%s", json_as_string(json_get(v, "event_type")));
        const JsonValue *md = json_get(v, "metadata"), *x;
        e->epoch = (x = json_get(md, "epoch_num")) ? x->i : -1;
        e->step = (x = json_get(md, "step_num")) ? x->i : -1;
        e->value = (x = json_get(v, "value")) && x->type == JSON_NUMBER ? x->num : NAN;
        e->time = json_get(v, "time_ms")->num;
        snprintf(e->status, sizeof e->status, "%s", (x = json_get(md, "status")) ? json_as_string(x) : "");
        assert_true(strstr(json_as_string(json_get(md, "file")), ".c") != NULL);
        assert_true(json_get(md, "lineno")->i > 0);
        json_free(v);
    }
    fclose(f);
    return n;
}

static int count(const Ev *ev, int n, const char *key) {
    int c = 0;
    for (int i = 0; i < n; i++) c += !strcmp(ev[i].key, key);
    return c;
}

/* A 6-step run, batch 4, 10 samples per epoch: the steps' first samples 0, 4, 8 | 12, 16 | 20 are in
 * epochs 1, 1, 1, 2, 2, 3; evaluations after steps 3 and 6. */
static void test_run_log(void **state) {
    (void)state;
    char path[] = "/tmp/lvit_mllog_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    MlLog L;
    mllog_open(&L, path, 1, "synthetic");
    mllog_staging_start(&L, "synthetic");
    mllog_staging_stop(&L);
    OptConfig oc = {.lr = 1e-3f, .min_lr = 1e-4f, .warmup = 1, .total = 6, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f};
    MllogSetup s = {.task = "forecast", .data = "synthetic", .seed = 7, .batch = 4, .ranks = 1, .train_samples = 10,
                    .eval_samples = 5, .opt = &oc, .target = 0.5};
    mllog_run_start(&L, &s);
    for (int64_t st = 0; st < 6; st++) {
        mllog_step_begin(&L, st);
        mllog_step_end(&L, st);
        if (st + 1 == 3 || st + 1 == 6) {
            mllog_eval_start(&L, st + 1);
            mllog_eval_stop(&L, st + 1, st + 1 == 3 ? 0.75 : 0.25);
        }
    }
    mllog_run_stop(&L, 6, 1);
    char err[512];
    assert_int_equal(mllog_close(&L, err, sizeof err), 0);

    Ev ev[128];
    int n = read_log(path, ev, 128);
    unlink(path);
    /* the sequence of interval events, hand-written */
    static const char *const want[] = {
        "init_start", "staging_start", "staging_stop", "init_stop", "run_start", "epoch_start:1", "epoch_stop:1",
        "eval_start:1", "eval_stop:1", "epoch_start:2", "epoch_stop:2", "epoch_start:3", "eval_start:3", "eval_stop:3",
        "epoch_stop:3", "run_stop"}; /* the last epoch is still open at the final evaluation */
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ev[i].type, "POINT_IN_TIME")) continue;
        char got[96];
        if (ev[i].epoch >= 0 && strcmp(ev[i].key, "run_stop")) snprintf(got, sizeof got, "%.60s:%lld", ev[i].key, (long long)ev[i].epoch);
        else snprintf(got, sizeof got, "%.60s", ev[i].key);
        assert_true(k < (int)(sizeof want / sizeof *want));
        assert_string_equal(got, want[k]);
        const int start = strstr(ev[i].key, "_start") != NULL;
        assert_string_equal(ev[i].type, start ? "INTERVAL_START" : "INTERVAL_END");
        k++;
    }
    assert_int_equal(k, (int)(sizeof want / sizeof *want));
    for (int i = 1; i < n; i++) assert_true(ev[i].time >= ev[i - 1].time);
    /* point events: once each, where the rules put them */
    static const char *const once[] = {"cache_clear", "submission_benchmark", "submission_org", "submission_division",
                                       "submission_status", "submission_platform", "seed", "global_batch_size",
                                       "train_samples", "eval_samples", "opt_name", "opt_base_learning_rate",
                                       "opt_learning_rate_warmup_steps", "number_of_ranks", "init_start", "init_stop",
                                       "run_start", "run_stop"};
    for (size_t i = 0; i < sizeof once / sizeof *once; i++)
        if (count(ev, n, once[i]) != 1) fail_msg("%s: %d lines, expected 1", once[i], count(ev, n, once[i]));
    assert_string_equal(ev[0].key, "cache_clear");
    assert_string_equal(ev[1].key, "init_start");
    int evals = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ev[i].key, "seed")) assert_true(ev[i].value == 7);
        if (!strcmp(ev[i].key, "global_batch_size")) assert_true(ev[i].value == 4);
        if (!strcmp(ev[i].key, "opt_base_learning_rate")) assert_true(ev[i].value == 0.001);
        if (!strcmp(ev[i].key, "eval_accuracy")) {
            assert_string_equal(ev[i - 1].key, "eval_stop");
            assert_true(ev[i].value == (evals ? 0.25 : 0.75));
            assert_int_equal(ev[i].step, evals ? 6 : 3);
            assert_int_equal(ev[i].epoch, evals ? 3 : 1);
            evals++;
        }
        if (!strcmp(ev[i].key, "run_stop")) {
            assert_string_equal(ev[i].status, "success");
            assert_int_equal(ev[i].step, 6);
            assert_int_equal(i, n - 1);
        }
    }
    assert_int_equal(evals, 2);
}

/* staging reads the data file once (its size in bytes), and an aborted run says so */
static void test_staging_and_abort(void **state) {
    (void)state;
    char data[] = "/tmp/lvit_mllog_data_XXXXXX", path[] = "/tmp/lvit_mllog_XXXXXX";
    int fd = mkstemp(data);
    assert_true(fd >= 0);
    const size_t size = (3u << 20) + 5; /* three read chunks and a bit */
    char *buf = calloc(1, size);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    free(buf);
    close(fd);
    close(mkstemp(path));
    MlLog L;
    mllog_open(&L, path, 1, data);
    mllog_staging_start(&L, data);
    assert_int_equal(L.staged, (int64_t)size);
    mllog_staging_stop(&L);
    OptConfig oc = {.lr = 1e-3f, .total = 4};
    MllogSetup s = {.task = "downscale", .seed = 1, .batch = 2, .ranks = 2, .train_samples = 3, .opt = &oc};
    mllog_run_start(&L, &s);
    mllog_step_begin(&L, 0);
    mllog_step_end(&L, 0);
    mllog_step_begin(&L, 1); /* samples 2, 3: epoch 1 still open when the run stops */
    mllog_run_stop(&L, 2, 0);
    char err[512];
    assert_int_equal(mllog_close(&L, err, sizeof err), 0);
    Ev ev[64];
    int n = read_log(path, ev, 64);
    unlink(path);
    unlink(data);
    assert_string_equal(ev[0].key, "cache_clear");
    assert_string_equal(ev[n - 2].key, "epoch_stop"); /* closed before run_stop */
    assert_string_equal(ev[n - 1].key, "run_stop");
    assert_string_equal(ev[n - 1].status, "aborted");
    assert_int_equal(count(ev, n, "epoch_start"), 1);
}

/* a full disk: the first failed line stops the log and close names the file; a file that cannot
 * be created is a usage error naming it */
static void test_write_errors(void **state) {
    (void)state;
    if (access("/dev/full", W_OK) == 0) {
        MlLog L;
        mllog_open(&L, "/dev/full", 1, "synthetic");
        assert_true(L.err != 0);
        char err[512];
        assert_int_equal(mllog_close(&L, err, sizeof err), -1);
        TU_ASSERT_CONTAINS(err, "/dev/full");
    } else {
        print_message("skip: no writable /dev/full\n");
    }
    LvitCatch c;
    if (setjmp(c.jb) == 0) {
        lvit_catch_push(&c);
        MlLog L;
        mllog_open(&L, "/nonexistent_dir_lvit/log.txt", 1, "synthetic");
        lvit_catch_pop(&c);
        fail_msg("an unwritable --mllog path was accepted");
    }
    assert_int_equal(c.code, LVIT_EXIT_USAGE);
    TU_ASSERT_CONTAINS(c.msg, "/nonexistent_dir_lvit/log.txt");
    TU_ASSERT_CONTAINS(c.msg, "--mllog");
    /* off: nothing is written, nothing fails */
    MlLog L;
    mllog_open(&L, NULL, 1, "synthetic");
    mllog_eval_start(&L, 1);
    char err[64];
    assert_int_equal(mllog_close(&L, err, sizeof err), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_run_log),
        cmocka_unit_test(test_staging_and_abort),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
