/* The Sharding of a layout (train/sharding.h). */
#include "train/sharding.h"

const Sharding *sharding_for(const Parallel *par) {
    if (par->zero >= 3 && par->fs.size > 1) return &sharding_fsdp;
    if (par->zero == 1 && par->dp.size > 1) return &sharding_zero1;
    return &sharding_replicated;
}
