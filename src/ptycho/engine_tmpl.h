/* The reconstruction engine, written once and compiled twice: engine_f.c (float, fftwf) and
 * engine_d.c (double, fftw), so that float can be checked against double on the same update.
 * The includer defines REAL, CPLX, FFTW(x), SFX(x), RSQRT, CONJ, CRE, CIM. Not a header of its own: no guard. */
#include <complex.h>
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include "core/check.h"
#include "ptycho/engine.h"

typedef struct SFX(Eng) {
    int N, n, H, W, nt;
    const int *pos;          /* [N, 2] */
    FFTW(plan) fwd, inv;
    CPLX *O;                 /* [H, W] */
    CPLX *P;                 /* [n, n] */
    REAL *target;            /* [N, n, n] sqrt(I + eps) */
    REAL eps;
    CPLX *buf;               /* [nt, n, n] exit wave / far field, per thread */
    CPLX *gO;                /* [nt, H, W] per-thread object gradient; thread 0 gets the sum */
    CPLX *gP;                /* [nt, n, n] */
    REAL *illum;             /* [nt, H, W] sum_j |P|^2 in the windows, per thread; thread 0 the sum */
    REAL *opow;              /* [nt, n, n] sum_j |O_j|^2, the same */
    double *tcost;           /* [nt] */
} SFX(Eng);

static void *SFX(eng_alloc)(size_t bytes) {
    void *p = FFTW(malloc)(bytes);
    CHECK(p, "out of memory: %zu bytes for the ptychography engine", bytes);
    memset(p, 0, bytes);
    return p;
}

static void SFX(eng_init)(SFX(Eng) *e, const PtyData *d, float eps) {
    memset(e, 0, sizeof *e);
    e->N = d->N, e->n = d->n, e->H = d->H, e->W = d->W, e->pos = d->pos, e->eps = (REAL)eps;
    e->nt = omp_get_max_threads();
    size_t nn = (size_t)d->n * d->n, hw = (size_t)d->H * d->W;
    e->O = SFX(eng_alloc)(sizeof(CPLX) * hw);
    e->P = SFX(eng_alloc)(sizeof(CPLX) * nn);
    e->target = SFX(eng_alloc)(sizeof(REAL) * nn * d->N);
    e->buf = SFX(eng_alloc)(sizeof(CPLX) * nn * e->nt);
    e->gO = SFX(eng_alloc)(sizeof(CPLX) * hw * e->nt);
    e->gP = SFX(eng_alloc)(sizeof(CPLX) * nn * e->nt);
    e->illum = SFX(eng_alloc)(sizeof(REAL) * hw * e->nt);
    e->opow = SFX(eng_alloc)(sizeof(REAL) * nn * e->nt);
    e->tcost = SFX(eng_alloc)(sizeof(double) * e->nt);
    for (size_t i = 0; i < nn * d->N; i++) {
        REAL a = (REAL)d->amp[i];
        e->target[i] = RSQRT(a * a + e->eps);
    }
    /* FFTW_ESTIMATE, not MEASURE: the plan (and so every rounding) is then the same on every run
     * and machine, which the tiled decomposition's bitwise comparison will rely on. The planner
     * is not thread-safe: plans are made here, once, and executed on each thread's buffer. */
    e->fwd = FFTW(plan_dft_2d)(d->n, d->n, e->buf, e->buf, FFTW_FORWARD, FFTW_ESTIMATE);
    e->inv = FFTW(plan_dft_2d)(d->n, d->n, e->buf, e->buf, FFTW_BACKWARD, FFTW_ESTIMATE);
    CHECK(e->fwd && e->inv, "FFTW could not plan a %dx%d transform", d->n, d->n);
}

static void SFX(eng_free)(SFX(Eng) *e) {
    FFTW(destroy_plan)(e->fwd);
    FFTW(destroy_plan)(e->inv);
    FFTW(free)(e->O), FFTW(free)(e->P), FFTW(free)(e->target), FFTW(free)(e->buf);
    FFTW(free)(e->gO), FFTW(free)(e->gP), FFTW(free)(e->illum), FFTW(free)(e->opow), FFTW(free)(e->tcost);
}

