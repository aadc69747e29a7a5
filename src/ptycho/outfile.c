/* Safe outputs for lvit ptycho (outfile.h). */
#include "ptycho/outfile.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/check.h"
#include "core/paths.h"

/* the folder part of p ("." for a bare name) */
static void dir_of(const char *p, char *dir, size_t len) {
    const char *slash = strrchr(p, '/');
    if (!slash) snprintf(dir, len, ".");
    else snprintf(dir, len, "%.*s", (int)(slash == p ? 1 : slash - p), p);
}

/* the real path of p's folder plus p's name: two outputs that do not exist yet are the same file
 * exactly when these are equal ("./a", "a", "d/../a", a linked folder) */
static int canon(const char *p, char *out, size_t len) {
    char dir[4096], real[PATH_MAX];
    const char *slash = strrchr(p, '/');
    dir_of(p, dir, sizeof dir);
    if (!realpath(dir, real)) return -1;
    snprintf(out, len, "%s/%s", real, slash ? slash + 1 : p);
    return 0;
}

static int same_target(const char *a, const char *b) {
    if (paths_same_file(a, b)) return 1;
    char ca[PATH_MAX + 256], cb[PATH_MAX + 256];
    return !canon(a, ca, sizeof ca) && !canon(b, cb, sizeof cb) && !strcmp(ca, cb);
}

/* the folder that would hold p exists and can be written */
static int folder_ok(const char *flag, const char *p, char *err, size_t errlen) {
    char dir[4096];
    dir_of(p, dir, sizeof dir);
    struct stat st;
    if (stat(dir, &st)) {
        snprintf(err, errlen, "%s %s: cannot write there: folder %s: %s", flag, p, dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s %s: cannot write there: %s is not a folder", flag, p, dir);
        return -1;
    }
    if (access(dir, W_OK)) {
        snprintf(err, errlen, "%s %s: cannot write in folder %s: %s", flag, p, dir, strerror(errno));
        return -1;
    }
    return 0;
}

int pty_outputs_check(const PtyPath *in, int nin, const PtyPath *out, int nout, char *err, size_t errlen) {
    for (int i = 0; i < nout; i++) {
        const char *p = out[i].path;
        struct stat st;
        if (!*p) {
            snprintf(err, errlen, "%s: an empty path; give a file name", out[i].flag);
            return -1;
        }
        if (!stat(p, &st) && S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s '%s' is a folder: give a file name", out[i].flag, p);
            return -1;
        }
        if (folder_ok(out[i].flag, p, err, errlen)) return -1;
        for (int k = 0; k < nin; k++)
            if (paths_same_file(p, in[k].path)) {
                snprintf(err, errlen, "%s %s is the file this command reads (%s%s%s): writing there would destroy "
                         "it; give another output path", out[i].flag, p, in[k].flag, *in[k].flag ? " " : "", in[k].path);
                return -1;
            }
        for (int k = 0; k < i; k++)
            if (same_target(p, out[k].path)) {
                snprintf(err, errlen, "%s %s and %s %s are the same file: each output needs its own path",
                         out[k].flag, out[k].path, out[i].flag, p);
                return -1;
            }
    }
    return 0;
}

int pty_plot_dir_check(const char *dir, char *err, size_t errlen) {
    struct stat st;
    if (stat(dir, &st)) return folder_ok("--plot", dir, err, errlen);
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "--plot %s: a file of that name exists; --plot takes a folder (for cost.png, "
                 "object.png and probe.png)", dir);
        return -1;
    }
    if (access(dir, W_OK)) {
        snprintf(err, errlen, "--plot %s: cannot write in that folder: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

int pty_out_open(PtyOut *o, const char *path, char *err, size_t errlen) {
    snprintf(o->path, sizeof o->path, "%s", path);
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.%d", path, (int)getpid());
    if ((o->f = fopen(o->tmp, "w"))) return 0;
    snprintf(err, errlen, "%s: cannot write (%s): %s", path, o->tmp, strerror(errno));
    return -1;
}

int pty_out_commit(PtyOut *o, char *err, size_t errlen) {
    int bad = ferror(o->f) || fflush(o->f) != 0 || fsync(fileno(o->f)) != 0, e = errno;
    if (fclose(o->f) != 0 && !bad) bad = 1, e = errno;
    o->f = NULL;
    if (!bad && rename(o->tmp, o->path) != 0) bad = 1, e = errno;
    if (!bad) return 0;
    remove(o->tmp);
    snprintf(err, errlen, "%s: cannot write: %s", o->path, strerror(e ? e : EIO));
    return -1;
}

void pty_out_abandon(PtyOut *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    remove(o->tmp);
}

int pty_fsync_path(const char *path) {
    FILE *f = fopen(path, "r+");
    if (!f) return errno;
    int e = fsync(fileno(f)) ? errno : 0;
    fclose(f);
    return e;
}

/* the handler only records; the loop stops between iterations and writes what it has */
static volatile sig_atomic_t g_stop = 0;
static void on_stop(int sig) { g_stop = sig; }

void pty_stop_signals_install(void) {
    struct sigaction sa, was;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND; /* a second signal: the default action, the process ends */
    if (!sigaction(SIGINT, NULL, &was) && was.sa_handler != SIG_IGN) sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int pty_stop_requested(void) { return g_stop; }

const char *pty_signal_name(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

_Noreturn void pty_nomem(double bytes, const char *what) {
    lvit_die_at(NULL, 0, LVIT_EXIT_NOMEM,
                "out of memory: %.1f MiB for %s could not be allocated; make the scan smaller (fewer or smaller "
                "frames; the object's size comes from the positions and --pad), split the object into tiles over "
                "more processes (mpirun -np P lvit ptycho reconstruct ... --tiles RxC) or use a machine with more "
                "memory", bytes / 1048576.0, what);
}

void *pty_alloc(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) pty_nomem((double)bytes, what);
    return p;
}
