/* Distributed training against the single process, under mpirun (CTest runs this file at
 * np = 1, 2 and 4; at np = 1 it checks the single-process path of the same code).
 *
 * - every collective of the backend against a sequential reference that each rank computes
 *   from everybody's (deterministic) inputs, uneven sizes included, and the bytes it counts;
 * - data parallel: loss and every gradient of a step equal the single-process step on the same
 *   global batch (1e-5), 20 AdamW steps give the same losses (1e-4), the validation loss is
 *   the same, with the replicated optimizer and with ZeRO-1, on data with masked cells so the ranks' mask sums differ (a per-rank mean
 *   averaged over ranks would be off there). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/trainer.h"
#include "core/log.h"
#include "core/rng.h"
#include "kernels/kernels.h"
#include "parallel/comm.h"
#include "util_test.h"

static Parallel g_par;

static float val_at(int rank, int64_t i) { return (float)((rank + 1) * 0.5 + 0.001 * (double)(i % 997) - 0.25 * (i % 3)); }

static void test_collectives(void **state) {
    (void)state;
    Comm *w = &g_par.world;
    const int P = w->size, r = w->rank;
    const int64_t sizes[3] = {1, 7, 1001};
    for (int k = 0; k < 3; k++) {
        const int64_t n = sizes[k];
        float *send = tu_falloc(P * n), *recv = tu_falloc(P * n), *ref = tu_falloc(P * n);
        /* all-reduce */
        for (int64_t i = 0; i < n; i++) recv[i] = val_at(r, i);
        int64_t before = w->bytes_sent;
        w->ops->allreduce_sum(w, recv, n);
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int q = 0; q < P; q++) s += val_at(q, i);
            if (fabs(recv[i] - s) > 1e-5 * (fabs(s) + 1)) fail_msg("all-reduce n=%lld [%lld]: %g vs %g", (long long)n, (long long)i, recv[i], s);
        }
        assert_int_equal(w->bytes_sent - before, (int64_t)(2.0 * (P - 1) / P * n * sizeof(float)));
        /* f64 all-reduce is exact on these values' sums of a few terms */
        double d[2] = {r + 0.5, 1.0};
        w->ops->allreduce_sum_f64(w, d, 2);
        assert_true(d[0] == P * P / 2.0 && d[1] == P);
        /* all-gather: block q of recv is rank q's send */
        for (int64_t i = 0; i < n; i++) send[i] = val_at(r, i);
        before = w->bytes_sent;
        w->ops->allgather(w, recv, send, n);
        for (int q = 0; q < P; q++)
            for (int64_t i = 0; i < n; i++) ref[q * n + i] = val_at(q, i);
        assert_memory_equal(recv, ref, sizeof(float) * (size_t)(P * n));
        assert_int_equal(w->bytes_sent - before, (int64_t)((P - 1) * n * sizeof(float)));
        /* reduce-scatter: rank r gets the sum over ranks of block r */
        for (int64_t i = 0; i < P * n; i++) send[i] = val_at(r, i);
        w->ops->reduce_scatter(w, recv, send, n);
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int q = 0; q < P; q++) s += val_at(q, r * n + i);
            if (fabs(recv[i] - s) > 1e-5 * (fabs(s) + 1)) fail_msg("reduce-scatter n=%lld [%lld]: %g vs %g", (long long)n, (long long)i, recv[i], s);
        }
        /* all-to-all: block j of rank q's send arrives as block q at rank j */
        for (int64_t i = 0; i < P * n; i++) send[i] = val_at(r, i);
        w->ops->alltoall(w, recv, send, n);
        for (int q = 0; q < P; q++)
            for (int64_t i = 0; i < n; i++) ref[q * n + i] = val_at(q, r * n + i);
        assert_memory_equal(recv, ref, sizeof(float) * (size_t)(P * n));
        /* broadcast from the last rank */
        for (int64_t i = 0; i < n; i++) recv[i] = val_at(r, i);
        w->ops->bcast(w, recv, n, P - 1);
        for (int64_t i = 0; i < n; i++) ref[i] = val_at(P - 1, i);
        assert_memory_equal(recv, ref, sizeof(float) * (size_t)n);
        /* ring exchange: send to the next rank, receive from the previous */
        for (int64_t i = 0; i < n; i++) send[i] = val_at(r, i);
        CommReq q = {0};
        w->ops->sendrecv_start(w, recv, send, n, (r + 1) % P, (r + P - 1) % P, 7, &q);
        w->ops->wait(w, &q);
        for (int64_t i = 0; i < n; i++) ref[i] = val_at((r + P - 1) % P, i);
        assert_memory_equal(recv, ref, sizeof(float) * (size_t)n);
        /* non-blocking all-reduce, two in flight */
        for (int64_t i = 0; i < n; i++) recv[i] = val_at(r, i), send[i] = val_at(r, i + 5);
        CommReq q1 = {0}, q2 = {0};
        w->ops->allreduce_start(w, recv, n, &q1);
        w->ops->allreduce_start(w, send, n, &q2);
        while (!w->ops->test(w, &q2)) {
        }
        w->ops->wait(w, &q1);
        for (int64_t i = 0; i < n; i++) {
            double s1 = 0, s2 = 0;
            for (int qq = 0; qq < P; qq++) s1 += val_at(qq, i), s2 += val_at(qq, i + 5);
            if (fabs(recv[i] - s1) > 1e-5 * (fabs(s1) + 1) || fabs(send[i] - s2) > 1e-5 * (fabs(s2) + 1))
                fail_msg("non-blocking all-reduce n=%lld [%lld]", (long long)n, (long long)i);
        }
        free(send), free(recv), free(ref);
    }
    w->ops->barrier(w);
}

