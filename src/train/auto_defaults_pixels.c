/* The data-dependent defaults of the pixel tasks (train/auto_defaults.h): classification of a
 * scene's labelled pixels and masked-autoencoder pretraining on its pixels, where a few dozen
 * labelled pixels are the usual training set. The rule (docs/classification.md, "Defaults"),
 * for the flags not given:
 *   window, patch      V > 16 bands (hyperspectral): window 3, patch 1, each pixel with its 8
 *                      neighbours, one token per pixel: the spectrum carries the class, and wider
 *                      windows mostly add neighbours of other classes (Salinas-A, 10 labelled px
 *                      per class, 5 seeds, from scratch: 80.7% OA at window 8, patch 2, 88.9% at
 *                      window 3, patch 1; with band groups and mirrored edges window 9, patch 3 is
 *                      level fine-tuned and within the seeds' spread from scratch: docs/
 *                      classification.md, bench/pixel_window_study.sh). Fewer bands: window 9, patch 3 (3x3 tokens), where the
 *                      neighbourhood carries the class (Landsat 7 tutorial scene, 3 seeds: 59.0%
 *                      against 52.4% at window 3, patch 1). The window is rounded up to whole
 *                      patch rows on every --sp rank;
 *   band-groups        ceil(V / 16) groups of neighbouring bands for V > 16 (hyperspectral), one
 *                      token per group and pixel, as SatMAE and SpectralFormer tokenize spectra;
 *                      not with --channels or --channel-parallel, which choose another tokenizer;
 *   dim 64, depth 2 (at least --pp), heads 4: a small model for a small sample;
 *   batch 16, steps 2,000 (classify); batch 32, steps 4,000, lr 1e-3 (mae): the MAE's gain comes
 *                      with long pretraining (1,000 steps gave half of it);
 *   the batch rounded up to a multiple of --dp. */
#include "train/auto_defaults.h"
#include <stdio.h>
#include <string.h>

static int round_up(int v, int m) { return m > 1 ? (v + m - 1) / m * m : v; }

int auto_defaults_pixels(AutoDefaults *a, unsigned given, const Dataset *ds, int mae, int dp, int sp, int pp,
                         char *what, size_t n) {
    int changed = 0;
    if (what && n) *what = 0;
    const int hyper = ds->V > 16, w0 = hyper ? 3 : 9;
    if (!(given & GIVEN_PATCH)) a->patch = hyper ? 1 : 3, auto_defaults_note(what, n, &changed, "patch %g", a->patch);
    if (!(given & GIVEN_WINDOW)) {
        const int rows = (w0 + a->patch - 1) / a->patch, rows_per_rank = (rows + sp - 1) / sp;
        a->window = sp > 1 ? rows_per_rank * sp * a->patch : w0;
        auto_defaults_note(what, n, &changed, "window %g", a->window);
    }
    if (!(given & (GIVEN_BAND_GROUPS | GIVEN_CHANNELS | GIVEN_CHANNEL_PARALLEL)) && hyper) {
        const int g = (ds->V + 15) / 16;
        snprintf(a->band_groups, sizeof a->band_groups, "%d", g);
        auto_defaults_note(what, n, &changed, "band-groups %g", g);
    }
    if (!(given & GIVEN_DIM)) a->dim = 64, auto_defaults_note(what, n, &changed, "dim %g", 64);
    if (!(given & GIVEN_DEPTH)) a->depth = pp > 2 ? pp : 2, auto_defaults_note(what, n, &changed, "depth %g", a->depth);
    if (!(given & GIVEN_HEADS)) a->heads = 4, auto_defaults_note(what, n, &changed, "heads %g", 4);
    if (!(given & GIVEN_BATCH)) a->batch = round_up(mae ? 32 : 16, dp), auto_defaults_note(what, n, &changed, "batch %g", a->batch);
    if (!(given & GIVEN_STEPS)) a->steps = mae ? 4000 : 2000, auto_defaults_note(what, n, &changed, "steps %g", (double)a->steps);
    if (mae && !(given & GIVEN_LR)) a->lr = 1e-3f, auto_defaults_note(what, n, &changed, "lr %g", 1e-3);
    return changed;
}
