/* Tests for src/data/read_grib.c: GRIB files built here from the ecCodes samples (exact
 * round trips, scanning orders, valid time = date + step, bitmap-missing points, filters and
 * every error), then the real files in shared/data when present (compared with the derived
 * netCDF file, read directly with the netCDF C API). Files go to a mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <eccodes.h>
#include <math.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/series.h"
#include "util_test.h"

#define CODES_OK(call)                                                                        \
    do {                                                                                      \
        int e_ = (call);                                                                      \
        if (e_) fail_msg("%s: %s", #call, codes_get_error_message(e_));                      \
    } while (0)

static char g_paths[32][128];
static int g_npaths;

/* A path in the temporary directory that stays valid for the rest of the run. */
static const char *tmp_path(const char *name) {
    assert_true(g_npaths < 32);
    char *p = g_paths[g_npaths++];
    tu_path(p, sizeof g_paths[0], name);
    return p;
}

/* ---- synthetic fields ---- */

/* One message: the field value at a point is field_value(), so the reader's output can be
 * checked against its own lat/lon arrays whatever order the file stores. */
typedef struct Spec {
    const char *sample, *short_name, *level_type;
    long level, date, time;
    const char *step;
    long ni, nj;
    double lat0, lon0, dlat, dlon;
    int jpos, ineg;
    int ieee;    /* grid_ieee packing (GRIB2), else simple packing with 24 bits */
    int missing; /* bitmap with two missing points (see is_missing) */
    double offset;
} Spec;

static double field_value(double lat, double lon, double offset) { return 250.0 + 0.5 * lat + 0.25 * lon + offset; }
static int is_missing(double lat, double lon) { return (lat == 50 && lon == 20) || (lat == 60 && lon == 40); }

static void write_message(FILE *fp, const Spec *s) {
    codes_handle *h = codes_grib_handle_new_from_samples(NULL, s->sample);
    assert_non_null(h);
    if (s->short_name) CODES_OK(codes_set_string(h, "shortName", s->short_name, &(size_t){strlen(s->short_name)}));
    if (s->level_type) {
        CODES_OK(codes_set_string(h, "typeOfLevel", s->level_type, &(size_t){strlen(s->level_type)}));
        CODES_OK(codes_set_long(h, "level", s->level));
    }
    CODES_OK(codes_set_long(h, "dataDate", s->date));
    CODES_OK(codes_set_long(h, "dataTime", s->time));
    CODES_OK(codes_set_string(h, "stepRange", s->step, &(size_t){strlen(s->step)}));
    if (s->ni) {
        double lat1 = s->lat0 + (s->jpos ? 1 : -1) * s->dlat * (double)(s->nj - 1);
        double lon1 = s->lon0 + (s->ineg ? -1 : 1) * s->dlon * (double)(s->ni - 1);
        CODES_OK(codes_set_long(h, "Ni", s->ni));
        CODES_OK(codes_set_long(h, "Nj", s->nj));
        CODES_OK(codes_set_long(h, "jScansPositively", s->jpos));
        CODES_OK(codes_set_long(h, "iScansNegatively", s->ineg));
        CODES_OK(codes_set_double(h, "latitudeOfFirstGridPointInDegrees", s->lat0));
        CODES_OK(codes_set_double(h, "latitudeOfLastGridPointInDegrees", lat1));
        CODES_OK(codes_set_double(h, "longitudeOfFirstGridPointInDegrees", s->lon0));
        CODES_OK(codes_set_double(h, "longitudeOfLastGridPointInDegrees", lon1));
        CODES_OK(codes_set_double(h, "iDirectionIncrementInDegrees", s->dlon));
        CODES_OK(codes_set_double(h, "jDirectionIncrementInDegrees", s->dlat));
        if (s->ieee) CODES_OK(codes_set_string(h, "packingType", "grid_ieee", &(size_t){9}));
        else CODES_OK(codes_set_long(h, "bitsPerValue", 24));
        if (s->missing) {
            CODES_OK(codes_set_long(h, "bitmapPresent", 1));
            CODES_OK(codes_set_double(h, "missingValue", 9999));
        }
        size_t n = (size_t)(s->ni * s->nj);
        double *v = malloc(n * sizeof *v);
        assert_non_null(v);
        for (long j = 0; j < s->nj; j++)
            for (long i = 0; i < s->ni; i++) {
                double lat = s->lat0 + (s->jpos ? 1 : -1) * s->dlat * (double)j;
                double lon = s->lon0 + (s->ineg ? -1 : 1) * s->dlon * (double)i;
                v[j * s->ni + i] = s->missing && is_missing(lat, lon) ? 9999 : field_value(lat, lon, s->offset);
            }
        CODES_OK(codes_set_double_array(h, "values", v, n));
        free(v);
    }
    const void *msg;
    size_t len;
    CODES_OK(codes_get_message(h, &msg, &len));
    assert_int_equal(fwrite(msg, 1, len, fp), len);
    codes_handle_delete(h);
}

