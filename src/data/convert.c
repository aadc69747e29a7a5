/* The assembler: readers' series -> one dataset on a canonical grid and time axis, written as
 * a safetensors file that training memory-maps (docs/formats.md, "Dataset"). */
#include "data/convert.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "data/series_check.h"
#include "io/safetensors.h"

#define ERR(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* GRIB files start with "GRIB" (possibly after a header) or are named so (then the GRIB reader
 * says what is wrong with them); everything else goes to libnetcdf, which recognizes classic,
 * HDF5 and Zarr (a directory) itself. */
static int is_grib(const char *path) {
    struct stat st;
    if (stat(path, &st) || S_ISDIR(st.st_mode)) return 0;
    const char *dot = strrchr(base_name(path), '.');
    if (dot && (!strcasecmp(dot, ".grib") || !strcasecmp(dot, ".grb") || !strcasecmp(dot, ".grib2") ||
                !strcasecmp(dot, ".grb2") || !strcasecmp(dot, ".grib1") || !strcasecmp(dot, ".grb1")))
        return 1;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* a netCDF or HDF5 file may hold the text "GRIB" in an attribute (a history, a source) */
    if (n >= 4 && (!memcmp(buf, "CDF\001", 4) || !memcmp(buf, "CDF\002", 4) || !memcmp(buf, "CDF\005", 4) ||
                   !memcmp(buf, "\211HDF", 4)))
        return 0;
    for (size_t i = 0; i + 4 <= n; i++)
        if (memcmp(buf + i, "GRIB", 4) == 0) return 1;
    return 0;
}

/* Latitude north to south, longitude ascending (0..360 on global grids, rotated to start at
 * the smallest longitude; regional grids keep the convention that makes them contiguous). */
static void canonicalize(VarSeries *s) {
    int H = s->H, W = s->W;
    size_t plane = (size_t)H * W;
    if (H > 1 && s->lat[0] < s->lat[H - 1]) {
        for (int i = 0; i < H / 2; i++) {
            double t = s->lat[i];
            s->lat[i] = s->lat[H - 1 - i];
            s->lat[H - 1 - i] = t;
        }
        float *row = xmalloc(sizeof(float) * (size_t)W);
        for (int t = 0; t < s->T; t++)
            for (int i = 0; i < H / 2; i++) {
                float *a = s->values + (size_t)t * plane + (size_t)i * W, *b = s->values + (size_t)t * plane + (size_t)(H - 1 - i) * W;
                memcpy(row, a, sizeof(float) * W);
                memcpy(a, b, sizeof(float) * W);
                memcpy(b, row, sizeof(float) * W);
            }
        free(row);
    }
    if (W < 2) return;
    double span = fabs(s->lon[W - 1] - s->lon[0]), d = span / (W - 1);
    int global = fabs(span + d - 360.0) < 1e-3 * 360.0;
    /* longitudes in [0,360) for global grids; for regional ones [-180,180) unless that breaks
     * contiguity (a region across the date line) */
    int use360 = global;
    if (!global) {
        for (int j = 1; j < W; j++) {
            double a = fmod(fmod(s->lon[j - 1] + 180.0, 360.0) + 360.0, 360.0) - 180.0;
            double b = fmod(fmod(s->lon[j] + 180.0, 360.0) + 360.0, 360.0) - 180.0;
            if (fabs(fabs(b - a) - d) > 1e-6 * 360) use360 = 1;
        }
    }
    for (int j = 0; j < W; j++) {
        double x = fmod(fmod(s->lon[j], 360.0) + 360.0, 360.0);
        s->lon[j] = use360 ? x : (x >= 180.0 ? x - 360.0 : x);
    }
    /* rotate and order so longitudes ascend: find the smallest, walk in the file's direction */
    int j0 = 0;
    for (int j = 1; j < W; j++)
        if (s->lon[j] < s->lon[j0]) j0 = j;
    int dir = s->lon[(j0 + 1) % W] > s->lon[j0] ? 1 : -1;
    int *perm = xmalloc(sizeof(int) * (size_t)W);
    for (int j = 0; j < W; j++) perm[j] = ((j0 + dir * j) % W + W) % W;
    int identity = 1;
    for (int j = 0; j < W; j++) identity &= perm[j] == j;
    if (!identity) {
        double *lon = xmalloc(sizeof(double) * (size_t)W);
        float *row = xmalloc(sizeof(float) * (size_t)W);
        for (int j = 0; j < W; j++) lon[j] = s->lon[perm[j]];
        memcpy(s->lon, lon, sizeof(double) * W);
        for (size_t r = 0; r < (size_t)s->T * H; r++) {
            float *v = s->values + r * W;
            for (int j = 0; j < W; j++) row[j] = v[perm[j]];
            memcpy(v, row, sizeof(float) * W);
        }
        free(lon);
        free(row);
    }
    free(perm);
}

