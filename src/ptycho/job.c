/* lvit ptycho's jobs: read, check, initialise, reconstruct, write; and simulate. */
#include "ptycho/job.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "parallel/comm.h"
#include "ptycho/cxi.h"
#include "ptycho/outfile.h"

void pty_job_defaults(PtyJobOptions *o) {
    memset(o, 0, sizeof *o);
    o->probe_init = PTY_PROBE_FILE;
    o->radius = 0;   /* 0: a quarter of the frame */
    o->defocus = 0;
    o->pad = 16;
    pty_recon_defaults(&o->recon);
}

/* Under mpirun every process would repeat the job and write the same file: rank 0 does it, the
 * others leave (1) without starting MPI, as lvit predict does. */
static int others_leave(const char *cmd) {
    const int n = parallel_launched_size();
    if (n <= 1) return 0;
    if (parallel_launched_rank() > 0) return 1;
    log_info("lvit ptycho %s runs in one process: rank 0 of the %d does it, the others exit", cmd, n);
    return 0;
}

static void check_outputs(const char *cmd, const char *in, const char *out) {
    char err[4400];
    PtyPath i = {cmd[0] == 'c' ? "" : "--data", in}, o = {"-o", out};
    if (pty_outputs_check(&i, in ? 1 : 0, &o, 1, err, sizeof err)) DIE_USER("lvit ptycho %s: %s", cmd, err);
}

static void initial_probe(float complex *probe, const PtyData *d, const PtyJobOptions *o) {
    const int n = d->n;
    if (o->probe_init == PTY_PROBE_FILE) { /* checked by pty_probe_usable */
        memcpy(probe, d->probe, sizeof(float complex) * n * n);
    } else if (o->probe_init == PTY_PROBE_MEAN) {
        pty_probe_from_mean(probe, d);
    } else {
        double mean = 0;
        for (size_t i = 0; i < (size_t)n * n * d->N; i++) mean += (double)d->amp[i] * d->amp[i];
        pty_probe_pupil(probe, n, o->radius > 0 ? o->radius : n / 4.0, o->defocus, mean / d->N);
    }
}

/* the frames j = first, first + 2, ... of d (sharing nothing with d) */
static void half_data(PtyData *h, const PtyData *d, int first) {
    const size_t nn = (size_t)d->n * d->n;
    *h = *d;
    h->N = (d->N - first + 1) / 2;
    h->amp = pty_alloc(sizeof(float) * nn * h->N, "a half of the frames");
    h->pos = xmalloc(sizeof(int) * 2 * h->N);
    h->frac = d->frac ? xmalloc(sizeof(float) * 2 * h->N) : NULL;
    h->probe = NULL, h->obj_true = NULL;
    for (int j = 0; j < h->N; j++) {
        memcpy(h->amp + nn * j, d->amp + nn * (first + 2 * j), sizeof(float) * nn);
        h->pos[2 * j] = d->pos[2 * (first + 2 * j)], h->pos[2 * j + 1] = d->pos[2 * (first + 2 * j) + 1];
        if (h->frac) memcpy(h->frac + 2 * j, d->frac + 2 * (first + 2 * j), sizeof(float) * 2);
    }
    if (d->probe) {
        h->probe = xmalloc(sizeof(float complex) * nn);
        memcpy(h->probe, d->probe, sizeof(float complex) * nn);
    }
}

