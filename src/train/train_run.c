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
    const TaskOptions dsf = o->task;
    const int batch = o->batch, threads = o->threads, log_every = o->log_every, times = o->times, quiet = o->quiet,
              val_samples = o->val_samples, keep = o->keep, max_skips = o->max_skips, resume = o->resume,
              ckpt_keep = o->ckpt_keep;
    int val_every = o->val_every;
    const int64_t steps = o->steps, warmup = o->warmup, seed = o->seed, ckpt_every = o->ckpt_every,
                  ckpt_keep_every = o->ckpt_keep_every;
    const float min_lr = o->min_lr, val_frac = o->val_frac, ema = o->ema, spike_z = o->spike_z;
    if (!run) DIE_USER("lvit train: --run RUN_DIR is required (where model.safetensors and metrics.jsonl go)");
    float lead_h[16];
    int nlead = parse_float_list(leads, lead_h, 16);
    if (nlead < 1) DIE_USER("lvit train: --leads expects hours separated by commas (e.g. 6,24), got '%s'", leads);
    Parallel par;
    layout_init(&par, &df, "train");
    const int io = par.world.rank == 0; /* rank 0 writes files */
    train_set_threads(threads);
    oc.total = steps;
    oc.warmup = warmup >= 0 ? warmup : steps / 20;
    oc.min_lr = min_lr >= 0 ? min_lr : oc.lr / 10;

    Dataset ds;
    open_dataset(&ds, data, &mf, times, (uint64_t)seed, val_frac, "train");
    int t_split = ds.t_train_end, t_val = ds.t_val_end;
    VitConfig cfg;
    Task task;
    const TaskSetup setup = {.ds = &ds, .opts = &dsf, .model = &mf, .leads = lead_h, .nlead = nlead,
                             .leads_given = o->leads_given, .downscale_given = o->downscale_given, .par = &par,
                             .cmd = "train"};
    task_table[dsf.task]->open(&task, &setup, &cfg);
    layout_check(&par, &cfg, batch, "train");
    cfg.recompute = df.recompute;
    if (io) mkdir_p(run);
    if (quiet) log_set_quiet(1);
    train_print_banner();
    log_info("data: %s, %d variables, grid %dx%d, %d times; train [0,%d), validation [%d,%d), test [%d,%d)", ds.source,
             ds.V, ds.H, ds.W, ds.T, t_split, t_split, t_val, t_val, ds.T);

    Trainer t;
    trainer_init(&t, &cfg, &oc, &task, 0, t_split, batch, (uint64_t)seed, layout_kernels(&par, &df, "train"), &par);
    char err[1024];
    if (init && t.fsdp.on)
        parallel_refuse(&par, "lvit train: --init with --zero 3 or --fsdp is not supported yet; use --zero 0 or 1");
    if (init && ckpt_load_params(&t.model, init, err, sizeof err)) DIE_USER("--init: %s", err);

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
    Vit *m = &t.model;
    if (t.fsdp.on && (ema > 0 || keep_best))
        parallel_refuse(&par, "lvit train: --ema and --keep best (the default with --val-every) need the whole model on "
                        "every rank; with --zero 3 or --fsdp use --keep last and no --ema");
    if (ema > 0) trainer_enable_ema(&t, ema);
    float *best = keep_best ? m->k->alloc((size_t)m->n_params * sizeof(float)) : NULL;
    double best_val = INFINITY;
    int64_t best_step = 0, start_step = 0;
    /* training-state checkpoints: what this rank holds, in the layout-independent order */
    StateManifest man = {.dp = par.dp.size, .sp = par.sp.size, .tp = par.tp.size, .pp = par.pp.size, .zero = par.zero, .n_params = m->n_canon,
                         .batch = batch, .seed = seed};
    char *cfg_json = vit_config_to_json(&m->cfg);
    snprintf(man.config, sizeof man.config, "%s", cfg_json);
    free(cfg_json);
    TrainCkpt ck;
    train_ckpt_init(&ck, &t, best, &man);
    if (resume) {
        char dir[4096];
        TrainState ts;
        StateManifest was;
        if (state_find_latest(run, dir, sizeof dir))
            DIE_USER("lvit train --resume: no complete checkpoint in %s/ckpt (write them with --ckpt-every N)", run);
        if (state_read_manifest(dir, &was, err, sizeof err)) DIE_USER("lvit train --resume: %s", err);
        if (strcmp(was.config, man.config) || was.n_params != man.n_params)
            DIE_USER("lvit train --resume: %s holds another model (%s); this run builds %s: use the model flags of the "
                     "run that wrote it", dir, was.config, man.config);
        if (was.batch != man.batch || was.seed != man.seed)
            DIE_USER("lvit train --resume: %s was written with --batch %lld --seed %lld (the data order depends on "
                     "both); this run has --batch %lld --seed %lld", dir, (long long)was.batch, (long long)was.seed,
                     (long long)man.batch, (long long)man.seed);
        /* at the last step: the run was killed after its last checkpoint, before its outputs */
        if (was.step > steps)
            DIE_USER("lvit train --resume: %s is at step %lld, past --steps %lld", dir, (long long)was.step, (long long)steps);
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
    } else if (fault && sscanf(fault, "%d:%lld", &fault_rank, &fault_step) != 2) {
        DIE_USER("LVIT_FAULT expects RANK:STEP, nan:FIRST[-LAST], hang:RANK:STEP or kill:RANK:STEP, got '%s'", fault);
    }
    t.spike_z = spike_z;
    train_install_stop_signals();
    int skips_in_row = 0;
    int64_t stopped_at = 0, signalled_at = 0;
    int64_t skips = 0;
    static const char *skip_why[] = {"", "non-finite loss or gradient norm", "loss spike"};
    for (int64_t s = start_step; s < steps; s++) {
        if (par.world.rank == fault_rank && s + 1 == fault_step) DIE("injected fault (LVIT_FAULT=%s)", fault);
        if (par.world.rank == hang_rank && s + 1 == hang_step) raise(SIGSTOP);
        if (s + 1 >= nan_first && s + 1 <= nan_last) t.fault_nan = 1;
        t.stop_request = train_stop_requested() != 0;
        StepStats st = trainer_step(&t);
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
            val = trainer_eval_loss(&t, &vs, val_samples);
            if (best && val < best_val) {
                best_val = val;
                best_step = s + 1;
                m->k->copy(best, m->param_mem, m->n_params);
            }
            trainer_use_ema(&t, 0);
        }
        if (mf_out) {
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
        }
        if ((s + 1) % log_every == 0 || s + 1 == steps) {
            if (mf_out) fflush(mf_out);
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
        if (skips_in_row > max_skips) {
            stopped_at = s + 1;
            break;
        }
        if ((ckpt_every && (s + 1) % ckpt_every == 0) || (st.stop && s + 1 < steps)) {
            TrainState ts = {.step = s + 1, .opt_t = t.opt.t, .spike_n = t.spike_n, .best_step = best_step, .best_val = best_val};
            memcpy(ts.spike_hist, t.spike_hist, sizeof ts.spike_hist);
            if (mf_out) fflush(mf_out);
            train_ckpt_save(&ck, run, &ts, ckpt_keep, ckpt_keep_every);
        }
        /* a scheduler's warning signal on any rank: every rank stops after this same step (with
         * a checkpoint written just above) */
        if (st.stop && s + 1 < steps) {
            log_info("received %s: stopping after step %lld of %lld and writing the weights",
                     train_stop_requested() == SIGUSR1 ? "SIGUSR1" : train_stop_requested() ? "SIGTERM" : "a stop signal on another rank",
                     (long long)s + 1, (long long)steps);
            signalled_at = s + 1;
            break;
        }
    }
    if (mf_out && fclose(mf_out)) DIE_USER("cannot write '%s': %s", path, strerror(errno));
    double train_s = now_sec() - t_start;
    if (have_val) sampler_free(&vs);
    trainer_use_ema(&t, 1); /* the saved weights are the EMA's (the best of them with --keep best) */
    if (best) {
        m->k->copy(m->param_mem, best, m->n_params);
        m->k->free(best);
        log_info("kept the weights of step %lld (validation loss %.5f; last step %.5f)", (long long)best_step, best_val,
                 val);
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
    for (int v = 0; v < cfg.V; v++) nmean[v] = v < ds.V ? ds.mean[v] : 0.0f, nstd[v] = v < ds.V ? ds.std[v] : 1.0f;
    float *full = xmalloc((size_t)t.model.n_canon * sizeof(float));
    trainer_full_params(&t, full); /* collective under ZeRO-3 and tensor parallelism */
    if (io && ckpt_save_model_host(&t.model, full, nmean, nstd, desc, path, err, sizeof err)) DIE("%s", err);
    free(nmean), free(nstd);
    free(full);
    free(desc);
    log_set_quiet(0);
    if (par.world.size > 1) {
        double mib = parallel_bytes_sent(&par) / 1048576.0, spm = (par.sp.bytes_sent + par.spu.bytes_sent + par.spr.bytes_sent) / 1048576.0;
        log_info("communication (rank 0, validation included): %.3f MiB sent per step (%.1f MiB in all: data "
                 "parallel %.1f, sequence parallel %.1f, gradients and loss over all ranks %.1f)", mib / steps, mib,
                 par.dp.bytes_sent / 1048576.0, spm, par.world.bytes_sent / 1048576.0);
    }
    char resumed[64] = "";
    if (resume) snprintf(resumed, sizeof resumed, " (resumed at step %lld)", (long long)start_step);
    log_info("done: %lld steps%s in %.1f s, final train loss %.5f, validation loss %.5f%s; wrote %s",
             (long long)(stopped_at ? stopped_at : signalled_at ? signalled_at : steps), resumed,
             train_s, last_loss, val, isnan(val) ? " (not measured)" : "", path);
    train_ckpt_free(&ck);
    trainer_free(&t);
    task_free(&task);
    vit_config_free(&cfg);
    dataset_free(&ds);
    if (stopped_at) {
        parallel_finalize(&par);
        fprintf(stderr, "lvit: error: stopped at step %lld after %d consecutive skipped updates (%s); %s holds "
                "the weights of the last applied step. Lower --lr, check the data, or raise --max-skips\n",
                (long long)stopped_at, max_skips + 1, "non-finite loss or gradient norm, or loss spikes", path);
        return LVIT_EXIT_FAIL;
    }
    if (skips) log_info("%lld updates skipped in all", (long long)skips);
    parallel_finalize(&par);
    return 0;
}