/* Synthetic weather with about 20% of the cells missing, at random (so every sample has its
 * own mask sum). The mask belongs to the test: ds->valid is reset before dataset_free. */
static uint8_t *mask_some_cells(Dataset *ds) {
    size_t n = (size_t)ds->T * ds->V * ds->H * ds->W;
    uint8_t *valid = malloc(n);
    Rng rg;
    rng_seed(&rg, 1234);
    for (size_t i = 0; i < n; i++) valid[i] = rng_uniform(&rg) < 0.2 ? 0 : 1;
    ds->valid = valid;
    return valid;
}

/* The synthetic weather the volume tests train on: V variables, 48 times on 8x12, statistics of
 * the first 40 */
static void synth(Dataset *ds, int V) {
    dataset_synthetic(ds, V, 48, 8, 12, 5);
    dataset_compute_stats(ds, 0, 40);
}

static VitConfig small_config(void) {
    VitConfig c = {.V = 3, .Vo = 3, .H = 8, .W = 12, .p = 2, .D = 16, .depth = 2, .NH = 4, .dec_depth = 1,
                   .mlp_ratio = 4, .mode = CH_AGG};
    vit_config_set_default_names(&c);
    return c;
}

typedef struct Layout {
    int dp, sp, sp_mode, zero, tp, fsdp; /* fsdp: ZeRO-3 in groups of this many dp ranks (0: zero as given) */
    int chag, chag_group;                /* D-CHAG blocks (on 8 channels) and their first-level groups */
    int pp, mb;                          /* pipeline stages and micro-batches */
    int recompute;                       /* activation recomputation */
} Layout;

