#include "core/paths.h"
#include "core/check.h"
#include <sys/stat.h>

int paths_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) || stat(b, &sb)) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void paths_refuse_overwrite(const char *cmd, const char *flag, const char *out, const char *in, const char *what) {
    if (paths_same_file(out, in))
        DIE_USER("%s: %s %s is %s the command reads (%s); writing there would destroy it: give another output path",
                 cmd, flag, out, what, in);
}
