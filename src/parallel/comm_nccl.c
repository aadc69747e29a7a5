/* The NCCL backend of the communicator interface (one process per GPU, bootstrapped over MPI):
 * comm_nccl_wrap turns an MPI communicator of the mesh into one whose collectives on GPU
 * buffers run through NCCL on the communicator's own stream. The stream first waits (an event)
 * for the work queued on the default stream, where the kernels run, so a non-blocking
 * all-reduce started during the backward pass overlaps the kernels that follow; blocking
 * collectives then wait for their stream. Host buffers (the loss, norms, counts, the bench's
 * table) and barriers go through the MPI communicator kept inside. NCCL is loaded at run time
 * (dlopen), like cuBLASLt: lvit starts where it is absent. Only this file includes nccl.h. */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/comm_nccl.h"

/* ---- the NCCL entry points, loaded once ---- */
typedef struct NcclApi {
    __typeof__(&ncclGetUniqueId) GetUniqueId;
    __typeof__(&ncclCommInitRank) CommInitRank;
    __typeof__(&ncclCommDestroy) CommDestroy;
    __typeof__(&ncclCommAbort) CommAbort;
    __typeof__(&ncclAllReduce) AllReduce;
    __typeof__(&ncclAllGather) AllGather;
    __typeof__(&ncclReduceScatter) ReduceScatter;
    __typeof__(&ncclBroadcast) Broadcast;
    __typeof__(&ncclSend) Send;
    __typeof__(&ncclRecv) Recv;
    __typeof__(&ncclGroupStart) GroupStart;
    __typeof__(&ncclGroupEnd) GroupEnd;
    __typeof__(&ncclGetErrorString) GetErrorString;
} NcclApi;

static NcclApi g_nccl;
static int g_loaded; /* 1: loaded, -1: not found */
static char g_why[512];

