/* GRIB reader (GRIB1 and GRIB2 through ecCodes): one VarSeries per variable name, where the
 * name is the short name with "_<hPa>" appended for pressure levels. Only regular lat-lon
 * grids; ensemble files with several members are refused (lvit trains on one trajectory).
 *
 * The file is read in one pass: every selected message is decoded into a record (its
 * variable, valid time, member number and its field already arranged as [lat row][lon]),
 * then records are grouped per variable, sorted by valid time and copied into the series. */
#include <eccodes.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/check.h"
#include "data/grib_check.h"
#include "data/input_size.h"
#include "data/series.h"

/* Set as ecCodes' missingValue before decoding, so bitmap-masked points come back as this
 * value and can be told apart from data (far outside any physical field). */
#define GRIB_SENTINEL 9.999e20

typedef struct Grid {
    long ni, nj, jpos, ineg, jcons;
    double lat0, lat1, lon0, lon1, di, dj;
} Grid;

typedef struct GVar {
    char name[64], file_name[64], long_name[128], units[32], level_type[64];
    double level;     /* hPa, or NAN */
    double raw_level; /* the "level" key, to refuse several non-pressure levels under one name */
    Grid g;
    int first_msg;    /* message number that defined the grid, for error messages */
    long *members;    /* distinct ensemble member numbers seen */
    int nmembers, members_cap;
    int count;        /* records of this variable */
} GVar;

typedef struct Rec {
    int var, msg;
    double time;
    float *vals; /* [nj*ni] as [lat row][lon] in the order of the GVar's lat/lon arrays */
} Rec;

typedef struct Ctx {
    const char *path;
    char *err;
    size_t errlen;
    int msg; /* 1-based message number being read */
    GVar *vars;
    int nvars, vars_cap;
    Rec *recs;
    int nrecs, recs_cap;
} Ctx;

