/* Machine descriptions for lvit plan (plan/plan.h): the presets and the key=value file. */
#include <math.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plan/plan.h"

double cpu_sgemm_gflops(int n, double min_seconds);

static const double GiB = 1073741824.0, MiB = 1048576.0;

/* This machine: one rank per core (one BLAS thread each), the RAM shared by them. The process
 * baseline was measured with a tiny model (bench/plan_validate.sh, docs/scaling.md); the
 * efficiency is what lvit bench's steps reach of the sgemm rate at these sizes. */
static void preset_cpu(PlanMachine *m, double peak) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (cores < 1) cores = 1;
    snprintf(m->name, sizeof m->name, "cpu");
    m->ranks_per_node = (int)cores;
    m->mem_bytes = pages > 0 && psz > 0 ? (double)pages * psz / cores : 4 * GiB;
    if (peak <= 0) peak = cpu_sgemm_gflops(512, 0.2) * 1e9;
    m->peak_flops = peak / cores;
    m->efficiency = 0.5;
    m->intra_bw = 4e9, m->intra_lat = 5e-6;   /* shared-memory MPI */
    m->inter_bw = 1.25e9, m->inter_lat = 30e-6; /* 10 Gb/s Ethernet */
    m->base_bytes = 43 * MiB;        /* bench/plan_validate.sh: a 4-parameter model's peak RSS */
    m->base_mpi_bytes = 47 * MiB;    /* the same under mpirun -np 2 (Open MPI) */
    m->base_peer_bytes = 0.5 * MiB;  /* ... and per further rank at -np 4 */
    m->threads = 1;
    m->device = 0;
}

/* DGX H100: 8 GPUs of 80 GiB; fp32 on the CUDA cores (lvit's GPU path computes in fp32); NVLink 4
 * 450 GB/s per direction per GPU; 8 x 400 Gb/s InfiniBand NDR per node (400 GB/s). */
static void preset_h100(PlanMachine *m) {
    snprintf(m->name, sizeof m->name, "h100-node");
    m->ranks_per_node = 8;
    m->mem_bytes = 80 * GiB;
    m->peak_flops = 67e12;
    m->efficiency = 0.5;
    m->intra_bw = 450e9, m->intra_lat = 3e-6;
    m->inter_bw = 400e9, m->inter_lat = 5e-6;
    m->base_bytes = m->base_mpi_bytes = 1 * GiB; /* CUDA context, cuBLAS and NCCL buffers */
    m->base_peer_bytes = 0;
    m->threads = 1;
    m->device = 1;
    m->srun = 1;
}

/* Frontier: 4 MI250X = 8 GCDs of 64 GiB per node; fp32 matrix peak 47.9 TFLOP/s per GCD;
 * Infinity Fabric between GCDs 50 GB/s per direction (one link; two GCDs of a package have 200);
 * Slingshot 4 x 25 GB/s per node. */
static void preset_frontier(PlanMachine *m) {
    snprintf(m->name, sizeof m->name, "frontier-node");
    m->ranks_per_node = 8;
    m->mem_bytes = 64 * GiB;
    m->peak_flops = 47.9e12;
    m->efficiency = 0.4;
    m->intra_bw = 50e9, m->intra_lat = 3e-6;
    m->inter_bw = 100e9, m->inter_lat = 5e-6;
    m->base_bytes = m->base_mpi_bytes = 1 * GiB;
    m->base_peer_bytes = 0;
    m->threads = 1;
    m->device = 1;
    m->srun = 1;
}

