/* lvit plan's model (src/plan): the parameter count is the real model's, the memory of a layout
 * is what vit_init and the Shardings allocate (hand-computed for ZeRO-1 and ZeRO-3), the bytes per
 * step are the communicator's formulas, impossible layouts are refused with the reason, the
 * layouts come sorted, and the machine file is read or refused naming the line. Measured peak
 * memory against real runs: tests/cli_plan.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "core/log.h"
#include "model/vit.h"
#include "plan/plan.h"

/* agg, V = 2, 4x4 grid, patch 2 (L = 4), D = 8, one block, 2 heads, no hidden head layers:
 * tokens 2(8*4 + 8) + var_embed 16 + query 8 + aggregation 192 + 24 + 64 + 8 + pos 32 + lead 16 = 440;
 * the block 16 + 192 + 24 + 64 + 8 + 16 + 256 + 32 + 256 + 8 = 872; norm 16, head 8*8 + 8: 1400. */
static VitConfig tiny(void) {
    VitConfig c;
    memset(&c, 0, sizeof c);
    c.V = c.Vo = 2;
    c.H = c.W = 4;
    c.p = 2;
    c.D = 8;
    c.depth = 1;
    c.NH = 2;
    c.dec_depth = 0;
    c.mlp_ratio = 4;
    c.mode = CH_AGG;
    return c;
}

static PlanInput input(const VitConfig *c, int B) {
    PlanInput in;
    memset(&in, 0, sizeof in);
    in.cfg = *c;
    in.batch = B;
    in.nodes = 1;
    in.mach.ranks_per_node = 4;
    in.mach.mem_bytes = 1e12;
    in.mach.peak_flops = 1e10;
    in.mach.efficiency = 1;
    in.mach.intra_bw = in.mach.inter_bw = 1e9;
    return in;
}

static void test_param_count(void **state) {
    (void)state;
    VitConfig c = tiny();
    assert_int_equal(plan_param_count(&c), 1400);
    /* larger models in both channel modes and with D-CHAG: the count of the model vit_init builds */
    for (int k = 0; k < 3; k++) {
        VitConfig b = tiny();
        b.V = b.Vo = 4, b.H = 8, b.W = 16, b.D = 32, b.depth = 3, b.NH = 4, b.dec_depth = 2;
        b.mode = k == 1 ? CH_MULTI : CH_AGG;
        b.chag = k == 2 ? 2 : 0;
        Vit m;
        vit_init(&m, &b, NULL, 1, kernels_cpu());
        assert_int_equal(plan_param_count(&b), m.n_canon);
        vit_free(&m);
    }
}

static void test_memory_is_the_allocation(void **state) {
    (void)state;
    VitConfig c = tiny();
    c.H = 8, c.W = 16, c.D = 32, c.depth = 3, c.NH = 4;
    for (int rc = 0; rc < 2; rc++) {
        PlanInput in = input(&c, 4);
        PlanLayout l = {.dp = 1, .sp = 1, .tp = 1, .pp = 1, .recompute = rc};
        char why[256];
        assert_int_equal(plan_check(&in.cfg, 4, 1, &l, why, sizeof why), 0);
        PlanMem m;
        plan_memory(&in, &l, &m);
        VitConfig r = c;
        r.recompute = rc;
        Vit v;
        vit_init(&v, &r, NULL, 4, kernels_cpu());
        assert_true(m.params == 4.0 * v.n_params && m.grads == 4.0 * v.n_params && m.opt == 8.0 * v.n_params);
        assert_true(m.acts == 4.0 * v.act_floats);
        assert_true(m.acts_embed == 4.0 * v.embed_floats);
        vit_free(&v);
    }
    /* ZeRO-1 over 2: 1400 padded to 2 x 700, the reduced shard 700 beside the gradients, AdamW on 700;
     * ZeRO-3 over 2: the 528 parameters outside the block whole, the block's 872 in shards of 436,
     * the gathered block and its gradients 2 x 872 and one reduced shard 436 */
    VitConfig t = tiny();
    PlanInput in = input(&t, 2);
    PlanLayout z1 = {.dp = 2, .sp = 1, .tp = 1, .pp = 1, .zero = 1}, z3 = {.dp = 2, .sp = 1, .tp = 1, .pp = 1, .zero = 3};
    char why[256];
    assert_int_equal(plan_check(&t, 2, 2, &z1, why, sizeof why), 0);
    assert_int_equal(plan_check(&t, 2, 2, &z3, why, sizeof why), 0);
    PlanMem a, b;
    plan_memory(&in, &z1, &a);
    plan_memory(&in, &z3, &b);
    assert_true(a.params == 4 * 1400.0 && a.grads == 4 * 2100.0 && a.opt == 4 * 1400.0);
    assert_true(b.params == 4 * 964.0 && b.grads == 4 * 964.0 && b.opt == 8 * 964.0 && b.gathered == 4 * 2180.0);
}

