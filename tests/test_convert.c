/* Tests for src/data/convert.c: the assembler that turns what the readers return into one
 * dataset (one grid, one time axis), and the dataset file it writes. Small netCDF files are
 * made with the netCDF C API in a mkdtemp directory; every field is a known function of
 * (variable, time, latitude, longitude), so a value read back at its canonical position
 * (latitude north to south, longitude ascending) checks the reordering, the merging of
 * files and the time intersection at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "data/convert.h"
#include "data/dataset_file.h"
#include "util_nc.h"
#include "util_test.h"

enum { MAXN = 16 };
static const float FILL = -9999.f;

/* The field: distinct per variable, smooth in time, and dependent on the physical position
 * (longitude taken modulo 360, so 270E and -90E give the same value). */
static double field(int var, double hours, double lat, double lon) {
    double l = fmod(fmod(lon, 360.0) + 360.0, 360.0);
    return 100.0 * var + 0.5 * lat + l / 1000.0 + hours / 6.0;
}

/* One file: variables named names[0..nv) with ids var_ids[] (the `var` of field()), on the
 * given lat/lon/time axes (hours since 2000-01-01), with _FillValue where fill_cell matches
 * (time index, lat index, lon index; -1 = none). */
typedef struct FileSpec {
    int nv;
    const char *names[4];
    int var_ids[4];
    int H, W, T;
    double lat[MAXN], lon[MAXN], hours[MAXN];
    int fill_t, fill_i, fill_j;
} FileSpec;

static void make_file(const char *path, const FileSpec *f) {
    int ncid, dt, dy, dx, vt, vy, vx, v[4];
    NC(nc_create(path, NC_CLOBBER, &ncid));
    NC(nc_def_dim(ncid, "time", NC_UNLIMITED, &dt));
    NC(nc_def_dim(ncid, "lat", (size_t)f->H, &dy));
    NC(nc_def_dim(ncid, "lon", (size_t)f->W, &dx));
    NC(nc_def_var(ncid, "time", NC_DOUBLE, 1, &dt, &vt));
    tu_nc_put_text(ncid, vt, "units", "hours since 2000-01-01 00:00:00");
    NC(nc_def_var(ncid, "lat", NC_DOUBLE, 1, &dy, &vy));
    tu_nc_put_text(ncid, vy, "units", "degrees_north");
    NC(nc_def_var(ncid, "lon", NC_DOUBLE, 1, &dx, &vx));
    tu_nc_put_text(ncid, vx, "units", "degrees_east");
    int dims[3] = {dt, dy, dx};
    for (int k = 0; k < f->nv; k++) {
        NC(nc_def_var(ncid, f->names[k], NC_FLOAT, 3, dims, &v[k]));
        NC(nc_put_att_float(ncid, v[k], "_FillValue", NC_FLOAT, 1, &FILL));
        tu_nc_put_text(ncid, v[k], "units", "K");
    }
    NC(nc_enddef(ncid));
    NC(nc_put_var_double(ncid, vy, f->lat));
    NC(nc_put_var_double(ncid, vx, f->lon));
    size_t start = 0, count = (size_t)f->T;
    NC(nc_put_vara_double(ncid, vt, &start, &count, f->hours));
    float *x = tu_falloc((int64_t)f->T * f->H * f->W);
    for (int k = 0; k < f->nv; k++) {
        for (int t = 0; t < f->T; t++)
            for (int i = 0; i < f->H; i++)
                for (int j = 0; j < f->W; j++) {
                    int fill = t == f->fill_t && i == f->fill_i && j == f->fill_j;
                    x[((size_t)t * f->H + i) * f->W + j] =
                        fill ? FILL : (float)field(f->var_ids[k], f->hours[t], f->lat[i], f->lon[j]);
                }
        NC(nc_put_var_float(ncid, v[k], x));
    }
    free(x);
    NC(nc_close(ncid));
}

static FileSpec spec(int nv, const char *const *names, const int *ids, int H, const double *lat, int W,
                     const double *lon, int T, const double *hours) {
    FileSpec f = {.nv = nv, .H = H, .W = W, .T = T, .fill_t = -1, .fill_i = -1, .fill_j = -1};
    for (int k = 0; k < nv; k++) f.names[k] = names[k], f.var_ids[k] = ids[k];
    memcpy(f.lat, lat, sizeof(double) * (size_t)H);
    memcpy(f.lon, lon, sizeof(double) * (size_t)W);
    memcpy(f.hours, hours, sizeof(double) * (size_t)T);
    return f;
}

