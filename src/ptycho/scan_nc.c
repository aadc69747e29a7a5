/* Scans and reconstructions as netCDF (libnetcdf). Every error names the file and the variable. */
#include <errno.h>
#include <netcdf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "ptycho/outfile.h"
#include "ptycho/scan.h"

/* the first of the names the file has, or -1 */
static int find_var(int nc, const char *a, const char *b, const char **found) {
    int v;
    if (nc_inq_varid(nc, a, &v) == NC_NOERR) return *found = a, v;
    if (b && nc_inq_varid(nc, b, &v) == NC_NOERR) return *found = b, v;
    return -1;
}

/* The variable's shape into len[0..nd) when it has exactly nd dimensions; else -1 with err */
static int var_shape(int nc, int v, const char *path, const char *name, int nd, size_t *len, char *err, size_t errlen) {
    int ndims, dims[NC_MAX_VAR_DIMS];
    nc_inq_varndims(nc, v, &ndims);
    if (ndims != nd) {
        snprintf(err, errlen, "%s: variable '%s' has %d dimensions, expected %d", path, name, ndims, nd);
        return -1;
    }
    nc_inq_vardimid(nc, v, dims);
    for (int i = 0; i < nd; i++) nc_inq_dimlen(nc, dims[i], &len[i]);
    return 0;
}

/* A complex [a, b] pair name_real / name_imag; absent (both) is fine, *out stays NULL; with out NULL
 * only the shape is read */
static int read_complex(int nc, const char *path, const char *base, size_t a, size_t b, float complex **out,
                        size_t *got_a, size_t *got_b, char *err, size_t errlen) {
    char rn[64], in[64];
    snprintf(rn, sizeof rn, "%s_real", base), snprintf(in, sizeof in, "%s_imag", base);
    int vr, vi, hr = nc_inq_varid(nc, rn, &vr) == NC_NOERR, hi = nc_inq_varid(nc, in, &vi) == NC_NOERR;
    if (!hr && !hi) return 0;
    if (hr != hi) {
        snprintf(err, errlen, "%s: has '%s' but no variable '%s'", path, hr ? rn : in, hr ? in : rn);
        return -1;
    }
    size_t lr[2], li[2];
    if (var_shape(nc, vr, path, rn, 2, lr, err, errlen) || var_shape(nc, vi, path, in, 2, li, err, errlen)) return -1;
    if (lr[0] != li[0] || lr[1] != li[1] || (a && (lr[0] != a || lr[1] != b))) {
        snprintf(err, errlen, "%s: '%s' is %zux%zu and '%s' %zux%zu, but the frames are %zux%zu", path, rn, lr[0], lr[1],
                 in, li[0], li[1], a, b);
        return -1;
    }
    if ((double)lr[0] * lr[1] > PTY_MAX_OBJECT_PIXELS) {
        snprintf(err, errlen, "%s: '%s' is %zux%zu, above the limit of %ld pixels (8192 x 8192) for an object", path,
                 rn, lr[0], lr[1], (long)PTY_MAX_OBJECT_PIXELS);
        return -1;
    }
    size_t m = lr[0] * lr[1];
    *got_a = lr[0], *got_b = lr[1];
    if (!out) return 0;
    char what[4200];
    snprintf(what, sizeof what, "'%s' / '%s' (%zux%zu) of %s", rn, in, lr[0], lr[1], path);
    float *re = pty_alloc(sizeof(float) * m, what), *im = pty_alloc(sizeof(float) * m, what);
    int rc = nc_get_var_float(nc, vr, re);
    if (rc == NC_NOERR) rc = nc_get_var_float(nc, vi, im);
    if (rc != NC_NOERR) {
        snprintf(err, errlen, "%s: cannot read '%s': %s", path, rn, nc_strerror(rc));
        free(re), free(im);
        return -1;
    }
    *out = pty_alloc(sizeof(float complex) * m, what);
    for (size_t i = 0; i < m; i++) (*out)[i] = re[i] + I * im[i];
    free(re), free(im);
    *got_a = lr[0], *got_b = lr[1];
    return 0;
}

