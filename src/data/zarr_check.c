#include "data/zarr_check.h"
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/json.h"

/* metadata is a few hundred bytes; the bound keeps the JSON tree's memory (~30x) small */
enum { META_MAX = 4 << 20, MAX_DEPTH = 32, MAX_RANK = 32 };
static const int64_t MAX_LEN = INT64_C(1) << 40;

typedef struct {
    const char *root; /* the store, as the user named it */
    char *msg;
    size_t n;
} Zc;

static int zfail(Zc *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int zfail(Zc *z, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(z->msg, z->n, fmt, ap);
    va_end(ap);
    return -1;
}

/* a path cut at 4096 bytes names no file: stat() fails and the message shows it */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

/* "rel/file", or "file" at the store's top: how messages name a file inside the store */
static void rel_name(char *out, size_t n, const char *rel, const char *file) {
    snprintf(out, n, "%s%s%s", rel, *rel ? "/" : "", file);
}

static void full_path(const Zc *z, char *out, size_t n, const char *rel, const char *file) {
    snprintf(out, n, "%s/%s%s%s", z->root, rel, *rel ? "/" : "", file);
}

static void dir_path(const Zc *z, char *out, size_t n, const char *rel) {
    snprintf(out, n, "%s%s%s", z->root, *rel ? "/" : "", rel);
}

static int exists(const Zc *z, const char *rel, const char *file) {
    char p[4096];
    struct stat st;
    full_path(z, p, sizeof p, rel, file);
    return stat(p, &st) == 0;
}

/* a value as a message shows it */
static const char *show(const JsonValue *v, char *b, size_t n) {
    if (!v) return "absent";
    if (v->type == JSON_NUMBER) snprintf(b, n, "%.17g", v->num);
    else if (v->type == JSON_STRING) snprintf(b, n, "\"%.60s\"", v->str);
    else if (v->type == JSON_ARRAY) snprintf(b, n, "a list of %zu", v->n);
    else snprintf(b, n, "%s", v->type == JSON_OBJECT ? "an object" : json_type_name(v->type));
    return b;
}

/* *out NULL when the file is absent; -1 when it is unreadable, too large, not JSON or no object */
static int load(Zc *z, const char *rel, const char *file, JsonValue **out) {
    char p[4096], name[4096];
    *out = NULL;
    full_path(z, p, sizeof p, rel, file);
    rel_name(name, sizeof name, rel, file);
    FILE *f = fopen(p, "rb");
    if (!f) return errno == ENOENT ? 0 : zfail(z, "%s: cannot be read (%s)", name, strerror(errno));
    char *buf = malloc((size_t)META_MAX + 1);
    size_t len = buf ? fread(buf, 1, (size_t)META_MAX + 1, f) : 0;
    fclose(f);
    if (!buf) return zfail(z, "out of memory reading %s", name);
    if (len > META_MAX) {
        free(buf);
        return zfail(z, "%s: over %d MiB; Zarr metadata is a small JSON object", name, META_MAX >> 20);
    }
    char jerr[600];
    JsonValue *v = json_parse(buf, len, META_MAX, name, jerr, sizeof jerr);
    free(buf);
    if (!v) return zfail(z, "%s (expected Zarr v2 metadata: a JSON object)", jerr);
    if (v->type != JSON_OBJECT) {
        zfail(z, "%s: a JSON %s; expected an object (Zarr v2 metadata)", name, json_type_name(v->type));
        json_free(v);
        return -1;
    }
    *out = v;
    return 0;
}

static int check_format(Zc *z, const char *name, const JsonValue *v) {
    int64_t f;
    char b[96];
    if (json_as_int64(json_get(v, "zarr_format"), 2, 2, &f))
        return zfail(z, "%s: \"zarr_format\" is %s; expected 2 (lvit reads Zarr v2)", name, show(json_get(v, "zarr_format"), b, sizeof b));
    return 0;
}

/* NCZarr's _NCZARR_GROUP lists the group's dimensions, variables and subgroups; libnetcdf opens
 * each listed variable's .zarray without checking that it exists */
static int check_group(Zc *z, const char *rel, const JsonValue *g) {
    char name[4096], b[96];
    rel_name(name, sizeof name, rel, ".zgroup");
    if (check_format(z, name, g)) return -1;
    const JsonValue *ng = json_get(g, "_NCZARR_GROUP");
    if (!ng) return 0;
    const JsonValue *dims = json_get(ng, "dims"), *lists[2] = {json_get(ng, "vars"), json_get(ng, "groups")};
    if (ng->type != JSON_OBJECT || !dims || dims->type != JSON_OBJECT || !lists[0] || lists[0]->type != JSON_ARRAY ||
        (lists[1] && lists[1]->type != JSON_ARRAY))
        return zfail(z, "%s: \"_NCZARR_GROUP\" must be an object with \"dims\" (an object of lengths), \"vars\" and "
                     "\"groups\" (lists of names)", name);
    for (size_t i = 0; i < dims->n; i++) {
        int64_t len;
        if (json_as_int64(&dims->items[i], 0, MAX_LEN, &len))
            return zfail(z, "%s: dimension '%s' has length %s; expected a whole number >= 0", name, dims->keys[i],
                         show(&dims->items[i], b, sizeof b));
    }
    static const char *const kind[2] = {"variable", "group"}, *const meta[2] = {".zarray", ".zgroup"};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < json_len(lists[k]); i++) {
            const char *s = json_as_string(json_at(lists[k], i));
            if (!s || !*s || s[0] == '.' || strchr(s, '/'))
                return zfail(z, "%s: a %s name in \"_NCZARR_GROUP\" is %s; expected the name of a folder", name,
                             kind[k], show(json_at(lists[k], i), b, sizeof b));
            char sub[4096], shown[4096];
            snprintf(sub, sizeof sub, "%s/%s", s, meta[k]);
            rel_name(shown, sizeof shown, rel, sub);
            if (!exists(z, rel, sub))
                return zfail(z, "%s lists the %s '%s', but the store has no %s (its folder is missing or incomplete)",
                             name, kind[k], s, shown);
        }
    return 0;
}