int plan_machine_preset(const char *name, double cpu_peak, PlanMachine *m, char *err, size_t errlen) {
    memset(m, 0, sizeof *m);
    if (!strcmp(name, "cpu")) preset_cpu(m, cpu_peak);
    else if (!strcmp(name, "h100-node")) preset_h100(m);
    else if (!strcmp(name, "frontier-node")) preset_frontier(m);
    else {
        snprintf(err, errlen, "--machine %s: expected cpu, h100-node, frontier-node or a file of key=value lines", name);
        return -1;
    }
    return 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

int plan_machine_load(const char *path, double cpu_peak, PlanMachine *m, char *err, size_t errlen) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "--machine %s: cannot open it (%s)", path, strerror(errno));
        return -1;
    }
    static const struct { const char *key; size_t off; double scale; double lo, hi; } num[] = {
        {"mem_gib", offsetof(PlanMachine, mem_bytes), 1073741824.0, 1e-3, 1e7},
        {"peak_tflops", offsetof(PlanMachine, peak_flops), 1e12, 1e-6, 1e6},
        {"efficiency", offsetof(PlanMachine, efficiency), 1, 1e-3, 1},
        {"intra_gbs", offsetof(PlanMachine, intra_bw), 1e9, 1e-6, 1e6},
        {"intra_lat_us", offsetof(PlanMachine, intra_lat), 1e-6, 0, 1e6},
        {"inter_gbs", offsetof(PlanMachine, inter_bw), 1e9, 1e-6, 1e6},
        {"inter_lat_us", offsetof(PlanMachine, inter_lat), 1e-6, 0, 1e6},
        {"base_mib", offsetof(PlanMachine, base_bytes), 1048576.0, 0, 1e7},
        {"base_mpi_mib", offsetof(PlanMachine, base_mpi_bytes), 1048576.0, 0, 1e7},
        {"base_peer_mib", offsetof(PlanMachine, base_peer_bytes), 1048576.0, 0, 1e7},
    };
    char line[512];
    int ln = 0, rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        ln++;
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char *s = trim(line);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s line %d: expected key=value, got '%s'", path, ln, s);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1), *end = NULL;
        if (!strcmp(key, "preset")) {
            char name[64];
            snprintf(name, sizeof name, "%s", val);
            if (plan_machine_preset(name, cpu_peak, m, err, errlen)) {
                snprintf(err, errlen, "%s line %d: preset=%s: expected cpu, h100-node or frontier-node", path, ln, name);
                rc = -1;
            }
            continue;
        }
        if (!strcmp(key, "name")) {
            snprintf(m->name, sizeof m->name, "%s", val);
            continue;
        }
        if (!strcmp(key, "device") || !strcmp(key, "launcher")) {
            const int dev = !strcmp(key, "device");
            const char *a = dev ? "cpu" : "mpirun", *b = dev ? "cuda" : "srun";
            if (strcmp(val, a) && strcmp(val, b)) {
                snprintf(err, errlen, "%s line %d: %s=%s: expected %s or %s", path, ln, key, val, a, b);
                rc = -1;
            } else if (dev) m->device = !strcmp(val, b);
            else m->srun = !strcmp(val, b);
            continue;
        }
        errno = 0;
        double x = strtod(val, &end);
        if (errno || end == val || *end || !isfinite(x)) { /* (strtod reads "nan" and "inf") */
            snprintf(err, errlen, "%s line %d: %s expects a finite number, got '%s'", path, ln, key, val);
            rc = -1;
            break;
        }
        if (!strcmp(key, "ranks_per_node") || !strcmp(key, "threads")) {
            const int rpn = key[0] == 'r';
            if (x != (int)x || x < (rpn ? 1 : 0) || x > 1e6) {
                snprintf(err, errlen, "%s line %d: %s expects a whole number >= %d, got '%s'", path, ln, key, rpn, val);
                rc = -1;
            } else if (rpn) m->ranks_per_node = (int)x;
            else m->threads = (int)x;
            continue;
        }
        size_t i = 0;
        for (; i < sizeof num / sizeof *num && strcmp(num[i].key, key); i++) {}
        if (i == sizeof num / sizeof *num) {
            snprintf(err, errlen, "%s line %d: unknown key '%s' (keys: preset, name, ranks_per_node, mem_gib, peak_tflops, "
                     "efficiency, intra_gbs, intra_lat_us, inter_gbs, inter_lat_us, base_mib, base_mpi_mib, "
                     "base_peer_mib, threads, device, launcher)", path, ln, key);
            rc = -1;
        } else if (x < num[i].lo || x > num[i].hi) {
            snprintf(err, errlen, "%s line %d: %s = %s is out of range [%g, %g]", path, ln, key, val, num[i].lo, num[i].hi);
            rc = -1;
        } else {
            *(double *)((char *)m + num[i].off) = x * num[i].scale;
        }
    }
    fclose(f);
    if (!rc && (m->ranks_per_node < 1 || m->mem_bytes <= 0 || m->peak_flops <= 0 || m->intra_bw <= 0 || m->inter_bw <= 0)) {
        snprintf(err, errlen, "%s: ranks_per_node, mem_gib, peak_tflops, intra_gbs and inter_gbs are needed (or preset=...)",
                 path);
        rc = -1;
    }
    if (!rc && m->efficiency <= 0) m->efficiency = 0.5;
    if (!rc && !m->name[0]) snprintf(m->name, sizeof m->name, "%s", path);
    return rc;
}
