/* CXI ptychography scans through libhdf5 (conventions in ptycho/cxi.h). Every error names the file
 * and the dataset. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "core/check.h"
#include "ptycho/cxi.h"
#include "ptycho/outfile.h"

#define HC 1.98644586e-25   /* Planck constant times the speed of light, J m */

/* 1 when every component of the path p exists and the object it names does (soft links resolve) */
static int exists(hid_t f, const char *p) {
    char b[256];
    size_t L = strlen(p);
    if (L >= sizeof b) return 0;
    for (size_t i = 1; i <= L; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        memcpy(b, p, i), b[i] = 0;
        if (H5Lexists(f, b, H5P_DEFAULT) <= 0 || H5Oexists_by_name(f, b, H5P_DEFAULT) <= 0) return 0;
    }
    return 1;
}

/* the first of names[] that exists (copied into found), or -1 with err listing them all */
static hid_t open_first(hid_t f, const char *const *names, char *found, size_t flen, const char *path,
                        const char *what, char *err, size_t errlen) {
    for (int i = 0; names[i]; i++)
        if (exists(f, names[i])) {
            hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
            if (d < 0) break;
            snprintf(found, flen, "%s", names[i]);
            return d;
        }
    int o = snprintf(err, errlen, "%s: no %s: looked for", path, what);
    for (int i = 0; names[i] && o > 0 && (size_t)o < errlen; i++)
        o += snprintf(err + o, errlen - o, "%s '%s'", i ? " and" : "", names[i]);
    return -1;
}

/* The dataset's shape into dims (at most 4); -1 with err when it is not numeric */
static int shape(hid_t d, const char *path, const char *name, hsize_t *dims, char *err, size_t errlen) {
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    H5T_class_t cl = H5Tget_class(t);
    int nd = H5Sget_simple_extent_ndims(sp);
    if (nd >= 0 && nd <= 4) H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Tclose(t), H5Sclose(sp);
    if (cl != H5T_INTEGER && cl != H5T_FLOAT) {
        snprintf(err, errlen, "%s: dataset '%s' is not numeric (integer or float expected)", path, name);
        return -1;
    }
    if (nd < 0 || nd > 4) {
        snprintf(err, errlen, "%s: dataset '%s' has %d dimensions, expected at most 4", path, name, nd);
        return -1;
    }
    return nd;
}

/* A positive finite scalar (a scalar dataset or one of a single element); 0 when none of names exist
 * and optional, else -1 with err */
static int scalar(hid_t f, const char *const *names, int optional, const char *what, double *v, const char *path,
                  char *err, size_t errlen) {
    char found[96];
    *v = 0;
    hid_t d = open_first(f, names, found, sizeof found, path, what, err, errlen);
    if (d < 0) return optional ? (err[0] = 0, 0) : -1;
    hsize_t dims[4] = {0};
    int nd = shape(d, path, found, dims, err, errlen), rc = -1;
    hsize_t m = 1;
    for (int i = 0; i < nd; i++) m *= dims[i];
    if (nd < 0) goto out;
    if (m != 1) {
        snprintf(err, errlen, "%s: dataset '%s' has %llu values, expected one (%s)", path, found, (unsigned long long)m,
                 what);
        goto out;
    }
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) {
        snprintf(err, errlen, "%s: cannot read dataset '%s' (damaged or truncated file?)", path, found);
        goto out;
    }
    if (!isfinite(*v) || *v <= 0) {
        snprintf(err, errlen, "%s: dataset '%s' is %g, expected a positive %s", path, found, *v, what);
        goto out;
    }
    rc = 0;
out:
    H5Dclose(d);
    return rc;
}

/* a float dataset read whole; -1 with err */
static int read_float(hid_t d, const char *path, const char *name, float *buf, char *err, size_t errlen) {
    if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0) return 0;
    snprintf(err, errlen, "%s: cannot read dataset '%s' (damaged or truncated file?)", path, name);
    return -1;
}

