/* Helpers shared by the CUDA kernel tests (tests/test_cuda_*.c): whether there is a GPU,
 * copies to and from it, and error margins.
 *
 * Margins: the linear, attention and Reslim tests run hundreds of configurations: each
 * comparison goes into a TuMargin (the worst error of one quantity and where it was), every
 * failure is printed (the first few of each quantity) and the test fails at the end, so that one
 * GPU run reports every configuration that is wrong instead of stopping at the first. The
 * margins are printed always.
 *
 * Without a GPU (or in a build without CUDA: src/kernels/cuda/cuda_none.c) tu_have_gpu() says
 * why once and returns 0; every test then skips. */
#ifndef LVIT_UTIL_CUDA_H
#define LVIT_UTIL_CUDA_H
#include <stdint.h>

/* 1 when a CUDA device can be used; prints the device, or why not ("skip: ..."), once. */
int tu_have_gpu(void);
/* A new device buffer holding host[0..n) (free with cuda_free). */
float *tu_dev_from(const float *host /* [n] */, int64_t n);
/* A new host buffer holding dev[0..n) (free with free()). */
float *tu_host_of(const float *dev /* [n] */, int64_t n);

typedef struct TuMargin {
    const char *what;
    double tol;
    int d; /* head size, 0 where not per head size */
    double worst;
    char at[128];
    int checks, fails;
} TuMargin;

/* max|got - ref| / max(max|ref|, flr) over the finite ref values (equal values, the same
 * infinity included, count 0; NaN or a one-sided infinity infinite) into m, for configuration
 * cfg; fails (printed) above m->tol. */
void tu_margin_check(TuMargin *m, const float *got, const float *ref, int64_t n, double flr,
                     const char *cfg);
/* Bitwise equality (tol 0); a difference is reported at its scaled size. */
void tu_margin_bits(TuMargin *m, const float *got, const float *ref, int64_t n, const char *cfg);
/* Prints one line per checked margin; returns the number of failed checks. */
int tu_margins_report(const TuMargin *m, int n);

#endif