static void fail(Ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(Ctx *c, const char *fmt, ...) {
    int k = c->msg > 0 ? snprintf(c->err, c->errlen, "%s: message %d: ", c->path, c->msg)
                       : snprintf(c->err, c->errlen, "%s: ", c->path);
    if (k < 0 || (size_t)k >= c->errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

/* Key getters: 0 or -1 with err naming the key and ecCodes' reason. */
static int get_long(Ctx *c, codes_handle *h, const char *key, long *v) {
    int e = codes_get_long(h, key, v);
    if (e) fail(c, "cannot read key %s: %s", key, codes_get_error_message(e));
    return e ? -1 : 0;
}

static int get_double(Ctx *c, codes_handle *h, const char *key, double *v) {
    int e = codes_get_double(h, key, v);
    if (e) fail(c, "cannot read key %s: %s", key, codes_get_error_message(e));
    return e ? -1 : 0;
}

static int get_string(Ctx *c, codes_handle *h, const char *key, char *buf, size_t n) {
    size_t len = n;
    int e = codes_get_string(h, key, buf, &len);
    if (e) fail(c, "cannot read key %s: %s", key, codes_get_error_message(e));
    return e ? -1 : 0;
}

/* Optional descriptive keys (name, units): absent or too long just gives "". */
static void get_string_opt(codes_handle *h, const char *key, char *buf, size_t n) {
    size_t len = n;
    if (codes_get_string(h, key, buf, &len) != 0) buf[0] = 0;
}

static int get_grid(Ctx *c, codes_handle *h, Grid *g) {
    memset(g, 0, sizeof *g);
    if (get_long(c, h, "Ni", &g->ni) || get_long(c, h, "Nj", &g->nj) ||
        get_double(c, h, "latitudeOfFirstGridPointInDegrees", &g->lat0) ||
        get_double(c, h, "latitudeOfLastGridPointInDegrees", &g->lat1) ||
        get_double(c, h, "longitudeOfFirstGridPointInDegrees", &g->lon0) ||
        get_double(c, h, "longitudeOfLastGridPointInDegrees", &g->lon1) ||
        get_long(c, h, "jScansPositively", &g->jpos) || get_long(c, h, "iScansNegatively", &g->ineg) ||
        get_long(c, h, "jPointsAreConsecutive", &g->jcons))
        return -1;
    if (g->ni < 1 || g->nj < 1 || g->ni > 1000000 || g->nj > 1000000 || g->ni * g->nj > 100000000L) {
        fail(c, "implausible grid size Ni=%ld Nj=%ld", g->ni, g->nj);
        return -1;
    }
    long alt = 0;
    if (codes_is_defined(h, "alternativeRowScanning") && get_long(c, h, "alternativeRowScanning", &alt))
        return -1;
    if (alt) {
        fail(c, "alternativeRowScanning=1 (boustrophedon rows) is not supported");
        return -1;
    }
    /* Coordinates come from the first and last points, which GRIB stores to the full
     * resolution, not from the increments: GRIB1 keeps increments in millidegrees, so 0.28125
     * is stored as 0.281 and would drift by 0.18 degrees over 640 columns. Increments, when
     * given, must agree with the extent to within that rounding. */
    double lat_span = g->lat1 - g->lat0;
    if (g->nj > 1 && (lat_span == 0 || (lat_span > 0) != (g->jpos != 0))) {
        fail(c, "latitudes %g to %g contradict jScansPositively=%ld", g->lat0, g->lat1, g->jpos);
        return -1;
    }
    double lon_span = g->ineg ? g->lon0 - g->lon1 : g->lon1 - g->lon0;
    if (lon_span < 0) lon_span += 360.0;
    g->dj = g->nj > 1 ? fabs(lat_span) / (double)(g->nj - 1) : 0.0;
    g->di = g->ni > 1 ? lon_span / (double)(g->ni - 1) : 0.0;
    if (g->ni > 1 && !(g->di > 0)) {
        fail(c, "longitudes %g to %g give no extent for Ni=%ld", g->lon0, g->lon1, g->ni);
        return -1;
    }
    const char *inc_key[2] = {"iDirectionIncrementInDegrees", "jDirectionIncrementInDegrees"};
    const double step[2] = {g->di, g->dj};
    const long npts[2] = {g->ni, g->nj};
    for (int k = 0; k < 2; k++) {
        int e = 0;
        if (npts[k] < 2 || codes_is_missing(h, inc_key[k], &e) || e) continue; /* not given */
        double inc;
        if (get_double(c, h, inc_key[k], &inc)) return -1;
        if (fabs(inc - step[k]) > 1.5e-3) {
            fail(c, "%s %g does not match the grid extent (%ld points, %g degrees apart)", inc_key[k],
                 inc, npts[k], step[k]);
            return -1;
        }
    }
    return 0;
}

static int grid_equal(const Grid *a, const Grid *b) {
    return a->ni == b->ni && a->nj == b->nj && a->jpos == b->jpos && a->ineg == b->ineg &&
           a->jcons == b->jcons && a->lat0 == b->lat0 && a->lat1 == b->lat1 && a->lon0 == b->lon0 &&
           a->lon1 == b->lon1 && a->di == b->di && a->dj == b->dj;
}

/* Coordinates as stored, rounded to a micro-degree (GRIB's finest resolution) so that
 * first + j * increment does not carry float noise like 0.30000000000000004. */
static double micro(double x) { return round(x * 1e6) / 1e6; }

static void grid_coords(const Grid *g, double *lat /* [nj] */, double *lon /* [ni] */) {
    for (long j = 0; j < g->nj; j++) lat[j] = micro(g->lat0 + (g->jpos ? 1 : -1) * g->dj * (double)j);
    for (long i = 0; i < g->ni; i++) {
        /* A row crossing the 0/360 (or -180/180) seam is wrapped back into [-180, 360). */
        double x = micro(g->lon0 + (g->ineg ? -1 : 1) * g->di * (double)i);
        lon[i] = x >= 360.0 ? x - 360.0 : x < -180.0 ? x + 360.0 : x;
    }
}

static int name_in(const char *name, int n, const char *const *list) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, list[i])) return i;
    return -1;
}

static int level_in(double level, int n, const double *list) {
    for (int i = 0; i < n; i++)
        if (fabs(level - list[i]) < 1e-6) return i;
    return -1;
}

static int add_member(Ctx *c, GVar *v, long number) {
    for (int i = 0; i < v->nmembers; i++)
        if (v->members[i] == number) return 0;
    if (v->nmembers == v->members_cap) {
        int cap = v->members_cap ? 2 * v->members_cap : 4;
        long *m = realloc(v->members, sizeof *m * (size_t)cap);
        if (!m) {
            fail(c, "out of memory");
            return -1;
        }
        v->members = m;
        v->members_cap = cap;
    }
    v->members[v->nmembers++] = number;
    return 0;
}

/* Decodes one message into a record, or skips it when the filter does not select it.
 * seen_vars / seen_levels mark which filter entries matched something. */
