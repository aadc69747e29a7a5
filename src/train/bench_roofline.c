/* lvit bench's ceilings and roofline table (train/bench_roofline.h). */
#include "train/bench_roofline.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <omp.h>
#include "core/check.h"
#include "core/cpu.h"
#include "core/log.h"
#include "eval/roofline.h"
#include "kernels/cpu/peak_cpu.h"
#include "kernels/kernels.h"

void bench_ceilings_measure(BenchCeilings *c) {
    CpuInfo ci;
    cpu_detect(&ci);
    *c = (BenchCeilings){.threads = omp_get_max_threads()};
    /* cpuid pads the brand string with spaces */
    const char *b = ci.brand;
    while (*b == ' ') b++;
    snprintf(c->cpu, sizeof c->cpu, "%s", *b ? b : "unknown CPU");
    for (size_t n = strlen(c->cpu); n > 0 && c->cpu[n - 1] == ' '; n--) c->cpu[n - 1] = 0;
    c->sgemm_gflops = cpu_sgemm_gflops(1024, 0.5);
    /* 3 x 64 MiB is well beyond the last-level cache of today's CPUs; best of 5 passes */
    c->bw_gbs = cpu_triad_gbps(64, 5);
    log_info("machine: %s, %d threads: sgemm (1024^3) %.1f GFLOP/s, memory (triad, 3 x 64 MiB) %.1f GB/s", c->cpu,
             c->threads, c->sgemm_gflops, c->bw_gbs);
}

void bench_roofline_check_path(const char *png) {
    struct stat st;
    if (!stat(png, &st) && S_ISDIR(st.st_mode))
        DIE_USER("lvit bench: cannot write --profile-png '%s': it is a directory", png);
    /* the plot goes through "<png>.tmp.<pid>" and a rename: try that name now */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", png, (long)getpid()) >= (int)sizeof tmp)
        DIE_USER("lvit bench: cannot write --profile-png '%s': path too long", png);
    FILE *f = fopen(tmp, "wb");
    if (!f) DIE_USER("lvit bench: cannot write --profile-png '%s': %s", png, strerror(errno));
    fclose(f);
    remove(tmp);
}

/* The ceiling at intensity ai and the fraction of it reached; in the memory-bound region the
 * fraction is bytes/s over the bandwidth (the same ratio, and defined for ops without flops). */
static double roof_at(const BenchCeilings *c, double ai) { return fmin(c->sgemm_gflops, c->bw_gbs * ai); }
static double roof_frac(const BenchCeilings *c, double ai, double gflops, double gbs) {
    return c->bw_gbs * ai < c->sgemm_gflops ? gbs / c->bw_gbs : gflops / c->sgemm_gflops;
}

static void row(const char *name, double ms, const char *pct, const char *calls, double gflop_step, double gflops,
                double gbs, double ai, const BenchCeilings *c, int have) {
    char roof[32] = "-", frac[32] = "-";
    if (have) {
        snprintf(roof, sizeof roof, "%.1f", roof_at(c, ai));
        snprintf(frac, sizeof frac, "%.1f%%", 100 * roof_frac(c, ai, gflops, gbs));
    }
    log_info("  %-18s %9.2f %6s %6s %11.6g %8.2f %8.2f %8.3f %9s %6s", name, ms, pct, calls, gflop_step, gflops, gbs,
             ai, roof, frac);
}

void bench_roofline_report(int steps, double mean_step_s, const BenchCeilings *c, const char *png) {
    KernelProfileOp ops[KERNELS_PROFILE_MAX_OPS];
    const int n = kernels_profile_ops(ops, KERNELS_PROFILE_MAX_OPS);
    const int have = c && c->sgemm_gflops > 0 && c->bw_gbs > 0;
    double t = 0, fl = 0, by = 0;
    long calls = 0;
    for (int i = 0; i < n; i++) t += ops[i].seconds, fl += ops[i].flops, by += ops[i].bytes, calls += ops[i].calls;
    log_info("profile: time per step by op (%d steps), total %.1f ms in kernels", steps, t * 1e3 / steps);
    if (have)
        log_info("roofline ceilings: sgemm %.1f GFLOP/s, memory %.1f GB/s (ridge at %.2f flop/byte)", c->sgemm_gflops,
                 c->bw_gbs, c->sgemm_gflops / c->bw_gbs);
    log_info("  %-18s %9s %6s %6s %11s %8s %8s %8s %9s %6s", "op", "ms/step", "%time", "calls", "GFLOP/step",
             "GFLOP/s", "GB/s", "flop/B", "roof GF/s", "%roof");
    char pct[16], cs[24];
    for (int i = 0; i < n; i++) {
        const KernelProfileOp *o = &ops[i];
        const double s = o->seconds > 0 ? o->seconds : 1e-12;
        snprintf(pct, sizeof pct, "%.1f%%", t > 0 ? 100 * o->seconds / t : 0);
        snprintf(cs, sizeof cs, "%ld", o->calls / steps);
        row(o->name, o->seconds * 1e3 / steps, pct, cs, o->flops / steps / 1e9, o->flops / s / 1e9,
            o->bytes / s / 1e9, o->bytes > 0 ? o->flops / o->bytes : 0, c, have);
    }
    const double ts = t > 0 ? t : 1e-12, ai = by > 0 ? fl / by : 0;
    snprintf(cs, sizeof cs, "%ld", calls / steps);
    row("all kernels", t * 1e3 / steps, "100%", cs, fl / steps / 1e9, fl / ts / 1e9, by / ts / 1e9, ai, c, have);
    /* The whole step (kernels and everything between them) against the sgemm ceiling. */
    const double st = mean_step_s > 0 ? mean_step_s : 1e-12, sgf = fl / steps / st / 1e9;
    char frac[32] = "-";
    if (have) snprintf(frac, sizeof frac, "%.1f%%", 100 * sgf / c->sgemm_gflops);
    log_info("  %-18s %9.2f %6s %6s %11.6g %8.2f %8.2f %8.3f %9s %6s", "whole step", st * 1e3, "", "",
             fl / steps / 1e9, sgf, by / steps / st / 1e9, ai, have ? "sgemm" : "-", frac);
    if (!png || lvit_rank() != 0) return; /* one writer under MPI */
    RooflinePoint pts[KERNELS_PROFILE_MAX_OPS];
    for (int i = 0; i < n; i++) {
        const double s = ops[i].seconds > 0 ? ops[i].seconds : 1e-12;
        pts[i] = (RooflinePoint){ops[i].name, ops[i].bytes > 0 ? ops[i].flops / ops[i].bytes : 0,
                                 ops[i].flops / s / 1e9, t > 0 ? ops[i].seconds / t : 0};
    }
    char title[160], err[1024];
    if (c && c->cpu[0])
        snprintf(title, sizeof title, "lvit bench roofline: %s, %d threads, %.1f ms/step", c->cpu, c->threads, st * 1e3);
    else
        snprintf(title, sizeof title, "lvit bench roofline: %.1f ms/step (no ceilings measured)", st * 1e3);
    if (roofline_png(png, pts, n, have ? c->sgemm_gflops : 0, have ? c->bw_gbs : 0, title, err, sizeof err))
        DIE_USER("lvit bench: --profile-png: %s", err);
    log_info("wrote %s", png);
}
