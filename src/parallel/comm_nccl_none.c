/* Builds without CUDA: there is no NCCL backend. */
#include <stdio.h>
#include "core/check.h"
#include "parallel/comm_nccl.h"

int comm_nccl_available(char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "this lvit was built without CUDA, so without NCCL");
    return 0;
}
void comm_nccl_wrap(Comm *c) {
    (void)c;
    DIE("built without NCCL");
}
void comm_nccl_unwrap(Comm *c) { (void)c; }
