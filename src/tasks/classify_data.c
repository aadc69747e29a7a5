/* The classification task's samples: the spatially disjoint pixel split, the per-image split, the
 * batch filling and the split's CSV and JSON (tasks/classify_data.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "core/rng.h"
#include "tasks/classify_data.h"
#include "tasks/label_split.h"

int64_t classify_first(const ClassifyData *cd, int set) {
    int64_t f = 0;
    for (int i = 0; i < set; i++) f += cd->n[i];
    return f;
}

/* Appends sample (img, row, col, cls) to list l of size *n (capacity cap). */
static void push(ClassifySample **l, int64_t *n, int64_t *cap, ClassifySample s) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *l = xrealloc(*l, sizeof **l * (size_t)*cap);
    }
    (*l)[(*n)++] = s;
}

/* The training pixels: at most per_class of each class (all with 0), picked at random from cand. */
static int64_t pick_per_class(const ClassifySample *cand, int64_t n, int K, int per_class, uint64_t seed,
                              ClassifySample *out) {
    int64_t *order = xmalloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) order[i] = i;
    Rng r;
    rng_seed_stream(&r, seed, 0xc1a55ULL);
    if (per_class > 0) rng_shuffle(&r, order, n);
    int *taken = xcalloc((size_t)K, sizeof(int));
    char *use = xcalloc((size_t)(n ? n : 1), 1);
    for (int64_t i = 0; i < n; i++) {
        const int c = cand[order[i]].cls;
        if (per_class <= 0 || taken[c] < per_class) use[order[i]] = 1, taken[c]++;
    }
    int64_t m = 0; /* in scan order, so the list does not depend on the shuffle beyond the choice */
    for (int64_t i = 0; i < n; i++)
        if (use[i]) out[m++] = cand[i];
    free(order), free(taken), free(use);
    return m;
}

int classify_block_split(const ClassifyData *cd, const int32_t *map, int H, int W, char *train_block, char *err,
                       size_t errlen) {
    const int bs = cd->split_block, bh = (H + bs - 1) / bs, bw = (W + bs - 1) / bs, nb = bh * bw, K = cd->K;
    int64_t *order = xmalloc(sizeof(int64_t) * (size_t)nb), *count = xcalloc((size_t)K, sizeof(int64_t));
    int64_t *in_train = xcalloc((size_t)K, sizeof(int64_t)), *in_test = xcalloc((size_t)K, sizeof(int64_t));
    for (int64_t i = 0; i < (int64_t)H * W; i++)
        if (map[i] >= 0) count[map[i]]++;
    int ok = 0, attempt;
    for (attempt = 0; attempt < 1000 && !ok; attempt++) {
        Rng r;
        rng_seed_stream(&r, cd->split_seed + (uint64_t)attempt, 0xb10c5ULL);
        for (int i = 0; i < nb; i++) order[i] = i;
        rng_shuffle(&r, order, nb);
        for (int i = 0; i < nb; i++) train_block[order[i]] = (char)(i % 2 == 0);
        memset(in_train, 0, sizeof(int64_t) * (size_t)K);
        memset(in_test, 0, sizeof(int64_t) * (size_t)K);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const int c = map[(int64_t)y * W + x];
                if (c >= 0) (train_block[(y / bs) * bw + x / bs] ? in_train : in_test)[c]++;
            }
        ok = 1;
        for (int c = 0; c < K; c++)
            if (count[c] >= 2 && (!in_train[c] || !in_test[c])) ok = 0;
    }
    if (!ok) {
        int c = 0;
        while (c < K && !(count[c] >= 2 && (!in_train[c] || !in_test[c]))) c++;
        snprintf(err, errlen, "--split-block %d: no assignment of the %dx%d blocks put every class in both the training "
                 "and the test blocks (class %d '%s' with %lld pixels lies in too few blocks); give a smaller "
                 "--split-block", bs, bh, bw, c, cd->ds->img.class_names[c], (long long)count[c]);
    }
    free(order), free(count), free(in_train), free(in_test);
    return ok ? 0 : -1;
}

/* Pixel mode samples: training pixels from the training blocks (or a random half of each class),
 * test pixels from the rest, less those inside a training pixel's window (within window / 2 pixels). */
