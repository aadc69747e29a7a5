/* A whole training job over the Task and Sharding interfaces (train/train_run.h). */
#include "train/train_run.h"
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/parse.h"
#include "core/json.h"
#include "core/log.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"
#include "io/train_state.h"
#include "tasks/jobs.h"
#include "train/init_weights.h"
#include "train/mllog.h"
#include "train/run_dir.h"
#include "train/auto_defaults.h"
#include "tasks/forecast_run.h"
#include "train/train_ckpt.h"
#include "train/trainer.h"

/* --data: the built-in synthetic data (split by --val-frac, statistics over its training part)
 * or an lvit dataset file (split and statistics fixed by lvit convert). */
static void open_dataset(Dataset *ds, const char *spec, const ModelOptions *mf, int times, uint64_t seed, float val_frac,
                         const char *cmd) {
    if (strcmp(spec, "synthetic") == 0) {
        int H, W;
        if (parse_grid(mf->grid, &H, &W)) DIE_USER("lvit %s: --grid expects HxW (e.g. 32x64), got '%s'", cmd, mf->grid);
        dataset_synthetic(ds, mf->vars, times, H, W, seed);
        ds->t_train_end = (int)floor(ds->T * (1.0 - val_frac) + 0.5);
        ds->t_val_end = ds->T;
        dataset_compute_stats(ds, 0, ds->t_train_end);
        return;
    }
    char err[1024];
    if (dataset_open(ds, spec, err, sizeof err)) DIE_USER("lvit %s: --data: %s", cmd, err);
}

/* flag combinations that cannot make sense, refused before any work (every rank: the same flags) */
static void check_flags(const TrainOptions *o, Parallel *par) {
    if (o->steps == 0)
        parallel_refuse(par, "lvit train: --steps 0 trains nothing; give the number of optimizer steps (at least 1)");
    if (o->overwrite && o->resume)
        parallel_refuse(par, "lvit train: --overwrite starts the run in --run over, --resume continues it: give one of them");
    if (o->resume_other && !o->resume)
        parallel_refuse(par, "lvit train: --resume-from-other goes with --resume (it continues from another run's checkpoint)");
}

/* the schedule against the learning rate and steps in force: given, or chosen from the data */
static void check_schedule(const TrainOptions *o, Parallel *par, float lr, int64_t steps) {
    if (o->min_lr >= 0 && o->min_lr > lr)
        parallel_refuse(par, "lvit train: --min-lr %g is above the learning rate %g%s: the schedule warms up to it and "
                        "decays down to --min-lr; give a --min-lr of at most %g", o->min_lr, lr,
                        o->given & GIVEN_LR ? " (--lr)" : " (the default; --lr sets it)", lr);
    if (o->warmup >= 0 && o->warmup >= steps)
        parallel_refuse(par, "lvit train: --warmup %lld is not below the %lld steps%s: the learning rate would never "
                        "reach its peak, let alone decay; give a --warmup below %lld", (long long)o->warmup,
                        (long long)steps, o->given & GIVEN_STEPS ? " (--steps)" : " (the default; --steps sets them)",
                        (long long)steps);
}

/* the grid the model sees: the data grid, or its coarse version for downscaling */
static void check_patch(const Dataset *ds, const ModelOptions *mf, const TaskOptions *to, Parallel *par) {
    const int s = to->task == TASK_DOWNSCALE && to->scale > 1 ? to->scale : 1, h = ds->H / s, w = ds->W / s;
    if (h < 1 || w < 1 || (mf->patch <= h && mf->patch <= w)) return;
    if (s > 1)
        parallel_refuse(par, "lvit train: --patch %d is larger than the %dx%d coarse grid (the %dx%d data grid / --scale %d): "
                        "the model would see one patch, mostly padding; give a --patch of at most %d", mf->patch, h, w,
                        ds->H, ds->W, s, h < w ? h : w);
    parallel_refuse(par, "lvit train: --patch %d is larger than the %dx%d data grid: the model would see one patch, "
                    "mostly padding; give a --patch of at most %d", mf->patch, h, w, h < w ? h : w);
}

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGUSR1 ? "SIGUSR1" : sig == SIGINT ? "SIGINT" : sig == SIGHUP ? "SIGHUP" : "a signal";
}

/* a training-state checkpoint of the trainer as it is after `step` steps (collective) */
static void save_state(TrainCkpt *ck, const Trainer *t, const char *run, int64_t step, int64_t best_step, double best_val,
                       int keep, int64_t keep_every) {
    TrainState ts = {.step = step, .opt_t = t->opt.t, .spike_n = t->spike_n, .best_step = best_step, .best_val = best_val};
    memcpy(ts.spike_hist, t->spike_hist, sizeof ts.spike_hist);
    train_ckpt_save(ck, run, &ts, keep, keep_every);
}

