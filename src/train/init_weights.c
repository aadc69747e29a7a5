/* --init under any layout (train/init_weights.h). */
#include "train/init_weights.h"
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "io/checkpoint.h"

static void host_upload(float *dst, const float *host, int64_t n) { memcpy(dst, host, sizeof(float) * (size_t)n); }

int trainer_load_weights(Trainer *t, const char *path, char *err, size_t errlen) {
    /* ckpt_load_params fills a model's parameter memory [n_params] through its kernels' upload;
     * under ZeRO-3 that memory holds only the parameters outside the blocks. So it fills a host
     * vector of this rank's whole layout through a view of the model whose upload is a copy,
     * and the layout puts that where it keeps each parameter (a transient n_params on the host,
     * as at the start of every run). */
    Kernels hk = *t->model.k;
    hk.upload = host_upload;
    Vit view = t->model;
    view.k = &hk;
    view.param_mem = xmalloc(sizeof(float) * (size_t)t->model.n_params);
    int rc = ckpt_load_params(&view, path, err, errlen);
    if (!rc) t->sh->set_params(t, view.param_mem);
    free(view.param_mem);
    return rc;
}
