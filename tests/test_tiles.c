/* TILES tile plans, extraction and stitching (src/data/tiles.c): the plan's sizes and its
 * refusals (each message names the offending value and proposes values that tiles_plan then
 * accepts), window origins (edge tiles inward, interior tiles centred, periodic columns wrapping),
 * crop stitching as an exact partition and blend stitching as a positive-weight reconstruction
 * for every plan of a small grid, the blend ramp's values, wrapped extraction against a direct
 * loop, never-covered cells becoming NaN, and a larger round trip (also run under ASan). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/tiles.h"
#include "util_test.h"

/* The numbers a refusal proposes: the integers between its last "; " and the " would" after it
 * ("; --tiles 1, 2, 4 would", "; halos 0, 2, ..., 40 would (...)"). Returns how many. */
static int proposals(const char *msg, int *v, int max) {
    const char *a = NULL;
    for (const char *q = strstr(msg, "; "); q; q = strstr(q + 1, "; ")) a = q;
    if (!a) fail_msg("no \"; \" in \"%s\"", msg);
    const char *b = strstr(a, " would");
    if (!b) fail_msg("no \" would\" in \"%s\"", msg);
    int k = 0;
    for (const char *q = a; q < b;) {
        if (*q >= '0' && *q <= '9') {
            char *end;
            const long x = strtol(q, &end, 10);
            if (k < max) v[k++] = (int)x;
            q = end;
        } else {
            q++;
        }
    }
    return k;
}

/* tiles_plan refuses (H, W, n, halo, p); the message names `flag value` and contains `want` (NULL:
 * anything, and the message is not printed); every value it proposes for that flag is accepted (a
 * proposed n with halo 0, a proposed halo with n). Returns the number of proposals. */
static int check_refusal(int H, int W, int n, int halo, int p, const char *want) {
    TilePlan t;
    char err[512], name[64];
    assert_int_equal(tiles_plan(&t, H, W, n, halo, p, 0, err, sizeof err), -1);
    if (want) print_message("  %dx%d n=%d halo=%d p=%d: %s\n", H, W, n, halo, p, err);
    const int tiles_wrong = strncmp(err, "--tiles", 7) == 0;
    snprintf(name, sizeof name, "%s %d:", tiles_wrong ? "--tiles" : "--halo", tiles_wrong ? n : halo);
    TU_ASSERT_CONTAINS(err, name);
    if (want) TU_ASSERT_CONTAINS(err, want);
    int v[64];
    const int k = proposals(err, v, 64);
    assert_true(k >= 1);
    for (int j = 0; j < k; j++) {
        char e2[512];
        const int rc = tiles_wrong ? tiles_plan(&t, H, W, v[j], 0, p, 0, e2, sizeof e2)
                                   : tiles_plan(&t, H, W, n, v[j], p, 0, e2, sizeof e2);
        if (rc) fail_msg("proposed %s %d refused: %s", tiles_wrong ? "--tiles" : "--halo", v[j], e2);
    }
    return k;
}