static int same_grid(const VarSeries *a, const VarSeries *b) {
    if (a->H != b->H || a->W != b->W) return 0;
    for (int i = 0; i < a->H; i++)
        if (fabs(a->lat[i] - b->lat[i]) > 1e-4) return 0;
    for (int j = 0; j < a->W; j++)
        if (fabs(a->lon[j] - b->lon[j]) > 1e-4) return 0;
    return 1;
}

static int times_overlap(const VarSeries *a, const VarSeries *b) {
    for (int i = 0, j = 0; i < a->T && j < b->T;) {
        if (fabs(a->time[i] - b->time[j]) < 1e-6) return 1;
        if (a->time[i] < b->time[j]) i++;
        else j++;
    }
    return 0;
}

/* Appends b's times to a (time split over several files); both sorted, disjoint. */
static void concat_series(VarSeries *a, VarSeries *b) {
    int T = a->T + b->T;
    size_t plane = (size_t)a->H * a->W;
    double *time = xmalloc(sizeof(double) * (size_t)T);
    float *vals = xmalloc(sizeof(float) * (size_t)T * plane);
    int i = 0, j = 0, k = 0;
    while (i < a->T || j < b->T) {
        int take_a = j >= b->T || (i < a->T && a->time[i] < b->time[j]);
        const VarSeries *src = take_a ? a : b;
        int idx = take_a ? i++ : j++;
        time[k] = src->time[idx];
        memcpy(vals + (size_t)k * plane, src->values + (size_t)idx * plane, sizeof(float) * plane);
        k++;
    }
    free(a->time);
    free(a->values);
    a->time = time;
    a->values = vals;
    a->T = T;
    series_free(b);
}

/* "FILE:VAR=NAME" or "VAR=NAME" */
static const char *find_rename(const ConvertOptions *o, const VarSeries *s) {
    for (int i = 0; i < o->nrename; i++) {
        const char *r = o->rename[i], *eq = strchr(r, '='), *colon = strchr(r, ':');
        if (!eq) continue;
        if (colon && colon < eq) {
            size_t fl = (size_t)(colon - r);
            if (strlen(base_name(s->source)) != fl || strncmp(base_name(s->source), r, fl)) continue;
            r = colon + 1;
        }
        size_t vl = (size_t)(eq - r);
        if (strlen(s->name) == vl && strncmp(s->name, r, vl) == 0) return eq + 1;
    }
    return NULL;
}

static void sanitize(char *dst, size_t n, const char *src) {
    size_t k = 0;
    for (; *src && k + 1 < n; src++) {
        char c = *src;
        if (c == '.') break;
        dst[k++] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_'));
    }
    dst[k] = 0;
}

typedef struct Assembled {
    int V, T, H, W;
    VarSeries **vars; /* [V] into the list */
    double *time;     /* [T] common times */
} Assembled;

