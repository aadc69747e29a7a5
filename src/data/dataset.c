#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "data/dataset.h"
#include "data/anchor.h"

void dataset_free(Dataset *ds) {
    free(ds->names);
    free(ds->units);
    free(ds->lat);
    free(ds->lon);
    free(ds->hours);
    free(ds->mean);
    free(ds->std);
    free(ds->img.class_names);
    if (ds->release) ds->release(ds->owned);
    memset(ds, 0, sizeof *ds);
}

static void release_free(void *p) { free(p); }

void dataset_synthetic(Dataset *ds, int V, int T, int H, int W, uint64_t seed) {
    memset(ds, 0, sizeof *ds);
    ds->V = V;
    ds->T = T;
    ds->H = H;
    ds->W = W;
    snprintf(ds->source, sizeof ds->source, "synthetic(V=%d,T=%d,grid=%dx%d,seed=%llu)", V, T, H, W,
             (unsigned long long)seed);
    ds->names = xcalloc((size_t)V, LVIT_VAR_NAME);
    ds->units = xcalloc((size_t)V, 32);
    for (int v = 0; v < V; v++) snprintf(ds->names[v], LVIT_VAR_NAME, "var%d", v);
    ds->lat = xmalloc(sizeof(double) * (size_t)H);
    ds->lon = xmalloc(sizeof(double) * (size_t)W);
    ds->hours = xmalloc(sizeof(double) * (size_t)T);
    /* float32 values: the synthetic fields and the weights trained on them were defined with these */
    for (int i = 0; i < H; i++) ds->lat[i] = (float)(-90.0 + (i + 0.5) * 180.0 / H);
    for (int j = 0; j < W; j++) ds->lon[j] = (float)(j * 360.0 / W);
    for (int t = 0; t < T; t++) ds->hours[t] = 6.0 * t;

    /* A few shared waves, each advected by its own latitude-dependent speed, mixed into the
     * variables with fixed coefficients: the next state is a learnable function of the current
     * state, and variables carry information about each other. */
    enum { K = 6 };
    Rng r;
    rng_seed_stream(&r, seed, 0x5eed);
    double amp[K], zonal[K], merid[K], phase[K], speed[K], mix[64][K];
    double base[64], scale[64];
    for (int k = 0; k < K; k++) {
        amp[k] = 0.5 + rng_uniform(&r);
        zonal[k] = 1 + (int)rng_below(&r, 5);
        merid[k] = 1 + (int)rng_below(&r, 3);
        phase[k] = 2 * M_PI * rng_uniform(&r);
        speed[k] = (4.0 + 8.0 * rng_uniform(&r)) * (rng_uniform(&r) < 0.8 ? 1 : -1); /* degrees/6h */
    }
    for (int v = 0; v < 64; v++) {
        for (int k = 0; k < K; k++) mix[v][k] = rng_normal(&r);
        base[v] = 10.0 * rng_normal(&r);
        scale[v] = pow(10.0, 2.0 * rng_uniform(&r) - 1.0); /* different units per variable */
    }
    size_t plane = (size_t)H * W;
    float *data = xmalloc(sizeof(float) * (size_t)T * V * plane);
    ds->data = data;
    ds->owned = data;
    ds->release = release_free;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < H; i++) {
            double la = ds->lat[i] * M_PI / 180.0, jet = cos(la) * cos(la);
            double wave[K];
            for (int j = 0; j < W; j++) {
                double lo = ds->lon[j] * M_PI / 180.0;
                for (int k = 0; k < K; k++) {
                    double shift = speed[k] * jet * t * M_PI / 180.0;
                    wave[k] = amp[k] * cos(zonal[k] * (lo - shift) + phase[k]) * sin(merid[k] * (la + M_PI / 2));
                }
                for (int v = 0; v < V; v++) {
                    int vv = v % 64;
                    double f = base[vv] + 3.0 * sin(la) * (1 + 0.1 * vv);
                    for (int k = 0; k < K; k++) f += mix[vv][k] * wave[k];
                    f += 0.3 * sin(0.05 * t + vv); /* slow seasonal-like drift */
                    data[(((size_t)t * V + v) * H + i) * W + j] = (float)(scale[vv] * f);
                }
            }
        }
    ds->mean = xcalloc((size_t)V, sizeof(float));
    ds->std = xcalloc((size_t)V, sizeof(float));
    ds->t_train_end = T;
    ds->t_val_end = T;
    dataset_compute_stats(ds, 0, T);
}