/* LVIT_FAULT=signal:RANK:STEP:SIG[,SIG...] (tests): raise those signals (TERM, INT, HUP, USR1)
 * inside the checkpoint of that step, after the state file and before the manifest */
static void fault_signals(TrainCkpt *ck, const char *spec, int rank) {
    int r;
    long long step;
    int n = 0;
    if (sscanf(spec, "%d:%lld:%n", &r, &step, &n) != 2 || !n) DIE_USER("LVIT_FAULT=signal:RANK:STEP:SIG[,SIG...], got '%s'", spec);
    char list[64];
    snprintf(list, sizeof list, "%s", spec + n);
    for (char *tok = strtok(list, ","); tok && ck->nfault_signals < 4; tok = strtok(NULL, ",")) {
        int sig = !strcmp(tok, "TERM") ? SIGTERM : !strcmp(tok, "INT") ? SIGINT : !strcmp(tok, "HUP") ? SIGHUP
                  : !strcmp(tok, "USR1") ? SIGUSR1 : 0;
        if (!sig) DIE_USER("LVIT_FAULT=signal: '%s' is not TERM, INT, HUP or USR1", tok);
        ck->fault_signals[ck->nfault_signals++] = sig;
    }
    if (rank == r) ck->fault_signal_step = step;
}

void train_options_default(TrainOptions *o) {
    *o = (TrainOptions){.data = "synthetic", .leads = "6", .task = TASK_OPTIONS_DEFAULT, .model = model_options_default(),
                        .layout = LAYOUT_OPTIONS_DEFAULT, .opt = opt_default(), .steps = 200, .warmup = -1, .seed = 42,
                        .min_lr = -1, .batch = 8, .log_every = 10, .times = 400, .val_frac = 0.2f, .val_samples = 256,
                        .max_skips = 5, .ckpt_keep = 2};
}