/* frames = 0: everything but the frames (s->counts stays NULL); truth = 0: the truth's shape only */
static int scan_read(PtyScan *s, const char *path, int frames, int truth, char *err, size_t errlen) {
    memset(s, 0, sizeof *s);
    int nc, rc = nc_open(path, NC_NOWRITE, &nc);
    if (rc != NC_NOERR) {
        snprintf(err, errlen, "%s: cannot open as netCDF: %s", path, nc_strerror(rc));
        return -1;
    }
    const char *fname = NULL, *pname = NULL;
    size_t fl[3], pl[2], h = 0, w = 0;
    int vf = find_var(nc, "frames", "diffraction", &fname), vp = find_var(nc, "positions", "scan_px", &pname);
    if (vf < 0) {
        snprintf(err, errlen, "%s: no variable 'frames' (or 'diffraction') with the diffraction patterns", path);
        goto fail;
    }
    if (vp < 0) {
        snprintf(err, errlen, "%s: no variable 'positions' (or 'scan_px') with the scan positions in pixels", path);
        goto fail;
    }
    if (var_shape(nc, vf, path, fname, 3, fl, err, errlen) || var_shape(nc, vp, path, pname, 2, pl, err, errlen)) goto fail;
    if (fl[1] != fl[2] || fl[1] < 4 || fl[0] < 1) {
        snprintf(err, errlen, "%s: '%s' is %zux%zux%zu: frames must be square, at least 4x4, and one or more", path,
                 fname, fl[0], fl[1], fl[2]);
        goto fail;
    }
    if (pl[0] != fl[0] || pl[1] != 2) {
        snprintf(err, errlen, "%s: '%s' is %zux%zu, expected %zux2 (one (row, column) per frame of '%s')", path, pname,
                 pl[0], pl[1], fl[0], fname);
        goto fail;
    }
    s->N = (int)fl[0], s->n = (int)fl[1];
    char what[4200];
    snprintf(what, sizeof what, "the %zu frames %zux%zu of %s", fl[0], fl[1], fl[2], path);
    if (frames) s->counts = pty_alloc(sizeof(float) * fl[0] * fl[1] * fl[2], what);
    s->pos = xmalloc(sizeof(float) * 2 * fl[0]);
    if ((frames && (rc = nc_get_var_float(nc, vf, s->counts)) != NC_NOERR) ||
        (rc = nc_get_var_float(nc, vp, s->pos)) != NC_NOERR) {
        snprintf(err, errlen, "%s: cannot read '%s' / '%s': %s", path, fname, pname, nc_strerror(rc));
        goto fail;
    }
    size_t pa = 0, pb = 0;
    if (read_complex(nc, path, "probe", fl[1], fl[2], &s->probe, &pa, &pb, err, errlen)) goto fail;
    if (read_complex(nc, path, "object_true", 0, 0, truth ? &s->obj : NULL, &h, &w, err, errlen)) goto fail;
    if (h && (h < fl[1] || w < fl[1])) {
        snprintf(err, errlen, "%s: object_true_real is %zux%zu, smaller than the %zux%zu frames", path, h, w, fl[1], fl[2]);
        goto fail;
    }
    s->H = (int)h, s->W = (int)w;
    nc_close(nc);
    return 0;
fail:
    nc_close(nc);
    pty_scan_free(s);
    return -1;
}

int pty_scan_read(PtyScan *s, const char *path, char *err, size_t errlen) { return scan_read(s, path, 1, 1, err, errlen); }
int pty_scan_read_meta(PtyScan *s, const char *path, int truth, char *err, size_t errlen) {
    return scan_read(s, path, 0, truth, err, errlen);
}

int pty_scan_read_frames(float *counts, const char *path, const int *idx, int m, int n, char *err, size_t errlen) {
    int nc, v, rc = nc_open(path, NC_NOWRITE, &nc);
    const char *name = NULL;
    if (rc != NC_NOERR) {
        snprintf(err, errlen, "%s: cannot open as netCDF: %s", path, nc_strerror(rc));
        return -1;
    }
    if ((v = find_var(nc, "frames", "diffraction", &name)) < 0) {
        snprintf(err, errlen, "%s: no variable 'frames' (or 'diffraction') with the diffraction patterns", path);
        nc_close(nc);
        return -1;
    }
    /* Files chunked over many frames (other writers): a cache that holds the chunks under one frame
     * decompresses each chunk once over the ascending reads, not once per frame (at most 64 MiB). */
    int storage;
    size_t ch[3] = {0, 0, 0};
    if (nc_inq_var_chunking(nc, v, &storage, ch) == NC_NOERR && storage == NC_CHUNKED && ch[0] > 1) {
        size_t per = ch[0] * ch[1] * ch[2] * sizeof(float) * ((n + ch[1] - 1) / ch[1]) * ((n + ch[2] - 1) / ch[2]);
        nc_set_var_chunk_cache(nc, v, per < (64u << 20) ? per + (1u << 20) : (64u << 20), 1009, 0.75f);
    }
    const size_t nn = (size_t)n * n;
    for (int i = 0; i < m;) { /* runs of consecutive frames in one read each */
        int e = i + 1;
        while (e < m && idx[e] == idx[e - 1] + 1) e++;
        size_t start[3] = {(size_t)idx[i], 0, 0}, cnt[3] = {(size_t)(e - i), (size_t)n, (size_t)n};
        if ((rc = nc_get_vara_float(nc, v, start, cnt, counts + nn * i)) != NC_NOERR) {
            snprintf(err, errlen, "%s: cannot read frames %d..%d of '%s': %s", path, idx[i], idx[e - 1], name,
                     nc_strerror(rc));
            nc_close(nc);
            return -1;
        }
        i = e;
    }
    nc_close(nc);
    return 0;
}

