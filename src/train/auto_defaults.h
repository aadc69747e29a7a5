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
    GIVEN_HEADS = 1 << 5, GIVEN_VAL_EVERY = 1 << 6, GIVEN_LEADS = 1 << 7, GIVEN_BATCH = 1 << 8
};

typedef struct AutoDefaults {
    int64_t steps;
    float lr, weight_decay;
    int dim, depth, heads, val_every, batch;
    char leads[256];
} AutoDefaults;

/* a holds the values the flags gave or defaulted to; those not in `given` are replaced by the
 * rule's choice for ds (lead times from the time step, validation from the split, the model's
 * width and the number of steps from the training samples). Returns how many it changed and
 * writes them, "name value" separated by ", ", into what (when not NULL). */
int auto_defaults_forecast(AutoDefaults *a, unsigned given, const Dataset *ds, float step_h, char *what, size_t n);

#endif
