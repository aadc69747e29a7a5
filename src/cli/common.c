#include "cli/common.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/check.h"
#include "core/log.h"

void cli_write_text(const char *path, const char *text, const char *cmd) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        DIE_USER("lvit %s: cannot write %s: %s", cmd, path, strerror(errno));
    }
    printf("wrote %s\n", path);
}
