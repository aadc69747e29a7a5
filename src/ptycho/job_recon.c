/* lvit ptycho reconstruct: one process or one tile per MPI rank (tiling.h), the same code path.
 * Each rank reads the positions, the probe and the truth, then only its own frames (netCDF; a CXI
 * file is read whole and the other ranks' frames dropped), reconstructs its tile, and rank 0
 * gathers the object, scores it and writes the results. */
#include "ptycho/job.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "core/check.h"
#include "core/log.h"
#include "eval/plot.h"
#include "parallel/comm.h"
#include "ptycho/cxi.h"
#include "ptycho/outfile.h"
#include "ptycho/tiling.h"

enum { TAG_OBJECT = 223 };

typedef struct Progress {
    FILE *jsonl;             /* the cost log, streamed into its temporary name */
    int quiet;
    int poisson_start;
    int done;                /* iterations finished */
} Progress;

static int stop_now(void *ctx) { return (void)ctx, pty_stop_requested() != 0; }

static void progress(void *ctx, int iter, double cost, double ms) {
    Progress *p = ctx;
    p->done = iter + 1;
    const char *model = p->poisson_start >= 0 && iter >= p->poisson_start ? "poisson" : "amplitude";
    if (!p->quiet) printf("iter %4d  cost %.6e  %.1f ms/iter%s\n", iter, cost, ms, *model == 'p' ? "  (Poisson)" : "");
    fprintf(p->jsonl, "{\"iter\": %d, \"cost\": %.9e, \"ms\": %.3f, \"model\": \"%s\"}\n", iter, cost, ms, model);
    fflush(stdout);
}

/* The mean count per detector pixel over all frames, summed like the engine sums (per cell over
 * ascending frames, then cells ascending; tiling.h), so every tile grid gets the same bits. */
static void mean_intensity(double *mean, const PtyData *dl, const PtyTiling *T, Comm *cm) {
    const size_t nn = (size_t)dl->n * dl->n;
    int *cells = xmalloc(sizeof(int) * T->ncell), m = pty_tile_cells(T, cm->rank, cells);
    double *mine = xcalloc((size_t)(m ? m : 1) * nn, sizeof(double));
    const void **ptr = xmalloc(sizeof(void *) * (m + 1));
    for (int c = 0; c < m; c++) {
        double *s = mine + (size_t)c * nn;
        ptr[c] = s;
        for (int j = 0; j < dl->N; j++) { /* this cell's frames, ascending */
            if (pty_cell_at(T, dl->pos[2 * j], dl->pos[2 * j + 1]) != cells[c]) continue;
            const float *a = dl->amp + nn * j;
            for (size_t k = 0; k < nn; k++) s[k] += (double)a[k] * a[k];
        }
    }
    PtyCellSum cs;
    pty_cellsum_init(&cs, T, cm, nn, (int)sizeof(double));
    pty_cellsum(&cs, mean, ptr);
    pty_cellsum_free(&cs);
    for (size_t i = 0; i < nn; i++) mean[i] /= T->N;
    free(mine), free(ptr), free(cells);
}

static void initial_probe(float complex *probe, const PtyData *d, const PtyData *dl, const PtyTiling *T, Comm *cm,
                          const PtyJobOptions *o) {
    const int n = d->n;
    if (o->probe_init == PTY_PROBE_FILE) { /* checked by pty_probe_usable */
        memcpy(probe, d->probe, sizeof(float complex) * n * n);
        return;
    }
    double *mean = xmalloc(sizeof(double) * n * n);
    mean_intensity(mean, dl, T, cm);
    if (o->probe_init == PTY_PROBE_MEAN) {
        pty_probe_from_intensity(probe, mean, n);
    } else {
        double power = 0;
        for (size_t k = 0; k < (size_t)n * n; k++) power += mean[k];
        pty_probe_pupil(probe, n, o->radius > 0 ? o->radius : n / 4.0, o->defocus, power);
    }
    free(mean);
}

/* This rank's positions (ascending) and their frames: read from the file (netCDF), or taken from
 * d->amp (CXI, read whole). idx gets their indices in the scan. */
