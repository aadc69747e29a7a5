/* lvit's CPU flash attention alone (attn_fwd_cpu / attn_bwd_cpu, src/attention/), timed, with
 * the machine's sgemm ceiling measured in the same run. Built and driven by
 * bench/bench_attention.sh, which compares it with PyTorch's SDPA (bench/attention_torch.py).
 *
 *   bench_attention OUT.tsv S:d:WHAT:THREADS ...      e.g. 4096:64:fb:1+2 65536:64:f:2
 *
 * WHAT: f = forward only, fb = forward then backward (each timed). THREADS: '+'-separated.
 * Batch 1, heads NH (environment ATTN_HEADS, default 4). q, k, v live in one fused
 * [B,S,3,NH,d] buffer and o in [B,S,NH,d], as in the model.
 * Flops: forward 4*B*NH*S*S*d (QK^T and PV); backward 2.5x that (it recomputes P), so
 * forward+backward counts 3.5x. A time is the best of the repetitions (1 for the largest).
 * Peak memory: the rise of the process's peak RSS (VmHWM, reset through /proc/self/clear_refs)
 * during the first repetition, everything the call needs beyond q, k, v and dout: o, lse,
 * dq/dk/dv and the workspace (allocated inside the measured window), reported with the
 * workspace size. The sgemm ceiling: OpenBLAS sgemm of 2048x2048 by 2048x2048, best of 3.
 * OUT.tsv gets "ceiling THREADS GFLOPS" and
 * "lvit S d NH B THREADS fwd_s fb_s(or -) peak_bytes ws_bytes reps" lines.
 */
#include "attention/attention.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The instruction-set build the kernels picked, where src/attention reports it. */
extern const char *attn_isa_cpu(void) __attribute__((weak));
void openblas_set_num_threads(int n);

static float *alloc_floats(size_t n) {
    float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!p) {
        fprintf(stderr, "bench_attention: out of memory (%zu floats)\n", n);
        exit(1);
    }
    return p;
}

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
}

/* Peak RSS in bytes (VmHWM), or 0 where /proc does not say. */
static long long peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lld kB", &kb) == 1) break;
    fclose(f);
    return kb * 1024;
}