int comm_nccl_available(char *err, size_t errlen) {
    if (!g_loaded) {
        void *h = dlopen("libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
        if (!h) h = dlopen("libnccl.so", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(g_why, sizeof g_why, "NCCL (libnccl.so.2) not found: %s; add its folder to LD_LIBRARY_PATH", dlerror());
            g_loaded = -1;
        } else {
            void **f = (void **)&g_nccl;
            static const char *names[] = {"ncclGetUniqueId", "ncclCommInitRank", "ncclCommDestroy", "ncclCommAbort",
                                          "ncclAllReduce", "ncclAllGather", "ncclReduceScatter", "ncclBroadcast",
                                          "ncclSend", "ncclRecv", "ncclGroupStart", "ncclGroupEnd",
                                          "ncclGetErrorString"};
            g_loaded = 1;
            for (size_t i = 0; i < sizeof names / sizeof *names && g_loaded == 1; i++)
                if (!(f[i] = dlsym(h, names[i]))) {
                    snprintf(g_why, sizeof g_why, "NCCL: the loaded library has no %s", names[i]);
                    g_loaded = -1;
                }
        }
    }
    if (g_loaded < 0 && err && errlen) snprintf(err, errlen, "%s", g_why);
    return g_loaded == 1;
}

#define NC(call)                                                                                                    \
    do {                                                                                                            \
        ncclResult_t r_ = (call);                                                                                   \
        if (r_ != ncclSuccess) DIE("NCCL: %s failed: %s", #call, g_nccl.GetErrorString(r_));                       \
    } while (0)
#define CUR(call)                                                                                                   \
    do {                                                                                                            \
        cudaError_t e_ = (call);                                                                                    \
        if (e_ != cudaSuccess) DIE("CUDA: %s failed: %s", #call, cudaGetErrorString(e_));                          \
    } while (0)

enum { NEVENTS = 256 }; /* events for non-blocking operations, reused round-robin */

typedef struct NcclImpl {
    ncclComm_t nc;
    Comm mpi;            /* the MPI communicator of the same ranks: host buffers, barrier, abort */
    cudaStream_t stream; /* NCCL's work */
    cudaEvent_t ready;   /* recorded on the default stream before each operation */
    cudaEvent_t ev[NEVENTS];
    int next_ev;
} NcclImpl;

static NcclImpl *impl(const Comm *c) { return (NcclImpl *)c->impl; }

static int on_device(const void *p) {
    struct cudaPointerAttributes a;
    if (!p || cudaPointerGetAttributes(&a, p) != cudaSuccess) {
        cudaGetLastError(); /* a host pointer unknown to CUDA: not an error to keep */
        return 0;
    }
    return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged;
}

/* the NCCL stream waits for the kernels queued so far */
static cudaStream_t begin(Comm *c) {
    NcclImpl *q = impl(c);
    CUR(cudaEventRecord(q->ready, 0));
    CUR(cudaStreamWaitEvent(q->stream, q->ready, 0));
    return q->stream;
}

static void finish(Comm *c) { CUR(cudaStreamSynchronize(impl(c)->stream)); }

static void count(Comm *c, double elems) { c->bytes_sent += (int64_t)(elems * sizeof(float)); }

/* a host buffer: the MPI communicator does it (and its bytes count here) */
#define ON_HOST(c, call)                                                                                            \
    do {                                                                                                            \
        NcclImpl *q_ = impl(c);                                                                                     \
        int64_t before_ = q_->mpi.bytes_sent;                                                                       \
        q_->mpi.ops->call;                                                                                          \
        (c)->bytes_sent += q_->mpi.bytes_sent - before_;                                                            \
    } while (0)

static void nccl_allreduce(Comm *c, float *buf, int64_t n) {
    NcclImpl *q = impl(c);
    if (!on_device(buf)) {
        ON_HOST(c, allreduce_sum(&q->mpi, buf, n));
        return;
    }
    NC(g_nccl.AllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, q->nc, begin(c)));
    finish(c);
    count(c, 2.0 * (c->size - 1) / c->size * n);
}

static void nccl_allreduce_f64(Comm *c, double *buf, int64_t n) { /* host doubles: over MPI */
    NcclImpl *q = impl(c);
    ON_HOST(c, allreduce_sum_f64(&q->mpi, buf, n));
}

static void nccl_allgather(Comm *c, float *recv, const float *send, int64_t n) {
    NcclImpl *q = impl(c);
    if (!on_device(recv)) {
        ON_HOST(c, allgather(&q->mpi, recv, send, n));
        return;
    }
    NC(g_nccl.AllGather(send, recv, (size_t)n, ncclFloat, q->nc, begin(c)));
    finish(c);
    count(c, (double)(c->size - 1) * n);
}

static void nccl_reduce_scatter(Comm *c, float *recv, const float *send, int64_t n) {
    NcclImpl *q = impl(c);
    if (!on_device(recv)) {
        ON_HOST(c, reduce_scatter(&q->mpi, recv, send, n));
        return;
    }
    NC(g_nccl.ReduceScatter(send, recv, (size_t)n, ncclFloat, ncclSum, q->nc, begin(c)));
    finish(c);
    count(c, (double)(c->size - 1) * n);
}

static void nccl_alltoall(Comm *c, float *recv, const float *send, int64_t n) {
    NcclImpl *q = impl(c);
    if (!on_device(recv)) {
        ON_HOST(c, alltoall(&q->mpi, recv, send, n));
        return;
    }
    cudaStream_t s = begin(c);
    NC(g_nccl.GroupStart());
    for (int j = 0; j < c->size; j++) {
        NC(g_nccl.Send(send + (size_t)j * n, (size_t)n, ncclFloat, j, q->nc, s));
        NC(g_nccl.Recv(recv + (size_t)j * n, (size_t)n, ncclFloat, j, q->nc, s));
    }
    NC(g_nccl.GroupEnd());
    finish(c);
    count(c, (double)(c->size - 1) * n);
}

static void nccl_bcast(Comm *c, float *buf, int64_t n, int root) {
    NcclImpl *q = impl(c);
    if (!on_device(buf)) {
        ON_HOST(c, bcast(&q->mpi, buf, n, root));
        return;
    }
    NC(g_nccl.Broadcast(buf, buf, (size_t)n, ncclFloat, root, q->nc, begin(c)));
    finish(c);
    if (c->rank == root) count(c, (double)n);
}

/* a non-blocking operation's completion: an event on the NCCL stream, in the request */
static void record(Comm *c, CommReq *r) {
    NcclImpl *q = impl(c);
    cudaEvent_t e = q->ev[q->next_ev++ % NEVENTS];
    CUR(cudaEventRecord(e, q->stream));
    memcpy(r->opaque, &e, sizeof e);
    r->active = 1;
}

static void nccl_sendrecv_start(Comm *c, float *recv, const float *send, int64_t n, int dst, int src, int tag,
                                CommReq *r) {
    (void)tag; /* NCCL matches a pair's sends and receives in the order they are posted */
    NcclImpl *q = impl(c);
    cudaStream_t s = begin(c);
    NC(g_nccl.GroupStart());
    if (dst >= 0) NC(g_nccl.Send(send, (size_t)n, ncclFloat, dst, q->nc, s));
    if (src >= 0) NC(g_nccl.Recv(recv, (size_t)n, ncclFloat, src, q->nc, s));
    NC(g_nccl.GroupEnd());
    record(c, r);
    if (dst >= 0) count(c, (double)n);
}

static void nccl_wait(Comm *c, CommReq *r) {
    (void)c;
    if (!r->active) return;
    cudaEvent_t e;
    memcpy(&e, r->opaque, sizeof e);
    CUR(cudaEventSynchronize(e));
    r->active = 0;
}

static void nccl_allreduce_start(Comm *c, float *buf, int64_t n, CommReq *r) {
    NcclImpl *q = impl(c);
    NC(g_nccl.AllReduce(buf, buf, (size_t)n, ncclFloat, ncclSum, q->nc, begin(c)));
    record(c, r);
    count(c, 2.0 * (c->size - 1) / c->size * n);
}

static int nccl_test(Comm *c, CommReq *r) {
    (void)c;
    if (!r->active) return 1;
    cudaEvent_t e;
    memcpy(&e, r->opaque, sizeof e);
    cudaError_t s = cudaEventQuery(e);
    if (s == cudaErrorNotReady) return 0;
    CUR(s);
    r->active = 0;
    return 1;
}

static void nccl_barrier(Comm *c) {
    NcclImpl *q = impl(c);
    finish(c);
    q->mpi.ops->barrier(&q->mpi);
}

static void nccl_abort(Comm *c, int code) {
    NcclImpl *q = impl(c);
    g_nccl.CommAbort(q->nc);
    q->mpi.ops->abort(&q->mpi, code);
}

static const CommOps nccl_ops = {
    .name = "nccl",
    .allreduce_sum = nccl_allreduce,
    .allreduce_sum_f64 = nccl_allreduce_f64,
    .allgather = nccl_allgather,
    .reduce_scatter = nccl_reduce_scatter,
    .alltoall = nccl_alltoall,
    .bcast = nccl_bcast,
    .sendrecv_start = nccl_sendrecv_start,
    .wait = nccl_wait,
    .allreduce_start = nccl_allreduce_start,
    .test = nccl_test,
    .barrier = nccl_barrier,
    .abort = nccl_abort,
};

void comm_nccl_wrap(Comm *c) {
    char err[512];
    if (!comm_nccl_available(err, sizeof err)) DIE("%s", err);
    if (c->ops == &nccl_ops) return;
    NcclImpl *q = xcalloc(1, sizeof *q);
    q->mpi = *c; /* the MPI communicator, kept for host buffers */
    /* rank 0 makes the id, everybody gets it over MPI (32 floats carry its 128 bytes) */
    ncclUniqueId id;
    float idf[(sizeof id + sizeof(float) - 1) / sizeof(float)];
    if (c->rank == 0) {
        NC(g_nccl.GetUniqueId(&id));
        memcpy(idf, &id, sizeof id);
    }
    q->mpi.ops->bcast(&q->mpi, idf, (int64_t)(sizeof idf / sizeof *idf), 0);
    memcpy(&id, idf, sizeof id);
    NC(g_nccl.CommInitRank(&q->nc, c->size, id, c->rank));
    CUR(cudaStreamCreateWithFlags(&q->stream, cudaStreamNonBlocking));
    CUR(cudaEventCreateWithFlags(&q->ready, cudaEventDisableTiming));
    for (int i = 0; i < NEVENTS; i++) CUR(cudaEventCreateWithFlags(&q->ev[i], cudaEventDisableTiming));
    int64_t sent = c->bytes_sent;
    memset(c, 0, sizeof *c);
    c->ops = &nccl_ops;
    c->rank = q->mpi.rank;
    c->size = q->mpi.size;
    c->bytes_sent = sent;
    c->impl = q;
}

void comm_nccl_unwrap(Comm *c) {
    if (c->ops != &nccl_ops) return;
    NcclImpl *q = impl(c);
    cudaStreamSynchronize(q->stream);
    g_nccl.CommDestroy(q->nc);
    cudaStreamDestroy(q->stream);
    cudaEventDestroy(q->ready);
    for (int i = 0; i < NEVENTS; i++) cudaEventDestroy(q->ev[i]);
    int64_t sent = c->bytes_sent;
    *c = q->mpi;
    c->bytes_sent = sent;
    free(q);
}