static void test_plan(void **state) {
    (void)state;
    TilePlan t;
    char err[512];
    /* sizes */
    assert_int_equal(tiles_plan(&t, 32, 64, 2, 2, 2, 1, err, sizeof err), 0);
    assert_int_equal(t.n, 2), assert_int_equal(t.H, 32), assert_int_equal(t.W, 64);
    assert_int_equal(t.hv, 2), assert_int_equal(t.hh, 4);
    assert_int_equal(t.ch, 16), assert_int_equal(t.cw, 32);
    assert_int_equal(t.th, 20), assert_int_equal(t.tw, 40);
    assert_int_equal(t.periodic, 1), assert_int_equal(tiles_count(&t), 4);
    assert_int_equal(tiles_plan(&t, 48, 96, 4, 4, 4, 0, err, sizeof err), 0);
    assert_int_equal(t.ch, 12), assert_int_equal(t.cw, 24);
    assert_int_equal(t.th, 20), assert_int_equal(t.tw, 40);
    assert_int_equal(t.periodic, 0), assert_int_equal(tiles_count(&t), 16);
    /* untiled: one tile, the whole grid */
    assert_int_equal(tiles_plan(&t, 33, 36, 1, 0, 3, 0, err, sizeof err), 0);
    assert_int_equal(tiles_count(&t), 1);
    assert_int_equal(t.th, 33), assert_int_equal(t.tw, 36);
    /* the largest halo: rows exactly full (16 + 2*8 = 32), columns 32 + 4*8 = 64 */
    assert_int_equal(tiles_plan(&t, 32, 64, 2, 8, 2, 0, err, sizeof err), 0);
    assert_int_equal(t.th, 32), assert_int_equal(t.tw, 64);

    /* --tiles: n < 1; the grid does not divide; the cores are not whole patches */
    check_refusal(32, 64, 0, 0, 2, "1, 2, 4");
    check_refusal(32, 64, -3, 0, 2, "1, 2, 4");
    check_refusal(32, 64, 3, 0, 2, "1, 2, 4, 8, 16 would");
    check_refusal(33, 36, 2, 0, 3, "33 x 36");
    check_refusal(24, 24, 4, 0, 4, "--tiles 1, 2, 3, 6 would"); /* 24 / 4 = 6 is not whole 4-cell patches */
    check_refusal(16, 40, 4, 0, 4, "4 x 10 cells");             /* rows fit, columns 10 are not */
    /* no n can work: the grid is not whole patches */
    assert_int_equal(tiles_plan(&t, 33, 36, 3, 0, 2, 0, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "--tiles 3:");
    TU_ASSERT_CONTAINS(err, "no --tiles value");
    /* --halo: negative; not whole patches; rows exceed; columns exceed */
    check_refusal(32, 64, 2, -2, 2, "halos 0, 2, 4, 6, 8 would");
    check_refusal(32, 64, 2, 3, 2, "multiple of the patch size 2");
    check_refusal(32, 64, 2, 10, 2, "16 + 2*10 rows exceed the 32-row grid");
    check_refusal(64, 32, 2, 6, 2, "halos 0, 2, 4 would"); /* rows fit (44 <= 64), columns do not (40 > 32) */
    check_refusal(64, 32, 2, 6, 2, "32-column grid");
    check_refusal(32, 32, 1, 2, 2, "only halo 0 would"); /* one tile is the whole grid: no room for a halo */
    /* many valid halos: the list is elided but still ends at the largest one */
    const int k = check_refusal(256, 512, 2, 1000, 1, "..., 64 would");
    assert_true(k <= 8);
    assert_int_equal(tiles_plan(&t, 256, 512, 2, 64, 1, 0, err, sizeof err), 0);
    assert_int_equal(tiles_plan(&t, 256, 512, 2, 65, 1, 0, err, sizeof err), -1);
    /* ... and that largest one is a whole number of patches (room for 35, patches of 2) */
    check_refusal(140, 280, 2, 1000, 2, "..., 34 would");
    /* a halo so large that the sums would overflow int is refused, not wrapped */
    check_refusal(32, 64, 2, 2147483646, 2, "32-row grid");
    /* the patch size itself; a NULL err is allowed */
    assert_int_equal(tiles_plan(&t, 32, 64, 2, 0, 0, 0, err, sizeof err), -1);
    TU_ASSERT_CONTAINS(err, "patch size 0");
    assert_int_equal(tiles_plan(&t, 32, 64, 3, 0, 2, 0, NULL, 0), -1);
    /* a short buffer gets a truncated, terminated message */
    char small[12];
    assert_int_equal(tiles_plan(&t, 32, 64, 3, 0, 2, 0, small, sizeof small), -1);
    assert_int_equal(strlen(small), sizeof small - 1);
}

/* tiles_plan accepts exactly what the rules allow, over every small case; each refusal is for
 * the flag whose rule failed and proposes only values it accepts */
static void test_plan_rules(void **state) {
    (void)state;
    static const int grids[5] = {6, 8, 12, 16, 24};
    int accepted = 0, refused = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++)
            for (int p = 1; p <= 4; p++)
                for (int n = 0; n <= 13; n++)
                    for (int halo = -1; halo <= 8; halo++) {
                        const int H = grids[a], W = grids[b];
                        const int n_ok = n >= 1 && H % n == 0 && W % n == 0 && (H / n) % p == 0 && (W / n) % p == 0;
                        const int ok = n_ok && halo >= 0 && halo % p == 0 && H / n + 2 * halo <= H && W / n + 4 * halo <= W;
                        TilePlan t;
                        char err[512];
                        const int rc = tiles_plan(&t, H, W, n, halo, p, (a + b + n) & 1, err, sizeof err);
                        if (rc != (ok ? 0 : -1)) fail_msg("%dx%d n %d halo %d p %d: %d (%s)", H, W, n, halo, p, rc, err);
                        if (ok) {
                            accepted++;
                            assert_int_equal(t.th, H / n + 2 * halo), assert_int_equal(t.tw, W / n + 4 * halo);
                            continue;
                        }
                        refused++;
                        assert_int_equal(strncmp(err, n_ok ? "--halo" : "--tiles", n_ok ? 6 : 7), 0);
                        if (n_ok || (H % p == 0 && W % p == 0)) check_refusal(H, W, n, halo, p, NULL);
                        else TU_ASSERT_CONTAINS(err, "no --tiles value"); /* no n can work: nothing proposed */
                    }
    print_message("  %d plans accepted, %d refused\n", accepted, refused);
    assert_true(accepted > 100 && refused > 1000);
}

