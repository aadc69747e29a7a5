/* Whole-model tests: the parameter table, checkpoints, the configuration's JSON, the learning-rate
 * schedule and determinism of training. Parity with the PyTorch twin: test_model_parity.c;
 * whole-model finite differences and recomputation: test_model_grad.c; the batches:
 * test_model_batches.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "train/trainer.h"
#include "core/check.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "model/vit.h"
#include "optim/optim.h"
#include "util_model.h"
#include "util_test.h"

static void test_param_table(void **s) {
    (void)s;
    VitConfig c = tu_tiny_config(CH_AGG);
    Vit m;
    vit_init(&m, &c, NULL, 1, kernels_cpu());
    /* 3 token embeds x2, var_embed, var_query, 4 var_agg, pos, 2 lead, 2 blocks x12, norm x2, head 2x2 */
    assert_int_equal(m.nspecs, 6 + 1 + 1 + 4 + 1 + 2 + 24 + 2 + 4);
    const ParamSpec *ps = vit_find_param(&m, "head.2.weight");
    assert_non_null(ps);
    assert_int_equal(ps->shape[0], 2 * 2 * 3);
    assert_int_equal(ps->shape[1], 8);
    assert_true(ps->decay);
    assert_non_null(vit_find_param(&m, "head.0.bias"));
    assert_null(vit_find_param(&m, "head.1.weight")); /* GELUs take the odd indices */
    ps = vit_find_param(&m, "token_embeds.2.proj.weight");
    assert_non_null(ps);
    assert_int_equal(ps->ndim, 4);
    assert_false(ps->decay);
    assert_false(vit_find_param(&m, "blocks.1.norm2.weight")->decay);
    assert_false(vit_find_param(&m, "blocks.1.attn.qkv.bias")->decay);
    assert_true(vit_find_param(&m, "blocks.1.mlp.fc2.weight")->decay);
    assert_int_equal(vit_find_param(&m, "pos_embed")->shape[1], 6);
    /* the tensors tile the flat buffer exactly once */
    unsigned char *seen = calloc((size_t)m.n_params, 1);
    for (int i = 0; i < m.nspecs; i++)
        for (int64_t j = 0; j < m.specs[i].numel; j++) seen[m.specs[i].offset + j]++;
    for (int64_t j = 0; j < m.n_params; j++) assert_int_equal(seen[j], 1);
    free(seen);
    /* PyTorch's state-dict order: own parameters, then submodules in registration order */
    const char *order[] = {"var_embed", "var_query", "pos_embed", "token_embeds.0.proj.weight",
                           "token_embeds.0.proj.bias", "token_embeds.1.proj.weight"};
    for (int i = 0; i < 6; i++) assert_string_equal(m.specs[i].name, order[i]);
    assert_string_equal(m.specs[15].name, "blocks.0.norm1.weight");
    assert_string_equal(m.specs[16].name, "blocks.0.norm1.bias");
    assert_string_equal(m.specs[17].name, "blocks.0.attn.qkv.weight");
    assert_string_equal(m.specs[m.nspecs - 1].name, "head.2.bias");
    vit_free(&m);
    vit_config_free(&c);
    c = tu_tiny_config(CH_MULTI);
    vit_init(&m, &c, NULL, 1, kernels_cpu());
    assert_null(vit_find_param(&m, "var_query"));
    assert_null(vit_find_param(&m, "var_agg.in_proj_weight"));
    assert_int_equal(vit_find_param(&m, "head.2.weight")->shape[0], 4);
    vit_free(&m);
    vit_config_free(&c);
}

