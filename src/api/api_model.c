/* lvit_open, lvit_close and the metadata queries of the public API (include/lvit.h). */
#include <omp.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api_internal.h"
#include "core/json.h"
#include "data/dataset_file.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"

/* A format-1 checkpoint recorded only its data file's path: the file (when still there) says the
 * grid, units and coordinates. Nothing is taken from it when it does not fit the model. */
static void fill_from_old_dataset(lvit_model *m) {
    Dataset ds;
    char err[1024];
    if (!*m->meta.source || strcmp(m->meta.source, "synthetic") == 0 || dataset_open(&ds, m->meta.source, err, sizeof err))
        return;
    if (ds.V == m->cfg.Vo && ds.H <= m->cfg.H && ds.W <= m->cfg.W && m->cfg.H - ds.H < m->cfg.p &&
        m->cfg.W - ds.W < m->cfg.p) {
        m->H = ds.H, m->W = ds.W;
        m->lat = xmalloc(sizeof(double) * (size_t)ds.H);
        m->lon = xmalloc(sizeof(double) * (size_t)ds.W);
        for (int i = 0; i < ds.H; i++) m->lat[i] = ds.lat[i];
        for (int j = 0; j < ds.W; j++) m->lon[j] = ds.lon[j];
        for (int v = 0; v < ds.V; v++) snprintf(m->units[v], sizeof m->units[v], "%s", ds.units[v]);
    }
    dataset_free(&ds);
}

/* The data grid, coordinates and units from the metadata, checked against the model. */
/* Classification and segmentation: the window the model sees (the grid the caller passes) and the
 * classes, from the task's record in lvit.data (tasks/classify_data.c, classify_describe). */
static lvit_status fill_image_task(lvit_model *m, const char *desc) {
    const VitConfig *c = &m->cfg;
    char err[512];
    JsonValue *root = desc ? json_parse(desc, strlen(desc), 1 << 28, "lvit.data", err, sizeof err) : NULL;
    const JsonValue *t = json_get(root, vit_segment(c) ? "segment" : "classify");
    const JsonValue *names = json_get(t, "classes");
    int64_t win = 0;
    const int K = vit_segment(c) ? c->seg_classes : c->classes;
    lvit_status st = LVIT_OK;
    if (!t || json_as_int64(json_get(t, "window"), 1, 4096, &win) || json_len(names) != (size_t)K)
        st = api_fail(LVIT_E_FORMAT, "%s: metadata lvit.data lacks the %s task's window or its %d class names", m->path,
                      vit_segment(c) ? "segment" : "classify", K);
    else if (!vit_segment(c) && !strcmp(json_as_string(json_get(t, "mode")) ? json_as_string(json_get(t, "mode")) : "", "image"))
        win = 0; /* whole images: the grid is the model's (set below) */
    m->units = xcalloc((size_t)c->V, sizeof *m->units); /* (image bands: units unrecorded) */
    if (st == LVIT_OK) {
        m->nclass = K;
        m->class_names = xcalloc((size_t)K, sizeof *m->class_names);
        for (int k = 0; k < K; k++) {
            const char *nm = json_as_string(json_at(names, (size_t)k));
            m->class_names[k] = xstrdup(nm ? nm : "?");
        }
        m->window = (int)win;
        m->H = win ? (int)win : c->H, m->W = win ? (int)win : c->W;
        if (m->H > c->H || m->W > c->W || c->H - m->H >= c->p)
            st = api_fail(LVIT_E_FORMAT, "%s: the recorded window %d does not pad to the model's %dx%d grid (patch %d)",
                          m->path, m->H, c->H, c->W, c->p);
    }
    json_free(root);
    return st;
}

