/* Downscaling samples: coarse inputs, static fields, fine targets and their weights (data/downscale.h). */
#include "data/downscale.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "data/dataset_file.h"
#include "data/resample.h"

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

/* z-score of a [n] field over its finite values (NaN -> 0 afterwards) */
static void standardize(float *x, int64_t n) {
    double s = 0, s2 = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i])) s += x[i], s2 += (double)x[i] * x[i], k++;
    const double mean = k ? s / k : 0, var = k ? s2 / k - mean * mean : 0, sd = var > 1e-20 ? sqrt(var) : 1;
    for (int64_t i = 0; i < n; i++) x[i] = isfinite(x[i]) ? (float)((x[i] - mean) / sd) : 0.0f;
}

/* The coarse version [h, w] of fine field f (row stride fw) over the used H x W cells. */
static void coarsen_field(const Downscale *d, const float *f, const uint8_t *valid, int fw, float *out, uint8_t *ovalid,
                          float *tmp, uint8_t *tvalid) {
    for (int r = 0; f != tmp && r < d->H; r++) {
        memcpy(tmp + (int64_t)r * d->W, f + (int64_t)r * fw, sizeof(float) * (size_t)d->W);
    }
    for (int r = 0; valid && r < d->H; r++) {
        memcpy(tvalid + (int64_t)r * d->W, valid + (int64_t)r * fw, (size_t)d->W);
    }
    resample_coarsen(out, ovalid, tmp, valid ? tvalid : NULL, d->H, d->W, d->s, d->ds->lat);
}

static int add_static(Downscale *d, int *ns, int cap, const char *name, char *err, size_t errlen) {
    if (*ns >= cap) {
        snprintf(err, errlen, "--static: more than %d static channels", cap);
        return -1;
    }
    snprintf(d->names[d->Vo + *ns], LVIT_VAR_NAME, "%s", name);
    return (*ns)++;
}

/* --static: "lat", "lon" or dataset files (all variables at their first time, on the fine grid) */
static int load_statics(Downscale *d, const char *spec, char *err, size_t errlen) {
    enum { CAP = 256 };
    const int64_t hw = (int64_t)d->h * d->w;
    d->statics = xcalloc((size_t)CAP * (size_t)hw, sizeof(float));
    float *tmp = xmalloc(sizeof(float) * (size_t)d->H * d->W);
    uint8_t *tv = xmalloc((size_t)d->H * d->W), *cv = xmalloc((size_t)hw);
    int ns = 0, rc = -1;
    char *list = xmalloc(strlen(spec) + 1), *save = NULL;
    strcpy(list, spec);
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strcmp(item, "lat") == 0) {
            int k = add_static(d, &ns, CAP, "lat", err, errlen);
            if (k < 0) goto done;
            for (int r = 0; r < d->H; r++)
                for (int c = 0; c < d->W; c++) tmp[(int64_t)r * d->W + c] = (float)d->ds->lat[r];
            coarsen_field(d, tmp, NULL, d->W, d->statics + k * hw, NULL, tmp, tv);
        } else if (strcmp(item, "lon") == 0) {
            for (int j = 0; j < 2; j++) {
                int k = add_static(d, &ns, CAP, j ? "sin_lon" : "cos_lon", err, errlen);
                if (k < 0) goto done;
                for (int r = 0; r < d->H; r++)
                    for (int c = 0; c < d->W; c++) {
                        const double a = (float)d->ds->lon[c] * M_PI / 180.0;
                        tmp[(int64_t)r * d->W + c] = (float)(j ? sin(a) : cos(a));
                    }
                coarsen_field(d, tmp, NULL, d->W, d->statics + k * hw, NULL, tmp, tv);
            }
        } else {
            Dataset sd;
            char e2[768];
            if (dataset_open(&sd, item, e2, sizeof e2)) {
                snprintf(err, errlen, "--static %s: %s (expected lat, lon or an lvit dataset file)", item, e2);
                goto done;
            }
            if (sd.H != d->ds->H || sd.W != d->ds->W) {
                snprintf(err, errlen, "--static %s: grid %dx%d, expected the data's %dx%d", item, sd.H, sd.W,
                         d->ds->H, d->ds->W);
                dataset_free(&sd);
                goto done;
            }
            for (int v = 0; v < sd.V; v++) {
                int k = add_static(d, &ns, CAP, sd.names[v], err, errlen);
                if (k < 0) {
                    dataset_free(&sd);
                    goto done;
                }
                const int64_t pl = (int64_t)sd.H * sd.W;
                coarsen_field(d, sd.data + v * pl, sd.valid ? sd.valid + v * pl : NULL, sd.W, d->statics + k * hw, cv,
                              tmp, tv);
            }
            dataset_free(&sd);
        }
    }
    for (int k = 0; k < ns; k++) standardize(d->statics + k * hw, hw);
    d->Ns = ns;
    rc = 0;
