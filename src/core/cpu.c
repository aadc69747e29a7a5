/* Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) can pick a slow kernel on recent Xeons ("Prescott",
 * about 20 GFLOP/s per core instead of about 110 with SkylakeX), and environments may preset
 * OPENBLAS_CORETYPE to something worse than the CPU supports. OpenBLAS reads the variable once,
 * in its library constructor, so lvit decides from CPUID in a constructor of priority 101: with
 * OpenBLAS linked statically that runs before OpenBLAS's own (default-priority) constructor.
 * LVIT_BLAS_CORETYPE forces a choice; LVIT_BLAS_CORETYPE=keep leaves the environment alone. */
#include "cpu.h"
#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

extern char *openblas_get_corename(void);

static char g_choice[160] = "not set";

void cpu_detect(CpuInfo *ci) {
    memset(ci, 0, sizeof *ci);
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    unsigned maxleaf = a;
    memcpy(ci->vendor + 0, &b, 4);
    memcpy(ci->vendor + 4, &d, 4);
    memcpy(ci->vendor + 8, &c, 4);
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int osxsave = (c >> 27) & 1;
        ci->fma = (c >> 12) & 1;
        unsigned xcr0 = 0;
        if (osxsave) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            xcr0 = lo;
        }
        int ymm_ok = (xcr0 & 6) == 6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
        if (maxleaf >= 7) {
            __cpuid_count(7, 0, a, b, c, d);
            ci->avx2 = ymm_ok && ((b >> 5) & 1);
            ci->avx512f = zmm_ok && ((b >> 16) & 1);
            ci->avx512dq = zmm_ok && ((b >> 17) & 1);
            ci->avx512bw = zmm_ok && ((b >> 30) & 1);
            ci->avx512vl = zmm_ok && ((b >> 31) & 1);
        }
        if (!ymm_ok) ci->fma = 0;
    }
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        unsigned *br = (unsigned *)ci->brand;
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002 + i, &br[4 * i], &br[4 * i + 1], &br[4 * i + 2], &br[4 * i + 3]);
        ci->brand[63] = 0;
    }
#endif
}

const char *cpu_blas_coretype(const CpuInfo *ci) {
    if (ci->avx512f && ci->avx512bw && ci->avx512vl && ci->avx512dq) return "SkylakeX";
    if (ci->avx2 && ci->fma) return strcmp(ci->vendor, "AuthenticAMD") == 0 ? "Zen" : "Haswell";
    return NULL;
}

/* lvit's threads meet at many short parallel regions per step. When they own their cores,
 * spinning between regions (OMP_WAIT_POLICY=active) is several times faster than going to
 * sleep (1.8 s vs 0.32 s per bench step on 2 idle cores). When other processes already keep
 * the cores busy, spinning threads steal the time slices the working ones need and it turns
 * the other way (2.7 s active vs 1.1 s passive per bench step at load 8 on 2 cores). So lvit
 * spins only when the cores are free now: fewer other runnable threads than the online cores
 * minus one half (the least of a few samples of /proc/stat's procs_running, less this thread:
 * the load average would count the jobs that just ended, such as the previous run of a script),
 * and no more local MPI ranks than cores. A user's own OMP_WAIT_POLICY wins. */
static char g_omp_choice[160] = "not set";

static long runnable_others(void) {
    long least = -1;
    for (int k = 0; k < 5; k++) {
        FILE *f = fopen("/proc/stat", "r");
        if (!f) return 0;
        char line[256];
        long running = -1;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "procs_running %ld", &running) == 1) break;
        fclose(f);
        if (running >= 1 && (least < 0 || running - 1 < least)) least = running - 1;
        if (k < 4) nanosleep(&(struct timespec){.tv_nsec = 2000000}, NULL);
    }
    return least < 0 ? 0 : least;
}

