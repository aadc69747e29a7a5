/* The reconstruction engine, written once and compiled twice: engine_f.c (float, fftwf) and
 * engine_d.c (double, fftw), so that float can be checked against double on the same update.
 * The includer defines REAL, CPLX, FFTW(x), SFX(x), RSQRT, RLOG1P, CONJ, CRE, CIM. Not a header of its own: no guard.
 *
 * One engine serves one process and every tile of a tiled run: it holds its tile's object with
 * the halo, its positions and frames, and sums everything in the order tiling.h fixes (per cell
 * over ascending positions, then over ascending cells), so the tile grid, the rank count and the
 * thread count change no bit of the result. The exchanges with other tiles are in
 * engine_xchg_tmpl.h. */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/comm.h"
#include "ptycho/engine.h"
#include "ptycho/outfile.h"

/* One cell's sums: over its extent (object side) and over the probe window. */
typedef struct SFX(Cell) {
    int k;                   /* global cell index */
    PtyRect ext;
    int first, count;        /* its positions: ord[first .. first + count) */
    int boundary;            /* some other tile needs its object sums */
    CPLX *g;                 /* [ext] dC/d conj(O) */
    REAL *il;                /* [ext] sum |P|^2 */
    CPLX *gp;                /* [n, n] dC/d conj(P) */
    REAL *op;                /* [n, n] sum |O_j|^2 */
    double cost;
} SFX(Cell);

/* A block of object sums to add into the owned pixels: rect r of a cell's sums, read from src
 * (row stride sw, origin (sy, sx)). */
typedef struct SFX(Fold) {
    int k;
    PtyRect r;
    const CPLX *g;
    const REAL *il;
    int sw, sy, sx;
} SFX(Fold);

/* What this tile sends to and receives from one other tile. */
typedef struct SFX(Nb) {
    int rank;
    int ngs, ngr;            /* object-sum blocks sent (own cells) and received (its cells) */
    int *gs_cell;            /* [ngs] index into the own cell list */
    PtyRect *gs_rect, *gr_rect;
    int *gr_k;               /* [ngr] global cell index */
    size_t gs_len, gr_len;   /* REALs */
    REAL *gs, *gr;
    PtyRect os, orr;         /* object pixels sent (own, in its halo) and received (its, in our halo) */
    REAL *osb, *orb;
    CommReq rq[4];
} SFX(Nb);

typedef struct SFX(Eng) {
    int N, n, H, W, nt;      /* N: this tile's positions */
    const int *pos;          /* [N, 2] */
    const float *frac;       /* [N, 2] sub-pixel remainders, or NULL: whole pixels (PtyReconOptions.subpixel) */
    CPLX *ramp;              /* [N, 2n] with frac: each position's shift ramps, rows then columns */
    CPLX *FP;                /* [n, n] with frac: F[P] / n^2, once per evaluation */
    CPLX *sbuf;              /* [nt, 3, n, n] with frac, per thread: the shifted probe, a position's probe
                              * gradient, the cell's sum of their transforms times the opposite ramps */
    int *ord;                /* [N] local position indices sorted by cell, then index */
    const PtyTiling *T;
    int tile;
    Comm *comm;
    PtyRect own, ext;
    FFTW(plan) fwd, inv;
    CPLX *O;                 /* [ext] */
    CPLX *P;                 /* [n, n] */
    REAL *target;            /* [N, n, n] sqrt(I + eps) */
    int target_owned;        /* 0: target is d->amp, overwritten */
    REAL eps;
    int poisson;             /* this iteration's cost: 0 amplitude, 1 Poisson */
    CPLX *buf;               /* [nt, n, n] exit wave / far field, per thread */
    int ncl;
    SFX(Cell) *cl;           /* this tile's cells with positions, ascending */
    CPLX *gO;                /* [own] object gradient */
    REAL *illum;             /* [own] */
    CPLX *gP;                /* [n, n], followed by opow (one array for the cell sums) */
    REAL *opow;              /* [n, n] */
    double cost;
    PtyCellSum cs_probe, cs_cost;  /* the fixed-order sums of gp + op and of the cost over all cells */
    const void **mine_p, **mine_c; /* [ncl] this tile's cells' gp (op follows) and cost */
    int nnb;
    SFX(Nb) *nb;
    int nfold;
    SFX(Fold) *fold;         /* sorted by cell */
    void *mem;               /* one block for the cells' sums */
    void *xg;                /* the per-rank maxima (engine_xchg_tmpl.h) */
} SFX(Eng);

