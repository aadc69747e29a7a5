#include "io/checkpoint.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "io/safetensors.h"
#include "data/anchor.h"

int ckpt_save_model(const Vit *m, const float *mean, const float *std, const char *data, const char *path,
                    char *err, size_t errlen) {
    CHECK(m->n_alloc == m->n_params && m->n_params == m->n_canon,
          "ckpt_save_model with external blocks or a tensor-parallel shard: use ckpt_save_model_host");
    float *host = xmalloc((size_t)m->n_params * sizeof(float));
    m->k->download(host, m->param_mem, m->n_params);
    int rc = ckpt_save_model_host(m, host, mean, std, data, NULL, path, err, errlen);
    free(host);
    return rc;
}

int ckpt_save_model_host(const Vit *m, const float *host, const float *mean, const float *std, const char *data,
                         const Anchor *anchor, const char *path, char *err, size_t errlen) {
    StWriter *w = st_writer_new();
    st_writer_meta(w, "format", "pt");
    st_writer_meta(w, "lvit.version", LVIT_VERSION);
    char *cfg = vit_config_to_json(&m->cfg);
    st_writer_meta(w, "lvit.config", cfg);
    free(cfg);
    if (data) st_writer_meta(w, "lvit.data", data);
    if (mean && std) {
        JsonBuf b = {0};
        json_buf_puts(&b, "{\"mean\":[");
        for (int v = 0; v < m->cfg.V; v++) {
            if (v) json_buf_puts(&b, ",");
            json_buf_put_number(&b, mean[v]);
        }
        json_buf_puts(&b, "],\"std\":[");
        for (int v = 0; v < m->cfg.V; v++) {
            if (v) json_buf_puts(&b, ",");
            json_buf_put_number(&b, std[v]);
        }
        json_buf_puts(&b, "]}");
        st_writer_meta(w, "lvit.norm", b.s);
        json_buf_free(&b);
    }
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        st_writer_add(w, ps->name, ST_F32, ps->ndim, ps->shape, host + ps->offset);
    }
    if (anchor && anchor->nlead) {
        char *aj = anchor_to_json(anchor);
        st_writer_meta(w, "lvit.anchor", aj);
        free(aj);
        const int64_t shape[3] = {anchor->V, anchor->H, anchor->W};
        st_writer_add(w, CKPT_ANCHOR_CLIM, ST_F32, 3, shape, anchor->clim);
    }
    return st_writer_finish(w, path, err, errlen);
}

static int read_norm(const char *path, const char *text, int V, float **mean, float **std, char *err, size_t n) {
    char jerr[256];
    JsonValue *root = json_parse(text, strlen(text), 1 << 24, "lvit.norm", jerr, sizeof jerr);
    if (!root) {
        snprintf(err, n, "%s: metadata lvit.norm: %s", path, jerr);
        return -1;
    }
    const JsonValue *mu = json_get(root, "mean"), *sd = json_get(root, "std");
    int rc = -1;
    if (json_len(mu) != (size_t)V || json_len(sd) != (size_t)V) {
        snprintf(err, n, "%s: metadata lvit.norm needs \"mean\" and \"std\" lists of %d numbers", path, V);
        goto done;
    }
    *mean = xmalloc(sizeof(float) * (size_t)V);
    *std = xmalloc(sizeof(float) * (size_t)V);
    for (int v = 0; v < V; v++) {
        double a, b;
        /* Normalization runs in float32 as (x - mean) / std: both must survive the conversion. */
        if (json_as_double(json_at(mu, v), &a) || json_as_double(json_at(sd, v), &b) || !(b >= FLT_MIN && b <= FLT_MAX) ||
            !(fabs(a) <= FLT_MAX)) {
            snprintf(err, n, "%s: metadata lvit.norm: variable %d needs a float32 mean and a positive float32 std "
                     "(at least %g)", path, v, (double)FLT_MIN);
            free(*mean);
            free(*std);
            *mean = *std = NULL;
            goto done;
        }
        (*mean)[v] = (float)a;
        (*std)[v] = (float)b;
    }
    rc = 0;
done:
    json_free(root);
    return rc;
}