/* Cost at (O, P); with grad, e->gO[0..HW) and e->gP[0..nn) get dC/d conj(O) and dC/d conj(P),
 * and e->illum[0..HW), e->opow[0..nn) the step's preconditioners (see eng_step), in the same pass.
 * Positions are split statically over the threads and the per-thread sums are added in thread
 * order, so a run is reproducible for a given thread count. */
static double SFX(eng_cost_grad)(SFX(Eng) *e, int grad) {
    const int n = e->n, W = e->W;
    const size_t nn = (size_t)n * n, hw = (size_t)e->H * e->W;
    const REAL scale = (REAL)1 / (REAL)n; /* unitary transform: 1/n each way */
#pragma omp parallel num_threads(e->nt)
    {
        const int t = omp_get_thread_num();
        CPLX *b = e->buf + nn * t, *gO = e->gO + hw * t, *gP = e->gP + nn * t;
        REAL *il0 = e->illum + hw * t, *op0 = e->opow + nn * t;
        if (grad) { /* each thread clears its own sums */
            memset(gO, 0, sizeof(CPLX) * hw), memset(gP, 0, sizeof(CPLX) * nn);
            memset(il0, 0, sizeof(REAL) * hw), memset(op0, 0, sizeof(REAL) * nn);
        }
        double c = 0;
#pragma omp for schedule(static)
        for (int j = 0; j < e->N; j++) {
            const int r0 = e->pos[2 * j], c0 = e->pos[2 * j + 1];
            const REAL *m = e->target + nn * j;
            for (int y = 0; y < n; y++) {
                const CPLX *o = e->O + (size_t)(r0 + y) * W + c0;
                const CPLX *p = e->P + (size_t)y * n;
                for (int x = 0; x < n; x++) b[(size_t)y * n + x] = p[x] * o[x];
            }
            FFTW(execute_dft)(e->fwd, b, b);
            for (size_t k = 0; k < nn; k++) {
                CPLX f = b[k] * scale;
                REAL a = RSQRT(CRE(f) * CRE(f) + CIM(f) * CIM(f) + e->eps);
                REAL r = a - m[k];
                c += (double)r * r;
                /* Psi - Psi', and the inverse's 1/n; with eps = 0 an exact zero has no phase to keep */
                b[k] = a > 0 ? f * (r / a) * scale : 0;
            }
            if (!grad) continue;
            FFTW(execute_dft)(e->inv, b, b); /* b = psi - psi' */
            for (int y = 0; y < n; y++) {
                const CPLX *o = e->O + (size_t)(r0 + y) * W + c0;
                const CPLX *p = e->P + (size_t)y * n;
                CPLX *go = gO + (size_t)(r0 + y) * W + c0, *gp = gP + (size_t)y * n;
                REAL *il = il0 + (size_t)(r0 + y) * W + c0, *op = op0 + (size_t)y * n;
                const CPLX *d = b + (size_t)y * n;
                for (int x = 0; x < n; x++) {
                    go[x] += CONJ(p[x]) * d[x];
                    gp[x] += CONJ(o[x]) * d[x];
                    il[x] += CRE(p[x]) * CRE(p[x]) + CIM(p[x]) * CIM(p[x]);
                    op[x] += CRE(o[x]) * CRE(o[x]) + CIM(o[x]) * CIM(o[x]);
                }
            }
        }
        e->tcost[t] = c;
    }
    double cost = 0;
    for (int t = 0; t < e->nt; t++) cost += e->tcost[t];
    if (grad) { /* thread t's sums added in the order t = 1, 2, ...: the same result every run */
#pragma omp parallel for schedule(static) num_threads(e->nt)
        for (size_t i = 0; i < hw; i++)
            for (int t = 1; t < e->nt; t++) e->gO[i] += e->gO[hw * t + i], e->illum[i] += e->illum[hw * t + i];
        for (int t = 1; t < e->nt; t++)
            for (size_t i = 0; i < nn; i++) e->gP[i] += e->gP[nn * t + i], e->opow[i] += e->opow[nn * t + i];
    }
    return cost;
}