static int read_frames(PtyCxi *c, hid_t f, const char *path, char *err, size_t errlen) {
    static const char *const names[] = {"entry_1/data_1/data", "entry_1/instrument_1/detector_1/data", NULL};
    hid_t d = open_first(f, names, c->frames_ds, sizeof c->frames_ds, path, "diffraction frames", err, errlen);
    if (d < 0) return -1;
    hsize_t dims[4];
    int nd = shape(d, path, c->frames_ds, dims, err, errlen), rc = -1;
    if (nd < 0) goto out;
    if (nd != 3 || dims[1] != dims[2] || dims[1] < 4 || dims[0] < 1 || dims[1] > 65536 || dims[0] > (1u << 24)) {
        snprintf(err, errlen, "%s: dataset '%s' must be N x n x n (square frames, n >= 4, N >= 1); it has %d dimensions "
                 "(%llu x %llu x %llu)", path, c->frames_ds, nd, (unsigned long long)dims[0],
                 (unsigned long long)(nd > 1 ? dims[1] : 0), (unsigned long long)(nd > 2 ? dims[2] : 0));
        goto out;
    }
    const int N = (int)dims[0], n = (int)dims[1];
    const size_t nn = (size_t)n * n;
    char what[4200];
    snprintf(what, sizeof what, "the %d frames %dx%d of %s", N, n, n, path);
    float *raw = pty_alloc(sizeof(float) * nn * N, what);
    c->scan.counts = pty_alloc(sizeof(float) * nn * N, what);
    c->scan.N = N, c->scan.n = n;
    if (read_float(d, path, c->frames_ds, raw, err, errlen)) goto done;
    c->fmin = INFINITY, c->fmax = -INFINITY;
    double sum = 0;
    for (int j = 0; j < N; j++)
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++) {
                float v = raw[nn * j + (size_t)y * n + x];
                if (!isfinite(v) || v < 0) {
                    snprintf(err, errlen, "%s: dataset '%s' has %g at frame %d, pixel (%d, %d): counts must be finite "
                             "and non-negative", path, c->frames_ds, v, j, y, x);
                    goto done;
                }
                c->fmin = fmin(c->fmin, v), c->fmax = fmax(c->fmax, v), sum += v;
                /* ifftshift: the detector centre (n/2, n/2) to [0, 0] */
                int ky = (y - n / 2 + n) % n, kx = (x - n / 2 + n) % n;
                c->scan.counts[nn * j + (size_t)ky * n + kx] = v;
            }
    c->fmean = sum / N;
    rc = 0;
done:
    free(raw);
out:
    H5Dclose(d);
    return rc;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int read_translations(PtyCxi *c, hid_t f, const char *path, char *err, size_t errlen) {
    static const char *const names[] = {"entry_1/data_1/translation", "entry_1/sample_1/geometry_1/translation", NULL};
    hid_t d = open_first(f, names, c->trans_ds, sizeof c->trans_ds, path, "scan translations", err, errlen);
    if (d < 0) return -1;
    hsize_t dims[4];
    int nd = shape(d, path, c->trans_ds, dims, err, errlen), rc = -1;
    const int N = c->scan.N;
    float *t = NULL;
    if (nd < 0) goto out;
    if (nd != 2 || (dims[1] != 3 && dims[1] != 2) || dims[0] != (hsize_t)N) {
        snprintf(err, errlen, "%s: dataset '%s' is %llu x %llu, expected %d x 3 (one x, y, z translation in metres per "
                 "frame of '%s')", path, c->trans_ds, (unsigned long long)dims[0],
                 (unsigned long long)(nd > 1 ? dims[1] : 0), N, c->frames_ds);
        goto out;
    }
    const int k = (int)dims[1];
    t = xmalloc(sizeof(float) * k * N);
    if (read_float(d, path, c->trans_ds, t, err, errlen)) goto out;
    c->scan.pos = xmalloc(sizeof(float) * 2 * N);
    for (int a = 0; a < 3; a++) c->tmin[a] = INFINITY, c->tmax[a] = -INFINITY;
    for (int j = 0; j < N; j++)
        for (int a = 0; a < k; a++) {
            double v = t[k * j + a];
            if (!isfinite(v)) {
                snprintf(err, errlen, "%s: dataset '%s' has %g at frame %d, axis %d: translations must be finite", path,
                         c->trans_ds, v, j, a);
                goto out;
            }
            c->tmin[a] = fmin(c->tmin[a], v), c->tmax[a] = fmax(c->tmax[a], v);
        }
    if (k == 2) c->tmin[2] = c->tmax[2] = 0;
    /* the probe moves by -translation: row from y, column from x */
    for (int j = 0; j < N; j++) {
        c->scan.pos[2 * j] = (float)(-t[k * j + 1] / c->dx[0]);
        c->scan.pos[2 * j + 1] = (float)(-t[k * j] / c->dx[1]);
    }
    /* the median nearest-neighbour step, for the far-field check */
    double *nn = xmalloc(sizeof(double) * N);
    for (int i = 0; i < N; i++) {
        double best = INFINITY;
        for (int j = 0; j < N; j++) {
            if (j == i) continue;
            double ex = t[k * i] - t[k * j], ey = t[k * i + 1] - t[k * j + 1];
            best = fmin(best, ex * ex + ey * ey);
        }
        nn[i] = sqrt(best);
    }
    qsort(nn, (size_t)N, sizeof(double), cmp_double);
    c->step = N > 1 ? nn[N / 2] : INFINITY;
    free(nn);
    rc = 0;
out:
    free(t);
    H5Dclose(d);
    return rc;
}

