/* The communicator interface: the only way model, optimizer and trainer code talks to other
 * processes. Backends fill a table of functions (single process here; MPI and NCCL later),
 * exactly like the kernel table. Only backends include mpi.h or nccl.h. */
#ifndef LVIT_COMM_H
#define LVIT_COMM_H
#include <stddef.h>
#include <stdint.h>

typedef struct Comm Comm;

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
    void (*barrier)(Comm *c);
    void (*abort)(Comm *c, int code); /* does not return */
} CommOps;

struct Comm {
    const CommOps *ops;
    int rank, size;
    int64_t bytes_sent;   /* counted by the backend, for the volume checks of ALGORITHMS.md */
    void *impl;
};

/* A communicator of one process: every collective is a copy (or nothing). */
void comm_single_init(Comm *c);

/* The communicators each module needs (mesh axes). World size 1: all are single. */
typedef struct Parallel {
    Comm world, dp, sp;
} Parallel;

void parallel_init_single(Parallel *p);

#endif