static void local_data(PtyData *dl, int **idx_out, const PtyData *d, const PtyTiling *T, int me, int cxi,
                       const char *path) {
    char err[1024];
    const size_t nn = (size_t)d->n * d->n;
    int *idx = xmalloc(sizeof(int) * (d->N ? d->N : 1)), m = 0;
    for (int j = 0; j < d->N; j++)
        if (pty_tile_of_cell(T, T->cell_of[j]) == me) idx[m++] = j;
    memset(dl, 0, sizeof *dl);
    dl->N = m, dl->n = d->n, dl->H = d->H, dl->W = d->W;
    dl->pos = xmalloc(sizeof(int) * 2 * (m ? m : 1));
    dl->frac = d->frac ? xmalloc(sizeof(float) * 2 * (m ? m : 1)) : NULL;
    char what[128];
    snprintf(what, sizeof what, "this process's %d frames of %dx%d", m, d->n, d->n);
    dl->amp = pty_alloc(sizeof(float) * nn * (m ? m : 1), what);
    for (int i = 0; i < m; i++) {
        dl->pos[2 * i] = d->pos[2 * idx[i]], dl->pos[2 * i + 1] = d->pos[2 * idx[i] + 1];
        if (dl->frac) dl->frac[2 * i] = d->frac[2 * idx[i]], dl->frac[2 * i + 1] = d->frac[2 * idx[i] + 1];
        if (cxi) memcpy(dl->amp + nn * i, d->amp + nn * idx[i], sizeof(float) * nn);
    }
    if (!cxi) { /* counts read into amp and turned into amplitudes in place */
        if (m && pty_scan_read_frames(dl->amp, path, idx, m, d->n, err, sizeof err)) DIE_USER("%s", err);
        if (pty_amp_from_counts(dl->amp, dl->amp, idx, m, d->n, path, err, sizeof err)) DIE_USER("%s", err);
    }
    *idx_out = idx;
}

/* the owned pixels of every tile into obj [H, W] on rank 0 (other ranks: obj NULL) */
static void gather_object(float complex *obj, const float complex *ext_obj, const PtyTiling *T, Comm *cm) {
    PtyRect e = pty_tile_ext(T, cm->rank);
    for (int r = 0; r < cm->size; r++) {
        if (cm->rank != 0 && r != cm->rank) continue;
        PtyRect o = pty_tile_rect(T, r);
        const int w = o.x1 - o.x0;
        float complex *b = xmalloc(sizeof(float complex) * pty_rect_area(o));
        if (r == cm->rank)
            for (int y = o.y0; y < o.y1; y++)
                memcpy(b + (size_t)(y - o.y0) * w, ext_obj + (size_t)(y - e.y0) * (e.x1 - e.x0) + (o.x0 - e.x0),
                       sizeof(float complex) * w);
        CommReq q;
        if (r != 0) { /* rank r sends, rank 0 receives */
            int64_t len = 2 * (int64_t)pty_rect_area(o);
            if (cm->rank == 0) cm->ops->sendrecv_start(cm, (float *)b, NULL, len, -1, r, TAG_OBJECT, &q);
            else cm->ops->sendrecv_start(cm, NULL, (const float *)b, len, 0, -1, TAG_OBJECT, &q);
            cm->ops->wait(cm, &q);
        }
        if (cm->rank == 0)
            for (int y = o.y0; y < o.y1; y++)
                memcpy(obj + (size_t)y * T->W + o.x0, b + (size_t)(y - o.y0) * w, sizeof(float complex) * w);
        free(b);
    }
}

/* The object's error against the file's truth, or a note saying why there is none: a truth that
 * is 0 (or not finite) over the lit area has no relative error. */
static void score(const float complex *obj, const float complex *probe, const PtyData *d, const char *path) {
    const size_t hw = (size_t)d->H * d->W;
    unsigned char *mask = xmalloc(hw);
    const float complex *p = probe;
    if (d->probe) /* the true probe marks the lit area, unless the file's is empty */
        for (size_t k = 0; k < (size_t)d->n * d->n; k++)
            if (d->probe[k] != 0) { p = d->probe; break; }
    pty_illuminated_mask(mask, d, p, 0.1);
    double power = 0;
    for (size_t i = 0; i < hw; i++)
        if (mask[i]) power += (double)crealf(d->obj_true[i] * conjf(d->obj_true[i]));
    if (!(power > 0) || !isfinite(power)) {
        printf("ptycho: object NRMSE not computed: the truth in %s (object_true_real/imag) is %s over the lit area\n",
               path, isfinite(power) ? "0" : "not finite");
        free(mask);
        return;
    }
    double ramp[2];
    double e = pty_nrmse(obj, d->obj_true, mask, d->H, d->W, 1, NULL, ramp);
    double es = pty_nrmse(obj, d->obj_true, mask, d->H, d->W, 0, NULL, NULL);
    printf("ptycho: object NRMSE %.4f after removing scale and phase ramp (%.2e, %.2e rad/px); %.4f scale only\n",
           e, ramp[0], ramp[1], es);
    free(mask);
}

/* OUT.nc, then the cost log renamed from its temporary name (iters: the iterations done), then the
 * plots: an output at its final name is complete */
