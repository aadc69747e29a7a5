/* Forecast skill per variable and lead in physical units, against persistence and climatology
 * computed by the same code (eval/metrics.h): the forecasting task's `lvit eval`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "core/parse.h"
#include "data/dataset_file.h"
#include "data/dataset.h"
#include "eval/blend.h"
#include "eval/metrics.h"
#include "io/checkpoint.h"
#include "tasks/forecast_run.h"
#include "tasks/jobs.h"
#include "train/setup.h"

typedef struct VarSkill {
    SkillAcc model, persistence, climatology, blend;
} VarSkill;

/* A sample's contribution to one SkillAcc as doubles (the counts are exact below 2^53), so that a
 * round's samples can be summed over the ranks and added in the order of one process. */
enum { PACKED = 12, NACC = 4 };
static void pack(double *o, const SkillAcc *a) {
    const double x[PACKED] = {a->sq_err_w, a->err_w, a->w_sum, a->rmse_sum, a->acc_sum, a->cov, a->var_f, a->var_y,
                              (double)a->n_samples, (double)a->n_empty, (double)a->n_acc, (double)a->n_acc_skipped};
    memcpy(o, x, sizeof x);
}
static void merge_packed(SkillAcc *a, const double *o) {
    const SkillAcc b = {.sq_err_w = o[0], .err_w = o[1], .w_sum = o[2], .rmse_sum = o[3], .acc_sum = o[4], .cov = o[5],
                        .var_f = o[6], .var_y = o[7], .n_samples = (int64_t)o[8], .n_empty = (int64_t)o[9],
                        .n_acc = (int64_t)o[10], .n_acc_skipped = (int64_t)o[11]};
    skill_merge(a, &b);
}

/* The scores as a table, a line per lead and JSON (rank 0). */
static void report(const Dataset *ds, VarSkill *sk, const double *ab, const float *lead_h, int nlead, const char *split,
                   int t0, int t1, const char *json) {
    printf("skill on the %s split (times %d..%d), latitude-weighted, RMSE as in WeatherBench 1 "
           "(square root of the mean over all samples and valid cells):\n", split, t0, t1 - 1);
    printf("%-14s %7s %8s %12s %8s %11s %12s %8s %12s %12s %8s %6s\n", "variable", "lead_h", "samples", "rmse", "acc",
           "bias", "persistence", "acc_pers", "climatology", "blend", "acc_bl", "a_bl");
    JsonBuf jb = {0};
    json_buf_puts(&jb, "[");
    for (int li = 0; li < nlead; li++)
        for (int v = 0; v < ds->V; v++) {
            VarSkill *vs = &sk[li * ds->V + v];
            const double r = skill_rmse_wb1(&vs->model), a = skill_acc(&vs->model), bias = skill_bias(&vs->model),
                         rp = skill_rmse_wb1(&vs->persistence), ap = skill_acc(&vs->persistence),
                         rc = skill_rmse_wb1(&vs->climatology), rb = skill_rmse_wb1(&vs->blend), abl = skill_acc(&vs->blend),
                         coef = ab[li * ds->V + v];
            printf("%-14s %7g %8lld %12.5g %8.4f %11.4g %12.5g %8.4f %12.5g %12.5g %8.4f %6.3f %s\n", ds->names[v], lead_h[li],
                   (long long)skill_count(&vs->model), r, a, bias, rp, ap, rc, rb, abl, coef, ds->units[v]);
            json_buf_puts(&jb, li || v ? ",\n {\"var\":" : "\n {\"var\":");
            json_buf_put_string(&jb, ds->names[v]);
            json_buf_printf(&jb, ",\"lead_h\":%g,\"samples\":%lld", lead_h[li], (long long)skill_count(&vs->model));
            const char *keys[] = {"rmse", "acc", "bias", "rmse_persistence", "acc_persistence", "rmse_climatology",
                                  "rmse_blend", "acc_blend", "blend_coef"};
            const double vals[] = {r, a, bias, rp, ap, rc, rb, abl, coef};
            for (size_t q = 0; q < sizeof vals / sizeof *vals; q++) {
                json_buf_printf(&jb, ",\"%s\":", keys[q]);
                json_buf_put_number(&jb, vals[q]);
            }
            json_buf_puts(&jb, ",\"units\":");
            json_buf_put_string(&jb, ds->units[v]);
            json_buf_puts(&jb, "}");
        }
    json_buf_puts(&jb, "\n]\n");
    /* one line per lead: where the model beats both trivial baselines, and the fitted blend */
    for (int li = 0; li < nlead; li++) {
        char miss[512] = "";
        int wins = 0, wins_blend = 0;
        for (int v = 0; v < ds->V; v++) {
            VarSkill *vs = &sk[li * ds->V + v];
            double r = skill_rmse_wb1(&vs->model), rp = skill_rmse_wb1(&vs->persistence),
                   rc = skill_rmse_wb1(&vs->climatology);
            wins_blend += r < skill_rmse_wb1(&vs->blend);
            if (r < rp && r < rc)
                wins++;
            else
                snprintf(miss + strlen(miss), sizeof miss - strlen(miss), "%s%s", *miss ? ", " : "", ds->names[v]);
        }
        printf("%g h: the model beats persistence and climatology on %d of %d variables%s%s%s, and the blend on %d\n",
               lead_h[li], wins, ds->V, *miss ? " (not on " : "", miss, *miss ? ")" : "", wins_blend);
    }
    if (json) write_text_file(json, jb.s, "eval");
    json_buf_free(&jb);
}