static int pixel_samples(ClassifyData *cd, char *err, size_t errlen) {
    const Dataset *ds = cd->ds;
    const int H = ds->H, W = ds->W, bs = cd->split_block, bw = (W + bs - 1) / bs, K = cd->K;
    ClassifySample *tr = NULL, *te = NULL;
    int64_t ntr = 0, nte = 0, ctr = 0, cte = 0;
    char *train_block = xcalloc((size_t)((H + bs - 1) / bs) * bw, 1);
    for (int im = 0; im < ds->T; im++) {
        const int32_t *map = ds->img.label_map + (int64_t)im * H * W;
        if (cd->split_mode == CLS_SPLIT_BLOCKS && classify_block_split(cd, map, H, W, train_block, err, errlen)) {
            free(train_block), free(tr), free(te);
            return -1;
        }
        Rng r;
        rng_seed_stream(&r, cd->split_seed, 0x7a4d0ULL + (uint64_t)im);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const int c = map[(int64_t)y * W + x];
                if (c < 0) continue;
                const int train = cd->split_mode == CLS_SPLIT_BLOCKS ? train_block[(y / bs) * bw + x / bs]
                                                                     : rng_uniform(&r) < 0.5;
                if (train) push(&tr, &ntr, &ctr, (ClassifySample){im, y, x, c});
                else push(&te, &nte, &cte, (ClassifySample){im, y, x, c});
            }
    }
    free(train_block);
    ClassifySample *use = xmalloc(sizeof *use * (size_t)(ntr ? ntr : 1));
    const int64_t nuse = pick_per_class(tr, ntr, K, cd->per_class, cd->split_seed, use);
    free(tr);
    /* the guard: no test pixel lies inside a training pixel's window (its spectrum was never an input
     * in training) */
    uint8_t *near = xcalloc((size_t)ds->T * H * W, 1);
    const int g = cd->window / 2;
    for (int64_t i = 0; i < nuse && cd->split_mode == CLS_SPLIT_BLOCKS; i++)
        for (int y = use[i].row - g; y <= use[i].row + g; y++)
            for (int x = use[i].col - g; x <= use[i].col + g; x++)
                if (y >= 0 && y < H && x >= 0 && x < W) near[((int64_t)use[i].img * H + y) * W + x] = 1;
    cd->s = xmalloc(sizeof *cd->s * (size_t)(nuse + nte + 1));
    memcpy(cd->s, use, sizeof *use * (size_t)nuse);
    int64_t m = nuse;
    for (int64_t i = 0; i < nte; i++) {
        if (near[((int64_t)te[i].img * H + te[i].row) * W + te[i].col]) cd->dropped_guard++;
        else cd->s[m++] = te[i];
    }
    cd->n[SPLIT_TRAIN] = nuse, cd->n[SPLIT_VAL] = 0, cd->n[SPLIT_TEST] = m - nuse;
    free(use), free(te), free(near);
    return 0;
}

/* Pixel mode on the user's split (tasks/label_split.h): the training raster's pixels (--per-class
 * applies), then the test raster's, for every image of the scene. */
static int raster_samples(ClassifyData *cd, const TaskOptions *o, char *err, size_t errlen) {
    const Dataset *ds = cd->ds;
    int32_t *tr, *te;
    if (label_split_maps(ds, o, &tr, &te, err, errlen)) return -1;
    const int64_t plane = (int64_t)ds->H * ds->W, T = ds->T;
    int64_t ntr = 0, nte = 0;
    for (int64_t k = 0; k < plane; k++) ntr += tr[k] >= 0, nte += te[k] >= 0;
    ClassifySample *cand = xmalloc(sizeof *cand * (size_t)(T * ntr));
    cd->s = xmalloc(sizeof *cd->s * (size_t)(T * (ntr + nte)));
    int64_t n = 0;
    for (int im = 0; im < T; im++)
        for (int64_t k = 0; k < plane; k++)
            if (tr[k] >= 0) cand[n++] = (ClassifySample){im, (int)(k / ds->W), (int)(k % ds->W), tr[k]};
    const int64_t nuse = pick_per_class(cand, n, cd->K, cd->per_class, cd->split_seed, cd->s);
    int64_t m = nuse;
    for (int im = 0; im < T; im++)
        for (int64_t k = 0; k < plane; k++)
            if (te[k] >= 0) cd->s[m++] = (ClassifySample){im, (int)(k / ds->W), (int)(k % ds->W), te[k]};
    cd->n[SPLIT_TRAIN] = nuse, cd->n[SPLIT_VAL] = 0, cd->n[SPLIT_TEST] = m - nuse;
    label_split_sources(o, cd->labels_src, cd->labels_hash);
    free(cand), free(tr), free(te);
    return 0;
}

