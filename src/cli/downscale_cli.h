/* The flags of the downscaling task (--task downscale in train and bench; eval and predict of a
 * Reslim run), over the library's TaskOptions, EvalOptions and PredictOptions. */
#ifndef LVIT_DOWNSCALE_CLI_H
#define LVIT_DOWNSCALE_CLI_H
#include "cli/common.h"
#include "tasks/jobs.h"

#define TILE_ARG_SPECS(f) \
    {"tiles", ARG_INT, &(f).tiles, "TILES: cut each coarse image into N x N windows, each an independent sequence (1 = the whole image)", NULL, 1, 64, 0}, \
    {"halo", ARG_INT, &(f).halo, "TILES: halo rows around each tile's core (the column halo is twice this); a multiple of the patch", NULL, 0, 4096, 0}, \
    {"periodic", ARG_CHOICE, &(f).periodic, "TILES: wrap the column halos around the longitude circle on global grids (auto), never (off), or insist (on)", "auto|off|on", 0, 0, 0}
#define DOWNSCALE_ARG_SPECS(f) \
    {"task", ARG_CHOICE, &(f).task, "forecast (state at t -> state at t + lead), downscale (coarse field -> fine field, ORBIT-2 Reslim), classify (image or labelled pixel -> class, on an image dataset), mae (masked-autoencoder pretraining on images) or segment (tiles of a scene -> the class of every pixel, from a label raster)", "forecast|downscale|classify|mae|segment", 0, 0, 0}, \
    {"anchor", ARG_CHOICE, &(f).anchor, "forecast: what the network's output is added to: auto (the blend wherever the data has a climatology), none (the network predicts the state itself, as ClimaX), or blend (climatology + a (state - climatology), a per variable and lead fitted on the training split, so an untrained network forecasts as well as that baseline)", "auto|none|blend", 0, 0, 0}, \
    {"history", ARG_INT, &(f).history, "forecast: also give the model the states 1..K time steps before the initial one (its tendency; 0 = none)", NULL, 0, 64, 0}, \
    {"scale", ARG_INT, &(f).scale, "downscale: the fine grid is this many times finer than the coarse input in each direction", NULL, 2, 16, 0}, \
    {"res-width", ARG_INT, &(f).res_width, "downscale: channels of Reslim's residual path after the pixel shuffle", NULL, 1, 4096, 0}, \
    {"static", ARG_STR, &(f).statics, "downscale: static inputs, comma separated: lat, lon (cos and sin), or lvit dataset files on the fine grid (e.g. orography, land-sea mask: all their variables)", NULL, 0, 0, 0}, \
    {"coarse-data", ARG_STR, &(f).coarse, "downscale: coarse inputs from this lvit dataset (grid = the fine grid / scale, same variables and times) instead of area-averaging the fine fields", NULL, 0, 0, 0}, \
    {"var-weights", ARG_STR, &(f).var_weights, "downscale: per-variable loss weights NAME=W,... (others 1)", NULL, 0, 0, 0}, \
    {"base", ARG_CHOICE, &(f).base, "downscale: what the model predicts: the fine field (none, as ORBIT-2), or its difference from the bicubic interpolation of the coarse input (bicubic; the prediction adds it back)", "none|bicubic", 0, 0, 0}, \
    {"tv-weight", ARG_FLOAT, &(f).tv_weight, "downscale: weight of the total-variation regularizer in the loss (ORBIT-2's Bayesian estimation)", NULL, 0, 1e6, 0}, \
    TILE_ARG_SPECS(f)

/* The flags eval and predict share on a downscaling run (o: EvalOptions or PredictOptions) */
#define DS_RUN_ARG_SPECS(o) \
    {"device", ARG_CHOICE, &(o).device, "where the model runs: cpu, or cuda (the GPU backend)", "cpu|cuda", 0, 0, 0}, \
    {"run", ARG_STR, &(o).run, "run directory with model.safetensors (required)", NULL, 0, 0, 0}, \
    {"data", ARG_STR, &(o).data, "fine dataset file (default: the one the model was trained on)", NULL, 0, 0, 0}, \
    {"static", ARG_STR, &(o).statics, "static inputs (default: those the model was trained with)", NULL, 0, 0, 0}, \
    {"coarse-data", ARG_STR, &(o).coarse, "coarse inputs of their own (default: as in training)", NULL, 0, 0, 0}, \
    TILE_ARG_SPECS((o).tiles), \
    {"blend", ARG_FLAG, &(o).blend, "TILES: blend the overlapping halos (weights falling off across them) instead of cropping them", NULL, 0, 0, 0}, \
    {"batch", ARG_INT, &(o).batch, "windows per forward pass", NULL, 1, 1 << 16, 0}

/* The --run argument of a command line (NULL when absent): eval and predict choose the flags of
 * the run's task before parsing them. */
const char *cli_run_arg(int argc, char **argv);

#endif