void dataset_compute_stats(Dataset *ds, int t0, int t1) {
    size_t plane = (size_t)ds->H * ds->W;
    for (int v = 0; v < ds->V; v++) {
        double s = 0, s2 = 0;
        int64_t n = 0;
        for (int t = t0; t < t1; t++) {
            size_t base = ((size_t)t * ds->V + v) * plane;
            for (size_t c = 0; c < plane; c++) {
                if (ds->valid && !ds->valid[base + c]) continue;
                double x = ds->data[base + c];
                s += x;
                s2 += x * x;
                n++;
            }
        }
        double mean = n ? s / n : 0, var = n ? s2 / n - mean * mean : 0;
        ds->mean[v] = (float)mean;
        ds->std[v] = (float)(var > 1e-20 ? sqrt(var) : 1.0);
    }
}

/* Canonical order of the samples of [t0,t1): by initial time, then lead. */
static int64_t list_samples(const Sampler *s, int64_t *idx) {
    int64_t k = 0;
    if (!s->target) { /* a task's own list */
        for (; k < s->n; k++) idx[k] = s->list_first + k;
        return k;
    }
    for (int t = s->t0; t < s->t1; t++)
        for (int li = 0; li < s->nlead; li++)
            if (s->target[(int64_t)t * s->nlead + li] >= 0) idx[k++] = (int64_t)t * s->nlead + li;
    return k;
}

static int sampler_init_ex(Sampler *s, const Dataset *ds, int t0, int t1, const float *leads_h, int nlead,
                           uint64_t seed, int shuffle, int same_time, char *err, size_t errlen);

int sampler_require_history(Sampler *s, int k, float step_h, char *err, size_t errlen) {
    if (k < 1) return 0;
    const Dataset *ds = s->ds;
    for (int t = s->t0; t < s->t1; t++) {
        int ok = t >= k;
        for (int h = 1; ok && h <= k; h++) ok = fabs(ds->hours[t] - ds->hours[t - h] - h * (double)step_h) < 1e-3;
        if (!ok)
            for (int li = 0; li < s->nlead; li++) s->target[(int64_t)t * s->nlead + li] = -1;
    }
    s->n = list_samples(s, s->idx);
    if (s->n == 0) {
        snprintf(err, errlen, "no sample in times [%d,%d) has the %d earlier states %g h apart that --history %d takes",
                 s->t0, s->t1, k, step_h, k);
        return -1;
    }
    return 0;
}

int sampler_init(Sampler *s, const Dataset *ds, int t0, int t1, const float *leads_h, int nlead, uint64_t seed,
                 int shuffle, char *err, size_t errlen) {
    return sampler_init_ex(s, ds, t0, t1, leads_h, nlead, seed, shuffle, 0, err, errlen);
}

int sampler_init_same_time(Sampler *s, const Dataset *ds, int t0, int t1, int nkinds, uint64_t seed, int shuffle,
                           char *err, size_t errlen) {
    if (nkinds < 1 || nkinds > SAMPLER_MAX_KINDS) {
        snprintf(err, errlen, "%d samples per time: expected 1 to %d", nkinds, SAMPLER_MAX_KINDS);
        return -1;
    }
    float *zeros = xcalloc((size_t)nkinds, sizeof(float));
    int rc = sampler_init_ex(s, ds, t0, t1, zeros, nkinds, seed, shuffle, 1, err, errlen);
    free(zeros);
    return rc;
}

static int sampler_init_ex(Sampler *s, const Dataset *ds, int t0, int t1, const float *leads_h, int nlead,
                           uint64_t seed, int shuffle, int same_time, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    s->ds = ds;
    s->t0 = t0;
    s->t1 = t1;
    s->seed = seed;
    s->shuffle = shuffle;
    if (nlead < 1 || nlead > SAMPLER_MAX_KINDS) {
        snprintf(err, errlen, "--leads: expected 1 to %d lead times, got %d", SAMPLER_MAX_KINDS, nlead);
        return -1;
    }
    if (t0 < 0 || t1 > ds->T || t0 >= t1) {
        snprintf(err, errlen, "empty time range [%d,%d) of a dataset with %d times", t0, t1, ds->T);
        return -1;
    }
    s->nlead = nlead;
    s->target = xmalloc(sizeof(int) * (size_t)ds->T * nlead);
    for (int li = 0; li < nlead; li++) {
        if (same_time) { /* every time of the range is its own target */
            for (int t = 0; t < ds->T; t++) s->target[(int64_t)t * nlead + li] = t >= t0 && t < t1 ? t : -1;
            continue;
        }
        if (!(leads_h[li] > 0)) {
            snprintf(err, errlen, "--leads: %g h is not a positive lead time", leads_h[li]);
            sampler_free(s);
            return -1;
        }
        s->lead_hours[li] = leads_h[li];
        int found = 0;
        for (int t = 0; t < ds->T; t++) {
            int *tg = &s->target[(int64_t)t * nlead + li];
            *tg = -1;
            if (t < t0 || t >= t1) continue;
            double want = ds->hours[t] + leads_h[li];
            int lo = t + 1, hi = t1 - 1; /* binary search: times are strictly increasing */
            while (lo <= hi) {
                int mid = (lo + hi) / 2;
                if (fabs(ds->hours[mid] - want) < 1e-3) {
                    *tg = mid;
                    found++;
                    break;
                }
                if (ds->hours[mid] < want) lo = mid + 1;
                else hi = mid - 1;
            }
        }
        if (!found) {
            double dt = ds->T > 1 ? ds->hours[1] - ds->hours[0] : 0;
            snprintf(err, errlen, "no two times %g h apart inside times [%d,%d) (the data is %g-hourly)",
                     leads_h[li], t0, t1, dt);
            sampler_free(s);
            return -1;
        }
    }
    s->idx = xmalloc(sizeof(int64_t) * (size_t)(t1 - t0) * nlead);
    s->n = list_samples(s, s->idx);
    s->pos = 0;
    s->epoch = -1;
    s->nshards = 1;
    return 0;
}