static void write_outputs(const PtyJobOptions *o, const float complex *obj, const float complex *probe,
                          const double *cost, int iters, const PtyData *d, PtyOut *log) {
    char err[4400];
    const int n = d->n;
    if (d->obj_true) score(obj, probe, d, o->data);
    if (pty_result_write(o->out, obj, probe, cost, iters, d, err, sizeof err)) {
        pty_out_abandon(log);
        DIE_USER("%s", err);
    }
    if (pty_out_commit(log, err, sizeof err)) DIE_USER("%s (the result %s is written)", err, o->out);
    printf("wrote %s and %s\n", o->out, log->path);
    if (!o->plot_dir) return;
    char png[4200];
    if (mkdir(o->plot_dir, 0777) && errno != EEXIST) DIE_USER("--plot %s: cannot create: %s", o->plot_dir, strerror(errno));
    snprintf(png, sizeof png, "%s/cost.png", o->plot_dir);
    double *it = xmalloc(sizeof(double) * iters);
    for (int i = 0; i < iters; i++) it[i] = i;
    if (plot_loss_png(png, it, cost, iters, NULL, NULL, 0, "ptychography cost per iteration", err, sizeof err))
        DIE_USER("--plot %s: %s", o->plot_dir, err);
    printf("wrote %s\n", png);
    free(it);
    snprintf(png, sizeof png, "%s/object.png", o->plot_dir);
    if (pty_complex_png(png, obj, d->H, d->W, "object", err, sizeof err)) DIE_USER("--plot %s: %s", o->plot_dir, err);
    printf("wrote %s\n", png);
    snprintf(png, sizeof png, "%s/probe.png", o->plot_dir);
    if (pty_complex_png(png, probe, n, n, "probe", err, sizeof err)) DIE_USER("--plot %s: %s", o->plot_dir, err);
    printf("wrote %s\n", png);
}

/* The cost log's path (--cost, else OUT with .jsonl for .nc) and every output checked against the
 * scan and each other, before anything is read or written (refused on every rank alike). */
static void check_outputs(const PtyJobOptions *o, char *cost_path, size_t len, Parallel *par) {
    char err[4400], png[3][4200];
    size_t L = strlen(o->out);
    if (o->cost_path)
        snprintf(cost_path, len, "%s", o->cost_path);
    else if (L > 3 && !strcmp(o->out + L - 3, ".nc"))
        snprintf(cost_path, len, "%.*s.jsonl", (int)(L - 3), o->out);
    else
        snprintf(cost_path, len, "%s.jsonl", o->out);
    PtyPath in = {"--data", o->data}, out[5] = {{"-o", o->out}, {o->cost_path ? "--cost" : "the cost log", cost_path}};
    int nout = 2;
    struct stat st;
    if (o->plot_dir && pty_plot_dir_check(o->plot_dir, err, sizeof err)) parallel_refuse(par, "%s", err);
    if (o->plot_dir && !stat(o->plot_dir, &st)) { /* a folder still to be made holds no other output */
        static const char *const names[3] = {"cost.png", "object.png", "probe.png"};
        for (int k = 0; k < 3; k++) {
            snprintf(png[k], sizeof png[k], "%s/%s", o->plot_dir, names[k]);
            out[nout++] = (PtyPath){"--plot", png[k]};
        }
    }
    if (pty_outputs_check(&in, 1, out, nout, err, sizeof err)) parallel_refuse(par, "%s", err);
}