static void test_origins(void **state) {
    (void)state;
    TilePlan t;
    char err[256];
    int r0, c0;
    /* 32 x 64, n = 4, halo 2: cores 8 x 16, tiles 12 x 24 */
    assert_int_equal(tiles_plan(&t, 32, 64, 4, 2, 2, 0, err, sizeof err), 0);
    const int want_r[4] = {0, 6, 14, 20}, want_c[4] = {0, 12, 28, 40};
    for (int i = 0; i < tiles_count(&t); i++) {
        const int ti = i / 4, tj = i % 4;
        tiles_origin(&t, i, &r0, &c0);
        assert_int_equal(r0, want_r[ti]);
        assert_int_equal(c0, want_c[tj]);
        /* the core lies in the window; interior tiles are centred on it */
        assert_true(r0 <= ti * t.ch && ti * t.ch + t.ch <= r0 + t.th);
        assert_true(c0 <= tj * t.cw && tj * t.cw + t.cw <= c0 + t.tw);
        if (ti > 0 && ti < 3) assert_int_equal(r0 + t.hv, ti * t.ch);
        if (tj > 0 && tj < 3) assert_int_equal(c0 + t.hh, tj * t.cw);
    }
    tiles_origin(&t, 0, &r0, &c0);
    assert_int_equal(r0, 0), assert_int_equal(c0, 0);
    tiles_origin(&t, 15, &r0, &c0);
    assert_int_equal(r0, t.H - t.th), assert_int_equal(c0, t.W - t.tw);
    /* periodic: columns centred on every core, wrapping; rows unchanged */
    assert_int_equal(tiles_plan(&t, 32, 64, 4, 2, 2, 1, err, sizeof err), 0);
    for (int i = 0; i < tiles_count(&t); i++) {
        tiles_origin(&t, i, &r0, &c0);
        assert_int_equal(r0, want_r[i / 4]);
        assert_int_equal(c0, ((i % 4) * t.cw - t.hh + t.W) % t.W);
    }
    tiles_origin(&t, 0, &r0, &c0);
    assert_int_equal(c0, t.W - t.hh); /* 60 */
    assert_int_equal(c0, 60);
    tiles_origin(&t, 3, &r0, &c0);
    assert_int_equal(c0, 44);
    /* untiled, periodic or not: the whole grid from (0, 0) */
    for (int per = 0; per < 2; per++) {
        assert_int_equal(tiles_plan(&t, 32, 64, 1, 0, 2, per, err, sizeof err), 0);
        tiles_origin(&t, 0, &r0, &c0);
        assert_int_equal(r0, 0), assert_int_equal(c0, 0);
    }
}

