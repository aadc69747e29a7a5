/* Error reporting of the public API: a per-thread message and the mapping of caught internal
 * failures (core/check.h) to status codes. */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <cblas.h>
#include "api/api_internal.h"

static _Thread_local char tl_error[2048];

const char *lvit_last_error(void) { return tl_error; }
const char *lvit_version(void) { return LVIT_VERSION; }

void api_clear_error(void) { tl_error[0] = 0; }

lvit_status api_fail(lvit_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_error, sizeof tl_error, fmt, ap);
    va_end(ap);
    return st;
}

lvit_status api_caught(const LvitCatch *c) {
    if (c->oom) return api_fail(LVIT_E_MEMORY, "%s", c->msg);
    /* DIE_USER: the internals found bad input the API's own checks let through */
    if (c->code == LVIT_EXIT_USAGE) return api_fail(LVIT_E_FORMAT, "%s", c->msg);
    return api_fail(LVIT_E_INTERNAL, "internal error (please report): %s", c->msg);
}

void api_threads_enter(ApiThreads *t, int threads) {
    t->set = threads > 0;
    if (!t->set) return;
    t->omp = omp_get_max_threads();
    t->blas = openblas_get_num_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
}

void api_threads_leave(const ApiThreads *t) {
    if (!t->set) return;
    openblas_set_num_threads(t->blas); /* (OpenBLAS's OpenMP build sets OpenMP's count too: it goes first) */
    omp_set_num_threads(t->omp);
}
