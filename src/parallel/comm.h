/* The communicator interface: the only way model, optimizer and trainer code talks to other
 * processes. Backends fill a table of functions (single process here; MPI and NCCL later),
 * exactly like the kernel table. Only backends include mpi.h or nccl.h. */
#ifndef LVIT_COMM_H
#define LVIT_COMM_H
#include <stddef.h>
#include <stdint.h>

typedef struct Comm Comm;

/* A pending point-to-point exchange (opaque: the backend's request handles). */
typedef struct CommReq {
    unsigned char opaque[32];
    int active;
} CommReq;

typedef struct CommOps {
    const char *name;
    void (*allreduce_sum)(Comm *c, float *buf, int64_t n);         /* in place */
    void (*allreduce_sum_f64)(Comm *c, double *buf, int64_t n);    /* in place */
    /* recv [size*n] <- every rank's send [n], in rank order */
    void (*allgather)(Comm *c, float *recv, const float *send, int64_t n);
    /* recv [n] <- sum over ranks of block `rank` of send [size*n] */
    void (*reduce_scatter)(Comm *c, float *recv, const float *send, int64_t n);
    /* block j of send [size*n] goes to rank j, block i of recv comes from rank i */
    void (*alltoall)(Comm *c, float *recv, const float *send, int64_t n);
    void (*bcast)(Comm *c, float *buf, int64_t n, int root);
    /* Non-blocking: send [n] to rank dst and receive [n] from rank src (tag tells concurrent
     * exchanges apart); both buffers stay untouched until wait. dst < 0: receive only; src < 0:
     * send only (recv may be NULL). */
    void (*sendrecv_start)(Comm *c, float *recv, const float *send, int64_t n, int dst, int src, int tag, CommReq *r);
    void (*wait)(Comm *c, CommReq *r);
    /* Non-blocking in-place sum; finish with wait. test lets it progress (1 when done). */
    void (*allreduce_start)(Comm *c, float *buf, int64_t n, CommReq *r);
    int (*test)(Comm *c, CommReq *r);
    void (*barrier)(Comm *c);
    void (*abort)(Comm *c, int code); /* does not return */
} CommOps;

struct Comm {
    const CommOps *ops;
    int rank, size;
    int64_t bytes_sent;   /* counted by the backend, for the volume checks of tests/test_parallel.c */
    void *impl;
};

/* A communicator of one process: every collective is a copy (or nothing). */
void comm_single_init(Comm *c);

/* The mesh: world = dp x pp x sp x tp, tp fastest, then sp, then pp (the ranks of one
 * tensor-parallel group are consecutive, then those of a sequence-parallel group, so both sit on
 * one node when ranks fill nodes in order; pipeline stages talk point to point, across nodes):
 * world rank = ((dp_rank * pp + pp_rank) * sp + sp_rank) * tp + tp_rank. World size 1: every
 * communicator is the single-process one, the same code path. */
typedef struct Parallel {
    Comm world, dp, sp;
    Comm pp;              /* pipeline: the stages of one model replica (same dp, sp and tp rank) */
    Comm mp;              /* model parallel: tp x pp, the ranks that together hold one whole model */
    Comm tp;              /* tensor parallel: the ranks that hold the other shards of the same layers */
    Comm dsp;             /* dp x sp: the ranks that hold the same shard (same tp and pp rank): gradients
                           * are summed here; with tp = pp = 1 the same ranks as world */
    int microbatches;     /* pipeline: micro-batches per step (1F1B schedule) */
    Comm spu, spr;        /* usp: ulysses groups inside sp and the ring across them (parallel_split_sp) */
    Comm fs, rep;         /* FSDP: groups of `fsdp` consecutive dp ranks that shard the blocks, and the
                           * replicas across those groups (parallel_split_fsdp) */
    int fsdp;             /* ranks per FSDP group (ZeRO-3 within dp; dp: plain ZeRO-3; 0: none) */
    int mpi;              /* 1 when the MPI backend is in use */
    int no_overlap;       /* reduce gradients after the backward pass, in one all-reduce */
    int sp_u;             /* usp: ranks per ulysses group (0 = choose) */
    int sp_mode;          /* SpMode of the sequence-parallel attention (parallel/seq_attn.h) */
    int zero;             /* data-parallel optimizer: 0 = gradient all-reduce, replicated AdamW;
                           * 1 = ZeRO-1 (reduce-scatter, AdamW on the own shard, all-gather) */
} Parallel;

void parallel_init_single(Parallel *p);

/* The number of processes the launcher (mpirun, srun, any PMI) started, from its environment
 * (1 when not launched by one). */
int parallel_launched_size(void);
/* This process's rank among them, from the same environment (0 when not launched by one): jobs
 * that run in one process (lvit predict) leave the work to rank 0 without starting MPI. */
int parallel_launched_rank(void);
/* Whether this binary has the MPI backend. */
int parallel_have_mpi(void);
/* Start-up for `lvit train` and `lvit bench`: single process when the launcher started one
 * process, else MPI, with the mesh split into dp x pp x sp x tp (dp <= 0: the processes left). A
 * layout that cannot work (dp * pp * sp * tp is not the world size, MPI missing) is refused here:
 * rank 0 prints the message and every rank exits 2, nobody hangs. Installs the abort hook so a
 * fatal error on any rank stops the job. */
void parallel_init(Parallel *p, int dp, int sp, int tp, int pp, const char *cmd);
/* Under MPI: a rank that waits more than `seconds` in a blocking call for the others (one of
 * them died or hangs) ends itself with a message, so the launcher stops the job (0: no limit). */
void parallel_set_timeout(Parallel *p, double seconds);
/* Waits for every rank and shuts the backend down (call before returning from the command). */
void parallel_finalize(Parallel *p);
/* Bytes this rank has sent over all the mesh's communicators. */
int64_t parallel_bytes_sent(const Parallel *p);
/* usp: split every sp group into ulysses groups of u consecutive ranks (spu) and rings of the
 * ranks at the same place in their group (spr). u must divide sp. */
void parallel_split_sp(Parallel *p, int u);
/* FSDP in groups: split every dp group into groups of f consecutive ranks (fs) and the replicas
 * at the same place in each group (rep). f must divide dp. */
void parallel_split_fsdp(Parallel *p, int f);
/* --device cuda under MPI: every communicator of the mesh becomes an NCCL one (GPU buffers
 * through NCCL, host buffers through MPI); refused with the reason when NCCL is missing. */
void parallel_use_nccl(Parallel *p, const char *cmd);
/* Releases the mesh's communicators but keeps the backend running (another parallel_init may
 * follow: tests build several layouts in one job). */
void parallel_free(Parallel *p);
/* Refuse a layout after parallel_init: rank 0 prints "lvit CMD: MESSAGE", every rank exits 2
 * (every rank must call it: the checks are deterministic and the same on every rank). */
_Noreturn void parallel_refuse(Parallel *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
