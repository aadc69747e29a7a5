/* Start-up shared by the jobs (train/setup.h). */
#include "train/setup.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <omp.h>
#include "core/check.h"
#include "attention/attention.h"
#include "core/cpu.h"
#include "core/log.h"
#include "kernels/cuda/ops_cuda.h"
#include "parallel/seq_attn.h"

extern void openblas_set_num_threads(int);

ModelOptions model_options_default(void) {
    ModelOptions mf = {.vars = 5, .patch = 2, .dim = 128, .depth = 4, .heads = 4, .dec_depth = 2, .channels = CH_AGG,
                     .grid = "32x64"};
    return mf;
}

void model_options_to_config(const ModelOptions *mf, int V, int H, int W, VitConfig *c, const char *cmd) {
    memset(c, 0, sizeof *c);
    c->V = c->Vo = V;
    /* the model grid is the data grid padded up to the patch: padded cells are masked */
    c->H = (H + mf->patch - 1) / mf->patch * mf->patch;
    c->W = (W + mf->patch - 1) / mf->patch * mf->patch;
    c->p = mf->patch;
    c->D = mf->dim;
    c->depth = mf->depth;
    c->NH = mf->heads;
    c->dec_depth = mf->dec_depth;
    c->mlp_ratio = 4;
    c->mode = (ChannelMode)mf->channels;
    c->residual = mf->residual;
    c->chag = mf->chag > 1 ? mf->chag : 0;
    c->chag_group = mf->chag_group;
    vit_config_set_default_names(c);
    char err[512];
    if (mf->band_groups && mf->channels != CH_AGG)
        DIE_USER("lvit %s: --band-groups and --channels multi are two ways to tokenize the bands; give one", cmd);
    if (mf->band_groups && vit_config_set_band_groups(c, mf->band_groups, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
    if (vit_config_check(c, err, sizeof err)) DIE_USER("lvit %s: %s", cmd, err);
}

void train_set_threads(int threads) {
    if (threads > 0) {
        omp_set_num_threads(threads);
        openblas_set_num_threads(threads);
    }
}

void train_print_banner(void) {
    log_info("lvit %s | BLAS: OpenBLAS %s (%s) | %d threads | attention: %s | OpenMP waiting: %s",
             LVIT_VERSION, cpu_blas_corename(), cpu_blas_choice(), omp_get_max_threads(),
             attn_isa_cpu(), cpu_omp_choice());
}

void layout_init(Parallel *par, const LayoutOptions *df, const char *cmd) {
    parallel_init(par, df->dp, df->sp, df->tp, df->pp, cmd);
    par->zero = df->zero;
    par->fsdp = df->fsdp;
    par->microbatches = df->microbatches;
    par->sp_mode = df->sp_mode;
    par->sp_u = df->sp_u;
    par->no_overlap = df->no_overlap;
    parallel_set_timeout(par, df->comm_timeout);
}

void layout_check(Parallel *par, const VitConfig *cfg, int batch, const char *cmd) {
    if (par->zero == 2)
        parallel_refuse(par, "lvit %s: --zero 2 is not a stage lvit has: use 1 (AdamW state sharded) or 3 (FSDP)", cmd);
    if (batch % par->dp.size)
        parallel_refuse(par, "lvit %s: --batch %d is the global batch and must be divisible by dp %d (e.g. --batch %d)",
                        cmd, batch, par->dp.size, (batch / par->dp.size + 1) * par->dp.size);
    const int T = par->tp.size, NH = cfg->NH / T; /* the heads of one tensor-parallel rank */
    if (T > 1) {
        if (cfg->NH % T)
            parallel_refuse(par, "lvit %s: --tp %d splits the %d heads over the tensor-parallel ranks, which does not "
                            "divide them; use a --tp that divides %d", cmd, T, cfg->NH, cfg->NH);
        if (vit_F(cfg) % T)
            parallel_refuse(par, "lvit %s: --tp %d does not divide the %d MLP channels (%d x --dim %d)", cmd, T,
                            vit_F(cfg), cfg->mlp_ratio, cfg->D);
        if (vit_chag(cfg) && vit_chag(cfg) % T)
            parallel_refuse(par, "lvit %s: --tp %d does not divide the %d D-CHAG blocks (--channel-parallel %d): each "
                            "tensor-parallel rank takes whole blocks", cmd, T, vit_chag(cfg), vit_chag(cfg));
    }
    const int K = par->pp.size;
    if (K > 1) {
        const int Bd = batch / par->dp.size; /* samples per step on one pipeline */
        if (cfg->depth < K)
            parallel_refuse(par, "lvit %s: --pp %d stages for %d blocks: every stage needs a block (use --pp %d or "
                            "less)", cmd, K, cfg->depth, cfg->depth);
        int M = par->microbatches;
        if (M == 0) /* default: 2 per stage, or the most the batch divides into */
            for (M = 2 * K < Bd ? 2 * K : Bd; M > 1 && Bd % M; M--) {}
        if (M < 1 || Bd % M)
            parallel_refuse(par, "lvit %s: --microbatches %d does not divide the %d samples per step of a pipeline "
                            "(--batch %d / dp %d)", cmd, M, Bd, batch, par->dp.size);
        par->microbatches = M;
    } else {
        par->microbatches = 1;
    }
    if (par->fsdp > 0) { /* FSDP in groups of F: ZeRO-3 inside each group, replicas across groups */
        if (par->zero == 1)
            parallel_refuse(par, "lvit %s: --fsdp shards parameters, gradients and AdamW state (ZeRO-3); drop --zero 1",
                            cmd);
        if (par->dp.size % par->fsdp)
            parallel_refuse(par, "lvit %s: --fsdp %d does not divide dp %d: the data-parallel ranks form groups of "
                            "--fsdp ranks (e.g. --fsdp %d)", cmd, par->fsdp, par->dp.size, par->dp.size);
        par->zero = par->fsdp > 1 ? 3 : 0;
    } else if (par->zero == 3) {
        par->fsdp = par->dp.size;
    }
    if (par->zero == 3) parallel_split_fsdp(par, par->fsdp);
    if (par->sp.size > 1) {
        int rows = cfg->H / cfg->p, P = par->sp.size;
        if (rows % P) { /* the last ranks hold padded rows (masked): per-token tasks only */
            const char *what = vit_mae(cfg) ? "--task mae (its visible tokens are drawn per patch row)"
                             : vit_classify(cfg) ? "a classification head (its mean is over every token)"
                             : vit_segment(cfg) ? "--task segment" : cfg->mode == CH_GROUPS ? "--band-groups" : NULL;
            if (what)
                parallel_refuse(par, "lvit %s: --sp %d does not divide the %d patch rows of the %dx%d grid (patch %d), "
                                "and %s does not run on padded rows; use an --sp that divides %d", cmd, P, rows,
                                cfg->H, cfg->W, cfg->p, what, rows);
            const int lrows = (rows + P - 1) / P;
            log_info("sequence parallel: %d patch rows in %d per rank; the last ranks hold %d padded rows (masked)", rows,
                     lrows, lrows * P - rows);
        }
        if (par->sp_mode == SP_ULYSSES && NH % P)
            parallel_refuse(par, "lvit %s: --sp-mode ulysses splits the %d heads%s over --sp %d ranks, which does not "
                            "divide them; use --sp-mode lss, ring or usp, or an --sp that divides %d", cmd, NH,
                            T > 1 ? " of a tensor-parallel rank" : "", P, NH);
        if (par->sp_mode == SP_USP) {
            int u = par->sp_u;
            if (u == 0)
                for (int c = P - 1; c >= 1 && !u; c--) u = (P % c == 0 && NH % c == 0) ? c : 0;
            if (P % u || NH % u)
                parallel_refuse(par, "lvit %s: --sp-ulysses %d must divide both --sp %d and the %d heads%s", cmd, u, P,
                                NH, T > 1 ? " of a tensor-parallel rank" : "");
            par->sp_u = u;
            parallel_split_sp(par, u);
            log_info("usp: ulysses inside groups of %d ranks, ring across %d groups", u, P / u);
        }
    }
}

const Kernels *layout_kernels(Parallel *par, const LayoutOptions *df, const char *cmd) {
    if (df->device == 0) return kernels_cpu();
    char err[256];
    const Kernels *k = kernels_cuda(err, sizeof err);
    if (!k) parallel_refuse(par, "lvit %s: --device cuda: %s", cmd, err);
    if (par->world.size > 1) { /* one process per GPU: the node-local rank picks the device */
        static const char *vars[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMI_LOCAL_RANK", NULL};
        int local = par->world.rank;
        for (int i = 0; vars[i]; i++)
            if (getenv(vars[i])) {
                local = atoi(getenv(vars[i]));
                break;
            }
        cuda_set_device(local);
        parallel_use_nccl(par, cmd);
    }
    char name[256];
    cuda_device_name(name, sizeof name);
    log_info("device: %s (CUDA kernels, fp32: the checking mode)", name);
    return k;
}

/* The handler only records: a signal that arrives while a checkpoint is being written lets the
 * write finish (the loop looks at the flag between steps). The one exception is what users expect
 * of Ctrl-C: a second SIGINT within 3 s ends the process at once. */
static volatile sig_atomic_t g_stop_signal = 0;
static volatile sig_atomic_t g_int_sec = -1, g_int_ms = 0; /* CLOCK_MONOTONIC of the last SIGINT */

static void on_stop_signal(int sig) {
    if (sig == SIGINT) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
        const long sec = (long)ts.tv_sec, ms = ts.tv_nsec / 1000000;
        if (g_int_sec >= 0 && (sec - g_int_sec) * 1000 + (ms - g_int_ms) < 3000) {
            static const char msg[] = "\nlvit: a second SIGINT within 3 s: aborting now, without a checkpoint or the "
                                      "outputs (the checkpoints already in the run directory are intact)\n";
            ssize_t w = write(2, msg, sizeof msg - 1);
            (void)w;
            struct sigaction dfl; /* die of SIGINT, as an interrupted program does (exit status 130) */
            memset(&dfl, 0, sizeof dfl);
            dfl.sa_handler = SIG_DFL;
            sigaction(SIGINT, &dfl, NULL);
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGINT);
            sigprocmask(SIG_UNBLOCK, &s, NULL);
            raise(SIGINT);
            _exit(130);
        }
        g_int_sec = (sig_atomic_t)sec;
        g_int_ms = (sig_atomic_t)ms;
    }
    g_stop_signal = sig;
}

void train_install_stop_signals(void) {
    struct sigaction sa, was;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    static const int sigs[4] = {SIGTERM, SIGUSR1, SIGINT, SIGHUP};
    for (int i = 0; i < 4; i++) sigaddset(&sa.sa_mask, sigs[i]);
    sa.sa_flags = SA_RESTART;
    for (int i = 0; i < 4; i++) {
        /* SIGINT and SIGHUP ignored at start stay ignored: nohup, and background jobs of scripts */
        if ((sigs[i] == SIGINT || sigs[i] == SIGHUP) && !sigaction(sigs[i], NULL, &was) && was.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int train_stop_requested(void) { return g_stop_signal; }
