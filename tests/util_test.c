#include "util_test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_quiet = 0;

/* LVIT_TEST_VERBOSE=1 prints the error of every check, passing or not (to see the margin). */
static int verbose(void) {
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("LVIT_TEST_VERBOSE");
        v = e && *e && *e != '0';
    }
    return v && !g_quiet;
}

int tu_set_quiet(int quiet) {
    int old = g_quiet;
    g_quiet = quiet;
    return old;
}

/* ---------------------------------------------------------------- RNG */

void tu_rng_seed(TuRng *r, uint64_t seed) { r->s = seed ^ 0x9E3779B97F4A7C15ull; }

uint64_t tu_rng_u64(TuRng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tu_rng_uniform(TuRng *r) { return (double)(tu_rng_u64(r) >> 11) * 0x1.0p-53; }

double tu_rng_normal(TuRng *r) {
    /* 1 - u keeps the log argument in (0, 1] */
    double u1 = 1.0 - tu_rng_uniform(r), u2 = tu_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void tu_fill_uniform(float *x, int64_t n, uint64_t seed, float lo, float hi) {
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * tu_rng_uniform(&r));
}

void tu_fill_normal(float *x, int64_t n, uint64_t seed, float mean, float std) {
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(mean + std * tu_rng_normal(&r));
}

void tu_fill_uniform_d(double *x, int64_t n, uint64_t seed, double lo, double hi) {
    TuRng r;
    tu_rng_seed(&r, seed);
    for (int64_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * tu_rng_uniform(&r);
}

/* ---------------------------------------------------------------- buffers */

static void *tu_calloc(int64_t n, size_t sz) {
    void *p = calloc(n > 0 ? (size_t)n : 1, sz);
    if (!p) {
        fprintf(stderr, "test: out of memory (%lld x %zu bytes)\n", (long long)n, sz);
        abort();
    }
    return p;
}

float *tu_falloc(int64_t n) { return tu_calloc(n, sizeof(float)); }
double *tu_dalloc(int64_t n) { return tu_calloc(n, sizeof(double)); }

double *tu_to_double(const float *x, int64_t n) {
    double *d = tu_dalloc(n);
    for (int64_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

void tu_fill_const(float *x, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

float *tu_dup_f(const float *x, int64_t n) {
    float *y = tu_falloc(n);
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

/* ---------------------------------------------------------------- error measures */

/* One implementation for float and double references: ref is read through get(). */
typedef double (*tu_get_fn)(const void *a, int64_t i);
static double get_f(const void *a, int64_t i) { return ((const float *)a)[i]; }
static double get_d(const void *a, int64_t i) { return ((const double *)a)[i]; }

static double rel_err(const float *got, const void *ref, tu_get_fn get, int64_t n,
                      int64_t *worst) {
    double scale = 0.0, emax = 0.0;
    int64_t wi = 0;
    for (int64_t i = 0; i < n; i++) {
        double r = get(ref, i), e = fabs((double)got[i] - r);
        if (isnan(e) || isnan(r)) {
            if (worst) *worst = i;
            return INFINITY;
        }
        if (fabs(r) > scale) scale = fabs(r);
        if (e > emax) {
            emax = e;
            wi = i;
        }
    }
    if (worst) *worst = wi;
    return emax / (scale > 1e-30 ? scale : 1e-30);
}

double tu_max_rel_err(const float *got, const double *ref, int64_t n, int64_t *worst) {
    return rel_err(got, ref, get_d, n, worst);
}

double tu_max_rel_err_ff(const float *got, const float *ref, int64_t n, int64_t *worst) {
    return rel_err(got, ref, get_f, n, worst);
}

static int close_impl(const char *what, const float *got, const void *ref, tu_get_fn get,
                      int64_t n, double tol, const char *file, int line) {
    int64_t wi = 0;
    double e = rel_err(got, ref, get, n, &wi);
    if (verbose()) fprintf(stderr, "%s:%d: %s: max rel err %.3g (tol %.3g)\n", file, line, what, e, tol);
    if (e <= tol) return 1;
    if (!g_quiet)
        fprintf(stderr,
                "%s:%d: %s: max rel err %.3g > %.3g at [%lld] of %lld: got %.9g ref %.9g\n",
                file, line, what, e, tol, (long long)wi, (long long)n,
                n > 0 ? (double)got[wi] : 0.0, n > 0 ? get(ref, wi) : 0.0);
    return 0;
}

int tu_close(const char *what, const float *got, const double *ref, int64_t n, double tol,
             const char *file, int line) {
    return close_impl(what, got, ref, get_d, n, tol, file, line);
}

int tu_close_ff(const char *what, const float *got, const float *ref, int64_t n, double tol,
                const char *file, int line) {
    return close_impl(what, got, ref, get_f, n, tol, file, line);
}

/* ---------------------------------------------------------------- gradient checks */

double tu_dot(const double *out, const double *R, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += out[i] * R[i];
    return s;
}

double tu_dot_f(const float *out, const double *R, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)out[i] * R[i];
    return s;
}

/* Differentiates loss w.r.t. x[idx[k]]; x is float or double (is_f). */
static int grad_impl(const char *what, tu_loss_fn loss, void *ctx, void *x, int is_f,
                     const float *grad, int64_t n, int nsample, double h, double tol,
                     const char *file, int line) {
    if (n <= 0) return 1;
    int64_t m = n <= nsample ? n : nsample;
    float *g = tu_falloc(m);
    double *fd = tu_dalloc(m);
    int64_t *idx = tu_calloc(m, sizeof(int64_t));
    TuRng r;
    tu_rng_seed(&r, 12345u + (uint64_t)n);
    for (int64_t k = 0; k < m; k++) {
        int64_t i = m == n ? k : (int64_t)(tu_rng_u64(&r) % (uint64_t)n);
        idx[k] = i;
        double lp, lm;
        if (is_f) {
            float *xf = x, x0 = xf[i];
            xf[i] = x0 + (float)h;
            lp = loss(ctx);
            xf[i] = x0 - (float)h;
            lm = loss(ctx);
            /* the step actually taken, after rounding to float */
            double step = ((double)(x0 + (float)h) - (double)(x0 - (float)h));
            xf[i] = x0;
            fd[k] = (lp - lm) / step;
        } else {
            double *xd = x, x0 = xd[i];
            xd[i] = x0 + h;
            lp = loss(ctx);
            xd[i] = x0 - h;
            lm = loss(ctx);
            xd[i] = x0;
            fd[k] = (lp - lm) / (2.0 * h);
        }
        g[k] = grad[i];
    }
    int64_t wk = 0;
    double e = tu_max_rel_err(g, fd, m, &wk);
    int ok = e <= tol;
    if (verbose())
        fprintf(stderr, "%s:%d: gradient %s: max rel err %.3g (tol %.3g)\n", file, line, what, e,
                tol);
    if (!ok && !g_quiet)
        fprintf(stderr,
                "%s:%d: gradient %s: max rel err %.3g > %.3g at [%lld] (%lld of %lld "
                "checked): analytic %.9g finite-diff %.9g\n",
                file, line, what, e, tol, (long long)idx[wk], (long long)m, (long long)n,
                (double)g[wk], fd[wk]);
    free(g);
    free(fd);
    free(idx);
    return ok;
}

int tu_grad_check(const char *what, tu_loss_fn loss, void *ctx, double *x, const float *grad,
                  int64_t n, int nsample, double h, double tol, const char *file, int line) {
    return grad_impl(what, loss, ctx, x, 0, grad, n, nsample, h, tol, file, line);
}

int tu_grad_check_f(const char *what, tu_loss_fn loss, void *ctx, float *x, const float *grad,
                    int64_t n, int nsample, float h, double tol, const char *file, int line) {
    return grad_impl(what, loss, ctx, x, 1, grad, n, nsample, h, tol, file, line);
}

/* ---------------------------------------------------------------- temporary files */

static char g_tmpdir[64];

const char *tu_tmpdir(void) { return g_tmpdir; }

int tu_tmpdir_setup(void **state) {
    (void)state;
    snprintf(g_tmpdir, sizeof g_tmpdir, "/tmp/lvit_test_XXXXXX");
    return mkdtemp(g_tmpdir) ? 0 : -1;
}

int tu_tmpdir_teardown(void **state) {
    (void)state;
    tu_remove_tree(g_tmpdir);
    return 0;
}

void tu_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", g_tmpdir, name); }

void tu_remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0755); /* a test may have made it read-only */
            tu_remove_tree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(dir);
}

uint8_t *tu_read_bytes(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = tu_calloc(len, 1);
    assert_int_equal(fread(p, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return p;
}

int tu_count_temporaries(void) {
    DIR *d = opendir(tu_tmpdir());
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}
