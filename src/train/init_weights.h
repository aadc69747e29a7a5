/* --init: a run that starts from a trained model's weights, under any layout. */
#ifndef LVIT_INIT_WEIGHTS_H
#define LVIT_INIT_WEIGHTS_H
#include <stddef.h>
#include "train/trainer.h"

/* The weights of the safetensors file at path (checked by ckpt_load_params: the model's
 * configuration, every tensor's shape, finite values) into what this rank holds of the model:
 * its tensor-parallel and pipeline part, under ZeRO-3 the replicated parameters and its block
 * shards. The optimizer state is untouched (fresh). -1 with err naming the file on failure. */
int trainer_load_weights(Trainer *t, const char *path, char *err, size_t errlen);

#endif