static void *SFX(eng_alloc)(size_t bytes) {
    void *p = FFTW(malloc)(bytes ? bytes : 1);
    if (!p) pty_nomem((double)bytes, "the reconstruction's working arrays (object, gradient, illumination, the cells' sums)");
    memset(p, 0, bytes);
    return p;
}

static size_t SFX(rect_at)(PtyRect box, int y, int x) { return (size_t)(y - box.y0) * (box.x1 - box.x0) + (x - box.x0); }

#include "ptycho/engine_xchg_tmpl.h"

static int SFX(cmp_long)(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* d: this tile's positions (in ascending position index) and frames; T, tile, comm: the
 * decomposition (one process: a 1 x 1 grid and the single communicator). */
static void SFX(eng_init)(SFX(Eng) *e, const PtyData *d, float eps, int amp_in_place, int subpixel, const PtyTiling *T,
                          int tile, Comm *comm) {
    memset(e, 0, sizeof *e);
    e->N = d->N, e->n = d->n, e->H = d->H, e->W = d->W, e->pos = d->pos, e->eps = (REAL)eps;
    e->T = T, e->tile = tile, e->comm = comm;
    e->own = pty_tile_rect(T, tile), e->ext = pty_tile_ext(T, tile);
    e->nt = omp_get_max_threads();
    const size_t nn = (size_t)d->n * d->n;
    e->O = SFX(eng_alloc)(sizeof(CPLX) * pty_rect_area(e->ext));
    e->P = SFX(eng_alloc)(sizeof(CPLX) * nn);
    /* in float the targets may replace the amplitudes in place (o->amp_in_place): one copy of the frames */
    e->target_owned = !(amp_in_place && sizeof(REAL) == sizeof(float));
    e->target = e->target_owned ? SFX(eng_alloc)(sizeof(REAL) * nn * d->N) : (REAL *)(void *)d->amp;
    e->buf = SFX(eng_alloc)(sizeof(CPLX) * nn * e->nt);
    e->gO = SFX(eng_alloc)(sizeof(CPLX) * pty_rect_area(e->own));
    e->illum = SFX(eng_alloc)(sizeof(REAL) * pty_rect_area(e->own));
    e->gP = SFX(eng_alloc)((sizeof(CPLX) + sizeof(REAL)) * nn);
    e->opow = (REAL *)(e->gP + nn);
    if (subpixel && d->frac) { /* the shift of position j: the ramps of its remainders (pty_shift_ramp) */
        e->frac = d->frac;
        e->ramp = SFX(eng_alloc)(sizeof(CPLX) * 2 * d->n * d->N);
        e->FP = SFX(eng_alloc)(sizeof(CPLX) * nn);
        e->sbuf = SFX(eng_alloc)(sizeof(CPLX) * 3 * nn * e->nt);
        double complex *r = xmalloc(sizeof(double complex) * d->n);
        for (int j = 0; j < d->N; j++)
            for (int a = 0; a < 2; a++) {
                pty_shift_ramp(r, d->n, d->frac[2 * j + a]);
                for (int k = 0; k < d->n; k++) e->ramp[(size_t)(2 * j + a) * d->n + k] = (CPLX)r[k];
            }
        free(r);
    }
    for (size_t i = 0; i < nn * d->N; i++) {
        REAL a = (REAL)d->amp[i];
        e->target[i] = RSQRT(a * a + e->eps);
    }
    /* positions by cell (key cell * N + index sorts by cell, then index) */
    long *key = xmalloc(sizeof(long) * (d->N ? d->N : 1));
    for (int j = 0; j < d->N; j++) {
        int k = pty_cell_at(T, d->pos[2 * j], d->pos[2 * j + 1]);
        CHECK(pty_tile_of_cell(T, k) == tile, "position %d handed to tile %d belongs to tile %d", j, tile,
              pty_tile_of_cell(T, k));
        key[j] = (long)k * d->N + j;
    }
    e->ord = xmalloc(sizeof(int) * (d->N ? d->N : 1));
    if (d->N > 1) qsort(key, (size_t)d->N, sizeof(long), SFX(cmp_long));
    for (int j = 0; j < d->N; j++) e->ord[j] = (int)(key[j] % d->N);
    /* the cells: this tile's non-empty ones, each with its buffers in one block */
    int *cells = xmalloc(sizeof(int) * T->ncell);
    e->ncl = pty_tile_cells(T, tile, cells);
    e->cl = xcalloc((size_t)(e->ncl ? e->ncl : 1), sizeof(SFX(Cell)));
    size_t bytes = 0;
    for (int c = 0; c < e->ncl; c++) {
        size_t a = pty_rect_area(pty_cell_ext(T, cells[c]));
        bytes += (sizeof(CPLX) + sizeof(REAL)) * a + (sizeof(CPLX) + sizeof(REAL)) * nn;
    }
    e->mem = SFX(eng_alloc)(bytes);
    char *m = e->mem;
    for (int c = 0, j = 0; c < e->ncl; c++) {
        SFX(Cell) *q = &e->cl[c];
        q->k = cells[c], q->ext = pty_cell_ext(T, cells[c]);
        size_t a = pty_rect_area(q->ext);
        q->g = (CPLX *)m, m += sizeof(CPLX) * a;
        q->il = (REAL *)m, m += sizeof(REAL) * a;
        q->gp = (CPLX *)m, m += sizeof(CPLX) * nn; /* op right after gp: one array of 3 n^2 REALs */
        q->op = (REAL *)m, m += sizeof(REAL) * nn;
        q->first = j;
        while (j < d->N && key[j] / d->N == q->k) j++;
        q->count = j - q->first;
        CHECK(q->count == T->cell_count[q->k], "tile %d holds %d of cell %d's %d positions", tile, q->count, q->k,
              T->cell_count[q->k]);
    }
    free(key), free(cells);
    SFX(xchg_init)(e);
    /* FFTW_ESTIMATE, not MEASURE: the plan (and so every rounding) is then the same on every run,
     * machine and rank. The planner is not thread-safe: plans are made here, once, and executed on
     * each thread's buffer. */
    e->fwd = FFTW(plan_dft_2d)(d->n, d->n, e->buf, e->buf, FFTW_FORWARD, FFTW_ESTIMATE);
    e->inv = FFTW(plan_dft_2d)(d->n, d->n, e->buf, e->buf, FFTW_BACKWARD, FFTW_ESTIMATE);
    CHECK(e->fwd && e->inv, "FFTW could not plan a %dx%d transform", d->n, d->n);
}

static void SFX(eng_free)(SFX(Eng) *e) {
    FFTW(destroy_plan)(e->fwd);
    FFTW(destroy_plan)(e->inv);
    SFX(xchg_free)(e);
    if (e->target_owned) FFTW(free)(e->target);
    FFTW(free)(e->O), FFTW(free)(e->P), FFTW(free)(e->buf), FFTW(free)(e->mem);
    FFTW(free)(e->gO), FFTW(free)(e->illum), FFTW(free)(e->gP);
    FFTW(free)(e->ramp), FFTW(free)(e->FP), FFTW(free)(e->sbuf);
    free(e->ord), free(e->cl);
}

/* The Poisson cost of one far field b [nn] (unscaled FFT) against the targets t = sqrt(I + eps),
 * returned, and b replaced by its gradient (times the inverse's 1/n). With m = |Psi|^2 + eps and
 * the smoothed count t^2 the cost is 1/2 sum (m - t^2 - t^2 log(m / t^2)), half the Poisson
 * deviance: >= 0, zero at the fit and equal to the amplitude cost to second order there, so the
 * same steps apply; dC/d conj(Psi) = 1/2 (1 - t^2 / m) Psi. With u = a / t - 1 (a = sqrt m) the
 * bracket is t^2 (2u + u^2 - 2 log(1 + u)), summed as its series for small u (no cancellation). */
static double SFX(poisson_far)(CPLX *b, const REAL *t, size_t nn, REAL scale, REAL eps) {
    double c = 0;
    for (size_t k = 0; k < nn; k++) {
        CPLX f = b[k] * scale;
        REAL m = CRE(f) * CRE(f) + CIM(f) * CIM(f) + eps, tk = t[k];
        if (tk > 0) {
            REAL u = RSQRT(m) / tk - 1, g;
            if (u < (REAL)1e-2 && u > (REAL)-1e-2)
                g = u * u * (2 - u * ((REAL)2 / 3 - u / 2));
            else
                g = 2 * u + u * u - 2 * RLOG1P(u);
            c += 0.5 * (double)(tk * tk) * g;
        } else {
            c += 0.5 * (double)m;
        }
        b[k] = m > 0 ? f * ((REAL)0.5 * (1 - tk * tk / m)) * scale : 0;
    }
    return c;
}

/* The probe shifted by position j's remainder into ps [nn]: F^-1[F[P] ramp_j] from e->FP. */
static void SFX(shift_probe)(SFX(Eng) *e, int j, CPLX *ps) {
    const int n = e->n;
    const CPLX *ry = e->ramp + (size_t)2 * j * n, *rx = ry + n;
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) ps[(size_t)y * n + x] = e->FP[(size_t)y * n + x] * (ry[y] * rx[x]);
    FFTW(execute_dft)(e->inv, ps, ps);
}

