/* The damped-persistence baseline ("the blend"): per variable and lead, the forecast
 *   f = c + a (x - c)
 * mixes the initial state x with the climatology c (the training period's per-cell mean): a = 1
 * is persistence, a = 0 climatology. a is fitted on a time range (the training split) by
 * latitude-weighted least squares of the target's anomaly on the initial anomaly,
 *   a = sum w (x - c)(y - c) / sum w (x - c)^2,
 * over the cells valid at both times and with a climatology, then clipped to [0, 1]. No network:
 * a forecast model should beat it, not only persistence and climatology. */
#ifndef LVIT_EVAL_BLEND_H
#define LVIT_EVAL_BLEND_H
#include <stddef.h>
#include "data/dataset.h"

/* a [V] for lead lead_h from the (t, t + lead) pairs inside times [t0, t1); w [H] latitude
 * weights (NULL: uniform). 0, or -1 with err when the range has no pair at that lead or the
 * dataset no climatology. */
int blend_fit(const Dataset *ds, int t0, int t1, float lead_h, const double *w, double *a, char *err, size_t errlen);
/* The same, and rms [V] (when not NULL): the blend's latitude-weighted RMS error over those pairs
 * and cells, in the data's units. */
int blend_fit_rms(const Dataset *ds, int t0, int t1, float lead_h, const double *w, double *a, double *rms, char *err,
                  size_t errlen);
/* f [H*W] = c + a (x - c) where c is finite, x elsewhere. */
void blend_apply(float *f, const float *x, const float *c, double a, int64_t n);

#endif
