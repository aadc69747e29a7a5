/* Helpers shared by the tests of the CPU kernel table's ops (tests/test_ops_*.c): their
 * tolerances, random inputs, and the check that a backward accumulates. */
#ifndef LVIT_UTIL_OPS_H
#define LVIT_UTIL_OPS_H
#include <stdint.h>

/* Forward vs double reference, and analytic vs finite-difference gradients. */
#define TOL_FWD 1e-5
#define TOL_GRAD 1e-4

/* A new buffer of n floats, uniform in [-1, 1) from seed (free with free()). */
float *tu_rnd(int64_t n, uint64_t seed);

/* g2 (after two identical backward calls) must be 2 * g1 (after one); fails the test with
 * "what does not accumulate" otherwise. */
void tu_assert_twice(const char *what, const float *g2, const float *g1, int64_t n);

#endif
