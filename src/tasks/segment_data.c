/* Semantic segmentation's samples: tiles of the scene, the split by tiles or label rasters, the
 * per-pixel targets in the head's token layout (tasks/segment_data.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/json.h"
#include "tasks/label_split.h"
#include "tasks/segment_data.h"

/* The per-set maps: the tiles as split blocks (half train, half test), or the user's rasters. */
static int make_maps(SegmentData *sd, const TaskOptions *o, char *err, size_t errlen) {
    ClassifyData *cd = &sd->cd;
    const Dataset *ds = cd->ds;
    const int64_t plane = (int64_t)ds->H * ds->W;
    for (int s = 0; s < 3; s++) {
        sd->map[s] = xmalloc(sizeof(int32_t) * (size_t)(ds->T * plane));
        for (int64_t k = 0; k < ds->T * plane; k++) sd->map[s][k] = -1;
    }
    if (cd->split_mode == CLS_SPLIT_RASTERS) {
        int32_t *tr, *te;
        if (label_split_maps(ds, o, &tr, &te, err, errlen)) return -1;
        for (int im = 0; im < ds->T; im++) {
            memcpy(sd->map[SPLIT_TRAIN] + im * plane, tr, sizeof(int32_t) * (size_t)plane);
            memcpy(sd->map[SPLIT_TEST] + im * plane, te, sizeof(int32_t) * (size_t)plane);
        }
        label_split_sources(o, cd->labels_src, cd->labels_hash);
        free(tr), free(te);
        return 0;
    }
    const int bs = sd->tile, bw = (ds->W + bs - 1) / bs;
    char *train = xcalloc((size_t)((ds->H + bs - 1) / bs) * bw, 1);
    for (int im = 0; im < ds->T; im++) {
        const int32_t *lab = ds->img.label_map + im * plane;
        if (classify_block_split(cd, lab, ds->H, ds->W, train, err, errlen)) {
            snprintf(err, errlen, "--window %d: no assignment of the %dx%d tiles of %s puts every class in both the "
                     "training and the test tiles; give a smaller --window, or your own split (--train-labels, "
                     "--test-labels)", bs, (ds->H + bs - 1) / bs, bw, ds->source);
            free(train);
            return -1;
        }
        for (int64_t k = 0; k < plane; k++) {
            const int y = (int)(k / ds->W), x = (int)(k % ds->W);
            sd->map[train[(y / bs) * bw + x / bs] ? SPLIT_TRAIN : SPLIT_TEST][im * plane + k] = lab[k];
        }
    }
    free(train);
    return 0;
}

int segment_data_open(SegmentData *sd, const Dataset *ds, const TaskOptions *o, int patch, char *err, size_t errlen) {
    memset(sd, 0, sizeof *sd);
    ClassifyData *cd = &sd->cd;
    if (ds->kind != DATASET_IMAGE || ds->img.label_kind != LABELS_MAP) {
        snprintf(err, errlen, "%s %s; --task segment needs a label raster (lvit convert IMAGE --labels RASTER)", ds->source,
                 ds->kind != DATASET_IMAGE ? "is a gridded (climate) dataset" : "has no label raster (labels kind map)");
        return -1;
    }
    if (o->split_mode == CLS_SPLIT_RANDOM) {
        snprintf(err, errlen, "--split random: segmentation scores whole tiles, which are split as blocks (the default) "
                 "or by --train-labels/--test-labels or --split-mask");
        return -1;
    }
    if (o->per_class > 0) {
        snprintf(err, errlen, "--per-class %d: segmentation trains on every labelled pixel of its training tiles; "
                 "give a sparser %s instead", o->per_class, o->split_mask ? "--split-mask" : "--train-labels raster");
        return -1;
    }
    cd->ds = ds, cd->K = ds->img.C, cd->pixel = 1, cd->window = sd->tile = o->window;
    cd->split_mode = o->train_labels || o->test_labels || o->split_mask ? CLS_SPLIT_RASTERS : CLS_SPLIT_BLOCKS;
    cd->split_block = o->window, cd->split_seed = (uint64_t)o->split_seed;
    sd->patch = patch;
    cd->Hp = cd->Wp = (o->window + patch - 1) / patch * patch;
    if (make_maps(sd, o, err, errlen)) {
        segment_data_close(sd);
        return -1;
    }
    const int t = sd->tile, th = (ds->H + t - 1) / t, tw = (ds->W + t - 1) / t;
    cd->s = xmalloc(sizeof *cd->s * (size_t)(2 * ds->T * th * tw + 1));
    int64_t m = 0;
    for (int set = 0; set < 3; set++) {
        for (int im = 0; im < ds->T; im++)
            for (int ty = 0; ty < th; ty++)
                for (int tx = 0; tx < tw; tx++) {
                    int64_t n = 0;
                    for (int y = ty * t; y < (ty + 1) * t && y < ds->H; y++)
                        for (int x = tx * t; x < (tx + 1) * t && x < ds->W; x++)
                            n += sd->map[set][((int64_t)im * ds->H + y) * ds->W + x] >= 0;
                    if (!n) continue;
                    cd->s[m++] = (ClassifySample){im, ty * t + t / 2, tx * t + t / 2, set};
                    cd->n[set]++;
                    sd->npix[set] += n;
                }
    }
    if (!cd->n[SPLIT_TRAIN] || !cd->n[SPLIT_TEST]) {
        snprintf(err, errlen, "%s: no labelled pixel in any %s tile", ds->source, cd->n[SPLIT_TRAIN] ? "test" : "training");
        segment_data_close(sd);
        return -1;
    }
    return 0;
}