/* an NCZarr dimension reference "/grp/name" names a dimension in that group's _NCZARR_GROUP */
static int dim_declared(Zc *z, const char *ref) {
    const char *s = ref[0] == '/' ? ref + 1 : ref, *slash = strrchr(s, '/');
    if (strstr(s, "..")) return 0; /* stays inside the store */
    char grp[4096] = "";
    if (slash) snprintf(grp, sizeof grp, "%.*s", (int)(slash - s), s);
    const char *dim = slash ? slash + 1 : s;
    JsonValue *g;
    load(z, grp, ".zgroup", &g); /* unreadable: not declared (the caller's message replaces load's) */
    int found = json_get(json_get(json_get(g, "_NCZARR_GROUP"), "dims"), dim) != NULL;
    json_free(g);
    return found;
}

/* numeric dtypes libnetcdf reads, and NCZarr's text ("<U1"); anything else ("|O", "<c8",
 * "|S1", "<M8[ns]") crashes or misreads it. Returns the item size, 0 when refused, -1 for text. */
static int dtype_size(const char *dt) {
    if (!dt || strlen(dt) != 3 || !strchr("<>|", dt[0])) return 0;
    if ((dt[1] == 'i' || dt[1] == 'u') && strchr("1248", dt[2])) return dt[2] - '0';
    if (dt[1] == 'f' && (dt[2] == '4' || dt[2] == '8')) return dt[2] - '0';
    return dt[1] == 'U' && dt[2] == '1' ? -1 : 0; /* text: NCZarr writes a byte per character, numpy 4 */
}

/* a list of whole numbers in [lo, MAX_LEN]; its length, or -1 */
static int int_list(const JsonValue *v, int64_t lo, int64_t *out) {
    if (!v || v->type != JSON_ARRAY || v->n > MAX_RANK) return -1;
    for (size_t i = 0; i < v->n; i++)
        if (json_as_int64(&v->items[i], lo, MAX_LEN, &out[i])) return -1;
    return (int)v->n;
}

/* an uncompressed, unfiltered chunk holds exactly prod(chunks) values (edge chunks are padded),
 * so a chunk file of another size is damaged; libnetcdf reads a short one without a word. Chunk
 * files are walked under the array's folder (nested with dimension_separator "/"). */
static int check_chunk_sizes(Zc *z, const char *dir, const char *label, uint64_t want, int depth) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st)) continue;
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) rc = check_chunk_sizes(z, p, label, want, depth + 1);
        else if (S_ISREG(st.st_mode) && (uint64_t)st.st_size != want)
            rc = zfail(z, "%s: chunk %s has %" PRIu64 " bytes; an uncompressed chunk of this array has %" PRIu64
                       " (truncated or damaged)", label, p, (uint64_t)st.st_size, want);
    }
    closedir(d);
    return rc;
}

/* Without a fill value (null) a missing chunk has no defined cells (Zarr v2 spec); libnetcdf
 * returns zeros for it, which would be trained on as data. */