int forecast_eval(const EvalOptions *opt) {
    const char *run = opt->run, *data = opt->data, *split = opt->split, *leads = opt->leads, *json = opt->json;
    const int batch = opt->batch;
    if (!run) DIE_USER("lvit eval: --run RUN_DIR is required");
    Parallel par;
    LayoutOptions lo = opt->layout;
    lo.device = 0;
    const Kernels *k = eval_layout_init(&par, &lo, "eval");
    /* flag values refused once (rank 0), every rank exiting 2 */
    eval_check_split(&par, split);
    float lead_h[16];
    int nlead = parse_float_list(leads, lead_h, 16);
    if (nlead < 1) parallel_refuse(&par, "lvit eval: --leads expects hours separated by commas (e.g. 6,24), got '%s'", leads);
    const int P = par.world.size, me = par.world.rank;
    train_set_threads(opt->threads);

    ForecastRun fr;
    forecast_run_open(&fr, run, data, 0, "eval");
    const char *path = fr.ckpt;
    const VitConfig cfg = fr.cfg;
    const Dataset ds = fr.ds;
    /* leads refused before the buffers are allocated: nothing to free on the way out */
    for (int li = 0; li < nlead; li++)
        if (fr.max_lead_h > 0 && lead_h[li] > fr.max_lead_h * (1.0f + 1e-6f)) {
            if (cfg.history)
                parallel_refuse(&par, "lvit eval: --leads %g is beyond the longest lead the model was trained at (%g h), "
                                "and a model with --history inputs cannot be rolled out; give leads up to %g",
                                lead_h[li], fr.max_lead_h, fr.max_lead_h);
            if (me == 0)
                log_info("%g h is beyond the trained leads: rolled out in steps of %g h (each forecast is the next input)",
                         lead_h[li], fr.max_lead_h);
        }
    char err[2048];
    int t0, t1;
    if (!strcmp(split, "test")) t0 = ds.t_val_end, t1 = ds.T;
    else if (!strcmp(split, "val")) t0 = ds.t_train_end, t1 = ds.t_val_end;
    else if (!strcmp(split, "train")) t0 = 0, t1 = ds.t_train_end;
    else DIE_USER("lvit eval: --split expects test, val or train, got '%s'", split);

    Vit m;
    vit_init(&m, &cfg, NULL, batch, k);
    if (ckpt_load_params(&m, path, err, sizeof err)) DIE_USER("%s", err);
    HostBatch hb;
    host_batch_init(&hb, batch, cfg.V, cfg.H, cfg.W);
    if (cfg.history) host_batch_set_history(&hb, cfg.history, cfg.Vo);
    const int64_t img = (int64_t)batch * cfg.V * cfg.H * cfg.W;
    float *dev = k->alloc(sizeof(float) * (size_t)(2 * img + batch));
    float *pred = xmalloc(sizeof(float) * (size_t)img), *xvalid = xmalloc(sizeof(float) * (size_t)img);
    const int H = ds.H, W = ds.W;
    const size_t plane = (size_t)H * W;
    if (!ds.clim) DIE_USER("lvit eval: %s has no climatology to score against (convert it again with lvit convert)", ds.source);
    float *fc = xmalloc(sizeof(float) * plane), *pers = xmalloc(sizeof(float) * plane), *bl = xmalloc(sizeof(float) * plane);
    int64_t *ids = xmalloc(sizeof(int64_t) * (size_t)batch);
    unsigned char *ok = xmalloc(plane);
    double *lat = xmalloc(sizeof(double) * H), *w = xmalloc(sizeof(double) * H);
    for (int i = 0; i < H; i++) lat[i] = (float)ds.lat[i];
    lat_weights(w, lat, H);
    VarSkill *sk = xcalloc((size_t)nlead * ds.V, sizeof(VarSkill));
    /* the blend's coefficients from the training split: a baseline that uses no test data */
    double *ab = xmalloc(sizeof(double) * (size_t)nlead * ds.V);
    for (int li = 0; li < nlead; li++)
        if (blend_fit(&ds, 0, ds.t_train_end, lead_h[li], w, ab + li * ds.V, err, sizeof err))
            DIE_USER("lvit eval: fitting the damped-persistence baseline at %g h on the training split: %s", lead_h[li], err);

    /* the batches in rounds of one per process: rank j runs batch round + j; each sample's scores
     * are summed over the ranks and added in sample order, as one process adds them */
    const int64_t per_batch = (int64_t)batch * ds.V * NACC * PACKED;
    double *sums = xmalloc(sizeof(double) * (size_t)(P * per_batch));
    SkillAcc one[NACC];
    for (int li = 0; li < nlead; li++) {
        Sampler s;
        if (sampler_init(&s, &ds, t0, t1, &lead_h[li], 1, 0, 0, err, sizeof err) ||
            sampler_require_history(&s, cfg.history, forecast_time_step(&ds), err, sizeof err))
            DIE_USER("lvit eval: --leads %g on the %s split [%d,%d): %s", lead_h[li], split, t0, t1, err);
        const int64_t nb = (s.n + batch - 1) / batch;
        for (int64_t k0 = 0; k0 < nb; k0 += P) {
            memset(sums, 0, sizeof(double) * (size_t)(P * per_batch));
            const int64_t done = (k0 + me) * batch;
            const int b = done >= s.n ? 0 : (int)(s.n - done < batch ? s.n - done : batch);
            if (b > 0) {
                for (int i = 0; i < b; i++) {
                    ids[i] = s.idx[done + i];
                    host_batch_fill(&hb, i, &s, ids[i]);
                    forecast_initial_valid(&ds, &s, ids[i], xvalid + (int64_t)i * cfg.Vo * cfg.H * cfg.W, cfg.H, cfg.W);
                }
                forecast_rollout(&m, &fr, hb.x, xvalid, b, lead_h[li], dev, img, pred);
            }
            for (int i = 0; i < b; i++) {
                int t, t2;
                float lead;
                sampler_decode(&s, ids[i], &t, &t2, &lead);
                for (int v = 0; v < ds.V; v++) {
                    const float *x0 = ds.data + ((size_t)t * ds.V + v) * plane, *y = ds.data + ((size_t)t2 * ds.V + v) * plane;
                    const uint8_t *v0 = ds.valid ? ds.valid + ((size_t)t * ds.V + v) * plane : NULL,
                                  *v1 = ds.valid ? ds.valid + ((size_t)t2 * ds.V + v) * plane : NULL;
                    const float *c = ds.clim + (size_t)v * plane;
                    for (int r = 0; r < H; r++)
                        for (int q = 0; q < W; q++) {
                            size_t o = (size_t)r * W + q, mo = (((size_t)i * cfg.Vo + v) * cfg.H + r) * cfg.W + q;
                            float z = pred[mo]; /* the anchor added (forecast_rollout) */
                            fc[o] = z * ds.std[v] + ds.mean[v];
                            pers[o] = x0[o];
                            /* a cell counts where it is observed at both times (and has a climatology) */
                            ok[o] = (!v0 || v0[o]) && (!v1 || v1[o]) && isfinite(c[o]);
                        }
                    memset(one, 0, sizeof one);
                    skill_add(&one[0], fc, y, c, ok, w, H, W);
                    skill_add(&one[1], pers, y, c, ok, w, H, W);
                    skill_add_climatology(&one[2], y, c, ok, w, H, W);
                    blend_apply(bl, x0, c, ab[li * ds.V + v], (int64_t)plane);
                    skill_add(&one[3], bl, y, c, ok, w, H, W);
                    double *o = sums + me * per_batch + ((int64_t)i * ds.V + v) * NACC * PACKED;
                    for (int a = 0; a < NACC; a++) pack(o + a * PACKED, &one[a]);
                }
            }
            eval_round_sum(&par, sums, P * per_batch);
            for (int j = 0; j < P && k0 + j < nb; j++) {
                const int64_t dj = (k0 + j) * batch;
                const int bj = (int)(s.n - dj < batch ? s.n - dj : batch);
                for (int i = 0; i < bj; i++)
                    for (int v = 0; v < ds.V; v++) {
                        VarSkill *vs = &sk[li * ds.V + v];
                        SkillAcc *to[NACC] = {&vs->model, &vs->persistence, &vs->climatology, &vs->blend};
                        const double *o = sums + j * per_batch + ((int64_t)i * ds.V + v) * NACC * PACKED;
                        for (int a = 0; a < NACC; a++) merge_packed(to[a], o + a * PACKED);
                    }
            }
        }
        sampler_free(&s);
    }
    free(sums);
    if (me == 0) report(&ds, sk, ab, lead_h, nlead, split, t0, t1, json);
    free(sk), free(fc), free(pers), free(bl), free(ids), free(ab), free(ok), free(lat), free(w), free(pred), free(xvalid);
    k->free(dev);
    host_batch_free(&hb);
    vit_free(&m);
    forecast_run_close(&fr);
    parallel_finalize(&par);
    return 0;
}