/* stitches every tile of img [C, sH, sW] extracted by the plan into out (finished); wacc gets the
 * weights */
static void round_trip(const TilePlan *t, int s, const float *img, int C, int blend, float *out, float *wacc,
                       float *tile) {
    const int64_t npix = (int64_t)s * t->H * s * t->W;
    memset(out, 0, sizeof(float) * (size_t)(C * npix));
    memset(wacc, 0, sizeof(float) * (size_t)npix);
    for (int i = 0; i < tiles_count(t); i++) {
        tiles_extract(t, i, s, img, C, tile);
        tiles_stitch(t, i, s, tile, C, out, wacc, blend);
    }
    tiles_finish(out, wacc, C, npix);
}

/* every plan of a 12 x 24 grid (p = 1), periodic or not, s = 1 and 3: crop weights are exactly 1
 * and reproduce the image bit for bit; blend weights are >= 1 (each cell lies in one core, weight
 * 1 there, plus > 0 from the overlapping windows) and reproduce it to 1e-6 (to the float summation
 * bound 2 k 2^-24 where more than 8 windows overlap); a single blended tile
 * has weight 1 over its core, > 0 over its window and 0 elsewhere */
static void test_partition(void **state) {
    (void)state;
    enum { H = 12, W = 24, C = 2, SMAX = 3 };
    const int64_t nmax = (int64_t)H * SMAX * W * SMAX;
    float *img = tu_falloc(C * nmax), *out = tu_falloc(C * nmax), *wacc = tu_falloc(nmax);
    float *ones = tu_falloc(C * nmax), *tile = tu_falloc(C * nmax), *one_w = tu_falloc(nmax);
    tu_fill_uniform(img, C * nmax, 7, -2.0f, 3.0f);
    tu_fill_const(ones, C * nmax, 1.0f);
    int plans = 0, halos = 0, kmax = 0;
    for (int n = 1; n <= 12; n++)
        for (int halo = 0; halo <= 6; halo++)
            for (int per = 0; per < 2; per++) {
                TilePlan t;
                char err[512];
                if (tiles_plan(&t, H, W, n, halo, 1, per, err, sizeof err)) continue;
                plans++;
                halos += halo > 0;
                /* the most windows over one cell (k): blend sums k weighted floats into acc and k
                 * weights into wacc, so the quotient is good to about 2 kov 2^-24 (kov = 144 at n = 12,
                 * halo 5, where the clamped corner windows pile up) */
                int cov[H * W] = {0}, kov = 0;
                for (int i = 0; i < tiles_count(&t); i++) {
                    int r0, c0;
                    tiles_origin(&t, i, &r0, &c0);
                    for (int u = 0; u < t.th; u++)
                        for (int v = 0; v < t.tw; v++) {
                            const int q = ++cov[(r0 + u) * W + (c0 + v) % W];
                            kov = q > kov ? q : kov;
                        }
                }
                const double tol = fmax(1e-6, 2.0 * kov * ldexp(1.0, -24));
                kmax = kov > kmax ? kov : kmax;
                for (int s = 1; s <= SMAX; s += 2) {
                    const int64_t sH = (int64_t)s * H, sW = (int64_t)s * W, npix = sH * sW;
                    /* crop: weight exactly 1, the image exactly */
                    round_trip(&t, s, ones, C, 0, out, wacc, tile);
                    for (int64_t k = 0; k < npix; k++)
                        if (wacc[k] != 1.0f) fail_msg("n %d halo %d per %d s %d: crop weight %g at %lld", n, halo, per, s, wacc[k], (long long)k);
                    round_trip(&t, s, img, C, 0, out, wacc, tile);
                    for (int64_t k = 0; k < C * npix; k++)
                        if (out[k] != img[k]) fail_msg("n %d halo %d per %d s %d: crop %g != %g at %lld", n, halo, per, s, out[k], img[k], (long long)k);
                    /* blend */
                    round_trip(&t, s, img, C, 1, out, wacc, tile);
                    for (int64_t k = 0; k < npix; k++)
                        if (!(wacc[k] >= 1.0f)) fail_msg("n %d halo %d per %d s %d: blend weight %g at %lld", n, halo, per, s, wacc[k], (long long)k);
                    TU_ASSERT_CLOSE_FF(out, img, C * npix, tol);
                    /* one blended tile at a time */
                    for (int i = 0; i < tiles_count(&t); i++) {
                        int r0, c0;
                        tiles_origin(&t, i, &r0, &c0);
                        const int ti = i / n, tj = i % n;
                        memset(out, 0, sizeof(float) * (size_t)npix);
                        memset(one_w, 0, sizeof(float) * (size_t)npix);
                        tiles_stitch(&t, i, s, ones, 1, out, one_w, 1);
                        for (int64_t R = 0; R < sH; R++)
                            for (int64_t Cc = 0; Cc < sW; Cc++) {
                                const int64_t k = R * sW + Cc, v = ((Cc - (int64_t)s * c0) % sW + sW) % sW;
                                const int in_win = R >= (int64_t)s * r0 && R < (int64_t)s * (r0 + t.th) && v < (int64_t)s * t.tw;
                                const int in_core = R / s >= ti * t.ch && R / s < (ti + 1) * t.ch &&
                                                    Cc / s >= tj * t.cw && Cc / s < (tj + 1) * t.cw;
                                const float w = one_w[k];
                                if (in_core ? w != 1.0f : in_win ? !(w > 0.0f && w <= 1.0f) : w != 0.0f)
                                    fail_msg("n %d halo %d per %d s %d tile %d: weight %g at (%lld, %lld) (core %d, window %d)",
                                             n, halo, per, s, i, w, (long long)R, (long long)Cc, in_core, in_win);
                                if (out[k] != w) fail_msg("blend value %g != weight %g of an all-ones tile", out[k], w);
                            }
                    }
                }
            }
    print_message("  %d plans (%d with a halo), s = 1 and 3; up to %d windows over a cell\n", plans, halos, kmax);
    assert_true(plans >= 20 && halos >= 10);
    free(img), free(out), free(wacc), free(ones), free(tile), free(one_w);
}

