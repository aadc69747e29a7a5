/* --init: a run that starts from a trained model's weights, under any layout. */
#ifndef LVIT_INIT_WEIGHTS_H
#define LVIT_INIT_WEIGHTS_H
#include <stddef.h>
#include "train/trainer.h"

/* The weights of the safetensors file at path into what this rank holds of the model (its
 * tensor-parallel and pipeline part, under ZeRO-3 the replicated parameters and its block
 * shards): every tensor the file holds with the same shape, the rest keeping its initial value
 * (io/checkpoint_match.h says what is refused); logs one line of what was loaded. The optimizer
 * state is untouched (fresh). Collective over the FSDP group. -1 with err naming the file. */
int trainer_load_weights(Trainer *t, const char *path, char *err, size_t errlen);

#endif
