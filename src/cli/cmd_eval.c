/* lvit eval: the flags of the run's task into EvalOptions, then the library (tasks/jobs.h). */
#include "cli/downscale_cli.h"
#include "imagery/imagery.h"

/* Under mpirun the processes share the times to score: the layout flags of train, of which eval
 * takes dp (tp, sp and pp are refused with the reason, so that train's command line can be reused) */
#define EVAL_LAYOUT_SPECS(l) \
    {"dp", ARG_INT, &(l).dp, "under mpirun/srun: processes sharing the times to score (0 = all of them); the scores are those of one process", NULL, 0, 1 << 20, 0}, \
    {"tp", ARG_INT, &(l).tp, "refused above 1: evaluation is data parallel only", NULL, 1, 1 << 20, 0}, \
    {"sp", ARG_INT, &(l).sp, "refused above 1: evaluation is data parallel only", NULL, 1, 1 << 20, 0}, \
    {"pp", ARG_INT, &(l).pp, "refused above 1: evaluation is data parallel only", NULL, 1, 1 << 20, 0}, \
    {"comm-timeout", ARG_FLOAT, &(l).comm_timeout, "under mpirun/srun: seconds a rank waits for the others before it stops the job (0 = no limit)", NULL, 0, 1e9, 0}

static void parse_downscale(EvalOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        DS_RUN_ARG_SPECS(*o),
        {"split", ARG_STR, &o->split, "time split to score: test, val or train", NULL, 0, 0, 0},
        {"json", ARG_STR, &o->json, "also write the scores as JSON to this file", NULL, 0, 0, 0},
        {"max-times", ARG_INT, &o->max_times, "score only the first N times of the split (0 = all)", NULL, 0, 1 << 30, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        EVAL_LAYOUT_SPECS(o->layout),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "eval", "--run RUN_DIR [--split test] [--tiles N --halo H] [--json FILE]", NULL, 0);
}

static void parse_forecast(EvalOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        {"run", ARG_STR, &o->run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"data", ARG_STR, &o->data, "dataset file (default: the one the model was trained on)", NULL, 0, 0, 0},
        {"split", ARG_STR, &o->split, "time split to score: test, val or train", NULL, 0, 0, 0},
        {"leads", ARG_STR, &o->leads, "lead times in hours, comma separated", NULL, 0, 0, 0},
        {"json", ARG_STR, &o->json, "also write the scores as JSON to this file", NULL, 0, 0, 0},
        {"batch", ARG_INT, &o->batch, "samples per forward pass", NULL, 1, 1 << 16, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        EVAL_LAYOUT_SPECS(o->layout),
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "eval",
               "--run RUN_DIR [--data DATASET] [--split test] [--leads 6,24] [--json FILE]\n"
               "  (a downscaling run scores against bilinear and bicubic interpolation and takes --tiles, --halo, --blend, "
               "--device: lvit eval --run RUN_DIR --help)",
               NULL, 0);
}

static void parse_classify(EvalOptions *o, int argc, char **argv) {
    ArgSpec specs[] = {
        {"run", ARG_STR, &o->run, "run directory with model.safetensors (required)", NULL, 0, 0, 0},
        {"data", ARG_STR, &o->data, "image dataset file (default: the one the model was trained on)", NULL, 0, 0, 0},
        {"split", ARG_STR, &o->split, "samples to score: test, val or train (as the run split them)", NULL, 0, 0, 0},
        {"json", ARG_STR, &o->json, "also write the scores as JSON to this file", NULL, 0, 0, 0},
        {"batch", ARG_INT, &o->batch, "samples per forward pass", NULL, 1, 1 << 16, 0},
        {"threads", ARG_INT, &o->threads, "CPU threads (0 = all cores)", NULL, 0, 4096, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "eval", "--run RUN_DIR [--split test] [--json FILE]", NULL, 0);
}

int cmd_eval(int argc, char **argv) {
    EvalOptions o = EVAL_OPTIONS_DEFAULT;
    o.tiles.read_raster = read_label_raster; /* --train-labels/--test-labels: the image readers */
    const char *run = cli_run_arg(argc, argv);
    const TaskOps *task = run ? task_of_run(run) : NULL;
    if (task == &task_downscale_ops) parse_downscale(&o, argc, argv);
    else if (task == &task_classify_ops || task == &task_segment_ops) parse_classify(&o, argc, argv);
    else parse_forecast(&o, argc, argv);
    return eval_run(&o);
}
