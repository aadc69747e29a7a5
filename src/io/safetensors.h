/* safetensors files: reader (memory-mapped, validated; safetensors.c) and atomic writer
 * (safetensors_write.c).
 *
 * Layout: 8-byte little-endian uint64 N, N bytes of UTF-8 JSON header, then the data
 * buffer. Header: {"__metadata__": {str: str, ...} (optional),
 *                  "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * with offsets relative to the start of the data buffer (docs/formats.md).
 *
 * Files come from users, so st_open treats them as hostile: any truncated, corrupted
 * or crafted file is an error message naming the file, never a crash, a hang or a
 * huge allocation (memory stays within a few times the header, itself at most 100 MB).
 * Both sides assume a little-endian host; the build fails on anything else.
 */
#ifndef LVIT_SAFETENSORS_H
#define LVIT_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

/* Tensor bytes are copied as-is between memory and file, which is only right when the
   host's byte order is the format's. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lvit's safetensors I/O assumes a little-endian host"
#endif

enum { ST_MAX_NDIM = 8 };
#define ST_MAX_HEADER ((uint64_t)100000000)   /* same limit as the reference implementation */

typedef enum { ST_F32, ST_F16, ST_BF16, ST_F64, ST_I64, ST_I32, ST_I16, ST_I8, ST_U8, ST_BOOL } StDtype;

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[ST_MAX_NDIM];
    uint64_t begin, end;             /* byte range in StFile.data */
} StTensor;

typedef struct StFile {
    char *path;
    int n;                           /* tensors, in header order */
    StTensor *t;
    int nmeta;
    char **meta_key, **meta_val;
    /* Tensor bytes start at data + t->begin. Files from lvit or Python keep every tensor
       naturally aligned (padded header, largest dtypes first); other files need not,
       so use memcpy or st_read_f32 rather than casting the pointer. */
    const uint8_t *data;
    uint64_t data_size;
    void *map;                       /* the whole file, mmap'ed read-only */
    size_t map_len;
} StFile;

const char *st_dtype_name(StDtype d);   /* "F32", ... */
size_t st_dtype_size(StDtype d);        /* bytes per element */

/* 0 ok; -1 with err = "<path>: what was wrong" and *f zeroed (st_close is still safe). */
int st_open(StFile *f, const char *path, char *err, size_t errlen);
const StTensor *st_find(const StFile *f, const char *name);     /* NULL if absent */
const char *st_meta(const StFile *f, const char *key);          /* NULL if absent */
int64_t st_numel(const StTensor *t);
/* Copies tensor `name` into dst as float32, converting from F32/F16/BF16/F64. Its shape
   must equal (ndim, shape) exactly. 0 ok; -1 with err naming the file, the tensor and
   the expected and found shape/dtype. */
int st_read_f32(const StFile *f, const char *name, float *dst, int ndim, const int64_t *shape,
                char *err, size_t errlen);
void st_close(StFile *f);

/* Writer: collect metadata and tensors, then st_writer_finish writes
 * "<path>.tmp.<pid>", fsyncs it and renames it over path, so a crash or a full disk
 * never leaves a half-written file at path. Header order is the order of the calls;
 * data is laid out largest element size first so every tensor is naturally aligned
 * and the buffer has no gaps (as the Python library requires). Misuse (duplicate
 * name, ndim > 8, negative dim) is a programming error and dies. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void);
void st_writer_meta(StWriter *w, const char *key, const char *value);  /* copies; same key replaces */
/* data (numel * dtype size bytes) is NOT copied: it must stay valid until finish. */
void st_writer_add(StWriter *w, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                   const void *data);
/* Frees w. 0 ok; -1 with err naming the path and strerror, and path left untouched. */
int st_writer_finish(StWriter *w, const char *path, char *err, size_t errlen);

#endif
