/* Helpers shared by the unit tests: a seeded RNG, error measures, cmocka assertions that say
 * where and by how much a result is wrong, and a finite-difference gradient checker.
 *
 * Error measure used throughout: max_i |got_i - ref_i| / max(max_i |ref_i|, 1e-30), i.e.
 * the worst absolute error relative to the scale of the reference. NaN anywhere fails.
 *
 * Gradient checks: write the forward once more in double in the test (it is the reference
 * for the forward check anyway), define loss = sum(out * R) for a fixed random R, and compare
 * the kernel's gradient (run with dout = R) to central differences of that double loss.
 * Double differences with h ~ 1e-5 are accurate to ~1e-9, so tolerances can be tight (1e-4)
 * and a wrong gradient cannot hide in float noise. tu_grad_check_f exists for code without a
 * double twin: it differentiates a float computation and needs h ~ 1e-2 and looser
 * tolerances (~1e-2).
 *
 * LVIT_TEST_VERBOSE=1 in the environment prints the error of every check (the margin). */
#ifndef LVIT_UTIL_TEST_H
#define LVIT_UTIL_TEST_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

/* ---- deterministic random numbers (splitmix64; same stream on every platform) ---- */
typedef struct TuRng {
    uint64_t s;
} TuRng;
void tu_rng_seed(TuRng *r, uint64_t seed);
uint64_t tu_rng_u64(TuRng *r);
double tu_rng_uniform(TuRng *r); /* [0,1) */
double tu_rng_normal(TuRng *r);  /* N(0,1), Box-Muller */
void tu_fill_uniform(float *x /* [n] */, int64_t n, uint64_t seed, float lo, float hi);
void tu_fill_normal(float *x /* [n] */, int64_t n, uint64_t seed, float mean, float std);
void tu_fill_uniform_d(double *x /* [n] */, int64_t n, uint64_t seed, double lo, double hi);

/* ---- buffers (zeroed; the test dies on allocation failure; free with free()) ---- */
float *tu_falloc(int64_t n);
double *tu_dalloc(int64_t n);
double *tu_to_double(const float *x /* [n] */, int64_t n); /* new double copy */
void tu_fill_const(float *x /* [n] */, int64_t n, float v);
float *tu_dup_f(const float *x /* [n] */, int64_t n); /* new float copy */

/* ---- error measures ---- */
/* max|got-ref| / max(max|ref|, 1e-30); *worst (may be NULL) gets the worst index. Returns
 * +inf when any value is NaN. */
double tu_max_rel_err(const float *got /* [n] */, const double *ref /* [n] */, int64_t n,
                      int64_t *worst);
double tu_max_rel_err_ff(const float *got /* [n] */, const float *ref /* [n] */, int64_t n,
                         int64_t *worst);

/* Returns 1 when within tol, else prints "file:line: what: max rel err E > tol at [i]:
 * got G ref R" and returns 0. tu_set_quiet(1) silences the message (self-tests). */
int tu_close(const char *what, const float *got, const double *ref, int64_t n, double tol,
             const char *file, int line);
int tu_close_ff(const char *what, const float *got, const float *ref, int64_t n, double tol,
                const char *file, int line);
int tu_set_quiet(int quiet); /* returns the previous setting */

#define TU_ASSERT_CLOSE(got, ref, n, tol)                                              \
    do {                                                                               \
        if (!tu_close(#got, (got), (ref), (n), (tol), __FILE__, __LINE__)) fail();     \
    } while (0)
#define TU_ASSERT_CLOSE_FF(got, ref, n, tol)                                           \
    do {                                                                               \
        if (!tu_close_ff(#got, (got), (ref), (n), (tol), __FILE__, __LINE__)) fail();  \
    } while (0)

/* ---- finite-difference gradient checks ---- */
/* The scalar loss at the current contents of the inputs reachable through ctx. */
typedef double (*tu_loss_fn)(void *ctx);

/* Checks grad[i] against (loss(x_i + h) - loss(x_i - h)) / 2h for up to nsample entries
 * of x (all when n <= nsample; otherwise a seeded random sample). x is restored. Error
 * measure as tu_close, over the checked entries. Returns 1 on success (else prints). */
int tu_grad_check(const char *what, tu_loss_fn loss, void *ctx, double *x /* [n] */,
                  const float *grad /* [n] */, int64_t n, int nsample, double h, double tol,
                  const char *file, int line);
int tu_grad_check_f(const char *what, tu_loss_fn loss, void *ctx, float *x /* [n] */,
                    const float *grad /* [n] */, int64_t n, int nsample, float h, double tol,
                    const char *file, int line);

#define TU_ASSERT_GRAD(loss, ctx, x, grad, n, tol)                                          \
    do {                                                                                    \
        if (!tu_grad_check(#grad, (loss), (ctx), (x), (grad), (n), 256, 1e-5, (tol),        \
                           __FILE__, __LINE__))                                             \
            fail();                                                                         \
    } while (0)

/* sum_i out_i R_i, the loss whose gradient w.r.t. out is R. */
double tu_dot(const double *out /* [n] */, const double *R /* [n] */, int64_t n);
double tu_dot_f(const float *out /* [n] */, const double *R /* [n] */, int64_t n);

/* ---- strings and temporary files ---- */
#define TU_ASSERT_CONTAINS(hay, needle)                                                       \
    do {                                                                                      \
        if (!strstr((hay), (needle))) fail_msg("expected \"%s\" in \"%s\"", (needle), (hay)); \
    } while (0)

/* A fresh "/tmp/lvit_test_XXXXXX" directory (mkdtemp), made by tu_tmpdir_setup and removed
 * with everything in it by tu_tmpdir_teardown; both fit cmocka's group or per-test setup
 * and teardown slots. tu_tmpdir() is its path ("" before the first setup). */
const char *tu_tmpdir(void);
/* Entries of tu_tmpdir() whose name contains ".tmp." (temporaries a writer left behind); -1 when the
 * directory cannot be read. */
int tu_count_temporaries(void);
int tu_tmpdir_setup(void **state);
int tu_tmpdir_teardown(void **state);
void tu_path(char *buf, size_t n, const char *name); /* tu_tmpdir() + "/" + name */
/* Removes dir and everything under it (subdirectories are made writable first); a missing
 * dir is not an error. */
void tu_remove_tree(const char *dir);
/* The whole file (the test fails when it cannot be read); *n gets its length. free() it. */
uint8_t *tu_read_bytes(const char *path, size_t *n);

#endif