static int read_mask(PtyCxi *c, hid_t f, const char *path, char *err, size_t errlen) {
    static const char *const names[] = {"entry_1/instrument_1/detector_1/mask", "entry_1/data_1/mask", NULL};
    char *found = c->mask_ds;
    hid_t d = open_first(f, names, found, sizeof c->mask_ds, path, "mask", err, errlen);
    if (d < 0) return err[0] = 0, 0;
    hsize_t dims[4];
    const int n = c->scan.n;
    int nd = shape(d, path, found, dims, err, errlen), rc = -1;
    if (nd < 0) goto out;
    if (nd != 2 || dims[0] != (hsize_t)n || dims[1] != (hsize_t)n) {
        snprintf(err, errlen, "%s: dataset '%s' must be %d x %d like the frames of '%s'", path, found, n, n, c->frames_ds);
        goto out;
    }
    unsigned *m = xmalloc(sizeof(unsigned) * n * n);
    if (H5Dread(d, H5T_NATIVE_UINT, H5S_ALL, H5S_ALL, H5P_DEFAULT, m) < 0) {
        snprintf(err, errlen, "%s: cannot read dataset '%s' (damaged or truncated file?)", path, found);
        free(m);
        goto out;
    }
    c->mask = xmalloc((size_t)n * n);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            int bad = m[(size_t)y * n + x] != 0;
            c->mask[(size_t)y * n + x] = (unsigned char)bad;
            c->masked += bad;
            if (!bad) continue;
            const int ky = (y - n / 2 + n) % n, kx = (x - n / 2 + n) % n;
            for (int j = 0; j < c->scan.N; j++) c->scan.counts[(size_t)n * n * j + (size_t)ky * n + kx] = 0;
        }
    free(m);
    rc = 0;
out:
    H5Dclose(d);
    return rc;
}

static const char *const probe_names[] = {"entry_1/instrument_1/source_1/illumination", "entry_1/data_1/probe",
                                          "entry_1/instrument_1/source_1/probe", NULL};

/* an optional complex n x n probe (a compound of two floats, as h5py writes complex numbers) */
static int read_probe(PtyCxi *c, hid_t f, const char *path, char *err, size_t errlen) {
    hid_t d = open_first(f, probe_names, c->probe_ds, sizeof c->probe_ds, path, "probe", err, errlen);
    if (d < 0) return err[0] = 0, c->probe_ds[0] = 0, 0;
    const int n = c->scan.n;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d), mt = -1;
    hsize_t dims[4] = {0}, m = 1;
    int nd = H5Sget_simple_extent_ndims(sp), rc = -1;
    if (nd >= 0 && nd <= 4) H5Sget_simple_extent_dims(sp, dims, NULL);
    for (int i = 0; i < nd && nd <= 4; i++) m *= dims[i];
    if (H5Tget_class(t) != H5T_COMPOUND || H5Tget_nmembers(t) != 2 || nd < 2 || nd > 4 || m != (hsize_t)n * n ||
        dims[nd - 1] != (hsize_t)n) {
        snprintf(err, errlen, "%s: dataset '%s' must be a complex %d x %d probe (a compound of real and imaginary "
                 "parts)", path, c->probe_ds, n, n);
        goto out;
    }
    char *re = H5Tget_member_name(t, 0), *im = H5Tget_member_name(t, 1);
    mt = H5Tcreate(H5T_COMPOUND, sizeof(float complex));
    H5Tinsert(mt, re, 0, H5T_NATIVE_FLOAT), H5Tinsert(mt, im, sizeof(float), H5T_NATIVE_FLOAT);
    H5free_memory(re), H5free_memory(im);
    c->scan.probe = xmalloc(sizeof(float complex) * n * n);
    if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->scan.probe) < 0) {
        snprintf(err, errlen, "%s: cannot read dataset '%s' as complex numbers", path, c->probe_ds);
        goto out;
    }
    for (int i = 0; i < n * n; i++)
        if (!isfinite(crealf(c->scan.probe[i])) || !isfinite(cimagf(c->scan.probe[i]))) {
            snprintf(err, errlen, "%s: dataset '%s' has a non-finite value at %d", path, c->probe_ds, i);
            goto out;
        }
    rc = 0;