static ConvertOptions opts(void) {
    ConvertOptions o = {.train_frac = 0.5, .val_frac = 0.25};
    return o;
}

static int var_index(const Dataset *ds, const char *name) {
    for (int v = 0; v < ds->V; v++)
        if (strcmp(ds->names[v], name) == 0) return v;
    fail_msg("variable %s not in the dataset", name);
    return -1;
}

/* Converts the inputs to tmpdir/out_name and opens the result. */
static void convert_open(const char *out_name, int n, const char *const *in, const ConvertOptions *o, Dataset *ds) {
    char out[256], err[1024];
    tu_path(out, sizeof out, out_name);
    if (convert_files(out, n, in, o, err, sizeof err)) fail_msg("convert: %s", err);
    if (dataset_open(ds, out, err, sizeof err)) fail_msg("open: %s", err);
}

/* Every valid value equals field() at its canonical position; returns the invalid count. */
static int check_values(const Dataset *ds, int v, int var_id, double h0) {
    int invalid = 0;
    for (int t = 0; t < ds->T; t++)
        for (int i = 0; i < ds->H; i++)
            for (int j = 0; j < ds->W; j++) {
                size_t o = (((size_t)t * ds->V + v) * ds->H + i) * ds->W + j;
                if (!ds->valid[o]) {
                    invalid++;
                    continue;
                }
                double want = field(var_id, ds->hours[t] - h0, ds->lat[i], ds->lon[j]);
                if (fabs(ds->data[o] - want) > 1e-3)
                    fail_msg("%s t=%d lat=%g lon=%g: %g, expected %g", ds->names[v], t, ds->lat[i], ds->lon[j],
                             ds->data[o], want);
            }
    return invalid;
}

/* hours since 1970 of 2000-01-01 00:00 */
static const double H2000 = 262968.0;

/* One variable split over two files by time; the first stores latitude south to north and
 * longitude 0..270, the second north to south and -180..90 (the same global 4-point grid). A
 * third file holds two variables over the whole period, but one time less: the dataset keeps
 * the times that every variable has. */
