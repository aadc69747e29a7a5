/* Which layouts can run (plan/plan.h): the rules of layout_check (src/train/setup.c) and the
 * model's own (vit_config_check), as messages instead of exits. */
#include <stdio.h>
#include <stdlib.h>
#include "model/params.h"
#include "parallel/seq_attn.h"
#include "plan/plan.h"

int64_t plan_param_count(const VitConfig *c) {
    FieldSpec fields[PF_COUNT];
    ParamSpec *specs = NULL;
    VitSeg *seg = NULL;
    int nspecs = 0, nseg = 0;
    int64_t n_params = 0, n_canon = 0;
    VitConfig w = *c;
    w.tp = w.pp = w.pp_stage = 0;
    vit_params_layout(&w, 0, fields, &n_params, &specs, &nspecs, &n_canon, &seg, &nseg);
    free(specs);
    free(seg);
    return n_canon;
}

#define WHY(...) return snprintf(why, n, __VA_ARGS__), 1

int plan_check(const VitConfig *c, int B, int N, PlanLayout *l, char *why, size_t n) {
    const int T = l->tp, P = l->sp, K = l->pp, dp = l->dp;
    if (dp * P * T * K != N) WHY("dp %d x sp %d x tp %d x pp %d is not the %d ranks", dp, P, T, K, N);
    VitConfig w = *c;
    w.chag = l->chag ? l->chag : c->chag;
    char err[256];
    if (l->chag && vit_config_check(&w, err, sizeof err)) WHY("%s", err);
    if (B % dp) WHY("--batch %d is not divisible by dp %d", B, dp);
    if (T > 1) {
        if (c->NH % T) WHY("--tp %d does not divide the %d heads", T, c->NH);
        if (vit_F(c) % T) WHY("--tp %d does not divide the %d MLP channels", T, vit_F(c));
        if (vit_chag(&w) && vit_chag(&w) % T) WHY("--tp %d does not divide the %d D-CHAG blocks", T, vit_chag(&w));
    }
    const int NHt = c->NH / T;
    if (K > 1) {
        const int Bd = B / dp;
        if (c->depth < K) WHY("--pp %d stages for %d blocks", K, c->depth);
        int M = l->microbatches;
        if (M == 0)
            for (M = 2 * K < Bd ? 2 * K : Bd; M > 1 && Bd % M; M--) {}
        if (M < 1 || Bd % M) WHY("--microbatches %d does not divide the %d samples per pipeline", M, Bd);
        l->microbatches = M;
    } else {
        l->microbatches = 1;
    }
    if (l->fsdp > 0) {
        if (l->zero == 1) WHY("--fsdp with --zero 1");
        if (dp % l->fsdp) WHY("--fsdp %d does not divide dp %d", l->fsdp, dp);
        l->zero = l->fsdp > 1 ? 3 : 0;
        if (l->fsdp == 1) l->fsdp = 0;
    } else if (l->zero == 3) {
        l->fsdp = dp;
    }
    if (P > 1) {
        if (c->tile_h > 0) WHY("--sp %d with TILES: each window is already one rank's sequence", P);
        /* a P that does not divide the patch rows: train pads the last ranks' rows for per-token
         * tasks (vit.c), and the model sizes the busiest rank's share, so padded layouts rank by
         * the work they waste */
        const int rows = c->H / c->p;
        if (rows % P && (vit_mae(c) || vit_classify(c) || vit_segment(c) || vit_reslim(c) || c->mode == CH_GROUPS))
            WHY("--sp %d does not divide the %d patch rows, and only per-token tasks pad them", P, rows);
        if (l->sp_mode == SP_ULYSSES && NHt % P)
            WHY("ulysses: --sp %d does not divide the %d heads%s", P, NHt, T > 1 ? " of a tensor-parallel rank" : "");
        if (l->sp_mode == SP_USP) {
            int u = l->sp_u;
            if (u == 0)
                for (int k = P - 1; k >= 1 && !u; k--) u = (P % k == 0 && NHt % k == 0) ? k : 0;
            if (P % u || NHt % u) WHY("usp: --sp-ulysses %d does not divide both --sp %d and the %d heads", u, P, NHt);
            l->sp_u = u;
        }
    }
    return 0;
}