/* Merges split files, makes names unique, checks the grid and intersects the time axes. */
static int assemble(SeriesList *l, const ConvertOptions *o, Assembled *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    for (int i = 0; i < l->n; i++)
        if (series_check(&l->s[i], err, errlen)) goto fail; /* coordinates a grid, values numbers */
    for (int i = 0; i < l->n; i++) canonicalize(&l->s[i]);
    /* the same variable split over files: same name, same source variable, disjoint times */
    for (int i = 0; i < l->n; i++) {
        VarSeries *s = &l->s[i];
        if (!s->values) continue;
        for (int j = i + 1; j < l->n; j++) {
            VarSeries *t = &l->s[j];
            if (!t->values || strcmp(s->name, t->name) || strcmp(s->source, t->source) == 0) continue;
            if (!times_overlap(s, t) && same_grid(s, t)) concat_series(s, t);
        }
    }
    int V = 0;
    for (int i = 0; i < l->n; i++) V += l->s[i].values != NULL;
    if (V == 0) ERR("no variables on a latitude-longitude grid were read");
    a->vars = xcalloc((size_t)V, sizeof(VarSeries *));
    for (int i = 0; i < l->n; i++)
        if (l->s[i].values) a->vars[a->V++] = &l->s[i];
    /* explicit names first, then unique names for the rest */
    for (int v = 0; v < a->V; v++) {
        const char *nn = find_rename(o, a->vars[v]);
        if (nn) {
            log_info("convert: %s from %s named %s (--rename)", a->vars[v]->name, base_name(a->vars[v]->source), nn);
            snprintf(a->vars[v]->name, sizeof a->vars[v]->name, "%s", nn);
        }
    }
    for (int v = 0; v < a->V; v++)
        for (int u = 0; u < v; u++)
            if (strcmp(a->vars[u]->name, a->vars[v]->name) == 0) {
                char stem[48], old[64], file[160];
                sanitize(stem, sizeof stem, base_name(a->vars[v]->source));
                size_t k = 0; /* the file's name as --rename takes it: a comma escaped */
                for (const char *c = base_name(a->vars[v]->source); *c && k + 2 < sizeof file; c++) {
                    if (*c == ',' || *c == '\\') file[k++] = '\\';
                    file[k++] = *c;
                }
                file[k] = 0;
                snprintf(old, sizeof old, "%s", a->vars[v]->name);
                snprintf(a->vars[v]->name, sizeof a->vars[v]->name, "%.20s_%.40s", old, stem);
                log_info("convert: two variables are called %s: the one from %s is renamed %s "
                         "(choose names with --rename %s:%s=NAME)",
                         old, base_name(a->vars[v]->source), a->vars[v]->name, file, old);
                u = -1; /* check the new name again */
                break;
            }
    for (int v = 1; v < a->V; v++)
        if (!same_grid(a->vars[0], a->vars[v]))
            ERR("grids do not match: %s (%s) is %dx%d from lat %g..%g, lon %g..%g, but %s (%s) is %dx%d from lat "
                "%g..%g, lon %g..%g",
                a->vars[v]->name, a->vars[v]->source, a->vars[v]->H, a->vars[v]->W, a->vars[v]->lat[0],
                a->vars[v]->lat[a->vars[v]->H - 1], a->vars[v]->lon[0], a->vars[v]->lon[a->vars[v]->W - 1],
                a->vars[0]->name, a->vars[0]->source, a->vars[0]->H, a->vars[0]->W, a->vars[0]->lat[0],
                a->vars[0]->lat[a->vars[0]->H - 1], a->vars[0]->lon[0], a->vars[0]->lon[a->vars[0]->W - 1]);
    for (int v = 0; v < a->V; v++)
        for (int t = 1; t < a->vars[v]->T; t++)
            if (!(a->vars[v]->time[t] > a->vars[v]->time[t - 1]))
                ERR("%s: %s: times are not increasing (time %d is not after time %d)", a->vars[v]->source,
                    a->vars[v]->name, t, t - 1);
    /* times present for every variable */
    a->time = xmalloc(sizeof(double) * (size_t)a->vars[0]->T);
    for (int t = 0; t < a->vars[0]->T; t++) {
        double x = a->vars[0]->time[t];
        int all = 1;
        for (int v = 1; v < a->V && all; v++) {
            int found = 0;
            for (int k = 0; k < a->vars[v]->T && !found; k++) found = fabs(a->vars[v]->time[k] - x) < 1e-6;
            all = found;
        }
        if (all) a->time[a->T++] = x;
    }
    for (int v = 0; v < a->V; v++)
        if (a->vars[v]->T != a->T)
            log_info("convert: %s has %d times; %d are shared by all variables and kept", a->vars[v]->name,
                     a->vars[v]->T, a->T);
    if (a->T < 2) ERR("the variables share %d time(s); at least 2 are needed", a->T);
    a->H = a->vars[0]->H;
    a->W = a->vars[0]->W;
    return 0;
fail:
    free(a->vars);
    free(a->time);
    memset(a, 0, sizeof *a);
    return -1;
}

