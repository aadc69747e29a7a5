#include "check.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lvit_abort_fn g_abort = NULL;
static int g_rank = 0;

void lvit_set_abort(lvit_abort_fn fn) { g_abort = fn; }
void lvit_set_rank(int rank) { g_rank = rank; }
int lvit_rank(void) { return g_rank; }

void lvit_die_at(const char *file, int line, int code, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (file) fprintf(stderr, "lvit: [rank %d] %s:%d: %s\n", g_rank, file, line, msg);
    else fprintf(stderr, "lvit: error: %s\n", msg);
    fflush(stderr);
    if (g_abort) g_abort(code);
    exit(code);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) DIE("out of memory allocating %zu bytes (%.1f MiB)", n, n / 1048576.0);
    return p;
}

void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) DIE("out of memory allocating %zu x %zu bytes", n, sz);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) DIE("out of memory allocating %zu bytes", n);
    return q;
}

void *xaligned(size_t n) {
    size_t sz = (n + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0 || !p)
        DIE("out of memory allocating %zu bytes (%.1f MiB)", n, n / 1048576.0);
    memset(p, 0, sz);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}