/* The adjoint shift of t [nn] (the opposite ramp), F^-1[F[t] conj(ramp_j)] / n^2, before its
 * inverse transform: acc (+)= F[t] conj(ramp_j) / n^2 (first: acc is set); t is overwritten. The
 * cell's positions share one inverse transform (cell_sums). */
static void SFX(unshift_acc)(SFX(Eng) *e, int j, CPLX *t, CPLX *acc, int first) {
    const int n = e->n;
    const CPLX *ry = e->ramp + (size_t)2 * j * n, *rx = ry + n;
    const REAL s = (REAL)1 / ((REAL)n * (REAL)n);
    FFTW(execute_dft)(e->fwd, t, t);
    for (int y = 0; y < n; y++) {
        CPLX *a = acc + (size_t)y * n, *u = t + (size_t)y * n;
        const CPLX cy = CONJ(ry[y]) * s;
        if (first)
            for (int x = 0; x < n; x++) a[x] = u[x] * (cy * CONJ(rx[x]));
        else
            for (int x = 0; x < n; x++) a[x] += u[x] * (cy * CONJ(rx[x]));
    }
}

/* Cell c's sums at (O, P), its positions in ascending index, on the calling thread; sb: the
 * thread's three shift buffers (with e->frac). A position with a whole-pixel remainder (0, 0) takes
 * the unshifted path, so whole-pixel scans give today's bits with subpixel on. The probe gradient
 * is the unshifted positions' sum plus one inverse transform of the shifted ones' (each in
 * ascending index): the same order in every tiling. */
