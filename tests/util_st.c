/* Helpers shared by the safetensors tests: see util_st.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/safetensors.h"
#include "util_st.h"


/* One small valid file: used for overwrite, truncation and fuzz tests. */
void tu_st_write_small(const char *path, float scale) {
    char err[512];
    float a[4] = {1 * scale, 2 * scale, 3 * scale, 4 * scale};
    uint8_t u[3] = {7, 8, 9};
    const int64_t s22[2] = {2, 2}, s3[1] = {3};
    StWriter *w = st_writer_new();
    st_writer_meta(w, "step", "12");
    st_writer_add(w, "a", ST_F32, 2, s22, a);
    st_writer_add(w, "u", ST_U8, 1, s3, u);   /* last in the data buffer, non-empty */
    if (st_writer_finish(w, path, err, sizeof err)) fail_msg("%s", err);
}