static int write_dataset(const char *path, const Assembled *a, const ConvertOptions *o, int ninputs,
                         const char *const *inputs, char *err, size_t errlen) {
    const int V = a->V, T = a->T, H = a->H, W = a->W;
    const size_t plane = (size_t)H * W;
    float *data = xmalloc(sizeof(float) * (size_t)T * V * plane);
    uint8_t *valid = xmalloc((size_t)T * V * plane);
    for (int v = 0; v < V; v++) {
        const VarSeries *s = a->vars[v];
        int k = 0;
        for (int t = 0; t < T; t++) {
            while (fabs(s->time[k] - a->time[t]) > 1e-6) k++;
            const float *src = s->values + (size_t)k * plane;
            float *dst = data + ((size_t)t * V + v) * plane;
            uint8_t *ok = valid + ((size_t)t * V + v) * plane;
            for (size_t c = 0; c < plane; c++) {
                ok[c] = isfinite(src[c]) ? 1 : 0;
                dst[c] = ok[c] ? src[c] : 0.0f;
            }
        }
    }
    int t_train = (int)floor(o->train_frac * T + 0.5), t_val = (int)floor((o->train_frac + o->val_frac) * T + 0.5);
    if (t_train < 1) t_train = 1;
    if (t_val < t_train) t_val = t_train;
    if (t_val > T) t_val = T;
    /* statistics and climatology over the training period only */
    double *mean = xcalloc((size_t)V, sizeof(double)), *sd = xcalloc((size_t)V, sizeof(double));
    float *clim = xmalloc(sizeof(float) * (size_t)V * plane);
    for (int v = 0; v < V; v++) {
        double s = 0, s2 = 0;
        int64_t n = 0;
        for (size_t c = 0; c < plane; c++) {
            double cs = 0;
            int cn = 0;
            for (int t = 0; t < t_train; t++) {
                size_t o2 = ((size_t)t * V + v) * plane + c;
                if (!valid[o2]) continue;
                cs += data[o2];
                cn++;
                s += data[o2];
                s2 += (double)data[o2] * data[o2];
            }
            n += cn;
            clim[(size_t)v * plane + c] = cn ? (float)(cs / cn) : NAN;
        }
        if (n == 0) {
            snprintf(err, errlen, "%s has no valid value in the training period (times 0..%d)", a->vars[v]->name, t_train - 1);
            free(data), free(valid), free(mean), free(sd), free(clim);
            return -1;
        }
        mean[v] = s / n;
        double var = s2 / n - mean[v] * mean[v];
        sd[v] = var > 1e-30 ? sqrt(var) : 1.0;
    }
    double *lat = a->vars[0]->lat, *lon = a->vars[0]->lon;
    JsonBuf m = {0};
    char iso[32];
    hours_to_iso(a->time[0], iso, sizeof iso);
    json_buf_printf(&m, "{\"version\":1,\"first_time\":\"%s\",\"time_units\":\"hours since 1970-01-01 00:00\","
                        "\"split\":{\"train_end\":%d,\"val_end\":%d},\"vars\":[", iso, t_train, t_val);
    for (int v = 0; v < V; v++) {
        const VarSeries *s = a->vars[v];
        json_buf_puts(&m, v ? ",{\"name\":" : "{\"name\":");
        json_buf_put_string(&m, s->name);
        json_buf_puts(&m, ",\"file_var\":");
        json_buf_put_string(&m, s->file_name);
        json_buf_puts(&m, ",\"units\":");
        json_buf_put_string(&m, s->units);
        json_buf_puts(&m, ",\"long_name\":");
        json_buf_put_string(&m, s->long_name);
        json_buf_puts(&m, ",\"level\":");
        json_buf_put_number(&m, s->level);
        json_buf_puts(&m, ",\"source\":");
        json_buf_put_string(&m, base_name(s->source));
        json_buf_puts(&m, "}");
    }
    json_buf_puts(&m, "],\"inputs\":");
    json_buf_put_strings(&m, inputs, ninputs);
    json_buf_puts(&m, "}");
    StWriter *w = st_writer_new();
    st_writer_meta(w, "lvit.dataset", m.s);
    json_buf_free(&m);
    int64_t sh4[4] = {T, V, H, W}, sh3[3] = {V, H, W}, shT[1] = {T}, shV[1] = {V}, shH[1] = {H}, shW[1] = {W};
    st_writer_add(w, "data", ST_F32, 4, sh4, data);
    st_writer_add(w, "valid", ST_U8, 4, sh4, valid);
    st_writer_add(w, "time", ST_F64, 1, shT, a->time);
    st_writer_add(w, "lat", ST_F64, 1, shH, lat);
    st_writer_add(w, "lon", ST_F64, 1, shW, lon);
    st_writer_add(w, "mean", ST_F64, 1, shV, mean);
    st_writer_add(w, "std", ST_F64, 1, shV, sd);
    st_writer_add(w, "climatology", ST_F32, 3, sh3, clim);
    int rc = st_writer_finish(w, path, err, errlen);
    if (rc == 0) {
        char last[32];
        hours_to_iso(a->time[T - 1], last, sizeof last);
        log_info("convert: wrote %s: %d variables, %d times (%s .. %s), grid %dx%d (lat %g..%g, lon %g..%g); "
                 "train %d, validation %d, test %d times",
                 path, V, T, iso, last, H, W, lat[0], lat[H - 1], lon[0], lon[W - 1], t_train, t_val - t_train,
                 T - t_val);
        for (int v = 0; v < V; v++)
            log_info("  %-16s %-10s mean %-12.6g std %-12.6g from %s", a->vars[v]->name, a->vars[v]->units, mean[v],
                     sd[v], base_name(a->vars[v]->source));
    }
    free(data), free(valid), free(mean), free(sd), free(clim);
    return rc;
}