int pty_reconstruct_job(const PtyJobOptions *o) {
    char err[4400], cost_path[4200];
    Parallel par;
    parallel_init(&par, 0, 1, 1, 1, "ptycho reconstruct");
    Comm *cm = &par.world;
    const int me = cm->rank, ranks = cm->size;
    if (o->recon.iters < 1) parallel_refuse(&par, "--iters %d: at least 1 iteration", o->recon.iters);
    check_outputs(o, cost_path, sizeof cost_path, &par);
    int R = o->tiles_r, C = o->tiles_c;
    if (R <= 0 || C <= 0) pty_tiles_default(ranks, &R, &C);
    if (R * C != ranks)
        parallel_refuse(&par, "--tiles %dx%d is %d tiles, one per process, but %d process%s running: launch with "
                        "mpirun -np %d, or give --tiles a grid of %d tiles", R, C, R * C, ranks,
                        ranks == 1 ? " is" : "es are", R * C, ranks);
    /* netCDF: the positions, probe and truth now, each rank's frames once the tiles are known */
    const int cxi = pty_cxi_is(o->data);
    PtyScan s;
    PtyData d, dl;
    if (cxi ? pty_scan_load(&s, o->data, "reconstruct", err, sizeof err)
            : pty_scan_read_meta(&s, o->data, me == 0, err, sizeof err))
        parallel_refuse(&par, "%s", err);
    if (pty_data_from_scan(&d, &s, o->pad, o->data, err, sizeof err)) parallel_refuse(&par, "%s", err);
    pty_scan_free(&s);
    if (o->probe_init == PTY_PROBE_FILE && pty_probe_usable(d.probe, d.n, o->data, err, sizeof err)) {
        pty_data_free(&d);
        parallel_refuse(&par, "%s", err);
    }
    const int cell = o->recon.cell > 0 ? o->recon.cell : pty_cell_default(d.n);
    PtyTiling T;
    if (pty_tiling_init(&T, d.H, d.W, d.n, cell, R, C, d.pos, d.N, err, sizeof err)) parallel_refuse(&par, "%s", err);
    int *idx;
    local_data(&dl, &idx, &d, &T, me, cxi, o->data);
    free(d.amp), d.amp = NULL;
    const int n = d.n, iters = o->recon.iters;
    const size_t nn = (size_t)n * n;
    const PtyRect ext = pty_tile_ext(&T, me);
    float complex *ext_obj = pty_alloc(sizeof(float complex) * pty_rect_area(ext), "the object");
    float complex *probe = xmalloc(sizeof(float complex) * nn);
    double *cost = xcalloc((size_t)iters, sizeof(double));
    for (size_t i = 0; i < pty_rect_area(ext); i++) ext_obj[i] = 1.0f;
    initial_probe(probe, &d, &dl, &T, cm, o);
    Progress pr = {NULL, o->quiet, o->recon.poisson_start, 0};
    PtyOut log = {0};
    PtyReconOptions ro = o->recon;
    ro.cell = cell;
    ro.amp_in_place = 1; /* dl.amp is not read after the engine's start */
    /* Ctrl-C or SIGTERM: stop between iterations and write what is done (one process; tiles would
     * have to agree on the iteration, so under mpirun a signal ends the job and nothing is renamed) */
    if (ranks == 1) pty_stop_signals_install(), ro.stop = stop_now;
    if (me == 0) {
        if (pty_out_open(&log, cost_path, err, sizeof err)) DIE_USER("%s", err);
        pr.jsonl = log.f;
        char model[64] = "amplitude cost";
        if (o->recon.poisson_start >= 0)
            snprintf(model, sizeof model, "Poisson cost from iteration %d", o->recon.poisson_start);
        printf("ptycho: %d frames %dx%d, object %dx%d, probe from %s, %d iterations, %s, %s, eps %g, %dx%d tile%s "
               "(cells of %d pixels), %s positions\n", d.N, n, n, d.H, d.W,
               o->probe_init == PTY_PROBE_FILE ? "the file" : o->probe_init == PTY_PROBE_MEAN ? "the mean pattern" : "a pupil",
               iters, model, o->recon.use_double ? "double" : "float", o->recon.eps, R, C, ranks > 1 ? "s" : "", cell,
               o->recon.subpixel ? "sub-pixel" : "whole-pixel");
        ro.progress = progress, ro.ctx = &pr;
    }
    double t0 = now_sec();
    pty_reconstruct_tiled(ext_obj, probe, cost, &dl, &ro, &T, cm);
    double secs = now_sec() - t0;
    const int done = me == 0 ? pr.done : iters;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    if (ranks > 1 || getenv("LVIT_PTYCHO_RSS")) /* each rank's own line: the memory per tile */
        fprintf(stderr, "ptycho: rank %d: tile %d of %dx%d, %d frames, %dx%d pixels with halo, peak RSS %.1f MiB\n", me,
                me, R, C, dl.N, ext.y1 - ext.y0, ext.x1 - ext.x0, ru.ru_maxrss / 1024.0);
    float complex *obj = me == 0 ? pty_alloc(sizeof(float complex) * d.H * d.W, "the gathered object") : NULL;
    gather_object(obj, ext_obj, &T, cm);
    if (me == 0) {
        if (done < iters)
            printf("ptycho: received %s: stopped after iteration %d of %d; writing the result so far (a second signal "
                   "ends the process at once)\n", pty_signal_name(pty_stop_requested()), done - 1, iters);
        printf("ptycho: cost %.6e -> %.6e, %.2f iterations/s\n", cost[0], cost[done - 1], done / secs);
        write_outputs(o, obj, probe, cost, done, &d, &log);
    }
    free(obj), free(ext_obj), free(probe), free(cost), free(idx);
    pty_tiling_free(&T);
    pty_data_free(&dl), pty_data_free(&d);
    parallel_finalize(&par);
    return 0;
}
