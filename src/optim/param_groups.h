/* The shared encoder and the task's head, told apart by state-dict name. `lvit train --init`
 * loads the encoder tensor by tensor and each head group whole or not at all (io/checkpoint.h:
 * ckpt_load_matching); `--freeze-encoder` trains only the head groups (optim/optim.h). */
#ifndef LVIT_PARAM_GROUPS_H
#define LVIT_PARAM_GROUPS_H

typedef enum {
    PG_ENCODER = 0, /* embeddings, aggregation, position embedding, blocks, final norm */
    PG_HEAD,        /* head.*: the image, classification or pixel-prediction head */
    PG_RESLIM,      /* head_conv.*, res_path.*: the downscaling head's convolutions */
    PG_DECODER,     /* decoder_*, mask_token: the masked autoencoder's decoder */
    PG_COUNT
} ParamGroup;

ParamGroup param_group(const char *name);
/* "head.*", "head_conv.* and res_path.*", "decoder_* and mask_token" (the encoder: "the encoder") */
const char *param_group_name(ParamGroup g);

#endif
