/* The machine's sgemm rate and memory bandwidth with all threads (kernels/cpu/peak_cpu.h), the
 * yardsticks for lvit bench's GFLOP/s and its roofline. */
#include "kernels/cpu/peak_cpu.h"
#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include "core/check.h"
#include "core/log.h"

double cpu_sgemm_gflops(int n, double min_seconds) {
    float *a = xaligned(sizeof(float) * (size_t)n * n), *b = xaligned(sizeof(float) * (size_t)n * n);
    float *c = xaligned(sizeof(float) * (size_t)n * n);
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = (float)(i % 13) * 0.01f;
        b[i] = (float)(i % 7) * 0.02f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    int reps = 0;
    double t0 = now_sec(), el;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        reps++;
        el = now_sec() - t0;
    } while (el < min_seconds);
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n * reps / el / 1e9;
}

double cpu_triad_gbps(size_t mib_per_array, int runs) {
    const int64_t n = (int64_t)(mib_per_array * 1048576 / sizeof(float));
    float *a = aligned_alloc(64, (size_t)n * sizeof(float)), *b = aligned_alloc(64, (size_t)n * sizeof(float));
    float *c = aligned_alloc(64, (size_t)n * sizeof(float));
    double best = 0;
    if (a && b && c && n > 0) {
        /* first touch by the threads that run the triad, so that each page sits near its thread */
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) a[i] = 0, b[i] = 1.0f, c[i] = 2.0f;
        for (int r = 0; r < runs; r++) {
            const float s = 1.0f + 1e-3f * r;
            double t0 = now_sec();
#pragma omp parallel for simd schedule(static)
            for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
            double el = now_sec() - t0;
            if (el > 0 && 3.0 * sizeof(float) * n / el / 1e9 > best) best = 3.0 * sizeof(float) * n / el / 1e9;
        }
        volatile float sink = a[n - 1]; /* the stores are used */
        (void)sink;
    }
    free(a);
    free(b);
    free(c);
    return best;
}
