/* lvit info FILE: what a checkpoint or dataset holds; lvit init: its flags into InitOptions (train/init_run.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "data/dataset_describe.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"
#include "lvit.h"
#include "train/init_run.h"
#include "io/safetensors.h"

/* What a caller of the model needs to know, read through the public C API (include/lvit.h) as
 * any client would: the task, the data grid and the grid the model computes on, the lead
 * convention, where the data came from, and each variable's units and normalisation. */
static void print_model_api(const char *path) {
    lvit_model *m;
    if (lvit_open(path, NULL, &m) != LVIT_OK) {
        printf("  data: %s\n", lvit_last_error());
        return;
    }
    const int fmt = lvit_format_version(m);
    int H, W, Hp, Wp;
    lvit_grid(m, &H, &W);
    lvit_padded_grid(m, &Hp, &Wp);
    const char *src = lvit_data_source(m);
    printf("  data: format %d%s, %s %s, grid %dx%d (the model computes on %dx%d%s, patch %d), lead input = hours / %g\n",
           fmt, fmt < 2 ? " (older lvit: no units, lat/lon or hash)" : "", lvit_task(m), *src ? src : "(source not recorded)",
           H, W, Hp, Wp, lvit_scale(m) > 1 ? " coarse cells" : "", lvit_patch_size(m), lvit_lead_divisor(m));
    for (int v = 0; v < lvit_num_inputs(m); v++) {
        double mean, sd;
        lvit_norm(m, v, &mean, &sd);
        const char *u = lvit_units(m, v);
        printf("    %-16s %-12s mean %-12.6g std %-12.6g%s\n", lvit_var_name(m, v), *u ? u : "(no units)", mean, sd,
               v < lvit_num_outputs(m) ? "" : " (static input)");
    }
    lvit_close(m);
}

int cmd_info(int argc, char **argv) {
    int all = 0;
    ArgSpec specs[] = {
        {"all", ARG_FLAG, &all, "list every tensor (default: the first 20)", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const char *pos[1];
    int n = args_parse(specs, argc, argv, 2, "info", "FILE.safetensors [--all]", pos, 1);
    if (n != 1) DIE_USER("lvit info: expected one FILE (a .safetensors checkpoint)");
    char err[1024];
    StFile f;
    if (st_open(&f, pos[0], err, sizeof err)) DIE_USER("%s", err);
    int64_t total = 0;
    for (int i = 0; i < f.n; i++) total += st_numel(&f.t[i]);
    printf("%s: safetensors, %d tensors, %lld values (%.2fM)\n", pos[0], f.n, (long long)total, total / 1e6);
    const char *dj = st_meta(&f, "lvit.dataset");
    const int image = dj && strstr(dj, "\"kind\":\"image\"");
    for (int i = 0; i < f.nmeta; i++) {
        const int cut = image && !all && strlen(f.meta_val[i]) > 300; /* per-band and per-image metadata */
        printf("  metadata %s = %.*s%s\n", f.meta_key[i], cut ? 300 : (int)strlen(f.meta_val[i]), f.meta_val[i],
               cut ? " ... (--all shows it whole)" : "");
    }
    if (image) {
        Dataset ds;
        if (dataset_open(&ds, pos[0], err, sizeof err)) DIE_USER("%s", err);
        dataset_describe(&ds, stdout, all);
        dataset_free(&ds);
    }
    const char *cj = st_meta(&f, "lvit.config");
    if (cj) {
        VitConfig c;
        if (vit_config_from_json(&c, cj, err, sizeof err) == 0) {
            printf("  model: %s channels, %d variables, grid %dx%d, patch %d -> %lld tokens; D=%d depth=%d heads=%d "
                   "decoder depth=%d",
                   vit_mode_name(c.mode), c.V, c.H, c.W, c.p, (long long)vit_S(&c), c.D, c.depth, c.NH, c.dec_depth);
            if (vit_chag(&c))
                printf("; D-CHAG: %d channel blocks, %d level%s", vit_chag(&c), vit_chag_levels(&c),
                       vit_chag_levels(&c) > 1 ? "s" : "");
            if (vit_reslim(&c))
                printf("; Reslim downscaling x%d to %dx%d: %d outputs, %d static input%s, residual path width %d%s", c.scale,
                       c.scale * c.H, c.scale * c.W, c.Vo, c.V - c.Vo, c.V - c.Vo == 1 ? "" : "s", c.res_width,
                       c.ds_base ? ", predicts the difference from bicubic interpolation" : "");
            printf("\n");
            if (st_meta(&f, "lvit.norm")) print_model_api(pos[0]); /* a trained model */
            vit_config_free(&c);
        } else {
            printf("  model: invalid configuration: %s\n", err);
        }
    }
    for (int i = 0; i < f.n && (all || i < 20); i++) {
        const StTensor *t = &f.t[i];
        printf("  %-40s %-4s [", t->name, st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? "," : "", (long long)t->shape[d]);
        printf("]\n");
    }
    if (!all && f.n > 20) printf("  ... %d more (--all to list them)\n", f.n - 20);
    st_close(&f);
    return 0;
}

int cmd_init(int argc, char **argv) {
    InitOptions o = {.model = model_options_default(), .res_width = 16, .seed = 42};
    ArgSpec specs[] = {
        MODEL_ARG_SPECS(o.model),
        {"scale", ARG_INT, &o.scale, "a Reslim downscaling model by this factor on the --grid coarse grid (0 = forecasting)", NULL, 0, 16, 0},
        {"res-width", ARG_INT, &o.res_width, "Reslim: channels of the residual path after the pixel shuffle", NULL, 1, 4096, 0},
        {"static-channels", ARG_INT, &o.statics, "Reslim: the last N of --vars are static inputs, not outputs", NULL, 0, LVIT_MAX_VARS, 0},
        {"seed", ARG_I64, &o.seed, "initialization seed", NULL, 0, 9e18, 0},
        {"output", ARG_STR, &o.out, "checkpoint to write (also -o)", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "init", "[model options] [--seed S] -o FILE.safetensors", NULL, 0);
    o.res_width_given = args_find(specs, "res-width")->seen;
    return init_run(&o);
}
