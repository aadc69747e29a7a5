/* Forecast-skill metrics (WeatherBench / ClimaX conventions), per variable and lead time.
 *
 * Backend-free: host memory, float inputs in physical units, double accumulation. lvit eval
 * keeps one SkillAcc per (variable, lead), streams samples into it with skill_add and reads
 * the scores at the end, so no run ever has to hold all forecasts at once.
 *
 * Notation for one sample s: cells i = (row r, column j) of an H x W grid, weight w[r], mask
 * v_i (1 = the cell counts; a NULL mask means every cell counts), error e_i = f_i - y_i,
 * anomalies f'_i = f_i - c_i and y'_i = y_i - c_i against the climatology c (the training
 * period's per-cell mean). Sums below run over the sample's valid cells only; masked cells
 * are never read beyond the mask, so they may hold anything, NaN included.
 *
 *   W_s   = sum w                      (the sample's total weight)
 *   MSE_s = sum w e^2 / W_s            (latitude-weighted mean squared error)
 *
 * RMSE, two conventions (always say which one a number is):
 *   skill_rmse_wb1         WeatherBench 1: sqrt( sum_s sum w e^2 / sum_s W_s ), the weighted
 *                          mean over all times and cells, then the square root.
 *   skill_rmse_sample_mean ClimaX: mean_s sqrt(MSE_s). Never larger than the WB1 value when
 *                          all samples have the same W_s (Jensen); equal for one sample.
 *
 * ACC, latitude-weighted anomaly correlation, per sample with weighted centring:
 *   mf = sum w f' / W_s,  my = sum w y' / W_s
 *   COV_s = sum w (f'-mf)(y'-my),  VF_s = sum w (f'-mf)^2,  VY_s = sum w (y'-my)^2
 *   ACC_s = COV_s / sqrt(VF_s VY_s)
 *   skill_acc        mean_s ACC_s over the samples where ACC_s is defined (see below).
 *   skill_acc_pooled sum_s COV_s / sqrt(sum_s VF_s * sum_s VY_s) over the same samples.
 *   Zero variance: when VF_s or VY_s is zero the correlation is undefined; the sample is left
 *   out of both ACC numbers and counted in n_acc_skipped (skill_acc_skipped). "Zero" means at
 *   most 1e-24 times the uncentred moment sum w f'^2 (resp. y'^2): a constant anomaly field
 *   centres to rounding noise (~1e-30 relative), not to an exact 0, and the ratio of two noise
 *   terms would be an arbitrary number in [-1, 1]. Any genuine spread (relative > 1e-12) counts.
 *   Differences from the references: WeatherBench 1 pools all times and centres with one
 *   unweighted mean; ClimaX pools a batch and centres with the batch's unweighted mean. lvit
 *   centres each sample by its own weighted mean (so a sample's ACC does not depend on which
 *   other samples share its batch) and reports the sample mean; the pooled number is kept for
 *   comparison.
 *
 * Weights: w[r] = cos(lat_r) / mean_k cos(lat_k) over the H rows (lat_weights). Every score is
 * a ratio in which w appears in numerator and denominator, so the normalisation constant
 * cancels: renormalising over the valid cells only (as WeatherBench, Rasp et al. 2020, does) gives the same
 * numbers, and masked grids need no other weights. Unmasked, W_s = H*W and MSE_s is exactly
 * ClimaX's mean(w * e^2) over the grid.
 *
 * Masked-cell rule (the caller builds v): a cell counts in a sample only where every field the
 * score reads is valid.
 *   model forecast:  v = valid at the init time AND valid at the target time (the model saw
 *                    the initial state; the truth must exist);
 *   persistence:     v = valid at init AND valid at target (f is the state at init);
 *   climatology:     v = valid at target (f = c, defined everywhere the climatology is).
 * A sample with no valid cell adds nothing except n_empty.
 *
 * Baselines use the same accumulator, no separate code:
 *   persistence: skill_add(a, x_init, y_target, c, v_init_and_target, w, H, W);
 *   climatology: skill_add(a, c, y_target, c, v_target, w, H, W) (skill_add_climatology).
 *   The climatology forecast has f' = 0 everywhere, so its ACC is undefined by definition:
 *   every sample lands in n_acc_skipped and skill_acc is NaN. Its RMSE is the usual number.
 *
 * Threads: skill_add uses OpenMP over rows for large grids (when built with OpenMP) and sums
 * per-row partials in a fixed order, so results are bitwise identical for any thread count.
 * A SkillAcc is not thread-safe: one accumulator per thread/rank, combined with skill_merge
 * (every field is a sum, so merging is exact up to the order of the final additions). */