static void matches_single(ChannelMode mode, Layout ly) {
    Parallel lp;
    parallel_init(&lp, ly.dp, ly.sp, ly.tp, ly.pp, "test_parallel");
    lp.sp_mode = ly.sp_mode;
    lp.zero = ly.zero;
    if (ly.sp_mode == SP_USP) parallel_split_sp(&lp, 2);
    if (ly.fsdp) lp.zero = 3, parallel_split_fsdp(&lp, ly.fsdp);
    lp.microbatches = ly.mb;
    const int zero = ly.zero;
    Dataset ds;
    dataset_synthetic(&ds, ly.chag ? 8 : 3, 48, 8, 12, 5);
    uint8_t *valid = mask_some_cells(&ds);
    dataset_compute_stats(&ds, 0, 40);
    VitConfig c = small_config();
    c.mode = mode;
    if (ly.pp > 1) c.depth = ly.pp + 1; /* uneven stages: the first has two blocks */
    c.recompute = ly.recompute;
    if (ly.chag) {
        c.V = c.Vo = 8;
        c.chag = ly.chag;
        c.chag_group = ly.chag_group;
        vit_config_set_default_names(&c);
    }
    OptConfig oc = opt_default();
    oc.total = 20;
    oc.lr = 2e-3f;
    oc.grad_clip = 0; /* the first step's gradients are compared as they come out */
    float leads[2] = {6, 12};
    const int B = 8, steps = 20;
    Parallel single;
    parallel_init_single(&single);
    Trainer ref, dp;
    Task task_ref;
    task_forecast_init(&task_ref, &ds, leads, 2);
    trainer_init(&ref, &c, &oc, &task_ref, 0, 40, B, 11, kernels_cpu(), &single);
    Task task_dp;
    task_forecast_init(&task_dp, &ds, leads, 2);
    trainer_init(&dp, &c, &oc, &task_dp, 0, 40, B, 11, kernels_cpu(), &lp);
    assert_int_equal(dp.B * lp.dp.size, B);
    const int64_t np = ref.model.n_params;
    for (int s = 0; s < steps; s++) {
        StepStats a = trainer_step(&ref), b = trainer_step(&dp);
        if (s == 0) {
            if (fabs(a.loss - b.loss) > 1e-5 * fabs(a.loss)) fail_msg("step 1 loss %.9g vs single %.9g", b.loss, a.loss);
            /* with ZeRO-1 this rank holds the reduced gradients of its shard only; with ZeRO-3 the
             * replicated part in grad_mem and each block's shard in fsdp.gshard */
            double e;
            if (dp.fsdp.on) {
                /* the single process's gradients in this rank's layout (its tp shard) */
                float *rl = tu_falloc(dp.model.n_params);
                vit_from_canonical(&dp.model, ref.model.grad_mem, rl);
                e = tu_max_rel_err_ff(dp.model.grad_mem, rl, dp.model.n_alloc, NULL);
                const Fsdp *z = &dp.fsdp;
                const int nbl = vit_nblocks(&dp.model.cfg);
                float *want = tu_falloc(nbl * z->sb);
                for (int l = 0; l < nbl; l++)
                    for (int64_t i = 0; i < z->sb; i++) {
                        int64_t cpos = (int64_t)lp.fs.rank * z->sb + i;
                        for (int f = PF_n1_w; f <= PF_fc2_b; f++)
                            if (cpos >= z->bo[f] && cpos < z->bo[f] + z->per[f])
                                want[l * z->sb + i] = rl[dp.model.fields[f].offset + l * z->per[f] + cpos - z->bo[f]];
                    }
                double eb = tu_max_rel_err_ff(z->gshard, want, nbl * z->sb, NULL);
                if (eb > e) e = eb;
                free(want);
                free(rl);
            } else { /* this rank's layout (its tp shard, its pipeline stage) of the whole model's gradients */
                float *rl = tu_falloc(dp.model.n_params);
                vit_from_canonical(&dp.model, ref.model.grad_mem, rl);
                const float *g = dp.gshard ? dp.gshard : dp.model.grad_mem, *gr = rl + dp.opt.lo;
                int64_t nl = dp.model.n_params, ng = dp.gshard ? (dp.opt.hi < nl ? dp.opt.hi : nl) - dp.opt.lo : nl;
                e = ng > 0 ? tu_max_rel_err_ff(g, gr, ng, NULL) : 0;
                free(rl);
            }
            if (!(e <= 1e-5))
                fail_msg("step 1 gradients: max rel err %.3g (dp %d pp %d sp %d tp %d mode %d zero %d fsdp %d)", e, ly.dp,
                         ly.pp, ly.sp, ly.tp, ly.sp_mode, zero, ly.fsdp);
            if (fabs(a.grad_norm - b.grad_norm) > 1e-5 * a.grad_norm)
                fail_msg("step 1 gradient norm %.9g vs single %.9g", b.grad_norm, a.grad_norm);
            if (g_par.world.rank == 0)
                print_message("%s dp %d pp %d (mb %d) sp %d tp %d %s zero %d fsdp %d chag %d/%d%s: step 1 loss %.9g vs "
                              "%.9g, gradient max rel err %.2e\n", mode == CH_AGG ? "agg" : "multi", ly.dp, lp.pp.size,
                              dp.mb, ly.sp, ly.tp, sp_mode_name((SpMode)ly.sp_mode), zero, ly.fsdp, ly.chag, ly.chag_group,
                              ly.recompute ? " recompute" : "", b.loss, a.loss, e);
        }
        if (fabs(a.loss - b.loss) > 1e-4 * fabs(a.loss)) fail_msg("step %d loss %.9g vs single %.9g", s + 1, b.loss, a.loss);
    }
    float *full = tu_falloc(np);
    trainer_full_params(&dp, full);
    double e = tu_max_rel_err_ff(full, ref.model.param_mem, np, NULL);
    free(full);
    if (!(e <= 1e-4)) fail_msg("parameters after %d steps: max rel err %.3g", steps, e);
    if (dp.model.tp) { /* the replicated tensors: the same bits on every rank of the group */
        const Vit *m = &dp.model;
        Comm *tp = m->tp;
        float *all = tu_falloc(m->n_params * tp->size), *mine = tu_falloc(m->n_params);
        if (dp.fsdp.on) dp.sh->full_params(&dp, mine);
        else memcpy(mine, m->param_mem, sizeof(float) * (size_t)m->n_params);
        tp->ops->allgather(tp, all, mine, m->n_params);
        free(mine);
        int64_t checked = 0;
        for (int r = 1; r < tp->size; r++)
            for (int i = 0; i < m->nseg; i++) {
                const VitSeg *sg = &m->seg[i];
                if (sg->sharded) continue;
                if (memcmp(all + r * m->n_params + sg->local, all + sg->local, sizeof(float) * (size_t)sg->len))
                    fail_msg("replicated parameters at local [%lld, +%lld) differ between tp ranks 0 and %d after %d steps",
                             (long long)sg->local, (long long)sg->len, r, steps);
                checked += sg->len;
            }
        if (g_par.world.rank == 0)
            print_message("tp %d: %lld replicated parameters bitwise identical on every tp rank after %d steps\n",
                          tp->size, (long long)(checked / (tp->size - 1)), steps);
        free(all);
    }
    /* validation over another split: the same number whatever the batching and the ranks */
    Sampler va, vb;
    char err[256];
    assert_int_equal(sampler_init(&va, &ds, 40, 48, leads, 2, 11, 0, err, sizeof err), 0);
    assert_int_equal(sampler_init(&vb, &ds, 40, 48, leads, 2, 11, 0, err, sizeof err), 0);
    double la = trainer_eval_loss(&ref, &va, 1000), lb = trainer_eval_loss(&dp, &vb, 1000);
    if (fabs(la - lb) > 1e-5 * la) fail_msg("validation loss %.9g vs single %.9g", lb, la);
    sampler_free(&va), sampler_free(&vb);
    trainer_free(&ref);
    task_free(&task_ref);
    trainer_free(&dp);
    task_free(&task_dp);
    vit_config_free(&c);
    ds.valid = NULL;
    free(valid);
    dataset_free(&ds);
    parallel_free(&lp);
}

