#include "train/train_ckpt.h"
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"

void train_ckpt_init(TrainCkpt *c, Trainer *t, float *best, const StateManifest *man) {
    memset(c, 0, sizeof *c);
    c->t = t;
    c->best = best;
    c->man = *man;
    const int max = trainer_state_max_ranges(t);
    int64_t held = 0;
    for (int own = 0; own < 2; own++)
        for (int v = 0; v < SV_COUNT; v++) {
            c->r[own][v] = xmalloc(sizeof(StateRange) * (size_t)max);
            c->dev[own][v] = xmalloc(sizeof(float *) * (size_t)max);
            c->nr[own][v] = v != SV_BEST ? trainer_state_ranges(t, v, own, c->r[own][v], c->dev[own][v])
                            : best ? trainer_mirror_ranges(t, best, own, c->r[own][v], c->dev[own][v]) /* like the EMA */
                                   : 0;
            for (int i = 0; !own && i < c->nr[own][v]; i++) held += c->r[own][v][i].len;
        }
    c->host = xmalloc(sizeof(float) * (size_t)(held ? held : 1));
}

void train_ckpt_free(TrainCkpt *c) {
    for (int own = 0; own < 2; own++)
        for (int v = 0; v < SV_COUNT; v++) free(c->r[own][v]), free(c->dev[own][v]);
    free(c->host);
    memset(c, 0, sizeof *c);
}

/* the parts of `own` laid out one after the other in c->host (their floats into *floats);
 * transfer_down = 1 fills them */
static int parts(TrainCkpt *c, int own, StatePart *p, int transfer_down, int64_t *floats) {
    const Kernels *k = c->t->model.k;
    float *q = c->host;
    int np = 0;
    for (int v = 0; v < SV_COUNT; v++) {
        if (!c->nr[own][v]) continue;
        p[np] = (StatePart){v, q, c->r[own][v], c->nr[own][v]};
        for (int i = 0; i < c->nr[own][v]; i++) {
            if (transfer_down) k->download(q, c->dev[own][v][i], c->r[own][v][i].len);
            q += c->r[own][v][i].len;
        }
        np++;
    }
    *floats = q - c->host;
    return np;
}

static _Noreturn void save_failed(const TrainState *ts, const char *err, const char *run) {
    DIE_USER("checkpoint of step %" PRId64 ": %s; the checkpoints already in %s/ckpt are intact (resume from them with "
             "--resume once the problem is fixed)", ts->step, err, run);
}

static void upload_parts(TrainCkpt *c, const StatePart *p, int np) {
    const Kernels *k = c->t->model.k;
    for (int j = 0; j < np; j++) {
        const float *q = p[j].data;
        for (int i = 0; i < p[j].nr; i++) {
            k->upload(c->dev[0][p[j].vec][i], q, p[j].r[i].len);
            q += p[j].r[i].len;
        }
    }
}

void train_ckpt_save(TrainCkpt *c, const char *run, const TrainState *ts, int keep, int64_t keep_every) {
    Parallel *par = c->t->par;
    char dir[4096], err[4400];
    StatePart p[SV_COUNT];
    c->man.step = ts->step;
    c->man.nfiles = par->dp.size * par->pp.size * par->tp.size;
    double t0 = now_sec();
    int64_t floats = 0;
    if (par->sp.rank == 0) { /* one file per data-parallel, pipeline and tensor-parallel rank */
        int np = parts(c, 1, p, 1, &floats);
        if (state_dir(run, ts->step, dir, sizeof dir, err, sizeof err) ||
            state_save_file(dir, (par->dp.rank * par->pp.size + par->pp.rank) * par->tp.size + par->tp.rank, p, np, ts,
                            err, sizeof err))
            save_failed(ts, err, run);
        if (c->fault_kill_step == ts->step) raise(SIGKILL);
        for (int i = 0; c->fault_signal_step == ts->step && i < c->nfault_signals; i++) raise(c->fault_signals[i]);
    }
    par->world.ops->barrier(&par->world); /* every file is synced and renamed: now the manifest */
    if (par->world.rank == 0) {
        if (state_dir(run, ts->step, dir, sizeof dir, err, sizeof err) || state_write_manifest(dir, &c->man, err, sizeof err))
            save_failed(ts, err, run);
        state_prune(run, keep, keep_every);
        log_info("checkpoint of step %" PRId64 " in %s/ckpt: %.1f MiB from rank 0 (%d file%s) in %.2f s", ts->step, run,
                 floats * 4.0 / 1048576.0, c->man.nfiles, c->man.nfiles > 1 ? "s" : "", now_sec() - t0);
    }
}

void train_ckpt_load(TrainCkpt *c, const char *dir, const StateManifest *m, TrainState *ts) {
    char err[4400];
    StatePart p[SV_COUNT];
    int64_t floats;
    int np = parts(c, 0, p, 0, &floats);
    if (state_gather(dir, m, p, np, ts, err, sizeof err)) DIE_USER("lvit train --resume: %s", err);
    upload_parts(c, p, np);
}
