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
    t->cy = H / cell > 0 ? H / cell : 1; /* the last row and column of cells take the remainder */
    t->cx = W / cell > 0 ? W / cell : 1;
    t->ncell = t->cy * t->cx;
    if (R < 1 || C < 1 || R > t->cy || C > t->cx) {
        snprintf(err, errlen, "--tiles %dx%d: the %dx%d object has %dx%d cells of %d pixels (--cell), and every tile needs "
                 "at least one: use at most %dx%d tiles (or a smaller --cell)", R, C, H, W, t->cy, t->cx, cell, t->cy, t->cx);
        return -1;
    }
    t->rcut = xmalloc(sizeof(int) * (R + 1));
    t->ccut = xmalloc(sizeof(int) * (C + 1));
    for (int i = 0; i <= R; i++) t->rcut[i] = (int)((long)i * t->cy / R);
    for (int i = 0; i <= C; i++) t->ccut[i] = (int)((long)i * t->cx / C);
    t->cell_of = xmalloc(sizeof(int) * (N > 0 ? N : 1));
    t->cell_count = xcalloc((size_t)t->ncell, sizeof(int));
    for (int j = 0; j < N; j++) {
        int ry = (pos[2 * j] + n / 2) / cell, rx = (pos[2 * j + 1] + n / 2) / cell;
        ry = ry < t->cy ? ry : t->cy - 1, rx = rx < t->cx ? rx : t->cx - 1;
        t->cell_of[j] = ry * t->cx + rx;
        t->cell_count[t->cell_of[j]]++;
    }
    return 0;
}

void pty_tiling_free(PtyTiling *t) {
    free(t->rcut), free(t->ccut), free(t->cell_of), free(t->cell_count);
    memset(t, 0, sizeof *t);
}

/* pixels [k * cell, (k + 1) * cell) of an axis of `len` pixels in `cnt` cells, the last to the end */
static void span(int k, int cnt, int cell, int len, int *a, int *b) {
    *a = k * cell;
    *b = k == cnt - 1 ? len : (k + 1) * cell;
}

/* the owned box [a, b) grown by the windows whose centres lie in it, clipped to [0, len) */
static void grow(int a, int b, int n, int len, int *lo, int *hi) {
    *lo = a - n / 2 > 0 ? a - n / 2 : 0;
    *hi = b - n / 2 + n < len ? b - n / 2 + n : len;
}

PtyRect pty_cell_rect(const PtyTiling *t, int k) {
    PtyRect r;
    span(k / t->cx, t->cy, t->cell, t->H, &r.y0, &r.y1);
    span(k % t->cx, t->cx, t->cell, t->W, &r.x0, &r.x1);
    return r;
}

PtyRect pty_cell_ext(const PtyTiling *t, int k) {
    PtyRect c = pty_cell_rect(t, k), r;
    grow(c.y0, c.y1, t->n, t->H, &r.y0, &r.y1);
    grow(c.x0, c.x1, t->n, t->W, &r.x0, &r.x1);
    return r;
}

int pty_tile_of_cell(const PtyTiling *t, int k) {
    int ry = k / t->cx, rx = k % t->cx, tr = 0, tc = 0;
    while (t->rcut[tr + 1] <= ry) tr++;
    while (t->ccut[tc + 1] <= rx) tc++;
    return tr * t->C + tc;
}

PtyRect pty_tile_rect(const PtyTiling *t, int tile) {
    int tr = tile / t->C, tc = tile % t->C, e;
    PtyRect r;
    span(t->rcut[tr], t->cy, t->cell, t->H, &r.y0, &e);
    span(t->rcut[tr + 1] - 1, t->cy, t->cell, t->H, &e, &r.y1);
    span(t->ccut[tc], t->cx, t->cell, t->W, &r.x0, &e);
    span(t->ccut[tc + 1] - 1, t->cx, t->cell, t->W, &e, &r.x1);
    return r;
}

PtyRect pty_tile_ext(const PtyTiling *t, int tile) {
    PtyRect o = pty_tile_rect(t, tile), r;
    grow(o.y0, o.y1, t->n, t->H, &r.y0, &r.y1);
    grow(o.x0, o.x1, t->n, t->W, &r.x0, &r.x1);
    return r;
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
