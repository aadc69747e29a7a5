/* Small value syntaxes shared by the command line, the training options and the C API. */
#include "core/parse.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>

int parse_float_list(const char *s, float *out, int n) {
    int k = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (errno || end == p || !isfinite(x) || k >= n) return -1;
        out[k++] = (float)x;
        if (*end == ',') p = end + 1;
        else if (*end == 0) p = end;
        else return -1;
    }
    return k ? k : -1;
}

int parse_grid(const char *s, int *h, int *w) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (errno || end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *q = end + 1;
    long b = strtol(q, &end, 10);
    if (errno || end == q || *end || a < 1 || b < 1 || a > 1000000 || b > 1000000) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

int parse_split_escaped(char *s, char sep, const char **out, int n) {
    int k = 0;
    char *w = s, *start = s;
    for (char *r = s;; r++) {
        if (*r == '\\' && (r[1] == sep || r[1] == '\\')) {
            *w++ = *++r;
            continue;
        }
        if (*r == sep || !*r) {
            int end = !*r;
            *w++ = 0;
            if (*start && k < n) out[k++] = start;
            start = w;
            if (end) break;
            continue;
        }
        *w++ = *r;
    }
    return k;
}