/* A value given twice in --vars or --levels would be looked for twice and reported missing the
 * second time ("not found (selected: t)"); refused before anything is read. */
static int check_repeats(const ConvertOptions *o, char *err, size_t errlen) {
    const ReadFilter *f = &o->filter;
    for (int i = 0; i < f->nvars; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(f->vars[i], f->vars[j])) ERR("--vars lists '%s' twice", f->vars[i]);
    for (int i = 0; i < f->nlevels; i++)
        for (int j = 0; j < i; j++)
            if (f->levels[i] == f->levels[j]) ERR("--levels lists %g hPa twice", f->levels[i]);
    return 0;
fail:
    return -1;
}

/* Every --rename entry must name a variable that was read (from FILE when given), else a typo
 * would leave the name unchanged without a word. */
static int check_renames(const SeriesList *l, int ninputs, const char *const *inputs, const ConvertOptions *o,
                         char *err, size_t errlen) {
    for (int r = 0; r < o->nrename; r++) {
        const char *e = o->rename[r], *eq = strchr(e, '='), *colon = strchr(e, ':'), *var = e;
        size_t fl = 0;
        if (colon && colon < eq) {
            fl = (size_t)(colon - e), var = colon + 1;
            int known = 0;
            for (int i = 0; i < ninputs && !known; i++)
                known = strlen(base_name(inputs[i])) == fl && !strncmp(base_name(inputs[i]), e, fl);
            if (!known) {
                char names[512] = "";
                for (int i = 0, k = 0; i < ninputs && k < 400; i++)
                    k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", i ? ", " : "", base_name(inputs[i]));
                ERR("--rename %s: no input is named %.*s (the inputs: %s)", e, (int)fl, e, names);
            }
        }
        const size_t vl = (size_t)(eq - var);
        char names[1024] = "";
        int k = 0, found = 0;
        for (int i = 0; i < l->n && !found; i++) {
            const VarSeries *s = &l->s[i];
            if (fl && (strlen(base_name(s->source)) != fl || strncmp(base_name(s->source), e, fl))) continue;
            found = strlen(s->name) == vl && !strncmp(s->name, var, vl);
            int seen = 0; /* split files repeat a name */
            for (int j = 0; j < i && !seen; j++) seen = !strcmp(l->s[j].name, s->name);
            if (k < 900 && !seen) k += snprintf(names + k, sizeof names - (size_t)k, "%s%s", k ? ", " : "", s->name);
        }
        if (!found && fl)
            ERR("--rename %s: %.*s has no variable '%.*s' (its variables: %s)", e, (int)fl, e, (int)vl, var,
                k ? names : "none read");
        if (!found) ERR("--rename %s: no input has a variable '%.*s' (the variables read: %s)", e, (int)vl, var, names);
    }
    return 0;
fail:
    return -1;
}

