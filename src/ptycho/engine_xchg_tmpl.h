/* The engine's traffic between tiles and its fixed-order sums (tiling.h): part of engine_tmpl.h,
 * included by it after the engine's types; no guard of its own.
 * - object sums: a cell's gradient and illumination over the pixels of another tile go to that
 *   tile (one message per neighbour, cells ascending); the owner adds every cell's sums in
 *   ascending cell order (fold_sums);
 * - probe sums and cost: the per-cell sums added in ascending cell order by pty_cellsum
 *   (tiling.h: all-to-all of blocks, sums, all-gather), so every rank gets the same bits;
 * - after the step every tile sends its new pixels that lie in a neighbour's halo (xchg_halo).
 * Messages carry REALs as floats (a double is two floats' worth of bytes; nothing adds them). */

enum { SFX(TAG_SUMS) = 221, SFX(TAG_HALO) = 222 };
#define FLOATS(reals) ((int64_t)(reals) * (int64_t)(sizeof(REAL) / sizeof(float)))

typedef struct SFX(Xg) {
    double *mx;              /* [ranks] per-rank maxima */
} SFX(Xg);

static int SFX(fold_cmp)(const void *a, const void *b) {
    const SFX(Fold) *x = a, *y = b;
    return (x->k > y->k) - (x->k < y->k);
}

static void SFX(xchg_init)(SFX(Eng) *e) {
    const PtyTiling *T = e->T;
    const int ranks = T->R * T->C, me = e->tile;
    const size_t nn = (size_t)e->n * e->n;
    CHECK(e->comm->size == ranks && e->comm->rank == me, "tile %d of %d on rank %d of %d", me, ranks, e->comm->rank,
          e->comm->size);
    int *cells = xmalloc(sizeof(int) * T->ncell);
    e->nb = xcalloc((size_t)ranks, sizeof(SFX(Nb)));
    int nfold = e->ncl;
    for (int b = 0; b < ranks; b++) {
        if (b == me) continue;
        SFX(Nb) *q = &e->nb[e->nnb];
        memset(q, 0, sizeof *q);
        PtyRect ob = pty_tile_rect(T, b), eb = pty_tile_ext(T, b);
        q->rank = b;
        q->gs_cell = xmalloc(sizeof(int) * (e->ncl + 1)), q->gs_rect = xmalloc(sizeof(PtyRect) * (e->ncl + 1));
        for (int c = 0; c < e->ncl; c++) {
            PtyRect r = pty_rect_and(e->cl[c].ext, ob);
            if (pty_rect_empty(r)) continue;
            e->cl[c].boundary = 1;
            q->gs_cell[q->ngs] = c, q->gs_rect[q->ngs++] = r;
            q->gs_len += 3 * pty_rect_area(r);
        }
        int m = pty_tile_cells(T, b, cells);
        q->gr_k = xmalloc(sizeof(int) * (m + 1)), q->gr_rect = xmalloc(sizeof(PtyRect) * (m + 1));
        for (int c = 0; c < m; c++) {
            PtyRect r = pty_rect_and(pty_cell_ext(T, cells[c]), e->own);
            if (pty_rect_empty(r)) continue;
            q->gr_k[q->ngr] = cells[c], q->gr_rect[q->ngr++] = r;
            q->gr_len += 3 * pty_rect_area(r);
        }
        q->os = pty_rect_and(e->own, eb), q->orr = pty_rect_and(ob, e->ext);
        if (!q->ngs && !q->ngr && pty_rect_empty(q->os) && pty_rect_empty(q->orr)) {
            free(q->gs_cell), free(q->gs_rect), free(q->gr_k), free(q->gr_rect);
            continue;
        }
        q->gs = SFX(eng_alloc)(sizeof(REAL) * q->gs_len), q->gr = SFX(eng_alloc)(sizeof(REAL) * q->gr_len);
        q->osb = SFX(eng_alloc)(sizeof(REAL) * 2 * pty_rect_area(q->os));
        q->orb = SFX(eng_alloc)(sizeof(REAL) * 2 * pty_rect_area(q->orr));
        nfold += q->ngr;
        e->nnb++;
    }
    /* what the owned pixels add, in cell order: own cells' sums and the received blocks */
    e->fold = xmalloc(sizeof(SFX(Fold)) * (nfold + 1));
    for (int c = 0; c < e->ncl; c++) {
        const SFX(Cell) *q = &e->cl[c];
        SFX(Fold) f = {q->k, pty_rect_and(q->ext, e->own), q->g, q->il, q->ext.x1 - q->ext.x0, q->ext.y0, q->ext.x0};
        if (!pty_rect_empty(f.r)) e->fold[e->nfold++] = f;
    }
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        size_t off = 0;
        for (int c = 0; c < q->ngr; c++) {
            PtyRect r = q->gr_rect[c];
            size_t a = pty_rect_area(r);
            SFX(Fold) f = {q->gr_k[c], r, (const CPLX *)(q->gr + off), q->gr + off + 2 * a, r.x1 - r.x0, r.y0, r.x0};
            e->fold[e->nfold++] = f;
            off += 3 * a;
        }
    }
    qsort(e->fold, (size_t)e->nfold, sizeof(SFX(Fold)), SFX(fold_cmp));
    /* the probe sums and the cost, summed over all cells in cell order */
    SFX(Xg) *x = xcalloc(1, sizeof(SFX(Xg)));
    x->mx = xmalloc(sizeof(double) * ranks);
    e->xg = x;
    pty_cellsum_init(&e->cs_probe, T, e->comm, 3 * nn, (int)sizeof(REAL));
    pty_cellsum_init(&e->cs_cost, T, e->comm, 1, (int)sizeof(double));
    CHECK(e->cs_probe.ncl == e->ncl, "tile %d: %d cells, the sums expect %d", me, e->ncl, e->cs_probe.ncl);
    e->mine_p = xmalloc(sizeof(void *) * (e->ncl + 1)), e->mine_c = xmalloc(sizeof(void *) * (e->ncl + 1));
    for (int c = 0; c < e->ncl; c++) e->mine_p[c] = e->cl[c].gp, e->mine_c[c] = &e->cl[c].cost;
    free(cells);
}

