/* Tests for src/data/read_netcdf.c. Small files are written with the netCDF C API into a
 * mkdtemp directory (removed by the group teardown); the real files in shared/data are read
 * when present. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/series.h"
#include "util_nc.h"
#include "util_test.h"

/* lat (3, north to south) and lon (4, -180..90) coordinate variables; dims returned. */
static void def_grid(int ncid, int *dlat, int *dlon, int *vlat, int *vlon) {
    NC(nc_def_dim(ncid, "lat", 3, dlat));
    NC(nc_def_dim(ncid, "lon", 4, dlon));
    NC(nc_def_var(ncid, "lat", NC_FLOAT, 1, dlat, vlat));
    tu_nc_put_text(ncid, *vlat, "units", "degrees_north");
    NC(nc_def_var(ncid, "lon", NC_DOUBLE, 1, dlon, vlon));
    tu_nc_put_text(ncid, *vlon, "units", "degrees_east");
}
static void put_grid(int ncid, int vlat, int vlon) {
    static const float la[3] = {10, 0, -10};
    static const double lo[4] = {-180, -90, 0, 90};
    NC(nc_put_var_float(ncid, vlat, la));
    NC(nc_put_var_double(ncid, vlon, lo));
}
static void check_grid(const VarSeries *s) {
    assert_int_equal(s->H, 3);
    assert_int_equal(s->W, 4);
    assert_true(s->lat[0] == 10 && s->lat[1] == 0 && s->lat[2] == -10);
    assert_true(s->lon[0] == -180 && s->lon[1] == -90 && s->lon[2] == 0 && s->lon[3] == 90);
}

/* Classic file, one float field with _FillValue, lat north-to-south, lon -180..90. */
static void make_classic(const char *p) {
    int ncid, dlat, dlon, vlat, vlon, v, dims[2];
    NC(nc_create(p, NC_CLOBBER, &ncid));
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    dims[0] = dlat, dims[1] = dlon;
    NC(nc_def_var(ncid, "t2m", NC_FLOAT, 2, dims, &v));
    float fill = -999.f;
    NC(nc_put_att_float(ncid, v, "_FillValue", NC_FLOAT, 1, &fill));
    tu_nc_put_text(ncid, v, "units", "K");
    tu_nc_put_text(ncid, v, "long_name", "2 metre temperature");
    NC(nc_enddef(ncid));
    put_grid(ncid, vlat, vlon);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = 270.f + (float)i;
    x[5] = -999.f;
    NC(nc_put_var_float(ncid, v, x));
    NC(nc_close(ncid));
}

