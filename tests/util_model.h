/* Helpers shared by the whole-model tests (tests/test_model*.c). */
#ifndef LVIT_UTIL_MODEL_H
#define LVIT_UTIL_MODEL_H
#include "model/vit.h"

/* A tiny model: 3 variables on a 4 x 6 grid, patch 2, D 8, 2 blocks of 2 heads, a 1-layer
 * decoder, MLP ratio 4, the given channel mode and default variable names. Free with
 * vit_config_free. */
VitConfig tu_tiny_config(ChannelMode mode);

#endif
