/* The samples of semantic segmentation (--task segment, docs/classification.md): the scene cut into
 * tiles of --window x --window pixels (the last row and column of tiles padded); a sample is a tile
 * of the training or the test set, every pixel of it that the set labels scored. The split is by
 * tiles (spatially disjoint: half of the tiles train, half test, redrawn until every class lies in
 * both), or the user's training and test label rasters (--train-labels / --test-labels). */
#ifndef LVIT_SEGMENT_DATA_H
#define LVIT_SEGMENT_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "tasks/classify_data.h"

typedef struct SegmentData {
    ClassifyData cd;     /* pixel mode, window = the tile: cd.s[i] = (image, tile centre, set); cd.n per set */
    int tile;            /* the tiles' side in pixels */
    int patch;           /* the model's patch (the head's token layout) */
    int32_t *map[3];     /* [T,H,W] per set (SPLIT_*): the class each pixel scores in that set, -1 = none */
    int64_t npix[3];     /* labelled pixels per set */
} SegmentData;

/* The tiles of image dataset ds (labels kind map) under o (window, split_seed, the label rasters);
 * patch: the model's. 0, or -1 with err naming the option or the file. */
int segment_data_open(SegmentData *sd, const Dataset *ds, const TaskOptions *o, int patch, char *err, size_t errlen);
void segment_data_close(SegmentData *sd);
/* A scene to predict, without labels or split: the tiles' geometry for K classes (lvit predict sets
 * the samples). 0, or -1 with err naming the dataset. */
int segment_data_scene(SegmentData *sd, const Dataset *ds, int window, int patch, int K, char *err, size_t errlen);
/* The model grid's pixel (gr, gc) of sample id: its class in the sample's set (-1: not scored, or
 * outside the image or the tile). */
int segment_label(const SegmentData *sd, int64_t id, int gr, int gc);
/* Host batch of B tiles (rows [row0, row0 + nrows) of the model grid): x as classify, y one-hot per
 * pixel and mask 1 at the true class of each scored pixel, both in the head's token layout
 * [tokens, p, p, K] (tasks/segment.c). */
void host_batch_init_segment(HostBatch *hb, int B, const SegmentData *sd, int row0, int nrows);
/* The split as CSV (image,row,col,class,set: every scored pixel), written atomically; 0, or -1. */
int segment_write_split(const SegmentData *sd, const char *path, char *err, size_t errlen);
/* The task's description for the checkpoint (JSON object, caller frees) and the options back from it. */
char *segment_describe(const SegmentData *sd);

#endif
