/* netCDF (classic, 64-bit offset, netCDF-4/HDF5) and Zarr (NCZarr or plain Zarr v2 as xarray
 * writes it) reader: every variable on a latitude-longitude grid becomes one VarSeries per
 * pressure level, unpacked to physical units with missing values as NAN. Only the root group
 * is searched. Coordinates are copied as stored; data/convert.c normalizes them. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <netcdf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/input_size.h"
#include "data/series.h"

enum { ROLE_OTHER, ROLE_LAT, ROLE_LON, ROLE_LEVEL, ROLE_TIME };

typedef struct {
    char name[NC_MAX_NAME + 1];
    size_t len;
    int coord;       /* varid of the 1-D coordinate variable of the same name, or -1 */
    int role;
    double to_hpa;   /* level coordinate scale (0.01 for Pa) */
} DimInfo;

typedef struct {
    const char *path;
    int ncid;
    int ndims; /* DimInfo is indexed by dimid; dimids of the root group are 0..ndims-1 */
    DimInfo *dims;
    char *err;
    size_t errlen;
} Ctx;

__attribute__((format(printf, 3, 4))) static int fail(const Ctx *c, const char *what, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (what)
        snprintf(c->err, c->errlen, "%s: %s: %s", c->path, what, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
    return -1;
}

static int in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcasecmp(s, *list) == 0) return 1;
    return 0;
}

/* Text attribute (NC_CHAR or netCDF-4 NC_STRING) into buf; 0 when present. */
static int att_text(int ncid, int varid, const char *name, char *buf, size_t n) {
    nc_type t;
    size_t len;
    buf[0] = 0;
    if (nc_inq_att(ncid, varid, name, &t, &len) != NC_NOERR) return -1;
    if (t == NC_CHAR) {
        char *tmp = malloc(len + 1);
        if (!tmp) return -1;
        if (nc_get_att_text(ncid, varid, name, tmp) != NC_NOERR) { free(tmp); return -1; }
        tmp[len] = 0;
        snprintf(buf, n, "%s", tmp);
        free(tmp);
        return 0;
    }
    if (t == NC_STRING && len >= 1) {
        char **v = calloc(len, sizeof *v);
        if (!v) return -1;
        int rc = nc_get_att_string(ncid, varid, name, v);
        if (rc == NC_NOERR) snprintf(buf, n, "%s", v[0] ? v[0] : "");
        if (rc == NC_NOERR) nc_free_string(len, v);
        free(v);
        return rc == NC_NOERR ? 0 : -1;
    }
    return -1;
}

/* Numeric attribute values as double (up to max of them); number read, 0 when absent. */
static int att_doubles(int ncid, int varid, const char *name, double *v, size_t max) {
    nc_type t;
    size_t len;
    if (nc_inq_att(ncid, varid, name, &t, &len) != NC_NOERR) return 0;
    if (t == NC_CHAR || t == NC_STRING || len == 0 || len > max) return 0;
    if (nc_get_att_double(ncid, varid, name, v) != NC_NOERR) return 0;
    return (int)len;
}

static int units_are(const char *u, const char *const *list) { return u[0] && in_list(u, list); }

static const char *const LAT_NAMES[] = {"lat", "latitude", "nav_lat", NULL};
static const char *const LON_NAMES[] = {"lon", "longitude", "nav_lon", NULL};
static const char *const LAT_UNITS[] = {"degrees_north", "degree_north", "degrees_N", "degree_N", "degreesN", "degreeN", NULL};
static const char *const LON_UNITS[] = {"degrees_east", "degree_east", "degrees_E", "degree_E", "degreesE", "degreeE", NULL};
static const char *const LEV_NAMES[] = {"level", "lev", "plev", "isobaricInhPa", "pressure", "pressure_level", "isobaric", NULL};
static const char *const HPA_UNITS[] = {"hPa", "millibars", "millibar", "mbar", "mb", NULL};
static const char *const TIME_NAMES[] = {"time", "valid_time", "t", "timestep", "times", "date", "month", NULL};

