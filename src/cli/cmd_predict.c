/* lvit predict: the flags of the run's task into PredictOptions, then the library (tasks/jobs.h). */
#include <string.h>
#include "cli/downscale_cli.h"
#include "imagery/imagery.h"
#include "imagery/class_raster.h"

static void parse_downscale(PredictOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        DS_RUN_ARG_SPECS(*o),
        {"time", ARG_INT, &o->time, "index of the time to downscale (default: the first test time)", NULL, -1, 1e9, 0},
        {"output", ARG_STR, &o->out, "output file: CF netCDF of the fine fields (also -o; required, .nc)", NULL, 0, 0, 0},
        {"plot", ARG_STR, &o->plot_dir, "also draw coarse input | truth | prediction | error maps per variable into this directory", NULL, 0, 0, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict", "--run RUN_DIR [--time T] -o OUT.nc [--plot DIR] [--tiles N --halo H]", NULL, 0);
}

static void parse_forecast(PredictOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        {"run", ARG_STR, &o->run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"time", ARG_INT, &o->time, "index of the initial time (default: the first validation time)", NULL, -1, 1e9, 0},
        {"lead", ARG_FLOAT, &o->lead, "lead time in hours", NULL, 0, 1e6, 0},
        {"output", ARG_STR, &o->out, "output file: .nc for CF netCDF, else safetensors (also -o; required)", NULL, 0, 0, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {"data", ARG_STR, &o->data, "the dataset file (default: the one the model was trained on, recorded in the checkpoint)", NULL, 0, 0, 0},
        {"plot", ARG_STR, &o->plot_dir, "also draw truth | forecast | error maps per variable into this directory", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict",
               "--run RUN_DIR [--time T] [--lead H] [--data DATASET] -o OUT.safetensors|OUT.nc [--plot DIR]\n"
               "  (a downscaling run writes the fine fields and takes --tiles, --halo, --blend, --device: "
               "lvit predict --run RUN_DIR --help)", NULL, 0);
}

static void parse_classify(PredictOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        {"run", ARG_STR, &o->run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"data", ARG_STR, &o->data, "image dataset file (default: the one the model was trained on)", NULL, 0, 0, 0},
        {"time", ARG_INT, &o->time, "index of the image (scene) to classify (default 0)", NULL, -1, 1e9, 0},
        {"output", ARG_STR, &o->out, "PNG of the labels beside the class predicted at every pixel (also -o; required)", NULL, 0, 0, 0},
        {"batch", ARG_INT, &o->batch, "pixels per forward pass", NULL, 1, 1 << 16, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict", "--run RUN_DIR [--time I] -o MAP.png", NULL, 0);
}

static void parse_mae(PredictOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        {"run", ARG_STR, &o->run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"data", ARG_STR, &o->data, "image dataset file (default: the one the model was trained on)", NULL, 0, 0, 0},
        {"output", ARG_STR, &o->out, "PNG of 4 masked pixels' spectra beside their reconstruction, and OUT.csv (also -o; required)", NULL, 0, 0, 0},
        {"seed", ARG_I64, &o->seed, "which held-out windows are drawn", NULL, 0, 9e15, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "predict", "--run RUN_DIR [--seed S] -o SPECTRA.png", NULL, 0);
}

int cmd_predict(int argc, char **argv) {
    PredictOptions o = PREDICT_OPTIONS_DEFAULT;
    o.tiles.read_raster = read_label_raster; /* --train-labels/--test-labels: the image readers */
    o.tiles.write_raster = write_class_raster; /* a segmentation's class map as GeoTIFF */
    const char *run = cli_run_arg(argc, argv);
    const TaskOps *task = run ? task_of_run(run) : NULL;
    if (task == &task_downscale_ops) parse_downscale(&o, argc, argv);
    else if (task == &task_classify_ops || task == &task_segment_ops) parse_classify(&o, argc, argv);
    else if (task == &task_mae_ops) parse_mae(&o, argc, argv);
    else parse_forecast(&o, argc, argv);
    return predict_run(&o);
}