static void SFX(cell_sums)(SFX(Eng) *e, SFX(Cell) *q, CPLX *b, CPLX *sb) {
    const int n = e->n, W = e->ext.x1 - e->ext.x0, cw = q->ext.x1 - q->ext.x0;
    const size_t nn = (size_t)n * n;
    const REAL scale = (REAL)1 / (REAL)n; /* unitary transform: 1/n each way */
    memset(q->g, 0, sizeof(CPLX) * pty_rect_area(q->ext)), memset(q->il, 0, sizeof(REAL) * pty_rect_area(q->ext));
    memset(q->gp, 0, sizeof(CPLX) * nn), memset(q->op, 0, sizeof(REAL) * nn);
    double c = 0;
    int nsh = 0; /* shifted positions so far */
    for (int i = q->first; i < q->first + q->count; i++) {
        const int j = e->ord[i], r0 = e->pos[2 * j], c0 = e->pos[2 * j + 1];
        const REAL *m = e->target + nn * j;
        const CPLX *O0 = e->O + SFX(rect_at)(e->ext, r0, c0);
        const int shifted = e->frac && (e->frac[2 * j] != 0 || e->frac[2 * j + 1] != 0);
        const CPLX *P = e->P;
        if (shifted) SFX(shift_probe)(e, j, sb), P = sb;
        for (int y = 0; y < n; y++) {
            const CPLX *o = O0 + (size_t)y * W, *p = P + (size_t)y * n;
            for (int x = 0; x < n; x++) b[(size_t)y * n + x] = p[x] * o[x];
        }
        FFTW(execute_dft)(e->fwd, b, b);
        if (e->poisson)
            c += SFX(poisson_far)(b, m, nn, scale, e->eps);
        else
            for (size_t k = 0; k < nn; k++) {
                CPLX f = b[k] * scale;
                REAL a = RSQRT(CRE(f) * CRE(f) + CIM(f) * CIM(f) + e->eps);
                REAL r = a - m[k];
                c += (double)r * r;
                /* Psi - Psi', and the inverse's 1/n; with eps = 0 an exact zero has no phase to keep */
                b[k] = a > 0 ? f * (r / a) * scale : 0;
            }
        FFTW(execute_dft)(e->inv, b, b); /* b = psi - psi' */
        const size_t at = SFX(rect_at)(q->ext, r0, c0);
        /* shifted: conj(O_j) (psi - psi') goes to the second buffer, then back through the shift */
        CPLX *gpj = shifted ? sb + nn : q->gp;
        for (int y = 0; y < n; y++) {
            const CPLX *o = O0 + (size_t)y * W, *p = P + (size_t)y * n, *d = b + (size_t)y * n;
            CPLX *go = q->g + at + (size_t)y * cw, *gp = gpj + (size_t)y * n;
            REAL *il = q->il + at + (size_t)y * cw, *op = q->op + (size_t)y * n;
            for (int x = 0; x < n; x++) {
                go[x] += CONJ(p[x]) * d[x];
                if (shifted)
                    gp[x] = CONJ(o[x]) * d[x];
                else
                    gp[x] += CONJ(o[x]) * d[x];
                il[x] += CRE(p[x]) * CRE(p[x]) + CIM(p[x]) * CIM(p[x]);
                op[x] += CRE(o[x]) * CRE(o[x]) + CIM(o[x]) * CIM(o[x]);
            }
        }
        if (shifted) SFX(unshift_acc)(e, j, gpj, sb + 2 * nn, nsh++ == 0);
    }
    if (nsh) {
        CPLX *acc = sb + 2 * nn;
        FFTW(execute_dft)(e->inv, acc, acc);
        for (size_t k = 0; k < nn; k++) q->gp[k] += acc[k];
    }
    q->cost = c;
}

