/* GRIB section walk (see grib_check.h). Section numbers, minimum lengths and the octets read
 * here follow the WMO GRIB1 and GRIB2 manuals (FM 92 GRIB). */
#include "data/grib_check.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Bytes of one message, from memory or from a file (only the headers are read). */
typedef struct Src {
    const unsigned char *m; /* or NULL: f */
    FILE *f;
    uint64_t base, len; /* the message's position in the file and its length */
} Src;

static int get(const Src *s, uint64_t at, unsigned char *buf, size_t k) {
    if (at > s->len || k > s->len - at) return -1;
    if (s->m) {
        memcpy(buf, s->m + at, k);
        return 0;
    }
    return fseeko(s->f, (off_t)(s->base + at), SEEK_SET) || fread(buf, 1, k, s->f) != k ? -1 : 0;
}

static uint64_t be(const unsigned char *b, int k) {
    uint64_t v = 0;
    for (int i = 0; i < k; i++) v = v << 8 | b[i];
    return v;
}

static int end_marker(const Src *s, char *msg, size_t n) {
    unsigned char e[4];
    if (get(s, s->len - 4, e, 4) || memcmp(e, "7777", 4)) {
        snprintf(msg, n, "the message (%" PRIu64 " bytes) does not end with 7777: its stated length is wrong", s->len);
        return -1;
    }
    return 0;
}

/* GRIB1: product section, then the grid and bitmap sections when its flags say so, then the
 * data section; all within the message, before the closing 7777. */
static int walk1(const Src *s, GribLayout *L, char *msg, size_t n) {
    static const char *const name[5] = {"", "product definition (1)", "grid description (2)", "bitmap (3)", "binary data (4)"};
    static const unsigned min[5] = {0, 28, 32, 6, 11};
    unsigned char h[8];
    uint64_t pos = 8;
    int flags = 0;
    for (int k = 1; k <= 4; k++) {
        if ((k == 2 && !(flags & 0x80)) || (k == 3 && !(flags & 0x40))) continue;
        if (pos + 8 > s->len - 4 || get(s, pos, h, 8)) {
            snprintf(msg, n, "section %s (message byte %" PRIu64 ") starts past the message end (%" PRIu64 " bytes)", name[k], pos, s->len);
            return -1;
        }
        uint64_t len = be(h, 3);
        if (len < min[k] || len > s->len - 4 - pos) {
            snprintf(msg, n, "section %s (message byte %" PRIu64 ") declares %" PRIu64 " bytes (at least %u, and at most the %" PRIu64
                     " left before 7777)", name[k], pos, len, min[k], s->len - 4 - pos);
            return -1;
        }
        if (k == 1) flags = h[7];
        L->off[k] = (long long)pos;
        pos += len;
    }
    return end_marker(s, msg, n);
}

/* GRIB2: sections 1, [2], 3, 4, 5, 6, 7, where a message may repeat 2-7, 3-7 or 4-7 for more
 * fields, then 7777 right after the last section. The first field's grid, packing and bitmap
 * are checked against each other where the template is known (grid 3.0, simple packing 5.0). */
static int walk2(const Src *s, GribLayout *L, char *msg, size_t n) {
    static const unsigned min[8] = {0, 21, 5, 14, 9, 11, 6, 5};
    uint64_t pos = 16, npts = 0, nvals = 0, bits = 0;
    int prev = 0, grid0 = 0, simple = 0, nobitmap = 0;
    unsigned char b[72];
    for (;;) {
        if (pos + 4 > s->len || get(s, pos, b, 4)) {
            snprintf(msg, n, "section %d runs to the message end (%" PRIu64 " bytes) with no 7777 after it", prev, s->len);
            return -1;
        }
        if (!memcmp(b, "7777", 4)) {
            if (prev != 7 || pos != s->len - 4) {
                snprintf(msg, n, "7777 at message byte %" PRIu64 " after section %d: the message states %" PRIu64
                         " bytes and needs sections up to 7", pos, prev, s->len);
                return -1;
            }
            break;
        }
        if (pos + 5 > s->len - 4 || get(s, pos, b, 5)) {
            snprintf(msg, n, "section at message byte %" PRIu64 " overlaps 7777 (message of %" PRIu64 " bytes)", pos, s->len);
            return -1;
        }
        uint64_t len = be(b, 4);
        int num = b[4];
        int ok = num >= 1 && num <= 7 &&
                 (prev == 0 ? num == 1 : prev == 1 ? num == 2 || num == 3 : prev == 7 ? num >= 2 && num <= 4 : num == prev + 1);
        if (!ok) {
            snprintf(msg, n, "message byte %" PRIu64 " starts section number %d after section %d (GRIB2 needs 1, 2 or 3, 4, 5, 6, 7)",
                     pos, num, prev);
            return -1;
        }
        if (len < min[num] || len > s->len - 4 - pos) {
            snprintf(msg, n, "section %d (message byte %" PRIu64 ") declares %" PRIu64 " bytes (at least %u, and at most the %" PRIu64
                     " left before 7777)", num, pos, len, min[num], s->len - 4 - pos);
            return -1;
        }
        size_t want = len < sizeof b ? (size_t)len : sizeof b;
        if (L->off[num] < 0) { /* the first field: its templates' counts must agree */
            L->off[num] = (long long)pos;
            if (get(s, pos, b, want)) return -1;
            if (num == 3 && be(b + 12, 2) == 0 && b[10] == 0) {
                if (len < 72) {
                    snprintf(msg, n, "section 3 declares %" PRIu64 " bytes; grid template 3.0 needs 72", len);
                    return -1;
                }
                npts = be(b + 6, 4);
                uint64_t ni = be(b + 30, 4), nj = be(b + 34, 4);
                if (ni * nj != npts) {
                    snprintf(msg, n, "section 3: numberOfDataPoints %" PRIu64 " is not Ni x Nj = %" PRIu64 " x %" PRIu64,
                             npts, ni, nj);
                    return -1;
                }
                grid0 = 1;
            } else if (num == 5) {
                nvals = be(b + 5, 4);
                if (grid0 && nvals > npts) {
                    snprintf(msg, n, "section 5: %" PRIu64 " packed values for a grid of %" PRIu64 " points", nvals, npts);
                    return -1;
                }
                if (be(b + 9, 2) == 0 && len >= 21) simple = 1, bits = b[19];
            } else if (num == 6 && grid0) {
                nobitmap = b[5] == 255;
                if ((nobitmap && nvals != npts) || (b[5] == 0 && (len - 6) * 8 < npts)) {
                    snprintf(msg, n, "section 6: %s for %" PRIu64 " values on a grid of %" PRIu64 " points",
                             nobitmap ? "no bitmap" : "a bitmap shorter than the grid", nvals, npts);
                    return -1;
                }
            } else if (num == 7 && simple && (len - 5) * 8 < nvals * bits) {
                snprintf(msg, n, "section 7 holds %" PRIu64 " bytes of data; %" PRIu64 " values of %" PRIu64 " bits need %" PRIu64,
                         len - 5, nvals, bits, (nvals * bits + 7) / 8);
                return -1;
            }
        }
        prev = num;
        pos += len;
    }
    return 0;
}