static int g_hybrid_only; /* argv[1] = "hybrid": only the hybrid-sharded layouts (the np 8 run) */

/* FSDP in groups (hybrid sharding) and Hybrid-STOP: at np 4 tp 2 x fsdp 2 and dp 4 in fsdp groups
 * of 2; at np 8 the 2 x 2 x 2 layout, tp 2 x fsdp 2 x 2 replicas */
static void hybrid_layouts(ChannelMode mode) {
    const int P = g_par.world.size;
    if (P == 4) {
        matches_single(mode, (Layout){.dp = 2, .sp = 1, .zero = 3, .tp = 2, .fsdp = 2});
        matches_single(mode, (Layout){.dp = 4, .sp = 1, .zero = 3, .tp = 1, .fsdp = 2});
    }
    if (P == 8) {
        matches_single(mode, (Layout){.dp = 2, .sp = 1, .tp = 2, .pp = 2, .mb = 2}); /* dp x pp x tp */
        matches_single(mode, (Layout){.dp = 4, .sp = 1, .zero = 3, .tp = 2, .fsdp = 2});
        if (mode == CH_AGG) matches_single(mode, (Layout){.dp = 4, .sp = 1, .zero = 3, .tp = 2, .fsdp = 2, .chag = 2, .chag_group = 2}); /* with D-CHAG over the tp pair */
    }
}