/* the blend ramp: (d + 0.5) / (s hv + 0.5) in rows towards an inner window edge, the same with
 * s hh in columns, 1 up to an edge on the image boundary, and ramps at both column ends when
 * periodic */
static void test_blend_ramp(void **state) {
    (void)state;
    enum { H = 32, W = 64, S = 2 };
    const int64_t sW = W * S, npix = (int64_t)H * S * sW;
    TilePlan t;
    char err[256];
    float *ones = tu_falloc(npix), *acc = tu_falloc(npix), *w = tu_falloc(npix);
    tu_fill_const(ones, npix, 1.0f);
    assert_int_equal(tiles_plan(&t, H, W, 4, 2, 2, 0, err, sizeof err), 0);
    int r0, c0;
    /* interior tile (1, 1): window rows [6, 18), columns [12, 36); fine s hv = 4, s hh = 8 */
    tiles_origin(&t, 5, &r0, &c0);
    tiles_stitch(&t, 5, S, ones, 1, acc, w, 1);
    const int64_t mid = (int64_t)S * (c0 + t.tw / 2); /* a column in the core */
    for (int u = 0; u < 4; u++) {
        assert_float_equal(w[(S * r0 + u) * sW + mid], (u + 0.5) / 4.5, 1e-6);                 /* top */
        assert_float_equal(w[(S * (r0 + t.th) - 1 - u) * sW + mid], (u + 0.5) / 4.5, 1e-6);   /* bottom */
    }
    assert_float_equal(w[(S * r0 + 4) * sW + mid], 1.0, 0);
    const int64_t midr = (int64_t)S * (r0 + t.th / 2) * sW;
    for (int v = 0; v < 8; v++) {
        assert_float_equal(w[midr + S * c0 + v], (v + 0.5) / 8.5, 1e-6);
        assert_float_equal(w[midr + S * (c0 + t.tw) - 1 - v], (v + 0.5) / 8.5, 1e-6);
    }
    /* a corner cell: the product of both ramps */
    assert_float_equal(w[(S * r0) * sW + S * c0], (0.5 / 4.5) * (0.5 / 8.5), 1e-7);
    /* corner tile 0, not periodic: no ramp at the top or left (the image boundary), ramps inside */
    memset(w, 0, sizeof(float) * (size_t)npix), memset(acc, 0, sizeof(float) * (size_t)npix);
    tiles_stitch(&t, 0, S, ones, 1, acc, w, 1);
    assert_float_equal(w[0], 1.0, 0);
    assert_float_equal(w[S * t.th / 2 * sW], 1.0, 0);   /* column 0, middle row */
    assert_float_equal(w[(S * t.th - 1) * sW], 0.5 / 4.5, 1e-6);
    assert_float_equal(w[S * t.tw - 1], 0.5 / 8.5, 1e-6);
    /* periodic tile 0 wraps: its first window column is fine column s * 60, ramped */
    assert_int_equal(tiles_plan(&t, H, W, 4, 2, 2, 1, err, sizeof err), 0);
    memset(w, 0, sizeof(float) * (size_t)npix), memset(acc, 0, sizeof(float) * (size_t)npix);
    tiles_stitch(&t, 0, S, ones, 1, acc, w, 1);
    const int64_t r = (int64_t)S * 2 * sW; /* fine row 4: below the top (boundary, no ramp) */
    assert_float_equal(w[r + S * 60], 0.5 / 8.5, 1e-6);
    assert_float_equal(w[r + sW - 1], 7.5 / 8.5, 1e-6);
    assert_float_equal(w[r + 0], 1.0, 0);                          /* core column 0 */
    assert_float_equal(w[r + S * t.cw - 1], 1.0, 0);              /* the core's last column */
    assert_float_equal(w[r + S * (t.tw - t.hh) - 1], 0.5 / 8.5, 1e-6); /* the window's last, past the wrap */
    assert_float_equal(w[r + S * (t.tw - t.hh)], 0.0, 0);          /* outside the window */
    assert_float_equal(w[r + S * 59], 0.0, 0);
    free(ones), free(acc), free(w);
}

