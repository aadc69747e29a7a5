/* --init under any layout (train/init_weights.h). */
#include "train/init_weights.h"
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "io/checkpoint_match.h"

int trainer_load_weights(Trainer *t, const char *path, char *err, size_t errlen) {
    /* the model's current (initial) weights as the canonical vector, the file's matching tensors
     * over them, then back into this rank's layout and from there to where the layout keeps
     * each parameter: its tensor-parallel and pipeline part, under ZeRO-3 its block shards (a
     * transient n_canon + n_params on the host, as at the start of every run) */
    const Vit *m = &t->model;
    float *local = xmalloc(sizeof(float) * (size_t)m->n_params);
    float *canon = xcalloc((size_t)m->n_canon, sizeof(float)); /* only this rank's pieces are read back */
    t->sh->full_params(t, local); /* collective over the FSDP group: every rank comes here */
    vit_to_canonical(m, local, canon);
    CkptMatch r;
    int rc = ckpt_load_matching(m, path, canon, &r, err, errlen);
    if (!rc) {
        vit_from_canonical(m, canon, local);
        t->sh->set_params(t, local);
        log_info("%s", r.summary);
        if (t->opt.nfrozen && r.kept_encoder)
            log_warn("--freeze-encoder: %d encoder tensors are not in %s and stay at their random initialization: %s",
                     r.kept_encoder, path, r.kept_encoder_names);
    }
    free(canon);
    free(local);
    return rc;
}
