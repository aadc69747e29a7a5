/* The samples of the classification task on an image dataset (docs/classification.md):
 *   image mode: one sample per image (labels kind class or multilabel), split by the dataset's
 *     per-image split;
 *   pixel mode: one sample per labelled pixel of a label raster (kind map), the window of
 *     window x window pixels around it; the pixels are split into training and test sets by
 *     spatial blocks (spatially disjoint; test pixels inside a training pixel's window are left
 *     out), or at random behind an explicit option.
 * The samples are one list: training, then validation, then test. */
#ifndef LVIT_CLASSIFY_DATA_H
#define LVIT_CLASSIFY_DATA_H
#include <stddef.h>
#include <stdint.h>
#include "data/dataset.h"
#include "tasks/task.h"

typedef struct ClassifySample {
    int32_t img, row, col; /* pixel mode: the centre pixel; image mode: row = col = -1 */
    int32_t cls;           /* class index (-1 in multilabel mode: the labels are the image's multi-hot row) */
} ClassifySample;

typedef struct ClassifyData {
    const Dataset *ds;
    int pixel, multi, K;
    int window;            /* pixel mode: the window's side */
    int Hp, Wp;            /* the model grid: the window or the image, padded up to whole patches */
    int split_mode, split_block, per_class;
    uint64_t split_seed;
    int dropped_guard;     /* pixel mode: test pixels left out because a training pixel's window holds them */
    char *labels_src[2];   /* CLS_SPLIT_RASTERS: the training and test label rasters (FILE or FILE:VAR, absolute),
                              or the split mask and NULL */
    char labels_hash[2][17]; /* their files' content hashes (io/run_meta.h; "" when unread) */
    int64_t n[3];          /* training, validation and test samples (SPLIT_*) */
    ClassifySample *s;     /* [n[0] + n[1] + n[2]] */
} ClassifyData;

enum { CLS_SPLIT_BLOCKS = 0, CLS_SPLIT_RANDOM = 1, CLS_SPLIT_RASTERS = 2 /* --train-labels/--test-labels */ };

/* The samples of image dataset ds under the task options (window, split); patch: the model's
 * patch. 0, or -1 with err naming the option or the dataset. */
int classify_data_open(ClassifyData *cd, const Dataset *ds, const TaskOptions *o, int patch, char *err, size_t errlen);
void classify_data_close(ClassifyData *cd);
/* Unlabelled samples for pretraining (tasks/mae.c): the window around every pixel (pixel = 1) or
 * every image of ds, every 20th held out for validation (listed after the others). */
int classify_data_open_all(ClassifyData *cd, const Dataset *ds, int pixel, int window, int patch, char *err,
                           size_t errlen);
/* Blocks of cd->split_block pixels of a scene's label map [H*W] (-1 unlabelled) assigned to training
 * (train_block[by * bw + bx] = 1) or test at random with cd->split_seed (half each), redrawn until
 * every class with at least two labelled pixels has some in both; 0, or -1 with err. */
int classify_block_split(const ClassifyData *cd, const int32_t *map, int H, int W, char *train_block, char *err,
                         size_t errlen);
/* The first sample of set (SPLIT_*) in the list. */
int64_t classify_first(const ClassifyData *cd, int set);

/* Host batch buffers of B samples (rows [row0, row0 + nrows) of the model grid: a sequence-parallel
 * rank's band), filled through host_batch_fill from a sampler of sample ids. */
void host_batch_init_classify(HostBatch *hb, int B, const ClassifyData *cd, int row0, int nrows);
/* Sample id's normalized window or image into slot i of hb, its one-hot (or multi-hot) target and
 * weights (softmax: 1/K per class, so a sample weighs 1; multilabel: 1 per class). */
void classify_fill(const ClassifyData *cd, HostBatch *hb, int i, int64_t id);

/* Sample id's normalized window or image as the batch's rows: x [V, hb->nrows, hb->Wp] (hb->nx
 * floats), and where valid is not NULL, 1 there for every pixel that has a value. A window reaching
 * past the scene's edge is mirrored at it (-1 -> 1, as PyTorch's ReflectionPad2d); the mirrored
 * cells are not valid (a target is counted once). */
void classify_fill_x(const ClassifyData *cd, const HostBatch *hb, int64_t id, float *x, float *valid);
/* The split as CSV (image,row,col,class,set), written atomically: 0, or -1 with err. */
int classify_write_split(const ClassifyData *cd, const char *path, char *err, size_t errlen);
/* The task's description for the checkpoint (JSON object, caller frees). */
char *classify_describe(const ClassifyData *cd);
/* The task options recorded by classify_describe (into o: window and split), from its parsed JSON
 * (the "classify" member of the checkpoint's data description); 0, or -1 with err. */
struct JsonValue;
int classify_options_from_json(const struct JsonValue *task, TaskOptions *o, char *err, size_t errlen);
/* Frees what classify_options_from_json copied into o (the label rasters' names). */
void classify_options_free(TaskOptions *o);

#endif