static int classify_dims(Ctx *c) {
    int rc, ndims;
    if ((rc = nc_inq_ndims(c->ncid, &ndims)) != NC_NOERR) return fail(c, NULL, "nc_inq_ndims: %s", nc_strerror(rc));
    c->ndims = ndims;
    c->dims = calloc(ndims > 0 ? (size_t)ndims : 1, sizeof *c->dims);
    if (!c->dims) return fail(c, NULL, "out of memory");
    for (int d = 0; d < ndims; d++) {
        DimInfo *di = &c->dims[d];
        if ((rc = nc_inq_dim(c->ncid, d, di->name, &di->len)) != NC_NOERR)
            return fail(c, NULL, "nc_inq_dim %d: %s", d, nc_strerror(rc));
        di->coord = -1;
        di->to_hpa = 1;
        int vid, vnd, vdim;
        char units[128] = "";
        if (nc_inq_varid(c->ncid, di->name, &vid) == NC_NOERR && nc_inq_varndims(c->ncid, vid, &vnd) == NC_NOERR &&
            vnd == 1 && nc_inq_vardimid(c->ncid, vid, &vdim) == NC_NOERR && vdim == d) {
            di->coord = vid;
            att_text(c->ncid, vid, "units", units, sizeof units);
        }
        if (in_list(di->name, LAT_NAMES) || units_are(units, LAT_UNITS)) di->role = ROLE_LAT;
        else if (in_list(di->name, LON_NAMES) || units_are(units, LON_UNITS)) di->role = ROLE_LON;
        else if (units_are(units, HPA_UNITS) || strcmp(units, "Pa") == 0 || (!units[0] && in_list(di->name, LEV_NAMES)))
            di->role = ROLE_LEVEL, di->to_hpa = strcmp(units, "Pa") == 0 ? 0.01 : 1;
        else if (strstr(units, " since ") || in_list(di->name, TIME_NAMES)) di->role = ROLE_TIME;
        else if (in_list(di->name, LEV_NAMES)) {
            /* a level dimension with units that are no pressure (model levels, metres) */
            di->role = ROLE_OTHER;
        }
    }
    return 0;
}

static int read_coord(Ctx *c, int dimid, const char *var, double **out) {
    const DimInfo *di = &c->dims[dimid];
    if (di->coord < 0)
        return fail(c, var, "dimension '%s' has no coordinate variable '%s(%s)'; expected one with its values",
                    di->name, di->name, di->name);
    char units[64] = "";
    if ((di->role == ROLE_LAT || di->role == ROLE_LON) && att_text(c->ncid, di->coord, "units", units, sizeof units) == 0 &&
        strncasecmp(units, "rad", 3) == 0)
        return fail(c, di->name, "units '%s': lvit expects latitude and longitude in degrees (degrees_north, "
                    "degrees_east); convert the coordinates (multiply by 180/pi)", units);
    double *v = malloc((di->len ? di->len : 1) * sizeof *v);
    if (!v) return fail(c, var, "out of memory");
    int rc = nc_get_var_double(c->ncid, di->coord, v);
    if (rc != NC_NOERR) {
        free(v);
        return fail(c, di->name, "reading coordinate: %s", nc_strerror(rc));
    }
    *out = v;
    return 0;
}

/* NCAR's storm files (ncl_storm_1996) carry time as int `timestep` without units plus a char
 * variable `reftime` = "1996 01 05 00:00"; NCL's examples read timestep as hours after
 * reftime, which matches the 6-hourly analyses, so this convention is applied only when
 * exactly that pair is present. */
static int storm_reftime(Ctx *c, double *origin) {
    int vid;
    nc_type t;
    int nd, dimid;
    size_t len;
    if (nc_inq_varid(c->ncid, "reftime", &vid) != NC_NOERR || nc_inq_vartype(c->ncid, vid, &t) != NC_NOERR ||
        t != NC_CHAR || nc_inq_varndims(c->ncid, vid, &nd) != NC_NOERR || nd != 1 ||
        nc_inq_vardimid(c->ncid, vid, &dimid) != NC_NOERR || nc_inq_dimlen(c->ncid, dimid, &len) != NC_NOERR ||
        len == 0 || len > 256)
        return -1;
    char s[260] = "";
    if (nc_get_var_text(c->ncid, vid, s) != NC_NOERR) return -1;
    s[len] = 0;
    int y, mo, d, h, mi;
    if (sscanf(s, "%d %d %d %d:%d", &y, &mo, &d, &h, &mi) != 5 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
        h > 23 || mi < 0 || mi > 59)
        return -1;
    *origin = civil_to_hours(y, mo, d, h, mi, 0);
    return 0;
}

