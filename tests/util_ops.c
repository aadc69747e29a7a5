/* Helpers shared by the tests of the CPU kernel table's ops: see util_ops.h. */
#include "util_ops.h"

#include <stdlib.h>

#include "util_test.h"

float *tu_rnd(int64_t n, uint64_t seed) {
    float *x = tu_falloc(n);
    tu_fill_uniform(x, n, seed, -1.0f, 1.0f);
    return x;
}

void tu_assert_twice(const char *what, const float *g2, const float *g1, int64_t n) {
    double *ref = tu_dalloc(n);
    for (int64_t i = 0; i < n; i++) ref[i] = 2.0 * g1[i];
    int ok = tu_close(what, g2, ref, n, 1e-6, __FILE__, __LINE__);
    free(ref);
    if (!ok) fail_msg("%s does not accumulate", what);
}