static REAL SFX(eng_max)(const REAL *v, size_t n) {
    REAL m = 0;
    for (size_t i = 0; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

/* One full-batch step after eng_cost_grad(e, 1): O -= alpha gO / (illum + 0.01 max illum) with
 * the illumination illum = sum_j |P|^2 under every object pixel, the same for P with the object
 * power sum_j |O_j|^2 under every probe pixel (an LSQ-ML-style diagonal preconditioner). With
 * alpha = 1 and the probe fixed this is the proximal least-squares fit of O to the projected exit
 * waves, so the cost cannot rise; the regulariser keeps the barely lit edge from
 * taking huge steps. Object and probe move together, both from the same gradient. */
static void SFX(eng_step)(SFX(Eng) *e, REAL alpha, REAL beta, int probe) {
    const size_t nn = (size_t)e->n * e->n, hw = (size_t)e->H * e->W;
    const REAL dO = (REAL)0.01 * SFX(eng_max)(e->illum, hw) + (REAL)1e-30;
#pragma omp parallel for schedule(static) num_threads(e->nt)
    for (size_t i = 0; i < hw; i++) e->O[i] -= alpha * e->gO[i] / (e->illum[i] + dO);
    if (!probe) return;
    const REAL dP = (REAL)0.01 * SFX(eng_max)(e->opow, nn) + (REAL)1e-30;
    for (size_t i = 0; i < nn; i++) e->P[i] -= beta * e->gP[i] / (e->opow[i] + dP);
}

static void SFX(eng_load)(SFX(Eng) *e, const float complex *obj, const float complex *probe) {
    for (size_t i = 0; i < (size_t)e->H * e->W; i++) e->O[i] = (CPLX)obj[i];
    for (size_t i = 0; i < (size_t)e->n * e->n; i++) e->P[i] = (CPLX)probe[i];
}

void SFX(pty_reconstruct)(float complex *obj, float complex *probe, double *cost, const PtyData *d,
                          const PtyReconOptions *o) {
    SFX(Eng) e;
    SFX(eng_init)(&e, d, o->eps);
    SFX(eng_load)(&e, obj, probe);
    for (int it = 0; it < o->iters; it++) {
        double t0 = omp_get_wtime();
        int upd_probe = o->probe_update && it >= o->probe_start;
        cost[it] = SFX(eng_cost_grad)(&e, 1);
        SFX(eng_step)(&e, (REAL)o->alpha, (REAL)o->beta, upd_probe);
        if (o->progress) o->progress(o->ctx, it, cost[it], 1e3 * (omp_get_wtime() - t0));
    }
    for (size_t i = 0; i < (size_t)d->H * d->W; i++) obj[i] = (float complex)e.O[i];
    for (size_t i = 0; i < (size_t)d->n * d->n; i++) probe[i] = (float complex)e.P[i];
    SFX(eng_free)(&e);
}

double SFX(pty_cost_grad)(float complex *gobj, float complex *gprobe, const float complex *obj,
                          const float complex *probe, const PtyData *d, float eps) {
    SFX(Eng) e;
    SFX(eng_init)(&e, d, eps);
    SFX(eng_load)(&e, obj, probe);
    int grad = gobj || gprobe;
    double c = SFX(eng_cost_grad)(&e, grad);
    if (gobj)
        for (size_t i = 0; i < (size_t)d->H * d->W; i++) gobj[i] = (float complex)e.gO[i];
    if (gprobe)
        for (size_t i = 0; i < (size_t)d->n * d->n; i++) gprobe[i] = (float complex)e.gP[i];
    SFX(eng_free)(&e);
    return c;
}