int pty_frc_job(const PtyJobOptions *o) {
    char err[4400];
    if (others_leave("frc")) return 0;
    if (o->recon.iters < 1) DIE_USER("--iters %d: at least 1 iteration", o->recon.iters);
    check_outputs("frc", o->data, o->out);
    PtyScan s;
    PtyData d, half[2];
    if (pty_scan_load(&s, o->data, "reconstruct", err, sizeof err)) DIE_USER("%s", err);
    if (pty_data_from_scan(&d, &s, o->pad, o->data, err, sizeof err)) DIE_USER("%s", err);
    pty_scan_free(&s);
    if (o->probe_init == PTY_PROBE_FILE && pty_probe_usable(d.probe, d.n, o->data, err, sizeof err)) {
        pty_data_free(&d);
        DIE_USER("%s", err);
    }
    if (d.N < 4) DIE_USER("%s: %d frames: the Fourier ring correlation needs two halves of 2 or more", o->data, d.N);
    const size_t hw = (size_t)d.H * d.W, nn = (size_t)d.n * d.n;
    float complex *obj[2], *probe[2];
    double *cost = xcalloc((size_t)o->recon.iters, sizeof(double));
    PtyReconOptions ro = o->recon;
    ro.progress = NULL;
    for (int k = 0; k < 2; k++) {
        half_data(&half[k], &d, k);
        obj[k] = pty_alloc(sizeof(float complex) * hw, "a half's object"), probe[k] = xmalloc(sizeof(float complex) * nn);
        for (size_t i = 0; i < hw; i++) obj[k][i] = 1.0f;
        initial_probe(probe[k], &half[k], o);
        double t0 = now_sec();
        pty_reconstruct(obj[k], probe[k], cost, &half[k], &ro);
        printf("ptycho frc: %s frames (%d): cost %.6e -> %.6e, %.2f iterations/s\n", k ? "odd" : "even", half[k].N,
               cost[0], cost[ro.iters - 1], ro.iters / (now_sec() - t0));
    }
    unsigned char *mask = xmalloc(hw);
    pty_illuminated_mask(mask, &d, probe[0], 0.1);
    enum { MAXRING = 4096 };
    double *frc = xcalloc(MAXRING + 1, sizeof(double));
    int S = pty_frc(frc, MAXRING, obj[0], obj[1], mask, d.H, d.W);
    if (!S) DIE_USER("%s: no object pixel is lit by the reconstructed probe", o->data);
    int R = S / 2 < MAXRING ? S / 2 : MAXRING, cut = 0, last = 0;
    PtyOut f;
    if (pty_out_open(&f, o->out, err, sizeof err)) DIE_USER("%s", err);
    for (int r = 0; r <= R; r++) {
        fprintf(f.f, "{\"ring\": %d, \"frequency\": %.6f, \"frc\": %.6f}\n", r, (double)r / S, frc[r]);
        if (!cut && r > 0 && frc[r] < 1.0 / 7) cut = r;
        if (frc[r] >= 1.0 / 7) last = r;
    }
    if (pty_out_commit(&f, err, sizeof err)) DIE_USER("%s", err);
    if (cut)
        /* both crossings: a Siemens star's FRC dips between its angular harmonics and comes back */
        printf("ptycho frc: %dx%d square; FRC first below 1/7 at ring %d of %d (a period of %.1f pixels), "
               "last above it at ring %d (%.1f pixels)\n", S, S, cut, R, (double)S / cut, last, last ? (double)S / last : 0.0);
    else
        printf("ptycho frc: %dx%d square; FRC stays above 1/7 up to the Nyquist ring %d\n", S, S, R);
    printf("wrote %s\n", o->out);
    for (int k = 0; k < 2; k++) free(obj[k]), free(probe[k]), pty_data_free(&half[k]);
    free(mask), free(frc), free(cost);
    pty_data_free(&d);
    return 0;
}

int pty_simulate_job(const PtySimOptions *o, const char *out) {
    char err[1024];
    if (others_leave("simulate")) return 0;
    check_outputs("simulate", NULL, out);
    PtyScan s;
    if (pty_simulate(&s, o, err, sizeof err)) DIE_USER("lvit ptycho simulate: %s", err);
    if (pty_scan_write(out, &s, err, sizeof err)) DIE_USER("%s", err);
    double mean = 0;
    for (size_t i = 0; i < (size_t)s.n * s.n * s.N; i++) mean += s.counts[i];
    printf("simulated %d frames %dx%d of a %dx%d object: overlap %.2f, %.3g counts per frame%s\nwrote %s\n", s.N, s.n,
           s.n, s.H, s.W, s.overlap, mean / s.N, o->noise ? " (Poisson)" : " (noise-free)", out);
    pty_scan_free(&s);
    return 0;
}

int pty_inspect_job(const char *path) {
    char err[1024];
    if (others_leave("inspect")) return 0;
    if (pty_cxi_is(path)) {
        PtyCxi c;
        if (pty_cxi_read(&c, path, err, sizeof err)) DIE_USER("%s", err);
        pty_cxi_summary(stdout, &c, path);
        pty_cxi_free(&c);
        return 0;
    }
    PtyScan s;
    if (pty_scan_read(&s, path, err, sizeof err)) DIE_USER("%s", err);
    float lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int j = 0; j < 2 * s.N; j++) lo[j % 2] = fminf(lo[j % 2], s.pos[j]), hi[j % 2] = fmaxf(hi[j % 2], s.pos[j]);
    printf("%s: netCDF scan\n  frames      %d x %d x %d\n  positions   rows %g .. %g, columns %g .. %g (pixels)\n"
           "  probe       %s\n", path, s.N, s.n, s.n, lo[0], hi[0], lo[1], hi[1], s.probe ? "probe_real/imag" : "none stored");
    pty_scan_free(&s);
    return 0;
}

int pty_convert_job(const char *in, const char *out) {
    char err[4400];
    if (others_leave("convert")) return 0;
    check_outputs("convert", in, out);
    PtyScan s;
    if (pty_scan_load(&s, in, "convert", err, sizeof err)) DIE_USER("%s", err);
    if (pty_scan_write(out, &s, err, sizeof err)) DIE_USER("%s", err);
    printf("%s: %d frames %dx%d in FFT order, positions in object pixels%s\nwrote %s\n", in, s.N, s.n, s.n,
           s.probe ? ", probe" : "", out);
    pty_scan_free(&s);
    return 0;
}