/* the cells with (boundary) or without (!boundary) sums that another tile needs, over the threads;
 * during the interior pass the main thread (the only one that talks to MPI) lets the boundary
 * messages progress after each of its cells, so they travel while the cells are computed */
static void SFX(cells_pass)(SFX(Eng) *e, int boundary) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->nt)
    for (int c = 0; c < e->ncl; c++) {
        if (e->cl[c].boundary != boundary) continue;
        const size_t nn = (size_t)e->n * e->n, t = (size_t)omp_get_thread_num();
        SFX(cell_sums)(e, &e->cl[c], e->buf + nn * t, e->sbuf ? e->sbuf + 3 * nn * t : NULL);
        if (!boundary && omp_get_thread_num() == 0) SFX(xchg_progress)(e);
    }
}

/* The cost at (O, P) (every rank gets the same), and in e->gO, e->illum (owned pixels) and
 * e->gP, e->opow the gradient and the step's preconditioners (see eng_step). The other tiles'
 * sums are received while the interior cells are computed. */
static double SFX(eng_cost_grad)(SFX(Eng) *e) {
    if (e->FP) { /* F[P] / n^2 for the shifted probes: the same bits on every rank */
        const size_t nn = (size_t)e->n * e->n;
        const REAL s = (REAL)1 / ((REAL)e->n * (REAL)e->n);
        memcpy(e->FP, e->P, sizeof(CPLX) * nn);
        FFTW(execute_dft)(e->fwd, e->FP, e->FP);
        for (size_t k = 0; k < nn; k++) e->FP[k] *= s;
    }
    SFX(xchg_post_recv)(e);
    SFX(cells_pass)(e, 1);
    SFX(xchg_send_sums)(e);
    SFX(cells_pass)(e, 0);
    SFX(probe_sums)(e);      /* gP, opow, cost: every cell's sums added in cell order */
    SFX(xchg_wait_sums)(e);
    SFX(fold_sums)(e);       /* gO, illum: the cells' sums added in cell order */
    return e->cost;
}