#ifndef LVIT_EVAL_METRICS_H
#define LVIT_EVAL_METRICS_H
#include <stdint.h>

typedef struct SkillAcc {
    double sq_err_w;      /* sum_s sum w e^2 (WB1 numerator) */
    double err_w;         /* sum_s sum w e (the bias numerator) */
    double w_sum;         /* sum_s W_s (WB1 denominator) */
    double rmse_sum;      /* sum_s sqrt(MSE_s) */
    double acc_sum;       /* sum_s ACC_s over ACC-counted samples */
    double cov, var_f, var_y; /* sum_s COV_s, VF_s, VY_s over ACC-counted samples (pooled) */
    int64_t n_samples;    /* samples with at least one valid cell (the RMSE count) */
    int64_t n_empty;      /* samples added with no valid cell (ignored) */
    int64_t n_acc;        /* samples counted in ACC */
    int64_t n_acc_skipped; /* samples with valid cells but zero anomaly variance in f or y */
} SkillAcc;

void skill_init(SkillAcc *a); /* all zero */

/* Adds one sample. f forecast, y truth, c climatology: [H*W] row-major (row = latitude), in
 * physical units. valid [H*W]: nonzero = the cell counts; NULL = all cells count. w [H]:
 * latitude weights (lat_weights); NULL = uniform. c NULL = RMSE only (the ACC fields are
 * left untouched; use it consistently per accumulator). */
void skill_add(SkillAcc *a, const float *f, const float *y, const float *c,
               const unsigned char *valid, const double *w, int H, int W);

/* The climatology baseline: skill_add(a, c, y, c, valid, w, H, W); valid = valid at target. */
void skill_add_climatology(SkillAcc *a, const float *y, const float *c,
                           const unsigned char *valid, const double *w, int H, int W);

/* a += b (combine per-thread or per-rank accumulators of the same variable and lead). */
void skill_merge(SkillAcc *a, const SkillAcc *b);

/* Scores; NaN when nothing was counted (no valid sample, or no ACC-defined sample). */
double skill_rmse_wb1(const SkillAcc *a);
double skill_rmse_sample_mean(const SkillAcc *a);
/* mean error f - y, weighted like the WB1 RMSE: sum_s sum w e / sum_s W_s */
double skill_bias(const SkillAcc *a);
double skill_acc(const SkillAcc *a);
double skill_acc_pooled(const SkillAcc *a);
int64_t skill_count(const SkillAcc *a);       /* n_samples */
int64_t skill_acc_count(const SkillAcc *a);   /* n_acc */
int64_t skill_acc_skipped(const SkillAcc *a); /* n_acc_skipped */

/* Downscaling scores of one variable (lvit eval on a Reslim model): pooled over every sample and
 * valid cell with latitude weights w,
 *   RMSE = sqrt( sum w e^2 / sum w ),  R^2 = 1 - sum w e^2 / sum w (y - ybar)^2,
 * ybar the weighted mean of the truth over the same cells. Sums are kept about `ref` (e.g. the
 * variable's training mean) so that the variance does not cancel. */
typedef struct FieldAcc {
    double w, wy, wyy, wee; /* sum w, sum w (y-ref), sum w (y-ref)^2, sum w e^2 */
    int64_t n;
} FieldAcc;
/* f, y [H*W]; valid [H*W] or NULL; w [H] or NULL */
void field_acc_add(FieldAcc *a, const float *f, const float *y, const unsigned char *valid, const double *w, int H,
                   int W, double ref);
/* The same in two halves, so that the fields can be scored on several ranks and added in the order
 * one process adds them (bit for bit): field_acc_rows writes one field's weighted row sums into
 * part [H][4] and returns its cell count; field_acc_add_rows adds them row by row. */
double field_acc_rows(double *part, const float *f, const float *y, const unsigned char *valid, const double *w, int H,
                      int W, double ref);
void field_acc_add_rows(FieldAcc *a, const double *part, double n, int H);
double field_rmse(const FieldAcc *a);
double field_r2(const FieldAcc *a);

/* w[i] = cos(lat_i) / mean_j cos(lat_j) over the H rows; lat in degrees, |lat| <= 90, H >= 1.
 * Mean 1, symmetric for a symmetric grid. Dies on a pole-only grid (all weights zero). */
void lat_weights(double *w /* [H] */, const double *lat_deg /* [H] */, int H);

#endif
