/* Folders of JPEG/PNG (or GeoTIFF) images: labelled by a CSV (file,label[,label...], or the columns
 * --csv-columns names in its header), by one subfolder per class, or unlabelled (pretraining). */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/log.h"
#include "imagery/imagery.h"

typedef struct Strs {
    int n, cap;
    char **s;
} Strs;

static void strs_add(Strs *l, const char *x) {
    if (l->n == l->cap) l->s = xrealloc(l->s, sizeof(char *) * (size_t)(l->cap = l->cap ? 2 * l->cap : 64));
    l->s[l->n++] = xstrdup(x);
}

static void strs_free(Strs *l) {
    for (int i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_photo_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png") ||
                   !strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff"));
}

static int is_tiff_name(const char *n) {
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".tif") || !strcasecmp(dot, ".tiff"));
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Names in dir (sorted): photos into files, subfolders into dirs. */
static int list_dir(const char *dir, Strs *files, Strs *dirs, char *err, size_t errlen) {
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot list the folder", dir);
        return -1;
    }
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (dirs && is_dir(p)) strs_add(dirs, e->d_name);
        else if (files && is_photo_name(e->d_name)) strs_add(files, e->d_name);
    }
    closedir(d);
    if (files && files->n > 1) qsort(files->s, (size_t)files->n, sizeof(char *), cmp_str);
    if (dirs && dirs->n > 1) qsort(dirs->s, (size_t)dirs->n, sizeof(char *), cmp_str);
    return 0;
}

/* Splits one CSV line in place (double quotes, "" inside quotes); returns the cell count. */
static int csv_cells(char *line, char **cells, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        char *out = p, *start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) break;
                if (*p == '"' && p[1] == '"') *out++ = '"', p += 2;
                else if (*p == '"') { p++; break; }
                else *out++ = *p++;
            }
            while (*p && *p != ',') p++;
        } else {
            while (*p && *p != ',') *out++ = *p++;
        }
        char end = *p;
        *out = 0;
        while (out > start && (out[-1] == ' ' || out[-1] == '\r' || out[-1] == '\n')) *--out = 0;
        while (*start == ' ') start++;
        cells[n++] = start;
        if (end != ',') break;
        p++;
    }
    return n;
}

static int class_index(char (*classes)[LVIT_CLASS_NAME], int C, const char *name) {
    for (int c = 0; c < C; c++)
        if (strcmp(classes[c], name) == 0) return c;
    return -1;
}

static int all_integers(char (*classes)[LVIT_CLASS_NAME], int C) {
    for (int c = 0; c < C; c++) {
        const char *p = classes[c] + (classes[c][0] == '-');
        if (!*p) return 0;
        for (; *p; p++)
            if (!isdigit((unsigned char)*p)) return 0;
    }
    return 1;
}

static int cmp_num(const void *a, const void *b) {
    long x = atol((const char *)a), y = atol((const char *)b);
    return (x > y) - (x < y);
}
static int cmp_name(const void *a, const void *b) { return strcmp((const char *)a, (const char *)b); }

typedef struct Rows {
    Strs files;       /* paths */
    Strs labels;      /* per row: labels joined by '\n' */
} Rows;

