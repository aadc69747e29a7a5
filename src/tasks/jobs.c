/* The task table and the jobs that dispatch on a checkpoint's task (tasks/jobs.h). */
#include "tasks/jobs.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/log.h"
#include "core/paths.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"

/* a new task: its TaskOps here, in the order of the --task choices */
const TaskOps *const task_table[] = {&task_forecast_ops, &task_downscale_ops, &task_classify_ops, &task_mae_ops,
                                     &task_segment_ops, NULL};

const TaskOps *task_of_run(const char *run) {
    char path[4096], err[1024];
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    VitConfig cfg;
    if (ckpt_load_config(path, &cfg, NULL, NULL, err, sizeof err)) return task_table[0]; /* the job says why */
    const TaskOps *t = task_table[0]; /* forecasting: what no other task claims */
    for (int i = 1; task_table[i]; i++)
        if (task_table[i]->owns(&cfg)) {
            t = task_table[i];
            break;
        }
    vit_config_free(&cfg);
    return t;
}

/* A job of one process under a launcher of several: rank 0 does it, the others leave at once. */
static int others_leave(const char *cmd, const char *what) {
    const int n = parallel_launched_size();
    if (n <= 1) return 0;
    if (parallel_launched_rank() > 0) return 1;
    log_info("lvit %s: %s runs in one process: rank 0 of the %d does it, the others exit", cmd, what, n);
    return 0;
}

/* An output (FLAG OUT) that is one of the run's own files or its dataset would destroy it: refused
 * before anything is read (exit 2). The dataset is --data, or the one the checkpoint records. */
static void refuse_overwriting_inputs(const char *cmd, const char *flag, const char *out, const char *run,
                                      const char *data) {
    if (!out) return;
    static const char *const own[] = {"model.safetensors", "metrics.jsonl", "split.csv"};
    char path[4200];
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        snprintf(path, sizeof path, "%s/%s", run, own[i]);
        paths_refuse_overwrite(cmd, flag, out, path, "a file of the run");
    }
    if (data) {
        paths_refuse_overwrite(cmd, flag, out, data, "the dataset");
        return;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    char *desc = ckpt_load_data_desc(path), err[256];
    RunMeta m;
    if (desc && run_meta_parse(&m, desc, path, err, sizeof err) == 0) {
        paths_refuse_overwrite(cmd, flag, out, m.source, "the dataset");
        run_meta_free(&m);
    }
    free(desc);
}

int eval_run(const EvalOptions *o) {
    if (!o->run) DIE_USER("lvit eval: --run RUN_DIR is required");
    refuse_overwriting_inputs("lvit eval", "--json", o->json, o->run, o->data);
    const TaskOps *t = task_of_run(o->run);
    /* forecast and downscaling evaluation share the samples over the processes (their own mesh) */
    if (t != &task_forecast_ops && t != &task_downscale_ops && others_leave("eval", "this task's evaluation")) return 0;
    return t->eval(o);
}

/* mkdir -p: --plot DIR is created like an output file's folder would be */
static void make_dirs(const char *dir, const char *flag) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c != '/' && c) continue;
        *s = 0;
        struct stat st;
        if (mkdir(p, 0755) && errno != EEXIST) DIE_USER("lvit predict %s %s: cannot create %s: %s", flag, dir, p, strerror(errno));
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) DIE_USER("lvit predict %s %s: %s is not a directory", flag, dir, p);
        if (!c) break;
        *s = c;
    }
}

int predict_run(const PredictOptions *o) {
    if (!o->run || !o->out) DIE_USER("lvit predict: --run RUN_DIR and -o OUT are required");
    refuse_overwriting_inputs("lvit predict", "-o", o->out, o->run, o->data);
    if (others_leave("predict", "prediction")) return 0;
    if (o->plot_dir) make_dirs(o->plot_dir, "--plot");
    return task_of_run(o->run)->predict(o);
}

void write_text_file(const char *path, const char *text, const char *cmd) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    int bad = !f || fputs(text, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0, e = errno;
    if (f && fclose(f) != 0 && !bad) bad = 1, e = errno;
    if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
    if (bad) {
        remove(tmp);
        DIE_USER("lvit %s: cannot write %s: %s", cmd, path, strerror(e));
    }
    printf("wrote %s\n", path);
}
