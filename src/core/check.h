/* Errors that stop the job, loudly and precisely (DESIGN principle 5). */
#ifndef LVIT_CHECK_H
#define LVIT_CHECK_H
#include <stddef.h>
#include <stdint.h>

/* Exit codes: 1 internal/runtime failure, 2 bad user input (flags, files). */
enum { LVIT_EXIT_FAIL = 1, LVIT_EXIT_USAGE = 2 };

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

void *xmalloc(size_t n);            /* dies with the size on failure */
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);  /* dies with the size on failure */
void *xaligned(size_t n);           /* 64-byte aligned, zeroed; free with free() */
char *xstrdup(const char *s);

#endif
