/* lvit plot: the loss curve of a run from its metrics.jsonl. */
#include <stdio.h>
#include <string.h>
#include "cli/common.h"
#include "core/check.h"
#include "eval/plot.h"

int cmd_plot(int argc, char **argv) {
    const char *run = NULL, *out = NULL;
    ArgSpec specs[] = {
        {"run", ARG_STR, &run, "run directory with metrics.jsonl (required)", NULL, 0, 0, 0},
        {"output", ARG_STR, &out, "PNG to write (also -o; default RUN_DIR/loss.png)", NULL, 0, 0, 0},
        {NULL, 0, NULL, NULL, NULL, 0, 0, 0},
    };
    args_parse(specs, argc, argv, 2, "plot", "--run RUN_DIR [-o loss.png]   (maps: lvit predict --plot DIR)", NULL, 0);
    if (!run) DIE_USER("lvit plot: --run RUN_DIR is required");
    char in[4096], png[4096], err[1024];
    snprintf(in, sizeof in, "%s/metrics.jsonl", run);
    snprintf(png, sizeof png, "%s", out ? out : "");
    if (!out) snprintf(png, sizeof png, "%s/loss.png", run);
    if (plot_loss_from_jsonl(in, png, err, sizeof err)) DIE_USER("lvit plot: %s", err);
    printf("wrote %s\n", png);
    return 0;
}
