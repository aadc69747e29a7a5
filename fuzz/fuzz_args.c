/* libFuzzer target: command lines. The input is split into argv words at NUL or newline bytes
 * (at most 64 words) and parsed by args_parse_core against a table with every ArgSpec kind
 * (ranged and unranged numbers, strings, flags, choices, "-o" for --output, positionals);
 * string values then go through parse_float_list and parse_grid as the commands do. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "fuzz_util.h"

enum { ARGS_FUZZ_MAX_WORDS = 64 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* One copy with every separator made a NUL, so each word is a C string inside it. */
    char *buf = malloc(size + 1);
    FUZZ_ASSERT(buf);
    memcpy(buf, data, size);
    buf[size] = 0;
    char *argv[ARGS_FUZZ_MAX_WORDS + 2];
    int argc = 0;
    argv[argc++] = "lvit";
    argv[argc++] = "fuzz";
    for (size_t i = 0, start = 0; i <= size && argc < ARGS_FUZZ_MAX_WORDS + 2; i++) {
        if (i == size || buf[i] == 0 || buf[i] == '\n') {
            buf[i] = 0;
            argv[argc++] = buf + start;
            start = i + 1;
        }
    }
    int n = 3, steps_unranged = 0, flag = 0, choice = 1;
    int64_t big = 5;
    float lr = 1e-3f, any = 0;
    const char *out = NULL, *leads = "6", *grid = "32x64";
    ArgSpec specs[] = {
        {"steps", ARG_INT, &n, "ranged int", NULL, 1, 1000, 0},
        {"seed", ARG_INT, &steps_unranged, "int, no range", NULL, 0, 0, 0},
        {"big", ARG_I64, &big, "ranged i64", NULL, -1, 1e12, 0},
        {"lr", ARG_FLOAT, &lr, "ranged float", NULL, 0, 10, 0},
        {"any", ARG_FLOAT, &any, "float, no range", NULL, 0, 0, 0},
        {"output", ARG_STR, &out, "string (also -o)", NULL, 0, 0, 0},
        {"leads", ARG_STR, &leads, "float list", NULL, 0, 0, 0},
        {"grid", ARG_STR, &grid, "HxW", NULL, 0, 0, 0},
        {"resume", ARG_FLAG, &flag, "flag", NULL, 0, 0, 0},
        {"channels", ARG_CHOICE, &choice, "choice", "agg|multi|ulysses-ring", 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const char *pos[3];
    char err[2048];
    int npos = args_parse_core(specs, argc, argv, 2, "fuzz", pos, (int)(size % 4), err, sizeof err);
    FUZZ_ASSERT(npos == ARGS_ERROR || npos == ARGS_HELP || (npos >= 0 && npos <= (int)(size % 4)));
    if (npos == ARGS_ERROR) FUZZ_ASSERT(err[0] && memchr(err, 0, sizeof err));
    if (npos >= 0) {
        FUZZ_ASSERT(n >= 1 && n <= 1000 && big >= -1 && big <= (int64_t)1e12 && lr >= 0 && lr <= 10);
        FUZZ_ASSERT(choice >= 0 && choice <= 2 && (flag == 0 || flag == 1) && isfinite(any));
        for (int k = 0; k < npos; k++) (void)strlen(pos[k]);
        if (out) (void)strlen(out);
        float fl[16];
        int k = parse_float_list(leads, fl, 16);
        FUZZ_ASSERT(k == -1 || (k >= 1 && k <= 16));
        int h = 0, w = 0;
        if (parse_grid(grid, &h, &w) == 0) FUZZ_ASSERT(h >= 1 && w >= 1 && h <= 1000000 && w <= 1000000);
    }
    free(buf);
    return 0;
}