done:
    free(list);
    free(tmp);
    free(tv);
    free(cv);
    return rc;
}

static int parse_weights(Downscale *d, const char *spec, char *err, size_t errlen) {
    for (int v = 0; v < d->Vo; v++) d->vw[v] = 1.0f;
    if (!spec || !*spec) return 0;
    char *list = xmalloc(strlen(spec) + 1), *save = NULL;
    strcpy(list, spec);
    int rc = 0;
    for (char *item = strtok_r(list, ",", &save); item && !rc; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '='), *end = NULL;
        double wv = eq ? strtod(eq + 1, &end) : NAN;
        if (!eq || end == eq + 1 || *end || !(wv >= 0) || !isfinite(wv)) {
            snprintf(err, errlen, "--var-weights: '%s' is not NAME=WEIGHT with a weight >= 0", item);
            rc = -1;
            break;
        }
        *eq = 0;
        int found = -1;
        for (int v = 0; v < d->Vo; v++)
            if (strcmp(d->names[v], item) == 0) found = v;
        if (found < 0) {
            int n = snprintf(err, errlen, "--var-weights: no variable '%s'; the data has", item);
            for (int v = 0; v < d->Vo && n > 0 && (size_t)n < errlen; v++)
                n += snprintf(err + n, errlen - (size_t)n, " %s", d->names[v]);
            rc = -1;
            break;
        }
        d->vw[found] = (float)wv;
    }
    free(list);
    return rc;
}

