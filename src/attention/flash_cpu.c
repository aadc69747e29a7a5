/* CPU flash attention: the workspace size, the choice of instruction-set build (from the
 * CPU's flags, once per process), and the merge of partial results. The kernels themselves
 * are flash_impl.h, compiled per instruction set in flash_generic.c, flash_avx2.c and
 * flash_avx512.c. */
#include "attention/attention.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention/flash_layout.h"
#include "core/cpu.h"

typedef void (*AttnFwdFn)(float *, float *, const float *, const float *, const float *,
                          const AttnDims *, float *);
typedef void (*AttnBwdFn)(float *, float *, float *, const float *, const float *,
                          const float *, const float *, const float *, const float *,
                          const AttnDims *, float *);

void attn_fwd_generic(float *o, float *lse, const float *q, const float *k, const float *v,
                      const AttnDims *dm, float *ws);
void attn_bwd_generic(float *dq, float *dk, float *dv, const float *dout, const float *q,
                      const float *k, const float *v, const float *o, const float *lse,
                      const AttnDims *dm, float *ws);
#if defined(__x86_64__) && defined(LVIT_ATTN_X86)
void attn_fwd_avx2(float *o, float *lse, const float *q, const float *k, const float *v,
                   const AttnDims *dm, float *ws);
void attn_bwd_avx2(float *dq, float *dk, float *dv, const float *dout, const float *q,
                   const float *k, const float *v, const float *o, const float *lse,
                   const AttnDims *dm, float *ws);
void attn_fwd_avx512(float *o, float *lse, const float *q, const float *k, const float *v,
                     const AttnDims *dm, float *ws);
void attn_bwd_avx512(float *dq, float *dk, float *dv, const float *dout, const float *q,
                     const float *k, const float *v, const float *o, const float *lse,
                     const AttnDims *dm, float *ws);
#endif

typedef struct AttnIsa {
    const char *name;
    AttnFwdFn fwd;
    AttnBwdFn bwd;
} AttnIsa;

/* Best first. */
static const AttnIsa isas[] = {
#if defined(__x86_64__) && defined(LVIT_ATTN_X86)
    {"avx512", attn_fwd_avx512, attn_bwd_avx512},
    {"avx2", attn_fwd_avx2, attn_bwd_avx2},
#endif
    {"generic", attn_fwd_generic, attn_bwd_generic},
};
#define N_ISAS (int)(sizeof isas / sizeof isas[0])

static int isa_runs_here(const AttnIsa *isa) {
    CpuInfo ci;
    if (!strcmp(isa->name, "generic")) return 1;
    cpu_detect(&ci);
    if (!strcmp(isa->name, "avx2")) return ci.avx2 && ci.fma;
    if (!strcmp(isa->name, "avx512"))
        return ci.avx512f && ci.avx512bw && ci.avx512vl && ci.avx512dq;
    return 0;
}

static const AttnIsa *active;
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

/* The best build this CPU runs, or the one LVIT_ATTN_ISA names (to compare them). */
static void choose_isa(void) {
    const char *want = getenv("LVIT_ATTN_ISA");
    for (int i = 0; i < N_ISAS && !active; i++)
        if (isa_runs_here(&isas[i]) && (!want || !*want || !strcmp(want, isas[i].name)))
            active = &isas[i];
    if (!active) {
        for (int i = 0; i < N_ISAS && !active; i++)
            if (isa_runs_here(&isas[i])) active = &isas[i];
        fprintf(stderr, "lvit: LVIT_ATTN_ISA=%s is not one this CPU and build run "
                        "(avx512, avx2, generic); attention uses %s\n", want, active->name);
    }
}

const char *attn_isa_cpu(void) {
    pthread_once(&chosen, choose_isa);
    return active->name;
}

int attn_set_isa_cpu(const char *name) {
    pthread_once(&chosen, choose_isa);
    for (int i = 0; i < N_ISAS; i++)
        if (!strcmp(name, isas[i].name) && isa_runs_here(&isas[i])) {
            active = &isas[i];
            return 0;
        }
    return -1;
}

size_t attn_workspace_floats_cpu(const AttnDims *dm, int nthreads) {
    const FlashWs L = flash_ws(dm);
    const int64_t T = nthreads > 0 ? nthreads : 1;
    return (size_t)(FL_PAD + T * (L.per_thread + L.slot));
}

void attn_fwd_cpu(float *o, float *lse, const float *q, const float *k, const float *v,
                  const AttnDims *dm, float *ws) {
    pthread_once(&chosen, choose_isa);
    active->fwd(o, lse, q, k, v, dm, ws);
}

void attn_bwd_cpu(float *dq, float *dk, float *dv, const float *dout, const float *q,
                  const float *k, const float *v, const float *o, const float *lse,
                  const AttnDims *dm, float *ws) {
    pthread_once(&chosen, choose_isa);
    active->bwd(dq, dk, dv, dout, q, k, v, o, lse, dm, ws);
}

/* ---- merge ---- */

void attn_merge_cpu(float *o, float *lse, const float *o2, const float *lse2,
                    const AttnDims *dm) {
    const int NH = dm->NH, d = dm->d;
    const int64_t Sq = dm->Sq, os = dm->o_stride;
    const int64_t rows = (int64_t)dm->B * NH * Sq;
#pragma omp parallel for schedule(static) if (rows * d > 65536)
    for (int64_t i = 0; i < rows; i++) { /* i = (b*NH + h)*Sq + s, the lse order */
        const float a = lse[i], c = lse2[i];
        if (c == -INFINITY) continue;
        const int64_t b = i / ((int64_t)NH * Sq), h = (i / Sq) % NH, s = i % Sq;
        float *orow = o + (b * Sq + s) * os + h * d;        /* [d] */
        const float *o2row = o2 + (b * Sq + s) * os + h * d; /* [d] */
        if (a == -INFINITY) {
            memcpy(orow, o2row, sizeof(float) * (size_t)d);
            lse[i] = c;
            continue;
        }
        const double hi = a > c ? a : c, lo = a > c ? c : a;
        const double l = hi + log1p(exp(lo - hi));
        const float w1 = (float)exp(a - l), w2 = (float)exp(c - l);
        for (int e = 0; e < d; e++) orow[e] = w1 * orow[e] + w2 * o2row[e];
        lse[i] = (float)l;
    }
}