int train_run(const TrainOptions *o) {
    ModelOptions mf = o->model;
    OptConfig oc = o->opt;
    const char *data = o->data, *run = o->run, *leads = o->leads, *init = o->init;
    const LayoutOptions df = o->layout;
    TaskOptions dsf = o->task;
    int batch = o->batch;
    const int threads = o->threads, log_every = o->log_every, times = o->times, quiet = o->quiet,
              val_samples = o->val_samples, keep = o->keep, max_skips = o->max_skips, resume = o->resume,
              ckpt_keep = o->ckpt_keep;
    int val_every = o->val_every;
    int64_t steps = o->steps;
    const int64_t warmup = o->warmup, seed = o->seed, ckpt_every = o->ckpt_every,
                  ckpt_keep_every = o->ckpt_keep_every;
    const float min_lr = o->min_lr, val_frac = o->val_frac, ema = o->ema, spike_z = o->spike_z;
    if (!run) DIE_USER("lvit train: --run RUN_DIR is required (where model.safetensors and metrics.jsonl go)");
    float lead_h[16];
    int nlead = parse_float_list(leads, lead_h, 16);
    if (nlead < 1) DIE_USER("lvit train: --leads expects hours separated by commas (e.g. 6,24), got '%s'", leads);
    Parallel par;
    layout_init(&par, &df, "train");
    const int io = par.world.rank == 0; /* rank 0 writes files */
    MlLog ml; /* --mllog: cache_clear and init_start now */
    mllog_open(&ml, o->mllog, io, data);
    train_set_threads(threads);
    if (quiet) log_set_quiet(1);
    train_print_banner();
    check_flags(o, &par);
    oc.total = steps;
    oc.warmup = warmup >= 0 ? warmup : steps / 20;
    oc.min_lr = min_lr >= 0 ? min_lr : oc.lr / 10;

    Dataset ds;
    mllog_staging_start(&ml, data);
    open_dataset(&ds, data, &mf, times, (uint64_t)seed, val_frac, "train");
    mllog_staging_stop(&ml);
    /* defaults chosen from the data (train/auto_defaults.h; flags the user gives win) */
    const int pixel_mae = dsf.task == TASK_MAE && dataset_pixel_scene(&ds, 0);
    const int pixels = pixel_mae || (dsf.task == TASK_CLASSIFY && dataset_pixel_scene(&ds, 1));
    if ((dsf.task == TASK_FORECAST && ds.clim) || pixels) {
        static AutoDefaults ad; /* (its lead list and band groups outlive this block) */
        ad = (AutoDefaults){.steps = steps, .lr = oc.lr, .weight_decay = oc.weight_decay, .dim = mf.dim, .depth = mf.depth,
                            .heads = mf.heads, .val_every = val_every, .batch = batch, .window = dsf.window,
                            .patch = mf.patch};
        snprintf(ad.leads, sizeof ad.leads, "%s", leads);
        char what[512];
        const int changed = pixels ? auto_defaults_pixels(&ad, o->given, &ds, pixel_mae, par.dp.size, par.sp.size,
                                                          par.pp.size, what, sizeof what)
                                   : auto_defaults_forecast(&ad, o->given | (o->leads_given ? GIVEN_LEADS : 0), &ds,
                                                            forecast_time_step(&ds), what, sizeof what);
        if (changed) {
            log_info("defaults for this data (%s; flags you give win): %s",
                     pixels ? "docs/classification.md" : "docs/forecasting.md", what);
            steps = ad.steps, oc.lr = ad.lr, oc.weight_decay = ad.weight_decay, val_every = ad.val_every;
            mf.dim = ad.dim, mf.depth = ad.depth, mf.heads = ad.heads, mf.patch = ad.patch, batch = ad.batch;
            dsf.window = ad.window;
            if (ad.band_groups[0]) mf.band_groups = ad.band_groups;
            nlead = parse_float_list(ad.leads, lead_h, 16);
            oc.total = steps;
            oc.warmup = warmup >= 0 ? warmup : steps / 20;
            oc.min_lr = min_lr >= 0 ? min_lr : oc.lr / 10;
        }
    }
    check_schedule(o, &par, oc.lr, steps);
    check_patch(&ds, &mf, &dsf, &par);
    int t_split = ds.t_train_end, t_val = ds.t_val_end;
    VitConfig cfg;
    Task task;
    const TaskSetup setup = {.ds = &ds, .opts = &dsf, .model = &mf, .leads = lead_h, .nlead = nlead,
                             .leads_given = o->leads_given, .downscale_given = o->downscale_given, .par = &par,
                             .cmd = "train"};
    task_table[dsf.task]->open(&task, &setup, &cfg);
    if (task.ops->ranges) task.ops->ranges(&task, &t_split, &t_val); /* the task numbers its own samples */
    layout_check(&par, &cfg, batch, "train");
    cfg.recompute = df.recompute;
    RunDir rd = {.lock_fd = -1};
    if (io) run_dir_claim(&rd, run, resume, o->overwrite, init); /* before anything reads or writes there */
    if (io && task.ops->run_files) task.ops->run_files(&task, run);
    if (!task.ops->ranges) /* (an image task describes its samples itself) */
        log_info("data: %s, %d variables, grid %dx%d, %d times; train [0,%d), validation [%d,%d), test [%d,%d)",
                 ds.source, ds.V, ds.H, ds.W, ds.T, t_split, t_split, t_val, t_val, ds.T);

    Trainer t;
    trainer_init(&t, &cfg, &oc, &task, 0, t_split, batch, (uint64_t)seed, layout_kernels(&par, &df, "train"), &par);
    char err[1024] = "";
    if (init) { /* every rank reads the file: refused once, by rank 0, when any rank could not */
        double bad = trainer_load_weights(&t, init, err, sizeof err) != 0;
        if (par.world.size > 1) par.world.ops->allreduce_sum_f64(&par.world, &bad, 1);
        if (bad > 0) parallel_refuse(&par, "--init: %s", *err ? err : "the weights could not be read on every rank");
    }

    /* validation: a fixed sample order, evaluated every --val-every steps and at the end */
    Sampler vs = {0};
    int have_val = 0;
    if (t_split < t_val) {
        if (task.ops->sampler(&task, &vs, t_split, t_val, (uint64_t)seed, 0, err, sizeof err) == 0)
            have_val = 1;
        else
            log_warn("no validation samples: %s", err);
    }
    int keep_best = keep == 1 || (keep == 0 && val_every > 0);
    if (keep_best && !have_val) DIE_USER("lvit train: --keep best needs validation samples, and %s has none", data);
    if (keep_best && val_every == 0) val_every = (int)(steps < 10 ? 1 : steps / 10);
    if (o->target_val_loss > 0 && (!have_val || !val_every))
        parallel_refuse(&par, "lvit train: --target-val-loss is checked at each validation: give --val-every N%s",
                        have_val ? "" : " and data with a validation period");
    if (o->mllog && io && (!have_val || !val_every))
        log_warn("--mllog: this run measures no validation loss (%s), so %s has no eval_start/eval_stop events and "
                 "the MLPerf compliance checker will fail it (docs/mllog.md)",
                 have_val ? "--val-every 0" : "no validation samples", o->mllog);
    Vit *m = &t.model;
    if (ema > 0) trainer_enable_ema(&t, ema);
    /* the best weights mirror what this rank holds (under ZeRO-3: the replicated ones, its block shards) */
    const int64_t held = trainer_held_floats(&t);
    float *best = keep_best ? m->k->alloc((size_t)held * sizeof(float)) : NULL;
    double best_val = INFINITY;
    int64_t best_step = 0, start_step = 0;
    /* training-state checkpoints: what this rank holds, in the layout-independent order */
    static StateManifest man, was; /* 8 KiB each */
    man = (StateManifest){.dp = par.dp.size, .sp = par.sp.size, .tp = par.tp.size, .pp = par.pp.size, .zero = par.zero,
                          .n_params = m->n_canon, .batch = batch, .seed = seed, .steps = steps, .warmup = oc.warmup};
    char *cfg_json = vit_config_to_json(&m->cfg);
    snprintf(man.config, sizeof man.config, "%s", cfg_json);
    free(cfg_json);
    { /* the run's identity: model, data, batch and seed (train/run_dir.h) */
        char *tj = task.ops->describe(&task);
        char *dj = run_data_describe(&ds, task.ops->name, tj, dsf.task == TASK_FORECAST ? lead_h : NULL, nlead);
        run_identity_set(&man, dj);
        free(dj), free(tj);
    }
    TrainCkpt ck;
    train_ckpt_init(&ck, &t, best, &man);
    if (resume) {
        char dir[4096], diff[1400];
        TrainState ts;
        /* the newest checkpoint that verifies: a damaged newer one is passed over, with a warning */
        if (state_find_intact(run, dir, sizeof dir, &was, err, sizeof err)) DIE_USER("lvit train --resume: %s", err);
        int nd = run_identity_diff(&was, &man, diff, sizeof diff);
        if (nd && !o->resume_other)
            DIE_USER("lvit train --resume: %s belongs to another run: %s. Resume with the flags of the run that wrote it%s "
                     "start a new run (--overwrite, or another --run directory)%s", dir, diff,
                     was.n_params == man.n_params ? "," : ", or", /* another model's state cannot be loaded at all */
                     was.n_params == man.n_params ? ", or continue from its state anyway with --resume-from-other" : "");
        if (was.n_params != man.n_params)
            DIE_USER("lvit train --resume-from-other: %s holds the state of %lld parameters, this run's model has %lld: "
                     "it cannot be loaded into it", dir, (long long)was.n_params, (long long)man.n_params);
        if (nd) log_warn("--resume-from-other: %s belongs to another run: %s; continuing from its state", dir, diff);
        else if (!*was.identity) log_info("%s was written before run identities: its data is not compared", dir);
        /* at the last step: the run was killed after its last checkpoint, before its outputs */
        if (was.step > steps)
            DIE_USER("lvit train --resume: %s is at step %lld, past --steps %lld", dir, (long long)was.step, (long long)steps);
        if (was.steps > 0 && was.steps != steps) { /* the schedule is a function of the step, the warmup and --steps */
            OptConfig before = t.opt.cfg;
            before.total = was.steps;
            before.warmup = was.warmup;
            const int64_t w = warmup >= 0 ? warmup : was.warmup; /* the warmup the run had, unless given */
            if (w >= steps)
                DIE_USER("lvit train --resume: the run's warmup of %lld steps is not below --steps %lld; give a --warmup "
                         "below it", (long long)w, (long long)steps);
            oc.warmup = t.opt.cfg.warmup = t.opt_cfg.warmup = w;
            log_info("--steps %lld instead of the %lld of the run that wrote %s: the cosine schedule is %s to end at step "
                     "%lld (warmup %lld steps); the learning rate of step %lld is %.4g instead of %.4g",
                     (long long)steps, (long long)was.steps, dir, steps > was.steps ? "extended" : "shortened",
                     (long long)steps, (long long)w, (long long)was.step + 1, opt_lr_at(&t.opt.cfg, was.step),
                     opt_lr_at(&before, was.step));
            ck.man.warmup = w;
        }
        train_ckpt_load(&ck, dir, &was, &ts);
        t.opt.t = ts.opt_t;
        t.spike_n = ts.spike_n;
        memcpy(t.spike_hist, ts.spike_hist, sizeof t.spike_hist);
        best_step = ts.best_step;
        best_val = ts.best_val;
        trainer_seek(&t, ts.step);
        start_step = ts.step;
        if (was.dp != man.dp || was.sp != man.sp || was.tp != man.tp || was.pp != man.pp || was.zero != man.zero)
            log_info("resuming from %s (step %lld), written with --dp %d --pp %d --sp %d --tp %d --zero %d, now --dp %d "
                     "--pp %d --sp %d --tp %d --zero %d", dir, (long long)start_step, was.dp, was.pp, was.sp, was.tp,
                     was.zero, man.dp, man.pp, man.sp, man.tp, man.zero);
        else
            log_info("resuming from %s (step %lld)", dir, (long long)start_step);
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.jsonl", run);
    if (io && resume) { /* keep the metrics of the steps before the checkpoint (temporary file, rename) */
        FILE *old = fopen(path, "r");
        struct stat ost;
        if (old && (fstat(fileno(old), &ost) || !S_ISREG(ost.st_mode))) fclose(old), old = NULL; /* e.g. /dev/full */
        char tmp[4200], line[8192];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (!f) DIE_USER("cannot write '%s': %s", tmp, strerror(errno));
        int64_t kept = 0;
        while (old && kept < start_step && fgets(line, sizeof line, old))
            if (fputs(line, f) >= 0 && strchr(line, '\n')) kept++;
        if (old) fclose(old);
        if (fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path))
            DIE_USER("cannot write '%s': %s", path, strerror(errno));
        if (kept < start_step)
            log_warn("%s had %lld lines for the %lld steps before the checkpoint", path, (long long)kept, (long long)start_step);
    }
    FILE *mf_out = io ? fopen(path, resume ? "a" : "w") : NULL;
    if (io && !mf_out) DIE_USER("cannot write '%s': %s", path, strerror(errno));
    log_info("training %lld steps, batch %d, lr %g (warmup %lld, cosine to %g), %lld samples per epoch",
             (long long)steps, batch, oc.lr, (long long)oc.warmup, oc.min_lr, (long long)t.train.n);
    if (val_every && have_val) log_info("validation loss every %d steps on %lld samples; keeping the %s%s weights", val_every,
                            (long long)(vs.n < val_samples ? vs.n : val_samples), keep_best ? "best" : "last", ema > 0 ? " EMA" : "");
    const MllogSetup mls = {.task = task.ops->name, .data = data, .seed = seed, .batch = batch, .ranks = par.world.size,
                            .train_samples = t.train.n, .eval_samples = have_val ? (vs.n < val_samples ? vs.n : val_samples) : 0,
                            .opt = &oc, .target = o->target_val_loss};
    mllog_run_start(&ml, &mls);
    double t_start = now_sec(), t_log = t_start, val = NAN;
    int64_t tok_since = 0;
    float last_loss = NAN;
    /* fault injection for the tests: LVIT_FAULT=RANK:STEP stops that rank with an error there;
     * nan:FIRST[-LAST] poisons the batches of those steps (the loss becomes NaN); hang:RANK:STEP
     * stops that rank's process (SIGSTOP) before the step; kill:RANK:STEP kills it (SIGKILL) in
     * the checkpoint of that step, after its state file and before the manifest */
    int fault_rank = -1, hang_rank = -1, kill_rank = -1;
    long long fault_step = -1, nan_first = -1, nan_last = -1, hang_step = -1, kill_step = -1;
    const char *fault = getenv("LVIT_FAULT");
    if (fault && !strncmp(fault, "nan:", 4)) {
        int k = sscanf(fault + 4, "%lld-%lld", &nan_first, &nan_last);
        if (k < 1) DIE_USER("LVIT_FAULT=nan:FIRST[-LAST] expects step numbers, got '%s'", fault);
        if (k == 1) nan_last = nan_first;
    } else if (fault && !strncmp(fault, "hang:", 5)) { /* the rank stops itself (SIGSTOP) before that step */
        if (sscanf(fault + 5, "%d:%lld", &hang_rank, &hang_step) != 2) DIE_USER("LVIT_FAULT=hang:RANK:STEP, got '%s'", fault);
    } else if (fault && !strncmp(fault, "kill:", 5)) { /* SIGKILL inside the checkpoint of that step */
        if (sscanf(fault + 5, "%d:%lld", &kill_rank, &kill_step) != 2) DIE_USER("LVIT_FAULT=kill:RANK:STEP, got '%s'", fault);
        if (par.world.rank == kill_rank) ck.fault_kill_step = kill_step;
    } else if (fault && !strncmp(fault, "signal:", 7)) {
        fault_signals(&ck, fault + 7, par.world.rank);
    } else if (fault && sscanf(fault, "%d:%lld", &fault_rank, &fault_step) != 2) {
        DIE_USER("LVIT_FAULT expects RANK:STEP, nan:FIRST[-LAST], hang:RANK:STEP, kill:RANK:STEP or "
                 "signal:RANK:STEP:SIG[,SIG...], got '%s'", fault);
    }
    t.spike_z = spike_z;
    train_install_stop_signals();
    int skips_in_row = 0;
    int64_t stopped_at = 0, signalled_at = 0, reached_at = 0, last_ckpt = resume ? start_step : -1;
    int metrics_errno = 0;     /* rank 0: the first failed write of metrics.jsonl stops the run */
    int64_t metrics_from = 0;  /* the step whose line failed */
    int64_t skips = 0;
    static const char *skip_why[] = {"", "non-finite loss or gradient norm", "loss spike"};
    for (int64_t s = start_step; s < steps; s++) {
        if (par.world.rank == fault_rank && s + 1 == fault_step) DIE("injected fault (LVIT_FAULT=%s)", fault);
        if (par.world.rank == hang_rank && s + 1 == hang_step) raise(SIGSTOP);
        if (s + 1 >= nan_first && s + 1 <= nan_last) t.fault_nan = 1;
        t.stop_request = train_stop_requested() != 0 || metrics_errno != 0;
        mllog_step_begin(&ml, s);
        StepStats st = trainer_step(&t);
        mllog_step_end(&ml, s);
        tok_since += t.tokens_per_step;
        if (st.skipped) {
            skips++;
            skips_in_row++;
            log_info("step %6lld/%lld | %s (loss %g, grad norm %g): update skipped (%d in a row, --max-skips %d)",
                     (long long)s + 1, (long long)steps, skip_why[st.skipped], st.loss, st.grad_norm, skips_in_row,
                     max_skips);
        } else {
            skips_in_row = 0;
            last_loss = st.loss;
        }
        int do_val = have_val && ((val_every && (s + 1) % val_every == 0) || s + 1 == steps);
        if (do_val) {
            trainer_use_ema(&t, 1);
            mllog_eval_start(&ml, s + 1);
            val = trainer_eval_loss(&t, &vs, val_samples);
            mllog_eval_stop(&ml, s + 1, val);
            if (o->target_val_loss > 0 && val <= o->target_val_loss) reached_at = s + 1; /* the same val on every rank */
            if (best && val < best_val) {
                best_val = val;
                best_step = s + 1;
                trainer_held_copy(&t, best, 1);
            }
            trainer_use_ema(&t, 0);
        }
        if (mf_out && !metrics_errno) { /* each line flushed and checked: a full disk stops the run */
            errno = 0;
            fprintf(mf_out, "{\"step\":%lld,\"loss\":", (long long)s + 1);
            if (isfinite(st.loss)) fprintf(mf_out, "%.8g", st.loss);
            else fputs("null", mf_out);
            fputs(",\"grad_norm\":", mf_out);
            if (isfinite(st.grad_norm)) fprintf(mf_out, "%.6g", st.grad_norm);
            else fputs("null", mf_out);
            fprintf(mf_out, ",\"lr\":%.6g,\"ms\":%.3f,\"tokens_per_s\":%.1f", st.lr, st.seconds * 1e3,
                    t.tokens_per_step / st.seconds);
            if (st.skipped) fprintf(mf_out, ",\"skipped\":\"%s\"", st.skipped == SKIP_SPIKE ? "spike" : "nonfinite");
            if (do_val) fprintf(mf_out, ",\"val_loss\":%.8g", val);
            fputs("}\n", mf_out);
            if (fflush(mf_out) || ferror(mf_out)) {
                metrics_errno = errno ? errno : EIO;
                metrics_from = s + 1;
                log_warn("cannot write '%s': %s; stopping after the next step with a checkpoint", path,
                         strerror(metrics_errno));
            }
        }
        if ((s + 1) % log_every == 0 || s + 1 == steps) {
            double now = now_sec(), el = now - t_log, per = el / ((s % log_every) + 1);
            char eta[32];
            fmt_duration(eta, sizeof eta, per * (steps - s - 1));
            char vbuf[48] = "";
            if (do_val) snprintf(vbuf, sizeof vbuf, " | val %.5f", val);
            log_info("step %6lld/%lld | loss %.5f%s | lr %.3e | grad norm %.3f | %7.1f ms/step | %8.0f tokens/s | ETA %s",
                     (long long)s + 1, (long long)steps, st.loss, vbuf, st.lr, st.grad_norm, per * 1e3, tok_since / el, eta);
            t_log = now;
            tok_since = 0;
        } else if (do_val) {
            log_info("step %6lld/%lld | validation loss %.5f", (long long)s + 1, (long long)steps, val);
        }
        if (st.skipped && skips_in_row >= max_skips) { /* --max-skips N: the Nth skip in a row stops the run */
            stopped_at = s + 1;
            break;
        }
        if (reached_at) {
            log_info("step %lld: validation loss %.5f reached --target-val-loss %g; stopping", (long long)reached_at, val,
                     o->target_val_loss);
            break;
        }
        if ((ckpt_every && (s + 1) % ckpt_every == 0) || (st.stop && s + 1 < steps)) {
            save_state(&ck, &t, run, s + 1, best_step, best_val, ckpt_keep, ckpt_keep_every);
            last_ckpt = s + 1;
        }
        /* a scheduler's warning signal on any rank: every rank stops after this same step (with
         * a checkpoint written just above) */
        if (st.stop && s + 1 < steps) {
            const int sig = train_stop_requested();
            if (sig || !metrics_errno)
                log_info("received %s: stopping after step %lld of %lld and writing the weights%s",
                         sig ? signal_name(sig) : "a stop signal on another rank", (long long)s + 1, (long long)steps,
                         sig == SIGINT ? " (a second SIGINT within 3 s aborts at once)" : "");
            signalled_at = s + 1;
            break;
        }
    }
    if (mf_out && fclose(mf_out) && !metrics_errno) metrics_errno = errno ? errno : EIO, metrics_from = steps;
    char metrics_path[4096];
    snprintf(metrics_path, sizeof metrics_path, "%s", path);
    double train_s = now_sec() - t_start;
    if (have_val) sampler_free(&vs);
    const int64_t done_step = stopped_at ? stopped_at : signalled_at ? signalled_at : reached_at ? reached_at : steps;
    /* success: the target reached, or without one every step taken */
    mllog_run_stop(&ml, done_step, o->target_val_loss > 0 ? reached_at > 0 : !stopped_at && !signalled_at);
    trainer_use_ema(&t, 1); /* the saved weights are the EMA's (the best of them with --keep best) */
    float *stash = NULL;    /* host: the trained parameters the best weights replace, for a fallback checkpoint */
    if (best) {
        if (!t.ema) {
            stash = xmalloc((size_t)held * sizeof(float));
            trainer_held_transfer(&t, stash, 1);
        }
        trainer_held_copy(&t, best, 0);
        if (isnan(val)) /* resumed at the last step: no validation in this process */
            log_info("kept the weights of step %lld (validation loss %.5f)", (long long)best_step, best_val);
        else
            log_info("kept the weights of step %lld (validation loss %.5f; last step %.5f)", (long long)best_step,
                     best_val, val);
        val = best_val;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", run);
    /* the data description (io/run_meta.h): the task's own part from the task; hashing reads the
     * whole data file, so only the writing rank builds it */
    JsonBuf extra = {0};
    json_buf_printf(&extra, "{\"seed\":%lld,\"val_frac\":%g,\"task\":\"%s\"", (long long)seed, val_frac, task.ops->name);
    char *tj = task.ops->describe(&task);
    if (tj) json_buf_printf(&extra, ",\"%s\":%s", task.ops->name, tj);
    free(tj);
    json_buf_puts(&extra, "}");
    char *desc = io ? run_meta_json(&ds, data, extra.s) : NULL;
    json_buf_free(&extra);
    /* normalization of every input: the variables', then the static fields' (standardized: 0, 1) */
    float *nmean = xcalloc((size_t)cfg.V, sizeof(float)), *nstd = xcalloc((size_t)cfg.V, sizeof(float));
    for (int v = 0; v < cfg.V; v++) { /* history inputs are normalised as their variable; static ones are not */
        const int dv = cfg.history ? v % ds.V : v;
        nmean[v] = dv < ds.V ? ds.mean[dv] : 0.0f, nstd[v] = dv < ds.V ? ds.std[dv] : 1.0f;
    }
    /* only the writing rank needs the whole model on the host, but tp and pp ranks assemble it
     * by a sum over their group */
    float *full = io || par.mp.size > 1 ? xmalloc((size_t)t.model.n_canon * sizeof(float)) : NULL;
    trainer_full_params(&t, full); /* collective under ZeRO-3 and tensor parallelism */
    double failed = io && ckpt_save_model_host(&t.model, full, nmean, nstd, desc,
                                                     task.ops->anchor ? task.ops->anchor(&task) : NULL, path, err, sizeof err);
    par.world.ops->allreduce_sum_f64(&par.world, &failed, 1); /* every rank takes part in the fallback below */
    free(nmean), free(nstd);
    free(full);
    free(desc);
    if (failed > 0) { /* the weights must not be lost: they are in a checkpoint of the last step */
        trainer_use_ema(&t, 0); /* the training state as it was, so that --resume continues exactly */
        if (stash) trainer_held_transfer(&t, stash, 0);
        if (last_ckpt != done_step) {
            if (io) log_warn("cannot write the trained model: %s; writing a checkpoint of step %lld so that its weights "
                             "are kept", err, (long long)done_step);
            save_state(&ck, &t, run, done_step, best_step, best_val, ckpt_keep, ckpt_keep_every);
        }
        parallel_refuse(&par, "cannot write the trained model: %s. Nothing is lost: the weights are in the checkpoint "
                        "%s/ckpt/step_%08lld; fix the problem, then run the same command with --resume to write %s "
                        "from it", err, run, (long long)done_step, path);
    }
    free(stash);
    if (best) m->k->free(best);
    if (io && task.ops->finish) task.ops->finish(&task, run);
    log_set_quiet(0);
    if (par.world.size > 1) {
        double mib = parallel_bytes_sent(&par) / 1048576.0, spm = (par.sp.bytes_sent + par.spu.bytes_sent + par.spr.bytes_sent) / 1048576.0;
        log_info("communication (rank 0, validation included): %.3f MiB sent per step (%.1f MiB in all: data "
                 "parallel %.1f, sequence parallel %.1f, gradients and loss over all ranks %.1f)", mib / steps, mib,
                 par.dp.bytes_sent / 1048576.0, spm, par.world.bytes_sent / 1048576.0);
    }
    char resumed[64] = "";
    if (resume) snprintf(resumed, sizeof resumed, " (resumed at step %lld)", (long long)start_step);
    char losses[128] = ""; /* none when a resumed run had no step left to take */
    if (!isnan(last_loss) && isnan(val)) /* no validation split, or --val-every 0 */
        snprintf(losses, sizeof losses, ", final train loss %.5f (no validation loss measured)", last_loss);
    else if (!isnan(last_loss))
        snprintf(losses, sizeof losses, ", final train loss %.5f, validation loss %.5f", last_loss, val);
    else if (!isnan(val))
        snprintf(losses, sizeof losses, ", no step left to take, validation loss %.5f", val);
    else if (resume)
        snprintf(losses, sizeof losses, ", no step left to take");
    log_info("done: %lld steps%s in %.1f s%s; wrote %s", (long long)done_step, resumed, train_s, losses, path);
    train_ckpt_free(&ck);
    trainer_free(&t);
    task_free(&task);
    vit_config_free(&cfg);
    dataset_free(&ds);
    int rc = 0;
    if (metrics_errno && io) {
        fflush(stdout);
        if (last_ckpt == done_step && done_step < steps)
            fprintf(stderr, "lvit: error: cannot write '%s': %s (the line of step %lld); the run stopped after step %lld "
                    "with its training state in %s/ckpt/step_%08lld and its weights in %s: fix the problem, then continue "
                    "it with --resume\n", metrics_path, strerror(metrics_errno), (long long)metrics_from,
                    (long long)done_step, run, (long long)done_step, path);
        else
            fprintf(stderr, "lvit: error: cannot write '%s': %s (the line of step %lld); the run's weights are in %s, "
                    "its metrics from step %lld on are missing\n", metrics_path, strerror(metrics_errno),
                    (long long)metrics_from, path, (long long)metrics_from);
        rc = LVIT_EXIT_USAGE;
    }
    if (mllog_close(&ml, err, sizeof err) && io) {
        fflush(stdout);
        fprintf(stderr, "lvit: error: --mllog: %s; the run itself finished and wrote %s\n", err, path);
        rc = LVIT_EXIT_USAGE;
    }
    run_dir_release(&rd);
    if (stopped_at) {
        parallel_finalize(&par);
        fprintf(stderr, "lvit: error: stopped at step %lld after %d consecutive skipped updates (%s); %s holds "
                "the weights of the last applied step. Lower --lr, check the data, or raise --max-skips\n",
                (long long)stopped_at, skips_in_row, "non-finite loss or gradient norm, or loss spikes", path);
        return rc ? rc : LVIT_EXIT_FAIL;
    }
    if (skips) log_info("%lld updates skipped in all", (long long)skips);
    parallel_finalize(&par);
    return rc;
}