/* Hours since 1970 of the time coordinate of dimension dimid. */
static int read_time(Ctx *c, int dimid, const char *var, double **out) {
    const DimInfo *di = &c->dims[dimid];
    double *v = NULL;
    if (read_coord(c, dimid, var, &v)) return -1;
    char units[256] = "", cal[64] = "";
    att_text(c->ncid, di->coord, "units", units, sizeof units);
    att_text(c->ncid, di->coord, "calendar", cal, sizeof cal);
    static const char *const CALS[] = {"standard", "gregorian", "proleptic_gregorian", NULL};
    if (cal[0] && !in_list(cal, CALS)) {
        free(v);
        return fail(c, di->name, "calendar '%s' is not supported; expected standard, gregorian or "
                    "proleptic_gregorian (convert the file, e.g. with cdo setcalendar)", cal);
    }
    double f, origin;
    if (units[0] && cf_time_units(units, &f, &origin) == 0) {
        for (size_t i = 0; i < di->len; i++) v[i] = origin + f * v[i];
    } else if (!units[0] && strcmp(di->name, "timestep") == 0 && storm_reftime(c, &origin) == 0) {
        for (size_t i = 0; i < di->len; i++) v[i] = origin + v[i];
    } else if (!units[0] && strcasecmp(di->name, "month") == 0) {
        /* A climatology indexed by calendar month (ERA-Interim's eraint_uvz.nc): there is no
         * real date, so month m is placed at 0001-mm-01, a year no real data can have. */
        for (size_t i = 0; i < di->len; i++) {
            double m = v[i];
            if (m != floor(m) || m < 1 || m > 12) {
                free(v);
                return fail(c, di->name, "month coordinate value %g is not 1..12 and there are no time units", m);
            }
            v[i] = civil_to_hours(1, (int)v[i], 1, 0, 0, 0);
        }
    } else {
        free(v);
        return fail(c, di->name, "time units '%s' (variable %s) are not usable; expected "
                    "'<seconds|minutes|hours|days> since YYYY-MM-DD[ hh:mm:ss]'", units, var);
    }
    for (size_t i = 0; i < di->len; i++) {
        if (!isfinite(v[i]) || (i > 0 && !(v[i] > v[i - 1]))) {
            free(v);
            return fail(c, di->name, "times must be finite and strictly increasing (value %zu breaks it)", i);
        }
    }
    *out = v;
    return 0;
}

/* A file without a time dimension may still have a scalar time coordinate (ERA5 downloads). */
static double scalar_time(Ctx *c) {
    int nvars;
    if (nc_inq_nvars(c->ncid, &nvars) != NC_NOERR) return NAN;
    for (int v = 0; v < nvars; v++) {
        int nd;
        char units[256];
        double x, f, origin;
        if (nc_inq_varndims(c->ncid, v, &nd) == NC_NOERR && nd == 0 &&
            att_text(c->ncid, v, "units", units, sizeof units) == 0 && cf_time_units(units, &f, &origin) == 0 &&
            nc_get_var_double(c->ncid, v, &x) == NC_NOERR)
            return origin + f * x;
    }
    return NAN;
}

/* Is varid a field on a lat-lon grid (last two dimensions latitude, longitude)? */
static int is_field(const Ctx *c, int varid) {
    int nd, dimids[NC_MAX_VAR_DIMS];
    nc_type t;
    if (nc_inq_varndims(c->ncid, varid, &nd) != NC_NOERR || nd < 2 || nd > NC_MAX_VAR_DIMS) return 0;
    if (nc_inq_vardimid(c->ncid, varid, dimids) != NC_NOERR || nc_inq_vartype(c->ncid, varid, &t) != NC_NOERR) return 0;
    if (t == NC_CHAR || t == NC_STRING || t > NC_STRING) return 0;
    for (int i = 0; i < nd; i++)
        if (dimids[i] < 0 || dimids[i] >= c->ndims) return 0;
    return c->dims[dimids[nd - 2]].role == ROLE_LAT && c->dims[dimids[nd - 1]].role == ROLE_LON;
}

typedef struct {
    double fill[8];
    int nfill;       /* _FillValue and missing_value values, in packed units */
    int declared;    /* the file declares a fill or missing value (NaN then means missing) */
    double vmin, vmax; /* valid range in packed units (-inf..inf when absent) */
    double scale, offset;
} Packing;

