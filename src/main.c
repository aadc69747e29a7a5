/* lvit: subcommand dispatch only. */
#include <stdio.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "core/cpu.h"

static void usage(FILE *f) {
    fprintf(f,
            "lvit %s: vision transformers on multi-channel scientific images at long sequence length\n\n"
            "usage: lvit COMMAND [options]   (lvit COMMAND --help for its options)\n\n"
            "commands:\n"
            "  convert   netCDF / Zarr / GRIB files -> an lvit dataset\n"
            "  train     train a model; writes RUN_DIR/model.safetensors and RUN_DIR/metrics.jsonl\n"
            "  eval      skill (RMSE, ACC, bias) against persistence, climatology and their blend; downscaling: interpolation\n"
            "  predict   run a trained model on a sample and write the forecast\n"
            "  plot      loss curve of a run (maps: lvit predict --plot DIR)\n"
            "  bench     time training steps on synthetic data (prints tokens/s last)\n"
            "  plan      predict memory and step time of every parallel layout on a machine; the best with their commands\n"
            "  info      describe a checkpoint (.safetensors) or dataset\n"
            "  init      write a freshly initialized checkpoint\n"
            "  export    a checkpoint's encoder for other frameworks (--timm: timm's VisionTransformer)\n"
            "  ptycho    ptychography: simulate a scan, reconstruct object and probe, Fourier ring correlation\n"
            "  help      this text\n"
            "  version   print the version\n",
            LVIT_VERSION);
}

int main(int argc, char **argv) {
    cpu_blas_ensure(argv);
    if (argc < 2) {
        usage(stderr);
        return LVIT_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "train")) return cmd_train(argc, argv);
    if (!strcmp(cmd, "bench")) return cmd_bench(argc, argv);
    if (!strcmp(cmd, "plan")) return cmd_plan(argc, argv);
    if (!strcmp(cmd, "info")) return cmd_info(argc, argv);
    if (!strcmp(cmd, "export")) return cmd_export(argc, argv);
    if (!strcmp(cmd, "predict")) return cmd_predict(argc, argv);
    if (!strcmp(cmd, "init")) return cmd_init(argc, argv);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc, argv);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc, argv);
    if (!strcmp(cmd, "plot")) return cmd_plot(argc, argv);
    if (!strcmp(cmd, "ptycho")) return cmd_ptycho(argc, argv);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("lvit %s\n", LVIT_VERSION);
        return 0;
    }
    fprintf(stderr, "lvit: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return LVIT_EXIT_USAGE;
}
