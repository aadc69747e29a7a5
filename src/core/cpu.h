/* CPU features and the BLAS kernel choice. */
#ifndef LVIT_CPU_H
#define LVIT_CPU_H

typedef struct CpuInfo {
    char vendor[16];
    char brand[64];
    int avx2, fma, avx512f, avx512bw, avx512vl, avx512dq;
} CpuInfo;

void cpu_detect(CpuInfo *ci);
/* The OpenBLAS core type that suits this CPU ("SkylakeX", "Haswell", "Zen"), or NULL. */
const char *cpu_blas_coretype(const CpuInfo *ci);
/* What the BLAS reports it runs (OpenBLAS core name), and how it was chosen. */
const char *cpu_blas_corename(void);
const char *cpu_blas_choice(void);
/* How the lvit binary set OpenMP's wait policy at start (active spinning on an idle machine,
 * passive on a busy one, or the user's OMP_WAIT_POLICY). */
const char *cpu_omp_choice(void);
/* Make sure the BLAS runs the kernel chosen for this CPU. With a static OpenBLAS the
 * constructor in cpu.c already did it; with a shared one that initialized first, re-exec
 * the binary once with the right environment (argv is the original). */
void cpu_blas_ensure(char **argv);

#endif
