/* The public C API (include/lvit.h): metadata of a checkpoint written with the format-2 data
 * description (src/io/run_meta.c), forecasts equal to `lvit predict`'s, masks, old checkpoints,
 * and failures that come back as codes and messages instead of ending the process. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util_test.h"
#include "core/check.h"
#include "data/downscale.h"
#include "io/checkpoint.h"
#include "io/run_meta.h"
#include "io/safetensors.h"
#include "lvit.h"

enum { V = 3, T = 40, H = 14, W = 20, P = 4, T0 = 30 };
static char g_run[4000], g_ckpt[4096];
static Dataset g_ds;

/* A small untrained forecasting model (residual, 14x20 data on a 16x20 model grid) saved like a
 * trained one: statistics and the data description of synthetic data, seed 7. */
static void save_model(const char *path, const char *desc, int with_norm) {
    VitConfig c = {.V = V, .Vo = V, .H = 16, .W = W, .p = P, .D = 32, .depth = 1, .NH = 2, .dec_depth = 1,
                   .mlp_ratio = 2, .mode = CH_AGG, .residual = 1};
    vit_config_set_default_names(&c);
    Vit m;
    vit_init(&m, &c, NULL, 1, kernels_cpu());
    vit_init_params(&m, 11);
    char err[1024];
    assert_int_equal(ckpt_save_model(&m, with_norm ? g_ds.mean : NULL, with_norm ? g_ds.std : NULL, desc, path, err,
                                     sizeof err), 0);
    vit_free(&m);
    vit_config_free(&c);
}

static int setup(void **state) {
    tu_tmpdir_setup(state);
    dataset_synthetic(&g_ds, V, T, H, W, 7);
    dataset_compute_stats(&g_ds, 0, 32);
    tu_path(g_run, sizeof g_run, "run");
    mkdir(g_run, 0755);
    snprintf(g_ckpt, sizeof g_ckpt, "%s/model.safetensors", g_run);
    char *desc = run_meta_json(&g_ds, "synthetic", "{\"seed\":7,\"val_frac\":0.1}");
    save_model(g_ckpt, desc, 1);
    free(desc);
    return 0;
}

static int teardown(void **state) {
    dataset_free(&g_ds);
    return tu_tmpdir_teardown(state);
}

static lvit_model *open_ok(const char *path) {
    lvit_model *m = NULL;
    lvit_status st = lvit_open(path, NULL, &m);
    if (st != LVIT_OK) fail_msg("lvit_open(%s): %d %s", path, st, lvit_last_error());
    return m;
}

static void test_metadata(void **state) {
    (void)state;
    lvit_model *m = open_ok(g_ckpt);
    assert_string_equal(lvit_task(m), "forecast");
    assert_int_equal(lvit_num_inputs(m), V);
    assert_int_equal(lvit_num_outputs(m), V);
    assert_string_equal(lvit_var_name(m, 2), "var2");
    assert_null(lvit_var_name(m, V));
    assert_string_equal(lvit_units(m, 0), "");
    int h, w;
    assert_int_equal(lvit_grid(m, &h, &w), LVIT_OK);
    assert_int_equal(h, H), assert_int_equal(w, W);
    assert_int_equal(lvit_padded_grid(m, &h, &w), LVIT_OK);
    assert_int_equal(h, 16), assert_int_equal(w, W);
    assert_int_equal(lvit_output_grid(m, &h, &w), LVIT_OK);
    assert_int_equal(h, H);
    assert_non_null(lvit_lat(m));
    assert_non_null(lvit_lon(m));
    for (int i = 0; i < H; i++) assert_true(lvit_lat(m)[i] == (double)g_ds.lat[i]);
    for (int j = 0; j < W; j++) assert_true(lvit_lon(m)[j] == (double)g_ds.lon[j]);
    double mu, sd;
    assert_int_equal(lvit_norm(m, 1, &mu, &sd), LVIT_OK);
    assert_true(mu == g_ds.mean[1] && sd == g_ds.std[1]);
    assert_int_equal(lvit_norm(m, V, &mu, &sd), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "out of range");
    assert_int_equal(lvit_patch_size(m), P);
    assert_int_equal(lvit_scale(m), 1);
    assert_int_equal(lvit_residual(m), 1);
    assert_true(lvit_lead_divisor(m) == 100.0);
    assert_int_equal(lvit_format_version(m), 2);
    assert_string_equal(lvit_data_source(m), "synthetic");
    lvit_close(m);
}

