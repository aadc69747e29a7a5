/* Broken image inputs are refused with a message naming the user's file, and leave no output
 * (nor touch an existing one): truncated GeoTIFF, JPEG and .mat, a wrong .mat variable, images of
 * different sizes, a labels CSV naming missing files, unknown class names. Broken copies of the real
 * files in ../shared/data are made in a mkdtemp directory (skipped when the data is absent); small
 * PNGs are written here with libpng. Also: one folder per class, PNG alpha as the nodata mask, and
 * MATLAB v7.3 (HDF5) and v5 cubes written here with libmatio, with NaN and --nodata masked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <math.h>
#include <matio.h>
#include <png.h>
#include "data/dataset_file.h"
#include "imagery/convert_any.h"
#include "io/safetensors.h"
#include "util_test.h"

static int shared(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", LVIT_SHARED_DATA, rel);
    if (access(buf, R_OK) == 0) return 1;
    print_message("skipping: %s not found (the real remote-sensing files live in ../shared/data)\n", buf);
    return 0;
}

/* Copies the first `keep` bytes of src (all when keep < 0) to tmp/name. */
static void copy_file(const char *src, const char *name, long keep, char *out, size_t n) {
    tu_path(out, n, name);
    FILE *a = fopen(src, "rb"), *b = fopen(out, "wb");
    assert_non_null(a);
    assert_non_null(b);
    char buf[65536];
    size_t r;
    long done = 0;
    while ((r = fread(buf, 1, sizeof buf, a)) > 0 && (keep < 0 || done < keep)) {
        if (keep >= 0 && done + (long)r > keep) r = (size_t)(keep - done);
        fwrite(buf, 1, r, b);
        done += (long)r;
    }
    fclose(a);
    fclose(b);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* An RGBA (alpha = 1) or RGB 8-bit PNG of h x w with pixel (r, c) = (r, c, r + c), alpha 0 at (0, 0). */
static void write_png(const char *path, int h, int w, int alpha) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    png_init_io(p, f);
    const int ch = alpha ? 4 : 3;
    png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, 8, alpha ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    unsigned char *row = malloc((size_t)w * ch);
    for (int r = 0; r < h; r++) {
        for (int c = 0; c < w; c++) {
            unsigned char *x = row + (size_t)c * ch;
            x[0] = (unsigned char)r, x[1] = (unsigned char)c, x[2] = (unsigned char)(r + c);
            if (alpha) x[3] = (r == 0 && c == 0) ? 0 : 255;
        }
        png_write_row(p, row);
    }
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    free(row);
    fclose(f);
}

/* convert_any must fail with every `want` fragment in the message and leave out absent. */
static void expect_fail(int n, const char **in, const ImageOptions *o, const char *out_name, const char *w1,
                        const char *w2) {
    char out[512], err[2048] = "";
    ConvertOptions g = {0};
    tu_path(out, sizeof out, out_name);
    int rc = convert_any(out, n, in, &g, o, NULL, err, sizeof err);
    if (rc == 0) fail_msg("expected an error containing '%s'", w1);
    if (!strstr(err, w1) || (w2 && !strstr(err, w2))) fail_msg("message '%s' lacks '%s' / '%s'", err, w1, w2 ? w2 : "");
    assert_int_not_equal(access(out, F_OK), 0);
}

static ImageOptions defaults(void) { return (ImageOptions){.train_frac = 0.625, .val_frac = 0.125}; }

static void test_truncated_geotiff(void **state) {
    (void)state;
    char src[512], bad[512];
    if (!shared(src, sizeof src, "landsat7_opengeo_tutorial/LE70220492002106EDC00_stack.gtif")) return;
    copy_file(src, "cut.gtif", 300000, bad, sizeof bad);
    const char *in[1] = {bad};
    ImageOptions o = defaults();
    expect_fail(1, in, &o, "cut.safetensors", bad, "truncated");
}