static void SFX(xchg_free)(SFX(Eng) *e) {
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        free(q->gs_cell), free(q->gs_rect), free(q->gr_k), free(q->gr_rect);
        FFTW(free)(q->gs), FFTW(free)(q->gr), FFTW(free)(q->osb), FFTW(free)(q->orb);
    }
    SFX(Xg) *x = e->xg;
    free(x->mx), free(x);
    free(e->nb), free(e->fold), free(e->mine_p), free(e->mine_c);
    pty_cellsum_free(&e->cs_probe), pty_cellsum_free(&e->cs_cost);
}

static void SFX(xchg_post_recv)(SFX(Eng) *e) {
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        if (q->ngr)
            e->comm->ops->sendrecv_start(e->comm, (float *)q->gr, NULL, FLOATS(q->gr_len), -1, q->rank, SFX(TAG_SUMS),
                                         &q->rq[0]);
    }
}

static void SFX(xchg_send_sums)(SFX(Eng) *e) {
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        if (!q->ngs) continue;
        REAL *p = q->gs;
        for (int c = 0; c < q->ngs; c++) {
            const SFX(Cell) *s = &e->cl[q->gs_cell[c]];
            PtyRect r = q->gs_rect[c];
            const int w = r.x1 - r.x0;
            CPLX *g = (CPLX *)p;
            REAL *il = p + 2 * pty_rect_area(r);
            for (int y = r.y0; y < r.y1; y++) {
                memcpy(g + (size_t)(y - r.y0) * w, s->g + SFX(rect_at)(s->ext, y, r.x0), sizeof(CPLX) * w);
                memcpy(il + (size_t)(y - r.y0) * w, s->il + SFX(rect_at)(s->ext, y, r.x0), sizeof(REAL) * w);
            }
            p += 3 * pty_rect_area(r);
        }
        e->comm->ops->sendrecv_start(e->comm, NULL, (const float *)q->gs, FLOATS(q->gs_len), q->rank, -1,
                                     SFX(TAG_SUMS), &q->rq[1]);
    }
}

/* lets the pending sum messages progress (MPI moves large messages only inside its calls) */
static void SFX(xchg_progress)(SFX(Eng) *e) {
    for (int i = 0; i < e->nnb; i++) {
        if (e->nb[i].ngr && e->nb[i].rq[0].active) e->comm->ops->test(e->comm, &e->nb[i].rq[0]);
        if (e->nb[i].ngs && e->nb[i].rq[1].active) e->comm->ops->test(e->comm, &e->nb[i].rq[1]);
    }
}

