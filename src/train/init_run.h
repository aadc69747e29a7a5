/* A freshly initialized checkpoint (the library side of `lvit init`): the model of the options,
 * its parameters drawn as training would draw them for the seed, written as safetensors. */
#ifndef LVIT_INIT_RUN_H
#define LVIT_INIT_RUN_H
#include <stdint.h>
#include "train/setup.h"

typedef struct InitOptions {
    ModelOptions model;     /* --vars and --grid give the channels and the (coarse) grid */
    int scale;              /* > 1: a Reslim downscaling model by this factor */
    int res_width;          /* Reslim: channels of the residual path */
    int res_width_given;    /* --res-width was given (refused without --scale) */
    int statics;            /* Reslim: the last N of the variables are static inputs */
    int64_t seed;
    const char *out;        /* the checkpoint to write (required) */
} InitOptions;

int init_run(const InitOptions *o);

#endif
