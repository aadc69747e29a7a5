/* Encoder or head, by name (optim/param_groups.h). */
#include "optim/param_groups.h"
#include <string.h>

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

ParamGroup param_group(const char *name) {
    if (starts(name, "head.")) return PG_HEAD;
    if (starts(name, "head_conv.") || starts(name, "res_path.")) return PG_RESLIM;
    if (starts(name, "decoder_") || !strcmp(name, "mask_token")) return PG_DECODER;
    return PG_ENCODER;
}

const char *param_group_name(ParamGroup g) {
    switch (g) {
    case PG_HEAD: return "head.*";
    case PG_RESLIM: return "head_conv.* and res_path.*";
    case PG_DECODER: return "decoder_* and mask_token";
    default: return "the encoder";
    }
}