/* Image mode: the dataset's split; training images capped per class with --per-class. */
static void image_samples(ClassifyData *cd) {
    const Dataset *ds = cd->ds;
    ClassifySample *sets[3] = {NULL, NULL, NULL};
    int64_t n[3] = {0, 0, 0}, cap[3] = {0, 0, 0};
    for (int t = 0; t < ds->T; t++) {
        const int c = cd->multi ? -1 : ds->img.label[t];
        if (!cd->multi && c < 0) continue;
        const int set = ds->img.split[t];
        push(&sets[set], &n[set], &cap[set], (ClassifySample){t, -1, -1, c});
    }
    cd->s = xmalloc(sizeof *cd->s * (size_t)(n[0] + n[1] + n[2] + 1));
    int64_t m = cd->multi || cd->per_class <= 0 ? (memcpy(cd->s, sets[0], sizeof *cd->s * (size_t)n[0]), n[0])
                                                : pick_per_class(sets[0], n[0], cd->K, cd->per_class, cd->split_seed, cd->s);
    cd->n[SPLIT_TRAIN] = m;
    for (int set = 1; set < 3; set++) {
        if (n[set]) memcpy(cd->s + m, sets[set], sizeof *cd->s * (size_t)n[set]);
        m += n[set];
        cd->n[set] = n[set];
    }
    for (int i = 0; i < 3; i++) free(sets[i]);
}

int classify_data_open_all(ClassifyData *cd, const Dataset *ds, int pixel, int window, int patch, char *err,
                           size_t errlen) {
    memset(cd, 0, sizeof *cd);
    if (ds->kind != DATASET_IMAGE) {
        snprintf(err, errlen, "%s is a gridded (climate) dataset, not an image dataset", ds->source);
        return -1;
    }
    cd->ds = ds, cd->pixel = pixel, cd->window = window;
    cd->Hp = ((pixel ? window : ds->H) + patch - 1) / patch * patch;
    cd->Wp = ((pixel ? window : ds->W) + patch - 1) / patch * patch;
    const int64_t n = pixel ? (int64_t)ds->T * ds->H * ds->W : ds->T;
    cd->s = xmalloc(sizeof *cd->s * (size_t)(n + 1));
    int64_t k[2] = {0, 0};
    for (int pass = 0; pass < 2; pass++) /* every 20th sample held out for validation, after the others */
        for (int64_t i = 0; i < n; i++) {
            if ((i % 20 == 19) != pass) continue;
            const int img = pixel ? (int)(i / ((int64_t)ds->H * ds->W)) : (int)i;
            const int64_t px = pixel ? i % ((int64_t)ds->H * ds->W) : -1;
            cd->s[k[0] + k[1]] = (ClassifySample){img, pixel ? (int)(px / ds->W) : -1, pixel ? (int)(px % ds->W) : -1, -1};
            k[pass]++;
        }
    cd->n[SPLIT_TRAIN] = k[0], cd->n[SPLIT_VAL] = k[1], cd->n[SPLIT_TEST] = 0;
    return 0;
}

