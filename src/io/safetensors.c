/* Reading safetensors files (io/safetensors.h): st_open maps the file and validates its header
 * against the data before anything is handed out; st_read_f32 converts floating-point tensors.
 * Writing is io/safetensors_write.c. */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/json.h"

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static const struct { const char *name; size_t size; } DTYPES[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2},  [ST_I8] = {"I8", 1},
    [ST_U8] = {"U8", 1},   [ST_BOOL] = {"BOOL", 1},
};
enum { N_DTYPES = sizeof DTYPES / sizeof *DTYPES };

const char *st_dtype_name(StDtype d) { return (unsigned)d < N_DTYPES ? DTYPES[d].name : "?"; }
size_t st_dtype_size(StDtype d) { return (unsigned)d < N_DTYPES ? DTYPES[d].size : 0; }

static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (!err || !errlen) return -1;
    int n = snprintf(err, errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

int64_t st_numel(const StTensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static void fmt_shape(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && o < len; d++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

/* ---------------------------------------------------------------- reader */

/* The header is walked with a pull reader that follows the expected schema, instead of
   being parsed into a DOM first: a crafted header full of tiny values ("0,0,0,...") would
   otherwise cost ~30x its size in memory. This way memory is what we keep: a StTensor
   and a name per entry, which takes at least ~50 bytes of text (a crafted 93 MB header
   of such entries peaks at ~230 MB of heap). */

enum { ST_MAX_META = 4096 };   /* metadata pairs; lvit writes a few dozen */

static int read_dims(JsonReader *r, const char *name, const char *field, int64_t *out, int max,
                     int *n) {
    if (json_read_peek(r) != '[')
        return json_reader_fail(r, "tensor '%.200s': %s must be an array of at most %d integers",
                                name, field, max);
    r->p++;
    *n = 0;
    if (json_read_peek(r) == ']') {
        r->p++;
        return 0;
    }
    for (;;) {
        JsonValue v;
        if (*n == max)
            return json_reader_fail(r, "tensor '%.200s': %s must be an array of at most %d "
                                    "integers", name, field, max);
        if (json_read_number(r, &v)) return -1;
        if (json_as_int64(&v, 0, INT64_MAX, &out[*n]))
            return json_reader_fail(r, "tensor '%.200s': %s[%d] is not a non-negative integer",
                                    name, field, *n);
        (*n)++;
        int c = json_read_peek(r);
        if (c == ']') {
            r->p++;
            return 0;
        }
        if (json_read_expect(r, ',')) return -1;
    }
}

/* Checks shape, dtype and offsets against each other and the data buffer, so that
   later reads can trust begin/end without further checks. */
static int check_entry(JsonReader *r, StTensor *t, const char *name, const int64_t off[2],
                       uint64_t data_size) {
    int64_t numel = 1;
    int overflow = 0;
    for (int d = 0; d < t->ndim; d++)   /* a zero dim makes the product 0 whatever the others */
        if (t->shape[d] == 0) numel = 0;
    for (int d = 0; d < t->ndim && numel; d++) {
        if (numel > INT64_MAX / t->shape[d]) { overflow = 1; break; }
        numel *= t->shape[d];
    }
    size_t esz = DTYPES[t->dtype].size;
    char s[256];
    fmt_shape(s, sizeof s, t->ndim, t->shape);
    if (overflow || (uint64_t)numel > UINT64_MAX / esz)
        return json_reader_fail(r, "tensor '%.200s': shape %s is too large", name, s);
    if (off[0] > off[1] || (uint64_t)off[1] > data_size)
        return json_reader_fail(r, "tensor '%.200s': data_offsets [%lld, %lld] outside the data "
                                "buffer of %llu bytes", name, (long long)off[0], (long long)off[1],
                                (unsigned long long)data_size);
    t->begin = (uint64_t)off[0];
    t->end = (uint64_t)off[1];
    if (t->end - t->begin != (uint64_t)numel * esz)
        return json_reader_fail(r, "tensor '%.200s': %s %s needs %llu bytes but data_offsets span "
                                "%llu", name, DTYPES[t->dtype].name, s,
                                (unsigned long long)((uint64_t)numel * esz),
                                (unsigned long long)(t->end - t->begin));
    return 0;
}

/* {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, members in any order. */
static int read_entry(JsonReader *r, StTensor *t, const char *name, uint64_t data_size) {
    if (json_read_peek(r) != '{')
        return json_reader_fail(r, "tensor '%.200s': entry must be an object with dtype, shape "
                                "and data_offsets", name);
    r->p++;
    int have_dtype = 0, have_shape = 0, have_off = 0, noff = 0;
    int64_t off[2] = {0, 0};
    if (json_read_peek(r) == '}') r->p++;
    else for (;;) {
        char *key;
        if (json_read_string(r, &key)) return -1;
        int rc = json_read_expect(r, ':');
        int *seen = !strcmp(key, "dtype") ? &have_dtype : !strcmp(key, "shape") ? &have_shape
                  : !strcmp(key, "data_offsets") ? &have_off : NULL;
        if (!rc && !seen)
            rc = json_reader_fail(r, "tensor '%.200s': unknown field \"%.100s\"", name, key);
        else if (!rc && (*seen)++)
            rc = json_reader_fail(r, "tensor '%.200s': duplicate field \"%s\"", name, key);
        else if (!rc && seen == &have_dtype) {
            char *ds = NULL;
            if (json_read_peek(r) != '"')
                rc = json_reader_fail(r, "tensor '%.200s': dtype is not a string", name);
            else if (!(rc = json_read_string(r, &ds))) {
                int found = -1;
                for (int k = 0; k < N_DTYPES; k++)
                    if (strcmp(ds, DTYPES[k].name) == 0) found = k;
                if (found < 0)
                    rc = json_reader_fail(r, "tensor '%.200s': unsupported dtype \"%.40s\" (lvit "
                                          "reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)",
                                          name, ds);
                t->dtype = (StDtype)(found < 0 ? 0 : found);
            }
            free(ds);
        } else if (!rc && seen == &have_shape) {
            rc = read_dims(r, name, "shape", t->shape, ST_MAX_NDIM, &t->ndim);
        } else if (!rc) {
            rc = read_dims(r, name, "data_offsets", off, 2, &noff);
            if (!rc && noff != 2)
                rc = json_reader_fail(r, "tensor '%.200s': data_offsets must be [begin, end]", name);
        }
        free(key);
        if (rc) return -1;
        if (json_read_peek(r) == '}') {
            r->p++;
            break;
        }
        if (json_read_expect(r, ',')) return -1;
    }
    if (!have_dtype || !have_shape || !have_off)
        return json_reader_fail(r, "tensor '%.200s': missing field \"%s\"", name,
                                !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    return check_entry(r, t, name, off, data_size);
}

static int read_meta(JsonReader *r, StFile *f) {
    if (json_read_peek(r) != '{')
        return json_reader_fail(r, "__metadata__ must be an object of strings");
    r->p++;
    if (json_read_peek(r) == '}') {
        r->p++;
        return 0;
    }
    for (int cap = 0;;) {
        char *key, *val;
        if (json_read_string(r, &key)) return -1;
        if (json_read_expect(r, ':')) {
            free(key);
            return -1;
        }
        if (json_read_peek(r) != '"') {
            json_reader_fail(r, "__metadata__ value of \"%.100s\" is not a string", key);
            free(key);
            return -1;
        }
        if (json_read_string(r, &val)) {
            free(key);
            return -1;
        }
        if (f->nmeta == ST_MAX_META) {
            free(key);
            free(val);
            return json_reader_fail(r, "__metadata__ has more than %d entries", ST_MAX_META);
        }
        if (f->nmeta == cap) {
            cap = cap ? 2 * cap : 16;
            f->meta_key = realloc(f->meta_key, (size_t)cap * sizeof *f->meta_key);
            f->meta_val = realloc(f->meta_val, (size_t)cap * sizeof *f->meta_val);
            CHECK(f->meta_key && f->meta_val, "out of memory reading safetensors metadata");
        }
        f->meta_key[f->nmeta] = key;
        f->meta_val[f->nmeta] = val;
        f->nmeta++;
        if (json_read_peek(r) == '}') {
            r->p++;
            return 0;
        }
        if (json_read_expect(r, ',')) return -1;
    }
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(**(char *const *const *)a, **(char *const *const *)b);
}

/* Sorting keeps a crafted header with a million names from taking quadratic time. */
static const char *find_duplicate(char **names, int n, size_t stride) {
    if (n < 2) return NULL;
    char ***s = xmalloc((size_t)n * sizeof *s);
    for (int k = 0; k < n; k++) s[k] = (char **)((char *)names + (size_t)k * stride);
    qsort(s, (size_t)n, sizeof *s, cmp_name);
    const char *dup = NULL;
    for (int k = 1; k < n && !dup; k++)
        if (strcmp(*s[k - 1], *s[k]) == 0) dup = *s[k];
    free(s);
    return dup;
}

static int cmp_range(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Overlapping tensors would alias: a crafted file could make every name point at the
   same bytes. */
static int check_overlap(JsonReader *r, const StFile *f) {
    if (f->n < 2) return 0;
    const StTensor **s = xmalloc((size_t)f->n * sizeof *s);
    for (int k = 0; k < f->n; k++) s[k] = &f->t[k];
    qsort(s, (size_t)f->n, sizeof *s, cmp_range);
    const StTensor *last = s[0];   /* the tensor reaching furthest so far */
    int rc = 0;
    for (int k = 1; k < f->n && !rc; k++) {
        if (s[k]->begin < last->end)
            rc = json_reader_fail(r, "tensors '%.200s' [%llu, %llu) and '%.200s' [%llu, %llu) "
                                  "overlap", last->name, (unsigned long long)last->begin,
                                  (unsigned long long)last->end, s[k]->name,
                                  (unsigned long long)s[k]->begin, (unsigned long long)s[k]->end);
        if (s[k]->end >= last->end) last = s[k];
    }
    free(s);
    return rc;
}

static int read_header(JsonReader *r, StFile *f) {
    if (json_read_peek(r) != '{') return json_reader_fail(r, "header must be a JSON object");
    r->p++;
    int cap = 0, have_meta = 0;
    if (json_read_peek(r) == '}') r->p++;
    else for (;;) {
        char *key;
        if (json_read_string(r, &key)) return -1;
        if (json_read_expect(r, ':')) {
            free(key);
            return -1;
        }
        if (strcmp(key, "__metadata__") == 0) {
            free(key);
            if (have_meta++) return json_reader_fail(r, "duplicate key \"__metadata__\"");
            if (read_meta(r, f)) return -1;
        } else {
            if (f->n == INT32_MAX) {
                free(key);
                return json_reader_fail(r, "too many tensors");
            }
            if (f->n == cap) {
                cap = cap ? 2 * cap : 64;
                f->t = realloc(f->t, (size_t)cap * sizeof *f->t);
                CHECK(f->t, "out of memory reading a safetensors header (%d tensors)", cap);
            }
            StTensor *t = &f->t[f->n];
            memset(t, 0, sizeof *t);
            t->name = key;
            f->n++;   /* now owned by f, freed by st_close even if the entry is bad */
            if (read_entry(r, t, key, f->data_size)) return -1;
        }
        if (json_read_peek(r) == '}') {
            r->p++;
            break;
        }
        if (json_read_expect(r, ',')) return -1;
    }
    if (json_read_end(r)) return -1;
    if (f->n && f->n < cap) {
        StTensor *t = realloc(f->t, (size_t)f->n * sizeof *t);
        if (t) f->t = t;
    }
    const char *dup = f->n > 1 ? find_duplicate(&f->t[0].name, f->n, sizeof(StTensor)) : NULL;
    if (!dup) dup = find_duplicate(f->meta_key, f->nmeta, sizeof(char *));
    if (dup) return json_reader_fail(r, "duplicate key \"%.200s\"", dup);
    return check_overlap(r, f);
}

int st_open(StFile *f, const char *path, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    if (err && errlen) err[0] = '\0';
    if (!host_is_little_endian())
        return fail(err, errlen, path, "safetensors reading needs a little-endian host");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return fail(err, errlen, path, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return fail(err, errlen, path, "not a regular file");
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return fail(err, errlen, path, "file is %llu bytes, too short for a safetensors file "
                    "(truncated?)", (unsigned long long)size);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) return fail(err, errlen, path, "cannot mmap: %s", strerror(map_errno));
    f->map = map;
    f->map_len = (size_t)size;
    f->path = xstrdup(path);

    const uint8_t *base = map;
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--) hlen = hlen << 8 | base[k];
    if (hlen > size - 8) {
        fail(err, errlen, path, "header length %llu exceeds the %llu bytes after the length field "
             "(truncated or not a safetensors file)", (unsigned long long)hlen,
             (unsigned long long)(size - 8));
        st_close(f);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        fail(err, errlen, path, "header length %llu exceeds the limit of %llu bytes",
             (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        st_close(f);
        return -1;
    }
    f->data = base + 8 + hlen;
    f->data_size = size - 8 - hlen;
    char jerr[1024];
    JsonReader r;
    json_reader_init(&r, (const char *)base + 8, (size_t)hlen, "header", jerr, sizeof jerr);
    if (read_header(&r, f)) {
        fail(err, errlen, path, "%s", jerr);
        st_close(f);
        return -1;
    }
    return 0;
}

const StTensor *st_find(const StFile *f, const char *name) {
    for (int k = 0; k < f->n; k++)
        if (strcmp(f->t[k].name, name) == 0) return &f->t[k];
    return NULL;
}

const char *st_meta(const StFile *f, const char *key) {
    for (int k = 0; k < f->nmeta; k++)
        if (strcmp(f->meta_key[k], key) == 0) return f->meta_val[k];
    return NULL;
}

/* Exact: every half value is a float value. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        float v = (float)man * 0x1p-24f;   /* zero or subnormal */
        return sign ? -v : v;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

int st_read_f32(const StFile *f, const char *name, float *dst, int ndim, const int64_t *shape,
                char *err, size_t errlen) {
    const char *path = f->path ? f->path : "(safetensors file not open)";
    const StTensor *t = st_find(f, name);
    if (!t) return fail(err, errlen, path, "no tensor named '%.200s'", name);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    int floaty = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64;
    if (!same || !floaty) {
        char want[256], got[256];
        fmt_shape(want, sizeof want, ndim, shape);
        fmt_shape(got, sizeof got, t->ndim, t->shape);
        return fail(err, errlen, path, "tensor '%.200s': expected a floating-point tensor of shape "
                    "%s, found %s %s", name, want, DTYPES[t->dtype].name, got);
    }
    const uint8_t *src = f->data + t->begin;
    size_t n = (size_t)st_numel(t);
    switch (t->dtype) {
    case ST_F32:
        if (n) memcpy(dst, src, n * 4);
        break;
    case ST_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = f16_to_f32(h);
        }
        break;
    case ST_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[i], &bits, 4);
        }
        break;
    case ST_F64:
        for (size_t i = 0; i < n; i++) {
            double x;
            memcpy(&x, src + 8 * i, 8);
            /* A finite double beyond float range would silently become inf. */
            if (isfinite(x) && fabs(x) > FLT_MAX)
                return fail(err, errlen, path, "tensor '%.200s': element %zu = %g is outside "
                            "the float32 range", name, i, x);
            dst[i] = (float)x;
        }
        break;
    default:
        break;
    }
    return 0;
}

void st_close(StFile *f) {
    if (f->map) munmap(f->map, f->map_len);
    for (int k = 0; k < f->n; k++) free(f->t[k].name);
    free(f->t);
    for (int k = 0; k < f->nmeta; k++) {
        free(f->meta_key[k]);
        free(f->meta_val[k]);
    }
    free(f->meta_key);
    free(f->meta_val);
    free(f->path);
    memset(f, 0, sizeof *f);
}
