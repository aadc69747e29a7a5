/* lvit export --timm IN.safetensors -o OUT.safetensors: flags into io/timm_export.h. */
#include <stdio.h>
#include "cli/common.h"
#include "core/check.h"
#include "io/timm_export.h"

int cmd_export(int argc, char **argv) {
    int timm = 0;
    const char *out = NULL;
    ArgSpec specs[] = {
        {"timm", ARG_FLAG, &timm, "write the encoder under timm's VisionTransformer names (the only format so far)", NULL, 0, 0, 0},
        {"output", ARG_STR, &out, "file to write (also -o)", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    const char *pos[1];
    const char *usage = "--timm IN.safetensors -o OUT.safetensors";
    int n = args_parse(specs, argc, argv, 2, "export", usage, pos, 1);
    if (n != 1 || !out) DIE_USER("lvit export: expected %s", usage);
    if (!timm) DIE_USER("lvit export: give the format: --timm (timm's VisionTransformer)");
    TimmExport r;
    char err[2048];
    if (timm_export(pos[0], out, &r, err, sizeof err)) DIE_USER("lvit export: %s", err);
    printf("wrote %s: %d tensors under timm's VisionTransformer names%s\n", out, r.written,
           r.patch_embed ? ", patch_embed.proj included" : "");
    if (r.left_out) printf("left out (%d tensors): %s\n", r.left_out, r.left);
    printf("timm.models.vision_transformer.VisionTransformer(**kw, norm_layer=partial(nn.LayerNorm, eps=1e-5)) with kw "
           "(also the file's metadata \"lvit.timm\", less norm_eps): %s\n", r.kwargs);
    return 0;
}