static lvit_status fill_grid(lvit_model *m) {
    const VitConfig *c = &m->cfg;
    const RunMeta *r = &m->meta;
    m->units = xcalloc((size_t)c->V, sizeof *m->units);
    if (r->V == c->Vo)
        for (int v = 0; v < r->V; v++) snprintf(m->units[v], sizeof m->units[v], "%s", r->units[v]);
    const int s = vit_scale(c);
    if (r->H > 0 && vit_reslim(c)) {
        /* downscaling records the fine data grid; the caller passes the coarse one */
        m->H = r->H / s, m->W = r->W / s;
    } else if (r->H > 0) {
        m->H = r->H, m->W = r->W;
        if (r->lat && r->lon) {
            m->lat = xmalloc(sizeof(double) * (size_t)r->H);
            m->lon = xmalloc(sizeof(double) * (size_t)r->W);
            memcpy(m->lat, r->lat, sizeof(double) * (size_t)r->H);
            memcpy(m->lon, r->lon, sizeof(double) * (size_t)r->W);
        }
    } else {
        m->H = c->H, m->W = c->W; /* unknown: taken to be unpadded */
        if (r->format < 2 && !vit_reslim(c)) fill_from_old_dataset(m);
    }
    if (m->H < 1 || m->W < 1 || m->H > c->H || m->W > c->W || c->H - m->H >= c->p || c->W - m->W >= c->p)
        return api_fail(LVIT_E_FORMAT, "%s: metadata lvit.data says the data grid is %dx%d, which does not pad to "
                        "the model's %dx%d grid (patch %d)", m->path, m->H, m->W, c->H, c->W, c->p);
    return LVIT_OK;
}

static lvit_status open_impl(const char *path, const LvitOptions *opts, lvit_model **out) {
    if (!path || !out) return api_fail(LVIT_E_ARG, "lvit_open: checkpoint_path and out must not be NULL");
    *out = NULL;
    if (opts && opts->threads < 0) return api_fail(LVIT_E_ARG, "lvit_open: threads %d (0 = all cores)", opts->threads);
    if (opts && opts->device && strcmp(opts->device, "cpu") != 0)
        return api_fail(LVIT_E_ARG, "lvit_open: device '%s': this version runs on the CPU only (\"cpu\" or NULL)",
                        opts->device);
    FILE *f = fopen(path, "rb");
    if (!f) return api_fail(LVIT_E_IO, "cannot open '%s': %s", path, strerror(errno));
    fclose(f);
    lvit_model *m = xcalloc(1, sizeof *m);
    snprintf(m->path, sizeof m->path, "%s", path);
    m->threads = opts ? opts->threads : 0;
    char err[2048];
    lvit_status st = LVIT_E_FORMAT;
    if (ckpt_load_config(path, &m->cfg, &m->mean, &m->std, err, sizeof err)) {
        free(m);
        return api_fail(LVIT_E_FORMAT, "%s", err);
    }
    if (!m->mean) {
        api_fail(LVIT_E_FORMAT, "%s: no normalisation statistics (metadata lvit.norm): not a trained model "
                 "(lvit init writes untrained ones)", path);
        goto fail;
    }
    char *desc = ckpt_load_data_desc(path);
    int bad = run_meta_parse(&m->meta, desc, path, err, sizeof err);
    if (bad) {
        free(desc);
        api_fail(LVIT_E_FORMAT, "%s", err);
        goto fail;
    }
    if (vit_mae(&m->cfg)) {
        free(desc);
        st = api_fail(LVIT_E_ARG, "%s is a masked-autoencoder pretraining run (task \"mae\"): fine-tune it (lvit train "
                      "--task classify --init) and open that model", path);
        goto fail;
    }
    st = vit_classify(&m->cfg) || vit_segment(&m->cfg) ? fill_image_task(m, desc) : fill_grid(m);
    free(desc);
    if (st != LVIT_OK) goto fail;
    /* the attention workspace has one slice per thread: sized for the threads the calls will run */
    m->ws_threads = m->threads > 0 ? m->threads : omp_get_max_threads();
    ApiThreads th;
    api_threads_enter(&th, m->ws_threads);
    vit_init(&m->vit, &m->cfg, NULL, 1, kernels_cpu());
    api_threads_leave(&th);
    m->loaded = 1;
    if (ckpt_load_params(&m->vit, path, err, sizeof err)) {
        st = api_fail(LVIT_E_FORMAT, "%s", err);
        goto fail;
    }
    if (ckpt_load_anchor(path, &m->cfg, m->H, m->W, &m->anchor, err, sizeof err)) {
        st = api_fail(LVIT_E_FORMAT, "%s", err);
        goto fail;
    }
    const int s = vit_scale(&m->cfg);
    const int64_t nin = (int64_t)m->cfg.V * m->cfg.H * m->cfg.W,
                  nout = (int64_t)m->cfg.Vo * s * m->cfg.H * s * m->cfg.W + m->cfg.classes; /* (+ a classifier's logits) */
    m->dev = m->vit.k->alloc(sizeof(float) * (size_t)(nin + nout + 1));
    m->xin = xmalloc(sizeof(float) * (size_t)nin);
    m->pred = xmalloc(sizeof(float) * (size_t)nout);
    *out = m;
    return LVIT_OK;
fail:
    lvit_close(m);
    return st;
}

