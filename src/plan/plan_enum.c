/* Every layout of nodes x ranks_per_node processes, checked, sized and timed (plan/plan.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/seq_attn.h"
#include "plan/plan.h"

typedef struct List {
    PlanEntry *e;
    int n, cap;
} List;

static void add(const PlanInput *in, List *li, PlanLayout l) {
    if (li->n == li->cap) {
        li->cap = li->cap ? 2 * li->cap : 256;
        li->e = realloc(li->e, (size_t)li->cap * sizeof *li->e);
        CHECK(li->e, "out of memory listing %d layouts", li->cap);
    }
    PlanEntry *e = &li->e[li->n++];
    memset(e, 0, sizeof *e);
    const int N = in->nodes * in->mach.ranks_per_node;
    e->valid = !plan_check(&in->cfg, in->batch, N, &l, e->reason, sizeof e->reason);
    if (!in->fixed && e->valid && l.sp > 1 && l.sp_mode == SP_USP && l.sp_u == 1) { /* ring under another name */
        li->n--;
        return;
    }
    /* what sharding_for picks: one replica is replicated whatever --zero says */
    if (l.dp == 1) l.zero = 0, l.fsdp = 0;
    if (l.zero == 3 && l.fsdp <= 1 && l.dp > 1) l.fsdp = l.dp;
    e->lay = l;
    if (!e->valid) return;
    plan_memory(in, &l, &e->mem);
    plan_time(in, &l, &e->time);
    if (e->mem.total > in->mach.mem_bytes) {
        e->valid = 0;
        snprintf(e->reason, sizeof e->reason, "needs %.2f GiB per rank, the machine has %.2f GiB", e->mem.total / 1073741824.0,
                 in->mach.mem_bytes / 1073741824.0);
    }
}

static int cmp(const void *a, const void *b) {
    const PlanEntry *x = a, *y = b;
    if (x->valid != y->valid) return y->valid - x->valid;
    if (!x->valid) return 0;
    if (x->time.total != y->time.total) return x->time.total < y->time.total ? -1 : 1;
    return x->mem.total < y->mem.total ? -1 : x->mem.total > y->mem.total;
}

int plan_enumerate(const PlanInput *in, PlanEntry **out) {
    List li = {0};
    const int N = in->nodes * in->mach.ranks_per_node;
    if (in->fixed) {
        add(in, &li, in->only);
        *out = li.e;
        return li.n;
    }
    const int chag_try = in->try_chag && in->cfg.mode == CH_AGG && !vit_chag(&in->cfg);
    for (int T = 1; T <= N; T++) {
        if (N % T) continue;
        for (int P = 1; P <= N / T; P++) {
            if ((N / T) % P) continue;
            for (int K = 1; K <= N / (T * P); K++) {
                if ((N / (T * P)) % K) continue;
                const int dp = N / (T * P * K);
                for (int mode = 0; mode < (P > 1 ? 4 : 1); mode++)
                    for (int z = 0; z < (dp > 1 ? 3 + dp : 1); z++) {
                        /* z: 0 replicated, 1 ZeRO-1, 2 ZeRO-3 over dp, 3 + F: FSDP groups of F < dp */
                        int fs = z >= 3 ? z - 3 : 0;
                        if (z >= 3 && (fs < 2 || fs >= dp || dp % fs)) continue;
                        for (int rc = 0; rc < 2; rc++)
                            for (int ch = 0; ch < (chag_try && T > 1 ? 2 : 1); ch++) {
                                PlanLayout l = {.dp = dp, .sp = P, .tp = T, .pp = K, .sp_mode = mode, .recompute = rc,
                                                .zero = z == 1 ? 1 : z >= 2 ? 3 : 0, .fsdp = fs, .chag = ch ? T : 0,
                                                .microbatches = in->only.microbatches};
                                add(in, &li, l);
                            }
                    }
            }
        }
    }
    qsort(li.e, (size_t)li.n, sizeof *li.e, cmp);
    *out = li.e;
    return li.n;
}
