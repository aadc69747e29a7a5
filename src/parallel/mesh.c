/* Start-up and the mesh, independent of the backend. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "core/log.h"
#include "parallel/comm.h"
#include "parallel/comm_mpi.h"
#include "parallel/comm_nccl.h"

int parallel_launched_size(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS_WORLD",
                                 "SLURM_NTASKS", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        /* srun sets SLURM_NTASKS also in the batch shell; only count it inside a task */
        if (i == 4 && !getenv("SLURM_PROCID")) continue;
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 1;
}

int parallel_launched_rank(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) >= 0) return atoi(v);
    }
    if (parallel_launched_size() > 1 && getenv("SLURM_PROCID")) return atoi(getenv("SLURM_PROCID"));
    return 0;
}

void parallel_init_single(Parallel *p) {
    memset(p, 0, sizeof *p);
    comm_single_init(&p->world);
    comm_single_init(&p->dp);
    comm_single_init(&p->sp);
    comm_single_init(&p->tp);
    comm_single_init(&p->pp);
    comm_single_init(&p->mp);
    comm_single_init(&p->dsp);
    comm_single_init(&p->spu);
    comm_single_init(&p->spr);
    comm_single_init(&p->fs);
    comm_single_init(&p->rep);
    p->mpi = 0;
    p->zero = 0;
    p->sp_mode = 0;
}

void parallel_set_timeout(Parallel *p, double seconds) {
    if (p->mpi) comm_mpi_watchdog(seconds);
}

void parallel_init(Parallel *p, int dp, int sp, int tp, int pp, const char *cmd) {
    int n = parallel_launched_size();
    if (sp < 1) sp = 1;
    if (tp < 1) tp = 1;
    if (pp < 1) pp = 1;
    if (n == 1) {
        parallel_init_single(p);
        const int d = dp > 0 ? dp : 1, all = d * sp * tp * pp;
        if (all > 1)
            parallel_refuse(p, "lvit %s: --dp %d --pp %d --sp %d --tp %d needs %d processes, but this is one process; "
                            "launch with mpirun -np %d (or srun -n %d)", cmd, d, pp, sp, tp, all, all, all);
        return;
    }
    if (!parallel_have_mpi())
        DIE_USER("lvit %s: started as %d processes, but this lvit was built without MPI (install libopenmpi-dev "
                 "and rebuild)", cmd, n);
    memset(p, 0, sizeof *p);
    comm_mpi_init_world(&p->world);
    p->mpi = 1;
    p->zero = 0;
    p->sp_mode = 0;
    lvit_set_rank(p->world.rank);
    lvit_set_abort(comm_mpi_abort_world);
    int W = p->world.size;
    if (dp <= 0 && W % (sp * tp * pp) == 0) dp = W / (sp * tp * pp); /* default: the rest data parallel */
    if (dp <= 0 || dp * sp * tp * pp != W)
        parallel_refuse(p, "lvit %s: --dp %d --pp %d --sp %d --tp %d does not match %d processes: dp x pp x sp x tp "
                           "must equal the number of processes (e.g. --dp %d)", cmd, dp, pp, sp, tp, W, W);
    int r = p->world.rank, t = r % tp, s = r / tp % sp, q = r / (tp * sp) % pp, d = r / (tp * sp * pp);
    /* each split: the ranks that agree on every other coordinate, ordered by this one */
    comm_mpi_split(&p->world, &p->dp, (q * sp + s) * tp + t, d);
    comm_mpi_split(&p->world, &p->pp, (d * sp + s) * tp + t, q);
    comm_mpi_split(&p->world, &p->sp, (d * pp + q) * tp + t, s);
    comm_mpi_split(&p->world, &p->tp, (d * pp + q) * sp + s, t);
    comm_mpi_split(&p->world, &p->mp, d * sp + s, q * tp + t);  /* tp x pp: one whole model */
    comm_mpi_split(&p->world, &p->dsp, q * tp + t, d * sp + s); /* same tp and pp rank: the holders of one shard */
}

int64_t parallel_bytes_sent(const Parallel *p) {
    return p->world.bytes_sent + p->dp.bytes_sent + p->sp.bytes_sent + p->tp.bytes_sent + p->pp.bytes_sent +
           p->mp.bytes_sent + p->dsp.bytes_sent +
           p->spu.bytes_sent + p->spr.bytes_sent + p->fs.bytes_sent + p->rep.bytes_sent;
}

void parallel_split_sp(Parallel *p, int u) {
    CHECK(u >= 1 && p->sp.size % u == 0, "usp: groups of %d do not divide sp %d", u, p->sp.size);
    if (!p->mpi) {
        comm_single_init(&p->spu);
        comm_single_init(&p->spr);
        return;
    }
    int r = p->sp.rank;
    comm_mpi_split(&p->sp, &p->spu, r / u, r % u);
    comm_mpi_split(&p->sp, &p->spr, r % u, r / u);
}

void parallel_split_fsdp(Parallel *p, int f) {
    CHECK(f >= 1 && p->dp.size % f == 0, "fsdp: groups of %d do not divide dp %d", f, p->dp.size);
    p->fsdp = f;
    if (!p->mpi) {
        comm_single_init(&p->fs);
        comm_single_init(&p->rep);
        return;
    }
    int r = p->dp.rank;
    comm_mpi_split(&p->dp, &p->fs, r / f, r % f);
    comm_mpi_split(&p->dp, &p->rep, r % f, r / f);
}

/* the communicators of the mesh that exist (MPI ones; fs/rep and spu/spr only once split) */
static int mesh_comms(Parallel *p, Comm **out) {
    Comm *all[] = {&p->world, &p->dp, &p->sp, &p->tp, &p->pp, &p->mp, &p->dsp, &p->spu, &p->spr, &p->fs, &p->rep};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]->impl) out[n++] = all[i];
    return n;
}

void parallel_use_nccl(Parallel *p, const char *cmd) {
    char err[512];
    if (!p->mpi) return;
    if (!comm_nccl_available(err, sizeof err)) parallel_refuse(p, "lvit %s: --device cuda under MPI: %s", cmd, err);
    Comm *c[16];
    int n = mesh_comms(p, c);
    for (int i = 0; i < n; i++) comm_nccl_wrap(c[i]); /* the same order on every rank */
}

void parallel_free(Parallel *p) {
    if (!p->mpi) return;
    p->world.ops->barrier(&p->world);
    Comm *c[16];
    int n = mesh_comms(p, c);
    for (int i = n - 1; i >= 0; i--) comm_nccl_unwrap(c[i]);
    if (p->fs.impl) comm_mpi_free(&p->fs), comm_mpi_free(&p->rep);
    if (p->spu.impl) comm_mpi_free(&p->spu), comm_mpi_free(&p->spr);
    comm_mpi_free(&p->dsp);
    comm_mpi_free(&p->mp);
    comm_mpi_free(&p->pp);
    comm_mpi_free(&p->tp);
    comm_mpi_free(&p->sp);
    comm_mpi_free(&p->dp);
    comm_mpi_free(&p->world);
    p->mpi = 0;
}

void parallel_finalize(Parallel *p) {
    int mpi = p->mpi;
    parallel_free(p);
    if (mpi) comm_mpi_finalize();
}

void parallel_refuse(Parallel *p, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->world.rank == 0) {
        fflush(stdout);
        fprintf(stderr, "lvit: error: %s\n", msg);
        fflush(stderr);
    }
    if (p->mpi) comm_mpi_finalize();
    exit(LVIT_EXIT_USAGE);
}