static void test_mat_errors(void **state) {
    (void)state;
    char cube[512], gt[512], cut[512];
    if (!shared(cube, sizeof cube, "salinasA_aviris/SalinasA.mat") || !shared(gt, sizeof gt, "salinasA_aviris/SalinasA_gt.mat"))
        return;
    const char *in[1] = {cube};
    ImageOptions o = defaults();
    o.var = "salinas";   /* the variable is salinasA */
    expect_fail(1, in, &o, "v.safetensors", "no variable 'salinas'", "salinasA (83x86x224");
    o.var = NULL;
    o.labels = gt;
    o.label_var = "gt";
    expect_fail(1, in, &o, "v.safetensors", gt, "salinasA_gt (83x86");
    /* the cube as a label raster: no 2-D variable */
    o.labels = cube;
    o.label_var = NULL;
    expect_fail(1, in, &o, "v.safetensors", "has no 2-D numeric variables", "--label-var");
    /* a truncated cube */
    copy_file(cube, "cut.mat", 700000, cut, sizeof cut);
    const char *in2[1] = {cut};
    o = defaults();
    expect_fail(1, in2, &o, "v.safetensors", cut, NULL);
    /* --var applies to .mat only; a CSV is not a label raster */
    o.var = "x";
    char tif[512];
    if (shared(tif, sizeof tif, "landsat7_opengeo_tutorial/training_data.gtif")) {
        const char *in3[1] = {tif};
        expect_fail(1, in3, &o, "v.safetensors", "--var x names a MATLAB variable", tif);
        o.var = NULL;
        o.labels = "labels.csv";
        expect_fail(1, in3, &o, "v.safetensors", "not a CSV", NULL);
    }
    /* --drop-bands outside 1..224 */
    o = defaults();
    o.drop_bands = "220-225";
    expect_fail(1, in, &o, "v.safetensors", "--drop-bands 220-225", "1..224");
}

/* a folder of 3 EuroSAT JPEGs (64x64) */
static void make_folder(const char *dir, char *folder, size_t n) {
    const char *names[3] = {"Forest_513.jpg", "SeaLake_1076.jpg", "River_656.jpg"};
    tu_path(folder, n, dir);
    mkdir(folder, 0755);
    for (int k = 0; k < 3; k++) {
        char src[512], rel[256], dst[512];
        snprintf(src, sizeof src, "%s/eurosat_rgb_subset75/%s", LVIT_SHARED_DATA, names[k]);
        snprintf(rel, sizeof rel, "%s/%s", dir, names[k]);
        copy_file(src, rel, -1, dst, sizeof dst);
    }
}

static void test_folder_errors(void **state) {
    (void)state;
    char probe[512], folder[512], csv[600], out[512], err[2048];
    if (!shared(probe, sizeof probe, "eurosat_rgb_subset75/Forest_513.jpg")) return;
    make_folder("photos", folder, sizeof folder);
    const char *in[1] = {folder};
    ImageOptions o = defaults();
    /* a labels CSV naming a file that is not there */
    snprintf(csv, sizeof csv, "%s/labels.csv", folder);
    write_text(csv, "file,label\nForest_513.jpg,Forest\nRiver_999.jpg,River\n");
    o.labels = csv;
    expect_fail(1, in, &o, "f.safetensors", "line 3 names 'River_999.jpg'", csv);
    /* an unknown class name */
    write_text(csv, "Forest_513.jpg,Forest\nSeaLake_1076.jpg,SeaLake\nRiver_656.jpg,River\n");
    o.classes = "Forest,River";
    expect_fail(1, in, &o, "f.safetensors", "the class 'SeaLake'", "SeaLake_1076.jpg");
    /* the same CSV converts; a failing conversion afterwards leaves the good file as it was */
    o.classes = NULL;
    ConvertOptions g = {0};
    tu_path(out, sizeof out, "good.safetensors");
    if (convert_any(out, 1, in, &g, &o, NULL, err, sizeof err)) fail_msg("%s", err);
    struct stat before, after;
    assert_int_equal(stat(out, &before), 0);
    o.classes = "Forest";
    assert_int_equal(convert_any(out, 1, in, &g, &o, NULL, err, sizeof err), -1);
    assert_int_equal(stat(out, &after), 0);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_ino, after.st_ino);
    /* images of different sizes: a 32x32 PNG among 64x64 JPEGs */
    char png[600];
    snprintf(png, sizeof png, "%s/Small_1.png", folder);
    write_png(png, 32, 32, 0);
    o = defaults();
    expect_fail(1, in, &o, "f.safetensors", png, "64x64");
    unlink(png);
    /* a truncated JPEG */
    char src[512], cutj[512];
    snprintf(src, sizeof src, "%s/eurosat_rgb_subset75/Highway_179.jpg", LVIT_SHARED_DATA);
    copy_file(src, "photos/Highway_179.jpg", 1200, cutj, sizeof cutj);
    expect_fail(1, in, &o, "f.safetensors", cutj, "JPEG");
}