/* The forecast of `lvit predict -o x.safetensors` from time T0, +6 h. */
static float *predict_cli(void) {
    char out[4096], cmd[12288], err[1024];
    tu_path(out, sizeof out, "pred.safetensors");
    snprintf(cmd, sizeof cmd, "%s predict --run %s --time %d --lead 6 -o %s --threads 2 > %s/predict.log 2>&1",
             LVIT_BINARY, g_run, T0, out, tu_tmpdir());
    if (system(cmd) != 0) fail_msg("failed: %s (see %s/predict.log)", cmd, tu_tmpdir());
    StFile f;
    if (st_open(&f, out, err, sizeof err)) fail_msg("%s", err);
    float *fc = tu_falloc((int64_t)V * H * W);
    int64_t shape[3] = {V, H, W};
    if (st_read_f32(&f, "forecast", fc, 3, shape, err, sizeof err)) fail_msg("%s", err);
    st_close(&f);
    return fc;
}

static void test_forecast_equals_predict(void **state) {
    (void)state;
    float *ref = predict_cli();
    LvitOptions o = {.threads = 2, .device = "cpu"};
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(g_ckpt, &o, &m), LVIT_OK);
    const float *x = g_ds.data + (size_t)T0 * V * H * W;
    float *y = tu_falloc((int64_t)V * H * W);
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y), LVIT_OK);
    TU_ASSERT_CLOSE_FF(y, ref, (int64_t)V * H * W, 1e-6);
    /* the sized variant gives the same numbers */
    float *y2 = tu_falloc((int64_t)V * H * W);
    assert_int_equal(lvit_forecast_sized(m, x, (size_t)V * H * W, NULL, 0, 6.0f, y2, (size_t)V * H * W), LVIT_OK);
    assert_memory_equal(y, y2, sizeof(float) * V * H * W);
    /* another lead time is another forecast */
    assert_int_equal(lvit_forecast(m, x, NULL, 24.0f, y2), LVIT_OK);
    assert_true(memcmp(y, y2, sizeof(float) * V * H * W) != 0);
    lvit_close(m);
    free(ref), free(y), free(y2);
}

/* More threads than OpenMP's default, given at lvit_open or raised by the host after it: the calls
 * run within the workspaces sized at open (they overran them before) and give the same forecast. */
static void test_threads(void **state) {
    (void)state;
    const int omp0 = omp_get_max_threads(), many = 4 * omp0 + 3;
    const float *x = g_ds.data + (size_t)T0 * V * H * W;
    float *y1 = tu_falloc((int64_t)V * H * W), *y2 = tu_falloc((int64_t)V * H * W);
    LvitOptions o = {.threads = many, .device = "cpu"};
    lvit_model *m = NULL;
    assert_int_equal(lvit_open(g_ckpt, &o, &m), LVIT_OK);
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y1), LVIT_OK);
    assert_int_equal(omp_get_max_threads(), omp0); /* the host's count restored */
    lvit_close(m);
    omp_set_num_threads(1);
    m = open_ok(g_ckpt);
    omp_set_num_threads(many);
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y2), LVIT_OK);
    assert_int_equal(omp_get_max_threads(), many);
    omp_set_num_threads(omp0);
    TU_ASSERT_CLOSE_FF(y2, y1, (int64_t)V * H * W, 1e-6);
    lvit_close(m);
    free(y1), free(y2);
}

/* Masked cells: NaN in the output, the input value there ignored (even NaN), others finite. */
static void test_mask(void **state) {
    (void)state;
    lvit_model *m = open_ok(g_ckpt);
    const size_t n = (size_t)V * H * W;
    float *x = tu_falloc((int64_t)n), *y = tu_falloc((int64_t)n), *y2 = tu_falloc((int64_t)n);
    memcpy(x, g_ds.data + (size_t)T0 * n, sizeof(float) * n);
    unsigned char *mask = malloc(n);
    memset(mask, 1, n);
    mask[5] = 0, mask[n - 1] = 0;
    assert_int_equal(lvit_forecast(m, x, mask, 6.0f, y), LVIT_OK);
    assert_true(isnan(y[5]) && isnan(y[n - 1]));
    for (size_t i = 0; i < n; i++)
        if (mask[i]) assert_true(isfinite(y[i]));
    x[5] = NAN;
    assert_int_equal(lvit_forecast(m, x, mask, 6.0f, y2), LVIT_OK);
    assert_memory_equal(y, y2, sizeof(float) * (n - 1));
    /* without the mask a NaN is refused, naming the variable and cell */
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y2), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "var0");
    TU_ASSERT_CONTAINS(lvit_last_error(), "row 0, column 5");
    lvit_close(m);
    free(x), free(y), free(y2), free(mask);
}

