#include "cli/args.h"
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"

const ArgSpec *args_find(const ArgSpec *specs, const char *name) {
    for (const ArgSpec *s = specs; s->name; s++)
        if (strcmp(s->name, name) == 0) return s;
    return NULL;
}

static const char *type_hint(const ArgSpec *s) {
    switch (s->type) {
    case ARG_INT:
    case ARG_I64: return "N";
    case ARG_FLOAT: return "X";
    case ARG_STR: return "S";
    case ARG_CHOICE: return s->choices;
    default: return "";
    }
}

void args_print_help(const ArgSpec *specs, const char *cmd, const char *usage) {
    printf("usage: lvit %s %s\n\noptions:\n", cmd, usage);
    for (const ArgSpec *s = specs; s->name; s++) {
        char left[64];
        snprintf(left, sizeof left, "--%s %s", s->name, type_hint(s));
        printf("  %-28s %s", left, s->help);
        switch (s->type) {
        case ARG_INT: printf(" (default %d)", *(int *)s->dst); break;
        case ARG_I64: printf(" (default %lld)", (long long)*(int64_t *)s->dst); break;
        case ARG_FLOAT: printf(" (default %g)", *(float *)s->dst); break;
        case ARG_STR:
            if (*(const char **)s->dst) printf(" (default %s)", *(const char **)s->dst);
            break;
        case ARG_CHOICE: {
            int k = *(int *)s->dst;
            const char *c = s->choices;
            for (int i = 0; i < k && c; i++) c = strchr(c, '|') ? strchr(c, '|') + 1 : NULL;
            if (c) printf(" (default %.*s)", (int)(strchr(c, '|') ? strchr(c, '|') - c : (long)strlen(c)), c);
            break;
        }
        default: break;
        }
        printf("\n");
    }
    printf("  %-28s %s\n", "--help", "show this help");
}

static int choice_index(const char *choices, const char *v) {
    int i = 0;
    size_t n = strlen(v);
    for (const char *c = choices; c; i++) {
        const char *e = strchr(c, '|');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        if (len == n && strncmp(c, v, n) == 0) return i;
        c = e ? e + 1 : NULL;
    }
    return -1;
}

/* Error message into err (as the caller of args_parse_core gets it); returns ARGS_ERROR. */
static int bad(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ARGS_ERROR;
}

static int set_value(ArgSpec *s, const char *cmd, const char *v, char *err, size_t errlen) {
    char *end = NULL;
    errno = 0;
    switch (s->type) {
    case ARG_INT:
    case ARG_I64: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end) return bad(err, errlen, "lvit %s: --%s expects an integer, got '%s'", cmd, s->name, v);
        if (s->min < s->max && (x < s->min || x > s->max))
            return bad(err, errlen, "lvit %s: --%s %lld is out of range [%.0f, %.0f]", cmd, s->name, x, s->min, s->max);
        if (s->type == ARG_INT && (x < INT_MIN || x > INT_MAX))   /* an unranged int flag */
            return bad(err, errlen, "lvit %s: --%s %lld is out of range [%d, %d]", cmd, s->name, x, INT_MIN, INT_MAX);
        if (s->type == ARG_INT) *(int *)s->dst = (int)x;
        else *(int64_t *)s->dst = x;
        break;
    }
    case ARG_FLOAT: {
        double x = strtod(v, &end);
        if (errno || end == v || *end || !isfinite(x))
            return bad(err, errlen, "lvit %s: --%s expects a number, got '%s'", cmd, s->name, v);
        if (s->min < s->max && (x < s->min || x > s->max))
            return bad(err, errlen, "lvit %s: --%s %g is out of range [%g, %g]", cmd, s->name, x, s->min, s->max);
        if (fabs(x) > FLT_MAX)   /* an unranged float flag: would become inf */
            return bad(err, errlen, "lvit %s: --%s %g is outside the float32 range", cmd, s->name, x);
        *(float *)s->dst = (float)x;
        break;
    }
    case ARG_STR: *(const char **)s->dst = v; break;
    case ARG_CHOICE: {
        int k = choice_index(s->choices, v);
        if (k < 0) return bad(err, errlen, "lvit %s: --%s expects one of %s, got '%s'", cmd, s->name, s->choices, v);
        *(int *)s->dst = k;
        break;
    }
    case ARG_FLAG: break;
    }
    return 0;
}

int args_parse_core(ArgSpec *specs, int argc, char **argv, int first, const char *cmd, const char **pos,
                    int maxpos, char *err, size_t errlen) {
    int npos = 0;
    if (err && errlen) err[0] = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 && args_find(specs, "output")) a = "--output"; /* the one short option */
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return ARGS_HELP;
        if (strncmp(a, "--", 2) != 0 || a[2] == 0) {
            if (a[0] == '-' && a[1] && !(a[1] >= '0' && a[1] <= '9'))
                return bad(err, errlen, "lvit %s: unknown option '%s' (see lvit %s --help)", cmd, a, cmd);
            if (npos >= maxpos)
                return bad(err, errlen, "lvit %s: unexpected argument '%s' (see lvit %s --help)", cmd, a, cmd);
            pos[npos++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (len >= sizeof name) return bad(err, errlen, "lvit %s: unknown option '%s' (see lvit %s --help)", cmd, a, cmd);
        memcpy(name, a + 2, len);
        name[len] = 0;
        ArgSpec *s = (ArgSpec *)args_find(specs, name);
        if (!s) return bad(err, errlen, "lvit %s: unknown option '--%s' (see lvit %s --help)", cmd, name, cmd);
        if (s->seen) return bad(err, errlen, "lvit %s: --%s given twice", cmd, name);
        s->seen = 1;
        if (s->type == ARG_FLAG) {
            if (eq) return bad(err, errlen, "lvit %s: --%s takes no value", cmd, name);
            *(int *)s->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) return bad(err, errlen, "lvit %s: --%s needs a value (%s)", cmd, name, type_hint(s));
        if (set_value(s, cmd, v, err, errlen)) return ARGS_ERROR;
    }
    return npos;
}

int args_parse(ArgSpec *specs, int argc, char **argv, int first, const char *cmd, const char *usage,
               const char **pos, int maxpos) {
    char err[2048];   /* lvit_die_at's own limit */
    int n = args_parse_core(specs, argc, argv, first, cmd, pos, maxpos, err, sizeof err);
    if (n == ARGS_HELP) {
        args_print_help(specs, cmd, usage);
        exit(0);
    }
    if (n < 0) DIE_USER("%s", err);
    return n;
}