int convert_files(const char *out_path, int ninputs, const char *const *inputs, const ConvertOptions *o, char *err,
                  size_t errlen) {
    SeriesList l = {0};
    Assembled a = {0};
    int rc = -1;
    if (ninputs < 1) ERR("no input files");
    if (!(o->train_frac > 0) || o->val_frac < 0 || o->train_frac + o->val_frac >= 1.0)
        ERR("--split %g,%g: the training and validation fractions must be positive and sum to less than 1",
            o->train_frac, o->val_frac);
    if (check_repeats(o, err, errlen)) goto fail;
    ReadFilter f = o->filter;
    f.lenient = ninputs > 1;
    for (int i = 0; i < ninputs; i++) {
        struct stat st;
        if (stat(inputs[i], &st)) ERR("%s: cannot open: %s", inputs[i], strerror(errno));
        int r = is_grib(inputs[i]) ? read_grib(inputs[i], &f, &l, err, errlen) : read_netcdf(inputs[i], &f, &l, err, errlen);
        if (r) goto fail;
    }
    /* a variable asked for with --vars must have been found in some input */
    for (int k = 0; k < o->filter.nvars; k++) {
        int found = 0;
        for (int i = 0; i < l.n && !found; i++) found = strcmp(l.s[i].file_name, o->filter.vars[k]) == 0;
        if (!found) ERR("--vars: variable '%s' is in none of the inputs", o->filter.vars[k]);
    }
    for (int k = 0; k < o->filter.nlevels; k++) {
        int found = 0;
        for (int i = 0; i < l.n && !found; i++) found = fabs(l.s[i].level - o->filter.levels[k]) < 1e-6;
        if (!found) ERR("--levels: level %g hPa is in none of the inputs", o->filter.levels[k]);
    }
    if (check_renames(&l, ninputs, inputs, o, err, errlen)) goto fail;
    if (assemble(&l, o, &a, err, errlen)) goto fail;
    rc = write_dataset(out_path, &a, o, ninputs, inputs, err, errlen);
fail:
    free(a.vars);
    free(a.time);
    series_list_free(&l);
    return rc;
}
