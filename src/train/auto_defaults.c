/* The data-dependent defaults of forecasting (train/auto_defaults.h). The rule, with N the
 * training samples (initial times of the training split times lead times):
 *   leads      the data's time step x 1, 2, 3, 4 (6,12,18,24 for 6-hourly data): several leads
 *              at once, each sample drawing one, as ClimaX trains; fewer when the training or
 *              validation split has no pair that far apart (tiny datasets);
 *   val-every  steps / 16 when the validation period has samples (the best weights are kept);
 *   dim/depth  64 wide, 3 blocks, 4 heads for N < 2,000 (a small model for a small sample:
 *              larger ones only overfit); the general defaults (128, 4, 4) above that;
 *   lr         1e-3 for the small model (the general default above);
 *   weight-decay 0.05;
 *   steps      20 epochs of N / batch, at least 200 and at most 4,000. */
#include "train/auto_defaults.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void auto_defaults_note(char *what, size_t n, int *changed, const char *fmt, double v) {
    (*changed)++;
    if (!what) return;
    size_t k = strlen(what);
    if (k + 2 >= n) return;
    if (k) k += (size_t)snprintf(what + k, n - k, ", ");
    snprintf(what + k, n - k, fmt, v);
}

/* Whether lead_h has (t, t + lead) pairs in the training split and, when there is one, in the
 * validation split (tiny datasets do not have the longer leads). */
static int has_pairs(const Dataset *ds, float lead_h) {
    char err[256];
    Sampler s;
    int ok = sampler_init(&s, ds, 0, ds->t_train_end, &lead_h, 1, 0, 0, err, sizeof err) == 0;
    if (ok) sampler_free(&s);
    if (ok && ds->t_train_end < ds->t_val_end) {
        ok = sampler_init(&s, ds, ds->t_train_end, ds->t_val_end, &lead_h, 1, 0, 0, err, sizeof err) == 0;
        if (ok) sampler_free(&s);
    }
    return ok;
}

/* Whether the validation split has a pair at one of the leads (a "6,12" list). */
static int has_val_pairs(const Dataset *ds, const char *leads) {
    float l[16];
    int n = 0;
    for (const char *p = leads; *p && n < 16;) {
        char *end;
        l[n++] = strtof(p, &end);
        if (end == p) return 0;
        p = *end == ',' ? end + 1 : end;
    }
    char err[256];
    Sampler s;
    if (n < 1 || sampler_init(&s, ds, ds->t_train_end, ds->t_val_end, l, n, 0, 0, err, sizeof err)) return 0;
    const int ok = s.n > 0;
    sampler_free(&s);
    return ok;
}

int auto_defaults_forecast(AutoDefaults *a, unsigned given, const Dataset *ds, float step_h, char *what, size_t n) {
    int changed = 0;
    if (what && n) *what = 0;
    int nlead = 0;
    if (!(given & GIVEN_LEADS) && step_h > 0 && has_pairs(ds, step_h)) {
        int k = 0;
        for (int i = 1; i <= 4 && has_pairs(ds, i * step_h); i++)
            k += snprintf(a->leads + k, sizeof a->leads - (size_t)k, "%s%g", i > 1 ? "," : "", i * step_h), nlead++;
        changed++;
        if (what) {
            const size_t w = strlen(what);
            snprintf(what + w, n - w, "%sleads %s", w ? ", " : "", a->leads);
        }
    } else {
        nlead = 1;
        for (const char *p = a->leads; *p; p++) nlead += *p == ',';
    }
    const long long N = (long long)ds->t_train_end * nlead;
    const int small = N < 2000;
    if (small) {
        if (!(given & GIVEN_DIM) && a->dim != 64) a->dim = 64, auto_defaults_note(what, n, &changed, "dim %g", 64);
        if (!(given & GIVEN_DEPTH) && a->depth != 3) a->depth = 3, auto_defaults_note(what, n, &changed, "depth %g", 3);
        if (!(given & GIVEN_HEADS) && a->heads != 4) a->heads = 4, auto_defaults_note(what, n, &changed, "heads %g", 4);
        if (!(given & GIVEN_LR)) a->lr = 1e-3f, auto_defaults_note(what, n, &changed, "lr %g", 1e-3);
    }
    if (!(given & GIVEN_WEIGHT_DECAY)) a->weight_decay = 0.05f, auto_defaults_note(what, n, &changed, "weight-decay %g", 0.05);
    if (!(given & GIVEN_STEPS)) {
        long long per_epoch = (N + a->batch - 1) / a->batch, s = 20 * per_epoch;
        a->steps = s < 200 ? 200 : s > 4000 ? 4000 : s;
        auto_defaults_note(what, n, &changed, "steps %g", (double)a->steps);
    }
    if (!(given & GIVEN_VAL_EVERY) && ds->t_train_end < ds->t_val_end && has_val_pairs(ds, a->leads)) {
        a->val_every = a->steps / 16 > 0 ? (int)(a->steps / 16) : 1;
        auto_defaults_note(what, n, &changed, "val-every %g", a->val_every);
    }
    return changed;
}