static void nc_err(char *err, size_t errlen, const char *path, int rc, const char *call) {
    snprintf(err, errlen, "%s: cannot write netCDF: %s (%s)", path, nc_strerror(rc), call);
}
/* a failing call leaves its message in err and jumps to the writer's cleanup */
#define NC(call) do { int rc_ = (call); if (rc_ != NC_NOERR) { nc_err(err, errlen, path, rc_, #call); goto fail; } } while (0)

/* the closed temporary synced to disk and renamed to path: path is absent or complete */
static int finish(const char *tmp, const char *path, char *err, size_t errlen) {
    int e = pty_fsync_path(tmp);
    if (!e && rename(tmp, path)) e = errno;
    if (!e) return 0;
    snprintf(err, errlen, "%s: cannot write (from %s): %s", path, tmp, strerror(e));
    return -1;
}

/* name_real and name_imag over dims */
static int def_complex(int nc, const char *base, const int *dims, int *vr, int *vi) {
    char rn[64], in[64];
    snprintf(rn, sizeof rn, "%s_real", base), snprintf(in, sizeof in, "%s_imag", base);
    int rc = nc_def_var(nc, rn, NC_FLOAT, 2, dims, vr);
    if (rc == NC_NOERR) rc = nc_def_var(nc, in, NC_FLOAT, 2, dims, vi);
    return rc;
}

static int put_complex(int nc, int vr, int vi, const float complex *z, size_t m) {
    float *b = pty_alloc(sizeof(float) * m, "a copy of the result to write");
    for (size_t i = 0; i < m; i++) b[i] = crealf(z[i]);
    int rc = nc_put_var_float(nc, vr, b);
    for (size_t i = 0; i < m && rc == NC_NOERR; i++) b[i] = cimagf(z[i]);
    if (rc == NC_NOERR) rc = nc_put_var_float(nc, vi, b);
    free(b);
    return rc;
}

static int put_text(int nc, int var, const char *name, const char *value) {
    return nc_put_att_text(nc, var, name, strlen(value), value);
}