static int check_missing_chunks(Zc *z, const char *rel, const char *label, const int64_t *shape,
                                const int64_t *chunks, int rank, const char *sep) {
    uint64_t count = 1;
    int64_t nch[MAX_RANK], idx[MAX_RANK] = {0};
    for (int i = 0; i < rank; i++) {
        nch[i] = (shape[i] + chunks[i] - 1) / chunks[i];
        if (__builtin_mul_overflow(count, (uint64_t)nch[i], &count)) return 0;
    }
    if (count > (UINT64_C(1) << 24)) return 0; /* stat()ing more costs more than libnetcdf's reading */
    for (uint64_t k = 0; k < count; k++) {
        char key[1024] = "0";
        size_t len = 0;
        for (int i = 0; i < rank && len < sizeof key; i++)
            len += (size_t)snprintf(key + len, sizeof key - len, "%s%" PRId64, i ? sep : "", idx[i]);
        if (!exists(z, rel, key)) {
            char p[4096], name[4096];
            full_path(z, p, sizeof p, rel, key);
            rel_name(name, sizeof name, rel, ".zarray");
            return zfail(z, "%s: chunk %s is missing and %s declares no fill value (\"fill_value\": null), so its "
                         "cells have no value; restore the chunk, or set a fill_value to mark them missing", label, p, name);
        }
        for (int i = rank - 1; i >= 0; i--) {
            if (++idx[i] < nch[i]) break;
            idx[i] = 0;
        }
    }
    return 0;
}

static int check_array(Zc *z, const char *rel, const JsonValue *a, const JsonValue *attrs) {
    char name[4096], b[96];
    const char *label = *rel ? rel : "the array";
    rel_name(name, sizeof name, rel, ".zarray");
    if (check_format(z, name, a)) return -1;
    int64_t shape[MAX_RANK], chunks[MAX_RANK];
    int rank = int_list(json_get(a, "shape"), 0, shape);
    if (rank < 0)
        return zfail(z, "%s: \"shape\" is %s; expected a list of at most %d whole numbers >= 0", name,
                     show(json_get(a, "shape"), b, sizeof b), MAX_RANK);
    if (int_list(json_get(a, "chunks"), 1, chunks) != rank)
        return zfail(z, "%s: \"chunks\" is %s; expected a list of %d whole numbers >= 1 (one per dimension of the shape)",
                     name, show(json_get(a, "chunks"), b, sizeof b), rank);
    const char *dt = json_as_string(json_get(a, "dtype"));
    int item = dtype_size(dt);
    if (!item)
        return zfail(z, "%s: \"dtype\" is %s; expected a number type lvit reads: <f4, <f8, <i1..<i8, <u1..<u8 (or > for "
                     "big-endian)", name, show(json_get(a, "dtype"), b, sizeof b));
    const JsonValue *comp = json_get(a, "compressor"), *filt = json_get(a, "filters"), *fill = json_get(a, "fill_value");
    if (!comp || (comp->type != JSON_NULL && !json_as_string(json_get(comp, "id"))))
        return zfail(z, "%s: \"compressor\" is %s; expected null or an object with an \"id\"", name, show(comp, b, sizeof b));
    if (filt && filt->type != JSON_NULL && filt->type != JSON_ARRAY)
        return zfail(z, "%s: \"filters\" is %s; expected null or a list", name, show(filt, b, sizeof b));
    const char *fs = json_as_string(fill);
    if (!fill || (fill->type != JSON_NULL && fill->type != JSON_NUMBER &&
                  !(fs && (!strcmp(fs, "NaN") || !strcmp(fs, "Infinity") || !strcmp(fs, "-Infinity")))))
        return zfail(z, "%s: \"fill_value\" is %s; expected null, a number, \"NaN\", \"Infinity\" or \"-Infinity\"", name,
                     show(fill, b, sizeof b));
    const char *order = json_as_string(json_get(a, "order")), *sep = ".";
    if (!order || (strcmp(order, "C") && strcmp(order, "F")))
        return zfail(z, "%s: \"order\" is %s; expected \"C\" or \"F\"", name, show(json_get(a, "order"), b, sizeof b));
    const JsonValue *ds = json_get(a, "dimension_separator");
    if (ds && ds->type != JSON_NULL) {
        sep = json_as_string(ds);
        if (!sep || (strcmp(sep, ".") && strcmp(sep, "/")))
            return zfail(z, "%s: \"dimension_separator\" is %s; expected \".\" or \"/\"", name, show(ds, b, sizeof b));
    }
    /* NCZarr writes a scalar as shape [1] without dimensions */
    const JsonValue *nca = json_get(a, "_NCZARR_ARRAY");
    const char *storage = json_as_string(json_get(nca, "storage"));
    int scalar = rank == 1 && shape[0] == 1 && storage && !strcmp(storage, "scalar");
    char aname[4096];
    rel_name(aname, sizeof aname, rel, ".zattrs");
    const JsonValue *names = json_get(attrs, "_ARRAY_DIMENSIONS");
    if (names) {
        size_t k = json_len(names);
        for (size_t i = 0; i < k; i++)
            if (!json_as_string(json_at(names, i))) k = (size_t)-1;
        if (names->type != JSON_ARRAY || k == (size_t)-1)
            return zfail(z, "%s: \"_ARRAY_DIMENSIONS\" is %s; expected a list of %d dimension names", aname,
                         show(names, b, sizeof b), rank);
        if (k != (size_t)rank && !(scalar && k == 0))
            return zfail(z, "%s: \"_ARRAY_DIMENSIONS\" has %zu names; expected %d, one per dimension of the shape in %s",
                         aname, k, rank, name);
    }
    if (nca) {
        const JsonValue *refs = json_get(nca, "dimrefs");
        if (scalar && json_len(refs) == 0)
            return zfail(z, "%s: an NCZarr scalar variable (\"storage\": \"scalar\"), which libnetcdf 4.9.0 crashes "
                         "reading; copy the store without it (nccopy -V with the other variables)", name);
        if (nca->type != JSON_OBJECT || !refs || refs->type != JSON_ARRAY || refs->n != (size_t)rank)
            return zfail(z, "%s: \"_NCZARR_ARRAY\" needs \"dimrefs\", a list of %d dimension names (one per dimension of "
                         "the shape); it has %s", name, rank, refs && refs->type == JSON_ARRAY ? "another length" : "none");
        for (size_t i = 0; i < refs->n; i++) {
            const char *r = json_as_string(&refs->items[i]);
            if (!r || !dim_declared(z, r))
                return zfail(z, "%s: dimension %s of \"dimrefs\" is not declared in the \"dims\" of its group's .zgroup",
                             name, show(&refs->items[i], b, sizeof b));
        }
    }
    char dir[4096];
    dir_path(z, dir, sizeof dir, rel);
    uint64_t want = item > 0 ? (uint64_t)item : 0;
    for (int i = 0; i < rank; i++)
        if (__builtin_mul_overflow(want, (uint64_t)chunks[i], &want)) want = 0;
    if (comp->type == JSON_NULL && (!filt || filt->type == JSON_NULL) && rank > 0 && want &&
        check_chunk_sizes(z, dir, label, want, 0))
        return -1;
    if (fill->type == JSON_NULL) return check_missing_chunks(z, rel, label, shape, chunks, rank, sep);
    return 0;
}

