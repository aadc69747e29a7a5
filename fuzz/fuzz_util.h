/* Shared by the fuzz targets (and tests/test_fuzz_regress.c, which compiles them all into one
 * program with LLVMFuzzerTestOneInput renamed): the input written to one fixed temporary file
 * per process and target, for parsers that take a path. */
#ifndef LVIT_FUZZ_UTIL_H
#define LVIT_FUZZ_UTIL_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The path "$TMPDIR/lvit-fuzz-<tag>-<pid>.safetensors" (/tmp without TMPDIR), holding exactly
 * data[0..size); aborts if it cannot be written, since every later result would be wrong. */
static inline const char *fuzz_write_temp(const char *tag, char *path, size_t pathlen, const uint8_t *data,
                                          size_t size) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/lvit-fuzz-%s-%ld.safetensors", dir && dir[0] ? dir : "/tmp", tag, (long)getpid());
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0) {
        perror(path);
        abort();
    }
    return path;
}

/* A broken promise of a parser that said "ok": crash loudly so the fuzzer records the input. */
#define FUZZ_ASSERT(cond)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                        \
        }                                                                                   \
    } while (0)

#endif