static void test_bytes(void **state) {
    (void)state;
    VitConfig c = tiny();
    char why[256];
    /* dp 2: all-reduce of the 1400 gradients, 2 (P-1)/P n floats */
    PlanInput in = input(&c, 2);
    PlanLayout l = {.dp = 2, .sp = 1, .tp = 1, .pp = 1};
    assert_int_equal(plan_check(&c, 2, 2, &l, why, sizeof why), 0);
    PlanTime t;
    plan_time(&in, &l, &t);
    assert_true(t.bytes[PC_DP] == 5600.0 && t.bytes_total == 5600.0);
    /* tp 2, multi mode (S = V L = 8), batch 2: 4 all-reduces of B S D = 128 floats per block, 1 each */
    c.mode = CH_MULTI;
    in = input(&c, 2);
    PlanLayout tp = {.dp = 1, .sp = 1, .tp = 2, .pp = 1};
    assert_int_equal(plan_check(&c, 2, 2, &tp, why, sizeof why), 0);
    plan_time(&in, &tp, &t);
    assert_true(t.bytes[PC_TP] == 4 * 4 * 128.0);
    /* ulysses over 2 (rows of 2 samples x 4 tokens): 8 rows D (P-1)/P floats per layer */
    PlanLayout u = {.dp = 1, .sp = 2, .tp = 1, .pp = 1, .sp_mode = SP_ULYSSES};
    assert_int_equal(plan_check(&c, 2, 2, &u, why, sizeof why), 0);
    plan_time(&in, &u, &t);
    assert_true(t.bytes[PC_SP] == 4 * 8 * 2 * 4 * 8 * 0.5);
}

static void expect_refused(const VitConfig *c, int B, PlanLayout l, const char *want) {
    char why[256] = "";
    const int N = l.dp * l.sp * l.tp * l.pp;
    assert_int_equal(plan_check(c, B, N, &l, why, sizeof why), 1);
    if (!strstr(why, want)) fail_msg("reason '%s' lacks '%s'", why, want);
}

