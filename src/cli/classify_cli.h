/* The flags of the image tasks (--task classify and --task mae in train; eval and predict of a
 * classification run), over the library's TaskOptions, EvalOptions and PredictOptions. */
#ifndef LVIT_CLASSIFY_CLI_H
#define LVIT_CLASSIFY_CLI_H
#include "cli/common.h"
#include "tasks/jobs.h"

#define CLASSIFY_ARG_SPECS(f) \
    {"window", ARG_INT, &(f).window, "classify, pixel labels: side of the window of pixels around each labelled pixel that the model sees; segment: side of the tiles the scene is cut into", NULL, 1, 1024, 0}, \
    {"split", ARG_CHOICE, &(f).split_mode, "classify, pixel labels: training and test pixels from disjoint spatial blocks (blocks; test pixels whose window overlaps a training pixel's are left out), or at random (random: neighbours on both sides, inflated scores)", "blocks|random", 0, 0, 0}, \
    {"split-block", ARG_INT, &(f).split_block, "classify, pixel labels: side of the split's square blocks in pixels", NULL, 1, 1 << 20, 0}, \
    {"split-seed", ARG_I64, &(f).split_seed, "classify: seed of the split's blocks and of the --per-class choice", NULL, 0, 9e18, 0}, \
    {"mask-ratio", ARG_FLOAT, &(f).mask_ratio, "mae: fraction of each patch row's tokens masked (the encoder sees the rest)", NULL, 0, 1, 0}, \
    {"mae-decoder-depth", ARG_INT, &(f).mae_depth, "mae: transformer blocks of the decoder (width --dim)", NULL, 1, 64, 0}, \
    {"train-labels", ARG_STR, &(f).train_labels, "classify, pixel labels: your own split: the training pixels' label raster, FILE or FILE.mat:VAR (0 = unlabelled; with --test-labels, instead of the block split)", NULL, 0, 0, 0}, \
    {"test-labels", ARG_STR, &(f).test_labels, "classify, pixel labels: your own split: the test pixels' label raster, FILE or FILE.mat:VAR (no pixel may be in both)", NULL, 0, 0, 0}, \
    {"split-mask", ARG_STR, &(f).split_mask, "classify, segment, pixel labels: your own split as one raster, FILE or FILE.mat:VAR: 1 = training pixel, 2 = test pixel, 0 = unused (the classes come from the dataset's label raster; instead of --train-labels/--test-labels)", NULL, 0, 0, 0}, \
    {"per-class", ARG_INT, &(f).per_class, "classify: train on this many samples of each class, drawn from the training set (0 = all of it)", NULL, 0, 1 << 30, 0}

#endif