static void test_classic_fill(void **state) {
    (void)state;
    char p[256], err[1024];
    tu_path(p, sizeof p, "classic.nc");
    make_classic(p);
    SeriesList l = {0};
    assert_int_equal(read_netcdf(p, NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    VarSeries *s = &l.s[0];
    assert_string_equal(s->name, "t2m");
    assert_string_equal(s->file_name, "t2m");
    assert_string_equal(s->units, "K");
    assert_string_equal(s->long_name, "2 metre temperature");
    assert_string_equal(s->source, p);
    assert_true(isnan(s->level));
    assert_int_equal(s->T, 1);
    check_grid(s);
    for (int i = 0; i < 12; i++) {
        if (i == 5) assert_true(isnan(s->values[i]));
        else assert_float_equal(s->values[i], 270.0 + i, 0);
    }
    series_list_free(&l);
}

/* netCDF-4, time in "days since 2000-01-01 06:00:00", packed int16 with missing_value. */
static void test_nc4_packed_time(void **state) {
    (void)state;
    char p[256], err[1024];
    tu_path(p, sizeof p, "packed.nc");
    int ncid, dt, dlat, dlon, vt, vlat, vlon, v;
    NC(nc_create(p, NC_CLOBBER | NC_NETCDF4, &ncid));
    NC(nc_def_dim(ncid, "time", 2, &dt));
    NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
    tu_nc_put_text(ncid, vt, "units", "days since 2000-01-01 06:00:00");
    tu_nc_put_text(ncid, vt, "calendar", "proleptic_gregorian");
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    int dims[3] = {dt, dlat, dlon};
    NC(nc_def_var(ncid, "msl", NC_SHORT, 3, dims, &v));
    double sc = 0.5, off = 100000;
    short miss = -32767;
    NC(nc_put_att_double(ncid, v, "scale_factor", NC_DOUBLE, 1, &sc));
    NC(nc_put_att_double(ncid, v, "add_offset", NC_DOUBLE, 1, &off));
    NC(nc_put_att_short(ncid, v, "missing_value", NC_SHORT, 1, &miss));
    NC(nc_enddef(ncid));
    double tv[2] = {0, 1.5};
    NC(nc_put_var_double(ncid, vt, tv));
    put_grid(ncid, vlat, vlon);
    short x[24];
    for (int i = 0; i < 24; i++) x[i] = (short)(i * 100 - 1000);
    x[13] = miss;
    NC(nc_put_var_short(ncid, v, x));
    NC(nc_close(ncid));

    SeriesList l = {0};
    assert_int_equal(read_netcdf(p, NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    VarSeries *s = &l.s[0];
    assert_string_equal(s->name, "msl");
    assert_int_equal(s->T, 2);
    check_grid(s);
    double t0 = civil_to_hours(2000, 1, 1, 6, 0, 0);
    assert_true(s->time[0] == t0);
    assert_true(s->time[1] == t0 + 36);
    char iso[32];
    hours_to_iso(s->time[1], iso, sizeof iso);
    assert_string_equal(iso, "2000-01-02T18:00");
    for (int i = 0; i < 24; i++) {
        if (i == 13) assert_true(isnan(s->values[i]));
        else assert_float_equal(s->values[i], 100000.0 + 0.5 * (i * 100 - 1000), 0.01);
    }
    series_list_free(&l);
}

/* 64-bit-offset file with z(time, level, lat, lon) and a level filter. */
static void make_levels(const char *p, const char *levname, const char *levunits, const double *levs) {
    int ncid, dt, dl, dlat, dlon, vt, vl, vlat, vlon, v;
    NC(nc_create(p, NC_CLOBBER | NC_64BIT_OFFSET, &ncid));
    NC(nc_def_dim(ncid, "time", 2, &dt));
    NC(nc_def_var(ncid, "time", NC_INT, 1, &dt, &vt));
    tu_nc_put_text(ncid, vt, "units", "hours since 1970-01-01");
    NC(nc_def_dim(ncid, levname, 3, &dl));
    NC(nc_def_var(ncid, levname, NC_DOUBLE, 1, &dl, &vl));
    if (levunits) tu_nc_put_text(ncid, vl, "units", levunits);
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    int dims[4] = {dt, dl, dlat, dlon};
    NC(nc_def_var(ncid, "z", NC_FLOAT, 4, dims, &v));
    NC(nc_enddef(ncid));
    int tv[2] = {6, 12};
    NC(nc_put_var_int(ncid, vt, tv));
    NC(nc_put_var_double(ncid, vl, levs));
    put_grid(ncid, vlat, vlon);
    float x[2 * 3 * 12];
    for (int t = 0; t < 2; t++)
        for (int k = 0; k < 3; k++)
            for (int i = 0; i < 12; i++) x[(t * 3 + k) * 12 + i] = (float)(1000 * t + 100 * k + i);
    NC(nc_put_var_float(ncid, v, x));
    NC(nc_close(ncid));
}

static void test_levels_filter(void **state) {
    (void)state;
    char p[256], err[1024];
    tu_path(p, sizeof p, "levels.nc");
    const double levs[3] = {1000, 850, 500};
    make_levels(p, "level", "hPa", levs);
    const double want[2] = {500, 850};
    ReadFilter f = {.nlevels = 2, .levels = want};
    SeriesList l = {0};
    assert_int_equal(read_netcdf(p, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.s[0].name, "z_850");
    assert_string_equal(l.s[1].name, "z_500");
    assert_true(l.s[0].level == 850 && l.s[1].level == 500);
    assert_string_equal(l.s[1].file_name, "z");
    assert_int_equal(l.s[1].T, 2);
    assert_true(l.s[1].time[0] == 6 && l.s[1].time[1] == 12);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 12; i++) {
            assert_float_equal(l.s[0].values[t * 12 + i], 1000 * t + 100 + i, 0);
            assert_float_equal(l.s[1].values[t * 12 + i], 1000 * t + 200 + i, 0);
        }
    /* no filter: all three levels */
    SeriesList all = {0};
    assert_int_equal(read_netcdf(p, NULL, &all, err, sizeof err), 0);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.s[0].name, "z_1000");
    series_list_free(&all);
    series_list_free(&l);

    /* pressure in Pa under a name the reader does not know */
    tu_path(p, sizeof p, "levels_pa.nc");
    const double pa[3] = {100000, 85000, 50000};
    make_levels(p, "air_pressure", "Pa", pa);
    assert_int_equal(read_netcdf(p, &f, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.s[1].name, "z_500");
    series_list_free(&l);
}

/* A singleton extra dimension (ensemble member of size 1) is squeezed. */
static void test_singleton_squeezed(void **state) {
    (void)state;
    char p[256], err[1024];
    tu_path(p, sizeof p, "singleton.nc");
    int ncid, dm, dlat, dlon, vlat, vlon, v;
    NC(nc_create(p, NC_CLOBBER, &ncid));
    NC(nc_def_dim(ncid, "member", 1, &dm));
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    int dims[3] = {dm, dlat, dlon};
    NC(nc_def_var(ncid, "q", NC_FLOAT, 3, dims, &v));
    NC(nc_enddef(ncid));
    put_grid(ncid, vlat, vlon);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i / 8;
    NC(nc_put_var_float(ncid, v, x));
    NC(nc_close(ncid));
    SeriesList l = {0};
    int rc = read_netcdf(p, NULL, &l, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "q");
    assert_int_equal(l.s[0].T, 1);
    check_grid(&l.s[0]);
    assert_float_equal(l.s[0].values[11], 11.0 / 8, 0);
    series_list_free(&l);
}

/* NCZarr store written by the library, read back through its directory path. */
static void test_nczarr(void **state) {
    (void)state;
    char dir[256], url[512], err[1024];
    tu_path(dir, sizeof dir, "store.zarr");
    snprintf(url, sizeof url, "file://%s#mode=nczarr,file", dir);
    int ncid, dlat, dlon, vlat, vlon, v;
    NC(nc_create(url, NC_CLOBBER | NC_NETCDF4, &ncid));
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    int dims[2] = {dlat, dlon};
    NC(nc_def_var(ncid, "sst", NC_FLOAT, 2, dims, &v));
    float fill = 1e20f;
    NC(nc_def_var_fill(ncid, v, 0, &fill));
    tu_nc_put_text(ncid, v, "units", "K");
    NC(nc_enddef(ncid));
    put_grid(ncid, vlat, vlon);
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = 280.f + (float)i;
    x[0] = fill;
    NC(nc_put_var_float(ncid, v, x));
    NC(nc_close(ncid));

    SeriesList l = {0};
    int rc = read_netcdf(dir, NULL, &l, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "sst");
    assert_string_equal(l.s[0].units, "K");
    check_grid(&l.s[0]);
    assert_true(isnan(l.s[0].values[0]));
    assert_float_equal(l.s[0].values[11], 291, 0);
    /* the same store through a user-given URL */
    assert_int_equal(read_netcdf(url, NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 2);
    series_list_free(&l);
}

static void write_file(const char *dir, const char *name, const void *data, size_t n) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
}
static void write_str(const char *dir, const char *name, const char *s) { write_file(dir, name, s, strlen(s)); }

/* Plain Zarr v2 as xarray writes it (no compression, dimension names in _ARRAY_DIMENSIONS,
 * float fill NaN in .zarray, no _FillValue attribute). Assumes a little-endian host. */
static void test_xarray_zarr(void **state) {
    (void)state;
    char d[256], sub[300], err[1024];
    tu_path(d, sizeof d, "xr.zarr");
    assert_int_equal(mkdir(d, 0755), 0);
    write_str(d, ".zgroup", "{\"zarr_format\": 2}");
    write_str(d, ".zattrs", "{}");
    const char *names[3] = {"lat", "lon", "tas"};
    for (int i = 0; i < 3; i++) {
        snprintf(sub, sizeof sub, "%s/%s", d, names[i]);
        assert_int_equal(mkdir(sub, 0755), 0);
    }
    snprintf(sub, sizeof sub, "%s/lat", d);
    write_str(sub, ".zarray", "{\"chunks\":[2],\"compressor\":null,\"dtype\":\"<f8\",\"fill_value\":\"NaN\","
                              "\"filters\":null,\"order\":\"C\",\"shape\":[2],\"zarr_format\":2}");
    write_str(sub, ".zattrs", "{\"_ARRAY_DIMENSIONS\":[\"lat\"],\"units\":\"degrees_north\"}");
    double la[2] = {-45, 45};
    write_file(sub, "0", la, sizeof la);
    snprintf(sub, sizeof sub, "%s/lon", d);
    write_str(sub, ".zarray", "{\"chunks\":[3],\"compressor\":null,\"dtype\":\"<f8\",\"fill_value\":\"NaN\","
                              "\"filters\":null,\"order\":\"C\",\"shape\":[3],\"zarr_format\":2}");
    write_str(sub, ".zattrs", "{\"_ARRAY_DIMENSIONS\":[\"lon\"],\"units\":\"degrees_east\"}");
    double lo[3] = {0, 120, 240};
    write_file(sub, "0", lo, sizeof lo);
    snprintf(sub, sizeof sub, "%s/tas", d);
    write_str(sub, ".zarray", "{\"chunks\":[2,3],\"compressor\":null,\"dtype\":\"<f4\",\"fill_value\":\"NaN\","
                              "\"filters\":null,\"order\":\"C\",\"shape\":[2,3],\"zarr_format\":2}");
    write_str(sub, ".zattrs", "{\"_ARRAY_DIMENSIONS\":[\"lat\",\"lon\"],\"units\":\"K\"}");
    float x[6] = {1, 2, NAN, 4, 5, 6};
    write_file(sub, "0.0", x, sizeof x);

    SeriesList l = {0};
    int rc = read_netcdf(d, NULL, &l, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "tas");
    assert_int_equal(l.s[0].H, 2);
    assert_int_equal(l.s[0].W, 3);
    assert_true(l.s[0].lat[1] == 45 && l.s[0].lon[2] == 240);
    assert_true(isnan(l.s[0].values[2]));
    assert_float_equal(l.s[0].values[5], 6, 0);
    series_list_free(&l);
}

/* NCAR storm layout: int timestep without units, char reftime "1996 01 05 00:00". */
static void make_storm(const char *p, const char *reftime) {
    int ncid, dt, dlat, dlon, dr, vt, vlat, vlon, vr, v;
    NC(nc_create(p, NC_CLOBBER, &ncid));
    NC(nc_def_dim(ncid, "timestep", 3, &dt));
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    NC(nc_def_dim(ncid, "timelen", 20, &dr));
    int dims[3] = {dt, dlat, dlon};
    NC(nc_def_var(ncid, "p", NC_FLOAT, 3, dims, &v));
    float fill = -9999.f;
    NC(nc_put_att_float(ncid, v, "_FillValue", NC_FLOAT, 1, &fill));
    NC(nc_def_var(ncid, "timestep", NC_INT, 1, &dt, &vt));
    NC(nc_def_var(ncid, "reftime", NC_CHAR, 1, &dr, &vr));
    NC(nc_enddef(ncid));
    int ts[3] = {0, 6, 12};
    NC(nc_put_var_int(ncid, vt, ts));
    put_grid(ncid, vlat, vlon);
    char rt[20] = {0};
    snprintf(rt, sizeof rt, "%s", reftime);
    NC(nc_put_var_text(ncid, vr, rt));
    float x[36];
    for (int i = 0; i < 36; i++) x[i] = 100000.f + (float)i;
    NC(nc_put_var_float(ncid, v, x));
    NC(nc_close(ncid));
}

static void test_storm_reftime(void **state) {
    (void)state;
    char p[256], err[1024], iso[32];
    tu_path(p, sizeof p, "storm.cdf");
    make_storm(p, "1996 01 05 00:00");
    SeriesList l = {0};
    assert_int_equal(read_netcdf(p, NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.s[0].T, 3);
    hours_to_iso(l.s[0].time[0], iso, sizeof iso);
    assert_string_equal(iso, "1996-01-05T00:00");
    assert_true(l.s[0].time[2] - l.s[0].time[0] == 12);
    series_list_free(&l);
    /* a reftime that does not parse leaves the time without units: an error */
    tu_path(p, sizeof p, "storm_bad.cdf");
    make_storm(p, "yesterday");
    assert_int_equal(read_netcdf(p, NULL, &l, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, p);
    TU_ASSERT_CONTAINS(err, "timestep");
    assert_int_equal(l.n, 0);
}

/* One file per error case; the message must name the file and the variable. */
typedef enum { E_NOLATLON, E_TIMEUNITS, E_CALENDAR, E_NAN, E_EXTRA, E_DECREASING } ErrKind;

static void make_bad(const char *p, ErrKind k) {
    int ncid, dt, dlat, dlon, vt, vlat, vlon, v, dm;
    NC(nc_create(p, NC_CLOBBER | NC_NETCDF4, &ncid));
    if (k == E_NOLATLON) {
        NC(nc_def_dim(ncid, "x", 4, &dlon));
        NC(nc_def_dim(ncid, "y", 3, &dlat));
        int dims[2] = {dlat, dlon};
        NC(nc_def_var(ncid, "height", NC_FLOAT, 2, dims, &v));
        NC(nc_close(ncid));
        return;
    }
    NC(nc_def_dim(ncid, "time", 2, &dt));
    NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
    tu_nc_put_text(ncid, vt, "units", k == E_TIMEUNITS ? "fortnights since 2000-01-01" : "hours since 2000-01-01");
    if (k == E_CALENDAR) tu_nc_put_text(ncid, vt, "calendar", "noleap");
    def_grid(ncid, &dlat, &dlon, &vlat, &vlon);
    NC(nc_def_dim(ncid, "member", 2, &dm));
    int dims4[4] = {dt, dm, dlat, dlon}, dims3[3] = {dt, dlat, dlon};
    /* a good field first, so that a failure must remove its series again */
    int vg;
    NC(nc_def_var(ncid, "agood", NC_FLOAT, 3, dims3, &vg));
    if (k == E_EXTRA) NC(nc_def_var(ncid, "tp", NC_DOUBLE, 4, dims4, &v));
    else NC(nc_def_var(ncid, "tp", NC_DOUBLE, 3, dims3, &v));
    NC(nc_enddef(ncid));
    double tv[2] = {0, k == E_DECREASING ? -6 : 6};
    NC(nc_put_var_double(ncid, vt, tv));
    put_grid(ncid, vlat, vlon);
    float g[24] = {0};
    NC(nc_put_var_float(ncid, vg, g));
    double x[48] = {0};
    if (k == E_NAN) x[7] = NAN;
    NC(nc_put_var_double(ncid, v, x));
    NC(nc_close(ncid));
}

static void expect_error(const char *p, const ReadFilter *f, const char *var, const char *what) {
    char err[1024];
    SeriesList l = {0};
    char ok[256];
    tu_path(ok, sizeof ok, "classic.nc");
    make_classic(ok);
    assert_int_equal(read_netcdf(ok, NULL, &l, err, sizeof err), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(read_netcdf(p, f, &l, err, sizeof err), -1);
    assert_int_equal(l.n, 1); /* series of the failed file removed, earlier ones kept */
    TU_ASSERT_CONTAINS(err, p);
    if (var) TU_ASSERT_CONTAINS(err, var);
    TU_ASSERT_CONTAINS(err, what);
    series_list_free(&l);
}

static void test_errors(void **state) {
    (void)state;
    char p[256];
    tu_path(p, sizeof p, "does_not_exist.nc");
    expect_error(p, NULL, NULL, "no such file");
    tu_path(p, sizeof p, "text.nc");
    write_str(tu_tmpdir(), "text.nc", "this is not netCDF\n");
    expect_error(p, NULL, NULL, "not a netCDF file");
    tu_path(p, sizeof p, "emptydir");
    assert_int_equal(mkdir(p, 0755), 0);
    expect_error(p, NULL, NULL, "Zarr");

    tu_path(p, sizeof p, "nolatlon.nc");
    make_bad(p, E_NOLATLON);
    expect_error(p, NULL, NULL, "no variable on a latitude-longitude grid");
    const char *h[1] = {"height"};
    ReadFilter fh = {.nvars = 1, .vars = h};
    expect_error(p, &fh, "height", "not a field on a latitude-longitude grid");

    tu_path(p, sizeof p, "timeunits.nc");
    make_bad(p, E_TIMEUNITS);
    expect_error(p, NULL, "time", "fortnights");
    const char *unk[2] = {"agood", "sp"};
    ReadFilter fu = {.nvars = 2, .vars = unk};
    expect_error(p, &fu, "sp", "no such variable");

    tu_path(p, sizeof p, "calendar.nc");
    make_bad(p, E_CALENDAR);
    expect_error(p, NULL, "time", "calendar 'noleap'");
    tu_path(p, sizeof p, "nan.nc");
    make_bad(p, E_NAN);
    expect_error(p, NULL, "tp", "NaN where no fill value is declared");
    tu_path(p, sizeof p, "extra.nc");
    make_bad(p, E_EXTRA);
    expect_error(p, NULL, "tp", "extra dimension 'member' of size 2");
    tu_path(p, sizeof p, "decreasing.nc");
    make_bad(p, E_DECREASING);
    expect_error(p, NULL, "time", "strictly increasing");

    tu_path(p, sizeof p, "levels.nc");
    const double levs[3] = {1000, 850, 500};
    make_levels(p, "level", "hPa", levs);
    const double want[2] = {500, 700};
    ReadFilter fl = {.nlevels = 2, .levels = want};
    expect_error(p, &fl, "z", "level 700 hPa not in the file");
}

static int shared_path(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", LVIT_SHARED_DATA, rel);
    if (access(buf, R_OK) == 0) return 1;
    print_message("skipping: %s not found\n", buf);
    return 0;
}

static void test_shared_storm(void **state) {
    (void)state;
    char p[512], err[1024], iso[32];
    if (!shared_path(p, sizeof p, "ncl_storm_1996/Tstorm.cdf")) return;
    SeriesList l = {0};
    int rc = read_netcdf(p, NULL, &l, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    VarSeries *s = &l.s[0];
    assert_string_equal(s->name, "t");
    assert_int_equal(s->T, 64);
    assert_int_equal(s->H, 33);
    assert_int_equal(s->W, 36);
    hours_to_iso(s->time[0], iso, sizeof iso);
    assert_string_equal(iso, "1996-01-05T00:00");
    for (int i = 1; i < 64; i++) assert_true(s->time[i] - s->time[i - 1] == 6);
    size_t nnan = 0, n = (size_t)s->T * s->H * s->W;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(s->values[i])) { nnan++; continue; }
        lo = fminf(lo, s->values[i]), hi = fmaxf(hi, s->values[i]);
    }
    assert_true(nnan > 0 && nnan < n);
    assert_true(lo > 200 && hi < 320); /* K: no -9999 left */
    series_list_free(&l);
}

static void test_shared_era5_members(void **state) {
    (void)state;
    char p[512], err[1024];
    if (!shared_path(p, sizeof p, "era5_eda_2017/era5-levels-members.nc")) return;
    SeriesList l = {0};
    assert_int_equal(read_netcdf(p, NULL, &l, err, sizeof err), -1);
    assert_int_equal(l.n, 0);
    TU_ASSERT_CONTAINS(err, p);
    TU_ASSERT_CONTAINS(err, ": z: ");
    TU_ASSERT_CONTAINS(err, "extra dimension 'number' of size 10");
}

static void test_shared_eraint(void **state) {
    (void)state;
    char p[512], err[1024];
    if (!shared_path(p, sizeof p, "erainterim_monthly_clim/eraint_uvz.nc")) return;
    SeriesList l = {0};
    int rc = read_netcdf(p, NULL, &l, err, sizeof err);
    if (rc) fail_msg("%s", err);
    assert_int_equal(l.n, 9); /* z, u, v at 200, 500, 850 */
    VarSeries *z = NULL, *u = NULL;
    for (int i = 0; i < l.n; i++) {
        if (!strcmp(l.s[i].name, "z_500")) z = &l.s[i];
        if (!strcmp(l.s[i].name, "u_200")) u = &l.s[i];
    }
    assert_non_null(z);
    assert_non_null(u);
    assert_int_equal(z->T, 2);
    assert_int_equal(z->H, 241);
    assert_int_equal(z->W, 480);
    assert_string_equal(z->units, "m**2 s**-2");
    size_t n = (size_t)z->T * z->H * z->W;
    float zlo = INFINITY, zhi = -INFINITY, ulo = INFINITY, uhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        assert_false(isnan(z->values[i]));
        zlo = fminf(zlo, z->values[i]), zhi = fmaxf(zhi, z->values[i]);
        ulo = fminf(ulo, u->values[i]), uhi = fmaxf(uhi, u->values[i]);
    }
    assert_true(zlo > 40000 && zhi < 60000);
    assert_true(ulo > -60 && ulo < 0 && uhi > 40 && uhi < 120); /* 200 hPa jets */
    char iso[32];
    hours_to_iso(z->time[1], iso, sizeof iso);
    assert_string_equal(iso, "0001-07-01T00:00"); /* climatological month 7 */
    series_list_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classic_fill),        cmocka_unit_test(test_nc4_packed_time),
        cmocka_unit_test(test_levels_filter),       cmocka_unit_test(test_singleton_squeezed),
        cmocka_unit_test(test_nczarr),
        cmocka_unit_test(test_xarray_zarr),         cmocka_unit_test(test_storm_reftime),
        cmocka_unit_test(test_errors),              cmocka_unit_test(test_shared_storm),
        cmocka_unit_test(test_shared_era5_members), cmocka_unit_test(test_shared_eraint),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
