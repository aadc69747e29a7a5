/* The machine's ceilings, the yardsticks for lvit bench: the sgemm rate and the memory
 * bandwidth, both with the threads OpenMP runs (omp_get_max_threads()). */
#ifndef LVIT_PEAK_CPU_H
#define LVIT_PEAK_CPU_H
#include <stddef.h>

/* GFLOP/s of an n x n x n cblas_sgemm, repeated for at least min_seconds. */
double cpu_sgemm_gflops(int n, double min_seconds);
/* GB/s (1e9 bytes) of the STREAM triad a = b + s c over three arrays of mib_per_array MiB each,
 * the best of runs passes; counts 3 arrays' bytes per pass (the write-allocate read of a not
 * included, as STREAM does). 0 when the arrays cannot be allocated. */
double cpu_triad_gbps(size_t mib_per_array, int runs);

#endif
