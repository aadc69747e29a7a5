/* TILES: the tile plan, tile extraction and stitching (data/tiles.h). */
#include "data/tiles.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/check.h"

/* n x n tiles of whole p-cell patches with halo 0 (the grid rules alone) */
static int n_fits(int H, int W, int n, int p) {
    return n >= 1 && H % n == 0 && W % n == 0 && (H / n) % p == 0 && (W / n) % p == 0;
}

/* the largest halo that fits in the grid for n (n_fits), a multiple of p */
static int halo_max(int H, int W, int n, int p) {
    const int a = (H - H / n) / 2, b = (W - W / n) / 4;
    const int m = a < b ? a : b;
    return m - m % p;
}

/* appends to err at *len (never past errlen; err may be NULL) */
static void put(char *err, size_t errlen, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void put(char *err, size_t errlen, size_t *len, const char *fmt, ...) {
    if (!err || *len + 1 >= errlen) return;
    va_list ap;
    va_start(ap, fmt);
    const int k = vsnprintf(err + *len, errlen - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len = *len + (size_t)k < errlen ? *len + (size_t)k : errlen - 1;
}

/* "; --tiles 1, 2, 4 would" (the n in 1..16 that fit with halo 0), or why none can */
static void put_tiles_fix(char *err, size_t errlen, size_t *len, int H, int W, int p) {
    int k = 0;
    for (int n = 1; n <= 16; n++) {
        if (!n_fits(H, W, n, p)) continue;
        put(err, errlen, len, k++ ? ", %d" : "; --tiles %d", n);
    }
    if (k) put(err, errlen, len, " would");
    else put(err, errlen, len, "; no --tiles value can work: the %d x %d grid is not a whole number of %d-cell patches",
             H, W, p);
}

/* "; halos 0, 2, 4 would (with --tiles n)": every valid halo from 0 up to the largest one, the
 * middle elided when there are many */
static void put_halo_fix(char *err, size_t errlen, size_t *len, int H, int W, int n, int p) {
    const int hmax = halo_max(H, W, n, p), count = hmax / p + 1;
    if (count == 1) {
        put(err, errlen, len, "; only halo 0 would (with --tiles %d)", n);
        return;
    }
    put(err, errlen, len, "; halos 0");
    if (count <= 8) {
        for (int h = p; h <= hmax; h += p) put(err, errlen, len, ", %d", h);
        put(err, errlen, len, " would (with --tiles %d)", n);
    } else {
        put(err, errlen, len, ", %d, %d, ..., %d would (multiples of %d up to %d, with --tiles %d)", p, 2 * p, hmax, p,
            hmax, n);
    }
}

int tiles_plan(TilePlan *t, int H, int W, int n, int halo, int p, int periodic, char *err, size_t errlen) {
    size_t len = 0;
    memset(t, 0, sizeof *t);
    if (err && errlen) err[0] = '\0';
    if (p < 1) {
        put(err, errlen, &len, "tiles: patch size %d; expected >= 1", p);
        return -1;
    }
    if (H < 1 || W < 1) {
        put(err, errlen, &len, "tiles: the %d x %d grid is empty", H, W);
        return -1;
    }
    if (!n_fits(H, W, n, p)) {
        if (n < 1) put(err, errlen, &len, "--tiles %d: needs at least 1 tile per side (1: the untiled image)", n);
        else if (H % n || W % n)
            put(err, errlen, &len, "--tiles %d: the %d x %d coarse grid does not divide into %d x %d tiles of whole %d-cell patches",
                n, H, W, n, n, p);
        else
            put(err, errlen, &len,
                "--tiles %d: the %d x %d coarse grid divides into %d x %d tiles of %d x %d cells, not whole %d-cell patches", n,
                H, W, n, n, H / n, W / n, p);
        put_tiles_fix(err, errlen, &len, H, W, p);
        return -1;
    }
    const int ch = H / n, cw = W / n;
    /* 64-bit sums: a huge halo must be refused, not overflow */
    const int64_t th = (int64_t)ch + 2 * (int64_t)halo, tw = (int64_t)cw + 4 * (int64_t)halo;
    int bad = 1;
    if (halo < 0) put(err, errlen, &len, "--halo %d: must be >= 0", halo);
    else if (halo % p) put(err, errlen, &len, "--halo %d: the halo must be a multiple of the patch size %d", halo, p);
    else if (th > H) put(err, errlen, &len, "--halo %d: tiles of %d + 2*%d rows exceed the %d-row grid", halo, ch, halo, H);
    else if (tw > W)
        put(err, errlen, &len, "--halo %d: tiles of %d + 4*%d columns (horizontal halo 2*%d) exceed the %d-column grid",
            halo, cw, halo, halo, W);
    else bad = 0;
    if (bad) {
        put_halo_fix(err, errlen, &len, H, W, n, p);
        return -1;
    }
    t->n = n, t->H = H, t->W = W;
    t->hv = halo, t->hh = 2 * halo;
    t->ch = ch, t->cw = cw;
    t->th = (int)th, t->tw = (int)tw;
    t->periodic = periodic ? 1 : 0;
    return 0;
}

static int clampi(int x, int lo, int hi) { return x < lo ? lo : x > hi ? hi : x; }

void tiles_origin(const TilePlan *t, int i, int *r0, int *c0) {
    CHECK(i >= 0 && i < tiles_count(t), "tiles: tile %d of %d", i, tiles_count(t));
    const int ti = i / t->n, tj = i % t->n;
    *r0 = clampi(ti * t->ch - t->hv, 0, t->H - t->th);
    const int c = tj * t->cw - t->hh;
    *c0 = t->periodic ? ((c % t->W) + t->W) % t->W : clampi(c, 0, t->W - t->tw);
}

void tiles_extract(const TilePlan *t, int i, int s, const float *img, int C, float *out) {
    CHECK(s >= 1 && C >= 0, "tiles_extract: scale %d, %d channels", s, C);
    int r0, c0;
    tiles_origin(t, i, &r0, &c0);
    const int64_t sH = (int64_t)s * t->H, sW = (int64_t)s * t->W;
    const int64_t fth = (int64_t)s * t->th, ftw = (int64_t)s * t->tw;
    const int64_t R0 = (int64_t)s * r0, C0 = (int64_t)s * c0;
    /* a window row is at most two runs of the image row: [C0, sW) and, wrapping, [0, ...) */
    const int64_t first = ftw < sW - C0 ? ftw : sW - C0;
    for (int c = 0; c < C; c++)
        for (int64_t u = 0; u < fth; u++) {
            const float *src = img + ((int64_t)c * sH + R0 + u) * sW;
            float *dst = out + ((int64_t)c * fth + u) * ftw;
            memcpy(dst, src + C0, sizeof(float) * (size_t)first);
            if (first < ftw) memcpy(dst + first, src, sizeof(float) * (size_t)(ftw - first));
        }
}

/* the blend weight along one axis: n fine cells, ramps of hl cells at the ends that have one */
static void ramp(float *w, int64_t n, int64_t hl, int lo, int hi) {
    for (int64_t u = 0; u < n; u++) {
        int64_t d = INT64_MAX;
        if (lo) d = u;
        if (hi && n - 1 - u < d) d = n - 1 - u;
        const double x = hl > 0 && d < hl ? (d + 0.5) / (hl + 0.5) : 1.0;
        w[u] = (float)x;
    }
}

void tiles_stitch(const TilePlan *t, int i, int s, const float *tile, int C, float *acc, float *wacc, int blend) {
    CHECK(s >= 1 && C >= 0, "tiles_stitch: scale %d, %d channels", s, C);
    int r0, c0;
    tiles_origin(t, i, &r0, &c0);
    const int ti = i / t->n, tj = i % t->n;
    const int64_t sH = (int64_t)s * t->H, sW = (int64_t)s * t->W, npix = sH * sW;
    const int64_t fth = (int64_t)s * t->th, ftw = (int64_t)s * t->tw;
    const int64_t R0 = (int64_t)s * r0, C0 = (int64_t)s * c0;
    if (!blend) {
        /* the core lies inside the window (edge windows only move towards the boundary) and
         * never wraps in the image; in the window it is one run of columns starting at v0 */
        const int64_t K0 = (int64_t)s * ti * t->ch, K1 = K0 + (int64_t)s * t->ch;
        const int64_t J0 = (int64_t)s * tj * t->cw, ncol = (int64_t)s * t->cw;
        const int64_t v0 = ((J0 - C0) % sW + sW) % sW;
        for (int64_t R = K0; R < K1; R++) {
            const int64_t u = R - R0;
            float *w = wacc + R * sW + J0;
            for (int64_t k = 0; k < ncol; k++) w[k] += 1.0f;
            for (int c = 0; c < C; c++) {
                const float *src = tile + ((int64_t)c * fth + u) * ftw + v0;
                float *dst = acc + (int64_t)c * npix + R * sW + J0;
                for (int64_t k = 0; k < ncol; k++) dst[k] += src[k];
            }
        }
        return;
    }
    float *wr = xmalloc(sizeof(float) * (size_t)(fth + ftw)), *wc = wr + fth;
    ramp(wr, fth, (int64_t)s * t->hv, r0 > 0, r0 + t->th < t->H);
    ramp(wc, ftw, (int64_t)s * t->hh, t->periodic || c0 > 0, t->periodic || c0 + t->tw < t->W);
    /* window columns [0, first) are image columns C0 + v, the rest (wrapping) v - first */
    const int64_t first = ftw < sW - C0 ? ftw : sW - C0;
    for (int64_t u = 0; u < fth; u++) {
        const int64_t R = R0 + u;
        for (int seg = 0; seg < 2; seg++) {
            const int64_t va = seg ? first : 0, L = seg ? ftw - first : first, ic = seg ? 0 : C0;
            if (L <= 0) continue;
            const float *wv = wc + va;
            float *w = wacc + R * sW + ic;
            for (int64_t k = 0; k < L; k++) w[k] += wr[u] * wv[k];
            for (int c = 0; c < C; c++) {
                const float *src = tile + ((int64_t)c * fth + u) * ftw + va;
                float *dst = acc + (int64_t)c * npix + R * sW + ic;
                for (int64_t k = 0; k < L; k++) dst[k] += wr[u] * wv[k] * src[k];
            }
        }
    }
    free(wr);
}

void tiles_finish(float *acc, const float *wacc, int C, int64_t npix) {
    for (int c = 0; c < C; c++) {
        float *a = acc + (int64_t)c * npix;
        for (int64_t k = 0; k < npix; k++) a[k] = wacc[k] > 0 ? a[k] / wacc[k] : NAN;
    }
}
