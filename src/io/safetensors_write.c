/* Writing safetensors files atomically (io/safetensors.h): tensors and metadata are collected,
 * then laid out largest element first and written under a temporary name that is renamed over
 * the destination. Reading is io/safetensors.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "io/safetensors.h"

typedef struct WEntry {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_NDIM];
    const void *data;
    uint64_t nbytes, begin;
} WEntry;

struct StWriter {
    int nmeta, n, cap_meta, cap;
    char **meta_key, **meta_val;
    WEntry *e;
};

StWriter *st_writer_new(void) { return xcalloc(1, sizeof(StWriter)); }

void st_writer_meta(StWriter *w, const char *key, const char *value) {
    for (int k = 0; k < w->nmeta; k++) {
        if (strcmp(w->meta_key[k], key) == 0) {
            free(w->meta_val[k]);
            w->meta_val[k] = xstrdup(value);
            return;
        }
    }
    if (w->nmeta == w->cap_meta) {
        w->cap_meta = w->cap_meta ? 2 * w->cap_meta : 8;
        w->meta_key = realloc(w->meta_key, (size_t)w->cap_meta * sizeof *w->meta_key);
        w->meta_val = realloc(w->meta_val, (size_t)w->cap_meta * sizeof *w->meta_val);
        CHECK(w->meta_key && w->meta_val, "out of memory growing safetensors metadata");
    }
    w->meta_key[w->nmeta] = xstrdup(key);
    w->meta_val[w->nmeta] = xstrdup(value);
    w->nmeta++;
}

void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data) {
    CHECK(st_dtype_size(dtype) > 0, "st_writer_add('%s'): invalid dtype %d", name, (int)dtype);
    CHECK(ndim >= 0 && ndim <= ST_MAX_NDIM, "st_writer_add('%s'): ndim %d not in [0, %d]", name,
          ndim, ST_MAX_NDIM);
    CHECK(strcmp(name, "__metadata__") != 0, "st_writer_add: '__metadata__' is reserved");
    for (int k = 0; k < w->n; k++)
        CHECK(strcmp(w->e[k].name, name) != 0, "st_writer_add: duplicate tensor name '%s'", name);
    WEntry e = {.dtype = dtype, .ndim = ndim, .data = data};
    uint64_t bytes = st_dtype_size(dtype);
    int zero = 0;
    for (int d = 0; d < ndim; d++) {
        CHECK(shape[d] >= 0, "st_writer_add('%s'): negative dim %lld", name, (long long)shape[d]);
        e.shape[d] = shape[d];
        if (shape[d] == 0) zero = 1;
        else {
            CHECK(bytes <= (uint64_t)INT64_MAX / (uint64_t)shape[d],
                  "st_writer_add('%s'): size overflows", name);
            bytes *= (uint64_t)shape[d];
        }
    }
    e.nbytes = zero ? 0 : bytes;
    CHECK(data || e.nbytes == 0, "st_writer_add('%s'): NULL data for %llu bytes", name,
          (unsigned long long)e.nbytes);
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->e = realloc(w->e, (size_t)w->cap * sizeof *w->e);
        CHECK(w->e, "out of memory growing the safetensors writer");
    }
    e.name = xstrdup(name);
    w->e[w->n++] = e;
}

static void writer_free(StWriter *w) {
    for (int k = 0; k < w->nmeta; k++) {
        free(w->meta_key[k]);
        free(w->meta_val[k]);
    }
    for (int k = 0; k < w->n; k++) free(w->e[k].name);
    free(w->meta_key);
    free(w->meta_val);
    free(w->e);
    free(w);
}

static int write_all(int fd, const void *buf, uint64_t n) {
    const uint8_t *p = buf;
    while (n) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t r = write(fd, p, chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = EIO;
            return -1;
        }
        p += r;
        n -= (uint64_t)r;
    }
    return 0;
}

/* Makes the rename itself durable. Best effort: the file is already complete at path,
   so a failure here is not worth reporting as a failed write. */
static void fsync_parent_dir(const char *path) {
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else if (slash == dir) slash[1] = '\0';
    else *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

int st_writer_finish(StWriter *w, const char *path, char *err, size_t errlen) {
    if (err && errlen) err[0] = '\0';
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1) { /* compilers without __BYTE_ORDER__ (safetensors.h) */
        writer_free(w);
        snprintf(err, errlen, "%s: safetensors writing needs a little-endian host", path);
        return -1;
    }
    /* Largest elements first: every offset stays a multiple of its element size with
       no padding between tensors. */
    uint64_t off = 0;
    for (size_t sz = 8; sz >= 1; sz /= 2)
        for (int k = 0; k < w->n; k++)
            if (st_dtype_size(w->e[k].dtype) == sz) {
                w->e[k].begin = off;
                off += w->e[k].nbytes;
            }

    JsonBuf h = {0};
    json_buf_puts(&h, "{");
    if (w->nmeta) {
        json_buf_puts(&h, "\"__metadata__\":{");
        for (int k = 0; k < w->nmeta; k++) {
            if (k) json_buf_puts(&h, ",");
            json_buf_put_string(&h, w->meta_key[k]);
            json_buf_puts(&h, ":");
            json_buf_put_string(&h, w->meta_val[k]);
        }
        json_buf_puts(&h, "}");
    }
    for (int k = 0; k < w->n; k++) {
        const WEntry *e = &w->e[k];
        if (k || w->nmeta) json_buf_puts(&h, ",");
        json_buf_put_string(&h, e->name);
        json_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) json_buf_printf(&h, "%s%lld", d ? "," : "", (long long)e->shape[d]);
        json_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)e->begin,
                        (unsigned long long)(e->begin + e->nbytes));
    }
    json_buf_puts(&h, "}");
    /* Pad with spaces (valid JSON whitespace) so the data buffer starts 8-aligned. */
    while ((8 + h.len) % 8) json_buf_puts(&h, " ");

    int rc = -1, fd = -1;
    char *tmp = NULL;
    if (h.len > ST_MAX_HEADER) {
        snprintf(err, errlen, "%s: cannot write: header of %zu bytes exceeds the %llu-byte limit", path, h.len,
                 (unsigned long long)ST_MAX_HEADER);
        goto done;
    }
    size_t tlen = strlen(path) + 32;
    tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s.tmp.%ld", path, (long)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write: cannot create %s: %s", path, tmp, strerror(errno));
        goto done;
    }
    uint8_t len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (uint8_t)((uint64_t)h.len >> (8 * k));
    const char *step = "write";
    int bad = write_all(fd, len8, 8) || write_all(fd, h.s, h.len);
    for (size_t sz = 8; sz >= 1 && !bad; sz /= 2)
        for (int k = 0; k < w->n && !bad; k++)
            if (st_dtype_size(w->e[k].dtype) == sz) bad = write_all(fd, w->e[k].data, w->e[k].nbytes);
    if (!bad && fsync(fd) != 0) { step = "fsync"; bad = 1; }
    if (bad) {
        snprintf(err, errlen, "%s: cannot write: %s of %s failed: %s", path, step, tmp, strerror(errno));
        goto done;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {   /* network filesystems report deferred write errors here */
        snprintf(err, errlen, "%s: cannot write: close of %s failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: rename of %s failed: %s", path, tmp, strerror(errno));
        goto done;
    }
    fsync_parent_dir(path);
    rc = 0;
done:
    if (fd >= 0) close(fd);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    json_buf_free(&h);
    writer_free(w);
    return rc;
}