out:
    if (mt >= 0) H5Tclose(mt);
    H5Tclose(t), H5Sclose(sp), H5Dclose(d);
    return rc;
}

int pty_cxi_is(const char *path) {
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".cxi") || !strcasecmp(dot, ".h5") || !strcasecmp(dot, ".hdf5"))) return 1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (H5Fis_hdf5(path) <= 0) return 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return 0;
    int r = exists(f, "entry_1");
    H5Fclose(f);
    return r;
}

int pty_cxi_read(PtyCxi *c, const char *path, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);   /* errors are reported here, not printed by the library */
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    fclose(probe);
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(err, errlen, "%s: not an HDF5 file (a CXI file is HDF5)", path);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        snprintf(err, errlen, "%s: cannot open as HDF5 (damaged or truncated file?)", path);
        return -1;
    }
    static const char *const dist[] = {"entry_1/instrument_1/detector_1/distance", NULL};
    static const char *const px[] = {"entry_1/instrument_1/detector_1/x_pixel_size", NULL};
    static const char *const py[] = {"entry_1/instrument_1/detector_1/y_pixel_size", NULL};
    static const char *const en[] = {"entry_1/instrument_1/source_1/energy", NULL};
    static const char *const wl[] = {"entry_1/instrument_1/source_1/wavelength", NULL};
    if (read_frames(c, f, path, err, errlen)) goto fail;
    if (scalar(f, dist, 0, "detector distance in metres", &c->distance, path, err, errlen)) goto fail;
    if (scalar(f, px, 0, "detector pixel size in metres", &c->pixel[1], path, err, errlen)) goto fail;
    if (scalar(f, py, 1, "detector pixel size in metres", &c->pixel[0], path, err, errlen)) goto fail;
    if (c->pixel[0] == 0) c->pixel[0] = c->pixel[1];
    if (scalar(f, en, 1, "photon energy in joules", &c->energy, path, err, errlen)) goto fail;
    if (scalar(f, wl, 1, "wavelength in metres", &c->wavelength, path, err, errlen)) goto fail;
    if (c->energy > 0)
        c->wavelength = HC / c->energy;
    else if (c->wavelength == 0) {
        snprintf(err, errlen, "%s: no photon energy: looked for 'entry_1/instrument_1/source_1/energy' and "
                 "'entry_1/instrument_1/source_1/wavelength'", path);
        goto fail;
    }
    for (int a = 0; a < 2; a++) c->dx[a] = c->wavelength * c->distance / (c->scan.n * c->pixel[a]);
    if (read_translations(c, f, path, err, errlen)) goto fail;
    if (read_mask(c, f, path, err, errlen)) goto fail;
    if (read_probe(c, f, path, err, errlen)) goto fail;
    H5Fclose(f);
    return 0;
fail:
    H5Fclose(f);
    pty_cxi_free(c);
    return -1;
}

void pty_cxi_free(PtyCxi *c) {
    pty_scan_free(&c->scan);
    free(c->mask);
    c->mask = NULL;
}

int pty_cxi_far_field(const PtyCxi *c, char *why, size_t len) {
    if (c->scan.N < 2) {
        snprintf(why, len, "it holds %d frame: a ptychography scan needs 2 or more overlapping frames", c->scan.N);
        return -1;
    }
    const double half = c->wavelength * c->distance / (2 * fmax(c->pixel[0], c->pixel[1]));
    if (c->step < half) return 1;
    snprintf(why, len, "the median step between neighbouring positions, %.3g m, is not below lambda z / (2 p) = %.3g m, "
             "half the object window a far-field frame samples: frames this far apart cannot overlap in far-field "
             "geometry, so these are near-field (Fresnel) data, whose reconstruction lvit does not support",
             c->step, half);
    return 0;
}

