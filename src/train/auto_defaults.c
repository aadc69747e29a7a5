/* The data-dependent defaults of forecasting (train/auto_defaults.h). The rule, with N the
 * training samples (initial times of the training split times lead times):
 *   leads      the data's time step x 1, 2, 3, 4 (6,12,18,24 for 6-hourly data): several leads
 *              at once, each sample drawing one, as ClimaX trains;
 *   val-every  steps / 16 when there is a validation period (the best weights are kept);
 *   dim/depth  64 wide, 3 blocks, 4 heads for N < 2,000 (a small model for a small sample:
 *              larger ones only overfit); the general defaults (128, 4, 4) above that;
 *   lr         1e-3 for the small model (the general default above);
 *   weight-decay 0.05;
 *   steps      20 epochs of N / batch, at least 200 and at most 4,000. */
#include "train/auto_defaults.h"
#include <stdio.h>
#include <string.h>

static void note(char *what, size_t n, int *changed, const char *fmt, double v) {
    (*changed)++;
    if (!what) return;
    size_t k = strlen(what);
    if (k + 2 >= n) return;
    if (k) k += (size_t)snprintf(what + k, n - k, ", ");
    snprintf(what + k, n - k, fmt, v);
}

int auto_defaults_forecast(AutoDefaults *a, unsigned given, const Dataset *ds, float step_h, char *what, size_t n) {
    int changed = 0;
    if (what && n) *what = 0;
    int nlead = 0;
    if (!(given & GIVEN_LEADS) && step_h > 0) {
        snprintf(a->leads, sizeof a->leads, "%g,%g,%g,%g", step_h, 2 * step_h, 3 * step_h, 4 * step_h);
        nlead = 4;
        changed++;
        if (what) {
            size_t k = strlen(what);
            snprintf(what + k, n - k, "%sleads %s", k ? ", " : "", a->leads);
        }
    } else {
        nlead = 1;
        for (const char *p = a->leads; *p; p++) nlead += *p == ',';
    }
    const long long N = (long long)ds->t_train_end * nlead;
    const int small = N < 2000;
    if (small) {
        if (!(given & GIVEN_DIM) && a->dim != 64) a->dim = 64, note(what, n, &changed, "dim %g", 64);
        if (!(given & GIVEN_DEPTH) && a->depth != 3) a->depth = 3, note(what, n, &changed, "depth %g", 3);
        if (!(given & GIVEN_HEADS) && a->heads != 4) a->heads = 4, note(what, n, &changed, "heads %g", 4);
        if (!(given & GIVEN_LR)) a->lr = 1e-3f, note(what, n, &changed, "lr %g", 1e-3);
    }
    if (!(given & GIVEN_WEIGHT_DECAY)) a->weight_decay = 0.05f, note(what, n, &changed, "weight-decay %g", 0.05);
    if (!(given & GIVEN_STEPS)) {
        long long per_epoch = (N + a->batch - 1) / a->batch, s = 20 * per_epoch;
        a->steps = s < 200 ? 200 : s > 4000 ? 4000 : s;
        note(what, n, &changed, "steps %g", (double)a->steps);
    }
    if (!(given & GIVEN_VAL_EVERY) && ds->t_train_end < ds->t_val_end) {
        a->val_every = a->steps / 16 > 0 ? (int)(a->steps / 16) : 1;
        note(what, n, &changed, "val-every %g", a->val_every);
    }
    return changed;
}