/* The CSV's rows: image paths (checked to exist) and their label cells. */
static int read_csv(const char *csv, const char *dir, const ImageOptions *o, Rows *r, char *err, size_t errlen) {
    FILE *f = fopen(csv, "r");
    if (!f) {
        snprintf(err, errlen, "--labels %s: cannot open the labels CSV", csv);
        return -1;
    }
    char line[8192], *cells[256], colbuf[1024];
    int fcol = 0, lcols[64], nl = 0, row = 0, rc = -1, flattened = 0;
    const char *cols[65];
    int ncols = 0;
    if (o->csv_columns) {
        snprintf(colbuf, sizeof colbuf, "%s", o->csv_columns);
        ncols = csv_cells(colbuf, (char **)cols, 65);
    }
    while (fgets(line, sizeof line, f)) {
        row++;
        int n = csv_cells(line, cells, 256);
        if (n == 1 && !cells[0][0]) continue;
        if (row == 1) {
            int header = 0;
            if (ncols) {
                header = 1;
                for (int k = 0; k < ncols; k++) {
                    int at = -1;
                    for (int c = 0; c < n && at < 0; c++)
                        if (strcmp(cells[c], cols[k]) == 0) at = c;
                    if (at < 0) {
                        snprintf(err, errlen, "--csv-columns: labels CSV %s has no column '%s' in its first row", csv, cols[k]);
                        goto done;
                    }
                    if (k == 0) fcol = at;
                    else lcols[nl++] = at;
                }
                if (ncols < 2) {
                    snprintf(err, errlen, "--csv-columns expects FILE_COLUMN,LABEL_COLUMN[,...]; got '%s'", o->csv_columns);
                    goto done;
                }
            } else {
                header = !strcasecmp(cells[0], "file") || !strcasecmp(cells[0], "filename") ||
                         !strcasecmp(cells[0], "path") || !strcasecmp(cells[0], "image");
            }
            if (header) continue;
        }
        if (!ncols) {
            fcol = 0;
            nl = 0;
            for (int c = 1; c < n && nl < 64; c++) lcols[nl++] = c;
        }
        if (fcol >= n || !cells[fcol][0]) {
            snprintf(err, errlen, "labels CSV %s, line %d: no file name", csv, row);
            goto done;
        }
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, cells[fcol]);
        if (access(p, R_OK) != 0) {
            /* EuroSAT's CSVs name files in their class folders (Forest/Forest_1.jpg): a flat copy has them by name */
            snprintf(p, sizeof p, "%s/%s", dir, image_base_name(cells[fcol]));
            if (access(p, R_OK) != 0) {
                snprintf(err, errlen, "labels CSV %s, line %d names '%s', which is not in %s", csv, row, cells[fcol], dir);
                goto done;
            }
            flattened++;
        }
        char lab[4096] = "";
        size_t k = 0;
        for (int c = 0; c < nl; c++)
            if (lcols[c] < n && cells[lcols[c]][0] && k < sizeof lab)
                k += (size_t)snprintf(lab + k, sizeof lab - k, "%s%s", k ? "\n" : "", cells[lcols[c]]);
        if (!k) {
            snprintf(err, errlen, "labels CSV %s, line %d ('%s'): no label", csv, row, cells[fcol]);
            goto done;
        }
        strs_add(&r->files, p);
        strs_add(&r->labels, lab);
    }
    if (!r->files.n) {
        snprintf(err, errlen, "labels CSV %s names no images", csv);
        goto done;
    }
    if (flattened) log_info("convert: %d file names in %s have folders that %s does not; found by file name", flattened, csv, dir);
    rc = 0;
done:
    fclose(f);
    return rc;
}

/* The rows' labels into s: class indices or multi-hot vectors, classes from --classes or sorted. */
static int set_labels(ImageSet *s, const Rows *r, const char *csv, const ImageOptions *o, char *err, size_t errlen) {
    int multi = o->multi_label;
    for (int i = 0; i < r->labels.n; i++) multi |= strchr(r->labels.s[i], '\n') != NULL;
    if (o->classes) {
        if ((s->C = image_parse_classes(o->classes, &s->classes, err, errlen)) < 0) return -1;
    } else {
        for (int i = 0; i < r->labels.n; i++) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s", r->labels.s[i]);
            for (char *t = strtok(tmp, "\n"); t; t = strtok(NULL, "\n"))
                if (class_index(s->classes, s->C, t) < 0) {
                    s->classes = xrealloc(s->classes, (size_t)(s->C + 1) * LVIT_CLASS_NAME);
                    snprintf(s->classes[s->C++], LVIT_CLASS_NAME, "%s", t);
                }
        }
        qsort(s->classes, (size_t)s->C, LVIT_CLASS_NAME, all_integers(s->classes, s->C) ? cmp_num : cmp_name);
    }
    s->label_kind = multi ? LABELS_MULTI : LABELS_CLASS;
    if (multi) s->multi = xcalloc((size_t)s->N * s->C, 1);
    else s->label = xmalloc(sizeof(int32_t) * (size_t)s->N);
    for (int i = 0; i < s->N; i++) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", r->labels.s[i]);
        for (char *t = strtok(tmp, "\n"); t; t = strtok(NULL, "\n")) {
            int c = class_index(s->classes, s->C, t);
            if (c < 0) {
                snprintf(err, errlen, "labels from %s: %s has the class '%s', which --classes does not list (%d classes: "
                         "%s, ...)", csv, image_base_name(r->files.s[i]), t, s->C, s->classes[0]);
                return -1;
            }
            if (multi) s->multi[(size_t)i * s->C + c] = 1;
            else s->label[i] = c;
        }
    }
    return 0;
}