static void test_errors(void **state) {
    (void)state;
    lvit_model *m = (lvit_model *)1;
    char path[4096];
    tu_path(path, sizeof path, "missing.safetensors");
    assert_int_equal(lvit_open(path, NULL, &m), LVIT_E_IO);
    assert_null(m);
    TU_ASSERT_CONTAINS(lvit_last_error(), "missing.safetensors");
    /* not a checkpoint */
    tu_path(path, sizeof path, "notes.txt");
    FILE *f = fopen(path, "w");
    fputs("hello, not a model\n", f);
    fclose(f);
    assert_int_equal(lvit_open(path, NULL, &m), LVIT_E_FORMAT);
    TU_ASSERT_CONTAINS(lvit_last_error(), "notes.txt");
    /* an untrained checkpoint (no statistics) */
    tu_path(path, sizeof path, "init.safetensors");
    save_model(path, NULL, 0);
    assert_int_equal(lvit_open(path, NULL, &m), LVIT_E_FORMAT);
    TU_ASSERT_CONTAINS(lvit_last_error(), "lvit.norm");
    /* a data description from a newer lvit */
    tu_path(path, sizeof path, "newer.safetensors");
    save_model(path, "{\"format_version\":99,\"source\":\"synthetic\"}", 1);
    assert_int_equal(lvit_open(path, NULL, &m), LVIT_E_FORMAT);
    TU_ASSERT_CONTAINS(lvit_last_error(), "format_version");
    /* arguments */
    assert_int_equal(lvit_open(NULL, NULL, &m), LVIT_E_ARG);
    LvitOptions o = {.threads = 0, .device = "cuda"};
    assert_int_equal(lvit_open(g_ckpt, &o, &m), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "cuda");
    m = open_ok(g_ckpt);
    const size_t n = (size_t)V * H * W;
    float *x = tu_falloc((int64_t)n), *y = tu_falloc((int64_t)n);
    assert_int_equal(lvit_forecast(m, x, NULL, 0.0f, y), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "lead_hours");
    assert_int_equal(lvit_forecast(m, NULL, NULL, 6.0f, y), LVIT_E_ARG);
    assert_int_equal(lvit_forecast_sized(m, x, n - 1, NULL, 0, 6.0f, y, n), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "3 variables x 14 x 20");
    assert_int_equal(lvit_forecast_sized(m, x, n, NULL, 0, 6.0f, y, n + 1), LVIT_E_ARG);
    unsigned char mk[4] = {1, 1, 1, 1};
    assert_int_equal(lvit_forecast_sized(m, x, n, mk, 4, 6.0f, y, n), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "mask");
    assert_int_equal(lvit_forecast(m, x, NULL, 6.0f, y), LVIT_OK);
    assert_string_equal(lvit_last_error(), "");
    lvit_close(m);
    lvit_close(NULL);
    free(x), free(y);
}

/* A checkpoint of an older lvit (format 1: source, grid, times, seed) still opens. */
static void test_old_format(void **state) {
    (void)state;
    char path[4096];
    tu_path(path, sizeof path, "old.safetensors");
    save_model(path, "{\"source\":\"synthetic\",\"grid\":\"14x20\",\"times\":40,\"seed\":7,\"val_frac\":0.1}", 1);
    lvit_model *m = open_ok(path);
    assert_int_equal(lvit_format_version(m), 1);
    int h, w;
    lvit_grid(m, &h, &w);
    assert_int_equal(h, H), assert_int_equal(w, W);
    assert_null(lvit_lat(m));
    lvit_close(m);
    /* nothing recorded at all: the grid is taken to be the model's */
    save_model(path, NULL, 1);
    m = open_ok(path);
    lvit_grid(m, &h, &w);
    assert_int_equal(h, 16), assert_int_equal(w, W);
    lvit_close(m);
}

/* The description: every recorded field reads back; a dataset file is recorded by absolute
 * path and hash; extra members are kept. */