static void test_split_files_orders_and_intersection(void **state) {
    (void)state;
    char a[256], b[256], c[256];
    tu_path(a, sizeof a, "t_part1.nc");
    tu_path(b, sizeof b, "t_part2.nc");
    tu_path(c, sizeof c, "uv.nc");
    const char *tn[1] = {"t"}, *uv[2] = {"u", "v"};
    const int t_id[1] = {0}, uv_id[2] = {1, 2};
    const double lat_sn[3] = {-30, 0, 30}, lat_ns[3] = {30, 0, -30};
    const double lon360[4] = {0, 90, 180, 270}, lon180[4] = {-180, -90, 0, 90};
    const double h1[4] = {0, 6, 12, 18}, h2[4] = {24, 30, 36, 42}, hall[7] = {6, 12, 18, 24, 30, 36, 42};
    FileSpec f1 = spec(1, tn, t_id, 3, lat_sn, 4, lon360, 4, h1);
    f1.fill_t = 1, f1.fill_i = 2, f1.fill_j = 3; /* hour 6, lat 30, lon 270 */
    make_file(a, &f1);
    FileSpec f2 = spec(1, tn, t_id, 3, lat_ns, 4, lon180, 4, h2);
    make_file(b, &f2);
    FileSpec f3 = spec(2, uv, uv_id, 3, lat_ns, 4, lon360, 7, hall);
    make_file(c, &f3);
    const char *in[3] = {c, b, a}; /* order of the inputs does not matter */
    ConvertOptions o = opts();
    Dataset ds;
    convert_open("split.lvd", 3, in, &o, &ds);
    assert_int_equal(ds.V, 3);
    assert_int_equal(ds.T, 7); /* hour 0 only in t: dropped */
    assert_int_equal(ds.H, 3);
    assert_int_equal(ds.W, 4);
    for (int t = 0; t < 7; t++) assert_true(fabs(ds.hours[t] - (H2000 + 6.0 * (t + 1))) < 1e-9);
    assert_true(ds.lat[0] == 30 && ds.lat[1] == 0 && ds.lat[2] == -30);
    assert_true(ds.lon[0] == 0 && ds.lon[1] == 90 && ds.lon[2] == 180 && ds.lon[3] == 270);
    int vt = var_index(&ds, "t"), vu = var_index(&ds, "u"), vv = var_index(&ds, "v");
    assert_int_equal(check_values(&ds, vt, 0, H2000), 1);
    /* the one fill value: hour 6 (time 0 of the dataset), lat 30 (row 0), lon 270 (column 3) */
    assert_int_equal(ds.valid[((size_t)0 * ds.V + vt) * 12 + 0 * 4 + 3], 0);
    assert_int_equal(check_values(&ds, vu, 1, H2000), 0);
    assert_int_equal(check_values(&ds, vv, 2, H2000), 0);

    /* split 0.5 / 0.25 of 7 times: train [0,4), validation [4,5), test [5,7) */
    assert_int_equal(ds.t_train_end, 4);
    assert_int_equal(ds.t_val_end, 5);
    /* statistics and climatology over the training period only, valid cells only */
    for (int v = 0; v < 3; v++) {
        int id = v == vt ? 0 : v == vu ? 1 : 2;
        double s = 0, s2 = 0;
        int n = 0;
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 4; j++) {
                    if (v == vt && t == 0 && i == 0 && j == 3) continue;
                    double x = field(id, ds.hours[t] - H2000, ds.lat[i], ds.lon[j]);
                    s += x, s2 += x * x, n++;
                }
        double mean = s / n, sd = sqrt(s2 / n - mean * mean);
        assert_true(fabs(ds.mean[v] - mean) < 1e-4 * fabs(mean) + 1e-6);
        assert_true(fabs(ds.std[v] - sd) < 1e-4 * sd);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 4; j++) {
                double cs = 0;
                int cn = 0;
                for (int t = 0; t < 4; t++) {
                    if (v == vt && t == 0 && i == 0 && j == 3) continue;
                    cs += field(id, ds.hours[t] - H2000, ds.lat[i], ds.lon[j]), cn++;
                }
                assert_true(fabs(ds.clim[((size_t)v * 3 + i) * 4 + j] - cs / cn) < 1e-3);
            }
    }
    dataset_free(&ds);
}

/* A regional grid (130W..60W) stored as 230..300 in one file and as -130..-60 in the other is
 * one grid, kept in -180..180. */
static void test_regional_lon_conventions(void **state) {
    (void)state;
    char a[256], b[256];
    tu_path(a, sizeof a, "reg_a.nc");
    tu_path(b, sizeof b, "reg_b.nc");
    const char *na[1] = {"p"}, *nb[1] = {"q"};
    const int ia[1] = {0}, ib[1] = {1};
    const double lat[2] = {50, 40}, lon_e[3] = {230, 265, 300}, lon_w[3] = {-130, -95, -60}, h[4] = {0, 6, 12, 18};
    FileSpec fa = spec(1, na, ia, 2, lat, 3, lon_e, 4, h), fb = spec(1, nb, ib, 2, lat, 3, lon_w, 4, h);
    make_file(a, &fa);
    make_file(b, &fb);
    const char *in[2] = {a, b};
    ConvertOptions o = opts();
    Dataset ds;
    convert_open("reg.lvd", 2, in, &o, &ds);
    assert_int_equal(ds.V, 2);
    assert_true(ds.lon[0] == -130 && ds.lon[1] == -95 && ds.lon[2] == -60);
    assert_int_equal(check_values(&ds, var_index(&ds, "p"), 0, H2000), 0);
    assert_int_equal(check_values(&ds, var_index(&ds, "q"), 1, H2000), 0);
    dataset_free(&ds);
}

/* The same name in two files with overlapping times: two variables, one renamed after its
 * file, or as --rename says. */