static void read_packing(const Ctx *c, int varid, nc_type t, Packing *p) {
    memset(p, 0, sizeof *p);
    p->nfill = att_doubles(c->ncid, varid, "_FillValue", p->fill, 1);
    p->nfill += att_doubles(c->ncid, varid, "missing_value", p->fill + p->nfill, 7);
    p->declared = p->nfill > 0;
    if (!p->declared && (t == NC_FLOAT || t == NC_DOUBLE)) {
        /* Zarr stores declare their fill in .zarray (NaN for xarray floats); the library
         * reports it here, not as an attribute. */
        int nofill = 1;
        double fd = 0;
        float ff = 0;
        int rc = t == NC_FLOAT ? nc_inq_var_fill(c->ncid, varid, &nofill, &ff) : nc_inq_var_fill(c->ncid, varid, &nofill, &fd);
        if (rc == NC_NOERR && !nofill && isnan(t == NC_FLOAT ? (double)ff : fd)) p->declared = 1;
        /* unwritten parts of a float variable hold the library's default fill */
        p->fill[p->nfill++] = t == NC_FLOAT ? (double)NC_FILL_FLOAT : NC_FILL_DOUBLE;
    }
    double r[2];
    p->vmin = -INFINITY, p->vmax = INFINITY;
    if (att_doubles(c->ncid, varid, "valid_range", r, 2) == 2) p->vmin = r[0], p->vmax = r[1];
    if (att_doubles(c->ncid, varid, "valid_min", r, 1) == 1) p->vmin = r[0];
    if (att_doubles(c->ncid, varid, "valid_max", r, 1) == 1) p->vmax = r[0];
    p->scale = 1, p->offset = 0;
    if (att_doubles(c->ncid, varid, "scale_factor", r, 1) == 1) p->scale = r[0];
    if (att_doubles(c->ncid, varid, "add_offset", r, 1) == 1) p->offset = r[0];
}

static void series_drop(SeriesList *out, int n0) {
    for (int i = n0; i < out->n; i++) series_free(&out->s[i]);
    out->n = n0;
}

