/* Errors that stop the job, loudly and precisely (DESIGN principle 5). */
#ifndef LVIT_CHECK_H
#define LVIT_CHECK_H
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

/* Exit codes: 1 internal/runtime failure, 2 bad user input (flags, files), 3 out of memory (the
 * job does not fit the machine: the message says what could not be allocated). */
enum { LVIT_EXIT_FAIL = 1, LVIT_EXIT_USAGE = 2, LVIT_EXIT_NOMEM = 3 };

/* Hook the parallel layer installs so that a fatal error on one rank aborts the world
   instead of leaving the others in a collective. Default: exit(code). */
typedef void (*lvit_abort_fn)(int code);
void lvit_set_abort(lvit_abort_fn fn);
void lvit_set_rank(int rank);
int lvit_rank(void);

_Noreturn void lvit_die_at(const char *file, int line, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Internal invariant or system failure: "[rank r] file:line: message". */
#define DIE(...) lvit_die_at(__FILE__, __LINE__, LVIT_EXIT_FAIL, __VA_ARGS__)
/* Bad user input: message naming the file/flag/field, exit code 2. */
#define DIE_USER(...) lvit_die_at(NULL, 0, LVIT_EXIT_USAGE, __VA_ARGS__)
#define CHECK(cond, ...) do { if (!(cond)) DIE(__VA_ARGS__); } while (0)

/* A failure caught instead of ending the process: the public C API (src/api) runs each call under
 * one, so that a host program (a climate model) gets an error code and the message instead of
 * losing its process. Usage:
 *     LvitCatch c;
 *     if (setjmp(c.jb)) { ... c.msg, c.code, c.oom ... } else { lvit_catch_push(&c); ...; lvit_catch_pop(&c); }
 * A failure on the installing thread unhooks the catcher, fills it (nothing is printed) and
 * longjmps to it. Limits: memory the failing code held is not freed, and a failure inside an
 * OpenMP parallel region or on another thread still ends the process (longjmp cannot cross
 * threads). The API therefore validates its inputs before calling the internals; the catcher is
 * the net under that. */
typedef struct LvitCatch {
    jmp_buf jb;
    int code;                /* LVIT_EXIT_FAIL (internal, allocation) or LVIT_EXIT_USAGE (input) */
    int oom;                 /* the failure was an allocation */
    char msg[2048];
    struct LvitCatch *prev;  /* catchers nest */
} LvitCatch;
void lvit_catch_push(LvitCatch *c);
void lvit_catch_pop(LvitCatch *c);

/* What the next allocations of this thread are for, in the user's terms and with the flags that
 * size it ("the activations of a batch of 64 samples (--batch, --grid, --dim)"): an allocation
 * that fails says so and exits LVIT_EXIT_NOMEM. NULL: back to "a working buffer". */
void lvit_alloc_what(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *xmalloc(size_t n);            /* dies with the size on failure */
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);  /* dies with the size on failure */
void *xaligned(size_t n);           /* 64-byte aligned, zeroed; free with free() */
char *xstrdup(const char *s);

#endif