static int read_message(Ctx *c, codes_handle *h, const ReadFilter *f, char *seen_vars, char *seen_levels) {
    char grid_type[64], short_name[64], level_type[64];
    if (get_string(c, h, "gridType", grid_type, sizeof grid_type) ||
        get_string(c, h, "shortName", short_name, sizeof short_name) ||
        get_string(c, h, "typeOfLevel", level_type, sizeof level_type))
        return -1;
    int vi = f && f->vars ? name_in(short_name, f->nvars, f->vars) : 0;
    if (vi < 0) return 0;
    if (f && f->vars) seen_vars[vi] = 1;
    double raw_level = NAN, hpa = NAN;
    long lv;
    if (codes_is_defined(h, "level")) {
        if (get_long(c, h, "level", &lv)) return -1;
        raw_level = (double)lv;
    }
    if (!strcmp(level_type, "isobaricInhPa")) hpa = raw_level;
    else if (!strcmp(level_type, "isobaricInPa")) hpa = raw_level / 100.0;
    /* The level filter selects among pressure levels; single-level fields pass it. */
    if (!isnan(hpa) && f && f->levels) {
        int li = level_in(hpa, f->nlevels, f->levels);
        if (li < 0) return 0;
        seen_levels[li] = 1;
    }
    if (strcmp(grid_type, "regular_ll") != 0) {
        fail(c, "variable '%s': gridType '%s' is not supported (only regular_ll; regrid first, "
                "e.g. with MIR or CDO)", short_name, grid_type);
        return -1;
    }

    char name[96];
    if (isnan(hpa)) snprintf(name, sizeof name, "%s", short_name);
    else snprintf(name, sizeof name, "%s_%g", short_name, hpa);
    if (strlen(name) >= sizeof c->vars->name) {
        fail(c, "variable name '%s' is too long", name);
        return -1;
    }

    long vdate, vtime, number = -1, ddate, su, step;
    /* ecCodes walks the calendar to the validity date: a crafted date or a step of billions of
       hours keeps it busy for minutes, so both are checked first */
    if (get_long(c, h, "dataDate", &ddate)) return -1;
    if (ddate / 10000 < 1 || ddate / 100 % 100 < 1 || ddate / 100 % 100 > 12 || ddate % 100 < 1 || ddate % 100 > 31) {
        fail(c, "variable '%s': reference date %ld is not a date (YYYYMMDD)", name, ddate);
        return -1;
    }
    if (codes_get_long(h, "stepUnits", &su) == 0 && codes_get_long(h, "endStep", &step) == 0) {
        static const struct { long code; double hours; } U[] = {{0, 1.0 / 60}, {1, 1}, {2, 24}, {3, 744}, {4, 8784},
            {5, 87840}, {6, 263520}, {7, 878400}, {10, 3}, {11, 6}, {12, 12}, {13, 1.0 / 3600}, {254, 1.0 / 3600}};
        for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
            if (U[i].code == su && fabs((double)step * U[i].hours) > 1e6) {
                fail(c, "variable '%s': forecast step %ld (step units %ld) is more than a million hours", name, step, su);
                return -1;
            }
    }
    long unit, ed = 2;
    if (!grib_time_unit_known(h, &unit, &ed)) {
        fail(c, "variable '%s': the forecast time's unit code %ld is not a time unit (GRIB%ld code table %s)", name, unit,
             ed, ed == 1 ? "4" : "4.4");
        return -1;
    }
    if (get_long(c, h, "validityDate", &vdate) || get_long(c, h, "validityTime", &vtime)) return -1;
    /* "number" is the ensemble member (perturbationNumber in GRIB2); deterministic
     * products do not define it. */
    if (codes_is_defined(h, "number")) {
        int e = 0;
        if (!codes_is_missing(h, "number", &e) && !e && get_long(c, h, "number", &number)) return -1;
    }
    double t = civil_to_hours((int)(vdate / 10000), (int)(vdate / 100 % 100), (int)(vdate % 100),
                              (int)(vtime / 100), (int)(vtime % 100), 0.0);
    Grid g;
    if (get_grid(c, h, &g)) return -1;

    /* Find or create the variable; all its messages must share the first one's grid. */
    int var = -1;
    for (int i = 0; i < c->nvars; i++)
        if (!strcmp(c->vars[i].name, name)) var = i;
    if (var < 0) {
        if (c->nvars == c->vars_cap) {
            int cap = c->vars_cap ? 2 * c->vars_cap : 16;
            GVar *nv = realloc(c->vars, sizeof *nv * (size_t)cap);
            if (!nv) {
                fail(c, "out of memory");
                return -1;
            }
            c->vars = nv;
            c->vars_cap = cap;
        }
        var = c->nvars++;
        GVar *v = &c->vars[var];
        memset(v, 0, sizeof *v);
        memcpy(v->name, name, strlen(name) + 1);
        snprintf(v->file_name, sizeof v->file_name, "%s", short_name);
        snprintf(v->level_type, sizeof v->level_type, "%s", level_type);
        get_string_opt(h, "name", v->long_name, sizeof v->long_name);
        get_string_opt(h, "units", v->units, sizeof v->units);
        v->level = hpa;
        v->raw_level = raw_level;
        v->g = g;
        v->first_msg = c->msg;
    }
    GVar *v = &c->vars[var];
    if (!grid_equal(&v->g, &g)) {
        fail(c, "variable '%s': grid differs from message %d (Ni x Nj %ld x %ld, first point "
                "%g N %g E, vs %ld x %ld, %g N %g E); all messages of a variable need one grid",
             name, v->first_msg, g.ni, g.nj, g.lat0, g.lon0, v->g.ni, v->g.nj, v->g.lat0, v->g.lon0);
        return -1;
    }
    if (strcmp(v->level_type, level_type) != 0 ||
        !(v->raw_level == raw_level || (isnan(v->raw_level) && isnan(raw_level)))) {
        fail(c, "variable '%s': level %s %g differs from message %d (%s %g); only pressure "
                "levels (isobaricInhPa/isobaricInPa) can be split into variables",
             name, level_type, raw_level, v->first_msg, v->level_type, v->raw_level);
        return -1;
    }
    if (add_member(c, v, number)) return -1;

    /* Values in scanning order; bitmap-masked points become the sentinel, then NAN. */
    size_t n = 0;
    int e = codes_set_double(h, "missingValue", GRIB_SENTINEL);
    if (e) {
        fail(c, "cannot set missingValue: %s", codes_get_error_message(e));
        return -1;
    }
    long bitmap = 0;
    if (get_long(c, h, "bitmapPresent", &bitmap)) return -1;
    if ((e = codes_get_size(h, "values", &n)) != 0) {
        fail(c, "cannot read the size of values: %s", codes_get_error_message(e));
        return -1;
    }
    size_t npts = (size_t)g.ni * (size_t)g.nj;
    if (n != npts) {
        fail(c, "variable '%s': %zu values for a %ld x %ld grid", name, n, g.ni, g.nj);
        return -1;
    }
    double *d = malloc(sizeof *d * npts);
    float *vals = malloc(sizeof *vals * npts);
    if (!d || !vals) {
        free(d);
        free(vals);
        fail(c, "out of memory for %zu values", npts);
        return -1;
    }
    if ((e = codes_get_double_array(h, "values", d, &n)) != 0 || n != npts) {
        fail(c, "variable '%s': cannot decode values: %s", name,
             e ? codes_get_error_message(e) : "short array");
        free(d);
        free(vals);
        return -1;
    }
    /* Scanning order is row by row unless jPointsAreConsecutive (column by column); rows and
     * columns then follow lat[] and lon[] as grid_coords builds them. */
    for (size_t j = 0; j < (size_t)g.nj; j++)
        for (size_t i = 0; i < (size_t)g.ni; i++) {
            double x = g.jcons ? d[i * (size_t)g.nj + j] : d[j * (size_t)g.ni + i];
            vals[j * (size_t)g.ni + i] = bitmap && x == GRIB_SENTINEL ? NAN : (float)x;
        }
    free(d);

    if (c->nrecs == c->recs_cap) {
        int cap = c->recs_cap ? 2 * c->recs_cap : 64;
        Rec *nr = realloc(c->recs, sizeof *nr * (size_t)cap);
        if (!nr) {
            free(vals);
            fail(c, "out of memory");
            return -1;
        }
        c->recs = nr;
        c->recs_cap = cap;
    }
    c->recs[c->nrecs++] = (Rec){.var = var, .msg = c->msg, .time = t, .vals = vals};
    v->count++;
    return 0;
}