static void cpu_omp_choose(void) {
    const char *user = getenv("OMP_WAIT_POLICY");
    const char *ours = getenv("LVIT_OMP_WAIT_CHOICE"); /* set below, seen again after a re-exec */
    if (user && ours) {
        snprintf(g_omp_choice, sizeof g_omp_choice, "%s", ours);
        return;
    }
    if (user) {
        snprintf(g_omp_choice, sizeof g_omp_choice, "OMP_WAIT_POLICY=%s (yours)", user);
        return;
    }
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *ranks_env = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (!ranks_env) ranks_env = getenv("MPI_LOCALNRANKS");
    if (!ranks_env) ranks_env = getenv("SLURM_NTASKS_PER_NODE");
    const long ranks = ranks_env ? atol(ranks_env) : 1;
    const long others = runnable_others();
    if (cores > 0 && (ranks > cores || (double)others >= (double)cores - 0.5)) {
        setenv("OMP_WAIT_POLICY", "passive", 0);
        snprintf(g_omp_choice, sizeof g_omp_choice,
                 "passive: the cores are busy (%ld other runnable threads, %ld local ranks, %ld cores)",
                 others, ranks, cores);
    } else {
        setenv("OMP_WAIT_POLICY", "active", 0);
        snprintf(g_omp_choice, sizeof g_omp_choice, "active (%ld other runnable threads, %ld cores)",
                 others, cores);
    }
    setenv("LVIT_OMP_WAIT_CHOICE", g_omp_choice, 1);
}

const char *cpu_omp_choice(void) { return g_omp_choice; }

__attribute__((constructor(101))) static void cpu_runtime_choose(void) {
#ifdef LVIT_LIBRARY
    /* liblvit (cmake/library.cmake) lives in a host program: its OpenBLAS and OpenMP runtime are
     * shared libraries that have initialised already, so setting their variables here would change
     * nothing but the environment the host hands its children. The host's environment decides. */
    snprintf(g_choice, sizeof g_choice, "the program's environment (liblvit does not set OPENBLAS_CORETYPE)");
    return;
#endif
    cpu_omp_choose();
    const char *force = getenv("LVIT_BLAS_CORETYPE");
    const char *prev = getenv("OPENBLAS_CORETYPE");
    if (force && strcmp(force, "keep") == 0) {
        snprintf(g_choice, sizeof g_choice, "kept OPENBLAS_CORETYPE=%s (LVIT_BLAS_CORETYPE=keep)", prev ? prev : "(unset)");
        return;
    }
    const char *want = force;
    if (!want) {
        CpuInfo ci;
        cpu_detect(&ci);
        want = cpu_blas_coretype(&ci);
    }
    if (!want) {
        snprintf(g_choice, sizeof g_choice, "OpenBLAS autodetect (no AVX2/AVX-512)");
        return;
    }
    if (prev && strcmp(prev, want) != 0)
        snprintf(g_choice, sizeof g_choice, "%s from %s (overrides OPENBLAS_CORETYPE=%s)", want,
                 force ? "LVIT_BLAS_CORETYPE" : "CPUID", prev);
    else
        snprintf(g_choice, sizeof g_choice, "%s from %s", want, force ? "LVIT_BLAS_CORETYPE" : "CPUID");
    setenv("OPENBLAS_CORETYPE", want, 1);
}

const char *cpu_blas_corename(void) { return openblas_get_corename(); }
const char *cpu_blas_choice(void) { return g_choice; }

void cpu_blas_ensure(char **argv) {
    const char *want = getenv("OPENBLAS_CORETYPE");
    const char *have = openblas_get_corename();
    if (!want || !have || strcasecmp(want, have) == 0) return;
    /* A shared OpenBLAS initialized before our constructor: run again with the environment
     * set (once; LVIT_BLAS_REEXEC stops a loop if OpenBLAS does not know the name). */
    if (getenv("LVIT_BLAS_REEXEC")) return;
    setenv("LVIT_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
}