int classify_data_open(ClassifyData *cd, const Dataset *ds, const TaskOptions *o, int patch, char *err, size_t errlen) {
    memset(cd, 0, sizeof *cd);
    const DatasetImages *im = &ds->img;
    if (ds->kind != DATASET_IMAGE || im->label_kind == LABELS_NONE) {
        snprintf(err, errlen, "%s %s; --task classify needs labels (lvit convert ... --labels)", ds->source,
                 ds->kind != DATASET_IMAGE ? "is a gridded (climate) dataset, not an image dataset"
                                           : "has no labels (kind none: images for pretraining)");
        return -1;
    }
    cd->ds = ds;
    cd->K = im->C;
    cd->pixel = im->label_kind == LABELS_MAP;
    cd->multi = im->label_kind == LABELS_MULTI;
    cd->window = o->window;
    cd->split_mode = o->split_mode;
    cd->split_block = o->split_block;
    cd->per_class = o->per_class;
    cd->split_seed = (uint64_t)o->split_seed;
    if (cd->multi && o->per_class > 0) {
        snprintf(err, errlen, "--per-class %d: multi-label images have no single class to count; leave it out",
                 o->per_class);
        return -1;
    }
    const int h = cd->pixel ? cd->window : ds->H, w = cd->pixel ? cd->window : ds->W;
    cd->Hp = (h + patch - 1) / patch * patch;
    cd->Wp = (w + patch - 1) / patch * patch;
    if (o->train_labels || o->test_labels || o->split_mask) {
        if (!cd->pixel) {
            snprintf(err, errlen, "--train-labels/--test-labels/--split-mask split the pixels of a scene, but %s has one label per "
                     "image; convert the scene with --labels RASTER", ds->source);
            return -1;
        }
        if (o->split_mode == CLS_SPLIT_RANDOM) {
            snprintf(err, errlen, "--split random with %s: your split is the one used; leave --split out",
                     o->split_mask ? "--split-mask" : "--train-labels/--test-labels");
            return -1;
        }
        cd->split_mode = CLS_SPLIT_RASTERS;
        if (raster_samples(cd, o, err, errlen)) return -1;
    } else if (cd->pixel) {
        if (pixel_samples(cd, err, errlen)) return -1;
    } else {
        image_samples(cd);
    }
    if (cd->n[SPLIT_TRAIN] == 0) {
        snprintf(err, errlen, "%s: no training samples (%s)", ds->source,
                 cd->pixel ? "no labelled pixel in the training blocks" : "no labelled image in the training split");
        return -1;
    }
    return 0;
}

void classify_data_close(ClassifyData *cd) {
    free(cd->s), free(cd->labels_src[0]), free(cd->labels_src[1]);
    memset(cd, 0, sizeof *cd);
}

static void fill_classify(HostBatch *hb, int i, const Sampler *s, int64_t id) {
    (void)s;
    classify_fill(hb->owner, hb, i, id);
}

static void init_like_classify(HostBatch *hb, const HostBatch *shape) {
    host_batch_init_classify(hb, shape->B, shape->owner, shape->row0, shape->nrows);
}

void host_batch_init_classify(HostBatch *hb, int B, const ClassifyData *cd, int row0, int nrows) {
    memset(hb, 0, sizeof *hb);
    hb->B = B;
    hb->V = cd->ds->V;
    hb->Hp = cd->Hp;
    hb->Wp = cd->Wp;
    hb->row0 = row0;
    hb->nrows = nrows;
    hb->owner = cd;
    hb->nx = (int64_t)hb->V * nrows * cd->Wp;
    hb->ny = cd->K;
    hb->x = xcalloc((size_t)(B * hb->nx), sizeof(float));
    hb->y = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->mask = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->lead = xcalloc((size_t)B, sizeof(float));
    hb->wlat = xcalloc(1, sizeof(float));
    hb->wlat[0] = 1.0f;
    hb->fill = fill_classify;
    hb->init_like = init_like_classify;
}

/* A coordinate past the scene's edge mirrored back into it, as PyTorch's ReflectionPad2d does (-1 -> 1,
 * n -> n - 2; a window wider than the scene folds again): a window at the border sees the scene
 * instead of the bands' means, which made the outermost pixels the most misclassified ones. */
