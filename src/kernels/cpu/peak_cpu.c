/* The machine's sgemm rate with all threads, the yardstick for lvit bench's GFLOP/s. */
#include <cblas.h>
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