/* extraction against a direct loop with the column taken mod s W (and rows never wrapping),
 * periodic and not, coarse and fine */
static void test_extract(void **state) {
    (void)state;
    enum { H = 8, W = 16, C = 3, SMAX = 2 };
    const int64_t nmax = (int64_t)H * SMAX * W * SMAX;
    float *img = tu_falloc(C * nmax), *tile = tu_falloc(C * nmax);
    tu_fill_uniform(img, C * nmax, 11, -1.0f, 1.0f);
    int wrapped = 0;
    for (int per = 0; per < 2; per++)
        for (int s = 1; s <= SMAX; s++) {
            TilePlan t;
            char err[256];
            assert_int_equal(tiles_plan(&t, H, W, 2, 1, 1, per, err, sizeof err), 0); /* tiles 6 x 12 */
            const int64_t sH = (int64_t)s * H, sW = (int64_t)s * W, fth = (int64_t)s * t.th, ftw = (int64_t)s * t.tw;
            for (int i = 0; i < tiles_count(&t); i++) {
                int r0, c0;
                tiles_origin(&t, i, &r0, &c0);
                wrapped += c0 + t.tw > W;
                tiles_extract(&t, i, s, img, C, tile);
                for (int c = 0; c < C; c++)
                    for (int64_t u = 0; u < fth; u++)
                        for (int64_t v = 0; v < ftw; v++) {
                            const float want = img[(c * sH + s * r0 + u) * sW + (s * c0 + v) % sW];
                            const float got = tile[(c * fth + u) * ftw + v];
                            if (got != want) fail_msg("per %d s %d tile %d (%d, %lld, %lld): %g != %g", per, s, i, c, (long long)u, (long long)v, got, want);
                        }
            }
            if (per) {
                /* tile 0 starts hh coarse columns before the date line: its first columns are
                 * the image's last ones, then column 0 */
                tiles_extract(&t, 0, s, img, C, tile);
                assert_float_equal(tile[0], img[sW - s * t.hh], 0);
                assert_float_equal(tile[s * t.hh], img[0], 0);
                assert_float_equal(tile[(C - 1) * fth * ftw + s * t.hh - 1], img[(C - 1) * sH * sW + sW - 1], 0);
            }
        }
    assert_int_equal(wrapped, 8); /* periodic: every tile wraps (c0 = 14 and 6), for both s */
    free(img), free(tile);
}

