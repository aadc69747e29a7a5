/* Flags shared by the commands that build a model. */
#ifndef LVIT_CLI_COMMON_H
#define LVIT_CLI_COMMON_H
#include "cli/args.h"
#include "model/vit.h"
#include "train/setup.h"

#define MODEL_ARG_SPECS(mf)                                                                            \
    {"vars", ARG_INT, &(mf).vars, "variables (channels) of the synthetic data", NULL, 1, LVIT_MAX_VARS, 0}, \
    {"grid", ARG_STR, &(mf).grid, "grid HxW of the synthetic data", NULL, 0, 0, 0},                    \
    {"patch", ARG_INT, &(mf).patch, "patch size p", NULL, 1, 64, 0},                                   \
    {"dim", ARG_INT, &(mf).dim, "embedding width D", NULL, 4, 65536, 0},                               \
    {"depth", ARG_INT, &(mf).depth, "transformer blocks", NULL, 0, 1000, 0},                           \
    {"heads", ARG_INT, &(mf).heads, "attention heads", NULL, 1, 4096, 0},                              \
    {"decoder-depth", ARG_INT, &(mf).dec_depth, "hidden Linear+GELU layers of the head", NULL, 0, 100, 0}, \
    {"channels", ARG_CHOICE, &(mf).channels, "channel handling: agg (cross-attention over variables) or multi (all V*L tokens)", "agg|multi", 0, 0, 0}, \
    {"band-groups", ARG_STR, &(mf).band_groups, "SatMAE channel groups instead of --channels: N equal contiguous groups, or band ranges 0-29,30-79,... ; one token per group and location", NULL, 0, 0, 0}, \
    {"residual", ARG_FLAG, &(mf).residual, "predict the change from the input state (forecast = input + model output)", NULL, 0, 0, 0}, \
    {"channel-parallel", ARG_INT, &(mf).chag, "D-CHAG: aggregate the channels in C blocks (each its own cross-attention, then one over the C partial tokens); under --tp T the blocks are split over the tensor-parallel ranks, each tokenizing only its V/T channels (T must divide C; 0 = one cross-attention over all channels)", NULL, 0, LVIT_MAX_VARS, 0}, \
    {"chag-group", ARG_INT, &(mf).chag_group, "D-CHAG hierarchy: a block's channels first aggregate in groups of G (0 = one level)", NULL, 0, LVIT_MAX_VARS, 0}

/* The layout flags of train and bench (train/setup.h: LayoutOptions). */
#define DIST_ARG_SPECS(df) \
    {"recompute", ARG_FLAG, &(df).recompute, "keep only each block's input and recompute its activations before its backward pass (long sequences fit; about a third more compute)", NULL, 0, 0, 0}, \
    {"device", ARG_CHOICE, &(df).device, "where the model runs: cpu, or cuda (the GPU backend in its fp32 checking mode; one process for now)", "cpu|cuda", 0, 0, 0}, \
    {"dp", ARG_INT, &(df).dp, "data-parallel degree under mpirun/srun (0 = processes / (pp x sp x tp))", NULL, 0, 1 << 20, 0}, \
    {"sp", ARG_INT, &(df).sp, "sequence-parallel degree under mpirun/srun (ranks sharing each sample's tokens)", NULL, 1, 1 << 20, 0}, \
    {"tp", ARG_INT, &(df).tp, "tensor-parallel degree under mpirun/srun (Megatron: each rank holds heads/tp heads and 1/tp of the MLP of every block)", NULL, 1, 1 << 20, 0}, \
    {"pp", ARG_INT, &(df).pp, "pipeline-parallel stages under mpirun/srun (the blocks split into consecutive stages; embeddings with the first, head and loss with the last)", NULL, 1, 1 << 20, 0}, \
    {"microbatches", ARG_INT, &(df).microbatches, "pipeline: micro-batches per step, 1F1B schedule (0 = 2 x --pp, as the batch allows)", NULL, 0, 1 << 20, 0}, \
    {"sp-mode", ARG_CHOICE, &(df).sp_mode, "sequence-parallel attention: ulysses (all-to-all, needs heads % sp == 0), lss (all-gather K,V), ring (K,V passed around) or usp (ulysses in groups, ring across)", SP_MODE_CHOICES, 0, 0, 0}, \
    {"sp-ulysses", ARG_INT, &(df).sp_u, "usp: ranks per ulysses group, ring across the groups (0 = the largest divisor of sp and the heads below sp)", NULL, 0, 1 << 20, 0}, \
    {"no-overlap", ARG_FLAG, &(df).no_overlap, "reduce gradients after the backward pass instead of during it (for comparison)", NULL, 0, 0, 0}, \
    {"comm-timeout", ARG_FLOAT, &(df).comm_timeout, "under mpirun/srun: seconds a rank waits in a collective for the others (one died or hangs) before it stops the job (0 = no limit)", NULL, 0, 1e9, 0}, \
    {"fsdp", ARG_INT, &(df).fsdp, "FSDP (ZeRO-3) in groups of F data-parallel ranks, replicated across the groups (hybrid sharding; with --tp: ORBIT's Hybrid-STOP); F must divide dp (0 = off; --zero 3 = --fsdp dp)", NULL, 0, 1 << 20, 0}, \
    {"zero", ARG_INT, &(df).zero, "ZeRO stage over dp: 0 = replicated, 1 = AdamW state sharded, 3 = blocks' parameters, gradients and AdamW state sharded (FSDP)", NULL, 0, 3, 0}

int cmd_train(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_ptycho(int argc, char **argv);

#endif
