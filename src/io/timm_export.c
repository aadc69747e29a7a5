/* The encoder of an lvit checkpoint under timm's VisionTransformer names (timm_export.h). */
#include "core/paths.h"
#include "io/timm_export.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

/* the tensors timm's VisionTransformer has under the same name */
static int same_name(const char *n) {
    return strncmp(n, "blocks.", 7) == 0 || !strcmp(n, "norm.weight") || !strcmp(n, "norm.bias") || !strcmp(n, "pos_embed");
}

/* one band group: patch_embed.proj.weight [D,V,p,p] = the bands' [D,1,p,p] kernels / V side by side,
 * bias [D] = mean_v (token bias + variable embedding) + lead_time_embed.bias */
static int patch_embed(const StFile *f, const VitConfig *c, float *w, float *b, char *err, size_t n) {
    const int64_t D = c->D, V = c->V, pp = (int64_t)c->p * c->p;
    float *k = xmalloc(sizeof(float) * (size_t)(D * pp)), *t = xmalloc(sizeof(float) * (size_t)(V * D));
    double *acc = xcalloc((size_t)D, sizeof(double));
    int rc = -1;
    char name[96];
    const int64_t ks[4] = {D, 1, c->p, c->p}, vs[3] = {1, V, D}, ds[1] = {D};
    if (st_read_f32(f, "var_embed", t, 3, vs, err, n)) goto done;
    for (int64_t v = 0; v < V; v++) {
        for (int64_t d = 0; d < D; d++) acc[d] += t[v * D + d];
        snprintf(name, sizeof name, "token_embeds.%lld.proj.weight", (long long)v);
        if (st_read_f32(f, name, k, 4, ks, err, n)) goto done;
        for (int64_t d = 0; d < D; d++)
            for (int64_t i = 0; i < pp; i++) w[(d * V + v) * pp + i] = k[d * pp + i] / (float)V;
        snprintf(name, sizeof name, "token_embeds.%lld.proj.bias", (long long)v);
        if (st_read_f32(f, name, k, 1, ds, err, n)) goto done;
        for (int64_t d = 0; d < D; d++) acc[d] += k[d];
    }
    if (st_read_f32(f, "lead_time_embed.bias", k, 1, ds, err, n)) goto done;
    for (int64_t d = 0; d < D; d++) b[d] = (float)(acc[d] / (double)V + k[d]);
    rc = 0;
done:
    free(k), free(t), free(acc);
    return rc;
}

static void note(TimmExport *r, const char *what) {
    const size_t len = strlen(r->left);
    if (!strstr(r->left, what)) snprintf(r->left + len, sizeof r->left - len, "%s%s", len ? "; " : "", what);
}

int timm_export(const char *in, const char *out, TimmExport *r, char *err, size_t errlen) {
    memset(r, 0, sizeof *r);
    if (paths_same_file(in, out)) {
        snprintf(err, errlen, "-o %s is the checkpoint it exports; writing there would destroy it: give another output path",
                 out);
        return -1;
    }
    VitConfig c;
    if (ckpt_load_config(in, &c, NULL, NULL, err, errlen)) return -1;
    StFile f;
    if (st_open(&f, in, err, errlen)) {
        vit_config_free(&c);
        return -1;
    }
    int rc = -1;
    /* everything read first: the writer is made only when there is something to write */
    float **bufs = xcalloc((size_t)f.n + 2, sizeof *bufs);
    const char **to_name = xcalloc((size_t)f.n + 2, sizeof *to_name);
    const StTensor **from = xcalloc((size_t)f.n + 2, sizeof *from);
    int nb = 0;
    const int head_linear = vit_classify(&c) && c.dec_depth == 0; /* lvit's head.0 is timm's head */
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.t[i];
        const char *to = same_name(t->name) ? t->name
                         : head_linear && !strcmp(t->name, "head.0.weight") ? "head.weight"
                         : head_linear && !strcmp(t->name, "head.0.bias")   ? "head.bias"
                                                                            : NULL;
        if (!to) {
            r->left_out++;
            if (!strncmp(t->name, "token_embeds.", 13) || !strcmp(t->name, "var_embed") || !strncmp(t->name, "lead_time", 9))
                note(r, c.mode == CH_GROUPS && c.groups == 1 ? "the per-band patch embeddings (folded into patch_embed.proj)"
                                                            : "the patch embedding (lvit tokenizes each band; only a model of one "
                                                              "band group, --band-groups 1, has timm's single patch_embed)");
            else if (!strncmp(t->name, "var_", 4) || !strncmp(t->name, "chag.", 5))
                note(r, "the band aggregation (var_query, var_agg, chag: a cross-attention timm has no layer for)");
            else if (!strncmp(t->name, "decoder_", 8) || !strcmp(t->name, "mask_token"))
                note(r, "the MAE decoder (decoder_*, mask_token: pretraining only)");
            else if (!strncmp(t->name, "head.", 5))
                note(r, vit_classify(&c) ? "the head (lvit's has hidden GELU layers, --decoder-depth; timm's is one Linear)"
                                         : "the pixel head (timm classifies)");
            else note(r, "other tensors");
            continue;
        }
        float *x = xmalloc(sizeof(float) * (size_t)(st_numel(t) ? st_numel(t) : 1));
        bufs[nb] = x, to_name[nb] = to, from[nb++] = t;
        if (st_read_f32(&f, t->name, x, t->ndim, t->shape, err, errlen)) goto done;
    }
    const int64_t ws[4] = {c.D, c.V, c.p, c.p}, bs[1] = {c.D};
    if (c.mode == CH_GROUPS && c.groups == 1) {
        float *pw = xmalloc(sizeof(float) * (size_t)(ws[0] * ws[1] * ws[2] * ws[3])), *pb = xmalloc(sizeof(float) * (size_t)c.D);
        bufs[nb] = pw, to_name[nb++] = "patch_embed.proj.weight";
        bufs[nb] = pb, to_name[nb++] = "patch_embed.proj.bias";
        if (patch_embed(&f, &c, pw, pb, err, errlen)) goto done;
        r->patch_embed = 1;
    }
    StWriter *w = st_writer_new();
    for (int i = 0; i < nb; i++) {
        if (from[i]) st_writer_add(w, to_name[i], ST_F32, from[i]->ndim, from[i]->shape, bufs[i]);
        else st_writer_add(w, to_name[i], ST_F32, i == nb - 1 ? 1 : 4, i == nb - 1 ? bs : ws, bufs[i]);
        r->written++;
    }
    snprintf(r->kwargs, sizeof r->kwargs,
             "{\"img_size\":[%d,%d],\"patch_size\":%d,\"in_chans\":%d,\"embed_dim\":%d,\"depth\":%d,\"num_heads\":%d,"
             "\"mlp_ratio\":%d,\"qkv_bias\":true,\"class_token\":false,\"global_pool\":\"avg\",\"fc_norm\":false,"
             "\"num_classes\":%d,\"norm_eps\":1e-5}", c.H, c.W, c.p, c.V, c.D, c.depth, c.NH, c.mlp_ratio,
             head_linear ? c.classes : 0);
    st_writer_meta(w, "format", "pt");
    st_writer_meta(w, "lvit.timm", r->kwargs);
    st_writer_meta(w, "lvit.source", in);
    rc = st_writer_finish(w, out, err, errlen);
done:
    for (int i = 0; i < nb; i++) free(bufs[i]);
    free(bufs), free(to_name), free(from);
    st_close(&f);
    vit_config_free(&c);
    return rc;
}