static void test_class_folders_png(void **state) {
    (void)state;
    char root[512], a[600], b[600], p[700], out[512], err[2048];
    tu_path(root, sizeof root, "classes");
    mkdir(root, 0755);
    snprintf(a, sizeof a, "%s/beta", root);
    snprintf(b, sizeof b, "%s/alpha", root);
    mkdir(a, 0755);
    mkdir(b, 0755);
    snprintf(p, sizeof p, "%s/x.png", a);
    write_png(p, 4, 5, 1);
    snprintf(p, sizeof p, "%s/y.png", b);
    write_png(p, 4, 5, 1);
    snprintf(p, sizeof p, "%s/z.png", b);
    write_png(p, 4, 5, 1);
    const char *in[1] = {root};
    ImageOptions o = defaults();
    ConvertOptions g = {0};
    tu_path(out, sizeof out, "classes.safetensors");
    if (convert_any(out, 1, in, &g, &o, NULL, err, sizeof err)) fail_msg("%s", err);
    Dataset ds;
    if (dataset_open(&ds, out, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(ds.T, 3);
    assert_int_equal(ds.V, 3);
    assert_int_equal(ds.H, 4);
    assert_int_equal(ds.W, 5);
    assert_int_equal(ds.img.C, 2);
    assert_string_equal(ds.img.class_names[0], "alpha");
    /* files in class order, then name: alpha/y, alpha/z, beta/x */
    assert_int_equal(ds.img.label[0], 0);
    assert_int_equal(ds.img.label[1], 0);
    assert_int_equal(ds.img.label[2], 1);
    /* pixel (2, 3) = (2, 3, 5); alpha 0 at (0, 0) clears every band's valid flag there */
    assert_true(ds.data[(0 * 4 + 2) * 5 + 3] == 2.0f);
    assert_true(ds.data[(1 * 4 + 2) * 5 + 3] == 3.0f);
    assert_true(ds.data[(2 * 4 + 2) * 5 + 3] == 5.0f);
    assert_int_equal(ds.valid[0], 0);
    assert_int_equal(ds.valid[20], 0);
    assert_int_equal(ds.valid[1], 1);
    dataset_free(&ds);
}

/* a 3 x 4 x 2 single cube, element (r, c, b) = 100 b + 10 r + c, NaN at (1, 2, 0), and a 3 x 4 uint8
 * label map with values 0 (unlabelled), 3 and 7 */
static void write_mat(const char *path, enum mat_ft ver) {
    float cube[24];
    uint8_t gt[12];
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 4; c++)
            for (int r = 0; r < 3; r++) cube[r + 3 * (c + 4 * b)] = (float)(100 * b + 10 * r + c);
    cube[1 + 3 * 2] = NAN;
    for (int k = 0; k < 12; k++) gt[k] = (uint8_t)(k % 3 == 0 ? 0 : k % 3 == 1 ? 3 : 7);
    mat_t *m = Mat_CreateVer(path, NULL, ver);
    assert_non_null(m);
    size_t d3[3] = {3, 4, 2}, d2[2] = {3, 4};
    matvar_t *v = Mat_VarCreate("cube", MAT_C_SINGLE, MAT_T_SINGLE, 3, d3, cube, 0);
    matvar_t *g = Mat_VarCreate("gt", MAT_C_UINT8, MAT_T_UINT8, 2, d2, gt, 0);
    assert_int_equal(Mat_VarWrite(m, v, MAT_COMPRESSION_NONE), 0);
    assert_int_equal(Mat_VarWrite(m, g, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
    Mat_VarFree(g);
    Mat_Close(m);
}

static void test_mat_versions(void **state) {
    (void)state;
    const enum mat_ft vers[2] = {MAT_FT_MAT73, MAT_FT_MAT5};
    for (int k = 0; k < 2; k++) {
        char p[512], out[512], err[2048];
        tu_path(p, sizeof p, k ? "v5.mat" : "v73.mat");
        write_mat(p, vers[k]);
        const char *in[1] = {p};
        ImageOptions o = defaults();
        o.var = "cube";
        o.labels = p;
        o.label_var = "gt";
        o.nodata = 113; /* (1, 3, band 2) */
        o.nodata_set = 1;
        ConvertOptions g = {0};
        tu_path(out, sizeof out, "mat.safetensors");
        if (convert_any(out, 1, in, &g, &o, NULL, err, sizeof err)) fail_msg("%s: %s", p, err);
        Dataset ds;
        if (dataset_open(&ds, out, err, sizeof err)) fail_msg("%s", err);
        assert_int_equal(ds.V, 2);
        assert_int_equal(ds.H, 3);
        assert_int_equal(ds.W, 4);
        /* data[b][r][c]: (2, 3, band 2) = 123, (1, 2, band 1) NaN -> invalid, (1, 3, band 2) = --nodata */
        assert_true(ds.data[(1 * 3 + 2) * 4 + 3] == 123.0f);
        assert_true(ds.data[(0 * 3 + 0) * 4 + 1] == 1.0f);
        assert_int_equal(ds.valid[(0 * 3 + 1) * 4 + 2], 0);
        assert_int_equal(ds.valid[(1 * 3 + 1) * 4 + 3], 0);
        assert_int_equal(ds.valid[(1 * 3 + 1) * 4 + 2], 1);
        /* band 1's mean over its 11 valid values: the sum of 10 r + c is 138, less the NaN cell's 12 */
        if (!(fabs(ds.mean[0] - 126.0 / 11) < 1e-5)) fail_msg("%s: mean %.9g", p, ds.mean[0]); /* float */
        assert_true(fabs(ds.mean[1] - 1225.0 / 11) < 1e-4); /* 1338 less the --nodata cell 113 */
        /* labels: column-major k = r + 3 c; value 3 -> class 0, 7 -> class 1, 0 -> -1 */
        assert_int_equal(ds.img.C, 2);
        assert_int_equal(ds.img.label_map[0 * 4 + 0], -1);  /* k = 0 */
        assert_int_equal(ds.img.label_map[1 * 4 + 0], 0);   /* k = 1 */
        assert_int_equal(ds.img.label_map[2 * 4 + 0], 1);   /* k = 2 */
        assert_int_equal(ds.img.label_map[0 * 4 + 1], -1);  /* k = 3 */
        assert_int_equal(ds.img.label_map[2 * 4 + 3], 1);   /* k = 11 */
        dataset_free(&ds);
    }
}

/* A value beyond +-1e30 in a .mat cube is a fill value the file does not declare: refused with the
 * file, band and pixel, unless --nodata names it (GeoTIFF and ENVI: tests/cli_convert_checks.sh). */
static void test_mat_huge_value(void **state) {
    (void)state;
    char p[512];
    tu_path(p, sizeof p, "huge.mat");
    float cube[24];
    for (int k = 0; k < 24; k++) cube[k] = (float)k;
    cube[1 + 3 * (2 + 4 * 1)] = 3e38f; /* row 1, column 2, band 2 (MATLAB is column-major) */
    mat_t *m = Mat_CreateVer(p, NULL, MAT_FT_MAT5);
    assert_non_null(m);
    size_t d3[3] = {3, 4, 2};
    matvar_t *v = Mat_VarCreate("cube", MAT_C_SINGLE, MAT_T_SINGLE, 3, d3, cube, 0);
    assert_int_equal(Mat_VarWrite(m, v, MAT_COMPRESSION_NONE), 0);
    Mat_VarFree(v);
    Mat_Close(m);
    const char *in[1] = {p};
    ImageOptions o = defaults();
    expect_fail(1, in, &o, "huge.safetensors", "huge.mat: band 2 (", "holds 3e+38 at pixel (row 1, column 2)");
    o.nodata = 3e38;
    o.nodata_set = 1;
    char out[512], err[2048];
    ConvertOptions g = {0};
    tu_path(out, sizeof out, "huge_nodata.safetensors");
    if (convert_any(out, 1, in, &g, &o, NULL, err, sizeof err)) fail_msg("with --nodata 3e38: %s", err);
}

/* dataset_open refuses labels the tasks would index out of range (a file not written by lvit convert) */
static void test_open_bad_labels(void **state) {
    (void)state;
    char p[512], err[1024];
    tu_path(p, sizeof p, "badlabel.safetensors");
    float data[2 * 1 * 2 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t valid[8] = {1, 1, 1, 1, 1, 1, 1, 1}, split[2] = {0, 0};
    double mean[1] = {4.5}, sd[1] = {2.3};
    int32_t label[2] = {1, 2}; /* 2 classes: 2 is out of range */
    StWriter *w = st_writer_new();
    st_writer_meta(w, "lvit.dataset", "{\"version\":1,\"kind\":\"image\",\"vars\":[{\"name\":\"b\",\"units\":\"\"}],"
                   "\"labels\":{\"kind\":\"class\",\"classes\":[{\"name\":\"x\"},{\"name\":\"y\"}]}}");
    int64_t s4[4] = {2, 1, 2, 2}, s1[1] = {1}, sN[1] = {2};
    st_writer_add(w, "data", ST_F32, 4, s4, data);
    st_writer_add(w, "valid", ST_U8, 4, s4, valid);
    st_writer_add(w, "mean", ST_F64, 1, s1, mean);
    st_writer_add(w, "std", ST_F64, 1, s1, sd);
    st_writer_add(w, "split", ST_U8, 1, sN, split);
    st_writer_add(w, "label", ST_I32, 1, sN, label);
    assert_int_equal(st_writer_finish(w, p, err, sizeof err), 0);
    Dataset ds;
    assert_int_equal(dataset_open(&ds, p, err, sizeof err), -1);
    if (!strstr(err, "label[1] = 2 is not a class index in [-1, 2)")) fail_msg("%s", err);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_geotiff),
        cmocka_unit_test(test_mat_errors),
        cmocka_unit_test(test_folder_errors),
        cmocka_unit_test(test_class_folders_png),
        cmocka_unit_test(test_mat_versions),
        cmocka_unit_test(test_open_bad_labels),
        cmocka_unit_test(test_mat_huge_value),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
