/* Forecast-skill accumulators; definitions in metrics.h. */
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

/* Below this many cells a sample is summed on the calling thread: at 5.625 deg (2048 cells)
 * a parallel region costs more than the arithmetic. From about 1 deg (65 160 cells) up the
 * rows are split across threads. */
#define SKILL_OMP_MIN_CELLS 65536

/* A variance is "zero" at or below this fraction of the uncentred moment (see metrics.h). */
#define SKILL_ZERO_VAR_REL 1e-24

#ifdef _OPENMP
#define SKILL_OMP_ROWS _Pragma("omp parallel for schedule(static) if (ncell >= SKILL_OMP_MIN_CELLS)")
#else
#define SKILL_OMP_ROWS
#endif

/* Pass-1 partials per row: weight, weighted squared error, anomaly sums and raw moments. */
enum { P_W, P_E2, P_E, P_F, P_Y, P_FF, P_YY, P1_N };
/* Pass-2 partials per row: centred moments. */
enum { P_COV, P_VF, P_VY, P2_N };

void skill_init(SkillAcc *a) {
    CHECK(a, "skill_init: NULL accumulator");
    memset(a, 0, sizeof *a);
}

/* Row partials are summed in row order after the parallel loop, so the result is the same for
 * any thread count (a reduction clause would make it depend on how rows were split). */
static void sum_rows(const double *part, int H, int n, double *out) {
    for (int k = 0; k < n; k++) out[k] = 0.0;
    for (int r = 0; r < H; r++)
        for (int k = 0; k < n; k++) out[k] += part[(int64_t)r * n + k];
}

void skill_add(SkillAcc *a, const float *f, const float *y, const float *c,
               const unsigned char *valid, const double *w, int H, int W) {
    CHECK(a && f && y, "skill_add: NULL accumulator, forecast or truth");
    CHECK(H > 0 && W > 0, "skill_add: bad grid %d x %d", H, W);
    const int64_t ncell = (int64_t)H * W;
    (void)ncell; /* read only by the OpenMP if clause */
    const int do_acc = c != NULL;
    double *part = xmalloc(sizeof(double) * (size_t)H * P1_N);

    /* Pass 1: total weight, squared error, anomaly means and raw second moments. The anomaly
     * sums are skipped when no climatology was given (RMSE only). */
    SKILL_OMP_ROWS
    for (int r = 0; r < H; r++) {
        const double wr = w ? w[r] : 1.0;
        double s[P1_N] = {0};
        for (int j = 0; j < W; j++) {
            const int64_t i = (int64_t)r * W + j;
            if (valid && !valid[i]) continue; /* never touch masked values: they may be NaN */
            const double e = (double)f[i] - (double)y[i];
            s[P_W] += 1.0;
            s[P_E2] += e * e;
            s[P_E] += e;
            if (do_acc) {
                const double fa = (double)f[i] - (double)c[i], ya = (double)y[i] - (double)c[i];
                s[P_F] += fa;
                s[P_Y] += ya;
                s[P_FF] += fa * fa;
                s[P_YY] += ya * ya;
            }
        }
        /* One weight per row: multiply the row sums once instead of every cell. */
        for (int k = 0; k < P1_N; k++) part[(int64_t)r * P1_N + k] = wr * s[k];
    }
    double S[P1_N];
    sum_rows(part, H, P1_N, S);

    if (!(S[P_W] > 0.0)) { /* no valid cell (or all valid cells on zero-weight rows) */
        a->n_empty++;
        free(part);
        return;
    }
    a->sq_err_w += S[P_E2];
    a->err_w += S[P_E];
    a->w_sum += S[P_W];
    a->rmse_sum += sqrt(S[P_E2] / S[P_W]);
    a->n_samples++;

    if (do_acc) {
        /* Pass 2: centre by the weighted means, then the centred moments. Two passes rather
         * than sum w f'^2 - W mf^2: z500 anomalies against a poor climatology are ~1e3 with
         * spreads that can be far smaller, and the one-pass formula would cancel digits. */
        const double mf = S[P_F] / S[P_W], my = S[P_Y] / S[P_W];
        SKILL_OMP_ROWS
        for (int r = 0; r < H; r++) {
            const double wr = w ? w[r] : 1.0;
            double s[P2_N] = {0};
            for (int j = 0; j < W; j++) {
                const int64_t i = (int64_t)r * W + j;
                if (valid && !valid[i]) continue;
                const double fa = (double)f[i] - (double)c[i] - mf;
                const double ya = (double)y[i] - (double)c[i] - my;
                s[P_COV] += fa * ya;
                s[P_VF] += fa * fa;
                s[P_VY] += ya * ya;
            }
            for (int k = 0; k < P2_N; k++) part[(int64_t)r * P2_N + k] = wr * s[k];
        }
        double M[P2_N];
        sum_rows(part, H, P2_N, M);
        if (M[P_VF] <= SKILL_ZERO_VAR_REL * S[P_FF] || M[P_VY] <= SKILL_ZERO_VAR_REL * S[P_YY]) {
            a->n_acc_skipped++;
        } else {
            a->acc_sum += M[P_COV] / sqrt(M[P_VF] * M[P_VY]);
            a->cov += M[P_COV];
            a->var_f += M[P_VF];
            a->var_y += M[P_VY];
            a->n_acc++;
        }
    }
    free(part);
}