lvit_status lvit_open(const char *checkpoint_path, const LvitOptions *opts, lvit_model **out) {
    api_clear_error();
    if (out) *out = NULL;
    API_GUARDED(open_impl(checkpoint_path, opts, out));
}

void lvit_close(lvit_model *m) {
    if (!m) return;
    if (m->dev) m->vit.k->free(m->dev);
    if (m->loaded) vit_free(&m->vit);
    vit_config_free(&m->cfg);
    run_meta_free(&m->meta);
    anchor_free(&m->anchor);
    for (int k = 0; k < m->nclass; k++) free(m->class_names[k]);
    free(m->class_names);
    free(m->mean), free(m->std), free(m->lat), free(m->lon), free(m->units), free(m->xin), free(m->pred);
    free(m);
}

const char *lvit_task(const lvit_model *m) {
    return !m ? NULL : vit_reslim(&m->cfg) ? "downscale" : vit_classify(&m->cfg) ? "classify" : vit_segment(&m->cfg) ? "segment"
                                                                                                             : "forecast";
}
int lvit_num_classes(const lvit_model *m) { return m ? m->nclass : 0; }
const char *lvit_class_name(const lvit_model *m, int k) { return m && k >= 0 && k < m->nclass ? m->class_names[k] : NULL; }
int lvit_num_inputs(const lvit_model *m) { return m ? m->cfg.V : 0; }
int lvit_num_outputs(const lvit_model *m) { return m ? m->cfg.Vo : 0; }
const char *lvit_var_name(const lvit_model *m, int i) {
    return m && i >= 0 && i < m->cfg.V ? m->cfg.var_names[i] : NULL;
}
const char *lvit_units(const lvit_model *m, int i) { return m && i >= 0 && i < m->cfg.V ? m->units[i] : NULL; }
const double *lvit_lat(const lvit_model *m) { return m ? m->lat : NULL; }
const double *lvit_lon(const lvit_model *m) { return m ? m->lon : NULL; }
int lvit_patch_size(const lvit_model *m) { return m ? m->cfg.p : 0; }
int lvit_scale(const lvit_model *m) { return m ? vit_scale(&m->cfg) : 0; }
int lvit_residual(const lvit_model *m) { return m ? m->cfg.residual : 0; }
double lvit_lead_divisor(const lvit_model *m) { return m ? m->meta.lead_divisor : 0; }
int lvit_format_version(const lvit_model *m) { return m ? m->meta.format : 0; }
const char *lvit_data_source(const lvit_model *m) { return m ? m->meta.source : NULL; }

lvit_status lvit_norm(const lvit_model *m, int i, double *mean, double *std) {
    if (!m || !mean || !std) return api_fail(LVIT_E_ARG, "lvit_norm: NULL argument");
    if (i < 0 || i >= m->cfg.V)
        return api_fail(LVIT_E_ARG, "lvit_norm: variable index %d out of range (the model has %d inputs)", i, m->cfg.V);
    *mean = m->mean[i], *std = m->std[i];
    return LVIT_OK;
}

static lvit_status get_pair(const lvit_model *m, int *a, int *b, int va, int vb, const char *fn) {
    if (!m || !a || !b) return api_fail(LVIT_E_ARG, "%s: NULL argument", fn);
    *a = va, *b = vb;
    return LVIT_OK;
}

lvit_status lvit_grid(const lvit_model *m, int *H, int *W) {
    return get_pair(m, H, W, m ? m->H : 0, m ? m->W : 0, "lvit_grid");
}
lvit_status lvit_padded_grid(const lvit_model *m, int *Hp, int *Wp) {
    return get_pair(m, Hp, Wp, m ? m->cfg.H : 0, m ? m->cfg.W : 0, "lvit_padded_grid");
}
lvit_status lvit_output_grid(const lvit_model *m, int *H, int *W) {
    const int s = m ? vit_scale(&m->cfg) : 1;
    return get_pair(m, H, W, m ? s * m->H : 0, m ? s * m->W : 0, "lvit_output_grid");
}
