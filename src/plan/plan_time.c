/* How long a step takes under a layout (plan/plan.h): the model's FLOPs (vit_flops_per_sample)
 * over the rank's peak, and every message lvit's communicator sends, volume as it counts it
 * (src/parallel/comm_mpi.c: all-reduce 2(P-1)/P n, all-gather and reduce-scatter (P-1) n per
 * block, all-to-all (P-1)/P of the message), time by latency + volume / bandwidth of the slowest
 * link the group crosses. What overlaps: the replicated gradient all-reduce with the backward
 * pass (not with --no-overlap), ring attention's passes with the chunk's attention, the
 * pipeline's sends with the next micro-batch; the rest waits. */
#include <string.h>
#include "model/vit.h"
#include "parallel/seq_attn.h"
#include "plan/plan.h"

/* Bandwidth per rank and latency of a group of n ranks spaced `stride` apart in the world
 * (tp fastest, then sp, pp, dp: parallel/comm.h): inside a node, or across nodes. A ring over a
 * group that spans nodes leaves each node once per group; the node holds min(stride,
 * ranks_per_node) groups, all sending at once, which share its network links. */
static void link(const PlanMachine *mc, int stride, int n, double *bw, double *lat) {
    if ((double)stride * n <= mc->ranks_per_node) {
        *bw = mc->intra_bw;
        *lat = mc->intra_lat;
    } else {
        const int sharing = stride < mc->ranks_per_node ? stride : mc->ranks_per_node;
        *bw = mc->inter_bw / sharing;
        if (*bw > mc->intra_bw) *bw = mc->intra_bw;
        *lat = mc->inter_lat;
    }
}

static double ar(int P) { return P > 1 ? 2.0 * (P - 1) / P : 0; }

