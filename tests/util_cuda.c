/* Helpers shared by the CUDA kernel tests: see util_cuda.h. */
#include "util_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/ops_cuda.h"
#include "util_test.h"

int tu_have_gpu(void) {
    char err[512] = "";
    static int n = -1;
    if (n < 0) {
        n = cuda_device_count(err, sizeof err);
        if (n == 0) fprintf(stderr, "skip: %s\n", err);
        else {
            char name[256];
            cuda_device_name(name, sizeof name);
            fprintf(stderr, "GPU: %s\n", name);
        }
    }
    return n > 0;
}

float *tu_dev_from(const float *host, int64_t n) {
    float *d = cuda_alloc((size_t)n * sizeof(float));
    cuda_upload(d, host, n);
    return d;
}

float *tu_host_of(const float *dev, int64_t n) {
    float *h = tu_falloc(n);
    cuda_download(h, dev, n);
    return h;
}

/* max|got - ref| / max(max|ref|, floor) over the finite ref values; equal values (the same
 * infinity included) count 0, NaN or a one-sided infinity infinite. */
static double err_scaled(const float *got, const float *ref, int64_t n, double flr, int64_t *wi) {
    double scale = flr, e = 0.0;
    *wi = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(ref[i]) && fabs(ref[i]) > scale) scale = fabs(ref[i]);
    for (int64_t i = 0; i < n; i++) {
        if (got[i] == ref[i]) continue;
        double di = isfinite(got[i]) && isfinite(ref[i]) ? fabs((double)got[i] - ref[i]) : INFINITY;
        if (di > e) e = di, *wi = i;
    }
    return e / scale;
}

static void margin_add(TuMargin *m, double e, int64_t wi, const float *got, const float *ref, int64_t n,
                       const char *cfg) {
    if (m->checks++ == 0 || e > m->worst) {
        m->worst = e;
        snprintf(m->at, sizeof m->at, "%s", cfg);
    }
    if (!(e <= m->tol) && ++m->fails <= 5)
                       fprintf(stderr, "  FAIL %s (%s): err %.3g > %.1g at [%lld] of %lld: got %.9g ref %.9g\n", m->what, cfg, e,
                m->tol, (long long)wi, (long long)n, n > 0 ? got[wi] : 0.0, n > 0 ? ref[wi] : 0.0);
}

void tu_margin_check(TuMargin *m, const float *got, const float *ref, int64_t n, double flr, const char *cfg) {
    int64_t wi;
    const double e = err_scaled(got, ref, n, flr, &wi);
    margin_add(m, e, wi, got, ref, n, cfg);
}

/* bitwise equality (tol 0); a difference is reported at its scaled size */
void tu_margin_bits(TuMargin *m, const float *got, const float *ref, int64_t n, const char *cfg) {
    int64_t wi = 0;
    double e = 0.0;
    if (memcmp(got, ref, sizeof(float) * (size_t)n)) {
        e = err_scaled(got, ref, n, 1e-30, &wi);
        if (e == 0.0) e = 1e-300; /* -0 vs +0 or NaN payloads */
    }
    margin_add(m, e, wi, got, ref, n, cfg);
}

/* Prints one line per checked margin; returns the number of failed checks. */
int tu_margins_report(const TuMargin *m, int n) {
    int fails = 0;
    for (int i = 0; i < n; i++) {
        if (!m[i].checks) continue;
        char name[64];
        if (m[i].d) snprintf(name, sizeof name, "%s d=%d", m[i].what, m[i].d);
        else snprintf(name, sizeof name, "%s", m[i].what);
        fprintf(stderr, "  %-30s worst %.2e (tol %.0e) at %s; %d checks%s\n", name, m[i].worst, m[i].tol, m[i].at,
                m[i].checks, m[i].fails ? ", FAILED" : "");
        fails += m[i].fails;
    }
    return fails;
}
