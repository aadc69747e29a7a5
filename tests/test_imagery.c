/* Tests for src/imagery on the real files in ../shared/data (skipped with a message when absent):
 * each dataset goes through convert_any into an image dataset in a mkdtemp directory and is opened
 * with dataset_open, as training will. Expected values come from a second route:
 *   Salinas-A: a stdlib-only Python MATLAB v5 parser (zlib + struct) over SalinasA.mat / _gt.mat;
 *   Landsat, BigEarthNet, EuroSAT: gdallocationinfo -valonly (BigEarthNet's 60 m band B01 after
 *   gdal_translate -r bilinear -outsize 120 120); class counts: docs PROVENANCE.md of shared/data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/json.h"
#include "data/dataset_file.h"
#include "imagery/convert_any.h"
#include "util_test.h"

#define SALINAS "salinasA_aviris/"
#define LANDSAT "landsat7_opengeo_tutorial/"
#define BEN "bigearthnet_s2_tiny"
#define EUROSAT "eurosat_rgb_subset75"

static int shared(char *buf, size_t n, const char *rel) {
    snprintf(buf, n, "%s/%s", LVIT_SHARED_DATA, rel);
    if (access(buf, R_OK) == 0) return 1;
    print_message("skipping: %s not found (the real remote-sensing files live in ../shared/data)\n", buf);
    return 0;
}

static ImageOptions defaults(void) {
    return (ImageOptions){.train_frac = 0.625, .val_frac = 0.125};
}

/* Converts inputs into tmp/name with o and opens the result. */
static void convert_open(Dataset *ds, const char *name, int n, const char **in, const ImageOptions *o) {
    char out[512], err[2048];
    ConvertOptions g = {0};
    tu_path(out, sizeof out, name);
    if (convert_any(out, n, in, &g, o, NULL, err, sizeof err)) fail_msg("convert: %s", err);
    if (dataset_open(ds, out, err, sizeof err)) fail_msg("open: %s", err);
    assert_int_equal(ds->kind, DATASET_IMAGE);
}

static float px(const Dataset *ds, int i, int b, int r, int c) {
    return ds->data[(((size_t)i * ds->V + b) * ds->H + r) * ds->W + c];
}

/* index of the image called name in the metadata's list */
static int image_index(const Dataset *ds, const char *name) {
    char err[256];
    JsonValue *m = json_parse(ds->img.meta, strlen(ds->img.meta), 1 << 26, "meta", err, sizeof err);
    const JsonValue *im = json_get(m, "images");
    int at = -1;
    for (size_t i = 0; i < json_len(im) && at < 0; i++)
        if (strcmp(json_as_string(json_get(json_at(im, i), "name")), name) == 0) at = (int)i;
    json_free(m);
    if (at < 0) fail_msg("no image %s", name);
    return at;
}