/* Pipelines (depth pp + 1: uneven stages), 1F1B: np 2 pp 2 over 2 and 4 micro-batches; np 4 pp 4
 * over 8, pp 2 x dp 2 with ZeRO-1 and with ZeRO-3, pp 2 x tp 2, pp 2 x sp 2 (ring) */
static void pipeline_layouts(ChannelMode mode) {
    const int P = g_par.world.size;
    if (P == 2) {
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 1, .pp = 2, .mb = 2});
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 1, .pp = 2, .mb = 4});
    }
    if (P == 4) {
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 1, .pp = 4, .mb = 8});
        matches_single(mode, (Layout){.dp = 2, .sp = 1, .tp = 1, .pp = 2, .mb = 2, .zero = 1});
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 2, .pp = 2, .mb = 4});
        matches_single(mode, (Layout){.dp = 1, .sp = 2, .sp_mode = SP_RING, .tp = 1, .pp = 2, .mb = 2});
        matches_single(mode, (Layout){.dp = 2, .sp = 1, .zero = 3, .tp = 1, .fsdp = 2, .pp = 2, .mb = 2});
    }
}

/* Activation recomputation under model and sequence parallelism (the recomputed forward repeats
 * its collectives): np 2 tp 2 and sp 2 (ulysses, ring); np 4 pp 2 x tp 2 */
static void recompute_layouts(ChannelMode mode) {
    const int P = g_par.world.size;
    if (P == 2) {
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 2, .recompute = 1});
        matches_single(mode, (Layout){.dp = 1, .sp = 2, .sp_mode = SP_ULYSSES, .tp = 1, .recompute = 1});
        matches_single(mode, (Layout){.dp = 1, .sp = 2, .sp_mode = SP_RING, .tp = 1, .recompute = 1});
    }
    if (P == 4) matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 2, .pp = 2, .mb = 2, .recompute = 1});
}

/* D-CHAG (agg mode, 8 channels): the blocks over the tp group, against the same model on one rank.
 * np 2: one block per rank in two levels, and two one-level blocks per rank; np 4: tp 4 with
 * blocks of groups, tp 2 x dp 2, and tp 2 x sp 2 (lss) */
static void chag_layouts(ChannelMode mode) {
    const int P = g_par.world.size;
    if (mode != CH_AGG) return;
    if (P == 2) {
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 2, .chag = 2, .chag_group = 2});
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 2, .chag = 4});
    }
    if (P == 4) {
        matches_single(mode, (Layout){.dp = 1, .sp = 1, .tp = 4, .chag = 4});
        matches_single(mode, (Layout){.dp = 2, .sp = 1, .tp = 2, .chag = 2, .chag_group = 2});
        matches_single(mode, (Layout){.dp = 1, .sp = 2, .sp_mode = SP_LSS, .tp = 2, .chag = 2, .chag_group = 2});
    }
}

/* every layout of this world size: dp only (replicated, ZeRO-1 and ZeRO-3), sp only in each mode,
 * dp x sp, tensor parallel alone and with dp or sp (each sp mode), and the hybrid ones */
