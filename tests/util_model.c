/* Helpers shared by the whole-model tests: see util_model.h. */
#include "util_model.h"

VitConfig tu_tiny_config(ChannelMode mode) {
    VitConfig c = {.V = 3, .Vo = 3, .H = 4, .W = 6, .p = 2, .D = 8, .depth = 2, .NH = 2, .dec_depth = 1,
                   .mlp_ratio = 4, .mode = mode};
    vit_config_set_default_names(&c);
    return c;
}