void skill_add_climatology(SkillAcc *a, const float *y, const float *c,
                           const unsigned char *valid, const double *w, int H, int W) {
    CHECK(c, "skill_add_climatology: NULL climatology");
    skill_add(a, c, y, c, valid, w, H, W);
}

void skill_merge(SkillAcc *a, const SkillAcc *b) {
    a->sq_err_w += b->sq_err_w;
    a->err_w += b->err_w;
    a->w_sum += b->w_sum;
    a->rmse_sum += b->rmse_sum;
    a->acc_sum += b->acc_sum;
    a->cov += b->cov;
    a->var_f += b->var_f;
    a->var_y += b->var_y;
    a->n_samples += b->n_samples;
    a->n_empty += b->n_empty;
    a->n_acc += b->n_acc;
    a->n_acc_skipped += b->n_acc_skipped;
}

double skill_rmse_wb1(const SkillAcc *a) {
    return a->n_samples > 0 ? sqrt(a->sq_err_w / a->w_sum) : NAN;
}

double skill_bias(const SkillAcc *a) { return a->n_samples > 0 ? a->err_w / a->w_sum : NAN; }

double skill_rmse_sample_mean(const SkillAcc *a) {
    return a->n_samples > 0 ? a->rmse_sum / (double)a->n_samples : NAN;
}

double skill_acc(const SkillAcc *a) {
    return a->n_acc > 0 ? a->acc_sum / (double)a->n_acc : NAN;
}

double skill_acc_pooled(const SkillAcc *a) {
    return a->n_acc > 0 ? a->cov / sqrt(a->var_f * a->var_y) : NAN;
}

int64_t skill_count(const SkillAcc *a) { return a->n_samples; }
int64_t skill_acc_count(const SkillAcc *a) { return a->n_acc; }
int64_t skill_acc_skipped(const SkillAcc *a) { return a->n_acc_skipped; }

void lat_weights(double *w, const double *lat_deg, int H) {
    CHECK(w && lat_deg && H > 0, "lat_weights: bad arguments (H=%d)", H);
    const double deg = acos(-1.0) / 180.0;
    double sum = 0.0;
    for (int i = 0; i < H; i++) {
        CHECK(fabs(lat_deg[i]) <= 90.0, "lat_weights: latitude %g out of [-90, 90]", lat_deg[i]);
        /* cos(pi/2) in double is 6e-17, not 0: a pole row is set to weigh exactly 0. */
        w[i] = fabs(lat_deg[i]) == 90.0 ? 0.0 : cos(lat_deg[i] * deg);
        sum += w[i];
    }
    CHECK(sum > 0.0, "lat_weights: all %d latitudes are poles; the weights are undefined", H);
    const double mean = sum / H;
    for (int i = 0; i < H; i++) w[i] /= mean;
}

/* One row's unweighted sums: sum 1, sum (y-ref), sum (y-ref)^2, sum e^2 over its valid cells. */
static int64_t field_row(double s[4], const float *f, const float *y, const unsigned char *valid, int W, double ref) {
    double sw = 0, sy = 0, syy = 0, see = 0;
    int64_t n = 0;
    for (int c = 0; c < W; c++) {
        if (valid && !valid[c]) continue;
        const double yv = (double)y[c] - ref, e = (double)f[c] - y[c];
        sw += 1, sy += yv, syy += yv * yv, see += e * e;
        n++;
    }
    s[0] = sw, s[1] = sy, s[2] = syy, s[3] = see;
    return n;
}

void field_acc_add(FieldAcc *a, const float *f, const float *y, const unsigned char *valid, const double *w, int H,
                   int W, double ref) {
    for (int r = 0; r < H; r++) {
        const double wr = w ? w[r] : 1.0;
        double s[4];
        const int64_t o = (int64_t)r * W;
        a->n += field_row(s, f + o, y + o, valid ? valid + o : NULL, W, ref);
        a->w += wr * s[0], a->wy += wr * s[1], a->wyy += wr * s[2], a->wee += wr * s[3];
    }
}

double field_acc_rows(double *part, const float *f, const float *y, const unsigned char *valid, const double *w, int H,
                      int W, double ref) {
    int64_t n = 0;
    for (int r = 0; r < H; r++) {
        const double wr = w ? w[r] : 1.0;
        double s[4];
        const int64_t o = (int64_t)r * W;
        n += field_row(s, f + o, y + o, valid ? valid + o : NULL, W, ref);
        for (int k = 0; k < 4; k++) part[4 * r + k] = wr * s[k];
    }
    return (double)n;
}

void field_acc_add_rows(FieldAcc *a, const double *part, double n, int H) {
    for (int r = 0; r < H; r++)
        a->w += part[4 * r], a->wy += part[4 * r + 1], a->wyy += part[4 * r + 2], a->wee += part[4 * r + 3];
    a->n += (int64_t)n;
}

double field_rmse(const FieldAcc *a) { return a->w > 0 ? sqrt(a->wee / a->w) : NAN; }

double field_r2(const FieldAcc *a) {
    if (!(a->w > 0)) return NAN;
    const double var = a->wyy - a->wy * a->wy / a->w;
    return var > 0 ? 1.0 - a->wee / var : NAN;
}