void plan_time(const PlanInput *in, const PlanLayout *l, PlanTime *t) {
    memset(t, 0, sizeof *t);
    VitConfig c = in->cfg;
    if (l->chag) c.chag = l->chag;
    if (c.tile_h > 0) c.H = c.tile_h, c.W = c.tile_w;
    const PlanMachine *mc = &in->mach;
    const int dp = l->dp, P = l->sp, T = l->tp, K = l->pp, M = l->microbatches > 0 ? l->microbatches : 1;
    /* the busiest rank's share of the sequence: 1/P, or more when P does not divide the patch rows
     * (train pads the last ranks' rows, vit.c: each rank holds ceil(rows/P) of them) */
    const int prows = c.H / c.p;
    const double share = (double)((prows + P - 1) / P) / prows;
    const double Bd = (double)in->batch / dp, S = (double)vit_S(&c), D = c.D, Sl = S * share, Dt = D / T;
    const double L = (double)vit_L(&c) * share, f4 = 4;
    /* FLOPs: the blocks split over tp, sp and the stages; the rest (tokens, aggregation, head)
     * on a whole stage, replicated over tp */
    VitConfig c0 = c;
    c0.depth = 0;
    const double f_all = vit_flops_per_sample(&c), f_rest = vit_flops_per_sample(&c0);
    const double f_block = c.depth ? (f_all - f_rest) / c.depth : 0;
    const int nb = (c.depth + K - 1) / K; /* the biggest stage */
    /* agg mode: the channel aggregation's projections and attention (its terms in
     * vit_flops_per_sample) are split by heads over tp, D-CHAG's blocks by channels */
    const double Lw = (double)vit_L(&c), Vw = c.V;
    const double f_agg = c.mode == CH_AGG ? 2.0 * Vw * Lw * 2 * D * D + 4.0 * Lw * Vw * D + 2.0 * Lw * D * D : 0;
    const double fwd_rank = Bd * share * (nb * f_block / T + f_rest - f_agg + f_agg / T);
    const double rate = mc->peak_flops * mc->efficiency;
    t->flops = 3.0 * in->batch * f_all;
    t->compute = (3.0 + (l->recompute ? 1.0 : 0.0) * nb * f_block / T / (nb * f_block / T + f_rest - f_agg + f_agg / T)) *
                 fwd_rank / rate;
    t->bubble = K > 1 ? t->compute * (K - 1) / M : 0;
    const double t_bwd_blocks = 2.0 * Bd * share * nb * f_block / T / rate;
    double bw, lat;
    /* sequence parallel: per layer, the counts of tests/test_parallel.c (local heads: Dt) */
    if (P > 1) {
        const double rows = Bd * Sl, r = l->recompute ? 1 : 0;
        double per = 0, fwd = 0, msgs = 0;
        if (l->sp_mode == SP_ULYSSES) per = 8 * rows * Dt * (P - 1) / P, fwd = per / 2, msgs = 4;
        else if (l->sp_mode == SP_LSS) per = 4 * rows * Dt * (P - 1), fwd = per / 2, msgs = 2;
        else if (l->sp_mode == SP_RING) per = 2 * rows * Dt * (P - 1) + 2 * rows * Dt * (2 * P - 1), fwd = 2 * rows * Dt * (P - 1), msgs = 3 * P;
        else {
            const int u = l->sp_u, R = P / u;
            per = 8 * rows * Dt * (u - 1) / u + 2 * rows * Dt * (R - 1) + 2 * rows * Dt * (2 * R - 1);
            fwd = 4 * rows * Dt * (u - 1) / u + 2 * rows * Dt * (R - 1), msgs = 4 + 3 * R;
        }
        t->bytes[PC_SP] = f4 * nb * (per + r * fwd);
        link(mc, T, P, &bw, &lat);
        t->comm[PC_SP] = t->bytes[PC_SP] / bw + nb * msgs * (1 + r) * (P - 1) * lat * M;
    }
    /* tensor parallel: 4 all-reduces of B S D per block (Megatron), 2 more forward with
     * recomputation; agg mode: the aggregation's output and token gradients (D-CHAG: an
     * all-gather and a reduce-scatter of the partial tokens instead) */
    if (T > 1) {
        const double rows = Bd * Sl;
        double floats = nb * (4 + (l->recompute ? 2 : 0)) * rows * D, gather = 0;
        if (c.mode == CH_AGG) {
            floats += Bd * L * D + D + (vit_chag(&c) ? 0 : Bd * c.V * L * D);
            if (vit_chag(&c)) gather = 2.0 * (T - 1) * (vit_chag(&c) / T) * Bd * L * D;
        }
        t->bytes[PC_TP] = f4 * ar(T) * floats;
        t->bytes[PC_CHAG] = f4 * gather;
        link(mc, 1, T, &bw, &lat);
        t->comm[PC_TP] = t->bytes[PC_TP] / bw + nb * 4 * M * 2 * (T - 1) * lat;
        t->comm[PC_CHAG] = t->bytes[PC_CHAG] / bw + 2 * (T - 1) * lat;
    }
    /* pipeline: each micro-batch's output forward and its gradient back, B/dp S_loc D per step */
    if (K > 1) {
        t->bytes[PC_PP] = f4 * Bd * Sl * D; /* rank 0, the first stage: forward only */
        link(mc, T * P, 2, &bw, &lat);
        t->comm[PC_PP] = 2 * t->bytes[PC_PP] / bw + 2 * M * lat;
    }
    /* data parallel (rank 0: the first stage): the gradients of its parameters over dp x sp */
    int64_t np0, nb0;
    plan_stage_params(&in->cfg, l, 0, &np0, &nb0);
    const double np = (double)np0;
    const int G = dp * P, nb_0 = c.depth / K + (c.depth % K > 0);
    double dp_hidden = 0;
    if (l->zero == 3) { /* shard_fsdp.c: per block two all-gathers (forward, backward) and a reduce-scatter */
        const int F = l->fsdp > 0 ? l->fsdp : dp, R = dp / F;
        const double bl = nb_0 ? (np - nb0) / nb_0 : 0, sb = (double)(((int64_t)bl + F - 1) / F);
        t->bytes[PC_FSDP] = f4 * nb_0 * ((2.0 * M + 1) * (F - 1) * sb + ar(R) * sb + ar(P) * bl);
        link(mc, T * P * K, F, &bw, &lat);
        t->comm[PC_FSDP] = t->bytes[PC_FSDP] / bw + nb_0 * (2 * M + 1) * (F - 1) * lat;
        t->bytes[PC_DP] = f4 * ar(G) * (double)nb0; /* the replicated embeddings and head */
    } else if (l->zero == 1) { /* shard_zero1.c: sum over sp, reduce-scatter and all-gather over dp */
        const double shard = (double)((np0 + dp - 1) / dp);
        t->bytes[PC_ZERO] = f4 * (ar(P) * np + 2.0 * (dp - 1) * shard);
        link(mc, T * P * K, dp, &bw, &lat);
        t->comm[PC_ZERO] = t->bytes[PC_ZERO] / bw + 4.0 * (dp - 1) * lat;
    } else {
        t->bytes[PC_DP] = f4 * ar(G) * np;
        dp_hidden = l->no_overlap ? 0 : t_bwd_blocks;
    }
    if (G > 1) {
        if (dp > 1) link(mc, T * P * K, dp, &bw, &lat); /* the dp ranks are the furthest apart */
        else link(mc, T, P, &bw, &lat);
        t->comm[PC_DP] = t->bytes[PC_DP] / bw + (nb + 1) * 2 * (G - 1) * lat;
    }
    /* what waits */
    double ex = 0;
    ex += t->comm[PC_DP] > dp_hidden ? t->comm[PC_DP] - dp_hidden : 0;
    ex += t->comm[PC_ZERO] + t->comm[PC_FSDP] + t->comm[PC_TP] + t->comm[PC_CHAG];
    if (P > 1) {
        const double attn = 3.0 * Bd * nb * 4 * S * Sl * Dt / rate; /* the attention's share of the compute */
        ex += l->sp_mode == SP_RING ? (t->comm[PC_SP] > attn ? t->comm[PC_SP] - attn : 0) : t->comm[PC_SP];
    }
    ex += t->comm[PC_PP] / M; /* the first micro-batch's hand-over */
    t->exposed = ex;
    t->total = t->compute + t->bubble + ex;
    for (int i = 0; i < PC_COUNT; i++) t->bytes_total += t->bytes[i];
}
