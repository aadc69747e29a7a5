#include "data/input_size.h"
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/zarr_check.h"

/* A big-endian cursor over the header (netCDF-3 stores everything big-endian). */
typedef struct Rd {
    FILE *f;
    uint64_t pos;
    int eof;
} Rd;

static uint64_t get_be(Rd *r, int bytes) {
    unsigned char b[8] = {0};
    if (r->eof || fread(b, 1, (size_t)bytes, r->f) != (size_t)bytes) {
        r->eof = 1;
        return 0;
    }
    r->pos += (uint64_t)bytes;
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v = v << 8 | b[i];
    return v;
}

static void skip(Rd *r, uint64_t bytes) {
    if (r->eof) return;
    if (bytes > (uint64_t)INT64_MAX / 2 || fseeko(r->f, (off_t)bytes, SEEK_CUR)) {
        r->eof = 1;
        return;
    }
    r->pos += bytes;
}

static uint64_t pad4(uint64_t x) { return (x + 3) & ~(uint64_t)3; }

/* bytes of one value of netCDF type t (1..11), 0 when unknown */
static int type_size(uint64_t t) {
    static const int sz[12] = {0, 1, 1, 2, 4, 4, 8, 1, 2, 4, 8, 8};
    return t < 12 ? sz[t] : 0;
}

enum { NC_DIMENSION = 10, NC_VARIABLE = 11, NC_ATTRIBUTE = 12, MAX_DIMS = 1024, NC_NAME_MAX = 256 /* NC_MAX_NAME */ };

/* an attribute list: names, types and values are skipped */
static int skip_atts(Rd *r, int nsz, char *msg, size_t n) {
    uint64_t tag = get_be(r, 4), cnt = get_be(r, nsz);
    if (tag != NC_ATTRIBUTE && !(tag == 0 && cnt == 0)) {
        snprintf(msg, n, "corrupt netCDF-3 header: an attribute list with tag %" PRIu64 " at byte %" PRIu64, tag, r->pos);
        return -1;
    }
    for (uint64_t i = 0; i < cnt && !r->eof; i++) {
        uint64_t nl = get_be(r, nsz);
        if (nl > NC_NAME_MAX && !r->eof) {
            snprintf(msg, n, "corrupt netCDF-3 header: an attribute name of %" PRIu64 " bytes (at most %d)", nl, NC_NAME_MAX);
            return -1;
        }
        skip(r, pad4(nl));
        uint64_t t = get_be(r, 4), len = get_be(r, nsz);
        if (!type_size(t) || len > (UINT64_MAX >> 4)) {
            if (r->eof) break;
            snprintf(msg, n, "corrupt netCDF-3 header: an attribute of type %" PRIu64 " at byte %" PRIu64, t, r->pos);
            return -1;
        }
        skip(r, pad4(len * (uint64_t)type_size(t)));
    }
    return 0;
}

static int mul_ok(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }

