/* The ceilings a CPU training step is measured against (bench/ceilings.sh, bench/README.md):
 * the core's fused multiply-add peak (independent FMA chains in vector registers, no memory: what
 * no kernel can beat), and OpenBLAS sgemm on the exact matrix shapes of the linear layers of
 * the bench_vs_torch configurations (a) and (d), forward and both backward products, one thread.
 * The AVX-512 and AVX2 loops are compiled with target attributes and run only where the CPU has
 * the instructions (__builtin_cpu_supports). */
#include <cblas.h>
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { CHAINS = 12, ITERS = 100000000 };

/* 12 chains: enough independent FMAs to cover the latency on two pipes; written out one by one (a
 * loop over an array of registers compiles to loads and stores). */
#define FMA12(f) f(0) f(1) f(2) f(3) f(4) f(5) f(6) f(7) f(8) f(9) f(10) f(11)
__attribute__((target("avx512f"))) static double fma_peak_avx512(float *sink) {
    __m512 a[CHAINS], b = _mm512_set1_ps(1.0000001f), c = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    double t0 = now();
#define F512(i) a[i] = _mm512_fmadd_ps(a[i], b, c);
    for (long k = 0; k < ITERS; k++) { FMA12(F512) }
    double t = now() - t0;
    for (int i = 0; i < CHAINS; i++) *sink += _mm512_reduce_add_ps(a[i]);
    return (double)ITERS * CHAINS * 32 / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double fma_peak_avx2(float *sink) {
    __m256 a[CHAINS], b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < CHAINS; i++) a[i] = _mm256_set1_ps((float)i);
    double t0 = now();
#define F256(i) a[i] = _mm256_fmadd_ps(a[i], b, c);
    for (long k = 0; k < ITERS; k++) { FMA12(F256) }
    double t = now() - t0;
    float o[8];
    for (int i = 0; i < CHAINS; i++) {
        _mm256_storeu_ps(o, a[i]);
        for (int j = 0; j < 8; j++) *sink += o[j];
    }
    return (double)ITERS * CHAINS * 16 / t / 1e9;
}

/* Best of 7 of C[M,N] += op(A) op(B), row-major, in GFLOP/s. */
static double sgemm_rate(int ta, int tb, int M, int N, int K) {
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N),
          *C = calloc((size_t)M * N, sizeof(float));
    if (!A || !B || !C) return 0;
    for (long i = 0; i < (long)M * K; i++) A[i] = 1e-3f * (float)(i % 97);
    for (long i = 0; i < (long)K * N; i++) B[i] = 1e-3f * (float)(i % 89);
    double best = 1e30;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A,
                    ta ? M : K, B, tb ? K : N, 1.0f, C, N);
        double t = now() - t0;
        if (t < best) best = t;
    }
    free(A), free(B), free(C);
    return 2.0 * M * N * K / best / 1e9;
}

/* The linear layers of one block at tokens T = batch x S, width D, MLP 4D: y = x W^T (forward),
 * dX = dY W and dW = dY^T X (backward), as lvit's kernels call them (src/kernels/cpu/ops_cpu.c). */
static void shapes(const char *cfg, int T, int D) {
    const struct { const char *name; int in, out; } lin[] = {{"qkv", D, 3 * D}, {"proj", D, D}, {"fc1", D, 4 * D},
                                                               {"fc2", 4 * D, D}};
    double flops = 0, time = 0;
    for (int i = 0; i < 4; i++) {
        const int K = lin[i].in, N = lin[i].out;
        const double f = sgemm_rate(0, 1, T, N, K), x = sgemm_rate(0, 0, T, K, N), w = sgemm_rate(1, 0, N, K, T);
        const double fl = 2.0 * T * N * K;
        flops += 3 * fl, time += fl / f + fl / x + fl / w;
        printf("%s\t%s\t%d\t%d\t%d\t%.1f\t%.1f\t%.1f\n", cfg, lin[i].name, T, K, N, f, x, w);
    }
    printf("%s\tall four, flop-weighted\t\t\t\t%.1f\n", cfg, flops / time);
}

int main(void) {
    float sink = 0;
    printf("fma peak, one thread (GFLOP/s):");
    if (__builtin_cpu_supports("avx512f")) printf(" avx512 %.1f", fma_peak_avx512(&sink));
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) printf(" avx2 %.1f", fma_peak_avx2(&sink));
    printf("%s\n", sink == 12345.0f ? " " : "");
    printf("sgemm 1024^3, one thread: %.1f GFLOP/s\n", sgemm_rate(0, 0, 1024, 1024, 1024));
    printf("config\tlayer\ttokens\tin\tout\tfwd x W^T\tbwd dY W\tbwd dY^T X   (GFLOP/s)\n");
    shapes("(a)", 8 * 512, 128);
    shapes("(d)", 8 * 512, 256);
    return 0;
}