static void test_salinas(void **state) {
    (void)state;
    char cube[512], gt[512];
    if (!shared(cube, sizeof cube, SALINAS "SalinasA.mat") || !shared(gt, sizeof gt, SALINAS "SalinasA_gt.mat")) return;
    ImageOptions o = defaults();
    o.labels = gt;
    const char *in[1] = {cube};
    Dataset ds;
    convert_open(&ds, "salinas.safetensors", 1, in, &o);
    assert_int_equal(ds.T, 1);
    assert_int_equal(ds.V, 224);
    assert_int_equal(ds.H, 83);
    assert_int_equal(ds.W, 86);
    /* (row, col, band) from the Python route: (0,0,1)=376, (10,20,31)=796, (82,85,224)=18, (5,7,151)=76 */
    assert_true(px(&ds, 0, 0, 0, 0) == 376.0f);
    assert_true(px(&ds, 0, 30, 10, 20) == 796.0f);
    assert_true(px(&ds, 0, 223, 82, 85) == 18.0f);
    assert_true(px(&ds, 0, 150, 5, 7) == 76.0f);
    assert_true(fabs(ds.mean[0] - 374.35990473521997) < 1e-3);
    assert_string_equal(ds.names[0], "band_001");
    assert_int_equal(ds.img.split[0], SPLIT_TRAIN);
    /* 6 classes, values 1,10..14 -> indices 0..5; 5348 labelled pixels */
    assert_int_equal(ds.img.label_kind, LABELS_MAP);
    assert_int_equal(ds.img.C, 6);
    assert_string_equal(ds.img.class_names[0], "class_1");
    assert_string_equal(ds.img.class_names[5], "class_14");
    const int want[6] = {391, 1343, 616, 1525, 674, 799};
    int count[6] = {0}, unl = 0;
    for (int k = 0; k < 83 * 86; k++) {
        int c = ds.img.label_map[k];
        if (c < 0) unl++;
        else count[c]++;
    }
    for (int c = 0; c < 6; c++) assert_int_equal(count[c], want[c]);
    assert_int_equal(unl, 1790);
    assert_int_equal(ds.img.label_map[0], 0);            /* (0,0): value 1 */
    assert_int_equal(ds.img.label_map[40 * 86 + 50], 4); /* (40,50): value 13 */
    assert_int_equal(ds.img.label_map[10 * 86 + 70], 3); /* (10,70): value 12 */
    dataset_free(&ds);

    /* the usual 204-band version: drop 108-112, 154-167 and 224 (1-based) */
    o.drop_bands = "108-112,154-167,224";
    o.classes = "1=Brocoli_green_weeds_1,10=Corn_senesced_green_weeds,11=Lettuce_romaine_4wk,12=Lettuce_romaine_5wk,"
                "13=Lettuce_romaine_6wk,14=Lettuce_romaine_7wk";
    convert_open(&ds, "salinas204.safetensors", 1, in, &o);
    assert_int_equal(ds.V, 204);
    assert_string_equal(ds.names[106], "band_107");
    assert_string_equal(ds.names[107], "band_113");
    assert_string_equal(ds.names[203], "band_223");
    assert_true(fabs(ds.mean[106] - 31.824040347436256) < 1e-4);
    assert_true(px(&ds, 0, 0, 0, 0) == 376.0f);
    assert_string_equal(ds.img.class_names[1], "Corn_senesced_green_weeds");
    dataset_free(&ds);
}

static void test_landsat(void **state) {
    (void)state;
    char a[512], b[512], t[512];
    if (!shared(a, sizeof a, LANDSAT "LE70220491999322EDC01_stack.gtif") ||
        !shared(b, sizeof b, LANDSAT "LE70220492002106EDC00_stack.gtif") || !shared(t, sizeof t, LANDSAT "training_data.gtif"))
        return;
    ImageOptions o = defaults();
    o.labels = t;
    o.train_frac = 1, o.val_frac = 0;
    o.classes = "1=forest,2=water,3=herbaceous,4=barren,5=urban";
    const char *in[2] = {a, b};
    Dataset ds;
    convert_open(&ds, "landsat.safetensors", 2, in, &o);
    assert_int_equal(ds.T, 2);
    assert_int_equal(ds.V, 8);
    assert_int_equal(ds.H, 250);
    assert_int_equal(ds.W, 250);
    /* gdallocationinfo -valonly FILE 10 20 (column 10, row 20) and ... 249 249 */
    const float w1999[8] = {733, 1166, 1217, 4910, 2461, 1252, 2785, 0}, w2002[8] = {830, 833, 759, 1328, 934, 588, 2487, 4};
    for (int k = 0; k < 8; k++) {
        assert_true(px(&ds, 0, k, 20, 10) == w1999[k]);
        assert_true(px(&ds, 1, k, 249, 249) == w2002[k]);
    }
    assert_string_equal(ds.names[0], "band_1_reflectance");
    assert_string_equal(ds.names[6], "band_6_temperature");
    assert_int_equal(ds.img.split[0], SPLIT_TRAIN);
    assert_int_equal(ds.img.split[1], SPLIT_TRAIN);
    /* the training raster (nodata 0 = unlabelled): 383 forest, 16 water, 145 herbaceous, 106 barren, 68 urban */
    const int want[5] = {383, 16, 145, 106, 68};
    int count[5] = {0};
    for (int k = 0; k < 250 * 250; k++)
        if (ds.img.label_map[k] >= 0) count[ds.img.label_map[k]]++;
    for (int c = 0; c < 5; c++) assert_int_equal(count[c], want[c]);
    assert_memory_equal(ds.img.label_map, ds.img.label_map + 250 * 250, sizeof(int32_t) * 250 * 250);
    assert_string_equal(ds.img.class_names[4], "urban");
    /* georeference kept: origin (462405, 1741815), 30 m pixels, UTM 15N */
    assert_non_null(strstr(ds.img.meta, "\"geotransform\":[462405,30,0,1741815,0,-30]"));
    assert_non_null(strstr(ds.img.meta, "UTM zone 15N"));
    dataset_free(&ds);
}