/* One full-batch step after eng_cost_grad: O -= alpha gO / (illum + 0.01 max illum) with
 * the illumination illum = sum_j |P|^2 under every object pixel, the same for P with the object
 * power sum_j |O_j|^2 under every probe pixel (an LSQ-ML-style diagonal preconditioner). With
 * alpha = 1 and the probe fixed this is the proximal least-squares fit of O to the projected exit
 * waves, so the cost cannot rise; the regulariser keeps the barely lit edge from
 * taking huge steps. Object and probe move together, both from the same gradient. Then the halo
 * gets the owners' new pixels. */
static void SFX(eng_step)(SFX(Eng) *e, REAL alpha, REAL beta, int probe) {
    const size_t nn = (size_t)e->n * e->n;
    const PtyRect o = e->own;
    const int ow = o.x1 - o.x0;
    const REAL dO = (REAL)0.01 * SFX(global_max)(e, e->illum, pty_rect_area(o)) + (REAL)1e-30;
#pragma omp parallel for schedule(static) num_threads(e->nt)
    for (int y = o.y0; y < o.y1; y++) {
        CPLX *row = e->O + SFX(rect_at)(e->ext, y, o.x0);
        const CPLX *g = e->gO + (size_t)(y - o.y0) * ow;
        const REAL *il = e->illum + (size_t)(y - o.y0) * ow;
        for (int x = 0; x < ow; x++) row[x] -= alpha * g[x] / (il[x] + dO);
    }
    if (probe) {
        REAL m = 0;
        for (size_t i = 0; i < nn; i++) m = e->opow[i] > m ? e->opow[i] : m;
        const REAL dP = (REAL)0.01 * m + (REAL)1e-30;
        for (size_t i = 0; i < nn; i++) e->P[i] -= beta * e->gP[i] / (e->opow[i] + dP);
    }
    SFX(xchg_halo)(e);
}

/* obj: [ext] of the tile */
static void SFX(eng_load)(SFX(Eng) *e, const float complex *obj, const float complex *probe) {
    for (size_t i = 0; i < pty_rect_area(e->ext); i++) e->O[i] = (CPLX)obj[i];
    for (size_t i = 0; i < (size_t)e->n * e->n; i++) e->P[i] = (CPLX)probe[i];
}

void SFX(pty_reconstruct_tile)(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                               const PtyReconOptions *o, const PtyTiling *T, int tile, Comm *comm) {
    SFX(Eng) e;
    SFX(eng_init)(&e, d, o->eps, o->amp_in_place, o->subpixel, T, tile, comm);
    SFX(eng_load)(&e, obj, probe);
    for (int it = 0; it < o->iters; it++) {
        double t0 = omp_get_wtime();
        int upd_probe = o->probe_update && it >= o->probe_start;
        e.poisson = o->poisson_start >= 0 && it >= o->poisson_start;
        cost[it] = SFX(eng_cost_grad)(&e);
        SFX(eng_step)(&e, (REAL)o->alpha, (REAL)o->beta, upd_probe);
        if (o->progress) o->progress(o->ctx, it, cost[it], 1e3 * (omp_get_wtime() - t0));
        if (o->stop && o->stop(o->ctx)) break;
    }
    for (size_t i = 0; i < pty_rect_area(e.ext); i++) obj[i] = (float complex)e.O[i];
    for (size_t i = 0; i < (size_t)d->n * d->n; i++) probe[i] = (float complex)e.P[i];
    SFX(eng_free)(&e);
}

double SFX(pty_cost_grad_tile)(float complex *gobj, float complex *gprobe, const float complex *obj,
                               const float complex *probe, const PtyData *d, float eps, const PtyTiling *T, int tile,
                               Comm *comm) {
    SFX(Eng) e;
    SFX(eng_init)(&e, d, eps, 0, 0, T, tile, comm);
    SFX(eng_load)(&e, obj, probe);
    double c = SFX(eng_cost_grad)(&e);
    if (gobj)
        for (size_t i = 0; i < pty_rect_area(e.own); i++) gobj[i] = (float complex)e.gO[i];
    if (gprobe)
        for (size_t i = 0; i < (size_t)d->n * d->n; i++) gprobe[i] = (float complex)e.gP[i];
    SFX(eng_free)(&e);
    return c;
}
