/* The MPI backend: the only file besides comm_mpi_none.c that knows about MPI. */
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/comm_mpi.h"

int parallel_have_mpi(void) { return 1; }

static MPI_Comm mc(const Comm *c) { return *(MPI_Comm *)c->impl; }

/* MPI counts are int: large buffers go in pieces (reductions and broadcasts are elementwise,
 * so pieces give the same result). */
enum { CHUNK = 1 << 28 };

/* bytes_sent counts the volume of the bandwidth-optimal algorithm for each collective (what
 * ALGORITHMS.md's formulas count), not what a particular MPI library happens to do:
 * all-reduce 2(P-1)/P N, all-gather and reduce-scatter (P-1) n of blocks of n, all-to-all
 * (P-1) n, broadcast N at the root. */
static void count(Comm *c, double elems, size_t elem_size) { c->bytes_sent += (int64_t)(elems * elem_size); }

static void mpi_allreduce(Comm *c, float *buf, int64_t n) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        MPI_Allreduce(MPI_IN_PLACE, buf + o, k, MPI_FLOAT, MPI_SUM, mc(c));
    }
    count(c, 2.0 * (c->size - 1) / c->size * n, sizeof(float));
}

static void mpi_allreduce_f64(Comm *c, double *buf, int64_t n) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        MPI_Allreduce(MPI_IN_PLACE, buf + o, k, MPI_DOUBLE, MPI_SUM, mc(c));
    }
    count(c, 2.0 * (c->size - 1) / c->size * n, sizeof(double));
}

static int block(int64_t n, const char *what) {
    CHECK(n <= INT_MAX, "%s of %lld floats per rank: more than MPI's int count allows", what, (long long)n);
    return (int)n;
}

static void mpi_allgather(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "all-gather");
    if (send == recv + (size_t)c->rank * n) MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, k, MPI_FLOAT, mc(c));
    else MPI_Allgather(send, k, MPI_FLOAT, recv, k, MPI_FLOAT, mc(c));
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_reduce_scatter(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "reduce-scatter");
    MPI_Reduce_scatter_block(send, recv, k, MPI_FLOAT, MPI_SUM, mc(c));
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_alltoall(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "all-to-all");
    MPI_Alltoall(send, k, MPI_FLOAT, recv, k, MPI_FLOAT, mc(c));
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_bcast(Comm *c, float *buf, int64_t n, int root) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        MPI_Bcast(buf + o, k, MPI_FLOAT, root, mc(c));
    }
    if (c->rank == root) count(c, (double)n, sizeof(float));
}

static void mpi_barrier(Comm *c) { MPI_Barrier(mc(c)); }

_Static_assert(2 * sizeof(MPI_Request) <= sizeof(((CommReq *)0)->opaque), "CommReq too small for two MPI_Requests");

static void mpi_sendrecv_start(Comm *c, float *recv, const float *send, int64_t n, int dst, int src, int tag,
                               CommReq *r) {
    int k = block(n, "send/receive");
    MPI_Request q[2];
    MPI_Irecv(recv, k, MPI_FLOAT, src, tag, mc(c), &q[0]);
    MPI_Isend(send, k, MPI_FLOAT, dst, tag, mc(c), &q[1]);
    memcpy(r->opaque, q, sizeof q);
    r->active = 2;
    count(c, (double)n, sizeof(float));
}

/* r->active holds how many MPI requests opaque has (1: a collective, 2: a send/receive pair) */
static void mpi_wait(Comm *c, CommReq *r) {
    (void)c;
    if (!r->active) return;
    MPI_Request q[2];
    memcpy(q, r->opaque, sizeof q);
    MPI_Waitall(r->active, q, MPI_STATUSES_IGNORE);
    r->active = 0;
}

static int mpi_test(Comm *c, CommReq *r) {
    (void)c;
    if (!r->active) return 1;
    MPI_Request q[2];
    memcpy(q, r->opaque, sizeof q);
    int done = 0;
    MPI_Testall(r->active, q, &done, MPI_STATUSES_IGNORE);
    memcpy(r->opaque, q, sizeof q); /* completed requests become MPI_REQUEST_NULL */
    if (done) r->active = 0;
    return done;
}

static void mpi_allreduce_start(Comm *c, float *buf, int64_t n, CommReq *r) {
    int k = block(n, "non-blocking all-reduce");
    MPI_Request q[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    MPI_Iallreduce(MPI_IN_PLACE, buf, k, MPI_FLOAT, MPI_SUM, mc(c), &q[0]);
    memcpy(r->opaque, q, sizeof q);
    r->active = 1;
    count(c, 2.0 * (c->size - 1) / c->size * n, sizeof(float));
}

static _Noreturn void mpi_abort(Comm *c, int code) {
    (void)c;
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

static const CommOps mpi_ops = {
    .name = "mpi",
    .allreduce_sum = mpi_allreduce,
    .allreduce_sum_f64 = mpi_allreduce_f64,
    .allgather = mpi_allgather,
    .reduce_scatter = mpi_reduce_scatter,
    .alltoall = mpi_alltoall,
    .bcast = mpi_bcast,
    .barrier = mpi_barrier,
    .sendrecv_start = mpi_sendrecv_start,
    .wait = mpi_wait,
    .allreduce_start = mpi_allreduce_start,
    .test = mpi_test,
    .abort = mpi_abort,
};

static void wrap(Comm *c, MPI_Comm m) {
    memset(c, 0, sizeof *c);
    c->ops = &mpi_ops;
    c->impl = xmalloc(sizeof(MPI_Comm));
    *(MPI_Comm *)c->impl = m;
    MPI_Comm_rank(m, &c->rank);
    MPI_Comm_size(m, &c->size);
}

void comm_mpi_init_world(Comm *world) {
    int inited = 0, provided;
    MPI_Initialized(&inited);
    /* only the main thread calls MPI (the prefetch thread reads files) */
    if (!inited) MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    wrap(world, MPI_COMM_WORLD);
}

void comm_mpi_split(const Comm *parent, Comm *out, int color, int key) {
    MPI_Comm m;
    MPI_Comm_split(mc(parent), color, key, &m);
    wrap(out, m);
}

void comm_mpi_free(Comm *c) {
    if (!c->impl) return;
    MPI_Comm m = mc(c);
    if (m != MPI_COMM_WORLD) MPI_Comm_free(&m);
    free(c->impl);
    c->impl = NULL;
}

void comm_mpi_finalize(void) {
    int fin = 0, inited = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&fin);
    if (inited && !fin) MPI_Finalize();
}

void comm_mpi_abort_world(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