int segment_data_scene(SegmentData *sd, const Dataset *ds, int window, int patch, int K, char *err, size_t errlen) {
    memset(sd, 0, sizeof *sd);
    if (ds->kind != DATASET_IMAGE) {
        snprintf(err, errlen, "%s is a gridded (climate) dataset; a segmentation model maps image scenes", ds->source);
        return -1;
    }
    ClassifyData *cd = &sd->cd;
    cd->ds = ds, cd->K = K, cd->pixel = 1, cd->window = sd->tile = window, sd->patch = patch;
    cd->Hp = cd->Wp = (window + patch - 1) / patch * patch;
    return 0;
}

void segment_data_close(SegmentData *sd) {
    for (int s = 0; s < 3; s++) free(sd->map[s]);
    classify_data_close(&sd->cd);
    memset(sd, 0, sizeof *sd);
}

int segment_label(const SegmentData *sd, int64_t id, int gr, int gc) {
    const ClassifySample *s = &sd->cd.s[id];
    const Dataset *ds = sd->cd.ds;
    const int y = s->row - sd->tile / 2 + gr, x = s->col - sd->tile / 2 + gc;
    if (gr >= sd->tile || gc >= sd->tile || y >= ds->H || x >= ds->W) return -1;
    return sd->map[s->cls][((int64_t)s->img * ds->H + y) * ds->W + x];
}

static void fill_segment(HostBatch *hb, int i, const Sampler *smp, int64_t id) {
    (void)smp;
    const SegmentData *sd = hb->owner;
    const int K = sd->cd.K, p = sd->patch, Wp = hb->Wp, Wt = Wp / p;
    classify_fill_x(&sd->cd, hb, id, hb->x + (int64_t)i * hb->nx, NULL);
    float *y = hb->y + (int64_t)i * hb->ny, *m = hb->mask + (int64_t)i * hb->ny;
    memset(y, 0, sizeof(float) * (size_t)hb->ny);
    memset(m, 0, sizeof(float) * (size_t)hb->ny);
    for (int r = 0; r < hb->nrows; r++)
        for (int c = 0; c < Wp; c++) {
            const int k = segment_label(sd, id, hb->row0 + r, c);
            if (k < 0) continue;
            /* token (r / p, c / p) of this rank's rows, its pixel (r % p, c % p), class k */
            const int64_t o = ((((int64_t)(r / p) * Wt + c / p) * p + r % p) * p + c % p) * K + k;
            y[o] = 1.0f, m[o] = 1.0f;
        }
    hb->lead[i] = 0.0f;
}

static void init_like_segment(HostBatch *hb, const HostBatch *shape) {
    host_batch_init_segment(hb, shape->B, shape->owner, shape->row0, shape->nrows);
}

void host_batch_init_segment(HostBatch *hb, int B, const SegmentData *sd, int row0, int nrows) {
    host_batch_init_classify(hb, B, &sd->cd, row0, nrows);
    free(hb->y), free(hb->mask);
    hb->owner = sd;
    hb->ny = (int64_t)nrows * hb->Wp * sd->cd.K;
    hb->y = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->mask = xcalloc((size_t)(B * hb->ny), sizeof(float));
    hb->fill = fill_segment;
    hb->init_like = init_like_segment;
}

int segment_write_split(const SegmentData *sd, const char *path, char *err, size_t errlen) {
    static const char *set_name[3] = {"train", "val", "test"};
    const ClassifyData *cd = &sd->cd;
    const Dataset *ds = cd->ds;
    JsonBuf b = {0};
    if (cd->split_mode == CLS_SPLIT_RASTERS)
        json_buf_printf(&b, "# lvit segment split of %s: label rasters, training %s, test %s", ds->source, cd->labels_src[0],
                        cd->labels_src[1]);
    else
        json_buf_printf(&b, "# lvit segment split of %s: %dx%d-pixel tiles, half of them training (seed %llu)", ds->source,
                        sd->tile, sd->tile, (unsigned long long)cd->split_seed);
    json_buf_printf(&b, "; %lld training pixels in %lld tiles, %lld test pixels in %lld tiles\nimage,row,col,class,set\n",
                    (long long)sd->npix[0], (long long)cd->n[0], (long long)sd->npix[2], (long long)cd->n[2]);
    const int64_t plane = (int64_t)ds->H * ds->W;
    for (int set = 0; set < 3; set++)
        for (int im = 0; im < ds->T; im++)
            for (int64_t k = 0; k < plane; k++) {
                const int c = sd->map[set][im * plane + k];
                if (c >= 0) json_buf_printf(&b, "%d,%lld,%lld,%d,%s\n", im, (long long)(k / ds->W), (long long)(k % ds->W), c, set_name[set]);
            }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int bad = !f || fputs(b.s, f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0;
    if (f && fclose(f) != 0) bad = 1;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    json_buf_free(&b);
    if (bad) {
        remove(tmp);
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}

char *segment_describe(const SegmentData *sd) { return classify_describe(&sd->cd); }