/* Resets the peak RSS to the current RSS (Linux: "5" to clear_refs); 0 on success. */
static int reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    const int ok = fputs("5", f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static double sgemm_ceiling(int threads) {
    const int n = 2048;
    float *a = alloc_floats((size_t)n * n), *b = alloc_floats((size_t)n * n);
    float *c = alloc_floats((size_t)n * n);
    fill(a, (size_t)n * n, 1u);
    fill(b, (size_t)n * n, 2u);
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    double best = 1e30;
    for (int r = 0; r < 4; r++) { /* the first is a warm-up */
        const double t0 = omp_get_wtime();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                    c, n);
        const double t = omp_get_wtime() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * (double)n * n / best * 1e-9;
}

/* One case at one thread count: best forward and forward+backward times, peak memory. */
static void run_case(FILE *out, int64_t S, int d, int NH, int with_bwd, int threads) {
    const int B = 1;
    const int64_t D = (int64_t)NH * d, BS = (int64_t)B * S;
    AttnDims dm = {.B = B, .NH = NH, .d = d, .Sq = S, .Sk = S, .q_stride = 3 * D,
                   .k_stride = 3 * D, .v_stride = 3 * D, .o_stride = D,
                   .scale = 1.0f / sqrtf((float)d)};
    omp_set_num_threads(threads);
    float *qkv = alloc_floats((size_t)(BS * 3 * D)), *dout = alloc_floats((size_t)(BS * D));
    fill(qkv, (size_t)(BS * 3 * D), 1234u + (unsigned)S + (unsigned)d);
    fill(dout, (size_t)(BS * D), 99u);
    const double flops = 4.0 * B * NH * (double)S * (double)S * d;
    const double work = with_bwd ? 3.5 * flops : flops;
    const int reps = work > 3e11 ? 1 : work > 3e10 ? 2 : 4;

    const int have_rss = reset_peak_rss() == 0;
    const long long rss0 = peak_rss();
    const size_t ws_floats = attn_workspace_floats_cpu(&dm, omp_get_max_threads());
    float *ws = alloc_floats(ws_floats), *o = alloc_floats((size_t)(BS * D));
    float *lse = alloc_floats((size_t)(B * NH * S));
    float *dqkv = with_bwd ? alloc_floats((size_t)(BS * 3 * D)) : NULL;
    double tf = 1e30, tb = 1e30;
    long long peak = -1;
    for (int r = 0; r < reps + (reps > 1); r++) { /* a warm-up first when repeating */
        if (dqkv) memset(dqkv, 0, sizeof(float) * (size_t)(BS * 3 * D));
        const double t0 = omp_get_wtime();
        attn_fwd_cpu(o, lse, qkv, qkv + D, qkv + 2 * D, &dm, ws);
        const double t1 = omp_get_wtime();
        if (dqkv)
            attn_bwd_cpu(dqkv, dqkv + D, dqkv + 2 * D, dout, qkv, qkv + D, qkv + 2 * D, o, lse,
                         &dm, ws);
        const double t2 = omp_get_wtime();
        if (r == 0 && have_rss) peak = peak_rss() - rss0;
        if (reps > 1 && r == 0) continue;
        if (t1 - t0 < tf) tf = t1 - t0;
        if (t2 - t0 < tb) tb = t2 - t0;
    }
    const double gf = flops / tf * 1e-9, gb = 3.5 * flops / tb * 1e-9;
    printf("S %6lld d %3d threads %d | fwd %9.3f s %7.1f GFLOP/s %9.0f tok/s", (long long)S, d,
           threads, tf, gf, (double)BS / tf);
    if (with_bwd)
        printf(" | fwd+bwd %9.3f s %7.1f GFLOP/s %9.0f tok/s", tb, gb, (double)BS / tb);
    printf(" | peak +%.1f MiB (workspace %.1f MiB)\n", peak / 1048576.0,
           ws_floats * 4.0 / 1048576.0);
    fflush(stdout);
    fprintf(out, "lvit\t%lld\t%d\t%d\t%d\t%d\t%.6f\t", (long long)S, d, NH, B, threads, tf);
    if (with_bwd)
        fprintf(out, "%.6f", tb);
    else
        fputc('-', out);
    fprintf(out, "\t%lld\t%zu\t%d\n", peak, ws_floats * sizeof(float), reps);
    fflush(out);
    free(ws);
    free(o);
    free(lse);
    free(dqkv);
    free(qkv);
    free(dout);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_attention OUT.tsv S:d:f|fb:THREADS ... "
                        "(e.g. 4096:64:fb:1+2)\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    const char *h = getenv("ATTN_HEADS");
    const int NH = h && atoi(h) > 0 ? atoi(h) : 4;
    const char *isa = attn_isa_cpu ? attn_isa_cpu() : "(this tree does not report one)";
    printf("attention kernels: %s; heads %d, batch 1\n", isa, NH);
    fprintf(out, "info\tlvit attention kernels: %s\n", isa);
    int maxt = 1;
    for (int i = 2; i < argc; i++) { /* parse everything before running anything */
        long long S;
        int d, n = 0;
        char what[4];
        if (sscanf(argv[i], "%lld:%d:%3[fb]:%n", &S, &d, what, &n) != 3 || n == 0 || S < 1 ||
            d < 1 || (strcmp(what, "f") && strcmp(what, "fb"))) {
            fprintf(stderr, "bench_attention: case '%s': expected S:d:f|fb:THREADS, "
                            "e.g. 4096:64:fb:1+2\n", argv[i]);
            return 2;
        }
        for (const char *t = argv[i] + n; *t; t += strcspn(t, "+"), t += *t == '+') {
            const int th = atoi(t);
            if (th < 1) {
                fprintf(stderr, "bench_attention: case '%s': bad thread count\n", argv[i]);
                return 2;
            }
            if (th > maxt) maxt = th;
        }
    }
    for (int t = 1; t <= maxt; t++) {
        const double g = sgemm_ceiling(t);
        printf("sgemm ceiling (OpenBLAS, 2048^3), %d thread(s): %.1f GFLOP/s\n", t, g);
        fprintf(out, "ceiling\t%d\t%.2f\n", t, g);
    }
    for (int i = 2; i < argc; i++) {
        long long S;
        int d, n = 0;
        char what[4];
        sscanf(argv[i], "%lld:%d:%3[fb]:%n", &S, &d, what, &n);
        for (const char *t = argv[i] + n; *t; t += strcspn(t, "+"), t += *t == '+')
            run_case(out, S, d, NH, strcmp(what, "fb") == 0, atoi(t));
    }
    return fclose(out) == 0 ? 0 : 1;
}
