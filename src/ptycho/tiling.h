/* The object's decomposition into cells and tiles, and the fixed summation order that makes a
 * tiled reconstruction bitwise identical to the single-process one (docs/ptychography.md,
 * "Tiles over MPI").
 *
 * - Cells: squares of side `cell` that cut the range of window corners (0 .. H - n, 0 .. W - n;
 *   the last row / column of cells takes the remainder). Position j belongs to the cell that holds
 *   its window's corner, i.e. its centre shifted by n/2. A cell owns the pixels from its first
 *   corner to the next cell's (the first cell from 0, the last to the object's edge); its extent,
 *   the box that every window of its positions lies in, runs from its first corner to its last
 *   corner + n.
 * - Summation order: a cell's sums (object gradient, illumination, probe gradient, object power,
 *   cost) run over its positions in ascending position index; an object pixel's total adds the
 *   cells' sums in ascending cell index, starting from zero; the probe's totals likewise. The cells
 *   depend on the object, the probe side and `cell` only, never on the tiles or the thread count,
 *   so every decomposition adds the same numbers in the same order.
 * - Tiles: an R x C grid of blocks of whole cells (tile t = tr * C + tc is rank t's). A tile owns
 *   the pixels of its cells and the positions of its cells; its extent (the pixels its windows
 *   read: the owned box grown like a cell's) minus the owned box is its halo. */
#ifndef LVIT_PTYCHO_TILING_H
#define LVIT_PTYCHO_TILING_H
#include <stddef.h>

typedef struct PtyRect {
    int y0, y1, x0, x1; /* rows [y0, y1), columns [x0, x1) */
} PtyRect;

static inline PtyRect pty_rect_and(PtyRect a, PtyRect b) {
    PtyRect r = {a.y0 > b.y0 ? a.y0 : b.y0, a.y1 < b.y1 ? a.y1 : b.y1, a.x0 > b.x0 ? a.x0 : b.x0,
                 a.x1 < b.x1 ? a.x1 : b.x1};
    return r;
}
static inline int pty_rect_empty(PtyRect r) { return r.y1 <= r.y0 || r.x1 <= r.x0; }
static inline size_t pty_rect_area(PtyRect r) { return pty_rect_empty(r) ? 0 : (size_t)(r.y1 - r.y0) * (r.x1 - r.x0); }

typedef struct PtyTiling {
    int H, W, n, cell;
    int cy, cx, ncell;      /* cells per column / row, all */
    int R, C;               /* tile grid */
    int *rcut, *ccut;       /* [R + 1], [C + 1]: tile row tr holds cell rows rcut[tr] .. rcut[tr + 1] - 1 */
    int N;                  /* positions */
    int *cell_of;           /* [N] the cell of position j */
    int *cell_count;        /* [ncell] positions per cell */
} PtyTiling;

/* The default cell side: the probe side n (a pixel then gets sums from at most 2 x 2 cells, and a
 * cell's sums cover about 4 cells' area). */
int pty_cell_default(int n);
/* A near-square grid of `ranks` tiles: R the largest divisor of ranks with R * R <= ranks. */
void pty_tiles_default(int ranks, int *R, int *C);
/* Cells and tiles for the positions pos [N, 2] (window min corners, already inside the object).
 * Returns 0, or -1 with err saying why the grid cannot be made (more tile rows or columns than
 * rows or columns of cells). */
int pty_tiling_init(PtyTiling *t, int H, int W, int n, int cell, int R, int C, const int *pos, int N, char *err,
                    size_t errlen);
void pty_tiling_free(PtyTiling *t);

int pty_cell_at(const PtyTiling *t, int row, int col); /* the cell of a window with this min corner */
PtyRect pty_cell_rect(const PtyTiling *t, int k);   /* the pixels cell k owns */
PtyRect pty_cell_ext(const PtyTiling *t, int k);    /* the box its positions' windows lie in */
int pty_tile_of_cell(const PtyTiling *t, int k);
PtyRect pty_tile_rect(const PtyTiling *t, int tile); /* the pixels tile owns */
PtyRect pty_tile_ext(const PtyTiling *t, int tile);  /* owned pixels and halo */
/* The cells of tile that hold positions, ascending, into cells (when not NULL); returns how many. */
int pty_tile_cells(const PtyTiling *t, int tile, int *cells);

/* Fixed-order sums of per-cell arrays across the ranks: out [len] = the sum over the cells with
 * positions, in ascending cell order from zero, of each cell's array, on every rank (the probe's
 * gradient and the cost in the engine, the mean pattern in the job). Each rank sends block r of
 * its cells' arrays to rank r (all-to-all), rank r adds its block over all cells in cell order and
 * the blocks are gathered: no rank holds more than its own cells' arrays twice over, and no
 * reduction of unspecified order is involved. Buffers are made once (init), not per sum. */
struct Comm;
typedef struct PtyCellSum {
    const PtyTiling *T;
    struct Comm *comm;
    size_t len, B;           /* elements per array, per rank's block */
    int elem;                /* bytes per element: 4 (float) or 8 (double) */
    int ncl, maxcl;          /* this rank's cells, the most any rank has */
    int *rank_of, *slot_of;  /* [ncell] */
    char *send, *recv;       /* [ranks, maxcl, B] elements (recv == send in one process) */
    char *all;               /* [ranks, B]: the summed blocks */
} PtyCellSum;

void pty_cellsum_init(PtyCellSum *s, const PtyTiling *T, struct Comm *comm, size_t len, int elem);
/* mine [ncl]: this rank's cells' arrays (its cells ascending, as pty_tile_cells lists them) */
void pty_cellsum(PtyCellSum *s, void *out, const void *const *mine);
void pty_cellsum_free(PtyCellSum *s);

#endif