static int rec_cmp(const void *pa, const void *pb) {
    const Rec *a = *(const Rec *const *)pa, *b = *(const Rec *const *)pb;
    if (a->var != b->var) return a->var < b->var ? -1 : 1;
    if (a->time != b->time) return a->time < b->time ? -1 : 1;
    return a->msg < b->msg ? -1 : a->msg > b->msg;
}

/* Lists names for an error message ("t, u, v"), truncated to fit. */
static void list_names(const Ctx *c, int file_names, char *buf, size_t n) {
    buf[0] = 0;
    size_t k = 0;
    for (int i = 0; i < c->nvars && k + 1 < n; i++) {
        const char *s = file_names ? c->vars[i].file_name : c->vars[i].name;
        int dup = 0;
        for (int j = 0; j < i && file_names; j++) dup |= !strcmp(c->vars[j].file_name, s);
        if (dup) continue;
        int w = snprintf(buf + k, n - k, "%s%s", k ? ", " : "", s);
        if (w < 0 || (size_t)w >= n - k) break;
        k += (size_t)w;
    }
}

/* Groups the records into series appended to out. */
static int build_series(Ctx *c, SeriesList *out) {
    char iso[32];
    Rec **order = malloc(sizeof *order * (size_t)(c->nrecs ? c->nrecs : 1));
    if (!order) {
        fail(c, "out of memory");
        return -1;
    }
    for (int i = 0; i < c->nrecs; i++) order[i] = &c->recs[i];
    qsort(order, (size_t)c->nrecs, sizeof *order, rec_cmp);
    int r = 0, rc = 0;
    c->msg = 0;
    for (int vi = 0; vi < c->nvars && rc == 0; vi++) {
        GVar *v = &c->vars[vi];
        Rec **rs = order + r;
        r += v->count;
        if (v->nmembers > 1) {
            fail(c, "variable '%s' has %d ensemble members (GRIB key number); lvit reads one "
                    "member per file: extract one first, e.g. grib_copy -w number=0",
                 v->name, v->nmembers);
            rc = -1;
            break;
        }
        for (int k = 1; k < v->count; k++)
            if (rs[k]->time == rs[k - 1]->time) {
                hours_to_iso(rs[k]->time, iso, sizeof iso);
                fail(c, "variable '%s': duplicate valid time %s (messages %d and %d)", v->name, iso,
                     rs[k - 1]->msg, rs[k]->msg);
                rc = -1;
                break;
            }
        if (rc) break;
        size_t hw = (size_t)v->g.ni * (size_t)v->g.nj;
        VarSeries *s = series_list_add(out);
        snprintf(s->name, sizeof s->name, "%s", v->name);
        snprintf(s->file_name, sizeof s->file_name, "%s", v->file_name);
        snprintf(s->long_name, sizeof s->long_name, "%s", v->long_name);
        snprintf(s->units, sizeof s->units, "%s", v->units);
        snprintf(s->source, sizeof s->source, "%s", c->path);
        s->level = v->level;
        s->T = v->count;
        s->H = (int)v->g.nj;
        s->W = (int)v->g.ni;
        s->time = malloc(sizeof *s->time * (size_t)v->count);
        s->lat = malloc(sizeof *s->lat * (size_t)v->g.nj);
        s->lon = malloc(sizeof *s->lon * (size_t)v->g.ni);
        s->values = malloc(sizeof *s->values * hw * (size_t)v->count);
        if (!s->time || !s->lat || !s->lon || !s->values) {
            fail(c, "variable '%s': out of memory for %d fields", v->name, v->count);
            rc = -1;
            break;
        }
        grid_coords(&v->g, s->lat, s->lon);
        for (int k = 0; k < v->count; k++) {
            s->time[k] = rs[k]->time;
            memcpy(s->values + (size_t)k * hw, rs[k]->vals, sizeof(float) * hw);
            free(rs[k]->vals); /* keeps the peak near one copy of the data */
            rs[k]->vals = NULL;
        }
    }
    free(order);
    return rc;
}

