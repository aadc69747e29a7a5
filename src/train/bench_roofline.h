/* lvit bench's yardsticks and its roofline table: the machine's sgemm rate and memory bandwidth
 * measured at start-up, and, under --profile, each kernel op's time, rate, bytes and arithmetic
 * intensity against the ceiling at that intensity (kernels/profile.c counts, kernels/
 * profile_cost.c says what), printed and optionally drawn as a PNG (eval/roofline.h). */
#ifndef LVIT_BENCH_ROOFLINE_H
#define LVIT_BENCH_ROOFLINE_H

typedef struct BenchCeilings {
    double sgemm_gflops;   /* 1024^3 cblas_sgemm; 0 = not measured */
    double bw_gbs;         /* STREAM triad over 3 x 64 MiB; 0 = not measured */
    int threads;
    char cpu[64];          /* the CPU's model name */
} BenchCeilings;

/* Measures both ceilings with the OpenMP threads set now and prints them with the CPU model. */
void bench_ceilings_measure(BenchCeilings *c);

/* Dies with a message naming path (exit LVIT_EXIT_USAGE) unless a PNG can be written there, so
 * that a bad --profile-png fails before the timed steps rather than after. */
void bench_roofline_check_path(const char *png);

/* The table of the ops profiled since kernels_profile_reset over steps steps (mean_step_s the
 * mean whole step), against c (NULL or zeros: no ceilings, those columns show "-"); writes the
 * roofline plot to png unless it is NULL (dies naming it if that fails). */
void bench_roofline_report(int steps, double mean_step_s, const BenchCeilings *c, const char *png);

#endif