static const char *write_file(const char *name, const Spec *specs, int n) {
    const char *path = tmp_path(name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (int i = 0; i < n; i++) write_message(fp, &specs[i]);
    assert_int_equal(fclose(fp), 0);
    return path;
}

static const VarSeries *find(const SeriesList *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->s[i].name, name)) return &l->s[i];
    fail_msg("series %s not found", name);
    return NULL;
}

/* Values match field_value at the series' own coordinates, exactly; missing points are NAN. */
static void check_field(const VarSeries *s, int t, double offset, int missing) {
    for (int y = 0; y < s->H; y++)
        for (int x = 0; x < s->W; x++) {
            float got = s->values[((size_t)t * s->H + y) * s->W + x];
            if (missing && is_missing(s->lat[y], s->lon[x])) {
                if (!isnan(got)) fail_msg("%s t=%d lat %g lon %g: %g, expected NAN", s->name, t, s->lat[y], s->lon[x], got);
            } else if (got != (float)field_value(s->lat[y], s->lon[x], offset)) {
                fail_msg("%s t=%d lat %g lon %g: got %.9g want %.9g", s->name, t, s->lat[y], s->lon[x], got,
                         field_value(s->lat[y], s->lon[x], offset));
            }
        }
}

static const Spec k_base = {.sample = "regular_ll_pl_grib2", .short_name = "t", .level_type = "isobaricInhPa",
                            .level = 850, .date = 20200101, .time = 0, .step = "0", .ni = 4, .nj = 3,
                            .lat0 = 60, .lon0 = 10, .dlat = 10, .dlon = 10, .ieee = 1};

/* GRIB2, north to south, out-of-order valid times from different (date, time, step), two
 * pressure levels and one single-level field, bitmap-missing points. */
static void test_grib2_roundtrip(void **state) {
    (void)state;
    Spec sp[8];
    int n = 0;
    /* valid times: 2020-01-01 18:00 (12+6), 12:00 (0+12), 2020-01-02 00:00 (0+0) */
    const long dates[3] = {20200101, 20200101, 20200102}, times[3] = {1200, 0, 0};
    const char *steps[3] = {"6", "12", "0"};
    const double offs[3] = {1, 0, 2}; /* = (valid hour - 12) / 6 */
    for (int k = 0; k < 3; k++) {
        sp[n] = k_base;
        sp[n].date = dates[k], sp[n].time = times[k], sp[n].step = steps[k], sp[n].offset = offs[k];
        sp[n++].missing = 1;
        sp[n] = sp[n - 1];
        sp[n].level = 500, sp[n].missing = 0, sp[n++].offset = offs[k] + 100;
    }
    for (int k = 0; k < 2; k++) {
        sp[n] = k_base;
        sp[n].sample = "regular_ll_sfc_grib2", sp[n].short_name = "msl", sp[n].level_type = NULL;
        sp[n].date = dates[k], sp[n].time = times[k], sp[n].step = steps[k], sp[n++].offset = offs[k] + 1000;
    }
    const char *path = write_file("a.grib2", sp, n);
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(path, NULL, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 3);
    const VarSeries *t850 = find(&l, "t_850"), *t500 = find(&l, "t_500"), *msl = find(&l, "msl");
    assert_string_equal(t850->file_name, "t");
    assert_string_equal(t850->units, "K");
    assert_string_equal(t850->long_name, "Temperature");
    assert_string_equal(t850->source, path);
    assert_true(t850->level == 850 && t500->level == 500 && isnan(msl->level));
    assert_string_equal(msl->file_name, "msl");
    assert_int_equal(t850->T, 3);
    assert_int_equal(msl->T, 2);
    const double h0 = civil_to_hours(2020, 1, 1, 12, 0, 0);
    for (int k = 0; k < 3; k++) {
        assert_true(t850->time[k] == h0 + 6 * k);
        assert_true(t500->time[k] == h0 + 6 * k);
        check_field(t850, k, k, 1);
        check_field(t500, k, k + 100, 0);
    }
    assert_true(msl->time[0] == h0 && msl->time[1] == h0 + 6);
    check_field(msl, 0, 1000, 0);
    check_field(msl, 1, 1001, 0);
    const double lat[3] = {60, 50, 40}, lon[4] = {10, 20, 30, 40};
    assert_true(t850->H == 3 && t850->W == 4);
    for (int i = 0; i < 3; i++) assert_true(t850->lat[i] == lat[i]);
    for (int i = 0; i < 4; i++) assert_true(t850->lon[i] == lon[i]);
    int nnan = 0;
    for (int i = 0; i < 3 * 3 * 4; i++) nnan += isnan(t850->values[i]);
    assert_int_equal(nnan, 2 * 3);
    series_list_free(&l);
}

