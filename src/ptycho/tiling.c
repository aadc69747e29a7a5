/* Cells, tiles and who owns what (tiling.h). */
#include "ptycho/tiling.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"
#include "parallel/comm.h"

int pty_cell_default(int n) { return n; }

void pty_tiles_default(int ranks, int *R, int *C) {
    int r = 1;
    for (int d = 1; d * d <= ranks; d++)
        if (ranks % d == 0) r = d;
    *R = r, *C = ranks / r;
}

int pty_tiling_init(PtyTiling *t, int H, int W, int n, int cell, int R, int C, const int *pos, int N, char *err,
                    size_t errlen) {
    memset(t, 0, sizeof *t);
    if (cell < 1) {
        snprintf(err, errlen, "--cell %d: a cell is at least 1 pixel", cell);
        return -1;
    }
    t->H = H, t->W = W, t->n = n, t->cell = cell, t->R = R, t->C = C, t->N = N;
    /* cells cut the range of window corners 0 .. H - n; the last row and column take the remainder */
    t->cy = (H - n + 1) / cell > 0 ? (H - n + 1) / cell : 1;
    t->cx = (W - n + 1) / cell > 0 ? (W - n + 1) / cell : 1;
    t->ncell = t->cy * t->cx;
    if (R < 1 || C < 1 || R > t->cy || C > t->cx) {
        snprintf(err, errlen, "--tiles %dx%d: the %dx%d object has %dx%d cells of %d pixels (--cell: cells cut the %dx%d "
                 "range of window corners), and every tile needs at least one: use at most %dx%d tiles (or a smaller "
                 "--cell)", R, C, H, W, t->cy, t->cx, cell, H - n + 1, W - n + 1, t->cy, t->cx);
        return -1;
    }
    t->rcut = xmalloc(sizeof(int) * (R + 1));
    t->ccut = xmalloc(sizeof(int) * (C + 1));
    for (int i = 0; i <= R; i++) t->rcut[i] = (int)((long)i * t->cy / R);
    for (int i = 0; i <= C; i++) t->ccut[i] = (int)((long)i * t->cx / C);
    t->cell_of = xmalloc(sizeof(int) * (N > 0 ? N : 1));
    t->cell_count = xcalloc((size_t)t->ncell, sizeof(int));
    for (int j = 0; j < N; j++) {
        t->cell_of[j] = pty_cell_at(t, pos[2 * j], pos[2 * j + 1]);
        t->cell_count[t->cell_of[j]]++;
    }
    return 0;
}

void pty_tiling_free(PtyTiling *t) {
    free(t->rcut), free(t->ccut), free(t->cell_of), free(t->cell_count);
    memset(t, 0, sizeof *t);
}

int pty_cell_at(const PtyTiling *t, int row, int col) {
    int ry = row / t->cell, rx = col / t->cell;
    return (ry < t->cy ? ry : t->cy - 1) * t->cx + (rx < t->cx ? rx : t->cx - 1);
}

/* Along an axis of len pixels with cnt cells: cells a .. b - 1 hold the window corners
 * [a cell, b cell) (the last cell: to len - n); they own the pixels from their first corner (0 for
 * the first cell) to the next cells' first corner (len for the last), and their windows cover
 * [first corner, last corner + n). */
static void span(const PtyTiling *t, int a, int b, int cnt, int len, int ext, int *lo, int *hi) {
    int c0 = a * t->cell, c1 = b == cnt ? len - t->n + 1 : b * t->cell;
    if (ext) {
        *lo = c0, *hi = c1 - 1 + t->n;
    } else {
        *lo = a == 0 ? 0 : c0, *hi = b == cnt ? len : c1;
    }
}

static PtyRect box(const PtyTiling *t, int ry0, int ry1, int rx0, int rx1, int ext) {
    PtyRect r;
    span(t, ry0, ry1, t->cy, t->H, ext, &r.y0, &r.y1);
    span(t, rx0, rx1, t->cx, t->W, ext, &r.x0, &r.x1);
    return r;
}

PtyRect pty_cell_rect(const PtyTiling *t, int k) { return box(t, k / t->cx, k / t->cx + 1, k % t->cx, k % t->cx + 1, 0); }
PtyRect pty_cell_ext(const PtyTiling *t, int k) { return box(t, k / t->cx, k / t->cx + 1, k % t->cx, k % t->cx + 1, 1); }