int ckpt_load_config(const char *path, VitConfig *cfg, float **mean, float **std, char *err, size_t errlen) {
    StFile f;
    if (st_open(&f, path, err, errlen)) return -1;
    int rc = -1;
    const char *cj = st_meta(&f, "lvit.config");
    if (!cj) {
        snprintf(err, errlen, "%s: no \"lvit.config\" in __metadata__ (the model configuration: vars, img_size, "
                 "patch, dim, depth, heads, decoder_depth, channels)", path);
        goto done;
    }
    char cerr[512];
    if (vit_config_from_json(cfg, cj, cerr, sizeof cerr)) {
        snprintf(err, errlen, "%s: %s", path, cerr);
        goto done;
    }
    if (mean && std) {
        *mean = *std = NULL;
        const char *nj = st_meta(&f, "lvit.norm");
        if (nj && read_norm(path, nj, cfg->V, mean, std, err, errlen)) {
            vit_config_free(cfg);
            goto done;
        }
    }
    rc = 0;
done:
    st_close(&f);
    return rc;
}

/* Where the model the file describes ("lvit.config") differs from m's: the task (forecast or
 * downscale, its target) and every size; the tensors' shapes alone miss a model of other
 * variables or another head of the same shape. "name file/model" per field into out. */
int ckpt_config_diff(const VitConfig *a /* file */, const VitConfig *b /* model */, char *out, size_t n) {
    const struct { const char *name; int x, y; } f[] = {
        {"variables", a->V, b->V}, {"outputs", a->Vo, b->Vo}, {"patch", a->p, b->p}, {"dim", a->D, b->D},
        {"depth", a->depth, b->depth}, {"heads", a->NH, b->NH}, {"decoder_depth", a->dec_depth, b->dec_depth},
        {"mlp_ratio", a->mlp_ratio, b->mlp_ratio}, {"channels (0 agg, 1 multi)", a->mode, b->mode},
        {"residual", a->residual, b->residual}, {"chag", a->chag, b->chag}, {"chag_group", a->chag_group, b->chag_group},
        {"scale (0/1 forecast, >1 downscale)", a->scale, b->scale}, {"res_width", a->res_width, b->res_width},
        {"downscale target (0 field, 1 difference from bicubic)", a->ds_base, b->ds_base},
        {"classes (0: no classifier)", a->classes, b->classes}, {"multilabel", a->multilabel, b->multilabel},
        {"MAE tokens kept per patch row (0: no MAE)", a->mae_keep, b->mae_keep}, {"MAE decoder blocks", a->mae_depth, b->mae_depth},
        {"segmentation classes (0: no segmentation)", a->seg_classes, b->seg_classes},
        {"band groups (0: none)", a->groups, b->groups}, {"history states", a->history, b->history}};
    int k = 0;
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].x != f[i].y && len < n) {
            len += (size_t)snprintf(out + len, n - len, "%s%s %d in the file, %d in this run", k ? "; " : "", f[i].name,
                                    f[i].x, f[i].y);
            k++;
        }
    if (a->groups && a->groups == b->groups && a->group_start && b->group_start) /* the same count, other bands */
        for (int g = 0; g < a->groups; g++)
            if (a->group_start[g + 1] != b->group_start[g + 1] && len < n) {
                len += (size_t)snprintf(out + len, n - len, "%sband group %d ends before band %d in the file, %d in this run",
                                        k ? "; " : "", g, a->group_start[g + 1], b->group_start[g + 1]);
                k++;
                break;
            }
    return k;
}

/* What may differ for a good reason (fine-tuning on another grid, names from another converter)
 * is said, not refused: the position embedding is computed, not learned. */
void ckpt_config_notes(const VitConfig *a /* file */, const VitConfig *b /* model */, const char *path) {
    if (a->H != b->H || a->W != b->W)
        log_warn("%s was trained on a %dx%d grid, this run's is %dx%d", path, a->H, a->W, b->H, b->W);
    for (int v = 0; v < a->V && v < b->V && a->var_names && b->var_names; v++)
        if (strcmp(a->var_names[v], b->var_names[v])) {
            log_warn("%s: variable %d is '%s' there, '%s' in this run: its embedding is used for it", path, v,
                     a->var_names[v], b->var_names[v]);
            break;
        }
}