static void test_run_meta(void **state) {
    (void)state;
    char path[4096], rel[64], err[512], hash[17];
    tu_path(path, sizeof path, "data.bin");
    FILE *f = fopen(path, "wb");
    fputs("abc", f);
    fclose(f);
    assert_int_equal(run_meta_file_hash(path, hash, err, sizeof err), 0);
    assert_string_equal(hash, "e71fa2190541574b"); /* FNV-1a 64 of "abc" */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tu_tmpdir()), 0);
    snprintf(rel, sizeof rel, "data.bin");
    char *j = run_meta_json(&g_ds, rel, "{\"task\":\"downscale\",\"downscale\":{\"scale\":2}}");
    assert_int_equal(chdir(cwd), 0);
    RunMeta r;
    assert_int_equal(run_meta_parse(&r, j, "test", err, sizeof err), 0);
    assert_int_equal(r.format, 2);
    assert_string_equal(r.task, "downscale");
    assert_string_equal(r.hash, hash);
    assert_true(r.source[0] == '/');
    TU_ASSERT_CONTAINS(r.source, "/data.bin");
    assert_int_equal(r.H, H), assert_int_equal(r.W, W), assert_int_equal(r.V, V);
    assert_string_equal(r.names[1], "var1");
    assert_true(r.lat[3] == (double)g_ds.lat[3]);
    assert_true(r.lead_divisor == 100.0);
    assert_true(r.hours0 == 0.0);
    TU_ASSERT_CONTAINS(j, "\"downscale\":{\"scale\":2}");
    run_meta_free(&r);
    free(j);
    assert_int_equal(run_meta_parse(&r, "[1]", "ckpt.safetensors", err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "ckpt.safetensors");
}

/* The catcher the API runs under: a failure of the internals becomes a message and a jump back. */
static void test_catch(void **state) {
    (void)state;
    LvitCatch c;
    volatile int reached = 0;
    if (setjmp(c.jb) == 0) {
        lvit_catch_push(&c);
        DIE_USER("file '%s': bad field", "x.lvd");
        reached = 1;
    }
    assert_int_equal(reached, 0);
    assert_int_equal(c.code, LVIT_EXIT_USAGE);
    TU_ASSERT_CONTAINS(c.msg, "x.lvd");
#if !defined(__SANITIZE_ADDRESS__) /* ASan reports an impossible allocation instead of returning NULL */
    if (setjmp(c.jb) == 0) {
        lvit_catch_push(&c);
        void *p = xmalloc((size_t)1 << 62);
        free(p);
    }
    assert_int_equal(c.oom, 1);
#endif
}

/* lvit_downscale against the training data path (downscale_fill) run through the model: a Reslim
 * x2 model with a static channel and the bicubic base on a global 22x48 grid (coarse 11x24,
 * padded to 12x24; the base wraps around the longitude circle). */
