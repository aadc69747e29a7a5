/* Table-driven flags: each command declares its options once; parsing, validation and
 * --help come from that table. Errors name the flag and what was expected, exit code 2. */
#ifndef LVIT_ARGS_H
#define LVIT_ARGS_H
#include "core/parse.h"
#include <stddef.h>
#include <stdint.h>

typedef enum { ARG_INT, ARG_I64, ARG_FLOAT, ARG_STR, ARG_FLAG, ARG_CHOICE } ArgType;

typedef struct ArgSpec {
    const char *name;     /* without the leading "--" */
    ArgType type;
    void *dst;            /* int*, int64_t*, float*, const char**, int* (flag, choice index) */
    const char *help;
    const char *choices;  /* ARG_CHOICE: "agg|multi" */
    double min, max;      /* numeric range (inclusive) when min < max */
    int seen;             /* set by the parser */
} ArgSpec;

/* Parses argv[first..argc) against specs (terminated by name == NULL); "-o" stands for
 * "--output" where a command has that option. Positional arguments
 * are collected into pos (up to maxpos). Prints usage and exits 0 on --help/-h; on error prints
 * the reason and exits 2. Returns the number of positional arguments. */
int args_parse(ArgSpec *specs, int argc, char **argv, int first, const char *cmd, const char *usage,
               const char **pos, int maxpos);
/* The same without exiting (for callers that must not, e.g. fuzzing): returns the number of
 * positional arguments, ARGS_HELP on --help/-h (nothing printed), or ARGS_ERROR with the
 * message args_parse would print in err. */
enum { ARGS_ERROR = -1, ARGS_HELP = -2 };
int args_parse_core(ArgSpec *specs, int argc, char **argv, int first, const char *cmd, const char **pos,
                    int maxpos, char *err, size_t errlen);
void args_print_help(const ArgSpec *specs, const char *cmd, const char *usage);
const ArgSpec *args_find(const ArgSpec *specs, const char *name);

#endif