/* GRIB1, simple packing, south to north and east to west; the filter keeps t at 850 only. */
static void test_grib1_scanning_and_filter(void **state) {
    (void)state;
    Spec sp[4];
    for (int k = 0; k < 4; k++) {
        sp[k] = k_base;
        sp[k].sample = "regular_ll_pl_grib1", sp[k].ieee = 0, sp[k].jpos = 1, sp[k].ineg = 1;
        sp[k].lat0 = 40, sp[k].lon0 = 40, sp[k].missing = 1;
    }
    sp[0].date = 20231231, sp[0].time = 1800, sp[0].step = "6", sp[0].offset = 1; /* 2024-01-01 00:00 */
    sp[1].offset = 2, sp[1].date = 20240101, sp[1].time = 600;                   /* 06:00 */
    sp[2].level = 500;
    sp[3].short_name = "z";
    const char *path = write_file("b.grib1", sp, 4);
    const char *vars[] = {"t"};
    const double levels[] = {850};
    ReadFilter f = {.nvars = 1, .vars = vars, .nlevels = 1, .levels = levels};
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(path, &f, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    const VarSeries *s = &l.s[0];
    assert_string_equal(s->name, "t_850");
    assert_int_equal(s->T, 2);
    assert_true(s->time[0] == civil_to_hours(2024, 1, 1, 0, 0, 0));
    assert_true(s->time[1] == civil_to_hours(2024, 1, 1, 6, 0, 0));
    const double lat[3] = {40, 50, 60}, lon[4] = {40, 30, 20, 10};
    for (int i = 0; i < 3; i++) assert_true(s->lat[i] == lat[i]);
    for (int i = 0; i < 4; i++) assert_true(s->lon[i] == lon[i]);
    check_field(s, 0, 1, 1);
    check_field(s, 1, 2, 1);
    /* first stored point is the south-east corner: lat 40, lon 40 */
    assert_true(s->values[0] == (float)field_value(40, 40, 1));
    series_list_free(&l);
}

/* GRIB2 pressures that are not whole hPa come as isobaricInPa (ecCodes reports 5000 Pa as
 * isobaricInhPa 50): 50 Pa is 0.5 hPa. Also a valid time with minutes (12:30 + 1 h). */
static void test_isobaric_in_pa_and_minutes(void **state) {
    (void)state;
    Spec sp = k_base;
    sp.level_type = "isobaricInPa", sp.level = 50, sp.time = 1230, sp.step = "1";
    const char *path = write_file("pa.grib2", &sp, 1);
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(path, NULL, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "t_0.5");
    assert_true(l.s[0].level == 0.5);
    assert_true(l.s[0].time[0] == civil_to_hours(2020, 1, 1, 13, 30, 0));
    check_field(&l.s[0], 0, 0, 0);
    series_list_free(&l);
}

/* GRIB1 stores increments in millidegrees (0.28125 -> 0.281): coordinates must follow the
 * first/last points (0 .. 2.25), not accumulate the rounded increment (0 .. 2.248). */
static void test_grib1_rounded_increment(void **state) {
    (void)state;
    Spec sp = k_base;
    sp.sample = "regular_ll_pl_grib1", sp.ieee = 0, sp.ni = 9, sp.lon0 = 0, sp.dlon = 0.28125;
    const char *path = write_file("inc.grib1", &sp, 1);
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(path, NULL, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    for (int i = 0; i < 9; i++)
        if (l.s[0].lon[i] != 0.28125 * i) fail_msg("lon[%d] = %.9g, want %.9g", i, l.s[0].lon[i], 0.28125 * i);
    series_list_free(&l);
}

/* ---- errors: rc -1, a message naming the file and the problem, out untouched ---- */

static void expect_error(const char *path, const ReadFilter *f, const char *want1, const char *want2) {
    SeriesList l = {0};
    VarSeries *keep = series_list_add(&l); /* an earlier reader's output must survive */
    snprintf(keep->name, sizeof keep->name, "keep");
    char err[512] = "";
    assert_int_equal(read_grib(path, f, &l, err, sizeof err), -1);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "keep");
    TU_ASSERT_CONTAINS(err, path);
    TU_ASSERT_CONTAINS(err, want1);
    if (want2) TU_ASSERT_CONTAINS(err, want2);
    series_list_free(&l);
}

static void test_error_files(void **state) {
    (void)state;
    expect_error(tmp_path("does_not_exist.grib"), NULL, "cannot open", NULL);
    const char *txt = tmp_path("text.grib");
    FILE *fp = fopen(txt, "w");
    assert_non_null(fp);
    fputs("plain text, no message in here\n", fp);
    fclose(fp);
    expect_error(txt, NULL, "no GRIB message", NULL);
    /* Text that contains the 4-byte GRIB marker: ecCodes finds a "message" and fails it. */
    const char *fake = tmp_path("fake.grib");
    fp = fopen(fake, "w");
    assert_non_null(fp);
    fputs("this is not a GRIB file\n", fp);
    fclose(fp);
    expect_error(fake, NULL, "message 1: cannot decode GRIB", "not a GRIB file?");
    Spec sp = {.sample = "reduced_gg_pl_32_grib2", .step = "0", .date = 20200101};
    const char *rgg = write_file("reduced.grib2", &sp, 1);
    expect_error(rgg, NULL, "reduced_gg", "message 1");
}

static void test_error_filters(void **state) {
    (void)state;
    Spec sp[2] = {k_base, k_base};
    sp[1].level = 500;
    const char *path = write_file("filter.grib2", sp, 2);
    const char *q[] = {"q"};
    ReadFilter f = {.nvars = 1, .vars = q};
    expect_error(path, &f, "variable 'q' not found", NULL);
    const double lv[] = {300};
    ReadFilter g = {.nlevels = 1, .levels = lv};
    expect_error(path, &g, "300 hPa not found", NULL);

    /* Lenient (several inputs to the converter): absent names and levels are skipped. */
    const char *tq[] = {"t", "q"};
    const double lv2[] = {500, 300};
    ReadFilter h = {.nvars = 2, .vars = tq, .nlevels = 2, .levels = lv2, .lenient = 1};
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(path, &h, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.s[0].name, "t_500");
    ReadFilter none = {.nvars = 1, .vars = q, .lenient = 1};
    if (read_grib(path, &none, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 1);
    series_list_free(&l);
}

static void test_error_grids_duplicates_members(void **state) {
    (void)state;
    Spec sp[3] = {k_base, k_base, k_base};
    sp[1].time = 600, sp[2].time = 1200, sp[2].ni = 5; /* third message on another grid */
    expect_error(write_file("grids.grib2", sp, 3), NULL, "'t_850'", "grid differs from message 1");
    /* t_500 is fine and becomes a series before t_850 fails: that series must be freed. */
    Spec dup[4] = {k_base, k_base, k_base, k_base};
    dup[0].level = 500;
    dup[2].time = 600;
    dup[3].date = 20191231, dup[3].time = 1800, dup[3].step = "12"; /* same valid time as dup[2] */
    expect_error(write_file("dup.grib2", dup, 4), NULL, "'t_850': duplicate valid time 2020-01-01T06:00",
                 "messages 3 and 4");

    /* Three ensemble members (GRIB2 product template 1) of one field. */
    const char *path = tmp_path("ens.grib2");
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (long m = 0; m < 3; m++) {
        codes_handle *h = codes_grib_handle_new_from_samples(NULL, "regular_ll_pl_grib2");
        assert_non_null(h);
        CODES_OK(codes_set_long(h, "productDefinitionTemplateNumber", 1));
        CODES_OK(codes_set_long(h, "numberOfForecastsInEnsemble", 3));
        CODES_OK(codes_set_long(h, "perturbationNumber", m));
        const void *msg;
        size_t len;
        CODES_OK(codes_get_message(h, &msg, &len));
        assert_int_equal(fwrite(msg, 1, len, fp), len);
        codes_handle_delete(h);
    }
    fclose(fp);
    expect_error(path, NULL, "3 ensemble members", NULL);
}

/* ---- malformed messages: refused before ecCodes trusts them (src/data/grib_check.c) ---- */

static uint64_t get_be(const unsigned char *p, int k) {
    uint64_t v = 0;
    for (int i = 0; i < k; i++) v = v << 8 | p[i];
    return v;
}

static void put_be(unsigned char *p, uint64_t v, int k) {
    for (int i = k - 1; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

/* Byte offset of section num in the message at m: GRIB2 numbers its sections, GRIB1 is walked
 * product, grid (when flagged), data. */
static size_t sec_at(const unsigned char *m, int num) {
    if (num == 0) return 0; /* the indicator section */
    if (m[7] == 1) {
        size_t pds = (size_t)get_be(m + 8, 3);
        return num == 1 ? 8 : num == 2 ? 8 + pds : 8 + pds + (size_t)get_be(m + 8 + pds, 3);
    }
    for (size_t at = 16; memcmp(m + at, "7777", 4); at += (size_t)get_be(m + at, 4))
        if (m[at + 4] == num) return at;
    fail_msg("no section %d", num);
    return 0;
}

/* A copy of a valid two-message file with one or two fields of message msg changed. */
typedef struct Patch {
    int msg, sec, at, nbytes;
    uint64_t value;
    int at2, nbytes2; /* a second field of the same section, or nbytes2 = 0 */
    uint64_t value2;
    const char *want1, *want2;
} Patch;

static void expect_patched(const char *good, const char *bad, const Patch *p) {
    FILE *fp = fopen(good, "rb");
    assert_non_null(fp);
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    assert_true(n > 16 && n < sizeof buf);
    size_t len1 = buf[7] == 1 ? (size_t)get_be(buf + 4, 3) : (size_t)get_be(buf + 8, 8);
    unsigned char *m = buf + (p->msg == 2 ? len1 : 0);
    size_t s = sec_at(m, p->sec);
    put_be(m + s + p->at, p->value, p->nbytes);
    if (p->nbytes2) put_be(m + s + p->at2, p->value2, p->nbytes2);
    fp = fopen(bad, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
    expect_error(bad, NULL, p->want1, p->want2);
}

static void test_malformed_messages(void **state) {
    (void)state;
    Spec sp[2] = {k_base, k_base};
    for (int k = 0; k < 2; k++) sp[k].ieee = 0, sp[k].step = "6", sp[k].time = 600 * k; /* simple packing, 24 bits */
    const char *good2 = write_file("good.grib2", sp, 2), *bad = tmp_path("malformed.grib");
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(good2, NULL, &l, err, sizeof err)) fail_msg("%s", err); /* unpatched, it reads */
    series_list_free(&l);
    /* Offsets are octet numbers of the WMO manual minus one, within the section. */
    static const Patch P[] = {
        /* ecCodes "assumed" another length and read these with exit 0 */
        {.msg = 2, .sec = 5, .at = 0, .nbytes = 4, .value = 0, .want1 = "message 2 (at byte ",
         .want2 = "section 5 (message byte 143) declares 0 bytes (at least 11"},
        {.msg = 1, .sec = 4, .at = 0, .nbytes = 4, .value = 1, .want1 = "message 1 (at byte 0) is malformed",
         .want2 = "section 4 (message byte 109) declares 1 bytes"},
        {.msg = 1, .sec = 3, .at = 6, .nbytes = 4, .value = 13, .want1 = "numberOfDataPoints 13 is not Ni x Nj = 4 x 3"},
        {.msg = 1, .sec = 7, .at = 0, .nbytes = 4, .value = 300, .want1 = "section 7 (message byte 170) declares 300 bytes"},
        {.msg = 1, .sec = 5, .at = 19, .nbytes = 1, .value = 32, .want1 = "12 values of 32 bits need 48"},
        {.msg = 1, .sec = 5, .at = 5, .nbytes = 4, .value = 11, .want1 = "no bitmap for 11 values on a grid of 12 points"},
        {.msg = 1, .sec = 3, .at = 4, .nbytes = 1, .value = 9, .want1 = "section number 9 after section 1"},
        /* ecCodes' reader of edition 3 overflowed a heap buffer (fuzz_convert) */
        {.msg = 2, .sec = 0, .at = 7, .nbytes = 1, .value = 3, .want1 = "message 2 (at byte 215) is GRIB edition 3"},
        /* product template 4.5 needs 47 bytes, the section has 34: ecCodes misplaces section 5 */
        {.msg = 1, .sec = 4, .at = 7, .nbytes = 2, .value = 5, .want1 = "section 5 does not begin where the stated lengths put it"},
        /* forecast time 6 in unit 101 (not in code table 4.4): ecCodes' validityDate never returned */
        {.msg = 1, .sec = 4, .at = 17, .nbytes = 1, .value = 101, .want1 = "unit code 101 is not a time unit"},
        {.msg = 2, .sec = 4, .at = 17, .nbytes = 1, .value = 255, .want1 = "message 2: variable 't_850'",
         .want2 = "unit code 255 is not a time unit"},
    };
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) expect_patched(good2, bad, &P[i]);
    /* GRIB1: a data section longer than the message; an unknown time unit (PDS octet 18) */
    for (int k = 0; k < 2; k++) sp[k].sample = "regular_ll_pl_grib1";
    const char *good1 = write_file("good.grib1", sp, 2);
    const Patch Q[] = {
        {.msg = 1, .sec = 4, .at = 0, .nbytes = 3, .value = 4000, .want1 = "section binary data (4)",
         .want2 = "declares 4000 bytes"},
        {.msg = 2, .sec = 1, .at = 17, .nbytes = 1, .value = 101, .want1 = "message 2: variable 't_850'",
         .want2 = "unit code 101 is not a time unit (GRIB1 code table 4)"},
    };
    for (size_t i = 0; i < sizeof Q / sizeof Q[0]; i++) expect_patched(good1, bad, &Q[i]);
}

/* ---- the real files in shared/data ---- */

static int have_file(const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) return 1;
    print_message("skipped: %s not present\n", path);
    return 0;
}

#define NC_OK(call)                                                          \
    do {                                                                     \
        int e_ = (call);                                                     \
        if (e_ != NC_NOERR) fail_msg("%s: %s", #call, nc_strerror(e_));      \
    } while (0)

/* IFS analyses + 6 h forecasts (GRIB1): 8 valid times; values against grib_to_netcdf's file. */
static void test_real_ifs(void **state) {
    (void)state;
    const char *gp = LVIT_SHARED_DATA "/ifs_oper_2024-06/ifs_oper_pl_10deg_20240603-04.grib";
    const char *np = LVIT_SHARED_DATA "/ifs_oper_2024-06/ifs_oper_pl_10deg_20240603-04.nc";
    if (!have_file(gp) || !have_file(np)) return;
    SeriesList l = {0};
    char err[512] = "";
    if (read_grib(gp, NULL, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 30);
    const char *vars[5] = {"t", "u", "v", "z", "r"};
    const int levels[6] = {1000, 850, 700, 500, 400, 300};
    const double h0 = civil_to_hours(2024, 6, 3, 0, 0, 0);
    for (int v = 0; v < 5; v++)
        for (int k = 0; k < 6; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%d", vars[v], levels[k]);
            const VarSeries *s = find(&l, name);
            assert_int_equal(s->T, 8);
            assert_int_equal(s->H, 19);
            assert_int_equal(s->W, 36);
            assert_true(s->level == levels[k]);
            for (int t = 0; t < 8; t++) assert_true(s->time[t] == h0 + 6 * t);
            assert_true(s->lat[0] == 90 && s->lat[18] == -90 && s->lon[0] == 0 && s->lon[35] == 350);
        }

    int nc, dim, tv, latv, levv, timev;
    NC_OK(nc_open(np, NC_NOWRITE, &nc));
    size_t nt, nlat, nlev;
    NC_OK(nc_inq_dimid(nc, "time", &dim));
    NC_OK(nc_inq_dimlen(nc, dim, &nt));
    NC_OK(nc_inq_dimid(nc, "latitude", &dim));
    NC_OK(nc_inq_dimlen(nc, dim, &nlat));
    NC_OK(nc_inq_dimid(nc, "level", &dim));
    NC_OK(nc_inq_dimlen(nc, dim, &nlev));
    assert_true(nt == 8 && nlat == 19 && nlev == 6);
    float nclat[19];
    int nclev[6], nctime[8];
    NC_OK(nc_inq_varid(nc, "latitude", &latv));
    NC_OK(nc_get_var_float(nc, latv, nclat));
    NC_OK(nc_inq_varid(nc, "level", &levv));
    NC_OK(nc_get_var_int(nc, levv, nclev));
    NC_OK(nc_inq_varid(nc, "time", &timev));
    NC_OK(nc_get_var_int(nc, timev, nctime));
    const double nc0 = civil_to_hours(1900, 1, 1, 0, 0, 0);
    const VarSeries *t850 = find(&l, "t_850");
    for (int t = 0; t < 8; t++) assert_true(nc0 + nctime[t] == t850->time[t]);
    int checked = 0;
    for (int v = 0; v < 5; v++) {
        double scale, offset;
        NC_OK(nc_inq_varid(nc, vars[v], &tv));
        NC_OK(nc_get_att_double(nc, tv, "scale_factor", &scale));
        NC_OK(nc_get_att_double(nc, tv, "add_offset", &offset));
        for (int k = 0; k < 6; k++) {
            char name[32];
            snprintf(name, sizeof name, "%s_%d", vars[v], nclev[k]);
            const VarSeries *s = find(&l, name);
            for (int t = 0; t < 8; t += 3)
                for (int y = 0; y < 19; y += 4)
                    for (int x = 0; x < 36; x += 5) {
                        int yn = -1; /* the netCDF latitude row of this GRIB row */
                        for (int i = 0; i < 19; i++)
                            if (fabs(nclat[i] - s->lat[y]) < 1e-4) yn = i;
                        assert_true(yn >= 0);
                        size_t idx[4] = {(size_t)t, (size_t)k, (size_t)yn, (size_t)x};
                        short p;
                        NC_OK(nc_get_var1_short(nc, tv, idx, &p));
                        double want = p * scale + offset, got = s->values[((size_t)t * 19 + y) * 36 + x];
                        if (fabs(got - want) > 0.51 * scale + 1e-5 * fabs(want))
                            fail_msg("%s t=%d lat %g lon %g: grib %.7g netcdf %.7g", name, t, s->lat[y],
                                     s->lon[x], got, want);
                        checked++;
                    }
        }
    }
    NC_OK(nc_close(nc));
    assert_true(checked > 1000);
    series_list_free(&l);

    /* filter: one variable at two levels */
    const char *z[] = {"z"};
    const double lv[] = {500, 850};
    ReadFilter f = {.nvars = 1, .vars = z, .nlevels = 2, .levels = lv};
    if (read_grib(gp, &f, &l, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(l.n, 2);
    find(&l, "z_500");
    find(&l, "z_850");
    series_list_free(&l);
}

/* ERA5 EDA: 10 members of z and t at 500/850 hPa in one file: refused, naming the count. */
static void test_real_era5_members(void **state) {
    (void)state;
    const char *gp = LVIT_SHARED_DATA "/era5_eda_2017/era5-levels-members.grib";
    if (!have_file(gp)) return;
    expect_error(gp, NULL, "10 ensemble members", "'z_500'");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grib2_roundtrip),
        cmocka_unit_test(test_grib1_scanning_and_filter),
        cmocka_unit_test(test_isobaric_in_pa_and_minutes),
        cmocka_unit_test(test_grib1_rounded_increment),
        cmocka_unit_test(test_error_files),
        cmocka_unit_test(test_error_filters),
        cmocka_unit_test(test_error_grids_duplicates_members),
        cmocka_unit_test(test_malformed_messages),
        cmocka_unit_test(test_real_ifs),
        cmocka_unit_test(test_real_era5_members),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
