/* Helpers shared by the safetensors tests (tests/test_safetensors*.c). */
#ifndef LVIT_UTIL_ST_H
#define LVIT_UTIL_ST_H

/* Writes one small valid file to path (the test fails if it cannot): metadata step = "12", an
 * F32 [2, 2] tensor "a" = scale * (1, 2, 3, 4) and a U8 [3] tensor "u" = (7, 8, 9), last in the
 * data buffer. Used for overwrite, truncation and fuzz tests. */
void tu_st_write_small(const char *path, float scale);

#endif