int downscale_init(Downscale *d, const Dataset *ds, const DownscaleOptions *o, char *err, size_t errlen) {
    memset(d, 0, sizeof *d);
    d->ds = ds;
    const int s = o->scale, p = o->patch > 0 ? o->patch : 1;
    float *tmp = NULL;
    uint8_t *tv = NULL, *cv = NULL;
    if (s < 2 || s > 16) FAIL("--scale %d: expected 2..16", s);
    d->s = s;
    d->h = ds->H / s, d->w = ds->W / s;
    if (d->h < 1 || d->w < 1) FAIL("--scale %d: the %dx%d grid of %s is smaller than one coarse cell", s, ds->H, ds->W, ds->source);
    d->H = d->h * s, d->W = d->w * s;
    if (d->H != ds->H || d->W != ds->W)
        log_info("downscale: --scale %d uses the first %dx%d of the %dx%d cells (whole %dx%d blocks)", s, d->H, d->W,
                 ds->H, ds->W, s, s);
    d->hp = (d->h + p - 1) / p * p, d->wp = (d->w + p - 1) / p * p;
    d->Vo = ds->V;
    d->names = xcalloc(256 + (size_t)ds->V, LVIT_VAR_NAME);
    memcpy(d->names, ds->names, (size_t)ds->V * LVIT_VAR_NAME);
    if (ds->W > 1) {
        const double dlon = fabs((float)ds->lon[1] - (float)ds->lon[0]);
        d->global = d->W == ds->W && fabs(dlon * ds->W - 360.0) < 1e-3 * dlon;
    }
    if (o->periodic == 1 && !(d->global && d->w == d->wp))
        FAIL("--periodic on: the %dx%d grid is not a whole longitude circle of whole patches (%d coarse columns, "
             "patch %d); use --periodic auto or off", ds->H, ds->W, d->w, p);
    d->periodic = o->periodic != 0 && d->global && d->w == d->wp;
    const int64_t hw = (int64_t)d->h * d->w;
    /* the coarse inputs */
    d->coarse = xmalloc(sizeof(float) * (size_t)ds->T * d->Vo * hw);
    d->coarse_phys = xmalloc(sizeof(float) * (size_t)ds->T * d->Vo * hw);
    d->coarse_valid = xmalloc((size_t)ds->T * d->Vo * hw);
    tmp = xmalloc(sizeof(float) * (size_t)d->H * d->W);
    tv = xmalloc((size_t)d->H * d->W);
    cv = xmalloc((size_t)hw);
    const Dataset *cd = o->coarse;
    int *cvar = xcalloc((size_t)d->Vo, sizeof(int)), *ctime = xcalloc((size_t)ds->T, sizeof(int));
    if (cd) {
        if (cd->H != d->h || cd->W != d->w) {
            free(cvar), free(ctime);
            FAIL("--coarse-data %s: grid %dx%d, expected %dx%d (the data's %dx%d divided by --scale %d)", cd->source,
                 cd->H, cd->W, d->h, d->w, ds->H, ds->W, s);
        }
        for (int v = 0; v < d->Vo; v++) {
            cvar[v] = -1;
            for (int u = 0; u < cd->V; u++)
                if (strcmp(cd->names[u], ds->names[v]) == 0) cvar[v] = u;
            if (cvar[v] < 0) {
                free(cvar), free(ctime);
                FAIL("--coarse-data %s: no variable '%s' (the fine data's variables must all be there)", cd->source,
                     ds->names[v]);
            }
        }
        for (int t = 0, u = 0; t < ds->T; t++) {
            while (u < cd->T && cd->hours[u] < ds->hours[t] - 1e-6) u++;
            if (u >= cd->T || fabs(cd->hours[u] - ds->hours[t]) > 1e-6) {
                free(cvar), free(ctime);
                FAIL("--coarse-data %s: no time %.2f h (time %d of the fine data)", cd->source, ds->hours[t], t);
            }
            ctime[t] = u;
        }
    }
    for (int t = 0; t < ds->T; t++)
        for (int v = 0; v < d->Vo; v++) {
            float *out = d->coarse + ((int64_t)t * d->Vo + v) * hw, *phys = d->coarse_phys + ((int64_t)t * d->Vo + v) * hw;
            if (cd) {
                const int64_t q = ((int64_t)ctime[t] * cd->V + cvar[v]) * hw;
                for (int64_t i = 0; i < hw; i++) {
                    phys[i] = cd->data[q + i];
                    cv[i] = (!cd->valid || cd->valid[q + i]) && isfinite(phys[i]);
                }
            } else {
                const int64_t q = ((int64_t)t * ds->V + v) * ds->H * ds->W;
                coarsen_field(d, ds->data + q, ds->valid ? ds->valid + q : NULL, ds->W, phys, cv, tmp, tv);
            }
            const float mu = ds->mean[v], inv = 1.0f / ds->std[v];
            memcpy(d->coarse_valid + ((int64_t)t * d->Vo + v) * hw, cv, (size_t)hw);
            for (int64_t i = 0; i < hw; i++) {
                out[i] = cv[i] ? (phys[i] - mu) * inv : 0.0f;
                if (!cv[i]) phys[i] = mu;
            }
        }
    free(cvar), free(ctime);
    if (o->base) { /* interpolation of the normalized input = normalized interpolation (weights sum to 1) */
        const int64_t HW = (int64_t)d->H * d->W;
        d->base = xmalloc(sizeof(float) * (size_t)ds->T * d->Vo * HW);
        for (int64_t q = 0; q < (int64_t)ds->T * d->Vo; q++)
            resample_upsample(d->base + q * HW, d->coarse + q * hw, d->h, d->w, s, RS_BICUBIC, d->global);
    }
    if (o->statics && *o->statics && load_statics(d, o->statics, err, errlen)) goto fail;
    d->V = d->Vo + d->Ns;
    d->vw = xmalloc(sizeof(float) * (size_t)d->Vo);
    if (parse_weights(d, o->var_weights, err, errlen)) goto fail;
    d->wlat = xcalloc((size_t)d->hp * s, sizeof(float));
    double cs = 0;
    for (int r = 0; r < d->H; r++) cs += cos((float)ds->lat[r] * M_PI / 180.0);
    for (int r = 0; r < d->H; r++) d->wlat[r] = (float)(cos((float)ds->lat[r] * M_PI / 180.0) / (cs / d->H));
    const int n = o->tiles > 0 ? o->tiles : 1;
    if (tiles_plan(&d->tp, d->hp, d->wp, n, o->halo, p, d->periodic, err, errlen)) goto fail;
    free(tmp), free(tv), free(cv);
    return 0;
fail:
    free(tmp), free(tv), free(cv);
    downscale_free(d);
    return -1;
}

void downscale_free(Downscale *d) {
    free(d->coarse);
    free(d->coarse_phys);
    free(d->coarse_valid);
    free(d->base);
    free(d->statics);
    free(d->names);
    free(d->vw);
    free(d->wlat);
    memset(d, 0, sizeof *d);
}