void pty_cxi_summary(FILE *f, const PtyCxi *c, const char *path) {
    const PtyScan *s = &c->scan;
    const double p = fmax(c->pixel[0], c->pixel[1]), a = s->n * p;
    fprintf(f, "%s: CXI scan\n", path);
    fprintf(f, "  frames      %d x %d x %d from '%s'; counts %g .. %g, %.4g per frame\n", s->N, s->n, s->n,
            c->frames_ds, c->fmin, c->fmax, c->fmean);
    fprintf(f, "  geometry    distance %.6g m, pixel %.6g x %.6g m (y, x), energy %.6g J, wavelength %.6g m\n",
            c->distance, c->pixel[0], c->pixel[1], c->energy, c->wavelength);
    fprintf(f, "  far field   object pixel lambda z / (n p) = %.4g x %.4g m; detector Fresnel number (n p)^2 / "
            "(lambda z) = %.4g\n", c->dx[0], c->dx[1], a * a / (c->wavelength * c->distance));
    char step[64] = "none (one frame)";
    if (s->N > 1) snprintf(step, sizeof step, "%.4g m", c->step);
    fprintf(f, "  positions   '%s': x %.6g .. %.6g m, y %.6g .. %.6g m, z %.6g .. %.6g m; median step %s\n",
            c->trans_ds, c->tmin[0], c->tmax[0], c->tmin[1], c->tmax[1], c->tmin[2], c->tmax[2], step);
    fprintf(f, "  mask        %s, %ld bad pixels\n", c->mask ? "present" : "absent", c->masked);
    fprintf(f, "  probe       %s\n", c->probe_ds[0] ? c->probe_ds : "none stored");
    char why[512];
    const int ff = pty_cxi_far_field(c, why, sizeof why);
    if (ff > 0)
        fprintf(f, "  model       far field (median step %.3g m < lambda z / (2 p) = %.3g m): reconstructable\n", c->step,
                c->wavelength * c->distance / (2 * p));
    else
        fprintf(f, "  model       %s: %s\n", ff < 0 ? "not a scan" : "not far field", why);
}

int pty_scan_load(PtyScan *s, const char *path, const char *verb, char *err, size_t errlen) {
    if (!pty_cxi_is(path)) return pty_scan_read(s, path, err, errlen);
    PtyCxi c;
    if (pty_cxi_read(&c, path, err, errlen)) return memset(s, 0, sizeof *s), -1;
    char why[512];
    const long nn = (long)c.scan.n * c.scan.n;
    if (pty_cxi_far_field(&c, why, sizeof why) <= 0)
        snprintf(err, errlen, "%s: cannot %s: %s (lvit ptycho inspect %s shows the geometry)", path, verb, why, path);
    else if (c.masked == nn) /* every count zeroed: nothing left to fit */
        snprintf(err, errlen, "%s: cannot %s: dataset '%s' masks all %ld detector pixels (%d x %d), so no count is "
                 "left", path, verb, c.mask_ds, nn, c.scan.n, c.scan.n);
    else {
        if (c.masked) fprintf(stderr, "warning: %s: %ld masked detector pixels are set to zero counts\n", path, c.masked);
        *s = c.scan;
        free(c.mask);
        return 0;
    }
    pty_cxi_free(&c);
    return memset(s, 0, sizeof *s), -1;
}

int pty_probe_usable(const float complex *probe, int n, const char *path, char *err, size_t errlen) {
    const int cxi = pty_cxi_is(path);
    if (!probe) {
        int o = snprintf(err, errlen, "%s: no probe stored for --probe-init file (the default): looked for ", path);
        if (cxi)
            for (int i = 0; probe_names[i] && o > 0 && (size_t)o < errlen; i++)
                o += snprintf(err + o, errlen - o, "%s'%s'", i ? (probe_names[i + 1] ? ", " : " and ") : "", probe_names[i]);
        else if (o > 0 && (size_t)o < errlen)
            o += snprintf(err + o, errlen - o, "the variables 'probe_real' and 'probe_imag'");
        if (o > 0 && (size_t)o < errlen)
            snprintf(err + o, errlen - o, "; start from a guess instead: --probe-init pupil (with --pupil-radius and "
                     "--defocus) or --probe-init mean");
        return -1;
    }
    for (size_t k = 0; k < (size_t)n * n; k++)
        if (probe[k] != 0) return 0;
    snprintf(err, errlen, "%s: the stored probe (%s) is 0 at every pixel: it lights nothing; start from a guess instead: "
             "--probe-init pupil or --probe-init mean", path, cxi ? "a CXI probe dataset" : "'probe_real' / 'probe_imag'");
    return -1;
}