int sampler_init_list(Sampler *s, const Dataset *ds, int64_t first, int64_t n, uint64_t seed, int shuffle, char *err,
                      size_t errlen) {
    memset(s, 0, sizeof *s);
    if (n < 1) {
        snprintf(err, errlen, "no samples");
        return -1;
    }
    s->ds = ds;
    s->nlead = 1;
    s->seed = seed;
    s->shuffle = shuffle;
    s->list_first = first;
    s->n = n;
    s->idx = xmalloc(sizeof(int64_t) * (size_t)n);
    list_samples(s, s->idx);
    s->epoch = -1;
    s->nshards = 1;
    return 0;
}

void sampler_shard(Sampler *s, int shard, int nshards) {
    CHECK(nshards >= 1 && shard >= 0 && shard < nshards, "sampler shard %d of %d", shard, nshards);
    s->shard = shard;
    s->nshards = nshards;
    s->pos = shard;
}

void sampler_free(Sampler *s) {
    free(s->idx);
    free(s->target);
    s->idx = NULL;
    s->target = NULL;
}

int64_t sampler_next(Sampler *s) {
    int64_t e = s->pos / s->n;
    if (e != s->epoch) {
        s->epoch = e;
        if (s->shuffle) {
            /* canonical order, then the epoch's own stream: epoch e depends only on (seed, e) */
            list_samples(s, s->idx);
            Rng r;
            rng_seed_stream(&r, s->seed, 0xda7a0000ULL + (uint64_t)s->epoch);
            rng_shuffle(&r, s->idx, s->n);
        }
    }
    int64_t id = s->idx[s->pos % s->n];
    s->pos += s->nshards;
    return id;
}

void sampler_decode(const Sampler *s, int64_t id, int *t, int *t2, float *lead_hours) {
    int li = (int)(id % s->nlead);
    *t = (int)(id / s->nlead);
    *t2 = s->target[id];
    *lead_hours = s->lead_hours[li];
}

void host_batch_init(HostBatch *hb, int B, int V, int Hp, int Wp) { host_batch_init_rows(hb, B, V, Hp, Wp, 0, Hp); }

void host_batch_init_rows(HostBatch *hb, int B, int V, int Hp, int Wp, int row0, int nrows) {
    /* (rows past Hp: a sequence-parallel rank's padding, filled as padded cells) */
    CHECK(row0 >= 0 && nrows >= 1, "rows [%d, %d) of a grid of %d rows", row0, row0 + nrows, Hp);
    memset(hb, 0, sizeof *hb);
    hb->B = B;
    hb->V = V;
    hb->Hp = Hp;
    hb->Wp = Wp;
    hb->row0 = row0;
    hb->nrows = nrows;
    size_t n = (size_t)B * V * nrows * Wp;
    hb->nx = hb->ny = (int64_t)V * nrows * Wp;
    hb->x = xcalloc(n, sizeof(float));
    hb->y = xcalloc(n, sizeof(float));
    hb->mask = xcalloc(n, sizeof(float));
    hb->lead = xcalloc((size_t)B, sizeof(float));
    hb->wlat = xcalloc((size_t)Hp, sizeof(float));
}

void host_batch_set_history(HostBatch *hb, int k, int V_data) {
    CHECK(k >= 0 && V_data * (k + 1) == hb->V, "history %d of %d variables in a batch of %d channels", k, V_data, hb->V);
    hb->history = k;
    hb->ny = (int64_t)V_data * hb->nrows * hb->Wp;
    free(hb->y);
    free(hb->mask);
    hb->y = xcalloc((size_t)(hb->B * hb->ny), sizeof(float));
    hb->mask = xcalloc((size_t)(hb->B * hb->ny), sizeof(float));
}