int downscale_sampler(Sampler *s, const Downscale *d, int t0, int t1, uint64_t seed, int shuffle, char *err,
                      size_t errlen) {
    return sampler_init_same_time(s, d->ds, t0, t1, tiles_count(&d->tp), seed, shuffle, err, errlen);
}

int64_t downscale_nx(const Downscale *d) { return (int64_t)d->V * d->tp.th * d->tp.tw; }
int64_t downscale_ny(const Downscale *d) { return (int64_t)d->Vo * d->s * d->tp.th * d->s * d->tp.tw; }

void downscale_fill(const Downscale *d, HostBatch *hb, int i, int t, int tile) {
    const Dataset *ds = d->ds;
    const int s = d->s, th = d->tp.th, tw = d->tp.tw;
    int r0, c0;
    tiles_origin(&d->tp, tile, &r0, &c0);
    const int64_t hw = (int64_t)d->h * d->w;
    float *x = hb->x + i * hb->nx;
    for (int v = 0; v < d->V; v++) {
        const float *src = v < d->Vo ? d->coarse + ((int64_t)t * d->Vo + v) * hw : d->statics + (v - d->Vo) * hw;
        for (int u = 0; u < th; u++)
            for (int j = 0; j < tw; j++) {
                const int r = r0 + u, c = (c0 + j) % d->wp;
                x[((int64_t)v * th + u) * tw + j] = r < d->h && c < d->w ? src[(int64_t)r * d->w + c] : 0.0f;
            }
    }
    const int Th = s * th, Tw = s * tw, Wf = s * d->wp;
    float *y = hb->y + i * hb->ny, *m = hb->mask + i * hb->ny;
    const int64_t pl = (int64_t)ds->H * ds->W;
    for (int v = 0; v < d->Vo; v++) {
        const float mu = ds->mean[v], inv = 1.0f / ds->std[v], wv = d->vw[v];
        const float *f = ds->data + ((int64_t)t * ds->V + v) * pl;
        const uint8_t *val = ds->valid ? ds->valid + ((int64_t)t * ds->V + v) * pl : NULL;
        const float *bs = d->base ? d->base + ((int64_t)t * d->Vo + v) * d->H * d->W : NULL;
        for (int u = 0; u < Th; u++) {
            const int R = s * r0 + u;
            for (int j = 0; j < Tw; j++) {
                const int C = (s * c0 + j) % Wf;
                const int64_t o = ((int64_t)v * Th + u) * Tw + j, q = (int64_t)R * ds->W + C;
                const int ok = R < d->H && C < d->W && (!val || val[q]);
                y[o] = ok ? (f[q] - mu) * inv - (bs ? bs[(int64_t)R * d->W + C] : 0.0f) : 0.0f;
                m[o] = ok ? wv * d->wlat[R] : 0.0f;
            }
        }
    }
    hb->lead[i] = 0.0f;
    hb->tr0[i] = r0;
    hb->tc0[i] = c0;
}

/* host_batch_fill and host_batch_init_like of downscaling batches: a sample is (time, window). */
static void fill_downscale(HostBatch *hb, int i, const Sampler *s, int64_t id) {
    int t, t2;
    float lead;
    sampler_decode(s, id, &t, &t2, &lead);
    downscale_fill(hb->dsc, hb, i, t, (int)(id % s->nlead));
}

static void init_like_downscale(HostBatch *hb, const HostBatch *shape) {
    host_batch_init_downscale(hb, shape->B, shape->dsc);
}

void host_batch_init_downscale(HostBatch *hb, int B, const Downscale *d) {
    memset(hb, 0, sizeof *hb);
    hb->B = B;
    hb->V = d->V;
    hb->Hp = d->tp.th;
    hb->Wp = d->tp.tw;
    hb->nrows = d->tp.th;
    hb->dsc = d;
    hb->nx = downscale_nx(d);
    hb->ny = downscale_ny(d);
    hb->x = xcalloc((size_t)(B * hb->nx), sizeof(float));
    hb->y = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->mask = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->lead = xcalloc((size_t)B, sizeof(float));
    const int Hf = d->s * d->tp.th;
    hb->wlat = xcalloc((size_t)Hf, sizeof(float));
    for (int i = 0; i < Hf; i++) hb->wlat[i] = 1.0f;
    hb->tr0 = xcalloc((size_t)B, sizeof(int));
    hb->tc0 = xcalloc((size_t)B, sizeof(int));
    hb->fill = fill_downscale;
    hb->init_like = init_like_downscale;
}