/* The sections as ecCodes parsed them must be where the message's own lengths put them: when a
 * section is shorter than its template, ecCodes "assumes" another length, and keys read from
 * such a message can keep it busy for minutes (grib_check.h). */
static int layout_agrees(Ctx *c, codes_handle *h) {
    const void *m;
    size_t len;
    GribLayout L;
    char why[384];
    if (codes_get_message(h, &m, &len)) return 0; /* nothing to compare; the keys will fail */
    if (grib_layout(m, len, &L, why, sizeof why)) {
        fail(c, "malformed: %s", why);
        return -1;
    }
    for (int k = 1; k < 8 && L.checked; k++) {
        char key[32];
        long at = -1;
        snprintf(key, sizeof key, "offsetSection%d", k);
        if (L.off[k] >= 0 && (codes_get_long(h, key, &at) || at != L.off[k])) {
            fail(c, "malformed: section %d does not begin where the stated lengths put it (message byte "
                    "%lld): a section before it is shorter than its template", k, L.off[k]);
            return -1;
        }
    }
    return 0;
}

/* ecCodes aborts the process when one of its internal checks fails on a malformed message
 * (found by fuzz_convert); the hook makes that a refusal of the file instead. */
static _Thread_local const char *tl_grib_path;
static void grib_assertion_failed(const char *what) {
    char w[256];
    snprintf(w, sizeof w, "%s", what);
    char *in = strstr(w, "' in "); /* ecCodes' own source location: no use to the user */
    if (in) in[1] = 0;
    DIE_USER("%s: ecCodes cannot decode this GRIB file (%s): the file is malformed",
             tl_grib_path ? tl_grib_path : "a GRIB input", w);
}

