/* libFuzzer target: safetensors files as users hand them to lvit (lvit info, checkpoints).
 * st_open on the input, then every metadata lookup and every tensor read through st_read_f32
 * (tensors of at most 1<<20 elements), then the checkpoint readers on the same file:
 * ckpt_load_config (lvit.config, lvit.norm), ckpt_load_data_desc, and, for a small valid
 * configuration, ckpt_load_params into a model built from it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "model/vit.h"

static void st_fuzz_read_all(const StFile *f) {
    char err[1024];
    for (int k = 0; k < f->nmeta; k++) FUZZ_ASSERT(st_meta(f, f->meta_key[k]) != NULL);
    (void)st_meta(f, "lvit.config");
    for (int i = 0; i < f->n; i++) {
        const StTensor *t = &f->t[i];
        FUZZ_ASSERT(st_find(f, t->name) != NULL);
        FUZZ_ASSERT(t->begin <= t->end && t->end <= f->data_size);
        int64_t n = st_numel(t);
        FUZZ_ASSERT(n >= 0 && (uint64_t)n * st_dtype_size(t->dtype) == t->end - t->begin);
        if (n > (1 << 20)) continue;
        float *dst = malloc(sizeof(float) * (size_t)(n ? n : 1));
        FUZZ_ASSERT(dst);
        int rc = st_read_f32(f, t->name, dst, t->ndim, t->shape, err, sizeof err);
        int floaty = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64;
        FUZZ_ASSERT(rc == 0 || !floaty || t->dtype == ST_F64);
        if (rc) FUZZ_ASSERT(err[0]);
        /* A wrong expected shape must be refused, whatever the file says. */
        int64_t wrong[ST_MAX_NDIM + 1];
        for (int d = 0; d < t->ndim; d++) wrong[d] = t->shape[d];
        wrong[t->ndim] = 1;
        FUZZ_ASSERT(st_read_f32(f, t->name, dst, t->ndim + 1, wrong, err, sizeof err) != 0);
        free(dst);
    }
    FUZZ_ASSERT(st_read_f32(f, "\x01no such tensor", NULL, 0, NULL, err, sizeof err) != 0);
}

/* Small enough to build the model on every input that gets this far. */
static int st_fuzz_small_model(const VitConfig *c) {
    return c->V <= 8 && c->H <= 64 && c->W <= 64 && c->D <= 64 && c->depth <= 3 && c->dec_depth <= 2 &&
           c->mlp_ratio <= 8 && vit_S(c) <= 1024;
}

static void st_fuzz_checkpoint(const char *path) {
    char err[1024];
    VitConfig cfg;
    float *mean = NULL, *sd = NULL;
    free(ckpt_load_data_desc(path));
    if (ckpt_load_config(path, &cfg, &mean, &sd, err, sizeof err)) {
        FUZZ_ASSERT(err[0]);
        return;
    }
    FUZZ_ASSERT(vit_config_check(&cfg, err, sizeof err) == 0);
    /* Normalization divides by std in float: it must be a positive finite float. */
    for (int v = 0; mean && v < cfg.V; v++) FUZZ_ASSERT(isfinite(mean[v]) && isfinite(sd[v]) && sd[v] > 0);
    if (st_fuzz_small_model(&cfg)) {
        Vit m;
        vit_init(&m, &cfg, NULL, 1, kernels_cpu());
        if (ckpt_load_params(&m, path, err, sizeof err)) FUZZ_ASSERT(err[0]);
        vit_free(&m);
    }
    free(mean);
    free(sd);
    vit_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[4096], err[1024];
    fuzz_write_temp("st", path, sizeof path, data, size);
    StFile f;
    if (st_open(&f, path, err, sizeof err) == 0) {
        st_fuzz_read_all(&f);
        st_close(&f);
        st_fuzz_checkpoint(path);
    } else {
        FUZZ_ASSERT(err[0] && f.n == 0 && f.map == NULL);
        st_close(&f);   /* documented as safe after a failed open */
    }
    unlink(path);
    return 0;
}