void host_batch_init_like(HostBatch *hb, const HostBatch *shape) {
    if (shape->init_like) {
        shape->init_like(hb, shape);
        return;
    }
    host_batch_init_rows(hb, shape->B, shape->V, shape->Hp, shape->Wp, shape->row0, shape->nrows);
    hb->residual = shape->residual;
    hb->anchor = shape->anchor;
    if (shape->history) host_batch_set_history(hb, shape->history, shape->V / (shape->history + 1));
}

void host_batch_free(HostBatch *hb) {
    free(hb->tr0);
    free(hb->tc0);
    free(hb->x);
    free(hb->y);
    free(hb->mask);
    free(hb->lead);
    free(hb->wlat);
    memset(hb, 0, sizeof *hb);
}

void dataset_lat_weights(const Dataset *ds, float *wlat, int Hp) {
    double s = 0;
    for (int i = 0; i < ds->H; i++) s += cos((float)ds->lat[i] * M_PI / 180.0);
    double mean = s / ds->H;
    for (int i = 0; i < Hp; i++) wlat[i] = i < ds->H ? (float)(cos((float)ds->lat[i] * M_PI / 180.0) / mean) : 0.0f;
}

void host_batch_fill(HostBatch *hb, int i, const Sampler *s, int64_t id) {
    if (hb->fill) {
        hb->fill(hb, i, s, id);
        return;
    }
    const Dataset *ds = s->ds;
    int t, t2;
    float lead;
    sampler_decode(s, id, &t, &t2, &lead);
    size_t plane = (size_t)hb->nrows * hb->Wp, dplane = (size_t)ds->H * ds->W;
    const Anchor *an = hb->anchor;
    for (int v = 0; v < ds->V; v++) {
        float mu = ds->mean[v], inv = 1.0f / ds->std[v];
        const float a = an ? anchor_coef(an, v, lead) : 0.0f, *cl = an ? an->clim + (size_t)v * dplane : NULL;
        const float inv_scale = an ? 1.0f / anchor_scale(an, v, lead) : 1.0f;
        float *x = hb->x + ((size_t)i * hb->V + v) * plane, *y = hb->y + ((size_t)i * ds->V + v) * plane;
        float *m = hb->mask + ((size_t)i * ds->V + v) * plane;
        const float *src = ds->data + ((size_t)t * ds->V + v) * dplane, *dst = ds->data + ((size_t)t2 * ds->V + v) * dplane;
        const uint8_t *vs = ds->valid ? ds->valid + ((size_t)t * ds->V + v) * dplane : NULL;
        const uint8_t *vd = ds->valid ? ds->valid + ((size_t)t2 * ds->V + v) * dplane : NULL;
        for (int r = hb->row0; r < hb->row0 + hb->nrows; r++)
            for (int c = 0; c < hb->Wp; c++) {
                size_t o = (size_t)(r - hb->row0) * hb->Wp + c, q = (size_t)r * ds->W + c;
                int in = r < ds->H && c < ds->W;
                int okx = in && (!vs || vs[q]), oky = in && (!vd || vd[q]);
                x[o] = okx ? (src[q] - mu) * inv : 0.0f;
                if (hb->residual || an) oky = oky && okx;
                const float base = hb->residual ? x[o] : an && oky ? anchor_value(x[o], cl[q], a) : 0.0f;
                y[o] = oky ? ((dst[q] - mu) * inv - base) * inv_scale : 0.0f;
                m[o] = oky ? 1.0f : 0.0f;
            }
    }
    for (int h = 1; h <= hb->history; h++) /* the earlier states, normalised as the variable is */
        for (int v = 0; v < ds->V; v++) {
            const float mu = ds->mean[v], inv = 1.0f / ds->std[v];
            float *x = hb->x + ((size_t)i * hb->V + (size_t)h * ds->V + v) * plane;
            const float *src = ds->data + ((size_t)(t - h) * ds->V + v) * dplane;
            const uint8_t *vs = ds->valid ? ds->valid + ((size_t)(t - h) * ds->V + v) * dplane : NULL;
            for (int r = hb->row0; r < hb->row0 + hb->nrows; r++)
                for (int c = 0; c < hb->Wp; c++) {
                    size_t o = (size_t)(r - hb->row0) * hb->Wp + c, q = (size_t)r * ds->W + c;
                    x[o] = r < ds->H && c < ds->W && (!vs || vs[q]) ? (src[q] - mu) * inv : 0.0f;
                }
        }
    hb->lead[i] = lead / 100.0f;
}