static int check_nc3(FILE *f, int version, uint64_t size, char *msg, size_t n) {
    Rd r = {f, 4, 0};
    const int nsz = version == 5 ? 8 : 4, osz = version == 1 ? 4 : 8; /* counts, offsets */
    const uint64_t numrecs = get_be(&r, nsz), streaming = version == 5 ? UINT64_MAX : 0xFFFFFFFFu;
    uint64_t tag = get_be(&r, 4), ndims = get_be(&r, nsz);
    if ((tag != NC_DIMENSION && !(tag == 0 && ndims == 0)) || ndims > MAX_DIMS) {
        if (r.eof) goto cut;
        snprintf(msg, n, "corrupt netCDF-3 header: %" PRIu64 " dimensions (tag %" PRIu64 ")", ndims, tag);
        return -1;
    }
    uint64_t dimlen[MAX_DIMS];
    for (uint64_t d = 0; d < ndims && !r.eof; d++) {
        uint64_t nl = get_be(&r, nsz);
        if (nl > NC_NAME_MAX && !r.eof) goto long_name;
        skip(&r, pad4(nl));
        dimlen[d] = get_be(&r, nsz);
    }
    if (skip_atts(&r, nsz, msg, n)) return -1;
    tag = get_be(&r, 4);
    uint64_t nvars = get_be(&r, nsz);
    if (r.eof) goto cut;
    if (tag != NC_VARIABLE && !(tag == 0 && nvars == 0)) {
        snprintf(msg, n, "corrupt netCDF-3 header: a variable list with tag %" PRIu64, tag);
        return -1;
    }
    /* fixed-size variables are checked as they come; of the record variables the last one in
     * the record (its begin and bytes) and the record size are kept */
    uint64_t recsize = 0, nrec = 0, last_rec_begin = 0, last_rec_bytes = 0;
    char name[64] = "", rec_name[64] = "";
    for (uint64_t v = 0; v < nvars; v++) {
        uint64_t nlen = get_be(&r, nsz);
        if (nlen > NC_NAME_MAX && !r.eof) goto long_name;
        size_t keep = nlen < sizeof name - 1 ? (size_t)nlen : sizeof name - 1;
        if (!r.eof && fread(name, 1, keep, f) != keep) r.eof = 1;
        name[keep] = 0;
        r.pos += keep;
        skip(&r, pad4(nlen) - keep);
        uint64_t nd = get_be(&r, nsz), bytes = 1;
        if (r.eof) goto cut;
        if (nd > MAX_DIMS) {
            snprintf(msg, n, "corrupt netCDF-3 header: variable '%s' has %" PRIu64 " dimensions", name, nd);
            return -1;
        }
        int is_rec = 0;
        for (uint64_t k = 0; k < nd; k++) {
            uint64_t id = get_be(&r, nsz);
            if (r.eof) goto cut;
            if (id >= ndims) {
                snprintf(msg, n, "corrupt netCDF-3 header: variable '%s' uses dimension %" PRIu64 " of %" PRIu64, name,
                         id, ndims);
                return -1;
            }
            if (k == 0 && dimlen[id] == 0) is_rec = 1;
            else if (!mul_ok(bytes, dimlen[id], &bytes)) goto huge;
        }
        if (skip_atts(&r, nsz, msg, n)) return -1;
        uint64_t t = get_be(&r, 4);
        get_be(&r, nsz); /* vsize: recomputed from the dimensions (it overflows for large variables) */
        uint64_t begin = get_be(&r, osz);
        if (r.eof) goto cut;
        if (!type_size(t)) {
            snprintf(msg, n, "corrupt netCDF-3 header: variable '%s' has type %" PRIu64, name, t);
            return -1;
        }
        if (!mul_ok(bytes, (uint64_t)type_size(t), &bytes)) goto huge;
        if (is_rec) {
            nrec++;
            if (__builtin_add_overflow(recsize, pad4(bytes), &recsize)) goto huge;
            if (begin >= last_rec_begin) last_rec_begin = begin, last_rec_bytes = bytes, snprintf(rec_name, sizeof rec_name, "%s", name);
        } else {
            uint64_t end;
            if (__builtin_add_overflow(begin, bytes, &end)) goto huge;
            if (end > size) {
                snprintf(msg, n, "truncated: the header puts variable '%s' at bytes %" PRIu64 "..%" PRIu64
                         ", but the file has %" PRIu64 " bytes", name, begin, end, size);
                return -1;
            }
        }
    }
    /* one record variable alone is not padded (the netCDF classic format's special case) */
    if (nrec == 1) recsize = last_rec_bytes;
    if (nrec && numrecs != streaming && numrecs > 0) {
        uint64_t end;
        if (!mul_ok(numrecs - 1, recsize, &end) || __builtin_add_overflow(end, last_rec_begin + last_rec_bytes, &end))
            goto huge;
        if (end > size) {
            snprintf(msg, n, "truncated: the header declares %" PRIu64 " records of %" PRIu64 " bytes (the last ends "
                     "with variable '%s' at byte %" PRIu64 "), but the file has %" PRIu64 " bytes (%" PRIu64
                     " complete records)", numrecs, recsize, rec_name, end, size,
                     size > last_rec_begin + last_rec_bytes && recsize ? (size - last_rec_begin - last_rec_bytes) / recsize + 1 : 0);
            return -1;
        }
    }
    return 0;
cut:
    snprintf(msg, n, "truncated: the netCDF-3 header itself is cut off (the file has %" PRIu64 " bytes)", size);
    return -1;
huge:
    snprintf(msg, n, "corrupt netCDF-3 header: variable '%s' is larger than 2^64 bytes", name);
    return -1;
long_name: /* libnetcdf copies names into NC_MAX_NAME + 1 bytes without checking */
    snprintf(msg, n, "corrupt netCDF-3 header: a name longer than %d bytes", NC_NAME_MAX);
    return -1;
}