int read_grib(const char *path, const ReadFilter *f, SeriesList *out, char *err, size_t errlen) {
    tl_grib_path = path;
    codes_set_codes_assertion_failed_proc(grib_assertion_failed);
    Ctx c = {.path = path, .err = err, .errlen = errlen};
    const int n0 = out->n;
    int rc = -1;
    char *seen_vars = NULL, *seen_levels = NULL;
    char why[512];
    if (input_size_check(path, why, sizeof why)) { /* before ecCodes allocates what a header claims */
        fail(&c, "%s", why);
        return -1;
    }
    if (grib_file_check(path, why, sizeof why)) { /* before ecCodes trusts a section length */
        fail(&c, "%s", why);
        return -1;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fail(&c, "cannot open: %s", strerror(errno));
        return -1;
    }
    seen_vars = calloc(f && f->vars && f->nvars > 0 ? (size_t)f->nvars : 1, 1);
    seen_levels = calloc(f && f->levels && f->nlevels > 0 ? (size_t)f->nlevels : 1, 1);
    if (!seen_vars || !seen_levels) {
        fail(&c, "out of memory");
        goto done;
    }
    int nmsg = 0;
    for (;;) {
        int e = 0;
        c.msg = nmsg + 1;
        codes_handle *h = codes_handle_new_from_file(NULL, fp, PRODUCT_GRIB, &e);
        if (!h) {
            if (e == CODES_PREMATURE_END_OF_FILE) {
                struct stat st;
                long long size = stat(path, &st) ? -1 : (long long)st.st_size;
                c.msg = 0; /* named in the text */
                fail(&c, "message %d is cut off: the file is truncated (%lld bytes)", nmsg + 1, size);
                goto done;
            }
            if (e) {
                fail(&c, "cannot decode GRIB: %s%s", codes_get_error_message(e),
                     nmsg ? "" : " (not a GRIB file?)");
                goto done;
            }
            break; /* end of file */
        }
        nmsg++;
        int r = layout_agrees(&c, h) ? -1 : read_message(&c, h, f, seen_vars, seen_levels);
        codes_handle_delete(h);
        if (r) goto done;
    }
    c.msg = 0;
    if (nmsg == 0) {
        fail(&c, "not a GRIB file (no GRIB message found)");
        goto done;
    }
    char names[256];
    /* Lenient (several inputs): what this file lacks may come from another one; the
     * converter checks that every requested variable and level was found somewhere. */
    const int strict = !(f && f->lenient);
    if (strict && f && f->vars)
        for (int i = 0; i < f->nvars; i++)
            if (!seen_vars[i]) {
                list_names(&c, 1, names, sizeof names);
                fail(&c, "variable '%s' not found (selected variables in the file: %s)", f->vars[i],
                     names[0] ? names : "none");
                goto done;
            }
    if (strict && f && f->levels)
        for (int i = 0; i < f->nlevels; i++)
            if (!seen_levels[i]) {
                list_names(&c, 0, names, sizeof names);
                fail(&c, "pressure level %g hPa not found for the selected variables (found: %s)",
                     f->levels[i], names[0] ? names : "none");
                goto done;
            }
    if (c.nvars == 0 && strict) {
        fail(&c, "no field selected from %d messages", nmsg);
        goto done;
    }
    rc = build_series(&c, out);
done:
    if (rc) {
        for (int i = n0; i < out->n; i++) series_free(&out->s[i]);
        out->n = n0;
    }
    for (int i = 0; i < c.nrecs; i++) free(c.recs[i].vals);
    for (int i = 0; i < c.nvars; i++) free(c.vars[i].members);
    free(c.recs);
    free(c.vars);
    free(seen_vars);
    free(seen_levels);
    fclose(fp);
    return rc;
}
