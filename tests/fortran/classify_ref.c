/* The reference for tests/fortran/classify_test.f90: a classify checkpoint's logits from the C API
 * (include/lvit.h) on a deterministic window, built by tests/cli_install.sh against the installed
 * header and library as a user would. x [V][H][W] is each band's training mean plus its std times
 * sin(0.37 k) (k the flat index), so the model sees in-distribution values that differ everywhere.
 * Writes x to IN.raw and the K logits to EXPECTED.raw (float32, native byte order).
 *   classify_ref CHECKPOINT IN.raw EXPECTED.raw */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <lvit.h>

static int write_raw(const char *path, const float *a, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(a, sizeof *a, n, f) != n || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s CHECKPOINT IN.raw EXPECTED.raw\n", argv[0]);
        return 2;
    }
    LvitOptions o = {.threads = 2};
    lvit_model *m = NULL;
    if (lvit_open(argv[1], &o, &m) != LVIT_OK) {
        fprintf(stderr, "%s\n", lvit_last_error());
        return 1;
    }
    int H, W;
    const int V = lvit_num_inputs(m), K = lvit_num_classes(m);
    if (strcmp(lvit_task(m), "classify") || K <= 0 || V <= 0 || lvit_grid(m, &H, &W) != LVIT_OK) {
        fprintf(stderr, "%s: not a classify model (task %s, %d classes, %d bands)\n", argv[1], lvit_task(m), K, V);
        lvit_close(m);
        return 1;
    }
    const size_t n = (size_t)V * H * W;
    float *x = malloc(sizeof *x * n), *logits = malloc(sizeof *logits * (size_t)K);
    int rc = !x || !logits;
    for (int v = 0; v < V && !rc; v++) {
        double mean, std;
        rc = lvit_norm(m, v, &mean, &std) != LVIT_OK;
        for (size_t k = (size_t)v * H * W; k < (size_t)(v + 1) * H * W && !rc; k++)
            x[k] = (float)(mean + std * sin(0.37 * (double)k));
    }
    if (!rc && lvit_classify(m, x, NULL, logits) != LVIT_OK) rc = 1;
    if (rc) fprintf(stderr, "%s\n", *lvit_last_error() ? lvit_last_error() : "out of memory");
    if (!rc) rc = write_raw(argv[2], x, n) || write_raw(argv[3], logits, (size_t)K);
    if (!rc) printf("classify window %dx%d, %d bands, %d classes (first %s)\n", H, W, V, K, lvit_class_name(m, 0));
    free(x), free(logits);
    lvit_close(m);
    return rc;
}