static void test_same_name_two_files(void **state) {
    (void)state;
    char a[256], b[256];
    tu_path(a, sizeof a, "Ustorm.nc");
    tu_path(b, sizeof b, "U500storm.nc");
    const char *nu[1] = {"u"};
    const int i0[1] = {0}, i1[1] = {1};
    const double lat[2] = {50, 40}, lon[2] = {-100, -90}, h[4] = {0, 6, 12, 18};
    FileSpec fa = spec(1, nu, i0, 2, lat, 2, lon, 4, h), fb = spec(1, nu, i1, 2, lat, 2, lon, 4, h);
    make_file(a, &fa);
    make_file(b, &fb);
    const char *in[2] = {a, b};
    ConvertOptions o = opts();
    Dataset ds;
    convert_open("names.lvd", 2, in, &o, &ds);
    assert_int_equal(check_values(&ds, var_index(&ds, "u"), 0, H2000), 0);
    assert_int_equal(check_values(&ds, var_index(&ds, "u_u500storm"), 1, H2000), 0);
    dataset_free(&ds);

    const char *ren[1] = {"U500storm.nc:u=u500"};
    o.nrename = 1, o.rename = ren;
    convert_open("names.lvd", 2, in, &o, &ds);
    assert_int_equal(check_values(&ds, var_index(&ds, "u"), 0, H2000), 0);
    assert_int_equal(check_values(&ds, var_index(&ds, "u500"), 1, H2000), 0);
    dataset_free(&ds);
}

/* Bad input: the error names the file and the problem, and nothing is written. */
static void expect_fail(int n, const char *const *in, const ConvertOptions *o, const char *want1, const char *want2) {
    char out[256], err[1024] = "";
    tu_path(out, sizeof out, "bad.lvd");
    unlink(out);
    assert_int_equal(convert_files(out, n, in, o, err, sizeof err), -1);
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        fail_msg("error '%s' should mention '%s'%s%s", err, want1, want2 ? " and " : "", want2 ? want2 : "");
    assert_int_not_equal(access(out, F_OK), 0);
    /* no temporary file left either */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", tu_tmpdir());
    assert_int_not_equal(system(cmd), 0);
}

static void test_errors(void **state) {
    (void)state;
    char a[256], b[256], c[256], missing[256];
    tu_path(a, sizeof a, "e_a.nc");
    tu_path(b, sizeof b, "e_other_grid.nc");
    tu_path(c, sizeof c, "e_one_time.nc");
    tu_path(missing, sizeof missing, "nope.nc");
    const char *np[1] = {"p"}, *nq[1] = {"q"};
    const int i0[1] = {0};
    const double lat[2] = {50, 40}, lat2[2] = {50, 45}, lon[2] = {-100, -90}, h[4] = {0, 6, 12, 18}, h1[1] = {6};
    FileSpec fa = spec(1, np, i0, 2, lat, 2, lon, 4, h), fb = spec(1, nq, i0, 2, lat2, 2, lon, 4, h),
             fc = spec(1, nq, i0, 2, lat, 2, lon, 1, h1);
    make_file(a, &fa);
    make_file(b, &fb);
    make_file(c, &fc);
    ConvertOptions o = opts();

    const char *grid[2] = {a, b};
    expect_fail(2, grid, &o, "grids do not match", "e_other_grid.nc");
    const char *one[2] = {a, c};
    expect_fail(2, one, &o, "share 1 time", NULL);
    const char *miss[2] = {a, missing};
    expect_fail(2, miss, &o, "nope.nc", "cannot open");
    const char *vars[1] = {"t"};
    ConvertOptions ov = o;
    ov.filter.nvars = 1, ov.filter.vars = vars;
    const char *in1[1] = {a};
    expect_fail(1, in1, &ov, "t", "no such variable");
    ConvertOptions os = o;
    os.train_frac = 0.8, os.val_frac = 0.3;
    expect_fail(1, in1, &os, "--split", NULL);
    expect_fail(0, in1, &o, "no input files", NULL);

    /* a variable with no valid value in the training period */
    char d[256];
    tu_path(d, sizeof d, "e_late.nc");
    FileSpec fd = spec(1, np, i0, 1, lat, 1, lon, 4, h);
    fd.fill_t = 0, fd.fill_i = 0, fd.fill_j = 0;
    make_file(d, &fd);
    const char *late[1] = {d};
    ConvertOptions ol = o;
    ol.train_frac = 0.25, ol.val_frac = 0.25; /* train = time 0 only, which is missing */
    expect_fail(1, late, &ol, "no valid value in the training period", NULL);
}

int main(void) {
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_files_orders_and_intersection),
        cmocka_unit_test(test_regional_lon_conventions),
        cmocka_unit_test(test_same_name_two_files),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