static int mirror(int i, int n) {
    if (n == 1) return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

void classify_fill_x(const ClassifyData *cd, const HostBatch *hb, int64_t id, float *x, float *valid) {
    CHECK(id >= 0 && id < cd->n[0] + cd->n[1] + cd->n[2], "image task: sample %lld of %lld", (long long)id,
          (long long)(cd->n[0] + cd->n[1] + cd->n[2]));
    const Dataset *ds = cd->ds;
    const ClassifySample *s = &cd->s[id];
    const int H = ds->H, W = ds->W, V = ds->V, Wp = hb->Wp;
    /* the window's top-left pixel in the image (pixel mode), or the image itself */
    const int y0 = s->row >= 0 ? s->row - cd->window / 2 : 0, x0 = s->col >= 0 ? s->col - cd->window / 2 : 0;
    const int hn = cd->pixel ? cd->window : H, wn = cd->pixel ? cd->window : W;
    memset(x, 0, sizeof(float) * (size_t)hb->nx);
    if (valid) memset(valid, 0, sizeof(float) * (size_t)hb->nx);
    for (int v = 0; v < V; v++) {
        const float mu = ds->mean[v], inv = 1.0f / ds->std[v];
        const float *src = ds->data + ((int64_t)s->img * V + v) * H * W;
        const uint8_t *ok = ds->valid ? ds->valid + ((int64_t)s->img * V + v) * H * W : NULL;
        for (int r = 0; r < hb->nrows; r++) {
            const int gr = hb->row0 + r, y = y0 + gr; /* the grid row, and the image row it shows */
            if (gr >= hn || (!cd->pixel && y >= H)) continue; /* padding to whole patches */
            const int64_t row = ((int64_t)v * hb->nrows + r) * Wp;
            for (int c = 0; c < wn && c < Wp; c++) {
                const int xx = x0 + c, inside = y >= 0 && y < H && xx >= 0 && xx < W;
                const int64_t k = (int64_t)mirror(y, H) * W + mirror(xx, W);
                if (ok && !ok[k]) continue;
                x[row + c] = (src[k] - mu) * inv;
                if (valid && inside) valid[row + c] = 1.0f; /* a mirrored cell is input, not a target */
            }
        }
    }
}

void classify_fill(const ClassifyData *cd, HostBatch *hb, int i, int64_t id) {
    const Dataset *ds = cd->ds;
    const ClassifySample *s = &cd->s[id];
    classify_fill_x(cd, hb, id, hb->x + (int64_t)i * hb->nx, NULL);
    float *y = hb->y + (int64_t)i * hb->ny, *m = hb->mask + (int64_t)i * hb->ny;
    for (int k = 0; k < cd->K; k++) {
        y[k] = cd->multi ? (float)ds->img.multi[(int64_t)s->img * cd->K + k] : (float)(k == s->cls);
        m[k] = cd->multi ? 1.0f : 1.0f / (float)cd->K;
    }
    hb->lead[i] = 0.0f;
}

int classify_write_split(const ClassifyData *cd, const char *path, char *err, size_t errlen) {
    static const char *set_name[3] = {"train", "val", "test"};
    JsonBuf b = {0};
    char how[8300];
    if (cd->split_mode == CLS_SPLIT_RASTERS && !cd->labels_src[1])
        snprintf(how, sizeof how, "the split mask %s", cd->labels_src[0]);
    else if (cd->split_mode == CLS_SPLIT_RASTERS)
        snprintf(how, sizeof how, "label rasters, training %s, test %s", cd->labels_src[0], cd->labels_src[1]);
    else
        snprintf(how, sizeof how, "%s", cd->pixel ? (cd->split_mode == CLS_SPLIT_BLOCKS ? "spatial blocks" : "random pixels")
                                                  : "the dataset's image split");
    json_buf_printf(&b, "# lvit classify split of %s: %s; %lld training, %lld validation, %lld test samples\n",
                    cd->ds->source, how, (long long)cd->n[0], (long long)cd->n[1], (long long)cd->n[2]);
    json_buf_puts(&b, "image,row,col,class,set\n");
    int64_t k = 0;
    for (int set = 0; set < 3; set++)
        for (int64_t i = 0; i < cd->n[set]; i++, k++)
            json_buf_printf(&b, "%d,%d,%d,%d,%s\n", cd->s[k].img, cd->s[k].row, cd->s[k].col, cd->s[k].cls, set_name[set]);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int bad = !f || fputs(b.s, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (f && fclose(f) != 0) bad = 1;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    free(b.s);
    if (bad) {
        remove(tmp);
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

char *classify_describe(const ClassifyData *cd) {
    JsonBuf b = {0};
    json_buf_printf(&b, "{\"mode\":\"%s\",\"multilabel\":%s,\"classes\":", cd->pixel ? "pixel" : "image",
                    cd->multi ? "true" : "false");
    json_buf_puts(&b, "[");
    for (int k = 0; k < cd->K; k++) {
        if (k) json_buf_puts(&b, ",");
        json_buf_put_string(&b, cd->ds->img.class_names[k]);
    }
    json_buf_puts(&b, "]");
    double *cv = xmalloc(sizeof(double) * (size_t)(cd->K + 1));
    char verr[256];
    if (cd->pixel && label_split_class_values(cd->ds, cv, verr, sizeof verr) == 0) { /* the label raster's values */
        json_buf_puts(&b, ",\"class_values\":[");
        for (int k = 0; k < cd->K; k++) json_buf_printf(&b, "%s%.17g", k ? "," : "", cv[k]);
        json_buf_puts(&b, "]");
    }
    free(cv);
    json_buf_printf(&b, ",\"window\":%d,\"split\":{\"mode\":\"%s\",\"block\":%d,\"seed\":%llu,\"per_class\":%d,"
                        "\"train\":%lld,\"val\":%lld,\"test\":%lld,\"guard_dropped\":%d}}",
                    cd->window, cd->split_mode == CLS_SPLIT_BLOCKS ? "blocks" : cd->split_mode == CLS_SPLIT_RANDOM ? "random" : "rasters", cd->split_block,
                    (unsigned long long)cd->split_seed, cd->per_class, (long long)cd->n[0], (long long)cd->n[1],
                    (long long)cd->n[2], cd->dropped_guard);
    if (cd->split_mode == CLS_SPLIT_RASTERS) { /* inside "split": the rasters lvit eval reads again */
        b.len -= 2, b.s[b.len] = 0;
        json_buf_puts(&b, cd->labels_src[1] ? ",\"train_labels\":" : ",\"split_mask\":");
        json_buf_put_string(&b, cd->labels_src[0]);
        if (cd->labels_src[1]) {
            json_buf_puts(&b, ",\"test_labels\":");
            json_buf_put_string(&b, cd->labels_src[1]);
        }
        json_buf_printf(&b, ",\"hashes\":[\"%s\",\"%s\"]", cd->labels_hash[0], cd->labels_hash[1]);
        json_buf_puts(&b, "}}");
    }
    return b.s;
}

int classify_options_from_json(const JsonValue *task, TaskOptions *o, char *err, size_t errlen) {
    const JsonValue *sp = task ? json_get(task, "split") : NULL;
    const char *mode = sp ? json_as_string(json_get(sp, "mode")) : NULL;
    int64_t win, block, seed, per;
    if (!sp || !mode || json_as_int64(json_get(task, "window"), 1, 4096, &win) ||
        json_as_int64(json_get(sp, "block"), 1, 1 << 20, &block) || json_as_int64(json_get(sp, "seed"), 0, INT64_MAX, &seed) ||
        json_as_int64(json_get(sp, "per_class"), 0, 1 << 30, &per)) {
        snprintf(err, errlen, "the run's description of its classification task lacks the window or the split");
        return -1;
    }
    o->window = (int)win, o->split_block = (int)block, o->split_seed = seed, o->per_class = (int)per;
    o->split_mode = strcmp(mode, "random") == 0 ? CLS_SPLIT_RANDOM : CLS_SPLIT_BLOCKS;
    if (strcmp(mode, "rasters") == 0) { /* the caller frees the copies (classify_options_free) */
        const char *a = json_as_string(json_get(sp, "train_labels")), *b = json_as_string(json_get(sp, "test_labels"));
        const char *mk = json_as_string(json_get(sp, "split_mask"));
        if (mk) {
            o->split_mask = xstrdup(mk);
            return 0;
        }
        if (!a || !b) {
            snprintf(err, errlen, "the run's description of its split by label rasters lacks their names");
            return -1;
        }
        o->train_labels = xstrdup(a), o->test_labels = xstrdup(b);
    }
    return 0;
}

void classify_options_free(TaskOptions *o) {
    free((char *)o->train_labels), free((char *)o->test_labels), free((char *)o->split_mask);
    o->train_labels = o->test_labels = o->split_mask = NULL;
}
