/* A freshly initialized checkpoint (train/init_run.h). */
#include "train/init_run.h"
#include <stdio.h>
#include "core/check.h"
#include "core/parse.h"
#include "io/checkpoint.h"

int init_run(const InitOptions *o) {
    if (!o->out) DIE_USER("lvit init: -o FILE.safetensors is required");
    int H, W;
    if (parse_grid(o->model.grid, &H, &W))
        DIE_USER("lvit init: --grid expects HxW (e.g. 32x64), got '%s'", o->model.grid);
    VitConfig cfg;
    model_options_to_config(&o->model, o->model.vars, H, W, &cfg, "init");
    if (o->scale > 1) {
        cfg.scale = o->scale, cfg.res_width = o->res_width, cfg.Vo = cfg.V - o->statics;
        char err[512];
        if (vit_config_check(&cfg, err, sizeof err)) DIE_USER("lvit init: %s", err);
    } else if (o->statics || o->res_width_given) {
        DIE_USER("lvit init: --static-channels and --res-width are for a downscaling model (--scale s)");
    }
    Vit m;
    vit_init(&m, &cfg, NULL, 1, kernels_cpu());
    vit_init_params(&m, (uint64_t)o->seed);
    char err[1024];
    if (ckpt_save_model(&m, NULL, NULL, NULL, o->out, err, sizeof err)) DIE_USER("%s", err);
    printf("wrote %s: %d tensors, %lld parameters\n", o->out, m.nspecs, (long long)m.n_params);
    vit_free(&m);
    vit_config_free(&cfg);
    return 0;
}