/* written to "<path>.tmp.<pid>" and renamed, so a reader never sees half a file */
int pty_scan_write(const char *path, const PtyScan *s, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int nc = -1, dfr, dky, dkx, dax, dy, dx, vf, vp, vpr = 0, vpi = 0, vor = 0, voi = 0;
    NC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    NC(nc_def_dim(nc, "frame", (size_t)s->N, &dfr));
    NC(nc_def_dim(nc, "ky", (size_t)s->n, &dky));
    NC(nc_def_dim(nc, "kx", (size_t)s->n, &dkx));
    NC(nc_def_dim(nc, "axis", 2, &dax));
    int d3[3] = {dfr, dky, dkx}, dp[2] = {dfr, dax}, dk[2] = {dky, dkx};
    NC(nc_def_var(nc, "frames", NC_FLOAT, 3, d3, &vf));
    NC(nc_def_var_deflate(nc, vf, 1, 1, 1));
    /* one frame per chunk: a rank of a tiled run reads its frames one by one (pty_scan_read_frames) */
    size_t fchunk[3] = {1, (size_t)s->n, (size_t)s->n};
    NC(nc_def_var_chunking(nc, vf, NC_CHUNKED, fchunk));
    NC(put_text(nc, vf, "units", "photon counts"));
    NC(put_text(nc, vf, "comment", "FFT order: zero frequency at [0, 0]"));
    NC(nc_def_var(nc, "positions", NC_FLOAT, 2, dp, &vp));
    NC(put_text(nc, vp, "units", "object pixels"));
    NC(put_text(nc, vp, "comment", "minimum corner (row, column) of each probe window in the object"));
    if (s->probe) NC(def_complex(nc, "probe", dk, &vpr, &vpi));
    if (s->obj) {
        NC(nc_def_dim(nc, "y", (size_t)s->H, &dy));
        NC(nc_def_dim(nc, "x", (size_t)s->W, &dx));
        int dd[2] = {dy, dx};
        NC(def_complex(nc, "object_true", dd, &vor, &voi));
    }
    NC(put_text(nc, NC_GLOBAL, "title", "lvit ptycho simulate: far-field ptychography scan"));
    NC(put_text(nc, NC_GLOBAL, "source", "lvit " LVIT_VERSION));
    if (s->overlap > 0) NC(nc_put_att_double(nc, NC_GLOBAL, "overlap", NC_DOUBLE, 1, &s->overlap));
    NC(nc_enddef(nc));
    NC(nc_put_var_float(nc, vf, s->counts));
    NC(nc_put_var_float(nc, vp, s->pos));
    if (s->probe) NC(put_complex(nc, vpr, vpi, s->probe, (size_t)s->n * s->n));
    if (s->obj) NC(put_complex(nc, vor, voi, s->obj, (size_t)s->H * s->W));
    NC(nc_close(nc));
    nc = -1;
    if (finish(tmp, path, err, errlen)) goto fail;
    return 0;
fail:
    if (nc >= 0) nc_close(nc);
    unlink(tmp);
    return -1;
}

int pty_result_write(const char *path, const float complex *obj, const float complex *probe, const double *cost,
                     int iters, const PtyData *d, char *err, size_t errlen) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int nc = -1, dy, dx, dky, dkx, dit, dfr, dax, vor, voi, vpr, vpi, vc, vp;
    float *pos = xmalloc(sizeof(float) * 2 * (size_t)d->N);
    for (int i = 0; i < 2 * d->N; i++) pos[i] = (float)d->pos[i];
    NC(nc_create(tmp, NC_CLOBBER | NC_NETCDF4, &nc));
    NC(nc_def_dim(nc, "y", (size_t)d->H, &dy));
    NC(nc_def_dim(nc, "x", (size_t)d->W, &dx));
    NC(nc_def_dim(nc, "ky", (size_t)d->n, &dky));
    NC(nc_def_dim(nc, "kx", (size_t)d->n, &dkx));
    NC(nc_def_dim(nc, "iteration", (size_t)iters, &dit));
    NC(nc_def_dim(nc, "frame", (size_t)d->N, &dfr));
    NC(nc_def_dim(nc, "axis", 2, &dax));
    int dob[2] = {dy, dx}, dpr[2] = {dky, dkx}, dps[2] = {dfr, dax};
    NC(def_complex(nc, "object", dob, &vor, &voi));
    NC(def_complex(nc, "probe", dpr, &vpr, &vpi));
    NC(nc_def_var(nc, "cost", NC_DOUBLE, 1, &dit, &vc));
    NC(put_text(nc, vc, "comment", "sum over frames and pixels of (sqrt(|model|^2 + eps) - sqrt(counts + eps))^2 "
                                   "at the start of each iteration"));
    NC(nc_def_var(nc, "positions", NC_FLOAT, 2, dps, &vp));
    NC(put_text(nc, vp, "comment", "window min corners in this object's pixels (the file's positions + shift)"));
    NC(nc_put_att_double(nc, vp, "shift", NC_DOUBLE, 2, d->shift));
    NC(put_text(nc, NC_GLOBAL, "title", "lvit ptycho reconstruct: object and probe"));
    NC(put_text(nc, NC_GLOBAL, "source", "lvit " LVIT_VERSION));
    NC(nc_enddef(nc));
    NC(put_complex(nc, vor, voi, obj, (size_t)d->H * d->W));
    NC(put_complex(nc, vpr, vpi, probe, (size_t)d->n * d->n));
    if (iters > 0) NC(nc_put_var_double(nc, vc, cost));
    NC(nc_put_var_float(nc, vp, pos));
    NC(nc_close(nc));
    nc = -1;
    if (finish(tmp, path, err, errlen)) goto fail;
    free(pos);
    return 0;
fail:
    free(pos);
    if (nc >= 0) nc_close(nc);
    unlink(tmp);
    return -1;
}