static void SFX(xchg_wait_sums)(SFX(Eng) *e) {
    for (int i = 0; i < e->nnb; i++) {
        if (e->nb[i].ngr) e->comm->ops->wait(e->comm, &e->nb[i].rq[0]);
        if (e->nb[i].ngs) e->comm->ops->wait(e->comm, &e->nb[i].rq[1]);
    }
}

/* gO and illum over the owned pixels: every pixel adds its cells' sums in ascending cell order
 * from zero (rows over the threads; a pixel's order does not depend on them). */
static void SFX(fold_sums)(SFX(Eng) *e) {
    const PtyRect o = e->own;
    const int ow = o.x1 - o.x0;
#pragma omp parallel for schedule(static) num_threads(e->nt)
    for (int y = o.y0; y < o.y1; y++) {
        CPLX *g = e->gO + (size_t)(y - o.y0) * ow;
        REAL *il = e->illum + (size_t)(y - o.y0) * ow;
        memset(g, 0, sizeof(CPLX) * ow), memset(il, 0, sizeof(REAL) * ow);
        for (int i = 0; i < e->nfold; i++) {
            const SFX(Fold) *f = &e->fold[i];
            if (y < f->r.y0 || y >= f->r.y1) continue;
            const size_t s = (size_t)(y - f->sy) * f->sw + (f->r.x0 - f->sx);
            CPLX *gd = g + (f->r.x0 - o.x0);
            REAL *ild = il + (f->r.x0 - o.x0);
            for (int x = 0; x < f->r.x1 - f->r.x0; x++) gd[x] += f->g[s + x], ild[x] += f->il[s + x];
        }
    }
}

/* gP, opow and the cost: every cell's sums in cell order */
static void SFX(probe_sums)(SFX(Eng) *e) {
    pty_cellsum(&e->cs_probe, e->gP, e->mine_p);
    pty_cellsum(&e->cs_cost, &e->cost, e->mine_c);
}

/* the largest of v [m] over every rank (a maximum: exact in any order) */
static REAL SFX(global_max)(SFX(Eng) *e, const REAL *v, size_t m) {
    REAL mx = 0;
    for (size_t i = 0; i < m; i++) mx = v[i] > mx ? v[i] : mx;
    if (e->comm->size == 1) return mx;
    SFX(Xg) *x = e->xg;
    x->mx[e->comm->rank] = (double)mx;
    e->comm->ops->allgather(e->comm, (float *)x->mx, (const float *)(x->mx + e->comm->rank), 2);
    for (int r = 0; r < e->comm->size; r++) mx = (REAL)x->mx[r] > mx ? (REAL)x->mx[r] : mx;
    return mx;
}

/* the new owned pixels into the neighbours' halos, theirs into ours */
static void SFX(xchg_halo)(SFX(Eng) *e) {
    Comm *cm = e->comm;
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        if (!pty_rect_empty(q->orr))
            cm->ops->sendrecv_start(cm, (float *)q->orb, NULL, FLOATS(2 * pty_rect_area(q->orr)), -1, q->rank,
                                    SFX(TAG_HALO), &q->rq[2]);
    }
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        if (pty_rect_empty(q->os)) continue;
        const PtyRect r = q->os;
        const int w = r.x1 - r.x0;
        for (int y = r.y0; y < r.y1; y++)
            memcpy((CPLX *)q->osb + (size_t)(y - r.y0) * w, e->O + SFX(rect_at)(e->ext, y, r.x0), sizeof(CPLX) * w);
        cm->ops->sendrecv_start(cm, NULL, (const float *)q->osb, FLOATS(2 * pty_rect_area(r)), q->rank, -1,
                                SFX(TAG_HALO), &q->rq[3]);
    }
    for (int i = 0; i < e->nnb; i++) {
        SFX(Nb) *q = &e->nb[i];
        if (!pty_rect_empty(q->orr)) {
            cm->ops->wait(cm, &q->rq[2]);
            const PtyRect r = q->orr;
            const int w = r.x1 - r.x0;
            for (int y = r.y0; y < r.y1; y++)
                memcpy(e->O + SFX(rect_at)(e->ext, y, r.x0), (CPLX *)q->orb + (size_t)(y - r.y0) * w, sizeof(CPLX) * w);
        }
        if (!pty_rect_empty(q->os)) cm->ops->wait(cm, &q->rq[3]);
    }
}
#undef FLOATS
