/* The forecast's anchor: what the network's output is added to. With the damped-persistence
 * blend of eval/blend.h as the anchor,
 *   forecast = c + a(v, lead) (x - c) + network(x, lead)
 * (normalised units; c the training period's per-cell climatology, x the initial state), so a
 * network whose output is zero already forecasts as well as the blend, and training learns only
 * what the blend misses. a is fitted per variable at each trained lead; between them it is
 * interpolated linearly in the lead, below the first from a = 1 at lead 0 (persistence), and held
 * beyond the last. Cells with no climatology anchor on persistence.
 * The network's target is the difference from the anchor divided by the anchor's own RMS error
 * at that variable and lead on the training split (held below the first lead), so that every
 * lead and variable weighs alike in the loss: at short leads the difference is small, and
 * without it the longest lead would dominate the fit.
 * After training, the network's correction is scaled per variable and lead by a gain in [0, 1]
 * fitted by least squares on the validation split (tasks/forecast_calibrate.c): where the network
 * does not help on held-out times, the forecast falls back toward the blend. */
#ifndef LVIT_ANCHOR_H
#define LVIT_ANCHOR_H
#include <stdint.h>
#include <stddef.h>

enum { ANCHOR_MAX_LEADS = 16 };
typedef struct Anchor {
    int V, H, W;                              /* the data grid (not padded) */
    int nlead;                                /* 0: no anchor */
    float lead_h[ANCHOR_MAX_LEADS];           /* increasing */
    float *coef;                              /* [nlead, V] in [0, 1] */
    float *scale;                             /* [nlead, V] > 0, normalised units */
    float *gain;                              /* [nlead, V] in [0, 1] or NULL (1): the network's share, fitted
                                               * on the validation split after training */
    float *clim;                              /* [V, H, W] normalised climatology; NAN: none */
} Anchor;

/* a for variable v at lead_h hours. */
float anchor_coef(const Anchor *an, int v, float lead_h);
/* The target's scale for variable v at lead_h hours. */
float anchor_scale(const Anchor *an, int v, float lead_h);
/* The network's share for variable v at lead_h hours (1 before calibration). */
float anchor_gain(const Anchor *an, int v, float lead_h);
/* The anchor of one cell in normalised units: c + a (x - c), or x where c is NAN. */
static inline float anchor_value(float x, float c, float a) { return c == c ? c + a * (x - c) : x; }
/* out[H*W] for variable v (normalised units) from the normalised initial state x[H*W]. */
void anchor_plane(const Anchor *an, int v, float lead_h, const float *x, float *out);
/* The anchor as "lvit.anchor" metadata JSON (leads and coefficients; the field is a tensor). */
char *anchor_to_json(const Anchor *an);
/* Parse that JSON for V variables; clim is left NULL. 0, or -1 with a message. */
int anchor_from_json(Anchor *an, const char *text, int V, int H, int W, char *err, size_t n);
void anchor_free(Anchor *an);

#endif
