/* What `lvit ptycho` writes, made safe: outputs checked against the inputs and each other before
 * anything is read, text outputs streamed into a temporary name and renamed when complete, a
 * graceful stop on SIGINT/SIGTERM, and out-of-memory messages in the scan's terms. */
#ifndef LVIT_PTYCHO_OUTFILE_H
#define LVIT_PTYCHO_OUTFILE_H
#include <stddef.h>
#include <stdio.h>

/* A path the user gave and the flag that gave it ("-o", "--cost", "--data"). */
typedef struct PtyPath {
    const char *flag;
    const char *path;
} PtyPath;

/* 0, or -1 with err naming the flag and the path when an output (1) is a directory, (2) lies in a
 * folder that does not exist or cannot be written (with the system's reason), (3) is the same file
 * as an input, or (4) is the same file as another output. Outputs that do not exist yet are
 * compared by their folder's real path and their name. */
int pty_outputs_check(const PtyPath *in, int nin, const PtyPath *out, int nout, char *err, size_t errlen);
/* --plot DIR: 0 when DIR is a folder or can be created (its parent is a writable folder), else -1
 * with err (a file of that name, a missing parent). Nothing is created. */
int pty_plot_dir_check(const char *dir, char *err, size_t errlen);

/* A text output written under "<path>.tmp.<pid>" and renamed to path by pty_out_commit (after
 * fflush and fsync), so path is either absent or complete; f may be written (streamed) meanwhile. */
typedef struct PtyOut {
    FILE *f;
    char path[4096], tmp[4200];
} PtyOut;
int pty_out_open(PtyOut *o, const char *path, char *err, size_t errlen);
int pty_out_commit(PtyOut *o, char *err, size_t errlen);   /* closes; on failure removes the temporary */
void pty_out_abandon(PtyOut *o);                           /* closes and removes the temporary */
/* fsync of a file written by a library (netCDF) before its rename; 0 or errno */
int pty_fsync_path(const char *path);

/* SIGINT (unless ignored at start, as under nohup) and SIGTERM set a flag that the reconstruction
 * looks at between iterations; the handler is reset on delivery, so a second signal ends the
 * process at once. pty_stop_requested returns the signal's number, or 0. */
void pty_stop_signals_install(void);
int pty_stop_requested(void);
const char *pty_signal_name(int sig);

/* malloc that ends the job with exit 3 and "out of memory: X MiB for WHAT ..." in the scan's terms
 * (frames, object size, tiles), not the training flags of the shared allocator. */
void *pty_alloc(size_t bytes, const char *what);
_Noreturn void pty_nomem(double bytes, const char *what);

#endif