static void test_refused(void **state) {
    (void)state;
    VitConfig c = tiny();
    c.H = 16, c.NH = 4; /* 8 patch rows */
    expect_refused(&c, 4, (PlanLayout){.dp = 1, .sp = 1, .tp = 3, .pp = 1}, "--tp 3 does not divide the 4 heads");
    c.classes = 3; /* a classifier: its token mean needs whole rows (forecasting pads them: below) */
    expect_refused(&c, 4, (PlanLayout){.dp = 1, .sp = 3, .tp = 1, .pp = 1}, "--sp 3 does not divide the 8 patch rows");
    c.classes = 0;
    expect_refused(&c, 4, (PlanLayout){.dp = 1, .sp = 8, .tp = 1, .pp = 1, .sp_mode = SP_ULYSSES},
                   "ulysses: --sp 8 does not divide the 4 heads");
    expect_refused(&c, 4, (PlanLayout){.dp = 1, .sp = 4, .tp = 2, .pp = 1, .sp_mode = SP_ULYSSES},
                   "does not divide the 2 heads of a tensor-parallel rank");
    expect_refused(&c, 4, (PlanLayout){.dp = 1, .sp = 1, .tp = 1, .pp = 2}, "--pp 2 stages for 1 blocks");
    expect_refused(&c, 3, (PlanLayout){.dp = 2, .sp = 1, .tp = 1, .pp = 1}, "--batch 3 is not divisible by dp 2");
    expect_refused(&c, 4, (PlanLayout){.dp = 4, .sp = 1, .tp = 1, .pp = 1, .fsdp = 3}, "--fsdp 3 does not divide dp 4");
    PlanLayout ok = {.dp = 1, .sp = 4, .tp = 1, .pp = 1, .sp_mode = SP_LSS};
    char why[256];
    assert_int_equal(plan_check(&c, 4, 4, &ok, why, sizeof why), 0);
    PlanLayout pad = {.dp = 1, .sp = 3, .tp = 1, .pp = 1, .sp_mode = SP_LSS}; /* 8 rows: 3, 3 and 2 of them */
    assert_int_equal(plan_check(&c, 4, 3, &pad, why, sizeof why), 0);
}

static void test_enumerate(void **state) {
    (void)state;
    VitConfig c = tiny();
    c.H = 16, c.NH = 4, c.depth = 2;
    PlanInput in = input(&c, 4);
    PlanEntry *e = NULL;
    int n = plan_enumerate(&in, &e), nv = 0;
    assert_true(n > 20);
    for (int i = 0; i < n; i++) {
        nv += e[i].valid;
        if (i && e[i].valid) assert_true(e[i - 1].valid && e[i - 1].time.total <= e[i].time.total);
        if (!e[i].valid) assert_true(e[i].reason[0] != 0);
        if (e[i].valid) assert_int_equal(e[i].lay.dp * e[i].lay.sp * e[i].lay.tp * e[i].lay.pp, 4);
    }
    assert_true(nv > 10);
    free(e);
    in.mach.mem_bytes = 1e5; /* nothing fits: every layout says how much it needs */
    n = plan_enumerate(&in, &e);
    for (int i = 0; i < n; i++) assert_int_equal(e[i].valid, 0);
    int needs = 0;
    for (int i = 0; i < n; i++) needs += strstr(e[i].reason, "GiB per rank, the machine has") != NULL;
    assert_true(needs > 10);
    free(e);
}

static void test_machine_file(void **state) {
    (void)state;
    char path[] = "/tmp/lvit_plan_machine_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# a node\npreset=frontier-node\nranks_per_node = 4\nmem_gib=32\ninter_gbs = 12.5 # one link\nlauncher=mpirun\n", f);
    fclose(f);
    PlanMachine m;
    memset(&m, 0, sizeof m);
    char err[512];
    assert_int_equal(plan_machine_load(path, 0, &m, err, sizeof err), 0);
    assert_int_equal(m.ranks_per_node, 4);
    assert_true(m.mem_bytes == 32.0 * 1073741824.0 && m.inter_bw == 12.5e9 && m.srun == 0 && m.peak_flops == 47.9e12);
    f = fopen(path, "w");
    fputs("preset=h100-node\nintra_gbs=-3\n", f);
    fclose(f);
    assert_int_equal(plan_machine_load(path, 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2: intra_gbs = -3 is out of range"));
    remove(path);
    assert_int_equal(plan_machine_preset("dgx", 0, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "--machine dgx"));
}

int main(void) {
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_count),         cmocka_unit_test(test_memory_is_the_allocation),
        cmocka_unit_test(test_bytes),               cmocka_unit_test(test_refused),
        cmocka_unit_test(test_enumerate),           cmocka_unit_test(test_machine_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
