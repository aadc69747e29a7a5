/* Tile sizes and the per-thread workspace layout shared by every instruction-set build of
 * the CPU flash attention (flash_impl.h) and by attn_workspace_floats_cpu (flash_cpu.c), so
 * one workspace fits whichever build the dispatcher picks. */
#ifndef LVIT_FLASH_LAYOUT_H
#define LVIT_FLASH_LAYOUT_H
#include <stdint.h>

#include "attention/attention.h"

#define FL_PAD 16 /* head size and query counts are padded to this (the widest vector) */
#define FQ 64     /* forward: queries per task (vector columns) */
#define FK 64     /* forward: keys per tile */
#define FG 16     /* forward: most query blocks per task (they share each packed key tile) */
#define BQ 64     /* backward: queries per tile */
#define BK 64     /* backward: keys per tile (vector columns) */
#define BG 8      /* backward: most key tiles per group (they share each packed query tile) */

/* Per thread (floats, every piece a multiple of 16):
 *   forward:  St [FK][FQ], alpha [FQ], Kp, Vp [FK][dp], and per query block of a task (fg of
 *             them) Qt, Ot [dp][FQ], m, l [FQ]
 *   backward: S, dS [BQ][BK], Qp, Gp [BQ][dp], per key tile of a group (bg of them) Kt, Vt,
 *             dKt, dVt [dp][BK], Ks [BK][dp]; lse2, delta [Sq16]
 * plus one dQ partial [Sq16][dp] per thread (the only term that grows with S: 4*Sq*dp bytes
 * per thread, 26 MB at Sq = 100k, d = 64), plus 16 floats to align the base to 64 bytes. */
typedef struct FlashWs {
    int64_t dp, sq16, per_thread, slot, fg, bg;
} FlashWs;

static inline int64_t flash_round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static inline FlashWs flash_ws(const AttnDims *dm) {
    FlashWs L;
    L.dp = flash_round_up(dm->d > 0 ? dm->d : 1, FL_PAD);
    L.sq16 = flash_round_up(dm->Sq > 0 ? dm->Sq : 1, FL_PAD);
    /* query blocks per forward task: their states (2 dp*FQ + 2 FQ each) within about
       half a MiB of the L2, and no more than there are */
    const int64_t nqt = (L.sq16 + FQ - 1) / FQ;
    L.fg = 136 * 1024 / (2 * L.dp * FQ + 2 * FQ);
    L.fg = L.fg < 1 ? 1 : L.fg > FG ? FG : L.fg;
    if (L.fg > nqt) L.fg = nqt;
    const int64_t fwd = (int64_t)FK * FQ + FQ + 2 * (int64_t)FK * L.dp
                      + L.fg * (2 * L.dp * FQ + 2 * FQ);
    /* key tiles per backward group: their states (5 dp*BK each) within about 3/4 MiB */
    L.bg = 192 * 1024 / (5 * L.dp * BK);
    L.bg = L.bg < 1 ? 1 : L.bg > BG ? BG : L.bg;
    const int64_t bwd = 2 * (int64_t)BQ * BK + 2 * (int64_t)BQ * L.dp
                      + L.bg * 5 * L.dp * BK + 2 * L.sq16;
    L.per_thread = fwd > bwd ? fwd : bwd;
    L.slot = L.sq16 * L.dp;
    return L;
}

#endif