int pty_tile_of_cell(const PtyTiling *t, int k) {
    int ry = k / t->cx, rx = k % t->cx, tr = 0, tc = 0;
    while (t->rcut[tr + 1] <= ry) tr++;
    while (t->ccut[tc + 1] <= rx) tc++;
    return tr * t->C + tc;
}

PtyRect pty_tile_rect(const PtyTiling *t, int tile) {
    int tr = tile / t->C, tc = tile % t->C;
    return box(t, t->rcut[tr], t->rcut[tr + 1], t->ccut[tc], t->ccut[tc + 1], 0);
}

PtyRect pty_tile_ext(const PtyTiling *t, int tile) {
    int tr = tile / t->C, tc = tile % t->C;
    return box(t, t->rcut[tr], t->rcut[tr + 1], t->ccut[tc], t->ccut[tc + 1], 1);
}

int pty_tile_cells(const PtyTiling *t, int tile, int *cells) {
    int m = 0;
    for (int k = 0; k < t->ncell; k++)
        if (t->cell_count[k] && pty_tile_of_cell(t, k) == tile) {
            if (cells) cells[m] = k;
            m++;
        }
    return m;
}

void pty_cellsum_init(PtyCellSum *s, const PtyTiling *T, Comm *comm, size_t len, int elem) {
    memset(s, 0, sizeof *s);
    const int ranks = comm->size;
    s->T = T, s->comm = comm, s->len = len, s->elem = elem;
    s->B = (len + ranks - 1) / ranks;
    s->rank_of = xmalloc(sizeof(int) * T->ncell), s->slot_of = xmalloc(sizeof(int) * T->ncell);
    int *cells = xmalloc(sizeof(int) * T->ncell);
    for (int b = 0; b < ranks; b++) {
        int m = pty_tile_cells(T, b, cells);
        s->maxcl = m > s->maxcl ? m : s->maxcl;
        if (b == comm->rank) s->ncl = m;
        for (int c = 0; c < m; c++) s->rank_of[cells[c]] = b, s->slot_of[cells[c]] = c;
    }
    free(cells);
    size_t bytes = (size_t)ranks * (s->maxcl ? s->maxcl : 1) * s->B * elem;
    s->send = xcalloc(bytes, 1);
    s->recv = ranks > 1 ? xcalloc(bytes, 1) : s->send;
    s->all = xcalloc((size_t)ranks * s->B, (size_t)elem);
}

void pty_cellsum_free(PtyCellSum *s) {
    if (s->recv != s->send) free(s->recv);
    free(s->send), free(s->all), free(s->rank_of), free(s->slot_of);
    memset(s, 0, sizeof *s);
}

void pty_cellsum(PtyCellSum *s, void *out, const void *const *mine) {
    Comm *cm = s->comm;
    const int ranks = cm->size, me = cm->rank, el = s->elem;
    const size_t B = s->B, cb = B * el, rb = cb * s->maxcl; /* bytes: a cell's block, a rank's blocks */
    for (int c = 0; c < s->ncl; c++)
        for (int r = 0; r < ranks; r++) {
            size_t a = (size_t)r * B, e = a + B < s->len ? a + B : s->len;
            if (e > a) memcpy(s->send + r * rb + c * cb, (const char *)mine[c] + a * el, (e - a) * el);
        }
    if (ranks > 1) cm->ops->alltoall(cm, (float *)s->recv, (const float *)s->send, (int64_t)(rb / sizeof(float)));
    char *part = s->all + (size_t)me * cb;
    memset(part, 0, cb);
    for (int k = 0; k < s->T->ncell; k++) {
        if (!s->T->cell_count[k]) continue;
        const char *src = s->recv + s->rank_of[k] * rb + s->slot_of[k] * cb;
        if (el == sizeof(double)) {
            double *p = (double *)part;
            const double *q = (const double *)src;
            for (size_t i = 0; i < B; i++) p[i] += q[i];
        } else {
            float *p = (float *)part;
            const float *q = (const float *)src;
            for (size_t i = 0; i < B; i++) p[i] += q[i];
        }
    }
    if (ranks > 1) cm->ops->allgather(cm, (float *)s->all, (const float *)part, (int64_t)(cb / sizeof(float)));
    memcpy(out, s->all, s->len * el);
}
