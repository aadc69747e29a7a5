/* Flash-attention CPU kernel benchmark: forward and forward+backward time and GFLOP/s.
 *
 *   gcc -O3 -march=native -fopenmp -Isrc bench/bench_attention.c src/attention/flash_cpu.c -lm \
 *       -o /tmp/bench_attention && /tmp/bench_attention
 *
 * q, k, v live in one fused [B,S,3,NH,d] buffer and o in [B,S,NH,d], as in the model.
 * Flops: forward 4*B*NH*S*S*d (QK^T and PV), backward 2.5x that (five products);
 * the fwd+bwd column counts both. Each time is the best of several runs.
 * Usage: bench_attention [max_threads]   (default: 1 and 2 threads)
 */
#include "attention/attention.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Case {
    int B, NH, d;
    int64_t S;
} Case;

static float *alloc_floats(size_t n) {
    float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!p) {
        fprintf(stderr, "bench_attention: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

static void fill(float *x, size_t n, unsigned *seed) {
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        x[i] = (float)((*seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
}

/* Best wall time of reps runs of fwd (and bwd when with_bwd). */
static double best_time(int with_bwd, int reps, float *o, float *lse, float *dqkv,
                        const float *dout, const float *qkv, const AttnDims *dm, float *ws) {
    const int64_t D = (int64_t)dm->NH * dm->d;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        const double t0 = omp_get_wtime();
        attn_fwd_cpu(o, lse, qkv, qkv + D, qkv + 2 * D, dm, ws);
        if (with_bwd)
            attn_bwd_cpu(dqkv, dqkv + D, dqkv + 2 * D, dout, qkv, qkv + D, qkv + 2 * D, o, lse,
                         dm, ws);
        const double t = omp_get_wtime() - t0;
        if (t < best) best = t;
    }
    return best;
}

int main(int argc, char **argv) {
    const int maxt = argc > 1 ? atoi(argv[1]) : 2;
    const Case cases[] = {
        {4, 8, 32, 512},  /* d=32, S=512, B*NH=32 */
        {1, 4, 32, 4096}, /* d=32, S=4096, B*NH=4 */
        {1, 4, 64, 2048}, /* d=64, S=2048, B*NH=4 */
        {1, 4, 128, 2048} /* d=128, S=2048, B*NH=4 */
    };
    printf("%-3s %-5s %-4s %-7s | %10s %9s %9s | %10s %9s %9s\n", "d", "S", "BNH", "threads",
           "fwd ms", "GFLOP/s", "/thread", "fwd+bwd ms", "GFLOP/s", "/thread");
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const Case cs = cases[ci];
        const int64_t D = (int64_t)cs.NH * cs.d, BS = (int64_t)cs.B * cs.S;
        AttnDims dm = {.B = cs.B, .NH = cs.NH, .d = cs.d, .Sq = cs.S, .Sk = cs.S,
                       .q_stride = 3 * D, .k_stride = 3 * D, .v_stride = 3 * D,
                       .o_stride = D, .scale = 1.0f / sqrtf((float)cs.d)};
        unsigned seed = 1234u + (unsigned)ci;
        float *qkv = alloc_floats((size_t)(BS * 3 * D));  /* [B,S,3,NH,d] */
        float *dqkv = alloc_floats((size_t)(BS * 3 * D)); /* [B,S,3,NH,d] */
        float *o = alloc_floats((size_t)(BS * D));        /* [B,S,NH,d] */
        float *dout = alloc_floats((size_t)(BS * D));     /* [B,S,NH,d] */
        float *lse = alloc_floats((size_t)(cs.B * cs.NH * cs.S)); /* [B,NH,S] */
        fill(qkv, (size_t)(BS * 3 * D), &seed);
        fill(dout, (size_t)(BS * D), &seed);
        memset(dqkv, 0, sizeof(float) * (size_t)(BS * 3 * D));
        const double flops = 4.0 * cs.B * cs.NH * (double)cs.S * (double)cs.S * cs.d;
        for (int t = 1; t <= maxt; t++) {
            omp_set_num_threads(t);
            float *ws = alloc_floats(attn_workspace_floats_cpu(&dm, omp_get_max_threads()));
            const int reps = flops > 4e9 ? 3 : 6;
            best_time(1, 1, o, lse, dqkv, dout, qkv, &dm, ws); /* warm up */
            const double tf = best_time(0, reps, o, lse, dqkv, dout, qkv, &dm, ws);
            const double tb = best_time(1, reps, o, lse, dqkv, dout, qkv, &dm, ws);
            printf("%-3d %-5lld %-4d %-7d | %10.2f %9.1f %9.1f | %10.2f %9.1f %9.1f\n", cs.d,
                   (long long)cs.S, cs.B * cs.NH, t, tf * 1e3, flops / tf * 1e-9,
                   flops / tf * 1e-9 / t, tb * 1e3, 3.5 * flops / tb * 1e-9,
                   3.5 * flops / tb * 1e-9 / t);
            free(ws);
        }
        free(qkv);
        free(dqkv);
        free(o);
        free(dout);
        free(lse);
    }
    return 0;
}