static void test_bigearthnet(void **state) {
    (void)state;
    char dir[512];
    if (!shared(dir, sizeof dir, BEN)) return;
    ImageOptions o = defaults();
    const char *in[1] = {dir};
    Dataset ds;
    convert_open(&ds, "ben.safetensors", 1, in, &o);
    assert_int_equal(ds.T, 3);
    assert_int_equal(ds.V, 12);
    assert_int_equal(ds.H, 120);
    assert_int_equal(ds.W, 120);
    const char *bands[12] = {"b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b8a", "b09", "b11", "b12"};
    for (int b = 0; b < 12; b++) assert_string_equal(ds.names[b], bands[b]);
    int i = image_index(&ds, "S2A_MSIL2A_20170617T113321_36_85");
    assert_true(px(&ds, i, 1, 7, 5) == 393.0f);  /* B02, 10 m: read as is */
    assert_true(px(&ds, i, 0, 7, 5) == 528.0f);  /* B01, 60 m, bilinear onto the 120x120 grid */
    assert_true(px(&ds, i, 0, 61, 60) == 423.0f);
    /* labels: the union of the 3 patches' lists, sorted; patch 36_85 has Non-irrigated arable land and Pastures */
    assert_int_equal(ds.img.label_kind, LABELS_MULTI);
    assert_int_equal(ds.img.C, 6);
    assert_string_equal(ds.img.class_names[3], "Non-irrigated arable land");
    assert_string_equal(ds.img.class_names[4], "Pastures");
    const uint8_t want[6] = {0, 0, 0, 1, 1, 0};
    assert_memory_equal(ds.img.multi + (size_t)i * 6, want, 6);
    int pastures = 0, total = 0;
    for (int k = 0; k < 3; k++) {
        pastures += ds.img.multi[k * 6 + 4];
        for (int c = 0; c < 6; c++) total += ds.img.multi[k * 6 + c];
    }
    assert_int_equal(pastures, 2);
    assert_int_equal(total, 2 + 1 + 4);
    assert_non_null(strstr(ds.img.meta, "\"date\":\"2017-06-17 11:33:21\""));
    dataset_free(&ds);
}

