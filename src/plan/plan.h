/* lvit plan: which parallel layout to run a model on a machine, before spending an allocation.
 * For every layout of N = nodes x ranks_per_node processes (dp x sp x tp x pp, the ZeRO stage or
 * FSDP groups, the sequence-parallel mode, recomputation, D-CHAG) it predicts what one rank
 * holds and how long a step takes, from the same size functions the model and the trainer
 * allocate with (vit_params_layout, vit_acts_carve, seq_attn_plan: nothing of the model is
 * allocated), and says why a layout cannot run. Equations and validation: docs/scaling.md. */
#ifndef LVIT_PLAN_H
#define LVIT_PLAN_H
#include <stddef.h>
#include <stdint.h>
#include "model/config.h"

/* A machine: a node of ranks_per_node devices (or CPU processes). Bandwidths in bytes/s per
 * direction, latencies in seconds, peak in FLOP/s per rank, memory in bytes per rank. */
typedef struct PlanMachine {
    char name[64];
    int ranks_per_node;
    double mem_bytes;      /* per rank: one GPU's memory, or the node's RAM / ranks per node */
    double peak_flops;     /* per rank, at the precision the step runs in */
    double efficiency;     /* the fraction of the peak a training step's matrix products reach */
    double intra_bw, intra_lat; /* between two ranks of a node */
    double inter_bw, inter_lat; /* one node's network injection bandwidth (shared by its ranks) */
    double base_bytes;     /* per process without MPI: program, libraries, BLAS buffers */
    double base_mpi_bytes; /* per process under MPI with 2 ranks (MPI's own memory included) */
    double base_peer_bytes; /* per rank, for each further rank on the node (shared-memory transport) */
    int threads;           /* CPU threads per rank (attention workspace); 0: this process's */
    int device;            /* 0 cpu, 1 cuda: the --device of the printed command */
    int srun;              /* print srun command lines (else mpirun) */
} PlanMachine;

/* The presets ("cpu", "h100-node", "frontier-node"); cpu_peak_flops: this machine's measured
 * sgemm rate (the cpu preset), or 0 to measure it here. -1 (err filled) on an unknown name. */
int plan_machine_preset(const char *name, double cpu_peak_flops, PlanMachine *m, char *err, size_t errlen);
/* Reads a machine from a key=value file (docs/scaling.md lists the keys; '#' starts a comment)
 * over the values already in m (preset=cpu takes cpu_peak as plan_machine_preset does); -1 with
 * a message naming the file, line and key on bad input. */
int plan_machine_load(const char *path, double cpu_peak, PlanMachine *m, char *err, size_t errlen);

/* One layout: the flags of lvit train. */
typedef struct PlanLayout {
    int dp, sp, tp, pp;
    int zero;          /* 0, 1 or 3 (3 with fsdp == dp: plain ZeRO-3) */
    int fsdp;          /* FSDP group size (0: none) */
    int sp_mode;       /* SpMode */
    int sp_u;          /* usp: ulysses group size */
    int microbatches;  /* pipeline */
    int recompute;
    int no_overlap;    /* gradients reduced after the backward pass */
    int chag;          /* --channel-parallel of this layout (0: the model's own) */
} PlanLayout;

/* Bytes per rank (the largest over the ranks: a pipeline's first stage, usually). */
typedef struct PlanMem {
    double params, grads, opt;   /* parameters, gradients (ZeRO-1: and the reduced shard), AdamW */
    double gathered;             /* ZeRO-3: one gathered block and its gradients */
    double acts;                 /* activations and scratch of every activation set, of which: */
    double acts_embed;           /*   tokenization and channel aggregation */
    double attn_ws;              /*   attention and kernel workspace */
    double seq_buf;              /*   sequence-parallel attention's saved K,V / messages */
    double acts_other;           /* activations with the other recompute setting (for comparison) */
    double batch;                /* the step's batch: backend copy and three host buffers */
    double data;                 /* training data held in memory (the synthetic set of lvit bench) */
    double init_extra;           /* start-up: the host copy of the initial parameters (freed) */
    double comm;                 /* MPI's temporaries for the largest collective */
    double base;                 /* the process: program, libraries, BLAS and MPI buffers */
    double total;                /* the peak */
} PlanMem;

/* Seconds per step, and what each collective costs; exposed = what does not overlap. */
enum { PC_DP, PC_ZERO, PC_FSDP, PC_SP, PC_TP, PC_PP, PC_CHAG, PC_COUNT };
typedef struct PlanTime {
    double compute;              /* FLOPs / (peak x efficiency), the slowest stage, recompute included */
    double bubble;               /* pipeline: (K-1)/M of the compute */
    double comm[PC_COUNT];       /* each kind of message, alone */
    double exposed;              /* the part of the messages not hidden behind compute */
    double total;
    double bytes[PC_COUNT];      /* bytes sent per rank per step (as lvit's communicator counts) */
    double bytes_total;
    double flops;                /* model FLOPs per step (forward and backward, whole batch) */
} PlanTime;

typedef struct PlanEntry {
    PlanLayout lay;
    int valid;                   /* 0: cannot run, reason says why */
    char reason[320];
    PlanMem mem;
    PlanTime time;
} PlanEntry;

/* What is planned: the model (agg/multi, chag as given), the global batch, the machine, nodes. */
typedef struct PlanInput {
    VitConfig cfg;     /* whole model, tp = pp = 0 */
    int batch, nodes;
    PlanMachine mach;
    int data_times;    /* synthetic samples held in memory (lvit bench, lvit train --data synthetic) */
    int fixed;         /* 1: only the layout in `only` (validation), else every layout */
    PlanLayout only;
    int try_chag;      /* agg mode without --channel-parallel: also try D-CHAG with C = tp */
} PlanInput;

/* The model's parameters as the real model counts them (vit_params_layout). */
int64_t plan_param_count(const VitConfig *c);
/* Why layout l cannot run model c with global batch B on N ranks (the messages lvit train
 * prints), 0 when it can; fills the derived choices (micro-batches, usp groups, fsdp). */
int plan_check(const VitConfig *c, int B, int N, PlanLayout *l, char *why, size_t n);
/* Stage q's parameters on one rank (its tensor-parallel shard, D-CHAG blocks) and the offset of
 * its block fields (the replicated embeddings and head come first). */
void plan_stage_params(const VitConfig *c, const PlanLayout *l, int q, int64_t *n_params, int64_t *before_blocks);
/* Memory and time of one valid layout. */
void plan_memory(const PlanInput *in, const PlanLayout *l, PlanMem *m);
void plan_time(const PlanInput *in, const PlanLayout *l, PlanTime *t);
/* Every layout (or only in->only), the valid ones sorted by step time then memory, those over
 * the memory per rank marked invalid. Caller frees *out. */
int plan_enumerate(const PlanInput *in, PlanEntry **out);
/* "mpirun -np N lvit train ... --dp ..." for entry e (flags: the model flags as given). */
void plan_command(const PlanInput *in, const PlanLayout *l, const char *model_flags, char *buf, size_t n);
/* Text report (the best `best` layouts, then the invalid ones with their reasons) or JSON. */
void plan_print(const PlanInput *in, const PlanEntry *e, int n, int best, const char *model_flags, int json);

#endif