/* Appends the series of one field variable (one per selected level). */
static int read_field(Ctx *c, int varid, const ReadFilter *f, SeriesList *out) {
    char vname[NC_MAX_NAME + 1];
    int nd, dimids[NC_MAX_VAR_DIMS], rc;
    nc_type type;
    if ((rc = nc_inq_var(c->ncid, varid, vname, &type, &nd, dimids, NULL)) != NC_NOERR)
        return fail(c, NULL, "nc_inq_var %d: %s", varid, nc_strerror(rc));
    if (strlen(vname) > 48) return fail(c, vname, "variable name longer than 48 characters; rename it in the file");
    int tdim = -1, ldim = -1;
    for (int i = 0; i < nd - 2; i++) {
        const DimInfo *di = &c->dims[dimids[i]];
        if (di->role == ROLE_TIME && tdim < 0) tdim = i;
        else if (di->role == ROLE_LEVEL && ldim < 0) ldim = i;
        else if (di->len != 1)
            return fail(c, vname, "extra dimension '%s' of size %zu; expected only time, pressure level, "
                        "latitude and longitude (select one '%s' first, e.g. ncks -d %s,0)",
                        di->name, di->len, di->name, di->name);
    }
    const DimInfo *dlat = &c->dims[dimids[nd - 2]], *dlon = &c->dims[dimids[nd - 1]];
    size_t T = tdim >= 0 ? c->dims[dimids[tdim]].len : 1;
    size_t L = ldim >= 0 ? c->dims[dimids[ldim]].len : 1;
    if (T == 0 || dlat->len == 0 || dlon->len == 0 || T > INT_MAX || dlat->len > INT_MAX || dlon->len > INT_MAX ||
        T * dlat->len > SIZE_MAX / sizeof(double) / dlon->len)
        return fail(c, vname, "empty or oversized field (%zu x %zu x %zu)", T, dlat->len, dlon->len);
    size_t HW = dlat->len * dlon->len, n = T * HW;

    double *time = NULL, *lat = NULL, *lon = NULL, *lev = NULL, *raw = NULL;
    int ret = -1, n0 = out->n;
    int *pick = calloc(L, sizeof *pick);
    if (!pick) { fail(c, vname, "out of memory"); goto done; }
    if (read_coord(c, dimids[nd - 2], vname, &lat) || read_coord(c, dimids[nd - 1], vname, &lon)) goto done;
    if (tdim >= 0) {
        if (read_time(c, dimids[tdim], vname, &time)) goto done;
    } else {
        if (!(time = malloc(sizeof *time))) { fail(c, vname, "out of memory"); goto done; }
        time[0] = scalar_time(c);
    }
    for (size_t k = 0; k < L; k++) pick[k] = 1;
    if (ldim >= 0) {
        const DimInfo *dl = &c->dims[dimids[ldim]];
        if (read_coord(c, dimids[ldim], vname, &lev)) goto done;
        for (size_t k = 0; k < L; k++) lev[k] *= dl->to_hpa;
        if (f && f->nlevels > 0 && f->levels) {
            for (size_t k = 0; k < L; k++) pick[k] = 0;
            for (int j = 0; j < f->nlevels; j++) {
                int found = 0;
                for (size_t k = 0; k < L; k++)
                    if (fabs(lev[k] - f->levels[j]) < 1e-6) pick[k] = found = 1;
                if (!found && !f->lenient) {
                    fail(c, vname, "level %g hPa not in the file (dimension '%s' has %zu levels)", f->levels[j],
                         dl->name, L);
                    goto done;
                }
            }
        }
    }
    Packing pk;
    read_packing(c, varid, type, &pk);
    if (!(raw = malloc(n * sizeof *raw))) { fail(c, vname, "out of memory"); goto done; }
    for (size_t k = 0; k < L; k++) {
        if (!pick[k]) continue;
        size_t start[NC_MAX_VAR_DIMS], count[NC_MAX_VAR_DIMS];
        for (int i = 0; i < nd; i++) start[i] = 0, count[i] = 1;
        if (tdim >= 0) count[tdim] = T;
        if (ldim >= 0) start[ldim] = k;
        count[nd - 2] = dlat->len, count[nd - 1] = dlon->len;
        if ((rc = nc_get_vara_double(c->ncid, varid, start, count, raw)) != NC_NOERR) {
            fail(c, vname, "reading data: %s", nc_strerror(rc));
            goto done;
        }
        VarSeries *s = series_list_add(out);
        snprintf(s->file_name, sizeof s->file_name, "%.48s", vname);
        if (ldim >= 0) {
            s->level = lev[k];
            if (lev[k] == floor(lev[k]) && fabs(lev[k]) < 1e9)
                snprintf(s->name, sizeof s->name, "%.48s_%lld", vname, (long long)lev[k]);
            else
                snprintf(s->name, sizeof s->name, "%.48s_%.6g", vname, lev[k]);
        } else {
            snprintf(s->name, sizeof s->name, "%.48s", vname);
        }
        att_text(c->ncid, varid, "long_name", s->long_name, sizeof s->long_name);
        att_text(c->ncid, varid, "units", s->units, sizeof s->units);
        snprintf(s->source, sizeof s->source, "%s", c->path);
        s->T = (int)T, s->H = (int)dlat->len, s->W = (int)dlon->len;
        s->time = malloc(T * sizeof *s->time);
        s->lat = malloc(dlat->len * sizeof *s->lat);
        s->lon = malloc(dlon->len * sizeof *s->lon);
        s->values = malloc(n * sizeof *s->values);
        if (!s->time || !s->lat || !s->lon || !s->values) { fail(c, vname, "out of memory"); goto done; }
        memcpy(s->time, time, T * sizeof *time);
        memcpy(s->lat, lat, dlat->len * sizeof *lat);
        memcpy(s->lon, lon, dlon->len * sizeof *lon);
        for (size_t i = 0; i < n; i++) {
            double r = raw[i];
            int miss = isnan(r) || r < pk.vmin || r > pk.vmax;
            if (isnan(r) && !pk.declared) {
                fail(c, vname, "NaN where no fill value is declared (value %zu%s%s); expected a _FillValue "
                     "or missing_value attribute", i, ldim >= 0 ? " of level " : "", ldim >= 0 ? s->name : "");
                goto done;
            }
            for (int j = 0; j < pk.nfill && !miss; j++) miss = r == pk.fill[j];
            s->values[i] = miss ? NAN : (float)(r * pk.scale + pk.offset);
        }
    }
    ret = 0;
done:
    if (ret) series_drop(out, n0);
    free(pick), free(time), free(lat), free(lon), free(lev), free(raw);
    return ret;
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Directories are Zarr stores. mode=nczarr also reads plain Zarr v2 written by xarray (dimension
 * names from _ARRAY_DIMENSIONS) in netCDF 4.9; mode=zarr is tried second for stores it rejects. */
static int open_any(Ctx *c) {
    int rc;
    if (strncmp(c->path, "file://", 7) == 0) {
        char dir[PATH_MAX], why[4600];
        snprintf(dir, sizeof dir, "%.*s", (int)strcspn(c->path + 7, "#"), c->path + 7);
        if (is_dir(dir) && input_size_check(dir, why, sizeof why)) return fail(c, NULL, "%s", why);
        if ((rc = nc_open(c->path, NC_NOWRITE, &c->ncid)) != NC_NOERR)
            return fail(c, NULL, "cannot open as Zarr URL: %s", nc_strerror(rc));
        return 0;
    }
    if (access(c->path, R_OK) != 0) return fail(c, NULL, "no such file or not readable");
    if (!is_dir(c->path)) {
        char why[512];
        if (input_size_check(c->path, why, sizeof why)) return fail(c, NULL, "%s", why);
        if ((rc = nc_open(c->path, NC_NOWRITE, &c->ncid)) != NC_NOERR)
            return fail(c, NULL, "not a netCDF file (%s); expected netCDF-3, netCDF-4/HDF5 or a Zarr directory",
                        nc_strerror(rc));
        return 0;
    }
    char abs[PATH_MAX], url[PATH_MAX + 64], why[4600];
    if (!realpath(c->path, abs)) return fail(c, NULL, "cannot resolve the directory path");
    if (input_size_check(c->path, why, sizeof why)) return fail(c, NULL, "%s", why);
    /* nc_open happily opens any directory as an empty store, which would hide a wrong path */
    snprintf(url, sizeof url, "%s/.zgroup", abs);
    int zarr = access(url, R_OK) == 0;
    snprintf(url, sizeof url, "%s/.zarray", abs);
    zarr |= access(url, R_OK) == 0;
    if (!zarr) return fail(c, NULL, "directory is not a Zarr store; expected a .zgroup or .zarray file in it");
    static const char *const modes[] = {"nczarr,file", "zarr,file"};
    rc = NC_NOERR;
    for (int m = 0; m < 2; m++) {
        snprintf(url, sizeof url, "file://%s#mode=%s", abs, modes[m]);
        if ((rc = nc_open(url, NC_NOWRITE, &c->ncid)) == NC_NOERR) return 0;
    }
    return fail(c, NULL, "directory is not a Zarr store readable by netCDF (%s); expected .zgroup/.zarray files",
                nc_strerror(rc));
}

int read_netcdf(const char *path, const ReadFilter *f, SeriesList *out, char *err, size_t errlen) {
    Ctx c = {.path = path, .ncid = -1, .err = err, .errlen = errlen};
    int n0 = out->n, ret = -1, nvars = 0, rc;
    int *want = NULL;
    if (err && errlen) err[0] = 0;
    if (open_any(&c)) return -1;
    if (classify_dims(&c)) goto done;
    if ((rc = nc_inq_nvars(c.ncid, &nvars)) != NC_NOERR) { fail(&c, NULL, "nc_inq_nvars: %s", nc_strerror(rc)); goto done; }
    if (!(want = calloc(nvars > 0 ? (size_t)nvars : 1, sizeof *want))) { fail(&c, NULL, "out of memory"); goto done; }
    if (f && f->nvars > 0 && f->vars) {
        for (int j = 0; j < f->nvars; j++) {
            int vid;
            if (nc_inq_varid(c.ncid, f->vars[j], &vid) != NC_NOERR) {
                if (f->lenient) continue; /* another input may have it: the converter checks */
                fail(&c, f->vars[j], "no such variable in the file");
                goto done;
            }
            if (!is_field(&c, vid)) {
                fail(&c, f->vars[j], "not a field on a latitude-longitude grid; expected its last two "
                     "dimensions to be latitude and longitude (units degrees_north, degrees_east)");
                goto done;
            }
            want[vid] = 1;
        }
    } else {
        int any = 0;
        for (int v = 0; v < nvars; v++) any |= want[v] = is_field(&c, v);
        if (!any) {
            fail(&c, NULL, "no variable on a latitude-longitude grid; expected one whose last two dimensions "
                 "are latitude and longitude (named lat/lon or with units degrees_north/degrees_east)");
            goto done;
        }
    }
    for (int v = 0; v < nvars; v++)
        if (want[v] && read_field(&c, v, f, out)) goto done;
    ret = 0;
done:
    if (ret) series_drop(out, n0);
    free(want);
    free(c.dims);
    if (c.ncid >= 0) nc_close(c.ncid);
    return ret;
}
