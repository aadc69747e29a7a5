/* The MPI backend: the only file besides comm_mpi_none.c that knows about MPI. */
#include <limits.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/check.h"
#include "parallel/comm_mpi.h"

/* Watchdog: a rank that dies is noticed by mpirun, which stops the job; a rank that hangs
 * (stopped, swapping, a dead node that the launcher does not see) would leave the others
 * waiting in a collective forever. Every blocking MPI call records when it started; a thread
 * checks four times a second and ends this process when one has waited longer than the limit, so
 * the launcher stops the job. Only the main thread calls MPI; the thread only reads the clock. */
static _Atomic int64_t wd_since_ms; /* 0: not inside a blocking call */
static _Atomic(const char *) wd_what;
static double wd_limit_s;
static int wd_rank;

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
static void wd_enter(const char *what) {
    atomic_store(&wd_what, what);
    atomic_store(&wd_since_ms, mono_ms());
}
static void wd_leave(void) { atomic_store(&wd_since_ms, 0); }
#define WD(what, call) do { wd_enter(what); call; wd_leave(); } while (0)

static void *watchdog(void *arg) {
    (void)arg;
    for (;;) {
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
        int64_t since = atomic_load(&wd_since_ms);
        if (since && wd_limit_s > 0 && (mono_ms() - since) / 1e3 > wd_limit_s) { /* 0: the limit was lifted */
            fprintf(stderr, "[rank %d] lvit: error: waited %.0f s in %s for the other ranks (--comm-timeout %g): one of "
                    "them died or hangs; stopping this rank so the launcher ends the job. Resume from the last "
                    "complete checkpoint with --resume\n", wd_rank, (mono_ms() - since) / 1e3, atomic_load(&wd_what),
                    wd_limit_s);
            fflush(stderr);
            _exit(LVIT_EXIT_FAIL);
        }
    }
    return NULL;
}

void comm_mpi_watchdog(double seconds) {
    static int started;
    wd_limit_s = seconds;
    if (started || seconds <= 0) return;
    MPI_Comm_rank(MPI_COMM_WORLD, &wd_rank);
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &a, watchdog, NULL) == 0) started = 1;
    pthread_attr_destroy(&a);
}

int parallel_have_mpi(void) { return 1; }

static MPI_Comm mc(const Comm *c) { return *(MPI_Comm *)c->impl; }

/* MPI counts are int: large buffers go in pieces (reductions and broadcasts are elementwise,
 * so pieces give the same result). */
enum { CHUNK = 1 << 28 };

/* bytes_sent counts the volume of the bandwidth-optimal algorithm for each collective (what
 * volumes tests/test_parallel.c checks), not what a particular MPI library happens to do:
 * all-reduce 2(P-1)/P N, all-gather and reduce-scatter (P-1) n of blocks of n, all-to-all
 * (P-1) n, broadcast N at the root. */
static void count(Comm *c, double elems, size_t elem_size) { c->bytes_sent += (int64_t)(elems * elem_size); }

static void mpi_allreduce(Comm *c, float *buf, int64_t n) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        WD("an all-reduce", MPI_Allreduce(MPI_IN_PLACE, buf + o, k, MPI_FLOAT, MPI_SUM, mc(c)));
    }
    count(c, 2.0 * (c->size - 1) / c->size * n, sizeof(float));
}

static void mpi_allreduce_f64(Comm *c, double *buf, int64_t n) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        WD("an all-reduce", MPI_Allreduce(MPI_IN_PLACE, buf + o, k, MPI_DOUBLE, MPI_SUM, mc(c)));
    }
    count(c, 2.0 * (c->size - 1) / c->size * n, sizeof(double));
}

static int block(int64_t n, const char *what) {
    CHECK(n <= INT_MAX, "%s of %lld floats per rank: more than MPI's int count allows", what, (long long)n);
    return (int)n;
}

static void mpi_allgather(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "all-gather");
    wd_enter("an all-gather");
    if (send == recv + (size_t)c->rank * n) MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, recv, k, MPI_FLOAT, mc(c));
    else MPI_Allgather(send, k, MPI_FLOAT, recv, k, MPI_FLOAT, mc(c));
    wd_leave();
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_reduce_scatter(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "reduce-scatter");
    WD("a reduce-scatter", MPI_Reduce_scatter_block(send, recv, k, MPI_FLOAT, MPI_SUM, mc(c)));
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_alltoall(Comm *c, float *recv, const float *send, int64_t n) {
    int k = block(n, "all-to-all");
    WD("an all-to-all", MPI_Alltoall(send, k, MPI_FLOAT, recv, k, MPI_FLOAT, mc(c)));
    count(c, (double)(c->size - 1) * n, sizeof(float));
}

static void mpi_bcast(Comm *c, float *buf, int64_t n, int root) {
    for (int64_t o = 0; o < n; o += CHUNK) {
        int k = (int)(n - o < CHUNK ? n - o : CHUNK);
        WD("a broadcast", MPI_Bcast(buf + o, k, MPI_FLOAT, root, mc(c)));
    }
    if (c->rank == root) count(c, (double)n, sizeof(float));
}

static void mpi_barrier(Comm *c) { WD("a barrier", MPI_Barrier(mc(c))); }

_Static_assert(2 * sizeof(MPI_Request) <= sizeof(((CommReq *)0)->opaque), "CommReq too small for two MPI_Requests");

static void mpi_sendrecv_start(Comm *c, float *recv, const float *send, int64_t n, int dst, int src, int tag,
                               CommReq *r) {
    int k = block(n, "send/receive");
    MPI_Request q[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    if (src >= 0) MPI_Irecv(recv, k, MPI_FLOAT, src, tag, mc(c), &q[0]);
    if (dst >= 0) MPI_Isend(send, k, MPI_FLOAT, dst, tag, mc(c), &q[1]);
    memcpy(r->opaque, q, sizeof q);
    r->active = 2;
    if (dst >= 0) count(c, (double)n, sizeof(float));
}

/* r->active holds how many MPI requests opaque has (1: a collective, 2: a send/receive pair) */
static void mpi_wait(Comm *c, CommReq *r) {
    (void)c;
    if (!r->active) return;
    MPI_Request q[2];
    memcpy(q, r->opaque, sizeof q);
    WD("a wait for a transfer", MPI_Waitall(r->active, q, MPI_STATUSES_IGNORE));
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
    if (inited && !fin) WD("MPI_Finalize", MPI_Finalize());
}

void comm_mpi_abort_world(int code) { MPI_Abort(MPI_COMM_WORLD, code); }
