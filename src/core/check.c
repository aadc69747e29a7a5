#include "check.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lvit_abort_fn g_abort = NULL;
static int g_rank = 0;
/* per thread: API calls on different threads catch their own failures */
static _Thread_local LvitCatch *tl_catch = NULL;
static _Thread_local int tl_oom = 0;

void lvit_catch_push(LvitCatch *c) {
    c->code = 0, c->oom = 0, c->msg[0] = 0;
    c->prev = tl_catch;
    tl_catch = c;
}

void lvit_catch_pop(LvitCatch *c) {
    if (tl_catch == c) tl_catch = c->prev;
}

void lvit_set_abort(lvit_abort_fn fn) { g_abort = fn; }
void lvit_set_rank(int rank) { g_rank = rank; }
int lvit_rank(void) { return g_rank; }

void lvit_die_at(const char *file, int line, int code, const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    LvitCatch *c = tl_catch;
    if (c) { /* an API call: hand the failure to its caller, print nothing */
        tl_catch = c->prev;
        c->code = code;
        c->oom = tl_oom;
        tl_oom = 0;
        snprintf(c->msg, sizeof c->msg, "%s", msg);
        longjmp(c->jb, 1);
    }
    fflush(stdout);
    if (file) fprintf(stderr, "lvit: [rank %d] %s:%d: %s\n", g_rank, file, line, msg);
    else fprintf(stderr, "lvit: error: %s\n", msg);
    fflush(stderr);
    if (g_abort) g_abort(code);
    exit(code);
}

static _Thread_local char tl_what[256];

void lvit_alloc_what(const char *fmt, ...) {
    tl_what[0] = 0;
    if (!fmt) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_what, sizeof tl_what, fmt, ap);
    va_end(ap);
}

/* A failed allocation is the job not fitting the machine, not a bug: say what, in MiB, and how
 * to make it fit; no source location. */
static _Noreturn void nomem(double bytes) {
    tl_oom = 1;
    lvit_die_at(NULL, 0, LVIT_EXIT_NOMEM,
                "out of memory: %.1f MiB for %s could not be allocated; make the job smaller (--batch, the model's "
                "--dim/--depth, the grid or the data) or run it on more ranks or a machine with more memory",
                bytes / 1048576.0, tl_what[0] ? tl_what : "a working buffer");
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) nomem((double)n);
    return p;
}

void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) nomem((double)n * (double)sz);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) nomem((double)n);
    return q;
}

void *xaligned(size_t n) {
    size_t sz = (n + 63) & ~(size_t)63;
    void *p = NULL;
    if (posix_memalign(&p, 64, sz ? sz : 64) != 0 || !p) nomem((double)n);
    memset(p, 0, sz);
    return p;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n);
    memcpy(p, s, n);
    return p;
}