static void test_eurosat(void **state) {
    (void)state;
    char dir[512], csv[512];
    if (!shared(dir, sizeof dir, EUROSAT) || !shared(csv, sizeof csv, EUROSAT "/test_labels.csv")) return;
    ImageOptions o = defaults();
    o.labels = csv;
    o.csv_columns = "Filename,ClassName";
    const char *in[1] = {dir};
    Dataset ds;
    convert_open(&ds, "eurosat.safetensors", 1, in, &o);
    assert_int_equal(ds.T, 75);
    assert_int_equal(ds.V, 3);
    assert_int_equal(ds.H, 64);
    assert_int_equal(ds.W, 64);
    assert_string_equal(ds.names[0], "red");
    assert_int_equal(ds.img.label_kind, LABELS_CLASS);
    assert_int_equal(ds.img.C, 10);
    /* alphabetical, as EuroSAT's Label column numbers them; counts from the CSV */
    const char *names[10] = {"AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial",
                             "Pasture", "PermanentCrop", "Residential", "River", "SeaLake"};
    const int want[10] = {8, 6, 6, 6, 5, 11, 5, 11, 6, 11};
    int count[10] = {0}, split[3] = {0};
    for (int c = 0; c < 10; c++) assert_string_equal(ds.img.class_names[c], names[c]);
    for (int k = 0; k < 75; k++) count[ds.img.label[k]]++, split[ds.img.split[k]]++;
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], want[c]);
    /* stratified: per class round(0.625 n) training images */
    int want_train = 0;
    for (int c = 0; c < 10; c++) want_train += (int)floor(0.625 * want[c] + 0.5);
    assert_int_equal(split[SPLIT_TRAIN], want_train);
    /* gdallocationinfo -valonly Forest_513.jpg 3 5 -> 45 68 84; SeaLake_1076.jpg 63 63 -> 26 43 69 */
    int f = image_index(&ds, "Forest_513"), s = image_index(&ds, "SeaLake_1076");
    assert_int_equal(ds.img.label[f], 1);
    assert_int_equal(ds.img.label[s], 9);
    const float wf[3] = {45, 68, 84}, ws[3] = {26, 43, 69};
    for (int b = 0; b < 3; b++) {
        assert_true(px(&ds, f, b, 5, 3) == wf[b]);
        assert_true(px(&ds, s, b, 63, 63) == ws[b]);
    }
    dataset_free(&ds);

    /* the same images with the integer Label column: classes 0..9 in numeric order */
    o.csv_columns = "Filename,Label";
    convert_open(&ds, "eurosat_num.safetensors", 1, in, &o);
    assert_string_equal(ds.img.class_names[9], "9");
    assert_int_equal(ds.img.label[image_index(&ds, "SeaLake_1076")], 9);
    dataset_free(&ds);
}

/* one folder per class of GeoTIFFs (as EuroSAT's 13-band version ships): read through GDAL */
static void test_tiff_class_folders(void **state) {
    (void)state;
    char a[512], b[512], root[512], dir[600], dst[700], err[2048];
    if (!shared(a, sizeof a, LANDSAT "LE70220491999322EDC01_stack.gtif") ||
        !shared(b, sizeof b, LANDSAT "LE70220492002106EDC00_stack.gtif"))
        return;
    tu_path(root, sizeof root, "ms");
    mkdir(root, 0755);
    const char *src[2] = {a, b}, *cls[2] = {"Wet", "Dry"};
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/%s", root, cls[k]);
        mkdir(dir, 0755);
        snprintf(dst, sizeof dst, "%s/scene.tif", dir);
        if (symlink(src[k], dst)) fail_msg("symlink %s", dst);
    }
    ImageOptions o = defaults();
    const char *in[1] = {root};
    Dataset ds;
    convert_open(&ds, "ms.safetensors", 1, in, &o);
    assert_int_equal(ds.T, 2);
    assert_int_equal(ds.V, 8);
    assert_int_equal(ds.img.C, 2);
    assert_string_equal(ds.img.class_names[0], "Dry");
    /* Dry/scene.tif is the 2002 stack: (249, 249) from gdallocationinfo */
    assert_int_equal(ds.img.label[0], 0);
    assert_true(px(&ds, 0, 0, 249, 249) == 830.0f);
    assert_true(px(&ds, 1, 3, 20, 10) == 4910.0f);
    (void)err;
    dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_salinas),
        cmocka_unit_test(test_landsat),
        cmocka_unit_test(test_bigearthnet),
        cmocka_unit_test(test_eurosat),
        cmocka_unit_test(test_tiff_class_folders),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
