/* The two jobs behind `lvit ptycho`: simulate a scan, reconstruct one. */
#ifndef LVIT_PTYCHO_JOB_H
#define LVIT_PTYCHO_JOB_H
#include "ptycho/scan.h"

enum { PTY_PROBE_FILE, PTY_PROBE_MEAN, PTY_PROBE_PUPIL };
#define PTY_PROBE_CHOICES "file|mean|pupil"

typedef struct PtyJobOptions {
    const char *data;        /* netCDF or CXI scan */
    const char *out;         /* netCDF result */
    const char *cost_path;   /* JSONL of the cost per iteration (NULL: OUT with .jsonl for .nc) */
    const char *plot_dir;    /* cost.png (NULL: none) */
    int probe_init;          /* PTY_PROBE_* */
    double radius, defocus;  /* pupil guess */
    int pad;                 /* object margin around the scan, pixels (files without an object grid) */
    int quiet;               /* no per-iteration lines */
    int tiles_r, tiles_c;    /* tile grid, one tile per MPI rank (0: near-square from the rank count) */
    PtyReconOptions recon;
} PtyJobOptions;

void pty_job_defaults(PtyJobOptions *o);
/* One process, or one tile per rank under mpirun (job_recon.c). Exits 2 with a message naming the
 * file and variable on bad input, or the flag on a tile grid that does not fit. Returns 0. */
int pty_reconstruct_job(const PtyJobOptions *o);
/* Reconstructs the even and the odd frames separately on the full scan's grid (o->recon, same
 * initial guesses) and writes their Fourier ring correlation to o->out as JSONL. */
int pty_frc_job(const PtyJobOptions *o);
int pty_simulate_job(const PtySimOptions *o, const char *out);
/* Prints what a scan file holds (CXI: frames, geometry, positions, mask, far-field or not). */
int pty_inspect_job(const char *path);
/* A scan (far-field CXI or netCDF) rewritten as the netCDF scan reconstruct reads. */
int pty_convert_job(const char *in, const char *out);

#endif