int ckpt_load_params(Vit *m, const char *path, char *err, size_t errlen) {
    StFile f;
    if (st_open(&f, path, err, errlen)) return -1;
    int rc = -1;
    float *host = xmalloc((size_t)m->n_canon * sizeof(float));
    const char *cj = st_meta(&f, "lvit.config");
    if (cj) { /* files from elsewhere (converted PyTorch weights) may have none: their names and shapes are checked */
        VitConfig fc;
        char cerr[512], diff[1024];
        if (vit_config_from_json(&fc, cj, cerr, sizeof cerr)) {
            snprintf(err, errlen, "%s: %s", path, cerr);
            goto done;
        }
        int nd = ckpt_config_diff(&fc, &m->cfg, diff, sizeof diff);
        if (!nd) ckpt_config_notes(&fc, &m->cfg, path);
        vit_config_free(&fc);
        if (nd) {
            snprintf(err, errlen, "%s holds another model: %s", path, diff);
            goto done;
        }
    }
    for (int i = 0; i < m->nspecs; i++) {
        const ParamSpec *ps = &m->specs[i];
        if (!st_find(&f, ps->name)) {
            snprintf(err, errlen, "%s: tensor '%s' is missing (the model needs %d tensors)", path, ps->name, m->nspecs);
            goto done;
        }
        if (ckpt_read_param(&f, ps, host + ps->offset, path, err, errlen)) goto done;
    }
    for (int i = 0; i < f.n; i++)
        if (!vit_find_param(m, f.t[i].name) && strcmp(f.t[i].name, CKPT_ANCHOR_CLIM)) {
            snprintf(err, errlen, "%s: unexpected tensor '%s' (not part of this model configuration)", path, f.t[i].name);
            goto done;
        }
    if (m->n_canon != m->n_params) { /* a tensor-parallel rank keeps its shard */
        float *local = xmalloc((size_t)m->n_params * sizeof(float));
        vit_from_canonical(m, host, local);
        free(host);
        host = local;
    }
    m->k->upload(m->param_mem, host, m->n_params);
    rc = 0;
done:
    free(host);
    st_close(&f);
    return rc;
}

int ckpt_read_param(StFile *f, const ParamSpec *ps, float *dst, const char *path, char *err, size_t errlen) {
    if (st_read_f32(f, ps->name, dst, ps->ndim, ps->shape, err, errlen)) return -1;
    for (int64_t j = 0; j < ps->numel; j++)
        if (!isfinite(dst[j])) { /* a diverged run's weights give NaN forecasts, not an error */
            snprintf(err, errlen, "%s: tensor '%s' holds %g at element %lld: the weights are not finite (was the run "
                     "that wrote them diverging? use an earlier checkpoint)", path, ps->name, (double)dst[j],
                     (long long)j);
            return -1;
        }
    return 0;
}

char *ckpt_load_data_desc(const char *path) {
    StFile f;
    char err[256];
    if (st_open(&f, path, err, sizeof err)) return NULL;
    const char *d = st_meta(&f, "lvit.data");
    char *out = d ? xstrdup(d) : NULL;
    st_close(&f);
    return out;
}

int ckpt_load_anchor(const char *path, const VitConfig *cfg, int H, int W, Anchor *an, char *err, size_t errlen) {
    memset(an, 0, sizeof *an);
    StFile f;
    if (st_open(&f, path, err, errlen)) return -1;
    int rc = -1;
    const char *aj = st_meta(&f, "lvit.anchor");
    if (!aj) {
        rc = 0; /* a model without an anchor */
        goto done;
    }
    char aerr[512];
    if (anchor_from_json(an, aj, cfg->Vo, H, W, aerr, sizeof aerr)) {
        snprintf(err, errlen, "%s: %s", path, aerr);
        goto done;
    }
    an->clim = xmalloc(sizeof(float) * (size_t)cfg->Vo * H * W);
    const int64_t shape[3] = {cfg->Vo, H, W};
    if (st_read_f32(&f, CKPT_ANCHOR_CLIM, an->clim, 3, shape, err, errlen)) {
        anchor_free(an);
        goto done;
    }
    rc = 0;
done:
    st_close(&f);
    return rc;
}