static void every_layout(ChannelMode mode) {
    const int P = g_par.world.size;
    hybrid_layouts(mode);
    if (g_hybrid_only) return;
    chag_layouts(mode);
    pipeline_layouts(mode);
    recompute_layouts(mode);
    for (int tp = 1; tp <= P; tp *= 2)
        for (int sp = 1; sp * tp <= P; sp *= 2) {
            if (P % (sp * tp)) continue;
            const int dp = P / (sp * tp);
            for (int spm = 0; spm < (sp > 1 ? 4 : 1); spm++)
                for (int zero = 0; zero < (dp > 1 ? (tp == 1 ? 3 : 2) : 1); zero++) /* tp: ZeRO-1 (ZeRO-3: hybrid_layouts) */
                    matches_single(mode, (Layout){.dp = dp, .sp = sp, .sp_mode = spm, .zero = zero == 2 ? 3 : zero, .tp = tp});
        }
}

/* Bytes one training step sends over the sequence-parallel communicator, per rank, against the
 * bandwidth-optimal volumes of each scheme (elements per layer, forward + backward; rows = B * S_loc):
 *   ulysses 8 rows D (P-1)/P;  lss 4 rows D (P-1);  ring 2 rows D (P-1) forward + 2 rows D (2P-1) backward;
 *   usp with groups of u and R = P/u: ulysses over u plus ring over R of the group's tokens and
 *   heads (u rows, D/u): 8 rows D (u-1)/u + 2 rows D (R-1) + 2 rows D (2R-1) */
static void test_volumes(void **state) {
    (void)state;
    const int P = g_par.world.size;
    if (P == 1 || g_hybrid_only) return;
    Dataset ds;
    synth(&ds, 3);
    VitConfig c = small_config();
    OptConfig oc = opt_default();
    float lead = 6;
    const int B = 2;
    for (int mode = 0; mode < 4; mode++)
        for (int multi = 0; multi < 2; multi++) {
            Parallel lp;
            parallel_init(&lp, 1, P, 1, 1, "test_parallel");
            lp.sp_mode = mode;
            if (mode == SP_USP) parallel_split_sp(&lp, 2);
            c.mode = multi ? CH_MULTI : CH_AGG;
            Trainer t;
            Task task_t;
            task_forecast_init(&task_t, &ds, &lead, 1);
            trainer_init(&t, &c, &oc, &task_t, 0, 40, B, 3, kernels_cpu(), &lp);
            int64_t before = lp.sp.bytes_sent + lp.spu.bytes_sent + lp.spr.bytes_sent;
            trainer_step(&t);
            double rows = (double)B * vit_S(&t.model.lc), D = c.D, per_layer;
            if (mode == SP_ULYSSES) per_layer = 8 * rows * D * (P - 1) / P;
            else if (mode == SP_LSS) per_layer = 4 * rows * D * (P - 1);
            else if (mode == SP_RING) per_layer = 2 * rows * D * (P - 1) + 2 * rows * D * (2 * P - 1);
            else {
                const int u = 2, R = P / u;
                per_layer = 8 * rows * D * (u - 1) / u + 2 * rows * D * (R - 1) + 2 * rows * D * (2 * R - 1);
            }
            int64_t want = (int64_t)(c.depth * per_layer * sizeof(float) + 0.5), got = lp.sp.bytes_sent + lp.spu.bytes_sent + lp.spr.bytes_sent - before;
            if (g_par.world.rank == 0)
                print_message("%s %s sp %d: %lld bytes per rank per step (formula %lld)\n", sp_mode_name((SpMode)mode),
                              multi ? "multi" : "agg", P, (long long)got, (long long)want);
            assert_int_equal(got, want);
            trainer_free(&t);
            task_free(&task_t);
            parallel_free(&lp);
        }
    vit_config_free(&c);
    dataset_free(&ds);
}

/* Bytes one training step sends over the tensor-parallel communicator, per rank (Megatron-LM,
 * Shoeybi et al. 2019; docs/parallelism.md, "Tensor parallel"): all-reduces of rows D
 * (rows = B * S) after proj and fc2 forward and before the LayerNorms backward, 4 per block; agg
 * mode adds the aggregation's out-projection (B L D) forward and the token and query gradients
 * (B V L D + D) backward; plus the gradient norm's one double. An all-reduce of n sends
 * 2 (T-1)/T n. */