/* HDF5: the superblock (at 0, 512, 1024, ... ) records the end-of-file address */
static int check_hdf5(FILE *f, uint64_t at, uint64_t size, char *msg, size_t n) {
    unsigned char b[96];
    if (fseeko(f, (off_t)at, SEEK_SET)) return 0;
    size_t got = fread(b, 1, sizeof b, f);
    if (got < 16) goto cut;
    int ver = b[8], osz, eof_at;
    if (ver <= 1) {
        osz = b[13];
        eof_at = 24 + (ver == 1 ? 4 : 0) + 2 * osz; /* base, free-space info, then end of file */
    } else if (ver <= 3) {
        osz = b[9];
        eof_at = 12 + 2 * osz; /* base, superblock extension, then end of file */
    } else {
        return 0;
    }
    if (osz != 2 && osz != 4 && osz != 8) return 0;
    if ((size_t)(eof_at + osz) > got) goto cut;
    uint64_t base = 0, eof = 0;
    for (int i = osz - 1; i >= 0; i--) eof = eof << 8 | b[eof_at + i]; /* HDF5 is little-endian */
    for (int i = osz - 1; i >= 0; i--) base = base << 8 | b[eof_at - 2 * osz + i];
    if (eof == UINT64_MAX || (osz < 8 && eof == (UINT64_C(1) << (8 * osz)) - 1)) return 0; /* undefined */
    if (!__builtin_add_overflow(eof, base, &eof) && eof > size) {
        snprintf(msg, n, "truncated: the HDF5 superblock says the file ends at byte %" PRIu64 ", but it has %" PRIu64
                 " bytes", eof, size);
        return -1;
    }
    return 0;
cut:
    snprintf(msg, n, "truncated: the HDF5 superblock is cut off (the file has %" PRIu64 " bytes)", size);
    return -1;
}

/* GRIB: every message states its total length (GRIB1: 3 bytes at offset 4; GRIB2: 8 bytes at
 * offset 8); ecCodes allocates that much before reading, so a header claiming gigabytes in a
 * small file costs gigabytes. Messages are followed while the next one starts right after. */
static int check_grib(FILE *f, uint64_t at, uint64_t size, char *msg, size_t n) {
    for (int k = 1; at + 16 <= size; k++) {
        unsigned char h[16];
        if (fseeko(f, (off_t)at, SEEK_SET) || fread(h, 1, 16, f) != 16 || memcmp(h, "GRIB", 4)) return 0;
        uint64_t len = 0;
        if (h[7] == 1) {
            len = (uint64_t)h[4] << 16 | (uint64_t)h[5] << 8 | h[6];
            if (len & 0x800000) return 0; /* ECMWF's large GRIB1 length encoding: ecCodes judges it */
        } else if (h[7] == 2) {
            for (int i = 8; i < 16; i++) len = len << 8 | h[i];
        } else {
            return 0;
        }
        if (len < 16 || len > size - at) {
            snprintf(msg, n, "message %d is cut off: the file is truncated (the message at byte %" PRIu64 " declares %"
                     PRIu64 " bytes, %" PRIu64 " remain)", k, at, len, size - at);
            return -1;
        }
        at += len;
    }
    return 0;
}

int input_size_check(const char *path, char *msg, size_t n) {
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) return zarr_check(path, msg, n);
    if (stat(path, &st) || !S_ISREG(st.st_mode)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char m[8] = {0};
    size_t got = fread(m, 1, 8, f);
    int rc = 0;
    static const unsigned char hdf[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    if (got >= 4 && m[0] == 'C' && m[1] == 'D' && m[2] == 'F' && (m[3] == 1 || m[3] == 2 || m[3] == 5)) {
        fseeko(f, 4, SEEK_SET);
        rc = check_nc3(f, m[3], (uint64_t)st.st_size, msg, n);
    } else if (fseeko(f, 0, SEEK_SET) == 0) {
        unsigned char b[4096];
        size_t k = fread(b, 1, sizeof b, f);
        for (size_t i = 0; i + 4 <= k; i++) /* the first message, possibly after a header */
            if (!memcmp(b + i, "GRIB", 4)) {
                rc = check_grib(f, i, (uint64_t)st.st_size, msg, n);
                goto done;
            }
        /* the signature may follow a user block of 512, 1024, 2048, ... bytes */
        for (uint64_t at = 0; at + 8 <= (uint64_t)st.st_size && at <= (UINT64_C(1) << 20); at = at ? 2 * at : 512) {
            unsigned char s[8];
            if (fseeko(f, (off_t)at, SEEK_SET) || fread(s, 1, 8, f) != 8) break;
            if (!memcmp(s, hdf, 8)) {
                rc = check_hdf5(f, at, (uint64_t)st.st_size, msg, n);
                break;
            }
        }
    }
done:
    fclose(f);
    return rc;
}