static int walk(const Src *s, GribLayout *L, char *msg, size_t n) {
    unsigned char h[16];
    memset(L, 0, sizeof *L);
    for (int k = 0; k < 8; k++) L->off[k] = -1;
    if (s->len < 8 || get(s, 0, h, 8) || memcmp(h, "GRIB", 4)) {
        snprintf(msg, n, "no GRIB message header");
        return -1;
    }
    L->edition = h[7];
    L->off[0] = 0;
    if (h[7] == 1) {
        if (be(h + 4, 3) & 0x800000) return 0; /* the large-message encoding: ecCodes judges it */
        L->checked = 1;
        return walk1(s, L, msg, n);
    }
    if (h[7] == 2) {
        L->checked = 1;
        return walk2(s, L, msg, n);
    }
    snprintf(msg, n, "GRIB edition %d (lvit reads editions 1 and 2)", h[7]);
    return -1;
}

int grib_time_unit_known(codes_handle *h, long *unit, long *edition) {
    static const char *const times[] = {"forecastTime", "P1", "P2", "endStep"}; /* GRIB2, GRIB1, both */
    if (codes_get_long(h, "indicatorOfUnitOfTimeRange", unit) || codes_get_long(h, "editionNumber", edition)) return 1;
    const long u = *unit;
    if ((u >= 0 && u <= 7) || (u >= 10 && u <= 13) || (*edition == 1 && (u == 14 || u == 254))) return 1;
    for (int i = 0; i < 4; i++) {
        long v = 0;
        if (codes_is_defined(h, times[i]) && (codes_get_long(h, times[i], &v) || v)) return 0;
    }
    return 1;
}

int grib_layout(const unsigned char *m, size_t len, GribLayout *L, char *msg, size_t n) {
    Src s = {.m = m, .len = len};
    return walk(&s, L, msg, n);
}

/* The next "GRIB" at or after *at, as ecCodes' reader scans for it; 0 when there is none. */
static int next_magic(FILE *f, uint64_t *at, uint64_t size) {
    unsigned char buf[65536];
    for (uint64_t p = *at; p + 16 <= size;) {
        if (fseeko(f, (off_t)p, SEEK_SET)) return 0;
        size_t k = fread(buf, 1, sizeof buf, f);
        if (k < 4) return 0;
        for (size_t i = 0; i + 4 <= k; i++)
            if (!memcmp(buf + i, "GRIB", 4)) {
                *at = p + i;
                return 1;
            }
        p += k - 3;
    }
    return 0;
}

int grib_file_check(const char *path, char *msg, size_t n) {
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return 0; /* the reader says why it cannot open it */
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    const uint64_t size = (uint64_t)st.st_size;
    uint64_t at = 0;
    int rc = 0;
    for (int k = 1; rc == 0 && next_magic(f, &at, size);) {
        unsigned char h[16];
        if (fseeko(f, (off_t)at, SEEK_SET) || fread(h, 1, 16, f) != 16) break;
        if (h[7] != 1 && h[7] != 2) { /* ecCodes refuses it too, but its reader of edition 3 overflows a buffer first */
            snprintf(msg, n, "message %d (at byte %" PRIu64 ") is GRIB edition %d: lvit reads editions 1 and 2", k, at, h[7]);
            rc = -1;
            break;
        }
        if (h[7] == 1 && (be(h + 4, 3) & 0x800000)) break; /* large GRIB1: lengths are ecCodes' to judge */
        uint64_t len = h[7] == 1 ? be(h + 4, 3) : be(h + 8, 8);
        char why[384];
        GribLayout L;
        Src s = {.f = f, .base = at, .len = len};
        if (len > size - at) { /* worded as the reader words ecCodes' premature end of file */
            snprintf(msg, n, "message %d is cut off: the file is truncated (%" PRIu64 " bytes)", k, size);
            rc = -1;
            break;
        }
        if (len < 16) {
            snprintf(why, sizeof why, "it declares %" PRIu64 " bytes", len);
            rc = -1;
        } else {
            rc = walk(&s, &L, why, sizeof why);
        }
        if (rc) snprintf(msg, n, "message %d (at byte %" PRIu64 ") is malformed: %s", k, at, why);
        at += len;
        k++;
    }
    fclose(f);
    return rc;
}