static void test_volumes_tp(void **state) {
    (void)state;
    const int P = g_par.world.size;
    if (P == 1 || g_hybrid_only) return;
    Dataset ds;
    synth(&ds, 3);
    VitConfig c = small_config();
    OptConfig oc = opt_default();
    float lead = 6;
    const int B = 2;
    Dataset ds8; /* D-CHAG: 8 channels in P blocks */
    synth(&ds8, 8);
    for (int multi = 0; multi < 3; multi++) {
        Parallel lp;
        parallel_init(&lp, 1, 1, P, 1, "test_parallel");
        const int chag = multi == 2;
        c.mode = multi == 1 ? CH_MULTI : CH_AGG;
        if (chag) {
            c.V = c.Vo = 8;
            c.chag = P;
            vit_config_set_default_names(&c);
        }
        Trainer t;
        Task task_t;
        task_forecast_init(&task_t, chag ? &ds8 : &ds, &lead, 1);
        trainer_init(&t, &c, &oc, &task_t, 0, 40, B, 3, kernels_cpu(), &lp);
        int64_t before = lp.tp.bytes_sent;
        trainer_step(&t);
        /* D-CHAG instead of the token gradients' all-reduce: an all-gather of the partial tokens
         * forward and a reduce-scatter of their gradients backward, (T-1) B L D each per block */
        const double rows = (double)B * vit_S(&c), D = c.D, L = (double)vit_L(&c), f = 2.0 * (P - 1) / P;
        double floats = c.depth * 4 * rows * D + (multi == 1 ? 0 : B * L * D + D + (chag ? 0 : B * c.V * L * D)),
               gather = chag ? 2.0 * (P - 1) * B * L * D : 0;
        int64_t want = (int64_t)(f * floats * sizeof(float) + gather * sizeof(float) + f * sizeof(double) + 0.5),
                got = lp.tp.bytes_sent - before;
        if (g_par.world.rank == 0)
            print_message("tp %d %s: %lld bytes per rank per step over the tensor-parallel group (formula %lld)\n", P,
                          chag ? "agg, D-CHAG" : multi ? "multi" : "agg", (long long)got, (long long)want);
        assert_int_equal(got, want);
        trainer_free(&t);
        task_free(&task_t);
        parallel_free(&lp);
    }
    vit_config_free(&c);
    dataset_free(&ds);
    dataset_free(&ds8);
}

/* Bytes one training step sends over the pipeline, per rank: each of the M micro-batches' output
 * (B/M x S x D) to the next stage and its input gradient to the previous one, plus the gradient
 * norm's one double over the stages (an all-reduce of n sends 2 (K-1)/K n). */
static void test_volumes_pp(void **state) {
    (void)state;
    const int P = g_par.world.size;
    if (P == 1 || g_hybrid_only) return;
    Dataset ds;
    synth(&ds, 3);
    VitConfig c = small_config();
    c.depth = P;
    OptConfig oc = opt_default();
    float lead = 6;
    const int B = 4, M = 4;
    for (int multi = 0; multi < 2; multi++) {
        Parallel lp;
        parallel_init(&lp, 1, 1, 1, P, "test_parallel");
        lp.microbatches = M;
        c.mode = multi ? CH_MULTI : CH_AGG;
        Trainer t;
        Task task_t;
        task_forecast_init(&task_t, &ds, &lead, 1);
        trainer_init(&t, &c, &oc, &task_t, 0, 40, B, 3, kernels_cpu(), &lp);
        int64_t before = lp.pp.bytes_sent;
        trainer_step(&t);
        const int q = lp.pp.rank, sends = (q < P - 1) + (q > 0);
        int64_t want = (int64_t)((double)sends * B * vit_S(&c) * c.D * sizeof(float) + 2.0 * (P - 1) / P * sizeof(double) + 0.5),
                got = lp.pp.bytes_sent - before;
        if (q == 0 || q == P - 1)
            print_message("pp %d %s, stage %d: %lld bytes per step to the neighbouring stages (formula %lld)\n", P,
                          multi ? "multi" : "agg", q, (long long)got, (long long)want);
        assert_int_equal(got, want);
        trainer_free(&t);
        task_free(&task_t);
        parallel_free(&lp);
    }
    vit_config_free(&c);
    dataset_free(&ds);
}