/* JPEG and PNG through libjpeg/libpng; GeoTIFF (EuroSAT's 13-band version) through GDAL */
static int add_photo(ImageSet *s, const char *path, const ImageOptions *o, char *err, size_t errlen) {
    if (is_tiff_name(path)) return read_gdal_image(s, path, o, err, errlen);
    int V, H, W;
    float *pix;
    uint8_t *ok;
    if (read_photo(path, &V, &H, &W, &pix, &ok, err, errlen)) return -1;
    char name[128];
    snprintf(name, sizeof name, "%s", image_base_name(path));
    char *dot = strrchr(name, '.');
    if (dot) *dot = 0;
    int first = s->N == 0, i = image_set_add(s, V, H, W, name, path, err, errlen);
    if (i >= 0) {
        memcpy(image_set_data(s, i), pix, sizeof(float) * (size_t)V * H * W);
        memcpy(image_set_valid(s, i), ok, (size_t)V * H * W);
        static const char *rgb[3] = {"red", "green", "blue"};
        for (int b = 0; first && b < V; b++) {
            image_band_name(&s->bands[b], V == 3 ? rgb[b] : "grey", b + 1);
            snprintf(s->bands[b].source, sizeof s->bands[b].source, "%s", image_base_name(path));
        }
    }
    free(pix);
    free(ok);
    return i < 0 ? -1 : 0;
}

int read_photo_folder(ImageSet *s, const char *dir, const ImageOptions *o, char *err, size_t errlen) {
    Rows r = {0};
    Strs files = {0}, dirs = {0};
    int rc = -1;
    if (list_dir(dir, &files, &dirs, err, errlen)) goto done;
    if (o->labels) {
        if (read_csv(o->labels, dir, o, &r, err, errlen)) goto done;
        if (files.n > r.files.n)
            log_info("convert: %s labels %d images; the other %d in %s are left out", o->labels, r.files.n,
                     files.n - r.files.n, dir);
    } else if (files.n == 0 && dirs.n > 0) {
        /* one subfolder per class */
        for (int c = 0; c < dirs.n; c++) {
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", dir, dirs.s[c]);
            Strs in = {0};
            if (list_dir(sub, &in, NULL, err, errlen)) goto done;
            for (int k = 0; k < in.n; k++) {
                char p[8192];
                snprintf(p, sizeof p, "%s/%s", sub, in.s[k]);
                strs_add(&r.files, p);
                strs_add(&r.labels, dirs.s[c]);
            }
            strs_free(&in);
        }
    } else {
        for (int k = 0; k < files.n; k++) {
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", dir, files.s[k]);
            strs_add(&r.files, p);
        }
    }
    if (!r.files.n) {
        snprintf(err, errlen, "%s: no JPEG, PNG or GeoTIFF images (in it or in one subfolder per class)", dir);
        goto done;
    }
    for (int k = 0; k < r.files.n; k++)
        if (add_photo(s, r.files.s[k], o, err, errlen)) goto done;
    if (r.labels.n && set_labels(s, &r, o->labels ? o->labels : dir, o, err, errlen)) goto done;
    snprintf(s->label_source, sizeof s->label_source, "%s", o->labels ? o->labels : r.labels.n ? "subfolders" : "");
    rc = 0;
done:
    strs_free(&r.files);
    strs_free(&r.labels);
    strs_free(&files);
    strs_free(&dirs);
    return rc;
}
