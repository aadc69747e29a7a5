/* lvit's CPU flash attention timed by CPU time (not wall clock), forward and backward apart,
 * and a bit-level fingerprint of its outputs: for before/after comparisons of src/attention on
 * a shared machine, where other jobs make wall-clock medians unreliable but barely move the
 * CPU time a single-threaded call takes. Driven by bench/attn_ab.sh (builds it against two
 * trees and alternates them).
 *
 *   attn_cputime time S d NH REPS [f] median CPU ms of fwd and bwd (f: forward only), and
 *                                     GFLOP/s by CPU time
 *   attn_cputime hash                 FNV-1a of o, lse, dq, dk, dv's bits for a set of shapes
 *
 * Batch 1; q, k, v in one fused [1,S,3,NH,d] buffer, o in [1,S,NH,d], as in the model.
 * Flops: forward 4*NH*S*S*d, backward 2.5x that. LVIT_ATTN_ISA picks the instruction-set
 * build; OMP_NUM_THREADS the threads (CPU time adds all threads' time).
 */
#include "attention/attention.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static float *alloc_floats(size_t n) {
    const size_t al = getenv("ATTN_THP") ? 2u << 20 : 64;
    float *p = aligned_alloc(al, ((n * sizeof(float) + al - 1) / al) * al);
    if (p && al > 64) madvise(p, ((n * sizeof(float) + al - 1) / al) * al, MADV_HUGEPAGE);
    if (!p) {
        fprintf(stderr, "attn_cputime: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

static void fill(float *x, size_t n, unsigned seed, float amp) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = amp * (float)((seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
}

static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Bufs {
    AttnDims dm;
    float *qkv, *dqkv, *o, *dout, *lse, *ws;
    size_t nqkv, no;
} Bufs;

/* Sq = Sk = S unless sk > 0; extra > 0 widens every token's stride (other data between). */
static void bufs_init(Bufs *b, int64_t S, int64_t sk, int d, int NH, int extra, unsigned seed) {
    memset(b, 0, sizeof *b);
    const int64_t Sk = sk > 0 ? sk : S, Smax = S > Sk ? S : Sk;
    const int64_t D = (int64_t)NH * d, st = 3 * D + extra;
    b->dm = (AttnDims){.B = 1, .NH = NH, .d = d, .Sq = S, .Sk = Sk, .q_stride = st,
                       .k_stride = st, .v_stride = st, .o_stride = D + extra,
                       .scale = 1.0f / sqrtf((float)d)};
    b->nqkv = (size_t)(Smax * st);
    b->no = (size_t)(S * (D + extra));
    b->qkv = alloc_floats(b->nqkv);
    b->dqkv = alloc_floats(b->nqkv);
    b->o = alloc_floats(b->no);
    b->dout = alloc_floats(b->no);
    b->lse = alloc_floats((size_t)(NH * S));
    b->ws = alloc_floats(attn_workspace_floats_cpu(&b->dm, omp_get_max_threads()));
    fill(b->qkv, b->nqkv, seed, 2.0f);
    fill(b->dout, b->no, seed + 7, 1.0f);
    memset(b->o, 0, sizeof(float) * b->no);
}

static void bufs_free(Bufs *b) {
    free(b->qkv); free(b->dqkv); free(b->o); free(b->dout); free(b->lse); free(b->ws);
}

static void run_fwd(Bufs *b) {
    const int64_t D = (int64_t)b->dm.NH * b->dm.d;
    attn_fwd_cpu(b->o, b->lse, b->qkv, b->qkv + D, b->qkv + 2 * D, &b->dm, b->ws);
}

static void run_bwd(Bufs *b) {
    const int64_t D = (int64_t)b->dm.NH * b->dm.d;
    memset(b->dqkv, 0, sizeof(float) * b->nqkv);
    attn_bwd_cpu(b->dqkv, b->dqkv + D, b->dqkv + 2 * D, b->dout, b->qkv, b->qkv + D,
                 b->qkv + 2 * D, b->o, b->lse, &b->dm, b->ws);
}

static int do_time(int64_t S, int d, int NH, int reps, int fwd_only) {
    Bufs b;
    bufs_init(&b, S, 0, d, NH, 0, 1234u);
    double *tf = malloc(sizeof(double) * (size_t)reps), *tb = malloc(sizeof(double) * (size_t)reps);
    run_fwd(&b); /* warm-up: pages, caches */
    if (!fwd_only) run_bwd(&b);
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_s();
        run_fwd(&b);
        double t1 = cpu_s();
        if (!fwd_only) run_bwd(&b);
        double t2 = cpu_s();
        tf[r] = t1 - t0;
        tb[r] = t2 - t1;
    }
    qsort(tf, (size_t)reps, sizeof(double), cmp_d);
    qsort(tb, (size_t)reps, sizeof(double), cmp_d);
    const double f = tf[reps / 2], bw = tb[reps / 2];
    const double fl = 4.0 * NH * (double)S * (double)S * d;
    printf("%s S=%lld d=%d NH=%d thr=%d reps=%d  fwd %.3f ms %.1f GF/s  bwd %.3f ms %.1f GF/s  "
           "fb %.1f GF/s\n", attn_isa_cpu(), (long long)S, d, NH, omp_get_max_threads(), reps,
           f * 1e3, fl / f * 1e-9, bw * 1e3, 2.5 * fl / bw * 1e-9, 3.5 * fl / (f + bw) * 1e-9);
    free(tf);
    free(tb);
    bufs_free(&b);
    return 0;
}

static uint64_t fnv(uint64_t h, const float *x, size_t n) {
    const unsigned char *p = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int do_hash(void) {
    /* S, Sk (0: = S), d, NH, extra stride */
    static const int shapes[][5] = {{64, 0, 64, 2, 0},   {200, 0, 64, 3, 0}, {1000, 0, 64, 4, 0},
                                    {130, 77, 32, 2, 5}, {97, 300, 40, 1, 3}, {256, 0, 128, 2, 0},
                                    {333, 0, 16, 4, 1},  {17, 5, 8, 2, 0},   {2048, 0, 64, 4, 0},
                                    {1100, 0, 8, 1, 0},  {900, 1250, 24, 1, 2}, {700, 0, 128, 2, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int *s = shapes[i];
        Bufs b;
        bufs_init(&b, s[0], s[1], s[2], s[3], s[4], 99u + (unsigned)i);
        run_fwd(&b);
        run_bwd(&b);
        uint64_t h1 = fnv(1469598103934665603ull, b.o, b.no);
        h1 = fnv(h1, b.lse, (size_t)(s[3] * s[0]));
        const uint64_t h2 = fnv(1469598103934665603ull, b.dqkv, b.nqkv);
        printf("%s S=%d Sk=%d d=%d NH=%d extra=%d thr=%d fwd %016llx bwd %016llx\n",
               attn_isa_cpu(), s[0], s[1], s[2], s[3], s[4], omp_get_max_threads(),
               (unsigned long long)h1, (unsigned long long)h2);
        bufs_free(&b);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "hash")) return do_hash();
    if ((argc == 6 || argc == 7) && !strcmp(argv[1], "time"))
        return do_time(atoll(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                       argc == 7 && !strcmp(argv[6], "f"));
    fprintf(stderr, "usage: attn_cputime time S d NH REPS [f] | attn_cputime hash\n");
    return 2;
}