/* cells no tile covers become NaN; covered ones are divided by their weight */
static void test_finish(void **state) {
    (void)state;
    TilePlan t;
    char err[256];
    enum { H = 8, W = 16 };
    float img[H * W], tile[H * W], acc[H * W] = {0}, w[H * W] = {0};
    tu_fill_uniform(img, H * W, 3, 0.5f, 1.5f);
    assert_int_equal(tiles_plan(&t, H, W, 2, 0, 1, 0, err, sizeof err), 0);
    tiles_extract(&t, 3, 1, img, 1, tile); /* the bottom right core only */
    tiles_stitch(&t, 3, 1, tile, 1, acc, w, 0);
    tiles_stitch(&t, 3, 1, tile, 1, acc, w, 0); /* twice: weight 2 */
    tiles_finish(acc, w, 1, H * W);
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) {
            const int k = r * W + c;
            if (r >= 4 && c >= 8) assert_float_equal(acc[k], img[k], 1e-7);
            else assert_true(isnan(acc[k]));
        }
}

/* 64 x 128, n = 4, halo 4, s = 4, 3 channels: both modes, periodic and not */
static void test_large(void **state) {
    (void)state;
    enum { H = 64, W = 128, S = 4, C = 3 };
    const int64_t npix = (int64_t)H * S * W * S;
    float *img = tu_falloc(C * npix), *out = tu_falloc(C * npix), *wacc = tu_falloc(npix);
    float *tile = tu_falloc(C * npix);
    tu_fill_normal(img, C * npix, 5, 0.0f, 1.0f);
    for (int per = 0; per < 2; per++) {
        TilePlan t;
        char err[256];
        assert_int_equal(tiles_plan(&t, H, W, 4, 4, 4, per, err, sizeof err), 0);
        assert_int_equal(t.th, 24), assert_int_equal(t.tw, 48);
        round_trip(&t, S, img, C, 0, out, wacc, tile);
        assert_memory_equal(out, img, sizeof(float) * (size_t)(C * npix));
        round_trip(&t, S, img, C, 1, out, wacc, tile);
        TU_ASSERT_CLOSE_FF(out, img, C * npix, 1e-6);
    }
    free(img), free(out), free(wacc), free(tile);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan),        cmocka_unit_test(test_plan_rules), cmocka_unit_test(test_origins),    cmocka_unit_test(test_partition),
        cmocka_unit_test(test_blend_ramp),  cmocka_unit_test(test_extract),    cmocka_unit_test(test_finish),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