static void test_checkpoint_roundtrip(void **s) {
    (void)s;
    VitConfig c = tu_tiny_config(CH_AGG);
    Vit a, b;
    vit_init(&a, &c, NULL, 1, kernels_cpu());
    vit_init_params(&a, 5);
    char dir[] = "/tmp/lvit_test_XXXXXX", path[256], err[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    float mean[3] = {1, 2, 3}, std[3] = {4, 5, 6};
    assert_int_equal(ckpt_save_model(&a, mean, std, NULL, path, err, sizeof err), 0);
    VitConfig c2;
    float *m2, *s2;
    assert_int_equal(ckpt_load_config(path, &c2, &m2, &s2, err, sizeof err), 0);
    assert_int_equal(c2.D, c.D);
    assert_int_equal(c2.mode, c.mode);
    assert_string_equal(c2.var_names[2], "var2");
    assert_true(m2[2] == 3.0f && s2[1] == 5.0f);
    vit_init(&b, &c2, NULL, 1, kernels_cpu());
    assert_int_equal(ckpt_load_params(&b, path, err, sizeof err), 0);
    assert_memory_equal(a.param_mem, b.param_mem, sizeof(float) * (size_t)a.n_params);
    vit_free(&b);
    /* a different configuration must be refused with what differs named (the file's lvit.config
       against the model's, before any tensor is read) */
    VitConfig c3 = tu_tiny_config(CH_AGG);
    c3.D = 12;
    c3.NH = 3;
    vit_init(&b, &c3, NULL, 1, kernels_cpu());
    assert_int_not_equal(ckpt_load_params(&b, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "holds another model"));
    assert_non_null(strstr(err, "dim 8 in the file, 12 in this run"));
    vit_free(&b);
    vit_config_free(&c3);
    c3 = tu_tiny_config(CH_MULTI);
    vit_init(&b, &c3, NULL, 1, kernels_cpu());
    assert_int_not_equal(ckpt_load_params(&b, path, err, sizeof err), 0);
    assert_non_null(strstr(err, "channels (0 agg, 1 multi) 0 in the file, 1 in this run"));
    vit_free(&b);
    vit_config_free(&c3);
    unlink(path);
    rmdir(dir);
    free(m2);
    free(s2);
    vit_config_free(&c2);
    vit_free(&a);
    vit_config_free(&c);
}

static void test_config_json(void **s) {
    (void)s;
    VitConfig c = tu_tiny_config(CH_MULTI), d;
    c.residual = 1;
    snprintf(c.var_names[1], LVIT_VAR_NAME, "t_850 \"quoted\"");
    char *j = vit_config_to_json(&c), err[512];
    assert_int_equal(vit_config_from_json(&d, j, err, sizeof err), 0);
    assert_int_equal(d.V, 3);
    assert_int_equal(d.H, 4);
    assert_int_equal(d.W, 6);
    assert_int_equal(d.mode, CH_MULTI);
    assert_int_equal(d.residual, 1);
    assert_int_equal(d.dec_depth, 1);
    assert_string_equal(d.var_names[1], "t_850 \"quoted\"");
    vit_config_free(&d);
    free(j);
    /* a Reslim model: task, scale, outputs, residual width and target base survive the round trip */
    VitConfig r = tu_tiny_config(CH_AGG), e;
    r.Vo = 2, r.scale = 4, r.res_width = 5, r.ds_base = 1;
    j = vit_config_to_json(&r);
    assert_int_equal(vit_config_from_json(&e, j, err, sizeof err), 0);
    assert_int_equal(e.scale, 4), assert_int_equal(e.Vo, 2), assert_int_equal(e.V, 3);
    assert_int_equal(e.res_width, 5), assert_int_equal(e.ds_base, 1);
    vit_config_free(&e);
    vit_config_free(&r);
    free(j);
    const char *bad[] = {
        "{\"vars\":[\"a\"],\"img_size\":[4,6],\"patch\":2,\"dim\":8,\"depth\":1,\"heads\":3,\"decoder_depth\":0}",
        "{\"vars\":[],\"img_size\":[4,6],\"patch\":2,\"dim\":8,\"depth\":1,\"heads\":2,\"decoder_depth\":0}",
        "{\"vars\":[\"a\"],\"img_size\":[5,6],\"patch\":2,\"dim\":8,\"depth\":1,\"heads\":2,\"decoder_depth\":0}",
        "{\"vars\":[\"a\"],\"img_size\":[4,6],\"patch\":2,\"dim\":8,\"depth\":1,\"heads\":2,\"decoder_depth\":0,\"channels\":\"x\"}",
        "{\"vars\":[\"a\"],\"img_size\":[4,6],\"patch\":2,\"dim\":8,\"depth\":1,\"heads\":2,\"decoder_depth\":0,\"residual\":1}",
        "{\"vars\":[\"a\"],\"img_size\":[4,6],\"patch\":2,\"dim\":8,\"heads\":2,\"decoder_depth\":0}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        assert_int_not_equal(vit_config_from_json(&d, bad[i], err, sizeof err), 0);
        assert_true(strlen(err) > 10); /* says what is wrong */
    }
    vit_config_free(&c);
}

static void test_lr_schedule(void **s) {
    (void)s;
    OptConfig oc = opt_default();
    oc.lr = 1e-3f;
    oc.min_lr = 1e-4f;
    oc.warmup = 4;
    oc.total = 14;
    assert_float_equal(opt_lr_at(&oc, 0), 2.5e-4, 1e-9);
    assert_float_equal(opt_lr_at(&oc, 3), 1e-3, 1e-9);
    assert_float_equal(opt_lr_at(&oc, 4), 1e-3, 1e-9);
    assert_float_equal(opt_lr_at(&oc, 9), 5.5e-4, 1e-8);  /* half way: (max+min)/2 */
    assert_float_equal(opt_lr_at(&oc, 14), 1e-4, 1e-9);
    assert_float_equal(opt_lr_at(&oc, 100), 1e-4, 1e-9);
}

/* Same seed, same everything: bitwise identical parameters after training steps. */
static void test_determinism(void **s) {
    (void)s;
    Dataset ds;
    dataset_synthetic(&ds, 3, 40, 8, 12, 9);
    VitConfig c = tu_tiny_config(CH_AGG);
    c.H = 8;
    c.W = 12;
    OptConfig oc = opt_default();
    oc.total = 6;
    float lead = 6;
    float *first = NULL;
    float losses[2][6];
    for (int run = 0; run < 2; run++) {
        Trainer t;
        Parallel par;
        parallel_init_single(&par);
        Task task_t;
        task_forecast_init(&task_t, &ds, &lead, 1);
        trainer_init(&t, &c, &oc, &task_t, 0, 40, 4, 77, kernels_cpu(), &par);
        for (int i = 0; i < 6; i++) losses[run][i] = trainer_step(&t).loss;
        if (!first) {
            first = malloc(sizeof(float) * (size_t)t.model.n_params);
            memcpy(first, t.model.param_mem, sizeof(float) * (size_t)t.model.n_params);
        } else {
            assert_memory_equal(first, t.model.param_mem, sizeof(float) * (size_t)t.model.n_params);
        }
        trainer_free(&t);
        task_free(&task_t);
    }
    assert_memory_equal(losses[0], losses[1], sizeof losses[0]);
    free(first);
    vit_config_free(&c);
    dataset_free(&ds);
}

int main(void) {
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_table),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_config_json),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
