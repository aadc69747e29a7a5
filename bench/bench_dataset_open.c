/* The cost of dataset_open's cell check (docs/validation.md): dataset_open, then
 * dataset_check_cells alone, best of 20 opens of a file in the page cache.
 *   cc -O2 -Isrc bench/bench_dataset_open.c -o /tmp/bench_dataset_open build/liblvitcore.a \
 *      /usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.a /usr/lib/gcc/x86_64-linux-gnu/12/libgomp.a \
 *      -ldl -lpng -lz -lpthread -lnetcdf -leccodes -lm -lfftw3f -lfftw3
 *   /tmp/bench_dataset_open DATASET.lvd */
#include <stdio.h>
#include <time.h>
#include "data/dataset_file.h"
#include "data/dataset_check.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    if (argc < 2) {
        fputs("usage: bench_dataset_open DATASET.lvd\n", stderr);
        return 2;
    }
    char err[1024];
    Dataset ds;
    double best = 1e9, bestc = 1e9;
    long cells = 0;
    for (int r = 0; r < 20; r++) {
        double t0 = now();
        if (dataset_open(&ds, argv[1], err, sizeof err)) { puts(err); return 1; }
        double t1 = now();
        dataset_check_cells(&ds, argv[1], err, sizeof err);
        double t2 = now();
        if (t1 - t0 < best) best = t1 - t0;
        if (t2 - t1 < bestc) bestc = t2 - t1;
        cells = (long)ds.T * ds.V * ds.H * ds.W;
        dataset_free(&ds);
    }

    printf("%s: %ld cells; dataset_open (with the check) %.3f ms, the check alone %.3f ms = %.2f ns/cell\n", argv[1], cells, best * 1e3, bestc * 1e3, bestc * 1e9 / cells);
    return 0;
}