/* Hybrid-STOP at np 4 (tp 2 x fsdp 2), bytes per rank per step on each communicator:
 *   fsdp group (F ranks): per block an all-gather forward and one backward and a reduce-scatter of
 *     the gradients, each (F-1) sb, plus the gradient norm's 2 doubles;
 *   tp group: as test_volumes_tp;
 *   dp x sp (P ranks): the replicated parameters' gradients (n_alloc) and the mask sum (1 double). */
static void test_volumes_hybrid(void **state) {
    (void)state;
    const int P = g_par.world.size;
    if (P != 4 || g_hybrid_only) return;
    Dataset ds;
    synth(&ds, 3);
    VitConfig c = small_config();
    OptConfig oc = opt_default();
    float lead = 6;
    const int B = 2, T = 2, F = 2;
    Parallel lp;
    parallel_init(&lp, 2, 1, T, 1, "test_parallel");
    lp.zero = 3;
    parallel_split_fsdp(&lp, F);
    Trainer t;
    Task task_t;
    task_forecast_init(&task_t, &ds, &lead, 1);
    trainer_init(&t, &c, &oc, &task_t, 0, 40, B, 3, kernels_cpu(), &lp);
    int64_t b_fs = lp.fs.bytes_sent, b_tp = lp.tp.bytes_sent, b_dsp = lp.dsp.bytes_sent;
    trainer_step(&t);
    const double rows = (double)(B / 2) * vit_S(&c), D = c.D, L = (double)vit_L(&c);
    const double ft = 2.0 * (T - 1) / T, fd = 2.0 * (lp.dsp.size - 1) / lp.dsp.size;
    int64_t want_fs = (int64_t)(3.0 * c.depth * (F - 1) * t.fsdp.sb * 4 + 2.0 * (F - 1) / F * 2 * 8 + 0.5);
    int64_t want_tp = (int64_t)(ft * (c.depth * 4 * rows * D + (B / 2) * L * D + (B / 2) * c.V * L * D + D) * 4 + ft * 8 + 0.5);
    int64_t want_dsp = (int64_t)(fd * t.model.n_alloc * 4 + fd * 8 + 0.5);
    int64_t got_fs = lp.fs.bytes_sent - b_fs, got_tp = lp.tp.bytes_sent - b_tp, got_dsp = lp.dsp.bytes_sent - b_dsp;
    if (g_par.world.rank == 0)
        print_message("tp 2 x fsdp 2: bytes per rank per step: fsdp group %lld (formula %lld), tp %lld (%lld), dp %lld (%lld)\n",
                      (long long)got_fs, (long long)want_fs, (long long)got_tp, (long long)want_tp, (long long)got_dsp,
                      (long long)want_dsp);
    assert_int_equal(got_fs, want_fs);
    assert_int_equal(got_tp, want_tp);
    assert_int_equal(got_dsp, want_dsp);
    trainer_free(&t);
    task_free(&task_t);
    parallel_free(&lp);
    vit_config_free(&c);
    dataset_free(&ds);
}

static void test_layouts_agg(void **state) { (void)state, every_layout(CH_AGG); }
static void test_layouts_multi(void **state) { (void)state, every_layout(CH_MULTI); }

int main(int argc, char **argv) {
    g_hybrid_only = argc > 1 && strcmp(argv[1], "hybrid") == 0;
    parallel_init(&g_par, 0, 1, 1, 1, "test_parallel");
    log_set_quiet(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collectives),
        cmocka_unit_test(test_volumes),
        cmocka_unit_test(test_volumes_tp),
        cmocka_unit_test(test_volumes_hybrid),
        cmocka_unit_test(test_volumes_pp),
        cmocka_unit_test(test_layouts_agg),
        cmocka_unit_test(test_layouts_multi),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    /* a failure on one rank fails the job: the ranks agree on the result before finishing */
    double bad = rc != 0;
    g_par.world.ops->allreduce_sum_f64(&g_par.world, &bad, 1);
    parallel_finalize(&g_par);
    return bad > 0 ? 1 : 0;
}