static void test_downscale(void **state) {
    (void)state;
    Dataset ds;
    dataset_synthetic(&ds, 2, 6, 22, 48, 3);
    dataset_compute_stats(&ds, 0, 4);
    Downscale d;
    char err[1024], path[4096];
    DownscaleOptions o = {.scale = 2, .patch = 2, .statics = "lat", .periodic = -1, .base = 1};
    assert_int_equal(downscale_init(&d, &ds, &o, err, sizeof err), 0);
    assert_true(d.global && d.hp == 12 && d.h == 11);
    VitConfig c = {.V = d.V, .Vo = d.Vo, .H = d.hp, .W = d.wp, .p = 2, .D = 16, .depth = 1, .NH = 2, .dec_depth = 1,
                   .mlp_ratio = 2, .mode = CH_AGG, .scale = 2, .res_width = 4, .ds_base = 1};
    vit_config_set_default_names(&c);
    Vit m;
    vit_init(&m, &c, NULL, 1, kernels_cpu());
    vit_init_params(&m, 5);
    for (int64_t i = 0; i < m.n_params; i++) m.param_mem[i] += 0.05f * sinf(0.37f * (float)i); /* no zero paths */
    float mean[3] = {ds.mean[0], ds.mean[1], 0}, sd[3] = {ds.std[0], ds.std[1], 1};
    char *desc = run_meta_json(&ds, "synthetic", "{\"task\":\"downscale\",\"seed\":3}");
    tu_path(path, sizeof path, "reslim.safetensors");
    assert_int_equal(ckpt_save_model(&m, mean, sd, desc, path, err, sizeof err), 0);
    free(desc);
    /* the reference: time 4 through downscale_fill, the model, the base and the statistics */
    const int t = 4, Hf = d.H, Wf = d.W, Wpf = 2 * d.wp;
    HostBatch hb;
    host_batch_init_downscale(&hb, 1, &d);
    downscale_fill(&d, &hb, 0, t, 0);
    float *dev = tu_falloc(hb.nx + 1 + hb.ny), *pred = tu_falloc(hb.ny);
    memcpy(dev, hb.x, sizeof(float) * (size_t)hb.nx);
    Batch b = {.B = 1, .x = dev, .lead = dev + hb.nx};
    vit_forward(&m, &b);
    vit_prediction(&m, pred, 1);
    const int64_t nf = (int64_t)d.Vo * Hf * Wf;
    float *ref = tu_falloc(nf), *fine = tu_falloc(nf);
    for (int v = 0; v < d.Vo; v++)
        for (int r = 0; r < Hf; r++)
            for (int col = 0; col < Wf; col++)
                ref[((int64_t)v * Hf + r) * Wf + col] =
                    (pred[((int64_t)v * 2 * d.hp + r) * Wpf + col] + d.base[(((int64_t)t * d.Vo + v) * Hf + r) * Wf + col]) *
                        ds.std[v] + ds.mean[v];
    /* the API's input: the coarse fields in physical units, then the static channel as trained */
    const int64_t hw = (int64_t)d.h * d.w;
    float *x = tu_falloc(d.V * hw);
    memcpy(x, d.coarse_phys + (int64_t)t * d.Vo * hw, sizeof(float) * (size_t)(d.Vo * hw));
    memcpy(x + d.Vo * hw, d.statics, sizeof(float) * (size_t)hw);
    lvit_model *api = open_ok(path);
    assert_string_equal(lvit_task(api), "downscale");
    int h, w;
    lvit_grid(api, &h, &w);
    assert_int_equal(h, 11), assert_int_equal(w, 24);
    lvit_output_grid(api, &h, &w);
    assert_int_equal(h, 22), assert_int_equal(w, 48);
    assert_int_equal(lvit_scale(api), 2);
    assert_int_equal(lvit_downscale(api, x, NULL, fine), LVIT_OK);
    TU_ASSERT_CLOSE_FF(fine, ref, nf, 1e-6);
    /* an unobserved coarse cell: its 2 x 2 fine block is NaN */
    unsigned char *mask = malloc((size_t)(d.V * hw));
    memset(mask, 1, (size_t)(d.V * hw));
    mask[3] = 0;
    assert_int_equal(lvit_downscale(api, x, mask, fine), LVIT_OK);
    assert_true(isnan(fine[6]) && isnan(fine[7]) && isnan(fine[Wf + 6]) && !isnan(fine[8]));
    assert_int_equal(lvit_downscale_sized(api, x, (size_t)(d.V * hw), NULL, 0, fine, (size_t)nf - 1), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "2 variables x 22 x 48");
    assert_int_equal(lvit_downscale_sized(api, x, (size_t)(d.V * hw), NULL, 0, fine, (size_t)nf), LVIT_OK);
    assert_int_equal(lvit_forecast(api, x, NULL, 6.0f, fine), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "downscaling model");
    lvit_close(api);
    api = open_ok(g_ckpt);
    assert_int_equal(lvit_downscale(api, x, NULL, fine), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "a model of task \"forecast\"");
    /* the sized call names the task too, not the sizes of another task's arrays */
    assert_int_equal(lvit_downscale_sized(api, x, 1, NULL, 0, fine, 1), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "a model of task \"forecast\"");
    /* a NULL mask goes with 0 values */
    assert_int_equal(lvit_forecast_sized(api, x, (size_t)V * H * W, NULL, 5, 6.0f, fine, (size_t)V * H * W), LVIT_E_ARG);
    TU_ASSERT_CONTAINS(lvit_last_error(), "mask is NULL but nmask is 5");
    lvit_close(api);
    free(mask), free(x), free(ref), free(fine), free(dev), free(pred);
    host_batch_free(&hb);
    vit_free(&m);
    vit_config_free(&c);
    downscale_free(&d);
    dataset_free(&ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata),   cmocka_unit_test(test_forecast_equals_predict),
        cmocka_unit_test(test_mask),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_old_format), cmocka_unit_test(test_run_meta),
        cmocka_unit_test(test_catch),      cmocka_unit_test(test_downscale),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