/* a group or array folder and, under a group, its subfolders with Zarr metadata */
static int walk(Zc *z, const char *rel, int depth) {
    JsonValue *g = NULL, *at = NULL, *ar = NULL;
    int rc = load(z, rel, ".zgroup", &g);
    if (!rc) rc = load(z, rel, ".zattrs", &at);
    if (!rc) rc = load(z, rel, ".zarray", &ar);
    /* NCZarr 1.0 kept its own metadata beside Zarr's */
    static const char *const v1[] = {".nczgroup", ".nczattr", ".nczarray", ".nczmeta"};
    for (int i = 0; !rc && i < 4; i++) {
        JsonValue *x;
        rc = load(z, rel, v1[i], &x);
        json_free(x);
    }
    if (!rc && g) rc = check_group(z, rel, g);
    if (!rc && ar) rc = check_array(z, rel, ar, at);
    int array = ar != NULL;
    json_free(g), json_free(at), json_free(ar);
    if (rc || array || depth >= MAX_DEPTH) return rc;
    char dir[4096];
    dir_path(z, dir, sizeof dir, rel);
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[4096];
        rel_name(sub, sizeof sub, rel, e->d_name);
        if (exists(z, sub, ".zgroup") || exists(z, sub, ".zarray") || exists(z, sub, ".nczgroup") ||
            exists(z, sub, ".nczarray"))
            rc = walk(z, sub, depth + 1);
    }
    closedir(d);
    return rc;
}

int zarr_check(const char *root, char *msg, size_t n) {
    Zc z = {.root = root, .msg = msg, .n = n};
    if (n) msg[0] = 0;
    return walk(&z, "", 0);
}
