/* The defaults that depend on the data (docs/forecasting.md, "Defaults"): for forecasting on a
 * dataset file (one with a climatology: everything lvit convert writes), the flags the user did
 * not give are chosen from the data's time step and size, so that `lvit train --data D --run R`
 * trains a model that beats the trivial baselines in minutes on a laptop. */
#ifndef LVIT_AUTO_DEFAULTS_H
#define LVIT_AUTO_DEFAULTS_H
#include "data/dataset.h"

/* Which flags the user gave (TrainOptions.given). */
enum {
    GIVEN_STEPS = 1 << 0, GIVEN_LR = 1 << 1, GIVEN_WEIGHT_DECAY = 1 << 2, GIVEN_DIM = 1 << 3, GIVEN_DEPTH = 1 << 4,
    GIVEN_HEADS = 1 << 5, GIVEN_VAL_EVERY = 1 << 6, GIVEN_LEADS = 1 << 7, GIVEN_BATCH = 1 << 8,
    GIVEN_WINDOW = 1 << 9, GIVEN_PATCH = 1 << 10, GIVEN_BAND_GROUPS = 1 << 11, GIVEN_CHANNELS = 1 << 12,
    GIVEN_CHANNEL_PARALLEL = 1 << 13
};

typedef struct AutoDefaults {
    int64_t steps;
    float lr, weight_decay;
    int dim, depth, heads, val_every, batch;
    char leads[256];
    int window, patch;     /* pixel tasks: the window around each pixel, the patch size */
    char band_groups[16];  /* pixel tasks: "" or the number of channel groups (--band-groups N) */
} AutoDefaults;

/* a holds the values the flags gave or defaulted to; those not in `given` are replaced by the
 * rule's choice for ds (lead times from the time step, validation from the split, the model's
 * width and the number of steps from the training samples). Returns how many it changed and
 * writes them, "name value" separated by ", ", into what (when not NULL). */
int auto_defaults_forecast(AutoDefaults *a, unsigned given, const Dataset *ds, float step_h, char *what, size_t n);

/* Counts one change in *changed and appends it, fmt with v ("dim %g"), to the list what (n bytes). */
void auto_defaults_note(char *what, size_t n, int *changed, const char *fmt, double v);

/* The same for the pixel tasks (docs/classification.md, "Defaults"): classification of a scene's
 * labelled pixels (mae = 0) or masked-autoencoder pretraining on a scene's pixels (mae = 1), on a
 * layout of dp x sp x pp ranks; a->window and a->patch hold the flags' values on entry. */
int auto_defaults_pixels(AutoDefaults *a, unsigned given, const Dataset *ds, int mae, int dp, int sp, int pp,
                         char *what, size_t n);

#endif
