/* The flags of the downscaling task (cli/downscale_cli.h). */
#include "cli/downscale_cli.h"
#include <string.h>

const char *cli_run_arg(int argc, char **argv) {
    const char *run = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--run") == 0 && i + 1 < argc) run = argv[i + 1];
        else if (strncmp(argv[i], "--run=", 6) == 0) run = argv[i] + 6;
    }
    return run;
}
